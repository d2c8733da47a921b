/* SPDX-License-Identifier: MIT */
/*
 * Loopback TCP flows for the socket and software NIC tests: a listener on
 * 127.0.0.1 or ::1, a sender of the test pattern (a forked process or a
 * thread), and a receiver that reads a devmem socket, checks every byte
 * against the pattern (dma-buf fragments through a CPU mapping of their
 * buffer, inside dma_buf_begin_cpu_access() .. end; linear bytes in the
 * iovec), checks every cmsg, and gives its tokens back.
 *
 * Also a "rig": a software NIC on lo set up as a devmem receiver would
 * (header split, RSS over queue 0, a flow rule sending the listener's port to
 * one queue, a host dma-buf bound to that queue).
 *
 * No Criterion here (the stress programs use it too): functions return 0 or
 * a negative errno and say why in the object's @why.
 */
#ifndef DEVMEM_TESTS_FLOW_H
#define DEVMEM_TESTS_FLOW_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "devmem/dma-buf.h"
#include "devmem/netdev.h"
#include "devmem/uapi.h"

/* ---- the pattern: byte k of a stream is k % N == N - 1 ? '\n' : k % N + 1 ---- */

#define FLOW_PATTERN_N 251

static inline unsigned char flow_pattern_byte(uint64_t k)
{
	unsigned int r = (unsigned int)(k % FLOW_PATTERN_N);

	return r == FLOW_PATTERN_N - 1 ? '\n' : (unsigned char)(r + 1);
}

/* Fill @buf with the pattern from stream position @pos. */
void flow_pattern_fill(void *buf, uint64_t pos, size_t len);

/* Offset of the first byte of @buf that is not the pattern from @pos, or -1. */
ssize_t flow_pattern_mismatch(const void *buf, uint64_t pos, size_t len);

/* Milliseconds on the monotonic clock. */
int64_t flow_now_ms(void);

/* Sleep @us microseconds. */
void flow_sleep_us(unsigned int us);

/* ---- sockets ---- */

struct flow_listener {
	int fd;
	int family;
	struct sockaddr_storage addr; /* where to connect */
	socklen_t addrlen;
	uint16_t port; /* network order */
};

/*
 * Listen on 127.0.0.1 (AF_INET) or ::1 (AF_INET6), on a port the kernel
 * picks. 0, or a negative errno (-EADDRNOTAVAIL, -EAFNOSUPPORT: no ::1).
 */
int flow_listen(int family, struct flow_listener *l);
void flow_listener_close(struct flow_listener *l);

/* A connected client socket (blocking), or a negative errno. */
int flow_connect(const struct flow_listener *l);

/* The next connection, within @timeout_ms: its fd, or a negative errno (-ETIMEDOUT). */
int flow_accept(const struct flow_listener *l, int timeout_ms);

/* ---- the sender ---- */

struct flow_sender_opts {
	/*
	 * One connection per entry of @sizes, each sending that many bytes of
	 * the pattern (from position 0) and closing; without @sizes, one
	 * connection sending @bytes.
	 */
	const uint64_t *sizes;
	unsigned int nr_sizes;
	uint64_t bytes;
	/* thread sender only: send for this long instead of @bytes (read flow_sender_sent()) */
	double seconds;
	size_t chunk; /* largest send(); 0: 64 KiB */
	bool random_chunks; /* each send 1 .. @chunk bytes */
	unsigned int pause_us; /* between sends */
	uint64_t seed;
	bool thread; /* a thread of this process rather than a forked child */
};

struct flow_sender {
	struct flow_listener l; /* a copy: the listener's fd is not used */
	struct flow_sender_opts o;
	uint64_t *sizes; /* a copy of o.sizes */
	unsigned char *pat; /* the pattern, long enough for any chunk at any phase */
	size_t pat_len;
	pid_t pid;
	pthread_t thread;
	bool started;
	int stop; /* atomic */
	int finish; /* atomic: thread sender only: end the stream now, as if at its length */
	int done; /* atomic: the thread finished */
	int err; /* the thread's error; written before done */
	uint64_t sent; /* atomic: bytes sent on the last connection */
};

/* Start sending (the connections are made by the sender). 0 or a negative errno. */
int flow_sender_start(const struct flow_listener *l, const struct flow_sender_opts *o,
		      struct flow_sender *s);

/*
 * Wait up to @timeout_ms for the sender to finish: 0 when it sent everything
 * and closed, -ETIMEDOUT (it is then stopped), -EIO (it failed). Frees it.
 */
int flow_sender_wait(struct flow_sender *s, int timeout_ms);

/* Bytes a thread sender has sent on its connection so far (final once it closed). */
uint64_t flow_sender_sent(struct flow_sender *s);

/* ---- parsed recvmsg ---- */

#define FLOW_MAX_CMSGS 1024

struct flow_cmsg {
	int level, type;
	size_t len; /* cmsg_len */
	struct dmabuf_cmsg dc; /* SCM_DEVMEM_LINEAR / SCM_DEVMEM_DMABUF payload */
};

struct flow_msg {
	ssize_t ret; /* what devmem_recvmsg() returned */
	int err; /* its errno when ret < 0 */
	int msg_flags;
	size_t controllen; /* msg_controllen after the call */
	unsigned int nr; /* cmsgs */
	unsigned int nr_dmabuf, nr_linear;
	uint64_t dmabuf_bytes, linear_bytes;
	struct flow_cmsg c[FLOW_MAX_CMSGS];
};

/*
 * One devmem_recvmsg(@fd, msg, @flags) into @iov_buf (@iov_len bytes) with a
 * control buffer of @controllen bytes (0: none, msg_control NULL), parsed
 * into @m. Returns m->ret.
 */
ssize_t flow_recv(int fd, int flags, void *iov_buf, size_t iov_len, size_t controllen,
		  struct flow_msg *m);

/* A control buffer with room for @n dma-buf cmsgs. */
#define FLOW_CMSG_ROOM(n) ((n)*CMSG_SPACE(sizeof(struct dmabuf_cmsg)))

/*
 * Wait up to @timeout_ms until the rx queue of socket @fd (on software NIC
 * @ifindex, the only socket of that queue) has received @bytes in all and
 * every fragment it made is on the socket: its receive queue then holds
 * all the queue received but the @consumed fragments already read whole.
 * 0 or -ETIMEDOUT.
 */
int flow_wait_queued(int ifindex, int fd, uint64_t bytes, uint64_t consumed, int timeout_ms);

/* SO_DEVMEM_DONTNEED on one token: what devmem_setsockopt() returned. */
int flow_dontneed_one(int fd, uint32_t token);

/* ---- the receiver ---- */

#define FLOW_RX_MAX_BUFS 8

struct flow_rx_buf {
	struct dma_buf *buf;
	const unsigned char *va; /* its CPU mapping (dma_buf_vmap) */
	size_t size;
	uint32_t id; /* the binding that names it (without buf_of) */
	uint32_t niov_size; /* that binding's net_iov size, 0: do not check */
};

struct flow_rx {
	int fd;

	/* ---- set by the caller before the first step ---- */
	struct flow_rx_buf bufs[FLOW_RX_MAX_BUFS];
	unsigned int nr_bufs;
	/*
	 * Which buffer binding @id is in: its index in bufs[], -1 when the
	 * test made no such binding; may set *@niov_size. NULL: look @id up
	 * in bufs[].id.
	 */
	int (*buf_of)(uint32_t id, uint32_t *niov_size, void *arg);
	void *arg;
	size_t iov_len; /* 0: 1 MiB */
	bool random_iov; /* each call 1 .. iov_len bytes of iovec */
	unsigned int cmsgs; /* control buffer room; 0: 128 */
	bool no_linear; /* fail on bytes copied to the iovec (all data must be in the dma-buf) */
	bool no_dmabuf; /* fail on SCM_DEVMEM_DMABUF */
	/*
	 * Token policy: hold up to @hold fragments (random 1 .. @hold with
	 * @random_hold; 0: give back after every call), sleep @hold_us, give
	 * them back. Whatever is held goes back whenever nothing is queued.
	 */
	unsigned int hold;
	bool random_hold;
	unsigned int hold_us;
	uint64_t seed;

	/* ---- progress ---- */
	uint64_t pos; /* bytes checked: the stream position */
	uint64_t bytes_dmabuf, bytes_linear;
	uint64_t frags, calls, ctrunc, returned;
	uint32_t last_id; /* dmabuf_id of the last fragment */
	bool eof;
	char why[320];

	/* ---- private ---- */
	unsigned char *iov_buf;
	size_t iov_cap;
	unsigned char *ctrl;
	size_t ctrl_len;
	struct dmabuf_token toks[DEVMEM_DONTNEED_MAX_TOKENS];
	unsigned int nr_toks, nr_held, hold_now;
	uint64_t rnd;
};

/* Ready @rx for socket @fd (the caller then fills the settings). 0 or -ENOMEM. */
int flow_rx_init(struct flow_rx *rx, int fd);

/*
 * One devmem_recvmsg() with MSG_SOCK_DEVMEM | @flags, checked: the bytes
 * read, 0 at the end of the stream, -EAGAIN and other errnos as the call
 * gave them, or -EPROTO when a check failed (rx->why says which).
 */
ssize_t flow_rx_step(struct flow_rx *rx, int flags);

/* Give every held token back: 0, or -EPROTO when DONTNEED freed another number. */
int flow_rx_return(struct flow_rx *rx);

/*
 * Read to the end of the stream with non-blocking calls, within
 * @timeout_ms: 0 when the stream ended after exactly @expect bytes
 * (UINT64_MAX: any length), else a negative errno (-ETIMEDOUT, -EPROTO).
 */
int flow_rx_run(struct flow_rx *rx, uint64_t expect, int timeout_ms);

/* Give back what is held and free the receiver (not the socket). */
void flow_rx_fini(struct flow_rx *rx);

/* ---- the rig: a software NIC on lo, ready for devmem ---- */

struct flow_rig_opts {
	uint32_t rx_mode; /* enum devmem_swnic_rx_mode */
	uint32_t num_rx_queues; /* 0: the default */
	uint32_t ring_entries; /* 0: the default */
	uint32_t host_buf_size; /* 0: the default */
	int family; /* 0: AF_INET */
	uint32_t queue; /* the flow rule's queue; 0: queue 1 */
	bool no_rule; /* no flow rule (RSS alone steers) */
	size_t buf_size; /* a host dma-buf of that size; 0: none */
	bool bind; /* bind it to the rule's queue */
	uint32_t niov_size; /* 0: PAGE_SIZE */
};

struct flow_rig {
	int ifindex;
	struct devmem_ctl *ctl;
	struct flow_listener l;
	uint32_t queue;
	uint32_t rule_loc;
	struct dma_buf *buf;
	int buf_fd;
	unsigned char *va;
	uint32_t id; /* the binding, 0 when not bound */
	uint32_t niov_size;
	bool nic; /* the software NIC is ours to destroy */
	char why[320];
};

/*
 * Set up: software NIC on lo, control handle, header split on (threshold
 * 0), RSS "equal 1", a listener, a flow rule from its port to the queue, and
 * the buffer (bound when asked). 0, or a negative errno with nothing left
 * (-EOPNOTSUPP: the kernel lacks what was asked; -EADDRNOTAVAIL,
 * -EAFNOSUPPORT: no ::1).
 */
int flow_rig_up(struct flow_rig *r, const struct flow_rig_opts *o);

/* Fill @rx's buffer table with the rig's buffer and binding. */
void flow_rig_rx(const struct flow_rig *r, struct flow_rx *rx);

/* Tear down what is left (a NULL ctl is not closed again). */
void flow_rig_down(struct flow_rig *r);

#endif
