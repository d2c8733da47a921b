// SPDX-License-Identifier: MIT
/*
 * The page_pool's costs, each against a baseline measured in the same run:
 *   - the owner's fast path, alloc + recycle_direct in batches of BATCH,
 *     against a bare array stack (pop + push) of the same pointers;
 *   - the ring path: a second thread gives every netmem back through the
 *     ring while the owner allocates, in ns per netmem on the owner, next
 *     to the same two threads handing the pointers back through bare
 *     arrays (what moving them between the cores costs at least);
 *   - refills from the host page provider: pages already mapped (on the
 *     allocator's free list) and cold (new slabs mmap()ed and mapped).
 * Every figure is the median of several runs. Build with `make bench`
 * (release build, assertions off).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>

#include "bench.h"
#include "devmem/device.h"
#include "net/page_pool.h"

#define RUNS 12 /* 3 at each code placement of the fast path */
#define BATCH 32
#define FAST_ITERS 200000 /* batches */
#define RING_NETMEMS 2000000
#define REFILL_NETMEMS (64 * 1024)
#define HANDOFF 1024

static struct device *dev;
static double g_fast_ns; /* the fast path's median, the ring path's yardstick */

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() __asm__ volatile("" : : : "memory")
#endif

static struct page_pool *pool_new(unsigned int pool_size)
{
	struct page_pool_params p = {
		.flags = PP_FLAG_DMA_MAP,
		.pool_size = pool_size,
		.dev = dev,
		.dma_dir = DMA_FROM_DEVICE,
	};
	struct page_pool *pool;
	int err = page_pool_create(&p, &pool);

	if (err) {
		printf("page_pool_create: %s\n", strerror(-err));
		exit(1);
	}
	return pool;
}

/*
 * The baseline: the same pointers the pool hands out, popped from and
 * pushed onto a bare array stack (no stats, no reference counts, no
 * checks) as deep as the pool's cache. A second row lets the compiler keep
 * the counter in a register: the floor no object in memory reaches.
 */
struct bare_stack {
	unsigned long n;
	netmem_ref a[PP_ALLOC_CACHE_SIZE];
};

/*
 * Where data sits within a page moves these loops by tens of percent (4K
 * aliasing between loads and stores in flight), so the comparison holds
 * placement still: the bare stack's array sits at the same page offset as
 * the pool's cache, and every timed loop of a run goes through the same
 * batch buffer, which runs move across a page.
 */
static char stack_area[3 * 4096] __attribute__((aligned(4096)));
static netmem_ref batch_area[4096 / sizeof(netmem_ref) + BATCH] __attribute__((aligned(4096)));

static struct bare_stack *stack_like(const struct page_pool *pool)
{
	uintptr_t off = (uintptr_t)pool->alloc.cache & 4095;

	return (struct bare_stack *)(stack_area + 4096 + off - offsetof(struct bare_stack, a));
}

static netmem_ref *batch_for_run(int run)
{
	return &batch_area[(run * 7 * 8) % (4096 / sizeof(netmem_ref))];
}

/* The timed loops' bodies, inlined into each placement below. */
static inline __attribute__((always_inline)) double array_stack_loop(struct bare_stack *s,
								     netmem_ref *batch)
{
	int64_t t0 = bench_now_ns();

	for (int it = 0; it < FAST_ITERS; it++) {
		for (int i = 0; i < BATCH; i++) {
			batch[i] = s->a[--s->n];
			bench_keep(batch[i]);
		}
		for (int i = 0; i < BATCH; i++)
			s->a[s->n++] = batch[i];
	}
	return (double)(bench_now_ns() - t0) / ((double)FAST_ITERS * BATCH);
}

static inline __attribute__((always_inline)) double
register_stack_loop(const struct bare_stack *from, netmem_ref *batch)
{
	static netmem_ref stack[PP_ALLOC_CACHE_SIZE];
	unsigned long n = from->n;
	int64_t t0;

	memcpy(stack, from->a, sizeof(stack));
	t0 = bench_now_ns();
	for (int it = 0; it < FAST_ITERS; it++) {
		for (int i = 0; i < BATCH; i++) {
			batch[i] = stack[--n];
			bench_keep(batch[i]);
		}
		for (int i = 0; i < BATCH; i++)
			stack[n++] = batch[i];
	}
	return (double)(bench_now_ns() - t0) / ((double)FAST_ITERS * BATCH);
}

static inline __attribute__((always_inline)) double fast_path_loop(struct page_pool *pool,
								   netmem_ref *batch)
{
	int64_t t0 = bench_now_ns();

	for (int it = 0; it < FAST_ITERS; it++) {
		for (int i = 0; i < BATCH; i++) {
			batch[i] = page_pool_alloc_netmems(pool);
			bench_keep(batch[i]);
		}
		for (int i = 0; i < BATCH; i++)
			page_pool_recycle_direct(pool, batch[i]);
	}
	return (double)(bench_now_ns() - t0) / ((double)FAST_ITERS * BATCH);
}

/*
 * Where a loop of a few instructions sits relative to the cores' fetch
 * blocks moves its time by a third, for the baseline as for the pool. So
 * each loop is compiled PLACEMENTS times, shifted by 16 more bytes each
 * time (nops executed once, ahead of the timing), and the runs cycle
 * through the copies: the medians cover placements instead of whichever
 * one the linker happened to give, and edits elsewhere do not move them.
 */
#define PLACEMENTS 4
#if defined(__x86_64__) || defined(__i386__)
#define PLACE(pad) __asm__ volatile(".nops " #pad ::: "memory")
#else
#define PLACE(pad) __asm__ volatile("" ::: "memory")
#endif
#define TIMED_LOOPS(pad)                                                                \
	static __attribute__((aligned(64), noinline)) double time_array_stack_##pad(    \
		struct bare_stack *s, netmem_ref *batch)                                \
	{                                                                               \
		PLACE(pad);                                                             \
		return array_stack_loop(s, batch);                                      \
	}                                                                               \
	static __attribute__((aligned(64), noinline)) double time_register_stack_##pad( \
		const struct bare_stack *from, netmem_ref *batch)                       \
	{                                                                               \
		PLACE(pad);                                                             \
		return register_stack_loop(from, batch);                                \
	}                                                                               \
	static __attribute__((aligned(64), noinline)) double time_fast_path_##pad(      \
		struct page_pool *pool, netmem_ref *batch)                              \
	{                                                                               \
		PLACE(pad);                                                             \
		return fast_path_loop(pool, batch);                                     \
	}

TIMED_LOOPS(1)
TIMED_LOOPS(17)
TIMED_LOOPS(33)
TIMED_LOOPS(49)

static double (*const time_array_stack[PLACEMENTS])(struct bare_stack *, netmem_ref *) = {
	time_array_stack_1, time_array_stack_17, time_array_stack_33, time_array_stack_49
};
static double (*const time_register_stack[PLACEMENTS])(const struct bare_stack *, netmem_ref *) = {
	time_register_stack_1, time_register_stack_17, time_register_stack_33,
	time_register_stack_49
};
static double (*const time_fast_path[PLACEMENTS])(struct page_pool *, netmem_ref *) = {
	time_fast_path_1, time_fast_path_17, time_fast_path_33, time_fast_path_49
};

static void bench_fast(void)
{
	double arr[RUNS], reg[RUNS], pp[RUNS], a, r, p;
	struct page_pool *pool = pool_new(1024);
	struct bare_stack *stack = stack_like(pool);

	time_fast_path[0](pool, batch_for_run(0)); /* warm: the cache holds its pages */
	/* the baseline's stack: the very netmems in the pool's cache, as many */
	stack->n = 0;
	while (page_pool_cache_count(pool))
		stack->a[stack->n++] = page_pool_alloc_netmems(pool);
	for (unsigned long i = stack->n; i-- > 0;)
		page_pool_recycle_direct(pool, stack->a[i]);
	for (int i = 0; i < RUNS; i++) {
		netmem_ref *batch = batch_for_run(i);

		arr[i] = time_array_stack[i % PLACEMENTS](stack, batch);
		reg[i] = time_register_stack[i % PLACEMENTS](stack, batch);
		pp[i] = time_fast_path[i % PLACEMENTS](pool, batch);
	}
	page_pool_destroy(pool);
	a = bench_median(arr, RUNS);
	r = bench_median(reg, RUNS);
	p = bench_median(pp, RUNS);

	bench_header("owner fast path: alloc + recycle_direct, batches of 32, per netmem");
	bench_row("bare array stack object, pop + push (baseline)", a, "ns", NULL);
	bench_row("bare array stack, counter in a register (floor)", r, "ns", NULL);
	bench_row("page_pool_alloc_netmems + page_pool_recycle_direct", p, "ns", NULL);
	bench_row("page_pool / array stack object", p / a, "x",
		  p / a <= 2.0 ? "<= 2x: met" : "<= 2x: MISSED");
	bench_row("page_pool / counter in a register", p / r, "x", NULL);
	g_fast_ns = p;
}

/* A single-producer single-consumer hand-over from the owner to the returner. */
struct handoff {
	netmem_ref slot[HANDOFF];
	unsigned long head __attribute__((aligned(128))); /* written by the owner */
	unsigned long tail __attribute__((aligned(128))); /* written by the returner */
	struct page_pool *pool;
	struct bare_ring *bare; /* give back through this instead of the pool */
	long total;
	bool bulk; /* give back with page_pool_put_netmem_bulk() (not with bare) */
};

/*
 * The single-return path's reference: the same two threads and hand-over,
 * with the pool replaced by bare arrays. The returner stores each pointer
 * into a single-producer ring (no claim, so no atomic and no barrier; no
 * capacity check: fewer pointers circulate than it has slots; no reference
 * count); the owner pops a local stack and refills it from the ring up to
 * 64 at a time, clearing the slots it took. What moving the pointers
 * between the cores one at a time costs on this machine when nothing has
 * to keep several producers apart.
 */
#define BARE_SLOTS 2048
#define BARE_CIRCULATING (HANDOFF + 2 * PP_ALLOC_CACHE_REFILL)

struct bare_ring {
	netmem_ref slot[BARE_SLOTS];
	unsigned long prod __attribute__((aligned(128))); /* the returner's */
	unsigned long cons __attribute__((aligned(128))); /* the owner's */
	unsigned int n; /* the owner's stack */
	netmem_ref stack[PP_ALLOC_CACHE_REFILL];
};

static void bare_put(struct bare_ring *r, netmem_ref netmem)
{
	__atomic_store_n(&r->slot[r->prod++ % BARE_SLOTS], netmem, __ATOMIC_RELEASE);
}

static netmem_ref bare_get(struct bare_ring *r)
{
	unsigned int n = 0;
	netmem_ref netmem;

	if (r->n)
		return r->stack[--r->n];
	for (;;) {
		while (n < PP_ALLOC_CACHE_REFILL &&
		       (netmem = __atomic_load_n(&r->slot[(r->cons + n) % BARE_SLOTS],
						 __ATOMIC_ACQUIRE)))
			r->stack[n++] = netmem;
		if (n)
			break;
		cpu_relax();
	}
	for (unsigned int i = n; i-- > 0;)
		__atomic_store_n(&r->slot[(r->cons + i) % BARE_SLOTS], 0, __ATOMIC_RELAXED);
	r->cons += n;
	r->n = n - 1;
	return r->stack[n - 1];
}

static void *returner(void *arg)
{
	struct handoff *h = arg;
	unsigned long tail = 0;
	unsigned int spins = 0;

	for (long done = 0; done < h->total;) {
		unsigned long head = __atomic_load_n(&h->head, __ATOMIC_ACQUIRE);

		if (head == tail) {
			/* a shared machine may have preempted the owner: do not spin it out */
			if (++spins % 4096 == 0)
				sched_yield();
			cpu_relax();
			continue;
		}
		if (h->bulk) {
			netmem_ref batch[BATCH];
			unsigned int n = 0;

			for (; tail != head && n < BATCH; tail++, done++)
				batch[n++] = h->slot[tail % HANDOFF];
			page_pool_put_netmem_bulk(h->pool, batch, n);
		}
		for (; tail != head && !h->bulk; tail++, done++) {
			if (h->bare)
				bare_put(h->bare, h->slot[tail % HANDOFF]);
			else
				page_pool_put_full_netmem(h->pool, h->slot[tail % HANDOFF], false);
		}
		__atomic_store_n(&h->tail, tail, __ATOMIC_RELEASE);
	}
	return NULL;
}

static inline __attribute__((always_inline)) double
time_ring_path_of(struct page_pool *pool, struct bare_ring *bare, const bool is_bare, bool bulk)
{
	static struct handoff h;
	unsigned long head = 0;
	unsigned int spins = 0;
	pthread_t t;
	int64_t t0;

	h = (struct handoff){ .pool = pool, .bare = bare, .total = RING_NETMEMS, .bulk = bulk };
	if (pthread_create(&t, NULL, returner, &h))
		exit(1);
	t0 = bench_now_ns();
	while (head < RING_NETMEMS) {
		unsigned long room = HANDOFF - (head - __atomic_load_n(&h.tail, __ATOMIC_ACQUIRE));

		if (room < BATCH) {
			if (++spins % 4096 == 0)
				sched_yield();
			cpu_relax();
			continue;
		}
		for (int i = 0; i < BATCH && head < RING_NETMEMS; i++, head++)
			h.slot[head % HANDOFF] =
				bare ? bare_get(bare) : page_pool_alloc_netmems(pool);
		__atomic_store_n(&h.head, head, __ATOMIC_RELEASE);
	}
	pthread_join(t, NULL);
	return (double)(bench_now_ns() - t0) / RING_NETMEMS;
}

static double time_ring_path(struct page_pool *pool, bool bulk)
{
	return time_ring_path_of(pool, NULL, false, bulk);
}

static double time_bare_path(struct page_pool *pool, struct bare_ring *bare)
{
	return time_ring_path_of(pool, bare, true, false);
}

/* The bare ring, stocked with netmems of @pool (the same pointers the pool path moves). */
static struct bare_ring *bare_ring_new(struct page_pool *pool)
{
	static struct bare_ring r;

	memset(&r, 0, sizeof(r));
	for (unsigned int i = 0; i < BARE_CIRCULATING; i++)
		bare_put(&r, page_pool_alloc_netmems(pool));
	return &r;
}

static void bare_ring_free(struct bare_ring *r, struct page_pool *pool)
{
	for (unsigned int i = 0; i < BARE_CIRCULATING; i++)
		page_pool_recycle_direct(pool, bare_get(r));
}

static void bench_ring(void)
{
	double ring[RUNS], bulk[RUNS], bare1[RUNS], r, b, r0;
	struct page_pool_stats s;
	struct page_pool *pool = pool_new(2048);
	struct bare_ring *bare;

	time_ring_path(pool, false); /* warm: enough pages in circulation */
	bare = bare_ring_new(pool);
	for (int i = 0; i < RUNS; i++) {
		bare1[i] = time_bare_path(pool, bare);
		ring[i] = time_ring_path(pool, false);
		bulk[i] = time_ring_path(pool, true);
	}
	bare_ring_free(bare, pool);
	page_pool_get_stats(pool, &s);
	page_pool_destroy(pool);
	r = bench_median(ring, RUNS);
	b = bench_median(bulk, RUNS);
	r0 = bench_median(bare1, RUNS);

	bench_header("ring path: a second thread gives every netmem back");
	bench_row("bare hand-back, one at a time (no claim, no barrier)", r0, "ns", NULL);
	bench_row("owner alloc, returner put (no direct), per netmem", r, "ns", NULL);
	bench_row("ring path / owner fast path", r / g_fast_ns, "x",
		  r / g_fast_ns <= 4.0 ? "<= 4x: met" : "<= 4x: MISSED");
	bench_row("owner alloc, returner put_netmem_bulk of 32, per netmem", b, "ns", NULL);
	bench_row("ring path (bulk) / owner fast path", b / g_fast_ns, "x",
		  b / g_fast_ns <= 4.0 ? "<= 4x: met" : "<= 4x: MISSED");
	bench_row("share of allocs served by the provider",
		  100.0 * 64 * s.alloc_stats.slow /
			  (s.alloc_stats.fast + s.alloc_stats.refill + s.alloc_stats.slow),
		  "%", NULL);
}

/* Allocate REFILL_NETMEMS with nothing cached: every 64th alloc is a bulk refill. */
static double time_refill(struct page_pool *pool, netmem_ref *out)
{
	int64_t t0 = bench_now_ns();

	for (int i = 0; i < REFILL_NETMEMS; i++)
		out[i] = page_pool_alloc_netmems(pool);
	return (double)(bench_now_ns() - t0) / REFILL_NETMEMS;
}

static void bench_refill(void)
{
	double warm[RUNS], cold[RUNS];
	netmem_ref *nm = calloc(REFILL_NETMEMS, sizeof(*nm));

	if (!nm)
		return;
	for (int r = 0; r < RUNS; r++) {
		/* a one-entry ring: what we give back goes to the provider's free list */
		struct page_pool *pool = pool_new(1);

		cold[r] = time_refill(pool, nm);
		for (int i = 0; i < REFILL_NETMEMS; i++)
			page_pool_put_full_netmem(pool, nm[i], false);
		warm[r] = time_refill(pool, nm);
		for (int i = 0; i < REFILL_NETMEMS; i++)
			page_pool_recycle_direct(pool, nm[i]);
		page_pool_destroy(pool);
	}
	free(nm);

	bench_header("provider refill: host pages, 64 per bulk refill");
	bench_row("refill from mapped free pages, per netmem", bench_median(warm, RUNS), "ns",
		  NULL);
	bench_row("refill with new slabs (mmap + dma_map_range), per netmem",
		  bench_median(cold, RUNS), "ns", NULL);
}

int main(void)
{
	int err = device_create("bench-nic", NULL, &dev);

	if (err) {
		printf("device_create: %s\n", strerror(-err));
		return 1;
	}
	printf("libdevmem page_pool benchmark (medians of %d runs)\n", RUNS);
	bench_fast();
	bench_ring();
	bench_refill();
	device_put(dev);
	return 0;
}
