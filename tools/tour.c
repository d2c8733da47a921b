// SPDX-License-Identifier: MIT
/*
 * devmem tour: the dma-buf layer, step by step: export a host buffer, share
 * it with a child process, attach and map it from two devices there, and
 * move a vram buffer under a dynamic importer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devmem/device.h"
#include "devmem/dma-buf.h"
#include "devmem/error.h"
#include "devmem/host.h"
#include "devmem/vram.h"
#include "cmds.h"
#include "tool.h"

#define DEMO_SIZE (4UL << 20)
#define VRAM_SIZE (8UL << 20)

static int step_no;
static const char *step_prefix; /* set in the child: its lines are not numbered steps */

static void step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void step(const char *fmt, ...)
{
	va_list ap;

	if (step_prefix)
		printf("    %s ", step_prefix);
	else
		printf("%2d. ", ++step_no);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static int tour_fail(const char *what, int err)
{
	const char *why = devmem_last_error();

	fprintf(stderr, "devmem: %s: %s%s%s\n", what, strerror(-err), *why ? ": " : "", why);
	return 1;
}

static int send_fd(int sock, int fd)
{
	char data = 'F', ctl[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

static int recv_fd(int sock)
{
	char data, ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)
	};
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &msg, 0) != 1)
		return -errno;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -EPROTO;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/* Attach @dev, map, and read the first bytes through the device's addresses. */
static int read_through_device(struct dma_buf *buf, struct device *dev, char *out, size_t len)
{
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;
	int err;

	err = dma_buf_attach(buf, dev, &attach);
	if (err)
		return err;
	err = dma_buf_map_attachment_unlocked(attach, DMA_BIDIRECTIONAL, &sgt);
	if (err)
		goto out_detach;
	step("%s: mapped in %u sg entr%s, first at device address 0x%llx (%s)", device_name(dev),
	     sgt->nents, sgt->nents == 1 ? "y" : "ies", (unsigned long long)sgt->sgl[0].dma_address,
	     sgt->sgl[0].domain == DMA_DOMAIN_P2P ? "peer-to-peer" : "IOMMU");
	err = device_access(dev, sgt->sgl[0].dma_address, out, len, DMA_TO_DEVICE);
	dma_buf_unmap_attachment_unlocked(attach, sgt, DMA_BIDIRECTIONAL);
out_detach:
	dma_buf_detach(buf, attach);
	return err;
}

/* The child: import the fd it was sent and read the buffer from two devices. */
static int child_importer(int sock)
{
	struct device *gpu = NULL, *nic = NULL;
	char seen[2][32] = { { 0 } };
	struct dma_buf *buf;
	int fd, err;

	fd = recv_fd(sock);
	if (fd < 0)
		return tour_fail("receive fd", fd);
	err = dma_buf_get(fd, &buf);
	close(fd);
	if (err)
		return tour_fail("dma_buf_get", err);
	step("dma_buf_get(fd) found a %zu KiB buffer from exporter %s", buf->size >> 10,
	     buf->exp_name);
	err = device_create("gpu0", NULL, &gpu);
	if (!err)
		err = device_create("nic0", NULL, &nic);
	if (!err)
		err = read_through_device(buf, gpu, seen[0], sizeof(seen[0]) - 1);
	if (!err)
		err = read_through_device(buf, nic, seen[1], sizeof(seen[1]) - 1);
	if (!err) {
		step("gpu0 read \"%s\", nic0 read \"%s\"", seen[0], seen[1]);
		err = strcmp(seen[0], seen[1]) ? -EIO : 0;
	}
	if (nic)
		device_put(nic);
	if (gpu)
		device_put(gpu);
	dma_buf_put(buf);
	return err ? tour_fail("import", err) : 0;
}

static int tour_host_buffer(void)
{
	const char *msg = "hello from the exporter";
	struct host_buffer_opts opts = { .sz = sizeof(opts), .name = "demo-host" };
	struct dma_buf *buf;
	int sv[2], status, fd, err;
	void *cpu;
	pid_t pid;

	err = devmem_host_buffer_create(DEMO_SIZE, &opts, &buf);
	if (err)
		return tour_fail("create host buffer", err);
	step("exported a %lu MiB host buffer \"%s\" (ino %lu), sealed memfd", DEMO_SIZE >> 20,
	     opts.name, buf->ino);
	err = dma_buf_vmap_unlocked(buf, &cpu);
	if (err)
		goto out_put;
	dma_buf_begin_cpu_access(buf, DMA_TO_DEVICE);
	strcpy(cpu, msg);
	dma_buf_end_cpu_access(buf, DMA_TO_DEVICE);
	dma_buf_vunmap_unlocked(buf, cpu);
	step("wrote \"%s\" through the CPU mapping", msg);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
		err = -errno;
		goto out_put;
	}
	pid = fork();
	if (pid == 0) {
		static char prefix[32];

		snprintf(prefix, sizeof(prefix), "child %d:", getpid());
		step_prefix = prefix;
		close(sv[0]);
		_exit(child_importer(sv[1]));
	}
	close(sv[1]);
	fd = dma_buf_fd(buf, O_CLOEXEC);
	err = fd < 0 ? fd : send_fd(sv[0], fd);
	if (fd >= 0)
		close(fd);
	step("sending the dma-buf fd to child process %d over a UNIX socket", pid);
	waitpid(pid, &status, 0);
	close(sv[0]);
	if (!err && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		err = -EIO;
	if (!err)
		step("child imported, attached and mapped the buffer from two devices: same bytes");
out_put:
	dma_buf_put(buf);
	return err ? tour_fail("host buffer tour", err) : 0;
}

struct demo_importer {
	int moves;
};

static void demo_move_notify(struct dma_buf_attachment *attach)
{
	struct demo_importer *imp = attach->importer_priv;

	imp->moves++;
	step("move_notify (resv lock held): the buffer is moving; the importer's mapping is stale");
}

static const char *placement_name(int p)
{
	return p == VRAM_PLACEMENT_VRAM ? "vram" : "system memory";
}

static int tour_vram(void)
{
	static const struct dma_buf_attach_ops ops = { .allow_peer2peer = true,
						       .move_notify = demo_move_notify };
	struct device_opts dopts = { .sz = sizeof(dopts), .p2p = true };
	struct demo_importer imp = { 0 };
	struct dma_buf_attachment *attach;
	struct dma_buf *a, *b;
	struct sg_table *sgt;
	struct vram_stats st;
	struct device *nic;
	struct vram *vram;
	char probe[8];
	int err, stale;

	err = devmem_vram_create("vram0", VRAM_SIZE, NULL, &vram);
	if (err)
		return tour_fail("create vram", err);
	err = device_create("nic1", &dopts, &nic);
	if (err)
		goto out_vram;
	err = devmem_vram_buffer_create(vram, DEMO_SIZE, &a);
	if (err)
		goto out_nic;
	step("vram0 (%lu MiB): buffer A (%lu MiB) placed in %s", VRAM_SIZE >> 20, DEMO_SIZE >> 20,
	     placement_name(devmem_vram_buffer_placement(a)));
	err = dma_buf_dynamic_attach(a, nic, &ops, &imp, &attach);
	if (err)
		goto out_a;
	err = dma_buf_map_attachment_unlocked(attach, DMA_BIDIRECTIONAL, &sgt);
	if (err)
		goto out_detach;
	step("nic1 attached dynamically and mapped A at 0x%llx (%s)",
	     (unsigned long long)sgt->sgl[0].dma_address,
	     sgt->sgl[0].domain == DMA_DOMAIN_P2P ? "peer-to-peer" : "IOMMU");

	step("evicting vram0 to make room");
	devmem_vram_evict(vram, VRAM_SIZE);
	devmem_vram_flush(vram);
	step("A now lives in %s; importer saw %d move(s)",
	     placement_name(devmem_vram_buffer_placement(a)), imp.moves);
	stale = device_access(nic, sgt->sgl[0].dma_address, probe, sizeof(probe), DMA_TO_DEVICE);
	step("a read at the stale address: %s (nic1 has seen %llu IOMMU fault%s)",
	     stale == -EFAULT ? "refused, -EFAULT" : "NOT refused",
	     (unsigned long long)device_fault_count(nic), device_fault_count(nic) == 1 ? "" : "s");
	if (stale != -EFAULT)
		err = -EIO;

	/* Protocol: drop the stale mapping, wait for the move, map again. */
	dma_resv_lock(a->resv, NULL);
	dma_buf_unmap_attachment(attach, sgt, DMA_BIDIRECTIONAL);
	dma_resv_wait_timeout(a->resv, DMA_RESV_USAGE_KERNEL, false, DMA_FENCE_MAX_TIMEOUT);
	err = dma_buf_map_attachment(attach, DMA_BIDIRECTIONAL, &sgt);
	dma_resv_unlock(a->resv);
	if (err)
		goto out_detach;
	step("re-mapped after the KERNEL fence: 0x%llx (%s); A is in %s",
	     (unsigned long long)sgt->sgl[0].dma_address,
	     sgt->sgl[0].domain == DMA_DOMAIN_P2P ? "peer-to-peer" : "IOMMU",
	     placement_name(devmem_vram_buffer_placement(a)));
	err = devmem_vram_buffer_create(vram, DEMO_SIZE, &b);
	if (!err) {
		step("buffer B created in %s; the live buffers, as the kernel's bufinfo shows them:",
		     placement_name(devmem_vram_buffer_placement(b)));
		dma_buf_describe(stdout);
		dma_buf_put(b);
	}
	dma_buf_unmap_attachment_unlocked(attach, sgt, DMA_BIDIRECTIONAL);
	devmem_vram_get_stats(vram, &st);
	step("vram0: %llu eviction(s), %llu restore(s), %llu bytes moved",
	     (unsigned long long)st.evictions, (unsigned long long)st.restores,
	     (unsigned long long)st.bytes_moved);
out_detach:
	dma_buf_detach(a, attach);
out_a:
	dma_buf_put(a);
out_nic:
	device_put(nic);
out_vram:
	devmem_vram_flush(vram);
	devmem_vram_destroy(vram);
	return err ? tour_fail("vram tour", err) : 0;
}

int cmd_tour(int argc, char **argv)
{
	if (argc > 1) {
		if (argv[1][0] == '-' && strcmp(argv[1], "-h") && strcmp(argv[1], "--help"))
			return usage_error("tour", "unknown option '%s'", argv[1]);
		if (strcmp(argv[1], "-h") && strcmp(argv[1], "--help"))
			return usage_error("tour", "unexpected argument '%s'", argv[1]);
		printf("usage: devmem tour\n\n"
		       "A tour of the dma-buf layer: export a host buffer, share it with a\n"
		       "child process, attach and map it from two devices, move a vram buffer\n"
		       "under a dynamic importer.\n");
		return 0;
	}
	printf("libdevmem tour: the dma-buf layer, step by step\n\n");
	if (tour_host_buffer())
		return 1;
	printf("\n");
	if (tour_vram())
		return 1;
	printf("\ndone: every buffer released, nothing left mapped.\n");
	return 0;
}
