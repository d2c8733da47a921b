// SPDX-License-Identifier: MIT
/*
 * devmem_last_error() after a socket call: the line belongs to the call that
 * failed. The socket calls stand for system calls, which fail with errno
 * alone (net/socket.c: EBADF for an fd that is not open, ENOTSOCK for one
 * that is not a socket); a reason left by an older call must not be read as
 * theirs.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devmem/error.h"
#include "devmem/socket.h"
#include "devmem/uapi.h"
#include "harness.h"

/* Leave a reason behind: devmem_sock_stats() on an fd that is no devmem socket. */
static void leave_old_reason(void)
{
	struct devmem_sock_stats st;

	cr_assert_eq(devmem_sock_stats(-1, &st), -EBADF);
	cr_assert_not_null(strstr(devmem_last_error(), "fd -1"), "no reason to go stale: '%s'",
			   devmem_last_error());
}

/* An fd number that is not open (the lowest free one, closed again). */
static int closed_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	cr_assert_geq(fd, 0);
	close(fd);
	return fd;
}

Test(error, dontneed_on_closed_fd_reports_no_older_reason)
{
	struct dmabuf_token tok = { .token_start = 1, .token_count = 1 };
	int fd = closed_fd();

	leave_old_reason();
	cr_assert_eq(devmem_setsockopt(fd, SOL_SOCKET, SO_DEVMEM_DONTNEED, &tok, sizeof(tok)), -1);
	cr_assert_eq(errno, EBADF);
	cr_assert_str_empty(devmem_last_error(), "stale reason '%s' after EBADF",
			    devmem_last_error());
}

Test(error, dontneed_on_a_pipe_reports_no_older_reason)
{
	struct dmabuf_token tok = { .token_start = 1, .token_count = 1 };
	int p[2];

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	leave_old_reason();
	cr_assert_eq(devmem_setsockopt(p[0], SOL_SOCKET, SO_DEVMEM_DONTNEED, &tok, sizeof(tok)),
		     -1);
	cr_assert_eq(errno, ENOTSOCK);
	cr_assert_str_empty(devmem_last_error(), "stale reason '%s' after ENOTSOCK",
			    devmem_last_error());
	close(p[0]);
	close(p[1]);
}

Test(error, plain_sendmsg_failure_reports_no_older_reason)
{
	char byte = 0;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	int fd = closed_fd();

	leave_old_reason();
	cr_assert_eq(devmem_sendmsg(fd, &m, 0), -1);
	cr_assert_eq(errno, EBADF);
	cr_assert_str_empty(devmem_last_error(), "stale reason '%s' after EBADF",
			    devmem_last_error());
}

Test(error, close_of_closed_fd_reports_no_older_reason)
{
	int fd = closed_fd();

	leave_old_reason();
	cr_assert_eq(devmem_close(fd), -1);
	cr_assert_eq(errno, EBADF);
	cr_assert_str_empty(devmem_last_error(), "stale reason '%s' after EBADF",
			    devmem_last_error());
}

Test(error, recvmsg_on_a_pipe_gives_its_own_reason)
{
	char buf[16];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	int p[2];

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	leave_old_reason();
	cr_assert_eq(devmem_recvmsg(p[0], &m, MSG_SOCK_DEVMEM), -1);
	cr_assert_eq(errno, ENOTSOCK);
	cr_assert_not_null(strstr(devmem_last_error(), "not a socket"),
			   "reason '%s' after ENOTSOCK is not this call's", devmem_last_error());
	close(p[0]);
	close(p[1]);
}
