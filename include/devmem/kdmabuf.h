/* SPDX-License-Identifier: MIT */
/*
 * Real kernel dma-bufs: buffers whose fd the kernel made, wrapped as
 * libdevmem dma_bufs so that every importer (the software NIC, the RDMA
 * device) can use them as it uses host buffers, and so that the kernel path
 * can hand the very same fd to the kernel's bind-rx and bind-tx.
 *
 * Three sources, each with the kernel's own argument rules and errno:
 * - udmabuf (/dev/udmabuf, CONFIG_UDMABUF): a dma-buf over the pages of a
 *   sealed memfd (UDMABUF_CREATE, UDMABUF_CREATE_LIST);
 * - dma-heaps (/dev/dma_heap/NAME, CONFIG_DMABUF_HEAPS): fresh memory of a
 *   heap such as "system" (DMA_HEAP_IOCTL_ALLOC);
 * - any dma-buf fd the application already has (a GPU driver's, for
 *   instance): dma_buf_get() on it finds the kernel dma-buf importer.
 *
 * A wrapped kernel dma-buf is reached by the CPU through mmap() of its fd,
 * bracketed by DMA_BUF_IOCTL_SYNC in dma_buf_begin_cpu_access() and
 * dma_buf_end_cpu_access(); a device importing it gets device addresses over
 * that mapping. An exporter that does not support mmap (some GPU drivers)
 * gives a buffer that can still be passed to the kernel by fd, but that a
 * software device cannot map: dma_buf_map_attachment() and dma_buf_vmap()
 * then fail with the errno mmap gave. The buffer's name goes through
 * DMA_BUF_SET_NAME, and its state is read from /proc/self/fdinfo.
 *
 * The wrapper holds its own duplicate of the fd; dma_buf_fd() hands out
 * more, each a real kernel dma-buf fd. When a kernel facility is missing the
 * call fails with -ENOENT and devmem_last_error() names what the kernel
 * lacks.
 */
#ifndef DEVMEM_KDMABUF_H
#define DEVMEM_KDMABUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dma-buf.h"
#include "uapi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DEVMEM_KDMABUF_EXP_NAME_LEN 64

/* The fdinfo lines of a kernel dma-buf fd (dma_buf_show_fdinfo). */
struct devmem_kdmabuf_info {
	uint64_t size; /* "size:" */
	long count; /* "count:": the file's references, the procfs reader's not counted */
	char exp_name[DEVMEM_KDMABUF_EXP_NAME_LEN]; /* "exp_name:", e.g. "udmabuf", "system" */
	char name[DMA_BUF_NAME_LEN]; /* "name:", empty if none */
	bool has_name; /* the kernel printed a "name:" line */
};

/*
 * Read the fdinfo of @fd, a kernel dma-buf fd. 0; -EBADF if @fd is not open;
 * -EINVAL if it is not a kernel dma-buf (its /proc/self/fd link is not
 * "/dmabuf:..." or "anon_inode:dmabuf", or its fdinfo has no exp_name line);
 * or the errno of reading /proc.
 */
int devmem_kdmabuf_fdinfo(int fd, struct devmem_kdmabuf_info *info);

/* True if @dmabuf wraps a kernel dma-buf fd. */
bool devmem_is_kdmabuf(const struct dma_buf *dmabuf);

/*
 * Name the kernel dma-buf (DMA_BUF_SET_NAME on its fd, then the wrapper's
 * name, so that dma_buf_describe() shows it too). -EINVAL if @dmabuf is not a
 * kernel dma-buf or @name is NULL or longer than DMA_BUF_NAME_LEN - 1
 * characters; else the kernel's errno.
 */
int devmem_kdmabuf_set_name(struct dma_buf *dmabuf, const char *name);

/*
 * A udmabuf over [@offset, @offset + @size) of @memfd (UDMABUF_CREATE).
 * @flags: 0 or UDMABUF_FLAGS_CLOEXEC (the library's own fd is close-on-exec
 * either way; dma_buf_fd() decides for the fds it hands out). The kernel's
 * rules are checked before the device is opened, with the kernel's errno:
 * offset and size page aligned, size non-zero and at most the module's
 * size_limit_mb (64 MiB unless /sys/module/udmabuf/parameters says more):
 * -EINVAL; @memfd not an open shmem file: -EBADFD; @memfd without
 * F_SEAL_SHRINK or with F_SEAL_WRITE or F_SEAL_FUTURE_WRITE: -EINVAL. Flags
 * other than UDMABUF_FLAGS_CLOEXEC: -EINVAL. Then -ENOENT when there is no
 * /dev/udmabuf, or the kernel's errno. Returns 0 and the buffer (one
 * reference) in @out.
 */
int devmem_udmabuf_create(int memfd, uint64_t offset, uint64_t size, uint32_t flags,
			  struct dma_buf **out);

/*
 * A udmabuf over the ranges @items[0..@count) in turn (UDMABUF_CREATE_LIST),
 * each checked as devmem_udmabuf_create() checks its range; @count above the
 * module's list_limit (1024 by default): -EINVAL; @items NULL: -EFAULT.
 */
int devmem_udmabuf_create_list(const struct udmabuf_create_item *items, uint32_t count,
			       uint32_t flags, struct dma_buf **out);

/*
 * A udmabuf of @size bytes (a non-zero page multiple, else -EINVAL) over a
 * memfd of its own, sealed against shrinking and growing. As
 * devmem_udmabuf_create() otherwise.
 */
int devmem_udmabuf_alloc(size_t size, struct dma_buf **out);

/*
 * @len bytes (rounded up to whole pages, as the kernel does; 0 is -EINVAL)
 * from the dma-heap /dev/dma_heap/@heap (DMA_HEAP_IOCTL_ALLOC). @fd_flags:
 * O_RDWR and O_CLOEXEC only, @heap_flags: 0 only (-EINVAL otherwise, as the
 * kernel); @heap: a name, no '/' (-EINVAL). -ENOENT when there is no
 * /dev/dma_heap or no such heap; else the kernel's errno. The CPU mapping
 * needs O_RDWR for writing. Returns 0 and the buffer in @out.
 */
int devmem_dma_heap_alloc(const char *heap, size_t len, uint32_t fd_flags, uint64_t heap_flags,
			  struct dma_buf **out);

#ifdef __cplusplus
}
#endif

#endif
