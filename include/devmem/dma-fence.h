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

/* Flag bits in dma_fence.flags (the kernel's numbers). */
enum dma_fence_flag_bits {
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
	int64_t timestamp; /* CLOCK_MONOTONIC ns when signalled; valid once signalled */
	int error; /* set before signalling, under lock */
	uint32_t waiters; /* futex word waiters sleep on; see dma-fence.c */
	struct kref refcount;
};

struct dma_fence_cb {
	struct list_head node;
	dma_fence_func_t func;
};

/* Reserve @num consecutive, never-reused fence contexts; returns the first. */
uint64_t dma_fence_context_alloc(unsigned int num);

/* Initialise an embedded fence with one reference, unsignalled. */
void dma_fence_init(struct dma_fence *fence, const struct dma_fence_ops *ops, uint64_t context,
		    uint64_t seqno);

struct dma_fence *dma_fence_get(struct dma_fence *fence); /* NULL-safe; returns fence */
void dma_fence_put(struct dma_fence *fence); /* NULL-safe */

/*
 * Signal the fence: record the timestamp, run and drop every callback, wake
 * every waiter. Returns 0, or -EINVAL if it had already been signalled (the
 * second signal changes nothing).
 */
int dma_fence_signal(struct dma_fence *fence);
int dma_fence_signal_timestamp(struct dma_fence *fence, int64_t timestamp_ns);

/* True once signalled; also polls ops->signaled and signals if it says so. */
bool dma_fence_is_signaled(struct dma_fence *fence);

/* True if @a is later on the same timeline than @b. Both must share a context. */
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

/* Remove a queued callback. True if it was still pending (it will not run). */
bool dma_fence_remove_callback(struct dma_fence *fence, struct dma_fence_cb *cb);

/* Ask the exporter to start signalling (calls ops->enable_signaling once). */
void dma_fence_enable_sw_signaling(struct dma_fence *fence);

/*
 * Wait until the fence signals or @timeout_ns passes. Returns the remaining
 * time in ns (at least 1) when signalled, 0 on timeout, -ERESTARTSYS if
 * @intr and a signal handler interrupted the wait. A @timeout_ns of 0 only
 * tests: 1 when signalled, 0 when not.
 */
int64_t dma_fence_wait_timeout(struct dma_fence *fence, bool intr, int64_t timeout_ns);

/* Wait without a time limit. Returns 0, or -ERESTARTSYS if interrupted. */
int dma_fence_wait(struct dma_fence *fence, bool intr);

/* A shared, always-signalled fence (one new reference per call). */
struct dma_fence *dma_fence_get_stub(void);

/* A new, private, already-signalled fence with its own context (refcount 1), or NULL. */
struct dma_fence *dma_fence_allocate_private_stub(int64_t timestamp_ns);

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

/* Returns the new array fence (refcount 1), or NULL on bad arguments or no memory. */
struct dma_fence_array *dma_fence_array_create(int num_fences, struct dma_fence **fences,
					       uint64_t context, uint64_t seqno,
					       bool signal_on_any);

/* The array behind @fence, or NULL if @fence is not a fence array. */
struct dma_fence_array *to_dma_fence_array(struct dma_fence *fence);

#ifdef __cplusplus
}
#endif

#endif
