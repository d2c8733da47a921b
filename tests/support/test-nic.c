// SPDX-License-Identifier: MIT
/*
 * The test driver: rx queues whose "rings" are just their two page pools.
 * A queue's memory is what ndo_queue_mem_alloc builds into the core's
 * per-queue buffer (struct tnic_queue_mem); starting the queue copies it into
 * the running slot, stopping copies it back out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/compiler.h"
#include "lib/error.h"
#include "support/test-nic.h"

#define TNIC_DEFAULT_QUEUES 4
#define TNIC_DEFAULT_HDS_MAX 1024
#define TNIC_DEFAULT_POOL_SIZE 256
#define TNIC_HEADER_POOL_SIZE 64

struct tnic_queue_mem {
	struct page_pool *hdr_pool;
	struct page_pool *data_pool;
};

struct tnic_rxq {
	/*
	 * The running memory, zero while stopped: written under dev->lock,
	 * read relaxed by the accessors (a test may look while another thread
	 * restarts the queue).
	 */
	struct tnic_queue_mem mem;
	unsigned int starts; /* written under dev->lock, read relaxed */
};

struct test_nic {
	struct net_device *netdev; /* our reference */
	struct device *dma_dev; /* our reference (the netdev holds another) */
	unsigned int pool_size; /* immutable */
	pthread_t owner; /* immutable: pools' owner, 0 for the creating thread */
	struct test_nic_faults faults; /* protected by dev->lock */
	struct tnic_rxq *rxqs; /* num_rx_queues entries */
};

/* fresh ifindexes for NICs that do not ask for one; atomic */
static int tnic_next_ifindex = 1000;

static struct test_nic *tnic_of(struct net_device *dev)
{
	return *(struct test_nic **)netdev_priv(dev);
}

static int tnic_pool_create(struct netdev_rx_queue *rxq, struct test_nic *nic, unsigned int flags,
			    unsigned int order, unsigned int pool_size, struct page_pool **out)
{
	struct page_pool_params p = {
		.flags = flags,
		.order = order,
		.max_len = (unsigned int)(PAGE_SIZE << order),
		.pool_size = pool_size,
		.owner = nic->owner,
		.dma_dir = DMA_FROM_DEVICE,
	};

	netdev_rxq_pp_params(rxq, &p);
	return page_pool_create(&p, out);
}

static int tnic_queue_mem_alloc(struct net_device *dev, void *per_queue_mem, int idx)
{
	struct test_nic *nic = tnic_of(dev);
	struct tnic_queue_mem *mem = per_queue_mem;
	struct netdev_rx_queue *rxq = __netif_get_rx_queue(dev, (unsigned int)idx);
	unsigned int data_flags = PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV;
	unsigned int data_order = 0;
	int err;

	netdev_assert_locked(dev);
	if (nic->faults.mem_alloc)
		return devmem_err(nic->faults.mem_alloc,
				  "test-nic: rx queue %d: injected mem_alloc failure", idx);
	if (!nic->faults.no_unreadable)
		data_flags |= PP_FLAG_ALLOW_UNREADABLE_NETMEM;
	/* a provider's rx buffers are its net_iov size: the data pool's pages are that big */
	if (rxq->mp_params.rx_page_size)
		data_order = (unsigned int)__builtin_ctz(rxq->mp_params.rx_page_size) - PAGE_SHIFT;

	/* headers always land in host memory the stack can read */
	err = tnic_pool_create(rxq, nic, PP_FLAG_DMA_MAP, 0, TNIC_HEADER_POOL_SIZE, &mem->hdr_pool);
	if (err)
		return err;
	err = tnic_pool_create(rxq, nic, data_flags, data_order, nic->pool_size, &mem->data_pool);
	if (err)
		goto err_destroy_hdr;
	return 0;

err_destroy_hdr:
	page_pool_destroy(mem->hdr_pool);
	mem->hdr_pool = NULL;
	return err;
}

static void tnic_queue_mem_free(struct net_device *dev, void *per_queue_mem)
{
	struct tnic_queue_mem *mem = per_queue_mem;

	netdev_assert_locked(dev);
	page_pool_destroy(mem->data_pool);
	page_pool_destroy(mem->hdr_pool);
	*mem = (struct tnic_queue_mem){ 0 };
}

static int tnic_queue_start(struct net_device *dev, void *per_queue_mem, int idx)
{
	struct test_nic *nic = tnic_of(dev);
	struct tnic_queue_mem *mem = per_queue_mem;
	struct tnic_rxq *q = &nic->rxqs[idx];
	int err;

	netdev_assert_locked(dev);
	err = nic->faults.start_once;
	if (err) {
		nic->faults.start_once = 0;
		return devmem_err(err, "test-nic: rx queue %d: injected start failure", idx);
	}
	DEVMEM_BUG_ON(q->mem.data_pool);
	WRITE_ONCE(q->mem.hdr_pool, mem->hdr_pool);
	WRITE_ONCE(q->mem.data_pool, mem->data_pool);
	WRITE_ONCE(q->starts, q->starts + 1);
	return 0;
}

static int tnic_queue_stop(struct net_device *dev, void *per_queue_mem, int idx)
{
	struct test_nic *nic = tnic_of(dev);
	struct tnic_queue_mem *mem = per_queue_mem;
	struct tnic_rxq *q = &nic->rxqs[idx];

	netdev_assert_locked(dev);
	if (nic->faults.stop)
		return devmem_err(nic->faults.stop, "test-nic: rx queue %d: injected stop failure",
				  idx);
	*mem = q->mem;
	WRITE_ONCE(q->mem.hdr_pool, NULL);
	WRITE_ONCE(q->mem.data_pool, NULL);
	return 0;
}

static const struct netdev_queue_mgmt_ops tnic_queue_mgmt_ops = {
	.ndo_queue_mem_size = sizeof(struct tnic_queue_mem),
	.supported_params = QCFG_RX_PAGE_SIZE,
	.ndo_queue_mem_alloc = tnic_queue_mem_alloc,
	.ndo_queue_mem_free = tnic_queue_mem_free,
	.ndo_queue_start = tnic_queue_start,
	.ndo_queue_stop = tnic_queue_stop,
};

/* The same driver without large rx buffers. */
static const struct netdev_queue_mgmt_ops tnic_queue_mgmt_ops_page_only = {
	.ndo_queue_mem_size = sizeof(struct tnic_queue_mem),
	.ndo_queue_mem_alloc = tnic_queue_mem_alloc,
	.ndo_queue_mem_free = tnic_queue_mem_free,
	.ndo_queue_start = tnic_queue_start,
	.ndo_queue_stop = tnic_queue_stop,
};

/* Stop and free the running memory of queues [0, n), dev->lock held (no faults apply). */
static void tnic_close_queues(struct test_nic *nic, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		struct tnic_queue_mem mem = nic->rxqs[i].mem;

		WRITE_ONCE(nic->rxqs[i].mem.hdr_pool, NULL);
		WRITE_ONCE(nic->rxqs[i].mem.data_pool, NULL);
		tnic_queue_mem_free(nic->netdev, &mem);
	}
}

/* What the driver's open does: every rx queue up on fresh memory. */
static int tnic_open_queues(struct test_nic *nic)
{
	struct net_device *dev = nic->netdev;
	unsigned int i;
	int err = 0;

	netdev_lock(dev);
	for (i = 0; i < dev->num_rx_queues; i++) {
		struct tnic_queue_mem mem = { 0 };

		err = tnic_queue_mem_alloc(dev, &mem, (int)i);
		if (err)
			break;
		tnic_queue_start(dev, &mem, (int)i);
	}
	if (err)
		tnic_close_queues(nic, i);
	netdev_unlock(dev);
	return err;
}

int test_nic_create(const struct test_nic_opts *opts, struct test_nic **out)
{
	static const struct test_nic_opts defaults;
	struct net_device_config cfg = { 0 };
	char name[IFNAMSIZ], dma_name[32];
	struct test_nic *nic;
	int ifindex, err;

	if (!opts)
		opts = &defaults;
	if (opts->name && strlen(opts->name) >= IFNAMSIZ)
		return devmem_err(-EINVAL, "test-nic: name %s too long", opts->name);
	ifindex = opts->ifindex;
	if (!ifindex)
		ifindex = __atomic_fetch_add(&tnic_next_ifindex, 1, __ATOMIC_RELAXED);
	if (opts->name)
		snprintf(name, sizeof(name), "%s", opts->name);
	else
		snprintf(name, sizeof(name), "tnic%d", ifindex);

	nic = calloc(1, sizeof(*nic));
	if (!nic)
		return -ENOMEM;
	nic->pool_size = opts->pool_size ? opts->pool_size : TNIC_DEFAULT_POOL_SIZE;
	nic->owner = opts->owner;

	snprintf(dma_name, sizeof(dma_name), "%s-dma", name);
	err = device_create(dma_name, NULL, &nic->dma_dev);
	if (err)
		goto err_free;

	cfg.name = name;
	cfg.ifindex = ifindex;
	cfg.num_rx_queues = opts->rx_queues ? opts->rx_queues : TNIC_DEFAULT_QUEUES;
	cfg.num_tx_queues = opts->tx_queues ? opts->tx_queues : TNIC_DEFAULT_QUEUES;
	cfg.dev = nic->dma_dev;
	if (opts->no_queue_ops)
		cfg.queue_mgmt_ops = NULL;
	else if (opts->no_rx_page_size)
		cfg.queue_mgmt_ops = &tnic_queue_mgmt_ops_page_only;
	else
		cfg.queue_mgmt_ops = &tnic_queue_mgmt_ops;
	cfg.netmem_tx = opts->netmem_tx;
	cfg.rxq_claim_domain = opts->rxq_claim_domain;
	cfg.hds_thresh_max = opts->hds_thresh_max ? opts->hds_thresh_max : TNIC_DEFAULT_HDS_MAX;
	cfg.priv_size = sizeof(nic);
	err = alloc_netdev(&cfg, &nic->netdev);
	if (err)
		goto err_put_device;
	*(struct test_nic **)netdev_priv(nic->netdev) = nic;

	nic->rxqs = calloc(cfg.num_rx_queues, sizeof(*nic->rxqs));
	if (!nic->rxqs) {
		err = -ENOMEM;
		goto err_put_netdev;
	}
	/* queues run before the device can be found, so no bind sees them down */
	err = tnic_open_queues(nic);
	if (err)
		goto err_free_rxqs;
	err = register_netdev(nic->netdev);
	if (err)
		goto err_close;
	*out = nic;
	return 0;

err_close:
	netdev_lock(nic->netdev);
	tnic_close_queues(nic, nic->netdev->num_rx_queues);
	netdev_unlock(nic->netdev);
err_free_rxqs:
	free(nic->rxqs);
err_put_netdev:
	netdev_put(nic->netdev);
err_put_device:
	device_put(nic->dma_dev);
err_free:
	free(nic);
	return err;
}

void test_nic_destroy(struct test_nic *nic)
{
	struct net_device *dev;

	if (!nic)
		return;
	dev = nic->netdev;
	/* providers are uninstalled first, as the kernel does before the driver's close */
	unregister_netdev(dev);
	netdev_lock(dev);
	tnic_close_queues(nic, dev->num_rx_queues);
	netdev_unlock(dev);
	netdev_put(dev);
	device_put(nic->dma_dev);
	free(nic->rxqs);
	free(nic);
}

struct net_device *test_nic_netdev(struct test_nic *nic)
{
	return nic->netdev;
}

int test_nic_ifindex(struct test_nic *nic)
{
	return nic->netdev->ifindex;
}

struct device *test_nic_device(struct test_nic *nic)
{
	return nic->dma_dev;
}

void test_nic_set_faults(struct test_nic *nic, const struct test_nic_faults *faults)
{
	netdev_lock(nic->netdev);
	nic->faults = *faults;
	netdev_unlock(nic->netdev);
}

struct page_pool *test_nic_data_pool(struct test_nic *nic, unsigned int rxq)
{
	return READ_ONCE(nic->rxqs[rxq].mem.data_pool);
}

struct page_pool *test_nic_header_pool(struct test_nic *nic, unsigned int rxq)
{
	return READ_ONCE(nic->rxqs[rxq].mem.hdr_pool);
}

unsigned int test_nic_starts(struct test_nic *nic, unsigned int rxq)
{
	return READ_ONCE(nic->rxqs[rxq].starts);
}

netmem_ref test_nic_rx_alloc(struct test_nic *nic, unsigned int rxq)
{
	struct net_device *dev = nic->netdev;
	struct page_pool *pool;
	netmem_ref netmem = 0;

	/* the lock keeps a restart on another thread from destroying the pool under us */
	netdev_lock(dev);
	pool = nic->rxqs[rxq].mem.data_pool;
	if (pool)
		netmem = page_pool_alloc_netmems(pool);
	netdev_unlock(dev);
	return netmem;
}

void test_nic_rx_put(netmem_ref netmem)
{
	page_pool_put_netmem(netmem_get_pp(netmem), netmem, false);
}
