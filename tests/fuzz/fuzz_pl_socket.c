// SPDX-License-Identifier: MIT
/*
 * Bounded fuzzing of what a program written to the kernel's interfaces
 * hands the shim on a devmem TCP socket: recvmsg(MSG_SOCK_DEVMEM) control
 * buffers, iovecs and flags; SO_DEVMEM_DONTNEED token lists and lengths;
 * sendmsg(MSG_ZEROCOPY) cmsgs (SCM_DEVMEM_DMABUF with good and bad binding
 * ids, short and long, among other cmsgs), iovecs of dma-buf offsets, and
 * msghdrs that cannot be read. The program links no library: it runs under
 * libdevmem-preload.so, with an rx queue of lo bound to a udmabuf and a tx
 * binding, and traffic both ways.
 *
 * Every call must return as the system call would (a count, or -1 with an
 * errno the kernel gives for bad input), never crash; at the end the
 * connection still carries data, every token given out is given back.
 *
 *   fuzz_pl_socket [ITERATIONS [SEED [SECONDS]]]
 */
#define BUF_SIZE (4UL << 20)
int devmem_uapi_main(int argc, char **argv);
#define main devmem_uapi_main
#include "../../examples/devmem-uapi.c"
#undef main

#include <time.h>

#define ETOOSMALL_ 525
#define RXQ 1

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

static void bad(const char *what, long ret)
{
	fprintf(stderr, "fuzz_pl_socket: %s returned %ld, errno %d (%s)\n", what, ret, errno,
		strerror(errno));
	exit(1);
}

/* -1 with one of @allowed (0-terminated), or a count. */
static void check(const char *what, long ret, const int *allowed)
{
	if (ret >= 0)
		return;
	for (; *allowed; allowed++)
		if (errno == *allowed)
			return;
	bad(what, ret);
}

/*
 * A pointer the process cannot read or write, or NULL. Under
 * AddressSanitizer its own recvmsg/sendmsg interceptors, which run in this
 * program before the call reaches the shim, dereference the caller's
 * msghdr and iovecs themselves: there every pointer is a good one.
 */
#if defined(__SANITIZE_ADDRESS__)
#define BAD_POINTERS 0
#else
#define BAD_POINTERS 1
#endif

static void *bad_ptr(void)
{
	static void *const ptrs[] = { NULL, (void *)8, (void *)-4096L, (void *)0x1000 };

	return ptrs[rnd_below(4)];
}

/* @good, or now and then (1 in @odds) a bad pointer where the build allows it */
static void *maybe_bad(void *good, uint64_t odds)
{
	return BAD_POINTERS && !rnd_below(odds) ? bad_ptr() : good;
}

static uint32_t held[1 << 16];
static unsigned int nheld;

static void remember_tokens(struct msghdr *msg, uint32_t id)
{
	struct cmsghdr *cm;

	for (cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
		struct dmabuf_cmsg *dc = (struct dmabuf_cmsg *)CMSG_DATA(cm);

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_DEVMEM_DMABUF)
			continue;
		if (dc->dmabuf_id != id || dc->frag_offset + dc->frag_size > BUF_SIZE)
			bad("a fragment outside the binding", -1);
		if (nheld < sizeof(held) / sizeof(held[0]))
			held[nheld++] = dc->frag_token;
	}
}

static void op_recv(int fd, uint32_t id)
{
	static const int allowed[] = { EAGAIN, EFAULT, EINVAL, ETOOSMALL_, 0 };
	static char ctrl[8192], data[1 << 20];
	size_t clen = rnd_below(4) ? rnd_below(sizeof(ctrl)) : CMSG_SPACE(24) * (1 + rnd_below(64));
	struct iovec iov[2] = { { data, rnd_below(sizeof(data)) }, { data, rnd_below(4096) } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 1 + rnd_below(2) };
	int flags = MSG_DONTWAIT;
	ssize_t n;

	if (clen > sizeof(ctrl))
		clen = sizeof(ctrl);
	msg.msg_control = maybe_bad(ctrl, 16);
	msg.msg_controllen = clen;
	iov[0].iov_base = maybe_bad(iov[0].iov_base, 16);
	if (rnd_below(8))
		flags |= MSG_SOCK_DEVMEM;
	if (!rnd_below(8))
		flags |= MSG_PEEK;
	if (!rnd_below(16))
		flags |= MSG_TRUNC;
	n = recvmsg(fd, &msg, flags);
	check("recvmsg", n, allowed);
	if (n > 0 && msg.msg_control == ctrl)
		remember_tokens(&msg, id);
}

/*
 * Token lists of every shape: held tokens among random ranges, huge counts,
 * more entries than allowed, lengths that are no whole number of entries,
 * unreadable memory. A held token stays in held[]: whether a call freed it
 * (it may stop at its fragment budget, or be refused whole) is read from
 * the answer to giving it back alone at the end.
 */
static void op_dontneed(int fd)
{
	static const int allowed[] = { EFAULT, EINVAL, 0 };
	struct dmabuf_token toks[200];
	unsigned int n = (unsigned int)rnd_below(200), i;
	socklen_t len = (socklen_t)(n * sizeof(toks[0]));
	int ret;

	for (i = 0; i < n; i++) {
		if (nheld && rnd_below(2)) {
			toks[i].token_start = held[rnd_below(nheld)];
			toks[i].token_count = 1;
		} else {
			toks[i].token_start = (uint32_t)rnd();
			toks[i].token_count =
				rnd_below(5) ? (uint32_t)rnd_below(4) : (uint32_t)rnd();
		}
	}
	if (!rnd_below(8))
		len = (socklen_t)rnd_below(64);
	ret = setsockopt(fd, SOL_SOCKET, SO_DEVMEM_DONTNEED, maybe_bad(toks, 16), len);
	check("SO_DEVMEM_DONTNEED", ret, allowed);
	if (ret > DEVMEM_DONTNEED_MAX_FRAGS)
		bad("SO_DEVMEM_DONTNEED freed more than its fragment budget", ret);
}

static void op_send(int fd, uint32_t id)
{
	static const int allowed[] = { EAGAIN, EFAULT, EINVAL, ENODEV, EMSGSIZE, ENOBUFS, 0 };
	char ctrl[256];
	struct iovec iov[4];
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 1 + rnd_below(4), .msg_control = ctrl };
	struct cmsghdr *cm;
	uint32_t bid = rnd_below(4) ? id : (uint32_t)rnd();
	ssize_t n;

	memset(ctrl, 0, sizeof(ctrl));
	msg.msg_controllen = CMSG_SPACE(sizeof(bid));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_DEVMEM_DMABUF;
	cm->cmsg_len = rnd_below(8) ? CMSG_LEN(sizeof(bid)) : (size_t)rnd_below(40);
	memcpy(CMSG_DATA(cm), &bid, sizeof(bid));
	if (!rnd_below(8)) {
		/* another cmsg first, of any kind */
		msg.msg_controllen = rnd_below(sizeof(ctrl));
		for (size_t i = 0; i < msg.msg_controllen; i++)
			ctrl[i] = (char)rnd();
	}
	for (size_t i = 0; i < msg.msg_iovlen; i++) {
		iov[i].iov_base = (void *)(uintptr_t)(rnd_below(8) ? rnd_below(BUF_SIZE) : rnd());
		iov[i].iov_len = rnd_below(8) ? rnd_below(65536) : (size_t)rnd();
	}
	n = sendmsg(fd, maybe_bad(&msg, 32), MSG_ZEROCOPY | MSG_DONTWAIT);
	check("sendmsg(MSG_ZEROCOPY)", n, allowed);
}

static void drain_errqueue(int fd)
{
	char ctrl[256];

	for (;;) {
		struct msghdr msg = { .msg_control = ctrl, .msg_controllen = sizeof(ctrl) };

		if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			return;
	}
}

/*
 * Send the byte 'Z' on @cli and read @srv until it is seen, giving every
 * token back: 20 s at most. Both sides never block, so a stream the fuzzing
 * left unread (the sender held back by the receive limit) drains first.
 */
static bool marker_arrives(int cli, int srv, uint32_t id, const struct buf *b)
{
	static char ctrl[CMSG_SPACE(sizeof(struct dmabuf_cmsg)) * 64], data[64 * 65536];
	time_t end = time(NULL) + 20;
	bool sent = false;

	while (time(NULL) < end) {
		struct iovec iov = { data, sizeof(data) };
		struct msghdr msg = { .msg_iov = &iov,
				      .msg_iovlen = 1,
				      .msg_control = ctrl,
				      .msg_controllen = sizeof(ctrl) };
		struct cmsghdr *cm;
		bool seen = false;
		ssize_t n;

		if (!sent)
			sent = send(cli, "Z", 1, MSG_DONTWAIT) == 1;
		n = recvmsg(srv, &msg, MSG_SOCK_DEVMEM | MSG_DONTWAIT);
		if (n == 0)
			return false;
		if (n < 0) {
			if (errno != EAGAIN)
				return false;
			usleep(1000);
			continue;
		}
		if (!CMSG_FIRSTHDR(&msg))
			seen = memchr(data, 'Z', (size_t)n) != NULL;
		for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			struct dmabuf_cmsg *dc = (struct dmabuf_cmsg *)CMSG_DATA(cm);
			struct dmabuf_token t = { dc->frag_token, 1 };

			if (cm->cmsg_type != SCM_DEVMEM_DMABUF || dc->dmabuf_id != id)
				continue;
			seen |= memchr(b->map + dc->frag_offset, 'Z', dc->frag_size) != NULL;
			if (setsockopt(srv, SOL_SOCKET, SO_DEVMEM_DONTNEED, &t, sizeof(t)) != 1)
				return false;
		}
		if (sent && seen)
			return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	uint64_t iters = argc > 1 ? strtoull(argv[1], NULL, 0) : 20000;
	uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 0x5eed;
	double secs = argc > 3 ? atof(argv[3]) : 30;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	struct nl rxnl = { 0 }, txnl = { 0 };
	int ifindex = (int)if_nametoindex("lo"), l, srv, cli, one = 1;
	uint32_t rx_id, tx_id;
	struct buf rx, tx;
	uint16_t netdev;
	time_t end = time(NULL) + (time_t)secs;
	char junk[4096];
	uint64_t i;

	prog = "fuzz_pl_socket";
	rnd_state = seed ? seed : 1;
	memset(junk, 0x42, sizeof(junk));

	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &alen))
		die("listen");
	buf_create(&rx);
	buf_create(&tx);
	nl_open(&rxnl);
	nl_open(&txnl);
	nic_setup(&rxnl, "lo", ifindex, RXQ, ntohs(a.sin_port));
	netdev = nl_family(&rxnl, "netdev");
	rx_id = bind_dmabuf(&rxnl, netdev, ifindex, rx.fd, RXQ);
	tx_id = bind_dmabuf(&txnl, netdev, ifindex, tx.fd, -1);
	cli = socket(AF_INET, SOCK_STREAM, 0);
	if (cli < 0 || setsockopt(cli, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)) ||
	    connect(cli, (struct sockaddr *)&a, sizeof(a)))
		die("connect");
	srv = accept(l, NULL, NULL);
	if (srv < 0)
		die("accept");

	for (i = 0; i < iters && time(NULL) < end; i++) {
		switch (rnd_below(6)) {
		case 0:
			if (send(cli, junk, 1 + rnd_below(sizeof(junk)), MSG_DONTWAIT) < 0 &&
			    errno != EAGAIN)
				bad("send", -1);
			break;
		case 1:
		case 2:
			op_recv(srv, rx_id);
			break;
		case 3:
			op_dontneed(srv);
			break;
		case 4:
			op_send(cli, tx_id);
			break;
		default:
			drain_errqueue(cli);
			break;
		}
	}
	/* still a working connection: a marker byte arrives after all the rest */
	/* each token given out is freed exactly once: here, or already by a fuzzed call */
	while (nheld) {
		struct dmabuf_token t = { held[--nheld], 1 };
		int ret = setsockopt(srv, SOL_SOCKET, SO_DEVMEM_DONTNEED, &t, sizeof(t));

		if (ret != 0 && ret != 1)
			bad("giving back a token held", ret);
		if (setsockopt(srv, SOL_SOCKET, SO_DEVMEM_DONTNEED, &t, sizeof(t)) != 0)
			bad("a token given back twice", -1);
	}
	if (!marker_arrives(cli, srv, rx_id, &rx))
		bad("the connection after fuzzing: no marker byte", -1);
	drain_errqueue(cli);
	close(cli);
	close(srv);
	close(l);
	close(rxnl.fd);
	close(txnl.fd);
	munmap(rx.map, BUF_SIZE);
	munmap(tx.map, BUF_SIZE);
	close(rx.fd);
	close(tx.fd);
	printf("fuzz_pl_socket: %llu iterations, seed %#llx: every call answered as the kernel would\n",
	       (unsigned long long)i, (unsigned long long)seed);
	return 0;
}
