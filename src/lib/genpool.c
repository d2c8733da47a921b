// SPDX-License-Identifier: MIT
/*
 * The chunk allocator: fixed-size granules from owned chunks, O(1) alloc and
 * free at any occupancy, lock-free.
 *
 * Every granule of the pool has a pool-wide index (chunks take consecutive
 * ranges in the order they are added) and one 32-bit word in next[]:
 *   - a free granule's word links to the free granule below it on the free
 *     stack (GP_NONE at the bottom);
 *   - an allocated granule's word is GP_ALLOCATED, which is what lets a free
 *     of an address that is not allocated be caught with one compare-exchange
 *     instead of corrupting the stack.
 * The stack head packs the top index with a tag that every successful push
 * and pop increments, so a pop that read a stale link (its granule was popped
 * and pushed back meanwhile) fails its compare-exchange instead of installing
 * the stale link (the ABA problem).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/debug.h"
#include "lib/error.h"
#include "lib/genpool.h"

#define GP_NONE UINT32_MAX /* end of the free stack */
#define GP_ALLOCATED (UINT32_MAX - 1) /* the granule is out */
#define GP_MAX_GRANULES (UINT32_MAX - 1) /* indices stay below both markers */

#define GP_TAG_ONE (1ULL << 32)

struct gen_pool {
	/*
	 * Written by every alloc and free: on a cache line of their own, so the
	 * read-mostly fields below do not bounce with them. Both atomic.
	 */
	uint64_t head __attribute__((aligned(64))); /* tag << 32 | top granule index */
	size_t nr_free; /* free granules; changed before a push, after a pop */

	/* Set by gen_pool_add_owner() only, read-only while the pool is shared. */
	uint32_t *next __attribute__((aligned(64))); /* per granule: link or marker; atomic */
	struct gen_pool_chunk *chunks; /* in add order, so .first ascends */
	uint32_t *by_addr; /* chunk indices sorted by start_addr */
	uint32_t nr_chunks;
	uint32_t cap_chunks;
	uint32_t nr_granules;
	uint32_t cap_granules;
	unsigned int order;
};

static inline size_t granule_size(const struct gen_pool *pool)
{
	return (size_t)1 << pool->order;
}

/* The chunk holding pool-wide granule @idx (< nr_granules): the last one starting at or below it. */
static inline struct gen_pool_chunk *chunk_of_index(struct gen_pool *pool, uint32_t idx)
{
	uint32_t lo = 0, hi = pool->nr_chunks;

	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (pool->chunks[mid].first <= idx)
			lo = mid;
		else
			hi = mid;
	}
	return &pool->chunks[lo];
}

/* Position in by_addr of the first chunk starting above @addr. */
static inline uint32_t addr_upper_bound(struct gen_pool *pool, unsigned long addr)
{
	uint32_t lo = 0, hi = pool->nr_chunks;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (pool->chunks[pool->by_addr[mid]].start_addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static inline struct gen_pool_chunk *chunk_of_addr(struct gen_pool *pool, unsigned long addr)
{
	uint32_t pos = addr_upper_bound(pool, addr);
	struct gen_pool_chunk *chunk;

	if (pos == 0)
		return NULL;
	chunk = &pool->chunks[pool->by_addr[pos - 1]];
	return addr <= chunk->end_addr ? chunk : NULL;
}

static inline unsigned long index_to_addr(struct gen_pool *pool, struct gen_pool_chunk *chunk,
					  uint32_t idx)
{
	return chunk->start_addr + ((unsigned long)(idx - chunk->first) << pool->order);
}

/*
 * Claim the allocated granule at @addr for freeing: GP_NONE if @addr is not
 * an allocated granule of @pool (a bug), else its index, owned by the caller
 * until the push, which takes it off GP_ALLOCATED so a second free is caught.
 */
static uint32_t claim_for_free(struct gen_pool *pool, unsigned long addr, void **owner)
{
	struct gen_pool_chunk *chunk = chunk_of_addr(pool, addr);
	uint32_t idx, expected = GP_ALLOCATED;

	if (unlikely(!chunk || !IS_ALIGNED(addr - chunk->start_addr, granule_size(pool))))
		goto bad;
	idx = chunk->first + (uint32_t)((addr - chunk->start_addr) >> pool->order);
#if DEVMEM_DEBUG
	/* also catches two threads freeing the same granule at once */
	if (unlikely(!__atomic_compare_exchange_n(&pool->next[idx], &expected, GP_NONE, false,
						  __ATOMIC_RELAXED, __ATOMIC_RELAXED)))
		goto bad;
#else
	/*
	 * A locked instruction costs as much as the rest of a free: release
	 * builds catch sequential double frees only (the push rewrites the word).
	 */
	if (unlikely(__atomic_load_n(&pool->next[idx], __ATOMIC_RELAXED) != expected))
		goto bad;
#endif
	if (owner)
		*owner = chunk->owner;
	return idx;
bad:
	devmem_assert(false, "gen_pool: freeing an address that is not allocated from this pool");
	if (owner)
		*owner = NULL;
	return GP_NONE;
}

/*
 * Push the chain @first..@last (already linked through next[], owned by the
 * caller) onto the free stack. The release pairs with the acquire in the pops,
 * so a popper that sees @first also sees the links of the chain.
 */
static void free_stack_push(struct gen_pool *pool, uint32_t first, uint32_t last, uint32_t n)
{
	uint64_t old = __atomic_load_n(&pool->head, __ATOMIC_RELAXED), new;

	/* count first: gen_pool_avail() then never dips below what is really free */
	__atomic_fetch_add(&pool->nr_free, n, __ATOMIC_RELAXED);
	do {
		__atomic_store_n(&pool->next[last], (uint32_t)old, __ATOMIC_RELAXED);
		new = ((old & ~(GP_TAG_ONE - 1)) + GP_TAG_ONE) | first;
	} while (!__atomic_compare_exchange_n(&pool->head, &old, new, true, __ATOMIC_RELEASE,
					      __ATOMIC_RELAXED));
}

/*
 * Pop up to @n granules off the free stack in one compare-exchange. Returns
 * how many and the old top in *@top; the popped ones are linked from there.
 */
static uint32_t free_stack_pop(struct gen_pool *pool, uint32_t n, uint32_t *top)
{
	uint64_t old = __atomic_load_n(&pool->head, __ATOMIC_ACQUIRE), new;
	uint32_t k, cur, below;

	do {
		cur = (uint32_t)old;
		if (cur == GP_NONE)
			return 0;
		/*
		 * The links may be stale if another thread pops meanwhile; then
		 * the tag has moved and the compare-exchange fails. The bound
		 * check keeps a stale marker from being followed as an index.
		 */
		for (k = 1;; k++) {
			below = __atomic_load_n(&pool->next[cur], __ATOMIC_RELAXED);
			if (k == n || below >= pool->nr_granules)
				break;
			cur = below;
		}
		new = ((old & ~(GP_TAG_ONE - 1)) + GP_TAG_ONE) | below;
	} while (!__atomic_compare_exchange_n(&pool->head, &old, new, true, __ATOMIC_ACQ_REL,
					      __ATOMIC_ACQUIRE));
	*top = (uint32_t)old;
	return k;
}

int gen_pool_create(unsigned int granule_order, struct gen_pool **out)
{
	struct gen_pool *pool;

	if (granule_order > GEN_POOL_MAX_ORDER)
		return devmem_err(-EINVAL, "gen_pool: granule order %u out of range (0..%d)",
				  granule_order, GEN_POOL_MAX_ORDER);
	pool = aligned_alloc(64, sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	memset(pool, 0, sizeof(*pool));
	pool->head = GP_NONE;
	pool->order = granule_order;
	*out = pool;
	return 0;
}

void gen_pool_destroy(struct gen_pool *pool)
{
	if (!pool)
		return;
	devmem_assert(__atomic_load_n(&pool->nr_free, __ATOMIC_RELAXED) == pool->nr_granules,
		      "gen_pool_destroy with granules still allocated");
	free(pool->next);
	free(pool->chunks);
	free(pool->by_addr);
	free(pool);
}

/* Make room for one more chunk and @nr more granules; changes nothing visible. */
static int gen_pool_grow(struct gen_pool *pool, uint32_t nr)
{
	if (pool->nr_chunks == pool->cap_chunks) {
		uint32_t cap = pool->cap_chunks ? pool->cap_chunks * 2 : 4;
		struct gen_pool_chunk *chunks;
		uint32_t *by_addr;

		if (cap < pool->cap_chunks)
			return -ENOMEM;
		chunks = realloc(pool->chunks, cap * sizeof(*chunks));
		if (!chunks)
			return -ENOMEM;
		pool->chunks = chunks;
		by_addr = realloc(pool->by_addr, cap * sizeof(*by_addr));
		if (!by_addr)
			return -ENOMEM;
		pool->by_addr = by_addr;
		pool->cap_chunks = cap;
	}
	if (pool->cap_granules - pool->nr_granules < nr) {
		/* doubling keeps adding many small chunks linear; exact for the first */
		uint64_t want = (uint64_t)pool->nr_granules + nr;
		uint64_t cap = pool->cap_granules ? max(want, 2ULL * pool->cap_granules) : want;
		uint32_t *next;

		cap = min(cap, (uint64_t)GP_MAX_GRANULES);
		next = realloc(pool->next, cap * sizeof(*next));
		if (!next)
			return -ENOMEM;
		pool->next = next;
		pool->cap_granules = (uint32_t)cap;
	}
	return 0;
}

int gen_pool_add_owner(struct gen_pool *pool, unsigned long addr, size_t size, void *owner)
{
	unsigned long granule = granule_size(pool), end = addr + size - 1;
	struct gen_pool_chunk *chunk;
	uint32_t pos, nr, id, i;
	uint64_t old;
	int err;

	if (!addr)
		return devmem_err(-EINVAL, "gen_pool: a chunk may not start at address 0");
	if (!IS_ALIGNED(addr, granule))
		return devmem_err(-EINVAL, "gen_pool: chunk address %#lx not aligned to %lu", addr,
				  granule);
	if (!size || !IS_ALIGNED(size, granule))
		return devmem_err(-EINVAL,
				  "gen_pool: chunk size %zu not a non-zero multiple of %lu", size,
				  granule);
	if (end < addr)
		return devmem_err(-EINVAL, "gen_pool: chunk %#lx+%zu wraps the address space", addr,
				  size);
	if ((size >> pool->order) > GP_MAX_GRANULES - pool->nr_granules)
		return devmem_err(-ENOMEM, "gen_pool: more than %u granules", GP_MAX_GRANULES);
	nr = (uint32_t)(size >> pool->order);

	pos = addr_upper_bound(pool, addr);
	if (pos > 0 && pool->chunks[pool->by_addr[pos - 1]].end_addr >= addr)
		return devmem_err(-EINVAL, "gen_pool: chunk %#lx+%zu overlaps chunk at %#lx", addr,
				  size, pool->chunks[pool->by_addr[pos - 1]].start_addr);
	if (pos < pool->nr_chunks && pool->chunks[pool->by_addr[pos]].start_addr <= end)
		return devmem_err(-EINVAL, "gen_pool: chunk %#lx+%zu overlaps chunk at %#lx", addr,
				  size, pool->chunks[pool->by_addr[pos]].start_addr);

	err = gen_pool_grow(pool, nr);
	if (err)
		return devmem_err(err, "gen_pool: no memory for a chunk of %u granules", nr);

	id = pool->nr_chunks;
	chunk = &pool->chunks[id];
	chunk->start_addr = addr;
	chunk->end_addr = end;
	chunk->owner = owner;
	chunk->first = pool->nr_granules;
	chunk->nr = nr;
	memmove(&pool->by_addr[pos + 1], &pool->by_addr[pos],
		(pool->nr_chunks - pos) * sizeof(*pool->by_addr));
	pool->by_addr[pos] = id;
	pool->nr_chunks++;

	/* ascending links: a fresh chunk hands out its low addresses first */
	for (i = 0; i < nr - 1; i++)
		pool->next[chunk->first + i] = chunk->first + i + 1;
	pool->nr_granules += nr;
	old = __atomic_load_n(&pool->head, __ATOMIC_RELAXED);
	pool->next[chunk->first + nr - 1] = (uint32_t)old;
	__atomic_store_n(&pool->head, ((old & ~(GP_TAG_ONE - 1)) + GP_TAG_ONE) | chunk->first,
			 __ATOMIC_RELEASE);
	__atomic_fetch_add(&pool->nr_free, nr, __ATOMIC_RELAXED);
	return 0;
}

unsigned long gen_pool_alloc_owner(struct gen_pool *pool, size_t size, void **owner)
{
	struct gen_pool_chunk *chunk;
	uint32_t idx;

	if (owner)
		*owner = NULL;
	if (unlikely(size != granule_size(pool))) {
		devmem_err(-EINVAL, "gen_pool: allocation of %zu bytes, the granule is %zu", size,
			   granule_size(pool));
		return 0;
	}
	if (!free_stack_pop(pool, 1, &idx))
		return 0;
	__atomic_store_n(&pool->next[idx], GP_ALLOCATED, __ATOMIC_RELAXED);
	__atomic_fetch_sub(&pool->nr_free, 1, __ATOMIC_RELAXED);

	chunk = chunk_of_index(pool, idx);
	if (owner)
		*owner = chunk->owner;
	return index_to_addr(pool, chunk, idx);
}

int gen_pool_alloc_bulk(struct gen_pool *pool, unsigned long *addrs, void **owners, int n)
{
	uint32_t got, idx, below, i;

	if (n <= 0)
		return 0;
	got = free_stack_pop(pool, (uint32_t)n, &idx);
	for (i = 0; i < got; i++) {
		struct gen_pool_chunk *chunk = chunk_of_index(pool, idx);

		/* ours now: read the link before the marker replaces it */
		below = __atomic_load_n(&pool->next[idx], __ATOMIC_RELAXED);
		__atomic_store_n(&pool->next[idx], GP_ALLOCATED, __ATOMIC_RELAXED);
		addrs[i] = index_to_addr(pool, chunk, idx);
		if (owners)
			owners[i] = chunk->owner;
		idx = below;
	}
	if (got)
		__atomic_fetch_sub(&pool->nr_free, got, __ATOMIC_RELAXED);
	return (int)got;
}

void gen_pool_free_owner(struct gen_pool *pool, unsigned long addr, size_t size, void **owner)
{
	uint32_t idx;

	if (unlikely(size != granule_size(pool))) {
		devmem_assert(false, "gen_pool_free_owner: size is not the granule size");
		if (owner)
			*owner = NULL;
		return;
	}
	idx = claim_for_free(pool, addr, owner);
	if (idx != GP_NONE)
		free_stack_push(pool, idx, idx, 1);
}

void gen_pool_free_bulk(struct gen_pool *pool, const unsigned long *addrs, int n)
{
	uint32_t first = GP_NONE, last = GP_NONE, count = 0;

	for (int i = 0; i < n; i++) {
		uint32_t idx = claim_for_free(pool, addrs[i], NULL);

		if (idx == GP_NONE)
			continue;
		/* the chain is private until the push publishes it */
		if (last == GP_NONE)
			first = idx;
		else
			__atomic_store_n(&pool->next[last], idx, __ATOMIC_RELAXED);
		last = idx;
		count++;
	}
	if (count)
		free_stack_push(pool, first, last, count);
}

bool gen_pool_has_addr(struct gen_pool *pool, unsigned long addr, size_t size)
{
	unsigned long end = addr + size - 1;
	struct gen_pool_chunk *chunk;

	if (!size || end < addr)
		return false;
	chunk = chunk_of_addr(pool, addr);
	return chunk && end <= chunk->end_addr;
}

void *gen_pool_chunk_owner(struct gen_pool *pool, unsigned long addr)
{
	struct gen_pool_chunk *chunk = chunk_of_addr(pool, addr);

	return chunk ? chunk->owner : NULL;
}

size_t gen_pool_avail(struct gen_pool *pool)
{
	return __atomic_load_n(&pool->nr_free, __ATOMIC_RELAXED) << pool->order;
}

size_t gen_pool_size(struct gen_pool *pool)
{
	return (size_t)pool->nr_granules << pool->order;
}

size_t gen_pool_granule(struct gen_pool *pool)
{
	return granule_size(pool);
}

void gen_pool_for_each_chunk(struct gen_pool *pool,
			     void (*func)(struct gen_pool *pool, struct gen_pool_chunk *chunk,
					  void *data),
			     void *data)
{
	for (uint32_t i = 0; i < pool->nr_chunks; i++)
		func(pool, &pool->chunks[i], data);
}
