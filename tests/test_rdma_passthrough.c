// SPDX-License-Identifier: MIT
/*
 * The pass-through of the verbs to libibverbs for the real RDMA devices
 * rdma-core finds.
 *
 * Three kinds of test:
 * - against libibverbs itself: with no RDMA device the list holds only the
 *   software device; the tests that need a real device SKIP with "no RDMA
 *   device";
 * - against a stand-in provider (ibvpass_set_ops()): the wrapping of every
 *   verb (arguments converted on the way in, results on the way out, the
 *   caller's own objects handed back) and the refusals, on any machine;
 * - the software device's own refusal of objects of another context.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <infiniband/verbs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devmem/error.h"
#include "devmem/host.h"
#include "harness.h"
#include "lib/compiler.h"
#include "rdma/ibvpass.h"
#include "rdma/rdma.h"

/* ---- libibverbs itself ---- */

/* The devices libibverbs lists on this machine: -1 without libibverbs. */
static int libibverbs_device_count(void)
{
	struct ibv_device **(*get)(int *);
	void (*put)(struct ibv_device **);
	struct ibv_device **list;
	void *h = dlopen("libibverbs.so.1", RTLD_NOW | RTLD_LOCAL);
	int n = 0;

	if (!h)
		return -1;
	*(void **)&get = dlsym(h, "ibv_get_device_list");
	*(void **)&put = dlsym(h, "ibv_free_device_list");
	cr_assert(get && put);
	list = get(&n);
	if (list)
		put(list);
	else
		n = 0;
	return n;
}

/* The first real device in @list (the software device is list[0]), or skip. */
static struct devmem_ibv_device *real_device_or_skip(struct devmem_ibv_device **list, int n)
{
	if (n < 2) {
		devmem_ibv_free_device_list(list);
		cr_skip_test("no RDMA device");
	}
	return list[1];
}

Test(ibv_passthrough, without_rdma_device_list_holds_only_the_software_device)
{
	struct devmem_ibv_device **list;
	int real = libibverbs_device_count(), n = -1;

	if (real < 0)
		cr_skip_test("libibverbs.so.1 is not installed");
	if (real > 0)
		cr_skip_test("an RDMA device is present");
	list = devmem_ibv_get_device_list(&n);
	cr_assert_not_null(list);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(devmem_ibv_get_device_name(list[0]), "swrdma0");
	cr_assert_null(list[1]);
	devmem_ibv_free_device_list(list);
}

Test(ibv_passthrough, real_devices_follow_the_software_device_in_the_list)
{
	struct devmem_ibv_device **list;
	int real = libibverbs_device_count(), n = 0, i;

	if (real <= 0)
		cr_skip_test("no RDMA device");
	list = devmem_ibv_get_device_list(&n);
	cr_assert_not_null(list);
	cr_assert_eq(n, real + 1);
	cr_assert_str_eq(devmem_ibv_get_device_name(list[0]), "swrdma0");
	for (i = 1; i < n; i++)
		cr_assert_str_neq(devmem_ibv_get_device_name(list[i]), "");
	cr_assert_null(list[n]);
	devmem_ibv_free_device_list(list);
}

Test(ibv_passthrough, real_device_registers_host_memory_through_libibverbs)
{
	struct devmem_ibv_device **list;
	struct devmem_ibv_context *ctx;
	struct devmem_ibv_pd *pd;
	struct devmem_ibv_mr *mr;
	void *mem;
	int n = 0;

	list = devmem_ibv_get_device_list(&n);
	cr_assert_not_null(list);
	ctx = devmem_ibv_open_device(real_device_or_skip(list, n));
	devmem_ibv_free_device_list(list);
	cr_assert_not_null(ctx);
	cr_assert_null(devmem_ibv_context_device(ctx));
	pd = devmem_ibv_alloc_pd(ctx);
	cr_assert_not_null(pd);
	mem = aligned_alloc(4096, 1 << 16);
	cr_assert_not_null(mem);
	mr = devmem_ibv_reg_mr(pd, mem, 1 << 16,
			       DEVMEM_IBV_ACCESS_LOCAL_WRITE | DEVMEM_IBV_ACCESS_REMOTE_WRITE);
	cr_assert_not_null(mr, "errno %d", errno);
	cr_assert_eq(mr->addr, mem);
	cr_assert_eq(mr->length, (size_t)1 << 16);
	cr_assert_eq(mr->pd, pd);
	cr_assert_eq(devmem_ibv_dereg_mr(mr), 0);
	cr_assert_eq(devmem_ibv_dealloc_pd(pd), 0);
	cr_assert_eq(devmem_ibv_close_device(ctx), 0);
	free(mem);
}

Test(ibv_passthrough, real_device_refuses_a_library_dma_buf_with_einval)
{
	struct devmem_ibv_device **list;
	struct devmem_ibv_context *ctx;
	struct devmem_ibv_pd *pd;
	struct dma_buf *buf;
	int n = 0, fd;

	list = devmem_ibv_get_device_list(&n);
	cr_assert_not_null(list);
	ctx = devmem_ibv_open_device(real_device_or_skip(list, n));
	devmem_ibv_free_device_list(list);
	cr_assert_not_null(ctx);
	pd = devmem_ibv_alloc_pd(ctx);
	cr_assert_not_null(pd);
	cr_assert_eq(devmem_host_buffer_create(1 << 16, NULL, &buf), 0);
	fd = dma_buf_fd(buf, O_CLOEXEC);
	cr_assert_geq(fd, 0);
	errno = 0;
	cr_assert_null(
		devmem_ibv_reg_dmabuf_mr(pd, 0, 1 << 16, 0, fd, DEVMEM_IBV_ACCESS_LOCAL_WRITE));
	cr_assert_eq(errno, EINVAL);
	/* the UCX probe reaches the kernel, which answers EBADF */
	errno = 0;
	cr_assert_null(devmem_ibv_reg_dmabuf_mr(pd, 0, 4096, 0, -1, 0));
	cr_assert_eq(errno, EBADF);
	close(fd);
	dma_buf_put(buf);
	cr_assert_eq(devmem_ibv_dealloc_pd(pd), 0);
	cr_assert_eq(devmem_ibv_close_device(ctx), 0);
}

/* ---- a stand-in provider ---- */

#define STUB_NDEV 2
#define STUB_MAX_WR 8

static struct ibv_device stub_dev[STUB_NDEV] = {
	{ .dev_name = "uverbs0", .name = "mlx5_0" },
	{ .dev_name = "uverbs1", .name = "mlx5_1" },
};

static struct stub {
	int lists, frees, opens, closes, reg_dmabuf_calls;
	int dmabuf_fd;
	struct ibv_qp_init_attr qp_init;
	struct ibv_qp_attr modify_attr;
	int modify_mask;
	struct ibv_send_wr swr[STUB_MAX_WR];
	struct ibv_sge ssge[STUB_MAX_WR][4];
	int nswr;
	struct ibv_recv_wr rwr[STUB_MAX_WR];
	int nrwr;
	struct ibv_wc wc[STUB_MAX_WR];
	int nwc;
} stub;

static struct ibv_device **stub_get_device_list(int *num)
{
	struct ibv_device **list = calloc(STUB_NDEV + 1, sizeof(*list));
	int i;

	cr_assert_not_null(list);
	for (i = 0; i < STUB_NDEV; i++)
		list[i] = &stub_dev[i];
	stub.lists++;
	*num = STUB_NDEV;
	return list;
}

static void stub_free_device_list(struct ibv_device **list)
{
	stub.frees++;
	free(list);
}

static const char *stub_get_device_name(struct ibv_device *dev)
{
	return dev->name;
}

static struct ibv_context *stub_open_device(struct ibv_device *dev)
{
	struct ibv_context *c = calloc(1, sizeof(*c));

	cr_assert_not_null(c);
	c->device = dev;
	c->cmd_fd = -1;
	c->async_fd = -1;
	c->num_comp_vectors = 4;
	stub.opens++;
	return c;
}

static int stub_close_device(struct ibv_context *c)
{
	stub.closes++;
	free(c);
	return 0;
}

static struct ibv_pd *stub_alloc_pd(struct ibv_context *c)
{
	struct ibv_pd *pd = calloc(1, sizeof(*pd));

	cr_assert_not_null(pd);
	pd->context = c;
	pd->handle = 7;
	return pd;
}

static int stub_dealloc_pd(struct ibv_pd *pd)
{
	free(pd);
	return 0;
}

static struct ibv_mr *stub_mr(struct ibv_pd *pd, void *addr, size_t length)
{
	struct ibv_mr *mr = calloc(1, sizeof(*mr));

	cr_assert_not_null(mr);
	mr->context = pd->context;
	mr->pd = pd;
	mr->addr = addr;
	mr->length = length;
	mr->handle = 3;
	mr->lkey = 0x1234;
	mr->rkey = 0x5678;
	return mr;
}

static struct ibv_mr *stub_reg_mr(struct ibv_pd *pd, void *addr, size_t length, int access)
{
	return stub_mr(pd, addr, length);
}

/* as the kernel: EBADF for a closed fd; anything else is taken for a dma-buf */
static struct ibv_mr *stub_reg_dmabuf_mr(struct ibv_pd *pd, uint64_t offset, size_t length,
					 uint64_t iova, int fd, int access)
{
	stub.reg_dmabuf_calls++;
	stub.dmabuf_fd = fd;
	if (fcntl(fd, F_GETFD) < 0) {
		errno = EBADF;
		return NULL;
	}
	return stub_mr(pd, (void *)(uintptr_t)offset, length);
}

static int stub_dereg_mr(struct ibv_mr *mr)
{
	free(mr);
	return 0;
}

static struct ibv_cq *stub_create_cq(struct ibv_context *c, int cqe, void *cq_context,
				     struct ibv_comp_channel *channel, int comp_vector)
{
	struct ibv_cq *cq = calloc(1, sizeof(*cq));

	cr_assert_not_null(cq);
	cq->context = c;
	cq->cq_context = cq_context;
	cq->cqe = cqe * 2;
	cq->handle = 9;
	return cq;
}

static int stub_destroy_cq(struct ibv_cq *cq)
{
	free(cq);
	return 0;
}

static struct ibv_qp *stub_create_qp(struct ibv_pd *pd, struct ibv_qp_init_attr *attr)
{
	struct ibv_qp *qp = calloc(1, sizeof(*qp));

	cr_assert_not_null(qp);
	stub.qp_init = *attr;
	qp->context = pd->context;
	qp->pd = pd;
	qp->send_cq = attr->send_cq;
	qp->recv_cq = attr->recv_cq;
	qp->qp_num = 0x99;
	qp->handle = 11;
	qp->state = IBV_QPS_RESET;
	qp->qp_type = attr->qp_type;
	/* a provider grants at least what was asked */
	attr->cap.max_inline_data = 64;
	return qp;
}

static int stub_modify_qp(struct ibv_qp *qp, struct ibv_qp_attr *attr, int mask)
{
	stub.modify_attr = *attr;
	stub.modify_mask = mask;
	if (mask & IBV_QP_STATE && attr->qp_state == IBV_QPS_SQD)
		return EINVAL;
	if (mask & IBV_QP_STATE)
		qp->state = attr->qp_state;
	return 0;
}

static int stub_query_qp(struct ibv_qp *qp, struct ibv_qp_attr *attr, int mask,
			 struct ibv_qp_init_attr *init)
{
	attr->qp_state = qp->state;
	attr->dest_qp_num = 0x42;
	attr->path_mtu = IBV_MTU_4096;
	attr->ah_attr.dlid = 17;
	init->send_cq = qp->send_cq;
	init->cap.max_send_wr = 8;
	init->sq_sig_all = 1;
	return 0;
}

static int stub_destroy_qp(struct ibv_qp *qp)
{
	free(qp);
	return 0;
}

/* records the work requests; wr_id 0xbad is refused with ENOMEM */
static int stub_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr, struct ibv_send_wr **bad)
{
	for (; wr; wr = wr->next) {
		if (wr->wr_id == 0xbad) {
			*bad = wr;
			return ENOMEM;
		}
		cr_assert_lt(stub.nswr, STUB_MAX_WR);
		cr_assert_leq(wr->num_sge, 4);
		stub.swr[stub.nswr] = *wr;
		memcpy(stub.ssge[stub.nswr], wr->sg_list, wr->num_sge * sizeof(*wr->sg_list));
		stub.nswr++;
	}
	return 0;
}

static int stub_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad)
{
	for (; wr; wr = wr->next) {
		if (wr->wr_id == 0xbad) {
			*bad = wr;
			return ENOMEM;
		}
		cr_assert_lt(stub.nrwr, STUB_MAX_WR);
		stub.rwr[stub.nrwr++] = *wr;
	}
	return 0;
}

static int stub_poll_cq(struct ibv_cq *cq, int num, struct ibv_wc *wc)
{
	int n = min(num, stub.nwc);

	memcpy(wc, stub.wc, n * sizeof(*wc));
	memmove(stub.wc, stub.wc + n, (stub.nwc - n) * sizeof(*wc));
	stub.nwc -= n;
	return n;
}

static const struct ibvpass_ops stub_ops = {
	.get_device_list = stub_get_device_list,
	.free_device_list = stub_free_device_list,
	.get_device_name = stub_get_device_name,
	.open_device = stub_open_device,
	.close_device = stub_close_device,
	.alloc_pd = stub_alloc_pd,
	.dealloc_pd = stub_dealloc_pd,
	.reg_mr = stub_reg_mr,
	.reg_dmabuf_mr = stub_reg_dmabuf_mr,
	.dereg_mr = stub_dereg_mr,
	.create_cq = stub_create_cq,
	.destroy_cq = stub_destroy_cq,
	.create_qp = stub_create_qp,
	.modify_qp = stub_modify_qp,
	.query_qp = stub_query_qp,
	.destroy_qp = stub_destroy_qp,
	.post_send = stub_post_send,
	.post_recv = stub_post_recv,
	.poll_cq = stub_poll_cq,
};

/* A context of the stand-in's first device; the list is freed at once. */
static struct devmem_ibv_context *stub_ctx(void)
{
	struct devmem_ibv_device **list;
	struct devmem_ibv_context *ctx;
	int n = 0;

	ibvpass_set_ops(&stub_ops);
	list = devmem_ibv_get_device_list(&n);
	cr_assert_not_null(list);
	cr_assert_eq(n, 1 + STUB_NDEV);
	ctx = devmem_ibv_open_device(list[1]);
	devmem_ibv_free_device_list(list);
	cr_assert_not_null(ctx);
	return ctx;
}

static struct devmem_ibv_context *soft_ctx(void)
{
	struct devmem_ibv_device **list;
	struct devmem_ibv_context *ctx;

	list = devmem_ibv_get_device_list(NULL);
	cr_assert_not_null(list);
	cr_assert_str_eq(devmem_ibv_get_device_name(list[0]), "swrdma0");
	ctx = devmem_ibv_open_device(list[0]);
	devmem_ibv_free_device_list(list);
	cr_assert_not_null(ctx);
	return ctx;
}

Test(ibv_passthrough_wrap, list_has_the_software_device_first_then_the_real_ones)
{
	struct devmem_ibv_device **list;
	int n = 0;

	ibvpass_set_ops(&stub_ops);
	list = devmem_ibv_get_device_list(&n);
	cr_assert_not_null(list);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(devmem_ibv_get_device_name(list[0]), "swrdma0");
	cr_assert_str_eq(devmem_ibv_get_device_name(list[1]), "mlx5_0");
	cr_assert_str_eq(list[1]->dev_name, "uverbs0");
	cr_assert_str_eq(devmem_ibv_get_device_name(list[2]), "mlx5_1");
	cr_assert_null(list[3]);
	devmem_ibv_free_device_list(list);
	/* libibverbs' own list goes back with ours */
	cr_assert_eq(stub.lists, 1);
	cr_assert_eq(stub.frees, 1);
}

Test(ibv_passthrough_wrap, context_outlives_the_device_list_and_wraps_the_real_one)
{
	struct devmem_ibv_context *ctx = stub_ctx();

	cr_assert_eq(stub.opens, 1);
	cr_assert_str_eq(devmem_ibv_get_device_name(ctx->device), "mlx5_0");
	cr_assert_eq(ctx->num_comp_vectors, 4);
	/* a real device reaches memory through the kernel, not the device layer */
	cr_assert_null(devmem_ibv_context_device(ctx));
	cr_assert_eq(devmem_ibv_close_device(ctx), 0);
	cr_assert_eq(stub.closes, 1);
}

Test(ibv_passthrough_wrap, device_of_a_freed_list_or_of_nobody_is_enodev)
{
	struct devmem_ibv_device **list, *dev, stranger = { .name = "mlx5_0" };

	ibvpass_set_ops(&stub_ops);
	list = devmem_ibv_get_device_list(NULL);
	cr_assert_not_null(list);
	dev = list[1];
	errno = 0;
	cr_assert_null(devmem_ibv_open_device(&stranger));
	cr_assert_eq(errno, ENODEV);
	devmem_ibv_free_device_list(list);
	/* compared, never read: a freed list's wrapper is no device any more */
	errno = 0;
	cr_assert_null(devmem_ibv_open_device(dev));
	cr_assert_eq(errno, ENODEV);
	cr_assert_eq(stub.opens, 0);
}

Test(ibv_passthrough_wrap, close_with_objects_is_ebusy_and_keeps_the_context)
{
	struct devmem_ibv_context *ctx = stub_ctx();
	struct devmem_ibv_pd *pd = devmem_ibv_alloc_pd(ctx);

	cr_assert_not_null(pd);
	cr_assert_eq(pd->context, ctx);
	cr_assert_eq(pd->handle, 7);
	cr_assert_eq(devmem_ibv_close_device(ctx), EBUSY);
	cr_assert_eq(stub.closes, 0);
	cr_assert_eq(devmem_ibv_dealloc_pd(pd), 0);
	cr_assert_eq(devmem_ibv_close_device(ctx), 0);
}

Test(ibv_passthrough_wrap, mr_carries_the_real_keys_and_has_no_translation_stats)
{
	struct devmem_ibv_context *ctx = stub_ctx();
	struct devmem_ibv_pd *pd = devmem_ibv_alloc_pd(ctx);
	struct devmem_ibv_mr_stats st;
	struct devmem_ibv_mr *mr;
	char mem[64];

	cr_assert_not_null(pd);
	mr = devmem_ibv_reg_mr(pd, mem, sizeof(mem), DEVMEM_IBV_ACCESS_LOCAL_WRITE);
	cr_assert_not_null(mr);
	cr_assert_eq(mr->context, ctx);
	cr_assert_eq(mr->pd, pd);
	cr_assert_eq(mr->addr, (void *)mem);
	cr_assert_eq(mr->length, sizeof(mem));
	cr_assert_eq(mr->lkey, 0x1234);
	cr_assert_eq(mr->rkey, 0x5678);
	cr_assert_eq(devmem_ibv_mr_get_stats(mr, &st), EINVAL);
	cr_assert_eq(devmem_ibv_dereg_mr(mr), 0);
	cr_assert_eq(devmem_ibv_dealloc_pd(pd), 0);
	cr_assert_eq(devmem_ibv_close_device(ctx), 0);
}

Test(ibv_passthrough_wrap, library_dma_buf_on_a_real_device_is_einval_before_the_driver)
{
	struct devmem_ibv_context *ctx = stub_ctx();
	struct devmem_ibv_pd *pd = devmem_ibv_alloc_pd(ctx);
	struct dma_buf *buf;
	int fd;

	cr_assert_not_null(pd);
	cr_assert_eq(devmem_host_buffer_create(1 << 16, NULL, &buf), 0);
	fd = dma_buf_fd(buf, O_CLOEXEC);
	cr_assert_geq(fd, 0);
	errno = 0;
	cr_assert_null(
		devmem_ibv_reg_dmabuf_mr(pd, 0, 1 << 16, 0, fd, DEVMEM_IBV_ACCESS_LOCAL_WRITE));
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(stub.reg_dmabuf_calls, 0);
	cr_assert_neq(strstr(devmem_last_error(), "not a kernel dma-buf"), NULL);
	close(fd);
	dma_buf_put(buf);
	cr_assert_eq(devmem_ibv_dealloc_pd(pd), 0);
	cr_assert_eq(devmem_ibv_close_device(ctx), 0);
}

Test(ibv_passthrough_wrap, ucx_probe_fd_minus_one_reaches_the_kernel_for_ebadf)
{
	struct devmem_ibv_context *ctx = stub_ctx();
	struct devmem_ibv_pd *pd = devmem_ibv_alloc_pd(ctx);

	cr_assert_not_null(pd);
	errno = 0;
	cr_assert_null(devmem_ibv_reg_dmabuf_mr(pd, 0, 4096, 0, -1, 0));
	cr_assert_eq(errno, EBADF);
	cr_assert_eq(stub.reg_dmabuf_calls, 1);
	cr_assert_eq(stub.dmabuf_fd, -1);
	cr_assert_eq(devmem_ibv_dealloc_pd(pd), 0);
	cr_assert_eq(devmem_ibv_close_device(ctx), 0);
}

Test(ibv_passthrough_wrap, pinned_flag_on_a_real_device_is_eopnotsupp)
{
	struct devmem_ibv_context *ctx = stub_ctx();
	struct devmem_ibv_pd *pd = devmem_ibv_alloc_pd(ctx);

	cr_assert_not_null(pd);
	errno = 0;
	cr_assert_null(
		devmem_ibv_reg_dmabuf_mr_ex(pd, 0, 4096, 0, -1, 0, DEVMEM_IBV_REG_DMABUF_PINNED));
	cr_assert_eq(errno, EOPNOTSUPP);
	cr_assert_eq(stub.reg_dmabuf_calls, 0);
	cr_assert_eq(devmem_ibv_dealloc_pd(pd), 0);
	cr_assert_eq(devmem_ibv_close_device(ctx), 0);
}

Test(ibv_passthrough_wrap, kernel_dma_buf_reaches_the_driver)
{
	struct devmem_ibv_context *ctx = stub_ctx();
	struct devmem_ibv_pd *pd = devmem_ibv_alloc_pd(ctx);
	struct devmem_ibv_mr *mr;
	int fd = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
	struct dma_heap_alloc {
		uint64_t len;
		uint32_t fd;
		uint32_t fd_flags;
		uint64_t heap_flags;
	} req = { .len = 1 << 16, .fd_flags = O_RDWR | O_CLOEXEC };

	cr_assert_not_null(pd);
	if (fd < 0) {
		cr_assert_eq(devmem_ibv_dealloc_pd(pd), 0);
		cr_assert_eq(devmem_ibv_close_device(ctx), 0);
		cr_skip_test("no kernel dma-buf heap (/dev/dma_heap/system)");
	}
	/* DMA_HEAP_IOCTL_ALLOC: _IOWR('H', 0x0, struct dma_heap_allocation_data) */
	cr_assert_eq(ioctl(fd, _IOWR('H', 0x0, struct dma_heap_alloc), &req), 0);
	close(fd);
	mr = devmem_ibv_reg_dmabuf_mr(pd, 4096, 8192, 4096, (int)req.fd,
				      DEVMEM_IBV_ACCESS_LOCAL_WRITE);
	cr_assert_not_null(mr);
	cr_assert_eq(stub.reg_dmabuf_calls, 1);
	cr_assert_eq(stub.dmabuf_fd, (int)req.fd);
	cr_assert_eq(devmem_ibv_dereg_mr(mr), 0);
	close((int)req.fd);
	cr_assert_eq(devmem_ibv_dealloc_pd(pd), 0);
	cr_assert_eq(devmem_ibv_close_device(ctx), 0);
}

Test(ibv_passthrough_wrap, qp_of_a_real_pd_with_a_software_cq_is_enoent)
{
	struct devmem_ibv_context *ctx = stub_ctx(), *sctx = soft_ctx();
	struct devmem_ibv_pd *pd = devmem_ibv_alloc_pd(ctx);
	struct devmem_ibv_cq *cq = devmem_ibv_create_cq(ctx, 4, NULL, NULL, 0);
	struct devmem_ibv_cq *scq = devmem_ibv_create_cq(sctx, 4, NULL, NULL, 0);
	struct devmem_ibv_qp_init_attr attr = {
		.send_cq = cq,
		.recv_cq = scq,
		.cap = { .max_send_wr = 1, .max_recv_wr = 1, .max_send_sge = 1, .max_recv_sge = 1 },
		.qp_type = DEVMEM_IBV_QPT_RC,
	};

	cr_assert(pd && cq && scq);
	errno = 0;
	cr_assert_null(devmem_ibv_create_qp(pd, &attr));
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(stub.qp_init.send_cq, NULL);
	cr_assert_eq(devmem_ibv_destroy_cq(scq), 0);
	cr_assert_eq(devmem_ibv_destroy_cq(cq), 0);
	cr_assert_eq(devmem_ibv_dealloc_pd(pd), 0);
	cr_assert_eq(devmem_ibv_close_device(sctx), 0);
	cr_assert_eq(devmem_ibv_close_device(ctx), 0);
}

Test(ibv_passthrough_wrap, qp_of_a_software_pd_with_a_real_cq_is_enoent)
{
	struct devmem_ibv_context *ctx = stub_ctx(), *sctx = soft_ctx();
	struct devmem_ibv_pd *spd = devmem_ibv_alloc_pd(sctx);
	struct devmem_ibv_cq *cq = devmem_ibv_create_cq(ctx, 4, NULL, NULL, 0);
	struct devmem_ibv_cq *scq = devmem_ibv_create_cq(sctx, 4, NULL, NULL, 0);
	struct devmem_ibv_qp_init_attr attr = {
		.send_cq = scq,
		.recv_cq = cq,
		.cap = { .max_send_wr = 1, .max_recv_wr = 1, .max_send_sge = 1, .max_recv_sge = 1 },
		.qp_type = DEVMEM_IBV_QPT_RC,
	};

	cr_assert(spd && cq && scq);
	errno = 0;
	cr_assert_null(devmem_ibv_create_qp(spd, &attr));
	cr_assert_eq(errno, ENOENT);
	/* nothing was taken: the CQs and the PD go at once */
	cr_assert_eq(devmem_ibv_destroy_cq(scq), 0);
	cr_assert_eq(devmem_ibv_destroy_cq(cq), 0);
	cr_assert_eq(devmem_ibv_dealloc_pd(spd), 0);
	cr_assert_eq(devmem_ibv_close_device(sctx), 0);
	cr_assert_eq(devmem_ibv_close_device(ctx), 0);
}

Test(ibv_passthrough_wrap, qp_wraps_the_real_one_and_converts_its_attributes)
{
	struct devmem_ibv_context *ctx = stub_ctx();
	struct devmem_ibv_pd *pd = devmem_ibv_alloc_pd(ctx);
	struct devmem_ibv_cq *cq = devmem_ibv_create_cq(ctx, 4, (void *)0x5, NULL, 0);
	struct devmem_ibv_qp_init_attr attr = {
		.qp_context = (void *)0x77,
		.send_cq = cq,
		.recv_cq = cq,
		.cap = { .max_send_wr = 4, .max_recv_wr = 2, .max_send_sge = 3, .max_recv_sge = 1 },
		.qp_type = DEVMEM_IBV_QPT_RC,
		.sq_sig_all = 1,
	};
	struct devmem_ibv_qp_attr qa = { 0 }, out;
	struct devmem_ibv_qp_init_attr init;
	struct devmem_ibv_qp *qp;
	int sv[2];

	cr_assert(pd && cq);
	cr_assert_eq(cq->cqe, 8);
	cr_assert_eq(cq->cq_context, (void *)0x5);
	qp = devmem_ibv_create_qp(pd, &attr);
	cr_assert_not_null(qp);
	cr_assert_eq(stub.qp_init.send_cq->handle, 9);
	cr_assert_eq(stub.qp_init.cap.max_send_wr, 4);
	cr_assert_eq(stub.qp_init.cap.max_send_sge, 3);
	cr_assert_eq(stub.qp_init.qp_type, IBV_QPT_RC);
	cr_assert_eq(stub.qp_init.sq_sig_all, 1);
	cr_assert_eq(attr.cap.max_inline_data, 64);
	cr_assert_eq(qp->qp_num, 0x99);
	cr_assert_eq(qp->send_cq, cq);
	cr_assert_eq(qp->qp_context, (void *)0x77);
	cr_assert_eq(qp->state, DEVMEM_IBV_QPS_RESET);

	qa.qp_state = DEVMEM_IBV_QPS_RTR;
	qa.path_mtu = DEVMEM_IBV_MTU_1024;
	qa.dest_qp_num = 0x31;
	qa.rq_psn = 0x123;
	qa.ah_attr.dlid = 5;
	qa.ah_attr.is_global = 1;
	qa.ah_attr.grh.dgid.raw[15] = 0xaa;
	qa.ah_attr.port_num = 1;
	qa.max_dest_rd_atomic = 4;
	qa.min_rnr_timer = 12;
	cr_assert_eq(devmem_ibv_modify_qp(qp, &qa,
					  DEVMEM_IBV_QP_STATE | DEVMEM_IBV_QP_AV |
						  DEVMEM_IBV_QP_PATH_MTU | DEVMEM_IBV_QP_DEST_QPN),
		     0);
	cr_assert_eq(stub.modify_attr.qp_state, IBV_QPS_RTR);
	cr_assert_eq(stub.modify_attr.path_mtu, IBV_MTU_1024);
	cr_assert_eq(stub.modify_attr.dest_qp_num, 0x31);
	cr_assert_eq(stub.modify_attr.rq_psn, 0x123);
	cr_assert_eq(stub.modify_attr.ah_attr.dlid, 5);
	cr_assert_eq(stub.modify_attr.ah_attr.is_global, 1);
	cr_assert_eq(stub.modify_attr.ah_attr.grh.dgid.raw[15], 0xaa);
	cr_assert_eq(stub.modify_attr.max_dest_rd_atomic, 4);
	cr_assert_eq(stub.modify_attr.min_rnr_timer, 12);
	cr_assert_eq(stub.modify_mask,
		     IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN);
	cr_assert_eq(qp->state, DEVMEM_IBV_QPS_RTR);
	/* the driver's refusal comes back as it is, and the snapshot stays */
	qa.qp_state = DEVMEM_IBV_QPS_SQD;
	cr_assert_eq(devmem_ibv_modify_qp(qp, &qa, DEVMEM_IBV_QP_STATE), EINVAL);
	cr_assert_eq(qp->state, DEVMEM_IBV_QPS_RTR);

	cr_assert_eq(devmem_ibv_query_qp(qp, &out, DEVMEM_IBV_QP_STATE, &init), 0);
	cr_assert_eq(out.qp_state, DEVMEM_IBV_QPS_RTR);
	cr_assert_eq(out.dest_qp_num, 0x42);
	cr_assert_eq(out.path_mtu, DEVMEM_IBV_MTU_4096);
	cr_assert_eq(out.ah_attr.dlid, 17);
	cr_assert_eq(init.send_cq, cq);
	cr_assert_eq(init.qp_context, (void *)0x77);
	cr_assert_eq(init.cap.max_send_wr, 8);

	/* a real QP's wire is its port, not a TCP socket */
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cr_assert_eq(devmem_ibv_qp_set_wire(qp, sv[0]), EOPNOTSUPP);
	close(sv[0]);
	close(sv[1]);

	cr_assert_eq(devmem_ibv_destroy_qp(qp), 0);
	cr_assert_eq(devmem_ibv_destroy_cq(cq), 0);
	cr_assert_eq(devmem_ibv_dealloc_pd(pd), 0);
	cr_assert_eq(devmem_ibv_close_device(ctx), 0);
}

/* A real QP on the stand-in's device, with one CQ for both queues. */
static struct devmem_ibv_qp *stub_qp(struct devmem_ibv_context *ctx, struct devmem_ibv_pd **pd,
				     struct devmem_ibv_cq **cq)
{
	struct devmem_ibv_qp_init_attr attr = {
		.cap = { .max_send_wr = 4, .max_recv_wr = 4, .max_send_sge = 4, .max_recv_sge = 4 },
		.qp_type = DEVMEM_IBV_QPT_RC,
	};
	struct devmem_ibv_qp *qp;

	*pd = devmem_ibv_alloc_pd(ctx);
	*cq = devmem_ibv_create_cq(ctx, 4, NULL, NULL, 0);
	cr_assert(*pd && *cq);
	attr.send_cq = attr.recv_cq = *cq;
	qp = devmem_ibv_create_qp(*pd, &attr);
	cr_assert_not_null(qp);
	return qp;
}

static void stub_qp_free(struct devmem_ibv_context *ctx, struct devmem_ibv_pd *pd,
			 struct devmem_ibv_cq *cq, struct devmem_ibv_qp *qp)
{
	cr_assert_eq(devmem_ibv_destroy_qp(qp), 0);
	cr_assert_eq(devmem_ibv_destroy_cq(cq), 0);
	cr_assert_eq(devmem_ibv_dealloc_pd(pd), 0);
	cr_assert_eq(devmem_ibv_close_device(ctx), 0);
}

Test(ibv_passthrough_wrap, post_send_converts_each_request_and_names_the_refused_one)
{
	struct devmem_ibv_context *ctx = stub_ctx();
	struct devmem_ibv_pd *pd;
	struct devmem_ibv_cq *cq;
	struct devmem_ibv_qp *qp = stub_qp(ctx, &pd, &cq);
	struct devmem_ibv_sge sge[2] = { { 0x1000, 64, 0x1234 }, { 0x2000, 32, 0x1234 } };
	struct devmem_ibv_send_wr wr[3], *bad = NULL;

	memset(wr, 0, sizeof(wr));
	wr[0].wr_id = 1;
	wr[0].next = &wr[1];
	wr[0].sg_list = sge;
	wr[0].num_sge = 2;
	wr[0].opcode = DEVMEM_IBV_WR_RDMA_WRITE_WITH_IMM;
	wr[0].send_flags = DEVMEM_IBV_SEND_SIGNALED;
	wr[0].imm_data = 0xdeadbeef;
	wr[0].wr.rdma.remote_addr = 0xabc000;
	wr[0].wr.rdma.rkey = 0x5678;
	wr[1].wr_id = 0xbad;
	wr[1].next = &wr[2];
	wr[1].opcode = DEVMEM_IBV_WR_SEND;
	wr[2].wr_id = 3;
	wr[2].opcode = DEVMEM_IBV_WR_SEND;

	cr_assert_eq(devmem_ibv_post_send(qp, wr, &bad), ENOMEM);
	cr_assert_eq(bad, &wr[1]);
	cr_assert_eq(stub.nswr, 1);
	cr_assert_eq(stub.swr[0].wr_id, 1);
	cr_assert_eq(stub.swr[0].opcode, IBV_WR_RDMA_WRITE_WITH_IMM);
	cr_assert_eq(stub.swr[0].send_flags, IBV_SEND_SIGNALED);
	cr_assert_eq(stub.swr[0].imm_data, 0xdeadbeef);
	cr_assert_eq(stub.swr[0].wr.rdma.remote_addr, 0xabc000);
	cr_assert_eq(stub.swr[0].wr.rdma.rkey, 0x5678);
	cr_assert_eq(stub.swr[0].num_sge, 2);
	cr_assert_eq(stub.ssge[0][1].addr, 0x2000);
	cr_assert_eq(stub.ssge[0][1].length, 32);
	cr_assert_eq(stub.ssge[0][1].lkey, 0x1234);

	/* too many sges for any device: EINVAL at that request, nothing posted */
	bad = NULL;
	wr[2].num_sge = 1000;
	wr[2].sg_list = sge;
	cr_assert_eq(devmem_ibv_post_send(qp, &wr[2], &bad), EINVAL);
	cr_assert_eq(bad, &wr[2]);
	cr_assert_eq(stub.nswr, 1);
	stub_qp_free(ctx, pd, cq, qp);
}

Test(ibv_passthrough_wrap, post_recv_converts_each_request_and_names_the_refused_one)
{
	struct devmem_ibv_context *ctx = stub_ctx();
	struct devmem_ibv_pd *pd;
	struct devmem_ibv_cq *cq;
	struct devmem_ibv_qp *qp = stub_qp(ctx, &pd, &cq);
	struct devmem_ibv_sge sge = { 0x1000, 64, 0x1234 };
	struct devmem_ibv_recv_wr wr[2] = { { 5, &wr[1], &sge, 1 }, { 0xbad, NULL, &sge, 1 } };
	struct devmem_ibv_recv_wr *bad = NULL;

	cr_assert_eq(devmem_ibv_post_recv(qp, wr, &bad), ENOMEM);
	cr_assert_eq(bad, &wr[1]);
	cr_assert_eq(stub.nrwr, 1);
	cr_assert_eq(stub.rwr[0].wr_id, 5);
	cr_assert_eq(stub.rwr[0].num_sge, 1);
	stub_qp_free(ctx, pd, cq, qp);
}

Test(ibv_passthrough_wrap, poll_cq_converts_the_completions)
{
	struct devmem_ibv_context *ctx = stub_ctx();
	struct devmem_ibv_cq *cq = devmem_ibv_create_cq(ctx, 4, NULL, NULL, 0);
	struct devmem_ibv_wc wc[4];
	int i;

	cr_assert_not_null(cq);
	for (i = 0; i < 3; i++) {
		stub.wc[i].wr_id = 100 + i;
		stub.wc[i].status = i == 2 ? IBV_WC_REM_ACCESS_ERR : IBV_WC_SUCCESS;
		stub.wc[i].opcode = i == 1 ? IBV_WC_RECV_RDMA_WITH_IMM : IBV_WC_RDMA_WRITE;
		stub.wc[i].byte_len = 4096;
		stub.wc[i].imm_data = 0x01020304;
		stub.wc[i].qp_num = 0x99;
		stub.wc[i].wc_flags = i == 1 ? IBV_WC_WITH_IMM : 0;
	}
	stub.nwc = 3;
	cr_assert_eq(devmem_ibv_poll_cq(cq, 2, wc), 2);
	cr_assert_eq(wc[0].wr_id, 100);
	cr_assert_eq(wc[0].status, DEVMEM_IBV_WC_SUCCESS);
	cr_assert_eq(wc[0].opcode, DEVMEM_IBV_WC_RDMA_WRITE);
	cr_assert_eq(wc[1].opcode, DEVMEM_IBV_WC_RECV_RDMA_WITH_IMM);
	cr_assert_eq(wc[1].wc_flags, DEVMEM_IBV_WC_WITH_IMM);
	cr_assert_eq(wc[1].imm_data, 0x01020304);
	cr_assert_eq(wc[1].byte_len, 4096);
	cr_assert_eq(wc[1].qp_num, 0x99);
	cr_assert_eq(devmem_ibv_poll_cq(cq, 4, wc), 1);
	cr_assert_eq(wc[0].wr_id, 102);
	cr_assert_eq(wc[0].status, DEVMEM_IBV_WC_REM_ACCESS_ERR);
	cr_assert_eq(devmem_ibv_poll_cq(cq, 4, wc), 0);
	cr_assert_eq(devmem_ibv_destroy_cq(cq), 0);
	cr_assert_eq(devmem_ibv_close_device(ctx), 0);
}

/* ---- the software device's own refusals ---- */

Test(ibv_passthrough_soft, qp_with_a_cq_of_another_software_context_is_enoent)
{
	struct devmem_ibv_context *a = soft_ctx(), *b = soft_ctx();
	struct devmem_ibv_pd *pd = devmem_ibv_alloc_pd(a);
	struct devmem_ibv_cq *cqa = devmem_ibv_create_cq(a, 4, NULL, NULL, 0);
	struct devmem_ibv_cq *cqb = devmem_ibv_create_cq(b, 4, NULL, NULL, 0);
	struct devmem_ibv_qp_init_attr attr = {
		.send_cq = cqa,
		.recv_cq = cqb,
		.cap = { .max_send_wr = 1, .max_recv_wr = 1, .max_send_sge = 1, .max_recv_sge = 1 },
		.qp_type = DEVMEM_IBV_QPT_RC,
	};

	cr_assert(pd && cqa && cqb);
	errno = 0;
	cr_assert_null(devmem_ibv_create_qp(pd, &attr));
	cr_assert_eq(errno, ENOENT);
	/* nothing holds the CQs: they and the contexts go at once */
	cr_assert_eq(devmem_ibv_destroy_cq(cqb), 0);
	cr_assert_eq(devmem_ibv_close_device(b), 0);
	cr_assert_eq(devmem_ibv_destroy_cq(cqa), 0);
	cr_assert_eq(devmem_ibv_dealloc_pd(pd), 0);
	cr_assert_eq(devmem_ibv_close_device(a), 0);
}
