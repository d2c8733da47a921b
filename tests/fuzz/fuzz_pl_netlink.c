// SPDX-License-Identifier: MIT
/*
 * Fuzzing of the shim's generic netlink request handler
 * (src/preload/netlink.c), from a program's side: run under
 * libdevmem-preload.so, it sends each input on a NETLINK_GENERIC socket
 * and reads back everything that comes, as any program would.
 *
 * The process first moves to a network namespace of its own, so that what
 * the shim passes to the kernel can only touch that namespace's loopback;
 * and each input's message types are folded onto the three families the
 * shim looks at (nlctrl, netdev, ethtool), so no other family of the
 * kernel is ever reached with random bytes.
 *
 * Beyond "no crash" (the suite runs it under AddressSanitizer too): the
 * send returns the whole length or one of the kernel's errno for a send;
 * every datagram that comes back is a sequence of whole netlink messages
 * from the kernel's address; every error is a valid negative errno; the
 * socket still answers a well-formed request afterwards; and no file
 * descriptor is left behind.
 *
 *   fuzz_pl_netlink [ITERATIONS [SEED [SECONDS]]]   (under LD_PRELOAD)
 */

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool_netlink.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "devmem/uapi.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sock = -1;
static uint32_t portid;
static uint16_t fam_netdev, fam_ethtool;
static int dmabuf_fd = -1;
static uint8_t rbuf[1 << 16];

static __attribute__((noreturn)) void broken(const char *what, long value)
{
	fprintf(stderr, "fuzz_pl_netlink: %s (%ld)\n", what, value);
	abort();
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void open_sock(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	socklen_t len = sizeof(sa);
	int one = 1;

	sock = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK, NETLINK_GENERIC);
	if (sock < 0)
		broken("socket", errno);
	setsockopt(sock, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	setsockopt(sock, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	if (bind(sock, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(sock, (struct sockaddr *)&sa, &len))
		broken("bind", errno);
	portid = sa.nl_pid;
}

/* Read everything queued; each datagram whole messages from port id 0. */
static unsigned int drain(void)
{
	unsigned int msgs = 0;

	for (;;) {
		struct sockaddr_nl from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(sock, rbuf, sizeof(rbuf), MSG_DONTWAIT,
				     (struct sockaddr *)&from, &flen);
		const struct nlmsghdr *nlh = (const void *)rbuf;
		size_t rem;

		if (n < 0) {
			if (errno == EAGAIN)
				return msgs;
			/* the kernel's report of answers it could not queue */
			if (errno == ENOBUFS)
				continue;
			broken("recvfrom", errno);
		}
		if (from.nl_pid != 0)
			broken("answer not from the kernel's address", from.nl_pid);
		for (rem = (size_t)n; NLMSG_OK(nlh, rem); nlh = NLMSG_NEXT(nlh, rem)) {
			msgs++;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nlh);

				if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(*e) || e->error > 0 ||
				    e->error < -4095)
					broken("error message", e->error);
			}
		}
		if (rem && rem >= NLMSG_HDRLEN)
			broken("a datagram ends in a partial message", (long)rem);
	}
}

/* Fold every message's type onto the three families the shim reads. */
static void fold_types(uint8_t *buf, size_t len)
{
	size_t off = 0;

	while (len - off >= NLMSG_HDRLEN) {
		struct nlmsghdr *nlh = (void *)(buf + off);
		uint16_t pick = nlh->nlmsg_type % 3;

		if (nlh->nlmsg_type != GENL_ID_CTRL && nlh->nlmsg_type != fam_netdev &&
		    nlh->nlmsg_type != fam_ethtool)
			nlh->nlmsg_type = pick == 0 ? GENL_ID_CTRL :
					  pick == 1 ? fam_netdev :
						      fam_ethtool;
		/* nlctrl: only GETFAMILY, which reads and never changes */
		if (nlh->nlmsg_type == GENL_ID_CTRL && len - off >= NLMSG_HDRLEN + GENL_HDRLEN)
			((struct genlmsghdr *)NLMSG_DATA(nlh))->cmd = CTRL_CMD_GETFAMILY;
		if (nlh->nlmsg_len < NLMSG_HDRLEN || NLMSG_ALIGN(nlh->nlmsg_len) >= len - off)
			break;
		off += NLMSG_ALIGN(nlh->nlmsg_len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint32_t aligned[65536 / 4];
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	ssize_t n;

	if (size > sizeof(aligned))
		size = sizeof(aligned);
	memcpy(aligned, data, size);
	fold_types((uint8_t *)aligned, size);
	n = sendto(sock, aligned, size, 0, (struct sockaddr *)&kernel, sizeof(kernel));
	if (n >= 0 && (size_t)n != size)
		broken("short send", n);
	if (n < 0 && errno != EINVAL && errno != EMSGSIZE && errno != ENOBUFS && errno != EAGAIN &&
	    errno != ECONNREFUSED && errno != EPERM && errno != EFAULT && errno != ENODATA)
		broken("send errno", errno);
	drain();
	return 0;
}

/* ---- the bounded driver ---- */

static uint64_t rnd_state;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

#define NR_SEEDS 8
static uint8_t seeds[NR_SEEDS][512];
static size_t seed_len[NR_SEEDS];

static struct nlmsghdr *msg(uint8_t *buf, uint16_t type, uint16_t flags, uint8_t cmd)
{
	struct nlmsghdr *nlh = (void *)buf;

	memset(buf, 0, 512);
	nlh->nlmsg_len = NLMSG_HDRLEN + GENL_HDRLEN;
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = 1;
	((struct genlmsghdr *)NLMSG_DATA(nlh))->cmd = cmd;
	((struct genlmsghdr *)NLMSG_DATA(nlh))->version = 1;
	return nlh;
}

static struct nlattr *put(struct nlmsghdr *nlh, uint16_t type, const void *data, size_t len)
{
	struct nlattr *nla = (void *)((uint8_t *)nlh + nlh->nlmsg_len);

	nla->nla_type = type;
	nla->nla_len = (uint16_t)(NLA_HDRLEN + len);
	if (len)
		memcpy((uint8_t *)nla + NLA_HDRLEN, data, len);
	nlh->nlmsg_len += NLA_ALIGN(nla->nla_len);
	return nla;
}

static void put_u32(struct nlmsghdr *nlh, uint16_t type, uint32_t v)
{
	put(nlh, type, &v, 4);
}

static void end_nest(struct nlmsghdr *nlh, struct nlattr *nest)
{
	nest->nla_len = (uint16_t)((uint8_t *)nlh + nlh->nlmsg_len - (uint8_t *)nest);
}

static void ethtool_hdr(struct nlmsghdr *nlh)
{
	struct nlattr *h = put(nlh, 1 | NLA_F_NESTED, NULL, 0);

	put_u32(nlh, ETHTOOL_A_HEADER_DEV_INDEX, 1);
	end_nest(nlh, h);
}

static void make_seeds(void)
{
	struct nlmsghdr *nlh;
	struct nlattr *q;
	uint8_t split = 2;
	int i = 0;

	nlh = msg(seeds[i], fam_netdev, NLM_F_ACK, NETDEV_CMD_BIND_RX);
	put_u32(nlh, NETDEV_A_DMABUF_IFINDEX, 1);
	put_u32(nlh, NETDEV_A_DMABUF_FD, (uint32_t)dmabuf_fd);
	q = put(nlh, NETDEV_A_DMABUF_QUEUES | NLA_F_NESTED, NULL, 0);
	put_u32(nlh, NETDEV_A_QUEUE_ID, 1);
	put_u32(nlh, NETDEV_A_QUEUE_TYPE, 0);
	end_nest(nlh, q);
	seed_len[i++] = nlh->nlmsg_len;
	nlh = msg(seeds[i], fam_netdev, NLM_F_ACK, NETDEV_CMD_BIND_TX);
	put_u32(nlh, NETDEV_A_DMABUF_IFINDEX, 1);
	put_u32(nlh, NETDEV_A_DMABUF_FD, (uint32_t)dmabuf_fd);
	seed_len[i++] = nlh->nlmsg_len;
	nlh = msg(seeds[i], fam_netdev, NLM_F_DUMP, NETDEV_CMD_QUEUE_GET);
	put_u32(nlh, NETDEV_A_QUEUE_IFINDEX, 1);
	seed_len[i++] = nlh->nlmsg_len;
	nlh = msg(seeds[i], fam_netdev, NLM_F_DUMP, NETDEV_CMD_DEV_GET);
	seed_len[i++] = nlh->nlmsg_len;
	nlh = msg(seeds[i], fam_ethtool, NLM_F_ACK, ETHTOOL_MSG_RINGS_SET);
	ethtool_hdr(nlh);
	put(nlh, ETHTOOL_A_RINGS_TCP_DATA_SPLIT, &split, 1);
	seed_len[i++] = nlh->nlmsg_len;
	nlh = msg(seeds[i], fam_ethtool, NLM_F_ACK, ETHTOOL_MSG_CHANNELS_GET);
	ethtool_hdr(nlh);
	seed_len[i++] = nlh->nlmsg_len;
	nlh = msg(seeds[i], fam_ethtool, NLM_F_ACK, ETHTOOL_MSG_CHANNELS_SET);
	ethtool_hdr(nlh);
	put_u32(nlh, ETHTOOL_A_CHANNELS_RX_COUNT, 2);
	seed_len[i++] = nlh->nlmsg_len;
	nlh = msg(seeds[i], GENL_ID_CTRL, NLM_F_ACK, CTRL_CMD_GETFAMILY);
	put(nlh, CTRL_ATTR_FAMILY_NAME, "netdev", 7);
	seed_len[i++] = nlh->nlmsg_len;
}

/* GETFAMILY through the shim: the id the program would use. */
static uint16_t family(const char *name)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	uint8_t buf[512];
	struct nlmsghdr *nlh = msg(buf, GENL_ID_CTRL, 0, CTRL_CMD_GETFAMILY);
	uint16_t id = 0;
	ssize_t n;

	put(nlh, CTRL_ATTR_FAMILY_NAME, name, strlen(name) + 1);
	if (sendto(sock, buf, nlh->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		broken("getfamily", errno);
	for (int tries = 0; tries < 1000; tries++) {
		n = recv(sock, rbuf, sizeof(rbuf), MSG_DONTWAIT);
		if (n > 0)
			break;
		usleep(1000);
	}
	nlh = (void *)rbuf;
	if (n > 0 && nlh->nlmsg_type == GENL_ID_CTRL) {
		const struct nlattr *nla = (const void *)((uint8_t *)NLMSG_DATA(nlh) + GENL_HDRLEN);
		size_t rem = nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;

		while (rem >= NLA_HDRLEN && nla->nla_len >= NLA_HDRLEN && nla->nla_len <= rem) {
			if (nla->nla_type == CTRL_ATTR_FAMILY_ID)
				memcpy(&id, (const uint8_t *)nla + NLA_HDRLEN, 2);
			size_t step = NLA_ALIGN((size_t)nla->nla_len);

			rem -= step < rem ? step : rem;
			nla = (const void *)((const uint8_t *)nla + step);
		}
	}
	drain();
	if (!id)
		broken("no family id", 0);
	return id;
}

/* A well-formed request still gets its answer. */
static void check_alive(void)
{
	uint8_t buf[512];
	struct nlmsghdr *nlh = msg(buf, fam_ethtool, NLM_F_ACK, ETHTOOL_MSG_CHANNELS_GET);
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

	ethtool_hdr(nlh);
	drain();
	if (sendto(sock, buf, nlh->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		broken("well-formed send", errno);
	if (drain() != 2)
		broken("well-formed request not answered", 0);
}

static void mutate(uint8_t *buf, size_t *len)
{
	unsigned int ops = 1 + (unsigned int)(rnd() % 4);

	for (unsigned int i = 0; i < ops; i++) {
		size_t at = *len ? (size_t)(rnd() % *len) : 0;

		/* mostly the attributes: a broken header only reaches the kernel */
		if (rnd() % 4 && *len > NLMSG_HDRLEN + GENL_HDRLEN)
			at = NLMSG_HDRLEN + GENL_HDRLEN +
			     (size_t)(rnd() % (*len - NLMSG_HDRLEN - GENL_HDRLEN));

		switch (rnd() % 5) {
		case 0:
			buf[at] ^= (uint8_t)(1u << (rnd() % 8));
			break;
		case 1:
			buf[at] = (uint8_t)rnd();
			break;
		case 2: /* a length field a little off */
			if (at + 1 < *len)
				buf[at & ~(size_t)1] += (uint8_t)(rnd() % 9) - 4;
			break;
		case 3:
			*len = at;
			break;
		default:
			if (*len + 8 < 1024)
				*len += rnd() % 8;
			break;
		}
	}
}

int main(int argc, char **argv)
{
	unsigned long iterations = argc > 1 ? strtoul(argv[1], NULL, 0) : 20000;
	unsigned long seed = argc > 2 ? strtoul(argv[2], NULL, 0) : 0x5eed;
	unsigned long seconds = argc > 3 ? strtoul(argv[3], NULL, 0) : 30;
	time_t start = time(NULL);
	uint8_t buf[1024];
	int fds_at_start;
	unsigned long i;

	if (unshare(CLONE_NEWNET)) {
		printf("SKIP: no network namespace of its own (%s): random requests would reach "
		       "the machine's interfaces\n",
		       strerror(errno));
		return 77;
	}
	fds_at_start = count_fds();
	dmabuf_fd = memfd_create("fuzz", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	if (dmabuf_fd < 0 || ftruncate(dmabuf_fd, 1 << 20) ||
	    fcntl(dmabuf_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW))
		broken("memfd", errno);
	open_sock();
	fam_netdev = family("netdev");
	fam_ethtool = family("ethtool");
	make_seeds();
	rnd_state = seed ? seed : 1;
	for (i = 0; i < iterations && (unsigned long)(time(NULL) - start) < seconds; i++) {
		size_t len;

		if (rnd() % 8 == 0) {
			len = (size_t)(rnd() % 256);
			for (size_t k = 0; k < len; k++)
				buf[k] = (uint8_t)rnd();
		} else {
			unsigned int s = (unsigned int)(rnd() % NR_SEEDS);

			len = seed_len[s];
			memcpy(buf, seeds[s], len);
			mutate(buf, &len);
		}
		LLVMFuzzerTestOneInput(buf, len);
		/* a new socket now and then: its bindings go with the old one */
		if (i % 512 == 511) {
			check_alive();
			close(sock);
			open_sock();
		}
	}
	check_alive();
	close(sock);
	close(dmabuf_fd);
	{
		void (*release_all)(void) = NULL;

		*(void **)&release_all = dlsym(RTLD_DEFAULT, "devmem_preload_release_all");
		if (!release_all)
			broken("not run under libdevmem-preload.so", 0);
		release_all();
	}
	if (count_fds() != fds_at_start)
		broken("file descriptors left open", count_fds() - fds_at_start);
	printf("fuzz_pl_netlink: %lu inputs, seed %#lx\n", i, seed);
	return 0;
}
