// SPDX-License-Identifier: MIT
/*
 * The dma-buf layer's costs, each against a baseline measured in the same run:
 *   - an uncontended resv lock+unlock against a pthread mutex lock+unlock;
 *   - signalling a fence that has one callback, and waiting on a fence that
 *     has already signalled;
 *   - mapping and unmapping a 1 GiB host buffer into a device against one
 *     memset of the same 1 GiB.
 * Every figure is the median of several runs. Build with `make bench`
 * (release build, assertions off).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "devmem/device.h"
#include "devmem/dma-buf.h"
#include "devmem/dma-fence.h"
#include "devmem/dma-resv.h"
#include "devmem/host.h"

#define RUNS 9
#define LOCK_ITERS 2000000
#define FENCE_ITERS 200000

static double time_pthread_mutex(void)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	int64_t t0 = bench_now_ns();

	for (int i = 0; i < LOCK_ITERS; i++) {
		pthread_mutex_lock(&m);
		pthread_mutex_unlock(&m);
	}
	return (double)(bench_now_ns() - t0) / LOCK_ITERS;
}

static double time_resv_lock(struct dma_resv *resv)
{
	int64_t t0 = bench_now_ns();

	for (int i = 0; i < LOCK_ITERS; i++) {
		dma_resv_lock(resv, NULL);
		dma_resv_unlock(resv);
	}
	return (double)(bench_now_ns() - t0) / LOCK_ITERS;
}

static double time_ww_acquire(struct dma_resv *resv)
{
	int64_t t0 = bench_now_ns();

	for (int i = 0; i < LOCK_ITERS; i++) {
		struct ww_acquire_ctx ctx;

		ww_acquire_init(&ctx, &reservation_ww_class);
		dma_resv_lock(resv, &ctx);
		ww_acquire_done(&ctx);
		dma_resv_unlock(resv);
		ww_acquire_fini(&ctx);
	}
	return (double)(bench_now_ns() - t0) / LOCK_ITERS;
}

/* A thread that only sleeps: its presence turns off glibc's single-thread shortcuts. */
static void *idle_thread(void *arg)
{
	int *fds = arg;
	char c;

	return read(fds[0], &c, 1) < 0 ? NULL : NULL;
}

static void bench_lock_pair(struct dma_resv *obj, double *m, double *r, double *c)
{
	double mutex[RUNS], resv[RUNS], ctx[RUNS];

	for (int i = 0; i < RUNS; i++) {
		mutex[i] = time_pthread_mutex();
		resv[i] = time_resv_lock(obj);
		ctx[i] = time_ww_acquire(obj);
	}
	*m = bench_median(mutex, RUNS);
	*r = bench_median(resv, RUNS);
	*c = bench_median(ctx, RUNS);
}

static void bench_locks(void)
{
	double m1, r1, c1, m2, r2, c2;
	struct dma_resv obj;
	pthread_t idle;
	int fds[2];

	dma_resv_init(&obj);
	bench_lock_pair(&obj, &m1, &r1, &c1);
	if (pipe(fds) || pthread_create(&idle, NULL, idle_thread, fds))
		return;
	bench_lock_pair(&obj, &m2, &r2, &c2);
	close(fds[1]);
	pthread_join(idle, NULL);
	close(fds[0]);
	dma_resv_fini(&obj);

	bench_header("reservation lock, uncontended");
	bench_row("one thread: pthread_mutex lock+unlock (baseline)", m1, "ns", NULL);
	bench_row("one thread: dma_resv_lock(NULL)+unlock", r1, "ns", NULL);
	bench_row("one thread: dma_resv / pthread_mutex", r1 / m1, "x",
		  r1 / m1 <= 2.0 ? "<= 2x: met" : "<= 2x: MISSED");
	bench_row("two threads: pthread_mutex lock+unlock (baseline)", m2, "ns", NULL);
	bench_row("two threads: dma_resv_lock(NULL)+unlock", r2, "ns", NULL);
	bench_row("two threads: dma_resv / pthread_mutex", r2 / m2, "x",
		  r2 / m2 <= 2.0 ? "<= 2x: met" : "<= 2x: MISSED");
	bench_row("one thread: acquire ctx+lock+done+unlock+fini", c1, "ns", NULL);
	bench_row("two threads: acquire ctx+lock+done+unlock+fini", c2, "ns", NULL);
}

static const char *bench_fence_name(struct dma_fence *f)
{
	return "bench";
}

static const struct dma_fence_ops bench_fence_ops = {
	.get_driver_name = bench_fence_name,
	.get_timeline_name = bench_fence_name,
	.release = NULL,
};

struct bench_fence {
	struct dma_fence base;
	struct dma_fence_cb cb;
};

static void bench_cb(struct dma_fence *f, struct dma_fence_cb *cb)
{
	bench_keep(cb);
}

/* Signal FENCE_ITERS fences that each have one callback; only the signals are timed. */
static double time_signal_one_cb(struct bench_fence *fences, uint64_t ctx)
{
	int64_t t0;

	for (int i = 0; i < FENCE_ITERS; i++) {
		dma_fence_init(&fences[i].base, &bench_fence_ops, ctx, i + 1);
		dma_fence_add_callback(&fences[i].base, &fences[i].cb, bench_cb);
	}
	t0 = bench_now_ns();
	for (int i = 0; i < FENCE_ITERS; i++)
		dma_fence_signal(&fences[i].base);
	return (double)(bench_now_ns() - t0) / FENCE_ITERS;
}

static double time_wait_signalled(struct dma_fence *f)
{
	int64_t t0 = bench_now_ns(), sum = 0;

	for (int i = 0; i < FENCE_ITERS; i++)
		sum += dma_fence_wait_timeout(f, false, 1000000);
	bench_keep(sum);
	return (double)(bench_now_ns() - t0) / FENCE_ITERS;
}

static void bench_fences(void)
{
	struct bench_fence *fences = calloc(FENCE_ITERS, sizeof(*fences));
	uint64_t ctx = dma_fence_context_alloc(1);
	double sig[RUNS], wait[RUNS];
	struct dma_fence *stub = dma_fence_get_stub();

	if (!fences)
		return;
	for (int i = 0; i < RUNS; i++) {
		sig[i] = time_signal_one_cb(fences, ctx);
		wait[i] = time_wait_signalled(stub);
	}
	dma_fence_put(stub);
	free(fences);

	bench_header("dma_fence");
	bench_row("signal a fence with one callback", bench_median(sig, RUNS), "ns", NULL);
	bench_row("wait on an already signalled fence", bench_median(wait, RUNS), "ns", NULL);
}

#define GIB (1UL << 30)

static int time_map_unmap(struct dma_buf *buf, struct device *dev, double *map_ns, double *raw_ns,
			  void *cpu)
{
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;
	dma_addr_t iova;
	int64_t t0;
	int err;

	t0 = bench_now_ns();
	err = dma_buf_attach(buf, dev, &attach);
	if (err)
		return err;
	err = dma_buf_map_attachment_unlocked(attach, DMA_BIDIRECTIONAL, &sgt);
	if (err) {
		dma_buf_detach(buf, attach);
		return err;
	}
	dma_buf_unmap_attachment_unlocked(attach, sgt, DMA_BIDIRECTIONAL);
	dma_buf_detach(buf, attach);
	*map_ns = bench_now_ns() - t0;

	t0 = bench_now_ns();
	err = dma_map_range(dev, cpu, GIB, DMA_BIDIRECTIONAL, &iova);
	if (err)
		return err;
	dma_unmap_range(dev, iova, GIB);
	*raw_ns = bench_now_ns() - t0;
	return 0;
}

static void bench_map(void)
{
	double memset_ns[RUNS], map_ns[RUNS], raw_ns[RUNS], first_touch, ms, mp, raw;
	struct dma_buf *buf;
	struct device *dev;
	void *cpu;
	int64_t t0;
	int err;

	err = devmem_host_buffer_create(GIB, NULL, &buf);
	if (err) {
		printf("\nmap+unmap: cannot create a 1 GiB host buffer: %s\n", strerror(-err));
		return;
	}
	err = device_create("bench-nic", NULL, &dev);
	if (err)
		goto out_put;
	err = dma_buf_vmap_unlocked(buf, &cpu);
	if (err)
		goto out_dev;

	t0 = bench_now_ns();
	memset(cpu, 1, GIB); /* first touch: faults the pages in */
	first_touch = bench_now_ns() - t0;
	for (int i = 0; i < RUNS; i++) {
		t0 = bench_now_ns();
		memset(cpu, i, GIB);
		memset_ns[i] = bench_now_ns() - t0;
		err = time_map_unmap(buf, dev, &map_ns[i], &raw_ns[i], cpu);
		if (err)
			goto out_vunmap;
	}
	ms = bench_median(memset_ns, RUNS);
	mp = bench_median(map_ns, RUNS);
	raw = bench_median(raw_ns, RUNS);

	bench_header("map + unmap of a 1 GiB host buffer");
	bench_row("memset 1 GiB, first touch", first_touch / 1e6, "ms", NULL);
	bench_row("memset 1 GiB, pages present (baseline)", ms / 1e6, "ms", NULL);
	bench_row("attach + map + unmap + detach (dma-buf)", mp / 1e3, "us", NULL);
	bench_row("dma_map_range + dma_unmap_range (IOMMU)", raw / 1e3, "us", NULL);
	bench_row("dma-buf map+unmap / memset", 100.0 * mp / ms, "%",
		  mp / ms < 0.01 ? "< 1%: met" : "< 1%: MISSED");

out_vunmap:
	dma_buf_vunmap_unlocked(buf, cpu);
out_dev:
	device_put(dev);
out_put:
	dma_buf_put(buf);
	if (err)
		printf("\nmap+unmap failed: %s\n", strerror(-err));
}

int main(void)
{
	printf("libdevmem core benchmark (medians of %d runs)\n", RUNS);
	bench_locks();
	bench_fences();
	bench_map();
	return 0;
}
