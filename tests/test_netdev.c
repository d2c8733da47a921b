// SPDX-License-Identifier: MIT
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "devmem/device.h"
#include "devmem/error.h"
#include "devmem/netdev.h"
#include "lib/compiler.h"
#include "net/netdev.h"
#include "net/netmem.h"
#include "net/page_pool.h"
#include "support/test-nic.h"
#include "harness.h"

/*
 * A fake memory provider: net_iovs from a small array, every call counted.
 * release_netmem may run on any thread, hence the lock.
 */
#define FAKE_NIOVS 256
#define FAKE_BASE_DMA 0x50000000ULL

struct fake_mp {
	pthread_mutex_t lock;
	struct net_iov niovs[FAKE_NIOVS];
	struct net_iov_area area;
	bool out[FAKE_NIOVS];
	int init_calls, destroy_calls, uninstall_calls;
	struct netdev_rx_queue *uninstalled_rxq;
	struct pp_memory_provider_params params; /* what queues get installed */
};

static int fake_init(struct page_pool *pool)
{
	struct fake_mp *mp = pool->mp_priv;

	mp->init_calls++;
	return 0;
}

static void fake_destroy(struct page_pool *pool)
{
	struct fake_mp *mp = pool->mp_priv;

	mp->destroy_calls++;
}

static int fake_alloc(struct page_pool *pool, netmem_ref *netmems, int n)
{
	struct fake_mp *mp = pool->mp_priv;
	int got = 0;

	pthread_mutex_lock(&mp->lock);
	for (int i = 0; i < FAKE_NIOVS && got < n; i++) {
		if (mp->out[i])
			continue;
		mp->out[i] = true;
		netmems[got++] = net_iov_to_netmem(&mp->niovs[i]);
	}
	pthread_mutex_unlock(&mp->lock);
	return got;
}

static bool fake_release(struct page_pool *pool, netmem_ref netmem)
{
	struct fake_mp *mp = pool->mp_priv;

	pthread_mutex_lock(&mp->lock);
	mp->out[net_iov_idx(netmem_to_net_iov(netmem))] = false;
	pthread_mutex_unlock(&mp->lock);
	return false;
}

static void fake_uninstall(void *mp_priv, struct netdev_rx_queue *rxq)
{
	struct fake_mp *mp = mp_priv;

	cr_assert_eq(rxq->mp_params.mp_priv, mp, "uninstall runs while still installed");
	netdev_assert_locked(rxq->dev);
	mp->uninstall_calls++;
	mp->uninstalled_rxq = rxq;
}

static const struct memory_provider_ops fake_ops = {
	.alloc_netmems = fake_alloc,
	.release_netmem = fake_release,
	.init = fake_init,
	.destroy = fake_destroy,
	.uninstall = fake_uninstall,
};

static struct fake_mp *fake_new(void)
{
	struct fake_mp *mp = calloc(1, sizeof(*mp));

	cr_assert_not_null(mp);
	pthread_mutex_init(&mp->lock, NULL);
	net_iov_area_init(&mp->area, mp->niovs, FAKE_NIOVS, 0, FAKE_BASE_DMA, PAGE_SHIFT,
			  NET_IOV_DMABUF);
	mp->params = (struct pp_memory_provider_params){ .mp_ops = &fake_ops, .mp_priv = mp };
	return mp;
}

static int fake_nr_out(struct fake_mp *mp)
{
	int n = 0;

	pthread_mutex_lock(&mp->lock);
	for (int i = 0; i < FAKE_NIOVS; i++)
		n += mp->out[i];
	pthread_mutex_unlock(&mp->lock);
	return n;
}

static void fake_free(struct fake_mp *mp)
{
	cr_assert_eq(fake_nr_out(mp), 0, "every net_iov came back");
	pthread_mutex_destroy(&mp->lock);
	free(mp);
}

/* ---- helpers ---- */

static struct test_nic *nic_new_opts(const struct test_nic_opts *opts)
{
	struct test_nic *nic = NULL;

	cr_assert_eq(test_nic_create(opts, &nic), 0, "%s", devmem_last_error());
	return nic;
}

static struct test_nic *nic_new(void)
{
	return nic_new_opts(NULL);
}

/* A NIC ready for a provider: header split on, threshold 0. */
static struct test_nic *nic_new_split(void)
{
	struct test_nic *nic = nic_new();

	cr_assert_eq(
		netdev_set_header_split(test_nic_netdev(nic), ETHTOOL_TCP_DATA_SPLIT_ENABLED, 0),
		0);
	return nic;
}

static int open_rxq(struct test_nic *nic, unsigned int idx, struct fake_mp *mp)
{
	struct net_device *dev = test_nic_netdev(nic);
	int err;

	netdev_lock(dev);
	err = net_mp_open_rxq(dev, idx, &mp->params);
	netdev_unlock(dev);
	return err;
}

static int close_rxq(struct test_nic *nic, unsigned int idx, struct fake_mp *mp)
{
	struct net_device *dev = test_nic_netdev(nic);
	int err;

	netdev_lock(dev);
	err = net_mp_close_rxq(dev, idx, &mp->params);
	netdev_unlock(dev);
	return err;
}

static int restart(struct test_nic *nic, unsigned int idx)
{
	struct net_device *dev = test_nic_netdev(nic);
	int err;

	netdev_lock(dev);
	err = netdev_rx_queue_restart(dev, idx);
	netdev_unlock(dev);
	return err;
}

static void set_faults(struct test_nic *nic, int mem_alloc, int stop, int start_once,
		       bool no_unreadable)
{
	struct test_nic_faults f = {
		.mem_alloc = mem_alloc,
		.stop = stop,
		.start_once = start_once,
		.no_unreadable = no_unreadable,
	};

	test_nic_set_faults(nic, &f);
}

static const struct pp_memory_provider_params *mp_of(struct test_nic *nic, unsigned int idx)
{
	return &__netif_get_rx_queue(test_nic_netdev(nic), idx)->mp_params;
}

static void assert_error_has(const char *what)
{
	cr_assert_not_null(strstr(devmem_last_error(), what), "message \"%s\" lacks \"%s\"",
			   devmem_last_error(), what);
}

/* Queue @idx serves host pages from @pool (the running data pool) right now. */
static void assert_serves_host_pages(struct test_nic *nic, unsigned int idx, struct page_pool *pool)
{
	netmem_ref nm;

	cr_assert_eq(test_nic_data_pool(nic, idx), pool, "the queue runs on the same pool");
	nm = test_nic_rx_alloc(nic, idx);
	cr_assert_neq(nm, 0, "the queue still serves allocations");
	cr_assert(!netmem_is_net_iov(nm));
	cr_assert_eq(netmem_get_pp(nm), pool);
	test_nic_rx_put(nm);
}

/* The queue's provider is absent and it keeps running on @pool (started @starts times). */
static void assert_queue_unchanged(struct test_nic *nic, unsigned int idx, struct page_pool *pool,
				   unsigned int starts)
{
	cr_assert_null(mp_of(nic, idx)->mp_ops, "no provider left installed");
	cr_assert_null(mp_of(nic, idx)->mp_priv);
	cr_assert_eq(test_nic_starts(nic, idx), starts);
	assert_serves_host_pages(nic, idx, pool);
}

/* ---- creation, registry ---- */

static struct net_device_config good_config(struct device *dma)
{
	return (struct net_device_config){
		.name = "eth7",
		.ifindex = 7,
		.num_rx_queues = 4,
		.num_tx_queues = 2,
		.dev = dma,
		.hds_thresh_max = 256,
		.priv_size = 16,
	};
}

Test(netdev, alloc_netdev_with_bad_config_is_einval)
{
	struct device *dma = NULL;
	struct net_device *dev = NULL;
	struct net_device_config cfg;

	cr_assert_eq(device_create("dma0", NULL, &dma), 0);
	cfg = good_config(dma);
	cfg.name = NULL;
	cr_assert_eq(alloc_netdev(&cfg, &dev), -EINVAL, "no name");
	cfg.name = "";
	cr_assert_eq(alloc_netdev(&cfg, &dev), -EINVAL, "empty name");
	cfg.name = "sixteen-chars-xx";
	cr_assert_eq(alloc_netdev(&cfg, &dev), -EINVAL, "name of IFNAMSIZ bytes");
	cfg = good_config(dma);
	cfg.ifindex = 0;
	cr_assert_eq(alloc_netdev(&cfg, &dev), -EINVAL, "ifindex 0");
	cfg.ifindex = -3;
	cr_assert_eq(alloc_netdev(&cfg, &dev), -EINVAL, "negative ifindex");
	cfg = good_config(dma);
	cfg.num_rx_queues = 0;
	cr_assert_eq(alloc_netdev(&cfg, &dev), -EINVAL, "no rx queue");
	cfg.num_rx_queues = 1025;
	cr_assert_eq(alloc_netdev(&cfg, &dev), -EINVAL, "too many rx queues");
	cfg = good_config(dma);
	cfg.num_tx_queues = 0;
	cr_assert_eq(alloc_netdev(&cfg, &dev), -EINVAL, "no tx queue");
	cfg.num_tx_queues = 1025;
	cr_assert_eq(alloc_netdev(&cfg, &dev), -EINVAL, "too many tx queues");
	assert_error_has("tx queues");
	cr_assert_null(dev, "*out untouched");

	cfg = good_config(dma);
	cfg.num_rx_queues = cfg.num_tx_queues = 1024;
	cfg.name = "fifteen-chars-x";
	cr_assert_eq(alloc_netdev(&cfg, &dev), 0, "the limits themselves are fine");
	netdev_put(dev);
	device_put(dma);
}

Test(netdev, alloc_netdev_starts_with_split_disabled_and_equal_rss)
{
	struct device *dma = NULL;
	struct net_device *dev = NULL;
	struct net_device_config cfg;

	cr_assert_eq(device_create("dma0", NULL, &dma), 0);
	cfg = good_config(dma);
	cfg.num_rx_queues = 3;
	cr_assert_eq(alloc_netdev(&cfg, &dev), 0);
	cr_assert_str_eq(dev->name, "eth7");
	cr_assert_eq(dev->ifindex, 7);
	cr_assert_eq(dev->dev, dma);
	cr_assert_eq(dev->reg_state, NETREG_UNINITIALIZED);
	cr_assert_eq(dev->real_num_rx_queues, 3);
	cr_assert_eq(dev->real_num_tx_queues, 2);
	cr_assert_eq(dev->tcp_data_split, ETHTOOL_TCP_DATA_SPLIT_DISABLED);
	cr_assert_eq(dev->hds_thresh, 0);
	cr_assert_eq(dev->hds_thresh_max, 256);
	cr_assert(!dev->xdp_prog);
	cr_assert_eq(dev->nr_flow_rules, 0);
	for (unsigned int i = 0; i < DEVMEM_RSS_INDIR_SIZE; i++)
		cr_assert_eq(dev->rss_indir[i], i % 3);
	for (unsigned int i = 0; i < 3; i++) {
		cr_assert_eq(dev->_rx[i].dev, dev);
		cr_assert_eq(dev->_rx[i].index, i);
		cr_assert_null(dev->_rx[i].mp_params.mp_ops);
	}
	cr_assert_not_null(netdev_priv(dev));
	cr_assert_eq(((char *)netdev_priv(dev))[15], 0, "priv is zeroed");
	netdev_put(dev);
	/* the netdev held its own reference on the DMA device */
	device_put(dma);
}

Test(netdev, rx_and_tx_queue_i_share_a_napi_id_unique_across_devices)
{
	struct device *dma = NULL;
	struct net_device *a = NULL, *b = NULL;
	struct net_device_config cfg;

	cr_assert_eq(device_create("dma0", NULL, &dma), 0);
	cfg = good_config(dma);
	cr_assert_eq(alloc_netdev(&cfg, &a), 0);
	cr_assert_eq(alloc_netdev(&cfg, &b), 0);
	for (unsigned int i = 0; i < 2; i++) {
		cr_assert_eq(a->_rx[i].napi_id, a->_tx[i].napi_id);
		cr_assert_eq(a->_tx[i].dev, a);
	}
	for (unsigned int i = 0; i < 4; i++) {
		cr_assert_neq(a->_rx[i].napi_id, 0);
		for (unsigned int j = 0; j < 4; j++) {
			cr_assert_neq(a->_rx[i].napi_id, b->_rx[j].napi_id);
			if (i != j)
				cr_assert_neq(a->_rx[i].napi_id, a->_rx[j].napi_id);
		}
	}
	netdev_put(a);
	netdev_put(b);
	device_put(dma);
}

Test(netdev, register_with_taken_name_or_ifindex_is_eexist)
{
	struct test_nic *nic =
		nic_new_opts(&(struct test_nic_opts){ .name = "eth0", .ifindex = 5 });
	struct test_nic *other = NULL;
	struct device *dma = NULL;
	struct net_device *dev = NULL, *found;
	struct net_device_config cfg;

	cr_assert_eq(
		test_nic_create(&(struct test_nic_opts){ .name = "eth0", .ifindex = 6 }, &other),
		-EEXIST);
	cr_assert_eq(
		test_nic_create(&(struct test_nic_opts){ .name = "eth1", .ifindex = 5 }, &other),
		-EEXIST);
	cr_assert_null(other);
	cr_assert_eq(page_pool_nr_live(), 8, "the failed NICs left no pools behind");

	cr_assert_eq(device_create("dma1", NULL, &dma), 0);
	cfg = good_config(dma);
	cfg.name = "eth0";
	cfg.ifindex = 9;
	cr_assert_eq(alloc_netdev(&cfg, &dev), 0);
	cr_assert_eq(register_netdev(dev), -EEXIST);
	assert_error_has("name is taken");
	cr_assert_eq(dev->reg_state, NETREG_UNINITIALIZED);
	found = netdev_get_by_index(9);
	cr_assert_null(found, "a refused device is not findable");
	netdev_put(dev);

	found = netdev_get_by_index(5);
	cr_assert_eq(found, test_nic_netdev(nic), "the first one is untouched");
	netdev_put(found);
	device_put(dma);
	test_nic_destroy(nic);
}

Test(netdev, register_twice_is_einval)
{
	struct test_nic *nic = nic_new();

	cr_assert_eq(register_netdev(test_nic_netdev(nic)), -EINVAL);
	cr_assert_eq(test_nic_netdev(nic)->reg_state, NETREG_REGISTERED);
	test_nic_destroy(nic);
}

Test(netdev, get_by_index_and_name_return_a_held_reference)
{
	struct test_nic *nic =
		nic_new_opts(&(struct test_nic_opts){ .name = "veth3", .ifindex = 33 });
	struct net_device *dev = test_nic_netdev(nic), *a, *b;
	long ref = __atomic_load_n(&dev->refcnt, __ATOMIC_RELAXED);

	a = netdev_get_by_index(33);
	b = netdev_get_by_name("veth3");
	cr_assert_eq(a, dev);
	cr_assert_eq(b, dev);
	cr_assert_eq(__atomic_load_n(&dev->refcnt, __ATOMIC_RELAXED), ref + 2);
	netdev_put(a);
	netdev_put(b);

	cr_assert_null(netdev_get_by_index(34));
	cr_assert_str_eq(devmem_last_error(), "no device with ifindex 34");
	cr_assert_null(netdev_get_by_name("veth4"));
	assert_error_has("veth4");
	test_nic_destroy(nic);
}

struct walk {
	int ifindex[8];
	int n, stop_at;
};

static int walk_fn(struct net_device *dev, void *data)
{
	struct walk *w = data;

	w->ifindex[w->n++] = dev->ifindex;
	return w->n == w->stop_at ? 42 : 0;
}

Test(netdev, for_each_visits_in_ifindex_order_and_stops_on_nonzero)
{
	struct test_nic *c = nic_new_opts(&(struct test_nic_opts){ .ifindex = 30 });
	struct test_nic *a = nic_new_opts(&(struct test_nic_opts){ .ifindex = 10 });
	struct test_nic *b = nic_new_opts(&(struct test_nic_opts){ .ifindex = 20 });
	struct walk w = { 0 };

	cr_assert_eq(netdev_for_each(walk_fn, &w), 0);
	cr_assert_eq(w.n, 3);
	cr_assert_eq(w.ifindex[0], 10);
	cr_assert_eq(w.ifindex[1], 20);
	cr_assert_eq(w.ifindex[2], 30);
	w = (struct walk){ .stop_at = 2 };
	cr_assert_eq(netdev_for_each(walk_fn, &w), 42);
	cr_assert_eq(w.n, 2);
	test_nic_destroy(a);
	test_nic_destroy(b);
	test_nic_destroy(c);
}

Test(netdev, unregister_uninstalls_providers_and_makes_device_unfindable)
{
	struct test_nic *nic = nic_new_split();
	struct net_device *dev = test_nic_netdev(nic);
	struct fake_mp *mp = fake_new();
	int ifindex = test_nic_ifindex(nic);

	cr_assert_eq(open_rxq(nic, 2, mp), 0, "%s", devmem_last_error());
	netdev_hold(dev);
	unregister_netdev(dev);
	cr_assert_eq(mp->uninstall_calls, 1);
	cr_assert_eq(mp->uninstalled_rxq, __netif_get_rx_queue(dev, 2));
	cr_assert_null(mp_of(nic, 2)->mp_ops, "the provider is cleared");
	cr_assert_eq(dev->reg_state, NETREG_UNREGISTERED);
	cr_assert_null(netdev_get_by_index(ifindex));
	cr_assert_null(netdev_get_by_name(dev->name));

	cr_assert_eq(open_rxq(nic, 1, mp), -ENODEV, "a device going away takes no provider");
	cr_assert_null(mp_of(nic, 1)->mp_ops);
	cr_assert_eq(close_rxq(nic, 2, mp), 0, "closing after unregister has nothing to do");
	cr_assert_eq(mp->uninstall_calls, 1);

	test_nic_destroy(nic); /* unregisters again: a no-op */
	cr_assert_eq(mp->uninstall_calls, 1);
	cr_assert_eq(dev->reg_state, NETREG_UNREGISTERED, "our reference keeps it alive");
	netdev_put(dev);
	cr_assert_eq(page_pool_nr_live(), 0);
	cr_assert_eq(mp->destroy_calls, mp->init_calls);
	fake_free(mp);
}

/* ---- net_mp_open_rxq checks ---- */

Test(netdev, open_rxq_index_out_of_range_is_erange)
{
	struct test_nic *nic = nic_new_split();
	struct fake_mp *mp = fake_new();

	cr_assert_eq(open_rxq(nic, 9, mp), -ERANGE);
	cr_assert_str_eq(devmem_last_error(),
			 "rx queue 9: rx queue index out of range (device has 4)");
	cr_assert_eq(open_rxq(nic, 4, mp), -ERANGE);
	cr_assert_eq(mp->init_calls, 0);
	test_nic_destroy(nic);
	fake_free(mp);
}

Test(netdev, open_rxq_without_queue_ops_is_eopnotsupp)
{
	struct test_nic *nic = nic_new_opts(&(struct test_nic_opts){ .no_queue_ops = true });
	struct page_pool *pool = test_nic_data_pool(nic, 0);
	struct fake_mp *mp = fake_new();

	cr_assert_eq(
		netdev_set_header_split(test_nic_netdev(nic), ETHTOOL_TCP_DATA_SPLIT_ENABLED, 0),
		0);
	cr_assert_eq(open_rxq(nic, 7, mp), -ERANGE, "the range is checked first");
	cr_assert_eq(open_rxq(nic, 0, mp), -EOPNOTSUPP);
	assert_queue_unchanged(nic, 0, pool, 1);
	cr_assert_eq(restart(nic, 0), -EOPNOTSUPP);
	assert_queue_unchanged(nic, 0, pool, 1);
	test_nic_destroy(nic);
	fake_free(mp);
}

Test(netdev, open_rxq_with_header_split_off_is_einval)
{
	struct test_nic *nic = nic_new();
	struct page_pool *pool = test_nic_data_pool(nic, 1);
	struct fake_mp *mp = fake_new();

	cr_assert_eq(open_rxq(nic, 1, mp), -EINVAL);
	cr_assert_str_eq(devmem_last_error(), "rx queue 1: tcp-data-split is disabled");
	assert_queue_unchanged(nic, 1, pool, 1);
	cr_assert_eq(mp->init_calls, 0);
	test_nic_destroy(nic);
	fake_free(mp);
}

Test(netdev, open_rxq_with_nonzero_hds_thresh_is_einval)
{
	struct test_nic *nic = nic_new();
	struct page_pool *pool = test_nic_data_pool(nic, 1);
	struct fake_mp *mp = fake_new();

	cr_assert_eq(
		netdev_set_header_split(test_nic_netdev(nic), ETHTOOL_TCP_DATA_SPLIT_ENABLED, 128),
		0);
	cr_assert_eq(open_rxq(nic, 1, mp), -EINVAL);
	assert_error_has("hds-thresh is not zero");
	assert_queue_unchanged(nic, 1, pool, 1);
	test_nic_destroy(nic);
	fake_free(mp);
}

Test(netdev, open_rxq_with_xdp_program_is_eexist)
{
	struct test_nic *nic = nic_new_split();
	struct page_pool *pool = test_nic_data_pool(nic, 0);
	struct fake_mp *mp = fake_new();

	cr_assert_eq(netdev_set_xdp(test_nic_netdev(nic), true), 0);
	cr_assert_eq(open_rxq(nic, 0, mp), -EEXIST);
	assert_error_has("XDP program attached");
	assert_queue_unchanged(nic, 0, pool, 1);
	cr_assert_eq(netdev_set_xdp(test_nic_netdev(nic), false), 0);
	cr_assert_eq(open_rxq(nic, 0, mp), 0, "%s", devmem_last_error());
	test_nic_destroy(nic);
	fake_free(mp);
}

Test(netdev, open_rxq_on_queue_with_provider_is_eexist)
{
	struct test_nic *nic = nic_new_split();
	struct fake_mp *mp = fake_new(), *mp2 = fake_new();
	struct page_pool *pool;

	cr_assert_eq(open_rxq(nic, 3, mp), 0, "%s", devmem_last_error());
	pool = test_nic_data_pool(nic, 3);
	cr_assert_eq(open_rxq(nic, 3, mp2), -EEXIST);
	assert_error_has("designated queue already memory provider bound");
	cr_assert_eq(mp_of(nic, 3)->mp_priv, mp, "the first provider stays");
	cr_assert_eq(test_nic_data_pool(nic, 3), pool);
	cr_assert_eq(test_nic_starts(nic, 3), 2);
	cr_assert_eq(mp2->init_calls, 0);
	test_nic_destroy(nic);
	fake_free(mp);
	fake_free(mp2);
}

Test(netdev, open_rxq_on_queue_with_xsk_pool_is_ebusy)
{
	struct test_nic *nic = nic_new_split();
	struct page_pool *pool = test_nic_data_pool(nic, 2);
	struct fake_mp *mp = fake_new();

	cr_assert_eq(netdev_set_xsk_pool(test_nic_netdev(nic), 2, true), 0);
	cr_assert_eq(open_rxq(nic, 2, mp), -EBUSY);
	assert_error_has("designated queue already in use by AF_XDP");
	assert_queue_unchanged(nic, 2, pool, 1);
	cr_assert_eq(open_rxq(nic, 1, mp), 0, "other queues are free");
	test_nic_destroy(nic);
	fake_free(mp);
}

Test(netdev, open_rxq_checks_run_in_the_kernels_order)
{
	struct test_nic *nic = nic_new_split();
	struct net_device *dev = test_nic_netdev(nic);
	struct fake_mp *mp = fake_new(), *mp2 = fake_new();

	cr_assert_eq(open_rxq(nic, 0, mp), 0);
	cr_assert_eq(netdev_set_xsk_pool(dev, 1, true), 0);
	/* XDP can only be attached before a provider is: set the state behind the setter */
	netdev_lock(dev);
	dev->xdp_prog = true;
	dev->tcp_data_split = ETHTOOL_TCP_DATA_SPLIT_DISABLED;
	netdev_unlock(dev);

	cr_assert_eq(open_rxq(nic, 8, mp2), -ERANGE);
	cr_assert_eq(open_rxq(nic, 0, mp2), -EINVAL, "split off before XDP");
	netdev_lock(dev);
	dev->tcp_data_split = ETHTOOL_TCP_DATA_SPLIT_ENABLED;
	netdev_unlock(dev);
	cr_assert_eq(open_rxq(nic, 0, mp2), -EEXIST);
	assert_error_has("XDP");
	netdev_lock(dev);
	dev->xdp_prog = false;
	netdev_unlock(dev);
	cr_assert_eq(open_rxq(nic, 0, mp2), -EEXIST);
	assert_error_has("memory provider bound");
	cr_assert_eq(open_rxq(nic, 1, mp2), -EBUSY);
	cr_assert_eq(mp2->init_calls, 0);
	test_nic_destroy(nic);
	fake_free(mp);
	fake_free(mp2);
}

Test(netdev, open_rxq_without_provider_is_einval)
{
	struct test_nic *nic = nic_new_split();
	struct net_device *dev = test_nic_netdev(nic);
	struct pp_memory_provider_params none = { 0 };

	netdev_lock(dev);
	cr_assert_eq(net_mp_open_rxq(dev, 0, NULL), -EINVAL);
	cr_assert_eq(net_mp_open_rxq(dev, 0, &none), -EINVAL);
	netdev_unlock(dev);
	cr_assert_eq(test_nic_starts(nic, 0), 1);
	test_nic_destroy(nic);
}

/* ---- restart ---- */

Test(netdev, open_rxq_restarts_the_queue_onto_the_providers_net_iovs)
{
	struct test_nic *nic = nic_new_split();
	struct fake_mp *mp = fake_new();
	struct page_pool *old_data = test_nic_data_pool(nic, 1);
	struct page_pool *old_hdr = test_nic_header_pool(nic, 1);
	struct page_pool *other = test_nic_data_pool(nic, 0);
	struct page_pool *data, *hdr;
	netmem_ref d, h;

	cr_assert_eq(page_pool_nr_live(), 8, "two pools per queue");
	cr_assert_eq(open_rxq(nic, 1, mp), 0, "%s", devmem_last_error());
	cr_assert_eq(mp_of(nic, 1)->mp_ops, &fake_ops);
	cr_assert_eq(mp_of(nic, 1)->mp_priv, mp);
	data = test_nic_data_pool(nic, 1);
	hdr = test_nic_header_pool(nic, 1);
	cr_assert_neq(data, old_data);
	cr_assert_neq(hdr, old_hdr);
	cr_assert_eq(page_pool_nr_live(), 8, "the old pools were freed");
	cr_assert_eq(test_nic_starts(nic, 1), 2);
	cr_assert_eq(test_nic_data_pool(nic, 0), other, "other queues untouched");
	cr_assert_eq(test_nic_starts(nic, 0), 1);
	cr_assert_eq(mp->init_calls, 1, "only the data pool took the provider");

	/* the pools carry the queue, so dumps and the provider check can find them */
	cr_assert_eq(data->p.queue, __netif_get_rx_queue(test_nic_netdev(nic), 1));
	cr_assert_eq(data->p.ifindex, test_nic_ifindex(nic));
	cr_assert_eq(data->p.napi_id, __netif_get_rx_queue(test_nic_netdev(nic), 1)->napi_id);
	cr_assert_eq(data->p.dev, test_nic_device(nic));
	cr_assert(page_pool_queue_uses_provider(data->p.queue, mp));

	d = test_nic_rx_alloc(nic, 1);
	cr_assert(netmem_is_net_iov(d), "the data pool hands out the provider's net_iovs");
	cr_assert_eq(net_iov_owner(netmem_to_net_iov(d)), &mp->area);
	h = page_pool_alloc_netmems(hdr);
	cr_assert(!netmem_is_net_iov(h), "the header pool hands out host pages");
	cr_assert_not_null(netmem_address(h));
	test_nic_rx_put(d);
	test_nic_rx_put(h);

	test_nic_destroy(nic);
	cr_assert_eq(mp->destroy_calls, 1);
	cr_assert_eq(page_pool_nr_live(), 0);
	fake_free(mp);
}

Test(netdev, restart_swaps_pools_and_frees_the_old_ones)
{
	struct test_nic *nic = nic_new();
	struct page_pool *old = test_nic_data_pool(nic, 2);
	netmem_ref held = test_nic_rx_alloc(nic, 2);

	cr_assert_neq(held, 0);
	cr_assert_eq(restart(nic, 2), 0, "%s", devmem_last_error());
	cr_assert_neq(test_nic_data_pool(nic, 2), old);
	cr_assert_eq(test_nic_starts(nic, 2), 2);
	cr_assert_eq(page_pool_nr_live(), 9, "the old data pool waits for its last netmem");
	cr_assert_eq(page_pool_inflight(old), 1);
	test_nic_rx_put(held);
	cr_assert_eq(page_pool_nr_live(), 8, "and dies when it comes back");
	assert_serves_host_pages(nic, 2, test_nic_data_pool(nic, 2));
	test_nic_destroy(nic);
	cr_assert_eq(page_pool_nr_live(), 0);
}

Test(netdev, restart_with_bad_index_is_erange)
{
	struct test_nic *nic = nic_new();

	cr_assert_eq(restart(nic, 4), -ERANGE);
	cr_assert_eq(page_pool_nr_live(), 8);
	test_nic_destroy(nic);
}

Test(netdev, a_restart_whose_new_allocation_fails_keeps_the_old_queue_serving)
{
	struct test_nic *nic = nic_new_split();
	struct page_pool *pool = test_nic_data_pool(nic, 1);
	struct fake_mp *mp = fake_new();

	set_faults(nic, -ENOMEM, 0, 0, false);
	cr_assert_eq(restart(nic, 1), -ENOMEM);
	assert_error_has("rx queue 1: allocating the queue memory failed");
	assert_queue_unchanged(nic, 1, pool, 1);
	cr_assert_eq(open_rxq(nic, 1, mp), -ENOMEM);
	assert_queue_unchanged(nic, 1, pool, 1);
	cr_assert_eq(page_pool_nr_live(), 8, "nothing half-built is left");
	set_faults(nic, 0, 0, 0, false);
	cr_assert_eq(open_rxq(nic, 1, mp), 0, "the queue is as good as before");
	test_nic_destroy(nic);
	fake_free(mp);
}

Test(netdev, a_restart_whose_stop_fails_keeps_the_old_queue_serving)
{
	struct test_nic *nic = nic_new_split();
	struct page_pool *pool = test_nic_data_pool(nic, 0);
	struct fake_mp *mp = fake_new();

	set_faults(nic, 0, -EIO, 0, false);
	cr_assert_eq(open_rxq(nic, 0, mp), -EIO);
	assert_error_has("injected stop failure");
	assert_queue_unchanged(nic, 0, pool, 1);
	cr_assert_eq(mp->init_calls, 1, "the new data pool took the provider");
	cr_assert_eq(mp->destroy_calls, 1, "and was freed");
	cr_assert_eq(page_pool_nr_live(), 8);
	test_nic_destroy(nic);
	fake_free(mp);
}

Test(netdev, a_restart_whose_start_fails_restarts_the_old_memory)
{
	struct test_nic *nic = nic_new_split();
	struct page_pool *pool = test_nic_data_pool(nic, 3);
	struct page_pool *hdr = test_nic_header_pool(nic, 3);
	struct fake_mp *mp = fake_new();

	set_faults(nic, 0, 0, -EIO, false);
	cr_assert_eq(open_rxq(nic, 3, mp), -EIO);
	assert_error_has("rx queue 3: starting the queue on its new memory failed");
	assert_queue_unchanged(nic, 3, pool, 2); /* started again on the old memory */
	cr_assert_eq(test_nic_header_pool(nic, 3), hdr);
	cr_assert_eq(mp->destroy_calls, mp->init_calls, "the new pools are gone");
	cr_assert_eq(page_pool_nr_live(), 8);

	cr_assert_eq(open_rxq(nic, 3, mp), 0, "the fault fired once");
	cr_assert_eq(test_nic_starts(nic, 3), 3);
	test_nic_destroy(nic);
	fake_free(mp);
}

Test(netdev, open_rxq_on_a_driver_without_unreadable_netmem_is_enodata)
{
	struct test_nic *nic = nic_new_split();
	struct page_pool *pool = test_nic_data_pool(nic, 2);
	struct fake_mp *mp = fake_new();

	set_faults(nic, 0, 0, 0, true);
	cr_assert_eq(open_rxq(nic, 2, mp), -ENODATA);
	assert_error_has(
		"rx queue 2: no page pool of the restarted queue took the memory provider");
	assert_queue_unchanged(nic, 2, pool, 1);
	cr_assert_eq(mp->init_calls, 0);
	cr_assert_eq(page_pool_nr_live(), 8);

	/* without a provider there is nothing to check: the restart goes through */
	cr_assert_eq(restart(nic, 2), 0);
	cr_assert_eq(test_nic_starts(nic, 2), 2);
	test_nic_destroy(nic);
	fake_free(mp);
}

Test(netdev, close_rxq_clears_the_provider_and_restarts_on_host_pages)
{
	struct test_nic *nic = nic_new_split();
	struct fake_mp *mp = fake_new();
	netmem_ref held;

	cr_assert_eq(open_rxq(nic, 0, mp), 0);
	held = test_nic_rx_alloc(nic, 0);
	cr_assert(netmem_is_net_iov(held));
	cr_assert_eq(close_rxq(nic, 0, mp), 0, "%s", devmem_last_error());
	cr_assert_null(mp_of(nic, 0)->mp_ops);
	cr_assert_eq(test_nic_starts(nic, 0), 3);
	assert_serves_host_pages(nic, 0, test_nic_data_pool(nic, 0));
	cr_assert_eq(mp->destroy_calls, 0, "a net_iov is still out: its pool lives");
	test_nic_rx_put(held);
	cr_assert_eq(mp->destroy_calls, 1);
	cr_assert_eq(fake_nr_out(mp), 0);
	cr_assert_eq(mp->uninstall_calls, 0, "close is not an uninstall");
	test_nic_destroy(nic);
	fake_free(mp);
}

Test(netdev, close_rxq_whose_restart_fails_keeps_the_provider)
{
	struct test_nic *nic = nic_new_split();
	struct fake_mp *mp = fake_new();
	struct page_pool *pool;
	netmem_ref nm;

	cr_assert_eq(open_rxq(nic, 1, mp), 0);
	pool = test_nic_data_pool(nic, 1);
	set_faults(nic, -ENOMEM, 0, 0, false);
	cr_assert_eq(close_rxq(nic, 1, mp), -ENOMEM);
	cr_assert_eq(mp_of(nic, 1)->mp_ops, &fake_ops, "the provider is put back");
	cr_assert_eq(mp_of(nic, 1)->mp_priv, mp);
	cr_assert_eq(test_nic_data_pool(nic, 1), pool);
	nm = test_nic_rx_alloc(nic, 1);
	cr_assert(netmem_is_net_iov(nm), "and the queue still serves from it");
	test_nic_rx_put(nm);
	set_faults(nic, 0, 0, 0, false);
	cr_assert_eq(close_rxq(nic, 1, mp), 0);
	test_nic_destroy(nic);
	cr_assert_eq(mp->uninstall_calls, 0);
	fake_free(mp);
}

Test(netdev, close_rxq_of_another_provider_is_einval)
{
	struct test_nic *nic = nic_new_split();
	struct fake_mp *mp = fake_new(), *mp2 = fake_new();

	cr_assert_eq(open_rxq(nic, 1, mp), 0);
	cr_assert_eq(close_rxq(nic, 1, mp2), -EINVAL);
	cr_assert_eq(close_rxq(nic, 2, mp), -EINVAL, "a queue without a provider");
	cr_assert_eq(mp_of(nic, 1)->mp_priv, mp);
	cr_assert_eq(test_nic_starts(nic, 1), 2);
	test_nic_destroy(nic);
	cr_assert_eq(mp->uninstall_calls, 1, "destroying the NIC uninstalls it");
	fake_free(mp);
	fake_free(mp2);
}

#ifndef NDEBUG
Test(netdev, restart_without_the_device_lock_aborts_in_debug_builds, .signal = SIGABRT)
{
	struct test_nic *nic = nic_new();

	netdev_rx_queue_restart(test_nic_netdev(nic), 0);
}

static void *lock_holder(void *arg)
{
	netdev_lock(arg);
	return NULL;
}

Test(netdev, the_lock_held_by_another_thread_does_not_count, .signal = SIGABRT)
{
	struct test_nic *nic = nic_new();
	pthread_t t;

	pthread_create(&t, NULL, lock_holder, test_nic_netdev(nic));
	pthread_join(t, NULL);
	netdev_assert_locked(test_nic_netdev(nic));
}
#endif

/* ---- ethtool settings ---- */

Test(netdev, header_split_is_set_and_bad_values_are_einval)
{
	struct test_nic *nic = nic_new_opts(&(struct test_nic_opts){ .hds_thresh_max = 512 });
	struct net_device *dev = test_nic_netdev(nic);

	cr_assert_eq(netdev_set_header_split(dev, ETHTOOL_TCP_DATA_SPLIT_ENABLED, 512), 0);
	cr_assert_eq(dev->tcp_data_split, ETHTOOL_TCP_DATA_SPLIT_ENABLED);
	cr_assert_eq(dev->hds_thresh, 512);
	cr_assert_eq(netdev_set_header_split(dev, ETHTOOL_TCP_DATA_SPLIT_ENABLED, 513), -EINVAL);
	assert_error_has("hds-thresh is greater than the maximum allowed");
	cr_assert_eq(netdev_set_header_split(dev, ETHTOOL_TCP_DATA_SPLIT_UNKNOWN, 0), -EINVAL);
	cr_assert_eq(netdev_set_header_split(dev, 7, 0), -EINVAL);
	cr_assert_eq(dev->tcp_data_split, ETHTOOL_TCP_DATA_SPLIT_ENABLED, "unchanged");
	cr_assert_eq(dev->hds_thresh, 512);
	cr_assert_eq(netdev_set_header_split(dev, ETHTOOL_TCP_DATA_SPLIT_DISABLED, 0), 0);
	cr_assert_eq(dev->tcp_data_split, ETHTOOL_TCP_DATA_SPLIT_DISABLED);
	test_nic_destroy(nic);
}

Test(netdev, disabling_header_split_with_a_provider_is_einval)
{
	struct test_nic *nic = nic_new_split();
	struct net_device *dev = test_nic_netdev(nic);
	struct fake_mp *mp = fake_new();

	cr_assert_eq(open_rxq(nic, 0, mp), 0);
	cr_assert_eq(netdev_set_header_split(dev, ETHTOOL_TCP_DATA_SPLIT_DISABLED, 0), -EINVAL);
	assert_error_has("can't disable tcp-data-split while device has memory provider enabled");
	cr_assert_eq(dev->tcp_data_split, ETHTOOL_TCP_DATA_SPLIT_ENABLED);
	cr_assert_eq(netdev_set_header_split(dev, ETHTOOL_TCP_DATA_SPLIT_ENABLED, 0), 0,
		     "setting what is already there is fine");
	cr_assert_eq(close_rxq(nic, 0, mp), 0);
	cr_assert_eq(netdev_set_header_split(dev, ETHTOOL_TCP_DATA_SPLIT_DISABLED, 0), 0);
	test_nic_destroy(nic);
	fake_free(mp);
}

Test(netdev, nonzero_hds_thresh_with_a_provider_is_einval)
{
	struct test_nic *nic = nic_new_split();
	struct net_device *dev = test_nic_netdev(nic);
	struct fake_mp *mp = fake_new();

	cr_assert_eq(open_rxq(nic, 3, mp), 0);
	cr_assert_eq(netdev_set_header_split(dev, ETHTOOL_TCP_DATA_SPLIT_ENABLED, 64), -EINVAL);
	assert_error_has("hds_thresh");
	cr_assert_eq(dev->hds_thresh, 0);
	test_nic_destroy(nic);
	fake_free(mp);
}

Test(netdev, attaching_xdp_with_a_provider_is_ebusy)
{
	struct test_nic *nic = nic_new_split();
	struct net_device *dev = test_nic_netdev(nic);
	struct fake_mp *mp = fake_new();

	cr_assert_eq(netdev_set_xdp(dev, true), 0);
	cr_assert(dev->xdp_prog);
	cr_assert_eq(netdev_set_xdp(dev, false), 0);
	cr_assert_eq(open_rxq(nic, 2, mp), 0);
	cr_assert_eq(netdev_set_xdp(dev, true), -EBUSY);
	assert_error_has("memory provider");
	cr_assert(!dev->xdp_prog);
	cr_assert_eq(netdev_set_xdp(dev, false), 0, "detaching is always allowed");
	test_nic_destroy(nic);
	fake_free(mp);
}

Test(netdev, an_af_xdp_pool_on_a_queue_with_a_provider_is_ebusy)
{
	struct test_nic *nic = nic_new_split();
	struct net_device *dev = test_nic_netdev(nic);
	struct fake_mp *mp = fake_new();

	cr_assert_eq(open_rxq(nic, 1, mp), 0);
	cr_assert_eq(netdev_set_xsk_pool(dev, 1, true), -EBUSY);
	cr_assert(!dev->_rx[1].xsk_pool);
	cr_assert_eq(netdev_set_xsk_pool(dev, 2, true), 0, "a queue without a provider is fine");
	cr_assert(dev->_rx[2].xsk_pool);
	cr_assert_eq(netdev_set_xsk_pool(dev, 2, true), -EBUSY, "one pool per queue");
	cr_assert_eq(netdev_set_xsk_pool(dev, 4, true), -EINVAL, "no such queue");
	cr_assert_eq(netdev_set_xsk_pool(dev, 2, false), 0);
	cr_assert(!dev->_rx[2].xsk_pool);
	test_nic_destroy(nic);
	fake_free(mp);
}

Test(netdev, rss_equal_spreads_over_n_queues_and_bad_n_is_einval)
{
	struct test_nic *nic = nic_new();
	struct net_device *dev = test_nic_netdev(nic);

	cr_assert_eq(netdev_set_rss_equal(dev, 3), 0);
	for (unsigned int i = 0; i < DEVMEM_RSS_INDIR_SIZE; i++)
		cr_assert_eq(dev->rss_indir[i], i % 3);
	cr_assert_eq(netdev_set_rss_equal(dev, 0), -EINVAL);
	cr_assert_eq(netdev_set_rss_equal(dev, 5), -EINVAL);
	for (unsigned int i = 0; i < DEVMEM_RSS_INDIR_SIZE; i++)
		cr_assert_eq(dev->rss_indir[i], i % 3, "unchanged");
	cr_assert_eq(netdev_set_rss_equal(dev, 1), 0);
	cr_assert_eq(dev->rss_indir[DEVMEM_RSS_INDIR_SIZE - 1], 0);
	test_nic_destroy(nic);
}

static struct devmem_flow_rule v4_rule(const char *dst, uint16_t dport, uint32_t queue)
{
	struct devmem_flow_rule r = { .flow_type = TCP_V4_FLOW, .queue = queue };

	if (dst)
		cr_assert_eq(inet_pton(AF_INET, dst, r.dst_addr), 1);
	r.dst_port = htons(dport);
	return r;
}

static struct netdev_flow_key v4_key(const char *src, uint16_t sport, const char *dst,
				     uint16_t dport)
{
	struct netdev_flow_key k = { .family = AF_INET };

	cr_assert_eq(inet_pton(AF_INET, src, k.src_addr), 1);
	cr_assert_eq(inet_pton(AF_INET, dst, k.dst_addr), 1);
	k.src_port = htons(sport);
	k.dst_port = htons(dport);
	return k;
}

Test(netdev, flow_rule_with_bad_type_or_queue_is_einval)
{
	struct test_nic *nic = nic_new();
	struct net_device *dev = test_nic_netdev(nic);
	struct devmem_flow_rule r = v4_rule(NULL, 80, 1);
	uint32_t loc = 77;

	r.flow_type = 0x03; /* SCTP_V4_FLOW: no SCTP steering */
	cr_assert_eq(netdev_flow_rule_add(dev, &r, &loc), -EINVAL);
	r = v4_rule(NULL, 80, 4);
	cr_assert_eq(netdev_flow_rule_add(dev, &r, &loc), -EINVAL);
	cr_assert_eq(netdev_flow_rule_add(dev, NULL, &loc), -EINVAL);
	cr_assert_eq(loc, 77);
	cr_assert_eq(dev->nr_flow_rules, 0);
	cr_assert_eq(netdev_flow_rule_list(dev, NULL, NULL, 0), 0);
	test_nic_destroy(nic);
}

Test(netdev, flow_rules_take_the_lowest_free_location_and_list_in_order)
{
	struct test_nic *nic = nic_new();
	struct net_device *dev = test_nic_netdev(nic);
	struct devmem_flow_rule rules[4];
	uint32_t loc, locs[4];

	for (uint32_t i = 0; i < 4; i++) {
		struct devmem_flow_rule r = v4_rule(NULL, (uint16_t)(1000 + i), i);

		cr_assert_eq(netdev_flow_rule_add(dev, &r, &loc), 0);
		cr_assert_eq(loc, i);
	}
	cr_assert_eq(netdev_flow_rule_del(dev, 1), 0);
	cr_assert_eq(netdev_flow_rule_del(dev, 1), -ENOENT);
	assert_error_has("no flow rule at location 1");
	cr_assert_eq(netdev_flow_rule_del(dev, 9), -ENOENT);
	rules[0] = v4_rule(NULL, 2000, 3);
	cr_assert_eq(netdev_flow_rule_add(dev, &rules[0], &loc), 0);
	cr_assert_eq(loc, 1, "the gap is filled first");
	rules[0] = v4_rule(NULL, 2001, 3);
	cr_assert_eq(netdev_flow_rule_add(dev, &rules[0], &loc), 0);
	cr_assert_eq(loc, 4);

	memset(rules, 0, sizeof(rules));
	cr_assert_eq(netdev_flow_rule_list(dev, rules, locs, 4), 5, "how many there are");
	for (uint32_t i = 0; i < 4; i++)
		cr_assert_eq(locs[i], i, "in location order");
	cr_assert_eq(ntohs(rules[0].dst_port), 1000);
	cr_assert_eq(ntohs(rules[1].dst_port), 2000);
	cr_assert_eq(rules[1].queue, 3);
	cr_assert_eq(ntohs(rules[3].dst_port), 1003);
	test_nic_destroy(nic);
}

Test(netdev, flow_rules_beyond_the_maximum_are_enospc)
{
	struct test_nic *nic = nic_new();
	struct net_device *dev = test_nic_netdev(nic);
	struct devmem_flow_rule r = v4_rule(NULL, 80, 0);
	uint32_t loc;

	for (uint32_t i = 0; i < DEVMEM_MAX_FLOW_RULES; i++)
		cr_assert_eq(netdev_flow_rule_add(dev, &r, &loc), 0);
	cr_assert_eq(loc, DEVMEM_MAX_FLOW_RULES - 1);
	cr_assert_eq(netdev_flow_rule_add(dev, &r, &loc), -ENOSPC);
	cr_assert_eq(dev->nr_flow_rules, DEVMEM_MAX_FLOW_RULES);
	cr_assert_eq(netdev_flow_rule_del(dev, 17), 0);
	cr_assert_eq(netdev_flow_rule_add(dev, &r, &loc), 0);
	cr_assert_eq(loc, 17);
	test_nic_destroy(nic);
}

Test(netdev, steering_takes_the_first_matching_rule_by_location)
{
	struct test_nic *nic = nic_new();
	struct net_device *dev = test_nic_netdev(nic);
	struct devmem_flow_rule wide = v4_rule(NULL, 5201, 2);
	struct devmem_flow_rule narrow = v4_rule("10.0.0.1", 5201, 3);
	struct netdev_flow_key k = v4_key("10.0.0.2", 40000, "10.0.0.1", 5201);
	uint32_t loc;

	cr_assert_eq(netdev_flow_rule_add(dev, &narrow, &loc), 0);
	cr_assert_eq(netdev_flow_rule_add(dev, &wide, &loc), 0);
	cr_assert_eq(netdev_steer_flow(dev, &k, 0), 3, "location 0 first");
	k = v4_key("10.0.0.2", 40000, "10.0.0.9", 5201);
	cr_assert_eq(netdev_steer_flow(dev, &k, 0), 2, "a zero address is a wildcard");
	cr_assert_eq(netdev_flow_rule_del(dev, 0), 0);
	k = v4_key("10.0.0.2", 40000, "10.0.0.1", 5201);
	cr_assert_eq(netdev_steer_flow(dev, &k, 0), 2);

	narrow = v4_rule("10.0.0.1", 0, 1);
	inet_pton(AF_INET, "10.0.0.2", narrow.src_addr);
	narrow.src_port = htons(40000);
	cr_assert_eq(netdev_flow_rule_add(dev, &narrow, &loc), 0);
	cr_assert_eq(loc, 0);
	cr_assert_eq(netdev_steer_flow(dev, &k, 0), 1, "every field matches; dport wildcard");
	k.src_port = htons(40001);
	cr_assert_eq(netdev_steer_flow(dev, &k, 0), 2, "one field off: the next rule");
	test_nic_destroy(nic);
}

Test(netdev, steering_matches_v4_rules_to_v4_flows_only)
{
	struct test_nic *nic = nic_new();
	struct net_device *dev = test_nic_netdev(nic);
	struct devmem_flow_rule v4 = v4_rule(NULL, 443, 3);
	struct devmem_flow_rule v6 = { .flow_type = TCP_V6_FLOW, .queue = 2 };
	struct netdev_flow_key k = { .family = AF_INET6, .dst_port = htons(443) };
	uint32_t loc;

	cr_assert_eq(inet_pton(AF_INET6, "fd00::1", k.dst_addr), 1);
	cr_assert_eq(netdev_flow_rule_add(dev, &v4, &loc), 0);
	cr_assert_eq(netdev_steer_flow(dev, &k, 5), dev->rss_indir[5], "a v4 rule ignores v6");
	cr_assert_eq(inet_pton(AF_INET6, "fd00::1", v6.dst_addr), 1);
	cr_assert_eq(netdev_flow_rule_add(dev, &v6, &loc), 0);
	cr_assert_eq(netdev_steer_flow(dev, &k, 5), 2);
	cr_assert_eq(inet_pton(AF_INET6, "fd00::2", k.dst_addr), 1);
	cr_assert_eq(netdev_steer_flow(dev, &k, 5), dev->rss_indir[5], "all 16 bytes compared");

	k = v4_key("1.2.3.4", 1, "5.6.7.8", 443);
	cr_assert_eq(netdev_flow_rule_del(dev, 0), 0);
	cr_assert_eq(netdev_steer_flow(dev, &k, 5), dev->rss_indir[5], "a v6 rule ignores v4");
	test_nic_destroy(nic);
}

Test(netdev, steering_without_a_rule_uses_the_rss_table)
{
	struct test_nic *nic = nic_new();
	struct net_device *dev = test_nic_netdev(nic);
	struct netdev_flow_key k = v4_key("1.2.3.4", 1, "5.6.7.8", 9);

	cr_assert_eq(netdev_steer_flow(dev, &k, 6), 2, "equal over 4: 6 %% 4");
	cr_assert_eq(netdev_steer_flow(dev, &k, DEVMEM_RSS_INDIR_SIZE + 3), 3, "hash wraps");
	cr_assert_eq(netdev_set_rss_equal(dev, 2), 0);
	cr_assert_eq(netdev_steer_flow(dev, &k, 7), 1);
	for (uint32_t h = 0; h < 1000; h++)
		cr_assert_lt(netdev_steer_flow(dev, &k, h), 2);
	test_nic_destroy(nic);
}

/* ---- channels ---- */

Test(netdev, channels_below_a_queue_with_a_provider_are_einval)
{
	struct test_nic *nic = nic_new_split();
	struct net_device *dev = test_nic_netdev(nic);
	struct fake_mp *mp = fake_new();

	cr_assert_eq(open_rxq(nic, 2, mp), 0);
	cr_assert_eq(netdev_set_channels(dev, 2, 4), -EINVAL);
	assert_error_has(
		"requested channel counts are too low for existing memory provider setting");
	cr_assert_eq(dev->real_num_rx_queues, 4);
	cr_assert_eq(dev->real_num_tx_queues, 4);
	cr_assert_eq(netdev_set_channels(dev, 3, 1), 0, "the provider's queue stays");
	cr_assert_eq(dev->real_num_rx_queues, 3);
	cr_assert_eq(dev->real_num_tx_queues, 1);
	cr_assert_eq(open_rxq(nic, 3, mp), -ERANGE, "queue 3 is gone");
	test_nic_destroy(nic);
	fake_free(mp);
}

Test(netdev, channels_out_of_bounds_are_einval)
{
	struct test_nic *nic = nic_new();
	struct net_device *dev = test_nic_netdev(nic);

	cr_assert_eq(netdev_set_channels(dev, 0, 1), -EINVAL);
	cr_assert_eq(netdev_set_channels(dev, 1, 0), -EINVAL);
	cr_assert_eq(netdev_set_channels(dev, 5, 1), -EINVAL);
	cr_assert_eq(netdev_set_channels(dev, 1, 5), -EINVAL);
	cr_assert_eq(dev->real_num_rx_queues, 4);
	cr_assert_eq(dev->real_num_tx_queues, 4);
	test_nic_destroy(nic);
}

Test(netdev, channels_respread_the_default_rss_table_but_not_a_users)
{
	struct test_nic *nic = nic_new();
	struct net_device *dev = test_nic_netdev(nic);
	struct devmem_flow_rule r = v4_rule(NULL, 80, 2);
	uint32_t loc;

	cr_assert_eq(netdev_set_channels(dev, 2, 2), 0);
	for (unsigned int i = 0; i < DEVMEM_RSS_INDIR_SIZE; i++)
		cr_assert_eq(dev->rss_indir[i], i % 2);
	cr_assert_eq(netdev_set_channels(dev, 4, 4), 0);
	cr_assert_eq(dev->rss_indir[3], 3, "and back up");

	cr_assert_eq(netdev_set_rss_equal(dev, 3), 0);
	cr_assert_eq(netdev_set_channels(dev, 2, 2), -EINVAL);
	assert_error_has("indirection table");
	cr_assert_eq(netdev_set_rss_equal(dev, 2), 0);
	cr_assert_eq(netdev_flow_rule_add(dev, &r, &loc), 0);
	cr_assert_eq(netdev_set_channels(dev, 2, 2), -EINVAL);
	assert_error_has("ntuple filter");
	cr_assert_eq(netdev_set_channels(dev, 3, 2), 0);
	cr_assert_eq(dev->real_num_rx_queues, 3);
	cr_assert_eq(dev->rss_indir[2], 0, "the user's table is kept");
	test_nic_destroy(nic);
}

Test(netdev, test_nic_starts_every_queue_on_host_pages)
{
	struct test_nic *nic =
		nic_new_opts(&(struct test_nic_opts){ .rx_queues = 3, .tx_queues = 5 });
	struct net_device *dev = test_nic_netdev(nic);
	char name[32];

	cr_assert_eq(dev->num_rx_queues, 3);
	cr_assert_eq(dev->num_tx_queues, 5);
	cr_assert_eq(dev->ifindex, test_nic_ifindex(nic));
	cr_assert_geq(dev->ifindex, 1000);
	cr_assert_eq(dev->dev, test_nic_device(nic));
	snprintf(name, sizeof(name), "tnic%d-dma", dev->ifindex);
	cr_assert_str_eq(device_name(test_nic_device(nic)), name);
	snprintf(name, sizeof(name), "tnic%d", dev->ifindex);
	cr_assert_str_eq(dev->name, name);
	for (unsigned int i = 0; i < 3; i++) {
		cr_assert_eq(test_nic_starts(nic, i), 1);
		cr_assert_null(test_nic_data_pool(nic, i)->mp_ops);
		cr_assert(test_nic_data_pool(nic, i)->p.flags & PP_FLAG_ALLOW_UNREADABLE_NETMEM);
		cr_assert(
			!(test_nic_header_pool(nic, i)->p.flags & PP_FLAG_ALLOW_UNREADABLE_NETMEM));
		assert_serves_host_pages(nic, i, test_nic_data_pool(nic, i));
	}
	test_nic_destroy(nic);
	cr_assert_eq(page_pool_nr_live(), 0);
	test_nic_destroy(NULL);
}

Test(netdev, steering_to_an_rss_context_uses_the_contexts_table)
{
	struct test_nic *nic = nic_new();
	struct net_device *dev = test_nic_netdev(nic);
	struct netdev_flow_key k = v4_key("1.2.3.4", 1, "5.6.7.8", 9);
	struct devmem_flow_rule r = v4_rule("5.6.7.8", 9, 0);
	uint32_t indir[DEVMEM_RSS_INDIR_SIZE], ctx, loc;

	for (unsigned int i = 0; i < DEVMEM_RSS_INDIR_SIZE; i++)
		indir[i] = 2 + i % 2;
	cr_assert_eq(netdev_rss_context_create(dev, indir, &ctx), 0);
	r.rss_context = ctx;
	cr_assert_eq(netdev_flow_rule_insert(dev, &r, RX_CLS_LOC_ANY, &loc), 0);
	cr_assert_eq(netdev_steer_flow(dev, &k, 6), 2);
	cr_assert_eq(netdev_steer_flow(dev, &k, 7), 3);
	cr_assert_eq(netdev_rss_context_delete(dev, ctx), -EBUSY);
	cr_assert_eq(netdev_flow_rule_del(dev, loc), 0);
	cr_assert_eq(netdev_rss_context_delete(dev, ctx), 0);
	cr_assert_eq(netdev_rss_context_delete(dev, ctx), -ENOENT);
	test_nic_destroy(nic);
}

Test(netdev, udp_rules_never_steer_tcp_flows)
{
	struct test_nic *nic = nic_new();
	struct net_device *dev = test_nic_netdev(nic);
	struct netdev_flow_key k = v4_key("1.2.3.4", 1, "5.6.7.8", 9);
	struct devmem_flow_rule r = v4_rule("5.6.7.8", 9, 3);
	uint32_t loc;

	r.flow_type = UDP_V4_FLOW;
	cr_assert_eq(netdev_flow_rule_add(dev, &r, &loc), 0);
	cr_assert_eq(netdev_steer_flow(dev, &k, 5), dev->rss_indir[5]);
	test_nic_destroy(nic);
}

Test(netdev, channels_below_a_queue_an_rss_context_uses_are_einval)
{
	struct test_nic *nic = nic_new();
	struct net_device *dev = test_nic_netdev(nic);
	uint32_t indir[DEVMEM_RSS_INDIR_SIZE] = { 0 }, ctx;

	indir[9] = 3;
	cr_assert_eq(netdev_rss_context_create(dev, indir, &ctx), 0);
	cr_assert_eq(netdev_set_channels(dev, 3, 3), -EINVAL);
	assert_error_has("RSS context");
	cr_assert_eq(netdev_rss_context_delete(dev, ctx), 0);
	cr_assert_eq(netdev_set_channels(dev, 3, 3), 0);
	test_nic_destroy(nic);
}

Test(netdev, turning_ntuple_off_deletes_every_flow_rule)
{
	struct test_nic *nic = nic_new();
	struct net_device *dev = test_nic_netdev(nic);
	struct devmem_flow_rule r = v4_rule(NULL, 80, 1);
	uint64_t hw, wanted, active;
	uint32_t loc;

	cr_assert_eq(netdev_set_features(dev, DEVMEM_NETIF_F_NTUPLE, DEVMEM_NETIF_F_NTUPLE), 0);
	cr_assert_eq(netdev_flow_rule_add(dev, &r, &loc), 0);
	cr_assert_eq(netdev_set_features(dev, DEVMEM_NETIF_F_NTUPLE, 0), 0);
	netdev_get_features(dev, &hw, &wanted, &active);
	cr_assert_not(active & DEVMEM_NETIF_F_NTUPLE);
	cr_assert_eq(dev->nr_flow_rules, 0);
	cr_assert_eq(netdev_set_features(dev, 1ULL << 16, 1ULL << 16), 1, "a fixed feature");
	test_nic_destroy(nic);
}
