// SPDX-License-Identifier: MIT
/*
 * dma_fence: the kernel's one-shot completion event, in userspace.
 *
 * State lives in three places:
 *
 * - flags: SIGNALED, TIMESTAMP and ENABLE_SIGNAL bits, changed with atomic
 *   read-modify-writes. SIGNALED only ever goes from 0 to 1, under the fence
 *   lock, with release ordering, so every "already signalled?" test is one
 *   acquire load and needs no lock; whoever sees the bit also sees the error
 *   and the timestamp written before it.
 *
 * - cb_list, under the fence lock. The signaller runs the callbacks with the
 *   lock held, as the kernel does. That gives dma_fence_remove_callback() the
 *   kernel's guarantee: when it returns false, the callback has finished
 *   running (remove takes the same lock), so its caller may free the
 *   callback's memory at once. The price is the kernel's rule: a callback
 *   must not add or remove callbacks on the fence that is running it.
 *
 * - waiters, the futex word sleepers wait on: 0 nobody has slept yet,
 *   WAITERS_SLEEPING someone may be asleep, WAITERS_SIGNALED the fence has
 *   signalled. A sleeper publishes WAITERS_SLEEPING and then re-tests
 *   SIGNALED; the signaller sets SIGNALED and then reads waiters. Both steps
 *   are sequentially consistent, so one of them sees the other and no wake-up
 *   is lost; when nobody ever slept, signalling makes no system call.
 *
 * ops->enable_signaling is called once, outside the fence lock: a fence array
 * adds callbacks to its members from it, while a member's callback signals
 * the array, and calling it under the array's lock would order the two locks
 * both ways. An exporter whose enable_signaling finds the work already done
 * returns false (or calls dma_fence_signal() itself).
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "devmem/dma-fence.h"
#include "lib/debug.h"
#include "lib/error.h"
#include "lib/list.h"
#include "lib/refcount.h"
#include "lib/time.h"

#define MAX_ERRNO 4095

enum {
	WAITERS_NONE,
	WAITERS_SLEEPING,
	WAITERS_SIGNALED,
};

/* Context 0 belongs to the stub fence, as in the kernel. */
static uint64_t dma_fence_context_counter = 1; /* atomic */

static inline bool dma_fence_test_flag(const struct dma_fence *fence, int bit)
{
	return __atomic_load_n(&fence->flags, __ATOMIC_ACQUIRE) & (1UL << bit);
}

static inline bool dma_fence_test_and_set_flag(struct dma_fence *fence, int bit)
{
	return __atomic_fetch_or(&fence->flags, 1UL << bit, __ATOMIC_SEQ_CST) & (1UL << bit);
}

uint64_t dma_fence_context_alloc(unsigned int num)
{
	/* num == 0 reserves nothing and returns the next free context, like the kernel. */
	return __atomic_fetch_add(&dma_fence_context_counter, num, __ATOMIC_RELAXED);
}

void dma_fence_init(struct dma_fence *fence, const struct dma_fence_ops *ops, uint64_t context,
		    uint64_t seqno)
{
	DEVMEM_BUG_ON(!fence);
	DEVMEM_BUG_ON(!ops || !ops->get_driver_name || !ops->get_timeline_name);

	pthread_mutex_init(&fence->lock, NULL);
	fence->ops = ops;
	INIT_LIST_HEAD(&fence->cb_list);
	fence->context = context;
	fence->seqno = seqno;
	fence->flags = 0;
	fence->timestamp = 0;
	fence->error = 0;
	fence->waiters = WAITERS_NONE;
	kref_init(&fence->refcount);
}

void dma_fence_init64(struct dma_fence *fence, const struct dma_fence_ops *ops, uint64_t context,
		      uint64_t seqno)
{
	dma_fence_init(fence, ops, context, seqno);
	/* nobody else can see the fence yet: a plain store is enough */
	fence->flags = 1UL << DMA_FENCE_FLAG_SEQNO64_BIT;
}

struct dma_fence *dma_fence_get(struct dma_fence *fence)
{
	if (fence)
		kref_get(&fence->refcount);
	return fence;
}

static void dma_fence_signal_locked(struct dma_fence *fence, int64_t timestamp);

static void dma_fence_release(struct kref *kref)
{
	struct dma_fence *fence = container_of(kref, struct dma_fence, refcount);

	/*
	 * Released with callbacks still queued: a reference counting bug in the
	 * owner. Signal with -EDEADLK rather than leave the waiters of the
	 * callbacks (fence arrays, pollers) hanging forever, as the kernel does.
	 */
	if (!dma_fence_test_flag(fence, DMA_FENCE_FLAG_SIGNALED_BIT) &&
	    !list_empty(&fence->cb_list)) {
		pthread_mutex_lock(&fence->lock);
		__atomic_store_n(&fence->error, -EDEADLK, __ATOMIC_RELAXED);
		dma_fence_signal_locked(fence, ktime_get_ns());
		pthread_mutex_unlock(&fence->lock);
	}

	pthread_mutex_destroy(&fence->lock);
	if (fence->ops->release)
		fence->ops->release(fence);
	else
		free(fence);
}

void dma_fence_put(struct dma_fence *fence)
{
	if (fence)
		kref_put(&fence->refcount, dma_fence_release);
}

static long sys_futex(uint32_t *uaddr, int op, uint32_t val, const struct timespec *ts,
		      uint32_t val3)
{
	return syscall(SYS_futex, uaddr, op, val, ts, NULL, val3);
}

static void dma_fence_wake_waiters(struct dma_fence *fence)
{
	/* Pairs with the store-then-test in dma_fence_sleep(). */
	if (__atomic_load_n(&fence->waiters, __ATOMIC_SEQ_CST) == WAITERS_NONE)
		return;
	if (__atomic_exchange_n(&fence->waiters, WAITERS_SIGNALED, __ATOMIC_SEQ_CST) ==
	    WAITERS_SLEEPING)
		sys_futex(&fence->waiters, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, 0);
}

/*
 * The transition to signalled. Called with the fence lock held and SIGNALED
 * clear. Takes no other lock and allocates nothing.
 */
static void dma_fence_signal_locked(struct dma_fence *fence, int64_t timestamp)
{
	struct dma_fence_cb *cur, *tmp;
	LIST_HEAD(cb_list);

	list_splice_init(&fence->cb_list, &cb_list);
	fence->timestamp = timestamp;
	/* Release: a reader that sees SIGNALED also sees the error and timestamp. */
	__atomic_fetch_or(&fence->flags,
			  (1UL << DMA_FENCE_FLAG_SIGNALED_BIT) |
				  (1UL << DMA_FENCE_FLAG_TIMESTAMP_BIT),
			  __ATOMIC_SEQ_CST);
	dma_fence_wake_waiters(fence);

	list_for_each_entry_safe(cur, tmp, &cb_list, node) {
		/* Empty before the call: remove_callback() now reports "not pending". */
		INIT_LIST_HEAD(&cur->node);
		cur->func(fence, cur);
	}
}

int dma_fence_signal_timestamp(struct dma_fence *fence, int64_t timestamp_ns)
{
	int ret = 0;

	if (!fence)
		return devmem_err(-EINVAL, "dma_fence_signal: NULL fence");
	if (dma_fence_test_flag(fence, DMA_FENCE_FLAG_SIGNALED_BIT))
		return -EINVAL;

	pthread_mutex_lock(&fence->lock);
	/* SIGNALED only changes under the lock we hold: this answer is final. */
	if (dma_fence_test_flag(fence, DMA_FENCE_FLAG_SIGNALED_BIT))
		ret = -EINVAL;
	else
		dma_fence_signal_locked(fence, timestamp_ns);
	pthread_mutex_unlock(&fence->lock);
	return ret;
}

int dma_fence_signal(struct dma_fence *fence)
{
	if (!fence)
		return devmem_err(-EINVAL, "dma_fence_signal: NULL fence");
	if (dma_fence_test_flag(fence, DMA_FENCE_FLAG_SIGNALED_BIT))
		return -EINVAL;
	return dma_fence_signal_timestamp(fence, ktime_get_ns());
}

bool dma_fence_is_signaled(struct dma_fence *fence)
{
	DEVMEM_BUG_ON(!fence);

	if (dma_fence_test_flag(fence, DMA_FENCE_FLAG_SIGNALED_BIT))
		return true;
	if (fence->ops->signaled && fence->ops->signaled(fence)) {
		dma_fence_signal(fence);
		return true;
	}
	return false;
}

bool dma_fence_is_later(const struct dma_fence *a, const struct dma_fence *b)
{
	DEVMEM_BUG_ON(!a || !b);

	/* Seqnos of different timelines are not comparable: the kernel WARNs and says no. */
	if (a->context != b->context)
		return false;
	if (dma_fence_test_flag(a, DMA_FENCE_FLAG_SEQNO64_BIT))
		return a->seqno > b->seqno;
	/* a 32-bit timeline wraps: later means less than half the space ahead */
	return (int32_t)((uint32_t)a->seqno - (uint32_t)b->seqno) > 0;
}

void dma_fence_set_error(struct dma_fence *fence, int error)
{
	DEVMEM_BUG_ON(!fence);
	/* The error travels with the signal; once signalled, readers may already have it. */
	DEVMEM_BUG_ON(dma_fence_test_flag(fence, DMA_FENCE_FLAG_SIGNALED_BIT));
	DEVMEM_BUG_ON(error >= 0 || error < -MAX_ERRNO);

	__atomic_store_n(&fence->error, error, __ATOMIC_RELAXED);
}

int dma_fence_get_status(struct dma_fence *fence)
{
	int error;

	if (!fence)
		return devmem_err(-EINVAL, "dma_fence_get_status: NULL fence");
	if (!dma_fence_is_signaled(fence))
		return 0;
	error = __atomic_load_n(&fence->error, __ATOMIC_RELAXED);
	return error ? error : 1;
}

/*
 * Call ops->enable_signaling the first time anyone needs the fence to signal
 * by itself. Returns false when the fence has signalled (possibly because
 * enable_signaling found the work done), true when it is still pending.
 */
static bool __dma_fence_enable_signaling(struct dma_fence *fence)
{
	bool was_set = dma_fence_test_and_set_flag(fence, DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT);

	if (dma_fence_test_flag(fence, DMA_FENCE_FLAG_SIGNALED_BIT))
		return false;
	if (!was_set && fence->ops->enable_signaling && !fence->ops->enable_signaling(fence)) {
		dma_fence_signal(fence);
		return false;
	}
	return true;
}

void dma_fence_enable_sw_signaling(struct dma_fence *fence)
{
	if (fence)
		__dma_fence_enable_signaling(fence);
}

int dma_fence_add_callback(struct dma_fence *fence, struct dma_fence_cb *cb, dma_fence_func_t func)
{
	int ret = 0;

	if (!fence || !cb || !func)
		return devmem_err(-EINVAL, "dma_fence_add_callback: NULL %s",
				  !fence ? "fence" :
				  !cb	 ? "callback" :
					   "function");

	if (dma_fence_test_flag(fence, DMA_FENCE_FLAG_SIGNALED_BIT) ||
	    !__dma_fence_enable_signaling(fence)) {
		INIT_LIST_HEAD(&cb->node);
		return -ENOENT;
	}

	pthread_mutex_lock(&fence->lock);
	/* Re-test under the lock: a signal may have spliced the list meanwhile. */
	if (dma_fence_test_flag(fence, DMA_FENCE_FLAG_SIGNALED_BIT)) {
		INIT_LIST_HEAD(&cb->node);
		ret = -ENOENT;
	} else {
		cb->func = func;
		list_add_tail(&cb->node, &fence->cb_list);
	}
	pthread_mutex_unlock(&fence->lock);
	return ret;
}

bool dma_fence_remove_callback(struct dma_fence *fence, struct dma_fence_cb *cb)
{
	bool pending;

	if (!fence || !cb)
		return false;

	/*
	 * Always under the lock, even when SIGNALED is set: the signaller holds
	 * it while callbacks run, so "false" means the callback has finished.
	 */
	pthread_mutex_lock(&fence->lock);
	pending = !list_empty(&cb->node);
	if (pending)
		list_del_init(&cb->node);
	pthread_mutex_unlock(&fence->lock);
	return pending;
}

/* Sleep until the futex word changes, @deadline (CLOCK_MONOTONIC ns) or a signal handler. */
static int dma_fence_sleep(struct dma_fence *fence, int64_t deadline)
{
	uint32_t expected = WAITERS_NONE;
	struct timespec ts = ns_to_timespec(deadline);

	__atomic_compare_exchange_n(&fence->waiters, &expected, WAITERS_SLEEPING, false,
				    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	/* After publishing ourselves: the signaller either sees us or we see it. */
	if (dma_fence_test_flag(fence, DMA_FENCE_FLAG_SIGNALED_BIT))
		return 0;

	/*
	 * An absolute timeout, even for "forever": an interrupted wait with one
	 * returns EINTR whatever the handler's SA_RESTART, so @intr always works.
	 */
	if (sys_futex(&fence->waiters, FUTEX_WAIT_BITSET_PRIVATE, WAITERS_SLEEPING, &ts,
		      FUTEX_BITSET_MATCH_ANY) < 0)
		return -errno; /* EAGAIN (woken before sleeping), ETIMEDOUT, EINTR */
	return 0;
}

static int64_t dma_fence_remaining(int64_t deadline)
{
	int64_t left;

	if (deadline == INT64_MAX)
		return DMA_FENCE_MAX_TIMEOUT;
	left = deadline - ktime_get_ns();
	return left > 0 ? left : 1;
}

static int64_t dma_fence_default_wait(struct dma_fence *fence, bool intr, int64_t timeout_ns)
{
	int64_t deadline;
	int ret;

	if (!__dma_fence_enable_signaling(fence) || dma_fence_is_signaled(fence))
		return timeout_ns ? timeout_ns : 1;
	if (!timeout_ns)
		return 0;

	/* INT64_MAX is "forever"; a finite timeout that overflows saturates to it. */
	deadline = INT64_MAX;
	if (timeout_ns != DMA_FENCE_MAX_TIMEOUT &&
	    __builtin_add_overflow(ktime_get_ns(), timeout_ns, &deadline))
		deadline = INT64_MAX;

	for (;;) {
		ret = dma_fence_sleep(fence, deadline);
		if (dma_fence_test_flag(fence, DMA_FENCE_FLAG_SIGNALED_BIT))
			return dma_fence_remaining(deadline);
		if (ret == -ETIMEDOUT)
			return 0;
		if (ret == -EINTR && intr)
			return -ERESTARTSYS;
	}
}

int64_t dma_fence_wait_timeout(struct dma_fence *fence, bool intr, int64_t timeout_ns)
{
	if (!fence)
		return devmem_err(-EINVAL, "dma_fence_wait: NULL fence");
	if (timeout_ns < 0)
		return devmem_err(-EINVAL, "dma_fence_wait: negative timeout %lld",
				  (long long)timeout_ns);

	/* The hot case: one load, no lock, no clock. */
	if (dma_fence_test_flag(fence, DMA_FENCE_FLAG_SIGNALED_BIT))
		return timeout_ns ? timeout_ns : 1;
	return dma_fence_default_wait(fence, intr, timeout_ns);
}

int dma_fence_wait(struct dma_fence *fence, bool intr)
{
	int64_t ret = dma_fence_wait_timeout(fence, intr, DMA_FENCE_MAX_TIMEOUT);

	return ret < 0 ? (int)ret : 0;
}

const char *dma_fence_driver_name(struct dma_fence *fence)
{
	return fence ? fence->ops->get_driver_name(fence) : NULL;
}

const char *dma_fence_timeline_name(struct dma_fence *fence)
{
	return fence ? fence->ops->get_timeline_name(fence) : NULL;
}

/* The stub fences: already signalled, shared (context 0) or private. */

static const char *dma_fence_stub_get_name(struct dma_fence *fence)
{
	return "stub";
}

/*
 * The shared stub is static and holds a reference of its own that nobody
 * drops: reaching zero means someone put a reference they never got.
 */
static void dma_fence_stub_release(struct dma_fence *fence)
{
	devmem_assert(false, "dma_fence stub released: unbalanced dma_fence_put()");
}

static const struct dma_fence_ops dma_fence_stub_ops = {
	.get_driver_name = dma_fence_stub_get_name,
	.get_timeline_name = dma_fence_stub_get_name,
	.release = dma_fence_stub_release,
};

static const struct dma_fence_ops dma_fence_private_stub_ops = {
	.get_driver_name = dma_fence_stub_get_name,
	.get_timeline_name = dma_fence_stub_get_name,
	/* release NULL: free() the allocation */
};

static struct dma_fence dma_fence_stub;
static pthread_once_t dma_fence_stub_once = PTHREAD_ONCE_INIT;

static void dma_fence_stub_init(void)
{
	/* Signalled at first use, so its timestamp is a real time, as in the kernel. */
	dma_fence_init(&dma_fence_stub, &dma_fence_stub_ops, 0, 0);
	__atomic_fetch_or(&dma_fence_stub.flags, 1UL << DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT,
			  __ATOMIC_RELAXED);
	dma_fence_signal(&dma_fence_stub);
}

struct dma_fence *dma_fence_get_stub(void)
{
	pthread_once(&dma_fence_stub_once, dma_fence_stub_init);
	return dma_fence_get(&dma_fence_stub);
}

struct dma_fence *dma_fence_allocate_private_stub(int64_t timestamp_ns)
{
	struct dma_fence *fence = malloc(sizeof(*fence));

	if (!fence) {
		devmem_err(-ENOMEM, "dma_fence_allocate_private_stub: out of memory");
		return NULL;
	}
	/* the stub's context and seqno, as the kernel's private stubs */
	dma_fence_init(fence, &dma_fence_private_stub_ops, 0, 0);
	__atomic_fetch_or(&fence->flags, 1UL << DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT, __ATOMIC_RELAXED);
	dma_fence_signal_timestamp(fence, timestamp_ns);
	return fence;
}
