/* SPDX-License-Identifier: MIT */
/*
 * dma_resv: the reservation object of a buffer: its ww_mutex (the "resv lock",
 * class reservation_ww_class) and the fences of the work using it.
 *
 * Each fence is added with a usage. The usages are ordered
 *	KERNEL < WRITE < READ < BOOKKEEP
 * and a query for one usage returns the fences of that usage and of every
 * lower one (asking for READ gives KERNEL, WRITE and READ fences).
 *
 * Rules (the kernel's):
 * - Fences are added and removed with the lock held. Room is reserved first
 *   with dma_resv_reserve_fences() (which may fail with -ENOMEM);
 *   dma_resv_add_fence() then cannot fail. Unused reservations are dropped
 *   when the lock is released.
 * - Adding a fence of a context already present replaces the old fence of
 *   that context, unless the old one's usage is lower than the new one's
 *   (then both are kept, so a KERNEL fence is never hidden by a READ one).
 *   A fence's usage can be raised by adding it again, never lowered.
 * - Signalled fences may be pruned at any time.
 * - Readers may look at the fences without the lock (the _unlocked
 *   iterator and the get/wait/test helpers) and see a consistent snapshot.
 */
#ifndef DEVMEM_DMA_RESV_H
#define DEVMEM_DMA_RESV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dma-fence.h"
#include "ww-mutex.h"

#ifdef __cplusplus
extern "C" {
#endif

enum dma_resv_usage {
	DMA_RESV_USAGE_KERNEL, /* memory management: moves, clears; everyone waits */
	DMA_RESV_USAGE_WRITE, /* implicit-sync writers */
	DMA_RESV_USAGE_READ, /* implicit-sync readers */
	DMA_RESV_USAGE_BOOKKEEP, /* explicitly synced users; only memory management waits */
};

/* The class of every reservation lock: all resv locks are taken with it. */
extern struct ww_class reservation_ww_class;

struct dma_resv_list;

/*
 * Fields are private to dma-resv.c. The lock holder reads the list freely and
 * changes it under list_lock; unlocked readers read it only under list_lock
 * (and take a fence reference there before they let go of it).
 */
struct dma_resv {
	struct ww_mutex lock;
	struct dma_resv_list *fences; /* written under lock and list_lock; read under either */
	pthread_mutex_t list_lock; /* lets unlocked readers snapshot fences safely */
	uint64_t seq; /* under list_lock: bumped when entries move (new list, removal) */
	unsigned int reserved; /* under lock: free slots reserved, dropped on unlock */
};

void dma_resv_init(struct dma_resv *obj);
void dma_resv_fini(struct dma_resv *obj); /* drops every fence; must be unlocked */

/* The resv lock. The same return values as ww_mutex_lock(). */
int dma_resv_lock(struct dma_resv *obj, struct ww_acquire_ctx *ctx);
int dma_resv_lock_interruptible(struct dma_resv *obj, struct ww_acquire_ctx *ctx);
void dma_resv_lock_slow(struct dma_resv *obj, struct ww_acquire_ctx *ctx);
bool dma_resv_trylock(struct dma_resv *obj);
void dma_resv_unlock(struct dma_resv *obj);
bool dma_resv_is_locked(struct dma_resv *obj);
/* True if the calling thread holds the lock (for the locking assertions). */
bool dma_resv_held(struct dma_resv *obj);
/* The context that holds the lock, or NULL. */
struct ww_acquire_ctx *dma_resv_locking_ctx(struct dma_resv *obj);

/* Make room for @num_fences more fences. Lock held. 0 or -ENOMEM. */
int dma_resv_reserve_fences(struct dma_resv *obj, unsigned int num_fences);

/*
 * Add @fence with @usage (takes its own reference). Lock held: cannot fail.
 * As in the kernel, the fence takes the place of an entry of the same context
 * whose usage is the same or higher (numerically) when @fence is the same or
 * later, or of an entry that has signalled; otherwise it is appended, which
 * uses a slot reserved with dma_resv_reserve_fences() since the lock was taken.
 * Appending without a reservation is a bug (aborts in debug builds; past the
 * allocated room it aborts in every build, as the kernel's BUG_ON).
 */
void dma_resv_add_fence(struct dma_resv *obj, struct dma_fence *fence, enum dma_resv_usage usage);

/*
 * Replace every fence of @context with @replacement (or drop them when it is
 * NULL), with the new usage. Lock held. Used by memory managers.
 */
void dma_resv_replace_fences(struct dma_resv *obj, uint64_t context, struct dma_fence *replacement,
			     enum dma_resv_usage usage);

/*
 * Iteration. The locked form needs the lock and sees the list as it is,
 * signalled fences included. The unlocked form, like the kernel's, skips
 * fences that have signalled, takes a reference on each fence it returns, and
 * restarts from the first fence when entries moved underneath (the list was
 * reallocated or entries were removed); dma_resv_iter_is_restarted() tells
 * the loop body to forget what it saw. Fences added in place or appended
 * while it runs may or may not be seen, as in the kernel.
 */
struct dma_resv_iter {
	struct dma_resv *obj;
	enum dma_resv_usage usage;
	struct dma_fence *fence; /* the current fence (referenced when unlocked) */
	enum dma_resv_usage fence_usage;
	unsigned int index;
	unsigned int num_fences; /* unlocked: the entries seen since the last restart */
	uint64_t seq;
	bool is_restarted;
	bool locked;
};

void dma_resv_iter_begin(struct dma_resv_iter *cursor, struct dma_resv *obj,
			 enum dma_resv_usage usage);
struct dma_fence *dma_resv_iter_first(struct dma_resv_iter *cursor); /* lock held */
struct dma_fence *dma_resv_iter_next(struct dma_resv_iter *cursor); /* lock held */
struct dma_fence *dma_resv_iter_first_unlocked(struct dma_resv_iter *cursor);
struct dma_fence *dma_resv_iter_next_unlocked(struct dma_resv_iter *cursor);
void dma_resv_iter_end(struct dma_resv_iter *cursor); /* drops the unlocked reference */

static inline enum dma_resv_usage dma_resv_iter_usage(struct dma_resv_iter *cursor)
{
	return cursor->fence_usage;
}

static inline bool dma_resv_iter_is_restarted(struct dma_resv_iter *cursor)
{
	return cursor->is_restarted;
}

#define dma_resv_for_each_fence(cursor, obj, usage, fence)                                        \
	for (dma_resv_iter_begin(cursor, obj, usage), fence = dma_resv_iter_first(cursor); fence; \
	     fence = dma_resv_iter_next(cursor))

/* Must be followed by dma_resv_iter_end(cursor). */
#define dma_resv_for_each_fence_unlocked(cursor, fence)           \
	for (fence = dma_resv_iter_first_unlocked(cursor); fence; \
	     fence = dma_resv_iter_next_unlocked(cursor))

/*
 * Copy out the fences of @usage and lower, each with a reference, into a
 * malloc'ed array (free() it after putting the fences). No lock needed.
 * 0 or -ENOMEM; *num_fences is 0 and *fences NULL when there are none.
 */
int dma_resv_get_fences(struct dma_resv *obj, enum dma_resv_usage usage, unsigned int *num_fences,
			struct dma_fence ***fences);

/*
 * One fence standing for all fences of @usage and lower: NULL when there are
 * none, the fence itself (referenced) when there is one, a new fence array
 * when there are several. 0 or -ENOMEM.
 */
int dma_resv_get_singleton(struct dma_resv *obj, enum dma_resv_usage usage,
			   struct dma_fence **fence);

/*
 * Wait for every fence of @usage and lower. No lock needed. Returns the
 * remaining time (>0), 0 on timeout, or -ERESTARTSYS if interrupted.
 */
int64_t dma_resv_wait_timeout(struct dma_resv *obj, enum dma_resv_usage usage, bool intr,
			      int64_t timeout_ns);

/* True if every fence of @usage and lower has signalled. No lock needed. */
bool dma_resv_test_signaled(struct dma_resv *obj, enum dma_resv_usage usage);

/* Fences in the resv (any usage, signalled ones included until pruned). For describe. */
unsigned int dma_resv_num_fences(struct dma_resv *obj);

/*
 * Describe the fences of usage READ and lower (as the kernel's bufinfo does:
 * BOOKKEEP fences are not listed), one line per fence:
 * "\t<usage> fence: <driver> <timeline> seq <seqno> <signalled|unsignalled>\n"
 * (usage as kernel, write or read). Written like snprintf() into
 * @buf of @size bytes (always NUL-terminated when @size > 0); returns the
 * length the whole description has, which may be more than fitted. No lock needed.
 */
int dma_resv_describe(struct dma_resv *obj, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
