// SPDX-License-Identifier: MIT
/*
 * The control handle (include/devmem/netdev.h): what the kernel's netdev
 * netlink family does for a socket, over the net/ layer's objects.
 *
 * A handle keeps the bindings it made, as the kernel's netlink socket
 * private data does, so that closing it leaves nothing bound. Everything
 * else it offers (settings, dumps) is stateless: it looks the device up,
 * calls the netdev layer and lets the reference go.
 *
 * Dumps never call the caller's callback with a device lock held: each
 * object is copied under the lock that protects it, the lock is dropped, and
 * only then is the callback called. Page pools are the exception (their
 * registry is walked under its lock, see page_pool_dump()), which the public
 * contract allows.
 */
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devmem/netdev.h"
#include "lib/compiler.h"
#include "lib/error.h"
#include "lib/genpool.h"
#include "lib/list.h"
#include "net/ctl-kernel.h"
#include "net/devmem.h"
#include "net/netdev.h"
#include "net/owner.h"
#include "net/page_pool.h"

struct devmem_ctl {
	/*
	 * Serialises bind, unbind and close on this handle and protects
	 * bindings. Taken before any dev->lock (net/netdev.h).
	 */
	pthread_mutex_t lock;
	/* struct net_devmem_dmabuf_binding, by ->list; protected by lock */
	struct list_head bindings;
	/* set at open, never changed: SOFTWARE or KERNEL (auto has decided) */
	enum devmem_backend backend;
	char reason[256]; /* why this backend, one line */
	/* the kernel backend's state; NULL on the software backend */
	struct ctl_kernel *k;
};

static int ctl_check(const struct devmem_ctl *ctl)
{
	/* before anything is read: the handle may be a copy with its lock held */
	if (net_owner_in_child())
		return net_owner_refuse("control handle");
	if (!ctl)
		return devmem_err(-EINVAL, "no control handle");
	return 0;
}

const char *devmem_backend_name(enum devmem_backend backend)
{
	switch (backend) {
	case DEVMEM_BACKEND_SOFTWARE:
		return "software";
	case DEVMEM_BACKEND_KERNEL:
		return "kernel";
	case DEVMEM_BACKEND_AUTO:
		return "auto";
	}
	return NULL;
}

/*
 * libbpf's rule for options structs: sz covers at least sz itself, and the
 * bytes of a newer caller's struct that we do not know must be zero. A
 * field beyond sz reads as 0: @known bytes of @opts are copied to @copy.
 */
static int opts_copy(const void *opts, size_t sz, size_t known, void *copy, const char *what)
{
	memset(copy, 0, known);
	if (sz < sizeof(size_t))
		return devmem_err(-EINVAL, "%s.sz %zu is too small", what, sz);
	for (size_t i = known; i < sz; i++)
		if (((const unsigned char *)opts)[i])
			return devmem_err(-EINVAL, "%s has unknown fields set", what);
	memcpy(copy, opts, sz < known ? sz : known);
	return 0;
}

/* The auto backend's choice for @o->ifindex, with its reason in @ctl. */
static int ctl_decide(struct devmem_ctl *ctl, const struct devmem_ctl_opts *o)
{
	int ret;

	if (o->ifindex <= 0)
		return devmem_err(-EINVAL,
				  "devmem_ctl_open: auto needs the interface to decide for");
	if (o->nr_queues && !o->queues)
		return devmem_err(-EINVAL, "devmem_ctl_open: %u queues and no queue list",
				  o->nr_queues);
	ret = ctl_kernel_probe(o->ifindex, o->queues, o->nr_queues, o->dmabuf_fd, ctl->reason,
			       sizeof(ctl->reason));
	if (ret < 0) {
		/* no netlink here at all: the kernel cannot be the answer */
		char ifname[IF_NAMESIZE] = "?";

		if_indextoname((unsigned int)o->ifindex, ifname);
		snprintf(ctl->reason, sizeof(ctl->reason),
			 "%s: the kernel cannot be asked (%s); using the software NIC", ifname,
			 devmem_last_error());
		devmem_clear_error();
		ret = 0;
	}
	return ret ? DEVMEM_BACKEND_KERNEL : DEVMEM_BACKEND_SOFTWARE;
}

int devmem_ctl_open_opts(struct devmem_ctl **out, const struct devmem_ctl_opts *opts)
{
	struct devmem_ctl_opts o;
	struct devmem_ctl *ctl;
	int err;

	if (net_owner_in_child())
		return net_owner_refuse("devmem_ctl_open");
	if (!out)
		return devmem_err(-EINVAL, "devmem_ctl_open: nowhere to return the handle");
	if (opts) {
		err = opts_copy(opts, opts->sz, sizeof(o), &o, "devmem_ctl_opts");
		if (err)
			return err;
	} else {
		o = (struct devmem_ctl_opts){ .backend = DEVMEM_BACKEND_SOFTWARE };
	}
	if (!devmem_backend_name(o.backend))
		return devmem_err(-EINVAL, "devmem_ctl_open: unknown backend %d", (int)o.backend);
	net_owner_claim();
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return devmem_err(-ENOMEM, "devmem_ctl_open: out of memory");
	ctl->backend = o.backend;
	snprintf(ctl->reason, sizeof(ctl->reason), "%s backend asked for",
		 devmem_backend_name(o.backend));
	if (o.backend == DEVMEM_BACKEND_AUTO) {
		err = ctl_decide(ctl, &o);
		if (err < 0)
			goto err_free;
		ctl->backend = (enum devmem_backend)err;
	}
	if (ctl->backend == DEVMEM_BACKEND_KERNEL) {
		err = ctl_kernel_open(&ctl->k);
		if (err)
			goto err_free;
	}
	err = pthread_mutex_init(&ctl->lock, NULL);
	if (err) {
		err = devmem_err(-err, "devmem_ctl_open: cannot create the handle's lock");
		goto err_kernel;
	}
	INIT_LIST_HEAD(&ctl->bindings);
	*out = ctl;
	return 0;

err_kernel:
	if (ctl->k)
		ctl_kernel_close(ctl->k);
err_free:
	free(ctl);
	return err;
}

int devmem_ctl_open(struct devmem_ctl **out)
{
	return devmem_ctl_open_opts(out, NULL);
}

int devmem_ctl_backend(const struct devmem_ctl *ctl, const char **reason)
{
	if (!ctl)
		return devmem_err(-EINVAL, "no control handle");
	if (reason)
		*reason = ctl->reason;
	return (int)ctl->backend;
}

/* Take @binding off its handle (ctl->lock held) and unbind it. */
static void ctl_unbind(struct net_devmem_dmabuf_binding *binding)
{
	list_del_init(&binding->list);
	/*
	 * Other handles' dumps compare owner with themselves: a freed handle's
	 * address must not stay here for a new handle at the same address to
	 * claim a binding that is only waiting for its net_iovs.
	 */
	WRITE_ONCE(binding->owner, NULL);
	net_devmem_unbind_dmabuf(binding);
}

/*
 * In a forked child the handle is a copy: its bindings are the parent's
 * (the parent's close unbinds them) and its lock may have been copied held.
 * Free the child's copy of the handle, nothing else.
 */
static void ctl_close_in_child(struct devmem_ctl *ctl)
{
	if (ctl->k)
		ctl_kernel_close_in_child(ctl->k);
	free(ctl);
}

void devmem_ctl_close(struct devmem_ctl *ctl)
{
	struct net_devmem_dmabuf_binding *binding, *tmp;

	if (!ctl)
		return;
	if (net_owner_in_child()) {
		ctl_close_in_child(ctl);
		return;
	}
	/* the kernel unbinds as each binding's netlink socket closes */
	if (ctl->k)
		ctl_kernel_close(ctl->k);
	pthread_mutex_lock(&ctl->lock);
	list_for_each_entry_safe(binding, tmp, &ctl->bindings, list)
		ctl_unbind(binding);
	pthread_mutex_unlock(&ctl->lock);
	pthread_mutex_destroy(&ctl->lock);
	free(ctl);
}

/* ---- bindings ---- */

/*
 * libbpf's rule for options structs: sz covers at least sz itself, and the
 * bytes of a newer caller's struct that we do not know must be zero. A
 * field beyond sz reads as 0. Gives the requested rx page size (0: none).
 */
static int bind_opts_rx_page_size(const struct devmem_bind_opts *opts, uint32_t *rx_page_size)
{
	struct devmem_bind_opts o;
	int err;

	*rx_page_size = 0;
	if (!opts)
		return 0;
	err = opts_copy(opts, opts->sz, sizeof(o), &o, "devmem_bind_opts");
	if (err)
		return err;
	*rx_page_size = o.rx_page_size;
	return 0;
}

/*
 * What the netdev family's attribute policy refuses before a request runs:
 * an ifindex of 0 and values outside an attribute's range are -ERANGE.
 */
static int bind_policy_check(int ifindex, const struct devmem_queue_id *queues,
			     unsigned int nr_queues, uint32_t rx_page_size)
{
	unsigned int i;

	if (!ifindex)
		return devmem_err(-ERANGE, "ifindex: integer out of range");
	for (i = 0; i < nr_queues; i++)
		if (queues[i].type > NETDEV_QUEUE_TYPE_TX)
			return devmem_err(-ERANGE, "queue %u: type: integer out of range",
					  queues[i].id);
	if (rx_page_size && rx_page_size < PAGE_SIZE)
		return devmem_err(-ERANGE, "rx-page-size: integer out of range (from %lu)",
				  PAGE_SIZE);
	return 0;
}

/* List a new binding on @ctl (ctl->lock held) and hand out its id. */
static void ctl_adopt(struct devmem_ctl *ctl, struct net_devmem_dmabuf_binding *binding,
		      uint32_t *id)
{
	list_add_tail(&binding->list, &ctl->bindings);
	WRITE_ONCE(binding->owner, ctl);
	*id = binding->id;
}

int devmem_bind_rx(struct devmem_ctl *ctl, int ifindex, int dmabuf_fd,
		   const struct devmem_queue_id *queues, unsigned int nr_queues,
		   const struct devmem_bind_opts *opts, uint32_t *id)
{
	struct net_devmem_dmabuf_binding *binding;
	unsigned int niov_shift = PAGE_SHIFT;
	uint32_t rx_page_size;
	struct net_device *dev;
	int err;

	/* in netdev_nl_bind_rx_doit()'s order: policy, required attributes, rx-page-size */
	err = ctl_check(ctl);
	if (err)
		return err;
	if (!id || (!queues && nr_queues))
		return devmem_err(-EINVAL, "bind-rx: no queue list or nowhere to return the id");
	err = bind_opts_rx_page_size(opts, &rx_page_size);
	if (err)
		return err;
	/* the kernel's policy and checks are the kernel's own to apply */
	if (ctl->k)
		return ctl_kernel_bind_rx(ctl->k, ifindex, dmabuf_fd, queues, nr_queues,
					  rx_page_size, id);
	err = bind_policy_check(ifindex, queues, nr_queues, rx_page_size);
	if (err)
		return err;
	if (!nr_queues)
		return devmem_err(-EINVAL, "bind-rx needs at least one queue");
	if (rx_page_size) {
		if (!is_power_of_2(rx_page_size))
			return devmem_err(-EINVAL, "rx-page-size must be a power of 2");
		niov_shift = (unsigned int)__builtin_ctz(rx_page_size);
	}
	dev = netdev_get_or_shadow(ifindex);
	if (!dev)
		return -ENODEV;

	pthread_mutex_lock(&ctl->lock);
	err = net_devmem_bind_rx(dev, dmabuf_fd, queues, nr_queues, niov_shift, &binding);
	if (!err)
		ctl_adopt(ctl, binding, id);
	pthread_mutex_unlock(&ctl->lock);
	netdev_put(dev);
	return err;
}

int devmem_bind_tx(struct devmem_ctl *ctl, int ifindex, int dmabuf_fd,
		   const struct devmem_bind_opts *opts, uint32_t *id)
{
	struct net_devmem_dmabuf_binding *binding;
	uint32_t rx_page_size;
	struct net_device *dev;
	int err;

	err = ctl_check(ctl);
	if (err)
		return err;
	if (!id)
		return devmem_err(-EINVAL, "bind-tx: nowhere to return the id");
	err = bind_opts_rx_page_size(opts, &rx_page_size);
	if (err)
		return err;
	/* bind-tx has no rx-page-size attribute: the strict policy refuses it */
	if (rx_page_size)
		return devmem_err(-EINVAL, "bind-tx: rx-page-size is an rx attribute");
	if (ctl->k)
		return ctl_kernel_bind_tx(ctl->k, ifindex, dmabuf_fd, id);
	if (!ifindex)
		return devmem_err(-ERANGE, "ifindex: integer out of range");
	dev = netdev_get_or_shadow(ifindex);
	if (!dev)
		return -ENODEV;

	pthread_mutex_lock(&ctl->lock);
	err = net_devmem_bind_dmabuf(dev, DMA_TO_DEVICE, dmabuf_fd, PAGE_SHIFT, &binding);
	if (!err)
		ctl_adopt(ctl, binding, id);
	pthread_mutex_unlock(&ctl->lock);
	netdev_put(dev);
	return err;
}

int devmem_unbind(struct devmem_ctl *ctl, uint32_t id)
{
	struct net_devmem_dmabuf_binding *binding;
	int err;

	err = ctl_check(ctl);
	if (err)
		return err;
	if (ctl->k)
		return ctl_kernel_unbind(ctl->k, id);
	pthread_mutex_lock(&ctl->lock);
	list_for_each_entry(binding, &ctl->bindings, list) {
		if (binding->id == id) {
			ctl_unbind(binding);
			pthread_mutex_unlock(&ctl->lock);
			return 0;
		}
	}
	pthread_mutex_unlock(&ctl->lock);
	return devmem_err(-ENOENT, "binding %u is not a binding of this handle", id);
}

/* ---- device settings ---- */

/*
 * The kernel backend of @ctl, after checking the handle: *@k is NULL on the
 * software backend.
 */
static int ctl_kernel_of(const struct devmem_ctl *ctl, struct ctl_kernel **k)
{
	int err = ctl_check(ctl);

	*k = err ? NULL : ctl->k;
	return err;
}

/* The device @ifindex with a reference, after checking the handle. */
static int ctl_get_dev(const struct devmem_ctl *ctl, int ifindex, struct net_device **dev)
{
	int err = ctl_check(ctl);

	if (err)
		return err;
	*dev = netdev_get_or_shadow(ifindex);
	return *dev ? 0 : -ENODEV;
}

int devmem_set_header_split(struct devmem_ctl *ctl, int ifindex, uint32_t tcp_data_split,
			    uint32_t hds_thresh)
{
	struct net_device *dev;
	struct ctl_kernel *k;
	int err;

	err = ctl_kernel_of(ctl, &k);
	if (err)
		return err;
	if (k)
		return ctl_kernel_set_header_split(k, ifindex, tcp_data_split, hds_thresh);
	err = ctl_get_dev(ctl, ifindex, &dev);
	if (err)
		return err;
	err = netdev_set_header_split(dev, tcp_data_split, hds_thresh);
	netdev_put(dev);
	return err;
}

int devmem_set_rss_equal(struct devmem_ctl *ctl, int ifindex, uint32_t n)
{
	struct net_device *dev;
	struct ctl_kernel *k;
	int err;

	err = ctl_kernel_of(ctl, &k);
	if (err)
		return err;
	/* "equal 0" is no table: refused before any device is asked, as ethtool does */
	if (k && !n)
		return devmem_err(-EINVAL, "rss: equal 0");
	if (k)
		return ctl_kernel_set_rss_equal(k, ifindex, n);
	err = ctl_get_dev(ctl, ifindex, &dev);
	if (err)
		return err;
	err = netdev_set_rss_equal(dev, n);
	netdev_put(dev);
	return err;
}

int devmem_flow_rule_add(struct devmem_ctl *ctl, int ifindex, const struct devmem_flow_rule *rule,
			 uint32_t *loc)
{
	struct net_device *dev;
	int err;

	struct ctl_kernel *k;

	if (!rule || !loc)
		return devmem_err(-EINVAL,
				  "flow rule add: no rule or nowhere to return its location");
	err = ctl_kernel_of(ctl, &k);
	if (err)
		return err;
	if (k && rule->rss_context)
		return devmem_err(-EOPNOTSUPP,
				  "flow rule add: RSS contexts are not on the kernel backend");
	if (k)
		return ctl_kernel_flow_rule_add(k, ifindex, rule, loc);
	err = ctl_get_dev(ctl, ifindex, &dev);
	if (err)
		return err;
	err = netdev_flow_rule_add(dev, rule, loc);
	netdev_put(dev);
	return err;
}

/*
 * The software device for a call the kernel backend does not carry (those
 * settings are the kernel's own ethtool's there).
 */
static int ctl_sw_dev(struct devmem_ctl *ctl, int ifindex, const char *what,
		      struct net_device **dev)
{
	struct ctl_kernel *k;
	int err;

	*dev = NULL;
	err = ctl_kernel_of(ctl, &k);
	if (err)
		return err;
	if (k)
		return devmem_err(-EOPNOTSUPP, "%s: not on the kernel backend (use ethtool)", what);
	return ctl_get_dev(ctl, ifindex, dev);
}

int devmem_flow_rule_insert(struct devmem_ctl *ctl, int ifindex,
			    const struct devmem_flow_rule *rule, uint32_t loc, uint32_t *out)
{
	struct net_device *dev;
	int err;

	if (!rule || !out)
		return devmem_err(-EINVAL,
				  "flow rule insert: no rule or nowhere to return its location");
	err = ctl_sw_dev(ctl, ifindex, "flow rule insert", &dev);
	if (err)
		return err;
	err = netdev_flow_rule_insert(dev, rule, loc, out);
	netdev_put(dev);
	return err;
}

int devmem_get_channels(struct devmem_ctl *ctl, int ifindex, struct devmem_channels *ch)
{
	struct net_device *dev;
	int err;

	if (!ch)
		return devmem_err(-EINVAL, "channels: nowhere to put them");
	err = ctl_sw_dev(ctl, ifindex, "channels", &dev);
	if (err)
		return err;
	netdev_get_channels(dev, ch);
	netdev_put(dev);
	return 0;
}

int devmem_set_channels(struct devmem_ctl *ctl, int ifindex, uint32_t rx, uint32_t tx)
{
	struct net_device *dev;
	int err;

	err = ctl_sw_dev(ctl, ifindex, "channels", &dev);
	if (err)
		return err;
	err = netdev_set_channels(dev, rx, tx);
	netdev_put(dev);
	return err;
}

int devmem_get_ringparam(struct devmem_ctl *ctl, int ifindex, struct devmem_ringparam *rp)
{
	struct net_device *dev;
	int err;

	if (!rp)
		return devmem_err(-EINVAL, "rings: nowhere to put them");
	err = ctl_sw_dev(ctl, ifindex, "rings", &dev);
	if (err)
		return err;
	err = netdev_get_ringparam(dev, rp);
	netdev_put(dev);
	return err;
}

int devmem_set_ringparam(struct devmem_ctl *ctl, int ifindex, uint32_t rx, uint32_t tx)
{
	struct net_device *dev;
	int err;

	err = ctl_sw_dev(ctl, ifindex, "rings", &dev);
	if (err)
		return err;
	err = netdev_set_ringparam(dev, rx, tx);
	netdev_put(dev);
	return err;
}

int devmem_get_features(struct devmem_ctl *ctl, int ifindex, uint64_t *hw, uint64_t *wanted,
			uint64_t *active)
{
	struct net_device *dev;
	int err;

	if (!hw || !wanted || !active)
		return devmem_err(-EINVAL, "features: nowhere to put them");
	err = ctl_sw_dev(ctl, ifindex, "features", &dev);
	if (err)
		return err;
	netdev_get_features(dev, hw, wanted, active);
	netdev_put(dev);
	return 0;
}

int devmem_set_features(struct devmem_ctl *ctl, int ifindex, uint64_t valid, uint64_t wanted)
{
	struct net_device *dev;
	int err;

	err = ctl_sw_dev(ctl, ifindex, "features", &dev);
	if (err)
		return err;
	err = netdev_set_features(dev, valid, wanted);
	netdev_put(dev);
	return err;
}

int devmem_rss_get(struct devmem_ctl *ctl, int ifindex, uint32_t context, uint32_t *indir)
{
	struct net_device *dev;
	int err;

	if (!indir)
		return devmem_err(-EINVAL, "rss: nowhere to put the table");
	err = ctl_sw_dev(ctl, ifindex, "rss", &dev);
	if (err)
		return err;
	err = netdev_rss_get(dev, context, indir);
	netdev_put(dev);
	return err;
}

int devmem_rss_set(struct devmem_ctl *ctl, int ifindex, uint32_t context, const uint32_t *indir)
{
	struct net_device *dev;
	int err;

	err = ctl_sw_dev(ctl, ifindex, "rss", &dev);
	if (err)
		return err;
	err = netdev_rss_set(dev, context, indir);
	netdev_put(dev);
	return err;
}

int devmem_rss_context_create(struct devmem_ctl *ctl, int ifindex, const uint32_t *indir,
			      uint32_t *context)
{
	struct net_device *dev;
	int err;

	if (!context)
		return devmem_err(-EINVAL, "rss context: nowhere to return its id");
	err = ctl_sw_dev(ctl, ifindex, "rss context", &dev);
	if (err)
		return err;
	err = netdev_rss_context_create(dev, indir, context);
	netdev_put(dev);
	return err;
}

int devmem_rss_context_delete(struct devmem_ctl *ctl, int ifindex, uint32_t context)
{
	struct net_device *dev;
	int err;

	err = ctl_sw_dev(ctl, ifindex, "rss context", &dev);
	if (err)
		return err;
	err = netdev_rss_context_delete(dev, context);
	netdev_put(dev);
	return err;
}

int devmem_flow_rule_del(struct devmem_ctl *ctl, int ifindex, uint32_t loc)
{
	struct net_device *dev;
	struct ctl_kernel *k;
	int err;

	err = ctl_kernel_of(ctl, &k);
	if (err)
		return err;
	if (k)
		return ctl_kernel_flow_rule_del(k, ifindex, loc);
	err = ctl_get_dev(ctl, ifindex, &dev);
	if (err)
		return err;
	err = netdev_flow_rule_del(dev, loc);
	netdev_put(dev);
	return err;
}

int devmem_flow_rule_list(struct devmem_ctl *ctl, int ifindex, struct devmem_flow_rule *rules,
			  uint32_t *locs, unsigned int max)
{
	struct net_device *dev;
	struct ctl_kernel *k;
	int ret;

	ret = ctl_kernel_of(ctl, &k);
	if (ret)
		return ret;
	if (k)
		return ctl_kernel_flow_rule_list(k, ifindex, rules, locs, max);
	ret = ctl_get_dev(ctl, ifindex, &dev);
	if (ret)
		return ret;
	ret = netdev_flow_rule_list(dev, rules, locs, max);
	netdev_put(dev);
	return ret;
}

/*
 * The kernel attaches XDP programs through rtnetlink and AF_XDP pools
 * through their sockets, never through the netdev family: on the kernel
 * backend these test hooks of the software NIC have nothing to call.
 */
static int ctl_kernel_no_hook(const char *what)
{
	return devmem_err(-EOPNOTSUPP, "%s: the kernel backend has no such control", what);
}

int devmem_set_xdp(struct devmem_ctl *ctl, int ifindex, bool attached)
{
	struct net_device *dev;
	struct ctl_kernel *k;
	int err;

	err = ctl_kernel_of(ctl, &k);
	if (err)
		return err;
	if (k)
		return ctl_kernel_no_hook("set-xdp");
	err = ctl_get_dev(ctl, ifindex, &dev);
	if (err)
		return err;
	err = netdev_set_xdp(dev, attached);
	netdev_put(dev);
	return err;
}

int devmem_set_xsk_pool(struct devmem_ctl *ctl, int ifindex, uint32_t rxq, bool attached)
{
	struct net_device *dev;
	struct ctl_kernel *k;
	int err;

	err = ctl_kernel_of(ctl, &k);
	if (err)
		return err;
	if (k)
		return ctl_kernel_no_hook("set-xsk-pool");
	err = ctl_get_dev(ctl, ifindex, &dev);
	if (err)
		return err;
	err = netdev_set_xsk_pool(dev, rxq, attached);
	netdev_put(dev);
	return err;
}

/* ---- devices (NETDEV_CMD_DEV_GET) ---- */

/* Copy @dev's state (dev->lock held). */
static void dev_fill(struct net_device *dev, struct devmem_dev_info *info)
{
	netdev_assert_locked(dev);
	*info = (struct devmem_dev_info){
		.ifindex = dev->ifindex,
		.num_rx_queues = dev->real_num_rx_queues,
		.num_tx_queues = dev->real_num_tx_queues,
		.tcp_data_split = dev->tcp_data_split,
		.hds_thresh = dev->hds_thresh,
		.hds_thresh_max = dev->hds_thresh_max,
		.xdp_attached = dev->xdp_prog,
		.netmem_tx = dev->netmem_tx,
		.nr_flow_rules = dev->nr_flow_rules,
	};
	memcpy(info->name, dev->name, sizeof(info->name));
	info->name[sizeof(info->name) - 1] = '\0';
	memcpy(info->rss_indir, dev->rss_indir, sizeof(info->rss_indir));
}

int devmem_dev_get(struct devmem_ctl *ctl, int ifindex, struct devmem_dev_info *info)
{
	struct net_device *dev;
	int err;

	struct ctl_kernel *k;

	if (!info)
		return devmem_err(-EINVAL, "dev-get: nowhere to return the device");
	err = ctl_kernel_of(ctl, &k);
	if (err)
		return err;
	if (k)
		return ctl_kernel_dev_get(k, ifindex, info);
	err = ctl_get_dev(ctl, ifindex, &dev);
	if (err)
		return err;
	netdev_lock(dev);
	dev_fill(dev, info);
	netdev_unlock(dev);
	netdev_put(dev);
	return 0;
}

/*
 * Devices are walked one at a time, by ifindex: the registry lock is held
 * only to find the next one, never while its own lock is taken or the
 * callback runs.
 */
struct dev_cursor {
	int after; /* the last ifindex visited */
	struct net_device *next; /* referenced */
};

static int dev_cursor_step(struct net_device *dev, void *data)
{
	struct dev_cursor *c = data;

	if (dev->ifindex <= c->after)
		return 0;
	netdev_hold(dev);
	c->next = dev;
	return 1;
}

/* The registered device after c->after, with a reference, or NULL. */
static struct net_device *dev_cursor_next(struct dev_cursor *c)
{
	c->next = NULL;
	netdev_for_each(dev_cursor_step, c);
	if (c->next)
		c->after = c->next->ifindex;
	return c->next;
}

int devmem_dev_dump(struct devmem_ctl *ctl, int (*cb)(const struct devmem_dev_info *, void *),
		    void *data)
{
	struct dev_cursor c = { .after = 0 };
	struct devmem_dev_info info;
	struct net_device *dev;
	bool registered;
	int ret, err;

	err = ctl_check(ctl);
	if (err)
		return err;
	if (!cb)
		return devmem_err(-EINVAL, "dev dump: no callback");
	if (ctl->k)
		return ctl_kernel_dev_dump(ctl->k, cb, data);
	while ((dev = dev_cursor_next(&c))) {
		netdev_lock(dev);
		registered = dev->reg_state == NETREG_REGISTERED;
		if (registered)
			dev_fill(dev, &info);
		netdev_unlock(dev);
		netdev_put(dev);
		if (!registered)
			continue;
		ret = cb(&info, data);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- queues (NETDEV_CMD_QUEUE_GET) ---- */

/* Copy queue @type/@idx of @dev (dev->lock held, index in range). */
static void queue_fill(struct net_device *dev, uint32_t type, unsigned int idx,
		       struct devmem_queue_info *info)
{
	struct netdev_mp_attrs attrs = { 0 };
	struct netdev_rx_queue *rxq;

	netdev_assert_locked(dev);
	*info = (struct devmem_queue_info){
		.id = idx,
		.ifindex = dev->ifindex,
		.type = type,
	};
	if (type == NETDEV_QUEUE_TYPE_TX) {
		info->napi_id = dev->_tx[idx].napi_id;
		return;
	}
	rxq = __netif_get_rx_queue(dev, idx);
	info->napi_id = rxq->napi_id;
	info->xsk = rxq->xsk_pool;
	if (rxq->mp_params.mp_ops && rxq->mp_params.mp_ops->nl_fill &&
	    !rxq->mp_params.mp_ops->nl_fill(rxq->mp_params.mp_priv, &attrs, rxq)) {
		info->dmabuf = attrs.dmabuf_id;
		info->io_uring = attrs.io_uring;
	}
}

/* Queues of @type the device has now (dev->lock held); 0 once it is unregistered. */
static unsigned int queue_count(struct net_device *dev, uint32_t type)
{
	if (dev->reg_state != NETREG_REGISTERED)
		return 0;
	return type == NETDEV_QUEUE_TYPE_RX ? dev->real_num_rx_queues : dev->real_num_tx_queues;
}

int devmem_queue_get(struct devmem_ctl *ctl, int ifindex, uint32_t type, uint32_t id,
		     struct devmem_queue_info *info)
{
	struct net_device *dev;
	unsigned int count;
	int err;

	if (!info)
		return devmem_err(-EINVAL, "queue-get: nowhere to return the queue");
	struct ctl_kernel *k;

	err = ctl_kernel_of(ctl, &k);
	if (err)
		return err;
	/* the queue type's range is the kernel's policy to apply */
	if (k && info)
		return ctl_kernel_queue_get(k, ifindex, type, id, info);
	if (type != NETDEV_QUEUE_TYPE_RX && type != NETDEV_QUEUE_TYPE_TX)
		return devmem_err(-EINVAL, "queue-get: unknown queue type %u", type);
	err = ctl_get_dev(ctl, ifindex, &dev);
	if (err)
		return err;
	netdev_lock(dev);
	count = queue_count(dev, type);
	if (id < count)
		queue_fill(dev, type, id, info);
	netdev_unlock(dev);
	netdev_put(dev);
	if (id >= count)
		return devmem_err(-EINVAL, "%s queue %u out of range (device has %u)",
				  type == NETDEV_QUEUE_TYPE_RX ? "rx" : "tx", id, count);
	return 0;
}

/* Every rx, then every tx queue of @dev, one lock hold each. */
static int queue_dump_dev(struct net_device *dev,
			  int (*cb)(const struct devmem_queue_info *, void *), void *data)
{
	static const uint32_t types[] = { NETDEV_QUEUE_TYPE_RX, NETDEV_QUEUE_TYPE_TX };
	struct devmem_queue_info info;
	unsigned int t, idx;
	bool have;
	int ret;

	for (t = 0; t < ARRAY_SIZE(types); t++) {
		for (idx = 0;; idx++) {
			netdev_lock(dev);
			/* the count may change between two queues (set_channels) */
			have = idx < queue_count(dev, types[t]);
			if (have)
				queue_fill(dev, types[t], idx, &info);
			netdev_unlock(dev);
			if (!have)
				break;
			ret = cb(&info, data);
			if (ret)
				return ret;
		}
	}
	return 0;
}

int devmem_queue_dump(struct devmem_ctl *ctl, int ifindex,
		      int (*cb)(const struct devmem_queue_info *, void *), void *data)
{
	struct dev_cursor c = { .after = 0 };
	struct net_device *dev;
	int ret, err;

	err = ctl_check(ctl);
	if (err)
		return err;
	if (!cb)
		return devmem_err(-EINVAL, "queue dump: no callback");
	if (ctl->k)
		return ctl_kernel_queue_dump(ctl->k, ifindex, cb, data);
	if (ifindex) {
		/* as the kernel's dump with an ifindex: no such device is an error */
		dev = netdev_get_or_shadow(ifindex);
		if (!dev)
			return -ENODEV;
		ret = queue_dump_dev(dev, cb, data);
		netdev_put(dev);
		return ret;
	}
	while ((dev = dev_cursor_next(&c))) {
		ret = queue_dump_dev(dev, cb, data);
		netdev_put(dev);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- page pools (NETDEV_CMD_PAGE_POOL_GET) ---- */

static void page_pool_fill(const struct page_pool_info *pp, struct devmem_page_pool_info *info)
{
	*info = (struct devmem_page_pool_info){
		.id = pp->id,
		.ifindex = pp->ifindex,
		.napi_id = pp->napi_id,
		.inflight = pp->inflight > 0 ? (uint64_t)pp->inflight : 0,
		.inflight_mem = pp->inflight > 0 ? pp->inflight_mem : 0,
		.detach_time = pp->detach_time,
		.dmabuf = pp->mp.dmabuf_id,
		.io_uring = pp->mp.io_uring,
	};
}

struct page_pool_walk {
	int ifindex; /* 0: every device */
	uint32_t id; /* page-pool-get: the pool asked for; 0 for a dump */
	int (*cb)(const struct devmem_page_pool_info *, void *);
	void *data;
	struct devmem_page_pool_info *found;
};

static int page_pool_walk_one(const struct page_pool_info *pp, void *data)
{
	struct page_pool_walk *w = data;
	struct devmem_page_pool_info info;

	if (w->ifindex && pp->ifindex != w->ifindex)
		return 0;
	if (w->found) {
		if (pp->id != w->id)
			return 0;
		page_pool_fill(pp, w->found);
		return 1;
	}
	page_pool_fill(pp, &info);
	return w->cb(&info, w->data);
}

int devmem_page_pool_get(struct devmem_ctl *ctl, uint32_t id, struct devmem_page_pool_info *info)
{
	struct page_pool_walk w = { .id = id, .found = info };
	int err, ret;

	err = ctl_check(ctl);
	if (err)
		return err;
	if (!info)
		return devmem_err(-EINVAL, "page-pool-get: nowhere to return the pool");
	if (ctl->k)
		return ctl_kernel_page_pool_get(ctl->k, id, info);
	ret = page_pool_dump(page_pool_walk_one, &w);
	if (ret < 0)
		return ret;
	if (!ret)
		return devmem_err(-ENOENT, "no page pool %u", id);
	return 0;
}

/*
 * Pools are reported by the device they were created for, even after it
 * has gone (a destroyed pool waiting for its memory): an ifindex that names
 * no device is not an error, it just matches nothing.
 */
int devmem_page_pool_dump(struct devmem_ctl *ctl, int ifindex,
			  int (*cb)(const struct devmem_page_pool_info *, void *), void *data)
{
	struct page_pool_walk w = { .ifindex = ifindex, .cb = cb, .data = data };
	int err;

	err = ctl_check(ctl);
	if (err)
		return err;
	if (!cb)
		return devmem_err(-EINVAL, "page pool dump: no callback");
	if (ctl->k)
		return ctl_kernel_page_pool_dump(ctl->k, ifindex, cb, data);
	return page_pool_dump(page_pool_walk_one, &w);
}

/* ---- bindings ---- */

/* A reference on a binding the id lock shows us, unless its last one is already gone. */
static bool binding_tryget(struct net_devmem_dmabuf_binding *binding)
{
	long ref = __atomic_load_n(&binding->ref, __ATOMIC_RELAXED);

	do {
		if (!ref)
			return false;
	} while (!__atomic_compare_exchange_n(&binding->ref, &ref, ref + 1, true, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	return true;
}

/*
 * Bindings are walked one at a time: the id lock is held only to find the
 * one after the last visited (which our reference keeps on the list), never
 * while a device lock is taken or the callback runs.
 */
struct binding_cursor {
	int ifindex; /* 0: every device */
	bool by_id; /* only bindings with this id */
	uint32_t id;
	struct net_devmem_dmabuf_binding *prev; /* referenced; NULL: start from the first */
	bool past_prev;
	struct net_devmem_dmabuf_binding *next; /* referenced */
};

static int binding_cursor_step(struct net_devmem_dmabuf_binding *binding, void *data)
{
	struct binding_cursor *c = data;

	if (c->prev && !c->past_prev) {
		c->past_prev = binding == c->prev;
		return 0;
	}
	if (c->ifindex && binding->dev->ifindex != c->ifindex)
		return 0;
	if (c->by_id && binding->id != c->id)
		return 0;
	if (!binding_tryget(binding))
		return 0;
	c->next = binding;
	return 1;
}

/* The next binding, with a reference; the previous one's is dropped. */
static struct net_devmem_dmabuf_binding *binding_cursor_next(struct binding_cursor *c)
{
	c->next = NULL;
	c->past_prev = false;
	net_devmem_for_each_binding(binding_cursor_step, c);
	if (c->prev)
		net_devmem_dmabuf_binding_put(c->prev);
	c->prev = c->next;
	return c->next;
}

static void binding_cursor_end(struct binding_cursor *c)
{
	if (c->prev)
		net_devmem_dmabuf_binding_put(c->prev);
	c->prev = NULL;
}

/* Describe @binding (referenced) as @ctl sees it. */
static void binding_fill(const struct devmem_ctl *ctl, struct net_devmem_dmabuf_binding *binding,
			 struct devmem_binding_info *info)
{
	struct net_device *dev = binding->dev;
	uint64_t nr_free = net_devmem_niovs_free(binding);
	unsigned int i;

	*info = (struct devmem_binding_info){
		.id = binding->id,
		.ifindex = dev->ifindex,
		.direction = binding->direction == DMA_TO_DEVICE ? NETDEV_QUEUE_TYPE_TX :
								   NETDEV_QUEUE_TYPE_RX,
		.owned = READ_ONCE(binding->owner) == ctl,
		.dmabuf_size = binding->dmabuf->size,
		.dmabuf_ino = binding->dmabuf->ino,
		.nr_chunks = binding->nr_chunks,
		.niov_size = 1U << binding->niov_shift,
		.nr_niovs = binding->nr_niovs,
		.niovs_free = nr_free,
		.niovs_in_use = binding->nr_niovs > nr_free ? binding->nr_niovs - nr_free : 0,
		.metadata_bytes = binding->metadata_bytes,
		.held_overwritten = __atomic_load_n(&binding->held_overwritten, __ATOMIC_RELAXED),
		.overwrote_held = __atomic_load_n(&binding->overwrote_held, __ATOMIC_RELAXED),
	};
	netdev_lock(dev);
	info->unbound = binding->unbound;
	info->nr_queues = binding->nr_bound_rxqs;
	for (i = 0; i < binding->nr_bound_rxqs && i < DEVMEM_BINDING_MAX_QUEUES; i++)
		info->queues[i] = binding->bound_rxqs[i];
	netdev_unlock(dev);
}

/*
 * An id is free for reuse from its unbind, so an unbound binding waiting for
 * its net_iovs may share it with a live one: the live one is the answer.
 */
int devmem_binding_get(struct devmem_ctl *ctl, uint32_t id, struct devmem_binding_info *info)
{
	struct binding_cursor c = { .by_id = true, .id = id };
	struct net_devmem_dmabuf_binding *binding;
	struct devmem_binding_info cur;
	bool found = false;
	int err;

	err = ctl_check(ctl);
	if (err)
		return err;
	if (!info)
		return devmem_err(-EINVAL, "binding-get: nowhere to return the binding");
	if (ctl->k)
		return ctl_kernel_binding_get(ctl->k, id, info);
	while ((binding = binding_cursor_next(&c))) {
		binding_fill(ctl, binding, &cur);
		if (!found || !cur.unbound)
			*info = cur;
		found = true;
		if (!cur.unbound)
			break;
	}
	binding_cursor_end(&c);
	if (!found)
		return devmem_err(-ENOENT, "no binding %u", id);
	return 0;
}

int devmem_binding_dump(struct devmem_ctl *ctl, int ifindex,
			int (*cb)(const struct devmem_binding_info *, void *), void *data)
{
	struct binding_cursor c = { .ifindex = ifindex };
	struct net_devmem_dmabuf_binding *binding;
	struct devmem_binding_info info;
	int ret = 0, err;

	err = ctl_check(ctl);
	if (err)
		return err;
	if (!cb)
		return devmem_err(-EINVAL, "binding dump: no callback");
	if (ctl->k)
		return ctl_kernel_binding_dump(ctl->k, ifindex, cb, data);
	while ((binding = binding_cursor_next(&c))) {
		binding_fill(ctl, binding, &info);
		ret = cb(&info, data);
		if (ret)
			break;
	}
	binding_cursor_end(&c);
	return ret;
}
