// SPDX-License-Identifier: MIT
/* page_pool: creation, the slow paths (ring, provider), release and deferred destruction. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/error.h"
#include "net/page_pool.h"

static long nr_live_pools; /* atomic */
static unsigned int last_pool_id; /* atomic */

/* Every live pool, for dumps and provider checks; a leaf lock. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static LIST_HEAD(registry); /* protected by registry_lock */

static uint64_t boottime_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	/* a pool destroyed in the first second of boot still reads as detached */
	return ts.tv_sec ? (uint64_t)ts.tv_sec : 1;
}

long page_pool_nr_live(void)
{
	return __atomic_load_n(&nr_live_pools, __ATOMIC_ACQUIRE);
}

int page_pool_check_unreadable_params(const struct page_pool_params *p)
{
	if (!(p->flags & PP_FLAG_DMA_MAP))
		return devmem_err(-EOPNOTSUPP,
				  "page_pool: unreadable memory needs PP_FLAG_DMA_MAP");
	if (p->flags & PP_FLAG_DMA_SYNC_DEV)
		return devmem_err(-EOPNOTSUPP,
				  "page_pool: unreadable memory cannot be synced for the device");
	if (p->order != 0)
		return devmem_err(-E2BIG, "page_pool: unreadable memory needs order 0 (got %u)",
				  p->order);
	return 0;
}

static int page_pool_check_params(const struct page_pool_params *p)
{
	if (p->flags & ~PP_FLAG_ALL)
		return devmem_err(-EINVAL, "page_pool: unknown flags %#x", p->flags & ~PP_FLAG_ALL);
	if (p->pool_size == 0 || p->pool_size > PP_POOL_SIZE_MAX)
		return devmem_err(-EINVAL, "page_pool: pool_size %u outside [1, %u]", p->pool_size,
				  PP_POOL_SIZE_MAX);
	if (p->order > PP_MAX_ORDER)
		return devmem_err(-EINVAL, "page_pool: order %u above %u", p->order, PP_MAX_ORDER);
	if (p->flags & PP_FLAG_DMA_MAP) {
		if (!p->dev)
			return devmem_err(-EINVAL, "page_pool: PP_FLAG_DMA_MAP without a device");
		if (p->dma_dir != DMA_FROM_DEVICE && p->dma_dir != DMA_BIDIRECTIONAL)
			return devmem_err(
				-EINVAL,
				"page_pool: DMA direction %d (FROM_DEVICE or BIDIRECTIONAL)",
				p->dma_dir);
	}
	if (p->flags & PP_FLAG_DMA_SYNC_DEV) {
		if (!(p->flags & PP_FLAG_DMA_MAP))
			return devmem_err(-EINVAL, "page_pool: PP_FLAG_DMA_SYNC_DEV needs DMA_MAP");
		if (!p->max_len)
			return devmem_err(-EINVAL, "page_pool: PP_FLAG_DMA_SYNC_DEV needs max_len");
	}
	return 0;
}

/* The provider this pool draws from: the queue's, only for a pool that can take net_iovs. */
static bool page_pool_wants_provider(const struct page_pool_params *p)
{
	return (p->flags & PP_FLAG_ALLOW_UNREADABLE_NETMEM) && p->mp && p->mp->mp_ops;
}

static int pp_ring_init(struct pp_ring *ring, unsigned int size)
{
	ring->queue = calloc(size, sizeof(*ring->queue));
	if (!ring->queue)
		return -ENOMEM;
	ring->size = size;
	pthread_spin_init(&ring->producer_lock, PTHREAD_PROCESS_PRIVATE);
	return 0;
}

static void pp_ring_fini(struct pp_ring *ring)
{
	pthread_spin_destroy(&ring->producer_lock);
	free(ring->queue);
}

/* Owner only: take the oldest netmem from the ring, 0 if empty. */
static netmem_ref pp_ring_consume(struct pp_ring *ring)
{
	netmem_ref *slot = &ring->queue[ring->consumer_head];
	netmem_ref netmem = __atomic_load_n(slot, __ATOMIC_ACQUIRE);

	if (!netmem)
		return 0;
	/* release: a producer that sees the slot free sees our read of it done */
	__atomic_store_n(slot, 0, __ATOMIC_RELEASE);
	if (++ring->consumer_head == ring->size)
		ring->consumer_head = 0;
	return netmem;
}

int page_pool_create(const struct page_pool_params *params, struct page_pool **out)
{
	struct page_pool *pool;
	int err;

	if (!params || !out)
		return devmem_err(-EINVAL, "page_pool: NULL params");
	err = page_pool_check_params(params);
	if (err)
		return err;
	pool = aligned_alloc(PP_CACHELINE, sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	memset(pool, 0, sizeof(*pool));
	pool->p = *params;
	if (!pool->p.owner)
		pool->p.owner = pthread_self();
	pool->owner = pool->p.owner;
	pool->dma_map = params->flags & PP_FLAG_DMA_MAP;
	pool->dma_sync = params->flags & PP_FLAG_DMA_SYNC_DEV;
	pool->users = 1;
	err = pp_ring_init(&pool->ring, params->pool_size);
	if (err)
		goto err_free;

	if (page_pool_wants_provider(params)) {
		pool->mp_ops = params->mp->mp_ops;
		pool->mp_priv = params->mp->mp_priv;
		err = pool->mp_ops->init ? pool->mp_ops->init(pool) : 0;
	} else {
		err = host_pages_create(pool->dma_map ? params->dev : NULL, params->dma_dir,
					params->order, &pool->host);
	}
	if (err)
		goto err_ring;

	pool->id = __atomic_add_fetch(&last_pool_id, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&nr_live_pools, 1, __ATOMIC_RELEASE);
	pthread_mutex_lock(&registry_lock);
	list_add_tail(&pool->registry, &registry);
	pthread_mutex_unlock(&registry_lock);
	*out = pool;
	return 0;

err_ring:
	pp_ring_fini(&pool->ring);
err_free:
	free(pool);
	return err;
}

static void page_pool_free(struct page_pool *pool)
{
	DEVMEM_BUG_ON(pool->alloc.count != 0);
	pthread_mutex_lock(&registry_lock);
	list_del(&pool->registry);
	pthread_mutex_unlock(&registry_lock);
	if (pool->mp_ops && pool->mp_ops->destroy)
		pool->mp_ops->destroy(pool);
	host_pages_destroy(pool->host);
	pp_ring_fini(&pool->ring);
	free(pool);
	__atomic_fetch_sub(&nr_live_pools, 1, __ATOMIC_RELEASE);
}

static void page_pool_put_users(struct page_pool *pool, long nr)
{
	/* acq_rel: the freeing thread sees every write the other users made */
	if (__atomic_sub_fetch(&pool->users, nr, __ATOMIC_ACQ_REL) == 0)
		page_pool_free(pool);
}

/* Give @netmem back to its provider; any thread. May free the pool. */
static void page_pool_return_netmem(struct page_pool *pool, netmem_ref netmem)
{
	struct netmem_desc *desc = __netmem_desc(netmem);
	bool put = false;

	/* cleared first: once the provider has it, another pool may take it */
	desc->pp_magic = 0;
	desc->pp = NULL;
	if (pool->mp_ops)
		put = pool->mp_ops->release_netmem(pool, netmem);
	else
		host_page_free(netmem_to_page(netmem));
	if (put)
		host_page_free(netmem_to_page(netmem));
	__atomic_fetch_add(&pool->pages_state_release_cnt, 1, __ATOMIC_RELAXED);
	page_pool_put_users(pool, 1);
}

/* Owner only, cache empty: up to PP_ALLOC_CACHE_REFILL from the provider into the cache. */
static int page_pool_alloc_from_provider(struct page_pool *pool)
{
	netmem_ref *cache = pool->alloc.cache;
	int n;

	if (pool->mp_ops) {
		n = pool->mp_ops->alloc_netmems(pool, cache, PP_ALLOC_CACHE_REFILL);
	} else {
		/* a netmem_ref of a page is the page pointer: fill the cache in place */
		_Static_assert(sizeof(netmem_ref) == sizeof(struct page *), "netmem_ref size");
		struct page **pages = (struct page **)cache;

		n = host_pages_alloc_bulk(pool->host, pages, PP_ALLOC_CACHE_REFILL);
	}
	if (n <= 0)
		return 0;
	for (int i = 0; i < n; i++) {
		struct netmem_desc *desc = __netmem_desc(cache[i]);

		DEVMEM_BUG_ON(desc->pp_magic != 0);
		desc->pp = pool;
		desc->pp_magic = PP_SIGNATURE;
		__atomic_store_n(&desc->pp_ref_count, 1, __ATOMIC_RELAXED);
	}
	__atomic_fetch_add(&pool->users, n, __ATOMIC_RELAXED);
	WRITE_ONCE(pool->pages_state_hold_cnt, pool->pages_state_hold_cnt + n);
	if (pool->p.order)
		pp_stat_inc(pool->alloc_stats.slow_high_order);
	else
		pp_stat_inc(pool->alloc_stats.slow);
	return n;
}

/*
 * Owner only, cache empty: move up to PP_ALLOC_CACHE_REFILL netmems from the
 * ring. The slots are read first and freed after, last to first, so a
 * producer does not write into a cache line we are still reading.
 */
static int page_pool_refill_from_ring(struct page_pool *pool)
{
	struct pp_ring *ring = &pool->ring;
	unsigned int head = ring->consumer_head, n = 0;
	netmem_ref netmem;

	/* at most one lap: the slots read are freed only after the loop */
	while (n < PP_ALLOC_CACHE_REFILL && n < ring->size &&
	       (netmem = __atomic_load_n(&ring->queue[head], __ATOMIC_ACQUIRE))) {
		pool->alloc.cache[n++] = netmem;
		if (++head == ring->size)
			head = 0;
	}
	ring->consumer_head = head;
	/* release: a producer that sees a slot free sees our read of it done */
	for (unsigned int i = 0; i < n; i++) {
		head = head ? head - 1 : ring->size - 1;
		__atomic_store_n(&ring->queue[head], 0, __ATOMIC_RELEASE);
	}
	pool->alloc.count = n;
	if (n)
		pp_stat_inc(pool->alloc_stats.refill);
	else
		pp_stat_inc(pool->alloc_stats.empty);
	return n;
}

netmem_ref page_pool_alloc_netmems_slow(struct page_pool *pool)
{
	DEVMEM_BUG_ON(pool->alloc.count != 0);
	DEVMEM_BUG_ON(pool->direct_disabled);
	if (!page_pool_refill_from_ring(pool)) {
		pool->alloc.count = page_pool_alloc_from_provider(pool);
		if (!pool->alloc.count)
			return 0;
	}
	return pool->alloc.cache[--pool->alloc.count];
}

/* Put @netmem in the ring under the producer lock; false if full or the pool is going. */
static bool pp_ring_produce_locked(struct pp_ring *ring, netmem_ref netmem)
{
	netmem_ref *slot = &ring->queue[ring->producer];

	if (unlikely(ring->destroying))
		return false;
	if (unlikely(__atomic_load_n(slot, __ATOMIC_ACQUIRE))) {
		pp_stat_inc(ring->stat_ring_full);
		return false;
	}
	__atomic_store_n(slot, netmem, __ATOMIC_RELEASE);
	if (++ring->producer == ring->size)
		ring->producer = 0;
	pp_stat_inc(ring->stat_ring);
	return true;
}

void page_pool_recycle_slow(struct page_pool *pool, netmem_ref netmem, bool cache_full)
{
	struct pp_ring *ring = &pool->ring;
	bool queued;

	if (cache_full)
		pp_stat_inc(pool->stat_cache_full);
	pthread_spin_lock(&ring->producer_lock);
	queued = pp_ring_produce_locked(ring, netmem);
	pthread_spin_unlock(&ring->producer_lock);
	if (!queued)
		page_pool_return_netmem(pool, netmem);
}

void page_pool_put_netmem_bulk(struct page_pool *pool, netmem_ref *netmems, unsigned int n)
{
	struct pp_ring *ring = &pool->ring;
	unsigned int last = 0, i;

	/* keep the ones whose last reference this drops, at the front */
	for (i = 0; i < n; i++) {
		DEVMEM_BUG_ON(netmem_get_pp(netmems[i]) != pool || !netmem_is_pp(netmems[i]));
		if (!page_pool_unref_netmem(netmems[i], 1))
			netmems[last++] = netmems[i];
	}
	if (!last)
		return;
	/* one lock for the batch; what does not fit goes back to the provider outside it */
	n = 0;
	pthread_spin_lock(&ring->producer_lock);
	for (i = 0; i < last; i++)
		if (!pp_ring_produce_locked(ring, netmems[i]))
			netmems[n++] = netmems[i];
	pthread_spin_unlock(&ring->producer_lock);
	for (i = 0; i < n; i++)
		page_pool_return_netmem(pool, netmems[i]);
}

void page_pool_destroy(struct page_pool *pool)
{
	netmem_ref netmem;

	if (!pool)
		return;
	/* after this no thread puts into the ring: what we drain below is all of it */
	pthread_spin_lock(&pool->ring.producer_lock);
	DEVMEM_BUG_ON(pool->ring.destroying);
	pool->ring.destroying = true;
	pthread_spin_unlock(&pool->ring.producer_lock);

	pthread_mutex_lock(&registry_lock);
	pool->detach_time = boottime_seconds();
	pthread_mutex_unlock(&registry_lock);

	/* the owner is stopped: this thread stands in for it */
	WRITE_ONCE(pool->owner, pthread_self());
	pool->direct_disabled = true;
	while (pool->alloc.count)
		page_pool_return_netmem(pool, pool->alloc.cache[--pool->alloc.count]);
	while ((netmem = pp_ring_consume(&pool->ring)))
		page_pool_return_netmem(pool, netmem);
	page_pool_put_users(pool, 1);
}

void page_pool_set_owner(struct page_pool *pool, pthread_t owner)
{
	WRITE_ONCE(pool->owner, owner);
}

long page_pool_inflight(const struct page_pool *pool)
{
	uint32_t hold = READ_ONCE(pool->pages_state_hold_cnt);
	uint32_t release = __atomic_load_n(&pool->pages_state_release_cnt, __ATOMIC_RELAXED);

	return (int32_t)(hold - release);
}

void page_pool_get_stats(const struct page_pool *pool, struct page_pool_stats *stats)
{
	const struct page_pool_alloc_stats *a = &pool->alloc_stats;

	*stats = (struct page_pool_stats){
		.alloc_stats = {
			.fast = READ_ONCE(a->fast),
			.slow = READ_ONCE(a->slow),
			.slow_high_order = READ_ONCE(a->slow_high_order),
			.empty = READ_ONCE(a->empty),
			.refill = READ_ONCE(a->refill),
			.waive = READ_ONCE(a->waive),
		},
		.recycle_stats = {
			.cached = READ_ONCE(pool->stat_cached),
			.cache_full = READ_ONCE(pool->stat_cache_full),
			.ring = READ_ONCE(pool->ring.stat_ring),
			.ring_full = READ_ONCE(pool->ring.stat_ring_full),
			.released_refcnt = 0,
		},
	};
}

int page_pool_mp_attrs(const struct page_pool *pool, struct netdev_mp_attrs *attrs)
{
	*attrs = (struct netdev_mp_attrs){ 0 };
	if (!pool->mp_ops || !pool->mp_ops->nl_fill)
		return 0;
	return pool->mp_ops->nl_fill(pool->mp_priv, attrs, NULL);
}

int page_pool_dump(int (*fn)(const struct page_pool_info *info, void *data), void *data)
{
	struct page_pool *pool;
	int ret = 0;

	pthread_mutex_lock(&registry_lock);
	list_for_each_entry(pool, &registry, registry) {
		struct page_pool_info info = {
			.id = pool->id,
			.ifindex = pool->p.ifindex,
			.napi_id = pool->p.napi_id,
			.inflight = page_pool_inflight(pool),
			.detach_time = pool->detach_time,
			.queue = pool->detach_time ? NULL : pool->p.queue,
		};

		if (!pool->p.ifindex)
			continue;
		info.inflight_mem = (size_t)info.inflight * (PAGE_SIZE << pool->p.order);
		ret = page_pool_mp_attrs(pool, &info.mp);
		if (!ret)
			ret = fn(&info, data);
		if (ret)
			break;
	}
	pthread_mutex_unlock(&registry_lock);
	return ret;
}

bool page_pool_queue_uses_provider(const struct netdev_rx_queue *rxq, const void *mp_priv)
{
	struct page_pool *pool;
	bool found = false;

	pthread_mutex_lock(&registry_lock);
	list_for_each_entry(pool, &registry, registry) {
		if (!pool->detach_time && pool->p.queue == rxq && pool->mp_ops &&
		    pool->mp_priv == mp_priv) {
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&registry_lock);
	return found;
}
