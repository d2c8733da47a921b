// SPDX-License-Identifier: MIT
/*
 * The interposed libc entry points and the shim's fd table (preload.h).
 *
 * Every wrapper starts with one byte load, pl_kinds[fd]; for an fd the shim
 * does not emulate it is 0 and the wrapper tail-calls libc. Only emulated
 * fds reach the table of files, under pl_files_lock: their calls are control
 * calls (netlink, ioctl, mmap), never the data path, which for a devmem TCP
 * socket is the library's own devmem_recvmsg() with its per-socket lock.
 */
/*
 * The wrappers define both the plain and the large-file names (open and
 * open64 ...): with _FILE_OFFSET_BITS=64 libc's headers would rename the
 * plain ones onto the others. On 64-bit they are the same calls.
 */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "devmem/error.h"
#include "devmem/netdev.h"
#include "devmem/socket.h"
#include "devmem/swnic.h"
#include "net/netdev.h"
#include "devmem/uapi.h"
#include "preload.h"

#ifndef SIOCETHTOOL
#define SIOCETHTOOL 0x8946
#endif

#define PL_EXPORT __attribute__((visibility("default")))

/*
 * The pl_libc_ functions are reached by renamed references from the other
 * objects of the shim, and the fortify entry points (__open_2 ...) by the
 * program: neither has a header to declare it.
 */
#pragma GCC diagnostic ignored "-Wmissing-prototypes"

uint8_t pl_kinds[PL_MAX_FDS];
static struct pl_file *pl_files[PL_MAX_FDS]; /* protected by pl_files_lock */
static pthread_mutex_t pl_files_lock = PTHREAD_MUTEX_INITIALIZER;

struct pl_real pl_real;
bool pl_tracing;
bool pl_debugging;

/* ---- libc's own functions ---- */

static void *pl_next(const char *name)
{
	void *fn = dlsym(RTLD_NEXT, name);

	if (!fn) {
		static const char msg[] =
			"libdevmem-preload: libc lacks a function the shim needs\n";
		/* nothing else can work: say so the only way left */
		(void)!syscall(SYS_write, 2, msg, sizeof(msg) - 1);
		abort();
	}
	return fn;
}

static pthread_once_t pl_real_once = PTHREAD_ONCE_INIT;
static bool pl_resolved; /* atomic: pl_real is complete */

static void pl_resolve_all(void)
{
	struct pl_real r;

#define PL_RESOLVE(name) r.name = pl_next(#name)
	PL_RESOLVE(socket);
	PL_RESOLVE(close);
	PL_RESOLVE(dup);
	PL_RESOLVE(dup2);
	PL_RESOLVE(dup3);
	PL_RESOLVE(fcntl);
	PL_RESOLVE(open);
	PL_RESOLVE(openat);
	PL_RESOLVE(fopen);
	PL_RESOLVE(ioctl);
	PL_RESOLVE(mmap);
	PL_RESOLVE(send);
	PL_RESOLVE(sendto);
	PL_RESOLVE(sendmsg);
	PL_RESOLVE(write);
	PL_RESOLVE(writev);
	PL_RESOLVE(recv);
	PL_RESOLVE(recvfrom);
	PL_RESOLVE(recvmsg);
	PL_RESOLVE(read);
	PL_RESOLVE(readv);
	PL_RESOLVE(setsockopt);
	PL_RESOLVE(getsockopt);
	PL_RESOLVE(bind);
	PL_RESOLVE(connect);
	PL_RESOLVE(accept);
	PL_RESOLVE(accept4);
	PL_RESOLVE(getsockname);
	PL_RESOLVE(fork);
#undef PL_RESOLVE
	pl_real = r;
	__atomic_store_n(&pl_resolved, true, __ATOMIC_RELEASE);
}

/*
 * Another library's constructor may call in before ours has run: every
 * wrapper makes sure libc's functions are known. After the first call this
 * is one predictable branch.
 */
static inline void pl_ready(void)
{
	if (unlikely(!__atomic_load_n(&pl_resolved, __ATOMIC_ACQUIRE)))
		pthread_once(&pl_real_once, pl_resolve_all);
}

/* ---- diagnostics ---- */

static void pl_vprint(const char *fmt, va_list ap)
{
	char line[512];
	int n;

	n = snprintf(line, sizeof(line), "devmem: ");
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (n >= (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	pl_ready();
	(void)!pl_real.write(2, line, (size_t)n);
}

void pl_trace(const char *fmt, ...)
{
	va_list ap;

	if (!pl_tracing && !pl_debugging)
		return;
	va_start(ap, fmt);
	pl_vprint(fmt, ap);
	va_end(ap);
}

void pl_debug(const char *fmt, ...)
{
	va_list ap;

	if (!pl_debugging)
		return;
	va_start(ap, fmt);
	pl_vprint(fmt, ap);
	va_end(ap);
}

/* ---- the interfaces the shim answers for ---- */

#define PL_MAX_IFACES 32
static int pl_ifaces[PL_MAX_IFACES]; /* written once by the constructor */
static int pl_nr_ifaces; /* 0: every interface */
static bool pl_ifaces_none; /* DEVMEM_RUN_IFACES names nothing that exists */

static void pl_parse_ifaces(const char *list)
{
	char buf[512], *save = NULL, *name;

	snprintf(buf, sizeof(buf), "%s", list);
	for (name = strtok_r(buf, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		unsigned int idx = if_nametoindex(name);

		if (idx && pl_nr_ifaces < PL_MAX_IFACES)
			pl_ifaces[pl_nr_ifaces++] = (int)idx;
		else
			pl_debug("DEVMEM_RUN_IFACES: no interface %s", name);
	}
	pl_ifaces_none = pl_nr_ifaces == 0;
}

bool pl_ifindex_emulated(int ifindex)
{
	if (ifindex <= 0 || pl_ifaces_none)
		return false;
	if (!pl_nr_ifaces)
		return true;
	for (int i = 0; i < pl_nr_ifaces; i++)
		if (pl_ifaces[i] == ifindex)
			return true;
	return false;
}

bool pl_ifname_emulated(const char *ifname)
{
	unsigned int idx;

	if (!ifname || !*ifname)
		return false;
	idx = if_nametoindex(ifname);
	return idx && pl_ifindex_emulated((int)idx);
}

/* ---- the process's control handle ---- */

static pthread_mutex_t pl_ctl_lock = PTHREAD_MUTEX_INITIALIZER;
static struct devmem_ctl *pl_ctl_handle; /* protected by pl_ctl_lock; kept to the end */

struct devmem_ctl *pl_ctl(void)
{
	struct devmem_ctl *ctl;
	int err = 0;

	pthread_mutex_lock(&pl_ctl_lock);
	if (!pl_ctl_handle) {
		DEVMEM_OPTS(devmem_ctl_opts, opts, .backend = DEVMEM_BACKEND_SOFTWARE);

		err = devmem_ctl_open_opts(&pl_ctl_handle, &opts);
		if (err)
			pl_debug("control handle: %s", devmem_last_error());
	}
	ctl = pl_ctl_handle;
	pthread_mutex_unlock(&pl_ctl_lock);
	if (!ctl)
		pl_fail(err);
	return ctl;
}

/* ---- the fd table ---- */

struct pl_file *pl_file_alloc(enum pl_kind kind, const struct pl_file_ops *ops, void *priv)
{
	struct pl_file *f = calloc(1, sizeof(*f));

	if (!f) {
		errno = ENOMEM;
		return NULL;
	}
	f->kind = kind;
	f->ops = ops;
	f->refs = 1;
	f->priv = priv;
	return f;
}

void pl_file_put(struct pl_file *f)
{
	if (!f || __atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL))
		return;
	if (f->ops && f->ops->release)
		f->ops->release(f);
	free(f);
}

struct pl_file *pl_file_get(int fd)
{
	struct pl_file *f;

	if ((unsigned int)fd >= PL_MAX_FDS)
		return NULL;
	pthread_mutex_lock(&pl_files_lock);
	f = pl_files[fd];
	if (f)
		__atomic_add_fetch(&f->refs, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&pl_files_lock);
	return f;
}

/* Set @fd's entry (NULL file: @kind alone), returning the file it had. */
static struct pl_file *pl_fd_set(int fd, enum pl_kind kind, struct pl_file *f)
{
	struct pl_file *old;

	if ((unsigned int)fd >= PL_MAX_FDS)
		return f; /* never emulated: the caller's reference goes back */
	pthread_mutex_lock(&pl_files_lock);
	old = pl_files[fd];
	pl_files[fd] = f;
	__atomic_store_n(&pl_kinds[fd], (uint8_t)kind, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&pl_files_lock);
	return old;
}

void pl_fd_install(int fd, struct pl_file *f)
{
	pl_file_put(pl_fd_set(fd, f->kind, f));
}

void pl_fd_mark_tcp(int fd)
{
	pl_file_put(pl_fd_set(fd, PL_FD_TCP, NULL));
}

void pl_fd_forget(int fd)
{
	if (pl_fd_kind(fd) == PL_FD_NONE)
		return;
	pl_file_put(pl_fd_set(fd, PL_FD_NONE, NULL));
}

/* @newfd is now a duplicate of @oldfd: it names the same file. */
static void pl_fd_dup(int oldfd, int newfd)
{
	enum pl_kind kind = pl_fd_kind(oldfd);
	struct pl_file *f;

	if (kind == PL_FD_NONE) {
		pl_fd_forget(newfd);
		return;
	}
	f = pl_file_get(oldfd);
	pl_file_put(pl_fd_set(newfd, kind, f));
}

/* A new fd from the kernel: whatever the table said of its number is stale. */
static inline int pl_fd_fresh(int fd)
{
	if (fd >= 0 && unlikely(pl_fd_kind(fd) != PL_FD_NONE))
		pl_fd_forget(fd);
	return fd;
}

/* ---- the library's libc: the objects inside the shim call these ---- */

/*
 * The library's references to the interposed names are renamed to
 * pl_libc_NAME when the shim is linked (src/preload/libc-syms.txt), so
 * that its own calls, from any thread, reach libc and never the wrappers.
 */
int pl_libc_socket(int d, int t, int p)
{
	pl_ready();
	return pl_real.socket(d, t, p);
}
int pl_libc_close(int fd)
{
	pl_ready();
	return pl_real.close(fd);
}
int pl_libc_dup(int fd)
{
	pl_ready();
	return pl_real.dup(fd);
}
int pl_libc_dup2(int a, int b)
{
	pl_ready();
	return pl_real.dup2(a, b);
}
int pl_libc_dup3(int a, int b, int f)
{
	pl_ready();
	return pl_real.dup3(a, b, f);
}
int pl_libc_fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	pl_ready();
	return pl_real.fcntl(fd, cmd, arg);
}
int pl_libc_open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = va_arg(ap, mode_t);
	va_end(ap);
	pl_ready();
	return pl_real.open(path, flags, mode);
}
int pl_libc_openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = va_arg(ap, mode_t);
	va_end(ap);
	pl_ready();
	return pl_real.openat(dirfd, path, flags, mode);
}
FILE *pl_libc_fopen(const char *path, const char *mode)
{
	pl_ready();
	return pl_real.fopen(path, mode);
}
int pl_libc_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	pl_ready();
	return pl_real.ioctl(fd, req, arg);
}
void *pl_libc_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	pl_ready();
	return pl_real.mmap(addr, len, prot, flags, fd, off);
}
ssize_t pl_libc_send(int fd, const void *buf, size_t len, int flags)
{
	pl_ready();
	return pl_real.send(fd, buf, len, flags);
}
ssize_t pl_libc_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *a,
		       socklen_t al)
{
	pl_ready();
	return pl_real.sendto(fd, buf, len, flags, a, al);
}
ssize_t pl_libc_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	pl_ready();
	return pl_real.sendmsg(fd, msg, flags);
}
ssize_t pl_libc_write(int fd, const void *buf, size_t len)
{
	pl_ready();
	return pl_real.write(fd, buf, len);
}
ssize_t pl_libc_writev(int fd, const struct iovec *iov, int n)
{
	pl_ready();
	return pl_real.writev(fd, iov, n);
}
ssize_t pl_libc_recv(int fd, void *buf, size_t len, int flags)
{
	pl_ready();
	return pl_real.recv(fd, buf, len, flags);
}
ssize_t pl_libc_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *a,
			 socklen_t *al)
{
	pl_ready();
	return pl_real.recvfrom(fd, buf, len, flags, a, al);
}
ssize_t pl_libc_recvmsg(int fd, struct msghdr *msg, int flags)
{
	pl_ready();
	return pl_real.recvmsg(fd, msg, flags);
}
ssize_t pl_libc_read(int fd, void *buf, size_t len)
{
	pl_ready();
	return pl_real.read(fd, buf, len);
}
ssize_t pl_libc_readv(int fd, const struct iovec *iov, int n)
{
	pl_ready();
	return pl_real.readv(fd, iov, n);
}
int pl_libc_setsockopt(int fd, int l, int n, const void *v, socklen_t len)
{
	pl_ready();
	return pl_real.setsockopt(fd, l, n, v, len);
}
int pl_libc_getsockopt(int fd, int l, int n, void *v, socklen_t *len)
{
	pl_ready();
	return pl_real.getsockopt(fd, l, n, v, len);
}
int pl_libc_bind(int fd, const struct sockaddr *a, socklen_t al)
{
	pl_ready();
	return pl_real.bind(fd, a, al);
}
int pl_libc_connect(int fd, const struct sockaddr *a, socklen_t al)
{
	pl_ready();
	return pl_real.connect(fd, a, al);
}
int pl_libc_accept(int fd, struct sockaddr *a, socklen_t *al)
{
	pl_ready();
	return pl_real.accept(fd, a, al);
}
int pl_libc_accept4(int fd, struct sockaddr *a, socklen_t *al, int fl)
{
	pl_ready();
	return pl_real.accept4(fd, a, al, fl);
}
/* the large-file names are the same functions on 64-bit */
int pl_libc_fcntl64(int fd, int cmd, ...) __attribute__((alias("pl_libc_fcntl")));
int pl_libc_open64(const char *path, int flags, ...) __attribute__((alias("pl_libc_open")));
int pl_libc_openat64(int dirfd, const char *path, int flags, ...)
	__attribute__((alias("pl_libc_openat")));
FILE *pl_libc_fopen64(const char *path, const char *mode) __attribute__((alias("pl_libc_fopen")));
void *pl_libc_mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
	__attribute__((alias("pl_libc_mmap")));

pid_t pl_libc_fork(void)
{
	pl_ready();
	return pl_real.fork();
}

/*
 * What each area provides; until an area is built in, its interface is not
 * emulated (these defaults answer "not ours").
 */
__attribute__((weak)) int pl_dev_open(const char *path, int flags)
{
	(void)path;
	(void)flags;
	return -2;
}
__attribute__((weak)) int pl_fdinfo_open(const char *path, int flags)
{
	(void)path;
	(void)flags;
	return -2;
}
__attribute__((weak)) void pl_netlink_socket(int fd, int protocol)
{
	(void)fd;
	(void)protocol;
}
__attribute__((weak)) int pl_ethtool_ioctl(int fd, void *ifr)
{
	(void)fd;
	(void)ifr;
	return -2;
}
__attribute__((weak)) void pl_ethtool_init(void)
{
}
__attribute__((weak)) void pl_ethtool_server_start(void)
{
}

/* ---- sockets ---- */

PL_EXPORT int socket(int domain, int type, int protocol)
{
	int fd;

	pl_ready();
	fd = pl_fd_fresh(pl_real.socket(domain, type, protocol));
	if (fd >= 0 && domain == AF_NETLINK && protocol == NETLINK_GENERIC)
		pl_netlink_socket(fd, protocol);
	return fd;
}

/* our pid for process_vm_readv, kept so a send pays no getpid(); a child gets its own */
static pid_t pl_pid; /* atomic */

static void pl_pid_reset(void)
{
	__atomic_store_n(&pl_pid, 0, __ATOMIC_RELAXED);
}

/* Copy from the caller's memory as the kernel would: a bad address is false, never a fault. */
static bool pl_peek_user(void *dst, const void *src, size_t len)
{
	struct iovec local = { dst, len }, remote = { (void *)src, len };
	pid_t pid = __atomic_load_n(&pl_pid, __ATOMIC_RELAXED);

	if (unlikely(!pid)) {
		pid = getpid();
		__atomic_store_n(&pl_pid, pid, __ATOMIC_RELAXED);
	}
	return process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)len;
}

/*
 * A devmem send: MSG_ZEROCOPY with an SCM_DEVMEM_DMABUF cmsg. Only sends
 * with MSG_ZEROCOPY and control data look further; the message is read
 * through copies, so a bad pointer reaches devmem_sendmsg() (EFAULT) or
 * the kernel, never a fault here.
 */
static bool pl_is_devmem_send(const struct msghdr *umsg, int flags)
{
	unsigned char control[512];
	struct msghdr msg;
	struct cmsghdr *cm;

	if (likely(!(flags & MSG_ZEROCOPY)))
		return false;
	if (!pl_peek_user(&msg, umsg, sizeof(msg)))
		return true; /* the library answers EFAULT as the kernel */
	if (!msg.msg_control || msg.msg_controllen < sizeof(struct cmsghdr))
		return false;
	if (msg.msg_controllen > sizeof(control))
		return true; /* larger than a devmem send needs: let the library read it */
	if (!pl_peek_user(control, msg.msg_control, msg.msg_controllen))
		return true;
	msg.msg_control = control;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_DEVMEM_DMABUF)
			return true;
	return false;
}

static ssize_t pl_tcp_recvmsg(int fd, struct msghdr *msg, int flags)
{
	ssize_t ret = devmem_recvmsg(fd, msg, flags);

	/* a socket the library attached now: every later read is the library's */
	if (pl_fd_kind(fd) == PL_FD_NONE && (ret >= 0 || errno != EBADF)) {
		struct devmem_sock_stats st;
		int saved = errno;

		if (!devmem_sock_stats(fd, &st) && st.ifindex > 0)
			pl_fd_mark_tcp(fd);
		errno = saved;
	}
	return ret;
}

PL_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	enum pl_kind kind = pl_fd_kind(fd);
	struct pl_file *f;
	ssize_t ret;

	pl_ready();
	if (likely(kind == PL_FD_NONE)) {
		if (likely(!(flags & MSG_SOCK_DEVMEM)))
			return pl_real.recvmsg(fd, msg, flags);
		return pl_tcp_recvmsg(fd, msg, flags);
	}
	if (kind == PL_FD_TCP)
		return devmem_recvmsg(fd, msg, flags);
	f = pl_file_get(fd);
	if (!f || !f->ops->recvmsg)
		ret = pl_real.recvmsg(fd, msg, flags);
	else
		ret = f->ops->recvmsg(f, fd, msg, flags);
	pl_file_put(f);
	return ret;
}

/* recv, recvfrom, read, readv on an emulated fd: one recvmsg. */
static ssize_t pl_recv_slow(int fd, const struct iovec *iov, int iovcnt, int flags,
			    struct sockaddr *addr, socklen_t *addrlen)
{
	struct msghdr msg = {
		.msg_name = addr,
		.msg_namelen = addr && addrlen ? *addrlen : 0,
		.msg_iov = (struct iovec *)iov,
		.msg_iovlen = (size_t)iovcnt,
	};
	ssize_t ret = recvmsg(fd, &msg, flags);

	if (ret >= 0 && addr && addrlen)
		*addrlen = msg.msg_namelen;
	return ret;
}

PL_EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	struct iovec iov = { buf, len };

	pl_ready();
	if (likely(pl_fd_kind(fd) == PL_FD_NONE))
		return pl_real.recv(fd, buf, len, flags);
	return pl_recv_slow(fd, &iov, 1, flags, NULL, NULL);
}

PL_EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr,
			   socklen_t *addrlen)
{
	struct iovec iov = { buf, len };

	pl_ready();
	if (likely(pl_fd_kind(fd) == PL_FD_NONE))
		return pl_real.recvfrom(fd, buf, len, flags, addr, addrlen);
	return pl_recv_slow(fd, &iov, 1, flags, addr, addrlen);
}

PL_EXPORT ssize_t read(int fd, void *buf, size_t len)
{
	struct iovec iov = { buf, len };
	enum pl_kind kind = pl_fd_kind(fd);

	pl_ready();
	if (likely(kind != PL_FD_TCP && kind != PL_FD_NETLINK))
		return pl_real.read(fd, buf, len);
	return pl_recv_slow(fd, &iov, 1, 0, NULL, NULL);
}

PL_EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	enum pl_kind kind = pl_fd_kind(fd);

	pl_ready();
	if (likely(kind != PL_FD_TCP && kind != PL_FD_NETLINK))
		return pl_real.readv(fd, iov, iovcnt);
	if (iovcnt < 0 || iovcnt > IOV_MAX)
		return pl_fail(EINVAL);
	return pl_recv_slow(fd, iov, iovcnt, 0, NULL, NULL);
}

PL_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	enum pl_kind kind = pl_fd_kind(fd);
	struct pl_file *f;
	ssize_t ret;

	pl_ready();
	if (likely(kind == PL_FD_NONE || kind == PL_FD_TCP)) {
		if (likely(!pl_is_devmem_send(msg, flags)))
			return pl_real.sendmsg(fd, msg, flags);
		return devmem_sendmsg(fd, msg, flags);
	}
	f = pl_file_get(fd);
	if (!f || !f->ops->sendmsg)
		ret = pl_real.sendmsg(fd, msg, flags);
	else
		ret = f->ops->sendmsg(f, fd, msg, flags);
	pl_file_put(f);
	return ret;
}

/* send, sendto, write, writev on a file with its own sendmsg: one sendmsg. */
static ssize_t pl_send_slow(int fd, const struct iovec *iov, int iovcnt, int flags,
			    const struct sockaddr *addr, socklen_t addrlen)
{
	struct msghdr msg = {
		.msg_name = (void *)addr,
		.msg_namelen = addrlen,
		.msg_iov = (struct iovec *)iov,
		.msg_iovlen = (size_t)iovcnt,
	};

	return sendmsg(fd, &msg, flags);
}

static inline bool pl_sends_itself(int fd)
{
	enum pl_kind kind = pl_fd_kind(fd);

	return kind != PL_FD_NONE && kind != PL_FD_TCP;
}

PL_EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	struct iovec iov = { (void *)buf, len };

	pl_ready();
	if (likely(!pl_sends_itself(fd)))
		return pl_real.send(fd, buf, len, flags);
	return pl_send_slow(fd, &iov, 1, flags, NULL, 0);
}

PL_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
			 const struct sockaddr *addr, socklen_t addrlen)
{
	struct iovec iov = { (void *)buf, len };

	pl_ready();
	if (likely(!pl_sends_itself(fd)))
		return pl_real.sendto(fd, buf, len, flags, addr, addrlen);
	return pl_send_slow(fd, &iov, 1, flags, addr, addrlen);
}

PL_EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	struct iovec iov = { (void *)buf, len };

	pl_ready();
	if (likely(pl_fd_kind(fd) != PL_FD_NETLINK))
		return pl_real.write(fd, buf, len);
	return pl_send_slow(fd, &iov, 1, 0, NULL, 0);
}

PL_EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	pl_ready();
	if (likely(pl_fd_kind(fd) != PL_FD_NETLINK))
		return pl_real.writev(fd, iov, iovcnt);
	if (iovcnt < 0 || iovcnt > IOV_MAX)
		return pl_fail(EINVAL);
	return pl_send_slow(fd, iov, iovcnt, 0, NULL, 0);
}

PL_EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	enum pl_kind kind = pl_fd_kind(fd);
	struct pl_file *f;
	int ret;

	pl_ready();
	if (likely(kind == PL_FD_NONE || kind == PL_FD_TCP)) {
		if (likely(level != SOL_SOCKET || name != SO_DEVMEM_DONTNEED))
			return pl_real.setsockopt(fd, level, name, val, len);
		return devmem_setsockopt(fd, level, name, val, len);
	}
	f = pl_file_get(fd);
	if (!f || !f->ops->setsockopt)
		ret = pl_real.setsockopt(fd, level, name, val, len);
	else
		ret = f->ops->setsockopt(f, fd, level, name, val, len);
	pl_file_put(f);
	return ret;
}

PL_EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	struct pl_file *f;
	int ret;

	pl_ready();
	if (likely(!pl_sends_itself(fd)))
		return pl_real.getsockopt(fd, level, name, val, len);
	f = pl_file_get(fd);
	if (!f || !f->ops->getsockopt)
		ret = pl_real.getsockopt(fd, level, name, val, len);
	else
		ret = f->ops->getsockopt(f, fd, level, name, val, len);
	pl_file_put(f);
	return ret;
}

PL_EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct pl_file *f;
	int ret;

	pl_ready();
	if (likely(!pl_sends_itself(fd)))
		return pl_real.bind(fd, addr, len);
	f = pl_file_get(fd);
	if (!f || !f->ops->bind)
		ret = pl_real.bind(fd, addr, len);
	else
		ret = f->ops->bind(f, fd, addr, len);
	pl_file_put(f);
	return ret;
}

PL_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct pl_file *f;
	int ret;

	pl_ready();
	if (likely(!pl_sends_itself(fd))) {
		ret = pl_real.connect(fd, addr, len);
		if (!ret)
			pl_tcp_new(fd);
		return ret;
	}
	f = pl_file_get(fd);
	if (!f || !f->ops->connect)
		ret = pl_real.connect(fd, addr, len);
	else
		ret = f->ops->connect(f, fd, addr, len);
	pl_file_put(f);
	return ret;
}

PL_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	int nfd;

	pl_ready();
	nfd = pl_fd_fresh(pl_real.accept(fd, addr, len));
	if (nfd >= 0)
		pl_tcp_new(nfd);
	return nfd;
}

PL_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	int nfd;

	pl_ready();
	nfd = pl_fd_fresh(pl_real.accept4(fd, addr, len, flags));
	if (nfd >= 0)
		pl_tcp_new(nfd);
	return nfd;
}

/* ---- file descriptors ---- */

PL_EXPORT int close(int fd)
{
	enum pl_kind kind = pl_fd_kind(fd);
	int ret;

	pl_ready();
	if (likely(kind == PL_FD_NONE))
		return pl_real.close(fd);
	if (kind == PL_FD_TCP) {
		ret = devmem_close(fd);
		pl_fd_forget(fd);
		return ret;
	}
	ret = pl_real.close(fd);
	pl_fd_forget(fd); /* the last fd of a file releases it (a netlink socket's bindings) */
	return ret;
}

PL_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	int (*real)(unsigned int, unsigned int, int);
	int ret;

	pl_ready();
	real = (int (*)(unsigned int, unsigned int, int))dlsym(RTLD_NEXT, "close_range");
	if (!real)
		return pl_fail(ENOSYS);
	ret = real(first, last, flags);
	if (!ret && !(flags & CLOSE_RANGE_CLOEXEC))
		for (unsigned int fd = first; fd <= last && fd < PL_MAX_FDS; fd++)
			pl_fd_forget((int)fd);
	return ret;
}

PL_EXPORT int dup(int fd)
{
	int nfd;

	pl_ready();
	nfd = pl_real.dup(fd);
	if (nfd >= 0 && unlikely(pl_fd_kind(fd) != PL_FD_NONE || pl_fd_kind(nfd) != PL_FD_NONE))
		pl_fd_dup(fd, nfd);
	return nfd;
}

/* dup2/dup3 close @newfd first, as the kernel does: a devmem socket there lets go of its queue. */
static void pl_dup_target(int oldfd, int newfd)
{
	if (oldfd != newfd && pl_fd_kind(newfd) == PL_FD_TCP)
		devmem_close(newfd);
}

PL_EXPORT int dup2(int oldfd, int newfd)
{
	int ret;

	pl_ready();
	if (likely(pl_fd_kind(oldfd) == PL_FD_NONE && pl_fd_kind(newfd) == PL_FD_NONE))
		return pl_real.dup2(oldfd, newfd);
	if (fcntl(oldfd, F_GETFD) < 0)
		return -1; /* EBADF, and newfd untouched */
	pl_dup_target(oldfd, newfd);
	ret = pl_real.dup2(oldfd, newfd);
	if (ret >= 0 && oldfd != newfd)
		pl_fd_dup(oldfd, newfd);
	return ret;
}

PL_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	int ret;

	pl_ready();
	if (likely(pl_fd_kind(oldfd) == PL_FD_NONE && pl_fd_kind(newfd) == PL_FD_NONE))
		return pl_real.dup3(oldfd, newfd, flags);
	if (oldfd == newfd || fcntl(oldfd, F_GETFD) < 0)
		return pl_real.dup3(oldfd, newfd, flags); /* the kernel's EINVAL or EBADF */
	pl_dup_target(oldfd, newfd);
	ret = pl_real.dup3(oldfd, newfd, flags);
	if (ret >= 0)
		pl_fd_dup(oldfd, newfd);
	return ret;
}

static int pl_fcntl(int fd, int cmd, void *arg)
{
	int ret = pl_real.fcntl(fd, cmd, arg);

	if (ret >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) &&
	    unlikely(pl_fd_kind(fd) != PL_FD_NONE || pl_fd_kind(ret) != PL_FD_NONE))
		pl_fd_dup(fd, ret);
	return ret;
}

PL_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	pl_ready();
	return pl_fcntl(fd, cmd, arg);
}

PL_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	pl_ready();
	return pl_fcntl(fd, cmd, arg);
}

/* ---- open: the devices the shim answers, and their fdinfo ---- */

static inline bool pl_path_is_ours(const char *path)
{
	/* one compare for every other path */
	return path && path[0] == '/' &&
	       ((path[1] == 'd' && !strncmp(path, "/dev/", 5)) ||
		(path[1] == 'p' && !strncmp(path, "/proc/", 6)));
}

static int pl_open_ours(const char *path, int flags)
{
	int fd = pl_dev_open(path, flags);

	if (fd == -2)
		fd = pl_fdinfo_open(path, flags);
	return fd;
}

static int pl_open(const char *path, int flags, mode_t mode)
{
	int fd;

	pl_ready();
	if (unlikely(pl_path_is_ours(path))) {
		fd = pl_open_ours(path, flags);
		if (fd != -2)
			return fd;
	}
	return pl_fd_fresh(pl_real.open(path, flags, mode));
}

static int pl_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	int fd;

	pl_ready();
	if (unlikely(pl_path_is_ours(path))) {
		fd = pl_open_ours(path, flags);
		if (fd != -2)
			return fd;
	}
	return pl_fd_fresh(pl_real.openat(dirfd, path, flags, mode));
}

static mode_t pl_mode_arg(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, mode_t) : 0;
}

PL_EXPORT int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = pl_mode_arg(flags, ap);
	va_end(ap);
	return pl_open(path, flags, mode);
}

PL_EXPORT int open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = pl_mode_arg(flags, ap);
	va_end(ap);
	return pl_open(path, flags | O_LARGEFILE, mode);
}

PL_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = pl_mode_arg(flags, ap);
	va_end(ap);
	return pl_openat(dirfd, path, flags, mode);
}

PL_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = pl_mode_arg(flags, ap);
	va_end(ap);
	return pl_openat(dirfd, path, flags | O_LARGEFILE, mode);
}

/* _FORTIFY_SOURCE's entry points for open without a mode */
PL_EXPORT int __open_2(const char *path, int flags)
{
	return pl_open(path, flags, 0);
}

PL_EXPORT int __open64_2(const char *path, int flags)
{
	return pl_open(path, flags | O_LARGEFILE, 0);
}

PL_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	return pl_openat(dirfd, path, flags, 0);
}

PL_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	return pl_openat(dirfd, path, flags | O_LARGEFILE, 0);
}

static int pl_fopen_flags(const char *mode)
{
	int flags = mode[0] == 'r' ? O_RDONLY : O_WRONLY;

	if (strchr(mode, '+'))
		flags = O_RDWR;
	if (strchr(mode, 'e'))
		flags |= O_CLOEXEC;
	return flags;
}

static FILE *pl_fopen(const char *path, const char *mode)
{
	FILE *fp;
	int fd;

	pl_ready();
	if (unlikely(pl_path_is_ours(path) && mode && mode[0] == 'r')) {
		fd = pl_open_ours(path, pl_fopen_flags(mode));
		if (fd == -1)
			return NULL;
		if (fd >= 0) {
			fp = fdopen(fd, mode);
			if (!fp) {
				int saved = errno;

				close(fd);
				errno = saved;
			}
			return fp;
		}
	}
	fp = pl_real.fopen(path, mode);
	if (fp)
		pl_fd_fresh(fileno(fp));
	return fp;
}

PL_EXPORT FILE *fopen(const char *path, const char *mode)
{
	return pl_fopen(path, mode);
}

PL_EXPORT FILE *fopen64(const char *path, const char *mode)
{
	return pl_fopen(path, mode);
}

/* ---- ioctl and mmap ---- */

PL_EXPORT int ioctl(int fd, unsigned long req, ...)
{
	enum pl_kind kind = pl_fd_kind(fd);
	struct pl_file *f;
	va_list ap;
	void *arg;
	int ret;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	pl_ready();
	if (unlikely(req == SIOCETHTOOL)) {
		ret = pl_ethtool_ioctl(fd, arg);
		if (ret != -2)
			return ret;
	}
	if (likely(kind == PL_FD_NONE || kind == PL_FD_TCP))
		return pl_real.ioctl(fd, req, arg);
	f = pl_file_get(fd);
	if (!f || !f->ops->ioctl)
		ret = pl_real.ioctl(fd, req, arg);
	else
		ret = f->ops->ioctl(f, fd, req, arg);
	pl_file_put(f);
	return ret;
}

static void *pl_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	enum pl_kind kind = pl_fd_kind(fd);
	struct pl_file *f;
	void *ret;

	pl_ready();
	if (likely(kind == PL_FD_NONE || kind == PL_FD_TCP || (flags & MAP_ANONYMOUS)))
		return pl_real.mmap(addr, len, prot, flags, fd, off);
	f = pl_file_get(fd);
	if (!f || !f->ops->mmap)
		ret = pl_real.mmap(addr, len, prot, flags, fd, off);
	else
		ret = f->ops->mmap(f, fd, addr, len, prot, flags, off);
	pl_file_put(f);
	return ret;
}

PL_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return pl_mmap(addr, len, prot, flags, fd, off);
}

PL_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return pl_mmap(addr, len, prot, flags, fd, off);
}

/* ---- children ---- */

static int pl_found_nic(struct net_device *dev, void *data)
{
	(void)dev;
	(void)data;
	return 1;
}

/*
 * A child that execs starts clean: the shim's state lives in memory only.
 * Before the process starts one, the ethtool server (which the child's
 * `ethtool` stand-in talks to) must be listening. system(), popen() and
 * posix_spawn() start it always: they run commands. A bare fork() starts it
 * in the program `devmem run` started (a shell script's shell among them)
 * and in a process that has a software NIC to answer for; any other process
 * that forks before it touches the network (a test runner under
 * LD_PRELOAD) stays single-threaded, as it was written to be.
 */
static bool pl_run_top; /* this process is the one devmem run exec'd */

static void pl_before_fork(void)
{
	if (pl_run_top || netdev_for_each(pl_found_nic, NULL))
		pl_ethtool_server_start();
}

PL_EXPORT pid_t fork(void)
{
	pl_ready();
	pl_before_fork();
	return pl_real.fork();
}

/*
 * A shell (dash) starts simple commands with vfork(); a function that calls
 * vfork() cannot return into the child. vfork() may be fork(), as POSIX
 * allows.
 */
PL_EXPORT pid_t vfork(void)
{
	pl_ready();
	pl_before_fork();
	return pl_real.fork();
}

PL_EXPORT int system(const char *cmd)
{
	static int (*real)(const char *);

	pl_ready();
	if (!real)
		real = (int (*)(const char *))pl_next("system");
	pl_ethtool_server_start();
	if (cmd)
		pl_trace("system(\"%s\")", cmd);
	return real(cmd);
}

PL_EXPORT FILE *popen(const char *cmd, const char *type)
{
	static FILE *(*real)(const char *, const char *);

	pl_ready();
	if (!real)
		real = (FILE * (*)(const char *, const char *)) pl_next("popen");
	pl_ethtool_server_start();
	if (cmd)
		pl_trace("popen(\"%s\")", cmd);
	return real(cmd, type);
}

typedef int (*pl_spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
			   const posix_spawnattr_t *, char *const[], char *const[]);

PL_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			  const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	static pl_spawn_fn real;

	pl_ready();
	if (!real)
		real = (pl_spawn_fn)pl_next("posix_spawn");
	pl_ethtool_server_start();
	return real(pid, path, fa, attr, argv, envp);
}

PL_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			   const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	static pl_spawn_fn real;

	pl_ready();
	if (!real)
		real = (pl_spawn_fn)pl_next("posix_spawnp");
	pl_ethtool_server_start();
	return real(pid, file, fa, attr, argv, envp);
}

/* ---- letting go ---- */

__attribute__((weak)) void pl_netlink_release_all(void)
{
}
__attribute__((weak)) void pl_ethtool_release_all(void)
{
}

#define PL_MAX_NICS 64

static int pl_collect_ifindex(struct net_device *dev, void *data)
{
	int *list = data;

	if (list[0] < PL_MAX_NICS)
		list[1 + list[0]++] = dev->ifindex;
	return 0;
}

/*
 * Let go of everything the shim holds for the process itself: the areas'
 * own sockets and servers, the control handle, the software NICs (their
 * threads and queues). What the program still holds (its emulated fds)
 * stays. The test harness calls this before it counts the fds a test left
 * open; a program never needs to.
 */
PL_EXPORT void devmem_preload_release_all(void)
{
	int list[1 + PL_MAX_NICS] = { 0 };

	pl_netlink_release_all();
	pl_ethtool_release_all();
	pthread_mutex_lock(&pl_ctl_lock);
	if (pl_ctl_handle)
		devmem_ctl_close(pl_ctl_handle);
	pl_ctl_handle = NULL;
	pthread_mutex_unlock(&pl_ctl_lock);
	netdev_for_each(pl_collect_ifindex, list);
	for (int i = 0; i < list[0]; i++)
		devmem_swnic_destroy(list[1 + i]); /* -ENODEV for what is not a software NIC */
}

/* ---- start ---- */

static bool pl_env_on(const char *name)
{
	const char *v = getenv(name);

	return v && *v && strcmp(v, "0") != 0;
}

__attribute__((constructor)) static void pl_init(void)
{
	const char *ifaces = getenv("DEVMEM_RUN_IFACES");
	const char *top = getenv("DEVMEM_RUN_PID");

	pl_ready();
	pthread_atfork(NULL, NULL, pl_pid_reset);
	pl_run_top = top && strtol(top, NULL, 10) == (long)getpid();
	pl_tracing = pl_env_on("DEVMEM_RUN_TRACE");
	pl_debugging = pl_env_on("DEVMEM_DEBUG");
	if (ifaces && *ifaces)
		pl_parse_ifaces(ifaces);
	/*
	 * A kernel NIC's rx queue has one memory provider for every process:
	 * the software NICs the shim makes claim theirs machine-wide, unless
	 * DEVMEM_SWNIC_SHARED says otherwise (the library reads it then).
	 */
	if (!getenv("DEVMEM_SWNIC_SHARED"))
		devmem_swnic_set_shared(true, NULL);
	pl_ethtool_init();
}
