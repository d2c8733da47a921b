// SPDX-License-Identifier: MIT
/*
 * devmem rdma: perftest's ib_write_bw, ib_read_bw and ib_send_bw on the
 * software RDMA device, with the server's memory region in host memory or
 * in vram that moves.
 *
 *	server: devmem rdma write-bw [OPTIONS]
 *	client: devmem rdma write-bw [OPTIONS] SERVER
 *
 * Two TCP connections join the ends: a control connection (the exchange of
 * QP numbers, keys and addresses that perftest does, run starts and ends,
 * eviction requests and the server's MR statistics) and the wire of the RC
 * queue pair. The client is the requester; the server's MR is the target of
 * writes, the source of reads and the landing place of sends. Every run is
 * validated end to end against a pattern both sides compute.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmds.h"
#include "devmem/error.h"
#include "devmem/rdma.h"
#include "devmem/vram.h"
#include "json.h"
#include "tool.h"

#define rdma_min(a, b) ((a) < (b) ? (a) : (b))
#define RDMA_DEFAULT_PORT 18515 /* perftest's */
#define RDMA_SLOTS 4 /* messages cycle over this many slots of the buffers */
#define RDMA_SWEEP_MAX (8ULL << 20)
#define RDMA_ACCESS                                                       \
	(DEVMEM_IBV_ACCESS_LOCAL_WRITE | DEVMEM_IBV_ACCESS_REMOTE_WRITE | \
	 DEVMEM_IBV_ACCESS_REMOTE_READ)

enum rdma_test { TEST_WRITE, TEST_READ, TEST_SEND };
static const char *const test_names[] = { "write-bw", "read-bw", "send-bw" };

struct rdma_opts {
	enum rdma_test test;
	const char *server;
	uint16_t port;
	uint64_t size, iters, tx_depth, evict_every;
	bool all, json, pinned, vram;
};

enum ctl_type {
	CTL_HELLO = 1,
	CTL_INFO,
	CTL_START,
	CTL_READY,
	CTL_EVICT,
	CTL_DONE,
	CTL_RESULT,
	CTL_BYE
};

/* The control messages, native byte order (both ends are this tool). */
struct ctl_msg {
	uint32_t type;
	uint32_t qpn;
	uint32_t rkey;
	uint32_t test;
	uint64_t addr, len, iters;
	uint64_t v[4]; /* RESULT: validated, invalidations, re-faults, device faults */
};

struct rdma_run_result {
	uint64_t bytes, iters;
	double peak, avg, rate; /* MB/s (2^20), MB/s, Mpps */
	uint64_t invalidations, refaults, faults;
	bool validated;
};

static int ctl_io(int fd, struct ctl_msg *m, bool out)
{
	size_t done = 0;

	while (done < sizeof(*m)) {
		ssize_t n = out ? send(fd, (char *)m + done, sizeof(*m) - done, MSG_NOSIGNAL) :
				  recv(fd, (char *)m + done, sizeof(*m) - done, 0);

		if (n <= 0)
			return n ? -errno : -EPIPE;
		done += n;
	}
	return 0;
}

static uint8_t pattern_at(uint64_t off, uint64_t size)
{
	return (uint8_t)(off * 7 + (off >> 12) + size);
}

static void pattern_fill(uint8_t *p, uint64_t len, uint64_t size)
{
	uint64_t i;

	for (i = 0; i < len; i++)
		p[i] = pattern_at(i, size);
}

static bool pattern_check(const uint8_t *p, uint64_t len, uint64_t size)
{
	uint64_t i;

	for (i = 0; i < len; i++)
		if (p[i] != pattern_at(i, size))
			return false;
	return true;
}

/* The server's memory: host memory, or a vram buffer (pinned or dynamic MR). */
struct rdma_mem {
	uint8_t *host;
	struct vram *vram;
	struct dma_buf *buf;
	int fd;
	struct devmem_ibv_mr *mr;
	uint64_t len;
};

static int mem_create(struct rdma_mem *m, struct devmem_ibv_pd *pd, uint64_t len, bool vram,
		      bool pinned)
{
	int err;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->len = len = (len + page_size() - 1) & ~(page_size() - 1);
	if (!vram) {
		m->host = aligned_alloc(page_size(), len);
		if (!m->host)
			return -ENOMEM;
		m->mr = devmem_ibv_reg_mr(pd, m->host, len, RDMA_ACCESS);
		return m->mr ? 0 : -errno;
	}
	err = devmem_vram_create("vram0", len, NULL, &m->vram);
	if (!err)
		err = devmem_vram_buffer_create(m->vram, len, &m->buf);
	if (err)
		return err;
	m->fd = dma_buf_fd(m->buf, O_CLOEXEC);
	if (m->fd < 0)
		return m->fd;
	m->mr = devmem_ibv_reg_dmabuf_mr_ex(pd, 0, len, 0, m->fd, RDMA_ACCESS,
					    pinned ? DEVMEM_IBV_REG_DMABUF_PINNED : 0);
	return m->mr ? 0 : -errno;
}

/* The CPU's view of the memory, for the pattern (a vmap pins vram until unmapped). */
static uint8_t *mem_cpu(struct rdma_mem *m)
{
	void *p;

	if (m->host)
		return m->host;
	return dma_buf_vmap_unlocked(m->buf, &p) ? NULL : p;
}

static void mem_cpu_done(struct rdma_mem *m, uint8_t *p)
{
	if (!m->host && p)
		dma_buf_vunmap_unlocked(m->buf, p);
}

static void mem_destroy(struct rdma_mem *m)
{
	if (m->mr)
		devmem_ibv_dereg_mr(m->mr);
	free(m->host);
	if (m->fd >= 0)
		close(m->fd);
	if (m->buf)
		dma_buf_put(m->buf);
	if (m->vram)
		devmem_vram_destroy(m->vram);
}

struct rdma_end {
	struct devmem_ibv_context *ctx;
	struct devmem_ibv_pd *pd;
	struct devmem_ibv_cq *cq;
	struct devmem_ibv_qp *qp;
};

static int end_open(struct rdma_end *e, uint32_t depth)
{
	struct devmem_ibv_device **list = devmem_ibv_get_device_list(NULL);
	struct devmem_ibv_qp_init_attr attr = {
		.qp_type = DEVMEM_IBV_QPT_RC,
		.cap = { .max_send_wr = depth,
			 .max_recv_wr = depth,
			 .max_send_sge = 1,
			 .max_recv_sge = 1 },
	};

	if (!list)
		return -errno;
	e->ctx = devmem_ibv_open_device(list[0]);
	devmem_ibv_free_device_list(list);
	if (!e->ctx)
		return -errno;
	e->pd = devmem_ibv_alloc_pd(e->ctx);
	e->cq = e->pd ? devmem_ibv_create_cq(e->ctx, 2 * depth, NULL, NULL, 0) : NULL;
	attr.send_cq = attr.recv_cq = e->cq;
	e->qp = e->cq ? devmem_ibv_create_qp(e->pd, &attr) : NULL;
	return e->qp ? 0 : -errno;
}

static void end_close(struct rdma_end *e)
{
	if (e->qp)
		devmem_ibv_destroy_qp(e->qp);
	if (e->cq)
		devmem_ibv_destroy_cq(e->cq);
	if (e->pd)
		devmem_ibv_dealloc_pd(e->pd);
	if (e->ctx)
		devmem_ibv_close_device(e->ctx);
}

/* INIT, the wire, RTR, RTS: the transitions an rdma-core program makes. */
static int end_connect(struct rdma_end *e, int wire, uint32_t dest_qpn)
{
	struct devmem_ibv_qp_attr a = { .qp_state = DEVMEM_IBV_QPS_INIT,
					.port_num = 1,
					.qp_access_flags = RDMA_ACCESS };
	int err = devmem_ibv_modify_qp(e->qp, &a,
				       DEVMEM_IBV_QP_STATE | DEVMEM_IBV_QP_PKEY_INDEX |
					       DEVMEM_IBV_QP_PORT | DEVMEM_IBV_QP_ACCESS_FLAGS);

	if (!err)
		err = devmem_ibv_qp_set_wire(e->qp, wire);
	if (err)
		return -err;
	a = (struct devmem_ibv_qp_attr){ .qp_state = DEVMEM_IBV_QPS_RTR,
					 .path_mtu = DEVMEM_IBV_MTU_4096,
					 .dest_qp_num = dest_qpn,
					 .max_dest_rd_atomic = 16,
					 .min_rnr_timer = 12,
					 .ah_attr = { .port_num = 1 } };
	err = devmem_ibv_modify_qp(e->qp, &a,
				   DEVMEM_IBV_QP_STATE | DEVMEM_IBV_QP_AV | DEVMEM_IBV_QP_PATH_MTU |
					   DEVMEM_IBV_QP_DEST_QPN | DEVMEM_IBV_QP_RQ_PSN |
					   DEVMEM_IBV_QP_MAX_DEST_RD_ATOMIC |
					   DEVMEM_IBV_QP_MIN_RNR_TIMER);
	if (err)
		return -err;
	a = (struct devmem_ibv_qp_attr){ .qp_state = DEVMEM_IBV_QPS_RTS,
					 .timeout = 14,
					 .retry_cnt = 7,
					 .rnr_retry = 7,
					 .max_rd_atomic = 16 };
	return -devmem_ibv_modify_qp(e->qp, &a,
				     DEVMEM_IBV_QP_STATE | DEVMEM_IBV_QP_SQ_PSN |
					     DEVMEM_IBV_QP_TIMEOUT | DEVMEM_IBV_QP_RETRY_CNT |
					     DEVMEM_IBV_QP_RNR_RETRY |
					     DEVMEM_IBV_QP_MAX_QP_RD_ATOMIC);
}

static int tcp_connect(const char *host, uint16_t port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	char service[8];
	int fd = -1, one = 1;

	snprintf(service, sizeof(service), "%u", port);
	if (getaddrinfo(host, service, &hints, &res))
		return -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && !connect(fd, ai->ai_addr, ai->ai_addrlen))
			break;
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return -ECONNREFUSED;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int tcp_listen(uint16_t port)
{
	struct sockaddr_in6 addr = { .sin6_family = AF_INET6,
				     .sin6_port = htons(port),
				     .sin6_addr = IN6ADDR_ANY_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, 4)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* server */

/* The MR's and the device's counters: the run reports what changed during it. */
static void server_counters(struct rdma_mem *m, struct rdma_end *e, uint64_t c[3])
{
	struct devmem_ibv_mr_stats st = { 0 };

	devmem_ibv_mr_get_stats(m->mr, &st);
	c[0] = st.invalidations;
	c[1] = st.faults;
	c[2] = device_fault_count(devmem_ibv_context_device(e->ctx));
}

static void server_result(struct rdma_mem *m, struct rdma_end *e, bool validated,
			  const uint64_t before[3], struct ctl_msg *r)
{
	uint64_t after[3];

	server_counters(m, e, after);
	*r = (struct ctl_msg){ .type = CTL_RESULT };
	r->v[0] = validated;
	r->v[1] = after[0] - before[0];
	r->v[2] = after[1] - before[1];
	r->v[3] = after[2] - before[2];
}

/* Keep a receive posted in every slot while the client sends. */
static int server_post_recv(struct rdma_end *e, struct rdma_mem *m, uint64_t size, uint64_t slot)
{
	struct devmem_ibv_sge sge = { slot * size, (uint32_t)size, m->mr->lkey };
	struct devmem_ibv_recv_wr wr = { .wr_id = slot, .sg_list = &sge, .num_sge = 1 }, *bad;

	if (m->host)
		sge.addr += (uintptr_t)m->host;
	return devmem_ibv_post_recv(e->qp, &wr, &bad);
}

/* One run on the server: passive for write and read; receiving for send. */
static int server_run(struct rdma_opts *o, struct rdma_end *e, struct rdma_mem *m, int ctl,
		      struct ctl_msg *start)
{
	uint64_t size = start->len, iters = start->iters, got = 0, posted = 0;
	uint64_t span = size * RDMA_SLOTS;
	struct ctl_msg cm = { .type = CTL_READY };
	bool validated = true;
	uint64_t before[3];
	uint8_t *p;

	server_counters(m, e, before);
	p = mem_cpu(m);
	if (!p)
		return -EIO;
	if (o->test == TEST_READ)
		pattern_fill(p, span, size);
	else
		memset(p, 0, span);
	mem_cpu_done(m, p);
	if (o->test == TEST_SEND)
		for (; posted < iters && posted < o->tx_depth; posted++)
			if (server_post_recv(e, m, size, posted % RDMA_SLOTS))
				return -EIO;
	if (ctl_io(ctl, &cm, true))
		return -EPIPE;

	for (;;) {
		struct pollfd pfd = { .fd = ctl, .events = POLLIN };

		if (o->test == TEST_SEND && got < iters) {
			struct devmem_ibv_wc wc;

			while (devmem_ibv_poll_cq(e->cq, 1, &wc) == 1) {
				if (wc.status != DEVMEM_IBV_WC_SUCCESS)
					return fail(-EIO, "receive: %s",
						    devmem_ibv_wc_status_str(wc.status)),
					       -EIO;
				got++;
				if (posted < iters &&
				    server_post_recv(e, m, size, posted++ % RDMA_SLOTS))
					return -EIO;
			}
		}
		if (poll(&pfd, 1, o->test == TEST_SEND && got < iters ? 0 : 100) <= 0)
			continue;
		if (ctl_io(ctl, &cm, false))
			return -EPIPE;
		if (cm.type == CTL_EVICT) {
			if (m->vram)
				devmem_vram_evict(m->vram, m->len);
			continue;
		}
		if (cm.type == CTL_DONE)
			break;
		return -EPROTO;
	}
	if (o->test != TEST_READ) {
		p = mem_cpu(m);
		validated = p && pattern_check(p, rdma_min(span, size * iters), size);
		mem_cpu_done(m, p);
	}
	server_result(m, e, validated, before, &cm);
	return ctl_io(ctl, &cm, true) ? -EPIPE : 0;
}

static int server(struct rdma_opts *o)
{
	struct rdma_end e = { 0 };
	struct rdma_mem m = { .fd = -1 };
	struct ctl_msg cm;
	int lfd, ctl = -1, wire = -1, err;

	lfd = tcp_listen(o->port);
	if (lfd < 0)
		return sys_fail(lfd, "listen on port %u", o->port);
	if (!o->json)
		printf("waiting for a client on port %u\n", o->port), fflush(stdout);
	ctl = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (ctl < 0 || ctl_io(ctl, &cm, false) || cm.type != CTL_HELLO) {
		err = sys_fail(-EPROTO, "the client's hello");
		goto out;
	}
	o->test = cm.test;
	err = end_open(&e, o->tx_depth);
	if (!err)
		err = mem_create(&m, e.pd, cm.len * RDMA_SLOTS, o->vram, o->pinned);
	if (err) {
		err = fail(err, "the RDMA device and memory region");
		goto out;
	}
	cm = (struct ctl_msg){ .type = CTL_INFO,
			       .qpn = e.qp->qp_num,
			       .rkey = m.mr->rkey,
			       .addr = m.host ? (uintptr_t)m.host : 0,
			       .len = m.len,
			       .v = { o->vram, o->pinned } };
	if (ctl_io(ctl, &cm, true) || ctl_io(ctl, &cm, false) || cm.type != CTL_INFO) {
		err = sys_fail(-EPROTO, "the exchange");
		goto out;
	}
	wire = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (wire < 0 || (err = end_connect(&e, wire, cm.qpn))) {
		err = fail(wire < 0 ? -errno : err, "connect the queue pair");
		goto out;
	}
	for (;;) {
		if (ctl_io(ctl, &cm, false)) {
			err = sys_fail(-EPIPE, "control connection");
			goto out;
		}
		if (cm.type == CTL_BYE)
			break;
		if (cm.type != CTL_START || server_run(o, &e, &m, ctl, &cm)) {
			err = fail(-EPROTO, "run");
			goto out;
		}
	}
	err = 0;
out:
	/* the MR before the PD it belongs to */
	mem_destroy(&m);
	end_close(&e);
	if (wire >= 0)
		close(wire);
	if (ctl >= 0)
		close(ctl);
	close(lfd);
	return err;
}

/* client */

static int client_run(struct rdma_opts *o, struct rdma_end *e, struct devmem_ibv_mr *mr,
		      uint8_t *local, struct ctl_msg *info, int ctl, uint64_t size,
		      struct rdma_run_result *res)
{
	uint64_t iters = o->iters, posted = 0, done = 0, window = 0;
	double t0, tw, peak = 0;
	struct ctl_msg cm = { .type = CTL_START, .len = size, .iters = iters };
	struct devmem_ibv_wc wc[32];

	pattern_fill(local, size * RDMA_SLOTS, size);
	if (o->test == TEST_READ)
		memset(local, 0, size * RDMA_SLOTS);
	if (ctl_io(ctl, &cm, true) || ctl_io(ctl, &cm, false) || cm.type != CTL_READY)
		return -EPROTO;

	t0 = tw = now();
	while (done < iters) {
		while (posted < iters && posted - done < o->tx_depth) {
			uint64_t slot = posted % RDMA_SLOTS;
			struct devmem_ibv_sge sge = { (uintptr_t)local + slot * size,
						      (uint32_t)size, mr->lkey };
			struct devmem_ibv_send_wr wr = {
				.wr_id = posted, .sg_list = &sge, .num_sge = 1,
				.send_flags = DEVMEM_IBV_SEND_SIGNALED,
				.wr.rdma = { info->addr + slot * size, info->rkey },
			}, *bad;

			wr.opcode = o->test == TEST_WRITE ? DEVMEM_IBV_WR_RDMA_WRITE :
				    o->test == TEST_READ  ? DEVMEM_IBV_WR_RDMA_READ :
							    DEVMEM_IBV_WR_SEND;
			if (devmem_ibv_post_send(e->qp, &wr, &bad))
				return -EIO;
			posted++;
		}
		int n = devmem_ibv_poll_cq(e->cq, 32, wc);

		for (int i = 0; i < n; i++) {
			if (wc[i].status != DEVMEM_IBV_WC_SUCCESS) {
				msg(" work request %llu: %s", (unsigned long long)wc[i].wr_id,
				    devmem_ibv_wc_status_str(wc[i].status));
				return -EIO;
			}
			done++;
			if (o->evict_every && done % o->evict_every == 0) {
				cm = (struct ctl_msg){ .type = CTL_EVICT };
				if (ctl_io(ctl, &cm, true))
					return -EPIPE;
			}
		}
		if (!n)
			sched_yield();
		/* the peak: the best stretch of at least 5 ms (the last one may be shorter) */
		if (n) {
			double t = now();

			if (t - tw >= 0.005 || done == iters) {
				double bw = (done - window) * size / (t - tw);

				if (bw > peak)
					peak = bw;
				window = done;
				tw = t;
			}
		}
	}
	double elapsed = now() - t0;

	cm = (struct ctl_msg){ .type = CTL_DONE };
	if (ctl_io(ctl, &cm, true) || ctl_io(ctl, &cm, false) || cm.type != CTL_RESULT)
		return -EPROTO;
	res->bytes = size;
	res->iters = iters;
	res->avg = iters * size / elapsed / (1 << 20);
	res->peak = peak / (1 << 20);
	res->rate = iters / elapsed / 1e6;
	res->validated = cm.v[0];
	if (o->test == TEST_READ)
		res->validated =
			pattern_check(local, rdma_min(size * RDMA_SLOTS, size * iters), size);
	res->invalidations = cm.v[1];
	res->refaults = cm.v[2];
	res->faults = cm.v[3];
	return 0;
}

static void print_header(struct rdma_opts *o)
{
	printf("---------------------------------------------------------------------------------------\n");
	printf("                    RDMA_%s BW Test (devmem software RDMA device)\n",
	       o->test == TEST_WRITE ? "Write" :
	       o->test == TEST_READ  ? "Read" :
				       "Send");
	printf(" Memory: %s%s   TX depth: %llu   Evict every: %llu\n", o->vram ? "vram" : "host",
	       o->vram ? (o->pinned ? " (pinned)" : " (dynamic)") : "",
	       (unsigned long long)o->tx_depth, (unsigned long long)o->evict_every);
	printf("---------------------------------------------------------------------------------------\n");
	printf(" #bytes     #iterations    BW peak[MB/sec]    BW average[MB/sec]   MsgRate[Mpps]");
	if (o->vram && !o->pinned)
		printf("   invalidations  re-faults  faults");
	printf("\n");
}

static void print_row(struct rdma_opts *o, const struct rdma_run_result *r)
{
	printf(" %-10llu %-10llu     %-18.2f %-20.2f %-12.6f", (unsigned long long)r->bytes,
	       (unsigned long long)r->iters, r->peak, r->avg, r->rate);
	if (o->vram && !o->pinned)
		printf("   %-14llu %-10llu %llu", (unsigned long long)r->invalidations,
		       (unsigned long long)r->refaults, (unsigned long long)r->faults);
	printf("%s\n", r->validated ? "" : "   DATA MISMATCH");
}

static int client(struct rdma_opts *o)
{
	uint64_t max = o->all ? RDMA_SWEEP_MAX : o->size, size;
	struct rdma_run_result res[32];
	struct rdma_end e = { 0 };
	struct devmem_ibv_mr *mr = NULL;
	struct ctl_msg cm, info;
	uint8_t *local = NULL;
	int ctl, wire = -1, err, nres = 0, i;
	bool ok = true;

	ctl = tcp_connect(o->server, o->port);
	if (ctl < 0)
		return sys_fail(ctl, "connect to %s port %u", o->server, o->port);
	cm = (struct ctl_msg){ .type = CTL_HELLO, .test = o->test, .len = max };
	err = end_open(&e, o->tx_depth);
	local = aligned_alloc(page_size(), max * RDMA_SLOTS);
	if (!err && local)
		mr = devmem_ibv_reg_mr(e.pd, local, max * RDMA_SLOTS, RDMA_ACCESS);
	if (err || !mr) {
		err = fail(err ? err : -errno, "the RDMA device and memory region");
		goto out;
	}
	if (ctl_io(ctl, &cm, true) || ctl_io(ctl, &info, false) || info.type != CTL_INFO) {
		err = sys_fail(-EPROTO, "the exchange with the server");
		goto out;
	}
	cm = (struct ctl_msg){ .type = CTL_INFO, .qpn = e.qp->qp_num };
	if (ctl_io(ctl, &cm, true)) {
		err = sys_fail(-EPIPE, "the exchange with the server");
		goto out;
	}
	/* the report describes the server's memory region */
	o->vram = info.v[0];
	o->pinned = info.v[1];
	wire = tcp_connect(o->server, o->port);
	if (wire < 0 || (err = end_connect(&e, wire, info.qpn))) {
		err = fail(wire < 0 ? wire : err, "connect the queue pair");
		goto out;
	}
	if (!o->json)
		print_header(o);
	for (size = o->all ? 2 : o->size; size <= max; size *= 2) {
		err = client_run(o, &e, mr, local, &info, ctl, size, &res[nres]);
		if (err) {
			err = fail(err, "the %llu-byte run", (unsigned long long)size);
			goto out;
		}
		ok &= res[nres].validated;
		if (!o->json)
			print_row(o, &res[nres]), fflush(stdout);
		nres++;
		if (!o->all)
			break;
	}
	cm = (struct ctl_msg){ .type = CTL_BYE };
	ctl_io(ctl, &cm, true);
	if (o->json) {
		struct json j;

		json_begin(&j, stdout);
		json_str(&j, "test", test_names[o->test]);
		json_str(&j, "memory", o->vram ? "vram" : "host");
		json_str(&j, "mr", !o->vram ? "host" : o->pinned ? "pinned" : "dynamic");
		json_u64(&j, "tx_depth", o->tx_depth);
		json_u64(&j, "evict_every", o->evict_every);
		json_array(&j, "results");
		for (i = 0; i < nres; i++) {
			json_object(&j, NULL);
			json_u64(&j, "bytes", res[i].bytes);
			json_u64(&j, "iterations", res[i].iters);
			json_double(&j, "bw_peak_mb_s", res[i].peak);
			json_double(&j, "bw_avg_mb_s", res[i].avg);
			json_double(&j, "msg_rate_mpps", res[i].rate);
			json_u64(&j, "invalidations", res[i].invalidations);
			json_u64(&j, "refaults", res[i].refaults);
			json_u64(&j, "faults", res[i].faults);
			json_bool(&j, "validated", res[i].validated);
			json_close(&j);
		}
		json_close(&j);
		json_end(&j);
	} else {
		printf("---------------------------------------------------------------------------------------\n");
	}
	err = 0;
	if (!ok) {
		msg("data mismatch");
		err = EXIT_RUNTIME;
	}
out:
	if (mr)
		devmem_ibv_dereg_mr(mr);
	end_close(&e);
	free(local);
	if (wire >= 0)
		close(wire);
	close(ctl);
	return err;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: devmem rdma write-bw|read-bw|send-bw [OPTIONS]          (server)\n"
		"       devmem rdma write-bw|read-bw|send-bw [OPTIONS] SERVER   (client)\n\n"
		"perftest's bandwidth tests on the software RDMA device; the server's memory\n"
		"region is the target (write, send) or the source (read).\n\n"
		"  -p, --port PORT      control and wire port (default %u)\n"
		"  -s, --size SIZE      message size (default 65536)\n"
		"  -n, --iters N        messages per size (default 5000)\n"
		"  -a, --all            every power of two from 2 B to 8 MiB\n"
		"  -t, --tx-depth N     work requests in flight (default 128)\n"
		"      --memory M       host or vram: the server's memory (default host)\n"
		"      --pinned         vram: a pinned MR (the buffer never moves)\n"
		"      --dynamic        vram: a dynamic MR (the default)\n"
		"      --evict-every N  evict the server's vram every N completions\n"
		"      --json           one JSON object on stdout (client)\n",
		RDMA_DEFAULT_PORT);
}

static int parse(int argc, char **argv, struct rdma_opts *o)
{
	static const struct option longopts[] = { { "port", required_argument, NULL, 'p' },
						  { "size", required_argument, NULL, 's' },
						  { "iters", required_argument, NULL, 'n' },
						  { "all", no_argument, NULL, 'a' },
						  { "tx-depth", required_argument, NULL, 't' },
						  { "memory", required_argument, NULL, 'M' },
						  { "pinned", no_argument, NULL, 'P' },
						  { "dynamic", no_argument, NULL, 'D' },
						  { "evict-every", required_argument, NULL, 'E' },
						  { "json", no_argument, NULL, 'J' },
						  { "help", no_argument, NULL, 'h' },
						  {} };
	uint64_t v;
	int c;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : -1;
	}
	for (c = 0; c < 3; c++)
		if (!strcmp(argv[1], test_names[c]))
			break;
	if (c == 3)
		return usage_error("rdma", "unknown test '%s' (write-bw, read-bw, send-bw)",
				   argv[1]);
	*o = (struct rdma_opts){
		.test = c, .port = RDMA_DEFAULT_PORT, .size = 65536, .iters = 5000, .tx_depth = 128
	};
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:s:n:at:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_uint(optarg, 1, 65535, &v))
				return usage_error("rdma", "bad port '%s'", optarg);
			o->port = v;
			break;
		case 's':
			if (parse_size(optarg, &o->size) || !o->size || o->size > (1ULL << 30))
				return usage_error("rdma", "bad size '%s' (1 B to 1 GiB)", optarg);
			break;
		case 'n':
			if (parse_uint(optarg, 1, 1ULL << 40, &o->iters))
				return usage_error("rdma", "bad iteration count '%s'", optarg);
			break;
		case 'a':
			o->all = true;
			break;
		case 't':
			if (parse_uint(optarg, 1, 8192, &o->tx_depth))
				return usage_error("rdma", "bad tx depth '%s' (1..8192)", optarg);
			break;
		case 'M':
			if (strcmp(optarg, "host") && strcmp(optarg, "vram"))
				return usage_error("rdma", "--memory is host or vram");
			o->vram = !strcmp(optarg, "vram");
			break;
		case 'P':
			o->pinned = true;
			break;
		case 'D':
			o->pinned = false;
			break;
		case 'E':
			if (parse_uint(optarg, 1, 1ULL << 40, &o->evict_every))
				return usage_error("rdma", "bad --evict-every '%s'", optarg);
			break;
		case 'J':
			o->json = true;
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			return usage_error("rdma", "unknown option");
		}
	}
	if (optind < argc)
		o->server = argv[optind++];
	if (optind < argc)
		return usage_error("rdma", "unexpected argument '%s'", argv[optind]);
	return 0;
}

int cmd_rdma(int argc, char **argv)
{
	struct rdma_opts o;
	int err = parse(argc, argv, &o);

	if (err)
		return err < 0 ? 0 : err;
	err = o.server ? client(&o) : server(&o);
	return err ? EXIT_RUNTIME : 0;
}
