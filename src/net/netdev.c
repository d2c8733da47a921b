// SPDX-License-Identifier: MIT
/*
 * Network devices, their registry, rx queue restart with memory providers,
 * and the ethtool settings a devmem receiver depends on.
 *
 * Locking: the registry lock protects the list of registered devices and is
 * taken before any dev->lock (netdev_for_each() callbacks may lock the device
 * they are given); nothing takes the registry lock with a dev->lock held.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/compiler.h"
#include "lib/debug.h"
#include "lib/error.h"
#include "net/claim.h"
#include "net/netdev.h"

#define NETDEV_MAX_QUEUES 1024

static pthread_mutex_t netdev_registry_lock = PTHREAD_MUTEX_INITIALIZER;
/* registered devices in ifindex order; protected by netdev_registry_lock */
static LIST_HEAD(netdev_registry);

/* NAPI ids are process-wide, as the kernel's are system-wide; atomic */
static unsigned int napi_id_next = 1;

void netdev_assert_locked(struct net_device *dev)
{
	devmem_assert(pthread_equal(READ_ONCE(dev->lock_owner), pthread_self()),
		      "netdev: dev->lock not held");
}

/* ---- creation, registry, references ---- */

static int netdev_check_config(const struct net_device_config *cfg)
{
	if (!cfg->name || !cfg->name[0])
		return devmem_err(-EINVAL, "netdev: no name");
	if (strnlen(cfg->name, IFNAMSIZ) >= IFNAMSIZ)
		return devmem_err(-EINVAL, "netdev: name longer than %d bytes", IFNAMSIZ - 1);
	if (cfg->ifindex <= 0)
		return devmem_err(-EINVAL, "netdev %s: ifindex %d (must be > 0)", cfg->name,
				  cfg->ifindex);
	if (!cfg->num_rx_queues || cfg->num_rx_queues > NETDEV_MAX_QUEUES)
		return devmem_err(-EINVAL, "netdev %s: %u rx queues (1 to %d)", cfg->name,
				  cfg->num_rx_queues, NETDEV_MAX_QUEUES);
	if (!cfg->num_tx_queues || cfg->num_tx_queues > NETDEV_MAX_QUEUES)
		return devmem_err(-EINVAL, "netdev %s: %u tx queues (1 to %d)", cfg->name,
				  cfg->num_tx_queues, NETDEV_MAX_QUEUES);
	if (!cfg->dev)
		return devmem_err(-EINVAL, "netdev %s: no DMA device", cfg->name);
	if (cfg->rxq_claim_domain && netdev_claim_domain_check(cfg->rxq_claim_domain))
		return -EINVAL;
	return 0;
}

/* What the driver lets ethtool change, and what is on and cannot change. */
#define NETDEV_HW_FEATURES (DEVMEM_NETIF_F_NTUPLE | DEVMEM_NETIF_F_RXHASH)
/* NETIF_F_HIGHDMA, NETIF_F_GSO, NETIF_F_GRO: the kernel stack does them for us */
#define NETDEV_FIXED_ON_FEATURES ((1ULL << 5) | (1ULL << 11) | (1ULL << 14))

static void rss_fill_equal(uint32_t *indir, uint32_t n)
{
	for (unsigned int i = 0; i < DEVMEM_RSS_INDIR_SIZE; i++)
		indir[i] = i % n;
}

static void netdev_rss_fill_equal(struct net_device *dev, uint32_t n)
{
	rss_fill_equal(dev->rss_indir, n);
}

int alloc_netdev(const struct net_device_config *cfg, struct net_device **out)
{
	struct net_device *dev;
	unsigned int napi_base;
	int err;

	if (!cfg || !out)
		return devmem_err(-EINVAL, "netdev: NULL config");
	err = netdev_check_config(cfg);
	if (err)
		return err;

	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->_rx = calloc(cfg->num_rx_queues, sizeof(*dev->_rx));
	if (!dev->_rx)
		goto err_free_dev;
	dev->_tx = calloc(cfg->num_tx_queues, sizeof(*dev->_tx));
	if (!dev->_tx)
		goto err_free_rx;
	if (cfg->priv_size) {
		dev->priv = calloc(1, cfg->priv_size);
		if (!dev->priv)
			goto err_free_tx;
	}
	if (cfg->rxq_claim_domain) {
		dev->rxq_claim_domain = strdup(cfg->rxq_claim_domain);
		if (!dev->rxq_claim_domain)
			goto err_free_priv;
	}

	strcpy(dev->name, cfg->name);
	dev->ifindex = cfg->ifindex;
	dev->dev = device_get(cfg->dev);
	dev->queue_mgmt_ops = cfg->queue_mgmt_ops;
	dev->netmem_tx = cfg->netmem_tx;
	dev->sock_ops = cfg->sock_ops;
	dev->priv_destructor = cfg->priv_destructor;
	dev->num_rx_queues = cfg->num_rx_queues;
	dev->num_tx_queues = cfg->num_tx_queues;
	pthread_mutex_init(&dev->lock, NULL);
	dev->reg_state = NETREG_UNINITIALIZED;
	dev->real_num_rx_queues = cfg->num_rx_queues;
	dev->real_num_tx_queues = cfg->num_tx_queues;
	dev->tcp_data_split = ETHTOOL_TCP_DATA_SPLIT_DISABLED;
	dev->hds_thresh_max = cfg->hds_thresh_max;
	dev->rx_pending = cfg->rx_pending;
	dev->rx_max_pending = cfg->rx_max_pending;
	dev->tx_pending = cfg->tx_pending;
	dev->tx_max_pending = cfg->tx_max_pending;
	/* ntuple filters exist but are off until asked for, as on most NICs */
	dev->hw_features = NETDEV_HW_FEATURES;
	dev->wanted_features = NETDEV_FIXED_ON_FEATURES | DEVMEM_NETIF_F_RXHASH;
	dev->features = dev->wanted_features;
	netdev_rss_fill_equal(dev, dev->real_num_rx_queues);
	INIT_LIST_HEAD(&dev->flow_rules);
	INIT_LIST_HEAD(&dev->list);
	dev->refcnt = 1;

	/* rx and tx queue i share a NAPI context, as combined channels do */
	napi_base = __atomic_fetch_add(&napi_id_next, max(dev->num_rx_queues, dev->num_tx_queues),
				       __ATOMIC_RELAXED);
	for (unsigned int i = 0; i < dev->num_rx_queues; i++)
		dev->_rx[i] = (struct netdev_rx_queue){ .dev = dev,
							.index = i,
							.napi_id = napi_base + i };
	for (unsigned int i = 0; i < dev->num_tx_queues; i++)
		dev->_tx[i] =
			(struct netdev_queue){ .dev = dev, .index = i, .napi_id = napi_base + i };
	*out = dev;
	return 0;

err_free_priv:
	free(dev->priv);
err_free_tx:
	free(dev->_tx);
err_free_rx:
	free(dev->_rx);
err_free_dev:
	free(dev);
	return devmem_err(-ENOMEM, "netdev %s: out of memory", cfg->name);
}

static void netdev_free(struct net_device *dev)
{
	struct netdev_flow_rule *r, *tmp;

	DEVMEM_BUG_ON(dev->reg_state == NETREG_REGISTERED);
	if (dev->priv_destructor)
		dev->priv_destructor(dev);
	list_for_each_entry_safe(r, tmp, &dev->flow_rules, list)
		free(r);
	for (unsigned int i = 1; i <= DEVMEM_RSS_MAX_CONTEXTS; i++)
		free(dev->rss_ctx[i]);
	pthread_mutex_destroy(&dev->lock);
	device_put(dev->dev);
	for (unsigned int i = 0; i < dev->num_rx_queues; i++)
		DEVMEM_BUG_ON(dev->_rx[i].claim);
	free(dev->rxq_claim_domain);
	free(dev->priv);
	free(dev->_tx);
	free(dev->_rx);
	free(dev);
}

void netdev_hold(struct net_device *dev)
{
	long old = __atomic_fetch_add(&dev->refcnt, 1, __ATOMIC_RELAXED);

	DEVMEM_BUG_ON(old <= 0);
}

void netdev_put(struct net_device *dev)
{
	long old;

	if (!dev)
		return;
	/* acq_rel: the freeing thread sees what every other holder wrote */
	old = __atomic_fetch_sub(&dev->refcnt, 1, __ATOMIC_ACQ_REL);
	DEVMEM_BUG_ON(old <= 0);
	if (old == 1)
		netdev_free(dev);
}

/* Registry lock held. */
static struct net_device *__netdev_find(int ifindex, const char *name)
{
	struct net_device *dev;

	list_for_each_entry(dev, &netdev_registry, list) {
		if (dev->ifindex == ifindex || (name && !strcmp(dev->name, name)))
			return dev;
	}
	return NULL;
}

int register_netdev(struct net_device *dev)
{
	struct net_device *pos;
	int err = 0;

	pthread_mutex_lock(&netdev_registry_lock);
	netdev_lock(dev);
	if (dev->reg_state != NETREG_UNINITIALIZED) {
		err = devmem_err(-EINVAL, "netdev %s: already registered", dev->name);
		goto out;
	}
	list_for_each_entry(pos, &netdev_registry, list) {
		if (pos->ifindex == dev->ifindex) {
			err = devmem_err(-EEXIST, "netdev %s: ifindex %d is taken by %s", dev->name,
					 dev->ifindex, pos->name);
			goto out;
		}
		if (!strcmp(pos->name, dev->name)) {
			err = devmem_err(-EEXIST, "netdev %s: name is taken by ifindex %d",
					 dev->name, pos->ifindex);
			goto out;
		}
	}
	/* keep ifindex order for dumps */
	list_for_each_entry(pos, &netdev_registry, list) {
		if (pos->ifindex > dev->ifindex)
			break;
	}
	list_add_tail(&dev->list, &pos->list);
	/* the registry's own reference: a registered device is always findable */
	netdev_hold(dev);
	dev->reg_state = NETREG_REGISTERED;
out:
	netdev_unlock(dev);
	pthread_mutex_unlock(&netdev_registry_lock);
	return err;
}

/*
 * On a device that claims its queues, a provider is claimed machine-wide
 * before it is installed (dev->lock held): -EEXIST when another process's
 * provider has the queue.
 */
static int netdev_rxq_claim_get(struct net_device *dev, struct netdev_rx_queue *rxq)
{
	if (!dev->rxq_claim_domain)
		return 0;
	DEVMEM_BUG_ON(rxq->claim);
	return netdev_rxq_claim(dev->rxq_claim_domain, dev->ifindex, rxq->index, &rxq->claim);
}

/* The queue has no provider any more: let every process have it (dev->lock held). */
static void netdev_rxq_claim_put(struct netdev_rx_queue *rxq)
{
	netdev_rxq_unclaim(rxq->claim);
	rxq->claim = NULL;
}

void unregister_netdev(struct net_device *dev)
{
	bool registered;

	pthread_mutex_lock(&netdev_registry_lock);
	registered = !list_empty(&dev->list);
	if (registered)
		list_del_init(&dev->list);
	pthread_mutex_unlock(&netdev_registry_lock);
	if (!registered)
		return;

	/*
	 * No new lookup finds the device now; a holder that found it before
	 * sees NETREG_UNREGISTERED under the lock and cannot install a
	 * provider after the uninstall pass below.
	 */
	netdev_lock(dev);
	dev->reg_state = NETREG_UNREGISTERED;
	for (unsigned int i = 0; i < dev->num_rx_queues; i++) {
		struct netdev_rx_queue *rxq = &dev->_rx[i];
		const struct memory_provider_ops *ops = rxq->mp_params.mp_ops;

		/* the provider still sees itself installed while it lets go */
		if (ops && ops->uninstall)
			ops->uninstall(rxq->mp_params.mp_priv, rxq);
		rxq->mp_params = (struct pp_memory_provider_params){ 0 };
		netdev_rxq_claim_put(rxq);
	}
	netdev_unlock(dev);
	netdev_put(dev);
}

struct net_device *netdev_get_by_index(int ifindex)
{
	struct net_device *dev;

	pthread_mutex_lock(&netdev_registry_lock);
	dev = __netdev_find(ifindex, NULL);
	if (dev)
		netdev_hold(dev);
	pthread_mutex_unlock(&netdev_registry_lock);
	if (!dev)
		devmem_err(-ENODEV, "no device with ifindex %d", ifindex);
	return dev;
}

/* set once, before any lookup that uses it; atomic */
static int (*netdev_shadow_fn)(int ifindex);

void netdev_set_shadow_fn(int (*fn)(int ifindex))
{
	__atomic_store_n(&netdev_shadow_fn, fn, __ATOMIC_RELEASE);
}

struct net_device *netdev_get_or_shadow(int ifindex)
{
	int (*shadow)(int ifindex) = __atomic_load_n(&netdev_shadow_fn, __ATOMIC_ACQUIRE);
	struct net_device *dev = netdev_get_by_index(ifindex);
	int err;

	if (dev || !shadow || ifindex <= 0)
		return dev;
	err = shadow(ifindex);
	/* -EEXIST: another thread shadowed it first */
	if (err && err != -EEXIST)
		return NULL;
	return netdev_get_by_index(ifindex);
}

struct net_device *netdev_get_by_name(const char *name)
{
	struct net_device *dev = NULL;

	if (!name) {
		devmem_err(-ENODEV, "no device named (null)");
		return NULL;
	}
	pthread_mutex_lock(&netdev_registry_lock);
	/* ifindex 0 is never registered: this finds by name only */
	dev = __netdev_find(0, name);
	if (dev)
		netdev_hold(dev);
	pthread_mutex_unlock(&netdev_registry_lock);
	if (!dev)
		devmem_err(-ENODEV, "no device named %s", name);
	return dev;
}

int netdev_for_each(int (*fn)(struct net_device *dev, void *data), void *data)
{
	struct net_device *dev;
	int ret = 0;

	pthread_mutex_lock(&netdev_registry_lock);
	list_for_each_entry(dev, &netdev_registry, list) {
		ret = fn(dev, data);
		if (ret)
			break;
	}
	pthread_mutex_unlock(&netdev_registry_lock);
	return ret;
}

/* ---- queue restart and memory providers ---- */

/*
 * Say which restart step failed, keeping the driver's own reason when it
 * gave one (the driver ran with a cleared message).
 */
static int restart_err(unsigned int idx, const char *step, int err)
{
	char why[200];

	snprintf(why, sizeof(why), "%s", devmem_last_error());
	if (why[0])
		return devmem_err(err, "rx queue %u: %s failed: %s", idx, step, why);
	return devmem_err(err, "rx queue %u: %s failed (%s)", idx, step, strerror(-err));
}

int netdev_rx_queue_restart(struct net_device *dev, unsigned int rxq_idx)
{
	const struct netdev_queue_mgmt_ops *ops = dev->queue_mgmt_ops;
	struct netdev_rx_queue *rxq;
	void *new_mem, *old_mem;
	char why[256];
	size_t size;
	int err;

	netdev_assert_locked(dev);
	if (!ops)
		return devmem_err(-EOPNOTSUPP, "rx queue %u: device %s has no queue management ops",
				  rxq_idx, dev->name);
	if (rxq_idx >= dev->real_num_rx_queues)
		return devmem_err(-ERANGE,
				  "rx queue %u: rx queue index out of range (device has %u)",
				  rxq_idx, dev->real_num_rx_queues);
	rxq = __netif_get_rx_queue(dev, rxq_idx);
	if (rxq->mp_params.rx_page_size && !(ops->supported_params & QCFG_RX_PAGE_SIZE))
		return devmem_err(-EOPNOTSUPP,
				  "rx queue %u: device %s cannot use rx buffers of %u bytes",
				  rxq_idx, dev->name, rxq->mp_params.rx_page_size);

	size = max(ops->ndo_queue_mem_size, (size_t)1);
	new_mem = calloc(1, size);
	if (!new_mem)
		return devmem_err(-ENOMEM, "rx queue %u: out of memory", rxq_idx);
	old_mem = calloc(1, size);
	if (!old_mem) {
		err = devmem_err(-ENOMEM, "rx queue %u: out of memory", rxq_idx);
		goto err_free_new_buf;
	}

	devmem_clear_error();
	err = ops->ndo_queue_mem_alloc(dev, new_mem, (int)rxq_idx);
	if (err) {
		err = restart_err(rxq_idx, "allocating the queue memory", err);
		goto err_free_old_buf;
	}

	/*
	 * A driver that cannot take net_iovs builds its pools without the
	 * provider; running on them would silently receive into host pages.
	 */
	if (rxq->mp_params.mp_ops && !page_pool_queue_uses_provider(rxq, rxq->mp_params.mp_priv)) {
		err = devmem_err(
			-ENODATA,
			"rx queue %u: no page pool of the restarted queue took the memory provider: the driver does not support unreadable netmem",
			rxq_idx);
		goto err_free_new_mem;
	}

	devmem_clear_error();
	err = ops->ndo_queue_stop(dev, old_mem, (int)rxq_idx);
	if (err) {
		/* the queue still runs on its old memory */
		err = restart_err(rxq_idx, "stopping the queue", err);
		goto err_free_new_mem;
	}

	devmem_clear_error();
	err = ops->ndo_queue_start(dev, new_mem, (int)rxq_idx);
	if (err) {
		err = restart_err(rxq_idx, "starting the queue on its new memory", err);
		goto err_start_old;
	}

	ops->ndo_queue_mem_free(dev, old_mem);
	free(old_mem);
	free(new_mem);
	return 0;

err_start_old:
	/*
	 * Nothing about the old memory changed, so it should start again. If
	 * it does not, the queue is down: free its memory rather than leak it.
	 */
	snprintf(why, sizeof(why), "%s", devmem_last_error());
	if (ops->ndo_queue_start(dev, old_mem, (int)rxq_idx)) {
		ops->ndo_queue_mem_free(dev, old_mem);
		devmem_err(err, "%s; the old memory did not start again either: the queue is down",
			   why);
	} else {
		devmem_err(err, "%s", why);
	}
err_free_new_mem:
	ops->ndo_queue_mem_free(dev, new_mem);
err_free_old_buf:
	free(old_mem);
err_free_new_buf:
	free(new_mem);
	return err;
}

bool netdev_has_memory_provider(struct net_device *dev)
{
	netdev_assert_locked(dev);
	for (unsigned int i = 0; i < dev->num_rx_queues; i++) {
		if (dev->_rx[i].mp_params.mp_ops)
			return true;
	}
	return false;
}

int net_mp_open_rxq(struct net_device *dev, unsigned int rxq_idx,
		    const struct pp_memory_provider_params *params)
{
	struct netdev_rx_queue *rxq;
	int err;

	netdev_assert_locked(dev);
	if (!params || !params->mp_ops)
		return devmem_err(-EINVAL, "rx queue %u: no memory provider", rxq_idx);
	if (dev->reg_state == NETREG_UNREGISTERED)
		return devmem_err(-ENODEV, "rx queue %u: device %s is going away", rxq_idx,
				  dev->name);
	if (rxq_idx >= dev->real_num_rx_queues)
		return devmem_err(-ERANGE,
				  "rx queue %u: rx queue index out of range (device has %u)",
				  rxq_idx, dev->real_num_rx_queues);
	if (!dev->queue_mgmt_ops)
		return devmem_err(-EOPNOTSUPP,
				  "rx queue %u: device %s does not support queue management",
				  rxq_idx, dev->name);
	if (dev->tcp_data_split != ETHTOOL_TCP_DATA_SPLIT_ENABLED)
		return devmem_err(-EINVAL, "rx queue %u: tcp-data-split is disabled", rxq_idx);
	if (dev->hds_thresh)
		return devmem_err(-EINVAL, "rx queue %u: hds-thresh is not zero", rxq_idx);
	if (dev->xdp_prog)
		return devmem_err(
			-EEXIST,
			"rx queue %u: unable to custom memory provider to device with XDP program attached",
			rxq_idx);
	rxq = __netif_get_rx_queue(dev, rxq_idx);
	if (rxq->mp_params.mp_ops)
		return devmem_err(-EEXIST,
				  "rx queue %u: designated queue already memory provider bound",
				  rxq_idx);
	/* the same check, for a provider another process installed */
	err = netdev_rxq_claim_get(dev, rxq);
	if (err)
		return err;
	if (rxq->xsk_pool) {
		err = devmem_err(-EBUSY, "rx queue %u: designated queue already in use by AF_XDP",
				 rxq_idx);
		goto err_unclaim;
	}

	/* the new pools take the provider from the queue as they are created */
	rxq->mp_params = *params;
	err = netdev_rx_queue_restart(dev, rxq_idx);
	if (err) {
		rxq->mp_params = (struct pp_memory_provider_params){ 0 };
		goto err_unclaim;
	}
	return 0;

err_unclaim:
	netdev_rxq_claim_put(rxq);
	return err;
}

int net_mp_close_rxq(struct net_device *dev, unsigned int rxq_idx,
		     const struct pp_memory_provider_params *params)
{
	struct netdev_rx_queue *rxq;
	int err;

	netdev_assert_locked(dev);
	if (rxq_idx >= dev->real_num_rx_queues)
		return devmem_err(-ERANGE,
				  "rx queue %u: rx queue index out of range (device has %u)",
				  rxq_idx, dev->real_num_rx_queues);
	rxq = __netif_get_rx_queue(dev, rxq_idx);
	/* unregister already uninstalled every provider */
	if (dev->reg_state == NETREG_UNREGISTERED && !rxq->mp_params.mp_ops)
		return 0;
	if (!params || rxq->mp_params.mp_ops != params->mp_ops ||
	    rxq->mp_params.mp_priv != params->mp_priv)
		return devmem_err(-EINVAL, "rx queue %u: memory provider is not the one installed",
				  rxq_idx);

	rxq->mp_params = (struct pp_memory_provider_params){ 0 };
	if (dev->reg_state != NETREG_UNREGISTERED) {
		err = netdev_rx_queue_restart(dev, rxq_idx);
		if (err) {
			/* still serving from the provider: still claimed */
			rxq->mp_params = *params;
			return err;
		}
	}
	netdev_rxq_claim_put(rxq);
	return 0;
}

/* ---- ethtool settings ---- */

int netdev_set_header_split(struct net_device *dev, uint32_t tcp_data_split, uint32_t hds_thresh)
{
	int err = 0;

	if (tcp_data_split != ETHTOOL_TCP_DATA_SPLIT_ENABLED &&
	    tcp_data_split != ETHTOOL_TCP_DATA_SPLIT_DISABLED)
		return devmem_err(-EINVAL, "%s: tcp-data-split %u (enabled %d or disabled %d)",
				  dev->name, tcp_data_split, ETHTOOL_TCP_DATA_SPLIT_ENABLED,
				  ETHTOOL_TCP_DATA_SPLIT_DISABLED);
	netdev_lock(dev);
	if (hds_thresh > dev->hds_thresh_max) {
		err = devmem_err(-EINVAL,
				 "%s: hds-thresh is greater than the maximum allowed (%u > %u)",
				 dev->name, hds_thresh, dev->hds_thresh_max);
		goto out;
	}
	if (netdev_has_memory_provider(dev)) {
		if (tcp_data_split != ETHTOOL_TCP_DATA_SPLIT_ENABLED) {
			err = devmem_err(
				-EINVAL,
				"%s: can't disable tcp-data-split while device has memory provider enabled",
				dev->name);
			goto out;
		}
		if (hds_thresh) {
			err = devmem_err(
				-EINVAL,
				"%s: can't set non-zero hds_thresh while device is memory provider enabled",
				dev->name);
			goto out;
		}
	}
	dev->tcp_data_split = tcp_data_split;
	dev->hds_thresh = hds_thresh;
out:
	netdev_unlock(dev);
	return err;
}

int netdev_set_rss_equal(struct net_device *dev, uint32_t n)
{
	int err = 0;

	netdev_lock(dev);
	if (!n || n > dev->real_num_rx_queues)
		err = devmem_err(-EINVAL, "%s: RSS over %u queues (device has %u)", dev->name, n,
				 dev->real_num_rx_queues);
	else
		netdev_rss_fill_equal(dev, n);
	netdev_unlock(dev);
	return err;
}

static bool flow_type_valid(uint32_t flow_type)
{
	return flow_type == TCP_V4_FLOW || flow_type == TCP_V6_FLOW || flow_type == UDP_V4_FLOW ||
	       flow_type == UDP_V6_FLOW;
}

/* dev->lock held: the rule at @loc, or NULL */
static struct netdev_flow_rule *flow_rule_find(struct net_device *dev, uint32_t loc)
{
	struct netdev_flow_rule *r;

	list_for_each_entry(r, &dev->flow_rules, list) {
		if (r->loc == loc)
			return r;
	}
	return NULL;
}

/* dev->lock held: a free location, lowest or highest first; -ENOSPC when full */
static int flow_rule_free_loc(struct net_device *dev, bool highest, uint32_t *loc)
{
	uint8_t used[DEVMEM_MAX_FLOW_RULES / 8] = { 0 };
	struct netdev_flow_rule *r;

	list_for_each_entry(r, &dev->flow_rules, list)
		used[r->loc / 8] |= 1U << (r->loc % 8);
	for (uint32_t i = 0; i < DEVMEM_MAX_FLOW_RULES; i++) {
		uint32_t l = highest ? DEVMEM_MAX_FLOW_RULES - 1 - i : i;

		if (!(used[l / 8] & (1U << (l % 8)))) {
			*loc = l;
			return 0;
		}
	}
	return devmem_err(-ENOSPC, "%s: %u flow rules already", dev->name, dev->nr_flow_rules);
}

/* dev->lock held: where the rule goes, the kernel drivers' checks on it */
static int flow_rule_check(struct net_device *dev, const struct devmem_flow_rule *rule)
{
	if (rule->rss_context) {
		if (rule->rss_context > DEVMEM_RSS_MAX_CONTEXTS || !dev->rss_ctx[rule->rss_context])
			return devmem_err(-EINVAL,
					  "%s: flow rule to RSS context %u, which does not exist",
					  dev->name, rule->rss_context);
		/* the table alone picks the queue: no queue offset is added */
		if (rule->queue)
			return devmem_err(
				-EINVAL,
				"%s: flow rule to RSS context %u with queue %u (the device does not add them)",
				dev->name, rule->rss_context, rule->queue);
		return 0;
	}
	if (rule->queue >= dev->real_num_rx_queues)
		return devmem_err(-EINVAL, "%s: flow rule to rx queue %u (device has %u)",
				  dev->name, rule->queue, dev->real_num_rx_queues);
	return 0;
}

int netdev_flow_rule_insert(struct net_device *dev, const struct devmem_flow_rule *rule,
			    uint32_t loc, uint32_t *out)
{
	struct netdev_flow_rule *r, *pos, *old;
	int err;

	if (!rule)
		return devmem_err(-EINVAL, "%s: no flow rule", dev->name);
	if (!flow_type_valid(rule->flow_type))
		return devmem_err(-EINVAL, "%s: flow type %#x (tcp4, tcp6, udp4 or udp6)",
				  dev->name, rule->flow_type);
	if (loc >= DEVMEM_MAX_FLOW_RULES && loc != RX_CLS_LOC_ANY && loc != RX_CLS_LOC_FIRST &&
	    loc != RX_CLS_LOC_LAST)
		return devmem_err(-EINVAL, "%s: flow rule location %u (0 to %u)", dev->name, loc,
				  DEVMEM_MAX_FLOW_RULES - 1);
	r = malloc(sizeof(*r));
	if (!r)
		return devmem_err(-ENOMEM, "%s: out of memory", dev->name);

	netdev_lock(dev);
	err = flow_rule_check(dev, rule);
	if (err)
		goto err_unlock;
	if (loc >= DEVMEM_MAX_FLOW_RULES) {
		err = flow_rule_free_loc(dev, loc != RX_CLS_LOC_FIRST, &loc);
		if (err)
			goto err_unlock;
	}
	/* a rule at an occupied location replaces the one there */
	old = flow_rule_find(dev, loc);
	if (old) {
		list_del(&old->list);
		dev->nr_flow_rules--;
	}
	r->loc = loc;
	r->rule = *rule;
	list_for_each_entry(pos, &dev->flow_rules, list) {
		if (pos->loc > loc)
			break;
	}
	list_add_tail(&r->list, &pos->list);
	dev->nr_flow_rules++;
	netdev_unlock(dev);
	free(old);
	if (out)
		*out = loc;
	return 0;

err_unlock:
	netdev_unlock(dev);
	free(r);
	return err;
}

int netdev_flow_rule_add(struct net_device *dev, const struct devmem_flow_rule *rule, uint32_t *loc)
{
	return netdev_flow_rule_insert(dev, rule, RX_CLS_LOC_FIRST, loc);
}

int netdev_flow_rule_del(struct net_device *dev, uint32_t loc)
{
	struct netdev_flow_rule *r;

	netdev_lock(dev);
	list_for_each_entry(r, &dev->flow_rules, list) {
		if (r->loc == loc) {
			list_del(&r->list);
			dev->nr_flow_rules--;
			netdev_unlock(dev);
			free(r);
			return 0;
		}
	}
	netdev_unlock(dev);
	return devmem_err(-ENOENT, "%s: no flow rule at location %u", dev->name, loc);
}

int netdev_flow_rule_list(struct net_device *dev, struct devmem_flow_rule *rules, uint32_t *locs,
			  unsigned int max)
{
	struct netdev_flow_rule *r;
	unsigned int i = 0;
	int nr;

	netdev_lock(dev);
	list_for_each_entry(r, &dev->flow_rules, list) {
		if (i == max)
			break;
		if (rules)
			rules[i] = r->rule;
		if (locs)
			locs[i] = r->loc;
		i++;
	}
	nr = (int)dev->nr_flow_rules;
	netdev_unlock(dev);
	return nr;
}

int netdev_set_xdp(struct net_device *dev, bool attached)
{
	int err = 0;

	netdev_lock(dev);
	if (attached && netdev_has_memory_provider(dev))
		err = devmem_err(-EBUSY,
				 "%s: unable to install XDP to device using memory provider",
				 dev->name);
	else
		dev->xdp_prog = attached;
	netdev_unlock(dev);
	return err;
}

int netdev_set_xsk_pool(struct net_device *dev, uint32_t rxq_idx, bool attached)
{
	struct netdev_rx_queue *rxq;
	int err = 0;

	netdev_lock(dev);
	if (rxq_idx >= dev->real_num_rx_queues) {
		err = devmem_err(-EINVAL,
				 "rx queue %u: rx queue index out of range (device has %u)",
				 rxq_idx, dev->real_num_rx_queues);
		goto out;
	}
	rxq = __netif_get_rx_queue(dev, rxq_idx);
	if (attached && rxq->mp_params.mp_ops) {
		err = devmem_err(-EBUSY, "rx queue %u: queue has a memory provider", rxq_idx);
		goto out;
	}
	if (attached && rxq->xsk_pool) {
		err = devmem_err(-EBUSY, "rx queue %u: queue already has an AF_XDP pool", rxq_idx);
		goto out;
	}
	rxq->xsk_pool = attached;
out:
	netdev_unlock(dev);
	return err;
}

/* The RSS table is the default one (equal over every real rx queue): not set by a user. */
static bool netdev_rss_is_default(const struct net_device *dev)
{
	for (unsigned int i = 0; i < DEVMEM_RSS_INDIR_SIZE; i++) {
		if (dev->rss_indir[i] != i % dev->real_num_rx_queues)
			return false;
	}
	return true;
}

/* dev->lock held: whether queues [rx, ...) can go away, with the kernel's refusals. */
static int netdev_check_channels_shrink(struct net_device *dev, unsigned int rx)
{
	struct netdev_flow_rule *r;

	if (!netdev_rss_is_default(dev)) {
		for (unsigned int i = 0; i < DEVMEM_RSS_INDIR_SIZE; i++) {
			if (dev->rss_indir[i] >= rx)
				return devmem_err(
					-EINVAL,
					"%s: requested channel counts are too low for existing indirection table settings",
					dev->name);
		}
	}
	for (unsigned int c = 1; c <= DEVMEM_RSS_MAX_CONTEXTS; c++) {
		for (unsigned int i = 0; dev->rss_ctx[c] && i < DEVMEM_RSS_INDIR_SIZE; i++) {
			if (dev->rss_ctx[c][i] >= rx)
				return devmem_err(
					-EINVAL,
					"%s: requested channel counts are too low for existing indirection table (RSS context %u)",
					dev->name, c);
		}
	}
	list_for_each_entry(r, &dev->flow_rules, list) {
		if (!r->rule.rss_context && r->rule.queue >= rx)
			return devmem_err(
				-EINVAL,
				"%s: requested channel counts are too low for existing ntuple filter settings",
				dev->name);
	}
	for (unsigned int i = rx; i < dev->real_num_rx_queues; i++) {
		if (dev->_rx[i].xsk_pool)
			return devmem_err(
				-EINVAL,
				"%s: requested channel counts are too low for existing zerocopy AF_XDP sockets",
				dev->name);
		if (dev->_rx[i].mp_params.mp_ops)
			return devmem_err(
				-EINVAL,
				"%s: requested channel counts are too low for existing memory provider setting",
				dev->name);
	}
	return 0;
}

int netdev_set_channels(struct net_device *dev, unsigned int rx, unsigned int tx)
{
	bool rss_default;
	int err = 0;

	netdev_lock(dev);
	if (!rx || !tx || rx > dev->num_rx_queues || tx > dev->num_tx_queues) {
		err = devmem_err(-EINVAL, "%s: channels rx %u tx %u (1 to %u and 1 to %u)",
				 dev->name, rx, tx, dev->num_rx_queues, dev->num_tx_queues);
		goto out;
	}
	err = netdev_check_channels_shrink(dev, rx);
	if (err)
		goto out;
	/* a table nobody set follows the queue count, as drivers re-spread it */
	rss_default = netdev_rss_is_default(dev);
	dev->real_num_rx_queues = rx;
	dev->real_num_tx_queues = tx;
	if (rss_default)
		netdev_rss_fill_equal(dev, rx);
out:
	netdev_unlock(dev);
	return err;
}

void netdev_get_channels(struct net_device *dev, struct devmem_channels *ch)
{
	netdev_lock(dev);
	*ch = (struct devmem_channels){
		.max_rx = dev->num_rx_queues,
		.max_tx = dev->num_tx_queues,
		.rx_count = dev->real_num_rx_queues,
		.tx_count = dev->real_num_tx_queues,
	};
	netdev_unlock(dev);
}

int netdev_get_ringparam(struct net_device *dev, struct devmem_ringparam *rp)
{
	if (!dev->rx_max_pending)
		return devmem_err(-EOPNOTSUPP, "%s: the driver has no ring parameters", dev->name);
	netdev_lock(dev);
	*rp = (struct devmem_ringparam){
		.rx_max_pending = dev->rx_max_pending,
		.tx_max_pending = dev->tx_max_pending,
		.rx_pending = dev->rx_pending,
		.tx_pending = dev->tx_pending,
	};
	netdev_unlock(dev);
	return 0;
}

int netdev_set_ringparam(struct net_device *dev, uint32_t rx, uint32_t tx)
{
	if (!dev->rx_max_pending)
		return devmem_err(-EOPNOTSUPP, "%s: the driver has no ring parameters", dev->name);
	if (!rx || !tx || rx > dev->rx_max_pending || tx > dev->tx_max_pending)
		return devmem_err(-EINVAL, "%s: rings rx %u tx %u (1 to %u and 1 to %u)", dev->name,
				  rx, tx, dev->rx_max_pending, dev->tx_max_pending);
	netdev_lock(dev);
	dev->rx_pending = rx;
	dev->tx_pending = tx;
	netdev_unlock(dev);
	return 0;
}

void netdev_get_features(struct net_device *dev, uint64_t *hw, uint64_t *wanted, uint64_t *active)
{
	netdev_lock(dev);
	*hw = dev->hw_features;
	*wanted = dev->wanted_features;
	*active = dev->features;
	netdev_unlock(dev);
}

/* dev->lock held: ntuple turned off takes the filters with it, as drivers flush them */
static void netdev_flush_flow_rules(struct net_device *dev)
{
	struct netdev_flow_rule *r, *tmp;

	list_for_each_entry_safe(r, tmp, &dev->flow_rules, list) {
		list_del(&r->list);
		free(r);
	}
	dev->nr_flow_rules = 0;
}

int netdev_set_features(struct net_device *dev, uint64_t valid, uint64_t wanted)
{
	int ret = 0;

	netdev_lock(dev);
	if (valid & ~dev->hw_features) {
		valid &= dev->hw_features;
		ret = 1; /* ETHTOOL_F_UNSUPPORTED */
	}
	dev->wanted_features = (dev->wanted_features & ~valid) | (wanted & valid);
	if ((dev->features & DEVMEM_NETIF_F_NTUPLE) &&
	    !(dev->wanted_features & DEVMEM_NETIF_F_NTUPLE))
		netdev_flush_flow_rules(dev);
	dev->features = dev->wanted_features;
	netdev_unlock(dev);
	return ret;
}

/* dev->lock held: the table of @context, or NULL with -ENOENT said */
static uint32_t *netdev_rss_table(struct net_device *dev, uint32_t context)
{
	if (!context)
		return dev->rss_indir;
	if (context > DEVMEM_RSS_MAX_CONTEXTS || !dev->rss_ctx[context]) {
		devmem_err(-ENOENT, "%s: no RSS context %u", dev->name, context);
		return NULL;
	}
	return dev->rss_ctx[context];
}

/* dev->lock held: every entry names a real rx queue */
static int netdev_rss_check(struct net_device *dev, const uint32_t *indir)
{
	for (unsigned int i = 0; i < DEVMEM_RSS_INDIR_SIZE; i++) {
		if (indir[i] >= dev->real_num_rx_queues)
			return devmem_err(
				-EINVAL,
				"%s: indirection table entry %u is rx queue %u (device has %u)",
				dev->name, i, indir[i], dev->real_num_rx_queues);
	}
	return 0;
}

int netdev_rss_get(struct net_device *dev, uint32_t context, uint32_t *indir)
{
	uint32_t *table;
	int err = 0;

	netdev_lock(dev);
	table = netdev_rss_table(dev, context);
	if (table)
		memcpy(indir, table, sizeof(dev->rss_indir));
	else
		err = -ENOENT;
	netdev_unlock(dev);
	return err;
}

int netdev_rss_set(struct net_device *dev, uint32_t context, const uint32_t *indir)
{
	uint32_t *table;
	int err = 0;

	netdev_lock(dev);
	table = netdev_rss_table(dev, context);
	if (!table) {
		err = -ENOENT;
	} else if (!indir) {
		if (context)
			err = devmem_err(-EINVAL, "%s: no table for RSS context %u", dev->name,
					 context);
		else
			netdev_rss_fill_equal(dev, dev->real_num_rx_queues);
	} else {
		err = netdev_rss_check(dev, indir);
		if (!err)
			memcpy(table, indir, sizeof(dev->rss_indir));
	}
	netdev_unlock(dev);
	return err;
}

int netdev_rss_context_create(struct net_device *dev, const uint32_t *indir, uint32_t *context)
{
	uint32_t *table = malloc(sizeof(dev->rss_indir));
	int err = 0;

	if (!table)
		return devmem_err(-ENOMEM, "%s: out of memory", dev->name);
	netdev_lock(dev);
	if (indir) {
		err = netdev_rss_check(dev, indir);
		if (err)
			goto err_unlock;
		memcpy(table, indir, sizeof(dev->rss_indir));
	} else {
		rss_fill_equal(table, dev->real_num_rx_queues);
	}
	for (uint32_t c = 1; c <= DEVMEM_RSS_MAX_CONTEXTS; c++) {
		if (!dev->rss_ctx[c]) {
			dev->rss_ctx[c] = table;
			*context = c;
			netdev_unlock(dev);
			return 0;
		}
	}
	err = devmem_err(-EBUSY, "%s: %d RSS contexts already", dev->name, DEVMEM_RSS_MAX_CONTEXTS);
err_unlock:
	netdev_unlock(dev);
	free(table);
	return err;
}

int netdev_rss_context_delete(struct net_device *dev, uint32_t context)
{
	struct netdev_flow_rule *r;
	uint32_t *table = NULL;
	int err = 0;

	netdev_lock(dev);
	if (!context || !netdev_rss_table(dev, context)) {
		err = devmem_err(-ENOENT, "%s: no RSS context %u", dev->name, context);
		goto out;
	}
	list_for_each_entry(r, &dev->flow_rules, list) {
		if (r->rule.rss_context == context) {
			err = devmem_err(-EBUSY, "%s: flow rule %u targets RSS context %u",
					 dev->name, r->loc, context);
			goto out;
		}
	}
	table = dev->rss_ctx[context];
	dev->rss_ctx[context] = NULL;
out:
	netdev_unlock(dev);
	free(table);
	return err;
}

/* ---- steering ---- */

static bool addr_matches(const uint8_t *rule, const uint8_t *key, size_t len)
{
	static const uint8_t any[16];

	return !memcmp(rule, any, len) || !memcmp(rule, key, len);
}

static bool flow_rule_matches(const struct devmem_flow_rule *rule,
			      const struct netdev_flow_key *key)
{
	size_t len;

	/* the keys are TCP flows: udp4 and udp6 rules never match them */
	if (rule->flow_type == TCP_V4_FLOW && key->family == AF_INET)
		len = 4;
	else if (rule->flow_type == TCP_V6_FLOW && key->family == AF_INET6)
		len = 16;
	else
		return false;
	return addr_matches(rule->src_addr, key->src_addr, len) &&
	       addr_matches(rule->dst_addr, key->dst_addr, len) &&
	       (!rule->src_port || rule->src_port == key->src_port) &&
	       (!rule->dst_port || rule->dst_port == key->dst_port);
}

unsigned int netdev_steer_flow(struct net_device *dev, const struct netdev_flow_key *key,
			       uint32_t hash)
{
	struct netdev_flow_rule *r;
	unsigned int queue;

	netdev_lock(dev);
	queue = dev->rss_indir[hash % DEVMEM_RSS_INDIR_SIZE];
	list_for_each_entry(r, &dev->flow_rules, list) {
		if (flow_rule_matches(&r->rule, key)) {
			if (r->rule.rss_context)
				queue = dev->rss_ctx[r->rule.rss_context]
						    [hash % DEVMEM_RSS_INDIR_SIZE];
			else
				queue = r->rule.queue;
			break;
		}
	}
	netdev_unlock(dev);
	return queue;
}
