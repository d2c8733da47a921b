/* SPDX-License-Identifier: MIT */
/*
 * Two ends of an RC connection for the RDMA tests: each end a context (its
 * own RDMA device), a PD, a CQ and a QP, joined by a TCP connection over
 * loopback and brought to RTS the way an rdma-core program does.
 */
#ifndef DEVMEM_TESTS_RDMA_PAIR_H
#define DEVMEM_TESTS_RDMA_PAIR_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "devmem/rdma.h"

struct rdma_end {
	struct devmem_ibv_context *ctx;
	struct devmem_ibv_pd *pd;
	struct devmem_ibv_cq *cq;
	struct devmem_ibv_qp *qp;
};

/* A connected TCP pair over 127.0.0.1: 0, or -errno. */
static inline int rdma_tcp_pair(int fds[2])
{
	struct sockaddr_in addr = { .sin_family = AF_INET,
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(addr);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), err = 0;

	if (lfd < 0)
		return -errno;
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&addr, &len)) {
		err = -errno;
		goto out;
	}
	fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fds[0] < 0 || connect(fds[0], (struct sockaddr *)&addr, sizeof(addr))) {
		err = -errno;
		goto out;
	}
	fds[1] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fds[1] < 0) {
		err = -errno;
		close(fds[0]);
	}
out:
	close(lfd);
	return err;
}

/* Open the device and make a PD, a CQ of @cqe and an RC QP of @depth work requests. */
static inline int rdma_end_open(struct rdma_end *e, int depth, int cqe)
{
	struct devmem_ibv_device **list = devmem_ibv_get_device_list(NULL);
	struct devmem_ibv_qp_init_attr attr = {
		.qp_type = DEVMEM_IBV_QPT_RC,
		.cap = { .max_send_wr = depth,
			 .max_recv_wr = depth,
			 .max_send_sge = 4,
			 .max_recv_sge = 4 },
	};

	if (!list)
		return -errno;
	e->ctx = devmem_ibv_open_device(list[0]);
	devmem_ibv_free_device_list(list);
	if (!e->ctx)
		return -errno;
	e->pd = devmem_ibv_alloc_pd(e->ctx);
	e->cq = e->pd ? devmem_ibv_create_cq(e->ctx, cqe, NULL, NULL, 0) : NULL;
	attr.send_cq = attr.recv_cq = e->cq;
	e->qp = e->cq ? devmem_ibv_create_qp(e->pd, &attr) : NULL;
	return e->qp ? 0 : -errno;
}

static inline int rdma_end_init(struct rdma_end *e, int access)
{
	struct devmem_ibv_qp_attr a = { .qp_state = DEVMEM_IBV_QPS_INIT,
					.port_num = 1,
					.qp_access_flags = access };

	return devmem_ibv_modify_qp(e->qp, &a,
				    DEVMEM_IBV_QP_STATE | DEVMEM_IBV_QP_PKEY_INDEX |
					    DEVMEM_IBV_QP_PORT | DEVMEM_IBV_QP_ACCESS_FLAGS);
}

static inline int rdma_end_rtr_rts(struct rdma_end *e, uint32_t dest_qpn)
{
	struct devmem_ibv_qp_attr a = { .qp_state = DEVMEM_IBV_QPS_RTR,
					.path_mtu = DEVMEM_IBV_MTU_4096,
					.dest_qp_num = dest_qpn,
					.max_dest_rd_atomic = 16,
					.min_rnr_timer = 12,
					.ah_attr = { .port_num = 1 } };
	int err = devmem_ibv_modify_qp(
		e->qp, &a,
		DEVMEM_IBV_QP_STATE | DEVMEM_IBV_QP_AV | DEVMEM_IBV_QP_PATH_MTU |
			DEVMEM_IBV_QP_DEST_QPN | DEVMEM_IBV_QP_RQ_PSN |
			DEVMEM_IBV_QP_MAX_DEST_RD_ATOMIC | DEVMEM_IBV_QP_MIN_RNR_TIMER);

	if (err)
		return err;
	a = (struct devmem_ibv_qp_attr){ .qp_state = DEVMEM_IBV_QPS_RTS,
					 .timeout = 14,
					 .retry_cnt = 7,
					 .rnr_retry = 7,
					 .max_rd_atomic = 16 };
	return devmem_ibv_modify_qp(e->qp, &a,
				    DEVMEM_IBV_QP_STATE | DEVMEM_IBV_QP_SQ_PSN |
					    DEVMEM_IBV_QP_TIMEOUT | DEVMEM_IBV_QP_RETRY_CNT |
					    DEVMEM_IBV_QP_RNR_RETRY |
					    DEVMEM_IBV_QP_MAX_QP_RD_ATOMIC);
}

/* Bring an end whose wire is @fd to RTS, its peer's QP number being @dest_qpn. */
static inline int rdma_end_connect(struct rdma_end *e, int fd, uint32_t dest_qpn, int access)
{
	int err = rdma_end_init(e, access);

	if (!err)
		err = devmem_ibv_qp_set_wire(e->qp, fd);
	if (!err)
		err = rdma_end_rtr_rts(e, dest_qpn);
	return err;
}

/* Two ends in this process, connected: 0 or a non-zero error. */
static inline int rdma_pair_open(struct rdma_end *a, struct rdma_end *b, int depth, int access)
{
	int fds[2] = { -1, -1 }, err;

	err = rdma_end_open(a, depth, 4 * depth);
	if (!err)
		err = rdma_end_open(b, depth, 4 * depth);
	if (!err)
		err = rdma_tcp_pair(fds);
	if (err)
		return err;
	err = rdma_end_connect(a, fds[0], b->qp->qp_num, access);
	if (!err)
		err = rdma_end_connect(b, fds[1], a->qp->qp_num, access);
	close(fds[0]);
	close(fds[1]);
	return err;
}

static inline void rdma_end_close(struct rdma_end *e)
{
	if (e->qp)
		devmem_ibv_destroy_qp(e->qp);
	if (e->cq)
		devmem_ibv_destroy_cq(e->cq);
	if (e->pd)
		devmem_ibv_dealloc_pd(e->pd);
	if (e->ctx)
		devmem_ibv_close_device(e->ctx);
	*e = (struct rdma_end){ 0 };
}

/* Poll @cq for one completion, for at most 10 s: 1, or 0 on timeout. */
static inline int rdma_poll_one(struct devmem_ibv_cq *cq, struct devmem_ibv_wc *wc)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		int n = devmem_ibv_poll_cq(cq, 1, wc);

		if (n)
			return n;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > 10)
			return 0;
		sched_yield();
	}
}

/* Post one work request of @opcode, signalled. */
static inline int rdma_post(struct devmem_ibv_qp *qp, enum devmem_ibv_wr_opcode opcode,
			    uint64_t wr_id, uint64_t addr, uint32_t len, uint32_t lkey,
			    uint64_t raddr, uint32_t rkey)
{
	struct devmem_ibv_sge sge = { addr, len, lkey };
	struct devmem_ibv_send_wr wr = { .wr_id = wr_id,
					 .sg_list = &sge,
					 .num_sge = 1,
					 .opcode = opcode,
					 .send_flags = DEVMEM_IBV_SEND_SIGNALED,
					 .wr.rdma = { raddr, rkey } },
				  *bad;

	return devmem_ibv_post_send(qp, &wr, &bad);
}

static inline int rdma_post_recv(struct devmem_ibv_qp *qp, uint64_t wr_id, uint64_t addr,
				 uint32_t len, uint32_t lkey)
{
	struct devmem_ibv_sge sge = { addr, len, lkey };
	struct devmem_ibv_recv_wr wr = { .wr_id = wr_id, .sg_list = &sge, .num_sge = 1 }, *bad;

	return devmem_ibv_post_recv(qp, &wr, &bad);
}

#endif
