// SPDX-License-Identifier: MIT
/*
 * fork() and the network state (net/owner.h): the control handles, software
 * NICs and devmem sockets belong to the process that made them. In a child
 * forked after that, every net call fails at once with EIO (the queue
 * threads it would wait for do not exist there), closing releases only the
 * child's own copies, and the parent goes on as if nothing happened.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devmem/error.h"
#include "devmem/netdev.h"
#include "devmem/socket.h"
#include "devmem/swnic.h"
#include "support/flow-test.h"
#include "harness.h"

#define KiB (1UL << 10)
#define MiB (1UL << 20)
#define ACCEPT_MS 10000
#define WAIT_MS 20000
#define CHILD_SECONDS 5 /* a child call that blocks is killed by SIGALRM then */

static const struct flow_rig_opts bound = { .buf_size = 1 * MiB, .bind = true };

static struct flow_msg msg; /* large: not on the stack */
static unsigned char iobuf[1 * MiB];

/* A bound rig with a connected, attached devmem socket holding fragments. */
struct live {
	struct flow_rig r;
	int client, server;
	uint64_t sent, pos;
	struct dmabuf_cmsg held[4];
};

static void send_pattern(struct live *l, size_t len)
{
	unsigned char *buf = malloc(len);
	size_t done = 0;

	cr_assert_not_null(buf);
	flow_pattern_fill(buf, l->sent, len);
	while (done < len) {
		ssize_t n = send(l->client, buf + done, len - done, 0);

		cr_assert_gt(n, 0, "send: %s", strerror(errno));
		done += (size_t)n;
	}
	l->sent += len;
	free(buf);
}

static void live_up(struct live *l)
{
	rig_up(&l->r, &bound);
	l->sent = l->pos = 0;
	l->client = flow_connect(&l->r.l);
	cr_assert_geq(l->client, 0);
	l->server = flow_accept(&l->r.l, ACCEPT_MS);
	cr_assert_geq(l->server, 0);
	cr_assert_eq(devmem_sock_attach(l->server), (int)l->r.queue, "%s", devmem_last_error());
	send_pattern(l, 64 * KiB);
	cr_assert_eq(flow_wait_queued(l->r.ifindex, l->server, l->sent, 0, WAIT_MS), 0);
	/* four fragments held by the user, the rest still queued on the socket */
	cr_assert_gt(flow_recv(l->server, MSG_SOCK_DEVMEM | MSG_DONTWAIT, iobuf, sizeof(iobuf),
			       FLOW_CMSG_ROOM(4), &msg),
		     0);
	cr_assert_eq(msg.nr, 4);
	for (unsigned int i = 0; i < 4; i++) {
		cr_assert_eq(msg.c[i].type, SCM_DEVMEM_DMABUF);
		l->held[i] = msg.c[i].dc;
		l->pos += msg.c[i].dc.frag_size;
	}
}

/* ---- the child: each step returns 0 or its own failure code ---- */

static bool says_forked(void)
{
	return strstr(devmem_last_error(), "forked") != NULL;
}

/* A call with a system call's signature: -1 and EIO, with the reason. */
#define CHILD_SYSCALL_EIO(code, call)                               \
	do {                                                        \
		errno = 0;                                          \
		if ((call) != -1 || errno != EIO || !says_forked()) \
			return (code);                              \
	} while (0)

/* A call returning a negative errno: -EIO, with the reason. */
#define CHILD_NEG_EIO(code, call)                     \
	do {                                          \
		if ((call) != -EIO || !says_forked()) \
			return (code);                \
	} while (0)

static int child_calls(struct live *l)
{
	struct devmem_queue_id q = { .id = 0, .type = NETDEV_QUEUE_TYPE_RX };
	struct dmabuf_token tok = { .token_start = l->held[0].frag_token, .token_count = 1 };
	struct iovec iov = { .iov_base = iobuf, .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct devmem_swnic_rxq_stats rs;
	struct devmem_binding_info bi;
	struct devmem_sock_stats ss;
	struct devmem_ctl *ctl;
	uint32_t id;

	CHILD_SYSCALL_EIO(10, devmem_recvmsg(l->server, &m, MSG_SOCK_DEVMEM));
	CHILD_SYSCALL_EIO(11, devmem_recvmsg(l->server, &m, MSG_SOCK_DEVMEM | MSG_DONTWAIT));
	CHILD_SYSCALL_EIO(12, devmem_setsockopt(l->server, SOL_SOCKET, SO_DEVMEM_DONTNEED, &tok,
						sizeof(tok)));
	CHILD_SYSCALL_EIO(13, devmem_sendmsg(l->client, &m, 0));
	CHILD_NEG_EIO(14, devmem_sock_attach(l->server));
	CHILD_NEG_EIO(15, devmem_sock_stats(l->server, &ss));
	CHILD_NEG_EIO(16, devmem_ctl_open(&ctl));
	CHILD_NEG_EIO(17, devmem_bind_rx(l->r.ctl, l->r.ifindex, l->r.buf_fd, &q, 1, NULL, &id));
	CHILD_NEG_EIO(18, devmem_unbind(l->r.ctl, l->r.id));
	CHILD_NEG_EIO(19, devmem_binding_get(l->r.ctl, l->r.id, &bi));
	CHILD_NEG_EIO(20, devmem_set_rss_equal(l->r.ctl, l->r.ifindex, 1));
	CHILD_NEG_EIO(21, devmem_swnic_rxq_stats(l->r.ifindex, l->r.queue, &rs));
	CHILD_NEG_EIO(22, devmem_swnic_destroy(l->r.ifindex));
	CHILD_NEG_EIO(23, devmem_swnic_create("lo", NULL, NULL));
	/* closing releases the child's copies only */
	if (devmem_close(l->server) != 0)
		return 30;
	errno = 0;
	if (fcntl(l->server, F_GETFD) != -1 || errno != EBADF)
		return 31; /* the child's fd is closed */
	devmem_ctl_close(l->r.ctl);
	return 0;
}

/*
 * Fork; the child runs child_calls() under an alarm. 0 when it returned 0
 * promptly, else its failure code (or 100 + the signal that ended it).
 */
static int run_child(struct live *l)
{
	int64_t deadline;
	int status;
	pid_t pid;

	pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		alarm(CHILD_SECONDS);
		_exit(child_calls(l));
	}
	deadline = flow_now_ms() + 2 * CHILD_SECONDS * 1000;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (flow_now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return 200;
		}
		flow_sleep_us(1000);
	}
	if (WIFSIGNALED(status))
		return 100 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

Test(fork, child_net_calls_fail_fast_with_eio_and_a_reason)
{
	struct live l;
	int code;

	live_up(&l);
	code = run_child(&l);
	cr_assert_neq(code, 100 + SIGALRM, "a call in the child blocked");
	cr_assert_eq(code, 0, "child step %d did not fail with EIO and a reason", code);
	cr_assert_eq(devmem_close(l.server), 0);
	close(l.client);
	rig_down(&l.r);
}

Test(fork, child_close_leaves_the_parents_socket_binding_and_tokens_working)
{
	struct devmem_binding_info bi;
	struct dmabuf_token toks[4];
	struct flow_rx rx;
	struct live l;
	int err;

	live_up(&l);
	cr_assert_eq(run_child(&l), 0);
	/* the child closed its copies of the socket and the handle: ours are intact */
	cr_assert_eq(devmem_binding_get(l.r.ctl, l.r.id, &bi), 0, "%s", devmem_last_error());
	cr_assert_eq(devmem_sock_attach(l.server), (int)l.r.queue);
	for (unsigned int i = 0; i < 4; i++)
		toks[i] = (struct dmabuf_token){ l.held[i].frag_token, 1 };
	errno = 0;
	err = devmem_setsockopt(l.server, SOL_SOCKET, SO_DEVMEM_DONTNEED, toks, sizeof(toks));
	cr_assert_eq(err, 4, "DONTNEED freed %d (%s)", err, strerror(errno));
	/* the rest of the stream, and more sent after the fork, reach the parent whole */
	send_pattern(&l, 256 * KiB);
	close(l.client);
	cr_assert_eq(flow_rx_init(&rx, l.server), 0);
	flow_rig_rx(&l.r, &rx);
	rx.pos = l.pos;
	rx.no_linear = true;
	cr_assert_eq(flow_rx_run(&rx, l.sent, WAIT_MS), 0, "%s", rx.why);
	flow_rx_fini(&rx);
	cr_assert_eq(devmem_close(l.server), 0);
	rig_down(&l.r);
}
