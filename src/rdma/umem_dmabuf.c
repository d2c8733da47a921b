// SPDX-License-Identifier: MIT
/*
 * Memory-region pages from a dma-buf (drivers/infiniband/core/umem_dmabuf.c).
 *
 * The rules follow the kernel's: the umem is a dynamic importer of the
 * buffer; a pinned umem is a dynamic importer that pins, so the exporter
 * keeps the buffer where it is and its move_notify is never expected.
 */
#include <errno.h>
#include <stdlib.h>

#include "lib/debug.h"
#include "lib/error.h"
#include "rdma/umem_dmabuf.h"

#define IB_ACCESS_WRITE_MASK (1 | 2 | 8) /* LOCAL_WRITE, REMOTE_WRITE, REMOTE_ATOMIC */

int ib_umem_dmabuf_map_pages(struct ib_umem_dmabuf *umem)
{
	struct dma_resv *resv = umem->attach->dmabuf->resv;
	unsigned long start, end, cur = 0;
	struct scatterlist *sg;
	struct sg_table *sgt;
	unsigned int nmap = 0, i;
	int64_t ret;
	int err;

	devmem_assert(dma_resv_held(resv), "ib_umem_dmabuf_map_pages: resv lock not held");
	if (umem->revoked)
		return devmem_err(-EINVAL, "umem_dmabuf: mapping a revoked region");
	if (umem->sgt)
		goto wait_fence;

	err = dma_buf_map_attachment(umem->attach, DMA_BIDIRECTIONAL, &sgt);
	if (err)
		return err;

	/*
	 * Cut the exporter's table down to the pages of the region, in place:
	 * the hardware's translation table is built from the trimmed entries.
	 */
	start = ALIGN_DOWN(umem->address, PAGE_SIZE);
	end = ALIGN(umem->address + umem->length, PAGE_SIZE);
	for_each_sgtable_dma_sg(sgt, sg, i)
	{
		if (start < cur + sg_dma_len(sg) && cur < end)
			nmap++;
		if (cur <= start && start < cur + sg_dma_len(sg)) {
			unsigned long offset = start - cur;

			umem->first_sg = sg;
			umem->first_sg_offset = offset;
			sg_dma_address(sg) += offset;
			sg_dma_len(sg) -= offset;
			cur += offset;
		}
		if (cur < end && end <= cur + sg_dma_len(sg)) {
			unsigned long trim = cur + sg_dma_len(sg) - end;

			umem->last_sg = sg;
			umem->last_sg_trim = trim;
			sg_dma_len(sg) -= trim;
			break;
		}
		cur += sg_dma_len(sg);
	}
	umem->umem_sgt.sgl = umem->first_sg;
	umem->umem_sgt.nents = nmap;
	umem->sgt = sgt;

wait_fence:
	/*
	 * The table is valid now, but a move may still be copying the
	 * contents: the device must not touch them before the move's fence.
	 */
	ret = dma_resv_wait_timeout(resv, DMA_RESV_USAGE_KERNEL, false,
				    umem->fence_timeout_ns < 0 ? DMA_FENCE_MAX_TIMEOUT :
								 umem->fence_timeout_ns);
	if (ret < 0)
		return (int)ret;
	if (ret == 0)
		return devmem_err(-ETIMEDOUT, "umem_dmabuf: the buffer's move did not finish");
	return 0;
}

void ib_umem_dmabuf_unmap_pages(struct ib_umem_dmabuf *umem)
{
	devmem_assert(dma_resv_held(umem->attach->dmabuf->resv),
		      "ib_umem_dmabuf_unmap_pages: resv lock not held");
	if (!umem->sgt)
		return;

	/* the exporter frees the table by its own entries: give them back whole */
	if (umem->first_sg) {
		sg_dma_address(umem->first_sg) -= umem->first_sg_offset;
		sg_dma_len(umem->first_sg) += umem->first_sg_offset;
		umem->first_sg = NULL;
		umem->first_sg_offset = 0;
	}
	if (umem->last_sg) {
		sg_dma_len(umem->last_sg) += umem->last_sg_trim;
		umem->last_sg = NULL;
		umem->last_sg_trim = 0;
	}
	umem->umem_sgt.sgl = NULL;
	umem->umem_sgt.nents = 0;
	dma_buf_unmap_attachment(umem->attach, umem->sgt, DMA_BIDIRECTIONAL);
	umem->sgt = NULL;
}

int ib_umem_dmabuf_get(struct device *dev, unsigned long offset, size_t size, int fd, int access,
		       const struct dma_buf_attach_ops *ops, struct ib_umem_dmabuf **out)
{
	struct ib_umem_dmabuf *umem;
	struct dma_buf *dmabuf;
	unsigned long end;
	int err;

	if (__builtin_add_overflow(offset, (unsigned long)size, &end))
		return devmem_err(-EINVAL, "umem_dmabuf: offset %lu + length %zu overflows", offset,
				  size);
	if (!ops || !ops->move_notify)
		return devmem_err(-EINVAL, "umem_dmabuf: no move_notify");

	err = dma_buf_get(fd, &dmabuf);
	if (err)
		return err;
	if (dmabuf->size < end) {
		err = devmem_err(-EINVAL,
				 "umem_dmabuf: [%lu, %lu) runs past the buffer (%zu bytes)", offset,
				 end, dmabuf->size);
		goto err_put;
	}

	umem = calloc(1, sizeof(*umem));
	if (!umem) {
		err = -ENOMEM;
		goto err_put;
	}
	umem->address = offset;
	umem->length = size;
	umem->writable = access & IB_ACCESS_WRITE_MASK;
	umem->fence_timeout_ns = -1;
	if (!ib_umem_dmabuf_num_pages(umem)) {
		err = devmem_err(-EINVAL, "umem_dmabuf: empty region");
		goto err_free;
	}

	err = dma_buf_dynamic_attach(dmabuf, dev, ops, umem, &umem->attach);
	if (err)
		goto err_free;
	*out = umem;
	return 0;

err_free:
	free(umem);
err_put:
	dma_buf_put(dmabuf);
	return err;
}

/* The buffer is pinned: a move would be an exporter bug. Say so and go on. */
static void ib_umem_dmabuf_unsupported_move_notify(struct dma_buf_attachment *attach)
{
	struct ib_umem_dmabuf *umem = attach->importer_priv;

	__atomic_fetch_add(&umem->unexpected_moves, 1, __ATOMIC_RELAXED);
	devmem_err(-EINVAL, "umem_dmabuf: invalidate callback called on pinned memory");
}

static const struct dma_buf_attach_ops ib_umem_dmabuf_attach_pinned_ops = {
	.allow_peer2peer = true,
	.move_notify = ib_umem_dmabuf_unsupported_move_notify,
};

/* Revocation runs at most once: later calls (and the release) find it done. */
static void ib_umem_dmabuf_revoke_locked(struct dma_buf_attachment *attach)
{
	struct ib_umem_dmabuf *umem = attach->importer_priv;

	if (umem->revoked)
		return;
	if (umem->pinned_revoke)
		umem->pinned_revoke(umem->pinned_revoke_priv);
	ib_umem_dmabuf_unmap_pages(umem);
	if (umem->pinned) {
		dma_buf_unpin(umem->attach);
		umem->pinned = 0;
	}
	umem->revoked = 1;
}

static const struct dma_buf_attach_ops ib_umem_dmabuf_attach_pinned_revocable_ops = {
	.allow_peer2peer = true,
	.move_notify = ib_umem_dmabuf_revoke_locked,
};

static int ib_umem_dmabuf_get_pinned_and_lock(struct device *dev, unsigned long offset, size_t size,
					      int fd, int access,
					      const struct dma_buf_attach_ops *ops,
					      struct ib_umem_dmabuf **out)
{
	struct ib_umem_dmabuf *umem;
	struct dma_resv *resv;
	int err;

	err = ib_umem_dmabuf_get(dev, offset, size, fd, access, ops, &umem);
	if (err)
		return err;
	resv = umem->attach->dmabuf->resv;
	dma_resv_lock(resv, NULL);
	err = dma_buf_pin(umem->attach);
	if (err)
		goto err_release;
	umem->pinned = 1;
	err = ib_umem_dmabuf_map_pages(umem);
	if (err)
		goto err_unpin;
	*out = umem;
	return 0;

err_unpin:
	dma_buf_unpin(umem->attach);
	umem->pinned = 0;
err_release:
	dma_resv_unlock(resv);
	ib_umem_dmabuf_release(umem);
	return err;
}

int ib_umem_dmabuf_get_pinned(struct device *dev, unsigned long offset, size_t size, int fd,
			      int access, struct ib_umem_dmabuf **out)
{
	int err = ib_umem_dmabuf_get_pinned_and_lock(dev, offset, size, fd, access,
						     &ib_umem_dmabuf_attach_pinned_ops, out);

	if (!err)
		dma_resv_unlock((*out)->attach->dmabuf->resv);
	return err;
}

int ib_umem_dmabuf_get_pinned_revocable_and_lock(struct device *dev, unsigned long offset,
						 size_t size, int fd, int access,
						 struct ib_umem_dmabuf **out)
{
	return ib_umem_dmabuf_get_pinned_and_lock(dev, offset, size, fd, access,
						  &ib_umem_dmabuf_attach_pinned_revocable_ops, out);
}

void ib_umem_dmabuf_set_revoke_locked(struct ib_umem_dmabuf *umem, void (*revoke)(void *priv),
				      void *priv)
{
	devmem_assert(dma_resv_held(umem->attach->dmabuf->resv),
		      "ib_umem_dmabuf_set_revoke_locked: resv lock not held");
	umem->pinned_revoke = revoke;
	umem->pinned_revoke_priv = priv;
}

void ib_umem_dmabuf_release(struct ib_umem_dmabuf *umem)
{
	struct dma_buf *dmabuf = umem->attach->dmabuf;

	dma_resv_lock(dmabuf->resv, NULL);
	ib_umem_dmabuf_revoke_locked(umem->attach);
	dma_resv_unlock(dmabuf->resv);

	dma_buf_detach(dmabuf, umem->attach);
	dma_buf_put(dmabuf);
	free(umem);
}
