// SPDX-License-Identifier: MIT
/*
 * devmem sockets (devmem/socket.h) on the software NIC over lo: the
 * receive rules (EFAULT without MSG_SOCK_DEVMEM, MSG_CTRUNC and ETOOSMALL,
 * split fragments, EAGAIN, end of stream), SO_DEVMEM_DONTNEED and its
 * limits, host-memory queues, the lifetimes of sockets, tokens and
 * bindings, attach refusals, and devmem TX with its zerocopy completions.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devmem/dma-buf.h"
#include "devmem/error.h"
#include "devmem/host.h"
#include "devmem/netdev.h"
#include "devmem/socket.h"
#include "devmem/swnic.h"
#include "net/devmem.h"
#include "net/page_pool.h"
#include "net/sock.h"
#include "support/flow-test.h"
#include "support/test-nic.h"
#include "harness.h"

#define MiB (1UL << 20)
#define KiB (1UL << 10)
#define ETOOSMALL_ 525 /* the kernel's ETOOSMALL (524 is ENOTSUPP): no cmsg fits */
#define ACCEPT_MS 10000
#define WAIT_MS 20000
#define RX_MS 60000

/* ---- helpers ---- */

/* A connected pair on the rig's listener; the server joined to its queue. */
struct pair {
	int client, server;
	uint64_t sent; /* pattern bytes the client sent */
};

static struct pair pair_up(struct flow_rig *r, int expect_queue)
{
	struct pair p = { .client = flow_connect(&r->l) };

	cr_assert_geq(p.client, 0, "connect: %s", strerror(-p.client));
	p.server = flow_accept(&r->l, ACCEPT_MS);
	cr_assert_geq(p.server, 0, "accept: %s", strerror(-p.server));
	if (expect_queue >= 0)
		cr_assert_eq(devmem_sock_attach(p.server), expect_queue, "attach: %s",
			     devmem_last_error());
	return p;
}

static void pair_down(struct pair *p)
{
	cr_assert_eq(devmem_close(p->server), 0);
	close(p->client);
}

/* The client sends the next @len bytes of the pattern (they fit the socket buffers). */
static void send_pattern(struct pair *p, size_t len)
{
	unsigned char *buf = malloc(len);
	size_t done = 0;

	cr_assert_not_null(buf);
	flow_pattern_fill(buf, p->sent, len);
	while (done < len) {
		ssize_t n = send(p->client, buf + done, len - done, 0);

		cr_assert_gt(n, 0, "send: %s", strerror(errno));
		done += (size_t)n;
	}
	p->sent += len;
	free(buf);
}

static void wait_queued(struct flow_rig *r, struct pair *p, uint64_t consumed)
{
	cr_assert_eq(flow_wait_queued(r->ifindex, p->server, p->sent, consumed, WAIT_MS), 0,
		     "the queue never delivered %llu bytes", (unsigned long long)p->sent);
}

static struct devmem_sock_stats sock_stats(int fd)
{
	struct devmem_sock_stats ss;

	cr_assert_eq(devmem_sock_stats(fd, &ss), 0, "%s", devmem_last_error());
	return ss;
}

/* Each dma-buf cmsg of @m is the pattern from *@pos on, in the rig's buffer. */
static void check_frags(struct flow_rig *r, const struct flow_msg *m, uint64_t *pos)
{
	cr_assert_eq(dma_buf_begin_cpu_access(r->buf, DMA_FROM_DEVICE), 0);
	for (unsigned int i = 0; i < m->nr; i++) {
		const struct dmabuf_cmsg *dc = &m->c[i].dc;
		ssize_t bad;

		cr_assert_eq(m->c[i].level, SOL_SOCKET);
		cr_assert_eq(m->c[i].type, SCM_DEVMEM_DMABUF, "cmsg %u of type %d", i,
			     m->c[i].type);
		cr_assert_eq(m->c[i].len, CMSG_LEN(sizeof(*dc)));
		cr_assert_eq(dc->dmabuf_id, r->id);
		cr_assert_gt(dc->frag_size, 0);
		cr_assert_leq(dc->frag_offset + dc->frag_size, r->buf->size);
		bad = flow_pattern_mismatch(r->va + dc->frag_offset, *pos, dc->frag_size);
		cr_assert_eq(bad, -1, "stream byte %llu wrong", (unsigned long long)(*pos + bad));
		*pos += dc->frag_size;
	}
	cr_assert_eq(dma_buf_end_cpu_access(r->buf, DMA_FROM_DEVICE), 0);
}

/* DONTNEED on @n entries: what devmem_setsockopt() returned, errno in *@err. */
static int dontneed(int fd, const struct dmabuf_token *t, unsigned int n, int *err)
{
	int ret;

	errno = 0;
	ret = devmem_setsockopt(fd, SOL_SOCKET, SO_DEVMEM_DONTNEED, t, (socklen_t)(n * sizeof(*t)));
	*err = ret < 0 ? errno : 0;
	return ret;
}

static struct flow_msg msg; /* large: not on the stack */
static unsigned char iobuf[4 * MiB];

/*
 * A bound rig and a pair whose server holds the tokens of @bytes read from
 * the dma-buf; their cmsgs are in @held (returned: how many).
 */
static unsigned int hold_tokens(struct flow_rig *r, struct pair *p, size_t bytes,
				struct dmabuf_cmsg *held, unsigned int max)
{
	uint64_t pos = p->sent;
	unsigned int n = 0;

	send_pattern(p, bytes);
	wait_queued(r, p, 0);
	while (pos < p->sent) {
		cr_assert_gt(flow_recv(p->server, MSG_SOCK_DEVMEM | MSG_DONTWAIT, iobuf,
				       sizeof(iobuf), FLOW_CMSG_ROOM(128), &msg),
			     0, "%s", strerror(msg.err));
		check_frags(r, &msg, &pos);
		for (unsigned int i = 0; i < msg.nr; i++) {
			cr_assert_lt(n, max);
			held[n++] = msg.c[i].dc;
		}
	}
	cr_assert_eq(sock_stats(p->server).tokens_held, n);
	return n;
}

static const struct flow_rig_opts bound = { .buf_size = 1 * MiB, .bind = true };

/* ---- receive rules ---- */

Test(socket, recvmsg_without_msg_sock_devmem_on_dmabuf_data_is_efault)
{
	struct devmem_sock_stats before, after;
	struct flow_rig r;
	struct pair p;
	uint64_t pos = 0;

	rig_up(&r, &bound);
	p = pair_up(&r, (int)r.queue);
	send_pattern(&p, 8192);
	wait_queued(&r, &p, 0);
	before = sock_stats(p.server);
	cr_assert_eq(
		flow_recv(p.server, MSG_DONTWAIT, iobuf, sizeof(iobuf), FLOW_CMSG_ROOM(16), &msg),
		-1);
	cr_assert_eq(msg.err, EFAULT, "got %s", strerror(msg.err));
	cr_assert_eq(flow_recv(p.server, 0, iobuf, sizeof(iobuf), 0, &msg), -1,
		     "blocking, no control buffer");
	cr_assert_eq(msg.err, EFAULT);
	after = sock_stats(p.server);
	cr_assert_eq(after.frags_queued, before.frags_queued, "the data is still queued");
	cr_assert_eq(after.frags, 0);
	cr_assert_eq(after.tokens_held, 0);

	/* and MSG_SOCK_DEVMEM then gets all of it */
	while (pos < p.sent) {
		cr_assert_gt(flow_recv(p.server, MSG_SOCK_DEVMEM | MSG_DONTWAIT, iobuf,
				       sizeof(iobuf), FLOW_CMSG_ROOM(128), &msg),
			     0);
		check_frags(&r, &msg, &pos);
		for (unsigned int i = 0; i < msg.nr; i++)
			cr_assert_eq(flow_dontneed_one(p.server, msg.c[i].dc.frag_token), 1);
	}
	cr_assert_eq(pos, 8192);
	pair_down(&p);
	rig_down(&r);
}

Test(socket, fewer_cmsgs_than_fragments_returns_what_fits_and_keeps_the_rest)
{
	struct flow_rig r;
	struct pair p;
	uint64_t pos = 0, consumed = 0, calls = 0, ctrunc = 0;

	rig_up(&r, &bound);
	p = pair_up(&r, (int)r.queue);
	send_pattern(&p, 64 * KiB);
	wait_queued(&r, &p, 0);
	cr_assert_geq(sock_stats(p.server).frags_queued, 16, "64 KiB in 4 KiB net_iovs");
	while (pos < p.sent) {
		struct devmem_sock_stats ss;
		ssize_t n = flow_recv(p.server, MSG_SOCK_DEVMEM | MSG_DONTWAIT, iobuf,
				      sizeof(iobuf), FLOW_CMSG_ROOM(3), &msg);

		cr_assert_gt(n, 0, "at %llu: %s", (unsigned long long)pos, strerror(msg.err));
		calls++;
		cr_assert_leq(msg.nr, 3);
		cr_assert_eq(msg.dmabuf_bytes, (uint64_t)n);
		check_frags(&r, &msg, &pos);
		consumed += msg.nr;
		ss = sock_stats(p.server);
		/* as the kernel: never MSG_CTRUNC, the rest waits for the next call */
		cr_assert(!(msg.msg_flags & MSG_CTRUNC), "MSG_CTRUNC from a devmem receive");
		if (ss.frags_queued) {
			cr_assert_eq(msg.nr, 3, "a full control buffer");
			ctrunc++;
		}
		for (unsigned int i = 0; i < msg.nr; i++)
			cr_assert_eq(flow_dontneed_one(p.server, msg.c[i].dc.frag_token), 1);
	}
	cr_assert_eq(pos, 64 * KiB, "nothing lost, nothing repeated");
	cr_assert_eq(sock_stats(p.server).ctrunc, ctrunc);
	cr_assert_geq(calls, 6);
	pair_down(&p);
	rig_down(&r);
}

Test(socket, control_buffer_too_small_for_one_cmsg_is_etoosmall)
{
	static const size_t lens[] = { 0, 1, sizeof(struct cmsghdr),
				       CMSG_LEN(sizeof(struct dmabuf_cmsg)) - 1 };
	struct devmem_sock_stats before;
	struct flow_rig r;
	struct pair p;
	uint64_t pos = 0;

	rig_up(&r, &bound);
	p = pair_up(&r, (int)r.queue);
	send_pattern(&p, 8192);
	wait_queued(&r, &p, 0);
	before = sock_stats(p.server);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		cr_assert_eq(flow_recv(p.server, MSG_SOCK_DEVMEM | MSG_DONTWAIT, iobuf,
				       sizeof(iobuf), lens[i], &msg),
			     -1, "control buffer of %zu bytes", lens[i]);
		cr_assert_eq(msg.err, ETOOSMALL_, "control buffer of %zu bytes: errno %d", lens[i],
			     msg.err);
		cr_assert(!(msg.msg_flags & MSG_CTRUNC), "control buffer of %zu bytes", lens[i]);
	}
	cr_assert_eq(sock_stats(p.server).frags_queued, before.frags_queued, "nothing was taken");
	cr_assert_eq(sock_stats(p.server).tokens_held, 0);
	/* one cmsg exactly fits */
	while (pos < p.sent) {
		cr_assert_gt(flow_recv(p.server, MSG_SOCK_DEVMEM | MSG_DONTWAIT, iobuf,
				       sizeof(iobuf), CMSG_LEN(sizeof(struct dmabuf_cmsg)), &msg),
			     0, "%s", strerror(msg.err));
		cr_assert_eq(msg.nr, 1);
		check_frags(&r, &msg, &pos);
		cr_assert_eq(flow_dontneed_one(p.server, msg.c[0].dc.frag_token), 1);
	}
	pair_down(&p);
	rig_down(&r);
}

Test(socket, iovec_shorter_than_a_fragment_splits_it_into_two_tokens)
{
	/* 4 net_iovs: the queue is always short of memory and refills at each return */
	struct flow_rig_opts o = { .buf_size = 16 * KiB, .bind = true };
	struct devmem_swnic_rxq_stats qs;
	struct dmabuf_cmsg a, b;
	struct flow_rig r;
	struct pair p;
	uint64_t pos = 0;

	rig_up(&r, &o);
	p = pair_up(&r, (int)r.queue);
	cr_assert_eq(devmem_swnic_rxq_stats(r.ifindex, r.queue, &qs), 0);
	cr_assert_eq(qs.buffers_in_ring, 4);
	send_pattern(&p, 4096);
	wait_queued(&r, &p, 0);
	cr_assert_eq(sock_stats(p.server).frags_queued, 1, "4 KiB sent at once: one fragment");

	cr_assert_eq(flow_recv(p.server, MSG_SOCK_DEVMEM | MSG_DONTWAIT, iobuf, 1000,
			       FLOW_CMSG_ROOM(8), &msg),
		     1000);
	cr_assert_eq(msg.nr, 1);
	a = msg.c[0].dc;
	cr_assert_eq(a.frag_size, 1000);
	check_frags(&r, &msg, &pos);
	cr_assert_eq(sock_stats(p.server).frags_queued, 1, "the rest stays queued");

	cr_assert_eq(flow_recv(p.server, MSG_SOCK_DEVMEM | MSG_DONTWAIT, iobuf, sizeof(iobuf),
			       FLOW_CMSG_ROOM(8), &msg),
		     3096);
	cr_assert_eq(msg.nr, 1);
	b = msg.c[0].dc;
	check_frags(&r, &msg, &pos);
	cr_assert_eq(b.frag_offset, a.frag_offset + 1000, "the same net_iov, after the first part");
	cr_assert_eq(b.frag_offset / 4096, a.frag_offset / 4096);
	cr_assert_neq(a.frag_token, b.frag_token, "two tokens");
	cr_assert_eq(sock_stats(p.server).tokens_held, 2);

	/* one token back: the net_iov is still the user's */
	cr_assert_eq(flow_dontneed_one(p.server, a.frag_token), 1);
	flow_sleep_us(100000);
	cr_assert_eq(devmem_swnic_rxq_stats(r.ifindex, r.queue, &qs), 0);
	cr_assert_eq(qs.buffers_in_ring, 3, "the net_iov went back with one of its two tokens");
	cr_assert_eq(flow_pattern_mismatch(r.va + b.frag_offset, 1000, b.frag_size), -1);
	cr_assert_eq(flow_dontneed_one(p.server, a.frag_token), 0, "given back already");
	/* both back: the queue has it again */
	cr_assert_eq(flow_dontneed_one(p.server, b.frag_token), 1);
	for (int64_t deadline = flow_now_ms() + WAIT_MS;;) {
		cr_assert_eq(devmem_swnic_rxq_stats(r.ifindex, r.queue, &qs), 0);
		if (qs.buffers_in_ring == 4)
			break;
		cr_assert_lt(flow_now_ms(), deadline, "the net_iov never came back (%u in ring)",
			     qs.buffers_in_ring);
		flow_sleep_us(1000);
	}
	cr_assert_eq(sock_stats(p.server).tokens_held, 0);
	pair_down(&p);
	rig_down(&r);
}

Test(socket, dontwait_with_nothing_queued_is_eagain)
{
	struct flow_rig r;
	struct pair p;
	uint64_t pos = 0;

	rig_up(&r, &bound);
	p = pair_up(&r, (int)r.queue);
	cr_assert_eq(flow_recv(p.server, MSG_SOCK_DEVMEM | MSG_DONTWAIT, iobuf, sizeof(iobuf),
			       FLOW_CMSG_ROOM(8), &msg),
		     -1);
	cr_assert_eq(msg.err, EAGAIN, "%s", strerror(msg.err));
	cr_assert_eq(msg.nr, 0);
	cr_assert_eq(flow_recv(p.server, MSG_DONTWAIT, iobuf, sizeof(iobuf), 0, &msg), -1);
	cr_assert_eq(msg.err, EAGAIN, "without MSG_SOCK_DEVMEM too");

	/* after data came and went, again */
	send_pattern(&p, 4096);
	wait_queued(&r, &p, 0);
	while (pos < p.sent) {
		cr_assert_gt(flow_recv(p.server, MSG_SOCK_DEVMEM | MSG_DONTWAIT, iobuf,
				       sizeof(iobuf), FLOW_CMSG_ROOM(8), &msg),
			     0);
		check_frags(&r, &msg, &pos);
		for (unsigned int i = 0; i < msg.nr; i++)
			cr_assert_eq(flow_dontneed_one(p.server, msg.c[i].dc.frag_token), 1);
	}
	cr_assert_eq(flow_recv(p.server, MSG_SOCK_DEVMEM | MSG_DONTWAIT, iobuf, sizeof(iobuf),
			       FLOW_CMSG_ROOM(8), &msg),
		     -1);
	cr_assert_eq(msg.err, EAGAIN);
	pair_down(&p);
	rig_down(&r);
}

/* A non-blocking socket: EAGAIN when empty, then its data, then its end. */
static void nonblocking(bool before_attach)
{
	struct flow_rig r;
	struct flow_rx rx;
	struct pair p;

	rig_up(&r, &bound);
	p = pair_up(&r, -1);
	if (before_attach)
		cr_assert_eq(fcntl(p.server, F_SETFL, fcntl(p.server, F_GETFL) | O_NONBLOCK), 0);
	cr_assert_eq(devmem_sock_attach(p.server), (int)r.queue, "%s", devmem_last_error());
	if (!before_attach)
		cr_assert_eq(fcntl(p.server, F_SETFL, fcntl(p.server, F_GETFL) | O_NONBLOCK), 0);
	flow_sleep_us(20000);
	cr_assert_eq(
		flow_recv(p.server, MSG_SOCK_DEVMEM, iobuf, sizeof(iobuf), FLOW_CMSG_ROOM(8), &msg),
		-1, "a non-blocking socket with nothing queued");
	cr_assert_eq(msg.err, EAGAIN, "%s", strerror(msg.err));

	/* the queue still reads it: the data comes, into the dma-buf, and the end */
	send_pattern(&p, 256 * KiB);
	cr_assert_eq(shutdown(p.client, SHUT_WR), 0);
	cr_assert_eq(flow_rx_init(&rx, p.server), 0);
	flow_rig_rx(&r, &rx);
	rx.no_linear = true;
	cr_assert_eq(flow_rx_run(&rx, p.sent, RX_MS), 0, "%s", rx.why);
	flow_rx_fini(&rx);
	pair_down(&p);
	rig_down(&r);
}

Test(socket, nonblocking_socket_with_nothing_queued_is_eagain_then_reads)
{
	nonblocking(false);
}

Test(socket, socket_nonblocking_before_attach_is_eagain_then_reads)
{
	nonblocking(true);
}

Test(socket, end_of_stream_reads_zero_after_the_data)
{
	struct flow_rig r;
	struct flow_rx rx;
	struct pair p;

	rig_up(&r, &bound);
	p = pair_up(&r, (int)r.queue);
	send_pattern(&p, 100);
	close(p.client);
	p.client = -1;
	cr_assert_eq(flow_rx_init(&rx, p.server), 0);
	flow_rig_rx(&r, &rx);
	cr_assert_eq(flow_rx_run(&rx, 100, RX_MS), 0, "%s", rx.why);
	/* and it stays at the end, for every kind of call */
	cr_assert_eq(flow_recv(p.server, MSG_SOCK_DEVMEM | MSG_DONTWAIT, iobuf, sizeof(iobuf),
			       FLOW_CMSG_ROOM(8), &msg),
		     0);
	cr_assert_eq(msg.nr, 0);
	cr_assert_eq(
		flow_recv(p.server, MSG_SOCK_DEVMEM, iobuf, sizeof(iobuf), FLOW_CMSG_ROOM(8), &msg),
		0, "a blocking call at the end");
	cr_assert_eq(flow_recv(p.server, 0, iobuf, sizeof(iobuf), 0, &msg), 0);
	flow_rx_fini(&rx);
	cr_assert_eq(devmem_close(p.server), 0);
	rig_down(&r);
}

struct later {
	int fd;
	unsigned int delay_ms;
	size_t bytes; /* 0: close instead */
};

static void *send_later(void *arg)
{
	struct later *l = arg;
	unsigned char buf[4096];

	flow_sleep_us(l->delay_ms * 1000);
	if (!l->bytes) {
		shutdown(l->fd, SHUT_WR);
		return NULL;
	}
	flow_pattern_fill(buf, 0, l->bytes);
	if (send(l->fd, buf, l->bytes, 0) != (ssize_t)l->bytes)
		abort();
	return NULL;
}

Test(socket, blocking_recvmsg_waits_for_data_and_for_the_end)
{
	struct later l = { .delay_ms = 150, .bytes = 4096 };
	struct flow_rig r;
	struct pair p;
	pthread_t t;
	int64_t start;
	uint64_t pos = 0;
	ssize_t n;

	rig_up(&r, &bound);
	p = pair_up(&r, (int)r.queue);
	l.fd = p.client;
	cr_assert_eq(pthread_create(&t, NULL, send_later, &l), 0);
	start = flow_now_ms();
	n = flow_recv(p.server, MSG_SOCK_DEVMEM, iobuf, sizeof(iobuf), FLOW_CMSG_ROOM(8), &msg);
	cr_assert_gt(n, 0, "%s", strerror(msg.err));
	cr_assert_geq(flow_now_ms() - start, 100, "returned before the data was sent");
	pthread_join(t, NULL);
	check_frags(&r, &msg, &pos);
	for (unsigned int i = 0; i < msg.nr; i++)
		cr_assert_eq(flow_dontneed_one(p.server, msg.c[i].dc.frag_token), 1);
	while (pos < 4096) {
		cr_assert_gt(flow_recv(p.server, MSG_SOCK_DEVMEM, iobuf, sizeof(iobuf),
				       FLOW_CMSG_ROOM(8), &msg),
			     0);
		check_frags(&r, &msg, &pos);
		for (unsigned int i = 0; i < msg.nr; i++)
			cr_assert_eq(flow_dontneed_one(p.server, msg.c[i].dc.frag_token), 1);
	}

	l.bytes = 0;
	cr_assert_eq(pthread_create(&t, NULL, send_later, &l), 0);
	start = flow_now_ms();
	cr_assert_eq(
		flow_recv(p.server, MSG_SOCK_DEVMEM, iobuf, sizeof(iobuf), FLOW_CMSG_ROOM(8), &msg),
		0);
	cr_assert_geq(flow_now_ms() - start, 100, "the end came before the peer closed");
	pthread_join(t, NULL);
	pair_down(&p);
	rig_down(&r);
}

/* ---- SO_DEVMEM_DONTNEED ---- */

static struct dmabuf_cmsg held[512];

/* Ranges of consecutive tokens covering held[0..n). */
static unsigned int ranges_of(const struct dmabuf_cmsg *h, unsigned int n, struct dmabuf_token *t)
{
	unsigned int nr = 0;

	for (unsigned int i = 0; i < n; i++) {
		if (nr && t[nr - 1].token_start + t[nr - 1].token_count == h[i].frag_token)
			t[nr - 1].token_count++;
		else
			t[nr++] = (struct dmabuf_token){ h[i].frag_token, 1 };
	}
	return nr;
}

Test(socket, dontneed_returns_the_number_freed)
{
	struct dmabuf_token t[512];
	struct devmem_sock_stats ss;
	struct flow_rig r;
	unsigned int n, nr;
	struct pair p;
	int err;

	rig_up(&r, &bound);
	p = pair_up(&r, (int)r.queue);
	n = hold_tokens(&r, &p, 128 * KiB, held, 512);
	cr_assert_geq(n, 32);
	nr = ranges_of(held, n, t);
	cr_assert_leq(nr, DEVMEM_DONTNEED_MAX_TOKENS);
	/* one token alone, then the rest */
	cr_assert_eq(dontneed(p.server, &(struct dmabuf_token){ held[0].frag_token, 1 }, 1, &err),
		     1);
	cr_assert_eq(dontneed(p.server, t, nr, &err), (int)n - 1, "errno %d", err);
	ss = sock_stats(p.server);
	cr_assert_eq(ss.tokens_held, 0);
	cr_assert_eq(ss.tokens_freed, n);
	cr_assert_eq(ss.tokens_unknown, 1, "held[0] was named twice");
	pair_down(&p);
	rig_down(&r);
}

Test(socket, dontneed_with_129_entries_is_einval_and_frees_nothing)
{
	struct dmabuf_token t[DEVMEM_DONTNEED_MAX_TOKENS + 1];
	struct flow_rig r;
	unsigned int n;
	struct pair p;
	int err;

	rig_up(&r, &bound);
	p = pair_up(&r, (int)r.queue);
	n = hold_tokens(&r, &p, 16 * KiB, held, 512);
	for (unsigned int i = 0; i < DEVMEM_DONTNEED_MAX_TOKENS + 1; i++)
		t[i] = (struct dmabuf_token){ held[i % n].frag_token, 1 };
	cr_assert_eq(dontneed(p.server, t, DEVMEM_DONTNEED_MAX_TOKENS + 1, &err), -1);
	cr_assert_eq(err, EINVAL);
	cr_assert_eq(sock_stats(p.server).tokens_held, n, "a refused call freed tokens");
	/* 128 is the limit, not beyond it */
	cr_assert_eq(dontneed(p.server, t, DEVMEM_DONTNEED_MAX_TOKENS, &err), (int)n, "errno %d",
		     err);
	pair_down(&p);
	rig_down(&r);
}

/* Tokens far above any this test holds: every one of them is "not held". */
#define NOT_HELD 1000000U

/*
 * As the kernel's sock_devmem_dontneed(): a call goes through at most 1024
 * fragments, held or not, and stops there; what it freed until then is
 * freed. Held tokens named after the 1024th fragment stay held.
 */
Test(socket, dontneed_stops_at_its_1024th_fragment)
{
	struct dmabuf_token t[3];
	struct flow_rig r;
	unsigned int n;
	struct pair p;
	int err;

	rig_up(&r, &bound);
	p = pair_up(&r, (int)r.queue);
	n = hold_tokens(&r, &p, 16 * KiB, held, 512);
	cr_assert_geq(n, 2);
	/* 1024 unheld fragments first: the held token after them is not reached */
	t[0] = (struct dmabuf_token){ NOT_HELD, 1000 };
	t[1] = (struct dmabuf_token){ NOT_HELD + 2000, 24 };
	t[2] = (struct dmabuf_token){ held[0].frag_token, 1 };
	cr_assert_eq(dontneed(p.server, t, 3, &err), 0, "errno %d", err);
	cr_assert_eq(sock_stats(p.server).tokens_held, n, "a token past the limit was freed");
	/* one range of UINT32_MAX: stops after 1024 too, never wraps */
	t[0] = (struct dmabuf_token){ NOT_HELD, UINT32_MAX };
	t[1] = (struct dmabuf_token){ held[0].frag_token, 1 };
	cr_assert_eq(dontneed(p.server, t, 2, &err), 0, "errno %d", err);
	cr_assert_eq(sock_stats(p.server).tokens_held, n);
	/* 1023 unheld, then the held one is the 1024th: freed */
	t[0] = (struct dmabuf_token){ NOT_HELD, 1023 };
	t[1] = (struct dmabuf_token){ held[0].frag_token, 1 };
	cr_assert_eq(dontneed(p.server, t, 2, &err), 1, "errno %d", err);
	cr_assert_eq(sock_stats(p.server).tokens_held, n - 1);
	/* a range covering the held tokens and running past 1024 frees them all */
	t[0] = (struct dmabuf_token){ 0, 5000 };
	cr_assert_eq(dontneed(p.server, t, 1, &err), (int)(n - 1), "errno %d", err);
	cr_assert_eq(sock_stats(p.server).tokens_held, 0);
	pair_down(&p);
	rig_down(&r);
}

Test(socket, dontneed_with_a_bad_length_is_einval)
{
	struct dmabuf_token t[2] = { { 0, 1 }, { 1, 1 } };
	struct flow_rig r;
	unsigned int n;
	struct pair p;

	rig_up(&r, &bound);
	p = pair_up(&r, (int)r.queue);
	n = hold_tokens(&r, &p, 8 * KiB, held, 512);
	for (socklen_t len = 0; len < 2 * sizeof(t[0]); len++) {
		if (len == sizeof(t[0]))
			continue;
		errno = 0;
		cr_assert_eq(devmem_setsockopt(p.server, SOL_SOCKET, SO_DEVMEM_DONTNEED, t, len),
			     -1, "optlen %u", len);
		cr_assert_eq(errno, EINVAL, "optlen %u: errno %d", len, errno);
	}
	errno = 0;
	cr_assert_eq(devmem_setsockopt(p.server, SOL_SOCKET, SO_DEVMEM_DONTNEED, t, 12), -1);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(sock_stats(p.server).tokens_held, n);
	pair_down(&p);
	rig_down(&r);
}

Test(socket, dontneed_skips_and_counts_unknown_repeated_and_out_of_range_tokens)
{
	struct devmem_sock_stats ss;
	struct flow_rig r;
	unsigned int n;
	struct pair p;
	int err;

	rig_up(&r, &bound);
	p = pair_up(&r, (int)r.queue);
	n = hold_tokens(&r, &p, 16 * KiB, held, 512);
	cr_assert_geq(n, 2);
	{
		struct dmabuf_token t[] = {
			{ held[0].frag_token, 1 }, /* held */
			{ held[0].frag_token, 1 }, /* repeated */
			{ 5000000, 1 }, /* never given */
			{ UINT32_MAX, 1 }, /* out of any range */
			{ 70000, 3 }, /* never given */
		};

		cr_assert_eq(dontneed(p.server, t, 5, &err), 1, "errno %d", err);
	}
	ss = sock_stats(p.server);
	cr_assert_eq(ss.tokens_held, n - 1);
	cr_assert_eq(ss.tokens_freed, 1);
	cr_assert_eq(ss.tokens_unknown, 6);
	/* given back already: skipped again */
	cr_assert_eq(flow_dontneed_one(p.server, held[0].frag_token), 0);
	ss = sock_stats(p.server);
	cr_assert_eq(ss.tokens_unknown, 7);
	cr_assert_eq(ss.tokens_held, n - 1);
	for (unsigned int i = 1; i < n; i++)
		cr_assert_eq(flow_dontneed_one(p.server, held[i].frag_token), 1);
	pair_down(&p);
	rig_down(&r);
}

/*
 * sock_devmem_dontneed() erases token_start + j in 32 bits: a range past
 * UINT32_MAX goes on from 0 (never a token: they start at 1), 1, 2.
 */
Test(socket, dontneed_range_past_uint32_max_wraps_to_the_low_tokens)
{
	struct devmem_sock_stats ss;
	struct flow_rig r;
	unsigned int n, held12 = 0;
	struct pair p;
	int err;

	rig_up(&r, &bound);
	p = pair_up(&r, (int)r.queue);
	n = hold_tokens(&r, &p, 16 * KiB, held, 512);
	for (unsigned int i = 0; i < n; i++)
		held12 += held[i].frag_token == 1 || held[i].frag_token == 2;
	cr_assert_eq(held12, 2, "tokens 1 and 2 are held");
	/* UINT32_MAX - 1, UINT32_MAX, 0, 1, 2 */
	cr_assert_eq(dontneed(p.server, &(struct dmabuf_token){ UINT32_MAX - 1, 5 }, 1, &err), 2,
		     "errno %d", err);
	ss = sock_stats(p.server);
	cr_assert_eq(ss.tokens_held, n - 2);
	cr_assert_eq(ss.tokens_unknown, 3);
	for (unsigned int i = 0; i < n; i++)
		if (held[i].frag_token > 2)
			cr_assert_eq(flow_dontneed_one(p.server, held[i].frag_token), 1);
	pair_down(&p);
	rig_down(&r);
}

Test(socket, dontneed_on_a_tcp_socket_never_read_through_devmem_is_zero)
{
	struct flow_listener l;
	int client, server, err;

	alarm(FLOW_TEST_SECONDS);
	cr_assert_eq(flow_listen(AF_INET, &l), 0);
	client = flow_connect(&l);
	cr_assert_geq(client, 0);
	server = flow_accept(&l, ACCEPT_MS);
	cr_assert_geq(server, 0);
	cr_assert_eq(dontneed(server, &(struct dmabuf_token){ 0, 1 }, 1, &err), 0, "errno %d", err);
	cr_assert_eq(dontneed(client, &(struct dmabuf_token){ 7, 100 }, 1, &err), 0);
	cr_assert_eq(devmem_sock_nr_live(), 0, "DONTNEED made a devmem socket");
	/* a plain socket still reads plainly */
	cr_assert_eq(send(client, "x", 1, 0), 1);
	{
		char c;
		struct pollfd pf = { .fd = server, .events = POLLIN };

		cr_assert_eq(poll(&pf, 1, WAIT_MS), 1);
		cr_assert_eq(recv(server, &c, 1, 0), 1);
		cr_assert_eq(c, 'x');
	}
	close(server);
	close(client);
	flow_listener_close(&l);
	assert_all_gone();
}

Test(socket, other_options_pass_through_to_setsockopt)
{
	struct flow_rig r;
	struct pair p;
	int one = 1, v = 0, size = 8192, err_sys, err_dm;
	socklen_t len = sizeof(v);

	rig_up(&r, &bound);
	p = pair_up(&r, (int)r.queue);
	/* on a devmem socket and on a plain one */
	for (int i = 0; i < 2; i++) {
		int fd = i ? p.client : p.server;

		cr_assert_eq(devmem_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
		len = sizeof(v);
		cr_assert_eq(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
		cr_assert_neq(v, 0);
		cr_assert_eq(devmem_setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)), 0);
		len = sizeof(v);
		cr_assert_eq(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &len), 0);
		cr_assert_eq(v, 2 * size, "the kernel doubles SO_RCVBUF");
		/* refusals are the kernel's */
		errno = 0;
		cr_assert_eq(setsockopt(fd, SOL_SOCKET, 12345, &one, sizeof(one)), -1);
		err_sys = errno;
		errno = 0;
		cr_assert_eq(devmem_setsockopt(fd, SOL_SOCKET, 12345, &one, sizeof(one)), -1);
		err_dm = errno;
		cr_assert_eq(err_dm, err_sys);
		errno = 0;
		cr_assert_eq(devmem_setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &one, 1), -1);
		cr_assert_eq(errno, EINVAL);
	}
	pair_down(&p);
	rig_down(&r);
}

/* ---- host memory ---- */

/*
 * tcp_recvmsg_locked() copies readable skbs with no devmem cmsg, whatever
 * the flags: SCM_DEVMEM_LINEAR is only for the linear part of a devmem skb.
 */
Test(socket, unbound_queue_data_is_copied_with_no_cmsg_and_needs_no_control_buffer)
{
	struct flow_rig_opts o = { 0 };
	struct flow_rig r;
	struct pair p;
	uint64_t pos = 0;

	rig_up(&r, &o);
	p = pair_up(&r, (int)r.queue);
	send_pattern(&p, 20000);
	wait_queued(&r, &p, 0);
	for (unsigned int call = 0; pos < p.sent; call++) {
		/* every other call with no control buffer at all */
		ssize_t n = flow_recv(p.server, MSG_SOCK_DEVMEM | MSG_DONTWAIT, iobuf, 7000,
				      call % 2 ? 0 : FLOW_CMSG_ROOM(8), &msg);

		cr_assert_gt(n, 0, "call %u: %s", call, strerror(msg.err));
		cr_assert_leq(n, 7000);
		cr_assert_eq(msg.nr, 0, "no cmsg for host-memory data");
		cr_assert_eq(msg.controllen, 0);
		cr_assert(!(msg.msg_flags & MSG_CTRUNC));
		cr_assert_eq(flow_pattern_mismatch(iobuf, pos, (size_t)n), -1);
		pos += (uint64_t)n;
	}
	cr_assert_eq(sock_stats(p.server).bytes_linear, 20000);
	cr_assert_eq(sock_stats(p.server).tokens_held, 0);
	pair_down(&p);
	rig_down(&r);
}

Test(socket, unbound_queue_without_msg_sock_devmem_copies_plainly)
{
	struct flow_rig_opts o = { 0 };
	struct flow_rig r;
	struct pair p;
	uint64_t pos = 0;

	rig_up(&r, &o);
	p = pair_up(&r, (int)r.queue);
	send_pattern(&p, 20000);
	wait_queued(&r, &p, 0);
	while (pos < p.sent) {
		ssize_t n = flow_recv(p.server, MSG_DONTWAIT, iobuf, 3000, FLOW_CMSG_ROOM(8), &msg);

		cr_assert_gt(n, 0, "%s", strerror(msg.err));
		cr_assert_eq(msg.nr, 0, "no cmsg without MSG_SOCK_DEVMEM");
		cr_assert_eq(msg.controllen, 0);
		cr_assert_eq(flow_pattern_mismatch(iobuf, pos, (size_t)n), -1);
		pos += (uint64_t)n;
	}
	pair_down(&p);
	rig_down(&r);
}

static void linear_stream(uint32_t rx_mode, uint32_t host_buf_size)
{
	struct flow_rig_opts o = { .rx_mode = rx_mode, .host_buf_size = host_buf_size };
	struct flow_sender_opts so = { .bytes = 8 * MiB, .random_chunks = true };
	struct flow_sender s;
	struct flow_rig r;
	struct flow_rx rx;
	int fd;

	rig_up(&r, &o);
	cr_assert_eq(flow_sender_start(&r.l, &so, &s), 0);
	fd = flow_accept(&r.l, ACCEPT_MS);
	cr_assert_geq(fd, 0);
	cr_assert_eq(devmem_sock_attach(fd), (int)r.queue);
	cr_assert_eq(flow_rx_init(&rx, fd), 0);
	rx.no_dmabuf = true;
	rx.random_iov = true;
	rx.iov_len = 100000;
	cr_assert_eq(flow_rx_run(&rx, so.bytes, RX_MS), 0, "%s", rx.why);
	cr_assert_eq(flow_sender_wait(&s, WAIT_MS), 0);
	cr_assert_eq(sock_stats(fd).bytes_linear, so.bytes);
	flow_rx_fini(&rx);
	cr_assert_eq(devmem_close(fd), 0);
	rig_down(&r);
}

Test(socket, unbound_queue_stream_is_copied_intact_single_4k)
{
	linear_stream(DEVMEM_SWNIC_RX_SINGLE, 0);
}

Test(socket, unbound_queue_stream_is_copied_intact_auto_16k)
{
	linear_stream(DEVMEM_SWNIC_RX_AUTO, 16384);
}

/*
 * A socket nobody reads holds its sender back, as a kernel socket does once
 * its receive buffer is full (swnic.h: the kernel socket buffer fills and TCP
 * holds the sender back): on host pages too, the queue must not read a
 * stream into memory faster than the application takes it.
 */
Test(socket, unread_socket_on_an_unbound_queue_holds_the_sender_back)
{
	struct flow_rig_opts o = { 0 };
	struct flow_sender_opts so = { .bytes = 128 * MiB, .thread = true };
	struct devmem_sock_stats ss;
	struct flow_sender s;
	struct flow_rig r;
	struct flow_rx rx;
	uint64_t ahead;
	int fd;

	rig_up(&r, &o);
	cr_assert_eq(flow_sender_start(&r.l, &so, &s), 0);
	fd = flow_accept(&r.l, ACCEPT_MS);
	cr_assert_geq(fd, 0);
	cr_assert_eq(devmem_sock_attach(fd), (int)r.queue);
	flow_sleep_us(2000000);
	ahead = flow_sender_sent(&s);
	ss = sock_stats(fd);
	/* kernel buffers are a few MiB; the queue's ring of host pages 16 MiB */
	cr_assert_lt(ahead, 64 * MiB,
		     "the sender got %llu MiB ahead of a reader that read nothing (%llu fragments "
		     "queued on the socket)",
		     (unsigned long long)(ahead >> 20), (unsigned long long)ss.frags_queued);
	cr_assert_eq(flow_rx_init(&rx, fd), 0);
	rx.no_dmabuf = true;
	cr_assert_eq(flow_rx_run(&rx, so.bytes, RX_MS), 0, "%s", rx.why);
	cr_assert_eq(flow_sender_wait(&s, WAIT_MS), 0);
	flow_rx_fini(&rx);
	cr_assert_eq(devmem_close(fd), 0);
	rig_down(&r);
}

Test(socket, socket_on_no_software_nic_is_read_as_the_system_call_reads_it)
{
	struct flow_listener l;
	struct pair p;
	uint64_t pos = 0;

	alarm(FLOW_TEST_SECONDS);
	cr_assert_eq(flow_listen(AF_INET, &l), 0);
	p.client = flow_connect(&l);
	cr_assert_geq(p.client, 0);
	p.server = flow_accept(&l, ACCEPT_MS);
	cr_assert_geq(p.server, 0);
	p.sent = 0;
	cr_assert_eq(devmem_sock_attach(p.server), -ENODEV);
	send_pattern(&p, 10000);
	while (pos < p.sent) {
		ssize_t n = flow_recv(p.server, MSG_SOCK_DEVMEM, iobuf, sizeof(iobuf),
				      pos ? FLOW_CMSG_ROOM(8) : 0, &msg);

		cr_assert_gt(n, 0, "%s", strerror(msg.err));
		cr_assert_eq(msg.nr, 0, "plain TCP data has no devmem cmsg");
		cr_assert_eq(msg.controllen, 0);
		cr_assert_eq(flow_pattern_mismatch(iobuf, pos, (size_t)n), -1);
		pos += (uint64_t)n;
	}
	cr_assert_eq(sock_stats(p.server).rxq, -1);
	cr_assert_eq(sock_stats(p.server).ifindex, 0);
	pair_down(&p);
	flow_listener_close(&l);
	assert_all_gone();
}

/* ---- lifetimes ---- */

static int count_pools_of(const struct devmem_page_pool_info *info, void *data)
{
	uint32_t *want = data;

	if (info->dmabuf == want[0])
		want[1]++;
	return 0;
}

/* Page pools that still name binding @id. */
static unsigned int pools_of_binding(int ifindex, uint32_t id)
{
	uint32_t arg[2] = { id, 0 };
	struct devmem_ctl *ctl;

	cr_assert_eq(devmem_ctl_open(&ctl), 0);
	cr_assert_eq(devmem_page_pool_dump(ctl, ifindex, count_pools_of, arg), 0);
	devmem_ctl_close(ctl);
	return arg[1];
}

static void wait_bindings(long n)
{
	for (int64_t deadline = flow_now_ms() + WAIT_MS; net_devmem_nr_bindings() != n;) {
		cr_assert_lt(flow_now_ms(), deadline, "%ld bindings, expected %ld",
			     net_devmem_nr_bindings(), n);
		flow_sleep_us(1000);
	}
}

Test(socket, close_with_held_tokens_and_queued_fragments_releases_everything)
{
	struct devmem_binding_info bi;
	struct devmem_sock_stats ss;
	struct flow_rig r;
	struct pair p;
	uint64_t pos = 0;
	ssize_t n;

	rig_up(&r, &bound);
	p = pair_up(&r, (int)r.queue);
	send_pattern(&p, 64 * KiB);
	wait_queued(&r, &p, 0);
	n = flow_recv(p.server, MSG_SOCK_DEVMEM | MSG_DONTWAIT, iobuf, sizeof(iobuf),
		      FLOW_CMSG_ROOM(4), &msg);
	cr_assert_eq(n, (ssize_t)msg.dmabuf_bytes);
	cr_assert_eq(msg.nr, 4);
	check_frags(&r, &msg, &pos);
	ss = sock_stats(p.server);
	cr_assert_eq(ss.tokens_held, 4);
	cr_assert_gt(ss.frags_queued, 0);
	cr_assert_eq(pools_of_binding(r.ifindex, r.id), 1);
	cr_assert_eq(devmem_binding_get(r.ctl, r.id, &bi), 0);
	cr_assert_geq(bi.niovs_in_use, 4 + ss.frags_queued);

	cr_assert_eq(devmem_close(p.server), 0);
	cr_assert_eq(devmem_sock_nr_live(), 0, "the socket outlived its close");
	cr_assert_eq(devmem_sock_stats(p.server, &ss), -EBADF);
	devmem_ctl_close(r.ctl);
	r.ctl = NULL;
	wait_bindings(0);
	cr_assert_eq(pools_of_binding(r.ifindex, r.id), 0, "a pool of the binding is left");
	close(p.client);
	rig_down(&r);
}

Test(socket, ctl_close_keeps_held_fragments_valid_and_later_data_linear)
{
	struct devmem_swnic_rxq_stats qs;
	struct devmem_binding_info bi;
	struct devmem_ctl *ctl2;
	struct flow_rig r;
	struct flow_rx rx;
	unsigned int n;
	struct pair p;

	rig_up(&r, &bound);
	p = pair_up(&r, (int)r.queue);
	n = hold_tokens(&r, &p, 32 * KiB, held, 512);
	devmem_ctl_close(r.ctl);
	r.ctl = NULL;
	cr_assert_eq(devmem_swnic_rxq_stats(r.ifindex, r.queue, &qs), 0);
	cr_assert(!qs.bound, "the queue is unbound");
	cr_assert_eq(net_devmem_nr_bindings(), 1, "the held fragments keep the binding");
	cr_assert_eq(devmem_ctl_open(&ctl2), 0);
	cr_assert_eq(devmem_binding_get(ctl2, r.id, &bi), 0);
	cr_assert(bi.unbound);
	cr_assert(!bi.owned);
	cr_assert_eq(bi.nr_queues, 0);
	devmem_ctl_close(ctl2);

	/* the held bytes are intact */
	for (unsigned int i = 0, pos = 0; i < n; pos += held[i++].frag_size)
		cr_assert_eq(
			flow_pattern_mismatch(r.va + held[i].frag_offset, pos, held[i].frag_size),
			-1, "held fragment %u changed", i);

	/* later data comes into host pages */
	send_pattern(&p, 32 * KiB);
	cr_assert_eq(shutdown(p.client, SHUT_WR), 0);
	cr_assert_eq(flow_rx_init(&rx, p.server), 0);
	rx.pos = 32 * KiB;
	rx.no_dmabuf = true;
	cr_assert_eq(flow_rx_run(&rx, p.sent, RX_MS), 0, "%s", rx.why);
	flow_rx_fini(&rx);
	for (unsigned int i = 0, pos = 0; i < n; pos += held[i++].frag_size)
		cr_assert_eq(
			flow_pattern_mismatch(r.va + held[i].frag_offset, pos, held[i].frag_size),
			-1, "held fragment %u changed", i);

	/* the last token back frees the binding */
	for (unsigned int i = 0; i < n; i++) {
		cr_assert_eq(net_devmem_nr_bindings(), 1);
		cr_assert_eq(flow_dontneed_one(p.server, held[i].frag_token), 1);
	}
	wait_bindings(0);
	pair_down(&p);
	rig_down(&r);
}

/* bind and unbind in turn, over several buffers, while the main thread reads */
#define BU_BUFS 4
#define BU_MAX_IDS 4096

struct binder {
	struct flow_rig *r;
	struct dma_buf *bufs[BU_BUFS];
	int fds[BU_BUFS];
	int id_buf[BU_MAX_IDS]; /* atomic: binding id -> buffer + 1 */
	int stop; /* atomic */
	struct flow_sender *sender; /* ended after the third round */
	unsigned int rounds;
	int err;
	char why[160];
};

static void *binder_thread(void *arg)
{
	struct binder *b = arg;
	struct devmem_queue_id q = { .id = b->r->queue, .type = NETDEV_QUEUE_TYPE_RX };
	uint32_t last[BU_BUFS] = { 0 };
	uint64_t rnd = 0x1234567;

	while (!__atomic_load_n(&b->stop, __ATOMIC_RELAXED)) {
		unsigned int i = b->rounds % BU_BUFS;
		struct devmem_binding_info bi;
		uint32_t id;
		int err;

		/* never two live bindings of one buffer: the new one would write over the old */
		for (int64_t deadline = flow_now_ms() + WAIT_MS;
		     last[i] && devmem_binding_get(b->r->ctl, last[i], &bi) == 0;) {
			if (flow_now_ms() > deadline) {
				snprintf(b->why, sizeof(b->why), "binding %u never went", last[i]);
				b->err = -ETIMEDOUT;
				return NULL;
			}
			flow_sleep_us(200);
		}
		err = devmem_bind_rx(b->r->ctl, b->r->ifindex, b->fds[i], &q, 1, NULL, &id);
		if (err || id >= BU_MAX_IDS) {
			snprintf(b->why, sizeof(b->why), "bind-rx: %d (%s)", err,
				 devmem_last_error());
			b->err = err ? err : -ERANGE;
			return NULL;
		}
		__atomic_store_n(&b->id_buf[id], (int)i + 1, __ATOMIC_RELEASE);
		last[i] = id;
		rnd = rnd * 6364136223846793005ULL + 1442695040888963407ULL;
		flow_sleep_us(1000 + (unsigned int)(rnd >> 33) % 4000);
		err = devmem_unbind(b->r->ctl, id);
		if (err) {
			snprintf(b->why, sizeof(b->why), "unbind %u: %d", id, err);
			b->err = err;
			return NULL;
		}
		/* the stream lasts until the binder has had its rounds, however slow the machine */
		if (++b->rounds == 3)
			__atomic_store_n(&b->sender->finish, 1, __ATOMIC_RELAXED);
		flow_sleep_us(1000 + (unsigned int)(rnd >> 40) % 3000);
	}
	return NULL;
}

/* A fragment names a binding made by the binder: which buffer (it may be just made). */
static int binder_buf_of(uint32_t id, uint32_t *niov_size, void *arg)
{
	struct binder *b = arg;

	if (!id || id >= BU_MAX_IDS)
		return -1;
	for (int64_t deadline = flow_now_ms() + WAIT_MS;;) {
		int v = __atomic_load_n(&b->id_buf[id], __ATOMIC_ACQUIRE);

		if (v)
			return v - 1;
		if (flow_now_ms() > deadline)
			return -1;
		sched_yield();
	}
}

Test(socket, bind_and_unbind_while_streaming_delivers_every_byte_once_in_order)
{
	struct flow_rig_opts o = { 0 };
	/* a stream that ends once the binder has bound and unbound three times */
	struct flow_sender_opts so = {
		.thread = true, .seconds = 60, .chunk = 16 * KiB, .pause_us = 20
	};
	static struct binder b;
	struct flow_sender s;
	struct flow_rig r;
	struct flow_rx rx;
	pthread_t t;
	void *va[BU_BUFS];
	int fd;

	rig_up(&r, &o);
	memset(&b, 0, sizeof(b));
	b.r = &r;
	b.sender = &s;
	cr_assert_eq(flow_rx_init(&rx, -1), 0);
	for (int i = 0; i < BU_BUFS; i++) {
		cr_assert_eq(devmem_host_buffer_create(256 * KiB, NULL, &b.bufs[i]), 0);
		b.fds[i] = dma_buf_fd(b.bufs[i], O_CLOEXEC);
		cr_assert_geq(b.fds[i], 0);
		cr_assert_eq(dma_buf_vmap_unlocked(b.bufs[i], &va[i]), 0);
		rx.bufs[i] = (struct flow_rx_buf){
			.buf = b.bufs[i], .va = va[i], .size = 256 * KiB, .niov_size = 4096
		};
	}
	rx.nr_bufs = BU_BUFS;
	rx.buf_of = binder_buf_of;
	rx.arg = &b;

	cr_assert_eq(flow_sender_start(&r.l, &so, &s), 0);
	fd = flow_accept(&r.l, ACCEPT_MS);
	cr_assert_geq(fd, 0);
	rx.fd = fd;
	cr_assert_eq(devmem_sock_attach(fd), (int)r.queue);
	cr_assert_eq(pthread_create(&t, NULL, binder_thread, &b), 0);
	cr_assert_eq(flow_rx_run(&rx, UINT64_MAX, RX_MS), 0, "%s (binder: %s)", rx.why, b.why);
	__atomic_store_n(&b.stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	cr_assert_eq(b.err, 0, "binder: %s", b.why);
	cr_assert_eq(rx.pos, flow_sender_sent(&s), "every byte sent was received, once");
	cr_assert_eq(flow_sender_wait(&s, WAIT_MS), 0);
	cr_assert_geq(b.rounds, 3, "only %u bind/unbind rounds during the stream", b.rounds);
	cr_assert_gt(rx.bytes_dmabuf, 0, "nothing came through a binding");
	cr_assert_gt(rx.bytes_linear, 0, "nothing came while unbound");
	flow_rx_fini(&rx);
	cr_assert_eq(devmem_close(fd), 0);
	devmem_ctl_close(r.ctl);
	r.ctl = NULL;
	wait_bindings(0);
	for (int i = 0; i < BU_BUFS; i++) {
		dma_buf_vunmap_unlocked(b.bufs[i], va[i]);
		close(b.fds[i]);
		dma_buf_put(b.bufs[i]);
	}
	rig_down(&r);
}

/* ---- attach ---- */

Test(socket, attach_to_what_is_not_a_socket_is_enotsock_or_ebadf)
{
	int efd = eventfd(0, EFD_CLOEXEC), ret;

	cr_assert_geq(efd, 0);
	ret = devmem_sock_attach(efd);
	cr_assert(ret == -ENOTSOCK || ret == -EBADF, "eventfd: %d", ret);
	close(efd);
	cr_assert_eq(devmem_sock_attach(efd), -EBADF, "a closed fd");
	cr_assert_eq(devmem_sock_attach(-1), -EBADF);
	cr_assert_eq(devmem_sock_nr_live(), 0);
}

Test(socket, attach_udp_socket_is_eopnotsupp)
{
	int lo_ifindex;
	int fd;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	cr_assert_eq(devmem_swnic_create("lo", NULL, &lo_ifindex), 0);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(devmem_sock_attach(fd), -EOPNOTSUPP);
	close(fd);
	cr_assert_eq(devmem_swnic_destroy(lo_ifindex), 0);
	assert_all_gone();
}

Test(socket, attach_listening_or_unconnected_tcp_socket_is_eopnotsupp)
{
	struct flow_rig_opts o = { 0 };
	struct flow_rig r;
	int fd;

	rig_up(&r, &o);
	cr_assert_eq(devmem_sock_attach(r.l.fd), -EOPNOTSUPP, "a listening socket");
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(devmem_sock_attach(fd), -EOPNOTSUPP, "an unconnected socket");
	/* closed as devmem sockets: whether a refusal leaves state is the next test's */
	devmem_close(fd);
	devmem_close(r.l.fd);
	r.l.fd = -1;
	rig_down(&r);
}

Test(socket, refused_attach_leaves_no_devmem_socket_behind)
{
	struct flow_rig_opts o = { 0 };
	struct devmem_sock_stats ss;
	struct flow_rig r;
	struct pair p;
	int fd, num;

	rig_up(&r, &o);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	num = fd;
	cr_assert_eq(devmem_sock_attach(fd), -EOPNOTSUPP);
	cr_assert_eq(devmem_sock_stats(fd, &ss), -EBADF, "the refused socket is a devmem socket");
	cr_assert_eq(devmem_sock_nr_live(), 0, "a refused attach left a devmem socket");
	/* the application closes it the plain way; the fd number comes back for a flow */
	close(fd);
	p.client = flow_connect(&r.l);
	cr_assert_geq(p.client, 0);
	p.server = flow_accept(&r.l, ACCEPT_MS);
	cr_assert_geq(p.server, 0);
	cr_assert(p.server == num || p.client == num, "the fd number %d was not reused", num);
	if (p.client == num) {
		int tmp = p.client;

		p.client = p.server;
		p.server = tmp;
	}
	/* the new socket on that fd number joins its queue */
	cr_assert_geq(devmem_sock_attach(p.server), 0, "the new socket on fd %d: %s", num,
		      devmem_last_error());
	pair_down(&p);
	rig_down(&r);
}

Test(socket, sock_stats_of_a_fd_never_used_through_devmem_is_ebadf)
{
	struct devmem_sock_stats ss;
	int efd = eventfd(0, EFD_CLOEXEC);

	cr_assert_eq(devmem_sock_stats(efd, &ss), -EBADF);
	cr_assert_eq(devmem_sock_stats(-1, &ss), -EBADF);
	close(efd);
}

/* ---- transmit ---- */

#define TX_BUF_SIZE (1 * MiB)

struct tx_rig {
	struct flow_rig r;
	struct pair p;
	struct dma_buf *buf;
	int buf_fd;
	unsigned char *va;
	uint32_t id;
};

struct peer {
	int fd;
	size_t want;
	unsigned char *buf;
	size_t got;
};

/* Read @want bytes from the peer socket within WAIT_MS (a thread). */
static void *peer_read(void *arg)
{
	struct peer *pr = arg;
	int64_t deadline = flow_now_ms() + WAIT_MS;

	while (pr->got < pr->want && flow_now_ms() < deadline) {
		struct pollfd pf = { .fd = pr->fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pf, 1, 100) <= 0)
			continue;
		n = recv(pr->fd, pr->buf + pr->got, pr->want - pr->got, MSG_DONTWAIT);
		if (n == 0)
			break;
		if (n > 0)
			pr->got += (size_t)n;
	}
	return NULL;
}

static void tx_up(struct tx_rig *t, int family)
{
	struct flow_rig_opts o = { .family = family, .no_rule = true };
	int one = 1;
	void *va;

	rig_up(&t->r, &o);
	t->p = pair_up(&t->r, -1);
	cr_assert_eq(setsockopt(t->p.client, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)), 0);
	cr_assert_eq(devmem_host_buffer_create(TX_BUF_SIZE, NULL, &t->buf), 0);
	t->buf_fd = dma_buf_fd(t->buf, O_CLOEXEC);
	cr_assert_geq(t->buf_fd, 0);
	cr_assert_eq(dma_buf_vmap_unlocked(t->buf, &va), 0);
	t->va = va;
	cr_assert_eq(dma_buf_begin_cpu_access(t->buf, DMA_TO_DEVICE), 0);
	for (size_t i = 0; i < TX_BUF_SIZE; i++)
		t->va[i] = (unsigned char)((i * 2654435761u) >> 13);
	cr_assert_eq(dma_buf_end_cpu_access(t->buf, DMA_TO_DEVICE), 0);
	cr_assert_eq(devmem_bind_tx(t->r.ctl, t->r.ifindex, t->buf_fd, NULL, &t->id), 0, "%s",
		     devmem_last_error());
}

static void tx_down(struct tx_rig *t)
{
	cr_assert_eq(devmem_close(t->p.client), 0);
	cr_assert_eq(devmem_close(t->p.server), 0);
	dma_buf_vunmap_unlocked(t->buf, t->va);
	close(t->buf_fd);
	dma_buf_put(t->buf);
	rig_down(&t->r);
}

/* devmem_sendmsg() of @iov (offsets into the buffer) naming binding @id. */
static ssize_t tx_send(int fd, const struct iovec *iov, size_t n, uint32_t id, int flags)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(uint32_t))];
	} ctrl;
	struct msghdr m = { .msg_iov = (struct iovec *)iov,
			    .msg_iovlen = n,
			    .msg_control = ctrl.buf,
			    .msg_controllen = sizeof(ctrl.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);

	memset(&ctrl, 0, sizeof(ctrl));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_DEVMEM_DMABUF;
	cm->cmsg_len = CMSG_LEN(sizeof(uint32_t));
	memcpy(CMSG_DATA(cm), &id, sizeof(id));
	return devmem_sendmsg(fd, &m, flags);
}

#define OFF(x) ((void *)(uintptr_t)(x))

/* Nothing arrives at the peer within 100 ms. */
static void assert_peer_gets_nothing(int fd)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };

	cr_assert_eq(poll(&pf, 1, 100), 0, "the peer received bytes of a refused send");
}

/* Read the zerocopy completions: each range follows the last, up to @sends. */
static void assert_completions(int fd, int family, uint32_t sends)
{
	uint32_t next = 0;

	while (next < sends) {
		union {
			struct cmsghdr align;
			char buf[256];
		} ctrl;
		struct msghdr m = { .msg_control = ctrl.buf, .msg_controllen = sizeof(ctrl.buf) };
		struct sock_extended_err ee;
		struct cmsghdr *cm;

		cr_assert_eq(devmem_recvmsg(fd, &m, MSG_ERRQUEUE), 0, "completion %u of %u: %s",
			     next, sends, strerror(errno));
		cr_assert(m.msg_flags & MSG_ERRQUEUE);
		cm = CMSG_FIRSTHDR(&m);
		cr_assert_not_null(cm);
		if (family == AF_INET6) {
			cr_assert_eq(cm->cmsg_level, SOL_IPV6);
			cr_assert_eq(cm->cmsg_type, IPV6_RECVERR);
		} else {
			cr_assert_eq(cm->cmsg_level, SOL_IP);
			cr_assert_eq(cm->cmsg_type, IP_RECVERR);
		}
		cr_assert_geq(cm->cmsg_len, CMSG_LEN(sizeof(ee)));
		memcpy(&ee, CMSG_DATA(cm), sizeof(ee));
		cr_assert_eq(ee.ee_errno, 0);
		cr_assert_eq(ee.ee_origin, SO_EE_ORIGIN_ZEROCOPY);
		cr_assert_eq(ee.ee_info, next, "completions out of order");
		cr_assert_geq(ee.ee_data, ee.ee_info);
		cr_assert_lt(ee.ee_data, sends, "a completion for a send never made");
		next = ee.ee_data + 1;
	}
	/* and no more */
	{
		char buf[256];
		struct msghdr m = { .msg_control = buf, .msg_controllen = sizeof(buf) };

		cr_assert_eq(devmem_recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT), -1);
		cr_assert_eq(errno, EAGAIN);
	}
}

static void tx_sends_the_buffer_bytes(int family)
{
	static const struct {
		size_t off, len;
	} segs[][3] = {
		{ { 0, 100 }, { 4096 + 7, 3000 }, { TX_BUF_SIZE - 1, 1 } },
		{ { 12345, 70000 }, { 0, 1 }, { 500000, 65536 } },
		{ { TX_BUF_SIZE - 200000, 200000 }, { 1, 4095 }, { 65535, 65537 } },
		{ { 3, 1 }, { 0, 0 }, { 777777, 9999 } },
	};
	unsigned int nsends = sizeof(segs) / sizeof(segs[0]);
	static unsigned char want[1 * MiB], got[1 * MiB];
	struct devmem_sock_stats ss;
	struct peer pr = { .buf = got };
	struct tx_rig t;
	size_t total = 0;
	pthread_t th;

	tx_up(&t, family);
	for (unsigned int s = 0; s < nsends; s++)
		for (int i = 0; i < 3; i++) {
			memcpy(want + total, t.va + segs[s][i].off, segs[s][i].len);
			total += segs[s][i].len;
		}
	pr.fd = t.p.server;
	pr.want = total;
	cr_assert_eq(pthread_create(&th, NULL, peer_read, &pr), 0);
	for (unsigned int s = 0; s < nsends; s++) {
		struct iovec iov[3];
		size_t len = 0;

		for (int i = 0; i < 3; i++) {
			iov[i] = (struct iovec){ OFF(segs[s][i].off), segs[s][i].len };
			len += segs[s][i].len;
		}
		cr_assert_eq(tx_send(t.p.client, iov, 3, t.id, MSG_ZEROCOPY), (ssize_t)len,
			     "send %u: %s (%s)", s, strerror(errno), devmem_last_error());
	}
	pthread_join(th, NULL);
	cr_assert_eq(pr.got, total, "the peer got %zu of %zu bytes", pr.got, total);
	cr_assert_eq(memcmp(got, want, total), 0, "the peer got other bytes than the buffer's");
	ss = sock_stats(t.p.client);
	cr_assert_eq(ss.tx_sends, nsends);
	cr_assert_eq(ss.tx_bytes, total);
	assert_completions(t.p.client, family, nsends);
	tx_down(&t);
}

Test(socket, dmabuf_send_delivers_the_buffer_bytes_and_completes_in_order)
{
	tx_sends_the_buffer_bytes(AF_INET);
}

Test(socket, dmabuf_send_on_ipv6_completes_with_ipv6_recverr)
{
	tx_sends_the_buffer_bytes(AF_INET6);
}

static void assert_send_refused(struct tx_rig *t, const struct iovec *iov, size_t n, uint32_t id,
				int flags, int err)
{
	errno = 0;
	cr_assert_eq(tx_send(t->p.client, iov, n, id, flags), -1);
	cr_assert_eq(errno, err, "errno %d (%s), expected %d", errno, devmem_last_error(), err);
	assert_peer_gets_nothing(t->p.server);
}

Test(socket, dmabuf_send_with_an_unknown_binding_is_einval_and_sends_nothing)
{
	struct iovec iov = { OFF(0), 1000 };
	struct tx_rig t;

	tx_up(&t, AF_INET);
	assert_send_refused(&t, &iov, 1, t.id + 100, MSG_ZEROCOPY, EINVAL);
	assert_send_refused(&t, &iov, 1, 0, MSG_ZEROCOPY, EINVAL);
	tx_down(&t);
}

Test(socket, dmabuf_send_with_an_rx_binding_is_einval)
{
	struct devmem_queue_id q = { .id = 1, .type = NETDEV_QUEUE_TYPE_RX };
	struct iovec iov = { OFF(0), 1000 };
	struct tx_rig t;
	uint32_t rx_id;

	tx_up(&t, AF_INET);
	cr_assert_eq(
		devmem_set_header_split(t.r.ctl, t.r.ifindex, ETHTOOL_TCP_DATA_SPLIT_ENABLED, 0),
		0);
	cr_assert_eq(devmem_bind_rx(t.r.ctl, t.r.ifindex, t.buf_fd, &q, 1, NULL, &rx_id), 0, "%s",
		     devmem_last_error());
	assert_send_refused(&t, &iov, 1, rx_id, MSG_ZEROCOPY, EINVAL);
	tx_down(&t);
}

Test(socket, dmabuf_send_beyond_the_buffer_is_efault_and_sends_nothing)
{
	struct iovec start[] = { { OFF(TX_BUF_SIZE), 1 } };
	struct iovec after_empty[] = { { OFF(0), 0 }, { OFF(TX_BUF_SIZE + 4096), 100 } };
	struct tx_rig t;

	tx_up(&t, AF_INET);
	assert_send_refused(&t, start, 1, t.id, MSG_ZEROCOPY, EFAULT);
	assert_send_refused(&t, after_empty, 2, t.id, MSG_ZEROCOPY, EFAULT);
	cr_assert_eq(sock_stats(t.p.client).tx_sends, 0);
	tx_down(&t);
}

Test(socket, dmabuf_send_without_msg_zerocopy_is_einval)
{
	struct iovec iov = { OFF(0), 1000 };
	struct tx_rig t;

	tx_up(&t, AF_INET);
	assert_send_refused(&t, &iov, 1, t.id, 0, EINVAL);
	tx_down(&t);
}

Test(socket, dmabuf_send_with_a_binding_of_another_device_is_enodev)
{
	struct test_nic_opts no = { .netmem_tx = true };
	struct iovec iov = { OFF(0), 1000 };
	struct test_nic *nic;
	struct tx_rig t;
	uint32_t other;

	tx_up(&t, AF_INET);
	cr_assert_eq(test_nic_create(&no, &nic), 0);
	cr_assert_eq(devmem_bind_tx(t.r.ctl, test_nic_ifindex(nic), t.buf_fd, NULL, &other), 0,
		     "%s", devmem_last_error());
	/* the kernel: a binding's addresses reach only its own device (ENODEV) */
	assert_send_refused(&t, &iov, 1, other, MSG_ZEROCOPY, ENODEV);
	cr_assert_eq(devmem_unbind(t.r.ctl, other), 0);
	test_nic_destroy(nic);
	tx_down(&t);
}

/*
 * Only a socket read with devmem_recvmsg() must be closed with devmem_close():
 * one that only sent may be closed the plain way, and the next socket given
 * its fd number is a new socket (its completions count from 0).
 */
Test(socket, socket_that_only_sent_may_be_closed_plainly)
{
	struct iovec iov = { OFF(0), 1000 };
	struct devmem_sock_stats ss;
	unsigned char got[2000];
	struct peer pr = { .buf = got, .want = 2000 };
	struct tx_rig t;
	int num, one = 1;
	pthread_t th;

	tx_up(&t, AF_INET);
	pr.fd = t.p.server;
	cr_assert_eq(pthread_create(&th, NULL, peer_read, &pr), 0);
	cr_assert_eq(tx_send(t.p.client, &iov, 1, t.id, MSG_ZEROCOPY), 1000);
	cr_assert_eq(tx_send(t.p.client, &iov, 1, t.id, MSG_ZEROCOPY), 1000);
	pthread_join(th, NULL);
	cr_assert_eq(pr.got, 2000);
	num = t.p.client;
	close(t.p.client);
	close(t.p.server);

	/* a new connection: its client takes the lowest free fd number, the old one's */
	t.p.client = flow_connect(&t.r.l);
	cr_assert_eq(t.p.client, num, "fd %d not reused (got %d)", num, t.p.client);
	t.p.server = flow_accept(&t.r.l, ACCEPT_MS);
	cr_assert_geq(t.p.server, 0);
	cr_assert_eq(setsockopt(t.p.client, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)), 0);
	pr = (struct peer){ .fd = t.p.server, .buf = got, .want = 1000 };
	cr_assert_eq(pthread_create(&th, NULL, peer_read, &pr), 0);
	cr_assert_eq(tx_send(t.p.client, &iov, 1, t.id, MSG_ZEROCOPY), 1000);
	pthread_join(th, NULL);
	cr_assert_eq(pr.got, 1000);
	cr_assert_eq(devmem_sock_stats(t.p.client, &ss), 0);
	cr_assert_eq(ss.tx_sends, 1, "the new socket has %llu sends: the old one's state",
		     (unsigned long long)ss.tx_sends);
	assert_completions(t.p.client, AF_INET, 1);
	tx_down(&t);
}

Test(socket, sendmsg_without_the_cmsg_is_plain_sendmsg)
{
	char data[] = "plain bytes, from memory", got[sizeof(data)] = { 0 };
	struct iovec iov = { data, sizeof(data) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct pollfd pf;
	struct tx_rig t;

	tx_up(&t, AF_INET);
	cr_assert_eq(devmem_sendmsg(t.p.client, &m, 0), (ssize_t)sizeof(data));
	pf = (struct pollfd){ .fd = t.p.server, .events = POLLIN };
	cr_assert_eq(poll(&pf, 1, WAIT_MS), 1);
	cr_assert_eq(recv(t.p.server, got, sizeof(got), MSG_WAITALL), (ssize_t)sizeof(got));
	cr_assert_str_eq(got, data);
	tx_down(&t);
}

/* ---- the kernel's receive rules: flags, waits, faults (tcp_recvmsg_locked) ---- */

static const struct flow_rig_opts unbound = { 0 };

/* A thread that sends @len pattern bytes from @pos on @fd after @delay_us. */
struct later_send {
	int fd;
	uint64_t pos;
	size_t len;
	unsigned int delay_us;
	pthread_t kill; /* signal this thread with SIGUSR1 first, when set */
	bool do_kill;
};

static void *later_send_fn(void *arg)
{
	struct later_send *ls = arg;
	unsigned char *buf = malloc(ls->len);

	flow_sleep_us(ls->delay_us);
	if (ls->do_kill)
		pthread_kill(ls->kill, SIGUSR1);
	if (buf && ls->len) {
		flow_pattern_fill(buf, ls->pos, ls->len);
		for (size_t done = 0; done < ls->len;) {
			ssize_t n = send(ls->fd, buf + done, ls->len - done, 0);

			if (n <= 0)
				break;
			done += (size_t)n;
		}
	}
	free(buf);
	return NULL;
}

Test(socket, msg_peek_on_host_memory_data_leaves_it_queued)
{
	struct flow_rig r;
	struct pair p;
	ssize_t n;

	rig_up(&r, &unbound);
	p = pair_up(&r, (int)r.queue);
	send_pattern(&p, 5000);
	wait_queued(&r, &p, 0);
	n = flow_recv(p.server, MSG_PEEK | MSG_DONTWAIT, iobuf, 5000, 0, &msg);
	cr_assert_eq(n, 5000, "peek: %zd (%s)", n, strerror(msg.err));
	cr_assert_eq(flow_pattern_mismatch(iobuf, 0, 5000), -1);
	cr_assert_eq(sock_stats(p.server).bytes_linear, 0, "a peek takes nothing");
	memset(iobuf, 0, 5000);
	cr_assert_eq(flow_recv(p.server, MSG_DONTWAIT, iobuf, 5000, 0, &msg), 5000,
		     "the peeked bytes are still there");
	cr_assert_eq(flow_pattern_mismatch(iobuf, 0, 5000), -1);
	cr_assert_eq(sock_stats(p.server).frags_queued, 0);
	pair_down(&p);
	rig_down(&r);
}

/* tcp_recvmsg_locked() calls tcp_recvmsg_dmabuf() for a peek too: tokens, nothing taken */
Test(socket, msg_peek_on_dmabuf_data_gives_tokens_and_leaves_it_queued)
{
	struct devmem_sock_stats before;
	unsigned int nr_peek;
	uint64_t pos = 0;
	struct flow_rig r;
	struct pair p;

	rig_up(&r, &bound);
	p = pair_up(&r, (int)r.queue);
	send_pattern(&p, 8192);
	wait_queued(&r, &p, 0);
	before = sock_stats(p.server);
	cr_assert_eq(flow_recv(p.server, MSG_SOCK_DEVMEM | MSG_PEEK | MSG_DONTWAIT, iobuf, 8192,
			       FLOW_CMSG_ROOM(128), &msg),
		     8192, "%s", strerror(msg.err));
	check_frags(&r, &msg, &pos);
	nr_peek = msg.nr;
	for (unsigned int i = 0; i < nr_peek; i++)
		held[i] = msg.c[i].dc;
	cr_assert_eq(sock_stats(p.server).frags_queued, before.frags_queued, "nothing taken");
	cr_assert_eq(sock_stats(p.server).tokens_held, nr_peek);
	/* the same bytes again, with tokens of their own */
	pos = 0;
	cr_assert_eq(flow_recv(p.server, MSG_SOCK_DEVMEM | MSG_DONTWAIT, iobuf, 8192,
			       FLOW_CMSG_ROOM(128), &msg),
		     8192);
	check_frags(&r, &msg, &pos);
	cr_assert_eq(sock_stats(p.server).frags_queued, 0);
	cr_assert_eq(sock_stats(p.server).tokens_held, nr_peek + msg.nr);
	for (unsigned int i = 0; i < msg.nr; i++) {
		for (unsigned int j = 0; j < nr_peek; j++)
			cr_assert_neq(msg.c[i].dc.frag_token, held[j].frag_token);
		cr_assert_eq(flow_dontneed_one(p.server, msg.c[i].dc.frag_token), 1);
	}
	for (unsigned int j = 0; j < nr_peek; j++)
		cr_assert_eq(flow_dontneed_one(p.server, held[j].frag_token), 1);
	cr_assert_eq(sock_stats(p.server).tokens_held, 0);
	pair_down(&p);
	rig_down(&r);
}

/* MSG_TRUNC skips the copy, so dma-buf data is dropped with neither EFAULT nor tokens */
Test(socket, msg_trunc_drops_dmabuf_data_without_tokens_or_efault)
{
	uint64_t pos = 4096;
	struct flow_rig r;
	struct pair p;

	rig_up(&r, &bound);
	p = pair_up(&r, (int)r.queue);
	send_pattern(&p, 8192);
	wait_queued(&r, &p, 0);
	cr_assert_eq(flow_recv(p.server, MSG_TRUNC | MSG_DONTWAIT, NULL, 4096, 0, &msg), 4096, "%s",
		     strerror(msg.err));
	cr_assert_eq(sock_stats(p.server).tokens_held, 0);
	while (pos < p.sent) {
		cr_assert_gt(flow_recv(p.server, MSG_SOCK_DEVMEM | MSG_DONTWAIT, iobuf,
				       sizeof(iobuf), FLOW_CMSG_ROOM(128), &msg),
			     0);
		check_frags(&r, &msg, &pos);
		for (unsigned int i = 0; i < msg.nr; i++)
			cr_assert_eq(flow_dontneed_one(p.server, msg.c[i].dc.frag_token), 1);
	}
	pair_down(&p);
	rig_down(&r);
}

Test(socket, msg_waitall_waits_for_the_whole_iovec)
{
	struct later_send ls = { .pos = 1000, .len = 3000, .delay_us = 100000 };
	struct flow_rig r;
	struct pair p;
	pthread_t th;

	rig_up(&r, &unbound);
	p = pair_up(&r, (int)r.queue);
	send_pattern(&p, 1000);
	wait_queued(&r, &p, 0);
	ls.fd = p.client;
	cr_assert_eq(pthread_create(&th, NULL, later_send_fn, &ls), 0);
	cr_assert_eq(flow_recv(p.server, MSG_WAITALL, iobuf, 4000, 0, &msg), 4000, "%zd: %s",
		     msg.ret, strerror(msg.err));
	cr_assert_eq(flow_pattern_mismatch(iobuf, 0, 4000), -1);
	pthread_join(th, NULL);
	pair_down(&p);
	rig_down(&r);
}

Test(socket, so_rcvlowat_makes_a_blocking_read_wait_for_that_many_bytes)
{
	struct later_send ls = { .pos = 1000, .len = 3000, .delay_us = 100000 };
	int lowat = 3000;
	struct flow_rig r;
	struct pair p;
	pthread_t th;
	ssize_t n;

	rig_up(&r, &unbound);
	p = pair_up(&r, (int)r.queue);
	send_pattern(&p, 1000);
	wait_queued(&r, &p, 0);
	/* 1000 bytes wait on the socket, under the mark */
	cr_assert_eq(devmem_setsockopt(p.server, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat)),
		     0);
	ls.fd = p.client;
	cr_assert_eq(pthread_create(&th, NULL, later_send_fn, &ls), 0);
	n = flow_recv(p.server, 0, iobuf, 8000, 0, &msg);
	cr_assert_geq(n, 3000, "%zd: %s", n, strerror(msg.err));
	cr_assert_eq(flow_pattern_mismatch(iobuf, 0, (size_t)n), -1);
	pthread_join(th, NULL);
	pair_down(&p);
	rig_down(&r);
}

Test(socket, so_rcvtimeo_ends_a_blocking_read_with_eagain)
{
	struct timeval tv = { .tv_usec = 200000 };
	struct flow_rig r;
	struct pair p;
	int64_t t0;

	rig_up(&r, &bound);
	p = pair_up(&r, (int)r.queue);
	cr_assert_eq(devmem_setsockopt(p.server, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	t0 = flow_now_ms();
	cr_assert_eq(flow_recv(p.server, MSG_SOCK_DEVMEM, iobuf, 4096, FLOW_CMSG_ROOM(8), &msg),
		     -1);
	cr_assert_eq(msg.err, EAGAIN, "%s", strerror(msg.err));
	cr_assert_geq(flow_now_ms() - t0, 150);
	pair_down(&p);
	rig_down(&r);
}

static void on_sigusr1(int sig)
{
	(void)sig;
}

/* sk_wait_data() ends on a signal: EINTR, or a restart with SA_RESTART */
Test(socket, a_signal_interrupts_a_blocking_read_with_eintr_or_restarts_it)
{
	struct sigaction sa = { .sa_handler = on_sigusr1 }, old;
	struct later_send ls = { .delay_us = 100000, .do_kill = true };
	struct flow_rig r;
	struct pair p;
	pthread_t th;

	rig_up(&r, &unbound);
	p = pair_up(&r, (int)r.queue);
	ls.fd = p.client;
	ls.kill = pthread_self();
	cr_assert_eq(sigaction(SIGUSR1, &sa, &old), 0);
	cr_assert_eq(pthread_create(&th, NULL, later_send_fn, &ls), 0);
	cr_assert_eq(flow_recv(p.server, 0, iobuf, 4096, 0, &msg), -1);
	cr_assert_eq(msg.err, EINTR, "%s", strerror(msg.err));
	pthread_join(th, NULL);

	/* with SA_RESTART the read goes on and gets the data sent after the signal */
	sa.sa_flags = SA_RESTART;
	cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	ls.len = 100;
	cr_assert_eq(pthread_create(&th, NULL, later_send_fn, &ls), 0);
	cr_assert_eq(flow_recv(p.server, 0, iobuf, 4096, 0, &msg), 100, "%s", strerror(msg.err));
	cr_assert_eq(flow_pattern_mismatch(iobuf, 0, 100), -1);
	pthread_join(th, NULL);
	sigaction(SIGUSR1, &old, NULL);
	pair_down(&p);
	rig_down(&r);
}

/* skb_copy_datagram_msg() fails on a bad iovec: EFAULT, the data stays */
Test(socket, bad_iov_base_on_host_memory_data_is_efault_and_takes_nothing)
{
	void *bad[] = { NULL, (void *)16 };
	struct flow_rig r;
	struct pair p;

	rig_up(&r, &unbound);
	p = pair_up(&r, (int)r.queue);
	send_pattern(&p, 5000);
	wait_queued(&r, &p, 0);
	for (unsigned int i = 0; i < 2; i++) {
		cr_assert_eq(flow_recv(p.server, MSG_SOCK_DEVMEM | MSG_DONTWAIT, bad[i], 4096,
				       FLOW_CMSG_ROOM(8), &msg),
			     -1);
		cr_assert_eq(msg.err, EFAULT, "%s", strerror(msg.err));
	}
	cr_assert_eq(sock_stats(p.server).bytes_linear, 0);
	cr_assert_eq(flow_recv(p.server, MSG_DONTWAIT | MSG_WAITALL, iobuf, 5000, 0, &msg), 5000);
	cr_assert_eq(flow_pattern_mismatch(iobuf, 0, 5000), -1);
	pair_down(&p);
	rig_down(&r);
}

/* tcp_recvmsg_dmabuf() never writes the iovec: kperf's NULL iov_base reads devmem data */
Test(socket, null_iov_base_reads_dmabuf_data)
{
	uint64_t pos = 0;
	struct flow_rig r;
	struct pair p;

	rig_up(&r, &bound);
	p = pair_up(&r, (int)r.queue);
	send_pattern(&p, 8192);
	wait_queued(&r, &p, 0);
	while (pos < p.sent) {
		cr_assert_gt(flow_recv(p.server, MSG_SOCK_DEVMEM | MSG_DONTWAIT, NULL, 1 << 20,
				       FLOW_CMSG_ROOM(128), &msg),
			     0, "%s", strerror(msg.err));
		check_frags(&r, &msg, &pos);
		for (unsigned int i = 0; i < msg.nr; i++)
			cr_assert_eq(flow_dontneed_one(p.server, msg.c[i].dc.frag_token), 1);
	}
	pair_down(&p);
	rig_down(&r);
}

/* sk_setsockopt() reads an int first, sock_devmem_dontneed() the entries: EFAULT */
Test(socket, dontneed_with_unreadable_optval_is_efault)
{
	struct flow_rig r;
	unsigned int n;
	struct pair p;
	int err;

	rig_up(&r, &bound);
	p = pair_up(&r, (int)r.queue);
	n = hold_tokens(&r, &p, 8 * KiB, held, 512);
	cr_assert_eq(dontneed(p.server, NULL, 1, &err), -1);
	cr_assert_eq(err, EFAULT);
	cr_assert_eq(dontneed(p.server, (void *)16, 1, &err), -1);
	cr_assert_eq(err, EFAULT);
	errno = 0;
	cr_assert_eq(devmem_setsockopt(p.server, SOL_SOCKET, SO_DEVMEM_DONTNEED, NULL, 0), -1);
	cr_assert_eq(errno, EINVAL, "a length below an int comes first");
	cr_assert_eq(sock_stats(p.server).tokens_held, n);
	pair_down(&p);
	rig_down(&r);
}

/* sk_user_frags is an XA_FLAGS_ALLOC1 xarray: the first token is 1 */
Test(socket, tokens_are_numbered_from_1)
{
	struct flow_rig r;
	struct pair p;

	rig_up(&r, &bound);
	p = pair_up(&r, (int)r.queue);
	send_pattern(&p, 4096);
	wait_queued(&r, &p, 0);
	cr_assert_gt(flow_recv(p.server, MSG_SOCK_DEVMEM | MSG_DONTWAIT, iobuf, sizeof(iobuf),
			       FLOW_CMSG_ROOM(8), &msg),
		     0);
	cr_assert_eq(msg.c[0].dc.frag_token, 1);
	for (unsigned int i = 0; i < msg.nr; i++)
		cr_assert_eq(flow_dontneed_one(p.server, msg.c[i].dc.frag_token), 1);
	pair_down(&p);
	rig_down(&r);
}

/* tokens are the socket's (sk->sk_user_frags), not the fd's */
Test(socket, a_dup_of_a_socket_shares_its_stream_and_tokens)
{
	struct dmabuf_token t = { 1, 0 };
	struct flow_rig r;
	unsigned int n;
	uint64_t pos;
	struct pair p;
	int d, err;

	rig_up(&r, &bound);
	p = pair_up(&r, (int)r.queue);
	n = hold_tokens(&r, &p, 8 * KiB, held, 512);
	d = dup(p.server);
	cr_assert_geq(d, 0);
	for (unsigned int i = 0; i < n; i++)
		t.token_count =
			held[i].frag_token > t.token_count ? held[i].frag_token : t.token_count;
	cr_assert_eq(dontneed(d, &t, 1, &err), (int)n, "the dup gives back the tokens: %d", err);
	cr_assert_eq(sock_stats(p.server).tokens_held, 0);
	/* the stream goes on through either number */
	pos = p.sent;
	send_pattern(&p, 8 * KiB);
	n = 0;
	for (int64_t deadline = flow_now_ms() + WAIT_MS; pos < p.sent;) {
		if (flow_recv(d, MSG_SOCK_DEVMEM | MSG_DONTWAIT, iobuf, sizeof(iobuf),
			      FLOW_CMSG_ROOM(128), &msg) < 0) {
			cr_assert_eq(msg.err, EAGAIN, "%s", strerror(msg.err));
			cr_assert_lt(flow_now_ms(), deadline);
			flow_sleep_us(1000);
			continue;
		}
		check_frags(&r, &msg, &pos);
		for (unsigned int i = 0; i < msg.nr; i++) {
			cr_assert_lt(n, 512);
			held[n++] = msg.c[i].dc;
		}
	}
	/* closing one number keeps the socket and its tokens */
	cr_assert_eq(devmem_close(d), 0);
	cr_assert_eq(sock_stats(p.server).tokens_held, n);
	for (unsigned int i = 0; i < n; i++)
		cr_assert_eq(flow_dontneed_one(p.server, held[i].frag_token), 1);
	pair_down(&p);
	rig_down(&r);
}

/*
 * A plain close() of a socket a queue reads, and a new socket given its fd
 * number: the new socket reads its own bytes, never the old one's.
 */
Test(socket, fd_number_reused_after_a_plain_close_never_reads_the_old_stream)
{
	struct flow_listener *l;
	struct flow_rig r;
	struct pair a;
	int num, c2, s2;
	uint64_t got = 0;

	rig_up(&r, &bound);
	a = pair_up(&r, (int)r.queue);
	send_pattern(&a, 8192);
	wait_queued(&r, &a, 0);
	num = a.server;
	close(a.server);
	l = &r.l;
	c2 = flow_connect(l);
	cr_assert_eq(c2, num, "fd %d not reused (got %d)", num, c2);
	s2 = flow_accept(l, ACCEPT_MS);
	cr_assert_geq(s2, 0);
	cr_assert_eq(send(s2, "BBBBBBBBBB", 10, 0), 10);
	for (int64_t deadline = flow_now_ms() + WAIT_MS; got < 10;) {
		ssize_t n = flow_recv(c2, MSG_SOCK_DEVMEM | MSG_DONTWAIT, iobuf, sizeof(iobuf),
				      FLOW_CMSG_ROOM(128), &msg);

		if (n < 0) {
			cr_assert_eq(msg.err, EAGAIN, "%s", strerror(msg.err));
			cr_assert_lt(flow_now_ms(), deadline);
			flow_sleep_us(1000);
			continue;
		}
		cr_assert_leq(got + (uint64_t)n, 10, "%zd bytes: the old stream's", n);
		if (!msg.nr) {
			cr_assert_eq(memcmp(iobuf, "BBBBBBBBBB", (size_t)n), 0);
		} else {
			for (unsigned int i = 0; i < msg.nr; i++) {
				cr_assert_eq(memcmp(r.va + msg.c[i].dc.frag_offset, "BBBBBBBBBB",
						    msg.c[i].dc.frag_size),
					     0, "the old stream's bytes");
				cr_assert_eq(flow_dontneed_one(c2, msg.c[i].dc.frag_token), 1);
			}
		}
		got += (uint64_t)n;
	}
	cr_assert_eq(devmem_close(c2), 0);
	close(s2);
	close(a.client);
	rig_down(&r);
}

/* what is not a TCP socket is not ours: the system calls answer */
Test(socket, recvmsg_on_udp_and_unix_sockets_is_the_system_call)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int u, sv[2];

	u = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_geq(u, 0);
	cr_assert_eq(bind(u, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(u, (struct sockaddr *)&a, &alen), 0);
	cr_assert_eq(sendto(u, "u", 1, 0, (struct sockaddr *)&a, sizeof(a)), 1);
	cr_assert_eq(flow_recv(u, MSG_SOCK_DEVMEM, iobuf, 16, FLOW_CMSG_ROOM(1), &msg), 1, "%s",
		     strerror(msg.err));
	cr_assert_eq(iobuf[0], 'u');
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cr_assert_eq(write(sv[0], "x", 1), 1);
	cr_assert_eq(flow_recv(sv[1], MSG_SOCK_DEVMEM | MSG_DONTWAIT, iobuf, 16, 0, &msg), 1, "%s",
		     strerror(msg.err));
	cr_assert_eq(iobuf[0], 'x');
	cr_assert_eq(devmem_sock_nr_live(), 0);
	close(u);
	close(sv[0]);
	close(sv[1]);
}

/* sock_devmem_dontneed() on anything but TCP (sk_is_tcp()): EBADF */
Test(socket, dontneed_on_what_is_not_a_tcp_socket_is_ebadf_or_enotsock)
{
	struct dmabuf_token t = { 1, 1 };
	int u, sv[2], pfd[2], err;

	u = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_geq(u, 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cr_assert_eq(pipe(pfd), 0);
	cr_assert_eq(dontneed(u, &t, 1, &err), -1);
	cr_assert_eq(err, EBADF);
	cr_assert_eq(dontneed(sv[0], &t, 1, &err), -1);
	cr_assert_eq(err, EBADF, "AF_UNIX stream: %s", strerror(err));
	cr_assert_eq(dontneed(pfd[0], &t, 1, &err), -1);
	cr_assert_eq(err, ENOTSOCK);
	close(pfd[0]);
	cr_assert_eq(dontneed(pfd[0], &t, 1, &err), -1);
	cr_assert_eq(err, EBADF);
	close(pfd[1]);
	close(u);
	close(sv[0]);
	close(sv[1]);
}

/* put_cmsg_notrunc() fails on a control buffer it cannot write: EFAULT, nothing taken */
Test(socket, unwritable_control_buffer_on_dmabuf_data_is_efault_and_takes_nothing)
{
	struct iovec iov = { iobuf, sizeof(iobuf) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_controllen = 4096 };
	void *ctl[] = { (void *)16, NULL, NULL };
	int want[] = { EFAULT, EFAULT, ETOOSMALL_ /* no buffer at all: put_cmsg_notrunc() */ };
	struct devmem_sock_stats before;
	struct flow_rig r;
	struct pair p;

	rig_up(&r, &bound);
	p = pair_up(&r, (int)r.queue);
	send_pattern(&p, 8192);
	wait_queued(&r, &p, 0);
	before = sock_stats(p.server);
	ctl[1] = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(ctl[1], MAP_FAILED);
	for (unsigned int i = 0; i < 3; i++) {
		m.msg_control = ctl[i];
		m.msg_controllen = 4096;
		errno = 0;
		cr_assert_eq(devmem_recvmsg(p.server, &m, MSG_SOCK_DEVMEM | MSG_DONTWAIT), -1);
		cr_assert_eq(errno, want[i], "control buffer %u: %s", i, strerror(errno));
	}
	munmap(ctl[1], 4096);
	cr_assert_eq(sock_stats(p.server).frags_queued, before.frags_queued);
	cr_assert_eq(sock_stats(p.server).tokens_held, 0);
	pair_down(&p);
	rig_down(&r);
}

/* xa_alloc() in the 31-bit space finds no free index: EBUSY once nothing was delivered */
Test(socket, token_space_full_is_ebusy_and_takes_nothing)
{
	unsigned int n = 0;
	struct flow_rig r;
	struct pair p;

	rig_up(&r, &bound);
	p = pair_up(&r, (int)r.queue);
	send_pattern(&p, 32 * KiB);
	wait_queued(&r, &p, 0);
	sk_set_token_max(4);
	/* tokens 1 .. 4, one cmsg per call */
	for (; n < 4; n++) {
		cr_assert_gt(flow_recv(p.server, MSG_SOCK_DEVMEM | MSG_DONTWAIT, iobuf, 4096,
				       FLOW_CMSG_ROOM(8), &msg),
			     0, "%s", strerror(msg.err));
		cr_assert_eq(msg.nr, 1);
		cr_assert_eq(msg.c[0].dc.frag_token, n + 1);
	}
	cr_assert_eq(flow_recv(p.server, MSG_SOCK_DEVMEM | MSG_DONTWAIT, iobuf, 4096,
			       FLOW_CMSG_ROOM(8), &msg),
		     -1);
	cr_assert_eq(msg.err, EBUSY, "%s", strerror(msg.err));
	cr_assert_eq(sock_stats(p.server).tokens_held, 4);
	/* a token back makes room */
	cr_assert_eq(flow_dontneed_one(p.server, 2), 1);
	cr_assert_gt(flow_recv(p.server, MSG_SOCK_DEVMEM | MSG_DONTWAIT, iobuf, 4096,
			       FLOW_CMSG_ROOM(8), &msg),
		     0);
	cr_assert_eq(msg.c[0].dc.frag_token, 2);
	sk_set_token_max(0);
	pair_down(&p);
	rig_down(&r);
}

/* sock_devmem_dontneed(): an entry of no tokens is no fragment, freed or inspected */
Test(socket, dontneed_entry_of_no_tokens_frees_nothing)
{
	struct dmabuf_token t[2];
	struct flow_rig r;
	unsigned int n;
	struct pair p;
	int err;

	rig_up(&r, &bound);
	p = pair_up(&r, (int)r.queue);
	n = hold_tokens(&r, &p, 8 * KiB, held, 512);
	t[0] = (struct dmabuf_token){ held[0].frag_token, 0 };
	t[1] = (struct dmabuf_token){ held[0].frag_token, 1 };
	cr_assert_eq(dontneed(p.server, t, 1, &err), 0, "errno %d", err);
	cr_assert_eq(sock_stats(p.server).tokens_unknown, 0);
	cr_assert_eq(dontneed(p.server, t, 2, &err), 1);
	for (unsigned int i = 1; i < n; i++)
		cr_assert_eq(flow_dontneed_one(p.server, held[i].frag_token), 1);
	pair_down(&p);
	rig_down(&r);
}

/*
 * Urgent data stays with the kernel socket (tcp_recv_urg()): MSG_OOB reads it
 * there. (The socket is not joined to its queue yet: a queue reading the
 * stream passes the urgent mark, and the kernel then forgets the byte, as it
 * does for any reader that reads past it.)
 */
Test(socket, msg_oob_reads_the_urgent_byte_of_the_kernel_socket)
{
	struct flow_rig r;
	struct pollfd pf;
	struct pair p;

	rig_up(&r, &unbound);
	p = pair_up(&r, -1);
	cr_assert_eq(send(p.client, "U", 1, MSG_OOB), 1);
	pf = (struct pollfd){ .fd = p.server, .events = POLLPRI };
	cr_assert_eq(poll(&pf, 1, WAIT_MS), 1);
	cr_assert_eq(flow_recv(p.server, MSG_OOB | MSG_DONTWAIT, iobuf, 16, 0, &msg), 1, "%s",
		     strerror(msg.err));
	cr_assert_eq(iobuf[0], 'U');
	pair_down(&p);
	rig_down(&r);
}

/* skb_copy_datagram_msg() fills every iovec entry, however many */
Test(socket, host_memory_data_fills_an_iovec_of_many_entries)
{
	static struct iovec iov[200];
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 200 };
	struct flow_rig r;
	struct pair p;

	rig_up(&r, &unbound);
	p = pair_up(&r, (int)r.queue);
	send_pattern(&p, 5000);
	wait_queued(&r, &p, 0);
	for (unsigned int i = 0; i < 200; i++)
		iov[i] = (struct iovec){ iobuf + i * 10, 10 };
	cr_assert_eq(devmem_recvmsg(p.server, &m, MSG_DONTWAIT), 2000, "%s", strerror(errno));
	cr_assert_eq(flow_pattern_mismatch(iobuf, 0, 2000), -1);
	pair_down(&p);
	rig_down(&r);
}

/* ---- transmit: the kernel's limits and partial sends ---- */

/* devmem_sendmsg() with a raw control buffer of @clen bytes holding one SOL_SOCKET cmsg. */
static ssize_t tx_send_cmsg(int fd, const struct iovec *iov, size_t n, int type, const void *data,
			    size_t len, int flags)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(16)];
	} ctrl;
	struct msghdr m = { .msg_iov = (struct iovec *)iov,
			    .msg_iovlen = n,
			    .msg_control = ctrl.buf,
			    .msg_controllen = CMSG_SPACE(len) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);

	memset(&ctrl, 0, sizeof(ctrl));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = type;
	cm->cmsg_len = CMSG_LEN(len);
	memcpy(CMSG_DATA(cm), data, len);
	return devmem_sendmsg(fd, &m, flags);
}

Test(socket, dmabuf_send_beyond_the_buffer_in_a_later_iov_is_a_short_write)
{
	struct iovec iov[] = { { OFF(0), 100 }, { OFF(TX_BUF_SIZE - 10), 11 }, { OFF(5000), 50 } };
	unsigned char got[200], want[110];
	struct peer pr = { .buf = got, .want = 110 };
	struct tx_rig t;
	pthread_t th;

	tx_up(&t, AF_INET);
	memcpy(want, t.va, 100);
	memcpy(want + 100, t.va + TX_BUF_SIZE - 10, 10);
	pr.fd = t.p.server;
	cr_assert_eq(pthread_create(&th, NULL, peer_read, &pr), 0);
	/* the bytes before the first one beyond the buffer go out; the call says how many */
	cr_assert_eq(tx_send(t.p.client, iov, 3, t.id, MSG_ZEROCOPY), 110, "%s (%s)",
		     strerror(errno), devmem_last_error());
	pthread_join(th, NULL);
	cr_assert_eq(pr.got, 110);
	cr_assert_eq(memcmp(got, want, 110), 0);
	assert_peer_gets_nothing(t.p.server);
	cr_assert_eq(sock_stats(t.p.client).tx_bytes, 110);
	assert_completions(t.p.client, AF_INET, 1);
	tx_down(&t);
}

Test(socket, dmabuf_send_with_more_than_1024_iovecs_is_emsgsize)
{
	static struct iovec iov[1025];
	unsigned char got[1024];
	struct peer pr = { .buf = got, .want = 1024 };
	struct tx_rig t;
	pthread_t th;

	for (unsigned int i = 0; i < 1025; i++)
		iov[i] = (struct iovec){ OFF(i), 1 };
	tx_up(&t, AF_INET);
	assert_send_refused(&t, iov, 1025, t.id, MSG_ZEROCOPY, EMSGSIZE);
	/* counted before anything else of the message: even with no such binding */
	assert_send_refused(&t, iov, 1025, t.id + 100, MSG_ZEROCOPY, EMSGSIZE);
	/* UIO_MAXIOV itself is fine */
	pr.fd = t.p.server;
	cr_assert_eq(pthread_create(&th, NULL, peer_read, &pr), 0);
	cr_assert_eq(tx_send(t.p.client, iov, 1024, t.id, MSG_ZEROCOPY), 1024, "%s",
		     devmem_last_error());
	pthread_join(th, NULL);
	cr_assert_eq(pr.got, 1024);
	assert_completions(t.p.client, AF_INET, 1);
	tx_down(&t);
}

Test(socket, dmabuf_send_with_a_negative_iovec_length_is_einval)
{
	struct iovec wrap[] = { { OFF(10), SIZE_MAX - 5 } };
	struct tx_rig t;

	tx_up(&t, AF_INET);
	assert_send_refused(&t, wrap, 1, t.id, MSG_ZEROCOPY, EINVAL);
	tx_down(&t);
}

Test(socket, dmabuf_send_whose_lengths_add_up_past_max_rw_count_is_cut_not_wrapped)
{
	/* 100 + 4 * 2^62 wraps to 100 in 64 bits: the kernel cuts at MAX_RW_COUNT instead */
	struct iovec iov[] = { { OFF(0), 100 },
			       { OFF(0), 1ULL << 62 },
			       { OFF(0), 1ULL << 62 },
			       { OFF(0), 1ULL << 62 },
			       { OFF(0), 1ULL << 62 } };
	static unsigned char got[TX_BUF_SIZE + 100];
	struct peer pr = { .buf = got, .want = TX_BUF_SIZE + 100 };
	struct tx_rig t;
	pthread_t th;

	tx_up(&t, AF_INET);
	pr.fd = t.p.server;
	cr_assert_eq(pthread_create(&th, NULL, peer_read, &pr), 0);
	/* then the second iovec runs off the end of the buffer: a short write */
	cr_assert_eq(tx_send(t.p.client, iov, 5, t.id, MSG_ZEROCOPY), TX_BUF_SIZE + 100, "%s",
		     devmem_last_error());
	pthread_join(th, NULL);
	cr_assert_eq(pr.got, TX_BUF_SIZE + 100);
	cr_assert_eq(memcmp(got, t.va, 100), 0);
	cr_assert_eq(memcmp(got + 100, t.va, TX_BUF_SIZE), 0);
	assert_completions(t.p.client, AF_INET, 1);
	tx_down(&t);
}

Test(socket, dmabuf_send_of_zero_bytes_sends_and_completes_nothing)
{
	struct iovec none[] = { { OFF(0), 0 } };
	struct iovec iov = { OFF(0), 1000 };
	unsigned char got[1000];
	struct peer pr = { .buf = got, .want = 1000 };
	struct tx_rig t;
	pthread_t th;

	tx_up(&t, AF_INET);
	cr_assert_eq(tx_send(t.p.client, none, 1, t.id, MSG_ZEROCOPY), 0);
	/* no notification is built for it, so the binding is not even looked up */
	cr_assert_eq(tx_send(t.p.client, none, 1, t.id + 100, MSG_ZEROCOPY), 0);
	/* but the flags are still checked */
	errno = 0;
	cr_assert_eq(tx_send(t.p.client, none, 1, t.id, 0), -1);
	cr_assert_eq(errno, EINVAL);
	pr.fd = t.p.server;
	cr_assert_eq(pthread_create(&th, NULL, peer_read, &pr), 0);
	cr_assert_eq(tx_send(t.p.client, &iov, 1, t.id, MSG_ZEROCOPY), 1000);
	pthread_join(th, NULL);
	cr_assert_eq(pr.got, 1000);
	/* the one real send is completion 0, alone */
	assert_completions(t.p.client, AF_INET, 1);
	tx_down(&t);
}

Test(socket, dmabuf_send_without_so_zerocopy_is_einval)
{
	struct iovec iov = { OFF(0), 1000 };
	struct tx_rig t;
	int off = 0;

	tx_up(&t, AF_INET);
	cr_assert_eq(setsockopt(t.p.client, SOL_SOCKET, SO_ZEROCOPY, &off, sizeof(off)), 0);
	assert_send_refused(&t, &iov, 1, t.id, MSG_ZEROCOPY, EINVAL);
	tx_down(&t);
}

Test(socket, dmabuf_send_with_a_cmsg_of_the_wrong_length_is_einval)
{
	struct iovec iov = { OFF(0), 1000 };
	uint64_t id64;
	uint16_t id16;
	struct tx_rig t;

	tx_up(&t, AF_INET);
	id64 = t.id;
	id16 = (uint16_t)t.id;
	errno = 0;
	cr_assert_eq(tx_send_cmsg(t.p.client, &iov, 1, SCM_DEVMEM_DMABUF, &id64, sizeof(id64),
				  MSG_ZEROCOPY),
		     -1);
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_eq(tx_send_cmsg(t.p.client, &iov, 1, SCM_DEVMEM_DMABUF, &id16, sizeof(id16),
				  MSG_ZEROCOPY),
		     -1);
	cr_assert_eq(errno, EINVAL);
	assert_peer_gets_nothing(t.p.server);
	tx_down(&t);
}

/* ---- rebinding a buffer whose fragments are still held ---- */

Test(socket, rebinding_a_buffer_with_held_fragments_counts_each_overwrite)
{
	static const struct flow_rig_opts small = { .buf_size = 64 * KiB, .bind = true };
	struct devmem_queue_id q;
	struct devmem_binding_info old_bi, new_bi;
	struct flow_rig r;
	struct flow_rx rx;
	uint32_t old_id, new_id;
	unsigned int n;
	struct pair p;

	rig_up(&r, &small);
	q = (struct devmem_queue_id){ .id = r.queue, .type = NETDEV_QUEUE_TYPE_RX };
	p = pair_up(&r, (int)r.queue);
	n = hold_tokens(&r, &p, 8 * KiB, held, 512);
	cr_assert_gt(n, 0);
	old_id = r.id;
	cr_assert_eq(devmem_unbind(r.ctl, old_id), 0);
	/* the kernel allows it, so does the library: same buffer, fragments still held */
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, r.buf_fd, &q, 1, NULL, &new_id), 0, "%s",
		     devmem_last_error());
	r.id = new_id;

	/* four times the buffer: every net_iov of the new binding takes data */
	send_pattern(&p, 256 * KiB);
	cr_assert_eq(shutdown(p.client, SHUT_WR), 0);
	cr_assert_eq(flow_rx_init(&rx, p.server), 0);
	flow_rig_rx(&r, &rx);
	rx.pos = 8 * KiB;
	cr_assert_eq(flow_rx_run(&rx, p.sent, RX_MS), 0, "%s", rx.why);
	flow_rx_fini(&rx);

	cr_assert_eq(devmem_binding_get(r.ctl, old_id, &old_bi), 0);
	cr_assert_eq(devmem_binding_get(r.ctl, new_id, &new_bi), 0);
	cr_assert(old_bi.unbound);
	cr_assert_gt(old_bi.held_overwritten, 0, "held fragments were written over");
	cr_assert_eq(old_bi.overwrote_held, 0);
	cr_assert_eq(new_bi.overwrote_held, old_bi.held_overwritten);
	cr_assert_eq(new_bi.held_overwritten, 0);

	for (unsigned int i = 0; i < n; i++)
		cr_assert_eq(flow_dontneed_one(p.server, held[i].frag_token), 1);
	pair_down(&p);
	rig_down(&r);
	wait_bindings(0);
}

Test(socket, fragments_given_back_before_the_rebind_count_no_overwrite)
{
	static const struct flow_rig_opts small = { .buf_size = 64 * KiB, .bind = true };
	struct devmem_queue_id q;
	struct devmem_binding_info bi;
	struct flow_rig r;
	struct flow_rx rx;
	uint32_t new_id;
	unsigned int n;
	struct pair p;

	rig_up(&r, &small);
	q = (struct devmem_queue_id){ .id = r.queue, .type = NETDEV_QUEUE_TYPE_RX };
	p = pair_up(&r, (int)r.queue);
	n = hold_tokens(&r, &p, 8 * KiB, held, 512);
	for (unsigned int i = 0; i < n; i++)
		cr_assert_eq(flow_dontneed_one(p.server, held[i].frag_token), 1);
	cr_assert_eq(devmem_unbind(r.ctl, r.id), 0);
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, r.buf_fd, &q, 1, NULL, &new_id), 0, "%s",
		     devmem_last_error());
	r.id = new_id;
	send_pattern(&p, 256 * KiB);
	cr_assert_eq(shutdown(p.client, SHUT_WR), 0);
	cr_assert_eq(flow_rx_init(&rx, p.server), 0);
	flow_rig_rx(&r, &rx);
	rx.pos = 8 * KiB;
	cr_assert_eq(flow_rx_run(&rx, p.sent, RX_MS), 0, "%s", rx.why);
	flow_rx_fini(&rx);
	cr_assert_eq(devmem_binding_get(r.ctl, new_id, &bi), 0);
	cr_assert_eq(bi.overwrote_held, 0);
	pair_down(&p);
	rig_down(&r);
	wait_bindings(0);
}
