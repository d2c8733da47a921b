// SPDX-License-Identifier: MIT
/*
 * Reliable-connected queue pairs of the software RDMA device.
 *
 * The wire is a TCP connection (as soft-iWARP's); the framing is this
 * library's own, described in include/devmem/rdma.h. Each QP has a progress
 * thread, the only one that touches its socket: it sends requests from the
 * send queue and responses to the peer's requests, and receives the peer's
 * requests and responses, without ever blocking on one direction while the
 * other could move. Payloads go straight between the socket and the memory
 * regions, through the device's translation of their device addresses
 * (swrdma_mr_io()), one piece per translation entry.
 *
 * The requester numbers its requests by their position in the send queue
 * (the PSN); the responder answers each request, in order, with an ACK, a
 * NAK (an error status) or a READ_RESP. Work requests complete in order.
 *
 * Threads: posting (post_send/post_recv) takes the QP's post lock and
 * publishes the queue's tail; the progress thread consumes up to the tail
 * and publishes the head; it sleeps in poll() only after announcing it
 * (@sleeping), so a post that sees it asleep wakes it through the eventfd.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lib/debug.h"
#include "lib/error.h"
#include "rdma/ibvpass.h"
#include "rdma/rdma.h"

enum swrdma_opcode {
	SWRDMA_OP_SEND = 1,
	SWRDMA_OP_SEND_IMM,
	SWRDMA_OP_WRITE,
	SWRDMA_OP_WRITE_IMM,
	SWRDMA_OP_READ_REQ,
	SWRDMA_OP_READ_RESP,
	SWRDMA_OP_ACK, /* status 0: ACK; otherwise a NAK with the requester's status */
};

struct swrdma_hdr {
	uint8_t opcode;
	uint8_t status;
	uint16_t rsvd;
	uint32_t imm;
	uint32_t rkey;
	uint32_t psn;
	uint64_t raddr;
	uint64_t len;
};
_Static_assert(sizeof(struct swrdma_hdr) == 32, "the wire header is 32 bytes");

#define SWRDMA_RESP_RING 1024 /* responses waiting to be sent; the receiver stalls when full */
#define SWRDMA_SCRATCH (64 * 1024) /* where a refused payload is read to be dropped */

enum swrdma_wqe_state { WQE_POSTED, WQE_SENT, WQE_DONE, WQE_ERROR };

struct swrdma_swqe {
	uint64_t wr_id;
	enum devmem_ibv_wr_opcode opcode;
	unsigned int send_flags;
	uint32_t imm;
	uint32_t rkey;
	uint64_t raddr;
	uint64_t len;
	int num_sge;
	int state; /* progress thread only */
	enum devmem_ibv_wc_status status;
	struct devmem_ibv_sge sge[SWRDMA_MAX_SGE];
};

struct swrdma_rwqe {
	uint64_t wr_id;
	int num_sge;
	struct devmem_ibv_sge sge[SWRDMA_MAX_SGE];
};

/* A walk over the local pieces of a transfer, with the MRs held. */
struct swrdma_cursor {
	struct devmem_ibv_sge sge[SWRDMA_MAX_SGE];
	struct swrdma_mr *mr[SWRDMA_MAX_SGE];
	int num, idx;
	uint64_t off; /* into sge[idx] */
};

struct swrdma_resp {
	uint8_t opcode;
	uint8_t status;
	bool error_after; /* a NAK: the responder goes to ERR once it is sent */
	uint32_t psn;
	struct swrdma_mr *mr; /* READ_RESP: held */
	uint64_t raddr, len;
};

enum swrdma_rx_stage { RX_HDR, RX_DISPATCH, RX_PAYLOAD };

struct swrdma_qp {
	struct devmem_ibv_qp ibv;
	struct swrdma_context *ctx;
	struct swrdma_pd *pd;
	struct swrdma_cq *scq, *rcq;
	int state; /* atomic; changed under @lock (and by the progress thread to ERR) */
	pthread_mutex_t lock; /* modify, post */
	int sq_sig_all;
	unsigned int access; /* qp_access_flags */
	struct devmem_ibv_qp_cap cap;
	uint32_t dest_qp_num;

	struct swrdma_swqe *sq;
	uint32_t sq_mask;
	uint32_t sq_tail; /* atomic: posters (under @lock) */
	uint32_t sq_send; /* progress thread: next to transmit */
	uint32_t sq_head; /* atomic: progress thread: oldest not completed */
	bool sq_stopped; /* progress thread: a local error stops transmission */

	struct swrdma_rwqe *rq;
	uint32_t rq_mask;
	uint32_t rq_tail; /* atomic: posters */
	uint32_t rq_head; /* atomic: progress thread */

	int sock; /* the wire; -1 until set */
	int evfd;
	pthread_t thread;
	bool thread_running; /* under @lock */
	int stop; /* atomic */
	int sleeping; /* atomic */

	/* progress thread only, from here on */
	struct {
		struct swrdma_hdr hdr;
		size_t got;
		struct swrdma_hdr ahead; /* the next header's first bytes, read with a payload */
		size_t ahead_got;
		enum swrdma_rx_stage stage;
		uint64_t remaining;
		bool discard;
		struct swrdma_cursor cur;
		bool has_rwqe;
		struct swrdma_rwqe rwqe;
		enum devmem_ibv_wc_status recv_status, nak_status;
		bool responder; /* else a READ_RESP for our own request */
	} rx;
	struct {
		struct swrdma_hdr hdr;
		size_t sent;
		bool busy;
		uint64_t remaining;
		struct swrdma_cursor cur;
		bool is_resp, error_after;
		struct swrdma_swqe *wqe;
		uint8_t held; /* SWRDMA_TSAN: the last byte of a response */
		bool held_valid;
	} tx;
	struct swrdma_resp *resp;
	uint32_t resp_head, resp_tail;
	void *scratch;
};

static inline struct swrdma_qp *to_sqp(struct devmem_ibv_qp *ibqp)
{
	return container_of(ibqp, struct swrdma_qp, ibv);
}

static int qp_state(struct swrdma_qp *qp)
{
	return __atomic_load_n(&qp->state, __ATOMIC_ACQUIRE);
}

static void qp_set_state(struct swrdma_qp *qp, int state)
{
	__atomic_store_n(&qp->state, state, __ATOMIC_SEQ_CST);
	WRITE_ONCE(qp->ibv.state, state);
}

/* completions */

/* A full CQ holds the queue pair back until the user polls (or destroys the QP). */
static void qp_push_cqe(struct swrdma_qp *qp, struct swrdma_cq *cq, const struct devmem_ibv_wc *wc)
{
	while (!swrdma_cq_push(cq, wc) && !__atomic_load_n(&qp->stop, __ATOMIC_ACQUIRE))
		sched_yield();
}

static enum devmem_ibv_wc_opcode wc_opcode(enum devmem_ibv_wr_opcode op)
{
	switch (op) {
	case DEVMEM_IBV_WR_RDMA_WRITE:
	case DEVMEM_IBV_WR_RDMA_WRITE_WITH_IMM:
		return DEVMEM_IBV_WC_RDMA_WRITE;
	case DEVMEM_IBV_WR_RDMA_READ:
		return DEVMEM_IBV_WC_RDMA_READ;
	default:
		return DEVMEM_IBV_WC_SEND;
	}
}

/*
 * Retire the oldest send work request, with a completion if @cqe. The slot
 * goes back to the posters before the completion is seen: a user who polls
 * a completion can always post one more.
 */
static void qp_sq_retire(struct swrdma_qp *qp, enum devmem_ibv_wc_status status, bool cqe)
{
	struct swrdma_swqe *w = &qp->sq[qp->sq_head & qp->sq_mask];
	struct devmem_ibv_wc wc = {
		.wr_id = w->wr_id,
		.status = status,
		.opcode = wc_opcode(w->opcode),
		.byte_len = w->opcode == DEVMEM_IBV_WR_RDMA_READ ? (uint32_t)w->len : 0,
		.qp_num = qp->ibv.qp_num,
	};

	__atomic_store_n(&qp->sq_head, qp->sq_head + 1, __ATOMIC_RELEASE);
	if (cqe)
		qp_push_cqe(qp, qp->scq, &wc);
}

static void qp_recv_cqe(struct swrdma_qp *qp, uint64_t wr_id, enum devmem_ibv_wc_status status,
			enum devmem_ibv_wc_opcode opcode, uint32_t byte_len, bool imm,
			uint32_t imm_data)
{
	struct devmem_ibv_wc wc = {
		.wr_id = wr_id,
		.status = status,
		.opcode = opcode,
		.byte_len = byte_len,
		.imm_data = imm_data,
		.wc_flags = imm ? DEVMEM_IBV_WC_WITH_IMM : 0,
		.qp_num = qp->ibv.qp_num,
		.src_qp = qp->dest_qp_num,
	};

	qp_push_cqe(qp, qp->rcq, &wc);
}

/* Every work request still queued completes with WR_FLUSH_ERR (signalled or not). */
static bool qp_flush(struct swrdma_qp *qp)
{
	uint32_t tail = __atomic_load_n(&qp->sq_tail, __ATOMIC_ACQUIRE);
	uint32_t rtail = __atomic_load_n(&qp->rq_tail, __ATOMIC_ACQUIRE);
	bool progress = false;

	while (qp->sq_head != tail) {
		qp_sq_retire(qp, DEVMEM_IBV_WC_WR_FLUSH_ERR, true);
		progress = true;
	}
	qp->sq_send = qp->sq_head;
	while (qp->rq_head != rtail) {
		qp_recv_cqe(qp, qp->rq[qp->rq_head & qp->rq_mask].wr_id, DEVMEM_IBV_WC_WR_FLUSH_ERR,
			    DEVMEM_IBV_WC_RECV, 0, false, 0);
		__atomic_store_n(&qp->rq_head, qp->rq_head + 1, __ATOMIC_RELEASE);
		progress = true;
	}
	return progress;
}

/* cursors */

static void cursor_release(struct swrdma_cursor *cur)
{
	int i;

	for (i = 0; i < cur->num; i++)
		if (cur->mr[i])
			swrdma_mr_put(cur->mr[i]);
	cur->num = 0;
}

/*
 * Take the MRs of @num sges (lkeys), each range inside its MR of @pd, with
 * LOCAL_WRITE when the device will write them: 0, or LOC_PROT_ERR with
 * nothing held.
 */
static enum devmem_ibv_wc_status cursor_hold(struct swrdma_qp *qp, struct swrdma_cursor *cur,
					     const struct devmem_ibv_sge *sge, int num, bool write)
{
	int i;

	cur->num = 0;
	cur->idx = 0;
	cur->off = 0;
	for (i = 0; i < num; i++) {
		struct swrdma_mr *mr = NULL;

		cur->sge[i] = sge[i];
		if (sge[i].length) {
			mr = swrdma_mr_lookup(qp->ctx, sge[i].lkey);
			if (!mr || mr->ibv.pd != &qp->pd->ibv ||
			    !swrdma_mr_covers(mr, sge[i].addr, sge[i].length) ||
			    (write && !(mr->access & DEVMEM_IBV_ACCESS_LOCAL_WRITE))) {
				if (mr)
					swrdma_mr_put(mr);
				cursor_release(cur);
				return DEVMEM_IBV_WC_LOC_PROT_ERR;
			}
		}
		cur->mr[i] = mr;
		cur->num = i + 1;
	}
	return DEVMEM_IBV_WC_SUCCESS;
}

static uint64_t sge_total(const struct devmem_ibv_sge *sge, int num)
{
	uint64_t len = 0;
	int i;

	for (i = 0; i < num; i++)
		len += sge[i].length;
	return len;
}

/* One piece of the transfer through the MR of the current sge. */
static ssize_t cursor_io(struct swrdma_cursor *cur, size_t max, enum dma_data_direction dir,
			 swrdma_io_fn fn, void *arg)
{
	struct devmem_ibv_sge *sge;
	ssize_t n;

	while (cur->idx < cur->num && cur->off == cur->sge[cur->idx].length) {
		cur->idx++;
		cur->off = 0;
	}
	if (cur->idx == cur->num)
		return -EOVERFLOW;
	sge = &cur->sge[cur->idx];
	n = swrdma_mr_io(cur->mr[cur->idx], sge->addr + cur->off,
			 min((uint64_t)max, sge->length - cur->off), dir, fn, arg);
	if (n > 0)
		cur->off += n;
	return n;
}

/* socket pieces */

struct sock_io {
	int fd;
	int flags;
};

static ssize_t sock_recv_fn(void *cpu, size_t len, void *arg)
{
	struct sock_io *io = arg;
	ssize_t n = recv(io->fd, cpu, len, MSG_DONTWAIT);

	if (n > 0)
		return n;
	if (n == 0)
		return -EPIPE;
	return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

static ssize_t sock_send_fn(void *cpu, size_t len, void *arg)
{
	struct sock_io *io = arg;
	ssize_t n = send(io->fd, cpu, len, MSG_DONTWAIT | MSG_NOSIGNAL | io->flags);

	if (n >= 0)
		return n;
	return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

/* The rest of a frame's header and a payload piece, sent together. */
struct sock_hdr_io {
	int fd;
	void *hdr;
	size_t hdr_len;
	size_t hdr_sent; /* out */
};

/* Returns the payload bytes sent (0 if only header bytes went), or -errno. */
static ssize_t sock_send_hdr_fn(void *cpu, size_t len, void *arg)
{
	struct sock_hdr_io *io = arg;
	struct iovec iov[2] = { { io->hdr, io->hdr_len }, { cpu, len } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t n = sendmsg(io->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	io->hdr_sent = min((size_t)n, io->hdr_len);
	return n - io->hdr_sent;
}

/* errors */

static void qp_release_held(struct swrdma_qp *qp)
{
	cursor_release(&qp->rx.cur);
	cursor_release(&qp->tx.cur);
	while (qp->resp_head != qp->resp_tail) {
		struct swrdma_resp *r = &qp->resp[qp->resp_head++ % SWRDMA_RESP_RING];

		if (r->mr)
			swrdma_mr_put(r->mr);
	}
	qp->rx.stage = RX_HDR;
	qp->rx.got = 0;
	qp->rx.ahead_got = 0;
	qp->tx.busy = false;
	qp->tx.held_valid = false;
}

/*
 * The QP goes to ERR: nothing more moves on the wire, and the peer learns
 * it from the end of the stream; queued work requests are flushed.
 */
static void qp_enter_error(struct swrdma_qp *qp)
{
	qp_set_state(qp, DEVMEM_IBV_QPS_ERR);
	qp_release_held(qp);
	shutdown(qp->sock, SHUT_WR);
	qp_flush(qp);
}

/* Complete the send queue in order, as far as it has completed. */
static void qp_sq_complete(struct swrdma_qp *qp)
{
	while (qp->sq_head != qp->sq_send) {
		struct swrdma_swqe *w = &qp->sq[qp->sq_head & qp->sq_mask];

		if (w->state == WQE_DONE) {
			qp_sq_retire(qp, DEVMEM_IBV_WC_SUCCESS,
				     qp->sq_sig_all || (w->send_flags & DEVMEM_IBV_SEND_SIGNALED));
		} else if (w->state == WQE_ERROR) {
			qp_sq_retire(qp, w->status, true);
			qp_enter_error(qp);
			return;
		} else {
			return;
		}
	}
}

/* The connection broke: the oldest request in flight exhausted its retries. */
static void qp_conn_lost(struct swrdma_qp *qp)
{
	if (qp->sq_head != qp->sq_send) {
		struct swrdma_swqe *w = &qp->sq[qp->sq_head & qp->sq_mask];

		if (w->state == WQE_SENT) {
			w->state = WQE_ERROR;
			w->status = DEVMEM_IBV_WC_RETRY_EXC_ERR;
		}
		qp_sq_complete(qp);
	}
	if (qp_state(qp) != DEVMEM_IBV_QPS_ERR)
		qp_enter_error(qp);
}

/* receive side */

static bool resp_ring_full(struct swrdma_qp *qp)
{
	return qp->resp_tail - qp->resp_head >= SWRDMA_RESP_RING;
}

static void resp_push(struct swrdma_qp *qp, const struct swrdma_resp *r)
{
	struct swrdma_resp *last = &qp->resp[(qp->resp_tail - 1) % SWRDMA_RESP_RING];

	/*
	 * An ACK acknowledges every request up to its PSN: one still waiting
	 * to be sent is brought forward instead of queueing another.
	 */
	if (r->opcode == SWRDMA_OP_ACK && !r->status && qp->resp_tail != qp->resp_head &&
	    last->opcode == SWRDMA_OP_ACK && !last->status) {
		last->psn = r->psn;
		return;
	}
	qp->resp[qp->resp_tail++ % SWRDMA_RESP_RING] = *r;
}

static bool rq_take(struct swrdma_qp *qp)
{
	if (qp->rq_head == __atomic_load_n(&qp->rq_tail, __ATOMIC_ACQUIRE))
		return false;
	/* a copy: the slot is the poster's again once the head moves */
	qp->rx.rwqe = qp->rq[qp->rq_head & qp->rq_mask];
	__atomic_store_n(&qp->rq_head, qp->rq_head + 1, __ATOMIC_RELEASE);
	qp->rx.has_rwqe = true;
	return true;
}

/* The remote range a WRITE or READ names, in an MR of our PD that allows @access. */
static struct swrdma_mr *rx_remote_mr(struct swrdma_qp *qp, const struct swrdma_hdr *h, int access)
{
	struct swrdma_mr *mr = swrdma_mr_lookup(qp->ctx, h->rkey);

	if (!mr)
		return NULL;
	if (mr->ibv.pd != &qp->pd->ibv || !(mr->access & access) || !(qp->access & access) ||
	    !swrdma_mr_covers(mr, h->raddr, h->len)) {
		swrdma_mr_put(mr);
		return NULL;
	}
	return mr;
}

/* Refuse the request: drop its payload, then NAK it and go to ERR. */
static void rx_refuse(struct swrdma_qp *qp, enum devmem_ibv_wc_status nak)
{
	cursor_release(&qp->rx.cur);
	qp->rx.discard = true;
	qp->rx.nak_status = nak;
}

enum { RX_OK, RX_STALL, RX_FATAL };

static int rx_dispatch(struct swrdma_qp *qp)
{
	struct swrdma_hdr *h = &qp->rx.hdr;
	struct swrdma_mr *mr;

	qp->rx.remaining = 0;
	qp->rx.discard = false;
	qp->rx.has_rwqe = false;
	qp->rx.recv_status = qp->rx.nak_status = DEVMEM_IBV_WC_SUCCESS;
	qp->rx.responder = true;
	qp->rx.cur.num = 0;
	if (h->len > SWRDMA_MAX_MSG_SZ)
		return RX_FATAL;

	switch (h->opcode) {
	case SWRDMA_OP_SEND:
	case SWRDMA_OP_SEND_IMM:
		if (resp_ring_full(qp) || !rq_take(qp))
			return RX_STALL;
		qp->rx.remaining = h->len;
		qp->rx.recv_status =
			cursor_hold(qp, &qp->rx.cur, qp->rx.rwqe.sge, qp->rx.rwqe.num_sge, true);
		if (qp->rx.recv_status) {
			rx_refuse(qp, DEVMEM_IBV_WC_REM_OP_ERR);
		} else if (sge_total(qp->rx.rwqe.sge, qp->rx.rwqe.num_sge) < h->len) {
			qp->rx.recv_status = DEVMEM_IBV_WC_LOC_LEN_ERR;
			rx_refuse(qp, DEVMEM_IBV_WC_REM_INV_REQ_ERR);
		}
		return RX_OK;
	case SWRDMA_OP_WRITE:
	case SWRDMA_OP_WRITE_IMM:
		if (resp_ring_full(qp))
			return RX_STALL;
		if (h->opcode == SWRDMA_OP_WRITE_IMM && !rq_take(qp))
			return RX_STALL;
		qp->rx.remaining = h->len;
		mr = h->len ? rx_remote_mr(qp, h, DEVMEM_IBV_ACCESS_REMOTE_WRITE) : NULL;
		if (h->len && !mr) {
			qp->rx.recv_status = DEVMEM_IBV_WC_WR_FLUSH_ERR;
			rx_refuse(qp, DEVMEM_IBV_WC_REM_ACCESS_ERR);
			return RX_OK;
		}
		qp->rx.cur = (struct swrdma_cursor){ .num = 1 };
		qp->rx.cur.sge[0] = (struct devmem_ibv_sge){ h->raddr, (uint32_t)h->len, h->rkey };
		qp->rx.cur.mr[0] = mr;
		if (!mr)
			qp->rx.cur.num = 0;
		return RX_OK;
	case SWRDMA_OP_READ_REQ:
		if (resp_ring_full(qp))
			return RX_STALL;
		mr = h->len ? rx_remote_mr(qp, h, DEVMEM_IBV_ACCESS_REMOTE_READ) : NULL;
		if (h->len && !mr)
			resp_push(qp, &(struct swrdma_resp){ .opcode = SWRDMA_OP_ACK,
							     .status = DEVMEM_IBV_WC_REM_ACCESS_ERR,
							     .error_after = true,
							     .psn = h->psn });
		else
			resp_push(qp, &(struct swrdma_resp){ .opcode = SWRDMA_OP_READ_RESP,
							     .psn = h->psn,
							     .mr = mr,
							     .raddr = h->raddr,
							     .len = h->len });
		return RX_OK;
	case SWRDMA_OP_ACK:
	case SWRDMA_OP_READ_RESP: {
		struct swrdma_swqe *w = &qp->sq[h->psn & qp->sq_mask];

		qp->rx.responder = false;
		if (h->psn - qp->sq_head >= qp->sq_send - qp->sq_head || w->state != WQE_SENT ||
		    (h->opcode == SWRDMA_OP_READ_RESP) !=
			    (w->opcode == DEVMEM_IBV_WR_RDMA_READ && !h->status) ||
		    (h->opcode == SWRDMA_OP_ACK && h->len))
			return RX_FATAL;
		if (h->opcode == SWRDMA_OP_ACK) {
			uint32_t psn;

			/* cumulative: the requests before it have all succeeded */
			for (psn = qp->sq_head; psn != h->psn; psn++) {
				struct swrdma_swqe *prev = &qp->sq[psn & qp->sq_mask];

				if (prev->state == WQE_SENT &&
				    prev->opcode != DEVMEM_IBV_WR_RDMA_READ)
					prev->state = WQE_DONE;
			}
			w->state = h->status ? WQE_ERROR : WQE_DONE;
			w->status = h->status;
			return RX_OK;
		}
		if (h->len != w->len)
			return RX_FATAL;
		qp->rx.remaining = h->len;
		w->status = cursor_hold(qp, &qp->rx.cur, w->sge, w->num_sge, true);
		if (w->status)
			qp->rx.discard = true;
		return RX_OK;
	}
	default:
		return RX_FATAL;
	}
}

/* The request or response has arrived whole. */
static void rx_finish(struct swrdma_qp *qp)
{
	struct swrdma_hdr *h = &qp->rx.hdr;

	cursor_release(&qp->rx.cur);
	if (!qp->rx.responder) {
		struct swrdma_swqe *w = &qp->sq[h->psn & qp->sq_mask];

		if (h->opcode == SWRDMA_OP_READ_RESP)
			w->state = w->status ? WQE_ERROR : WQE_DONE;
		qp_sq_complete(qp);
		return;
	}
	if (h->opcode == SWRDMA_OP_READ_REQ)
		return;
	if (qp->rx.has_rwqe) {
		bool imm = h->opcode == SWRDMA_OP_SEND_IMM || h->opcode == SWRDMA_OP_WRITE_IMM;

		qp_recv_cqe(qp, qp->rx.rwqe.wr_id, qp->rx.recv_status,
			    h->opcode == SWRDMA_OP_WRITE_IMM ? DEVMEM_IBV_WC_RECV_RDMA_WITH_IMM :
							       DEVMEM_IBV_WC_RECV,
			    (uint32_t)h->len, imm, h->imm);
	}
	resp_push(qp, &(struct swrdma_resp){ .opcode = SWRDMA_OP_ACK,
					     .status = qp->rx.nak_status,
					     .error_after = qp->rx.nak_status != 0,
					     .psn = h->psn });
}

/* The last piece of a payload, and as much of the next frame's header as has come. */
struct sock_ahead_io {
	int fd;
	uint64_t remaining; /* of the payload */
	void *ahead;
	size_t ahead_got; /* out */
};

static ssize_t sock_recv_ahead_fn(void *cpu, size_t len, void *arg)
{
	struct sock_ahead_io *io = arg;
	struct iovec iov[2] = { { cpu, len }, { io->ahead, sizeof(struct swrdma_hdr) } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = len == io->remaining ? 2 : 1 };
	ssize_t n = recvmsg(io->fd, &msg, MSG_DONTWAIT);

	if (n == 0)
		return -EPIPE;
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	io->ahead_got = n > (ssize_t)len ? n - len : 0;
	return n - io->ahead_got;
}

static ssize_t rx_payload_piece(struct swrdma_qp *qp)
{
	struct sock_ahead_io aio = { qp->sock, qp->rx.remaining, &qp->rx.ahead, 0 };
	struct sock_io io = { qp->sock, 0 };
	ssize_t n;

	if (qp->rx.discard)
		return sock_recv_fn(qp->scratch, min(qp->rx.remaining, (uint64_t)SWRDMA_SCRATCH),
				    &io);
	/* one system call for the end of this frame and the start of the next */
	n = cursor_io(&qp->rx.cur, qp->rx.remaining, DMA_FROM_DEVICE, sock_recv_ahead_fn, &aio);
	qp->rx.ahead_got = aio.ahead_got;
	return n;
}

/* Receive as much as the socket has. True if anything moved. */
static bool qp_rx(struct swrdma_qp *qp, bool *stalled)
{
	bool progress = false;

	*stalled = false;
	while (qp_state(qp) != DEVMEM_IBV_QPS_ERR) {
		if (qp->rx.stage == RX_HDR && qp->rx.got < sizeof(qp->rx.hdr)) {
			struct sock_io io = { qp->sock, 0 };
			ssize_t n = sock_recv_fn((char *)&qp->rx.hdr + qp->rx.got,
						 sizeof(qp->rx.hdr) - qp->rx.got, &io);

			if (n == -EAGAIN)
				return progress;
			if (n < 0) {
				qp_conn_lost(qp);
				return true;
			}
			progress = true;
			qp->rx.got += n;
			if (qp->rx.got < sizeof(qp->rx.hdr))
				continue;
		}
		if (qp->rx.stage == RX_HDR)
			qp->rx.stage = RX_DISPATCH;
		if (qp->rx.stage == RX_DISPATCH) {
			int r = rx_dispatch(qp);

			if (r == RX_STALL) {
				*stalled = true;
				return progress;
			}
			if (r == RX_FATAL) {
				qp_conn_lost(qp);
				return true;
			}
			progress = true;
			qp->rx.stage = RX_PAYLOAD;
		}
		while (qp->rx.remaining) {
			ssize_t n = rx_payload_piece(qp);

			if (n == -EAGAIN)
				return progress;
			if (n == -EPIPE || n == -ECONNRESET || n <= 0) {
				/* the stream or the device access failed: nothing can resync */
				qp_conn_lost(qp);
				return true;
			}
			progress = true;
			qp->rx.remaining -= n;
		}
		rx_finish(qp);
		qp->rx.stage = RX_HDR;
		/* the next header may have come with the payload */
		memcpy(&qp->rx.hdr, &qp->rx.ahead, qp->rx.ahead_got);
		qp->rx.got = qp->rx.ahead_got;
		qp->rx.ahead_got = 0;
	}
	return progress;
}

/* send side */

static bool tx_start(struct swrdma_qp *qp)
{
	struct swrdma_hdr *h = &qp->tx.hdr;
	struct swrdma_swqe *w;

	memset(h, 0, sizeof(*h));
	qp->tx.sent = 0;
	qp->tx.remaining = 0;
	qp->tx.cur.num = 0;
	qp->tx.wqe = NULL;
	qp->tx.is_resp = false;
	qp->tx.error_after = false;

	if (qp->resp_head != qp->resp_tail) {
		struct swrdma_resp *r = &qp->resp[qp->resp_head++ % SWRDMA_RESP_RING];

		h->opcode = r->opcode;
		h->status = r->status;
		h->psn = r->psn;
		h->len = r->len;
		qp->tx.is_resp = true;
		qp->tx.error_after = r->error_after;
		qp->tx.remaining = r->len;
		if (r->mr) {
			qp->tx.cur = (struct swrdma_cursor){ .num = 1 };
			qp->tx.cur.sge[0] = (struct devmem_ibv_sge){ r->raddr, (uint32_t)r->len,
								     r->mr->ibv.lkey };
			qp->tx.cur.mr[0] = r->mr;
		}
		qp->tx.busy = true;
		return true;
	}

	if (qp_state(qp) != DEVMEM_IBV_QPS_RTS || qp->sq_stopped ||
	    qp->sq_send == __atomic_load_n(&qp->sq_tail, __ATOMIC_ACQUIRE))
		return false;
	w = &qp->sq[qp->sq_send & qp->sq_mask];
	w->status = cursor_hold(qp, &qp->tx.cur, w->sge, w->num_sge,
				w->opcode == DEVMEM_IBV_WR_RDMA_READ);
	if (w->status) {
		/* a local protection error: nothing goes out, it completes in its turn */
		w->state = WQE_ERROR;
		qp->sq_send++;
		qp->sq_stopped = true;
		qp_sq_complete(qp);
		return true;
	}
	switch (w->opcode) {
	case DEVMEM_IBV_WR_SEND:
		h->opcode = SWRDMA_OP_SEND;
		break;
	case DEVMEM_IBV_WR_SEND_WITH_IMM:
		h->opcode = SWRDMA_OP_SEND_IMM;
		break;
	case DEVMEM_IBV_WR_RDMA_WRITE:
		h->opcode = SWRDMA_OP_WRITE;
		break;
	case DEVMEM_IBV_WR_RDMA_WRITE_WITH_IMM:
		h->opcode = SWRDMA_OP_WRITE_IMM;
		break;
	default:
		h->opcode = SWRDMA_OP_READ_REQ;
		/* the response lands in the sges: they are held again then */
		cursor_release(&qp->tx.cur);
		break;
	}
	h->imm = w->imm;
	h->rkey = w->rkey;
	h->raddr = w->raddr;
	h->len = w->len;
	h->psn = qp->sq_send;
	qp->tx.remaining = h->opcode == SWRDMA_OP_READ_REQ ? 0 : w->len;
	qp->tx.wqe = w;
	qp->tx.busy = true;
	return true;
}

static void tx_done(struct swrdma_qp *qp)
{
	cursor_release(&qp->tx.cur);
	qp->tx.busy = false;
	if (qp->tx.wqe) {
		qp->tx.wqe->state = WQE_SENT;
		qp->sq_send++;
	}
	if (qp->tx.error_after)
		qp_enter_error(qp);
}

/*
 * Under ThreadSanitizer only: the peer may complete a READ as soon as the
 * last byte of its response leaves, before this thread publishes its reads
 * of the MR (swrdma_dma_order_release()), and the race detector cannot see
 * the wire between them. So the last byte is read first, the reads are
 * published, and then it is sent. (The kernel's socket orders them anyway.)
 */
#if defined(__SANITIZE_THREAD__)
#define SWRDMA_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SWRDMA_TSAN 1
#endif
#endif
#ifndef SWRDMA_TSAN
#define SWRDMA_TSAN 0
#endif

static bool swrdma_hold_last_byte(struct swrdma_qp *qp)
{
	return SWRDMA_TSAN && qp->tx.is_resp && qp->tx.remaining == 1;
}

static ssize_t copy_byte_fn(void *cpu, size_t len, void *arg)
{
	*(uint8_t *)arg = *(uint8_t *)cpu;
	return 1;
}

static ssize_t tx_last_byte(struct swrdma_qp *qp, struct sock_io *io)
{
	ssize_t n;

	if (!qp->tx.held_valid) {
		n = cursor_io(&qp->tx.cur, 1, DMA_TO_DEVICE, copy_byte_fn, &qp->tx.held);

		if (n <= 0)
			return n;
		qp->tx.held_valid = true;
		swrdma_dma_order_release();
	}
	n = sock_send_fn(&qp->tx.held, 1, io);
	if (n == 1)
		qp->tx.held_valid = false;
	return n;
}

/* Send as much as the socket takes. True if anything moved; *blocked if it is full. */
static bool qp_tx(struct swrdma_qp *qp, bool *blocked)
{
	bool progress = false;

	*blocked = false;
	while (qp_state(qp) != DEVMEM_IBV_QPS_ERR) {
		struct sock_io io = { qp->sock, 0 };
		ssize_t n;

		if (!qp->tx.busy && !tx_start(qp))
			return progress;
		progress = true;
		if (!qp->tx.busy)
			continue;
		/* header and the first payload piece in one system call */
		while (qp->tx.sent < sizeof(qp->tx.hdr) && qp->tx.remaining &&
		       !(SWRDMA_TSAN && qp->tx.is_resp)) {
			struct sock_hdr_io hio = { qp->sock, (char *)&qp->tx.hdr + qp->tx.sent,
						   sizeof(qp->tx.hdr) - qp->tx.sent, 0 };

			n = cursor_io(&qp->tx.cur, qp->tx.remaining, DMA_TO_DEVICE,
				      sock_send_hdr_fn, &hio);
			if (n == -EAGAIN) {
				*blocked = true;
				return progress;
			}
			if (n < 0) {
				qp_conn_lost(qp);
				return true;
			}
			qp->tx.sent += hio.hdr_sent;
			qp->tx.remaining -= n;
		}
		while (qp->tx.sent < sizeof(qp->tx.hdr)) {
			io.flags = qp->tx.remaining ? MSG_MORE : 0;
			n = sock_send_fn((char *)&qp->tx.hdr + qp->tx.sent,
					 sizeof(qp->tx.hdr) - qp->tx.sent, &io);
			if (n == -EAGAIN) {
				*blocked = true;
				return progress;
			}
			if (n < 0) {
				qp_conn_lost(qp);
				return true;
			}
			qp->tx.sent += n;
		}
		io.flags = 0;
		while (qp->tx.remaining) {
			if (swrdma_hold_last_byte(qp)) {
				n = tx_last_byte(qp, &io);
			} else {
				uint64_t max = qp->tx.remaining - (SWRDMA_TSAN && qp->tx.is_resp);

				n = cursor_io(&qp->tx.cur, max, DMA_TO_DEVICE, sock_send_fn, &io);
			}
			if (n == -EAGAIN) {
				*blocked = true;
				return progress;
			}
			if (n <= 0) {
				qp_conn_lost(qp);
				return true;
			}
			qp->tx.remaining -= n;
		}
		tx_done(qp);
	}
	return progress;
}

/* the progress thread */

static bool qp_has_work(struct swrdma_qp *qp, bool rx_stalled)
{
	int state = qp_state(qp);
	uint32_t sq_tail = __atomic_load_n(&qp->sq_tail, __ATOMIC_SEQ_CST);
	uint32_t rq_tail = __atomic_load_n(&qp->rq_tail, __ATOMIC_SEQ_CST);

	if (state == DEVMEM_IBV_QPS_ERR)
		return qp->sq_head != sq_tail || qp->rq_head != rq_tail;
	if (!qp->tx.busy && qp->resp_head != qp->resp_tail)
		return true;
	if (!qp->tx.busy && state == DEVMEM_IBV_QPS_RTS && !qp->sq_stopped &&
	    qp->sq_send != sq_tail)
		return true;
	return rx_stalled && qp->rq_head != rq_tail;
}

static void *qp_progress_thread(void *arg)
{
	struct swrdma_qp *qp = arg;
	bool rx_stalled = false, tx_blocked = false;

	while (!__atomic_load_n(&qp->stop, __ATOMIC_ACQUIRE)) {
		struct pollfd pfd[2];
		bool progress;
		uint64_t v;

		if (qp_state(qp) == DEVMEM_IBV_QPS_ERR) {
			progress = qp_flush(qp);
		} else {
			progress = qp_rx(qp, &rx_stalled);
			progress |= qp_tx(qp, &tx_blocked);
		}
		if (progress)
			continue;

		__atomic_store_n(&qp->sleeping, 1, __ATOMIC_SEQ_CST);
		if (qp_has_work(qp, rx_stalled) || __atomic_load_n(&qp->stop, __ATOMIC_SEQ_CST)) {
			__atomic_store_n(&qp->sleeping, 0, __ATOMIC_RELAXED);
			continue;
		}
		pfd[0] = (struct pollfd){ .fd = qp->evfd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = qp->sock };
		if (qp_state(qp) != DEVMEM_IBV_QPS_ERR) {
			if (!rx_stalled)
				pfd[1].events |= POLLIN;
			if (tx_blocked)
				pfd[1].events |= POLLOUT;
		}
		poll(pfd, pfd[1].events ? 2 : 1, -1);
		__atomic_store_n(&qp->sleeping, 0, __ATOMIC_RELAXED);
		if (pfd[0].revents & POLLIN && read(qp->evfd, &v, sizeof(v)) < 0)
			continue;
	}
	return NULL;
}

static void qp_wake(struct swrdma_qp *qp)
{
	uint64_t one = 1;

	if (__atomic_load_n(&qp->sleeping, __ATOMIC_SEQ_CST) &&
	    write(qp->evfd, &one, sizeof(one)) < 0)
		return;
}

static void qp_stop_thread(struct swrdma_qp *qp)
{
	uint64_t one = 1;

	if (!qp->thread_running)
		return;
	__atomic_store_n(&qp->stop, 1, __ATOMIC_SEQ_CST);
	if (write(qp->evfd, &one, sizeof(one)) < 0)
		DEVMEM_BUG_ON(1);
	pthread_join(qp->thread, NULL);
	qp->thread_running = false;
	__atomic_store_n(&qp->stop, 0, __ATOMIC_RELAXED);
}

/* verbs */

static uint32_t roundup_pow2(uint32_t n)
{
	uint32_t size = 1;

	while (size < n)
		size <<= 1;
	return size;
}

struct devmem_ibv_qp *devmem_ibv_create_qp(struct devmem_ibv_pd *pd,
					   struct devmem_ibv_qp_init_attr *attr)
{
	struct devmem_ibv_qp_cap *cap;
	struct swrdma_qp *qp;
	int err = -ENOMEM;

	if (!pd || !attr || !attr->send_cq || !attr->recv_cq) {
		errno = -devmem_err(-EINVAL, "rdma: create_qp: pd, attributes and both CQs needed");
		return NULL;
	}
	if (ibvpass_is_real(pd->context))
		return ibvpass_create_qp(pd, attr);
	/*
	 * uverbs looks a QP's CQ handles up among the objects of the caller's
	 * own file, and a handle that is not there is ENOENT: a CQ of another
	 * context, or of a real device, is refused the same way.
	 */
	if (attr->send_cq->context != pd->context || attr->recv_cq->context != pd->context) {
		errno = -devmem_err(-ENOENT, "rdma: create_qp: a CQ of another context");
		return NULL;
	}
	if (attr->qp_type != DEVMEM_IBV_QPT_RC || attr->srq) {
		errno = -devmem_err(-EOPNOTSUPP, "rdma: create_qp: only RC QPs without SRQ");
		return NULL;
	}
	cap = &attr->cap;
	if (cap->max_send_wr > SWRDMA_MAX_QP_WR || cap->max_recv_wr > SWRDMA_MAX_QP_WR ||
	    cap->max_send_sge > SWRDMA_MAX_SGE || cap->max_recv_sge > SWRDMA_MAX_SGE ||
	    cap->max_inline_data) {
		errno = -devmem_err(-EINVAL,
				    "rdma: create_qp: at most %d work requests and %d sges, no "
				    "inline data",
				    SWRDMA_MAX_QP_WR, SWRDMA_MAX_SGE);
		return NULL;
	}
	qp = calloc(1, sizeof(*qp));
	if (!qp)
		goto err;
	qp->sq_mask = roundup_pow2(max(cap->max_send_wr, 1U)) - 1;
	qp->rq_mask = roundup_pow2(max(cap->max_recv_wr, 1U)) - 1;
	qp->sq = calloc(qp->sq_mask + 1, sizeof(*qp->sq));
	qp->rq = calloc(qp->rq_mask + 1, sizeof(*qp->rq));
	qp->resp = calloc(SWRDMA_RESP_RING, sizeof(*qp->resp));
	qp->scratch = malloc(SWRDMA_SCRATCH);
	if (!qp->sq || !qp->rq || !qp->resp || !qp->scratch)
		goto err_free;
	qp->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (qp->evfd < 0) {
		err = -errno;
		goto err_free;
	}
	pthread_mutex_init(&qp->lock, NULL);
	qp->sock = -1;
	qp->ctx = to_sctx(pd->context);
	qp->pd = container_of(pd, struct swrdma_pd, ibv);
	qp->scq = to_scq(attr->send_cq);
	qp->rcq = to_scq(attr->recv_cq);
	qp->sq_sig_all = attr->sq_sig_all;
	qp->cap = *cap;
	qp->ibv.context = pd->context;
	qp->ibv.qp_context = attr->qp_context;
	qp->ibv.pd = pd;
	qp->ibv.send_cq = attr->send_cq;
	qp->ibv.recv_cq = attr->recv_cq;
	qp->ibv.qp_type = attr->qp_type;
	qp->ibv.qp_num = __atomic_fetch_add(&qp->ctx->next_qpn, 1, __ATOMIC_RELAXED);
	qp->ibv.handle = qp->ibv.qp_num;
	qp->ibv.state = DEVMEM_IBV_QPS_RESET;
	__atomic_fetch_add(&qp->pd->users, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&qp->scq->users, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&qp->rcq->users, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&qp->ctx->nr_objects, 1, __ATOMIC_RELAXED);
	return &qp->ibv;

err_free:
	free(qp->sq);
	free(qp->rq);
	free(qp->resp);
	free(qp->scratch);
	free(qp);
err:
	errno = -err;
	return NULL;
}

int devmem_ibv_qp_set_wire(struct devmem_ibv_qp *ibqp, int fd)
{
	struct swrdma_qp *qp = to_sqp(ibqp);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int type, one = 1, dup_fd, err = 0;
	socklen_t tlen = sizeof(type);

	/* a real QP's wire is its HCA's port, set up through modify_qp's address vector */
	if (ibvpass_is_real(ibqp->context))
		return -devmem_err(-EOPNOTSUPP, "rdma: a real device's QP has no TCP wire");
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) || type != SOCK_STREAM ||
	    getpeername(fd, (struct sockaddr *)&ss, &len))
		return -devmem_err(-EINVAL, "rdma: the wire must be a connected stream socket");
	pthread_mutex_lock(&qp->lock);
	if (qp_state(qp) != DEVMEM_IBV_QPS_RESET && qp_state(qp) != DEVMEM_IBV_QPS_INIT) {
		err = -devmem_err(-EINVAL, "rdma: the wire is set in RESET or INIT");
		goto out;
	}
	dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dup_fd < 0) {
		err = errno;
		goto out;
	}
	if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
		setsockopt(dup_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (qp->sock >= 0)
		close(qp->sock);
	qp->sock = dup_fd;
out:
	pthread_mutex_unlock(&qp->lock);
	return err;
}

/* The attribute masks of each RC transition (the kernel's qp_state_table). */
struct qp_transition {
	int req, opt;
};

static const struct qp_transition *qp_transition(int cur, int next)
{
	static const struct qp_transition none = { 0, 0 };
	static const struct qp_transition reset_init = {
		DEVMEM_IBV_QP_PKEY_INDEX | DEVMEM_IBV_QP_PORT | DEVMEM_IBV_QP_ACCESS_FLAGS, 0
	};
	static const struct qp_transition init_init = { 0, DEVMEM_IBV_QP_PKEY_INDEX |
								   DEVMEM_IBV_QP_PORT |
								   DEVMEM_IBV_QP_ACCESS_FLAGS };
	static const struct qp_transition init_rtr = {
		DEVMEM_IBV_QP_AV | DEVMEM_IBV_QP_PATH_MTU | DEVMEM_IBV_QP_DEST_QPN |
			DEVMEM_IBV_QP_RQ_PSN | DEVMEM_IBV_QP_MAX_DEST_RD_ATOMIC |
			DEVMEM_IBV_QP_MIN_RNR_TIMER,
		DEVMEM_IBV_QP_ALT_PATH | DEVMEM_IBV_QP_ACCESS_FLAGS | DEVMEM_IBV_QP_PKEY_INDEX
	};
	static const struct qp_transition rtr_rts = {
		DEVMEM_IBV_QP_SQ_PSN | DEVMEM_IBV_QP_TIMEOUT | DEVMEM_IBV_QP_RETRY_CNT |
			DEVMEM_IBV_QP_RNR_RETRY | DEVMEM_IBV_QP_MAX_QP_RD_ATOMIC,
		DEVMEM_IBV_QP_CUR_STATE | DEVMEM_IBV_QP_ALT_PATH | DEVMEM_IBV_QP_ACCESS_FLAGS |
			DEVMEM_IBV_QP_MIN_RNR_TIMER | DEVMEM_IBV_QP_PATH_MIG_STATE
	};
	static const struct qp_transition rts_rts = {
		0, DEVMEM_IBV_QP_CUR_STATE | DEVMEM_IBV_QP_ACCESS_FLAGS | DEVMEM_IBV_QP_ALT_PATH |
			   DEVMEM_IBV_QP_PATH_MIG_STATE | DEVMEM_IBV_QP_MIN_RNR_TIMER
	};

	if (next == DEVMEM_IBV_QPS_RESET || next == DEVMEM_IBV_QPS_ERR)
		return &none;
	if (cur == DEVMEM_IBV_QPS_RESET && next == DEVMEM_IBV_QPS_INIT)
		return &reset_init;
	if (cur == DEVMEM_IBV_QPS_INIT && next == DEVMEM_IBV_QPS_INIT)
		return &init_init;
	if (cur == DEVMEM_IBV_QPS_INIT && next == DEVMEM_IBV_QPS_RTR)
		return &init_rtr;
	if (cur == DEVMEM_IBV_QPS_RTR && next == DEVMEM_IBV_QPS_RTS)
		return &rtr_rts;
	if (cur == DEVMEM_IBV_QPS_RTS && next == DEVMEM_IBV_QPS_RTS)
		return &rts_rts;
	return NULL;
}

/* Back to RESET: no thread, no wire, empty queues, no completions. */
static void qp_reset(struct swrdma_qp *qp)
{
	qp_stop_thread(qp);
	qp_release_held(qp);
	if (qp->sock >= 0)
		close(qp->sock);
	qp->sock = -1;
	qp->sq_tail = qp->sq_send = qp->sq_head = 0;
	qp->rq_tail = qp->rq_head = 0;
	qp->sq_stopped = false;
	qp->resp_head = qp->resp_tail = 0;
}

int devmem_ibv_modify_qp(struct devmem_ibv_qp *ibqp, struct devmem_ibv_qp_attr *attr, int attr_mask)
{
	struct swrdma_qp *qp = to_sqp(ibqp);
	const struct qp_transition *t;
	int cur, next, err = 0;

	if (ibvpass_is_real(ibqp->context))
		return ibvpass_modify_qp(ibqp, attr, attr_mask);
	if (!attr)
		return EINVAL;
	pthread_mutex_lock(&qp->lock);
	cur = qp_state(qp);
	next = attr_mask & DEVMEM_IBV_QP_STATE ? (int)attr->qp_state : cur;
	if (attr_mask & DEVMEM_IBV_QP_CUR_STATE && (int)attr->cur_qp_state != cur) {
		err = -devmem_err(-EINVAL, "rdma: modify_qp: current state is %d", cur);
		goto out;
	}
	t = next >= DEVMEM_IBV_QPS_RESET && next <= DEVMEM_IBV_QPS_ERR ? qp_transition(cur, next) :
									 NULL;
	if (!t || (attr_mask & t->req) != t->req ||
	    attr_mask & ~(t->req | t->opt | DEVMEM_IBV_QP_STATE | DEVMEM_IBV_QP_CUR_STATE)) {
		err = -devmem_err(
			-EINVAL,
			"rdma: modify_qp: %d -> %d with mask %#x is not a legal transition", cur,
			next, attr_mask);
		goto out;
	}
	if ((attr_mask & DEVMEM_IBV_QP_PORT && attr->port_num != 1) ||
	    (attr_mask & DEVMEM_IBV_QP_PKEY_INDEX && attr->pkey_index != 0) ||
	    (attr_mask & DEVMEM_IBV_QP_PATH_MTU &&
	     (attr->path_mtu < DEVMEM_IBV_MTU_256 || attr->path_mtu > DEVMEM_IBV_MTU_4096)) ||
	    (attr_mask & DEVMEM_IBV_QP_ACCESS_FLAGS &&
	     attr->qp_access_flags &
		     ~(DEVMEM_IBV_ACCESS_LOCAL_WRITE | DEVMEM_IBV_ACCESS_REMOTE_WRITE |
		       DEVMEM_IBV_ACCESS_REMOTE_READ | DEVMEM_IBV_ACCESS_REMOTE_ATOMIC))) {
		err = -devmem_err(-EINVAL, "rdma: modify_qp: bad port, pkey index, MTU or access");
		goto out;
	}
	if (next == DEVMEM_IBV_QPS_RTR && qp->sock < 0) {
		err = -devmem_err(-EINVAL, "rdma: modify_qp: RTR needs the wire "
					   "(devmem_ibv_qp_set_wire)");
		goto out;
	}
	if (attr_mask & DEVMEM_IBV_QP_ACCESS_FLAGS)
		__atomic_store_n(&qp->access, attr->qp_access_flags, __ATOMIC_RELAXED);
	if (attr_mask & DEVMEM_IBV_QP_DEST_QPN)
		qp->dest_qp_num = attr->dest_qp_num;

	if (next == DEVMEM_IBV_QPS_RESET) {
		qp_reset(qp);
		qp_set_state(qp, next);
	} else if (next == DEVMEM_IBV_QPS_RTR) {
		qp_set_state(qp, next);
		err = pthread_create(&qp->thread, NULL, qp_progress_thread, qp);
		if (err) {
			qp_set_state(qp, cur);
			goto out;
		}
		qp->thread_running = true;
	} else {
		qp_set_state(qp, next);
		if (next == DEVMEM_IBV_QPS_ERR && !qp->thread_running)
			qp_flush(qp);
		else
			qp_wake(qp);
	}
out:
	pthread_mutex_unlock(&qp->lock);
	return err;
}

int devmem_ibv_query_qp(struct devmem_ibv_qp *ibqp, struct devmem_ibv_qp_attr *attr, int attr_mask,
			struct devmem_ibv_qp_init_attr *init_attr)
{
	struct swrdma_qp *qp = to_sqp(ibqp);

	if (ibvpass_is_real(ibqp->context))
		return ibvpass_query_qp(ibqp, attr, attr_mask, init_attr);
	if (!attr || !init_attr)
		return EINVAL;
	memset(attr, 0, sizeof(*attr));
	memset(init_attr, 0, sizeof(*init_attr));
	attr->qp_state = attr->cur_qp_state = qp_state(qp);
	attr->qp_access_flags = __atomic_load_n(&qp->access, __ATOMIC_RELAXED);
	attr->dest_qp_num = qp->dest_qp_num;
	attr->cap = qp->cap;
	attr->port_num = 1;
	init_attr->qp_context = ibqp->qp_context;
	init_attr->send_cq = ibqp->send_cq;
	init_attr->recv_cq = ibqp->recv_cq;
	init_attr->cap = qp->cap;
	init_attr->qp_type = ibqp->qp_type;
	init_attr->sq_sig_all = qp->sq_sig_all;
	return 0;
}

int devmem_ibv_destroy_qp(struct devmem_ibv_qp *ibqp)
{
	struct swrdma_qp *qp = to_sqp(ibqp);

	if (ibvpass_is_real(ibqp->context))
		return ibvpass_destroy_qp(ibqp);
	pthread_mutex_lock(&qp->lock);
	qp_reset(qp);
	pthread_mutex_unlock(&qp->lock);
	pthread_mutex_destroy(&qp->lock);
	close(qp->evfd);
	__atomic_fetch_sub(&qp->pd->users, 1, __ATOMIC_RELEASE);
	__atomic_fetch_sub(&qp->scq->users, 1, __ATOMIC_RELEASE);
	__atomic_fetch_sub(&qp->rcq->users, 1, __ATOMIC_RELEASE);
	__atomic_fetch_sub(&qp->ctx->nr_objects, 1, __ATOMIC_RELEASE);
	free(qp->sq);
	free(qp->rq);
	free(qp->resp);
	free(qp->scratch);
	free(qp);
	return 0;
}

static int post_send_one(struct swrdma_qp *qp, const struct devmem_ibv_send_wr *wr)
{
	struct swrdma_swqe *w;
	uint64_t len;

	if (wr->num_sge < 0 || (uint32_t)wr->num_sge > qp->cap.max_send_sge)
		return -devmem_err(-EINVAL, "rdma: post_send: %d sges (max %u)", wr->num_sge,
				   qp->cap.max_send_sge);
	if (wr->opcode > DEVMEM_IBV_WR_RDMA_READ)
		return -devmem_err(-EINVAL, "rdma: post_send: opcode %d not supported", wr->opcode);
	if (wr->send_flags & DEVMEM_IBV_SEND_INLINE && sge_total(wr->sg_list, wr->num_sge))
		return -devmem_err(-EINVAL, "rdma: post_send: no inline data (max_inline_data 0)");
	len = sge_total(wr->sg_list, wr->num_sge);
	if (len > SWRDMA_MAX_MSG_SZ)
		return -devmem_err(-EINVAL, "rdma: post_send: message longer than 2 GiB");
	if (qp->sq_tail - __atomic_load_n(&qp->sq_head, __ATOMIC_ACQUIRE) >=
	    max(qp->cap.max_send_wr, 1U))
		return -devmem_err(-ENOMEM, "rdma: post_send: send queue full");

	w = &qp->sq[qp->sq_tail & qp->sq_mask];
	w->wr_id = wr->wr_id;
	w->opcode = wr->opcode;
	w->send_flags = wr->send_flags;
	w->imm = wr->imm_data;
	w->raddr = wr->wr.rdma.remote_addr;
	w->rkey = wr->wr.rdma.rkey;
	w->len = len;
	w->num_sge = wr->num_sge;
	w->state = WQE_POSTED;
	w->status = DEVMEM_IBV_WC_SUCCESS;
	if (wr->num_sge)
		memcpy(w->sge, wr->sg_list, wr->num_sge * sizeof(*w->sge));
	__atomic_store_n(&qp->sq_tail, qp->sq_tail + 1, __ATOMIC_SEQ_CST);
	return 0;
}

int devmem_ibv_post_send(struct devmem_ibv_qp *ibqp, struct devmem_ibv_send_wr *wr,
			 struct devmem_ibv_send_wr **bad_wr)
{
	struct swrdma_qp *qp = to_sqp(ibqp);
	int state, err = 0;

	if (ibvpass_is_real(ibqp->context))
		return ibvpass_post_send(ibqp, wr, bad_wr);
	pthread_mutex_lock(&qp->lock);
	state = qp_state(qp);
	if (state != DEVMEM_IBV_QPS_RTS && state != DEVMEM_IBV_QPS_ERR) {
		err = -devmem_err(-EINVAL, "rdma: post_send: QP in state %d", state);
		*bad_wr = wr;
		goto out;
	}
	for (; wr; wr = wr->next) {
		err = post_send_one(qp, wr);
		if (err) {
			*bad_wr = wr;
			break;
		}
	}
	if (state == DEVMEM_IBV_QPS_ERR && !qp->thread_running)
		qp_flush(qp);
out:
	pthread_mutex_unlock(&qp->lock);
	swrdma_dma_order_release();
	qp_wake(qp);
	return err;
}

int devmem_ibv_post_recv(struct devmem_ibv_qp *ibqp, struct devmem_ibv_recv_wr *wr,
			 struct devmem_ibv_recv_wr **bad_wr)
{
	struct swrdma_qp *qp = to_sqp(ibqp);
	int err = 0;

	if (ibvpass_is_real(ibqp->context))
		return ibvpass_post_recv(ibqp, wr, bad_wr);
	pthread_mutex_lock(&qp->lock);
	if (qp_state(qp) == DEVMEM_IBV_QPS_RESET) {
		err = -devmem_err(-EINVAL, "rdma: post_recv: QP in RESET");
		*bad_wr = wr;
		goto out;
	}
	for (; wr; wr = wr->next) {
		struct swrdma_rwqe *r;

		if (wr->num_sge < 0 || (uint32_t)wr->num_sge > qp->cap.max_recv_sge) {
			err = -devmem_err(-EINVAL, "rdma: post_recv: %d sges (max %u)", wr->num_sge,
					  qp->cap.max_recv_sge);
			*bad_wr = wr;
			break;
		}
		if (qp->rq_tail - __atomic_load_n(&qp->rq_head, __ATOMIC_ACQUIRE) >=
		    max(qp->cap.max_recv_wr, 1U)) {
			err = -devmem_err(-ENOMEM, "rdma: post_recv: receive queue full");
			*bad_wr = wr;
			break;
		}
		r = &qp->rq[qp->rq_tail & qp->rq_mask];
		r->wr_id = wr->wr_id;
		r->num_sge = wr->num_sge;
		if (wr->num_sge)
			memcpy(r->sge, wr->sg_list, wr->num_sge * sizeof(*r->sge));
		__atomic_store_n(&qp->rq_tail, qp->rq_tail + 1, __ATOMIC_SEQ_CST);
	}
	if (qp_state(qp) == DEVMEM_IBV_QPS_ERR && !qp->thread_running)
		qp_flush(qp);
out:
	pthread_mutex_unlock(&qp->lock);
	swrdma_dma_order_release();
	qp_wake(qp);
	return err;
}
