/* SPDX-License-Identifier: MIT */
/*
 * dma_buf: a fixed-size buffer shared between an exporter (who owns the
 * memory) and importers (devices that access it by device address), with the
 * kernel's rules.
 *
 * Every dma-buf has a real file descriptor. dma_buf_fd() hands out a new one;
 * dma_buf_get() finds the buffer behind any of them, and wraps a foreign fd
 * (a sealed memfd from another process, a real kernel dma-buf) through the
 * importers the exporters register (dma_buf_register_importer()). The
 * buffer's identity (dma_buf->ino) is the inode of that file, as in the
 * kernel.
 *
 * Importers never see the exporter's memory: they attach a device and map the
 * attachment, and the exporter returns an sg table of device addresses in that
 * device's address space (IOMMU IOVAs, or peer-to-peer bus addresses when the
 * importer allows peer-to-peer and its device can reach the exporter's).
 *
 * Static importers (dma_buf_attach) get a buffer that does not move while
 * mapped: mapping pins it, unmapping unpins it. Dynamic importers
 * (dma_buf_dynamic_attach) must give a move_notify callback: the exporter
 * calls it, with the resv lock held, when the buffer is about to move, and the
 * importer must stop using its mapping and map again before its next access,
 * after waiting for the KERNEL fences (the move) of the buffer's resv.
 *
 * Locking convention (asserted in debug builds): the caller holds the resv
 * lock (dma_resv_lock(dmabuf->resv)) for pin, unpin, map, unmap, vmap,
 * vunmap and move_notify; not for attach, detach, get, put, fd, CPU access
 * and set_name. The _unlocked variants take and drop the lock themselves.
 */
#ifndef DEVMEM_DMA_BUF_H
#define DEVMEM_DMA_BUF_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "device.h"
#include "dma-resv.h"
#include "kref.h"
#include "list.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef DMA_BUF_NAME_LEN
#define DMA_BUF_NAME_LEN 32 /* including the terminating NUL */
#endif

/*
 * One entry of a mapped sg table: a device address range. There is no page
 * or CPU address in it, by design.
 */
struct scatterlist {
	dma_addr_t dma_address;
	unsigned int dma_length;
	enum dma_addr_domain domain;
};

struct sg_table {
	struct scatterlist *sgl;
	unsigned int nents;
};

#define sg_dma_address(sg) ((sg)->dma_address)
#define sg_dma_len(sg) ((sg)->dma_length)
#define for_each_sgtable_dma_sg(sgt, sg, i) \
	for ((i) = 0, (sg) = (sgt)->sgl; (i) < (sgt)->nents; (i)++, (sg)++)

/*
 * Allocate @nents zeroed entries in @sgt: 0, -EINVAL for no entries (as the
 * kernel's), -ENOMEM. Free them with sg_free_table().
 */
int sg_alloc_table(struct sg_table *sgt, unsigned int nents);
void sg_free_table(struct sg_table *sgt);
/* Total bytes the table covers. */
size_t sg_table_size(const struct sg_table *sgt);

struct dma_buf;
struct dma_buf_attachment;

/*
 * What an exporter implements. map_dma_buf, unmap_dma_buf and release are
 * mandatory; pin and unpin come together (an exporter with pin is dynamic:
 * its buffers can move). Everything else is optional.
 */
struct dma_buf_ops {
	int (*attach)(struct dma_buf *dmabuf, struct dma_buf_attachment *attach);
	void (*detach)(struct dma_buf *dmabuf, struct dma_buf_attachment *attach);
	int (*pin)(struct dma_buf_attachment *attach); /* resv lock held */
	void (*unpin)(struct dma_buf_attachment *attach); /* resv lock held */
	/*
	 * Resv lock held: return a new sg table of attach->dev addresses. The
	 * exporter allocates the struct sg_table and its entries and frees both
	 * in unmap_dma_buf. On failure nothing may stay mapped.
	 */
	int (*map_dma_buf)(struct dma_buf_attachment *attach, enum dma_data_direction dir,
			   struct sg_table **sgt);
	void (*unmap_dma_buf)(struct dma_buf_attachment *attach, struct sg_table *sgt,
			      enum dma_data_direction dir); /* resv lock held */
	void (*release)(struct dma_buf *dmabuf);
	int (*begin_cpu_access)(struct dma_buf *dmabuf, enum dma_data_direction dir);
	int (*end_cpu_access)(struct dma_buf *dmabuf, enum dma_data_direction dir);
	int (*vmap)(struct dma_buf *dmabuf, void **vaddr); /* resv lock held */
	void (*vunmap)(struct dma_buf *dmabuf, void *vaddr); /* resv lock held */
};

struct dma_buf_export_info {
	const char *exp_name; /* exporter name, shown by describe */
	const struct dma_buf_ops *ops;
	size_t size; /* > 0 */
	struct dma_resv *resv; /* NULL: the buffer gets its own */
	void *priv; /* the exporter's, in dmabuf->priv; mandatory, as in the kernel */
	/*
	 * The file behind the buffer, adopted by it (closed on release); -1
	 * makes the core create one (an empty sealed memfd). Host buffers pass
	 * their memfd. If the export fails the fd is not adopted: the caller
	 * still owns it. An fd that already backs a live dma-buf is refused.
	 */
	int fd;
};

/*
 * Declare export info with the defaults filled in, as the kernel's macro of
 * the same name does. Start from it rather than from zero: a zeroed info has
 * fd 0, which the buffer would adopt (and close on release).
 */
#define DEFINE_DMA_BUF_EXPORT_INFO(name) struct dma_buf_export_info name = { .fd = -1 }

/* Fields are read-only for everyone but the core, except priv (the exporter's). */
struct dma_buf {
	size_t size;
	const struct dma_buf_ops *ops;
	const char *exp_name;
	unsigned long ino; /* unique id: the inode of the buffer's file */
	uint64_t dev; /* st_dev of the buffer's file: (dev, ino) is the registry key */
	int fd; /* the buffer's own file; dma_buf_fd() dups it */
	struct kref refcount;
	struct dma_resv *resv;
	struct list_head attachments; /* protected by the resv lock */
	unsigned int vmapping_counter; /* protected by the resv lock */
	void *vmap_ptr; /* protected by the resv lock */
	pthread_mutex_t name_lock;
	char name[DMA_BUF_NAME_LEN]; /* protected by name_lock */
	bool has_name; /* named at least once, maybe ""; protected by name_lock */
	void *priv;
	struct list_head list_node; /* the registry of live buffers */
	struct dma_resv resv_embedded; /* used when the exporter gave no resv */
};

struct dma_buf_attach_ops {
	bool allow_peer2peer; /* the importer can use peer-to-peer addresses */
	/* mandatory for dynamic importers; called with the resv lock held */
	void (*move_notify)(struct dma_buf_attachment *attach);
};

struct dma_buf_attachment {
	struct dma_buf *dmabuf;
	struct device *dev; /* referenced while attached */
	struct list_head node; /* in dmabuf->attachments */
	bool peer2peer; /* p2p addresses allowed for this attachment */
	const struct dma_buf_attach_ops *importer_ops; /* NULL for static importers */
	void *importer_priv;
	void *priv; /* the exporter's */
	unsigned int map_count; /* live mappings; protected by the resv lock */
	unsigned int pin_count; /* protected by the resv lock */
};

/*
 * Export a buffer. Checks the private data (non-NULL), the ops (map, unmap
 * and release present; pin iff unpin) and the size: -EINVAL otherwise.
 * Returns 0 and the buffer (one reference) in @out; -EBADF if info->fd is
 * not open, -EINVAL if it already backs a dma-buf, or the errno of creating
 * the buffer's memfd.
 */
int dma_buf_export(const struct dma_buf_export_info *info, struct dma_buf **out);

/*
 * A new file descriptor for the buffer (O_CLOEXEC if in @flags; other flags
 * are ignored, as in the kernel), or a negative errno (-EINVAL, -EMFILE).
 * Unlike the kernel's, the fd does not take over the caller's reference: the
 * buffer lives while references exist, whoever holds fds; closing the fd
 * frees nothing.
 */
int dma_buf_fd(struct dma_buf *dmabuf, int flags);

/*
 * The buffer behind @fd, with a new reference. -EBADF if @fd is not open,
 * -EINVAL if it is not a dma-buf. An fd no live buffer of this process owns
 * goes to the registered importers: the first whose match() accepts it wraps
 * it, once (later gets of the same file return the same buffer), or returns
 * its error; a memfd from elsewhere is accepted by the host exporter only
 * when sealed against shrinking and growing, a kernel dma-buf fd by the
 * kernel dma-buf importer (devmem/kdmabuf.h).
 */
int dma_buf_get(int fd, struct dma_buf **out);

/*
 * An importer of foreign fds, registered by an exporter so that the core
 * needs to know none of them. match() says, cheaply and without side
 * effects, whether @fd is of the importer's kind; import() wraps it as a new
 * buffer (one reference, exported with its own duplicate of @fd: the
 * caller's fd stays the caller's) or fails with the errno to report. Imports
 * are serialised by the core, so one file is never wrapped twice.
 */
struct dma_buf_importer {
	const char *name;
	bool (*match)(int fd, const struct stat *st);
	int (*import)(int fd, const struct stat *st, struct dma_buf **out);
};

#define DMA_BUF_MAX_IMPORTERS 8

/*
 * Add @importer (which must outlive the process's use of the library) to the
 * end of the list dma_buf_get() asks. Exporters call it from a constructor,
 * at library load. 0; -EINVAL for a missing name, match or import; -EEXIST
 * if already registered; -ENOSPC beyond DMA_BUF_MAX_IMPORTERS. Lookups take
 * no lock: an importer once registered stays.
 */
int dma_buf_register_importer(const struct dma_buf_importer *importer);
void get_dma_buf(struct dma_buf *dmabuf);
void dma_buf_put(struct dma_buf *dmabuf);

/* True if the exporter can move the buffer (it implements pin/unpin). */
bool dma_buf_is_dynamic(const struct dma_buf *dmabuf);
/* True for attachments made by dma_buf_dynamic_attach(). */
bool dma_buf_attachment_is_dynamic(const struct dma_buf_attachment *attach);

/*
 * Attach @dev as an importer. Static: the buffer will be pinned while
 * mapped. Dynamic: @importer_ops->move_notify is mandatory (-EINVAL without
 * it); dma_buf_dynamic_attach() with no @importer_ops makes a static
 * attachment, as dma_buf_attach() does. Returns 0 and the attachment in @out;
 * the attachment holds a reference on @dev. No lock held.
 */
int dma_buf_attach(struct dma_buf *dmabuf, struct device *dev, struct dma_buf_attachment **out);
int dma_buf_dynamic_attach(struct dma_buf *dmabuf, struct device *dev,
			   const struct dma_buf_attach_ops *importer_ops, void *importer_priv,
			   struct dma_buf_attachment **out);
/*
 * Detach; every mapping must be gone and every pin dropped (a bug otherwise:
 * aborts in debug builds). No lock held.
 */
void dma_buf_detach(struct dma_buf *dmabuf, struct dma_buf_attachment *attach);

/*
 * Keep the buffer where it is. Resv lock held. Only for dynamic attachments
 * (-EINVAL for a static one); a no-op success when the exporter is static.
 */
int dma_buf_pin(struct dma_buf_attachment *attach);
void dma_buf_unpin(struct dma_buf_attachment *attach);

/*
 * Map the attachment for @dir: 0 and an sg table of device addresses of
 * attach->dev in @sgt. Resv lock held. For a static importer this waits for
 * the buffer's KERNEL fences, and, if the exporter is dynamic, pins the
 * buffer (the matching unmap unpins). -EINVAL for DMA_NONE or a bad
 * direction; other errors come from the exporter (-ENOMEM, -ENOSPC, -EOPNOTSUPP, ...), and
 * nothing stays mapped or pinned.
 */
int dma_buf_map_attachment(struct dma_buf_attachment *attach, enum dma_data_direction dir,
			   struct sg_table **sgt);
void dma_buf_unmap_attachment(struct dma_buf_attachment *attach, struct sg_table *sgt,
			      enum dma_data_direction dir);
int dma_buf_map_attachment_unlocked(struct dma_buf_attachment *attach, enum dma_data_direction dir,
				    struct sg_table **sgt);
void dma_buf_unmap_attachment_unlocked(struct dma_buf_attachment *attach, struct sg_table *sgt,
				       enum dma_data_direction dir);

/* Tell every dynamic importer that the buffer is moving. Resv lock held. */
void dma_buf_move_notify(struct dma_buf *dmabuf);

/*
 * Bracket CPU access to the buffer's memory for @dir. Begin calls the
 * exporter's begin_cpu_access, then (as the kernel does) waits for the
 * fences that conflict: KERNEL and WRITE fences for a read
 * (DMA_FROM_DEVICE), every implicit fence up to READ for a write
 * (DMA_TO_DEVICE, DMA_BIDIRECTIONAL). -EINVAL for a bad direction.
 */
int dma_buf_begin_cpu_access(struct dma_buf *dmabuf, enum dma_data_direction dir);
int dma_buf_end_cpu_access(struct dma_buf *dmabuf, enum dma_data_direction dir);

/*
 * A CPU mapping of the whole buffer, reference counted: the first vmap asks
 * the exporter, later ones share it, the last vunmap releases it. Resv lock
 * held; -EINVAL if the exporter has no vmap.
 */
int dma_buf_vmap(struct dma_buf *dmabuf, void **vaddr);
void dma_buf_vunmap(struct dma_buf *dmabuf, void *vaddr);
int dma_buf_vmap_unlocked(struct dma_buf *dmabuf, void **vaddr);
void dma_buf_vunmap_unlocked(struct dma_buf *dmabuf, void *vaddr);

/* Name the buffer (at most DMA_BUF_NAME_LEN - 1 characters, else -EINVAL; NULL: -EINVAL). */
int dma_buf_set_name(struct dma_buf *dmabuf, const char *name);
/* Copy the name (empty if none) into @buf of @size bytes. */
void dma_buf_get_name(struct dma_buf *dmabuf, char *buf, size_t size);

/*
 * The ioctls of a dma-buf fd, on a libdevmem buffer's fd: DMA_BUF_IOCTL_SYNC
 * (begin/end CPU access) and DMA_BUF_SET_NAME. -ENOTTY for other requests and
 * for an fd that is not a dma-buf, -EBADF for one that is not open, -EINVAL
 * for bad flags or a name too long, -EFAULT for a NULL argument.
 */
int dma_buf_ioctl(int fd, unsigned long request, void *arg);

/*
 * The fdinfo lines of one buffer, as the kernel prints them: "size:\t%zu",
 * "count:\t%ld" (references), "exp_name:\t%s", and "name:\t%s" when the
 * buffer has a name. 0, -EINVAL, or -EIO if writing failed.
 */
int dma_buf_show_fdinfo(struct dma_buf *dmabuf, FILE *out);

/*
 * Every live buffer, newest first, in the shape of the kernel's debugfs
 * bufinfo: size, flags, mode, count, exporter, ino and name ("<none>" if it
 * was never named) of each, its fences, its attached devices, and the
 * totals. Returns 0 or a negative errno.
 */
int dma_buf_describe(FILE *out);

#ifdef __cplusplus
}
#endif

#endif
