// SPDX-License-Identifier: MIT
/*
 * udmabuf: real kernel dma-bufs over the pages of sealed memfds, made by
 * /dev/udmabuf (drivers/dma-buf/udmabuf.c, CONFIG_UDMABUF).
 *
 * The arguments are checked here first, with the rules and errno of the
 * kernel's udmabuf_create(), in its order, so that bad input is refused the
 * same way on a machine without the device; only then is the device asked.
 * The fd it returns is wrapped as a kernel dma-buf (kdmabuf.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "exporters/kdmabuf-internal.h"
#include "lib/compiler.h"
#include "lib/error.h"

#define UDMABUF_DEV "/dev/udmabuf"
#define UDMABUF_PARAMS "/sys/module/udmabuf/parameters/"

/* The module parameters' defaults, when the module is not there to ask. */
#define UDMABUF_LIST_LIMIT 1024
#define UDMABUF_SIZE_LIMIT_MB 64

/* The seals the kernel wants on the memfd, and those it refuses. */
#define UDMABUF_SEALS_WANTED F_SEAL_SHRINK
#define UDMABUF_SEALS_DENIED (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)

/* A module parameter of udmabuf, or @def when it cannot be read. */
static long udmabuf_param(const char *name, long def)
{
	char path[128];
	long val = def;
	FILE *f;

	snprintf(path, sizeof(path), UDMABUF_PARAMS "%s", name);
	f = fopen(path, "re");
	if (!f)
		return def;
	if (fscanf(f, "%ld", &val) != 1)
		val = def;
	fclose(f);
	return val;
}

long udmabuf_list_limit(void)
{
	return udmabuf_param("list_limit", UDMABUF_LIST_LIMIT);
}

/* The ranges: page aligned, not empty in total, within size_limit_mb. */
int udmabuf_check_ranges(const struct udmabuf_create_item *items, uint32_t count)
{
	uint64_t pglimit = (uint64_t)udmabuf_param("size_limit_mb", UDMABUF_SIZE_LIMIT_MB)
			   << (20 - PAGE_SHIFT);
	uint64_t pagecount = 0;
	uint32_t i;

	for (i = 0; i < count; i++) {
		if (!IS_ALIGNED(items[i].offset, PAGE_SIZE))
			return devmem_err(-EINVAL, "udmabuf: offset %llu is not page aligned",
					  (unsigned long long)items[i].offset);
		if (!IS_ALIGNED(items[i].size, PAGE_SIZE))
			return devmem_err(-EINVAL, "udmabuf: size %llu is not page aligned",
					  (unsigned long long)items[i].size);
		pagecount += items[i].size >> PAGE_SHIFT;
		if (pagecount > pglimit)
			return devmem_err(-EINVAL,
					  "udmabuf: %llu pages is more than size_limit_mb allows "
					  "(%llu pages)",
					  (unsigned long long)pagecount,
					  (unsigned long long)pglimit);
	}
	if (!pagecount)
		return devmem_err(-EINVAL, "udmabuf: size 0");
	return 0;
}

/* The memfd: an open shmem file, sealed against shrinking, not against writing. */
int udmabuf_check_memfd(int memfd)
{
	int seals;

	if (fcntl(memfd, F_GETFD) < 0)
		return devmem_err(-EBADFD, "udmabuf: memfd %d is not open", memfd);
	/* only shmem files have seals: the kernel's test for "is a memfd" */
	seals = fcntl(memfd, F_GET_SEALS);
	if (seals < 0)
		return devmem_err(-EBADFD, "udmabuf: fd %d is not a memfd", memfd);
	if ((seals & UDMABUF_SEALS_WANTED) != UDMABUF_SEALS_WANTED)
		return devmem_err(-EINVAL, "udmabuf: memfd %d is not sealed with F_SEAL_SHRINK",
				  memfd);
	if (seals & UDMABUF_SEALS_DENIED)
		return devmem_err(-EINVAL, "udmabuf: memfd %d is sealed against writing", memfd);
	return 0;
}

static int udmabuf_check(const struct udmabuf_create_item *items, uint32_t count, uint32_t flags)
{
	uint32_t i;
	int ret;

	/* the kernel ignores unknown bits; a library call refuses what it cannot honour */
	if (flags & ~UDMABUF_FLAGS_CLOEXEC)
		return devmem_err(-EINVAL, "udmabuf: unknown flags %#x", flags);
	ret = udmabuf_check_ranges(items, count);
	if (ret)
		return ret;
	for (i = 0; i < count; i++) {
		ret = udmabuf_check_memfd((int)items[i].memfd);
		if (ret)
			return ret;
	}
	return 0;
}

static int udmabuf_open(void)
{
	int fd = open(UDMABUF_DEV, O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT)
		return devmem_err(-ENOENT, "no " UDMABUF_DEV ": the kernel lacks CONFIG_UDMABUF "
					   "or has not loaded the udmabuf module");
	return devmem_err(-errno, UDMABUF_DEV ": %s", strerror(errno));
}

/* Issue @request with @arg on the device, and wrap the dma-buf fd it returns. */
static int udmabuf_ioctl(unsigned long request, void *arg, struct dma_buf **out)
{
	int dev, fd, ret;

	dev = udmabuf_open();
	if (dev < 0)
		return dev;
	fd = ioctl(dev, request, arg);
	ret = -errno;
	close(dev);
	if (fd < 0)
		return devmem_err(ret, "udmabuf: %s: %s",
				  request == UDMABUF_CREATE ? "UDMABUF_CREATE" :
							      "UDMABUF_CREATE_LIST",
				  strerror(-ret));
	ret = kdmabuf_wrap(fd, out);
	if (ret)
		close(fd);
	return ret;
}

int devmem_udmabuf_create(int memfd, uint64_t offset, uint64_t size, uint32_t flags,
			  struct dma_buf **out)
{
	struct udmabuf_create_item item = {
		.memfd = (__u32)memfd,
		.offset = offset,
		.size = size,
	};
	/* the library's own fd never crosses an exec: dma_buf_fd() decides for the rest */
	struct udmabuf_create create = {
		.memfd = (__u32)memfd,
		.flags = UDMABUF_FLAGS_CLOEXEC,
		.offset = offset,
		.size = size,
	};
	int ret;

	if (!out)
		return devmem_err(-EINVAL, "udmabuf: no result pointer");
	if (memfd < 0)
		return devmem_err(-EBADFD, "udmabuf: memfd %d is not open", memfd);
	ret = udmabuf_check(&item, 1, flags);
	if (ret)
		return ret;
	return udmabuf_ioctl(UDMABUF_CREATE, &create, out);
}

int devmem_udmabuf_create_list(const struct udmabuf_create_item *items, uint32_t count,
			       uint32_t flags, struct dma_buf **out)
{
	struct udmabuf_create_list *head;
	long list_limit = udmabuf_list_limit();
	int ret;

	if (!out)
		return devmem_err(-EINVAL, "udmabuf: no result pointer");
	if (count > list_limit)
		return devmem_err(-EINVAL, "udmabuf: %u ranges, more than list_limit (%ld)", count,
				  list_limit);
	if (!items && count)
		return devmem_err(-EFAULT, "udmabuf: no ranges");
	ret = udmabuf_check(items, count, flags);
	if (ret)
		return ret;
	head = calloc(1, sizeof(*head) + (size_t)count * sizeof(*items));
	if (!head)
		return devmem_err(-ENOMEM, "udmabuf: no memory for %u ranges", count);
	head->flags = UDMABUF_FLAGS_CLOEXEC;
	head->count = count;
	memcpy(head->list, items, (size_t)count * sizeof(*items));
	ret = udmabuf_ioctl(UDMABUF_CREATE_LIST, head, out);
	free(head);
	return ret;
}

int devmem_udmabuf_alloc(size_t size, struct dma_buf **out)
{
	int memfd, ret;

	if (!out)
		return devmem_err(-EINVAL, "udmabuf: no result pointer");
	if (!size || !IS_ALIGNED(size, PAGE_SIZE))
		return devmem_err(-EINVAL, "udmabuf: size %zu is not a non-zero multiple of %lu",
				  size, PAGE_SIZE);
	memfd = memfd_create("devmem-udmabuf", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (memfd < 0)
		return devmem_err(-errno, "udmabuf: memfd_create: %s", strerror(errno));
	if (ftruncate(memfd, (off_t)size)) {
		ret = devmem_err(-errno, "udmabuf: sizing the memfd to %zu bytes: %s", size,
				 strerror(errno));
		goto out;
	}
	if (fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
		ret = devmem_err(-errno, "udmabuf: sealing the memfd: %s", strerror(errno));
		goto out;
	}
	ret = devmem_udmabuf_create(memfd, 0, size, UDMABUF_FLAGS_CLOEXEC, out);
out:
	/* the udmabuf holds the pages: the memfd is not needed past the ioctl */
	close(memfd);
	return ret;
}
