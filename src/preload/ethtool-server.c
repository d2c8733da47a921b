// SPDX-License-Identifier: MIT
/*
 * ethtool command lines the program runs (system(), popen(), posix_spawn
 * of a shell, with or without sudo) are carried out on the program's own
 * software NIC.
 *
 * pl_ethtool_init() puts the directory of the `ethtool` and `sudo`
 * stand-ins (tools/preload/) first in PATH, so the shell, xargs and every
 * other child find them. The stand-in ethtool cannot change the NIC
 * itself: the NIC lives in the process that owns it. So that process
 * listens, before it starts any child, on an abstract unix socket named
 * after its pid; the stand-in walks up its parent pids to the first one
 * that answers and sends it each ethtool command struct, which this server
 * runs through pl_ethtool_ioctl() (the same emulation SIOCETHTOOL gets) and
 * sends back with the result.
 *
 * Only a process of the same user may ask (SO_PEERCRED), as only it could
 * have run the ioctl itself.
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdint.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "devmem/error.h"
#include "lib/error.h"
#include "net/netdev.h"
#include "preload/ethtool-priv.h"
#include "preload/preload.h"

#ifndef PL_TOOLDIR
#define PL_TOOLDIR "/usr/local/libexec/libdevmem/bin"
#endif

/*
 * Where the stand-ins are: DEVMEM_RUN_TOOLDIR (the build tree's, for the
 * tests and `devmem run` from a build), else where they were installed.
 */
static const char *pl_tooldir(void)
{
	const char *dir = getenv("DEVMEM_RUN_TOOLDIR");

	return dir && dir[0] ? dir : PL_TOOLDIR;
}

void pl_ethtool_init(void)
{
	const char *dir = pl_tooldir(), *path = getenv("PATH");
	size_t dlen = strlen(dir);
	char probe[PATH_MAX], *newpath;

	if (snprintf(probe, sizeof(probe), "%s/ethtool", dir) >= (int)sizeof(probe) ||
	    access(probe, X_OK)) {
		pl_debug("ethtool: no stand-ins in %s: ethtool command lines run as they are", dir);
		return;
	}
	/* already first (a child of a process under the shim) */
	if (path && !strncmp(path, dir, dlen) && (path[dlen] == ':' || !path[dlen]))
		return;
	if (!path || !path[0])
		path = "/usr/local/bin:/usr/bin:/bin";
	newpath = malloc(dlen + 1 + strlen(path) + 1);
	if (!newpath)
		return;
	sprintf(newpath, "%s:%s", dir, path);
	setenv("PATH", newpath, 1);
	free(newpath);
}

static pthread_mutex_t pl_server_lock = PTHREAD_MUTEX_INITIALIZER;
/*
 * The process whose server runs (a forked child starts its own), its
 * listening socket and thread; protected by pl_server_lock.
 */
static pid_t pl_server_pid;
static int pl_server_fd = -1;
static pthread_t pl_server_thread;
/*
 * The thread says when it waits in accept(), holding nothing: a fork right
 * after the start must not copy a lock its start-up held (the allocator's,
 * a sanitizer's) into a child that would wait for it forever.
 */
static pthread_cond_t pl_server_ready = PTHREAD_COND_INITIALIZER;
static bool pl_server_running; /* protected by pl_server_lock */

static int pl_full_read(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = pl_real.read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int pl_full_write(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = pl_real.write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int pl_count_dev(struct net_device *dev, void *data)
{
	(void)dev;
	return ++*(int *)data > 0;
}

/* Whether this process has a software NIC, so it is the one the program's ethtool means. */
static bool pl_has_nic(void)
{
	int n = 0;

	netdev_for_each(pl_count_dev, &n);
	return n > 0;
}

/* One request on @fd: run it, answer it. */
static void pl_ethtool_serve(int fd)
{
	struct pl_ethtool_msg msg;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct ifreq ifr;
	char *data;
	int ret;

	if (pl_real.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) ||
	    (cred.uid != geteuid() && cred.uid != 0))
		return;
	if (pl_full_read(fd, &msg, sizeof(msg)) || msg.magic != PL_ETHTOOL_MAGIC ||
	    (msg.len && msg.len < sizeof(uint32_t)) || msg.len > PL_ETHTOOL_MAX_LEN)
		return;
	msg.flags = pl_has_nic() ? PL_ETHTOOL_F_HAS_NIC : 0;
	msg.ret = 0;
	msg.msg[0] = 0;
	if (!msg.len) {
		pl_debug("ethtool server %d: asked whether it has a software NIC: %s", getpid(),
			 msg.flags & PL_ETHTOOL_F_HAS_NIC ? "yes" : "no");
		pl_full_write(fd, &msg, sizeof(msg));
		return;
	}
	/* room past the struct: a command never reads beyond what its caller sent */
	data = calloc(1, PL_ETHTOOL_MAX_LEN + 4096);
	if (!data)
		return;
	if (pl_full_read(fd, data, msg.len))
		goto out;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, msg.ifname, IFNAMSIZ);
	ifr.ifr_name[IFNAMSIZ - 1] = 0;
	ifr.ifr_data = data;
	devmem_clear_error();
	ret = pl_ethtool_ioctl(-1, &ifr);
	if (ret == -2)
		msg.flags |= PL_ETHTOOL_F_NOT_OURS;
	else
		msg.ret = ret == -1 ? -errno : ret;
	snprintf(msg.msg, sizeof(msg.msg), "%s", ret == -1 ? devmem_last_error() : "");
	if (pl_full_write(fd, &msg, sizeof(msg)) == 0)
		pl_full_write(fd, data, msg.len);
out:
	free(data);
}

static void *pl_ethtool_server(void *arg)
{
	int lfd = (int)(intptr_t)arg;

	pthread_mutex_lock(&pl_server_lock);
	pl_server_running = true;
	pthread_cond_signal(&pl_server_ready);
	pthread_mutex_unlock(&pl_server_lock);
	for (;;) {
		int fd = pl_real.accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			/* EINVAL: pl_ethtool_release_all() shut the socket down */
			return NULL;
		}
		pl_ethtool_serve(fd);
		pl_real.close(fd);
	}
	return NULL;
}

void pl_ethtool_server_start(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	socklen_t alen;
	pid_t pid = getpid();
	int fd, n;

	pthread_mutex_lock(&pl_server_lock);
	if (pl_server_pid == pid)
		goto out;
	/* a forked child has its parent's flag, not its thread */
	pl_server_running = false;
	n = snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, PL_ETHTOOL_SOCK_FMT, pid);
	alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	fd = pl_real.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto out;
	if (pl_real.bind(fd, (struct sockaddr *)&addr, alen) || listen(fd, 16)) {
		pl_debug("ethtool server: %s", strerror(errno));
		pl_real.close(fd);
		goto out;
	}
	if (pthread_create(&pl_server_thread, NULL, pl_ethtool_server, (void *)(intptr_t)fd)) {
		pl_real.close(fd);
		goto out;
	}
	pthread_setname_np(pl_server_thread, "devmem-ethtool");
	pl_server_fd = fd;
	pl_server_pid = pid;
	while (!pl_server_running)
		pthread_cond_wait(&pl_server_ready, &pl_server_lock);
out:
	pthread_mutex_unlock(&pl_server_lock);
}

void pl_ethtool_release_all(void)
{
	pthread_mutex_lock(&pl_server_lock);
	/* a forked child has its parent's socket number but not its thread */
	if (pl_server_pid == getpid() && pl_server_fd >= 0) {
		shutdown(pl_server_fd, SHUT_RDWR);
		pthread_join(pl_server_thread, NULL);
		pl_real.close(pl_server_fd);
		pl_server_fd = -1;
		pl_server_pid = 0;
		pl_server_running = false;
	}
	pthread_mutex_unlock(&pl_server_lock);
}
