/* SPDX-License-Identifier: MIT */
/*
 * ib_umem_dmabuf: the pages of a memory region taken from a dma-buf
 * (drivers/infiniband/core/umem_dmabuf.c).
 *
 * The umem covers [address, address + length) of the buffer. Mapping it maps
 * the whole attachment, then trims the exporter's sg table in place so that
 * its entries cover exactly [ALIGN_DOWN(address), ALIGN(address + length)):
 * the first entry is advanced by first_sg_offset, the last is shortened by
 * last_sg_trim, and the entries before and after are left out of (sgl, nents).
 * Unmapping puts the table back the way the exporter made it, since the
 * exporter frees it by its own view of it.
 *
 * Dynamic umems are mapped on demand, under the resv lock, by the driver's
 * page-fault path; the driver's move_notify unmaps them. Pinned umems are
 * pinned and mapped once, at creation, and never move; a revocable pinned
 * umem is unmapped and unpinned, at most once, when the exporter revokes it
 * (its move_notify), and cannot be mapped again.
 */
#ifndef DEVMEM_RDMA_UMEM_DMABUF_H
#define DEVMEM_RDMA_UMEM_DMABUF_H

#include <stdbool.h>
#include <stdint.h>

#include "devmem/dma-buf.h"
#include "lib/compiler.h"

struct ib_umem_dmabuf {
	unsigned long address; /* offset of the region in the buffer */
	size_t length;
	bool writable; /* access asked for a write of any kind */
	struct dma_buf_attachment *attach;
	/* the rest is protected by the resv lock */
	struct sg_table *sgt; /* the exporter's table, trimmed; NULL: unmapped */
	struct sg_table umem_sgt; /* the trimmed view: sgl = first_sg, nents */
	struct scatterlist *first_sg;
	unsigned long first_sg_offset;
	struct scatterlist *last_sg;
	unsigned long last_sg_trim;
	int64_t fence_timeout_ns; /* waiting for the KERNEL fences; < 0: forever */
	void (*pinned_revoke)(void *priv); /* revocable pinned: run before the unmap */
	void *pinned_revoke_priv;
	void *private; /* the driver's */
	uint64_t unexpected_moves; /* atomic: move_notify on a pinned umem (warned) */
	unsigned int pinned : 1;
	unsigned int revoked : 1;
};

/* Pages the region spans, counted from ALIGN_DOWN(address). */
static inline size_t ib_umem_dmabuf_num_pages(const struct ib_umem_dmabuf *umem)
{
	return (ALIGN(umem->address + umem->length, PAGE_SIZE) -
		ALIGN_DOWN(umem->address, PAGE_SIZE)) >>
	       PAGE_SHIFT;
}

/*
 * A dynamic umem of [offset, offset + size) of the buffer behind @fd,
 * attached to @dev with @ops (move_notify mandatory). Nothing is mapped.
 * -EINVAL: offset + size overflows, no move_notify, the range runs past the
 * buffer, or it covers no page (size 0); dma_buf_get()'s errno for @fd
 * (-EBADF for a closed or negative fd); -ENOMEM.
 */
int ib_umem_dmabuf_get(struct device *dev, unsigned long offset, size_t size, int fd, int access,
		       const struct dma_buf_attach_ops *ops, struct ib_umem_dmabuf **out);
/* Pinned: the same checks, then pin and map once (errors of pin and map undone). */
int ib_umem_dmabuf_get_pinned(struct device *dev, unsigned long offset, size_t size, int fd,
			      int access, struct ib_umem_dmabuf **out);
/*
 * Pinned and revocable: as above, and the exporter's move_notify revokes it
 * (runs @revoke once, then unmaps and unpins). Returns with the resv lock
 * held on success, so that the caller installs @revoke before any revocation
 * can run (ib_umem_dmabuf_set_revoke_locked()), then unlocks.
 */
int ib_umem_dmabuf_get_pinned_revocable_and_lock(struct device *dev, unsigned long offset,
						 size_t size, int fd, int access,
						 struct ib_umem_dmabuf **out);
void ib_umem_dmabuf_set_revoke_locked(struct ib_umem_dmabuf *umem, void (*revoke)(void *priv),
				      void *priv);

/*
 * Map (if unmapped) and trim, then wait for the buffer's KERNEL fences: 0,
 * -ETIMEDOUT when they did not signal within fence_timeout_ns, -EINVAL
 * after a revocation, or the map's errno. Resv lock held.
 */
int ib_umem_dmabuf_map_pages(struct ib_umem_dmabuf *umem);
/* Restore the trim and unmap; nothing if unmapped. Resv lock held. */
void ib_umem_dmabuf_unmap_pages(struct ib_umem_dmabuf *umem);
/* Revoke (revocable pinned), unmap, unpin, detach, put, free. No lock held. */
void ib_umem_dmabuf_release(struct ib_umem_dmabuf *umem);

#endif
