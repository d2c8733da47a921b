// SPDX-License-Identifier: MIT
/*
 * The host exporter: dma-bufs in ordinary memory, held in a memfd sealed
 * against shrinking and growing, mapped once into this process and mapped
 * into importers' IOMMU domains on demand.
 *
 * The memfd is the buffer's file, so its fd can travel to another process
 * (SCM_RIGHTS, fork + exec), the only kind of dma-buf whose memory can cross
 * a process boundary without a kernel exporter. There dma_buf_get() finds no
 * buffer for it and asks the registered importers: ours wraps the same memory
 * as a new host buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devmem/host.h"
#include "lib/debug.h"
#include "lib/error.h"
#include "lib/meminfo.h"

#define SZ_2M (2UL << 20)
#define HOST_SEALS (F_SEAL_SHRINK | F_SEAL_GROW)

/* The longest entry an sg table can hold that is still a whole number of pages. */
#define HOST_MAX_SEGMENT ((size_t)UINT_MAX & ~(PAGE_SIZE - 1))

/* How a buffer's mappings are cut into sg entries. */
struct host_layout {
	const size_t *sg_lengths; /* NULL: every entry max_segment long */
	unsigned int num_sg_lengths;
	size_t max_segment;
	/* and how creation reports populating (host_buffer_opts.progress) */
	void (*progress)(size_t done, size_t total, void *arg);
	void *progress_arg;
};

/* dmabuf->priv of a host buffer. Immutable after export. */
struct host_buffer {
	void *vaddr; /* the process's shared mapping of the memfd, @size bytes */
	size_t size;
	size_t *sg_lengths; /* our copy of the layout, or NULL */
	unsigned int num_sg_lengths;
	size_t max_segment;
	unsigned int nents; /* entries of every mapping of this buffer */
};

static const struct host_layout host_default_layout = { .max_segment = HOST_MAX_SEGMENT };

/* The length of entry @i of a mapping, @remaining bytes before the end. */
static size_t host_entry_len(const struct host_buffer *hb, size_t i, size_t remaining)
{
	size_t len = hb->max_segment;

	if (hb->num_sg_lengths)
		len = min(hb->sg_lengths[i % hb->num_sg_lengths], hb->max_segment);
	return min(len, remaining);
}

/* Entries per mapping, counted by whole cycles of the layout, then the tail. */
static int host_count_entries(struct host_buffer *hb)
{
	size_t cycle = 0, n, rem, i;

	if (!hb->num_sg_lengths) {
		n = DIV_ROUND_UP(hb->size, hb->max_segment);
	} else {
		for (i = 0; i < hb->num_sg_lengths; i++)
			cycle += host_entry_len(hb, i, SIZE_MAX);
		n = hb->size / cycle * hb->num_sg_lengths;
		rem = hb->size % cycle;
		for (i = 0; rem; i++, n++)
			rem -= host_entry_len(hb, i, rem);
	}
	if (n > UINT_MAX)
		return devmem_err(-EINVAL, "host buffer: layout needs %zu sg entries (max %u)", n,
				  UINT_MAX);
	hb->nents = n;
	return 0;
}

/* map_dma_buf / unmap_dma_buf */

static void host_unmap_entries(struct device *dev, struct sg_table *sgt, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		dma_unmap_range(dev, sgt->sgl[i].dma_address, sgt->sgl[i].dma_length);
}

/* Each entry gets its own IOMMU mapping, so each can start anywhere in a page. */
static int host_map_entries(struct dma_buf_attachment *attach, struct sg_table *sgt,
			    enum dma_data_direction dir)
{
	struct host_buffer *hb = attach->dmabuf->priv;
	struct scatterlist *sg;
	size_t offset = 0, len;
	unsigned int i;
	int ret;

	for_each_sgtable_dma_sg(sgt, sg, i)
	{
		len = host_entry_len(hb, i, hb->size - offset);
		ret = dma_map_range(attach->dev, (char *)hb->vaddr + offset, len, dir,
				    &sg->dma_address);
		if (ret)
			goto err_unmap;
		sg->dma_length = len;
		sg->domain = DMA_DOMAIN_IOMMU;
		offset += len;
	}
	DEVMEM_BUG_ON(offset != hb->size);
	return 0;

err_unmap:
	host_unmap_entries(attach->dev, sgt, i);
	return ret;
}

static int host_map_dma_buf(struct dma_buf_attachment *attach, enum dma_data_direction dir,
			    struct sg_table **out)
{
	struct host_buffer *hb = attach->dmabuf->priv;
	struct sg_table *sgt;
	int ret;

	sgt = calloc(1, sizeof(*sgt));
	if (!sgt)
		return devmem_err(-ENOMEM, "host buffer: no memory for an sg table");
	ret = sg_alloc_table(sgt, hb->nents);
	if (ret)
		goto err_free;
	ret = host_map_entries(attach, sgt, dir);
	if (ret)
		goto err_free_table;
	*out = sgt;
	return 0;

err_free_table:
	sg_free_table(sgt);
err_free:
	free(sgt);
	return ret;
}

static void host_unmap_dma_buf(struct dma_buf_attachment *attach, struct sg_table *sgt,
			       enum dma_data_direction dir)
{
	host_unmap_entries(attach->dev, sgt, sgt->nents);
	sg_free_table(sgt);
	free(sgt);
}

/* the rest of the ops */

static void host_release(struct dma_buf *dmabuf)
{
	struct host_buffer *hb = dmabuf->priv;

	munmap(hb->vaddr, hb->size);
	free(hb->sg_lengths);
	free(hb);
}

/* Host memory is coherent: CPU access needs no cache maintenance. */
static int host_begin_cpu_access(struct dma_buf *dmabuf, enum dma_data_direction dir)
{
	return 0;
}

static int host_end_cpu_access(struct dma_buf *dmabuf, enum dma_data_direction dir)
{
	return 0;
}

static int host_vmap(struct dma_buf *dmabuf, void **vaddr)
{
	struct host_buffer *hb = dmabuf->priv;

	*vaddr = hb->vaddr;
	return 0;
}

static const struct dma_buf_ops host_dma_buf_ops = {
	.map_dma_buf = host_map_dma_buf,
	.unmap_dma_buf = host_unmap_dma_buf,
	.release = host_release,
	.begin_cpu_access = host_begin_cpu_access,
	.end_cpu_access = host_end_cpu_access,
	.vmap = host_vmap,
};

bool devmem_is_host_buffer(const struct dma_buf *dmabuf)
{
	return dmabuf && dmabuf->ops == &host_dma_buf_ops;
}

/* creation */

/*
 * Map the memfd. From 2 MiB up, the mapping starts on a 2 MiB boundary (we
 * reserve more address space than needed and trim it) so that the IOMMU,
 * which aligns IOVAs to the CPU address, can use large blocks. The pages are
 * not populated here (host_populate() does it, in steps).
 */
static void *host_map_memfd(int fd, size_t size)
{
	size_t align = size >= SZ_2M ? SZ_2M : PAGE_SIZE;
	size_t span = size + align - PAGE_SIZE;
	char *base, *addr;
	int err;

	base = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return MAP_FAILED;
	addr = (char *)ALIGN((uintptr_t)base, align);
	if (mmap(addr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) {
		err = errno;
		munmap(base, span);
		errno = err;
		return MAP_FAILED;
	}
	if (addr > base)
		munmap(base, addr - base);
	if (addr + size < base + span)
		munmap(addr + size, base + span - (addr + size));
	return addr;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* linux 5.14 */
#endif

/* Fault in [@p, @p + @len) for writing, by touch where the kernel has no MADV_POPULATE_WRITE. */
static int host_populate_range(char *p, size_t len)
{
	if (!madvise(p, len, MADV_POPULATE_WRITE))
		return 0;
	if (errno != EINVAL)
		return -errno;
	for (size_t off = 0; off < len; off += PAGE_SIZE)
		__atomic_fetch_add((unsigned char *)p + off, 0, __ATOMIC_RELAXED);
	return 0;
}

/*
 * Populate the mapping: an exporter's memory exists from the export on
 * (udmabuf pins its pages at creation, a dma-heap allocates them), so a
 * device writing into it never pays the first touch on the data path. In
 * steps, reporting each to @layout's progress callback.
 */
static int host_populate(struct host_buffer *hb, const struct host_layout *layout)
{
	size_t done = 0, step;
	int err;

	while (done < hb->size) {
		step = min(hb->size - done, (size_t)DEVMEM_HOST_POPULATE_STEP);
		err = host_populate_range((char *)hb->vaddr + done, step);
		if (err)
			return devmem_err(err == -EFAULT || err == -EHWPOISON ? -ENOMEM : err,
					  "host buffer: only %zu of %zu bytes could be populated",
					  done, hb->size);
		done += step;
		if (layout->progress)
			layout->progress(done, hb->size, layout->progress_arg);
	}
	return 0;
}

static int host_buffer_init(struct host_buffer *hb, size_t size, const struct host_layout *layout)
{
	size_t bytes = (size_t)layout->num_sg_lengths * sizeof(*hb->sg_lengths);

	hb->size = size;
	hb->max_segment = layout->max_segment;
	if (layout->num_sg_lengths) {
		hb->sg_lengths = malloc(bytes);
		if (!hb->sg_lengths)
			return devmem_err(-ENOMEM, "host buffer: no memory for the sg layout");
		memcpy(hb->sg_lengths, layout->sg_lengths, bytes);
		hb->num_sg_lengths = layout->num_sg_lengths;
	}
	return host_count_entries(hb);
}

/*
 * Export @memfd (@size bytes, already sealed) as a host buffer. On success
 * the buffer owns @memfd; on failure the caller still does.
 */
static int host_buffer_export(int memfd, size_t size, const struct host_layout *layout,
			      const char *name, struct dma_buf **out)
{
	struct dma_buf_export_info info = {
		.exp_name = HOST_EXP_NAME,
		.ops = &host_dma_buf_ops,
		.size = size,
		.fd = memfd,
	};
	struct host_buffer *hb;
	struct dma_buf *dmabuf;
	int ret;

	hb = calloc(1, sizeof(*hb));
	if (!hb)
		return devmem_err(-ENOMEM, "host buffer: no memory");
	ret = host_buffer_init(hb, size, layout);
	if (ret)
		goto err_free;
	hb->vaddr = host_map_memfd(memfd, size);
	if (hb->vaddr == MAP_FAILED) {
		ret = devmem_err(-errno, "host buffer: mmap of %zu bytes: %s", size,
				 strerror(errno));
		goto err_free;
	}
	ret = host_populate(hb, layout);
	if (ret)
		goto err_unmap;
	info.priv = hb;
	ret = dma_buf_export(&info, &dmabuf);
	if (ret)
		goto err_unmap;
	/* the name was checked by the caller: this cannot fail */
	if (name) {
		ret = dma_buf_set_name(dmabuf, name);
		DEVMEM_BUG_ON(ret);
	}
	*out = dmabuf;
	return 0;

err_unmap:
	munmap(hb->vaddr, size);
err_free:
	free(hb->sg_lengths);
	free(hb);
	return ret;
}

/* An option field, or 0 when the caller's struct predates it. */
#define HOST_OPT(opts, field)                                               \
	((opts) && (opts)->sz >= offsetof(struct host_buffer_opts, field) + \
					 sizeof((opts)->field) ?            \
		 (opts)->field :                                            \
		 0)

static int host_check_layout(const struct host_layout *layout)
{
	unsigned int i;

	if (!layout->sg_lengths != !layout->num_sg_lengths)
		return devmem_err(-EINVAL,
				  "host buffer: sg_lengths and num_sg_lengths go together");
	if (!layout->max_segment || layout->max_segment > UINT_MAX)
		return devmem_err(-EINVAL, "host buffer: max_segment %zu does not fit an sg entry",
				  layout->max_segment);
	for (i = 0; i < layout->num_sg_lengths; i++)
		if (!layout->sg_lengths[i] || layout->sg_lengths[i] > UINT_MAX)
			return devmem_err(-EINVAL, "host buffer: sg_lengths[%u] = %zu is not 1..%u",
					  i, layout->sg_lengths[i], UINT_MAX);
	return 0;
}

static int host_parse_opts(const struct host_buffer_opts *opts, struct host_layout *layout,
			   const char **name)
{
	if (opts && opts->sz < sizeof(opts->sz))
		return devmem_err(-EINVAL, "host buffer: opts.sz is not set");
	*name = HOST_OPT(opts, name);
	layout->sg_lengths = HOST_OPT(opts, sg_lengths);
	layout->num_sg_lengths = HOST_OPT(opts, num_sg_lengths);
	layout->max_segment = HOST_OPT(opts, max_segment);
	layout->progress = HOST_OPT(opts, progress);
	layout->progress_arg = HOST_OPT(opts, progress_arg);
	if (!layout->max_segment)
		layout->max_segment = HOST_MAX_SEGMENT;
	if (*name && strnlen(*name, DMA_BUF_NAME_LEN) >= DMA_BUF_NAME_LEN)
		return devmem_err(-EINVAL, "host buffer: name longer than %d characters",
				  DMA_BUF_NAME_LEN - 1);
	return host_check_layout(layout);
}

/* A memfd of @size bytes that nobody can shrink, grow or unseal. */
static int host_create_memfd(size_t size, const char *name)
{
	char memfd_name[64];
	int fd, err;

	snprintf(memfd_name, sizeof(memfd_name), "%s%s%s", HOST_EXP_NAME, name ? ":" : "",
		 name ? name : "");
	fd = memfd_create(memfd_name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return devmem_err(-errno, "host buffer: memfd_create: %s", strerror(errno));
	if (ftruncate(fd, (off_t)size)) {
		err = errno;
		close(fd);
		return devmem_err(-err, "host buffer: sizing the memfd to %zu bytes: %s", size,
				  strerror(err));
	}
	if (fcntl(fd, F_ADD_SEALS, HOST_SEALS | F_SEAL_SEAL)) {
		err = errno;
		close(fd);
		return devmem_err(-err, "host buffer: sealing the memfd: %s", strerror(err));
	}
	return fd;
}

/*
 * Whether the machine can back @size bytes for this process. A dma-heap
 * fails an allocation it cannot back with -ENOMEM; here the memory would
 * only run out while populating, after the system had swapped and reclaimed
 * for as long as it took, and then the OOM killer would end the process.
 * Refuse up front what is more than the kernel says is available.
 */
static int host_check_backing(size_t size)
{
	const char *source;
	uint64_t avail = mem_available(&source);
	char want[24], have[24];

	if (size <= avail)
		return 0;
	return devmem_err(-ENOMEM, "host buffer: %s cannot be backed: %s available (%s)",
			  mem_fmt(size, want, sizeof(want)), mem_fmt(avail, have, sizeof(have)),
			  source);
}

static bool host_size_ok(size_t size)
{
	return size && IS_ALIGNED(size, PAGE_SIZE);
}

int devmem_host_buffer_create(size_t size, const struct host_buffer_opts *opts,
			      struct dma_buf **out)
{
	struct host_layout layout = { 0 };
	const char *name = NULL;
	int memfd, ret;

	if (!out)
		return devmem_err(-EINVAL, "host buffer: no result pointer");
	if (!host_size_ok(size))
		return devmem_err(-EINVAL,
				  "host buffer: size %zu is not a non-zero multiple of %lu", size,
				  PAGE_SIZE);
	ret = host_parse_opts(opts, &layout, &name);
	if (ret)
		return ret;
	ret = host_check_backing(size);
	if (ret)
		return ret;
	memfd = host_create_memfd(size, name);
	if (memfd < 0)
		return memfd;
	ret = host_buffer_export(memfd, size, &layout, name, out);
	if (ret)
		close(memfd);
	return ret;
}

/* Only shmem files (memfds) have seals: anything else is not ours. */
static bool host_importer_match(int fd, const struct stat *st)
{
	return fcntl(fd, F_GET_SEALS) >= 0;
}

/*
 * Wrap @fd, a memfd from elsewhere, as a host buffer over the same memory.
 * It must be sealed against shrinking and growing and hold a non-zero page
 * multiple of bytes: -EINVAL otherwise.
 */
static int host_importer_import(int fd, const struct stat *st, struct dma_buf **out)
{
	int seals, memfd, ret;

	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return devmem_err(-EINVAL, "fd %d is not a dma-buf (not a memfd)", fd);
	if ((seals & HOST_SEALS) != HOST_SEALS)
		return devmem_err(-EINVAL, "memfd is not sealed against shrinking and growing");
	if (st->st_size <= 0 || !host_size_ok((size_t)st->st_size))
		return devmem_err(-EINVAL, "memfd size %lld is not a non-zero multiple of %lu",
				  (long long)st->st_size, PAGE_SIZE);
	/* the buffer keeps its own fd: the caller's stays the caller's */
	memfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (memfd < 0)
		return devmem_err(-errno, "dup of fd %d: %s", fd, strerror(errno));
	ret = host_buffer_export(memfd, (size_t)st->st_size, &host_default_layout, NULL, out);
	if (ret)
		close(memfd);
	return ret;
}

static const struct dma_buf_importer host_importer = {
	.name = HOST_EXP_NAME,
	.match = host_importer_match,
	.import = host_importer_import,
};

/* At library load, before any thread of the application can call dma_buf_get(). */
static void __attribute__((constructor)) host_register_importer(void)
{
	int ret = dma_buf_register_importer(&host_importer);

	DEVMEM_BUG_ON(ret);
}
