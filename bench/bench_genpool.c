// SPDX-License-Identifier: MIT
/*
 * The chunk allocator against a first-fit bitmap allocator of the same
 * capacity (1 Mi granules of 4 KiB: 4 GiB of address space, no memory behind
 * it), at 0%, 50%, 90% and 99% occupancy, in the same run.
 *
 * Each allocator is pre-filled to the occupancy with a random scattered set of
 * granules, then runs alloc+free pairs: allocate one, free one chosen at
 * random among those held (the one just allocated included), so occupancy
 * stays constant, as when a queue refills while sockets return tokens in any
 * order. A warm-up of untimed pairs comes first: first-fit always takes the
 * lowest free granule while frees land anywhere, so its free granules drift to
 * the top of the pool and its scans grow, until they settle; the timed windows
 * measure that settled state (the one a long-running binding lives in). The
 * mean first-fit scan length is printed so the reader can see it.
 *
 * The first-fit baseline scans the bitmap from bit 0 for the first zero bit,
 * 64 bits at a time, with no hint or cursor (what the kernel's genpool does
 * per allocation with bitmap_find_next_zero_area). It uses plain stores where
 * the kernel's uses atomic ones: any doubt goes in the baseline's favour.
 *
 * The harness (the held set and the random choice) is the same code for both
 * allocators, and kept cheap so that it does not hide the allocator's own
 * cost: the held set is a flat array of 32-bit granule indices (an address is
 * rebuilt from the index for gen_pool), the slot to free is drawn with a
 * multiply-shift instead of a 64-bit division, and it is drawn AHEAD pairs
 * before it is used, with its held-set entry prefetched then. Without that,
 * at 99% every pair waited on a cache miss in the 4 MiB held set before the
 * allocator even saw the address. The allocator's own memory traffic (the
 * granule's metadata) is not prefetched. What the harness alone costs is
 * printed per occupancy.
 *
 * Figures are ns per alloc+free pair, the median of several windows, the
 * harness included for both.
 *
 * Then several threads share one pool: each on its own granules, and the
 * devmem shape, where one thread allocates in bulk (a queue's page_pool
 * refill) and another frees every granule one by one (token returns), from a
 * pool whose free granules were first shuffled (a binding that has run for a
 * while: consecutive granules no longer come out together).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "bench.h"
#include "lib/compiler.h"
#include "lib/genpool.h"

#define RUNS 7
#define NR_GRANULES (1U << 20)
#define WORDS (NR_GRANULES / 64)
#define BASE (1UL << 32)
#define MT_THREADS 2
#define AHEAD 16 /* pairs between drawing a slot to free and freeing it */

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() __asm__ volatile("" : : : "memory")
#endif

/* Waiting on the other thread: spin a while, then let it have the CPU (the machine may be busy). */
static inline void wait_a_little(unsigned int *spins)
{
	if (++*spins % 1024)
		cpu_relax();
	else
		sched_yield();
}

/* ---- the baseline: first fit over a bitmap ---- */

struct firstfit {
	uint64_t map[WORDS];
	uint64_t scanned; /* words looked at, for the mean scan length */
};

/* Returns the granule index, or -1 when full. */
static long firstfit_alloc(struct firstfit *ff)
{
	for (unsigned int w = 0; w < WORDS; w++) {
		uint64_t word = ff->map[w];

		if (word != ~0ULL) {
			unsigned int bit = __builtin_ctzll(~word);

			ff->map[w] = word | (1ULL << bit);
			ff->scanned += w + 1;
			return (long)w * 64 + bit;
		}
	}
	ff->scanned += WORDS;
	return -1;
}

static void firstfit_free(struct firstfit *ff, unsigned long idx)
{
	ff->map[idx / 64] &= ~(1ULL << (idx % 64));
}

/* ---- the workload ---- */

static uint64_t rand_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [0, @n): the high 32 bits scaled, no division. */
static inline uint32_t rand_below(uint64_t *state, uint32_t n)
{
	return (uint32_t)(((rand_next(state) >> 32) * n) >> 32);
}

/* The held set: @k granules in held[0..k), slot k for the one just allocated. */
struct workload {
	uint32_t *held;
	uint32_t k;
	uint32_t pos;
	uint64_t rng;
	uint32_t ahead[AHEAD]; /* the slots the next pairs free */
};

static void workload_init(struct workload *w, uint32_t *held, uint32_t k, uint64_t seed)
{
	w->held = held;
	w->k = k;
	w->pos = 0;
	w->rng = seed;
	for (int i = 0; i < AHEAD; i++)
		w->ahead[i] = rand_below(&w->rng, k + 1);
}

/* The slot to free now; the one to free AHEAD pairs later is drawn and prefetched. */
static inline uint32_t workload_next(struct workload *w)
{
	uint32_t j = w->ahead[w->pos], later = rand_below(&w->rng, w->k + 1);

	w->ahead[w->pos] = later;
	w->pos = (w->pos + 1) % AHEAD;
	__builtin_prefetch(&w->held[later], 1);
	return j;
}

static inline unsigned long gp_addr(uint32_t idx)
{
	return BASE + ((unsigned long)idx << PAGE_SHIFT);
}

static inline uint32_t gp_index(unsigned long addr)
{
	return (uint32_t)((addr - BASE) >> PAGE_SHIFT);
}

/* The random subset: the first @k entries of @perm, out of [0, NR_GRANULES). */
static void random_subset(uint32_t *perm, uint32_t k, uint64_t *rng)
{
	for (uint32_t i = 0; i < NR_GRANULES; i++)
		perm[i] = i;
	for (uint32_t i = 0; i < k; i++) {
		uint32_t j = i + rand_below(rng, NR_GRANULES - i), t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
}

static double firstfit_pairs(struct firstfit *ff, struct workload *w, long pairs)
{
	uint32_t *held = w->held, k = w->k;
	int64_t t0 = bench_now_ns();

	for (long i = 0; i < pairs; i++) {
		uint32_t j;

		held[k] = (uint32_t)firstfit_alloc(ff);
		j = workload_next(w);
		firstfit_free(ff, held[j]);
		held[j] = held[k];
	}
	return (double)(bench_now_ns() - t0) / pairs;
}

static double genpool_pairs(struct gen_pool *pool, struct workload *w, long pairs)
{
	uint32_t *held = w->held, k = w->k;
	int64_t t0 = bench_now_ns();

	for (long i = 0; i < pairs; i++) {
		uint32_t j;

		held[k] = gp_index(gen_pool_alloc(pool, PAGE_SIZE));
		j = workload_next(w);
		gen_pool_free(pool, gp_addr(held[j]), PAGE_SIZE);
		held[j] = held[k];
	}
	return (double)(bench_now_ns() - t0) / pairs;
}

/* The same loop with no allocator: what the harness costs on its own. */
static double harness_pairs(struct workload *w, long pairs)
{
	uint32_t *held = w->held, k = w->k;
	int64_t t0 = bench_now_ns();

	for (long i = 0; i < pairs; i++) {
		uint32_t j;

		held[k] = (uint32_t)i;
		j = workload_next(w);
		bench_keep(held[j]);
		held[j] = held[k];
	}
	return (double)(bench_now_ns() - t0) / pairs;
}

struct result {
	double ff, gp, scan, harness;
};

/*
 * Pairs per window: enough to time well, few enough that first fit at 99%
 * (thousands of words per scan) keeps the whole run short.
 */
static long pairs_for(unsigned int pct, bool firstfit)
{
	if (!firstfit)
		return 2000000;
	return pct >= 90 ? 4000 : pct >= 50 ? 40000 : 400000;
}

static int bench_occupancy(unsigned int pct, uint32_t *perm, struct firstfit *ff,
			   struct result *res)
{
	uint32_t k = (uint32_t)((uint64_t)NR_GRANULES * pct / 100);
	double ffs[RUNS], gps[RUNS], scans[RUNS], hs[RUNS];
	uint32_t *held = calloc(k + 1, sizeof(*held));
	uint64_t rng = 0x1234567 + pct;
	struct gen_pool *pool;
	struct workload w;
	long pairs;
	int err;

	if (!held)
		return -ENOMEM;
	random_subset(perm, k, &rng);

	/* first fit: set the chosen bits */
	memset(ff->map, 0, sizeof(ff->map));
	for (uint32_t i = 0; i < k; i++) {
		ff->map[perm[i] / 64] |= 1ULL << (perm[i] % 64);
		held[i] = perm[i];
	}
	workload_init(&w, held, k, rng);
	/*
	 * warm-up: the drift settles after about 5 pairs per free granule (at
	 * 99%: a mean scan of half the bitmap); capped to keep the run short
	 */
	firstfit_pairs(ff, &w, min(5L * (NR_GRANULES - k), 1500000L));
	pairs = pairs_for(pct, true);
	for (int r = 0; r < RUNS; r++) {
		ff->scanned = 0;
		ffs[r] = firstfit_pairs(ff, &w, pairs);
		scans[r] = (double)ff->scanned / pairs;
	}

	/* genpool: take everything (a fresh pool hands out ascending), return the rest shuffled */
	err = gen_pool_create(PAGE_SHIFT, &pool);
	if (!err)
		err = gen_pool_add(pool, BASE, (size_t)NR_GRANULES * PAGE_SIZE);
	if (err) {
		gen_pool_destroy(pool);
		free(held);
		return err;
	}
	for (uint32_t i = 0; i < NR_GRANULES; i++)
		bench_keep(gen_pool_alloc(pool, PAGE_SIZE));
	for (uint32_t i = k; i < NR_GRANULES; i++)
		gen_pool_free(pool, gp_addr(perm[i]), PAGE_SIZE);
	for (uint32_t i = 0; i < k; i++)
		held[i] = perm[i];
	workload_init(&w, held, k, rng);
	pairs = pairs_for(pct, false);
	genpool_pairs(pool, &w, pairs / 4);
	for (int r = 0; r < RUNS; r++)
		gps[r] = genpool_pairs(pool, &w, pairs);
	for (uint32_t i = 0; i < k; i++)
		gen_pool_free(pool, gp_addr(held[i]), PAGE_SIZE);
	gen_pool_destroy(pool);

	/* the held set's contents no longer matter, only its size */
	workload_init(&w, held, k, rng);
	for (int r = 0; r < RUNS; r++)
		hs[r] = harness_pairs(&w, pairs);
	free(held);

	res->ff = bench_median(ffs, RUNS);
	res->gp = bench_median(gps, RUNS);
	res->scan = bench_median(scans, RUNS);
	res->harness = bench_median(hs, RUNS);
	return 0;
}

/*
 * ---- several threads on one pool ----
 * Each thread on its own granules: alloc+free pairs stay in each thread's
 * magazine, the bulk pair too (64 fit). The devmem shape instead moves every
 * granule from the freeing thread's magazine back to the allocating one
 * through the shared stack.
 */

#define BULK 64
#define MT_GRANULES 2000000

struct mt_arg {
	struct gen_pool *pool;
	double ns;
	uint64_t seed;
	bool bulk;
};

/* A page_pool refill of BULK and a burst of BULK token returns, per granule. */
static double bulk_cycles(struct gen_pool *pool, long granules)
{
	unsigned long addrs[BULK];
	int64_t t0 = bench_now_ns();

	for (long i = 0; i < granules / BULK; i++) {
		int n = gen_pool_alloc_bulk(pool, addrs, NULL, BULK);

		gen_pool_free_bulk(pool, addrs, n);
	}
	return (double)(bench_now_ns() - t0) / granules;
}

static void *mt_worker(void *p)
{
	struct mt_arg *a = p;
	enum { HELD = 4096 };
	uint32_t *held = malloc((HELD + 1) * sizeof(*held));
	struct workload w;

	if (!held)
		return NULL;
	for (int i = 0; i < HELD; i++)
		held[i] = gp_index(gen_pool_alloc(a->pool, PAGE_SIZE));
	workload_init(&w, held, HELD, a->seed);
	a->ns = a->bulk ? bulk_cycles(a->pool, MT_GRANULES) :
			  genpool_pairs(a->pool, &w, MT_GRANULES);
	for (int i = 0; i < HELD; i++)
		gen_pool_free(a->pool, gp_addr(held[i]), PAGE_SIZE);
	free(held);
	return NULL;
}

static struct gen_pool *mt_pool(void)
{
	struct gen_pool *pool;

	if (gen_pool_create(PAGE_SHIFT, &pool))
		return NULL;
	if (gen_pool_add(pool, BASE, (size_t)NR_GRANULES * PAGE_SIZE)) {
		gen_pool_destroy(pool);
		return NULL;
	}
	return pool;
}

static double bench_threads(int nr, bool bulk)
{
	struct mt_arg args[MT_THREADS];
	pthread_t t[MT_THREADS];
	struct gen_pool *pool = mt_pool();
	double worst = 0;

	if (!pool)
		return -1;
	for (int i = 0; i < nr; i++) {
		args[i] = (struct mt_arg){ .pool = pool, .seed = 99 + i, .bulk = bulk };
		pthread_create(&t[i], NULL, mt_worker, &args[i]);
	}
	for (int i = 0; i < nr; i++) {
		pthread_join(t[i], NULL);
		worst = max(worst, args[i].ns);
	}
	gen_pool_destroy(pool);
	return worst;
}

/* The devmem shape: granules handed from the allocating thread to the freeing one. */
#define XFER_RING 4096 /* a power of two */

struct xfer {
	struct gen_pool *pool;
	unsigned long ring[XFER_RING];
	uint64_t head; /* atomic: written by the allocating thread */
	uint64_t tail; /* atomic: written by the freeing thread */
};

static void *xfer_free(void *p)
{
	struct xfer *x = p;
	unsigned int spins = 0;
	uint64_t tail = 0;

	while (tail < MT_GRANULES) {
		uint64_t head = __atomic_load_n(&x->head, __ATOMIC_ACQUIRE);

		if (head == tail) {
			wait_a_little(&spins);
			continue;
		}
		for (; tail < head; tail++)
			gen_pool_free(x->pool, x->ring[tail % XFER_RING], PAGE_SIZE);
		__atomic_store_n(&x->tail, tail, __ATOMIC_RELEASE);
	}
	return NULL;
}

static double bench_xfer(uint32_t *perm)
{
	struct xfer *x = calloc(1, sizeof(*x));
	unsigned long addrs[BULK];
	uint64_t head = 0, rng = 42;
	unsigned int spins = 0;
	pthread_t t;
	int64_t t0;

	if (!x)
		return -1;
	x->pool = mt_pool();
	if (!x->pool) {
		free(x);
		return -1;
	}
	/* take everything, give it back shuffled */
	random_subset(perm, NR_GRANULES, &rng);
	for (uint32_t i = 0; i < NR_GRANULES; i++)
		bench_keep(gen_pool_alloc(x->pool, PAGE_SIZE));
	for (uint32_t i = 0; i < NR_GRANULES; i++)
		gen_pool_free(x->pool, gp_addr(perm[i]), PAGE_SIZE);
	pthread_create(&t, NULL, xfer_free, x);
	t0 = bench_now_ns();
	while (head < MT_GRANULES) {
		int want = (int)min((uint64_t)BULK, MT_GRANULES - head), n;

		/* wait for room: the freeing thread keeps up or the queue stalls */
		while (head + want - __atomic_load_n(&x->tail, __ATOMIC_ACQUIRE) > XFER_RING)
			wait_a_little(&spins);
		n = gen_pool_alloc_bulk(x->pool, addrs, NULL, want);
		for (int i = 0; i < n; i++)
			x->ring[(head + i) % XFER_RING] = addrs[i];
		head += n;
		__atomic_store_n(&x->head, head, __ATOMIC_RELEASE);
	}
	pthread_join(t, NULL);
	t0 = bench_now_ns() - t0;
	gen_pool_destroy(x->pool);
	free(x);
	return (double)t0 / MT_GRANULES;
}

int main(void)
{
	static const unsigned int pcts[] = { 0, 50, 90, 99 };
	struct result res[ARRAY_SIZE(pcts)];
	uint32_t *perm = malloc(NR_GRANULES * sizeof(*perm));
	struct firstfit *ff = malloc(sizeof(*ff));
	double one[RUNS], two[RUNS], one_bulk[RUNS], two_bulk[RUNS], xfer[RUNS];
	char what[80];

	if (!perm || !ff)
		return 1;
	printf("libdevmem chunk allocator benchmark (medians of %d runs, 1 Mi granules of 4 KiB)\n",
	       RUNS);
	for (size_t i = 0; i < ARRAY_SIZE(pcts); i++) {
		int err = bench_occupancy(pcts[i], perm, ff, &res[i]);

		if (err) {
			printf("\noccupancy %u%%: %s\n", pcts[i], strerror(-err));
			return 1;
		}
	}
	free(ff);

	bench_header("alloc+free pair at constant occupancy, random scattered pre-fill");
	for (size_t i = 0; i < ARRAY_SIZE(pcts); i++) {
		snprintf(what, sizeof(what), "%2u%%: first-fit bitmap (baseline)", pcts[i]);
		bench_row(what, res[i].ff, "ns", NULL);
		snprintf(what, sizeof(what), "%2u%%: first-fit mean scan length", pcts[i]);
		bench_row(what, res[i].scan, "words", NULL);
		snprintf(what, sizeof(what), "%2u%%: gen_pool (magazines + depot)", pcts[i]);
		bench_row(what, res[i].gp, "ns", NULL);
		snprintf(what, sizeof(what), "%2u%%: harness alone (in both figures above)",
			 pcts[i]);
		bench_row(what, res[i].harness, "ns", NULL);
		snprintf(what, sizeof(what), "%2u%%: first-fit / gen_pool", pcts[i]);
		bench_row(what, res[i].ff / res[i].gp, "x",
			  pcts[i] != 99		       ? NULL :
			  res[i].ff / res[i].gp >= 100 ? ">= 100x at 99%: met" :
							 ">= 100x at 99%: MISSED");
	}
	bench_row("gen_pool at 99% / gen_pool at 0%", res[3].gp / res[0].gp, "x",
		  res[3].gp / res[0].gp <= 2.0 ? "flat, within 2x: met" :
						 "flat, within 2x: MISSED");

	for (int r = 0; r < RUNS; r++) {
		one[r] = bench_threads(1, false);
		two[r] = bench_threads(MT_THREADS, false);
		one_bulk[r] = bench_threads(1, true);
		two_bulk[r] = bench_threads(MT_THREADS, true);
		xfer[r] = bench_xfer(perm);
	}
	free(perm);
	bench_header("gen_pool shared by threads");
	bench_row("1 thread: alloc+free pair (holds 4096)", bench_median(one, RUNS), "ns", NULL);
	snprintf(what, sizeof(what), "%d threads at once: alloc+free pair, slowest thread",
		 MT_THREADS);
	bench_row(what, bench_median(two, RUNS), "ns", NULL);
	bench_row("1 thread: bulk alloc+free of 64, per granule", bench_median(one_bulk, RUNS),
		  "ns", NULL);
	snprintf(what, sizeof(what), "%d threads: bulk alloc+free of 64, per granule", MT_THREADS);
	bench_row(what, bench_median(two_bulk, RUNS), "ns", NULL);
	bench_row("bulk alloc here, free there (devmem), per granule", bench_median(xfer, RUNS),
		  "ns", NULL);
	return 0;
}
