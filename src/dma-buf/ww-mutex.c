// SPDX-License-Identifier: MIT
/*
 * ww_mutex, wait-die flavour (kernel/locking/ww_mutex.h).
 *
 * The lock word (lock->owner) names the holder: its acquire context tagged
 * with WW_OWNER_CTX, or its thread (pthread_self()) when locked without one,
 * plus WW_OWNER_WAITERS while someone sleeps on it. Without waiters, lock and
 * unlock are one compare-exchange each.
 *
 * Waiters queue on lock->waiters under wait_lock, contexts in stamp order
 * (oldest first), context-less lockers behind the contexts already queued.
 * While WAITERS is set the word never goes back to 0: the unlocking holder
 * takes wait_lock and hands the lock straight to the first waiter. So a
 * sleeper is never overtaken by a newcomer, and the holder of a lock with
 * waiters changes only under wait_lock, where the waiters' decisions are made.
 *
 * The invariant that rules out deadlock: a context that holds locks of the
 * class (acquired > 0) only ever sleeps on a lock whose holder is younger (or
 * has no context) and behind no older context in the queue. When it queues
 * behind an older context, or finds an older holder, it dies (-EDEADLK)
 * instead; when an older context queues in front of it later, that context
 * wakes it and it dies then. Every waits-for edge between lock-holding
 * contexts therefore points from older to younger, the graph has no cycle,
 * and the oldest context never waits for anything that waits in turn on it.
 * Contexts holding nothing never die: they hold nothing anyone could wait on.
 *
 * Sleeping is a private futex word in each waiter (on its stack); the waker
 * sets it under wait_lock, and the waiter takes wait_lock before it leaves,
 * so no waker touches a waiter that has gone. A futex wait interrupted by a
 * signal handler (installed without SA_RESTART) returns EINTR: that is how
 * the interruptible variants see signals.
 */
#include <errno.h>
#include <linux/futex.h>
#include <sys/single_threaded.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "devmem/ww-mutex.h"
#include "lib/debug.h"
#include "lib/list.h"

_Static_assert(sizeof(pthread_t) == sizeof(uintptr_t), "a thread must fit the lock word");

struct ww_waiter {
	struct list_head node; /* in lock->waiters; under wait_lock */
	struct ww_acquire_ctx *ctx; /* NULL for a plain lock */
	uintptr_t tag; /* the lock word value that makes us the holder */
	bool may_die; /* we hold locks of the class: wait-die applies to us */
	bool granted; /* the unlocker handed us the lock; under wait_lock */
	uint32_t wake; /* atomic: futex word, set by wakers under wait_lock */
};

static inline struct ww_acquire_ctx *ww_owner_ctx(uintptr_t owner)
{
	return (owner & WW_OWNER_CTX) ? (struct ww_acquire_ctx *)(owner & ~WW_OWNER_FLAGS) : NULL;
}

static inline uintptr_t ww_tag(struct ww_acquire_ctx *ctx)
{
	return ctx ? (uintptr_t)ctx | WW_OWNER_CTX : (uintptr_t)pthread_self();
}

/* True if context @a is older (has the lower stamp) than @b. */
static inline bool ww_ctx_older(const struct ww_acquire_ctx *a, const struct ww_acquire_ctx *b)
{
	return (int64_t)(a->stamp - b->stamp) < 0;
}

void ww_mutex_init(struct ww_mutex *lock, struct ww_class *ww_class)
{
	__atomic_store_n(&lock->owner, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&lock->holder, 0, __ATOMIC_RELAXED);
	lock->ww_class = ww_class;
	pthread_mutex_init(&lock->wait_lock, NULL);
	INIT_LIST_HEAD(&lock->waiters);
}

void ww_mutex_destroy(struct ww_mutex *lock)
{
	devmem_assert(!ww_mutex_is_locked(lock), "ww_mutex_destroy: the mutex is locked");
	devmem_assert(list_empty(&lock->waiters), "ww_mutex_destroy: threads wait on the mutex");
	pthread_mutex_destroy(&lock->wait_lock);
}

void ww_acquire_init(struct ww_acquire_ctx *ctx, struct ww_class *ww_class)
{
	ctx->ww_class = ww_class;
	ctx->stamp = __atomic_add_fetch(&ww_class->stamp, 1, __ATOMIC_RELAXED);
	ctx->acquired = 0;
	ctx->done_acquire = false;
	ctx->contending_lock = NULL;
	ctx->task = pthread_self();
}

void ww_acquire_done(struct ww_acquire_ctx *ctx)
{
	devmem_assert(!ctx->done_acquire, "ww_acquire_done: called twice (or after fini)");
	ctx->done_acquire = true;
}

void ww_acquire_fini(struct ww_acquire_ctx *ctx)
{
	devmem_assert(ctx->acquired == 0, "ww_acquire_fini: locks still held under the context");
#if DEVMEM_DEBUG
	/* poison, as the kernel does: locking or a second fini now aborts */
	ctx->done_acquire = true;
	ctx->acquired = ~0U;
#endif
}

/* The context rules checked before every lock attempt; 0 or -EALREADY. */
static int ww_ctx_check(struct ww_mutex *lock, struct ww_acquire_ctx *ctx)
{
	devmem_assert(!ctx->done_acquire, "ww_mutex_lock: locking after ww_acquire_done()");
	devmem_assert(ctx->ww_class == lock->ww_class, "ww_mutex_lock: context of another class");
	devmem_assert(pthread_equal(ctx->task, pthread_self()),
		      "ww_mutex_lock: context used by a thread that does not own it");
	/* only this thread can have put ctx in the word: a relaxed load is exact */
	if (unlikely(ww_mutex_locking_ctx(lock) == ctx))
		return -EALREADY;
	return 0;
}

/* The caller now holds @lock: account for it in @ctx. */
static inline void ww_acquired(struct ww_mutex *lock, struct ww_acquire_ctx *ctx)
{
	if (!ctx)
		return;
	__atomic_store_n(&lock->holder, ctx->task, __ATOMIC_RELAXED);
	if (ctx->contending_lock) {
		/* after dying, the first lock taken must be the contended one, with nothing held */
		devmem_assert(
			ctx->contending_lock == lock,
			"ww_mutex: took another lock before the contended one after -EDEADLK");
		devmem_assert(ctx->acquired == 0, "ww_mutex: did not back off after -EDEADLK");
		ctx->contending_lock = NULL;
	}
	ctx->acquired++;
}

/*
 * While the process has one thread (glibc's __libc_single_threaded, which
 * turns false before a second thread starts and never back), nobody can race
 * with us: the lock word needs no atomic read-modify-write, as glibc's own
 * locks do. A thread created later synchronises with everything we did.
 */
static inline bool ww_single_threaded(void)
{
	return __libc_single_threaded;
}

static inline bool ww_mutex_trylock_fast(struct ww_mutex *lock, uintptr_t tag)
{
	uintptr_t unlocked = 0;

	if (ww_single_threaded()) {
		if (__atomic_load_n(&lock->owner, __ATOMIC_RELAXED))
			return false;
		__atomic_store_n(&lock->owner, tag, __ATOMIC_RELAXED);
		return true;
	}
	/* release too: a waiter reads our context's stamp through the word */
	return __atomic_compare_exchange_n(&lock->owner, &unlocked, tag, false, __ATOMIC_ACQ_REL,
					   __ATOMIC_RELAXED);
}

static void ww_waiter_wake(struct ww_waiter *w)
{
	__atomic_store_n(&w->wake, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &w->wake, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Sleep until woken or a signal arrives. Returns true if a signal interrupted us. */
static bool ww_waiter_sleep(struct ww_mutex *lock, struct ww_waiter *w)
{
	long ret;

	pthread_mutex_unlock(&lock->wait_lock);
	ret = syscall(SYS_futex, &w->wake, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	pthread_mutex_lock(&lock->wait_lock);
	__atomic_store_n(&w->wake, 0, __ATOMIC_RELAXED);
	return ret < 0 && errno == EINTR;
}

/*
 * Under wait_lock: take the lock if it is free, else make sure WAITERS is set
 * so that the holder cannot let go without taking wait_lock. Returns true if
 * we took it; else *owner is the holder's word, stable while we hold wait_lock.
 */
static bool ww_take_or_mark(struct ww_mutex *lock, uintptr_t tag, uintptr_t *owner)
{
	uintptr_t old = __atomic_load_n(&lock->owner, __ATOMIC_ACQUIRE);

	for (;;) {
		if (!old) {
			if (__atomic_compare_exchange_n(&lock->owner, &old, tag, false,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				return true;
			continue;
		}
		if (old & WW_OWNER_WAITERS)
			break;
		if (__atomic_compare_exchange_n(&lock->owner, &old, old | WW_OWNER_WAITERS, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			break;
	}
	*owner = old;
	return false;
}

/* Under wait_lock: does @w hold locks and find an older context holding @lock? */
static bool ww_holder_is_older(struct ww_mutex *lock, struct ww_waiter *w)
{
	struct ww_acquire_ctx *hold_ctx;

	if (!w->may_die)
		return false;
	hold_ctx = ww_owner_ctx(__atomic_load_n(&lock->owner, __ATOMIC_ACQUIRE));
	return hold_ctx && ww_ctx_older(hold_ctx, w->ctx);
}

/* Under wait_lock, @w queued: must it die rather than wait? (kernel: __ww_mutex_check_kill) */
static bool ww_must_die(struct ww_mutex *lock, struct ww_waiter *w)
{
	struct list_head *pos;

	if (!w->may_die)
		return false;
	if (ww_holder_is_older(lock, w))
		return true;
	/* the queue is in stamp order: any context in front of us is older */
	for (pos = w->node.prev; pos != &lock->waiters; pos = pos->prev) {
		if (list_entry(pos, struct ww_waiter, node)->ctx)
			return true;
	}
	return false;
}

/*
 * Under wait_lock: queue @w, contexts in stamp order. Dies instead when an
 * older context already waits (it would get the lock before us). Wakes the
 * younger lock-holding contexts we queue in front of: they must die now.
 */
static int ww_add_waiter(struct ww_mutex *lock, struct ww_waiter *w)
{
	struct list_head *pos = &lock->waiters, *cur;
	struct ww_waiter *other;

	if (!w->ctx) {
		list_add_tail(&w->node, &lock->waiters);
		return 0;
	}
	for (cur = lock->waiters.prev; cur != &lock->waiters; cur = cur->prev) {
		other = list_entry(cur, struct ww_waiter, node);
		if (!other->ctx)
			continue;
		if (ww_ctx_older(other->ctx, w->ctx)) {
			if (w->may_die)
				return -EDEADLK;
			break;
		}
		pos = cur;
	}
	list_add_tail(&w->node, pos); /* just before pos */
	for (cur = w->node.next; cur != &lock->waiters; cur = cur->next) {
		other = list_entry(cur, struct ww_waiter, node);
		if (other->ctx && other->may_die)
			ww_waiter_wake(other);
	}
	return 0;
}

/* Under wait_lock, with WAITERS set: queue and sleep until granted, dead or interrupted. */
static int ww_wait(struct ww_mutex *lock, struct ww_waiter *w, bool intr)
{
	int ret;

	if (ww_holder_is_older(lock, w))
		return -EDEADLK;
	ret = ww_add_waiter(lock, w);
	if (ret)
		return ret;
	for (;;) {
		bool interrupted = ww_waiter_sleep(lock, w);

		if (w->granted)
			return 0; /* the unlocker dequeued us and made us the holder */
		if (interrupted && intr)
			ret = -EINTR;
		else if (ww_must_die(lock, w))
			ret = -EDEADLK;
		if (ret) {
			/* WAITERS may stay set with nobody queued: the unlock slow path copes */
			list_del(&w->node);
			return ret;
		}
	}
}

static int ww_mutex_lock_slowpath(struct ww_mutex *lock, struct ww_acquire_ctx *ctx, bool intr)
{
	struct ww_waiter w = {
		.ctx = ctx,
		.tag = ww_tag(ctx),
		.may_die = ctx && ctx->acquired > 0,
	};
	uintptr_t owner;
	int ret = 0;

	pthread_mutex_lock(&lock->wait_lock);
	if (!ww_take_or_mark(lock, w.tag, &owner)) {
		devmem_assert((owner & ~WW_OWNER_WAITERS) != w.tag &&
				      !((owner & WW_OWNER_CTX) && ww_mutex_is_owned_by_me(lock)),
			      "ww_mutex_lock: recursive locking would deadlock");
		ret = ww_wait(lock, &w, intr);
	}
	pthread_mutex_unlock(&lock->wait_lock);

	if (!ret)
		ww_acquired(lock, ctx);
	else if (ret == -EDEADLK)
		ctx->contending_lock = lock;
	return ret;
}

static inline int __ww_mutex_lock(struct ww_mutex *lock, struct ww_acquire_ctx *ctx, bool intr)
{
	if (ctx) {
		int ret = ww_ctx_check(lock, ctx);

		if (ret)
			return ret;
	}
	if (likely(ww_mutex_trylock_fast(lock, ww_tag(ctx)))) {
		ww_acquired(lock, ctx);
		return 0;
	}
	return ww_mutex_lock_slowpath(lock, ctx, intr);
}

int ww_mutex_lock(struct ww_mutex *lock, struct ww_acquire_ctx *ctx)
{
	return __ww_mutex_lock(lock, ctx, false);
}

int ww_mutex_lock_interruptible(struct ww_mutex *lock, struct ww_acquire_ctx *ctx)
{
	return __ww_mutex_lock(lock, ctx, true);
}

/* The back-off lock: nothing held, so we wait (never die) for whoever holds it. */
static int ww_mutex_lock_slow_common(struct ww_mutex *lock, struct ww_acquire_ctx *ctx, bool intr)
{
	devmem_assert(ctx, "ww_mutex_lock_slow: needs an acquire context");
	devmem_assert(ctx->acquired == 0, "ww_mutex_lock_slow: locks still held under the context");
	return __ww_mutex_lock(lock, ctx, intr);
}

void ww_mutex_lock_slow(struct ww_mutex *lock, struct ww_acquire_ctx *ctx)
{
	int ret = ww_mutex_lock_slow_common(lock, ctx, false);

	/* holding nothing, we cannot die; -EALREADY is impossible with nothing held */
	DEVMEM_BUG_ON(ret);
}

int ww_mutex_lock_slow_interruptible(struct ww_mutex *lock, struct ww_acquire_ctx *ctx)
{
	return ww_mutex_lock_slow_common(lock, ctx, true);
}

bool ww_mutex_trylock(struct ww_mutex *lock, struct ww_acquire_ctx *ctx)
{
	if (ctx) {
		devmem_assert(!ctx->done_acquire,
			      "ww_mutex_trylock: locking after ww_acquire_done()");
		devmem_assert(ctx->ww_class == lock->ww_class,
			      "ww_mutex_trylock: context of another class");
	}
	if (!ww_mutex_trylock_fast(lock, ww_tag(ctx)))
		return false;
	ww_acquired(lock, ctx);
	return true;
}

/* The lock has waiters: hand it to the first one, or free it if they all left. */
static void ww_mutex_unlock_slowpath(struct ww_mutex *lock)
{
	struct ww_waiter *w;
	uintptr_t owner = 0;

	pthread_mutex_lock(&lock->wait_lock);
	if (!list_empty(&lock->waiters)) {
		w = list_first_entry(&lock->waiters, struct ww_waiter, node);
		list_del(&w->node);
		owner = w->tag | (list_empty(&lock->waiters) ? 0 : WW_OWNER_WAITERS);
		w->granted = true;
	}
	/* WAITERS is set, so nobody else writes the word until we drop wait_lock */
	__atomic_store_n(&lock->owner, owner, __ATOMIC_RELEASE);
	if (owner)
		ww_waiter_wake(w);
	pthread_mutex_unlock(&lock->wait_lock);
}

void ww_mutex_unlock(struct ww_mutex *lock)
{
	uintptr_t owner = __atomic_load_n(&lock->owner, __ATOMIC_RELAXED);
	struct ww_acquire_ctx *ctx = ww_owner_ctx(owner);

	devmem_assert(ww_mutex_is_owned_by_me(lock),
		      "ww_mutex_unlock: the calling thread does not hold the mutex");
	if (ctx) {
		DEVMEM_BUG_ON(ctx->acquired == 0);
		ctx->acquired--;
		__atomic_store_n(&lock->holder, 0, __ATOMIC_RELAXED);
	}
	if (ww_single_threaded() && !(owner & WW_OWNER_WAITERS)) {
		__atomic_store_n(&lock->owner, 0, __ATOMIC_RELAXED);
		return;
	}
	owner &= ~WW_OWNER_WAITERS;
	if (likely(__atomic_compare_exchange_n(&lock->owner, &owner, 0, false, __ATOMIC_RELEASE,
					       __ATOMIC_RELAXED)))
		return;
	ww_mutex_unlock_slowpath(lock);
}

bool ww_mutex_is_locked(struct ww_mutex *lock)
{
	return __atomic_load_n(&lock->owner, __ATOMIC_RELAXED) != 0;
}

bool ww_mutex_is_owned_by_me(struct ww_mutex *lock)
{
	uintptr_t owner = __atomic_load_n(&lock->owner, __ATOMIC_RELAXED);
	pthread_t self = pthread_self();

	if (!owner)
		return false;
	/* holder is written by its own thread, and reset before it lets go */
	if (owner & WW_OWNER_CTX)
		return pthread_equal(__atomic_load_n(&lock->holder, __ATOMIC_RELAXED), self);
	return (owner & ~WW_OWNER_FLAGS) == (uintptr_t)self;
}
