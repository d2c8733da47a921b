/* SPDX-License-Identifier: MIT */
/*
 * page_pool: the per-rx-queue recycler of network memory, with memory
 * providers, after the kernel's net/core/page_pool.c.
 *
 * A pool belongs to one owner thread (the queue's NAPI context). The owner
 * allocates (page_pool_alloc_netmems) and recycles directly (allow_direct)
 * into a lock-free cache of PP_ALLOC_CACHE_SIZE entries. Any other thread
 * gives netmems back through a bounded multi-producer ring (the kernel's
 * ptr_ring, without its producer lock: a producer claims a run of slots
 * with one compare-and-swap and publishes each slot with a release store;
 * the owner consumes without atomics); a netmem that finds the ring full
 * goes back to its provider. When the cache is empty the owner refills it
 * from the ring in bulk, then from the provider in bulk.
 *
 * Memory comes from a memory provider: the default one hands out host pages
 * (net/host_pages.h) mapped into params.dev; a queue's provider (a devmem
 * binding, io_uring zcrx) hands out net_iovs, and is used only by pools that
 * set PP_FLAG_ALLOW_UNREADABLE_NETMEM (data pools; header pools never do).
 *
 * In flight (the kernel's meaning): netmems taken from the provider and not
 * yet given back to it, wherever they are (handed out, in the cache, in the
 * ring). page_pool_destroy() gives back what the pool holds and returns at
 * once; the pool is freed by whichever thread gives back the last netmem in
 * flight, and the provider's destroy() runs then.
 *
 * Statistics are the kernel's counters, kept without a store of their own
 * on the fast paths: the cache is a stack addressed by two running totals
 * (netmems ever pushed, ever popped) whose difference is its depth, so a
 * fast allocation or a direct recycle writes one word, as a bare array
 * stack does, and "fast" and "cached" are those totals less what the slow
 * paths moved; "ring" is the number of ring slots ever claimed.
 */
#ifndef DEVMEM_NET_PAGE_POOL_H
#define DEVMEM_NET_PAGE_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devmem/device.h"
#include "lib/list.h"
#include "net/host_pages.h"
#include "net/netmem.h"

/* The kernel's flag values. */
#define PP_FLAG_DMA_MAP (1U << 0) /* the pool maps its memory into params.dev */
#define PP_FLAG_DMA_SYNC_DEV (1U << 1) /* the pool syncs for the device before reuse */
#define PP_FLAG_SYSTEM_POOL (1U << 2) /* a global per-cpu pool (accepted, no effect) */
#define PP_FLAG_ALLOW_UNREADABLE_NETMEM (1U << 3) /* the driver can take net_iovs */
#define PP_FLAG_ALL                                                     \
	(PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV | PP_FLAG_SYSTEM_POOL | \
	 PP_FLAG_ALLOW_UNREADABLE_NETMEM)

#define PP_ALLOC_CACHE_SIZE 128 /* the owner's cache */
#define PP_ALLOC_CACHE_REFILL 64 /* netmems per bulk refill (ring or provider) */
#define PP_POOL_SIZE_MAX 32768 /* ring entries at most */
#define PP_MAX_ORDER HOST_PAGES_MAX_ORDER

struct page_pool;
struct netdev_rx_queue; /* defined by the netdev layer; opaque here */

/*
 * What a memory provider tells the control handle about itself when it dumps
 * a page pool or a queue (the kernel's nl_fill puts netlink attributes; we
 * fill this struct, and the control handle turns it into its reply).
 */
struct netdev_mp_attrs {
	unsigned int dmabuf_id; /* NETDEV_A_PAGE_POOL_DMABUF: the binding id, 0 if none */
	bool io_uring; /* NETDEV_A_PAGE_POOL_IO_URING */
};

/*
 * A memory provider. Every callback but release_netmem runs in the pool's
 * owner context (alloc) or the creating/freeing thread (init, destroy);
 * release_netmem may run on any thread that gives back a netmem, concurrently.
 *
 * alloc_netmems  put up to @n netmems (net_iovs or host pages) in @netmems;
 *                return how many (0: none left). The pool stamps pp and
 *                pp_magic and counts them in flight: the provider only hands
 *                the memory over, with dma_addr set.
 * release_netmem take @netmem back (the pool has cleared pp and pp_magic).
 *                Return false when the provider took it ("not a page");
 *                true when it is a host page the pool must free with
 *                host_page_free().
 * init           called by page_pool_create() once params, mp_priv and
 *                mp_ops are set; non-zero fails the create (nothing else
 *                is called then). The devmem provider takes a binding
 *                reference, switches the pool's device syncing off and
 *                checks that the pool's order is its net_iov size. A pool
 *                with a provider must have PP_FLAG_DMA_MAP and
 *                PP_FLAG_DMA_SYNC_DEV: page_pool_create() refuses it with
 *                -EOPNOTSUPP before init otherwise.
 * destroy        called once, when the pool is freed (nothing in flight).
 * nl_fill        describe the provider for a dump (see netdev_mp_attrs);
 *                @rxq is NULL when dumping a page pool.
 * uninstall      the queue drops the provider (unbind, netdev going away).
 */
struct memory_provider_ops {
	int (*alloc_netmems)(struct page_pool *pool, netmem_ref *netmems, int n);
	bool (*release_netmem)(struct page_pool *pool, netmem_ref netmem);
	int (*init)(struct page_pool *pool);
	void (*destroy)(struct page_pool *pool);
	int (*nl_fill)(void *mp_priv, struct netdev_mp_attrs *attrs, struct netdev_rx_queue *rxq);
	void (*uninstall)(void *mp_priv, struct netdev_rx_queue *rxq);
};

/* What a queue has installed (the kernel's rxq->mp_params). */
struct pp_memory_provider_params {
	const struct memory_provider_ops *mp_ops;
	void *mp_priv;
	/*
	 * Bytes per rx buffer the provider needs (its net_iov size), 0 for
	 * PAGE_SIZE: the driver sizes its data pool's order from it, and only
	 * a driver with QCFG_RX_PAGE_SIZE may be given one.
	 */
	uint32_t rx_page_size;
};

struct page_pool_params {
	unsigned int flags; /* PP_FLAG_* */
	unsigned int order; /* netmems of PAGE_SIZE << order bytes */
	unsigned int pool_size; /* ring entries: 1 .. PP_POOL_SIZE_MAX */
	int nid; /* NUMA node: unused */
	struct device *dev; /* the NIC; required with PP_FLAG_DMA_MAP */
	/*
	 * The owner (the kernel's napi): the one thread that allocates and
	 * recycles directly. 0: the thread calling page_pool_create().
	 */
	pthread_t owner;
	struct netdev_rx_queue *queue; /* the queue the pool serves, or NULL */
	int ifindex; /* the queue's device, for dumps (0: a pool of no device, never dumped) */
	unsigned int napi_id; /* the queue's NAPI id, for dumps */
	/*
	 * The queue's memory provider, filled by the netdev layer from the
	 * queue; used only with PP_FLAG_ALLOW_UNREADABLE_NETMEM. NULL, or
	 * mp_ops NULL: none installed.
	 */
	const struct pp_memory_provider_params *mp;
	enum dma_data_direction dma_dir; /* FROM_DEVICE or BIDIRECTIONAL with DMA_MAP */
	unsigned int max_len; /* bytes the device may write per netmem (DMA_SYNC_DEV) */
	unsigned int offset; /* where the device starts writing (DMA_SYNC_DEV) */
};

struct page_pool_alloc_stats {
	uint64_t fast; /* from the cache */
	uint64_t slow; /* order-0 bulk allocation from the provider */
	uint64_t slow_high_order; /* order > 0 allocation from the provider */
	uint64_t empty; /* the ring was empty when the cache needed a refill */
	uint64_t refill; /* the cache was refilled from the ring */
	uint64_t waive; /* refilled netmem released for a NUMA mismatch (no NUMA here: 0) */
};

struct page_pool_recycle_stats {
	uint64_t cached; /* recycled into the cache */
	uint64_t cache_full; /* direct recycle found the cache full */
	uint64_t ring; /* recycled into the ring */
	uint64_t ring_full; /* the ring was full: released to the provider */
	uint64_t released_refcnt; /* released for an elevated page refcount (none here: 0) */
};

struct page_pool_stats {
	struct page_pool_alloc_stats alloc_stats;
	struct page_pool_recycle_stats recycle_stats;
};

#define PP_CACHELINE 64
/*
 * What threads that write concurrently keep between their fields: the L2
 * prefetcher of x86 cores pulls lines in pairs, so two writers on adjacent
 * lines still take turns with the pair.
 */
#define PP_WRITER_GAP 128

/*
 * The return ring. Positions count up forever; position p lives in slot
 * p & mask, 0 when empty. Producers claim a run of positions with one
 * compare-and-swap on prod, provided fewer than @size would then be
 * unconsumed, and publish each slot with a release store; the owner reads
 * the published run from cons, clears those slots and moves cons past
 * them with one release store.
 */
#define PP_RING_DESTROYING (1UL << 63) /* in prod: page_pool_destroy() ran, no more claims */

struct pp_ring {
	/* immutable after page_pool_create() */
	netmem_ref *slots; /* a power of two of them, at least size; atomic */
	unsigned long mask; /* slots - 1 */
	unsigned int size; /* capacity: params.pool_size */

	/* producers (any thread), on their own lines; atomic: positions claimed | DESTROYING */
	unsigned long prod __attribute__((aligned(PP_WRITER_GAP)));
	unsigned long prod_limit; /* atomic: cons + size as a producer last read it */
	uint64_t stat_ring_full; /* atomic: netmems that found the ring full */

	/* the consumer (owner thread): written with a release store, read by producers */
	unsigned long cons __attribute__((aligned(PP_WRITER_GAP))); /* positions consumed */
};

struct page_pool {
	/*
	 * The fast path's line: owner thread only (written); head and tail
	 * are read relaxed by page_pool_get_stats(). The cache holds
	 * cache[0 .. head - tail), the top last; a destroyed pool sets tail
	 * so that head - tail is PP_CACHE_DEAD, which both fast paths refuse.
	 */
	struct {
		unsigned long head; /* netmems ever pushed into the cache */
		unsigned long tail; /* netmems ever popped from it */
		netmem_ref cache[PP_ALLOC_CACHE_SIZE];
	} alloc __attribute__((aligned(PP_WRITER_GAP)));

	/* owner thread only (written): the slow paths; read relaxed by page_pool_get_stats() */
	struct {
		unsigned long head_bulk; /* pushes by refills (the rest are direct recycles) */
		unsigned long tail_slow; /* pops by slow allocs and destroy (the rest are fast) */
		uint64_t slow, slow_high_order, empty, refill, cache_full;
	} slow_stats __attribute__((aligned(PP_CACHELINE)));
	uint32_t pages_state_hold_cnt; /* taken from the provider */
	pthread_t owner; /* written by page_pool_set_owner(), read relaxed by asserts */
	bool direct_disabled; /* set by page_pool_destroy() (owner context) */

	/* immutable after page_pool_create(), on lines nobody writes */
	struct page_pool_params p __attribute__((aligned(PP_CACHELINE)));
	const struct memory_provider_ops *mp_ops; /* NULL: host pages */
	void *mp_priv; /* the provider's (a devmem binding) */
	struct host_pages *host; /* the default provider; NULL with mp_ops */
	unsigned int id; /* unique, from 1: for dumps */
	bool dma_map, dma_sync; /* PP_FLAG_DMA_MAP / PP_FLAG_DMA_SYNC_DEV */

	struct pp_ring ring;

	/* any thread */
	uint32_t pages_state_release_cnt __attribute__((aligned(PP_WRITER_GAP))); /* atomic */
	/*
	 * atomic: 1 until page_pool_destroy(), plus one per netmem in flight.
	 * The decrement that reaches 0 frees the pool.
	 */
	long users;

	/* protected by the registry lock (page_pool_dump) */
	struct list_head registry __attribute__((aligned(PP_WRITER_GAP)));
	uint64_t detach_time; /* CLOCK_BOOTTIME seconds of page_pool_destroy(); 0 before */
};

/* head - tail of a destroyed pool: above PP_ALLOC_CACHE_SIZE, so no fast path takes it. */
#define PP_CACHE_DEAD (1U << 30)

/*
 * Create a pool. 0 and *out; -EINVAL for bad params (pool_size 0 or above
 * PP_POOL_SIZE_MAX, a host-page pool's order above PP_MAX_ORDER, unknown
 * flags, DMA_MAP without dev or with a direction other than
 * FROM_DEVICE/BIDIRECTIONAL, DMA_SYNC_DEV without DMA_MAP or max_len);
 * -EOPNOTSUPP for a pool that would take a provider without DMA_MAP and
 * DMA_SYNC_DEV; -ENOMEM; or the provider's init() error.
 */
int page_pool_create(const struct page_pool_params *params, struct page_pool **out);

/*
 * Give back everything the pool holds and mark it for destruction; returns
 * at once. The caller must be the owner, or the owner must have stopped
 * using the pool (its queue is stopped) with a happens-before to this call.
 * Netmems still out come back through page_pool_put_netmem() (without
 * allow_direct) from any thread; the last one frees the pool. NULL is ignored.
 */
void page_pool_destroy(struct page_pool *pool);

/* The owner changes (a queue's thread starts). Call with the old owner stopped. */
void page_pool_set_owner(struct page_pool *pool, pthread_t owner);

/* Netmems taken from the provider and not given back (any thread; racy snapshot). */
long page_pool_inflight(const struct page_pool *pool);

/* Copy the counters (any thread; each counter is read atomically, not the whole set). */
void page_pool_get_stats(const struct page_pool *pool, struct page_pool_stats *stats);

/*
 * Ask the pool's provider to describe itself (a dump of the pool): 0 and
 * *attrs (all zero for host pages), or the provider's nl_fill() error.
 */
int page_pool_mp_attrs(const struct page_pool *pool, struct netdev_mp_attrs *attrs);

/* Pools created and not yet freed, in this process (tests watch pools die). */
long page_pool_nr_live(void);

/* What a dump of one pool reports (the netdev family's page-pool attributes). */
struct page_pool_info {
	unsigned int id;
	int ifindex;
	unsigned int napi_id;
	long inflight; /* netmems */
	size_t inflight_mem; /* bytes */
	uint64_t detach_time; /* 0 while the pool is in use */
	struct netdev_mp_attrs mp; /* zero for host pages */
	const struct netdev_rx_queue *queue; /* NULL once destroyed */
};

/*
 * Call @fn for every live pool with a non-zero ifindex, in creation order,
 * including destroyed pools that still have netmems in flight, and stop at
 * the first non-zero return, which is returned. @fn runs under the registry
 * lock: it must not create or free pools (it may read what it is given).
 */
int page_pool_dump(int (*fn)(const struct page_pool_info *info, void *data), void *data);

/*
 * Whether a pool that is not destroyed serves @rxq with the provider whose
 * private data is @mp_priv (the kernel's page_pool_check_memory_provider():
 * after a queue restart, did the driver's pools take the queue's provider?).
 */
bool page_pool_queue_uses_provider(const struct netdev_rx_queue *rxq, const void *mp_priv);

/*
 * The checks a provider of single-page unreadable memory can make from its
 * init: -EOPNOTSUPP without PP_FLAG_DMA_MAP or PP_FLAG_DMA_SYNC_DEV (what
 * page_pool_create() already refuses for every provider), -E2BIG for
 * order > 0; 0 otherwise. The devmem provider checks the order against its
 * net_iov size instead.
 */
int page_pool_check_unreadable_params(const struct page_pool_params *p);

/*
 * page_pool_put_netmem(pool, netmems[i], false) for each of @n netmems of
 * @pool, from any thread, with one ring claim for the batch (a socket giving
 * back many tokens). @netmems is left unspecified.
 */
void page_pool_put_netmem_bulk(struct page_pool *pool, netmem_ref *netmems, unsigned int n);

/*
 * Slow paths of the inline helpers below. @cache_full: the caller could
 * recycle directly but the cache had no room (or the pool is destroyed).
 */
netmem_ref page_pool_alloc_netmems_slow(struct page_pool *pool);
void page_pool_recycle_slow(struct page_pool *pool, netmem_ref netmem, bool cache_full);
/* page_pool_put_netmem() with allow_direct, when other references are held or the cache is full. */
void page_pool_put_direct_slow(struct page_pool *pool, netmem_ref netmem);

static inline void page_pool_assert_owner(const struct page_pool *pool)
{
	devmem_assert(pthread_equal(READ_ONCE(pool->owner), pthread_self()),
		      "page_pool: owner thread only");
}

/* Owner-only counters: one writer, readers elsewhere: plain add, untorn store. */
#define pp_stat_inc(field) WRITE_ONCE(field, (field) + 1)
#define pp_stat_add(field, n) WRITE_ONCE(field, (field) + (n))

/* Netmems in the cache (owner thread only; PP_CACHE_DEAD once destroyed). */
static inline unsigned int page_pool_cache_count(const struct page_pool *pool)
{
	return (unsigned int)(pool->alloc.head - pool->alloc.tail);
}

/*
 * Allocate one netmem (owner thread only): from the cache, else a bulk
 * refill from the ring, else from the provider. 0 when none is left. The
 * netmem comes with one pool reference (pp_ref_count 1).
 */
static inline netmem_ref page_pool_alloc_netmems(struct page_pool *pool)
{
	unsigned long tail = pool->alloc.tail;
	unsigned int count = (unsigned int)(pool->alloc.head - tail);
	netmem_ref netmem;

	page_pool_assert_owner(pool);
	/* one compare for "not empty" and "not destroyed" */
	if (likely(count - 1 < PP_ALLOC_CACHE_SIZE)) {
		netmem = pool->alloc.cache[count - 1];
		WRITE_ONCE(pool->alloc.tail, tail + 1);
	} else {
		netmem = page_pool_alloc_netmems_slow(pool);
		if (unlikely(!netmem))
			return 0;
	}
	DEVMEM_BUG_ON(netmem_get_pp(netmem) != pool || !netmem_is_pp(netmem));
	DEVMEM_BUG_ON(netmem_pp_ref_count(netmem) != 1);
	return netmem;
}

/*
 * Drop one pool reference on @netmem; the last one recycles it: with
 * @allow_direct (owner thread only) into the cache, otherwise (or when the
 * cache is full) into the ring, and when the ring is full (or the pool is
 * being destroyed) back to the provider.
 */
static inline void page_pool_put_netmem(struct page_pool *pool, netmem_ref netmem,
					bool allow_direct)
{
	DEVMEM_BUG_ON(netmem_get_pp(netmem) != pool || !netmem_is_pp(netmem));
	if (allow_direct) {
		unsigned long head = pool->alloc.head;
		unsigned int count = (unsigned int)(head - pool->alloc.tail);
		long *ref = netmem_get_pp_ref_count_ref(netmem);

		/*
		 * The common case in one branch: the caller holds the only
		 * reference (read with acquire, as page_pool_unref_netmem()
		 * does, and not written) and the cache has room (a destroyed
		 * pool's never has).
		 */
		_Static_assert((PP_ALLOC_CACHE_SIZE & (PP_ALLOC_CACHE_SIZE - 1)) == 0,
			       "the room test below masks with it");
		if (likely(((__atomic_load_n(ref, __ATOMIC_ACQUIRE) ^ 1) |
			    (count & ~(PP_ALLOC_CACHE_SIZE - 1))) == 0)) {
			page_pool_assert_owner(pool);
			pool->alloc.cache[count] = netmem;
			WRITE_ONCE(pool->alloc.head, head + 1);
			return;
		}
		page_pool_put_direct_slow(pool, netmem);
		return;
	}
	if (page_pool_unref_netmem(netmem, 1))
		return;
	page_pool_recycle_slow(pool, netmem, false);
}

/* The whole netmem may have been written by the device (no partial sync): same as a put. */
static inline void page_pool_put_full_netmem(struct page_pool *pool, netmem_ref netmem,
					     bool allow_direct)
{
	page_pool_put_netmem(pool, netmem, allow_direct);
}

/* The owner gives back a netmem only it holds, straight into the cache. */
static inline void page_pool_recycle_direct(struct page_pool *pool, netmem_ref netmem)
{
	page_pool_put_full_netmem(pool, netmem, true);
}

#endif
