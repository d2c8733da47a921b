// SPDX-License-Identifier: MIT
/*
 * The chunk allocator under concurrent use, shaped like devmem's: queue
 * threads allocate granules one at a time and in bulk (page_pool refills),
 * hand most of them to "sockets" (a shared pile), and other threads return
 * them in bursts (SO_DEVMEM_DONTNEED), so a granule is often freed by a thread
 * other than the one that allocated it. The pool is small, so it runs dry and
 * refills all the time (6 threads taking bursts of up to 64 from 192).
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

static struct gen_pool *pool;
static int chunk_owner[CHUNKS];
static uint8_t owned[NR_GRANULES]; /* atomic: 1 while someone holds the granule */
static int stop; /* atomic */
static uint64_t n_allocs, n_frees, n_dry; /* atomic */

/* The sockets' pile of held fragments, returned by whoever gets to them. */
static pthread_mutex_t pile_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long pile[NR_GRANULES]; /* protected by pile_lock */
static int pile_len; /* protected by pile_lock */

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

static void *worker(void *arg)
{
	uint64_t rng = 0x9e3779b97f4a7c15ULL * (uintptr_t)arg;
	unsigned long addrs[BURST];

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		int n = alloc_burst(addrs, &rng), keep;

		/* the queue recycles a few itself, the rest go up to the sockets */
		keep = n ? (int)(stress_rand(&rng) % (n + 1)) / 4 : 0;
		free_burst(addrs, keep, &rng);
		pile_put(addrs + keep, n - keep);

		/* a burst of token returns: mostly granules other threads allocated */
		n = pile_take(addrs, BURST, &rng);
		free_burst(addrs, n, &rng);
		if (stress_rand(&rng) % 16 == 0)
			sched_yield();
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

int main(void)
{
	pthread_t threads[THREADS], watch;
	unsigned long rest[BURST];
	double end;
	uint64_t rng = 1;
	int n;

	stress_check(NAME, gen_pool_create(PAGE_SHIFT, &pool) == 0, "gen_pool_create");
	for (int c = 0; c < CHUNKS; c++)
		stress_check(NAME,
			     gen_pool_add_owner(pool, BASE + c * CHUNK_STRIDE,
						CHUNK_GRANULES * PAGE_SIZE, &chunk_owner[c]) == 0,
			     "gen_pool_add_owner");

	for (uintptr_t i = 0; i < THREADS; i++)
		pthread_create(&threads[i], NULL, worker, (void *)(i + 1));
	pthread_create(&watch, NULL, watcher, NULL);
	end = stress_now() + stress_seconds();
	while (stress_now() < end) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < THREADS; i++)
		pthread_join(threads[i], NULL);
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

	printf("%s: ok (%llu allocations, %llu frees, %llu times dry, %d threads)\n", NAME,
	       (unsigned long long)n_allocs, (unsigned long long)n_frees, (unsigned long long)n_dry,
	       THREADS);
	return 0;
}
