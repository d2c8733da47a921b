// SPDX-License-Identifier: MIT
/*
 * Generic netlink under the shim, seen by a program written to the kernel's
 * UAPI only (raw netlink as YNL speaks it, and libmnl): the netdev and
 * ethtool families answered for the software NIC, everything else the
 * kernel's.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <linux/ethtool_netlink.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/udmabuf.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libmnl/libmnl.h>

#include "devmem/uapi.h"

#include "../harness.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NLM_F_CAPPED
#define NLM_F_CAPPED 0x100
#define NLM_F_ACK_TLVS 0x200
#endif
#ifndef NLMSGERR_ATTR_MISS_TYPE
#define NLMSGERR_ATTR_MISS_TYPE 5
#endif
#ifndef ETHTOOL_A_RINGS_TCP_DATA_SPLIT
#define ETHTOOL_A_RINGS_TCP_DATA_SPLIT 11
#endif

#define LO 1
#define BUF_SIZE (1 << 20)

/* ---- a raw client, as YNL's ---- */

struct msgs {
	uint8_t *buf;
	size_t len;
};

/* A generic netlink socket with capped and extended acks, bound; its port id. */
static int nl_open(uint32_t *portid)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	socklen_t len = sizeof(sa);
	int one = 1, fd;

	fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC);
	cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
	cr_assert_eq(setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one)), 0);
	cr_assert_eq(setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one)), 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	cr_assert_neq(sa.nl_pid, 0);
	if (portid)
		*portid = sa.nl_pid;
	return fd;
}

/* Start a message in @buf: nlmsghdr + genlmsghdr. */
static struct nlmsghdr *msg_start(void *buf, uint16_t type, uint16_t flags, uint32_t seq,
				  uint8_t cmd)
{
	struct nlmsghdr *nlh = buf;
	struct genlmsghdr *g = (void *)((uint8_t *)buf + NLMSG_HDRLEN);

	memset(buf, 0, NLMSG_HDRLEN + GENL_HDRLEN);
	nlh->nlmsg_len = NLMSG_HDRLEN + GENL_HDRLEN;
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	g->cmd = cmd;
	g->version = 1;
	return nlh;
}

static struct nlattr *put(struct nlmsghdr *nlh, uint16_t type, const void *data, size_t len)
{
	struct nlattr *nla = (void *)((uint8_t *)nlh + NLMSG_ALIGN(nlh->nlmsg_len));

	nla->nla_type = type;
	nla->nla_len = (uint16_t)(NLA_HDRLEN + len);
	if (len)
		memcpy((uint8_t *)nla + NLA_HDRLEN, data, len);
	memset((uint8_t *)nla + NLA_HDRLEN + len, 0, NLA_ALIGN(len) - len);
	nlh->nlmsg_len = NLMSG_ALIGN(nlh->nlmsg_len) + NLA_ALIGN(nla->nla_len);
	return nla;
}

static void put_u32(struct nlmsghdr *nlh, uint16_t type, uint32_t v)
{
	put(nlh, type, &v, sizeof(v));
}

static struct nlattr *nest_start(struct nlmsghdr *nlh, uint16_t type)
{
	return put(nlh, type | NLA_F_NESTED, NULL, 0);
}

static void nest_end(struct nlmsghdr *nlh, struct nlattr *nest)
{
	nest->nla_len = (uint16_t)((uint8_t *)nlh + nlh->nlmsg_len - (uint8_t *)nest);
}

static void send_msg(int fd, const void *buf, size_t len)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

	cr_assert_eq(sendto(fd, buf, len, 0, (struct sockaddr *)&kernel, sizeof(kernel)),
		     (ssize_t)len, "sendto: %s", strerror(errno));
}

/*
 * Read until @ends messages that end an exchange (NLMSG_ERROR, NLMSG_DONE)
 * have come; every datagram must come from the kernel's address.
 */
static void recv_until(int fd, struct msgs *m, int ends)
{
	m->buf = malloc(BUF_SIZE);
	m->len = 0;
	cr_assert_not_null(m->buf);
	while (ends > 0) {
		struct sockaddr_nl from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(fd, m->buf + m->len, BUF_SIZE - m->len, 0,
				     (struct sockaddr *)&from, &flen);
		struct nlmsghdr *nlh = (void *)(m->buf + m->len);
		size_t rem;

		cr_assert_gt(n, 0, "recvfrom: %s", strerror(errno));
		cr_assert_eq(from.nl_pid, 0, "answer from port id %u", from.nl_pid);
		for (rem = (size_t)n; NLMSG_OK(nlh, rem); nlh = NLMSG_NEXT(nlh, rem))
			if (nlh->nlmsg_type == NLMSG_ERROR || nlh->nlmsg_type == NLMSG_DONE)
				ends--;
		m->len += (size_t)n;
	}
}

#define for_each_msg(nlh, m, rem) \
	for (nlh = (void *)(m)->buf, rem = (m)->len; NLMSG_OK(nlh, rem); nlh = NLMSG_NEXT(nlh, rem))

/* The attribute @type of a generic netlink message (or of the nest @in). */
static const struct nlattr *attr_in(const void *data, size_t len, uint16_t type)
{
	const struct nlattr *nla = data;
	size_t rem = len;

	while (rem >= NLA_HDRLEN && nla->nla_len >= NLA_HDRLEN && nla->nla_len <= rem) {
		if ((nla->nla_type & NLA_TYPE_MASK) == type)
			return nla;
		rem -= NLA_ALIGN(nla->nla_len) < rem ? NLA_ALIGN(nla->nla_len) : rem;
		nla = (const void *)((const uint8_t *)nla + NLA_ALIGN(nla->nla_len));
	}
	return NULL;
}

static const struct nlattr *attr(const struct nlmsghdr *nlh, uint16_t type)
{
	return attr_in((const uint8_t *)nlh + NLMSG_HDRLEN + GENL_HDRLEN,
		       nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN, type);
}

static uint32_t u32_of(const struct nlattr *nla)
{
	uint32_t v;

	cr_assert_not_null(nla);
	memcpy(&v, (const uint8_t *)nla + NLA_HDRLEN, sizeof(v));
	return v;
}

/* The errno of an NLMSG_ERROR message, and its extack attributes' place. */
static int err_of(const struct nlmsghdr *nlh, const uint8_t **tlv, size_t *tlv_len)
{
	const struct nlmsgerr *e = NLMSG_DATA(nlh);
	size_t hlen = sizeof(*e);

	cr_assert_eq(nlh->nlmsg_type, NLMSG_ERROR);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		hlen += e->msg.nlmsg_len - NLMSG_HDRLEN;
	hlen = NLMSG_ALIGN(hlen);
	if (tlv) {
		*tlv = (const uint8_t *)nlh + NLMSG_HDRLEN + hlen;
		*tlv_len = nlh->nlmsg_len - NLMSG_HDRLEN - hlen;
	}
	return e->error;
}

static const char *ext_msg(const struct nlmsghdr *nlh)
{
	const uint8_t *tlv;
	size_t len;
	const struct nlattr *m;

	err_of(nlh, &tlv, &len);
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return "";
	m = attr_in(tlv, len, NLMSGERR_ATTR_MSG);
	return m ? (const char *)m + NLA_HDRLEN : "";
}

static const struct nlattr *ext_attr(const struct nlmsghdr *nlh, uint16_t type)
{
	const uint8_t *tlv;
	size_t len;

	err_of(nlh, &tlv, &len);
	return nlh->nlmsg_flags & NLM_F_ACK_TLVS ? attr_in(tlv, len, type) : NULL;
}

/* CTRL_CMD_GETFAMILY: the family's id (0 when the answer is an error). */
static uint16_t family(int fd, const char *name)
{
	uint8_t buf[256];
	struct nlmsghdr *nlh = msg_start(buf, GENL_ID_CTRL, NLM_F_ACK, 1, CTRL_CMD_GETFAMILY);
	struct msgs m;
	size_t rem;
	uint16_t id = 0;

	put(nlh, CTRL_ATTR_FAMILY_NAME, name, strlen(name) + 1);
	send_msg(fd, buf, nlh->nlmsg_len);
	recv_until(fd, &m, 1);
	for_each_msg(nlh, &m, rem) if (nlh->nlmsg_type == GENL_ID_CTRL)
		memcpy(&id, (const uint8_t *)attr(nlh, CTRL_ATTR_FAMILY_ID) + NLA_HDRLEN, 2);
	free(m.buf);
	return id;
}

/* One do request: its reply (copied to @reply when not NULL) and its errno. */
static int request(int fd, const struct nlmsghdr *req, void *reply, size_t cap)
{
	struct nlmsghdr *nlh;
	struct msgs m;
	size_t rem;
	int err = 1;

	send_msg(fd, req, req->nlmsg_len);
	recv_until(fd, &m, 1);
	for_each_msg(nlh, &m, rem)
	{
		cr_assert_eq(nlh->nlmsg_seq, req->nlmsg_seq);
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			err = err_of(nlh, NULL, NULL);
			if (reply && err)
				memcpy(reply, nlh, nlh->nlmsg_len < cap ? nlh->nlmsg_len : cap);
		} else if (reply) {
			memcpy(reply, nlh, nlh->nlmsg_len < cap ? nlh->nlmsg_len : cap);
		}
	}
	free(m.buf);
	return err;
}

/* A dma-buf of @size bytes as a program makes one: UDMABUF_CREATE over a sealed memfd. */
static int host_dmabuf(size_t size)
{
	struct udmabuf_create create = { .size = size };
	int memfd = memfd_create("pl-netlink", MFD_ALLOW_SEALING | MFD_CLOEXEC), dev, fd;

	cr_assert_geq(memfd, 0);
	cr_assert_eq(ftruncate(memfd, (off_t)size), 0);
	cr_assert_eq(fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	cr_assert_geq(dev, 0, "/dev/udmabuf: %s", strerror(errno));
	create.memfd = (uint32_t)memfd;
	create.flags = UDMABUF_FLAGS_CLOEXEC;
	fd = ioctl(dev, UDMABUF_CREATE, &create);
	cr_assert_geq(fd, 0, "UDMABUF_CREATE: %s", strerror(errno));
	close(dev);
	close(memfd);
	return fd;
}

static int bind_rx(int fd, uint16_t netdev, uint32_t ifindex, uint32_t dmabuf, uint32_t queue,
		   void *reply, size_t cap)
{
	uint8_t buf[256];
	struct nlmsghdr *nlh = msg_start(buf, netdev, NLM_F_ACK, 7, NETDEV_CMD_BIND_RX);
	struct nlattr *q;

	put_u32(nlh, NETDEV_A_DMABUF_IFINDEX, ifindex);
	put_u32(nlh, NETDEV_A_DMABUF_FD, dmabuf);
	q = nest_start(nlh, NETDEV_A_DMABUF_QUEUES);
	put_u32(nlh, NETDEV_A_QUEUE_ID, queue);
	put_u32(nlh, NETDEV_A_QUEUE_TYPE, NETDEV_QUEUE_TYPE_RX);
	nest_end(nlh, q);
	return request(fd, nlh, reply, cap);
}

static int rings_set_split(int fd, uint16_t ethtool, uint8_t split)
{
	uint8_t buf[128];
	struct nlmsghdr *nlh = msg_start(buf, ethtool, NLM_F_ACK, 3, ETHTOOL_MSG_RINGS_SET);
	struct nlattr *hdr = nest_start(nlh, ETHTOOL_A_RINGS_HEADER);

	put_u32(nlh, ETHTOOL_A_HEADER_DEV_INDEX, LO);
	nest_end(nlh, hdr);
	put(nlh, ETHTOOL_A_RINGS_TCP_DATA_SPLIT, &split, 1);
	return request(fd, nlh, NULL, 0);
}

/* queue-get of rx queue @q of lo: its NETDEV_A_QUEUE_DMABUF, 0 when it has none. */
static uint32_t queue_dmabuf(int fd, uint16_t netdev, uint32_t q)
{
	uint8_t buf[128], reply[512];
	struct nlmsghdr *nlh = msg_start(buf, netdev, NLM_F_ACK, 9, NETDEV_CMD_QUEUE_GET);
	const struct nlattr *d;

	put_u32(nlh, NETDEV_A_QUEUE_IFINDEX, LO);
	put_u32(nlh, NETDEV_A_QUEUE_TYPE, NETDEV_QUEUE_TYPE_RX);
	put_u32(nlh, NETDEV_A_QUEUE_ID, q);
	cr_assert_eq(request(fd, nlh, reply, sizeof(reply)), 0);
	cr_assert_eq(u32_of(attr((void *)reply, NETDEV_A_QUEUE_ID)), q);
	d = attr((void *)reply, NETDEV_A_QUEUE_DMABUF);
	return d ? u32_of(d) : 0;
}

/* An ethtool request on lo with its header and one u32 attribute (none when @type is 0). */
static int ethtool_req(int fd, uint16_t eth, uint8_t cmd, uint16_t type, uint32_t v, void *reply,
		       size_t cap)
{
	uint8_t buf[128];
	struct nlmsghdr *nlh = msg_start(buf, eth, NLM_F_ACK, 31, cmd);
	struct nlattr *hdr = nest_start(nlh, 1);

	put_u32(nlh, ETHTOOL_A_HEADER_DEV_INDEX, LO);
	nest_end(nlh, hdr);
	if (type)
		put_u32(nlh, type, v);
	return request(fd, nlh, reply, cap);
}

/* ---- tests ---- */

/* genl_ctrl: the families resolve, and the answer comes from port id 0 with the request's seq. */
Test(pl_netlink, getfamily_of_netdev_and_ethtool_gives_their_ids_and_an_ack)
{
	uint8_t buf[256];
	struct nlmsghdr *nlh = msg_start(buf, GENL_ID_CTRL, NLM_F_ACK, 42, CTRL_CMD_GETFAMILY);
	uint32_t portid;
	int fd = nl_open(&portid), acks = 0, replies = 0;
	struct msgs m;
	size_t rem;

	put(nlh, CTRL_ATTR_FAMILY_NAME, "netdev", 7);
	send_msg(fd, buf, nlh->nlmsg_len);
	recv_until(fd, &m, 1);
	for_each_msg(nlh, &m, rem)
	{
		cr_assert_eq(nlh->nlmsg_seq, 42);
		cr_assert_eq(nlh->nlmsg_pid, portid);
		if (nlh->nlmsg_type == GENL_ID_CTRL) {
			replies++;
			cr_assert_str_eq((const char *)attr(nlh, CTRL_ATTR_FAMILY_NAME) +
						 NLA_HDRLEN,
					 "netdev");
			cr_assert_not_null(attr(nlh, CTRL_ATTR_MCAST_GROUPS));
		} else {
			acks++;
			cr_assert_eq(err_of(nlh, NULL, NULL), 0);
			/* NETLINK_CAP_ACK: the request is not echoed */
			cr_assert(nlh->nlmsg_flags & NLM_F_CAPPED);
			cr_assert_eq(nlh->nlmsg_len, NLMSG_HDRLEN + sizeof(struct nlmsgerr));
		}
	}
	cr_assert_eq(replies, 1);
	cr_assert_eq(acks, 1);
	free(m.buf);
	cr_assert_neq(family(fd, "ethtool"), 0);
	close(fd);
}

/* channels_fill_reply(): the software NIC's rx and tx channels, with the header naming lo. */
Test(pl_netlink, channels_get_on_lo_reports_the_software_nic_queues)
{
	uint8_t buf[128], reply[512];
	int fd = nl_open(NULL);
	uint16_t eth = family(fd, "ethtool");
	struct nlmsghdr *nlh = msg_start(buf, eth, NLM_F_ACK, 5, ETHTOOL_MSG_CHANNELS_GET);
	struct nlattr *hdr = nest_start(nlh, ETHTOOL_A_CHANNELS_HEADER);
	const struct nlattr *h;

	put_u32(nlh, ETHTOOL_A_HEADER_DEV_INDEX, LO);
	nest_end(nlh, hdr);
	cr_assert_eq(request(fd, nlh, reply, sizeof(reply)), 0);
	nlh = (void *)reply;
	cr_assert_eq(nlh->nlmsg_type, eth);
	cr_assert_geq(u32_of(attr(nlh, ETHTOOL_A_CHANNELS_RX_COUNT)), 1);
	cr_assert_geq(u32_of(attr(nlh, ETHTOOL_A_CHANNELS_RX_MAX)),
		      u32_of(attr(nlh, ETHTOOL_A_CHANNELS_RX_COUNT)));
	cr_assert_geq(u32_of(attr(nlh, ETHTOOL_A_CHANNELS_TX_COUNT)), 1);
	h = attr(nlh, ETHTOOL_A_CHANNELS_HEADER);
	cr_assert_not_null(h);
	cr_assert_str_eq((const char *)attr_in((const uint8_t *)h + NLA_HDRLEN,
					       h->nla_len - NLA_HDRLEN, ETHTOOL_A_HEADER_DEV_NAME) +
				 NLA_HDRLEN,
			 "lo");
	close(fd);
}

/* ethnl_parse_header_dev_get(): an index and a name that are not the same device. */
Test(pl_netlink, ethtool_header_with_index_and_other_name_is_enodev)
{
	uint8_t buf[128], reply[512];
	int fd = nl_open(NULL);
	uint16_t eth = family(fd, "ethtool");
	struct nlmsghdr *nlh = msg_start(buf, eth, NLM_F_ACK, 5, ETHTOOL_MSG_CHANNELS_GET);
	struct nlattr *hdr = nest_start(nlh, ETHTOOL_A_CHANNELS_HEADER);

	put_u32(nlh, ETHTOOL_A_HEADER_DEV_INDEX, LO);
	put(nlh, ETHTOOL_A_HEADER_DEV_NAME, "nosuchdev0", 11);
	nest_end(nlh, hdr);
	cr_assert_eq(request(fd, nlh, reply, sizeof(reply)), -ENODEV);
	cr_assert_str_eq(ext_msg((void *)reply), "ifindex and name do not match");
	close(fd);
}

/* rings-set tcp-data-split: what rings-get then reports. */
Test(pl_netlink, rings_set_tcp_data_split_is_what_rings_get_reports)
{
	uint8_t buf[128], reply[512];
	int fd = nl_open(NULL);
	uint16_t eth = family(fd, "ethtool");
	struct nlmsghdr *nlh;
	struct nlattr *hdr;
	const struct nlattr *split;

	cr_assert_eq(rings_set_split(fd, eth, ETHTOOL_TCP_DATA_SPLIT_ENABLED), 0);
	nlh = msg_start(buf, eth, NLM_F_ACK, 4, ETHTOOL_MSG_RINGS_GET);
	hdr = nest_start(nlh, ETHTOOL_A_RINGS_HEADER);
	put_u32(nlh, ETHTOOL_A_HEADER_DEV_INDEX, LO);
	nest_end(nlh, hdr);
	cr_assert_eq(request(fd, nlh, reply, sizeof(reply)), 0);
	split = attr((void *)reply, ETHTOOL_A_RINGS_TCP_DATA_SPLIT);
	cr_assert_not_null(split);
	cr_assert_eq(*((const uint8_t *)split + NLA_HDRLEN), ETHTOOL_TCP_DATA_SPLIT_ENABLED);
	close(fd);
}

/*
 * netdev_nl_bind_rx_doit(): the id comes back in NETDEV_A_DMABUF_ID, the
 * queue names the binding, and closing the socket unbinds it
 * (netdev_nl_sock_priv_destroy()).
 */
Test(pl_netlink, bind_rx_gives_an_id_and_closing_the_socket_unbinds)
{
	uint8_t reply[512];
	int fd = nl_open(NULL), fd2, dmabuf = host_dmabuf(1 << 20);
	uint16_t netdev = family(fd, "netdev"), eth = family(fd, "ethtool");
	uint32_t id;

	cr_assert_eq(rings_set_split(fd, eth, ETHTOOL_TCP_DATA_SPLIT_ENABLED), 0);
	cr_assert_eq(bind_rx(fd, netdev, LO, (uint32_t)dmabuf, 1, reply, sizeof(reply)), 0);
	id = u32_of(attr((void *)reply, NETDEV_A_DMABUF_ID));
	cr_assert_geq(id, 1);
	fd2 = nl_open(NULL);
	cr_assert_eq(queue_dmabuf(fd2, netdev, 1), id);
	cr_assert_eq(queue_dmabuf(fd2, netdev, 0), 0);
	close(fd);
	cr_assert_eq(queue_dmabuf(fd2, netdev, 1), 0);
	close(fd2);
	close(dmabuf);
}

/* The binding belongs to the socket's file: a dup keeps it until the last fd goes. */
Test(pl_netlink, a_dup_of_the_socket_keeps_the_binding_until_the_last_close)
{
	uint8_t reply[512];
	int fd = nl_open(NULL), dup_fd, other, dmabuf = host_dmabuf(1 << 20);
	uint16_t netdev = family(fd, "netdev"), eth = family(fd, "ethtool");
	uint32_t id;

	cr_assert_eq(rings_set_split(fd, eth, ETHTOOL_TCP_DATA_SPLIT_ENABLED), 0);
	cr_assert_eq(bind_rx(fd, netdev, LO, (uint32_t)dmabuf, 2, reply, sizeof(reply)), 0);
	id = u32_of(attr((void *)reply, NETDEV_A_DMABUF_ID));
	dup_fd = dup(fd);
	cr_assert_geq(dup_fd, 0);
	close(fd);
	other = nl_open(NULL);
	cr_assert_eq(queue_dmabuf(other, netdev, 2), id);
	close(dup_fd);
	cr_assert_eq(queue_dmabuf(other, netdev, 2), 0);
	close(other);
	close(dmabuf);
}

/* netdev_nl_bind_tx_doit(): an id for the transmit binding. */
Test(pl_netlink, bind_tx_gives_an_id)
{
	uint8_t buf[128], reply[512];
	int fd = nl_open(NULL), dmabuf = host_dmabuf(1 << 20);
	uint16_t netdev = family(fd, "netdev");
	struct nlmsghdr *nlh = msg_start(buf, netdev, NLM_F_ACK, 8, NETDEV_CMD_BIND_TX);

	put_u32(nlh, NETDEV_A_DMABUF_IFINDEX, LO);
	put_u32(nlh, NETDEV_A_DMABUF_FD, (uint32_t)dmabuf);
	cr_assert_eq(request(fd, nlh, reply, sizeof(reply)), 0);
	cr_assert_geq(u32_of(attr((void *)reply, NETDEV_A_DMABUF_ID)), 1);
	close(fd);
	close(dmabuf);
}

/* dma_buf_get(): an fd that is not open is EBADF, one that is no dma-buf EINVAL. */
Test(pl_netlink, bind_rx_with_a_closed_fd_is_ebadf_and_with_a_pipe_einval)
{
	uint8_t reply[512];
	int fd = nl_open(NULL), p[2];
	uint16_t netdev = family(fd, "netdev"), eth = family(fd, "ethtool");

	cr_assert_eq(rings_set_split(fd, eth, ETHTOOL_TCP_DATA_SPLIT_ENABLED), 0);
	cr_assert_eq(bind_rx(fd, netdev, LO, 999, 0, reply, sizeof(reply)), -EBADF);
	cr_assert_str_eq(ext_msg((void *)reply), "");
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(bind_rx(fd, netdev, LO, (uint32_t)p[0], 0, reply, sizeof(reply)), -EINVAL);
	cr_assert_str_eq(ext_msg((void *)reply), "");
	close(p[0]);
	close(p[1]);
	close(fd);
}

/*
 * netdev_nl_read_rxq_bitmap(): a queue beyond the device's rx queues, with
 * no message and the queue's id as the bad attribute.
 */
Test(pl_netlink, bind_rx_of_a_queue_out_of_range_is_einval)
{
	uint8_t buf[256], reply[512];
	int fd = nl_open(NULL), dmabuf = host_dmabuf(1 << 20);
	uint16_t netdev = family(fd, "netdev"), eth = family(fd, "ethtool");
	struct nlmsghdr *nlh = msg_start(buf, netdev, NLM_F_ACK, 7, NETDEV_CMD_BIND_RX);
	struct nlattr *q, *bad;

	cr_assert_eq(rings_set_split(fd, eth, ETHTOOL_TCP_DATA_SPLIT_ENABLED), 0);
	put_u32(nlh, NETDEV_A_DMABUF_IFINDEX, LO);
	put_u32(nlh, NETDEV_A_DMABUF_FD, (uint32_t)dmabuf);
	q = nest_start(nlh, NETDEV_A_DMABUF_QUEUES);
	put_u32(nlh, NETDEV_A_QUEUE_ID, 0);
	put_u32(nlh, NETDEV_A_QUEUE_TYPE, NETDEV_QUEUE_TYPE_RX);
	nest_end(nlh, q);
	q = nest_start(nlh, NETDEV_A_DMABUF_QUEUES);
	put_u32(nlh, NETDEV_A_QUEUE_TYPE, NETDEV_QUEUE_TYPE_RX);
	bad = put(nlh, NETDEV_A_QUEUE_ID, &(uint32_t){ 1000 }, sizeof(uint32_t));
	nest_end(nlh, q);
	cr_assert_eq(request(fd, nlh, reply, sizeof(reply)), -EINVAL);
	cr_assert_str_eq(ext_msg((void *)reply), "");
	cr_assert_eq(u32_of(ext_attr((void *)reply, NLMSGERR_ATTR_OFFS)),
		     (uint32_t)((uint8_t *)bad - buf));
	cr_assert_eq(queue_dmabuf(fd, netdev, 0), 0);
	close(fd);
	close(dmabuf);
}

/* __net_mp_open_rxq(): a memory provider needs header split on; the kernel's text alone. */
Test(pl_netlink, bind_rx_with_tcp_data_split_disabled_says_so)
{
	uint8_t reply[512];
	int fd = nl_open(NULL), dmabuf = host_dmabuf(1 << 20);
	uint16_t netdev = family(fd, "netdev"), eth = family(fd, "ethtool");

	cr_assert_eq(rings_set_split(fd, eth, ETHTOOL_TCP_DATA_SPLIT_DISABLED), 0);
	cr_assert_eq(bind_rx(fd, netdev, LO, (uint32_t)dmabuf, 1, reply, sizeof(reply)), -EINVAL);
	cr_assert_str_eq(ext_msg((void *)reply), "tcp-data-split is disabled");
	cr_assert_null(ext_attr((void *)reply, NLMSGERR_ATTR_OFFS));
	close(fd);
	close(dmabuf);
}

/*
 * __net_mp_open_rxq(): a queue another process bound is refused with the
 * kernel's text alone. The other process is forked before this one touches
 * the software NIC (a child forked later cannot use it: README's fork()).
 */
Test(pl_netlink, bind_rx_of_a_queue_bound_by_another_process_is_eexist)
{
	uint8_t reply[512];
	int fd, dmabuf, ready[2], done[2], status;
	uint16_t netdev, eth;
	pid_t pid;
	char c = 0;

	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(done), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (!pid) {
		int cfd, cbuf;
		uint16_t cnetdev;

		/* its end of @done closed, the parent's exit ends the wait below */
		close(done[1]);
		close(ready[0]);
		cfd = nl_open(NULL);
		cbuf = host_dmabuf(1 << 20);
		cnetdev = family(cfd, "netdev");

		c = (char)(rings_set_split(cfd, family(cfd, "ethtool"),
					   ETHTOOL_TCP_DATA_SPLIT_ENABLED) == 0 &&
			   bind_rx(cfd, cnetdev, LO, (uint32_t)cbuf, 3, reply, sizeof(reply)) == 0);
		(void)!write(ready[1], &c, 1);
		(void)!read(done[0], &c, 1);
		_exit(0);
	}
	close(ready[1]);
	close(done[0]);
	cr_assert_eq(read(ready[0], &c, 1), 1);
	cr_assert_eq(c, 1, "the other process could not bind queue 3");
	fd = nl_open(NULL);
	dmabuf = host_dmabuf(1 << 20);
	netdev = family(fd, "netdev");
	eth = family(fd, "ethtool");
	cr_assert_eq(rings_set_split(fd, eth, ETHTOOL_TCP_DATA_SPLIT_ENABLED), 0);
	cr_assert_eq(bind_rx(fd, netdev, LO, (uint32_t)dmabuf, 3, reply, sizeof(reply)), -EEXIST);
	cr_assert_str_eq(ext_msg((void *)reply), "designated queue already memory provider bound");
	close(done[1]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	close(ready[0]);
	/* the other process is gone: the queue is free again */
	cr_assert_eq(bind_rx(fd, netdev, LO, (uint32_t)dmabuf, 3, reply, sizeof(reply)), 0);
	close(fd);
	close(dmabuf);
}

/* net_devmem_bind_dmabuf(): dma_buf_get()'s errno for bind-tx too, and no message. */
Test(pl_netlink, bind_tx_with_a_closed_fd_is_ebadf_without_a_message)
{
	uint8_t buf[128], reply[512];
	int fd = nl_open(NULL);
	uint16_t netdev = family(fd, "netdev");
	struct nlmsghdr *nlh = msg_start(buf, netdev, NLM_F_ACK, 8, NETDEV_CMD_BIND_TX);

	put_u32(nlh, NETDEV_A_DMABUF_IFINDEX, LO);
	put_u32(nlh, NETDEV_A_DMABUF_FD, 999);
	cr_assert_eq(request(fd, nlh, reply, sizeof(reply)), -EBADF);
	cr_assert_str_eq(ext_msg((void *)reply), "");
	close(fd);
}

/* ethtool_check_max_channel(): the rx count cannot drop below a bound queue; the count is named. */
Test(pl_netlink, channels_set_below_a_bound_queue_names_the_memory_provider_count)
{
	uint8_t reply[512];
	int fd = nl_open(NULL), dmabuf = host_dmabuf(1 << 20);
	uint16_t netdev = family(fd, "netdev"), eth = family(fd, "ethtool");

	cr_assert_eq(rings_set_split(fd, eth, ETHTOOL_TCP_DATA_SPLIT_ENABLED), 0);
	cr_assert_eq(bind_rx(fd, netdev, LO, (uint32_t)dmabuf, 2, reply, sizeof(reply)), 0);
	cr_assert_eq(ethtool_req(fd, eth, ETHTOOL_MSG_CHANNELS_SET, ETHTOOL_A_CHANNELS_RX_COUNT, 2,
				 reply, sizeof(reply)),
		     -EINVAL);
	cr_assert_str_eq(
		ext_msg((void *)reply),
		"requested channel counts are too low for existing memory provider setting (3)");
	close(fd);
	close(dmabuf);
}

/* GENL_REQ_ATTR_CHECK(): a missing attribute is named in NLMSGERR_ATTR_MISS_TYPE. */
Test(pl_netlink, bind_rx_without_queues_names_the_missing_attribute)
{
	uint8_t buf[128], reply[512];
	int fd = nl_open(NULL), dmabuf = host_dmabuf(1 << 20);
	uint16_t netdev = family(fd, "netdev");
	struct nlmsghdr *nlh = msg_start(buf, netdev, NLM_F_ACK, 8, NETDEV_CMD_BIND_RX);

	put_u32(nlh, NETDEV_A_DMABUF_IFINDEX, LO);
	put_u32(nlh, NETDEV_A_DMABUF_FD, (uint32_t)dmabuf);
	cr_assert_eq(request(fd, nlh, reply, sizeof(reply)), -EINVAL);
	cr_assert_eq(u32_of(ext_attr((void *)reply, NLMSGERR_ATTR_MISS_TYPE)),
		     NETDEV_A_DMABUF_QUEUES);
	close(fd);
	close(dmabuf);
}

/* validate_nla(): an attribute of the wrong length, with its offset in the extack. */
Test(pl_netlink, bind_rx_with_a_short_fd_attribute_is_einval_at_its_offset)
{
	uint8_t buf[128], reply[512];
	int fd = nl_open(NULL);
	uint16_t netdev = family(fd, "netdev"), short_fd = 3;
	struct nlmsghdr *nlh = msg_start(buf, netdev, NLM_F_ACK, 8, NETDEV_CMD_BIND_RX);
	struct nlattr *bad;

	put_u32(nlh, NETDEV_A_DMABUF_IFINDEX, LO);
	bad = put(nlh, NETDEV_A_DMABUF_FD, &short_fd, sizeof(short_fd));
	cr_assert_eq(request(fd, nlh, reply, sizeof(reply)), -EINVAL);
	cr_assert_eq(u32_of(ext_attr((void *)reply, NLMSGERR_ATTR_OFFS)),
		     (uint32_t)((uint8_t *)bad - buf));
	close(fd);
}

/* genl_get_cmd(): a command the family does not have. */
Test(pl_netlink, an_unknown_netdev_command_is_eopnotsupp)
{
	uint8_t buf[128];
	int fd = nl_open(NULL);
	uint16_t netdev = family(fd, "netdev");
	struct nlmsghdr *nlh = msg_start(buf, netdev, NLM_F_ACK, 8, 99);

	put_u32(nlh, NETDEV_A_DEV_IFINDEX, LO);
	cr_assert_eq(request(fd, nlh, NULL, 0), -EOPNOTSUPP);
	close(fd);
}

/* Without NETLINK_EXT_ACK no attributes follow the error; without CAP_ACK the request is echoed. */
Test(pl_netlink, without_ext_ack_and_cap_ack_the_error_echoes_the_request_alone)
{
	uint8_t buf[128], reply[512];
	int fd = nl_open(NULL), zero = 0;
	uint16_t netdev = family(fd, "netdev");
	struct nlmsghdr *nlh = msg_start(buf, netdev, NLM_F_ACK, 8, NETDEV_CMD_BIND_RX);
	const struct nlmsghdr *r = (void *)reply;

	cr_assert_eq(setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &zero, sizeof(zero)), 0);
	cr_assert_eq(setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &zero, sizeof(zero)), 0);
	put_u32(nlh, NETDEV_A_DMABUF_IFINDEX, LO);
	cr_assert_eq(request(fd, nlh, reply, sizeof(reply)), -EINVAL);
	cr_assert_eq(r->nlmsg_flags & (NLM_F_ACK_TLVS | NLM_F_CAPPED), 0);
	cr_assert_eq(r->nlmsg_len, NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(int) + nlh->nlmsg_len));
	cr_assert_eq(memcmp(&((const struct nlmsgerr *)NLMSG_DATA(r))->msg, nlh, nlh->nlmsg_len),
		     0);
	close(fd);
}

/* netdev_nl_queue_get_dumpit(): every queue of lo, then NLMSG_DONE with NLM_F_MULTI. */
Test(pl_netlink, queue_dump_of_lo_lists_its_queues_then_done)
{
	uint8_t buf[128];
	uint32_t portid;
	int fd = nl_open(&portid), rx = 0, tx = 0, done = 0;
	uint16_t netdev = family(fd, "netdev");
	struct nlmsghdr *nlh = msg_start(buf, netdev, NLM_F_DUMP, 11, NETDEV_CMD_QUEUE_GET);
	struct msgs m;
	size_t rem;

	put_u32(nlh, NETDEV_A_QUEUE_IFINDEX, LO);
	send_msg(fd, buf, nlh->nlmsg_len);
	recv_until(fd, &m, 1);
	for_each_msg(nlh, &m, rem)
	{
		cr_assert_eq(nlh->nlmsg_seq, 11);
		cr_assert_eq(nlh->nlmsg_pid, portid);
		if (nlh->nlmsg_type == NLMSG_DONE) {
			done++;
			cr_assert(nlh->nlmsg_flags & NLM_F_MULTI);
			cr_assert_eq(*(const int *)NLMSG_DATA(nlh), 0);
			continue;
		}
		cr_assert_eq(u32_of(attr(nlh, NETDEV_A_QUEUE_IFINDEX)), LO);
		if (u32_of(attr(nlh, NETDEV_A_QUEUE_TYPE)) == NETDEV_QUEUE_TYPE_RX)
			rx++;
		else
			tx++;
	}
	cr_assert_eq(done, 1);
	cr_assert_geq(rx, 1);
	cr_assert_geq(tx, 1);
	free(m.buf);
	close(fd);
}

/* netdev_nl_dev_get_dumpit(): every device in ifindex order, lo among them. */
Test(pl_netlink, dev_dump_lists_devices_in_ifindex_order_then_done)
{
	uint8_t buf[128];
	int fd = nl_open(NULL), done = 0, found_lo = 0;
	uint16_t netdev = family(fd, "netdev");
	struct nlmsghdr *nlh = msg_start(buf, netdev, NLM_F_DUMP, 12, NETDEV_CMD_DEV_GET);
	uint32_t last = 0;
	struct msgs m;
	size_t rem;

	send_msg(fd, buf, nlh->nlmsg_len);
	recv_until(fd, &m, 1);
	for_each_msg(nlh, &m, rem)
	{
		uint32_t idx;

		if (nlh->nlmsg_type == NLMSG_DONE) {
			done++;
			continue;
		}
		idx = u32_of(attr(nlh, NETDEV_A_DEV_IFINDEX));
		cr_assert_gt(idx, last);
		last = idx;
		found_lo += idx == LO;
	}
	cr_assert_eq(done, 1);
	cr_assert_eq(found_lo, 1);
	free(m.buf);
	close(fd);
}

/* A dump for a device that does not exist ends with its errno in NLMSG_DONE. */
Test(pl_netlink, queue_dump_of_a_missing_device_ends_with_enodev)
{
	uint8_t buf[128];
	int fd = nl_open(NULL), err = 1;
	uint16_t netdev = family(fd, "netdev");
	struct nlmsghdr *nlh = msg_start(buf, netdev, NLM_F_DUMP, 13, NETDEV_CMD_QUEUE_GET);
	struct msgs m;
	size_t rem;

	put_u32(nlh, NETDEV_A_QUEUE_IFINDEX, 0x7ffffff0);
	send_msg(fd, buf, nlh->nlmsg_len);
	recv_until(fd, &m, 1);
	for_each_msg(nlh, &m, rem) if (nlh->nlmsg_type == NLMSG_DONE) err =
		*(const int *)NLMSG_DATA(nlh);
	cr_assert_eq(err, -ENODEV);
	free(m.buf);
	close(fd);
}

/*
 * One send mixing the kernel's messages and the shim's: every answer
 * arrives, in the order of the requests.
 */
Test(pl_netlink, a_buffer_mixing_kernel_and_emulated_requests_is_answered_in_order)
{
	uint8_t buf[512];
	int fd = nl_open(NULL);
	uint16_t eth = family(fd, "ethtool");
	struct nlmsghdr *a = msg_start(buf, GENL_ID_CTRL, NLM_F_ACK, 1, CTRL_CMD_GETFAMILY);
	struct nlmsghdr *b, *c, *nlh;
	struct nlattr *hdr;
	uint32_t expect[] = { 1, 1, 2, 2, 3, 3 };
	unsigned int i = 0;
	struct msgs m;
	size_t rem;

	put(a, CTRL_ATTR_FAMILY_NAME, "nlctrl", 7);
	b = msg_start(buf + a->nlmsg_len, eth, NLM_F_ACK, 2, ETHTOOL_MSG_CHANNELS_GET);
	hdr = nest_start(b, ETHTOOL_A_CHANNELS_HEADER);
	put_u32(b, ETHTOOL_A_HEADER_DEV_INDEX, LO);
	nest_end(b, hdr);
	c = msg_start(buf + a->nlmsg_len + b->nlmsg_len, GENL_ID_CTRL, NLM_F_ACK, 3,
		      CTRL_CMD_GETFAMILY);
	put(c, CTRL_ATTR_FAMILY_NAME, "netdev", 7);
	send_msg(fd, buf, a->nlmsg_len + b->nlmsg_len + c->nlmsg_len);
	recv_until(fd, &m, 3);
	for_each_msg(nlh, &m, rem)
	{
		cr_assert_lt(i, 6);
		cr_assert_eq(nlh->nlmsg_seq, expect[i], "message %u has seq %u", i, nlh->nlmsg_seq);
		if (i == 3)
			cr_assert_eq(nlh->nlmsg_type, NLMSG_ERROR);
		i++;
	}
	cr_assert_eq(i, 6);
	free(m.buf);
	close(fd);
}

/* The kernel's own answers: nlctrl about itself and a dump of every family. */
Test(pl_netlink, nlctrl_about_itself_and_a_family_dump_are_the_kernels)
{
	uint8_t buf[128];
	int fd = nl_open(NULL), done = 0, nlctrl = 0;
	struct nlmsghdr *nlh;
	struct msgs m;
	size_t rem;

	cr_assert_eq(family(fd, "nlctrl"), GENL_ID_CTRL);
	nlh = msg_start(buf, GENL_ID_CTRL, NLM_F_DUMP, 21, CTRL_CMD_GETFAMILY);
	send_msg(fd, buf, nlh->nlmsg_len);
	recv_until(fd, &m, 1);
	for_each_msg(nlh, &m, rem)
	{
		if (nlh->nlmsg_type == NLMSG_DONE)
			done++;
		else if (!strcmp((const char *)attr(nlh, CTRL_ATTR_FAMILY_NAME) + NLA_HDRLEN,
				 "nlctrl"))
			nlctrl++;
	}
	cr_assert_eq(done, 1);
	cr_assert_eq(nlctrl, 1);
	free(m.buf);
	close(fd);
}

/* rtnetlink is the kernel's alone: a link dump lists lo. */
Test(pl_netlink, netlink_route_is_untouched)
{
	struct {
		struct nlmsghdr nlh;
		struct ifinfomsg ifi;
	} req = { .nlh = { .nlmsg_len = sizeof(req),
			   .nlmsg_type = RTM_GETLINK,
			   .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			   .nlmsg_seq = 1 } };
	int fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE), lo = 0;
	struct nlmsghdr *nlh;
	struct msgs m;
	size_t rem;

	cr_assert_geq(fd, 0);
	send_msg(fd, &req, sizeof(req));
	recv_until(fd, &m, 1);
	for_each_msg(nlh, &m, rem) if (nlh->nlmsg_type == RTM_NEWLINK &&
				       ((struct ifinfomsg *)NLMSG_DATA(nlh))->ifi_index == LO) lo++;
	cr_assert_eq(lo, 1);
	free(m.buf);
	close(fd);
}

/*
 * A socket connect()ed to the kernel still gets the answers (the kernel
 * would refuse other port ids' unicasts on it: netlink_getsockbyportid()).
 */
Test(pl_netlink, a_socket_connected_to_the_kernel_gets_its_answers)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	uint8_t buf[128], reply[512];
	int fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC);
	uint16_t eth;
	struct nlmsghdr *nlh;
	struct nlattr *hdr;

	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&kernel, sizeof(kernel)), 0);
	eth = family(fd, "ethtool");
	nlh = msg_start(buf, eth, NLM_F_ACK, 5, ETHTOOL_MSG_CHANNELS_GET);
	hdr = nest_start(nlh, ETHTOOL_A_CHANNELS_HEADER);
	put_u32(nlh, ETHTOOL_A_HEADER_DEV_INDEX, LO);
	nest_end(nlh, hdr);
	/* send() with no address, as on a connected socket */
	cr_assert_eq(send(fd, buf, nlh->nlmsg_len, 0), (ssize_t)nlh->nlmsg_len);
	cr_assert_gt(recv(fd, reply, sizeof(reply), 0), 0);
	cr_assert_eq(((struct nlmsghdr *)reply)->nlmsg_type, eth);
	close(fd);
}

/* The answer is in the socket's own queue: poll() sees it, a nonblocking read takes it. */
Test(pl_netlink, answers_wake_poll_and_read_nonblocking)
{
	uint8_t buf[128], reply[512];
	int fd = nl_open(NULL);
	uint16_t eth = family(fd, "ethtool");
	struct nlmsghdr *nlh = msg_start(buf, eth, 0, 5, ETHTOOL_MSG_CHANNELS_GET);
	struct nlattr *hdr = nest_start(nlh, ETHTOOL_A_CHANNELS_HEADER);
	struct pollfd p = { .fd = fd, .events = POLLIN };

	put_u32(nlh, ETHTOOL_A_HEADER_DEV_INDEX, LO);
	nest_end(nlh, hdr);
	cr_assert_eq(write(fd, buf, nlh->nlmsg_len), (ssize_t)nlh->nlmsg_len);
	cr_assert_eq(poll(&p, 1, 5000), 1);
	cr_assert_gt(recv(fd, reply, sizeof(reply), MSG_DONTWAIT), 0);
	/* no NLM_F_ACK: nothing more */
	cr_assert_eq(recv(fd, reply, sizeof(reply), MSG_DONTWAIT), -1);
	cr_assert_eq(errno, EAGAIN);
	close(fd);
}

/* libmnl checks the source port id and the reply's: both as from the kernel. */
static int mnl_channels_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *rx = attr(nlh, ETHTOOL_A_CHANNELS_RX_COUNT);

	*(uint32_t *)data = rx ? u32_of(rx) : 0;
	return MNL_CB_OK;
}

Test(pl_netlink, libmnl_client_gets_channels_of_lo)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = mnl_socket_open(NETLINK_GENERIC);
	struct nlmsghdr *nlh;
	struct nlattr *hdr;
	uint32_t portid, rx = 0;
	uint16_t eth;
	ssize_t n;
	int ret;

	cr_assert_not_null(nl);
	cr_assert_eq(mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID), 0);
	portid = mnl_socket_get_portid(nl);
	eth = family(mnl_socket_get_fd(nl), "ethtool");
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = eth;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = 77;
	((struct genlmsghdr *)mnl_nlmsg_put_extra_header(nlh, GENL_HDRLEN))->cmd =
		ETHTOOL_MSG_CHANNELS_GET;
	hdr = mnl_attr_nest_start(nlh, ETHTOOL_A_CHANNELS_HEADER);
	mnl_attr_put_u32(nlh, ETHTOOL_A_HEADER_DEV_INDEX, LO);
	mnl_attr_nest_end(nlh, hdr);
	cr_assert_eq(mnl_socket_sendto(nl, nlh, nlh->nlmsg_len), (ssize_t)nlh->nlmsg_len);
	do {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		cr_assert_gt(n, 0, "mnl_socket_recvfrom: %s", strerror(errno));
		ret = mnl_cb_run(buf, (size_t)n, 77, portid, mnl_channels_cb, &rx);
	} while (ret > 0);
	cr_assert_eq(ret, MNL_CB_STOP);
	cr_assert_geq(rx, 1);
	mnl_socket_close(nl);
}

/* netdev_nl_dev_get_doit(): lo's entry; a device that does not exist is ENODEV. */
Test(pl_netlink, dev_get_of_lo_gives_its_entry_and_of_no_device_enodev)
{
	uint8_t buf[128], reply[512];
	int fd = nl_open(NULL);
	uint16_t netdev = family(fd, "netdev");
	struct nlmsghdr *nlh = msg_start(buf, netdev, NLM_F_ACK, 14, NETDEV_CMD_DEV_GET);

	put_u32(nlh, NETDEV_A_DEV_IFINDEX, LO);
	cr_assert_eq(request(fd, nlh, reply, sizeof(reply)), 0);
	cr_assert_eq(u32_of(attr((void *)reply, NETDEV_A_DEV_IFINDEX)), LO);
	cr_assert_not_null(attr((void *)reply, NETDEV_A_DEV_XDP_FEATURES));
	nlh = msg_start(buf, netdev, NLM_F_ACK, 15, NETDEV_CMD_DEV_GET);
	put_u32(nlh, NETDEV_A_DEV_IFINDEX, 0x7ffffff0);
	cr_assert_eq(request(fd, nlh, NULL, 0), -ENODEV);
	close(fd);
}

/* page_pool_nl_fill(): the bound queue's pool names the binding; a pool by its id. */
Test(pl_netlink, page_pool_dump_shows_the_pool_of_the_bound_queue_and_get_finds_it)
{
	uint8_t buf[128], reply[512];
	int fd = nl_open(NULL), dmabuf = host_dmabuf(1 << 20), found = 0;
	uint16_t netdev = family(fd, "netdev"), eth = family(fd, "ethtool");
	struct nlmsghdr *nlh;
	uint32_t id, pool = 0;
	struct msgs m;
	size_t rem;

	cr_assert_eq(rings_set_split(fd, eth, ETHTOOL_TCP_DATA_SPLIT_ENABLED), 0);
	cr_assert_eq(bind_rx(fd, netdev, LO, (uint32_t)dmabuf, 3, reply, sizeof(reply)), 0);
	id = u32_of(attr((void *)reply, NETDEV_A_DMABUF_ID));
	nlh = msg_start(buf, netdev, NLM_F_DUMP, 16, NETDEV_CMD_PAGE_POOL_GET);
	send_msg(fd, buf, nlh->nlmsg_len);
	recv_until(fd, &m, 1);
	for_each_msg(nlh, &m, rem)
	{
		const struct nlattr *d;

		if (nlh->nlmsg_type == NLMSG_DONE)
			continue;
		d = attr(nlh, NETDEV_A_PAGE_POOL_DMABUF);
		if (d && u32_of(d) == id) {
			found++;
			pool = u32_of(attr(nlh, NETDEV_A_PAGE_POOL_ID));
		}
	}
	free(m.buf);
	cr_assert_eq(found, 1);
	nlh = msg_start(buf, netdev, NLM_F_ACK, 17, NETDEV_CMD_PAGE_POOL_GET);
	put_u32(nlh, NETDEV_A_PAGE_POOL_ID, pool);
	cr_assert_eq(request(fd, nlh, reply, sizeof(reply)), 0);
	cr_assert_eq(u32_of(attr((void *)reply, NETDEV_A_PAGE_POOL_DMABUF)), id);
	close(fd);
	close(dmabuf);
}

/* netdev_nl_bind_rx_doit(): rx-page-size must be a power of two. */
Test(pl_netlink, bind_rx_with_an_rx_page_size_not_a_power_of_two_is_einval)
{
	uint8_t buf[128], reply[512];
	int fd = nl_open(NULL), dmabuf = host_dmabuf(1 << 20);
	uint16_t netdev = family(fd, "netdev");
	struct nlmsghdr *nlh = msg_start(buf, netdev, NLM_F_ACK, 8, NETDEV_CMD_BIND_RX);
	struct nlattr *q;

	put_u32(nlh, NETDEV_A_DMABUF_IFINDEX, LO);
	put_u32(nlh, NETDEV_A_DMABUF_FD, (uint32_t)dmabuf);
	q = nest_start(nlh, NETDEV_A_DMABUF_QUEUES);
	put_u32(nlh, NETDEV_A_QUEUE_ID, 0);
	put_u32(nlh, NETDEV_A_QUEUE_TYPE, NETDEV_QUEUE_TYPE_RX);
	nest_end(nlh, q);
	put_u32(nlh, 5 /* NETDEV_A_DMABUF_RX_PAGE_SIZE */, 3 * 4096);
	cr_assert_eq(request(fd, nlh, reply, sizeof(reply)), -EINVAL);
	cr_assert_str_eq(ext_msg((void *)reply), "rx-page-size must be a power of 2");
	close(fd);
	close(dmabuf);
}

/* ethnl_set_channels(): the new count, its maximum, and at least one rx channel. */
Test(pl_netlink, channels_set_changes_the_rx_count_within_its_limits)
{
	uint8_t reply[512];
	int fd = nl_open(NULL);
	uint16_t eth = family(fd, "ethtool");
	uint32_t max;

	cr_assert_eq(ethtool_req(fd, eth, ETHTOOL_MSG_CHANNELS_GET, 0, 0, reply, sizeof(reply)), 0);
	max = u32_of(attr((void *)reply, ETHTOOL_A_CHANNELS_RX_MAX));
	cr_assert_eq(ethtool_req(fd, eth, ETHTOOL_MSG_CHANNELS_SET, ETHTOOL_A_CHANNELS_RX_COUNT, 2,
				 NULL, 0),
		     0);
	cr_assert_eq(ethtool_req(fd, eth, ETHTOOL_MSG_CHANNELS_GET, 0, 0, reply, sizeof(reply)), 0);
	cr_assert_eq(u32_of(attr((void *)reply, ETHTOOL_A_CHANNELS_RX_COUNT)), 2);
	cr_assert_eq(ethtool_req(fd, eth, ETHTOOL_MSG_CHANNELS_SET, ETHTOOL_A_CHANNELS_RX_COUNT,
				 max + 1, reply, sizeof(reply)),
		     -EINVAL);
	cr_assert_str_eq(ext_msg((void *)reply), "requested channel count exceeds maximum");
	cr_assert_eq(ethtool_req(fd, eth, ETHTOOL_MSG_CHANNELS_SET, ETHTOOL_A_CHANNELS_RX_COUNT, 0,
				 reply, sizeof(reply)),
		     -EINVAL);
	cr_assert_str_eq(ext_msg((void *)reply),
			 "requested channel counts would result in no RX or TX channel");
	close(fd);
}

/* ethnl_set_rings(): header split stays on while a queue is bound. */
Test(pl_netlink, rings_set_cannot_disable_split_while_a_queue_is_bound)
{
	uint8_t reply[512];
	int fd = nl_open(NULL), dmabuf = host_dmabuf(1 << 20);
	uint16_t netdev = family(fd, "netdev"), eth = family(fd, "ethtool");
	uint8_t buf[128];
	struct nlmsghdr *nlh;
	struct nlattr *hdr;
	uint8_t off = ETHTOOL_TCP_DATA_SPLIT_DISABLED;

	cr_assert_eq(rings_set_split(fd, eth, ETHTOOL_TCP_DATA_SPLIT_ENABLED), 0);
	cr_assert_eq(bind_rx(fd, netdev, LO, (uint32_t)dmabuf, 0, reply, sizeof(reply)), 0);
	nlh = msg_start(buf, eth, NLM_F_ACK, 3, ETHTOOL_MSG_RINGS_SET);
	hdr = nest_start(nlh, ETHTOOL_A_RINGS_HEADER);
	put_u32(nlh, ETHTOOL_A_HEADER_DEV_INDEX, LO);
	nest_end(nlh, hdr);
	put(nlh, ETHTOOL_A_RINGS_TCP_DATA_SPLIT, &off, 1);
	cr_assert_eq(request(fd, nlh, reply, sizeof(reply)), -EINVAL);
	cr_assert_str_eq(ext_msg((void *)reply),
			 "can't disable tcp-data-split while device has memory provider enabled");
	close(fd);
	close(dmabuf);
}

/* ethnl_set_rings_validate(): what the software NIC has no setting for. */
Test(pl_netlink, rings_set_of_a_cqe_size_is_eopnotsupp)
{
	uint8_t reply[512];
	int fd = nl_open(NULL);
	uint16_t eth = family(fd, "ethtool");

	cr_assert_eq(ethtool_req(fd, eth, ETHTOOL_MSG_RINGS_SET, ETHTOOL_A_RINGS_CQE_SIZE, 128,
				 reply, sizeof(reply)),
		     -EOPNOTSUPP);
	cr_assert_str_eq(ext_msg((void *)reply), "setting cqe size not supported");
	close(fd);
}

/* rss_fill_reply(): the indirection table of context 0. */
Test(pl_netlink, rss_get_gives_the_indirection_table)
{
	uint8_t reply[1024];
	int fd = nl_open(NULL);
	uint16_t eth = family(fd, "ethtool");
	const struct nlattr *indir;

	cr_assert_eq(ethtool_req(fd, eth, 38 /* ETHTOOL_MSG_RSS_GET */, 0, 0, reply, sizeof(reply)),
		     0);
	indir = attr((void *)reply, 4 /* ETHTOOL_A_RSS_INDIR */);
	cr_assert_not_null(indir);
	cr_assert_eq(indir->nla_len - NLA_HDRLEN, 128 * sizeof(uint32_t));
	close(fd);
}

/* ethtool's RSS messages (mainline's numbers; the system's headers may predate them) */
enum {
	RSS_A_HEADER = 1,
	RSS_A_CONTEXT,
	RSS_A_HFUNC,
	RSS_A_INDIR,
	RSS_A_HKEY,
	RSS_A_INPUT_XFRM,
	RSS_A_START_CONTEXT,
};
#define RSS_GET 38
#define RSS_SET 48

/* An RSS context of lo made through SIOCETHTOOL, spread over rx queues 0 and 1. */
static uint32_t rss_context_new(void)
{
	struct {
		struct ethtool_rxfh h;
		uint32_t indir[128];
	} r = { .h = { .cmd = ETHTOOL_SRSSH,
		       .rss_context = ETH_RXFH_CONTEXT_ALLOC,
		       .indir_size = 128 } };
	struct ifreq ifr = { .ifr_name = "lo", .ifr_data = (void *)&r };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	cr_assert_geq(fd, 0);
	for (int i = 0; i < 128; i++)
		r.indir[i] = (uint32_t)i % 2;
	cr_assert_eq(ioctl(fd, SIOCETHTOOL, &ifr), 0, "ETHTOOL_SRSSH: %s", strerror(errno));
	close(fd);
	cr_assert_geq(r.h.rss_context, 1);
	return r.h.rss_context;
}

/*
 * An RSS request on lo: @context (0: none sent), the table @indir of @n
 * entries (@n < 0: none sent), and one more u32 attribute when @type is not 0.
 */
static int rss_req(int fd, uint16_t eth, uint8_t cmd, uint32_t context, const uint32_t *indir,
		   int n, uint16_t type, uint32_t v, void *reply, size_t cap)
{
	uint8_t buf[1024];
	struct nlmsghdr *nlh = msg_start(buf, eth, NLM_F_ACK, 33, cmd);
	struct nlattr *hdr = nest_start(nlh, RSS_A_HEADER);

	put_u32(nlh, ETHTOOL_A_HEADER_DEV_INDEX, LO);
	nest_end(nlh, hdr);
	if (context)
		put_u32(nlh, RSS_A_CONTEXT, context);
	if (n >= 0)
		put(nlh, RSS_A_INDIR, indir, (size_t)n * sizeof(uint32_t));
	if (type)
		put_u32(nlh, type, v);
	return request(fd, nlh, reply, cap);
}

/* The table of an rss-get reply (128 entries). */
static const uint32_t *rss_table(const void *reply)
{
	const struct nlattr *indir = attr(reply, RSS_A_INDIR);

	cr_assert_not_null(indir);
	cr_assert_eq(indir->nla_len - NLA_HDRLEN, 128 * sizeof(uint32_t));
	return (const uint32_t *)((const uint8_t *)indir + NLA_HDRLEN);
}

/*
 * rss_prepare_ctx() and rss_fill_reply(): a context's reply names it and
 * carries its table, without the hash function (no per-context key).
 */
Test(pl_netlink, rss_get_of_a_context_gives_its_id_and_table)
{
	uint8_t reply[1024];
	int fd = nl_open(NULL);
	uint16_t eth = family(fd, "ethtool");
	uint32_t ctx = rss_context_new();
	const uint32_t *t;

	cr_assert_eq(rss_req(fd, eth, RSS_GET, ctx, NULL, -1, 0, 0, reply, sizeof(reply)), 0);
	cr_assert_eq(u32_of(attr((void *)reply, RSS_A_CONTEXT)), ctx);
	cr_assert_null(attr((void *)reply, RSS_A_HFUNC));
	t = rss_table(reply);
	cr_assert_eq(t[0], 0);
	cr_assert_eq(t[1], 1);
	cr_assert_eq(t[127], 1);
	close(fd);
}

/* rss_prepare_ctx(): a context the device does not have is ENOENT. */
Test(pl_netlink, rss_get_of_a_missing_context_is_enoent)
{
	int fd = nl_open(NULL);
	uint16_t eth = family(fd, "ethtool");

	cr_assert_eq(rss_req(fd, eth, RSS_GET, 31, NULL, -1, 0, 0, NULL, 0), -ENOENT);
	close(fd);
}

/* rss_parse_request(): a start context is for dumps; in a do it is the bad attribute. */
Test(pl_netlink, rss_get_with_a_start_context_is_einval)
{
	uint8_t reply[512];
	int fd = nl_open(NULL);
	uint16_t eth = family(fd, "ethtool");

	cr_assert_eq(rss_req(fd, eth, RSS_GET, 0, NULL, -1, RSS_A_START_CONTEXT, 1, reply,
			     sizeof(reply)),
		     -EINVAL);
	cr_assert_not_null(ext_attr((void *)reply, NLMSGERR_ATTR_OFFS));
	close(fd);
}

/* rss_set_prep_indir(): a shorter table that divides the device's is repeated over it. */
Test(pl_netlink, rss_set_repeats_a_short_table_and_an_empty_one_resets_context_0)
{
	uint8_t reply[1024];
	int fd = nl_open(NULL);
	uint16_t eth = family(fd, "ethtool");
	uint32_t two[2] = { 1, 0 }, dflt[128];
	const uint32_t *t;

	cr_assert_eq(rss_req(fd, eth, RSS_GET, 0, NULL, -1, 0, 0, reply, sizeof(reply)), 0);
	memcpy(dflt, rss_table(reply), sizeof(dflt));
	cr_assert_eq(rss_req(fd, eth, RSS_SET, 0, two, 2, 0, 0, NULL, 0), 0);
	cr_assert_eq(rss_req(fd, eth, RSS_GET, 0, NULL, -1, 0, 0, reply, sizeof(reply)), 0);
	t = rss_table(reply);
	for (int i = 0; i < 128; i++)
		cr_assert_eq(t[i], two[i % 2], "entry %d", i);
	cr_assert_eq(rss_req(fd, eth, RSS_SET, 0, NULL, 0, 0, 0, NULL, 0), 0);
	cr_assert_eq(rss_req(fd, eth, RSS_GET, 0, NULL, -1, 0, 0, reply, sizeof(reply)), 0);
	cr_assert_eq(memcmp(rss_table(reply), dflt, sizeof(dflt)), 0);
	close(fd);
}

/* ethnl_rss_set() on a context: its table changes, context 0's does not. */
Test(pl_netlink, rss_set_of_a_context_changes_its_table_alone)
{
	uint8_t reply[1024];
	int fd = nl_open(NULL);
	uint16_t eth = family(fd, "ethtool");
	uint32_t ctx = rss_context_new(), one = 2, before[128];

	cr_assert_eq(rss_req(fd, eth, RSS_GET, 0, NULL, -1, 0, 0, reply, sizeof(reply)), 0);
	memcpy(before, rss_table(reply), sizeof(before));
	cr_assert_eq(rss_req(fd, eth, RSS_SET, ctx, &one, 1, 0, 0, NULL, 0), 0);
	cr_assert_eq(rss_req(fd, eth, RSS_GET, ctx, NULL, -1, 0, 0, reply, sizeof(reply)), 0);
	for (int i = 0; i < 128; i++)
		cr_assert_eq(rss_table(reply)[i], 2, "entry %d", i);
	cr_assert_eq(rss_req(fd, eth, RSS_GET, 0, NULL, -1, 0, 0, reply, sizeof(reply)), 0);
	cr_assert_eq(memcmp(rss_table(reply), before, sizeof(before)), 0);
	close(fd);
}

/* rss_set_prep_indir(): the table's refusals, each with the kernel's message on the table. */
Test(pl_netlink, rss_set_refuses_a_bad_table_with_the_kernels_messages)
{
	uint8_t reply[1024];
	int fd = nl_open(NULL);
	uint16_t eth = family(fd, "ethtool");
	uint32_t ctx = rss_context_new(), three[3] = { 0, 1, 0 }, far[2] = { 0, 99 };

	cr_assert_eq(rss_req(fd, eth, RSS_SET, 0, three, 3, 0, 0, reply, sizeof(reply)), -EINVAL);
	cr_assert_str_eq(ext_msg((void *)reply), "size (3) mismatch with device indir table (128)");
	cr_assert_eq(rss_req(fd, eth, RSS_SET, 0, far, 2, 0, 0, reply, sizeof(reply)), -EINVAL);
	cr_assert_str_eq(ext_msg((void *)reply), "entry 1: queue out of range (99)");
	cr_assert_eq(rss_req(fd, eth, RSS_SET, ctx, NULL, 0, 0, 0, reply, sizeof(reply)), -EINVAL);
	cr_assert_str_eq(ext_msg((void *)reply), "can't reset table for a context");
	cr_assert_eq(rss_req(fd, eth, RSS_SET, 31, three, 2, 0, 0, NULL, 0), -ENOENT);
	close(fd);
}

/*
 * ethnl_rss_set_validate() and the driver: no hash function, key or input
 * transformation of a context, no symmetric hashing, no key at all, no
 * other hash function than Toeplitz.
 */
Test(pl_netlink, rss_set_of_a_key_function_or_transformation_is_refused)
{
	uint8_t reply[1024];
	int fd = nl_open(NULL);
	uint16_t eth = family(fd, "ethtool");
	uint32_t ctx = rss_context_new();

	cr_assert_eq(rss_req(fd, eth, RSS_SET, ctx, NULL, -1, RSS_A_HFUNC, 1, reply, sizeof(reply)),
		     -EOPNOTSUPP);
	cr_assert_not_null(ext_attr((void *)reply, NLMSGERR_ATTR_OFFS));
	cr_assert_eq(rss_req(fd, eth, RSS_SET, 0, NULL, -1, RSS_A_INPUT_XFRM,
			     1 /* RXH_XFRM_SYM_XOR */, reply, sizeof(reply)),
		     -EOPNOTSUPP);
	cr_assert_not_null(ext_attr((void *)reply, NLMSGERR_ATTR_OFFS));
	cr_assert_eq(rss_req(fd, eth, RSS_SET, 0, NULL, -1, RSS_A_HKEY, 0x12345678, reply,
			     sizeof(reply)),
		     -EINVAL);
	cr_assert_eq(rss_req(fd, eth, RSS_SET, 0, NULL, -1, RSS_A_HFUNC, 2 /* ETH_RSS_HASH_XOR */,
			     NULL, 0),
		     -EOPNOTSUPP);
	/* the function it has already: nothing changes */
	cr_assert_eq(rss_req(fd, eth, RSS_SET, 0, NULL, -1, RSS_A_HFUNC, 1, NULL, 0), 0);
	close(fd);
}

/* Drop CAP_NET_ADMIN from the effective set of this (forked) test process. */
static void drop_net_admin(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	cr_assert_eq(syscall(SYS_capget, &hdr, data), 0);
	data[CAP_TO_INDEX(CAP_NET_ADMIN)].effective &= ~CAP_TO_MASK(CAP_NET_ADMIN);
	cr_assert_eq(syscall(SYS_capset, &hdr, data), 0);
}

/* genl_family_rcv_msg(): GENL_ADMIN_PERM operations need CAP_NET_ADMIN (bind-rx, channels-set). */
Test(pl_netlink, bind_rx_and_channels_set_without_cap_net_admin_are_eperm)
{
	uint8_t reply[512];
	int fd = nl_open(NULL), dmabuf = host_dmabuf(1 << 20);
	uint16_t netdev = family(fd, "netdev"), eth = family(fd, "ethtool");

	drop_net_admin();
	cr_assert_eq(bind_rx(fd, netdev, LO, (uint32_t)dmabuf, 1, reply, sizeof(reply)), -EPERM);
	cr_assert_eq(ethtool_req(fd, eth, ETHTOOL_MSG_CHANNELS_SET, ETHTOOL_A_CHANNELS_RX_COUNT, 2,
				 NULL, 0),
		     -EPERM);
	/* reads need no privilege */
	cr_assert_eq(ethtool_req(fd, eth, ETHTOOL_MSG_CHANNELS_GET, 0, 0, NULL, 0), 0);
	close(fd);
	close(dmabuf);
}

/*
 * Without CAP_NET_ADMIN the shim's socket may not unicast to the program's
 * (netlink_sendmsg(): NL_CFG_F_NONROOT_SEND): recvmsg still gives each
 * answer whole, from port id 0, with MSG_PEEK and MSG_TRUNC as the kernel.
 */
Test(pl_netlink, without_cap_net_admin_answers_are_read_with_peek_and_trunc)
{
	uint8_t buf[128], reply[512], tiny[8];
	int fd = nl_open(NULL);
	uint16_t eth = family(fd, "ethtool");
	struct nlmsghdr *nlh = msg_start(buf, eth, 0, 5, ETHTOOL_MSG_CHANNELS_GET);
	struct nlattr *hdr = nest_start(nlh, ETHTOOL_A_CHANNELS_HEADER);
	struct sockaddr_nl from = { .nl_pid = 99 };
	socklen_t flen = sizeof(from);
	struct iovec iov = { tiny, sizeof(tiny) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t whole;

	put_u32(nlh, ETHTOOL_A_HEADER_DEV_INDEX, LO);
	nest_end(nlh, hdr);
	drop_net_admin();
	send_msg(fd, buf, nlh->nlmsg_len);
	whole = recv(fd, reply, sizeof(reply), MSG_PEEK | MSG_TRUNC);
	cr_assert_gt(whole, (ssize_t)sizeof(tiny));
	cr_assert_eq(recvmsg(fd, &m, MSG_PEEK), (ssize_t)sizeof(tiny));
	cr_assert(m.msg_flags & MSG_TRUNC);
	cr_assert_eq(recvfrom(fd, reply, sizeof(reply), 0, (struct sockaddr *)&from, &flen), whole);
	cr_assert_eq(from.nl_pid, 0);
	cr_assert_eq(((struct nlmsghdr *)reply)->nlmsg_type, eth);
	cr_assert_eq(recv(fd, reply, sizeof(reply), MSG_DONTWAIT), -1);
	cr_assert_eq(errno, EAGAIN);
	close(fd);
}

/* The kernel reads the sender's memory with copy_from_user(): a bad pointer is EFAULT. */
Test(pl_netlink, a_send_from_a_bad_pointer_is_efault)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	int fd = nl_open(NULL);
	void *bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	cr_assert_neq(bad, MAP_FAILED);
	cr_assert_eq(sendto(fd, bad, 64, 0, (struct sockaddr *)&kernel, sizeof(kernel)), -1);
	cr_assert_eq(errno, EFAULT);
	munmap(bad, 4096);
	close(fd);
}

/* ---- NAPI ---- */

/* the napi attributes (the kernel's numbers; the system's headers may predate them) */
enum {
	NAPI_A_IFINDEX = 1,
	NAPI_A_ID,
	NAPI_A_IRQ,
	NAPI_A_PID,
	NAPI_A_DEFER_HARD_IRQS,
	NAPI_A_GRO_FLUSH_TIMEOUT,
	NAPI_A_IRQ_SUSPEND_TIMEOUT,
	NAPI_A_THREADED,
};

/* A dump of @cmd (filtered by lo when @attr is not 0) into @m; its NLMSG_DONE must be 0. */
static void dump(int fd, uint16_t netdev, uint8_t cmd, uint16_t attr_type, struct msgs *m)
{
	uint8_t buf[128];
	struct nlmsghdr *nlh = msg_start(buf, netdev, NLM_F_DUMP, 41, cmd);
	size_t rem;
	int done = 0;

	if (attr_type)
		put_u32(nlh, attr_type, LO);
	send_msg(fd, buf, nlh->nlmsg_len);
	recv_until(fd, m, 1);
	for_each_msg(nlh, m, rem) if (nlh->nlmsg_type == NLMSG_DONE)
	{
		cr_assert_eq(*(const int *)NLMSG_DATA(nlh), 0);
		done++;
	}
	cr_assert_eq(done, 1);
}

/*
 * netdev_nl_napi_dump_one() and netdev_nl_napi_fill_one(): one NAPI per
 * queue index of lo, the ids queue-get reports, highest first; no IRQ, no
 * deferral, no timeouts.
 */
Test(pl_netlink, napi_dump_of_lo_lists_the_queues_napis_highest_id_first)
{
	int fd = nl_open(NULL), nq = 0, nn = 0;
	uint16_t netdev = family(fd, "netdev");
	uint32_t qids[1024], prev = UINT32_MAX;
	struct nlmsghdr *nlh;
	struct msgs m;
	size_t rem;

	dump(fd, netdev, NETDEV_CMD_QUEUE_GET, NETDEV_A_QUEUE_IFINDEX, &m);
	for_each_msg(nlh, &m, rem) if (nlh->nlmsg_type == netdev)
	{
		uint32_t id = u32_of(attr(nlh, NETDEV_A_QUEUE_NAPI_ID));
		bool seen = false;

		for (int i = 0; i < nq; i++)
			seen |= qids[i] == id;
		if (!seen && nq < 1024)
			qids[nq++] = id;
	}
	free(m.buf);
	cr_assert_geq(nq, 1);
	dump(fd, netdev, NETDEV_CMD_NAPI_GET, NAPI_A_IFINDEX, &m);
	for_each_msg(nlh, &m, rem) if (nlh->nlmsg_type == netdev)
	{
		uint32_t id = u32_of(attr(nlh, NAPI_A_ID));
		bool known = false;

		for (int i = 0; i < nq; i++)
			known |= qids[i] == id;
		cr_assert(known, "napi %u is no queue's", id);
		cr_assert_lt(id, prev);
		prev = id;
		cr_assert_eq(u32_of(attr(nlh, NAPI_A_IFINDEX)), LO);
		cr_assert_null(attr(nlh, NAPI_A_IRQ));
		cr_assert_not_null(attr(nlh, NAPI_A_THREADED));
		cr_assert_eq(u32_of(attr(nlh, NAPI_A_DEFER_HARD_IRQS)), 0);
		cr_assert_eq(u32_of(attr(nlh, NAPI_A_GRO_FLUSH_TIMEOUT)), 0);
		cr_assert_eq(u32_of(attr(nlh, NAPI_A_IRQ_SUSPEND_TIMEOUT)), 0);
		nn++;
	}
	free(m.buf);
	cr_assert_eq(nn, nq);
	close(fd);
}

/* A dump of every device's NAPIs has lo's among them. */
Test(pl_netlink, napi_dump_of_every_device_has_los)
{
	int fd = nl_open(NULL), lo = 0;
	uint16_t netdev = family(fd, "netdev");
	struct nlmsghdr *nlh;
	struct msgs m;
	size_t rem;

	dump(fd, netdev, NETDEV_CMD_NAPI_GET, 0, &m);
	for_each_msg(nlh, &m, rem) if (nlh->nlmsg_type == netdev) lo +=
		u32_of(attr(nlh, NAPI_A_IFINDEX)) == LO;
	free(m.buf);
	cr_assert_geq(lo, 1);
	close(fd);
}

/* The thread id whose name is @comm, 0 when none. */
static pid_t task_named(const char *comm)
{
	char path[300], name[32];
	DIR *dir = opendir("/proc/self/task");
	struct dirent *de;
	pid_t found = 0;

	cr_assert_not_null(dir);
	while (!found && (de = readdir(dir))) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
		f = de->d_name[0] == '.' ? NULL : fopen(path, "re");
		if (!f)
			continue;
		if (fgets(name, sizeof(name), f) && !strncmp(name, comm, strlen(comm)) &&
		    name[strlen(comm)] == '\n')
			found = atoi(de->d_name);
		fclose(f);
	}
	closedir(dir);
	return found;
}

/*
 * netdev_nl_napi_get_doit(): the NAPI of a bound queue by its id; its thread
 * runs, so it is threaded and names the thread's id.
 */
Test(pl_netlink, napi_get_of_a_bound_queues_napi_names_its_thread)
{
	uint8_t buf[128], reply[512];
	int fd = nl_open(NULL), dmabuf = host_dmabuf(1 << 20);
	uint16_t netdev = family(fd, "netdev"), eth = family(fd, "ethtool");
	struct nlmsghdr *nlh;
	uint32_t napi;

	cr_assert_eq(rings_set_split(fd, eth, ETHTOOL_TCP_DATA_SPLIT_ENABLED), 0);
	cr_assert_eq(bind_rx(fd, netdev, LO, (uint32_t)dmabuf, 1, reply, sizeof(reply)), 0);
	nlh = msg_start(buf, netdev, NLM_F_ACK, 42, NETDEV_CMD_QUEUE_GET);
	put_u32(nlh, NETDEV_A_QUEUE_IFINDEX, LO);
	put_u32(nlh, NETDEV_A_QUEUE_TYPE, NETDEV_QUEUE_TYPE_RX);
	put_u32(nlh, NETDEV_A_QUEUE_ID, 1);
	cr_assert_eq(request(fd, nlh, reply, sizeof(reply)), 0);
	napi = u32_of(attr((void *)reply, NETDEV_A_QUEUE_NAPI_ID));
	nlh = msg_start(buf, netdev, NLM_F_ACK, 43, NETDEV_CMD_NAPI_GET);
	put_u32(nlh, NAPI_A_ID, napi);
	cr_assert_eq(request(fd, nlh, reply, sizeof(reply)), 0);
	cr_assert_eq(u32_of(attr((void *)reply, NAPI_A_ID)), napi);
	cr_assert_eq(u32_of(attr((void *)reply, NAPI_A_IFINDEX)), LO);
	cr_assert_eq(u32_of(attr((void *)reply, NAPI_A_THREADED)), 1);
	cr_assert_eq((pid_t)u32_of(attr((void *)reply, NAPI_A_PID)), task_named("napi/lo-1"));
	close(fd);
	close(dmabuf);
}

/* netdev_nl_napi_get_doit(): no NAPI has the id. */
Test(pl_netlink, napi_get_of_an_unknown_id_is_enoent)
{
	uint8_t buf[128];
	int fd = nl_open(NULL);
	uint16_t netdev = family(fd, "netdev");
	struct nlmsghdr *nlh = msg_start(buf, netdev, NLM_F_ACK, 44, NETDEV_CMD_NAPI_GET);

	put_u32(nlh, NAPI_A_ID, 0x7ffffff0);
	cr_assert_eq(request(fd, nlh, NULL, 0), -ENOENT);
	close(fd);
}

/* ---- features ---- */

#define FEAT_NETNS_LOCAL 13
#define FEAT_NTUPLE 38
#define FEAT_RXHASH 39

/* A features request on lo with header @flags; its body is added by the caller. */
static struct nlmsghdr *features_start(void *buf, uint16_t eth, uint8_t cmd, uint32_t flags)
{
	struct nlmsghdr *nlh = msg_start(buf, eth, NLM_F_ACK, 51, cmd);
	struct nlattr *hdr = nest_start(nlh, ETHTOOL_A_FEATURES_HEADER);

	put_u32(nlh, ETHTOOL_A_HEADER_DEV_INDEX, LO);
	if (flags)
		put_u32(nlh, ETHTOOL_A_HEADER_FLAGS, flags);
	nest_end(nlh, hdr);
	return nlh;
}

/* The 64 bits of a compact bitset's @type (VALUE or MASK) in @set. */
static uint64_t compact_bits(const struct nlattr *set, uint16_t type)
{
	const struct nlattr *a;
	uint32_t w[2];

	cr_assert_not_null(set);
	a = attr_in((const uint8_t *)set + NLA_HDRLEN, set->nla_len - NLA_HDRLEN, type);
	cr_assert_not_null(a, "no bitset attribute %u", type);
	cr_assert_eq(a->nla_len - NLA_HDRLEN, sizeof(w));
	memcpy(w, (const uint8_t *)a + NLA_HDRLEN, sizeof(w));
	return w[0] | (uint64_t)w[1] << 32;
}

/* features-get in compact form: hw, wanted and active of lo. */
static void features_of_lo(int fd, uint16_t eth, uint64_t *hw, uint64_t *active)
{
	uint8_t buf[128], reply[8192];
	struct nlmsghdr *nlh =
		features_start(buf, eth, ETHTOOL_MSG_FEATURES_GET, ETHTOOL_FLAG_COMPACT_BITSETS);

	cr_assert_eq(request(fd, nlh, reply, sizeof(reply)), 0);
	*hw = compact_bits(attr((void *)reply, ETHTOOL_A_FEATURES_HW), ETHTOOL_A_BITSET_VALUE);
	*active = compact_bits(attr((void *)reply, ETHTOOL_A_FEATURES_ACTIVE),
			       ETHTOOL_A_BITSET_VALUE);
}

/*
 * features_fill_reply() with compact bitsets: hw against every bit, wanted,
 * active and nochange as lists; ntuple and rxhash are what can change.
 */
Test(pl_netlink, features_get_compact_gives_hw_against_all_and_lists)
{
	uint8_t buf[128], reply[8192];
	int fd = nl_open(NULL);
	uint16_t eth = family(fd, "ethtool");
	struct nlmsghdr *nlh =
		features_start(buf, eth, ETHTOOL_MSG_FEATURES_GET, ETHTOOL_FLAG_COMPACT_BITSETS);
	const struct nlattr *hw, *nochange;
	uint64_t hwv;

	cr_assert_eq(request(fd, nlh, reply, sizeof(reply)), 0);
	cr_assert_eq(((struct genlmsghdr *)NLMSG_DATA((struct nlmsghdr *)reply))->cmd,
		     ETHTOOL_MSG_FEATURES_GET_REPLY);
	hw = attr((void *)reply, ETHTOOL_A_FEATURES_HW);
	hwv = compact_bits(hw, ETHTOOL_A_BITSET_VALUE);
	cr_assert(hwv & (1ULL << FEAT_NTUPLE));
	cr_assert(hwv & (1ULL << FEAT_RXHASH));
	cr_assert_eq(compact_bits(hw, ETHTOOL_A_BITSET_MASK), ~0ULL);
	cr_assert_null(attr_in((const uint8_t *)hw + NLA_HDRLEN, hw->nla_len - NLA_HDRLEN,
			       ETHTOOL_A_BITSET_NOMASK));
	nochange = attr((void *)reply, ETHTOOL_A_FEATURES_NOCHANGE);
	cr_assert_not_null(attr_in((const uint8_t *)nochange + NLA_HDRLEN,
				   nochange->nla_len - NLA_HDRLEN, ETHTOOL_A_BITSET_NOMASK));
	cr_assert_eq(compact_bits(nochange, ETHTOOL_A_BITSET_VALUE), (1ULL << 10) | (1ULL << 13));
	cr_assert_not_null(attr((void *)reply, ETHTOOL_A_FEATURES_WANTED));
	cr_assert_not_null(attr((void *)reply, ETHTOOL_A_FEATURES_ACTIVE));
	close(fd);
}

/* The verbose entry for bit @idx in a bitset's BITS, or NULL. */
static const struct nlattr *verbose_bit(const struct nlattr *set, uint32_t idx)
{
	const struct nlattr *bits, *bit;
	size_t rem;

	bits = attr_in((const uint8_t *)set + NLA_HDRLEN, set->nla_len - NLA_HDRLEN,
		       ETHTOOL_A_BITSET_BITS);
	cr_assert_not_null(bits);
	bit = (const void *)((const uint8_t *)bits + NLA_HDRLEN);
	for (rem = bits->nla_len - NLA_HDRLEN; rem >= NLA_HDRLEN && bit->nla_len <= rem;
	     rem -= NLA_ALIGN(bit->nla_len),
	    bit = (const void *)((const uint8_t *)bit + NLA_ALIGN(bit->nla_len))) {
		const struct nlattr *i =
			attr_in((const uint8_t *)bit + NLA_HDRLEN, bit->nla_len - NLA_HDRLEN,
				ETHTOOL_A_BITSET_BIT_INDEX);

		if (i && u32_of(i) == idx)
			return bit;
		if (NLA_ALIGN(bit->nla_len) >= rem)
			break;
	}
	return NULL;
}

/* The name of a verbose bitset entry. */
static __attribute__((noinline)) const char *bit_name(const struct nlattr *bit)
{
	const struct nlattr *name;

	cr_assert_not_null(bit);
	name = attr_in((const uint8_t *)bit + NLA_HDRLEN, bit->nla_len - NLA_HDRLEN,
		       ETHTOOL_A_BITSET_BIT_NAME);
	cr_assert_not_null(name);
	return (const char *)name + NLA_HDRLEN;
}

/* ethnl_put_bitset32() verbose: each bit by index and netdev_features_strings name. */
Test(pl_netlink, features_get_verbose_names_each_bit)
{
	uint8_t buf[128], reply[16384];
	int fd = nl_open(NULL);
	uint16_t eth = family(fd, "ethtool");
	struct nlmsghdr *nlh = features_start(buf, eth, ETHTOOL_MSG_FEATURES_GET, 0);
	const struct nlattr *bit;

	cr_assert_eq(request(fd, nlh, reply, sizeof(reply)), 0);
	bit = verbose_bit(attr((void *)reply, ETHTOOL_A_FEATURES_HW), FEAT_NTUPLE);
	cr_assert_str_eq(bit_name(bit), "rx-ntuple-filter");
	cr_assert_not_null(attr_in((const uint8_t *)bit + NLA_HDRLEN, bit->nla_len - NLA_HDRLEN,
				   ETHTOOL_A_BITSET_BIT_VALUE));
	bit = verbose_bit(attr((void *)reply, ETHTOOL_A_FEATURES_NOCHANGE), FEAT_NETNS_LOCAL);
	cr_assert_str_eq(bit_name(bit), "netns-local");
	close(fd);
}

/* A WANTED bitset naming one bit, verbose, with @on as its value. */
static void put_wanted_by_name(struct nlmsghdr *nlh, const char *name, bool on)
{
	struct nlattr *w = nest_start(nlh, ETHTOOL_A_FEATURES_WANTED);
	struct nlattr *bits = nest_start(nlh, ETHTOOL_A_BITSET_BITS);
	struct nlattr *bit = nest_start(nlh, ETHTOOL_A_BITSET_BITS_BIT);

	put(nlh, ETHTOOL_A_BITSET_BIT_NAME, name, strlen(name) + 1);
	if (on)
		put(nlh, ETHTOOL_A_BITSET_BIT_VALUE, NULL, 0);
	nest_end(nlh, bit);
	nest_end(nlh, bits);
	nest_end(nlh, w);
}

/*
 * ethnl_set_features(): ntuple on by name; the reply's active bitset has
 * the changed bit, and features-get then shows it active.
 */
Test(pl_netlink, features_set_by_name_changes_ntuple_and_replies_with_the_change)
{
	uint8_t buf[256], reply[8192];
	int fd = nl_open(NULL);
	uint16_t eth = family(fd, "ethtool");
	struct nlmsghdr *nlh;
	uint64_t hw, active;
	const struct nlattr *a;

	features_of_lo(fd, eth, &hw, &active);
	cr_assert_eq(active & (1ULL << FEAT_NTUPLE), 0, "ntuple starts off");
	nlh = features_start(buf, eth, ETHTOOL_MSG_FEATURES_SET, ETHTOOL_FLAG_COMPACT_BITSETS);
	put_wanted_by_name(nlh, "rx-ntuple-filter", true);
	cr_assert_eq(request(fd, nlh, reply, sizeof(reply)), 0);
	cr_assert_eq(((struct genlmsghdr *)NLMSG_DATA((struct nlmsghdr *)reply))->cmd,
		     ETHTOOL_MSG_FEATURES_SET_REPLY);
	a = attr((void *)reply, ETHTOOL_A_FEATURES_ACTIVE);
	cr_assert_eq(compact_bits(a, ETHTOOL_A_BITSET_MASK), 1ULL << FEAT_NTUPLE);
	cr_assert_eq(compact_bits(a, ETHTOOL_A_BITSET_VALUE), 1ULL << FEAT_NTUPLE);
	cr_assert_eq(
		compact_bits(attr((void *)reply, ETHTOOL_A_FEATURES_WANTED), ETHTOOL_A_BITSET_MASK),
		0);
	features_of_lo(fd, eth, &hw, &active);
	cr_assert_neq(active & (1ULL << FEAT_NTUPLE), 0);
	close(fd);
}

/*
 * ethnl_set_features(): a compact value/mask turns rxhash off; with
 * OMIT_REPLY only the ack comes.
 */
Test(pl_netlink, features_set_compact_with_omit_reply_gives_only_the_ack)
{
	uint8_t buf[256], reply[8192];
	int fd = nl_open(NULL);
	uint16_t eth = family(fd, "ethtool");
	uint32_t size = 64, value[2] = { 0, 0 }, mask[2] = { 0, 1u << (FEAT_RXHASH - 32) };
	struct nlmsghdr *nlh;
	uint64_t hw, active;
	struct nlattr *w;

	features_of_lo(fd, eth, &hw, &active);
	cr_assert_neq(active & (1ULL << FEAT_RXHASH), 0, "rxhash starts on");
	nlh = features_start(buf, eth, ETHTOOL_MSG_FEATURES_SET, ETHTOOL_FLAG_OMIT_REPLY);
	w = nest_start(nlh, ETHTOOL_A_FEATURES_WANTED);
	put(nlh, ETHTOOL_A_BITSET_SIZE, &size, sizeof(size));
	put(nlh, ETHTOOL_A_BITSET_VALUE, value, sizeof(value));
	put(nlh, ETHTOOL_A_BITSET_MASK, mask, sizeof(mask));
	nest_end(nlh, w);
	memset(reply, 0, sizeof(reply));
	cr_assert_eq(request(fd, nlh, reply, sizeof(reply)), 0);
	/* request() copies a reply message, never a successful ack: nothing came but the ack */
	cr_assert_eq(((struct nlmsghdr *)reply)->nlmsg_len, 0);
	features_of_lo(fd, eth, &hw, &active);
	cr_assert_eq(active & (1ULL << FEAT_RXHASH), 0);
	close(fd);
}

/* A feature the device cannot change stays as it is; the reply says the wanted bit did not take. */
Test(pl_netlink, features_set_of_a_fixed_feature_reports_it_as_wanted_not_active)
{
	uint8_t buf[256], reply[8192];
	int fd = nl_open(NULL);
	uint16_t eth = family(fd, "ethtool");
	uint64_t hw, active, after;
	struct nlmsghdr *nlh;
	unsigned int i;

	features_of_lo(fd, eth, &hw, &active);
	for (i = 0; i < 64; i++)
		if (!(hw & (1ULL << i)) && i != 10 && i != FEAT_NETNS_LOCAL && i != 2 && i != 12)
			break;
	cr_assert_lt(i, 64);
	nlh = features_start(buf, eth, ETHTOOL_MSG_FEATURES_SET, ETHTOOL_FLAG_COMPACT_BITSETS);
	{
		struct nlattr *w = nest_start(nlh, ETHTOOL_A_FEATURES_WANTED);
		struct nlattr *bits = nest_start(nlh, ETHTOOL_A_BITSET_BITS);
		struct nlattr *bit = nest_start(nlh, ETHTOOL_A_BITSET_BITS_BIT);

		put_u32(nlh, ETHTOOL_A_BITSET_BIT_INDEX, i);
		if (!(active & (1ULL << i)))
			put(nlh, ETHTOOL_A_BITSET_BIT_VALUE, NULL, 0);
		nest_end(nlh, bit);
		nest_end(nlh, bits);
		nest_end(nlh, w);
	}
	cr_assert_eq(request(fd, nlh, reply, sizeof(reply)), 0);
	cr_assert_eq(
		compact_bits(attr((void *)reply, ETHTOOL_A_FEATURES_WANTED), ETHTOOL_A_BITSET_MASK),
		1ULL << i);
	cr_assert_eq(
		compact_bits(attr((void *)reply, ETHTOOL_A_FEATURES_ACTIVE), ETHTOOL_A_BITSET_MASK),
		0);
	features_of_lo(fd, eth, &hw, &after);
	cr_assert_eq(after, active);
	close(fd);
}

/* ethnl_parse_bitset(), ethnl_parse_bit(), ethnl_set_features(): the refusals and their texts. */
Test(pl_netlink, features_set_refuses_bad_bitsets_with_the_kernels_messages)
{
	uint8_t buf[256], reply[8192];
	int fd = nl_open(NULL);
	uint16_t eth = family(fd, "ethtool");
	uint32_t size = 64, value[2] = { 0, 0 };
	struct nlmsghdr *nlh;
	struct nlattr *w;

	nlh = features_start(buf, eth, ETHTOOL_MSG_FEATURES_SET, 0);
	put_wanted_by_name(nlh, "no-such-feature", true);
	cr_assert_eq(request(fd, nlh, reply, sizeof(reply)), -EOPNOTSUPP);
	cr_assert_str_eq(ext_msg((void *)reply), "bit name not found");

	nlh = features_start(buf, eth, ETHTOOL_MSG_FEATURES_SET, 0);
	put_wanted_by_name(nlh, "netns-local", true);
	cr_assert_eq(request(fd, nlh, reply, sizeof(reply)), -EINVAL);
	cr_assert_str_eq(ext_msg((void *)reply), "attempt to change non-ethtool features");

	nlh = features_start(buf, eth, ETHTOOL_MSG_FEATURES_SET, 0);
	w = nest_start(nlh, ETHTOOL_A_FEATURES_WANTED);
	put(nlh, ETHTOOL_A_BITSET_SIZE, &size, sizeof(size));
	put(nlh, ETHTOOL_A_BITSET_VALUE, value, sizeof(value));
	nest_end(nlh, w);
	cr_assert_eq(request(fd, nlh, reply, sizeof(reply)), -EINVAL);
	cr_assert_str_eq(ext_msg((void *)reply), "missing mask in compact nonlist bitset");

	nlh = features_start(buf, eth, ETHTOOL_MSG_FEATURES_SET, 0);
	w = nest_start(nlh, ETHTOOL_A_FEATURES_WANTED);
	put(nlh, ETHTOOL_A_BITSET_SIZE, &size, sizeof(size));
	put(nlh, ETHTOOL_A_BITSET_VALUE, value, 4);
	put(nlh, ETHTOOL_A_BITSET_NOMASK, NULL, 0);
	nest_end(nlh, w);
	cr_assert_eq(request(fd, nlh, reply, sizeof(reply)), -EINVAL);
	cr_assert_str_eq(ext_msg((void *)reply), "bitset value length does not match size");

	nlh = features_start(buf, eth, ETHTOOL_MSG_FEATURES_SET, 0);
	cr_assert_eq(request(fd, nlh, reply, sizeof(reply)), -EINVAL);
	close(fd);
}

/* ---- the trace ---- */

static void slurp_fd(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t n;

	while (len + 1 < cap && (n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
}

/*
 * devmem run -v: a refused request's trace line gives the library's longer
 * reason (here the queue and the device's queue count) while the extack the
 * program reads has the kernel's (none, for a queue out of range).
 */
Test(pl_netlink, the_trace_line_gives_the_librarys_reason_of_a_refusal)
{
	char out[4096], err[16384];
	int o[2], e[2], status;
	pid_t pid;

	cr_assert_eq(pipe(o), 0);
	cr_assert_eq(pipe(e), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (!pid) {
		dup2(o[1], 1);
		dup2(e[1], 2);
		setenv("DEVMEM_RUN_TRACE", "1", 1);
		execl("/proc/self/exe", "test_pl_netlink",
		      "pl_netlink::bind_rx_of_a_queue_out_of_range_is_einval", (char *)NULL);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	slurp_fd(e[0], err, sizeof(err));
	slurp_fd(o[0], out, sizeof(out));
	close(o[0]);
	close(e[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", out);
	cr_assert_not_null(strstr(err, "devmem: netlink netdev bind-rx ifindex=1 fd="), "%s", err);
	cr_assert_not_null(strstr(err, "queues=rx:0,rx:1000 = -EINVAL (rx queue 1000 out of range"),
			   "%s", err);
	cr_assert_null(strstr(out, "devmem:"), "%s", out);
}

/*
 * A child forked without exec after the software NIC started cannot use it
 * (README's fork()): its requests are refused with EIO, as the library's
 * calls are there, never left without an answer.
 */
Test(pl_netlink, a_child_forked_after_use_gets_eio_not_silence)
{
	uint8_t reply[512];
	int fd = nl_open(NULL), dmabuf = host_dmabuf(1 << 20), status;
	uint16_t netdev = family(fd, "netdev"), eth = family(fd, "ethtool");
	pid_t pid;

	cr_assert_eq(rings_set_split(fd, eth, ETHTOOL_TCP_DATA_SPLIT_ENABLED), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (!pid) {
		int cfd = nl_open(NULL);

		_exit(bind_rx(cfd, netdev, LO, (uint32_t)dmabuf, 1, reply, sizeof(reply)) == -EIO ?
			      0 :
			      1);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	close(fd);
	close(dmabuf);
}

/*
 * A tx binding steers nothing: a socket connected by a process that holds
 * only a tx binding is an ordinary socket, its data waits in the kernel
 * socket, and poll() sees it there (on a devmem NIC, bind-tx touches no rx
 * queue).
 */
Test(pl_netlink, a_tx_binding_leaves_the_processes_sockets_plain)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	uint8_t buf[128], reply[512];
	int fd = nl_open(NULL), dmabuf = host_dmabuf(1 << 20), l, c, s;
	uint16_t netdev = family(fd, "netdev");
	struct nlmsghdr *nlh = msg_start(buf, netdev, NLM_F_ACK, 9, NETDEV_CMD_BIND_TX);
	struct pollfd pfd = { .events = POLLIN };
	char x = 0;

	put_u32(nlh, NETDEV_A_DMABUF_IFINDEX, LO);
	put_u32(nlh, NETDEV_A_DMABUF_FD, (uint32_t)dmabuf);
	cr_assert_eq(request(fd, nlh, reply, sizeof(reply)), 0);

	l = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(l, 0);
	cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(l, 1), 0);
	cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &alen), 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	s = accept(l, NULL, NULL);
	cr_assert_geq(s, 0);
	cr_assert_eq(write(s, "x", 1), 1);
	/* the byte stays in the kernel socket: poll sees it, a plain read takes it */
	usleep(100 * 1000);
	pfd.fd = c;
	cr_assert_eq(poll(&pfd, 1, 2000), 1);
	cr_assert(pfd.revents & POLLIN);
	cr_assert_eq(ioctl(c, FIONREAD, &alen), 0);
	cr_assert_eq(alen, 1, "the kernel socket holds %u bytes", alen);
	cr_assert_eq(read(c, &x, 1), 1);
	cr_assert_eq(x, 'x');
	close(s);
	close(c);
	close(l);
	close(fd);
	close(dmabuf);
}
