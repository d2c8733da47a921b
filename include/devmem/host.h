/* SPDX-License-Identifier: MIT */
/*
 * The host exporter: dma-bufs in ordinary memory, held in a memfd sealed
 * against shrinking and growing (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
 * so that no holder of the fd can truncate the memory under an importer.
 *
 * A host buffer maps into any device's IOMMU domain. Its fd can be passed to
 * another process (SCM_RIGHTS); dma_buf_get() there wraps it as a host buffer
 * over the same memory. A memfd without those seals is refused.
 *
 * Host buffers never move: the exporter is static (no pin/unpin).
 */
#ifndef DEVMEM_HOST_H
#define DEVMEM_HOST_H

#include <stddef.h>

#include "dma-buf.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HOST_EXP_NAME "devmem-host"

struct host_buffer_opts {
	size_t sz; /* sizeof(struct host_buffer_opts) */
	const char *name; /* dma-buf name (optional) */
	/*
	 * The layout of the sg tables the buffer maps to. By default each
	 * mapping is as few entries as the segment limit allows. With
	 * @sg_lengths, entries take these lengths in turn (cycling; the last
	 * entry takes what remains), which may be any size, page multiple or
	 * not, to test importers against fragmented and hostile layouts.
	 */
	const size_t *sg_lengths; /* each 1..UINT_MAX; copied at creation */
	unsigned int num_sg_lengths; /* > 0 exactly when sg_lengths is set */
	/*
	 * 0: the largest page multiple that fits an entry (dma_length is an
	 * unsigned int). Otherwise 1..UINT_MAX, and it also caps @sg_lengths.
	 */
	size_t max_segment;
	/*
	 * Called on the creating thread as the buffer's memory is populated:
	 * after each step of DEVMEM_HOST_POPULATE_STEP bytes and at the end
	 * (@done == @total), so that a tool can show progress on a buffer that
	 * takes seconds to set up. Optional; the library itself never prints.
	 */
	void (*progress)(size_t done, size_t total, void *arg);
	void *progress_arg;
};

/* Bytes populated between two calls of host_buffer_opts.progress. */
#define DEVMEM_HOST_POPULATE_STEP (256UL << 20)

/*
 * Create a host buffer of @size bytes (a non-zero multiple of the page
 * size). @opts may be NULL. Returns 0 and the buffer (one reference) in @out,
 * -EINVAL for a bad size or options, -ENOMEM, or the memfd's errno.
 *
 * The memory is populated (allocated and mapped) before the call returns,
 * as a dma-heap allocates its pages at allocation time. A size beyond what
 * the process can be given (MemAvailable, or the headroom under the memory
 * limit of its cgroup) fails at once with -ENOMEM, and devmem_last_error()
 * names the size asked and what is available: nothing is faulted in and the
 * OOM killer is never woken. If populating fails part-way (another process
 * took the memory meanwhile), the call also fails with -ENOMEM and frees it.
 *
 * Each sg entry of a mapping is its own IOMMU mapping into the importer's
 * device (dma_map_range() for the mapping's direction); a mapping that fails
 * part-way (-ENOSPC, -ENOMEM) unmaps what it had mapped. From 2 MiB up, the
 * CPU mapping is 2 MiB aligned, so the IOMMU can use large blocks.
 */
int devmem_host_buffer_create(size_t size, const struct host_buffer_opts *opts,
			      struct dma_buf **out);

/* True if @dmabuf was exported by the host exporter. */
bool devmem_is_host_buffer(const struct dma_buf *dmabuf);

#ifdef __cplusplus
}
#endif

#endif
