// SPDX-License-Identifier: MIT
/*
 * dma_resv: a buffer's reservation lock and fences (drivers/dma-buf/dma-resv.c).
 *
 * The fences live in an array (struct dma_resv_list) that only the holder of
 * the resv lock changes, and only under obj->list_lock, which it takes for a
 * few stores at a time. Readers without the resv lock look at the array only
 * under list_lock and take a reference on a fence there, so a fence they see
 * can never be freed under them; they never call into a fence (signalled
 * test, names, wait) with list_lock held, because fence callbacks may come
 * back here. Where the kernel relies on RCU (readers see the old array until
 * a grace period), we free the old array at once: no reader keeps a pointer
 * to it outside list_lock. obj->seq counts the changes that move entries (a
 * new array, a removal); unlocked iterators restart when it moves.
 *
 * Reservations: obj->reserved is the number of free slots the lock holder
 * asked for since it took the lock; appending uses one, replacing in place
 * uses none, and unlocking drops them all (the kernel checks this with
 * CONFIG_DEBUG_MUTEXES; we always do the accounting and abort in debug builds).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devmem/dma-resv.h"
#include "lib/debug.h"
#include "lib/error.h"

/* Far beyond any real use; keeps the size arithmetic from overflowing. */
#define DMA_RESV_MAX_FENCES (1U << 24)

DEFINE_WW_CLASS(reservation_ww_class);

struct dma_resv_entry {
	struct dma_fence *fence; /* the list holds one reference */
	enum dma_resv_usage usage;
};

struct dma_resv_list {
	unsigned int num_fences; /* entries in use */
	unsigned int max_fences; /* entries allocated */
	struct dma_resv_entry table[];
};

static const char *const dma_resv_usage_names[] = {
	[DMA_RESV_USAGE_KERNEL] = "kernel",
	[DMA_RESV_USAGE_WRITE] = "write",
	[DMA_RESV_USAGE_READ] = "read",
	[DMA_RESV_USAGE_BOOKKEEP] = "bookkeep",
};

static inline void dma_resv_assert_held(struct dma_resv *obj, const char *what)
{
	devmem_assert(dma_resv_held(obj), what);
}

void dma_resv_init(struct dma_resv *obj)
{
	ww_mutex_init(&obj->lock, &reservation_ww_class);
	obj->fences = NULL;
	pthread_mutex_init(&obj->list_lock, NULL);
	obj->seq = 0;
	obj->reserved = 0;
}

void dma_resv_fini(struct dma_resv *obj)
{
	struct dma_resv_list *list = obj->fences;

	devmem_assert(!dma_resv_is_locked(obj), "dma_resv_fini: the resv is locked");
	for (unsigned int i = 0; list && i < list->num_fences; i++)
		dma_fence_put(list->table[i].fence);
	free(list);
	obj->fences = NULL;
	pthread_mutex_destroy(&obj->list_lock);
	ww_mutex_destroy(&obj->lock);
}

int dma_resv_lock(struct dma_resv *obj, struct ww_acquire_ctx *ctx)
{
	return ww_mutex_lock(&obj->lock, ctx);
}

int dma_resv_lock_interruptible(struct dma_resv *obj, struct ww_acquire_ctx *ctx)
{
	return ww_mutex_lock_interruptible(&obj->lock, ctx);
}

void dma_resv_lock_slow(struct dma_resv *obj, struct ww_acquire_ctx *ctx)
{
	ww_mutex_lock_slow(&obj->lock, ctx);
}

bool dma_resv_trylock(struct dma_resv *obj)
{
	return ww_mutex_trylock(&obj->lock, NULL);
}

void dma_resv_unlock(struct dma_resv *obj)
{
	/* unused reservations do not outlive the lock (kernel: dma_resv_reset_max_fences) */
	obj->reserved = 0;
	ww_mutex_unlock(&obj->lock);
}

bool dma_resv_is_locked(struct dma_resv *obj)
{
	return ww_mutex_is_locked(&obj->lock);
}

bool dma_resv_held(struct dma_resv *obj)
{
	return ww_mutex_is_owned_by_me(&obj->lock);
}

struct ww_acquire_ctx *dma_resv_locking_ctx(struct dma_resv *obj)
{
	return ww_mutex_locking_ctx(&obj->lock);
}

static unsigned int roundup_pow_of_two(unsigned int n)
{
	unsigned int p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

/*
 * A new array with room for @max entries holding the unsignalled entries of
 * @old; the signalled ones are parked at its end (from index @max down to
 * *first_pruned) so the caller can drop them once the new array is in place.
 */
static struct dma_resv_list *dma_resv_list_realloc(struct dma_resv_list *old, unsigned int max,
						   unsigned int *first_pruned)
{
	struct dma_resv_list *new = malloc(sizeof(*new) + (size_t)max * sizeof(new->table[0]));
	unsigned int j = 0, k = max;

	if (!new)
		return NULL;
	for (unsigned int i = 0; old && i < old->num_fences; i++) {
		if (dma_fence_is_signaled(old->table[i].fence))
			new->table[--k] = old->table[i];
		else
			new->table[j++] = old->table[i];
	}
	new->num_fences = j;
	new->max_fences = max;
	*first_pruned = k;
	return new;
}

int dma_resv_reserve_fences(struct dma_resv *obj, unsigned int num_fences)
{
	struct dma_resv_list *old = obj->fences, *new;
	unsigned int num = old ? old->num_fences : 0, max, first_pruned;

	dma_resv_assert_held(obj, "dma_resv_reserve_fences: resv lock not held");
	if (num_fences > DMA_RESV_MAX_FENCES - num)
		return devmem_err(-ENOMEM, "dma_resv_reserve_fences: %u more fences is too many",
				  num_fences);
	if (old && num + num_fences <= old->max_fences) {
		obj->reserved = max(obj->reserved, num_fences);
		return 0;
	}
	if (old)
		max = max(num + num_fences, old->max_fences * 2);
	else
		max = max(4U, roundup_pow_of_two(num_fences));

	new = dma_resv_list_realloc(old, max, &first_pruned);
	if (!new)
		return devmem_err(-ENOMEM, "dma_resv_reserve_fences: no memory for %u fences", max);

	pthread_mutex_lock(&obj->list_lock);
	obj->fences = new;
	obj->seq++; /* entries moved: unlocked iterators start again */
	pthread_mutex_unlock(&obj->list_lock);

	obj->reserved = max(obj->reserved, num_fences);
	for (unsigned int i = first_pruned; i < max; i++)
		dma_fence_put(new->table[i].fence);
	free(old);
	return 0;
}

/* May @fence take the place of @old (kernel: dma_resv_add_fence's replacement test)? */
static bool dma_resv_replaces(const struct dma_resv_entry *old, struct dma_fence *fence,
			      enum dma_resv_usage usage)
{
	if (old->fence->context == fence->context && old->usage >= usage &&
	    (old->fence == fence || dma_fence_is_later(fence, old->fence)))
		return true;
	return dma_fence_is_signaled(old->fence);
}

static void dma_resv_list_set(struct dma_resv *obj, unsigned int i, struct dma_fence *fence,
			      enum dma_resv_usage usage)
{
	pthread_mutex_lock(&obj->list_lock);
	obj->fences->table[i] = (struct dma_resv_entry){ .fence = fence, .usage = usage };
	pthread_mutex_unlock(&obj->list_lock);
}

void dma_resv_add_fence(struct dma_resv *obj, struct dma_fence *fence, enum dma_resv_usage usage)
{
	struct dma_resv_list *list = obj->fences;
	unsigned int i, count = list ? list->num_fences : 0;

	dma_resv_assert_held(obj, "dma_resv_add_fence: resv lock not held");
	devmem_assert(fence, "dma_resv_add_fence: NULL fence");
	devmem_assert(usage <= DMA_RESV_USAGE_BOOKKEEP, "dma_resv_add_fence: bad usage");
	dma_fence_get(fence);

	for (i = 0; i < count; i++) {
		struct dma_resv_entry old = list->table[i];

		if (dma_resv_replaces(&old, fence, usage)) {
			dma_resv_list_set(obj, i, fence, usage);
			dma_fence_put(old.fence);
			return;
		}
	}

	devmem_assert(
		obj->reserved > 0,
		"dma_resv_add_fence: no slot reserved (dma_resv_reserve_fences) under this lock");
	if (!list || count >= list->max_fences)
		devmem_bug(__FILE__, __LINE__, "dma_resv_add_fence: no room for the fence");
	pthread_mutex_lock(&obj->list_lock);
	list->table[count] = (struct dma_resv_entry){ .fence = fence, .usage = usage };
	list->num_fences = count + 1;
	pthread_mutex_unlock(&obj->list_lock);
	if (obj->reserved)
		obj->reserved--;
}

/* Drop entry @i, keeping the order of the others. */
static struct dma_fence *dma_resv_list_remove(struct dma_resv *obj, unsigned int i)
{
	struct dma_resv_list *list = obj->fences;
	struct dma_fence *old = list->table[i].fence;

	pthread_mutex_lock(&obj->list_lock);
	memmove(&list->table[i], &list->table[i + 1],
		(list->num_fences - i - 1) * sizeof(list->table[0]));
	list->num_fences--;
	obj->seq++;
	pthread_mutex_unlock(&obj->list_lock);
	return old;
}

void dma_resv_replace_fences(struct dma_resv *obj, uint64_t context, struct dma_fence *replacement,
			     enum dma_resv_usage usage)
{
	struct dma_resv_list *list = obj->fences;
	unsigned int i = 0;

	dma_resv_assert_held(obj, "dma_resv_replace_fences: resv lock not held");
	devmem_assert(usage <= DMA_RESV_USAGE_BOOKKEEP, "dma_resv_replace_fences: bad usage");
	while (list && i < list->num_fences) {
		struct dma_fence *old = list->table[i].fence;

		if (old->context != context) {
			i++;
			continue;
		}
		if (replacement) {
			dma_resv_list_set(obj, i++, dma_fence_get(replacement), usage);
		} else {
			dma_resv_list_remove(obj, i);
		}
		dma_fence_put(old);
	}
}

void dma_resv_iter_begin(struct dma_resv_iter *cursor, struct dma_resv *obj,
			 enum dma_resv_usage usage)
{
	memset(cursor, 0, sizeof(*cursor));
	cursor->obj = obj;
	cursor->usage = usage;
}

struct dma_fence *dma_resv_iter_next(struct dma_resv_iter *cursor)
{
	struct dma_resv_list *list = cursor->obj->fences;

	dma_resv_assert_held(cursor->obj, "dma_resv_iter_next: resv lock not held");
	cursor->is_restarted = false;
	while (list && cursor->index < list->num_fences) {
		struct dma_resv_entry *e = &list->table[cursor->index++];

		if (e->usage <= cursor->usage) {
			cursor->fence = e->fence;
			cursor->fence_usage = e->usage;
			return e->fence;
		}
	}
	cursor->fence = NULL;
	return NULL;
}

struct dma_fence *dma_resv_iter_first(struct dma_resv_iter *cursor)
{
	struct dma_fence *fence;

	dma_resv_assert_held(cursor->obj, "dma_resv_iter_first: resv lock not held");
	cursor->locked = true;
	cursor->index = 0;
	fence = dma_resv_iter_next(cursor);
	cursor->is_restarted = true;
	return fence;
}

/* Under list_lock: start again from the first entry of the list as it is now. */
static void dma_resv_iter_restart_unlocked(struct dma_resv_iter *cursor)
{
	struct dma_resv *obj = cursor->obj;

	cursor->index = 0;
	cursor->seq = obj->seq;
	cursor->num_fences = obj->fences ? obj->fences->num_fences : 0;
	cursor->is_restarted = true;
}

/* Under list_lock: the next entry, with a new fence reference; false at the end. */
static bool dma_resv_iter_take_unlocked(struct dma_resv_iter *cursor, struct dma_resv_entry *e)
{
	struct dma_resv *obj = cursor->obj;

	if (cursor->seq != obj->seq)
		dma_resv_iter_restart_unlocked(cursor);
	if (cursor->index >= cursor->num_fences)
		return false;
	*e = obj->fences->table[cursor->index++];
	dma_fence_get(e->fence);
	return true;
}

/* Move to the next unsignalled fence of a wanted usage, dropping the current one. */
static void dma_resv_iter_walk_unlocked(struct dma_resv_iter *cursor)
{
	struct dma_resv *obj = cursor->obj;
	struct dma_resv_entry e;
	bool found;

	for (;;) {
		dma_fence_put(cursor->fence);
		cursor->fence = NULL;

		pthread_mutex_lock(&obj->list_lock);
		found = dma_resv_iter_take_unlocked(cursor, &e);
		pthread_mutex_unlock(&obj->list_lock);
		if (!found)
			return;
		cursor->fence = e.fence;
		cursor->fence_usage = e.usage;
		if (e.usage <= cursor->usage && !dma_fence_is_signaled(e.fence))
			return;
	}
}

struct dma_fence *dma_resv_iter_first_unlocked(struct dma_resv_iter *cursor)
{
	struct dma_resv *obj = cursor->obj;

	cursor->locked = false;
	dma_fence_put(cursor->fence);
	cursor->fence = NULL;
	pthread_mutex_lock(&obj->list_lock);
	dma_resv_iter_restart_unlocked(cursor);
	pthread_mutex_unlock(&obj->list_lock);
	dma_resv_iter_walk_unlocked(cursor);
	cursor->is_restarted = true;
	return cursor->fence;
}

struct dma_fence *dma_resv_iter_next_unlocked(struct dma_resv_iter *cursor)
{
	cursor->is_restarted = false;
	dma_resv_iter_walk_unlocked(cursor);
	return cursor->fence;
}

void dma_resv_iter_end(struct dma_resv_iter *cursor)
{
	if (!cursor->locked)
		dma_fence_put(cursor->fence);
	cursor->fence = NULL;
}

int dma_resv_get_fences(struct dma_resv *obj, enum dma_resv_usage usage, unsigned int *num_fences,
			struct dma_fence ***fences)
{
	struct dma_resv_iter cursor;
	struct dma_fence *fence;

	*num_fences = 0;
	*fences = NULL;
	dma_resv_iter_begin(&cursor, obj, usage);
	dma_resv_for_each_fence_unlocked(&cursor, fence) {
		if (dma_resv_iter_is_restarted(&cursor)) {
			struct dma_fence **array;

			while (*num_fences)
				dma_fence_put((*fences)[--*num_fences]);
			/* no more than the entries seen since the restart can come */
			array = realloc(*fences, cursor.num_fences * sizeof(*array));
			if (!array) {
				dma_resv_iter_end(&cursor);
				free(*fences);
				*fences = NULL;
				return devmem_err(-ENOMEM, "dma_resv_get_fences: no memory");
			}
			*fences = array;
		}
		(*fences)[(*num_fences)++] = dma_fence_get(fence);
	}
	dma_resv_iter_end(&cursor);
	if (!*num_fences) {
		free(*fences);
		*fences = NULL;
	}
	return 0;
}

int dma_resv_get_singleton(struct dma_resv *obj, enum dma_resv_usage usage,
			   struct dma_fence **fence)
{
	struct dma_fence_array *array;
	struct dma_fence **fences;
	unsigned int count;
	int ret;

	*fence = NULL;
	ret = dma_resv_get_fences(obj, usage, &count, &fences);
	if (ret)
		return ret;
	if (count <= 1) {
		*fence = count ? fences[0] : NULL;
		free(fences);
		return 0;
	}
	/* the array takes over our references and the array of pointers */
	array = dma_fence_array_create(count, fences, dma_fence_context_alloc(1), 1, false);
	if (!array) {
		while (count)
			dma_fence_put(fences[--count]);
		free(fences);
		return devmem_err(-ENOMEM, "dma_resv_get_singleton: no memory for a fence array");
	}
	*fence = &array->base;
	return 0;
}

int64_t dma_resv_wait_timeout(struct dma_resv *obj, enum dma_resv_usage usage, bool intr,
			      int64_t timeout_ns)
{
	int64_t ret = timeout_ns ? timeout_ns : 1;
	struct dma_resv_iter cursor;
	struct dma_fence *fence;

	if (timeout_ns < 0)
		return devmem_err(-EINVAL, "dma_resv_wait_timeout: negative timeout %" PRId64,
				  timeout_ns);
	dma_resv_iter_begin(&cursor, obj, usage);
	dma_resv_for_each_fence_unlocked(&cursor, fence) {
		/* a zero timeout only tests each fence */
		ret = dma_fence_wait_timeout(fence, intr, timeout_ns ? ret : 0);
		if (ret <= 0)
			break;
	}
	dma_resv_iter_end(&cursor);
	return ret;
}

bool dma_resv_test_signaled(struct dma_resv *obj, enum dma_resv_usage usage)
{
	struct dma_resv_iter cursor;
	struct dma_fence *fence;

	dma_resv_iter_begin(&cursor, obj, usage);
	fence = dma_resv_iter_first_unlocked(&cursor);
	dma_resv_iter_end(&cursor);
	return !fence;
}

unsigned int dma_resv_num_fences(struct dma_resv *obj)
{
	unsigned int n;

	pthread_mutex_lock(&obj->list_lock);
	n = obj->fences ? obj->fences->num_fences : 0;
	pthread_mutex_unlock(&obj->list_lock);
	return n;
}

/*
 * One bufinfo line for @e at @len of @buf; returns the line's length. The
 * kernel prints "\t<usage> fence:" and then dma_fence_describe()'s text right
 * after the colon (v6.18: driver, timeline, seqno, state).
 */
static int dma_resv_describe_one(const struct dma_resv_entry *e, char *buf, size_t size, size_t len)
{
	struct dma_fence *fence = e->fence;

	return snprintf(len < size ? buf + len : NULL, len < size ? size - len : 0,
			"\t%s fence:%s %s seq %" PRIu64 " %ssignalled\n",
			dma_resv_usage_names[e->usage], dma_fence_driver_name(fence),
			dma_fence_timeline_name(fence), fence->seqno,
			dma_fence_is_signaled(fence) ? "" : "un");
}

int dma_resv_describe(struct dma_resv *obj, char *buf, size_t size)
{
	struct dma_resv_iter cursor;
	struct dma_resv_entry e;
	size_t len = 0;
	bool found;

	if (size)
		buf[0] = '\0';
	/* as the kernel's bufinfo: KERNEL, WRITE and READ fences; BOOKKEEP ones are not shown */
	dma_resv_iter_begin(&cursor, obj, DMA_RESV_USAGE_READ);
	pthread_mutex_lock(&obj->list_lock);
	dma_resv_iter_restart_unlocked(&cursor);
	pthread_mutex_unlock(&obj->list_lock);
	for (;;) {
		int n;

		cursor.is_restarted = false;
		pthread_mutex_lock(&obj->list_lock);
		found = dma_resv_iter_take_unlocked(&cursor, &e);
		pthread_mutex_unlock(&obj->list_lock);
		if (!found)
			break;
		if (cursor.is_restarted) {
			/* entries moved: describe the list afresh */
			len = 0;
			if (size)
				buf[0] = '\0';
		}
		n = e.usage <= cursor.usage ? dma_resv_describe_one(&e, buf, size, len) : 0;
		dma_fence_put(e.fence);
		if (n > 0)
			len += (size_t)n;
	}
	return len > INT32_MAX ? INT32_MAX : (int)len;
}
