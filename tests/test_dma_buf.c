// SPDX-License-Identifier: MIT
/*
 * The dma-buf core's rules, checked through a small test exporter (static or
 * dynamic, with counters) and the host exporter.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "devmem/dma-buf.h"
#include "devmem/error.h"
#include "devmem/host.h"
#include "harness.h"
#include "lib/debug.h"
#include "lib/refcount.h"

#define TEST_SIZE (4 * 4096UL)

/* The test exporter: one page-aligned allocation, mapped as one sg entry. */
struct test_exporter {
	void *mem;
	size_t size;
	int attach_ret; /* what the attach op returns */
	int map_ret; /* what map_dma_buf returns (0: map for real) */
	bool map_saw_lock, unmap_saw_lock;
	/* op calls; the fence threads never touch these */
	int attaches, detaches, pins, unpins, maps, unmaps, vmaps, vunmaps, begins, ends;
	bool released;
};

static int test_attach(struct dma_buf *dmabuf, struct dma_buf_attachment *attach)
{
	struct test_exporter *te = dmabuf->priv;

	te->attaches++;
	return te->attach_ret;
}

static void test_detach(struct dma_buf *dmabuf, struct dma_buf_attachment *attach)
{
	struct test_exporter *te = dmabuf->priv;

	te->detaches++;
}

static int test_pin(struct dma_buf_attachment *attach)
{
	struct test_exporter *te = attach->dmabuf->priv;

	te->pins++;
	return 0;
}

static void test_unpin(struct dma_buf_attachment *attach)
{
	struct test_exporter *te = attach->dmabuf->priv;

	te->unpins++;
}

static int test_map(struct dma_buf_attachment *attach, enum dma_data_direction dir,
		    struct sg_table **out)
{
	struct test_exporter *te = attach->dmabuf->priv;
	struct sg_table *sgt;
	int ret;

	te->map_saw_lock = dma_resv_held(attach->dmabuf->resv);
	if (te->map_ret)
		return te->map_ret;
	sgt = calloc(1, sizeof(*sgt));
	cr_assert_not_null(sgt);
	cr_assert_eq(sg_alloc_table(sgt, 1), 0);
	ret = dma_map_range(attach->dev, te->mem, te->size, dir, &sgt->sgl[0].dma_address);
	if (ret) {
		sg_free_table(sgt);
		free(sgt);
		return ret;
	}
	sgt->sgl[0].dma_length = te->size;
	sgt->sgl[0].domain = DMA_DOMAIN_IOMMU;
	te->maps++;
	*out = sgt;
	return 0;
}

static void test_unmap(struct dma_buf_attachment *attach, struct sg_table *sgt,
		       enum dma_data_direction dir)
{
	struct test_exporter *te = attach->dmabuf->priv;

	te->unmap_saw_lock = dma_resv_held(attach->dmabuf->resv);
	dma_unmap_range(attach->dev, sgt->sgl[0].dma_address, sgt->sgl[0].dma_length);
	sg_free_table(sgt);
	free(sgt);
	te->unmaps++;
}

static void test_release(struct dma_buf *dmabuf)
{
	struct test_exporter *te = dmabuf->priv;

	te->released = true;
}

static int test_begin_cpu(struct dma_buf *dmabuf, enum dma_data_direction dir)
{
	struct test_exporter *te = dmabuf->priv;

	te->begins++;
	return 0;
}

static int test_end_cpu(struct dma_buf *dmabuf, enum dma_data_direction dir)
{
	struct test_exporter *te = dmabuf->priv;

	te->ends++;
	return 0;
}

static int test_vmap(struct dma_buf *dmabuf, void **vaddr)
{
	struct test_exporter *te = dmabuf->priv;

	te->vmaps++;
	*vaddr = te->mem;
	return 0;
}

static void test_vunmap(struct dma_buf *dmabuf, void *vaddr)
{
	struct test_exporter *te = dmabuf->priv;

	te->vunmaps++;
}

static const struct dma_buf_ops test_static_ops = {
	.attach = test_attach,
	.detach = test_detach,
	.map_dma_buf = test_map,
	.unmap_dma_buf = test_unmap,
	.release = test_release,
	.begin_cpu_access = test_begin_cpu,
	.end_cpu_access = test_end_cpu,
	.vmap = test_vmap,
	.vunmap = test_vunmap,
};

static const struct dma_buf_ops test_dynamic_ops = {
	.attach = test_attach,
	.detach = test_detach,
	.pin = test_pin,
	.unpin = test_unpin,
	.map_dma_buf = test_map,
	.unmap_dma_buf = test_unmap,
	.release = test_release,
	.begin_cpu_access = test_begin_cpu,
	.end_cpu_access = test_end_cpu,
	.vmap = test_vmap,
	.vunmap = test_vunmap,
};

static struct dma_buf *test_export(struct test_exporter *te, const struct dma_buf_ops *ops)
{
	DEFINE_DMA_BUF_EXPORT_INFO(info);
	struct dma_buf *dmabuf = NULL;

	info.exp_name = "test";
	info.ops = ops;
	info.size = TEST_SIZE;
	info.priv = te;
	memset(te, 0, sizeof(*te));
	te->size = TEST_SIZE;
	te->mem = aligned_alloc(4096, TEST_SIZE);
	cr_assert_not_null(te->mem);
	cr_assert_eq(dma_buf_export(&info, &dmabuf), 0, "export: %s", devmem_last_error());
	return dmabuf;
}

/* Drop the last reference and the exporter's memory. */
static void test_put(struct test_exporter *te, struct dma_buf *dmabuf)
{
	dma_buf_put(dmabuf);
	cr_assert(te->released);
	free(te->mem);
}

static struct device *test_device(const char *name, bool p2p)
{
	struct device_opts opts = { .sz = sizeof(opts), .p2p = p2p };
	struct device *dev = NULL;

	cr_assert_eq(device_create(name, &opts, &dev), 0, "device_create: %s", devmem_last_error());
	return dev;
}

static unsigned int count_attachments(struct dma_buf *dmabuf)
{
	struct list_head *pos;
	unsigned int n = 0;

	dma_resv_lock(dmabuf->resv, NULL);
	for (pos = dmabuf->attachments.next; pos != &dmabuf->attachments; pos = pos->next)
		n++;
	dma_resv_unlock(dmabuf->resv);
	return n;
}

/* fences */

static const char *test_fence_name(struct dma_fence *fence)
{
	return "test";
}

static const struct dma_fence_ops test_fence_ops = {
	.get_driver_name = test_fence_name,
	.get_timeline_name = test_fence_name,
};

static struct dma_fence *test_fence(void)
{
	struct dma_fence *fence = calloc(1, sizeof(*fence));

	cr_assert_not_null(fence);
	dma_fence_init(fence, &test_fence_ops, dma_fence_context_alloc(1), 1);
	return fence;
}

static void add_fence(struct dma_resv *resv, struct dma_fence *fence, enum dma_resv_usage usage)
{
	dma_resv_lock(resv, NULL);
	cr_assert_eq(dma_resv_reserve_fences(resv, 1), 0);
	dma_resv_add_fence(resv, fence, usage);
	dma_resv_unlock(resv);
}

/* Signals a fence from another thread after a delay. */
struct late_signal {
	pthread_t thread;
	struct dma_fence *fence;
	int delay_ms;
};

static void *late_signal_fn(void *arg)
{
	struct late_signal *ls = arg;
	struct timespec ts = { .tv_nsec = ls->delay_ms * 1000000L };

	nanosleep(&ts, NULL);
	dma_fence_signal(ls->fence);
	return NULL;
}

static void late_signal_start(struct late_signal *ls, struct dma_fence *fence, int delay_ms)
{
	ls->fence = fence;
	ls->delay_ms = delay_ms;
	cr_assert_eq(pthread_create(&ls->thread, NULL, late_signal_fn, ls), 0);
}

static void late_signal_join(struct late_signal *ls)
{
	pthread_join(ls->thread, NULL);
}

/* export and fds */

/* The default export info makes the core create the buffer's file: never stdin. */
Test(dma_buf, default_export_info_gets_a_file_of_its_own)
{
	struct test_exporter te;
	struct dma_buf *dmabuf = test_export(&te, &test_static_ops);
	struct stat st0, stb;

	cr_assert_gt(dmabuf->fd, 2);
	cr_assert_eq(fstat(0, &st0), 0);
	cr_assert_eq(fstat(dmabuf->fd, &stb), 0);
	cr_assert(st0.st_ino != stb.st_ino || st0.st_dev != stb.st_dev);
	cr_assert_eq(dmabuf->ino, (unsigned long)stb.st_ino);
	test_put(&te, dmabuf);
	cr_assert_eq(fstat(0, &st0), 0, "stdin is still open");
}

Test(dma_buf, export_validates_ops)
{
	static const struct dma_buf_ops no_map = { .unmap_dma_buf = test_unmap,
						   .release = test_release };
	static const struct dma_buf_ops no_unmap = { .map_dma_buf = test_map,
						     .release = test_release };
	static const struct dma_buf_ops no_release = { .map_dma_buf = test_map,
						       .unmap_dma_buf = test_unmap };
	static const struct dma_buf_ops pin_only = { .map_dma_buf = test_map,
						     .unmap_dma_buf = test_unmap,
						     .release = test_release,
						     .pin = test_pin };
	static const struct dma_buf_ops unpin_only = { .map_dma_buf = test_map,
						       .unmap_dma_buf = test_unmap,
						       .release = test_release,
						       .unpin = test_unpin };
	const struct dma_buf_ops *bad[] = { NULL,	 &no_map,   &no_unmap,
					    &no_release, &pin_only, &unpin_only };
	struct dma_buf_export_info info = { .exp_name = "bad", .size = 4096, .fd = -1 };
	struct dma_buf *sentinel = (struct dma_buf *)&info, *out;
	unsigned int i;
	int fd;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		info.ops = bad[i];
		out = sentinel;
		cr_assert_eq(dma_buf_export(&info, &out), -EINVAL, "ops variant %u", i);
		cr_assert_eq(out, sentinel, "a failed export wrote its result");
		cr_assert_neq(devmem_last_error()[0], '\0', "no message for variant %u", i);
	}

	/* size 0, with an fd of our own that must stay ours */
	fd = memfd_create("t", MFD_CLOEXEC);
	cr_assert_geq(fd, 0);
	info.ops = &test_static_ops;
	info.priv = &fd;
	info.size = 0;
	info.fd = fd;
	cr_assert_eq(dma_buf_export(&info, &out), -EINVAL);
	cr_assert_neq(fcntl(fd, F_GETFD), -1, "a failed export closed the caller's fd");
	close(fd);
	cr_assert_eq(dma_buf_export(NULL, &out), -EINVAL);
	cr_assert_eq(devmem_test_live_dma_bufs(), 0);
}

/* dma_buf_export() refuses an exporter that gives no private data, like its missing ops. */
Test(dma_buf, export_requires_priv)
{
	struct dma_buf_export_info info = {
		.exp_name = "nopriv", .ops = &test_static_ops, .size = 4096, .fd = -1
	};
	struct dma_buf *sentinel = (struct dma_buf *)&info, *out = sentinel;

	cr_assert_eq(dma_buf_export(&info, &out), -EINVAL);
	cr_assert_eq(out, sentinel, "a failed export wrote its result");
	cr_assert_eq(devmem_test_live_dma_bufs(), 0);
}

Test(dma_buf, export_refuses_a_file_that_already_backs_a_buffer)
{
	struct test_exporter te;
	struct dma_buf *dmabuf = test_export(&te, &test_static_ops), *out = NULL;
	struct dma_buf_export_info info = { .exp_name = "twin",
					    .ops = &test_static_ops,
					    .size = 4096,
					    .priv = &te,
					    .fd = dma_buf_fd(dmabuf, O_CLOEXEC) };

	cr_assert_geq(info.fd, 0);
	cr_assert_eq(dma_buf_export(&info, &out), -EINVAL);
	cr_assert_null(out);
	cr_assert_eq(devmem_test_live_dma_bufs(), 1);
	close(info.fd);
	test_put(&te, dmabuf);
}

Test(dma_buf, every_buffer_has_a_real_fd)
{
	struct test_exporter te;
	struct dma_buf *dmabuf = test_export(&te, &test_static_ops), *host;
	struct stat st, st2;
	int fd, fd2;

	cr_assert_geq(dmabuf->fd, 0);
	cr_assert_eq(fstat(dmabuf->fd, &st), 0);
	cr_assert_eq(dmabuf->ino, (unsigned long)st.st_ino);

	/* dma_buf_fd: a new fd on the same file, close-on-exec as asked */
	fd = dma_buf_fd(dmabuf, O_CLOEXEC);
	fd2 = dma_buf_fd(dmabuf, 0);
	cr_assert_geq(fd, 0);
	cr_assert_geq(fd2, 0);
	cr_assert_neq(fd, dmabuf->fd);
	cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	cr_assert_not(fcntl(fd2, F_GETFD) & FD_CLOEXEC);
	cr_assert_eq(fstat(fd, &st2), 0);
	cr_assert_eq(st2.st_ino, st.st_ino);
	close(fd);
	close(fd2);
	cr_assert_eq(dma_buf_fd(NULL, 0), -EINVAL);

	/* the host exporter's file is its memfd */
	cr_assert_eq(devmem_host_buffer_create(4096, NULL, &host), 0);
	cr_assert_geq(fcntl(host->fd, F_GET_SEALS), 0);
	cr_assert_neq(host->ino, dmabuf->ino);
	dma_buf_put(host);
	test_put(&te, dmabuf);
}

Test(dma_buf, get_finds_the_buffer_behind_any_fd)
{
	struct test_exporter te;
	struct dma_buf *dmabuf = test_export(&te, &test_static_ops), *got;
	int fd = dma_buf_fd(dmabuf, O_CLOEXEC), fd2 = dup(fd);

	cr_assert_eq(dma_buf_get(fd, &got), 0);
	cr_assert_eq(got, dmabuf);
	cr_assert_eq(dma_buf_get(fd2, &got), 0);
	cr_assert_eq(got, dmabuf);
	cr_assert_eq(dma_buf_get(dmabuf->fd, &got), 0);
	cr_assert_eq(got, dmabuf);
	cr_assert_eq(kref_read(&dmabuf->refcount), 4);
	dma_buf_put(got);
	dma_buf_put(got);
	dma_buf_put(got);
	close(fd);
	close(fd2);
	test_put(&te, dmabuf);
}

Test(dma_buf, get_rejects_non_dmabuf_fd)
{
	struct dma_buf *sentinel = (struct dma_buf *)&sentinel, *out = sentinel;
	int pipefd[2];
	FILE *tmp = tmpfile();

	cr_assert_eq(pipe(pipefd), 0);
	cr_assert_eq(dma_buf_get(pipefd[0], &out), -EINVAL);
	cr_assert_eq(out, sentinel);
	cr_assert_not_null(tmp);
	cr_assert_eq(dma_buf_get(fileno(tmp), &out), -EINVAL);
	cr_assert_eq(out, sentinel);
	close(pipefd[0]);
	close(pipefd[1]);
	fclose(tmp);
	cr_assert_eq(devmem_test_live_dma_bufs(), 0);
}

Test(dma_buf, get_rejects_closed_fd)
{
	struct dma_buf *out = NULL;
	int fd = memfd_create("t", MFD_CLOEXEC);

	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(dma_buf_get(fd, &out), -EBADF);
	cr_assert_eq(dma_buf_get(-1, &out), -EBADF);
	cr_assert_null(out);
}

Test(dma_buf, release_on_last_put)
{
	struct test_exporter te;
	struct dma_buf *dmabuf = test_export(&te, &test_static_ops), *out = NULL;
	int fd = dma_buf_fd(dmabuf, O_CLOEXEC), fd2 = dma_buf_fd(dmabuf, O_CLOEXEC);

	get_dma_buf(dmabuf);
	dma_buf_put(dmabuf);
	cr_assert_not(te.released);
	/* closing an fd frees nothing: references keep the buffer */
	close(fd2);
	cr_assert_not(te.released);
	cr_assert_eq(devmem_test_live_dma_bufs(), 1);
	test_put(&te, dmabuf);
	cr_assert_eq(devmem_test_live_dma_bufs(), 0);
	/* the file outlives the buffer in our fd, but is a dma-buf no more */
	cr_assert_eq(dma_buf_get(fd, &out), -EINVAL);
	cr_assert_null(out);
	close(fd);
	dma_buf_put(NULL);
}

/* attachments */

static void count_move_notify(struct dma_buf_attachment *attach)
{
	int *calls = attach->importer_priv;

	cr_assert(dma_resv_held(attach->dmabuf->resv), "move_notify without the resv lock");
	(*calls)++;
}

static const struct dma_buf_attach_ops p2p_importer = { .allow_peer2peer = true,
							.move_notify = count_move_notify };
static const struct dma_buf_attach_ops plain_importer = { .move_notify = count_move_notify };

Test(dma_buf, dynamic_attach_requires_move_notify)
{
	static const struct dma_buf_attach_ops no_notify = { .allow_peer2peer = true };
	struct test_exporter te;
	struct dma_buf *dmabuf = test_export(&te, &test_dynamic_ops);
	struct device *dev = test_device("nic", true);
	struct dma_buf_attachment *attach = NULL;

	cr_assert_eq(dma_buf_dynamic_attach(dmabuf, dev, &no_notify, NULL, &attach), -EINVAL);
	cr_assert_null(attach);
	cr_assert_eq(te.attaches, 0, "the exporter saw a refused attach");
	cr_assert_eq(count_attachments(dmabuf), 0);

	cr_assert_eq(dma_buf_dynamic_attach(dmabuf, dev, &plain_importer, NULL, &attach), 0);
	cr_assert(dma_buf_attachment_is_dynamic(attach));
	cr_assert_eq(te.attaches, 1);
	dma_buf_detach(dmabuf, attach);
	cr_assert_eq(te.detaches, 1);
	device_put(dev);
	test_put(&te, dmabuf);
}

/* The kernel's dma_buf_attach() is dma_buf_dynamic_attach() without importer ops. */
Test(dma_buf, dynamic_attach_without_importer_ops_is_static)
{
	struct test_exporter te;
	struct dma_buf *dmabuf = test_export(&te, &test_dynamic_ops);
	struct device *dev = test_device("nic", true);
	struct dma_buf_attachment *attach = NULL;
	struct sg_table *sgt;

	cr_assert_eq(dma_buf_dynamic_attach(dmabuf, dev, NULL, NULL, &attach), 0);
	cr_assert_not_null(attach);
	cr_assert_not(dma_buf_attachment_is_dynamic(attach));
	cr_assert_not(attach->peer2peer);
	cr_assert_eq(te.attaches, 1);
	/* static: mapping pins the dynamic exporter's buffer */
	cr_assert_eq(dma_buf_map_attachment_unlocked(attach, DMA_TO_DEVICE, &sgt), 0);
	cr_assert_eq(te.pins, 1);
	dma_buf_unmap_attachment_unlocked(attach, sgt, DMA_TO_DEVICE);
	cr_assert_eq(te.unpins, 1);
	dma_buf_detach(dmabuf, attach);
	device_put(dev);
	test_put(&te, dmabuf);
}

Test(dma_buf, static_attach_never_peer2peer)
{
	struct test_exporter te;
	struct dma_buf *dmabuf = test_export(&te, &test_dynamic_ops);
	struct device *dev = test_device("gpu", true);
	struct dma_buf_attachment *attach;

	cr_assert_eq(dma_buf_attach(dmabuf, dev, &attach), 0);
	cr_assert_not(attach->peer2peer);
	cr_assert_not(dma_buf_attachment_is_dynamic(attach));
	cr_assert_eq(attach->dev, dev);
	cr_assert_eq(attach->dmabuf, dmabuf);
	cr_assert_eq(count_attachments(dmabuf), 1);
	dma_buf_detach(dmabuf, attach);
	cr_assert_eq(count_attachments(dmabuf), 0);
	device_put(dev);
	test_put(&te, dmabuf);
}

Test(dma_buf, p2p_only_when_importer_allows)
{
	struct test_exporter te;
	struct dma_buf *dmabuf = test_export(&te, &test_dynamic_ops);
	struct device *p2p_dev = test_device("p2p", true), *plain_dev = test_device("plain", false);
	struct dma_buf_attachment *a, *b, *c;

	cr_assert_eq(dma_buf_dynamic_attach(dmabuf, p2p_dev, &p2p_importer, NULL, &a), 0);
	cr_assert_eq(dma_buf_dynamic_attach(dmabuf, p2p_dev, &plain_importer, NULL, &b), 0);
	cr_assert_eq(dma_buf_dynamic_attach(dmabuf, plain_dev, &p2p_importer, NULL, &c), 0);
	cr_assert(a->peer2peer, "importer allows and device can: p2p");
	cr_assert_not(b->peer2peer, "importer does not allow: no p2p");
	cr_assert_not(c->peer2peer, "device cannot reach peers: no p2p");
	dma_buf_detach(dmabuf, c);
	dma_buf_detach(dmabuf, b);
	dma_buf_detach(dmabuf, a);
	device_put(plain_dev);
	device_put(p2p_dev);
	test_put(&te, dmabuf);
}

Test(dma_buf, exporter_attach_failure_unwinds)
{
	struct test_exporter te;
	struct dma_buf *dmabuf = test_export(&te, &test_static_ops);
	struct device *dev = test_device("nic", false);
	struct dma_buf_attachment *attach = NULL;

	te.attach_ret = -ENOSPC;
	cr_assert_eq(dma_buf_attach(dmabuf, dev, &attach), -ENOSPC);
	cr_assert_eq(dma_buf_dynamic_attach(dmabuf, dev, &plain_importer, NULL, &attach), -ENOSPC);
	cr_assert_null(attach);
	cr_assert_eq(te.attaches, 2);
	cr_assert_eq(te.detaches, 0);
	cr_assert_eq(count_attachments(dmabuf), 0);
	/* the device reference taken for the attachment was dropped (ASan sees a leak if not) */
	device_put(dev);
	test_put(&te, dmabuf);
}

#if DEVMEM_DEBUG
Test(dma_buf, detach_with_live_mapping_aborts, .signal = SIGABRT)
{
	struct test_exporter te;
	struct dma_buf *dmabuf = test_export(&te, &test_static_ops);
	struct device *dev = test_device("nic", false);
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;

	cr_assert_eq(dma_buf_attach(dmabuf, dev, &attach), 0);
	cr_assert_eq(dma_buf_map_attachment_unlocked(attach, DMA_TO_DEVICE, &sgt), 0);
	dma_buf_detach(dmabuf, attach);
}
#else
Test(dma_buf, detach_with_live_mapping_aborts)
{
	cr_skip_test("locking and lifetime assertions are compiled out (NDEBUG)");
}
#endif

/* pin, map, unmap */

Test(dma_buf, pin_requires_dynamic_attachment)
{
	struct test_exporter te;
	struct dma_buf *dmabuf = test_export(&te, &test_dynamic_ops);
	struct device *dev = test_device("nic", false);
	struct dma_buf_attachment *st, *dyn;

	cr_assert_eq(dma_buf_attach(dmabuf, dev, &st), 0);
	cr_assert_eq(dma_buf_dynamic_attach(dmabuf, dev, &plain_importer, NULL, &dyn), 0);
	dma_resv_lock(dmabuf->resv, NULL);
	cr_assert_eq(dma_buf_pin(st), -EINVAL);
	cr_assert_eq(te.pins, 0);
	cr_assert_eq(dma_buf_pin(dyn), 0);
	cr_assert_eq(te.pins, 1);
	cr_assert_eq(dyn->pin_count, 1);
	dma_buf_unpin(dyn);
	cr_assert_eq(te.unpins, 1);
	cr_assert_eq(dyn->pin_count, 0);
	dma_resv_unlock(dmabuf->resv);
	dma_buf_detach(dmabuf, dyn);
	dma_buf_detach(dmabuf, st);
	device_put(dev);
	test_put(&te, dmabuf);
}

Test(dma_buf, pin_of_static_exporter_is_a_no_op)
{
	struct test_exporter te;
	struct dma_buf *dmabuf = test_export(&te, &test_static_ops);
	struct device *dev = test_device("nic", false);
	struct dma_buf_attachment *dyn;

	cr_assert_not(dma_buf_is_dynamic(dmabuf));
	cr_assert_eq(dma_buf_dynamic_attach(dmabuf, dev, &plain_importer, NULL, &dyn), 0);
	dma_resv_lock(dmabuf->resv, NULL);
	cr_assert_eq(dma_buf_pin(dyn), 0);
	dma_buf_unpin(dyn);
	dma_resv_unlock(dmabuf->resv);
	dma_buf_detach(dmabuf, dyn);
	device_put(dev);
	test_put(&te, dmabuf);
}

#if DEVMEM_DEBUG
Test(dma_buf, map_without_resv_lock_aborts, .signal = SIGABRT)
{
	struct test_exporter te;
	struct dma_buf *dmabuf = test_export(&te, &test_static_ops);
	struct device *dev = test_device("nic", false);
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;

	cr_assert_eq(dma_buf_attach(dmabuf, dev, &attach), 0);
	dma_buf_map_attachment(attach, DMA_TO_DEVICE, &sgt);
}
#else
Test(dma_buf, map_without_resv_lock_aborts)
{
	cr_skip_test("locking assertions are compiled out (NDEBUG)");
}
#endif

#if DEVMEM_DEBUG
/* dma_buf_pin(), like the kernel's, asserts the resv lock (dma_resv_assert_held). */
Test(dma_buf, pin_without_resv_lock_aborts, .signal = SIGABRT)
{
	struct test_exporter te;
	struct dma_buf *dmabuf = test_export(&te, &test_dynamic_ops);
	struct device *dev = test_device("nic", false);
	struct dma_buf_attachment *dyn;

	cr_assert_eq(dma_buf_dynamic_attach(dmabuf, dev, &plain_importer, NULL, &dyn), 0);
	dma_buf_pin(dyn);
}

/* dma_buf_vmap(), like the kernel's, asserts the resv lock. */
Test(dma_buf, vmap_without_resv_lock_aborts, .signal = SIGABRT)
{
	struct test_exporter te;
	struct dma_buf *dmabuf = test_export(&te, &test_static_ops);
	void *vaddr;

	dma_buf_vmap(dmabuf, &vaddr);
}
#else
Test(dma_buf, pin_without_resv_lock_aborts)
{
	cr_skip_test("locking assertions are compiled out (NDEBUG)");
}

Test(dma_buf, vmap_without_resv_lock_aborts)
{
	cr_skip_test("locking assertions are compiled out (NDEBUG)");
}
#endif

Test(dma_buf, map_unlocked_takes_the_lock)
{
	struct test_exporter te;
	struct dma_buf *dmabuf = test_export(&te, &test_static_ops);
	struct device *dev = test_device("nic", false);
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;

	cr_assert_eq(dma_buf_attach(dmabuf, dev, &attach), 0);
	cr_assert_eq(dma_buf_map_attachment_unlocked(attach, DMA_BIDIRECTIONAL, &sgt), 0);
	cr_assert(te.map_saw_lock, "map_dma_buf ran without the resv lock");
	cr_assert_not(dma_resv_is_locked(dmabuf->resv), "the lock was not dropped");
	cr_assert_eq(attach->map_count, 1);
	dma_buf_unmap_attachment_unlocked(attach, sgt, DMA_BIDIRECTIONAL);
	cr_assert(te.unmap_saw_lock, "unmap_dma_buf ran without the resv lock");
	cr_assert_not(dma_resv_is_locked(dmabuf->resv));
	cr_assert_eq(attach->map_count, 0);
	dma_buf_detach(dmabuf, attach);
	device_put(dev);
	test_put(&te, dmabuf);
}

Test(dma_buf, map_refuses_dma_none)
{
	struct test_exporter te;
	struct dma_buf *dmabuf = test_export(&te, &test_dynamic_ops);
	struct device *dev = test_device("nic", false);
	struct dma_buf_attachment *attach;
	struct sg_table *sgt = NULL;

	cr_assert_eq(dma_buf_attach(dmabuf, dev, &attach), 0);
	cr_assert_eq(dma_buf_map_attachment_unlocked(attach, DMA_NONE, &sgt), -EINVAL);
	cr_assert_null(sgt);
	cr_assert_eq(te.maps + te.pins, 0, "the exporter was asked for a DMA_NONE mapping");
	cr_assert_eq(attach->map_count, 0);
	dma_buf_detach(dmabuf, attach);
	device_put(dev);
	test_put(&te, dmabuf);
}

Test(dma_buf, sg_table_holds_device_addresses)
{
	struct host_buffer_opts opts = { .sz = sizeof(opts), .max_segment = 4096 };
	struct device *dev = test_device("nic", false);
	size_t before = device_mapped_bytes(dev), size = 16 * 4096, offset = 0;
	struct dma_buf_attachment *attach;
	struct dma_buf *dmabuf;
	struct scatterlist *sg;
	struct sg_table *sgt;
	unsigned char *cpu, *seen = malloc(size);
	unsigned int i;

	cr_assert_eq(devmem_host_buffer_create(size, &opts, &dmabuf), 0);
	cr_assert_eq(dma_buf_vmap_unlocked(dmabuf, (void **)&cpu), 0);
	for (i = 0; i < size; i++)
		cpu[i] = (unsigned char)(i * 7 + 3);
	cr_assert_eq(dma_buf_attach(dmabuf, dev, &attach), 0);
	cr_assert_eq(dma_buf_map_attachment_unlocked(attach, DMA_TO_DEVICE, &sgt), 0);
	cr_assert_eq(sg_table_size(sgt), size);
	cr_assert_eq(sgt->nents, 16);
	cr_assert_gt(device_mapped_bytes(dev), before);
	for_each_sgtable_dma_sg(sgt, sg, i)
	{
		cr_assert_eq(sg->domain, DMA_DOMAIN_IOMMU);
		cr_assert_eq(device_access(dev, sg_dma_address(sg), seen + offset, sg_dma_len(sg),
					   DMA_TO_DEVICE),
			     0, "entry %u is not a device address of the importer", i);
		offset += sg_dma_len(sg);
	}
	cr_assert_eq(memcmp(seen, cpu, size), 0, "the device read other bytes than the buffer's");
	dma_buf_unmap_attachment_unlocked(attach, sgt, DMA_TO_DEVICE);
	cr_assert_eq(device_mapped_bytes(dev), before);
	dma_buf_detach(dmabuf, attach);
	dma_buf_vunmap_unlocked(dmabuf, cpu);
	dma_buf_put(dmabuf);
	device_put(dev);
	free(seen);
}

Test(dma_buf, static_importer_of_dynamic_exporter_pins_and_waits_kernel_fences)
{
	struct test_exporter te;
	struct dma_buf *dmabuf = test_export(&te, &test_dynamic_ops);
	struct device *dev = test_device("nic", false);
	struct dma_fence *move = test_fence(), *reader = test_fence();
	struct dma_buf_attachment *st, *dyn;
	struct late_signal ls;
	struct sg_table *sgt, *dsgt;

	cr_assert(dma_buf_is_dynamic(dmabuf));
	/* a move in flight, and a reader a static importer need not wait for */
	add_fence(dmabuf->resv, move, DMA_RESV_USAGE_KERNEL);
	add_fence(dmabuf->resv, reader, DMA_RESV_USAGE_READ);
	cr_assert_eq(dma_buf_attach(dmabuf, dev, &st), 0);
	cr_assert_eq(dma_buf_dynamic_attach(dmabuf, dev, &plain_importer, NULL, &dyn), 0);

	/* a dynamic importer maps without pinning and without waiting */
	cr_assert_eq(dma_buf_map_attachment_unlocked(dyn, DMA_TO_DEVICE, &dsgt), 0);
	cr_assert_eq(te.pins, 0);
	cr_assert_not(dma_fence_is_signaled(move));

	late_signal_start(&ls, move, 50);
	cr_assert_eq(dma_buf_map_attachment_unlocked(st, DMA_TO_DEVICE, &sgt), 0);
	cr_assert(dma_fence_is_signaled(move), "the static map returned before the move finished");
	cr_assert_not(dma_fence_is_signaled(reader));
	cr_assert_eq(te.pins, 1);
	cr_assert_eq(te.unpins, 0);
	late_signal_join(&ls);

	dma_buf_unmap_attachment_unlocked(st, sgt, DMA_TO_DEVICE);
	cr_assert_eq(te.unpins, 1, "unmapping a static importer did not unpin");
	dma_buf_unmap_attachment_unlocked(dyn, dsgt, DMA_TO_DEVICE);
	cr_assert_eq(te.unpins, 1);

	/* a failing map unpins again */
	te.map_ret = -ENOMEM;
	cr_assert_eq(dma_buf_map_attachment_unlocked(st, DMA_TO_DEVICE, &sgt), -ENOMEM);
	cr_assert_eq(te.pins, 2);
	cr_assert_eq(te.unpins, 2);
	cr_assert_eq(st->map_count, 0);

	dma_fence_signal(reader);
	dma_buf_detach(dmabuf, dyn);
	dma_buf_detach(dmabuf, st);
	dma_fence_put(reader);
	dma_fence_put(move);
	device_put(dev);
	test_put(&te, dmabuf);
}

/* A static importer waits for the KERNEL fences whoever the exporter is. */
Test(dma_buf, static_importer_of_static_exporter_waits_kernel_fences)
{
	struct test_exporter te;
	struct dma_buf *dmabuf = test_export(&te, &test_static_ops);
	struct device *dev = test_device("nic", false);
	struct dma_fence *clear = test_fence(), *writer = test_fence();
	struct dma_buf_attachment *st, *dyn;
	struct sg_table *sgt, *dsgt;
	struct late_signal ls;

	cr_assert_not(dma_buf_is_dynamic(dmabuf));
	add_fence(dmabuf->resv, clear, DMA_RESV_USAGE_KERNEL);
	add_fence(dmabuf->resv, writer, DMA_RESV_USAGE_WRITE);
	cr_assert_eq(dma_buf_attach(dmabuf, dev, &st), 0);
	cr_assert_eq(dma_buf_dynamic_attach(dmabuf, dev, &plain_importer, NULL, &dyn), 0);

	/* a dynamic importer does not wait */
	cr_assert_eq(dma_buf_map_attachment_unlocked(dyn, DMA_FROM_DEVICE, &dsgt), 0);
	cr_assert_not(dma_fence_is_signaled(clear));

	late_signal_start(&ls, clear, 50);
	cr_assert_eq(dma_buf_map_attachment_unlocked(st, DMA_FROM_DEVICE, &sgt), 0);
	cr_assert(dma_fence_is_signaled(clear),
		  "the static map returned before the clear finished");
	cr_assert_not(dma_fence_is_signaled(writer), "the static map waited for a WRITE fence");
	cr_assert_eq(te.pins + te.unpins, 0, "a static exporter was asked to pin");
	late_signal_join(&ls);

	dma_buf_unmap_attachment_unlocked(st, sgt, DMA_FROM_DEVICE);
	dma_buf_unmap_attachment_unlocked(dyn, dsgt, DMA_FROM_DEVICE);
	dma_fence_signal(writer);
	dma_buf_detach(dmabuf, dyn);
	dma_buf_detach(dmabuf, st);
	dma_fence_put(writer);
	dma_fence_put(clear);
	device_put(dev);
	test_put(&te, dmabuf);
}

/* move_notify */

#if DEVMEM_DEBUG
Test(dma_buf, move_notify_requires_lock, .signal = SIGABRT)
{
	struct test_exporter te;
	struct dma_buf *dmabuf = test_export(&te, &test_dynamic_ops);

	dma_buf_move_notify(dmabuf);
}
#else
Test(dma_buf, move_notify_requires_lock)
{
	cr_skip_test("locking assertions are compiled out (NDEBUG)");
}
#endif

Test(dma_buf, move_notify_reaches_every_dynamic_attachment)
{
	struct test_exporter te;
	struct dma_buf *dmabuf = test_export(&te, &test_dynamic_ops);
	struct device *dev = test_device("nic", true);
	struct dma_buf_attachment *a, *b, *st;
	int calls_a = 0, calls_b = 0;

	cr_assert_eq(dma_buf_dynamic_attach(dmabuf, dev, &p2p_importer, &calls_a, &a), 0);
	cr_assert_eq(dma_buf_attach(dmabuf, dev, &st), 0);
	cr_assert_eq(dma_buf_dynamic_attach(dmabuf, dev, &plain_importer, &calls_b, &b), 0);
	dma_resv_lock(dmabuf->resv, NULL);
	dma_buf_move_notify(dmabuf);
	dma_resv_unlock(dmabuf->resv);
	cr_assert_eq(calls_a, 1);
	cr_assert_eq(calls_b, 1);
	/* the static importer has no move_notify: nothing else was called */
	dma_buf_detach(dmabuf, b);
	dma_resv_lock(dmabuf->resv, NULL);
	dma_buf_move_notify(dmabuf);
	dma_resv_unlock(dmabuf->resv);
	cr_assert_eq(calls_a, 2);
	cr_assert_eq(calls_b, 1, "a detached importer was notified");
	dma_buf_detach(dmabuf, st);
	dma_buf_detach(dmabuf, a);
	device_put(dev);
	test_put(&te, dmabuf);
}

/* CPU access */

Test(dma_buf, cpu_access_waits_for_conflicting_fences)
{
	struct test_exporter te;
	struct dma_buf *dmabuf = test_export(&te, &test_static_ops);
	struct dma_fence *writer = test_fence(), *reader = test_fence(), *bookkeep = test_fence();
	struct late_signal ls;

	add_fence(dmabuf->resv, reader, DMA_RESV_USAGE_READ);
	add_fence(dmabuf->resv, bookkeep, DMA_RESV_USAGE_BOOKKEEP);

	/* a CPU read does not wait for readers */
	cr_assert_eq(dma_buf_begin_cpu_access(dmabuf, DMA_FROM_DEVICE), 0);
	cr_assert_not(dma_fence_is_signaled(reader));
	cr_assert_eq(dma_buf_end_cpu_access(dmabuf, DMA_FROM_DEVICE), 0);
	cr_assert_eq(te.begins, 1);
	cr_assert_eq(te.ends, 1);

	/* a CPU write waits for readers (and never for BOOKKEEP fences) */
	late_signal_start(&ls, reader, 30);
	cr_assert_eq(dma_buf_begin_cpu_access(dmabuf, DMA_TO_DEVICE), 0);
	cr_assert(dma_fence_is_signaled(reader), "a CPU write started under a device read");
	cr_assert_not(dma_fence_is_signaled(bookkeep));
	late_signal_join(&ls);
	cr_assert_eq(dma_buf_end_cpu_access(dmabuf, DMA_TO_DEVICE), 0);

	/* a CPU read waits for writers */
	add_fence(dmabuf->resv, writer, DMA_RESV_USAGE_WRITE);
	late_signal_start(&ls, writer, 30);
	cr_assert_eq(dma_buf_begin_cpu_access(dmabuf, DMA_FROM_DEVICE), 0);
	cr_assert(dma_fence_is_signaled(writer), "a CPU read started under a device write");
	late_signal_join(&ls);
	cr_assert_eq(dma_buf_end_cpu_access(dmabuf, DMA_FROM_DEVICE), 0);

	cr_assert_eq(dma_buf_begin_cpu_access(dmabuf, DMA_NONE), -EINVAL);
	cr_assert_eq(dma_buf_end_cpu_access(dmabuf, DMA_NONE), -EINVAL);
	cr_assert_eq(te.begins, 3);
	cr_assert_eq(te.ends, 3);

	dma_fence_signal(bookkeep);
	dma_fence_put(bookkeep);
	dma_fence_put(reader);
	dma_fence_put(writer);
	test_put(&te, dmabuf);
}

/* vmap */

Test(dma_buf, vmap_is_refcounted)
{
	static const struct dma_buf_ops no_vmap = { .map_dma_buf = test_map,
						    .unmap_dma_buf = test_unmap,
						    .release = test_release };
	struct test_exporter te, te2;
	struct dma_buf *dmabuf = test_export(&te, &test_static_ops);
	struct dma_buf *plain = test_export(&te2, &no_vmap);
	void *a, *b, *c = &c;

	cr_assert_eq(dma_buf_vmap_unlocked(dmabuf, &a), 0);
	cr_assert_eq(dma_buf_vmap_unlocked(dmabuf, &b), 0);
	cr_assert_eq(a, te.mem);
	cr_assert_eq(a, b);
	cr_assert_eq(te.vmaps, 1, "the second vmap asked the exporter again");
	cr_assert_eq(dmabuf->vmapping_counter, 2);
	dma_buf_vunmap_unlocked(dmabuf, a);
	cr_assert_eq(te.vunmaps, 0);
	dma_buf_vunmap_unlocked(dmabuf, b);
	cr_assert_eq(te.vunmaps, 1);
	cr_assert_eq(dmabuf->vmapping_counter, 0);
	cr_assert_null(dmabuf->vmap_ptr);

	cr_assert_eq(dma_buf_vmap_unlocked(plain, &c), -EINVAL);
	cr_assert_null(c);
	cr_assert_eq(plain->vmapping_counter, 0);
	test_put(&te2, plain);
	test_put(&te, dmabuf);
}

/* names, ioctls, debug views */

Test(dma_buf, set_name_limits)
{
	struct test_exporter te;
	struct dma_buf *dmabuf = test_export(&te, &test_static_ops);
	char longest[DMA_BUF_NAME_LEN], too_long[DMA_BUF_NAME_LEN + 1], name[DMA_BUF_NAME_LEN];
	char small[4];

	dma_buf_get_name(dmabuf, name, sizeof(name));
	cr_assert_str_empty(name);
	memset(longest, 'a', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	memset(too_long, 'b', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = '\0';

	cr_assert_eq(dma_buf_set_name(dmabuf, longest), 0);
	dma_buf_get_name(dmabuf, name, sizeof(name));
	cr_assert_str_eq(name, longest);
	cr_assert_eq(dma_buf_set_name(dmabuf, too_long), -EINVAL);
	cr_assert_eq(dma_buf_set_name(dmabuf, NULL), -EINVAL);
	dma_buf_get_name(dmabuf, name, sizeof(name));
	cr_assert_str_eq(name, longest, "a refused name changed the name");
	dma_buf_get_name(dmabuf, small, sizeof(small));
	cr_assert_str_eq(small, "aaa");
	cr_assert_eq(dma_buf_set_name(dmabuf, ""), 0);
	dma_buf_get_name(dmabuf, name, sizeof(name));
	cr_assert_str_empty(name);
	test_put(&te, dmabuf);
}

Test(dma_buf, ioctl_sync_flags)
{
	static const __u64 good[] = {
		DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ,	 DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ,
		DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE,
		DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW,	 DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW,
	};
	static const __u64 bad[] = { DMA_BUF_SYNC_START, DMA_BUF_SYNC_END, 8, DMA_BUF_SYNC_READ | 8,
				     DMA_BUF_SYNC_RW | (1ULL << 40) };
	struct test_exporter te;
	struct dma_buf *dmabuf = test_export(&te, &test_static_ops);
	int fd = dma_buf_fd(dmabuf, O_CLOEXEC), pipefd[2];
	struct dma_buf_sync sync;
	char name[DMA_BUF_NAME_LEN];
	unsigned int i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		sync.flags = good[i];
		cr_assert_eq(dma_buf_ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync), 0, "flags %#llx",
			     (unsigned long long)good[i]);
	}
	cr_assert_eq(te.begins, 3);
	cr_assert_eq(te.ends, 3);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sync.flags = bad[i];
		cr_assert_eq(dma_buf_ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync), -EINVAL, "flags %#llx",
			     (unsigned long long)bad[i]);
	}
	cr_assert_eq(te.begins + te.ends, 6, "a refused sync reached the exporter");
	cr_assert_eq(dma_buf_ioctl(fd, DMA_BUF_IOCTL_SYNC, NULL), -EFAULT);

	cr_assert_eq(dma_buf_ioctl(fd, DMA_BUF_SET_NAME, "from-ioctl"), 0);
	dma_buf_get_name(dmabuf, name, sizeof(name));
	cr_assert_str_eq(name, "from-ioctl");
	cr_assert_eq(dma_buf_ioctl(fd, DMA_BUF_SET_NAME_A, "a"), 0);
	cr_assert_eq(dma_buf_ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, NULL), -ENOTTY);
	cr_assert_eq(dma_buf_ioctl(fd, 0x1234, NULL), -ENOTTY);

	cr_assert_eq(pipe(pipefd), 0);
	sync.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ;
	close(pipefd[0]);
	close(pipefd[1]);
	cr_assert_eq(dma_buf_ioctl(pipefd[0], DMA_BUF_IOCTL_SYNC, &sync), -EBADF);
	cr_assert_eq(kref_read(&dmabuf->refcount), 1, "an ioctl kept a reference");
	close(fd);
	test_put(&te, dmabuf);
}

/* ioctl() on a file that is not a dma-buf is answered by that file: it knows no such request. */
Test(dma_buf, ioctl_on_a_file_that_is_not_a_dma_buf_is_enotty)
{
	struct dma_buf_sync sync = { .flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ };
	FILE *tmp = tmpfile();
	int pipefd[2];

	cr_assert_eq(pipe(pipefd), 0);
	cr_assert_not_null(tmp);
	cr_assert_eq(dma_buf_ioctl(pipefd[0], DMA_BUF_IOCTL_SYNC, &sync), -ENOTTY);
	cr_assert_eq(dma_buf_ioctl(fileno(tmp), DMA_BUF_SET_NAME, "x"), -ENOTTY);
	close(pipefd[0]);
	close(pipefd[1]);
	fclose(tmp);
	cr_assert_eq(devmem_test_live_dma_bufs(), 0);
}

/* DMA_BUF_SET_NAME copies a string from the caller: none is EFAULT, too long EINVAL. */
Test(dma_buf, set_name_ioctl_checks_its_argument)
{
	struct test_exporter te;
	struct dma_buf *dmabuf = test_export(&te, &test_static_ops);
	int fd = dma_buf_fd(dmabuf, O_CLOEXEC);
	char too_long[DMA_BUF_NAME_LEN + 1], name[DMA_BUF_NAME_LEN];

	memset(too_long, 'z', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = '\0';
	cr_assert_eq(dma_buf_ioctl(fd, DMA_BUF_SET_NAME, "kept"), 0);
	cr_assert_eq(dma_buf_ioctl(fd, DMA_BUF_SET_NAME, NULL), -EFAULT);
	cr_assert_eq(dma_buf_ioctl(fd, DMA_BUF_SET_NAME_B, too_long), -EINVAL);
	too_long[DMA_BUF_NAME_LEN - 1] = '\0'; /* 31 characters: the longest name */
	dma_buf_get_name(dmabuf, name, sizeof(name));
	cr_assert_str_eq(name, "kept", "a refused name changed the name");
	cr_assert_eq(dma_buf_ioctl(fd, DMA_BUF_SET_NAME_A, too_long), 0);
	dma_buf_get_name(dmabuf, name, sizeof(name));
	cr_assert_str_eq(name, too_long);
	close(fd);
	test_put(&te, dmabuf);
}

static char *capture_describe(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	cr_assert_not_null(out);
	cr_assert_eq(dma_buf_describe(out), 0);
	fclose(out);
	return text;
}

Test(dma_buf, describe_shape)
{
	struct test_exporter te;
	struct dma_buf *named = test_export(&te, &test_static_ops), *host;
	struct device *a = test_device("dev-a", false), *b = test_device("dev-b", false);
	struct dma_buf_attachment *at_a, *at_b;
	struct dma_fence *fence = test_fence();
	char row[256], fences[1024] = "", block[2048], *text;

	cr_assert_eq(devmem_host_buffer_create(8192, NULL, &host), 0);
	cr_assert_eq(dma_buf_set_name(named, "frame"), 0);
	cr_assert_eq(dma_buf_attach(named, a, &at_a), 0);
	cr_assert_eq(dma_buf_attach(named, b, &at_b), 0);
	add_fence(named->resv, fence, DMA_RESV_USAGE_WRITE);
	cr_assert_lt(dma_resv_describe(named->resv, fences, sizeof(fences)), (int)sizeof(fences));

	text = capture_describe();
	cr_assert(strncmp(text,
			  "\nDma-buf Objects:\n"
			  "size    \tflags   \tmode    \tcount   \texp_name\tino     \tname\n",
			  strlen("\nDma-buf Objects:\nsize    \tflags   \tmode    \tcount   \t"
				 "exp_name\tino     \tname\n")) == 0,
		  "header:\n%s", text);
	/* flags: only the access mode and O_NONBLOCK, as the kernel keeps (no O_LARGEFILE) */
	snprintf(row, sizeof(row), "%08zu\t%08x\t%08x\t%08ld\t%s\t%08lu\t%s\n", TEST_SIZE,
		 (unsigned int)O_RDWR, 3u, 1L, "test", named->ino, "frame");
	snprintf(block, sizeof(block),
		 "%s%s\tAttached Devices:\n\tdev-b\n\tdev-a\nTotal 2 devices attached\n\n", row,
		 fences);
	cr_assert_not_null(strstr(text, block), "no block\n%s\nin\n%s", block, text);
	cr_assert_neq(fences[0], '\0', "dma_resv_describe described no fence");
	snprintf(row, sizeof(row), "%08zu\t%08x\t%08x\t%08ld\t%s\t%08lu\t<none>\n", (size_t)8192,
		 (unsigned int)O_RDWR, 3u, 1L, HOST_EXP_NAME, host->ino);
	cr_assert_not_null(strstr(text, row), "no row\n%s\nin\n%s", row, text);
	cr_assert_not_null(strstr(text, "\tAttached Devices:\nTotal 0 devices attached\n\n"));
	snprintf(row, sizeof(row), "\nTotal 2 objects, %zu bytes\n", TEST_SIZE + 8192);
	cr_assert_not_null(strstr(text, row));
	cr_assert_eq(strcmp(text + strlen(text) - strlen(row), row), 0, "totals are not last");
	free(text);

	dma_fence_signal(fence);
	dma_fence_put(fence);
	dma_buf_detach(named, at_b);
	dma_buf_detach(named, at_a);
	device_put(b);
	device_put(a);
	dma_buf_put(host);
	test_put(&te, named);
}

/* The kernel lists buffers newest first (it adds each new one at the head). */
Test(dma_buf, describe_lists_the_newest_buffer_first)
{
	struct test_exporter te_old, te_new;
	struct dma_buf *old = test_export(&te_old, &test_static_ops);
	struct dma_buf *new = test_export(&te_new, &test_static_ops);
	char *text, *at_old, *at_new;

	cr_assert_eq(dma_buf_set_name(old, "older"), 0);
	cr_assert_eq(dma_buf_set_name(new, "newer"), 0);
	text = capture_describe();
	at_old = strstr(text, "\tolder\n");
	at_new = strstr(text, "\tnewer\n");
	cr_assert_not_null(at_old, "%s", text);
	cr_assert_not_null(at_new, "%s", text);
	cr_assert_lt(at_new, at_old, "the older buffer came first:\n%s", text);
	free(text);
	test_put(&te_new, new);
	test_put(&te_old, old);
}

/* A buffer named "" has a name (the kernel keeps the empty string): no "<none>", an empty line. */
Test(dma_buf, empty_name_is_still_a_name)
{
	struct test_exporter te;
	struct dma_buf *dmabuf = test_export(&te, &test_static_ops);
	char *text = NULL, row[256], *desc;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	cr_assert_not_null(out);
	cr_assert_eq(dma_buf_set_name(dmabuf, ""), 0);
	cr_assert_eq(dma_buf_show_fdinfo(dmabuf, out), 0);
	fclose(out);
	cr_assert_str_eq(text, "size:\t16384\ncount:\t1\nexp_name:\ttest\nname:\t\n");
	free(text);
	snprintf(row, sizeof(row), "\t%08lu\t\n", dmabuf->ino);
	desc = capture_describe();
	cr_assert_not_null(strstr(desc, row), "no empty name in\n%s", desc);
	snprintf(row, sizeof(row), "\t%08lu\t<none>\n", dmabuf->ino);
	cr_assert_null(strstr(desc, row), "a named buffer shown as <none>:\n%s", desc);
	free(desc);
	test_put(&te, dmabuf);
}

Test(dma_buf, fdinfo_lines)
{
	struct test_exporter te;
	struct dma_buf *dmabuf = test_export(&te, &test_static_ops);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	cr_assert_eq(dma_buf_show_fdinfo(dmabuf, out), 0);
	fflush(out);
	cr_assert_str_eq(text, "size:\t16384\ncount:\t1\nexp_name:\ttest\n");
	rewind(out);
	get_dma_buf(dmabuf);
	cr_assert_eq(dma_buf_set_name(dmabuf, "cam0"), 0);
	cr_assert_eq(dma_buf_show_fdinfo(dmabuf, out), 0);
	fclose(out);
	cr_assert_str_eq(text, "size:\t16384\ncount:\t2\nexp_name:\ttest\nname:\tcam0\n");
	free(text);
	cr_assert_eq(dma_buf_show_fdinfo(NULL, stdout), -EINVAL);
	dma_buf_put(dmabuf);
	test_put(&te, dmabuf);
}

Test(dma_buf, sg_table_counts_its_entries)
{
	struct sg_table sgt = { 0 };

	cr_assert_eq(sg_alloc_table(&sgt, 0), -EINVAL);
	cr_assert_null(sgt.sgl);
	cr_assert_eq(sg_alloc_table(&sgt, 3), 0);
	cr_assert_eq(sgt.nents, 3);
	cr_assert_eq(sg_table_size(&sgt), 0);
	sgt.sgl[0].dma_length = 4096;
	sgt.sgl[1].dma_length = 100;
	sgt.sgl[2].dma_length = 1;
	cr_assert_eq(sg_table_size(&sgt), 4197);
	sg_free_table(&sgt);
	cr_assert_null(sgt.sgl);
	cr_assert_eq(sgt.nents, 0);
}
