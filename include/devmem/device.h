/* SPDX-License-Identifier: MIT */
/*
 * Devices and their address spaces.
 *
 * A device reaches memory only by device address (dma_addr_t). System memory
 * reaches a device through the device's IOMMU: an exporter maps a host range
 * with dma_map_range(), which allocates an IOVA range and writes the
 * translation; the device then uses the IOVA. A peer device (simulated VRAM)
 * exposes its memory through a peer-to-peer window with a bus address range;
 * dma_map_p2p() makes part of that window reachable from another device at
 * its bus addresses.
 *
 * Drivers touch memory only with device_access() (copy in or out) or
 * device_translate() (a CPU pointer for a range, for drivers that hand
 * buffers to the kernel, valid until the range is unmapped). An access to an
 * address with no translation (never mapped, unmapped, or moved away), or in
 * a direction the mapping does not allow, is an IOMMU fault: the access is
 * refused with -EFAULT, nothing is read or written, the fault is counted on
 * the device and recorded (device_last_fault()), and the device's fault
 * handler, if any, is called.
 *
 * Translation is lock-free and allocation-free (a page-table walk); map and
 * unmap serialise on the device.
 *
 * Address layout: IOVAs lie in [PAGE_SIZE, 2^iova_bits) (0 is never handed
 * out); peer-to-peer bus addresses lie at 2^48 and above, so the two never
 * overlap in one device's address space. A mapping of a range of at least
 * one 2 MiB (or 1 GiB) block gets an IOVA congruent to its CPU address
 * modulo the block size, and is translated by block entries: mapping or
 * unmapping 1 GiB costs a few hundred page-table writes. Page-table pages
 * are never freed before the device (a lock-free walker may be reading
 * them); their memory is bounded by the address range ever mapped.
 */
#ifndef DEVMEM_DEVICE_H
#define DEVMEM_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t dma_addr_t;

/* The kernel's values. TO_DEVICE: the device reads; FROM_DEVICE: it writes. */
enum dma_data_direction {
	DMA_BIDIRECTIONAL = 0,
	DMA_TO_DEVICE = 1,
	DMA_FROM_DEVICE = 2,
	DMA_NONE = 3,
};

/* Which address space a device address belongs to. */
enum dma_addr_domain {
	DMA_DOMAIN_IOMMU, /* system memory, translated by the device's IOMMU */
	DMA_DOMAIN_P2P, /* a peer device's memory, at its peer-to-peer bus address */
};

struct device;

struct device_opts {
	size_t sz; /* sizeof(struct device_opts): set it, for compatibility */
	bool p2p; /* the device can reach peer devices' windows */
	unsigned int iova_bits; /* size of the IOVA space; 0: 48 */
};

enum device_fault_reason {
	DEVICE_FAULT_UNMAPPED, /* no translation for the address */
	DEVICE_FAULT_PERMISSION, /* mapped, but not for this direction */
};

struct device_fault {
	dma_addr_t addr; /* first faulting device address */
	size_t len; /* length of the refused access */
	enum dma_data_direction dir;
	enum device_fault_reason reason;
};

typedef void (*device_fault_handler_t)(struct device *dev, const struct device_fault *fault,
				       void *priv);

/*
 * Create a device named @name (at most 31 characters). Returns 0 and the
 * device (one reference) in @out; -EINVAL for a bad name or options,
 * -ENOMEM. @opts may be NULL for the defaults.
 *
 * Bad names: NULL, empty, longer than 31. Bad options: sz 0, iova_bits
 * outside [16, 48] (0 means 48), non-zero bytes beyond the fields this
 * library knows (a newer caller's options).
 */
int device_create(const char *name, const struct device_opts *opts, struct device **out);
struct device *device_get(struct device *dev);
/*
 * Drop a reference (NULL is ignored). The last one frees the device, its
 * page tables and its p2p window; it must have no mappings left (IOMMU or
 * P2P): a device freed with mappings is an exporter bug, caught by
 * DEVMEM_BUG_ON (abort) in debug builds; release builds free the mappings.
 * A p2p mapping holds a reference on the window's provider, so a provider
 * lives until every importer has unmapped its window.
 */
void device_put(struct device *dev);

const char *device_name(const struct device *dev);
bool device_is_p2p_capable(const struct device *dev);

/*
 * Map [cpu_addr, cpu_addr + len) into @dev's IOMMU domain for @dir. The
 * translation covers whole pages; the returned IOVA has the same offset in
 * its page as @cpu_addr. Returns 0, -EINVAL (len 0 or bad direction, NULL
 * argument, a range that wraps), -ENOSPC (IOVA space full), -ENOMEM. A
 * failure maps nothing and takes no IOVA space.
 */
int dma_map_range(struct device *dev, void *cpu_addr, size_t len, enum dma_data_direction dir,
		  dma_addr_t *dma_addr);
/*
 * Undo one dma_map_range() with the same address and length. Anything else
 * (not a mapping's start, another length, a p2p range) changes nothing and
 * records a message (devmem_last_error()), as the kernel's dma-debug warns.
 */
void dma_unmap_range(struct device *dev, dma_addr_t dma_addr, size_t len);

/*
 * Open a peer-to-peer window onto @provider's memory [cpu_base, cpu_base + size)
 * (page aligned). Bus addresses are unique across devices. One window per
 * provider. Returns 0 and the window's first bus address in @bus_base;
 * -EINVAL (NULL, empty or unaligned range), -EEXIST (the provider has a
 * window), -ENOSPC (bus address space exhausted), -ENOMEM. The window lasts
 * until the provider is freed; its bus address is never reused.
 */
int device_add_p2p_window(struct device *provider, void *cpu_base, size_t size,
			  dma_addr_t *bus_base);

/*
 * Make [bus_addr, bus_addr + len) of a peer's window reachable from
 * @importer for @dir, at the same bus addresses. -EOPNOTSUPP if @importer is
 * not p2p capable, -EINVAL if the range is not inside one window (or len 0,
 * bad direction, NULL importer), -ENOMEM.
 *
 * Whole pages are mapped, as for dma_map_range(). Mapping exactly the same
 * pages again (two attachments of one buffer) counts one more user, and the
 * device may then access them in the union of the directions until the last
 * dma_unmap_p2p(); a range that overlaps a different p2p mapping is refused
 * with -EBUSY. The mapping holds a reference on the window's provider.
 */
int dma_map_p2p(struct device *importer, dma_addr_t bus_addr, size_t len,
		enum dma_data_direction dir);
void dma_unmap_p2p(struct device *importer, dma_addr_t bus_addr, size_t len);

/*
 * The device reads (DMA_TO_DEVICE: memory to @buf) or writes
 * (DMA_FROM_DEVICE: @buf to memory) @len bytes at @addr. 0, or -EFAULT after
 * reporting a fault, with nothing copied: the whole range is checked before
 * a byte moves, and the fault names the first address that failed. The
 * range may span several mappings. -EINVAL (not a fault) for a NULL
 * argument, len 0, or a direction other than TO or FROM_DEVICE.
 *
 * An access racing with the unmap of the same range is a driver bug, as on
 * hardware (the device must be quiesced before unmap): it may fault half way.
 */
int device_access(struct device *dev, dma_addr_t addr, void *buf, size_t len,
		  enum dma_data_direction dir);

/*
 * A CPU pointer to [addr, addr + len) for direct access in @dir: 0 and
 * *cpu_addr, or -EFAULT after reporting a fault. The range must be mapped by
 * one mapping (contiguous on the CPU side); a range running into another
 * mapping faults with DEVICE_FAULT_UNMAPPED at that mapping's first address.
 * @dir is checked against the mapping (DMA_BIDIRECTIONAL: read and write).
 * -EINVAL for a NULL argument, len 0 or DMA_NONE.
 */
int device_translate(struct device *dev, dma_addr_t addr, size_t len, enum dma_data_direction dir,
		     void **cpu_addr);

/* Faults seen by @dev since creation. */
uint64_t device_fault_count(const struct device *dev);
/* The most recent fault: 0 and *fault, or -ENOENT if there was none. */
int device_last_fault(struct device *dev, struct device_fault *fault);
/*
 * Call @fn (from the faulting thread, no library lock held) on each fault;
 * NULL removes it. A fault being reported while the handler changes may
 * still call the old one.
 */
void device_set_fault_handler(struct device *dev, device_fault_handler_t fn, void *priv);

/* Bytes currently mapped into @dev (IOMMU and P2P), rounded to pages. */
size_t device_mapped_bytes(const struct device *dev);

#ifdef __cplusplus
}
#endif

#endif
