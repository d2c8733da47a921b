// SPDX-License-Identifier: MIT
/*
 * devmem info --backend kernel: the running kernel's view, read through the
 * library's netlink layer (src/netlink): dev-get, queue-get, napi-get,
 * page-pool-get and qstats-get of the netdev family, then rings-get,
 * channels-get and rss-get of the ethtool family and the ntuple rule count.
 *
 * What the kernel leaves out is left unknown, never guessed: a driver
 * without ring parameters (lo, veth) has no header-split setting, one
 * without queue statistics has no qstats. A device that is down has no
 * queues and no NAPIs in the kernel's dumps (netdev_nl_queue_dump_one(),
 * netdev_nl_napi_dump_one() skip it), so its counts are the dump's, 0.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* the netlink layer's UAPI header must come before devmem/uapi.h */
#include "netlink/nl.h"
#include "info.h"

static const char *const qstat_names[INFO_QSTATS_LAST + 1] = {
	[NETDEV_A_QSTATS_RX_PACKETS] = "rx-packets",
	[NETDEV_A_QSTATS_RX_BYTES] = "rx-bytes",
	[NETDEV_A_QSTATS_TX_PACKETS] = "tx-packets",
	[NETDEV_A_QSTATS_TX_BYTES] = "tx-bytes",
	[NETDEV_A_QSTATS_RX_ALLOC_FAIL] = "rx-alloc-fail",
	[NETDEV_A_QSTATS_RX_HW_DROPS] = "rx-hw-drops",
	[NETDEV_A_QSTATS_RX_HW_DROP_OVERRUNS] = "rx-hw-drop-overruns",
	[NETDEV_A_QSTATS_RX_CSUM_COMPLETE] = "rx-csum-complete",
	[NETDEV_A_QSTATS_RX_CSUM_UNNECESSARY] = "rx-csum-unnecessary",
	[NETDEV_A_QSTATS_RX_CSUM_NONE] = "rx-csum-none",
	[NETDEV_A_QSTATS_RX_CSUM_BAD] = "rx-csum-bad",
	[NETDEV_A_QSTATS_RX_HW_GRO_PACKETS] = "rx-hw-gro-packets",
	[NETDEV_A_QSTATS_RX_HW_GRO_BYTES] = "rx-hw-gro-bytes",
	[NETDEV_A_QSTATS_RX_HW_GRO_WIRE_PACKETS] = "rx-hw-gro-wire-packets",
	[NETDEV_A_QSTATS_RX_HW_GRO_WIRE_BYTES] = "rx-hw-gro-wire-bytes",
	[NETDEV_A_QSTATS_RX_HW_DROP_RATELIMITS] = "rx-hw-drop-ratelimits",
	[NETDEV_A_QSTATS_TX_HW_DROPS] = "tx-hw-drops",
	[NETDEV_A_QSTATS_TX_HW_DROP_ERRORS] = "tx-hw-drop-errors",
	[NETDEV_A_QSTATS_TX_CSUM_NONE] = "tx-csum-none",
	[NETDEV_A_QSTATS_TX_NEEDS_CSUM] = "tx-needs-csum",
	[NETDEV_A_QSTATS_TX_HW_GSO_PACKETS] = "tx-hw-gso-packets",
	[NETDEV_A_QSTATS_TX_HW_GSO_BYTES] = "tx-hw-gso-bytes",
	[NETDEV_A_QSTATS_TX_HW_GSO_WIRE_PACKETS] = "tx-hw-gso-wire-packets",
	[NETDEV_A_QSTATS_TX_HW_GSO_WIRE_BYTES] = "tx-hw-gso-wire-bytes",
	[NETDEV_A_QSTATS_TX_HW_DROP_RATELIMITS] = "tx-hw-drop-ratelimits",
	[NETDEV_A_QSTATS_TX_STOP] = "tx-stop",
	[NETDEV_A_QSTATS_TX_WAKE] = "tx-wake",
};

_Static_assert(NETDEV_A_QSTATS_RX_PACKETS == INFO_QSTATS_FIRST &&
		       NETDEV_A_QSTATS_TX_WAKE == INFO_QSTATS_LAST,
	       "the qstats attributes info keeps");

const char *info_qstat_name(unsigned int attr)
{
	return attr <= INFO_QSTATS_LAST ? qstat_names[attr] : NULL;
}

int info_link_up(const char *name)
{
	struct ifreq ifr;
	int fd, ret;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	if ((size_t)snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name) >=
	    sizeof(ifr.ifr_name)) {
		close(fd);
		return -1; /* no interface has a name that long */
	}
	ret = ioctl(fd, SIOCGIFFLAGS, &ifr) ? -1 : !!(ifr.ifr_flags & IFF_UP);
	close(fd);
	return ret;
}

/* ---- dumps (callbacks only copy: the socket is busy with the dump) ---- */

static bool info_wanted(const struct info *in, uint64_t ifindex)
{
	for (unsigned int i = 0; i < in->nr_devs; i++)
		if ((uint64_t)in->devs[i].ifindex == ifindex)
			return true;
	return false;
}

static struct info_dev *info_dev_of(struct info *in, uint64_t ifindex)
{
	for (unsigned int i = 0; i < in->nr_devs; i++)
		if ((uint64_t)in->devs[i].ifindex == ifindex)
			return &in->devs[i];
	return NULL;
}

static void dev_fill(struct info_dev *d, const struct nlc_obj *o)
{
	d->ifindex = (int)o->v[NETDEV_A_DEV_IFINDEX];
	if (!if_indextoname((unsigned int)d->ifindex, d->name))
		snprintf(d->name, sizeof(d->name), "?");
	d->up = info_link_up(d->name);
	d->xdp_features = o->v[NETDEV_A_DEV_XDP_FEATURES];
	d->have_xdp_rx_metadata = nlc_has(o, NETDEV_A_DEV_XDP_RX_METADATA_FEATURES);
	d->xdp_rx_metadata = o->v[NETDEV_A_DEV_XDP_RX_METADATA_FEATURES];
	d->have_xsk_features = nlc_has(o, NETDEV_A_DEV_XSK_FEATURES);
	d->xsk_features = o->v[NETDEV_A_DEV_XSK_FEATURES];
	/* netdev_nl_dev_fill() sends it only for AF_XDP zero-copy drivers */
	d->have_zc_max_segs = nlc_has(o, NETDEV_A_DEV_XDP_ZC_MAX_SEGS);
	d->xdp_zc_max_segs = (uint32_t)o->v[NETDEV_A_DEV_XDP_ZC_MAX_SEGS];
	/* the netdev family says nothing of an attached program or of netmem TX */
	d->xdp_attached = -1;
	d->netmem_tx = -1;
}

static int dev_cb(const struct nlc_obj *o, void *arg)
{
	struct info *in = arg;

	if (!nlc_has(o, NETDEV_A_DEV_IFINDEX) || in->nr_devs >= INFO_MAX_DEVS)
		return 0;
	dev_fill(&in->devs[in->nr_devs++], o);
	return 0;
}

static int queue_cb(const struct nlc_obj *o, void *arg)
{
	struct info *in = arg;
	struct info_queue *q;

	if (!info_wanted(in, o->v[NETDEV_A_QUEUE_IFINDEX]) || in->nr_queues >= INFO_MAX_QUEUES)
		return 0;
	q = &in->queues[in->nr_queues++];
	q->ifindex = (int)o->v[NETDEV_A_QUEUE_IFINDEX];
	q->id = (uint32_t)o->v[NETDEV_A_QUEUE_ID];
	q->type = (uint32_t)o->v[NETDEV_A_QUEUE_TYPE];
	q->napi_id = (uint32_t)o->v[NETDEV_A_QUEUE_NAPI_ID];
	/* the memory provider's own attribute: a dma-buf binding's id, or an io_uring nest */
	q->dmabuf = (uint32_t)o->v[NETDEV_A_QUEUE_DMABUF];
	q->io_uring = nlc_has(o, NETDEV_A_QUEUE_IO_URING);
	q->xsk = nlc_has(o, NETDEV_A_QUEUE_XSK);
	return 0;
}

static int napi_cb(const struct nlc_obj *o, void *arg)
{
	struct info *in = arg;
	struct info_napi *n;

	if (!info_wanted(in, o->v[NETDEV_A_NAPI_IFINDEX]) || in->nr_napis >= INFO_MAX_NAPIS)
		return 0;
	n = &in->napis[in->nr_napis++];
	n->ifindex = (int)o->v[NETDEV_A_NAPI_IFINDEX];
	n->id = (uint32_t)o->v[NETDEV_A_NAPI_ID];
	/* irq only when the NAPI has one; pid only for a threaded NAPI */
	n->irq = nlc_has(o, NETDEV_A_NAPI_IRQ) ? (int64_t)o->v[NETDEV_A_NAPI_IRQ] : -1;
	n->pid = nlc_has(o, NETDEV_A_NAPI_PID) ? (int64_t)o->v[NETDEV_A_NAPI_PID] : -1;
	n->threaded = nlc_has(o, NETDEV_A_NAPI_THREADED) ? (int)o->v[NETDEV_A_NAPI_THREADED] : -1;
	return 0;
}

static int pool_cb(const struct nlc_obj *o, void *arg)
{
	struct info *in = arg;
	struct info_pool *p;
	uint64_t ifindex = o->v[NETDEV_A_PAGE_POOL_IFINDEX];

	/*
	 * page_pool_nl_fill() names no device for a pool whose device went
	 * away (it is kept on lo's list until its memory comes back): such a
	 * pool is shown only when every device is.
	 */
	if (nlc_has(o, NETDEV_A_PAGE_POOL_IFINDEX) ? !info_wanted(in, ifindex) : !!in->ifname)
		return 0;
	if (in->nr_pools >= INFO_MAX_POOLS)
		return 0;
	p = &in->pools[in->nr_pools++];
	p->id = (uint32_t)o->v[NETDEV_A_PAGE_POOL_ID];
	p->ifindex = nlc_has(o, NETDEV_A_PAGE_POOL_IFINDEX) ? (int)ifindex : 0;
	p->napi_id = (uint32_t)o->v[NETDEV_A_PAGE_POOL_NAPI_ID];
	p->inflight = o->v[NETDEV_A_PAGE_POOL_INFLIGHT];
	p->inflight_mem = o->v[NETDEV_A_PAGE_POOL_INFLIGHT_MEM];
	p->dmabuf = (uint32_t)o->v[NETDEV_A_PAGE_POOL_DMABUF];
	p->io_uring = nlc_has(o, NETDEV_A_PAGE_POOL_IO_URING);
	p->detached = nlc_has(o, NETDEV_A_PAGE_POOL_DETACH_TIME);
	p->detach_time = o->v[NETDEV_A_PAGE_POOL_DETACH_TIME];
	return 0;
}

static int qstats_cb(const struct nlc_obj *o, void *arg)
{
	struct info_dev *d = info_dev_of(arg, o->v[NETDEV_A_QSTATS_IFINDEX]);

	/* scope device: one message per device, without queue type or id */
	if (!d || nlc_has(o, NETDEV_A_QSTATS_QUEUE_ID))
		return 0;
	for (unsigned int a = INFO_QSTATS_FIRST; a <= INFO_QSTATS_LAST; a++) {
		if (!nlc_has(o, a))
			continue;
		d->qstats_present |= 1ull << a;
		d->qstats[a] = o->v[a];
	}
	d->qstats_err = 0;
	return 0;
}

/* ---- per device: ethtool ---- */

static void info_ethtool(struct nl_sock *sk, struct info_dev *d)
{
	uint32_t indir[512], n, i, k;
	struct nlc_obj o;
	int ret;

	/* devmem_last_error() keeps each refusal; the tool shows them as unknown values */
	d->rings_err = nl_ethtool_get(sk, ETHTOOL_MSG_RINGS_GET, (uint32_t)d->ifindex, &o);
	if (!d->rings_err) {
		d->tcp_data_split = nlc_has(&o, ETHTOOL_A_RINGS_TCP_DATA_SPLIT) ?
					    (uint32_t)o.v[ETHTOOL_A_RINGS_TCP_DATA_SPLIT] :
					    ETHTOOL_TCP_DATA_SPLIT_UNKNOWN;
		d->have_hds_thresh = nlc_has(&o, ETHTOOL_A_RINGS_HDS_THRESH);
		d->hds_thresh = (uint32_t)o.v[ETHTOOL_A_RINGS_HDS_THRESH];
		d->have_hds_thresh_max = nlc_has(&o, ETHTOOL_A_RINGS_HDS_THRESH_MAX);
		d->hds_thresh_max = (uint32_t)o.v[ETHTOOL_A_RINGS_HDS_THRESH_MAX];
	}
	d->channels_err = nl_ethtool_get(sk, ETHTOOL_MSG_CHANNELS_GET, (uint32_t)d->ifindex, &o);
	for (k = 0; !d->channels_err && k < INFO_CH_NR; k++) {
		if (!nlc_has(&o, ETHTOOL_A_CHANNELS_RX_MAX + k))
			continue;
		d->channels_present |= 1u << k;
		d->channels[k] = (uint32_t)o.v[ETHTOOL_A_CHANNELS_RX_MAX + k];
	}
	ret = nl_ethtool_rss_get_indir(sk, (uint32_t)d->ifindex, indir, 512);
	d->rss_err = ret < 0 ? ret : 0;
	if (ret > 0) {
		n = (uint32_t)ret > 512 ? 512 : (uint32_t)ret;
		snprintf(d->rss, sizeof(d->rss), "custom");
		for (k = 1; k <= n; k++) {
			for (i = 0; i < n && indir[i] == i % k; i++)
				;
			if (i == n) {
				snprintf(d->rss, sizeof(d->rss), "equal %u", k);
				break;
			}
		}
	} else if (!ret) {
		d->rss_err = -EOPNOTSUPP; /* no table: nothing to spread over */
	}
	ret = nl_ntuple_count((uint32_t)d->ifindex, NULL);
	d->flows_err = ret < 0 ? ret : 0;
	d->flow_rules = ret < 0 ? 0 : (uint32_t)ret;
}

static int info_kernel_devices(struct nl_sock *sk, struct info *in)
{
	struct nlc_obj f = { 0 }, o;
	unsigned int ifindex;
	int err;

	if (!in->ifname) {
		err = nl_netdev_dump(sk, NETDEV_CMD_DEV_GET, NULL, dev_cb, in);
		return err < 0 ? err : 0;
	}
	ifindex = if_nametoindex(in->ifname);
	if (!ifindex)
		return -ENODEV;
	f.present = 1u << NETDEV_A_DEV_IFINDEX;
	f.v[NETDEV_A_DEV_IFINDEX] = ifindex;
	err = nl_netdev_get(sk, NETDEV_CMD_DEV_GET, &f, &o);
	if (err)
		return err;
	dev_fill(&in->devs[in->nr_devs++], &o);
	return 0;
}

int info_kernel_collect(struct info *in)
{
	struct nlc_obj f = { 0 };
	struct nl_sock *sk;
	unsigned int i, k;
	int err, n;

	err = nl_sock_open(&sk);
	if (err)
		return err;
	err = info_kernel_devices(sk, in);
	if (err)
		goto out;
	for (i = 0; i < in->nr_devs; i++)
		in->devs[i].qstats_err = -EOPNOTSUPP;
	if (in->ifname) {
		f.present = 1u << NETDEV_A_QUEUE_IFINDEX;
		f.v[NETDEV_A_QUEUE_IFINDEX] = (uint64_t)in->devs[0].ifindex;
	}
	/* NETDEV_A_QUEUE_IFINDEX and NETDEV_A_NAPI_IFINDEX are both attribute 1 */
	n = nl_netdev_dump(sk, NETDEV_CMD_QUEUE_GET, &f, queue_cb, in);
	if (n >= 0)
		n = nl_netdev_dump(sk, NETDEV_CMD_NAPI_GET, &f, napi_cb, in);
	if (n >= 0)
		n = nl_netdev_dump(sk, NETDEV_CMD_PAGE_POOL_GET, NULL, pool_cb, in);
	if (n < 0) {
		err = n;
		goto out;
	}
	/*
	 * Scope device over every device: one filtered to a device whose
	 * driver keeps no statistics would end in EOPNOTSUPP, which here only
	 * means "none".
	 */
	n = nl_netdev_dump(sk, NETDEV_CMD_QSTATS_GET, NULL, qstats_cb, in);
	for (i = 0; n < 0 && i < in->nr_devs; i++)
		in->devs[i].qstats_err = n;
	for (i = 0; i < in->nr_devs; i++) {
		struct info_dev *d = &in->devs[i];

		for (k = 0; k < in->nr_queues; k++) {
			if (in->queues[k].ifindex != d->ifindex)
				continue;
			if (in->queues[k].type == NETDEV_QUEUE_TYPE_RX)
				d->rx_queues++;
			else
				d->tx_queues++;
		}
		info_ethtool(sk, d);
	}
	err = 0;
out:
	nl_sock_close(sk);
	return err;
}
