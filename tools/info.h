/* SPDX-License-Identifier: MIT */
/*
 * devmem info: one model of what a backend shows, filled either from the
 * software path's control handle (info.c) or from the running kernel's
 * netdev and ethtool netlink (info-kernel.c), and printed by one printer,
 * so that both backends give the same text and the same JSON shape.
 *
 * A value a backend cannot know is "unknown" (a have_ flag false, or a
 * negative errno kept in *_err): JSON prints null for it, text a '-'.
 */
#ifndef DEVMEM_TOOL_INFO_H
#define DEVMEM_TOOL_INFO_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "devmem/netdev.h"
#include "devmem/swnic.h"

#define INFO_MAX_DEVS 64
#define INFO_MAX_QUEUES (INFO_MAX_DEVS * 2 * 64)
#define INFO_MAX_NAPIS (INFO_MAX_DEVS * 64)
#define INFO_MAX_BINDINGS 256
#define INFO_MAX_POOLS 1024

/* qstats attributes kept (netdev.yaml: rx-packets is 8, tx-wake 34) */
#define INFO_QSTATS_FIRST 8
#define INFO_QSTATS_LAST 34

/* ethtool channels, in the order of ETHTOOL_A_CHANNELS_RX_MAX..COMBINED_COUNT */
enum info_channel {
	INFO_CH_RX_MAX,
	INFO_CH_TX_MAX,
	INFO_CH_OTHER_MAX,
	INFO_CH_COMBINED_MAX,
	INFO_CH_RX,
	INFO_CH_TX,
	INFO_CH_OTHER,
	INFO_CH_COMBINED,
	INFO_CH_NR,
};

struct info_dev {
	int ifindex;
	char name[IF_NAMESIZE];
	int up; /* 1, 0, or -1: unknown */
	uint32_t rx_queues, tx_queues;
	/* dev-get */
	uint64_t xdp_features; /* NETDEV_XDP_ACT_* */
	uint64_t xdp_rx_metadata; /* NETDEV_XDP_RX_METADATA_* */
	uint64_t xsk_features; /* NETDEV_XSK_FLAGS_* */
	bool have_xsk_features, have_xdp_rx_metadata, have_zc_max_segs;
	uint32_t xdp_zc_max_segs;
	int xdp_attached, netmem_tx; /* 1, 0, or -1: unknown */
	/* settings: rings (header split) */
	int rings_err;
	uint32_t tcp_data_split; /* ETHTOOL_TCP_DATA_SPLIT_* */
	bool have_hds_thresh, have_hds_thresh_max;
	uint32_t hds_thresh, hds_thresh_max;
	/* settings: channels */
	int channels_err;
	uint32_t channels_present; /* bit per enum info_channel */
	uint32_t channels[INFO_CH_NR];
	/* settings: RSS and flow steering */
	int rss_err;
	char rss[24]; /* "equal N" or "custom" */
	int flows_err;
	uint32_t flow_rules;
	/* qstats, scope device */
	int qstats_err; /* 0, or why there are none (-EOPNOTSUPP: the driver keeps none) */
	uint64_t qstats_present; /* bit per attribute */
	uint64_t qstats[INFO_QSTATS_LAST + 1];
};

struct info_queue {
	int ifindex;
	uint32_t id, type; /* NETDEV_QUEUE_TYPE_* */
	uint32_t napi_id; /* 0: none */
	uint32_t dmabuf; /* binding id, 0: none */
	bool io_uring, xsk;
	bool have_stats; /* the software NIC's own counters */
	struct devmem_swnic_rxq_stats st;
};

struct info_napi {
	int ifindex;
	uint32_t id;
	int64_t irq, pid; /* -1: none */
	int threaded; /* -1: not said */
};

struct info_pool {
	uint32_t id;
	int ifindex; /* 0: the device is gone (the kernel then names none) */
	uint32_t napi_id;
	uint64_t inflight, inflight_mem;
	uint32_t dmabuf;
	bool io_uring;
	uint64_t detach_time; /* CLOCK_BOOTTIME seconds, 0: attached */
	bool detached;
};

struct info_binding {
	struct devmem_binding_info b;
	bool detailed; /* the backend knows size and net_iovs (software only) */
};

struct info {
	/* options */
	bool json;
	const char *ifname; /* -f */
	const char *backend; /* "software", "kernel" or "auto" */
	/* what is shown */
	const char *shown; /* the backend whose view this is */
	char reason[320]; /* auto: why that one */
	unsigned int nr_devs, nr_queues, nr_napis, nr_bindings, nr_pools;
	struct info_dev devs[INFO_MAX_DEVS];
	struct info_queue queues[INFO_MAX_QUEUES];
	struct info_napi napis[INFO_MAX_NAPIS];
	struct info_binding bindings[INFO_MAX_BINDINGS];
	struct info_pool pools[INFO_MAX_POOLS];
};

/* The name netdev.yaml gives a qstats attribute ("rx-packets"), or NULL. */
const char *info_qstat_name(unsigned int attr);

/* 1 up, 0 down, -1 no such interface (SIOCGIFFLAGS). */
int info_link_up(const char *name);

/*
 * Fill @in from the running kernel: every device of this network namespace,
 * or only @in->ifname's. Returns 0, -ENODEV when -f names no interface, or
 * the kernel's errno when the netdev family cannot be reached (with
 * devmem_last_error() set).
 */
int info_kernel_collect(struct info *in);

#endif
