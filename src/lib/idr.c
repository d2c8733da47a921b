// SPDX-License-Identifier: MIT
/*
 * The cyclic id allocator: an open-addressing hash of ids with linear
 * probing. Removal shifts the entries of the probe run back instead of
 * leaving tombstones, so lookups never walk over dead slots however many
 * ids come and go.
 */
#include <errno.h>
#include <stdlib.h>

#include "lib/idr.h"

#define IDR_MIN_BITS 4
#define IDR_MAX_BITS 31

static inline uint32_t idr_next_id(uint32_t id)
{
	return id == UINT32_MAX ? 1 : id + 1;
}

/* Fibonacci hashing: consecutive ids (the common case) land far apart. */
static inline size_t idr_hash(uint32_t id, unsigned int bits)
{
	return (uint32_t)(id * 0x9E3779B9U) >> (32 - bits);
}

static inline size_t idr_mask(const struct idr *idr)
{
	return ((size_t)1 << idr->bits) - 1;
}

void idr_init(struct idr *idr)
{
	*idr = (struct idr)IDR_INIT(*idr);
	pthread_rwlock_init(&idr->lock, NULL);
}

void idr_destroy(struct idr *idr)
{
	free(idr->slots);
	idr->slots = NULL;
	idr->bits = 0;
	idr->count = 0;
	pthread_rwlock_destroy(&idr->lock);
}

/* The slot holding @id, or NULL. */
static struct idr_slot *idr_lookup(const struct idr *idr, uint32_t id)
{
	size_t mask, i;

	if (!idr->slots || !id)
		return NULL;
	mask = idr_mask(idr);
	for (i = idr_hash(id, idr->bits); idr->slots[i].id; i = (i + 1) & mask)
		if (idr->slots[i].id == id)
			return &idr->slots[i];
	return NULL;
}

static void idr_insert(struct idr_slot *slots, unsigned int bits, uint32_t id, void *ptr)
{
	size_t mask = ((size_t)1 << bits) - 1, i;

	for (i = idr_hash(id, bits); slots[i].id; i = (i + 1) & mask)
		;
	slots[i].id = id;
	slots[i].ptr = ptr;
}

/* Rehash into 1 << @bits slots; -ENOMEM leaves the table as it was. */
static int idr_resize(struct idr *idr, unsigned int bits)
{
	struct idr_slot *slots = calloc((size_t)1 << bits, sizeof(*slots));
	size_t i;

	if (!slots)
		return -ENOMEM;
	if (idr->slots) {
		for (i = 0; i <= idr_mask(idr); i++)
			if (idr->slots[i].id)
				idr_insert(slots, bits, idr->slots[i].id, idr->slots[i].ptr);
		free(idr->slots);
	}
	idr->slots = slots;
	idr->bits = bits;
	return 0;
}

int idr_alloc_cyclic_locked(struct idr *idr, void *ptr, uint32_t *out)
{
	uint32_t id;
	int err;

	if (!ptr)
		return -EINVAL;
	if (idr->count == UINT32_MAX)
		return -ENOSPC;
	/* at most half full, so probe runs stay short */
	if (!idr->slots || (size_t)(idr->count + 1) * 2 > idr_mask(idr) + 1) {
		unsigned int bits = idr->slots ? idr->bits + 1 : IDR_MIN_BITS;

		if (bits > IDR_MAX_BITS)
			return -ENOSPC;
		err = idr_resize(idr, bits);
		if (err)
			return err;
	}
	/* terminates: fewer than UINT32_MAX ids are in use */
	for (id = idr->next ? idr->next : 1; idr_lookup(idr, id); id = idr_next_id(id))
		;
	idr_insert(idr->slots, idr->bits, id, ptr);
	idr->count++;
	idr->next = idr_next_id(id);
	*out = id;
	return 0;
}

int idr_alloc_cyclic(struct idr *idr, void *ptr, uint32_t *id)
{
	int err;

	idr_lock(idr);
	err = idr_alloc_cyclic_locked(idr, ptr, id);
	idr_unlock(idr);
	return err;
}

/*
 * Empty slot @hole, then pull back every later entry of its probe run that
 * would no longer be found (its home slot is not cyclically in (hole, j]).
 */
static void idr_close_hole(struct idr *idr, size_t hole)
{
	size_t mask = idr_mask(idr), j = hole, home;

	for (;;) {
		j = (j + 1) & mask;
		if (!idr->slots[j].id)
			break;
		home = idr_hash(idr->slots[j].id, idr->bits);
		if (hole <= j ? (hole < home && home <= j) : (hole < home || home <= j))
			continue;
		idr->slots[hole] = idr->slots[j];
		hole = j;
	}
	idr->slots[hole].id = 0;
	idr->slots[hole].ptr = NULL;
}

void *idr_remove_locked(struct idr *idr, uint32_t id)
{
	struct idr_slot *slot = idr_lookup(idr, id);
	void *ptr;

	if (!slot)
		return NULL;
	ptr = slot->ptr;
	idr_close_hole(idr, (size_t)(slot - idr->slots));
	idr->count--;
	/* shrinking is an optimisation: a failed one keeps the larger table */
	if (idr->bits > IDR_MIN_BITS && (size_t)idr->count * 8 < idr_mask(idr) + 1)
		idr_resize(idr, idr->bits - 1);
	return ptr;
}

void *idr_remove(struct idr *idr, uint32_t id)
{
	void *ptr;

	idr_lock(idr);
	ptr = idr_remove_locked(idr, id);
	idr_unlock(idr);
	return ptr;
}

void *idr_find_locked(const struct idr *idr, uint32_t id)
{
	struct idr_slot *slot = idr_lookup(idr, id);

	return slot ? slot->ptr : NULL;
}

void *idr_find(struct idr *idr, uint32_t id)
{
	void *ptr;

	idr_lock_shared(idr);
	ptr = idr_find_locked(idr, id);
	idr_unlock_shared(idr);
	return ptr;
}

void idr_set_next(struct idr *idr, uint32_t next)
{
	idr_lock(idr);
	idr->next = next ? next : 1;
	idr_unlock(idr);
}

uint32_t idr_count(struct idr *idr)
{
	uint32_t count;

	idr_lock_shared(idr);
	count = idr->count;
	idr_unlock_shared(idr);
	return count;
}
