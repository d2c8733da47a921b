// SPDX-License-Identifier: MIT
/*
 * vram-importer: a dynamic importer of device memory that moves.
 *
 * An accelerator (a device that can reach peers) imports a 1 MiB buffer of a
 * simulated vram of 2 MiB. It attaches dynamically, with a move_notify
 * callback, and maps under the buffer's reservation lock: it gets the
 * buffer's peer-to-peer bus address. Then a 2 MiB buffer is created on the
 * same vram: there is no room, so the exporter evicts the first buffer to
 * system memory. It calls move_notify (with the reservation lock held), the
 * importer marks its mapping invalid, and the copy runs on the vram's copy
 * engine behind a KERNEL-usage fence in the buffer's reservation object.
 *
 * The old address now faults (the exporter revoked it). Before touching the
 * buffer again the importer takes the lock, drops the old mapping, maps
 * again (an IOMMU address in system memory this time), and waits for the
 * KERNEL fences: the move's copy must be done before the device reads.
 * The bytes written before the move are still there.
 *
 * Build (installed library):  cc vram-importer.c $(pkg-config --cflags --libs libdevmem)
 * Run:                        ./a.out
 * Exit status: 0 when the importer saw the move and read the right bytes
 * after it, 1 otherwise.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <devmem/dma-buf.h>
#include <devmem/error.h>
#include <devmem/vram.h>

#define MIB (1u << 20)
#define SEED 0x5a

struct importer {
	struct device *dev;
	struct dma_buf_attachment *attach;
	struct sg_table *sgt; /* protected by the resv lock */
	bool invalid; /* the exporter moved the buffer; protected by the resv lock */
	unsigned int moves;
	bool waited; /* the last map found a move still copying */
};

/* Called by the exporter with the resv lock held: stop using the mapping. */
static void importer_move_notify(struct dma_buf_attachment *attach)
{
	struct importer *imp = attach->importer_priv;

	imp->invalid = true;
	imp->moves++;
}

static const struct dma_buf_attach_ops importer_ops = {
	.allow_peer2peer = true,
	.move_notify = importer_move_notify,
};

/*
 * Make the importer's mapping valid: under the resv lock, drop a mapping
 * the exporter invalidated and map again; then wait for the KERNEL fences
 * (a move still copying) before the device may touch the memory.
 */
static int importer_map(struct importer *imp)
{
	struct dma_buf *buf = imp->attach->dmabuf;
	int64_t left;
	int err = 0;

	dma_resv_lock(buf->resv, NULL);
	if (imp->sgt && imp->invalid) {
		dma_buf_unmap_attachment(imp->attach, imp->sgt, DMA_BIDIRECTIONAL);
		imp->sgt = NULL;
	}
	if (!imp->sgt) {
		/* clear it first: a move made by this very map notifies us too */
		imp->invalid = false;
		err = dma_buf_map_attachment(imp->attach, DMA_BIDIRECTIONAL, &imp->sgt);
	}
	dma_resv_unlock(buf->resv);
	if (err)
		return err;

	imp->waited = !dma_resv_test_signaled(buf->resv, DMA_RESV_USAGE_KERNEL);
	left = dma_resv_wait_timeout(buf->resv, DMA_RESV_USAGE_KERNEL, false,
				     DMA_FENCE_MAX_TIMEOUT);
	return left < 0 ? (int)left : 0;
}

/* The device reads the whole buffer through its mapping and checks the bytes. */
static int device_check(struct importer *imp, size_t size)
{
	unsigned char *tmp = malloc(size);
	struct scatterlist *sg;
	size_t off = 0;
	unsigned int i;
	int err = 0;

	if (!tmp)
		return -ENOMEM;
	for_each_sgtable_dma_sg(imp->sgt, sg, i)
	{
		err = device_access(imp->dev, sg_dma_address(sg), tmp + off, sg_dma_len(sg),
				    DMA_TO_DEVICE);
		if (err)
			break;
		off += sg_dma_len(sg);
	}
	for (i = 0; !err && i < size; i++)
		if (tmp[i] != (unsigned char)(SEED + i * 7))
			err = -EIO;
	free(tmp);
	return err;
}

static const char *domain_name(const struct importer *imp)
{
	return imp->sgt->sgl[0].domain == DMA_DOMAIN_P2P ? "peer-to-peer bus address" :
							   "IOMMU address (system memory)";
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "vram-importer: %s: %s (%s)\n", what, strerror(-err), devmem_last_error());
	return 1;
}

int main(void)
{
	/* a slow copy engine (64 MiB/s), so that the move is still running when we look */
	struct vram_opts vopts = { .sz = sizeof(vopts), .copy_bandwidth = 64ull * MIB };
	struct device_opts dopts = { .sz = sizeof(dopts), .p2p = true };
	struct importer imp = { 0 };
	struct dma_buf *buf, *big;
	struct vram *vram;
	dma_addr_t old_addr;
	unsigned char *p;
	int err;

	err = devmem_vram_create("vram0", 2 * MIB, &vopts, &vram);
	if (!err)
		err = devmem_vram_buffer_create(vram, MIB, &buf);
	if (err)
		return fail("vram buffer", err);

	/* the exporter's side: fill the buffer through the CPU */
	err = dma_buf_vmap_unlocked(buf, (void **)&p);
	if (err)
		return fail("vmap", err);
	dma_buf_begin_cpu_access(buf, DMA_TO_DEVICE);
	for (size_t i = 0; i < MIB; i++)
		p[i] = (unsigned char)(SEED + i * 7);
	dma_buf_end_cpu_access(buf, DMA_TO_DEVICE);
	dma_buf_vunmap_unlocked(buf, p); /* a vmap pins: let go so the buffer can move */

	/* the importer's side */
	err = device_create("accel0", &dopts, &imp.dev);
	if (!err)
		err = dma_buf_dynamic_attach(buf, imp.dev, &importer_ops, &imp, &imp.attach);
	if (!err)
		err = importer_map(&imp);
	if (!err)
		err = device_check(&imp, MIB);
	if (err)
		return fail("import and read", err);
	printf("mapped at %#llx (%s); the device reads the right bytes\n",
	       (unsigned long long)sg_dma_address(imp.sgt->sgl), domain_name(&imp));
	old_addr = sg_dma_address(imp.sgt->sgl);

	/* memory pressure: a 2 MiB buffer needs the whole heap, ours must go */
	err = devmem_vram_buffer_create(vram, 2 * MIB, &big);
	if (err)
		return fail("second vram buffer", err);
	printf("a 2 MiB buffer evicted ours to %s memory; move_notify called %u time(s)\n",
	       devmem_vram_buffer_placement(buf) == VRAM_PLACEMENT_SYSTEM ? "system" : "vram",
	       imp.moves);
	if (imp.moves != 1 || !imp.invalid)
		return 1;

	/* a device still using the old address is refused, never served stale memory */
	if (device_access(imp.dev, old_addr, &(unsigned char){ 0 }, 1, DMA_TO_DEVICE) != -EFAULT) {
		fprintf(stderr, "vram-importer: the old address still works after the move\n");
		return 1;
	}
	printf("the old address faults (%llu fault(s) on accel0)\n",
	       (unsigned long long)device_fault_count(imp.dev));

	err = importer_map(&imp);
	if (!err)
		err = device_check(&imp, MIB);
	if (err)
		return fail("remap and read after the move", err);
	/*
	 * The importer reaches peers, so the map brought the buffer back into
	 * the heap (the other buffer is least recently used and was evicted):
	 * a second move, whose copy the wait for the KERNEL fences covered.
	 */
	printf("remapped at %#llx (%s)%s; the bytes survived the moves\n",
	       (unsigned long long)sg_dma_address(imp.sgt->sgl), domain_name(&imp),
	       imp.waited ? " after waiting for the move's KERNEL fence" : "");

	dma_buf_unmap_attachment_unlocked(imp.attach, imp.sgt, DMA_BIDIRECTIONAL);
	dma_buf_detach(buf, imp.attach);
	device_put(imp.dev);
	dma_buf_put(big);
	dma_buf_put(buf);
	devmem_vram_flush(vram);
	devmem_vram_destroy(vram);
	return 0;
}
