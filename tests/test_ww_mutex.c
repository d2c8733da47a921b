// SPDX-License-Identifier: MIT
/*
 * ww_mutex (wait-die): the rules of include/devmem/ww-mutex.h, and the
 * kernel's test-ww_mutex scenarios (mutex, ABBA with and without resolution,
 * a cycle of contexts) adapted to threads.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "devmem/ww-mutex.h"
#include "harness.h"
#include "lib/debug.h"

static DEFINE_WW_CLASS(test_ww_class);

/* Long enough for a thread that can run to have run; failures would show as a flake-free miss. */
#define SETTLE_NS (50 * 1000 * 1000L)

static void settle(void)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = SETTLE_NS };

	nanosleep(&ts, NULL);
}

static int load_int(int *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store_int(int *p, int v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* Spin (politely) until *p == v. */
static void wait_for_int(int *p, int v)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 1000 * 1000 };

	while (load_int(p) != v)
		nanosleep(&ts, NULL);
}

Test(ww_mutex, relock_under_same_context_returns_ealready)
{
	struct ww_acquire_ctx ctx;
	struct ww_mutex a;

	ww_mutex_init(&a, &test_ww_class);
	ww_acquire_init(&ctx, &test_ww_class);
	cr_assert_eq(ww_mutex_lock(&a, &ctx), 0);
	cr_assert_eq(ww_mutex_lock(&a, &ctx), -EALREADY);
	cr_assert_eq(ww_mutex_lock_interruptible(&a, &ctx), -EALREADY);
	cr_assert_eq(ctx.acquired, 1, "a refused relock must not count");
	cr_assert(ww_mutex_is_owned_by_me(&a));
	cr_assert_eq(ww_mutex_locking_ctx(&a), &ctx);
	ww_mutex_unlock(&a);
	cr_assert_eq(ctx.acquired, 0);
	cr_assert_not(ww_mutex_is_locked(&a));
	ww_acquire_fini(&ctx);
	ww_mutex_destroy(&a);
}

Test(ww_mutex, acquire_contexts_get_increasing_stamps)
{
	struct ww_acquire_ctx c1, c2;

	ww_acquire_init(&c1, &test_ww_class);
	ww_acquire_init(&c2, &test_ww_class);
	cr_assert_gt(c2.stamp, c1.stamp, "a later context is younger");
	cr_assert_eq(c1.acquired, 0);
	cr_assert_null(c1.contending_lock);
	ww_acquire_fini(&c2);
	ww_acquire_fini(&c1);
}

struct locker {
	struct ww_mutex *lock;
	bool use_ctx;
	bool intr;
	int started; /* atomic */
	int done; /* atomic */
	int ret;
	bool owned; /* was owned by the locker when it got it */
};

static void *locker_thread(void *arg)
{
	struct locker *l = arg;
	struct ww_acquire_ctx ctx;

	if (l->use_ctx)
		ww_acquire_init(&ctx, &test_ww_class);
	store_int(&l->started, 1);
	if (l->intr)
		l->ret = ww_mutex_lock_interruptible(l->lock, l->use_ctx ? &ctx : NULL);
	else
		l->ret = ww_mutex_lock(l->lock, l->use_ctx ? &ctx : NULL);
	if (l->ret == 0) {
		l->owned = ww_mutex_is_owned_by_me(l->lock);
		ww_mutex_unlock(l->lock);
	}
	if (l->use_ctx)
		ww_acquire_fini(&ctx);
	store_int(&l->done, 1);
	return NULL;
}

static void check_excludes(bool holder_ctx, bool locker_ctx)
{
	struct locker l = { .use_ctx = locker_ctx };
	struct ww_acquire_ctx ctx;
	struct ww_mutex a;
	pthread_t t;

	ww_mutex_init(&a, &test_ww_class);
	l.lock = &a;
	if (holder_ctx)
		ww_acquire_init(&ctx, &test_ww_class);
	cr_assert_eq(ww_mutex_lock(&a, holder_ctx ? &ctx : NULL), 0);
	cr_assert(ww_mutex_is_locked(&a));
	cr_assert(ww_mutex_is_owned_by_me(&a));
	cr_assert_eq(pthread_create(&t, NULL, locker_thread, &l), 0);
	wait_for_int(&l.started, 1);
	settle();
	cr_assert_eq(load_int(&l.done), 0, "a second locker got a held mutex");
	ww_mutex_unlock(&a);
	pthread_join(t, NULL);
	cr_assert_eq(l.ret, 0);
	cr_assert(l.owned, "the waiter did not own the mutex it was handed");
	cr_assert_not(ww_mutex_is_locked(&a));
	if (holder_ctx)
		ww_acquire_fini(&ctx);
	ww_mutex_destroy(&a);
}

/* test-ww_mutex "mutex": a locker blocks until the holder lets go, with and without contexts */
Test(ww_mutex, null_context_is_a_plain_sleeping_lock)
{
	check_excludes(false, false);
}

Test(ww_mutex, mutex_excludes_lockers_with_and_without_contexts)
{
	check_excludes(true, false);
	check_excludes(false, true);
	check_excludes(true, true);
}

static void *trylock_thread(void *arg)
{
	return (void *)(uintptr_t)ww_mutex_trylock(arg, NULL);
}

Test(ww_mutex, trylock_takes_only_a_free_mutex)
{
	struct ww_acquire_ctx ctx;
	struct ww_mutex a;
	pthread_t t;
	void *got;

	ww_mutex_init(&a, &test_ww_class);
	cr_assert(ww_mutex_trylock(&a, NULL));
	cr_assert(ww_mutex_is_owned_by_me(&a));
	cr_assert_null(ww_mutex_locking_ctx(&a));
	cr_assert_not(ww_mutex_trylock(&a, NULL), "trylock of a held mutex must fail");
	cr_assert_eq(pthread_create(&t, NULL, trylock_thread, &a), 0);
	pthread_join(t, &got);
	cr_assert_eq((uintptr_t)got, 0, "another thread took a held mutex");
	ww_mutex_unlock(&a);

	ww_acquire_init(&ctx, &test_ww_class);
	cr_assert(ww_mutex_trylock(&a, &ctx));
	cr_assert_eq(ctx.acquired, 1, "a trylock under a context counts as acquired");
	cr_assert_eq(ww_mutex_locking_ctx(&a), &ctx);
	cr_assert_not(ww_mutex_trylock(&a, &ctx));
	cr_assert_eq(ctx.acquired, 1);
	ww_mutex_unlock(&a);
	cr_assert_eq(ctx.acquired, 0);
	ww_acquire_fini(&ctx);
	ww_mutex_destroy(&a);
}

/*
 * A helper thread with its own context: it inits the context (so the test
 * controls the stamp order), optionally takes @first, reports, then waits for
 * the go and locks @second.
 */
struct ctx_worker {
	struct ww_mutex *first, *second;
	bool back_off; /* on -EDEADLK: unlock first, lock_slow second, relock first */
	int inited; /* atomic */
	int holding; /* atomic: holds first */
	int go; /* atomic */
	int done; /* atomic */
	int release; /* atomic: may unlock everything */
	int ret; /* of the lock of second */
	uint64_t stamp;
};

static void *ctx_worker_thread(void *arg)
{
	struct ctx_worker *w = arg;
	struct ww_acquire_ctx ctx;

	ww_acquire_init(&ctx, &test_ww_class);
	w->stamp = ctx.stamp;
	store_int(&w->inited, 1);
	if (w->first)
		ww_mutex_lock(w->first, &ctx);
	store_int(&w->holding, 1);
	if (w->second) {
		wait_for_int(&w->go, 1);
		w->ret = ww_mutex_lock(w->second, &ctx);
		if (w->ret == -EDEADLK && w->back_off) {
			if (w->first)
				ww_mutex_unlock(w->first);
			ww_mutex_lock_slow(w->second, &ctx);
			if (w->first)
				ww_mutex_lock(w->first, &ctx);
		}
	}
	store_int(&w->done, 1);
	wait_for_int(&w->release, 1);
	if (w->second && (w->ret == 0 || w->back_off))
		ww_mutex_unlock(w->second);
	if (w->first)
		ww_mutex_unlock(w->first);
	ww_acquire_fini(&ctx);
	return NULL;
}

Test(ww_mutex, older_context_waits_for_younger_holder)
{
	struct ww_mutex a, b;
	struct ww_acquire_ctx old;
	struct ctx_worker young = { .first = &a };
	pthread_t t;

	ww_mutex_init(&a, &test_ww_class);
	ww_mutex_init(&b, &test_ww_class);
	ww_acquire_init(&old, &test_ww_class);
	cr_assert_eq(ww_mutex_lock(&b, &old), 0);
	cr_assert_eq(pthread_create(&t, NULL, ctx_worker_thread, &young), 0);
	wait_for_int(&young.holding, 1);
	cr_assert_gt(young.stamp, old.stamp);

	/* we are older and hold b: we must wait for a, not die */
	store_int(&young.release, 1);
	cr_assert_eq(ww_mutex_lock(&a, &old), 0);
	cr_assert_eq(old.acquired, 2);
	pthread_join(t, NULL);
	ww_mutex_unlock(&a);
	ww_mutex_unlock(&b);
	ww_acquire_fini(&old);
	ww_mutex_destroy(&a);
	ww_mutex_destroy(&b);
}

Test(ww_mutex, younger_context_holding_locks_dies_with_edeadlk)
{
	struct ww_mutex a, b;
	struct ww_acquire_ctx young;
	struct ctx_worker old = { .first = &a };
	pthread_t t;

	ww_mutex_init(&a, &test_ww_class);
	ww_mutex_init(&b, &test_ww_class);
	cr_assert_eq(pthread_create(&t, NULL, ctx_worker_thread, &old), 0);
	wait_for_int(&old.holding, 1);
	ww_acquire_init(&young, &test_ww_class);
	cr_assert_eq(ww_mutex_lock(&b, &young), 0);

	cr_assert_eq(ww_mutex_lock(&a, &young), -EDEADLK);
	cr_assert_eq(young.contending_lock, &a, "the context must record the contended lock");
	cr_assert_eq(young.acquired, 1, "dying changes nothing we hold");
	cr_assert(ww_mutex_is_owned_by_me(&b));
	cr_assert_not(ww_mutex_is_owned_by_me(&a));

	/* back off: drop everything, wait for the contended lock, then take the rest */
	ww_mutex_unlock(&b);
	store_int(&old.release, 1);
	ww_mutex_lock_slow(&a, &young);
	cr_assert_null(young.contending_lock);
	cr_assert_eq(ww_mutex_lock(&b, &young), 0);
	cr_assert_eq(young.acquired, 2);
	pthread_join(t, NULL);
	ww_mutex_unlock(&a);
	ww_mutex_unlock(&b);
	ww_acquire_fini(&young);
	ww_mutex_destroy(&a);
	ww_mutex_destroy(&b);
}

Test(ww_mutex, context_holding_nothing_waits_instead_of_dying)
{
	struct ww_mutex a;
	struct ww_acquire_ctx young;
	struct ctx_worker old = { .first = &a };
	pthread_t t;

	ww_mutex_init(&a, &test_ww_class);
	cr_assert_eq(pthread_create(&t, NULL, ctx_worker_thread, &old), 0);
	wait_for_int(&old.holding, 1);
	ww_acquire_init(&young, &test_ww_class);
	cr_assert_gt(young.stamp, old.stamp);
	store_int(&old.release, 1);
	cr_assert_eq(ww_mutex_lock(&a, &young), 0, "a context with no locks must wait");
	cr_assert_eq(young.acquired, 1);
	pthread_join(t, NULL);
	ww_mutex_unlock(&a);
	ww_acquire_fini(&young);
	ww_mutex_destroy(&a);
}

/*
 * The holder has no context, so a younger context holding locks may wait on
 * it; but once an older context queues in front, the younger one would wait
 * for an older holder-to-be: it must die.
 */
Test(ww_mutex, younger_waiter_dies_when_older_context_queues_ahead)
{
	struct ww_mutex a, x, y;
	struct ctx_worker old = { .first = &x, .second = &a };
	struct ctx_worker young = { .first = &y, .second = &a };
	pthread_t to, ty;

	ww_mutex_init(&a, &test_ww_class);
	ww_mutex_init(&x, &test_ww_class);
	ww_mutex_init(&y, &test_ww_class);
	cr_assert_eq(ww_mutex_lock(&a, NULL), 0);

	cr_assert_eq(pthread_create(&to, NULL, ctx_worker_thread, &old), 0);
	wait_for_int(&old.holding, 1);
	cr_assert_eq(pthread_create(&ty, NULL, ctx_worker_thread, &young), 0);
	wait_for_int(&young.holding, 1);
	cr_assert_gt(young.stamp, old.stamp);

	store_int(&young.go, 1);
	settle();
	cr_assert_eq(load_int(&young.done), 0, "waiting on a context-less holder is allowed");
	store_int(&old.go, 1);
	wait_for_int(&young.done, 1);
	cr_assert_eq(young.ret, -EDEADLK, "an older context queued ahead: the younger must die");
	cr_assert_eq(load_int(&old.done), 0);

	ww_mutex_unlock(&a);
	wait_for_int(&old.done, 1);
	cr_assert_eq(old.ret, 0);
	store_int(&old.release, 1);
	store_int(&young.release, 1);
	pthread_join(to, NULL);
	pthread_join(ty, NULL);
	cr_assert_not(ww_mutex_is_locked(&a));
	ww_mutex_destroy(&a);
	ww_mutex_destroy(&x);
	ww_mutex_destroy(&y);
}

Test(ww_mutex, younger_context_dies_when_it_finds_an_older_waiter)
{
	struct ww_mutex a, x, y;
	struct ctx_worker old = { .first = &x, .second = &a };
	struct ctx_worker young = { .first = &y, .second = &a };
	pthread_t to, ty;

	ww_mutex_init(&a, &test_ww_class);
	ww_mutex_init(&x, &test_ww_class);
	ww_mutex_init(&y, &test_ww_class);
	cr_assert_eq(ww_mutex_lock(&a, NULL), 0);
	cr_assert_eq(pthread_create(&to, NULL, ctx_worker_thread, &old), 0);
	wait_for_int(&old.holding, 1);
	cr_assert_eq(pthread_create(&ty, NULL, ctx_worker_thread, &young), 0);
	wait_for_int(&young.holding, 1);

	store_int(&old.go, 1);
	settle(); /* old now sleeps on a */
	store_int(&young.go, 1);
	wait_for_int(&young.done, 1);
	cr_assert_eq(young.ret, -EDEADLK);

	ww_mutex_unlock(&a);
	wait_for_int(&old.done, 1);
	cr_assert_eq(old.ret, 0);
	store_int(&old.release, 1);
	store_int(&young.release, 1);
	pthread_join(to, NULL);
	pthread_join(ty, NULL);
	ww_mutex_destroy(&a);
	ww_mutex_destroy(&x);
	ww_mutex_destroy(&y);
}

/* test-ww_mutex "abba": two contexts take a, b in opposite orders */
static void run_abba(bool resolve)
{
	struct ww_mutex a, b;
	struct ctx_worker w1 = { .first = &a, .second = &b, .back_off = resolve };
	struct ctx_worker w2 = { .first = &b, .second = &a, .back_off = resolve };
	pthread_t t1, t2;

	ww_mutex_init(&a, &test_ww_class);
	ww_mutex_init(&b, &test_ww_class);
	cr_assert_eq(pthread_create(&t1, NULL, ctx_worker_thread, &w1), 0);
	wait_for_int(&w1.holding, 1);
	cr_assert_eq(pthread_create(&t2, NULL, ctx_worker_thread, &w2), 0);
	wait_for_int(&w2.holding, 1);
	store_int(&w1.go, 1);
	store_int(&w2.go, 1);

	/* w2 is younger: it dies, whatever the timing */
	if (resolve) {
		/* w2 backs off and sleeps on a, which w1 holds: w1 gets b first */
		wait_for_int(&w1.done, 1);
		cr_assert_eq(w1.ret, 0);
		cr_assert_eq(load_int(&w2.done), 0);
		store_int(&w1.release, 1);
		wait_for_int(&w2.done, 1);
		cr_assert_eq(w2.ret, -EDEADLK, "the younger context of an ABBA must die");
		store_int(&w2.release, 1);
	} else {
		/* without resolution w2 gives up, and w1 gets through once w2 lets go */
		wait_for_int(&w2.done, 1);
		cr_assert_eq(w2.ret, -EDEADLK, "the younger context of an ABBA must die");
		store_int(&w2.release, 1);
		wait_for_int(&w1.done, 1);
		cr_assert_eq(w1.ret, 0, "the older context must get through");
		store_int(&w1.release, 1);
	}
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	cr_assert_not(ww_mutex_is_locked(&a));
	cr_assert_not(ww_mutex_is_locked(&b));
	ww_mutex_destroy(&a);
	ww_mutex_destroy(&b);
}

Test(ww_mutex, abba_without_resolution_younger_gets_edeadlk)
{
	run_abba(false);
}

Test(ww_mutex, abba_with_backoff_resolution_both_complete)
{
	run_abba(true);
}

/* test-ww_mutex "cycle": worker i holds its own lock and wants worker i+1's */
#define CYCLE_N 6

struct cycle {
	struct ww_mutex locks[CYCLE_N];
	pthread_barrier_t all_hold;
	int ret[CYCLE_N];
	int died[CYCLE_N];
};

struct cycle_arg {
	struct cycle *c;
	int i;
};

static void *cycle_thread(void *arg)
{
	struct cycle_arg *ca = arg;
	struct cycle *c = ca->c;
	struct ww_mutex *mine = &c->locks[ca->i], *next = &c->locks[(ca->i + 1) % CYCLE_N];
	struct ww_acquire_ctx ctx;
	int ret;

	ww_acquire_init(&ctx, &test_ww_class);
	ww_mutex_lock(mine, &ctx);
	pthread_barrier_wait(&c->all_hold);
	ret = ww_mutex_lock(next, &ctx);
	while (ret == -EDEADLK) {
		c->died[ca->i]++;
		ww_mutex_unlock(mine);
		ww_mutex_lock_slow(next, &ctx);
		ret = ww_mutex_lock(mine, &ctx);
		if (ret == -EDEADLK) {
			struct ww_mutex *t = mine;

			mine = next;
			next = t;
		}
	}
	c->ret[ca->i] = ret;
	ww_mutex_unlock(next);
	ww_mutex_unlock(mine);
	ww_acquire_fini(&ctx);
	return NULL;
}

Test(ww_mutex, cycle_of_contexts_resolves_by_backoff)
{
	struct cycle c = { 0 };
	struct cycle_arg args[CYCLE_N];
	pthread_t t[CYCLE_N];
	int deaths = 0;

	pthread_barrier_init(&c.all_hold, NULL, CYCLE_N);
	for (int i = 0; i < CYCLE_N; i++)
		ww_mutex_init(&c.locks[i], &test_ww_class);
	for (int i = 0; i < CYCLE_N; i++) {
		args[i] = (struct cycle_arg){ .c = &c, .i = i };
		cr_assert_eq(pthread_create(&t[i], NULL, cycle_thread, &args[i]), 0);
	}
	for (int i = 0; i < CYCLE_N; i++) {
		pthread_join(t[i], NULL);
		cr_assert_eq(c.ret[i], 0, "worker %d failed: %d", i, c.ret[i]);
		deaths += c.died[i];
	}
	cr_assert_geq(deaths, 1, "a full cycle needs at least one back-off");
	for (int i = 0; i < CYCLE_N; i++) {
		cr_assert_not(ww_mutex_is_locked(&c.locks[i]));
		ww_mutex_destroy(&c.locks[i]);
	}
	pthread_barrier_destroy(&c.all_hold);
}

static void on_sigusr1(int sig)
{
	(void)sig;
}

struct sig_locker {
	struct ww_mutex *lock;
	bool slow;
	int done; /* atomic */
	int ret;
	bool owned;
};

static void *sig_locker_thread(void *arg)
{
	struct sig_locker *l = arg;
	struct ww_acquire_ctx ctx;

	ww_acquire_init(&ctx, &test_ww_class);
	if (l->slow)
		l->ret = ww_mutex_lock_slow_interruptible(l->lock, &ctx);
	else
		l->ret = ww_mutex_lock_interruptible(l->lock, &ctx);
	l->owned = ww_mutex_is_owned_by_me(l->lock);
	if (l->ret == 0)
		ww_mutex_unlock(l->lock);
	ww_acquire_fini(&ctx);
	store_int(&l->done, 1);
	return NULL;
}

static void check_interrupted(bool slow)
{
	struct sigaction sa = { .sa_handler = on_sigusr1 }, old_sa;
	struct sig_locker l = { .slow = slow };
	struct ww_mutex a;
	pthread_t t;

	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: the sleep returns EINTR */
	cr_assert_eq(sigaction(SIGUSR1, &sa, &old_sa), 0);
	ww_mutex_init(&a, &test_ww_class);
	l.lock = &a;
	cr_assert_eq(ww_mutex_lock(&a, NULL), 0);
	cr_assert_eq(pthread_create(&t, NULL, sig_locker_thread, &l), 0);
	settle();
	/* a signal may land before the thread sleeps: repeat until it is seen */
	while (!load_int(&l.done)) {
		pthread_kill(t, SIGUSR1);
		settle();
	}
	pthread_join(t, NULL);
	cr_assert_eq(l.ret, -EINTR);
	cr_assert_not(l.owned);
	cr_assert(ww_mutex_is_owned_by_me(&a), "an interrupted waiter must not disturb the holder");
	ww_mutex_unlock(&a);
	cr_assert_not(ww_mutex_is_locked(&a));
	/* the interrupted waiter left the queue: the mutex works as new */
	cr_assert(ww_mutex_trylock(&a, NULL));
	ww_mutex_unlock(&a);
	ww_mutex_destroy(&a);
	sigaction(SIGUSR1, &old_sa, NULL);
}

Test(ww_mutex, interruptible_lock_returns_eintr_on_signal)
{
	check_interrupted(false);
}

Test(ww_mutex, interruptible_lock_slow_returns_eintr_on_signal)
{
	check_interrupted(true);
}

Test(ww_mutex, uninterruptible_lock_ignores_signals)
{
	struct sigaction sa = { .sa_handler = on_sigusr1 }, old_sa;
	struct locker l = { .use_ctx = true };
	struct ww_mutex a;
	pthread_t t;

	sigemptyset(&sa.sa_mask);
	cr_assert_eq(sigaction(SIGUSR1, &sa, &old_sa), 0);
	ww_mutex_init(&a, &test_ww_class);
	l.lock = &a;
	cr_assert_eq(ww_mutex_lock(&a, NULL), 0);
	cr_assert_eq(pthread_create(&t, NULL, locker_thread, &l), 0);
	wait_for_int(&l.started, 1);
	for (int i = 0; i < 5; i++) {
		settle();
		pthread_kill(t, SIGUSR1);
	}
	settle();
	cr_assert_eq(load_int(&l.done), 0, "a plain lock must not give up on a signal");
	ww_mutex_unlock(&a);
	pthread_join(t, NULL);
	cr_assert_eq(l.ret, 0);
	ww_mutex_destroy(&a);
	sigaction(SIGUSR1, &old_sa, NULL);
}

Test(ww_mutex, waiters_get_the_mutex_in_stamp_order)
{
	struct ww_mutex a;
	struct ctx_worker w[3] = {
		{ .second = &a },
		{ .second = &a },
		{ .second = &a },
	};
	pthread_t t[3];

	ww_mutex_init(&a, &test_ww_class);
	cr_assert_eq(ww_mutex_lock(&a, NULL), 0);
	/* start them youngest-last but queue them youngest-first */
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(pthread_create(&t[i], NULL, ctx_worker_thread, &w[i]), 0);
		wait_for_int(&w[i].holding, 1);
	}
	for (int i = 2; i >= 0; i--) {
		store_int(&w[i].go, 1);
		settle();
	}
	ww_mutex_unlock(&a);
	for (int i = 0; i < 3; i++) {
		wait_for_int(&w[i].done, 1);
		for (int j = i + 1; j < 3; j++)
			cr_assert_eq(load_int(&w[j].done), 0, "context %d overtook an older one",
				     j);
		cr_assert_eq(w[i].ret, 0);
		store_int(&w[i].release, 1);
		pthread_join(t[i], NULL);
	}
	ww_mutex_destroy(&a);
}

#if DEVMEM_DEBUG
Test(ww_mutex, locking_after_acquire_done_is_a_bug, .signal = SIGABRT)
{
	struct ww_acquire_ctx ctx;
	struct ww_mutex a, b;

	ww_mutex_init(&a, &test_ww_class);
	ww_mutex_init(&b, &test_ww_class);
	ww_acquire_init(&ctx, &test_ww_class);
	ww_mutex_lock(&a, &ctx);
	ww_acquire_done(&ctx);
	ww_mutex_lock(&b, &ctx);
}

Test(ww_mutex, acquire_done_twice_is_a_bug, .signal = SIGABRT)
{
	struct ww_acquire_ctx ctx;

	ww_acquire_init(&ctx, &test_ww_class);
	ww_acquire_done(&ctx);
	ww_acquire_done(&ctx);
}

Test(ww_mutex, acquire_fini_with_locks_held_is_a_bug, .signal = SIGABRT)
{
	struct ww_acquire_ctx ctx;
	struct ww_mutex a;

	ww_mutex_init(&a, &test_ww_class);
	ww_acquire_init(&ctx, &test_ww_class);
	ww_mutex_lock(&a, &ctx);
	ww_acquire_fini(&ctx);
}

Test(ww_mutex, acquire_fini_twice_is_a_bug, .signal = SIGABRT)
{
	struct ww_acquire_ctx ctx;

	ww_acquire_init(&ctx, &test_ww_class);
	ww_acquire_fini(&ctx);
	ww_acquire_fini(&ctx);
}

Test(ww_mutex, lock_slow_with_locks_held_is_a_bug, .signal = SIGABRT)
{
	struct ww_acquire_ctx ctx;
	struct ww_mutex a, b;

	ww_mutex_init(&a, &test_ww_class);
	ww_mutex_init(&b, &test_ww_class);
	ww_acquire_init(&ctx, &test_ww_class);
	ww_mutex_lock(&a, &ctx);
	ww_mutex_lock_slow(&b, &ctx);
}

Test(ww_mutex, recursive_plain_lock_is_a_bug, .signal = SIGABRT)
{
	struct ww_mutex a;

	ww_mutex_init(&a, &test_ww_class);
	ww_mutex_lock(&a, NULL);
	ww_mutex_lock(&a, NULL);
}

Test(ww_mutex, unlock_by_non_holder_is_a_bug, .signal = SIGABRT)
{
	struct ww_mutex a;

	ww_mutex_init(&a, &test_ww_class);
	ww_mutex_unlock(&a);
}
#else
Test(ww_mutex, bug_checks_need_a_debug_build)
{
	cr_skip_test("assertions are compiled out (NDEBUG): the abort tests cannot run");
}
#endif
