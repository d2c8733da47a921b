// SPDX-License-Identifier: MIT
/*
 * The page_pool's owner against threads that give netmems back.
 *
 * The owner thread allocates netmems in random batches, keeps some for a
 * while, recycles some directly and hands the rest to RETURNERS threads
 * through per-thread queues; each returner, after a random delay, sometimes
 * takes an extra pool reference (as a socket holding a token would) and
 * gives the netmem back without allow_direct, so it goes through the ring
 * (or, ring full, back to the provider). Every netmem has an ownership flag
 * (a word in the page for host pages, an array slot for net_iovs) that its
 * holder sets and clears: finding it set at allocation means the pool handed
 * out a netmem twice.
 *
 * Round 1 runs on host pages (the default provider) and quiesces before the
 * end: the counters must add up (allocations = fast + refill + slow; final
 * puts = cached + ring + ring_full; in flight = what the cache and ring
 * hold), then destroy frees the pool at once and unmaps everything.
 * Round 2 runs on an array provider of net_iovs and destroys the pool while
 * the returners still hold netmems: the last one back must free the pool and
 * call the provider's destroy exactly once, with every net_iov returned.
 * Returners give back one at a time or in small bulks (one ring claim each).
 * Round 3 destroys pools while producers race to claim ring slots.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "devmem/device.h"
#include "lib/compiler.h"
#include "net/page_pool.h"
#include "stress.h"

#define NAME "stress_page_pool"
#define RETURNERS 4
#define QUEUE_LEN 64
#define HELD_MAX 96
#define POOL_SIZE 128
#define ARRAY_NIOVS 1024

struct handover {
	pthread_mutex_t lock;
	netmem_ref q[QUEUE_LEN]; /* under lock */
	unsigned int head, len; /* under lock */
};

struct round {
	struct page_pool *pool;
	struct handover ho[RETURNERS];
	int stop; /* atomic: the owner is done */
	uint64_t final_puts; /* atomic: puts that dropped the last reference */
	uint64_t puts_after_destroy; /* atomic */
	int destroyed; /* atomic: the owner destroyed the pool */
	int watch_stop; /* atomic: the watcher must stop (before the pool may go) */
};

/* The array provider: net_iovs from a fixed array; release from any thread. */
struct array_mp {
	pthread_mutex_t lock;
	struct net_iov niovs[ARRAY_NIOVS];
	struct net_iov_area area;
	int live[ARRAY_NIOVS]; /* atomic: ownership flags of the test */
	unsigned int free_idx[ARRAY_NIOVS]; /* under lock */
	unsigned int nr_free; /* under lock */
	int destroy_calls; /* atomic */
	uint64_t releases; /* under lock */
};

static struct array_mp amp;

static int array_alloc(struct page_pool *pool, netmem_ref *netmems, int n)
{
	int got = 0;

	pthread_mutex_lock(&amp.lock);
	while (got < n && amp.nr_free)
		netmems[got++] = net_iov_to_netmem(&amp.niovs[amp.free_idx[--amp.nr_free]]);
	pthread_mutex_unlock(&amp.lock);
	return got;
}

static bool array_release(struct page_pool *pool, netmem_ref netmem)
{
	struct net_iov *niov = netmem_to_net_iov(netmem);

	stress_check(NAME, !netmem_is_pp(netmem), "released a netmem still marked as pp");
	pthread_mutex_lock(&amp.lock);
	amp.free_idx[amp.nr_free++] = net_iov_idx(niov);
	amp.releases++;
	pthread_mutex_unlock(&amp.lock);
	return false;
}

static int array_init(struct page_pool *pool)
{
	return page_pool_check_unreadable_params(&pool->p);
}

static void array_destroy(struct page_pool *pool)
{
	__atomic_fetch_add(&amp.destroy_calls, 1, __ATOMIC_RELAXED);
}

static const struct memory_provider_ops array_ops = {
	.alloc_netmems = array_alloc,
	.release_netmem = array_release,
	.init = array_init,
	.destroy = array_destroy,
};

/* The ownership flag of a netmem: in the page itself, or in the array. */
static int *live_flag(netmem_ref netmem)
{
	if (netmem_is_net_iov(netmem))
		return &amp.live[net_iov_idx(netmem_to_net_iov(netmem))];
	return netmem_address(netmem);
}

static void claim(netmem_ref netmem)
{
	int expected = 0;

	stress_check(NAME,
		     __atomic_compare_exchange_n(live_flag(netmem), &expected, 1, false,
						 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED),
		     "netmem %#lx handed out while live", netmem);
}

static void unclaim(netmem_ref netmem)
{
	int expected = 1;

	stress_check(NAME,
		     __atomic_compare_exchange_n(live_flag(netmem), &expected, 0, false,
						 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED),
		     "netmem %#lx given back while not live", netmem);
}

static void spin(uint64_t *rnd, unsigned int max)
{
	unsigned int n = stress_rand(rnd) % max;

	for (volatile unsigned int i = 0; i < n; i++)
		;
}

static bool handover_push(struct handover *ho, netmem_ref netmem)
{
	bool ok;

	pthread_mutex_lock(&ho->lock);
	ok = ho->len < QUEUE_LEN;
	if (ok)
		ho->q[(ho->head + ho->len++) % QUEUE_LEN] = netmem;
	pthread_mutex_unlock(&ho->lock);
	return ok;
}

static netmem_ref handover_pop(struct handover *ho)
{
	netmem_ref netmem = 0;

	pthread_mutex_lock(&ho->lock);
	if (ho->len) {
		netmem = ho->q[ho->head];
		ho->head = (ho->head + 1) % QUEUE_LEN;
		ho->len--;
	}
	pthread_mutex_unlock(&ho->lock);
	return netmem;
}

struct returner_arg {
	struct round *r;
	int idx;
};

#define RETURN_BATCH 8

/* Give back what the returner collected, with one ring claim. */
static void returner_flush(struct round *r, netmem_ref *batch, unsigned int *n)
{
	if (!*n)
		return;
	page_pool_put_netmem_bulk(r->pool, batch, *n);
	__atomic_fetch_add(&r->final_puts, *n, __ATOMIC_RELAXED);
	*n = 0;
}

static void *returner(void *arg)
{
	struct returner_arg *ra = arg;
	struct round *r = ra->r;
	uint64_t rnd = 0x9e3779b97f4a7c15ULL * (ra->idx + 1);
	struct page_pool *pool = r->pool;
	netmem_ref batch[RETURN_BATCH];
	unsigned int nbatch = 0;

	for (;;) {
		/* stop is set after the owner's last push: read it before looking */
		bool stopping = __atomic_load_n(&r->stop, __ATOMIC_ACQUIRE);
		netmem_ref netmem = handover_pop(&r->ho[ra->idx]);

		if (!netmem) {
			returner_flush(r, batch, &nbatch);
			if (stopping)
				break;
			spin(&rnd, 200);
			continue;
		}
		stress_check(NAME, netmem_get_pp(netmem) == pool, "netmem lost its pool");
		spin(&rnd, 2000);
		if (__atomic_load_n(&r->destroyed, __ATOMIC_ACQUIRE))
			__atomic_fetch_add(&r->puts_after_destroy, 1, __ATOMIC_RELAXED);
		unclaim(netmem);
		if (stress_rand(&rnd) % 4 == 0) {
			/* a second holder, e.g. a socket's token: only its put recycles */
			page_pool_ref_netmem(netmem);
			page_pool_put_netmem(pool, netmem, false);
			spin(&rnd, 500);
		}
		if (stress_rand(&rnd) % 2) {
			/* a socket giving back several tokens at once */
			batch[nbatch++] = netmem;
			if (nbatch == RETURN_BATCH)
				returner_flush(r, batch, &nbatch);
			continue;
		}
		page_pool_put_netmem(pool, netmem, false);
		__atomic_fetch_add(&r->final_puts, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Reads what any thread may read while the pool runs. */
static void *watcher(void *arg)
{
	struct round *r = arg;
	struct page_pool_stats s;

	while (!__atomic_load_n(&r->watch_stop, __ATOMIC_ACQUIRE)) {
		page_pool_get_stats(r->pool, &s);
		stress_check(NAME, page_pool_inflight(r->pool) >= 0, "negative in-flight count");
	}
	return NULL;
}

/* Owner: run until the deadline; returns how many allocations succeeded. */
struct owner_state {
	netmem_ref held[HELD_MAX]; /* live netmems the owner keeps for a while */
	unsigned int nheld;
	uint64_t direct_puts;
};

static uint64_t owner_run(struct round *r, double seconds, struct owner_state *o)
{
	netmem_ref *held = o->held;
	uint64_t *direct_puts = &o->direct_puts;
	unsigned int nheld = 0;
	uint64_t rnd = 0x2545F4914F6CDD1DULL, allocs = 0;
	double end = stress_now() + seconds;

	while (stress_now() < end) {
		unsigned int batch = 1 + stress_rand(&rnd) % 24;

		for (unsigned int i = 0; i < batch; i++) {
			netmem_ref netmem = page_pool_alloc_netmems(r->pool);

			if (!netmem)
				break; /* provider dry: the returners catch up */
			allocs++;
			claim(netmem);
			if (nheld < HELD_MAX && stress_rand(&rnd) % 3 == 0) {
				held[nheld++] = netmem;
				continue;
			}
			if (stress_rand(&rnd) % 4 == 0 ||
			    !handover_push(&r->ho[stress_rand(&rnd) % RETURNERS], netmem)) {
				unclaim(netmem);
				page_pool_recycle_direct(r->pool, netmem);
				(*direct_puts)++;
			}
		}
		/* let go of some of what we kept */
		while (nheld && stress_rand(&rnd) % 2) {
			netmem_ref netmem = held[--nheld];

			unclaim(netmem);
			page_pool_recycle_direct(r->pool, netmem);
			(*direct_puts)++;
		}
		spin(&rnd, 1000);
	}
	o->nheld = nheld;
	return allocs;
}

/* What the owner still keeps: to the returners (who may outlive the pool), or straight back. */
static void owner_finish(struct round *r, struct owner_state *o, bool hand_over)
{
	while (o->nheld) {
		netmem_ref netmem = o->held[--o->nheld];

		if (hand_over && handover_push(&r->ho[o->nheld % RETURNERS], netmem))
			continue;
		unclaim(netmem);
		page_pool_recycle_direct(r->pool, netmem);
		o->direct_puts++;
	}
}

static void start_threads(struct round *r, pthread_t *t, struct returner_arg *ra, pthread_t *w)
{
	for (int i = 0; i < RETURNERS; i++) {
		pthread_mutex_init(&r->ho[i].lock, NULL);
		ra[i] = (struct returner_arg){ .r = r, .idx = i };
		stress_check(NAME, pthread_create(&t[i], NULL, returner, &ra[i]) == 0,
			     "pthread_create");
	}
	stress_check(NAME, pthread_create(w, NULL, watcher, r) == 0, "pthread_create");
}

static void stop_watcher(struct round *r, pthread_t w)
{
	__atomic_store_n(&r->watch_stop, 1, __ATOMIC_RELEASE);
	pthread_join(w, NULL);
}

static void join_returners(struct round *r, pthread_t *t)
{
	for (int i = 0; i < RETURNERS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < RETURNERS; i++)
		pthread_mutex_destroy(&r->ho[i].lock);
}

/* Host pages; quiesce, check the counters, destroy. */
static void round_host_pages(struct device *dev, double seconds)
{
	struct page_pool_params p = {
		.flags = PP_FLAG_DMA_MAP,
		.pool_size = POOL_SIZE,
		.dev = dev,
		.dma_dir = DMA_FROM_DEVICE,
	};
	static struct round r;
	struct returner_arg ra[RETURNERS];
	pthread_t t[RETURNERS], w;
	struct owner_state o = { 0 };
	uint64_t allocs, puts;
	struct page_pool_stats s;
	unsigned int in_ring = 0;
	long inflight;
	int err;

	err = page_pool_create(&p, &r.pool);
	stress_check(NAME, !err, "page_pool_create: %d", err);
	start_threads(&r, t, ra, &w);
	allocs = owner_run(&r, seconds, &o);
	owner_finish(&r, &o, false);
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	join_returners(&r, t);
	stop_watcher(&r, w);

	page_pool_get_stats(r.pool, &s);
	puts = o.direct_puts + r.final_puts;
	stress_check(NAME, puts == allocs, "%lu allocations, %lu final puts", allocs, puts);
	stress_check(NAME, allocs == s.alloc_stats.fast + s.alloc_stats.refill + s.alloc_stats.slow,
		     "allocations %lu != fast %lu + refill %lu + slow %lu", allocs,
		     s.alloc_stats.fast, s.alloc_stats.refill, s.alloc_stats.slow);
	stress_check(NAME,
		     puts == s.recycle_stats.cached + s.recycle_stats.ring +
				     s.recycle_stats.ring_full,
		     "final puts %lu != cached %lu + ring %lu + ring_full %lu", puts,
		     s.recycle_stats.cached, s.recycle_stats.ring, s.recycle_stats.ring_full);
	in_ring = (unsigned int)(r.pool->ring.prod - r.pool->ring.cons);
	inflight = page_pool_inflight(r.pool);
	stress_check(NAME, inflight == (long)(page_pool_cache_count(r.pool) + in_ring),
		     "in flight %ld, cache %u + ring %u", inflight, page_pool_cache_count(r.pool),
		     in_ring);
	stress_check(NAME, s.recycle_stats.ring > 0 && s.alloc_stats.refill > 0,
		     "the ring was never used (ring %lu, refill %lu)", s.recycle_stats.ring,
		     s.alloc_stats.refill);

	page_pool_destroy(r.pool);
	stress_check(NAME, page_pool_nr_live() == 0, "pool not freed with nothing in flight");
	stress_check(NAME, device_mapped_bytes(dev) == 0, "host pages still mapped");
	printf("%s: host pages: %lu allocs (fast %lu refill %lu slow %lu), ring %lu ring_full %lu "
	       "cached %lu cache_full %lu\n",
	       NAME, allocs, s.alloc_stats.fast, s.alloc_stats.refill, s.alloc_stats.slow,
	       s.recycle_stats.ring, s.recycle_stats.ring_full, s.recycle_stats.cached,
	       s.recycle_stats.cache_full);
}

/* Every net_iov free, none live; the provider's counters at 0. */
static void array_mp_init(void)
{
	pthread_mutex_init(&amp.lock, NULL);
	net_iov_area_init(&amp.area, amp.niovs, ARRAY_NIOVS, 0, 1ULL << 32, PAGE_SHIFT,
			  NET_IOV_DMABUF);
	amp.nr_free = 0;
	for (unsigned int i = 0; i < ARRAY_NIOVS; i++)
		amp.free_idx[amp.nr_free++] = i;
	amp.destroy_calls = 0;
	amp.releases = 0;
}

/* An array provider of net_iovs; destroy while the returners still hold netmems. */
static void round_net_iovs(struct device *dev, double seconds)
{
	struct pp_memory_provider_params mp = { .mp_ops = &array_ops, .mp_priv = &amp };
	struct page_pool_params p = {
		.flags = PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV | PP_FLAG_ALLOW_UNREADABLE_NETMEM,
		.max_len = PAGE_SIZE,
		.pool_size = POOL_SIZE,
		.dev = dev,
		.dma_dir = DMA_FROM_DEVICE,
		.mp = &mp,
	};
	static struct round r;
	struct returner_arg ra[RETURNERS];
	pthread_t t[RETURNERS], w;
	struct owner_state o = { 0 };
	uint64_t allocs;
	int err;

	array_mp_init();
	err = page_pool_create(&p, &r.pool);
	stress_check(NAME, !err, "page_pool_create (net_iovs): %d", err);
	start_threads(&r, t, ra, &w);
	allocs = owner_run(&r, seconds, &o);
	stop_watcher(&r, w);
	/* the queue stops: destroy at once, while the returners still hold netmems */
	owner_finish(&r, &o, true);
	__atomic_store_n(&r.destroyed, 1, __ATOMIC_RELEASE);
	page_pool_destroy(r.pool);
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	join_returners(&r, t);

	stress_check(NAME, page_pool_nr_live() == 0, "pool not freed after the last return");
	stress_check(NAME, amp.destroy_calls == 1, "provider destroy called %d times",
		     amp.destroy_calls);
	stress_check(NAME, amp.nr_free == ARRAY_NIOVS, "%u of %u net_iovs back", amp.nr_free,
		     ARRAY_NIOVS);
	stress_check(NAME, o.direct_puts + r.final_puts == allocs,
		     "%lu allocations, %lu final puts", allocs, o.direct_puts + r.final_puts);
	for (unsigned int i = 0; i < ARRAY_NIOVS; i++)
		stress_check(NAME, !amp.live[i], "net_iov %u still live", i);
	printf("%s: net_iovs: %lu allocs, %lu provider releases, %lu puts after destroy\n", NAME,
	       allocs, amp.releases, r.puts_after_destroy);
	pthread_mutex_destroy(&amp.lock);
}

/*
 * Round 3, many times over: producers give back as fast as they can,
 * singly and in bulk, into a small ring, while the owner allocates
 * (refilling from that ring) and then destroys the pool under them. A claim
 * racing the close of the ring must either land before it and be drained,
 * or fail and go back to the provider: nothing is lost, nothing comes back
 * twice, and the last return frees the pool.
 */
#define FIRE_RING 16
#define FIRE_PER_THREAD 96

struct firer_arg {
	struct page_pool *pool;
	int *go; /* atomic */
	int *started; /* atomic */
	int idx;
	netmem_ref nm[FIRE_PER_THREAD];
};

static void *firer(void *arg)
{
	struct firer_arg *fa = arg;
	uint64_t rnd = 0x51ed270b2735ULL * (fa->idx + 1);

	__atomic_fetch_add(fa->started, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(fa->go, __ATOMIC_ACQUIRE))
		sched_yield();
	for (unsigned int i = 0; i < FIRE_PER_THREAD;) {
		unsigned int n = 1 + stress_rand(&rnd) % 6;

		n = min(n, FIRE_PER_THREAD - i);
		for (unsigned int k = 0; k < n; k++)
			unclaim(fa->nm[i + k]);
		if (n == 1)
			page_pool_put_netmem(fa->pool, fa->nm[i], false);
		else
			page_pool_put_netmem_bulk(fa->pool, &fa->nm[i], n);
		i += n;
	}
	return NULL;
}

static void round_destroy_under_fire(struct device *dev, double seconds)
{
	struct pp_memory_provider_params mp = { .mp_ops = &array_ops, .mp_priv = &amp };
	struct page_pool_params p = {
		.flags = PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV | PP_FLAG_ALLOW_UNREADABLE_NETMEM,
		.max_len = PAGE_SIZE,
		.pool_size = FIRE_RING,
		.dev = dev,
		.dma_dir = DMA_FROM_DEVICE,
		.mp = &mp,
	};
	static struct firer_arg fa[RETURNERS];
	double end = stress_now() + seconds;
	uint64_t rnd = 0x3c6ef372fe94f82aULL, rounds = 0, ring = 0, ring_full = 0;

	array_mp_init();
	do {
		struct page_pool *pool;
		netmem_ref held[HELD_MAX], anchor;
		struct page_pool_stats s;
		pthread_t t[RETURNERS];
		unsigned int nheld = 0, steps;
		int go = 0, started = 0, err;

		err = page_pool_create(&p, &pool);
		stress_check(NAME, !err, "page_pool_create (fire): %d", err);
		for (int i = 0; i < RETURNERS; i++) {
			fa[i] = (struct firer_arg){
				.pool = pool, .go = &go, .started = &started, .idx = i
			};
			for (unsigned int k = 0; k < FIRE_PER_THREAD; k++) {
				fa[i].nm[k] = page_pool_alloc_netmems(pool);
				stress_check(NAME, fa[i].nm[k], "provider dry");
				claim(fa[i].nm[k]);
			}
			stress_check(NAME, pthread_create(&t[i], NULL, firer, &fa[i]) == 0,
				     "pthread_create");
		}
		while (__atomic_load_n(&started, __ATOMIC_ACQUIRE) < RETURNERS)
			sched_yield();
		/* held until the producers are done: the pool outlives destroy for the counters */
		anchor = page_pool_alloc_netmems(pool);
		stress_check(NAME, anchor, "provider dry");
		__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
		/* the owner keeps the cache turning over, then its queue stops */
		steps = stress_rand(&rnd) % 200;
		for (unsigned int i = 0; i < steps; i++) {
			netmem_ref netmem = page_pool_alloc_netmems(pool);

			if (netmem) {
				claim(netmem);
				if (nheld < HELD_MAX) {
					held[nheld++] = netmem;
					continue;
				}
				unclaim(netmem);
				page_pool_recycle_direct(pool, netmem);
			}
			while (nheld && stress_rand(&rnd) % 2) {
				unclaim(held[--nheld]);
				page_pool_recycle_direct(pool, held[nheld]);
			}
			if (stress_rand(&rnd) % 16 == 0)
				sched_yield(); /* two cores: let the producers in */
		}
		while (nheld) {
			unclaim(held[--nheld]);
			page_pool_recycle_direct(pool, held[nheld]);
		}
		page_pool_destroy(pool);
		for (int i = 0; i < RETURNERS; i++)
			pthread_join(t[i], NULL);
		page_pool_get_stats(pool, &s);
		ring += s.recycle_stats.ring;
		ring_full += s.recycle_stats.ring_full;
		stress_check(NAME, page_pool_inflight(pool) == 1, "in flight %ld, one held",
			     page_pool_inflight(pool));
		stress_check(NAME, amp.destroy_calls == 0, "provider destroyed with a netmem out");
		page_pool_put_netmem(pool, anchor, false);

		stress_check(NAME, page_pool_nr_live() == 0,
			     "pool not freed after the last return");
		stress_check(NAME, amp.destroy_calls == 1, "provider destroy called %d times",
			     amp.destroy_calls);
		stress_check(NAME, amp.nr_free == ARRAY_NIOVS, "%u of %u net_iovs back",
			     amp.nr_free, ARRAY_NIOVS);
		amp.destroy_calls = 0;
		rounds++;
	} while (stress_now() < end);
	for (unsigned int i = 0; i < ARRAY_NIOVS; i++)
		stress_check(NAME, !amp.live[i], "net_iov %u still live", i);
	printf("%s: destroy under fire: %lu pools, ring %lu ring_full %lu\n", NAME, rounds, ring,
	       ring_full);
	pthread_mutex_destroy(&amp.lock);
}

int main(void)
{
	double seconds = stress_seconds();
	struct device *dev;
	int err;

	err = device_create("stress-nic", NULL, &dev);
	stress_check(NAME, !err, "device_create: %d", err);
	round_host_pages(dev, seconds * 0.4);
	round_net_iovs(dev, seconds * 0.4);
	round_destroy_under_fire(dev, seconds * 0.2);
	device_put(dev);
	printf("%s: ok\n", NAME);
	return 0;
}
