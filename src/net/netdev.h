/* SPDX-License-Identifier: MIT */
/*
 * Network devices and their queues, as the devmem core sees them (the
 * kernel's struct net_device, netdev_rx_queue, netdev_queue_mgmt_ops and
 * netdev_rx_queue_restart()).
 *
 * A net_device has a name, an ifindex, rx and tx queues, the NIC's DMA device
 * (the importer dma-bufs are attached to), the ethtool settings a devmem
 * receiver needs (header split and its threshold, an RSS indirection table,
 * ntuple flow rules) and the two states a bind refuses (an XDP program on
 * the device, an AF_XDP pool on a queue). Its driver supplies queue
 * management ops; netdev_rx_queue_restart() uses them to swap a queue's
 * memory (its page pools) under traffic.
 *
 * Registered devices are found by ifindex or name (netdev_get_by_index()
 * takes a reference). Devices are refcounted: the last netdev_put() frees.
 *
 * Locking: dev->lock (the kernel's netdev instance lock) protects the
 * settings, every queue's mp_params and xsk state, and serialises restarts.
 * Lock order: control handle, then dev->lock, then a page_pool's registry
 * lock. The driver's queue ops run with dev->lock held.
 */
#ifndef DEVMEM_NET_NETDEV_H
#define DEVMEM_NET_NETDEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devmem/netdev.h"
#include "lib/list.h"
#include "net/page_pool.h"

#ifndef IFNAMSIZ
#define IFNAMSIZ 16
#endif

struct net_device;
struct netdev_sock_ops;

/* An rx queue (the kernel's netdev_rx_queue). */
struct netdev_rx_queue {
	struct net_device *dev; /* immutable */
	unsigned int index; /* immutable */
	unsigned int napi_id; /* immutable: the queue's NAPI context */
	/* the memory provider pools of this queue take; protected by dev->lock */
	struct pp_memory_provider_params mp_params;
	bool xsk_pool; /* an AF_XDP pool is attached; protected by dev->lock */
	/*
	 * held while mp_params has a provider, on a device that claims its
	 * queues machine-wide (net/claim.h); protected by dev->lock
	 */
	struct netdev_rxq_claim *claim;
};

/* A tx queue. */
struct netdev_queue {
	struct net_device *dev;
	unsigned int index;
	unsigned int napi_id;
};

/*
 * What a driver implements to restart one rx queue with new memory (the
 * kernel's netdev_queue_mgmt_ops). per_queue_mem is a zeroed buffer of
 * ndo_queue_mem_size bytes the core allocates: the driver keeps there
 * whatever a queue's memory is (rings, page pools). All run under dev->lock.
 *
 * ndo_queue_mem_alloc  allocate queue @idx's memory into @per_queue_mem,
 *                      creating its page pools with the queue's current
 *                      mp_params (nothing runs yet). Fails cleanly.
 * ndo_queue_mem_free   free what mem_alloc made (pools destroyed: net_iovs
 *                      still out come back later).
 * ndo_queue_start      start queue @idx serving from @per_queue_mem.
 * ndo_queue_stop       stop queue @idx and move its running memory into
 *                      @per_queue_mem (so it can be freed or restarted).
 */
/* Queue settings a driver's queue management can apply (the kernel's QCFG_*). */
#define QCFG_RX_PAGE_SIZE (1U << 0) /* rx buffers larger than PAGE_SIZE */

struct netdev_queue_mgmt_ops {
	size_t ndo_queue_mem_size;
	/*
	 * QCFG_* the driver honours. A queue whose provider asks for a
	 * setting the driver does not list is refused by the restart
	 * (-EOPNOTSUPP): the driver would silently ignore it.
	 */
	unsigned int supported_params;
	int (*ndo_queue_mem_alloc)(struct net_device *dev, void *per_queue_mem, int idx);
	void (*ndo_queue_mem_free)(struct net_device *dev, void *per_queue_mem);
	int (*ndo_queue_start)(struct net_device *dev, void *per_queue_mem, int idx);
	int (*ndo_queue_stop)(struct net_device *dev, void *per_queue_mem, int idx);
};

/* A flow rule at a location. */
struct netdev_flow_rule {
	struct list_head list; /* in dev->flow_rules, by location */
	uint32_t loc;
	struct devmem_flow_rule rule;
};

/* A TCP flow, as the steering sees it (addresses and ports in network order). */
struct netdev_flow_key {
	int family; /* AF_INET or AF_INET6 */
	uint8_t src_addr[16];
	uint8_t dst_addr[16];
	uint16_t src_port;
	uint16_t dst_port;
};

/* What a driver says about a device it creates. */
struct net_device_config {
	const char *name; /* < IFNAMSIZ bytes */
	int ifindex; /* > 0 */
	unsigned int num_rx_queues; /* 1 .. 1024 */
	unsigned int num_tx_queues; /* 1 .. 1024 */
	struct device *dev; /* the NIC's DMA device; a reference is taken */
	const struct netdev_queue_mgmt_ops *queue_mgmt_ops; /* NULL: no restart (EOPNOTSUPP) */
	bool netmem_tx; /* the driver can send from net_iovs (bind-tx) */
	/* the driver reads sockets steered to its rx queues (net/sock.h); NULL: it does not */
	const struct netdev_sock_ops *sock_ops;
	uint32_t hds_thresh_max; /* largest header-split threshold */
	/*
	 * NULL: the rx queues are this process's alone (a test device). Else
	 * a queue's memory provider is claimed for the whole network
	 * namespace in this domain ("": the namespace's own; net/claim.h),
	 * so a provider another process installed on the same ifindex and
	 * queue refuses the bind as one of this process's would.
	 */
	const char *rxq_claim_domain;
	/* ring sizes (ethtool -g); 0: the driver has none (EOPNOTSUPP) */
	uint32_t rx_pending, rx_max_pending, tx_pending, tx_max_pending;
	size_t priv_size; /* bytes of driver data at netdev_priv() */
	/* called by the last netdev_put(), before the driver data is freed; may be NULL */
	void (*priv_destructor)(struct net_device *dev);
};

enum netdev_reg_state {
	NETREG_UNINITIALIZED,
	NETREG_REGISTERED,
	NETREG_UNREGISTERED,
};

struct net_device {
	char name[IFNAMSIZ]; /* immutable */
	int ifindex; /* immutable */
	struct device *dev; /* immutable; referenced */
	const struct netdev_queue_mgmt_ops *queue_mgmt_ops; /* immutable */
	const struct netdev_sock_ops *sock_ops; /* immutable */
	bool netmem_tx; /* immutable */
	char *rxq_claim_domain; /* immutable: the config's, copied; NULL when not claimed */
	unsigned int num_rx_queues, num_tx_queues; /* allocated; immutable */
	struct netdev_rx_queue *_rx; /* num_rx_queues entries */
	struct netdev_queue *_tx; /* num_tx_queues entries */

	pthread_mutex_t lock; /* see the top of this file */
	pthread_t lock_owner; /* the thread holding lock, 0 when free (netdev_assert_locked) */
	/* protected by lock */
	enum netdev_reg_state reg_state;
	unsigned int real_num_rx_queues, real_num_tx_queues;
	uint32_t tcp_data_split; /* ETHTOOL_TCP_DATA_SPLIT_*; DISABLED at creation */
	uint32_t hds_thresh, hds_thresh_max;
	bool xdp_prog; /* an XDP program is attached */
	uint32_t rss_indir[DEVMEM_RSS_INDIR_SIZE]; /* equal over all rx queues at creation */
	/* RSS contexts by id (1 ..); NULL where there is none */
	uint32_t *rss_ctx[DEVMEM_RSS_MAX_CONTEXTS + 1];
	struct list_head flow_rules; /* struct netdev_flow_rule, by loc */
	unsigned int nr_flow_rules;
	uint64_t hw_features, wanted_features, features; /* netdev_features_t bits */
	uint32_t rx_pending, rx_max_pending, tx_pending, tx_max_pending;

	long refcnt; /* atomic */
	struct list_head list; /* in the registry; protected by the registry lock */
	void *priv; /* driver data, priv_size bytes, zeroed */
	void (*priv_destructor)(struct net_device *dev); /* immutable */
};

/*
 * Create a device (not yet registered): 0 and *@out with one reference;
 * -EINVAL for a bad config, -ENOMEM. Every rx queue gets a fresh NAPI id.
 */
int alloc_netdev(const struct net_device_config *cfg, struct net_device **out);

/*
 * Make @dev findable: -EEXIST when its name or ifindex is taken, -EINVAL when
 * already registered.
 */
int register_netdev(struct net_device *dev);

/*
 * Take @dev out of the registry (it can no longer be found or bound), and
 * uninstall every queue's memory provider (mp_ops->uninstall), as the
 * kernel's unregister does. The driver stops its queues afterwards. The
 * caller's reference stays; the device is freed by the last netdev_put().
 */
void unregister_netdev(struct net_device *dev);

/* A reference on a registered device, or NULL (-ENODEV with a message). */
struct net_device *netdev_get_by_index(int ifindex);
struct net_device *netdev_get_by_name(const char *name);

/*
 * netdev_get_by_index(), and when no device has @ifindex, let the driver
 * that shadows kernel interfaces create one for it first (the control
 * handle's lookups: an application names a kernel interface and expects
 * it to be there).
 */
struct net_device *netdev_get_or_shadow(int ifindex);

/*
 * Install the function netdev_get_or_shadow() calls: it creates and
 * registers a device for kernel interface @ifindex, or returns a negative
 * errno (with a message). One driver installs it, once.
 */
void netdev_set_shadow_fn(int (*fn)(int ifindex));

void netdev_hold(struct net_device *dev);
void netdev_put(struct net_device *dev);

static inline void *netdev_priv(const struct net_device *dev)
{
	return dev->priv;
}

static inline void netdev_lock(struct net_device *dev)
{
	pthread_mutex_lock(&dev->lock);
	WRITE_ONCE(dev->lock_owner, pthread_self());
}

static inline void netdev_unlock(struct net_device *dev)
{
	WRITE_ONCE(dev->lock_owner, (pthread_t)0);
	pthread_mutex_unlock(&dev->lock);
}

/* Debug builds: abort unless the calling thread holds dev->lock. */
void netdev_assert_locked(struct net_device *dev);

static inline struct netdev_rx_queue *__netif_get_rx_queue(struct net_device *dev, unsigned int idx)
{
	return &dev->_rx[idx];
}

/*
 * Fill what a page pool of @rxq takes from its queue: queue, ifindex, NAPI
 * id, the NIC's device and the queue's provider (used only with
 * PP_FLAG_ALLOW_UNREADABLE_NETMEM). Called from ndo_queue_mem_alloc.
 */
static inline void netdev_rxq_pp_params(struct netdev_rx_queue *rxq, struct page_pool_params *p)
{
	p->queue = rxq;
	p->ifindex = rxq->dev->ifindex;
	p->napi_id = rxq->napi_id;
	p->dev = rxq->dev->dev;
	p->mp = &rxq->mp_params;
}

/*
 * Call @fn for each registered device in ifindex order under the registry
 * lock (not dev->lock); stop at the first non-zero return and return it.
 */
int netdev_for_each(int (*fn)(struct net_device *dev, void *data), void *data);

/*
 * Restart rx queue @rxq_idx (dev->lock held): allocate its new memory (the
 * pools take the queue's mp_params as they are now), check that a pool took
 * the queue's provider if it has one (-ENODATA otherwise), stop the queue,
 * start it on the new memory, free the old. If allocation, the check or the
 * stop fails, the queue keeps its old memory and keeps running; if the start
 * fails, the old memory is started again. Returns 0 or the failing step's
 * error (-EOPNOTSUPP without queue management ops, -ERANGE for a bad index).
 */
int netdev_rx_queue_restart(struct net_device *dev, unsigned int rxq_idx);

/*
 * Install @params as queue @rxq_idx's provider and restart it (dev->lock
 * held), after the kernel's checks, each a message naming the queue:
 * -ERANGE (index beyond the real rx queues), -EINVAL (header split not
 * enabled, threshold not 0), -EEXIST (XDP program, provider already
 * installed: by this process, or by another on a device that claims its
 * queues, whose pid the message names), -EBUSY (AF_XDP pool), -EOPNOTSUPP
 * (no queue management ops), or the restart's error, after which the queue
 * is as before (and its claim dropped).
 */
int net_mp_open_rxq(struct net_device *dev, unsigned int rxq_idx,
		    const struct pp_memory_provider_params *params);

/*
 * Clear queue @rxq_idx's provider (must be @params' one) and restart it on
 * host pages (dev->lock held), then drop the queue's claim. If the restart
 * fails the provider stays installed, and claimed, and the error is
 * returned. Nothing to restart once the device is unregistered: the
 * provider is just cleared.
 */
int net_mp_close_rxq(struct net_device *dev, unsigned int rxq_idx,
		     const struct pp_memory_provider_params *params);

/* Whether any rx queue has a memory provider (dev->lock held). */
bool netdev_has_memory_provider(struct net_device *dev);

/* The ethtool analogues; dev->lock taken inside. Errors as in devmem/netdev.h. */
int netdev_set_header_split(struct net_device *dev, uint32_t tcp_data_split, uint32_t hds_thresh);
int netdev_set_rss_equal(struct net_device *dev, uint32_t n);
int netdev_flow_rule_add(struct net_device *dev, const struct devmem_flow_rule *rule,
			 uint32_t *loc);
int netdev_flow_rule_del(struct net_device *dev, uint32_t loc);
/* Copy up to @max rules and their locations (either may be NULL); returns how many there are. */
int netdev_flow_rule_list(struct net_device *dev, struct devmem_flow_rule *rules, uint32_t *locs,
			  unsigned int max);
int netdev_set_xdp(struct net_device *dev, bool attached);
int netdev_set_xsk_pool(struct net_device *dev, uint32_t rxq_idx, bool attached);
/*
 * Change the real queue counts (ethtool -L): -EINVAL above the allocated
 * counts, for 0, or when a queue that would go away has a memory provider.
 */
int netdev_set_channels(struct net_device *dev, unsigned int rx, unsigned int tx);
/* Insert at @loc or where the device chooses (devmem_flow_rule_insert()). */
int netdev_flow_rule_insert(struct net_device *dev, const struct devmem_flow_rule *rule,
			    uint32_t loc, uint32_t *out);
void netdev_get_channels(struct net_device *dev, struct devmem_channels *ch);
int netdev_get_ringparam(struct net_device *dev, struct devmem_ringparam *rp);
int netdev_set_ringparam(struct net_device *dev, uint32_t rx, uint32_t tx);
void netdev_get_features(struct net_device *dev, uint64_t *hw, uint64_t *wanted, uint64_t *active);
int netdev_set_features(struct net_device *dev, uint64_t valid, uint64_t wanted);
int netdev_rss_get(struct net_device *dev, uint32_t context, uint32_t *indir);
int netdev_rss_set(struct net_device *dev, uint32_t context, const uint32_t *indir);
int netdev_rss_context_create(struct net_device *dev, const uint32_t *indir, uint32_t *context);
int netdev_rss_context_delete(struct net_device *dev, uint32_t context);

/*
 * The rx queue for a TCP flow: the first flow rule that matches (by
 * location), else the RSS table at @hash % DEVMEM_RSS_INDIR_SIZE. dev->lock
 * taken inside.
 */
unsigned int netdev_steer_flow(struct net_device *dev, const struct netdev_flow_key *key,
			       uint32_t hash);

#endif
