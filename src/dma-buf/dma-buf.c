// SPDX-License-Identifier: MIT
/*
 * The dma-buf core: export, file descriptors and lookup, attachments,
 * mapping with the static/dynamic importer rules, CPU access, vmap, names,
 * the ioctls and the debug views, with the semantics of the kernel's
 * drivers/dma-buf/dma-buf.c.
 *
 * Every buffer is backed by a real file (the exporter's or an empty sealed
 * memfd made here); its (st_dev, st_ino) is the buffer's identity and the key
 * of the registry of live buffers, so dma_buf_get() finds the buffer behind
 * any fd that refers to the same file, however it was duplicated.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devmem/dma-buf.h"
#include "lib/debug.h"
#include "lib/error.h"
#include "lib/list.h"
#include "lib/refcount.h"

/* The kernel's file mode bits, for the "mode" column of describe. */
#define FMODE_READ 0x1
#define FMODE_WRITE 0x2

/* Every live buffer of the process: for dma_buf_get() and describe. */
static pthread_mutex_t dma_buf_list_lock = PTHREAD_MUTEX_INITIALIZER;
static LIST_HEAD(dma_buf_list); /* protected by dma_buf_list_lock */

/*
 * The importers of foreign fds. Registration appends under the lock and then
 * publishes the new count with a release store; dma_buf_get() reads the
 * count with an acquire load and walks the slots without a lock: a slot is
 * written once, before the count that covers it.
 */
static pthread_mutex_t dma_buf_importers_lock = PTHREAD_MUTEX_INITIALIZER;
static const struct dma_buf_importer *dma_buf_importers[DMA_BUF_MAX_IMPORTERS];
static unsigned int dma_buf_nr_importers; /* atomic; written under dma_buf_importers_lock */

/*
 * Serialises the wrapping of foreign fds, so that two threads getting the
 * same file at once end up with one buffer, not two. Taken before
 * dma_buf_list_lock, never inside it.
 */
static pthread_mutex_t dma_buf_import_lock = PTHREAD_MUTEX_INITIALIZER;

/* sg tables */

int sg_alloc_table(struct sg_table *sgt, unsigned int nents)
{
	if (!sgt || !nents)
		return devmem_err(-EINVAL, "sg_alloc_table: %s", sgt ? "no entries" : "no table");
	sgt->sgl = calloc(nents, sizeof(*sgt->sgl));
	if (!sgt->sgl) {
		sgt->nents = 0;
		return devmem_err(-ENOMEM, "sg_alloc_table: no memory for %u entries", nents);
	}
	sgt->nents = nents;
	return 0;
}

void sg_free_table(struct sg_table *sgt)
{
	if (!sgt)
		return;
	free(sgt->sgl);
	sgt->sgl = NULL;
	sgt->nents = 0;
}

size_t sg_table_size(const struct sg_table *sgt)
{
	size_t size = 0;
	unsigned int i;

	if (!sgt)
		return 0;
	for (i = 0; i < sgt->nents; i++)
		size += sgt->sgl[i].dma_length;
	return size;
}

/* the registry */

/* A new reference on the live buffer backed by file (@dev, @ino), or NULL. */
static struct dma_buf *dma_buf_lookup(uint64_t dev, unsigned long ino)
{
	struct dma_buf *dmabuf, *found = NULL;

	pthread_mutex_lock(&dma_buf_list_lock);
	list_for_each_entry(dmabuf, &dma_buf_list, list_node) {
		/* a buffer whose last reference is gone is being released: not found */
		if (dmabuf->dev == dev && dmabuf->ino == ino &&
		    kref_get_unless_zero(&dmabuf->refcount)) {
			found = dmabuf;
			break;
		}
	}
	pthread_mutex_unlock(&dma_buf_list_lock);
	return found;
}

/*
 * Publish @dmabuf, unless its file already backs another live buffer. A
 * buffer whose count has reached zero does not count: it is on its way out
 * (zero is final), and its file, still open elsewhere, may be wrapped anew.
 */
static int dma_buf_list_add(struct dma_buf *dmabuf)
{
	struct dma_buf *other;
	int ret = 0;

	pthread_mutex_lock(&dma_buf_list_lock);
	list_for_each_entry(other, &dma_buf_list, list_node) {
		if (other->dev == dmabuf->dev && other->ino == dmabuf->ino &&
		    kref_read(&other->refcount)) {
			ret = devmem_err(-EINVAL, "dma_buf_export: fd %d already backs dma-buf %lu",
					 dmabuf->fd, other->ino);
			goto out;
		}
	}
	/* newest first, as the kernel's list: describe shows them in this order */
	list_add(&dmabuf->list_node, &dma_buf_list);
out:
	pthread_mutex_unlock(&dma_buf_list_lock);
	return ret;
}

static void dma_buf_list_del(struct dma_buf *dmabuf)
{
	pthread_mutex_lock(&dma_buf_list_lock);
	list_del(&dmabuf->list_node);
	pthread_mutex_unlock(&dma_buf_list_lock);
}

/*
 * References on every live buffer, newest first, so that describe can lock
 * each resv without holding the registry lock (a thread that drops a last
 * reference while holding a resv lock takes the registry lock inside it).
 */
static int dma_buf_list_snapshot(struct dma_buf ***bufs, unsigned int *count)
{
	struct dma_buf *dmabuf, **array;
	unsigned int n = 0, i = 0;

	pthread_mutex_lock(&dma_buf_list_lock);
	list_for_each_entry(dmabuf, &dma_buf_list, list_node)
		n++;
	array = calloc(n ? n : 1, sizeof(*array));
	if (!array) {
		pthread_mutex_unlock(&dma_buf_list_lock);
		return devmem_err(-ENOMEM, "dma_buf_describe: no memory for %u buffers", n);
	}
	list_for_each_entry(dmabuf, &dma_buf_list, list_node)
		if (kref_get_unless_zero(&dmabuf->refcount))
			array[i++] = dmabuf;
	pthread_mutex_unlock(&dma_buf_list_lock);
	*bufs = array;
	*count = i;
	return 0;
}

/* export, references, file descriptors */

static int dma_buf_check_export_info(const struct dma_buf_export_info *info)
{
	const struct dma_buf_ops *ops = info->ops;
	const char *name = info->exp_name ? info->exp_name : "?";

	/* the kernel refuses an export without private data, with the ops checks */
	if (!info->priv)
		return devmem_err(-EINVAL, "dma_buf_export: exporter %s gave no priv", name);
	if (!ops)
		return devmem_err(-EINVAL, "dma_buf_export: exporter %s gave no ops", name);
	if (!ops->map_dma_buf || !ops->unmap_dma_buf || !ops->release)
		return devmem_err(
			-EINVAL,
			"dma_buf_export: exporter %s lacks map_dma_buf, unmap_dma_buf or release",
			name);
	if (!ops->pin != !ops->unpin)
		return devmem_err(-EINVAL, "dma_buf_export: exporter %s has %s without %s", name,
				  ops->pin ? "pin" : "unpin", ops->pin ? "unpin" : "pin");
	if (!info->size)
		return devmem_err(-EINVAL, "dma_buf_export: exporter %s asked for size 0", name);
	return 0;
}

/*
 * The file of a buffer whose exporter has none: an empty memfd, sealed so
 * that nobody can give it memory. It is an identity, not storage; passed to
 * another process it is refused there (only host buffers cross).
 */
static int dma_buf_create_file(const char *exp_name)
{
	char name[64];
	int fd, err;

	snprintf(name, sizeof(name), "dmabuf:%s", exp_name);
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return devmem_err(-errno, "dma_buf_export: memfd_create: %s", strerror(errno));
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)) {
		err = errno;
		close(fd);
		return devmem_err(-err, "dma_buf_export: sealing the buffer's memfd: %s",
				  strerror(err));
	}
	return fd;
}

static void dma_buf_init(struct dma_buf *dmabuf, const struct dma_buf_export_info *info, int fd,
			 const struct stat *st)
{
	dmabuf->size = info->size;
	dmabuf->ops = info->ops;
	dmabuf->exp_name = info->exp_name ? info->exp_name : "unknown";
	dmabuf->ino = st->st_ino;
	dmabuf->dev = st->st_dev;
	dmabuf->fd = fd;
	kref_init(&dmabuf->refcount);
	if (info->resv) {
		dmabuf->resv = info->resv;
	} else {
		dma_resv_init(&dmabuf->resv_embedded);
		dmabuf->resv = &dmabuf->resv_embedded;
	}
	INIT_LIST_HEAD(&dmabuf->attachments);
	pthread_mutex_init(&dmabuf->name_lock, NULL);
	dmabuf->priv = info->priv;
	INIT_LIST_HEAD(&dmabuf->list_node);
}

static void dma_buf_fini(struct dma_buf *dmabuf)
{
	pthread_mutex_destroy(&dmabuf->name_lock);
	if (dmabuf->resv == &dmabuf->resv_embedded)
		dma_resv_fini(&dmabuf->resv_embedded);
}

int dma_buf_export(const struct dma_buf_export_info *info, struct dma_buf **out)
{
	struct dma_buf *dmabuf;
	struct stat st;
	int fd, ret;

	if (!info || !out)
		return devmem_err(-EINVAL, "dma_buf_export: no export info or result pointer");
	ret = dma_buf_check_export_info(info);
	if (ret)
		return ret;

	dmabuf = calloc(1, sizeof(*dmabuf));
	if (!dmabuf)
		return devmem_err(-ENOMEM, "dma_buf_export: no memory");
	fd = info->fd >= 0 ? info->fd : dma_buf_create_file(info->exp_name ? info->exp_name : "");
	if (fd < 0) {
		ret = fd;
		goto err_free;
	}
	if (fstat(fd, &st)) {
		ret = devmem_err(-errno, "dma_buf_export: fd %d: %s", fd, strerror(errno));
		goto err_close;
	}
	dma_buf_init(dmabuf, info, fd, &st);
	ret = dma_buf_list_add(dmabuf);
	if (ret)
		goto err_fini;
	*out = dmabuf;
	return 0;

err_fini:
	dma_buf_fini(dmabuf);
err_close:
	/* an adopted fd is only ours once the export succeeds */
	if (info->fd < 0)
		close(fd);
err_free:
	free(dmabuf);
	return ret;
}

/* The last reference is gone: nobody can reach the buffer any more. */
static void dma_buf_release(struct kref *kref)
{
	struct dma_buf *dmabuf = container_of(kref, struct dma_buf, refcount);

	/* unregister before the file closes: its inode may then be reused */
	dma_buf_list_del(dmabuf);
	DEVMEM_BUG_ON(dmabuf->vmapping_counter);
	devmem_assert(list_empty(&dmabuf->attachments), "dma-buf released while still attached");
	dmabuf->ops->release(dmabuf);
	close(dmabuf->fd);
	dma_buf_fini(dmabuf);
	free(dmabuf);
}

void get_dma_buf(struct dma_buf *dmabuf)
{
	kref_get(&dmabuf->refcount);
}

void dma_buf_put(struct dma_buf *dmabuf)
{
	if (!dmabuf)
		return;
	kref_put(&dmabuf->refcount, dma_buf_release);
}

int dma_buf_fd(struct dma_buf *dmabuf, int flags)
{
	int fd;

	if (!dmabuf)
		return devmem_err(-EINVAL, "dma_buf_fd: no buffer");
	fd = fcntl(dmabuf->fd, (flags & O_CLOEXEC) ? F_DUPFD_CLOEXEC : F_DUPFD, 0);
	if (fd < 0)
		return devmem_err(-errno, "dma_buf_fd: %s", strerror(errno));
	return fd;
}

int dma_buf_register_importer(const struct dma_buf_importer *importer)
{
	unsigned int i, n;
	int ret = 0;

	if (!importer || !importer->name || !importer->match || !importer->import)
		return devmem_err(-EINVAL, "dma_buf_register_importer: no name, match or import");
	pthread_mutex_lock(&dma_buf_importers_lock);
	n = __atomic_load_n(&dma_buf_nr_importers, __ATOMIC_RELAXED);
	for (i = 0; i < n; i++) {
		if (dma_buf_importers[i] == importer) {
			ret = devmem_err(-EEXIST, "dma-buf importer %s is already registered",
					 importer->name);
			goto out;
		}
	}
	if (n == DMA_BUF_MAX_IMPORTERS) {
		ret = devmem_err(-ENOSPC, "dma-buf importer %s: no room (at most %d importers)",
				 importer->name, DMA_BUF_MAX_IMPORTERS);
		goto out;
	}
	dma_buf_importers[n] = importer;
	__atomic_store_n(&dma_buf_nr_importers, n + 1, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&dma_buf_importers_lock);
	return ret;
}

/* The first registered importer that takes @fd, or NULL. */
static const struct dma_buf_importer *dma_buf_find_importer(int fd, const struct stat *st)
{
	unsigned int i, n = __atomic_load_n(&dma_buf_nr_importers, __ATOMIC_ACQUIRE);

	for (i = 0; i < n; i++)
		if (dma_buf_importers[i]->match(fd, st))
			return dma_buf_importers[i];
	return NULL;
}

/* A file no buffer of this process owns: a dma-buf only if an importer takes it. */
static int dma_buf_import(int fd, const struct stat *st, struct dma_buf **out)
{
	const struct dma_buf_importer *importer;
	struct dma_buf *dmabuf;
	int ret = 0;

	importer = dma_buf_find_importer(fd, st);
	if (!importer)
		return devmem_err(-EINVAL, "fd %d is not a dma-buf", fd);

	pthread_mutex_lock(&dma_buf_import_lock);
	/* another thread may have wrapped the same file since our lookup */
	dmabuf = dma_buf_lookup(st->st_dev, st->st_ino);
	if (dmabuf)
		*out = dmabuf;
	else
		ret = importer->import(fd, st, out);
	pthread_mutex_unlock(&dma_buf_import_lock);
	return ret;
}

int dma_buf_get(int fd, struct dma_buf **out)
{
	struct dma_buf *dmabuf;
	struct stat st;

	if (!out)
		return devmem_err(-EINVAL, "dma_buf_get: no result pointer");
	if (fd < 0)
		return devmem_err(-EBADF, "dma_buf_get: fd %d is not open", fd);
	if (fstat(fd, &st))
		return devmem_err(-errno, "dma_buf_get: fd %d: %s", fd, strerror(errno));
	dmabuf = dma_buf_lookup(st.st_dev, st.st_ino);
	if (dmabuf) {
		*out = dmabuf;
		return 0;
	}
	return dma_buf_import(fd, &st, out);
}

bool dma_buf_is_dynamic(const struct dma_buf *dmabuf)
{
	return dmabuf->ops->pin != NULL;
}

bool dma_buf_attachment_is_dynamic(const struct dma_buf_attachment *attach)
{
	return attach->importer_ops != NULL;
}

/* attachments */

static int __dma_buf_attach(struct dma_buf *dmabuf, struct device *dev,
			    const struct dma_buf_attach_ops *importer_ops, void *importer_priv,
			    struct dma_buf_attachment **out)
{
	struct dma_buf_attachment *attach;
	int ret;

	devmem_assert(!dma_resv_held(dmabuf->resv),
		      "dma_buf_attach: called with the resv lock held");
	attach = calloc(1, sizeof(*attach));
	if (!attach)
		return devmem_err(-ENOMEM, "dma_buf_attach: no memory");
	attach->dmabuf = dmabuf;
	attach->dev = device_get(dev);
	attach->importer_ops = importer_ops;
	attach->importer_priv = importer_priv;
	/* static importers cannot be told to drop p2p mappings: never p2p */
	attach->peer2peer =
		importer_ops && importer_ops->allow_peer2peer && device_is_p2p_capable(dev);
	INIT_LIST_HEAD(&attach->node);

	if (dmabuf->ops->attach) {
		ret = dmabuf->ops->attach(dmabuf, attach);
		if (ret)
			goto err_put;
	}

	ret = dma_resv_lock(dmabuf->resv, NULL);
	DEVMEM_BUG_ON(ret);
	list_add(&attach->node, &dmabuf->attachments);
	dma_resv_unlock(dmabuf->resv);
	*out = attach;
	return 0;

err_put:
	device_put(attach->dev);
	free(attach);
	return ret;
}

int dma_buf_attach(struct dma_buf *dmabuf, struct device *dev, struct dma_buf_attachment **out)
{
	if (!dmabuf || !dev || !out)
		return devmem_err(-EINVAL, "dma_buf_attach: no buffer, device or result pointer");
	return __dma_buf_attach(dmabuf, dev, NULL, NULL, out);
}

int dma_buf_dynamic_attach(struct dma_buf *dmabuf, struct device *dev,
			   const struct dma_buf_attach_ops *importer_ops, void *importer_priv,
			   struct dma_buf_attachment **out)
{
	if (!dmabuf || !dev || !out)
		return devmem_err(-EINVAL, "dma_buf_dynamic_attach: no buffer, device or result");
	/* no importer ops is a static importer, as dma_buf_attach() makes */
	if (importer_ops && !importer_ops->move_notify)
		return devmem_err(-EINVAL,
				  "dma_buf_dynamic_attach: dynamic importers need move_notify");
	return __dma_buf_attach(dmabuf, dev, importer_ops, importer_priv, out);
}

void dma_buf_detach(struct dma_buf *dmabuf, struct dma_buf_attachment *attach)
{
	int ret;

	if (!dmabuf || !attach)
		return;
	devmem_assert(attach->dmabuf == dmabuf, "dma_buf_detach: attachment of another buffer");
	devmem_assert(!dma_resv_held(dmabuf->resv),
		      "dma_buf_detach: called with the resv lock held");

	ret = dma_resv_lock(dmabuf->resv, NULL);
	DEVMEM_BUG_ON(ret);
	devmem_assert(!attach->map_count, "dma_buf_detach: attachment still mapped");
	devmem_assert(!attach->pin_count, "dma_buf_detach: attachment still pinned");
	list_del(&attach->node);
	dma_resv_unlock(dmabuf->resv);

	if (dmabuf->ops->detach)
		dmabuf->ops->detach(dmabuf, attach);
	device_put(attach->dev);
	free(attach);
}

/* pinning and mapping */

/* A macro, so that a broken rule is reported at the caller's line. */
#define dma_buf_assert_locked(dmabuf, what) devmem_assert(dma_resv_held((dmabuf)->resv), what)

int dma_buf_pin(struct dma_buf_attachment *attach)
{
	struct dma_buf *dmabuf;
	int ret;

	if (!attach)
		return devmem_err(-EINVAL, "dma_buf_pin: no attachment");
	dmabuf = attach->dmabuf;
	dma_buf_assert_locked(dmabuf, "dma_buf_pin: resv lock not held");
	if (!dma_buf_attachment_is_dynamic(attach))
		return devmem_err(-EINVAL, "dma_buf_pin: static attachments are pinned by mapping");
	if (dmabuf->ops->pin) {
		ret = dmabuf->ops->pin(attach);
		if (ret)
			return ret;
	}
	attach->pin_count++;
	return 0;
}

void dma_buf_unpin(struct dma_buf_attachment *attach)
{
	struct dma_buf *dmabuf;

	if (!attach)
		return;
	dmabuf = attach->dmabuf;
	dma_buf_assert_locked(dmabuf, "dma_buf_unpin: resv lock not held");
	devmem_assert(dma_buf_attachment_is_dynamic(attach), "dma_buf_unpin: static attachment");
	devmem_assert(attach->pin_count, "dma_buf_unpin: not pinned");
	if (dmabuf->ops->unpin)
		dmabuf->ops->unpin(attach);
	attach->pin_count--;
}

/*
 * A static importer cannot be told that the buffer moves: a dynamic exporter
 * must keep the buffer in place for as long as such an importer has it mapped.
 */
static bool dma_buf_pin_on_map(const struct dma_buf_attachment *attach)
{
	return dma_buf_is_dynamic(attach->dmabuf) && !dma_buf_attachment_is_dynamic(attach);
}

static bool valid_dma_direction(enum dma_data_direction dir)
{
	return dir == DMA_BIDIRECTIONAL || dir == DMA_TO_DEVICE || dir == DMA_FROM_DEVICE;
}

/* Wait for the move (or clear) that may still be filling the buffer. */
static int dma_buf_wait_kernel_fences(struct dma_buf *dmabuf)
{
	int64_t ret;

	ret = dma_resv_wait_timeout(dmabuf->resv, DMA_RESV_USAGE_KERNEL, false,
				    DMA_FENCE_MAX_TIMEOUT);
	if (ret < 0)
		return (int)ret;
	return ret ? 0 : -ETIMEDOUT;
}

int dma_buf_map_attachment(struct dma_buf_attachment *attach, enum dma_data_direction dir,
			   struct sg_table **sgt_out)
{
	struct sg_table *sgt = NULL;
	struct dma_buf *dmabuf;
	int ret;

	if (!attach || !sgt_out)
		return devmem_err(-EINVAL, "dma_buf_map_attachment: no attachment or result");
	dmabuf = attach->dmabuf;
	dma_buf_assert_locked(dmabuf, "dma_buf_map_attachment: resv lock not held");
	if (!valid_dma_direction(dir))
		return devmem_err(-EINVAL, "dma_buf_map_attachment: bad direction %d", (int)dir);

	if (dma_buf_pin_on_map(attach)) {
		ret = dmabuf->ops->pin(attach);
		if (ret)
			return ret;
	}
	ret = dmabuf->ops->map_dma_buf(attach, dir, &sgt);
	if (ret)
		goto err_unpin;
	DEVMEM_BUG_ON(!sgt);
	/*
	 * A static importer will use the mapping at once and has no way to
	 * learn of a move or clear still filling the buffer: whatever the
	 * exporter, wait for the KERNEL fences here. Dynamic importers wait
	 * themselves, when they choose to touch the memory.
	 */
	if (!dma_buf_attachment_is_dynamic(attach)) {
		ret = dma_buf_wait_kernel_fences(dmabuf);
		if (ret)
			goto err_unmap;
	}
	attach->map_count++;
	*sgt_out = sgt;
	return 0;

err_unmap:
	dmabuf->ops->unmap_dma_buf(attach, sgt, dir);
err_unpin:
	if (dma_buf_pin_on_map(attach))
		dmabuf->ops->unpin(attach);
	return ret;
}

void dma_buf_unmap_attachment(struct dma_buf_attachment *attach, struct sg_table *sgt,
			      enum dma_data_direction dir)
{
	struct dma_buf *dmabuf;

	if (!attach || !sgt)
		return;
	dmabuf = attach->dmabuf;
	dma_buf_assert_locked(dmabuf, "dma_buf_unmap_attachment: resv lock not held");
	devmem_assert(attach->map_count, "dma_buf_unmap_attachment: not mapped");
	dmabuf->ops->unmap_dma_buf(attach, sgt, dir);
	attach->map_count--;
	if (dma_buf_pin_on_map(attach))
		dmabuf->ops->unpin(attach);
}

static void dma_buf_lock(struct dma_buf *dmabuf)
{
	int ret = dma_resv_lock(dmabuf->resv, NULL);

	DEVMEM_BUG_ON(ret);
}

int dma_buf_map_attachment_unlocked(struct dma_buf_attachment *attach, enum dma_data_direction dir,
				    struct sg_table **sgt)
{
	int ret;

	if (!attach || !sgt)
		return devmem_err(-EINVAL, "dma_buf_map_attachment: no attachment or result");
	dma_buf_lock(attach->dmabuf);
	ret = dma_buf_map_attachment(attach, dir, sgt);
	dma_resv_unlock(attach->dmabuf->resv);
	return ret;
}

void dma_buf_unmap_attachment_unlocked(struct dma_buf_attachment *attach, struct sg_table *sgt,
				       enum dma_data_direction dir)
{
	if (!attach || !sgt)
		return;
	dma_buf_lock(attach->dmabuf);
	dma_buf_unmap_attachment(attach, sgt, dir);
	dma_resv_unlock(attach->dmabuf->resv);
}

void dma_buf_move_notify(struct dma_buf *dmabuf)
{
	struct dma_buf_attachment *attach;

	dma_buf_assert_locked(dmabuf, "dma_buf_move_notify: resv lock not held");
	list_for_each_entry(attach, &dmabuf->attachments, node)
		if (dma_buf_attachment_is_dynamic(attach))
			attach->importer_ops->move_notify(attach);
}

/* CPU access */

/* Implicit sync: a CPU read waits for writers, a CPU write for readers and writers. */
static int dma_buf_wait_implicit_fences(struct dma_buf *dmabuf, enum dma_data_direction dir)
{
	bool write = dir == DMA_BIDIRECTIONAL || dir == DMA_TO_DEVICE;
	enum dma_resv_usage usage = write ? DMA_RESV_USAGE_READ : DMA_RESV_USAGE_WRITE;
	int64_t ret;

	ret = dma_resv_wait_timeout(dmabuf->resv, usage, false, DMA_FENCE_MAX_TIMEOUT);
	if (ret < 0)
		return (int)ret;
	return ret ? 0 : -ETIMEDOUT;
}

int dma_buf_begin_cpu_access(struct dma_buf *dmabuf, enum dma_data_direction dir)
{
	int ret = 0;

	if (!dmabuf)
		return devmem_err(-EINVAL, "dma_buf_begin_cpu_access: no buffer");
	if (!valid_dma_direction(dir))
		return devmem_err(-EINVAL, "dma_buf_begin_cpu_access: bad direction %d", (int)dir);
	/* the exporter may wait more cleverly; then our wait finds nothing left */
	if (dmabuf->ops->begin_cpu_access)
		ret = dmabuf->ops->begin_cpu_access(dmabuf, dir);
	if (!ret)
		ret = dma_buf_wait_implicit_fences(dmabuf, dir);
	return ret;
}

int dma_buf_end_cpu_access(struct dma_buf *dmabuf, enum dma_data_direction dir)
{
	if (!dmabuf)
		return devmem_err(-EINVAL, "dma_buf_end_cpu_access: no buffer");
	if (!valid_dma_direction(dir))
		return devmem_err(-EINVAL, "dma_buf_end_cpu_access: bad direction %d", (int)dir);
	if (dmabuf->ops->end_cpu_access)
		return dmabuf->ops->end_cpu_access(dmabuf, dir);
	return 0;
}

/* vmap */

int dma_buf_vmap(struct dma_buf *dmabuf, void **vaddr)
{
	void *ptr = NULL;
	int ret;

	if (!dmabuf || !vaddr)
		return devmem_err(-EINVAL, "dma_buf_vmap: no buffer or result pointer");
	*vaddr = NULL;
	dma_buf_assert_locked(dmabuf, "dma_buf_vmap: resv lock not held");
	if (!dmabuf->ops->vmap)
		return devmem_err(-EINVAL, "dma_buf_vmap: exporter %s cannot vmap",
				  dmabuf->exp_name);
	if (dmabuf->vmapping_counter) {
		DEVMEM_BUG_ON(!dmabuf->vmap_ptr);
		dmabuf->vmapping_counter++;
		*vaddr = dmabuf->vmap_ptr;
		return 0;
	}
	ret = dmabuf->ops->vmap(dmabuf, &ptr);
	if (ret)
		return ret;
	DEVMEM_BUG_ON(!ptr);
	dmabuf->vmap_ptr = ptr;
	dmabuf->vmapping_counter = 1;
	*vaddr = ptr;
	return 0;
}

void dma_buf_vunmap(struct dma_buf *dmabuf, void *vaddr)
{
	if (!dmabuf)
		return;
	dma_buf_assert_locked(dmabuf, "dma_buf_vunmap: resv lock not held");
	devmem_assert(dmabuf->vmapping_counter, "dma_buf_vunmap: not vmapped");
	devmem_assert(dmabuf->vmap_ptr == vaddr, "dma_buf_vunmap: not the buffer's vmap address");
	if (--dmabuf->vmapping_counter)
		return;
	if (dmabuf->ops->vunmap)
		dmabuf->ops->vunmap(dmabuf, vaddr);
	dmabuf->vmap_ptr = NULL;
}

int dma_buf_vmap_unlocked(struct dma_buf *dmabuf, void **vaddr)
{
	int ret;

	if (!dmabuf || !vaddr)
		return devmem_err(-EINVAL, "dma_buf_vmap: no buffer or result pointer");
	dma_buf_lock(dmabuf);
	ret = dma_buf_vmap(dmabuf, vaddr);
	dma_resv_unlock(dmabuf->resv);
	return ret;
}

void dma_buf_vunmap_unlocked(struct dma_buf *dmabuf, void *vaddr)
{
	if (!dmabuf)
		return;
	dma_buf_lock(dmabuf);
	dma_buf_vunmap(dmabuf, vaddr);
	dma_resv_unlock(dmabuf->resv);
}

/* names */

int dma_buf_set_name(struct dma_buf *dmabuf, const char *name)
{
	size_t len;

	if (!dmabuf || !name)
		return devmem_err(-EINVAL, "dma_buf_set_name: no buffer or name");
	len = strnlen(name, DMA_BUF_NAME_LEN);
	if (len >= DMA_BUF_NAME_LEN)
		return devmem_err(-EINVAL, "dma-buf name longer than %d characters",
				  DMA_BUF_NAME_LEN - 1);
	pthread_mutex_lock(&dmabuf->name_lock);
	memcpy(dmabuf->name, name, len);
	dmabuf->name[len] = '\0';
	dmabuf->has_name = true;
	pthread_mutex_unlock(&dmabuf->name_lock);
	return 0;
}

/* The name into @buf; returns whether the buffer was ever named (even ""). */
static bool dma_buf_copy_name(struct dma_buf *dmabuf, char *buf, size_t size)
{
	bool has_name;
	size_t len;

	pthread_mutex_lock(&dmabuf->name_lock);
	has_name = dmabuf->has_name;
	len = strnlen(dmabuf->name, sizeof(dmabuf->name));
	if (len >= size)
		len = size - 1;
	memcpy(buf, dmabuf->name, len);
	buf[len] = '\0';
	pthread_mutex_unlock(&dmabuf->name_lock);
	return has_name;
}

void dma_buf_get_name(struct dma_buf *dmabuf, char *buf, size_t size)
{
	if (!dmabuf || !buf || !size)
		return;
	dma_buf_copy_name(dmabuf, buf, size);
}

/* ioctls */

static int dma_buf_ioctl_sync(struct dma_buf *dmabuf, const struct dma_buf_sync *sync)
{
	enum dma_data_direction dir;

	if (!sync)
		return devmem_err(-EFAULT, "DMA_BUF_IOCTL_SYNC: no argument");
	if (sync->flags & ~(__u64)DMA_BUF_SYNC_VALID_FLAGS_MASK)
		return devmem_err(-EINVAL, "DMA_BUF_IOCTL_SYNC: unknown flags %#llx",
				  (unsigned long long)sync->flags);
	switch (sync->flags & DMA_BUF_SYNC_RW) {
	case DMA_BUF_SYNC_READ:
		dir = DMA_FROM_DEVICE;
		break;
	case DMA_BUF_SYNC_WRITE:
		dir = DMA_TO_DEVICE;
		break;
	case DMA_BUF_SYNC_RW:
		dir = DMA_BIDIRECTIONAL;
		break;
	default:
		return devmem_err(-EINVAL, "DMA_BUF_IOCTL_SYNC: no direction (READ, WRITE or RW)");
	}
	if (sync->flags & DMA_BUF_SYNC_END)
		return dma_buf_end_cpu_access(dmabuf, dir);
	return dma_buf_begin_cpu_access(dmabuf, dir);
}

int dma_buf_ioctl(int fd, unsigned long request, void *arg)
{
	struct dma_buf *dmabuf;
	int ret;

	ret = dma_buf_get(fd, &dmabuf);
	/*
	 * ioctl() on a file that is not a dma-buf reaches that file's own
	 * handler, which does not know the request: ENOTTY, not EINVAL.
	 */
	if (ret == -EINVAL)
		return devmem_err(-ENOTTY, "fd %d is not a dma-buf: ioctl %#lx not supported", fd,
				  request);
	if (ret)
		return ret;
	switch (request) {
	case DMA_BUF_IOCTL_SYNC:
		ret = dma_buf_ioctl_sync(dmabuf, arg);
		break;
	case DMA_BUF_SET_NAME_A:
	case DMA_BUF_SET_NAME_B:
		/* the kernel copies the name from the caller: no pointer is a fault */
		ret = arg ? dma_buf_set_name(dmabuf, arg) :
			    devmem_err(-EFAULT, "DMA_BUF_SET_NAME: no name");
		break;
	default:
		ret = devmem_err(-ENOTTY, "dma-buf ioctl %#lx is not supported", request);
		break;
	}
	dma_buf_put(dmabuf);
	return ret;
}

/* debug views */

int dma_buf_show_fdinfo(struct dma_buf *dmabuf, FILE *out)
{
	char name[DMA_BUF_NAME_LEN];
	bool has_name;
	int ret;

	if (!dmabuf || !out)
		return devmem_err(-EINVAL, "dma_buf_show_fdinfo: no buffer or stream");
	has_name = dma_buf_copy_name(dmabuf, name, sizeof(name));
	ret = fprintf(out, "size:\t%zu\ncount:\t%ld\nexp_name:\t%s\n", dmabuf->size,
		      (long)kref_read(&dmabuf->refcount), dmabuf->exp_name);
	/* a buffer named "" has a name: the kernel prints the line, empty */
	if (ret >= 0 && has_name)
		ret = fprintf(out, "name:\t%s\n", name);
	return ret < 0 ? devmem_err(-EIO, "dma_buf_show_fdinfo: write failed") : 0;
}

static int dma_buf_describe_fences(struct dma_buf *dmabuf, FILE *out)
{
	size_t size = 256;
	char *buf;
	int len;

	/* the fences can change between the two calls: retry until they fit */
	for (;;) {
		buf = calloc(1, size);
		if (!buf)
			return devmem_err(-ENOMEM, "dma_buf_describe: no memory");
		len = dma_resv_describe(dmabuf->resv, buf, size);
		if (len < 0) {
			free(buf);
			return len;
		}
		if ((size_t)len < size)
			break;
		free(buf);
		size = (size_t)len + 1;
	}
	fputs(buf, out);
	free(buf);
	return 0;
}

static unsigned int dma_buf_file_mode(int flags)
{
	switch (flags & O_ACCMODE) {
	case O_RDONLY:
		return FMODE_READ;
	case O_WRONLY:
		return FMODE_WRITE;
	default:
		return FMODE_READ | FMODE_WRITE;
	}
}

/* One buffer's block of bufinfo. Takes the resv lock, as the kernel does. */
static int dma_buf_describe_one(struct dma_buf *dmabuf, FILE *out)
{
	struct dma_buf_attachment *attach;
	char name[DMA_BUF_NAME_LEN];
	int flags, attach_count = 0, ret;
	bool has_name;

	/* the kernel keeps only these of a dma-buf file's open flags (dma_buf_getfile) */
	flags = fcntl(dmabuf->fd, F_GETFL);
	flags = flags < 0 ? 0 : flags & (O_ACCMODE | O_NONBLOCK);
	has_name = dma_buf_copy_name(dmabuf, name, sizeof(name));
	dma_buf_lock(dmabuf);
	/* our count is the reference count; the snapshot's own is not counted */
	fprintf(out, "%08zu\t%08x\t%08x\t%08ld\t%s\t%08lu\t%s\n", dmabuf->size, (unsigned int)flags,
		dma_buf_file_mode(flags), (long)kref_read(&dmabuf->refcount) - 1, dmabuf->exp_name,
		dmabuf->ino, has_name ? name : "<none>");
	ret = dma_buf_describe_fences(dmabuf, out);
	fputs("\tAttached Devices:\n", out);
	list_for_each_entry(attach, &dmabuf->attachments, node) {
		fprintf(out, "\t%s\n", device_name(attach->dev));
		attach_count++;
	}
	dma_resv_unlock(dmabuf->resv);
	fprintf(out, "Total %d devices attached\n\n", attach_count);
	return ret;
}

int dma_buf_describe(FILE *out)
{
	struct dma_buf **bufs = NULL;
	unsigned int count = 0, i;
	size_t size = 0;
	int ret;

	if (!out)
		return devmem_err(-EINVAL, "dma_buf_describe: no stream");
	ret = dma_buf_list_snapshot(&bufs, &count);
	if (ret)
		return ret;
	fputs("\nDma-buf Objects:\n", out);
	fprintf(out, "%-8s\t%-8s\t%-8s\t%-8s\texp_name\t%-8s\tname\n", "size", "flags", "mode",
		"count", "ino");
	for (i = 0; i < count; i++) {
		if (!ret)
			ret = dma_buf_describe_one(bufs[i], out);
		size += bufs[i]->size;
	}
	fprintf(out, "\nTotal %u objects, %zu bytes\n", count, size);
	for (i = 0; i < count; i++)
		dma_buf_put(bufs[i]);
	free(bufs);
	if (!ret && ferror(out))
		ret = devmem_err(-EIO, "dma_buf_describe: write failed");
	return ret;
}
