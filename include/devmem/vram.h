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

struct vram_stats {
	uint64_t evictions; /* moves to system memory */
	uint64_t restores; /* moves back into the heap */
	uint64_t bytes_moved;
	size_t used; /* heap bytes in use */
	size_t capacity;
};

/*
 * Create a vram of @capacity bytes (a non-zero page multiple) named @name.
 * 0 and the vram in @out; -EINVAL, -ENOMEM.
 */
int devmem_vram_create(const char *name, size_t capacity, const struct vram_opts *opts,
		       struct vram **out);
/* Destroy the vram; its buffers must all be released. */
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
 * (or nothing more can move). Returns the bytes now free, or a negative errno.
 */
int64_t devmem_vram_evict(struct vram *vram, size_t bytes);

/* Wait until the copy engine is idle (every queued move has completed). */
void devmem_vram_flush(struct vram *vram);

void devmem_vram_get_stats(struct vram *vram, struct vram_stats *stats);

#ifdef __cplusplus
}
#endif

#endif
