// SPDX-License-Identifier: MIT
/*
 * Loopback flows for the socket tests: listener, pattern sender, checking
 * receiver, and the software NIC rig (support/flow.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "devmem/error.h"
#include "devmem/host.h"
#include "devmem/socket.h"
#include "devmem/swnic.h"
#include "support/flow.h"

/* ---- the pattern ---- */

#define FLOW_REF_LEN (FLOW_PATTERN_N * 64)

static unsigned char flow_ref[FLOW_REF_LEN];
static pthread_once_t flow_ref_once = PTHREAD_ONCE_INIT;

static void flow_ref_init(void)
{
	for (size_t i = 0; i < FLOW_REF_LEN; i++)
		flow_ref[i] = flow_pattern_byte(i);
}

void flow_pattern_fill(void *buf, uint64_t pos, size_t len)
{
	unsigned char *p = buf;

	pthread_once(&flow_ref_once, flow_ref_init);
	while (len) {
		size_t phase = (size_t)(pos % FLOW_PATTERN_N);
		size_t n = FLOW_REF_LEN - phase;

		if (n > len)
			n = len;
		memcpy(p, flow_ref + phase, n);
		p += n;
		pos += n;
		len -= n;
	}
}

ssize_t flow_pattern_mismatch(const void *buf, uint64_t pos, size_t len)
{
	const unsigned char *p = buf;
	size_t done = 0;

	pthread_once(&flow_ref_once, flow_ref_init);
	while (done < len) {
		size_t phase = (size_t)((pos + done) % FLOW_PATTERN_N);
		size_t n = FLOW_REF_LEN - phase;

		if (n > len - done)
			n = len - done;
		if (memcmp(p + done, flow_ref + phase, n)) {
			for (size_t i = 0; i < n; i++)
				if (p[done + i] != flow_ref[phase + i])
					return (ssize_t)(done + i);
		}
		done += n;
	}
	return -1;
}

int64_t flow_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void flow_sleep_us(unsigned int us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static uint64_t flow_rand(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ULL;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static void flow_why(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
}

/* ---- sockets ---- */

int flow_listen(int family, struct flow_listener *l)
{
	int err;

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	l->family = family;
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&l->addr;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		l->addrlen = sizeof(*a);
	} else if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&l->addr;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		l->addrlen = sizeof(*a);
	} else {
		return -EAFNOSUPPORT;
	}
	l->fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		return -errno;
	if (bind(l->fd, (struct sockaddr *)&l->addr, l->addrlen) ||
	    getsockname(l->fd, (struct sockaddr *)&l->addr, &l->addrlen) || listen(l->fd, 1024)) {
		err = -errno;
		close(l->fd);
		l->fd = -1;
		return err;
	}
	l->port = family == AF_INET ? ((struct sockaddr_in *)&l->addr)->sin_port :
				      ((struct sockaddr_in6 *)&l->addr)->sin6_port;
	return 0;
}

void flow_listener_close(struct flow_listener *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}

int flow_connect(const struct flow_listener *l)
{
	int fd = socket(l->family, SOCK_STREAM | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&l->addr, l->addrlen)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int flow_accept(const struct flow_listener *l, int timeout_ms)
{
	struct pollfd p = { .fd = l->fd, .events = POLLIN };
	int64_t deadline = flow_now_ms() + timeout_ms;
	int fd;

	for (;;) {
		int left = (int)(deadline - flow_now_ms());
		int n;

		if (left < 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, left);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n <= 0)
			continue;
		fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
	}
}

/* ---- the sender ---- */

/* Send @bytes of the pattern on one new connection: 0 or a negative errno. */
static int sender_conn(struct flow_sender *s, uint64_t bytes, uint64_t *rnd, bool threaded)
{
	size_t chunk = s->o.chunk ? s->o.chunk : 64 * 1024;
	double until = 0;
	uint64_t pos = 0;
	int fd, err = 0;

	fd = socket(s->l.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&s->l.addr, s->l.addrlen)) {
		err = -errno;
		goto out;
	}
	if (threaded && s->o.seconds > 0)
		until = (double)flow_now_ms() + s->o.seconds * 1000;
	for (;;) {
		size_t n = s->o.random_chunks ? 1 + flow_rand(rnd) % chunk : chunk;
		ssize_t w;

		if (until) {
			if ((double)flow_now_ms() >= until)
				break;
		} else if (pos >= bytes) {
			break;
		} else if (n > bytes - pos) {
			n = (size_t)(bytes - pos);
		}
		if (threaded) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };

			if (__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
				err = -ECANCELED;
				break;
			}
			if (__atomic_load_n(&s->finish, __ATOMIC_RELAXED))
				break;
			/* bounded waits, so that a stop is seen */
			if (poll(&p, 1, 100) <= 0)
				continue;
			w = send(fd, s->pat + pos % FLOW_PATTERN_N, n, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
		} else {
			w = send(fd, s->pat + pos % FLOW_PATTERN_N, n, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
		}
		if (w <= 0) {
			err = w < 0 ? -errno : -EIO;
			break;
		}
		pos += (uint64_t)w;
		if (threaded)
			__atomic_store_n(&s->sent, pos, __ATOMIC_RELEASE);
		if (s->o.pause_us)
			flow_sleep_us(s->o.pause_us);
	}
out:
	close(fd);
	return err;
}

static int sender_run(struct flow_sender *s, bool threaded)
{
	uint64_t rnd = s->o.seed ? s->o.seed : 0x51ed270b27fc3a5dULL;
	int err = 0;

	if (!s->sizes)
		return sender_conn(s, s->o.bytes, &rnd, threaded);
	for (unsigned int i = 0; i < s->o.nr_sizes && !err; i++)
		err = sender_conn(s, s->sizes[i], &rnd, threaded);
	return err;
}

static void *sender_thread(void *arg)
{
	struct flow_sender *s = arg;

	s->err = sender_run(s, true);
	__atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

int flow_sender_start(const struct flow_listener *l, const struct flow_sender_opts *o,
		      struct flow_sender *s)
{
	size_t chunk = o->chunk ? o->chunk : 64 * 1024;
	int err;

	memset(s, 0, sizeof(*s));
	s->l = *l;
	s->l.fd = -1;
	s->o = *o;
	s->pid = -1;
	s->pat_len = chunk + 2 * FLOW_PATTERN_N;
	s->pat = malloc(s->pat_len);
	if (!s->pat)
		return -ENOMEM;
	flow_pattern_fill(s->pat, 0, s->pat_len);
	if (o->sizes) {
		s->sizes = malloc(o->nr_sizes * sizeof(*s->sizes));
		if (!s->sizes) {
			free(s->pat);
			return -ENOMEM;
		}
		memcpy(s->sizes, o->sizes, o->nr_sizes * sizeof(*s->sizes));
	}
	if (o->thread) {
		err = -pthread_create(&s->thread, NULL, sender_thread, s);
	} else {
		pid_t parent = getpid();

		/* the child only makes system calls: no allocation after fork() */
		s->pid = fork();
		if (s->pid == 0) {
			/*
			 * Die with the parent: the child's copies of the parent's
			 * io_uring mappings keep those rings, and the sockets they
			 * read, alive, so a parent that failed would leave the
			 * child blocked in send() forever. And drop every
			 * inherited fd, for the same reason and so that the test
			 * runner's pipes see the parent go.
			 */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(4);
			if (syscall(SYS_close_range, 3U, ~0U, 0U))
				for (int fd = 3; fd < 65536; fd++)
					close(fd);
			_exit(sender_run(s, false) ? 3 : 0);
		}
		err = s->pid < 0 ? -errno : 0;
	}
	if (err) {
		free(s->sizes);
		free(s->pat);
		return err;
	}
	s->started = true;
	return 0;
}

int flow_sender_wait(struct flow_sender *s, int timeout_ms)
{
	int64_t deadline = flow_now_ms() + timeout_ms;
	int err = 0;

	if (!s->started)
		return -EINVAL;
	if (s->o.thread) {
		while (!__atomic_load_n(&s->done, __ATOMIC_ACQUIRE) && flow_now_ms() < deadline)
			flow_sleep_us(1000);
		if (!__atomic_load_n(&s->done, __ATOMIC_ACQUIRE)) {
			__atomic_store_n(&s->stop, 1, __ATOMIC_RELAXED);
			err = -ETIMEDOUT;
		}
		pthread_join(s->thread, NULL);
		if (!err && s->err)
			err = -EIO;
	} else {
		int status = 0;
		pid_t pid;

		for (;;) {
			pid = waitpid(s->pid, &status, WNOHANG);
			if (pid == s->pid || (pid < 0 && errno != EINTR))
				break;
			if (flow_now_ms() >= deadline) {
				kill(s->pid, SIGKILL);
				waitpid(s->pid, &status, 0);
				err = -ETIMEDOUT;
				break;
			}
			flow_sleep_us(1000);
		}
		if (!err && (pid != s->pid || !WIFEXITED(status) || WEXITSTATUS(status)))
			err = -EIO;
	}
	free(s->sizes);
	free(s->pat);
	s->sizes = NULL;
	s->pat = NULL;
	s->started = false;
	return err;
}

uint64_t flow_sender_sent(struct flow_sender *s)
{
	return __atomic_load_n(&s->sent, __ATOMIC_ACQUIRE);
}

/* ---- parsed recvmsg ---- */

ssize_t flow_recv(int fd, int flags, void *iov_buf, size_t iov_len, size_t controllen,
		  struct flow_msg *m)
{
	struct iovec iov = { .iov_base = iov_buf, .iov_len = iov_len };
	union {
		struct cmsghdr align;
		unsigned char buf[FLOW_CMSG_ROOM(FLOW_MAX_CMSGS)];
	} *ctrl = NULL;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	memset(m, 0, sizeof(*m));
	if (controllen) {
		if (controllen > sizeof(*ctrl))
			controllen = sizeof(*ctrl);
		ctrl = calloc(1, sizeof(*ctrl));
		if (!ctrl) {
			m->ret = -1;
			m->err = ENOMEM;
			return -1;
		}
		msg.msg_control = ctrl->buf;
		msg.msg_controllen = controllen;
	}
	m->ret = devmem_recvmsg(fd, &msg, flags);
	m->err = m->ret < 0 ? errno : 0;
	m->msg_flags = msg.msg_flags;
	m->controllen = msg.msg_controllen;
	if (m->ret >= 0 && ctrl) {
		for (cm = CMSG_FIRSTHDR(&msg); cm && m->nr < FLOW_MAX_CMSGS;
		     cm = CMSG_NXTHDR(&msg, cm)) {
			struct flow_cmsg *c = &m->c[m->nr++];
			size_t data = cm->cmsg_len > CMSG_LEN(0) ? cm->cmsg_len - CMSG_LEN(0) : 0;

			c->level = cm->cmsg_level;
			c->type = cm->cmsg_type;
			c->len = cm->cmsg_len;
			memcpy(&c->dc, CMSG_DATA(cm), data < sizeof(c->dc) ? data : sizeof(c->dc));
			if (c->level != SOL_SOCKET)
				continue;
			if (c->type == SCM_DEVMEM_DMABUF) {
				m->nr_dmabuf++;
				m->dmabuf_bytes += c->dc.frag_size;
			} else if (c->type == SCM_DEVMEM_LINEAR) {
				m->nr_linear++;
				m->linear_bytes += c->dc.frag_size;
			}
		}
	}
	free(ctrl);
	errno = m->err;
	return m->ret;
}

int flow_wait_queued(int ifindex, int fd, uint64_t bytes, uint64_t consumed, int timeout_ms)
{
	int64_t deadline = flow_now_ms() + timeout_ms;

	for (;;) {
		struct devmem_swnic_rxq_stats qs;
		struct devmem_sock_stats ss;

		if (!devmem_sock_stats(fd, &ss) && ss.rxq >= 0 &&
		    !devmem_swnic_rxq_stats(ifindex, (uint32_t)ss.rxq, &qs) && qs.bytes >= bytes &&
		    ss.frags_queued + consumed == qs.frags)
			return 0;
		if (flow_now_ms() > deadline)
			return -ETIMEDOUT;
		flow_sleep_us(200);
	}
}

int flow_dontneed_one(int fd, uint32_t token)
{
	struct dmabuf_token t = { .token_start = token, .token_count = 1 };

	return devmem_setsockopt(fd, SOL_SOCKET, SO_DEVMEM_DONTNEED, &t, sizeof(t));
}

/* ---- the receiver ---- */

#define FLOW_RX_IOV_DEFAULT (1UL << 20)

int flow_rx_init(struct flow_rx *rx, int fd)
{
	memset(rx, 0, sizeof(*rx));
	rx->fd = fd;
	return 0;
}

/* Allocate the iovec and control buffers at the first step, from the settings. */
static int flow_rx_prepare(struct flow_rx *rx)
{
	if (!rx->iov_len)
		rx->iov_len = FLOW_RX_IOV_DEFAULT;
	if (!rx->cmsgs)
		rx->cmsgs = DEVMEM_DONTNEED_MAX_TOKENS;
	if (!rx->iov_buf) {
		rx->iov_buf = malloc(rx->iov_len);
		rx->iov_cap = rx->iov_len;
		rx->ctrl_len = FLOW_CMSG_ROOM(rx->cmsgs);
		rx->ctrl = calloc(1, rx->ctrl_len);
		if (!rx->iov_buf || !rx->ctrl)
			return -ENOMEM;
		rx->rnd = rx->seed ? rx->seed : 0x2545f4914f6cdd1dULL;
		rx->hold_now = rx->hold;
	}
	return 0;
}

int flow_rx_return(struct flow_rx *rx)
{
	int freed;

	if (!rx->nr_toks)
		return 0;
	freed = devmem_setsockopt(rx->fd, SOL_SOCKET, SO_DEVMEM_DONTNEED, rx->toks,
				  (socklen_t)(rx->nr_toks * sizeof(rx->toks[0])));
	if (freed != (int)rx->nr_held) {
		flow_why(rx->why, sizeof(rx->why),
			 "SO_DEVMEM_DONTNEED of %u tokens in %u ranges freed %d (errno %d)",
			 rx->nr_held, rx->nr_toks, freed, freed < 0 ? errno : 0);
		return -EPROTO;
	}
	rx->returned += rx->nr_held;
	rx->nr_toks = 0;
	rx->nr_held = 0;
	if (rx->random_hold && rx->hold)
		rx->hold_now = 1 + (unsigned int)(flow_rand(&rx->rnd) % rx->hold);
	return 0;
}

static int flow_rx_hold(struct flow_rx *rx, uint32_t token)
{
	struct dmabuf_token *last = rx->nr_toks ? &rx->toks[rx->nr_toks - 1] : NULL;
	int err;

	if (rx->nr_held == DEVMEM_DONTNEED_MAX_FRAGS ||
	    (rx->nr_toks == DEVMEM_DONTNEED_MAX_TOKENS &&
	     last->token_start + last->token_count != token)) {
		err = flow_rx_return(rx);
		if (err)
			return err;
		last = NULL;
	}
	if (last && last->token_start + last->token_count == token)
		last->token_count++;
	else
		rx->toks[rx->nr_toks++] =
			(struct dmabuf_token){ .token_start = token, .token_count = 1 };
	rx->nr_held++;
	return 0;
}

static int flow_rx_buf_of(struct flow_rx *rx, uint32_t id, uint32_t *niov_size)
{
	if (rx->buf_of) {
		int idx;

		*niov_size = 0;
		idx = rx->buf_of(id, niov_size, rx->arg);
		if (idx >= 0 && (unsigned int)idx < rx->nr_bufs && !*niov_size)
			*niov_size = rx->bufs[idx].niov_size;
		return idx < (int)rx->nr_bufs ? idx : -1;
	}
	for (unsigned int i = 0; i < rx->nr_bufs; i++) {
		if (rx->bufs[i].id == id) {
			*niov_size = rx->bufs[i].niov_size;
			return (int)i;
		}
	}
	return -1;
}

#define FAIL(...)                                                \
	do {                                                     \
		flow_why(rx->why, sizeof(rx->why), __VA_ARGS__); \
		ret = -EPROTO;                                   \
		goto out;                                        \
	} while (0)

ssize_t flow_rx_step(struct flow_rx *rx, int flags)
{
	bool begun[FLOW_RX_MAX_BUFS] = { false };
	struct iovec iov;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	uint64_t start = rx->pos, dmabuf = 0;
	bool linear = false;
	unsigned int nr_cmsgs = 0;
	ssize_t n, ret;
	int err;

	err = flow_rx_prepare(rx);
	if (err)
		return err;
	iov.iov_base = rx->iov_buf;
	iov.iov_len = rx->random_iov ? 1 + flow_rand(&rx->rnd) % rx->iov_len : rx->iov_len;
	msg.msg_control = rx->ctrl;
	msg.msg_controllen = rx->ctrl_len;
	n = devmem_recvmsg(rx->fd, &msg, MSG_SOCK_DEVMEM | flags);
	if (n < 0)
		return -errno;
	ret = n;
	rx->calls++;
	if (msg.msg_flags & MSG_CTRUNC)
		rx->ctrunc++;
	if (n == 0) {
		if (msg.msg_controllen >= sizeof(struct cmsghdr) && CMSG_FIRSTHDR(&msg))
			FAIL("end of stream at %llu with a cmsg", (unsigned long long)rx->pos);
		rx->eof = true;
		return 0;
	}
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		struct dmabuf_cmsg dc;
		uint32_t niov_size;
		ssize_t bad;
		int idx;

		nr_cmsgs++;
		if (cm->cmsg_level != SOL_SOCKET)
			FAIL("cmsg of level %d", cm->cmsg_level);
		if (cm->cmsg_len != CMSG_LEN(sizeof(dc)))
			FAIL("cmsg type %d of length %zu, not %zu", cm->cmsg_type,
			     (size_t)cm->cmsg_len, (size_t)CMSG_LEN(sizeof(dc)));
		memcpy(&dc, CMSG_DATA(cm), sizeof(dc));
		if (cm->cmsg_type == SCM_DEVMEM_LINEAR) {
			if (rx->no_linear)
				FAIL("SCM_DEVMEM_LINEAR (%u bytes) at %llu: all data should be "
				     "in the dma-buf",
				     dc.frag_size, (unsigned long long)rx->pos);
			if (linear || dmabuf)
				FAIL("one call mixes SCM_DEVMEM_LINEAR with other cmsgs at %llu",
				     (unsigned long long)start);
			if (dc.frag_size != (uint64_t)n)
				FAIL("SCM_DEVMEM_LINEAR says %u bytes, the call returned %zd",
				     dc.frag_size, n);
			bad = flow_pattern_mismatch(rx->iov_buf, rx->pos, (size_t)n);
			if (bad >= 0)
				FAIL("linear byte %llu is %#x, expected %#x",
				     (unsigned long long)(rx->pos + (uint64_t)bad),
				     rx->iov_buf[bad], flow_pattern_byte(rx->pos + (uint64_t)bad));
			linear = true;
			rx->pos += (uint64_t)n;
			rx->bytes_linear += (uint64_t)n;
			continue;
		}
		if (cm->cmsg_type != SCM_DEVMEM_DMABUF)
			FAIL("cmsg of type %d", cm->cmsg_type);
		if (rx->no_dmabuf)
			FAIL("SCM_DEVMEM_DMABUF at %llu where all data should be linear",
			     (unsigned long long)rx->pos);
		if (linear)
			FAIL("one call mixes SCM_DEVMEM_DMABUF with SCM_DEVMEM_LINEAR");
		idx = flow_rx_buf_of(rx, dc.dmabuf_id, &niov_size);
		if (idx < 0)
			FAIL("fragment of binding %u, which the test did not make", dc.dmabuf_id);
		if (!dc.frag_size)
			FAIL("empty fragment (token %u)", dc.frag_token);
		if (dc.frag_offset >= rx->bufs[idx].size ||
		    dc.frag_size > rx->bufs[idx].size - dc.frag_offset)
			FAIL("fragment [%llu, +%u) beyond the %zu-byte buffer",
			     (unsigned long long)dc.frag_offset, dc.frag_size, rx->bufs[idx].size);
		if (niov_size && dc.frag_offset % niov_size + dc.frag_size > niov_size)
			FAIL("fragment [%llu, +%u) crosses a %u-byte net_iov",
			     (unsigned long long)dc.frag_offset, dc.frag_size, niov_size);
		if (!begun[idx]) {
			err = dma_buf_begin_cpu_access(rx->bufs[idx].buf, DMA_FROM_DEVICE);
			if (err)
				FAIL("dma_buf_begin_cpu_access: %d", err);
			begun[idx] = true;
		}
		bad = flow_pattern_mismatch(rx->bufs[idx].va + dc.frag_offset, rx->pos,
					    dc.frag_size);
		if (bad >= 0)
			FAIL("stream byte %llu (buffer offset %llu, binding %u) is %#x, expected "
			     "%#x",
			     (unsigned long long)(rx->pos + (uint64_t)bad),
			     (unsigned long long)(dc.frag_offset + (uint64_t)bad), dc.dmabuf_id,
			     rx->bufs[idx].va[dc.frag_offset + (uint64_t)bad],
			     flow_pattern_byte(rx->pos + (uint64_t)bad));
		rx->pos += dc.frag_size;
		dmabuf += dc.frag_size;
		rx->bytes_dmabuf += dc.frag_size;
		rx->frags++;
		rx->last_id = dc.dmabuf_id;
		err = flow_rx_hold(rx, dc.frag_token);
		if (err) {
			ret = err;
			goto out;
		}
	}
	if (!nr_cmsgs) {
		/* host memory: copied to the iovec as any TCP data, with no devmem cmsg */
		ssize_t bad;

		if (rx->no_linear)
			FAIL("%zd bytes at %llu copied: all data should be in the dma-buf", n,
			     (unsigned long long)start);
		bad = flow_pattern_mismatch(rx->iov_buf, rx->pos, (size_t)n);
		if (bad >= 0)
			FAIL("linear byte %llu is %#x, expected %#x",
			     (unsigned long long)(rx->pos + (uint64_t)bad), rx->iov_buf[bad],
			     flow_pattern_byte(rx->pos + (uint64_t)bad));
		linear = true;
		rx->pos += (uint64_t)n;
		rx->bytes_linear += (uint64_t)n;
	}
	if (rx->pos - start != (uint64_t)n)
		FAIL("the cmsgs describe %llu bytes, the call returned %zd",
		     (unsigned long long)(rx->pos - start), n);
out:
	for (unsigned int i = 0; i < FLOW_RX_MAX_BUFS; i++)
		if (begun[i])
			dma_buf_end_cpu_access(rx->bufs[i].buf, DMA_FROM_DEVICE);
	if (ret < 0)
		return ret;
	if (rx->nr_held && (!rx->hold || rx->nr_held >= rx->hold_now)) {
		if (rx->hold_us)
			flow_sleep_us(rx->hold_us);
		err = flow_rx_return(rx);
		if (err)
			return err;
	}
	return ret;
}

#undef FAIL

int flow_rx_run(struct flow_rx *rx, uint64_t expect, int timeout_ms)
{
	int64_t deadline = flow_now_ms() + timeout_ms;
	unsigned int idle = 0;
	int err;

	for (;;) {
		ssize_t n = flow_rx_step(rx, MSG_DONTWAIT);

		if (n > 0) {
			idle = 0;
			if (expect != UINT64_MAX && rx->pos > expect) {
				flow_why(rx->why, sizeof(rx->why), "%llu bytes, expected %llu",
					 (unsigned long long)rx->pos, (unsigned long long)expect);
				return -EPROTO;
			}
			continue;
		}
		if (n == 0) {
			err = flow_rx_return(rx);
			if (err)
				return err;
			if (expect != UINT64_MAX && rx->pos != expect) {
				flow_why(rx->why, sizeof(rx->why),
					 "the stream ended after %llu bytes, expected %llu",
					 (unsigned long long)rx->pos, (unsigned long long)expect);
				return -EPROTO;
			}
			return 0;
		}
		if (n != -EAGAIN) {
			if (n != -EPROTO)
				flow_why(rx->why, sizeof(rx->why), "devmem_recvmsg at %llu: %s",
					 (unsigned long long)rx->pos, strerror((int)-n));
			return (int)n;
		}
		/* nothing queued: what we hold may be what the queue waits for */
		err = flow_rx_return(rx);
		if (err)
			return err;
		if (flow_now_ms() > deadline) {
			flow_why(rx->why, sizeof(rx->why),
				 "timed out after %llu bytes (expected %llu), %llu calls",
				 (unsigned long long)rx->pos, (unsigned long long)expect,
				 (unsigned long long)rx->calls);
			return -ETIMEDOUT;
		}
		if (++idle < 32)
			sched_yield();
		else
			flow_sleep_us(idle < 256 ? 20 : 200);
	}
}

void flow_rx_fini(struct flow_rx *rx)
{
	if (rx->nr_toks)
		flow_rx_return(rx);
	free(rx->iov_buf);
	free(rx->ctrl);
	rx->iov_buf = NULL;
	rx->ctrl = NULL;
}

/* ---- the rig ---- */

#define RIG_FAIL(err, ...)                                     \
	do {                                                   \
		flow_why(r->why, sizeof(r->why), __VA_ARGS__); \
		ret = (err);                                   \
		goto fail;                                     \
	} while (0)

int flow_rig_up(struct flow_rig *r, const struct flow_rig_opts *o)
{
	DEVMEM_OPTS(devmem_swnic_opts, so, .num_rx_queues = o->num_rx_queues,
		    .ring_entries = o->ring_entries, .rx_mode = o->rx_mode,
		    .host_buf_size = o->host_buf_size);
	DEVMEM_OPTS(devmem_bind_opts, bo, .rx_page_size = o->niov_size);
	int family = o->family ? o->family : AF_INET;
	int ret;

	memset(r, 0, sizeof(*r));
	r->l.fd = -1;
	r->buf_fd = -1;
	r->queue = o->queue ? o->queue : 1;
	r->niov_size = o->niov_size ? o->niov_size : 4096;

	/* the listener first: a machine without ::1 needs nothing else */
	ret = flow_listen(family, &r->l);
	if (ret)
		RIG_FAIL(ret, "cannot listen on the loopback address of family %d: %s", family,
			 strerror(-ret));
	ret = devmem_swnic_create("lo", &so, &r->ifindex);
	if (ret)
		RIG_FAIL(ret, "devmem_swnic_create(lo): %d (%s)", ret, devmem_last_error());
	r->nic = true;
	ret = devmem_ctl_open(&r->ctl);
	if (ret)
		RIG_FAIL(ret, "devmem_ctl_open: %d", ret);
	ret = devmem_set_header_split(r->ctl, r->ifindex, ETHTOOL_TCP_DATA_SPLIT_ENABLED, 0);
	if (ret)
		RIG_FAIL(ret, "header split: %d (%s)", ret, devmem_last_error());
	ret = devmem_set_rss_equal(r->ctl, r->ifindex, 1);
	if (ret)
		RIG_FAIL(ret, "rss equal 1: %d (%s)", ret, devmem_last_error());
	if (!o->no_rule) {
		struct devmem_flow_rule rule = {
			.flow_type = family == AF_INET ? TCP_V4_FLOW : TCP_V6_FLOW,
			.dst_port = r->l.port,
			.queue = r->queue,
		};

		ret = devmem_flow_rule_add(r->ctl, r->ifindex, &rule, &r->rule_loc);
		if (ret)
			RIG_FAIL(ret, "flow rule: %d (%s)", ret, devmem_last_error());
	}
	if (o->buf_size) {
		void *va;

		ret = devmem_host_buffer_create(o->buf_size, NULL, &r->buf);
		if (ret)
			RIG_FAIL(ret, "host buffer: %d (%s)", ret, devmem_last_error());
		r->buf_fd = dma_buf_fd(r->buf, O_CLOEXEC);
		if (r->buf_fd < 0)
			RIG_FAIL(r->buf_fd, "dma_buf_fd: %d", r->buf_fd);
		ret = dma_buf_vmap_unlocked(r->buf, &va);
		if (ret)
			RIG_FAIL(ret, "vmap: %d", ret);
		r->va = va;
	}
	if (o->buf_size && o->bind) {
		struct devmem_queue_id q = { .id = r->queue, .type = NETDEV_QUEUE_TYPE_RX };

		ret = devmem_bind_rx(r->ctl, r->ifindex, r->buf_fd, &q, 1, &bo, &r->id);
		if (ret)
			RIG_FAIL(ret, "bind-rx: %d (%s)", ret, devmem_last_error());
	}
	return 0;

fail:
	flow_rig_down(r);
	return ret;
}

#undef RIG_FAIL

void flow_rig_rx(const struct flow_rig *r, struct flow_rx *rx)
{
	rx->bufs[0] = (struct flow_rx_buf){
		.buf = r->buf,
		.va = r->va,
		.size = r->buf ? r->buf->size : 0,
		.id = r->id,
		.niov_size = r->niov_size,
	};
	rx->nr_bufs = r->buf ? 1 : 0;
}

void flow_rig_down(struct flow_rig *r)
{
	devmem_ctl_close(r->ctl);
	r->ctl = NULL;
	flow_listener_close(&r->l);
	if (r->va)
		dma_buf_vunmap_unlocked(r->buf, r->va);
	r->va = NULL;
	if (r->buf_fd >= 0)
		close(r->buf_fd);
	r->buf_fd = -1;
	if (r->buf)
		dma_buf_put(r->buf);
	r->buf = NULL;
	if (r->nic)
		devmem_swnic_destroy(r->ifindex);
	r->nic = false;
}
