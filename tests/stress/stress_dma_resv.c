// SPDX-License-Identifier: MIT
/*
 * dma_resv readers against a lock holder changing the fences.
 *
 * A writer locks the resv, reserves, adds fences of several contexts with
 * random usages, signals older ones, sometimes drops a whole context
 * (replace_fences with NULL) or grows the list; READERS threads meanwhile
 * iterate without the lock, copy the fences out, test, wait with a zero
 * timeout, build singletons and describe. Every fence a reader gets must be
 * alive (its release poisons it before freeing it), referenced, and of a
 * usage within the one asked for.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "devmem/dma-resv.h"
#include "lib/refcount.h"
#include "stress.h"

#define NAME "stress_dma_resv"
#define READERS 3
#define CONTEXTS 4
#define KEEP_UNSIGNALLED 3 /* per context */
#define FENCE_ALIVE 0xA11CEU
#define FENCE_DEAD 0xDEADU

struct stress_fence {
	struct dma_fence base;
	unsigned int magic; /* atomic: FENCE_ALIVE until released */
};

static struct dma_resv resv;
static int stop; /* atomic */
static uint64_t reader_checks; /* atomic */

static const char *stress_fence_name(struct dma_fence *f)
{
	return "stress";
}

static void stress_fence_release(struct dma_fence *f)
{
	struct stress_fence *sf = (struct stress_fence *)f;

	__atomic_store_n(&sf->magic, FENCE_DEAD, __ATOMIC_RELAXED);
	free(sf);
}

static const struct dma_fence_ops stress_fence_ops = {
	.get_driver_name = stress_fence_name,
	.get_timeline_name = stress_fence_name,
	.release = stress_fence_release,
};

static bool is_stress_fence(struct dma_fence *f)
{
	return f->ops == &stress_fence_ops;
}

static void check_fence(struct dma_fence *f, enum dma_resv_usage got, enum dma_resv_usage asked)
{
	stress_check(NAME, got <= asked, "usage %d returned for a query of %d", got, asked);
	stress_check(NAME, kref_read(&f->refcount) >= 1, "fence with no reference");
	if (is_stress_fence(f))
		stress_check(NAME,
			     __atomic_load_n(&((struct stress_fence *)f)->magic,
					     __ATOMIC_RELAXED) == FENCE_ALIVE,
			     "a reader got a released fence");
	__atomic_fetch_add(&reader_checks, 1, __ATOMIC_RELAXED);
}

static void reader_iterate(enum dma_resv_usage usage)
{
	struct dma_resv_iter cursor;
	struct dma_fence *fence;

	dma_resv_iter_begin(&cursor, &resv, usage);
	dma_resv_for_each_fence_unlocked(&cursor, fence)
		check_fence(fence, dma_resv_iter_usage(&cursor), usage);
	dma_resv_iter_end(&cursor);
}

static void reader_get_fences(enum dma_resv_usage usage)
{
	struct dma_fence **fences;
	unsigned int n;

	stress_check(NAME, dma_resv_get_fences(&resv, usage, &n, &fences) == 0, "get_fences");
	for (unsigned int i = 0; i < n; i++) {
		check_fence(fences[i], DMA_RESV_USAGE_KERNEL, usage);
		dma_fence_put(fences[i]);
	}
	free(fences);
}

static void reader_singleton(enum dma_resv_usage usage)
{
	struct dma_fence *fence;

	stress_check(NAME, dma_resv_get_singleton(&resv, usage, &fence) == 0, "get_singleton");
	dma_fence_put(fence);
}

static void *reader_thread(void *arg)
{
	uint64_t rng = (uintptr_t)arg * 0x9E3779B97F4A7C15ULL + 1;
	char buf[512];

	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		enum dma_resv_usage usage = stress_rand(&rng) % 4;

		switch (stress_rand(&rng) % 8) {
		case 0:
		case 1:
		case 2:
			reader_iterate(usage);
			break;
		case 3:
		case 4:
			reader_get_fences(usage);
			break;
		case 5:
			dma_resv_test_signaled(&resv, usage);
			stress_check(NAME, dma_resv_wait_timeout(&resv, usage, false, 0) >= 0,
				     "wait");
			break;
		case 6:
			reader_singleton(usage);
			break;
		default:
			dma_resv_describe(&resv, buf, sizeof(buf));
			dma_resv_num_fences(&resv);
			break;
		}
	}
	return NULL;
}

struct timeline {
	uint64_t context;
	uint64_t seqno;
	struct dma_fence *pending[KEEP_UNSIGNALLED]; /* our references, oldest first */
	unsigned int npending;
};

static struct dma_fence *new_fence(struct timeline *tl)
{
	struct stress_fence *sf = calloc(1, sizeof(*sf));

	stress_check(NAME, sf, "no memory");
	dma_fence_init(&sf->base, &stress_fence_ops, tl->context, ++tl->seqno);
	__atomic_store_n(&sf->magic, FENCE_ALIVE, __ATOMIC_RELAXED);
	return &sf->base;
}

/* Keep at most KEEP_UNSIGNALLED fences pending per timeline: signal the oldest. */
static void timeline_push(struct timeline *tl, struct dma_fence *f)
{
	if (tl->npending == KEEP_UNSIGNALLED) {
		dma_fence_signal(tl->pending[0]);
		dma_fence_put(tl->pending[0]);
		memmove(tl->pending, tl->pending + 1,
			sizeof(tl->pending[0]) * (KEEP_UNSIGNALLED - 1));
		tl->npending--;
	}
	tl->pending[tl->npending++] = f;
}

static void timeline_flush(struct timeline *tl)
{
	while (tl->npending) {
		struct dma_fence *f = tl->pending[--tl->npending];

		dma_fence_signal(f);
		dma_fence_put(f);
	}
}

static uint64_t writer_round(struct timeline *tls, uint64_t *rng)
{
	unsigned int n = 1 + stress_rand(rng) % 4;
	uint64_t added = 0;

	stress_check(NAME, dma_resv_lock(&resv, NULL) == 0, "lock");
	/* sometimes ask for much more room: the list is reallocated under the readers */
	stress_check(NAME,
		     dma_resv_reserve_fences(&resv, stress_rand(rng) % 16 == 0 ? 32 + n : n) == 0,
		     "reserve");
	for (unsigned int i = 0; i < n; i++) {
		struct timeline *tl = &tls[stress_rand(rng) % CONTEXTS];
		struct dma_fence *f = new_fence(tl);

		dma_resv_add_fence(&resv, f, stress_rand(rng) % 4);
		timeline_push(tl, f);
		added++;
	}
	if (stress_rand(rng) % 32 == 0) {
		struct timeline *tl = &tls[stress_rand(rng) % CONTEXTS];

		dma_resv_replace_fences(&resv, tl->context, NULL, DMA_RESV_USAGE_BOOKKEEP);
	}
	stress_check(NAME, dma_resv_num_fences(&resv) <= 4 * CONTEXTS * (KEEP_UNSIGNALLED + 1),
		     "signalled fences are not pruned: %u", dma_resv_num_fences(&resv));
	dma_resv_unlock(&resv);
	return added;
}

int main(void)
{
	struct timeline tls[CONTEXTS];
	pthread_t readers[READERS];
	uint64_t rng = 42, rounds = 0, added = 0;
	double start = stress_now(), deadline = start + stress_seconds();

	dma_resv_init(&resv);
	memset(tls, 0, sizeof(tls));
	for (unsigned int i = 0; i < CONTEXTS; i++)
		tls[i].context = dma_fence_context_alloc(1);
	for (uintptr_t i = 0; i < READERS; i++)
		stress_check(NAME, pthread_create(&readers[i], NULL, reader_thread, (void *)i) == 0,
			     "pthread_create");
	while (stress_now() < deadline) {
		added += writer_round(tls, &rng);
		rounds++;
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (unsigned int i = 0; i < READERS; i++)
		pthread_join(readers[i], NULL);
	for (unsigned int i = 0; i < CONTEXTS; i++)
		timeline_flush(&tls[i]);
	stress_check(NAME, dma_resv_test_signaled(&resv, DMA_RESV_USAGE_BOOKKEEP),
		     "fences left unsignalled");
	dma_resv_fini(&resv);
	printf("%s: ok %lu writer rounds, %lu fences added, %lu fences checked by %d readers, "
	       "%.1f s\n",
	       NAME, (unsigned long)rounds, (unsigned long)added,
	       (unsigned long)__atomic_load_n(&reader_checks, __ATOMIC_RELAXED), READERS,
	       stress_now() - start);
	return 0;
}
