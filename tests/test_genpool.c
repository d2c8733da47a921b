// SPDX-License-Identifier: MIT
/* The chunk allocator: owned chunks, one granule at a time, O(1) at any occupancy. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "lib/debug.h"
#include "lib/genpool.h"

#define G PAGE_SIZE
#define BASE 0x100000000UL

static struct gen_pool *pool_new(void)
{
	struct gen_pool *pool;

	cr_assert_eq(gen_pool_create(PAGE_SHIFT, &pool), 0);
	return pool;
}

static int cmp_ulong(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

Test(genpool, alloc_free_roundtrip_returns_owner)
{
	struct gen_pool *pool = pool_new();
	int owner_a, owner_b;
	void *owner = NULL;
	unsigned long addr;

	cr_assert_eq(gen_pool_add_owner(pool, BASE, 4 * G, &owner_a), 0);
	cr_assert_eq(gen_pool_add_owner(pool, 2 * BASE, 4 * G, &owner_b), 0);
	for (int i = 0; i < 8; i++) {
		addr = gen_pool_alloc_owner(pool, G, &owner);
		cr_assert_neq(addr, 0);
		cr_assert_eq(owner, addr < 2 * BASE ? (void *)&owner_a : (void *)&owner_b);
	}
	cr_assert_eq(gen_pool_alloc_owner(pool, G, &owner), 0);
	cr_assert_null(owner);

	gen_pool_free_owner(pool, BASE + 3 * G, G, &owner);
	cr_assert_eq(owner, &owner_a);
	gen_pool_free_owner(pool, 2 * BASE, G, &owner);
	cr_assert_eq(owner, &owner_b);
	/* LIFO: the last granule returned is the first handed out again */
	cr_assert_eq(gen_pool_alloc_owner(pool, G, &owner), 2 * BASE);
	cr_assert_eq(owner, &owner_b);
	gen_pool_free_owner(pool, 2 * BASE, G, NULL);
	for (int i = 0; i < 8; i++) {
		unsigned long a = i < 4 ? BASE + i * G : 2 * BASE + (i - 4) * G;

		if (a != BASE + 3 * G && a != 2 * BASE)
			gen_pool_free(pool, a, G);
	}
	cr_assert_eq(gen_pool_avail(pool), 8 * G);
	gen_pool_destroy(pool);
}

/* As in the kernel's genpool: granules are cut from wherever the chunk starts. */
Test(genpool, a_chunk_at_an_unaligned_address_is_cut_from_its_start)
{
	struct gen_pool *pool;
	const unsigned long base = 0x10000 + 0x1000; /* 4 KiB into a 64 KiB granule */
	unsigned long addr, seen = 0;
	void *owner;
	int n = 0, tag;

	cr_assert_eq(gen_pool_create(16, &pool), 0);
	cr_assert_eq(gen_pool_add_owner(pool, base, 4 << 16, &tag), 0);
	cr_assert(gen_pool_has_addr(pool, base, 4 << 16));
	cr_assert_not(gen_pool_has_addr(pool, base - 1, 1));
	while ((addr = gen_pool_alloc_owner(pool, 1 << 16, &owner))) {
		cr_assert_eq(owner, &tag);
		cr_assert_eq((addr - base) % (1 << 16), 0, "%#lx not cut from the start", addr);
		cr_assert(addr >= base && addr + (1 << 16) <= base + (4 << 16));
		seen |= 1UL << ((addr - base) >> 16);
		n++;
	}
	cr_assert_eq(n, 4);
	cr_assert_eq(seen, 0xf, "every granule once");
	for (int i = 0; i < 4; i++)
		gen_pool_free(pool, base + ((unsigned long)i << 16), 1 << 16);
	cr_assert_eq(gen_pool_avail(pool), 4 << 16);
	gen_pool_destroy(pool);
}

Test(genpool, addresses_stay_inside_their_chunk_and_are_granule_aligned)
{
	struct gen_pool *pool;
	int owners[3];
	const unsigned long base[3] = { 0x10000, 0x7000000, 0x20000000 };
	const size_t size[3] = { 16 << 16, 3 << 16, 40 << 16 };
	unsigned long addr;
	void *owner;
	int n = 0;

	cr_assert_eq(gen_pool_create(16, &pool), 0); /* 64 KiB granules */
	for (int c = 0; c < 3; c++)
		cr_assert_eq(gen_pool_add_owner(pool, base[c], size[c], &owners[c]), 0);
	while ((addr = gen_pool_alloc_owner(pool, 1 << 16, &owner))) {
		int c = (int *)owner - owners;

		cr_assert(c >= 0 && c < 3);
		cr_assert(addr >= base[c] && addr + (1 << 16) <= base[c] + size[c],
			  "%#lx outside chunk %d", addr, c);
		cr_assert(IS_ALIGNED(addr, 1UL << 16));
		n++;
	}
	cr_assert_eq(n, 16 + 3 + 40);
	for (int c = 0; c < 3; c++)
		for (unsigned long a = base[c]; a < base[c] + size[c]; a += 1 << 16)
			gen_pool_free(pool, a, 1 << 16);
	gen_pool_destroy(pool);
}

Test(genpool, every_granule_allocated_exactly_once_until_exhausted)
{
	enum { N = 4096 };
	struct gen_pool *pool = pool_new();
	unsigned long *got = calloc(N, sizeof(*got));

	cr_assert_eq(gen_pool_add(pool, BASE, N * G), 0);
	for (int i = 0; i < N; i++) {
		got[i] = gen_pool_alloc(pool, G);
		cr_assert_neq(got[i], 0, "granule %d of %d not handed out", i, N);
	}
	cr_assert_eq(gen_pool_alloc(pool, G), 0);
	cr_assert_eq(gen_pool_avail(pool), 0);
	qsort(got, N, sizeof(*got), cmp_ulong);
	for (int i = 0; i < N; i++)
		cr_assert_eq(got[i], BASE + i * G, "granule %d handed out twice or never", i);
	for (int i = 0; i < N; i++)
		gen_pool_free(pool, got[i], G);
	free(got);
	gen_pool_destroy(pool);
}

Test(genpool, free_makes_the_granule_available_again)
{
	struct gen_pool *pool = pool_new();
	unsigned long a, b;

	cr_assert_eq(gen_pool_add(pool, BASE, 2 * G), 0);
	a = gen_pool_alloc(pool, G);
	b = gen_pool_alloc(pool, G);
	cr_assert(a && b && a != b);
	cr_assert_eq(gen_pool_alloc(pool, G), 0);
	gen_pool_free(pool, a, G);
	cr_assert_eq(gen_pool_avail(pool), G);
	cr_assert_eq(gen_pool_alloc(pool, G), a);
	gen_pool_free(pool, a, G);
	gen_pool_free(pool, b, G);
	gen_pool_destroy(pool);
}

Test(genpool, has_addr_inside_outside_and_straddling)
{
	struct gen_pool *pool = pool_new();

	cr_assert_eq(gen_pool_add(pool, BASE, 4 * G), 0);
	cr_assert_eq(gen_pool_add(pool, BASE + 4 * G, 4 * G), 0); /* adjacent, still two chunks */
	cr_assert(gen_pool_has_addr(pool, BASE, 4 * G));
	cr_assert(gen_pool_has_addr(pool, BASE + 1, 1));
	cr_assert(gen_pool_has_addr(pool, BASE + 8 * G - 1, 1));
	cr_assert(gen_pool_has_addr(pool, BASE + 5 * G, 3 * G));
	cr_assert_not(gen_pool_has_addr(pool, BASE - 1, 1));
	cr_assert_not(gen_pool_has_addr(pool, BASE - 1, 2), "straddles the start");
	cr_assert_not(gen_pool_has_addr(pool, BASE + 8 * G, 1));
	cr_assert_not(gen_pool_has_addr(pool, BASE + 3 * G, 2 * G), "straddles two chunks");
	cr_assert_not(gen_pool_has_addr(pool, BASE + 7 * G, 2 * G), "straddles the end");
	cr_assert_not(gen_pool_has_addr(pool, BASE, 0));
	cr_assert_not(gen_pool_has_addr(pool, BASE, ~0UL), "wraps");
	cr_assert_not(gen_pool_has_addr(pool, 1, G));
	gen_pool_destroy(pool);
}

Test(genpool, avail_and_size_account_in_bytes)
{
	struct gen_pool *pool = pool_new();
	unsigned long addrs[5];
	void *owners[5];

	cr_assert_eq(gen_pool_size(pool), 0);
	cr_assert_eq(gen_pool_avail(pool), 0);
	cr_assert_eq(gen_pool_alloc(pool, G), 0, "an empty pool has nothing to give");
	cr_assert_eq(gen_pool_add(pool, BASE, 3 * G), 0);
	cr_assert_eq(gen_pool_add_owner(pool, 3 * BASE, 5 * G, pool), 0);
	cr_assert_eq(gen_pool_size(pool), 8 * G);
	cr_assert_eq(gen_pool_avail(pool), 8 * G);
	cr_assert_eq(gen_pool_granule(pool), G);

	cr_assert_eq(gen_pool_alloc_bulk(pool, addrs, owners, 5), 5);
	cr_assert_eq(gen_pool_avail(pool), 3 * G);
	cr_assert_eq(gen_pool_size(pool), 8 * G);
	for (int i = 0; i < 5; i++) {
		cr_assert(gen_pool_has_addr(pool, addrs[i], G));
		cr_assert_eq(owners[i], addrs[i] >= 3 * BASE ? pool : NULL);
	}
	cr_assert_eq(gen_pool_alloc_bulk(pool, addrs + 0, NULL, 0), 0);
	gen_pool_free_bulk(pool, addrs, 5);
	cr_assert_eq(gen_pool_avail(pool), 8 * G);
	gen_pool_destroy(pool);
}

Test(genpool, bulk_alloc_takes_what_is_left_and_bulk_free_returns_all)
{
	struct gen_pool *pool = pool_new();
	unsigned long addrs[16];

	cr_assert_eq(gen_pool_add(pool, BASE, 10 * G), 0);
	cr_assert_eq(gen_pool_alloc_bulk(pool, addrs, NULL, 16), 10);
	cr_assert_eq(gen_pool_alloc_bulk(pool, addrs + 10, NULL, 16), 0);
	qsort(addrs, 10, sizeof(*addrs), cmp_ulong);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(addrs[i], BASE + i * G);
	gen_pool_free_bulk(pool, addrs, 10);
	cr_assert_eq(gen_pool_avail(pool), 10 * G);
	cr_assert_eq(gen_pool_alloc_bulk(pool, addrs, NULL, 4), 4);
	cr_assert_eq(gen_pool_avail(pool), 6 * G);
	gen_pool_free_bulk(pool, addrs, 4);
	gen_pool_destroy(pool);
}

Test(genpool, bad_input_is_refused_and_changes_nothing)
{
	struct gen_pool *pool = pool_new();
	void *owner = &owner;

	cr_assert_eq(gen_pool_create(GEN_POOL_MAX_ORDER + 1, &(struct gen_pool *){ NULL }),
		     -EINVAL);
	cr_assert_eq(gen_pool_create((unsigned int)-1, &(struct gen_pool *){ NULL }), -EINVAL);
	cr_assert_eq(gen_pool_add(pool, BASE, 0), -EINVAL, "zero size");
	cr_assert_eq(gen_pool_add(pool, BASE, G + 512), -EINVAL, "unaligned size");
	cr_assert_eq(gen_pool_add(pool, 0, G), -EINVAL, "address 0 means failure");
	cr_assert_eq(gen_pool_add(pool, -G, 2 * G), -EINVAL, "wraps");
	cr_assert_eq(gen_pool_size(pool), 0);

	cr_assert_eq(gen_pool_add(pool, BASE, 4 * G), 0);
	cr_assert_eq(gen_pool_add(pool, BASE, 4 * G), -EINVAL, "same chunk");
	cr_assert_eq(gen_pool_add(pool, BASE + 3 * G, 2 * G), -EINVAL, "overlaps the end");
	cr_assert_eq(gen_pool_add(pool, BASE - G, 2 * G), -EINVAL, "overlaps the start");
	cr_assert_eq(gen_pool_add(pool, BASE - G, 6 * G), -EINVAL, "covers it");
	cr_assert_eq(gen_pool_add(pool, BASE + G, G), -EINVAL, "inside it");
	cr_assert_eq(gen_pool_size(pool), 4 * G);
	cr_assert_eq(gen_pool_avail(pool), 4 * G);

	cr_assert_eq(gen_pool_alloc_owner(pool, 2 * G, &owner), 0, "size is not the granule");
	cr_assert_null(owner);
	cr_assert_eq(gen_pool_alloc(pool, G / 2), 0);
	cr_assert_eq(gen_pool_alloc(pool, 0), 0);
	cr_assert_eq(gen_pool_avail(pool), 4 * G);
	/* nothing was taken: all four are still there */
	for (int i = 0; i < 4; i++)
		cr_assert_neq(gen_pool_alloc(pool, G), 0);
	for (int i = 0; i < 4; i++)
		gen_pool_free(pool, BASE + i * G, G);
	gen_pool_destroy(pool);
}

Test(genpool, chunk_owner_finds_the_chunk_holding_an_address)
{
	struct gen_pool *pool = pool_new();
	int a, b;

	/* added out of address order on purpose */
	cr_assert_eq(gen_pool_add_owner(pool, 2 * BASE, 2 * G, &b), 0);
	cr_assert_eq(gen_pool_add_owner(pool, BASE, 2 * G, &a), 0);
	cr_assert_eq(gen_pool_chunk_owner(pool, BASE), &a);
	cr_assert_eq(gen_pool_chunk_owner(pool, BASE + 2 * G - 1), &a);
	cr_assert_null(gen_pool_chunk_owner(pool, BASE + 2 * G));
	cr_assert_null(gen_pool_chunk_owner(pool, BASE - 1));
	cr_assert_eq(gen_pool_chunk_owner(pool, 2 * BASE + G), &b);
	cr_assert_null(gen_pool_chunk_owner(pool, 3 * BASE));
	gen_pool_destroy(pool);
}

static void count_chunk(struct gen_pool *pool, struct gen_pool_chunk *chunk, void *data)
{
	unsigned long *bytes = data;

	*bytes += chunk->end_addr - chunk->start_addr + 1;
}

Test(genpool, many_chunks_of_varying_sizes_like_an_sg_table)
{
	enum { CHUNKS = 1000 };
	struct gen_pool *pool = pool_new();
	unsigned long *addrs, total = 0, walked = 0, a;
	int *owners = calloc(CHUNKS, sizeof(*owners));
	int n = 0, order[CHUNKS];
	void *owner;

	/* sizes 1..7 granules, holes between them, added in a shuffled order */
	for (int i = 0; i < CHUNKS; i++)
		order[i] = i;
	srand(1);
	for (int i = CHUNKS - 1; i > 0; i--) {
		int j = rand() % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (int k = 0; k < CHUNKS; k++) {
		int i = order[k];

		cr_assert_eq(
			gen_pool_add_owner(pool, BASE + i * 8 * G, (1 + i % 7) * G, &owners[i]), 0);
		total += (1 + i % 7) * G;
	}
	cr_assert_eq(gen_pool_size(pool), total);
	gen_pool_for_each_chunk(pool, count_chunk, &walked);
	cr_assert_eq(walked, total);

	addrs = calloc(total / G, sizeof(*addrs));
	while ((a = gen_pool_alloc_owner(pool, G, &owner))) {
		int i = (int *)owner - owners;

		cr_assert(i >= 0 && i < CHUNKS);
		cr_assert(a >= BASE + i * 8 * G && a < BASE + i * 8 * G + (1 + i % 7) * G);
		cr_assert_eq(gen_pool_chunk_owner(pool, a), owner);
		addrs[n++] = a;
	}
	cr_assert_eq((unsigned long)n, total / G);
	qsort(addrs, n, sizeof(*addrs), cmp_ulong);
	for (int i = 1; i < n; i++)
		cr_assert_neq(addrs[i], addrs[i - 1], "%#lx handed out twice", addrs[i]);
	cr_assert_not(gen_pool_has_addr(pool, BASE + 7 * G, G), "the hole after chunk 0");
	gen_pool_free_bulk(pool, addrs, n);
	cr_assert_eq(gen_pool_avail(pool), total);
	free(addrs);
	free(owners);
	gen_pool_destroy(pool);
}

/*
 * A thread that frees granules (they land in its own magazine) and then stays
 * alive, doing nothing, until told to go: the granules stay in its magazine.
 */
struct helper {
	pthread_t thread;
	struct gen_pool *pool;
	const unsigned long *frees;
	int nr_frees;
	bool bulk;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stage; /* protected by lock: 0 started, 1 freed and parked, 2 told to go */
};

static void *helper_fn(void *arg)
{
	struct helper *h = arg;

	if (h->bulk) {
		gen_pool_free_bulk(h->pool, h->frees, h->nr_frees);
	} else {
		for (int i = 0; i < h->nr_frees; i++)
			gen_pool_free(h->pool, h->frees[i], G);
	}
	pthread_mutex_lock(&h->lock);
	h->stage = 1;
	pthread_cond_broadcast(&h->cond);
	while (h->stage != 2)
		pthread_cond_wait(&h->cond, &h->lock);
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

/* Start @h freeing @n granules of @frees into its magazine; returns once they are freed. */
static void helper_start(struct helper *h, struct gen_pool *pool, const unsigned long *frees, int n,
			 bool bulk)
{
	*h = (struct helper){ .pool = pool, .frees = frees, .nr_frees = n, .bulk = bulk };
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	cr_assert_eq(pthread_create(&h->thread, NULL, helper_fn, h), 0);
	pthread_mutex_lock(&h->lock);
	while (h->stage != 1)
		pthread_cond_wait(&h->cond, &h->lock);
	pthread_mutex_unlock(&h->lock);
}

/* Let @h exit and wait for it. */
static void helper_finish(struct helper *h)
{
	pthread_mutex_lock(&h->lock);
	h->stage = 2;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thread, NULL);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
}

Test(genpool, granule_freed_on_one_thread_is_allocated_on_another)
{
	struct gen_pool *pool = pool_new();
	unsigned long got[4], again[4];
	struct helper h;

	cr_assert_eq(gen_pool_add(pool, BASE, 4 * G), 0);
	for (int i = 0; i < 4; i++)
		got[i] = gen_pool_alloc(pool, G);
	cr_assert_eq(gen_pool_avail(pool), 0);
	/* all four now sit in the helper's magazine, and the helper stays alive */
	helper_start(&h, pool, got, 4, false);
	cr_assert_eq(gen_pool_avail(pool), 4 * G, "granules in a magazine are free");
	for (int i = 0; i < 4; i++) {
		again[i] = gen_pool_alloc(pool, G);
		cr_assert_neq(again[i], 0, "granule %d of 4 stuck in the other thread's magazine",
			      i);
	}
	cr_assert_eq(gen_pool_alloc(pool, G), 0);
	cr_assert_eq(gen_pool_avail(pool), 0);
	qsort(again, 4, sizeof(*again), cmp_ulong);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(again[i], BASE + i * G, "granule %d handed out twice or never", i);
	gen_pool_free_bulk(pool, again, 4);
	helper_finish(&h);
	gen_pool_destroy(pool);
}

Test(genpool, exhaustion_is_reported_only_when_every_magazine_is_empty)
{
	enum { HELPERS = 4, PER = 60, N = HELPERS * PER + 16 };
	struct gen_pool *pool = pool_new();
	struct helper h[HELPERS];
	unsigned long *got = calloc(N, sizeof(*got));
	int n = 0;

	for (int c = 0; c < 4; c++)
		cr_assert_eq(gen_pool_add(pool, BASE + c * BASE, N / 4 * G), 0);
	for (int i = 0; i < N; i++)
		got[i] = gen_pool_alloc(pool, G);
	/* each helper caches PER in its magazine, this thread the other 16 in its own */
	for (int i = 0; i < HELPERS; i++)
		helper_start(&h[i], pool, got + i * PER, PER, i % 2);
	for (int i = HELPERS * PER; i < N - 8; i++)
		gen_pool_free(pool, got[i], G);
	gen_pool_free_bulk(pool, got + N - 8, 8);
	cr_assert_eq(gen_pool_avail(pool), N * G);

	memset(got, 0, N * sizeof(*got));
	while (n < N && (got[n] = gen_pool_alloc(pool, G)))
		n++;
	cr_assert_eq(n, N, "the pool looked empty with %d of %d granules free", N - n, N);
	cr_assert_eq(gen_pool_alloc(pool, G), 0);
	qsort(got, N, sizeof(*got), cmp_ulong);
	for (int i = 1; i < N; i++)
		cr_assert_neq(got[i], got[i - 1], "%#lx handed out twice", got[i]);
	gen_pool_free_bulk(pool, got, N);
	for (int i = 0; i < HELPERS; i++)
		helper_finish(&h[i]);
	cr_assert_eq(gen_pool_avail(pool), N * G);
	free(got);
	gen_pool_destroy(pool);
}

Test(genpool, bulk_alloc_takes_back_granules_cached_by_other_threads)
{
	struct gen_pool *pool = pool_new();
	unsigned long addrs[16];
	void *owners[16];
	struct helper h;
	int owner;

	cr_assert_eq(gen_pool_add_owner(pool, BASE, 10 * G, &owner), 0);
	cr_assert_eq(gen_pool_alloc_bulk(pool, addrs, NULL, 10), 10);
	helper_start(&h, pool, addrs, 10, true);
	memset(addrs, 0, sizeof(addrs));
	cr_assert_eq(gen_pool_alloc_bulk(pool, addrs, owners, 16), 10);
	cr_assert_eq(gen_pool_alloc_bulk(pool, addrs + 10, NULL, 6), 0, "the pool is empty");
	qsort(addrs, 10, sizeof(*addrs), cmp_ulong);
	for (int i = 0; i < 10; i++) {
		cr_assert_eq(addrs[i], BASE + i * G);
		cr_assert_eq(owners[i], &owner);
	}
	gen_pool_free_bulk(pool, addrs, 10);
	helper_finish(&h);
	gen_pool_destroy(pool);
}

Test(genpool, destroy_with_granules_in_live_threads_magazines_frees_everything)
{
	struct gen_pool *pool = pool_new();
	unsigned long got[8];
	struct helper h;

	cr_assert_eq(gen_pool_add(pool, BASE, 8 * G), 0);
	for (int i = 0; i < 8; i++)
		got[i] = gen_pool_alloc(pool, G);
	helper_start(&h, pool, got, 4, false);
	for (int i = 4; i < 8; i++)
		gen_pool_free(pool, got[i], G);
	/* four in the helper's magazine, four in ours: all free, the harness checks for leaks */
	gen_pool_destroy(pool);

	/* this thread goes on with a new pool, wherever it lands */
	pool = pool_new();
	cr_assert_eq(gen_pool_add(pool, 2 * BASE, 3 * G), 0);
	cr_assert_eq(gen_pool_avail(pool), 3 * G);
	for (int i = 0; i < 3; i++)
		cr_assert_geq(got[i] = gen_pool_alloc(pool, G), 2 * BASE);
	cr_assert_eq(gen_pool_alloc(pool, G), 0);
	gen_pool_free_bulk(pool, got, 3);
	helper_finish(&h);
	gen_pool_destroy(pool);
}

static void *alloc_and_free_all(void *arg)
{
	struct gen_pool *pool = arg;
	unsigned long a[8];

	for (int i = 0; i < 8; i++)
		a[i] = gen_pool_alloc(pool, G);
	for (int i = 0; i < 8; i++)
		gen_pool_free(pool, a[i], G);
	return NULL;
}

Test(genpool, granules_freed_by_a_thread_that_exited_come_back)
{
	struct gen_pool *pool = pool_new();
	unsigned long got[8];
	pthread_t t;

	cr_assert_eq(gen_pool_add(pool, BASE, 8 * G), 0);
	for (int round = 0; round < 3; round++) {
		/* each thread may take the slot, and the magazine, of the one before */
		cr_assert_eq(pthread_create(&t, NULL, alloc_and_free_all, pool), 0);
		pthread_join(t, NULL);
		cr_assert_eq(gen_pool_avail(pool), 8 * G);
	}
	for (int i = 0; i < 8; i++)
		cr_assert_neq(got[i] = gen_pool_alloc(pool, G), 0);
	cr_assert_eq(gen_pool_alloc(pool, G), 0);
	gen_pool_free_bulk(pool, got, 8);
	gen_pool_destroy(pool);
}

/* Every thread holds one granule until all have one, then frees it. */
struct crowd {
	struct gen_pool *pool;
	pthread_barrier_t all_hold;
	int failures; /* atomic */
};

static void *crowd_fn(void *arg)
{
	struct crowd *c = arg;
	unsigned long a = gen_pool_alloc(c->pool, G);

	if (!a)
		__atomic_fetch_add(&c->failures, 1, __ATOMIC_RELAXED);
	pthread_barrier_wait(&c->all_hold);
	if (a)
		gen_pool_free(c->pool, a, G);
	return NULL;
}

Test(genpool, threads_beyond_the_magazine_slots_still_allocate_and_free)
{
	enum { THREADS = 300 };
	pthread_t *t = calloc(THREADS, sizeof(*t));
	struct crowd c = { .pool = pool_new() };
	pthread_attr_t attr;

	cr_assert_eq(gen_pool_add(c.pool, BASE, THREADS * G), 0);
	pthread_barrier_init(&c.all_hold, NULL, THREADS);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 << 10);
	for (int i = 0; i < THREADS; i++)
		cr_assert_eq(pthread_create(&t[i], &attr, crowd_fn, &c), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(c.failures, 0, "%d threads got no granule from a pool with one each",
		     c.failures);
	cr_assert_eq(gen_pool_avail(c.pool), THREADS * G);
	pthread_attr_destroy(&attr);
	pthread_barrier_destroy(&c.all_hold);
	gen_pool_destroy(c.pool);
	free(t);
}

Test(genpool, metadata_bytes_count_granules_and_magazines)
{
	struct gen_pool *pool = pool_new();
	size_t empty = gen_pool_metadata_bytes(pool), added;

	cr_assert_eq(gen_pool_add(pool, BASE, 1000 * G), 0);
	added = gen_pool_metadata_bytes(pool);
	cr_assert_geq(added, empty + 1000 * 5, "about 5 bytes per granule");
	/* this thread's first use of the pool creates its magazine */
	gen_pool_free(pool, gen_pool_alloc(pool, G), G);
	cr_assert_gt(gen_pool_metadata_bytes(pool), added + 64 * sizeof(uint32_t));
	gen_pool_destroy(pool);
}

#if DEVMEM_DEBUG
Test(genpool, destroy_with_outstanding_allocations_aborts, .signal = SIGABRT)
{
	struct gen_pool *pool = pool_new();

	cr_assert_eq(gen_pool_add(pool, BASE, 2 * G), 0);
	cr_assert_neq(gen_pool_alloc(pool, G), 0);
	gen_pool_destroy(pool);
}

Test(genpool, double_free_aborts, .signal = SIGABRT)
{
	struct gen_pool *pool = pool_new();
	unsigned long a;

	cr_assert_eq(gen_pool_add(pool, BASE, 2 * G), 0);
	a = gen_pool_alloc(pool, G);
	gen_pool_free(pool, a, G);
	gen_pool_free(pool, a, G);
}

Test(genpool, free_of_an_address_never_allocated_aborts, .signal = SIGABRT)
{
	struct gen_pool *pool = pool_new();

	cr_assert_eq(gen_pool_add(pool, BASE, 2 * G), 0);
	gen_pool_free(pool, BASE + G, G);
}

Test(genpool, free_outside_every_chunk_aborts, .signal = SIGABRT)
{
	struct gen_pool *pool = pool_new();

	cr_assert_eq(gen_pool_add(pool, BASE, 2 * G), 0);
	gen_pool_free(pool, 2 * BASE, G);
}
#else
Test(genpool, double_free_is_ignored_in_release_builds)
{
	struct gen_pool *pool = pool_new();
	void *owner = &owner;
	unsigned long a;

	cr_assert_eq(gen_pool_add(pool, BASE, 2 * G), 0);
	a = gen_pool_alloc(pool, G);
	gen_pool_free(pool, a, G);
	gen_pool_free_owner(pool, a, G, &owner);
	cr_assert_null(owner);
	gen_pool_free(pool, 2 * BASE, G);
	cr_assert_eq(gen_pool_avail(pool), 2 * G);
	cr_assert_neq(gen_pool_alloc(pool, G), 0);
	cr_assert_neq(gen_pool_alloc(pool, G), 0);
	cr_assert_eq(gen_pool_alloc(pool, G), 0, "the double free did not make a third granule");
	gen_pool_free(pool, BASE, G);
	gen_pool_free(pool, BASE + G, G);
	gen_pool_destroy(pool);
}
#endif
