// SPDX-License-Identifier: MIT
/*
 * The shim's core, seen by a program written to the kernel's UAPI only:
 * TCP sockets read through the software NIC once they take devmem reads,
 * everything else exactly the system call.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devmem/uapi.h"

#include "../harness.h"

/* A connected loopback TCP pair: *@srv accepted, *@cli connected. */
static void tcp_pair(int *srv, int *cli)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(l, 0);
	cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(l, 1), 0);
	cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &alen), 0);
	*cli = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(*cli, 0);
	cr_assert_eq(connect(*cli, (struct sockaddr *)&a, sizeof(a)), 0);
	*srv = accept(l, NULL, NULL);
	cr_assert_geq(*srv, 0);
	close(l);
}

static void write_all(int fd, const void *buf, size_t len)
{
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
}

/* Read exactly @len bytes with read(). */
static void read_exactly(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		cr_assert_gt(n, 0, "read: %zd (%s)", n, strerror(errno));
		got += (size_t)n;
	}
}

Test(pl_core, sockets_without_devmem_reads_are_the_system_calls)
{
	char buf[16] = { 0 };
	int s, c;

	tcp_pair(&s, &c);
	write_all(c, "hello", 5);
	read_exactly(s, buf, 5);
	cr_assert_str_eq(buf, "hello");
	cr_assert_eq(send(s, "back", 4, 0), 4);
	cr_assert_eq(recv(c, buf, sizeof(buf), 0), 4);
	cr_assert_eq(memcmp(buf, "back", 4), 0);
	close(s);
	close(c);
}

/*
 * tcp_recvmsg_locked: data not in a dma-buf is copied to the iovec, with
 * MSG_SOCK_DEVMEM as without, and gives no devmem cmsg.
 */
Test(pl_core, devmem_read_of_host_memory_data_is_plain_data_with_no_cmsg)
{
	char buf[64] = { 0 }, ctrl[CMSG_SPACE(sizeof(struct dmabuf_cmsg)) * 4];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = ctrl,
			      .msg_controllen = sizeof(ctrl) };
	int s, c;
	ssize_t n;

	tcp_pair(&s, &c);
	write_all(c, "0123456789", 10);
	n = recvmsg(s, &msg, MSG_SOCK_DEVMEM);
	cr_assert_gt(n, 0, "recvmsg: %s", strerror(errno));
	cr_assert_eq(memcmp(buf, "0123456789", (size_t)n), 0);
	cr_assert_eq(msg.msg_controllen, 0, "no devmem cmsg for host memory data");
	if (n < 10)
		read_exactly(s, buf + n, (size_t)(10 - n));
	/* the rest of the stream, read plainly after devmem reads, in order */
	write_all(c, "abcdef", 6);
	memset(buf, 0, sizeof(buf));
	read_exactly(s, buf, 6);
	cr_assert_str_eq(buf, "abcdef");
	close(s);
	close(c);
}

Test(pl_core, dup_of_a_devmem_read_socket_reads_the_same_stream)
{
	char buf[16] = { 0 };
	struct iovec iov = { buf, 3 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	int s, c, d;

	tcp_pair(&s, &c);
	write_all(c, "abcdef", 6);
	cr_assert_eq(recvmsg(s, &msg, MSG_SOCK_DEVMEM | MSG_WAITALL), 3);
	d = dup(s);
	cr_assert_geq(d, 0);
	close(s);
	read_exactly(d, buf, 3);
	cr_assert_eq(memcmp(buf, "def", 3), 0);
	/* the peer still sees the connection open: the dup holds it */
	write_all(c, "g", 1);
	read_exactly(d, buf, 1);
	cr_assert_eq(buf[0], 'g');
	close(d);
	close(c);
}

/* sock_setsockopt: SO_DEVMEM_DONTNEED on a socket that is not TCP is EBADF. */
Test(pl_core, dontneed_on_a_udp_socket_is_ebadf)
{
	struct dmabuf_token tok = { .token_start = 1, .token_count = 1 };
	int u = socket(AF_INET, SOCK_DGRAM, 0);

	cr_assert_geq(u, 0);
	errno = 0;
	cr_assert_eq(setsockopt(u, SOL_SOCKET, SO_DEVMEM_DONTNEED, &tok, sizeof(tok)), -1);
	cr_assert_eq(errno, EBADF);
	close(u);
}

/* sock_devmem_dontneed: a TCP socket holding no fragment frees none. */
Test(pl_core, dontneed_on_a_tcp_socket_holding_nothing_frees_nothing)
{
	struct dmabuf_token tok = { .token_start = 1, .token_count = 4 };
	int s, c;

	tcp_pair(&s, &c);
	cr_assert_eq(setsockopt(s, SOL_SOCKET, SO_DEVMEM_DONTNEED, &tok, sizeof(tok)), 0);
	close(s);
	close(c);
}

/* tcp_sendmsg_locked: a dma-buf id that names no binding is EINVAL. */
Test(pl_core, devmem_send_naming_no_binding_is_einval)
{
	char cbuf[CMSG_SPACE(sizeof(__u32))] = { 0 };
	struct iovec iov = { (void *)0, 4 };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	int one = 1, s, c;
	__u32 id = 4242;

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_DEVMEM_DMABUF;
	cm->cmsg_len = CMSG_LEN(sizeof(id));
	memcpy(CMSG_DATA(cm), &id, sizeof(id));
	tcp_pair(&s, &c);
	cr_assert_eq(setsockopt(c, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)), 0);
	errno = 0;
	cr_assert_eq(sendmsg(c, &msg, MSG_ZEROCOPY), -1);
	cr_assert_eq(errno, EINVAL);
	close(s);
	close(c);
}

/* A msghdr the process cannot read is EFAULT from the kernel, never a crash. */
Test(pl_core, zerocopy_send_of_an_unreadable_msghdr_is_efault)
{
	int s, c;

	tcp_pair(&s, &c);
	errno = 0;
	cr_assert_eq(sendmsg(c, (const struct msghdr *)8, MSG_ZEROCOPY), -1);
	cr_assert_eq(errno, EFAULT);
	close(s);
	close(c);
}

/* An fd number that a closed devmem socket had and a pipe now has is the pipe's. */
Test(pl_core, fd_number_reused_after_close_is_the_new_files)
{
	char buf[8] = { 0 };
	struct iovec iov = { buf, 2 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	int s, c, p[2];

	tcp_pair(&s, &c);
	write_all(c, "xy", 2);
	cr_assert_eq(recvmsg(s, &msg, MSG_SOCK_DEVMEM | MSG_WAITALL), 2);
	close(s);
	cr_assert_eq(pipe(p), 0);
	if (p[0] != s && p[1] != s) {
		close(p[0]);
		close(p[1]);
		cr_skip_test("the kernel gave the pipe other fd numbers");
	}
	write_all(p[1], "pq", 2);
	read_exactly(p[0], buf, 2);
	cr_assert_eq(memcmp(buf, "pq", 2), 0);
	close(p[0]);
	close(p[1]);
	close(c);
}

/* dup2 onto a devmem socket's fd closes that socket first, as the kernel does. */
Test(pl_core, dup2_over_a_devmem_socket_closes_it)
{
	char buf[4];
	struct iovec iov = { buf, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	int s, c, devnull = open("/dev/null", O_RDONLY);

	cr_assert_geq(devnull, 0);
	tcp_pair(&s, &c);
	write_all(c, "z", 1);
	cr_assert_eq(recvmsg(s, &msg, MSG_SOCK_DEVMEM), 1);
	cr_assert_eq(dup2(devnull, s), s);
	/* the peer sees the end of the stream: the socket was closed */
	cr_assert_eq(read(c, buf, 1), 0);
	/* and the fd is /dev/null now */
	cr_assert_eq(read(s, buf, 1), 0);
	close(s);
	close(devnull);
	close(c);
}

/*
 * The shim reads a MSG_ZEROCOPY send's msghdr from the caller's own memory:
 * in a forked child that is the child's, not the parent's it was forked from.
 */
Test(pl_core, a_forked_childs_zerocopy_send_reads_the_childs_msghdr)
{
	struct page {
		struct msghdr msg;
		struct iovec iov;
		char cbuf[CMSG_SPACE(sizeof(__u32))];
		char data[4];
	} *pg = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct cmsghdr *cm;
	__u32 id = 4242;
	int s, c, status;
	pid_t pid;
	char got[4];

	cr_assert_neq(pg, MAP_FAILED);
	tcp_pair(&s, &c);
	/* the parent's copy: a devmem send naming no binding (EINVAL), which primes the shim */
	memcpy(pg->data, "kids", 4);
	pg->iov = (struct iovec){ pg->data, 4 };
	pg->msg = (struct msghdr){ .msg_iov = &pg->iov,
				   .msg_iovlen = 1,
				   .msg_control = pg->cbuf,
				   .msg_controllen = sizeof(pg->cbuf) };
	cm = CMSG_FIRSTHDR(&pg->msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_DEVMEM_DMABUF;
	cm->cmsg_len = CMSG_LEN(sizeof(id));
	memcpy(CMSG_DATA(cm), &id, sizeof(id));
	cr_assert_eq(sendmsg(c, &pg->msg, MSG_ZEROCOPY), -1);
	cr_assert_eq(errno, EINVAL);

	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* the child's copy: a plain send (no SO_ZEROCOPY: the kernel copies) */
		pg->msg.msg_control = NULL;
		pg->msg.msg_controllen = 0;
		_exit(sendmsg(c, &pg->msg, MSG_ZEROCOPY) == 4 ? 0 : 1);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child's send failed");
	read_exactly(s, got, 4);
	cr_assert_eq(memcmp(got, "kids", 4), 0);
	munmap(pg, 4096);
	close(s);
	close(c);
}
