/* SPDX-License-Identifier: MIT */
/*
 * The vram exporter: simulated device memory that moves.
 *
 * A vram is a device with a heap of fixed capacity behind a peer-to-peer
 * window. Its buffers live either in the heap (VRAM placement) or in system
 * memory (SYSTEM placement). When the heap is short of room, unpinned buffers
 * are evicted to system memory: the exporter takes the victim's resv lock,
 * calls move_notify on its dynamic importers, and queues the copy on the
 * copy engine (a thread); the copy's completion is a KERNEL-usage fence in the
 * buffer's resv, which importers wait for before they map again. A buffer
 * moves back to the heap when it is mapped and there is room. Pinned buffers
 * never move.
 *
 * Mapping gives peer-to-peer bus addresses when the buffer is in the heap and
 * the importer allows peer-to-peer and its device can reach peers; otherwise
 * the buffer is moved to (or kept in) system memory and mapped through the
 * importer's IOMMU.
 *
 * The rules, in detail (the exporter is dynamic: it implements pin/unpin):
 * - Victims are taken least recently used first, with dma_resv_trylock():
 *   a buffer whose lock is busy (held by the caller itself included, e.g. a
 *   map of A that needs room while the caller also holds B) is skipped,
 *   never waited for. Pinned buffers are skipped.
 * - A move calls dma_buf_move_notify() (every dynamic importer, with the
 *   lock held) and revokes every existing mapping of the buffer at once: an
 *   importer that keeps using an old address gets an IOMMU fault (-EFAULT,
 *   counted on its device), never the bytes of whatever reuses the memory.
 *   Its later unmap of the old table is still required and undoes nothing
 *   more. When the move happens inside map (restore, or a move to system
 *   memory for an importer without p2p), the attachment being mapped is
 *   notified too: harmless, since the notification concerns only mappings
 *   made before the call, and the table map returns is already valid (after
 *   the KERNEL fences). An importer should clear its "invalid" state before
 *   it maps, not after.
 * - Pinning (dma_buf_pin, and the core's pin of a static importer's map)
 *   first moves the buffer to system memory if any attachment cannot do
 *   p2p (as amdgpu pins into GTT); -EINVAL if it is already pinned in the
 *   heap then. Mapping a buffer pinned in the heap for an importer without
 *   p2p fails with -EBUSY. A vmap pins the buffer where it is until vunmap.
 * - begin_cpu_access and vmap wait for the KERNEL fences (a move in flight).
 * - The copy engine is one thread per vram running copies in order; a copy
 *   first waits for every fence the buffer had when it was queued. The
 *   memory a buffer leaves is released only once its copy has read it: a
 *   heap range counts as used until then.
 */
#ifndef DEVMEM_VRAM_H
#define DEVMEM_VRAM_H

#include <stddef.h>
#include <stdint.h>

#include "dma-buf.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VRAM_EXP_NAME "devmem-vram"

struct vram;

enum vram_placement {
	VRAM_PLACEMENT_VRAM,
	VRAM_PLACEMENT_SYSTEM,
};

struct vram_opts {
	size_t sz; /* sizeof(struct vram_opts) */
	/* simulated copy engine bandwidth in bytes per second; 0: as fast as memcpy */
	uint64_t copy_bandwidth;
};

/* Moves are counted when they are queued. */
struct vram_stats {
	uint64_t evictions; /* moves to system memory */
	uint64_t restores; /* moves back into the heap */
	uint64_t bytes_moved;
	size_t used; /* heap bytes in use (ranges still being copied out included) */
	size_t capacity;
};

/*
 * Create a vram of @capacity bytes (a non-zero page multiple) named @name
 * (at most 31 characters; also its device's name). @opts may be NULL.
 * 0 and the vram in @out; -EINVAL (bad name, capacity or opts), -ENOMEM
 * (also, at once, for a capacity beyond the memory the process can be given:
 * devmem_last_error() names both).
 */
int devmem_vram_create(const char *name, size_t capacity, const struct vram_opts *opts,
		       struct vram **out);
/*
 * Destroy the vram: the copy engine finishes what is queued and stops. Its
 * buffers must all be released (a bug otherwise: aborts in debug builds).
 */
void devmem_vram_destroy(struct vram *vram);

/* The vram's own device (the peer-to-peer provider). */
struct device *devmem_vram_device(struct vram *vram);

/*
 * A new buffer of @size bytes (non-zero page multiple), placed in the heap
 * (evicting others if needed and possible) or, failing that, in system
 * memory. 0 and the buffer (one reference) in @out; -EINVAL, -ENOMEM.
 */
int devmem_vram_buffer_create(struct vram *vram, size_t size, struct dma_buf **out);

/* Where the buffer lives now. No lock needed (a snapshot). -EINVAL if not a vram buffer. */
int devmem_vram_buffer_placement(struct dma_buf *dmabuf);

/*
 * Create pressure: evict unpinned buffers until @bytes of the heap are free
 * (or nothing more can move), waiting for the copies so that the room is
 * really there. Returns the bytes now free, or a negative errno (-EINVAL,
 * -ENOMEM). The caller may hold resv locks: busy buffers are skipped.
 */
int64_t devmem_vram_evict(struct vram *vram, size_t bytes);

/* Wait until the copy engine is idle (every queued move has completed). */
void devmem_vram_flush(struct vram *vram);

void devmem_vram_get_stats(struct vram *vram, struct vram_stats *stats);

#ifdef __cplusplus
}
#endif

#endif
