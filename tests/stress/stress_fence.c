// SPDX-License-Identifier: MIT
/*
 * Races between signalling a fence and everything else done to it, after the
 * kernel's race_signal_callback selftest.
 *
 * Phase 1: adder threads add callbacks to the current fence (and sometimes
 * remove them again, or wait) while signaller threads race to signal it and
 * replace it with a fresh one. Checked as it goes:
 *  - add returns 0 (then the callback runs exactly once, unless a remove
 *    returned true, and then never) or -ENOENT (and it never runs);
 *  - remove returning false means the callback has already finished;
 *  - exactly one signal per fence succeeds, the others get -EINVAL;
 *  - at release, every fence ran exactly the callbacks that stayed queued.
 *
 * Phase 2: fence arrays whose members are signalled from several threads at
 * once, with and without errors, all and any: the array signals exactly once
 * and its status is 1 or one of the member errors.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "devmem/dma-fence.h"
#include "lib/compiler.h"
#include "stress.h"

#define NAME "stress_fence"
#define ADDERS 4
#define SIGNALLERS 2
#define MEMBERS 4

struct race_fence {
	struct dma_fence base;
	int signals_ok; /* atomic */
	int added; /* atomic: callbacks queued by add */
	int removed; /* atomic: callbacks taken back by remove */
	int ran; /* atomic: callbacks run */
};

struct race_cb {
	struct dma_fence_cb cb;
	struct race_fence *fence;
	int runs; /* atomic */
};

static int stop; /* atomic */
static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct race_fence *current; /* protected by current_lock; holds a reference */
static uint64_t context;
static uint64_t seqno; /* atomic */
static uint64_t n_fences, n_added, n_enoent, n_removed, n_signal_lost; /* atomic */

static const char *race_name(struct dma_fence *f)
{
	return "race";
}

static void race_release(struct dma_fence *f)
{
	struct race_fence *rf = container_of(f, struct race_fence, base);
	int ok = __atomic_load_n(&rf->signals_ok, __ATOMIC_RELAXED);
	int added = __atomic_load_n(&rf->added, __ATOMIC_RELAXED);
	int removed = __atomic_load_n(&rf->removed, __ATOMIC_RELAXED);
	int ran = __atomic_load_n(&rf->ran, __ATOMIC_RELAXED);

	stress_check(NAME, ok == 1, "fence %llu signalled successfully %d times",
		     (unsigned long long)f->seqno, ok);
	stress_check(NAME, ran == added - removed, "fence %llu: %d added, %d removed, %d ran",
		     (unsigned long long)f->seqno, added, removed, ran);
	free(rf);
}

static const struct dma_fence_ops race_ops = {
	.get_driver_name = race_name,
	.get_timeline_name = race_name,
	.release = race_release,
};

static struct race_fence *race_fence_new(void)
{
	struct race_fence *rf = calloc(1, sizeof(*rf));

	stress_check(NAME, rf, "out of memory");
	dma_fence_init(&rf->base, &race_ops, context,
		       __atomic_add_fetch(&seqno, 1, __ATOMIC_RELAXED));
	__atomic_fetch_add(&n_fences, 1, __ATOMIC_RELAXED);
	return rf;
}

static struct race_fence *get_current(void)
{
	struct race_fence *rf;

	pthread_mutex_lock(&current_lock);
	rf = current;
	dma_fence_get(&rf->base);
	pthread_mutex_unlock(&current_lock);
	return rf;
}

static void race_callback(struct dma_fence *f, struct dma_fence_cb *cb)
{
	struct race_cb *rc = container_of(cb, struct race_cb, cb);

	stress_check(NAME, &rc->fence->base == f, "callback ran for the wrong fence");
	stress_check(NAME, dma_fence_is_signaled(f), "callback ran before the fence signalled");
	__atomic_fetch_add(&rc->runs, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&rc->fence->ran, 1, __ATOMIC_RELAXED);
}

static void spin(uint64_t *rng, unsigned int max)
{
	unsigned int n = stress_rand(rng) % max;

	while (n--)
		__asm__ __volatile__("" ::: "memory");
}

/* Add a callback, then remove it, wait, or let it be; check what happened. */
static void adder_round(uint64_t *rng)
{
	struct race_fence *rf = get_current();
	struct race_cb rc = { .fence = rf };
	int ret, runs, expect = 0;

	spin(rng, 256);
	ret = dma_fence_add_callback(&rf->base, &rc.cb, race_callback);
	if (ret == -ENOENT) {
		__atomic_fetch_add(&n_enoent, 1, __ATOMIC_RELAXED);
		stress_check(NAME, dma_fence_is_signaled(&rf->base), "-ENOENT while unsignalled");
		/* Give the signaller the CPU to publish the next fence. */
		sched_yield();
		goto out;
	}
	stress_check(NAME, ret == 0, "add_callback returned %d", ret);
	__atomic_fetch_add(&rf->added, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&n_added, 1, __ATOMIC_RELAXED);

	switch (stress_rand(rng) % 3) {
	case 0: /* remove at once, racing the signal */
		break;
	case 1: /* after a short while */
		spin(rng, 2048);
		break;
	case 2: /* after the signal: wait, then remove must say "already ran" */
		stress_check(NAME, dma_fence_wait(&rf->base, false) == 0, "wait failed");
		break;
	}
	if (dma_fence_remove_callback(&rf->base, &rc.cb)) {
		__atomic_fetch_add(&rf->removed, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&n_removed, 1, __ATOMIC_RELAXED);
		/* Taken back: it must not run, not even once the fence signals. */
		dma_fence_wait(&rf->base, false);
		expect = 0;
	} else {
		/* Not pending any more: it has run, and run to the end. */
		expect = 1;
	}
out:
	runs = __atomic_load_n(&rc.runs, __ATOMIC_RELAXED);
	stress_check(NAME, runs == expect, "callback ran %d times, expected %d", runs, expect);
	dma_fence_put(&rf->base);
}

static void *adder_thread(void *arg)
{
	uint64_t rng = (uintptr_t)arg * 0x9E3779B97F4A7C15ULL + 1;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED))
		adder_round(&rng);
	return NULL;
}

/* Replace the published fence once it has signalled. */
static void rotate(struct race_fence *signalled)
{
	struct race_fence *old = NULL, *fresh = race_fence_new();

	pthread_mutex_lock(&current_lock);
	if (current == signalled) {
		old = current;
		current = fresh;
		fresh = NULL;
	}
	pthread_mutex_unlock(&current_lock);
	if (fresh) {
		/* Another signaller rotated first: this one was never published. */
		dma_fence_signal(&fresh->base);
		__atomic_fetch_add(&fresh->signals_ok, 1, __ATOMIC_RELAXED);
		dma_fence_put(&fresh->base);
	}
	dma_fence_put(old ? &old->base : NULL);
}

/* Let a few callbacks queue up first, so that adds race the signal, not each other. */
static void wait_for_adders(struct race_fence *rf, uint64_t *rng)
{
	int target = stress_rand(rng) % (ADDERS + 1);
	int budget = 64;

	/* Yield, not spin: the adders need the CPU on small machines. */
	while (__atomic_load_n(&rf->added, __ATOMIC_RELAXED) < target && budget--)
		sched_yield();
	spin(rng, 1024);
}

static void *signaller_thread(void *arg)
{
	uint64_t rng = (uintptr_t)arg * 0xBF58476D1CE4E5B9ULL + 7;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		struct race_fence *rf = get_current();
		int ret;

		wait_for_adders(rf, &rng);
		ret = dma_fence_signal(&rf->base);
		if (ret == 0) {
			__atomic_fetch_add(&rf->signals_ok, 1, __ATOMIC_RELAXED);
			rotate(rf);
		} else {
			stress_check(NAME, ret == -EINVAL, "signal returned %d", ret);
			__atomic_fetch_add(&n_signal_lost, 1, __ATOMIC_RELAXED);
		}
		dma_fence_put(&rf->base);
	}
	return NULL;
}

static void phase_callbacks(double seconds)
{
	pthread_t adders[ADDERS], signallers[SIGNALLERS];
	double end = stress_now() + seconds;
	struct race_fence *last;
	uintptr_t i;

	context = dma_fence_context_alloc(1);
	current = race_fence_new();
	for (i = 0; i < ADDERS; i++)
		pthread_create(&adders[i], NULL, adder_thread, (void *)(i + 1));
	for (i = 0; i < SIGNALLERS; i++)
		pthread_create(&signallers[i], NULL, signaller_thread, (void *)(i + 1));
	while (stress_now() < end)
		usleep(10000);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < SIGNALLERS; i++)
		pthread_join(signallers[i], NULL);
	/* Adders may be waiting on the last fence: signal it so they finish. */
	last = current;
	if (dma_fence_signal(&last->base) == 0)
		__atomic_fetch_add(&last->signals_ok, 1, __ATOMIC_RELAXED);
	for (i = 0; i < ADDERS; i++)
		pthread_join(adders[i], NULL);
	dma_fence_put(&last->base);
	current = NULL;
}

/* Phase 2: arrays signalled by several threads at once. */

struct array_round {
	struct dma_fence *members[MEMBERS]; /* our references, signalled by the workers */
	int errors[MEMBERS];
	struct dma_fence_array *array;
};

static struct array_round round_;
static pthread_barrier_t start_barrier, end_barrier;

static const struct dma_fence_ops member_ops = {
	.get_driver_name = race_name,
	.get_timeline_name = race_name,
};

static void *member_thread(void *arg)
{
	uintptr_t idx = (uintptr_t)arg;
	uint64_t rng = idx * 0x94D049BB133111EBULL + 3;

	for (;;) {
		pthread_barrier_wait(&start_barrier);
		if (__atomic_load_n(&stop, __ATOMIC_RELAXED))
			return NULL;
		spin(&rng, 4096);
		if (round_.errors[idx])
			dma_fence_set_error(round_.members[idx], round_.errors[idx]);
		stress_check(NAME, dma_fence_signal(round_.members[idx]) == 0, "member signal");
		/* One member thread also waits on the array, racing the others' signals. */
		if (idx == 0)
			stress_check(NAME, dma_fence_wait(&round_.array->base, false) == 0,
				     "array wait");
		pthread_barrier_wait(&end_barrier);
	}
}

struct array_cb {
	struct dma_fence_cb cb;
	int runs; /* atomic */
};

static void array_cb_func(struct dma_fence *f, struct dma_fence_cb *cb)
{
	struct array_cb *acb = container_of(cb, struct array_cb, cb);

	__atomic_fetch_add(&acb->runs, 1, __ATOMIC_RELAXED);
}

static bool is_member_error(int status, const int *errors)
{
	int i;

	for (i = 0; i < MEMBERS; i++)
		if (errors[i] && status == errors[i])
			return true;
	return false;
}

/* All: the first member error, or 1 if there was none. Any: the first member's status. */
static bool status_ok(int status, const int *errors, bool any)
{
	int i, any_error = 0;

	for (i = 0; i < MEMBERS; i++)
		any_error |= errors[i];
	if (status == 1)
		return any || !any_error;
	return is_member_error(status, errors);
}

static void array_round(uint64_t *rng, uint64_t ctx)
{
	struct dma_fence **fences = calloc(MEMBERS, sizeof(*fences));
	struct array_cb acb = { .runs = 0 };
	bool any = stress_rand(rng) & 1, with_cb = stress_rand(rng) & 1;
	int i, status, runs;

	stress_check(NAME, fences, "out of memory");
	for (i = 0; i < MEMBERS; i++) {
		fences[i] = calloc(1, sizeof(struct dma_fence));
		stress_check(NAME, fences[i], "out of memory");
		dma_fence_init(fences[i], &member_ops, ctx, 1);
		round_.members[i] = dma_fence_get(fences[i]);
		round_.errors[i] = stress_rand(rng) % 4 == 0 ? -(int)(1 + i) : 0;
	}
	round_.array = dma_fence_array_create(MEMBERS, fences, ctx + 1, 1, any);
	stress_check(NAME, round_.array, "array create");
	if (with_cb)
		stress_check(NAME,
			     !dma_fence_add_callback(&round_.array->base, &acb.cb, array_cb_func),
			     "array add_callback");

	pthread_barrier_wait(&start_barrier);
	pthread_barrier_wait(&end_barrier);

	status = dma_fence_get_status(&round_.array->base);
	stress_check(NAME, status_ok(status, round_.errors, any), "array(%s) status %d",
		     any ? "any" : "all", status);
	if (with_cb)
		stress_check(NAME, !dma_fence_remove_callback(&round_.array->base, &acb.cb),
			     "array callback still pending after the array signalled");
	runs = __atomic_load_n(&acb.runs, __ATOMIC_RELAXED);
	stress_check(NAME, runs == with_cb, "array callback ran %d times", runs);
	dma_fence_put(&round_.array->base);
	for (i = 0; i < MEMBERS; i++)
		dma_fence_put(round_.members[i]);
}

static uint64_t phase_arrays(double seconds)
{
	pthread_t workers[MEMBERS];
	double end = stress_now() + seconds;
	uint64_t rng = 42, ctx = dma_fence_context_alloc(2), rounds = 0;
	uintptr_t i;

	__atomic_store_n(&stop, 0, __ATOMIC_RELAXED);
	pthread_barrier_init(&start_barrier, NULL, MEMBERS + 1);
	pthread_barrier_init(&end_barrier, NULL, MEMBERS + 1);
	for (i = 0; i < MEMBERS; i++)
		pthread_create(&workers[i], NULL, member_thread, (void *)i);
	while (stress_now() < end) {
		array_round(&rng, ctx);
		rounds++;
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_barrier_wait(&start_barrier);
	for (i = 0; i < MEMBERS; i++)
		pthread_join(workers[i], NULL);
	pthread_barrier_destroy(&start_barrier);
	pthread_barrier_destroy(&end_barrier);
	return rounds;
}

int main(void)
{
	double seconds = stress_seconds();
	uint64_t rounds;

	phase_callbacks(seconds * 0.6);
	rounds = phase_arrays(seconds * 0.4);

	stress_check(NAME, n_added > 0 && n_enoent > 0, "no race seen (%llu added, %llu -ENOENT)",
		     (unsigned long long)n_added, (unsigned long long)n_enoent);
	printf("%s: ok %llu fences, %llu callbacks added (%llu removed), %llu -ENOENT, "
	       "%llu lost signal races, %llu array rounds\n",
	       NAME, (unsigned long long)n_fences, (unsigned long long)n_added,
	       (unsigned long long)n_removed, (unsigned long long)n_enoent,
	       (unsigned long long)n_signal_lost, (unsigned long long)rounds);
	return 0;
}
