/* SPDX-License-Identifier: MIT */
/*
 * kref: an object's reference count. kref_put() calls the release function
 * exactly once, from the put that drops the last reference. Increments from
 * zero and underflows are bugs and abort in debug builds.
 */
#ifndef DEVMEM_LIB_REFCOUNT_H
#define DEVMEM_LIB_REFCOUNT_H

#include <stdbool.h>

#include "devmem/kref.h"
#include "debug.h"

static inline void kref_init(struct kref *kref)
{
	__atomic_store_n(&kref->refcount, 1, __ATOMIC_RELAXED);
}

static inline unsigned int kref_read(const struct kref *kref)
{
	return __atomic_load_n(&kref->refcount, __ATOMIC_RELAXED);
}

static inline void kref_get(struct kref *kref)
{
	unsigned int old = __atomic_fetch_add(&kref->refcount, 1, __ATOMIC_RELAXED);

	DEVMEM_BUG_ON(old == 0);
}

/* Take a reference only if the object is still alive (count not yet zero). */
static inline bool kref_get_unless_zero(struct kref *kref)
{
	unsigned int old = __atomic_load_n(&kref->refcount, __ATOMIC_RELAXED);

	do {
		if (old == 0)
			return false;
	} while (!__atomic_compare_exchange_n(&kref->refcount, &old, old + 1, true,
					      __ATOMIC_ACQUIRE, __ATOMIC_RELAXED));
	return true;
}

/*
 * Drop a reference; the last one calls @release. The decrement is
 * acquire-release so the releasing thread sees every write the other holders
 * made before they let go. (An acquire fence after a release decrement would
 * do on the hardware, but ThreadSanitizer does not model standalone fences.)
 */
static inline bool kref_put(struct kref *kref, void (*release)(struct kref *kref))
{
	unsigned int old = __atomic_fetch_sub(&kref->refcount, 1, __ATOMIC_ACQ_REL);

	DEVMEM_BUG_ON(old == 0);
	if (old != 1)
		return false;
	release(kref);
	return true;
}

#endif
