// SPDX-License-Identifier: MIT
/*
 * devmem-tx: transmit a TCP stream straight from a dma-buf, as a devmem TCP
 * application does on a NIC that supports it.
 *
 * A 1 MiB host dma-buf is filled with a known pattern and bound for transmit
 * on a software NIC shadowing "lo". Each sendmsg(MSG_ZEROCOPY) names a range
 * of the buffer by offset (iov_base is an offset, not a pointer) and the
 * binding by an SCM_DEVMEM_DMABUF cmsg; the buffer is sent round and round,
 * 16 MiB in all. Completions come back on the socket's error queue as the
 * kernel's zerocopy notifications: a range of the buffer may be rewritten
 * only once the send that named it has completed. The receiver is a thread
 * with a plain TCP socket that checks every byte.
 *
 * Build (installed library):  cc devmem-tx.c $(pkg-config --cflags --libs libdevmem)
 * Run:                        ./a.out
 * Exit status: 0 when every send completed and the receiver got every byte
 * right, 1 on failure, 77 when the machine lacks what the software NIC
 * needs (io_uring).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <devmem/error.h>
#include <devmem/host.h>
#include <devmem/netdev.h>
#include <devmem/socket.h>
#include <devmem/swnic.h>

#define PERIOD 251
#define BUF_SPAN (PERIOD * 4096u) /* the part of the buffer sent: whole periods */
#define BUF_SIZE (1u << 20)
#define STREAM_BYTES (16u << 20)
#define SEND_CHUNK (64u * 1024)
#define MAX_INFLIGHT 64 /* sends not yet completed */

static int die(const char *what, int err)
{
	fprintf(stderr, "devmem-tx: %s: %s (%s)\n", what, strerror(err), devmem_last_error());
	return 1;
}

/* The peer: a plain TCP receiver that checks the pattern. */
static void *receiver(void *arg)
{
	int lfd = *(int *)arg, fd = accept(lfd, NULL, NULL);
	static unsigned char buf[64 * 1024];
	size_t off = 0;
	ssize_t n;

	if (fd < 0)
		return (void *)"accept";
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		for (ssize_t i = 0; i < n; i++, off++)
			if (buf[i] != (unsigned char)(off % PERIOD))
				return (void *)"the bytes received do not match";
	}
	close(fd);
	if (n < 0)
		return (void *)"recv";
	return off == STREAM_BYTES ? NULL : (void *)"short stream";
}

/* One zerocopy send of [@off, @off + @len) of the tx binding's buffer. */
static ssize_t send_from_dmabuf(int fd, uint32_t binding, uint64_t off, size_t len)
{
	char ctrl[CMSG_SPACE(sizeof(binding))] = { 0 };
	struct iovec iov = { .iov_base = (void *)(uintptr_t)off, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = ctrl,
			      .msg_controllen = sizeof(ctrl) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_DEVMEM_DMABUF;
	cm->cmsg_len = CMSG_LEN(sizeof(binding));
	memcpy(CMSG_DATA(cm), &binding, sizeof(binding));
	return devmem_sendmsg(fd, &msg, MSG_ZEROCOPY);
}

/*
 * Read the completions queued now; each names a range of send numbers
 * (ee_info .. ee_data, counted from 0). Returns how many sends completed,
 * or -1 with errno set.
 */
static long reap_completions(int fd)
{
	char ctrl[CMSG_SPACE(sizeof(struct sock_extended_err) + sizeof(struct sockaddr_in6))];
	long done = 0;

	for (;;) {
		struct msghdr msg = { .msg_control = ctrl, .msg_controllen = sizeof(ctrl) };
		struct sock_extended_err ee;
		struct cmsghdr *cm;

		if (devmem_recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			return errno == EAGAIN || errno == EINTR ? done : -1;
		cm = CMSG_FIRSTHDR(&msg);
		if (!cm || cm->cmsg_level != SOL_IP || cm->cmsg_type != IP_RECVERR)
			continue;
		memcpy(&ee, CMSG_DATA(cm), sizeof(ee));
		if (ee.ee_origin != SO_EE_ORIGIN_ZEROCOPY || ee.ee_errno) {
			errno = ee.ee_errno ? (int)ee.ee_errno : EPROTO;
			return -1;
		}
		done += (long)ee.ee_data - (long)ee.ee_info + 1;
	}
}

int main(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET,
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(addr);
	uint64_t sent = 0, off = 0, sends = 0, completed = 0;
	int ifindex, lfd, fd, buf_fd, err, one = 1, ret = 1;
	struct devmem_ctl *ctl = NULL;
	struct dma_buf *buf = NULL;
	void *receiver_err;
	pthread_t thread;
	uint32_t binding;
	unsigned char *p;

	err = devmem_swnic_create("lo", NULL, &ifindex);
	if (err == -EOPNOTSUPP || err == -ENOSYS || err == -EPERM) {
		printf("SKIP: no software NIC on this kernel: %s (%s)\n", strerror(-err),
		       devmem_last_error());
		return 77;
	}
	if (err)
		return die("software NIC on lo", -err);

	/* The dma-buf, filled through CPU access before the device reads it. */
	err = devmem_host_buffer_create(BUF_SIZE, NULL, &buf);
	if (err)
		return die("host dma-buf", -err);
	err = dma_buf_vmap_unlocked(buf, (void **)&p);
	if (err)
		return die("vmap", -err);
	dma_buf_begin_cpu_access(buf, DMA_TO_DEVICE);
	for (size_t i = 0; i < BUF_SPAN; i++)
		p[i] = (unsigned char)(i % PERIOD);
	dma_buf_end_cpu_access(buf, DMA_TO_DEVICE);
	dma_buf_vunmap_unlocked(buf, p);

	buf_fd = dma_buf_fd(buf, O_CLOEXEC);
	if (buf_fd < 0)
		return die("dma-buf fd", -buf_fd);
	err = devmem_ctl_open(&ctl);
	if (!err)
		err = devmem_bind_tx(ctl, ifindex, buf_fd, NULL, &binding);
	if (err)
		return die("bind-tx", -err);
	printf("dma-buf of %u bytes bound for transmit on lo (binding %u)\n", BUF_SIZE, binding);

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&addr, &alen))
		return die("listen", errno);
	if (pthread_create(&thread, NULL, receiver, &lfd))
		return die("receiver thread", EAGAIN);

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)))
		return die("connect", errno);
	if (devmem_setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)))
		return die("SO_ZEROCOPY", errno);

	while (sent < STREAM_BYTES) {
		uint64_t len = STREAM_BYTES - sent;
		long done;
		ssize_t n;

		if (len > SEND_CHUNK)
			len = SEND_CHUNK;
		if (len > BUF_SPAN - off)
			len = BUF_SPAN - off; /* wrap at the end of the span */
		n = sends - completed < MAX_INFLIGHT ? send_from_dmabuf(fd, binding, off, len) : 0;
		if (n < 0 && errno != ENOBUFS && errno != EINTR)
			return die("devmem_sendmsg", errno);
		if (n > 0) {
			sends++;
			sent += (uint64_t)n;
			off = (off + (uint64_t)n) % BUF_SPAN;
		}
		done = reap_completions(fd);
		if (done < 0)
			return die("error queue", errno);
		completed += (uint64_t)done;
		if (n <= 0 && !done)
			usleep(100); /* too many in flight: let the completions come */
	}
	/* every range must be released before the buffer may change or go */
	for (int tries = 0; completed < sends && tries < 50000; tries++) {
		long done = reap_completions(fd);

		if (done < 0)
			return die("error queue", errno);
		completed += (uint64_t)done;
		if (completed < sends)
			usleep(100);
	}
	devmem_close(fd);

	pthread_join(thread, &receiver_err);
	if (completed != sends)
		fprintf(stderr, "devmem-tx: %llu of %llu sends completed\n",
			(unsigned long long)completed, (unsigned long long)sends);
	else if (receiver_err)
		fprintf(stderr, "devmem-tx: receiver: %s\n", (char *)receiver_err);
	else {
		printf("sent %llu bytes from the dma-buf in %llu zerocopy sends, all completed; "
		       "the receiver got every byte right\n",
		       (unsigned long long)sent, (unsigned long long)sends);
		ret = 0;
	}
	close(lfd);
	devmem_ctl_close(ctl);
	close(buf_fd);
	dma_buf_put(buf);
	devmem_swnic_destroy(ifindex);
	return ret;
}
