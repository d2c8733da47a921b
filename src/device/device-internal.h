/* SPDX-License-Identifier: MIT */
/*
 * Library-internal views of a device's IOMMU domain, for tests and
 * debugging; not exported from the shared library.
 */
#ifndef DEVMEM_DEVICE_INTERNAL_H
#define DEVMEM_DEVICE_INTERNAL_H

#include "devmem/device.h"

/*
 * log2 of the size of the page-table leaf that translates @addr in @dev
 * (12: a page, 21: a 2 MiB block, 30: a 1 GiB block), or 0 if there is no
 * translation. Lock-free, like every translation.
 */
unsigned int device_iommu_leaf_shift(const struct device *dev, dma_addr_t addr);

#endif
