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
 * Figures are ns per alloc+free pair, the median of several windows, the
 * random choice of the granule to free included for both.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "bench.h"
#include "lib/compiler.h"
#include "lib/genpool.h"

#define RUNS 7
#define NR_GRANULES (1U << 20)
#define WORDS (NR_GRANULES / 64)
#define BASE (1UL << 32)
#define MT_THREADS 2

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

/* The first @k entries of @perm become a random @k-subset of [0, NR_GRANULES). */
static void random_subset(uint32_t *perm, uint32_t k, uint64_t *rng)
{
	for (uint32_t i = 0; i < NR_GRANULES; i++)
		perm[i] = i;
	for (uint32_t i = 0; i < k; i++) {
		uint32_t j = i + (uint32_t)(rand_next(rng) % (NR_GRANULES - i)), t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
}

/*
 * @held has room for @k + 1: slot @k takes the new granule, then a random
 * slot is freed and refilled from slot @k.
 */
static double firstfit_pairs(struct firstfit *ff, unsigned long *held, uint32_t k, long pairs,
			     uint64_t *rng)
{
	int64_t t0 = bench_now_ns();

	for (long i = 0; i < pairs; i++) {
		uint32_t j;

		held[k] = (unsigned long)firstfit_alloc(ff);
		j = (uint32_t)(rand_next(rng) % (k + 1));
		firstfit_free(ff, held[j]);
		held[j] = held[k];
	}
	return (double)(bench_now_ns() - t0) / pairs;
}

static double genpool_pairs(struct gen_pool *pool, unsigned long *held, uint32_t k, long pairs,
			    uint64_t *rng)
{
	int64_t t0 = bench_now_ns();

	for (long i = 0; i < pairs; i++) {
		uint32_t j;

		held[k] = gen_pool_alloc(pool, PAGE_SIZE);
		j = (uint32_t)(rand_next(rng) % (k + 1));
		gen_pool_free(pool, held[j], PAGE_SIZE);
		held[j] = held[k];
	}
	return (double)(bench_now_ns() - t0) / pairs;
}

struct result {
	double ff, gp, scan;
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
	double ffs[RUNS], gps[RUNS], scans[RUNS];
	unsigned long *held = calloc(k + 1, sizeof(*held));
	struct gen_pool *pool;
	uint64_t rng = 0x1234567 + pct;
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
	/*
	 * warm-up: the drift settles after about 5 pairs per free granule (at
	 * 99%: a mean scan of half the bitmap); capped to keep the run short
	 */
	firstfit_pairs(ff, held, k, min(5L * (NR_GRANULES - k), 1500000L), &rng);
	pairs = pairs_for(pct, true);
	for (int r = 0; r < RUNS; r++) {
		ff->scanned = 0;
		ffs[r] = firstfit_pairs(ff, held, k, pairs, &rng);
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
		gen_pool_free(pool, BASE + (unsigned long)perm[i] * PAGE_SIZE, PAGE_SIZE);
	for (uint32_t i = 0; i < k; i++)
		held[i] = BASE + (unsigned long)perm[i] * PAGE_SIZE;
	pairs = pairs_for(pct, false);
	genpool_pairs(pool, held, k, pairs / 4, &rng);
	for (int r = 0; r < RUNS; r++)
		gps[r] = genpool_pairs(pool, held, k, pairs, &rng);
	for (uint32_t i = 0; i < k; i++)
		gen_pool_free(pool, held[i], PAGE_SIZE);
	gen_pool_destroy(pool);
	free(held);

	res->ff = bench_median(ffs, RUNS);
	res->gp = bench_median(gps, RUNS);
	res->scan = bench_median(scans, RUNS);
	return 0;
}

/*
 * ---- several threads on one pool: the cost of sharing the lock-free stack ----
 * One granule at a time every operation moves the stack head's cache line
 * between cores; the bulk pair (the page_pool refill and token-return shape)
 * moves it once per 64 granules.
 */

struct mt_arg {
	struct gen_pool *pool;
	long pairs;
	double ns;
	uint64_t seed;
	bool bulk;
};

#define BULK 64

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
	unsigned long *held = malloc((HELD + 1) * sizeof(*held));
	uint64_t rng = a->seed;

	if (!held)
		return NULL;
	for (int i = 0; i < HELD; i++)
		held[i] = gen_pool_alloc(a->pool, PAGE_SIZE);
	a->ns = a->bulk ? bulk_cycles(a->pool, a->pairs) :
			  genpool_pairs(a->pool, held, HELD, a->pairs, &rng);
	for (int i = 0; i < HELD; i++)
		gen_pool_free(a->pool, held[i], PAGE_SIZE);
	free(held);
	return NULL;
}

static double bench_threads(int nr, bool bulk)
{
	struct mt_arg args[MT_THREADS];
	pthread_t t[MT_THREADS];
	struct gen_pool *pool;
	double worst = 0;

	if (gen_pool_create(PAGE_SHIFT, &pool) ||
	    gen_pool_add(pool, BASE, (size_t)NR_GRANULES * PAGE_SIZE))
		return -1;
	for (int i = 0; i < nr; i++) {
		args[i] = (struct mt_arg){
			.pool = pool, .pairs = 2000000, .seed = 99 + i, .bulk = bulk
		};
		pthread_create(&t[i], NULL, mt_worker, &args[i]);
	}
	for (int i = 0; i < nr; i++) {
		pthread_join(t[i], NULL);
		worst = max(worst, args[i].ns);
	}
	gen_pool_destroy(pool);
	return worst;
}

int main(void)
{
	static const unsigned int pcts[] = { 0, 50, 90, 99 };
	struct result res[ARRAY_SIZE(pcts)];
	uint32_t *perm = malloc(NR_GRANULES * sizeof(*perm));
	struct firstfit *ff = malloc(sizeof(*ff));
	double one[RUNS], two[RUNS], one_bulk[RUNS], two_bulk[RUNS];
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
	free(perm);
	free(ff);

	bench_header("alloc+free pair at constant occupancy, random scattered pre-fill");
	for (size_t i = 0; i < ARRAY_SIZE(pcts); i++) {
		snprintf(what, sizeof(what), "%2u%%: first-fit bitmap (baseline)", pcts[i]);
		bench_row(what, res[i].ff, "ns", NULL);
		snprintf(what, sizeof(what), "%2u%%: first-fit mean scan length", pcts[i]);
		bench_row(what, res[i].scan, "words", NULL);
		snprintf(what, sizeof(what), "%2u%%: gen_pool (free stack)", pcts[i]);
		bench_row(what, res[i].gp, "ns", NULL);
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
	}
	bench_header("gen_pool shared by threads (each holds 4096, alloc+free pairs)");
	bench_row("1 thread: alloc+free pair", bench_median(one, RUNS), "ns", NULL);
	snprintf(what, sizeof(what), "%d threads at once: alloc+free pair, slowest thread",
		 MT_THREADS);
	bench_row(what, bench_median(two, RUNS), "ns", NULL);
	bench_row("1 thread: bulk alloc+free of 64, per granule", bench_median(one_bulk, RUNS),
		  "ns", NULL);
	snprintf(what, sizeof(what), "%d threads: bulk alloc+free of 64, per granule", MT_THREADS);
	bench_row(what, bench_median(two_bulk, RUNS), "ns", NULL);
	return 0;
}
