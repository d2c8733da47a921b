// SPDX-License-Identifier: MIT
/*
 * Software udmabufs and dma-heap buffers: what /dev/udmabuf and
 * /dev/dma_heap/system give, made in the process where the kernel has
 * neither device.
 *
 * A udmabuf shares pages with the memfd it was made of: the kernel pins the
 * memfd's folios and the importer's sg table points at them. Here the ranges
 * are mapped, MAP_SHARED, one after the other into one stretch of the
 * process's address space, and importers get device addresses of that
 * stretch: what the software NIC writes is in the memfd's own pages.
 *
 * Three files are involved and must not be confused, as the kernel never
 * confuses a dma-buf's file with the memfd behind it:
 * - the buffer's identity in the dma-buf core (dmabuf->fd): an empty sealed
 *   memfd of the core's own, never seen by anyone;
 * - the file the program's fds share (swb->file): an open file description
 *   of the first range's memfd, made here, so that mmap() of it at offset 0
 *   reaches the buffer's pages in whatever process it is passed to;
 * - the program's memfd, another description of the same inode.
 * dma_buf_get() on a program's fd finds nothing under the identity and asks
 * the importers; ours answers first, telling the buffer's description from
 * the memfd's with kcmp(KCMP_FILE).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/kcmp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "exporters/kdmabuf-internal.h"
#include "lib/compiler.h"
#include "lib/debug.h"
#include "lib/error.h"
#include "lib/list.h"
#include "lib/meminfo.h"
#include "lib/refcount.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* linux 5.14 */
#endif

struct swudmabuf_range {
	int memfd; /* our own duplicate: the pages live while the buffer does */
	uint64_t offset;
	uint64_t size;
};

/* dmabuf->priv. Immutable after export, but for @node. */
struct swudmabuf {
	struct dma_buf *dmabuf;
	void *vaddr; /* every range, in order, MAP_SHARED */
	size_t size;
	bool shared_only; /* udmabuf's mmap refuses private mappings; a heap's does not */
	int file; /* the description the program's fds share */
	struct stat file_st; /* its identity: the first memfd's inode */
	struct list_head node; /* in swudmabuf_list */
	unsigned int nr_ranges;
	struct swudmabuf_range ranges[];
};

/* Live buffers, for the importer: only dma_buf_get()'s slow path walks it. */
static pthread_mutex_t swudmabuf_lock = PTHREAD_MUTEX_INITIALIZER;
static LIST_HEAD(swudmabuf_list); /* protected by swudmabuf_lock */

static const struct dma_buf_ops swudmabuf_ops;

bool swudmabuf_is(const struct dma_buf *dmabuf)
{
	return dmabuf && dmabuf->ops == &swudmabuf_ops;
}

/* map_dma_buf / unmap_dma_buf: device addresses of the stretch (kdmabuf.c) */

static int swudmabuf_map_dma_buf(struct dma_buf_attachment *attach, enum dma_data_direction dir,
				 struct sg_table **out)
{
	struct swudmabuf *swb = attach->dmabuf->priv;

	return vaddr_map_dma_buf(attach, swb->vaddr, swb->size, dir, "udmabuf", out);
}

static void swudmabuf_unmap_dma_buf(struct dma_buf_attachment *attach, struct sg_table *sgt,
				    enum dma_data_direction dir)
{
	vaddr_unmap_dma_buf(attach, sgt);
}

static void swudmabuf_free(struct swudmabuf *swb)
{
	unsigned int i;

	if (swb->vaddr && swb->vaddr != MAP_FAILED)
		munmap(swb->vaddr, swb->size);
	for (i = 0; i < swb->nr_ranges; i++)
		if (swb->ranges[i].memfd >= 0)
			close(swb->ranges[i].memfd);
	if (swb->file >= 0)
		close(swb->file);
	free(swb);
}

static void swudmabuf_release(struct dma_buf *dmabuf)
{
	struct swudmabuf *swb = dmabuf->priv;

	pthread_mutex_lock(&swudmabuf_lock);
	list_del(&swb->node);
	pthread_mutex_unlock(&swudmabuf_lock);
	swudmabuf_free(swb);
}

/* The pages are the memfd's, coherent with every CPU mapping of them. */
static int swudmabuf_cpu_access(struct dma_buf *dmabuf, enum dma_data_direction dir)
{
	return 0;
}

static int swudmabuf_vmap(struct dma_buf *dmabuf, void **vaddr)
{
	struct swudmabuf *swb = dmabuf->priv;

	*vaddr = swb->vaddr;
	return 0;
}

static const struct dma_buf_ops swudmabuf_ops = {
	.map_dma_buf = swudmabuf_map_dma_buf,
	.unmap_dma_buf = swudmabuf_unmap_dma_buf,
	.release = swudmabuf_release,
	.begin_cpu_access = swudmabuf_cpu_access,
	.end_cpu_access = swudmabuf_cpu_access,
	.vmap = swudmabuf_vmap,
};

/* creation */

/* Map [@off, @off + @len) of the buffer at @addr (MAP_FIXED), range by range. */
static int swudmabuf_map_at(const struct swudmabuf *swb, char *addr, uint64_t off, size_t len,
			    int prot, int flags)
{
	uint64_t start = 0, skip, piece;
	unsigned int i;

	for (i = 0; i < swb->nr_ranges && len; i++) {
		const struct swudmabuf_range *r = &swb->ranges[i];

		if (off >= start + r->size) {
			start += r->size;
			continue;
		}
		skip = off - start;
		piece = min(r->size - skip, (uint64_t)len);
		if (mmap(addr, piece, prot, flags | MAP_FIXED, r->memfd,
			 (off_t)(r->offset + skip)) == MAP_FAILED)
			return -errno;
		addr += piece;
		off += piece;
		len -= piece;
		start += r->size;
	}
	return 0;
}

/*
 * One stretch of address space for every range, in order. The pages are
 * faulted in now: udmabuf pins the memfd's folios when it is made, so a
 * device never pays the first touch on the data path.
 */
static int swudmabuf_map(struct swudmabuf *swb)
{
	int ret;

	swb->vaddr = mmap(NULL, swb->size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			  -1, 0);
	if (swb->vaddr == MAP_FAILED)
		return devmem_err(-errno, "udmabuf: no address space for %zu bytes", swb->size);
	ret = swudmabuf_map_at(swb, swb->vaddr, 0, swb->size, PROT_READ | PROT_WRITE, MAP_SHARED);
	if (ret)
		return devmem_err(ret, "udmabuf: mapping the memfd ranges: %s", strerror(-ret));
	if (madvise(swb->vaddr, swb->size, MADV_POPULATE_WRITE) && errno != EINVAL)
		return devmem_err(errno == EFAULT ? -ENOMEM : -errno,
				  "udmabuf: populating %zu bytes: %s", swb->size, strerror(errno));
	return 0;
}

/* The ranges, each within its memfd (the kernel cannot pin what the file does not hold). */
static int swudmabuf_take_ranges(struct swudmabuf *swb, const struct udmabuf_create_item *items,
				 uint32_t count)
{
	struct stat st;
	uint32_t i;

	for (i = 0; i < count; i++) {
		struct swudmabuf_range *r = &swb->ranges[i];
		int memfd = (int)items[i].memfd;

		if (fstat(memfd, &st))
			return devmem_err(-EBADFD, "udmabuf: memfd %d is not open", memfd);
		if (items[i].offset > (uint64_t)st.st_size ||
		    items[i].size > (uint64_t)st.st_size - items[i].offset)
			return devmem_err(-EINVAL,
					  "udmabuf: range %llu+%llu is beyond the end of memfd %d "
					  "(%lld bytes)",
					  (unsigned long long)items[i].offset,
					  (unsigned long long)items[i].size, memfd,
					  (long long)st.st_size);
		r->memfd = fcntl(memfd, F_DUPFD_CLOEXEC, 0);
		if (r->memfd < 0)
			return devmem_err(-errno, "udmabuf: dup of memfd %d: %s", memfd,
					  strerror(errno));
		r->offset = items[i].offset;
		r->size = items[i].size;
		swb->nr_ranges = i + 1;
		swb->size += r->size;
	}
	return 0;
}

/* The description the program's fds will share: the first memfd's inode, @access. */
static int swudmabuf_open_file(struct swudmabuf *swb, int access)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", swb->ranges[0].memfd);
	swb->file = open(path, access | O_CLOEXEC);
	if (swb->file < 0)
		return devmem_err(-errno, "udmabuf: reopening the memfd through %s: %s", path,
				  strerror(errno));
	if (fstat(swb->file, &swb->file_st))
		return devmem_err(-errno, "udmabuf: fstat: %s", strerror(errno));
	return 0;
}

static struct swudmabuf *swudmabuf_alloc(uint32_t count)
{
	struct swudmabuf *swb;
	uint32_t i;

	swb = calloc(1, sizeof(*swb) + (size_t)count * sizeof(swb->ranges[0]));
	if (!swb)
		return NULL;
	swb->file = -1;
	for (i = 0; i < count; i++)
		swb->ranges[i].memfd = -1;
	INIT_LIST_HEAD(&swb->node);
	return swb;
}

static int swudmabuf_export(const struct udmabuf_create_item *items, uint32_t count,
			    const char *exp_name, int access, bool shared_only,
			    struct dma_buf **out)
{
	DEFINE_DMA_BUF_EXPORT_INFO(info);
	struct swudmabuf *swb;
	int ret;

	if (!count)
		return devmem_err(-EINVAL, "udmabuf: no range");
	swb = swudmabuf_alloc(count);
	if (!swb)
		return devmem_err(-ENOMEM, "udmabuf: no memory for %u ranges", count);
	swb->shared_only = shared_only;
	ret = swudmabuf_take_ranges(swb, items, count);
	if (ret)
		goto err_free;
	ret = swudmabuf_open_file(swb, access);
	if (ret)
		goto err_free;
	ret = swudmabuf_map(swb);
	if (ret)
		goto err_free;
	info.exp_name = exp_name;
	info.ops = &swudmabuf_ops;
	info.size = swb->size;
	info.priv = swb;
	ret = dma_buf_export(&info, &swb->dmabuf);
	if (ret)
		goto err_free;
	pthread_mutex_lock(&swudmabuf_lock);
	list_add(&swb->node, &swudmabuf_list);
	pthread_mutex_unlock(&swudmabuf_lock);
	*out = swb->dmabuf;
	return 0;

err_free:
	swudmabuf_free(swb);
	return ret;
}

int swudmabuf_create(const struct udmabuf_create_item *items, uint32_t count, const char *exp_name,
		     struct dma_buf **out)
{
	if (!out || (!items && count))
		return devmem_err(-EINVAL, "udmabuf: no ranges or result pointer");
	/* a udmabuf's file is always O_RDWR (udmabuf_create exports it so) */
	return swudmabuf_export(items, count, exp_name, O_RDWR, true, out);
}

int swudmabuf_heap_alloc(const char *heap, size_t len, uint32_t fd_flags, struct dma_buf **out)
{
	struct udmabuf_create_item item = { .offset = 0 };
	char want[24], have[24];
	const char *source;
	uint64_t avail;
	int memfd, ret;

	if (!out)
		return devmem_err(-EINVAL, "dma-heap: no result pointer");
	ret = dma_heap_check(heap, len, fd_flags, 0);
	if (ret)
		return ret;
	item.size = ALIGN((uint64_t)len, PAGE_SIZE);
	/* a heap fails what it cannot back with -ENOMEM, before the OOM killer would */
	avail = mem_available(&source);
	if (item.size > avail)
		return devmem_err(-ENOMEM, "dma-heap %s: %s cannot be backed: %s available (%s)",
				  heap, mem_fmt(item.size, want, sizeof(want)),
				  mem_fmt(avail, have, sizeof(have)), source);
	memfd = memfd_create("dmabuf-heap", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (memfd < 0)
		return devmem_err(-errno, "dma-heap: memfd_create: %s", strerror(errno));
	if (ftruncate(memfd, (off_t)item.size) ||
	    fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
		ret = devmem_err(errno == EFBIG ? -ENOMEM : -errno,
				 "dma-heap: sizing %llu bytes: %s", (unsigned long long)item.size,
				 strerror(errno));
		goto out;
	}
	item.memfd = (__u32)memfd;
	/* the heap exports with fd_flags: a file without O_RDWR is read-only */
	ret = swudmabuf_export(&item, 1, heap, (fd_flags & O_ACCMODE) == O_RDWR ? O_RDWR : O_RDONLY,
			       false, out);
out:
	/* the buffer holds its own duplicate */
	close(memfd);
	return ret;
}

int swudmabuf_fd(struct dma_buf *dmabuf, int flags)
{
	struct swudmabuf *swb;
	int fd;

	if (!swudmabuf_is(dmabuf))
		return devmem_err(-EINVAL, "not a software udmabuf");
	swb = dmabuf->priv;
	fd = fcntl(swb->file, (flags & O_CLOEXEC) ? F_DUPFD_CLOEXEC : F_DUPFD, 0);
	if (fd < 0)
		return devmem_err(-errno, "udmabuf: dup: %s", strerror(errno));
	return fd;
}

/* mmap of the program's fd */

static void *swudmabuf_mmap_fail(int err)
{
	errno = err;
	return MAP_FAILED;
}

void *swudmabuf_mmap(struct dma_buf *dmabuf, int fd, void *addr, size_t len, int prot, int flags,
		     off_t off)
{
	struct swudmabuf *swb = dmabuf->priv;
	size_t pages = DIV_ROUND_UP(len, PAGE_SIZE);
	int type = flags & MAP_TYPE, access;
	void *base;
	int ret;

	/* do_mmap()'s own checks come first */
	if (!len || pages > SIZE_MAX / PAGE_SIZE || off < 0 ||
	    !IS_ALIGNED((uint64_t)off, PAGE_SIZE))
		return swudmabuf_mmap_fail(EINVAL);
	access = fcntl(fd, F_GETFL);
	if (access < 0)
		return swudmabuf_mmap_fail(EBADF);
	access &= O_ACCMODE;
	if (access == O_WRONLY || (type != MAP_PRIVATE && (prot & PROT_WRITE) && access != O_RDWR))
		return swudmabuf_mmap_fail(EACCES);
	/* dma_buf_mmap_internal(): the whole mapping within the buffer */
	if ((uint64_t)off / PAGE_SIZE + pages > swb->size / PAGE_SIZE)
		return swudmabuf_mmap_fail(EINVAL);
	if (type == MAP_PRIVATE) {
		/* mmap_udmabuf() wants VM_SHARED; a heap maps its pages as they are */
		if (swb->shared_only)
			return swudmabuf_mmap_fail(EINVAL);
		flags = (flags & ~MAP_TYPE) | MAP_SHARED;
	}
	if (swb->nr_ranges == 1)
		return mmap(addr, len, prot, flags, fd, (off_t)swb->ranges[0].offset + off);

	/* several ranges: reserve the stretch, then lay each piece in it */
	if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
		base = mmap(addr, len, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
				    (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)),
			    -1, 0);
	} else {
		base = mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
			    0);
	}
	if (base == MAP_FAILED)
		return MAP_FAILED;
	ret = swudmabuf_map_at(swb, base, (uint64_t)off, pages * PAGE_SIZE, prot,
			       flags & ~(MAP_FIXED | MAP_FIXED_NOREPLACE));
	if (ret) {
		munmap(base, len);
		return swudmabuf_mmap_fail(-ret);
	}
	return base;
}

/* the importer: dma_buf_get() of a program's fd */

static long swudmabuf_kcmp_file(int fd1, int fd2)
{
	pid_t pid = getpid();

	return syscall(SYS_kcmp, pid, pid, KCMP_FILE, fd1, fd2);
}

/* The live buffer whose file @fd's description is, or NULL; swudmabuf_lock held. */
static struct swudmabuf *swudmabuf_find(int fd, const struct stat *st, bool *memfd)
{
	struct swudmabuf *swb;
	unsigned int i;
	long same;

	*memfd = false;
	list_for_each_entry(swb, &swudmabuf_list, node) {
		for (i = 0; i < swb->nr_ranges; i++) {
			struct stat rst;

			if (fstat(swb->ranges[i].memfd, &rst) || rst.st_dev != st->st_dev ||
			    rst.st_ino != st->st_ino)
				continue;
			*memfd = true;
			if (i)
				continue;
			same = swudmabuf_kcmp_file(fd, swb->file);
			/* without kcmp (CONFIG_KCMP off) the inode is all there is to go by */
			if (same == 0 || (same < 0 && errno == ENOSYS))
				return swb;
		}
	}
	return NULL;
}

/* The program's fds of our buffers, and the memfds behind them (to refuse them). */
static bool swudmabuf_importer_match(int fd, const struct stat *st)
{
	struct swudmabuf *swb;
	bool memfd;

	pthread_mutex_lock(&swudmabuf_lock);
	swb = swudmabuf_find(fd, st, &memfd);
	pthread_mutex_unlock(&swudmabuf_lock);
	return swb || memfd;
}

static int swudmabuf_importer_import(int fd, const struct stat *st, struct dma_buf **out)
{
	struct swudmabuf *swb;
	int ret = 0;
	bool memfd;

	pthread_mutex_lock(&swudmabuf_lock);
	swb = swudmabuf_find(fd, st, &memfd);
	/* a buffer whose last reference is gone is on its way out: not found */
	if (swb && kref_get_unless_zero(&swb->dmabuf->refcount))
		*out = swb->dmabuf;
	else
		ret = devmem_err(-EINVAL, "fd %d is %s, not a dma-buf", fd,
				 memfd ? "the memfd behind a udmabuf" : "gone");
	pthread_mutex_unlock(&swudmabuf_lock);
	return ret;
}

static const struct dma_buf_importer swudmabuf_importer = {
	.name = "udmabuf",
	.match = swudmabuf_importer_match,
	.import = swudmabuf_importer_import,
};

/*
 * Before the host exporter's importer (default priority), which would wrap
 * a memfd behind a udmabuf as a host buffer of its own.
 */
static void __attribute__((constructor(200))) swudmabuf_register_importer(void)
{
	int ret = dma_buf_register_importer(&swudmabuf_importer);

	DEVMEM_BUG_ON(ret);
}
