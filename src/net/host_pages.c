// SPDX-License-Identifier: MIT
/* Host pages: slabs mapped once into the NIC's domain, carved into pages, kept on a free list. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "lib/error.h"
#include "net/host_pages.h"

struct host_page_slab {
	struct host_pages *hp; /* immutable */
	struct host_page_slab *next; /* protected by hp->lock */
	void *base; /* immutable: mmap()ed, page aligned */
	size_t bytes; /* immutable */
	dma_addr_t dma_addr; /* immutable: base's device address, 0 when not mapped */
	unsigned int nr_pages; /* immutable */
	struct page pages[]; /* immutable but for each page's free-list link */
};

struct host_pages {
	struct device *dev; /* immutable; NULL: pages are not mapped */
	enum dma_data_direction dir; /* immutable */
	size_t page_bytes; /* immutable: PAGE_SIZE << order */
	unsigned int pages_per_slab; /* immutable */

	pthread_mutex_t lock;
	struct page *free; /* protected by lock */
	struct host_page_slab *slabs; /* protected by lock */
	size_t nr_slabs; /* protected by lock */
	size_t in_use; /* protected by lock */
};

int host_pages_create(struct device *dev, enum dma_data_direction dir, unsigned int order,
		      struct host_pages **out)
{
	struct host_pages *hp;

	if (order > HOST_PAGES_MAX_ORDER)
		return devmem_err(-EINVAL, "host pages: order %u above %u", order,
				  HOST_PAGES_MAX_ORDER);
	if (dev && dir != DMA_BIDIRECTIONAL && dir != DMA_TO_DEVICE && dir != DMA_FROM_DEVICE)
		return devmem_err(-EINVAL, "host pages: bad dma direction %d", dir);
	hp = calloc(1, sizeof(*hp));
	if (!hp)
		return -ENOMEM;
	hp->dev = dev ? device_get(dev) : NULL;
	hp->dir = dir;
	hp->page_bytes = PAGE_SIZE << order;
	hp->pages_per_slab = max(1UL, HOST_PAGES_SLAB_BYTES / hp->page_bytes);
	pthread_mutex_init(&hp->lock, NULL);
	*out = hp;
	return 0;
}

/* A new slab, mapped and carved. Called with hp->lock held; the mapping is the slow part. */
static struct host_page_slab *host_pages_new_slab(struct host_pages *hp)
{
	unsigned int n = hp->pages_per_slab;
	struct host_page_slab *slab;
	int err;

	slab = calloc(1, sizeof(*slab) + n * sizeof(slab->pages[0]));
	if (!slab) {
		devmem_err(-ENOMEM, "host pages: no memory for a slab descriptor");
		return NULL;
	}
	slab->hp = hp;
	slab->nr_pages = n;
	slab->bytes = n * hp->page_bytes;
	slab->base =
		mmap(NULL, slab->bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (slab->base == MAP_FAILED) {
		devmem_err(-ENOMEM, "host pages: cannot allocate a %zu-byte slab", slab->bytes);
		goto err_free;
	}
	/*
	 * Not inherited by fork(): a device (the kernel, for the software NIC)
	 * writes these pages, and copy-on-write sharing with a child would make
	 * each write a fault and a copy. A failure only costs that.
	 */
	(void)madvise(slab->base, slab->bytes, MADV_DONTFORK);
	if (hp->dev) {
		err = dma_map_range(hp->dev, slab->base, slab->bytes, hp->dir, &slab->dma_addr);
		if (err)
			goto err_unmap;
	}
	for (unsigned int i = 0; i < n; i++) {
		struct page *page = &slab->pages[i];

		page->addr = (char *)slab->base + i * hp->page_bytes;
		page->slab = slab;
		page->desc.dma_addr = hp->dev ? slab->dma_addr + i * hp->page_bytes : 0;
	}
	return slab;

err_unmap:
	munmap(slab->base, slab->bytes);
err_free:
	free(slab);
	return NULL;
}

int host_pages_alloc_bulk(struct host_pages *hp, struct page **pages, int n)
{
	int got = 0;

	pthread_mutex_lock(&hp->lock);
	while (got < n) {
		struct page *page = hp->free;

		if (!page) {
			struct host_page_slab *slab = host_pages_new_slab(hp);

			if (!slab)
				break;
			slab->next = hp->slabs;
			hp->slabs = slab;
			hp->nr_slabs++;
			/* push in reverse so the slab's pages come out in address order */
			for (unsigned int i = slab->nr_pages; i-- > 0;) {
				slab->pages[i].next = hp->free;
				hp->free = &slab->pages[i];
			}
			continue;
		}
		hp->free = page->next;
		page->next = NULL;
		pages[got++] = page;
	}
	hp->in_use += got;
	pthread_mutex_unlock(&hp->lock);
	return got;
}

void host_page_free(struct page *page)
{
	struct host_pages *hp = page->slab->hp;

	DEVMEM_BUG_ON(page->desc.pp_magic != 0);
	pthread_mutex_lock(&hp->lock);
	DEVMEM_BUG_ON(hp->in_use == 0);
	page->next = hp->free;
	hp->free = page;
	hp->in_use--;
	pthread_mutex_unlock(&hp->lock);
}

size_t host_pages_in_use(struct host_pages *hp)
{
	size_t n;

	pthread_mutex_lock(&hp->lock);
	n = hp->in_use;
	pthread_mutex_unlock(&hp->lock);
	return n;
}

size_t host_pages_slab_bytes(struct host_pages *hp)
{
	size_t n;

	pthread_mutex_lock(&hp->lock);
	n = hp->nr_slabs * hp->pages_per_slab * hp->page_bytes;
	pthread_mutex_unlock(&hp->lock);
	return n;
}

void host_pages_destroy(struct host_pages *hp)
{
	struct host_page_slab *slab, *next;

	if (!hp)
		return;
	DEVMEM_BUG_ON(hp->in_use != 0);
	for (slab = hp->slabs; slab; slab = next) {
		next = slab->next;
		if (hp->dev)
			dma_unmap_range(hp->dev, slab->dma_addr, slab->bytes);
		munmap(slab->base, slab->bytes);
		free(slab);
	}
	device_put(hp->dev);
	pthread_mutex_destroy(&hp->lock);
	free(hp);
}
