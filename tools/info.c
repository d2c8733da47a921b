// SPDX-License-Identifier: MIT
/*
 * devmem info: what the control handle's dumps show (devices, queues,
 * bindings, page pools) and what each software NIC rx queue has done.
 *
 * libdevmem lives in the process that uses it: info shows this process's
 * view, which is empty until something creates a software NIC. -f IFNAME
 * creates one on that interface first.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "devmem/netdev.h"
#include "devmem/swnic.h"
#include "json.h"
#include "tool.h"

#define INFO_MAX_DEVS 64
#define INFO_MAX_QUEUES (INFO_MAX_DEVS * 2 * 64)
#define INFO_MAX_BINDINGS 256
#define INFO_MAX_POOLS 1024

struct info_queue {
	struct devmem_queue_info q;
	bool have_stats;
	struct devmem_swnic_rxq_stats st;
};

struct info {
	bool json;
	const char *ifname; /* -f */
	unsigned int nr_devs, nr_queues, nr_bindings, nr_pools;
	struct devmem_dev_info devs[INFO_MAX_DEVS];
	struct info_queue queues[INFO_MAX_QUEUES];
	struct devmem_binding_info bindings[INFO_MAX_BINDINGS];
	struct devmem_page_pool_info pools[INFO_MAX_POOLS];
};

static void info_usage(FILE *out)
{
	fprintf(out, "usage: devmem info [-f IFNAME] [--json]\n"
		     "\n"
		     "Devices, queues (with the dma-buf binding of each), bindings and page pools\n"
		     "(with their fragments in flight), as the control handle's dumps give them.\n"
		     "\n"
		     "libdevmem's state belongs to the process that uses it, so this shows what\n"
		     "this process sees: nothing, unless -f IFNAME first creates a software NIC\n"
		     "on that interface. An application shows its own state the same way, with\n"
		     "the dump calls of devmem/netdev.h.\n"
		     "\n"
		     "  -f IFNAME  create a software NIC on IFNAME first (e.g. lo)\n"
		     "  --json     print one JSON object\n");
}

static int info_parse(struct info *in, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":f:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			in->ifname = optarg;
			break;
		case 'j':
			in->json = true;
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

/* ---- collection (callbacks only copy: they must not call the library) ---- */

static int dev_cb(const struct devmem_dev_info *d, void *data)
{
	struct info *in = data;

	if (in->nr_devs < INFO_MAX_DEVS)
		in->devs[in->nr_devs++] = *d;
	return 0;
}

static int queue_cb(const struct devmem_queue_info *q, void *data)
{
	struct info *in = data;

	if (in->nr_queues < INFO_MAX_QUEUES)
		in->queues[in->nr_queues++].q = *q;
	return 0;
}

static int binding_cb(const struct devmem_binding_info *b, void *data)
{
	struct info *in = data;

	if (in->nr_bindings < INFO_MAX_BINDINGS)
		in->bindings[in->nr_bindings++] = *b;
	return 0;
}

static int pool_cb(const struct devmem_page_pool_info *p, void *data)
{
	struct info *in = data;

	if (in->nr_pools < INFO_MAX_POOLS)
		in->pools[in->nr_pools++] = *p;
	return 0;
}

static int info_collect(struct info *in, struct devmem_ctl *ctl)
{
	unsigned int i;
	int err;

	err = devmem_dev_dump(ctl, dev_cb, in);
	if (!err)
		err = devmem_queue_dump(ctl, 0, queue_cb, in);
	if (!err)
		err = devmem_binding_dump(ctl, 0, binding_cb, in);
	if (!err)
		err = devmem_page_pool_dump(ctl, 0, pool_cb, in);
	if (err)
		return fail(err, "dump");
	for (i = 0; i < in->nr_queues; i++) {
		struct info_queue *q = &in->queues[i];

		if (q->q.type != NETDEV_QUEUE_TYPE_RX)
			continue;
		q->have_stats = !devmem_swnic_rxq_stats(q->q.ifindex, q->q.id, &q->st);
		if (!q->have_stats)
			error_seen(); /* a device of another driver */
	}
	return 0;
}

/* ---- text ---- */

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

/* "equal N" when the table is i % N, else "custom". */
static void rss_desc(const struct devmem_dev_info *d, char *buf, size_t len)
{
	uint32_t n, i;

	for (n = 1; n <= d->num_rx_queues; n++) {
		for (i = 0; i < DEVMEM_RSS_INDIR_SIZE && d->rss_indir[i] == i % n; i++)
			;
		if (i == DEVMEM_RSS_INDIR_SIZE) {
			snprintf(buf, len, "equal %u", n);
			return;
		}
	}
	snprintf(buf, len, "custom");
}

static const char *dev_name(const struct info *in, int ifindex)
{
	unsigned int i;

	for (i = 0; i < in->nr_devs; i++)
		if (in->devs[i].ifindex == ifindex)
			return in->devs[i].name;
	return "?";
}

static void text_devs(const struct info *in)
{
	char rss[24], hds[24];
	unsigned int i;

	printf("devices (%u)\n", in->nr_devs);
	printf("  %-8s %-8s %4s %4s  %-14s %-10s %5s  %-3s  %s\n", "IFINDEX", "NAME", "RXQ", "TXQ",
	       "HEADER SPLIT", "RSS", "FLOWS", "XDP", "NETMEM TX");
	for (i = 0; i < in->nr_devs; i++) {
		const struct devmem_dev_info *d = &in->devs[i];

		rss_desc(d, rss, sizeof(rss));
		snprintf(hds, sizeof(hds), "%s, thresh %u", hds_name(d->tcp_data_split),
			 d->hds_thresh);
		printf("  %-8d %-8s %4u %4u  %-14s %-10s %5u  %-3s  %s\n", d->ifindex, d->name,
		       d->num_rx_queues, d->num_tx_queues, hds, rss, d->nr_flow_rules,
		       d->xdp_attached ? "yes" : "no", d->netmem_tx ? "yes" : "no");
	}
}

static void text_queues(const struct info *in)
{
	unsigned int i;

	printf("\nqueues (%u)\n", in->nr_queues);
	printf("  %-8s %-5s %-4s %5s %6s  %7s %12s %10s %6s %7s\n", "DEVICE", "QUEUE", "TYPE",
	       "NAPI", "DMABUF", "SOCKETS", "BYTES", "FRAGS", "RING", "STARVED");
	for (i = 0; i < in->nr_queues; i++) {
		const struct info_queue *q = &in->queues[i];
		char dmabuf[16] = "-";

		if (q->q.dmabuf)
			snprintf(dmabuf, sizeof(dmabuf), "%u", q->q.dmabuf);
		printf("  %-8s %-5u %-4s %5u %6s", dev_name(in, q->q.ifindex), q->q.id,
		       q->q.type == NETDEV_QUEUE_TYPE_RX ? "rx" : "tx", q->q.napi_id, dmabuf);
		if (q->have_stats)
			printf("  %7u %12llu %10llu %6u %7llu", q->st.sockets,
			       (unsigned long long)q->st.bytes, (unsigned long long)q->st.frags,
			       q->st.buffers_in_ring, (unsigned long long)q->st.starved);
		printf("\n");
	}
}

static void text_bindings(const struct info *in)
{
	char size[24], queues[64];
	unsigned int i, k;
	int n;

	printf("\nbindings (%u)\n", in->nr_bindings);
	if (!in->nr_bindings)
		return;
	printf("  %-4s %-8s %-3s %10s  %-12s %10s %10s %10s  %s\n", "ID", "DEVICE", "DIR", "SIZE",
	       "QUEUES", "NET_IOVS", "IN USE", "FREE", "STATE");
	for (i = 0; i < in->nr_bindings; i++) {
		const struct devmem_binding_info *b = &in->bindings[i];

		n = snprintf(queues, sizeof(queues), "%s", b->nr_queues ? "" : "-");
		for (k = 0; k < b->nr_queues && k < DEVMEM_BINDING_MAX_QUEUES && n < 50; k++)
			n += snprintf(queues + n, sizeof(queues) - n, "%s%u", k ? "," : "",
				      b->queues[k]);
		printf("  %-4u %-8s %-3s %10s  %-12s %10llu %10llu %10llu  %s\n", b->id,
		       dev_name(in, b->ifindex), b->direction == NETDEV_QUEUE_TYPE_RX ? "rx" : "tx",
		       fmt_bytes(b->dmabuf_size, size, sizeof(size)), queues,
		       (unsigned long long)b->nr_niovs, (unsigned long long)b->niovs_in_use,
		       (unsigned long long)b->niovs_free,
		       b->unbound ? "unbound, net_iovs out" : "bound");
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
	char mem[24], dmabuf[16];
	unsigned int i;

	printf("\npage pools (%u)\n", in->nr_pools);
	if (!in->nr_pools)
		return;
	printf("  %-4s %-8s %5s %9s %10s %6s  %s\n", "ID", "DEVICE", "NAPI", "INFLIGHT", "MEMORY",
	       "DMABUF", "STATE");
	for (i = 0; i < in->nr_pools; i++) {
		const struct devmem_page_pool_info *p = &in->pools[i];

		snprintf(dmabuf, sizeof(dmabuf), p->dmabuf ? "%u" : "-", p->dmabuf);
		printf("  %-4u %-8s %5u %9llu %10s %6s  %s\n", p->id, dev_name(in, p->ifindex),
		       p->napi_id, (unsigned long long)p->inflight,
		       fmt_bytes(p->inflight_mem, mem, sizeof(mem)), dmabuf,
		       p->detach_time ? "detached" : "attached");
	}
}

static void info_text(const struct info *in)
{
	if (!in->nr_devs) {
		printf("no devices: libdevmem's state belongs to the process, and this one has\n"
		       "created none. 'devmem info -f lo' creates a software NIC on lo first.\n");
		return;
	}
	text_devs(in);
	text_queues(in);
	text_bindings(in);
	text_pools(in);
}

/* ---- JSON ---- */

static void json_devs(struct json *j, const struct info *in)
{
	char rss[24];
	unsigned int i;

	json_array(j, "devices");
	for (i = 0; i < in->nr_devs; i++) {
		const struct devmem_dev_info *d = &in->devs[i];

		rss_desc(d, rss, sizeof(rss));
		json_object(j, NULL);
		json_i64(j, "ifindex", d->ifindex);
		json_str(j, "name", d->name);
		json_u64(j, "rx_queues", d->num_rx_queues);
		json_u64(j, "tx_queues", d->num_tx_queues);
		json_str(j, "header_split", hds_name(d->tcp_data_split));
		json_u64(j, "hds_thresh", d->hds_thresh);
		json_str(j, "rss", rss);
		json_u64(j, "flow_rules", d->nr_flow_rules);
		json_bool(j, "xdp", d->xdp_attached);
		json_bool(j, "netmem_tx", d->netmem_tx);
		json_close(j);
	}
	json_close(j);
}

static void json_queues(struct json *j, const struct info *in)
{
	unsigned int i;

	json_array(j, "queues");
	for (i = 0; i < in->nr_queues; i++) {
		const struct info_queue *q = &in->queues[i];

		json_object(j, NULL);
		json_i64(j, "ifindex", q->q.ifindex);
		json_u64(j, "id", q->q.id);
		json_str(j, "type", q->q.type == NETDEV_QUEUE_TYPE_RX ? "rx" : "tx");
		json_u64(j, "napi_id", q->q.napi_id);
		json_u64(j, "dmabuf", q->q.dmabuf);
		json_bool(j, "io_uring", q->q.io_uring);
		if (q->have_stats) {
			json_u64(j, "sockets", q->st.sockets);
			json_u64(j, "bytes", q->st.bytes);
			json_u64(j, "frags", q->st.frags);
			json_u64(j, "buffers_in_ring", q->st.buffers_in_ring);
			json_u64(j, "starved", q->st.starved);
		}
		json_close(j);
	}
	json_close(j);
}

static void json_bindings(struct json *j, const struct info *in)
{
	unsigned int i, k;

	json_array(j, "bindings");
	for (i = 0; i < in->nr_bindings; i++) {
		const struct devmem_binding_info *b = &in->bindings[i];

		json_object(j, NULL);
		json_u64(j, "id", b->id);
		json_i64(j, "ifindex", b->ifindex);
		json_str(j, "direction", b->direction == NETDEV_QUEUE_TYPE_RX ? "rx" : "tx");
		json_bool(j, "unbound", b->unbound);
		json_u64(j, "dmabuf_size", b->dmabuf_size);
		json_array(j, "queues");
		for (k = 0; k < b->nr_queues && k < DEVMEM_BINDING_MAX_QUEUES; k++)
			json_u64(j, NULL, b->queues[k]);
		json_close(j);
		json_u64(j, "nr_niovs", b->nr_niovs);
		json_u64(j, "niovs_in_use", b->niovs_in_use);
		json_u64(j, "niovs_free", b->niovs_free);
		json_u64(j, "held_overwritten", b->held_overwritten);
		json_u64(j, "overwrote_held", b->overwrote_held);
		json_close(j);
	}
	json_close(j);
}

static void json_pools(struct json *j, const struct info *in)
{
	unsigned int i;

	json_array(j, "page_pools");
	for (i = 0; i < in->nr_pools; i++) {
		const struct devmem_page_pool_info *p = &in->pools[i];

		json_object(j, NULL);
		json_u64(j, "id", p->id);
		json_i64(j, "ifindex", p->ifindex);
		json_u64(j, "napi_id", p->napi_id);
		json_u64(j, "inflight", p->inflight);
		json_u64(j, "inflight_mem", p->inflight_mem);
		json_u64(j, "dmabuf", p->dmabuf);
		json_bool(j, "detached", p->detach_time != 0);
		json_close(j);
	}
	json_close(j);
}

static void info_json(const struct info *in)
{
	struct json j;

	json_begin(&j, stdout);
	json_devs(&j, in);
	json_queues(&j, in);
	json_bindings(&j, in);
	json_pools(&j, in);
	json_end(&j);
}

int cmd_info(int argc, char **argv)
{
	struct devmem_ctl *ctl;
	struct info *in;
	int ifindex = 0, err;

	in = calloc(1, sizeof(*in));
	if (!in)
		return fail(-ENOMEM, "info");
	err = info_parse(in, argc, argv);
	if (err)
		goto out_free;
	if (in->ifname) {
		err = devmem_swnic_create(in->ifname, NULL, &ifindex);
		if (err == -ENODEV) {
			msg("no interface '%s'", in->ifname);
			err = EXIT_RUNTIME;
			goto out_free;
		}
		if (err)
			err = fail(err, "software NIC on %s", in->ifname);
		if (err)
			goto out_free;
	}
	err = devmem_ctl_open(&ctl);
	if (err) {
		err = fail(err, "open a control handle");
		goto out_nic;
	}
	err = info_collect(in, ctl);
	devmem_ctl_close(ctl);
	if (!err && in->json)
		info_json(in);
	else if (!err)
		info_text(in);
out_nic:
	if (ifindex && devmem_swnic_destroy(ifindex))
		error_seen();
out_free:
	free(in);
	return err < 0 ? 0 : err;
}
