// SPDX-License-Identifier: MIT
/*
 * Devices and their address spaces: an IOMMU domain per device (an IOVA
 * allocator and a radix page table) and the global peer-to-peer windows.
 *
 * One page table per device spans 49 bits of device address: IOVAs live
 * below 2^48 (the IOVA allocator never hands out more), peer-to-peer bus
 * addresses live in [2^48, 2^49), so the two never overlap in one device's
 * address space and one lock-free walk translates both.
 *
 * Page-table pages are never freed before the device is: a walker may hold a
 * pointer to any of them at any time and there is no grace period to wait
 * for. Each directory slot remembers the table it has had (child[]), so a
 * slot that becomes a block and later needs a table again gets the same one:
 * the page-table memory is bounded by the address range ever mapped.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "devmem/device.h"
#include "device/device-internal.h"
#include "lib/compiler.h"
#include "lib/debug.h"
#include "lib/error.h"
#include "lib/list.h"
#include "lib/refcount.h"

#define DEVICE_NAME_MAX 31
#define IOVA_BITS_MIN 16
#define IOVA_BITS_MAX 48
/* IOVA 0 is never handed out: a zero device address looks like a missing one. */
#define IOVA_START PAGE_SIZE

#define DMA_ADDR_BITS 49
#define P2P_BUS_BASE (1ULL << IOVA_BITS_MAX)
#define P2P_BUS_END (1ULL << DMA_ADDR_BITS)

/* Four levels: 512-entry tables over 4 KiB pages, a 1024-entry root for bit 48. */
#define PT_BITS 9
#define PT_ENTRIES (1U << PT_BITS)
#define PT_TOP 3
#define PT_ROOT_ENTRIES (1U << (DMA_ADDR_BITS - PAGE_SHIFT - PT_TOP * PT_BITS))
/* Leaves may sit at level 1 (2 MiB blocks) and level 2 (1 GiB blocks). */
#define PT_MAX_BLOCK_LEVEL 2

#define PTE_VALID (1ULL << 0)
#define PTE_TABLE (1ULL << 1) /* points to the next level's table */
#define PTE_READ (1ULL << 2) /* the device may read (DMA_TO_DEVICE) */
#define PTE_WRITE (1ULL << 3) /* the device may write (DMA_FROM_DEVICE) */
#define PTE_FIRST (1ULL << 4) /* first leaf of a mapping: translations do not run past it */
#define PTE_TABLE_MASK (~15ULL)
#define PTE_ADDR_MASK (~(uint64_t)(PAGE_SIZE - 1))

struct pt_table {
	/*
	 * Directory levels: every table a slot has had, even while the slot
	 * holds a block (written under the device lock, never read by walkers).
	 */
	struct pt_table **child;
	uint64_t pte[]; /* written under the device lock, read lock-free (acquire) */
};

/*
 * A range of device address space: a node of a treap ordered by start.
 * The free-IOVA treap keeps max_size (the largest range in the subtree) to
 * find the lowest fitting range in O(log n).
 */
struct iova_node {
	uint64_t start;
	uint64_t size;
	uint64_t max_size;
	uint32_t prio;
	struct iova_node *left, *right;
};

/* One dma_map_range() or dma_map_p2p() (the latter refcounted). */
struct dma_mapping {
	struct iova_node node; /* [start, start + size) of device address space */
	uintptr_t cpu; /* page-aligned CPU address of start */
	uint64_t prot; /* PTE_READ / PTE_WRITE */
	struct iova_node *spare; /* IOMMU: the node the unmap gives the IOVA back with */
	struct device *provider; /* P2P: the window's device, referenced */
	unsigned int users; /* P2P: maps of this exact range not yet unmapped */
};

struct p2p_window {
	struct list_head link; /* on p2p_windows, under p2p_lock */
	struct device *provider; /* not referenced: the provider's release removes it */
	uintptr_t cpu_base;
	dma_addr_t bus_base;
	size_t size;
};

struct device {
	struct kref kref;
	char name[DEVICE_NAME_MAX + 1]; /* immutable */
	bool p2p; /* immutable */
	unsigned int iova_bits; /* immutable */
	struct pt_table *pgd; /* immutable pointer; the tables below: see struct pt_table */

	pthread_mutex_t lock; /* serialises map and unmap; protects the fields below */
	struct iova_node *iova_free; /* free IOVA ranges, coalesced */
	struct iova_node *mappings; /* every dma_mapping, by device address */
	uint64_t prio_state; /* treap priorities */
	size_t mapped_bytes; /* written under lock, read atomically */

	uint64_t nr_faults; /* atomic */
	pthread_mutex_t fault_lock; /* protects the fields below */
	bool has_fault;
	struct device_fault last_fault;
	device_fault_handler_t fault_handler;
	void *fault_priv;

	struct p2p_window *window; /* under p2p_lock */
};

/* Peer-to-peer bus addresses are global: one allocator, one list of windows. */
static pthread_mutex_t p2p_lock = PTHREAD_MUTEX_INITIALIZER;
static LIST_HEAD(p2p_windows);
static dma_addr_t p2p_bus_next = P2P_BUS_BASE; /* under p2p_lock; never reused */

/* ---- page table ---- */

static inline unsigned int pt_shift(int level)
{
	return PAGE_SHIFT + level * PT_BITS;
}

static inline unsigned int pt_entries(int level)
{
	return level == PT_TOP ? PT_ROOT_ENTRIES : PT_ENTRIES;
}

static inline unsigned int pt_index(dma_addr_t addr, int level)
{
	return (addr >> pt_shift(level)) & (pt_entries(level) - 1);
}

static inline struct pt_table *pte_table(uint64_t pte)
{
	return (struct pt_table *)(uintptr_t)(pte & PTE_TABLE_MASK);
}

static struct pt_table *pt_alloc(int level)
{
	struct pt_table *t = calloc(1, sizeof(*t) + pt_entries(level) * sizeof(uint64_t));

	if (!t)
		return NULL;
	DEVMEM_BUG_ON((uintptr_t)t & ~PTE_TABLE_MASK);
	if (level > 0) {
		t->child = calloc(pt_entries(level), sizeof(*t->child));
		if (!t->child) {
			free(t);
			return NULL;
		}
	}
	return t;
}

static void pt_free(struct pt_table *t, int level)
{
	unsigned int i;

	if (level > 0) {
		for (i = 0; i < pt_entries(level); i++)
			if (t->child[i])
				pt_free(t->child[i], level - 1);
		free(t->child);
	}
	free(t);
}

/*
 * The leaf entry for @addr and the log2 of its size, or 0 if there is none.
 * Lock-free: entries are published with release stores after the tables and
 * the memory behind them are ready.
 */
static inline uint64_t pt_lookup(const struct device *dev, dma_addr_t addr, unsigned int *shift)
{
	const struct pt_table *t = dev->pgd;
	int level;

	if (addr >> DMA_ADDR_BITS)
		return 0;
	for (level = PT_TOP;; level--) {
		uint64_t pte = __atomic_load_n(&t->pte[pt_index(addr, level)], __ATOMIC_ACQUIRE);

		if (!(pte & PTE_VALID))
			return 0;
		if (!(pte & PTE_TABLE)) {
			*shift = pt_shift(level);
			return pte;
		}
		t = pte_table(pte);
	}
}

/* The table below slot @i of @t, made (or brought back) if needed. Device lock held. */
static struct pt_table *pt_get_child(struct pt_table *t, int level, unsigned int i)
{
	uint64_t pte = t->pte[i];
	struct pt_table *child;

	if (pte & PTE_TABLE)
		return pte_table(pte);
	DEVMEM_BUG_ON(pte & PTE_VALID); /* a block where a smaller mapping goes: overlap */
	child = t->child[i];
	if (!child) {
		child = pt_alloc(level - 1);
		if (!child)
			return NULL;
		t->child[i] = child;
	}
	__atomic_store_n(&t->pte[i], (uint64_t)(uintptr_t)child | PTE_TABLE | PTE_VALID,
			 __ATOMIC_RELEASE);
	return child;
}

struct pt_map_ctx {
	uintptr_t cpu; /* CPU address of the next entry to write */
	uint64_t prot; /* PTE_READ/WRITE, plus PTE_FIRST until the first leaf is written */
	bool replace; /* rewriting the leaves of an existing mapping (same layout) */
};

/*
 * Write leaves for [iova, end) of the slot range of @t, as large as the
 * alignment of both addresses allows. Device lock held. A slot that holds
 * an (empty) table can turn into a block: child[] keeps the table.
 */
static int pt_map(struct pt_table *t, int level, dma_addr_t iova, dma_addr_t end,
		  struct pt_map_ctx *ctx)
{
	uint64_t size = 1ULL << pt_shift(level);

	while (iova < end) {
		dma_addr_t next = min(ALIGN_DOWN(iova, size) + size, end);
		unsigned int i = pt_index(iova, level);
		bool leaf = level == 0 || (level <= PT_MAX_BLOCK_LEVEL && next - iova == size &&
					   IS_ALIGNED(ctx->cpu, size));

		if (leaf) {
			DEVMEM_BUG_ON(!ctx->replace && (t->pte[i] & PTE_VALID) &&
				      !(t->pte[i] & PTE_TABLE));
			__atomic_store_n(&t->pte[i], ctx->cpu | ctx->prot | PTE_VALID,
					 __ATOMIC_RELEASE);
			ctx->prot &= ~PTE_FIRST;
			ctx->cpu += next - iova;
		} else {
			struct pt_table *child = pt_get_child(t, level, i);
			int err;

			if (!child)
				return -ENOMEM;
			err = pt_map(child, level - 1, iova, next, ctx);
			if (err)
				return err;
		}
		iova = next;
	}
	return 0;
}

/* Clear every leaf in [iova, end) at the granularity it was written. Device lock held. */
static void pt_unmap(struct pt_table *t, int level, dma_addr_t iova, dma_addr_t end)
{
	uint64_t size = 1ULL << pt_shift(level);

	while (iova < end) {
		dma_addr_t next = min(ALIGN_DOWN(iova, size) + size, end);
		unsigned int i = pt_index(iova, level);
		uint64_t pte = t->pte[i];

		/* an empty slot happens only when unwinding a map that failed half way */
		if (pte & PTE_TABLE) {
			pt_unmap(pte_table(pte), level - 1, iova, next);
		} else if (pte & PTE_VALID) {
			DEVMEM_BUG_ON(next - iova != size); /* unmap splits a block */
			__atomic_store_n(&t->pte[i], 0, __ATOMIC_RELEASE);
		}
		iova = next;
	}
}

static int device_pt_map(struct device *dev, dma_addr_t start, size_t size, uintptr_t cpu,
			 uint64_t prot, bool replace)
{
	struct pt_map_ctx ctx = { .cpu = cpu, .prot = prot | PTE_FIRST, .replace = replace };
	int err;

	err = pt_map(dev->pgd, PT_TOP, start, start + size, &ctx);
	if (err)
		pt_unmap(dev->pgd, PT_TOP, start, start + size);
	return err;
}

/* ---- address-range treap (free IOVA space and mappings); device lock held ---- */

static inline uint64_t node_max(const struct iova_node *n)
{
	return n ? n->max_size : 0;
}

static void node_update(struct iova_node *n)
{
	n->max_size = max(n->size, max(node_max(n->left), node_max(n->right)));
}

static void node_init(struct device *dev, struct iova_node *n, uint64_t start, uint64_t size)
{
	/* xorshift64: random priorities keep the treap O(log n) deep whatever the order */
	dev->prio_state ^= dev->prio_state << 13;
	dev->prio_state ^= dev->prio_state >> 7;
	dev->prio_state ^= dev->prio_state << 17;
	n->start = start;
	n->size = size;
	n->prio = (uint32_t)(dev->prio_state >> 32);
	n->left = n->right = NULL;
	node_update(n);
}

/* @l gets the nodes that start below @key, @r the others. */
static void treap_split(struct iova_node *t, uint64_t key, struct iova_node **l,
			struct iova_node **r)
{
	if (!t) {
		*l = *r = NULL;
		return;
	}
	if (t->start < key) {
		treap_split(t->right, key, &t->right, r);
		*l = t;
	} else {
		treap_split(t->left, key, l, &t->left);
		*r = t;
	}
	node_update(t);
}

/* Every node of @l starts below every node of @r. */
static struct iova_node *treap_merge(struct iova_node *l, struct iova_node *r)
{
	if (!l)
		return r;
	if (!r)
		return l;
	if (l->prio > r->prio) {
		l->right = treap_merge(l->right, r);
		node_update(l);
		return l;
	}
	r->left = treap_merge(l, r->left);
	node_update(r);
	return r;
}

static struct iova_node *treap_pop_min(struct iova_node **t)
{
	struct iova_node *n = *t;

	if (n->left) {
		struct iova_node *m = treap_pop_min(&n->left);

		node_update(n);
		return m;
	}
	*t = n->right;
	n->right = NULL;
	return n;
}

static struct iova_node *treap_pop_max(struct iova_node **t)
{
	struct iova_node *n = *t;

	if (n->right) {
		struct iova_node *m = treap_pop_max(&n->right);

		node_update(n);
		return m;
	}
	*t = n->left;
	n->left = NULL;
	return n;
}

/* The node with the greatest start <= @key, or NULL. */
static struct iova_node *treap_find_le(struct iova_node *t, uint64_t key)
{
	struct iova_node *best = NULL;

	while (t) {
		if (t->start <= key) {
			best = t;
			t = t->right;
		} else {
			t = t->left;
		}
	}
	return best;
}

/* The lowest node of at least @need bytes, or NULL. */
static struct iova_node *treap_first_fit(struct iova_node *t, uint64_t need)
{
	while (t) {
		if (node_max(t->left) >= need)
			t = t->left;
		else if (t->size >= need)
			return t;
		else if (node_max(t->right) >= need)
			t = t->right;
		else
			return NULL;
	}
	return NULL;
}

static void treap_destroy(struct iova_node *t)
{
	if (!t)
		return;
	treap_destroy(t->left);
	treap_destroy(t->right);
	free(t);
}

/* ---- IOVA allocator; device lock held ---- */

/*
 * Take @size bytes at an address congruent to @phase modulo @align from the
 * lowest free range that surely has room. Asking for size + align - PAGE_SIZE
 * keeps the search O(log n) at the price of a possible miss, which the
 * caller retries with a smaller alignment. @extra is taken when the free
 * range splits in two.
 */
static int iova_alloc_aligned(struct device *dev, uint64_t size, uint64_t align, uint64_t phase,
			      struct iova_node **extra, dma_addr_t *out)
{
	struct iova_node *n, *l, *r, *first;
	uint64_t a, end;

	n = treap_first_fit(dev->iova_free, size + align - PAGE_SIZE);
	if (!n)
		return -ENOSPC;
	a = n->start + ((phase - n->start) & (align - 1));
	end = n->start + n->size;

	treap_split(dev->iova_free, n->start, &l, &r);
	first = treap_pop_min(&r);
	DEVMEM_BUG_ON(first != n);
	if (a > n->start) {
		node_init(dev, n, n->start, a - n->start);
		l = treap_merge(l, n);
		n = NULL;
	}
	if (a + size < end) {
		if (!n) {
			n = *extra;
			*extra = NULL;
		}
		node_init(dev, n, a + size, end - (a + size));
		l = treap_merge(l, n);
		n = NULL;
	}
	dev->iova_free = treap_merge(l, r);
	free(n);
	*out = a;
	return 0;
}

/* The largest block size that a range at @cpu of @size bytes covers at least once. */
static uint64_t block_align(uintptr_t cpu, uint64_t size)
{
	int level;

	for (level = PT_MAX_BLOCK_LEVEL; level > 0; level--) {
		uint64_t block = 1ULL << pt_shift(level);

		if (ALIGN((uint64_t)cpu, block) + block <= cpu + size)
			return block;
	}
	return PAGE_SIZE;
}

/*
 * An IOVA range for @size bytes at CPU address @cpu, congruent to @cpu modulo
 * the largest block size worth having, so the page table can use blocks.
 */
static int iova_alloc(struct device *dev, uintptr_t cpu, uint64_t size, struct iova_node **extra,
		      dma_addr_t *out)
{
	uint64_t align;
	int err = -ENOSPC;

	for (align = block_align(cpu, size); align >= PAGE_SIZE; align >>= PT_BITS) {
		err = iova_alloc_aligned(dev, size, align, cpu, extra, out);
		if (!err)
			break;
	}
	return err;
}

/* Give [start, start + size) back, merged with its free neighbours, in @n. */
static void iova_free(struct device *dev, dma_addr_t start, uint64_t size, struct iova_node *n)
{
	struct iova_node *l, *r, *pred, *succ;

	treap_split(dev->iova_free, start, &l, &r);
	pred = treap_find_le(l, start);
	if (pred && pred->start + pred->size == start) {
		treap_pop_max(&l); /* pred: the greatest of l */
		start = pred->start;
		size += pred->size;
		free(pred);
	}
	succ = r;
	while (succ && succ->left)
		succ = succ->left;
	if (succ && succ->start == start + size) {
		treap_pop_min(&r); /* succ: the least of r */
		size += succ->size;
		free(succ);
	}
	node_init(dev, n, start, size);
	dev->iova_free = treap_merge(treap_merge(l, n), r);
}

/* ---- mapping records; device lock held ---- */

static void mapping_insert(struct device *dev, struct dma_mapping *m)
{
	struct iova_node *l, *r;

	treap_split(dev->mappings, m->node.start, &l, &r);
	dev->mappings = treap_merge(treap_merge(l, &m->node), r);
}

static void mapping_remove(struct device *dev, struct dma_mapping *m)
{
	struct iova_node *l, *mid, *r;

	treap_split(dev->mappings, m->node.start, &l, &r);
	treap_split(r, m->node.start + 1, &mid, &r);
	DEVMEM_BUG_ON(mid != &m->node);
	dev->mappings = treap_merge(l, r);
}

/* The mapping that overlaps [start, end), if any. */
static struct dma_mapping *mapping_find(struct device *dev, dma_addr_t start, dma_addr_t end)
{
	struct iova_node *n = treap_find_le(dev->mappings, end - 1);

	if (!n || n->start + n->size <= start)
		return NULL;
	return container_of(n, struct dma_mapping, node);
}

static void mapping_free(struct dma_mapping *m)
{
	if (m->provider)
		device_put(m->provider);
	free(m->spare);
	free(m);
}

static void mappings_destroy(struct iova_node *t)
{
	if (!t)
		return;
	mappings_destroy(t->left);
	mappings_destroy(t->right);
	mapping_free(container_of(t, struct dma_mapping, node));
}

/* ---- devices ---- */

static int device_opts_parse(const struct device_opts *opts, struct device_opts *out)
{
	const unsigned char *extra;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!opts)
		goto defaults;
	if (opts->sz < sizeof(opts->sz))
		return devmem_err(-EINVAL, "device_opts.sz not set");
	/* a newer caller's fields we do not know must be left zero (libbpf's rule) */
	extra = (const unsigned char *)opts;
	for (i = sizeof(*opts); i < opts->sz; i++)
		if (extra[i])
			return devmem_err(-EINVAL, "device_opts has unknown non-zero fields");
	memcpy(out, opts, min(opts->sz, sizeof(*out)));
defaults:
	if (!out->iova_bits)
		out->iova_bits = IOVA_BITS_MAX;
	if (out->iova_bits < IOVA_BITS_MIN || out->iova_bits > IOVA_BITS_MAX)
		return devmem_err(-EINVAL, "iova_bits %u out of range [%d, %d]", out->iova_bits,
				  IOVA_BITS_MIN, IOVA_BITS_MAX);
	return 0;
}

int device_create(const char *name, const struct device_opts *opts, struct device **out)
{
	struct device_opts o;
	struct iova_node *space;
	struct device *dev;
	size_t len;
	int err;

	if (!name || !out)
		return devmem_err(-EINVAL, "device_create: NULL %s", name ? "out" : "name");
	len = strnlen(name, DEVICE_NAME_MAX + 1);
	if (len == 0 || len > DEVICE_NAME_MAX)
		return devmem_err(-EINVAL, "device name must be 1 to %d characters",
				  DEVICE_NAME_MAX);
	err = device_opts_parse(opts, &o);
	if (err)
		return err;

	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->pgd = pt_alloc(PT_TOP);
	if (!dev->pgd)
		goto err_free_dev;
	space = malloc(sizeof(*space));
	if (!space)
		goto err_free_pgd;

	kref_init(&dev->kref);
	memcpy(dev->name, name, len);
	dev->p2p = o.p2p;
	dev->iova_bits = o.iova_bits;
	pthread_mutex_init(&dev->lock, NULL);
	pthread_mutex_init(&dev->fault_lock, NULL);
	dev->prio_state = 0x9e3779b97f4a7c15ULL ^ (uintptr_t)dev;
	node_init(dev, space, IOVA_START, (1ULL << o.iova_bits) - IOVA_START);
	dev->iova_free = space;
	*out = dev;
	return 0;

err_free_pgd:
	pt_free(dev->pgd, PT_TOP);
err_free_dev:
	free(dev);
	return -ENOMEM;
}

struct device *device_get(struct device *dev)
{
	if (dev)
		kref_get(&dev->kref);
	return dev;
}

static void p2p_window_remove(struct device *dev)
{
	pthread_mutex_lock(&p2p_lock);
	if (dev->window)
		list_del(&dev->window->link);
	pthread_mutex_unlock(&p2p_lock);
	free(dev->window);
}

static void device_release(struct kref *kref)
{
	struct device *dev = container_of(kref, struct device, kref);

	/* a mapping outliving its device is an exporter bug: its unmap would touch freed memory */
	DEVMEM_BUG_ON(dev->mappings);
	p2p_window_remove(dev);
	mappings_destroy(dev->mappings);
	treap_destroy(dev->iova_free);
	pt_free(dev->pgd, PT_TOP);
	pthread_mutex_destroy(&dev->fault_lock);
	pthread_mutex_destroy(&dev->lock);
	free(dev);
}

void device_put(struct device *dev)
{
	if (dev)
		kref_put(&dev->kref, device_release);
}

const char *device_name(const struct device *dev)
{
	return dev ? dev->name : NULL;
}

bool device_is_p2p_capable(const struct device *dev)
{
	return dev && dev->p2p;
}

static inline bool dma_direction_valid(enum dma_data_direction dir)
{
	return dir == DMA_BIDIRECTIONAL || dir == DMA_TO_DEVICE || dir == DMA_FROM_DEVICE;
}

/* What a mapping for @dir lets the device do, or what an access in @dir needs. */
static inline uint64_t dma_direction_prot(enum dma_data_direction dir)
{
	switch (dir) {
	case DMA_TO_DEVICE:
		return PTE_READ;
	case DMA_FROM_DEVICE:
		return PTE_WRITE;
	default:
		return PTE_READ | PTE_WRITE;
	}
}

static void mapped_bytes_add(struct device *dev, int64_t delta)
{
	__atomic_store_n(&dev->mapped_bytes, dev->mapped_bytes + delta, __ATOMIC_RELAXED);
}

/* ---- IOMMU mappings ---- */

int dma_map_range(struct device *dev, void *cpu_addr, size_t len, enum dma_data_direction dir,
		  dma_addr_t *dma_addr)
{
	uintptr_t cpu = ALIGN_DOWN((uintptr_t)cpu_addr, PAGE_SIZE);
	struct iova_node *extra = NULL;
	struct dma_mapping *m;
	dma_addr_t iova;
	uint64_t size;
	int err;

	if (!dev || !cpu_addr || !dma_addr)
		return devmem_err(-EINVAL, "dma_map_range: NULL argument");
	if (!len || (uintptr_t)cpu_addr + len < (uintptr_t)cpu_addr)
		return devmem_err(-EINVAL, "dma_map_range: bad length %zu", len);
	if (!dma_direction_valid(dir))
		return devmem_err(-EINVAL, "dma_map_range: bad direction %d", dir);
	size = ALIGN((uint64_t)(uintptr_t)cpu_addr + len, PAGE_SIZE) - cpu;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->spare = malloc(sizeof(*m->spare));
	extra = malloc(sizeof(*extra));
	if (!m->spare || !extra) {
		err = -ENOMEM;
		goto err_free;
	}
	m->cpu = cpu;
	m->prot = dma_direction_prot(dir);

	pthread_mutex_lock(&dev->lock);
	err = iova_alloc(dev, cpu, size, &extra, &iova);
	if (err) {
		devmem_err(err, "IOVA space of %s (%u bits) has no room for %llu bytes", dev->name,
			   dev->iova_bits, (unsigned long long)size);
		goto err_unlock;
	}
	err = device_pt_map(dev, iova, size, cpu, m->prot, false);
	if (err)
		goto err_free_iova;
	node_init(dev, &m->node, iova, size);
	mapping_insert(dev, m);
	mapped_bytes_add(dev, size);
	pthread_mutex_unlock(&dev->lock);

	free(extra);
	*dma_addr = iova + ((uintptr_t)cpu_addr & (PAGE_SIZE - 1));
	return 0;

err_free_iova:
	iova_free(dev, iova, size, m->spare);
	m->spare = NULL;
err_unlock:
	pthread_mutex_unlock(&dev->lock);
err_free:
	free(extra);
	free(m->spare);
	free(m);
	return err;
}

/* The page range of [addr, addr + len), or false if it wraps or leaves the address space. */
static bool dma_page_range(dma_addr_t addr, size_t len, dma_addr_t *start, uint64_t *size)
{
	if (!len || addr + len < addr || addr + len > P2P_BUS_END)
		return false;
	*start = ALIGN_DOWN(addr, PAGE_SIZE);
	*size = ALIGN(addr + len, PAGE_SIZE) - *start;
	return true;
}

/*
 * The mapping made by one map of exactly [start, start + size), under the
 * device lock; records a message and returns NULL for anything else.
 */
static struct dma_mapping *mapping_lookup_exact(struct device *dev, dma_addr_t start, uint64_t size,
						bool p2p, const char *what)
{
	struct dma_mapping *m = mapping_find(dev, start, start + size);

	if (!m || m->node.start != start || m->node.size != size || !!m->provider != p2p) {
		devmem_err(-EINVAL, "%s: %s has no mapping of [%#llx, +%llu)", what, dev->name,
			   (unsigned long long)start, (unsigned long long)size);
		return NULL;
	}
	return m;
}

void dma_unmap_range(struct device *dev, dma_addr_t dma_addr, size_t len)
{
	struct dma_mapping *m;
	dma_addr_t start;
	uint64_t size;

	if (!dev || !dma_page_range(dma_addr, len, &start, &size)) {
		devmem_err(-EINVAL, "dma_unmap_range: bad arguments");
		return;
	}
	pthread_mutex_lock(&dev->lock);
	m = mapping_lookup_exact(dev, start, size, false, "dma_unmap_range");
	if (!m) {
		pthread_mutex_unlock(&dev->lock);
		return;
	}
	mapping_remove(dev, m);
	pt_unmap(dev->pgd, PT_TOP, start, start + size);
	iova_free(dev, start, size, m->spare);
	m->spare = NULL;
	mapped_bytes_add(dev, -(int64_t)size);
	pthread_mutex_unlock(&dev->lock);
	mapping_free(m);
}

/* ---- peer-to-peer ---- */

int device_add_p2p_window(struct device *provider, void *cpu_base, size_t size,
			  dma_addr_t *bus_base)
{
	uintptr_t cpu = (uintptr_t)cpu_base;
	struct p2p_window *w;
	uint64_t align;
	dma_addr_t bus;
	int err;

	if (!provider || !cpu_base || !bus_base)
		return devmem_err(-EINVAL, "device_add_p2p_window: NULL argument");
	if (!size || !IS_ALIGNED(cpu, PAGE_SIZE) || !IS_ALIGNED(size, PAGE_SIZE) ||
	    cpu + size < cpu)
		return devmem_err(-EINVAL, "p2p window must be a non-empty page-aligned range");
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;

	pthread_mutex_lock(&p2p_lock);
	if (provider->window) {
		err = devmem_err(-EEXIST, "%s already has a p2p window", provider->name);
		goto err_unlock;
	}
	/* congruent to the CPU address, as IOVAs are, so importers can map blocks */
	align = block_align(cpu, size);
	bus = p2p_bus_next + ((cpu - p2p_bus_next) & (align - 1));
	if (bus + size > P2P_BUS_END || bus + size < bus) {
		err = devmem_err(-ENOSPC, "p2p bus address space exhausted");
		goto err_unlock;
	}
	/* a guard page: a range running off one window never lands in the next */
	p2p_bus_next = bus + size + PAGE_SIZE;
	w->provider = provider;
	w->cpu_base = cpu;
	w->bus_base = bus;
	w->size = size;
	list_add_tail(&w->link, &p2p_windows);
	provider->window = w;
	pthread_mutex_unlock(&p2p_lock);
	*bus_base = bus;
	return 0;

err_unlock:
	pthread_mutex_unlock(&p2p_lock);
	free(w);
	return err;
}

/*
 * The window holding all of [start, start + size): its provider gets a
 * reference and *cpu the CPU address of @start. NULL if there is none.
 */
static struct device *p2p_window_get(dma_addr_t start, uint64_t size, uintptr_t *cpu)
{
	struct device *provider = NULL;
	struct p2p_window *w;

	pthread_mutex_lock(&p2p_lock);
	list_for_each_entry(w, &p2p_windows, link) {
		if (start < w->bus_base || start + size > w->bus_base + w->size)
			continue;
		/* a provider on its way out still has its window until its release ends */
		if (kref_get_unless_zero(&w->provider->kref)) {
			provider = w->provider;
			*cpu = w->cpu_base + (start - w->bus_base);
		}
		break;
	}
	pthread_mutex_unlock(&p2p_lock);
	return provider;
}

/* A second map of the same range: one more user, permissions the union. Device lock held. */
static int p2p_map_again(struct device *importer, struct dma_mapping *m, uint64_t prot)
{
	int err = 0;

	if ((m->prot | prot) != m->prot) {
		m->prot |= prot;
		/* same range, same layout: every table is there, so this cannot fail */
		err = device_pt_map(importer, m->node.start, m->node.size, m->cpu, m->prot, true);
		DEVMEM_BUG_ON(err);
	}
	m->users++;
	return err;
}

int dma_map_p2p(struct device *importer, dma_addr_t bus_addr, size_t len,
		enum dma_data_direction dir)
{
	struct device *provider;
	struct dma_mapping *m, *old;
	dma_addr_t start;
	uint64_t size;
	uintptr_t cpu;
	int err;

	if (!importer || !len || !dma_direction_valid(dir))
		return devmem_err(-EINVAL, "dma_map_p2p: bad arguments");
	if (!importer->p2p)
		return devmem_err(-EOPNOTSUPP, "%s cannot reach peer devices", importer->name);
	if (!dma_page_range(bus_addr, len, &start, &size))
		return devmem_err(-EINVAL, "dma_map_p2p: bad range");
	provider = p2p_window_get(start, size, &cpu);
	if (!provider)
		return devmem_err(-EINVAL, "[%#llx, +%zu) is not inside one p2p window",
				  (unsigned long long)bus_addr, len);
	m = calloc(1, sizeof(*m));
	if (!m) {
		err = -ENOMEM;
		goto err_put;
	}

	pthread_mutex_lock(&importer->lock);
	old = mapping_find(importer, start, start + size);
	if (old) {
		if (old->node.start != start || old->node.size != size) {
			err = devmem_err(-EBUSY, "%s: p2p range overlaps another p2p mapping",
					 importer->name);
			goto err_unlock;
		}
		err = p2p_map_again(importer, old, dma_direction_prot(dir));
		pthread_mutex_unlock(&importer->lock);
		free(m);
		device_put(provider); /* the first map's reference keeps it */
		return err;
	}
	m->cpu = cpu;
	m->prot = dma_direction_prot(dir);
	m->provider = provider;
	m->users = 1;
	err = device_pt_map(importer, start, size, cpu, m->prot, false);
	if (err)
		goto err_unlock;
	node_init(importer, &m->node, start, size);
	mapping_insert(importer, m);
	mapped_bytes_add(importer, size);
	pthread_mutex_unlock(&importer->lock);
	return 0;

err_unlock:
	pthread_mutex_unlock(&importer->lock);
	free(m);
err_put:
	device_put(provider);
	return err;
}

void dma_unmap_p2p(struct device *importer, dma_addr_t bus_addr, size_t len)
{
	struct dma_mapping *m;
	dma_addr_t start;
	uint64_t size;

	if (!importer || !dma_page_range(bus_addr, len, &start, &size)) {
		devmem_err(-EINVAL, "dma_unmap_p2p: bad arguments");
		return;
	}
	pthread_mutex_lock(&importer->lock);
	m = mapping_lookup_exact(importer, start, size, true, "dma_unmap_p2p");
	if (!m || --m->users) {
		pthread_mutex_unlock(&importer->lock);
		return;
	}
	mapping_remove(importer, m);
	pt_unmap(importer->pgd, PT_TOP, start, start + size);
	mapped_bytes_add(importer, -(int64_t)size);
	pthread_mutex_unlock(&importer->lock);
	mapping_free(m);
}

/* ---- device access and faults ---- */

static int device_fault(struct device *dev, dma_addr_t addr, size_t len,
			enum dma_data_direction dir, enum device_fault_reason reason)
{
	struct device_fault fault = { .addr = addr, .len = len, .dir = dir, .reason = reason };
	device_fault_handler_t fn;
	void *priv;

	__atomic_fetch_add(&dev->nr_faults, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&dev->fault_lock);
	dev->last_fault = fault;
	dev->has_fault = true;
	fn = dev->fault_handler;
	priv = dev->fault_priv;
	pthread_mutex_unlock(&dev->fault_lock);
	/* outside the lock: the handler may look at the device, even map */
	if (fn)
		fn(dev, &fault, priv);
	return devmem_err(-EFAULT, "IOMMU fault on %s: %s at %#llx (access of %zu bytes)",
			  dev->name,
			  reason == DEVICE_FAULT_UNMAPPED ? "no translation" : "permission",
			  (unsigned long long)addr, len);
}

/*
 * Check that every byte of [addr, addr + len) translates with @prot, leaf by
 * leaf; with @contiguous, also that one mapping covers it all. 0 and the CPU
 * address of @addr in *cpu, or -EFAULT after reporting the fault.
 */
static int device_check(struct device *dev, dma_addr_t addr, size_t len,
			enum dma_data_direction dir, bool contiguous, uintptr_t *cpu)
{
	uint64_t need = dma_direction_prot(dir);
	dma_addr_t a = addr, end = addr + len;

	if (end < addr || end > P2P_BUS_END)
		return device_fault(dev, addr, len, dir, DEVICE_FAULT_UNMAPPED);
	while (a < end) {
		unsigned int shift;
		uint64_t pte = pt_lookup(dev, a, &shift);
		uintptr_t here;

		if (!pte)
			return device_fault(dev, a, len, dir, DEVICE_FAULT_UNMAPPED);
		if ((pte & need) != need)
			return device_fault(dev, a, len, dir, DEVICE_FAULT_PERMISSION);
		here = (pte & PTE_ADDR_MASK) + (a & ((1ULL << shift) - 1));
		if (a == addr)
			*cpu = here;
		else if (contiguous && ((pte & PTE_FIRST) || here != *cpu + (a - addr)))
			return device_fault(dev, a, len, dir, DEVICE_FAULT_UNMAPPED);
		a = ALIGN_DOWN(a, 1ULL << shift) + (1ULL << shift);
	}
	return 0;
}

/*
 * Copy leaf by leaf after device_check() passed. A leaf can only vanish here
 * if the driver unmaps a range while the device still uses it; that is its
 * bug, as on hardware, and still reported as a fault.
 */
static int device_copy(struct device *dev, dma_addr_t addr, char *buf, size_t len,
		       enum dma_data_direction dir)
{
	dma_addr_t a = addr, end = addr + len;

	while (a < end) {
		unsigned int shift;
		uint64_t pte = pt_lookup(dev, a, &shift);
		dma_addr_t next;
		char *cpu;

		if (!pte)
			return device_fault(dev, a, len, dir, DEVICE_FAULT_UNMAPPED);
		next = min(ALIGN_DOWN(a, 1ULL << shift) + (1ULL << shift), end);
		cpu = (char *)(uintptr_t)((pte & PTE_ADDR_MASK) + (a & ((1ULL << shift) - 1)));
		if (dir == DMA_TO_DEVICE)
			memcpy(buf + (a - addr), cpu, next - a);
		else
			memcpy(cpu, buf + (a - addr), next - a);
		a = next;
	}
	return 0;
}

int device_access(struct device *dev, dma_addr_t addr, void *buf, size_t len,
		  enum dma_data_direction dir)
{
	uintptr_t cpu;
	int err;

	if (!dev || !buf || !len)
		return devmem_err(-EINVAL, "device_access: bad arguments");
	if (dir != DMA_TO_DEVICE && dir != DMA_FROM_DEVICE)
		return devmem_err(-EINVAL, "device_access: direction %d is not TO or FROM_DEVICE",
				  dir);
	err = device_check(dev, addr, len, dir, false, &cpu);
	if (err)
		return err;
	return device_copy(dev, addr, buf, len, dir);
}

int device_translate(struct device *dev, dma_addr_t addr, size_t len, enum dma_data_direction dir,
		     void **cpu_addr)
{
	uintptr_t cpu;
	int err;

	if (!dev || !cpu_addr || !len || !dma_direction_valid(dir))
		return devmem_err(-EINVAL, "device_translate: bad arguments");
	err = device_check(dev, addr, len, dir, true, &cpu);
	if (err)
		return err;
	*cpu_addr = (void *)cpu;
	return 0;
}

uint64_t device_fault_count(const struct device *dev)
{
	return dev ? __atomic_load_n(&dev->nr_faults, __ATOMIC_RELAXED) : 0;
}

int device_last_fault(struct device *dev, struct device_fault *fault)
{
	int err = 0;

	if (!dev || !fault)
		return devmem_err(-EINVAL, "device_last_fault: NULL argument");
	pthread_mutex_lock(&dev->fault_lock);
	if (dev->has_fault)
		*fault = dev->last_fault;
	else
		err = -ENOENT;
	pthread_mutex_unlock(&dev->fault_lock);
	return err;
}

void device_set_fault_handler(struct device *dev, device_fault_handler_t fn, void *priv)
{
	if (!dev)
		return;
	pthread_mutex_lock(&dev->fault_lock);
	dev->fault_handler = fn;
	dev->fault_priv = priv;
	pthread_mutex_unlock(&dev->fault_lock);
}

size_t device_mapped_bytes(const struct device *dev)
{
	return dev ? __atomic_load_n(&dev->mapped_bytes, __ATOMIC_RELAXED) : 0;
}

unsigned int device_iommu_leaf_shift(const struct device *dev, dma_addr_t addr)
{
	unsigned int shift;

	return pt_lookup(dev, addr, &shift) ? shift : 0;
}
