// SPDX-License-Identifier: MIT
/*
 * The chunk allocator: fixed-size granules from owned chunks, O(1) alloc and
 * free at any occupancy, no lock and no locked instruction on the hot path.
 *
 * Every granule of the pool has a pool-wide index (chunks take consecutive
 * ranges in the order they are added) and one byte in state[], which says
 * whether it is out (GP_OUT) or free: what lets a free of an address that is
 * not allocated be caught instead of corrupting the pool. It is the only
 * per-granule memory an alloc or a free touches, and at one byte per granule
 * it stays in cache as long as can be when tokens come back in random order.
 *
 * Free granules are kept as indices, at three levels, like a slab allocator's
 * per-cpu caches over its shared lists:
 *
 * - Magazines. A thread that uses the pool gets one: an array of up to
 *   GP_MAG_SIZE free granules that only it touches. Alloc and free take from
 *   and put on its top with plain loads and stores; LIFO hands out the granule
 *   freed last, the one most likely still in cache. A locked instruction costs
 *   more than all the rest of an alloc+free pair, and a cache line written by
 *   every operation of every thread costs more again as soon as two threads
 *   use the pool; magazines avoid both.
 *
 * - The depot: full batches of GP_BATCH granules on a lock-free LIFO
 *   (Treiber) stack. An empty magazine takes one batch, a full one gives its
 *   oldest GP_BATCH back: a copy of 256 contiguous bytes and two
 *   compare-exchanges per 64 granules, where a stack threaded through the
 *   granules would chase one cache miss per granule. Batch slots that hold
 *   nothing wait on a second stack (empty). Every batch off the empty stack
 *   stands for GP_BATCH granules no other batch holds, so floor(granules /
 *   GP_BATCH) + 1 slots never run out. Each stack's head packs the top slot
 *   with a tag that every successful push and pop increments, so a pop that
 *   read a stale link (its slot was popped and pushed back meanwhile) fails
 *   its compare-exchange instead of installing it (the ABA problem).
 *
 * - The spare: a magazine of the pool's own, under steal_lock, for what fits
 *   no batch: the granules of a chunk being added, those of threads without a
 *   magazine (or whose magazine is frozen, below), those of exiting threads
 *   and those a thief takes back. It gives a batch to the depot when full.
 *
 * Theft. When a thread finds its magazine and the depot empty, the free
 * granules may all sit in the spare or in other threads' magazines (a socket
 * thread returned the tokens a queue thread now needs). gp_steal() takes from
 * the spare, and when that is empty too, takes every magazine back: under
 * steal_lock it freezes them all, waits until no owner is inside one, moves
 * their granules to the spare and looks at the depot last. A frozen
 * magazine's owner leaves it alone and goes through the spare, which waits on
 * steal_lock. So at the end of a theft nothing moves but the thief, and an
 * allocation fails only if the whole pool was empty at that moment. Granules
 * only ever move between magazines, the spare and the depot inside a busy
 * section or under steal_lock, never in a thread's hands where a thief could
 * miss them.
 *
 * The handshake costs the owner no fence: it stores busy, then loads frozen;
 * the thief stores frozen, runs membarrier(), then loads busy. The barrier
 * that membarrier() forces on every running thread of the process sits
 * between the owner's store and load, or the thread was not in between them,
 * so at least one side sees the other's flag (an asymmetric Dekker
 * handshake). Where membarrier() is not available the owner pays a locked
 * exchange instead and both sides use sequentially consistent accesses.
 *
 * Threads: each thread that allocates or frees gets a slot (its index in
 * every pool's mags[]) the first time, and gives it back when it exits, after
 * its magazines have gone to their pools' spares. Magazines belong to their
 * pool and die with it; a later thread in the same slot inherits them
 * (empty). A thread that finds no slot free goes through the spare.
 */
#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/debug.h"
#include "lib/error.h"
#include "lib/genpool.h"
#include "lib/list.h"

#define GP_NONE UINT32_MAX /* no granule; the bottom of a batch stack */
#define GP_MAX_GRANULES (UINT32_MAX - 1) /* indices stay below GP_NONE */

#define GP_FREE 0 /* state[] of a granule in a magazine or a batch */
#define GP_OUT 1 /* state[] of an allocated granule */

#define GP_TAG_ONE (1ULL << 32)

#define GP_BATCH 64 /* granules per depot batch: one line of state[] when fresh */
#define GP_MAG_SIZE (2 * GP_BATCH) /* a magazine's capacity: room to give a batch and keep one */
#define GP_MAX_SLOTS 256 /* threads with magazines at once */
#define GP_NO_SLOT UINT32_MAX /* gp_self of a thread that found every slot taken */

struct gp_mag {
	uint8_t busy; /* atomic; written by the owner only: it is working on idx[] */
	uint8_t frozen; /* atomic; written by a thief only, under steal_lock */
	/*
	 * The owner's while it is busy and the magazine not frozen, a thief's
	 * while frozen and the owner not busy, the exiting owner's under
	 * steal_lock (the spare's: steal_lock's). count is atomic only because
	 * gen_pool_avail() reads it.
	 */
	uint32_t count;
	uint32_t idx[GP_MAG_SIZE]; /* free granules, the one freed last on top */
} __attribute__((aligned(64)));

struct gp_batch {
	uint32_t below; /* the slot under this one on its stack; atomic */
	/* owned by whoever popped the slot, published by the push */
	uint32_t idx[GP_BATCH];
};

struct gen_pool {
	/*
	 * Written by every batch move: on a cache line of their own, so the
	 * read-mostly fields below do not bounce with them. All atomic.
	 */
	uint64_t full __attribute__((aligned(64))); /* tag << 32 | top slot: the depot */
	uint64_t empty; /* tag << 32 | top slot: slots holding nothing */
	size_t nr_full; /* batches on the depot; raised after a push, lowered after a pop */

	/* Set by gen_pool_add_owner() only, read-only while the pool is shared. */
	uint8_t *state __attribute__((aligned(64))); /* per granule: GP_FREE or GP_OUT; atomic */
	struct gp_batch *batches; /* the slots, in the depot, the empty stack or in a move */
	struct gen_pool_chunk *chunks; /* in add order, so .first ascends */
	uint32_t *by_addr; /* chunk indices sorted by start_addr */
	uint32_t nr_chunks;
	uint32_t cap_chunks;
	uint32_t nr_granules;
	uint32_t cap_granules;
	uint32_t nr_batches;
	unsigned int order;

	/*
	 * Each slot's magazine, created by the slot's thread under steal_lock
	 * (so no magazine appears during a theft), freed by gen_pool_destroy().
	 * Atomic: thieves and gen_pool_avail() read them.
	 */
	uint32_t nr_mags; /* slots below this may have a magazine */
	struct gp_mag *mags[GP_MAX_SLOTS];
	pthread_mutex_t steal_lock; /* one thief at a time, and the spare; taken after gp_lock */
	struct gp_mag spare; /* protected by steal_lock (add: by its own exclusion) */
	struct list_head node; /* in gp_pools, protected by gp_lock */
};

/* Protects gp_pools and gp_slots. */
static pthread_mutex_t gp_lock = PTHREAD_MUTEX_INITIALIZER;
static LIST_HEAD(gp_pools); /* every live pool: an exiting thread empties its magazines */
static uint64_t gp_slots[GP_MAX_SLOTS / 64]; /* slots taken by live threads */

static pthread_once_t gp_once = PTHREAD_ONCE_INIT;
/* Set once by gp_init(), which every pool's creation runs first. */
static pthread_key_t gp_key; /* its destructor gives back an exiting thread's magazines */
static bool gp_have_key;
static bool gp_asym; /* membarrier() works: magazine owners need no fence */

/* This thread's slot + 1; 0 before its first use of a pool; GP_NO_SLOT if none was free. */
static __thread uint32_t gp_self __attribute__((tls_model("initial-exec")));

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

/* Mark @idx allocated: the caller took it off a magazine. */
static inline void set_out(struct gen_pool *pool, uint32_t idx)
{
	__atomic_store_n(&pool->state[idx], GP_OUT, __ATOMIC_RELAXED);
}

/*
 * Claim the allocated granule at @addr for freeing: GP_NONE if @addr is not
 * an allocated granule of @pool (a bug), else its index, now marked free and
 * owned by the caller, which puts it in a magazine. The mark is what catches
 * a second free.
 */
static inline uint32_t claim_for_free(struct gen_pool *pool, unsigned long addr, void **owner)
{
	struct gen_pool_chunk *chunk = chunk_of_addr(pool, addr);
	uint8_t expected = GP_OUT;
	uint32_t idx;

	/* granules are cut from the chunk's start, which need not be aligned */
	if (unlikely(!chunk || !IS_ALIGNED(addr - chunk->start_addr, granule_size(pool))))
		goto bad;
	idx = chunk->first + (uint32_t)((addr - chunk->start_addr) >> pool->order);
#if DEVMEM_DEBUG
	/* also catches two threads freeing the same granule at once */
	if (unlikely(!__atomic_compare_exchange_n(&pool->state[idx], &expected, GP_FREE, false,
						  __ATOMIC_RELAXED, __ATOMIC_RELAXED)))
		goto bad;
#else
	/*
	 * A locked instruction costs as much as the rest of a free: release
	 * builds catch sequential double frees only.
	 */
	if (unlikely(__atomic_load_n(&pool->state[idx], __ATOMIC_RELAXED) != expected))
		goto bad;
	__atomic_store_n(&pool->state[idx], GP_FREE, __ATOMIC_RELAXED);
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

/* ---- the batch stacks ---- */

/*
 * Push slot @b (owned by the caller) on @stack. The release pairs with the
 * acquire in the pops: whoever pops @b sees what was written in it.
 */
static void batch_push(struct gen_pool *pool, uint64_t *stack, uint32_t b)
{
	uint64_t old = __atomic_load_n(stack, __ATOMIC_RELAXED), new;

	do {
		__atomic_store_n(&pool->batches[b].below, (uint32_t)old, __ATOMIC_RELAXED);
		new = ((old & ~(GP_TAG_ONE - 1)) + GP_TAG_ONE) | b;
	} while (!__atomic_compare_exchange_n(stack, &old, new, true, __ATOMIC_RELEASE,
					      __ATOMIC_RELAXED));
}

/* Pop a slot off @stack: its index, now the caller's, or GP_NONE when @stack is empty. */
static uint32_t batch_pop(struct gen_pool *pool, uint64_t *stack)
{
	uint64_t old = __atomic_load_n(stack, __ATOMIC_ACQUIRE), new;
	uint32_t b;

	do {
		b = (uint32_t)old;
		if (b == GP_NONE)
			return GP_NONE;
		/* stale if @b moved meanwhile: then the tag moved too and the exchange fails */
		new = ((old & ~(GP_TAG_ONE - 1)) + GP_TAG_ONE) |
		      __atomic_load_n(&pool->batches[b].below, __ATOMIC_RELAXED);
	} while (!__atomic_compare_exchange_n(stack, &old, new, true, __ATOMIC_ACQ_REL,
					      __ATOMIC_ACQUIRE));
	return b;
}

/* ---- magazines ---- */

static inline uint32_t mag_count(struct gp_mag *mag)
{
	return __atomic_load_n(&mag->count, __ATOMIC_RELAXED);
}

static inline void set_mag_count(struct gp_mag *mag, uint32_t count)
{
	__atomic_store_n(&mag->count, count, __ATOMIC_RELAXED);
}

/* @mag (owned by the caller, full) gives its GP_BATCH oldest granules to the depot. */
static void mag_drain(struct gen_pool *pool, struct gp_mag *mag)
{
	uint32_t count = mag_count(mag), b;

	/*
	 * Never empty for long: the caller holds GP_BATCH granules that no
	 * slot off the empty stack holds, so at most nr_batches - 1 slots are
	 * off it, and a slot in a move is pushed back within a few steps.
	 */
	while ((b = batch_pop(pool, &pool->empty)) == GP_NONE)
		sched_yield();
	memcpy(pool->batches[b].idx, mag->idx, sizeof(pool->batches[b].idx));
	memmove(mag->idx, mag->idx + GP_BATCH, (count - GP_BATCH) * sizeof(*mag->idx));
	/* lower the count first: gen_pool_avail() may lag, never double-count */
	set_mag_count(mag, count - GP_BATCH);
	batch_push(pool, &pool->full, b);
	__atomic_fetch_add(&pool->nr_full, 1, __ATOMIC_RELAXED);
}

/* Fill the empty @mag (owned by the caller) with a batch off the depot: false if there is none. */
static bool mag_refill(struct gen_pool *pool, struct gp_mag *mag)
{
	uint32_t b = batch_pop(pool, &pool->full);

	if (b == GP_NONE)
		return false;
	__atomic_fetch_sub(&pool->nr_full, 1, __ATOMIC_RELAXED);
	memcpy(mag->idx, pool->batches[b].idx, sizeof(pool->batches[b].idx));
	set_mag_count(mag, GP_BATCH);
	batch_push(pool, &pool->empty, b);
	return true;
}

/* Put the free granule @idx on @mag (owned by the caller). */
static inline void mag_put(struct gen_pool *pool, struct gp_mag *mag, uint32_t idx)
{
	uint32_t count = mag_count(mag);

	if (unlikely(count == GP_MAG_SIZE)) {
		mag_drain(pool, mag);
		count -= GP_BATCH;
	}
	mag->idx[count] = idx;
	set_mag_count(mag, count + 1);
}

/* Move up to @n granules off the top of @mag (owned by the caller) to @out. */
static inline uint32_t mag_take(struct gp_mag *mag, uint32_t *out, uint32_t n)
{
	uint32_t count = mag_count(mag), k = min(count, n);

	for (uint32_t i = 0; i < k; i++)
		out[i] = mag->idx[count - 1 - i];
	set_mag_count(mag, count - k);
	return k;
}

static void gp_thread_exit(void *arg);

static void gp_init(void)
{
	gp_have_key = pthread_key_create(&gp_key, gp_thread_exit) == 0;
#ifdef __NR_membarrier
	gp_asym = syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
#endif
}

/* Take a slot for this thread; its destructor gives it back. */
static bool gp_claim_slot(void)
{
	uint32_t slot = GP_NO_SLOT;

	pthread_once(&gp_once, gp_init);
	if (!gp_have_key)
		goto none;
	pthread_mutex_lock(&gp_lock);
	for (uint32_t w = 0; w < ARRAY_SIZE(gp_slots); w++) {
		if (~gp_slots[w]) {
			uint32_t bit = (uint32_t)__builtin_ctzll(~gp_slots[w]);

			gp_slots[w] |= 1ULL << bit;
			slot = w * 64 + bit;
			break;
		}
	}
	if (slot != GP_NO_SLOT && pthread_setspecific(gp_key, (void *)(uintptr_t)(slot + 1))) {
		gp_slots[slot / 64] &= ~(1ULL << (slot % 64));
		slot = GP_NO_SLOT;
	}
	pthread_mutex_unlock(&gp_lock);
	if (slot == GP_NO_SLOT)
		goto none;
	gp_self = slot + 1;
	return true;
none:
	gp_self = GP_NO_SLOT;
	return false;
}

/* This thread's first use of @pool (or of any pool): NULL when it gets no magazine. */
static __attribute__((noinline)) struct gp_mag *gp_mag_create(struct gen_pool *pool)
{
	struct gp_mag *mag;
	uint32_t slot;

	if (gp_self == GP_NO_SLOT || (!gp_self && !gp_claim_slot()))
		return NULL;
	slot = gp_self - 1;
	mag = __atomic_load_n(&pool->mags[slot], __ATOMIC_RELAXED);
	if (mag)
		return mag; /* inherited from the slot's previous thread */
	mag = aligned_alloc(64, sizeof(*mag));
	if (!mag)
		return NULL; /* the spare will do; try again next time */
	memset(mag, 0, sizeof(*mag));
	pthread_mutex_lock(&pool->steal_lock);
	__atomic_store_n(&pool->mags[slot], mag, __ATOMIC_RELEASE);
	if (slot >= pool->nr_mags)
		__atomic_store_n(&pool->nr_mags, slot + 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&pool->steal_lock);
	return mag;
}

static inline struct gp_mag *gp_mag_get(struct gen_pool *pool)
{
	uint32_t slot = gp_self - 1; /* wraps for 0 and GP_NO_SLOT */
	struct gp_mag *mag;

	if (likely(slot < GP_MAX_SLOTS)) {
		mag = __atomic_load_n(&pool->mags[slot], __ATOMIC_RELAXED);
		if (likely(mag))
			return mag;
	}
	return gp_mag_create(pool);
}

/*
 * Start working on this thread's magazine: false if a thief has frozen it
 * (go through the spare then). The owner's half of the handshake in the
 * header comment.
 */
static inline bool gp_mag_enter(struct gp_mag *mag)
{
	if (likely(gp_asym)) {
		__atomic_store_n(&mag->busy, 1, __ATOMIC_RELAXED);
		/* the thief's membarrier() orders the store before the load at run time */
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
	} else {
		__atomic_exchange_n(&mag->busy, 1, __ATOMIC_SEQ_CST);
	}
	/* acquire: a thief's changes to the magazine are visible once it unfroze */
	if (likely(!__atomic_load_n(&mag->frozen, __ATOMIC_SEQ_CST)))
		return true;
	__atomic_store_n(&mag->busy, 0, __ATOMIC_RELEASE);
	return false;
}

/* Done with the magazine: release, so a thief that sees busy clear sees it as left. */
static inline void gp_mag_exit(struct gp_mag *mag)
{
	__atomic_store_n(&mag->busy, 0, __ATOMIC_RELEASE);
}

/* ---- theft ---- */

static void gp_membarrier(void)
{
#ifdef __NR_membarrier
	long err = syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);

	/* a forked child may need its own registration */
	if (err && syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0)
		err = syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
	/* the owners' fast path depends on it */
	DEVMEM_BUG_ON(err);
	(void)err;
#endif
}

/* Move every magazine's granules to the spare. Under steal_lock. */
static void gp_take_back_all(struct gen_pool *pool)
{
	uint32_t nr = __atomic_load_n(&pool->nr_mags, __ATOMIC_RELAXED);
	struct gp_mag *mag;

	for (uint32_t s = 0; s < nr; s++) {
		mag = __atomic_load_n(&pool->mags[s], __ATOMIC_RELAXED);
		if (mag)
			__atomic_store_n(&mag->frozen, 1, __ATOMIC_SEQ_CST);
	}
	if (gp_asym)
		gp_membarrier();
	for (uint32_t s = 0; s < nr; s++) {
		uint32_t count;

		mag = __atomic_load_n(&pool->mags[s], __ATOMIC_RELAXED);
		if (!mag)
			continue;
		/* an owner stays busy for a bounded number of steps, never blocked */
		while (__atomic_load_n(&mag->busy, __ATOMIC_SEQ_CST))
			sched_yield();
		count = mag_count(mag);
		for (uint32_t i = 0; i < count; i++)
			mag_put(pool, &pool->spare, mag->idx[i]);
		set_mag_count(mag, 0);
	}
	/* now nothing moves: owners wait on steal_lock; look at the depot last */
	if (!mag_count(&pool->spare))
		mag_refill(pool, &pool->spare);
	for (uint32_t s = 0; s < nr; s++) {
		mag = __atomic_load_n(&pool->mags[s], __ATOMIC_RELAXED);
		if (mag)
			__atomic_store_n(&mag->frozen, 0, __ATOMIC_RELEASE);
	}
}

/*
 * The way to the pool when this thread's magazine cannot serve: it has none,
 * it is frozen, or it is empty and so is the depot. Takes up to @want
 * (<= GP_BATCH) free granules into @out (owned by the caller, still marked
 * free): from the spare, else a batch off the depot, else every magazine's
 * granules. Returns how many: 0 only if at one moment during the call no
 * granule of the pool was free. If @mine (the caller's magazine, which it is
 * not working on; frozen or not, no thief is at work once the lock is held)
 * is given, it is topped up to a batch as well, so the next allocations find
 * granules there.
 */
static uint32_t gp_steal(struct gen_pool *pool, struct gp_mag *mine, uint32_t *out, uint32_t want)
{
	struct gp_mag *spare = &pool->spare;
	uint32_t got, idx;

	pthread_mutex_lock(&pool->steal_lock);
	if (!mag_count(spare) && !mag_refill(pool, spare))
		gp_take_back_all(pool);
	got = mag_take(spare, out, want);
	/*
	 * Under the lock: no thief is at work, so @mine is this thread's
	 * alone; and granules carried out of the lock to be put there would be
	 * invisible to the next thief meanwhile.
	 */
	while (mine && mag_count(mine) < GP_BATCH && mag_take(spare, &idx, 1))
		mag_put(pool, mine, idx);
	pthread_mutex_unlock(&pool->steal_lock);
	return got;
}

/* Put @n claimed granules on this thread's magazine, or the spare. */
static void gp_put_many(struct gen_pool *pool, const uint32_t *idx, uint32_t n)
{
	struct gp_mag *mag = gp_mag_get(pool);

	if (mag && gp_mag_enter(mag)) {
		for (uint32_t i = 0; i < n; i++)
			mag_put(pool, mag, idx[i]);
		gp_mag_exit(mag);
		return;
	}
	pthread_mutex_lock(&pool->steal_lock);
	for (uint32_t i = 0; i < n; i++)
		mag_put(pool, &pool->spare, idx[i]);
	pthread_mutex_unlock(&pool->steal_lock);
}

/* The key's destructor: an exiting thread gives its magazines' granules and its slot back. */
static void gp_thread_exit(void *arg)
{
	uint32_t slot = (uint32_t)(uintptr_t)arg - 1;
	struct gen_pool *pool;

	pthread_mutex_lock(&gp_lock);
	list_for_each_entry(pool, &gp_pools, node) {
		struct gp_mag *mag = __atomic_load_n(&pool->mags[slot], __ATOMIC_RELAXED);
		uint32_t count;

		if (!mag)
			continue;
		/* a thief may have emptied it until we hold the lock */
		pthread_mutex_lock(&pool->steal_lock);
		count = mag_count(mag);
		for (uint32_t i = 0; i < count; i++)
			mag_put(pool, &pool->spare, mag->idx[i]);
		set_mag_count(mag, 0);
		pthread_mutex_unlock(&pool->steal_lock);
	}
	gp_slots[slot / 64] &= ~(1ULL << (slot % 64));
	pthread_mutex_unlock(&gp_lock);
	gp_self = 0;
}

/* ---- the pool ---- */

int gen_pool_create(unsigned int granule_order, struct gen_pool **out)
{
	struct gen_pool *pool;

	if (granule_order > GEN_POOL_MAX_ORDER)
		return devmem_err(-EINVAL, "gen_pool: granule order %u out of range (0..%d)",
				  granule_order, GEN_POOL_MAX_ORDER);
	pthread_once(&gp_once, gp_init);
	pool = aligned_alloc(64, sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	memset(pool, 0, sizeof(*pool));
	pool->full = GP_NONE;
	pool->empty = GP_NONE;
	pool->order = granule_order;
	if (pthread_mutex_init(&pool->steal_lock, NULL)) {
		free(pool);
		return -ENOMEM;
	}
	pthread_mutex_lock(&gp_lock);
	list_add(&pool->node, &gp_pools);
	pthread_mutex_unlock(&gp_lock);
	*out = pool;
	return 0;
}

void gen_pool_destroy(struct gen_pool *pool)
{
	size_t nr_free;

	if (!pool)
		return;
	pthread_mutex_lock(&gp_lock);
	list_del(&pool->node);
	pthread_mutex_unlock(&gp_lock);

	nr_free = __atomic_load_n(&pool->nr_full, __ATOMIC_RELAXED) * GP_BATCH +
		  mag_count(&pool->spare);
	for (uint32_t s = 0; s < pool->nr_mags; s++) {
		if (pool->mags[s])
			nr_free += mag_count(pool->mags[s]);
		free(pool->mags[s]);
	}
	devmem_assert(nr_free == pool->nr_granules,
		      "gen_pool_destroy with granules still allocated");
	(void)nr_free;
	pthread_mutex_destroy(&pool->steal_lock);
	free(pool->state);
	free(pool->batches);
	free(pool->chunks);
	free(pool->by_addr);
	free(pool);
}

/* Make room for one more chunk and @nr more granules; changes nothing visible. */
static int gen_pool_grow(struct gen_pool *pool, uint32_t nr)
{
	uint64_t want = (uint64_t)pool->nr_granules + nr;
	uint32_t nr_batches = (uint32_t)(want / GP_BATCH) + 1;

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
	if (pool->cap_granules < want) {
		/* doubling keeps adding many small chunks linear; exact for the first */
		uint64_t cap = pool->cap_granules ? max(want, 2ULL * pool->cap_granules) : want;
		struct gp_batch *batches;
		uint8_t *state;

		cap = min(cap, (uint64_t)GP_MAX_GRANULES);
		state = realloc(pool->state, cap * sizeof(*state));
		if (!state)
			return -ENOMEM;
		pool->state = state;
		batches = realloc(pool->batches, (cap / GP_BATCH + 1) * sizeof(*batches));
		if (!batches)
			return -ENOMEM;
		pool->batches = batches;
		pool->cap_granules = (uint32_t)cap;
	}
	/* the new slots hold nothing yet */
	for (; pool->nr_batches < nr_batches; pool->nr_batches++)
		batch_push(pool, &pool->empty, pool->nr_batches);
	return 0;
}

int gen_pool_add_owner(struct gen_pool *pool, unsigned long addr, size_t size, void *owner)
{
	unsigned long granule = granule_size(pool), end = addr + size - 1;
	struct gen_pool_chunk *chunk;
	uint32_t pos, nr, id;
	int err;

	if (!addr)
		return devmem_err(-EINVAL, "gen_pool: a chunk may not start at address 0");
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

	memset(&pool->state[chunk->first], GP_FREE, nr);
	pool->nr_granules += nr;
	/*
	 * Through the spare, top down: its full batches go to the depot, low
	 * addresses last, so a fresh chunk hands out its low addresses first
	 * (but for the lowest part of a batch, which the spare keeps).
	 */
	for (uint32_t i = nr; i-- > 0;)
		mag_put(pool, &pool->spare, chunk->first + i);
	while (mag_count(&pool->spare) >= GP_BATCH)
		mag_drain(pool, &pool->spare);
	return 0;
}

/*
 * The slow half of gp_get(): no magazine, a frozen or an empty one. Returns a
 * free granule's index (owned by the caller), or GP_NONE when the whole pool
 * was empty.
 */
static __attribute__((noinline)) uint32_t gp_get_slow(struct gen_pool *pool)
{
	struct gp_mag *mag = gp_mag_get(pool);
	uint32_t idx = GP_NONE;

	if (!mag || !gp_mag_enter(mag))
		return gp_steal(pool, mag, &idx, 1) ? idx : GP_NONE;
	if (mag_count(mag) || mag_refill(pool, mag))
		mag_take(mag, &idx, 1);
	gp_mag_exit(mag);
	if (idx == GP_NONE)
		gp_steal(pool, mag, &idx, 1);
	return idx;
}

/* A free granule's index off this thread's magazine, or GP_NONE when the pool is empty. */
static inline uint32_t gp_get(struct gen_pool *pool)
{
	uint32_t slot = gp_self - 1, idx, count;
	struct gp_mag *mag;

	if (likely(slot < GP_MAX_SLOTS)) {
		mag = __atomic_load_n(&pool->mags[slot], __ATOMIC_RELAXED);
		if (likely(mag && gp_mag_enter(mag))) {
			count = mag_count(mag);
			if (likely(count)) {
				idx = mag->idx[count - 1];
				set_mag_count(mag, count - 1);
				gp_mag_exit(mag);
				return idx;
			}
			gp_mag_exit(mag);
		}
	}
	return gp_get_slow(pool);
}

/* The slow half of gp_put(): no magazine, a frozen or a full one. */
static __attribute__((noinline)) void gp_put_slow(struct gen_pool *pool, uint32_t idx)
{
	gp_put_many(pool, &idx, 1);
}

/* Put the claimed granule @idx on this thread's magazine. */
static inline void gp_put(struct gen_pool *pool, uint32_t idx)
{
	uint32_t slot = gp_self - 1, count;
	struct gp_mag *mag;

	if (likely(slot < GP_MAX_SLOTS)) {
		mag = __atomic_load_n(&pool->mags[slot], __ATOMIC_RELAXED);
		if (likely(mag && gp_mag_enter(mag))) {
			count = mag_count(mag);
			if (likely(count < GP_MAG_SIZE)) {
				mag->idx[count] = idx;
				set_mag_count(mag, count + 1);
				gp_mag_exit(mag);
				return;
			}
			gp_mag_exit(mag);
		}
	}
	gp_put_slow(pool, idx);
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
	idx = gp_get(pool);
	if (unlikely(idx == GP_NONE))
		return 0;
	set_out(pool, idx);

	chunk = chunk_of_index(pool, idx);
	if (owner)
		*owner = chunk->owner;
	return index_to_addr(pool, chunk, idx);
}

int gen_pool_alloc_bulk(struct gen_pool *pool, unsigned long *addrs, void **owners, int n)
{
	uint32_t got = 0, want, haul[GP_BATCH];
	struct gp_mag *mag;

	if (n <= 0)
		return 0;
	want = (uint32_t)n;
	/* indices first, in @addrs; turned into addresses at the end */
	mag = gp_mag_get(pool);
	if (mag && gp_mag_enter(mag)) {
		while (got < want && (mag_count(mag) || mag_refill(pool, mag))) {
			uint32_t count = mag_count(mag), k = min(count, want - got);

			for (uint32_t i = 0; i < k; i++)
				addrs[got++] = mag->idx[count - 1 - i];
			set_mag_count(mag, count - k);
		}
		gp_mag_exit(mag);
	}
	if (!got) {
		got = gp_steal(pool, mag, haul, min(want, (uint32_t)GP_BATCH));
		for (uint32_t i = 0; i < got; i++)
			addrs[i] = haul[i];
	}
	for (uint32_t i = 0; i < got; i++) {
		uint32_t idx = (uint32_t)addrs[i];
		struct gen_pool_chunk *chunk = chunk_of_index(pool, idx);

		set_out(pool, idx);
		addrs[i] = index_to_addr(pool, chunk, idx);
		if (owners)
			owners[i] = chunk->owner;
	}
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
	if (likely(idx != GP_NONE))
		gp_put(pool, idx);
}

void gen_pool_free_bulk(struct gen_pool *pool, const unsigned long *addrs, int n)
{
	struct gp_mag *mag, *to;
	bool in;

	if (n <= 0)
		return;
	mag = gp_mag_get(pool);
	in = mag && gp_mag_enter(mag);
	if (in) {
		to = mag;
	} else {
		to = &pool->spare;
		pthread_mutex_lock(&pool->steal_lock);
	}
	for (int i = 0; i < n; i++) {
		uint32_t idx = claim_for_free(pool, addrs[i], NULL);

		if (idx != GP_NONE)
			mag_put(pool, to, idx);
	}
	if (in)
		gp_mag_exit(mag);
	else
		pthread_mutex_unlock(&pool->steal_lock);
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
	size_t n = __atomic_load_n(&pool->nr_full, __ATOMIC_RELAXED) * GP_BATCH;
	uint32_t nr = __atomic_load_n(&pool->nr_mags, __ATOMIC_ACQUIRE);

	n += mag_count(&pool->spare);
	for (uint32_t s = 0; s < nr; s++) {
		struct gp_mag *mag = __atomic_load_n(&pool->mags[s], __ATOMIC_ACQUIRE);

		if (mag)
			n += mag_count(mag);
	}
	/* counts read one after another while granules move: keep the snapshot plausible */
	return min(n, (size_t)pool->nr_granules) << pool->order;
}

size_t gen_pool_size(struct gen_pool *pool)
{
	return (size_t)pool->nr_granules << pool->order;
}

size_t gen_pool_granule(struct gen_pool *pool)
{
	return granule_size(pool);
}

size_t gen_pool_metadata_bytes(struct gen_pool *pool)
{
	size_t bytes = sizeof(*pool);
	uint32_t nr = __atomic_load_n(&pool->nr_mags, __ATOMIC_ACQUIRE);

	bytes += (size_t)pool->cap_chunks * (sizeof(*pool->chunks) + sizeof(*pool->by_addr));
	bytes += (size_t)pool->cap_granules * sizeof(*pool->state);
	if (pool->cap_granules)
		bytes += ((size_t)pool->cap_granules / GP_BATCH + 1) * sizeof(*pool->batches);
	for (uint32_t s = 0; s < nr; s++)
		if (__atomic_load_n(&pool->mags[s], __ATOMIC_RELAXED))
			bytes += sizeof(struct gp_mag);
	return bytes;
}

void gen_pool_for_each_chunk(struct gen_pool *pool,
			     void (*func)(struct gen_pool *pool, struct gen_pool_chunk *chunk,
					  void *data),
			     void *data)
{
	for (uint32_t i = 0; i < pool->nr_chunks; i++)
		func(pool, &pool->chunks[i], data);
}
