// SPDX-License-Identifier: MIT
/*
 * The software NIC on lo: streams of the test pattern land, byte for byte,
 * in the bound dma-buf (both rx modes, both net_iov sizes, 1 byte to 64
 * MiB); a small buffer holds the sender back without losing a byte; flow
 * rules and RSS steer flows to their queues; and the NIC's own contract:
 * create, refusals, auto-shadowing, destroy under a live socket, stats.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devmem/dma-buf.h"
#include "devmem/error.h"
#include "devmem/host.h"
#include "devmem/netdev.h"
#include "devmem/socket.h"
#include "devmem/swnic.h"
#include "net/devmem.h"
#include "net/page_pool.h"
#include "net/sock.h"
#include "support/flow-test.h"
#include "support/test-nic.h"
#include "harness.h"

#define MiB (1UL << 20)
#define KiB (1UL << 10)
#define ACCEPT_MS 10000
#define RX_MS 60000
#define SENDER_MS 20000

/* ---- helpers ---- */

/* Accept the next connection and join it to its queue, which must be @queue. */
static int accept_on(struct flow_rig *r, int queue)
{
	int fd = flow_accept(&r->l, ACCEPT_MS);

	cr_assert_geq(fd, 0, "accept: %s", strerror(-fd));
	cr_assert_eq(devmem_sock_attach(fd), queue, "attach: %s", devmem_last_error());
	return fd;
}

/* A receiver for the rig's bound buffer that must see no linear data. */
static void rx_for(struct flow_rig *r, struct flow_rx *rx, int fd)
{
	cr_assert_eq(flow_rx_init(rx, fd), 0);
	flow_rig_rx(r, rx);
	rx->no_linear = true;
}

/* The socket's counters agree with what the receiver saw, and nothing is held. */
static void assert_sock_counted(struct flow_rig *r, int fd, const struct flow_rx *rx)
{
	struct devmem_sock_stats ss;

	cr_assert_eq(devmem_sock_stats(fd, &ss), 0);
	cr_assert_eq(ss.ifindex, r->ifindex);
	cr_assert_eq(ss.rxq, (int)r->queue);
	cr_assert_eq(ss.bytes_dmabuf, rx->bytes_dmabuf);
	cr_assert_eq(ss.bytes_linear, rx->bytes_linear);
	cr_assert_eq(ss.frags, rx->frags);
	cr_assert_eq(ss.tokens_held, 0);
	cr_assert_eq(ss.tokens_freed, rx->frags);
	cr_assert_eq(ss.frags_queued, 0);
}

/* ---- the data path: a stream lands in the bound buffer ---- */

static void stream(uint32_t rx_mode, uint32_t niov_size, uint64_t bytes)
{
	struct flow_rig_opts o = {
		.rx_mode = rx_mode, .buf_size = 8 * MiB, .bind = true, .niov_size = niov_size
	};
	struct flow_sender_opts so = { .bytes = bytes };
	struct flow_sender s;
	struct flow_rig r;
	struct flow_rx rx;
	int fd;

	rig_up(&r, &o);
	cr_assert_eq(flow_sender_start(&r.l, &so, &s), 0);
	fd = accept_on(&r, (int)r.queue);
	rx_for(&r, &rx, fd);
	cr_assert_eq(flow_rx_run(&rx, bytes, RX_MS), 0, "%s", rx.why);
	cr_assert_eq(flow_sender_wait(&s, SENDER_MS), 0);
	cr_assert_eq(rx.bytes_dmabuf, bytes);
	cr_assert_eq(rx.last_id, r.id);
	assert_sock_counted(&r, fd, &rx);
	flow_rx_fini(&rx);
	cr_assert_eq(devmem_close(fd), 0);
	rig_down(&r);
}

Test(swnic, stream_64mib_lands_intact_in_the_dmabuf_single_4k)
{
	stream(DEVMEM_SWNIC_RX_SINGLE, 4096, 64 * MiB);
}

Test(swnic, stream_64mib_lands_intact_in_the_dmabuf_single_64k)
{
	stream(DEVMEM_SWNIC_RX_SINGLE, 65536, 64 * MiB);
}

Test(swnic, stream_64mib_lands_intact_in_the_dmabuf_bundle_4k)
{
	stream(DEVMEM_SWNIC_RX_BUNDLE, 4096, 64 * MiB);
}

Test(swnic, stream_64mib_lands_intact_in_the_dmabuf_bundle_64k)
{
	stream(DEVMEM_SWNIC_RX_BUNDLE, 65536, 64 * MiB);
}

/* Every size 1..64, then steps, powers of two and their neighbours, up to 8192. */
static unsigned int sweep_sizes(uint64_t *sizes)
{
	unsigned int n = 0;

	for (uint64_t s = 1; s <= 64; s++)
		sizes[n++] = s;
	for (uint64_t s = 80; s < 8192; s += s / 4)
		sizes[n++] = s;
	for (unsigned int k = 7; k <= 13; k++) {
		sizes[n++] = (1U << k) - 1;
		sizes[n++] = 1U << k;
		if (k < 13)
			sizes[n++] = (1U << k) + 1;
	}
	sizes[n++] = 6000;
	return n;
}

static void sweep(uint32_t rx_mode, uint32_t niov_size)
{
	struct flow_rig_opts o = {
		.rx_mode = rx_mode, .buf_size = 2 * MiB, .bind = true, .niov_size = niov_size
	};
	uint64_t sizes[160];
	unsigned int n = sweep_sizes(sizes);
	struct flow_sender_opts so = { .sizes = sizes, .nr_sizes = n };
	struct flow_sender s;
	struct flow_rig r;

	cr_assert_leq(n, 160);
	rig_up(&r, &o);
	cr_assert_eq(flow_sender_start(&r.l, &so, &s), 0);
	for (unsigned int i = 0; i < n; i++) {
		int fd = accept_on(&r, (int)r.queue);
		struct flow_rx rx;

		rx_for(&r, &rx, fd);
		cr_assert_eq(flow_rx_run(&rx, sizes[i], RX_MS), 0, "size %llu: %s",
			     (unsigned long long)sizes[i], rx.why);
		assert_sock_counted(&r, fd, &rx);
		flow_rx_fini(&rx);
		cr_assert_eq(devmem_close(fd), 0);
	}
	cr_assert_eq(flow_sender_wait(&s, SENDER_MS), 0);
	rig_down(&r);
}

Test(swnic, sizes_1_to_8192_land_intact_single_4k)
{
	sweep(DEVMEM_SWNIC_RX_SINGLE, 4096);
}

Test(swnic, sizes_1_to_8192_land_intact_single_64k)
{
	sweep(DEVMEM_SWNIC_RX_SINGLE, 65536);
}

Test(swnic, sizes_1_to_8192_land_intact_bundle_4k)
{
	sweep(DEVMEM_SWNIC_RX_BUNDLE, 4096);
}

Test(swnic, sizes_1_to_8192_land_intact_bundle_64k)
{
	sweep(DEVMEM_SWNIC_RX_BUNDLE, 65536);
}

Test(swnic, one_byte_is_one_dmabuf_fragment_then_end_of_stream)
{
	struct flow_rig_opts o = { .buf_size = 1 * MiB, .bind = true };
	static struct flow_msg m;
	unsigned char byte = flow_pattern_byte(0), buf[64];
	struct flow_rig r;
	int client, fd;

	rig_up(&r, &o);
	client = flow_connect(&r.l);
	cr_assert_geq(client, 0);
	fd = accept_on(&r, (int)r.queue);
	cr_assert_eq(send(client, &byte, 1, 0), 1);
	cr_assert_eq(shutdown(client, SHUT_WR), 0);
	cr_assert_eq(flow_wait_queued(r.ifindex, fd, 1, 0, RX_MS), 0);
	cr_assert_eq(flow_recv(fd, MSG_SOCK_DEVMEM, buf, sizeof(buf), FLOW_CMSG_ROOM(8), &m), 1);
	cr_assert_eq(m.nr, 1);
	cr_assert_eq(m.nr_dmabuf, 1);
	cr_assert_eq(m.c[0].dc.frag_size, 1);
	cr_assert_eq(m.c[0].dc.dmabuf_id, r.id);
	cr_assert_lt(m.c[0].dc.frag_offset, r.buf->size);
	cr_assert_eq(r.va[m.c[0].dc.frag_offset], byte);
	cr_assert_eq(flow_dontneed_one(fd, m.c[0].dc.frag_token), 1);
	/* the end of the stream follows the byte */
	for (int64_t deadline = flow_now_ms() + RX_MS;;) {
		ssize_t n = flow_recv(fd, MSG_SOCK_DEVMEM | MSG_DONTWAIT, buf, sizeof(buf),
				      FLOW_CMSG_ROOM(8), &m);

		if (n == 0)
			break;
		cr_assert(n < 0 && m.err == EAGAIN, "after the only byte: %zd (%s)", n,
			  strerror(m.err));
		cr_assert_lt(flow_now_ms(), deadline, "no end of stream");
		flow_sleep_us(500);
	}
	cr_assert_eq(m.nr, 0, "end of stream with a cmsg");
	cr_assert_eq(devmem_close(fd), 0);
	close(client);
	rig_down(&r);
}

Test(swnic, ipv6_stream_lands_intact_in_the_dmabuf)
{
	struct flow_rig_opts o = { .family = AF_INET6, .buf_size = 4 * MiB, .bind = true };
	struct flow_sender_opts so = { .bytes = 16 * MiB, .random_chunks = true, .seed = 6 };
	struct flow_sender s;
	struct flow_rig r;
	struct flow_rx rx;
	int fd;

	rig_up(&r, &o);
	cr_assert_eq(flow_sender_start(&r.l, &so, &s), 0);
	fd = accept_on(&r, (int)r.queue);
	rx_for(&r, &rx, fd);
	cr_assert_eq(flow_rx_run(&rx, so.bytes, RX_MS), 0, "%s", rx.why);
	cr_assert_eq(flow_sender_wait(&s, SENDER_MS), 0);
	assert_sock_counted(&r, fd, &rx);
	flow_rx_fini(&rx);
	cr_assert_eq(devmem_close(fd), 0);
	rig_down(&r);
}

/* ---- back-pressure ---- */

Test(swnic, small_buffer_holds_the_sender_back_and_loses_nothing)
{
	/* 64 KiB = 16 net_iovs for a 16 MiB stream, the receiver sitting on its tokens */
	struct flow_rig_opts o = { .buf_size = 64 * KiB, .bind = true };
	struct flow_sender_opts so = { .bytes = 16 * MiB };
	struct devmem_swnic_rxq_stats qs;
	struct devmem_sock_stats ss;
	struct flow_sender s;
	struct flow_rig r;
	struct flow_rx rx;
	int fd;

	rig_up(&r, &o);
	cr_assert_eq(flow_sender_start(&r.l, &so, &s), 0);
	fd = accept_on(&r, (int)r.queue);
	rx_for(&r, &rx, fd);
	rx.hold = 16;
	rx.hold_us = 2000;
	cr_assert_eq(flow_rx_run(&rx, so.bytes, RX_MS), 0, "%s", rx.why);
	cr_assert_eq(flow_sender_wait(&s, SENDER_MS), 0);
	cr_assert_eq(rx.returned, rx.frags);
	cr_assert_eq(devmem_swnic_rxq_stats(r.ifindex, r.queue, &qs), 0);
	cr_assert_gt(qs.starved, 0, "the 16 net_iovs never ran out");
	cr_assert_eq(qs.bytes, so.bytes);
	cr_assert_eq(devmem_sock_stats(fd, &ss), 0);
	cr_assert_eq(ss.tokens_held, 0);
	flow_rx_fini(&rx);
	cr_assert_eq(devmem_close(fd), 0);
	rig_down(&r);
}

/* ---- steering ---- */

Test(swnic, flow_rules_steer_each_flow_into_its_own_queue_and_binding)
{
	struct flow_rig_opts o = { .buf_size = 1 * MiB, .bind = true, .queue = 1 };
	struct flow_sender_opts so = { .bytes = 4 * MiB, .random_chunks = true };
	struct devmem_queue_id q2 = { .id = 2, .type = NETDEV_QUEUE_TYPE_RX };
	struct devmem_swnic_rxq_stats qs;
	struct devmem_sock_stats ss;
	struct flow_sender s1, s2;
	struct flow_listener l2;
	struct devmem_flow_rule rule = { .flow_type = TCP_V4_FLOW, .queue = 2 };
	struct dma_buf *buf2;
	struct flow_rx rx1, rx2;
	struct flow_rig r;
	uint32_t loc, id2;
	int fd1, fd2, buf2_fd;
	void *va2;

	rig_up(&r, &o);
	cr_assert_eq(flow_listen(AF_INET, &l2), 0);
	rule.dst_port = l2.port;
	cr_assert_eq(devmem_flow_rule_add(r.ctl, r.ifindex, &rule, &loc), 0, "%s",
		     devmem_last_error());
	cr_assert_eq(devmem_host_buffer_create(1 * MiB, NULL, &buf2), 0);
	buf2_fd = dma_buf_fd(buf2, O_CLOEXEC);
	cr_assert_geq(buf2_fd, 0);
	cr_assert_eq(dma_buf_vmap_unlocked(buf2, &va2), 0);
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, buf2_fd, &q2, 1, NULL, &id2), 0, "%s",
		     devmem_last_error());
	cr_assert_neq(id2, r.id);

	cr_assert_eq(flow_sender_start(&r.l, &so, &s1), 0);
	so.seed = 2;
	cr_assert_eq(flow_sender_start(&l2, &so, &s2), 0);
	fd1 = accept_on(&r, 1);
	fd2 = flow_accept(&l2, ACCEPT_MS);
	cr_assert_geq(fd2, 0);
	cr_assert_eq(devmem_sock_attach(fd2), 2, "%s", devmem_last_error());

	/* each reads only its own binding's buffer: a fragment of the other fails */
	rx_for(&r, &rx1, fd1);
	cr_assert_eq(flow_rx_init(&rx2, fd2), 0);
	rx2.bufs[0] = (struct flow_rx_buf){
		.buf = buf2, .va = va2, .size = buf2->size, .id = id2, .niov_size = 4096
	};
	rx2.nr_bufs = 1;
	rx2.no_linear = true;
	cr_assert_eq(flow_rx_run(&rx2, so.bytes, RX_MS), 0, "flow 2: %s", rx2.why);
	cr_assert_eq(flow_rx_run(&rx1, so.bytes, RX_MS), 0, "flow 1: %s", rx1.why);
	cr_assert_eq(flow_sender_wait(&s1, SENDER_MS), 0);
	cr_assert_eq(flow_sender_wait(&s2, SENDER_MS), 0);

	cr_assert_eq(devmem_sock_stats(fd1, &ss), 0);
	cr_assert_eq(ss.rxq, 1);
	cr_assert_eq(devmem_sock_stats(fd2, &ss), 0);
	cr_assert_eq(ss.rxq, 2);
	for (uint32_t q = 0; q < 3; q++) {
		cr_assert_eq(devmem_swnic_rxq_stats(r.ifindex, q, &qs), 0);
		cr_assert_eq(qs.bytes, q ? so.bytes : 0, "queue %u took %llu bytes", q,
			     (unsigned long long)qs.bytes);
		cr_assert_eq(qs.sockets, q ? 1 : 0);
		cr_assert_eq(qs.bound, q != 0);
	}
	flow_rx_fini(&rx1);
	flow_rx_fini(&rx2);
	cr_assert_eq(devmem_close(fd1), 0);
	cr_assert_eq(devmem_close(fd2), 0);
	flow_listener_close(&l2);
	dma_buf_vunmap_unlocked(buf2, va2);
	close(buf2_fd);
	dma_buf_put(buf2);
	rig_down(&r);
}

Test(swnic, rss_puts_flows_without_a_rule_on_the_first_n_queues)
{
	enum { FLOWS = 32 };
	struct flow_rig_opts o = { .no_rule = true, .num_rx_queues = 8 };
	struct flow_rig r;

	rig_up(&r, &o);
	for (uint32_t n = 1; n <= 8; n *= 2) {
		int client[FLOWS], server[FLOWS];
		unsigned int used = 0;

		cr_assert_eq(devmem_set_rss_equal(r.ctl, r.ifindex, n), 0, "%s",
			     devmem_last_error());
		for (int i = 0; i < FLOWS; i++) {
			struct devmem_sock_stats ss;
			int q;

			client[i] = flow_connect(&r.l);
			cr_assert_geq(client[i], 0);
			server[i] = flow_accept(&r.l, ACCEPT_MS);
			cr_assert_geq(server[i], 0);
			q = devmem_sock_attach(server[i]);
			cr_assert(q >= 0 && (uint32_t)q < n, "RSS over %u queues chose queue %d", n,
				  q);
			cr_assert_eq(devmem_sock_stats(server[i], &ss), 0);
			cr_assert_eq(ss.rxq, q);
			used |= 1U << q;
		}
		cr_assert(n == 1 || __builtin_popcount(used) > 1,
			  "%d flows all on one of %u queues", FLOWS, n);
		for (int i = 0; i < FLOWS; i++) {
			cr_assert_eq(devmem_close(server[i]), 0);
			close(client[i]);
		}
	}
	rig_down(&r);
}

/* ---- the software NIC itself ---- */

static int lo_index(void)
{
	int idx = (int)if_nametoindex("lo");

	if (!idx)
		cr_skip_test("no loopback interface");
	return idx;
}

/* lo is not shadowed: asked without a control handle (which would shadow it). */
static void assert_lo_not_shadowed(void)
{
	struct devmem_swnic_rxq_stats qs;

	cr_assert_eq(devmem_swnic_rxq_stats(lo_index(), 0, &qs), -ENODEV);
}

Test(swnic, create_with_a_bad_name_is_einval)
{
	char longname[IFNAMSIZ + 4];

	memset(longname, 'l', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	cr_assert_eq(devmem_swnic_create(NULL, NULL, NULL), -EINVAL);
	cr_assert_eq(devmem_swnic_create("", NULL, NULL), -EINVAL);
	cr_assert_eq(devmem_swnic_create(longname, NULL, NULL), -EINVAL);
	assert_lo_not_shadowed();
	assert_all_gone();
}

Test(swnic, create_on_an_unknown_interface_is_enodev)
{
	int ifindex = -7;

	cr_assert_eq(devmem_swnic_create("nosuchif0", NULL, &ifindex), -ENODEV);
	cr_assert_eq(ifindex, -7, "a failed create wrote the ifindex");
	assert_all_gone();
}

Test(swnic, create_twice_is_eexist)
{
	int ifindex = 0, again = -7;

	cr_assert_eq(devmem_swnic_create("lo", NULL, &ifindex), 0, "%s", devmem_last_error());
	cr_assert_eq(ifindex, lo_index(), "the software NIC has the interface's ifindex");
	cr_assert_eq(devmem_swnic_create("lo", NULL, &again), -EEXIST);
	cr_assert_eq(again, -7);
	cr_assert_eq(devmem_swnic_destroy(ifindex), 0);
	assert_all_gone();
}

Test(swnic, create_with_bad_options_is_einval_and_creates_nothing)
{
	static const struct {
		const char *what;
		struct devmem_swnic_opts o;
	} bad[] = {
		{ "ring_entries not a power of two", { .ring_entries = 3 } },
		{ "ring_entries above 32768", { .ring_entries = 65536 } },
		{ "65 rx queues", { .num_rx_queues = 65 } },
		{ "65 tx queues", { .num_tx_queues = 65 } },
		{ "unknown rx mode", { .rx_mode = DEVMEM_SWNIC_RX_BUNDLE + 1 } },
		{ "pool of 32769", { .pool_size = 32769 } },
		{ "host buffers of 3000 bytes", { .host_buf_size = 3000 } },
		{ "host buffers of 2048 bytes", { .host_buf_size = 2048 } },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct devmem_swnic_opts o = bad[i].o;
		int ifindex = -7;

		o.sz = sizeof(o);
		cr_assert_eq(devmem_swnic_create("lo", &o, &ifindex), -EINVAL, "%s", bad[i].what);
		cr_assert_eq(ifindex, -7);
		assert_lo_not_shadowed();
	}
	assert_all_gone();
}

Test(swnic, options_set_the_number_of_queues)
{
	DEVMEM_OPTS(devmem_swnic_opts, o, .num_rx_queues = 2, .num_tx_queues = 3);
	struct devmem_swnic_rxq_stats qs;
	struct devmem_dev_info info;
	struct devmem_ctl *ctl;
	int ifindex;

	cr_assert_eq(devmem_swnic_create("lo", &o, &ifindex), 0, "%s", devmem_last_error());
	cr_assert_eq(devmem_ctl_open(&ctl), 0);
	cr_assert_eq(devmem_dev_get(ctl, ifindex, &info), 0);
	cr_assert_str_eq(info.name, "lo");
	cr_assert_eq(info.num_rx_queues, 2);
	cr_assert_eq(info.num_tx_queues, 3);
	cr_assert(info.netmem_tx, "a software NIC can send from a dma-buf");
	cr_assert_eq(devmem_swnic_rxq_stats(ifindex, 1, &qs), 0);
	cr_assert_eq(devmem_swnic_rxq_stats(ifindex, 2, &qs), -ERANGE);
	devmem_ctl_close(ctl);
	cr_assert_eq(devmem_swnic_destroy(ifindex), 0);
	assert_all_gone();
}

Test(swnic, control_call_on_an_unshadowed_interface_creates_a_software_nic)
{
	struct devmem_swnic_rxq_stats qs;
	struct devmem_dev_info info;
	struct devmem_ctl *ctl;
	int lo = lo_index();

	assert_lo_not_shadowed();
	cr_assert_eq(devmem_ctl_open(&ctl), 0);
	cr_assert_eq(devmem_set_header_split(ctl, lo, ETHTOOL_TCP_DATA_SPLIT_ENABLED, 0), 0, "%s",
		     devmem_last_error());
	cr_assert_eq(devmem_dev_get(ctl, lo, &info), 0, "%s", devmem_last_error());
	cr_assert_eq(info.ifindex, lo);
	cr_assert_str_eq(info.name, "lo");
	cr_assert_eq(info.num_rx_queues, DEVMEM_SWNIC_DEFAULT_QUEUES);
	cr_assert_eq(info.tcp_data_split, ETHTOOL_TCP_DATA_SPLIT_ENABLED,
		     "the setting that made it applies to it");
	cr_assert_eq(devmem_swnic_rxq_stats(lo, 0, &qs), 0, "it is a software NIC");
	cr_assert_eq(devmem_swnic_create("lo", NULL, NULL), -EEXIST);
	devmem_ctl_close(ctl);
	cr_assert_eq(devmem_swnic_destroy(lo), 0);
	cr_assert_eq(devmem_swnic_destroy(lo), -ENODEV);
	assert_all_gone();
}

Test(swnic, destroy_under_an_attached_socket_leaves_it_a_plain_socket)
{
	struct flow_rig_opts o = { .buf_size = 1 * MiB, .bind = true };
	struct dmabuf_cmsg held[64];
	static struct flow_msg m;
	static unsigned char buf[64 * KiB];
	struct devmem_sock_stats ss;
	unsigned int nr_held = 0;
	uint64_t pos = 0;
	struct flow_rig r;
	int client, fd;

	rig_up(&r, &o);
	client = flow_connect(&r.l);
	cr_assert_geq(client, 0);
	fd = accept_on(&r, (int)r.queue);

	/* 8 KiB into the dma-buf, still queued on the socket when the NIC goes */
	flow_pattern_fill(buf, 0, 8192);
	cr_assert_eq(send(client, buf, 8192, 0), 8192);
	cr_assert_eq(flow_wait_queued(r.ifindex, fd, 8192, 0, RX_MS), 0);
	cr_assert_eq(devmem_swnic_destroy(r.ifindex), 0);
	r.nic = false;
	cr_assert_eq(devmem_swnic_destroy(r.ifindex), -ENODEV, "destroyed twice");
	cr_assert_eq(net_devmem_nr_bindings(), 1, "the queued fragments keep the binding");

	/* and 8 KiB after: the kernel socket has them, read as linear */
	flow_pattern_fill(buf, 8192, 8192);
	cr_assert_eq(send(client, buf, 8192, 0), 8192);
	cr_assert_eq(shutdown(client, SHUT_WR), 0);
	for (int64_t deadline = flow_now_ms() + RX_MS;;) {
		ssize_t n = flow_recv(fd, MSG_SOCK_DEVMEM | MSG_DONTWAIT, buf, sizeof(buf),
				      FLOW_CMSG_ROOM(64), &m);

		if (n == 0)
			break;
		if (n < 0) {
			cr_assert_eq(m.err, EAGAIN, "%s", strerror(m.err));
			cr_assert_lt(flow_now_ms(), deadline, "stuck at %llu",
				     (unsigned long long)pos);
			flow_sleep_us(500);
			continue;
		}
		cr_assert(!m.nr_linear || !m.nr_dmabuf, "one call mixed both kinds");
		if (pos < 8192) {
			cr_assert_eq(m.nr_linear, 0, "the queued fragments come first, as dma-buf");
			for (unsigned int i = 0; i < m.nr; i++) {
				struct dmabuf_cmsg *dc = &m.c[i].dc;

				cr_assert_eq(m.c[i].type, SCM_DEVMEM_DMABUF);
				cr_assert_eq(dc->dmabuf_id, r.id);
				cr_assert_eq(flow_pattern_mismatch(r.va + dc->frag_offset, pos,
								   dc->frag_size),
					     -1);
				pos += dc->frag_size;
				cr_assert_lt(nr_held, 64);
				held[nr_held++] = *dc;
			}
		} else {
			cr_assert_eq(m.nr, 0, "a plain socket's bytes have no devmem cmsg");
			cr_assert_eq(flow_pattern_mismatch(buf, pos, (size_t)n), -1);
			pos += (uint64_t)n;
		}
	}
	cr_assert_eq(pos, 16384);
	cr_assert_eq(devmem_sock_stats(fd, &ss), 0);
	cr_assert_eq(ss.tokens_held, nr_held);
	for (unsigned int i = 0; i < nr_held; i++)
		cr_assert_eq(flow_dontneed_one(fd, held[i].frag_token), 1);
	cr_assert_eq(devmem_close(fd), 0);
	close(client);
	rig_down(&r);
}

Test(swnic, rxq_stats_of_no_software_nic_is_enodev_and_of_no_queue_erange)
{
	struct devmem_swnic_rxq_stats qs;
	struct test_nic *nic;
	int ifindex;

	cr_assert_eq(devmem_swnic_rxq_stats(lo_index(), 0, &qs), -ENODEV);
	cr_assert_eq(devmem_swnic_rxq_stats(0, 0, &qs), -ENODEV);
	cr_assert_eq(devmem_swnic_rxq_stats(999999, 0, &qs), -ENODEV);
	/* a device that is not a software NIC */
	cr_assert_eq(test_nic_create(NULL, &nic), 0);
	cr_assert_eq(devmem_swnic_rxq_stats(test_nic_ifindex(nic), 0, &qs), -ENODEV);
	test_nic_destroy(nic);

	cr_assert_eq(devmem_swnic_create("lo", NULL, &ifindex), 0);
	cr_assert_eq(devmem_swnic_rxq_stats(ifindex, DEVMEM_SWNIC_DEFAULT_QUEUES - 1, &qs), 0);
	cr_assert_eq(devmem_swnic_rxq_stats(ifindex, DEVMEM_SWNIC_DEFAULT_QUEUES, &qs), -ERANGE);
	cr_assert_eq(devmem_swnic_rxq_stats(ifindex, UINT32_MAX, &qs), -ERANGE);
	cr_assert_eq(devmem_swnic_destroy(ifindex), 0);
	cr_assert_eq(devmem_swnic_rxq_stats(ifindex, 0, &qs), -ENODEV, "after destroy");
	assert_all_gone();
}

Test(swnic, rxq_stats_count_sockets_bytes_fragments_and_restarts)
{
	struct flow_rig_opts o = { .buf_size = 1 * MiB, .bind = true };
	struct flow_sender_opts so = { .bytes = 2 * MiB };
	struct devmem_swnic_rxq_stats qs, q0;
	struct flow_sender s;
	struct flow_rig r;
	struct flow_rx rx;
	int fd;

	rig_up(&r, &o);
	cr_assert_eq(devmem_swnic_rxq_stats(r.ifindex, r.queue, &qs), 0);
	cr_assert(qs.bound);
	cr_assert_eq(qs.sockets, 0);
	cr_assert_eq(qs.buffers_in_ring, 256, "the ring holds the buffer's 256 net_iovs");
	/* queue 0 was never bound: its count is what a start alone makes */
	cr_assert_eq(devmem_swnic_rxq_stats(r.ifindex, 0, &q0), 0);
	cr_assert(!q0.bound);
	cr_assert_eq(qs.restarts, q0.restarts + 1, "the bind restarted the queue once");

	cr_assert_eq(flow_sender_start(&r.l, &so, &s), 0);
	fd = accept_on(&r, (int)r.queue);
	cr_assert_eq(devmem_swnic_rxq_stats(r.ifindex, r.queue, &qs), 0);
	cr_assert_eq(qs.sockets, 1);
	rx_for(&r, &rx, fd);
	cr_assert_eq(flow_rx_run(&rx, so.bytes, RX_MS), 0, "%s", rx.why);
	cr_assert_eq(flow_sender_wait(&s, SENDER_MS), 0);
	cr_assert_eq(devmem_swnic_rxq_stats(r.ifindex, r.queue, &qs), 0);
	cr_assert_eq(qs.bytes, so.bytes);
	cr_assert_geq(qs.frags, so.bytes / 4096, "a 4 KiB net_iov takes 4 KiB at most");
	cr_assert_leq(qs.frags, rx.frags, "a fragment reaches the user whole or split");
	cr_assert_gt(qs.completions, 0);
	cr_assert_leq(qs.completions, qs.frags + 1);
	cr_assert_geq(qs.buffers_posted, qs.frags);
	flow_rx_fini(&rx);
	cr_assert_eq(devmem_close(fd), 0);
	cr_assert_eq(devmem_swnic_rxq_stats(r.ifindex, r.queue, &qs), 0);
	cr_assert_eq(qs.sockets, 0, "the closed socket left its queue");

	cr_assert_eq(devmem_unbind(r.ctl, r.id), 0);
	cr_assert_eq(devmem_swnic_rxq_stats(r.ifindex, r.queue, &qs), 0);
	cr_assert(!qs.bound);
	cr_assert_eq(qs.restarts, q0.restarts + 2, "the unbind restarted it once more");
	rig_down(&r);
}

/* ---- receive limits: one socket nobody reads ---- */

/* Bytes waiting unread on @fd, at most: its queued fragments of at most @frag_max bytes. */
static uint64_t queued_at_most(int fd, uint64_t frag_max)
{
	struct devmem_sock_stats ss;

	cr_assert_eq(devmem_sock_stats(fd, &ss), 0);
	return ss.frags_queued * frag_max;
}

/* Wait until the socket's queued fragments stop growing (its queue stopped reading it). */
static void wait_settled(int fd)
{
	struct devmem_sock_stats ss;
	uint64_t last = UINT64_MAX;

	for (int i = 0; i < 100; i++) {
		cr_assert_eq(devmem_sock_stats(fd, &ss), 0);
		if (ss.frags_queued && ss.frags_queued == last)
			return;
		last = ss.frags_queued;
		flow_sleep_us(100000);
	}
	cr_assert(false, "the unread socket never stopped growing (%llu fragments)",
		  (unsigned long long)ss.frags_queued);
}

Test(swnic, unread_socket_does_not_starve_the_other_sockets_of_its_queue)
{
	/* 16 MiB of net_iovs for both: the unread socket alone would take them all */
	struct flow_rig_opts o = { .buf_size = 16 * MiB, .bind = true };
	struct flow_sender_opts so = { .bytes = 32 * MiB, .thread = true };
	struct flow_sender sa, sb;
	struct flow_rig r;
	struct flow_rx rx;
	int a, b;

	rig_up(&r, &o);
	cr_assert_eq(flow_sender_start(&r.l, &so, &sa), 0);
	a = accept_on(&r, (int)r.queue);
	wait_settled(a);
	cr_assert_eq(flow_sender_start(&r.l, &so, &sb), 0);
	b = accept_on(&r, (int)r.queue);
	rx_for(&r, &rx, b);
	cr_assert_eq(
		flow_rx_run(&rx, so.bytes, 20000), 0,
		"the socket read got stuck behind the unread one: %s (%llu bytes queued there)",
		rx.why, (unsigned long long)queued_at_most(a, PAGE_SIZE));
	cr_assert_eq(flow_sender_wait(&sb, SENDER_MS), 0);
	/*
	 * A fair share: half the buffer while it was alone, a third with two,
	 * and what its receive took from the kernel socket before it was
	 * cancelled (the peer's send buffer, 4 MiB at most).
	 */
	cr_assert_leq(queued_at_most(a, PAGE_SIZE), o.buf_size / 2 + 4 * MiB);
	flow_rx_fini(&rx);
	cr_assert_eq(devmem_close(b), 0);
	/* and the one left unread resumes when it is read, losing nothing */
	rx_for(&r, &rx, a);
	cr_assert_eq(flow_rx_run(&rx, so.bytes, RX_MS), 0, "%s", rx.why);
	cr_assert_eq(flow_sender_wait(&sa, SENDER_MS), 0);
	flow_rx_fini(&rx);
	cr_assert_eq(devmem_close(a), 0);
	rig_down(&r);
}

Test(swnic, unread_socket_stops_at_its_so_rcvbuf)
{
	/* host pages of 4 KiB: no pool share, the socket's SO_RCVBUF alone bounds it */
	struct flow_rig_opts o = { .host_buf_size = 4096 };
	struct flow_sender_opts so = { .bytes = 32 * MiB, .thread = true };
	struct flow_sender s;
	struct flow_rig r;
	struct flow_rx rx;
	int fd, val = 256 * KiB;
	socklen_t len = sizeof(val);

	rig_up(&r, &o);
	cr_assert_eq(flow_sender_start(&r.l, &so, &s), 0);
	fd = flow_accept(&r.l, ACCEPT_MS);
	cr_assert_geq(fd, 0);
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &val, sizeof(val)), 0);
	/* the kernel doubles what is set, for its overhead, and reports that */
	cr_assert_eq(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &val, &len), 0);
	cr_assert_eq(devmem_sock_attach(fd), (int)r.queue);
	wait_settled(fd);
	/*
	 * What the queue had taken from the kernel socket before its receive
	 * was cancelled is still delivered: what the kernel socket held (its
	 * own SO_RCVBUF), the peer's send buffer (tcp_wmem's maximum, 4 MiB)
	 * and what arrives while the cancel is in flight, which a slow
	 * (sanitized) build stretches. Half the 16 MiB a socket took before
	 * it had a limit bounds all of it.
	 */
	cr_assert_leq(queued_at_most(fd, 4096), 8 * MiB,
		      "%llu bytes unread past an SO_RCVBUF of %d",
		      (unsigned long long)queued_at_most(fd, 4096), val);
	cr_assert_eq(flow_rx_init(&rx, fd), 0);
	rx.no_dmabuf = true;
	cr_assert_eq(flow_rx_run(&rx, so.bytes, RX_MS), 0, "%s", rx.why);
	cr_assert_eq(flow_sender_wait(&s, SENDER_MS), 0);
	flow_rx_fini(&rx);
	cr_assert_eq(devmem_close(fd), 0);
	rig_down(&r);
}

/*
 * An IPv6 socket accepting an IPv4 connection (v4-mapped addresses) gets
 * IPv4 packets: the NIC's tcp4 rules steer it, with its IPv4 addresses and
 * ports, and lo owns ::ffff:127.0.0.1 as it owns 127.0.0.1.
 */
Test(swnic, tcp4_rule_steers_an_ipv6_socket_with_v4_mapped_addresses)
{
	struct sockaddr_in6 l6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in peer = { .sin_family = AF_INET };
	struct sockaddr_in c4 = { .sin_family = AF_INET };
	socklen_t alen = sizeof(l6);
	struct devmem_flow_rule rule = { .flow_type = TCP_V4_FLOW, .queue = 2 };
	uint32_t loopback = htonl(INADDR_LOOPBACK), loc;
	struct devmem_ctl *ctl;
	int ifindex = (int)if_nametoindex("lo"), off = 0, l, c, s;

	cr_assert_eq(devmem_ctl_open(&ctl), 0);
	l = socket(AF_INET6, SOCK_STREAM, 0);
	cr_assert_geq(l, 0);
	cr_assert_eq(setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)), 0);
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &l6.sin6_addr);
	cr_assert_eq(bind(l, (struct sockaddr *)&l6, sizeof(l6)), 0);
	cr_assert_eq(listen(l, 1), 0);
	cr_assert_eq(getsockname(l, (struct sockaddr *)&l6, &alen), 0);

	c = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(c, 0);
	c4.sin_addr.s_addr = loopback;
	cr_assert_eq(bind(c, (struct sockaddr *)&c4, sizeof(c4)), 0);
	alen = sizeof(c4);
	cr_assert_eq(getsockname(c, (struct sockaddr *)&c4, &alen), 0);
	/* the full 5-tuple, in its IPv4 form */
	memcpy(rule.src_addr, &loopback, 4);
	memcpy(rule.dst_addr, &loopback, 4);
	rule.src_port = c4.sin_port;
	rule.dst_port = l6.sin6_port;
	cr_assert_eq(devmem_flow_rule_add(ctl, ifindex, &rule, &loc), 0, "%s", devmem_last_error());

	peer.sin_addr.s_addr = loopback;
	peer.sin_port = l6.sin6_port;
	cr_assert_eq(connect(c, (struct sockaddr *)&peer, sizeof(peer)), 0);
	s = accept(l, NULL, NULL);
	cr_assert_geq(s, 0);
	cr_assert_eq(devmem_sock_attach(s), 2, "%s", devmem_last_error());

	cr_assert_eq(devmem_close(s), 0);
	close(c);
	close(l);
	devmem_ctl_close(ctl);
	cr_assert_eq(devmem_swnic_destroy(ifindex), 0);
}
