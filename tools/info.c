// SPDX-License-Identifier: MIT
/*
 * devmem info: devices, queues, NAPIs, page pools, bindings and settings,
 * as one backend sees them.
 *
 * software (the default): the control handle's dumps of this process's
 * software NICs. libdevmem lives in the process that uses it, so this view
 * is empty until something creates a software NIC; -f IFNAME creates one on
 * that interface first.
 *
 * kernel: the running kernel's netdev and ethtool netlink (info-kernel.c),
 * for every interface of this network namespace or -f IFNAME's.
 *
 * auto: with -f, the path recv and send would take on IFNAME (the kernel's
 * when it accepts a bind-rx there), that path's view; without, the kernel's
 * view when the kernel has the netdev family; the reason in one line.
 *
 * Both are printed from one model (info.h), so the text and the JSON have
 * the same shape whichever backend filled them.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cmds.h"
#include "devmem/error.h"
#include "devmem/netdev.h"
#include "devmem/swnic.h"
#include "info.h"
#include "json.h"
#include "tool.h"

static void info_usage(FILE *out)
{
	fprintf(out,
		"usage: devmem info [--backend software|kernel|auto] [-f IFNAME] [--json]\n"
		"\n"
		"Devices (netdev features, header split, channels), their queues (with the\n"
		"NAPI and the dma-buf or io_uring bound to each), NAPIs, page pools (with the\n"
		"memory in flight and their dma-buf), bindings and queue statistics.\n"
		"\n"
		"software: libdevmem's state belongs to the process that uses it, so this\n"
		"shows what this process sees: nothing, unless -f IFNAME first creates a\n"
		"software NIC on that interface. An application shows its own state the\n"
		"same way, with the dump calls of devmem/netdev.h.\n"
		"kernel: the running kernel's view through netdev and ethtool netlink, for\n"
		"every interface of this network namespace or only IFNAME.\n"
		"auto: with -f, the path recv and send take on IFNAME (the kernel's where it\n"
		"accepts a bind-rx there, else the software NIC) and its view; without -f,\n"
		"the kernel's view where the kernel has the netdev family. It says why.\n"
		"\n"
		"  --backend B  whose view: software (the default), kernel or auto\n"
		"  -f IFNAME    software: create a software NIC on IFNAME first (e.g. lo);\n"
		"               kernel: show only IFNAME\n"
		"  --json       print one JSON object (the same shape for every backend)\n");
}

static int info_parse(struct info *in, int argc, char **argv)
{
	enum { OPT_BACKEND = 256 };
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "backend", required_argument, NULL, OPT_BACKEND },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	optind = 1;
	in->backend = "software";
	while ((c = getopt_long(argc, argv, ":f:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			in->ifname = optarg;
			break;
		case 'j':
			in->json = true;
			break;
		case OPT_BACKEND:
			if (strcmp(optarg, "software") && strcmp(optarg, "kernel") &&
			    strcmp(optarg, "auto"))
				return usage_error(
					"info", "--backend '%s': software, kernel or auto", optarg);
			in->backend = optarg;
			break;
		case 'h':
			info_usage(stdout);
			return -1;
		default:
			return getopt_error("info", c, longopts, argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("info", "unexpected argument '%s'", argv[optind]);
	return 0;
}

/* ---- the software path (callbacks only copy: they must not call the library) ---- */

static int sw_dev_cb(const struct devmem_dev_info *s, void *data)
{
	struct info *in = data;
	struct info_dev *d;
	uint32_t n, i;

	if (in->nr_devs >= INFO_MAX_DEVS)
		return 0;
	d = &in->devs[in->nr_devs++];
	memset(d, 0, sizeof(*d));
	d->ifindex = s->ifindex;
	snprintf(d->name, sizeof(d->name), "%s", s->name);
	d->rx_queues = s->num_rx_queues;
	d->tx_queues = s->num_tx_queues;
	d->xdp_features = s->xdp_features;
	d->xdp_attached = s->xdp_attached;
	d->netmem_tx = s->netmem_tx;
	d->tcp_data_split = s->tcp_data_split;
	d->have_hds_thresh = d->have_hds_thresh_max = true;
	d->hds_thresh = s->hds_thresh;
	d->hds_thresh_max = s->hds_thresh_max;
	d->channels_err = -EOPNOTSUPP; /* the software NIC's queues are fixed at creation */
	d->qstats_err = -EOPNOTSUPP; /* its counters are per queue, below */
	snprintf(d->rss, sizeof(d->rss), "custom");
	for (n = 1; n <= s->num_rx_queues; n++) {
		for (i = 0; i < DEVMEM_RSS_INDIR_SIZE && s->rss_indir[i] == i % n; i++)
			;
		if (i == DEVMEM_RSS_INDIR_SIZE) {
			snprintf(d->rss, sizeof(d->rss), "equal %u", n);
			break;
		}
	}
	d->flow_rules = s->nr_flow_rules;
	return 0;
}

static int sw_queue_cb(const struct devmem_queue_info *s, void *data)
{
	struct info *in = data;
	struct info_queue *q;

	if (in->nr_queues >= INFO_MAX_QUEUES)
		return 0;
	q = &in->queues[in->nr_queues++];
	q->ifindex = s->ifindex;
	q->id = s->id;
	q->type = s->type;
	q->napi_id = s->napi_id;
	q->dmabuf = s->dmabuf;
	q->io_uring = s->io_uring;
	q->xsk = s->xsk;
	return 0;
}

static int sw_binding_cb(const struct devmem_binding_info *b, void *data)
{
	struct info *in = data;

	if (in->nr_bindings < INFO_MAX_BINDINGS) {
		in->bindings[in->nr_bindings].b = *b;
		in->bindings[in->nr_bindings++].detailed = true;
	}
	return 0;
}

static int sw_pool_cb(const struct devmem_page_pool_info *s, void *data)
{
	struct info *in = data;
	struct info_pool *p;

	if (in->nr_pools >= INFO_MAX_POOLS)
		return 0;
	p = &in->pools[in->nr_pools++];
	p->id = s->id;
	p->ifindex = s->ifindex;
	p->napi_id = s->napi_id;
	p->inflight = s->inflight;
	p->inflight_mem = s->inflight_mem;
	p->dmabuf = s->dmabuf;
	p->detach_time = s->detach_time;
	p->detached = s->detach_time != 0;
	return 0;
}

/* The software NIC runs one NAPI-like context per queue pair: list each id once. */
static void sw_napis(struct info *in)
{
	unsigned int i, k;

	for (i = 0; i < in->nr_queues; i++) {
		const struct info_queue *q = &in->queues[i];

		if (!q->napi_id)
			continue;
		for (k = 0; k < in->nr_napis; k++)
			if (in->napis[k].ifindex == q->ifindex && in->napis[k].id == q->napi_id)
				break;
		if (k < in->nr_napis || in->nr_napis >= INFO_MAX_NAPIS)
			continue;
		in->napis[in->nr_napis++] = (struct info_napi){ .ifindex = q->ifindex,
								.id = q->napi_id,
								.irq = -1,
								.pid = -1,
								.threaded = -1 };
	}
}

static int info_software_collect(struct info *in)
{
	struct devmem_ctl *ctl;
	unsigned int i;
	int err;

	err = devmem_ctl_open(&ctl);
	if (err)
		return fail(err, "open a control handle");
	err = devmem_dev_dump(ctl, sw_dev_cb, in);
	if (!err)
		err = devmem_queue_dump(ctl, 0, sw_queue_cb, in);
	if (!err)
		err = devmem_binding_dump(ctl, 0, sw_binding_cb, in);
	if (!err)
		err = devmem_page_pool_dump(ctl, 0, sw_pool_cb, in);
	devmem_ctl_close(ctl);
	if (err)
		return fail(err, "dump");
	for (i = 0; i < in->nr_devs; i++)
		in->devs[i].up = info_link_up(in->devs[i].name);
	for (i = 0; i < in->nr_queues; i++) {
		struct info_queue *q = &in->queues[i];

		if (q->type != NETDEV_QUEUE_TYPE_RX)
			continue;
		q->have_stats = !devmem_swnic_rxq_stats(q->ifindex, q->id, &q->st);
		if (!q->have_stats)
			error_seen(); /* a device of another driver */
	}
	sw_napis(in);
	return 0;
}

/* ---- the kernel has no binding dump: a binding is what its queues and pools name ---- */

static struct info_binding *binding_of(struct info *in, uint32_t id, int ifindex)
{
	struct info_binding *b;
	unsigned int i;

	for (i = 0; i < in->nr_bindings; i++)
		if (in->bindings[i].b.id == id)
			return &in->bindings[i];
	if (in->nr_bindings >= INFO_MAX_BINDINGS)
		return NULL;
	b = &in->bindings[in->nr_bindings++];
	memset(b, 0, sizeof(*b));
	b->b.id = id;
	b->b.ifindex = ifindex;
	/* only rx queues and page pools name a binding: a tx binding is not listed */
	b->b.direction = NETDEV_QUEUE_TYPE_RX;
	return b;
}

static void kernel_bindings(struct info *in)
{
	struct info_binding *b;
	unsigned int i;

	for (i = 0; i < in->nr_queues; i++) {
		const struct info_queue *q = &in->queues[i];

		if (!q->dmabuf || !(b = binding_of(in, q->dmabuf, q->ifindex)))
			continue;
		if (b->b.nr_queues < DEVMEM_BINDING_MAX_QUEUES)
			b->b.queues[b->b.nr_queues] = q->id;
		b->b.nr_queues++;
	}
	for (i = 0; i < in->nr_pools; i++)
		if (in->pools[i].dmabuf)
			binding_of(in, in->pools[i].dmabuf, in->pools[i].ifindex);
}

static int info_kernel(struct info *in)
{
	int err = info_kernel_collect(in);

	if (err == -ENODEV && in->ifname) {
		msg("no interface '%s'", in->ifname);
		return EXIT_RUNTIME;
	}
	if (err)
		return fail(err, "the kernel's netdev netlink");
	error_seen(); /* refusals of drivers without rings, channels, RSS: shown as unknown */
	kernel_bindings(in);
	in->shown = "kernel";
	return 0;
}

/* ---- names ---- */

static const char *const xdp_act_names[] = {
	"basic", "redirect", "ndo-xmit", "xsk-zerocopy", "hw-offload", "rx-sg", "ndo-xmit-sg",
};
static const char *const xdp_rx_meta_names[] = { "timestamp", "hash", "vlan-tag" };
static const char *const xsk_names[] = { "tx-timestamp", "tx-checksum", "tx-launch-time-fifo" };
static const char *const channel_names[INFO_CH_NR] = {
	"rx_max", "tx_max", "other_max", "combined_max", "rx", "tx", "other", "combined",
};

/* netdev.yaml's flag names of @bits, comma separated ("-" for none, "bit N" beyond the list). */
static const char *flags_str(uint64_t bits, const char *const *names, unsigned int nr, char *buf,
			     size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned int b = 0; b < 64 && n < len; b++) {
		if (!(bits >> b & 1))
			continue;
		if (b < nr)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "," : "", names[b]);
		else
			n += (size_t)snprintf(buf + n, len - n, "%sbit %u", n ? "," : "", b);
	}
	return n ? buf : "-";
}

static void json_flags(struct json *j, const char *key, uint64_t bits, const char *const *names,
		       unsigned int nr)
{
	char other[16];

	json_array(j, key);
	for (unsigned int b = 0; b < 64; b++) {
		if (!(bits >> b & 1))
			continue;
		snprintf(other, sizeof(other), "bit %u", b);
		json_str(j, NULL, b < nr ? names[b] : other);
	}
	json_close(j);
}

static const char *hds_name(uint32_t split)
{
	switch (split) {
	case ETHTOOL_TCP_DATA_SPLIT_ENABLED:
		return "on";
	case ETHTOOL_TCP_DATA_SPLIT_DISABLED:
		return "off";
	default:
		return "unknown";
	}
}

static const char *dev_name(const struct info *in, int ifindex)
{
	for (unsigned int i = 0; i < in->nr_devs; i++)
		if (in->devs[i].ifindex == ifindex)
			return in->devs[i].name;
	return "-";
}

static const char *tristate(int v)
{
	return v < 0 ? "-" : v ? "yes" : "no";
}

/* "dmabuf 3", "io_uring", "xsk" or "-": what a queue or a pool takes its memory from. */
static const char *provider_str(uint32_t dmabuf, bool io_uring, bool xsk, char *buf, size_t len)
{
	if (dmabuf)
		snprintf(buf, len, "dmabuf %u", dmabuf);
	else
		snprintf(buf, len, "%s", io_uring ? "io_uring" : xsk ? "xsk" : "-");
	return buf;
}

/* ---- text ---- */

static void text_devs(const struct info *in)
{
	char hds[32], ch[40], flows[16];
	bool down = false;
	unsigned int i;

	printf("devices (%u)\n", in->nr_devs);
	printf("  %-8s %-10s %-5s %4s %4s  %-17s %-20s %-9s %5s  %-8s  %s\n", "IFINDEX", "NAME",
	       "STATE", "RXQ", "TXQ", "HEADER SPLIT", "CHANNELS", "RSS", "FLOWS", "XDP PROG",
	       "NETMEM TX");
	for (i = 0; i < in->nr_devs; i++) {
		const struct info_dev *d = &in->devs[i];

		if (d->rings_err)
			snprintf(hds, sizeof(hds), "-");
		else if (d->have_hds_thresh)
			snprintf(hds, sizeof(hds), "%s, thresh %u", hds_name(d->tcp_data_split),
				 d->hds_thresh);
		else
			snprintf(hds, sizeof(hds), "%s", hds_name(d->tcp_data_split));
		if (d->channels_err)
			snprintf(ch, sizeof(ch), "-");
		else if (d->channels[INFO_CH_COMBINED])
			snprintf(ch, sizeof(ch), "combined %u/%u", d->channels[INFO_CH_COMBINED],
				 d->channels[INFO_CH_COMBINED_MAX]);
		else
			snprintf(ch, sizeof(ch), "rx %u/%u tx %u/%u", d->channels[INFO_CH_RX],
				 d->channels[INFO_CH_RX_MAX], d->channels[INFO_CH_TX],
				 d->channels[INFO_CH_TX_MAX]);
		snprintf(flows, sizeof(flows), d->flows_err ? "-" : "%u", d->flow_rules);
		printf("  %-8d %-10s %-5s %4u %4u  %-17s %-20s %-9s %5s  %-8s  %s\n", d->ifindex,
		       d->name,
		       d->up < 0 ? "-" :
		       d->up	 ? "up" :
				   "down",
		       d->rx_queues, d->tx_queues, hds, ch, d->rss_err ? "-" : d->rss, flows,
		       tristate(d->xdp_attached), tristate(d->netmem_tx));
		down |= d->up == 0;
	}
	/* netdev_nl_queue_dump_one() and netdev_nl_napi_dump_one() skip a device that is down */
	if (down && !strcmp(in->shown, "kernel"))
		printf("  (the kernel lists no queues and no NAPIs of a device that is down)\n");
}

static void text_features(const struct info *in)
{
	char xdp[160], meta[64], xsk[64], segs[16];
	unsigned int i;

	printf("\nnetdev features\n");
	printf("  %-10s %-50s %-7s %-24s %s\n", "DEVICE", "XDP", "ZC SEGS", "XDP RX METADATA",
	       "XSK");
	for (i = 0; i < in->nr_devs; i++) {
		const struct info_dev *d = &in->devs[i];

		snprintf(segs, sizeof(segs), d->have_zc_max_segs ? "%u" : "-", d->xdp_zc_max_segs);
		printf("  %-10s %-50s %-7s %-24s %s\n", d->name,
		       flags_str(d->xdp_features, xdp_act_names, ARRAY_LEN(xdp_act_names), xdp,
				 sizeof(xdp)),
		       segs,
		       flags_str(d->xdp_rx_metadata, xdp_rx_meta_names,
				 ARRAY_LEN(xdp_rx_meta_names), meta, sizeof(meta)),
		       flags_str(d->xsk_features, xsk_names, ARRAY_LEN(xsk_names), xsk,
				 sizeof(xsk)));
	}
}

static void text_queues(const struct info *in)
{
	char napi[16], prov[24];
	unsigned int i;

	printf("\nqueues (%u)\n", in->nr_queues);
	if (!in->nr_queues)
		return;
	for (i = 0; i < in->nr_queues && !in->queues[i].have_stats; i++)
		;
	printf("  %-10s %-5s %-4s %8s  %-*s", "DEVICE", "QUEUE", "TYPE", "NAPI",
	       i < in->nr_queues ? 10 : 0, "MEMORY");
	if (i < in->nr_queues)
		printf(" %7s %12s %10s %6s %7s", "SOCKETS", "BYTES", "FRAGS", "RING", "STARVED");
	printf("\n");
	for (i = 0; i < in->nr_queues; i++) {
		const struct info_queue *q = &in->queues[i];

		snprintf(napi, sizeof(napi), q->napi_id ? "%u" : "-", q->napi_id);
		printf("  %-10s %-5u %-4s %8s  %-*s", dev_name(in, q->ifindex), q->id,
		       q->type == NETDEV_QUEUE_TYPE_RX ? "rx" : "tx", napi, q->have_stats ? 10 : 0,
		       provider_str(q->dmabuf, q->io_uring, q->xsk, prov, sizeof(prov)));
		if (q->have_stats)
			printf(" %7u %12llu %10llu %6u %7llu", q->st.sockets,
			       (unsigned long long)q->st.bytes, (unsigned long long)q->st.frags,
			       q->st.buffers_in_ring, (unsigned long long)q->st.starved);
		printf("\n");
	}
}

static void text_napis(const struct info *in)
{
	char irq[16], pid[16];
	unsigned int i;

	printf("\nNAPIs (%u)\n", in->nr_napis);
	if (!in->nr_napis)
		return;
	printf("  %-10s %8s %6s %8s  %s\n", "DEVICE", "ID", "IRQ", "PID", "THREADED");
	for (i = 0; i < in->nr_napis; i++) {
		const struct info_napi *n = &in->napis[i];

		snprintf(irq, sizeof(irq), n->irq < 0 ? "-" : "%lld", (long long)n->irq);
		snprintf(pid, sizeof(pid), n->pid < 0 ? "-" : "%lld", (long long)n->pid);
		printf("  %-10s %8u %6s %8s  %s\n", dev_name(in, n->ifindex), n->id, irq, pid,
		       tristate(n->threaded));
	}
}

static void text_bindings(const struct info *in)
{
	char size[24], queues[64], nr[3][24];
	unsigned int i, k;
	int n;

	printf("\nbindings (%u)\n", in->nr_bindings);
	if (!in->nr_bindings)
		return;
	printf("  %-4s %-10s %-3s %10s  %-12s %10s %10s %10s  %s\n", "ID", "DEVICE", "DIR", "SIZE",
	       "QUEUES", "NET_IOVS", "IN USE", "FREE", "STATE");
	for (i = 0; i < in->nr_bindings; i++) {
		const struct devmem_binding_info *b = &in->bindings[i].b;
		bool det = in->bindings[i].detailed;

		n = snprintf(queues, sizeof(queues), "%s", b->nr_queues ? "" : "-");
		for (k = 0; k < b->nr_queues && k < DEVMEM_BINDING_MAX_QUEUES && n < 50; k++)
			n += snprintf(queues + n, sizeof(queues) - n, "%s%u", k ? "," : "",
				      b->queues[k]);
		snprintf(nr[0], sizeof(nr[0]), det ? "%llu" : "-", (unsigned long long)b->nr_niovs);
		snprintf(nr[1], sizeof(nr[1]), det ? "%llu" : "-",
			 (unsigned long long)b->niovs_in_use);
		snprintf(nr[2], sizeof(nr[2]), det ? "%llu" : "-",
			 (unsigned long long)b->niovs_free);
		printf("  %-4u %-10s %-3s %10s  %-12s %10s %10s %10s  %s\n", b->id,
		       dev_name(in, b->ifindex), b->direction == NETDEV_QUEUE_TYPE_RX ? "rx" : "tx",
		       det ? fmt_bytes(b->dmabuf_size, size, sizeof(size)) : "-", queues, nr[0],
		       nr[1], nr[2],
		       !det	  ? "bound" :
		       b->unbound ? "unbound, net_iovs out" :
				    "bound");
		/* a buffer bound twice: data landed on fragments a user still held */
		if (b->held_overwritten || b->overwrote_held)
			printf("       held fragments overwritten: %llu of this binding's, %llu of "
			       "other bindings' by its data\n",
			       (unsigned long long)b->held_overwritten,
			       (unsigned long long)b->overwrote_held);
	}
}

static void text_pools(const struct info *in)
{
	char mem[24], napi[16], prov[24], state[40];
	unsigned int i;

	printf("\npage pools (%u)\n", in->nr_pools);
	if (!in->nr_pools)
		return;
	printf("  %-6s %-10s %8s %9s %10s  %-10s  %s\n", "ID", "DEVICE", "NAPI", "INFLIGHT",
	       "MEMORY", "PROVIDER", "STATE");
	for (i = 0; i < in->nr_pools; i++) {
		const struct info_pool *p = &in->pools[i];

		snprintf(napi, sizeof(napi), p->napi_id ? "%u" : "-", p->napi_id);
		if (p->detached && p->detach_time)
			snprintf(state, sizeof(state), "detached at %llus",
				 (unsigned long long)p->detach_time);
		else
			snprintf(state, sizeof(state), p->detached ? "detached" : "attached");
		printf("  %-6u %-10s %8s %9llu %10s  %-10s  %s\n", p->id,
		       p->ifindex ? dev_name(in, p->ifindex) : "(gone)", napi,
		       (unsigned long long)p->inflight,
		       fmt_bytes(p->inflight_mem, mem, sizeof(mem)),
		       provider_str(p->dmabuf, p->io_uring, false, prov, sizeof(prov)), state);
	}
}

static void text_qstats(const struct info *in)
{
	unsigned int i, a, col;

	printf("\nqueue statistics, device scope\n");
	for (i = 0; i < in->nr_devs; i++) {
		const struct info_dev *d = &in->devs[i];

		printf("  %-10s", d->name);
		if (d->qstats_err || !d->qstats_present) {
			printf(" -\n");
			continue;
		}
		for (a = INFO_QSTATS_FIRST, col = 0; a <= INFO_QSTATS_LAST; a++) {
			if (!(d->qstats_present >> a & 1))
				continue;
			if (col && col % 4 == 0)
				printf("\n  %-10s", "");
			printf(" %s %llu", info_qstat_name(a), (unsigned long long)d->qstats[a]);
			col++;
		}
		printf("\n");
	}
}

static void info_text(const struct info *in)
{
	printf("backend: %s\n", in->shown);
	if (in->reason[0])
		printf("%s\n", in->reason);
	if (!in->nr_devs && !strcmp(in->shown, "software")) {
		printf("no devices: libdevmem's state belongs to the process, and this one has\n"
		       "created none. 'devmem info -f lo' creates a software NIC on lo first;\n"
		       "'devmem info --backend kernel' shows the kernel's devices.\n");
		return;
	}
	printf("\n");
	text_devs(in);
	text_features(in);
	text_queues(in);
	text_napis(in);
	text_pools(in);
	text_bindings(in);
	text_qstats(in);
}

/* ---- JSON: one shape for both backends, null where a backend cannot know ---- */

static void json_u64_or_null(struct json *j, const char *key, bool have, uint64_t v)
{
	if (have)
		json_u64(j, key, v);
	else
		json_null(j, key);
}

static void json_settings(struct json *j, const struct info_dev *d)
{
	unsigned int k;

	json_object(j, "settings");
	if (d->rings_err)
		json_null(j, "header_split");
	else
		json_str(j, "header_split", hds_name(d->tcp_data_split));
	json_u64_or_null(j, "hds_thresh", !d->rings_err && d->have_hds_thresh, d->hds_thresh);
	json_u64_or_null(j, "hds_thresh_max", !d->rings_err && d->have_hds_thresh_max,
			 d->hds_thresh_max);
	if (d->channels_err) {
		json_null(j, "channels");
	} else {
		json_object(j, "channels");
		for (k = 0; k < INFO_CH_NR; k++)
			json_u64_or_null(j, channel_names[k], d->channels_present >> k & 1,
					 d->channels[k]);
		json_close(j);
	}
	if (d->rss_err)
		json_null(j, "rss");
	else
		json_str(j, "rss", d->rss);
	json_u64_or_null(j, "flow_rules", !d->flows_err, d->flow_rules);
	json_close(j);
}

static void json_features(struct json *j, const struct info_dev *d)
{
	json_object(j, "features");
	json_flags(j, "xdp", d->xdp_features, xdp_act_names, ARRAY_LEN(xdp_act_names));
	json_u64_or_null(j, "xdp_zc_max_segs", d->have_zc_max_segs, d->xdp_zc_max_segs);
	json_flags(j, "xdp_rx_metadata", d->xdp_rx_metadata, xdp_rx_meta_names,
		   ARRAY_LEN(xdp_rx_meta_names));
	json_flags(j, "xsk", d->xsk_features, xsk_names, ARRAY_LEN(xsk_names));
	if (d->xdp_attached < 0)
		json_null(j, "xdp_attached");
	else
		json_bool(j, "xdp_attached", d->xdp_attached);
	if (d->netmem_tx < 0)
		json_null(j, "netmem_tx");
	else
		json_bool(j, "netmem_tx", d->netmem_tx);
	json_close(j);
}

static void json_queue(struct json *j, const struct info_queue *q)
{
	json_object(j, NULL);
	json_u64(j, "id", q->id);
	json_str(j, "type", q->type == NETDEV_QUEUE_TYPE_RX ? "rx" : "tx");
	json_u64_or_null(j, "napi_id", q->napi_id, q->napi_id);
	json_u64_or_null(j, "dmabuf", q->dmabuf, q->dmabuf);
	json_bool(j, "io_uring", q->io_uring);
	json_bool(j, "xsk", q->xsk);
	if (q->have_stats) {
		json_object(j, "swnic");
		json_u64(j, "sockets", q->st.sockets);
		json_u64(j, "bytes", q->st.bytes);
		json_u64(j, "frags", q->st.frags);
		json_u64(j, "buffers_in_ring", q->st.buffers_in_ring);
		json_u64(j, "starved", q->st.starved);
		json_close(j);
	} else {
		json_null(j, "swnic");
	}
	json_close(j);
}

static void json_pool(struct json *j, const struct info_pool *p)
{
	json_object(j, NULL);
	json_u64(j, "id", p->id);
	json_u64_or_null(j, "napi_id", p->napi_id, p->napi_id);
	json_u64(j, "inflight", p->inflight);
	json_u64(j, "inflight_mem", p->inflight_mem);
	json_u64_or_null(j, "dmabuf", p->dmabuf, p->dmabuf);
	json_bool(j, "io_uring", p->io_uring);
	json_bool(j, "detached", p->detached);
	json_u64_or_null(j, "detach_time", p->detached && p->detach_time, p->detach_time);
	json_close(j);
}

static void json_binding(struct json *j, const struct info_binding *ib)
{
	const struct devmem_binding_info *b = &ib->b;
	bool det = ib->detailed;

	json_object(j, NULL);
	json_u64(j, "id", b->id);
	json_str(j, "direction", b->direction == NETDEV_QUEUE_TYPE_RX ? "rx" : "tx");
	json_array(j, "queues");
	for (unsigned int k = 0; k < b->nr_queues && k < DEVMEM_BINDING_MAX_QUEUES; k++)
		json_u64(j, NULL, b->queues[k]);
	json_close(j);
	json_u64_or_null(j, "dmabuf_size", det, b->dmabuf_size);
	json_u64_or_null(j, "nr_niovs", det, b->nr_niovs);
	json_u64_or_null(j, "niovs_in_use", det, b->niovs_in_use);
	json_u64_or_null(j, "niovs_free", det, b->niovs_free);
	if (det)
		json_bool(j, "unbound", b->unbound);
	else
		json_null(j, "unbound");
	json_u64_or_null(j, "held_overwritten", det, b->held_overwritten);
	json_u64_or_null(j, "overwrote_held", det, b->overwrote_held);
	json_close(j);
}

static void json_qstats(struct json *j, const struct info_dev *d)
{
	char key[32];

	if (d->qstats_err || !d->qstats_present) {
		json_null(j, "qstats");
		return;
	}
	json_object(j, "qstats");
	for (unsigned int a = INFO_QSTATS_FIRST; a <= INFO_QSTATS_LAST; a++) {
		if (!(d->qstats_present >> a & 1))
			continue;
		/* JSON keys are identifiers here: rx-packets becomes rx_packets */
		snprintf(key, sizeof(key), "%s", info_qstat_name(a));
		for (char *c = key; *c; c++)
			if (*c == '-')
				*c = '_';
		json_u64(j, key, d->qstats[a]);
	}
	json_close(j);
}

static void json_dev(struct json *j, const struct info *in, const struct info_dev *d)
{
	unsigned int i;

	json_object(j, NULL);
	json_i64(j, "ifindex", d->ifindex);
	json_str(j, "name", d->name);
	if (d->up < 0)
		json_null(j, "up");
	else
		json_bool(j, "up", d->up);
	json_u64(j, "rx_queues", d->rx_queues);
	json_u64(j, "tx_queues", d->tx_queues);
	json_features(j, d);
	json_settings(j, d);
	json_array(j, "queues");
	for (i = 0; i < in->nr_queues; i++)
		if (in->queues[i].ifindex == d->ifindex)
			json_queue(j, &in->queues[i]);
	json_close(j);
	json_array(j, "napis");
	for (i = 0; i < in->nr_napis; i++) {
		const struct info_napi *n = &in->napis[i];

		if (n->ifindex != d->ifindex)
			continue;
		json_object(j, NULL);
		json_u64(j, "id", n->id);
		json_u64_or_null(j, "irq", n->irq >= 0, (uint64_t)n->irq);
		json_u64_or_null(j, "pid", n->pid >= 0, (uint64_t)n->pid);
		if (n->threaded < 0)
			json_null(j, "threaded");
		else
			json_bool(j, "threaded", n->threaded);
		json_close(j);
	}
	json_close(j);
	json_array(j, "page_pools");
	for (i = 0; i < in->nr_pools; i++)
		if (in->pools[i].ifindex == d->ifindex)
			json_pool(j, &in->pools[i]);
	json_close(j);
	json_array(j, "bindings");
	for (i = 0; i < in->nr_bindings; i++)
		if (in->bindings[i].b.ifindex == d->ifindex)
			json_binding(j, &in->bindings[i]);
	json_close(j);
	json_qstats(j, d);
	json_close(j);
}

static void info_json(const struct info *in)
{
	struct json j;
	unsigned int i;

	json_begin(&j, stdout);
	json_str(&j, "backend", in->shown);
	if (in->reason[0])
		json_str(&j, "reason", in->reason);
	else
		json_null(&j, "reason");
	json_array(&j, "devices");
	for (i = 0; i < in->nr_devs; i++)
		json_dev(&j, in, &in->devs[i]);
	json_close(&j);
	/* pools whose device is gone: the kernel keeps them until their memory is back */
	json_array(&j, "orphan_page_pools");
	for (i = 0; i < in->nr_pools; i++)
		if (!in->pools[i].ifindex)
			json_pool(&j, &in->pools[i]);
	json_close(&j);
	json_end(&j);
}

/* ---- the command ---- */

static int info_software(struct info *in, int *ifindex)
{
	int err;

	in->shown = "software";
	if (in->ifname) {
		err = devmem_swnic_create(in->ifname, NULL, ifindex);
		if (err == -ENODEV) {
			msg("no interface '%s'", in->ifname);
			return EXIT_RUNTIME;
		}
		if (err)
			return fail(err, "software NIC on %s", in->ifname);
	}
	return info_software_collect(in);
}

/*
 * auto with -f: the decision recv, send and demo take for that interface
 * (the kernel's answer to a bind-rx there), and that path's view.
 */
static int info_auto_ifname(struct info *in, int *ifindex)
{
	struct backend_choice c = { .asked = "auto" };
	struct devmem_ctl *ctl;
	int idx = (int)if_nametoindex(in->ifname), err;

	if (!idx) {
		msg("no interface '%s'", in->ifname);
		return EXIT_RUNTIME;
	}
	err = backend_ctl_open(&c, idx, NULL, 0, &ctl);
	if (err)
		return fail(err, "auto: deciding the path of %s", in->ifname);
	devmem_ctl_close(ctl);
	snprintf(in->reason, sizeof(in->reason), "auto: %s", c.reason);
	if (c.chosen == DEVMEM_BACKEND_KERNEL) {
		err = info_kernel_collect(in);
		if (err)
			return fail(err, "the kernel's view of %s", in->ifname);
		kernel_bindings(in);
		in->shown = "kernel";
		return 0;
	}
	return info_software(in, ifindex);
}

/*
 * auto: with -f, the path recv and send would take there; without, the
 * kernel's view where the kernel answers the netdev family (a kernel
 * without it, before 6.5, leaves the software path, and the reason says so).
 */
static int info_auto(struct info *in, int *ifindex)
{
	int err;

	if (in->ifname)
		return info_auto_ifname(in, ifindex);
	err = info_kernel_collect(in);

	if (err == -ENODEV && in->ifname) {
		msg("no interface '%s'", in->ifname);
		return EXIT_RUNTIME;
	}
	if (!err) {
		error_seen();
		kernel_bindings(in);
		in->shown = "kernel";
		snprintf(in->reason, sizeof(in->reason),
			 "auto: the kernel answers the netdev family: its view");
		return 0;
	}
	snprintf(
		in->reason, sizeof(in->reason),
		"auto: the kernel's netdev netlink is not there (%s: %s); the software path's view",
		strerror(-err), devmem_last_error());
	error_seen();
	in->nr_devs = in->nr_queues = in->nr_napis = in->nr_pools = in->nr_bindings = 0;
	return info_software(in, ifindex);
}

int cmd_info(int argc, char **argv)
{
	struct info *in;
	int ifindex = 0, err;

	in = calloc(1, sizeof(*in));
	if (!in)
		return fail(-ENOMEM, "info");
	err = info_parse(in, argc, argv);
	if (err)
		goto out_free;
	if (!strcmp(in->backend, "kernel"))
		err = info_kernel(in);
	else if (!strcmp(in->backend, "auto"))
		err = info_auto(in, &ifindex);
	else
		err = info_software(in, &ifindex);
	if (!err && in->json)
		info_json(in);
	else if (!err)
		info_text(in);
	if (ifindex && devmem_swnic_destroy(ifindex))
		error_seen();
out_free:
	free(in);
	return err < 0 ? 0 : err;
}
