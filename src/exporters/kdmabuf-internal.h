/* SPDX-License-Identifier: MIT */
/*
 * What the kernel dma-buf exporters (udmabuf.c, dmaheap.c) share with the
 * wrapper of kernel dma-buf fds (kdmabuf.c), and what the tests reach.
 */
#ifndef DEVMEM_EXPORTERS_KDMABUF_INTERNAL_H
#define DEVMEM_EXPORTERS_KDMABUF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "devmem/device.h"
#include "devmem/kdmabuf.h"

struct dma_buf_attachment;
struct sg_table;

/*
 * map_dma_buf for a buffer a software device reaches through one CPU
 * mapping, [@vaddr, @vaddr + @size) (a wrapped kernel dma-buf, a software
 * udmabuf): device addresses over it, cut at the largest segment an sg
 * entry holds. 0 and the table in *@out, or a negative errno; @who names
 * the buffer in devmem_last_error(). vaddr_unmap_dma_buf() undoes it.
 */
int vaddr_map_dma_buf(struct dma_buf_attachment *attach, void *vaddr, size_t size,
		      enum dma_data_direction dir, const char *who, struct sg_table **out);
void vaddr_unmap_dma_buf(struct dma_buf_attachment *attach, struct sg_table *sgt);

/*
 * Wrap @fd, a kernel dma-buf fd, as a dma_buf. On success the buffer owns
 * @fd (closed on release); on failure the caller still does.
 */
int kdmabuf_wrap(int fd, struct dma_buf **out);

/*
 * Whether @fd is a kernel dma-buf: its /proc/self/fd link names the dma-buf
 * pseudo file system's file ("/dmabuf:NAME" since 5.x, "anon_inode:dmabuf"
 * before).
 */
bool kdmabuf_fd_is_dmabuf(int fd);

/*
 * Parse the text of a dma-buf's fdinfo (@len bytes) into @info. 0, or
 * -EINVAL if it has no "exp_name:" line (not a dma-buf's fdinfo).
 */
int kdmabuf_parse_fdinfo(const char *text, size_t len, struct devmem_kdmabuf_info *info);

/*
 * The argument rules of the kernel's udmabuf_create() and
 * dma_heap_ioctl_allocate(), shared by the kernel path (udmabuf.c,
 * dmaheap.c) and the software one (swudmabuf.c), each with the kernel's
 * errno: the ranges (page aligned, not empty, within size_limit_mb), one
 * range's memfd (an open shmem file sealed against shrinking and not
 * against writing), the module's list_limit, and a heap allocation's name,
 * flags and length.
 */
int udmabuf_check_ranges(const struct udmabuf_create_item *items, uint32_t count);
int udmabuf_check_memfd(int memfd);
long udmabuf_list_limit(void);
int dma_heap_check(const char *heap, size_t len, uint32_t fd_flags, uint64_t heap_flags);

/*
 * Software udmabufs and dma-heap buffers (swudmabuf.c), for a machine
 * without /dev/udmabuf or /dev/dma_heap: the buffer's memory is the pages of
 * the memfd ranges it was made of, so what a device writes through its
 * mapping the owner of the memfd reads through its own.
 *
 * The fd a program holds for such a buffer (swudmabuf_fd()) is an open file
 * description of the first range's memfd of its own: mmap() of it at offset
 * 0 reaches the same pages in any process it is passed to. dma_buf_get()
 * tells it from the memfd itself by that description (kcmp), so the memfd
 * is refused (-EINVAL) as the kernel refuses a file that is not a dma-buf.
 */

/*
 * A buffer over @items[0..@count) (checked by the caller with
 * udmabuf_check_ranges() and udmabuf_check_memfd()), named @exp_name in
 * fdinfo ("udmabuf"). A range past the end of its memfd: -EINVAL, as the
 * kernel cannot pin what the file does not hold. The buffer holds its own
 * duplicates of the memfds. 0 and the buffer (one reference) in @out.
 */
int swudmabuf_create(const struct udmabuf_create_item *items, uint32_t count, const char *exp_name,
		     struct dma_buf **out);

/*
 * A buffer of @len bytes (rounded up to pages, checked by dma_heap_check())
 * in a memfd of its own, named @heap ("system") in fdinfo; readable only when
 * @fd_flags has no O_RDWR, as a dma-heap's file. -ENOMEM beyond the memory
 * available.
 */
int swudmabuf_heap_alloc(const char *heap, size_t len, uint32_t fd_flags, struct dma_buf **out);

/* True if @dmabuf was made by swudmabuf_create() or swudmabuf_heap_alloc(). */
bool swudmabuf_is(const struct dma_buf *dmabuf);

/* A new fd for the program (O_CLOEXEC if in @flags), or a negative errno. */
int swudmabuf_fd(struct dma_buf *dmabuf, int flags);

/*
 * mmap() of @len bytes at @off of the buffer, for fd @fd (one of
 * swudmabuf_fd()'s), with the checks of the kernel's dma_buf_mmap_internal()
 * and of the exporter's mmap (udmabuf: MAP_SHARED only). MAP_FAILED with
 * errno set on failure, as mmap().
 */
void *swudmabuf_mmap(struct dma_buf *dmabuf, int fd, void *addr, size_t len, int prot, int flags,
		     off_t off);

#endif
