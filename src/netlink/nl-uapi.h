/* SPDX-License-Identifier: MIT */
/*
 * The generic netlink numbers the netlink layer needs beyond what
 * include/devmem/uapi.h carries: the rest of the netdev family (napi,
 * qstats, page-pool stats, bind-rx's rx-page-size) and the parts of the
 * ethtool family that Debian 12's 6.1 headers predate (hds-thresh, rss).
 *
 * Values are those of the kernel's specs, Documentation/netlink/specs/
 * netdev.yaml and ethtool.yaml (mainline, checked against v6.18's
 * include/uapi/linux/netdev.h and ethtool_netlink_generated.h). As in
 * uapi.h, a header new enough to carry a set is used instead and only
 * checked here.
 *
 * Include this header instead of <linux/ethtool_netlink.h>: the system
 * header must come before devmem/uapi.h, whose tcp-data-split macros would
 * otherwise break the system's enum of the same names.
 */
#ifndef DEVMEM_NETLINK_NL_UAPI_H
#define DEVMEM_NETLINK_NL_UAPI_H

#include <linux/netlink.h>
#include <linux/genetlink.h>
#include <linux/version.h>
#include <linux/ethtool.h>
#include <linux/ethtool_netlink.h>

#include "devmem/uapi.h"

/* ---- netlink core (linux/netlink.h, 6.0 and later) ---- */

#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif
#ifndef NLM_F_ACK_TLVS
#define NLM_F_ACK_TLVS 0x200
#endif
#ifndef NLM_F_CAPPED
#define NLM_F_CAPPED 0x100
#endif

/* ---- the netdev family, beyond devmem/uapi.h ---- */

#if !DEVMEM_UAPI_KERNEL_HEADERS_HAVE_NETDEV_TX
enum netdev_qstats_scope {
	NETDEV_QSTATS_SCOPE_QUEUE = 1,
};

enum {
	NETDEV_A_PAGE_POOL_STATS_INFO = 1,
	NETDEV_A_PAGE_POOL_STATS_ALLOC_FAST = 8,
	NETDEV_A_PAGE_POOL_STATS_ALLOC_SLOW,
	NETDEV_A_PAGE_POOL_STATS_ALLOC_SLOW_HIGH_ORDER,
	NETDEV_A_PAGE_POOL_STATS_ALLOC_EMPTY,
	NETDEV_A_PAGE_POOL_STATS_ALLOC_REFILL,
	NETDEV_A_PAGE_POOL_STATS_ALLOC_WAIVE,
	NETDEV_A_PAGE_POOL_STATS_RECYCLE_CACHED,
	NETDEV_A_PAGE_POOL_STATS_RECYCLE_CACHE_FULL,
	NETDEV_A_PAGE_POOL_STATS_RECYCLE_RING,
	NETDEV_A_PAGE_POOL_STATS_RECYCLE_RING_FULL,
	NETDEV_A_PAGE_POOL_STATS_RECYCLE_RELEASED_REFCNT,
};

enum {
	NETDEV_A_NAPI_IFINDEX = 1,
	NETDEV_A_NAPI_ID,
	NETDEV_A_NAPI_IRQ,
	NETDEV_A_NAPI_PID,
	NETDEV_A_NAPI_DEFER_HARD_IRQS,
	NETDEV_A_NAPI_GRO_FLUSH_TIMEOUT,
	NETDEV_A_NAPI_IRQ_SUSPEND_TIMEOUT,
	NETDEV_A_NAPI_THREADED,
};

enum {
	NETDEV_A_QSTATS_IFINDEX = 1,
	NETDEV_A_QSTATS_QUEUE_TYPE,
	NETDEV_A_QSTATS_QUEUE_ID,
	NETDEV_A_QSTATS_SCOPE,
	NETDEV_A_QSTATS_RX_PACKETS = 8,
	NETDEV_A_QSTATS_RX_BYTES,
	NETDEV_A_QSTATS_TX_PACKETS,
	NETDEV_A_QSTATS_TX_BYTES,
	NETDEV_A_QSTATS_RX_ALLOC_FAIL,
	NETDEV_A_QSTATS_RX_HW_DROPS,
	NETDEV_A_QSTATS_RX_HW_DROP_OVERRUNS,
	NETDEV_A_QSTATS_RX_CSUM_COMPLETE,
	NETDEV_A_QSTATS_RX_CSUM_UNNECESSARY,
	NETDEV_A_QSTATS_RX_CSUM_NONE,
	NETDEV_A_QSTATS_RX_CSUM_BAD,
	NETDEV_A_QSTATS_RX_HW_GRO_PACKETS,
	NETDEV_A_QSTATS_RX_HW_GRO_BYTES,
	NETDEV_A_QSTATS_RX_HW_GRO_WIRE_PACKETS,
	NETDEV_A_QSTATS_RX_HW_GRO_WIRE_BYTES,
	NETDEV_A_QSTATS_RX_HW_DROP_RATELIMITS,
	NETDEV_A_QSTATS_TX_HW_DROPS,
	NETDEV_A_QSTATS_TX_HW_DROP_ERRORS,
	NETDEV_A_QSTATS_TX_CSUM_NONE,
	NETDEV_A_QSTATS_TX_NEEDS_CSUM,
	NETDEV_A_QSTATS_TX_HW_GSO_PACKETS,
	NETDEV_A_QSTATS_TX_HW_GSO_BYTES,
	NETDEV_A_QSTATS_TX_HW_GSO_WIRE_PACKETS,
	NETDEV_A_QSTATS_TX_HW_GSO_WIRE_BYTES,
	NETDEV_A_QSTATS_TX_HW_DROP_RATELIMITS,
	NETDEV_A_QSTATS_TX_STOP,
	NETDEV_A_QSTATS_TX_WAKE,
};
#endif

/*
 * rx-page-size (mainline, after v6.18): the net_iov size of an rx binding, a
 * power of two of at least PAGE_SIZE. A kernel without it refuses the
 * attribute as unknown (strict validation), so it is sent only when asked.
 */
#ifndef NETDEV_A_DMABUF_RX_PAGE_SIZE /* devmem/uapi.h may carry it already */
#define NETDEV_A_DMABUF_RX_PAGE_SIZE 5
#endif
#define NL_NETDEV_A_DMABUF_MAX NETDEV_A_DMABUF_RX_PAGE_SIZE

_Static_assert(NETDEV_A_NAPI_ID == 2 && NETDEV_A_NAPI_THREADED == 8, "netdev napi attributes");
_Static_assert(NETDEV_A_QSTATS_SCOPE == 4 && NETDEV_A_QSTATS_RX_PACKETS == 8 &&
		       NETDEV_A_QSTATS_TX_WAKE == 34,
	       "netdev qstats attributes");
_Static_assert(NETDEV_A_PAGE_POOL_STATS_ALLOC_FAST == 8 &&
		       NETDEV_A_PAGE_POOL_STATS_RECYCLE_RELEASED_REFCNT == 18,
	       "netdev page-pool-stats attributes");
_Static_assert(NETDEV_A_DMABUF_RX_PAGE_SIZE == 5, "netdev dmabuf rx-page-size");

/* ---- the ethtool family, beyond the 6.1 headers ---- */

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 13, 0)
/* rings: push modes (6.2, 6.4) and the header-split threshold (6.13) */
#define ETHTOOL_A_RINGS_RX_PUSH 14
#define ETHTOOL_A_RINGS_TX_PUSH_BUF_LEN 15
#define ETHTOOL_A_RINGS_TX_PUSH_BUF_LEN_MAX 16
#define ETHTOOL_A_RINGS_HDS_THRESH 17
#define ETHTOOL_A_RINGS_HDS_THRESH_MAX 18
#define NL_ETHTOOL_A_RINGS_MAX 18
#else
#define NL_ETHTOOL_A_RINGS_MAX ETHTOOL_A_RINGS_MAX
#endif

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 4, 0)
/* rss-get (6.4) */
#define ETHTOOL_MSG_RSS_GET 38
#define ETHTOOL_MSG_RSS_GET_REPLY 38
#define ETHTOOL_A_RSS_HEADER 1
#define ETHTOOL_A_RSS_CONTEXT 2
#define ETHTOOL_A_RSS_HFUNC 3
#define ETHTOOL_A_RSS_INDIR 4
#define ETHTOOL_A_RSS_HKEY 5
#endif
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 8, 0)
#define ETHTOOL_A_RSS_INPUT_XFRM 6
#endif
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 10, 0)
#define ETHTOOL_A_HEADER_PHY_INDEX 4
#endif
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 11, 0)
#define ETHTOOL_A_RSS_START_CONTEXT 7
#endif
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 17, 0)
/* rss-set over netlink, and the per-flow hash fields (6.17) */
#define ETHTOOL_MSG_RSS_SET 48
#define ETHTOOL_A_RSS_FLOW_HASH 8
#endif
#define NL_ETHTOOL_A_RSS_MAX ETHTOOL_A_RSS_FLOW_HASH
#define NL_ETHTOOL_A_HEADER_MAX ETHTOOL_A_HEADER_PHY_INDEX

_Static_assert(ETHTOOL_MSG_FEATURES_GET == 11 && ETHTOOL_MSG_FEATURES_SET == 12 &&
		       ETHTOOL_MSG_RINGS_GET == 15 && ETHTOOL_MSG_RINGS_SET == 16 &&
		       ETHTOOL_MSG_CHANNELS_GET == 17 && ETHTOOL_MSG_CHANNELS_SET == 18 &&
		       ETHTOOL_MSG_RSS_GET == 38 && ETHTOOL_MSG_RSS_SET == 48,
	       "ethtool request messages");
_Static_assert(ETHTOOL_MSG_FEATURES_GET_REPLY == 11 && ETHTOOL_MSG_FEATURES_SET_REPLY == 12 &&
		       ETHTOOL_MSG_RINGS_GET_REPLY == 16 && ETHTOOL_MSG_CHANNELS_GET_REPLY == 18 &&
		       ETHTOOL_MSG_RSS_GET_REPLY == 38,
	       "ethtool reply messages");
_Static_assert(ETHTOOL_A_RINGS_TCP_DATA_SPLIT == 11 && ETHTOOL_A_RINGS_HDS_THRESH == 17 &&
		       ETHTOOL_A_CHANNELS_COMBINED_COUNT == 9 && ETHTOOL_A_FEATURES_NOCHANGE == 5 &&
		       ETHTOOL_A_BITSET_MASK == 5 && ETHTOOL_A_RSS_INDIR == 4,
	       "ethtool attributes");

#endif
