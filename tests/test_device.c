// SPDX-License-Identifier: MIT
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "devmem/device.h"
#include "devmem/error.h"
#include "device/device-internal.h"
#include "lib/compiler.h"
#include "harness.h"

#define SZ_2M (2UL << 20)

static struct device *dev_new(const char *name, bool p2p, unsigned int iova_bits)
{
	struct device_opts opts = { .sz = sizeof(opts), .p2p = p2p, .iova_bits = iova_bits };
	struct device *dev = NULL;

	cr_assert_eq(device_create(name, &opts, &dev), 0);
	cr_assert_not_null(dev);
	return dev;
}

static void *host_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	cr_assert_neq(p, MAP_FAILED);
	return p;
}

static void host_free(void *p, size_t size)
{
	munmap(p, size);
}

struct fault_log {
	int calls;
	struct device *dev;
	struct device_fault fault;
};

static void log_fault(struct device *dev, const struct device_fault *fault, void *priv)
{
	struct fault_log *log = priv;

	log->calls++;
	log->dev = dev;
	log->fault = *fault;
}

Test(device, create_gives_named_device_with_one_reference)
{
	struct device *dev = NULL;
	struct device_fault f;

	cr_assert_eq(device_create("nic0", NULL, &dev), 0);
	cr_assert_str_eq(device_name(dev), "nic0");
	cr_assert_not(device_is_p2p_capable(dev));
	cr_assert_eq(device_mapped_bytes(dev), 0);
	cr_assert_eq(device_fault_count(dev), 0);
	cr_assert_eq(device_last_fault(dev, &f), -ENOENT);
	cr_assert_eq(device_get(dev), dev);
	device_put(dev);
	cr_assert_str_eq(device_name(dev), "nic0"); /* still alive: one reference left */
	device_put(dev);
}

Test(device, device_name_too_long_is_einval)
{
	char name[40];
	struct device *dev = NULL;

	memset(name, 'a', 32);
	name[32] = '\0';
	cr_assert_eq(device_create(name, NULL, &dev), -EINVAL);
	cr_assert_null(dev);
	cr_assert_eq(device_create("", NULL, &dev), -EINVAL);
	cr_assert_eq(device_create(NULL, NULL, &dev), -EINVAL);
	cr_assert_null(dev);
	name[31] = '\0'; /* 31 characters: the longest allowed */
	cr_assert_eq(device_create(name, NULL, &dev), 0);
	cr_assert_str_eq(device_name(dev), name);
	device_put(dev);
}

Test(device, bad_opts_are_einval)
{
	struct device_opts opts = { .sz = sizeof(opts), .iova_bits = 12 };
	struct device *dev = NULL;

	cr_assert_eq(device_create("d", &opts, &dev), -EINVAL);
	opts.iova_bits = 49;
	cr_assert_eq(device_create("d", &opts, &dev), -EINVAL);
	opts.iova_bits = 0;
	opts.sz = 0;
	cr_assert_eq(device_create("d", &opts, &dev), -EINVAL);
	cr_assert_eq(device_create("d", NULL, NULL), -EINVAL);
	cr_assert_null(dev);
}

Test(device, map_gives_iova_with_same_page_offset)
{
	struct device *dev = dev_new("d", false, 0);
	char *host = host_alloc(4 * PAGE_SIZE);
	dma_addr_t iova;

	cr_assert_eq(dma_map_range(dev, host + 123, 1000, DMA_BIDIRECTIONAL, &iova), 0);
	cr_assert_eq(iova & (PAGE_SIZE - 1), 123);
	cr_assert_neq(iova, 0);
	cr_assert_lt(iova, 1ULL << 48);
	dma_unmap_range(dev, iova, 1000);
	cr_assert_eq(device_mapped_bytes(dev), 0);
	device_put(dev);
	host_free(host, 4 * PAGE_SIZE);
}

Test(device, access_reads_and_writes_host_memory)
{
	struct device *dev = dev_new("d", false, 0);
	char *host = host_alloc(4 * PAGE_SIZE);
	char buf[3 * PAGE_SIZE];
	dma_addr_t iova;

	memset(host, 'h', 4 * PAGE_SIZE);
	cr_assert_eq(dma_map_range(dev, host + 100, sizeof(buf), DMA_BIDIRECTIONAL, &iova), 0);
	cr_assert_eq(device_access(dev, iova, buf, sizeof(buf), DMA_TO_DEVICE), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		cr_assert_eq(buf[i], 'h');
	memset(buf, 'd', sizeof(buf));
	cr_assert_eq(device_access(dev, iova + 10, buf, sizeof(buf) - 10, DMA_FROM_DEVICE), 0);
	cr_assert_eq(host[109], 'h');
	for (size_t i = 110; i < 100 + sizeof(buf); i++)
		cr_assert_eq(host[i], 'd');
	cr_assert_eq(host[100 + sizeof(buf)], 'h');
	cr_assert_eq(device_fault_count(dev), 0);
	dma_unmap_range(dev, iova, sizeof(buf));
	device_put(dev);
	host_free(host, 4 * PAGE_SIZE);
}

Test(device, mapping_covers_whole_pages)
{
	struct device *dev = dev_new("d", false, 0);
	char *host = host_alloc(2 * PAGE_SIZE);
	dma_addr_t iova, page;
	char c;

	/* 100 bytes that cross a page boundary: two pages */
	cr_assert_eq(dma_map_range(dev, host + PAGE_SIZE - 50, 100, DMA_TO_DEVICE, &iova), 0);
	cr_assert_eq(device_mapped_bytes(dev), 2 * PAGE_SIZE);
	page = ALIGN_DOWN(iova, PAGE_SIZE);
	host[0] = 'a';
	host[2 * PAGE_SIZE - 1] = 'z';
	cr_assert_eq(device_access(dev, page, &c, 1, DMA_TO_DEVICE), 0);
	cr_assert_eq(c, 'a');
	cr_assert_eq(device_access(dev, page + 2 * PAGE_SIZE - 1, &c, 1, DMA_TO_DEVICE), 0);
	cr_assert_eq(c, 'z');
	cr_assert_eq(device_access(dev, page + 2 * PAGE_SIZE, &c, 1, DMA_TO_DEVICE), -EFAULT);
	dma_unmap_range(dev, iova, 100);
	cr_assert_eq(device_mapped_bytes(dev), 0);
	device_put(dev);
	host_free(host, 2 * PAGE_SIZE);
}

Test(device, translate_returns_host_pointer)
{
	struct device *dev = dev_new("d", false, 0);
	char *host = host_alloc(8 * PAGE_SIZE);
	dma_addr_t iova;
	void *p;

	cr_assert_eq(dma_map_range(dev, host + 7, 8 * PAGE_SIZE - 7, DMA_BIDIRECTIONAL, &iova), 0);
	cr_assert_eq(device_translate(dev, iova, 8 * PAGE_SIZE - 7, DMA_BIDIRECTIONAL, &p), 0);
	cr_assert_eq(p, host + 7);
	cr_assert_eq(device_translate(dev, iova + 5000, 100, DMA_TO_DEVICE, &p), 0);
	cr_assert_eq(p, host + 5007);
	dma_unmap_range(dev, iova, 8 * PAGE_SIZE - 7);
	device_put(dev);
	host_free(host, 8 * PAGE_SIZE);
}

Test(device, unmapped_access_faults_and_copies_nothing)
{
	struct device *dev = dev_new("d", false, 0);
	struct fault_log log = { 0 };
	struct device_fault f;
	char buf[64];

	device_set_fault_handler(dev, log_fault, &log);
	memset(buf, 'x', sizeof(buf));
	cr_assert_eq(device_access(dev, 0x100000 + 8, buf, sizeof(buf), DMA_TO_DEVICE), -EFAULT);
	for (size_t i = 0; i < sizeof(buf); i++)
		cr_assert_eq(buf[i], 'x');
	cr_assert_eq(device_fault_count(dev), 1);
	cr_assert_eq(device_last_fault(dev, &f), 0);
	cr_assert_eq(f.addr, 0x100000 + 8);
	cr_assert_eq(f.len, sizeof(buf));
	cr_assert_eq(f.dir, DMA_TO_DEVICE);
	cr_assert_eq(f.reason, DEVICE_FAULT_UNMAPPED);
	cr_assert_eq(log.calls, 1);
	cr_assert_eq(log.dev, dev);
	cr_assert_eq(log.fault.addr, f.addr);
	cr_assert_eq(log.fault.len, f.len);

	/* beyond the page table, and wrapping around: faults too, never a crash */
	cr_assert_eq(device_access(dev, ~0ULL - 4, buf, sizeof(buf), DMA_TO_DEVICE), -EFAULT);
	cr_assert_eq(device_access(dev, 1ULL << 60, buf, 1, DMA_FROM_DEVICE), -EFAULT);
	cr_assert_eq(device_fault_count(dev), 3);
	cr_assert_eq(log.calls, 3);

	/* NULL removes the handler; faults still count */
	device_set_fault_handler(dev, NULL, NULL);
	cr_assert_eq(device_access(dev, 0, buf, 1, DMA_TO_DEVICE), -EFAULT);
	cr_assert_eq(log.calls, 3);
	cr_assert_eq(device_fault_count(dev), 4);
	device_put(dev);
}

Test(device, access_after_unmap_faults)
{
	struct device *dev = dev_new("d", false, 0);
	char *host = host_alloc(PAGE_SIZE);
	struct device_fault f;
	dma_addr_t iova;
	char buf[16];
	void *p;

	cr_assert_eq(dma_map_range(dev, host, PAGE_SIZE, DMA_BIDIRECTIONAL, &iova), 0);
	cr_assert_eq(device_access(dev, iova, buf, sizeof(buf), DMA_TO_DEVICE), 0);
	dma_unmap_range(dev, iova, PAGE_SIZE);
	memset(host, 'h', 16);
	memset(buf, 'b', sizeof(buf));
	cr_assert_eq(device_access(dev, iova, buf, sizeof(buf), DMA_FROM_DEVICE), -EFAULT);
	cr_assert_eq(host[0], 'h');
	cr_assert_eq(device_translate(dev, iova, 1, DMA_TO_DEVICE, &p), -EFAULT);
	cr_assert_eq(device_fault_count(dev), 2);
	cr_assert_eq(device_last_fault(dev, &f), 0);
	cr_assert_eq(f.addr, iova);
	cr_assert_eq(f.reason, DEVICE_FAULT_UNMAPPED);
	device_put(dev);
	host_free(host, PAGE_SIZE);
}

Test(device, partially_mapped_range_faults_without_copying)
{
	struct device *dev = dev_new("d", false, 0);
	char *host = host_alloc(2 * PAGE_SIZE);
	struct device_fault f;
	char buf[2 * PAGE_SIZE];
	dma_addr_t iova;

	memset(host, 'h', 2 * PAGE_SIZE);
	cr_assert_eq(dma_map_range(dev, host, PAGE_SIZE, DMA_BIDIRECTIONAL, &iova), 0);
	/* the page after the mapping has no translation (nothing else is mapped) */
	memset(buf, 'b', sizeof(buf));
	cr_assert_eq(device_access(dev, iova + 100, buf, PAGE_SIZE, DMA_FROM_DEVICE), -EFAULT);
	for (size_t i = 0; i < PAGE_SIZE; i++)
		cr_assert_eq(host[i], 'h');
	cr_assert_eq(device_access(dev, iova, buf, sizeof(buf), DMA_TO_DEVICE), -EFAULT);
	for (size_t i = 0; i < sizeof(buf); i++)
		cr_assert_eq(buf[i], 'b');
	cr_assert_eq(device_last_fault(dev, &f), 0);
	cr_assert_eq(f.addr, iova + PAGE_SIZE); /* the first faulting address */
	cr_assert_eq(f.len, sizeof(buf));
	cr_assert_eq(device_fault_count(dev), 2);
	dma_unmap_range(dev, iova, PAGE_SIZE);
	device_put(dev);
	host_free(host, 2 * PAGE_SIZE);
}

Test(device, direction_permission_faults)
{
	struct device *dev = dev_new("d", false, 0);
	char *host = host_alloc(3 * PAGE_SIZE);
	dma_addr_t to, from, bidi;
	struct device_fault f;
	char c = 'c';
	void *p;

	host[0] = host[PAGE_SIZE] = 'h';
	cr_assert_eq(dma_map_range(dev, host, PAGE_SIZE, DMA_TO_DEVICE, &to), 0);
	cr_assert_eq(dma_map_range(dev, host + PAGE_SIZE, PAGE_SIZE, DMA_FROM_DEVICE, &from), 0);
	cr_assert_eq(dma_map_range(dev, host + 2 * PAGE_SIZE, PAGE_SIZE, DMA_BIDIRECTIONAL, &bidi),
		     0);

	/* TO_DEVICE: the device may read only */
	cr_assert_eq(device_access(dev, to, &c, 1, DMA_TO_DEVICE), 0);
	cr_assert_eq(c, 'h');
	c = 'c';
	cr_assert_eq(device_access(dev, to, &c, 1, DMA_FROM_DEVICE), -EFAULT);
	cr_assert_eq(host[0], 'h');
	cr_assert_eq(device_last_fault(dev, &f), 0);
	cr_assert_eq(f.reason, DEVICE_FAULT_PERMISSION);
	cr_assert_eq(f.dir, DMA_FROM_DEVICE);
	cr_assert_eq(f.addr, to);

	/* FROM_DEVICE: write only */
	cr_assert_eq(device_access(dev, from, &c, 1, DMA_FROM_DEVICE), 0);
	cr_assert_eq(host[PAGE_SIZE], 'c');
	c = 'x';
	cr_assert_eq(device_access(dev, from, &c, 1, DMA_TO_DEVICE), -EFAULT);
	cr_assert_eq(c, 'x');
	cr_assert_eq(device_last_fault(dev, &f), 0);
	cr_assert_eq(f.reason, DEVICE_FAULT_PERMISSION);
	cr_assert_eq(device_translate(dev, from, 1, DMA_BIDIRECTIONAL, &p), -EFAULT);
	cr_assert_eq(device_translate(dev, to, 1, DMA_BIDIRECTIONAL, &p), -EFAULT);
	cr_assert_eq(device_fault_count(dev), 4);

	/* BIDIRECTIONAL: both */
	cr_assert_eq(device_access(dev, bidi, &c, 1, DMA_FROM_DEVICE), 0);
	cr_assert_eq(device_access(dev, bidi, &c, 1, DMA_TO_DEVICE), 0);
	cr_assert_eq(device_translate(dev, bidi, 1, DMA_BIDIRECTIONAL, &p), 0);
	cr_assert_eq(p, host + 2 * PAGE_SIZE);
	cr_assert_eq(device_fault_count(dev), 4);

	dma_unmap_range(dev, to, PAGE_SIZE);
	dma_unmap_range(dev, from, PAGE_SIZE);
	dma_unmap_range(dev, bidi, PAGE_SIZE);
	device_put(dev);
	host_free(host, 3 * PAGE_SIZE);
}

Test(device, translate_requires_one_contiguous_mapping)
{
	struct device *dev = dev_new("d", false, 0);
	char *host = host_alloc(4 * PAGE_SIZE);
	dma_addr_t a, b, c;
	struct device_fault f;
	char buf[2];
	void *p;

	/* two maps of adjacent host pages get adjacent IOVAs in a fresh domain */
	cr_assert_eq(dma_map_range(dev, host, PAGE_SIZE, DMA_BIDIRECTIONAL, &a), 0);
	cr_assert_eq(dma_map_range(dev, host + PAGE_SIZE, PAGE_SIZE, DMA_BIDIRECTIONAL, &b), 0);
	cr_assert_eq(b, a + PAGE_SIZE);
	/* a third, not contiguous on the CPU side, right after */
	cr_assert_eq(dma_map_range(dev, host + 3 * PAGE_SIZE, PAGE_SIZE, DMA_BIDIRECTIONAL, &c), 0);
	cr_assert_eq(c, b + PAGE_SIZE);

	cr_assert_eq(device_translate(dev, a + 10, PAGE_SIZE - 10, DMA_TO_DEVICE, &p), 0);
	cr_assert_eq(device_translate(dev, b + PAGE_SIZE - 1, 2, DMA_TO_DEVICE, &p), -EFAULT);
	cr_assert_eq(device_last_fault(dev, &f), 0);
	cr_assert_eq(f.reason, DEVICE_FAULT_UNMAPPED);
	cr_assert_eq(f.addr, c);
	/* even CPU-contiguous neighbours are two mappings */
	p = NULL;
	cr_assert_eq(device_translate(dev, a + PAGE_SIZE - 1, 2, DMA_TO_DEVICE, &p), -EFAULT);
	cr_assert_null(p);
	cr_assert_eq(device_fault_count(dev), 2);
	/* copies may span mappings: each byte is translated */
	cr_assert_eq(device_access(dev, b + PAGE_SIZE - 1, buf, 2, DMA_TO_DEVICE), 0);

	dma_unmap_range(dev, a, PAGE_SIZE);
	dma_unmap_range(dev, b, PAGE_SIZE);
	dma_unmap_range(dev, c, PAGE_SIZE);
	device_put(dev);
	host_free(host, 4 * PAGE_SIZE);
}

Test(device, p2p_window_mapping_gives_access_at_bus_address)
{
	struct device *vram = dev_new("vram", false, 0);
	struct device *nic = dev_new("nic", true, 0);
	char *heap = host_alloc(16 * PAGE_SIZE);
	dma_addr_t bus;
	char buf[8];
	void *p;

	cr_assert_eq(device_add_p2p_window(vram, heap, 16 * PAGE_SIZE, &bus), 0);
	cr_assert_geq(bus, 1ULL << 48); /* above every IOVA */
	memcpy(heap + 4 * PAGE_SIZE + 5, "peer", 5);
	/* unmapped until the importer maps it */
	cr_assert_eq(device_access(nic, bus + 4 * PAGE_SIZE, buf, 1, DMA_TO_DEVICE), -EFAULT);
	cr_assert_eq(dma_map_p2p(nic, bus + 4 * PAGE_SIZE, 2 * PAGE_SIZE, DMA_BIDIRECTIONAL), 0);
	cr_assert_eq(device_mapped_bytes(nic), 2 * PAGE_SIZE);
	cr_assert_eq(device_access(nic, bus + 4 * PAGE_SIZE + 5, buf, 5, DMA_TO_DEVICE), 0);
	cr_assert_str_eq(buf, "peer");
	cr_assert_eq(device_access(nic, bus + 5 * PAGE_SIZE, "w", 1, DMA_FROM_DEVICE), 0);
	cr_assert_eq(heap[5 * PAGE_SIZE], 'w');
	cr_assert_eq(device_translate(nic, bus + 4 * PAGE_SIZE, 2 * PAGE_SIZE, DMA_TO_DEVICE, &p),
		     0);
	cr_assert_eq(p, heap + 4 * PAGE_SIZE);
	/* outside the mapped part of the window */
	cr_assert_eq(device_access(nic, bus + 6 * PAGE_SIZE, buf, 1, DMA_TO_DEVICE), -EFAULT);
	/* the provider's own domain does not have it */
	cr_assert_eq(device_access(vram, bus + 4 * PAGE_SIZE, buf, 1, DMA_TO_DEVICE), -EFAULT);

	dma_unmap_p2p(nic, bus + 4 * PAGE_SIZE, 2 * PAGE_SIZE);
	cr_assert_eq(device_mapped_bytes(nic), 0);
	cr_assert_eq(device_access(nic, bus + 4 * PAGE_SIZE, buf, 1, DMA_TO_DEVICE), -EFAULT);
	device_put(nic);
	device_put(vram);
	host_free(heap, 16 * PAGE_SIZE);
}

Test(device, p2p_refused_for_non_p2p_importer)
{
	struct device *vram = dev_new("vram", false, 0);
	struct device *nic = dev_new("nic", false, 0);
	char *heap = host_alloc(4 * PAGE_SIZE);
	dma_addr_t bus;
	char c;

	cr_assert_eq(device_add_p2p_window(vram, heap, 4 * PAGE_SIZE, &bus), 0);
	cr_assert_eq(dma_map_p2p(nic, bus, PAGE_SIZE, DMA_BIDIRECTIONAL), -EOPNOTSUPP);
	cr_assert_eq(device_mapped_bytes(nic), 0);
	cr_assert_eq(device_access(nic, bus, &c, 1, DMA_TO_DEVICE), -EFAULT);
	device_put(nic);
	device_put(vram);
	host_free(heap, 4 * PAGE_SIZE);
}

Test(device, p2p_outside_one_window_is_einval)
{
	struct device *vram = dev_new("vram", false, 0);
	struct device *vram2 = dev_new("vram2", false, 0);
	struct device *nic = dev_new("nic", true, 0);
	char *heap = host_alloc(8 * PAGE_SIZE);
	dma_addr_t bus, bus2;

	cr_assert_eq(device_add_p2p_window(vram, heap, 4 * PAGE_SIZE, &bus), 0);
	cr_assert_eq(device_add_p2p_window(vram2, heap + 4 * PAGE_SIZE, 4 * PAGE_SIZE, &bus2), 0);
	cr_assert(bus2 >= bus + 4 * PAGE_SIZE || bus2 + 4 * PAGE_SIZE <= bus); /* unique */
	cr_assert_eq(dma_map_p2p(nic, bus + 3 * PAGE_SIZE, 2 * PAGE_SIZE, DMA_TO_DEVICE), -EINVAL);
	cr_assert_eq(dma_map_p2p(nic, bus - PAGE_SIZE, 2 * PAGE_SIZE, DMA_TO_DEVICE), -EINVAL);
	cr_assert_eq(dma_map_p2p(nic, 0x1000, PAGE_SIZE, DMA_TO_DEVICE), -EINVAL);
	cr_assert_eq(dma_map_p2p(nic, bus, 0, DMA_TO_DEVICE), -EINVAL);
	cr_assert_eq(dma_map_p2p(nic, bus, PAGE_SIZE, DMA_NONE), -EINVAL);
	cr_assert_eq(device_mapped_bytes(nic), 0);
	/* a range spanning two windows is in neither */
	if (bus2 == bus + 4 * PAGE_SIZE)
		cr_assert_eq(dma_map_p2p(nic, bus, 8 * PAGE_SIZE, DMA_TO_DEVICE), -EINVAL);
	cr_assert_eq(device_mapped_bytes(nic), 0);
	device_put(nic);
	device_put(vram2);
	device_put(vram);
	host_free(heap, 8 * PAGE_SIZE);
}

Test(device, p2p_one_window_per_provider)
{
	struct device *vram = dev_new("vram", false, 0);
	char *heap = host_alloc(4 * PAGE_SIZE);
	dma_addr_t bus, bus2 = 0;

	cr_assert_eq(device_add_p2p_window(vram, heap + 1, 2 * PAGE_SIZE, &bus), -EINVAL);
	cr_assert_eq(device_add_p2p_window(vram, heap, 100, &bus), -EINVAL);
	cr_assert_eq(device_add_p2p_window(vram, heap, 0, &bus), -EINVAL);
	cr_assert_eq(device_add_p2p_window(vram, heap, 2 * PAGE_SIZE, &bus), 0);
	cr_assert_eq(device_add_p2p_window(vram, heap + 2 * PAGE_SIZE, 2 * PAGE_SIZE, &bus2),
		     -EEXIST);
	cr_assert_eq(bus2, 0);
	device_put(vram);
	host_free(heap, 4 * PAGE_SIZE);
}

Test(device, p2p_same_range_mapped_twice_is_refcounted)
{
	struct device *vram = dev_new("vram", false, 0);
	struct device *nic = dev_new("nic", true, 0);
	char *heap = host_alloc(4 * PAGE_SIZE);
	dma_addr_t bus;
	char c = 'c';

	cr_assert_eq(device_add_p2p_window(vram, heap, 4 * PAGE_SIZE, &bus), 0);
	cr_assert_eq(dma_map_p2p(nic, bus, 2 * PAGE_SIZE, DMA_TO_DEVICE), 0);
	cr_assert_eq(device_access(nic, bus, &c, 1, DMA_FROM_DEVICE), -EFAULT);
	/* a second importer of the same buffer: permissions become the union */
	cr_assert_eq(dma_map_p2p(nic, bus, 2 * PAGE_SIZE, DMA_FROM_DEVICE), 0);
	cr_assert_eq(device_mapped_bytes(nic), 2 * PAGE_SIZE);
	cr_assert_eq(device_access(nic, bus, &c, 1, DMA_FROM_DEVICE), 0);
	cr_assert_eq(heap[0], 'c');
	/* overlapping but different: refused */
	cr_assert_eq(dma_map_p2p(nic, bus + PAGE_SIZE, 2 * PAGE_SIZE, DMA_TO_DEVICE), -EBUSY);
	dma_unmap_p2p(nic, bus, 2 * PAGE_SIZE);
	cr_assert_eq(device_access(nic, bus, &c, 1, DMA_TO_DEVICE), 0);
	cr_assert_eq(device_mapped_bytes(nic), 2 * PAGE_SIZE);
	dma_unmap_p2p(nic, bus, 2 * PAGE_SIZE);
	cr_assert_eq(device_access(nic, bus, &c, 1, DMA_TO_DEVICE), -EFAULT);
	cr_assert_eq(device_mapped_bytes(nic), 0);
	device_put(nic);
	device_put(vram);
	host_free(heap, 4 * PAGE_SIZE);
}

Test(device, p2p_mapping_keeps_provider_alive)
{
	struct device *vram = dev_new("vram", false, 0);
	struct device *nic = dev_new("nic", true, 0);
	char *heap = host_alloc(4 * PAGE_SIZE);
	dma_addr_t bus;
	char c;

	cr_assert_eq(device_add_p2p_window(vram, heap, 4 * PAGE_SIZE, &bus), 0);
	cr_assert_eq(dma_map_p2p(nic, bus, PAGE_SIZE, DMA_TO_DEVICE), 0);
	device_put(vram); /* the mapping still holds the provider */
	cr_assert_eq(device_access(nic, bus, &c, 1, DMA_TO_DEVICE), 0);
	dma_unmap_p2p(nic, bus, PAGE_SIZE); /* drops the provider's last reference */
	cr_assert_eq(dma_map_p2p(nic, bus, PAGE_SIZE, DMA_TO_DEVICE), -EINVAL); /* window gone */
	device_put(nic);
	host_free(heap, 4 * PAGE_SIZE);
}

Test(device, iova_exhaustion_is_enospc_and_maps_nothing)
{
	struct device *dev = dev_new("small", false, 24); /* 16 MiB of IOVA */
	size_t size = 16UL << 20;
	char *host = host_alloc(size);
	dma_addr_t iova, big;
	size_t mapped;

	/* 16 MiB cannot fit: IOVA 0 is never handed out */
	cr_assert_eq(dma_map_range(dev, host, size, DMA_BIDIRECTIONAL, &iova), -ENOSPC);
	cr_assert_eq(device_mapped_bytes(dev), 0);
	cr_assert_eq(dma_map_range(dev, host, size - PAGE_SIZE, DMA_BIDIRECTIONAL, &big), 0);
	cr_assert_leq(big + size - PAGE_SIZE, 1ULL << 24);
	mapped = device_mapped_bytes(dev);
	cr_assert_eq(mapped, size - PAGE_SIZE);
	iova = 0;
	cr_assert_eq(dma_map_range(dev, host, 1, DMA_TO_DEVICE, &iova), -ENOSPC);
	cr_assert_eq(iova, 0);
	cr_assert_eq(device_mapped_bytes(dev), mapped);
	dma_unmap_range(dev, big, size - PAGE_SIZE);
	cr_assert_eq(device_mapped_bytes(dev), 0);
	device_put(dev);
	host_free(host, size);
}

Test(device, freed_iova_space_is_reused)
{
	struct device *dev = dev_new("small", false, 20); /* 1 MiB: 255 usable pages */
	char *host = host_alloc(PAGE_SIZE);
	dma_addr_t iova[255], all;
	int i, n;

	for (n = 0; n < 255; n++)
		cr_assert_eq(dma_map_range(dev, host, PAGE_SIZE, DMA_TO_DEVICE, &iova[n]), 0);
	cr_assert_eq(dma_map_range(dev, host, PAGE_SIZE, DMA_TO_DEVICE, &all), -ENOSPC);
	/* free in a scattered order; the holes must coalesce into one range */
	for (i = 0; i < 255; i += 2)
		dma_unmap_range(dev, iova[i], PAGE_SIZE);
	cr_assert_eq(device_mapped_bytes(dev), 127 * PAGE_SIZE);
	for (i = 1; i < 255; i += 2)
		dma_unmap_range(dev, iova[i], PAGE_SIZE);
	cr_assert_eq(device_mapped_bytes(dev), 0);
	host_free(host, PAGE_SIZE);

	host = host_alloc(255 * PAGE_SIZE);
	cr_assert_eq(dma_map_range(dev, host, 255 * PAGE_SIZE, DMA_TO_DEVICE, &all), 0);
	dma_unmap_range(dev, all, 255 * PAGE_SIZE);
	device_put(dev);
	host_free(host, 255 * PAGE_SIZE);
}

Test(device, devices_have_independent_domains)
{
	struct device *a = dev_new("a", false, 0);
	struct device *b = dev_new("b", false, 0);
	char *host = host_alloc(PAGE_SIZE);
	dma_addr_t ia, ib;
	struct device_fault f;
	char c;

	host[0] = 'h';
	cr_assert_eq(dma_map_range(a, host, PAGE_SIZE, DMA_BIDIRECTIONAL, &ia), 0);
	cr_assert_eq(device_access(b, ia, &c, 1, DMA_TO_DEVICE), -EFAULT);
	cr_assert_eq(device_fault_count(b), 1);
	cr_assert_eq(device_fault_count(a), 0);
	cr_assert_eq(device_last_fault(a, &f), -ENOENT);
	cr_assert_eq(device_mapped_bytes(b), 0);
	cr_assert_eq(dma_map_range(b, host, PAGE_SIZE, DMA_TO_DEVICE, &ib), 0);
	cr_assert_eq(device_access(b, ib, &c, 1, DMA_TO_DEVICE), 0);
	cr_assert_eq(c, 'h');
	/* unmapping in one domain leaves the other's mapping alone */
	dma_unmap_range(a, ia, PAGE_SIZE);
	cr_assert_eq(device_access(b, ib, &c, 1, DMA_TO_DEVICE), 0);
	dma_unmap_range(b, ib, PAGE_SIZE);
	device_put(a);
	device_put(b);
	host_free(host, PAGE_SIZE);
}

Test(device, bad_arguments_are_einval)
{
	struct device *dev = dev_new("d", false, 0);
	char *host = host_alloc(PAGE_SIZE);
	dma_addr_t iova = 0;
	char c;
	void *p;

	cr_assert_eq(dma_map_range(dev, host, 0, DMA_TO_DEVICE, &iova), -EINVAL);
	cr_assert_eq(dma_map_range(dev, host, 1, DMA_NONE, &iova), -EINVAL);
	cr_assert_eq(dma_map_range(dev, host, 1, (enum dma_data_direction)7, &iova), -EINVAL);
	cr_assert_eq(dma_map_range(dev, NULL, 1, DMA_TO_DEVICE, &iova), -EINVAL);
	cr_assert_eq(dma_map_range(NULL, host, 1, DMA_TO_DEVICE, &iova), -EINVAL);
	cr_assert_eq(dma_map_range(dev, host, 1, DMA_TO_DEVICE, NULL), -EINVAL);
	cr_assert_eq(dma_map_range(dev, host, SIZE_MAX, DMA_TO_DEVICE, &iova), -EINVAL);
	cr_assert_eq(iova, 0);
	cr_assert_eq(device_mapped_bytes(dev), 0);

	cr_assert_eq(dma_map_range(dev, host, PAGE_SIZE, DMA_BIDIRECTIONAL, &iova), 0);
	cr_assert_eq(device_access(dev, iova, NULL, 1, DMA_TO_DEVICE), -EINVAL);
	cr_assert_eq(device_access(dev, iova, &c, 0, DMA_TO_DEVICE), -EINVAL);
	cr_assert_eq(device_access(dev, iova, &c, 1, DMA_NONE), -EINVAL);
	/* a copy has one direction */
	cr_assert_eq(device_access(dev, iova, &c, 1, DMA_BIDIRECTIONAL), -EINVAL);
	cr_assert_eq(device_access(NULL, iova, &c, 1, DMA_TO_DEVICE), -EINVAL);
	cr_assert_eq(device_translate(dev, iova, 1, DMA_TO_DEVICE, NULL), -EINVAL);
	cr_assert_eq(device_translate(dev, iova, 0, DMA_TO_DEVICE, &p), -EINVAL);
	cr_assert_eq(device_translate(dev, iova, 1, DMA_NONE, &p), -EINVAL);
	cr_assert_eq(device_last_fault(dev, NULL), -EINVAL);
	cr_assert_eq(device_fault_count(dev), 0); /* bad arguments are not faults */
	cr_assert_eq(dma_map_p2p(NULL, 1ULL << 48, 1, DMA_TO_DEVICE), -EINVAL);
	cr_assert_eq(device_add_p2p_window(NULL, host, PAGE_SIZE, &iova), -EINVAL);
	dma_unmap_range(dev, iova, PAGE_SIZE);
	device_put(dev);
	host_free(host, PAGE_SIZE);
}

Test(device, unmap_of_unknown_range_changes_nothing)
{
	struct device *dev = dev_new("d", false, 0);
	char *host = host_alloc(2 * PAGE_SIZE);
	dma_addr_t iova;
	char c;

	cr_assert_eq(dma_map_range(dev, host, 2 * PAGE_SIZE, DMA_TO_DEVICE, &iova), 0);
	dma_unmap_range(dev, iova, PAGE_SIZE); /* wrong length */
	dma_unmap_range(dev, iova + PAGE_SIZE, PAGE_SIZE); /* not its start */
	dma_unmap_range(dev, iova + 16 * PAGE_SIZE, PAGE_SIZE); /* nothing there */
	dma_unmap_p2p(dev, iova, 2 * PAGE_SIZE); /* not a p2p mapping */
	dma_unmap_range(dev, iova, 0);
	dma_unmap_range(NULL, iova, 2 * PAGE_SIZE);
	cr_assert_eq(device_mapped_bytes(dev), 2 * PAGE_SIZE);
	cr_assert_eq(device_access(dev, iova + PAGE_SIZE, &c, 1, DMA_TO_DEVICE), 0);
	cr_assert_str_neq(devmem_last_error(), "");
	dma_unmap_range(dev, iova, 2 * PAGE_SIZE);
	cr_assert_eq(device_mapped_bytes(dev), 0);
	device_put(dev);
	host_free(host, 2 * PAGE_SIZE);
}

Test(device, large_mapping_uses_blocks_and_unmap_clears_them)
{
	struct device *dev = dev_new("d", false, 0);
	size_t size = 64UL << 20;
	char *host = host_alloc(size + SZ_2M);
	char *buf = malloc(2 * PAGE_SIZE);
	/* not 2 MiB aligned on purpose: the IOVA must follow the CPU address's phase */
	char *start = (char *)ALIGN((uintptr_t)host, SZ_2M) + 3 * PAGE_SIZE;
	dma_addr_t iova, block, small;
	unsigned int blocks = 0;

	cr_assert_eq(dma_map_range(dev, start, size - 3 * PAGE_SIZE, DMA_BIDIRECTIONAL, &iova), 0);
	cr_assert_eq(iova % SZ_2M, 3 * PAGE_SIZE);
	cr_assert_eq(device_iommu_leaf_shift(dev, iova), 12); /* the partial head: pages */
	for (block = ALIGN(iova, SZ_2M); block + SZ_2M <= iova + size - 3 * PAGE_SIZE;
	     block += SZ_2M) {
		cr_assert_eq(device_iommu_leaf_shift(dev, block), 21);
		blocks++;
	}
	cr_assert_eq(blocks, 31);
	cr_assert_eq(device_mapped_bytes(dev), size - 3 * PAGE_SIZE);

	/* an access across a page/block boundary and a block/block boundary */
	block = ALIGN(iova, SZ_2M);
	memset(start + (block - iova) - PAGE_SIZE, 'p', 2 * PAGE_SIZE);
	cr_assert_eq(device_access(dev, block - PAGE_SIZE, buf, 2 * PAGE_SIZE, DMA_TO_DEVICE), 0);
	for (size_t i = 0; i < 2 * PAGE_SIZE; i++)
		cr_assert_eq(buf[i], 'p');
	cr_assert_eq(
		device_access(dev, block + SZ_2M - PAGE_SIZE, buf, 2 * PAGE_SIZE, DMA_FROM_DEVICE),
		0);
	cr_assert_eq(start[block + SZ_2M - iova], 'p');

	dma_unmap_range(dev, iova, size - 3 * PAGE_SIZE);
	cr_assert_eq(device_mapped_bytes(dev), 0);
	cr_assert_eq(device_iommu_leaf_shift(dev, iova), 0);
	cr_assert_eq(device_iommu_leaf_shift(dev, block), 0);
	cr_assert_eq(device_access(dev, block, buf, 1, DMA_TO_DEVICE), -EFAULT);

	/* the same IOVAs at page granularity afterwards (a block slot back to a table) */
	cr_assert_eq(dma_map_range(dev, host + PAGE_SIZE, 8 * PAGE_SIZE, DMA_TO_DEVICE, &small), 0);
	cr_assert_eq(device_iommu_leaf_shift(dev, small + 7 * PAGE_SIZE), 12);
	cr_assert_eq(device_access(dev, small, buf, 8, DMA_TO_DEVICE), 0);
	dma_unmap_range(dev, small, 8 * PAGE_SIZE);

	free(buf);
	device_put(dev);
	host_free(host, size + SZ_2M);
}

Test(device, gigabyte_aligned_mapping_uses_gigabyte_blocks)
{
	struct device *dev = dev_new("d", false, 0);
	size_t gb = 1UL << 30;
	/* reserve address space only: nothing is touched, so nothing is committed */
	char *host = mmap(NULL, 2 * gb, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	char *start;
	dma_addr_t iova;

	if (host == MAP_FAILED)
		cr_skip_test("cannot reserve 2 GiB of address space");
	start = (char *)ALIGN((uintptr_t)host, gb);
	cr_assert_eq(dma_map_range(dev, start, gb, DMA_TO_DEVICE, &iova), 0);
	cr_assert_eq(iova % gb, 0);
	cr_assert_eq(device_iommu_leaf_shift(dev, iova + gb - 1), 30);
	dma_unmap_range(dev, iova, gb);
	cr_assert_eq(device_iommu_leaf_shift(dev, iova), 0);
	cr_assert_eq(device_mapped_bytes(dev), 0);
	device_put(dev);
	munmap(host, 2 * gb);
}

Test(device, p2p_large_window_uses_blocks)
{
	struct device *vram = dev_new("vram", false, 0);
	struct device *nic = dev_new("nic", true, 0);
	size_t size = 8UL << 20;
	char *raw = host_alloc(size + SZ_2M);
	char *heap = (char *)ALIGN((uintptr_t)raw, SZ_2M) + PAGE_SIZE;
	dma_addr_t bus, block;
	char c;

	cr_assert_eq(device_add_p2p_window(vram, heap, size, &bus), 0);
	cr_assert_eq(bus % SZ_2M, PAGE_SIZE); /* same phase as the CPU address */
	cr_assert_eq(dma_map_p2p(nic, bus, size, DMA_BIDIRECTIONAL), 0);
	block = ALIGN(bus, SZ_2M);
	cr_assert_eq(device_iommu_leaf_shift(nic, block), 21);
	cr_assert_eq(device_iommu_leaf_shift(nic, bus), 12);
	heap[block - bus + 5] = 'b';
	cr_assert_eq(device_access(nic, block + 5, &c, 1, DMA_TO_DEVICE), 0);
	cr_assert_eq(c, 'b');
	dma_unmap_p2p(nic, bus, size);
	cr_assert_eq(device_iommu_leaf_shift(nic, block), 0);
	cr_assert_eq(device_mapped_bytes(nic), 0);
	device_put(nic);
	device_put(vram);
	host_free(raw, size + SZ_2M);
}

Test(device, mapped_bytes_counts_pages_of_every_mapping)
{
	struct device *vram = dev_new("vram", false, 0);
	struct device *nic = dev_new("nic", true, 0);
	char *host = host_alloc(8 * PAGE_SIZE);
	dma_addr_t a, b, bus;

	cr_assert_eq(device_add_p2p_window(vram, host + 4 * PAGE_SIZE, 4 * PAGE_SIZE, &bus), 0);
	cr_assert_eq(device_mapped_bytes(vram), 0); /* a window is not a mapping */
	cr_assert_eq(dma_map_range(nic, host + 1, 1, DMA_TO_DEVICE, &a), 0);
	cr_assert_eq(device_mapped_bytes(nic), PAGE_SIZE);
	cr_assert_eq(dma_map_range(nic, host + PAGE_SIZE, 2 * PAGE_SIZE, DMA_TO_DEVICE, &b), 0);
	cr_assert_eq(device_mapped_bytes(nic), 3 * PAGE_SIZE);
	cr_assert_eq(dma_map_p2p(nic, bus + 10, 2 * PAGE_SIZE, DMA_TO_DEVICE), 0);
	cr_assert_eq(device_mapped_bytes(nic), 6 * PAGE_SIZE); /* 3 pages touched */
	dma_unmap_range(nic, a, 1);
	cr_assert_eq(device_mapped_bytes(nic), 5 * PAGE_SIZE);
	dma_unmap_p2p(nic, bus + 10, 2 * PAGE_SIZE);
	dma_unmap_range(nic, b, 2 * PAGE_SIZE);
	cr_assert_eq(device_mapped_bytes(nic), 0);
	device_put(nic);
	device_put(vram);
	host_free(host, 8 * PAGE_SIZE);
}

#ifndef NDEBUG
Test(device, last_put_with_mappings_is_a_bug, .signal = SIGABRT)
{
	struct device *dev = dev_new("d", false, 0);
	static char page[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
	dma_addr_t iova;

	cr_assert_eq(dma_map_range(dev, page, PAGE_SIZE, DMA_TO_DEVICE, &iova), 0);
	device_put(dev);
}
#endif
