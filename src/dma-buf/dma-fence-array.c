// SPDX-License-Identifier: MIT
/*
 * dma_fence_array: one fence standing for several, signalled when all of its
 * members have (or, with signal_on_any, the first of them).
 *
 * As in the kernel, the array is lazy: nothing is attached to the members
 * until someone waits on the array or adds a callback to it
 * (enable_signaling); before that, dma_fence_is_signaled() polls the members.
 * Creation polls them once too, so an array of members that have all
 * signalled is born signalled.
 *
 * Each member callback holds a reference to the array, taken when it is
 * added and dropped when it runs: the array outlives every callback still
 * queued on a member, even after the array itself has signalled (with
 * signal_on_any the other members' callbacks run later).
 *
 * The array's error is the first member error seen. While the array is
 * pending, base.error holds PENDING_ERROR; members replace it with their
 * error by compare-and-swap (so the first one wins) and the signaller clears
 * it to 0 if nobody did. get_status() reports the error only once signalled,
 * so the sentinel is never seen.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "devmem/dma-fence.h"
#include "lib/error.h"

#define PENDING_ERROR 1

struct dma_fence_array_cb {
	struct dma_fence_cb cb;
	struct dma_fence_array *array; /* set at creation, read-only after */
};

/* One allocation: the array and its per-member callbacks. */
struct dma_fence_array_alloc {
	struct dma_fence_array array;
	struct dma_fence_array_cb callbacks[];
};

static const struct dma_fence_ops dma_fence_array_ops;

struct dma_fence_array *to_dma_fence_array(struct dma_fence *fence)
{
	if (!fence || fence->ops != &dma_fence_array_ops)
		return NULL;
	return container_of(fence, struct dma_fence_array, base);
}

static void dma_fence_array_set_pending_error(struct dma_fence_array *array, int error)
{
	int expected = PENDING_ERROR;

	if (error)
		__atomic_compare_exchange_n(&array->base.error, &expected, error, false,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

static void dma_fence_array_clear_pending_error(struct dma_fence_array *array)
{
	int expected = PENDING_ERROR;

	__atomic_compare_exchange_n(&array->base.error, &expected, 0, false, __ATOMIC_RELAXED,
				    __ATOMIC_RELAXED);
}

static int dma_fence_member_error(struct dma_fence *member)
{
	return __atomic_load_n(&member->error, __ATOMIC_RELAXED);
}

static const char *dma_fence_array_get_driver_name(struct dma_fence *fence)
{
	return "dma_fence_array";
}

static const char *dma_fence_array_get_timeline_name(struct dma_fence *fence)
{
	return "unbound";
}

/* Runs in the member's signalling thread, with the member's lock held. */
static void dma_fence_array_cb_func(struct dma_fence *member, struct dma_fence_cb *cb)
{
	struct dma_fence_array_cb *array_cb = container_of(cb, struct dma_fence_array_cb, cb);
	struct dma_fence_array *array = array_cb->array;

	dma_fence_array_set_pending_error(array, dma_fence_member_error(member));
	/* acq_rel: the thread that reaches zero sees every member's error. */
	if (__atomic_sub_fetch(&array->num_pending, 1, __ATOMIC_ACQ_REL) == 0) {
		dma_fence_array_clear_pending_error(array);
		dma_fence_signal(&array->base);
	}
	/* The reference this callback held; the signal above ran under it. */
	dma_fence_put(&array->base);
}

/*
 * Attach a callback to every member. A member that has already signalled
 * counts at once; when that completes the array, return false and the core
 * signals it.
 */
static bool dma_fence_array_enable_signaling(struct dma_fence *fence)
{
	struct dma_fence_array *array = to_dma_fence_array(fence);
	struct dma_fence_array_cb *cb = array->callbacks;
	unsigned int i;

	for (i = 0; i < array->num_fences; i++) {
		/* Held by the callback until it runs: see the file comment. */
		dma_fence_get(&array->base);
		if (dma_fence_add_callback(array->fences[i], &cb[i].cb, dma_fence_array_cb_func)) {
			dma_fence_array_set_pending_error(array,
							  dma_fence_member_error(array->fences[i]));
			dma_fence_put(&array->base);
			if (__atomic_sub_fetch(&array->num_pending, 1, __ATOMIC_ACQ_REL) == 0) {
				dma_fence_array_clear_pending_error(array);
				return false;
			}
		}
	}
	return true;
}

static bool dma_fence_array_signaled(struct dma_fence *fence)
{
	struct dma_fence_array *array = to_dma_fence_array(fence);
	int num_pending;
	unsigned int i;

	/*
	 * Read num_pending before the ENABLE bit: once callbacks are attached
	 * they own the count, and a count read before enable_signaling started
	 * counting is only ever too high, never too low.
	 */
	num_pending = __atomic_load_n(&array->num_pending, __ATOMIC_ACQUIRE);
	if (__atomic_load_n(&fence->flags, __ATOMIC_ACQUIRE) &
	    (1UL << DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT)) {
		if (num_pending <= 0)
			goto signal;
		return false;
	}

	/* Not enabled: no callbacks count for us, so poll the members. */
	for (i = 0; i < array->num_fences; i++) {
		if (!dma_fence_is_signaled(array->fences[i]))
			continue;
		dma_fence_array_set_pending_error(array, dma_fence_member_error(array->fences[i]));
		if (--num_pending == 0)
			goto signal;
	}
	return false;

signal:
	dma_fence_array_clear_pending_error(array);
	return true;
}

static void dma_fence_array_release(struct dma_fence *fence)
{
	struct dma_fence_array *array = to_dma_fence_array(fence);
	unsigned int i;

	for (i = 0; i < array->num_fences; i++)
		dma_fence_put(array->fences[i]);
	free(array->fences);
	free(container_of(array, struct dma_fence_array_alloc, array));
}

static const struct dma_fence_ops dma_fence_array_ops = {
	.get_driver_name = dma_fence_array_get_driver_name,
	.get_timeline_name = dma_fence_array_get_timeline_name,
	.enable_signaling = dma_fence_array_enable_signaling,
	.signaled = dma_fence_array_signaled,
	.release = dma_fence_array_release,
};

static int dma_fence_array_check_args(int num_fences, struct dma_fence **fences)
{
	int i;

	if (num_fences <= 0)
		return devmem_err(-EINVAL, "dma_fence_array_create: %d fences (need at least 1)",
				  num_fences);
	if (!fences)
		return devmem_err(-EINVAL, "dma_fence_array_create: NULL fences array");
	for (i = 0; i < num_fences; i++)
		if (!fences[i])
			return devmem_err(-EINVAL, "dma_fence_array_create: fence %d is NULL", i);
	return 0;
}

/*
 * On failure (NULL) nothing is taken over: the caller still owns @fences and
 * its references.
 */
struct dma_fence_array *dma_fence_array_create(int num_fences, struct dma_fence **fences,
					       uint64_t context, uint64_t seqno, bool signal_on_any)
{
	struct dma_fence_array_alloc *alloc;
	struct dma_fence_array *array;
	int i;

	if (dma_fence_array_check_args(num_fences, fences))
		return NULL;

	alloc = calloc(1, sizeof(*alloc) + (size_t)num_fences * sizeof(alloc->callbacks[0]));
	if (!alloc) {
		devmem_err(-ENOMEM, "dma_fence_array_create: out of memory for %d fences",
			   num_fences);
		return NULL;
	}

	array = &alloc->array;
	dma_fence_init(&array->base, &dma_fence_array_ops, context, seqno);
	array->base.error = PENDING_ERROR;
	array->num_fences = num_fences;
	array->num_pending = signal_on_any ? 1 : num_fences;
	array->fences = fences;
	array->signal_on_any = signal_on_any;
	array->callbacks = alloc->callbacks;
	for (i = 0; i < num_fences; i++)
		array->callbacks[i].array = array;

	/* Members may all have signalled already: then so has the array, from birth. */
	dma_fence_is_signaled(&array->base);
	return array;
}
