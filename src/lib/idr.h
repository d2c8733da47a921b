/* SPDX-License-Identifier: MIT */
/*
 * A cyclic id allocator: ids in [1, UINT32_MAX] mapped to pointers (the
 * kernel's idr_alloc_cyclic() / xa_alloc_cyclic() role for devmem binding
 * ids).
 *
 * Allocation hands out the first free id at or after a cursor, then moves
 * the cursor past it, wrapping from UINT32_MAX to 1: an id is not reused
 * until every other id has been handed out, so a stale id held by a user is
 * very unlikely to name a newer object.
 *
 * The table is an open-addressing hash (linear probing, no tombstones), so
 * a lookup, an insert and a remove are O(1) expected. Allocation probes ids
 * from the cursor on and so skips the long-lived ids in its way: O(1)
 * amortised while the table is sparse, which it is (a handful of live ids
 * among four billion).
 *
 * Locking: every table has its own rwlock. The plain functions take it;
 * the _locked ones expect the caller to hold it (shared for a find,
 * exclusive for a change), so that a caller can keep its own state in step
 * with the table (take a reference on what it finds before a remove can
 * run, list what it allocates in allocation order).
 */
#ifndef DEVMEM_LIB_IDR_H
#define DEVMEM_LIB_IDR_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct idr_slot {
	uint32_t id; /* 0: empty */
	void *ptr;
};

struct idr {
	pthread_rwlock_t lock;
	/* protected by lock */
	struct idr_slot *slots; /* 1 << bits slots, or NULL while empty */
	unsigned int bits;
	uint32_t count; /* ids in use */
	uint32_t next; /* the id the next allocation tries first */
};

#define IDR_INIT(name)                                                                    \
	{                                                                                 \
		.lock = PTHREAD_RWLOCK_INITIALIZER, .slots = NULL, .bits = 0, .count = 0, \
		.next = 1                                                                 \
	}
#define DEFINE_IDR(name) struct idr name = IDR_INIT(name)

void idr_init(struct idr *idr);
/* Free the table (ids still in use are forgotten; their pointers are the caller's). */
void idr_destroy(struct idr *idr);

static inline void idr_lock(struct idr *idr)
{
	pthread_rwlock_wrlock(&idr->lock);
}

static inline void idr_unlock(struct idr *idr)
{
	pthread_rwlock_unlock(&idr->lock);
}

static inline void idr_lock_shared(struct idr *idr)
{
	pthread_rwlock_rdlock(&idr->lock);
}

static inline void idr_unlock_shared(struct idr *idr)
{
	pthread_rwlock_unlock(&idr->lock);
}

/*
 * Map the first free id at or after the cursor to @ptr (not NULL), store it
 * in *@id and move the cursor past it. -EINVAL for a NULL @ptr, -ENOMEM,
 * -ENOSPC when every id is in use; nothing changes on failure.
 */
int idr_alloc_cyclic_locked(struct idr *idr, void *ptr, uint32_t *id);
int idr_alloc_cyclic(struct idr *idr, void *ptr, uint32_t *id);

/* Forget @id and return what it mapped to, or NULL if it was not in use. */
void *idr_remove_locked(struct idr *idr, uint32_t id);
void *idr_remove(struct idr *idr, uint32_t id);

/*
 * What @id maps to, or NULL. With the lock held shared (or exclusive), the
 * entry cannot be removed until it is dropped.
 */
void *idr_find_locked(const struct idr *idr, uint32_t id);
/* The same, taking the lock: the caller must know the entry stays alive. */
void *idr_find(struct idr *idr, uint32_t id);

/* Make the next allocation try @next first (0 means 1): for tests of the wrap. */
void idr_set_next(struct idr *idr, uint32_t next);

/* Ids in use (a snapshot). */
uint32_t idr_count(struct idr *idr);

#endif
