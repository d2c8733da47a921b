/* SPDX-License-Identifier: MIT */
/*
 * ww_mutex: the wound/wait mutex of the kernel, in its wait-die flavour, as
 * used by the reservation lock of every dma-buf.
 *
 * Several locks of one class are taken under an acquire context whose stamp
 * orders the contexts by age (lower stamp = older). When a context finds a
 * lock held by another context:
 *   - if it is older, it waits;
 *   - if it is younger and already holds a lock of the class, it "dies":
 *     ww_mutex_lock() returns -EDEADLK. The caller must unlock everything it
 *     holds under the context, take the contended lock with
 *     ww_mutex_lock_slow() (which waits, and cannot fail), and retry the rest.
 *   - a younger context that holds locks also dies rather than queue behind an
 *     older waiting context (which will get the lock first), and dies when an
 *     older context later queues in front of it (the kernel's rule, too).
 * A context holding no lock of the class never dies: it waits.
 * Invariant: a context holding locks only ever sleeps on a lock held by a
 * younger context (or by a context-less locker) with no older context queued
 * before it. So the waits-for graph only points from older to younger: no
 * deadlock, and the oldest context always makes progress (no starvation; a
 * context keeps its stamp across back-offs, so every context becomes the
 * oldest in time). Waiters get the lock in queue order (the unlocker hands it
 * over; newcomers do not overtake sleepers).
 *
 * Locking a mutex the context already holds returns -EALREADY. A NULL context
 * makes ww_mutex_lock() a plain sleeping lock (it never returns -EDEADLK);
 * locking a mutex the calling thread already holds without a context (or
 * under another context) would deadlock and aborts in debug builds.
 *
 * The interruptible variants return -EINTR when a signal handler runs while
 * they sleep; the handler must be installed without SA_RESTART (with it the
 * kernel restarts the sleep and the signal cannot be seen).
 *
 * Bugs that abort in debug builds (as lockdep/DEBUG_MUTEXES would warn):
 * locking after ww_acquire_done(), ww_acquire_done() twice, ww_acquire_fini()
 * with locks held (or twice), ww_mutex_lock_slow() with locks held, taking
 * another lock than the contended one first after -EDEADLK, a context of
 * another class, and unlocking a mutex the calling thread does not hold.
 */
#ifndef DEVMEM_WW_MUTEX_H
#define DEVMEM_WW_MUTEX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "list.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ww_class {
	uint64_t stamp; /* atomic: the next acquire context's stamp */
	const char *name;
};

#define DEFINE_WW_CLASS(classname) struct ww_class classname = { .stamp = 0, .name = #classname }

struct ww_acquire_ctx {
	struct ww_class *ww_class;
	uint64_t stamp;
	unsigned int acquired; /* locks currently held under this context */
	bool done_acquire; /* ww_acquire_done() was called: no more locking */
	struct ww_mutex
		*contending_lock; /* the lock that made us die; must be taken with lock_slow */
	pthread_t task; /* the thread the context belongs to */
};

/*
 * Fields are private to ww-mutex.c.
 *
 * The lock is one word: 0 when free, else the holder (its acquire context
 * with WW_OWNER_CTX set, or its thread when locked without a context) plus
 * WW_OWNER_WAITERS when threads sleep on it. Locking and unlocking without
 * waiters is one compare-exchange each; everything else happens under
 * wait_lock, and an unlock with waiters hands the lock to the first waiter.
 */
#define WW_OWNER_WAITERS 0x1UL
#define WW_OWNER_CTX 0x2UL
#define WW_OWNER_FLAGS (WW_OWNER_WAITERS | WW_OWNER_CTX)

struct ww_mutex {
	uintptr_t owner; /* atomic: see above; changes with waiters only under wait_lock */
	pthread_t holder; /* atomic: the thread holding it under a context, else 0 */
	struct ww_class *ww_class;
	pthread_mutex_t wait_lock; /* slow path only: protects waiters */
	struct list_head waiters; /* sleeping lockers, oldest context first; under wait_lock */
};

void ww_mutex_init(struct ww_mutex *lock, struct ww_class *ww_class);
void ww_mutex_destroy(struct ww_mutex *lock); /* must be unlocked */

/* Start an acquire context (takes a new stamp from @ww_class). */
void ww_acquire_init(struct ww_acquire_ctx *ctx, struct ww_class *ww_class);
/* Mark the end of the locking phase: the context may not take more locks. */
void ww_acquire_done(struct ww_acquire_ctx *ctx);
/* End the context; every lock taken under it must be unlocked first. */
void ww_acquire_fini(struct ww_acquire_ctx *ctx);

/*
 * Take @lock. Returns 0, -EDEADLK when @ctx must back off (see above),
 * -EALREADY when @ctx already holds @lock.
 */
int ww_mutex_lock(struct ww_mutex *lock, struct ww_acquire_ctx *ctx);

/* As ww_mutex_lock(), but a signal delivered while waiting returns -EINTR. */
int ww_mutex_lock_interruptible(struct ww_mutex *lock, struct ww_acquire_ctx *ctx);

/*
 * Take the contended lock after backing off: @ctx must hold no lock of the
 * class. Waits as long as needed; cannot fail.
 */
void ww_mutex_lock_slow(struct ww_mutex *lock, struct ww_acquire_ctx *ctx);
int ww_mutex_lock_slow_interruptible(struct ww_mutex *lock, struct ww_acquire_ctx *ctx);

/* Take @lock if free. With a context, counts as acquired under it. */
bool ww_mutex_trylock(struct ww_mutex *lock, struct ww_acquire_ctx *ctx);

void ww_mutex_unlock(struct ww_mutex *lock);

bool ww_mutex_is_locked(struct ww_mutex *lock);
/* True if the calling thread holds @lock: for locking assertions. */
bool ww_mutex_is_owned_by_me(struct ww_mutex *lock);

/*
 * The context holding @lock, or NULL when it is free or held without one.
 * Only meaningful to the holder (another thread's context may end at any time).
 */
static inline struct ww_acquire_ctx *ww_mutex_locking_ctx(struct ww_mutex *lock)
{
	uintptr_t owner = __atomic_load_n(&lock->owner, __ATOMIC_RELAXED);

	if (!(owner & WW_OWNER_CTX))
		return NULL;
	return (struct ww_acquire_ctx *)(owner & ~WW_OWNER_FLAGS);
}

#ifdef __cplusplus
}
#endif

#endif
