// SPDX-License-Identifier: MIT
/*
 * The software NIC under concurrent load.
 *
 * FLOWS sender threads stream the test pattern over lo for a while; flow
 * rules put two flows on rx queue 1 and two on queue 2. Each flow's
 * receiver thread reads its devmem socket with random iovec lengths (so
 * fragments split), checks every byte (dma-buf fragments through the CPU
 * mapping of the buffer their binding names, linear bytes in the iovec),
 * and gives tokens back in random batches after random holds.
 *
 * Meanwhile a binder thread binds one of BUFS dma-bufs to both queues with
 * a new control handle, lets traffic run a random while, and closes the
 * handle (unbinding it) or unbinds first, round after round: the queues go
 * back and forth between the buffers and host pages, with fragments of old
 * bindings still queued and held. A buffer is bound again only once its
 * previous binding is freed (two live bindings of one buffer would write
 * over each other's fragments). A stats thread reads the queues' and
 * sockets' counters and dumps devices, queues, pools and bindings.
 *
 * Every stream must arrive whole and in order; at the end, with everything
 * closed, no devmem socket, binding or page pool may be left.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
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
#include "support/flow.h"
#include "stress.h"

#define NAME "stress_swnic"
#define FLOWS 4
#define BUFS 6
#define BUF_SIZE (2 * 1024 * 1024)
#define MAX_IDS 65536
#define DRAIN_MS 120000

struct flow {
	struct flow_listener l;
	struct flow_sender s;
	struct flow_rx rx;
	int fd;
	uint32_t queue;
	pthread_t thread;
	int err;
};

static struct flow flows[FLOWS];
static int ifindex;
static struct dma_buf *bufs[BUFS];
static int buf_fds[BUFS];
static void *vas[BUFS];

/* binding id -> buffer index + 1, and its net_iov size; atomic */
static int id_buf[MAX_IDS];
static uint32_t id_niov[MAX_IDS];
static int stop; /* atomic: the receivers are done */
static long rounds, stat_rounds; /* atomic */
static char binder_why[200];
static int binder_err;

static int buf_of(uint32_t id, uint32_t *niov_size, void *arg)
{
	int64_t deadline = flow_now_ms() + 10000;

	if (!id || id >= MAX_IDS)
		return -1;
	/* the binder records the id after bind returns: the queue may be quicker */
	for (;;) {
		int v = __atomic_load_n(&id_buf[id], __ATOMIC_ACQUIRE);

		if (v) {
			*niov_size = __atomic_load_n(&id_niov[id], __ATOMIC_RELAXED);
			return v - 1;
		}
		if (flow_now_ms() > deadline)
			return -1;
		sched_yield();
	}
}

static void *receiver(void *arg)
{
	struct flow *f = arg;

	f->err = flow_rx_run(&f->rx, UINT64_MAX, DRAIN_MS + (int)(stress_seconds() * 20000));
	return NULL;
}

static void *binder(void *arg)
{
	static const struct devmem_queue_id qs[] = { { 1, NETDEV_QUEUE_TYPE_RX },
						     { 2, NETDEV_QUEUE_TYPE_RX } };
	uint32_t last[BUFS] = { 0 };
	struct devmem_ctl *probe;
	uint64_t rnd = 0xb1d3;
	unsigned int next = 0;

	if (devmem_ctl_open(&probe)) {
		binder_err = -ENOMEM;
		return NULL;
	}
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		unsigned int i = next++ % BUFS;
		DEVMEM_OPTS(devmem_bind_opts, bo,
			    .rx_page_size = stress_rand(&rnd) % 2 ? 4096 : 16384);
		struct devmem_binding_info bi;
		struct devmem_ctl *ctl = NULL;
		uint32_t id = 0;
		int err;

		if (last[i] && devmem_binding_get(probe, last[i], &bi) == 0) {
			/* its previous binding still has net_iovs out: try another later */
			flow_sleep_us(500);
			continue;
		}
		err = devmem_ctl_open(&ctl);
		if (!err)
			err = devmem_bind_rx(ctl, ifindex, buf_fds[i], qs, 2, &bo, &id);
		if (err || id >= MAX_IDS) {
			snprintf(binder_why, sizeof(binder_why), "bind-rx: %d (%s)", err,
				 devmem_last_error());
			binder_err = err ? err : -ERANGE;
			devmem_ctl_close(ctl);
			break;
		}
		__atomic_store_n(&id_niov[id], bo.rx_page_size, __ATOMIC_RELAXED);
		__atomic_store_n(&id_buf[id], (int)i + 1, __ATOMIC_RELEASE);
		last[i] = id;
		flow_sleep_us(500 + (unsigned int)(stress_rand(&rnd) % 40000));
		if (stress_rand(&rnd) % 2 && devmem_unbind(ctl, id)) {
			snprintf(binder_why, sizeof(binder_why), "unbind %u failed", id);
			binder_err = -EIO;
		}
		devmem_ctl_close(ctl);
		__atomic_fetch_add(&rounds, 1, __ATOMIC_RELAXED);
		flow_sleep_us((unsigned int)(stress_rand(&rnd) % 5000));
	}
	devmem_ctl_close(probe);
	return NULL;
}

static int count_cb_dev(const struct devmem_dev_info *info, void *data)
{
	(*(long *)data)++;
	return 0;
}

static int count_cb_queue(const struct devmem_queue_info *info, void *data)
{
	(*(long *)data)++;
	return 0;
}

static int count_cb_pool(const struct devmem_page_pool_info *info, void *data)
{
	(*(long *)data)++;
	return 0;
}

static int count_cb_binding(const struct devmem_binding_info *info, void *data)
{
	(*(long *)data)++;
	return 0;
}

static void *stats(void *arg)
{
	struct devmem_ctl *ctl;
	long n = 0;

	if (devmem_ctl_open(&ctl))
		return NULL;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		struct devmem_swnic_rxq_stats qs;
		struct devmem_sock_stats ss;
		struct devmem_dev_info di;

		for (uint32_t q = 0; q < DEVMEM_SWNIC_DEFAULT_QUEUES; q++)
			stress_check(NAME, devmem_swnic_rxq_stats(ifindex, q, &qs) == 0,
				     "rxq stats %u", q);
		for (int i = 0; i < FLOWS; i++) {
			stress_check(NAME, devmem_sock_stats(flows[i].fd, &ss) == 0,
				     "sock stats of flow %d", i);
			stress_check(NAME, ss.rxq == (int)flows[i].queue,
				     "flow %d on queue %d, not %u", i, ss.rxq, flows[i].queue);
		}
		stress_check(NAME, devmem_dev_get(ctl, ifindex, &di) == 0, "dev-get");
		devmem_dev_dump(ctl, count_cb_dev, &n);
		devmem_queue_dump(ctl, ifindex, count_cb_queue, &n);
		devmem_page_pool_dump(ctl, ifindex, count_cb_pool, &n);
		devmem_binding_dump(ctl, 0, count_cb_binding, &n);
		__atomic_fetch_add(&stat_rounds, 1, __ATOMIC_RELAXED);
		flow_sleep_us(1000);
	}
	devmem_ctl_close(ctl);
	return NULL;
}

int main(void)
{
	double run = 5 * stress_seconds();
	DEVMEM_OPTS(devmem_swnic_opts, so, .ring_entries = 256);
	struct flow_sender_opts sopts = {
		.seconds = run, .chunk = 256 * 1024, .random_chunks = true, .thread = true
	};
	struct devmem_ctl *ctl;
	pthread_t tb, ts;
	uint64_t total = 0, dmabuf = 0, linear = 0;
	double t0 = stress_now();
	int err;

	err = devmem_swnic_create("lo", &so, &ifindex);
	stress_check(NAME, !err, "swnic on lo: %d (%s)", err, devmem_last_error());
	stress_check(NAME, !devmem_ctl_open(&ctl), "ctl");
	stress_check(NAME,
		     !devmem_set_header_split(ctl, ifindex, ETHTOOL_TCP_DATA_SPLIT_ENABLED, 0) &&
			     !devmem_set_rss_equal(ctl, ifindex, 1),
		     "header split, rss: %s", devmem_last_error());
	for (int i = 0; i < BUFS; i++) {
		stress_check(NAME, !devmem_host_buffer_create(BUF_SIZE, NULL, &bufs[i]), "buffer");
		buf_fds[i] = dma_buf_fd(bufs[i], O_CLOEXEC);
		stress_check(NAME, buf_fds[i] >= 0, "dma_buf_fd");
		stress_check(NAME, !dma_buf_vmap_unlocked(bufs[i], &vas[i]), "vmap");
	}
	for (int i = 0; i < FLOWS; i++) {
		struct flow *f = &flows[i];
		struct devmem_flow_rule rule = { .flow_type = TCP_V4_FLOW };
		uint32_t loc;

		f->queue = 1 + (uint32_t)i / 2;
		stress_check(NAME, !flow_listen(AF_INET, &f->l), "listen");
		rule.dst_port = f->l.port;
		rule.queue = f->queue;
		stress_check(NAME, !devmem_flow_rule_add(ctl, ifindex, &rule, &loc), "rule: %s",
			     devmem_last_error());
		sopts.seed = 0x5eed + (uint64_t)i;
		stress_check(NAME, !flow_sender_start(&f->l, &sopts, &f->s), "sender");
		f->fd = flow_accept(&f->l, 10000);
		stress_check(NAME, f->fd >= 0, "accept");
		err = devmem_sock_attach(f->fd);
		stress_check(NAME, err == (int)f->queue, "attach: %d, not %u", err, f->queue);
		flow_rx_init(&f->rx, f->fd);
		for (int b = 0; b < BUFS; b++)
			f->rx.bufs[b] = (struct flow_rx_buf){ .buf = bufs[b],
							      .va = vas[b],
							      .size = BUF_SIZE };
		f->rx.nr_bufs = BUFS;
		f->rx.buf_of = buf_of;
		f->rx.iov_len = 200000;
		f->rx.random_iov = true;
		f->rx.hold = 48;
		f->rx.random_hold = true;
		f->rx.hold_us = i % 2 ? 300 : 0;
		f->rx.seed = 0xfeed + (uint64_t)i;
	}
	stress_check(NAME, !pthread_create(&tb, NULL, binder, NULL), "binder");
	stress_check(NAME, !pthread_create(&ts, NULL, stats, NULL), "stats");
	for (int i = 0; i < FLOWS; i++)
		stress_check(NAME, !pthread_create(&flows[i].thread, NULL, receiver, &flows[i]),
			     "receiver");

	for (int i = 0; i < FLOWS; i++) {
		struct flow *f = &flows[i];
		uint64_t sent;

		err = flow_sender_wait(&f->s, (int)(run * 1000) + DRAIN_MS);
		stress_check(NAME, !err, "sender %d: %d", i, err);
		sent = flow_sender_sent(&f->s);
		pthread_join(f->thread, NULL);
		stress_check(NAME, !f->err, "flow %d: %s", i, f->rx.why);
		stress_check(NAME, f->rx.pos == sent, "flow %d: %llu bytes received, %llu sent", i,
			     (unsigned long long)f->rx.pos, (unsigned long long)sent);
		total += f->rx.pos;
		dmabuf += f->rx.bytes_dmabuf;
		linear += f->rx.bytes_linear;
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_join(tb, NULL);
	pthread_join(ts, NULL);
	stress_check(NAME, !binder_err, "binder: %s", binder_why);
	stress_check(NAME, rounds >= 2, "only %ld bind rounds", rounds);

	for (int i = 0; i < FLOWS; i++) {
		flow_rx_fini(&flows[i].rx);
		stress_check(NAME, !devmem_close(flows[i].fd), "close");
		flow_listener_close(&flows[i].l);
	}
	devmem_ctl_close(ctl);
	stress_check(NAME, net_devmem_nr_bindings() == 0, "%ld bindings left",
		     net_devmem_nr_bindings());
	stress_check(NAME, !devmem_swnic_destroy(ifindex), "destroy");
	for (int i = 0; i < BUFS; i++) {
		dma_buf_vunmap_unlocked(bufs[i], vas[i]);
		close(buf_fds[i]);
		dma_buf_put(bufs[i]);
	}
	stress_check(NAME, devmem_sock_nr_live() == 0, "%ld devmem sockets left",
		     devmem_sock_nr_live());
	stress_check(NAME, net_devmem_nr_bindings() == 0, "%ld bindings left",
		     net_devmem_nr_bindings());
	stress_check(NAME, page_pool_nr_live() == 0, "%ld page pools left", page_pool_nr_live());
	printf("%s: ok %.1f s, %d flows, %llu MiB (%llu MiB in dma-bufs, %llu MiB linear), "
	       "%ld bind rounds, %ld stats rounds\n",
	       NAME, stress_now() - t0, FLOWS, (unsigned long long)(total >> 20),
	       (unsigned long long)(dmabuf >> 20), (unsigned long long)(linear >> 20), rounds,
	       stat_rounds);
	return 0;
}
