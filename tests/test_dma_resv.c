// SPDX-License-Identifier: MIT
/*
 * dma_resv: the kernel's resv selftests (drivers/dma-buf/st-dma-resv.c:
 * sanity, signaling, for_each, for_each_unlocked, get_fences, each per
 * usage), then the add/replace/prune rules, waits, singletons, describe and
 * the reservation bug checks.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "devmem/dma-resv.h"
#include "devmem/error.h"
#include "harness.h"
#include "lib/debug.h"
#include "lib/refcount.h"
#include "lib/time.h"

static const char *mock_driver_name(struct dma_fence *f)
{
	return "mock-driver";
}

static const char *mock_timeline_name(struct dma_fence *f)
{
	return "mock-timeline";
}

static const struct dma_fence_ops mock_ops = {
	.get_driver_name = mock_driver_name,
	.get_timeline_name = mock_timeline_name,
};

/* A fence freed by its last put (ops->release NULL means free()). */
static struct dma_fence *mock_fence(uint64_t context, uint64_t seqno)
{
	struct dma_fence *f = calloc(1, sizeof(*f));

	cr_assert_not_null(f);
	dma_fence_init(f, &mock_ops, context, seqno);
	return f;
}

static unsigned int refs(struct dma_fence *f)
{
	return kref_read(&f->refcount);
}

static const enum dma_resv_usage all_usages[] = {
	DMA_RESV_USAGE_KERNEL,
	DMA_RESV_USAGE_WRITE,
	DMA_RESV_USAGE_READ,
	DMA_RESV_USAGE_BOOKKEEP,
};

/* Lock, reserve one slot and add @f with @usage; stays locked. */
static void lock_and_add(struct dma_resv *resv, struct dma_fence *f, enum dma_resv_usage usage)
{
	cr_assert_eq(dma_resv_lock(resv, NULL), 0);
	cr_assert_eq(dma_resv_reserve_fences(resv, 1), 0);
	dma_resv_add_fence(resv, f, usage);
}

static void add_one(struct dma_resv *resv, struct dma_fence *f, enum dma_resv_usage usage)
{
	lock_and_add(resv, f, usage);
	dma_resv_unlock(resv);
}

/* Defines one Test per usage, each calling check_<name>(usage). */
#define PER_USAGE_TEST(name)                           \
	Test(dma_resv, name##_kernel)                  \
	{                                              \
		check_##name(DMA_RESV_USAGE_KERNEL);   \
	}                                              \
	Test(dma_resv, name##_write)                   \
	{                                              \
		check_##name(DMA_RESV_USAGE_WRITE);    \
	}                                              \
	Test(dma_resv, name##_read)                    \
	{                                              \
		check_##name(DMA_RESV_USAGE_READ);     \
	}                                              \
	Test(dma_resv, name##_bookkeep)                \
	{                                              \
		check_##name(DMA_RESV_USAGE_BOOKKEEP); \
	}

Test(dma_resv, sanity_lock_unlock_and_fini)
{
	struct dma_fence *f = mock_fence(dma_fence_context_alloc(1), 1);
	struct dma_resv resv;

	dma_fence_enable_sw_signaling(f);
	dma_fence_signal(f);
	dma_fence_put(f);

	dma_resv_init(&resv);
	cr_assert_eq(dma_resv_lock(&resv, NULL), 0);
	cr_assert(dma_resv_is_locked(&resv));
	cr_assert(dma_resv_held(&resv));
	cr_assert_null(dma_resv_locking_ctx(&resv));
	dma_resv_unlock(&resv);
	cr_assert_not(dma_resv_is_locked(&resv));
	cr_assert_not(dma_resv_held(&resv));
	cr_assert_eq(dma_resv_num_fences(&resv), 0);
	dma_resv_fini(&resv);
}

static void check_signaling(enum dma_resv_usage usage)
{
	struct dma_fence *f = mock_fence(dma_fence_context_alloc(1), 1);
	struct dma_resv resv;

	dma_resv_init(&resv);
	lock_and_add(&resv, f, usage);
	cr_assert_not(dma_resv_test_signaled(&resv, usage), "resv unexpectedly signalled");
	dma_fence_signal(f);
	cr_assert(dma_resv_test_signaled(&resv, usage), "resv not reporting signalled");
	dma_resv_unlock(&resv);
	dma_resv_fini(&resv);
	cr_assert_eq(refs(f), 1, "fini must drop the resv's reference");
	dma_fence_put(f);
}
PER_USAGE_TEST(signaling)

static void check_for_each(enum dma_resv_usage usage)
{
	struct dma_fence *f = mock_fence(dma_fence_context_alloc(1), 1), *fence;
	struct dma_resv_iter cursor;
	struct dma_resv resv;
	int found = 0;

	dma_resv_init(&resv);
	lock_and_add(&resv, f, usage);
	dma_resv_for_each_fence(&cursor, &resv, usage, fence) {
		cr_assert_eq(found, 0, "more than one fence found");
		cr_assert_eq(fence, f, "unexpected fence");
		cr_assert_eq(dma_resv_iter_usage(&cursor), usage, "unexpected fence usage");
		found++;
	}
	cr_assert_eq(found, 1, "no fence found");
	dma_fence_signal(f);
	dma_resv_unlock(&resv);
	dma_resv_fini(&resv);
	dma_fence_put(f);
}
PER_USAGE_TEST(for_each)

static void check_for_each_unlocked(enum dma_resv_usage usage)
{
	struct dma_fence *f = mock_fence(dma_fence_context_alloc(1), 1), *fence;
	struct dma_resv_iter cursor;
	struct dma_resv resv;
	int seen = 0, restarts = 0;

	dma_resv_init(&resv);
	add_one(&resv, f, usage);
	dma_resv_iter_begin(&cursor, &resv, usage);
	dma_resv_for_each_fence_unlocked(&cursor, fence) {
		cr_assert_eq(fence, f, "unexpected fence");
		cr_assert_eq(dma_resv_iter_usage(&cursor), usage, "unexpected fence usage");
		cr_assert(dma_resv_iter_is_restarted(&cursor), "no restart flag");
		cr_assert_gt(refs(f), 2, "the unlocked iterator must hold a reference");
		restarts++;
		/* make the list look changed once: the walk must start over */
		if (++seen == 1)
			cursor.seq = ~cursor.seq;
	}
	dma_resv_iter_end(&cursor);
	cr_assert_eq(seen, 2, "restart did not revisit the fence");
	cr_assert_eq(restarts, 2);
	cr_assert_eq(refs(f), 2, "the iterator leaked a reference");
	dma_fence_signal(f);
	dma_resv_fini(&resv);
	dma_fence_put(f);
}
PER_USAGE_TEST(for_each_unlocked)

static void check_get_fences(enum dma_resv_usage usage)
{
	struct dma_fence *f = mock_fence(dma_fence_context_alloc(1), 1), **fences = NULL;
	struct dma_resv resv;
	unsigned int n = ~0U;

	dma_resv_init(&resv);
	add_one(&resv, f, usage);
	cr_assert_eq(dma_resv_get_fences(&resv, usage, &n, &fences), 0);
	cr_assert_eq(n, 1, "expected exactly one fence");
	cr_assert_eq(fences[0], f, "unexpected fence");
	cr_assert_eq(refs(f), 3, "get_fences must reference what it returns");
	dma_fence_put(fences[0]);
	free(fences);
	dma_fence_signal(f);
	dma_resv_fini(&resv);
	dma_fence_put(f);
}
PER_USAGE_TEST(get_fences)

/* One unsignalled fence per usage, each its own context. */
struct four {
	struct dma_resv resv;
	struct dma_fence *f[4];
};

static void four_init(struct four *s)
{
	dma_resv_init(&s->resv);
	cr_assert_eq(dma_resv_lock(&s->resv, NULL), 0);
	cr_assert_eq(dma_resv_reserve_fences(&s->resv, 4), 0);
	for (int u = 0; u < 4; u++) {
		s->f[u] = mock_fence(dma_fence_context_alloc(1), 1);
		dma_resv_add_fence(&s->resv, s->f[u], all_usages[u]);
	}
	dma_resv_unlock(&s->resv);
}

static void four_fini(struct four *s)
{
	dma_resv_fini(&s->resv);
	for (int u = 0; u < 4; u++) {
		cr_assert_eq(refs(s->f[u]), 1);
		dma_fence_signal(s->f[u]);
		dma_fence_put(s->f[u]);
	}
}

Test(dma_resv, query_returns_its_usage_and_every_lower_one)
{
	struct dma_resv_iter cursor;
	struct dma_fence *fence, **fences;
	struct four s;
	unsigned int n;

	four_init(&s);
	for (int u = 0; u < 4; u++) {
		int locked = 0, unlocked = 0;

		cr_assert_eq(dma_resv_get_fences(&s.resv, all_usages[u], &n, &fences), 0);
		cr_assert_eq(n, (unsigned int)u + 1, "usage %d: %u fences", u, n);
		for (unsigned int i = 0; i < n; i++) {
			cr_assert_eq(fences[i], s.f[i]);
			dma_fence_put(fences[i]);
		}
		free(fences);

		dma_resv_lock(&s.resv, NULL);
		dma_resv_for_each_fence(&cursor, &s.resv, all_usages[u], fence) {
			cr_assert_leq(dma_resv_iter_usage(&cursor), all_usages[u]);
			locked++;
		}
		dma_resv_unlock(&s.resv);
		dma_resv_iter_begin(&cursor, &s.resv, all_usages[u]);
		dma_resv_for_each_fence_unlocked(&cursor, fence) {
			cr_assert_leq(dma_resv_iter_usage(&cursor), all_usages[u]);
			unlocked++;
		}
		dma_resv_iter_end(&cursor);
		cr_assert_eq(locked, u + 1);
		cr_assert_eq(unlocked, u + 1);
	}
	four_fini(&s);
}

Test(dma_resv, test_signaled_looks_only_at_the_asked_usages)
{
	struct four s;

	four_init(&s);
	for (int u = 0; u < 4; u++) {
		for (int q = 0; q < 4; q++)
			cr_assert_eq(dma_resv_test_signaled(&s.resv, all_usages[q]), q < u,
				     "after signalling %d usages, test_signaled(%d) is wrong", u,
				     q);
		dma_fence_signal(s.f[u]);
	}
	for (int q = 0; q < 4; q++)
		cr_assert(dma_resv_test_signaled(&s.resv, all_usages[q]));
	four_fini(&s);
}

Test(dma_resv, wait_timeout_per_usage)
{
	struct four s;
	int64_t t0, ret;

	four_init(&s);
	dma_fence_signal(s.f[0]);
	cr_assert_eq(dma_resv_wait_timeout(&s.resv, DMA_RESV_USAGE_KERNEL, false, 0), 1,
		     "a zero timeout with everything signalled returns 1");
	cr_assert_gt(dma_resv_wait_timeout(&s.resv, DMA_RESV_USAGE_KERNEL, false, NSEC_PER_SEC), 0);
	cr_assert_eq(dma_resv_wait_timeout(&s.resv, DMA_RESV_USAGE_WRITE, false, 0), 0,
		     "a zero timeout with a pending WRITE fence returns 0");
	t0 = ktime_get_ns();
	ret = dma_resv_wait_timeout(&s.resv, DMA_RESV_USAGE_BOOKKEEP, false, 20 * NSEC_PER_MSEC);
	cr_assert_eq(ret, 0, "pending fences must time out");
	cr_assert_geq(ktime_get_ns() - t0, 20 * NSEC_PER_MSEC, "timed out early");
	cr_assert_eq(dma_resv_wait_timeout(&s.resv, DMA_RESV_USAGE_READ, false, -1), -EINVAL);
	four_fini(&s);
}

struct signal_later {
	struct dma_fence *f[3]; /* NULL-terminated */
	int waiting; /* atomic: the test is about to wait */
};

/* Signal the fences 50 ms after the test says it is about to wait. */
static void *signal_later(void *arg)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 50 * 1000 * 1000 };
	struct signal_later *sl = arg;

	while (!__atomic_load_n(&sl->waiting, __ATOMIC_ACQUIRE))
		sched_yield();
	nanosleep(&ts, NULL);
	for (int i = 0; sl->f[i]; i++)
		dma_fence_signal(sl->f[i]);
	return NULL;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

Test(dma_resv, wait_timeout_returns_remaining_time_when_signalled)
{
	struct signal_later sl = { 0 };
	struct four s;
	pthread_t t;
	int64_t ret, t0, elapsed;

	four_init(&s);
	sl.f[0] = s.f[0];
	sl.f[1] = s.f[1];
	cr_assert_eq(pthread_create(&t, NULL, signal_later, &sl), 0);
	t0 = mono_ns();
	__atomic_store_n(&sl.waiting, 1, __ATOMIC_RELEASE);
	ret = dma_resv_wait_timeout(&s.resv, DMA_RESV_USAGE_WRITE, false, 5 * NSEC_PER_SEC);
	elapsed = mono_ns() - t0;
	pthread_join(t, NULL);
	/*
	 * What is left is the timeout less the time the wait took: less than
	 * the timeout (the fences came 50 ms later), and not less than the
	 * timeout less the time this test saw pass around the call.
	 */
	cr_assert_gt(ret, 0);
	cr_assert_lt(ret, 5 * NSEC_PER_SEC, "remaining time not reduced");
	cr_assert_geq(ret, 5 * NSEC_PER_SEC - elapsed, "more time left than the wait left");
	cr_assert_not(dma_resv_test_signaled(&s.resv, DMA_RESV_USAGE_READ));
	four_fini(&s);
}

static void on_sigusr1(int sig)
{
	(void)sig;
}

struct intr_wait {
	struct dma_resv *resv;
	int64_t ret;
	int done; /* atomic */
};

static void *intr_wait_thread(void *arg)
{
	struct intr_wait *w = arg;

	w->ret = dma_resv_wait_timeout(w->resv, DMA_RESV_USAGE_KERNEL, true, DMA_FENCE_MAX_TIMEOUT);
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

Test(dma_resv, interruptible_wait_returns_erestartsys)
{
	struct sigaction sa = { .sa_handler = on_sigusr1 }, old_sa;
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 10 * 1000 * 1000 };
	struct dma_fence *f = mock_fence(dma_fence_context_alloc(1), 1);
	struct intr_wait w = { 0 };
	struct dma_resv resv;
	pthread_t t;

	sigemptyset(&sa.sa_mask);
	cr_assert_eq(sigaction(SIGUSR1, &sa, &old_sa), 0);
	dma_resv_init(&resv);
	add_one(&resv, f, DMA_RESV_USAGE_KERNEL);
	w.resv = &resv;
	cr_assert_eq(pthread_create(&t, NULL, intr_wait_thread, &w), 0);
	for (int i = 0; i < 500 && !__atomic_load_n(&w.done, __ATOMIC_ACQUIRE); i++) {
		nanosleep(&ts, NULL);
		pthread_kill(t, SIGUSR1);
	}
	if (!__atomic_load_n(&w.done, __ATOMIC_ACQUIRE))
		dma_fence_signal(f); /* do not leave the thread behind */
	pthread_join(t, NULL);
	cr_assert_eq(w.ret, -ERESTARTSYS);
	cr_assert_not(dma_fence_is_signaled(f));
	dma_fence_signal(f);
	dma_resv_fini(&resv);
	dma_fence_put(f);
	sigaction(SIGUSR1, &old_sa, NULL);
}

Test(dma_resv, fence_of_same_context_replaces_older_one)
{
	uint64_t ctx = dma_fence_context_alloc(1);
	struct dma_fence *f1 = mock_fence(ctx, 1), *f2 = mock_fence(ctx, 2), **fences;
	struct dma_resv resv;
	unsigned int n;

	dma_resv_init(&resv);
	lock_and_add(&resv, f1, DMA_RESV_USAGE_WRITE);
	dma_resv_add_fence(&resv, f2, DMA_RESV_USAGE_WRITE); /* replaces: needs no new slot */
	dma_resv_unlock(&resv);
	cr_assert_eq(dma_resv_num_fences(&resv), 1);
	cr_assert_eq(refs(f1), 1, "the replaced fence's reference must be dropped");
	cr_assert_eq(dma_resv_get_fences(&resv, DMA_RESV_USAGE_BOOKKEEP, &n, &fences), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(fences[0], f2);
	dma_fence_put(fences[0]);
	free(fences);
	dma_resv_fini(&resv);
	dma_fence_signal(f1);
	dma_fence_signal(f2);
	dma_fence_put(f1);
	dma_fence_put(f2);
}

Test(dma_resv, earlier_fence_of_same_context_does_not_replace_later_one)
{
	uint64_t ctx = dma_fence_context_alloc(1);
	struct dma_fence *f1 = mock_fence(ctx, 1), *f2 = mock_fence(ctx, 2);
	struct dma_resv resv;

	dma_resv_init(&resv);
	lock_and_add(&resv, f2, DMA_RESV_USAGE_WRITE);
	cr_assert_eq(dma_resv_reserve_fences(&resv, 1), 0);
	dma_resv_add_fence(&resv, f1, DMA_RESV_USAGE_WRITE);
	dma_resv_unlock(&resv);
	cr_assert_eq(dma_resv_num_fences(&resv), 2);
	dma_resv_fini(&resv);
	dma_fence_signal(f1);
	dma_fence_signal(f2);
	dma_fence_put(f1);
	dma_fence_put(f2);
}

Test(dma_resv, lower_usage_of_same_context_is_kept_beside_the_new_fence)
{
	uint64_t ctx = dma_fence_context_alloc(1);
	struct dma_fence *f1 = mock_fence(ctx, 1), *f2 = mock_fence(ctx, 2), *fence;
	struct dma_resv_iter cursor;
	struct dma_resv resv;
	int kernel = 0;

	dma_resv_init(&resv);
	lock_and_add(&resv, f1, DMA_RESV_USAGE_KERNEL);
	cr_assert_eq(dma_resv_reserve_fences(&resv, 1), 0);
	dma_resv_add_fence(&resv, f2, DMA_RESV_USAGE_READ);
	cr_assert_eq(dma_resv_num_fences(&resv), 2, "a KERNEL fence must not be hidden by READ");
	dma_resv_for_each_fence(&cursor, &resv, DMA_RESV_USAGE_KERNEL, fence) {
		cr_assert_eq(fence, f1);
		kernel++;
	}
	cr_assert_eq(kernel, 1);
	dma_resv_unlock(&resv);
	dma_resv_fini(&resv);
	dma_fence_signal(f1);
	dma_fence_signal(f2);
	dma_fence_put(f1);
	dma_fence_put(f2);
}

Test(dma_resv, usage_is_promoted_never_demoted)
{
	struct dma_fence *f = mock_fence(dma_fence_context_alloc(1), 1), *fence;
	struct dma_resv_iter cursor;
	struct dma_resv resv;
	int n = 0;

	dma_resv_init(&resv);
	lock_and_add(&resv, f, DMA_RESV_USAGE_READ);
	dma_resv_add_fence(&resv, f, DMA_RESV_USAGE_WRITE); /* promote: in place */
	cr_assert_eq(dma_resv_num_fences(&resv), 1);
	dma_resv_for_each_fence(&cursor, &resv, DMA_RESV_USAGE_WRITE, fence) {
		cr_assert_eq(dma_resv_iter_usage(&cursor), DMA_RESV_USAGE_WRITE);
		n++;
	}
	cr_assert_eq(n, 1, "the promoted fence must show as WRITE");

	/* demotion attempt: the WRITE entry stays; the BOOKKEEP one comes beside it */
	cr_assert_eq(dma_resv_reserve_fences(&resv, 1), 0);
	dma_resv_add_fence(&resv, f, DMA_RESV_USAGE_BOOKKEEP);
	n = 0;
	dma_resv_for_each_fence(&cursor, &resv, DMA_RESV_USAGE_WRITE, fence) {
		cr_assert_eq(fence, f);
		n++;
	}
	cr_assert_eq(n, 1, "the fence must still be a WRITE fence");
	dma_resv_unlock(&resv);
	cr_assert_not(dma_resv_test_signaled(&resv, DMA_RESV_USAGE_WRITE));
	dma_resv_fini(&resv);
	cr_assert_eq(refs(f), 1);
	dma_fence_signal(f);
	dma_fence_put(f);
}

Test(dma_resv, signalled_fence_is_pruned_when_adding)
{
	struct dma_fence *f1 = mock_fence(dma_fence_context_alloc(1), 1);
	struct dma_fence *f2 = mock_fence(dma_fence_context_alloc(1), 1);
	struct dma_resv resv;

	dma_resv_init(&resv);
	lock_and_add(&resv, f1, DMA_RESV_USAGE_KERNEL);
	dma_fence_signal(f1);
	cr_assert_eq(dma_resv_reserve_fences(&resv, 1), 0);
	dma_resv_add_fence(&resv, f2, DMA_RESV_USAGE_READ);
	cr_assert_eq(dma_resv_num_fences(&resv), 1, "the signalled fence must be pruned");
	cr_assert_eq(refs(f1), 1);
	dma_resv_unlock(&resv);
	dma_resv_fini(&resv);
	dma_fence_signal(f2);
	dma_fence_put(f1);
	dma_fence_put(f2);
}

Test(dma_resv, signalled_fences_are_pruned_when_the_list_grows)
{
	struct dma_fence *f[4];
	struct dma_resv resv;

	dma_resv_init(&resv);
	cr_assert_eq(dma_resv_lock(&resv, NULL), 0);
	cr_assert_eq(dma_resv_reserve_fences(&resv, 4), 0);
	for (int i = 0; i < 4; i++) {
		f[i] = mock_fence(dma_fence_context_alloc(1), 1);
		dma_resv_add_fence(&resv, f[i], DMA_RESV_USAGE_READ);
	}
	dma_fence_signal(f[0]);
	dma_fence_signal(f[2]);
	cr_assert_eq(dma_resv_num_fences(&resv), 4, "signalled fences stay until pruned");
	cr_assert_eq(dma_resv_reserve_fences(&resv, 8), 0);
	cr_assert_eq(dma_resv_num_fences(&resv), 2);
	cr_assert_eq(refs(f[0]), 1);
	cr_assert_eq(refs(f[2]), 1);
	dma_resv_unlock(&resv);
	dma_resv_fini(&resv);
	for (int i = 0; i < 4; i++) {
		dma_fence_signal(f[i]);
		dma_fence_put(f[i]);
	}
}

Test(dma_resv, reserve_refuses_absurd_counts_and_changes_nothing)
{
	struct dma_fence *f = mock_fence(dma_fence_context_alloc(1), 1);
	struct dma_resv resv;

	dma_resv_init(&resv);
	lock_and_add(&resv, f, DMA_RESV_USAGE_READ);
	cr_assert_eq(dma_resv_reserve_fences(&resv, ~0U), -ENOMEM);
	cr_assert_neq(devmem_last_error()[0], '\0');
	cr_assert_eq(dma_resv_num_fences(&resv), 1);
	dma_resv_unlock(&resv);
	dma_resv_fini(&resv);
	dma_fence_signal(f);
	dma_fence_put(f);
}

Test(dma_resv, locked_iteration_sees_signalled_fences_unlocked_skips_them)
{
	struct dma_fence *f = mock_fence(dma_fence_context_alloc(1), 1), *fence, **fences;
	struct dma_resv_iter cursor;
	struct dma_resv resv;
	unsigned int n;
	int locked = 0, unlocked = 0;

	dma_resv_init(&resv);
	lock_and_add(&resv, f, DMA_RESV_USAGE_WRITE);
	dma_fence_signal(f);
	dma_resv_for_each_fence(&cursor, &resv, DMA_RESV_USAGE_BOOKKEEP, fence)
		locked++;
	dma_resv_unlock(&resv);
	dma_resv_iter_begin(&cursor, &resv, DMA_RESV_USAGE_BOOKKEEP);
	dma_resv_for_each_fence_unlocked(&cursor, fence)
		unlocked++;
	dma_resv_iter_end(&cursor);
	cr_assert_eq(locked, 1);
	cr_assert_eq(unlocked, 0);
	cr_assert_eq(dma_resv_get_fences(&resv, DMA_RESV_USAGE_BOOKKEEP, &n, &fences), 0);
	cr_assert_eq(n, 0);
	cr_assert_null(fences);
	dma_resv_fini(&resv);
	dma_fence_put(f);
}

Test(dma_resv, replace_fences_swaps_every_fence_of_a_context)
{
	uint64_t ctx = dma_fence_context_alloc(2);
	struct dma_fence *a1 = mock_fence(ctx, 1), *a2 = mock_fence(ctx, 2);
	struct dma_fence *b = mock_fence(ctx + 1, 1), *r = mock_fence(ctx + 1, 5), *fence;
	struct dma_resv_iter cursor;
	struct dma_resv resv;
	int seen_r = 0;

	dma_resv_init(&resv);
	cr_assert_eq(dma_resv_lock(&resv, NULL), 0);
	cr_assert_eq(dma_resv_reserve_fences(&resv, 3), 0);
	dma_resv_add_fence(&resv, a1, DMA_RESV_USAGE_KERNEL);
	dma_resv_add_fence(&resv, a2, DMA_RESV_USAGE_READ);
	dma_resv_add_fence(&resv, b, DMA_RESV_USAGE_WRITE);
	cr_assert_eq(dma_resv_num_fences(&resv), 3);

	dma_resv_replace_fences(&resv, ctx, r, DMA_RESV_USAGE_BOOKKEEP);
	cr_assert_eq(refs(a1), 1);
	cr_assert_eq(refs(a2), 1);
	dma_resv_for_each_fence(&cursor, &resv, DMA_RESV_USAGE_BOOKKEEP, fence) {
		cr_assert_neq(fence, a1);
		cr_assert_neq(fence, a2);
		if (fence == r) {
			cr_assert_eq(dma_resv_iter_usage(&cursor), DMA_RESV_USAGE_BOOKKEEP);
			seen_r++;
		}
	}
	cr_assert_eq(seen_r, 2);

	/* NULL drops them */
	dma_resv_replace_fences(&resv, ctx + 1, NULL, DMA_RESV_USAGE_BOOKKEEP);
	cr_assert_eq(dma_resv_num_fences(&resv), 0);
	cr_assert_eq(refs(b), 1);
	cr_assert_eq(refs(r), 1);
	dma_resv_unlock(&resv);
	dma_resv_fini(&resv);
	struct dma_fence *all[] = { a1, a2, b, r };
	for (int i = 0; i < 4; i++) {
		dma_fence_signal(all[i]);
		dma_fence_put(all[i]);
	}
}

Test(dma_resv, get_singleton_with_no_one_or_many_fences)
{
	struct dma_fence *f1 = mock_fence(dma_fence_context_alloc(1), 1);
	struct dma_fence *f2 = mock_fence(dma_fence_context_alloc(1), 1);
	struct dma_fence *single = (void *)1;
	struct dma_fence_array *array;
	struct dma_resv resv;

	dma_resv_init(&resv);
	cr_assert_eq(dma_resv_get_singleton(&resv, DMA_RESV_USAGE_BOOKKEEP, &single), 0);
	cr_assert_null(single, "no fences: NULL");

	add_one(&resv, f1, DMA_RESV_USAGE_WRITE);
	cr_assert_eq(dma_resv_get_singleton(&resv, DMA_RESV_USAGE_BOOKKEEP, &single), 0);
	cr_assert_eq(single, f1, "one fence: the fence itself");
	cr_assert_eq(refs(f1), 3);
	dma_fence_put(single);

	add_one(&resv, f2, DMA_RESV_USAGE_READ);
	cr_assert_eq(dma_resv_get_singleton(&resv, DMA_RESV_USAGE_WRITE, &single), 0);
	cr_assert_eq(single, f1, "only the WRITE fence counts for WRITE");
	dma_fence_put(single);
	cr_assert_eq(dma_resv_get_singleton(&resv, DMA_RESV_USAGE_READ, &single), 0);
	array = to_dma_fence_array(single);
	cr_assert_not_null(array, "several fences: a fence array");
	cr_assert_eq(array->num_fences, 2);
	cr_assert_neq(single->context, f1->context);
	cr_assert_neq(single->context, f2->context);
	cr_assert_not(dma_fence_is_signaled(single));
	dma_fence_signal(f1);
	cr_assert_not(dma_fence_is_signaled(single));
	dma_fence_signal(f2);
	cr_assert(dma_fence_is_signaled(single), "the array signals with its members");
	dma_fence_put(single);

	dma_resv_fini(&resv);
	cr_assert_eq(refs(f1), 1);
	cr_assert_eq(refs(f2), 1);
	dma_fence_put(f1);
	dma_fence_put(f2);
}

Test(dma_resv, describe_prints_one_bufinfo_line_per_fence)
{
	struct dma_fence *f1 = mock_fence(dma_fence_context_alloc(1), 7);
	struct dma_fence *f2 = mock_fence(dma_fence_context_alloc(1), 9);
	struct dma_fence *f3 = mock_fence(dma_fence_context_alloc(1), 11);
	/*
	 * The kernel's bufinfo lists fences up to READ (the BOOKKEEP one is not
	 * shown), each as "\t<usage> fence:" followed at once, with no space, by
	 * dma_fence_describe()'s "<driver> <timeline> seq <n> [un]signalled".
	 */
	const char *want = "\twrite fence:mock-driver mock-timeline seq 7 unsignalled\n"
			   "\tread fence:mock-driver mock-timeline seq 9 signalled\n";
	struct dma_resv resv;
	char buf[256], small[16];
	int len;

	dma_resv_init(&resv);
	cr_assert_eq(dma_resv_describe(&resv, buf, sizeof(buf)), 0);
	cr_assert_str_empty(buf);
	add_one(&resv, f1, DMA_RESV_USAGE_WRITE);
	add_one(&resv, f2, DMA_RESV_USAGE_READ);
	add_one(&resv, f3, DMA_RESV_USAGE_BOOKKEEP);
	dma_fence_signal(f2);
	len = dma_resv_describe(&resv, buf, sizeof(buf));
	cr_assert_str_eq(buf, want);
	cr_assert_eq(len, (int)strlen(want));
	cr_assert_eq(dma_resv_describe(&resv, small, sizeof(small)), len,
		     "a short buffer still gets the full length");
	cr_assert_eq(strlen(small), sizeof(small) - 1);
	cr_assert_eq(strncmp(small, want, sizeof(small) - 1), 0);
	cr_assert_eq(dma_resv_describe(&resv, NULL, 0), len);
	dma_resv_fini(&resv);
	dma_fence_signal(f1);
	dma_fence_signal(f3);
	dma_fence_put(f1);
	dma_fence_put(f2);
	dma_fence_put(f3);
}

static void *held_elsewhere(void *arg)
{
	struct dma_resv *resv = arg;
	uintptr_t r = 0;

	if (dma_resv_held(resv))
		r |= 1;
	if (dma_resv_trylock(resv))
		r |= 2;
	return (void *)r;
}

Test(dma_resv, held_means_held_by_the_calling_thread)
{
	struct ww_acquire_ctx ctx;
	struct dma_resv resv;
	pthread_t t;
	void *r;

	dma_resv_init(&resv);
	ww_acquire_init(&ctx, &reservation_ww_class);
	cr_assert_eq(dma_resv_lock(&resv, &ctx), 0);
	cr_assert_eq(dma_resv_lock(&resv, &ctx), -EALREADY);
	cr_assert_eq(dma_resv_locking_ctx(&resv), &ctx);
	cr_assert(dma_resv_held(&resv));
	cr_assert_eq(pthread_create(&t, NULL, held_elsewhere, &resv), 0);
	pthread_join(t, &r);
	cr_assert_eq((uintptr_t)r, 0, "another thread neither holds nor can take the lock");
	dma_resv_unlock(&resv);
	ww_acquire_fini(&ctx);
	cr_assert(dma_resv_trylock(&resv));
	dma_resv_unlock(&resv);
	dma_resv_fini(&resv);
}

#if DEVMEM_DEBUG
Test(dma_resv, add_without_reserving_is_a_bug, .signal = SIGABRT)
{
	struct dma_fence *f = mock_fence(dma_fence_context_alloc(1), 1);
	struct dma_resv resv;

	dma_resv_init(&resv);
	dma_resv_lock(&resv, NULL);
	dma_resv_add_fence(&resv, f, DMA_RESV_USAGE_READ);
}

Test(dma_resv, reservations_are_dropped_on_unlock, .signal = SIGABRT)
{
	struct dma_fence *f1 = mock_fence(dma_fence_context_alloc(1), 1);
	struct dma_fence *f2 = mock_fence(dma_fence_context_alloc(1), 1);
	struct dma_resv resv;

	dma_resv_init(&resv);
	dma_resv_lock(&resv, NULL);
	cr_assert_eq(dma_resv_reserve_fences(&resv, 2), 0);
	dma_resv_add_fence(&resv, f1, DMA_RESV_USAGE_READ);
	dma_resv_unlock(&resv);
	dma_resv_lock(&resv, NULL);
	dma_resv_add_fence(&resv, f2, DMA_RESV_USAGE_READ); /* the second slot died with the lock */
}

Test(dma_resv, add_without_the_lock_is_a_bug, .signal = SIGABRT)
{
	struct dma_fence *f = mock_fence(dma_fence_context_alloc(1), 1);
	struct dma_resv resv;

	dma_resv_init(&resv);
	dma_resv_add_fence(&resv, f, DMA_RESV_USAGE_READ);
}

Test(dma_resv, reserve_without_the_lock_is_a_bug, .signal = SIGABRT)
{
	struct dma_resv resv;

	dma_resv_init(&resv);
	dma_resv_reserve_fences(&resv, 1);
}
#else
Test(dma_resv, bug_checks_need_a_debug_build)
{
	cr_skip_test("assertions are compiled out (NDEBUG): the abort tests cannot run");
}
#endif
