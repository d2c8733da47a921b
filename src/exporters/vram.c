// SPDX-License-Identifier: MIT
/*
 * The vram exporter: simulated device memory that moves, after the dma-buf
 * exporters of amdgpu and xe on top of TTM.
 *
 * Objects and locks, outermost first:
 *
 *	buffer resv lock	a buffer's placement, memory, pins and mappings
 *	vram->lock		the heap allocator, the LRU, the statistics
 *	vram->engine_lock	the copy engine's queue
 *
 * vram->lock is never held while a resv lock is waited for: evictions pick
 * their victims with dma_resv_trylock() (under vram->lock, which keeps the
 * victim alive) and skip the busy ones, so a caller that already holds other
 * buffers' resv locks (a map of A evicting B) cannot deadlock.
 *
 * A move (eviction to system memory, restore into the heap) happens with the
 * buffer's resv lock held: importers are told (dma_buf_move_notify), their
 * old device translations are revoked (a stale access then faults), the
 * buffer switches to its new memory at once, and the copy is queued on the
 * copy engine, whose completion is a KERNEL fence in the buffer's resv.
 * Until it signals, the new memory does not hold the data yet: every user
 * waits for the KERNEL fences first. The job owns the source memory from the
 * moment it is queued and frees it after the copy (a heap range goes back to
 * the allocator under vram->lock; the bytes it held count as "used" until
 * then, and allocators waiting for room sleep on vram->room_cond). One engine
 * thread runs the jobs in order, so moves of one buffer never overtake each
 * other and the engine's fences signal in seqno order.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devmem/vram.h"
#include "lib/compiler.h"
#include "lib/debug.h"
#include "lib/error.h"
#include "lib/meminfo.h"
#include "lib/list.h"
#include "lib/refcount.h"
#include "lib/time.h"

#define VRAM_NAME_LEN 32
/* The largest sg entry we hand out: a page multiple that fits dma_length. */
#define VRAM_MAX_SEGMENT (1UL << 30)

/* A range of the heap: free (in vram->free_list) or owned by a buffer or a copy job. */
struct vram_range {
	struct list_head node; /* in vram->free_list while free */
	size_t start;
	size_t size;
};

struct vram {
	char name[VRAM_NAME_LEN];
	struct device *dev; /* the p2p provider; one reference */
	void *heap; /* the device memory: capacity bytes, page aligned */
	size_t capacity;
	dma_addr_t bus_base; /* bus address of heap[0] in the p2p window */
	uint64_t copy_bandwidth; /* bytes per second, 0: unthrottled; read-only */

	pthread_mutex_t lock;
	pthread_cond_t room_cond; /* broadcast whenever a heap range is freed */
	struct list_head free_list; /* free ranges by start, coalesced; lock */
	struct list_head lru; /* buffers in the heap, least recently used first; lock */
	size_t used; /* heap bytes allocated, pending frees included; lock */
	size_t pending_free; /* heap bytes queued evictions will free; lock */
	unsigned int nbuffers; /* live buffers; lock */
	uint64_t evictions, restores, bytes_moved; /* lock */

	/* The copy engine. */
	pthread_t engine;
	pthread_mutex_t engine_lock;
	pthread_cond_t engine_cond; /* work queued, or stop */
	pthread_cond_t idle_cond; /* a job completed */
	struct list_head queue; /* vram_job.node, in order; engine_lock */
	uint64_t queued, completed; /* jobs; engine_lock */
	bool stop; /* engine_lock */
	uint64_t fence_context; /* read-only */
	uint64_t fence_seqno; /* engine_lock: seqnos follow queue order */
};

struct vram_buffer {
	struct vram *vram;
	struct dma_buf *dmabuf; /* set once exported, before the buffer can be a victim */
	/*
	 * Protected by the resv lock. placement is also read without it
	 * (devmem_vram_buffer_placement), hence the atomic accessors.
	 */
	enum vram_placement placement;
	struct vram_range *range; /* the heap range while in VRAM */
	void *sys; /* the system memory while in SYSTEM */
	unsigned int pin_count; /* ops->pin calls and vmaps not yet undone */
	struct dma_fence *last_move; /* the latest move (referenced), for release */
	struct list_head lru_node; /* in vram->lru while in VRAM; vram->lock */
};

/* attach->priv: what this attachment has mapped, so unmap undoes exactly that. */
struct vram_attachment {
	struct list_head mappings; /* vram_mapping.node; resv lock */
};

struct vram_mapping {
	struct sg_table sgt; /* what the importer holds; unmap finds us from it */
	struct list_head node; /* in vram_attachment.mappings; resv lock */
	enum dma_addr_domain domain;
	dma_addr_t addr;
	size_t len;
	/* the buffer moved: the device translation is already gone; resv lock */
	bool revoked;
};

/* A copy on the engine; the fence is its completion and owns the memory. */
struct vram_job {
	struct dma_fence base;
	struct list_head node; /* in vram->queue; engine_lock */
	char timeline[VRAM_NAME_LEN];
	const void *src;
	void *dst;
	size_t len;
	/* the source, owned by the job and freed after the copy: one of the two */
	struct vram_range *src_range;
	void *src_sys;
	/* fences the copy waits for (everything in the resv when queued) */
	struct dma_fence **deps;
	unsigned int num_deps;
};

static const struct dma_buf_ops vram_dma_buf_ops;

static struct vram_buffer *to_vram_buffer(struct dma_buf *dmabuf)
{
	return dmabuf->priv;
}

static void vram_assert_held(struct vram_buffer *buf)
{
	devmem_assert(dma_resv_held(buf->dmabuf->resv), "vram: resv lock held");
}

static enum vram_placement vram_placement_get(struct vram_buffer *buf)
{
	return __atomic_load_n(&buf->placement, __ATOMIC_RELAXED);
}

static void vram_placement_set(struct vram_buffer *buf, enum vram_placement placement)
{
	__atomic_store_n(&buf->placement, placement, __ATOMIC_RELAXED);
}

/* Where the CPU sees the buffer's current memory. Resv lock held. */
static void *vram_buffer_cpu(struct vram_buffer *buf)
{
	if (buf->placement == VRAM_PLACEMENT_VRAM)
		return (char *)buf->vram->heap + buf->range->start;
	return buf->sys;
}

/* ---- the heap: first fit over a sorted, coalesced free list ---------------------------- */

/* vram->lock held. 0 and a range, -ENOSPC, -ENOMEM. */
static int vram_heap_alloc(struct vram *vram, size_t size, struct vram_range **out)
{
	struct vram_range *fr, *r;

	/* allocate before looking, so that freeing never has to (the copy engine frees) */
	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	list_for_each_entry(fr, &vram->free_list, node) {
		if (fr->size < size)
			continue;
		if (fr->size == size) {
			list_del(&fr->node);
			free(r);
			r = fr;
		} else {
			r->start = fr->start;
			r->size = size;
			fr->start += size;
			fr->size -= size;
		}
		vram->used += size;
		*out = r;
		return 0;
	}
	free(r);
	return -ENOSPC;
}

/* vram->lock held. Never allocates. */
static void vram_heap_free(struct vram *vram, struct vram_range *r)
{
	struct list_head *pos;
	struct vram_range *next, *prev;

	vram->used -= r->size;
	list_for_each(pos, &vram->free_list)
		if (list_entry(pos, struct vram_range, node)->start > r->start)
			break;
	list_add_tail(&r->node, pos);
	if (r->node.next != &vram->free_list) {
		next = list_entry(r->node.next, struct vram_range, node);
		if (r->start + r->size == next->start) {
			r->size += next->size;
			list_del(&next->node);
			free(next);
		}
	}
	if (r->node.prev != &vram->free_list) {
		prev = list_entry(r->node.prev, struct vram_range, node);
		if (prev->start + prev->size == r->start) {
			prev->size += r->size;
			list_del(&r->node);
			free(r);
		}
	}
	pthread_cond_broadcast(&vram->room_cond);
}

static void *vram_sysmem_alloc(size_t size)
{
	return aligned_alloc(PAGE_SIZE, size);
}

/* ---- the copy engine ------------------------------------------------------------------- */

static const char *vram_fence_driver_name(struct dma_fence *fence)
{
	return VRAM_EXP_NAME;
}

static const char *vram_fence_timeline_name(struct dma_fence *fence)
{
	return container_of(fence, struct vram_job, base)->timeline;
}

static void vram_fence_release(struct dma_fence *fence)
{
	free(container_of(fence, struct vram_job, base));
}

static const struct dma_fence_ops vram_fence_ops = {
	.get_driver_name = vram_fence_driver_name,
	.get_timeline_name = vram_fence_timeline_name,
	.release = vram_fence_release,
};

static void vram_throttle(struct vram *vram, size_t len)
{
	struct timespec ts;
	double secs;

	if (!vram->copy_bandwidth)
		return;
	secs = (double)len / (double)vram->copy_bandwidth;
	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * NSEC_PER_SEC);
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * Run one job on the engine thread. This is the fence's signalling path: it
 * takes no resv lock and allocates nothing (freeing a heap range only returns
 * a preallocated node to the free list).
 */
static void vram_job_run(struct vram *vram, struct vram_job *job)
{
	unsigned int i;

	for (i = 0; i < job->num_deps; i++) {
		dma_fence_wait(job->deps[i], false);
		dma_fence_put(job->deps[i]);
	}
	free(job->deps);
	job->deps = NULL;

	vram_throttle(vram, job->len);
	memcpy(job->dst, job->src, job->len);

	if (job->src_range) {
		pthread_mutex_lock(&vram->lock);
		vram->pending_free -= job->src_range->size;
		vram_heap_free(vram, job->src_range);
		pthread_mutex_unlock(&vram->lock);
	}
	free(job->src_sys);

	dma_fence_signal(&job->base);
	dma_fence_put(&job->base);
}

static void *vram_engine_fn(void *arg)
{
	struct vram *vram = arg;
	struct vram_job *job;

	pthread_mutex_lock(&vram->engine_lock);
	for (;;) {
		while (list_empty(&vram->queue) && !vram->stop)
			pthread_cond_wait(&vram->engine_cond, &vram->engine_lock);
		if (list_empty(&vram->queue))
			break; /* stopping, and everything queued has run */
		job = list_first_entry(&vram->queue, struct vram_job, node);
		list_del(&job->node);
		pthread_mutex_unlock(&vram->engine_lock);

		vram_job_run(vram, job);

		pthread_mutex_lock(&vram->engine_lock);
		vram->completed++;
		pthread_cond_broadcast(&vram->idle_cond);
	}
	pthread_mutex_unlock(&vram->engine_lock);
	return NULL;
}

/*
 * Queue @job: its fence gets the next seqno under the engine lock, so seqnos
 * follow the order of execution. Returns the fence with a reference for the
 * caller (the engine keeps its own until the job has run).
 */
static struct dma_fence *vram_engine_queue(struct vram *vram, struct vram_job *job)
{
	pthread_mutex_lock(&vram->engine_lock);
	dma_fence_init(&job->base, &vram_fence_ops, vram->fence_context, ++vram->fence_seqno);
	dma_fence_get(&job->base);
	list_add_tail(&job->node, &vram->queue);
	vram->queued++;
	pthread_cond_signal(&vram->engine_cond);
	pthread_mutex_unlock(&vram->engine_lock);
	return &job->base;
}

void devmem_vram_flush(struct vram *vram)
{
	uint64_t target;

	if (!vram)
		return;
	pthread_mutex_lock(&vram->engine_lock);
	target = vram->queued;
	while (vram->completed < target)
		pthread_cond_wait(&vram->idle_cond, &vram->engine_lock);
	pthread_mutex_unlock(&vram->engine_lock);
}

/* ---- moves ----------------------------------------------------------------------------- */

/* A job for a move of @buf, waiting for every fence the buffer has. Resv lock held. */
static int vram_job_create(struct vram_buffer *buf, struct vram_job **out)
{
	struct vram_job *job;
	int ret;

	job = calloc(1, sizeof(*job));
	if (!job)
		return -ENOMEM;
	ret = dma_resv_get_fences(buf->dmabuf->resv, DMA_RESV_USAGE_BOOKKEEP, &job->num_deps,
				  &job->deps);
	if (ret) {
		free(job);
		return ret;
	}
	snprintf(job->timeline, sizeof(job->timeline), "%s", buf->vram->name);
	job->len = buf->dmabuf->size;
	*out = job;
	return 0;
}

/* Free a job that was never queued. */
static void vram_job_destroy(struct vram_job *job)
{
	unsigned int i;

	for (i = 0; i < job->num_deps; i++)
		dma_fence_put(job->deps[i]);
	free(job->deps);
	free(job);
}

static void vram_mapping_unmap_device(struct device *dev, struct vram_mapping *m)
{
	if (m->domain == DMA_DOMAIN_P2P)
		dma_unmap_p2p(dev, m->addr, m->len);
	else
		dma_unmap_range(dev, m->addr, m->len);
}

/*
 * The buffer is leaving its memory: remove every importer's translation of
 * it now, so that an importer that keeps using an old address after
 * move_notify faults instead of reading memory that is about to be reused.
 * The mapping records stay until the importer unmaps. Resv lock held.
 */
static void vram_revoke_mappings(struct vram_buffer *buf)
{
	struct dma_buf_attachment *attach;
	struct vram_attachment *va;
	struct vram_mapping *m;

	list_for_each_entry(attach, &buf->dmabuf->attachments, node) {
		va = attach->priv;
		if (!va)
			continue;
		list_for_each_entry(m, &va->mappings, node) {
			if (m->revoked)
				continue;
			vram_mapping_unmap_device(attach->dev, m);
			m->revoked = true;
		}
	}
}

/*
 * The point of no return of a move, the job and a fence slot in hand: tell
 * the importers, revoke their translations, start the copy and publish its
 * fence as KERNEL usage. Resv lock held.
 */
static void vram_move_commit(struct vram_buffer *buf, struct vram_job *job)
{
	struct dma_resv *resv = buf->dmabuf->resv;
	struct dma_fence *fence;

	dma_buf_move_notify(buf->dmabuf);
	vram_revoke_mappings(buf);
	fence = vram_engine_queue(buf->vram, job);
	dma_resv_add_fence(resv, fence, DMA_RESV_USAGE_KERNEL);
	dma_fence_put(buf->last_move);
	buf->last_move = fence;
}

/* Move @buf from the heap to system memory. Resv lock held, unpinned, in VRAM. */
static int vram_evict_locked(struct vram_buffer *buf)
{
	struct vram *vram = buf->vram;
	struct vram_job *job;
	void *sys;
	int ret;

	vram_assert_held(buf);
	DEVMEM_BUG_ON(buf->pin_count || buf->placement != VRAM_PLACEMENT_VRAM);

	sys = vram_sysmem_alloc(buf->dmabuf->size);
	if (!sys)
		return devmem_err(-ENOMEM, "vram %s: no system memory to evict %zu bytes to",
				  vram->name, buf->dmabuf->size);
	ret = vram_job_create(buf, &job);
	if (ret)
		goto err_free_sys;
	ret = dma_resv_reserve_fences(buf->dmabuf->resv, 1);
	if (ret)
		goto err_destroy_job;

	job->src = vram_buffer_cpu(buf);
	job->src_range = buf->range;
	job->dst = sys;

	/* account before queueing: the engine gives the pending bytes back */
	pthread_mutex_lock(&vram->lock);
	list_del_init(&buf->lru_node);
	vram->pending_free += buf->range->size;
	vram->evictions++;
	vram->bytes_moved += buf->dmabuf->size;
	pthread_mutex_unlock(&vram->lock);

	vram_move_commit(buf, job);
	buf->range = NULL;
	buf->sys = sys;
	vram_placement_set(buf, VRAM_PLACEMENT_SYSTEM);
	return 0;

err_destroy_job:
	vram_job_destroy(job);
err_free_sys:
	free(sys);
	return ret;
}

/* Move @buf from system memory into @range of the heap. Resv lock held, unpinned. */
static int vram_restore_locked(struct vram_buffer *buf, struct vram_range *range)
{
	struct vram *vram = buf->vram;
	struct vram_job *job;
	int ret;

	vram_assert_held(buf);
	DEVMEM_BUG_ON(buf->pin_count || buf->placement != VRAM_PLACEMENT_SYSTEM);

	ret = vram_job_create(buf, &job);
	if (ret)
		return ret;
	ret = dma_resv_reserve_fences(buf->dmabuf->resv, 1);
	if (ret) {
		vram_job_destroy(job);
		return ret;
	}

	job->src = buf->sys;
	job->src_sys = buf->sys;
	job->dst = (char *)vram->heap + range->start;

	pthread_mutex_lock(&vram->lock);
	list_add_tail(&buf->lru_node, &vram->lru);
	vram->restores++;
	vram->bytes_moved += buf->dmabuf->size;
	pthread_mutex_unlock(&vram->lock);

	vram_move_commit(buf, job);
	buf->sys = NULL;
	buf->range = range;
	vram_placement_set(buf, VRAM_PLACEMENT_VRAM);
	return 0;
}

/*
 * vram->lock held. The least recently used buffer that can move now, resv
 * locked and referenced (it stays on the LRU until evicted), or NULL. A
 * buffer whose lock is busy, held by this very thread included, is skipped:
 * we never wait for a resv lock here. A buffer whose last reference is gone
 * is dying: its release waits for vram->lock to take it off the LRU.
 */
static struct vram_buffer *vram_pick_victim(struct vram *vram, struct vram_buffer *exclude)
{
	struct vram_buffer *buf;

	list_for_each_entry(buf, &vram->lru, lru_node) {
		if (buf == exclude || !dma_resv_trylock(buf->dmabuf->resv))
			continue;
		if (!buf->pin_count && kref_get_unless_zero(&buf->dmabuf->refcount))
			return buf;
		dma_resv_unlock(buf->dmabuf->resv);
	}
	return NULL;
}

/* Evict a victim from vram_pick_victim(), then unlock and release it. No vram->lock. */
static int vram_evict_victim(struct vram_buffer *victim)
{
	struct dma_buf *dmabuf = victim->dmabuf;
	int ret;

	ret = vram_evict_locked(victim);
	dma_resv_unlock(dmabuf->resv);
	dma_buf_put(dmabuf);
	return ret;
}

/* vram->lock held: are evictions in flight that will make @goal free bytes? */
static bool vram_room_coming(struct vram *vram, size_t goal)
{
	return vram->pending_free && vram->capacity - vram->used + vram->pending_free >= goal;
}

/*
 * Make room for, and allocate, @size contiguous heap bytes, evicting
 * unpinned buffers (never @exclude) as needed and waiting for their copies.
 * 0 and the range, -ENOSPC when nothing more can move, -ENOMEM.
 */
static int vram_make_room(struct vram *vram, size_t size, struct vram_buffer *exclude,
			  struct vram_range **out)
{
	struct vram_buffer *victim;
	int ret;

	pthread_mutex_lock(&vram->lock);
	for (;;) {
		ret = vram_heap_alloc(vram, size, out);
		if (ret != -ENOSPC)
			break;
		if (vram_room_coming(vram, size)) {
			pthread_cond_wait(&vram->room_cond, &vram->lock);
			continue;
		}
		victim = vram_pick_victim(vram, exclude);
		if (victim) {
			pthread_mutex_unlock(&vram->lock);
			ret = vram_evict_victim(victim);
			pthread_mutex_lock(&vram->lock);
			if (ret)
				break;
			continue;
		}
		if (!vram->pending_free)
			break;
		/* fragmented: wait for what is in flight, then look again */
		pthread_cond_wait(&vram->room_cond, &vram->lock);
	}
	pthread_mutex_unlock(&vram->lock);
	return ret;
}

int64_t devmem_vram_evict(struct vram *vram, size_t bytes)
{
	struct vram_buffer *victim;
	int64_t ret = 0;
	int err;

	if (!vram)
		return devmem_err(-EINVAL, "vram: NULL vram");
	pthread_mutex_lock(&vram->lock);
	for (;;) {
		if (vram->capacity - vram->used >= bytes)
			break;
		if (vram_room_coming(vram, bytes)) {
			pthread_cond_wait(&vram->room_cond, &vram->lock);
			continue;
		}
		victim = vram_pick_victim(vram, NULL);
		if (victim) {
			pthread_mutex_unlock(&vram->lock);
			err = vram_evict_victim(victim);
			pthread_mutex_lock(&vram->lock);
			if (err) {
				ret = err;
				break;
			}
			continue;
		}
		if (!vram->pending_free)
			break;
		pthread_cond_wait(&vram->room_cond, &vram->lock);
	}
	if (!ret)
		ret = (int64_t)(vram->capacity - vram->used);
	pthread_mutex_unlock(&vram->lock);
	return ret;
}

/* ---- dma_buf_ops ----------------------------------------------------------------------- */

/* Can this importer use peer-to-peer addresses? */
static bool vram_attach_p2p(struct dma_buf_attachment *attach)
{
	return attach->peer2peer && device_is_p2p_capable(attach->dev);
}

static int vram_attach(struct dma_buf *dmabuf, struct dma_buf_attachment *attach)
{
	struct vram_attachment *va;

	va = calloc(1, sizeof(*va));
	if (!va)
		return -ENOMEM;
	INIT_LIST_HEAD(&va->mappings);
	attach->priv = va;
	/* as amdgpu does for a device it has no p2p path to */
	if (!device_is_p2p_capable(attach->dev))
		attach->peer2peer = false;
	return 0;
}

static void vram_detach(struct dma_buf *dmabuf, struct dma_buf_attachment *attach)
{
	struct vram_attachment *va = attach->priv;

	if (!va)
		return;
	DEVMEM_BUG_ON(!list_empty(&va->mappings));
	free(va);
	attach->priv = NULL;
}

/* Does some attachment need the buffer in system memory (no p2p)? Resv lock held. */
static bool vram_needs_system(struct vram_buffer *buf)
{
	struct dma_buf_attachment *attach;

	list_for_each_entry(attach, &buf->dmabuf->attachments, node)
		if (!vram_attach_p2p(attach))
			return true;
	return false;
}

/*
 * Pin where every attachment can reach the buffer: in system memory if one of
 * them cannot do p2p (amdgpu pins into GTT then), else where it is.
 */
static int vram_pin(struct dma_buf_attachment *attach)
{
	struct vram_buffer *buf = to_vram_buffer(attach->dmabuf);
	int ret;

	vram_assert_held(buf);
	if (buf->placement == VRAM_PLACEMENT_VRAM && vram_needs_system(buf)) {
		if (buf->pin_count)
			return devmem_err(-EINVAL,
					  "vram buffer is pinned in vram, which %s cannot reach",
					  device_name(attach->dev));
		ret = vram_evict_locked(buf);
		if (ret)
			return ret;
	}
	buf->pin_count++;
	return 0;
}

static void vram_unpin(struct dma_buf_attachment *attach)
{
	struct vram_buffer *buf = to_vram_buffer(attach->dmabuf);

	vram_assert_held(buf);
	DEVMEM_BUG_ON(!buf->pin_count);
	buf->pin_count--;
}

/* Mark @buf recently used (the LRU decides who is evicted first). */
static void vram_touch(struct vram_buffer *buf)
{
	pthread_mutex_lock(&buf->vram->lock);
	if (!list_empty(&buf->lru_node))
		list_move_tail(&buf->lru_node, &buf->vram->lru);
	pthread_mutex_unlock(&buf->vram->lock);
}

/*
 * Put an unpinned buffer where @attach wants it. A p2p importer gets it in
 * the heap if room can be made (else it stays in system memory: not an
 * error); any other importer needs it in system memory. A move notifies
 * every dynamic importer, @attach included if it is dynamic: that is
 * harmless, since the notification only concerns mappings made before this
 * call (now revoked), and the table this map returns is already at the new
 * place. Resv lock held.
 */
static int vram_place_for(struct vram_buffer *buf, struct dma_buf_attachment *attach)
{
	struct vram_range *range;

	if (buf->pin_count) {
		if (buf->placement == VRAM_PLACEMENT_VRAM && !vram_attach_p2p(attach))
			return devmem_err(-EBUSY,
					  "vram buffer is pinned in vram, which %s cannot reach",
					  device_name(attach->dev));
		return 0;
	}
	if (!vram_attach_p2p(attach))
		return buf->placement == VRAM_PLACEMENT_VRAM ? vram_evict_locked(buf) : 0;
	if (buf->placement == VRAM_PLACEMENT_VRAM) {
		vram_touch(buf);
		return 0;
	}
	if (vram_make_room(buf->vram, buf->dmabuf->size, buf, &range))
		return 0;
	if (vram_restore_locked(buf, range)) {
		pthread_mutex_lock(&buf->vram->lock);
		vram_heap_free(buf->vram, range);
		pthread_mutex_unlock(&buf->vram->lock);
	}
	return 0;
}

/* One sg entry per VRAM_MAX_SEGMENT of the contiguous device range. */
static int vram_fill_sgt(struct sg_table *sgt, dma_addr_t addr, size_t len,
			 enum dma_addr_domain domain)
{
	struct scatterlist *sg;
	unsigned int i;
	size_t seg;
	int ret;

	ret = sg_alloc_table(sgt, DIV_ROUND_UP(len, VRAM_MAX_SEGMENT));
	if (ret)
		return ret;
	for_each_sgtable_dma_sg(sgt, sg, i)
	{
		seg = min(len, VRAM_MAX_SEGMENT);
		sg->dma_address = addr;
		sg->dma_length = (unsigned int)seg;
		sg->domain = domain;
		addr += seg;
		len -= seg;
	}
	return 0;
}

/* Map the buffer where it is now into attach->dev. Resv lock held. */
static int vram_map_device(struct vram_buffer *buf, struct dma_buf_attachment *attach,
			   enum dma_data_direction dir, struct vram_mapping **out)
{
	struct vram_mapping *m;
	int ret;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->len = buf->dmabuf->size;
	if (buf->placement == VRAM_PLACEMENT_VRAM) {
		m->domain = DMA_DOMAIN_P2P;
		m->addr = buf->vram->bus_base + buf->range->start;
		ret = dma_map_p2p(attach->dev, m->addr, m->len, dir);
	} else {
		m->domain = DMA_DOMAIN_IOMMU;
		ret = dma_map_range(attach->dev, buf->sys, m->len, dir, &m->addr);
	}
	if (ret)
		goto err_free;
	ret = vram_fill_sgt(&m->sgt, m->addr, m->len, m->domain);
	if (ret)
		goto err_unmap;
	*out = m;
	return 0;

err_unmap:
	vram_mapping_unmap_device(attach->dev, m);
err_free:
	free(m);
	return ret;
}

static int vram_map_dma_buf(struct dma_buf_attachment *attach, enum dma_data_direction dir,
			    struct sg_table **sgt)
{
	struct vram_buffer *buf = to_vram_buffer(attach->dmabuf);
	struct vram_attachment *va = attach->priv;
	struct vram_mapping *m;
	int ret;

	vram_assert_held(buf);
	if (!va)
		return devmem_err(-EINVAL, "vram: attachment was not made through the exporter");
	ret = vram_place_for(buf, attach);
	if (ret)
		return ret;
	ret = vram_map_device(buf, attach, dir, &m);
	if (ret)
		return ret;
	list_add_tail(&m->node, &va->mappings);
	*sgt = &m->sgt;
	return 0;
}

static void vram_unmap_dma_buf(struct dma_buf_attachment *attach, struct sg_table *sgt,
			       enum dma_data_direction dir)
{
	struct vram_mapping *m = container_of(sgt, struct vram_mapping, sgt);

	vram_assert_held(to_vram_buffer(attach->dmabuf));
	list_del(&m->node);
	if (!m->revoked)
		vram_mapping_unmap_device(attach->dev, m);
	sg_free_table(&m->sgt);
	free(m);
}

static void vram_release(struct dma_buf *dmabuf)
{
	struct vram_buffer *buf = to_vram_buffer(dmabuf);
	struct vram *vram = buf->vram;
	struct dma_fence *last_move;

	/*
	 * Nobody else can reach the buffer now (evictors skip a buffer whose
	 * last reference is gone); the lock orders us after the last mover.
	 */
	dma_resv_lock(dmabuf->resv, NULL);
	DEVMEM_BUG_ON(buf->pin_count);
	last_move = buf->last_move;
	buf->last_move = NULL;
	dma_resv_unlock(dmabuf->resv);

	/* the engine may still be copying into our memory */
	if (last_move) {
		dma_fence_wait(last_move, false);
		dma_fence_put(last_move);
	}

	pthread_mutex_lock(&vram->lock);
	if (buf->range) {
		list_del_init(&buf->lru_node);
		vram_heap_free(vram, buf->range);
	}
	vram->nbuffers--;
	pthread_mutex_unlock(&vram->lock);
	free(buf->sys);
	free(buf);
}

/* The CPU sees both placements; it only has to wait for a move in flight. */
static int vram_wait_moves(struct vram_buffer *buf)
{
	int64_t ret;

	ret = dma_resv_wait_timeout(buf->dmabuf->resv, DMA_RESV_USAGE_KERNEL, false,
				    DMA_FENCE_MAX_TIMEOUT);
	return ret < 0 ? (int)ret : 0;
}

static int vram_begin_cpu_access(struct dma_buf *dmabuf, enum dma_data_direction dir)
{
	return vram_wait_moves(to_vram_buffer(dmabuf));
}

static int vram_end_cpu_access(struct dma_buf *dmabuf, enum dma_data_direction dir)
{
	return 0;
}

/* A CPU mapping pins the buffer: the pointer stays valid until vunmap. */
static int vram_vmap(struct dma_buf *dmabuf, void **vaddr)
{
	struct vram_buffer *buf = to_vram_buffer(dmabuf);
	int ret;

	vram_assert_held(buf);
	ret = vram_wait_moves(buf);
	if (ret)
		return ret;
	buf->pin_count++;
	*vaddr = vram_buffer_cpu(buf);
	return 0;
}

static void vram_vunmap(struct dma_buf *dmabuf, void *vaddr)
{
	struct vram_buffer *buf = to_vram_buffer(dmabuf);

	vram_assert_held(buf);
	DEVMEM_BUG_ON(!buf->pin_count || vaddr != vram_buffer_cpu(buf));
	buf->pin_count--;
}

static const struct dma_buf_ops vram_dma_buf_ops = {
	.attach = vram_attach,
	.detach = vram_detach,
	.pin = vram_pin,
	.unpin = vram_unpin,
	.map_dma_buf = vram_map_dma_buf,
	.unmap_dma_buf = vram_unmap_dma_buf,
	.release = vram_release,
	.begin_cpu_access = vram_begin_cpu_access,
	.end_cpu_access = vram_end_cpu_access,
	.vmap = vram_vmap,
	.vunmap = vram_vunmap,
};

/* ---- buffers --------------------------------------------------------------------------- */

/* Fresh memory for a new buffer: the heap if room can be made, else system memory. */
static int vram_buffer_alloc_memory(struct vram_buffer *buf, size_t size)
{
	struct vram *vram = buf->vram;
	int ret;

	ret = vram_make_room(vram, size, NULL, &buf->range);
	if (ret == -ENOMEM)
		return devmem_err(ret, "vram %s: out of memory", vram->name);
	if (!ret) {
		buf->placement = VRAM_PLACEMENT_VRAM;
		/* the range held someone else's bytes: never hand them out */
		memset((char *)vram->heap + buf->range->start, 0, size);
		return 0;
	}
	buf->sys = vram_sysmem_alloc(size);
	if (!buf->sys)
		return devmem_err(-ENOMEM, "vram %s: no system memory for %zu bytes", vram->name,
				  size);
	buf->placement = VRAM_PLACEMENT_SYSTEM;
	memset(buf->sys, 0, size);
	return 0;
}

static void vram_buffer_free_memory(struct vram_buffer *buf)
{
	if (buf->range) {
		pthread_mutex_lock(&buf->vram->lock);
		vram_heap_free(buf->vram, buf->range);
		pthread_mutex_unlock(&buf->vram->lock);
	}
	free(buf->sys);
}

int devmem_vram_buffer_create(struct vram *vram, size_t size, struct dma_buf **out)
{
	struct dma_buf_export_info info = {
		.exp_name = VRAM_EXP_NAME,
		.ops = &vram_dma_buf_ops,
		.size = size,
		.fd = -1,
	};
	struct vram_buffer *buf;
	struct dma_buf *dmabuf;
	int ret;

	if (!vram || !out)
		return devmem_err(-EINVAL, "vram: NULL vram or out");
	if (!size || !IS_ALIGNED(size, PAGE_SIZE))
		return devmem_err(-EINVAL, "vram buffer size %zu is not a non-zero multiple of %lu",
				  size, PAGE_SIZE);
	buf = calloc(1, sizeof(*buf));
	if (!buf)
		return -ENOMEM;
	buf->vram = vram;
	INIT_LIST_HEAD(&buf->lru_node);
	ret = vram_buffer_alloc_memory(buf, size);
	if (ret)
		goto err_free;

	info.priv = buf;
	ret = dma_buf_export(&info, &dmabuf);
	if (ret)
		goto err_free_memory;
	buf->dmabuf = dmabuf;

	/* only now can it be a victim: evictors need buf->dmabuf */
	pthread_mutex_lock(&vram->lock);
	vram->nbuffers++;
	if (buf->range)
		list_add_tail(&buf->lru_node, &vram->lru);
	pthread_mutex_unlock(&vram->lock);
	*out = dmabuf;
	return 0;

err_free_memory:
	vram_buffer_free_memory(buf);
err_free:
	free(buf);
	return ret;
}

int devmem_vram_buffer_placement(struct dma_buf *dmabuf)
{
	if (!dmabuf || dmabuf->ops != &vram_dma_buf_ops)
		return devmem_err(-EINVAL, "not a vram buffer");
	return vram_placement_get(to_vram_buffer(dmabuf));
}

/* ---- the vram -------------------------------------------------------------------------- */

static int vram_check_opts(const struct vram_opts *opts, uint64_t *bandwidth)
{
	const size_t known = offsetof(struct vram_opts, copy_bandwidth) + sizeof(uint64_t);
	size_t i;

	*bandwidth = 0;
	if (!opts)
		return 0;
	if (opts->sz < known)
		return devmem_err(-EINVAL, "vram_opts.sz %zu is too small", opts->sz);
	/* a newer caller's fields we do not know must be unset */
	for (i = sizeof(*opts); i < opts->sz; i++)
		if (((const char *)opts)[i])
			return devmem_err(-EINVAL, "vram_opts has unknown fields set");
	*bandwidth = opts->copy_bandwidth;
	return 0;
}

static int vram_init_heap(struct vram *vram, size_t capacity)
{
	struct vram_range *all;
	const char *source;
	uint64_t avail = mem_available(&source);
	char want[24], have[24];

	/*
	 * The heap stands for the device's memory, which exists in full: one
	 * the machine cannot hold would fail only as data lands in it, by the
	 * OOM killer. Refuse it now, as a driver refuses a heap it has not.
	 */
	if (capacity > avail)
		return devmem_err(-ENOMEM, "vram: a %s heap cannot be backed: %s available (%s)",
				  mem_fmt(capacity, want, sizeof(want)),
				  mem_fmt(avail, have, sizeof(have)), source);
	vram->heap = aligned_alloc(PAGE_SIZE, capacity);
	if (!vram->heap)
		return devmem_err(-ENOMEM, "vram: no memory for a %zu byte heap", capacity);
	all = malloc(sizeof(*all));
	if (!all) {
		free(vram->heap);
		return -ENOMEM;
	}
	all->start = 0;
	all->size = capacity;
	INIT_LIST_HEAD(&vram->free_list);
	list_add(&all->node, &vram->free_list);
	vram->capacity = capacity;
	return 0;
}

static void vram_fini_heap(struct vram *vram)
{
	struct vram_range *r, *tmp;

	list_for_each_entry_safe(r, tmp, &vram->free_list, node)
		free(r);
	free(vram->heap);
}

static int vram_init_device(struct vram *vram)
{
	struct device_opts dopts = { .sz = sizeof(dopts), .p2p = true };
	int ret;

	ret = device_create(vram->name, &dopts, &vram->dev);
	if (ret)
		return ret;
	ret = device_add_p2p_window(vram->dev, vram->heap, vram->capacity, &vram->bus_base);
	if (ret) {
		device_put(vram->dev);
		return ret;
	}
	return 0;
}

static int vram_init_engine(struct vram *vram)
{
	int ret;

	pthread_mutex_init(&vram->lock, NULL);
	pthread_cond_init(&vram->room_cond, NULL);
	pthread_mutex_init(&vram->engine_lock, NULL);
	pthread_cond_init(&vram->engine_cond, NULL);
	pthread_cond_init(&vram->idle_cond, NULL);
	INIT_LIST_HEAD(&vram->lru);
	INIT_LIST_HEAD(&vram->queue);
	vram->fence_context = dma_fence_context_alloc(1);
	ret = -pthread_create(&vram->engine, NULL, vram_engine_fn, vram);
	if (ret)
		return devmem_err(ret, "vram %s: cannot start the copy engine", vram->name);
	return 0;
}

int devmem_vram_create(const char *name, size_t capacity, const struct vram_opts *opts,
		       struct vram **out)
{
	struct vram *vram;
	uint64_t bandwidth;
	int ret;

	if (!name || !out)
		return devmem_err(-EINVAL, "vram: NULL name or out");
	if (strlen(name) >= VRAM_NAME_LEN)
		return devmem_err(-EINVAL, "vram name longer than %d characters",
				  VRAM_NAME_LEN - 1);
	if (!capacity || !IS_ALIGNED(capacity, PAGE_SIZE))
		return devmem_err(-EINVAL, "vram capacity %zu is not a non-zero multiple of %lu",
				  capacity, PAGE_SIZE);
	ret = vram_check_opts(opts, &bandwidth);
	if (ret)
		return ret;

	vram = calloc(1, sizeof(*vram));
	if (!vram)
		return -ENOMEM;
	snprintf(vram->name, sizeof(vram->name), "%s", name);
	vram->copy_bandwidth = bandwidth;
	ret = vram_init_heap(vram, capacity);
	if (ret)
		goto err_free;
	ret = vram_init_device(vram);
	if (ret)
		goto err_fini_heap;
	ret = vram_init_engine(vram);
	if (ret)
		goto err_put_device;
	*out = vram;
	return 0;

err_put_device:
	device_put(vram->dev);
err_fini_heap:
	vram_fini_heap(vram);
err_free:
	free(vram);
	return ret;
}

void devmem_vram_destroy(struct vram *vram)
{
	if (!vram)
		return;
	pthread_mutex_lock(&vram->lock);
	devmem_assert(!vram->nbuffers, "vram destroyed with live buffers");
	pthread_mutex_unlock(&vram->lock);

	pthread_mutex_lock(&vram->engine_lock);
	vram->stop = true;
	pthread_cond_signal(&vram->engine_cond);
	pthread_mutex_unlock(&vram->engine_lock);
	pthread_join(vram->engine, NULL);

	DEVMEM_BUG_ON(vram->used || vram->pending_free);
	device_put(vram->dev);
	vram_fini_heap(vram);
	pthread_cond_destroy(&vram->idle_cond);
	pthread_cond_destroy(&vram->engine_cond);
	pthread_mutex_destroy(&vram->engine_lock);
	pthread_cond_destroy(&vram->room_cond);
	pthread_mutex_destroy(&vram->lock);
	free(vram);
}

struct device *devmem_vram_device(struct vram *vram)
{
	return vram ? vram->dev : NULL;
}

void devmem_vram_get_stats(struct vram *vram, struct vram_stats *stats)
{
	if (!vram || !stats)
		return;
	pthread_mutex_lock(&vram->lock);
	stats->evictions = vram->evictions;
	stats->restores = vram->restores;
	stats->bytes_moved = vram->bytes_moved;
	stats->used = vram->used;
	stats->capacity = vram->capacity;
	pthread_mutex_unlock(&vram->lock);
}
