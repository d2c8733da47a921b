// SPDX-License-Identifier: MIT
/*
 * dma_fence and dma_fence_array: the rules of the kernel's own selftests
 * (drivers/dma-buf/st-dma-fence.c: sanity, signaling, add_callback, ...)
 * plus the ones this library adds (sleeping waiters, interruptible waits,
 * arrays created from signalled members).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devmem/dma-fence.h"
#include "harness.h"
#include "devmem/error.h"
#include "lib/debug.h"
#include "lib/refcount.h"
#include "lib/time.h"

/* A malloc'ed fence whose release is counted, so tests can see the last put. */
struct mock_fence {
	struct dma_fence base;
	int *released; /* optional */
};

static int enable_calls; /* per test process */
static bool enable_result = true;
static bool hw_done; /* what mock_signaled reports */

static const char *mock_name(struct dma_fence *f)
{
	return "mock";
}

static const char *mock_timeline(struct dma_fence *f)
{
	return "mock-timeline";
}

static void mock_release(struct dma_fence *f)
{
	struct mock_fence *m = container_of(f, struct mock_fence, base);

	if (m->released)
		(*m->released)++;
	free(m);
}

static bool mock_enable_signaling(struct dma_fence *f)
{
	__atomic_fetch_add(&enable_calls, 1, __ATOMIC_RELAXED);
	return enable_result;
}

static bool mock_signaled(struct dma_fence *f)
{
	return __atomic_load_n(&hw_done, __ATOMIC_ACQUIRE);
}

static const struct dma_fence_ops mock_ops = {
	.get_driver_name = mock_name,
	.get_timeline_name = mock_timeline,
	.release = mock_release,
};

static const struct dma_fence_ops mock_hw_ops = {
	.get_driver_name = mock_name,
	.get_timeline_name = mock_timeline,
	.enable_signaling = mock_enable_signaling,
	.signaled = mock_signaled,
	.release = mock_release,
};

/* No release op: the core must free() the fence itself. */
static const struct dma_fence_ops mock_free_ops = {
	.get_driver_name = mock_name,
	.get_timeline_name = mock_timeline,
};

static struct dma_fence *mock_fence_ops(const struct dma_fence_ops *ops, int *released)
{
	struct mock_fence *m = calloc(1, sizeof(*m));

	cr_assert_not_null(m);
	dma_fence_init(&m->base, ops, dma_fence_context_alloc(1), 1);
	m->released = released;
	return &m->base;
}

static struct dma_fence *mock_fence(void)
{
	return mock_fence_ops(&mock_ops, NULL);
}

struct simple_cb {
	struct dma_fence_cb cb;
	int seen; /* atomic */
	struct dma_fence *fence_seen;
};

static void simple_callback(struct dma_fence *f, struct dma_fence_cb *cb)
{
	struct simple_cb *s = container_of(cb, struct simple_cb, cb);

	s->fence_seen = f;
	__atomic_fetch_add(&s->seen, 1, __ATOMIC_RELEASE);
}

static bool test_flag(struct dma_fence *f, int bit)
{
	return __atomic_load_n(&f->flags, __ATOMIC_ACQUIRE) & (1UL << bit);
}

/* --- the kernel selftests' rules --- */

Test(dma_fence, sanity_init_get_put_release)
{
	int released = 0;
	struct dma_fence *f = mock_fence_ops(&mock_ops, &released);

	cr_assert_eq(kref_read(&f->refcount), 1);
	cr_assert_not(dma_fence_is_signaled(f));
	cr_assert_str_eq(dma_fence_driver_name(f), "mock");
	cr_assert_str_eq(dma_fence_timeline_name(f), "mock-timeline");
	cr_assert_eq(dma_fence_get(f), f);
	dma_fence_put(f);
	cr_assert_eq(released, 0, "a put that is not the last must not release");
	dma_fence_signal(f);
	dma_fence_put(f);
	cr_assert_eq(released, 1, "the last put calls ops->release once");
}

Test(dma_fence, get_put_null_are_noops)
{
	cr_assert_null(dma_fence_get(NULL));
	dma_fence_put(NULL);
	cr_assert_null(dma_fence_driver_name(NULL));
	cr_assert_null(dma_fence_timeline_name(NULL));
}

Test(dma_fence, last_put_frees_when_release_is_null)
{
	/* Leak checking (ASan) is what proves free() ran. */
	struct dma_fence *f = mock_fence_ops(&mock_free_ops, NULL);

	dma_fence_signal(f);
	dma_fence_put(f);
}

Test(dma_fence, signaling_marks_signaled_once)
{
	struct dma_fence *f = mock_fence();

	cr_assert_not(dma_fence_is_signaled(f));
	cr_assert_eq(dma_fence_signal(f), 0);
	cr_assert(dma_fence_is_signaled(f));
	cr_assert(test_flag(f, DMA_FENCE_FLAG_SIGNALED_BIT));
	dma_fence_put(f);
}

Test(dma_fence, second_signal_returns_einval_and_changes_nothing)
{
	struct dma_fence *f = mock_fence();
	int64_t ts;

	cr_assert_eq(dma_fence_signal_timestamp(f, 1000), 0);
	ts = f->timestamp;
	cr_assert_eq(dma_fence_signal(f), -EINVAL);
	cr_assert_eq(dma_fence_signal_timestamp(f, 5000), -EINVAL);
	cr_assert_eq(f->timestamp, ts, "a second signal must not move the timestamp");
	cr_assert_eq(dma_fence_get_status(f), 1);
	dma_fence_put(f);
}

Test(dma_fence, signal_null_returns_einval)
{
	cr_assert_eq(dma_fence_signal(NULL), -EINVAL);
	cr_assert_eq(dma_fence_signal_timestamp(NULL, 1), -EINVAL);
}

Test(dma_fence, add_callback_runs_once_on_signal)
{
	struct dma_fence *f = mock_fence();
	struct simple_cb cb = { 0 };

	cr_assert_eq(dma_fence_add_callback(f, &cb.cb, simple_callback), 0);
	cr_assert_eq(cb.seen, 0, "callback must not run before the signal");
	dma_fence_signal(f);
	cr_assert_eq(cb.seen, 1);
	cr_assert_eq(cb.fence_seen, f);
	cr_assert_eq(dma_fence_signal(f), -EINVAL);
	cr_assert_eq(cb.seen, 1, "a second signal must not rerun callbacks");
	dma_fence_put(f);
}

Test(dma_fence, callbacks_run_in_order_added)
{
	struct dma_fence *f = mock_fence();
	struct simple_cb cbs[4] = { 0 };
	int i;

	for (i = 0; i < 4; i++)
		cr_assert_eq(dma_fence_add_callback(f, &cbs[i].cb, simple_callback), 0);
	dma_fence_signal(f);
	for (i = 0; i < 4; i++)
		cr_assert_eq(cbs[i].seen, 1);
	dma_fence_put(f);
}

Test(dma_fence, late_add_callback_returns_enoent_and_does_not_run)
{
	struct dma_fence *f = mock_fence();
	struct simple_cb cb = { 0 };

	dma_fence_signal(f);
	cr_assert_eq(dma_fence_add_callback(f, &cb.cb, simple_callback), -ENOENT);
	cr_assert_eq(cb.seen, 0);
	cr_assert_not(dma_fence_remove_callback(f, &cb.cb),
		      "a callback refused with -ENOENT is not pending");
	dma_fence_put(f);
}

Test(dma_fence, add_callback_bad_arguments_return_einval)
{
	struct dma_fence *f = mock_fence();
	struct simple_cb cb = { 0 };

	cr_assert_eq(dma_fence_add_callback(NULL, &cb.cb, simple_callback), -EINVAL);
	cr_assert_eq(dma_fence_add_callback(f, NULL, simple_callback), -EINVAL);
	cr_assert_eq(dma_fence_add_callback(f, &cb.cb, NULL), -EINVAL);
	cr_assert_str_neq(devmem_last_error(), "");
	cr_assert_not(test_flag(f, DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT),
		      "a refused add must not enable signalling");
	dma_fence_signal(f);
	cr_assert_eq(cb.seen, 0);
	dma_fence_put(f);
}

Test(dma_fence, rm_callback_prevents_it_from_running)
{
	struct dma_fence *f = mock_fence();
	struct simple_cb cb = { 0 };

	cr_assert_eq(dma_fence_add_callback(f, &cb.cb, simple_callback), 0);
	cr_assert(dma_fence_remove_callback(f, &cb.cb), "a queued callback is pending");
	cr_assert_not(dma_fence_remove_callback(f, &cb.cb), "removed twice: no longer pending");
	dma_fence_signal(f);
	cr_assert_eq(cb.seen, 0);
	dma_fence_put(f);
}

Test(dma_fence, late_rm_callback_returns_false_after_it_ran)
{
	struct dma_fence *f = mock_fence();
	struct simple_cb cb = { 0 };

	cr_assert_eq(dma_fence_add_callback(f, &cb.cb, simple_callback), 0);
	dma_fence_signal(f);
	cr_assert_eq(cb.seen, 1);
	cr_assert_not(dma_fence_remove_callback(f, &cb.cb));
	cr_assert_eq(cb.seen, 1);
	dma_fence_put(f);
}

Test(dma_fence, status_is_zero_then_one)
{
	struct dma_fence *f = mock_fence();

	cr_assert_eq(dma_fence_get_status(f), 0);
	dma_fence_signal(f);
	cr_assert_eq(dma_fence_get_status(f), 1);
	cr_assert_eq(dma_fence_get_status(NULL), -EINVAL);
	dma_fence_put(f);
}

Test(dma_fence, error_is_reported_only_once_signalled)
{
	struct dma_fence *f = mock_fence();

	dma_fence_set_error(f, -EIO);
	cr_assert_eq(dma_fence_get_status(f), 0, "the error is not a signal");
	cr_assert_not(dma_fence_is_signaled(f));
	dma_fence_signal(f);
	cr_assert_eq(dma_fence_get_status(f), -EIO);
	dma_fence_put(f);
}

#if DEVMEM_DEBUG
Test(dma_fence, set_error_after_signal_is_a_bug, .signal = SIGABRT)
{
	struct dma_fence *f = mock_fence();

	dma_fence_signal(f);
	dma_fence_set_error(f, -EIO);
}

Test(dma_fence, set_error_not_negative_errno_is_a_bug, .signal = SIGABRT)
{
	struct dma_fence *f = mock_fence();

	dma_fence_set_error(f, EIO);
}

Test(dma_fence, stub_over_put_is_a_bug, .signal = SIGABRT)
{
	struct dma_fence *stub = dma_fence_get_stub();

	dma_fence_put(stub);
	dma_fence_put(stub); /* one more than we got */
}
#endif

struct signal_later {
	struct dma_fence *fence;
	int64_t delay_ns;
	int *go; /* atomic; when set, the delay starts once *go is */
};

static void *signal_after_delay(void *arg)
{
	struct signal_later *s = arg;
	struct timespec ts = ns_to_timespec(s->delay_ns);

	while (s->go && !__atomic_load_n(s->go, __ATOMIC_ACQUIRE))
		sched_yield();
	nanosleep(&ts, NULL);
	dma_fence_signal(s->fence);
	return NULL;
}

Test(dma_fence, wait_returns_once_another_thread_signals)
{
	struct dma_fence *f = mock_fence();
	struct signal_later s = { f, 20 * NSEC_PER_MSEC };
	pthread_t t;

	pthread_create(&t, NULL, signal_after_delay, &s);
	cr_assert_eq(dma_fence_wait(f, false), 0);
	cr_assert(dma_fence_is_signaled(f));
	pthread_join(t, NULL);
	dma_fence_put(f);
}

Test(dma_fence, wait_timeout_returns_zero_on_timeout)
{
	struct dma_fence *f = mock_fence();
	int64_t start = ktime_get_ns();

	cr_assert_eq(dma_fence_wait_timeout(f, false, 10 * NSEC_PER_MSEC), 0);
	cr_assert_geq(ktime_get_ns() - start, 10 * NSEC_PER_MSEC, "returned before the timeout");
	cr_assert_not(dma_fence_is_signaled(f));
	dma_fence_signal(f);
	dma_fence_put(f);
}

Test(dma_fence, wait_timeout_returns_remaining_time_when_signalled)
{
	struct dma_fence *f = mock_fence();
	int go = 0;
	struct signal_later s = { f, 50 * NSEC_PER_MSEC, &go };
	int64_t timeout = 5 * NSEC_PER_SEC, ret, t0, elapsed;
	pthread_t t;

	pthread_create(&t, NULL, signal_after_delay, &s);
	t0 = ktime_get_ns();
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	ret = dma_fence_wait_timeout(f, false, timeout);
	elapsed = ktime_get_ns() - t0;
	pthread_join(t, NULL);
	/* the wait's own time is taken off, and no more than the test saw pass */
	cr_assert_geq(ret, 1);
	cr_assert_lt(ret, timeout, "remaining time must account for the wait");
	cr_assert_geq(ret, timeout - elapsed, "more time left than the wait left");
	cr_assert_eq(dma_fence_wait_timeout(f, false, timeout), timeout,
		     "already signalled: the whole timeout remains");
	cr_assert_eq(dma_fence_wait_timeout(f, false, DMA_FENCE_MAX_TIMEOUT),
		     DMA_FENCE_MAX_TIMEOUT);
	dma_fence_put(f);
}

Test(dma_fence, wait_timeout_zero_polls)
{
	struct dma_fence *f = mock_fence();

	cr_assert_eq(dma_fence_wait_timeout(f, false, 0), 0);
	dma_fence_signal(f);
	cr_assert_eq(dma_fence_wait_timeout(f, false, 0), 1);
	dma_fence_put(f);
}

Test(dma_fence, wait_bad_arguments_return_einval)
{
	struct dma_fence *f = mock_fence();

	cr_assert_eq(dma_fence_wait_timeout(f, false, -1), -EINVAL);
	cr_assert_eq(dma_fence_wait_timeout(NULL, false, 1), -EINVAL);
	cr_assert_eq(dma_fence_wait(NULL, false), -EINVAL);
	cr_assert_not(test_flag(f, DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT));
	dma_fence_signal(f);
	dma_fence_put(f);
}

struct waiter {
	struct dma_fence *fence;
	bool intr;
	int64_t timeout;
	int64_t ret;
	int64_t cpu_ns;
	int started; /* atomic */
	int done; /* atomic */
};

static int64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static void *waiter_thread(void *arg)
{
	struct waiter *w = arg;
	int64_t cpu = thread_cpu_ns();

	__atomic_store_n(&w->started, 1, __ATOMIC_RELEASE);
	w->ret = dma_fence_wait_timeout(w->fence, w->intr, w->timeout);
	w->cpu_ns = thread_cpu_ns() - cpu;
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

Test(dma_fence, waiters_sleep_instead_of_spinning)
{
	struct dma_fence *f = mock_fence();
	struct waiter w = { .fence = f, .timeout = DMA_FENCE_MAX_TIMEOUT };
	struct timespec pause = ns_to_timespec(200 * NSEC_PER_MSEC);
	pthread_t t;

	pthread_create(&t, NULL, waiter_thread, &w);
	nanosleep(&pause, NULL);
	cr_assert_eq(__atomic_load_n(&w.done, __ATOMIC_ACQUIRE), 0);
	dma_fence_signal(f);
	pthread_join(t, NULL);
	cr_assert_eq(w.ret, DMA_FENCE_MAX_TIMEOUT);
	cr_assert_lt(w.cpu_ns, 50 * NSEC_PER_MSEC, "waiter used %lld ns of CPU in 200 ms",
		     (long long)w.cpu_ns);
	dma_fence_put(f);
}

Test(dma_fence, signal_wakes_every_waiter)
{
	struct dma_fence *f = mock_fence();
	struct waiter w[4];
	pthread_t t[4];
	int i;

	for (i = 0; i < 4; i++) {
		w[i] = (struct waiter){ .fence = f, .timeout = 10 * NSEC_PER_SEC };
		pthread_create(&t[i], NULL, waiter_thread, &w[i]);
	}
	for (i = 0; i < 4; i++)
		while (!__atomic_load_n(&w[i].started, __ATOMIC_ACQUIRE))
			sched_yield();
	usleep(10000);
	dma_fence_signal(f);
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		cr_assert_geq(w[i].ret, 1, "waiter %d returned %lld", i, (long long)w[i].ret);
	}
	dma_fence_put(f);
}

static void on_sigusr1(int sig)
{
}

/* Send SIGUSR1 to @t every millisecond until @w is done (at most ~2 s). */
static void interrupt_until_done(pthread_t t, struct waiter *w, int max_ms)
{
	int i;

	for (i = 0; i < max_ms && !__atomic_load_n(&w->done, __ATOMIC_ACQUIRE); i++) {
		pthread_kill(t, SIGUSR1);
		usleep(1000);
	}
}

static void install_sigusr1(int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigusr1;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
}

Test(dma_fence, interruptible_wait_returns_erestartsys_on_signal_handler)
{
	struct dma_fence *f = mock_fence();
	struct waiter w = { .fence = f, .intr = true, .timeout = DMA_FENCE_MAX_TIMEOUT };
	pthread_t t;

	/* SA_RESTART is the hard case: the wait must still end. */
	install_sigusr1(SA_RESTART);
	pthread_create(&t, NULL, waiter_thread, &w);
	interrupt_until_done(t, &w, 2000);
	pthread_join(t, NULL);
	cr_assert_eq(w.ret, -ERESTARTSYS);
	cr_assert_not(dma_fence_is_signaled(f), "an interrupted wait changes nothing");
	dma_fence_signal(f);
	dma_fence_put(f);
}

Test(dma_fence, uninterruptible_wait_ignores_signal_handlers)
{
	struct dma_fence *f = mock_fence();
	struct waiter w = { .fence = f, .intr = false, .timeout = 50 * NSEC_PER_MSEC };
	pthread_t t;

	install_sigusr1(0);
	pthread_create(&t, NULL, waiter_thread, &w);
	interrupt_until_done(t, &w, 2000);
	pthread_join(t, NULL);
	cr_assert_eq(w.ret, 0, "only the timeout may end an uninterruptible wait");
	dma_fence_signal(f);
	dma_fence_put(f);
}

/* --- enable_signaling and ->signaled --- */

Test(dma_fence, enable_signaling_called_once_by_first_waiter_or_callback)
{
	struct dma_fence *f = mock_fence_ops(&mock_hw_ops, NULL);
	struct simple_cb a = { 0 }, b = { 0 };

	cr_assert_not(dma_fence_is_signaled(f));
	cr_assert_eq(enable_calls, 0, "polling does not enable signalling");
	cr_assert_eq(dma_fence_add_callback(f, &a.cb, simple_callback), 0);
	cr_assert_eq(enable_calls, 1);
	cr_assert(test_flag(f, DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT));
	cr_assert_eq(dma_fence_add_callback(f, &b.cb, simple_callback), 0);
	cr_assert_eq(dma_fence_wait_timeout(f, false, 0), 0);
	dma_fence_enable_sw_signaling(f);
	cr_assert_eq(enable_calls, 1);
	dma_fence_signal(f);
	cr_assert_eq(a.seen + b.seen, 2);
	dma_fence_put(f);
}

Test(dma_fence, enable_signaling_false_signals_the_fence)
{
	struct dma_fence *f = mock_fence_ops(&mock_hw_ops, NULL);
	struct simple_cb cb = { 0 };

	enable_result = false;
	cr_assert_eq(dma_fence_add_callback(f, &cb.cb, simple_callback), -ENOENT);
	cr_assert(test_flag(f, DMA_FENCE_FLAG_SIGNALED_BIT));
	cr_assert_eq(cb.seen, 0);
	dma_fence_put(f);
}

Test(dma_fence, is_signaled_polls_ops_signaled_and_signals)
{
	struct dma_fence *f = mock_fence_ops(&mock_hw_ops, NULL);
	struct simple_cb cb = { 0 };

	cr_assert_eq(dma_fence_add_callback(f, &cb.cb, simple_callback), 0);
	cr_assert_not(dma_fence_is_signaled(f));
	__atomic_store_n(&hw_done, true, __ATOMIC_RELEASE);
	cr_assert(dma_fence_is_signaled(f));
	cr_assert(test_flag(f, DMA_FENCE_FLAG_SIGNALED_BIT));
	cr_assert_eq(cb.seen, 1, "the poll that saw completion signals and runs callbacks");
	cr_assert_eq(dma_fence_get_status(f), 1);
	dma_fence_put(f);
}

/* --- callbacks that act --- */

struct chain_cb {
	struct dma_fence_cb cb;
	struct dma_fence *next; /* reference owned by the callback */
};

static void chain_callback(struct dma_fence *f, struct dma_fence_cb *cb)
{
	struct chain_cb *c = container_of(cb, struct chain_cb, cb);

	dma_fence_signal(c->next);
	dma_fence_put(c->next);
	cr_assert(dma_fence_is_signaled(f), "a callback sees its fence signalled");
	cr_assert_eq(dma_fence_add_callback(f, &c->cb, chain_callback), -ENOENT);
}

Test(dma_fence, callback_may_signal_another_fence_and_drop_references)
{
	struct dma_fence *a = mock_fence(), *b = mock_fence();
	struct chain_cb c = { .next = dma_fence_get(b) };
	struct simple_cb cb = { 0 };

	cr_assert_eq(dma_fence_add_callback(a, &c.cb, chain_callback), 0);
	cr_assert_eq(dma_fence_add_callback(b, &cb.cb, simple_callback), 0);
	dma_fence_signal(a);
	cr_assert(dma_fence_is_signaled(b));
	cr_assert_eq(cb.seen, 1);
	cr_assert_eq(kref_read(&b->refcount), 1, "the callback dropped its reference");
	dma_fence_put(a);
	dma_fence_put(b);
}

Test(dma_fence, release_with_pending_callbacks_signals_edeadlk)
{
	struct dma_fence *f = mock_fence();
	struct simple_cb cb = { 0 };

	cr_assert_eq(dma_fence_add_callback(f, &cb.cb, simple_callback), 0);
	dma_fence_put(f); /* a refcounting bug in the owner */
	cr_assert_eq(cb.seen, 1, "nobody is left hanging on a released fence");
}

/* --- timestamps, ordering, contexts --- */

Test(dma_fence, signal_timestamp_records_the_given_time)
{
	struct dma_fence *f = mock_fence(), *g = mock_fence();
	int64_t before = ktime_get_ns();

	cr_assert_not(test_flag(f, DMA_FENCE_FLAG_TIMESTAMP_BIT));
	cr_assert_eq(dma_fence_signal_timestamp(f, 123456789), 0);
	cr_assert(test_flag(f, DMA_FENCE_FLAG_TIMESTAMP_BIT));
	cr_assert_eq(f->timestamp, 123456789);

	dma_fence_signal(g);
	cr_assert(test_flag(g, DMA_FENCE_FLAG_TIMESTAMP_BIT));
	cr_assert_geq(g->timestamp, before, "dma_fence_signal stamps CLOCK_MONOTONIC now");
	cr_assert_leq(g->timestamp, ktime_get_ns());
	dma_fence_put(f);
	dma_fence_put(g);
}

Test(dma_fence, is_later_orders_by_seqno_within_a_context)
{
	uint64_t ctx = dma_fence_context_alloc(1);
	struct dma_fence a, b, other;

	dma_fence_init(&a, &mock_free_ops, ctx, 1);
	dma_fence_init(&b, &mock_free_ops, ctx, 2);
	dma_fence_init(&other, &mock_free_ops, dma_fence_context_alloc(1), 5);
	cr_assert(dma_fence_is_later(&b, &a));
	cr_assert_not(dma_fence_is_later(&a, &b));
	cr_assert_not(dma_fence_is_later(&a, &a), "a fence is not later than itself");
	cr_assert_not(dma_fence_is_later(&other, &a), "different timelines are not ordered");
	cr_assert_not(dma_fence_is_later(&a, &other));
}

/* A plain fence's seqnos wrap at 32 bits, as the kernel's; dma_fence_init64() fences do not. */
Test(dma_fence, is_later_wraps_32_bit_seqnos_unless_64_bit)
{
	uint64_t ctx = dma_fence_context_alloc(1);
	struct dma_fence old32, new32, old64, new64;

	dma_fence_init(&old32, &mock_free_ops, ctx, 0xfffffff0u);
	dma_fence_init(&new32, &mock_free_ops, ctx, 5);
	cr_assert(dma_fence_is_later(&new32, &old32), "a 32-bit timeline did not wrap");
	cr_assert_not(dma_fence_is_later(&old32, &new32));
	/* only the low 32 bits count */
	new32.seqno = 0x100000000ull + 5;
	old32.seqno = 6;
	cr_assert(dma_fence_is_later(&old32, &new32));

	dma_fence_init64(&old64, &mock_free_ops, ctx, 0xfffffff0u);
	dma_fence_init64(&new64, &mock_free_ops, ctx, 5);
	cr_assert_not(dma_fence_is_later(&new64, &old64), "a 64-bit seqno wrapped");
	cr_assert(dma_fence_is_later(&old64, &new64));
	new64.seqno = 0x100000000ull + 5;
	cr_assert(dma_fence_is_later(&new64, &old64));
	cr_assert_not(dma_fence_is_signaled(&new64));
}

struct ctx_alloc_arg {
	uint64_t first[1000];
};

static void *alloc_contexts(void *arg)
{
	struct ctx_alloc_arg *a = arg;
	int i;

	for (i = 0; i < 1000; i++)
		a->first[i] = dma_fence_context_alloc(3);
	return NULL;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

Test(dma_fence, context_alloc_never_reuses_a_context)
{
	struct ctx_alloc_arg *args = calloc(4, sizeof(*args));
	uint64_t *all = calloc(4000, sizeof(*all));
	uint64_t a, b;
	pthread_t t[4];
	int i;

	a = dma_fence_context_alloc(5);
	b = dma_fence_context_alloc(1);
	cr_assert_neq(a, 0, "context 0 is the stub's");
	cr_assert_geq(b, a + 5, "a block of 5 is reserved whole");

	for (i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, alloc_contexts, &args[i]);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < 4; i++)
		memcpy(&all[i * 1000], args[i].first, sizeof(args[i].first));
	qsort(all, 4000, sizeof(*all), cmp_u64);
	cr_assert_gt(all[0], b);
	for (i = 1; i < 4000; i++)
		cr_assert_geq(all[i], all[i - 1] + 3, "blocks overlap at %llu",
			      (unsigned long long)all[i]);
	free(all);
	free(args);
}

/* --- stubs --- */

Test(dma_fence, stub_is_shared_signalled_and_never_released)
{
	struct dma_fence *s1 = dma_fence_get_stub(), *s2 = dma_fence_get_stub();
	int i;

	cr_assert_eq(s1, s2, "one shared stub");
	cr_assert(dma_fence_is_signaled(s1));
	cr_assert_eq(dma_fence_get_status(s1), 1);
	cr_assert_eq(s1->context, 0);
	cr_assert(test_flag(s1, DMA_FENCE_FLAG_TIMESTAMP_BIT));
	cr_assert_eq(dma_fence_wait(s1, true), 0);
	cr_assert_eq(dma_fence_signal(s1), -EINVAL);
	for (i = 0; i < 100; i++)
		dma_fence_put(dma_fence_get_stub());
	dma_fence_put(s1);
	dma_fence_put(s2);
	cr_assert_geq(kref_read(&s1->refcount), 1, "the stub keeps a reference of its own");
	cr_assert(dma_fence_is_signaled(s1));
}

Test(dma_fence, private_stub_is_signalled_on_the_stub_context)
{
	struct dma_fence *a = dma_fence_allocate_private_stub(42);
	struct dma_fence *b = dma_fence_allocate_private_stub(43);
	struct dma_fence *stub = dma_fence_get_stub();

	cr_assert_not_null(a);
	cr_assert_not_null(b);
	cr_assert_neq(a, stub);
	cr_assert(dma_fence_is_signaled(a));
	cr_assert_eq(a->timestamp, 42);
	cr_assert_eq(b->timestamp, 43);
	/* the kernel inits private stubs on the stub's context 0, seqno 0 */
	cr_assert_eq(a->context, 0);
	cr_assert_eq(b->context, 0);
	cr_assert_eq(a->seqno, 0);
	cr_assert_eq(kref_read(&a->refcount), 1);
	dma_fence_put(stub);
	dma_fence_put(a); /* freed: ASan checks */
	dma_fence_put(b);
}

/* --- fence arrays --- */

static struct dma_fence **mock_fences(int n)
{
	struct dma_fence **fences = calloc(n, sizeof(*fences));
	int i;

	cr_assert_not_null(fences);
	for (i = 0; i < n; i++)
		fences[i] = mock_fence();
	return fences;
}

/* The array takes over @fences and its references; keep our own to signal them. */
static struct dma_fence_array *make_array(struct dma_fence **fences, struct dma_fence **mine, int n,
					  bool any)
{
	struct dma_fence_array *array;
	int i;

	for (i = 0; i < n; i++)
		mine[i] = dma_fence_get(fences[i]);
	array = dma_fence_array_create(n, fences, dma_fence_context_alloc(1), 1, any);
	cr_assert_not_null(array);
	return array;
}

static void put_all(struct dma_fence **mine, int n)
{
	int i;

	for (i = 0; i < n; i++)
		dma_fence_put(mine[i]);
}

Test(dma_fence, array_signals_when_all_members_have)
{
	struct dma_fence *mine[3];
	struct dma_fence_array *array = make_array(mock_fences(3), mine, 3, false);
	struct simple_cb cb = { 0 };

	cr_assert_eq(to_dma_fence_array(&array->base), array);
	cr_assert_eq(array->num_fences, 3);
	cr_assert_eq(dma_fence_add_callback(&array->base, &cb.cb, simple_callback), 0);
	dma_fence_signal(mine[0]);
	dma_fence_signal(mine[2]);
	cr_assert_not(dma_fence_is_signaled(&array->base));
	cr_assert_eq(cb.seen, 0);
	dma_fence_signal(mine[1]);
	cr_assert(dma_fence_is_signaled(&array->base));
	cr_assert_eq(cb.seen, 1);
	cr_assert_eq(dma_fence_get_status(&array->base), 1);
	dma_fence_put(&array->base);
	put_all(mine, 3);
}

Test(dma_fence, array_signals_without_waiters_by_polling_members)
{
	struct dma_fence *mine[2];
	struct dma_fence_array *array = make_array(mock_fences(2), mine, 2, false);

	dma_fence_signal(mine[0]);
	cr_assert_not(dma_fence_is_signaled(&array->base));
	dma_fence_signal(mine[1]);
	cr_assert(dma_fence_is_signaled(&array->base));
	cr_assert_not(test_flag(&array->base, DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT),
		      "nobody waited: no callbacks were attached");
	dma_fence_put(&array->base);
	put_all(mine, 2);
}

Test(dma_fence, array_signal_on_any_signals_on_first_member)
{
	struct dma_fence *mine[3];
	struct dma_fence_array *array = make_array(mock_fences(3), mine, 3, true);
	struct simple_cb cb = { 0 };

	cr_assert(array->signal_on_any);
	cr_assert_eq(dma_fence_add_callback(&array->base, &cb.cb, simple_callback), 0);
	dma_fence_signal(mine[1]);
	cr_assert(dma_fence_is_signaled(&array->base));
	cr_assert_eq(cb.seen, 1);
	/* The others still signal later; the array stays alive for their callbacks. */
	dma_fence_put(&array->base);
	dma_fence_signal(mine[0]);
	dma_fence_signal(mine[2]);
	cr_assert_eq(cb.seen, 1);
	put_all(mine, 3);
}

Test(dma_fence, array_reports_first_member_error)
{
	struct dma_fence *mine[3];
	struct dma_fence_array *array = make_array(mock_fences(3), mine, 3, false);

	dma_fence_enable_sw_signaling(&array->base);
	dma_fence_signal(mine[0]);
	dma_fence_set_error(mine[2], -ETIMEDOUT);
	dma_fence_signal(mine[2]);
	dma_fence_set_error(mine[1], -EIO);
	cr_assert_eq(dma_fence_get_status(&array->base), 0, "pending despite the error");
	dma_fence_signal(mine[1]);
	cr_assert_eq(dma_fence_get_status(&array->base), -ETIMEDOUT);
	dma_fence_put(&array->base);
	put_all(mine, 3);
}

Test(dma_fence, array_reports_member_error_when_polled)
{
	struct dma_fence *mine[2];
	struct dma_fence_array *array = make_array(mock_fences(2), mine, 2, false);

	dma_fence_set_error(mine[1], -ENOMEM);
	dma_fence_signal(mine[1]);
	dma_fence_signal(mine[0]);
	cr_assert_eq(dma_fence_get_status(&array->base), -ENOMEM);
	dma_fence_put(&array->base);
	put_all(mine, 2);
}

Test(dma_fence, array_of_signalled_members_is_signalled_at_creation)
{
	struct dma_fence **fences = mock_fences(3);
	struct dma_fence_array *array;
	struct simple_cb cb = { 0 };
	int i;

	for (i = 0; i < 3; i++)
		dma_fence_signal(fences[i]);
	array = dma_fence_array_create(3, fences, dma_fence_context_alloc(1), 1, false);
	cr_assert_not_null(array);
	cr_assert(test_flag(&array->base, DMA_FENCE_FLAG_SIGNALED_BIT));
	cr_assert_eq(dma_fence_get_status(&array->base), 1);
	cr_assert_eq(dma_fence_add_callback(&array->base, &cb.cb, simple_callback), -ENOENT);
	cr_assert_eq(dma_fence_wait_timeout(&array->base, false, 0), 1);
	dma_fence_put(&array->base); /* puts the members and frees @fences */
}

Test(dma_fence, array_with_some_signalled_members_waits_for_the_rest)
{
	struct dma_fence *mine[3];
	struct dma_fence **fences = mock_fences(3);
	struct dma_fence_array *array;
	struct simple_cb cb = { 0 };

	dma_fence_signal(fences[0]);
	dma_fence_set_error(fences[2], -EIO);
	dma_fence_signal(fences[2]);
	array = make_array(fences, mine, 3, false);
	cr_assert_not(dma_fence_is_signaled(&array->base));
	cr_assert_eq(dma_fence_add_callback(&array->base, &cb.cb, simple_callback), 0);
	dma_fence_signal(mine[1]);
	cr_assert_eq(cb.seen, 1);
	cr_assert_eq(dma_fence_get_status(&array->base), -EIO);
	dma_fence_put(&array->base);
	put_all(mine, 3);
}

Test(dma_fence, array_any_with_a_signalled_member_is_signalled_at_creation)
{
	struct dma_fence *mine[2];
	struct dma_fence **fences = mock_fences(2);
	struct dma_fence_array *array;

	dma_fence_signal(fences[1]);
	array = make_array(fences, mine, 2, true);
	cr_assert(test_flag(&array->base, DMA_FENCE_FLAG_SIGNALED_BIT));
	dma_fence_put(&array->base);
	dma_fence_signal(mine[0]);
	put_all(mine, 2);
}

Test(dma_fence, array_wait_across_threads)
{
	struct dma_fence *mine[2];
	struct dma_fence_array *array = make_array(mock_fences(2), mine, 2, false);
	struct signal_later s0 = { mine[0], 5 * NSEC_PER_MSEC },
			    s1 = { mine[1], 15 * NSEC_PER_MSEC };
	pthread_t t0, t1;

	pthread_create(&t0, NULL, signal_after_delay, &s0);
	pthread_create(&t1, NULL, signal_after_delay, &s1);
	cr_assert_geq(dma_fence_wait_timeout(&array->base, true, 5 * NSEC_PER_SEC), 1);
	cr_assert(dma_fence_is_signaled(mine[0]));
	cr_assert(dma_fence_is_signaled(mine[1]));
	pthread_join(t0, NULL);
	pthread_join(t1, NULL);
	dma_fence_put(&array->base);
	put_all(mine, 2);
}

Test(dma_fence, array_create_bad_arguments_return_null_and_take_nothing)
{
	struct dma_fence **fences = mock_fences(2);
	struct dma_fence *with_null[2] = { fences[0], NULL };

	cr_assert_null(dma_fence_array_create(0, fences, 1, 1, false));
	cr_assert_null(dma_fence_array_create(-1, fences, 1, 1, false));
	cr_assert_null(dma_fence_array_create(2, NULL, 1, 1, false));
	cr_assert_null(dma_fence_array_create(2, with_null, 1, 1, false));
	cr_assert_str_neq(devmem_last_error(), "");
	/* Still ours: one reference each, and the array to free. */
	cr_assert_eq(kref_read(&fences[0]->refcount), 1);
	cr_assert_eq(kref_read(&fences[1]->refcount), 1);
	put_all(fences, 2);
	free(fences);
}

Test(dma_fence, to_dma_fence_array_rejects_other_fences)
{
	struct dma_fence *f = mock_fence();
	struct dma_fence *stub = dma_fence_get_stub();

	cr_assert_null(to_dma_fence_array(f));
	cr_assert_null(to_dma_fence_array(stub));
	cr_assert_null(to_dma_fence_array(NULL));
	dma_fence_put(stub);
	dma_fence_signal(f);
	dma_fence_put(f);
}

Test(dma_fence, array_names)
{
	struct dma_fence *stub = dma_fence_get_stub();
	struct dma_fence **fences = calloc(1, sizeof(*fences));
	struct dma_fence_array *array;

	fences[0] = stub;
	array = dma_fence_array_create(1, fences, dma_fence_context_alloc(1), 7, false);
	cr_assert_not_null(array);
	cr_assert_str_eq(dma_fence_driver_name(&array->base), "dma_fence_array");
	cr_assert_str_eq(dma_fence_timeline_name(&array->base), "unbound");
	cr_assert_eq(array->base.seqno, 7);
	dma_fence_put(&array->base);
}
