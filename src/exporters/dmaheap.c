// SPDX-License-Identifier: MIT
/*
 * dma-heaps: real kernel dma-bufs allocated from /dev/dma_heap/NAME
 * (drivers/dma-buf/dma-heap.c, CONFIG_DMABUF_HEAPS; "system" is
 * CONFIG_DMABUF_HEAPS_SYSTEM).
 *
 * The arguments are checked here first, with the rules and errno of the
 * kernel's dma_heap_ioctl_allocate(), so that bad input is refused the same
 * way on a machine without heaps; the fd the heap returns is wrapped as a
 * kernel dma-buf (kdmabuf.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-heap.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exporters/kdmabuf-internal.h"
#include "lib/compiler.h"
#include "lib/error.h"

#define DMA_HEAP_DIR "/dev/dma_heap"

/* What the kernel accepts, whatever its headers say here. */
#define DMA_HEAP_FD_FLAGS (O_RDWR | O_CLOEXEC)
#define DMA_HEAP_HEAP_FLAGS 0ULL

int dma_heap_check(const char *heap, size_t len, uint32_t fd_flags, uint64_t heap_flags)
{
	if (!heap || !heap[0] || strchr(heap, '/') || strlen(heap) > 64)
		return devmem_err(-EINVAL, "dma-heap: '%s' is not a heap name",
				  heap ? heap : "(null)");
	if (fd_flags & ~(uint32_t)DMA_HEAP_FD_FLAGS)
		return devmem_err(-EINVAL, "dma-heap: fd_flags %#x: only O_RDWR and O_CLOEXEC",
				  fd_flags);
	if (heap_flags & ~DMA_HEAP_HEAP_FLAGS)
		return devmem_err(-EINVAL, "dma-heap: heap_flags %#llx: no heap flag is defined",
				  (unsigned long long)heap_flags);
	/* the kernel rounds up to whole pages; what rounds to nothing is refused */
	if (!ALIGN(len, PAGE_SIZE))
		return devmem_err(-EINVAL, "dma-heap: length %zu is no page", len);
	return 0;
}

static int dma_heap_open(const char *heap)
{
	char path[128];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), DMA_HEAP_DIR "/%s", heap);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	if (errno != ENOENT)
		return devmem_err(-errno, "%s: %s", path, strerror(errno));
	if (stat(DMA_HEAP_DIR, &st))
		return devmem_err(-ENOENT,
				  "no " DMA_HEAP_DIR ": the kernel lacks CONFIG_DMABUF_HEAPS");
	return devmem_err(-ENOENT, "no dma-heap '%s' in " DMA_HEAP_DIR, heap);
}

int devmem_dma_heap_alloc(const char *heap, size_t len, uint32_t fd_flags, uint64_t heap_flags,
			  struct dma_buf **out)
{
	struct dma_heap_allocation_data data = {
		.len = ALIGN(len, PAGE_SIZE),
		/* the library's own fd never crosses an exec: dma_buf_fd() decides for the rest */
		.fd_flags = fd_flags | O_CLOEXEC,
		.heap_flags = heap_flags,
	};
	int dev, ret;

	if (!out)
		return devmem_err(-EINVAL, "dma-heap: no result pointer");
	ret = dma_heap_check(heap, len, fd_flags, heap_flags);
	if (ret)
		return ret;
	dev = dma_heap_open(heap);
	if (dev < 0)
		return dev;
	ret = ioctl(dev, DMA_HEAP_IOCTL_ALLOC, &data);
	if (ret) {
		ret = devmem_err(-errno, "dma-heap %s: DMA_HEAP_IOCTL_ALLOC of %llu bytes: %s",
				 heap, (unsigned long long)data.len, strerror(errno));
		close(dev);
		return ret;
	}
	close(dev);
	ret = kdmabuf_wrap((int)data.fd, out);
	if (ret)
		close((int)data.fd);
	return ret;
}
