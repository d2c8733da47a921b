// SPDX-License-Identifier: MIT
/*
 * devmem bindings and the dma-buf memory provider (net/core/devmem.c).
 *
 * A binding's life: net_devmem_bind_dmabuf() attaches and maps the buffer,
 * cuts every sg entry into a chunk of net_iovs and publishes the id; the
 * queues it serves take it as their provider through net_mp_open_rxq();
 * net_devmem_unbind_dmabuf() withdraws the id, puts the queues back on host
 * pages and drops the creator's reference; the last reference (a page pool
 * or a net_iov a user kept) undoes the bind.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/debug.h"
#include "lib/error.h"
#include "lib/idr.h"
#include "net/devmem.h"

/*
 * Binding ids, and every binding alive (bound or waiting for its net_iovs)
 * in id-allocation order. The table's lock also protects the list: a
 * binding is listed when its id is allocated and unlisted when it is freed.
 */
static DEFINE_IDR(net_devmem_dmabuf_bindings);
static LIST_HEAD(net_devmem_all_bindings); /* protected by the idr's lock */

static long nr_bindings; /* atomic: allocated and not yet freed */

long net_devmem_nr_bindings(void)
{
	return __atomic_load_n(&nr_bindings, __ATOMIC_ACQUIRE);
}

void net_devmem_set_next_id(uint32_t id)
{
	idr_set_next(&net_devmem_dmabuf_bindings, id);
}

static inline size_t net_devmem_niov_size(const struct net_devmem_dmabuf_binding *binding)
{
	return (size_t)1 << binding->niov_shift;
}

/* The net_iov of @owner's chunk at device address @dma_addr. */
static inline struct net_iov *dmabuf_owner_niov(struct dmabuf_genpool_chunk_owner *owner,
						unsigned long dma_addr)
{
	struct net_iov_area *area = &owner->area;

	return &area->niovs[(dma_addr - area->base_dma_addr) >> area->niov_shift];
}

static void net_devmem_free_chunk_owner(struct gen_pool *pool, struct gen_pool_chunk *chunk,
					void *data)
{
	struct dmabuf_genpool_chunk_owner *owner = chunk->owner;

	free(owner->area.niovs);
	free(owner);
}

/*
 * Two rx bindings of one dma-buf alias each other: each hands its NIC the
 * same memory, so one's new data can land where a user of the other still
 * holds a fragment (the kernel allows it, and so do we; see
 * net_devmem_rx_written()). Keep every rx binding's count of its live
 * aliases as @binding joins (@delta 1) or leaves (-1) the list of bindings
 * alive (id lock held exclusively).
 */
static void net_devmem_count_aliases(struct net_devmem_dmabuf_binding *binding, long delta)
{
	struct net_devmem_dmabuf_binding *other;

	if (binding->direction != DMA_FROM_DEVICE)
		return;
	list_for_each_entry(other, &net_devmem_all_bindings, all) {
		if (other == binding || other->dmabuf != binding->dmabuf ||
		    other->direction != DMA_FROM_DEVICE)
			continue;
		__atomic_fetch_add(&other->nr_aliases, delta, __ATOMIC_RELAXED);
		__atomic_fetch_add(&binding->nr_aliases, delta, __ATOMIC_RELAXED);
	}
}

/* The last reference is gone: nothing can reach the binding any more. */
static void net_devmem_dmabuf_binding_release(struct net_devmem_dmabuf_binding *binding)
{
	idr_lock(&net_devmem_dmabuf_bindings);
	list_del(&binding->all);
	net_devmem_count_aliases(binding, -1);
	idr_unlock(&net_devmem_dmabuf_bindings);

	gen_pool_for_each_chunk(binding->chunk_pool, net_devmem_free_chunk_owner, NULL);
	gen_pool_destroy(binding->chunk_pool);
	free(binding->tx_vec);
	free(binding->bound_rxqs);
	dma_buf_unmap_attachment_unlocked(binding->attachment, binding->sgt, binding->direction);
	dma_buf_detach(binding->dmabuf, binding->attachment);
	dma_buf_put(binding->dmabuf);
	netdev_put(binding->dev);
	free(binding);
	__atomic_fetch_sub(&nr_bindings, 1, __ATOMIC_RELEASE);
}

void net_devmem_dmabuf_binding_put_many(struct net_devmem_dmabuf_binding *binding, long nr)
{
	/* acq_rel: the releasing thread sees what every other holder wrote */
	long old = __atomic_fetch_sub(&binding->ref, nr, __ATOMIC_ACQ_REL);

	DEVMEM_BUG_ON(old < nr);
	if (old == nr)
		net_devmem_dmabuf_binding_release(binding);
}

struct net_iov *net_devmem_alloc_dmabuf(struct net_devmem_dmabuf_binding *binding)
{
	void *owner;
	unsigned long dma_addr =
		gen_pool_alloc_owner(binding->chunk_pool, net_devmem_niov_size(binding), &owner);

	if (!dma_addr)
		return NULL;
	net_devmem_dmabuf_binding_get(binding);
	return dmabuf_owner_niov(owner, dma_addr);
}

void net_devmem_free_dmabuf(struct net_iov *niov)
{
	struct net_devmem_dmabuf_binding *binding = net_devmem_iov_binding(niov);

	/* back in the pool before the reference goes: the last put destroys the pool */
	gen_pool_free(binding->chunk_pool, (unsigned long)niov->desc.dma_addr,
		      net_devmem_niov_size(binding));
	net_devmem_dmabuf_binding_put(binding);
}

size_t net_devmem_niovs_free(struct net_devmem_dmabuf_binding *binding)
{
	return gen_pool_avail(binding->chunk_pool) >> binding->niov_shift;
}

struct net_iov *net_devmem_get_niov_at(struct net_devmem_dmabuf_binding *binding, size_t virt_addr,
				       size_t *off, size_t *size)
{
	size_t niov_size = net_devmem_niov_size(binding);

	if (!binding->tx_vec || virt_addr >= binding->dmabuf->size)
		return NULL;
	*off = virt_addr & (niov_size - 1);
	*size = niov_size - *off;
	return binding->tx_vec[virt_addr >> binding->niov_shift];
}

/*
 * Make a chunk of sg entry @idx (@len bytes at @dma_addr, @virt bytes into
 * the buffer) and add it to the binding's pool.
 */
static int net_devmem_add_chunk(struct net_devmem_dmabuf_binding *binding, unsigned int idx,
				dma_addr_t dma_addr, size_t len, unsigned long virt)
{
	size_t niov_size = net_devmem_niov_size(binding), nr = len >> binding->niov_shift, i;
	struct dmabuf_genpool_chunk_owner *owner;
	struct net_iov *niovs;
	int err;

	if (!IS_ALIGNED(len, PAGE_SIZE))
		return devmem_err(-EINVAL, "dma-buf SG length must be PAGE_SIZE aligned");
	/* a net_iov is one device-address range of its size: the entry must start on one too */
	if (!IS_ALIGNED(dma_addr, niov_size) || !IS_ALIGNED(len, niov_size))
		return devmem_err(
			-EINVAL,
			"dma-buf sg entry %u (addr=%#llx, len=%zu) not aligned to niov size %zu",
			idx, (unsigned long long)dma_addr, len, niov_size);

	owner = calloc(1, sizeof(*owner));
	if (!owner)
		return -ENOMEM;
	niovs = calloc(nr, sizeof(*niovs));
	if (!niovs) {
		err = -ENOMEM;
		goto err_free_owner;
	}
	net_iov_area_init(&owner->area, niovs, nr, virt, dma_addr, binding->niov_shift,
			  NET_IOV_DMABUF);
	owner->binding = binding;
	err = gen_pool_add_owner(binding->chunk_pool, (unsigned long)dma_addr, len, owner);
	if (err)
		goto err_free_niovs;

	if (binding->tx_vec)
		for (i = 0; i < nr; i++)
			binding->tx_vec[(virt >> binding->niov_shift) + i] = &niovs[i];
	binding->nr_chunks++;
	binding->nr_niovs += nr;
	binding->metadata_bytes += sizeof(*owner) + nr * sizeof(*niovs);
	return 0;

err_free_niovs:
	free(niovs);
err_free_owner:
	free(owner);
	return err;
}

static int net_devmem_check_bind_args(struct net_device *dev, enum dma_data_direction direction,
				      unsigned int niov_shift)
{
	if (direction != DMA_FROM_DEVICE && direction != DMA_TO_DEVICE)
		return devmem_err(-EINVAL,
				  "devmem: binding direction %d (FROM_DEVICE or TO_DEVICE)",
				  direction);
	if (niov_shift < PAGE_SHIFT || niov_shift > GEN_POOL_MAX_ORDER)
		return devmem_err(-EINVAL, "devmem: net_iov size 2^%u outside [2^%u, 2^%u]",
				  niov_shift, PAGE_SHIFT, GEN_POOL_MAX_ORDER);
	if (direction == DMA_TO_DEVICE && !dev->netmem_tx)
		return devmem_err(-EOPNOTSUPP, "Driver does not support netmem TX");
	return 0;
}

int net_devmem_bind_dmabuf(struct net_device *dev, enum dma_data_direction direction, int dmabuf_fd,
			   unsigned int niov_shift, struct net_devmem_dmabuf_binding **out)
{
	struct net_devmem_dmabuf_binding *binding;
	struct scatterlist *sg;
	unsigned long virt = 0;
	struct dma_buf *dmabuf;
	unsigned int i;
	int err;

	err = net_devmem_check_bind_args(dev, direction, niov_shift);
	if (err)
		return err;
	/* dma_buf_get()'s own errno: -EBADF for no open fd, -EINVAL for a fd that is not a dma-buf */
	err = dma_buf_get(dmabuf_fd, &dmabuf);
	if (err)
		return err;

	binding = calloc(1, sizeof(*binding));
	if (!binding) {
		err = -ENOMEM;
		goto err_put;
	}
	__atomic_fetch_add(&nr_bindings, 1, __ATOMIC_RELAXED);
	binding->dmabuf = dmabuf;
	binding->dev = dev;
	netdev_hold(dev);
	binding->direction = direction;
	binding->niov_shift = niov_shift;
	binding->metadata_bytes = sizeof(*binding);
	INIT_LIST_HEAD(&binding->list);
	INIT_LIST_HEAD(&binding->all);

	err = dma_buf_attach(dmabuf, dev->dev, &binding->attachment);
	if (err)
		goto err_free_binding;
	err = dma_buf_map_attachment_unlocked(binding->attachment, direction, &binding->sgt);
	if (err)
		goto err_detach;
	if (!IS_ALIGNED(dmabuf->size, net_devmem_niov_size(binding))) {
		err = devmem_err(-EINVAL, "dmabuf size %zu not aligned to niov size %zu",
				 dmabuf->size, net_devmem_niov_size(binding));
		goto err_unmap;
	}
	err = gen_pool_create(niov_shift, &binding->chunk_pool);
	if (err)
		goto err_unmap;

	if (direction == DMA_TO_DEVICE) {
		size_t nr = DIV_ROUND_UP(dmabuf->size, net_devmem_niov_size(binding));

		binding->tx_vec = calloc(nr, sizeof(*binding->tx_vec));
		if (!binding->tx_vec) {
			err = -ENOMEM;
			goto err_free_chunks;
		}
		binding->metadata_bytes += nr * sizeof(*binding->tx_vec);
	} else {
		/* one slot per queue the device has: binding a queue cannot fail for memory */
		binding->bound_rxqs = calloc(dev->num_rx_queues, sizeof(*binding->bound_rxqs));
		if (!binding->bound_rxqs) {
			err = -ENOMEM;
			goto err_free_chunks;
		}
		binding->metadata_bytes += dev->num_rx_queues * sizeof(*binding->bound_rxqs);
	}

	for_each_sgtable_dma_sg(binding->sgt, sg, i)
	{
		err = net_devmem_add_chunk(binding, i, sg_dma_address(sg), sg_dma_len(sg), virt);
		if (err)
			goto err_free_chunks;
		virt += sg_dma_len(sg);
	}
	binding->metadata_bytes += gen_pool_metadata_bytes(binding->chunk_pool);

	binding->mp_params.mp_ops = &dmabuf_devmem_ops;
	binding->mp_params.mp_priv = binding;
	/* the queue's driver must fill its ring with buffers of the net_iov size */
	if (niov_shift != PAGE_SHIFT)
		binding->mp_params.rx_page_size = 1U << niov_shift;
	binding->ref = 1;

	idr_lock(&net_devmem_dmabuf_bindings);
	err = idr_alloc_cyclic_locked(&net_devmem_dmabuf_bindings, binding, &binding->id);
	if (!err) {
		list_add_tail(&binding->all, &net_devmem_all_bindings);
		net_devmem_count_aliases(binding, 1);
	}
	idr_unlock(&net_devmem_dmabuf_bindings);
	if (err) {
		devmem_err(err, "devmem: no binding id left");
		goto err_free_chunks;
	}
	*out = binding;
	return 0;

err_free_chunks:
	gen_pool_for_each_chunk(binding->chunk_pool, net_devmem_free_chunk_owner, NULL);
	gen_pool_destroy(binding->chunk_pool);
	free(binding->tx_vec);
	free(binding->bound_rxqs);
err_unmap:
	dma_buf_unmap_attachment_unlocked(binding->attachment, binding->sgt, direction);
err_detach:
	dma_buf_detach(dmabuf, binding->attachment);
err_free_binding:
	netdev_put(dev);
	free(binding);
	__atomic_fetch_sub(&nr_bindings, 1, __ATOMIC_RELEASE);
err_put:
	dma_buf_put(dmabuf);
	return err;
}

/* Forget rx queue @rxq_idx if @binding lists it, keeping the others in order (dev->lock held). */
static void net_devmem_forget_rxq(struct net_devmem_dmabuf_binding *binding, uint32_t rxq_idx)
{
	unsigned int i;

	for (i = 0; i < binding->nr_bound_rxqs; i++) {
		if (binding->bound_rxqs[i] != rxq_idx)
			continue;
		binding->nr_bound_rxqs--;
		memmove(&binding->bound_rxqs[i], &binding->bound_rxqs[i + 1],
			(binding->nr_bound_rxqs - i) * sizeof(*binding->bound_rxqs));
		return;
	}
}

/*
 * Put every queue @binding serves back on host pages (dev->lock held). A
 * queue whose restart fails keeps the provider, and stays listed, until its
 * device goes away (the provider's uninstall forgets it then).
 */
static void net_devmem_close_rxqs(struct net_devmem_dmabuf_binding *binding)
{
	struct net_device *dev = binding->dev;
	unsigned int i = 0;
	uint32_t rxq_idx;

	netdev_assert_locked(dev);
	while (i < binding->nr_bound_rxqs) {
		rxq_idx = binding->bound_rxqs[i];
		if (net_mp_close_rxq(dev, rxq_idx, &binding->mp_params)) {
			i++;
			continue;
		}
		/* the close may have uninstalled it already: this is then a no-op */
		net_devmem_forget_rxq(binding, rxq_idx);
	}
}

int net_devmem_bind_dmabuf_to_queue(struct net_device *dev, unsigned int rxq_idx,
				    struct net_devmem_dmabuf_binding *binding)
{
	int err;

	netdev_assert_locked(dev);
	if (binding->dev != dev || binding->direction != DMA_FROM_DEVICE || binding->unbound)
		return devmem_err(-EINVAL, "rx queue %u: binding %u cannot serve it", rxq_idx,
				  binding->id);
	err = net_mp_open_rxq(dev, rxq_idx, &binding->mp_params);
	if (err)
		return err;
	DEVMEM_BUG_ON(binding->nr_bound_rxqs >= dev->num_rx_queues);
	binding->bound_rxqs[binding->nr_bound_rxqs++] = rxq_idx;
	return 0;
}

/*
 * Read the queue list of a bind-rx request as netdev_nl_read_rxq_bitmap()
 * does (dev->lock held), before the dma-buf is touched: every entry must be
 * an rx queue the device has, and a queue named twice is bound once.
 */
static int net_devmem_read_rxq_bitmap(struct net_device *dev, const struct devmem_queue_id *queues,
				      unsigned int nr_queues, bool *rxq_bitmap)
{
	unsigned int i;

	netdev_assert_locked(dev);
	for (i = 0; i < nr_queues; i++) {
		if (queues[i].type != NETDEV_QUEUE_TYPE_RX)
			return devmem_err(-EINVAL, "queue %u: type %u is not rx", queues[i].id,
					  queues[i].type);
		if (queues[i].id >= dev->real_num_rx_queues)
			return devmem_err(-EINVAL, "rx queue %u out of range (device has %u)",
					  queues[i].id, dev->real_num_rx_queues);
		rxq_bitmap[queues[i].id] = true;
	}
	return 0;
}

/* What bind-rx checks of the device and the queue list (dev->lock held), in the kernel's order. */
static int net_devmem_check_rx_request(struct net_device *dev, const struct devmem_queue_id *queues,
				       unsigned int nr_queues, bool **rxq_bitmap,
				       unsigned int *nr_rxqs)
{
	netdev_assert_locked(dev);
	if (dev->reg_state != NETREG_REGISTERED)
		return devmem_err(-ENODEV, "ifindex %d: %s is not registered", dev->ifindex,
				  dev->name);
	/* the kernel's netdev_need_ops_lock(): only a driver with queue management can rebind */
	if (!dev->queue_mgmt_ops)
		return devmem_err(-EOPNOTSUPP, "ifindex %d: %s has no queue management",
				  dev->ifindex, dev->name);
	*nr_rxqs = dev->real_num_rx_queues;
	*rxq_bitmap = calloc(*nr_rxqs, sizeof(**rxq_bitmap));
	if (!*rxq_bitmap)
		return devmem_err(-ENOMEM, "bind-rx: out of memory");
	return net_devmem_read_rxq_bitmap(dev, queues, nr_queues, *rxq_bitmap);
}

int net_devmem_bind_rx(struct net_device *dev, int dmabuf_fd, const struct devmem_queue_id *queues,
		       unsigned int nr_queues, unsigned int niov_shift,
		       struct net_devmem_dmabuf_binding **out)
{
	struct net_devmem_dmabuf_binding *binding;
	unsigned int nr_rxqs = 0, i;
	bool *rxq_bitmap = NULL;
	char reason[256] = "";
	int err;

	if (!nr_queues || !queues)
		return devmem_err(-EINVAL, "bind-rx needs at least one queue");
	netdev_lock(dev);
	err = net_devmem_check_rx_request(dev, queues, nr_queues, &rxq_bitmap, &nr_rxqs);
	netdev_unlock(dev);
	if (err)
		goto out_free;
	err = net_devmem_bind_dmabuf(dev, DMA_FROM_DEVICE, dmabuf_fd, niov_shift, &binding);
	if (err)
		goto out_free;

	netdev_lock(dev);
	if (dev->reg_state != NETREG_REGISTERED)
		err = devmem_err(-ENODEV, "%s: device is not registered", dev->name);
	/* ascending queue order, as the kernel walks its bitmap */
	for (i = 0; !err && i < nr_rxqs; i++)
		if (rxq_bitmap[i])
			err = net_devmem_bind_dmabuf_to_queue(dev, i, binding);
	if (err) {
		/* the rollback's restarts must not overwrite why the bind failed */
		snprintf(reason, sizeof(reason), "%s", devmem_last_error());
		net_devmem_close_rxqs(binding);
	}
	netdev_unlock(dev);

	if (err) {
		net_devmem_unbind_dmabuf(binding);
		err = devmem_err(err, "%s", reason);
		goto out_free;
	}
	*out = binding;
out_free:
	free(rxq_bitmap);
	return err;
}

void net_devmem_unbind_dmabuf(struct net_devmem_dmabuf_binding *binding)
{
	struct net_device *dev = binding->dev;

	/* first: from now on no lookup finds it, so no new user can come */
	idr_remove(&net_devmem_dmabuf_bindings, binding->id);

	netdev_lock(dev);
	DEVMEM_BUG_ON(binding->unbound);
	binding->unbound = true;
	net_devmem_close_rxqs(binding);
	netdev_unlock(dev);

	net_devmem_dmabuf_binding_put(binding);
}

struct net_devmem_dmabuf_binding *net_devmem_lookup_dmabuf(uint32_t id)
{
	struct net_devmem_dmabuf_binding *binding;

	/* an unbind removes the id under the exclusive lock before it drops its reference */
	idr_lock_shared(&net_devmem_dmabuf_bindings);
	binding = idr_find_locked(&net_devmem_dmabuf_bindings, id);
	if (binding)
		net_devmem_dmabuf_binding_get(binding);
	idr_unlock_shared(&net_devmem_dmabuf_bindings);
	return binding;
}

int net_devmem_for_each_binding(int (*fn)(struct net_devmem_dmabuf_binding *binding, void *data),
				void *data)
{
	struct net_devmem_dmabuf_binding *binding;
	int ret = 0;

	idr_lock_shared(&net_devmem_dmabuf_bindings);
	list_for_each_entry(binding, &net_devmem_all_bindings, all) {
		ret = fn(binding, data);
		if (ret)
			break;
	}
	idr_unlock_shared(&net_devmem_dmabuf_bindings);
	return ret;
}

/* ---- held fragments overwritten through another binding ---- */

struct net_devmem_overwrite_scan {
	const struct net_devmem_dmabuf_binding *writer;
	unsigned long start, end; /* the bytes written, as offsets in the dma-buf */
	uint64_t victims; /* held net_iovs of the binding being scanned that overlap */
	uint64_t total;
};

static void net_devmem_scan_chunk(struct gen_pool *pool, struct gen_pool_chunk *chunk, void *data)
{
	struct dmabuf_genpool_chunk_owner *owner = chunk->owner;
	struct net_devmem_overwrite_scan *w = data;
	struct net_iov_area *area = &owner->area;
	unsigned long lo = max(w->start, area->base_virtual);
	unsigned long hi = min(w->end, area->base_virtual + (area->num_niovs << area->niov_shift));
	size_t i;

	if (lo >= hi)
		return;
	for (i = (lo - area->base_virtual) >> area->niov_shift;
	     i <= (hi - 1 - area->base_virtual) >> area->niov_shift; i++)
		if (__atomic_load_n(&area->niovs[i].user_refs, __ATOMIC_RELAXED) > 0)
			w->victims++;
}

static int net_devmem_scan_binding(struct net_devmem_dmabuf_binding *binding, void *data)
{
	struct net_devmem_overwrite_scan *w = data;

	if (binding == w->writer || binding->dmabuf != w->writer->dmabuf ||
	    binding->direction != DMA_FROM_DEVICE)
		return 0;
	w->victims = 0;
	gen_pool_for_each_chunk(binding->chunk_pool, net_devmem_scan_chunk, w);
	if (w->victims) {
		__atomic_fetch_add(&binding->held_overwritten, w->victims, __ATOMIC_RELAXED);
		w->total += w->victims;
	}
	return 0;
}

void net_devmem_rx_written(netmem_ref netmem, size_t len)
{
	struct net_devmem_overwrite_scan w;
	struct net_devmem_dmabuf_binding *binding;
	struct net_iov *niov;

	if (!netmem_is_net_iov(netmem) || !len)
		return;
	niov = netmem_to_net_iov(netmem);
	if (niov->type != NET_IOV_DMABUF)
		return;
	binding = net_devmem_iov_binding(niov);
	/* the common case: no other binding shares the buffer */
	if (!__atomic_load_n(&binding->nr_aliases, __ATOMIC_RELAXED))
		return;
	w = (struct net_devmem_overwrite_scan){
		.writer = binding,
		.start = net_iov_virtual_addr(niov),
		.end = net_iov_virtual_addr(niov) + len,
	};
	net_devmem_for_each_binding(net_devmem_scan_binding, &w);
	if (w.total)
		__atomic_fetch_add(&binding->overwrote_held, w.total, __ATOMIC_RELAXED);
}

/* ---- the memory provider ---- */

static int mp_dmabuf_devmem_init(struct page_pool *pool)
{
	struct net_devmem_dmabuf_binding *binding = pool->mp_priv;

	if (!binding)
		return devmem_err(-EINVAL, "devmem provider without a binding");
	/* a dma-buf's device addresses are never synced: its exporter keeps it coherent */
	pool->dma_sync = false;
	if (pool->p.order != binding->niov_shift - PAGE_SHIFT)
		return devmem_err(-E2BIG,
				  "devmem: pool order %u does not match net_iovs of %zu bytes",
				  pool->p.order, net_devmem_niov_size(binding));
	net_devmem_dmabuf_binding_get(binding);
	return 0;
}

/* Owner context: one bulk take from the chunk pool and one reference add for the batch. */
static int mp_dmabuf_devmem_alloc_netmems(struct page_pool *pool, netmem_ref *netmems, int n)
{
	struct net_devmem_dmabuf_binding *binding = pool->mp_priv;
	void *owners[PP_ALLOC_CACHE_REFILL];
	int got = 0, want, batch, i;

	while (got < n) {
		want = min(n - got, (int)ARRAY_SIZE(owners));
		/* a netmem_ref is an unsigned long: take the addresses in place */
		batch = gen_pool_alloc_bulk(binding->chunk_pool, &netmems[got], owners, want);
		for (i = 0; i < batch; i++) {
			struct net_iov *niov = dmabuf_owner_niov(owners[i], netmems[got + i]);

			netmems[got + i] = net_iov_to_netmem(niov);
		}
		got += batch;
		if (batch < want)
			break;
	}
	if (got)
		__atomic_fetch_add(&binding->ref, got, __ATOMIC_RELAXED);
	return got;
}

/* Any thread: the net_iov goes back to the chunk pool; it is not a page. */
static bool mp_dmabuf_devmem_release_page(struct page_pool *pool, netmem_ref netmem)
{
	DEVMEM_BUG_ON(!netmem_is_net_iov(netmem));
	net_devmem_free_dmabuf(netmem_to_net_iov(netmem));
	return false;
}

static void mp_dmabuf_devmem_destroy(struct page_pool *pool)
{
	net_devmem_dmabuf_binding_put(pool->mp_priv);
}

static int mp_dmabuf_devmem_nl_fill(void *mp_priv, struct netdev_mp_attrs *attrs,
				    struct netdev_rx_queue *rxq)
{
	const struct net_devmem_dmabuf_binding *binding = mp_priv;

	attrs->dmabuf_id = binding->id;
	return 0;
}

/* The device is going away with the provider installed (dev->lock held). */
static void mp_dmabuf_devmem_uninstall(void *mp_priv, struct netdev_rx_queue *rxq)
{
	struct net_devmem_dmabuf_binding *binding = mp_priv;

	netdev_assert_locked(rxq->dev);
	net_devmem_forget_rxq(binding, rxq->index);
}

const struct memory_provider_ops dmabuf_devmem_ops = {
	.alloc_netmems = mp_dmabuf_devmem_alloc_netmems,
	.release_netmem = mp_dmabuf_devmem_release_page,
	.init = mp_dmabuf_devmem_init,
	.destroy = mp_dmabuf_devmem_destroy,
	.nl_fill = mp_dmabuf_devmem_nl_fill,
	.uninstall = mp_dmabuf_devmem_uninstall,
};
