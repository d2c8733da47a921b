/* SPDX-License-Identifier: MIT */
/*
 * The receive that bench_shim times twice: once in a program written to the
 * kernel's interfaces (bench_shim_uapi, under devmem run), once through the
 * library's API (bench_shim). The includer defines RX_RECVMSG and
 * RX_SETSOCKOPT (recvmsg/setsockopt, or devmem_recvmsg/devmem_setsockopt)
 * and sets up the binding; everything timed is here, identical for both.
 *
 * The sender is a child forked before either side touches the network,
 * doing plain send() of 256 KiB until the byte count, then closing.
 */
#ifndef DEVMEM_BENCH_SHIM_RX_H
#define DEVMEM_BENCH_SHIM_RX_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <devmem/uapi.h>

#define SHIM_RX_DMABUF_SIZE (64UL << 20)
#define SHIM_RX_QUEUE 1
#define SHIM_RX_SEND_CHUNK (256U << 10)
#define SHIM_RX_MAX_CMSGS 128

static void shim_rx_die(const char *what)
{
	fprintf(stderr, "shim_rx: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* The sender: waits for a byte on @ready, then sends @total bytes to @port. */
static pid_t shim_rx_fork_sender(uint16_t port, uint64_t total, int *ready_wr)
{
	int ready[2];
	pid_t pid;

	if (pipe(ready))
		shim_rx_die("pipe");
	pid = fork();
	if (pid < 0)
		shim_rx_die("fork");
	if (pid == 0) {
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_port = htons(port),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		static char chunk[SHIM_RX_SEND_CHUNK];
		uint64_t sent = 0;
		char go;
		int fd;

		close(ready[1]);
		if (read(ready[0], &go, 1) != 1)
			_exit(1);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
			_exit(1);
		memset(chunk, 0x5a, sizeof(chunk));
		while (sent < total) {
			size_t len = total - sent < sizeof(chunk) ? total - sent : sizeof(chunk);
			ssize_t n = send(fd, chunk, len, 0);

			if (n <= 0)
				_exit(1);
			sent += (uint64_t)n;
		}
		close(fd);
		_exit(0);
	}
	close(ready[0]);
	*ready_wr = ready[1];
	return pid;
}

static int shim_rx_listen(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		shim_rx_die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 1))
		shim_rx_die("listen");
	return fd;
}

static double shim_rx_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static double shim_rx_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Read the flow on @fd to its end: every fragment must be in binding @id;
 * each call's tokens go back in one SO_DEVMEM_DONTNEED. Prints
 * "bytes=N secs=S cpu=C" (wall and process CPU from the first byte's call).
 */
static void shim_rx_run(int fd, uint32_t id, uint64_t total)
{
	static char control[CMSG_SPACE(sizeof(struct dmabuf_cmsg)) * SHIM_RX_MAX_CMSGS];
	struct dmabuf_token tokens[SHIM_RX_MAX_CMSGS];
	double t0 = shim_rx_now(), c0 = shim_rx_cpu();
	uint64_t got = 0;

	for (;;) {
		/* the iovec's length bounds a call's bytes, as the kernel's len does */
		static char linear[SHIM_RX_MAX_CMSGS * 65536];
		struct iovec iov = { linear, sizeof(linear) };
		struct msghdr msg = { .msg_iov = &iov,
				      .msg_iovlen = 1,
				      .msg_control = control,
				      .msg_controllen = sizeof(control) };
		unsigned int ntok = 0;
		struct cmsghdr *cm;
		ssize_t n = RX_RECVMSG(fd, &msg, MSG_SOCK_DEVMEM);

		if (n == 0)
			break;
		if (n < 0)
			shim_rx_die("recvmsg(MSG_SOCK_DEVMEM)");
		for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			struct dmabuf_cmsg *dc = (struct dmabuf_cmsg *)CMSG_DATA(cm);

			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_DEVMEM_DMABUF)
				continue;
			if (dc->dmabuf_id != id) {
				errno = EPROTO;
				shim_rx_die("a fragment outside the binding");
			}
			got += dc->frag_size;
			/* consecutive tokens coalesce into one range */
			if (ntok && tokens[ntok - 1].token_start + tokens[ntok - 1].token_count ==
					    dc->frag_token)
				tokens[ntok - 1].token_count++;
			else
				tokens[ntok++] = (struct dmabuf_token){ dc->frag_token, 1 };
		}
		if (!ntok) {
			errno = EPROTO;
			shim_rx_die("data outside the dma-buf");
		}
		if (RX_SETSOCKOPT(fd, SOL_SOCKET, SO_DEVMEM_DONTNEED, tokens,
				  (socklen_t)(ntok * sizeof(tokens[0]))) < 0)
			shim_rx_die("SO_DEVMEM_DONTNEED");
	}
	if (got != total) {
		fprintf(stderr, "shim_rx: %llu of %llu bytes\n", (unsigned long long)got,
			(unsigned long long)total);
		exit(1);
	}
	printf("bytes=%llu secs=%.6f cpu=%.6f\n", (unsigned long long)got, shim_rx_now() - t0,
	       shim_rx_cpu() - c0);
}

/* The sender's exit. */
static void shim_rx_reap(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "shim_rx: the sender failed\n");
		exit(1);
	}
}

#endif
