// SPDX-License-Identifier: MIT
/*
 * devmem bindings and the dma-buf memory provider: bind-rx and bind-tx, the
 * kernel's refusals (each leaving nothing behind), the chunk layout, net_iov
 * sizes, ids, the provider's checks, and the binding's lifetime past unbind.
 * Also the cyclic id allocator the binding ids come from (idr_ tests).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devmem/device.h"
#include "devmem/dma-buf.h"
#include "devmem/error.h"
#include "devmem/host.h"
#include "devmem/netdev.h"
#include "devmem/vram.h"
#include "lib/compiler.h"
#include "lib/idr.h"
#include "lib/refcount.h"
#include "net/devmem.h"
#include "net/netdev.h"
#include "net/page_pool.h"
#include "support/test-nic.h"
#include "harness.h"

#define NR_QUEUES 4
#define SG_ALIGN_MSG "dma-buf SG length must be PAGE_SIZE aligned"

/* ---- set-up helpers ---- */

static struct test_nic *nic_new_opts(const struct test_nic_opts *opts, bool header_split)
{
	struct test_nic *nic = NULL;

	cr_assert_eq(test_nic_create(opts, &nic), 0, "%s", devmem_last_error());
	if (header_split)
		cr_assert_eq(netdev_set_header_split(test_nic_netdev(nic),
						     ETHTOOL_TCP_DATA_SPLIT_ENABLED, 0),
			     0, "%s", devmem_last_error());
	return nic;
}

/* A NIC ready for devmem: NR_QUEUES rx queues, header split on, threshold 0. */
static struct test_nic *nic_new(void)
{
	return nic_new_opts(NULL, true);
}

static struct test_nic *nic_new_tx(void)
{
	struct test_nic_opts opts = { .netmem_tx = true };

	return nic_new_opts(&opts, true);
}

/* A host buffer of @pages pages; @lengths (may be NULL) lays out its sg entries. */
static struct dma_buf *host_buf(size_t pages, const size_t *lengths, unsigned int n)
{
	struct host_buffer_opts opts = { .sz = sizeof(opts),
					 .sg_lengths = lengths,
					 .num_sg_lengths = n };
	struct dma_buf *buf = NULL;

	cr_assert_eq(devmem_host_buffer_create(pages * PAGE_SIZE, &opts, &buf), 0, "%s",
		     devmem_last_error());
	return buf;
}

static unsigned int refs_of(struct dma_buf *buf)
{
	return kref_read(&buf->refcount);
}

static int bind_rx_shift(struct test_nic *nic, struct dma_buf *buf, const uint32_t *qids,
			 unsigned int nr, unsigned int shift,
			 struct net_devmem_dmabuf_binding **out)
{
	struct devmem_queue_id queues[8];
	int fd = dma_buf_fd(buf, O_CLOEXEC), err;

	cr_assert_geq(fd, 0);
	cr_assert_leq(nr, 8);
	for (unsigned int i = 0; i < nr; i++)
		queues[i] = (struct devmem_queue_id){ .id = qids[i], .type = NETDEV_QUEUE_TYPE_RX };
	err = net_devmem_bind_rx(test_nic_netdev(nic), fd, queues, nr, shift, out);
	/* the binding holds the buffer, not the fd */
	close(fd);
	return err;
}

static int bind_rx(struct test_nic *nic, struct dma_buf *buf, const uint32_t *qids, unsigned int nr,
		   struct net_devmem_dmabuf_binding **out)
{
	return bind_rx_shift(nic, buf, qids, nr, PAGE_SHIFT, out);
}

static struct net_devmem_dmabuf_binding *bind_rx_ok(struct test_nic *nic, struct dma_buf *buf,
						    uint32_t qid)
{
	struct net_devmem_dmabuf_binding *binding = NULL;

	cr_assert_eq(bind_rx(nic, buf, &qid, 1, &binding), 0, "%s", devmem_last_error());
	cr_assert_not_null(binding);
	return binding;
}

/* A binding with no queue (bind_dmabuf alone), for the provider and id tests. */
static int bind_plain(struct test_nic *nic, struct dma_buf *buf, enum dma_data_direction dir,
		      unsigned int shift, struct net_devmem_dmabuf_binding **out)
{
	int fd = dma_buf_fd(buf, O_CLOEXEC), err;

	cr_assert_geq(fd, 0);
	err = net_devmem_bind_dmabuf(test_nic_netdev(nic), dir, fd, shift, out);
	close(fd);
	return err;
}

static struct net_devmem_dmabuf_binding *bind_plain_ok(struct test_nic *nic, struct dma_buf *buf,
						       enum dma_data_direction dir)
{
	struct net_devmem_dmabuf_binding *binding = NULL;

	cr_assert_eq(bind_plain(nic, buf, dir, PAGE_SHIFT, &binding), 0, "%s", devmem_last_error());
	return binding;
}

static const struct pp_memory_provider_params *queue_mp(struct test_nic *nic, unsigned int q)
{
	return &__netif_get_rx_queue(test_nic_netdev(nic), q)->mp_params;
}

/* ---- "a failed bind leaves nothing" ---- */

struct snapshot {
	size_t mapped; /* bytes mapped into the NIC's device */
	long bindings, pools;
	unsigned int buf_refs;
	struct page_pool *data[NR_QUEUES], *hdr[NR_QUEUES];
	unsigned int starts[NR_QUEUES];
};

static struct snapshot snap(struct test_nic *nic, struct dma_buf *buf)
{
	struct snapshot s = {
		.mapped = device_mapped_bytes(test_nic_device(nic)),
		.bindings = net_devmem_nr_bindings(),
		.pools = page_pool_nr_live(),
		.buf_refs = refs_of(buf),
	};

	for (unsigned int q = 0; q < NR_QUEUES; q++) {
		s.data[q] = test_nic_data_pool(nic, q);
		s.hdr[q] = test_nic_header_pool(nic, q);
		s.starts[q] = test_nic_starts(nic, q);
	}
	return s;
}

/* The queue serves host pages from its data pool (no provider). */
static void assert_queue_on_host_pages(struct test_nic *nic, unsigned int q)
{
	netmem_ref netmem;

	cr_assert_null(queue_mp(nic, q)->mp_ops, "queue %u still has a provider", q);
	netmem = test_nic_rx_alloc(nic, q);
	cr_assert_neq(netmem, 0);
	cr_assert(!netmem_is_net_iov(netmem), "queue %u hands out net_iovs", q);
	test_nic_rx_put(netmem);
}

/*
 * Nothing of a failed bind is left: no new mapping on the NIC's device, no
 * binding alive, no extra dma-buf reference, no pool, every queue without a
 * provider, and (@same_pools) every queue still on the very pools it had.
 */
static void assert_nothing_left(struct test_nic *nic, struct dma_buf *buf,
				const struct snapshot *before, bool same_pools)
{
	cr_assert_eq(device_mapped_bytes(test_nic_device(nic)), before->mapped,
		     "a failed bind left %zu bytes mapped",
		     device_mapped_bytes(test_nic_device(nic)) - before->mapped);
	cr_assert_eq(net_devmem_nr_bindings(), before->bindings, "a failed bind left a binding");
	cr_assert_eq(refs_of(buf), before->buf_refs, "a failed bind kept a dma-buf reference");
	cr_assert_eq(page_pool_nr_live(), before->pools, "a failed bind left a page pool");
	for (unsigned int q = 0; q < NR_QUEUES; q++) {
		cr_assert_null(queue_mp(nic, q)->mp_ops, "queue %u kept a provider", q);
		if (!same_pools)
			continue;
		cr_assert_eq(test_nic_data_pool(nic, q), before->data[q], "queue %u changed pools",
			     q);
		cr_assert_eq(test_nic_header_pool(nic, q), before->hdr[q]);
		cr_assert_eq(test_nic_starts(nic, q), before->starts[q], "queue %u restarted", q);
	}
}

static void assert_error_names(const char *what)
{
	cr_assert_not_null(strstr(devmem_last_error(), what), "message \"%s\" lacks \"%s\"",
			   devmem_last_error(), what);
}

/* Tear down and check that nothing stays: every binding, pool and mapping gone. */
static void finish(struct test_nic *nic, struct dma_buf *buf)
{
	test_nic_destroy(nic);
	cr_assert_eq(net_devmem_nr_bindings(), 0, "a binding outlived everything");
	cr_assert_eq(page_pool_nr_live(), 0, "a page pool outlived everything");
	if (buf) {
		cr_assert_eq(refs_of(buf), 1, "the dma-buf kept %u references", refs_of(buf));
		dma_buf_put(buf);
	}
}

/* ---- the id allocator ---- */

static int idr_tag[16];

Test(devmem, idr_ids_start_at_one_and_increase)
{
	struct idr idr;
	uint32_t id;

	idr_init(&idr);
	for (uint32_t want = 1; want <= 5; want++) {
		cr_assert_eq(idr_alloc_cyclic(&idr, &idr_tag[want], &id), 0);
		cr_assert_eq(id, want);
	}
	cr_assert_eq(idr_count(&idr), 5);
	idr_destroy(&idr);
}

Test(devmem, idr_find_returns_the_pointer_until_remove)
{
	struct idr idr;
	uint32_t a, b;

	idr_init(&idr);
	cr_assert_eq(idr_alloc_cyclic(&idr, &idr_tag[0], &a), 0);
	cr_assert_eq(idr_alloc_cyclic(&idr, &idr_tag[1], &b), 0);
	cr_assert_eq(idr_find(&idr, a), &idr_tag[0]);
	cr_assert_eq(idr_find(&idr, b), &idr_tag[1]);
	cr_assert_null(idr_find(&idr, 0));
	cr_assert_null(idr_find(&idr, b + 1));
	cr_assert_eq(idr_remove(&idr, a), &idr_tag[0]);
	cr_assert_null(idr_find(&idr, a));
	cr_assert_null(idr_remove(&idr, a), "a second remove finds nothing");
	cr_assert_eq(idr_find(&idr, b), &idr_tag[1]);
	cr_assert_eq(idr_count(&idr), 1);
	idr_destroy(&idr);
}

Test(devmem, idr_does_not_reuse_a_freed_id_before_the_wrap)
{
	struct idr idr;
	uint32_t id;

	idr_init(&idr);
	cr_assert_eq(idr_alloc_cyclic(&idr, &idr_tag[0], &id), 0);
	cr_assert_eq(idr_remove(&idr, id), &idr_tag[0]);
	cr_assert_eq(idr_alloc_cyclic(&idr, &idr_tag[0], &id), 0);
	cr_assert_eq(id, 2, "cyclic: id 1 is not handed out again at once (got %u)", id);
	idr_destroy(&idr);
}

Test(devmem, idr_wraps_from_uint32_max_to_one_skipping_ids_in_use)
{
	struct idr idr;
	uint32_t one, two, id;

	idr_init(&idr);
	cr_assert_eq(idr_alloc_cyclic(&idr, &idr_tag[1], &one), 0);
	cr_assert_eq(idr_alloc_cyclic(&idr, &idr_tag[2], &two), 0);
	idr_set_next(&idr, UINT32_MAX);
	cr_assert_eq(idr_alloc_cyclic(&idr, &idr_tag[3], &id), 0);
	cr_assert_eq(id, UINT32_MAX);
	cr_assert_eq(idr_alloc_cyclic(&idr, &idr_tag[4], &id), 0);
	cr_assert_eq(id, 3, "after the wrap, ids 1 and 2 are in use (got %u)", id);
	cr_assert_eq(idr_remove(&idr, one), &idr_tag[1]);
	idr_set_next(&idr, UINT32_MAX);
	cr_assert_eq(idr_alloc_cyclic(&idr, &idr_tag[5], &id), 0);
	cr_assert_eq(id, 1, "UINT32_MAX is in use: the wrap gives the free id 1 (got %u)", id);
	cr_assert_eq(idr_find(&idr, UINT32_MAX), &idr_tag[3]);
	idr_destroy(&idr);
}

Test(devmem, idr_refuses_null_pointer)
{
	struct idr idr;
	uint32_t id = 77;

	idr_init(&idr);
	cr_assert_eq(idr_alloc_cyclic(&idr, NULL, &id), -EINVAL);
	cr_assert_eq(id, 77);
	cr_assert_eq(idr_count(&idr), 0);
	idr_destroy(&idr);
}

Test(devmem, idr_keeps_every_entry_through_growth_and_removals)
{
	enum { N = 20000 };
	uint32_t *ids = malloc(N * sizeof(*ids));
	struct idr idr;
	int i;

	cr_assert_not_null(ids);
	idr_init(&idr);
	for (i = 0; i < N; i++) {
		cr_assert_eq(idr_alloc_cyclic(&idr, (void *)(uintptr_t)(i + 1), &ids[i]), 0);
		cr_assert_eq(ids[i], (uint32_t)i + 1);
	}
	/* removals shift probe runs back: every survivor must still be found */
	for (i = 0; i < N; i += 3)
		cr_assert_eq(idr_remove(&idr, ids[i]), (void *)(uintptr_t)(i + 1));
	for (i = 0; i < N; i++) {
		void *want = i % 3 ? (void *)(uintptr_t)(i + 1) : NULL;

		cr_assert_eq(idr_find(&idr, ids[i]), want, "id %u", ids[i]);
	}
	/* and the table shrinks back as it empties */
	for (i = 0; i < N; i++)
		if (i % 3)
			cr_assert_eq(idr_remove(&idr, ids[i]), (void *)(uintptr_t)(i + 1));
	cr_assert_eq(idr_count(&idr), 0);
	cr_assert_leq(idr.bits, 5, "the table stayed at 2^%u slots", idr.bits);
	idr_destroy(&idr);
	free(ids);
}

/* ---- bind-rx ---- */

Test(devmem, bound_queue_data_pool_hands_out_the_binding_niovs)
{
	static const size_t lengths[] = { 4 * PAGE_SIZE, 8 * PAGE_SIZE, 4 * PAGE_SIZE };
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(16, lengths, 3);
	struct device *ddev = test_nic_device(nic);
	struct net_devmem_dmabuf_binding *binding = bind_rx_ok(nic, buf, 1);
	struct page_pool *pool = test_nic_data_pool(nic, 1);
	netmem_ref got[16], hdr;
	bool seen[16] = { false };
	unsigned char pattern[64], *cpu;

	cr_assert_eq(binding->id, 1, "binding ids start at 1");
	cr_assert_eq(binding->direction, DMA_FROM_DEVICE);
	cr_assert_eq(binding->nr_bound_rxqs, 1);
	cr_assert_eq(binding->bound_rxqs[0], 1);
	cr_assert_eq(queue_mp(nic, 1)->mp_ops, &dmabuf_devmem_ops);
	cr_assert_eq(queue_mp(nic, 1)->mp_priv, binding);
	cr_assert_eq(pool->mp_ops, &dmabuf_devmem_ops, "the data pool took the provider");
	cr_assert_eq(pool->mp_priv, binding);
	cr_assert_eq(binding->nr_niovs, 16);

	cr_assert_eq(dma_buf_vmap_unlocked(buf, (void **)&cpu), 0);
	for (int i = 0; i < 16; i++) {
		struct net_iov *niov;
		unsigned long off;
		dma_addr_t dma;
		size_t base = 0;
		bool inside = false;
		unsigned int e;

		got[i] = test_nic_rx_alloc(nic, 1);
		cr_assert_neq(got[i], 0, "net_iov %d", i);
		cr_assert(netmem_is_net_iov(got[i]));
		niov = netmem_to_net_iov(got[i]);
		cr_assert_eq(niov->type, NET_IOV_DMABUF);
		cr_assert_eq(net_devmem_iov_binding(niov), binding);
		cr_assert_eq(net_devmem_iov_binding_id(niov), binding->id);
		cr_assert_eq(net_iov_size(niov), PAGE_SIZE);
		dma = netmem_get_dma_addr(got[i]);
		off = net_iov_virtual_addr(niov);
		cr_assert(IS_ALIGNED(off, PAGE_SIZE));
		cr_assert_lt(off, buf->size);
		cr_assert(!seen[off / PAGE_SIZE], "offset %lu handed out twice", off);
		seen[off / PAGE_SIZE] = true;
		/* the device address is that offset's address in the mapping */
		for (e = 0; e < binding->sgt->nents; e++) {
			struct scatterlist *sg = &binding->sgt->sgl[e];

			if (dma >= sg->dma_address && dma < sg->dma_address + sg->dma_length) {
				cr_assert_eq(off, base + (dma - sg->dma_address));
				inside = true;
			}
			base += sg->dma_length;
		}
		cr_assert(inside, "device address %#llx outside the mapping",
			  (unsigned long long)dma);
		/* and the NIC writing there lands at that offset of the buffer */
		memset(pattern, 0x40 + i, sizeof(pattern));
		cr_assert_eq(device_access(ddev, dma, pattern, sizeof(pattern), DMA_FROM_DEVICE),
			     0);
		cr_assert_eq(memcmp(cpu + off, pattern, sizeof(pattern)), 0);
	}
	dma_buf_vunmap_unlocked(buf, cpu);
	cr_assert_eq(test_nic_rx_alloc(nic, 1), 0, "16 net_iovs in the buffer, no more");
	cr_assert_eq(net_devmem_niovs_free(binding), 0);

	/* headers still land in host pages */
	hdr = page_pool_alloc_netmems(test_nic_header_pool(nic, 1));
	cr_assert_neq(hdr, 0);
	cr_assert(!netmem_is_net_iov(hdr));
	cr_assert_not_null(netmem_address(hdr));
	page_pool_put_netmem(test_nic_header_pool(nic, 1), hdr, false);
	/* other queues are untouched */
	assert_queue_on_host_pages(nic, 0);

	for (int i = 0; i < 16; i++)
		test_nic_rx_put(got[i]);
	net_devmem_unbind_dmabuf(binding);
	assert_queue_on_host_pages(nic, 1);
	finish(nic, buf);
}

Test(devmem, bind_rx_with_no_queues_is_einval)
{
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(4, NULL, 0);
	struct snapshot before = snap(nic, buf);
	struct net_devmem_dmabuf_binding *binding = NULL;

	cr_assert_eq(bind_rx(nic, buf, NULL, 0, &binding), -EINVAL);
	cr_assert_null(binding);
	assert_nothing_left(nic, buf, &before, true);
	finish(nic, buf);
}

Test(devmem, bind_rx_with_a_queue_of_type_tx_is_einval)
{
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(4, NULL, 0);
	struct snapshot before = snap(nic, buf);
	struct devmem_queue_id queues[] = { { .id = 0, .type = NETDEV_QUEUE_TYPE_RX },
					    { .id = 1, .type = NETDEV_QUEUE_TYPE_TX } };
	struct net_devmem_dmabuf_binding *binding = NULL;
	int fd = dma_buf_fd(buf, O_CLOEXEC);

	cr_assert_eq(net_devmem_bind_rx(test_nic_netdev(nic), fd, queues, 2, PAGE_SHIFT, &binding),
		     -EINVAL);
	close(fd);
	assert_nothing_left(nic, buf, &before, true);
	finish(nic, buf);
}

Test(devmem, bind_rx_queue_beyond_real_queues_is_einval)
{
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(4, NULL, 0);
	struct net_devmem_dmabuf_binding *binding = NULL;
	struct snapshot before;
	uint32_t q = 2;

	/* allocated 4, real 2: queue 2 exists but is not in use */
	cr_assert_eq(netdev_set_channels(test_nic_netdev(nic), 2, 2), 0, "%s", devmem_last_error());
	before = snap(nic, buf);
	cr_assert_eq(bind_rx(nic, buf, &q, 1, &binding), -EINVAL);
	assert_error_names("rx queue 2 out of range");
	assert_nothing_left(nic, buf, &before, true);
	q = 99;
	cr_assert_eq(bind_rx(nic, buf, &q, 1, &binding), -EINVAL);
	assert_error_names("rx queue 99 out of range");
	assert_nothing_left(nic, buf, &before, true);
	finish(nic, buf);
}

Test(devmem, bind_with_header_split_off_is_einval)
{
	struct test_nic *nic = nic_new_opts(NULL, false);
	struct dma_buf *buf = host_buf(4, NULL, 0);
	struct snapshot before = snap(nic, buf);
	struct net_devmem_dmabuf_binding *binding = NULL;
	uint32_t q = 1;

	cr_assert_eq(bind_rx(nic, buf, &q, 1, &binding), -EINVAL);
	assert_error_names("rx queue 1");
	assert_error_names("tcp-data-split");
	assert_nothing_left(nic, buf, &before, true);
	finish(nic, buf);
}

Test(devmem, bind_with_header_split_threshold_not_zero_is_einval)
{
	struct test_nic *nic = nic_new_opts(NULL, false);
	struct dma_buf *buf = host_buf(4, NULL, 0);
	struct net_devmem_dmabuf_binding *binding = NULL;
	struct snapshot before;
	uint32_t q = 0;

	cr_assert_eq(
		netdev_set_header_split(test_nic_netdev(nic), ETHTOOL_TCP_DATA_SPLIT_ENABLED, 256),
		0);
	before = snap(nic, buf);
	cr_assert_eq(bind_rx(nic, buf, &q, 1, &binding), -EINVAL);
	assert_error_names("rx queue 0");
	assert_error_names("hds-thresh");
	assert_nothing_left(nic, buf, &before, true);
	finish(nic, buf);
}

Test(devmem, bind_with_xdp_program_attached_is_eexist)
{
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(4, NULL, 0);
	struct net_devmem_dmabuf_binding *binding = NULL;
	struct snapshot before;
	uint32_t q = 0;

	cr_assert_eq(netdev_set_xdp(test_nic_netdev(nic), true), 0);
	before = snap(nic, buf);
	cr_assert_eq(bind_rx(nic, buf, &q, 1, &binding), -EEXIST);
	assert_error_names("rx queue 0");
	assert_error_names("XDP");
	assert_nothing_left(nic, buf, &before, true);
	cr_assert_eq(netdev_set_xdp(test_nic_netdev(nic), false), 0);
	finish(nic, buf);
}

Test(devmem, bind_to_queue_with_a_provider_is_eexist)
{
	struct test_nic *nic = nic_new();
	struct dma_buf *first = host_buf(4, NULL, 0), *second = host_buf(4, NULL, 0);
	struct net_devmem_dmabuf_binding *held = bind_rx_ok(nic, first, 2), *binding = NULL;
	struct snapshot before = snap(nic, second);
	uint32_t q = 2;

	cr_assert_eq(bind_rx(nic, second, &q, 1, &binding), -EEXIST);
	assert_error_names("rx queue 2");
	cr_assert_null(binding);
	cr_assert_eq(device_mapped_bytes(test_nic_device(nic)), before.mapped);
	cr_assert_eq(net_devmem_nr_bindings(), 1);
	cr_assert_eq(refs_of(second), 1);
	cr_assert_eq(test_nic_data_pool(nic, 2), before.data[2]);
	cr_assert_eq(queue_mp(nic, 2)->mp_priv, held, "the first binding keeps the queue");
	net_devmem_unbind_dmabuf(held);
	dma_buf_put(second);
	finish(nic, first);
}

Test(devmem, bind_to_queue_with_af_xdp_pool_is_ebusy)
{
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(4, NULL, 0);
	struct net_devmem_dmabuf_binding *binding = NULL;
	struct snapshot before;
	uint32_t q = 3;

	cr_assert_eq(netdev_set_xsk_pool(test_nic_netdev(nic), 3, true), 0);
	before = snap(nic, buf);
	cr_assert_eq(bind_rx(nic, buf, &q, 1, &binding), -EBUSY);
	assert_error_names("rx queue 3");
	assert_error_names("AF_XDP");
	assert_nothing_left(nic, buf, &before, true);
	cr_assert_eq(netdev_set_xsk_pool(test_nic_netdev(nic), 3, false), 0);
	finish(nic, buf);
}

Test(devmem, bind_on_driver_without_queue_management_is_eopnotsupp)
{
	struct test_nic_opts opts = { .no_queue_ops = true };
	struct test_nic *nic = nic_new_opts(&opts, true);
	struct dma_buf *buf = host_buf(4, NULL, 0);
	struct snapshot before = snap(nic, buf);
	struct net_devmem_dmabuf_binding *binding = NULL;
	uint32_t q = 0;

	cr_assert_eq(bind_rx(nic, buf, &q, 1, &binding), -EOPNOTSUPP);
	assert_error_names("no queue management");
	assert_nothing_left(nic, buf, &before, true);
	finish(nic, buf);
}

Test(devmem, bind_when_no_pool_takes_the_provider_is_enodata)
{
	struct test_nic_faults faults = { .no_unreadable = true };
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(4, NULL, 0);
	struct net_devmem_dmabuf_binding *binding = NULL;
	struct snapshot before;
	uint32_t q = 1;

	test_nic_set_faults(nic, &faults);
	before = snap(nic, buf);
	cr_assert_eq(bind_rx(nic, buf, &q, 1, &binding), -ENODATA);
	assert_error_names("rx queue 1");
	assert_error_names("unreadable");
	assert_nothing_left(nic, buf, &before, true);
	assert_queue_on_host_pages(nic, 1);
	finish(nic, buf);
}

Test(devmem, bind_whose_restart_fails_leaves_the_queue_as_before)
{
	struct test_nic_faults faults = { .mem_alloc = -ENOMEM };
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(4, NULL, 0);
	struct net_devmem_dmabuf_binding *binding = NULL;
	struct snapshot before;
	uint32_t q = 0;

	test_nic_set_faults(nic, &faults);
	before = snap(nic, buf);
	cr_assert_eq(bind_rx(nic, buf, &q, 1, &binding), -ENOMEM);
	assert_error_names("rx queue 0");
	assert_nothing_left(nic, buf, &before, true);
	test_nic_set_faults(nic, &(struct test_nic_faults){ 0 });
	assert_queue_on_host_pages(nic, 0);
	finish(nic, buf);
}

Test(devmem, failing_queue_rolls_back_the_queues_already_bound)
{
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(4, NULL, 0);
	struct net_devmem_dmabuf_binding *binding = NULL;
	struct snapshot before;
	uint32_t qids[] = { 0, 2, 3 };

	/* queues 0 and 2 bind, then queue 3 refuses */
	cr_assert_eq(netdev_set_xsk_pool(test_nic_netdev(nic), 3, true), 0);
	before = snap(nic, buf);
	cr_assert_eq(bind_rx(nic, buf, qids, 3, &binding), -EBUSY);
	assert_error_names("rx queue 3");
	cr_assert_null(binding);
	/* queues 0 and 2 ran on the binding for a moment: back on host pages now */
	assert_nothing_left(nic, buf, &before, false);
	cr_assert_eq(test_nic_starts(nic, 0), before.starts[0] + 2, "bound, then restored");
	cr_assert_eq(test_nic_starts(nic, 2), before.starts[2] + 2);
	cr_assert_eq(test_nic_data_pool(nic, 1), before.data[1], "queue 1 was never touched");
	assert_queue_on_host_pages(nic, 0);
	assert_queue_on_host_pages(nic, 2);
	finish(nic, buf);
}

Test(devmem, same_queue_twice_in_one_request_is_bound_once)
{
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(4, NULL, 0);
	struct net_devmem_dmabuf_binding *binding = NULL;
	uint32_t qids[] = { 1, 1 };

	cr_assert_eq(bind_rx(nic, buf, qids, 2, &binding), 0, "%s", devmem_last_error());
	cr_assert_eq(binding->nr_bound_rxqs, 1);
	cr_assert_eq(binding->bound_rxqs[0], 1);
	net_devmem_unbind_dmabuf(binding);
	assert_queue_on_host_pages(nic, 1);
	finish(nic, buf);
}

Test(devmem, bind_of_an_fd_that_is_not_a_dmabuf_is_einval_and_of_a_closed_fd_ebadf)
{
	struct test_nic *nic = nic_new();
	struct devmem_queue_id q = { .id = 0, .type = NETDEV_QUEUE_TYPE_RX };
	struct net_devmem_dmabuf_binding *binding = NULL;
	size_t mapped = device_mapped_bytes(test_nic_device(nic));
	int pipefd[2];

	cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
	cr_assert_eq(
		net_devmem_bind_rx(test_nic_netdev(nic), pipefd[0], &q, 1, PAGE_SHIFT, &binding),
		-EINVAL);
	close(pipefd[0]);
	close(pipefd[1]);
	cr_assert_eq(
		net_devmem_bind_rx(test_nic_netdev(nic), pipefd[0], &q, 1, PAGE_SHIFT, &binding),
		-EBADF, "a closed fd");
	cr_assert_eq(net_devmem_bind_rx(test_nic_netdev(nic), -1, &q, 1, PAGE_SHIFT, &binding),
		     -EBADF);
	cr_assert_eq(device_mapped_bytes(test_nic_device(nic)), mapped);
	cr_assert_eq(net_devmem_nr_bindings(), 0);
	assert_queue_on_host_pages(nic, 0);
	finish(nic, NULL);
}

Test(devmem, bind_to_an_unregistered_device_is_enodev)
{
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(4, NULL, 0);
	struct net_devmem_dmabuf_binding *binding = NULL;
	struct snapshot before;
	uint32_t q = 0;

	unregister_netdev(test_nic_netdev(nic));
	before = snap(nic, buf);
	cr_assert_eq(bind_rx(nic, buf, &q, 1, &binding), -ENODEV);
	assert_nothing_left(nic, buf, &before, true);
	finish(nic, buf);
}

/* ---- the buffer's layout: chunks, net_iov sizes ---- */

Test(devmem, sg_entry_not_page_aligned_fails_with_message)
{
	/* 4096 + 4196 + 8092 = 16 KiB: the second and third entries straddle pages */
	static const size_t lengths[] = { PAGE_SIZE, PAGE_SIZE + 100, 2 * PAGE_SIZE - 100 };
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(4, lengths, 3);
	struct snapshot before = snap(nic, buf);
	struct net_devmem_dmabuf_binding *binding = NULL;
	uint32_t q = 0;

	cr_assert_eq(bind_rx(nic, buf, &q, 1, &binding), -EINVAL);
	cr_assert_str_eq(devmem_last_error(), SG_ALIGN_MSG);
	assert_nothing_left(nic, buf, &before, true);
	cr_assert_eq(bind_plain(nic, buf, DMA_FROM_DEVICE, PAGE_SHIFT, &binding), -EINVAL);
	cr_assert_str_eq(devmem_last_error(), SG_ALIGN_MSG);
	assert_nothing_left(nic, buf, &before, true);
	finish(nic, buf);
}

struct chunk_seen {
	struct dmabuf_genpool_chunk_owner *owners[8];
	struct gen_pool_chunk chunks[8];
	unsigned int n;
};

static void collect_chunk(struct gen_pool *pool, struct gen_pool_chunk *chunk, void *data)
{
	struct chunk_seen *seen = data;

	cr_assert_lt(seen->n, 8);
	seen->chunks[seen->n] = *chunk;
	seen->owners[seen->n++] = chunk->owner;
}

Test(devmem, every_sg_entry_is_one_chunk_with_its_owner)
{
	static const size_t lengths[] = { PAGE_SIZE, 2 * PAGE_SIZE, 3 * PAGE_SIZE };
	static const unsigned long base_virtual[] = { 0, PAGE_SIZE, 3 * PAGE_SIZE };
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(6, lengths, 3);
	struct net_devmem_dmabuf_binding *binding = bind_plain_ok(nic, buf, DMA_FROM_DEVICE);
	struct chunk_seen seen = { .n = 0 };
	size_t least;

	cr_assert_eq(binding->sgt->nents, 3);
	cr_assert_eq(binding->nr_chunks, 3);
	cr_assert_eq(binding->nr_niovs, 6);
	cr_assert_eq(net_devmem_niovs_free(binding), 6);
	gen_pool_for_each_chunk(binding->chunk_pool, collect_chunk, &seen);
	cr_assert_eq(seen.n, 3);
	for (unsigned int i = 0; i < 3; i++) {
		struct dmabuf_genpool_chunk_owner *owner = seen.owners[i];
		struct scatterlist *sg = &binding->sgt->sgl[i];

		cr_assert_eq(owner->binding, binding);
		cr_assert_eq(owner->area.base_virtual, base_virtual[i], "chunk %u", i);
		cr_assert_eq(owner->area.base_dma_addr, sg_dma_address(sg), "chunk %u", i);
		cr_assert_eq(owner->area.num_niovs, lengths[i] / PAGE_SIZE);
		cr_assert_eq(owner->area.niov_shift, PAGE_SHIFT);
		cr_assert_eq(seen.chunks[i].start_addr, sg_dma_address(sg));
		cr_assert_eq(seen.chunks[i].end_addr, sg_dma_address(sg) + sg_dma_len(sg) - 1);
		for (size_t n = 0; n < owner->area.num_niovs; n++) {
			struct net_iov *niov = &owner->area.niovs[n];

			cr_assert_eq(net_iov_owner(niov), &owner->area);
			cr_assert_eq(net_devmem_iov_to_chunk_owner(niov), owner);
			cr_assert_eq(niov->desc.dma_addr, sg_dma_address(sg) + n * PAGE_SIZE);
			cr_assert_eq(net_iov_virtual_addr(niov), base_virtual[i] + n * PAGE_SIZE);
		}
	}
	least = sizeof(*binding) + 3 * sizeof(struct dmabuf_genpool_chunk_owner) +
		6 * sizeof(struct net_iov);
	cr_assert_geq(binding->metadata_bytes, least, "metadata %zu < %zu", binding->metadata_bytes,
		      least);
	net_devmem_unbind_dmabuf(binding);
	finish(nic, buf);
}

Test(devmem, net_iov_size_defaults_to_page_size)
{
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(8, NULL, 0);
	struct net_devmem_dmabuf_binding *binding = bind_rx_ok(nic, buf, 0);
	netmem_ref netmem;

	cr_assert_eq(binding->niov_shift, PAGE_SHIFT);
	cr_assert_eq(binding->nr_niovs, 8);
	netmem = test_nic_rx_alloc(nic, 0);
	cr_assert_eq(net_iov_size(netmem_to_net_iov(netmem)), PAGE_SIZE);
	test_nic_rx_put(netmem);
	net_devmem_unbind_dmabuf(binding);
	finish(nic, buf);
}

Test(devmem, sixteen_kib_net_iovs_cover_the_buffer)
{
	/* 4 MiB: one sg entry, mapped at a 2 MiB-aligned device address */
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(1024, NULL, 0);
	struct net_devmem_dmabuf_binding *binding = NULL;
	const size_t niov = 16 * 1024;
	netmem_ref got[8];
	uint32_t q = 2;

	cr_assert_eq(bind_rx_shift(nic, buf, &q, 1, 14, &binding), 0, "%s", devmem_last_error());
	cr_assert_eq(binding->niov_shift, 14);
	cr_assert_eq(binding->nr_niovs, buf->size / niov);
	cr_assert_eq(net_devmem_niovs_free(binding), buf->size / niov);
	for (int i = 0; i < 8; i++) {
		struct net_iov *niov_p;

		got[i] = test_nic_rx_alloc(nic, 2);
		cr_assert(netmem_is_net_iov(got[i]));
		niov_p = netmem_to_net_iov(got[i]);
		cr_assert_eq(net_iov_size(niov_p), niov);
		cr_assert(IS_ALIGNED(net_iov_virtual_addr(niov_p), niov));
		cr_assert(IS_ALIGNED(netmem_get_dma_addr(got[i]), niov));
		cr_assert(
			gen_pool_has_addr(binding->chunk_pool, netmem_get_dma_addr(got[i]), niov));
	}
	for (int i = 0; i < 8; i++)
		test_nic_rx_put(got[i]);
	net_devmem_unbind_dmabuf(binding);
	finish(nic, buf);
}

Test(devmem, net_iov_size_below_page_or_too_large_is_einval)
{
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(4, NULL, 0);
	struct snapshot before = snap(nic, buf);
	struct net_devmem_dmabuf_binding *binding = NULL;
	uint32_t q = 0;

	cr_assert_eq(bind_rx_shift(nic, buf, &q, 1, PAGE_SHIFT - 1, &binding), -EINVAL);
	assert_nothing_left(nic, buf, &before, true);
	cr_assert_eq(bind_rx_shift(nic, buf, &q, 1, GEN_POOL_MAX_ORDER + 1, &binding), -EINVAL);
	assert_nothing_left(nic, buf, &before, true);
	finish(nic, buf);
}

Test(devmem, net_iov_size_that_does_not_divide_an_sg_entry_is_einval)
{
	/* 16 KiB net_iovs over entries of 4 KiB and 12 KiB */
	static const size_t lengths[] = { PAGE_SIZE, 3 * PAGE_SIZE };
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(8, lengths, 2);
	struct snapshot before = snap(nic, buf);
	struct net_devmem_dmabuf_binding *binding = NULL;
	uint32_t q = 0;

	cr_assert_eq(bind_rx_shift(nic, buf, &q, 1, 14, &binding), -EINVAL);
	assert_error_names("not aligned to niov size");
	assert_nothing_left(nic, buf, &before, true);
	finish(nic, buf);
}

Test(devmem, net_iov_larger_than_a_page_needs_an_aligned_sg_entry_address)
{
	/*
	 * On the NIC's fresh device the entry takes the lowest IOVA, PAGE_SIZE,
	 * which is not 16 KiB aligned: a 16 KiB net_iov cannot start there.
	 */
	static const size_t lengths[] = { 4 * PAGE_SIZE };
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(16, lengths, 1);
	struct snapshot before = snap(nic, buf);
	struct net_devmem_dmabuf_binding *binding = NULL;

	cr_assert_eq(before.mapped, 0, "the device is fresh");
	cr_assert_eq(bind_plain(nic, buf, DMA_FROM_DEVICE, 14, &binding), -EINVAL);
	assert_error_names("addr=0x1000");
	assert_error_names("not aligned to niov size 16384");
	assert_nothing_left(nic, buf, &before, true);
	finish(nic, buf);
}

/* The request's option (bytes per net_iov) reaches the binding as its shift. */
Test(devmem, niov_size_option_is_a_power_of_two_from_page_size)
{
	static const uint32_t bad[] = { 3 * PAGE_SIZE, 16 * 1024 + PAGE_SIZE, 1U << 31 };
	struct devmem_queue_id queue = { .id = 0, .type = NETDEV_QUEUE_TYPE_RX };
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(1024, NULL, 0);
	struct snapshot before = snap(nic, buf);
	struct net_devmem_dmabuf_binding *binding;
	struct devmem_ctl *ctl = NULL;
	int fd = dma_buf_fd(buf, O_CLOEXEC);
	uint32_t id = 0;

	cr_assert_eq(devmem_ctl_open(&ctl), 0);
	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		DEVMEM_OPTS(devmem_bind_opts, opts, .rx_page_size = bad[i]);

		cr_assert_eq(devmem_bind_rx(ctl, test_nic_ifindex(nic), fd, &queue, 1, &opts, &id),
			     -EINVAL, "net_iov size %u", bad[i]);
		assert_nothing_left(nic, buf, &before, true);
	}
	{
		DEVMEM_OPTS(devmem_bind_opts, opts, .rx_page_size = 0);

		cr_assert_eq(devmem_bind_rx(ctl, test_nic_ifindex(nic), fd, &queue, 1, &opts, &id),
			     0, "%s", devmem_last_error());
		binding = net_devmem_lookup_dmabuf(id);
		cr_assert_not_null(binding);
		cr_assert_eq(binding->niov_shift, PAGE_SHIFT, "0 means PAGE_SIZE");
		net_devmem_dmabuf_binding_put(binding);
		cr_assert_eq(devmem_unbind(ctl, id), 0);
	}
	{
		DEVMEM_OPTS(devmem_bind_opts, opts, .rx_page_size = 16 * 1024);

		cr_assert_eq(devmem_bind_rx(ctl, test_nic_ifindex(nic), fd, &queue, 1, &opts, &id),
			     0, "%s", devmem_last_error());
		binding = net_devmem_lookup_dmabuf(id);
		cr_assert_not_null(binding);
		cr_assert_eq(binding->niov_shift, 14);
		net_devmem_dmabuf_binding_put(binding);
	}
	/* closing the handle unbinds what it made */
	devmem_ctl_close(ctl);
	close(fd);
	cr_assert_eq(net_devmem_nr_bindings(), 0);
	finish(nic, buf);
}

/* ---- ids and lookups ---- */

Test(devmem, binding_ids_start_at_one_and_are_not_reused_at_once)
{
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(4, NULL, 0);
	struct net_devmem_dmabuf_binding *a = bind_plain_ok(nic, buf, DMA_FROM_DEVICE);
	struct net_devmem_dmabuf_binding *b = bind_plain_ok(nic, buf, DMA_FROM_DEVICE);
	struct net_devmem_dmabuf_binding *c;

	cr_assert_eq(a->id, 1);
	cr_assert_eq(b->id, 2);
	net_devmem_unbind_dmabuf(a);
	c = bind_plain_ok(nic, buf, DMA_FROM_DEVICE);
	cr_assert_eq(c->id, 3, "cyclic: id 1 waits for the wrap (got %u)", c->id);
	net_devmem_unbind_dmabuf(b);
	net_devmem_unbind_dmabuf(c);
	finish(nic, buf);
}

Test(devmem, binding_ids_wrap_from_uint32_max_to_the_first_free)
{
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(4, NULL, 0);
	struct net_devmem_dmabuf_binding *a, *b, *c;

	net_devmem_set_next_id(UINT32_MAX);
	a = bind_plain_ok(nic, buf, DMA_FROM_DEVICE);
	b = bind_plain_ok(nic, buf, DMA_FROM_DEVICE);
	cr_assert_eq(a->id, UINT32_MAX);
	cr_assert_eq(b->id, 1, "the id after UINT32_MAX is 1 (got %u)", b->id);
	net_devmem_set_next_id(UINT32_MAX);
	c = bind_plain_ok(nic, buf, DMA_FROM_DEVICE);
	cr_assert_eq(c->id, 2, "UINT32_MAX and 1 in use: 2 (got %u)", c->id);
	net_devmem_unbind_dmabuf(a);
	net_devmem_unbind_dmabuf(b);
	net_devmem_unbind_dmabuf(c);
	finish(nic, buf);
}

Test(devmem, lookup_takes_a_reference_until_unbind)
{
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(4, NULL, 0);
	struct net_devmem_dmabuf_binding *binding = bind_rx_ok(nic, buf, 0), *found;
	uint32_t id = binding->id;

	found = net_devmem_lookup_dmabuf(id);
	cr_assert_eq(found, binding);
	cr_assert_eq(binding->ref, 3, "creator, the data pool, the lookup");
	cr_assert_null(net_devmem_lookup_dmabuf(0));
	cr_assert_null(net_devmem_lookup_dmabuf(id + 1));

	/* the looked-up reference keeps the binding alive through its unbind */
	net_devmem_unbind_dmabuf(binding);
	cr_assert_null(net_devmem_lookup_dmabuf(id), "an unbound id is not found");
	cr_assert_eq(net_devmem_nr_bindings(), 1);
	cr_assert(binding->unbound);
	net_devmem_dmabuf_binding_put(found);
	cr_assert_eq(net_devmem_nr_bindings(), 0);
	finish(nic, buf);
}

static int collect_id(struct net_devmem_dmabuf_binding *binding, void *data)
{
	uint32_t *ids = data;

	ids[++ids[0]] = binding->id;
	return ids[0] == 3 ? 42 : 0;
}

Test(devmem, for_each_binding_visits_in_id_order_including_unbound)
{
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(4, NULL, 0);
	struct net_devmem_dmabuf_binding *a = bind_rx_ok(nic, buf, 0);
	struct net_devmem_dmabuf_binding *b = bind_plain_ok(nic, buf, DMA_FROM_DEVICE);
	struct net_devmem_dmabuf_binding *c, *d;
	netmem_ref held = test_nic_rx_alloc(nic, 0);
	uint32_t ids[5] = { 0 };

	/* a is unbound but waits for its net_iov */
	net_devmem_unbind_dmabuf(a);
	c = bind_plain_ok(nic, buf, DMA_FROM_DEVICE);
	d = bind_plain_ok(nic, buf, DMA_FROM_DEVICE);
	cr_assert_eq(net_devmem_for_each_binding(collect_id, ids), 42, "stops at non-zero");
	cr_assert_eq(ids[0], 3);
	cr_assert_eq(ids[1], 1);
	cr_assert_eq(ids[2], 2);
	cr_assert_eq(ids[3], 3);
	test_nic_rx_put(held);
	net_devmem_unbind_dmabuf(b);
	net_devmem_unbind_dmabuf(c);
	net_devmem_unbind_dmabuf(d);
	finish(nic, buf);
}

/* ---- the memory provider ---- */

static int pool_on(struct net_devmem_dmabuf_binding *binding, struct device *dev,
		   unsigned int flags, unsigned int order, struct page_pool **out)
{
	struct page_pool_params p = {
		.flags = flags | PP_FLAG_ALLOW_UNREADABLE_NETMEM,
		.order = order,
		.pool_size = 64,
		.dev = dev,
		.mp = &binding->mp_params,
		.dma_dir = DMA_FROM_DEVICE,
		.max_len = PAGE_SIZE,
	};

	return page_pool_create(&p, out);
}

Test(devmem, provider_refuses_pool_without_dma_map)
{
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(4, NULL, 0);
	struct net_devmem_dmabuf_binding *binding = bind_plain_ok(nic, buf, DMA_FROM_DEVICE);
	struct page_pool *pool = NULL;
	long pools = page_pool_nr_live();

	cr_assert_eq(pool_on(binding, test_nic_device(nic), 0, 0, &pool), -EOPNOTSUPP);
	cr_assert_null(pool);
	cr_assert_eq(binding->ref, 1, "a refused pool keeps no reference");
	cr_assert_eq(page_pool_nr_live(), pools);
	net_devmem_unbind_dmabuf(binding);
	finish(nic, buf);
}

Test(devmem, provider_refuses_pool_without_device_sync)
{
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(4, NULL, 0);
	struct net_devmem_dmabuf_binding *binding = bind_plain_ok(nic, buf, DMA_FROM_DEVICE);
	struct page_pool *pool = NULL;

	cr_assert_eq(pool_on(binding, test_nic_device(nic), PP_FLAG_DMA_MAP, 0, &pool),
		     -EOPNOTSUPP);
	cr_assert_null(pool);
	cr_assert_eq(binding->ref, 1);
	net_devmem_unbind_dmabuf(binding);
	finish(nic, buf);
}

Test(devmem, provider_switches_device_sync_off)
{
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(4, NULL, 0);
	struct net_devmem_dmabuf_binding *binding = bind_plain_ok(nic, buf, DMA_FROM_DEVICE);
	struct page_pool *pool = NULL;

	cr_assert_eq(pool_on(binding, test_nic_device(nic), PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV,
			     0, &pool),
		     0, "%s", devmem_last_error());
	cr_assert(pool->dma_map);
	cr_assert_not(pool->dma_sync, "a dma-buf is never synced for the device");
	cr_assert_eq(binding->ref, 2);
	page_pool_destroy(pool);
	net_devmem_unbind_dmabuf(binding);
	finish(nic, buf);
}

Test(devmem, provider_refuses_pool_order_other_than_its_net_iov_size)
{
	const unsigned int flags = PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV;
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(16, NULL, 0);
	struct net_devmem_dmabuf_binding *binding = bind_plain_ok(nic, buf, DMA_FROM_DEVICE);
	struct net_devmem_dmabuf_binding *big = NULL;
	struct dma_buf *buf2m = host_buf(512, NULL, 0);
	struct page_pool *pool = NULL;

	cr_assert_eq(pool_on(binding, test_nic_device(nic), flags, 1, &pool), -E2BIG);
	cr_assert_eq(binding->ref, 1);
	net_devmem_unbind_dmabuf(binding);

	/* 16 KiB net_iovs (a 2 MiB buffer is mapped 2 MiB aligned): the pool's pages are order 2 */
	cr_assert_eq(bind_plain(nic, buf2m, DMA_FROM_DEVICE, PAGE_SHIFT + 2, &big), 0, "%s",
		     devmem_last_error());
	cr_assert_eq(pool_on(big, test_nic_device(nic), flags, 0, &pool), -E2BIG);
	cr_assert_eq(pool_on(big, test_nic_device(nic), flags, 2, &pool), 0, "%s",
		     devmem_last_error());
	page_pool_destroy(pool);
	net_devmem_unbind_dmabuf(big);
	dma_buf_put(buf2m);
	finish(nic, buf);
}

Test(devmem, provider_hands_out_niovs_and_takes_them_back_as_not_pages)
{
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(16, NULL, 0);
	struct net_devmem_dmabuf_binding *binding = bind_plain_ok(nic, buf, DMA_FROM_DEVICE);
	struct page_pool *pool = NULL;
	netmem_ref netmems[20];
	int n;

	cr_assert_eq(pool_on(binding, test_nic_device(nic), PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV,
			     0, &pool),
		     0, "%s", devmem_last_error());
	cr_assert_eq(binding->ref, 2, "the pool holds the binding");

	/* one bulk: as many as there are, each with a binding reference */
	n = dmabuf_devmem_ops.alloc_netmems(pool, netmems, 20);
	cr_assert_eq(n, 16);
	cr_assert_eq(binding->ref, 2 + 16);
	cr_assert_eq(net_devmem_niovs_free(binding), 0);
	cr_assert_eq(dmabuf_devmem_ops.alloc_netmems(pool, netmems + 16, 4), 0, "exhausted");
	for (int i = 0; i < n; i++) {
		cr_assert(netmem_is_net_iov(netmems[i]));
		cr_assert_eq(net_devmem_iov_binding(netmem_to_net_iov(netmems[i])), binding);
	}
	for (int i = 0; i < n; i++)
		cr_assert(!dmabuf_devmem_ops.release_netmem(pool, netmems[i]),
			  "release says: not a page");
	cr_assert_eq(binding->ref, 2);
	cr_assert_eq(net_devmem_niovs_free(binding), 16);

	/* and one at a time, outside any pool */
	struct net_iov *niov = net_devmem_alloc_dmabuf(binding);

	cr_assert_not_null(niov);
	cr_assert_eq(binding->ref, 3);
	net_devmem_free_dmabuf(niov);
	cr_assert_eq(binding->ref, 2);

	page_pool_destroy(pool);
	cr_assert_eq(binding->ref, 1, "destroy drops the pool's reference");
	net_devmem_unbind_dmabuf(binding);
	finish(nic, buf);
}

Test(devmem, provider_reports_the_binding_id)
{
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(4, NULL, 0);
	struct net_devmem_dmabuf_binding *other = bind_plain_ok(nic, buf, DMA_FROM_DEVICE);
	struct net_devmem_dmabuf_binding *binding = bind_rx_ok(nic, buf, 3);
	struct netdev_mp_attrs attrs;

	cr_assert_eq(binding->id, 2);
	cr_assert_eq(page_pool_mp_attrs(test_nic_data_pool(nic, 3), &attrs), 0);
	cr_assert_eq(attrs.dmabuf_id, 2);
	cr_assert_eq(page_pool_mp_attrs(test_nic_header_pool(nic, 3), &attrs), 0);
	cr_assert_eq(attrs.dmabuf_id, 0, "the header pool has no provider");
	attrs.dmabuf_id = 0;
	cr_assert_eq(dmabuf_devmem_ops.nl_fill(binding, &attrs,
					       __netif_get_rx_queue(test_nic_netdev(nic), 3)),
		     0);
	cr_assert_eq(attrs.dmabuf_id, 2);
	net_devmem_unbind_dmabuf(binding);
	net_devmem_unbind_dmabuf(other);
	finish(nic, buf);
}

/* ---- lifetime ---- */

Test(devmem, unbind_while_user_holds_niovs_keeps_them_valid)
{
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(8, NULL, 0);
	struct device *ddev = test_nic_device(nic);
	size_t mapped = device_mapped_bytes(ddev);
	struct net_devmem_dmabuf_binding *binding = bind_rx_ok(nic, buf, 1);
	unsigned char in[256], out[256];
	netmem_ref held[3];
	uint32_t id = binding->id;

	cr_assert_gt(device_mapped_bytes(ddev), mapped);
	for (int i = 0; i < 3; i++) {
		held[i] = test_nic_rx_alloc(nic, 1);
		cr_assert(netmem_is_net_iov(held[i]));
		/* a user (a socket's token) holds it too */
		page_pool_ref_netmem(held[i]);
	}
	net_devmem_unbind_dmabuf(binding);
	cr_assert_null(net_devmem_lookup_dmabuf(id));
	cr_assert_null(queue_mp(nic, 1)->mp_ops, "the queue is back on host pages");
	cr_assert_eq(net_devmem_nr_bindings(), 1, "the held net_iovs keep the binding");

	/* still mapped: the NIC can write and read them */
	for (int i = 0; i < 3; i++) {
		dma_addr_t dma = netmem_get_dma_addr(held[i]);

		memset(in, 0xa0 + i, sizeof(in));
		cr_assert_eq(device_access(ddev, dma, in, sizeof(in), DMA_FROM_DEVICE), 0);
	}
	cr_assert_eq(device_fault_count(ddev), 0);

	/* the stack drops its references, then the user gives them back one by one */
	for (int i = 0; i < 3; i++)
		test_nic_rx_put(held[i]);
	for (int i = 0; i < 3; i++) {
		unsigned char *cpu;

		cr_assert_eq(net_devmem_nr_bindings(), 1, "freed with %d net_iovs out", 3 - i);
		cr_assert_eq(dma_buf_vmap_unlocked(buf, (void **)&cpu), 0);
		memset(out, 0xa0 + i, sizeof(out));
		cr_assert_eq(memcmp(cpu + net_iov_virtual_addr(netmem_to_net_iov(held[i])), out,
				    sizeof(out)),
			     0);
		dma_buf_vunmap_unlocked(buf, cpu);
		test_nic_rx_put(held[i]);
	}
	cr_assert_eq(net_devmem_nr_bindings(), 0, "the last net_iov back frees the binding");
	cr_assert_eq(device_mapped_bytes(ddev), mapped, "and unmaps the buffer");
	cr_assert_eq(refs_of(buf), 1);
	assert_queue_on_host_pages(nic, 1);
	finish(nic, buf);
}

Test(devmem, two_bindings_serve_different_queues_of_one_device)
{
	struct test_nic *nic = nic_new();
	struct dma_buf *buf_a = host_buf(4, NULL, 0), *buf_b = host_buf(8, NULL, 0);
	struct net_devmem_dmabuf_binding *a = bind_rx_ok(nic, buf_a, 0);
	struct net_devmem_dmabuf_binding *b = bind_rx_ok(nic, buf_b, 2);
	netmem_ref from_a = test_nic_rx_alloc(nic, 0), from_b = test_nic_rx_alloc(nic, 2);

	cr_assert_neq(a->id, b->id);
	cr_assert_eq(net_devmem_iov_binding(netmem_to_net_iov(from_a)), a);
	cr_assert_eq(net_devmem_iov_binding(netmem_to_net_iov(from_b)), b);
	assert_queue_on_host_pages(nic, 1);
	assert_queue_on_host_pages(nic, 3);
	test_nic_rx_put(from_a);
	test_nic_rx_put(from_b);

	net_devmem_unbind_dmabuf(a);
	assert_queue_on_host_pages(nic, 0);
	cr_assert_eq(queue_mp(nic, 2)->mp_priv, b, "the other binding keeps its queue");
	from_b = test_nic_rx_alloc(nic, 2);
	cr_assert_eq(net_devmem_iov_binding(netmem_to_net_iov(from_b)), b);
	test_nic_rx_put(from_b);
	net_devmem_unbind_dmabuf(b);
	dma_buf_put(buf_b);
	finish(nic, buf_a);
}

Test(devmem, one_binding_serves_several_queues)
{
	/* a pool refills PP_ALLOC_CACHE_REFILL at a time: enough for both */
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(2 * PP_ALLOC_CACHE_REFILL, NULL, 0);
	struct net_devmem_dmabuf_binding *binding = NULL;
	uint32_t qids[] = { 3, 1 };

	cr_assert_eq(bind_rx(nic, buf, qids, 2, &binding), 0, "%s", devmem_last_error());
	cr_assert_eq(binding->nr_bound_rxqs, 2);
	/* bound in ascending order, whatever the request's order */
	cr_assert_eq(binding->bound_rxqs[0], 1);
	cr_assert_eq(binding->bound_rxqs[1], 3);
	cr_assert_eq(binding->ref, 3, "the creator and two data pools");
	for (unsigned int i = 0; i < 2; i++) {
		netmem_ref netmem = test_nic_rx_alloc(nic, qids[i]);

		cr_assert_eq(net_devmem_iov_binding(netmem_to_net_iov(netmem)), binding);
		test_nic_rx_put(netmem);
	}
	net_devmem_unbind_dmabuf(binding);
	assert_queue_on_host_pages(nic, 1);
	assert_queue_on_host_pages(nic, 3);
	finish(nic, buf);
}

Test(devmem, queue_can_be_bound_again_after_unbind)
{
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(4, NULL, 0);
	struct net_devmem_dmabuf_binding *first = bind_rx_ok(nic, buf, 1), *second;
	netmem_ref netmem;

	net_devmem_unbind_dmabuf(first);
	cr_assert_eq(net_devmem_nr_bindings(), 0);
	second = bind_rx_ok(nic, buf, 1);
	cr_assert_eq(second->id, 2);
	netmem = test_nic_rx_alloc(nic, 1);
	cr_assert_eq(net_devmem_iov_binding(netmem_to_net_iov(netmem)), second);
	test_nic_rx_put(netmem);
	net_devmem_unbind_dmabuf(second);
	finish(nic, buf);
}

Test(devmem, unregister_uninstalls_the_binding_from_its_queues)
{
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(4, NULL, 0);
	struct net_devmem_dmabuf_binding *binding = NULL, *again = NULL;
	uint32_t qids[] = { 0, 2 };

	cr_assert_eq(bind_rx(nic, buf, qids, 2, &binding), 0, "%s", devmem_last_error());
	unregister_netdev(test_nic_netdev(nic));
	cr_assert_eq(binding->nr_bound_rxqs, 0, "uninstall forgot the queues");
	cr_assert_null(queue_mp(nic, 0)->mp_ops);
	cr_assert_null(queue_mp(nic, 2)->mp_ops);
	cr_assert_eq(bind_rx(nic, buf, qids, 1, &again), -ENODEV);
	cr_assert_eq(net_devmem_nr_bindings(), 1);

	/* unbind has no queue left to restart; the stopped queues' pools drop the rest */
	net_devmem_unbind_dmabuf(binding);
	cr_assert_eq(net_devmem_nr_bindings(), 1, "the running pools still hold it");
	finish(nic, buf);
}

/* ---- bind-tx ---- */

Test(devmem, bind_tx_on_driver_without_netmem_tx_is_eopnotsupp)
{
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(4, NULL, 0);
	struct snapshot before = snap(nic, buf);
	struct net_devmem_dmabuf_binding *binding = NULL;

	cr_assert_eq(bind_plain(nic, buf, DMA_TO_DEVICE, PAGE_SHIFT, &binding), -EOPNOTSUPP);
	cr_assert_str_eq(devmem_last_error(), "Driver does not support netmem TX");
	assert_nothing_left(nic, buf, &before, true);
	finish(nic, buf);
}

Test(devmem, tx_binding_finds_the_niov_at_each_offset)
{
	static const size_t lengths[] = { PAGE_SIZE, 3 * PAGE_SIZE };
	struct test_nic *nic = nic_new_tx();
	struct dma_buf *buf = host_buf(8, lengths, 2);
	struct device *ddev = test_nic_device(nic);
	struct net_devmem_dmabuf_binding *binding = bind_plain_ok(nic, buf, DMA_TO_DEVICE);
	unsigned char *cpu, got[16];
	struct net_iov *niov;
	size_t off, size;

	cr_assert_eq(binding->direction, DMA_TO_DEVICE);
	cr_assert_not_null(binding->tx_vec);
	cr_assert_eq(binding->nr_chunks, 4);
	cr_assert_eq(dma_buf_vmap_unlocked(buf, (void **)&cpu), 0);
	for (size_t i = 0; i < buf->size; i++)
		cpu[i] = (unsigned char)(i * 13 + i / PAGE_SIZE);
	for (size_t at = 0; at < buf->size; at += 1000) {
		niov = net_devmem_get_niov_at(binding, at, &off, &size);
		cr_assert_not_null(niov, "offset %zu", at);
		cr_assert_eq(net_iov_virtual_addr(niov), ALIGN_DOWN(at, PAGE_SIZE));
		cr_assert_eq(off, at % PAGE_SIZE);
		cr_assert_eq(size, PAGE_SIZE - off);
		/* the NIC reads the buffer's byte there through the niov's address */
		cr_assert_eq(device_access(ddev, niov->desc.dma_addr + off, got, 1, DMA_TO_DEVICE),
			     0);
		cr_assert_eq(got[0], cpu[at], "offset %zu", at);
	}
	dma_buf_vunmap_unlocked(buf, cpu);
	niov = net_devmem_get_niov_at(binding, buf->size - 1, &off, &size);
	cr_assert_not_null(niov);
	cr_assert_eq(size, 1);
	cr_assert_null(net_devmem_get_niov_at(binding, buf->size, &off, &size), "past the end");
	cr_assert_null(net_devmem_get_niov_at(binding, SIZE_MAX, &off, &size));
	net_devmem_unbind_dmabuf(binding);
	finish(nic, buf);
}

Test(devmem, rx_binding_has_no_tx_niovs)
{
	struct test_nic *nic = nic_new();
	struct dma_buf *buf = host_buf(4, NULL, 0);
	struct net_devmem_dmabuf_binding *binding = bind_plain_ok(nic, buf, DMA_FROM_DEVICE);
	size_t off, size;

	cr_assert_null(net_devmem_get_niov_at(binding, 0, &off, &size));
	net_devmem_unbind_dmabuf(binding);
	finish(nic, buf);
}

Test(devmem, tx_binding_cannot_serve_an_rx_queue)
{
	struct test_nic *nic = nic_new_tx();
	struct dma_buf *buf = host_buf(4, NULL, 0);
	struct net_devmem_dmabuf_binding *binding = bind_plain_ok(nic, buf, DMA_TO_DEVICE);
	struct net_device *dev = test_nic_netdev(nic);

	netdev_lock(dev);
	cr_assert_eq(net_devmem_bind_dmabuf_to_queue(dev, 0, binding), -EINVAL);
	netdev_unlock(dev);
	assert_queue_on_host_pages(nic, 0);
	net_devmem_unbind_dmabuf(binding);
	finish(nic, buf);
}

Test(devmem, one_dmabuf_shared_by_an_rx_and_a_tx_binding)
{
	struct test_nic *nic = nic_new_tx();
	struct dma_buf *buf = host_buf(4, NULL, 0);
	struct device *ddev = test_nic_device(nic);
	struct net_devmem_dmabuf_binding *rx = bind_rx_ok(nic, buf, 0);
	struct net_devmem_dmabuf_binding *tx = bind_plain_ok(nic, buf, DMA_TO_DEVICE);
	unsigned char data[128], back[128];
	struct net_iov *rx_niov, *tx_niov;
	netmem_ref netmem;
	size_t off, size;

	cr_assert_eq(rx->id, 1);
	cr_assert_eq(tx->id, 2);
	cr_assert_eq(refs_of(buf), 3, "the test and each binding");
	cr_assert_neq(rx->attachment, tx->attachment);

	/* received into the buffer through the rx binding, sent from it through the tx one */
	netmem = test_nic_rx_alloc(nic, 0);
	rx_niov = netmem_to_net_iov(netmem);
	tx_niov = net_devmem_get_niov_at(tx, net_iov_virtual_addr(rx_niov), &off, &size);
	cr_assert_not_null(tx_niov);
	cr_assert_neq(tx_niov, rx_niov, "each binding has its own net_iovs");
	cr_assert_eq(off, 0);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i ^ 0x5a);
	cr_assert_eq(device_access(ddev, netmem_get_dma_addr(netmem), data, sizeof(data),
				   DMA_FROM_DEVICE),
		     0);
	cr_assert_eq(device_access(ddev, tx_niov->desc.dma_addr, back, sizeof(back), DMA_TO_DEVICE),
		     0);
	cr_assert_eq(memcmp(data, back, sizeof(data)), 0);
	test_nic_rx_put(netmem);

	net_devmem_unbind_dmabuf(rx);
	cr_assert_eq(refs_of(buf), 2, "the tx binding still holds it");
	net_devmem_unbind_dmabuf(tx);
	finish(nic, buf);
}

/* ---- a buffer that could move ---- */

struct gpu {
	struct device *dev;
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;
};

static void gpu_move_notify(struct dma_buf_attachment *attach)
{
}

static const struct dma_buf_attach_ops gpu_ops = {
	.allow_peer2peer = true,
	.move_notify = gpu_move_notify,
};

/* A p2p importer maps: an unpinned vram buffer comes back into the heap for it. */
static void gpu_map(struct gpu *gpu)
{
	struct dma_buf *buf = gpu->attach->dmabuf;

	dma_resv_lock(buf->resv, NULL);
	cr_assert_eq(dma_buf_map_attachment(gpu->attach, DMA_BIDIRECTIONAL, &gpu->sgt), 0);
	dma_resv_unlock(buf->resv);
	cr_assert_gt(dma_resv_wait_timeout(buf->resv, DMA_RESV_USAGE_KERNEL, false,
					   DMA_FENCE_MAX_TIMEOUT),
		     0);
}

static void gpu_unmap(struct gpu *gpu)
{
	dma_buf_unmap_attachment_unlocked(gpu->attach, gpu->sgt, DMA_BIDIRECTIONAL);
	gpu->sgt = NULL;
}

static uint64_t restores_of(struct vram *vram)
{
	struct vram_stats stats;

	devmem_vram_get_stats(vram, &stats);
	return stats.restores;
}

Test(devmem, vram_buffer_is_pinned_while_bound)
{
	struct device_opts gpu_opts = { .sz = sizeof(gpu_opts), .p2p = true };
	struct test_nic *nic = nic_new();
	struct device *ddev = test_nic_device(nic);
	struct net_devmem_dmabuf_binding *binding;
	struct vram *vram = NULL;
	struct dma_buf *buf = NULL;
	unsigned char data[64] = { 7 };
	struct gpu gpu = { 0 };
	netmem_ref netmem;

	cr_assert_eq(devmem_vram_create("vram0", 8 * PAGE_SIZE, NULL, &vram), 0);
	cr_assert_eq(devmem_vram_buffer_create(vram, 4 * PAGE_SIZE, &buf), 0);
	cr_assert_eq(devmem_vram_buffer_placement(buf), VRAM_PLACEMENT_VRAM);
	cr_assert_eq(device_create("gpu0", &gpu_opts, &gpu.dev), 0);
	cr_assert_eq(dma_buf_dynamic_attach(buf, gpu.dev, &gpu_ops, &gpu, &gpu.attach), 0);

	/* the NIC cannot reach the heap: the static bind pins it in system memory */
	binding = bind_rx_ok(nic, buf, 0);
	cr_assert_eq(devmem_vram_buffer_placement(buf), VRAM_PLACEMENT_SYSTEM);
	netmem = test_nic_rx_alloc(nic, 0);
	cr_assert(netmem_is_net_iov(netmem));

	/* a peer that would bring it back to the heap cannot move it, nor can pressure */
	gpu_map(&gpu);
	cr_assert_eq(devmem_vram_buffer_placement(buf), VRAM_PLACEMENT_SYSTEM);
	cr_assert_eq(restores_of(vram), 0);
	gpu_unmap(&gpu);
	cr_assert_geq(devmem_vram_evict(vram, 8 * PAGE_SIZE), 0);
	devmem_vram_flush(vram);
	cr_assert_eq(devmem_vram_buffer_placement(buf), VRAM_PLACEMENT_SYSTEM);
	cr_assert_eq(device_access(ddev, netmem_get_dma_addr(netmem), data, sizeof(data),
				   DMA_FROM_DEVICE),
		     0, "the net_iov's address stays valid");
	cr_assert_eq(device_fault_count(ddev), 0);

	/* unbound and every net_iov back: the pin is gone and the buffer can move again */
	test_nic_rx_put(netmem);
	net_devmem_unbind_dmabuf(binding);
	cr_assert_eq(net_devmem_nr_bindings(), 0);
	gpu_map(&gpu);
	cr_assert_eq(devmem_vram_buffer_placement(buf), VRAM_PLACEMENT_VRAM);
	cr_assert_eq(restores_of(vram), 1);
	gpu_unmap(&gpu);
	dma_buf_detach(buf, gpu.attach);
	device_put(gpu.dev);
	test_nic_destroy(nic);
	cr_assert_eq(refs_of(buf), 1);
	dma_buf_put(buf);
	devmem_vram_destroy(vram);
}
