// SPDX-License-Identifier: MIT
/*
 * The software RDMA device: device list, contexts, protection domains,
 * memory regions (host, dma-buf pinned, dma-buf dynamic) and completion
 * queues. Queue pairs are in qp.c.
 *
 * The MR registration checks are the kernel's (the REG_DMABUF_MR handler in
 * drivers/infiniband/core/uverbs_std_types_mr.c, ib_check_mr_access() in
 * include/rdma/ib_verbs.h, ib_umem_dmabuf_get()); a dynamic dma-buf MR
 * behaves as mlx5's (drivers/infiniband/hw/mlx5/mr.c and odp.c): mapped at
 * registration, zapped by the invalidate callback, re-mapped by the page
 * fault path.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "lib/debug.h"
#include "lib/error.h"
#include "rdma/ibvpass.h"
#include "rdma/rdma.h"

#define SWRDMA_MR_ACCESS_SUPPORTED                                          \
	(DEVMEM_IBV_ACCESS_LOCAL_WRITE | DEVMEM_IBV_ACCESS_REMOTE_READ |    \
	 DEVMEM_IBV_ACCESS_REMOTE_WRITE | DEVMEM_IBV_ACCESS_REMOTE_ATOMIC | \
	 DEVMEM_IBV_ACCESS_RELAXED_ORDERING)

struct devmem_ibv_device swrdma_device = {
	.name = SWRDMA_DEV_NAME,
	.dev_name = "uverbs-" SWRDMA_DEV_NAME,
};

/* libibverbs reports errors in errno: set it from a negative errno, return NULL. */
static void *err_null(int err)
{
	errno = -err;
	return NULL;
}

static const char *const wc_status_str[] = {
	[DEVMEM_IBV_WC_SUCCESS] = "success",
	[DEVMEM_IBV_WC_LOC_LEN_ERR] = "local length error",
	[DEVMEM_IBV_WC_LOC_QP_OP_ERR] = "local QP operation error",
	[DEVMEM_IBV_WC_LOC_EEC_OP_ERR] = "local EE context operation error",
	[DEVMEM_IBV_WC_LOC_PROT_ERR] = "local protection error",
	[DEVMEM_IBV_WC_WR_FLUSH_ERR] = "Work Request Flushed Error",
	[DEVMEM_IBV_WC_MW_BIND_ERR] = "memory management operation error",
	[DEVMEM_IBV_WC_BAD_RESP_ERR] = "bad response error",
	[DEVMEM_IBV_WC_LOC_ACCESS_ERR] = "local access error",
	[DEVMEM_IBV_WC_REM_INV_REQ_ERR] = "remote invalid request error",
	[DEVMEM_IBV_WC_REM_ACCESS_ERR] = "remote access error",
	[DEVMEM_IBV_WC_REM_OP_ERR] = "remote operation error",
	[DEVMEM_IBV_WC_RETRY_EXC_ERR] = "transport retry counter exceeded",
	[DEVMEM_IBV_WC_RNR_RETRY_EXC_ERR] = "RNR retry counter exceeded",
	[DEVMEM_IBV_WC_LOC_RDD_VIOL_ERR] = "local RDD violation error",
	[DEVMEM_IBV_WC_REM_INV_RD_REQ_ERR] = "remote invalid RD request",
	[DEVMEM_IBV_WC_REM_ABORT_ERR] = "aborted error",
	[DEVMEM_IBV_WC_INV_EECN_ERR] = "invalid EE context number",
	[DEVMEM_IBV_WC_INV_EEC_STATE_ERR] = "invalid EE context state",
	[DEVMEM_IBV_WC_FATAL_ERR] = "fatal error",
	[DEVMEM_IBV_WC_RESP_TIMEOUT_ERR] = "response timeout error",
	[DEVMEM_IBV_WC_GENERAL_ERR] = "general error",
};

const char *devmem_ibv_wc_status_str(enum devmem_ibv_wc_status status)
{
	if ((unsigned int)status >= ARRAY_SIZE(wc_status_str))
		return "unknown";
	return wc_status_str[status];
}

/* devices and contexts */

/*
 * The list is one allocation: the real devices' bookkeeping, then the
 * NULL-terminated array the caller sees (the software device first, then
 * the real devices rdma-core finds).
 */
struct device_list {
	struct ibvpass_devices *real;
	struct devmem_ibv_device *dev[];
};

struct devmem_ibv_device **devmem_ibv_get_device_list(int *num_devices)
{
	struct ibvpass_devices *real;
	struct device_list *list;
	int n;

	real = ibvpass_devices_get(&n);
	list = calloc(1, sizeof(*list) + (n + 2) * sizeof(list->dev[0]));
	if (!list) {
		ibvpass_devices_put(real);
		return err_null(-ENOMEM);
	}
	list->real = real;
	list->dev[0] = &swrdma_device;
	ibvpass_devices_fill(real, &list->dev[1]);
	if (num_devices)
		*num_devices = n + 1;
	return list->dev;
}

void devmem_ibv_free_device_list(struct devmem_ibv_device **devs)
{
	struct device_list *list;

	if (!devs)
		return;
	list = container_of(devs, struct device_list, dev[0]);
	ibvpass_devices_put(list->real);
	free(list);
}

const char *devmem_ibv_get_device_name(struct devmem_ibv_device *device)
{
	return device ? device->name : NULL;
}

struct devmem_ibv_context *devmem_ibv_open_device(struct devmem_ibv_device *device)
{
	struct swrdma_context *ctx;
	int err;

	if (!device)
		return err_null(devmem_err(-ENODEV, "rdma: no device"));
	if (device != &swrdma_device)
		return ibvpass_open_device(device);
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return err_null(-ENOMEM);
	/* p2p: a vram buffer is reached at its bus address, as a HCA does with PCI P2PDMA */
	err = device_create(SWRDMA_DEV_NAME,
			    &(struct device_opts){ .sz = sizeof(struct device_opts), .p2p = true },
			    &ctx->dev);
	if (err) {
		free(ctx);
		return err_null(err);
	}
	pthread_rwlock_init(&ctx->mr_lock, NULL);
	ctx->ibdev = device;
	ctx->ibv.device = device;
	ctx->ibv.cmd_fd = -1;
	ctx->ibv.async_fd = -1;
	ctx->ibv.num_comp_vectors = 1;
	ctx->next_qpn = 0x11;
	return &ctx->ibv;
}

int devmem_ibv_close_device(struct devmem_ibv_context *context)
{
	struct swrdma_context *ctx;

	if (ibvpass_is_real(context))
		return ibvpass_close_device(context);
	ctx = to_sctx(context);
	if (__atomic_load_n(&ctx->nr_objects, __ATOMIC_ACQUIRE))
		return -devmem_err(-EBUSY, "rdma: context still has objects");
	free(ctx->mr_table);
	free(ctx->mr_gen);
	pthread_rwlock_destroy(&ctx->mr_lock);
	device_put(ctx->dev);
	free(ctx);
	return 0;
}

struct device *devmem_ibv_context_device(struct devmem_ibv_context *context)
{
	/* a real device reaches memory through the kernel, not the device layer */
	if (ibvpass_is_real(context))
		return NULL;
	return to_sctx(context)->dev;
}

static void ctx_obj_get(struct swrdma_context *ctx)
{
	__atomic_fetch_add(&ctx->nr_objects, 1, __ATOMIC_RELAXED);
}

static void ctx_obj_put(struct swrdma_context *ctx)
{
	__atomic_fetch_sub(&ctx->nr_objects, 1, __ATOMIC_RELEASE);
}

/* protection domains */

struct devmem_ibv_pd *devmem_ibv_alloc_pd(struct devmem_ibv_context *context)
{
	struct swrdma_pd *pd;

	if (!context)
		return err_null(-EINVAL);
	if (ibvpass_is_real(context))
		return ibvpass_alloc_pd(context);
	pd = calloc(1, sizeof(*pd));
	if (!pd)
		return err_null(-ENOMEM);
	pd->ibv.context = context;
	ctx_obj_get(to_sctx(context));
	return &pd->ibv;
}

int devmem_ibv_dealloc_pd(struct devmem_ibv_pd *ibpd)
{
	struct swrdma_pd *pd = container_of(ibpd, struct swrdma_pd, ibv);

	if (ibvpass_is_real(ibpd->context))
		return ibvpass_dealloc_pd(ibpd);
	if (__atomic_load_n(&pd->users, __ATOMIC_ACQUIRE))
		return -devmem_err(-EBUSY, "rdma: protection domain still in use");
	ctx_obj_put(to_sctx(ibpd->context));
	free(pd);
	return 0;
}

/* memory regions: the key table */

static int swrdma_mr_key_alloc(struct swrdma_context *ctx, struct swrdma_mr *mr)
{
	unsigned int i, size;
	int err = 0;

	pthread_rwlock_wrlock(&ctx->mr_lock);
	for (i = 1; i < ctx->mr_table_size; i++)
		if (!ctx->mr_table[i])
			break;
	if (i >= ctx->mr_table_size) {
		struct swrdma_mr **table;
		uint8_t *gen;

		size = ctx->mr_table_size ? ctx->mr_table_size * 2 : 64;
		if (size > (1U << 24)) {
			err = devmem_err(-ENOMEM, "rdma: out of memory keys");
			goto out;
		}
		table = realloc(ctx->mr_table, size * sizeof(*table));
		if (!table) {
			err = -ENOMEM;
			goto out;
		}
		ctx->mr_table = table;
		gen = realloc(ctx->mr_gen, size);
		if (!gen) {
			err = -ENOMEM;
			goto out;
		}
		ctx->mr_gen = gen;
		memset(table + ctx->mr_table_size, 0, (size - ctx->mr_table_size) * sizeof(*table));
		memset(gen + ctx->mr_table_size, 0, size - ctx->mr_table_size);
		i = ctx->mr_table_size ? ctx->mr_table_size : 1;
		ctx->mr_table_size = size;
	}
	/* a slot's key changes at each reuse: a stale key finds nothing */
	mr->ibv.lkey = mr->ibv.rkey = i << 8 | ctx->mr_gen[i]++;
	mr->ibv.handle = i;
	ctx->mr_table[i] = mr;
out:
	pthread_rwlock_unlock(&ctx->mr_lock);
	return err;
}

static void swrdma_mr_key_free(struct swrdma_context *ctx, struct swrdma_mr *mr)
{
	pthread_rwlock_wrlock(&ctx->mr_lock);
	ctx->mr_table[mr->ibv.lkey >> 8] = NULL;
	pthread_rwlock_unlock(&ctx->mr_lock);
}

struct swrdma_mr *swrdma_mr_lookup(struct swrdma_context *ctx, uint32_t key)
{
	struct swrdma_mr *mr = NULL;
	unsigned int idx = key >> 8;

	pthread_rwlock_rdlock(&ctx->mr_lock);
	if (idx < ctx->mr_table_size && ctx->mr_table[idx] && ctx->mr_table[idx]->ibv.lkey == key) {
		mr = ctx->mr_table[idx];
		__atomic_fetch_add(&mr->refs, 1, __ATOMIC_ACQUIRE);
	}
	pthread_rwlock_unlock(&ctx->mr_lock);
	return mr;
}

void swrdma_mr_put(struct swrdma_mr *mr)
{
	__atomic_fetch_sub(&mr->refs, 1, __ATOMIC_RELEASE);
}

/* The checks of ib_check_mr_access(). */
static int ib_check_mr_access(int flags)
{
	if (flags & (DEVMEM_IBV_ACCESS_REMOTE_ATOMIC | DEVMEM_IBV_ACCESS_REMOTE_WRITE) &&
	    !(flags & DEVMEM_IBV_ACCESS_LOCAL_WRITE))
		return devmem_err(-EINVAL, "rdma: remote write or atomic access needs local write");
	if (flags & DEVMEM_IBV_ACCESS_ON_DEMAND)
		return devmem_err(-EOPNOTSUPP, "rdma: the device has no on-demand paging");
	return 0;
}

/* memory regions: the translation table and the device's accesses */

/* Program the table from the trimmed sg table. Resv lock held, table not valid. */
static int swrdma_mr_program_mtt(struct swrdma_mr *mr)
{
	struct sg_table *sgt = &mr->umem->umem_sgt;
	struct scatterlist *sg;
	uint64_t start = 0;
	unsigned int i;

	if (sgt->nents > mr->mtt_cap) {
		struct swrdma_mtt_ent *mtt = realloc(mr->mtt, sgt->nents * sizeof(*mtt));

		if (!mtt)
			return -ENOMEM;
		mr->mtt = mtt;
		mr->mtt_cap = sgt->nents;
	}
	for_each_sgtable_dma_sg(sgt, sg, i)
	{
		mr->mtt[i] = (struct swrdma_mtt_ent){ start, sg_dma_address(sg), sg_dma_len(sg) };
		start += sg_dma_len(sg);
	}
	mr->mtt_nents = sgt->nents;
	return 0;
}

/*
 * The page-fault path of a dynamic MR (mlx5's pagefault_dmabuf_mr): under
 * the resv lock, map (waiting for the move's KERNEL fence) and reprogram.
 */
static int swrdma_mr_fault(struct swrdma_mr *mr)
{
	struct dma_resv *resv = mr->umem->attach->dmabuf->resv;
	int err = 0;

	if (mr->type != SWRDMA_MR_DMABUF_DYNAMIC)
		return devmem_err(-EFAULT, "rdma: access to a revoked MR");
	__atomic_fetch_add(&mr->stats.faults, 1, __ATOMIC_RELAXED);
	dma_resv_lock(resv, NULL);
	if (!__atomic_load_n(&mr->valid, __ATOMIC_RELAXED)) {
		err = ib_umem_dmabuf_map_pages(mr->umem);
		if (!err)
			err = swrdma_mr_program_mtt(mr);
		if (!err) {
			__atomic_fetch_add(&mr->stats.remaps, 1, __ATOMIC_RELAXED);
			__atomic_store_n(&mr->valid, 1, __ATOMIC_SEQ_CST);
		}
	}
	dma_resv_unlock(resv);
	return err;
}

/*
 * The invalidate callback (mlx5_ib_dmabuf_invalidate_cb), resv lock held:
 * zap the table, wait for the accesses that may still use it, unmap. After
 * it returns, the device never uses the old addresses.
 */
static void swrdma_dmabuf_invalidate_cb(struct dma_buf_attachment *attach)
{
	struct ib_umem_dmabuf *umem = attach->importer_priv;
	struct swrdma_mr *mr = umem->private;

	devmem_assert(dma_resv_held(attach->dmabuf->resv),
		      "rdma: invalidate callback without the resv lock");
	if (!umem->sgt || !mr)
		return;
	/* seq_cst pairs with the access's increment of @active: one sees the other */
	__atomic_store_n(&mr->valid, 0, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&mr->active, __ATOMIC_SEQ_CST))
		sched_yield();
	__atomic_fetch_add(&mr->stats.invalidations, 1, __ATOMIC_RELAXED);
	ib_umem_dmabuf_unmap_pages(umem);
}

static const struct dma_buf_attach_ops swrdma_dmabuf_attach_ops = {
	.allow_peer2peer = true,
	.move_notify = swrdma_dmabuf_invalidate_cb,
};

/*
 * The ordering a completion gives on hardware (the device's writes are
 * visible when the CQE is; memory the CPU wrote before posting is what the
 * device reads). Between the two ends of a connection it is the wire that
 * orders, which a race detector cannot see: every device access publishes
 * with a release on this counter and starts with an acquire of it, posting
 * releases, polling acquires.
 */
static unsigned long swrdma_dma_order;

void swrdma_dma_order_release(void)
{
	__atomic_fetch_add(&swrdma_dma_order, 1, __ATOMIC_RELEASE);
}

void swrdma_dma_order_acquire(void)
{
	(void)__atomic_load_n(&swrdma_dma_order, __ATOMIC_ACQUIRE);
}

ssize_t swrdma_mr_io(struct swrdma_mr *mr, uint64_t addr, size_t len, enum dma_data_direction dir,
		     swrdma_io_fn fn, void *arg)
{
	uint64_t off = addr - mr->iova + (mr->iova & (PAGE_SIZE - 1));
	struct swrdma_mtt_ent *e;
	unsigned int lo, hi;
	void *cpu;
	ssize_t ret;
	int err;

	for (;;) {
		__atomic_fetch_add(&mr->active, 1, __ATOMIC_SEQ_CST);
		if (likely(__atomic_load_n(&mr->valid, __ATOMIC_SEQ_CST)))
			break;
		__atomic_fetch_sub(&mr->active, 1, __ATOMIC_RELEASE);
		err = swrdma_mr_fault(mr);
		if (err)
			return err;
	}
	/* the entry holding @off: binary search, the table is sorted by start */
	lo = 0;
	hi = mr->mtt_nents;
	while (hi - lo > 1) {
		unsigned int mid = (lo + hi) / 2;

		if (mr->mtt[mid].start <= off)
			lo = mid;
		else
			hi = mid;
	}
	e = &mr->mtt[lo];
	len = min(len, (size_t)(e->start + e->len - off));
	err = device_translate(mr->ctx->dev, e->dma + (off - e->start), len, dir, &cpu);
	swrdma_dma_order_acquire();
	ret = err ? err : fn(cpu, len, arg);
	swrdma_dma_order_release();
	__atomic_fetch_sub(&mr->active, 1, __ATOMIC_RELEASE);
	return ret;
}

static struct swrdma_mr *swrdma_mr_alloc(struct devmem_ibv_pd *pd, int access)
{
	struct swrdma_mr *mr = calloc(1, sizeof(*mr));

	if (!mr)
		return NULL;
	mr->ctx = to_sctx(pd->context);
	mr->access = access;
	mr->ibv.context = pd->context;
	mr->ibv.pd = pd;
	return mr;
}

static void swrdma_mr_publish(struct devmem_ibv_pd *pd, struct swrdma_mr *mr)
{
	__atomic_fetch_add(&container_of(pd, struct swrdma_pd, ibv)->users, 1, __ATOMIC_RELAXED);
	ctx_obj_get(mr->ctx);
}

struct devmem_ibv_mr *devmem_ibv_reg_mr(struct devmem_ibv_pd *pd, void *addr, size_t length,
					int access)
{
	struct swrdma_mr *mr;
	int err;

	if (!pd || !addr || !length)
		return err_null(devmem_err(-EINVAL, "rdma: reg_mr: no pd, address or length"));
	if (ibvpass_is_real(pd->context))
		return ibvpass_reg_mr(pd, addr, length, access);
	if (access & ~SWRDMA_MR_ACCESS_SUPPORTED)
		return err_null(devmem_err(-EINVAL, "rdma: reg_mr: access flags %#x", access));
	err = ib_check_mr_access(access);
	if (err)
		return err_null(err);
	mr = swrdma_mr_alloc(pd, access);
	if (!mr)
		return err_null(-ENOMEM);
	mr->type = SWRDMA_MR_HOST;
	mr->iova = (uintptr_t)addr;
	mr->length = length;
	mr->ibv.addr = addr;
	mr->ibv.length = length;
	err = dma_map_range(mr->ctx->dev, addr, length, DMA_BIDIRECTIONAL, &mr->host_dma);
	if (err)
		goto err_free;
	mr->mtt = calloc(1, sizeof(*mr->mtt));
	if (!mr->mtt) {
		err = -ENOMEM;
		goto err_unmap;
	}
	mr->mtt[0] =
		(struct swrdma_mtt_ent){ (uintptr_t)addr & (PAGE_SIZE - 1), mr->host_dma, length };
	mr->mtt_nents = mr->mtt_cap = 1;
	mr->valid = 1;
	err = swrdma_mr_key_alloc(mr->ctx, mr);
	if (err)
		goto err_free_mtt;
	swrdma_mr_publish(pd, mr);
	return &mr->ibv;

err_free_mtt:
	free(mr->mtt);
err_unmap:
	dma_unmap_range(mr->ctx->dev, mr->host_dma, length);
err_free:
	free(mr);
	return err_null(err);
}

/* The umem of a dynamic MR, mapped and programmed, as mlx5 does at registration. */
static int swrdma_mr_init_dynamic(struct swrdma_mr *mr, uint64_t offset, size_t length, int fd)
{
	struct dma_resv *resv;
	int err;

	err = ib_umem_dmabuf_get(mr->ctx->dev, offset, length, fd, mr->access,
				 &swrdma_dmabuf_attach_ops, &mr->umem);
	if (err)
		return err;
	resv = mr->umem->attach->dmabuf->resv;
	dma_resv_lock(resv, NULL);
	mr->umem->private = mr;
	err = ib_umem_dmabuf_map_pages(mr->umem);
	if (!err)
		err = swrdma_mr_program_mtt(mr);
	if (!err)
		__atomic_store_n(&mr->valid, 1, __ATOMIC_SEQ_CST);
	dma_resv_unlock(resv);
	if (err) {
		ib_umem_dmabuf_release(mr->umem);
		mr->umem = NULL;
	}
	return err;
}

/* A pinned MR: pinned and mapped for its life; the move_notify only warns. */
static int swrdma_mr_init_pinned(struct swrdma_mr *mr, uint64_t offset, size_t length, int fd)
{
	int err =
		ib_umem_dmabuf_get_pinned(mr->ctx->dev, offset, length, fd, mr->access, &mr->umem);

	if (err)
		return err;
	mr->umem->private = mr;
	err = swrdma_mr_program_mtt(mr);
	if (err) {
		ib_umem_dmabuf_release(mr->umem);
		mr->umem = NULL;
		return err;
	}
	mr->valid = 1;
	return 0;
}

struct devmem_ibv_mr *devmem_ibv_reg_dmabuf_mr_ex(struct devmem_ibv_pd *pd, uint64_t offset,
						  size_t length, uint64_t iova, int fd, int access,
						  unsigned int flags)
{
	struct swrdma_mr *mr;
	int err;

	if (!pd)
		return err_null(devmem_err(-EINVAL, "rdma: reg_dmabuf_mr: no pd"));
	if (ibvpass_is_real(pd->context))
		return ibvpass_reg_dmabuf_mr(pd, offset, length, iova, fd, access, flags);
	/* the checks of the REG_DMABUF_MR method, in its order */
	if ((offset & (PAGE_SIZE - 1)) != (iova & (PAGE_SIZE - 1)))
		return err_null(
			devmem_err(-EINVAL,
				   "rdma: reg_dmabuf_mr: iova %#llx and offset %#llx differ in "
				   "their page offset",
				   (unsigned long long)iova, (unsigned long long)offset));
	if (access & ~SWRDMA_MR_ACCESS_SUPPORTED)
		return err_null(devmem_err(-EINVAL,
					   "rdma: reg_dmabuf_mr: unsupported access flags %#x",
					   access & ~SWRDMA_MR_ACCESS_SUPPORTED));
	err = ib_check_mr_access(access);
	if (err)
		return err_null(err);
	if (flags & ~DEVMEM_IBV_REG_DMABUF_PINNED)
		return err_null(devmem_err(-EINVAL, "rdma: reg_dmabuf_mr: flags %#x", flags));
	if (offset > ULONG_MAX)
		return err_null(devmem_err(-EINVAL, "rdma: reg_dmabuf_mr: offset too large"));

	mr = swrdma_mr_alloc(pd, access);
	if (!mr)
		return err_null(-ENOMEM);
	mr->iova = iova;
	mr->length = length;
	mr->ibv.addr = (void *)(uintptr_t)offset;
	mr->ibv.length = length;
	if (flags & DEVMEM_IBV_REG_DMABUF_PINNED) {
		mr->type = SWRDMA_MR_DMABUF_PINNED;
		err = swrdma_mr_init_pinned(mr, offset, length, fd);
	} else {
		mr->type = SWRDMA_MR_DMABUF_DYNAMIC;
		err = swrdma_mr_init_dynamic(mr, offset, length, fd);
	}
	if (err)
		goto err_free;
	err = swrdma_mr_key_alloc(mr->ctx, mr);
	if (err)
		goto err_release;
	swrdma_mr_publish(pd, mr);
	return &mr->ibv;

err_release:
	ib_umem_dmabuf_release(mr->umem);
err_free:
	free(mr->mtt);
	free(mr);
	return err_null(err);
}

struct devmem_ibv_mr *devmem_ibv_reg_dmabuf_mr(struct devmem_ibv_pd *pd, uint64_t offset,
					       size_t length, uint64_t iova, int fd, int access)
{
	return devmem_ibv_reg_dmabuf_mr_ex(pd, offset, length, iova, fd, access, 0);
}

int devmem_ibv_dereg_mr(struct devmem_ibv_mr *ibmr)
{
	struct swrdma_mr *mr;
	struct swrdma_context *ctx;

	if (ibvpass_is_real(ibmr->context))
		return ibvpass_dereg_mr(ibmr);
	mr = to_smr(ibmr);
	ctx = mr->ctx;
	/* no new lookup finds it; then the work requests that hold it finish */
	swrdma_mr_key_free(ctx, mr);
	while (__atomic_load_n(&mr->refs, __ATOMIC_ACQUIRE))
		sched_yield();
	if (mr->type == SWRDMA_MR_HOST)
		dma_unmap_range(ctx->dev, mr->host_dma, mr->length);
	else
		ib_umem_dmabuf_release(mr->umem);
	free(mr->mtt);
	__atomic_fetch_sub(&container_of(ibmr->pd, struct swrdma_pd, ibv)->users, 1,
			   __ATOMIC_RELEASE);
	ctx_obj_put(ctx);
	free(mr);
	return 0;
}

int devmem_ibv_mr_get_stats(struct devmem_ibv_mr *ibmr, struct devmem_ibv_mr_stats *stats)
{
	struct swrdma_mr *mr = to_smr(ibmr);

	/* a real device's MR has no translation table of this library's */
	if (ibvpass_is_real(ibmr->context) || mr->type == SWRDMA_MR_HOST || !stats)
		return EINVAL;
	stats->invalidations = __atomic_load_n(&mr->stats.invalidations, __ATOMIC_RELAXED);
	stats->faults = __atomic_load_n(&mr->stats.faults, __ATOMIC_RELAXED);
	stats->remaps = __atomic_load_n(&mr->stats.remaps, __ATOMIC_RELAXED);
	stats->unexpected_moves = __atomic_load_n(&mr->umem->unexpected_moves, __ATOMIC_RELAXED);
	return 0;
}

/* completion queues: a bounded MPMC queue (each slot's sequence says whose turn it is) */

struct devmem_ibv_cq *devmem_ibv_create_cq(struct devmem_ibv_context *context, int cqe,
					   void *cq_context,
					   struct devmem_ibv_comp_channel *channel, int comp_vector)
{
	struct swrdma_cq *cq;
	uint64_t size = 1, i;

	if (context && ibvpass_is_real(context))
		return ibvpass_create_cq(context, cqe, cq_context, channel, comp_vector);
	if (!context || cqe < 1 || cqe > SWRDMA_MAX_CQE || channel || comp_vector)
		return err_null(devmem_err(-EINVAL,
					   "rdma: create_cq: %d entries (1..%d), no "
					   "channel, comp vector 0",
					   cqe, SWRDMA_MAX_CQE));
	while (size < (uint64_t)cqe + 1)
		size <<= 1;
	cq = calloc(1, sizeof(*cq));
	if (!cq)
		return err_null(-ENOMEM);
	cq->slots = calloc(size, sizeof(*cq->slots));
	if (!cq->slots) {
		free(cq);
		return err_null(-ENOMEM);
	}
	for (i = 0; i < size; i++)
		cq->slots[i].seq = i;
	cq->mask = size - 1;
	cq->ibv.context = context;
	cq->ibv.cq_context = cq_context;
	cq->ibv.cqe = (int)(size - 1);
	ctx_obj_get(to_sctx(context));
	return &cq->ibv;
}

int devmem_ibv_destroy_cq(struct devmem_ibv_cq *ibcq)
{
	struct swrdma_cq *cq = to_scq(ibcq);

	if (ibvpass_is_real(ibcq->context))
		return ibvpass_destroy_cq(ibcq);
	if (__atomic_load_n(&cq->users, __ATOMIC_ACQUIRE))
		return -devmem_err(-EBUSY, "rdma: CQ still used by a QP");
	ctx_obj_put(to_sctx(ibcq->context));
	free(cq->slots);
	free(cq);
	return 0;
}

bool swrdma_cq_push(struct swrdma_cq *cq, const struct devmem_ibv_wc *wc)
{
	uint64_t pos = __atomic_load_n(&cq->tail, __ATOMIC_RELAXED);
	struct swrdma_cq_slot *slot;

	for (;;) {
		int64_t dif;

		slot = &cq->slots[pos & cq->mask];
		dif = (int64_t)(__atomic_load_n(&slot->seq, __ATOMIC_ACQUIRE) - pos);
		if (dif == 0) {
			if (__atomic_compare_exchange_n(&cq->tail, &pos, pos + 1, true,
							__ATOMIC_RELAXED, __ATOMIC_RELAXED))
				break;
		} else if (dif < 0) {
			return false;
		} else {
			pos = __atomic_load_n(&cq->tail, __ATOMIC_RELAXED);
		}
	}
	slot->wc = *wc;
	__atomic_store_n(&slot->seq, pos + 1, __ATOMIC_RELEASE);
	return true;
}

int devmem_ibv_poll_cq(struct devmem_ibv_cq *ibcq, int num_entries, struct devmem_ibv_wc *wc)
{
	struct swrdma_cq *cq = to_scq(ibcq);
	int n = 0;

	if (ibvpass_is_real(ibcq->context))
		return ibvpass_poll_cq(ibcq, num_entries, wc);
	while (n < num_entries) {
		uint64_t pos = __atomic_load_n(&cq->head, __ATOMIC_RELAXED);
		struct swrdma_cq_slot *slot;
		int64_t dif;

		slot = &cq->slots[pos & cq->mask];
		dif = (int64_t)(__atomic_load_n(&slot->seq, __ATOMIC_ACQUIRE) - (pos + 1));
		if (dif < 0)
			break;
		if (dif > 0 || !__atomic_compare_exchange_n(&cq->head, &pos, pos + 1, true,
							    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			continue;
		wc[n++] = slot->wc;
		__atomic_store_n(&slot->seq, pos + cq->mask + 1, __ATOMIC_RELEASE);
	}
	/* after taking them: the device's accesses before these completions are visible */
	if (n)
		swrdma_dma_order_acquire();
	return n;
}
