// SPDX-License-Identifier: MIT
/*
 * The software RDMA device, each figure with its baseline from the same run:
 *   - RDMA WRITE of 64 KiB messages (64 in flight) into a host MR and into
 *     a dynamic MR of a vram buffer, against plain TCP send/recv of the same
 *     bytes in 64 KiB pieces over the same loopback (target: at least 90%);
 *   - registering a 1 GiB vram buffer (peer-to-peer) and a 1 GiB host
 *     dma-buf (IOMMU) as a pinned and as a dynamic MR (pin
 *     and/or map, program the translation table) against a memset of the
 *     same 1 GiB (target: under 1%);
 *   - one invalidate (move_notify: zap, drain, unmap) plus the re-fault of
 *     the next device access (lock, map, wait for fences, reprogram),
 *     without the copy of a real move (that costs what the copy takes).
 * Figures are medians of several runs. Build with `make bench`.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../tests/support/rdma-pair.h"
#include "bench.h"
#include "devmem/error.h"
#include "devmem/host.h"
#include "devmem/vram.h"
#include "lib/compiler.h"
#include "rdma/rdma.h"

#define RUNS 5
#define MSG (64 * 1024)
#define DEPTH 64
#define STREAM_BYTES (512UL << 20)
#define GIB (1UL << 30)
#define FAULT_ROUNDS 2000
#define ACCESS                                                            \
	(DEVMEM_IBV_ACCESS_LOCAL_WRITE | DEVMEM_IBV_ACCESS_REMOTE_WRITE | \
	 DEVMEM_IBV_ACCESS_REMOTE_READ)

static void die(const char *what, int err)
{
	printf("%s: %s (%s)\n", what, strerror(err < 0 ? -err : err), devmem_last_error());
	exit(1);
}

/* plain TCP: the baseline */

struct tcp_sink {
	int fd;
	uint8_t *buf;
};

static void *tcp_sink_thread(void *arg)
{
	struct tcp_sink *s = arg;
	uint64_t got = 0;

	while (got < STREAM_BYTES) {
		size_t off = got % (DEPTH * MSG);
		ssize_t n = recv(s->fd, s->buf + off, min((size_t)MSG, DEPTH * MSG - off), 0);

		if (n <= 0)
			break;
		got += n;
	}
	return NULL;
}

/* CPU time of the whole process (both ends, their threads, the poller), in ms. */
static double cpu_ms(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		die("getrusage", -errno);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* The CPU ms per 10^9 bytes of a stream that began at @cpu0. */
static double cpu_ms_per_gb(double cpu0)
{
	return (cpu_ms() - cpu0) / (STREAM_BYTES / 1e9);
}

static double tcp_stream_gbps(void)
{
	uint8_t *src = malloc(DEPTH * MSG);
	struct tcp_sink s = { .buf = malloc(DEPTH * MSG) };
	int fds[2] = { -1, -1 }, one = 1;
	uint64_t sent = 0;
	pthread_t t;
	int64_t t0;

	memset(src, 1, DEPTH * MSG);
	memset(s.buf, 0, DEPTH * MSG);
	if (rdma_tcp_pair(fds))
		die("tcp pair", -errno);
	setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s.fd = fds[1];
	t0 = bench_now_ns();
	pthread_create(&t, NULL, tcp_sink_thread, &s);
	while (sent < STREAM_BYTES) {
		size_t off = sent % (DEPTH * MSG);
		ssize_t n = send(fds[0], src + off, min((size_t)MSG, DEPTH * MSG - off), 0);

		if (n <= 0)
			die("send", -errno);
		sent += n;
	}
	pthread_join(t, NULL);
	double secs = (bench_now_ns() - t0) / 1e9;

	close(fds[0]);
	close(fds[1]);
	free(src);
	free(s.buf);
	return STREAM_BYTES / secs / 1e9;
}

/* RDMA WRITE of STREAM_BYTES in MSG pieces, DEPTH in flight, into @rkey at @raddr */
static double rdma_stream_gbps(struct rdma_end *a, struct devmem_ibv_mr *src, uint64_t raddr,
			       uint32_t rkey)
{
	uint64_t total = STREAM_BYTES / MSG, posted = 0, done = 0;
	struct devmem_ibv_wc wc[32];
	int64_t t0 = bench_now_ns();

	while (done < total) {
		while (posted < total && posted - done < DEPTH) {
			uint64_t slot = posted % DEPTH;

			if (rdma_post(a->qp, DEVMEM_IBV_WR_RDMA_WRITE, posted,
				      (uintptr_t)src->addr + slot * MSG, MSG, src->lkey,
				      raddr + slot * MSG, rkey))
				die("post_send", -EIO);
			posted++;
		}
		int n = devmem_ibv_poll_cq(a->cq, 32, wc);

		for (int i = 0; i < n; i++)
			if (wc[i].status)
				die(devmem_ibv_wc_status_str(wc[i].status), -EIO);
		done += n;
		/*
		 * The device's work is done by the two ends' progress threads; a
		 * poller spinning on a small machine takes a core from them.
		 */
		if (!n)
			usleep(20);
	}
	return STREAM_BYTES / ((bench_now_ns() - t0) / 1e9) / 1e9;
}

static void bench_write_bw(void)
{
	struct rdma_end a = { 0 }, b = { 0 };
	double tcp[RUNS], host[RUNS], vram[RUNS], tcp_cpu[RUNS], host_cpu[RUNS], vram_cpu[RUNS];
	uint8_t *src = aligned_alloc(PAGE_SIZE, DEPTH * MSG),
		*dst = aligned_alloc(PAGE_SIZE, DEPTH * MSG);
	struct devmem_ibv_mr *smr, *dmr, *vmr;
	struct vram *vr;
	struct dma_buf *buf;
	int fd, i;
	char line[96];

	if (rdma_pair_open(&a, &b, DEPTH, ACCESS))
		die("rdma pair", -errno);
	memset(src, 2, DEPTH * MSG);
	memset(dst, 0, DEPTH * MSG);
	smr = devmem_ibv_reg_mr(a.pd, src, DEPTH * MSG, ACCESS);
	dmr = devmem_ibv_reg_mr(b.pd, dst, DEPTH * MSG, ACCESS);
	if (devmem_vram_create("vram0", DEPTH * MSG, NULL, &vr) ||
	    devmem_vram_buffer_create(vr, DEPTH * MSG, &buf))
		die("vram", -ENOMEM);
	fd = dma_buf_fd(buf, O_CLOEXEC);
	vmr = devmem_ibv_reg_dmabuf_mr(b.pd, 0, DEPTH * MSG, 0, fd, ACCESS);
	if (!smr || !dmr || !vmr)
		die("reg_mr", -errno);
	for (i = 0; i < RUNS; i++) {
		double c = cpu_ms();

		tcp[i] = tcp_stream_gbps();
		tcp_cpu[i] = cpu_ms_per_gb(c);
		c = cpu_ms();
		host[i] = rdma_stream_gbps(&a, smr, (uintptr_t)dst, dmr->rkey);
		host_cpu[i] = cpu_ms_per_gb(c);
		c = cpu_ms();
		vram[i] = rdma_stream_gbps(&a, smr, 0, vmr->rkey);
		vram_cpu[i] = cpu_ms_per_gb(c);
	}
	double t = bench_median(tcp, RUNS), h = bench_median(host, RUNS),
	       v = bench_median(vram, RUNS);

	bench_header(
		"RDMA WRITE 64 KiB x 64 in flight vs TCP send/recv 64 KiB, loopback, 512 MiB (medians; CPU of the whole process)");
	bench_row("TCP send/recv (baseline)", t, "GB/s", NULL);
	bench_row("  CPU, both ends", bench_median(tcp_cpu, RUNS), "ms/GB", NULL);
	bench_row("RDMA WRITE into a host MR", h, "GB/s", NULL);
	snprintf(line, sizeof(line), ">= 90%% of TCP: %s", h >= 0.9 * t ? "met" : "NOT met");
	bench_row("  host MR / TCP", 100 * h / t, "%", line);
	bench_row("  CPU, both ends", bench_median(host_cpu, RUNS), "ms/GB", NULL);
	bench_row("RDMA WRITE into a dynamic vram MR", v, "GB/s", NULL);
	snprintf(line, sizeof(line), ">= 90%% of TCP: %s", v >= 0.9 * t ? "met" : "NOT met");
	bench_row("  dynamic vram MR / TCP", 100 * v / t, "%", line);
	bench_row("  CPU, both ends", bench_median(vram_cpu, RUNS), "ms/GB", NULL);

	devmem_ibv_dereg_mr(smr);
	devmem_ibv_dereg_mr(dmr);
	devmem_ibv_dereg_mr(vmr);
	rdma_end_close(&a);
	rdma_end_close(&b);
	close(fd);
	dma_buf_put(buf);
	devmem_vram_destroy(vr);
	free(src);
	free(dst);
}

/* The same registrations of a 1 GiB host dma-buf: its pages reach the device through the IOMMU. */
static void host_registration(struct rdma_end *e, double *pinned, double *dynamic)
{
	struct dma_buf *buf;
	int fd, i;

	if (devmem_host_buffer_create(GIB, NULL, &buf))
		die("host 1 GiB", -ENOMEM);
	fd = dma_buf_fd(buf, O_CLOEXEC);
	for (i = 0; i < RUNS; i++) {
		struct devmem_ibv_mr *mr;
		int64_t t0 = bench_now_ns();

		mr = devmem_ibv_reg_dmabuf_mr_ex(e->pd, 0, GIB, 0, fd, ACCESS,
						 DEVMEM_IBV_REG_DMABUF_PINNED);
		pinned[i] = (bench_now_ns() - t0) / 1e3;
		if (!mr)
			die("pinned 1 GiB host MR", -errno);
		devmem_ibv_dereg_mr(mr);
		t0 = bench_now_ns();
		mr = devmem_ibv_reg_dmabuf_mr(e->pd, 0, GIB, 0, fd, ACCESS);
		dynamic[i] = (bench_now_ns() - t0) / 1e3;
		if (!mr)
			die("dynamic 1 GiB host MR", -errno);
		devmem_ibv_dereg_mr(mr);
	}
	close(fd);
	dma_buf_put(buf);
}

static void bench_registration(void)
{
	struct rdma_end e = { 0 };
	double pinned[RUNS], dynamic[RUNS], fill[RUNS];
	struct vram *vr;
	struct dma_buf *buf;
	void *cpu;
	int fd, i;
	char line[96];

	if (rdma_end_open(&e, 4, 16))
		die("rdma end", -errno);
	if (devmem_vram_create("vram0", GIB, NULL, &vr) || devmem_vram_buffer_create(vr, GIB, &buf))
		die("vram 1 GiB", -ENOMEM);
	fd = dma_buf_fd(buf, O_CLOEXEC);
	if (dma_buf_vmap_unlocked(buf, &cpu))
		die("vmap", -EIO);
	memset(cpu, 0, GIB); /* first touch: the memsets below are warm */
	for (i = 0; i < RUNS; i++) {
		int64_t t0 = bench_now_ns();

		memset(cpu, i, GIB);
		bench_keep(((volatile uint8_t *)cpu)[GIB - 1]);
		fill[i] = (bench_now_ns() - t0) / 1e6;
	}
	dma_buf_vunmap_unlocked(buf, cpu);
	for (i = 0; i < RUNS; i++) {
		struct devmem_ibv_mr *mr;
		int64_t t0 = bench_now_ns();

		mr = devmem_ibv_reg_dmabuf_mr_ex(e.pd, 0, GIB, 0, fd, ACCESS,
						 DEVMEM_IBV_REG_DMABUF_PINNED);
		pinned[i] = (bench_now_ns() - t0) / 1e3;
		if (!mr)
			die("pinned 1 GiB MR", -errno);
		devmem_ibv_dereg_mr(mr);
		t0 = bench_now_ns();
		mr = devmem_ibv_reg_dmabuf_mr(e.pd, 0, GIB, 0, fd, ACCESS);
		dynamic[i] = (bench_now_ns() - t0) / 1e3;
		if (!mr)
			die("dynamic 1 GiB MR", -errno);
		devmem_ibv_dereg_mr(mr);
	}
	double f = bench_median(fill, RUNS), p = bench_median(pinned, RUNS),
	       d = bench_median(dynamic, RUNS);
	double hp, hd;

	host_registration(&e, pinned, dynamic);
	hp = bench_median(pinned, RUNS);
	hd = bench_median(dynamic, RUNS);

	bench_header("Registering a 1 GiB vram buffer as an MR vs a memset of it");
	bench_row("memset 1 GiB (baseline, warm)", f, "ms", NULL);
	bench_row("reg_dmabuf_mr 1 GiB, pinned (pin + map + MTT)", p, "us", NULL);
	snprintf(line, sizeof(line), "< 1%% of memset: %s", p / 1e3 < 0.01 * f ? "met" : "NOT met");
	bench_row("  pinned / memset", 100 * p / 1e3 / f, "%", line);
	bench_row("reg_dmabuf_mr 1 GiB, dynamic (map + MTT)", d, "us", NULL);
	snprintf(line, sizeof(line), "< 1%% of memset: %s", d / 1e3 < 0.01 * f ? "met" : "NOT met");
	bench_row("  dynamic / memset", 100 * d / 1e3 / f, "%", line);
	bench_row("reg_dmabuf_mr 1 GiB host dma-buf, pinned (IOMMU)", hp, "us", NULL);
	snprintf(line, sizeof(line), "< 1%% of memset: %s",
		 hp / 1e3 < 0.01 * f ? "met" : "NOT met");
	bench_row("  host pinned / memset", 100 * hp / 1e3 / f, "%", line);
	bench_row("reg_dmabuf_mr 1 GiB host dma-buf, dynamic (IOMMU)", hd, "us", NULL);
	snprintf(line, sizeof(line), "< 1%% of memset: %s",
		 hd / 1e3 < 0.01 * f ? "met" : "NOT met");
	bench_row("  host dynamic / memset", 100 * hd / 1e3 / f, "%", line);

	rdma_end_close(&e);
	close(fd);
	dma_buf_put(buf);
	devmem_vram_destroy(vr);
}

static ssize_t touch_fn(void *cpu, size_t len, void *arg)
{
	memset(cpu, 1, len);
	return len;
}

static void bench_invalidate_refault(void)
{
	struct rdma_end e = { 0 };
	double inval[RUNS], refault[RUNS], access[RUNS];
	struct devmem_ibv_mr *mr;
	struct vram *vr;
	struct dma_buf *buf;
	int fd, i, r;

	if (rdma_end_open(&e, 4, 16))
		die("rdma end", -errno);
	if (devmem_vram_create("vram0", 64 * 1024, NULL, &vr) ||
	    devmem_vram_buffer_create(vr, 64 * 1024, &buf))
		die("vram", -ENOMEM);
	fd = dma_buf_fd(buf, O_CLOEXEC);
	mr = devmem_ibv_reg_dmabuf_mr(e.pd, 0, 64 * 1024, 0, fd, ACCESS);
	if (!mr)
		die("reg_dmabuf_mr", -errno);
	for (r = 0; r < RUNS; r++) {
		int64_t ti = 0, tf = 0, ta = 0;

		for (i = 0; i < FAULT_ROUNDS; i++) {
			int64_t t0 = bench_now_ns(), t1, t2;

			dma_resv_lock(buf->resv, NULL);
			dma_buf_move_notify(buf);
			dma_resv_unlock(buf->resv);
			t1 = bench_now_ns();
			if (swrdma_mr_io(to_smr(mr), 0, 64, DMA_FROM_DEVICE, touch_fn, NULL) != 64)
				die("access", -EFAULT);
			t2 = bench_now_ns();
			swrdma_mr_io(to_smr(mr), 0, 64, DMA_FROM_DEVICE, touch_fn, NULL);
			ta += bench_now_ns() - t2;
			ti += t1 - t0;
			tf += t2 - t1;
		}
		inval[r] = (double)ti / FAULT_ROUNDS / 1000;
		refault[r] = (double)tf / FAULT_ROUNDS / 1000;
		access[r] = (double)ta / FAULT_ROUNDS / 1000;
	}
	bench_header("One invalidate + re-fault of a dynamic 64 KiB vram MR");
	bench_row("device access, table valid (baseline)", bench_median(access, RUNS), "us", NULL);
	bench_row("invalidate (move_notify, no copy: zap, drain, unmap)", bench_median(inval, RUNS),
		  "us", NULL);
	bench_row("re-fault (lock, map, fences, reprogram) + access", bench_median(refault, RUNS),
		  "us", NULL);

	devmem_ibv_dereg_mr(mr);
	rdma_end_close(&e);
	close(fd);
	dma_buf_put(buf);
	devmem_vram_destroy(vr);
}

int main(void)
{
	bench_write_bw();
	bench_registration();
	bench_invalidate_refault();
	return 0;
}
