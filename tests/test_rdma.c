// SPDX-License-Identifier: MIT
/*
 * The software RDMA device through its verbs: dma-buf MRs as rdma-core's
 * tests/test_mr.py checks them (DmaBufMRTest), the registration errno of
 * the kernel's REG_DMABUF_MR method, RC traffic over a TCP wire with the
 * verbs completion statuses, and dynamic MRs of moving vram.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devmem/host.h"
#include "devmem/vram.h"
#include "harness.h"
#include "lib/compiler.h"
#include "lib/list.h"
#include "rdma/rdma.h"
#include "support/rdma-pair.h"

#define ALL_ACCESS                                                        \
	(DEVMEM_IBV_ACCESS_LOCAL_WRITE | DEVMEM_IBV_ACCESS_REMOTE_WRITE | \
	 DEVMEM_IBV_ACCESS_REMOTE_READ)

static struct devmem_ibv_context *ctx_open(void)
{
	struct devmem_ibv_device **list;
	struct devmem_ibv_context *ctx;
	int n = 0;

	list = devmem_ibv_get_device_list(&n);
	cr_assert_not_null(list);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(devmem_ibv_get_device_name(list[0]), "swrdma0");
	ctx = devmem_ibv_open_device(list[0]);
	devmem_ibv_free_device_list(list);
	cr_assert_not_null(ctx);
	return ctx;
}

/* A host dma-buf of @pages pages and an fd for it. */
static struct dma_buf *host_buf(size_t pages, int *fd)
{
	struct dma_buf *buf;

	cr_assert_eq(devmem_host_buffer_create(pages * PAGE_SIZE, NULL, &buf), 0);
	*fd = dma_buf_fd(buf, O_CLOEXEC);
	cr_assert_geq(*fd, 0);
	return buf;
}

static void buf_fill(struct dma_buf *buf, size_t off, size_t len, unsigned int seed)
{
	unsigned char *p;
	size_t i;

	cr_assert_eq(dma_buf_vmap_unlocked(buf, (void **)&p), 0);
	for (i = 0; i < len; i++)
		p[off + i] = (unsigned char)(seed * 31 + i * 7 + (i >> 8));
	dma_buf_vunmap_unlocked(buf, p);
}

static bool buf_check(struct dma_buf *buf, size_t off, size_t len, unsigned int seed)
{
	unsigned char *p;
	bool ok = true;
	size_t i;

	cr_assert_eq(dma_buf_vmap_unlocked(buf, (void **)&p), 0);
	for (i = 0; i < len && ok; i++)
		ok = p[off + i] == (unsigned char)(seed * 31 + i * 7 + (i >> 8));
	dma_buf_vunmap_unlocked(buf, p);
	return ok;
}

/* registration: the flags */

/*
 * Every combination of the five legal flags, at offset 0 and at len/2:
 * registered unless remote write or atomic comes without local write.
 */
Test(rdma_mr, dmabuf_reg_mr_every_flag_combination)
{
	static const int flags[] = { DEVMEM_IBV_ACCESS_LOCAL_WRITE, DEVMEM_IBV_ACCESS_REMOTE_WRITE,
				     DEVMEM_IBV_ACCESS_REMOTE_READ, DEVMEM_IBV_ACCESS_REMOTE_ATOMIC,
				     DEVMEM_IBV_ACCESS_RELAXED_ORDERING };
	struct devmem_ibv_context *ctx = ctx_open();
	struct devmem_ibv_pd *pd = devmem_ibv_alloc_pd(ctx);
	size_t len = 8 * PAGE_SIZE;
	int fd, mask, off;
	struct dma_buf *buf = host_buf(8, &fd);

	for (off = 0; off < 2; off++) {
		for (mask = 0; mask < 32; mask++) {
			int access = 0, i;
			bool legal;
			struct devmem_ibv_mr *mr;
			uint64_t o = off ? len / 2 : 0;

			for (i = 0; i < 5; i++)
				if (mask & (1 << i))
					access |= flags[i];
			legal = !(access & (DEVMEM_IBV_ACCESS_REMOTE_WRITE |
					    DEVMEM_IBV_ACCESS_REMOTE_ATOMIC)) ||
				(access & DEVMEM_IBV_ACCESS_LOCAL_WRITE);
			errno = 0;
			mr = devmem_ibv_reg_dmabuf_mr(pd, o, len - o, o, fd, access);
			if (legal) {
				cr_assert_not_null(mr, "access %#x offset %zu: %s", access,
						   (size_t)o, strerror(errno));
				cr_assert_eq(mr->length, len - o);
				cr_assert_eq(devmem_ibv_dereg_mr(mr), 0);
			} else {
				cr_assert_null(mr, "access %#x needs local write", access);
				cr_assert_eq(errno, EINVAL);
			}
		}
	}
	close(fd);
	dma_buf_put(buf);
	cr_assert_eq(devmem_ibv_dealloc_pd(pd), 0);
	cr_assert_eq(devmem_ibv_close_device(ctx), 0);
}

Test(rdma_mr, dmabuf_reg_mr_bad_flags_is_einval)
{
	static const int bad[] = { DEVMEM_IBV_ACCESS_MW_BIND,
				   DEVMEM_IBV_ACCESS_ZERO_BASED,
				   DEVMEM_IBV_ACCESS_ON_DEMAND,
				   DEVMEM_IBV_ACCESS_HUGETLB,
				   1 << 12,
				   1 << 30 };
	struct devmem_ibv_context *ctx = ctx_open();
	struct devmem_ibv_pd *pd = devmem_ibv_alloc_pd(ctx);
	struct device *dev = devmem_ibv_context_device(ctx);
	unsigned int i;
	int fd;
	struct dma_buf *buf = host_buf(2, &fd);

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		errno = 0;
		cr_assert_null(devmem_ibv_reg_dmabuf_mr(pd, 0, PAGE_SIZE, 0, fd,
							DEVMEM_IBV_ACCESS_LOCAL_WRITE | bad[i]));
		cr_assert_eq(errno, EINVAL, "flag %#x", bad[i]);
	}
	cr_assert_eq(device_mapped_bytes(dev), 0, "a refused registration maps nothing");
	cr_assert(list_empty(&buf->attachments));
	close(fd);
	dma_buf_put(buf);
	devmem_ibv_dealloc_pd(pd);
	devmem_ibv_close_device(ctx);
}

Test(rdma_mr, dmabuf_reg_mr_iova_page_offset_must_match_offset)
{
	struct devmem_ibv_context *ctx = ctx_open();
	struct devmem_ibv_pd *pd = devmem_ibv_alloc_pd(ctx);
	struct devmem_ibv_mr *mr;
	int fd;
	struct dma_buf *buf = host_buf(4, &fd);

	errno = 0;
	cr_assert_null(devmem_ibv_reg_dmabuf_mr(pd, 100, PAGE_SIZE, 0x10000, fd, ALL_ACCESS));
	cr_assert_eq(errno, EINVAL);
	mr = devmem_ibv_reg_dmabuf_mr(pd, 100, PAGE_SIZE, 0x7000000 + 100, fd, ALL_ACCESS);
	cr_assert_not_null(mr, "same page offset, any page: %s", strerror(errno));
	cr_assert_eq((uintptr_t)mr->addr, 100);
	devmem_ibv_dereg_mr(mr);
	close(fd);
	dma_buf_put(buf);
	devmem_ibv_dealloc_pd(pd);
	devmem_ibv_close_device(ctx);
}

/* UCX's probe: fd -1 gives EBADF when dma-buf MRs are supported. */
Test(rdma_mr, dmabuf_reg_mr_fd_minus_one_is_ebadf)
{
	struct devmem_ibv_context *ctx = ctx_open();
	struct devmem_ibv_pd *pd = devmem_ibv_alloc_pd(ctx);

	errno = 0;
	cr_assert_null(
		devmem_ibv_reg_dmabuf_mr(pd, 0, PAGE_SIZE, 0, -1, DEVMEM_IBV_ACCESS_LOCAL_WRITE));
	cr_assert_eq(errno, EBADF);
	errno = 0;
	cr_assert_null(devmem_ibv_reg_dmabuf_mr(pd, 0, 0, 0, -1, DEVMEM_IBV_ACCESS_LOCAL_WRITE));
	cr_assert_eq(errno, EBADF, "the fd is looked at before the length, as in the kernel");
	devmem_ibv_dealloc_pd(pd);
	devmem_ibv_close_device(ctx);
}

Test(rdma_mr, dmabuf_reg_mr_bad_range_is_einval)
{
	struct devmem_ibv_context *ctx = ctx_open();
	struct devmem_ibv_pd *pd = devmem_ibv_alloc_pd(ctx);
	int fd;
	struct dma_buf *buf = host_buf(4, &fd);

	errno = 0;
	cr_assert_null(devmem_ibv_reg_dmabuf_mr(pd, 0, 0, 0, fd, ALL_ACCESS));
	cr_assert_eq(errno, EINVAL, "length 0");
	errno = 0;
	cr_assert_null(devmem_ibv_reg_dmabuf_mr(pd, PAGE_SIZE, 3 * PAGE_SIZE + 1, PAGE_SIZE, fd,
						ALL_ACCESS));
	cr_assert_eq(errno, EINVAL, "past the buffer");
	errno = 0;
	cr_assert_null(
		devmem_ibv_reg_dmabuf_mr(pd, PAGE_SIZE, SIZE_MAX, PAGE_SIZE, fd, ALL_ACCESS));
	cr_assert_eq(errno, EINVAL, "offset + length overflows");
	cr_assert(list_empty(&buf->attachments));
	close(fd);
	dma_buf_put(buf);
	devmem_ibv_dealloc_pd(pd);
	devmem_ibv_close_device(ctx);
}

Test(rdma_mr, dmabuf_dereg_mr_unmaps_and_detaches)
{
	struct devmem_ibv_context *ctx = ctx_open();
	struct devmem_ibv_pd *pd = devmem_ibv_alloc_pd(ctx);
	struct device *dev = devmem_ibv_context_device(ctx);
	struct devmem_ibv_mr *mr;
	int fd;
	struct dma_buf *buf = host_buf(4, &fd);

	mr = devmem_ibv_reg_dmabuf_mr(pd, 0, 4 * PAGE_SIZE, 0, fd, ALL_ACCESS);
	cr_assert_not_null(mr);
	cr_assert_gt(device_mapped_bytes(dev), 0, "a dynamic MR is mapped at registration");
	cr_assert_eq(devmem_ibv_dealloc_pd(pd), EBUSY, "the PD is in use");
	cr_assert_eq(devmem_ibv_dereg_mr(mr), 0);
	cr_assert_eq(device_mapped_bytes(dev), 0);
	cr_assert(list_empty(&buf->attachments));
	close(fd);
	dma_buf_put(buf);
	cr_assert_eq(devmem_ibv_dealloc_pd(pd), 0);
	cr_assert_eq(devmem_ibv_close_device(ctx), 0);
}

Test(rdma_mr, dmabuf_lkey_and_rkey_name_the_mr)
{
	struct devmem_ibv_context *ctx = ctx_open();
	struct devmem_ibv_pd *pd = devmem_ibv_alloc_pd(ctx);
	struct devmem_ibv_mr *a, *b, *c;
	uint32_t old;
	int fd;
	struct dma_buf *buf = host_buf(4, &fd);

	a = devmem_ibv_reg_dmabuf_mr(pd, 0, PAGE_SIZE, 0, fd, ALL_ACCESS);
	b = devmem_ibv_reg_dmabuf_mr(pd, PAGE_SIZE, PAGE_SIZE, 0, fd, ALL_ACCESS);
	cr_assert(a && b);
	cr_assert_neq(a->lkey, 0);
	cr_assert_eq(a->lkey, a->rkey);
	cr_assert_neq(a->lkey, b->lkey);
	old = a->lkey;
	devmem_ibv_dereg_mr(a);
	c = devmem_ibv_reg_dmabuf_mr(pd, 0, PAGE_SIZE, 0, fd, ALL_ACCESS);
	cr_assert_not_null(c);
	cr_assert_neq(c->lkey, old, "a key is not reused at once: a stale key finds nothing");
	devmem_ibv_dereg_mr(b);
	devmem_ibv_dereg_mr(c);
	close(fd);
	dma_buf_put(buf);
	devmem_ibv_dealloc_pd(pd);
	devmem_ibv_close_device(ctx);
}

Test(rdma_mr, host_reg_mr_checks_access_like_the_kernel)
{
	struct devmem_ibv_context *ctx = ctx_open();
	struct devmem_ibv_pd *pd = devmem_ibv_alloc_pd(ctx);
	void *mem = aligned_alloc(PAGE_SIZE, 4 * PAGE_SIZE);
	struct devmem_ibv_mr *mr;

	errno = 0;
	cr_assert_null(devmem_ibv_reg_mr(pd, mem, PAGE_SIZE, DEVMEM_IBV_ACCESS_REMOTE_WRITE));
	cr_assert_eq(errno, EINVAL);
	mr = devmem_ibv_reg_mr(pd, mem, 4 * PAGE_SIZE, ALL_ACCESS);
	cr_assert_not_null(mr);
	cr_assert_eq(mr->addr, mem);
	cr_assert_eq(devmem_ibv_mr_get_stats(mr, &(struct devmem_ibv_mr_stats){ 0 }), EINVAL);
	devmem_ibv_dereg_mr(mr);
	free(mem);
	devmem_ibv_dealloc_pd(pd);
	devmem_ibv_close_device(ctx);
}

/* queue pairs: the state machine */

Test(rdma_qp, state_machine_refuses_illegal_transitions_and_missing_attributes)
{
	struct rdma_end e = { 0 };
	struct devmem_ibv_qp_attr a = { .qp_state = DEVMEM_IBV_QPS_RTR };
	struct devmem_ibv_send_wr wr = { .opcode = DEVMEM_IBV_WR_SEND }, *bad = NULL;
	int fds[2];

	cr_assert_eq(rdma_end_open(&e, 4, 16), 0);
	cr_assert_eq(e.qp->state, DEVMEM_IBV_QPS_RESET);
	cr_assert_eq(devmem_ibv_modify_qp(e.qp, &a, DEVMEM_IBV_QP_STATE), EINVAL, "RESET -> RTR");
	a.qp_state = DEVMEM_IBV_QPS_INIT;
	cr_assert_eq(devmem_ibv_modify_qp(e.qp, &a, DEVMEM_IBV_QP_STATE), EINVAL,
		     "INIT needs pkey index, port, access flags");
	cr_assert_eq(rdma_end_init(&e, ALL_ACCESS), 0);
	cr_assert_eq(devmem_ibv_post_send(e.qp, &wr, &bad), EINVAL, "no send before RTS");
	cr_assert_eq(bad, &wr);
	cr_assert_eq(rdma_end_rtr_rts(&e, 1), EINVAL, "RTR needs the wire");
	cr_assert_eq(rdma_tcp_pair(fds), 0);
	cr_assert_eq(devmem_ibv_qp_set_wire(e.qp, fds[0]), 0);
	a = (struct devmem_ibv_qp_attr){ .qp_state = DEVMEM_IBV_QPS_RTR };
	cr_assert_eq(devmem_ibv_modify_qp(e.qp, &a, DEVMEM_IBV_QP_STATE), EINVAL,
		     "RTR needs AV, MTU, dest QPN, RQ PSN, max dest rd atomic, min RNR timer");
	cr_assert_eq(rdma_end_rtr_rts(&e, 1), 0);
	cr_assert_eq(e.qp->state, DEVMEM_IBV_QPS_RTS);
	cr_assert_eq(devmem_ibv_qp_set_wire(e.qp, fds[0]), EINVAL, "the wire is set before RTR");
	a = (struct devmem_ibv_qp_attr){ .qp_state = DEVMEM_IBV_QPS_RESET };
	cr_assert_eq(devmem_ibv_modify_qp(e.qp, &a, DEVMEM_IBV_QP_STATE), 0);
	cr_assert_eq(e.qp->state, DEVMEM_IBV_QPS_RESET);
	close(fds[0]);
	close(fds[1]);
	rdma_end_close(&e);
}

Test(rdma_qp, post_send_beyond_queue_depth_is_enomem)
{
	struct rdma_end a = { 0 }, b = { 0 };
	void *mem = aligned_alloc(PAGE_SIZE, PAGE_SIZE);
	struct devmem_ibv_mr *mr;
	struct devmem_ibv_sge sge;
	struct devmem_ibv_send_wr wr[3], *bad = NULL;
	int i;

	cr_assert_eq(rdma_pair_open(&a, &b, 2, ALL_ACCESS), 0);
	mr = devmem_ibv_reg_mr(a.pd, mem, PAGE_SIZE, ALL_ACCESS);
	sge = (struct devmem_ibv_sge){ (uintptr_t)mem, 8, mr->lkey };
	for (i = 0; i < 3; i++)
		wr[i] = (struct devmem_ibv_send_wr){ .wr_id = i,
						     .next = i < 2 ? &wr[i + 1] : NULL,
						     .sg_list = &sge,
						     .num_sge = 1,
						     .opcode = DEVMEM_IBV_WR_SEND };
	/* b posts no receive: the sends wait (infinite RNR retry), the queue stays full */
	cr_assert_eq(devmem_ibv_post_send(a.qp, wr, &bad), ENOMEM);
	cr_assert_eq(bad, &wr[2]);
	wr[0].num_sge = 5;
	wr[0].next = NULL;
	cr_assert_eq(devmem_ibv_post_send(a.qp, wr, &bad), EINVAL, "more sges than max_send_sge");
	devmem_ibv_dereg_mr(mr);
	free(mem);
	rdma_end_close(&a);
	rdma_end_close(&b);
}

/* traffic over dma-buf MRs, as DmaBufRC does */

struct dmabuf_side {
	struct dma_buf *buf;
	int fd;
	struct devmem_ibv_mr *mr;
};

static void side_reg(struct dmabuf_side *s, struct rdma_end *e, size_t pages, uint64_t offset,
		     size_t len, uint64_t iova)
{
	s->buf = host_buf(pages, &s->fd);
	s->mr = devmem_ibv_reg_dmabuf_mr(e->pd, offset, len, iova, s->fd, ALL_ACCESS);
	cr_assert_not_null(s->mr, "%s", strerror(errno));
}

static void side_put(struct dmabuf_side *s)
{
	devmem_ibv_dereg_mr(s->mr);
	close(s->fd);
	dma_buf_put(s->buf);
}

Test(rdma_traffic, dmabuf_rc_send_recv_100_iterations)
{
	struct rdma_end a = { 0 }, b = { 0 };
	struct dmabuf_side sa, sb;
	struct devmem_ibv_wc wc;
	const uint32_t len = 3000;
	int i;

	cr_assert_eq(rdma_pair_open(&a, &b, 16, ALL_ACCESS), 0);
	side_reg(&sa, &a, 4, 0, 4 * PAGE_SIZE, 0);
	side_reg(&sb, &b, 4, 0, 4 * PAGE_SIZE, 0x100000);
	for (i = 0; i < 100; i++) {
		buf_fill(sa.buf, 10, len, i);
		cr_assert_eq(rdma_post_recv(b.qp, 1000 + i, 0x100000 + 200, len + 50, sb.mr->lkey),
			     0);
		cr_assert_eq(rdma_post(a.qp, DEVMEM_IBV_WR_SEND, i, 10, len, sa.mr->lkey, 0, 0), 0);
		cr_assert_eq(rdma_poll_one(b.cq, &wc), 1);
		cr_assert_eq(wc.status, DEVMEM_IBV_WC_SUCCESS, "%s",
			     devmem_ibv_wc_status_str(wc.status));
		cr_assert_eq(wc.opcode, DEVMEM_IBV_WC_RECV);
		cr_assert_eq(wc.wr_id, 1000 + i);
		cr_assert_eq(wc.byte_len, len);
		cr_assert_eq(wc.qp_num, b.qp->qp_num);
		cr_assert_eq(rdma_poll_one(a.cq, &wc), 1);
		cr_assert_eq(wc.status, DEVMEM_IBV_WC_SUCCESS);
		cr_assert_eq(wc.opcode, DEVMEM_IBV_WC_SEND);
		cr_assert_eq(wc.wr_id, i);
		cr_assert(buf_check(sb.buf, 200, len, i), "iteration %d", i);
	}
	side_put(&sa);
	side_put(&sb);
	rdma_end_close(&a);
	rdma_end_close(&b);
}

Test(rdma_traffic, dmabuf_rdma_write_100_iterations)
{
	struct rdma_end a = { 0 }, b = { 0 };
	struct dmabuf_side sa, sb;
	struct devmem_ibv_wc wc;
	const uint32_t len = 2 * PAGE_SIZE + 123;
	int i;

	cr_assert_eq(rdma_pair_open(&a, &b, 16, ALL_ACCESS), 0);
	side_reg(&sa, &a, 4, 0, 4 * PAGE_SIZE, 0);
	/* an unaligned remote region: [PAGE_SIZE + 64, ...) at iova 0x5000040 */
	side_reg(&sb, &b, 8, PAGE_SIZE + 64, 5 * PAGE_SIZE, 0x5000040);
	for (i = 0; i < 100; i++) {
		buf_fill(sa.buf, 0, len, i);
		cr_assert_eq(rdma_post(a.qp, DEVMEM_IBV_WR_RDMA_WRITE, i, 0, len, sa.mr->lkey,
				       0x5000040 + 100, sb.mr->rkey),
			     0);
		cr_assert_eq(rdma_poll_one(a.cq, &wc), 1);
		cr_assert_eq(wc.status, DEVMEM_IBV_WC_SUCCESS, "%s",
			     devmem_ibv_wc_status_str(wc.status));
		cr_assert_eq(wc.opcode, DEVMEM_IBV_WC_RDMA_WRITE);
		cr_assert(buf_check(sb.buf, PAGE_SIZE + 64 + 100, len, i), "iteration %d", i);
	}
	side_put(&sa);
	side_put(&sb);
	rdma_end_close(&a);
	rdma_end_close(&b);
}

/* DmaBufMRTest.test_dmabuf_write_read: what the CPU wrote, an RDMA READ gets back. */
Test(rdma_traffic, dmabuf_write_then_read_back_random_sub_range)
{
	struct rdma_end a = { 0 }, b = { 0 };
	struct dmabuf_side sa, sb;
	struct devmem_ibv_wc wc;
	unsigned int seed = 12345;
	int i;

	cr_assert_eq(rdma_pair_open(&a, &b, 16, ALL_ACCESS), 0);
	side_reg(&sa, &a, 8, 0, 8 * PAGE_SIZE, 0);
	side_reg(&sb, &b, 8, 0, 8 * PAGE_SIZE, 0);
	for (i = 0; i < 20; i++) {
		uint32_t off = rand_r(&seed) % (4 * PAGE_SIZE);
		uint32_t len = 1 + rand_r(&seed) % (4 * PAGE_SIZE - 1);

		buf_fill(sb.buf, off, len, i);
		cr_assert_eq(rdma_post(a.qp, DEVMEM_IBV_WR_RDMA_READ, i, 4 * PAGE_SIZE - off % 97,
				       len, sa.mr->lkey, off, sb.mr->rkey),
			     0);
		cr_assert_eq(rdma_poll_one(a.cq, &wc), 1);
		cr_assert_eq(wc.status, DEVMEM_IBV_WC_SUCCESS, "%s",
			     devmem_ibv_wc_status_str(wc.status));
		cr_assert_eq(wc.opcode, DEVMEM_IBV_WC_RDMA_READ);
		cr_assert_eq(wc.byte_len, len);
		cr_assert(buf_check(sa.buf, 4 * PAGE_SIZE - off % 97, len, i));
	}
	side_put(&sa);
	side_put(&sb);
	rdma_end_close(&a);
	rdma_end_close(&b);
}

Test(rdma_traffic, write_and_send_with_immediate_deliver_it)
{
	struct rdma_end a = { 0 }, b = { 0 };
	struct dmabuf_side sa, sb;
	struct devmem_ibv_sge sge;
	struct devmem_ibv_send_wr wr, *bad;
	struct devmem_ibv_wc wc;

	cr_assert_eq(rdma_pair_open(&a, &b, 16, ALL_ACCESS), 0);
	side_reg(&sa, &a, 2, 0, 2 * PAGE_SIZE, 0);
	side_reg(&sb, &b, 2, 0, 2 * PAGE_SIZE, 0);
	buf_fill(sa.buf, 0, 512, 3);
	cr_assert_eq(rdma_post_recv(b.qp, 77, 0, 0, sb.mr->lkey), 0);
	sge = (struct devmem_ibv_sge){ 0, 512, sa.mr->lkey };
	wr = (struct devmem_ibv_send_wr){ .wr_id = 1,
					  .sg_list = &sge,
					  .num_sge = 1,
					  .opcode = DEVMEM_IBV_WR_RDMA_WRITE_WITH_IMM,
					  .send_flags = DEVMEM_IBV_SEND_SIGNALED,
					  .imm_data = htonl(0xabcd),
					  .wr.rdma = { 1024, sb.mr->rkey } };
	cr_assert_eq(devmem_ibv_post_send(a.qp, &wr, &bad), 0);
	cr_assert_eq(rdma_poll_one(b.cq, &wc), 1);
	cr_assert_eq(wc.status, DEVMEM_IBV_WC_SUCCESS);
	cr_assert_eq(wc.opcode, DEVMEM_IBV_WC_RECV_RDMA_WITH_IMM);
	cr_assert_eq(wc.wr_id, 77);
	cr_assert(wc.wc_flags & DEVMEM_IBV_WC_WITH_IMM);
	cr_assert_eq(ntohl(wc.imm_data), 0xabcd);
	cr_assert_eq(wc.byte_len, 512);
	cr_assert(buf_check(sb.buf, 1024, 512, 3));
	cr_assert_eq(rdma_poll_one(a.cq, &wc), 1);

	cr_assert_eq(rdma_post_recv(b.qp, 78, 0, 512, sb.mr->lkey), 0);
	wr.opcode = DEVMEM_IBV_WR_SEND_WITH_IMM;
	wr.imm_data = htonl(7);
	cr_assert_eq(devmem_ibv_post_send(a.qp, &wr, &bad), 0);
	cr_assert_eq(rdma_poll_one(b.cq, &wc), 1);
	cr_assert_eq(wc.opcode, DEVMEM_IBV_WC_RECV);
	cr_assert(wc.wc_flags & DEVMEM_IBV_WC_WITH_IMM);
	cr_assert_eq(ntohl(wc.imm_data), 7);
	cr_assert(buf_check(sb.buf, 0, 512, 3));
	cr_assert_eq(rdma_poll_one(a.cq, &wc), 1);
	side_put(&sa);
	side_put(&sb);
	rdma_end_close(&a);
	rdma_end_close(&b);
}

Test(rdma_traffic, unsignaled_sends_complete_silently)
{
	struct rdma_end a = { 0 }, b = { 0 };
	struct dmabuf_side sa, sb;
	struct devmem_ibv_sge sge;
	struct devmem_ibv_send_wr wr[2], *bad;
	struct devmem_ibv_wc wc;

	cr_assert_eq(rdma_pair_open(&a, &b, 16, ALL_ACCESS), 0);
	side_reg(&sa, &a, 1, 0, PAGE_SIZE, 0);
	side_reg(&sb, &b, 1, 0, PAGE_SIZE, 0);
	sge = (struct devmem_ibv_sge){ 0, 64, sa.mr->lkey };
	wr[0] = (struct devmem_ibv_send_wr){ .wr_id = 1,
					     .next = &wr[1],
					     .sg_list = &sge,
					     .num_sge = 1,
					     .opcode = DEVMEM_IBV_WR_RDMA_WRITE,
					     .wr.rdma = { 0, sb.mr->rkey } };
	wr[1] = wr[0];
	wr[1].wr_id = 2;
	wr[1].next = NULL;
	wr[1].send_flags = DEVMEM_IBV_SEND_SIGNALED;
	cr_assert_eq(devmem_ibv_post_send(a.qp, wr, &bad), 0);
	cr_assert_eq(rdma_poll_one(a.cq, &wc), 1);
	cr_assert_eq(wc.wr_id, 2, "only the signalled one completes");
	cr_assert_eq(devmem_ibv_poll_cq(a.cq, 1, &wc), 0);
	side_put(&sa);
	side_put(&sb);
	rdma_end_close(&a);
	rdma_end_close(&b);
}

/* completion statuses */

static void expect_status(struct devmem_ibv_cq *cq, uint64_t wr_id, enum devmem_ibv_wc_status st)
{
	struct devmem_ibv_wc wc;

	cr_assert_eq(rdma_poll_one(cq, &wc), 1, "a completion for %llu", (unsigned long long)wr_id);
	cr_assert_eq(wc.wr_id, wr_id);
	cr_assert_eq(wc.status, st, "got %s, expected %s", devmem_ibv_wc_status_str(wc.status),
		     devmem_ibv_wc_status_str(st));
}

/* The next work request after an error is flushed. */
static void post_and_expect_flush(struct rdma_end *a, struct dmabuf_side *sa)
{
	cr_assert_eq(rdma_post(a->qp, DEVMEM_IBV_WR_SEND, 99, 0, 8, sa->mr->lkey, 0, 0), 0,
		     "posting in ERR is accepted");
	expect_status(a->cq, 99, DEVMEM_IBV_WC_WR_FLUSH_ERR);
	cr_assert_eq(a->qp->state, DEVMEM_IBV_QPS_ERR);
}

Test(rdma_status, bad_rkey_is_remote_access_error_then_flush)
{
	struct rdma_end a = { 0 }, b = { 0 };
	struct dmabuf_side sa, sb;

	cr_assert_eq(rdma_pair_open(&a, &b, 16, ALL_ACCESS), 0);
	side_reg(&sa, &a, 1, 0, PAGE_SIZE, 0);
	side_reg(&sb, &b, 1, 0, PAGE_SIZE, 0);
	cr_assert_eq(rdma_post(a.qp, DEVMEM_IBV_WR_RDMA_WRITE, 1, 0, 64, sa.mr->lkey, 0,
			       sb.mr->rkey + 0x100),
		     0);
	expect_status(a.cq, 1, DEVMEM_IBV_WC_REM_ACCESS_ERR);
	post_and_expect_flush(&a, &sa);
	side_put(&sa);
	side_put(&sb);
	rdma_end_close(&a);
	rdma_end_close(&b);
}

Test(rdma_status, range_outside_remote_mr_is_remote_access_error)
{
	struct rdma_end a = { 0 }, b = { 0 };
	struct dmabuf_side sa, sb;

	cr_assert_eq(rdma_pair_open(&a, &b, 16, ALL_ACCESS), 0);
	side_reg(&sa, &a, 1, 0, PAGE_SIZE, 0);
	side_reg(&sb, &b, 2, 0, PAGE_SIZE, 0);
	buf_fill(sb.buf, PAGE_SIZE - 10, 64, 5);
	cr_assert_eq(rdma_post(a.qp, DEVMEM_IBV_WR_RDMA_WRITE, 1, 0, 64, sa.mr->lkey,
			       PAGE_SIZE - 10, sb.mr->rkey),
		     0);
	expect_status(a.cq, 1, DEVMEM_IBV_WC_REM_ACCESS_ERR);
	cr_assert(buf_check(sb.buf, PAGE_SIZE - 10, 64, 5), "nothing was written");
	side_put(&sa);
	side_put(&sb);
	rdma_end_close(&a);
	rdma_end_close(&b);
}

Test(rdma_status, read_of_mr_without_remote_read_is_remote_access_error)
{
	struct rdma_end a = { 0 }, b = { 0 };
	struct dmabuf_side sa, sb;
	struct devmem_ibv_mr *ro;

	cr_assert_eq(rdma_pair_open(&a, &b, 16, ALL_ACCESS), 0);
	side_reg(&sa, &a, 1, 0, PAGE_SIZE, 0);
	side_reg(&sb, &b, 1, 0, PAGE_SIZE, 0);
	ro = devmem_ibv_reg_dmabuf_mr(b.pd, 0, PAGE_SIZE, 0, sb.fd,
				      DEVMEM_IBV_ACCESS_LOCAL_WRITE |
					      DEVMEM_IBV_ACCESS_REMOTE_WRITE);
	cr_assert_not_null(ro);
	cr_assert_eq(rdma_post(a.qp, DEVMEM_IBV_WR_RDMA_READ, 1, 0, 64, sa.mr->lkey, 0, ro->rkey),
		     0);
	expect_status(a.cq, 1, DEVMEM_IBV_WC_REM_ACCESS_ERR);
	devmem_ibv_dereg_mr(ro);
	side_put(&sa);
	side_put(&sb);
	rdma_end_close(&a);
	rdma_end_close(&b);
}

Test(rdma_status, bad_lkey_is_local_protection_error)
{
	struct rdma_end a = { 0 }, b = { 0 };
	struct dmabuf_side sa, sb;

	cr_assert_eq(rdma_pair_open(&a, &b, 16, ALL_ACCESS), 0);
	side_reg(&sa, &a, 1, 0, PAGE_SIZE, 0);
	side_reg(&sb, &b, 1, 0, PAGE_SIZE, 0);
	cr_assert_eq(rdma_post(a.qp, DEVMEM_IBV_WR_RDMA_WRITE, 1, 0, 64, sa.mr->lkey ^ 0x1000, 0,
			       sb.mr->rkey),
		     0);
	expect_status(a.cq, 1, DEVMEM_IBV_WC_LOC_PROT_ERR);
	post_and_expect_flush(&a, &sa);
	side_put(&sa);
	side_put(&sb);
	rdma_end_close(&a);
	rdma_end_close(&b);
}

Test(rdma_status, read_into_mr_without_local_write_is_local_protection_error)
{
	struct rdma_end a = { 0 }, b = { 0 };
	struct dmabuf_side sa, sb;
	struct devmem_ibv_mr *ro;

	cr_assert_eq(rdma_pair_open(&a, &b, 16, ALL_ACCESS), 0);
	side_reg(&sa, &a, 1, 0, PAGE_SIZE, 0);
	side_reg(&sb, &b, 1, 0, PAGE_SIZE, 0);
	ro = devmem_ibv_reg_dmabuf_mr(a.pd, 0, PAGE_SIZE, 0, sa.fd, DEVMEM_IBV_ACCESS_REMOTE_READ);
	cr_assert_not_null(ro);
	cr_assert_eq(rdma_post(a.qp, DEVMEM_IBV_WR_RDMA_READ, 1, 0, 64, ro->lkey, 0, sb.mr->rkey),
		     0);
	expect_status(a.cq, 1, DEVMEM_IBV_WC_LOC_PROT_ERR);
	devmem_ibv_dereg_mr(ro);
	side_put(&sa);
	side_put(&sb);
	rdma_end_close(&a);
	rdma_end_close(&b);
}

Test(rdma_status, send_longer_than_receive_is_length_error_both_sides)
{
	struct rdma_end a = { 0 }, b = { 0 };
	struct dmabuf_side sa, sb;

	cr_assert_eq(rdma_pair_open(&a, &b, 16, ALL_ACCESS), 0);
	side_reg(&sa, &a, 1, 0, PAGE_SIZE, 0);
	side_reg(&sb, &b, 1, 0, PAGE_SIZE, 0);
	cr_assert_eq(rdma_post_recv(b.qp, 10, 0, 100, sb.mr->lkey), 0);
	cr_assert_eq(rdma_post_recv(b.qp, 11, 0, 100, sb.mr->lkey), 0);
	cr_assert_eq(rdma_post(a.qp, DEVMEM_IBV_WR_SEND, 1, 0, 200, sa.mr->lkey, 0, 0), 0);
	expect_status(b.cq, 10, DEVMEM_IBV_WC_LOC_LEN_ERR);
	expect_status(b.cq, 11, DEVMEM_IBV_WC_WR_FLUSH_ERR);
	expect_status(a.cq, 1, DEVMEM_IBV_WC_REM_INV_REQ_ERR);
	side_put(&sa);
	side_put(&sb);
	rdma_end_close(&a);
	rdma_end_close(&b);
}

Test(rdma_status, modify_to_err_flushes_posted_receives)
{
	struct rdma_end a = { 0 }, b = { 0 };
	struct dmabuf_side sb;
	struct devmem_ibv_qp_attr attr = { .qp_state = DEVMEM_IBV_QPS_ERR };

	cr_assert_eq(rdma_pair_open(&a, &b, 16, ALL_ACCESS), 0);
	side_reg(&sb, &b, 1, 0, PAGE_SIZE, 0);
	cr_assert_eq(rdma_post_recv(b.qp, 5, 0, 100, sb.mr->lkey), 0);
	cr_assert_eq(devmem_ibv_modify_qp(b.qp, &attr, DEVMEM_IBV_QP_STATE), 0);
	expect_status(b.cq, 5, DEVMEM_IBV_WC_WR_FLUSH_ERR);
	side_put(&sb);
	rdma_end_close(&a);
	rdma_end_close(&b);
}

/* dynamic and pinned MRs of moving vram */

struct vram_side {
	struct vram *vram;
	struct dma_buf *buf;
	int fd;
	struct devmem_ibv_mr *mr;
};

static void vram_side_new(struct vram_side *v, struct rdma_end *e, size_t pages, uint64_t bandwidth,
			  unsigned int flags)
{
	struct vram_opts opts = { .sz = sizeof(opts), .copy_bandwidth = bandwidth };

	cr_assert_eq(devmem_vram_create("vram0", pages * PAGE_SIZE, &opts, &v->vram), 0);
	cr_assert_eq(devmem_vram_buffer_create(v->vram, pages * PAGE_SIZE, &v->buf), 0);
	v->fd = dma_buf_fd(v->buf, O_CLOEXEC);
	v->mr = devmem_ibv_reg_dmabuf_mr_ex(e->pd, 0, pages * PAGE_SIZE, 0, v->fd, ALL_ACCESS,
					    flags);
	cr_assert_not_null(v->mr, "%s", strerror(errno));
}

static void vram_side_put(struct vram_side *v)
{
	devmem_ibv_dereg_mr(v->mr);
	close(v->fd);
	dma_buf_put(v->buf);
	devmem_vram_destroy(v->vram);
}

/*
 * Each eviction zaps the MR's table; the next write faults it back in and
 * lands; the device never used a stale address.
 */
Test(rdma_dynamic, write_after_move_takes_fault_path_and_lands)
{
	struct rdma_end a = { 0 }, b = { 0 };
	struct dmabuf_side sa;
	struct vram_side v;
	struct devmem_ibv_mr_stats st;
	struct devmem_ibv_wc wc;
	int i;

	cr_assert_eq(rdma_pair_open(&a, &b, 16, ALL_ACCESS), 0);
	side_reg(&sa, &a, 4, 0, 4 * PAGE_SIZE, 0);
	vram_side_new(&v, &b, 4, 0, 0);
	for (i = 0; i < 5; i++) {
		buf_fill(sa.buf, 0, 4 * PAGE_SIZE, i);
		cr_assert_geq(devmem_vram_evict(v.vram, 4 * PAGE_SIZE), 4 * PAGE_SIZE);
		cr_assert_eq(rdma_post(a.qp, DEVMEM_IBV_WR_RDMA_WRITE, i, 0, 4 * PAGE_SIZE,
				       sa.mr->lkey, 0, v.mr->rkey),
			     0);
		cr_assert_eq(rdma_poll_one(a.cq, &wc), 1);
		cr_assert_eq(wc.status, DEVMEM_IBV_WC_SUCCESS, "%s",
			     devmem_ibv_wc_status_str(wc.status));
		cr_assert(buf_check(v.buf, 0, 4 * PAGE_SIZE, i), "iteration %d", i);
	}
	cr_assert_eq(devmem_ibv_mr_get_stats(v.mr, &st), 0);
	cr_assert_eq(st.invalidations, 5);
	cr_assert_geq(st.faults, 5);
	cr_assert_eq(st.remaps, 5);
	cr_assert_eq(device_fault_count(devmem_ibv_context_device(b.ctx)), 0,
		     "no stale device access");
	side_put(&sa);
	vram_side_put(&v);
	rdma_end_close(&a);
	rdma_end_close(&b);
}

static void *evict_thread(void *arg)
{
	struct vram_side *v = arg;

	devmem_vram_evict(v->vram, v->buf->size);
	return NULL;
}

/*
 * A slow copy engine: the move's fence is pending when the write arrives;
 * the fault path waits for it, so the data the move copies does not
 * overwrite the write, and what was there before the move survives.
 */
Test(rdma_dynamic, refault_waits_for_the_move_fence)
{
	struct rdma_end a = { 0 }, b = { 0 };
	struct devmem_ibv_mr_stats st = { 0 };
	struct dmabuf_side sa;
	struct vram_side v;
	struct devmem_ibv_wc wc;
	pthread_t t;

	cr_assert_eq(rdma_pair_open(&a, &b, 16, ALL_ACCESS), 0);
	side_reg(&sa, &a, 1, 0, PAGE_SIZE, 0);
	/* two pages at 32 KiB/s: the move takes about 250 ms */
	vram_side_new(&v, &b, 2, 32 * 1024, 0);
	buf_fill(v.buf, 0, 2 * PAGE_SIZE, 1);
	buf_fill(sa.buf, 0, 100, 2);
	cr_assert_eq(pthread_create(&t, NULL, evict_thread, &v), 0);
	while (!st.invalidations)
		devmem_ibv_mr_get_stats(v.mr, &st);
	/* the copy's fence goes into the resv right after the notification */
	for (int i = 0; i < 1000 && dma_resv_test_signaled(v.buf->resv, DMA_RESV_USAGE_KERNEL); i++)
		usleep(100);
	cr_assert_not(dma_resv_test_signaled(v.buf->resv, DMA_RESV_USAGE_KERNEL),
		      "the move is in flight");
	cr_assert_eq(
		rdma_post(a.qp, DEVMEM_IBV_WR_RDMA_WRITE, 1, 0, 100, sa.mr->lkey, 50, v.mr->rkey),
		0);
	cr_assert_eq(rdma_poll_one(a.cq, &wc), 1);
	cr_assert_eq(wc.status, DEVMEM_IBV_WC_SUCCESS);
	cr_assert(dma_resv_test_signaled(v.buf->resv, DMA_RESV_USAGE_KERNEL),
		  "the write completed after the move");
	pthread_join(t, NULL);
	cr_assert(buf_check(v.buf, 50, 100, 2), "the write is not lost under the copy");
	cr_assert(buf_check(v.buf, 0, 50, 1), "the moved contents survive");
	cr_assert_eq(device_fault_count(devmem_ibv_context_device(b.ctx)), 0);
	side_put(&sa);
	vram_side_put(&v);
	rdma_end_close(&a);
	rdma_end_close(&b);
}

Test(rdma_dynamic, pinned_vram_mr_never_moves)
{
	struct rdma_end a = { 0 }, b = { 0 };
	struct dmabuf_side sa;
	struct vram_side v;
	struct devmem_ibv_mr_stats st;
	struct devmem_ibv_wc wc;

	cr_assert_eq(rdma_pair_open(&a, &b, 16, ALL_ACCESS), 0);
	side_reg(&sa, &a, 2, 0, 2 * PAGE_SIZE, 0);
	vram_side_new(&v, &b, 2, 0, DEVMEM_IBV_REG_DMABUF_PINNED);
	devmem_vram_evict(v.vram, 2 * PAGE_SIZE);
	devmem_vram_flush(v.vram);
	cr_assert_eq(devmem_vram_buffer_placement(v.buf), VRAM_PLACEMENT_VRAM);
	buf_fill(sa.buf, 0, 2 * PAGE_SIZE, 9);
	cr_assert_eq(rdma_post(a.qp, DEVMEM_IBV_WR_RDMA_WRITE, 1, 0, 2 * PAGE_SIZE, sa.mr->lkey, 0,
			       v.mr->rkey),
		     0);
	cr_assert_eq(rdma_poll_one(a.cq, &wc), 1);
	cr_assert_eq(wc.status, DEVMEM_IBV_WC_SUCCESS);
	cr_assert(buf_check(v.buf, 0, 2 * PAGE_SIZE, 9));
	cr_assert_eq(devmem_ibv_mr_get_stats(v.mr, &st), 0);
	cr_assert_eq(st.invalidations + st.faults + st.unexpected_moves, 0);
	side_put(&sa);
	vram_side_put(&v);
	rdma_end_close(&a);
	rdma_end_close(&b);
}

Test(rdma_dynamic, read_from_evicted_mr_gets_the_moved_data)
{
	struct rdma_end a = { 0 }, b = { 0 };
	struct dmabuf_side sa;
	struct vram_side v;
	struct devmem_ibv_wc wc;

	cr_assert_eq(rdma_pair_open(&a, &b, 16, ALL_ACCESS), 0);
	side_reg(&sa, &a, 2, 0, 2 * PAGE_SIZE, 0);
	vram_side_new(&v, &b, 2, 64 * 1024, 0);
	buf_fill(v.buf, 0, 2 * PAGE_SIZE, 4);
	devmem_vram_evict(v.vram, 2 * PAGE_SIZE);
	cr_assert_eq(rdma_post(a.qp, DEVMEM_IBV_WR_RDMA_READ, 1, 0, 2 * PAGE_SIZE, sa.mr->lkey, 0,
			       v.mr->rkey),
		     0);
	cr_assert_eq(rdma_poll_one(a.cq, &wc), 1);
	cr_assert_eq(wc.status, DEVMEM_IBV_WC_SUCCESS);
	cr_assert(buf_check(sa.buf, 0, 2 * PAGE_SIZE, 4));
	cr_assert_eq(device_fault_count(devmem_ibv_context_device(b.ctx)), 0);
	side_put(&sa);
	vram_side_put(&v);
	rdma_end_close(&a);
	rdma_end_close(&b);
}

struct slow_access {
	int in_access; /* atomic */
	int notified; /* atomic: move_notify has returned */
	bool overlapped; /* the notification returned while the access was running */
};

static ssize_t slow_fn(void *cpu, size_t len, void *arg)
{
	struct slow_access *s = arg;

	__atomic_store_n(&s->in_access, 1, __ATOMIC_RELEASE);
	usleep(100 * 1000);
	if (__atomic_load_n(&s->notified, __ATOMIC_ACQUIRE))
		s->overlapped = true;
	memset(cpu, 0x5a, len);
	return len;
}

static void *slow_access_thread(void *arg)
{
	struct vram_side *v = ((void **)arg)[0];
	struct slow_access *s = ((void **)arg)[1];

	swrdma_mr_io(to_smr(v->mr), 0, 64, DMA_FROM_DEVICE, slow_fn, s);
	return NULL;
}

/* mlx5's invalidate callback returns only once the device has stopped using the pages. */
Test(rdma_dynamic, move_notify_waits_for_device_access_in_flight)
{
	struct rdma_end b = { 0 };
	struct slow_access s = { 0 };
	struct devmem_ibv_mr_stats st;
	struct vram_side v;
	void *args[2] = { &v, &s };
	pthread_t t;

	cr_assert_eq(rdma_end_open(&b, 4, 16), 0);
	vram_side_new(&v, &b, 1, 0, 0);
	cr_assert_eq(pthread_create(&t, NULL, slow_access_thread, args), 0);
	while (!__atomic_load_n(&s.in_access, __ATOMIC_ACQUIRE))
		usleep(1000);
	dma_resv_lock(v.buf->resv, NULL);
	dma_buf_move_notify(v.buf);
	__atomic_store_n(&s.notified, 1, __ATOMIC_RELEASE);
	dma_resv_unlock(v.buf->resv);
	pthread_join(t, NULL);
	cr_assert_not(s.overlapped, "move_notify returned while the device was writing");
	cr_assert_eq(devmem_ibv_mr_get_stats(v.mr, &st), 0);
	cr_assert_eq(st.invalidations, 1);
	vram_side_put(&v);
	rdma_end_close(&b);
}

Test(rdma_traffic, send_gathers_and_receive_scatters_several_sges)
{
	struct rdma_end a = { 0 }, b = { 0 };
	struct dmabuf_side sa, sb;
	struct devmem_ibv_sge ssge[2], rsge[3];
	struct devmem_ibv_send_wr wr, *bad;
	struct devmem_ibv_recv_wr rwr, *rbad;
	unsigned char *p;
	int i;

	cr_assert_eq(rdma_pair_open(&a, &b, 16, ALL_ACCESS), 0);
	side_reg(&sa, &a, 2, 0, 2 * PAGE_SIZE, 0);
	side_reg(&sb, &b, 2, 0, 2 * PAGE_SIZE, 0);
	buf_fill(sa.buf, 0, 2 * PAGE_SIZE, 6);
	/* gather [100, 400) and [1000, 1100); scatter into 50 + 150 + 300 bytes */
	ssge[0] = (struct devmem_ibv_sge){ 100, 300, sa.mr->lkey };
	ssge[1] = (struct devmem_ibv_sge){ 1000, 100, sa.mr->lkey };
	rsge[0] = (struct devmem_ibv_sge){ 0, 50, sb.mr->lkey };
	rsge[1] = (struct devmem_ibv_sge){ 2000, 150, sb.mr->lkey };
	rsge[2] = (struct devmem_ibv_sge){ 4096, 300, sb.mr->lkey };
	rwr = (struct devmem_ibv_recv_wr){ .wr_id = 9, .sg_list = rsge, .num_sge = 3 };
	cr_assert_eq(devmem_ibv_post_recv(b.qp, &rwr, &rbad), 0);
	wr = (struct devmem_ibv_send_wr){ .wr_id = 1,
					  .sg_list = ssge,
					  .num_sge = 2,
					  .opcode = DEVMEM_IBV_WR_SEND,
					  .send_flags = DEVMEM_IBV_SEND_SIGNALED };
	cr_assert_eq(devmem_ibv_post_send(a.qp, &wr, &bad), 0);
	expect_status(b.cq, 9, DEVMEM_IBV_WC_SUCCESS);
	expect_status(a.cq, 1, DEVMEM_IBV_WC_SUCCESS);
	cr_assert_eq(dma_buf_vmap_unlocked(sb.buf, (void **)&p), 0);
	{
		unsigned char *q;
		unsigned char want[400], got[400];

		cr_assert_eq(dma_buf_vmap_unlocked(sa.buf, (void **)&q), 0);
		memcpy(want, q + 100, 300);
		memcpy(want + 300, q + 1000, 100);
		dma_buf_vunmap_unlocked(sa.buf, q);
		memcpy(got, p, 50);
		memcpy(got + 50, p + 2000, 150);
		memcpy(got + 200, p + 4096, 200);
		for (i = 0; i < 400; i++)
			cr_assert_eq(got[i], want[i], "byte %d", i);
	}
	dma_buf_vunmap_unlocked(sb.buf, p);
	side_put(&sa);
	side_put(&sb);
	rdma_end_close(&a);
	rdma_end_close(&b);
}

/* The peer is gone before it answered: the request exhausted its retries. */
Test(rdma_status, peer_gone_is_retry_exceeded_then_flush)
{
	struct rdma_end a = { 0 }, b = { 0 };
	struct dmabuf_side sa;

	cr_assert_eq(rdma_pair_open(&a, &b, 16, ALL_ACCESS), 0);
	side_reg(&sa, &a, 1, 0, PAGE_SIZE, 0);
	/* b has no receive posted: the SEND waits there unanswered */
	cr_assert_eq(rdma_post(a.qp, DEVMEM_IBV_WR_SEND, 1, 0, 64, sa.mr->lkey, 0, 0), 0);
	cr_assert_eq(rdma_post(a.qp, DEVMEM_IBV_WR_SEND, 2, 0, 64, sa.mr->lkey, 0, 0), 0);
	usleep(50 * 1000);
	rdma_end_close(&b);
	expect_status(a.cq, 1, DEVMEM_IBV_WC_RETRY_EXC_ERR);
	expect_status(a.cq, 2, DEVMEM_IBV_WC_WR_FLUSH_ERR);
	side_put(&sa);
	rdma_end_close(&a);
}

Test(rdma_qp, post_recv_in_reset_is_einval_and_reset_discards_queues)
{
	struct rdma_end e = { 0 };
	struct devmem_ibv_qp_attr a = { .qp_state = DEVMEM_IBV_QPS_RESET };
	struct devmem_ibv_wc wc;
	void *mem = aligned_alloc(PAGE_SIZE, PAGE_SIZE);
	struct devmem_ibv_mr *mr;

	cr_assert_eq(rdma_end_open(&e, 4, 16), 0);
	mr = devmem_ibv_reg_mr(e.pd, mem, PAGE_SIZE, ALL_ACCESS);
	cr_assert_eq(rdma_post_recv(e.qp, 1, (uintptr_t)mem, 64, mr->lkey), EINVAL);
	cr_assert_eq(rdma_end_init(&e, ALL_ACCESS), 0);
	cr_assert_eq(rdma_post_recv(e.qp, 2, (uintptr_t)mem, 64, mr->lkey), 0);
	cr_assert_eq(devmem_ibv_modify_qp(e.qp, &a, DEVMEM_IBV_QP_STATE), 0);
	cr_assert_eq(devmem_ibv_poll_cq(e.cq, 1, &wc), 0, "RESET completes nothing");
	cr_assert_eq(devmem_ibv_close_device(e.ctx), EBUSY, "the context still has objects");
	devmem_ibv_dereg_mr(mr);
	free(mem);
	rdma_end_close(&e);
}
