// SPDX-License-Identifier: MIT
/*
 * Kernel dma-bufs as libdevmem dma_bufs: the wrapper every real kernel
 * dma-buf fd gets (a udmabuf, a dma-heap buffer, a GPU driver's), and the
 * importer that lets dma_buf_get() find such an fd.
 *
 * The kernel does the memory: the wrapper maps the fd into this process with
 * mmap() and serves importers device addresses over that mapping, exactly as
 * the host exporter serves its memfd's mapping; CPU access is bracketed with
 * DMA_BUF_IOCTL_SYNC, so an exporter that needs cache maintenance gets it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/dma-buf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exporters/kdmabuf-internal.h"
#include "lib/compiler.h"
#include "lib/debug.h"
#include "lib/error.h"

/* The longest sg entry that is still a whole number of pages. */
/* the largest sg entry: dma_length is 32 bits */
#define VADDR_MAX_SEGMENT ((size_t)UINT_MAX & ~(PAGE_SIZE - 1))

/* dmabuf->priv of a wrapped kernel dma-buf. Immutable after export. */
struct kdmabuf {
	void *vaddr; /* MAP_SHARED mapping of the fd, @size bytes; NULL if mmap failed */
	int map_err; /* mmap's negative errno when vaddr is NULL */
	size_t size;
	char exp_name[DEVMEM_KDMABUF_EXP_NAME_LEN]; /* the kernel exporter's */
};

/* fdinfo */

/* Copy the rest of the line at @p (up to @end) into @buf, cut to fit. */
static void kdmabuf_copy_value(const char *p, const char *end, char *buf, size_t size)
{
	size_t len = (size_t)(end - p);

	if (len >= size)
		len = size - 1;
	memcpy(buf, p, len);
	buf[len] = '\0';
}

int kdmabuf_parse_fdinfo(const char *text, size_t len, struct devmem_kdmabuf_info *info)
{
	const char *p = text, *end = text + len, *eol, *val;
	bool have_exp_name = false;

	memset(info, 0, sizeof(*info));
	for (; p < end; p = eol + 1) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		val = memchr(p, ':', (size_t)(eol - p));
		if (!val)
			continue;
		/* "key:\tvalue": the kernel separates with one tab */
		for (val++; val < eol && (*val == '\t' || *val == ' '); val++)
			;
		if (!strncmp(p, "size:", 5)) {
			info->size = strtoull(val, NULL, 10);
		} else if (!strncmp(p, "count:", 6)) {
			info->count = strtol(val, NULL, 10);
		} else if (!strncmp(p, "exp_name:", 9)) {
			kdmabuf_copy_value(val, eol, info->exp_name, sizeof(info->exp_name));
			have_exp_name = true;
		} else if (!strncmp(p, "name:", 5)) {
			kdmabuf_copy_value(val, eol, info->name, sizeof(info->name));
			info->has_name = true;
		}
	}
	return have_exp_name ? 0 : -EINVAL;
}

bool kdmabuf_fd_is_dmabuf(int fd)
{
	char path[64], link[256];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = '\0';
	return !strncmp(link, "/dmabuf:", 8) || !strcmp(link, "anon_inode:dmabuf");
}

/* The fdinfo of @fd, known to be a dma-buf. */
static int kdmabuf_read_fdinfo(int fd, struct devmem_kdmabuf_info *info)
{
	char path[64], text[4096];
	ssize_t n;
	int pfd, err;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	pfd = open(path, O_RDONLY | O_CLOEXEC);
	if (pfd < 0)
		return devmem_err(-errno, "%s: %s", path, strerror(errno));
	n = read(pfd, text, sizeof(text));
	err = errno;
	close(pfd);
	if (n < 0)
		return devmem_err(-err, "%s: %s", path, strerror(err));
	if (kdmabuf_parse_fdinfo(text, (size_t)n, info))
		return devmem_err(-EINVAL, "fd %d is not a dma-buf (%s has no exp_name line)", fd,
				  path);
	return 0;
}

int devmem_kdmabuf_fdinfo(int fd, struct devmem_kdmabuf_info *info)
{
	if (!info)
		return devmem_err(-EINVAL, "devmem_kdmabuf_fdinfo: no result pointer");
	if (fd < 0 || fcntl(fd, F_GETFD) < 0)
		return devmem_err(-EBADF, "fd %d is not open", fd);
	if (!kdmabuf_fd_is_dmabuf(fd))
		return devmem_err(-EINVAL, "fd %d is not a kernel dma-buf", fd);
	return kdmabuf_read_fdinfo(fd, info);
}

/* map_dma_buf / unmap_dma_buf: device addresses over the CPU mapping */

static void vaddr_unmap_entries(struct device *dev, struct sg_table *sgt, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		dma_unmap_range(dev, sgt->sgl[i].dma_address, sgt->sgl[i].dma_length);
}

int vaddr_map_dma_buf(struct dma_buf_attachment *attach, void *vaddr, size_t size,
		      enum dma_data_direction dir, const char *who, struct sg_table **out)
{
	struct scatterlist *sg;
	struct sg_table *sgt;
	size_t offset = 0;
	unsigned int i;
	int ret;

	sgt = calloc(1, sizeof(*sgt));
	if (!sgt)
		return devmem_err(-ENOMEM, "%s: no memory for an sg table", who);
	ret = sg_alloc_table(sgt, (unsigned int)DIV_ROUND_UP(size, VADDR_MAX_SEGMENT));
	if (ret)
		goto err_free;
	for_each_sgtable_dma_sg(sgt, sg, i)
	{
		size_t len = min(size - offset, VADDR_MAX_SEGMENT);

		ret = dma_map_range(attach->dev, (char *)vaddr + offset, len, dir,
				    &sg->dma_address);
		if (ret)
			goto err_unmap;
		sg->dma_length = (unsigned int)len;
		sg->domain = DMA_DOMAIN_IOMMU;
		offset += len;
	}
	*out = sgt;
	return 0;

err_unmap:
	vaddr_unmap_entries(attach->dev, sgt, i);
	sg_free_table(sgt);
err_free:
	free(sgt);
	return ret;
}

void vaddr_unmap_dma_buf(struct dma_buf_attachment *attach, struct sg_table *sgt)
{
	vaddr_unmap_entries(attach->dev, sgt, sgt->nents);
	sg_free_table(sgt);
	free(sgt);
}

static int kdmabuf_map_dma_buf(struct dma_buf_attachment *attach, enum dma_data_direction dir,
			       struct sg_table **out)
{
	struct kdmabuf *kd = attach->dmabuf->priv;

	/* the kernel maps its pages for its own devices; ours reach memory through the CPU's */
	if (!kd->vaddr)
		return devmem_err(kd->map_err,
				  "kernel dma-buf (%s) cannot be mapped by a software device: "
				  "its exporter refused mmap: %s",
				  kd->exp_name, strerror(-kd->map_err));
	return vaddr_map_dma_buf(attach, kd->vaddr, kd->size, dir, "kernel dma-buf", out);
}

static void kdmabuf_unmap_dma_buf(struct dma_buf_attachment *attach, struct sg_table *sgt,
				  enum dma_data_direction dir)
{
	vaddr_unmap_dma_buf(attach, sgt);
}

/* CPU access: the kernel exporter's own begin/end, through DMA_BUF_IOCTL_SYNC */

static __u64 kdmabuf_sync_flags(enum dma_data_direction dir)
{
	switch (dir) {
	case DMA_FROM_DEVICE:
		return DMA_BUF_SYNC_READ;
	case DMA_TO_DEVICE:
		return DMA_BUF_SYNC_WRITE;
	default:
		return DMA_BUF_SYNC_RW;
	}
}

static int kdmabuf_sync(struct dma_buf *dmabuf, __u64 flags)
{
	struct dma_buf_sync sync = { .flags = flags };
	int ret;

	/* the kernel may be interrupted waiting for fences: EAGAIN and EINTR mean retry */
	do
		ret = ioctl(dmabuf->fd, DMA_BUF_IOCTL_SYNC, &sync);
	while (ret && (errno == EAGAIN || errno == EINTR));
	if (ret)
		return devmem_err(-errno, "DMA_BUF_IOCTL_SYNC %#llx on kernel dma-buf %lu: %s",
				  (unsigned long long)flags, dmabuf->ino, strerror(errno));
	return 0;
}

static int kdmabuf_begin_cpu_access(struct dma_buf *dmabuf, enum dma_data_direction dir)
{
	return kdmabuf_sync(dmabuf, DMA_BUF_SYNC_START | kdmabuf_sync_flags(dir));
}

static int kdmabuf_end_cpu_access(struct dma_buf *dmabuf, enum dma_data_direction dir)
{
	return kdmabuf_sync(dmabuf, DMA_BUF_SYNC_END | kdmabuf_sync_flags(dir));
}

static int kdmabuf_vmap(struct dma_buf *dmabuf, void **vaddr)
{
	struct kdmabuf *kd = dmabuf->priv;

	if (!kd->vaddr)
		return devmem_err(kd->map_err, "kernel dma-buf (%s): its exporter refused mmap: %s",
				  kd->exp_name, strerror(-kd->map_err));
	*vaddr = kd->vaddr;
	return 0;
}

static void kdmabuf_release(struct dma_buf *dmabuf)
{
	struct kdmabuf *kd = dmabuf->priv;

	if (kd->vaddr)
		munmap(kd->vaddr, kd->size);
	free(kd);
}

static const struct dma_buf_ops kdmabuf_ops = {
	.map_dma_buf = kdmabuf_map_dma_buf,
	.unmap_dma_buf = kdmabuf_unmap_dma_buf,
	.release = kdmabuf_release,
	.begin_cpu_access = kdmabuf_begin_cpu_access,
	.end_cpu_access = kdmabuf_end_cpu_access,
	.vmap = kdmabuf_vmap,
};

bool devmem_is_kdmabuf(const struct dma_buf *dmabuf)
{
	return dmabuf && dmabuf->ops == &kdmabuf_ops;
}

/* wrapping */

/*
 * Map the whole buffer shared, read-write if the fd allows it. The kernel
 * refuses a private mapping of a dma-buf, and an exporter without mmap
 * support refuses any: then the buffer is usable by fd only.
 */
static void kdmabuf_map(struct kdmabuf *kd, int fd)
{
	int prot = PROT_READ;

	if ((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR)
		prot |= PROT_WRITE;
	kd->vaddr = mmap(NULL, kd->size, prot, MAP_SHARED, fd, 0);
	if (kd->vaddr == MAP_FAILED) {
		kd->map_err = -errno;
		kd->vaddr = NULL;
	}
}

int kdmabuf_wrap(int fd, struct dma_buf **out)
{
	struct dma_buf_export_info info = { .fd = fd };
	struct devmem_kdmabuf_info fdinfo;
	struct dma_buf *dmabuf;
	struct kdmabuf *kd;
	struct stat st;
	int ret;

	ret = kdmabuf_read_fdinfo(fd, &fdinfo);
	if (ret)
		return ret;
	if (fstat(fd, &st))
		return devmem_err(-errno, "fd %d: %s", fd, strerror(errno));
	/* the kernel gives the dma-buf's inode the buffer's size; fdinfo says it too */
	if (!st.st_size)
		st.st_size = (off_t)fdinfo.size;
	if (st.st_size <= 0 || !IS_ALIGNED((size_t)st.st_size, PAGE_SIZE))
		return devmem_err(-EINVAL, "kernel dma-buf (%s) of %lld bytes: not a page multiple",
				  fdinfo.exp_name, (long long)st.st_size);
	kd = calloc(1, sizeof(*kd));
	if (!kd)
		return devmem_err(-ENOMEM, "kernel dma-buf: no memory");
	kd->size = (size_t)st.st_size;
	memcpy(kd->exp_name, fdinfo.exp_name, sizeof(kd->exp_name));
	kdmabuf_map(kd, fd);

	info.exp_name = kd->exp_name;
	info.ops = &kdmabuf_ops;
	info.size = kd->size;
	info.priv = kd;
	ret = dma_buf_export(&info, &dmabuf);
	if (ret)
		goto err_unmap;
	/* the kernel's name is the buffer's name: it fits, both are DMA_BUF_NAME_LEN */
	if (fdinfo.has_name) {
		ret = dma_buf_set_name(dmabuf, fdinfo.name);
		DEVMEM_BUG_ON(ret);
	}
	*out = dmabuf;
	return 0;

err_unmap:
	if (kd->vaddr)
		munmap(kd->vaddr, kd->size);
	free(kd);
	return ret;
}

int devmem_kdmabuf_set_name(struct dma_buf *dmabuf, const char *name)
{
	if (!devmem_is_kdmabuf(dmabuf))
		return devmem_err(-EINVAL, "devmem_kdmabuf_set_name: not a kernel dma-buf");
	if (!name)
		return devmem_err(-EINVAL, "devmem_kdmabuf_set_name: no name");
	/* the kernel copies at most DMA_BUF_NAME_LEN bytes and wants the NUL among them */
	if (strnlen(name, DMA_BUF_NAME_LEN) >= DMA_BUF_NAME_LEN)
		return devmem_err(-EINVAL, "dma-buf name longer than %d characters",
				  DMA_BUF_NAME_LEN - 1);
	if (ioctl(dmabuf->fd, DMA_BUF_SET_NAME, name))
		return devmem_err(-errno, "DMA_BUF_SET_NAME on kernel dma-buf %lu: %s", dmabuf->ino,
				  strerror(errno));
	return dma_buf_set_name(dmabuf, name);
}

/* the importer of kernel dma-buf fds */

static bool kdmabuf_importer_match(int fd, const struct stat *st)
{
	return kdmabuf_fd_is_dmabuf(fd);
}

static int kdmabuf_importer_import(int fd, const struct stat *st, struct dma_buf **out)
{
	int dup_fd, ret;

	/* the buffer keeps its own fd: the caller's stays the caller's */
	dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dup_fd < 0)
		return devmem_err(-errno, "dup of fd %d: %s", fd, strerror(errno));
	ret = kdmabuf_wrap(dup_fd, out);
	if (ret)
		close(dup_fd);
	return ret;
}

static const struct dma_buf_importer kdmabuf_importer = {
	.name = "kernel-dma-buf",
	.match = kdmabuf_importer_match,
	.import = kdmabuf_importer_import,
};

/* At library load, before any thread of the application can call dma_buf_get(). */
static void __attribute__((constructor)) kdmabuf_register_importer(void)
{
	int ret = dma_buf_register_importer(&kdmabuf_importer);

	DEVMEM_BUG_ON(ret);
}
