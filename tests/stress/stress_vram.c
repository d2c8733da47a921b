// SPDX-License-Identifier: MIT
/*
 * The vram exporter under pressure: an evictor thread keeps evicting (and
 * allocating new buffers, which evicts too), importer threads keep mapping,
 * accessing through their devices and unmapping the same buffers, a CPU
 * thread vmaps them, and half of the importers cannot do p2p, so buffers also
 * bounce between the heap and system memory on every map.
 *
 * Importers that follow the protocol (drop the mapping on move_notify; lock,
 * map again, wait for the KERNEL fences before touching memory) must see no
 * IOMMU fault and the data they wrote, whatever moved. Some of them lock two
 * buffers at once with an acquire context, so that a map that needs room has
 * to skip a buffer its own thread holds.
 *
 * A rogue importer keeps its old address after move_notify (it even locks
 * and waits for the move, it just forgets to map again): each of its stale
 * accesses must be refused and reported as a fault.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "devmem/vram.h"
#include "lib/compiler.h"
#include "stress.h"

#define NAME "stress_vram"
#define NBUFS 8
#define BUF_PAGES 2
#define HEAP_BUFS 3 /* the heap holds this many buffers: the rest live in system memory */
#define NIMPORTERS 4
#define HEADER 64 /* bytes of fixed pattern at the start of each buffer */
#define SLOT 64 /* each importer's own bytes in each buffer, after the header */

struct stress_buf {
	struct dma_buf *dmabuf;
};

/* One importer's view of one buffer; everything but notified under the buffer's resv lock. */
struct import {
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;
	bool invalid; /* move_notify came: the mapping must not be used any more */
	uint64_t expect; /* what this importer last wrote to its slot */
	int notified; /* atomic: for the rogue, which waits for it without the lock */
};

struct importer {
	int id;
	bool p2p;
	struct device *dev;
	struct import imports[NBUFS];
	uint64_t rng;
	uint64_t accesses, remaps, busy; /* own thread */
};

static struct vram *vram;
static struct stress_buf bufs[NBUFS];
static struct importer importers[NIMPORTERS];
static int stop; /* atomic */
static uint64_t evict_calls, creates, vmaps; /* evictor/vmapper threads only */

static bool stopping(void)
{
	return __atomic_load_n(&stop, __ATOMIC_ACQUIRE);
}

static void move_notify(struct dma_buf_attachment *attach)
{
	struct import *imp = attach->importer_priv;

	stress_check(NAME, dma_resv_held(attach->dmabuf->resv),
		     "move_notify without the resv lock");
	imp->invalid = true;
	__atomic_fetch_add(&imp->notified, 1, __ATOMIC_RELEASE);
}

static const struct dma_buf_attach_ops p2p_ops = { .allow_peer2peer = true,
						   .move_notify = move_notify };
static const struct dma_buf_attach_ops sys_ops = { .allow_peer2peer = false,
						   .move_notify = move_notify };

static unsigned char header_byte(int buf, size_t i)
{
	return (unsigned char)(buf * 31 + i * 7 + 1);
}

/*
 * Resv lock held: make sure the import has a valid mapping, then wait for the
 * move. False when the buffer is pinned in the heap (a vmap) and this
 * importer cannot reach the heap: -EBUSY, try again later.
 */
static bool import_revalidate(struct importer *im, int b)
{
	struct import *imp = &im->imports[b];
	struct dma_buf *dmabuf = bufs[b].dmabuf;
	int64_t t;
	int ret;

	if (imp->sgt && imp->invalid) {
		dma_buf_unmap_attachment(imp->attach, imp->sgt, DMA_BIDIRECTIONAL);
		imp->sgt = NULL;
	}
	if (!imp->sgt) {
		/* cleared before mapping: a notify during our own map is then harmless */
		imp->invalid = false;
		ret = dma_buf_map_attachment(imp->attach, DMA_BIDIRECTIONAL, &imp->sgt);
		if (ret == -EBUSY && !im->p2p) {
			imp->sgt = NULL;
			im->busy++;
			return false;
		}
		stress_check(NAME, ret == 0, "importer %d: map of buffer %d: %d", im->id, b, ret);
		stress_check(NAME, imp->sgt->nents == 1, "one entry expected");
		im->remaps++;
	}
	t = dma_resv_wait_timeout(dmabuf->resv, DMA_RESV_USAGE_KERNEL, false,
				  DMA_FENCE_MAX_TIMEOUT);
	stress_check(NAME, t > 0, "waiting for the move: %lld", (long long)t);
	return true;
}

/* Resv lock held: read the header and our slot, check them, write the slot. */
static void import_access(struct importer *im, int b)
{
	struct import *imp = &im->imports[b];
	dma_addr_t base = sg_dma_address(imp->sgt->sgl);
	unsigned char header[HEADER];
	uint64_t slot;
	size_t i;
	int ret;

	ret = device_access(im->dev, base, header, HEADER, DMA_TO_DEVICE);
	stress_check(NAME, ret == 0, "importer %d: read of buffer %d: %d", im->id, b, ret);
	for (i = 0; i < HEADER; i++)
		stress_check(NAME, header[i] == header_byte(b, i),
			     "importer %d: buffer %d header byte %zu is %u", im->id, b, i,
			     header[i]);
	ret = device_access(im->dev, base + HEADER + im->id * SLOT, &slot, sizeof(slot),
			    DMA_TO_DEVICE);
	stress_check(NAME, ret == 0, "importer %d: slot read: %d", im->id, ret);
	stress_check(NAME, slot == imp->expect,
		     "importer %d: buffer %d slot holds %llu, wrote %llu (p2p %d)", im->id, b,
		     (unsigned long long)slot, (unsigned long long)imp->expect, im->p2p);
	slot = stress_rand(&im->rng);
	ret = device_access(im->dev, base + HEADER + im->id * SLOT, &slot, sizeof(slot),
			    DMA_FROM_DEVICE);
	stress_check(NAME, ret == 0, "importer %d: slot write: %d", im->id, ret);
	imp->expect = slot;
	im->accesses++;
}

/* Lock @a and @b (distinct) under one acquire context, backing off on -EDEADLK. */
static void lock_two(struct dma_resv *a, struct dma_resv *b, struct ww_acquire_ctx *ctx)
{
	struct dma_resv *first = a, *second = b, *tmp;
	int ret;

	ww_acquire_init(ctx, &reservation_ww_class);
	ret = dma_resv_lock(first, ctx);
	stress_check(NAME, ret == 0, "first lock: %d", ret);
	while ((ret = dma_resv_lock(second, ctx)) == -EDEADLK) {
		dma_resv_unlock(first);
		dma_resv_lock_slow(second, ctx);
		tmp = first;
		first = second;
		second = tmp;
	}
	stress_check(NAME, ret == 0, "second lock: %d", ret);
	ww_acquire_done(ctx);
}

static void import_use(struct importer *im, int b)
{
	if (!import_revalidate(im, b))
		return;
	import_access(im, b);
	/* sometimes let go of the mapping, as an importer done with the buffer would */
	if (stress_rand(&im->rng) % 4 == 0) {
		dma_buf_unmap_attachment(im->imports[b].attach, im->imports[b].sgt,
					 DMA_BIDIRECTIONAL);
		im->imports[b].sgt = NULL;
	}
}

static void *importer_fn(void *arg)
{
	struct importer *im = arg;
	struct ww_acquire_ctx ctx;
	int a, b;

	while (!stopping()) {
		a = (int)(stress_rand(&im->rng) % NBUFS);
		b = (int)(stress_rand(&im->rng) % NBUFS);
		if (a == b) {
			dma_resv_lock(bufs[a].dmabuf->resv, NULL);
			import_use(im, a);
			dma_resv_unlock(bufs[a].dmabuf->resv);
			continue;
		}
		lock_two(bufs[a].dmabuf->resv, bufs[b].dmabuf->resv, &ctx);
		import_use(im, a);
		import_use(im, b);
		dma_resv_unlock(bufs[b].dmabuf->resv);
		dma_resv_unlock(bufs[a].dmabuf->resv);
		ww_acquire_fini(&ctx);
	}
	return NULL;
}

static void *evictor_fn(void *arg)
{
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	size_t cap = HEAP_BUFS * BUF_PAGES * PAGE_SIZE;
	struct dma_buf *tmp;
	int64_t ret;

	while (!stopping()) {
		ret = devmem_vram_evict(vram,
					(stress_rand(&rng) % (cap / PAGE_SIZE + 1)) * PAGE_SIZE);
		stress_check(NAME, ret >= 0, "evict: %lld", (long long)ret);
		evict_calls++;
		if (stress_rand(&rng) % 8 == 0) {
			/* a new buffer under pressure evicts too */
			stress_check(NAME, devmem_vram_buffer_create(vram, PAGE_SIZE, &tmp) == 0,
				     "create under pressure");
			dma_buf_put(tmp);
			creates++;
		}
		if (stress_rand(&rng) % 2)
			sched_yield();
	}
	return NULL;
}

/* The CPU side: vmap pins, the header must be intact whatever the placement. */
static void *vmapper_fn(void *arg)
{
	uint64_t rng = 12345;
	unsigned char *p;
	int b, ret;
	size_t i;

	while (!stopping()) {
		b = (int)(stress_rand(&rng) % NBUFS);
		ret = dma_buf_vmap_unlocked(bufs[b].dmabuf, (void **)&p);
		stress_check(NAME, ret == 0, "vmap: %d", ret);
		for (i = 0; i < HEADER; i++)
			stress_check(NAME, p[i] == header_byte(b, i), "vmap: buffer %d header", b);
		stress_check(NAME,
			     devmem_vram_buffer_placement(bufs[b].dmabuf) >= VRAM_PLACEMENT_VRAM,
			     "placement");
		dma_buf_vunmap_unlocked(bufs[b].dmabuf, p);
		vmaps++;
		sched_yield();
	}
	return NULL;
}

struct rogue {
	struct device *dev;
	struct import imp;
	uint64_t stale_accesses;
};

/* Map, wait to be told the buffer moved, then (locked, move waited for) use the old address. */
static void *rogue_fn(void *arg)
{
	struct rogue *r = arg;
	struct dma_buf *dmabuf = bufs[0].dmabuf;
	dma_addr_t old;
	uint64_t word;
	int seen, ret;

	while (!stopping()) {
		dma_resv_lock(dmabuf->resv, NULL);
		ret = dma_buf_map_attachment(r->imp.attach, DMA_BIDIRECTIONAL, &r->imp.sgt);
		stress_check(NAME, ret == 0, "rogue map: %d", ret);
		seen = __atomic_load_n(&r->imp.notified, __ATOMIC_ACQUIRE);
		old = sg_dma_address(r->imp.sgt->sgl);
		dma_resv_unlock(dmabuf->resv);

		while (!stopping() && __atomic_load_n(&r->imp.notified, __ATOMIC_ACQUIRE) == seen)
			sched_yield();
		if (stopping())
			break;

		dma_resv_lock(dmabuf->resv, NULL);
		dma_resv_wait_timeout(dmabuf->resv, DMA_RESV_USAGE_KERNEL, false,
				      DMA_FENCE_MAX_TIMEOUT);
		ret = device_access(r->dev, old, &word, sizeof(word), DMA_TO_DEVICE);
		stress_check(NAME, ret == -EFAULT, "rogue: stale access returned %d", ret);
		r->stale_accesses++;
		dma_buf_unmap_attachment(r->imp.attach, r->imp.sgt, DMA_BIDIRECTIONAL);
		r->imp.sgt = NULL;
		dma_resv_unlock(dmabuf->resv);
	}
	if (r->imp.sgt) {
		dma_buf_unmap_attachment_unlocked(r->imp.attach, r->imp.sgt, DMA_BIDIRECTIONAL);
		r->imp.sgt = NULL;
	}
	return NULL;
}

static struct device *new_device(const char *name, bool p2p)
{
	struct device_opts opts = { .sz = sizeof(opts), .p2p = p2p };
	struct device *dev;
	int ret;

	ret = device_create(name, &opts, &dev);
	stress_check(NAME, ret == 0, "device_create: %d", ret);
	return dev;
}

static void setup(struct rogue *rogue)
{
	struct vram_opts opts = { .sz = sizeof(opts) };
	unsigned char *p;
	char name[32];
	int b, i, ret;
	size_t j;

	ret = devmem_vram_create("stress-vram", HEAP_BUFS * BUF_PAGES * PAGE_SIZE, &opts, &vram);
	stress_check(NAME, ret == 0, "devmem_vram_create: %d", ret);
	for (b = 0; b < NBUFS; b++) {
		ret = devmem_vram_buffer_create(vram, BUF_PAGES * PAGE_SIZE, &bufs[b].dmabuf);
		stress_check(NAME, ret == 0, "buffer_create: %d", ret);
		ret = dma_buf_vmap_unlocked(bufs[b].dmabuf, (void **)&p);
		stress_check(NAME, ret == 0, "vmap: %d", ret);
		for (j = 0; j < HEADER; j++)
			p[j] = header_byte(b, j);
		dma_buf_vunmap_unlocked(bufs[b].dmabuf, p);
	}
	for (i = 0; i < NIMPORTERS; i++) {
		struct importer *im = &importers[i];

		im->id = i;
		im->p2p = i % 2 == 0;
		im->rng = 0x1234567ULL * (i + 1);
		snprintf(name, sizeof(name), "importer%d", i);
		im->dev = new_device(name, im->p2p);
		for (b = 0; b < NBUFS; b++) {
			ret = dma_buf_dynamic_attach(bufs[b].dmabuf, im->dev,
						     im->p2p ? &p2p_ops : &sys_ops, &im->imports[b],
						     &im->imports[b].attach);
			stress_check(NAME, ret == 0, "attach: %d", ret);
		}
	}
	rogue->dev = new_device("rogue", true);
	ret = dma_buf_dynamic_attach(bufs[0].dmabuf, rogue->dev, &p2p_ops, &rogue->imp,
				     &rogue->imp.attach);
	stress_check(NAME, ret == 0, "rogue attach: %d", ret);
}

static void teardown(struct rogue *rogue)
{
	struct import *imp;
	int b, i;

	for (i = 0; i < NIMPORTERS; i++) {
		for (b = 0; b < NBUFS; b++) {
			imp = &importers[i].imports[b];
			if (imp->sgt)
				dma_buf_unmap_attachment_unlocked(imp->attach, imp->sgt,
								  DMA_BIDIRECTIONAL);
			dma_buf_detach(bufs[b].dmabuf, imp->attach);
		}
		device_put(importers[i].dev);
	}
	dma_buf_detach(bufs[0].dmabuf, rogue->imp.attach);
	device_put(rogue->dev);
	for (b = 0; b < NBUFS; b++)
		dma_buf_put(bufs[b].dmabuf);
	devmem_vram_destroy(vram);
}

int main(void)
{
	pthread_t threads[NIMPORTERS], evictor, vmapper, rogue_thread;
	double end = stress_now() + stress_seconds();
	uint64_t accesses = 0, remaps = 0, busy = 0, rogue_faults;
	struct vram_stats st;
	struct rogue rogue;
	int i;

	memset(&rogue, 0, sizeof(rogue));
	setup(&rogue);
	for (i = 0; i < NIMPORTERS; i++)
		pthread_create(&threads[i], NULL, importer_fn, &importers[i]);
	pthread_create(&evictor, NULL, evictor_fn, NULL);
	pthread_create(&vmapper, NULL, vmapper_fn, NULL);
	pthread_create(&rogue_thread, NULL, rogue_fn, &rogue);

	while (stress_now() < end)
		usleep(10000);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);

	for (i = 0; i < NIMPORTERS; i++)
		pthread_join(threads[i], NULL);
	pthread_join(evictor, NULL);
	pthread_join(vmapper, NULL);
	pthread_join(rogue_thread, NULL);

	for (i = 0; i < NIMPORTERS; i++) {
		stress_check(NAME, device_fault_count(importers[i].dev) == 0,
			     "importer %d followed the protocol and saw %llu faults", i,
			     (unsigned long long)device_fault_count(importers[i].dev));
		accesses += importers[i].accesses;
		remaps += importers[i].remaps;
		busy += importers[i].busy;
	}
	rogue_faults = device_fault_count(rogue.dev);
	stress_check(NAME, rogue.stale_accesses > 0, "the rogue never saw its buffer move");
	stress_check(NAME, rogue_faults == rogue.stale_accesses,
		     "rogue: %llu stale accesses but %llu faults reported",
		     (unsigned long long)rogue.stale_accesses, (unsigned long long)rogue_faults);
	devmem_vram_flush(vram);
	devmem_vram_get_stats(vram, &st);
	stress_check(NAME, st.evictions > 0 && st.restores > 0, "nothing moved");
	teardown(&rogue);

	printf("%s: ok %llu accesses, %llu maps (%llu busy), %llu evictions, %llu restores, %llu MiB moved, "
	       "%llu evict calls, %llu creates, %llu vmaps, %llu stale accesses faulted\n",
	       NAME, (unsigned long long)accesses, (unsigned long long)remaps,
	       (unsigned long long)busy, (unsigned long long)st.evictions,
	       (unsigned long long)st.restores, (unsigned long long)(st.bytes_moved >> 20),
	       (unsigned long long)evict_calls, (unsigned long long)creates,
	       (unsigned long long)vmaps, (unsigned long long)rogue_faults);
	return 0;
}
