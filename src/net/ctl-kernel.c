// SPDX-License-Identifier: MIT
/*
 * The control handle's kernel backend: every call a request to the running
 * kernel through src/netlink/, its errno and extack passed back unchanged
 * (nl.c records the extack as devmem_last_error()).
 *
 * A binding belongs to the netlink socket that made it, and the kernel
 * unbinds it when that socket closes (netdev_nl_sock_priv_destroy()). The
 * kernel has no request that unbinds one binding, so each binding is made
 * on a socket of its own: devmem_unbind() closes that one socket, and
 * closing the handle closes them all. Requests that make nothing (settings,
 * dumps) share the handle's own socket.
 */
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netlink/nl.h"

#include "devmem/netdev.h"
#include "lib/compiler.h"
#include "lib/error.h"
#include "lib/list.h"
#include "net/ctl-kernel.h"

struct ctl_kernel_binding {
	struct list_head list;
	struct nl_sock *sk; /* the binding lives as long as this socket */
	uint32_t id;
	int ifindex;
	uint32_t direction; /* NETDEV_QUEUE_TYPE_RX or _TX */
	uint64_t dmabuf_size;
	uint64_t dmabuf_ino;
	uint32_t nr_queues;
	uint32_t queues[DEVMEM_BINDING_MAX_QUEUES];
};

struct ctl_kernel {
	/* an nl_sock is used by one thread at a time: serialises every request */
	pthread_mutex_t lock;
	struct nl_sock *sk; /* settings and dumps; protected by lock */
	struct list_head bindings; /* struct ctl_kernel_binding; protected by lock */
};

/* ---- interfaces with kernel bindings, for the socket layer ---- */

#define CTL_KERNEL_MAX_IFS 64

static pthread_mutex_t owned_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	int ifindex;
	unsigned int count;
} owned[CTL_KERNEL_MAX_IFS]; /* protected by owned_lock */
static unsigned int owned_total; /* atomic: lets the socket layer skip the lock when 0 */

void ctl_kernel_ifindex_get(int ifindex)
{
	unsigned int i, free_slot = CTL_KERNEL_MAX_IFS;

	pthread_mutex_lock(&owned_lock);
	for (i = 0; i < CTL_KERNEL_MAX_IFS; i++) {
		if (owned[i].count && owned[i].ifindex == ifindex)
			break;
		if (!owned[i].count && free_slot == CTL_KERNEL_MAX_IFS)
			free_slot = i;
	}
	if (i == CTL_KERNEL_MAX_IFS)
		i = free_slot;
	/* more interfaces than slots: the extra ones stay on the library's path */
	if (i < CTL_KERNEL_MAX_IFS) {
		owned[i].ifindex = ifindex;
		owned[i].count++;
		__atomic_add_fetch(&owned_total, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&owned_lock);
}

void ctl_kernel_ifindex_put(int ifindex)
{
	pthread_mutex_lock(&owned_lock);
	for (unsigned int i = 0; i < CTL_KERNEL_MAX_IFS; i++) {
		if (owned[i].count && owned[i].ifindex == ifindex) {
			owned[i].count--;
			__atomic_sub_fetch(&owned_total, 1, __ATOMIC_RELEASE);
			break;
		}
	}
	pthread_mutex_unlock(&owned_lock);
}

bool ctl_kernel_any(void)
{
	return __atomic_load_n(&owned_total, __ATOMIC_ACQUIRE) != 0;
}

bool ctl_kernel_owns_ifindex(int ifindex)
{
	bool found = false;

	if (!ctl_kernel_any() || ifindex <= 0)
		return false;
	pthread_mutex_lock(&owned_lock);
	for (unsigned int i = 0; i < CTL_KERNEL_MAX_IFS && !found; i++)
		found = owned[i].count && owned[i].ifindex == ifindex;
	pthread_mutex_unlock(&owned_lock);
	return found;
}

/* ---- the handle ---- */

int ctl_kernel_open(struct ctl_kernel **out)
{
	struct ctl_kernel *k;
	int err;

	k = calloc(1, sizeof(*k));
	if (!k)
		return devmem_err(-ENOMEM, "devmem_ctl_open: out of memory");
	err = pthread_mutex_init(&k->lock, NULL);
	if (err) {
		free(k);
		return devmem_err(-err, "devmem_ctl_open: cannot create the handle's lock");
	}
	err = nl_sock_open(&k->sk);
	if (err) {
		pthread_mutex_destroy(&k->lock);
		free(k);
		return err;
	}
	INIT_LIST_HEAD(&k->bindings);
	*out = k;
	return 0;
}

/* Close the binding's socket: the kernel unbinds it (k->lock held). */
static void kbinding_release(struct ctl_kernel_binding *b)
{
	list_del(&b->list);
	nl_sock_close(b->sk);
	ctl_kernel_ifindex_put(b->ifindex);
	free(b);
}

void ctl_kernel_close(struct ctl_kernel *k)
{
	struct ctl_kernel_binding *b, *tmp;

	pthread_mutex_lock(&k->lock);
	list_for_each_entry_safe(b, tmp, &k->bindings, list)
		kbinding_release(b);
	nl_sock_close(k->sk);
	pthread_mutex_unlock(&k->lock);
	pthread_mutex_destroy(&k->lock);
	free(k);
}

/*
 * In a forked child the handle is a copy whose lock may have been copied
 * held: close the child's copies of the sockets (the parent's keep the
 * bindings alive) and free the memory, without the lock.
 */
void ctl_kernel_close_in_child(struct ctl_kernel *k)
{
	struct ctl_kernel_binding *b, *tmp;

	list_for_each_entry_safe(b, tmp, &k->bindings, list) {
		list_del(&b->list);
		nl_sock_close(b->sk);
		free(b);
	}
	nl_sock_close(k->sk);
	free(k);
}

/* ---- bindings ---- */

/* A new binding's record with a socket of its own, before the kernel is asked. */
static int kbinding_new(int ifindex, int dmabuf_fd, uint32_t direction,
			struct ctl_kernel_binding **out)
{
	struct ctl_kernel_binding *b;
	struct stat st;
	int err;

	b = calloc(1, sizeof(*b));
	if (!b)
		return devmem_err(-ENOMEM, "bind: out of memory");
	err = nl_sock_open(&b->sk);
	if (err) {
		free(b);
		return err;
	}
	b->ifindex = ifindex;
	b->direction = direction;
	/*
	 * What the dma-buf's fdinfo says (a dma-buf's inode has the buffer's
	 * size); fstat, not lseek, so that the caller's file offset stays.
	 * Whatever the fd is, the kernel judges it.
	 */
	if (!fstat(dmabuf_fd, &st)) {
		b->dmabuf_size = st.st_size > 0 ? (uint64_t)st.st_size : 0;
		b->dmabuf_ino = st.st_ino;
	}
	*out = b;
	return 0;
}

static void kbinding_adopt(struct ctl_kernel *k, struct ctl_kernel_binding *b, uint32_t id)
{
	b->id = id;
	list_add_tail(&b->list, &k->bindings);
	ctl_kernel_ifindex_get(b->ifindex);
}

static void kbinding_free(struct ctl_kernel_binding *b)
{
	nl_sock_close(b->sk);
	free(b);
}

int ctl_kernel_bind_rx(struct ctl_kernel *k, int ifindex, int dmabuf_fd,
		       const struct devmem_queue_id *queues, unsigned int nr_queues,
		       uint32_t rx_page_size, uint32_t *id)
{
	struct nlc_queue_id *q = NULL;
	struct ctl_kernel_binding *b;
	uint32_t got = 0;
	int err;

	if (nr_queues) {
		q = calloc(nr_queues, sizeof(*q));
		if (!q)
			return devmem_err(-ENOMEM, "bind-rx: out of memory");
		for (unsigned int i = 0; i < nr_queues; i++)
			q[i] = (struct nlc_queue_id){ .id = queues[i].id, .type = queues[i].type };
	}
	err = kbinding_new(ifindex, dmabuf_fd, NETDEV_QUEUE_TYPE_RX, &b);
	if (err)
		goto out;
	/* the fd and ifindex go as the u32 the attributes are: the kernel judges them */
	err = nl_netdev_bind_rx(b->sk, (uint32_t)ifindex, dmabuf_fd, q, nr_queues, rx_page_size,
				&got);
	if (err) {
		kbinding_free(b);
		goto out;
	}
	for (unsigned int i = 0; i < nr_queues && b->nr_queues < DEVMEM_BINDING_MAX_QUEUES; i++)
		if (queues[i].type == NETDEV_QUEUE_TYPE_RX)
			b->queues[b->nr_queues++] = queues[i].id;
	pthread_mutex_lock(&k->lock);
	kbinding_adopt(k, b, got);
	pthread_mutex_unlock(&k->lock);
	*id = got;
out:
	free(q);
	return err;
}

int ctl_kernel_bind_tx(struct ctl_kernel *k, int ifindex, int dmabuf_fd, uint32_t *id)
{
	struct ctl_kernel_binding *b;
	uint32_t got = 0;
	int err;

	err = kbinding_new(ifindex, dmabuf_fd, NETDEV_QUEUE_TYPE_TX, &b);
	if (err)
		return err;
	err = nl_netdev_bind_tx(b->sk, (uint32_t)ifindex, dmabuf_fd, &got);
	if (err) {
		kbinding_free(b);
		return err;
	}
	pthread_mutex_lock(&k->lock);
	kbinding_adopt(k, b, got);
	pthread_mutex_unlock(&k->lock);
	*id = got;
	return 0;
}

int ctl_kernel_unbind(struct ctl_kernel *k, uint32_t id)
{
	struct ctl_kernel_binding *b;

	pthread_mutex_lock(&k->lock);
	list_for_each_entry(b, &k->bindings, list) {
		if (b->id == id) {
			kbinding_release(b);
			pthread_mutex_unlock(&k->lock);
			return 0;
		}
	}
	pthread_mutex_unlock(&k->lock);
	return devmem_err(-ENOENT, "binding %u is not a binding of this handle", id);
}

static void kbinding_fill(const struct ctl_kernel_binding *b, struct devmem_binding_info *info)
{
	*info = (struct devmem_binding_info){
		.id = b->id,
		.ifindex = b->ifindex,
		.direction = b->direction,
		.owned = true,
		.dmabuf_size = b->dmabuf_size,
		.dmabuf_ino = b->dmabuf_ino,
		.nr_queues = b->nr_queues,
	};
	memcpy(info->queues, b->queues, sizeof(b->queues));
}

/*
 * The kernel dumps no bindings (a queue or page pool names its binding's
 * id, nothing more): what a kernel handle knows is the bindings it made.
 */
int ctl_kernel_binding_get(struct ctl_kernel *k, uint32_t id, struct devmem_binding_info *info)
{
	struct ctl_kernel_binding *b;

	pthread_mutex_lock(&k->lock);
	list_for_each_entry(b, &k->bindings, list) {
		if (b->id == id) {
			kbinding_fill(b, info);
			pthread_mutex_unlock(&k->lock);
			return 0;
		}
	}
	pthread_mutex_unlock(&k->lock);
	return devmem_err(-ENOENT, "no binding %u of this handle", id);
}

int ctl_kernel_binding_dump(struct ctl_kernel *k, int ifindex,
			    int (*cb)(const struct devmem_binding_info *, void *), void *data)
{
	struct devmem_binding_info info;
	struct ctl_kernel_binding *b;
	int ret = 0;

	pthread_mutex_lock(&k->lock);
	list_for_each_entry(b, &k->bindings, list) {
		if (ifindex && b->ifindex != ifindex)
			continue;
		kbinding_fill(b, &info);
		ret = cb(&info, data);
		if (ret)
			break;
	}
	pthread_mutex_unlock(&k->lock);
	return ret;
}

/* ---- device settings (ethtool) ---- */

int ctl_kernel_set_header_split(struct ctl_kernel *k, int ifindex, uint32_t tcp_data_split,
				uint32_t hds_thresh)
{
	struct nlc_obj o = { 0 }, cur;
	bool has_thresh;
	int err;

	o.present = 1ull << ETHTOOL_A_RINGS_TCP_DATA_SPLIT;
	o.v[ETHTOOL_A_RINGS_TCP_DATA_SPLIT] = tcp_data_split;
	pthread_mutex_lock(&k->lock);
	/*
	 * ethnl_set_rings_validate() refuses hds-thresh from a driver without
	 * it, even 0: send it only where the driver reports one (rings-get
	 * carries it then), or when a non-zero one is asked for and the
	 * kernel's refusal is the answer.
	 */
	has_thresh = !nl_ethtool_get(k->sk, ETHTOOL_MSG_RINGS_GET, (uint32_t)ifindex, &cur) &&
		     nlc_has(&cur, ETHTOOL_A_RINGS_HDS_THRESH);
	devmem_clear_error(); /* a driver without rings-get still gets the set's own answer */
	if (has_thresh || hds_thresh) {
		o.present |= 1ull << ETHTOOL_A_RINGS_HDS_THRESH;
		o.v[ETHTOOL_A_RINGS_HDS_THRESH] = hds_thresh;
	}
	err = nl_ethtool_set(k->sk, ETHTOOL_MSG_RINGS_SET, (uint32_t)ifindex, &o);
	pthread_mutex_unlock(&k->lock);
	return err;
}

#define CTL_KERNEL_MAX_INDIR 4096

int ctl_kernel_set_rss_equal(struct ctl_kernel *k, int ifindex, uint32_t n)
{
	uint32_t *indir;
	int size, err;

	indir = calloc(CTL_KERNEL_MAX_INDIR, sizeof(*indir));
	if (!indir)
		return devmem_err(-ENOMEM, "rss-set: out of memory");
	pthread_mutex_lock(&k->lock);
	/* the table keeps the driver's size: read it, then fill it as "equal N" */
	size = nl_ethtool_rss_get_indir(k->sk, (uint32_t)ifindex, indir, CTL_KERNEL_MAX_INDIR);
	if (size < 0) {
		err = size;
	} else if (size == 0 || size > CTL_KERNEL_MAX_INDIR) {
		err = devmem_err(-EOPNOTSUPP, "rss-set: the device has an indirection table of %d",
				 size);
	} else {
		for (int i = 0; i < size; i++)
			indir[i] = (uint32_t)i % n;
		err = nl_ethtool_rss_set_indir(k->sk, (uint32_t)ifindex, indir, (unsigned int)size);
	}
	pthread_mutex_unlock(&k->lock);
	free(indir);
	return err;
}

/* ---- flow rules (the ethtool ioctl) ---- */

static void flow_rule_to_fs(const struct devmem_flow_rule *rule, struct ethtool_rx_flow_spec *fs)
{
	memset(fs, 0, sizeof(*fs));
	fs->flow_type = rule->flow_type;
	fs->ring_cookie = rule->queue;
	fs->location = RX_CLS_LOC_ANY;
	if (rule->flow_type == TCP_V4_FLOW) {
		struct ethtool_tcpip4_spec *h = &fs->h_u.tcp_ip4_spec, *m = &fs->m_u.tcp_ip4_spec;

		memcpy(&h->ip4src, rule->src_addr, 4);
		memcpy(&h->ip4dst, rule->dst_addr, 4);
		h->psrc = rule->src_port;
		h->pdst = rule->dst_port;
		/* a zero field is a wildcard: mask only what is given */
		m->ip4src = h->ip4src ? 0xffffffff : 0;
		m->ip4dst = h->ip4dst ? 0xffffffff : 0;
		m->psrc = h->psrc ? 0xffff : 0;
		m->pdst = h->pdst ? 0xffff : 0;
	} else if (rule->flow_type == TCP_V6_FLOW) {
		struct ethtool_tcpip6_spec *h = &fs->h_u.tcp_ip6_spec, *m = &fs->m_u.tcp_ip6_spec;
		static const uint8_t zero[16];

		memcpy(h->ip6src, rule->src_addr, 16);
		memcpy(h->ip6dst, rule->dst_addr, 16);
		h->psrc = rule->src_port;
		h->pdst = rule->dst_port;
		if (memcmp(rule->src_addr, zero, 16))
			memset(m->ip6src, 0xff, 16);
		if (memcmp(rule->dst_addr, zero, 16))
			memset(m->ip6dst, 0xff, 16);
		m->psrc = h->psrc ? 0xffff : 0;
		m->pdst = h->pdst ? 0xffff : 0;
	}
}

static void flow_rule_from_fs(const struct ethtool_rx_flow_spec *fs, struct devmem_flow_rule *rule)
{
	memset(rule, 0, sizeof(*rule));
	rule->flow_type = fs->flow_type & ~(uint32_t)(FLOW_EXT | FLOW_MAC_EXT | FLOW_RSS);
	rule->queue = (uint32_t)ethtool_get_flow_spec_ring(fs->ring_cookie);
	if (rule->flow_type == TCP_V4_FLOW) {
		memcpy(rule->src_addr, &fs->h_u.tcp_ip4_spec.ip4src, 4);
		memcpy(rule->dst_addr, &fs->h_u.tcp_ip4_spec.ip4dst, 4);
		rule->src_port = fs->h_u.tcp_ip4_spec.psrc;
		rule->dst_port = fs->h_u.tcp_ip4_spec.pdst;
	} else if (rule->flow_type == TCP_V6_FLOW) {
		memcpy(rule->src_addr, fs->h_u.tcp_ip6_spec.ip6src, 16);
		memcpy(rule->dst_addr, fs->h_u.tcp_ip6_spec.ip6dst, 16);
		rule->src_port = fs->h_u.tcp_ip6_spec.psrc;
		rule->dst_port = fs->h_u.tcp_ip6_spec.pdst;
	}
}

int ctl_kernel_flow_rule_add(struct ctl_kernel *k, int ifindex, const struct devmem_flow_rule *rule,
			     uint32_t *loc)
{
	struct ethtool_rx_flow_spec fs;
	int err;

	(void)k;
	flow_rule_to_fs(rule, &fs);
	err = nl_ntuple_add((uint32_t)ifindex, &fs);
	if (err)
		return err;
	*loc = fs.location;
	return 0;
}

int ctl_kernel_flow_rule_del(struct ctl_kernel *k, int ifindex, uint32_t loc)
{
	(void)k;
	return nl_ntuple_del((uint32_t)ifindex, loc);
}

int ctl_kernel_flow_rule_list(struct ctl_kernel *k, int ifindex, struct devmem_flow_rule *rules,
			      uint32_t *locs, unsigned int max)
{
	struct ethtool_rx_flow_spec fs;
	uint32_t *all;
	int n, err;

	(void)k;
	n = nl_ntuple_count((uint32_t)ifindex, NULL);
	if (n <= 0 || !max)
		return n;
	all = calloc((size_t)n, sizeof(*all));
	if (!all)
		return devmem_err(-ENOMEM, "flow rule list: out of memory");
	n = nl_ntuple_list((uint32_t)ifindex, all, (unsigned int)n);
	for (int i = 0; i < n && (unsigned int)i < max; i++) {
		if (locs)
			locs[i] = all[i];
		if (!rules)
			continue;
		err = nl_ntuple_get((uint32_t)ifindex, all[i], &fs);
		if (err) {
			n = err;
			break;
		}
		flow_rule_from_fs(&fs, &rules[i]);
	}
	free(all);
	return n;
}

/* ---- dumps (netdev) ---- */

struct kdump {
	void *cb;
	void *data;
	int ifindex; /* filter, 0: all */
	int ret; /* the caller's callback's non-zero return */
	bool stopped;
	unsigned int rx, tx; /* queue counting */
	struct ctl_kernel *k;
};

/* End a walk for the caller's callback: any negative value stops nl's walk. */
static int kdump_stop(struct kdump *d, int ret)
{
	d->ret = ret;
	d->stopped = true;
	return -ECANCELED;
}

static int kdump_end(struct kdump *d, int err)
{
	if (d->stopped)
		return d->ret;
	return err < 0 ? err : 0;
}

static void queue_from_obj(const struct nlc_obj *o, struct devmem_queue_info *info)
{
	*info = (struct devmem_queue_info){
		.id = (uint32_t)o->v[NETDEV_A_QUEUE_ID],
		.ifindex = (int)o->v[NETDEV_A_QUEUE_IFINDEX],
		.type = (uint32_t)o->v[NETDEV_A_QUEUE_TYPE],
		.napi_id = (uint32_t)o->v[NETDEV_A_QUEUE_NAPI_ID],
		.dmabuf = (uint32_t)o->v[NETDEV_A_QUEUE_DMABUF],
		.io_uring = nlc_has(o, NETDEV_A_QUEUE_IO_URING),
		.xsk = nlc_has(o, NETDEV_A_QUEUE_XSK),
	};
}

static void page_pool_from_obj(const struct nlc_obj *o, struct devmem_page_pool_info *info)
{
	*info = (struct devmem_page_pool_info){
		.id = (uint32_t)o->v[NETDEV_A_PAGE_POOL_ID],
		.ifindex = (int)o->v[NETDEV_A_PAGE_POOL_IFINDEX],
		.napi_id = (uint32_t)o->v[NETDEV_A_PAGE_POOL_NAPI_ID],
		.inflight = o->v[NETDEV_A_PAGE_POOL_INFLIGHT],
		.inflight_mem = o->v[NETDEV_A_PAGE_POOL_INFLIGHT_MEM],
		.detach_time = o->v[NETDEV_A_PAGE_POOL_DETACH_TIME],
		.dmabuf = (uint32_t)o->v[NETDEV_A_PAGE_POOL_DMABUF],
		.io_uring = nlc_has(o, NETDEV_A_PAGE_POOL_IO_URING),
	};
}

static int kqueue_count(const struct nlc_obj *o, void *arg)
{
	struct kdump *d = arg;

	if (o->v[NETDEV_A_QUEUE_TYPE] == NETDEV_QUEUE_TYPE_RX)
		d->rx++;
	else
		d->tx++;
	return 0;
}

static void queue_filter(struct nlc_obj *f, int ifindex)
{
	*f = (struct nlc_obj){ 0 };
	f->present = 1ull << NETDEV_A_QUEUE_IFINDEX;
	f->v[NETDEV_A_QUEUE_IFINDEX] = (uint32_t)ifindex;
}

/* dev-get, and what ethtool and the queue dump add to it (k->lock held). */
static int kdev_fill(struct ctl_kernel *k, int ifindex, struct devmem_dev_info *info)
{
	struct kdump d = { 0 };
	struct nlc_obj f = { 0 }, o;
	char name[IF_NAMESIZE];
	int err, n;

	f.present = 1ull << NETDEV_A_DEV_IFINDEX;
	f.v[NETDEV_A_DEV_IFINDEX] = (uint32_t)ifindex;
	err = nl_netdev_get(k->sk, NETDEV_CMD_DEV_GET, &f, &o);
	if (err)
		return err;
	*info = (struct devmem_dev_info){
		.ifindex = ifindex,
		.xdp_features = o.v[NETDEV_A_DEV_XDP_FEATURES],
	};
	if (if_indextoname((unsigned int)ifindex, name))
		snprintf(info->name, sizeof(info->name), "%s", name);
	queue_filter(&f, ifindex);
	if (nl_netdev_dump(k->sk, NETDEV_CMD_QUEUE_GET, &f, kqueue_count, &d) >= 0) {
		info->num_rx_queues = d.rx;
		info->num_tx_queues = d.tx;
	}
	/* what a driver lacks (lo has no rings, RSS or ntuple) reads as unknown or none */
	if (!nl_ethtool_get(k->sk, ETHTOOL_MSG_RINGS_GET, (uint32_t)ifindex, &o)) {
		info->tcp_data_split = (uint32_t)o.v[ETHTOOL_A_RINGS_TCP_DATA_SPLIT];
		info->hds_thresh = (uint32_t)o.v[ETHTOOL_A_RINGS_HDS_THRESH];
		info->hds_thresh_max = (uint32_t)o.v[ETHTOOL_A_RINGS_HDS_THRESH_MAX];
	}
	nl_ethtool_rss_get_indir(k->sk, (uint32_t)ifindex, info->rss_indir, DEVMEM_RSS_INDIR_SIZE);
	n = nl_ntuple_count((uint32_t)ifindex, NULL);
	info->nr_flow_rules = n > 0 ? (uint32_t)n : 0;
	devmem_clear_error(); /* the device was found: those refusals are no error of this call */
	return 0;
}

int ctl_kernel_dev_get(struct ctl_kernel *k, int ifindex, struct devmem_dev_info *info)
{
	int err;

	pthread_mutex_lock(&k->lock);
	err = kdev_fill(k, ifindex, info);
	pthread_mutex_unlock(&k->lock);
	return err;
}

struct kifindexes {
	int *v;
	unsigned int n, cap;
};

static int kdev_collect(const struct nlc_obj *o, void *arg)
{
	struct kifindexes *l = arg;

	if (l->n == l->cap) {
		unsigned int cap = l->cap ? l->cap * 2 : 16;
		int *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (int)o->v[NETDEV_A_DEV_IFINDEX];
	return 0;
}

int ctl_kernel_dev_dump(struct ctl_kernel *k, int (*cb)(const struct devmem_dev_info *, void *),
			void *data)
{
	struct kifindexes l = { 0 };
	struct devmem_dev_info info;
	int err, ret = 0;

	pthread_mutex_lock(&k->lock);
	/* the list first: each device's details are requests on the same socket */
	err = nl_netdev_dump(k->sk, NETDEV_CMD_DEV_GET, NULL, kdev_collect, &l);
	for (unsigned int i = 0; err >= 0 && i < l.n; i++) {
		/* a device gone since the dump is skipped, as a dump would not show it */
		if (kdev_fill(k, l.v[i], &info))
			continue;
		ret = cb(&info, data);
		if (ret)
			break;
	}
	pthread_mutex_unlock(&k->lock);
	free(l.v);
	if (err < 0)
		return err;
	devmem_clear_error();
	return ret;
}

int ctl_kernel_queue_get(struct ctl_kernel *k, int ifindex, uint32_t type, uint32_t id,
			 struct devmem_queue_info *info)
{
	struct nlc_obj f, o;
	int err;

	queue_filter(&f, ifindex);
	f.present |= 1ull << NETDEV_A_QUEUE_ID | 1ull << NETDEV_A_QUEUE_TYPE;
	f.v[NETDEV_A_QUEUE_ID] = id;
	f.v[NETDEV_A_QUEUE_TYPE] = type;
	pthread_mutex_lock(&k->lock);
	err = nl_netdev_get(k->sk, NETDEV_CMD_QUEUE_GET, &f, &o);
	pthread_mutex_unlock(&k->lock);
	if (!err)
		queue_from_obj(&o, info);
	return err;
}

static int kqueue_one(const struct nlc_obj *o, void *arg)
{
	struct kdump *d = arg;
	int (*cb)(const struct devmem_queue_info *, void *) = d->cb;
	struct devmem_queue_info info;
	int ret;

	queue_from_obj(o, &info);
	ret = cb(&info, d->data);
	return ret ? kdump_stop(d, ret) : 0;
}

int ctl_kernel_queue_dump(struct ctl_kernel *k, int ifindex,
			  int (*cb)(const struct devmem_queue_info *, void *), void *data)
{
	struct kdump d = { .cb = (void *)cb, .data = data };
	struct nlc_obj f;
	int err;

	queue_filter(&f, ifindex);
	pthread_mutex_lock(&k->lock);
	err = nl_netdev_dump(k->sk, NETDEV_CMD_QUEUE_GET, ifindex ? &f : NULL, kqueue_one, &d);
	pthread_mutex_unlock(&k->lock);
	return kdump_end(&d, err);
}

int ctl_kernel_page_pool_get(struct ctl_kernel *k, uint32_t id, struct devmem_page_pool_info *info)
{
	struct nlc_obj f = { 0 }, o;
	int err;

	f.present = 1ull << NETDEV_A_PAGE_POOL_ID;
	f.v[NETDEV_A_PAGE_POOL_ID] = id;
	pthread_mutex_lock(&k->lock);
	err = nl_netdev_get(k->sk, NETDEV_CMD_PAGE_POOL_GET, &f, &o);
	pthread_mutex_unlock(&k->lock);
	if (!err)
		page_pool_from_obj(&o, info);
	return err;
}

static int kpool_one(const struct nlc_obj *o, void *arg)
{
	struct kdump *d = arg;
	int (*cb)(const struct devmem_page_pool_info *, void *) = d->cb;
	struct devmem_page_pool_info info;
	int ret;

	page_pool_from_obj(o, &info);
	/* the kernel's page-pool dump takes no device: filter here */
	if (d->ifindex && info.ifindex != d->ifindex)
		return 0;
	ret = cb(&info, d->data);
	return ret ? kdump_stop(d, ret) : 0;
}

int ctl_kernel_page_pool_dump(struct ctl_kernel *k, int ifindex,
			      int (*cb)(const struct devmem_page_pool_info *, void *), void *data)
{
	struct kdump d = { .cb = (void *)cb, .data = data, .ifindex = ifindex };
	int err;

	pthread_mutex_lock(&k->lock);
	err = nl_netdev_dump(k->sk, NETDEV_CMD_PAGE_POOL_GET, NULL, kpool_one, &d);
	pthread_mutex_unlock(&k->lock);
	return kdump_end(&d, err);
}

/* ---- the auto backend's decision ---- */

static const char *errno_name(int err)
{
	const char *name = strerrorname_np(err);

	return name ? name : "an unknown errno";
}

int ctl_kernel_probe(int ifindex, const struct devmem_queue_id *queues, unsigned int nr_queues,
		     int dmabuf_fd, char *reason, size_t len)
{
	struct nlc_queue_id q0 = { .id = 0, .type = NETDEV_QUEUE_TYPE_RX };
	struct nlc_queue_id q[DEVMEM_BINDING_MAX_QUEUES];
	const struct nlc_extack *ext;
	char ifname[IF_NAMESIZE] = "?", why[200];
	struct nl_sock *sk;
	int fd = dmabuf_fd, err;
	uint32_t id;

	if (!if_indextoname((unsigned int)ifindex, ifname))
		snprintf(ifname, sizeof(ifname), "ifindex %d", ifindex);
	if (nr_queues > DEVMEM_BINDING_MAX_QUEUES)
		return devmem_err(-EINVAL, "auto: more than %d queues", DEVMEM_BINDING_MAX_QUEUES);
	for (unsigned int i = 0; i < nr_queues; i++)
		q[i] = (struct nlc_queue_id){ .id = queues[i].id, .type = queues[i].type };
	err = nl_sock_open(&sk);
	if (err)
		return err;
	/* no buffer given: a file that is no dma-buf still shows a refusal of the device */
	if (fd <= 0)
		fd = memfd_create("devmem-auto-probe", MFD_CLOEXEC);
	if (fd < 0) {
		err = devmem_err(-errno, "auto: memfd_create: %s", strerror(errno));
		nl_sock_close(sk);
		return err;
	}
	err = nl_netdev_bind_rx(sk, (uint32_t)ifindex, fd, nr_queues ? q : &q0,
				nr_queues ? nr_queues : 1, 0, &id);
	ext = nl_sock_last_extack(sk);
	if (err) {
		if (ext->has_msg)
			snprintf(why, sizeof(why), "%s", ext->msg);
		else if (ext->has_off)
			snprintf(why, sizeof(why), "%s, at the attribute at offset %u",
				 strerror(-err), ext->off);
		else
			snprintf(why, sizeof(why), "%s", strerror(-err));
	}
	/* closing the socket releases the binding if the kernel made one */
	nl_sock_close(sk);
	if (fd != dmabuf_fd)
		close(fd);
	if (!err) {
		snprintf(reason, len, "%s: the kernel took bind-rx; using the kernel", ifname);
		return 1;
	}
	snprintf(reason, len, "%s: the kernel refused bind-rx: %s (%s)%s; using the software NIC",
		 ifname, errno_name(-err), why,
		 dmabuf_fd <= 0 && err != -EOPNOTSUPP && err != -ENODEV ?
			 " with no dma-buf given to try" :
			 "");
	devmem_clear_error(); /* a refusal is a decision here, not a failure */
	return 0;
}
