// SPDX-License-Identifier: MIT
/*
 * Software udmabufs (exporters/swudmabuf.c), as the library sees them: the
 * program's fd is a dma-buf that dma_buf_get() finds, the memfd behind it is
 * not one, and an importer's device reaches the memfd's own pages.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devmem/device.h"
#include "devmem/dma-buf.h"
#include "devmem/error.h"
#include "devmem/netdev.h"
#include "exporters/kdmabuf-internal.h"
#include "net/devmem.h"
#include "support/test-nic.h"

#include "harness.h"

#define PAGE 4096UL

static int make_memfd(size_t size)
{
	int fd = memfd_create("swudmabuf-test", MFD_ALLOW_SEALING);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	cr_assert_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
	return fd;
}

static struct dma_buf *make_buffer(int memfd, uint64_t offset, uint64_t size)
{
	struct udmabuf_create_item item = { .memfd = (__u32)memfd, .offset = offset, .size = size };
	struct dma_buf *dmabuf;

	cr_assert_eq(swudmabuf_create(&item, 1, "udmabuf", &dmabuf), 0, "%s", devmem_last_error());
	return dmabuf;
}

Test(swudmabuf, get_finds_the_programs_fd_and_refuses_the_memfd_behind_it_with_einval)
{
	int memfd = make_memfd(8 * PAGE), fd, dup_fd;
	struct dma_buf *dmabuf = make_buffer(memfd, 0, 8 * PAGE), *got;

	fd = swudmabuf_fd(dmabuf, O_CLOEXEC);
	cr_assert_geq(fd, 0);
	dup_fd = dup(fd);
	cr_assert_eq(dma_buf_get(fd, &got), 0, "%s", devmem_last_error());
	cr_assert_eq(got, dmabuf);
	dma_buf_put(got);
	cr_assert_eq(dma_buf_get(dup_fd, &got), 0);
	cr_assert_eq(got, dmabuf);
	dma_buf_put(got);
	/* sealed against shrinking and growing, the host importer would take it: not this one */
	cr_assert_eq(dma_buf_get(memfd, &got), -EINVAL);
	close(dup_fd);
	close(fd);
	dma_buf_put(dmabuf);
	/* the buffer is gone: the memfd is an ordinary memfd again */
	cr_assert_eq(dma_buf_get(memfd, &got), 0, "%s", devmem_last_error());
	cr_assert(!swudmabuf_is(got));
	dma_buf_put(got);
	close(memfd);
}

Test(swudmabuf, a_device_writes_into_the_memfds_pages_and_reads_what_the_memfd_holds)
{
	int memfd = make_memfd(8 * PAGE);
	struct dma_buf *dmabuf = make_buffer(memfd, 2 * PAGE, 4 * PAGE);
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;
	struct device *dev;
	char out[16], *m;

	m = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	cr_assert_neq(m, MAP_FAILED);
	strcpy(m + 3 * PAGE, "from the cpu");
	cr_assert_eq(device_create("swudmabuf-nic", NULL, &dev), 0);
	cr_assert_eq(dma_buf_attach(dmabuf, dev, &attach), 0);
	cr_assert_eq(dma_buf_map_attachment_unlocked(attach, DMA_BIDIRECTIONAL, &sgt), 0, "%s",
		     devmem_last_error());
	cr_assert_eq(sg_table_size(sgt), 4 * PAGE);
	/* buffer offset PAGE is memfd offset 3 * PAGE */
	cr_assert_eq(device_access(dev, sg_dma_address(sgt->sgl) + PAGE, out, 13, DMA_TO_DEVICE),
		     0);
	cr_assert_str_eq(out, "from the cpu");
	cr_assert_eq(device_access(dev, sg_dma_address(sgt->sgl) + 3 * PAGE, "from the nic", 13,
				   DMA_FROM_DEVICE),
		     0);
	cr_assert_str_eq(m + 5 * PAGE, "from the nic");
	dma_buf_unmap_attachment_unlocked(attach, sgt, DMA_BIDIRECTIONAL);
	dma_buf_detach(dmabuf, attach);
	device_put(dev);
	dma_buf_put(dmabuf);
	munmap(m, 8 * PAGE);
	close(memfd);
}

Test(swudmabuf, a_range_past_the_end_of_the_memfd_is_einval_and_leaves_nothing)
{
	struct udmabuf_create_item item = { .offset = 4 * PAGE, .size = 2 * PAGE };
	int memfd = make_memfd(4 * PAGE);
	struct dma_buf *dmabuf;

	item.memfd = (__u32)memfd;
	cr_assert_eq(swudmabuf_create(&item, 1, "udmabuf", &dmabuf), -EINVAL);
	cr_assert_eq(devmem_test_live_dma_bufs(), 0);
	close(memfd);
}

Test(swudmabuf, a_heap_buffer_beyond_the_memory_available_is_enomem)
{
	struct dma_buf *dmabuf;

	cr_assert_eq(swudmabuf_heap_alloc("system", (size_t)1 << 50, O_RDWR, &dmabuf), -ENOMEM);
	cr_assert_eq(swudmabuf_heap_alloc("system", PAGE, O_RDWR | O_NONBLOCK, &dmabuf), -EINVAL);
}

/* What bind-rx of a program under the shim reaches: the fd number of its dma-buf. */
Test(swudmabuf, bind_rx_takes_the_programs_fd_and_refuses_the_memfd)
{
	static const struct devmem_queue_id q[] = { { 1, NETDEV_QUEUE_TYPE_RX } };
	struct test_nic_opts opts = { 0 };
	int memfd = make_memfd(64 * PAGE), fd, ifindex;
	struct dma_buf *dmabuf = make_buffer(memfd, 0, 64 * PAGE);
	struct devmem_ctl *ctl;
	struct test_nic *nic;
	uint32_t id;

	fd = swudmabuf_fd(dmabuf, O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(test_nic_create(&opts, &nic), 0, "%s", devmem_last_error());
	ifindex = test_nic_ifindex(nic);
	cr_assert_eq(devmem_ctl_open(&ctl), 0);
	cr_assert_eq(devmem_set_header_split(ctl, ifindex, ETHTOOL_TCP_DATA_SPLIT_ENABLED, 0), 0);
	cr_assert_eq(devmem_bind_rx(ctl, ifindex, memfd, q, 1, NULL, &id), -EINVAL);
	cr_assert_eq(devmem_bind_rx(ctl, ifindex, fd, q, 1, NULL, &id), 0, "%s",
		     devmem_last_error());
	devmem_ctl_close(ctl);
	test_nic_destroy(nic);
	cr_assert_eq(net_devmem_nr_bindings(), 0);
	/* the reference the shim's file holds for the program's fds */
	dma_buf_put(dmabuf);
	close(fd);
	close(memfd);
}
