/* SPDX-License-Identifier: MIT */
/*
 * netmem_ref: one unit of network memory, either a host page (readable by
 * the CPU) or a net_iov (a piece of a dma-buf: the device can reach it, the
 * CPU cannot). The two are told apart by the low bit of the reference
 * (NET_IOV set: a net_iov); both descriptors are at least 8-byte aligned.
 *
 * Both descriptors start with the same struct netmem_desc, so the fields the
 * page_pool uses (pp, pp_magic, pp_ref_count, dma_addr) are read without
 * looking at the type: clear the tag bit and read the descriptor.
 *
 * Reference counts on a netmem:
 *   pp_ref_count  the page_pool's count (atomic): 1 when the pool hands the
 *                 netmem out (and while the pool holds it); every extra
 *                 holder (an skb frag, a socket's token) takes one with
 *                 page_pool_ref_netmem() and gives it back with
 *                 page_pool_put_netmem(); the put that drops the
 *                 last one recycles the netmem into its pool.
 *   user_refs     (net_iov only, atomic) the tokens users hold through
 *                 devmem sockets, counted apart from pp_ref_count so the
 *                 socket layer can tell "held by a user" from "held by the
 *                 stack" (what SO_DEVMEM_DONTNEED gives back). The page_pool
 *                 never reads it; each user ref also holds one pp ref.
 */
#ifndef DEVMEM_NET_NETMEM_H
#define DEVMEM_NET_NETMEM_H

#include <stdbool.h>
#include <stddef.h>

#include "devmem/device.h"
#include "lib/compiler.h"
#include "lib/debug.h"

struct page_pool;
struct host_page_slab;

typedef unsigned long netmem_ref;

/* Low bit of a netmem_ref: set for a net_iov, clear for a host page. */
#define NET_IOV 0x01UL

/* pp_magic of a netmem owned by a page_pool (0 when not). */
#define PP_SIGNATURE 0x40UL

/* What the page_pool needs of any netmem; the first member of page and net_iov. */
struct netmem_desc {
	unsigned long pp_magic; /* PP_SIGNATURE while a pool owns it; pool-owned */
	struct page_pool *pp; /* the owning pool; set by the pool when it takes it */
	long pp_ref_count; /* atomic: see above */
	dma_addr_t dma_addr; /* device address in the NIC's domain; immutable once set */
};

/*
 * A host page (PAGE_SIZE << order bytes of page-aligned host memory) mapped
 * into a NIC's IOMMU domain. Allocated by the host page allocator
 * (net/host_pages.h), which owns addr, slab and next.
 */
struct page {
	struct netmem_desc desc;
	void *addr; /* CPU address; immutable */
	struct host_page_slab *slab; /* the slab it was carved from; immutable */
	struct page *next; /* free list link; protected by the allocator's lock */
};

enum net_iov_type {
	NET_IOV_DMABUF, /* a piece of a dma-buf bound to rx queues (devmem) */
	NET_IOV_IOURING, /* a piece of an io_uring zcrx area */
};

struct net_iov_area;

struct net_iov {
	struct netmem_desc desc;
	struct net_iov_area *owner; /* immutable */
	enum net_iov_type type; /* immutable */
	int user_refs; /* atomic: tokens held by users (sockets), see above */
};

/*
 * A contiguous run of net_iovs: one chunk of a dma-buf (the devmem binding
 * embeds one in each chunk owner). net_iov i covers the dma-buf bytes
 * [base_virtual + (i << niov_shift), + (1 << niov_shift)) at device address
 * base_dma_addr + (i << niov_shift). Immutable after net_iov_area_init().
 */
struct net_iov_area {
	struct net_iov *niovs;
	size_t num_niovs;
	unsigned long base_virtual; /* offset of the area in its dma-buf */
	dma_addr_t base_dma_addr; /* device address of the area's first byte */
	unsigned int niov_shift; /* log2 of a net_iov's size; PAGE_SHIFT by default */
};

/*
 * Fill @area over the caller's @niovs array (@num_niovs entries, owned by the
 * caller) and initialise every net_iov: owner, type, dma_addr, no pool, no
 * references. The caller embeds @area in its chunk owner and finds the owner
 * back with container_of(net_iov_owner(niov), ...).
 */
static inline void net_iov_area_init(struct net_iov_area *area, struct net_iov *niovs,
				     size_t num_niovs, unsigned long base_virtual,
				     dma_addr_t base_dma_addr, unsigned int niov_shift,
				     enum net_iov_type type)
{
	area->niovs = niovs;
	area->num_niovs = num_niovs;
	area->base_virtual = base_virtual;
	area->base_dma_addr = base_dma_addr;
	area->niov_shift = niov_shift;
	for (size_t i = 0; i < num_niovs; i++) {
		niovs[i] = (struct net_iov){
			.desc.dma_addr = base_dma_addr + ((dma_addr_t)i << niov_shift),
			.owner = area,
			.type = type,
		};
	}
}

static inline bool netmem_is_net_iov(netmem_ref netmem)
{
	return netmem & NET_IOV;
}

static inline struct netmem_desc *__netmem_desc(netmem_ref netmem)
{
	return (struct netmem_desc *)(netmem & ~NET_IOV);
}

static inline struct net_iov *netmem_to_net_iov(netmem_ref netmem)
{
	DEVMEM_BUG_ON(!netmem_is_net_iov(netmem));
	return (struct net_iov *)(netmem & ~NET_IOV);
}

static inline struct page *netmem_to_page(netmem_ref netmem)
{
	DEVMEM_BUG_ON(netmem_is_net_iov(netmem));
	return (struct page *)netmem;
}

static inline netmem_ref net_iov_to_netmem(struct net_iov *niov)
{
	return (netmem_ref)niov | NET_IOV;
}

static inline netmem_ref page_to_netmem(struct page *page)
{
	return (netmem_ref)page;
}

static inline struct net_iov_area *net_iov_owner(const struct net_iov *niov)
{
	return niov->owner;
}

static inline size_t net_iov_idx(const struct net_iov *niov)
{
	return (size_t)(niov - net_iov_owner(niov)->niovs);
}

/* The net_iov's offset in its dma-buf (what dmabuf_cmsg.frag_offset reports). */
static inline unsigned long net_iov_virtual_addr(const struct net_iov *niov)
{
	const struct net_iov_area *area = net_iov_owner(niov);

	return area->base_virtual + (net_iov_idx(niov) << area->niov_shift);
}

static inline size_t net_iov_size(const struct net_iov *niov)
{
	return (size_t)1 << net_iov_owner(niov)->niov_shift;
}

/* The device address of the netmem's first byte in the NIC's domain. */
static inline dma_addr_t netmem_get_dma_addr(netmem_ref netmem)
{
	return __netmem_desc(netmem)->dma_addr;
}

/* The CPU address of a host page; NULL for a net_iov (unreadable memory). */
static inline void *netmem_address(netmem_ref netmem)
{
	if (netmem_is_net_iov(netmem))
		return NULL;
	return netmem_to_page(netmem)->addr;
}

static inline void *page_address(const struct page *page)
{
	return page->addr;
}

static inline struct page_pool *netmem_get_pp(netmem_ref netmem)
{
	return __netmem_desc(netmem)->pp;
}

/* Only the pool that takes or gives back the netmem sets these. */
static inline void netmem_set_pp(netmem_ref netmem, struct page_pool *pool)
{
	__netmem_desc(netmem)->pp = pool;
}

static inline unsigned long netmem_get_pp_magic(netmem_ref netmem)
{
	return __netmem_desc(netmem)->pp_magic;
}

/* The netmem belongs to a page_pool (it was allocated from one and not yet released). */
static inline bool netmem_is_pp(netmem_ref netmem)
{
	return netmem_get_pp_magic(netmem) == PP_SIGNATURE;
}

static inline long *netmem_get_pp_ref_count_ref(netmem_ref netmem)
{
	return &__netmem_desc(netmem)->pp_ref_count;
}

static inline long netmem_pp_ref_count(netmem_ref netmem)
{
	return __atomic_load_n(netmem_get_pp_ref_count_ref(netmem), __ATOMIC_RELAXED);
}

/* Take one more pool reference on a netmem someone already holds. */
static inline void page_pool_ref_netmem(netmem_ref netmem)
{
	long old = __atomic_fetch_add(netmem_get_pp_ref_count_ref(netmem), 1, __ATOMIC_RELAXED);

	DEVMEM_BUG_ON(old <= 0);
}

/*
 * Drop @nr pool references; returns how many remain. When the caller holds
 * them all it is the only user, so no other thread can race: skip the atomic
 * read-modify-write (the common case of a netmem with a single holder). A
 * netmem the pool holds keeps a count of 1, so handing it out again costs
 * no write to it either.
 */
static inline long page_pool_unref_netmem(netmem_ref netmem, long nr)
{
	long *count = netmem_get_pp_ref_count_ref(netmem);
	long ret;

	if (__atomic_load_n(count, __ATOMIC_ACQUIRE) == nr) {
		if (nr != 1)
			__atomic_store_n(count, 1, __ATOMIC_RELAXED);
		return 0;
	}
	/* acq_rel: the last dropper sees every write the other holders made */
	ret = __atomic_sub_fetch(count, nr, __ATOMIC_ACQ_REL);
	DEVMEM_BUG_ON(ret < 0);
	if (ret == 0)
		__atomic_store_n(count, 1, __ATOMIC_RELAXED);
	return ret;
}

static inline int net_iov_user_refs(const struct net_iov *niov)
{
	return __atomic_load_n(&niov->user_refs, __ATOMIC_RELAXED);
}

#endif
