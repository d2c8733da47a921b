// SPDX-License-Identifier: MIT
/*
 * devmem bindings: what binding costs and what the dma-buf memory provider
 * costs a page pool, each with a baseline measured in the same run.
 *   - bind + unbind of a 1 GiB host buffer (attach, map, chunks and net_iovs,
 *     then the reverse), with the metadata the binding allocates, against a
 *     bare attach + map + unmap + detach of the same buffer;
 *   - the refill path: a page pool whose queue has the binding as provider
 *     hands out every net_iov of a 64 MiB binding, refilling its cache from
 *     the provider (the chunk allocator) 64 at a time, against the same with
 *     the default host page provider (pages already mapped, on its free list);
 *   - the provider alone: alloc_netmems(64) + release_netmem of each.
 * Figures are medians of several runs. Build with `make bench`.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "devmem/dma-buf.h"
#include "devmem/error.h"
#include "devmem/host.h"
#include "net/devmem.h"
#include "net/netdev.h"
#include "net/page_pool.h"

#define RUNS 7
#define GIB (1UL << 30)
#define REFILL_BYTES (64UL << 20)
#define PROVIDER_ROUNDS 20000

static struct device *nic_dev;
static struct net_device *netdev;

static void die(const char *what, int err)
{
	printf("%s: %s (%s)\n", what, strerror(-err), devmem_last_error());
	exit(1);
}

static void setup(void)
{
	struct net_device_config cfg = {
		.name = "bench0",
		.ifindex = 4242,
		.num_rx_queues = 1,
		.num_tx_queues = 1,
		.hds_thresh_max = 1024,
	};
	int err = device_create("bench-nic", NULL, &nic_dev);

	if (err)
		die("device_create", err);
	cfg.dev = nic_dev;
	err = alloc_netdev(&cfg, &netdev);
	if (err)
		die("alloc_netdev", err);
}

static void teardown(void)
{
	netdev_put(netdev);
	device_put(nic_dev);
}

/* A host buffer of @size bytes whose pages exist (touched once), as an fd. */
static int host_buffer_fd(size_t size, size_t max_segment, struct dma_buf **out)
{
	DEVMEM_OPTS(host_buffer_opts, opts, .max_segment = max_segment);
	void *vaddr;
	int err, fd;

	err = devmem_host_buffer_create(size, &opts, out);
	if (err)
		die("devmem_host_buffer_create", err);
	err = dma_buf_vmap_unlocked(*out, &vaddr);
	if (err)
		die("dma_buf_vmap", err);
	memset(vaddr, 0x5a, size);
	dma_buf_vunmap_unlocked(*out, vaddr);
	fd = dma_buf_fd(*out, 0);
	if (fd < 0)
		die("dma_buf_fd", fd);
	return fd;
}

static void bench_bind(size_t max_segment, const char *label)
{
	double bind_ns[RUNS], raw_ns[RUNS], raw, bind;
	struct net_devmem_dmabuf_binding *binding;
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;
	struct dma_buf *buf;
	size_t metadata = 0;
	unsigned int chunks = 0;
	char row[96];
	int fd = host_buffer_fd(GIB, max_segment, &buf);

	for (int r = 0; r < RUNS; r++) {
		int64_t t0 = bench_now_ns();
		int err = dma_buf_attach(buf, nic_dev, &attach);

		if (err)
			die("dma_buf_attach", err);
		err = dma_buf_map_attachment_unlocked(attach, DMA_FROM_DEVICE, &sgt);
		if (err)
			die("dma_buf_map_attachment", err);
		dma_buf_unmap_attachment_unlocked(attach, sgt, DMA_FROM_DEVICE);
		dma_buf_detach(buf, attach);
		raw_ns[r] = (double)(bench_now_ns() - t0);

		t0 = bench_now_ns();
		err = net_devmem_bind_dmabuf(netdev, DMA_FROM_DEVICE, fd, PAGE_SHIFT, &binding);
		if (err)
			die("net_devmem_bind_dmabuf", err);
		metadata = binding->metadata_bytes;
		chunks = binding->nr_chunks;
		net_devmem_unbind_dmabuf(binding);
		bind_ns[r] = (double)(bench_now_ns() - t0);
	}
	raw = bench_median(raw_ns, RUNS);
	bind = bench_median(bind_ns, RUNS);
	snprintf(row, sizeof(row), "%s: sg entries (chunks)", label);
	bench_row(row, chunks, "", NULL);
	snprintf(row, sizeof(row), "%s: attach+map+unmap+detach", label);
	bench_row(row, raw / 1e6, "ms", NULL);
	snprintf(row, sizeof(row), "%s: bind + unbind", label);
	bench_row(row, bind / 1e6, "ms", NULL);
	snprintf(row, sizeof(row), "%s: metadata per GiB bound", label);
	bench_row(row, (double)metadata / (1 << 20), "MiB", NULL);
	snprintf(row, sizeof(row), "%s: metadata / buffer", label);
	bench_row(row, 100.0 * (double)metadata / GIB, "%", "<= 1.5 %");
	close(fd);
	dma_buf_put(buf);
}

static struct page_pool *pool_new(const struct pp_memory_provider_params *mp)
{
	struct page_pool_params p = {
		.flags = PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV |
			 (mp ? PP_FLAG_ALLOW_UNREADABLE_NETMEM : 0),
		.max_len = PAGE_SIZE,
		.pool_size = PP_POOL_SIZE_MAX,
		.dev = nic_dev,
		.dma_dir = DMA_FROM_DEVICE,
		.mp = mp,
	};
	struct page_pool *pool;
	int err = page_pool_create(&p, &pool);

	if (err)
		die("page_pool_create", err);
	return pool;
}

/* ns per netmem to hand out @n netmems from a fresh pool (cache refilled from the provider). */
static double drain_pool(const struct pp_memory_provider_params *mp, netmem_ref *held, size_t n)
{
	struct page_pool *pool = pool_new(mp);
	int64_t t0 = bench_now_ns();
	double ns;

	for (size_t i = 0; i < n; i++) {
		held[i] = page_pool_alloc_netmems(pool);
		if (!held[i])
			die("page_pool_alloc_netmems", -ENOMEM);
	}
	ns = (double)(bench_now_ns() - t0) / (double)n;
	/* back through the ring, the overflow straight to the provider */
	for (size_t i = 0; i < n; i++)
		page_pool_put_netmem(pool, held[i], false);
	page_pool_destroy(pool);
	return ns;
}

static void bench_refill(void)
{
	size_t n = REFILL_BYTES / PAGE_SIZE;
	netmem_ref *held = calloc(n, sizeof(*held));
	double dev_ns[RUNS], host_ns[RUNS], prov_ns[RUNS], dev, host, prov;
	struct net_devmem_dmabuf_binding *binding;
	struct dma_buf *buf;
	int fd = host_buffer_fd(REFILL_BYTES, 0, &buf);
	int err;

	if (!held)
		die("calloc", -ENOMEM);
	err = net_devmem_bind_dmabuf(netdev, DMA_FROM_DEVICE, fd, PAGE_SHIFT, &binding);
	if (err)
		die("net_devmem_bind_dmabuf", err);
	/* warm both providers: host pages mapped and on their free list */
	drain_pool(NULL, held, n);
	drain_pool(&binding->mp_params, held, n);
	for (int r = 0; r < RUNS; r++) {
		host_ns[r] = drain_pool(NULL, held, n);
		dev_ns[r] = drain_pool(&binding->mp_params, held, n);
	}

	/* the provider's own two calls, on a pool that only lends its identity */
	for (int r = 0; r < RUNS; r++) {
		struct page_pool *pool = pool_new(&binding->mp_params);
		netmem_ref batch[PP_ALLOC_CACHE_REFILL];
		int64_t t0 = bench_now_ns();

		for (int i = 0; i < PROVIDER_ROUNDS; i++) {
			int got =
				dmabuf_devmem_ops.alloc_netmems(pool, batch, PP_ALLOC_CACHE_REFILL);

			for (int j = 0; j < got; j++)
				dmabuf_devmem_ops.release_netmem(pool, batch[j]);
		}
		prov_ns[r] = (double)(bench_now_ns() - t0) /
			     ((double)PROVIDER_ROUNDS * PP_ALLOC_CACHE_REFILL);
		page_pool_destroy(pool);
	}
	host = bench_median(host_ns, RUNS);
	dev = bench_median(dev_ns, RUNS);
	prov = bench_median(prov_ns, RUNS);

	bench_header("page pool refill path, 64 MiB handed out 4 KiB at a time");
	bench_row("host page provider (baseline), per netmem", host, "ns", NULL);
	bench_row("dma-buf devmem provider, per net_iov", dev, "ns", NULL);
	bench_row("devmem / host pages", dev / host, "x", NULL);
	bench_row("provider alone: alloc(64) + release, per net_iov", prov, "ns", NULL);

	net_devmem_unbind_dmabuf(binding);
	close(fd);
	dma_buf_put(buf);
	free(held);
}

int main(void)
{
	setup();
	bench_header("bind + unbind of a 1 GiB host buffer (rx, 4 KiB net_iovs)");
	bench_bind(0, "1 sg entry");
	bench_bind(2UL << 20, "2 MiB sg entries");
	bench_refill();
	teardown();
	return 0;
}
