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
 * So the waits-for graph only points from older to younger: no deadlock, and
 * the oldest context always makes progress (no starvation).
 *
 * Locking a mutex the context already holds returns -EALREADY. A NULL context
 * makes ww_mutex_lock() a plain sleeping lock (it never returns -EDEADLK).
 */
#ifndef DEVMEM_WW_MUTEX_H
#define DEVMEM_WW_MUTEX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

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

/* Fields are private to ww-mutex.c. */
struct ww_mutex {
	uint64_t owner; /* atomic: 0 unlocked, else the holder tag and a waiters bit */
	struct ww_acquire_ctx *ctx; /* the holder's context, or NULL; written by the holder */
	struct ww_class *ww_class;
	pthread_t holder; /* valid while locked; for ww_mutex_is_owned_by_me() */
	pthread_mutex_t wait_lock; /* slow path only: protects the sleepers */
	pthread_cond_t wait_cond;
	unsigned int sleepers; /* protected by wait_lock */
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

#ifdef __cplusplus
}
#endif

#endif
