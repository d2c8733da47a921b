// SPDX-License-Identifier: MIT
/*
 * devmem-rx: receive a TCP stream into a dma-buf, as a devmem TCP
 * application does on a NIC that supports it.
 *
 * A 4 MiB host dma-buf is bound to rx queue 1 of a software NIC shadowing
 * "lo"; a flow rule steers the server's port to that queue. A thread sends
 * 32 MiB of a known pattern over a plain loopback TCP connection. The server
 * reads it with devmem_recvmsg(MSG_SOCK_DEVMEM): every fragment comes back as
 * an offset into the dma-buf and a token. The bytes are checked through CPU
 * access to the buffer and the tokens are given back with SO_DEVMEM_DONTNEED,
 * which is what lets a buffer eight times smaller than the stream carry it.
 *
 * Build (installed library):  cc devmem-rx.c $(pkg-config --cflags --libs libdevmem)
 * Run:                        ./a.out
 * Exit status: 0 when every byte landed in the dma-buf and matched, 1 on
 * failure, 77 when the machine lacks what the software NIC needs (io_uring).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <devmem/error.h>
#include <devmem/host.h>
#include <devmem/netdev.h>
#include <devmem/socket.h>
#include <devmem/swnic.h>

#define BUF_SIZE (4u << 20)
#define STREAM_BYTES (32u << 20)
#define RX_QUEUE 1
#define PERIOD 251 /* a prime: a misplaced fragment cannot match by chance */
#define MAX_CMSGS 64

static int die(const char *what, int err)
{
	fprintf(stderr, "devmem-rx: %s: %s (%s)\n", what, strerror(err), devmem_last_error());
	return 1;
}

/* The peer: an ordinary TCP client sending bytes 0, 1, ..., PERIOD - 1, 0, ... */
static void *sender(void *arg)
{
	struct sockaddr_in *addr = arg;
	unsigned char chunk[PERIOD * 256];
	size_t sent = 0;
	int fd;

	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (unsigned char)(i % PERIOD);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)addr, sizeof(*addr)))
		return (void *)"connect";
	while (sent < STREAM_BYTES) {
		size_t len =
			STREAM_BYTES - sent < sizeof(chunk) ? STREAM_BYTES - sent : sizeof(chunk);
		ssize_t n = send(fd, chunk, len, 0); /* len is a multiple of PERIOD until the end */

		if (n < 0)
			return (void *)"send";
		if ((size_t)n != len) /* keep the pattern aligned with the chunk */
			return (void *)"short send";
		sent += (size_t)n;
	}
	close(fd);
	return NULL;
}

/* Check @len bytes at stream offset @off against the pattern. */
static int check(const unsigned char *p, size_t len, size_t off)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != (unsigned char)((off + i) % PERIOD))
			return -1;
	return 0;
}

int main(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET,
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct devmem_queue_id queue = { .id = RX_QUEUE, .type = NETDEV_QUEUE_TYPE_RX };
	DEVMEM_OPTS(devmem_swnic_opts, nic_opts, .num_rx_queues = 2);
	struct devmem_flow_rule rule = { .flow_type = TCP_V4_FLOW, .queue = RX_QUEUE };
	static char ctrl[CMSG_SPACE(sizeof(struct dmabuf_cmsg)) * MAX_CMSGS];
	static unsigned char linear[64 * 1024];
	size_t off = 0, in_dmabuf = 0, in_linear = 0;
	struct devmem_ctl *ctl = NULL;
	struct dma_buf *buf = NULL;
	int ifindex, lfd, fd, buf_fd, err, ret = 1;
	socklen_t alen = sizeof(addr);
	uint32_t binding, loc;
	void *sender_err;
	pthread_t thread;
	void *vaddr;

	/* The software NIC: -EOPNOTSUPP when the kernel's io_uring is too old. */
	err = devmem_swnic_create("lo", &nic_opts, &ifindex);
	if (err == -EOPNOTSUPP || err == -ENOSYS || err == -EPERM) {
		printf("SKIP: no software NIC on this kernel: %s (%s)\n", strerror(-err),
		       devmem_last_error());
		return 77;
	}
	if (err)
		return die("software NIC on lo", -err);

	/* The dma-buf, and a CPU mapping of it to check what lands there. */
	err = devmem_host_buffer_create(BUF_SIZE, NULL, &buf);
	if (err)
		return die("host dma-buf", -err);
	buf_fd = dma_buf_fd(buf, O_CLOEXEC);
	if (buf_fd < 0)
		return die("dma-buf fd", -buf_fd);
	err = dma_buf_vmap_unlocked(buf, &vaddr);
	if (err)
		return die("vmap", -err);

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&addr, &alen))
		return die("listen", errno);

	/* NIC set-up as for a devmem NIC: header split, a flow rule, then bind. */
	err = devmem_ctl_open(&ctl);
	if (!err)
		err = devmem_set_header_split(ctl, ifindex, ETHTOOL_TCP_DATA_SPLIT_ENABLED, 0);
	if (err)
		return die("header split", -err);
	memcpy(rule.dst_addr, &addr.sin_addr, 4);
	rule.dst_port = addr.sin_port;
	err = devmem_flow_rule_add(ctl, ifindex, &rule, &loc);
	if (err)
		return die("flow rule", -err);
	err = devmem_bind_rx(ctl, ifindex, buf_fd, &queue, 1, NULL, &binding);
	if (err)
		return die("bind-rx", -err);
	printf("dma-buf of %u bytes bound to rx queue %d of lo (binding %u)\n", BUF_SIZE, RX_QUEUE,
	       binding);

	if (pthread_create(&thread, NULL, sender, &addr))
		return die("sender thread", EAGAIN);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return die("accept", errno);
	/* join the queue now, so that the first bytes already land in the dma-buf */
	err = devmem_sock_attach(fd);
	if (err < 0)
		return die("attach to the rx queue", -err);

	for (;;) {
		struct iovec iov = { .iov_base = linear, .iov_len = sizeof(linear) };
		struct msghdr msg = { .msg_iov = &iov,
				      .msg_iovlen = 1,
				      .msg_control = ctrl,
				      .msg_controllen = sizeof(ctrl) };
		struct dmabuf_token tokens[MAX_CMSGS];
		unsigned int nr_tokens = 0, nr_frags = 0;
		ssize_t n = devmem_recvmsg(fd, &msg, MSG_SOCK_DEVMEM);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return die("devmem_recvmsg", errno);
		if (n == 0 && !CMSG_FIRSTHDR(&msg))
			break; /* end of stream */

		/* the device wrote the buffer: bracket the CPU's reads */
		err = dma_buf_begin_cpu_access(buf, DMA_FROM_DEVICE);
		if (err)
			return die("begin CPU access", -err);
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			struct dmabuf_cmsg frag;

			if (cm->cmsg_level != SOL_SOCKET)
				continue;
			memcpy(&frag, CMSG_DATA(cm), sizeof(frag));
			if (cm->cmsg_type == SCM_DEVMEM_LINEAR) {
				/* bytes that landed in host memory, copied to the iovec */
				if (check(linear, frag.frag_size, off))
					goto mismatch;
				in_linear += frag.frag_size;
				off += frag.frag_size;
			} else if (cm->cmsg_type == SCM_DEVMEM_DMABUF) {
				if (check((unsigned char *)vaddr + frag.frag_offset, frag.frag_size,
					  off))
					goto mismatch;
				in_dmabuf += frag.frag_size;
				off += frag.frag_size;
				/* consecutive tokens go back as one range */
				if (nr_tokens &&
				    tokens[nr_tokens - 1].token_start +
						    tokens[nr_tokens - 1].token_count ==
					    frag.frag_token)
					tokens[nr_tokens - 1].token_count++;
				else
					tokens[nr_tokens++] =
						(struct dmabuf_token){ frag.frag_token, 1 };
				nr_frags++;
			}
		}
		dma_buf_end_cpu_access(buf, DMA_FROM_DEVICE);

		/* give the fragments back: the queue refills from them */
		if (nr_tokens && devmem_setsockopt(fd, SOL_SOCKET, SO_DEVMEM_DONTNEED, tokens,
						   nr_tokens * sizeof(tokens[0])) != (int)nr_frags)
			return die("SO_DEVMEM_DONTNEED", errno);
	}

	pthread_join(thread, &sender_err);
	if (sender_err) {
		fprintf(stderr, "devmem-rx: sender: %s failed\n", (char *)sender_err);
	} else if (off != STREAM_BYTES) {
		fprintf(stderr, "devmem-rx: %zu of %u bytes arrived\n", off, STREAM_BYTES);
	} else {
		printf("received %zu bytes: %zu in the dma-buf, %zu linear; all match\n", off,
		       in_dmabuf, in_linear);
		ret = in_dmabuf ? 0 : 1; /* nothing in the dma-buf: the binding did not work */
	}
	devmem_close(fd); /* gives back any fragment still held */
	close(lfd);
	devmem_ctl_close(ctl); /* unbinds: queue 1 restarts on host pages */
	dma_buf_vunmap_unlocked(buf, vaddr);
	close(buf_fd);
	dma_buf_put(buf);
	devmem_swnic_destroy(ifindex);
	return ret;

mismatch:
	fprintf(stderr, "devmem-rx: wrong byte near stream offset %zu\n", off);
	return 1;
}
