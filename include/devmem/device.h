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
 */
int device_create(const char *name, const struct device_opts *opts, struct device **out);
struct device *device_get(struct device *dev);
/* Drop a reference. The last one frees the device; it must have no mappings left. */
void device_put(struct device *dev);

const char *device_name(const struct device *dev);
bool device_is_p2p_capable(const struct device *dev);

/*
 * Map [cpu_addr, cpu_addr + len) into @dev's IOMMU domain for @dir. The
 * translation covers whole pages; the returned IOVA has the same offset in
 * its page as @cpu_addr. Returns 0, -EINVAL (len 0 or bad direction),
 * -ENOSPC (IOVA space full), -ENOMEM. A failure maps nothing.
 */
int dma_map_range(struct device *dev, void *cpu_addr, size_t len, enum dma_data_direction dir,
		  dma_addr_t *dma_addr);
/* Undo one dma_map_range() with the same address and length. */
void dma_unmap_range(struct device *dev, dma_addr_t dma_addr, size_t len);

/*
 * Open a peer-to-peer window onto @provider's memory [cpu_base, cpu_base + size)
 * (page aligned). Bus addresses are unique across devices. One window per
 * provider. Returns 0 and the window's first bus address in @bus_base.
 */
int device_add_p2p_window(struct device *provider, void *cpu_base, size_t size,
			  dma_addr_t *bus_base);

/*
 * Make [bus_addr, bus_addr + len) of a peer's window reachable from
 * @importer for @dir, at the same bus addresses. -EOPNOTSUPP if @importer is
 * not p2p capable, -EINVAL if the range is not inside one window.
 */
int dma_map_p2p(struct device *importer, dma_addr_t bus_addr, size_t len,
		enum dma_data_direction dir);
void dma_unmap_p2p(struct device *importer, dma_addr_t bus_addr, size_t len);

/*
 * The device reads (DMA_TO_DEVICE: memory to @buf) or writes
 * (DMA_FROM_DEVICE: @buf to memory) @len bytes at @addr. 0, or -EFAULT after
 * reporting a fault, with nothing copied.
 */
int device_access(struct device *dev, dma_addr_t addr, void *buf, size_t len,
		  enum dma_data_direction dir);

/*
 * A CPU pointer to [addr, addr + len) for direct access in @dir: 0 and
 * *cpu_addr, or -EFAULT after reporting a fault. The range must be mapped by
 * one mapping (contiguous on the CPU side).
 */
int device_translate(struct device *dev, dma_addr_t addr, size_t len, enum dma_data_direction dir,
		     void **cpu_addr);

/* Faults seen by @dev since creation. */
uint64_t device_fault_count(const struct device *dev);
/* The most recent fault: 0 and *fault, or -ENOENT if there was none. */
int device_last_fault(struct device *dev, struct device_fault *fault);
/* Call @fn (from the faulting thread) on each fault; NULL removes it. */
void device_set_fault_handler(struct device *dev, device_fault_handler_t fn, void *priv);

/* Bytes currently mapped into @dev (IOMMU and P2P), rounded to pages. */
size_t device_mapped_bytes(const struct device *dev);

#ifdef __cplusplus
}
#endif

#endif
