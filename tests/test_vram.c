// SPDX-License-Identifier: MIT
/* The vram exporter: placement, eviction, restore, move fences, p2p and IOMMU mappings. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devmem/host.h"
#include "devmem/vram.h"
#include "harness.h"
#include "lib/compiler.h"

/* A dynamic importer: counts move_notify and checks the lock is held then. */
struct importer {
	struct device *dev;
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;
	int notified;
	bool notified_unlocked;
};

static void importer_move_notify(struct dma_buf_attachment *attach)
{
	struct importer *imp = attach->importer_priv;

	imp->notified++;
	if (!dma_resv_held(attach->dmabuf->resv))
		imp->notified_unlocked = true;
}

static const struct dma_buf_attach_ops p2p_ops = {
	.allow_peer2peer = true,
	.move_notify = importer_move_notify,
};

static const struct dma_buf_attach_ops sys_ops = {
	.allow_peer2peer = false,
	.move_notify = importer_move_notify,
};

static struct vram *vram_new(size_t pages, uint64_t bandwidth)
{
	struct vram_opts opts = { .sz = sizeof(opts), .copy_bandwidth = bandwidth };
	struct vram *vram = NULL;

	cr_assert_eq(devmem_vram_create("vram0", pages * PAGE_SIZE, &opts, &vram), 0);
	return vram;
}

static struct dma_buf *buffer_new(struct vram *vram, size_t pages)
{
	struct dma_buf *buf = NULL;

	cr_assert_eq(devmem_vram_buffer_create(vram, pages * PAGE_SIZE, &buf), 0);
	return buf;
}

static struct device *device_new(const char *name, bool p2p)
{
	struct device_opts opts = { .sz = sizeof(opts), .p2p = p2p };
	struct device *dev = NULL;

	cr_assert_eq(device_create(name, &opts, &dev), 0);
	return dev;
}

static void importer_attach(struct importer *imp, struct dma_buf *buf, const char *name, bool p2p)
{
	memset(imp, 0, sizeof(*imp));
	imp->dev = device_new(name, p2p);
	cr_assert_eq(
		dma_buf_dynamic_attach(buf, imp->dev, p2p ? &p2p_ops : &sys_ops, imp, &imp->attach),
		0);
}

static int importer_map(struct importer *imp)
{
	struct dma_buf *buf = imp->attach->dmabuf;
	int ret;

	dma_resv_lock(buf->resv, NULL);
	ret = dma_buf_map_attachment(imp->attach, DMA_BIDIRECTIONAL, &imp->sgt);
	dma_resv_unlock(buf->resv);
	if (!ret)
		cr_assert_eq(dma_resv_wait_timeout(buf->resv, DMA_RESV_USAGE_KERNEL, false,
						   DMA_FENCE_MAX_TIMEOUT) > 0,
			     true);
	return ret;
}

static void importer_unmap(struct importer *imp)
{
	dma_buf_unmap_attachment_unlocked(imp->attach, imp->sgt, DMA_BIDIRECTIONAL);
	imp->sgt = NULL;
}

static void importer_detach(struct importer *imp)
{
	if (imp->sgt)
		importer_unmap(imp);
	dma_buf_detach(imp->attach->dmabuf, imp->attach);
	device_put(imp->dev);
}

static void pin(struct importer *imp)
{
	dma_resv_lock(imp->attach->dmabuf->resv, NULL);
	cr_assert_eq(dma_buf_pin(imp->attach), 0);
	dma_resv_unlock(imp->attach->dmabuf->resv);
}

static void unpin(struct importer *imp)
{
	dma_resv_lock(imp->attach->dmabuf->resv, NULL);
	dma_buf_unpin(imp->attach);
	dma_resv_unlock(imp->attach->dmabuf->resv);
}

static void fill(struct dma_buf *buf, unsigned char seed)
{
	unsigned char *p;
	size_t i;

	cr_assert_eq(dma_buf_vmap_unlocked(buf, (void **)&p), 0);
	for (i = 0; i < buf->size; i++)
		p[i] = (unsigned char)(seed + i * 7);
	dma_buf_vunmap_unlocked(buf, p);
}

/* Read the whole buffer through the importer's device and compare with the pattern. */
static bool device_sees(struct importer *imp, unsigned char seed)
{
	size_t len = imp->attach->dmabuf->size, i;
	unsigned char *got = malloc(len);
	bool ok;

	cr_assert(got);
	cr_assert_eq(imp->sgt->nents, 1);
	ok = device_access(imp->dev, sg_dma_address(imp->sgt->sgl), got, len, DMA_TO_DEVICE) == 0;
	for (i = 0; ok && i < len; i++)
		ok = got[i] == (unsigned char)(seed + i * 7);
	free(got);
	return ok;
}

static struct vram_stats stats_of(struct vram *vram)
{
	struct vram_stats st;

	devmem_vram_get_stats(vram, &st);
	return st;
}

Test(vram, buffer_created_in_vram_when_room)
{
	struct vram *vram = vram_new(4, 0);
	struct dma_buf *buf = buffer_new(vram, 2);
	unsigned char *p;
	size_t i;

	cr_assert_eq(devmem_vram_buffer_placement(buf), VRAM_PLACEMENT_VRAM);
	cr_assert_str_eq(buf->exp_name, VRAM_EXP_NAME);
	cr_assert(dma_buf_is_dynamic(buf));
	cr_assert_eq(stats_of(vram).used, 2 * PAGE_SIZE);
	cr_assert_eq(dma_buf_vmap_unlocked(buf, (void **)&p), 0);
	for (i = 0; i < buf->size; i++)
		cr_assert_eq(p[i], 0, "a new buffer starts zeroed");
	dma_buf_vunmap_unlocked(buf, p);
	dma_buf_put(buf);
	cr_assert_eq(stats_of(vram).used, 0);
	devmem_vram_destroy(vram);
}

Test(vram, create_evicts_unpinned_buffers_when_full)
{
	struct vram *vram = vram_new(2, 0);
	struct dma_buf *a = buffer_new(vram, 1), *b = buffer_new(vram, 1), *c;

	fill(a, 3);
	c = buffer_new(vram, 1);
	cr_assert_eq(devmem_vram_buffer_placement(c), VRAM_PLACEMENT_VRAM);
	cr_assert_eq(devmem_vram_buffer_placement(a), VRAM_PLACEMENT_SYSTEM, "LRU goes first");
	cr_assert_eq(devmem_vram_buffer_placement(b), VRAM_PLACEMENT_VRAM);
	cr_assert_eq(stats_of(vram).evictions, 1);
	cr_assert_eq(stats_of(vram).used, 2 * PAGE_SIZE);
	dma_buf_put(a);
	dma_buf_put(b);
	dma_buf_put(c);
	devmem_vram_destroy(vram);
}

Test(vram, create_falls_back_to_system_when_nothing_can_move)
{
	struct vram *vram = vram_new(2, 0);
	struct dma_buf *a = buffer_new(vram, 2), *b;
	struct importer imp;

	importer_attach(&imp, a, "gpu1", true);
	pin(&imp);
	b = buffer_new(vram, 1);
	cr_assert_eq(devmem_vram_buffer_placement(b), VRAM_PLACEMENT_SYSTEM);
	cr_assert_eq(devmem_vram_buffer_placement(a), VRAM_PLACEMENT_VRAM);
	cr_assert_eq(stats_of(vram).evictions, 0);
	unpin(&imp);
	importer_detach(&imp);
	dma_buf_put(a);
	dma_buf_put(b);
	devmem_vram_destroy(vram);
}

Test(vram, pinned_buffer_never_evicted)
{
	struct vram *vram = vram_new(2, 0);
	struct dma_buf *a = buffer_new(vram, 1), *b = buffer_new(vram, 1);
	struct importer imp;

	importer_attach(&imp, a, "gpu1", true);
	pin(&imp);
	cr_assert_eq(devmem_vram_evict(vram, 2 * PAGE_SIZE), (int64_t)PAGE_SIZE);
	cr_assert_eq(devmem_vram_buffer_placement(a), VRAM_PLACEMENT_VRAM);
	cr_assert_eq(devmem_vram_buffer_placement(b), VRAM_PLACEMENT_SYSTEM);
	cr_assert_eq(imp.notified, 0);
	unpin(&imp);
	cr_assert_eq(devmem_vram_evict(vram, 2 * PAGE_SIZE), (int64_t)(2 * PAGE_SIZE));
	cr_assert_eq(devmem_vram_buffer_placement(a), VRAM_PLACEMENT_SYSTEM);
	cr_assert_eq(imp.notified, 1);
	importer_detach(&imp);
	dma_buf_put(a);
	dma_buf_put(b);
	devmem_vram_destroy(vram);
}

Test(vram, vmap_pins_buffer_until_vunmap)
{
	struct vram *vram = vram_new(1, 0);
	struct dma_buf *a = buffer_new(vram, 1);
	void *p;

	cr_assert_eq(dma_buf_vmap_unlocked(a, &p), 0);
	cr_assert_eq(devmem_vram_evict(vram, PAGE_SIZE), 0);
	cr_assert_eq(devmem_vram_buffer_placement(a), VRAM_PLACEMENT_VRAM);
	dma_buf_vunmap_unlocked(a, p);
	cr_assert_eq(devmem_vram_evict(vram, PAGE_SIZE), (int64_t)PAGE_SIZE);
	cr_assert_eq(devmem_vram_buffer_placement(a), VRAM_PLACEMENT_SYSTEM);
	dma_buf_put(a);
	devmem_vram_destroy(vram);
}

Test(vram, dynamic_importer_gets_move_notify_under_lock)
{
	struct vram *vram = vram_new(1, 0);
	struct dma_buf *a = buffer_new(vram, 1);
	struct importer imp;

	importer_attach(&imp, a, "gpu1", true);
	cr_assert_eq(devmem_vram_evict(vram, PAGE_SIZE), (int64_t)PAGE_SIZE);
	cr_assert_eq(imp.notified, 1);
	cr_assert_not(imp.notified_unlocked, "move_notify must run with the resv lock held");
	importer_detach(&imp);
	dma_buf_put(a);
	devmem_vram_destroy(vram);
}

Test(vram, move_adds_kernel_fence_and_data_survives)
{
	struct vram *vram = vram_new(1, 0);
	struct dma_buf *a = buffer_new(vram, 1);
	struct importer imp;
	struct dma_resv_iter cursor;
	struct dma_fence *fence;
	unsigned int n = 0;

	fill(a, 42);
	cr_assert_eq(devmem_vram_evict(vram, PAGE_SIZE), (int64_t)PAGE_SIZE);
	/*
	 * evict waits for its copies, so the fence has signalled by now: the
	 * locked iterator still sees it (unlocked readers skip signalled ones).
	 */
	dma_resv_lock(a->resv, NULL);
	dma_resv_for_each_fence(&cursor, a->resv, DMA_RESV_USAGE_KERNEL, fence) {
		cr_assert_str_eq(dma_fence_driver_name(fence), VRAM_EXP_NAME);
		cr_assert_eq(dma_resv_iter_usage(&cursor), DMA_RESV_USAGE_KERNEL);
		n++;
	}
	dma_resv_iter_end(&cursor);
	dma_resv_unlock(a->resv);
	cr_assert_eq(n, 1, "the move is one KERNEL fence");

	importer_attach(&imp, a, "nic0", false);
	cr_assert_eq(importer_map(&imp), 0);
	cr_assert_eq(imp.sgt->sgl[0].domain, DMA_DOMAIN_IOMMU);
	cr_assert(device_sees(&imp, 42));
	importer_detach(&imp);
	dma_buf_put(a);
	devmem_vram_destroy(vram);
}

Test(vram, move_fence_pending_until_copy_done)
{
	/* one page at 16 KiB/s: the copy takes about 250 ms */
	struct vram *vram = vram_new(1, 16 * 1024);
	struct dma_buf *a = buffer_new(vram, 1);
	struct importer imp;

	fill(a, 9);
	importer_attach(&imp, a, "nic0", false);
	dma_resv_lock(a->resv, NULL);
	cr_assert_eq(dma_buf_map_attachment(imp.attach, DMA_TO_DEVICE, &imp.sgt), 0);
	dma_resv_unlock(a->resv);
	cr_assert_eq(devmem_vram_buffer_placement(a), VRAM_PLACEMENT_SYSTEM);
	cr_assert_not(dma_resv_test_signaled(a->resv, DMA_RESV_USAGE_KERNEL),
		      "the destination does not hold the data before the copy is done");
	cr_assert_eq(dma_buf_begin_cpu_access(a, DMA_FROM_DEVICE), 0);
	cr_assert(dma_resv_test_signaled(a->resv, DMA_RESV_USAGE_KERNEL),
		  "begin_cpu_access waits for the move");
	cr_assert_eq(dma_buf_end_cpu_access(a, DMA_FROM_DEVICE), 0);
	cr_assert(device_sees(&imp, 9));
	importer_detach(&imp);
	dma_buf_put(a);
	devmem_vram_destroy(vram);
}

Test(vram, flush_waits_for_copies)
{
	struct vram *vram = vram_new(1, 16 * 1024);
	struct dma_buf *a = buffer_new(vram, 1);
	struct importer imp;

	importer_attach(&imp, a, "nic0", false);
	dma_resv_lock(a->resv, NULL);
	cr_assert_eq(dma_buf_map_attachment(imp.attach, DMA_TO_DEVICE, &imp.sgt), 0);
	dma_resv_unlock(a->resv);
	devmem_vram_flush(vram);
	cr_assert(dma_resv_test_signaled(a->resv, DMA_RESV_USAGE_KERNEL));
	cr_assert_eq(stats_of(vram).used, 0, "the heap range is freed once the copy is done");
	importer_detach(&imp);
	dma_buf_put(a);
	devmem_vram_destroy(vram);
}

Test(vram, p2p_mapping_when_importer_allows)
{
	struct vram *vram = vram_new(2, 0);
	struct dma_buf *a = buffer_new(vram, 2);
	struct importer imp;

	fill(a, 5);
	importer_attach(&imp, a, "gpu1", true);
	cr_assert(imp.attach->peer2peer);
	cr_assert_eq(importer_map(&imp), 0);
	cr_assert_eq(devmem_vram_buffer_placement(a), VRAM_PLACEMENT_VRAM);
	cr_assert_eq(imp.sgt->nents, 1);
	cr_assert_eq(imp.sgt->sgl[0].domain, DMA_DOMAIN_P2P);
	cr_assert_eq(sg_dma_len(imp.sgt->sgl), 2 * PAGE_SIZE);
	cr_assert(device_sees(&imp, 5));
	cr_assert_eq(device_mapped_bytes(imp.dev), 2 * PAGE_SIZE);
	importer_unmap(&imp);
	cr_assert_eq(device_mapped_bytes(imp.dev), 0, "unmap undoes the p2p mapping");
	cr_assert_eq(device_fault_count(imp.dev), 0);
	importer_detach(&imp);
	dma_buf_put(a);
	devmem_vram_destroy(vram);
}

Test(vram, non_p2p_importer_gets_system_memory)
{
	struct vram *vram = vram_new(2, 0);
	struct dma_buf *a = buffer_new(vram, 1);
	struct importer nop2p_dev, nop2p_importer;

	fill(a, 11);
	importer_attach(&nop2p_dev, a, "nic0", false);
	cr_assert_not(nop2p_dev.attach->peer2peer, "a device that cannot reach peers: no p2p");
	cr_assert_eq(importer_map(&nop2p_dev), 0);
	cr_assert_eq(devmem_vram_buffer_placement(a), VRAM_PLACEMENT_SYSTEM);
	cr_assert_eq(nop2p_dev.sgt->sgl[0].domain, DMA_DOMAIN_IOMMU);
	cr_assert(device_sees(&nop2p_dev, 11));
	cr_assert_eq(stats_of(vram).evictions, 1);

	/* a p2p-capable device whose importer does not allow p2p */
	memset(&nop2p_importer, 0, sizeof(nop2p_importer));
	nop2p_importer.dev = device_new("gpu1", true);
	cr_assert_eq(dma_buf_dynamic_attach(a, nop2p_importer.dev, &sys_ops, &nop2p_importer,
					    &nop2p_importer.attach),
		     0);
	cr_assert_eq(importer_map(&nop2p_importer), 0);
	cr_assert_eq(nop2p_importer.sgt->sgl[0].domain, DMA_DOMAIN_IOMMU);
	cr_assert(device_sees(&nop2p_importer, 11));
	importer_unmap(&nop2p_importer);
	cr_assert_eq(device_mapped_bytes(nop2p_importer.dev), 0, "unmap undoes the IOMMU mapping");
	importer_detach(&nop2p_importer);
	importer_detach(&nop2p_dev);
	dma_buf_put(a);
	devmem_vram_destroy(vram);
}

Test(vram, static_importer_pins_buffer_while_mapped)
{
	struct vram *vram = vram_new(2, 0);
	struct dma_buf *a = buffer_new(vram, 1);
	struct dma_buf_attachment *st;
	struct device *nic = device_new("nic0", false);
	struct sg_table *sgt;
	struct importer gpu;

	fill(a, 77);
	cr_assert_eq(dma_buf_attach(a, nic, &st), 0);
	cr_assert_eq(dma_buf_map_attachment_unlocked(st, DMA_TO_DEVICE, &sgt), 0);
	cr_assert_eq(devmem_vram_buffer_placement(a), VRAM_PLACEMENT_SYSTEM);
	cr_assert(dma_resv_test_signaled(a->resv, DMA_RESV_USAGE_KERNEL),
		  "the core waited for the move for the static importer");

	/* a p2p importer would bring it back to the heap: not while pinned */
	importer_attach(&gpu, a, "gpu1", true);
	cr_assert_eq(importer_map(&gpu), 0);
	cr_assert_eq(devmem_vram_buffer_placement(a), VRAM_PLACEMENT_SYSTEM);
	cr_assert_eq(gpu.sgt->sgl[0].domain, DMA_DOMAIN_IOMMU);
	cr_assert(device_sees(&gpu, 77));
	importer_unmap(&gpu);
	cr_assert_eq(stats_of(vram).restores, 0);

	dma_buf_unmap_attachment_unlocked(st, sgt, DMA_TO_DEVICE);
	dma_buf_detach(a, st);
	cr_assert_eq(importer_map(&gpu), 0);
	cr_assert_eq(devmem_vram_buffer_placement(a), VRAM_PLACEMENT_VRAM, "unpinned: it can move");
	cr_assert_eq(gpu.sgt->sgl[0].domain, DMA_DOMAIN_P2P);
	cr_assert(device_sees(&gpu, 77));
	importer_detach(&gpu);
	device_put(nic);
	dma_buf_put(a);
	devmem_vram_destroy(vram);
}

Test(vram, pinned_in_vram_refuses_importer_that_cannot_reach_it)
{
	struct vram *vram = vram_new(1, 0);
	struct dma_buf *a = buffer_new(vram, 1);
	struct dma_buf_attachment *st;
	struct device *nic = device_new("nic0", false);
	struct importer gpu, nic1;
	struct sg_table *sgt = NULL;

	importer_attach(&gpu, a, "gpu1", true);
	pin(&gpu);
	cr_assert_eq(dma_buf_attach(a, nic, &st), 0);
	cr_assert_eq(dma_buf_map_attachment_unlocked(st, DMA_TO_DEVICE, &sgt), -EINVAL);
	cr_assert_null(sgt);
	cr_assert_eq(st->map_count, 0);
	cr_assert_eq(device_mapped_bytes(nic), 0);

	importer_attach(&nic1, a, "nic1", false);
	cr_assert_eq(importer_map(&nic1), -EBUSY);
	cr_assert_eq(device_mapped_bytes(nic1.dev), 0);
	cr_assert_eq(devmem_vram_buffer_placement(a), VRAM_PLACEMENT_VRAM);
	cr_assert_eq(stats_of(vram).evictions, 0);

	importer_detach(&nic1);
	dma_buf_detach(a, st);
	unpin(&gpu);
	importer_detach(&gpu);
	device_put(nic);
	dma_buf_put(a);
	devmem_vram_destroy(vram);
}

Test(vram, buffer_moves_back_when_mapped_and_room)
{
	struct vram *vram = vram_new(1, 0);
	struct dma_buf *a = buffer_new(vram, 1), *b;
	struct importer gpu, other;
	void *p;

	fill(a, 23);
	importer_attach(&other, a, "gpu2", true);
	b = buffer_new(vram, 1);
	cr_assert_eq(devmem_vram_buffer_placement(a), VRAM_PLACEMENT_SYSTEM);
	cr_assert_eq(other.notified, 1);

	/* no room (b is pinned by a vmap): a stays in system memory, mapped through the IOMMU */
	cr_assert_eq(dma_buf_vmap_unlocked(b, &p), 0);
	importer_attach(&gpu, a, "gpu1", true);
	cr_assert_eq(importer_map(&gpu), 0);
	cr_assert_eq(devmem_vram_buffer_placement(a), VRAM_PLACEMENT_SYSTEM);
	cr_assert_eq(gpu.sgt->sgl[0].domain, DMA_DOMAIN_IOMMU);
	importer_unmap(&gpu);
	dma_buf_vunmap_unlocked(b, p);

	/* room: b is evicted, a comes back, the other importer is told */
	cr_assert_eq(importer_map(&gpu), 0);
	cr_assert_eq(devmem_vram_buffer_placement(a), VRAM_PLACEMENT_VRAM);
	cr_assert_eq(devmem_vram_buffer_placement(b), VRAM_PLACEMENT_SYSTEM);
	cr_assert_eq(gpu.sgt->sgl[0].domain, DMA_DOMAIN_P2P);
	cr_assert_eq(other.notified, 2);
	cr_assert(device_sees(&gpu, 23));
	cr_assert_eq(stats_of(vram).restores, 1);
	importer_detach(&gpu);
	importer_detach(&other);
	dma_buf_put(a);
	dma_buf_put(b);
	devmem_vram_destroy(vram);
}

Test(vram, own_move_notify_during_map_is_harmless)
{
	struct vram *vram = vram_new(1, 0);
	struct dma_buf *a = buffer_new(vram, 1);
	struct importer nic;

	fill(a, 61);
	importer_attach(&nic, a, "nic0", false);
	cr_assert_eq(importer_map(&nic), 0);
	/* the mapping attachment is told too; the table it got is already at the new place */
	cr_assert_eq(nic.notified, 1);
	cr_assert(device_sees(&nic, 61));
	cr_assert_eq(device_fault_count(nic.dev), 0);
	importer_detach(&nic);
	dma_buf_put(a);
	devmem_vram_destroy(vram);
}

Test(vram, evict_skips_buffer_whose_lock_is_held)
{
	struct vram *vram = vram_new(2, 0);
	struct dma_buf *a = buffer_new(vram, 1), *b = buffer_new(vram, 1), *c;

	/* as a map of another buffer would, while this thread holds a's lock */
	dma_resv_lock(a->resv, NULL);
	c = buffer_new(vram, 2);
	cr_assert_eq(devmem_vram_buffer_placement(a), VRAM_PLACEMENT_VRAM);
	cr_assert_eq(devmem_vram_buffer_placement(b), VRAM_PLACEMENT_SYSTEM);
	cr_assert_eq(devmem_vram_buffer_placement(c), VRAM_PLACEMENT_SYSTEM);
	cr_assert_eq(devmem_vram_evict(vram, 2 * PAGE_SIZE), (int64_t)PAGE_SIZE);
	dma_resv_unlock(a->resv);
	cr_assert_eq(devmem_vram_evict(vram, 2 * PAGE_SIZE), (int64_t)(2 * PAGE_SIZE));
	dma_buf_put(a);
	dma_buf_put(b);
	dma_buf_put(c);
	devmem_vram_destroy(vram);
}

Test(vram, stale_address_after_move_faults)
{
	struct vram *vram = vram_new(1, 0);
	struct dma_buf *a = buffer_new(vram, 1);
	struct importer gpu, nic;
	dma_addr_t old;
	char byte;

	/* p2p address, then the buffer is evicted */
	importer_attach(&gpu, a, "gpu1", true);
	cr_assert_eq(importer_map(&gpu), 0);
	old = sg_dma_address(gpu.sgt->sgl);
	cr_assert_eq(devmem_vram_evict(vram, PAGE_SIZE), (int64_t)PAGE_SIZE);
	cr_assert_eq(gpu.notified, 1);
	cr_assert_eq(device_access(gpu.dev, old, &byte, 1, DMA_TO_DEVICE), -EFAULT);
	cr_assert_eq(device_fault_count(gpu.dev), 1);
	cr_assert_eq(device_mapped_bytes(gpu.dev), 0, "the translation was revoked at the move");
	importer_unmap(&gpu);

	/* IOMMU address, then the buffer is restored into the heap */
	importer_attach(&nic, a, "nic0", false);
	cr_assert_eq(importer_map(&nic), 0);
	old = sg_dma_address(nic.sgt->sgl);
	cr_assert_eq(importer_map(&gpu), 0);
	cr_assert_eq(devmem_vram_buffer_placement(a), VRAM_PLACEMENT_VRAM);
	cr_assert_eq(nic.notified, 1);
	cr_assert_eq(device_access(nic.dev, old, &byte, 1, DMA_FROM_DEVICE), -EFAULT);
	cr_assert_eq(device_fault_count(nic.dev), 1);
	importer_detach(&nic);
	importer_detach(&gpu);
	dma_buf_put(a);
	devmem_vram_destroy(vram);
}

Test(vram, bad_args)
{
	struct vram_opts opts = { .sz = 0 };
	struct vram *vram = NULL;
	struct dma_buf *buf = NULL, *host;

	cr_assert_eq(devmem_vram_create("v", 0, NULL, &vram), -EINVAL);
	cr_assert_eq(devmem_vram_create("v", PAGE_SIZE + 1, NULL, &vram), -EINVAL);
	cr_assert_eq(devmem_vram_create(NULL, PAGE_SIZE, NULL, &vram), -EINVAL);
	cr_assert_eq(devmem_vram_create("v", PAGE_SIZE, &opts, &vram), -EINVAL);
	cr_assert_null(vram);

	vram = vram_new(2, 0);
	cr_assert_eq(devmem_vram_buffer_create(vram, 0, &buf), -EINVAL);
	cr_assert_eq(devmem_vram_buffer_create(vram, PAGE_SIZE / 2, &buf), -EINVAL);
	cr_assert_eq(devmem_vram_buffer_create(vram, PAGE_SIZE + 1, &buf), -EINVAL);
	cr_assert_eq(devmem_vram_buffer_create(NULL, PAGE_SIZE, &buf), -EINVAL);
	cr_assert_null(buf);
	cr_assert_eq(stats_of(vram).used, 0, "a refused create takes nothing");
	cr_assert_eq(devmem_vram_evict(NULL, 1), -EINVAL);
	cr_assert_eq(devmem_vram_buffer_placement(NULL), -EINVAL);
	cr_assert_eq(devmem_host_buffer_create(PAGE_SIZE, NULL, &host), 0);
	cr_assert_eq(devmem_vram_buffer_placement(host), -EINVAL);
	dma_buf_put(host);
	devmem_vram_destroy(vram);
}

Test(vram, stats)
{
	struct vram *vram = vram_new(2, 0);
	struct dma_buf *a = buffer_new(vram, 1), *b = buffer_new(vram, 1);
	struct vram_stats st = stats_of(vram);
	struct importer gpu;

	cr_assert_eq(st.capacity, 2 * PAGE_SIZE);
	cr_assert_eq(st.used, 2 * PAGE_SIZE);
	cr_assert_eq(st.evictions + st.restores + st.bytes_moved, 0);

	cr_assert_eq(devmem_vram_evict(vram, 2 * PAGE_SIZE), (int64_t)(2 * PAGE_SIZE));
	st = stats_of(vram);
	cr_assert_eq(st.evictions, 2);
	cr_assert_eq(st.used, 0);
	cr_assert_eq(st.bytes_moved, 2 * PAGE_SIZE);

	importer_attach(&gpu, a, "gpu1", true);
	cr_assert_eq(importer_map(&gpu), 0);
	st = stats_of(vram);
	cr_assert_eq(st.restores, 1);
	cr_assert_eq(st.used, PAGE_SIZE);
	cr_assert_eq(st.bytes_moved, 3 * PAGE_SIZE);
	importer_detach(&gpu);
	dma_buf_put(a);
	dma_buf_put(b);
	cr_assert_eq(stats_of(vram).used, 0);
	devmem_vram_destroy(vram);
}
