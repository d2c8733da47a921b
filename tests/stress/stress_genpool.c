// SPDX-License-Identifier: MIT
/*
 * The chunk allocator under concurrent use, shaped like devmem's: queue
 * threads allocate granules one at a time and in bulk (page_pool refills),
 * hand most of them to "sockets" (a shared pile), and other threads return
 * them in bursts (SO_DEVMEM_DONTNEED), so a granule is often freed by a thread
 * other than the one that allocated it, into that thread's magazine. The pool
 * is small, so it runs dry and refills all the time (6 threads taking bursts
 * of up to 64 from 192, when each thread's magazine alone holds up to 128):
 * most allocations that find their magazine empty have to take granules back
 * from other threads' magazines.
 *
 * Each phase of work ends with an exact fit, on a third pool that has exactly
 * FIT_PER granules per worker: every worker allocates its FIT_PER at once,
 * then one of them frees them all (into its own magazine), again and again.
 * Every worker must get its share: the pool may never look empty while a
 * granule is free somewhere, also while thieves race each other.
 *
 * The run is cut in rounds, each with fresh threads (so slots are given back
 * and reused, and exiting threads hand their magazines back). Twice a round
 * every worker parks, alive, with whatever its magazines hold; then:
 *  - gen_pool_avail() must be exact;
 *  - allocating until the pool reports empty must get every granule that is
 *    not in the pile: exhaustion is reported only when the pool is empty;
 *  - the first time, a second, small pool the workers also use is destroyed
 *    with granules in their magazines and replaced (often at the same
 *    address), which they use after they resume.
 *
 * Checked as it goes:
 *  - no granule is ever handed out twice (a per-granule atomic ownership flag);
 *  - every address is granule-aligned, inside the chunk whose owner came back;
 *  - gen_pool_avail() stays within [0, size].
 * At the end every granule is free again and avail equals size.
 */
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <string.h>

#include "lib/compiler.h"
#include "lib/genpool.h"
#include "stress.h"

#define NAME "stress_genpool"
#define THREADS 6
#define CHUNKS 4
#define CHUNK_GRANULES 48
#define NR_GRANULES (CHUNKS * CHUNK_GRANULES)
#define BURST 64
#define BASE 0x7f0000000000UL
#define CHUNK_STRIDE (1UL << 32)
#define SIDE_BASE 0x10000000UL
#define SIDE_GRANULES 32
#define PHASES 2
#define FIT_BASE 0x20000000UL
#define FIT_PER 16
#define FIT_REPS 40

static struct gen_pool *pool;
static int chunk_owner[CHUNKS];
static uint8_t owned[NR_GRANULES]; /* atomic: 1 while someone holds the granule */
static int stop; /* atomic: the run is over */
static int park; /* atomic: workers park at the end of their phase */
static uint64_t n_allocs, n_frees, n_dry, n_checks; /* atomic */

/* The sockets' pile of held fragments, returned by whoever gets to them. */
static pthread_mutex_t pile_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long pile[NR_GRANULES]; /* protected by pile_lock */
static int pile_len; /* protected by pile_lock */

/* Replaced by the main thread while every worker is parked (the barriers order it). */
static struct gen_pool *side;
static uint8_t side_owned[SIDE_GRANULES]; /* atomic, like owned[] */

static pthread_barrier_t parked, resumed; /* the workers and the main thread */

static struct gen_pool *fit; /* THREADS * FIT_PER granules */
static unsigned long fit_held[THREADS][FIT_PER]; /* each worker's share; the barriers order it */
static uint8_t fit_owned[THREADS * FIT_PER]; /* atomic, like owned[] */
static pthread_barrier_t fit_turn; /* the workers */

static int granule_index(unsigned long addr, void *owner)
{
	int c = (int)((addr - BASE) / CHUNK_STRIDE);
	unsigned long off = addr - BASE - c * CHUNK_STRIDE;

	stress_check(NAME, c >= 0 && c < CHUNKS && off < CHUNK_GRANULES * PAGE_SIZE,
		     "address %#lx outside every chunk", addr);
	stress_check(NAME, IS_ALIGNED(off, PAGE_SIZE), "address %#lx not granule-aligned", addr);
	stress_check(NAME, !owner || owner == &chunk_owner[c], "address %#lx came with owner %p",
		     addr, owner);
	return c * CHUNK_GRANULES + (int)(off / PAGE_SIZE);
}

static void take(unsigned long addr, void *owner)
{
	int i = granule_index(addr, owner);

	stress_check(NAME, !__atomic_exchange_n(&owned[i], 1, __ATOMIC_RELAXED),
		     "granule %#lx handed out twice", addr);
	__atomic_fetch_add(&n_allocs, 1, __ATOMIC_RELAXED);
}

/* Drop ownership before the free: once freed, another thread may get it at once. */
static void give_back(unsigned long addr)
{
	int i = granule_index(addr, NULL);

	stress_check(NAME, __atomic_exchange_n(&owned[i], 0, __ATOMIC_RELAXED),
		     "granule %#lx freed while not held", addr);
	__atomic_fetch_add(&n_frees, 1, __ATOMIC_RELAXED);
}

static void pile_put(const unsigned long *addrs, int n)
{
	pthread_mutex_lock(&pile_lock);
	memcpy(&pile[pile_len], addrs, n * sizeof(*addrs));
	pile_len += n;
	pthread_mutex_unlock(&pile_lock);
}

static int pile_take(unsigned long *addrs, int max, uint64_t *rng)
{
	int n = 1 + (int)(stress_rand(rng) % max);

	pthread_mutex_lock(&pile_lock);
	n = min(n, pile_len);
	/* take from random places, not just the top: tokens come back in any order */
	for (int i = 0; i < n; i++) {
		int j = (int)(stress_rand(rng) % pile_len);

		addrs[i] = pile[j];
		pile[j] = pile[--pile_len];
	}
	pthread_mutex_unlock(&pile_lock);
	return n;
}

static void free_burst(unsigned long *addrs, int n, uint64_t *rng)
{
	for (int i = 0; i < n; i++)
		give_back(addrs[i]);
	if (stress_rand(rng) % 2) {
		gen_pool_free_bulk(pool, addrs, n);
	} else {
		for (int i = 0; i < n; i++) {
			void *owner;

			gen_pool_free_owner(pool, addrs[i], PAGE_SIZE, &owner);
			granule_index(addrs[i], owner);
		}
	}
}

static int alloc_burst(unsigned long *addrs, uint64_t *rng)
{
	void *owners[BURST];
	int want = 1 + (int)(stress_rand(rng) % BURST), n = 0;

	if (stress_rand(rng) % 2) {
		n = gen_pool_alloc_bulk(pool, addrs, owners, want);
	} else {
		while (n < want) {
			addrs[n] = gen_pool_alloc_owner(pool, PAGE_SIZE, &owners[n]);
			if (!addrs[n])
				break;
			n++;
		}
	}
	for (int i = 0; i < n; i++)
		take(addrs[i], owners[i]);
	if (n < want)
		__atomic_fetch_add(&n_dry, 1, __ATOMIC_RELAXED);
	return n;
}

static int side_index(unsigned long addr)
{
	unsigned long off = addr - SIDE_BASE;

	stress_check(NAME, off < SIDE_GRANULES * PAGE_SIZE && IS_ALIGNED(off, PAGE_SIZE),
		     "side address %#lx", addr);
	return (int)(off / PAGE_SIZE);
}

/* A few granules of the side pool, freed at once: they stay in this thread's magazine. */
static void side_burst(uint64_t *rng)
{
	unsigned long addrs[8];
	int n = gen_pool_alloc_bulk(side, addrs, NULL, 1 + (int)(stress_rand(rng) % 8));

	for (int i = 0; i < n; i++)
		stress_check(NAME,
			     !__atomic_exchange_n(&side_owned[side_index(addrs[i])], 1,
						  __ATOMIC_RELAXED),
			     "side granule %#lx handed out twice", addrs[i]);
	for (int i = 0; i < n; i++)
		__atomic_store_n(&side_owned[side_index(addrs[i])], 0, __ATOMIC_RELAXED);
	if (stress_rand(rng) % 2) {
		gen_pool_free_bulk(side, addrs, n);
	} else {
		for (int i = 0; i < n; i++)
			gen_pool_free(side, addrs[i], PAGE_SIZE);
	}
}

static void work(uint64_t *rng)
{
	unsigned long addrs[BURST];

	while (!__atomic_load_n(&park, __ATOMIC_RELAXED)) {
		int n = alloc_burst(addrs, rng), keep;

		/* the queue recycles a few itself, the rest go up to the sockets */
		keep = n ? (int)(stress_rand(rng) % (n + 1)) / 4 : 0;
		free_burst(addrs, keep, rng);
		pile_put(addrs + keep, n - keep);

		/* a burst of token returns: mostly granules other threads allocated */
		n = pile_take(addrs, BURST, rng);
		free_burst(addrs, n, rng);
		if (stress_rand(rng) % 8 == 0)
			side_burst(rng);
		if (stress_rand(rng) % 16 == 0)
			sched_yield();
	}
}

static void fit_take(unsigned long addr)
{
	unsigned long off = addr - FIT_BASE;

	stress_check(NAME, off < THREADS * FIT_PER * PAGE_SIZE && IS_ALIGNED(off, PAGE_SIZE),
		     "fit address %#lx", addr);
	stress_check(NAME, !__atomic_exchange_n(&fit_owned[off / PAGE_SIZE], 1, __ATOMIC_RELAXED),
		     "fit granule %#lx handed out twice", addr);
}

/* Every worker takes its share of the fit pool at once; then worker (rep % THREADS) frees all. */
static void fit_phase(int me, uint64_t *rng)
{
	for (int rep = 0; rep < FIT_REPS; rep++) {
		unsigned long *mine = fit_held[me];
		int got = 0, k;

		while (got < FIT_PER) {
			if (stress_rand(rng) % 2) {
				k = gen_pool_alloc_bulk(fit, mine + got, NULL, FIT_PER - got);
				if (!k)
					break;
				for (int i = 0; i < k; i++)
					fit_take(mine[got + i]);
				got += k;
			} else {
				mine[got] = gen_pool_alloc(fit, PAGE_SIZE);
				if (!mine[got])
					break;
				fit_take(mine[got++]);
			}
		}
		stress_check(NAME, got == FIT_PER,
			     "fit pool looked empty to a worker with %d of its %d granules", got,
			     FIT_PER);
		pthread_barrier_wait(&fit_turn);
		if (rep % THREADS == me) {
			for (int t = 0; t < THREADS; t++) {
				for (int i = 0; i < FIT_PER; i++)
					__atomic_store_n(
						&fit_owned[(fit_held[t][i] - FIT_BASE) / PAGE_SIZE],
						0, __ATOMIC_RELAXED);
				if (stress_rand(rng) % 2) {
					gen_pool_free_bulk(fit, fit_held[t], FIT_PER);
				} else {
					for (int i = 0; i < FIT_PER; i++)
						gen_pool_free(fit, fit_held[t][i], PAGE_SIZE);
				}
			}
		}
		pthread_barrier_wait(&fit_turn);
	}
}

static void *worker(void *arg)
{
	uint64_t rng = 0x9e3779b97f4a7c15ULL * (uintptr_t)arg;
	int me = (int)(((uintptr_t)arg - 1) % THREADS);

	for (int phase = 0; phase < PHASES; phase++) {
		work(&rng);
		fit_phase(me, &rng);
		/* parked with whatever our magazines hold, alive */
		pthread_barrier_wait(&parked);
		pthread_barrier_wait(&resumed);
	}
	return NULL;
}

static void *watcher(void *arg)
{
	size_t size = gen_pool_size(pool);

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		size_t avail = gen_pool_avail(pool);

		stress_check(NAME, avail <= size, "avail %zu above size %zu", avail, size);
		sched_yield();
	}
	return NULL;
}

/*
 * Every worker is parked: the pool must give every granule not in the pile,
 * from the workers' magazines as much as from the shared stack, then say empty.
 */
static void check_exhaustion(uint64_t *rng)
{
	unsigned long got[NR_GRANULES], addr;
	int n = 0, free_now, k;
	void *owner;

	pthread_mutex_lock(&pile_lock);
	free_now = NR_GRANULES - pile_len;
	pthread_mutex_unlock(&pile_lock);

	stress_check(NAME, gen_pool_avail(pool) == (size_t)free_now * PAGE_SIZE,
		     "avail %zu with %d granules free and every other thread parked",
		     gen_pool_avail(pool), free_now);
	while (n < NR_GRANULES) {
		if (stress_rand(rng) % 2) {
			k = gen_pool_alloc_bulk(pool, got + n, NULL, min(BURST, NR_GRANULES - n));
			if (!k)
				break;
			for (int i = 0; i < k; i++)
				take(got[n + i], NULL);
			n += k;
		} else {
			addr = gen_pool_alloc_owner(pool, PAGE_SIZE, &owner);
			if (!addr)
				break;
			take(addr, owner);
			got[n++] = addr;
		}
	}
	stress_check(NAME, n == free_now, "pool reported empty after %d of %d free granules", n,
		     free_now);
	stress_check(NAME, !gen_pool_alloc(pool, PAGE_SIZE), "more granules than were free");
	free_burst(got, n, rng);
	__atomic_fetch_add(&n_checks, 1, __ATOMIC_RELAXED);
}

/* Every worker is parked with side granules in its magazines: destroy and replace the pool. */
static void replace_side(void)
{
	stress_check(NAME, gen_pool_avail(side) == gen_pool_size(side),
		     "side pool: avail %zu of %zu with nothing held", gen_pool_avail(side),
		     gen_pool_size(side));
	gen_pool_destroy(side);
	stress_check(NAME, gen_pool_create(PAGE_SHIFT, &side) == 0, "gen_pool_create");
	stress_check(NAME, gen_pool_add(side, SIDE_BASE, SIDE_GRANULES * PAGE_SIZE) == 0,
		     "gen_pool_add");
}

static void run_round(double round_seconds, uint64_t *rng, uintptr_t *seed)
{
	pthread_t threads[THREADS];

	for (int i = 0; i < THREADS; i++)
		pthread_create(&threads[i], NULL, worker, (void *)++*seed);
	for (int phase = 0; phase < PHASES; phase++) {
		struct timespec ts = { 0, (long)(round_seconds / PHASES * 1e9) };

		nanosleep(&ts, NULL);
		__atomic_store_n(&park, 1, __ATOMIC_RELAXED);
		pthread_barrier_wait(&parked);
		check_exhaustion(rng);
		if (phase == 0) {
			side_burst(rng); /* some in this thread's magazine too */
			replace_side();
		}
		__atomic_store_n(&park, 0, __ATOMIC_RELAXED);
		pthread_barrier_wait(&resumed);
	}
	/* their magazines go back to the pools as they exit */
	for (int i = 0; i < THREADS; i++)
		pthread_join(threads[i], NULL);
}

int main(void)
{
	double end, round_seconds = min(stress_seconds() / 8, 0.25);
	pthread_t watch;
	unsigned long rest[BURST];
	uintptr_t seed = 0;
	uint64_t rng = 1;
	int n, rounds = 0;

	stress_check(NAME, gen_pool_create(PAGE_SHIFT, &pool) == 0, "gen_pool_create");
	for (int c = 0; c < CHUNKS; c++)
		stress_check(NAME,
			     gen_pool_add_owner(pool, BASE + c * CHUNK_STRIDE,
						CHUNK_GRANULES * PAGE_SIZE, &chunk_owner[c]) == 0,
			     "gen_pool_add_owner");
	stress_check(NAME, gen_pool_create(PAGE_SHIFT, &side) == 0, "gen_pool_create");
	stress_check(NAME, gen_pool_add(side, SIDE_BASE, SIDE_GRANULES * PAGE_SIZE) == 0,
		     "gen_pool_add");
	stress_check(NAME, gen_pool_create(PAGE_SHIFT, &fit) == 0, "gen_pool_create");
	stress_check(NAME, gen_pool_add(fit, FIT_BASE, THREADS * FIT_PER * PAGE_SIZE) == 0,
		     "gen_pool_add");
	pthread_barrier_init(&parked, NULL, THREADS + 1);
	pthread_barrier_init(&resumed, NULL, THREADS + 1);
	pthread_barrier_init(&fit_turn, NULL, THREADS);

	pthread_create(&watch, NULL, watcher, NULL);
	end = stress_now() + stress_seconds();
	do {
		run_round(round_seconds, &rng, &seed);
		rounds++;
	} while (stress_now() < end);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_join(watch, NULL);

	while ((n = pile_take(rest, BURST, &rng)))
		free_burst(rest, n, &rng);
	for (int i = 0; i < NR_GRANULES; i++)
		stress_check(NAME, !owned[i], "granule %d still held at the end", i);
	stress_check(NAME, gen_pool_avail(pool) == gen_pool_size(pool),
		     "avail %zu != size %zu at the end", gen_pool_avail(pool), gen_pool_size(pool));
	stress_check(NAME, n_allocs == n_frees, "%llu allocations, %llu frees",
		     (unsigned long long)n_allocs, (unsigned long long)n_frees);
	/* every granule handed out once more proves the stack was not corrupted */
	for (int i = 0; i < NR_GRANULES; i++)
		stress_check(NAME, gen_pool_alloc(pool, PAGE_SIZE), "only %d granules left", i);
	stress_check(NAME, !gen_pool_alloc(pool, PAGE_SIZE), "more granules than the pool has");
	for (int c = 0; c < CHUNKS; c++)
		for (int g = 0; g < CHUNK_GRANULES; g++)
			gen_pool_free(pool, BASE + c * CHUNK_STRIDE + g * PAGE_SIZE, PAGE_SIZE);
	gen_pool_destroy(pool);
	gen_pool_destroy(side);
	stress_check(NAME, gen_pool_avail(fit) == gen_pool_size(fit), "fit pool: avail %zu of %zu",
		     gen_pool_avail(fit), gen_pool_size(fit));
	gen_pool_destroy(fit);
	pthread_barrier_destroy(&parked);
	pthread_barrier_destroy(&resumed);
	pthread_barrier_destroy(&fit_turn);

	printf("%s: ok (%llu allocations, %llu frees, %llu times dry, %llu exhaustion checks, "
	       "%d rounds of %d threads)\n",
	       NAME, (unsigned long long)n_allocs, (unsigned long long)n_frees,
	       (unsigned long long)n_dry, (unsigned long long)n_checks, rounds, THREADS);
	return 0;
}
