/* SPDX-License-Identifier: MIT */
/*
 * What ethtool.c, ethtool-server.c and the `ethtool` stand-in share: the
 * kernel's feature bit layout, and the request the stand-in sends to the
 * process that owns the software NIC.
 */
#ifndef DEVMEM_PRELOAD_ETHTOOL_PRIV_H
#define DEVMEM_PRELOAD_ETHTOOL_PRIV_H

#include <stdint.h>

/* netdev_features_t (include/linux/netdev_features.h): 64 bits, two words for ethtool */
#define PL_NETDEV_FEATURE_COUNT 64
#define PL_FEATURE_WORDS 2
#define PL_NETIF_F_HW_VLAN_CTAG_TX (1ULL << 7)
#define PL_NETIF_F_HW_VLAN_CTAG_RX (1ULL << 8)
#define PL_NETIF_F_LRO (1ULL << 15)
/* NETIF_F_VLAN_CHALLENGED | NETIF_F_NETNS_LOCAL */
#define PL_NETIF_F_NEVER_CHANGE ((1ULL << 10) | (1ULL << 13))
#define PL_NETIF_F_ETHTOOL_BITS (~0ULL & ~PL_NETIF_F_NEVER_CHANGE)

/* netdev_features_strings: the ethtool name of each feature bit ("" for unused bits) */
extern const char *const pl_feature_names[PL_NETDEV_FEATURE_COUNT];

/* the largest kmalloc() of x86-64 (1 << (MAX_PAGE_ORDER + PAGE_SHIFT)) */
#define PL_KMALLOC_MAX_SIZE (4UL << 20)

/* struct ethtool_rxfh.input_xfrm (mainline; a reserved byte in 6.1 headers) */
#define PL_RXH_XFRM_SYM_XOR (1 << 0)
#define PL_RXH_XFRM_SYM_OR_XOR (1 << 1)
#define PL_RXH_XFRM_NO_CHANGE 0xff
/* struct ethtool_rxfh.hfunc: leave the hash function as it is (kernel-internal value) */
#define PL_ETH_RSS_HASH_NO_CHANGE 0
#define PL_ETH_RSS_HASH_TOP 1 /* ETH_RSS_HASH_TOP: Toeplitz */

/*
 * The stand-in asks the owner of the software NIC over a unix stream
 * socket in the abstract namespace, "devmem-ethtool.<pid>" (pid of the
 * owner). One request, one reply, each a header and @len bytes: the
 * ethtool command struct as the SIOCETHTOOL caller would pass it, and the
 * same struct after the call.
 *
 * Every process under the shim that starts a child listens (a shell or
 * xargs between the program and the stand-in does too). A request of
 * @len 0 asks only whether the process already has a software NIC
 * (PL_ETHTOOL_F_HAS_NIC): the stand-in takes the nearest ancestor that
 * has one, else the topmost that listens, which is the program `devmem
 * run` started.
 */
#define PL_ETHTOOL_SOCK_FMT "devmem-ethtool.%d"
#define PL_ETHTOOL_MAGIC 0x64657674 /* "devt" */
#define PL_ETHTOOL_MAX_LEN (64 * 1024)
#define PL_ETHTOOL_F_NOT_OURS 1 /* the interface is not emulated: the kernel's */
#define PL_ETHTOOL_F_HAS_NIC 2 /* the process has a software NIC */

struct pl_ethtool_msg {
	uint32_t magic;
	/* request: 0; reply: the ioctl's return, or -errno */
	int32_t ret;
	char ifname[16];
	uint32_t len;
	uint32_t flags; /* reply: PL_ETHTOOL_F_* */
	/* reply: the reason of a failure, as the kernel's extack would say it */
	char msg[256];
};

#endif
