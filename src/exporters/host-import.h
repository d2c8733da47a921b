/* SPDX-License-Identifier: MIT */
/*
 * The one call from the dma-buf core into an exporter.
 *
 * Layers never call upwards, with this exception: dma_buf_get() on an fd
 * that no live buffer of this process owns asks the host exporter to wrap
 * it, because a sealed memfd is the only kind of dma-buf whose memory can
 * cross a process boundary (SCM_RIGHTS, fork + exec). The core knows this
 * one exporter by name for that reason and no other.
 */
#ifndef DEVMEM_EXPORTERS_HOST_IMPORT_H
#define DEVMEM_EXPORTERS_HOST_IMPORT_H

struct dma_buf;

/*
 * Wrap @fd, a memfd from elsewhere, as a host buffer over the same memory.
 * @fd stays the caller's: the buffer keeps its own duplicate. The memfd must
 * be sealed against shrinking and growing and hold a non-zero page multiple
 * of bytes. Returns 0 and the buffer (one reference, registered, so the next
 * dma_buf_get() of the same file finds it) in @out; -EINVAL for a file that
 * is not such a memfd, or the errno of dup/mmap. The caller serialises
 * imports (two wraps of one file would be two buffers).
 */
int host_dma_buf_import_fd(int fd, struct dma_buf **out);

#endif
