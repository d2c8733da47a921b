// SPDX-License-Identifier: MIT
/*
 * Receiving one TCP flow over loopback, every receiver against the same
 * sender in the same run:
 *   (a) raw io_uring: a multishot receive with buffer select from a
 *       provided-buffer ring, each buffer put back in the ring as soon as its
 *       completion is seen; 4 KiB and 64 KiB buffers, one buffer per
 *       completion or bundles (many buffers per completion, kernel 6.10+);
 *   (b) recv() into a 256 KiB buffer;
 *   (c) recv() into a 256 KiB buffer, then memcpy into a 64 MiB buffer
 *       written cyclically: the bounce copy of an application without devmem;
 *   (d) devmem on the software path: a 64 MiB host dma-buf bound to rx
 *       queue 1 of a software NIC on lo, the flow steered there by a flow
 *       rule, read with devmem_recvmsg(MSG_SOCK_DEVMEM) and every fragment's
 *       token given back with SO_DEVMEM_DONTNEED (coalesced into ranges);
 * then (d) against (a) and (c), and the cost of SO_DEVMEM_DONTNEED per token.
 *
 * The sender is a forked child doing plain send() of a 256 KiB buffer in a
 * loop; it starts when the receiver is set up and has started its clock, so
 * no data waits in the socket buffer before timing. CPU time is the
 * receiving process's (user + sys, getrusage(RUSAGE_SELF)): for (d) that
 * includes the software NIC's queue thread, which does the receive, not only
 * the application thread. Throughput is in GB/s (10^9 bytes per second);
 * every row is the median of 3 runs (1 with --quick). Only 127.0.0.1 is
 * used; a watchdog ends a run that hangs, and any failure kills the sender
 * and exits non-zero. Build with `make bench`.
 */
#include <liburing.h>

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "devmem/dma-buf.h"
#include "devmem/error.h"
#include "devmem/host.h"
#include "devmem/netdev.h"
#include "devmem/socket.h"
#include "devmem/swnic.h"
#include "devmem/uapi.h"

#define RUNS 3
#define DEFAULT_BYTES (4ULL << 30)
#define QUICK_BYTES (256ULL << 20)
#define CHUNK (256U << 10) /* the sender's send() and the recv() receivers' buffer */
#define BOUNCE_SIZE (64UL << 20)
#define DMABUF_SIZE (64UL << 20)
#define MAX_CMSGS 128
#define LINEAR_BUF_SIZE (MAX_CMSGS * (64UL << 10))
#define URING_SQ_ENTRIES 8
#define BUF_GROUP 0
/* a run may take this long plus 1 s per 50 MB before the watchdog ends it */
#define WATCHDOG_BASE_S 120
#define WATCHDOG_BYTES_PER_S (50ULL * 1000 * 1000)
/* the DONTNEED micro rows: a 16 MiB flow per round, all of it held in 4 KiB fragments */
#define MICRO_NIOV 4096U
#define MICRO_ENTRIES 4096U
#define MICRO_BYTES (16ULL << 20)
#define MICRO_MAX_FRAGS (DMABUF_SIZE / MICRO_NIOV) /* no more than the buffer's net_iovs */

enum rx_kind { RX_URING, RX_RECV, RX_RECV_COPY, RX_DEVMEM };

struct rx_cfg {
	enum rx_kind kind;
	unsigned int buf_size; /* (a), (d): bytes per provided buffer / net_iov */
	unsigned int entries; /* (a), (d): provided-buffer ring entries */
	bool bundle;
};

struct row_result {
	const char *skipped; /* why the row was not measured, or NULL */
	double gbps; /* median throughput, 10^9 bytes/s */
	double cpu_ms_per_gb; /* median CPU time of the receiver per 10^9 bytes */
};

static uint64_t g_bytes = DEFAULT_BYTES;
static int g_runs = RUNS;
static unsigned int g_watchdog_s;
static volatile pid_t g_child; /* the sender of the current run, 0 if none */
static char g_send_buf[CHUNK]; /* the sender's data: set up before any fork */
static char *g_recv_buf; /* CHUNK bytes */
static char *g_linear_buf; /* the iovec of devmem_recvmsg(): MAX_CMSGS * 64 KiB */

/* ---- failing clearly, and never leaving the sender behind ---- */

static void kill_sender(void)
{
	pid_t pid = g_child;

	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		g_child = 0;
	}
}

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "bench_net: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	kill_sender();
	exit(1);
}

/* A system call failed: errno says why. */
#define die_errno(what) die("%s: %s", what, strerror(errno))
/* A libdevmem call failed with @err (a negative errno). */
#define die_devmem(what, err) die("%s: %s (%s)", what, strerror(-(err)), devmem_last_error())

static void on_alarm(int sig)
{
	static const char msg[] = "bench_net: watchdog: a run took too long, giving up\n";
	ssize_t ret;

	(void)sig;
	ret = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)ret;
	if (g_child > 0)
		kill(g_child, SIGKILL);
	_exit(2);
}

static void watchdog_arm(void)
{
	alarm(g_watchdog_s);
}

static double cpu_now_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		die_errno("getrusage");
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* ---- the sender ---- */

static void __attribute__((noreturn)) sender_fail(const char *what, int err)
{
	dprintf(STDERR_FILENO, "bench_net: sender: %s: %s\n", what, strerror(err));
	_exit(1);
}

/*
 * The child: connect, wait for the receiver's go byte, send @bytes from a
 * 256 KiB buffer, close. It allocates nothing: the parent may have threads.
 */
static void __attribute__((noreturn)) sender(pid_t parent, uint16_t port, uint64_t bytes)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	char go;
	ssize_t n;
	int fd;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL))
		sender_fail("prctl(PR_SET_PDEATHSIG)", errno);
	if (getppid() != parent)
		sender_fail("receiver", ESRCH);
	alarm(g_watchdog_s);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		sender_fail("socket", errno);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)))
		sender_fail("connect", errno);
	do {
		n = recv(fd, &go, 1, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		sender_fail("recv (go)", errno);
	if (n == 0)
		sender_fail("recv (go)", ECONNRESET);
	while (bytes) {
		n = send(fd, g_send_buf, bytes < CHUNK ? bytes : CHUNK, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			sender_fail("send", errno);
		}
		bytes -= (uint64_t)n;
	}
	if (close(fd))
		sender_fail("close", errno);
	_exit(0);
}

/* A listening socket on 127.0.0.1, a fresh ephemeral port; the port in *@port. */
static int listen_loopback(uint16_t *port)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t len = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die_errno("socket");
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)))
		die_errno("bind 127.0.0.1");
	if (listen(fd, 4))
		die_errno("listen");
	if (getsockname(fd, (struct sockaddr *)&addr, &len))
		die_errno("getsockname");
	*port = ntohs(addr.sin_port);
	return fd;
}

static void start_sender(uint16_t port, uint64_t bytes)
{
	pid_t parent = getpid();
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die_errno("fork");
	if (pid == 0)
		sender(parent, port, bytes);
	g_child = pid;
}

static void wait_sender(void)
{
	int status;
	pid_t pid = g_child;

	if (waitpid(pid, &status, 0) != pid)
		die_errno("waitpid");
	g_child = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		die("the sender failed (status %#x)", status);
}

static int accept_flow(int lfd)
{
	int fd;

	do {
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0)
		die_errno("accept");
	return fd;
}

/* Tell the sender to start. */
static void send_go(int fd)
{
	char go = 'g';

	if (send(fd, &go, 1, MSG_NOSIGNAL) != 1)
		die_errno("send (go)");
}

/*
 * Receive memory: kept out of the sender's address space, or each fork would
 * make its pages copy-on-write and the first write to each a page copy.
 * @prefault: touch every page now, not while timing.
 */
static void *map_anon(size_t size, bool prefault)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die_errno("mmap");
	if (madvise(p, size, MADV_DONTFORK))
		die_errno("madvise(MADV_DONTFORK)");
	if (prefault)
		memset(p, 0, size);
	return p;
}

static void unmap(void *p, size_t size)
{
	if (munmap(p, size))
		die_errno("munmap");
}

static void close_fd(int fd)
{
	if (close(fd))
		die_errno("close");
}

/* ---- (b), (c): recv() ---- */

static void recv_exact(int fd, uint64_t bytes, char *bounce)
{
	size_t off = 0;

	while (bytes) {
		ssize_t n = recv(fd, g_recv_buf, bytes < CHUNK ? bytes : CHUNK, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die_errno("recv");
		}
		if (n == 0)
			die("recv: the sender closed with %llu bytes still to come",
			    (unsigned long long)bytes);
		bytes -= (uint64_t)n;
		if (!bounce)
			continue;
		/* cyclically through the bounce buffer, as an application's staging area */
		if (off + (size_t)n > BOUNCE_SIZE) {
			size_t first = BOUNCE_SIZE - off;

			memcpy(bounce + off, g_recv_buf, first);
			memcpy(bounce, g_recv_buf + first, (size_t)n - first);
			off = (size_t)n - first;
		} else {
			memcpy(bounce + off, g_recv_buf, (size_t)n);
			off += (size_t)n;
		}
	}
	bench_keep(bounce);
}

static void recv_expect_eof(int fd)
{
	ssize_t n;

	do {
		n = recv(fd, g_recv_buf, CHUNK, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		die_errno("recv");
	if (n > 0)
		die("recv: the sender sent more than asked");
}

/* ---- (a): raw io_uring multishot receive from a provided-buffer ring ---- */

struct uring_rx {
	struct io_uring ring;
	struct io_uring_buf_ring *br;
	size_t br_bytes;
	char *bufs;
	unsigned int buf_size;
	unsigned int entries; /* a power of two */
	bool bundle;
	bool armed; /* a multishot receive is in flight */
	bool eof;
	uint64_t got;
};

static unsigned int g_uring_features; /* of a ring set up at start */

/* A ring as a single-threaded receiver wants it; older kernels get a plain one. */
static void uring_init(struct io_uring *ring, unsigned int cq_entries, unsigned int *features)
{
	struct io_uring_params p = {
		.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER |
			 IORING_SETUP_DEFER_TASKRUN,
		.cq_entries = cq_entries,
	};
	int err = io_uring_queue_init_params(URING_SQ_ENTRIES, ring, &p);

	if (err == -EINVAL) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = cq_entries;
		err = io_uring_queue_init_params(URING_SQ_ENTRIES, ring, &p);
	}
	if (err)
		die("io_uring_queue_init: %s", strerror(-err));
	if (features)
		*features = p.features;
}

static void uring_rx_setup(struct uring_rx *rx, const struct rx_cfg *cfg)
{
	struct io_uring_buf_reg reg = { 0 };
	int err;

	memset(rx, 0, sizeof(*rx));
	rx->buf_size = cfg->buf_size;
	rx->entries = cfg->entries;
	rx->bundle = cfg->bundle;
	/* room for a completion per buffer and then some: no CQ overflow */
	uring_init(&rx->ring, 2 * cfg->entries, NULL);

	rx->br_bytes = (size_t)cfg->entries * sizeof(struct io_uring_buf);
	rx->br = map_anon(rx->br_bytes, true);
	rx->bufs = map_anon((size_t)cfg->entries * cfg->buf_size, true);
	reg.ring_addr = (uint64_t)(uintptr_t)rx->br;
	reg.ring_entries = cfg->entries;
	reg.bgid = BUF_GROUP;
	err = io_uring_register_buf_ring(&rx->ring, &reg, 0);
	if (err)
		die("io_uring_register_buf_ring: %s", strerror(-err));
	io_uring_buf_ring_init(rx->br);
	for (unsigned int i = 0; i < cfg->entries; i++)
		io_uring_buf_ring_add(rx->br, rx->bufs + (size_t)i * cfg->buf_size, cfg->buf_size,
				      (unsigned short)i, io_uring_buf_ring_mask(cfg->entries),
				      (int)i);
	io_uring_buf_ring_advance(rx->br, (int)cfg->entries);
}

static void uring_rx_teardown(struct uring_rx *rx)
{
	int err = io_uring_unregister_buf_ring(&rx->ring, BUF_GROUP);

	if (err)
		die("io_uring_unregister_buf_ring: %s", strerror(-err));
	io_uring_queue_exit(&rx->ring);
	unmap(rx->bufs, (size_t)rx->entries * rx->buf_size);
	unmap(rx->br, rx->br_bytes);
}

static void uring_rx_arm(struct uring_rx *rx, int fd)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&rx->ring);

	if (!sqe)
		die("io_uring_get_sqe: submission queue full");
	io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BUF_GROUP;
	if (rx->bundle)
		sqe->ioprio |= IORING_RECVSEND_BUNDLE;
	rx->armed = true;
}

/*
 * Wait for completions and handle all that are there: count the bytes, put
 * each buffer back in the ring at once. A completion without
 * IORING_CQE_F_MORE ended the multishot receive (the ring ran dry, or end
 * of stream): it is re-armed on the next call.
 */
static void uring_rx_poll(struct uring_rx *rx, int fd)
{
	unsigned int mask = (unsigned int)io_uring_buf_ring_mask(rx->entries);
	struct io_uring_cqe *cqe;
	unsigned int head, seen = 0;
	int added = 0;
	int ret;

	if (!rx->armed)
		uring_rx_arm(rx, fd);
	do {
		ret = io_uring_submit_and_wait(&rx->ring, 1);
	} while (ret == -EINTR);
	if (ret < 0)
		die("io_uring_submit_and_wait: %s", strerror(-ret));

	io_uring_for_each_cqe(&rx->ring, head, cqe)
	{
		unsigned int bid, nbufs;

		seen++;
		if (!(cqe->flags & IORING_CQE_F_MORE))
			rx->armed = false;
		if (cqe->res == -ENOBUFS)
			continue;
		if (cqe->res < 0)
			die("io_uring multishot recv: %s", strerror(-cqe->res));
		if (cqe->res == 0) {
			rx->eof = true;
			continue;
		}
		if (!(cqe->flags & IORING_CQE_F_BUFFER))
			die("io_uring multishot recv: a completion without a buffer");
		/*
		 * Buffers go back in the order they came out, so ring entries and
		 * buffer ids stay in step: a bundle's buffers are the consecutive
		 * ids from the first, each full but the last.
		 */
		bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		nbufs = rx->bundle ? ((unsigned int)cqe->res + rx->buf_size - 1) / rx->buf_size : 1;
		for (unsigned int i = 0; i < nbufs; i++) {
			unsigned int b = (bid + i) & mask;

			io_uring_buf_ring_add(rx->br, rx->bufs + (size_t)b * rx->buf_size,
					      rx->buf_size, (unsigned short)b, (int)mask, added++);
		}
		rx->got += (uint64_t)cqe->res;
	}
	io_uring_buf_ring_advance(rx->br, added);
	io_uring_cq_advance(&rx->ring, seen);
}

static void uring_recv_exact(struct uring_rx *rx, int fd, uint64_t bytes)
{
	while (rx->got < bytes) {
		uring_rx_poll(rx, fd);
		if (rx->eof && rx->got < bytes)
			die("io_uring recv: the sender closed with %llu bytes still to come",
			    (unsigned long long)(bytes - rx->got));
	}
}

static void uring_expect_eof(struct uring_rx *rx, int fd, uint64_t bytes)
{
	while (!rx->eof)
		uring_rx_poll(rx, fd);
	if (rx->got != bytes)
		die("io_uring recv: the sender sent more than asked");
}

/* ---- (d): devmem sockets on the software NIC ---- */

struct devmem_rx {
	struct dma_buf *buf;
	int dmabuf_fd;
	int ifindex;
	struct devmem_ctl *ctl;
	uint32_t binding;
};

/* Tokens to give back, coalesced into ranges, within one DONTNEED call's limits. */
struct token_batch {
	struct dmabuf_token tok[DEVMEM_DONTNEED_MAX_TOKENS];
	unsigned int n; /* entries */
	unsigned int frags; /* fragments summed over the entries */
};

static void tokens_flush(int fd, struct token_batch *b)
{
	int ret;

	if (!b->n)
		return;
	ret = devmem_setsockopt(fd, SOL_SOCKET, SO_DEVMEM_DONTNEED, b->tok,
				(socklen_t)(b->n * sizeof(b->tok[0])));
	if (ret < 0)
		die("SO_DEVMEM_DONTNEED: %s (%s)", strerror(errno), devmem_last_error());
	if ((unsigned int)ret != b->frags)
		die("SO_DEVMEM_DONTNEED freed %d of %u fragments", ret, b->frags);
	b->n = 0;
	b->frags = 0;
}

static void tokens_add(int fd, struct token_batch *b, uint32_t token)
{
	struct dmabuf_token *last = b->n ? &b->tok[b->n - 1] : NULL;

	if (b->frags == DEVMEM_DONTNEED_MAX_FRAGS)
		tokens_flush(fd, b);
	else if (last && last->token_start + last->token_count == token) {
		last->token_count++;
		b->frags++;
		return;
	}
	if (b->n == DEVMEM_DONTNEED_MAX_TOKENS)
		tokens_flush(fd, b);
	b->tok[b->n].token_start = token;
	b->tok[b->n].token_count = 1;
	b->n++;
	b->frags++;
}

/* One flow read with devmem_recvmsg(). */
struct devmem_flow {
	int fd;
	/*
	 * iovec bytes: room for MAX_CMSGS whole fragments, so that the control
	 * buffer, not the iovec, limits a call (the iovec takes linear bytes only)
	 */
	size_t room;
	uint64_t linear; /* bytes that landed in host memory, not the dma-buf */
	struct token_batch batch; /* tokens to give back */
};

/*
 * One devmem_recvmsg(MSG_SOCK_DEVMEM): returns the bytes it reported (0 at
 * end of stream) and hands each fragment's token to @keep when it is not
 * NULL, else to the flow's batch (given back when full or flushed).
 */
static uint64_t devmem_recv_once(struct devmem_flow *f, uint32_t *keep, unsigned int *nkeep)
{
	static char ctrl[CMSG_SPACE(sizeof(struct dmabuf_cmsg)) * MAX_CMSGS];
	struct iovec iov = { .iov_base = g_linear_buf, .iov_len = f->room };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctrl,
		.msg_controllen = sizeof(ctrl),
	};
	uint64_t got = 0;
	struct cmsghdr *cm;
	ssize_t n;

	do {
		n = devmem_recvmsg(f->fd, &msg, MSG_SOCK_DEVMEM);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		die("devmem_recvmsg: %s (%s)", strerror(errno), devmem_last_error());
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		const struct dmabuf_cmsg *dc = (const struct dmabuf_cmsg *)CMSG_DATA(cm);

		if (cm->cmsg_level != SOL_SOCKET)
			continue;
		if (cm->cmsg_type == SCM_DEVMEM_DMABUF) {
			got += dc->frag_size;
			if (keep)
				keep[(*nkeep)++] = dc->frag_token;
			else
				tokens_add(f->fd, &f->batch, dc->frag_token);
		} else if (cm->cmsg_type == SCM_DEVMEM_LINEAR) {
			got += dc->frag_size;
			f->linear += dc->frag_size;
		}
	}
	if (!got && n > 0) {
		/* host memory: copied as plain TCP data, with no devmem cmsg */
		got = (uint64_t)n;
		f->linear += got;
	}
	if (got != (uint64_t)n)
		die("devmem_recvmsg returned %zd but its cmsgs report %llu bytes", n,
		    (unsigned long long)got);
	return got;
}

static void devmem_recv_exact(struct devmem_flow *f, uint64_t bytes)
{
	while (bytes) {
		uint64_t got = devmem_recv_once(f, NULL, NULL);

		if (!got)
			die("devmem_recvmsg: the sender closed with %llu bytes still to come",
			    (unsigned long long)bytes);
		if (got > bytes)
			die("devmem_recvmsg: the sender sent more than asked");
		bytes -= got;
		tokens_flush(f->fd, &f->batch);
	}
}

static void devmem_expect_eof(struct devmem_flow *f)
{
	if (devmem_recv_once(f, NULL, NULL))
		die("devmem_recvmsg: the sender sent more than asked");
}

static void devmem_check_linear(const struct devmem_flow *f)
{
	if (f->linear)
		die("devmem: %llu bytes landed in host memory, not the dma-buf",
		    (unsigned long long)f->linear);
}

/* The host dma-buf, its pages touched once so that no run pays their faults. */
static void devmem_buffer_create(struct devmem_rx *d)
{
	void *vaddr;
	int err = devmem_host_buffer_create(DMABUF_SIZE, NULL, &d->buf);

	if (err)
		die_devmem("devmem_host_buffer_create", err);
	err = dma_buf_vmap_unlocked(d->buf, &vaddr);
	if (err)
		die_devmem("dma_buf_vmap", err);
	memset(vaddr, 0, DMABUF_SIZE);
	dma_buf_vunmap_unlocked(d->buf, vaddr);
	d->dmabuf_fd = dma_buf_fd(d->buf, 0);
	if (d->dmabuf_fd < 0)
		die_devmem("dma_buf_fd", d->dmabuf_fd);
}

/*
 * A software NIC on lo with queue 1 bound to the dma-buf and the flows to
 * @port steered there; queue 0 takes RSS. NULL, or why the row is skipped.
 */
static const char *devmem_rx_setup(struct devmem_rx *d, const struct rx_cfg *cfg, uint16_t port)
{
	DEVMEM_OPTS(devmem_swnic_opts, nic, .num_rx_queues = 2, .ring_entries = cfg->entries,
		    .rx_mode = cfg->bundle ? DEVMEM_SWNIC_RX_BUNDLE : DEVMEM_SWNIC_RX_SINGLE,
		    .host_buf_size = cfg->buf_size);
	DEVMEM_OPTS(devmem_bind_opts, bind, .rx_page_size = cfg->buf_size);
	struct devmem_queue_id queue = { .id = 1, .type = NETDEV_QUEUE_TYPE_RX };
	struct devmem_flow_rule rule = {
		.flow_type = TCP_V4_FLOW,
		.dst_port = htons(port),
		.queue = 1,
	};
	uint32_t loopback = htonl(INADDR_LOOPBACK), loc;
	int err;

	memset(d, 0, sizeof(*d));
	err = devmem_swnic_create("lo", &nic, &d->ifindex);
	if (err == -EOPNOTSUPP && cfg->bundle)
		return "skipped: kernel has no bundle receives";
	if (err)
		die_devmem("devmem_swnic_create(lo)", err);
	devmem_buffer_create(d);
	err = devmem_ctl_open(&d->ctl);
	if (err)
		die_devmem("devmem_ctl_open", err);
	err = devmem_set_header_split(d->ctl, d->ifindex, ETHTOOL_TCP_DATA_SPLIT_ENABLED, 0);
	if (err)
		die_devmem("devmem_set_header_split", err);
	err = devmem_set_rss_equal(d->ctl, d->ifindex, 1);
	if (err)
		die_devmem("devmem_set_rss_equal", err);
	memcpy(rule.dst_addr, &loopback, sizeof(loopback));
	err = devmem_flow_rule_add(d->ctl, d->ifindex, &rule, &loc);
	if (err)
		die_devmem("devmem_flow_rule_add", err);
	err = devmem_bind_rx(d->ctl, d->ifindex, d->dmabuf_fd, &queue, 1, &bind, &d->binding);
	if (err)
		die_devmem("devmem_bind_rx", err);
	return NULL;
}

static void devmem_rx_teardown(struct devmem_rx *d)
{
	int err;

	devmem_ctl_close(d->ctl);
	err = devmem_swnic_destroy(d->ifindex);
	if (err)
		die_devmem("devmem_swnic_destroy", err);
	close_fd(d->dmabuf_fd);
	dma_buf_put(d->buf);
}

/* Accept the flow and join it to the bound queue. */
static void devmem_accept(struct devmem_flow *f, int lfd, unsigned int buf_size)
{
	int rxq;

	memset(f, 0, sizeof(*f));
	f->fd = accept_flow(lfd);
	f->room = (size_t)MAX_CMSGS * buf_size;
	rxq = devmem_sock_attach(f->fd);
	if (rxq < 0)
		die_devmem("devmem_sock_attach", rxq);
	if (rxq != 1)
		die("devmem_sock_attach: the flow went to rx queue %d, not the bound queue 1", rxq);
}

static void devmem_close_fd(int fd)
{
	if (devmem_close(fd))
		die("devmem_close: %s (%s)", strerror(errno), devmem_last_error());
}

/* ---- one row: a listener, then @g_runs flows, each timed ---- */

static struct row_result run_row(const struct rx_cfg *cfg)
{
	struct row_result res = { .skipped = NULL };
	double gbps[RUNS], cpu[RUNS];
	struct devmem_rx d = { .buf = NULL };
	char *bounce = NULL;
	uint16_t port;
	int lfd;

	if (cfg->bundle && !(g_uring_features & IORING_FEAT_RECVSEND_BUNDLE)) {
		res.skipped = "skipped: kernel has no bundle receives";
		return res;
	}
	watchdog_arm();
	lfd = listen_loopback(&port);
	if (cfg->kind == RX_DEVMEM) {
		res.skipped = devmem_rx_setup(&d, cfg, port);
		if (res.skipped) {
			close_fd(lfd);
			return res;
		}
	}
	if (cfg->kind == RX_RECV_COPY)
		bounce = map_anon(BOUNCE_SIZE, true);

	for (int r = 0; r < g_runs; r++) {
		struct uring_rx rx = { .buf_size = 0 };
		struct devmem_flow flow;
		double c0, c1;
		int64_t t0, t1;
		int fd;

		watchdog_arm();
		if (cfg->kind == RX_URING)
			uring_rx_setup(&rx, cfg);
		start_sender(port, g_bytes);
		if (cfg->kind == RX_DEVMEM) {
			devmem_accept(&flow, lfd, cfg->buf_size);
			fd = flow.fd;
		} else {
			fd = accept_flow(lfd);
		}

		c0 = cpu_now_s();
		t0 = bench_now_ns();
		send_go(fd);
		switch (cfg->kind) {
		case RX_URING:
			uring_recv_exact(&rx, fd, g_bytes);
			break;
		case RX_RECV:
		case RX_RECV_COPY:
			recv_exact(fd, g_bytes, bounce);
			break;
		case RX_DEVMEM:
			devmem_recv_exact(&flow, g_bytes);
			break;
		}
		t1 = bench_now_ns();
		c1 = cpu_now_s();
		gbps[r] = (double)g_bytes / (double)(t1 - t0);
		cpu[r] = (c1 - c0) * 1e3 / ((double)g_bytes / 1e9);

		switch (cfg->kind) {
		case RX_URING:
			uring_expect_eof(&rx, fd, g_bytes);
			close_fd(fd);
			uring_rx_teardown(&rx);
			break;
		case RX_RECV:
		case RX_RECV_COPY:
			recv_expect_eof(fd);
			close_fd(fd);
			break;
		case RX_DEVMEM:
			devmem_expect_eof(&flow);
			devmem_close_fd(fd);
			devmem_check_linear(&flow);
			break;
		}
		wait_sender();
	}

	close_fd(lfd);
	if (bounce)
		unmap(bounce, BOUNCE_SIZE);
	if (cfg->kind == RX_DEVMEM)
		devmem_rx_teardown(&d);
	res.gbps = bench_median(gbps, g_runs);
	res.cpu_ms_per_gb = bench_median(cpu, g_runs);
	return res;
}

/* ---- SO_DEVMEM_DONTNEED alone ---- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Receive the whole flow, holding every fragment; their tokens, sorted, in @held. */
static unsigned int hold_flow(struct devmem_flow *f, uint32_t *held)
{
	unsigned int n = 0;
	uint64_t got = 0;

	while (got < MICRO_BYTES) {
		uint64_t more;

		if (n + MAX_CMSGS > MICRO_MAX_FRAGS)
			die("devmem: more than %lu fragments for %llu bytes",
			    MICRO_MAX_FRAGS - MAX_CMSGS, MICRO_BYTES);
		more = devmem_recv_once(f, held, &n);
		if (!more)
			die("devmem_recvmsg: the sender closed with %llu bytes still to come",
			    MICRO_BYTES - got);
		got += more;
	}
	devmem_expect_eof(f);
	devmem_check_linear(f);
	qsort(held, n, sizeof(held[0]), cmp_u32);
	return n;
}

/* Give back @tokens[0..@n) (sorted) as ranges, untimed or timed; returns the ns taken. */
static int64_t give_back_ranges(int fd, const uint32_t *tokens, unsigned int n)
{
	struct token_batch batch = { .n = 0 };
	int64_t t0 = bench_now_ns();

	for (unsigned int i = 0; i < n; i++)
		tokens_add(fd, &batch, tokens[i]);
	tokens_flush(fd, &batch);
	return bench_now_ns() - t0;
}

/* One SO_DEVMEM_DONTNEED call of 128 single tokens; returns the ns it took. */
static int64_t dontneed_timed(int fd, const struct dmabuf_token *tok)
{
	int64_t t0 = bench_now_ns();
	int ret = devmem_setsockopt(fd, SOL_SOCKET, SO_DEVMEM_DONTNEED, tok,
				    DEVMEM_DONTNEED_MAX_TOKENS * sizeof(*tok));
	int64_t ns = bench_now_ns() - t0;

	if (ret < 0)
		die("SO_DEVMEM_DONTNEED: %s (%s)", strerror(errno), devmem_last_error());
	if (ret != DEVMEM_DONTNEED_MAX_TOKENS)
		die("SO_DEVMEM_DONTNEED freed %d of %d fragments", ret, DEVMEM_DONTNEED_MAX_TOKENS);
	return ns;
}

/*
 * Give back calls of 128 single tokens no two of which are adjacent (so none
 * coalesce): every other token of the sorted @held. The rest go back
 * untimed. Returns ns per token of the timed calls.
 */
static double give_back_singles(int fd, uint32_t *held, unsigned int n)
{
	static uint32_t rest[MICRO_MAX_FRAGS];
	struct dmabuf_token tok[DEVMEM_DONTNEED_MAX_TOKENS];
	unsigned int nrest = 0, calls = 0, k = 0;
	int64_t ns = 0;

	for (unsigned int i = 0; i < n; i++) {
		bool adjacent = k && tok[k - 1].token_start + 1 == held[i];

		if (adjacent) {
			rest[nrest++] = held[i];
			continue;
		}
		tok[k].token_start = held[i];
		tok[k].token_count = 1;
		if (++k < DEVMEM_DONTNEED_MAX_TOKENS)
			continue;
		ns += dontneed_timed(fd, tok);
		calls++;
		k = 0;
	}
	for (unsigned int i = 0; i < k; i++)
		rest[nrest++] = tok[i].token_start;
	qsort(rest, nrest, sizeof(rest[0]), cmp_u32);
	give_back_ranges(fd, rest, nrest);
	if (!calls)
		die("SO_DEVMEM_DONTNEED: too few non-adjacent tokens among %u held", n);
	return (double)ns / ((double)calls * DEVMEM_DONTNEED_MAX_TOKENS);
}

/*
 * Hold every fragment of a 16 MiB flow, then, with the sender gone and the
 * queue idle, time giving them back: ns per token.
 */
static double time_dontneed(int lfd, uint16_t port, bool singles)
{
	static uint32_t held[MICRO_MAX_FRAGS];
	struct devmem_flow flow;
	unsigned int n;
	double ns;

	watchdog_arm();
	start_sender(port, MICRO_BYTES);
	devmem_accept(&flow, lfd, MICRO_NIOV);
	send_go(flow.fd);
	n = hold_flow(&flow, held);
	wait_sender();
	if (singles)
		ns = give_back_singles(flow.fd, held, n);
	else
		ns = (double)give_back_ranges(flow.fd, held, n) / n;
	devmem_close_fd(flow.fd);
	return ns;
}

/*
 * ns per token of SO_DEVMEM_DONTNEED, 4 KiB fragments: in calls of 128
 * single non-adjacent tokens (*@single), and as ranges of consecutive tokens
 * up to 1024 fragments per call (*@ranged). Medians of @g_runs rounds.
 */
static const char *run_dontneed(double *single, double *ranged)
{
	const struct rx_cfg cfg = {
		.kind = RX_DEVMEM,
		.buf_size = MICRO_NIOV,
		.entries = MICRO_ENTRIES,
	};
	double s[RUNS], g[RUNS];
	struct devmem_rx d;
	const char *skipped;
	uint16_t port;
	int lfd;

	watchdog_arm();
	lfd = listen_loopback(&port);
	skipped = devmem_rx_setup(&d, &cfg, port);
	if (skipped) {
		close_fd(lfd);
		return skipped;
	}
	for (int r = 0; r < g_runs; r++) {
		s[r] = time_dontneed(lfd, port, true);
		g[r] = time_dontneed(lfd, port, false);
	}
	close_fd(lfd);
	devmem_rx_teardown(&d);
	*single = bench_median(s, g_runs);
	*ranged = bench_median(g, g_runs);
	return NULL;
}

/* ---- the table ---- */

static void row_skipped(const char *what, const char *why)
{
	printf("%-52s %14s %10s  %s\n", what, "-", "", why);
}

static void print_result(const char *label, const struct row_result *res)
{
	char row[128];

	snprintf(row, sizeof(row), "%s: throughput", label);
	if (res->skipped) {
		row_skipped(row, res->skipped);
		return;
	}
	bench_row(row, res->gbps, "GB/s", NULL);
	snprintf(row, sizeof(row), "%s: CPU", label);
	bench_row(row, res->cpu_ms_per_gb, "ms/GB", NULL);
}

static void print_ratio(const char *what, const struct row_result *num,
			const struct row_result *den, double scale, const char *unit, double target,
			const char *target_text)
{
	char text[64];
	double v;

	if (num->skipped || den->skipped) {
		row_skipped(what, num->skipped ? num->skipped : den->skipped);
		return;
	}
	v = scale * num->gbps / den->gbps;
	snprintf(text, sizeof(text), "%s: %s", target_text, v >= target ? "met" : "MISSED");
	bench_row(what, v, unit, text);
}

static uint64_t parse_bytes(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		die("--bytes: not a number: %s", s);
	switch (*end) {
	case 'k':
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'm':
	case 'M':
		v <<= 20;
		end++;
		break;
	case 'g':
	case 'G':
		v <<= 30;
		end++;
		break;
	}
	if (*end || !v || v > (1ULL << 40))
		die("--bytes: want 1 .. 1T, optionally with a K, M or G suffix: %s", s);
	return v;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_net [--bytes N[K|M|G]] [--quick]\n"
		   "  --bytes N  bytes per run (default 4G)\n"
		   "  --quick    256M per run, one run per row\n");
}

static void parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bytes", required_argument, NULL, 'b' },
		{ "quick", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool bytes_set = false;
	int c;

	while ((c = getopt_long(argc, argv, "b:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			g_bytes = parse_bytes(optarg);
			bytes_set = true;
			break;
		case 'q':
			g_runs = 1;
			if (!bytes_set)
				g_bytes = QUICK_BYTES;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(1);
		}
	}
	if (optind != argc) {
		usage(stderr);
		exit(1);
	}
}

static void setup_process(void)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct io_uring ring;

	if (sigaction(SIGALRM, &sa, NULL))
		die_errno("sigaction(SIGALRM)");
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL))
		die_errno("sigaction(SIGPIPE)");
	g_watchdog_s = WATCHDOG_BASE_S + (unsigned int)(g_bytes / WATCHDOG_BYTES_PER_S);
	memset(g_send_buf, 0x5a, sizeof(g_send_buf));
	g_recv_buf = map_anon(CHUNK, true);
	/* only written if bytes land in host memory */
	g_linear_buf = map_anon(LINEAR_BUF_SIZE, false);
	/* what the running kernel's io_uring offers */
	uring_init(&ring, 2 * URING_SQ_ENTRIES, &g_uring_features);
	io_uring_queue_exit(&ring);
}

int main(int argc, char **argv)
{
	static const struct {
		unsigned int size, entries;
		const char *name;
	} sizes[] = {
		{ 4096, 4096, "4 KiB x4096" },
		{ 65536, 512, "64 KiB x512" },
	};
	struct row_result uring[2][2], dev[2][2], plain, copy;
	double single = 0, ranged = 0;
	const char *micro_skipped;
	char title[128], label[96];

	parse_args(argc, argv);
	setup_process();

	for (int s = 0; s < 2; s++) {
		for (int b = 0; b < 2; b++) {
			struct rx_cfg cfg = {
				.kind = RX_URING,
				.buf_size = sizes[s].size,
				.entries = sizes[s].entries,
				.bundle = b,
			};

			uring[s][b] = run_row(&cfg);
			cfg.kind = RX_DEVMEM;
			dev[s][b] = run_row(&cfg);
		}
	}
	plain = run_row(&(struct rx_cfg){ .kind = RX_RECV });
	copy = run_row(&(struct rx_cfg){ .kind = RX_RECV_COPY });
	micro_skipped = run_dontneed(&single, &ranged);
	alarm(0);

	snprintf(title, sizeof(title),
		 "one TCP flow over 127.0.0.1, %.2f %s per run, median of %d run%s",
		 g_bytes >= (1ULL << 30) ? (double)g_bytes / (1 << 30) :
					   (double)g_bytes / (1 << 20),
		 g_bytes >= (1ULL << 30) ? "GiB" : "MiB", g_runs, g_runs > 1 ? "s" : "");
	bench_header(title);
	for (int s = 0; s < 2; s++) {
		for (int b = 0; b < 2; b++) {
			snprintf(label, sizeof(label), "(a) io_uring %s, %s", sizes[s].name,
				 b ? "bundle" : "single");
			print_result(label, &uring[s][b]);
		}
	}
	print_result("(b) recv() 256 KiB", &plain);
	print_result("(c) recv() 256 KiB + memcpy to 64 MiB", &copy);
	for (int s = 0; s < 2; s++) {
		for (int b = 0; b < 2; b++) {
			snprintf(label, sizeof(label), "(d) devmem %s, %s", sizes[s].name,
				 b ? "bundle" : "single");
			print_result(label, &dev[s][b]);
		}
	}
	for (int s = 0; s < 2; s++) {
		for (int b = 0; b < 2; b++) {
			snprintf(label, sizeof(label), "(d)/(a) %s, %s", sizes[s].name,
				 b ? "bundle" : "single");
			print_ratio(label, &dev[s][b], &uring[s][b], 100.0, "%", 90.0, ">= 90%");
		}
	}
	print_ratio("(d) 4 KiB single / (c)", &dev[0][0], &copy, 1.0, "x", 2.0, ">= 2x");
	print_ratio("(d) 4 KiB bundle / (c)", &dev[0][1], &copy, 1.0, "x", 2.0, ">= 2x");
	if (micro_skipped) {
		row_skipped("DONTNEED, 128 single tokens per call: per token", micro_skipped);
	} else {
		bench_row("DONTNEED, 128 single tokens per call: per token", single, "ns",
			  single <= 40.0 ? "<= 40 ns: met" : "<= 40 ns: MISSED");
		bench_row("DONTNEED, ranges of <= 1024 tokens: per token", ranged, "ns", NULL);
	}
	return 0;
}
