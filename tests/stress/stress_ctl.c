// SPDX-License-Identifier: MIT
/*
 * Control handles under concurrency: handles of their own and one shared
 * handle binding, unbinding and closing on the queues of one device, with
 * net_iovs held across the unbind, while other threads dump every object
 * and change flow rules and RSS.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "devmem/dma-buf.h"
#include "devmem/error.h"
#include "devmem/host.h"
#include "devmem/netdev.h"
#include "net/devmem.h"
#include "net/netmem.h"
#include "net/page_pool.h"
#include "stress.h"
#include "support/test-nic.h"

#define NAME "stress_ctl"
#define OWN_BINDERS 3 /* queues 0..2, a handle each */
#define SHARED_BINDERS 2 /* queues 3..4, one handle for both */
#define RX_QUEUES 6
#define BUF_SIZE (256UL << 10)

static struct test_nic *nic;
static int ifindex;
static struct devmem_ctl *shared;
static double deadline;
static long binds, dumps, held_across;

struct binder {
	unsigned int queue;
	bool own_handle;
	uint64_t rng;
	int fd;
};

static bool running(void)
{
	return stress_now() < deadline;
}

static uint32_t queue_binding(struct devmem_ctl *ctl, unsigned int q)
{
	struct devmem_queue_info info;

	stress_check(NAME, devmem_queue_get(ctl, ifindex, NETDEV_QUEUE_TYPE_RX, q, &info) == 0,
		     "queue-get %u: %s", q, devmem_last_error());
	return info.dmabuf;
}

static void *binder_main(void *arg)
{
	struct binder *b = arg;
	struct devmem_queue_id qid = { b->queue, NETDEV_QUEUE_TYPE_RX };
	struct devmem_ctl *ctl = shared;
	netmem_ref held;
	uint32_t id;
	int err;

	if (b->own_handle)
		stress_check(NAME, devmem_ctl_open(&ctl) == 0, "open");
	while (running()) {
		err = devmem_bind_rx(ctl, ifindex, b->fd, &qid, 1, NULL, &id);
		stress_check(NAME, !err, "bind queue %u: %d %s", b->queue, err,
			     devmem_last_error());
		__atomic_fetch_add(&binds, 1, __ATOMIC_RELAXED);
		stress_check(NAME, queue_binding(ctl, b->queue) == id, "queue %u not on %u",
			     b->queue, id);
		/* this thread restarted the queue: it owns the new pools */
		held = 0;
		if (stress_rand(&b->rng) & 1) {
			held = test_nic_rx_alloc(nic, b->queue);
			stress_check(NAME, held && netmem_is_net_iov(held), "queue %u: no net_iov",
				     b->queue);
			stress_check(NAME, net_devmem_iov_binding_id(netmem_to_net_iov(held)) == id,
				     "net_iov of another binding");
		}
		if (b->own_handle && (stress_rand(&b->rng) % 3) == 0) {
			devmem_ctl_close(ctl);
			stress_check(NAME, devmem_ctl_open(&ctl) == 0, "reopen");
		} else {
			err = devmem_unbind(ctl, id);
			stress_check(NAME, !err, "unbind %u: %d", id, err);
		}
		stress_check(NAME, queue_binding(ctl, b->queue) == 0, "queue %u still bound",
			     b->queue);
		if (held) {
			test_nic_rx_put(held);
			__atomic_fetch_add(&held_across, 1, __ATOMIC_RELAXED);
		}
	}
	if (b->own_handle)
		devmem_ctl_close(ctl);
	return NULL;
}

static int check_binding(const struct devmem_binding_info *info, void *data)
{
	stress_check(NAME, info->niovs_free + info->niovs_in_use == info->nr_niovs,
		     "binding %u: %llu free + %llu in use != %llu", info->id,
		     (unsigned long long)info->niovs_free, (unsigned long long)info->niovs_in_use,
		     (unsigned long long)info->nr_niovs);
	stress_check(NAME, !info->owned, "binding %u owned by a handle that bound nothing",
		     info->id);
	stress_check(NAME, info->nr_queues <= 1, "binding %u on %u queues", info->id,
		     info->nr_queues);
	stress_check(NAME, info->dmabuf_size == BUF_SIZE, "binding %u of %llu bytes", info->id,
		     (unsigned long long)info->dmabuf_size);
	return 0;
}

static int check_queue(const struct devmem_queue_info *info, void *data)
{
	stress_check(NAME, info->ifindex == ifindex, "queue of ifindex %d", info->ifindex);
	return 0;
}

static int check_pool(const struct devmem_page_pool_info *info, void *data)
{
	stress_check(NAME, info->inflight_mem == info->inflight * 4096,
		     "pool %u: %llu bytes for %llu in flight", info->id,
		     (unsigned long long)info->inflight_mem, (unsigned long long)info->inflight);
	return 0;
}

static int check_dev(const struct devmem_dev_info *info, void *data)
{
	unsigned int *seen = data;

	if (info->ifindex == ifindex)
		(*seen)++;
	return 0;
}

static void *dumper_main(void *arg)
{
	struct devmem_binding_info binfo;
	struct devmem_ctl *ctl;
	uint64_t rng = (uintptr_t)arg | 1;
	unsigned int seen;
	int err;

	stress_check(NAME, devmem_ctl_open(&ctl) == 0, "open");
	while (running()) {
		seen = 0;
		stress_check(NAME, devmem_dev_dump(ctl, check_dev, &seen) == 0 && seen == 1,
			     "dev dump");
		stress_check(NAME, devmem_queue_dump(ctl, ifindex, check_queue, NULL) == 0,
			     "queue dump");
		stress_check(NAME, devmem_page_pool_dump(ctl, 0, check_pool, NULL) == 0,
			     "pool dump");
		stress_check(NAME, devmem_binding_dump(ctl, 0, check_binding, NULL) == 0,
			     "binding dump");
		err = devmem_binding_get(ctl, 1 + stress_rand(&rng) % 64, &binfo);
		stress_check(NAME, err == 0 || err == -ENOENT, "binding-get: %d", err);
		if (!err)
			check_binding(&binfo, NULL);
		__atomic_fetch_add(&dumps, 1, __ATOMIC_RELAXED);
	}
	devmem_ctl_close(ctl);
	return NULL;
}

static void *settings_main(void *arg)
{
	struct devmem_flow_rule rule = { .flow_type = TCP_V4_FLOW };
	struct devmem_ctl *ctl;
	uint64_t rng = 77;
	uint32_t loc;

	stress_check(NAME, devmem_ctl_open(&ctl) == 0, "open");
	while (running()) {
		rule.queue = stress_rand(&rng) % RX_QUEUES;
		stress_check(NAME, devmem_flow_rule_add(ctl, ifindex, &rule, &loc) == 0,
			     "flow rule add: %s", devmem_last_error());
		stress_check(NAME, devmem_flow_rule_list(ctl, ifindex, NULL, NULL, 0) >= 1,
			     "flow rule list");
		stress_check(NAME, devmem_flow_rule_del(ctl, ifindex, loc) == 0, "flow rule del");
		stress_check(
			NAME,
			devmem_set_rss_equal(ctl, ifindex, 1 + stress_rand(&rng) % RX_QUEUES) == 0,
			"rss");
	}
	devmem_ctl_close(ctl);
	return NULL;
}

int main(void)
{
	struct test_nic_opts opts = { .rx_queues = RX_QUEUES, .tx_queues = 2 };
	struct binder binders[OWN_BINDERS + SHARED_BINDERS];
	pthread_t threads[OWN_BINDERS + SHARED_BINDERS + 3];
	struct dma_buf *bufs[OWN_BINDERS + SHARED_BINDERS];
	unsigned int i, n = 0;
	long pools;

	stress_check(NAME, test_nic_create(&opts, &nic) == 0, "nic: %s", devmem_last_error());
	ifindex = test_nic_ifindex(nic);
	stress_check(NAME, devmem_ctl_open(&shared) == 0, "open");
	stress_check(NAME,
		     devmem_set_header_split(shared, ifindex, ETHTOOL_TCP_DATA_SPLIT_ENABLED, 0) ==
			     0,
		     "header split");
	pools = page_pool_nr_live();
	deadline = stress_now() + stress_seconds();

	for (i = 0; i < OWN_BINDERS + SHARED_BINDERS; i++) {
		stress_check(NAME, devmem_host_buffer_create(BUF_SIZE, NULL, &bufs[i]) == 0,
			     "buffer");
		binders[i] = (struct binder){
			.queue = i,
			.own_handle = i < OWN_BINDERS,
			.rng = 0x9e3779b97f4a7c15ULL * (i + 1),
			.fd = dma_buf_fd(bufs[i], O_CLOEXEC),
		};
		pthread_create(&threads[n++], NULL, binder_main, &binders[i]);
	}
	pthread_create(&threads[n++], NULL, dumper_main, (void *)1);
	pthread_create(&threads[n++], NULL, dumper_main, (void *)2);
	pthread_create(&threads[n++], NULL, settings_main, NULL);
	for (i = 0; i < n; i++)
		pthread_join(threads[i], NULL);

	devmem_ctl_close(shared);
	stress_check(NAME, net_devmem_nr_bindings() == 0, "%ld bindings left",
		     net_devmem_nr_bindings());
	stress_check(NAME, page_pool_nr_live() == pools, "%ld pools, %ld before",
		     page_pool_nr_live(), pools);
	test_nic_destroy(nic);
	for (i = 0; i < OWN_BINDERS + SHARED_BINDERS; i++) {
		close(binders[i].fd);
		dma_buf_put(bufs[i]);
	}
	printf(NAME ": ok (%ld binds, %ld held across unbind, %ld dump rounds)\n", binds,
	       held_across, dumps);
	return 0;
}
