// SPDX-License-Identifier: MIT
/*
 * ib_umem_dmabuf: the kernel's rules for memory-region pages taken from a
 * dma-buf (drivers/infiniband/core/umem_dmabuf.c): argument checks and
 * errno, the trim of the sg table and its restore, the wait for KERNEL
 * fences, pinned and revocable pinned umems.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devmem/host.h"
#include "devmem/vram.h"
#include "harness.h"
#include "lib/compiler.h"
#include "lib/list.h"
#include "rdma/umem_dmabuf.h"

/*
 * A dynamic exporter whose tables are made of entries of the given lengths
 * at made-up device addresses; its unmap checks it gets back exactly the
 * table it handed out.
 */
struct mock {
	struct dma_buf *dmabuf;
	size_t lens[8];
	unsigned int nents;
	struct scatterlist handed[8];
	int maps, unmaps, pins, unpins;
	bool restored; /* every unmap saw the table as it was handed out */
};

static int mock_pin(struct dma_buf_attachment *attach)
{
	((struct mock *)attach->dmabuf->priv)->pins++;
	return 0;
}

static void mock_unpin(struct dma_buf_attachment *attach)
{
	((struct mock *)attach->dmabuf->priv)->unpins++;
}

static int mock_map(struct dma_buf_attachment *attach, enum dma_data_direction dir,
		    struct sg_table **out)
{
	struct mock *m = attach->dmabuf->priv;
	struct sg_table *sgt = calloc(1, sizeof(*sgt));
	dma_addr_t dma = 0x40000000;
	unsigned int i;

	if (!sgt || sg_alloc_table(sgt, m->nents)) {
		free(sgt);
		return -ENOMEM;
	}
	for (i = 0; i < m->nents; i++) {
		sgt->sgl[i].dma_address = dma;
		sgt->sgl[i].dma_length = m->lens[i];
		m->handed[i] = sgt->sgl[i];
		dma += m->lens[i] + 0x100000; /* not contiguous: each entry stands alone */
	}
	m->maps++;
	*out = sgt;
	return 0;
}

static void mock_unmap(struct dma_buf_attachment *attach, struct sg_table *sgt,
		       enum dma_data_direction dir)
{
	struct mock *m = attach->dmabuf->priv;

	if (sgt->nents != m->nents || memcmp(sgt->sgl, m->handed, m->nents * sizeof(*sgt->sgl)))
		m->restored = false;
	m->unmaps++;
	sg_free_table(sgt);
	free(sgt);
}

static void mock_release(struct dma_buf *dmabuf)
{
}

static const struct dma_buf_ops mock_ops = {
	.pin = mock_pin,
	.unpin = mock_unpin,
	.map_dma_buf = mock_map,
	.unmap_dma_buf = mock_unmap,
	.release = mock_release,
};

/* A mock buffer of entries of @pages[i] pages; returns an fd for it. */
static int mock_new(struct mock *m, const unsigned int *pages, unsigned int n)
{
	DEFINE_DMA_BUF_EXPORT_INFO(info);
	size_t size = 0;
	unsigned int i;
	int fd;

	memset(m, 0, sizeof(*m));
	m->restored = true;
	m->nents = n;
	for (i = 0; i < n; i++) {
		m->lens[i] = pages[i] * PAGE_SIZE;
		size += m->lens[i];
	}
	info.exp_name = "mock";
	info.ops = &mock_ops;
	info.size = size;
	info.priv = m;
	cr_assert_eq(dma_buf_export(&info, &m->dmabuf), 0);
	fd = dma_buf_fd(m->dmabuf, O_CLOEXEC);
	cr_assert_geq(fd, 0);
	return fd;
}

static void mock_put(struct mock *m, int fd)
{
	close(fd);
	dma_buf_put(m->dmabuf);
}

static struct device *dev_new(void)
{
	struct device *dev;

	cr_assert_eq(device_create("hca0", NULL, &dev), 0);
	return dev;
}

/* Counts notifications made under the resv lock once, and any other a hundred times. */
static void notify(struct dma_buf_attachment *attach)
{
	int *count = ((struct ib_umem_dmabuf *)attach->importer_priv)->private;

	if (count)
		*count += dma_resv_held(attach->dmabuf->resv) ? 1 : 100;
}

static const struct dma_buf_attach_ops dyn_ops = { .allow_peer2peer = true, .move_notify = notify };
static const struct dma_buf_attach_ops no_notify_ops = { .allow_peer2peer = true };

/* Bad input: the kernel's errno, and the buffer is left as it was. */
Test(umem_dmabuf, get_offset_plus_length_overflow_is_einval)
{
	static const unsigned int pages[] = { 4 };
	struct device *dev = dev_new();
	struct ib_umem_dmabuf *umem = NULL;
	struct mock m;
	int fd = mock_new(&m, pages, 1);

	cr_assert_eq(ib_umem_dmabuf_get(dev, ULONG_MAX - 10, 100, fd, 0, &dyn_ops, &umem), -EINVAL);
	cr_assert_null(umem);
	cr_assert(list_empty(&m.dmabuf->attachments));
	mock_put(&m, fd);
	device_put(dev);
}

Test(umem_dmabuf, get_without_move_notify_is_einval)
{
	static const unsigned int pages[] = { 4 };
	struct device *dev = dev_new();
	struct ib_umem_dmabuf *umem;
	struct mock m;
	int fd = mock_new(&m, pages, 1);

	cr_assert_eq(ib_umem_dmabuf_get(dev, 0, PAGE_SIZE, fd, 0, &no_notify_ops, &umem), -EINVAL);
	cr_assert_eq(ib_umem_dmabuf_get(dev, 0, PAGE_SIZE, fd, 0, NULL, &umem), -EINVAL);
	cr_assert(list_empty(&m.dmabuf->attachments));
	mock_put(&m, fd);
	device_put(dev);
}

Test(umem_dmabuf, get_bad_fd_is_dma_buf_get_errno)
{
	struct device *dev = dev_new();
	struct ib_umem_dmabuf *umem;
	int fd = dup(0);

	close(fd);
	cr_assert_eq(ib_umem_dmabuf_get(dev, 0, PAGE_SIZE, -1, 0, &dyn_ops, &umem), -EBADF);
	cr_assert_eq(ib_umem_dmabuf_get(dev, 0, PAGE_SIZE, fd, 0, &dyn_ops, &umem), -EBADF);
	device_put(dev);
}

Test(umem_dmabuf, get_beyond_the_buffer_is_einval)
{
	static const unsigned int pages[] = { 4 };
	struct device *dev = dev_new();
	struct ib_umem_dmabuf *umem;
	struct mock m;
	int fd = mock_new(&m, pages, 1);

	cr_assert_eq(ib_umem_dmabuf_get(dev, PAGE_SIZE, 3 * PAGE_SIZE + 1, fd, 0, &dyn_ops, &umem),
		     -EINVAL);
	cr_assert_eq(ib_umem_dmabuf_get(dev, 5 * PAGE_SIZE, 0, fd, 0, &dyn_ops, &umem), -EINVAL);
	cr_assert(list_empty(&m.dmabuf->attachments));
	mock_put(&m, fd);
	device_put(dev);
}

Test(umem_dmabuf, get_length_zero_is_einval)
{
	static const unsigned int pages[] = { 4 };
	struct device *dev = dev_new();
	struct ib_umem_dmabuf *umem;
	struct mock m;
	int fd = mock_new(&m, pages, 1);

	cr_assert_eq(ib_umem_dmabuf_get(dev, PAGE_SIZE, 0, fd, 0, &dyn_ops, &umem), -EINVAL);
	cr_assert(list_empty(&m.dmabuf->attachments));
	mock_put(&m, fd);
	device_put(dev);
}

Test(umem_dmabuf, dynamic_get_attaches_without_mapping)
{
	static const unsigned int pages[] = { 4 };
	struct device *dev = dev_new();
	struct ib_umem_dmabuf *umem;
	struct mock m;
	int fd = mock_new(&m, pages, 1);

	cr_assert_eq(ib_umem_dmabuf_get(dev, 0, PAGE_SIZE, fd, 1, &dyn_ops, &umem), 0);
	cr_assert(dma_buf_attachment_is_dynamic(umem->attach));
	cr_assert(umem->writable);
	cr_assert_eq(m.maps, 0);
	cr_assert_null(umem->sgt);
	ib_umem_dmabuf_release(umem);
	cr_assert(list_empty(&m.dmabuf->attachments));
	mock_put(&m, fd);
	device_put(dev);
}

/*
 * Entries of 3, 2 and 4 pages; the region [2 pages + 100, 5 pages + 100)
 * covers pages 2..5: the first entry is advanced by 2 pages, the last cut
 * by 3, and nents counts the three entries touched.
 */
Test(umem_dmabuf, map_pages_trims_unaligned_range_and_unmap_restores)
{
	static const unsigned int pages[] = { 3, 2, 4 };
	struct device *dev = dev_new();
	struct ib_umem_dmabuf *umem;
	struct mock m;
	int fd = mock_new(&m, pages, 3);

	cr_assert_eq(
		ib_umem_dmabuf_get(dev, 2 * PAGE_SIZE + 100, 3 * PAGE_SIZE, fd, 1, &dyn_ops, &umem),
		0);
	dma_resv_lock(m.dmabuf->resv, NULL);
	cr_assert_eq(ib_umem_dmabuf_map_pages(umem), 0);
	cr_assert_eq(umem->umem_sgt.nents, 3);
	cr_assert_eq(umem->umem_sgt.sgl, &umem->sgt->sgl[0]);
	cr_assert_eq(umem->first_sg_offset, 2 * PAGE_SIZE);
	cr_assert_eq(umem->last_sg_trim, 3 * PAGE_SIZE);
	cr_assert_eq(umem->sgt->sgl[0].dma_address, m.handed[0].dma_address + 2 * PAGE_SIZE);
	cr_assert_eq(umem->sgt->sgl[0].dma_length, PAGE_SIZE);
	cr_assert_eq(umem->sgt->sgl[1].dma_length, 2 * PAGE_SIZE);
	cr_assert_eq(umem->sgt->sgl[2].dma_length, PAGE_SIZE);
	cr_assert_eq(sg_table_size(&umem->umem_sgt), 4 * PAGE_SIZE);
	ib_umem_dmabuf_unmap_pages(umem);
	cr_assert_null(umem->sgt);
	dma_resv_unlock(m.dmabuf->resv);
	cr_assert_eq(m.unmaps, 1);
	cr_assert(m.restored, "the exporter got its table back as it made it");
	ib_umem_dmabuf_release(umem);
	mock_put(&m, fd);
	device_put(dev);
}

Test(umem_dmabuf, map_pages_region_inside_one_entry_trims_both_ends)
{
	static const unsigned int pages[] = { 8 };
	struct device *dev = dev_new();
	struct ib_umem_dmabuf *umem;
	struct mock m;
	int fd = mock_new(&m, pages, 1);

	cr_assert_eq(ib_umem_dmabuf_get(dev, PAGE_SIZE + 1, 10, fd, 0, &dyn_ops, &umem), 0);
	dma_resv_lock(m.dmabuf->resv, NULL);
	cr_assert_eq(ib_umem_dmabuf_map_pages(umem), 0);
	cr_assert_eq(umem->umem_sgt.nents, 1);
	cr_assert_eq(umem->first_sg, umem->last_sg);
	cr_assert_eq(umem->sgt->sgl[0].dma_address, m.handed[0].dma_address + PAGE_SIZE);
	cr_assert_eq(umem->sgt->sgl[0].dma_length, PAGE_SIZE);
	/* mapped already: a second call only waits for the fences */
	cr_assert_eq(ib_umem_dmabuf_map_pages(umem), 0);
	cr_assert_eq(m.maps, 1);
	dma_resv_unlock(m.dmabuf->resv);
	ib_umem_dmabuf_release(umem);
	cr_assert_eq(m.unmaps, 1);
	cr_assert(m.restored);
	mock_put(&m, fd);
	device_put(dev);
}

static const char *fence_name(struct dma_fence *f)
{
	return "test";
}

static const struct dma_fence_ops fence_ops = { .get_driver_name = fence_name,
						.get_timeline_name = fence_name };

Test(umem_dmabuf, map_pages_waits_for_kernel_fence_and_times_out)
{
	static const unsigned int pages[] = { 2 };
	struct device *dev = dev_new();
	struct ib_umem_dmabuf *umem;
	struct dma_fence *fence = calloc(1, sizeof(*fence));
	struct mock m;
	int fd = mock_new(&m, pages, 1);

	dma_fence_init(fence, &fence_ops, dma_fence_context_alloc(1), 1);
	cr_assert_eq(ib_umem_dmabuf_get(dev, 0, PAGE_SIZE, fd, 0, &dyn_ops, &umem), 0);
	dma_resv_lock(m.dmabuf->resv, NULL);
	cr_assert_eq(dma_resv_reserve_fences(m.dmabuf->resv, 1), 0);
	dma_resv_add_fence(m.dmabuf->resv, fence, DMA_RESV_USAGE_KERNEL);
	umem->fence_timeout_ns = 20 * 1000 * 1000;
	cr_assert_eq(ib_umem_dmabuf_map_pages(umem), -ETIMEDOUT);
	dma_fence_signal(fence);
	cr_assert_eq(ib_umem_dmabuf_map_pages(umem), 0, "signalled: the device may go");
	dma_resv_unlock(m.dmabuf->resv);
	dma_fence_put(fence);
	ib_umem_dmabuf_release(umem);
	mock_put(&m, fd);
	device_put(dev);
}

Test(umem_dmabuf, map_pages_ignores_write_and_read_fences)
{
	static const unsigned int pages[] = { 2 };
	struct device *dev = dev_new();
	struct ib_umem_dmabuf *umem;
	struct dma_fence *fence = calloc(1, sizeof(*fence));
	struct mock m;
	int fd = mock_new(&m, pages, 1);

	dma_fence_init(fence, &fence_ops, dma_fence_context_alloc(1), 1);
	cr_assert_eq(ib_umem_dmabuf_get(dev, 0, PAGE_SIZE, fd, 0, &dyn_ops, &umem), 0);
	dma_resv_lock(m.dmabuf->resv, NULL);
	cr_assert_eq(dma_resv_reserve_fences(m.dmabuf->resv, 1), 0);
	dma_resv_add_fence(m.dmabuf->resv, fence, DMA_RESV_USAGE_WRITE);
	umem->fence_timeout_ns = 20 * 1000 * 1000;
	cr_assert_eq(ib_umem_dmabuf_map_pages(umem), 0);
	dma_resv_unlock(m.dmabuf->resv);
	dma_fence_signal(fence);
	dma_fence_put(fence);
	ib_umem_dmabuf_release(umem);
	mock_put(&m, fd);
	device_put(dev);
}

Test(umem_dmabuf, pinned_get_pins_and_maps_once)
{
	static const unsigned int pages[] = { 4 };
	struct device *dev = dev_new();
	struct ib_umem_dmabuf *umem;
	struct mock m;
	int fd = mock_new(&m, pages, 1);

	cr_assert_eq(ib_umem_dmabuf_get_pinned(dev, 100, 2 * PAGE_SIZE, fd, 1, &umem), 0);
	cr_assert_eq(m.pins, 1);
	cr_assert_eq(m.maps, 1);
	cr_assert_not_null(umem->sgt);
	cr_assert(umem->pinned);
	ib_umem_dmabuf_release(umem);
	cr_assert_eq(m.unmaps, 1);
	cr_assert_eq(m.unpins, 1);
	cr_assert(m.restored);
	mock_put(&m, fd);
	device_put(dev);
}

Test(umem_dmabuf, pinned_move_notify_only_warns)
{
	static const unsigned int pages[] = { 4 };
	struct device *dev = dev_new();
	struct ib_umem_dmabuf *umem;
	struct mock m;
	int fd = mock_new(&m, pages, 1);

	cr_assert_eq(ib_umem_dmabuf_get_pinned(dev, 0, PAGE_SIZE, fd, 1, &umem), 0);
	dma_resv_lock(m.dmabuf->resv, NULL);
	dma_buf_move_notify(m.dmabuf);
	dma_resv_unlock(m.dmabuf->resv);
	cr_assert_not_null(umem->sgt, "a pinned umem keeps its mapping");
	cr_assert_eq(umem->unexpected_moves, 1);
	cr_assert_eq(m.unmaps, 0);
	ib_umem_dmabuf_release(umem);
	mock_put(&m, fd);
	device_put(dev);
}

static void count_revoke(void *priv)
{
	(*(int *)priv)++;
}

Test(umem_dmabuf, revocable_pinned_revokes_once_then_refuses_map)
{
	static const unsigned int pages[] = { 4 };
	struct device *dev = dev_new();
	struct ib_umem_dmabuf *umem;
	int revokes = 0;
	struct mock m;
	int fd = mock_new(&m, pages, 1);

	cr_assert_eq(ib_umem_dmabuf_get_pinned_revocable_and_lock(dev, 0, PAGE_SIZE, fd, 1, &umem),
		     0);
	cr_assert(dma_resv_held(m.dmabuf->resv), "returns with the lock held");
	ib_umem_dmabuf_set_revoke_locked(umem, count_revoke, &revokes);
	dma_resv_unlock(m.dmabuf->resv);

	dma_resv_lock(m.dmabuf->resv, NULL);
	dma_buf_move_notify(m.dmabuf);
	cr_assert_eq(revokes, 1);
	cr_assert_null(umem->sgt);
	cr_assert_eq(m.unpins, 1);
	dma_buf_move_notify(m.dmabuf);
	cr_assert_eq(revokes, 1, "revocation runs at most once");
	cr_assert_eq(ib_umem_dmabuf_map_pages(umem), -EINVAL);
	cr_assert_eq(m.maps, 1);
	dma_resv_unlock(m.dmabuf->resv);
	ib_umem_dmabuf_release(umem);
	cr_assert_eq(revokes, 1, "the release finds it revoked");
	cr_assert_eq(m.unmaps, 1);
	cr_assert_eq(m.unpins, 1);
	mock_put(&m, fd);
	device_put(dev);
}

Test(umem_dmabuf, revocable_release_runs_the_revoke)
{
	static const unsigned int pages[] = { 4 };
	struct device *dev = dev_new();
	struct ib_umem_dmabuf *umem;
	int revokes = 0;
	struct mock m;
	int fd = mock_new(&m, pages, 1);

	cr_assert_eq(ib_umem_dmabuf_get_pinned_revocable_and_lock(dev, 0, PAGE_SIZE, fd, 1, &umem),
		     0);
	ib_umem_dmabuf_set_revoke_locked(umem, count_revoke, &revokes);
	dma_resv_unlock(m.dmabuf->resv);
	ib_umem_dmabuf_release(umem);
	cr_assert_eq(revokes, 1);
	cr_assert_eq(m.unpins, 1);
	mock_put(&m, fd);
	device_put(dev);
}

Test(umem_dmabuf, dynamic_move_notify_reaches_the_importer_under_the_lock)
{
	static const unsigned int pages[] = { 4 };
	struct device *dev = dev_new();
	struct ib_umem_dmabuf *umem;
	int notified = 0;
	struct mock m;
	int fd = mock_new(&m, pages, 1);

	cr_assert_eq(ib_umem_dmabuf_get(dev, 0, PAGE_SIZE, fd, 0, &dyn_ops, &umem), 0);
	umem->private = &notified;
	dma_resv_lock(m.dmabuf->resv, NULL);
	dma_buf_move_notify(m.dmabuf);
	dma_resv_unlock(m.dmabuf->resv);
	cr_assert_eq(notified, 1, "one notification, with the lock held");
	ib_umem_dmabuf_release(umem);
	mock_put(&m, fd);
	device_put(dev);
}

/* A real exporter: a pinned umem of a vram buffer keeps it in the heap under pressure. */
Test(umem_dmabuf, pinned_vram_buffer_never_moves)
{
	struct vram *vram;
	struct dma_buf *buf;
	struct ib_umem_dmabuf *umem;
	struct device_opts opts = { .sz = sizeof(opts), .p2p = true };
	struct device *dev;
	int fd;

	cr_assert_eq(device_create("hca0", &opts, &dev), 0);
	cr_assert_eq(devmem_vram_create("vram0", 4 * PAGE_SIZE, NULL, &vram), 0);
	cr_assert_eq(devmem_vram_buffer_create(vram, 2 * PAGE_SIZE, &buf), 0);
	fd = dma_buf_fd(buf, O_CLOEXEC);
	cr_assert_eq(ib_umem_dmabuf_get_pinned(dev, 0, 2 * PAGE_SIZE, fd, 1, &umem), 0);
	devmem_vram_evict(vram, 4 * PAGE_SIZE);
	devmem_vram_flush(vram);
	cr_assert_eq(devmem_vram_buffer_placement(buf), VRAM_PLACEMENT_VRAM);
	cr_assert_eq(umem->unexpected_moves, 0);
	ib_umem_dmabuf_release(umem);
	close(fd);
	dma_buf_put(buf);
	devmem_vram_destroy(vram);
	device_put(dev);
}
