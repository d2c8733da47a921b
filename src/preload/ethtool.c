// SPDX-License-Identifier: MIT
/*
 * ioctl(SIOCETHTOOL) on an interface the shim emulates: the kernel's
 * dev_ethtool() and the handlers of net/ethtool/ioctl.c (mainline, 6.12 to
 * 6.18: ethtool_set_channels, ethtool_check_max_channel, ethtool_set_rxfh,
 * ethtool_set_rxnfc, ...) answered with the software NIC behind pl_ctl().
 *
 * Every copy in or out of the caller's memory goes through
 * copy_from_user()/copy_to_user() below, which fail with EFAULT on memory
 * the process cannot read or write, as the kernel's do: a bad ifr_data is
 * an error, never a crash. Checks come in the kernel's order, so the errno
 * for an argument that is wrong in two ways is the kernel's.
 *
 * The same function answers the `ethtool` stand-in's requests in the
 * server (ethtool-server.c): one emulation for both.
 */
#include <errno.h>
#include <stdbool.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "devmem/netdev.h"
#include "preload/ethtool-priv.h"
#include "preload/preload.h"

/*
 * Where the process may not read itself through process_vm_readv() (a
 * seccomp profile without it), copies are plain: a bad pointer then faults
 * as it would in libc. Set once (atomic).
 */
static bool pl_plain_copies;

/* The process's own memory through the kernel: -EFAULT where it is not readable/writable. */
static int pl_copy(void *dst, const void *src, size_t len, bool to_user)
{
	struct iovec local = { .iov_base = to_user ? (void *)src : dst, .iov_len = len };
	struct iovec remote = { .iov_base = to_user ? dst : (void *)src, .iov_len = len };
	int saved = errno;
	ssize_t n;

	if (!len)
		return 0;
	if (!__atomic_load_n(&pl_plain_copies, __ATOMIC_RELAXED)) {
		n = to_user ? process_vm_writev(getpid(), &local, 1, &remote, 1, 0) :
			      process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
		if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
			__atomic_store_n(&pl_plain_copies, true, __ATOMIC_RELAXED);
		} else {
			errno = saved;
			return n == (ssize_t)len ? 0 : -EFAULT;
		}
		errno = saved;
	}
	memcpy(dst, src, len);
	return 0;
}

/* What the kernel's copy_from_user() says for memory it cannot read. */
static int copy_from_user(void *dst, const void *src, size_t len)
{
	return pl_copy(dst, src, len, false);
}

static int copy_to_user(void *dst, const void *src, size_t len)
{
	return pl_copy(dst, src, len, true);
}

/* One call: the device and where its argument lives. */
struct pl_ethtool_req {
	struct devmem_ctl *ctl;
	int ifindex;
	const char *name;
	char *useraddr;
};

/* ---- features (ETH_SS_FEATURES) ---- */

/*
 * The kernel's netdev_features_strings in netdev_features_t bit order
 * (include/linux/netdev_features.h); unused bits have no name.
 */
const char *const pl_feature_names[PL_NETDEV_FEATURE_COUNT] = {
	"tx-scatter-gather",
	"tx-checksum-ipv4",
	"",
	"tx-checksum-ip-generic",
	"tx-checksum-ipv6",
	"highdma",
	"tx-scatter-gather-fraglist",
	"tx-vlan-hw-insert",
	"rx-vlan-hw-parse",
	"rx-vlan-filter",
	"vlan-challenged",
	"tx-generic-segmentation",
	"",
	"netns-local",
	"rx-gro",
	"rx-lro",
	"tx-tcp-segmentation",
	"tx-gso-robust",
	"tx-tcp-ecn-segmentation",
	"tx-tcp-mangleid-segmentation",
	"tx-tcp6-segmentation",
	"tx-fcoe-segmentation",
	"tx-gre-segmentation",
	"tx-gre-csum-segmentation",
	"tx-ipxip4-segmentation",
	"tx-ipxip6-segmentation",
	"tx-udp_tnl-segmentation",
	"tx-udp_tnl-csum-segmentation",
	"tx-gso-partial",
	"tx-tunnel-remcsum-segmentation",
	"tx-sctp-segmentation",
	"tx-esp-segmentation",
	"tx-udp-fragmentation",
	"tx-udp-segmentation",
	"tx-gso-list",
	"tx-checksum-fcoe-crc",
	"tx-checksum-sctp",
	"fcoe-mtu",
	"rx-ntuple-filter",
	"rx-hashing",
	"rx-checksum",
	"tx-nocache-copy",
	"loopback",
	"rx-fcs",
	"rx-all",
	"tx-vlan-stag-hw-insert",
	"rx-vlan-stag-hw-parse",
	"rx-vlan-stag-filter",
	"l2-fwd-offload",
	"hw-tc-offload",
	"esp-hw-offload",
	"esp-tx-csum-hw-offload",
	"rx-udp_tunnel-port-offload",
	"tls-hw-tx-offload",
	"tls-hw-rx-offload",
	"rx-gro-hw",
	"tls-hw-record",
	"rx-gro-list",
	"macsec-hw-offload",
	"rx-udp-gro-forwarding",
	"hsr-tag-ins-offload",
	"hsr-tag-rm-offload",
	"hsr-fwd-offload",
	"hsr-dup-offload",
};

static const char *const pl_rss_hash_func_names[] = { "toeplitz", "xor", "crc32" };

/* __ethtool_get_sset_count(): the string sets this device has */
static int pl_sset_count(uint32_t sset)
{
	if (sset == ETH_SS_FEATURES)
		return PL_NETDEV_FEATURE_COUNT;
	if (sset == ETH_SS_RSS_HASH_FUNCS)
		return (int)(sizeof(pl_rss_hash_func_names) / sizeof(pl_rss_hash_func_names[0]));
	return -EOPNOTSUPP;
}

static int pl_get_sset_info(struct pl_ethtool_req *r)
{
	struct ethtool_sset_info info;
	uint32_t counts[64];
	uint64_t mask;
	unsigned int n = 0;

	if (copy_from_user(&info, r->useraddr, sizeof(info)))
		return -EFAULT;
	mask = info.sset_mask;
	if (!mask)
		return 0;
	memset(&info, 0, sizeof(info));
	info.cmd = ETHTOOL_GSSET_INFO;
	for (unsigned int i = 0; i < 64; i++) {
		int rc;

		if (!(mask & (1ULL << i)))
			continue;
		rc = pl_sset_count(i);
		if (rc >= 0) {
			info.sset_mask |= 1ULL << i;
			counts[n++] = (uint32_t)rc;
		}
	}
	if (copy_to_user(r->useraddr, &info, sizeof(info)))
		return -EFAULT;
	if (copy_to_user(r->useraddr + offsetof(struct ethtool_sset_info, data), counts,
			 n * sizeof(counts[0])))
		return -EFAULT;
	return 0;
}

static int pl_get_strings(struct pl_ethtool_req *r)
{
	struct ethtool_gstrings gs;
	char(*data)[ETH_GSTRING_LEN];
	const char *const *names;
	int count, err = 0;

	if (copy_from_user(&gs, r->useraddr, sizeof(gs)))
		return -EFAULT;
	count = pl_sset_count(gs.string_set);
	if (count < 0)
		return count;
	names = gs.string_set == ETH_SS_FEATURES ? pl_feature_names : pl_rss_hash_func_names;
	data = calloc((size_t)count, ETH_GSTRING_LEN);
	if (!data)
		return -ENOMEM;
	for (int i = 0; i < count; i++)
		strncpy(data[i], names[i], ETH_GSTRING_LEN - 1);
	gs.len = (uint32_t)count;
	if (copy_to_user(r->useraddr, &gs, sizeof(gs)) ||
	    copy_to_user(r->useraddr + sizeof(gs), data, (size_t)count * ETH_GSTRING_LEN))
		err = -EFAULT;
	free(data);
	return err;
}

static int pl_get_features(struct pl_ethtool_req *r)
{
	struct ethtool_gfeatures cmd = { .cmd = ETHTOOL_GFEATURES, .size = PL_FEATURE_WORDS };
	struct ethtool_get_features_block blocks[PL_FEATURE_WORDS];
	uint64_t hw, wanted, active;
	uint32_t copy_size;
	int err;

	err = devmem_get_features(r->ctl, r->ifindex, &hw, &wanted, &active);
	if (err)
		return err;
	for (int i = 0; i < PL_FEATURE_WORDS; i++) {
		blocks[i].available = (uint32_t)(hw >> (32 * i));
		blocks[i].requested = (uint32_t)(wanted >> (32 * i));
		blocks[i].active = (uint32_t)(active >> (32 * i));
		blocks[i].never_changed = (uint32_t)(PL_NETIF_F_NEVER_CHANGE >> (32 * i));
	}
	if (copy_from_user(&copy_size, r->useraddr + offsetof(struct ethtool_gfeatures, size),
			   sizeof(copy_size)))
		return -EFAULT;
	if (copy_size > PL_FEATURE_WORDS)
		copy_size = PL_FEATURE_WORDS;
	if (copy_to_user(r->useraddr, &cmd, sizeof(cmd)) ||
	    copy_to_user(r->useraddr + sizeof(cmd), blocks, copy_size * sizeof(blocks[0])))
		return -EFAULT;
	return 0;
}

static int pl_set_features(struct pl_ethtool_req *r)
{
	struct ethtool_sfeatures cmd;
	struct ethtool_set_features_block blocks[PL_FEATURE_WORDS];
	uint64_t valid = 0, wanted = 0;

	if (copy_from_user(&cmd, r->useraddr, sizeof(cmd)))
		return -EFAULT;
	if (cmd.size != PL_FEATURE_WORDS)
		return -EINVAL;
	if (copy_from_user(blocks, r->useraddr + sizeof(cmd), sizeof(blocks)))
		return -EFAULT;
	for (int i = 0; i < PL_FEATURE_WORDS; i++) {
		valid |= (uint64_t)blocks[i].valid << (32 * i);
		wanted |= (uint64_t)blocks[i].requested << (32 * i);
	}
	if (valid & ~PL_NETIF_F_ETHTOOL_BITS)
		return -EINVAL;
	/* the device applies what it can at once: never ETHTOOL_F_WISH */
	return devmem_set_features(r->ctl, r->ifindex, valid, wanted);
}

/* ETHTOOL_GFLAGS / SFLAGS: the legacy view of five features */
static int pl_get_flags(struct pl_ethtool_req *r)
{
	struct ethtool_value v = { .cmd = ETHTOOL_GFLAGS };
	uint64_t hw, wanted, active;
	int err;

	err = devmem_get_features(r->ctl, r->ifindex, &hw, &wanted, &active);
	if (err)
		return err;
	if (active & DEVMEM_NETIF_F_NTUPLE)
		v.data |= ETH_FLAG_NTUPLE;
	if (active & DEVMEM_NETIF_F_RXHASH)
		v.data |= ETH_FLAG_RXHASH;
	return copy_to_user(r->useraddr, &v, sizeof(v)) ? -EFAULT : 0;
}

static int pl_set_flags(struct pl_ethtool_req *r)
{
	const uint32_t all_flags = ETH_FLAG_LRO | ETH_FLAG_RXVLAN | ETH_FLAG_TXVLAN |
				   ETH_FLAG_NTUPLE | ETH_FLAG_RXHASH;
	const uint64_t all_features = PL_NETIF_F_LRO | PL_NETIF_F_HW_VLAN_CTAG_RX |
				      PL_NETIF_F_HW_VLAN_CTAG_TX | DEVMEM_NETIF_F_NTUPLE |
				      DEVMEM_NETIF_F_RXHASH;
	uint64_t hw, wanted, active, features = 0, changed;
	struct ethtool_value v;
	int err;

	if (copy_from_user(&v, r->useraddr, sizeof(v)))
		return -EFAULT;
	if (v.data & ~all_flags)
		return -EINVAL;
	err = devmem_get_features(r->ctl, r->ifindex, &hw, &wanted, &active);
	if (err)
		return err;
	if (v.data & ETH_FLAG_LRO)
		features |= PL_NETIF_F_LRO;
	if (v.data & ETH_FLAG_RXVLAN)
		features |= PL_NETIF_F_HW_VLAN_CTAG_RX;
	if (v.data & ETH_FLAG_TXVLAN)
		features |= PL_NETIF_F_HW_VLAN_CTAG_TX;
	if (v.data & ETH_FLAG_NTUPLE)
		features |= DEVMEM_NETIF_F_NTUPLE;
	if (v.data & ETH_FLAG_RXHASH)
		features |= DEVMEM_NETIF_F_RXHASH;
	changed = (features ^ active) & all_features;
	if (changed & ~hw)
		return (changed & hw) ? -EINVAL : -EOPNOTSUPP;
	err = devmem_set_features(r->ctl, r->ifindex, changed, features);
	return err < 0 ? err : 0;
}

/* ---- driver information, channels, rings ---- */

static int pl_get_drvinfo(struct pl_ethtool_req *r)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };

	strcpy(info.driver, "swnic");
	strcpy(info.version, "libdevmem");
	strcpy(info.fw_version, "N/A");
	strcpy(info.bus_info, "N/A");
	return copy_to_user(r->useraddr, &info, sizeof(info)) ? -EFAULT : 0;
}

static int pl_channels(struct pl_ethtool_req *r, struct ethtool_channels *c)
{
	struct devmem_channels ch;
	int err;

	err = devmem_get_channels(r->ctl, r->ifindex, &ch);
	if (err)
		return err;
	*c = (struct ethtool_channels){
		.cmd = ETHTOOL_GCHANNELS,
		.max_rx = ch.max_rx,
		.max_tx = ch.max_tx,
		.max_other = ch.max_other,
		.max_combined = ch.max_combined,
		.rx_count = ch.rx_count,
		.tx_count = ch.tx_count,
		.other_count = ch.other_count,
		.combined_count = ch.combined_count,
	};
	return 0;
}

static int pl_get_channels(struct pl_ethtool_req *r)
{
	struct ethtool_channels c;
	int err = pl_channels(r, &c);

	if (err)
		return err;
	return copy_to_user(r->useraddr, &c, sizeof(c)) ? -EFAULT : 0;
}

static int pl_set_channels(struct pl_ethtool_req *r)
{
	struct ethtool_channels c, curr;
	int err;

	if (copy_from_user(&c, r->useraddr, sizeof(c)))
		return -EFAULT;
	err = pl_channels(r, &curr);
	if (err)
		return err;
	if (c.rx_count == curr.rx_count && c.tx_count == curr.tx_count &&
	    c.combined_count == curr.combined_count && c.other_count == curr.other_count)
		return 0;
	if (c.rx_count > curr.max_rx || c.tx_count > curr.max_tx ||
	    c.combined_count > curr.max_combined || c.other_count > curr.max_other)
		return -EINVAL;
	if (!c.combined_count && (!c.rx_count || !c.tx_count))
		return -EINVAL;
	/* the indirection tables, flow rules, AF_XDP pools and providers: the library's checks */
	return devmem_set_channels(r->ctl, r->ifindex, c.rx_count + c.combined_count,
				   c.tx_count + c.combined_count);
}

static int pl_get_ringparam(struct pl_ethtool_req *r)
{
	struct ethtool_ringparam rp = { .cmd = ETHTOOL_GRINGPARAM };
	struct devmem_ringparam d;
	int err;

	err = devmem_get_ringparam(r->ctl, r->ifindex, &d);
	if (err)
		return err;
	rp.rx_max_pending = d.rx_max_pending;
	rp.tx_max_pending = d.tx_max_pending;
	rp.rx_pending = d.rx_pending;
	rp.tx_pending = d.tx_pending;
	return copy_to_user(r->useraddr, &rp, sizeof(rp)) ? -EFAULT : 0;
}

static int pl_set_ringparam(struct pl_ethtool_req *r)
{
	struct ethtool_ringparam rp;
	struct devmem_ringparam max;
	int err;

	if (copy_from_user(&rp, r->useraddr, sizeof(rp)))
		return -EFAULT;
	err = devmem_get_ringparam(r->ctl, r->ifindex, &max);
	if (err)
		return err;
	if (rp.rx_pending > max.rx_max_pending || rp.rx_mini_pending > 0 ||
	    rp.rx_jumbo_pending > 0 || rp.tx_pending > max.tx_max_pending)
		return -EINVAL;
	return devmem_set_ringparam(r->ctl, r->ifindex, rp.rx_pending, rp.tx_pending);
}

/* ---- rx flow classification (ETHTOOL_GRXCLS*, SRXCLSRL*) ---- */

static int pl_rx_rings(struct pl_ethtool_req *r, uint32_t *n)
{
	struct devmem_channels ch;
	int err = devmem_get_channels(r->ctl, r->ifindex, &ch);

	if (!err)
		*n = ch.rx_count + ch.combined_count;
	return err;
}

static bool all_or_nothing(const uint8_t *mask, size_t len)
{
	bool full = mask[0] == 0xff;

	for (size_t i = 0; i < len; i++) {
		if (mask[i] != (full ? 0xff : 0))
			return false;
	}
	return true;
}

/*
 * The driver's side of SRXCLSRLINS: the software NIC steers TCP and UDP
 * over IPv4 and IPv6 on whole addresses and ports. A partial mask, a
 * TOS/traffic class, VLAN or MAC match cannot be steered: EINVAL, as
 * drivers refuse what their filters cannot match; a drop or VF action is
 * EOPNOTSUPP.
 */
static int pl_fs_to_rule(const struct ethtool_rx_flow_spec *fs, struct devmem_flow_rule *rule)
{
	uint32_t type = fs->flow_type & ~(uint32_t)FLOW_RSS;

	memset(rule, 0, sizeof(*rule));
	if (fs->ring_cookie == RX_CLS_FLOW_DISC || ethtool_get_flow_spec_ring_vf(fs->ring_cookie))
		return -EOPNOTSUPP;
	rule->flow_type = type;
	rule->queue = (uint32_t)ethtool_get_flow_spec_ring(fs->ring_cookie);
	if (type == TCP_V4_FLOW || type == UDP_V4_FLOW) {
		const struct ethtool_tcpip4_spec *h = &fs->h_u.tcp_ip4_spec,
						 *m = &fs->m_u.tcp_ip4_spec;

		if (!all_or_nothing((const uint8_t *)&m->ip4src, 4) ||
		    !all_or_nothing((const uint8_t *)&m->ip4dst, 4) ||
		    !all_or_nothing((const uint8_t *)&m->psrc, 2) ||
		    !all_or_nothing((const uint8_t *)&m->pdst, 2) || m->tos)
			return -EINVAL;
		if (m->ip4src)
			memcpy(rule->src_addr, &h->ip4src, 4);
		if (m->ip4dst)
			memcpy(rule->dst_addr, &h->ip4dst, 4);
		rule->src_port = m->psrc ? h->psrc : 0;
		rule->dst_port = m->pdst ? h->pdst : 0;
		return 0;
	}
	if (type == TCP_V6_FLOW || type == UDP_V6_FLOW) {
		const struct ethtool_tcpip6_spec *h = &fs->h_u.tcp_ip6_spec,
						 *m = &fs->m_u.tcp_ip6_spec;

		if (!all_or_nothing((const uint8_t *)m->ip6src, 16) ||
		    !all_or_nothing((const uint8_t *)m->ip6dst, 16) ||
		    !all_or_nothing((const uint8_t *)&m->psrc, 2) ||
		    !all_or_nothing((const uint8_t *)&m->pdst, 2) || m->tclass)
			return -EINVAL;
		if (((const uint8_t *)m->ip6src)[0])
			memcpy(rule->src_addr, h->ip6src, 16);
		if (((const uint8_t *)m->ip6dst)[0])
			memcpy(rule->dst_addr, h->ip6dst, 16);
		rule->src_port = m->psrc ? h->psrc : 0;
		rule->dst_port = m->pdst ? h->pdst : 0;
		return 0;
	}
	/* FLOW_EXT, FLOW_MAC_EXT, other flow types */
	return -EINVAL;
}

static void pl_rule_to_fs(const struct devmem_flow_rule *rule, uint32_t loc,
			  struct ethtool_rx_flow_spec *fs)
{
	static const uint8_t zero[16];

	memset(fs, 0, sizeof(*fs));
	fs->flow_type = rule->flow_type | (rule->rss_context ? FLOW_RSS : 0);
	fs->ring_cookie = rule->queue;
	fs->location = loc;
	if (rule->flow_type == TCP_V4_FLOW || rule->flow_type == UDP_V4_FLOW) {
		struct ethtool_tcpip4_spec *h = &fs->h_u.tcp_ip4_spec, *m = &fs->m_u.tcp_ip4_spec;

		memcpy(&h->ip4src, rule->src_addr, 4);
		memcpy(&h->ip4dst, rule->dst_addr, 4);
		h->psrc = rule->src_port;
		h->pdst = rule->dst_port;
		m->ip4src = memcmp(rule->src_addr, zero, 4) ? 0xffffffff : 0;
		m->ip4dst = memcmp(rule->dst_addr, zero, 4) ? 0xffffffff : 0;
		m->psrc = h->psrc ? 0xffff : 0;
		m->pdst = h->pdst ? 0xffff : 0;
	} else {
		struct ethtool_tcpip6_spec *h = &fs->h_u.tcp_ip6_spec, *m = &fs->m_u.tcp_ip6_spec;

		memcpy(h->ip6src, rule->src_addr, 16);
		memcpy(h->ip6dst, rule->dst_addr, 16);
		h->psrc = rule->src_port;
		h->pdst = rule->dst_port;
		memset(m->ip6src, memcmp(rule->src_addr, zero, 16) ? 0xff : 0, 16);
		memset(m->ip6dst, memcmp(rule->dst_addr, zero, 16) ? 0xff : 0, 16);
		m->psrc = h->psrc ? 0xffff : 0;
		m->pdst = h->pdst ? 0xffff : 0;
	}
}

/* All rules and their locations (the caller frees both), or a negative errno. */
static int pl_rules(struct pl_ethtool_req *r, struct devmem_flow_rule **rules, uint32_t **locs)
{
	int n = devmem_flow_rule_list(r->ctl, r->ifindex, NULL, NULL, 0);

	*rules = NULL;
	*locs = NULL;
	if (n < 0)
		return n;
	*rules = calloc((size_t)n + 1, sizeof(**rules));
	*locs = calloc((size_t)n + 1, sizeof(**locs));
	if (!*rules || !*locs) {
		free(*rules);
		free(*locs);
		return -ENOMEM;
	}
	n = devmem_flow_rule_list(r->ctl, r->ifindex, *rules, *locs, (unsigned int)n);
	return n;
}

static int pl_get_rxnfc(struct pl_ethtool_req *r, uint32_t cmd)
{
	struct ethtool_rxnfc info;
	struct devmem_flow_rule *rules = NULL;
	uint32_t *locs = NULL, nrx;
	int n, err;

	if (copy_from_user(&info, r->useraddr, sizeof(info)))
		return -EFAULT;
	if (info.cmd != cmd)
		return -EINVAL;
	switch (cmd) {
	case ETHTOOL_GRXRINGS:
		err = pl_rx_rings(r, &nrx);
		if (err)
			return err;
		info.data = nrx;
		return copy_to_user(r->useraddr, &info, sizeof(info)) ? -EFAULT : 0;
	case ETHTOOL_GRXCLSRLCNT:
		n = devmem_flow_rule_list(r->ctl, r->ifindex, NULL, NULL, 0);
		if (n < 0)
			return n;
		info.rule_cnt = (uint32_t)n;
		/* the device picks locations for RX_CLS_LOC_ANY */
		info.data = DEVMEM_MAX_FLOW_RULES | RX_CLS_LOC_SPECIAL;
		return copy_to_user(r->useraddr, &info, sizeof(info)) ? -EFAULT : 0;
	case ETHTOOL_GRXCLSRULE:
		if (info.fs.location >= DEVMEM_MAX_FLOW_RULES)
			return -EINVAL;
		n = pl_rules(r, &rules, &locs);
		err = n < 0 ? n : -ENOENT;
		for (int i = 0; i < n; i++) {
			if (locs[i] != info.fs.location)
				continue;
			pl_rule_to_fs(&rules[i], locs[i], &info.fs);
			info.rss_context = rules[i].rss_context;
			err = copy_to_user(r->useraddr, &info, sizeof(info)) ? -EFAULT : 0;
			break;
		}
		free(rules);
		free(locs);
		return err;
	default: /* ETHTOOL_GRXCLSRLALL */
		/* the kernel's kcalloc() of the caller's rule_cnt: beyond KMALLOC_MAX_SIZE */
		if (info.rule_cnt > PL_KMALLOC_MAX_SIZE / sizeof(uint32_t))
			return -ENOMEM;
		n = pl_rules(r, &rules, &locs);
		if (n < 0)
			return n;
		err = 0;
		if ((uint32_t)n > info.rule_cnt) {
			err = -EMSGSIZE;
		} else {
			info.data = DEVMEM_MAX_FLOW_RULES;
			info.rule_cnt = (uint32_t)n;
			if (copy_to_user(r->useraddr, &info, sizeof(info)) ||
			    copy_to_user(r->useraddr + offsetof(struct ethtool_rxnfc, rule_locs),
					 locs, (size_t)n * sizeof(*locs)))
				err = -EFAULT;
		}
		free(rules);
		free(locs);
		return err;
	}
}

static int pl_set_rxnfc(struct pl_ethtool_req *r, uint32_t cmd)
{
	struct devmem_flow_rule rule;
	struct ethtool_rxnfc info;
	uint32_t loc;
	int err;

	if (copy_from_user(&info, r->useraddr, sizeof(info)))
		return -EFAULT;
	if (cmd == ETHTOOL_SRXCLSRLDEL)
		return devmem_flow_rule_del(r->ctl, r->ifindex, info.fs.location);

	/* ethtool_set_rxnfc(): a context target needs a context, and no queue to add */
	if (info.fs.flow_type & FLOW_RSS) {
		if (ethtool_get_flow_spec_ring(info.fs.ring_cookie))
			return -EINVAL;
		if (info.rss_context) {
			uint32_t *indir = malloc(DEVMEM_RSS_INDIR_SIZE * sizeof(*indir));

			if (!indir)
				return -ENOMEM;
			err = devmem_rss_get(r->ctl, r->ifindex, info.rss_context, indir);
			free(indir);
			if (err)
				return err == -ENOENT ? -EINVAL : err;
		}
	}
	err = pl_fs_to_rule(&info.fs, &rule);
	if (err)
		return err;
	if (info.fs.flow_type & FLOW_RSS)
		rule.rss_context = info.rss_context;
	err = devmem_flow_rule_insert(r->ctl, r->ifindex, &rule, info.fs.location, &loc);
	if (err)
		return err;
	info.fs.location = loc;
	return copy_to_user(r->useraddr, &info, sizeof(info)) ? -EFAULT : 0;
}

/* ---- RSS (ETHTOOL_GRXFHINDIR, SRXFHINDIR, GRSSH, SRSSH) ---- */

static int pl_get_rxfh_indir(struct pl_ethtool_req *r)
{
	uint32_t user_size, dev_size = DEVMEM_RSS_INDIR_SIZE;
	uint32_t indir[DEVMEM_RSS_INDIR_SIZE];
	int err;

	if (copy_from_user(&user_size, r->useraddr + offsetof(struct ethtool_rxfh_indir, size),
			   sizeof(user_size)))
		return -EFAULT;
	if (copy_to_user(r->useraddr + offsetof(struct ethtool_rxfh_indir, size), &dev_size,
			 sizeof(dev_size)))
		return -EFAULT;
	/* size 0 asks for the size only */
	if (user_size < dev_size)
		return user_size == 0 ? 0 : -EINVAL;
	err = devmem_rss_get(r->ctl, r->ifindex, 0, indir);
	if (err)
		return err;
	if (copy_to_user(r->useraddr + offsetof(struct ethtool_rxfh_indir, ring_index), indir,
			 sizeof(indir)))
		return -EFAULT;
	return 0;
}

/* ethtool_copy_validate_indir() */
static int pl_copy_validate_indir(struct pl_ethtool_req *r, uint32_t *indir, const char *from)
{
	uint32_t nrx;
	int err;

	err = pl_rx_rings(r, &nrx);
	if (err)
		return err;
	if (copy_from_user(indir, from, DEVMEM_RSS_INDIR_SIZE * sizeof(*indir)))
		return -EFAULT;
	for (unsigned int i = 0; i < DEVMEM_RSS_INDIR_SIZE; i++) {
		if (indir[i] >= nrx)
			return -EINVAL;
	}
	return 0;
}

static int pl_set_rxfh_indir(struct pl_ethtool_req *r)
{
	uint32_t user_size, indir[DEVMEM_RSS_INDIR_SIZE];
	int err;

	if (copy_from_user(&user_size, r->useraddr + offsetof(struct ethtool_rxfh_indir, size),
			   sizeof(user_size)))
		return -EFAULT;
	if (user_size != 0 && user_size != DEVMEM_RSS_INDIR_SIZE)
		return -EINVAL;
	if (!user_size)
		return devmem_rss_set(r->ctl, r->ifindex, 0, NULL);
	err = pl_copy_validate_indir(r, indir,
				     r->useraddr + offsetof(struct ethtool_rxfh_indir, ring_index));
	if (err)
		return err;
	return devmem_rss_set(r->ctl, r->ifindex, 0, indir);
}

/*
 * struct ethtool_rxfh as mainline has it: the first reserved byte of the
 * 6.1 header is input_xfrm; the two after it and rsvd32 must be 0.
 */
static uint8_t rxfh_input_xfrm(const struct ethtool_rxfh *h)
{
	return h->rsvd8[0];
}

static bool rxfh_reserved_set(const struct ethtool_rxfh *h)
{
	return h->rsvd8[1] || h->rsvd8[2] || h->rsvd32;
}

static int pl_get_rxfh(struct pl_ethtool_req *r)
{
	uint32_t user_indir_size, user_key_size, indir[DEVMEM_RSS_INDIR_SIZE];
	struct ethtool_rxfh rxfh;
	uint8_t zero = 0, top = PL_ETH_RSS_HASH_TOP;
	int err;

	if (copy_from_user(&rxfh, r->useraddr, sizeof(rxfh)))
		return -EFAULT;
	user_indir_size = rxfh.indir_size;
	user_key_size = rxfh.key_size;
	if (rxfh_reserved_set(&rxfh))
		return -EINVAL;
	/* the software NIC has no hash key to show */
	rxfh.indir_size = DEVMEM_RSS_INDIR_SIZE;
	rxfh.key_size = 0;
	if (copy_to_user(r->useraddr, &rxfh, sizeof(rxfh)))
		return -EFAULT;
	if ((user_indir_size && user_indir_size != DEVMEM_RSS_INDIR_SIZE) || user_key_size)
		return -EINVAL;
	err = devmem_rss_get(r->ctl, r->ifindex, rxfh.rss_context, indir);
	if (err)
		return err;
	/* the hash is Toeplitz (ETH_RSS_HASH_TOP), as netlink's rss-get says; input_xfrm 0 */
	if (copy_to_user(r->useraddr + offsetof(struct ethtool_rxfh, hfunc), &top, 1) ||
	    copy_to_user(r->useraddr + offsetof(struct ethtool_rxfh, rsvd8), &zero, 1))
		return -EFAULT;
	if (user_indir_size && copy_to_user(r->useraddr + offsetof(struct ethtool_rxfh, rss_config),
					    indir, sizeof(indir)))
		return -EFAULT;
	return 0;
}

static int pl_set_rxfh(struct pl_ethtool_req *r)
{
	uint32_t indir[DEVMEM_RSS_INDIR_SIZE], *table = NULL;
	struct ethtool_rxfh rxfh;
	bool create, delete = false;
	uint8_t xfrm;
	int err;

	if (copy_from_user(&rxfh, r->useraddr, sizeof(rxfh)))
		return -EFAULT;
	if (rxfh_reserved_set(&rxfh))
		return -EINVAL;
	xfrm = rxfh_input_xfrm(&rxfh);
	if (xfrm && xfrm != PL_RXH_XFRM_SYM_XOR && xfrm != PL_RXH_XFRM_SYM_OR_XOR &&
	    xfrm != PL_RXH_XFRM_NO_CHANGE)
		return -EINVAL;
	/* no symmetric hashing */
	if (xfrm && xfrm != PL_RXH_XFRM_NO_CHANGE)
		return -EOPNOTSUPP;
	create = rxfh.rss_context == ETH_RXFH_CONTEXT_ALLOC;
	/* the device has no key, so any key size is wrong; at least one change is asked */
	if ((rxfh.indir_size && rxfh.indir_size != ETH_RXFH_INDIR_NO_CHANGE &&
	     rxfh.indir_size != DEVMEM_RSS_INDIR_SIZE) ||
	    rxfh.key_size ||
	    (rxfh.indir_size == ETH_RXFH_INDIR_NO_CHANGE &&
	     rxfh.hfunc == PL_ETH_RSS_HASH_NO_CHANGE && xfrm == PL_RXH_XFRM_NO_CHANGE))
		return -EINVAL;
	/* the device has Toeplitz alone: asking for it changes nothing, any other is refused */
	if (rxfh.hfunc != PL_ETH_RSS_HASH_NO_CHANGE && rxfh.hfunc != PL_ETH_RSS_HASH_TOP)
		return -EOPNOTSUPP;
	if (rxfh.indir_size && rxfh.indir_size != ETH_RXFH_INDIR_NO_CHANGE) {
		err = pl_copy_validate_indir(
			r, indir, r->useraddr + offsetof(struct ethtool_rxfh, rss_config));
		if (err)
			return err;
		table = indir;
	} else if (rxfh.indir_size == 0 && rxfh.rss_context) {
		delete = true;
	}
	if (create) {
		if (delete)
			return -EINVAL;
		err = devmem_rss_context_create(r->ctl, r->ifindex, table, &rxfh.rss_context);
	} else if (delete) {
		err = devmem_rss_context_delete(r->ctl, r->ifindex, rxfh.rss_context);
	} else if (rxfh.indir_size != ETH_RXFH_INDIR_NO_CHANGE) {
		/* indir_size 0 on context 0: back to the default spread */
		err = devmem_rss_set(r->ctl, r->ifindex, rxfh.rss_context, table);
	} else {
		/* nothing to change but the context must exist */
		err = devmem_rss_get(r->ctl, r->ifindex, rxfh.rss_context, indir);
	}
	if (err)
		return err;
	if (copy_to_user(r->useraddr + offsetof(struct ethtool_rxfh, rss_context),
			 &rxfh.rss_context, sizeof(rxfh.rss_context)))
		return -EFAULT;
	return 0;
}

/* ---- dev_ethtool() ---- */

static const char *pl_ethtool_cmd_name(uint32_t cmd)
{
	switch (cmd) {
#define N(c)    \
	case c: \
		return #c
		N(ETHTOOL_GDRVINFO);
		N(ETHTOOL_GCHANNELS);
		N(ETHTOOL_SCHANNELS);
		N(ETHTOOL_GRINGPARAM);
		N(ETHTOOL_SRINGPARAM);
		N(ETHTOOL_GRXRINGS);
		N(ETHTOOL_GRXCLSRLCNT);
		N(ETHTOOL_GRXCLSRULE);
		N(ETHTOOL_GRXCLSRLALL);
		N(ETHTOOL_SRXCLSRLINS);
		N(ETHTOOL_SRXCLSRLDEL);
		N(ETHTOOL_GRXFHINDIR);
		N(ETHTOOL_SRXFHINDIR);
		N(ETHTOOL_GRSSH);
		N(ETHTOOL_SRSSH);
		N(ETHTOOL_GFEATURES);
		N(ETHTOOL_SFEATURES);
		N(ETHTOOL_GSSET_INFO);
		N(ETHTOOL_GSTRINGS);
		N(ETHTOOL_GFLAGS);
		N(ETHTOOL_SFLAGS);
#undef N
	default:
		return NULL;
	}
}

static int pl_dev_ethtool(struct pl_ethtool_req *r, uint32_t cmd)
{
	switch (cmd) {
	case ETHTOOL_GDRVINFO:
		return pl_get_drvinfo(r);
	case ETHTOOL_GCHANNELS:
		return pl_get_channels(r);
	case ETHTOOL_SCHANNELS:
		return pl_set_channels(r);
	case ETHTOOL_GRINGPARAM:
		return pl_get_ringparam(r);
	case ETHTOOL_SRINGPARAM:
		return pl_set_ringparam(r);
	case ETHTOOL_GRXRINGS:
	case ETHTOOL_GRXCLSRLCNT:
	case ETHTOOL_GRXCLSRULE:
	case ETHTOOL_GRXCLSRLALL:
		return pl_get_rxnfc(r, cmd);
	case ETHTOOL_SRXCLSRLINS:
	case ETHTOOL_SRXCLSRLDEL:
		return pl_set_rxnfc(r, cmd);
	case ETHTOOL_GRXFHINDIR:
		return pl_get_rxfh_indir(r);
	case ETHTOOL_SRXFHINDIR:
		return pl_set_rxfh_indir(r);
	case ETHTOOL_GRSSH:
		return pl_get_rxfh(r);
	case ETHTOOL_SRSSH:
		return pl_set_rxfh(r);
	case ETHTOOL_GFEATURES:
		return pl_get_features(r);
	case ETHTOOL_SFEATURES:
		return pl_set_features(r);
	case ETHTOOL_GSSET_INFO:
		return pl_get_sset_info(r);
	case ETHTOOL_GSTRINGS:
		return pl_get_strings(r);
	case ETHTOOL_GFLAGS:
		return pl_get_flags(r);
	case ETHTOOL_SFLAGS:
		return pl_set_flags(r);
	default:
		return -EOPNOTSUPP;
	}
}

int pl_ethtool_ioctl(int fd, void *arg)
{
	struct pl_ethtool_req r;
	struct ifreq ifr;
	const char *what;
	uint32_t cmd;
	char *colon;
	int ifindex, rc;

	(void)fd;
	if (copy_from_user(&ifr, arg, sizeof(ifr)))
		return -2; /* the kernel says EFAULT itself */
	ifr.ifr_name[IFNAMSIZ - 1] = 0;
	colon = strchr(ifr.ifr_name, ':');
	if (colon)
		*colon = 0;
	ifindex = (int)if_nametoindex(ifr.ifr_name);
	if (ifindex <= 0 || !pl_ifindex_emulated(ifindex))
		return -2;

	r.ifindex = ifindex;
	r.name = ifr.ifr_name;
	r.useraddr = ifr.ifr_data;
	if (copy_from_user(&cmd, r.useraddr, sizeof(cmd))) {
		rc = -EFAULT;
		cmd = 0;
		goto out;
	}
	r.ctl = pl_ctl();
	if (!r.ctl) {
		rc = -errno;
		goto out;
	}
	/* the device itself, as __dev_get_by_name(): the software NIC shadows lo from here on */
	rc = devmem_get_channels(r.ctl, ifindex, &(struct devmem_channels){ 0 });
	if (!rc)
		rc = pl_dev_ethtool(&r, cmd);
out:
	if (pl_tracing) {
		what = pl_ethtool_cmd_name(cmd);
		if (what)
			pl_trace("ioctl(SIOCETHTOOL, %s, %s) = %d%s%s", ifr.ifr_name, what,
				 rc < 0 ? -1 : rc, rc < 0 ? " " : "",
				 rc < 0 ? strerrorname_np(-rc) : "");
		else
			pl_trace("ioctl(SIOCETHTOOL, %s, %#x) = %d%s%s", ifr.ifr_name, cmd,
				 rc < 0 ? -1 : rc, rc < 0 ? " " : "",
				 rc < 0 ? strerrorname_np(-rc) : "");
	}
	return rc < 0 ? pl_fail(rc) : rc;
}
