/* SPDX-License-Identifier: MIT */
/*
 * Host pages for the network stack: page-aligned host memory, mapped into a
 * NIC's IOMMU domain, handed out as struct page with dma_addr set (the page
 * allocator plus dma_map_page of the kernel, in one).
 *
 * Pages are carved from slabs of HOST_PAGES_SLAB_BYTES (at least one page of
 * the allocator's order) that are mapped once with dma_map_range() and kept
 * mapped until the allocator is destroyed: a freed page goes on a free list
 * and its next allocation costs a list pop, no mapping and no system call.
 *
 * Thread safety: alloc and free may be called from any thread (a mutex
 * protects the free list); create and destroy by the allocator's owner.
 */
#ifndef DEVMEM_NET_HOST_PAGES_H
#define DEVMEM_NET_HOST_PAGES_H

#include "devmem/device.h"
#include "net/netmem.h"

#define HOST_PAGES_SLAB_BYTES (64 * PAGE_SIZE)
#define HOST_PAGES_MAX_ORDER 10

struct host_pages;

/*
 * An allocator of pages of PAGE_SIZE << @order bytes, mapped into @dev for
 * @dir (@dev NULL: not mapped, dma_addr 0). Takes a reference on @dev.
 * 0 and *out; -EINVAL (order above HOST_PAGES_MAX_ORDER, bad direction),
 * -ENOMEM.
 */
int host_pages_create(struct device *dev, enum dma_data_direction dir, unsigned int order,
		      struct host_pages **out);

/* Unmap and free every slab. Every page must have been freed (a bug otherwise). */
void host_pages_destroy(struct host_pages *hp);

/*
 * Up to @n pages into @pages, adding (and mapping) a slab when the free list
 * runs dry. Returns how many were allocated: fewer than @n only when memory
 * or IOVA space ran out (0: none at all; the reason is in devmem_last_error()).
 */
int host_pages_alloc_bulk(struct host_pages *hp, struct page **pages, int n);

/* Give a page back to the allocator it came from. Any thread. */
void host_page_free(struct page *page);

/* Pages handed out and not yet freed. */
size_t host_pages_in_use(struct host_pages *hp);

/* Bytes of slabs the allocator holds (all mapped into the device). */
size_t host_pages_slab_bytes(struct host_pages *hp);

#endif
