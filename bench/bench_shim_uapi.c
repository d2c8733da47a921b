// SPDX-License-Identifier: MIT
/*
 * bench_shim's receiver written to the kernel's interfaces: its set-up is
 * examples/devmem-uapi.c's own (udmabuf, netdev and ethtool netlink,
 * SIOCETHTOOL), its receive the one in shim_rx.h with recvmsg() and
 * setsockopt(). It links no library: bench_shim runs it under devmem run.
 *
 *	bench_shim_uapi -p PORT -n BYTES
 *	bench_shim_uapi -s CALLS     time CALLS read()s of one byte of /dev/zero
 *	                             and CALLS recv()s on an empty nonblocking
 *	                             socket: the cost of a call the shim does
 *	                             not emulate ("calls_ns=R/S")
 */
/* the example's helpers; its own main is not this program's */
#define BUF_SIZE (64UL << 20)
int devmem_uapi_main(int argc, char **argv);
#define main devmem_uapi_main
#include "../examples/devmem-uapi.c"
#undef main

#define RX_RECVMSG recvmsg
#define RX_SETSOCKOPT setsockopt
#include "shim_rx.h"

_Static_assert(BUF_SIZE == SHIM_RX_DMABUF_SIZE, "both receivers bind buffers of one size");

/* ns per call of read() on /dev/zero and of recv() that finds nothing. */
static int time_plain_calls(long calls)
{
	int z = open("/dev/zero", O_RDONLY), sv[2];
	double t0, t1, t2;
	char c;

	if (z < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv))
		shim_rx_die("/dev/zero, socketpair");
	t0 = shim_rx_now();
	for (long i = 0; i < calls; i++)
		if (read(z, &c, 1) != 1)
			shim_rx_die("read");
	t1 = shim_rx_now();
	for (long i = 0; i < calls; i++)
		if (recv(sv[0], &c, 1, 0) != -1)
			shim_rx_die("recv");
	t2 = shim_rx_now();
	printf("calls_ns=%.2f/%.2f\n", (t1 - t0) * 1e9 / calls, (t2 - t1) * 1e9 / calls);
	close(z);
	close(sv[0]);
	close(sv[1]);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t total = 1ULL << 30;
	uint16_t port = 5311;
	struct nl nl = { 0 };
	int c, ifindex, lfd, fd, ready;
	struct buf b;
	uint32_t id;
	pid_t sender_pid;

	while ((c = getopt(argc, argv, "p:n:s:")) != -1) {
		if (c == 's')
			return time_plain_calls(atol(optarg));
		if (c == 'p')
			port = (uint16_t)atoi(optarg);
		else if (c == 'n')
			total = strtoull(optarg, NULL, 0);
		else
			return 2;
	}
	sender_pid = shim_rx_fork_sender(port, total, &ready);
	ifindex = (int)if_nametoindex("lo");
	buf_create(&b);
	/* touch every page once, as the library receiver does */
	memset(b.map, 0, BUF_SIZE);
	nl_open(&nl);
	nic_setup(&nl, "lo", ifindex, SHIM_RX_QUEUE, port);
	id = bind_dmabuf(&nl, nl_family(&nl, "netdev"), ifindex, b.fd, SHIM_RX_QUEUE);
	lfd = shim_rx_listen(port);
	if (write(ready, "", 1) != 1)
		shim_rx_die("starting the sender");
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		shim_rx_die("accept");
	shim_rx_run(fd, id, total);
	shim_rx_reap(sender_pid);
	close(fd);
	close(lfd);
	close(nl.fd);
	munmap(b.map, BUF_SIZE);
	close(b.fd);
	return 0;
}
