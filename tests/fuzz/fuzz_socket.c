// SPDX-License-Identifier: MIT
/*
 * Bounded fuzzing of what a devmem socket takes from its user: the token
 * lists of SO_DEVMEM_DONTNEED, the control buffers and iovecs of
 * devmem_sendmsg() and devmem_recvmsg(), and their flags and lengths, on a
 * live software NIC with real traffic flowing in both directions.
 *
 * Every call must return as the system call would (a count, or -1 with an
 * errno the kernel gives for bad input), never crash (the suite runs this
 * under AddressSanitizer too), and the socket must still work afterwards:
 * every token held is given back, and the closing checks find nothing
 * leaked.
 *
 *   fuzz_socket [ITERATIONS [SEED [SECONDS]]]
 *
 * The suite runs a bounded number of iterations; `make fuzz` runs longer.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devmem/error.h"
#include "devmem/host.h"
#include "devmem/netdev.h"
#include "devmem/socket.h"

#include "../support/flow.h"

#define ETOOSMALL_ 525

static uint64_t rnd_state;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static const char *where;
static unsigned long iteration;

static __attribute__((noreturn)) void die(const char *what, int err)
{
	fprintf(stderr, "fuzz_socket: iteration %lu (%s): %s: %s\n", iteration, where, what,
		strerror(err));
	exit(1);
}

/* A call that failed must have failed as the kernel fails on bad input. */
static void check_errno(long ret, const int *allowed)
{
	if (ret >= 0)
		return;
	for (; *allowed; allowed++)
		if (errno == *allowed)
			return;
	die("unexpected errno", errno);
}

/* Tokens the receiver holds: given back at random, all of them at the end. */
#define MAX_HELD 4096
static uint32_t held[MAX_HELD];
static unsigned int nr_held;

static void remember_tokens(struct msghdr *msg)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		struct dmabuf_cmsg dc;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_DEVMEM_DMABUF)
			continue;
		memcpy(&dc, CMSG_DATA(c), sizeof(dc));
		if (nr_held == MAX_HELD)
			die("more tokens held than the fuzzer tracks", ENOSPC);
		held[nr_held++] = dc.frag_token;
	}
}

static unsigned char scratch[64 * 1024];
static unsigned char *bad_page; /* mapped PROT_NONE: any access faults */

/* A pointer the call must refuse (EFAULT) rather than touch. */
static void *bad_pointer(void)
{
	switch (rnd_below(3)) {
	case 0:
		return NULL;
	case 1:
		return (void *)(uintptr_t)1;
	default:
		return bad_page;
	}
}

static void fuzz_dontneed(int fd)
{
	static const int allowed[] = { EINVAL, EFAULT, ENOMEM, 0 };
	struct dmabuf_token toks[300];
	unsigned int n = (unsigned int)rnd_below(300);
	socklen_t len = (socklen_t)(n * sizeof(toks[0]));
	const void *optval = toks;
	int ret;

	where = "SO_DEVMEM_DONTNEED";
	for (unsigned int i = 0; i < n; i++) {
		/* near the tokens given out, sometimes anywhere */
		uint32_t base = nr_held ? held[rnd_below(nr_held)] : 1;

		toks[i].token_start =
			rnd_below(4) ? base + (uint32_t)rnd_below(8) - 4 : (uint32_t)rnd();
		toks[i].token_count = rnd_below(4) ? (uint32_t)rnd_below(4) : (uint32_t)rnd();
	}
	switch (rnd_below(8)) {
	case 0:
		len = (socklen_t)rnd_below(sizeof(toks) + 16); /* not a whole number of entries */
		break;
	case 1:
		optval = bad_pointer();
		break;
	}
	ret = devmem_setsockopt(fd, SOL_SOCKET, SO_DEVMEM_DONTNEED, optval, len);
	check_errno(ret, allowed);
	/* what was freed is no longer held: forget tokens the call may have taken */
	if (ret > 0 && optval == toks && len == n * sizeof(toks[0])) {
		for (unsigned int i = 0; i < nr_held;) {
			bool gone = false;

			for (unsigned int j = 0; j < n && !gone; j++)
				gone = held[i] - toks[j].token_start < toks[j].token_count;
			if (gone)
				held[i] = held[--nr_held];
			else
				i++;
		}
	}
}

static void fuzz_recvmsg(int fd)
{
	static const int allowed[] = { EINVAL, EFAULT, EAGAIN, ETOOSMALL_, ENOMEM, 0 };
	static const int flag_bits[] = { MSG_SOCK_DEVMEM, MSG_PEEK, MSG_TRUNC,
					 MSG_WAITALL,	  MSG_OOB,  MSG_ERRQUEUE,
					 MSG_CMSG_CLOEXEC };
	union {
		char buf[2048];
		struct cmsghdr align;
	} ctrl;
	struct iovec iov[4];
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = rnd_below(5) };
	int flags = MSG_DONTWAIT;
	ssize_t ret;

	where = "recvmsg";
	for (unsigned int i = 0; i < 4; i++) {
		iov[i].iov_base = rnd_below(16) ? scratch + rnd_below(1024) : bad_pointer();
		iov[i].iov_len = rnd_below(sizeof(scratch) - 1024);
	}
	msg.msg_controllen = rnd_below(4) ? rnd_below(sizeof(ctrl)) : 0;
	msg.msg_control = msg.msg_controllen ? ctrl.buf : NULL;
	if (rnd_below(16) == 0)
		msg.msg_control = bad_pointer();
	for (unsigned int i = 0; i < sizeof(flag_bits) / sizeof(flag_bits[0]); i++)
		if (rnd_below(3) == 0)
			flags |= flag_bits[i];
	if (rnd_below(2))
		flags |= MSG_SOCK_DEVMEM;
	ret = devmem_recvmsg(fd, &msg, flags);
	check_errno(ret, allowed);
	if (ret > 0 && msg.msg_control == ctrl.buf && !(flags & MSG_PEEK))
		remember_tokens(&msg);
}

static void fuzz_sendmsg(int fd, uint32_t tx_id, size_t buf_size)
{
	static const int allowed[] = { EINVAL,	EFAULT, EAGAIN,	    EMSGSIZE, ENODEV,
				       ENOBUFS, ENOMEM, EOPNOTSUPP, 0 };
	union {
		char buf[256];
		struct cmsghdr align;
	} ctrl;
	static struct iovec iov[1100];
	struct msghdr msg = { .msg_iov = iov };
	struct cmsghdr *c;
	int flags = MSG_DONTWAIT | (rnd_below(4) ? MSG_ZEROCOPY : 0);
	ssize_t ret;

	where = "sendmsg";
	msg.msg_iovlen = rnd_below(8) ? rnd_below(8) : rnd_below(1100);
	for (size_t i = 0; i < msg.msg_iovlen; i++) {
		uint64_t off = rnd_below(8) ? rnd_below(buf_size) : rnd();

		iov[i].iov_base = (void *)(uintptr_t)off;
		iov[i].iov_len = rnd_below(8) ? rnd_below(16384) : rnd();
	}
	memset(&ctrl, 0, sizeof(ctrl));
	msg.msg_control = ctrl.buf;
	msg.msg_controllen = CMSG_SPACE(sizeof(uint32_t));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = rnd_below(8) ? SOL_SOCKET : (int)rnd_below(300);
	c->cmsg_type = rnd_below(8) ? SCM_DEVMEM_DMABUF : (int)rnd_below(100);
	c->cmsg_len = rnd_below(8) ? CMSG_LEN(sizeof(uint32_t)) : rnd_below(64);
	*(uint32_t *)CMSG_DATA(c) = rnd_below(8) ? tx_id : (uint32_t)rnd_below(70000);
	switch (rnd_below(10)) {
	case 0:
		msg.msg_controllen = rnd_below(sizeof(ctrl));
		break;
	case 1:
		msg.msg_control = NULL;
		msg.msg_controllen = 0;
		break;
	case 2:
		msg.msg_control = bad_pointer();
		break;
	}
	ret = devmem_sendmsg(fd, &msg, flags);
	/* without the cmsg this is a plain sendmsg() of user pointers: only a refusal is fine */
	check_errno(ret, allowed);
}

/* Read what the tx socket sent, and its completions, so neither fills up. */
static void drain(int sink, int tx)
{
	char ctrl[512];
	struct iovec iov = { scratch, sizeof(scratch) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	while (recv(sink, scratch, sizeof(scratch), MSG_DONTWAIT) > 0)
		;
	for (;;) {
		msg.msg_control = ctrl;
		msg.msg_controllen = sizeof(ctrl);
		if (devmem_recvmsg(tx, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			break;
	}
}

int main(int argc, char **argv)
{
	unsigned long iterations = argc > 1 ? strtoul(argv[1], NULL, 0) : 20000;
	uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 0x5eed;
	double seconds = argc > 3 ? strtod(argv[3], NULL) : 60;
	struct flow_rig_opts o = { .buf_size = 4 << 20, .bind = true };
	struct flow_sender_opts so = { .thread = true, .seconds = seconds + 5, .chunk = 16384 };
	struct devmem_sock_stats st, tx_st;
	struct flow_sender s;
	struct flow_rig r;
	struct dma_buf *txbuf;
	uint32_t tx_id;
	int rx, tx, sink, txfd, one = 1, err;
	int64_t end;

	rnd_state = seed | 1;
	bad_page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (bad_page == MAP_FAILED)
		die("mmap", errno);
	err = flow_rig_up(&r, &o);
	if (err == -EOPNOTSUPP || err == -EPERM) {
		printf("SKIP: %s\n", r.why);
		return 77;
	}
	if (err)
		die(r.why, -err);

	/* rx: a sender thread streaming into the bound queue */
	if ((err = flow_sender_start(&r.l, &so, &s)))
		die("sender", -err);
	rx = flow_accept(&r.l, 5000);
	if (rx < 0 || devmem_sock_attach(rx) < 0)
		die("rx socket", rx < 0 ? -rx : errno);

	/* tx: a tx binding of its own buffer, a connection to a plain sink */
	if ((err = devmem_host_buffer_create(1 << 20, NULL, &txbuf)))
		die("tx buffer", -err);
	txfd = dma_buf_fd(txbuf, O_CLOEXEC);
	if (txfd < 0 || (err = devmem_bind_tx(r.ctl, r.ifindex, txfd, NULL, &tx_id)))
		die(devmem_last_error(), txfd < 0 ? -txfd : -err);
	tx = flow_connect(&r.l);
	sink = flow_accept(&r.l, 5000);
	if (tx < 0 || sink < 0)
		die("tx connection", EIO);
	if (setsockopt(tx, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)))
		die("SO_ZEROCOPY", errno);

	end = flow_now_ms() + (int64_t)(seconds * 1000);
	for (iteration = 0; iteration < iterations && flow_now_ms() < end; iteration++) {
		switch (rnd_below(3)) {
		case 0:
			fuzz_dontneed(rx);
			break;
		case 1:
			fuzz_recvmsg(rx);
			break;
		default:
			fuzz_sendmsg(tx, tx_id, 1 << 20);
			break;
		}
		if (iteration % 64 == 0)
			drain(sink, tx);
	}

	/* the socket still works: every token held goes back */
	where = "the end";
	while (nr_held) {
		int freed = flow_dontneed_one(rx, held[--nr_held]);

		if (freed < 0)
			die("giving a held token back", errno);
	}
	if (devmem_sock_stats(rx, &st) || devmem_sock_stats(tx, &tx_st))
		die("stats", EBADF);
	printf("fuzz_socket: %lu iterations, seed %#" PRIx64 ": %" PRIu64 " fragments, %" PRIu64
	       " tokens freed, %" PRIu64 " unknown, %" PRIu64 " held (by MSG_PEEK); %" PRIu64
	       " dma-buf sends\n",
	       iteration, seed, st.frags, st.tokens_freed, st.tokens_unknown, st.tokens_held,
	       tx_st.tx_sends);

	__atomic_store_n(&s.stop, 1, __ATOMIC_RELAXED);
	if (devmem_close(rx))
		die("devmem_close", errno);
	flow_sender_wait(&s, 10000);
	drain(sink, tx);
	devmem_close(tx);
	close(sink);
	devmem_unbind(r.ctl, tx_id);
	close(txfd);
	dma_buf_put(txbuf);
	flow_rig_down(&r);
	munmap(bad_page, 4096);
	printf("1 passed, 0 failed\n");
	return 0;
}
