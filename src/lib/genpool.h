/* SPDX-License-Identifier: MIT */
/*
 * The chunk allocator (the kernel genpool's role in net/core/devmem.c).
 *
 * A pool hands out fixed-size granules (1 << granule_order bytes) of address
 * space from chunks added with an owner. For a devmem binding every sg entry
 * of the mapped dma-buf is one chunk, whose owner carries the entry's base
 * dma-buf offset, base device address and its net_iov array; a granule is one
 * net_iov. The pool stores addresses only and never touches the memory.
 *
 * Addresses are never 0: as in the kernel's genpool, 0 is what a failed
 * allocation returns, so a chunk may not start at address 0.
 *
 * Allocation and free cost the same whatever the occupancy, and take no lock
 * and no locked instruction in the common case: each thread that uses a pool
 * keeps a small cache of its free granules (a magazine, up to 128), and takes
 * from and returns to it alone. Magazines are refilled from and given back to
 * the pool's shared depot (lock-free) 64 granules at a time. When a thread
 * finds its magazine and the depot empty, it takes back the granules that
 * other threads' magazines hold before it reports the pool empty, so a
 * granule cached by a thread that has gone quiet is never lost to the others.
 * A thread's magazines go back to their pools when it exits. Each magazine
 * costs about 576 bytes, per thread and pool, and lives as long as the pool;
 * at most 256 threads at once have magazines, any further thread goes through
 * a lock-protected magazine of the pool's own. Finding the chunk of an address
 * is a binary search over the chunks.
 *
 * Concurrency: gen_pool_alloc_owner(), gen_pool_free_owner(), the bulk pair,
 * gen_pool_has_addr(), gen_pool_chunk_owner(), gen_pool_avail() and
 * gen_pool_size() may be called from any number of threads at once, with no
 * lock. gen_pool_add_owner() grows the pool's arrays and must not run
 * concurrently with anything else on the same pool: a binding adds all its
 * chunks before the pool is reachable by any queue. gen_pool_destroy() needs
 * every other call on the pool to have returned; threads that used the pool
 * may still be alive (their magazines go with the pool). None of these is
 * async-signal-safe.
 */
#ifndef DEVMEM_LIB_GENPOOL_H
#define DEVMEM_LIB_GENPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest granule order gen_pool_create() accepts (1 GiB granules). */
#define GEN_POOL_MAX_ORDER 30

struct gen_pool;

/* One chunk of a pool. Read-only for users (e.g. in gen_pool_for_each_chunk()). */
struct gen_pool_chunk {
	unsigned long start_addr; /* first address of the chunk */
	unsigned long end_addr; /* last address of the chunk (inclusive, as in the kernel) */
	void *owner; /* as passed to gen_pool_add_owner() */
	uint32_t first; /* pool-wide index of the chunk's first granule */
	uint32_t nr; /* granules in the chunk */
};

/*
 * Create an empty pool of granules of 1 << @granule_order bytes.
 * Returns 0, -EINVAL for an order outside [0, GEN_POOL_MAX_ORDER], -ENOMEM.
 */
int gen_pool_create(unsigned int granule_order, struct gen_pool **out);

/*
 * Free the pool. Every granule must be free, wherever it is cached (a bug
 * otherwise, aborts in debug builds).
 */
void gen_pool_destroy(struct gen_pool *pool);

/*
 * Add the chunk [@addr, @addr + @size) with @owner. @addr must be non-zero
 * (it need not be granule-aligned: granules are cut from the chunk's start,
 * as the kernel's genpool does), @size a non-zero multiple of the granule,
 * and the chunk may not wrap around the address space nor overlap a chunk of
 * the pool: -EINVAL
 * otherwise, -ENOMEM when out of memory or past 2^32 - 2 granules per pool.
 * A failed add changes nothing. Not concurrent with any other call on @pool.
 */
int gen_pool_add_owner(struct gen_pool *pool, unsigned long addr, size_t size, void *owner);

static inline int gen_pool_add(struct gen_pool *pool, unsigned long addr, size_t size)
{
	return gen_pool_add_owner(pool, addr, size, NULL);
}

/*
 * Allocate one granule: @size must equal the granule size. Returns its address
 * and stores its chunk's owner in *@owner (if @owner is not NULL), or returns
 * 0 when @size is wrong or the pool is exhausted (nothing changes then).
 * Exhausted means that at one moment during the call no granule of the pool
 * was free, in any thread's magazine, the pool's own or the depot; only a
 * granule whose free is still in progress can have been missed.
 */
unsigned long gen_pool_alloc_owner(struct gen_pool *pool, size_t size, void **owner);

static inline unsigned long gen_pool_alloc(struct gen_pool *pool, size_t size)
{
	return gen_pool_alloc_owner(pool, size, NULL);
}

/*
 * Return the granule at @addr (@size must equal the granule size) and store
 * its chunk's owner in *@owner if @owner is not NULL. Freeing an address that
 * is not allocated from @pool is a bug: debug builds abort; release builds
 * ignore the call (and set *@owner to NULL) rather than corrupt the pool.
 */
void gen_pool_free_owner(struct gen_pool *pool, unsigned long addr, size_t size, void **owner);

static inline void gen_pool_free(struct gen_pool *pool, unsigned long addr, size_t size)
{
	gen_pool_free_owner(pool, addr, size, NULL);
}

/*
 * Allocate up to @n granules (the page_pool refill path): their addresses go
 * to @addrs[0..], their owners to @owners[0..] if @owners is not NULL. They
 * come from this thread's magazine, refilled from the depot 64 at a time (two
 * compare-exchanges each); only when both were empty are other threads'
 * magazines taken back, and then at most 64 come. Returns how many it got:
 * fewer than @n when that ran short, 0 only when the pool was exhausted (as
 * gen_pool_alloc_owner() means it).
 */
int gen_pool_alloc_bulk(struct gen_pool *pool, unsigned long *addrs, void **owners, int n);

/*
 * Return @n granules (a burst of token returns): into this thread's magazine,
 * which gives 64 at a time to the depot when full (two compare-exchanges).
 * Each address follows the rules of gen_pool_free_owner().
 */
void gen_pool_free_bulk(struct gen_pool *pool, const unsigned long *addrs, int n);

/* Whether [@addr, @addr + @size) lies inside one chunk of @pool (false for @size 0). */
bool gen_pool_has_addr(struct gen_pool *pool, unsigned long addr, size_t size);

/* The owner of the chunk holding @addr, or NULL when no chunk holds it. */
void *gen_pool_chunk_owner(struct gen_pool *pool, unsigned long addr);

/*
 * Free bytes: the granules in the depot plus those in every magazine, the
 * threads' and the pool's own (each is free: any thread's allocation can get
 * it). Exact when no other call on the pool is running; while other threads
 * allocate and free it is a snapshot that can be off by the granules moving
 * between a magazine and the depot meanwhile, and is never more than
 * gen_pool_size().
 */
size_t gen_pool_avail(struct gen_pool *pool);

/* Bytes in all chunks. */
size_t gen_pool_size(struct gen_pool *pool);

/* The granule size in bytes. */
size_t gen_pool_granule(struct gen_pool *pool);

/*
 * Bytes of memory the pool itself holds: its per-chunk and per-granule
 * arrays (about 5 bytes per granule) and the magazines created so far, for a
 * binding's metadata accounting. Not concurrent with gen_pool_add_owner().
 */
size_t gen_pool_metadata_bytes(struct gen_pool *pool);

/*
 * Call @func for each chunk, in the order they were added (a binding frees
 * its chunk owners this way at unbind). Not concurrent with gen_pool_add_owner().
 */
void gen_pool_for_each_chunk(struct gen_pool *pool,
			     void (*func)(struct gen_pool *pool, struct gen_pool_chunk *chunk,
					  void *data),
			     void *data);

#endif
