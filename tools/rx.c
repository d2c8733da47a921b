// SPDX-License-Identifier: MIT
/*
 * The receiving side: set-up (buffer, software NIC, header split, RSS, flow
 * rule, bind), the receive loop, and teardown with a check that nothing was
 * left bound or in flight. The report is in rx-report.c.
 *
 * Each rx_ function that can fail prints one line and returns EXIT_RUNTIME
 * (or, inside the receive loop, -1); rx_teardown() undoes whatever part of
 * the set-up was done, so callers always call it.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devmem/host.h"
#include "rx.h"
#include "tool.h"

/* room for 128 whole fragments: a smaller iovec cuts them at its end */
#define RX_IOV_LEN (1024 * 1024)
#define RX_CMSGS 128
#define RX_MIN_QUEUES 4
#define RX_LEFTOVER_WAIT 5.0 /* seconds teardown waits for net_iovs to come back */

/* What one recvmsg call's cmsgs added up to. */
struct rx_batch_state {
	size_t linear_off; /* linear bytes taken from the iovec so far */
	uint64_t bytes; /* bytes the cmsgs accounted for */
	unsigned int cmsgs;
	bool cpu_access; /* begin_cpu_access done for this batch */
	/* --unbind-after: the fragments of the batch, to check again after the unbind */
	unsigned int nr_held;
	struct {
		uint64_t frag_offset;
		uint64_t stream_off;
		uint32_t size;
	} held[RX_CMSGS];
};

/* ---- set-up ---- */

static int rx_alloc(struct rx *rx)
{
	rx->iov_len = RX_IOV_LEN;
	rx->iov_buf = malloc(rx->iov_len);
	rx->ctrl_len = CMSG_SPACE(sizeof(struct dmabuf_cmsg)) * RX_CMSGS;
	rx->ctrl_buf = malloc(rx->ctrl_len);
	if (!rx->iov_buf || !rx->ctrl_buf)
		return fail(-ENOMEM, "receive buffers");
	if (rx->o->validate && pattern_checker_init(&rx->pc, rx->o->validate))
		return fail(-ENOMEM, "validation pattern");
	return 0;
}

static int rx_buffer_create(struct rx *rx)
{
	const struct opts *o = rx->o;
	int err;

	if (o->memory == MEM_VRAM) {
		err = devmem_vram_create("devmem-recv", o->size, NULL, &rx->vram);
		if (err)
			return fail(err, "create a %llu-byte vram", (unsigned long long)o->size);
		err = devmem_vram_buffer_create(rx->vram, o->size, &rx->buf);
	} else if (o->memory == MEM_UDMABUF || o->memory == MEM_DMAHEAP) {
		err = opts_kdmabuf_create(o, "devmem-recv", &rx->buf);
	} else {
		struct size_progress progress;
		struct host_buffer_opts hopts = { .sz = sizeof(hopts),
						  .name = "devmem-recv",
						  .progress = size_progress,
						  .progress_arg = &progress };

		size_progress_init(&progress);

		err = devmem_host_buffer_create(o->size, &hopts, &rx->buf);
	}
	if (err)
		return fail(err, "create a %llu-byte %s buffer", (unsigned long long)o->size,
			    opts_memory_name(o->memory));
	rx->buf_size = rx->buf->size;
	rx->buf_fd = dma_buf_fd(rx->buf, O_CLOEXEC);
	if (rx->buf_fd < 0)
		return fail(rx->buf_fd, "dma-buf fd");
	return 0;
}

static int rx_listen(struct rx *rx)
{
	const struct opts *o = rx->o;
	struct sockaddr_storage ss;
	socklen_t len;
	char name[64];
	int one = 1;

	if (opts_sockaddr(o->server, o->server ? AF_UNSPEC : AF_INET, o->port, &ss, &len)) {
		msg("cannot use '%s' as the server's address", o->server);
		return EXIT_RUNTIME;
	}
	sockaddr_str(&ss, name, sizeof(name));
	rx->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (rx->listen_fd < 0)
		return sys_fail(-errno, "socket");
	if (setsockopt(rx->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		return sys_fail(-errno, "SO_REUSEADDR");
	if (bind(rx->listen_fd, (struct sockaddr *)&ss, len))
		return sys_fail(-errno, "cannot listen on %s", name);
	if (listen(rx->listen_fd, 64))
		return sys_fail(-errno, "cannot listen on %s", name);
	len = sizeof(rx->local);
	if (getsockname(rx->listen_fd, (struct sockaddr *)&rx->local, &len))
		return sys_fail(-errno, "getsockname");
	return 0;
}

const char *rx_queues_str(const struct rx *rx, char *buf, size_t len)
{
	if (rx->num_queues == 1)
		snprintf(buf, len, "rx queue %u", rx->start_queue);
	else
		snprintf(buf, len, "rx queues %u..%u", rx->start_queue,
			 rx->start_queue + rx->num_queues - 1);
	return buf;
}

uint16_t rx_port(const struct rx *rx)
{
	if (rx->local.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&rx->local)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)&rx->local)->sin6_port);
}

/* The rx queue count a new software NIC needs for -t and -q. */
static uint32_t rx_queues_wanted(const struct opts *o)
{
	uint32_t n =
		o->start_queue >= 0 ? (uint32_t)o->start_queue + o->num_queues : o->num_queues + 1;

	return n > RX_MIN_QUEUES ? n : RX_MIN_QUEUES;
}

#define RX_AUTO_MAX_QUEUES 64

static int rx_nic_create(struct rx *rx)
{
	const struct opts *o = rx->o;
	DEVMEM_OPTS(devmem_swnic_opts, sopts, .num_rx_queues = rx_queues_wanted(o));
	int err;

	struct devmem_queue_id q[RX_AUTO_MAX_QUEUES];
	unsigned int nq = 0;

	/* auto asks the kernel about the queues -t/-q name (rx queue 0 without -t) */
	for (uint32_t i = 0; o->start_queue >= 0 && i < o->num_queues && i < RX_AUTO_MAX_QUEUES;
	     i++)
		q[nq++] = (struct devmem_queue_id){ .id = (uint32_t)o->start_queue + i,
						    .type = NETDEV_QUEUE_TYPE_RX };
	rx->backend.asked = o->backend;
	err = backend_ctl_open(&rx->backend, rx->ifindex, q, nq, &rx->ctl);
	if (err)
		return fail(err, "open a control handle (--backend %s)", o->backend);
	/* on the kernel the interface's own driver is the NIC */
	if (rx->backend.chosen == DEVMEM_BACKEND_KERNEL)
		return 0;
	if (sopts.num_rx_queues > SWNIC_MAX_QUEUES) {
		msg("rx queue %u out of range (a software NIC has at most %d rx queues)",
		    sopts.num_rx_queues - 1, SWNIC_MAX_QUEUES);
		return EXIT_RUNTIME;
	}
	err = devmem_swnic_create(o->ifname, &sopts, NULL);
	/* -EEXIST: this process shadows it already, use it as it is */
	if (err && err != -EEXIST)
		return fail(err, "software NIC on %s", o->ifname);
	error_seen(); /* a successful create may leave a lookup's message behind */
	rx->nic_created = !err;
	return 0;
}

/* -t and -q against the device's real rx queues. */
static int rx_pick_queues(struct rx *rx)
{
	const struct opts *o = rx->o;
	struct devmem_dev_info info;
	int err;

	err = devmem_dev_get(rx->ctl, rx->ifindex, &info);
	if (err)
		return fail(err, "device %s", o->ifname);
	rx->nr_rx_queues = info.num_rx_queues;
	rx->num_queues = o->num_queues;
	if (o->start_queue < 0 && o->num_queues >= info.num_rx_queues) {
		msg("-q %u: %s has %u rx queues, and RSS needs one of them", o->num_queues,
		    o->ifname, info.num_rx_queues);
		return EXIT_RUNTIME;
	}
	rx->start_queue =
		o->start_queue >= 0 ? (uint32_t)o->start_queue : info.num_rx_queues - o->num_queues;
	if (rx->start_queue + rx->num_queues > info.num_rx_queues) {
		msg("rx queue %u out of range (%s has %u)", rx->start_queue + rx->num_queues - 1,
		    o->ifname, info.num_rx_queues);
		return EXIT_RUNTIME;
	}
	return 0;
}

/* The ntuple rule that steers the server's flows to the first bound queue. */
static int rx_flow_rule(struct rx *rx)
{
	const struct opts *o = rx->o;
	struct devmem_flow_rule rule = { .queue = rx->start_queue };
	struct sockaddr_storage peer;
	socklen_t len;
	int err;

	if (rx->local.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&rx->local;

		rule.flow_type = TCP_V4_FLOW;
		memcpy(rule.dst_addr, &sin->sin_addr, 4);
		rule.dst_port = sin->sin_port;
	} else {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&rx->local;

		rule.flow_type = TCP_V6_FLOW;
		memcpy(rule.dst_addr, &sin6->sin6_addr, 16);
		rule.dst_port = sin6->sin6_port;
	}
	if (o->client) {
		if (opts_sockaddr(o->client, rx->local.ss_family, 0, &peer, &len)) {
			msg("cannot use '%s' as the client's address", o->client);
			return EXIT_RUNTIME;
		}
		if (peer.ss_family == AF_INET)
			memcpy(rule.src_addr, &((struct sockaddr_in *)&peer)->sin_addr, 4);
		else
			memcpy(rule.src_addr, &((struct sockaddr_in6 *)&peer)->sin6_addr, 16);
	}
	err = devmem_flow_rule_add(rx->ctl, rx->ifindex, &rule, &rx->flow_loc);
	if (err)
		return fail(err, "flow rule to rx queue %u", rx->start_queue);
	rx->have_flow_rule = true;
	return 0;
}

/* Header split with threshold 0, RSS over the queues below -t, the flow rule. */
static int rx_nic_configure(struct rx *rx)
{
	int err;

	err = devmem_set_header_split(rx->ctl, rx->ifindex, ETHTOOL_TCP_DATA_SPLIT_ENABLED, 0);
	if (err)
		return fail(err, "header split on %s", rx->o->ifname);
	/* with -t 0 every queue is bound: RSS may spread over all of them */
	if (rx->start_queue) {
		err = devmem_set_rss_equal(rx->ctl, rx->ifindex, rx->start_queue);
		if (err && rx->start_queue == 1)
			return fail(err, "RSS over rx queue 0");
		if (err)
			return fail(err, "RSS over rx queues 0..%u", rx->start_queue - 1);
	}
	return rx_flow_rule(rx);
}

static int rx_bind(struct rx *rx)
{
	struct devmem_queue_id queues[SWNIC_MAX_QUEUES];
	char names[48];
	uint32_t i;
	int err;

	for (i = 0; i < rx->num_queues; i++)
		queues[i] = (struct devmem_queue_id){ .id = rx->start_queue + i,
						      .type = NETDEV_QUEUE_TYPE_RX };
	err = devmem_bind_rx(rx->ctl, rx->ifindex, rx->buf_fd, queues, rx->num_queues, NULL,
			     &rx->binding_id);
	if (err)
		return fail(err, "bind the dma-buf to %s of %s",
			    rx_queues_str(rx, names, sizeof(names)), rx->o->ifname);
	/* after the bind: a vmap pins a vram buffer where it is, and the bind may move it */
	if (rx->o->validate) {
		err = dma_buf_vmap_unlocked(rx->buf, &rx->vaddr);
		if (err)
			return fail(err, "CPU mapping of the dma-buf");
	}
	return 0;
}

int rx_setup(struct rx *rx, const struct opts *o)
{
	int err;

	memset(rx, 0, sizeof(*rx));
	rx->o = o;
	rx->buf_fd = -1;
	rx->listen_fd = -1;
	rx->fd = -1;
	rx->rxq = -1;
	rx->ifindex = (int)if_nametoindex(o->ifname);
	if (!rx->ifindex) {
		msg("no interface '%s'", o->ifname);
		return EXIT_RUNTIME;
	}
	/* the queues first: a bad -q or -t is refused before a buffer or a port is taken */
	err = rx_alloc(rx);
	if (!err)
		err = rx_nic_create(rx);
	if (!err)
		err = rx_pick_queues(rx);
	if (!err && !o->no_config)
		err = rx_buffer_create(rx);
	if (!err)
		err = rx_listen(rx);
	if (!err && !o->no_config)
		err = rx_nic_configure(rx);
	if (!err && !o->no_config)
		err = rx_bind(rx);
	return err;
}

/* ---- tokens ---- */

static int tokens_flush(struct rx *rx)
{
	struct token_batch *b = &rx->batch;
	int freed;

	if (!b->nr)
		return 0;
	freed = devmem_setsockopt(rx->fd, SOL_SOCKET, SO_DEVMEM_DONTNEED, b->tok,
				  b->nr * sizeof(b->tok[0]));
	if (freed < 0) {
		fail(-errno, "SO_DEVMEM_DONTNEED (%u entries, %u tokens)", b->nr, b->frags);
		return -1;
	}
	rx->c.dontneed_calls++;
	rx->c.tokens_returned += (unsigned int)freed;
	if ((unsigned int)freed < b->frags)
		rx->c.tokens_lost += b->frags - (unsigned int)freed;
	rx->c.tokens_held -= b->frags;
	b->nr = 0;
	b->frags = 0;
	return 0;
}

static bool token_extends(const struct token_batch *b, uint32_t token)
{
	const struct dmabuf_token *last;

	if (!b->nr)
		return false;
	last = &b->tok[b->nr - 1];
	return token == last->token_start + last->token_count;
}

/* Queue @token to go back; adjacent tokens make one range. */
static int token_add(struct rx *rx, uint32_t token)
{
	struct token_batch *b = &rx->batch;

	if (b->frags == DEVMEM_DONTNEED_MAX_FRAGS ||
	    (b->nr == DEVMEM_DONTNEED_MAX_TOKENS && !token_extends(b, token))) {
		if (tokens_flush(rx))
			return -1;
	}
	if (token_extends(b, token))
		b->tok[b->nr - 1].token_count++;
	else
		b->tok[b->nr++] = (struct dmabuf_token){ .token_start = token, .token_count = 1 };
	b->frags++;
	if (++rx->c.tokens_held > rx->c.tokens_held_peak)
		rx->c.tokens_held_peak = rx->c.tokens_held;
	return 0;
}

/* ---- the receive loop ---- */

/* Check @len bytes at stream offset @k; false (and counted) when they do not match. */
static bool rx_validate_at(struct rx *rx, uint64_t k, const void *p, size_t len)
{
	struct pattern_mismatch bad;

	if (pattern_check(&rx->pc, k, p, len, &bad))
		return true;
	if (!rx->mismatches++) {
		rx->first_bad = bad;
		rx->first_bad_conn = rx->c.connections;
	}
	return false;
}

static void rx_validate(struct rx *rx, const void *p, size_t len)
{
	rx_validate_at(rx, rx->stream_off, p, len);
	rx->bytes_checked += len;
}

static int rx_protocol_error(struct rx *rx, const char *what, unsigned long long a,
			     unsigned long long b)
{
	msg("devmem_recvmsg: %s (%llu, %llu)", what, a, b);
	rx->protocol_error = true;
	return -1;
}

static int rx_frag(struct rx *rx, const struct cmsghdr *cm, struct rx_batch_state *st)
{
	struct dmabuf_cmsg dc;
	int err;

	if (cm->cmsg_len < CMSG_LEN(sizeof(dc)))
		return rx_protocol_error(rx, "short SCM_DEVMEM_DMABUF cmsg", cm->cmsg_len,
					 CMSG_LEN(sizeof(dc)));
	memcpy(&dc, CMSG_DATA(cm), sizeof(dc));
	if (!rx->buf || dc.dmabuf_id != rx->binding_id)
		return rx_protocol_error(rx, "fragment of another binding (its id, ours)",
					 dc.dmabuf_id, rx->binding_id);
	if (dc.frag_offset > rx->buf->size || dc.frag_size > rx->buf->size - dc.frag_offset)
		return rx_protocol_error(rx, "fragment beyond the dma-buf (offset, size)",
					 dc.frag_offset, dc.frag_size);
	if (rx->vaddr) {
		if (!st->cpu_access) {
			err = dma_buf_begin_cpu_access(rx->buf, DMA_FROM_DEVICE);
			if (err) {
				fail(err, "begin CPU access");
				return -1;
			}
			st->cpu_access = true;
		}
		rx_validate(rx, (const uint8_t *)rx->vaddr + dc.frag_offset, dc.frag_size);
	}
	if (rx->o->unbind_after && !rx->unbound && st->nr_held < RX_CMSGS) {
		st->held[st->nr_held].frag_offset = dc.frag_offset;
		st->held[st->nr_held].stream_off = rx->stream_off;
		st->held[st->nr_held++].size = dc.frag_size;
	}
	if (token_add(rx, dc.frag_token))
		return -1;
	rx->c.frags++;
	rx->c.bytes_dmabuf += dc.frag_size;
	rx->stream_off += dc.frag_size;
	st->bytes += dc.frag_size;
	return 0;
}

/* @len bytes copied into the iovec, after those of earlier cmsgs of the call. */
static int rx_linear_bytes(struct rx *rx, size_t len, struct rx_batch_state *st)
{
	if (len > rx->iov_len - st->linear_off)
		return rx_protocol_error(rx, "linear bytes beyond the iovec (bytes, room)", len,
					 rx->iov_len - st->linear_off);
	if (rx->o->fail_on_linear) {
		msg("%zu bytes arrived linear at stream offset %llu, not in the dma-buf (-L)", len,
		    (unsigned long long)rx->stream_off);
		return -1;
	}
	if (rx->o->validate)
		rx_validate(rx, rx->iov_buf + st->linear_off, len);
	st->linear_off += len;
	rx->c.copies++;
	rx->c.bytes_linear += len;
	rx->stream_off += len;
	st->bytes += len;
	return 0;
}

/* SCM_DEVMEM_LINEAR: a struct dmabuf_cmsg (frag_size), or a bare __u32 as UAPI.md has it. */
static int rx_linear(struct rx *rx, const struct cmsghdr *cm, struct rx_batch_state *st)
{
	struct dmabuf_cmsg dc;
	uint32_t len;

	if (cm->cmsg_len >= CMSG_LEN(sizeof(dc))) {
		memcpy(&dc, CMSG_DATA(cm), sizeof(dc));
		len = dc.frag_size;
	} else if (cm->cmsg_len >= CMSG_LEN(sizeof(len))) {
		memcpy(&len, CMSG_DATA(cm), sizeof(len));
	} else {
		return rx_protocol_error(rx, "short SCM_DEVMEM_LINEAR cmsg", cm->cmsg_len,
					 CMSG_LEN(sizeof(len)));
	}
	return rx_linear_bytes(rx, len, st);
}

static int rx_cmsg(struct rx *rx, const struct cmsghdr *cm, struct rx_batch_state *st)
{
	st->cmsgs++;
	if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_DEVMEM_DMABUF)
		return rx_frag(rx, cm, st);
	if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_DEVMEM_LINEAR)
		return rx_linear(rx, cm, st);
	return rx_protocol_error(rx, "unexpected cmsg (level, type)", (unsigned)cm->cmsg_level,
				 (unsigned)cm->cmsg_type);
}

static void rx_progress(struct rx *rx, bool final);

/* A terminal line is rewritten often; a log gets sparser lines as the run goes on. */
static double rx_progress_step(const struct rx *rx, double secs)
{
	if (rx->o->progress == PROGRESS_TTY)
		return 0.1;
	return secs / 10 > 1 ? secs / 10 : 1;
}

/* The fragments held across the unbind must have kept their bytes. */
static int rx_recheck_held(struct rx *rx, const struct rx_batch_state *st)
{
	unsigned int i;
	int err;

	err = dma_buf_begin_cpu_access(rx->buf, DMA_FROM_DEVICE);
	if (err) {
		fail(err, "begin CPU access after the unbind");
		return -1;
	}
	for (i = 0; i < st->nr_held; i++)
		if (!rx_validate_at(rx, st->held[i].stream_off,
				    (const uint8_t *)rx->vaddr + st->held[i].frag_offset,
				    st->held[i].size))
			rx->unbind_held_bad++;
	err = dma_buf_end_cpu_access(rx->buf, DMA_FROM_DEVICE);
	if (err) {
		fail(err, "end CPU access after the unbind");
		return -1;
	}
	return 0;
}

/*
 * --unbind-after: close the control handle, which unbinds the dma-buf, while
 * the batch's fragments are still held, then check them again: the binding's
 * memory outlives the unbind until they come back. A new handle serves the
 * rest of the run (the flow rule, the dumps).
 */
static int rx_unbind_holding(struct rx *rx, const struct rx_batch_state *st)
{
	int err;

	devmem_ctl_close(rx->ctl);
	rx->ctl = NULL;
	rx->unbound = true;
	rx->unbound_at = rx->stream_off;
	rx->unbind_held = st->nr_held;
	err = backend_ctl_reopen(&rx->backend, &rx->ctl);
	if (err) {
		fail(err, "open a control handle");
		return -1;
	}
	return rx->vaddr ? rx_recheck_held(rx, st) : 0;
}

static bool rx_unbind_due(const struct rx *rx, const struct rx_batch_state *st)
{
	return rx->o->unbind_after && !rx->unbound && st->nr_held &&
	       rx->stream_off >= rx->o->unbind_after;
}

/* The cmsgs of one recvmsg call that returned @ret bytes. */
static int rx_batch(struct rx *rx, struct msghdr *m, size_t ret)
{
	struct rx_batch_state st = { 0 };
	struct cmsghdr *cm;
	int err = 0, err2;

	for (cm = CMSG_FIRSTHDR(m); cm && !err; cm = CMSG_NXTHDR(m, cm))
		err = rx_cmsg(rx, cm, &st);
	if (st.cpu_access) {
		err2 = dma_buf_end_cpu_access(rx->buf, DMA_FROM_DEVICE);
		if (err2 && !err) {
			fail(err2, "end CPU access");
			err = -1;
		}
	}
	/* data with no cmsg at all was copied as a plain recvmsg() would */
	if (!err && !st.cmsgs && ret)
		err = rx_linear_bytes(rx, ret, &st);
	if (!err && st.bytes != ret)
		err = rx_protocol_error(rx, "returned bytes and bytes its cmsgs account for", ret,
					st.bytes);
	rx->c.bytes += st.bytes;
	if (!err && rx_unbind_due(rx, &st))
		err = rx_unbind_holding(rx, &st);
	rx_progress(rx, false);
	err2 = tokens_flush(rx);
	return err ? err : err2;
}

/* One recvmsg call: 0 to go on, 1 at the end of the stream, -1 on failure. */
static int rx_recv_one(struct rx *rx)
{
	struct iovec iov = { .iov_base = rx->iov_buf, .iov_len = rx->iov_len };
	struct msghdr m = { .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = rx->ctrl_buf,
			    .msg_controllen = rx->ctrl_len };
	ssize_t ret;

	ret = devmem_recvmsg(rx->fd, &m, MSG_SOCK_DEVMEM);
	if (ret < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return 0;
		if (errno == ECONNRESET) {
			msg("connection reset by the peer after %llu bytes",
			    (unsigned long long)rx->stream_off);
			rx->c.resets++;
			return 1;
		}
		fail(-errno, "devmem_recvmsg");
		return -1;
	}
	if (m.msg_flags & MSG_CTRUNC)
		rx->c.ctrunc++; /* the fragments that did not fit wait for the next call */
	if (!ret && !(m.msg_flags & MSG_CTRUNC) && !CMSG_FIRSTHDR(&m))
		return 1;
	rx->c.calls++;
	return rx_batch(rx, &m, (size_t)ret) ? -1 : 0;
}

static bool rx_queue_bound(const struct rx *rx, int q)
{
	return q >= 0 && (uint32_t)q >= rx->start_queue &&
	       (uint32_t)q < rx->start_queue + rx->num_queues;
}

/*
 * With a binding, a flow served by any other queue lands in host memory: every
 * byte linear, none in the dma-buf. ncdevmem stops on it ("flow steering
 * error"); we say so at once, still receive the stream (for the report), and
 * fail the run.
 */
static void rx_check_steering(struct rx *rx)
{
	char queues[48], where[48];

	if (!rx->binding_id || rx_queue_bound(rx, rx->rxq))
		return;
	if (rx->rxq >= 0)
		snprintf(where, sizeof(where), "rx queue %d", rx->rxq);
	else
		snprintf(where, sizeof(where), "no rx queue of the software NIC");
	msg("flow steering error: connection %llu is on %s, not on the bound %s: its data "
	    "arrives linear, not in the dma-buf",
	    (unsigned long long)rx->c.connections, where,
	    rx_queues_str(rx, queues, sizeof(queues)));
	rx->c.misrouted++;
}

static int rx_accept(struct rx *rx, int timeout_ms)
{
	struct pollfd pfd = { .fd = rx->listen_fd, .events = POLLIN };
	int ret;

	if (timeout_ms >= 0) {
		do
			ret = poll(&pfd, 1, timeout_ms);
		while (ret < 0 && errno == EINTR);
		if (ret < 0)
			return sys_fail(-errno, "poll");
		if (!ret) {
			msg("no connection within %d s", timeout_ms / 1000);
			return EXIT_RUNTIME;
		}
	}
	do
		rx->fd = accept4(rx->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	while (rx->fd < 0 && errno == EINTR);
	if (rx->fd < 0)
		return sys_fail(-errno, "accept");
	if (!rx->c.connections++) {
		rx->t_start = now();
		rx->next_progress = rx->t_start + rx_progress_step(rx, 0);
	}
	rx->stream_off = 0;
	ret = devmem_sock_attach(rx->fd);
	if (ret == -ENODEV) {
		error_seen(); /* on no software NIC: read as a plain socket, all linear */
		rx->rxq = -1;
	} else if (ret < 0) {
		return fail(ret, "attach the connection to its rx queue");
	} else {
		rx->rxq = ret;
	}
	rx_check_steering(rx);
	return 0;
}

static void sock_stats_add(struct devmem_sock_stats *sum, const struct devmem_sock_stats *s)
{
	sum->ifindex = s->ifindex;
	sum->rxq = s->rxq;
	sum->bytes_dmabuf += s->bytes_dmabuf;
	sum->bytes_linear += s->bytes_linear;
	sum->frags += s->frags;
	sum->frags_queued += s->frags_queued;
	sum->tokens_held += s->tokens_held;
	sum->tokens_freed += s->tokens_freed;
	sum->tokens_unknown += s->tokens_unknown;
	sum->ctrunc += s->ctrunc;
}

/* Give back what is still held, keep the socket's statistics, close it. */
static void rx_conn_close(struct rx *rx)
{
	struct devmem_sock_stats s;

	if (rx->fd < 0)
		return;
	tokens_flush(rx);
	if (!devmem_sock_stats(rx->fd, &s)) {
		sock_stats_add(&rx->snap.sock, &s);
		rx->snap.have_sock = true;
	} else {
		error_seen();
	}
	if (devmem_close(rx->fd))
		fail(-errno, "devmem_close");
	rx->fd = -1;
	rx->t_end = now();
	if (rx->stream_off > rx->longest_stream)
		rx->longest_stream = rx->stream_off;
	if (rx->o->have_expect && rx->stream_off < rx->o->expect) {
		msg("short stream: %llu of %llu bytes", (unsigned long long)rx->stream_off,
		    (unsigned long long)rx->o->expect);
		rx->c.short_streams++;
	} else if (rx->o->have_expect && rx->stream_off > rx->o->expect) {
		msg("long stream: %llu bytes, %llu more than the %llu expected",
		    (unsigned long long)rx->stream_off,
		    (unsigned long long)(rx->stream_off - rx->o->expect),
		    (unsigned long long)rx->o->expect);
		rx->c.long_streams++;
	}
}

static int rx_stream(struct rx *rx)
{
	int ret;

	do
		ret = rx_recv_one(rx);
	while (!ret);
	return ret < 0 ? EXIT_RUNTIME : 0;
}

/* ---- statistics ---- */

static int pool_collect(const struct devmem_page_pool_info *pp, void *data)
{
	struct rx_snapshot *snap = data;

	if (snap->nr_pools < RX_MAX_POOLS)
		snap->pools[snap->nr_pools++] = *pp;
	return 0;
}

static void rx_rxq_snapshot(struct rx *rx, uint32_t q)
{
	struct rx_snapshot *snap = &rx->snap;

	if (devmem_swnic_rxq_stats(rx->ifindex, q, &snap->rxq[snap->nr_rxqs])) {
		error_seen();
		return;
	}
	snap->rxq_id[snap->nr_rxqs++] = q;
}

static void rx_snapshot(struct rx *rx)
{
	struct rx_snapshot *snap = &rx->snap;
	uint32_t q;

	if (!rx->ctl)
		return;
	for (q = rx->start_queue; q < rx->start_queue + rx->num_queues; q++)
		rx_rxq_snapshot(rx, q);
	if (rx->rxq >= 0 && ((uint32_t)rx->rxq < rx->start_queue ||
			     (uint32_t)rx->rxq >= rx->start_queue + rx->num_queues))
		rx_rxq_snapshot(rx, (uint32_t)rx->rxq);
	if (rx->binding_id)
		snap->have_binding = !devmem_binding_get(rx->ctl, rx->binding_id, &snap->binding);
	if (devmem_page_pool_dump(rx->ctl, rx->ifindex, pool_collect, snap))
		error_seen();
}

int rx_serve(struct rx *rx, int accept_timeout_ms)
{
	uint64_t i;
	int err = 0;

	for (i = 0; i < rx->o->repeat && !err; i++) {
		err = rx_accept(rx, accept_timeout_ms);
		if (!err)
			err = rx_stream(rx);
		rx_conn_close(rx);
	}
	rx->failed = err != 0;
	rx_progress(rx, true);
	rx_snapshot(rx);
	return err;
}

/* ---- progress ---- */

static void rx_progress(struct rx *rx, bool final)
{
	double t = now(), secs = t - rx->t_start;
	struct devmem_binding_info b;
	char done[24], total[24], line[256];
	int n;

	if (rx->o->progress == PROGRESS_NONE || !rx->c.connections)
		return;
	if (final ? rx->o->progress != PROGRESS_TTY : t < rx->next_progress)
		return;
	n = snprintf(line, sizeof(line), "%s", fmt_bytes(rx->c.bytes, done, sizeof(done)));
	if (rx->o->have_expect)
		n += snprintf(line + n, sizeof(line) - n, " of %s",
			      fmt_bytes(rx->o->expect * rx->o->repeat, total, sizeof(total)));
	n += snprintf(line + n, sizeof(line) - n, "  %.2f GB/s  %llu frags  %llu tokens held",
		      secs > 0 ? (double)rx->c.bytes / secs / 1e9 : 0.0,
		      (unsigned long long)rx->c.frags, (unsigned long long)rx->c.tokens_held);
	if (rx->binding_id && !devmem_binding_get(rx->ctl, rx->binding_id, &b))
		snprintf(line + n, sizeof(line) - n, "  %llu net_iovs in flight",
			 (unsigned long long)b.niovs_in_use);
	if (rx->o->progress == PROGRESS_TTY) {
		fprintf(stderr, "\r\033[K%s%s", line, final ? "\n" : "");
	} else {
		fprintf(stderr, "%6.1f s  %s\n", secs, line);
		rx->progress_lines++;
	}
	rx->next_progress = t + rx_progress_step(rx, secs);
}

/* ---- teardown ---- */

struct leftover_walk {
	int ifindex;
	struct rx_leftover *left;
};

static int binding_left(const struct devmem_binding_info *b, void *data)
{
	struct leftover_walk *w = data;

	if (b->ifindex == w->ifindex) {
		w->left->bindings++;
		w->left->niovs_in_use += b->niovs_in_use;
	}
	return 0;
}

static int pool_left(const struct devmem_page_pool_info *pp, void *data)
{
	struct leftover_walk *w = data;

	if (pp->ifindex == w->ifindex) {
		w->left->pools++;
		w->left->pool_inflight += pp->inflight;
	}
	return 0;
}

/* After the NIC is gone: wait a little for bindings and page pools on it to go too. */
static void rx_check_leftover(struct rx *rx)
{
	struct leftover_walk w = { .ifindex = rx->ifindex, .left = &rx->left };
	double deadline = now() + RX_LEFTOVER_WAIT;
	struct devmem_ctl *ctl;

	if (backend_ctl_reopen(&rx->backend, &ctl)) {
		error_seen();
		return;
	}
	for (;;) {
		memset(&rx->left, 0, sizeof(rx->left));
		if (devmem_binding_dump(ctl, 0, binding_left, &w) ||
		    devmem_page_pool_dump(ctl, 0, pool_left, &w)) {
			error_seen();
			break;
		}
		rx->left.checked = true;
		if ((!rx->left.bindings && !rx->left.pools) || now() > deadline)
			break;
		usleep(10000);
	}
	devmem_ctl_close(ctl);
}

static void rx_put_buffer(struct rx *rx)
{
	bool leaked = rx->left.bindings > 0;

	if (rx->buf_fd >= 0)
		close(rx->buf_fd);
	/* a binding that never went away still references the buffer (and its vram) */
	if (rx->buf && !leaked)
		dma_buf_put(rx->buf);
	if (rx->vram && !leaked) {
		devmem_vram_flush(rx->vram);
		devmem_vram_destroy(rx->vram);
	}
	rx->buf_fd = -1;
	rx->buf = NULL;
	rx->vram = NULL;
}

void rx_teardown(struct rx *rx)
{
	int err;

	rx_conn_close(rx);
	if (rx->listen_fd >= 0)
		close(rx->listen_fd);
	rx->listen_fd = -1;
	if (rx->vaddr)
		dma_buf_vunmap_unlocked(rx->buf, rx->vaddr);
	rx->vaddr = NULL;
	if (rx->have_flow_rule) {
		err = devmem_flow_rule_del(rx->ctl, rx->ifindex, rx->flow_loc);
		if (err)
			fail(err, "delete flow rule %u", rx->flow_loc);
		rx->have_flow_rule = false;
	}
	devmem_ctl_close(rx->ctl); /* unbinds: the queues restart on host pages */
	rx->ctl = NULL;
	if (rx->nic_created) {
		if (devmem_swnic_destroy(rx->ifindex))
			error_seen();
		rx->nic_created = false;
		rx_check_leftover(rx);
	}
	rx_put_buffer(rx);
	if (rx->o && rx->o->validate)
		pattern_checker_fini(&rx->pc);
	free(rx->iov_buf);
	free(rx->ctrl_buf);
	rx->iov_buf = NULL;
	rx->ctrl_buf = NULL;
}

bool rx_ok(const struct rx *rx)
{
	return !rx->failed && !rx->mismatches && !rx->c.short_streams && !rx->c.long_streams &&
	       !rx->c.misrouted && !rx->c.resets && !rx->c.tokens_lost && !rx->protocol_error &&
	       rx->c.connections == rx->o->repeat &&
	       (!rx->o->unbind_after || (rx->unbound && !rx->unbind_held_bad)) &&
	       (!rx->left.checked || (!rx->left.bindings && !rx->left.pools));
}
