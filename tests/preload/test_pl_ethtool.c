// SPDX-License-Identifier: MIT
/*
 * ethtool under the shim, seen by a program written to the kernel's UAPI
 * only: ioctl(SIOCETHTOOL) on lo answered by the software NIC with the
 * kernel's rules and errno (net/ethtool/ioctl.c), and ethtool command
 * lines run through system() and popen(), with and without sudo, carried
 * out on the same NIC with ethtool's output and exit codes.
 *
 * Each test first asks lo for its driver information, so that the test
 * process has its software NIC before any command line looks for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/ethtool_netlink.h>
#include <linux/genetlink.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <linux/udmabuf.h>
#include <net/if.h>
#include <spawn.h>
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devmem/uapi.h"

#include "../harness.h"

#define NR_RX 4 /* the software NIC's default queues */
#define INDIR 128
#define NTUPLE_BIT 38
#define RXHASH_BIT 39

static int eth_ioctl(const char *ifname, void *cmd)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM, 0), ret, err;

	cr_assert_geq(fd, 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = cmd;
	ret = ioctl(fd, SIOCETHTOOL, &ifr);
	err = errno;
	close(fd);
	errno = err;
	return ret;
}

/* -1 and @err, or a message naming what came back */
#define assert_fails(call, err)                                                            \
	do {                                                                               \
		errno = 0;                                                                 \
		int r_ = (call);                                                           \
		cr_assert_eq(r_, -1, #call " returned %d", r_);                            \
		cr_assert_eq(errno, err, #call ": errno %d (%s)", errno, strerror(errno)); \
	} while (0)

static void prime(void)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };

	cr_assert_eq(eth_ioctl("lo", &info), 0, "%s", strerror(errno));
	cr_assert_str_eq(info.driver, "swnic");
}

static struct ethtool_channels channels(void)
{
	struct ethtool_channels c = { .cmd = ETHTOOL_GCHANNELS };

	cr_assert_eq(eth_ioctl("lo", &c), 0, "%s", strerror(errno));
	return c;
}

static int set_channels(uint32_t rx, uint32_t tx, uint32_t combined)
{
	struct ethtool_channels c = { .cmd = ETHTOOL_SCHANNELS };

	c.rx_count = rx;
	c.tx_count = tx;
	c.combined_count = combined;
	return eth_ioctl("lo", &c);
}

/* A tcp4 rule to @queue for dst port @port at @loc, with full masks. */
static struct ethtool_rxnfc tcp4_rule(uint16_t port, uint64_t queue, uint32_t loc)
{
	struct ethtool_rxnfc nfc = { .cmd = ETHTOOL_SRXCLSRLINS };

	nfc.fs.flow_type = TCP_V4_FLOW;
	nfc.fs.h_u.tcp_ip4_spec.ip4dst = htonl(0x7f000001);
	nfc.fs.m_u.tcp_ip4_spec.ip4dst = 0xffffffff;
	nfc.fs.h_u.tcp_ip4_spec.pdst = htons(port);
	nfc.fs.m_u.tcp_ip4_spec.pdst = 0xffff;
	nfc.fs.ring_cookie = queue;
	nfc.fs.location = loc;
	return nfc;
}

static uint32_t insert(uint16_t port, uint64_t queue, uint32_t loc)
{
	struct ethtool_rxnfc nfc = tcp4_rule(port, queue, loc);

	cr_assert_eq(eth_ioctl("lo", &nfc), 0, "%s", strerror(errno));
	return nfc.fs.location;
}

static uint32_t rule_count(void)
{
	struct ethtool_rxnfc nfc = { .cmd = ETHTOOL_GRXCLSRLCNT };

	cr_assert_eq(eth_ioctl("lo", &nfc), 0, "%s", strerror(errno));
	return nfc.rule_cnt;
}

struct rxfh {
	struct ethtool_rxfh h;
	uint32_t indir[INDIR];
};

static int set_rxfh(uint32_t context, uint32_t indir_size, const uint32_t *indir,
		    uint32_t *out_context)
{
	struct rxfh r = { .h = { .cmd = ETHTOOL_SRSSH, .rss_context = context } };
	int ret;

	r.h.indir_size = indir_size;
	if (indir)
		memcpy(r.indir, indir, sizeof(r.indir));
	ret = eth_ioctl("lo", &r);
	if (out_context)
		*out_context = r.h.rss_context;
	return ret;
}

static uint64_t active_features(void)
{
	struct {
		struct ethtool_gfeatures h;
		struct ethtool_get_features_block b[2];
	} f = { .h = { .cmd = ETHTOOL_GFEATURES, .size = 2 } };

	cr_assert_eq(eth_ioctl("lo", &f), 0, "%s", strerror(errno));
	return f.b[0].active | (uint64_t)f.b[1].active << 32;
}

static int set_feature(unsigned int bit, bool on)
{
	struct {
		struct ethtool_sfeatures h;
		struct ethtool_set_features_block b[2];
	} s = { .h = { .cmd = ETHTOOL_SFEATURES, .size = 2 } };

	s.b[bit / 32].valid = 1U << (bit % 32);
	s.b[bit / 32].requested = on ? 1U << (bit % 32) : 0;
	return eth_ioctl("lo", &s);
}

/* ---- ioctl: channels and rings ---- */

Test(pl_ethtool, gchannels_reports_separate_rx_and_tx_queues)
{
	struct ethtool_channels c;

	prime();
	c = channels();
	cr_assert_eq(c.max_rx, NR_RX);
	cr_assert_eq(c.max_tx, NR_RX);
	cr_assert_eq(c.max_combined, 0);
	cr_assert_eq(c.rx_count, NR_RX);
	cr_assert_eq(c.tx_count, NR_RX);
	cr_assert_eq(c.combined_count, 0);
}

Test(pl_ethtool, schannels_changes_the_queue_counts)
{
	prime();
	cr_assert_eq(set_channels(2, 3, 0), 0, "%s", strerror(errno));
	cr_assert_eq(channels().rx_count, 2);
	cr_assert_eq(channels().tx_count, 3);
}

Test(pl_ethtool, schannels_with_no_change_is_0)
{
	prime();
	cr_assert_eq(set_channels(NR_RX, NR_RX, 0), 0);
}

Test(pl_ethtool, schannels_above_a_maximum_is_einval)
{
	prime();
	assert_fails(set_channels(NR_RX + 1, NR_RX, 0), EINVAL);
	assert_fails(set_channels(2, 2, 1), EINVAL); /* no combined channels */
	cr_assert_eq(channels().rx_count, NR_RX);
}

Test(pl_ethtool, schannels_without_an_rx_or_tx_channel_is_einval)
{
	prime();
	assert_fails(set_channels(0, 2, 0), EINVAL);
	assert_fails(set_channels(2, 0, 0), EINVAL);
}

Test(pl_ethtool, schannels_below_a_queue_a_flow_rule_uses_is_einval)
{
	prime();
	insert(5201, 3, RX_CLS_LOC_ANY);
	assert_fails(set_channels(3, 3, 0), EINVAL);
	cr_assert_eq(set_channels(NR_RX, 2, 0), 0, "tx alone may shrink");
}

Test(pl_ethtool, schannels_below_a_queue_the_indirection_table_uses_is_einval)
{
	uint32_t indir[INDIR] = { 0 };

	prime();
	indir[7] = 3;
	cr_assert_eq(set_rxfh(0, INDIR, indir, NULL), 0, "%s", strerror(errno));
	assert_fails(set_channels(3, 3, 0), EINVAL);
}

Test(pl_ethtool, schannels_below_a_queue_an_rss_context_uses_is_einval)
{
	uint32_t indir[INDIR] = { 0 }, ctx;

	prime();
	indir[0] = 2;
	cr_assert_eq(set_rxfh(ETH_RXFH_CONTEXT_ALLOC, INDIR, indir, &ctx), 0);
	assert_fails(set_channels(2, 2, 0), EINVAL);
	cr_assert_eq(set_channels(3, 3, 0), 0, "%s", strerror(errno));
}

/* ---- a queue bound to a dma-buf, as a program binds it (genetlink, udmabuf) ---- */

/* One request on @nl, its reply's attributes to @cb; the ack's errno (0 or negative). */
static int nl_request(struct mnl_socket *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[8192];
	ssize_t n;
	int ret;

	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = 1;
	cr_assert_geq(mnl_socket_sendto(nl, nlh, nlh->nlmsg_len), 0);
	do {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		cr_assert_gt(n, 0);
		ret = mnl_cb_run(buf, (size_t)n, 1, mnl_socket_get_portid(nl), cb, data);
	} while (ret > 0);
	return ret < 0 ? -errno : 0;
}

static struct nlmsghdr *genl_start(char *buf, uint16_t family, uint8_t cmd)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));

	nlh->nlmsg_type = family;
	g->cmd = cmd;
	g->version = 1;
	return nlh;
}

static int u32_attr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *a;
	uint32_t *want = data; /* [0]: attribute type in, [1]: value out */

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) if (mnl_attr_get_type(a) == want[0])
		want[1] = mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) if (mnl_attr_get_type(a) ==
								 CTRL_ATTR_FAMILY_ID) *
		(uint16_t *)data = mnl_attr_get_u16(a);
	return MNL_CB_OK;
}

static uint16_t genl_family(struct mnl_socket *nl, const char *name)
{
	char buf[256];
	struct nlmsghdr *nlh = genl_start(buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY);
	uint16_t id = 0;

	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, name);
	cr_assert_eq(nl_request(nl, nlh, family_cb, &id), 0);
	cr_assert_gt(id, 0);
	return id;
}

/* A dma-buf of @size from /dev/udmabuf, as ncdevmem makes it. */
static int udmabuf(size_t size)
{
	struct udmabuf_create create = { .size = size };
	int memfd = memfd_create("pl-ethtool", MFD_ALLOW_SEALING | MFD_CLOEXEC), dev, fd;

	cr_assert_geq(memfd, 0);
	cr_assert_eq(ftruncate(memfd, (off_t)size), 0);
	cr_assert_eq(fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	cr_assert_geq(dev, 0, "/dev/udmabuf: %s", strerror(errno));
	create.memfd = (uint32_t)memfd;
	fd = ioctl(dev, UDMABUF_CREATE, &create);
	cr_assert_geq(fd, 0, "UDMABUF_CREATE: %s", strerror(errno));
	close(dev);
	close(memfd);
	return fd;
}

/* Header split on, then rx queue @queue of lo bound to a new dma-buf on @nl; the dma-buf fd. */
static int bind_queue(struct mnl_socket *nl, uint32_t queue)
{
	char buf[512];
	struct nlmsghdr *nlh = genl_start(buf, genl_family(nl, "ethtool"), ETHTOOL_MSG_RINGS_SET);
	struct nlattr *nest;
	uint32_t id[2] = { NETDEV_A_DMABUF_ID, 0 };
	int dmabuf;

	nest = mnl_attr_nest_start(nlh, ETHTOOL_A_RINGS_HEADER);
	mnl_attr_put_u32(nlh, ETHTOOL_A_HEADER_DEV_INDEX, if_nametoindex("lo"));
	mnl_attr_nest_end(nlh, nest);
	mnl_attr_put_u8(nlh, ETHTOOL_A_RINGS_TCP_DATA_SPLIT, ETHTOOL_TCP_DATA_SPLIT_ENABLED);
	cr_assert_eq(nl_request(nl, nlh, NULL, NULL), 0, "rings-set: %s", strerror(errno));

	dmabuf = udmabuf(64 * 4096);
	nlh = genl_start(buf, genl_family(nl, "netdev"), NETDEV_CMD_BIND_RX);
	mnl_attr_put_u32(nlh, NETDEV_A_DMABUF_IFINDEX, if_nametoindex("lo"));
	mnl_attr_put_u32(nlh, NETDEV_A_DMABUF_FD, (uint32_t)dmabuf);
	nest = mnl_attr_nest_start(nlh, NETDEV_A_DMABUF_QUEUES);
	mnl_attr_put_u32(nlh, NETDEV_A_QUEUE_ID, queue);
	mnl_attr_put_u32(nlh, NETDEV_A_QUEUE_TYPE, NETDEV_QUEUE_TYPE_RX);
	mnl_attr_nest_end(nlh, nest);
	cr_assert_eq(nl_request(nl, nlh, u32_attr_cb, id), 0, "bind-rx: %s", strerror(errno));
	cr_assert_gt(id[1], 0);
	return dmabuf;
}

/* ethtool_check_max_channel(): dev_get_min_mp_channel_count() */
Test(pl_ethtool, schannels_below_a_queue_bound_to_a_dmabuf_is_einval_until_it_is_unbound)
{
	struct mnl_socket *nl;
	int dmabuf;

	prime();
	nl = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC);
	cr_assert_not_null(nl);
	cr_assert_eq(mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID), 0);
	dmabuf = bind_queue(nl, 3);
	assert_fails(set_channels(3, NR_RX, 0), EINVAL);
	cr_assert_eq(channels().rx_count, NR_RX);
	/* the binding belongs to the socket: closing it frees the queue */
	mnl_socket_close(nl);
	cr_assert_eq(set_channels(3, NR_RX, 0), 0, "%s", strerror(errno));
	close(dmabuf);
}

Test(pl_ethtool, ringparam_is_set_within_the_maximums)
{
	struct ethtool_ringparam rp = { .cmd = ETHTOOL_GRINGPARAM };

	prime();
	cr_assert_eq(eth_ioctl("lo", &rp), 0);
	cr_assert_gt(rp.rx_max_pending, 0);
	rp.cmd = ETHTOOL_SRINGPARAM;
	rp.rx_pending = rp.rx_max_pending + 1;
	assert_fails(eth_ioctl("lo", &rp), EINVAL);
	rp.rx_pending = 512;
	rp.tx_pending = 256;
	cr_assert_eq(eth_ioctl("lo", &rp), 0, "%s", strerror(errno));
	memset(&rp, 0, sizeof(rp));
	rp.cmd = ETHTOOL_GRINGPARAM;
	cr_assert_eq(eth_ioctl("lo", &rp), 0);
	cr_assert_eq(rp.rx_pending, 512);
	cr_assert_eq(rp.tx_pending, 256);
}

Test(pl_ethtool, sringparam_with_jumbo_or_mini_rings_is_einval)
{
	struct ethtool_ringparam rp = { .cmd = ETHTOOL_GRINGPARAM };

	prime();
	cr_assert_eq(eth_ioctl("lo", &rp), 0);
	rp.cmd = ETHTOOL_SRINGPARAM;
	rp.rx_jumbo_pending = 1;
	assert_fails(eth_ioctl("lo", &rp), EINVAL);
}

/* ---- ioctl: flow rules ---- */

Test(pl_ethtool, grxrings_is_the_rx_queue_count)
{
	struct ethtool_rxnfc nfc = { .cmd = ETHTOOL_GRXRINGS };

	prime();
	cr_assert_eq(eth_ioctl("lo", &nfc), 0);
	cr_assert_eq(nfc.data, NR_RX);
}

Test(pl_ethtool, grxclsrlcnt_counts_rules_and_says_the_device_picks_locations)
{
	struct ethtool_rxnfc nfc = { .cmd = ETHTOOL_GRXCLSRLCNT };

	prime();
	insert(1, 1, RX_CLS_LOC_ANY);
	cr_assert_eq(eth_ioctl("lo", &nfc), 0);
	cr_assert_eq(nfc.rule_cnt, 1);
	cr_assert(nfc.data & RX_CLS_LOC_SPECIAL);
	cr_assert_eq(nfc.data & ~RX_CLS_LOC_SPECIAL, 1024);
}

Test(pl_ethtool, srxclsrlins_loc_any_takes_the_highest_free_location)
{
	prime();
	cr_assert_eq(insert(1, 1, RX_CLS_LOC_ANY), 1023);
	cr_assert_eq(insert(2, 1, RX_CLS_LOC_ANY), 1022);
	cr_assert_eq(insert(3, 1, RX_CLS_LOC_FIRST), 0);
	cr_assert_eq(insert(4, 1, 7), 7);
}

Test(pl_ethtool, srxclsrlins_at_an_occupied_location_replaces_the_rule)
{
	struct ethtool_rxnfc get = { .cmd = ETHTOOL_GRXCLSRULE };

	prime();
	insert(1, 1, 9);
	insert(2, 2, 9);
	cr_assert_eq(rule_count(), 1);
	get.fs.location = 9;
	cr_assert_eq(eth_ioctl("lo", &get), 0);
	cr_assert_eq(ntohs(get.fs.h_u.tcp_ip4_spec.pdst), 2);
}

Test(pl_ethtool, srxclsrlins_to_a_queue_beyond_the_rx_rings_is_einval)
{
	struct ethtool_rxnfc nfc = tcp4_rule(1, NR_RX, RX_CLS_LOC_ANY);

	prime();
	assert_fails(eth_ioctl("lo", &nfc), EINVAL);
	cr_assert_eq(rule_count(), 0);
}

Test(pl_ethtool, srxclsrlins_beyond_the_table_is_einval)
{
	struct ethtool_rxnfc nfc = tcp4_rule(1, 1, 1024);

	prime();
	assert_fails(eth_ioctl("lo", &nfc), EINVAL);
}

Test(pl_ethtool, srxclsrlins_with_a_partial_mask_or_tos_is_einval)
{
	struct ethtool_rxnfc nfc = tcp4_rule(1, 1, RX_CLS_LOC_ANY);

	prime();
	nfc.fs.m_u.tcp_ip4_spec.ip4dst = htonl(0xffffff00);
	assert_fails(eth_ioctl("lo", &nfc), EINVAL);
	nfc = tcp4_rule(1, 1, RX_CLS_LOC_ANY);
	nfc.fs.m_u.tcp_ip4_spec.tos = 0xff;
	assert_fails(eth_ioctl("lo", &nfc), EINVAL);
	cr_assert_eq(rule_count(), 0);
}

Test(pl_ethtool, srxclsrlins_of_a_flow_type_the_nic_cannot_steer_is_einval)
{
	struct ethtool_rxnfc nfc = tcp4_rule(1, 1, RX_CLS_LOC_ANY);

	prime();
	nfc.fs.flow_type = ETHER_FLOW;
	assert_fails(eth_ioctl("lo", &nfc), EINVAL);
	nfc = tcp4_rule(1, 1, RX_CLS_LOC_ANY);
	nfc.fs.flow_type |= FLOW_EXT;
	assert_fails(eth_ioctl("lo", &nfc), EINVAL);
}

Test(pl_ethtool, srxclsrlins_drop_action_is_eopnotsupp)
{
	struct ethtool_rxnfc nfc = tcp4_rule(1, RX_CLS_FLOW_DISC, RX_CLS_LOC_ANY);

	prime();
	assert_fails(eth_ioctl("lo", &nfc), EOPNOTSUPP);
}

Test(pl_ethtool, srxclsrlins_to_a_context_that_does_not_exist_is_einval)
{
	struct ethtool_rxnfc nfc = tcp4_rule(1, 0, RX_CLS_LOC_ANY);

	prime();
	nfc.fs.flow_type |= FLOW_RSS;
	nfc.rss_context = 5;
	assert_fails(eth_ioctl("lo", &nfc), EINVAL);
}

Test(pl_ethtool, srxclsrlins_to_a_context_with_a_queue_is_einval)
{
	struct ethtool_rxnfc nfc = tcp4_rule(1, 1, RX_CLS_LOC_ANY);
	uint32_t ctx;

	prime();
	cr_assert_eq(set_rxfh(ETH_RXFH_CONTEXT_ALLOC, ETH_RXFH_INDIR_NO_CHANGE, NULL, &ctx), 0,
		     "%s", strerror(errno));
	nfc.fs.flow_type |= FLOW_RSS;
	nfc.rss_context = ctx;
	assert_fails(eth_ioctl("lo", &nfc), EINVAL);
	nfc.fs.ring_cookie = 0;
	cr_assert_eq(eth_ioctl("lo", &nfc), 0, "%s", strerror(errno));
}

Test(pl_ethtool, srxclsrlins_with_flow_rss_and_context_0_is_the_main_table)
{
	struct ethtool_rxnfc nfc = tcp4_rule(1, 0, RX_CLS_LOC_ANY);

	prime();
	nfc.fs.flow_type |= FLOW_RSS;
	nfc.rss_context = 0;
	cr_assert_eq(eth_ioctl("lo", &nfc), 0, "%s", strerror(errno));
}

Test(pl_ethtool, grxclsrule_gives_back_the_rule_with_its_masks_and_context)
{
	struct ethtool_rxnfc nfc = tcp4_rule(5201, 0, 3), get = { .cmd = ETHTOOL_GRXCLSRULE };
	uint32_t ctx;

	prime();
	cr_assert_eq(set_rxfh(ETH_RXFH_CONTEXT_ALLOC, ETH_RXFH_INDIR_NO_CHANGE, NULL, &ctx), 0);
	nfc.fs.flow_type |= FLOW_RSS;
	nfc.rss_context = ctx;
	cr_assert_eq(eth_ioctl("lo", &nfc), 0, "%s", strerror(errno));
	get.fs.location = 3;
	cr_assert_eq(eth_ioctl("lo", &get), 0);
	cr_assert_eq(get.fs.flow_type, TCP_V4_FLOW | FLOW_RSS);
	cr_assert_eq(get.rss_context, ctx);
	cr_assert_eq(get.fs.location, 3);
	cr_assert_eq(get.fs.h_u.tcp_ip4_spec.ip4dst, htonl(0x7f000001));
	cr_assert_eq(get.fs.m_u.tcp_ip4_spec.ip4dst, 0xffffffff);
	cr_assert_eq(get.fs.m_u.tcp_ip4_spec.ip4src, 0);
	cr_assert_eq(ntohs(get.fs.h_u.tcp_ip4_spec.pdst), 5201);
	cr_assert_eq(get.fs.m_u.tcp_ip4_spec.pdst, 0xffff);
	cr_assert_eq(get.fs.m_u.tcp_ip4_spec.psrc, 0);
}

Test(pl_ethtool, tcp6_rules_come_back_as_inserted)
{
	struct ethtool_rxnfc nfc = { .cmd = ETHTOOL_SRXCLSRLINS },
			     get = { .cmd = ETHTOOL_GRXCLSRULE };

	prime();
	nfc.fs.flow_type = TCP_V6_FLOW;
	nfc.fs.h_u.tcp_ip6_spec.ip6dst[3] = htonl(1);
	memset(nfc.fs.m_u.tcp_ip6_spec.ip6dst, 0xff, 16);
	nfc.fs.h_u.tcp_ip6_spec.pdst = htons(80);
	nfc.fs.m_u.tcp_ip6_spec.pdst = 0xffff;
	nfc.fs.ring_cookie = 2;
	nfc.fs.location = 4;
	cr_assert_eq(eth_ioctl("lo", &nfc), 0, "%s", strerror(errno));
	get.fs.location = 4;
	cr_assert_eq(eth_ioctl("lo", &get), 0);
	cr_assert_eq(get.fs.flow_type, TCP_V6_FLOW);
	cr_assert_eq(get.fs.h_u.tcp_ip6_spec.ip6dst[3], htonl(1));
	cr_assert_eq(get.fs.ring_cookie, 2);
}

Test(pl_ethtool, grxclsrule_of_an_empty_location_is_enoent)
{
	struct ethtool_rxnfc get = { .cmd = ETHTOOL_GRXCLSRULE };

	prime();
	get.fs.location = 17;
	assert_fails(eth_ioctl("lo", &get), ENOENT);
}

Test(pl_ethtool, grxclsrlall_lists_locations_and_too_small_a_list_is_emsgsize)
{
	/* rule_locs[] starts inside the struct's tail padding */
	uint32_t buf[(sizeof(struct ethtool_rxnfc) + 4 * sizeof(uint32_t)) / 4] = { 0 };
	struct ethtool_rxnfc *all = (struct ethtool_rxnfc *)buf;
	const uint32_t *locs = buf + offsetof(struct ethtool_rxnfc, rule_locs) / 4;

	prime();
	insert(1, 1, 10);
	insert(2, 1, 20);
	all->cmd = ETHTOOL_GRXCLSRLALL;
	all->rule_cnt = 4;
	cr_assert_eq(eth_ioctl("lo", all), 0);
	cr_assert_eq(all->rule_cnt, 2);
	cr_assert_eq(all->data, 1024);
	cr_assert_eq(locs[0], 10);
	cr_assert_eq(locs[1], 20);
	all->rule_cnt = 1;
	assert_fails(eth_ioctl("lo", all), EMSGSIZE);
	/* more than the kernel could allocate for the list */
	all->rule_cnt = (4U << 20) / 4 + 1;
	assert_fails(eth_ioctl("lo", all), ENOMEM);
}

Test(pl_ethtool, srxclsrldel_removes_the_rule_and_an_empty_location_is_enoent)
{
	struct ethtool_rxnfc del = { .cmd = ETHTOOL_SRXCLSRLDEL };

	prime();
	del.fs.location = insert(1, 1, RX_CLS_LOC_ANY);
	cr_assert_eq(eth_ioctl("lo", &del), 0);
	cr_assert_eq(rule_count(), 0);
	assert_fails(eth_ioctl("lo", &del), ENOENT);
}

/* ---- ioctl: RSS ---- */

Test(pl_ethtool, grxfhindir_with_size_0_gives_the_size_and_a_smaller_one_is_einval)
{
	struct {
		struct ethtool_rxfh_indir h;
		uint32_t ring[INDIR];
	} r = { .h = { .cmd = ETHTOOL_GRXFHINDIR, .size = 0 } };

	prime();
	cr_assert_eq(eth_ioctl("lo", &r), 0);
	cr_assert_eq(r.h.size, INDIR);
	r.h.size = 8;
	assert_fails(eth_ioctl("lo", &r), EINVAL);
	r.h.size = INDIR;
	cr_assert_eq(eth_ioctl("lo", &r), 0);
	for (int i = 0; i < INDIR; i++)
		cr_assert_eq(r.ring[i], (uint32_t)(i % NR_RX));
}

Test(pl_ethtool, srxfhindir_sets_validates_and_size_0_resets)
{
	struct {
		struct ethtool_rxfh_indir h;
		uint32_t ring[INDIR];
	} r = { .h = { .cmd = ETHTOOL_SRXFHINDIR, .size = INDIR } };

	prime();
	r.ring[5] = NR_RX;
	assert_fails(eth_ioctl("lo", &r), EINVAL);
	r.h.size = 64;
	assert_fails(eth_ioctl("lo", &r), EINVAL);
	r.h.size = INDIR;
	r.ring[5] = 1;
	cr_assert_eq(eth_ioctl("lo", &r), 0);
	r.h.cmd = ETHTOOL_GRXFHINDIR;
	memset(r.ring, 0xff, sizeof(r.ring));
	cr_assert_eq(eth_ioctl("lo", &r), 0);
	cr_assert_eq(r.ring[5], 1);
	cr_assert_eq(r.ring[6], 0);
	r.h.cmd = ETHTOOL_SRXFHINDIR;
	r.h.size = 0;
	cr_assert_eq(eth_ioctl("lo", &r), 0);
	r.h.cmd = ETHTOOL_GRXFHINDIR;
	r.h.size = INDIR;
	cr_assert_eq(eth_ioctl("lo", &r), 0);
	cr_assert_eq(r.ring[6], 2);
}

Test(pl_ethtool, grssh_reports_the_table_toeplitz_and_no_hash_key)
{
	struct rxfh r = { .h = { .cmd = ETHTOOL_GRSSH } };

	prime();
	cr_assert_eq(eth_ioctl("lo", &r), 0);
	cr_assert_eq(r.h.indir_size, INDIR);
	cr_assert_eq(r.h.key_size, 0);
	r.h.indir_size = INDIR;
	cr_assert_eq(eth_ioctl("lo", &r), 0);
	cr_assert_eq(r.indir[5], 1);
	/* the hash netlink's rss-get names too: ETH_RSS_HASH_TOP */
	cr_assert_eq(r.h.hfunc, 1);
	r.h.key_size = 40;
	assert_fails(eth_ioctl("lo", &r), EINVAL);
}

Test(pl_ethtool, rss_context_alloc_creates_and_indir_size_0_deletes)
{
	struct rxfh r = { .h = { .cmd = ETHTOOL_GRSSH } };
	uint32_t indir[INDIR], ctx = 0;

	prime();
	for (int i = 0; i < INDIR; i++)
		indir[i] = 3;
	cr_assert_eq(set_rxfh(ETH_RXFH_CONTEXT_ALLOC, INDIR, indir, &ctx), 0, "%s",
		     strerror(errno));
	cr_assert_eq(ctx, 1);
	r.h.rss_context = ctx;
	r.h.indir_size = INDIR;
	cr_assert_eq(eth_ioctl("lo", &r), 0);
	cr_assert_eq(r.indir[77], 3);
	cr_assert_eq(set_rxfh(ctx, 0, NULL, NULL), 0, "%s", strerror(errno));
	assert_fails(eth_ioctl("lo", &r), ENOENT);
}

Test(pl_ethtool, deleting_a_context_a_flow_rule_targets_is_ebusy)
{
	struct ethtool_rxnfc nfc = tcp4_rule(1, 0, 2), del = { .cmd = ETHTOOL_SRXCLSRLDEL };
	uint32_t ctx;

	prime();
	cr_assert_eq(set_rxfh(ETH_RXFH_CONTEXT_ALLOC, ETH_RXFH_INDIR_NO_CHANGE, NULL, &ctx), 0);
	nfc.fs.flow_type |= FLOW_RSS;
	nfc.rss_context = ctx;
	cr_assert_eq(eth_ioctl("lo", &nfc), 0);
	assert_fails(set_rxfh(ctx, 0, NULL, NULL), EBUSY);
	del.fs.location = 2;
	cr_assert_eq(eth_ioctl("lo", &del), 0);
	cr_assert_eq(set_rxfh(ctx, 0, NULL, NULL), 0);
}

Test(pl_ethtool, srssh_rules_on_sizes_reserved_fields_and_contexts)
{
	struct rxfh r = { .h = { .cmd = ETHTOOL_SRSSH } };

	prime();
	/* nothing asked to change (input_xfrm 0 is a change: no symmetric hashing) */
	r.h.indir_size = ETH_RXFH_INDIR_NO_CHANGE;
	r.h.rsvd8[0] = 0xff; /* input_xfrm: RXH_XFRM_NO_CHANGE */
	assert_fails(eth_ioctl("lo", &r), EINVAL);
	r.h.rsvd8[0] = 0;
	cr_assert_eq(eth_ioctl("lo", &r), 0);
	r.h.indir_size = 64;
	assert_fails(eth_ioctl("lo", &r), EINVAL);
	r.h.indir_size = 0;
	r.h.key_size = 40;
	assert_fails(eth_ioctl("lo", &r), EINVAL);
	r.h.key_size = 0;
	r.h.rsvd32 = 1;
	assert_fails(eth_ioctl("lo", &r), EINVAL);
	r.h.rsvd32 = 0;
	/* creating and deleting at once */
	r.h.rss_context = ETH_RXFH_CONTEXT_ALLOC;
	assert_fails(eth_ioctl("lo", &r), EINVAL);
	r.h.rss_context = 9;
	r.h.indir_size = INDIR;
	assert_fails(eth_ioctl("lo", &r), ENOENT);
	/* a hash function or symmetric hashing the device does not have */
	r.h.rss_context = 0;
	r.h.hfunc = 2; /* ETH_RSS_HASH_XOR: the device has Toeplitz alone */
	assert_fails(eth_ioctl("lo", &r), EOPNOTSUPP);
	r.h.hfunc = 0;
	r.h.rsvd8[0] = 1; /* input_xfrm: symmetric xor */
	assert_fails(eth_ioctl("lo", &r), EOPNOTSUPP);
	r.h.rsvd8[0] = 0x40;
	assert_fails(eth_ioctl("lo", &r), EINVAL);
}

Test(pl_ethtool, srssh_indir_entry_beyond_the_rx_rings_is_einval)
{
	uint32_t indir[INDIR] = { 0 };

	prime();
	indir[127] = NR_RX;
	assert_fails(set_rxfh(0, INDIR, indir, NULL), EINVAL);
}

/* ---- ioctl: features, string sets, the rest ---- */

Test(pl_ethtool, ntuple_feature_toggles_and_turning_it_off_deletes_the_rules)
{
	prime();
	cr_assert_not(active_features() & (1ULL << NTUPLE_BIT));
	cr_assert_eq(set_feature(NTUPLE_BIT, true), 0, "%s", strerror(errno));
	cr_assert(active_features() & (1ULL << NTUPLE_BIT));
	insert(1, 1, RX_CLS_LOC_ANY);
	cr_assert_eq(set_feature(NTUPLE_BIT, false), 0);
	cr_assert_not(active_features() & (1ULL << NTUPLE_BIT));
	cr_assert_eq(rule_count(), 0);
}

Test(pl_ethtool, sfeatures_of_a_fixed_feature_returns_ethtool_f_unsupported)
{
	prime();
	cr_assert_eq(set_feature(16 /* tx-tcp-segmentation */, true), ETHTOOL_F_UNSUPPORTED);
	cr_assert_not(active_features() & (1ULL << 16));
}

Test(pl_ethtool, sfeatures_of_a_never_change_bit_or_wrong_size_is_einval)
{
	struct {
		struct ethtool_sfeatures h;
		struct ethtool_set_features_block b[2];
	} s = { .h = { .cmd = ETHTOOL_SFEATURES, .size = 1 } };

	prime();
	assert_fails(eth_ioctl("lo", &s), EINVAL);
	s.h.size = 2;
	s.b[0].valid = 1U << 10; /* vlan-challenged */
	assert_fails(eth_ioctl("lo", &s), EINVAL);
}

Test(pl_ethtool, gsset_info_and_gstrings_name_the_feature_bits)
{
	struct {
		struct ethtool_sset_info h;
		uint32_t counts[2];
	} info = { .h = { .cmd = ETHTOOL_GSSET_INFO,
			  .sset_mask = (1ULL << ETH_SS_FEATURES) | (1ULL << ETH_SS_STATS) } };
	struct ethtool_gstrings *gs;

	prime();
	cr_assert_eq(eth_ioctl("lo", &info), 0);
	cr_assert_eq(info.h.sset_mask, 1ULL << ETH_SS_FEATURES, "no statistics");
	cr_assert_eq(info.counts[0], 64);
	gs = calloc(1, sizeof(*gs) + 64 * ETH_GSTRING_LEN);
	gs->cmd = ETHTOOL_GSTRINGS;
	gs->string_set = ETH_SS_FEATURES;
	cr_assert_eq(eth_ioctl("lo", gs), 0);
	cr_assert_eq(gs->len, 64);
	cr_assert_str_eq((char *)gs->data + NTUPLE_BIT * ETH_GSTRING_LEN, "rx-ntuple-filter");
	gs->string_set = ETH_SS_STATS;
	assert_fails(eth_ioctl("lo", gs), EOPNOTSUPP);
	free(gs);
}

Test(pl_ethtool, legacy_flags_show_and_set_ntuple)
{
	struct ethtool_value v = { .cmd = ETHTOOL_SFLAGS,
				   .data = ETH_FLAG_NTUPLE | ETH_FLAG_RXHASH };

	prime();
	cr_assert_eq(eth_ioctl("lo", &v), 0, "%s", strerror(errno));
	v.cmd = ETHTOOL_GFLAGS;
	v.data = 0;
	cr_assert_eq(eth_ioctl("lo", &v), 0);
	cr_assert_eq(v.data, ETH_FLAG_NTUPLE | ETH_FLAG_RXHASH);
	v.cmd = ETHTOOL_SFLAGS;
	/* only a fixed feature changes: EOPNOTSUPP; with a changeable one too: EINVAL */
	v.data = ETH_FLAG_NTUPLE | ETH_FLAG_RXHASH | ETH_FLAG_LRO;
	assert_fails(eth_ioctl("lo", &v), EOPNOTSUPP);
	v.data = ETH_FLAG_RXHASH | ETH_FLAG_LRO;
	assert_fails(eth_ioctl("lo", &v), EINVAL);
	v.data = 1U << 3;
	assert_fails(eth_ioctl("lo", &v), EINVAL);
}

Test(pl_ethtool, an_unknown_command_is_eopnotsupp)
{
	struct ethtool_value v = { .cmd = ETHTOOL_GLINK };
	uint32_t bogus = 0x7777;

	prime();
	assert_fails(eth_ioctl("lo", &v), EOPNOTSUPP);
	assert_fails(eth_ioctl("lo", &bogus), EOPNOTSUPP);
}

Test(pl_ethtool, an_unreadable_ifr_data_is_efault)
{
	prime();
	assert_fails(eth_ioctl("lo", (void *)8), EFAULT);
	assert_fails(eth_ioctl("lo", NULL), EFAULT);
}

Test(pl_ethtool, an_unwritable_result_is_efault)
{
	struct ethtool_channels *ro = (struct ethtool_channels *)"\x3c\0\0\0 read-only string...";

	prime();
	/* GCHANNELS (0x3c) reads its command word, then cannot write the answer */
	assert_fails(eth_ioctl("lo", ro), EFAULT);
}

Test(pl_ethtool, an_interface_that_does_not_exist_is_the_kernels_enodev)
{
	struct ethtool_channels c = { .cmd = ETHTOOL_GCHANNELS };

	prime();
	assert_fails(eth_ioctl("devmemnosuch0", &c), ENODEV);
}

/*
 * DEVMEM_RUN_IFACES names the emulated interfaces; it is read when the shim
 * loads, so a child started with it answers for lo as the kernel does.
 */
Test(pl_ethtool, an_interface_not_emulated_is_the_kernels)
{
	int status;

	prime();
	status = system("DEVMEM_RUN_IFACES=devmemnone0 /proc/$PPID/exe --pl-ethtool-child");
	cr_assert(WIFEXITED(status));
	/* the kernel's lo has no channels */
	cr_assert_eq(WEXITSTATUS(status), EOPNOTSUPP, "the child saw errno %d",
		     WEXITSTATUS(status));
}

__attribute__((constructor)) static void child_check(int argc, char **argv)
{
	struct ethtool_channels c = { .cmd = ETHTOOL_GCHANNELS };

	if (argc != 2 || strcmp(argv[1], "--pl-ethtool-child"))
		return;
	_exit(eth_ioctl("lo", &c) ? errno : 0);
}

/* ---- command lines ---- */

/* Run @cmd with sh, its stdout (and stderr when the command says 2>&1) into @out. */
static int run(const char *cmd, char *out, size_t len)
{
	FILE *f = popen(cmd, "r");
	size_t n = 0;
	int status;

	cr_assert_not_null(f, "popen: %s", strerror(errno));
	while (n + 1 < len) {
		size_t got = fread(out + n, 1, len - 1 - n, f);

		if (!got)
			break;
		n += got;
	}
	out[n] = 0;
	status = pclose(f);
	cr_assert(WIFEXITED(status), "%s: status %#x", cmd, status);
	return WEXITSTATUS(status);
}

/* Whether a real ethtool is on PATH (after the stand-ins). */
static bool real_ethtool(void)
{
	return system("for d in $(echo \"$PATH\" | tr : ' '); do "
		      "[ \"$d\" != \"$DEVMEM_RUN_TOOLDIR\" ] && [ -x \"$d/ethtool\" ] && exit 0; "
		      "done; exit 1") == 0;
}

Test(pl_ethtool, system_sudo_ethtool_offload_ntuple_on_turns_the_feature_on)
{
	prime();
	cr_assert_eq(system("sudo ethtool -K lo ntuple on >&2"), 0);
	cr_assert(active_features() & (1ULL << NTUPLE_BIT));
	cr_assert_eq(system("ethtool -K lo ntuple off"), 0);
	cr_assert_not(active_features() & (1ULL << NTUPLE_BIT));
}

Test(pl_ethtool, posix_spawn_of_a_shell_running_ethtool_reaches_the_nic)
{
	char *argv[] = { "sh", "-c", "ethtool -K lo rxhash off", NULL };
	extern char **environ;
	int status;
	pid_t pid;

	prime();
	cr_assert(active_features() & (1ULL << RXHASH_BIT));
	cr_assert_eq(posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	cr_assert_not(active_features() & (1ULL << RXHASH_BIT));
}

Test(pl_ethtool, ethtool_config_nfc_flow_type_says_the_rule_id_and_the_device_has_it)
{
	char out[256];

	prime();
	cr_assert_eq(run("sudo ethtool -N lo flow-type tcp4 src-ip 127.0.0.1 dst-ip 127.0.0.1 "
			 "src-port 4000 dst-port 5201 queue 1",
			 out, sizeof(out)),
		     0);
	cr_assert_str_eq(out, "Added rule with ID 1023\n");
	cr_assert_eq(rule_count(), 1);
}

Test(pl_ethtool, ethtool_show_nfc_lists_rules_as_ethtool_does)
{
	char out[2048];
	struct ethtool_rxnfc nfc = { .cmd = ETHTOOL_SRXCLSRLINS };

	prime();
	insert(5201, 1, 1023);
	nfc.fs.flow_type = TCP_V6_FLOW;
	nfc.fs.h_u.tcp_ip6_spec.ip6src[3] = htonl(1);
	memset(nfc.fs.m_u.tcp_ip6_spec.ip6src, 0xff, 16);
	nfc.fs.h_u.tcp_ip6_spec.psrc = htons(7);
	nfc.fs.m_u.tcp_ip6_spec.psrc = 0xffff;
	nfc.fs.ring_cookie = 2;
	nfc.fs.location = 4;
	cr_assert_eq(eth_ioctl("lo", &nfc), 0);
	cr_assert_eq(run("ethtool -n lo", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "4 RX rings available\n"
			      "Total 2 rules\n"
			      "\n"
			      "Filter: 4\n"
			      "\tRule Type: TCP over IPv6\n"
			      "\tSrc IP addr: ::1 mask: ::\n"
			      "\tDest IP addr: :: mask: ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\n"
			      "\tTraffic Class: 0x0 mask: 0xff\n"
			      "\tSrc port: 7 mask: 0x0\n"
			      "\tDest port: 0 mask: 0xffff\n"
			      "\tAction: Direct to queue 2\n"
			      "\n"
			      "Filter: 1023\n"
			      "\tRule Type: TCP over IPv4\n"
			      "\tSrc IP addr: 0.0.0.0 mask: 255.255.255.255\n"
			      "\tDest IP addr: 127.0.0.1 mask: 0.0.0.0\n"
			      "\tTOS: 0x0 mask: 0xff\n"
			      "\tSrc port: 0 mask: 0xffff\n"
			      "\tDest port: 5201 mask: 0x0\n"
			      "\tAction: Direct to queue 1\n"
			      "\n");
}

Test(pl_ethtool, ncdevmems_pipeline_deletes_every_rule)
{
	prime();
	insert(1, 1, 3);
	insert(2, 2, RX_CLS_LOC_ANY);
	insert(3, 3, RX_CLS_LOC_ANY);
	cr_assert_eq(system("sudo ethtool -n lo | grep 'Filter:' | awk '{print $2}' | "
			    "xargs -n1 ethtool -N lo delete >&2"),
		     0);
	cr_assert_eq(rule_count(), 0);
}

Test(pl_ethtool, ethtool_config_nfc_delete_of_no_rule_exits_1_with_ethtools_message)
{
	char out[256];

	prime();
	cr_assert_eq(run("ethtool -N lo delete 7 2>&1", out, sizeof(out)), 1);
	cr_assert_str_eq(out, "rmgr: Cannot delete RX class rule: No such file or directory\n"
			      "Cannot delete classification rule\n");
}

Test(pl_ethtool, ethtool_config_nfc_refused_by_the_device_exits_1_with_ethtools_message)
{
	char out[256];

	prime();
	cr_assert_eq(run("ethtool -N lo flow-type tcp4 dst-port 1 queue 9 2>&1", out, sizeof(out)),
		     1);
	cr_assert_str_eq(out, "rmgr: Cannot insert RX class rule: Invalid argument\n"
			      "Cannot insert classification rule\n");
	cr_assert_eq(rule_count(), 0);
}

Test(pl_ethtool, ethtool_config_nfc_bad_arguments_exit_1_with_ethtools_message)
{
	char out[256];

	prime();
	cr_assert_eq(
		run("ethtool -N lo flow-type tcp4 dst-port 99999 queue 1 2>&1", out, sizeof(out)),
		1);
	cr_assert_str_eq(out, "Invalid dst-port value[99999]\n"
			      "ethtool: bad command line argument(s)\n"
			      "For more information run ethtool -h\n");
	cr_assert_eq(run("ethtool -N lo flow-type tcp4 dst-port 1 action 1 queue 1 2>&1", out,
			 sizeof(out)),
		     1);
	cr_assert_str_eq(out, "action and queue are not compatible\n"
			      "ethtool: bad command line argument(s)\n"
			      "For more information run ethtool -h\n");
	cr_assert_eq(rule_count(), 0);
}

Test(pl_ethtool, ethtool_config_nfc_context_targets_an_rss_context)
{
	char out[256];
	struct ethtool_rxnfc get = { .cmd = ETHTOOL_GRXCLSRULE };

	prime();
	cr_assert_eq(run("ethtool -X lo context new", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "New RSS context is 1\n");
	cr_assert_eq(
		run("ethtool -N lo flow-type udp6 dst-port 9 context 1 loc 8", out, sizeof(out)),
		0);
	get.fs.location = 8;
	cr_assert_eq(eth_ioctl("lo", &get), 0);
	cr_assert_eq(get.fs.flow_type, UDP_V6_FLOW | FLOW_RSS);
	cr_assert_eq(get.rss_context, 1);
	cr_assert_eq(run("ethtool -X lo context 1 delete 2>&1", out, sizeof(out)), 1);
	cr_assert_str_eq(out, "Cannot set RX flow hash configuration: Device or resource busy\n");
}

Test(pl_ethtool, ethtool_rxfh_equal_spreads_and_beyond_the_rings_fails)
{
	char out[256];
	struct rxfh r = { .h = { .cmd = ETHTOOL_GRSSH, .indir_size = INDIR } };

	prime();
	cr_assert_eq(run("sudo ethtool -X lo equal 2 >&2", out, sizeof(out)), 0);
	cr_assert_eq(eth_ioctl("lo", &r), 0);
	cr_assert_eq(r.indir[2], 0);
	cr_assert_eq(r.indir[3], 1);
	cr_assert_eq(run("ethtool -X lo equal 5 2>&1", out, sizeof(out)), 1);
	cr_assert_str_eq(out, "Cannot set RX flow hash configuration: Invalid argument\n");
	cr_assert_eq(run("ethtool -X lo weight 1 0 0 1 && ethtool -X lo default", out, sizeof(out)),
		     0);
}

Test(pl_ethtool, ethtool_show_rxfh_prints_the_indirection_table)
{
	char out[2048];

	prime();
	cr_assert_eq(run("ethtool -x lo | head -3", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "RX flow hash indirection table for lo with 4 RX ring(s):\n"
			      "    0:      0     1     2     3     0     1     2     3\n"
			      "    8:      0     1     2     3     0     1     2     3\n");
}

Test(pl_ethtool, ethtool_show_channels_prints_the_channel_parameters)
{
	char out[512];

	prime();
	cr_assert_eq(run("ethtool -l lo", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "Channel parameters for lo:\n"
			      "Pre-set maximums:\n"
			      "RX:\t\t4\n"
			      "TX:\t\t4\n"
			      "Other:\t\tn/a\n"
			      "Combined:\tn/a\n"
			      "Current hardware settings:\n"
			      "RX:\t\t4\n"
			      "TX:\t\t4\n"
			      "Other:\t\tn/a\n"
			      "Combined:\tn/a\n");
}

Test(pl_ethtool, ethtool_set_channels_sets_and_a_refusal_exits_1)
{
	char out[512];

	prime();
	cr_assert_eq(run("sudo ethtool -L lo rx 3 tx 2", out, sizeof(out)), 0);
	cr_assert_eq(channels().rx_count, 3);
	insert(1, 2, RX_CLS_LOC_ANY);
	cr_assert_eq(run("ethtool -L lo rx 2 tx 1 2>&1", out, sizeof(out)), 1);
	cr_assert(strstr(out, "netlink error: requested channel counts are too low"), "%s", out);
	cr_assert_eq(channels().rx_count, 3);
}

Test(pl_ethtool, ethtool_set_ring_and_show_ring)
{
	char out[512];

	prime();
	cr_assert_eq(
		run("ethtool -G lo rx 1024 && ethtool -g lo | grep -A1 Current", out, sizeof(out)),
		0);
	cr_assert_str_eq(out, "Current hardware settings:\nRX:\t\t\t1024\n");
}

Test(pl_ethtool, ethtool_show_features_and_a_fixed_features_change_exits_1)
{
	char out[4096];

	prime();
	cr_assert_eq(run("ethtool -k lo | grep -E 'Features|ntuple|tx-tcp-seg'", out, sizeof(out)),
		     0);
	cr_assert_str_eq(out, "Features for lo:\n"
			      "tx-tcp-segmentation: off [fixed]\n"
			      "rx-ntuple-filter: off\n");
	cr_assert_eq(run("ethtool -K lo tso on 2>&1", out, sizeof(out)), 1);
	cr_assert_str_eq(out, "Could not change any device features\n");
	cr_assert_eq(run("ethtool -K lo no-such-feature on 2>&1", out, sizeof(out)), 1);
}

Test(pl_ethtool, ethtool_driver_names_the_driver)
{
	char out[512];

	prime();
	cr_assert_eq(run("ethtool -i lo | head -1", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "driver: swnic\n");
}

Test(pl_ethtool, ethtool_line_is_traced_with_its_exit_code_and_rule)
{
	char out[512];

	prime();
	cr_assert_eq(run("DEVMEM_RUN_TRACE=1 ethtool -N lo flow-type tcp4 dst-port 9 queue 1 "
			 "2>&1 >/dev/null",
			 out, sizeof(out)),
		     0);
	cr_assert_str_eq(out, "devmem: ethtool -N lo flow-type tcp4 dst-port 9 queue 1 = 0 "
			      "(rule 1023)\n");
	/* a line ethtool refuses is traced too (xargs runs it once with no rule to delete) */
	cr_assert_eq(run("DEVMEM_RUN_TRACE=1 ethtool -N lo delete 2>&1 | grep devmem:", out,
			 sizeof(out)),
		     0);
	cr_assert_str_eq(out, "devmem: ethtool -N lo delete = 1\n");
}

Test(pl_ethtool, ethtool_on_an_interface_not_emulated_is_the_real_one_or_not_found)
{
	char out[256];

	prime();
	if (real_ethtool())
		cr_skip_test("a real ethtool is installed: its answer is the kernel's");
	cr_assert_eq(run("ethtool -l devmemnosuch0 2>&1", out, sizeof(out)), 127);
	cr_assert_str_eq(out, "sh: 1: ethtool: not found\n");
	/* a form the stand-in does not know is the real ethtool's too */
	cr_assert_eq(run("ethtool -S lo 2>&1", out, sizeof(out)), 127);
}

Test(pl_ethtool, sudo_runs_another_command_itself_without_a_real_sudo)
{
	char out[256];

	prime();
	if (system("for d in $(echo \"$PATH\" | tr : ' '); do "
		   "[ \"$d\" != \"$DEVMEM_RUN_TOOLDIR\" ] && [ -x \"$d/sudo\" ] && exit 0; "
		   "done; exit 1") == 0)
		cr_skip_test("a real sudo is installed: other commands go to it");
	cr_assert_eq(run("sudo echo hello", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "hello\n");
	cr_assert_eq(run("sudo -E false", out, sizeof(out)), 1);
	cr_assert_eq(run("sudo devmem-no-such-command 2>&1", out, sizeof(out)), 1);
	cr_assert_str_eq(out, "sudo: devmem-no-such-command: command not found\n");
}
