// SPDX-License-Identifier: MIT
/*
 * devmem send: the client side of ncdevmem. The pattern sits in a dma-buf
 * bound for transmit; each sendmsg(MSG_ZEROCOPY) names a range of it by
 * offset and the binding by an SCM_DEVMEM_DMABUF cmsg, and the completions
 * come back on the socket's error queue. The buffer is used up to a
 * multiple of the pattern's period, so that wrapping around it continues
 * the pattern.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devmem/host.h"
#include "devmem/netdev.h"
#include "devmem/socket.h"
#include "devmem/swnic.h"
#include "devmem/uapi.h"
#include "devmem/vram.h"
#include "backend.h"
#include "json.h"
#include "opts.h"
#include "pattern.h"
#include "tool.h"
#include "cmds.h"
#include "tx.h"

#define TX_MAX_INFLIGHT 256 /* sends not yet completed */
#define TX_DRAIN_TIMEOUT 10.0 /* seconds to wait for the last completions */
#define PLAIN_SPAN (1u << 20) /* -n: bytes of pattern in ordinary memory, about */
#define TX_MAX_IOV 1024 /* iovs in one sendmsg: the kernel's UIO_MAXIOV */

struct tx {
	const struct opts *o;
	struct vram *vram;
	struct dma_buf *buf;
	int buf_fd;
	void *vaddr; /* stdin: the CPU mapping each line is copied through */
	uint64_t span; /* bytes of the buffer in use: a multiple of the period */
	int ifindex;
	bool nic_created;
	struct backend_choice backend; /* --backend and what it came to */
	struct devmem_ctl *ctl;
	uint32_t binding_id;
	int fd;
	struct sockaddr_storage peer;

	uint64_t bytes;
	uint64_t in_bytes; /* stdin: bytes read */
	uint64_t lines; /* stdin: lines read */
	uint64_t sends; /* zerocopy sendmsg calls: their completion numbers */
	uint64_t completions;
	uint64_t notifications; /* error-queue messages */
	uint64_t copied; /* completions the stack reported as copied */
	bool have_sock;
	struct devmem_sock_stats sock;
	double t_start, t_end;
};

/* ---- plain send() ---- */

int send_plain(int fd, uint32_t period, uint64_t bytes, uint64_t chunk, uint64_t *sent)
{
	uint64_t span = period ? (PLAIN_SPAN / period) * period : PLAIN_SPAN;
	uint64_t off = 0;
	uint8_t *buf;
	ssize_t ret;

	*sent = 0;
	buf = calloc(1, span);
	if (!buf)
		return -ENOMEM;
	if (period)
		pattern_fill(period, 0, buf, span);
	while (*sent < bytes) {
		uint64_t len = bytes - *sent;

		len = len < chunk ? len : chunk;
		len = len < span - off ? len : span - off;
		ret = send(fd, buf + off, len, MSG_NOSIGNAL);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0) {
			ret = -errno;
			free(buf);
			return (int)ret;
		}
		*sent += (uint64_t)ret;
		off = (off + (uint64_t)ret) % span;
	}
	free(buf);
	return 0;
}

/* ---- set-up ---- */

static int tx_fill(struct tx *tx)
{
	void *vaddr;
	int err;

	err = dma_buf_vmap_unlocked(tx->buf, &vaddr);
	if (err)
		return fail(err, "CPU mapping of the dma-buf");
	err = dma_buf_begin_cpu_access(tx->buf, DMA_TO_DEVICE);
	if (!err) {
		pattern_fill(tx->o->validate, 0, vaddr, tx->span);
		err = dma_buf_end_cpu_access(tx->buf, DMA_TO_DEVICE);
	}
	dma_buf_vunmap_unlocked(tx->buf, vaddr);
	return err ? fail(err, "CPU access to the dma-buf") : 0;
}

static int tx_buffer_create(struct tx *tx)
{
	const struct opts *o = tx->o;
	uint64_t period = o->validate ? o->validate : 1;
	int err;

	if (o->memory == MEM_VRAM) {
		err = devmem_vram_create("devmem-send", o->size, NULL, &tx->vram);
		if (err)
			return fail(err, "create a %llu-byte vram", (unsigned long long)o->size);
		err = devmem_vram_buffer_create(tx->vram, o->size, &tx->buf);
	} else if (o->memory == MEM_UDMABUF || o->memory == MEM_DMAHEAP) {
		err = opts_kdmabuf_create(o, "devmem-send", &tx->buf);
	} else {
		struct size_progress progress;
		struct host_buffer_opts hopts = { .sz = sizeof(hopts),
						  .name = "devmem-send",
						  .progress = size_progress,
						  .progress_arg = &progress };

		size_progress_init(&progress);

		err = devmem_host_buffer_create(o->size, &hopts, &tx->buf);
	}
	if (err)
		return fail(err, "create a %llu-byte %s buffer", (unsigned long long)o->size,
			    opts_memory_name(o->memory));
	tx->span = o->size - o->size % period;
	if (!tx->span) {
		msg("--size %llu is smaller than the pattern's period",
		    (unsigned long long)o->size);
		return EXIT_RUNTIME;
	}
	if (o->validate) {
		err = tx_fill(tx);
		if (err)
			return err;
	}
	if (o->from_stdin) {
		err = dma_buf_vmap_unlocked(tx->buf, &tx->vaddr);
		if (err)
			return fail(err, "CPU mapping of the dma-buf");
	}
	tx->buf_fd = dma_buf_fd(tx->buf, O_CLOEXEC);
	if (tx->buf_fd < 0)
		return fail(tx->buf_fd, "dma-buf fd");
	return 0;
}

static int tx_bind(struct tx *tx)
{
	int err;

	tx->backend.asked = tx->o->backend;
	err = backend_ctl_open(&tx->backend, tx->ifindex, NULL, 0, &tx->ctl);
	if (err)
		return fail(err, "open a control handle (--backend %s)", tx->o->backend);
	/* on the kernel the interface's own driver sends */
	if (tx->backend.chosen != DEVMEM_BACKEND_KERNEL) {
		err = devmem_swnic_create(tx->o->ifname, NULL, NULL);
		if (err && err != -EEXIST)
			return fail(err, "software NIC on %s", tx->o->ifname);
		error_seen(); /* a successful create may leave a lookup's message behind */
		tx->nic_created = !err;
	}
	err = devmem_bind_tx(tx->ctl, tx->ifindex, tx->buf_fd, NULL, &tx->binding_id);
	if (err)
		return fail(err, "bind the dma-buf for transmit on %s", tx->o->ifname);
	return 0;
}

static int tx_connect(struct tx *tx)
{
	const struct opts *o = tx->o;
	struct sockaddr_storage local;
	socklen_t len, llen;
	char name[64];
	int one = 1;

	if (opts_sockaddr(o->server, AF_UNSPEC, o->port, &tx->peer, &len)) {
		msg("cannot use '%s' as the server's address", o->server);
		return EXIT_RUNTIME;
	}
	sockaddr_str(&tx->peer, name, sizeof(name));
	tx->fd = socket(tx->peer.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (tx->fd < 0)
		return sys_fail(-errno, "socket");
	if (o->client) {
		if (opts_sockaddr(o->client, tx->peer.ss_family, 0, &local, &llen)) {
			msg("cannot use '%s' as the client's address", o->client);
			return EXIT_RUNTIME;
		}
		if (bind(tx->fd, (struct sockaddr *)&local, llen))
			return sys_fail(-errno, "cannot bind to %s", o->client);
	}
	if (connect(tx->fd, (struct sockaddr *)&tx->peer, len))
		return sys_fail(-errno, "cannot connect to %s", name);
	if (!o->no_config &&
	    devmem_setsockopt(tx->fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)) < 0)
		return fail(-errno, "SO_ZEROCOPY");
	return 0;
}

static int tx_setup(struct tx *tx, const struct opts *o)
{
	int err = 0;

	memset(tx, 0, sizeof(*tx));
	tx->o = o;
	tx->backend.asked = o->backend;
	snprintf(tx->backend.reason, sizeof(tx->backend.reason),
		 "-n: no control handle, a plain send()");
	tx->buf_fd = -1;
	tx->fd = -1;
	if (!o->no_config) {
		tx->ifindex = (int)if_nametoindex(o->ifname);
		if (!tx->ifindex) {
			msg("no interface '%s'", o->ifname);
			return EXIT_RUNTIME;
		}
		err = tx_buffer_create(tx);
		if (!err)
			err = tx_bind(tx);
	}
	if (!err)
		err = tx_connect(tx);
	return err;
}

/* ---- zerocopy sends and their completions ---- */

/*
 * One sendmsg of [@off, @off + @len) of the dma-buf, cut into iovs of at most
 * -z bytes (ncdevmem's client cuts a line so), as many as one call takes.
 */
static ssize_t tx_sendmsg(struct tx *tx, uint64_t off, size_t len)
{
	char ctrl[CMSG_SPACE(sizeof(uint32_t))] = { 0 };
	struct iovec iov[TX_MAX_IOV];
	struct msghdr m = {
		.msg_iov = iov, .msg_iovlen = 0, .msg_control = ctrl, .msg_controllen = sizeof(ctrl)
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	uint64_t chunk = tx->o->tx_chunk;

	while (len && m.msg_iovlen < TX_MAX_IOV) {
		size_t n = len < chunk ? len : (size_t)chunk;

		iov[m.msg_iovlen++] =
			(struct iovec){ .iov_base = (void *)(uintptr_t)off, .iov_len = n };
		off += n;
		len -= n;
	}

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_DEVMEM_DMABUF;
	cm->cmsg_len = CMSG_LEN(sizeof(uint32_t));
	memcpy(CMSG_DATA(cm), &tx->binding_id, sizeof(uint32_t));
	return devmem_sendmsg(tx->fd, &m, MSG_ZEROCOPY);
}

static int tx_notification(struct tx *tx, const struct cmsghdr *cm)
{
	struct sock_extended_err serr;

	if (!((cm->cmsg_level == SOL_IP && cm->cmsg_type == IP_RECVERR) ||
	      (cm->cmsg_level == SOL_IPV6 && cm->cmsg_type == IPV6_RECVERR)))
		return 0;
	memcpy(&serr, CMSG_DATA(cm), sizeof(serr));
	if (serr.ee_origin != SO_EE_ORIGIN_ZEROCOPY || serr.ee_errno) {
		msg("error queue: origin %u, errno %u (%s)", serr.ee_origin, serr.ee_errno,
		    strerror((int)serr.ee_errno));
		return EXIT_RUNTIME;
	}
	if (serr.ee_data < serr.ee_info) {
		msg("error queue: completion range %u..%u", serr.ee_info, serr.ee_data);
		return EXIT_RUNTIME;
	}
	tx->notifications++;
	tx->completions += (uint64_t)serr.ee_data - serr.ee_info + 1;
	if (serr.ee_code & SO_EE_CODE_ZEROCOPY_COPIED)
		tx->copied += (uint64_t)serr.ee_data - serr.ee_info + 1;
	return 0;
}

/* Read every notification queued now; with @wait, first wait a moment for one. */
static int tx_reap(struct tx *tx, bool wait)
{
	char ctrl[CMSG_SPACE(sizeof(struct sock_extended_err) + sizeof(struct sockaddr_in6))];
	struct pollfd pfd = { .fd = tx->fd, .events = 0 };
	struct cmsghdr *cm;
	ssize_t ret;
	int err;

	for (;;) {
		struct msghdr m = { .msg_control = ctrl, .msg_controllen = sizeof(ctrl) };

		ret = devmem_recvmsg(tx->fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait && poll(&pfd, 1, 1) < 0 && errno != EINTR)
				return sys_fail(-errno, "poll");
			return 0;
		}
		if (ret < 0)
			return fail(-errno, "devmem_recvmsg(MSG_ERRQUEUE)");
		for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
			err = tx_notification(tx, cm);
			if (err)
				return err;
		}
		wait = false;
	}
}

static int tx_zerocopy_one(struct tx *tx, uint64_t off, size_t len, uint64_t *done)
{
	ssize_t ret;
	int err;

	while (tx->sends - tx->completions >= TX_MAX_INFLIGHT) {
		err = tx_reap(tx, true);
		if (err)
			return err;
	}
	ret = tx_sendmsg(tx, off, len);
	if (ret < 0) {
		if (errno == EINTR)
			return 0;
		if (errno == ENOBUFS) /* out of option memory: let completions drain */
			return tx_reap(tx, true);
		return fail(-errno, "devmem_sendmsg");
	}
	tx->sends++;
	*done = (uint64_t)ret;
	return tx_reap(tx, false);
}

static int tx_drain(struct tx *tx)
{
	double deadline = now() + TX_DRAIN_TIMEOUT;
	int err;

	while (tx->completions < tx->sends) {
		if (now() > deadline) {
			msg("%llu of %llu sends never completed",
			    (unsigned long long)(tx->sends - tx->completions),
			    (unsigned long long)tx->sends);
			return EXIT_RUNTIME;
		}
		err = tx_reap(tx, true);
		if (err)
			return err;
	}
	return 0;
}

static int tx_run_zerocopy(struct tx *tx)
{
	uint64_t total = tx->o->bytes, off = 0, done;
	int err;

	while (tx->bytes < total) {
		uint64_t len = total - tx->bytes;

		len = len < tx->o->tx_chunk ? len : tx->o->tx_chunk;
		len = len < tx->span - off ? len : tx->span - off;
		done = 0;
		err = tx_zerocopy_one(tx, off, len, &done);
		if (err)
			return err;
		tx->bytes += done;
		off = (off + done) % tx->span;
	}
	return tx_drain(tx);
}

/* @len bytes from @p into the dma-buf at @off, under CPU access. */
static int tx_copy_in(struct tx *tx, uint64_t off, const void *p, size_t len)
{
	int err;

	err = dma_buf_begin_cpu_access(tx->buf, DMA_TO_DEVICE);
	if (err)
		return fail(err, "CPU access to the dma-buf");
	memcpy((uint8_t *)tx->vaddr + off, p, len);
	err = dma_buf_end_cpu_access(tx->buf, DMA_TO_DEVICE);
	return err ? fail(err, "CPU access to the dma-buf") : 0;
}

/* [@off, @off + @len) of the dma-buf, in as many sendmsg calls as it takes. */
static int tx_send_range(struct tx *tx, uint64_t off, uint64_t len)
{
	uint64_t done;
	int err;

	while (len) {
		done = 0;
		err = tx_zerocopy_one(tx, off, len, &done);
		if (err)
			return err;
		tx->bytes += done;
		off += done;
		len -= done;
	}
	return 0;
}

/*
 * stdin, as ncdevmem's client sends it: line by line, each line copied into
 * the dma-buf and sent with one sendmsg in iovs of at most -z bytes. Lines
 * follow each other through the buffer; before it wraps, every send must
 * have completed, since a zerocopy send reads the buffer until then. A line
 * longer than the buffer goes in buffer-sized pieces.
 */
static int tx_run_stdin_zerocopy(struct tx *tx)
{
	uint64_t off = 0, done, piece;
	size_t cap = 0;
	char *line = NULL;
	ssize_t n;
	int err = 0;

	while (!err && (n = getline(&line, &cap, stdin)) > 0) {
		tx->in_bytes += (uint64_t)n;
		tx->lines++;
		for (done = 0; !err && done < (uint64_t)n; done += piece) {
			piece = (uint64_t)n - done < tx->span ? (uint64_t)n - done : tx->span;
			if (off + piece > tx->span) {
				err = tx_drain(tx);
				off = 0;
			}
			if (!err)
				err = tx_copy_in(tx, off, line + done, piece);
			if (!err)
				err = tx_send_range(tx, off, piece);
			off += piece;
		}
	}
	if (!err && ferror(stdin))
		err = sys_fail(-errno, "read stdin after %llu bytes",
			       (unsigned long long)tx->in_bytes);
	free(line);
	return err ? err : tx_drain(tx);
}

/* -n with stdin: plain send() of what read() gives. */
static int tx_run_stdin_plain(struct tx *tx)
{
	size_t len = tx->o->tx_chunk < PLAIN_SPAN ? tx->o->tx_chunk : PLAIN_SPAN;
	uint8_t *buf = malloc(len);
	ssize_t n, off, ret;
	int err = 0;

	if (!buf)
		return sys_fail(-ENOMEM, "stdin buffer");
	while (!err) {
		n = read(STDIN_FILENO, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			err = sys_fail(-errno, "read stdin after %llu bytes",
				       (unsigned long long)tx->in_bytes);
		if (n <= 0)
			break;
		tx->in_bytes += (uint64_t)n;
		for (off = 0; !err && off < n; off += ret) {
			ret = send(tx->fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
			if (ret < 0 && errno == EINTR)
				ret = 0;
			else if (ret < 0)
				err = sys_fail(-errno, "send after %llu bytes",
					       (unsigned long long)tx->bytes);
			else
				tx->bytes += (uint64_t)ret;
		}
	}
	free(buf);
	return err;
}

static int tx_run(struct tx *tx)
{
	int err;

	tx->t_start = now();
	if (tx->o->from_stdin) {
		err = tx->o->no_config ? tx_run_stdin_plain(tx) : tx_run_stdin_zerocopy(tx);
	} else if (tx->o->no_config) {
		err = send_plain(tx->fd, tx->o->validate, tx->o->bytes, tx->o->tx_chunk,
				 &tx->bytes);
		if (err)
			err = sys_fail(err, "send after %llu bytes", (unsigned long long)tx->bytes);
	} else {
		err = tx_run_zerocopy(tx);
	}
	tx->t_end = now();
	return err;
}

/* ---- teardown and report ---- */

static void tx_teardown(struct tx *tx)
{
	if (tx->fd >= 0) {
		if (!tx->o->no_config)
			tx->have_sock = !devmem_sock_stats(tx->fd, &tx->sock);
		if (devmem_close(tx->fd))
			fail(-errno, "close");
	}
	devmem_ctl_close(tx->ctl);
	if (tx->nic_created && devmem_swnic_destroy(tx->ifindex))
		error_seen();
	if (tx->vaddr)
		dma_buf_vunmap_unlocked(tx->buf, tx->vaddr);
	if (tx->buf_fd >= 0)
		close(tx->buf_fd);
	if (tx->buf)
		dma_buf_put(tx->buf);
	if (tx->vram) {
		devmem_vram_flush(tx->vram);
		devmem_vram_destroy(tx->vram);
	}
}

static bool tx_ok(const struct tx *tx)
{
	uint64_t want = tx->o->from_stdin ? tx->in_bytes : tx->o->bytes;

	return tx->bytes == want && tx->completions == tx->sends;
}

static double tx_rate(const struct tx *tx)
{
	double s = tx->t_end - tx->t_start;

	return s > 0 ? (double)tx->bytes / s : 0;
}

static void tx_report_json(const struct tx *tx)
{
	struct json j;

	json_begin(&j, stdout);
	json_str(&j, "command", "devmem send");
	json_bool(&j, "ok", tx_ok(tx));
	json_u64(&j, "bytes", tx->bytes);
	json_double(&j, "seconds", tx->t_end - tx->t_start);
	json_double(&j, "gbytes_per_s", tx_rate(tx) / 1e9);
	json_double(&j, "gbits_per_s", tx_rate(tx) * 8 / 1e9);
	json_bool(&j, "zerocopy", !tx->o->no_config);
	json_str(&j, "backend", devmem_backend_name(tx->backend.chosen));
	json_str(&j, "backend_asked", tx->o->backend);
	json_str(&j, "backend_reason", tx->backend.reason);
	json_u64(&j, "binding", tx->binding_id);
	json_u64(&j, "sends", tx->sends);
	json_u64(&j, "completions", tx->completions);
	json_u64(&j, "notifications", tx->notifications);
	json_u64(&j, "copied", tx->copied);
	json_u64(&j, "pattern_period", tx->o->validate);
	json_str(&j, "data", tx->o->from_stdin ? "stdin" : "pattern");
	if (tx->o->from_stdin) {
		json_u64(&j, "stdin_bytes", tx->in_bytes);
		json_u64(&j, "stdin_lines", tx->lines);
	}
	if (tx->have_sock) {
		json_object(&j, "socket");
		json_u64(&j, "tx_sends", tx->sock.tx_sends);
		json_u64(&j, "tx_bytes", tx->sock.tx_bytes);
		json_close(&j);
	}
	json_end(&j);
}

static void tx_report_text(const struct tx *tx)
{
	char name[64], size[24];

	sockaddr_str(&tx->peer, name, sizeof(name));
	printf("devmem send: %s to %s in %.2f s: %.2f GB/s (%.1f Gbit/s), %s\n",
	       fmt_bytes(tx->bytes, size, sizeof(size)), name, tx->t_end - tx->t_start,
	       tx_rate(tx) / 1e9, tx_rate(tx) * 8 / 1e9, tx_ok(tx) ? "ok" : "FAILED");
	printf("  %-13s %s: %s\n", "backend", devmem_backend_name(tx->backend.chosen),
	       tx->backend.reason);
	if (tx->o->no_config) {
		printf("  %-13s plain send() from ordinary memory (-n)\n", "data");
	} else if (tx->o->from_stdin) {
		printf("  %-13s %s %s dma-buf bound for transmit on %s (binding %u)\n", "buffer",
		       fmt_bytes(tx->o->size, size, sizeof(size)), opts_memory_name(tx->o->memory),
		       tx->o->ifname, tx->binding_id);
		printf("  %-13s %llu MSG_ZEROCOPY sendmsg calls for %llu lines, in iovs of up to "
		       "%llu bytes\n",
		       "sends", (unsigned long long)tx->sends, (unsigned long long)tx->lines,
		       (unsigned long long)tx->o->tx_chunk);
		printf("  %-13s %llu in %llu error-queue notifications (%llu copied)\n",
		       "completions", (unsigned long long)tx->completions,
		       (unsigned long long)tx->notifications, (unsigned long long)tx->copied);
	} else {
		printf("  %-13s %s %s dma-buf bound for transmit on %s (binding %u)\n", "buffer",
		       fmt_bytes(tx->o->size, size, sizeof(size)), opts_memory_name(tx->o->memory),
		       tx->o->ifname, tx->binding_id);
		printf("  %-13s %llu MSG_ZEROCOPY sendmsg calls of up to %llu bytes\n", "sends",
		       (unsigned long long)tx->sends, (unsigned long long)tx->o->tx_chunk);
		printf("  %-13s %llu in %llu error-queue notifications (%llu copied)\n",
		       "completions", (unsigned long long)tx->completions,
		       (unsigned long long)tx->notifications, (unsigned long long)tx->copied);
	}
	if (tx->o->from_stdin && tx->o->no_config)
		printf("  %-13s stdin: %llu bytes read\n", "payload",
		       (unsigned long long)tx->in_bytes);
	else if (tx->o->from_stdin)
		printf("  %-13s stdin: %llu bytes read, %llu lines\n", "payload",
		       (unsigned long long)tx->in_bytes, (unsigned long long)tx->lines);
	else if (tx->o->validate)
		printf("  %-13s the pattern, period %u\n", "payload", tx->o->validate);
	else
		printf("  %-13s zeros\n", "payload");
	fflush(stdout);
}

int cmd_send(int argc, char **argv)
{
	struct opts o;
	struct tx tx;
	int err;

	opts_init(&o);
	err = opts_parse(&o, "send", argc, argv);
	if (err)
		return err < 0 ? 0 : err;
	/* as ncdevmem's client: what comes through a pipe or a file is the data */
	o.from_stdin = !o.have_bytes && !o.validate && !isatty(STDIN_FILENO);
	signal(SIGPIPE, SIG_IGN);
	err = tx_setup(&tx, &o);
	if (!err)
		err = tx_run(&tx);
	tx_teardown(&tx);
	if (tx.t_end > 0) {
		if (o.json)
			tx_report_json(&tx);
		else
			tx_report_text(&tx);
	}
	if (!err && !tx_ok(&tx))
		err = EXIT_RUNTIME;
	return err;
}
