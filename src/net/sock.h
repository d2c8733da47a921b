/* SPDX-License-Identifier: MIT */
/*
 * devmem sockets: the state libdevmem keeps for a kernel TCP socket that is
 * read (or written) through devmem/socket.h, and the interface between the
 * socket layer and the driver whose rx queue reads the socket.
 *
 * A socket joins one rx queue of a driver that can read sockets (the
 * device's sock_ops). From then on that queue's NAPI context owns the
 * reading: it turns what the kernel socket received into fragments (a
 * netmem, an offset into it, a length) and appends them to the socket's
 * receive queue with sk_deliver(). The application side takes them off in
 * devmem_recvmsg(): fragments in net_iovs become tokens (the user holds the
 * net_iov until SO_DEVMEM_DONTNEED), fragments in host pages are copied and
 * their pages go back to the pool at once.
 *
 * References: the socket table holds one reference from creation until the
 * socket's last fd number goes (devmem_close(), or a plain close() seen
 * when the number names another socket); each call working on the socket
 * holds one; the driver
 * holds one from attach until its detach completes. The last put frees
 * (every fragment and token was released by then).
 *
 * Lock order: sk->lock is innermost. Nothing waits for the driver (attach,
 * detach) while holding it: the driver takes it to deliver.
 */
#ifndef DEVMEM_NET_SOCK_H
#define DEVMEM_NET_SOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "net/netdev.h"
#include "net/netmem.h"

/* One piece of received data: @len bytes at @off in @netmem, with one pool reference. */
struct net_devmem_dmabuf_binding;

struct devmem_frag {
	netmem_ref netmem;
	uint32_t off;
	uint32_t len;
};

struct devmem_sock {
	int fd; /* the fd it was first used through; immutable */
	/*
	 * The socket's inode: what the socket is, whatever fd numbers name it
	 * (dup() gives it another; a plain close() and a new socket may give
	 * its number to another). Immutable.
	 */
	unsigned long ino;
	/* fd numbers of the table naming it, and the next socket of its inode hash; table lock */
	unsigned int nr_fds;
	struct devmem_sock *ino_next;
	/*
	 * The driver's own fd on the socket, from attach until the socket is
	 * released: the user's fd number may be closed and taken by another
	 * socket meanwhile, the driver must go on reading this one. -1: none.
	 */
	int rx_fd;
	/* futex word: bumped (sk->lock held) whenever a blocked reader has something to see */
	uint32_t rx_seq;
	int family; /* AF_INET or AF_INET6; immutable */
	int local_ifindex; /* atomic: the interface of its local address, 0 until known (sk_ifindex) */
	long ref; /* atomic */

	pthread_mutex_t lock;
	pthread_cond_t wait; /* a reader waits for fragments, the end, or an error */

	/* ---- protected by lock ---- */
	/* the receive queue: a ring of fragments, grown by doubling */
	struct devmem_frag *rxq;
	uint32_t rxq_size; /* a power of two (0 before the first fragment) */
	uint32_t rxq_head, rxq_tail; /* running counts: tail - head queued */
	uint64_t rxq_bytes; /* bytes queued */
	/* atomic: at its receive limit, the queue stopped reading (the driver reads it) */
	bool rx_throttled;
	/*
	 * atomic: bytes queued unread at which the queue stops reading it, set
	 * by the driver (sk_set_rx_limit()); 0 until it does: DEVMEM_SOCK_RCVBUF
	 */
	uint64_t rx_limit;
	bool rx_eof; /* the peer closed: after the queue, reads return 0 */
	int rx_err; /* a receive error (positive errno), after the queue */
	bool detached; /* no driver reads it (none took it, it is closing, or its device went away) */
	/* whether it joined an rx queue: on first receive, not on send (sk_rx_prepare()) */
	enum { SK_RX_NONE, SK_RX_ATTACHING, SK_RX_DONE } rx_state;
	int attach_err; /* what joining said: 0, or a negative errno (read plainly then) */
	bool closing;
	/* the control buffer the last receive found writable (sk_recv_dmabuf()) */
	void *ctl_ok;
	size_t ctl_ok_len;
	unsigned int readers; /* threads waiting in devmem_recvmsg(), on rx_seq */

	/* tokens given to the user: token t names tokens[t] (0: free) */
	netmem_ref *tokens;
	uint64_t *token_free; /* bit t set: token t is free */
	uint32_t nr_tokens; /* capacity, a multiple of 64 */
	uint32_t token_hint; /* no free token below it */

	bool zerocopy_ok; /* SO_ZEROCOPY was seen enabled */

	struct devmem_sock_stats_internal {
		uint64_t bytes_dmabuf, bytes_linear, frags, tokens_freed, tokens_unknown;
		uint64_t ctrunc, tx_sends, tx_bytes, tokens_held;
	} stats;

	/* ---- immutable once attached (set before the driver sees it) ---- */
	struct net_device *dev; /* referenced; NULL: a plain socket */
	unsigned int rxq_idx;
	void *drv; /* the driver's state for this socket */
};

/*
 * What a driver that reads sockets provides (struct net_device.sock_ops).
 *
 * attach        start reading @sk on rx queue @rxq; takes a socket
 *               reference. 0 or a negative errno (nothing started).
 * detach        stop reading @sk and return when the driver will not touch
 *               it again (what it received until then is delivered); drops
 *               the reference. Not called with sk->lock held.
 * rxq_returned  netmems of queue @rxq came back to its pools: a queue that
 *               stopped reading for want of memory may go on. Any thread;
 *               cheap when the queue is not starved.
 * rx_resume     a socket the driver stopped reading (sk_deliver() returned
 *               true) was read down: read it again. Any thread.
 * send_dmabuf   send the iovec of @msg, offsets into @binding's dma-buf
 *               (checked to lie inside it), on socket @fd: the bytes sent
 *               (the whole iovec unless the socket is non-blocking), once
 *               the kernel no longer reads the memory; or a negative errno.
 */
struct netdev_sock_ops {
	int (*attach)(struct net_device *dev, unsigned int rxq, struct devmem_sock *sk);
	void (*detach)(struct net_device *dev, struct devmem_sock *sk);
	void (*rxq_returned)(struct net_device *dev, unsigned int rxq);
	void (*rx_resume)(struct net_device *dev, unsigned int rxq);
	ssize_t (*send_dmabuf)(struct net_device *dev, int fd,
			       struct net_devmem_dmabuf_binding *binding, const struct msghdr *msg,
			       int flags);
};

void sk_hold(struct devmem_sock *sk);
void sk_put(struct devmem_sock *sk);

/*
 * The receive limit of a socket whose driver set none (sk_set_rx_limit()):
 * tcp_rmem's largest default maximum. When a socket's unread bytes reach
 * its limit its queue stops reading it, as the kernel stops taking data
 * into a socket whose sk_rmem_alloc reached sk_rcvbuf: the kernel socket
 * then fills and TCP holds the sender back. Reading resumes at half.
 */
#define DEVMEM_SOCK_RCVBUF (16UL << 20)

/*
 * Driver side: the socket's receive limit in bytes (at least 1). The driver
 * picks it from the kernel socket's SO_RCVBUF and the share of the queue's
 * memory the socket may hold unread (fragments the user holds do not count,
 * as in the kernel, where they are no longer charged to the socket). Any
 * thread.
 */
static inline void sk_set_rx_limit(struct devmem_sock *sk, uint64_t limit)
{
	__atomic_store_n(&sk->rx_limit, limit ? limit : 1, __ATOMIC_RELAXED);
}

/*
 * Driver side: append @n fragments (their pool references move to the
 * socket) and wake a reader. A socket that is closing gives them back
 * instead. True when the driver must stop reading the socket (its unread
 * bytes reached its receive limit: sk->rx_throttled is set, and rx_resume()
 * comes when it is read down to half). Any thread; takes sk->lock.
 */
bool sk_deliver(struct devmem_sock *sk, const struct devmem_frag *frags, unsigned int n);

/*
 * Driver side: the kernel socket reached its end (@err 0) or failed (@err a
 * positive errno): after the queued fragments, reads return 0 or the error.
 */
void sk_set_eof(struct devmem_sock *sk, int err);

/*
 * Driver side: the driver gives the socket up without a detach (its device
 * is going away): after the queued fragments the socket is read as a plain
 * one. Drops the driver's reference.
 */
void sk_orphan(struct devmem_sock *sk);

/* Tests: hand out tokens up to @max only (0: up to INT_MAX, the kernel's limit). */
void sk_set_token_max(uint32_t max);

/* Sockets alive in this process (tests watch them die). */
long devmem_sock_nr_live(void);

#endif
