// SPDX-License-Identifier: MIT
/*
 * ww_mutex under contention: CTX_THREADS threads each lock a random set of
 * LOCKS_PER_ROUND of NUM_OBJS objects, in random order, under one acquire
 * context with the -EDEADLK back-off (unlock all, lock_slow the contended
 * one, retry), while PLAIN_THREADS take single objects without a context.
 *
 * Checked: mutual exclusion on every object (an atomic holder flag that must
 * be 0 when we take the lock), no deadlock (a watchdog), no starvation (every
 * thread finishes at least MIN_ROUNDS rounds) and the wait-die bookkeeping
 * (acquired counts, contending_lock).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "devmem/ww-mutex.h"
#include "stress.h"

#define NAME "stress_ww_mutex"
#define NUM_OBJS 64
#define LOCKS_PER_ROUND 16
#define CTX_THREADS 8
#define PLAIN_THREADS 2
#define MIN_ROUNDS 5
#define WATCHDOG_EXTRA_S 20.0

static DEFINE_WW_CLASS(stress_class);

struct obj {
	struct ww_mutex lock;
	int holder; /* atomic: 1 while someone is inside */
	uint64_t value; /* protected by lock */
};

static struct obj objs[NUM_OBJS];
static double deadline;
static int stop; /* atomic */

struct worker {
	pthread_t thread;
	unsigned int id;
	uint64_t rounds;
	uint64_t backoffs;
	uint64_t max_backoffs; /* in one round */
	uint64_t increments;
	int finished; /* atomic */
};

static void enter(struct obj *o)
{
	stress_check(NAME, __atomic_exchange_n(&o->holder, 1, __ATOMIC_ACQ_REL) == 0,
		     "two holders inside object %ld", (long)(o - objs));
	stress_check(NAME, ww_mutex_is_owned_by_me(&o->lock), "lock not owned after locking");
}

static void leave(struct obj *o)
{
	__atomic_store_n(&o->holder, 0, __ATOMIC_RELEASE);
}

static void pick(uint64_t *rng, unsigned int *set)
{
	unsigned int all[NUM_OBJS];

	for (unsigned int i = 0; i < NUM_OBJS; i++)
		all[i] = i;
	for (unsigned int i = 0; i < LOCKS_PER_ROUND; i++) {
		unsigned int j = i + stress_rand(rng) % (NUM_OBJS - i), t = all[i];

		all[i] = all[j];
		all[j] = t;
		set[i] = all[i];
	}
}

static void unlock_all(struct ww_acquire_ctx *ctx, struct obj **held, unsigned int *nheld)
{
	while (*nheld) {
		struct obj *o = held[--*nheld];

		leave(o);
		ww_mutex_unlock(&o->lock);
	}
	stress_check(NAME, ctx->acquired == 0, "acquired %u after unlocking all", ctx->acquired);
}

/* One round: lock the whole set with the back-off, touch it, unlock it. */
static void ctx_round(struct worker *w, uint64_t *rng)
{
	unsigned int set[LOCKS_PER_ROUND], nheld = 0, backoffs = 0;
	struct obj *held[LOCKS_PER_ROUND], *contended = NULL;
	struct ww_acquire_ctx ctx;

	pick(rng, set);
	ww_acquire_init(&ctx, &stress_class);
retry:
	for (unsigned int i = 0; i < LOCKS_PER_ROUND; i++) {
		struct obj *o = &objs[set[i]];
		int ret;

		if (o == contended) {
			contended = NULL;
			continue;
		}
		ret = ww_mutex_lock(&o->lock, &ctx);
		if (ret == -EDEADLK) {
			stress_check(NAME, ctx.contending_lock == &o->lock,
				     "contending_lock not set");
			stress_check(NAME, nheld > 0, "died while holding nothing");
			unlock_all(&ctx, held, &nheld);
			backoffs++;
			ww_mutex_lock_slow(&o->lock, &ctx);
			enter(o);
			held[nheld++] = o;
			contended = o;
			goto retry;
		}
		stress_check(NAME, ret == 0, "ww_mutex_lock returned %d", ret);
		enter(o);
		held[nheld++] = o;
	}
	stress_check(NAME, nheld == LOCKS_PER_ROUND && ctx.acquired == LOCKS_PER_ROUND,
		     "holding %u locks, acquired %u", nheld, ctx.acquired);
	ww_acquire_done(&ctx);
	for (unsigned int i = 0; i < nheld; i++)
		held[i]->value++;
	w->increments += nheld;
	unlock_all(&ctx, held, &nheld);
	ww_acquire_fini(&ctx);

	w->backoffs += backoffs;
	if (backoffs > w->max_backoffs)
		w->max_backoffs = backoffs;
	w->rounds++;
}

static bool keep_going(struct worker *w)
{
	/* run until time is up, but always long enough to show nobody starves */
	if (w->rounds < MIN_ROUNDS)
		return true;
	return !__atomic_load_n(&stop, __ATOMIC_RELAXED) && stress_now() < deadline;
}

static void *ctx_thread(void *arg)
{
	struct worker *w = arg;
	uint64_t rng = 0x9E3779B97F4A7C15ULL * (w->id + 1);

	while (keep_going(w))
		ctx_round(w, &rng);
	__atomic_store_n(&w->finished, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *plain_thread(void *arg)
{
	struct worker *w = arg;
	uint64_t rng = 0xD1B54A32D192ED03ULL * (w->id + 1);

	while (keep_going(w)) {
		struct obj *o = &objs[stress_rand(&rng) % NUM_OBJS];

		if (stress_rand(&rng) & 1) {
			stress_check(NAME, ww_mutex_lock(&o->lock, NULL) == 0, "plain lock failed");
		} else if (!ww_mutex_trylock(&o->lock, NULL)) {
			continue;
		}
		enter(o);
		o->value++;
		w->increments++;
		leave(o);
		ww_mutex_unlock(&o->lock);
		w->rounds++;
	}
	__atomic_store_n(&w->finished, 1, __ATOMIC_RELEASE);
	return NULL;
}

int main(void)
{
	struct worker workers[CTX_THREADS + PLAIN_THREADS];
	uint64_t rounds = 0, backoffs = 0, max_backoffs = 0, increments = 0, total = 0;
	double start = stress_now(), watchdog;

	deadline = start + stress_seconds();
	watchdog = deadline + WATCHDOG_EXTRA_S;
	memset(workers, 0, sizeof(workers));
	for (unsigned int i = 0; i < NUM_OBJS; i++)
		ww_mutex_init(&objs[i].lock, &stress_class);
	for (unsigned int i = 0; i < CTX_THREADS + PLAIN_THREADS; i++) {
		workers[i].id = i;
		stress_check(NAME,
			     pthread_create(&workers[i].thread, NULL,
					    i < CTX_THREADS ? ctx_thread : plain_thread,
					    &workers[i]) == 0,
			     "pthread_create");
	}
	for (unsigned int i = 0; i < CTX_THREADS + PLAIN_THREADS; i++) {
		struct timespec ts = { .tv_sec = 0, .tv_nsec = 10 * 1000 * 1000 };

		while (!__atomic_load_n(&workers[i].finished, __ATOMIC_ACQUIRE)) {
			stress_check(
				NAME, stress_now() < watchdog,
				"thread %u stuck after %.0f s (deadlock or starvation): %lu rounds",
				i, stress_now() - start, (unsigned long)workers[i].rounds);
			nanosleep(&ts, NULL);
		}
		pthread_join(workers[i].thread, NULL);
	}
	for (unsigned int i = 0; i < CTX_THREADS + PLAIN_THREADS; i++) {
		struct worker *w = &workers[i];

		stress_check(NAME, w->rounds >= MIN_ROUNDS, "thread %u starved: %lu rounds", i,
			     (unsigned long)w->rounds);
		rounds += w->rounds;
		backoffs += w->backoffs;
		increments += w->increments;
		if (w->max_backoffs > max_backoffs)
			max_backoffs = w->max_backoffs;
	}
	for (unsigned int i = 0; i < NUM_OBJS; i++) {
		stress_check(NAME, !ww_mutex_is_locked(&objs[i].lock), "object %u left locked", i);
		total += objs[i].value;
		ww_mutex_destroy(&objs[i].lock);
	}
	stress_check(NAME, total == increments, "lost updates: %lu of %lu", (unsigned long)total,
		     (unsigned long)increments);
	printf("%s: ok %lu rounds, %lu back-offs (at most %lu in one round), %d threads, %.1f s\n",
	       NAME, (unsigned long)rounds, (unsigned long)backoffs, (unsigned long)max_backoffs,
	       CTX_THREADS + PLAIN_THREADS, stress_now() - start);
	return 0;
}
