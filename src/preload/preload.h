/* SPDX-License-Identifier: MIT */
/*
 * libdevmem-preload.so: what the kernel's devmem interfaces look like to a
 * program that was written for them, answered by the software path.
 *
 * The shim defines the libc entry points a devmem program reaches the
 * kernel through (socket, ioctl, sendmsg, recvmsg, setsockopt, close, dup,
 * open, mmap, ...). Each first reads one byte, the kind of the fd it was
 * given (pl_fd_kind); for an fd the shim does not emulate that byte is 0 and
 * the call goes straight to libc's own function, with no lock taken.
 *
 * An emulated fd has a struct pl_file: its kind, its operations, and what
 * the emulation keeps for it (a netlink socket's bindings, a dma-buf). The
 * file is shared by dup()s of the fd, as the kernel's struct file is; it is
 * released when its last fd is closed, which is where a netlink socket's
 * bindings end.
 *
 * The library inside the shim reaches libc through pl_real (its references
 * to the interposed names are renamed at build time), so the shim never
 * sees its own calls, on any thread.
 */
#ifndef DEVMEM_PRELOAD_H
#define DEVMEM_PRELOAD_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "lib/compiler.h"

/* fds above this are never emulated (they pass through) */
#define PL_MAX_FDS 65536

enum pl_kind {
	PL_FD_NONE = 0, /* not emulated: every call is libc's */
	PL_FD_TCP, /* a TCP socket the software NIC reads (devmem_recvmsg ...) */
	PL_FD_NETLINK, /* AF_NETLINK / NETLINK_GENERIC socket */
	PL_FD_UDMABUF_DEV, /* an open /dev/udmabuf */
	PL_FD_DMA_HEAP_DEV, /* an open /dev/dma_heap/NAME */
	PL_FD_DMABUF, /* a dma-buf the shim made (udmabuf or dma-heap) */
	PL_FD_KIND_MAX,
};

extern uint8_t pl_kinds[PL_MAX_FDS];

static inline enum pl_kind pl_fd_kind(int fd)
{
	if (likely((unsigned int)fd >= PL_MAX_FDS))
		return PL_FD_NONE;
	return (enum pl_kind)__atomic_load_n(&pl_kinds[fd], __ATOMIC_ACQUIRE);
}

struct pl_file;

/*
 * What an emulated fd does. A NULL operation means libc's call on the fd.
 * Each returns what the system call would: a value, or -1 with errno set.
 */
struct pl_file_ops {
	ssize_t (*sendmsg)(struct pl_file *f, int fd, const struct msghdr *msg, int flags);
	ssize_t (*recvmsg)(struct pl_file *f, int fd, struct msghdr *msg, int flags);
	int (*setsockopt)(struct pl_file *f, int fd, int level, int name, const void *val,
			  socklen_t len);
	int (*getsockopt)(struct pl_file *f, int fd, int level, int name, void *val,
			  socklen_t *len);
	int (*bind)(struct pl_file *f, int fd, const struct sockaddr *addr, socklen_t len);
	int (*connect)(struct pl_file *f, int fd, const struct sockaddr *addr, socklen_t len);
	int (*ioctl)(struct pl_file *f, int fd, unsigned long req, void *arg);
	void *(*mmap)(struct pl_file *f, int fd, void *addr, size_t len, int prot, int flags,
		      off_t off);
	/* the file's last fd is gone: free what it holds (called without locks) */
	void (*release)(struct pl_file *f);
};

struct pl_file {
	enum pl_kind kind;
	const struct pl_file_ops *ops;
	int refs; /* fds that name it, plus pl_file_get()s in flight (atomic) */
	void *priv; /* the emulation's own state */
};

/* A new file of @kind with one reference, or NULL (errno ENOMEM). */
struct pl_file *pl_file_alloc(enum pl_kind kind, const struct pl_file_ops *ops, void *priv);
/*
 * Give @fd the file (takes over the caller's reference). @fd must be one the
 * caller just made; an emulated file that @fd named (an fd number reused
 * behind the shim's back) is let go first.
 */
void pl_fd_install(int fd, struct pl_file *f);
/* The file of @fd with a reference, or NULL when @fd is not emulated. */
struct pl_file *pl_file_get(int fd);
void pl_file_put(struct pl_file *f);
/* Mark @fd as a TCP socket on the software NIC (no file: the library keeps its state). */
void pl_fd_mark_tcp(int fd);
/* Forget @fd (it was closed): drops its file's reference. */
void pl_fd_forget(int fd);

/* libc's own functions, resolved once at load (dlsym RTLD_NEXT). */
struct pl_real {
	int (*socket)(int, int, int);
	int (*close)(int);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*fcntl)(int, int, ...);
	int (*open)(const char *, int, ...);
	int (*openat)(int, const char *, int, ...);
	FILE *(*fopen)(const char *, const char *);
	int (*ioctl)(int, unsigned long, ...);
	void *(*mmap)(void *, size_t, int, int, int, off_t);
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*writev)(int, const struct iovec *, int);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*readv)(int, const struct iovec *, int);
	int (*setsockopt)(int, int, int, const void *, socklen_t);
	int (*getsockopt)(int, int, int, void *, socklen_t *);
	int (*bind)(int, const struct sockaddr *, socklen_t);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*accept)(int, struct sockaddr *, socklen_t *);
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	int (*getsockname)(int, struct sockaddr *, socklen_t *);
	pid_t (*fork)(void);
};

extern struct pl_real pl_real;

/* True when the shim answers for interface @ifindex (devmem run --ifname; default: all). */
bool pl_ifindex_emulated(int ifindex);
bool pl_ifname_emulated(const char *ifname);

/*
 * The process's control handle on the software backend, opened on first
 * use. NULL with errno set (EIO in a forked child that did not exec).
 */
struct devmem_ctl *pl_ctl(void);

/*
 * `devmem run -v` (DEVMEM_RUN_TRACE=1): one line on stderr per emulated
 * call, "devmem: <what> = <result>". DEVMEM_DEBUG=1: the shim's own
 * diagnostics too. Neither ever writes on stdout.
 */
extern bool pl_tracing;
extern bool pl_debugging;
__printf(1, 2) void pl_trace(const char *fmt, ...);
__printf(1, 2) void pl_debug(const char *fmt, ...);

/* errno of the current thread set to @err (positive or negative), returning -1 */
static inline int pl_fail(int err)
{
	extern int *__errno_location(void);
	*__errno_location() = err < 0 ? -err : err;
	return -1;
}

/* The areas' entry points the core calls (each defined in its own file). */

/* dmabuf.c: open() of a device path the shim answers; -2 when @path is not one. */
int pl_dev_open(const char *path, int flags);
/* dmabuf.c: fopen()/open() of /proc/.../fdinfo/N of an emulated dma-buf; -2 when not. */
int pl_fdinfo_open(const char *path, int flags);
/* netlink.c: @fd is a new AF_NETLINK socket of @protocol */
void pl_netlink_socket(int fd, int protocol);
/* ethtool.c: ioctl(SIOCETHTOOL) on any socket; -2 when the interface is not emulated. */
int pl_ethtool_ioctl(int fd, void *ifr);
/* tcp.c: a TCP socket @fd was accepted or connected; attach it when a binding waits for it */
void pl_tcp_new(int fd);
/*
 * ethtool-server.c: called once from the shim's constructor (puts the tool
 * directory with the `ethtool` and `sudo` stand-ins first in PATH), and
 * before the process starts a child (system, popen, posix_spawn, fork):
 * makes sure the server that answers those stand-ins runs.
 */
void pl_ethtool_init(void);
void pl_ethtool_server_start(void);
/*
 * devmem_preload_release_all() (the test harness, before it counts open
 * fds): each area lets go of what it holds for the process itself (hidden
 * sockets, the server and its thread), not what the program's fds hold.
 */
void pl_netlink_release_all(void);
void pl_ethtool_release_all(void);

#endif
