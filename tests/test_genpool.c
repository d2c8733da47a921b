// SPDX-License-Identifier: MIT
/* The chunk allocator: owned chunks, one granule at a time, O(1) at any occupancy. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "lib/debug.h"
#include "lib/genpool.h"

DEVMEM_TEST_SUITE(genpool);

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
	cr_assert_eq(gen_pool_add(pool, BASE + 1, G), -EINVAL, "unaligned address");
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
