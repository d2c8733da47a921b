// SPDX-License-Identifier: MIT
/*
 * devmem-uapi: device-memory TCP written to the kernel's interfaces only.
 *
 * No libdevmem call: udmabuf for the buffers, generic netlink (netdev and
 * ethtool families) for header split and the bindings, SIOCETHTOOL for the
 * flow rule and RSS, recvmsg(MSG_SOCK_DEVMEM) / SO_DEVMEM_DONTNEED to
 * receive, sendmsg(MSG_ZEROCOPY) with SCM_DEVMEM_DMABUF to transmit. The
 * same source runs on a devmem NIC, and anywhere under
 *
 *	devmem run -- devmem-uapi [-f IFNAME] [-q QUEUE] [-p PORT] [-n BYTES]
 *
 * The process binds QUEUE of IFNAME (default lo, queue 1) for receive and a
 * child binds a buffer for transmit; the child sends BYTES of a pattern to
 * the parent over IFNAME, the parent checks every byte where it landed in
 * its dma-buf. The child is forked before either side touches the network,
 * so that each sets up its own, as two programs would. Exit 0 when all arrived intact, 1 on an error, 77 when the
 * machine has neither a devmem NIC nor the software path (/dev/udmabuf
 * missing).
 *
 * The only header beyond the system's is <devmem/uapi.h>, the kernel UAPI
 * constants that Debian 12's kernel headers predate (struct dmabuf_cmsg,
 * the netdev family's bind commands).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create(), F_ADD_SEALS */
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/ethtool_netlink.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/sockios.h>
#include <linux/errqueue.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <devmem/uapi.h>

#ifndef BUF_SIZE
#define BUF_SIZE (251 * 4096) /* a whole number of pattern periods and pages */
#endif
#define CHUNK 65536
#define EXIT_SKIP 77

static const char *prog = "devmem-uapi";

static int die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
	exit(1);
}

static uint8_t pattern(uint64_t off)
{
	return (uint8_t)(off % 251);
}

/* ---- a dma-buf from udmabuf ---- */

struct buf {
	int fd; /* the dma-buf */
	uint8_t *map;
};

static void buf_create(struct buf *b)
{
	struct udmabuf_create create = { .flags = UDMABUF_FLAGS_CLOEXEC, .size = BUF_SIZE };
	int dev, memfd;

	dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		fprintf(stderr, "%s: SKIP: /dev/udmabuf: %s (run under `devmem run`)\n", prog,
			strerror(errno));
		exit(EXIT_SKIP);
	}
	memfd = memfd_create("devmem-uapi", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	if (memfd < 0)
		die("memfd_create");
	if (ftruncate(memfd, BUF_SIZE) || fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK))
		die("sizing and sealing the memfd");
	create.memfd = (uint32_t)memfd;
	b->fd = ioctl(dev, UDMABUF_CREATE, &create);
	if (b->fd < 0)
		die("UDMABUF_CREATE");
	close(dev);
	close(memfd); /* the dma-buf keeps the pages */
	b->map = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd, 0);
	if (b->map == MAP_FAILED)
		die("mmap of the dma-buf");
}

static void buf_sync(const struct buf *b, uint64_t flags)
{
	struct dma_buf_sync sync = { .flags = flags };

	if (ioctl(b->fd, DMA_BUF_IOCTL_SYNC, &sync))
		die("DMA_BUF_IOCTL_SYNC");
}

/* ---- generic netlink, by hand ---- */

struct nl {
	int fd;
	uint32_t seq;
	char buf[16384];
	size_t len;
};

static void nl_open(struct nl *nl)
{
	int one = 1;

	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (nl->fd < 0)
		die("netlink socket");
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
}

static void nl_start(struct nl *nl, uint16_t family, uint8_t cmd)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)nl->buf;
	struct genlmsghdr *g = NLMSG_DATA(nlh);

	memset(nl->buf, 0, NLMSG_HDRLEN + GENL_HDRLEN);
	nlh->nlmsg_type = family;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++nl->seq;
	g->cmd = cmd;
	g->version = 1;
	nl->len = NLMSG_HDRLEN + GENL_HDRLEN;
}

static struct nlattr *nl_put(struct nl *nl, uint16_t type, const void *data, size_t len)
{
	struct nlattr *a = (struct nlattr *)(nl->buf + nl->len);

	a->nla_type = type;
	a->nla_len = (uint16_t)(NLA_HDRLEN + len);
	if (len)
		memcpy((char *)a + NLA_HDRLEN, data, len);
	memset((char *)a + NLA_HDRLEN + len, 0, NLA_ALIGN(len) - len);
	nl->len += NLA_ALIGN(a->nla_len);
	return a;
}

static void nl_put_u32(struct nl *nl, uint16_t type, uint32_t v)
{
	nl_put(nl, type, &v, sizeof(v));
}

static struct nlattr *nl_nest(struct nl *nl, uint16_t type)
{
	return nl_put(nl, type | NLA_F_NESTED, NULL, 0);
}

static void nl_nest_end(struct nl *nl, struct nlattr *nest)
{
	nest->nla_len = (uint16_t)(nl->buf + nl->len - (char *)nest);
}

/*
 * Send the request and read to its ack. The attributes of the reply (if
 * any) are copied into @reply; the kernel's errno is returned, its extack
 * message printed.
 */
static int nl_call(struct nl *nl, const char *what, char *reply, size_t *reply_len)
{
	char rbuf[16384];
	struct nlmsghdr *nlh = (struct nlmsghdr *)nl->buf;

	nlh->nlmsg_len = (uint32_t)nl->len;
	if (send(nl->fd, nl->buf, nl->len, 0) != (ssize_t)nl->len)
		die("netlink send");
	for (;;) {
		ssize_t n = recv(nl->fd, rbuf, sizeof(rbuf), 0);

		if (n < 0)
			die("netlink recv");
		for (nlh = (struct nlmsghdr *)rbuf; NLMSG_OK(nlh, (size_t)n);
		     nlh = NLMSG_NEXT(nlh, n)) {
			if (nlh->nlmsg_seq != nl->seq)
				continue;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(nlh);
				size_t off = NLMSG_HDRLEN + sizeof(*e);
				struct nlattr *a;

				if (!e->error)
					return 0;
				/* with CAP_ACK the request is not echoed: the TLVs follow */
				for (a = (struct nlattr *)((char *)nlh + off);
				     off + NLA_HDRLEN <= nlh->nlmsg_len && a->nla_len >= NLA_HDRLEN;
				     off += NLA_ALIGN(a->nla_len),
				    a = (struct nlattr *)((char *)nlh + off))
					if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG)
						fprintf(stderr, "%s: %s: %s\n", prog, what,
							(char *)a + NLA_HDRLEN);
				errno = -e->error;
				return -1;
			}
			if (reply && nlh->nlmsg_type >= NLMSG_MIN_TYPE) {
				size_t alen = nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;

				if (alen > *reply_len)
					alen = *reply_len;
				memcpy(reply, (char *)NLMSG_DATA(nlh) + GENL_HDRLEN, alen);
				*reply_len = alen;
			}
		}
	}
}

/* The attribute @type among @len bytes of attributes, or NULL. */
static struct nlattr *nl_find(char *attrs, size_t len, uint16_t type)
{
	size_t off = 0;

	while (off + NLA_HDRLEN <= len) {
		struct nlattr *a = (struct nlattr *)(attrs + off);

		if (a->nla_len < NLA_HDRLEN || off + a->nla_len > len)
			return NULL;
		if ((a->nla_type & NLA_TYPE_MASK) == type)
			return a;
		off += NLA_ALIGN(a->nla_len);
	}
	return NULL;
}

static uint16_t nl_family(struct nl *nl, const char *name)
{
	char reply[8192];
	size_t rlen = sizeof(reply);
	struct nlattr *id;

	nl_start(nl, GENL_ID_CTRL, CTRL_CMD_GETFAMILY);
	nl_put(nl, CTRL_ATTR_FAMILY_NAME, name, strlen(name) + 1);
	if (nl_call(nl, name, reply, &rlen))
		die("resolving a generic netlink family");
	id = nl_find(reply, rlen, CTRL_ATTR_FAMILY_ID);
	if (!id) {
		errno = EPROTO;
		die("GETFAMILY reply without an id");
	}
	return *(uint16_t *)((char *)id + NLA_HDRLEN);
}

/* netdev bind-rx / bind-tx: the binding's id. The socket holds the binding. */
static uint32_t bind_dmabuf(struct nl *nl, uint16_t netdev, int ifindex, int fd, int rxq)
{
	char reply[256];
	size_t rlen = sizeof(reply);
	struct nlattr *a;

	nl_start(nl, netdev, rxq >= 0 ? NETDEV_CMD_BIND_RX : NETDEV_CMD_BIND_TX);
	nl_put_u32(nl, NETDEV_A_DMABUF_IFINDEX, (uint32_t)ifindex);
	nl_put_u32(nl, NETDEV_A_DMABUF_FD, (uint32_t)fd);
	if (rxq >= 0) {
		struct nlattr *q = nl_nest(nl, NETDEV_A_DMABUF_QUEUES);

		nl_put_u32(nl, NETDEV_A_QUEUE_ID, (uint32_t)rxq);
		nl_put_u32(nl, NETDEV_A_QUEUE_TYPE, NETDEV_QUEUE_TYPE_RX);
		nl_nest_end(nl, q);
	}
	if (nl_call(nl, rxq >= 0 ? "bind-rx" : "bind-tx", reply, &rlen))
		die(rxq >= 0 ? "bind-rx" : "bind-tx");
	a = nl_find(reply, rlen, NETDEV_A_DMABUF_ID);
	if (!a) {
		errno = EPROTO;
		die("bind reply without an id");
	}
	return *(uint32_t *)((char *)a + NLA_HDRLEN);
}

/* ---- the NIC's set-up: header split, RSS away from the queue, a flow rule to it ---- */

static int ethtool_ioctl(const char *ifname, void *cmd)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	if (fd < 0)
		die("socket for SIOCETHTOOL");
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = cmd;
	ret = ioctl(fd, SIOCETHTOOL, &ifr);
	close(fd);
	return ret;
}

static void nic_setup(struct nl *nl, const char *ifname, int ifindex, int rxq, uint16_t port)
{
	uint16_t ethtool = nl_family(nl, "ethtool");
	struct ethtool_rxnfc rule = { .cmd = ETHTOOL_SRXCLSRLINS };
	struct nlattr *hdr;
	uint8_t split = ETHTOOL_TCP_DATA_SPLIT_ENABLED;

	/* bind-rx needs header split on */
	nl_start(nl, ethtool, ETHTOOL_MSG_RINGS_SET);
	hdr = nl_nest(nl, ETHTOOL_A_RINGS_HEADER);
	nl_put_u32(nl, ETHTOOL_A_HEADER_DEV_INDEX, (uint32_t)ifindex);
	nl_nest_end(nl, hdr);
	nl_put(nl, ETHTOOL_A_RINGS_TCP_DATA_SPLIT, &split, sizeof(split));
	if (nl_call(nl, "rings-set tcp-data-split", NULL, NULL))
		die("enabling TCP header split");

	/* RSS spreads over the queues below the bound one */
	if (rxq > 0) {
		struct ethtool_rxfh_indir *indir;
		struct ethtool_rxfh_indir get = { .cmd = ETHTOOL_GRXFHINDIR };

		if (ethtool_ioctl(ifname, &get))
			die("ETHTOOL_GRXFHINDIR");
		indir = calloc(1, sizeof(*indir) + get.size * sizeof(uint32_t));
		if (!indir)
			die("calloc");
		indir->cmd = ETHTOOL_SRXFHINDIR;
		indir->size = get.size;
		for (uint32_t i = 0; i < get.size; i++)
			indir->ring_index[i] = i % (uint32_t)rxq;
		if (ethtool_ioctl(ifname, indir))
			die("ETHTOOL_SRXFHINDIR");
		free(indir);
	}

	/* the test's flow to the bound queue */
	rule.fs.flow_type = TCP_V4_FLOW;
	rule.fs.h_u.tcp_ip4_spec.pdst = htons(port);
	rule.fs.m_u.tcp_ip4_spec.pdst = 0xffff;
	rule.fs.ring_cookie = (uint64_t)rxq;
	rule.fs.location = RX_CLS_LOC_ANY;
	if (ethtool_ioctl(ifname, &rule))
		die("ETHTOOL_SRXCLSRLINS (a flow rule to the bound queue)");
}

/* ---- the sender (a child process) ---- */

static int wait_completions(int fd, uint32_t *done)
{
	char control[128];
	struct msghdr msg = { .msg_control = control, .msg_controllen = sizeof(control) };
	struct pollfd pfd = { .fd = fd, .events = 0 };
	struct cmsghdr *cm;

	if (poll(&pfd, 1, 2000) != 1 || !(pfd.revents & POLLERR))
		return -1;
	if (recvmsg(fd, &msg, MSG_ERRQUEUE) < 0)
		return -1;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		struct sock_extended_err *ee = (struct sock_extended_err *)CMSG_DATA(cm);

		if (ee->ee_origin != SO_EE_ORIGIN_ZEROCOPY || ee->ee_errno)
			return -1;
		*done = ee->ee_data + 1; /* sends ee_info .. ee_data are complete */
	}
	return 0;
}

static void sender(const char *ifname, int ifindex, uint16_t port, uint64_t total, int ready)
{
	struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = htons(port) };
	char control[CMSG_SPACE(sizeof(uint32_t))];
	uint32_t id, sends = 0, done = 0;
	uint64_t sent = 0;
	struct buf b;
	struct nl nl = { 0 };
	int fd, one = 1;
	char go;

	prog = "devmem-uapi (sender)";
	/* the receiver listens once its queue is bound */
	if (read(ready, &go, 1) != 1)
		exit(1);
	close(ready);
	buf_create(&b);
	buf_sync(&b, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
	for (uint64_t i = 0; i < BUF_SIZE; i++)
		b.map[i] = pattern(i);
	buf_sync(&b, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
	nl_open(&nl);
	id = bind_dmabuf(&nl, nl_family(&nl, "netdev"), ifindex, b.fd, -1);

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) ||
	    setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)))
		die("SO_BINDTODEVICE / SO_ZEROCOPY");
	inet_pton(AF_INET, "127.0.0.1", &peer.sin_addr);
	if (connect(fd, (struct sockaddr *)&peer, sizeof(peer)))
		die("connect");
	while (sent < total) {
		uint64_t off = sent % BUF_SIZE;
		size_t len = CHUNK;
		struct iovec iov;
		struct msghdr msg = { .msg_iov = &iov,
				      .msg_iovlen = 1,
				      .msg_control = control,
				      .msg_controllen = sizeof(control) };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
		ssize_t n;

		if (len > BUF_SIZE - off)
			len = BUF_SIZE - off;
		if (len > total - sent)
			len = total - sent;
		iov.iov_base = (void *)(uintptr_t)off; /* an offset into the dma-buf */
		iov.iov_len = len;
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_DEVMEM_DMABUF;
		cm->cmsg_len = CMSG_LEN(sizeof(id));
		memcpy(CMSG_DATA(cm), &id, sizeof(id));
		n = sendmsg(fd, &msg, MSG_ZEROCOPY);
		if (n < 0)
			die("sendmsg from the dma-buf");
		sent += (uint64_t)n;
		sends++;
		/* the buffer is reused: keep the sends in flight bounded */
		while (sends - done > 64)
			if (wait_completions(fd, &done))
				die("zerocopy completions");
	}
	while (done < sends)
		if (wait_completions(fd, &done)) {
			errno = ETIMEDOUT;
			die("the last zerocopy completions");
		}
	close(fd);
	close(nl.fd); /* unbinds */
	munmap(b.map, BUF_SIZE);
	close(b.fd);
	exit(0);
}

/* ---- the receiver ---- */

static uint64_t receive(int fd, const struct buf *b, uint32_t id)
{
	static char control[CMSG_SPACE(sizeof(struct dmabuf_cmsg)) * 128];
	/* the iovec's length bounds the bytes of one call (dma-buf fragments are not copied) */
	static char linear[128 * 65536];
	uint64_t got = 0;

	for (;;) {
		struct iovec iov = { linear, sizeof(linear) };
		struct msghdr msg = { .msg_iov = &iov,
				      .msg_iovlen = 1,
				      .msg_control = control,
				      .msg_controllen = sizeof(control) };
		struct dmabuf_token tokens[128];
		unsigned int ntok = 0;
		struct cmsghdr *cm;
		ssize_t n = recvmsg(fd, &msg, MSG_SOCK_DEVMEM);

		if (n == 0)
			return got;
		if (n < 0)
			die("recvmsg(MSG_SOCK_DEVMEM)");
		if (!CMSG_FIRSTHDR(&msg)) {
			fprintf(stderr,
				"%s: data outside the dma-buf: the flow rule did not steer "
				"the connection to the bound queue\n",
				prog);
			exit(1);
		}
		for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			struct dmabuf_cmsg *dc = (struct dmabuf_cmsg *)CMSG_DATA(cm);
			const uint8_t *p;

			if (cm->cmsg_level != SOL_SOCKET)
				continue;
			if (cm->cmsg_type == SCM_DEVMEM_LINEAR) {
				/* the header-split leftover, in the iovec */
				for (uint32_t i = 0; i < dc->frag_size; i++, got++)
					if ((uint8_t)linear[i] != pattern(got))
						goto corrupt;
				continue;
			}
			if (cm->cmsg_type != SCM_DEVMEM_DMABUF)
				continue;
			if (dc->dmabuf_id != id || dc->frag_offset + dc->frag_size > BUF_SIZE) {
				fprintf(stderr, "%s: a fragment of binding %u at %llu\n", prog,
					dc->dmabuf_id, (unsigned long long)dc->frag_offset);
				exit(1);
			}
			buf_sync(b, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
			p = b->map + dc->frag_offset;
			for (uint32_t i = 0; i < dc->frag_size; i++, got++)
				if (p[i] != pattern(got))
					goto corrupt;
			buf_sync(b, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
			tokens[ntok].token_start = dc->frag_token;
			tokens[ntok++].token_count = 1;
		}
		if (ntok && setsockopt(fd, SOL_SOCKET, SO_DEVMEM_DONTNEED, tokens,
				       ntok * sizeof(tokens[0])) != (int)ntok)
			die("SO_DEVMEM_DONTNEED");
	}
corrupt:
	fprintf(stderr, "%s: byte %llu of the stream is wrong\n", prog, (unsigned long long)got);
	exit(1);
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	const char *ifname = "lo";
	uint64_t total = 64 << 20, got;
	uint16_t port = 5301;
	int rxq = 1, ifindex, l, fd, c, status, one = 1, ready[2];
	struct nl nl = { 0 };
	struct buf b;
	uint32_t id;
	pid_t child;

	while ((c = getopt(argc, argv, "f:q:p:n:h")) != -1) {
		switch (c) {
		case 'f':
			ifname = optarg;
			break;
		case 'q':
			rxq = atoi(optarg);
			break;
		case 'p':
			port = (uint16_t)atoi(optarg);
			break;
		case 'n':
			total = strtoull(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [-f IFNAME] [-q QUEUE] [-p PORT] [-n BYTES]\n",
				prog);
			return c == 'h' ? 0 : 2;
		}
	}
	ifindex = (int)if_nametoindex(ifname);
	if (!ifindex)
		die(ifname);

	if (pipe(ready))
		die("pipe");
	fflush(stdout);
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		close(ready[1]);
		sender(ifname, ifindex, port, total, ready[0]);
	}
	close(ready[0]);

	buf_create(&b);
	nl_open(&nl);
	nic_setup(&nl, ifname, ifindex, rxq, port);
	id = bind_dmabuf(&nl, nl_family(&nl, "netdev"), ifindex, b.fd, rxq);
	printf("bound rx queue %d of %s: dmabuf id %u\n", rxq, ifname, id);
	fflush(stdout);

	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0)
		die("socket");
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	addr.sin_port = htons(port);
	inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
	if (bind(l, (struct sockaddr *)&addr, sizeof(addr)) || listen(l, 1))
		die("listen");
	if (write(ready[1], "", 1) != 1)
		die("starting the sender");
	close(ready[1]);
	fd = accept(l, NULL, NULL);
	if (fd < 0)
		die("accept");
	got = receive(fd, &b, id);
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "%s: the sender failed\n", prog);
		return 1;
	}
	if (got != total) {
		fprintf(stderr, "%s: %llu of %llu bytes arrived\n", prog, (unsigned long long)got,
			(unsigned long long)total);
		return 1;
	}
	printf("received %llu bytes into the dma-buf, all intact; sent as many from one\n",
	       (unsigned long long)got);
	close(fd);
	close(l);
	close(nl.fd); /* unbinds */
	munmap(b.map, BUF_SIZE);
	close(b.fd);
	return 0;
}
