// SPDX-License-Identifier: MIT
/*
 * The host exporter: sealed memfds, sg layouts, IOMMU mapping and its
 * failure, and buffers crossing a process boundary.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/dma-buf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devmem/dma-buf.h"
#include "devmem/error.h"
#include "devmem/host.h"
#include "harness.h"
#include "lib/refcount.h"

static struct device *test_device(const char *name, unsigned int iova_bits)
{
	struct device_opts opts = { .sz = sizeof(opts), .iova_bits = iova_bits };
	struct device *dev = NULL;

	cr_assert_eq(device_create(name, &opts, &dev), 0, "device_create: %s", devmem_last_error());
	return dev;
}

static unsigned char pattern(size_t i, unsigned int seed)
{
	return (unsigned char)((i * 131 + seed) ^ (i >> 9));
}

static void fill(struct dma_buf *dmabuf, unsigned int seed)
{
	unsigned char *cpu;
	size_t i;

	cr_assert_eq(dma_buf_vmap_unlocked(dmabuf, (void **)&cpu), 0);
	for (i = 0; i < dmabuf->size; i++)
		cpu[i] = pattern(i, seed);
	dma_buf_vunmap_unlocked(dmabuf, cpu);
}

static bool holds(struct dma_buf *dmabuf, unsigned int seed)
{
	unsigned char *cpu;
	bool ok = true;
	size_t i;

	cr_assert_eq(dma_buf_vmap_unlocked(dmabuf, (void **)&cpu), 0);
	for (i = 0; i < dmabuf->size && ok; i++)
		ok = cpu[i] == pattern(i, seed);
	dma_buf_vunmap_unlocked(dmabuf, cpu);
	return ok;
}

/* A memfd of @size bytes with @seals added, filled with pattern(seed). */
static int make_memfd(size_t size, int seals, unsigned int seed)
{
	unsigned char *buf = malloc(size ? size : 1);
	int fd = memfd_create("foreign", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	size_t i;

	cr_assert_geq(fd, 0);
	cr_assert_not_null(buf);
	for (i = 0; i < size; i++)
		buf[i] = pattern(i, seed);
	cr_assert_eq(write(fd, buf, size), (ssize_t)size);
	if (seals)
		cr_assert_eq(fcntl(fd, F_ADD_SEALS, seals), 0);
	free(buf);
	return fd;
}

Test(host, size_must_be_page_multiple)
{
	static const size_t bad[] = { 0, 100, 4097, 4096 * 3 + 1 };
	struct dma_buf *sentinel = (struct dma_buf *)&sentinel, *out = sentinel;
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(devmem_host_buffer_create(bad[i], NULL, &out), -EINVAL, "size %zu",
			     bad[i]);
		cr_assert_eq(out, sentinel);
	}
	cr_assert_eq(devmem_test_live_dma_bufs(), 0);
	cr_assert_eq(devmem_host_buffer_create(4096, NULL, &out), 0);
	cr_assert_eq(out->size, 4096);
	cr_assert(devmem_is_host_buffer(out));
	cr_assert_not(dma_buf_is_dynamic(out), "host buffers never move");
	cr_assert_str_eq(out->exp_name, HOST_EXP_NAME);
	dma_buf_put(out);
}

Test(host, bad_options_refused)
{
	static const size_t zero_entry[] = { 4096, 0 };
	static const size_t huge_entry[] = { (size_t)UINT_MAX + 1 };
	struct host_buffer_opts opts[] = {
		{ .sz = 0 },
		{ .sz = sizeof(opts[0]), .sg_lengths = zero_entry, .num_sg_lengths = 2 },
		{ .sz = sizeof(opts[0]), .sg_lengths = huge_entry, .num_sg_lengths = 1 },
		{ .sz = sizeof(opts[0]), .sg_lengths = zero_entry },
		{ .sz = sizeof(opts[0]), .num_sg_lengths = 1 },
		{ .sz = sizeof(opts[0]), .max_segment = (size_t)UINT_MAX + 1 },
		{ .sz = sizeof(opts[0]), .name = "a name far longer than thirty-one characters" },
	};
	struct dma_buf *out = NULL;
	unsigned int i;

	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		cr_assert_eq(devmem_host_buffer_create(8192, &opts[i], &out), -EINVAL, "opts %u",
			     i);
	cr_assert_null(out);
	cr_assert_eq(devmem_test_live_dma_bufs(), 0);
}

Test(host, name_comes_from_options)
{
	struct host_buffer_opts opts = { .sz = sizeof(opts), .name = "rx-ring" };
	char name[DMA_BUF_NAME_LEN];
	struct dma_buf *dmabuf;

	cr_assert_eq(devmem_host_buffer_create(8192, &opts, &dmabuf), 0);
	dma_buf_get_name(dmabuf, name, sizeof(name));
	cr_assert_str_eq(name, "rx-ring");
	dma_buf_put(dmabuf);
}

Test(host, memfd_is_sealed)
{
	struct dma_buf *dmabuf;
	int fd, seals;

	cr_assert_eq(devmem_host_buffer_create(8192, NULL, &dmabuf), 0);
	fd = dma_buf_fd(dmabuf, O_CLOEXEC);
	cr_assert_geq(fd, 0);
	seals = fcntl(fd, F_GET_SEALS);
	cr_assert_eq(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
		     F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	cr_assert_eq(ftruncate(fd, 4096), -1);
	cr_assert_eq(errno, EPERM);
	cr_assert_eq(ftruncate(fd, 16384), -1);
	cr_assert_eq(errno, EPERM);
	cr_assert_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1, "the seals could be changed");
	cr_assert_eq(errno, EPERM);
	close(fd);
	dma_buf_put(dmabuf);
}

Test(host, cpu_access_is_coherent)
{
	struct dma_buf *dmabuf;
	int fd;
	struct dma_buf_sync sync = { .flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW };

	cr_assert_eq(devmem_host_buffer_create(8192, NULL, &dmabuf), 0);
	cr_assert_not_null(dmabuf->ops->begin_cpu_access);
	cr_assert_not_null(dmabuf->ops->end_cpu_access);
	cr_assert_eq(dma_buf_begin_cpu_access(dmabuf, DMA_BIDIRECTIONAL), 0);
	fill(dmabuf, 5);
	cr_assert_eq(dma_buf_end_cpu_access(dmabuf, DMA_BIDIRECTIONAL), 0);
	fd = dma_buf_fd(dmabuf, O_CLOEXEC);
	cr_assert_eq(dma_buf_ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync), 0);
	sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
	cr_assert_eq(dma_buf_ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync), 0);
	cr_assert(holds(dmabuf, 5));
	close(fd);
	dma_buf_put(dmabuf);
}

Test(host, large_buffers_are_2mib_aligned)
{
	struct dma_buf *dmabuf;
	void *cpu;

	cr_assert_eq(devmem_host_buffer_create(4UL << 20, NULL, &dmabuf), 0);
	cr_assert_eq(dma_buf_vmap_unlocked(dmabuf, &cpu), 0);
	cr_assert_eq((uintptr_t)cpu % (2UL << 20), 0, "mapping at %p", cpu);
	dma_buf_vunmap_unlocked(dmabuf, cpu);
	dma_buf_put(dmabuf);
}

Test(host, foreign_unsealed_memfd_refused)
{
	struct dma_buf *out = NULL;
	int unsealed = make_memfd(8192, 0, 1);
	int half = make_memfd(8192, F_SEAL_SHRINK, 1);
	int empty = make_memfd(0, F_SEAL_SHRINK | F_SEAL_GROW, 1);
	int odd = make_memfd(5000, F_SEAL_SHRINK | F_SEAL_GROW, 1);

	cr_assert_eq(dma_buf_get(unsealed, &out), -EINVAL);
	cr_assert_str_eq(devmem_last_error(), "memfd is not sealed against shrinking and growing");
	cr_assert_eq(dma_buf_get(half, &out), -EINVAL);
	cr_assert_str_eq(devmem_last_error(), "memfd is not sealed against shrinking and growing");
	cr_assert_eq(dma_buf_get(empty, &out), -EINVAL);
	cr_assert_eq(dma_buf_get(odd, &out), -EINVAL);
	cr_assert_null(out);
	cr_assert_eq(devmem_test_live_dma_bufs(), 0);
	/* the caller's fds are untouched */
	cr_assert_eq(ftruncate(unsealed, 4096), 0);
	close(odd);
	close(empty);
	close(half);
	close(unsealed);
}

Test(host, foreign_sealed_memfd_wrapped)
{
	int fd = make_memfd(3 * 4096, F_SEAL_SHRINK | F_SEAL_GROW, 9);
	struct dma_buf *a, *b;

	cr_assert_eq(dma_buf_get(fd, &a), 0, "%s", devmem_last_error());
	cr_assert(devmem_is_host_buffer(a));
	cr_assert_eq(a->size, 3 * 4096);
	cr_assert_neq(a->fd, fd, "the buffer must keep its own fd");
	cr_assert(holds(a, 9), "the wrap does not show the memfd's bytes");
	cr_assert_eq(dma_buf_get(fd, &b), 0);
	cr_assert_eq(a, b, "a second get wrapped the memfd again");
	cr_assert_eq(kref_read(&a->refcount), 2);
	cr_assert_eq(devmem_test_live_dma_bufs(), 1);
	dma_buf_put(b);
	dma_buf_put(a);
	cr_assert_eq(devmem_test_live_dma_bufs(), 0);
	/* the caller's fd still works */
	cr_assert_eq(fcntl(fd, F_GET_SEALS) & F_SEAL_GROW, F_SEAL_GROW);
	close(fd);
}

static int send_fd(int sock, int fd)
{
	char byte = 'F', control[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = control,
			      .msg_controllen = sizeof(control) };
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char byte, control[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = control,
			      .msg_controllen = sizeof(control) };
	struct cmsghdr *cmsg;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	cmsg = CMSG_FIRSTHDR(&msg);
	if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	return fd;
}

#define CHILD_SIZE (64 * 4096UL)

/*
 * The importing process: get the buffer behind the received fd, check the
 * parent's bytes through a device, write the reply through it. Returns the
 * exit status: 0, or the step that failed.
 */
static int child_import(int sock)
{
	struct dma_buf_attachment *attach;
	struct device *dev = NULL;
	struct dma_buf *dmabuf;
	struct sg_table *sgt;
	unsigned char *bytes = malloc(CHILD_SIZE);
	size_t off = 0, i;
	unsigned int n;
	int fd, status = 0;

	fd = recv_fd(sock);
	if (fd < 0 || !bytes)
		return 1;
	if (dma_buf_get(fd, &dmabuf))
		return 2;
	if (!devmem_is_host_buffer(dmabuf) || dmabuf->size != CHILD_SIZE)
		return 3;
	if (device_create("child-nic", NULL, &dev) || dma_buf_attach(dmabuf, dev, &attach))
		return 4;
	if (dma_buf_map_attachment_unlocked(attach, DMA_BIDIRECTIONAL, &sgt))
		return 5;
	for (n = 0; n < sgt->nents && !status; off += sgt->sgl[n].dma_length, n++)
		if (device_access(dev, sgt->sgl[n].dma_address, bytes + off, sgt->sgl[n].dma_length,
				  DMA_TO_DEVICE))
			status = 6;
	for (i = 0; i < CHILD_SIZE && !status; i++)
		if (bytes[i] != pattern(i, 1))
			status = 7;
	for (i = 0; i < CHILD_SIZE; i++)
		bytes[i] = pattern(i, 2);
	for (n = 0, off = 0; n < sgt->nents && !status; off += sgt->sgl[n].dma_length, n++)
		if (device_access(dev, sgt->sgl[n].dma_address, bytes + off, sgt->sgl[n].dma_length,
				  DMA_FROM_DEVICE))
			status = 8;
	dma_buf_unmap_attachment_unlocked(attach, sgt, DMA_BIDIRECTIONAL);
	dma_buf_detach(dmabuf, attach);
	device_put(dev);
	dma_buf_put(dmabuf);
	close(fd);
	free(bytes);
	if (!status && write(sock, "R", 1) != 1)
		status = 9;
	return status;
}

Test(host, fd_passes_to_child_process)
{
	struct dma_buf *dmabuf;
	int sv[2], fd, status;
	char reply = 0;
	pid_t pid;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	/* fork first: the child inherits no buffer and must import the fd */
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(sv[0]);
		_exit(child_import(sv[1]));
	}
	close(sv[1]);
	cr_assert_eq(devmem_host_buffer_create(CHILD_SIZE, NULL, &dmabuf), 0);
	fill(dmabuf, 1);
	fd = dma_buf_fd(dmabuf, O_CLOEXEC);
	cr_assert_eq(send_fd(sv[0], fd), 0);
	close(fd);
	(void)!read(sv[0], &reply, 1);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "child died");
	cr_assert_eq(WEXITSTATUS(status), 0, "child failed at step %d", WEXITSTATUS(status));
	cr_assert_eq(reply, 'R');
	cr_assert(holds(dmabuf, 2), "the child's writes are not in the parent's buffer");
	close(sv[0]);
	dma_buf_put(dmabuf);
}

Test(host, fragmented_sg_layouts)
{
	static const size_t lengths[] = { 4096, 100, 8192 + 7, 1 };
	struct host_buffer_opts opts = { .sz = sizeof(opts),
					 .sg_lengths = lengths,
					 .num_sg_lengths = 4 };
	struct device *dev = test_device("nic", 0);
	size_t size = 16 * 4096, before = device_mapped_bytes(dev), off = 0, want;
	unsigned char *bytes = malloc(size);
	struct dma_buf_attachment *attach;
	struct dma_buf *dmabuf;
	struct scatterlist *sg;
	struct sg_table *sgt;
	unsigned int i;

	cr_assert_eq(devmem_host_buffer_create(size, &opts, &dmabuf), 0);
	fill(dmabuf, 3);
	cr_assert_eq(dma_buf_attach(dmabuf, dev, &attach), 0);
	cr_assert_eq(dma_buf_map_attachment_unlocked(attach, DMA_TO_DEVICE, &sgt), 0);
	for_each_sgtable_dma_sg(sgt, sg, i)
	{
		want = lengths[i % 4] < size - off ? lengths[i % 4] : size - off;
		cr_assert_eq(sg_dma_len(sg), want, "entry %u: %u bytes, want %zu", i,
			     sg_dma_len(sg), want);
		cr_assert_eq(device_access(dev, sg_dma_address(sg), bytes + off, sg_dma_len(sg),
					   DMA_TO_DEVICE),
			     0, "entry %u unreachable", i);
		off += sg_dma_len(sg);
	}
	cr_assert_eq(off, size, "entries cover %zu of %zu bytes", off, size);
	cr_assert_eq(sg_table_size(sgt), size);
	for (off = 0; off < size; off++)
		cr_assert_eq(bytes[off], pattern(off, 3), "byte %zu", off);
	dma_buf_unmap_attachment_unlocked(attach, sgt, DMA_TO_DEVICE);
	cr_assert_eq(device_mapped_bytes(dev), before);
	dma_buf_detach(dmabuf, attach);
	dma_buf_put(dmabuf);
	device_put(dev);
	free(bytes);
}

Test(host, default_layout_uses_the_largest_segments)
{
	struct host_buffer_opts opts = { .sz = sizeof(opts), .max_segment = 3 * 4096 };
	struct device *dev = test_device("nic", 0);
	struct dma_buf_attachment *attach;
	struct dma_buf *big, *cut;
	struct sg_table *sgt;

	cr_assert_eq(devmem_host_buffer_create(8UL << 20, NULL, &big), 0);
	cr_assert_eq(dma_buf_attach(big, dev, &attach), 0);
	cr_assert_eq(dma_buf_map_attachment_unlocked(attach, DMA_FROM_DEVICE, &sgt), 0);
	cr_assert_eq(sgt->nents, 1);
	cr_assert_eq(sg_dma_len(sgt->sgl), 8UL << 20);
	dma_buf_unmap_attachment_unlocked(attach, sgt, DMA_FROM_DEVICE);
	dma_buf_detach(big, attach);

	cr_assert_eq(devmem_host_buffer_create(8 * 4096, &opts, &cut), 0);
	cr_assert_eq(dma_buf_attach(cut, dev, &attach), 0);
	cr_assert_eq(dma_buf_map_attachment_unlocked(attach, DMA_FROM_DEVICE, &sgt), 0);
	cr_assert_eq(sgt->nents, 3);
	cr_assert_eq(sg_dma_len(&sgt->sgl[0]), 3 * 4096);
	cr_assert_eq(sg_dma_len(&sgt->sgl[2]), 2 * 4096);
	dma_buf_unmap_attachment_unlocked(attach, sgt, DMA_FROM_DEVICE);
	dma_buf_detach(cut, attach);
	dma_buf_put(cut);
	dma_buf_put(big);
	device_put(dev);
}

Test(host, map_failure_leaves_no_mapping)
{
	static const size_t lengths[] = { 64 * 1024 };
	struct host_buffer_opts opts = { .sz = sizeof(opts),
					 .sg_lengths = lengths,
					 .num_sg_lengths = 1 };
	/* a 1 MiB IOVA space cannot hold 4 MiB: the map fails part-way */
	struct device *dev = test_device("tiny", 20);
	size_t before = device_mapped_bytes(dev);
	struct dma_buf_attachment *attach;
	struct sg_table *sgt = NULL;
	struct dma_buf *dmabuf;

	cr_assert_eq(devmem_host_buffer_create(4UL << 20, &opts, &dmabuf), 0);
	cr_assert_eq(dma_buf_attach(dmabuf, dev, &attach), 0);
	cr_assert_eq(dma_buf_map_attachment_unlocked(attach, DMA_TO_DEVICE, &sgt), -ENOSPC);
	cr_assert_null(sgt);
	cr_assert_eq(attach->map_count, 0);
	cr_assert_eq(device_mapped_bytes(dev), before, "a failed map left %zu bytes mapped",
		     device_mapped_bytes(dev) - before);
	dma_buf_detach(dmabuf, attach);
	dma_buf_put(dmabuf);
	device_put(dev);
}
