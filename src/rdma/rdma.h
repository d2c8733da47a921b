/* SPDX-License-Identifier: MIT */
/*
 * The software RDMA device: its objects, and the memory-region access the
 * queue pairs' progress threads use (what a HCA does with its MTT).
 */
#ifndef DEVMEM_RDMA_RDMA_H
#define DEVMEM_RDMA_RDMA_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "devmem/rdma.h"
#include "lib/compiler.h"
#include "rdma/umem_dmabuf.h"

#define SWRDMA_DEV_NAME "swrdma0"
#define SWRDMA_MAX_SGE 16
#define SWRDMA_MAX_QP_WR 16384
#define SWRDMA_MAX_CQE (1 << 20)
#define SWRDMA_MAX_MSG_SZ (1U << 31)

struct swrdma_context {
	struct devmem_ibv_context ibv;
	struct devmem_ibv_device *ibdev;
	struct device *dev; /* the RDMA device's own IOMMU domain */
	long nr_objects; /* atomic: PDs, MRs, CQs and QPs alive */
	uint32_t next_qpn; /* atomic */
	pthread_rwlock_t mr_lock; /* protects the key table */
	struct swrdma_mr **mr_table; /* index: key >> 8; NULL slots are free */
	uint8_t *mr_gen; /* per slot: the low byte of the next key it hands out */
	unsigned int mr_table_size;
};

static inline struct swrdma_context *to_sctx(struct devmem_ibv_context *ibctx)
{
	return container_of(ibctx, struct swrdma_context, ibv);
}

struct swrdma_pd {
	struct devmem_ibv_pd ibv;
	long users; /* atomic: MRs and QPs */
};

enum swrdma_mr_type { SWRDMA_MR_HOST, SWRDMA_MR_DMABUF_PINNED, SWRDMA_MR_DMABUF_DYNAMIC };

/* One translation entry: bytes [start, start + len) of the region's pages are at @dma. */
struct swrdma_mtt_ent {
	uint64_t start;
	dma_addr_t dma;
	uint64_t len;
};

struct swrdma_mr {
	struct devmem_ibv_mr ibv;
	struct swrdma_context *ctx;
	enum swrdma_mr_type type;
	int access;
	uint64_t iova; /* the region's first address */
	size_t length;
	/* host MRs */
	dma_addr_t host_dma;
	/* dma-buf MRs */
	struct ib_umem_dmabuf *umem;
	/*
	 * The translation table. Written under the resv lock while @valid is
	 * false and no access is in flight; read by accesses that saw @valid.
	 */
	struct swrdma_mtt_ent *mtt;
	unsigned int mtt_nents, mtt_cap;
	int valid; /* atomic: the table may be used */
	long active; /* atomic: device accesses in flight (move_notify waits for 0) */
	long refs; /* atomic: work requests holding the MR (dereg waits for 0) */
	struct devmem_ibv_mr_stats stats; /* atomic counters */
};

static inline struct swrdma_mr *to_smr(struct devmem_ibv_mr *ibmr)
{
	return container_of(ibmr, struct swrdma_mr, ibv);
}

/*
 * The MR with key @key, with a reference (swrdma_mr_put()), or NULL. A
 * lookup from the data path: takes the table's read lock.
 */
struct swrdma_mr *swrdma_mr_lookup(struct swrdma_context *ctx, uint32_t key);
void swrdma_mr_put(struct swrdma_mr *mr);

/* [addr, addr + len) lies in the MR (no wrap). */
static inline bool swrdma_mr_covers(const struct swrdma_mr *mr, uint64_t addr, uint64_t len)
{
	return addr >= mr->iova && len <= mr->length && addr - mr->iova <= mr->length - len;
}

/*
 * One device access: move up to @len bytes between the MR at address
 * @addr and @fn (a non-blocking copy, receive or send into or out of the
 * CPU pointer of the device address), through the translation table,
 * faulting it in first if move_notify zapped it. @dir: DMA_FROM_DEVICE
 * when the device writes the MR. Returns the bytes @fn moved (>= 0; fewer
 * than @len where a table entry ends), or @fn's negative errno (-EAGAIN),
 * or the fault path's (-ETIMEDOUT, -EFAULT, ...).
 */
typedef ssize_t (*swrdma_io_fn)(void *cpu, size_t len, void *arg);
ssize_t swrdma_mr_io(struct swrdma_mr *mr, uint64_t addr, size_t len, enum dma_data_direction dir,
		     swrdma_io_fn fn, void *arg);

/* Completion ordering between device accesses and the CPU (see verbs.c). */
void swrdma_dma_order_release(void);
void swrdma_dma_order_acquire(void);

struct swrdma_cq_slot {
	uint64_t seq; /* atomic */
	struct devmem_ibv_wc wc;
};

/* A bounded multi-producer multi-consumer queue of completions (lock-free). */
struct swrdma_cq {
	struct devmem_ibv_cq ibv;
	struct swrdma_cq_slot *slots;
	uint64_t mask;
	uint64_t head; /* atomic: consumers */
	uint64_t tail; /* atomic: producers */
	long users; /* atomic: QPs */
};

static inline struct swrdma_cq *to_scq(struct devmem_ibv_cq *ibcq)
{
	return container_of(ibcq, struct swrdma_cq, ibv);
}

/* Add a completion; false if the queue is full. */
bool swrdma_cq_push(struct swrdma_cq *cq, const struct devmem_ibv_wc *wc);

#endif
