/* SPDX-License-Identifier: MIT */
/*
 * What the kernel dma-buf exporters (udmabuf.c, dmaheap.c) share with the
 * wrapper of kernel dma-buf fds (kdmabuf.c), and what the tests reach.
 */
#ifndef DEVMEM_EXPORTERS_KDMABUF_INTERNAL_H
#define DEVMEM_EXPORTERS_KDMABUF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "devmem/kdmabuf.h"

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

#endif
