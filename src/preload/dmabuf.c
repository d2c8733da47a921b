// SPDX-License-Identifier: MIT
/*
 * dma-bufs for a program written to the kernel's UAPI: /dev/udmabuf
 * (UDMABUF_CREATE, UDMABUF_CREATE_LIST), /dev/dma_heap/system
 * (DMA_HEAP_IOCTL_ALLOC), and the dma-buf fds they return (mmap,
 * DMA_BUF_IOCTL_SYNC, DMA_BUF_SET_NAME, fdinfo, dup, close, SCM_RIGHTS).
 *
 * Where the machine has the real device, its open passes through and the
 * kernel answers: the library imports a kernel dma-buf fd by itself at bind
 * time. Where it does not, the device fd is /dev/null under a kind of its
 * own, and its ioctls make software buffers (exporters/swudmabuf.c) with the
 * argument rules and errno of drivers/dma-buf/udmabuf.c and dma-heap.c. The
 * dma-buf fd a program gets is a libdevmem dma-buf: dma_buf_get() of its
 * number finds it, so bind-rx and bind-tx take it.
 *
 * Arguments are read from and written to the program's memory with
 * process_vm_readv/writev on the process itself: an address the program
 * cannot read is EFAULT, as copy_from_user() makes it, never a crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-heap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "devmem/dma-buf.h"
#include "devmem/uapi.h"
#include "exporters/kdmabuf-internal.h"
#include "lib/compiler.h"
#include "lib/refcount.h"
#include "preload/preload.h"

#define UDMABUF_DEV "/dev/udmabuf"
#define DMA_HEAP_DIR "/dev/dma_heap/"
#define DMA_HEAP_SYSTEM "system"

/* ---- the program's memory ---- */

static int pl_copy_from_user(void *dst, const void *src, size_t len)
{
	struct iovec local = { dst, len }, remote = { (void *)src, len };

	if (!len)
		return 0;
	return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -EFAULT;
}

static int pl_copy_to_user(void *dst, const void *src, size_t len)
{
	struct iovec local = { (void *)src, len }, remote = { dst, len };

	if (!len)
		return 0;
	return process_vm_writev(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -EFAULT;
}

/*
 * strndup_user(@src, @n) into @dst (@n bytes): a string of fewer than @n
 * characters, its NUL included. -EFAULT where a byte cannot be read before
 * the NUL, -EINVAL for a string that does not end within @n bytes.
 */
static int pl_strndup_user(char *dst, const char *src, size_t n)
{
	size_t done = 0, chunk;

	while (done < n) {
		/* never read past the page the NUL may end in */
		chunk = min(n - done, PAGE_SIZE - ((uintptr_t)(src + done) & (PAGE_SIZE - 1)));
		if (pl_copy_from_user(dst + done, src + done, chunk))
			return -EFAULT;
		if (memchr(dst + done, '\0', chunk))
			return 0;
		done += chunk;
	}
	return -EINVAL;
}

/* " ENAME" of @err for a trace line, or "" for none. */
static const char *pl_err(int err)
{
	static __thread char buf[32];
	const char *name;

	if (!err)
		return "";
	name = strerrorname_np(err < 0 ? -err : err);
	snprintf(buf, sizeof(buf), " %s", name ? name : "?");
	return buf;
}

/* ---- the dma-buf fd (PL_FD_DMABUF) ---- */

static struct dma_buf *pl_dmabuf(struct pl_file *f)
{
	return f->priv;
}

/* dma_buf_ioctl(): DMA_BUF_IOCTL_SYNC, flags and direction as the kernel checks them */
static int pl_dmabuf_sync(struct dma_buf *dmabuf, int fd, void *arg)
{
	struct dma_buf_sync sync;
	enum dma_data_direction dir;
	int ret;

	if (pl_copy_from_user(&sync, arg, sizeof(sync)))
		return pl_fail(EFAULT);
	if (sync.flags & ~(__u64)DMA_BUF_SYNC_VALID_FLAGS_MASK)
		return pl_fail(EINVAL);
	switch (sync.flags & DMA_BUF_SYNC_RW) {
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
		return pl_fail(EINVAL);
	}
	/* the buffer's own, no lock beyond its resv: this is the copy loop's path */
	if (sync.flags & DMA_BUF_SYNC_END)
		ret = dma_buf_end_cpu_access(dmabuf, dir);
	else
		ret = dma_buf_begin_cpu_access(dmabuf, dir);
	return ret ? pl_fail(ret) : 0;
}

/* dma_buf_set_name(): strndup_user(name, DMA_BUF_NAME_LEN) */
static int pl_dmabuf_set_name(struct dma_buf *dmabuf, const char *arg)
{
	char name[DMA_BUF_NAME_LEN];
	int ret = pl_strndup_user(name, arg, sizeof(name));

	if (ret)
		return pl_fail(ret);
	ret = dma_buf_set_name(dmabuf, name);
	return ret ? pl_fail(ret) : 0;
}

/* The requests the VFS answers for every file before the driver's ioctl. */
static bool pl_vfs_ioctl(unsigned int req)
{
	return req == FIOCLEX || req == FIONCLEX || req == FIONBIO || req == FIOASYNC;
}

static int pl_dmabuf_ioctl(struct pl_file *f, int fd, unsigned long request, void *arg)
{
	struct dma_buf *dmabuf = pl_dmabuf(f);
	unsigned int req = (unsigned int)request;
	int ret;

	if (pl_vfs_ioctl(req))
		return ioctl(fd, request, arg);
	switch (req) {
	case DMA_BUF_IOCTL_SYNC:
		ret = pl_dmabuf_sync(dmabuf, fd, arg);
		if (pl_tracing) {
			struct dma_buf_sync sync = { 0 };

			pl_copy_from_user(&sync, arg, sizeof(sync));
			pl_trace("ioctl(%d, DMA_BUF_IOCTL_SYNC, {flags=%#llx}) = %d%s", fd,
				 (unsigned long long)sync.flags, ret, pl_err(ret < 0 ? errno : 0));
		}
		return ret;
	case DMA_BUF_SET_NAME_A:
	case DMA_BUF_SET_NAME_B:
		ret = pl_dmabuf_set_name(dmabuf, arg);
		pl_trace("ioctl(%d, DMA_BUF_SET_NAME) = %d%s", fd, ret,
			 pl_err(ret < 0 ? errno : 0));
		return ret;
	default:
		/* sync files (EXPORT/IMPORT_SYNC_FILE) are not emulated: as without CONFIG_SYNC_FILE */
		pl_trace("ioctl(%d, %#x) on a dma-buf = -1 ENOTTY", fd, req);
		return pl_fail(ENOTTY);
	}
}

static void *pl_dmabuf_mmap(struct pl_file *f, int fd, void *addr, size_t len, int prot, int flags,
			    off_t off)
{
	void *ret = swudmabuf_mmap(pl_dmabuf(f), fd, addr, len, prot, flags, off);

	pl_trace("mmap(%p, %zu, %#x, %#x, %d, %lld) on a dma-buf = %p%s", addr, len, prot, flags,
		 fd, (long long)off, ret, pl_err(ret == MAP_FAILED ? errno : 0));
	return ret;
}

/* The last fd is gone: the file's reference on the buffer goes, as dma_buf_file_release(). */
static void pl_dmabuf_release(struct pl_file *f)
{
	dma_buf_put(pl_dmabuf(f));
}

static const struct pl_file_ops pl_dmabuf_ops = {
	.ioctl = pl_dmabuf_ioctl,
	.mmap = pl_dmabuf_mmap,
	.release = pl_dmabuf_release,
};

/* A new fd of @dmabuf for the program; takes over the caller's reference. */
static int pl_dmabuf_install(struct dma_buf *dmabuf, int flags)
{
	struct pl_file *f;
	int fd;

	fd = swudmabuf_fd(dmabuf, flags);
	if (fd < 0) {
		dma_buf_put(dmabuf);
		return fd;
	}
	f = pl_file_alloc(PL_FD_DMABUF, &pl_dmabuf_ops, dmabuf);
	if (!f) {
		close(fd);
		dma_buf_put(dmabuf);
		return -ENOMEM;
	}
	pl_fd_install(fd, f);
	return fd;
}

/* ---- /dev/udmabuf (PL_FD_UDMABUF_DEV) ---- */

/*
 * udmabuf_create(): the ranges first, then each memfd in turn, then the
 * buffer. The kernel takes only UDMABUF_FLAGS_CLOEXEC from @flags and
 * ignores every other bit: a program that leaves flags uninitialised gets
 * its buffer, as on the kernel.
 */
static int pl_udmabuf_create(const struct udmabuf_create_item *items, uint32_t count,
			     uint32_t flags)
{
	struct dma_buf *dmabuf;
	uint32_t i;
	int ret;

	ret = udmabuf_check_ranges(items, count);
	if (ret)
		return ret;
	for (i = 0; i < count; i++) {
		/* a file of ours (a dma-buf, a device) is no shmem file */
		if (pl_fd_kind((int)items[i].memfd) != PL_FD_NONE)
			return -EBADFD;
		ret = udmabuf_check_memfd((int)items[i].memfd);
		if (ret)
			return ret;
	}
	ret = swudmabuf_create(items, count, "udmabuf", &dmabuf);
	if (ret)
		return ret;
	return pl_dmabuf_install(dmabuf, (flags & UDMABUF_FLAGS_CLOEXEC) ? O_CLOEXEC : 0);
}

static int pl_udmabuf_ioctl_create(int fd, void *arg)
{
	struct udmabuf_create create;
	struct udmabuf_create_item item;
	int ret;

	if (pl_copy_from_user(&create, arg, sizeof(create))) {
		pl_trace("ioctl(%d, UDMABUF_CREATE, %p) = -1 EFAULT", fd, arg);
		return pl_fail(EFAULT);
	}
	item.memfd = create.memfd;
	item.__pad = 0;
	item.offset = create.offset;
	item.size = create.size;
	ret = pl_udmabuf_create(&item, 1, create.flags);
	pl_trace("ioctl(%d, UDMABUF_CREATE, {memfd=%d, flags=%#x, offset=%llu, size=%llu}) = %d%s",
		 fd, (int)create.memfd, create.flags, (unsigned long long)create.offset,
		 (unsigned long long)create.size, ret < 0 ? -1 : ret, pl_err(ret < 0 ? ret : 0));
	return ret < 0 ? pl_fail(ret) : ret;
}

static int pl_udmabuf_ioctl_create_list(int fd, void *arg)
{
	struct udmabuf_create_list head = { 0 };
	struct udmabuf_create_item *list;
	int ret;

	if (pl_copy_from_user(&head, arg, sizeof(head))) {
		ret = -EFAULT;
		goto out;
	}
	if (head.count > udmabuf_list_limit()) {
		ret = -EINVAL;
		goto out;
	}
	list = calloc(head.count ? head.count : 1, sizeof(*list));
	if (!list) {
		ret = -ENOMEM;
		goto out;
	}
	ret = pl_copy_from_user(list, (char *)arg + sizeof(head), head.count * sizeof(*list));
	if (!ret)
		ret = pl_udmabuf_create(list, head.count, head.flags);
	free(list);
out:
	pl_trace("ioctl(%d, UDMABUF_CREATE_LIST, {flags=%#x, count=%u}) = %d%s", fd,
		 ret == -EFAULT ? 0 : head.flags, ret == -EFAULT ? 0 : head.count,
		 ret < 0 ? -1 : ret, pl_err(ret < 0 ? ret : 0));
	return ret < 0 ? pl_fail(ret) : ret;
}

static int pl_udmabuf_dev_ioctl(struct pl_file *f, int fd, unsigned long request, void *arg)
{
	unsigned int req = (unsigned int)request;

	if (pl_vfs_ioctl(req))
		return ioctl(fd, request, arg);
	switch (req) {
	case UDMABUF_CREATE:
		return pl_udmabuf_ioctl_create(fd, arg);
	case UDMABUF_CREATE_LIST:
		return pl_udmabuf_ioctl_create_list(fd, arg);
	default:
		pl_trace("ioctl(%d, %#x) on /dev/udmabuf = -1 ENOTTY", fd, req);
		return pl_fail(ENOTTY);
	}
}

static const struct pl_file_ops pl_udmabuf_dev_ops = {
	.ioctl = pl_udmabuf_dev_ioctl,
};

/* ---- /dev/dma_heap/system (PL_FD_DMA_HEAP_DEV) ---- */

/* dma_heap_ioctl_allocate(): @data is the kernel's copy, zero-extended */
static int pl_dma_heap_allocate(struct dma_heap_allocation_data *data)
{
	struct dma_buf *dmabuf;
	int ret;

	if (data->fd)
		return -EINVAL;
	ret = dma_heap_check(DMA_HEAP_SYSTEM, data->len, data->fd_flags, data->heap_flags);
	if (ret)
		return ret;
	ret = swudmabuf_heap_alloc(DMA_HEAP_SYSTEM, data->len, data->fd_flags, &dmabuf);
	if (ret)
		return ret;
	ret = pl_dmabuf_install(dmabuf, (int)data->fd_flags);
	if (ret < 0)
		return ret;
	data->fd = (__u32)ret;
	return 0;
}

/*
 * dma_heap_ioctl(): the command is chosen by its number alone, and the
 * argument copied in and out by the sizes the caller's request encodes.
 */
static int pl_dma_heap_ioctl(int fd, unsigned int ucmd, void *arg)
{
	const unsigned int kcmd = DMA_HEAP_IOCTL_ALLOC;
	unsigned int in_size, out_size, ksize;
	char *kdata;
	int ret;

	if (_IOC_NR(ucmd) >= 1)
		return -EINVAL;
	out_size = in_size = _IOC_SIZE(ucmd);
	if (!(ucmd & kcmd & IOC_IN))
		in_size = 0;
	if (!(ucmd & kcmd & IOC_OUT))
		out_size = 0;
	ksize = max(max(in_size, out_size), (unsigned int)_IOC_SIZE(kcmd));
	kdata = calloc(1, ksize);
	if (!kdata)
		return -ENOMEM;
	ret = pl_copy_from_user(kdata, arg, in_size);
	/*
	 * The kernel would make the buffer and then fail to write its fd back,
	 * leaving an fd the program never learns: refuse first instead.
	 */
	if (!ret && out_size)
		ret = pl_copy_to_user(arg, kdata, out_size);
	if (!ret)
		ret = pl_dma_heap_allocate((struct dma_heap_allocation_data *)kdata);
	if (!ret && pl_copy_to_user(arg, kdata, out_size)) {
		/* the program unmapped its argument meanwhile: the fd it cannot learn goes */
		pl_fd_forget((int)((struct dma_heap_allocation_data *)kdata)->fd);
		close((int)((struct dma_heap_allocation_data *)kdata)->fd);
		ret = -EFAULT;
	}
	free(kdata);
	return ret;
}

static int pl_dma_heap_dev_ioctl(struct pl_file *f, int fd, unsigned long request, void *arg)
{
	unsigned int req = (unsigned int)request;
	struct dma_heap_allocation_data data = { 0 };
	int ret;

	if (pl_vfs_ioctl(req))
		return ioctl(fd, request, arg);
	ret = pl_dma_heap_ioctl(fd, req, arg);
	if (pl_tracing) {
		pl_copy_from_user(&data, arg, min(sizeof(data), (size_t)_IOC_SIZE(req)));
		pl_trace("ioctl(%d, DMA_HEAP_IOCTL_ALLOC, {len=%llu, fd=%u, fd_flags=%#x, "
			 "heap_flags=%#llx}) = %d%s",
			 fd, (unsigned long long)data.len, data.fd, data.fd_flags,
			 (unsigned long long)data.heap_flags, ret < 0 ? -1 : ret,
			 pl_err(ret < 0 ? ret : 0));
	}
	return ret < 0 ? pl_fail(ret) : ret;
}

static const struct pl_file_ops pl_dma_heap_dev_ops = {
	.ioctl = pl_dma_heap_dev_ioctl,
};

/* ---- open ---- */

static bool pl_path_exists(const char *path)
{
	struct stat st;

	return !stat(path, &st);
}

/* The device's fd: /dev/null with the program's access mode, of @kind. */
static int pl_dev_fd(enum pl_kind kind, const struct pl_file_ops *ops, int flags)
{
	struct pl_file *f;
	int fd;

	/* a device node is no directory, and it exists */
	if (flags & O_DIRECTORY)
		return pl_fail(ENOTDIR);
	if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
		return pl_fail(EEXIST);
	fd = open("/dev/null", (flags & (O_ACCMODE | O_CLOEXEC | O_NONBLOCK)));
	if (fd < 0)
		return -1;
	f = pl_file_alloc(kind, ops, NULL);
	if (!f) {
		close(fd);
		return pl_fail(ENOMEM);
	}
	pl_fd_install(fd, f);
	return fd;
}

int pl_dev_open(const char *path, int flags)
{
	const char *heap;
	int fd;

	if (!strcmp(path, UDMABUF_DEV)) {
		if (pl_path_exists(UDMABUF_DEV))
			return -2;
		fd = pl_dev_fd(PL_FD_UDMABUF_DEV, &pl_udmabuf_dev_ops, flags);
	} else if (!strncmp(path, DMA_HEAP_DIR, strlen(DMA_HEAP_DIR))) {
		heap = path + strlen(DMA_HEAP_DIR);
		/* a heap the kernel has is the kernel's */
		if (pl_path_exists(path))
			return -2;
		if (strcmp(heap, DMA_HEAP_SYSTEM)) {
			pl_trace("open(\"%s\") = -1 ENOENT", path);
			return pl_fail(ENOENT);
		}
		fd = pl_dev_fd(PL_FD_DMA_HEAP_DEV, &pl_dma_heap_dev_ops, flags);
	} else {
		return -2;
	}
	pl_trace("open(\"%s\", %#o) = %d%s", path, flags, fd, pl_err(fd < 0 ? errno : 0));
	return fd;
}

/* ---- /proc/.../fdinfo/N of a dma-buf ---- */

/* N of "/proc/self/fdinfo/N", "/proc/thread-self/fdinfo/N" or "/proc/<our pid>/fdinfo/N". */
static int pl_fdinfo_fd(const char *path)
{
	const char *p = path + strlen("/proc/");
	char *end;
	long v;

	if (!strncmp(p, "self/", 5)) {
		p += 5;
	} else if (!strncmp(p, "thread-self/", 12)) {
		p += 12;
	} else {
		v = strtol(p, &end, 10);
		if (end == p || *end != '/' || v != getpid())
			return -1;
		p = end + 1;
	}
	if (strncmp(p, "fdinfo/", 7))
		return -1;
	p += 7;
	if (*p < '0' || *p > '9')
		return -1;
	v = strtol(p, &end, 10);
	if (*end || v < 0 || v >= PL_MAX_FDS)
		return -1;
	return (int)v;
}

/* The lines procfs prints for every file, from the real fdinfo of the fd. */
static void pl_fdinfo_common(FILE *out, const char *path)
{
	char buf[4096], *line, *save;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* a dma-buf's file keeps O_ACCMODE and O_NONBLOCK only (dma_buf_getfile) */
		if (!strncmp(line, "flags:", 6))
			fprintf(out, "flags:\t0%lo\n",
				strtoul(line + 6, NULL, 8) & (O_ACCMODE | O_NONBLOCK | O_CLOEXEC));
		else if (!strncmp(line, "pos:", 4) || !strncmp(line, "mnt_id:", 7) ||
			 !strncmp(line, "ino:", 4))
			fprintf(out, "%s\n", line);
	}
}

/*
 * dma_buf_show_fdinfo(): "count" is the file's references, the reader's
 * not counted: the fds that name it, and the references the buffer's
 * importers (bindings) hold, as each dma_buf_get() holds one on the file.
 */
static int pl_fdinfo_text(struct pl_file *f, const char *path, char **text, size_t *len)
{
	struct dma_buf *dmabuf = pl_dmabuf(f);
	char *dma, *line, *save;
	size_t dma_len;
	long count;
	FILE *out, *mem;

	/* our own pl_file_get() and the file's reference on the buffer are not counted */
	count = (long)__atomic_load_n(&f->refs, __ATOMIC_RELAXED) - 1 +
		(long)kref_read(&dmabuf->refcount) - 1;
	mem = open_memstream(&dma, &dma_len);
	if (!mem)
		return -ENOMEM;
	dma_buf_show_fdinfo(dmabuf, mem);
	fclose(mem);
	out = open_memstream(text, len);
	if (!out) {
		free(dma);
		return -ENOMEM;
	}
	pl_fdinfo_common(out, path);
	for (line = strtok_r(dma, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "count:", 6))
			fprintf(out, "count:\t%ld\n", count);
		else
			fprintf(out, "%s\n", line);
	}
	free(dma);
	return fclose(out) ? -ENOMEM : 0;
}

int pl_fdinfo_open(const char *path, int flags)
{
	struct pl_file *f;
	char *text = NULL;
	size_t len = 0;
	int fd, mfd, ret;

	if (strncmp(path, "/proc/", 6) || (flags & O_ACCMODE) != O_RDONLY)
		return -2;
	fd = pl_fdinfo_fd(path);
	if (fd < 0 || pl_fd_kind(fd) != PL_FD_DMABUF)
		return -2;
	f = pl_file_get(fd);
	if (!f || f->kind != PL_FD_DMABUF) {
		pl_file_put(f);
		return -2;
	}
	ret = pl_fdinfo_text(f, path, &text, &len);
	pl_file_put(f);
	if (ret)
		return pl_fail(ret);
	/* what the program reads: a file of its own with the text, at offset 0 */
	mfd = memfd_create("fdinfo", (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
	if (mfd < 0 || write(mfd, text, len) != (ssize_t)len || lseek(mfd, 0, SEEK_SET)) {
		ret = errno;
		if (mfd >= 0)
			close(mfd);
		free(text);
		return pl_fail(ret);
	}
	free(text);
	pl_trace("open(\"%s\") = %d", path, mfd);
	return mfd;
}
