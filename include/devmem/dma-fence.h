/* SPDX-License-Identifier: MIT */
/*
 * dma_fence: a one-shot completion event for work a device (or a copy engine)
 * is doing, with the kernel's semantics.
 *
 * - A fence belongs to a context (a timeline) and carries a seqno; fences of
 *   one context signal in seqno order (dma_fence_is_later() compares them).
 * - A fence signals exactly once, in finite time. An error may be set before
 *   it signals and is then reported by dma_fence_get_status().
 * - Callbacks run exactly once, from the signalling thread (or not at all if
 *   removed first). Signalling never allocates and never takes a reservation
 *   lock, so it may be called from any context, including a callback.
 * - Fences are reference counted (dma_fence_get/put); the last put calls
 *   ops->release (or frees the fence with free() when ops->release is NULL).
 *   A fence released unsignalled with callbacks still queued is a refcounting
 *   bug; it is then signalled with error -EDEADLK so that nobody hangs.
 *
 * Callback context (as in the kernel): callbacks run in the signalling thread,
 * with the fence's lock held, after the fence is marked signalled. A callback
 * may signal other fences, take and drop references (not the last one of the
 * fence running it: whoever signals must hold a reference) and query the
 * fence; it must not add or remove callbacks on that same fence. Because the
 * lock is held while callbacks run, dma_fence_remove_callback() returning
 * false means the callback has already finished.
 *
 * ops->enable_signaling is called at most once, without the fence lock, by
 * the first waiter or callback; returning false means "already done" and the
 * fence is signalled there and then. Sleeping waiters are woken by the signal
 * only: ops->signaled is polled by dma_fence_is_signaled() and when a wait
 * starts, never by a sleeping waiter.
 *
 * Timeouts are in nanoseconds; DMA_FENCE_MAX_TIMEOUT waits forever.
 */
#ifndef DEVMEM_DMA_FENCE_H
#define DEVMEM_DMA_FENCE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "kref.h"
#include "list.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DMA_FENCE_MAX_TIMEOUT INT64_MAX

/*
 * The kernel's "interrupted, restart the call" errno, which its interruptible
 * waits return and which userspace errno.h does not define.
 */
#ifndef ERESTARTSYS
#define ERESTARTSYS 512
#endif

struct dma_fence;
struct dma_fence_cb;

typedef void (*dma_fence_func_t)(struct dma_fence *fence, struct dma_fence_cb *cb);

struct dma_fence_ops {
	const char *(*get_driver_name)(struct dma_fence *fence); /* mandatory */
	const char *(*get_timeline_name)(struct dma_fence *fence); /* mandatory */
	/* optional: poll the hardware; true means "done, signal it now" */
	bool (*signaled)(struct dma_fence *fence);
	/* optional: called when someone first waits or adds a callback */
	bool (*enable_signaling)(struct dma_fence *fence);
	/* optional: free the containing object; NULL means free(fence) */
	void (*release)(struct dma_fence *fence);
};

/* Flag bits in dma_fence.flags (the kernel's names; the numbers are not UAPI). */
enum dma_fence_flag_bits {
	DMA_FENCE_FLAG_SEQNO64_BIT, /* seqnos compare as 64 bits; see dma_fence_init64() */
	DMA_FENCE_FLAG_SIGNALED_BIT,
	DMA_FENCE_FLAG_TIMESTAMP_BIT,
	DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT,
	DMA_FENCE_FLAG_USER_BITS, /* first bit free for the fence's owner */
};

/* Embedded by the caller; all fields are private to the fence code. */
struct dma_fence {
	pthread_mutex_t lock; /* protects cb_list and the transition to signalled */
	const struct dma_fence_ops *ops;
	struct list_head cb_list; /* pending callbacks; protected by lock */
	uint64_t context;
	uint64_t seqno;
	unsigned long flags; /* atomic bit operations */
	int64_t timestamp; /* CLOCK_MONOTONIC ns; written under lock before SIGNALED is set */
	int error; /* atomic; set before signalling, read once SIGNALED is seen */
	uint32_t waiters; /* futex word waiters sleep on; see dma-fence.c */
	struct kref refcount;
};

struct dma_fence_cb {
	struct list_head node;
	dma_fence_func_t func;
};

/* Reserve @num consecutive, never-reused fence contexts; returns the first. */
uint64_t dma_fence_context_alloc(unsigned int num);

/*
 * Initialise an embedded fence with one reference, unsignalled. Its seqno is
 * ordered as the kernel orders a plain fence's: on 32 bits, wrapping (a
 * timeline may count past 2^32); dma_fence_init64() makes a fence whose
 * seqnos compare as 64-bit numbers and never wrap.
 */
void dma_fence_init(struct dma_fence *fence, const struct dma_fence_ops *ops, uint64_t context,
		    uint64_t seqno);
void dma_fence_init64(struct dma_fence *fence, const struct dma_fence_ops *ops, uint64_t context,
		      uint64_t seqno);

struct dma_fence *dma_fence_get(struct dma_fence *fence); /* NULL-safe; returns fence */
void dma_fence_put(struct dma_fence *fence); /* NULL-safe */

/*
 * Signal the fence: record the timestamp, run and drop every callback, wake
 * every waiter. Returns 0, or -EINVAL if it had already been signalled (the
 * second signal changes nothing) or @fence is NULL. The caller must hold a
 * reference. Never allocates; makes no system call when nobody is waiting.
 */
int dma_fence_signal(struct dma_fence *fence);
int dma_fence_signal_timestamp(struct dma_fence *fence, int64_t timestamp_ns);

/* True once signalled; also polls ops->signaled and signals if it says so. */
bool dma_fence_is_signaled(struct dma_fence *fence);

/*
 * True if @a is later on the same timeline than @b. Both must share a
 * context (else false). The comparison is @a's: 64-bit for fences made by
 * dma_fence_init64(), else on the low 32 bits with wrap-around.
 */
bool dma_fence_is_later(const struct dma_fence *a, const struct dma_fence *b);

/*
 * Set an error (a negative errno) to be reported with the signal. Only valid
 * before the fence signals; setting it after is a bug.
 */
void dma_fence_set_error(struct dma_fence *fence, int error);

/* 0 while pending, 1 once signalled without error, the error once signalled with one. */
int dma_fence_get_status(struct dma_fence *fence);

/*
 * Run @func once the fence signals. Returns 0 when queued, -ENOENT if the
 * fence has already signalled (then @func is not called and the caller
 * handles completion itself), -EINVAL for a NULL fence or func.
 */
int dma_fence_add_callback(struct dma_fence *fence, struct dma_fence_cb *cb, dma_fence_func_t func);

/*
 * Remove a queued callback. True if it was still pending (it will not run);
 * false if it has already run (and finished: see "Callback context") or was
 * never queued. Not from a callback of the same fence.
 */
bool dma_fence_remove_callback(struct dma_fence *fence, struct dma_fence_cb *cb);

/* Ask the exporter to start signalling (calls ops->enable_signaling once). */
void dma_fence_enable_sw_signaling(struct dma_fence *fence);

/*
 * Wait until the fence signals or @timeout_ns passes. Returns the remaining
 * time in ns (at least 1) when signalled, 0 on timeout, -ERESTARTSYS if
 * @intr and a signal handler interrupted the wait. A @timeout_ns of 0 only
 * tests: 1 when signalled, 0 when not (it still enables signalling). An
 * infinite wait that signals returns DMA_FENCE_MAX_TIMEOUT. -EINVAL for a
 * NULL fence or a negative timeout. Sleepers do not spin: they sleep on a
 * futex until the signal, the deadline (CLOCK_MONOTONIC) or a signal handler.
 * With @intr false, signal handlers do not end the wait. A wait may return
 * while callbacks are still running; dma_fence_remove_callback() is the way
 * to know a given callback has finished.
 */
int64_t dma_fence_wait_timeout(struct dma_fence *fence, bool intr, int64_t timeout_ns);

/* Wait without a time limit. Returns 0, or -ERESTARTSYS if interrupted. */
int dma_fence_wait(struct dma_fence *fence, bool intr);

/*
 * A shared, always-signalled fence (one new reference per call), context 0,
 * signalled at its first use. It keeps a reference of its own, so it is never
 * released; putting more references than were got aborts in debug builds.
 */
struct dma_fence *dma_fence_get_stub(void);

/*
 * A new, private fence, already signalled at @timestamp_ns, on the stub's
 * context 0 with seqno 0 as in the kernel (refcount 1; the last put frees
 * it), or NULL when out of memory.
 */
struct dma_fence *dma_fence_allocate_private_stub(int64_t timestamp_ns);

/* The exporter's names for the fence (ops->get_*_name); NULL for a NULL fence. */
const char *dma_fence_driver_name(struct dma_fence *fence);
const char *dma_fence_timeline_name(struct dma_fence *fence);

/*
 * dma_fence_array: a fence that signals when all of its member fences have
 * (or, with @signal_on_any, when the first one has). The array takes over the
 * caller's references to the fences and the @fences array itself (freed with
 * free() on release). Its error is the first member error seen.
 */
struct dma_fence_array {
	struct dma_fence base;
	unsigned int num_fences;
	int num_pending; /* atomic */
	struct dma_fence **fences;
	bool signal_on_any;
	struct dma_fence_array_cb *callbacks; /* one per member */
};

/*
 * Returns the new array fence (refcount 1), or NULL on bad arguments (no
 * fences, a NULL array or member) or no memory; devmem_last_error() says
 * which. On NULL nothing was taken over: the caller still owns @fences and
 * the member references. Members may already have signalled: an array whose
 * members all have (or, with @signal_on_any, any has) is returned signalled.
 * Like the kernel's, the array attaches to its members only once someone
 * waits on it or adds a callback; until then dma_fence_is_signaled() polls
 * them. With @signal_on_any the array stays referenced by the callbacks on
 * its other members until they signal too.
 */
struct dma_fence_array *dma_fence_array_create(int num_fences, struct dma_fence **fences,
					       uint64_t context, uint64_t seqno,
					       bool signal_on_any);

/* The array behind @fence, or NULL if @fence is not a fence array. */
struct dma_fence_array *to_dma_fence_array(struct dma_fence *fence);

#ifdef __cplusplus
}
#endif

#endif
