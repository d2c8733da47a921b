// SPDX-License-Identifier: MIT
/* page_pool: creation, the slow paths (ring, provider), release and deferred destruction. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/error.h"
#include "net/page_pool.h"

static long nr_live_pools; /* atomic */
static unsigned int last_pool_id; /* protected by registry_lock */

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

/*
 * A pool that takes its memory from a provider must be one that maps for
 * DMA and syncs for the device, as the drivers that can take unreadable
 * memory build their data pools: the provider then switches the syncing off
 * itself (its memory is never synced), so a pool that could not have synced
 * is one a driver did not mean for a provider.
 */
static int page_pool_check_provider_flags(const struct page_pool_params *p)
{
	if (!(p->flags & PP_FLAG_DMA_MAP) || !(p->flags & PP_FLAG_DMA_SYNC_DEV))
		return devmem_err(
			-EOPNOTSUPP,
			"page_pool: a memory provider needs PP_FLAG_DMA_MAP and PP_FLAG_DMA_SYNC_DEV");
	return 0;
}

int page_pool_check_unreadable_params(const struct page_pool_params *p)
{
	int err = page_pool_check_provider_flags(p);

	if (err)
		return err;
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
	unsigned int shift = 0;
	unsigned long bytes;

	while ((1U << shift) < size)
		shift++;
	bytes = max((1UL << shift) * sizeof(*ring->slots), (unsigned long)PP_CACHELINE);
	ring->slots = aligned_alloc(PP_CACHELINE, bytes);
	if (!ring->slots)
		return -ENOMEM;
	memset(ring->slots, 0, bytes);
	ring->mask = (1UL << shift) - 1;
	ring->size = size;
	ring->prod_limit = size;
	return 0;
}

static void pp_ring_fini(struct pp_ring *ring)
{
	free(ring->slots);
}

#define PP_RING_SLOTS_PER_LINE (PP_CACHELINE / sizeof(netmem_ref))

/* Position @pos's netmem if it is published, else 0 (an empty slot is 0). */
static inline netmem_ref pp_ring_peek(const struct pp_ring *ring, unsigned long pos)
{
	/* acquire: pairs with the producer's release, we see the netmem as it left it */
	return __atomic_load_n(&ring->slots[pos & ring->mask], __ATOMIC_ACQUIRE);
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
	pool = aligned_alloc(PP_WRITER_GAP, sizeof(*pool));
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
		err = page_pool_check_provider_flags(params);
		if (!err && pool->mp_ops->init)
			err = pool->mp_ops->init(pool);
	} else if (params->order > PP_MAX_ORDER) {
		/* only host pages come from an allocator with a largest order */
		err = devmem_err(-EINVAL, "page_pool: order %u above %u", params->order,
				 PP_MAX_ORDER);
	} else {
		err = host_pages_create(pool->dma_map ? params->dev : NULL, params->dma_dir,
					params->order, &pool->host);
	}
	if (err)
		goto err_ring;

	__atomic_fetch_add(&nr_live_pools, 1, __ATOMIC_RELEASE);
	pthread_mutex_lock(&registry_lock);
	/* under the lock: ids ascend along the registry, so dumps list pools in creation order */
	do
		pool->id = ++last_pool_id;
	while (!pool->id);
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
	DEVMEM_BUG_ON(page_pool_cache_count(pool) != PP_CACHE_DEAD);
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

/*
 * Give @n netmems back to their provider; any thread. May free the pool:
 * the caller must not touch it afterwards.
 */
static void page_pool_return_netmems(struct page_pool *pool, const netmem_ref *netmems,
				     unsigned int n)
{
	if (!n)
		return;
	for (unsigned int i = 0; i < n; i++) {
		struct netmem_desc *desc = __netmem_desc(netmems[i]);
		bool put = true;

		/* cleared first: once the provider has it, another pool may take it */
		desc->pp_magic = 0;
		desc->pp = NULL;
		if (pool->mp_ops)
			put = pool->mp_ops->release_netmem(pool, netmems[i]);
		if (put)
			host_page_free(netmem_to_page(netmems[i]));
	}
	/* release: page_pool_inflight() reads this first, then sees the holds it covers */
	__atomic_fetch_add(&pool->pages_state_release_cnt, n, __ATOMIC_RELEASE);
	page_pool_put_users(pool, n);
}

static void page_pool_return_netmem(struct page_pool *pool, netmem_ref netmem)
{
	page_pool_return_netmems(pool, &netmem, 1);
}

/* Owner only, cache empty: up to PP_ALLOC_CACHE_REFILL from the provider into cache[0..). */
static unsigned int page_pool_alloc_from_provider(struct page_pool *pool)
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
		pp_stat_inc(pool->slow_stats.slow_high_order);
	else
		pp_stat_inc(pool->slow_stats.slow);
	return n;
}

/*
 * Owner only, cache empty: move up to PP_ALLOC_CACHE_REFILL published
 * netmems from the ring into cache[0..), then hand all their slots back to
 * the producers with one store of the consumer position.
 */
static unsigned int page_pool_refill_from_ring(struct page_pool *pool)
{
	struct pp_ring *ring = &pool->ring;
	unsigned long cons = ring->cons;
	unsigned int max = min(PP_ALLOC_CACHE_REFILL, ring->size), n;
	netmem_ref netmem;

	for (n = 0; n < max && (netmem = pp_ring_peek(ring, cons + n)); n++)
		pool->alloc.cache[n] = netmem;
	if (!n) {
		pp_stat_inc(pool->slow_stats.empty);
		return 0;
	}
	/*
	 * Stop at a cache line boundary when we can: the line a producer is
	 * still filling stays with it instead of bouncing to us for the
	 * clear and back.
	 */
	if (n < max && n > PP_RING_SLOTS_PER_LINE)
		n -= (cons + n) & (PP_RING_SLOTS_PER_LINE - 1);
	/*
	 * Free the slots after reading them all, last first: a producer
	 * refilling the first of them does not take a line we still read.
	 * Relaxed: the cons store below publishes them.
	 */
	for (unsigned int i = n; i-- > 0;)
		__atomic_store_n(&ring->slots[(cons + i) & ring->mask], 0, __ATOMIC_RELAXED);
	/* release: a producer that sees the slots free sees our reads and clears of them done */
	__atomic_store_n(&ring->cons, cons + n, __ATOMIC_RELEASE);
	pp_stat_inc(pool->slow_stats.refill);
	return n;
}

netmem_ref page_pool_alloc_netmems_slow(struct page_pool *pool)
{
	unsigned int n;

	DEVMEM_BUG_ON(pool->direct_disabled);
	if (unlikely(READ_ONCE(pool->direct_disabled)))
		return 0;
	DEVMEM_BUG_ON(page_pool_cache_count(pool) != 0);
	n = page_pool_refill_from_ring(pool);
	if (!n)
		n = page_pool_alloc_from_provider(pool);
	if (!n)
		return 0;
	/* the refill's pushes and this pop are not fast-path events: keep them apart */
	pp_stat_add(pool->slow_stats.head_bulk, n);
	WRITE_ONCE(pool->alloc.head, pool->alloc.head + n);
	pp_stat_inc(pool->slow_stats.tail_slow);
	WRITE_ONCE(pool->alloc.tail, pool->alloc.tail + 1);
	return pool->alloc.cache[n - 1];
}

/*
 * Claim up to @want consecutive ring positions: the first in *@pos, and
 * how many (0 when the ring is full or destroyed; *@destroyed tells which).
 * One compare-and-swap, retried only when another producer got in first.
 * The consumer's line is read only when the room the producers last saw
 * there (prod_limit) runs short.
 */
static unsigned int pp_ring_claim(struct pp_ring *ring, unsigned int want, unsigned long *pos,
				  bool *destroyed)
{
	unsigned long prod = __atomic_load_n(&ring->prod, __ATOMIC_RELAXED);
	unsigned long limit;
	long room;
	unsigned int n;

	for (;;) {
		*destroyed = prod & PP_RING_DESTROYING;
		if (unlikely(*destroyed))
			return 0;
		/* acquire: pairs with the release below, see there */
		limit = __atomic_load_n(&ring->prod_limit, __ATOMIC_ACQUIRE);
		room = (long)(limit - prod);
		if (room < (long)want) {
			/*
			 * acquire: the consumer's reads and clears of the slots
			 * below cons + size are done; release: so are they for
			 * a producer that takes the limit from us. cons only
			 * grows, so a limit that another producer overwrites
			 * with an older one is merely conservative.
			 */
			limit = __atomic_load_n(&ring->cons, __ATOMIC_ACQUIRE) + ring->size;
			__atomic_store_n(&ring->prod_limit, limit, __ATOMIC_RELEASE);
			room = (long)(limit - prod);
		}
		/* a stale prod only overstates the room: the swap below fails then */
		if (room <= 0)
			return 0;
		n = min(want, (unsigned long)room);
		/*
		 * A lone netmem has no other work to overlap with the
		 * transfer of its slot's line (last written by the consumer,
		 * which clears it): ask for the line before the swap, whose
		 * full barrier would otherwise leave the store waiting for
		 * it. Measured: about a sixth off a single put from another
		 * thread; a batch does not gain from it.
		 */
		if (want == 1)
			(void)__atomic_load_n(&ring->slots[prod & ring->mask], __ATOMIC_RELAXED);
		/*
		 * Relaxed is enough: the slots are ordered by the limit
		 * (above) and by their own release stores; the fetch_or of
		 * page_pool_destroy() on the same word either sees this claim
		 * or makes it fail.
		 */
		if (__atomic_compare_exchange_n(&ring->prod, &prod, prod + n, false,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
			*pos = prod;
			return n;
		}
	}
}

/*
 * Put a prefix of @netmems[0..n) in the ring with one claim; returns its
 * length. What does not fit is the caller's to give back to the provider:
 * it keeps the pool alive, while the published netmems may already have
 * been drained by page_pool_destroy(), so the pool is not touched after
 * the last publish.
 */
static unsigned int pp_ring_produce(struct pp_ring *ring, const netmem_ref *netmems, unsigned int n)
{
	unsigned long pos;
	bool destroyed;
	unsigned int got = pp_ring_claim(ring, n, &pos, &destroyed);

	if (got < n && !destroyed)
		__atomic_fetch_add(&ring->stat_ring_full, n - got, __ATOMIC_RELAXED);
	for (unsigned int i = 0; i < got; i++) {
		/* release: the consumer sees the netmem as we left it */
		__atomic_store_n(&ring->slots[(pos + i) & ring->mask], netmems[i],
				 __ATOMIC_RELEASE);
	}
	return got;
}

void page_pool_recycle_slow(struct page_pool *pool, netmem_ref netmem, bool cache_full)
{
	if (cache_full && !READ_ONCE(pool->direct_disabled)) {
		page_pool_assert_owner(pool);
		pp_stat_inc(pool->slow_stats.cache_full);
	}
	if (!pp_ring_produce(&pool->ring, &netmem, 1))
		page_pool_return_netmem(pool, netmem);
}

void page_pool_put_direct_slow(struct page_pool *pool, netmem_ref netmem)
{
	unsigned int count;

	if (page_pool_unref_netmem(netmem, 1))
		return;
	count = page_pool_cache_count(pool);
	if (count < PP_ALLOC_CACHE_SIZE) {
		page_pool_assert_owner(pool);
		pool->alloc.cache[count] = netmem;
		WRITE_ONCE(pool->alloc.head, pool->alloc.head + 1);
		return;
	}
	page_pool_recycle_slow(pool, netmem, true);
}

void page_pool_put_netmem_bulk(struct page_pool *pool, netmem_ref *netmems, unsigned int n)
{
	unsigned int last = 0, queued;

	/* keep the ones whose last reference this drops, at the front */
	for (unsigned int i = 0; i < n; i++) {
		DEVMEM_BUG_ON(netmem_get_pp(netmems[i]) != pool || !netmem_is_pp(netmems[i]));
		if (!page_pool_unref_netmem(netmems[i], 1))
			netmems[last++] = netmems[i];
	}
	if (!last)
		return;
	queued = pp_ring_produce(&pool->ring, netmems, last);
	page_pool_return_netmems(pool, netmems + queued, last - queued);
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/*
 * Owner (or its stand-in) after the ring is closed: give back what the ring
 * holds. A producer that claimed before the close may not have published
 * yet; it is between two instructions, so wait for it, yielding if it was
 * preempted there.
 */
static void page_pool_drain_ring(struct page_pool *pool, unsigned long prod)
{
	struct pp_ring *ring = &pool->ring;
	netmem_ref batch[PP_ALLOC_CACHE_REFILL];
	unsigned long pos = ring->cons;
	unsigned int n = 0;

	while (pos != prod) {
		netmem_ref netmem = pp_ring_peek(ring, pos);

		for (unsigned int spins = 0; !netmem; spins++) {
			if (spins < 64)
				cpu_relax();
			else
				sched_yield();
			netmem = pp_ring_peek(ring, pos);
		}
		batch[n++] = netmem;
		pos++;
		if (n == ARRAY_SIZE(batch) || pos == prod) {
			/* the caller's own reference keeps the pool alive through these */
			page_pool_return_netmems(pool, batch, n);
			n = 0;
		}
	}
	__atomic_store_n(&ring->cons, pos, __ATOMIC_RELEASE);
}

void page_pool_destroy(struct page_pool *pool)
{
	unsigned int count;
	unsigned long prod;

	if (!pool)
		return;
	/* the owner is stopped: this thread stands in for it */
	WRITE_ONCE(pool->owner, pthread_self());
	/* after this no thread claims ring slots: what we drain below is all of it */
	prod = __atomic_fetch_or(&pool->ring.prod, PP_RING_DESTROYING, __ATOMIC_ACQ_REL);
	DEVMEM_BUG_ON(prod & PP_RING_DESTROYING);

	pthread_mutex_lock(&registry_lock);
	pool->detach_time = boottime_seconds();
	pthread_mutex_unlock(&registry_lock);

	WRITE_ONCE(pool->direct_disabled, true);
	count = page_pool_cache_count(pool);
	/*
	 * Pop the whole cache and leave head - tail at PP_CACHE_DEAD, which
	 * both fast paths refuse; tail_slow moves by as much, so "fast"
	 * (tail - tail_slow) keeps its value.
	 */
	pp_stat_add(pool->slow_stats.tail_slow, (unsigned long)count - PP_CACHE_DEAD);
	WRITE_ONCE(pool->alloc.tail, pool->alloc.tail + count - (unsigned long)PP_CACHE_DEAD);
	page_pool_return_netmems(pool, pool->alloc.cache, count);
	page_pool_drain_ring(pool, prod);
	page_pool_put_users(pool, 1);
}

void page_pool_set_owner(struct page_pool *pool, pthread_t owner)
{
	WRITE_ONCE(pool->owner, owner);
}

long page_pool_inflight(const struct page_pool *pool)
{
	/* release count first: the holds it covers are visible then, so this is never negative */
	uint32_t release = __atomic_load_n(&pool->pages_state_release_cnt, __ATOMIC_ACQUIRE);
	uint32_t hold = READ_ONCE(pool->pages_state_hold_cnt);

	return (int32_t)(hold - release);
}

/* @total less @slow_part, read racily: a snapshot never goes below 0. */
static uint64_t pp_stat_diff(unsigned long total, unsigned long slow_part)
{
	long d = (long)(total - slow_part);

	return d > 0 ? (uint64_t)d : 0;
}

void page_pool_get_stats(const struct page_pool *pool, struct page_pool_stats *stats)
{
	const typeof(pool->slow_stats) *s = &pool->slow_stats;
	unsigned long tail_slow = READ_ONCE(s->tail_slow), head_bulk = READ_ONCE(s->head_bulk);

	*stats = (struct page_pool_stats){
		.alloc_stats = {
			.fast = pp_stat_diff(READ_ONCE(pool->alloc.tail), tail_slow),
			.slow = READ_ONCE(s->slow),
			.slow_high_order = READ_ONCE(s->slow_high_order),
			.empty = READ_ONCE(s->empty),
			.refill = READ_ONCE(s->refill),
			.waive = 0,
		},
		.recycle_stats = {
			.cached = pp_stat_diff(READ_ONCE(pool->alloc.head), head_bulk),
			.cache_full = READ_ONCE(s->cache_full),
			.ring = __atomic_load_n(&pool->ring.prod, __ATOMIC_RELAXED) &
				~PP_RING_DESTROYING,
			.ring_full = __atomic_load_n(&pool->ring.stat_ring_full, __ATOMIC_RELAXED),
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
		struct page_pool_info info;

		if (!pool->p.ifindex)
			continue;
		info = (struct page_pool_info){
			.id = pool->id,
			.ifindex = pool->p.ifindex,
			.napi_id = pool->p.napi_id,
			.inflight = page_pool_inflight(pool),
			.detach_time = pool->detach_time,
			/* the queue may be gone once its pool is destroyed */
			.queue = pool->detach_time ? NULL : pool->p.queue,
		};
		info.inflight_mem = (size_t)max(info.inflight, 0L) * (PAGE_SIZE << pool->p.order);
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

	if (!rxq)
		return false;
	pthread_mutex_lock(&registry_lock);
	list_for_each_entry(pool, &registry, registry) {
		/* detach_time: destroyed pools keep their params but serve no queue */
		if (!pool->detach_time && pool->p.queue == rxq && pool->mp_ops &&
		    pool->mp_priv == mp_priv) {
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&registry_lock);
	return found;
}
