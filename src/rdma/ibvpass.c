// SPDX-License-Identifier: MIT
/*
 * Pass-through to libibverbs for the real RDMA devices rdma-core finds.
 *
 * The public structs of <devmem/rdma.h> are source-compatible with
 * rdma-core's but laid out on their own, so a real object is never cast:
 * each wrapper carries the libibverbs object, and every call converts its
 * arguments field by field on the way in and its results on the way out.
 * Work requests are converted and posted one at a time so that *bad_wr
 * names the caller's own work request.
 *
 * A dma-buf MR on a real device needs a real kernel dma-buf: the fd goes to
 * the kernel, whose dma_buf_get() answers EBADF for an fd that is not open
 * and EINVAL for a file that is not a dma-buf. A buffer of this library is
 * such a file (a memfd): it is refused here with the kernel's EINVAL before
 * any system call, and devmem_last_error() says why.
 */
#include <dlfcn.h>
#include <errno.h>
#include <infiniband/verbs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>

#include "lib/compiler.h"
#include "lib/error.h"
#include "rdma/ibvpass.h"

/* include/uapi/linux/magic.h: the dma-buf pseudo filesystem */
#define IBVPASS_DMA_BUF_MAGIC 0x444d4142
/* more sges than any HCA takes in one work request (mlx5: 30) */
#define IBVPASS_MAX_SGE 64
#define IBVPASS_POLL_BATCH 16

struct ibvpass_device {
	struct devmem_ibv_device ibv;
	struct ibv_device *real;
};

struct ibvpass_devices {
	struct ibvpass_devices *next; /* the live lists, under devs_lock */
	const struct ibvpass_ops *ops; /* the table that listed them */
	struct ibv_device **real;
	int n;
	struct ibvpass_device dev[];
};

struct ibvpass_context {
	struct devmem_ibv_context ibv;
	struct devmem_ibv_device dev; /* a copy: the context outlives the device list */
	struct ibv_context *real;
	const struct ibvpass_ops *ops; /* the table that opened it, for all its calls */
	long nr_objects; /* atomic: PDs, MRs, CQs and QPs alive */
};

struct ibvpass_pd {
	struct devmem_ibv_pd ibv;
	struct ibv_pd *real;
};

struct ibvpass_mr {
	struct devmem_ibv_mr ibv;
	struct ibv_mr *real;
};

struct ibvpass_cq {
	struct devmem_ibv_cq ibv;
	struct ibv_cq *real;
};

struct ibvpass_qp {
	struct devmem_ibv_qp ibv;
	struct ibv_qp *real;
};

static inline struct ibvpass_context *to_pctx(struct devmem_ibv_context *c)
{
	return container_of(c, struct ibvpass_context, ibv);
}

static inline const struct ibvpass_ops *ctx_ops(struct devmem_ibv_context *c)
{
	return to_pctx(c)->ops;
}

static inline struct ibvpass_pd *to_ppd(struct devmem_ibv_pd *pd)
{
	return container_of(pd, struct ibvpass_pd, ibv);
}

static inline struct ibvpass_cq *to_pcq(struct devmem_ibv_cq *cq)
{
	return container_of(cq, struct ibvpass_cq, ibv);
}

static inline struct ibvpass_qp *to_pqp(struct devmem_ibv_qp *qp)
{
	return container_of(qp, struct ibvpass_qp, ibv);
}

static void *err_null(int err)
{
	errno = -err;
	return NULL;
}

/* libibverbs, loaded on first use */

/* post and poll are inline in <infiniband/verbs.h>: they call the provider's ops */
static int lib_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr, struct ibv_send_wr **bad_wr)
{
	return ibv_post_send(qp, wr, bad_wr);
}

static int lib_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad_wr)
{
	return ibv_post_recv(qp, wr, bad_wr);
}

static int lib_poll_cq(struct ibv_cq *cq, int num_entries, struct ibv_wc *wc)
{
	return ibv_poll_cq(cq, num_entries, wc);
}

static struct ibvpass_ops lib_ops;
static bool lib_loaded;
static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static const struct ibvpass_ops *test_ops;

static pthread_mutex_t devs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ibvpass_devices *devs_live;

#define LIB_SYM(h, field, name)                            \
	do {                                               \
		*(void **)&lib_ops.field = dlsym(h, name); \
		if (!lib_ops.field)                        \
			return false;                      \
	} while (0)

static bool lib_resolve(void *h)
{
	LIB_SYM(h, get_device_list, "ibv_get_device_list");
	LIB_SYM(h, free_device_list, "ibv_free_device_list");
	LIB_SYM(h, get_device_name, "ibv_get_device_name");
	LIB_SYM(h, open_device, "ibv_open_device");
	LIB_SYM(h, close_device, "ibv_close_device");
	LIB_SYM(h, alloc_pd, "ibv_alloc_pd");
	LIB_SYM(h, dealloc_pd, "ibv_dealloc_pd");
	LIB_SYM(h, reg_mr, "ibv_reg_mr");
	LIB_SYM(h, reg_dmabuf_mr, "ibv_reg_dmabuf_mr");
	LIB_SYM(h, dereg_mr, "ibv_dereg_mr");
	LIB_SYM(h, create_cq, "ibv_create_cq");
	LIB_SYM(h, destroy_cq, "ibv_destroy_cq");
	LIB_SYM(h, create_qp, "ibv_create_qp");
	LIB_SYM(h, modify_qp, "ibv_modify_qp");
	LIB_SYM(h, query_qp, "ibv_query_qp");
	LIB_SYM(h, destroy_qp, "ibv_destroy_qp");
	lib_ops.post_send = lib_post_send;
	lib_ops.post_recv = lib_post_recv;
	lib_ops.poll_cq = lib_poll_cq;
	return true;
}

static void lib_load(void)
{
	/* never closed: the providers it loads stay in use by open contexts */
	void *h = dlopen("libibverbs.so.1", RTLD_NOW | RTLD_LOCAL);

	if (!h)
		return;
	/* rdma-core before 34 has no ibv_reg_dmabuf_mr: treat it as absent */
	if (!lib_resolve(h)) {
		dlclose(h);
		return;
	}
	lib_loaded = true;
}

static const struct ibvpass_ops *ops_get(void)
{
	const struct ibvpass_ops *ops = __atomic_load_n(&test_ops, __ATOMIC_ACQUIRE);

	if (ops)
		return ops;
	pthread_once(&lib_once, lib_load);
	return lib_loaded ? &lib_ops : NULL;
}

void ibvpass_set_ops(const struct ibvpass_ops *ops)
{
	__atomic_store_n(&test_ops, ops, __ATOMIC_RELEASE);
}

/* devices */

struct ibvpass_devices *ibvpass_devices_get(int *n)
{
	const struct ibvpass_ops *ops = ops_get();
	struct ibvpass_devices *devs;
	struct ibv_device **real;
	int i, num = 0;

	*n = 0;
	if (!ops)
		return NULL;
	/* no device, or no kernel support (ENOSYS): only the software device */
	real = ops->get_device_list(&num);
	if (!real)
		return NULL;
	if (num <= 0) {
		ops->free_device_list(real);
		return NULL;
	}
	devs = calloc(1, sizeof(*devs) + num * sizeof(devs->dev[0]));
	if (!devs) {
		ops->free_device_list(real);
		return NULL;
	}
	devs->ops = ops;
	devs->real = real;
	devs->n = num;
	for (i = 0; i < num; i++) {
		const char *name = ops->get_device_name(real[i]);

		devs->dev[i].real = real[i];
		snprintf(devs->dev[i].ibv.name, sizeof(devs->dev[i].ibv.name), "%s",
			 name ? name : "");
		snprintf(devs->dev[i].ibv.dev_name, sizeof(devs->dev[i].ibv.dev_name), "%s",
			 real[i]->dev_name);
	}
	pthread_mutex_lock(&devs_lock);
	devs->next = devs_live;
	devs_live = devs;
	pthread_mutex_unlock(&devs_lock);
	*n = num;
	return devs;
}

void ibvpass_devices_fill(struct ibvpass_devices *devs, struct devmem_ibv_device **list)
{
	int i;

	for (i = 0; devs && i < devs->n; i++)
		list[i] = &devs->dev[i].ibv;
}

void ibvpass_devices_put(struct ibvpass_devices *devs)
{
	struct ibvpass_devices **p;

	if (!devs)
		return;
	pthread_mutex_lock(&devs_lock);
	for (p = &devs_live; *p; p = &(*p)->next) {
		if (*p == devs) {
			*p = devs->next;
			break;
		}
	}
	pthread_mutex_unlock(&devs_lock);
	devs->ops->free_device_list(devs->real);
	free(devs);
}

/* The real device behind @device, if it is a wrapper of a live list, and its table. */
static struct ibv_device *device_lookup(struct devmem_ibv_device *device,
					const struct ibvpass_ops **ops)
{
	struct ibv_device *real = NULL;
	struct ibvpass_devices *devs;
	int i;

	pthread_mutex_lock(&devs_lock);
	for (devs = devs_live; devs && !real; devs = devs->next) {
		for (i = 0; i < devs->n; i++) {
			if (&devs->dev[i].ibv == device) {
				real = devs->dev[i].real;
				*ops = devs->ops;
			}
		}
	}
	pthread_mutex_unlock(&devs_lock);
	return real;
}

struct devmem_ibv_context *ibvpass_open_device(struct devmem_ibv_device *device)
{
	const struct ibvpass_ops *ops = NULL;
	struct ibv_device *real = device_lookup(device, &ops);
	struct ibvpass_context *ctx;

	if (!real)
		return err_null(devmem_err(-ENODEV, "rdma: not a device of this library"));
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return err_null(-ENOMEM);
	ctx->ops = ops;
	ctx->real = ops->open_device(real);
	if (!ctx->real) {
		int err = errno ? errno : ENODEV;

		free(ctx);
		return err_null(-err);
	}
	ctx->dev = *device;
	ctx->ibv.device = &ctx->dev;
	ctx->ibv.cmd_fd = ctx->real->cmd_fd;
	ctx->ibv.async_fd = ctx->real->async_fd;
	ctx->ibv.num_comp_vectors = ctx->real->num_comp_vectors;
	return &ctx->ibv;
}

int ibvpass_close_device(struct devmem_ibv_context *context)
{
	struct ibvpass_context *ctx = to_pctx(context);
	int err;

	if (__atomic_load_n(&ctx->nr_objects, __ATOMIC_ACQUIRE))
		return -devmem_err(-EBUSY, "rdma: context still has objects");
	err = ctx_ops(context)->close_device(ctx->real);
	if (err)
		return err;
	free(ctx);
	return 0;
}

static void ctx_obj_get(struct devmem_ibv_context *c)
{
	__atomic_fetch_add(&to_pctx(c)->nr_objects, 1, __ATOMIC_RELAXED);
}

static void ctx_obj_put(struct devmem_ibv_context *c)
{
	__atomic_fetch_sub(&to_pctx(c)->nr_objects, 1, __ATOMIC_RELEASE);
}

/* protection domains */

struct devmem_ibv_pd *ibvpass_alloc_pd(struct devmem_ibv_context *context)
{
	struct ibvpass_pd *pd = calloc(1, sizeof(*pd));

	if (!pd)
		return err_null(-ENOMEM);
	pd->real = ctx_ops(context)->alloc_pd(to_pctx(context)->real);
	if (!pd->real) {
		int err = errno;

		free(pd);
		errno = err;
		return NULL;
	}
	pd->ibv.context = context;
	pd->ibv.handle = pd->real->handle;
	ctx_obj_get(context);
	return &pd->ibv;
}

int ibvpass_dealloc_pd(struct devmem_ibv_pd *ibpd)
{
	struct devmem_ibv_context *context = ibpd->context;
	int err = ctx_ops(context)->dealloc_pd(to_ppd(ibpd)->real);

	if (err)
		return err;
	ctx_obj_put(context);
	free(to_ppd(ibpd));
	return 0;
}

/* memory regions */

static struct devmem_ibv_mr *mr_wrap(struct devmem_ibv_pd *pd, struct ibv_mr *real)
{
	struct ibvpass_mr *mr;
	int err = errno;

	if (!real) {
		errno = err;
		return NULL;
	}
	mr = calloc(1, sizeof(*mr));
	if (!mr) {
		ctx_ops(pd->context)->dereg_mr(real);
		return err_null(-ENOMEM);
	}
	mr->real = real;
	mr->ibv.context = pd->context;
	mr->ibv.pd = pd;
	mr->ibv.addr = real->addr;
	mr->ibv.length = real->length;
	mr->ibv.handle = real->handle;
	mr->ibv.lkey = real->lkey;
	mr->ibv.rkey = real->rkey;
	ctx_obj_get(pd->context);
	return &mr->ibv;
}

struct devmem_ibv_mr *ibvpass_reg_mr(struct devmem_ibv_pd *pd, void *addr, size_t length,
				     int access)
{
	return mr_wrap(pd, ctx_ops(pd->context)->reg_mr(to_ppd(pd)->real, addr, length, access));
}

struct devmem_ibv_mr *ibvpass_reg_dmabuf_mr(struct devmem_ibv_pd *pd, uint64_t offset,
					    size_t length, uint64_t iova, int fd, int access,
					    unsigned int flags)
{
	struct statfs sfs;

	/* pinning is the kernel driver's choice on a real device: no flag asks for it */
	if (flags)
		return err_null(devmem_err(
			-EOPNOTSUPP, "rdma: reg_dmabuf_mr: flags %#x on a real device", flags));
	/*
	 * A file the kernel does not know as a dma-buf (this library's buffers
	 * among them) gets the kernel's answer, EINVAL, without a system call
	 * into the driver; a closed fd goes on to the kernel for its EBADF.
	 */
	if (fd >= 0 && !fstatfs(fd, &sfs) && sfs.f_type != IBVPASS_DMA_BUF_MAGIC)
		return err_null(devmem_err(-EINVAL,
					   "rdma: reg_dmabuf_mr: fd %d is not a kernel dma-buf "
					   "(a buffer of this library reaches only the software "
					   "device)",
					   fd));
	return mr_wrap(pd,
		       ctx_ops(pd->context)
			       ->reg_dmabuf_mr(to_ppd(pd)->real, offset, length, iova, fd, access));
}

int ibvpass_dereg_mr(struct devmem_ibv_mr *ibmr)
{
	struct ibvpass_mr *mr = container_of(ibmr, struct ibvpass_mr, ibv);
	struct devmem_ibv_context *context = ibmr->context;
	int err = ctx_ops(context)->dereg_mr(mr->real);

	if (err)
		return err;
	ctx_obj_put(context);
	free(mr);
	return 0;
}

/* completion queues */

struct devmem_ibv_cq *ibvpass_create_cq(struct devmem_ibv_context *context, int cqe,
					void *cq_context, struct devmem_ibv_comp_channel *channel,
					int comp_vector)
{
	struct ibvpass_cq *cq;

	/* the API has no completion channels to create: none can be a real one */
	if (channel)
		return err_null(devmem_err(-EINVAL, "rdma: create_cq: no completion channels"));
	cq = calloc(1, sizeof(*cq));
	if (!cq)
		return err_null(-ENOMEM);
	cq->real = ctx_ops(context)->create_cq(to_pctx(context)->real, cqe, cq_context, NULL,
					       comp_vector);
	if (!cq->real) {
		int err = errno;

		free(cq);
		errno = err;
		return NULL;
	}
	cq->ibv.context = context;
	cq->ibv.cq_context = cq_context;
	cq->ibv.handle = cq->real->handle;
	cq->ibv.cqe = cq->real->cqe;
	ctx_obj_get(context);
	return &cq->ibv;
}

int ibvpass_destroy_cq(struct devmem_ibv_cq *ibcq)
{
	struct devmem_ibv_context *context = ibcq->context;
	int err = ctx_ops(context)->destroy_cq(to_pcq(ibcq)->real);

	if (err)
		return err;
	ctx_obj_put(context);
	free(to_pcq(ibcq));
	return 0;
}

static void wc_from_real(struct devmem_ibv_wc *d, const struct ibv_wc *s)
{
	memset(d, 0, sizeof(*d));
	d->wr_id = s->wr_id;
	d->status = (enum devmem_ibv_wc_status)s->status;
	d->opcode = (enum devmem_ibv_wc_opcode)s->opcode;
	d->vendor_err = s->vendor_err;
	d->byte_len = s->byte_len;
	d->imm_data = s->imm_data;
	d->qp_num = s->qp_num;
	d->src_qp = s->src_qp;
	d->wc_flags = s->wc_flags;
	d->pkey_index = s->pkey_index;
	d->slid = s->slid;
	d->sl = s->sl;
	d->dlid_path_bits = s->dlid_path_bits;
}

int ibvpass_poll_cq(struct devmem_ibv_cq *ibcq, int num_entries, struct devmem_ibv_wc *wc)
{
	const struct ibvpass_ops *ops = ctx_ops(ibcq->context);
	struct ibv_wc batch[IBVPASS_POLL_BATCH];
	int n = 0;

	while (n < num_entries) {
		int want = min(num_entries - n, IBVPASS_POLL_BATCH);
		int got = ops->poll_cq(to_pcq(ibcq)->real, want, batch), i;

		if (got < 0)
			return n ? n : got;
		for (i = 0; i < got; i++)
			wc_from_real(&wc[n + i], &batch[i]);
		n += got;
		if (got < want)
			break;
	}
	return n;
}

/* queue pairs */

static void ah_to_real(struct ibv_ah_attr *d, const struct devmem_ibv_ah_attr *s)
{
	memcpy(d->grh.dgid.raw, s->grh.dgid.raw, sizeof(d->grh.dgid.raw));
	d->grh.flow_label = s->grh.flow_label;
	d->grh.sgid_index = s->grh.sgid_index;
	d->grh.hop_limit = s->grh.hop_limit;
	d->grh.traffic_class = s->grh.traffic_class;
	d->dlid = s->dlid;
	d->sl = s->sl;
	d->src_path_bits = s->src_path_bits;
	d->static_rate = s->static_rate;
	d->is_global = s->is_global;
	d->port_num = s->port_num;
}

static void ah_from_real(struct devmem_ibv_ah_attr *d, const struct ibv_ah_attr *s)
{
	memcpy(d->grh.dgid.raw, s->grh.dgid.raw, sizeof(d->grh.dgid.raw));
	d->grh.flow_label = s->grh.flow_label;
	d->grh.sgid_index = s->grh.sgid_index;
	d->grh.hop_limit = s->grh.hop_limit;
	d->grh.traffic_class = s->grh.traffic_class;
	d->dlid = s->dlid;
	d->sl = s->sl;
	d->src_path_bits = s->src_path_bits;
	d->static_rate = s->static_rate;
	d->is_global = s->is_global;
	d->port_num = s->port_num;
}

static void cap_to_real(struct ibv_qp_cap *d, const struct devmem_ibv_qp_cap *s)
{
	d->max_send_wr = s->max_send_wr;
	d->max_recv_wr = s->max_recv_wr;
	d->max_send_sge = s->max_send_sge;
	d->max_recv_sge = s->max_recv_sge;
	d->max_inline_data = s->max_inline_data;
}

static void cap_from_real(struct devmem_ibv_qp_cap *d, const struct ibv_qp_cap *s)
{
	d->max_send_wr = s->max_send_wr;
	d->max_recv_wr = s->max_recv_wr;
	d->max_send_sge = s->max_send_sge;
	d->max_recv_sge = s->max_recv_sge;
	d->max_inline_data = s->max_inline_data;
}

static void qp_attr_to_real(struct ibv_qp_attr *d, const struct devmem_ibv_qp_attr *s)
{
	memset(d, 0, sizeof(*d));
	d->qp_state = (enum ibv_qp_state)s->qp_state;
	d->cur_qp_state = (enum ibv_qp_state)s->cur_qp_state;
	d->path_mtu = (enum ibv_mtu)s->path_mtu;
	d->path_mig_state = (enum ibv_mig_state)s->path_mig_state;
	d->qkey = s->qkey;
	d->rq_psn = s->rq_psn;
	d->sq_psn = s->sq_psn;
	d->dest_qp_num = s->dest_qp_num;
	d->qp_access_flags = s->qp_access_flags;
	cap_to_real(&d->cap, &s->cap);
	ah_to_real(&d->ah_attr, &s->ah_attr);
	ah_to_real(&d->alt_ah_attr, &s->alt_ah_attr);
	d->pkey_index = s->pkey_index;
	d->alt_pkey_index = s->alt_pkey_index;
	d->en_sqd_async_notify = s->en_sqd_async_notify;
	d->sq_draining = s->sq_draining;
	d->max_rd_atomic = s->max_rd_atomic;
	d->max_dest_rd_atomic = s->max_dest_rd_atomic;
	d->min_rnr_timer = s->min_rnr_timer;
	d->port_num = s->port_num;
	d->timeout = s->timeout;
	d->retry_cnt = s->retry_cnt;
	d->rnr_retry = s->rnr_retry;
	d->alt_port_num = s->alt_port_num;
	d->alt_timeout = s->alt_timeout;
	d->rate_limit = s->rate_limit;
}

static void qp_attr_from_real(struct devmem_ibv_qp_attr *d, const struct ibv_qp_attr *s)
{
	memset(d, 0, sizeof(*d));
	d->qp_state = (enum devmem_ibv_qp_state)s->qp_state;
	d->cur_qp_state = (enum devmem_ibv_qp_state)s->cur_qp_state;
	d->path_mtu = (enum devmem_ibv_mtu)s->path_mtu;
	d->path_mig_state = s->path_mig_state;
	d->qkey = s->qkey;
	d->rq_psn = s->rq_psn;
	d->sq_psn = s->sq_psn;
	d->dest_qp_num = s->dest_qp_num;
	d->qp_access_flags = s->qp_access_flags;
	cap_from_real(&d->cap, &s->cap);
	ah_from_real(&d->ah_attr, &s->ah_attr);
	ah_from_real(&d->alt_ah_attr, &s->alt_ah_attr);
	d->pkey_index = s->pkey_index;
	d->alt_pkey_index = s->alt_pkey_index;
	d->en_sqd_async_notify = s->en_sqd_async_notify;
	d->sq_draining = s->sq_draining;
	d->max_rd_atomic = s->max_rd_atomic;
	d->max_dest_rd_atomic = s->max_dest_rd_atomic;
	d->min_rnr_timer = s->min_rnr_timer;
	d->port_num = s->port_num;
	d->timeout = s->timeout;
	d->retry_cnt = s->retry_cnt;
	d->rnr_retry = s->rnr_retry;
	d->alt_port_num = s->alt_port_num;
	d->alt_timeout = s->alt_timeout;
	d->rate_limit = s->rate_limit;
}

struct devmem_ibv_qp *ibvpass_create_qp(struct devmem_ibv_pd *pd,
					struct devmem_ibv_qp_init_attr *attr)
{
	struct ibv_qp_init_attr ra;
	struct ibvpass_qp *qp;

	if (!attr || !attr->send_cq || !attr->recv_cq)
		return err_null(
			devmem_err(-EINVAL, "rdma: create_qp: pd, attributes and both CQs needed"));
	/* uverbs finds the CQ handles only among the file's own objects: ENOENT */
	if (attr->send_cq->context != pd->context || attr->recv_cq->context != pd->context)
		return err_null(devmem_err(-ENOENT, "rdma: create_qp: a CQ of another context"));
	/* the API creates no SRQs: none can be a real one */
	if (attr->srq)
		return err_null(devmem_err(-EOPNOTSUPP, "rdma: create_qp: no SRQ"));
	memset(&ra, 0, sizeof(ra));
	ra.qp_context = attr->qp_context;
	ra.send_cq = to_pcq(attr->send_cq)->real;
	ra.recv_cq = to_pcq(attr->recv_cq)->real;
	cap_to_real(&ra.cap, &attr->cap);
	ra.qp_type = (enum ibv_qp_type)attr->qp_type;
	ra.sq_sig_all = attr->sq_sig_all;
	qp = calloc(1, sizeof(*qp));
	if (!qp)
		return err_null(-ENOMEM);
	qp->real = ctx_ops(pd->context)->create_qp(to_ppd(pd)->real, &ra);
	if (!qp->real) {
		int err = errno;

		free(qp);
		errno = err;
		return NULL;
	}
	/* the provider reports the capacities it granted */
	cap_from_real(&attr->cap, &ra.cap);
	qp->ibv.context = pd->context;
	qp->ibv.qp_context = attr->qp_context;
	qp->ibv.pd = pd;
	qp->ibv.send_cq = attr->send_cq;
	qp->ibv.recv_cq = attr->recv_cq;
	qp->ibv.handle = qp->real->handle;
	qp->ibv.qp_num = qp->real->qp_num;
	qp->ibv.state = (enum devmem_ibv_qp_state)qp->real->state;
	qp->ibv.qp_type = attr->qp_type;
	ctx_obj_get(pd->context);
	return &qp->ibv;
}

int ibvpass_modify_qp(struct devmem_ibv_qp *ibqp, struct devmem_ibv_qp_attr *attr, int attr_mask)
{
	struct ibvpass_qp *qp = to_pqp(ibqp);
	struct ibv_qp_attr ra;
	int err;

	if (!attr)
		return EINVAL;
	qp_attr_to_real(&ra, attr);
	err = ctx_ops(ibqp->context)->modify_qp(qp->real, &ra, attr_mask);
	if (!err)
		ibqp->state = (enum devmem_ibv_qp_state)qp->real->state;
	return err;
}

int ibvpass_query_qp(struct devmem_ibv_qp *ibqp, struct devmem_ibv_qp_attr *attr, int attr_mask,
		     struct devmem_ibv_qp_init_attr *init_attr)
{
	struct ibv_qp_init_attr ri;
	struct ibv_qp_attr ra;
	int err;

	if (!attr || !init_attr)
		return EINVAL;
	memset(&ra, 0, sizeof(ra));
	memset(&ri, 0, sizeof(ri));
	err = ctx_ops(ibqp->context)->query_qp(to_pqp(ibqp)->real, &ra, attr_mask, &ri);
	if (err)
		return err;
	qp_attr_from_real(attr, &ra);
	memset(init_attr, 0, sizeof(*init_attr));
	/* the wrappers, not the real CQs the provider answers with */
	init_attr->qp_context = ibqp->qp_context;
	init_attr->send_cq = ibqp->send_cq;
	init_attr->recv_cq = ibqp->recv_cq;
	cap_from_real(&init_attr->cap, &ri.cap);
	init_attr->qp_type = ibqp->qp_type;
	init_attr->sq_sig_all = ri.sq_sig_all;
	return 0;
}

int ibvpass_destroy_qp(struct devmem_ibv_qp *ibqp)
{
	struct devmem_ibv_context *context = ibqp->context;
	int err = ctx_ops(context)->destroy_qp(to_pqp(ibqp)->real);

	if (err)
		return err;
	ctx_obj_put(context);
	free(to_pqp(ibqp));
	return 0;
}

/* One work request's sges, converted into @sge; false if there are too many. */
static bool sge_to_real(struct ibv_sge *sge, const struct devmem_ibv_sge *s, int num)
{
	int i;

	if (num < 0 || num > IBVPASS_MAX_SGE)
		return false;
	for (i = 0; i < num; i++) {
		sge[i].addr = s[i].addr;
		sge[i].length = s[i].length;
		sge[i].lkey = s[i].lkey;
	}
	return true;
}

int ibvpass_post_send(struct devmem_ibv_qp *ibqp, struct devmem_ibv_send_wr *wr,
		      struct devmem_ibv_send_wr **bad_wr)
{
	const struct ibvpass_ops *ops = ctx_ops(ibqp->context);
	struct ibv_sge sge[IBVPASS_MAX_SGE];
	struct ibv_send_wr rw, *rbad;
	int err;

	for (; wr; wr = wr->next) {
		if (!sge_to_real(sge, wr->sg_list, wr->num_sge)) {
			*bad_wr = wr;
			return -devmem_err(-EINVAL, "rdma: post_send: %d sges", wr->num_sge);
		}
		memset(&rw, 0, sizeof(rw));
		rw.wr_id = wr->wr_id;
		rw.sg_list = sge;
		rw.num_sge = wr->num_sge;
		rw.opcode = (enum ibv_wr_opcode)wr->opcode;
		rw.send_flags = wr->send_flags;
		rw.imm_data = wr->imm_data;
		if (wr->opcode == DEVMEM_IBV_WR_ATOMIC_CMP_AND_SWP ||
		    wr->opcode == DEVMEM_IBV_WR_ATOMIC_FETCH_AND_ADD) {
			rw.wr.atomic.remote_addr = wr->wr.atomic.remote_addr;
			rw.wr.atomic.compare_add = wr->wr.atomic.compare_add;
			rw.wr.atomic.swap = wr->wr.atomic.swap;
			rw.wr.atomic.rkey = wr->wr.atomic.rkey;
		} else {
			rw.wr.rdma.remote_addr = wr->wr.rdma.remote_addr;
			rw.wr.rdma.rkey = wr->wr.rdma.rkey;
		}
		err = ops->post_send(to_pqp(ibqp)->real, &rw, &rbad);
		if (err) {
			*bad_wr = wr;
			return err;
		}
	}
	return 0;
}

int ibvpass_post_recv(struct devmem_ibv_qp *ibqp, struct devmem_ibv_recv_wr *wr,
		      struct devmem_ibv_recv_wr **bad_wr)
{
	const struct ibvpass_ops *ops = ctx_ops(ibqp->context);
	struct ibv_sge sge[IBVPASS_MAX_SGE];
	struct ibv_recv_wr rw, *rbad;
	int err;

	for (; wr; wr = wr->next) {
		if (!sge_to_real(sge, wr->sg_list, wr->num_sge)) {
			*bad_wr = wr;
			return -devmem_err(-EINVAL, "rdma: post_recv: %d sges", wr->num_sge);
		}
		memset(&rw, 0, sizeof(rw));
		rw.wr_id = wr->wr_id;
		rw.sg_list = sge;
		rw.num_sge = wr->num_sge;
		err = ops->post_recv(to_pqp(ibqp)->real, &rw, &rbad);
		if (err) {
			*bad_wr = wr;
			return err;
		}
	}
	return 0;
}
