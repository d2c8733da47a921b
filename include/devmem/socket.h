/* SPDX-License-Identifier: MIT */
/*
 * devmem sockets: the kernel's userspace contract for device-memory TCP, on
 * ordinary kernel TCP sockets.
 *
 * These calls take the place of recvmsg(), setsockopt(), sendmsg() and
 * close() on a connected TCP socket, with the same signatures and the same
 * semantics as the system calls: they return what the system call would
 * (a byte count, 0, or -1 with errno set; devmem_last_error() then says
 * why, where a reason helps). They are the one exception to libdevmem's
 * "negative errno" rule, so that an application can #define them over the
 * system calls and run unchanged on a devmem NIC.
 *
 * On the software path a socket joins a software NIC's rx queue the first
 * time it is used here (devmem_recvmsg(), or devmem_sock_attach()): the
 * device is the one that owns the socket's local address (loopback: "lo"),
 * the queue is chosen by the device's flow rules, else by RSS over its
 * indirection table. From then on the queue's driver reads the socket:
 * bytes land in the queue's page pool memory (the bound dma-buf's net_iovs,
 * or host pages when the queue is not bound) and wait on the socket as
 * fragments. A socket on no software NIC (a device no NIC shadows), and
 * anything that is not a TCP socket (UDP, AF_UNIX), is read with the
 * recvmsg() system call itself.
 *
 * Receive (devmem_recvmsg), as the kernel's tcp_recvmsg_locked():
 * - with MSG_SOCK_DEVMEM, each fragment in the dma-buf is one
 *   SCM_DEVMEM_DMABUF cmsg (struct dmabuf_cmsg: offset into the dma-buf,
 *   size, token, binding id); the fragment is the user's until its token
 *   comes back through SO_DEVMEM_DONTNEED (or the socket is closed). The
 *   iovec is not written: its iov_base may be NULL;
 * - bytes that landed in host memory (a queue with no binding) are plain
 *   TCP data: copied to the iovec with no devmem cmsg, with or without
 *   MSG_SOCK_DEVMEM, needing no control buffer. SCM_DEVMEM_LINEAR is only
 *   for the linear part of a devmem skb, which the software NIC never
 *   makes. One call never mixes host-memory and dma-buf data;
 * - the control buffer bounds a call as the kernel's does: the fragments
 *   that fit are returned (no MSG_CTRUNC) and the rest stay queued for the
 *   next call; when not even one cmsg fits, the call fails with errno 525
 *   (the kernel's ETOOSMALL, which libc does not name) and takes nothing;
 * - without MSG_SOCK_DEVMEM, dma-buf data fails with EFAULT;
 * - an iovec that cannot be written fails with EFAULT and takes nothing
 *   (never a SIGSEGV);
 * - MSG_PEEK takes nothing; on dma-buf data it still gives tokens (as the
 *   kernel), each to be given back. MSG_TRUNC passes over the bytes
 *   without copying them (dma-buf data then needs no MSG_SOCK_DEVMEM and
 *   gives no token);
 * - 0 at end of stream; MSG_DONTWAIT (or O_NONBLOCK) gives EAGAIN when
 *   nothing is queued; a blocking call returns once it has SO_RCVLOWAT
 *   bytes (the whole iovec with MSG_WAITALL), or with what it has at the
 *   end of the stream, on SO_RCVTIMEO (EAGAIN when it has nothing) or on a
 *   signal (EINTR when it has nothing; a handler with SA_RESTART restarts
 *   the wait).
 *
 * Tokens (devmem_setsockopt(fd, SOL_SOCKET, SO_DEVMEM_DONTNEED, ...)) are
 * numbered from 1 and belong to the socket, not to the fd number: a dup()
 * of the fd reaches them too. The option takes an array of struct
 * dmabuf_token ranges, with the kernel's checks in its order: EINVAL for a
 * length below an int, EFAULT when optval cannot be read, EBADF on a
 * socket that is not TCP, EINVAL for a length that is not a whole number
 * of entries or more than DEVMEM_DONTNEED_MAX_TOKENS of them. As the
 * kernel, one call stops at its DEVMEM_DONTNEED_MAX_FRAGS-th fragment and
 * token_start + i counts modulo 2^32. Returns the number of fragments
 * freed; tokens not held (never given, given back already, out of range)
 * are skipped, and a TCP socket that never received through here frees 0.
 * Any other option is passed to setsockopt().
 *
 * A socket's queue stops reading it once the bytes waiting in it unread
 * reach its receive limit, as the kernel stops taking data into a socket
 * whose receive buffer is full: the data stays in the kernel socket and TCP
 * holds the sender back until the application reads it down to half. The
 * limit is the socket's SO_RCVBUF as getsockopt() reports it (TCP
 * autotuning grows it; setsockopt() fixes it) and, on a queue bound to a
 * dma-buf, an equal share of the buffer's net_iovs among the queue's
 * sockets, one share kept back, so that a socket nobody reads never stalls
 * the other sockets of its queue. Fragments the user holds (tokens not yet
 * given back) do not count, as in the kernel. What the queue had already
 * taken from the kernel socket when the limit was reached is still
 * delivered, so a fast peer may overshoot it by about one send buffer.
 *
 * Transmit (devmem_sendmsg with MSG_ZEROCOPY and a SOL_SOCKET /
 * SCM_DEVMEM_DMABUF cmsg holding a __u32 tx binding id): each iov_base is an
 * offset into the tx binding's dma-buf. EINVAL for an unknown binding id (or
 * an rx binding's, or without MSG_ZEROCOPY and SO_ZEROCOPY), ENODEV for a
 * binding of another device than the one the socket sends through, EFAULT
 * for a range that starts beyond the buffer (one that starts inside it and
 * runs past its end sends the bytes before the end: a short write). On the
 * software path the bytes go out through the kernel socket's own
 * MSG_ZEROCOPY send, so blocking, MSG_DONTWAIT (EAGAIN, short sends) and the
 * completions are the kernel's: they come back on the socket's error queue
 * (poll() reports POLLERR; read them with devmem_recvmsg(fd, msg,
 * MSG_ERRQUEUE) or recvmsg()) as zerocopy notifications (struct
 * sock_extended_err, SO_EE_ORIGIN_ZEROCOPY, ee_info .. ee_data the first ..
 * last send number; on loopback ee_code is SO_EE_CODE_ZEROCOPY_COPIED, since
 * the kernel copies at delivery). Without the cmsg the call is sendmsg().
 *
 * devmem_close() closes the fd; with the socket's last fd it also releases
 * every fragment the socket still holds and detaches it from its queue. A
 * socket read with devmem_recvmsg() must be closed with devmem_close(): the
 * queue's driver holds it open. One only sent through (or refused by every
 * queue) may be closed with close(). When a socket's fd is closed with
 * close() anyway and its number goes to a new socket, the next call on
 * that number releases the old socket: the new one never sees its data or
 * its tokens.
 *
 * Threads: calls on different sockets run in parallel; calls on one socket
 * may come from several threads (they serialise on the socket).
 *
 * fork(): devmem sockets belong to the process that made them (as the rest
 * of the network state, devmem/netdev.h). In a child forked after the
 * process first used a devmem socket, a control handle or a software NIC,
 * devmem_recvmsg(), devmem_setsockopt() and devmem_sendmsg() fail at once
 * with errno EIO, and devmem_sock_attach() and devmem_sock_stats() return
 * -EIO (devmem_last_error() says why); the child never reads the parent's
 * bytes. devmem_close() in the child is close(): it closes the child's copy
 * of the fd and leaves the parent's socket, its queue and its tokens as they
 * are. A child that needs the network should exec, or be forked before the
 * parent uses any of it.
 */
#ifndef DEVMEM_SOCKET_H
#define DEVMEM_SOCKET_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "devmem/uapi.h"

#ifdef __cplusplus
extern "C" {
#endif

ssize_t devmem_recvmsg(int fd, struct msghdr *msg, int flags);
int devmem_setsockopt(int fd, int level, int optname, const void *optval, socklen_t optlen);
ssize_t devmem_sendmsg(int fd, const struct msghdr *msg, int flags);
int devmem_close(int fd);

/*
 * Join the socket to its software NIC's rx queue now, rather than at its
 * first devmem_recvmsg() (a server does it right after accept(), so that
 * the flow's first bytes already land in the queue's memory). Returns the
 * rx queue index, or a negative errno: -EBADF (not a socket), -ENOTSOCK,
 * -EOPNOTSUPP (not a connected TCP socket), -ENODEV (no software NIC owns
 * its local address; the socket is then read as a plain one).
 */
int devmem_sock_attach(int fd);

/* What a devmem socket has done so far (devmem_sock_stats). */
struct devmem_sock_stats {
	int ifindex; /* its software NIC, 0 if none */
	int rxq; /* its rx queue, -1 if none */
	uint64_t bytes_dmabuf; /* reported as SCM_DEVMEM_DMABUF fragments */
	uint64_t bytes_linear; /* copied to the iovec (host memory) */
	uint64_t frags; /* SCM_DEVMEM_DMABUF fragments given out */
	uint64_t frags_queued; /* received, waiting for recvmsg */
	uint64_t tokens_held; /* given out, not yet given back */
	uint64_t tokens_freed; /* given back with SO_DEVMEM_DONTNEED */
	uint64_t tokens_unknown; /* DONTNEED entries that named no held token */
	uint64_t ctrunc; /* calls cut short by the control buffer (fragments left queued) */
	uint64_t tx_sends; /* zerocopy sends (their completion numbers) */
	uint64_t tx_bytes;
};

/* 0 and *@stats, or -EBADF when @fd is not a devmem socket. */
int devmem_sock_stats(int fd, struct devmem_sock_stats *stats);

#ifdef __cplusplus
}
#endif

#endif
