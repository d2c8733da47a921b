// SPDX-License-Identifier: MIT
/*
 * The page_pool's costs, each against a baseline measured in the same run:
 *   - the owner's fast path, alloc + recycle_direct in batches of BATCH,
 *     against a bare array stack (pop + push) of the same pointers;
 *   - the ring path: a second thread gives every netmem back through the
 *     ring while the owner allocates, in ns per netmem on the owner;
 *   - refills from the host page provider: pages already mapped (on the
 *     allocator's free list) and cold (new slabs mmap()ed and mapped).
 * Every figure is the median of several runs. Build with `make bench`
 * (release build, assertions off).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "bench.h"
#include "devmem/device.h"
#include "net/page_pool.h"

#define RUNS 9
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
 * The baselines: the same pointers popped from and pushed onto a bare array
 * stack (no stats, no reference counts, no checks). The first keeps the
 * stack in an object, as the pool's cache is (its counter goes through
 * memory); the second lets the compiler keep the counter in a register,
 * the floor no object in memory can reach.
 */
struct bare_stack {
	unsigned int n;
	netmem_ref a[PP_ALLOC_CACHE_SIZE];
};

static inline netmem_ref bare_pop(struct bare_stack *s)
{
	return s->a[--s->n];
}

static inline void bare_push(struct bare_stack *s, netmem_ref v)
{
	s->a[s->n++] = v;
}

static double time_array_stack(struct bare_stack *s)
{
	netmem_ref batch[BATCH];
	int64_t t0 = bench_now_ns();

	for (int it = 0; it < FAST_ITERS; it++) {
		for (int i = 0; i < BATCH; i++) {
			batch[i] = bare_pop(s);
			bench_keep(batch[i]);
		}
		for (int i = 0; i < BATCH; i++)
			bare_push(s, batch[i]);
	}
	return (double)(bench_now_ns() - t0) / ((double)FAST_ITERS * BATCH);
}

static double time_register_stack(void)
{
	static netmem_ref stack[PP_ALLOC_CACHE_SIZE];
	netmem_ref batch[BATCH];
	unsigned int n = PP_ALLOC_CACHE_SIZE;
	int64_t t0;

	for (unsigned int i = 0; i < n; i++)
		stack[i] = (netmem_ref)&stack[i];
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

static double time_fast_path(struct page_pool *pool)
{
	netmem_ref batch[BATCH];
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

static void bench_fast(void)
{
	static struct bare_stack stack = { .n = PP_ALLOC_CACHE_SIZE };
	double arr[RUNS], reg[RUNS], pp[RUNS], a, r, p;
	struct page_pool *pool = pool_new(1024);

	for (unsigned int i = 0; i < PP_ALLOC_CACHE_SIZE; i++)
		stack.a[i] = (netmem_ref)&stack.a[i];
	time_fast_path(pool); /* warm: the cache holds its pages */
	for (int i = 0; i < RUNS; i++) {
		arr[i] = time_array_stack(&stack);
		reg[i] = time_register_stack();
		pp[i] = time_fast_path(pool);
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
	unsigned long head __attribute__((aligned(64))); /* written by the owner */
	unsigned long tail __attribute__((aligned(64))); /* written by the returner */
	struct page_pool *pool;
	long total;
	bool bulk; /* give back with page_pool_put_netmem_bulk() */
};

static void *returner(void *arg)
{
	struct handoff *h = arg;
	unsigned long tail = 0;

	for (long done = 0; done < h->total;) {
		unsigned long head = __atomic_load_n(&h->head, __ATOMIC_ACQUIRE);

		if (head == tail) {
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
		for (; tail != head && !h->bulk; tail++, done++)
			page_pool_put_full_netmem(h->pool, h->slot[tail % HANDOFF], false);
		__atomic_store_n(&h->tail, tail, __ATOMIC_RELEASE);
	}
	return NULL;
}

static double time_ring_path(struct page_pool *pool, bool bulk)
{
	static struct handoff h;
	unsigned long head = 0;
	pthread_t t;
	int64_t t0;

	h = (struct handoff){ .pool = pool, .total = RING_NETMEMS, .bulk = bulk };
	if (pthread_create(&t, NULL, returner, &h))
		exit(1);
	t0 = bench_now_ns();
	while (head < RING_NETMEMS) {
		unsigned long room = HANDOFF - (head - __atomic_load_n(&h.tail, __ATOMIC_ACQUIRE));

		if (room < BATCH) {
			cpu_relax();
			continue;
		}
		for (int i = 0; i < BATCH && head < RING_NETMEMS; i++, head++)
			h.slot[head % HANDOFF] = page_pool_alloc_netmems(pool);
		__atomic_store_n(&h.head, head, __ATOMIC_RELEASE);
	}
	pthread_join(t, NULL);
	return (double)(bench_now_ns() - t0) / RING_NETMEMS;
}

static void bench_ring(void)
{
	double ring[RUNS], bulk[RUNS], r, b;
	struct page_pool_stats s;
	struct page_pool *pool = pool_new(2048);

	time_ring_path(pool, false); /* warm: enough pages in circulation */
	for (int i = 0; i < RUNS; i++) {
		ring[i] = time_ring_path(pool, false);
		bulk[i] = time_ring_path(pool, true);
	}
	page_pool_get_stats(pool, &s);
	page_pool_destroy(pool);
	r = bench_median(ring, RUNS);
	b = bench_median(bulk, RUNS);

	bench_header("ring path: a second thread gives every netmem back");
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
