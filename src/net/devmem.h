/* SPDX-License-Identifier: MIT */
/*
 * devmem bindings: a dma-buf bound to a device for receive (its rx queues'
 * page pools hand out the buffer's net_iovs) or for transmit (sendmsg names
 * offsets in it), after the kernel's net/core/devmem.c.
 *
 * Binding a buffer attaches it (static: a dynamic exporter pins it) to the
 * NIC's device and maps it (FROM_DEVICE for rx, TO_DEVICE for tx). Every sg
 * entry becomes one chunk of the binding's chunk pool (lib/genpool.h), whose
 * owner (struct dmabuf_genpool_chunk_owner) holds the entry's base offset in
 * the dma-buf, its base device address and its net_iov array; a granule of
 * the pool is one net_iov (PAGE_SIZE, or a larger power of two). The pool
 * deals in device addresses: allocating one gives the net_iov by its owner.
 *
 * Lifetime: the binding is refcounted. The creator holds one reference
 * until net_devmem_unbind_dmabuf(); each page pool using it as its provider
 * holds one (init to destroy); each net_iov out of the chunk pool holds one
 * (allocation to free). The last put unmaps, detaches, drops the dma-buf and
 * frees: net_iovs a user still holds after unbind stay mapped and valid.
 *
 * Ids: from 1, allocated cyclically over [1, UINT32_MAX]; an id is looked up
 * (net_devmem_lookup_dmabuf()) from its allocation until its unbind.
 *
 * Locking: the bound-queue list is protected by the device's lock; the id
 * table by its own lock (lookups take it shared). Allocation and free of
 * net_iovs take no lock.
 */
#ifndef DEVMEM_NET_DEVMEM_H
#define DEVMEM_NET_DEVMEM_H

#include <stdbool.h>
#include <stdint.h>

#include "devmem/dma-buf.h"
#include "lib/genpool.h"
#include "lib/list.h"
#include "net/netdev.h"
#include "net/netmem.h"
#include "net/page_pool.h"

struct net_devmem_dmabuf_binding {
	/* immutable after the bind */
	struct dma_buf *dmabuf; /* referenced */
	struct dma_buf_attachment *attachment;
	struct sg_table *sgt;
	struct net_device *dev; /* referenced */
	enum dma_data_direction direction; /* DMA_FROM_DEVICE (rx) or DMA_TO_DEVICE (tx) */
	struct gen_pool *chunk_pool;
	unsigned int niov_shift; /* log2 of the net_iov size */
	unsigned int nr_chunks;
	size_t nr_niovs;
	size_t metadata_bytes; /* chunk owners, net_iov arrays, tx_vec, the pool's own */
	/* tx: net_iov of each niov-sized piece of the buffer, by offset (NULL for rx) */
	struct net_iov **tx_vec;
	uint32_t id;
	/* the queue provider this binding installs (mp_ops = dmabuf_devmem_ops) */
	struct pp_memory_provider_params mp_params;

	/* protected by dev->lock */
	uint32_t *bound_rxqs; /* indices of the rx queues using it */
	unsigned int nr_bound_rxqs;
	bool unbound; /* net_devmem_unbind_dmabuf() ran */

	/* protected by the owning control handle's lock */
	struct list_head list;
	void *owner; /* the control handle; NULL before it is listed */

	long ref; /* atomic */
	struct list_head all; /* every binding alive, for dumps; protected by the id lock */

	/*
	 * Other rx bindings alive over the same dma-buf; atomic, changed
	 * under the id lock. Non-zero: received data may overwrite a
	 * fragment a user of the other binding still holds (counted below).
	 */
	long nr_aliases;
	uint64_t held_overwritten; /* atomic: this binding's held net_iovs written over */
	uint64_t overwrote_held; /* atomic: writes over another binding's held net_iovs */
};

/* The owner of one chunk: one sg entry of the mapped buffer. */
struct dmabuf_genpool_chunk_owner {
	struct net_iov_area area; /* base offset in the dma-buf, base device address, net_iovs */
	struct net_devmem_dmabuf_binding *binding;
};

extern const struct memory_provider_ops dmabuf_devmem_ops;

/*
 * Attach, map and carve @dmabuf_fd for @dev in @direction (FROM_DEVICE: rx,
 * TO_DEVICE: tx), with net_iovs of 1 << @niov_shift bytes (PAGE_SHIFT ..
 * GEN_POOL_MAX_ORDER), allocate its id and return it with the creator's
 * reference. Not bound to any queue yet. dma_buf_get()'s errno (-EBADF for
 * no open fd, -EINVAL for a fd that is not a dma-buf), -EINVAL ("dma-buf SG
 * length must be PAGE_SIZE aligned", a buffer size or an sg entry's address
 * or length not a multiple of the net_iov size, bad shift or direction),
 * -EOPNOTSUPP (tx on a device without netmem_tx), -ENOMEM, or the map's
 * error; nothing is left attached, mapped or allocated on failure.
 */
int net_devmem_bind_dmabuf(struct net_device *dev, enum dma_data_direction direction, int dmabuf_fd,
			   unsigned int niov_shift, struct net_devmem_dmabuf_binding **out);

/*
 * Make @binding rx queue @rxq_idx's provider and restart the queue (dev->lock
 * held): net_mp_open_rxq()'s errors; on failure the queue is as before.
 */
int net_devmem_bind_dmabuf_to_queue(struct net_device *dev, unsigned int rxq_idx,
				    struct net_devmem_dmabuf_binding *binding);

/*
 * The whole bind-rx request, in netdev_nl_bind_rx_doit()'s order: the device
 * (-ENODEV not registered, -EOPNOTSUPP no queue management), the queue list
 * (-EINVAL: none, a type other than RX, an index beyond the real rx queues;
 * a queue named twice counts once), all before the dma-buf is touched; then
 * the bind, then each queue in ascending order. If a queue fails, the queues
 * already done are unbound again (restarted on host pages) and the binding
 * released, so nothing is left (its id was used, as in the kernel).
 */
int net_devmem_bind_rx(struct net_device *dev, int dmabuf_fd, const struct devmem_queue_id *queues,
		       unsigned int nr_queues, unsigned int niov_shift,
		       struct net_devmem_dmabuf_binding **out);

/*
 * Unbind: release the id, clear the binding from every queue it serves and
 * restart them on host pages, drop the creator's reference. Net_iovs still
 * out keep the binding until they come back. Takes dev->lock.
 */
void net_devmem_unbind_dmabuf(struct net_devmem_dmabuf_binding *binding);

static inline void net_devmem_dmabuf_binding_get(struct net_devmem_dmabuf_binding *binding)
{
	__atomic_fetch_add(&binding->ref, 1, __ATOMIC_RELAXED);
}

/* Drop @nr references; the last frees the binding (any thread). */
void net_devmem_dmabuf_binding_put_many(struct net_devmem_dmabuf_binding *binding, long nr);

static inline void net_devmem_dmabuf_binding_put(struct net_devmem_dmabuf_binding *binding)
{
	net_devmem_dmabuf_binding_put_many(binding, 1);
}

/*
 * The live (not unbound) binding with @id, with a reference the caller puts;
 * NULL if there is none.
 */
struct net_devmem_dmabuf_binding *net_devmem_lookup_dmabuf(uint32_t id);

/*
 * Call @fn for every binding alive (including unbound ones waiting for their
 * net_iovs), in id-allocation order, under the id lock; stop at the first
 * non-zero return and return it.
 */
int net_devmem_for_each_binding(int (*fn)(struct net_devmem_dmabuf_binding *binding, void *data),
				void *data);

/* Bindings alive in this process (tests watch them die). */
long net_devmem_nr_bindings(void);

/* Make the next bind try id @id first (0 means 1): lets tests reach the wrap. */
void net_devmem_set_next_id(uint32_t id);

/* One net_iov from the chunk pool (with a binding reference), or NULL when none is free. */
struct net_iov *net_devmem_alloc_dmabuf(struct net_devmem_dmabuf_binding *binding);
/* Give it back (drops its binding reference; may free the binding). */
void net_devmem_free_dmabuf(struct net_iov *niov);

/* Free net_iovs in the chunk pool, and how many are out (snapshot). */
size_t net_devmem_niovs_free(struct net_devmem_dmabuf_binding *binding);

static inline struct dmabuf_genpool_chunk_owner *
net_devmem_iov_to_chunk_owner(const struct net_iov *niov)
{
	return container_of(net_iov_owner(niov), struct dmabuf_genpool_chunk_owner, area);
}

static inline struct net_devmem_dmabuf_binding *net_devmem_iov_binding(const struct net_iov *niov)
{
	return net_devmem_iov_to_chunk_owner(niov)->binding;
}

/* The id a socket reports for the net_iov (dmabuf_cmsg.dmabuf_id). */
static inline uint32_t net_devmem_iov_binding_id(const struct net_iov *niov)
{
	return net_devmem_iov_binding(niov)->id;
}

/*
 * rx: the NIC wrote @len bytes into @netmem (the driver's receive path, any
 * thread). If another rx binding of the same dma-buf has net_iovs over those
 * bytes that a user still holds, the data just overwrote them: the kernel
 * lets that happen (rebinding a buffer whose fragments are still held, or
 * binding it twice), and hardware would hide it, so count it on both
 * bindings. One relaxed load when the buffer has no other binding.
 */
void net_devmem_rx_written(netmem_ref netmem, size_t len);

/*
 * tx: the net_iov holding byte @virt_addr of the buffer, with the offset of
 * that byte in it (*@off) and the bytes left in the net_iov (*@size); NULL
 * when @virt_addr is beyond the buffer.
 */
struct net_iov *net_devmem_get_niov_at(struct net_devmem_dmabuf_binding *binding, size_t virt_addr,
				       size_t *off, size_t *size);

#endif
