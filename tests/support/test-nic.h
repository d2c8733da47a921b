/* SPDX-License-Identifier: MIT */
/*
 * A test driver: a net_device whose queues are in memory, implementing the
 * queue management ops of net/netdev.h, with switches to make each step of
 * a restart fail and to leave out PP_FLAG_ALLOW_UNREADABLE_NETMEM.
 *
 * Each rx queue's memory is a header pool (host pages, never the provider)
 * and a data pool (PP_FLAG_DMA_MAP | ALLOW_UNREADABLE_NETMEM, so it takes
 * the queue's memory provider when there is one). The pools are owned by
 * the thread that creates them (the one that creates the NIC, binds or
 * unbinds), unless opts.owner names another.
 *
 * Not thread-safe except where a function says so; the queue ops run under
 * the device lock as the core calls them.
 */
#ifndef DEVMEM_TESTS_TEST_NIC_H
#define DEVMEM_TESTS_TEST_NIC_H

#include <pthread.h>
#include <stdbool.h>

#include "devmem/device.h"
#include "net/netdev.h"
#include "net/netmem.h"
#include "net/page_pool.h"

struct test_nic;

struct test_nic_opts {
	const char *name; /* NULL: "tnic<ifindex>" */
	int ifindex; /* 0: a fresh one from 1000 up */
	unsigned int rx_queues, tx_queues; /* 0: 4 each */
	bool no_queue_ops; /* a driver without queue management */
	bool no_rx_page_size; /* its queue management lacks QCFG_RX_PAGE_SIZE */
	bool netmem_tx; /* the driver can send from net_iovs */
	uint32_t hds_thresh_max; /* 0: 1024 */
	unsigned int pool_size; /* ring size of the data pools; 0: 256 */
	pthread_t owner; /* owner of the queues' pools; 0: the creating thread */
	const char *rxq_claim_domain; /* claim providers machine-wide (net/claim.h); NULL: no */
};

/*
 * Create the NIC's device ("<name>-dma") and net_device, register it, and
 * start every rx queue on host pages. Header split starts DISABLED, as on a
 * real NIC. 0 and *out, or a negative errno (nothing left behind).
 */
int test_nic_create(const struct test_nic_opts *opts, struct test_nic **out);

/* Unregister, stop and free every queue, drop the device. NULL is ignored. */
void test_nic_destroy(struct test_nic *nic);

struct net_device *test_nic_netdev(struct test_nic *nic);
int test_nic_ifindex(struct test_nic *nic);
struct device *test_nic_device(struct test_nic *nic);

/* Switches: each makes the named queue op fail with the given negative errno (0: off). */
struct test_nic_faults {
	int mem_alloc; /* every ndo_queue_mem_alloc while set */
	int stop; /* every ndo_queue_stop while set */
	int start_once; /* the next ndo_queue_start only (so the old memory restarts) */
	bool no_unreadable; /* data pools leave out PP_FLAG_ALLOW_UNREADABLE_NETMEM */
};
void test_nic_set_faults(struct test_nic *nic, const struct test_nic_faults *faults);

/* The running queue's pools (NULL when the queue is stopped); any thread, a snapshot. */
struct page_pool *test_nic_data_pool(struct test_nic *nic, unsigned int rxq);
struct page_pool *test_nic_header_pool(struct test_nic *nic, unsigned int rxq);

/* How many times queue @rxq has been started (1 after creation). */
unsigned int test_nic_starts(struct test_nic *nic, unsigned int rxq);

/*
 * "Receive" into queue @rxq: one netmem from its running data pool (call
 * from the pools' owner, without the device lock: it takes it, so another
 * thread may restart the queue meanwhile). 0 when the pool is empty or the
 * queue is stopped. The caller gives it back with test_nic_rx_put() from
 * any thread, or hands it on.
 */
netmem_ref test_nic_rx_alloc(struct test_nic *nic, unsigned int rxq);

/* Give a netmem back to the pool it came from (any thread, not direct). */
void test_nic_rx_put(netmem_ref netmem);

#endif
