// SPDX-License-Identifier: MIT
/*
 * Foreign fds and real kernel dma-bufs: the importers dma_buf_get() asks,
 * the kernel dma-buf wrapper (fdinfo, mmap, DMA_BUF_IOCTL_SYNC,
 * DMA_BUF_SET_NAME), and the udmabuf and dma-heap exporters with the
 * kernel's argument rules and errno.
 *
 * A machine without /dev/udmabuf or /dev/dma_heap (CONFIG_UDMABUF,
 * CONFIG_DMABUF_HEAPS) shows the refusals; the tests that need a real
 * kernel dma-buf SKIP there with that reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/udmabuf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devmem/dma-buf.h"
#include "devmem/error.h"
#include "devmem/host.h"
#include "devmem/kdmabuf.h"
#include "exporters/kdmabuf-internal.h"
#include "harness.h"

#define PAGE 4096UL
#define MiB (1UL << 20)

/* A memfd of @size bytes with @seals added (and sealing allowed, if @seals is 0). */
static int sealed_memfd(size_t size, int seals)
{
	int fd = memfd_create("kdmabuf-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	if (seals)
		cr_assert_eq(fcntl(fd, F_ADD_SEALS, seals), 0, "F_ADD_SEALS %#x: %s", seals,
			     strerror(errno));
	return fd;
}

static void send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 }, byte = 'f';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	if (sendmsg(sock, &msg, 0) != 1)
		_exit(1);
}

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 }, byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cmsg;
	int fd;

	cr_assert_eq(recvmsg(sock, &msg, MSG_CMSG_CLOEXEC), 1);
	cmsg = CMSG_FIRSTHDR(&msg);
	cr_assert_not_null(cmsg);
	cr_assert_eq(cmsg->cmsg_type, SCM_RIGHTS);
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	return fd;
}

/* ---- the importers of dma_buf_get() ---- */

/*
 * A sealed memfd made and filled by another process is found by the host
 * exporter's importer: the same memory, wrapped once.
 */
Test(kdmabuf, get_finds_a_foreign_sealed_memfd_from_a_child)
{
	struct dma_buf *dmabuf, *again;
	int sv[2], fd, status;
	unsigned char *p;
	void *vaddr;
	pid_t pid;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int mfd = memfd_create("child", MFD_CLOEXEC | MFD_ALLOW_SEALING);

		if (mfd < 0 || ftruncate(mfd, 2 * PAGE))
			_exit(1);
		p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
		if (p == MAP_FAILED)
			_exit(1);
		memset(p, 0xa5, 2 * PAGE);
		if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW))
			_exit(1);
		send_fd(sv[1], mfd);
		_exit(0);
	}
	close(sv[1]);
	fd = recv_fd(sv[0]);
	close(sv[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	cr_assert_eq(dma_buf_get(fd, &dmabuf), 0, "dma_buf_get: %s", devmem_last_error());
	cr_assert(devmem_is_host_buffer(dmabuf));
	cr_assert_eq(dmabuf->size, 2 * PAGE);
	cr_assert_eq(dma_buf_vmap_unlocked(dmabuf, &vaddr), 0);
	p = vaddr;
	cr_assert_eq(p[0], 0xa5);
	cr_assert_eq(p[2 * PAGE - 1], 0xa5);
	dma_buf_vunmap_unlocked(dmabuf, vaddr);
	/* wrapped once: the next get of the same file is the same buffer */
	cr_assert_eq(dma_buf_get(fd, &again), 0);
	cr_assert_eq(again, dmabuf);
	cr_assert_eq(devmem_test_live_dma_bufs(), 1);
	dma_buf_put(again);
	dma_buf_put(dmabuf);
	close(fd);
	cr_assert_eq(devmem_test_live_dma_bufs(), 0);
}

/* No importer takes a pipe, a socket, a regular file or an eventfd: EINVAL, nothing made. */
Test(kdmabuf, get_refuses_a_non_dmabuf_fd_with_einval)
{
	struct dma_buf *sentinel = (struct dma_buf *)&sentinel, *out = sentinel;
	int pipefd[2], sv[2], efd, unsealed;
	FILE *tmp = tmpfile();
	int fds[5];
	unsigned int i;

	cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	efd = eventfd(0, EFD_CLOEXEC);
	cr_assert_geq(efd, 0);
	cr_assert_not_null(tmp);
	/* a memfd is the host importer's kind, but unsealed it is refused */
	unsealed = sealed_memfd(PAGE, 0);
	fds[0] = pipefd[0];
	fds[1] = sv[0];
	fds[2] = fileno(tmp);
	fds[3] = efd;
	fds[4] = unsealed;
	for (i = 0; i < 5; i++) {
		cr_assert_eq(dma_buf_get(fds[i], &out), -EINVAL, "fd kind %u", i);
		cr_assert_eq(out, sentinel);
		cr_assert_neq(devmem_last_error()[0], '\0');
	}
	cr_assert_eq(devmem_test_live_dma_bufs(), 0);
	close(pipefd[0]);
	close(pipefd[1]);
	close(sv[0]);
	close(sv[1]);
	close(efd);
	close(unsealed);
	fclose(tmp);
}

Test(kdmabuf, get_refuses_a_closed_fd_with_ebadf)
{
	struct dma_buf *out = NULL;
	int fd = sealed_memfd(PAGE, F_SEAL_SHRINK | F_SEAL_GROW);

	close(fd);
	cr_assert_eq(dma_buf_get(fd, &out), -EBADF);
	cr_assert_null(out);
	cr_assert_eq(devmem_test_live_dma_bufs(), 0);
}

/* A test importer: takes eventfds, wraps them as buffers of a test exporter. */
static int test_map(struct dma_buf_attachment *attach, enum dma_data_direction dir,
		    struct sg_table **sgt)
{
	return -EOPNOTSUPP;
}

static void test_unmap(struct dma_buf_attachment *attach, struct sg_table *sgt,
		       enum dma_data_direction dir)
{
}

static int test_released;

static void test_release(struct dma_buf *dmabuf)
{
	test_released++;
}

static const struct dma_buf_ops test_ops = {
	.map_dma_buf = test_map,
	.unmap_dma_buf = test_unmap,
	.release = test_release,
};

static int test_imports;

static bool eventfd_match(int fd, const struct stat *st)
{
	char path[64], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = '\0';
	return !strcmp(link, "anon_inode:[eventfd]");
}

static int eventfd_import(int fd, const struct stat *st, struct dma_buf **out)
{
	struct dma_buf_export_info info = { .exp_name = "eventfd",
					    .ops = &test_ops,
					    .size = PAGE,
					    .priv = &test_imports,
					    .fd = fcntl(fd, F_DUPFD_CLOEXEC, 0) };
	int ret;

	test_imports++;
	ret = dma_buf_export(&info, out);
	if (ret)
		close(info.fd);
	return ret;
}

static const struct dma_buf_importer eventfd_importer = {
	.name = "eventfd",
	.match = eventfd_match,
	.import = eventfd_import,
};

/* An importer registered with the core gets the fds it matches, each wrapped once. */
Test(kdmabuf, a_registered_importer_wraps_the_fds_it_matches)
{
	struct dma_buf *dmabuf, *again;
	int efd = eventfd(0, EFD_CLOEXEC);

	cr_assert_geq(efd, 0);
	cr_assert_eq(dma_buf_get(efd, &dmabuf), -EINVAL, "an eventfd before its importer");
	cr_assert_eq(dma_buf_register_importer(&eventfd_importer), 0);
	cr_assert_eq(dma_buf_get(efd, &dmabuf), 0, "%s", devmem_last_error());
	cr_assert_str_eq(dmabuf->exp_name, "eventfd");
	cr_assert_eq(dma_buf_get(efd, &again), 0);
	cr_assert_eq(again, dmabuf);
	cr_assert_eq(test_imports, 1);
	dma_buf_put(again);
	dma_buf_put(dmabuf);
	cr_assert_eq(test_released, 1);
	close(efd);
}

Test(kdmabuf, register_importer_refuses_bad_and_duplicate_importers)
{
	static struct dma_buf_importer fill[DMA_BUF_MAX_IMPORTERS];
	struct dma_buf_importer no_match = { .name = "x", .import = eventfd_import };
	struct dma_buf_importer no_import = { .name = "x", .match = eventfd_match };
	struct dma_buf_importer no_name = { .match = eventfd_match, .import = eventfd_import };
	unsigned int i;
	int ret = 0;

	cr_assert_eq(dma_buf_register_importer(NULL), -EINVAL);
	cr_assert_eq(dma_buf_register_importer(&no_match), -EINVAL);
	cr_assert_eq(dma_buf_register_importer(&no_import), -EINVAL);
	cr_assert_eq(dma_buf_register_importer(&no_name), -EINVAL);
	cr_assert_eq(dma_buf_register_importer(&eventfd_importer), 0);
	cr_assert_eq(dma_buf_register_importer(&eventfd_importer), -EEXIST);
	/* the library's own importers and ours take some slots: the rest fill up */
	for (i = 0; i < DMA_BUF_MAX_IMPORTERS && !ret; i++) {
		fill[i] = (struct dma_buf_importer){ .name = "fill",
						     .match = eventfd_match,
						     .import = eventfd_import };
		ret = dma_buf_register_importer(&fill[i]);
	}
	cr_assert_eq(ret, -ENOSPC);
	cr_assert_lt(i, DMA_BUF_MAX_IMPORTERS, "the library registered no importer of its own");
}

/* ---- kernel dma-bufs: recognition and fdinfo ---- */

Test(kdmabuf, fdinfo_parser_reads_the_kernels_lines)
{
	static const char named[] = "pos:\t0\nflags:\t02000002\nmnt_id:\t16\nino:\t1234\n"
				    "size:\t8192\ncount:\t3\nexp_name:\tudmabuf\nname:\tframes\n";
	static const char unnamed[] = "size:\t4096\ncount:\t1\nexp_name:\tsystem\n";
	static const char empty_name[] = "size:\t4096\ncount:\t1\nexp_name:\tsystem\nname:\t\n";
	static const char memfd[] = "pos:\t0\nflags:\t02000002\nmnt_id:\t16\nino:\t77\n";
	struct devmem_kdmabuf_info info;

	cr_assert_eq(kdmabuf_parse_fdinfo(named, strlen(named), &info), 0);
	cr_assert_eq(info.size, 8192);
	cr_assert_eq(info.count, 3);
	cr_assert_str_eq(info.exp_name, "udmabuf");
	cr_assert(info.has_name);
	cr_assert_str_eq(info.name, "frames");

	cr_assert_eq(kdmabuf_parse_fdinfo(unnamed, strlen(unnamed), &info), 0);
	cr_assert_str_eq(info.exp_name, "system");
	cr_assert_not(info.has_name);

	/* a buffer named "" has a name line, empty */
	cr_assert_eq(kdmabuf_parse_fdinfo(empty_name, strlen(empty_name), &info), 0);
	cr_assert(info.has_name);
	cr_assert_str_empty(info.name);

	cr_assert_eq(kdmabuf_parse_fdinfo(memfd, strlen(memfd), &info), -EINVAL);
	/* a truncated read ends mid-line: what is there is parsed, nothing beyond */
	cr_assert_eq(kdmabuf_parse_fdinfo(named, 60, &info), -EINVAL);
}

Test(kdmabuf, fdinfo_refuses_a_non_dmabuf_and_a_closed_fd)
{
	struct devmem_kdmabuf_info info;
	int fd = sealed_memfd(PAGE, F_SEAL_SHRINK | F_SEAL_GROW);
	struct dma_buf *host;

	cr_assert_not(kdmabuf_fd_is_dmabuf(fd));
	cr_assert_eq(devmem_kdmabuf_fdinfo(fd, &info), -EINVAL);
	/* a host buffer is a libdevmem dma-buf, not a kernel one */
	cr_assert_eq(devmem_host_buffer_create(PAGE, NULL, &host), 0);
	cr_assert_eq(devmem_kdmabuf_fdinfo(host->fd, &info), -EINVAL);
	cr_assert_not(devmem_is_kdmabuf(host));
	cr_assert_eq(devmem_kdmabuf_set_name(host, "x"), -EINVAL);
	dma_buf_put(host);
	close(fd);
	cr_assert_eq(devmem_kdmabuf_fdinfo(fd, &info), -EBADF);
	cr_assert_eq(devmem_kdmabuf_fdinfo(-1, &info), -EBADF);
}

/* ---- udmabuf ---- */

static bool have_dev(const char *path)
{
	return access(path, F_OK) == 0;
}

Test(kdmabuf, udmabuf_without_the_device_is_enoent_naming_config_udmabuf)
{
	struct dma_buf *out = NULL;
	int fd;

	if (have_dev("/dev/udmabuf"))
		cr_skip_test("this machine has /dev/udmabuf: its absence cannot be shown");
	fd = sealed_memfd(4 * PAGE, F_SEAL_SHRINK);
	cr_assert_eq(devmem_udmabuf_create(fd, 0, 4 * PAGE, UDMABUF_FLAGS_CLOEXEC, &out), -ENOENT);
	cr_assert(strstr(devmem_last_error(), "CONFIG_UDMABUF"), "%s", devmem_last_error());
	cr_assert(strstr(devmem_last_error(), "/dev/udmabuf"), "%s", devmem_last_error());
	cr_assert_eq(devmem_udmabuf_alloc(4 * PAGE, &out), -ENOENT);
	cr_assert(strstr(devmem_last_error(), "CONFIG_UDMABUF"), "%s", devmem_last_error());
	cr_assert_null(out);
	cr_assert_eq(devmem_test_live_dma_bufs(), 0);
	close(fd);
}

/* The module's size limit, as the library reads it. */
static uint64_t udmabuf_size_limit(void)
{
	FILE *f = fopen("/sys/module/udmabuf/parameters/size_limit_mb", "re");
	long mb = 64;

	if (f) {
		if (fscanf(f, "%ld", &mb) != 1)
			mb = 64;
		fclose(f);
	}
	return (uint64_t)mb * MiB;
}

/* Every rule of udmabuf_create() is checked before the device: the kernel's errno, here too. */
Test(kdmabuf, udmabuf_create_checks_the_kernels_argument_rules)
{
	int good = sealed_memfd(4 * PAGE, F_SEAL_SHRINK);
	int no_shrink = sealed_memfd(4 * PAGE, F_SEAL_GROW);
	int write_sealed = sealed_memfd(4 * PAGE, F_SEAL_SHRINK | F_SEAL_WRITE);
	int future_write = sealed_memfd(4 * PAGE, F_SEAL_SHRINK | F_SEAL_FUTURE_WRITE);
	int closed = sealed_memfd(PAGE, F_SEAL_SHRINK), pipefd[2];
	struct dma_buf *sentinel = (struct dma_buf *)&sentinel, *out = sentinel;

	close(closed);
	cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);

	/* offset and size page aligned, size neither 0 nor beyond size_limit_mb: EINVAL */
	cr_assert_eq(devmem_udmabuf_create(good, 100, PAGE, 0, &out), -EINVAL);
	cr_assert(strstr(devmem_last_error(), "offset"), "%s", devmem_last_error());
	cr_assert_eq(devmem_udmabuf_create(good, 0, PAGE + 1, 0, &out), -EINVAL);
	cr_assert_eq(devmem_udmabuf_create(good, 0, 0, 0, &out), -EINVAL);
	cr_assert_eq(devmem_udmabuf_create(good, 0, udmabuf_size_limit() + PAGE, 0, &out), -EINVAL);
	cr_assert(strstr(devmem_last_error(), "size_limit_mb"), "%s", devmem_last_error());
	/* the memfd: open and shmem (EBADFD), F_SEAL_SHRINK and no write seal (EINVAL) */
	cr_assert_eq(devmem_udmabuf_create(closed, 0, PAGE, 0, &out), -EBADFD);
	cr_assert_eq(devmem_udmabuf_create(-1, 0, PAGE, 0, &out), -EBADFD);
	cr_assert_eq(devmem_udmabuf_create(pipefd[0], 0, PAGE, 0, &out), -EBADFD);
	cr_assert_eq(devmem_udmabuf_create(no_shrink, 0, PAGE, 0, &out), -EINVAL);
	cr_assert(strstr(devmem_last_error(), "F_SEAL_SHRINK"), "%s", devmem_last_error());
	cr_assert_eq(devmem_udmabuf_create(write_sealed, 0, PAGE, 0, &out), -EINVAL);
	cr_assert_eq(devmem_udmabuf_create(future_write, 0, PAGE, 0, &out), -EINVAL);
	/* flags: UDMABUF_FLAGS_CLOEXEC only */
	cr_assert_eq(devmem_udmabuf_create(good, 0, PAGE, 2, &out), -EINVAL);
	cr_assert_eq(out, sentinel, "a refused create wrote its result");
	cr_assert_eq(devmem_test_live_dma_bufs(), 0);
	close(good);
	close(no_shrink);
	close(write_sealed);
	close(future_write);
	close(pipefd[0]);
	close(pipefd[1]);
}

Test(kdmabuf, udmabuf_create_list_checks_every_range_and_the_list_limit)
{
	int good = sealed_memfd(4 * PAGE, F_SEAL_SHRINK);
	int no_shrink = sealed_memfd(4 * PAGE, 0);
	struct udmabuf_create_item items[2] = {
		{ .memfd = (__u32)good, .offset = 0, .size = PAGE },
		{ .memfd = (__u32)good, .offset = 2 * PAGE, .size = 3 },
	};
	struct udmabuf_create_item *many;
	struct dma_buf *out = NULL;

	/* the second range is unaligned */
	cr_assert_eq(devmem_udmabuf_create_list(items, 2, 0, &out), -EINVAL);
	items[1].size = PAGE;
	items[1].memfd = (__u32)no_shrink;
	cr_assert_eq(devmem_udmabuf_create_list(items, 2, 0, &out), -EINVAL);
	/* an empty list is size 0 */
	cr_assert_eq(devmem_udmabuf_create_list(items, 0, 0, &out), -EINVAL);
	cr_assert_eq(devmem_udmabuf_create_list(NULL, 1, 0, &out), -EFAULT);
	/* more ranges than list_limit (1024 by default) */
	many = calloc(1025, sizeof(*many));
	cr_assert_not_null(many);
	cr_assert_eq(devmem_udmabuf_create_list(many, 1025, 0, &out), -EINVAL);
	cr_assert(strstr(devmem_last_error(), "list_limit"), "%s", devmem_last_error());
	free(many);
	cr_assert_null(out);
	close(good);
	close(no_shrink);
}

/* ---- dma-heaps ---- */

Test(kdmabuf, dma_heap_without_the_device_is_enoent_naming_config_dmabuf_heaps)
{
	struct dma_buf *out = NULL;

	if (have_dev("/dev/dma_heap"))
		cr_skip_test("this machine has /dev/dma_heap: its absence cannot be shown");
	cr_assert_eq(devmem_dma_heap_alloc("system", PAGE, O_RDWR | O_CLOEXEC, 0, &out), -ENOENT);
	cr_assert(strstr(devmem_last_error(), "CONFIG_DMABUF_HEAPS"), "%s", devmem_last_error());
	cr_assert_null(out);
	cr_assert_eq(devmem_test_live_dma_bufs(), 0);
}

Test(kdmabuf, dma_heap_alloc_checks_the_kernels_argument_rules)
{
	struct dma_buf *out = NULL;

	/* fd_flags: O_RDWR and O_CLOEXEC only; heap_flags: none; a length of no page */
	cr_assert_eq(devmem_dma_heap_alloc("system", PAGE, O_RDWR | O_NONBLOCK, 0, &out), -EINVAL);
	cr_assert_eq(devmem_dma_heap_alloc("system", PAGE, O_RDWR, 1, &out), -EINVAL);
	cr_assert_eq(devmem_dma_heap_alloc("system", 0, O_RDWR, 0, &out), -EINVAL);
	cr_assert_eq(devmem_dma_heap_alloc("system", SIZE_MAX, O_RDWR, 0, &out), -EINVAL);
	/* a heap is a name in /dev/dma_heap, nothing else */
	cr_assert_eq(devmem_dma_heap_alloc("../udmabuf", PAGE, O_RDWR, 0, &out), -EINVAL);
	cr_assert_eq(devmem_dma_heap_alloc("", PAGE, O_RDWR, 0, &out), -EINVAL);
	cr_assert_eq(devmem_dma_heap_alloc(NULL, PAGE, O_RDWR, 0, &out), -EINVAL);
	cr_assert_null(out);
}

/* ---- a real kernel dma-buf (SKIP without udmabuf and dma-heaps) ---- */

/* A kernel dma-buf of @size bytes from udmabuf or the system heap, or SKIP. */
static struct dma_buf *real_kdmabuf(size_t size)
{
	struct dma_buf *dmabuf;

	if (!devmem_udmabuf_alloc(size, &dmabuf))
		return dmabuf;
	if (!devmem_dma_heap_alloc("system", size, O_RDWR | O_CLOEXEC, 0, &dmabuf))
		return dmabuf;
	cr_skip_test("no kernel dma-buf exporter here (no /dev/udmabuf: CONFIG_UDMABUF; "
		     "no /dev/dma_heap/system: CONFIG_DMABUF_HEAPS_SYSTEM)");
	return NULL;
}

/* The wrapper's fd is a kernel dma-buf fd; fdinfo, name and dma_buf_get() agree. */
Test(kdmabuf, a_kernel_dmabuf_is_wrapped_with_its_fdinfo_and_name)
{
	struct dma_buf *dmabuf = real_kdmabuf(16 * PAGE), *got;
	struct devmem_kdmabuf_info info;
	char name[DMA_BUF_NAME_LEN];
	int fd;

	cr_assert(devmem_is_kdmabuf(dmabuf));
	cr_assert_eq(dmabuf->size, 16 * PAGE);
	fd = dma_buf_fd(dmabuf, O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert(kdmabuf_fd_is_dmabuf(fd));
	cr_assert_eq(devmem_kdmabuf_fdinfo(fd, &info), 0);
	cr_assert_eq(info.size, 16 * PAGE);
	cr_assert_str_eq(info.exp_name, dmabuf->exp_name);
	/* the name goes to the kernel: fdinfo shows it */
	cr_assert_eq(devmem_kdmabuf_set_name(dmabuf, "kdmabuf-test"), 0, "%s", devmem_last_error());
	cr_assert_eq(devmem_kdmabuf_fdinfo(fd, &info), 0);
	cr_assert(info.has_name);
	cr_assert_str_eq(info.name, "kdmabuf-test");
	dma_buf_get_name(dmabuf, name, sizeof(name));
	cr_assert_str_eq(name, "kdmabuf-test");
	cr_assert_eq(devmem_kdmabuf_set_name(dmabuf, "0123456789012345678901234567890123"),
		     -EINVAL);
	cr_assert_eq(dma_buf_get(fd, &got), 0);
	cr_assert_eq(got, dmabuf);
	dma_buf_put(got);
	close(fd);
	dma_buf_put(dmabuf);
}

/* A kernel dma-buf fd the application made itself is found by the kernel importer. */
Test(kdmabuf, get_wraps_a_kernel_dmabuf_fd_made_outside_the_library)
{
	struct dma_buf *made = real_kdmabuf(4 * PAGE), *got;
	struct stat st;
	int fd = dma_buf_fd(made, O_CLOEXEC);

	/* the library forgets it: the fd is now a foreign kernel dma-buf */
	dma_buf_put(made);
	cr_assert_eq(devmem_test_live_dma_bufs(), 0);
	cr_assert_eq(dma_buf_get(fd, &got), 0, "%s", devmem_last_error());
	cr_assert(devmem_is_kdmabuf(got));
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(got->ino, (unsigned long)st.st_ino);
	cr_assert_eq(got->size, 4 * PAGE);
	dma_buf_put(got);
	close(fd);
}

/* The CPU writes through the mmap (with DMA_BUF_IOCTL_SYNC), a device reads by address. */
Test(kdmabuf, a_device_reads_by_address_what_the_cpu_wrote)
{
	struct dma_buf *dmabuf = real_kdmabuf(8 * PAGE);
	struct dma_buf_attachment *attach;
	unsigned char buf[64];
	struct device *dev;
	struct sg_table *sgt;
	void *vaddr;

	cr_assert_eq(dma_buf_vmap_unlocked(dmabuf, &vaddr), 0, "%s", devmem_last_error());
	cr_assert_eq(dma_buf_begin_cpu_access(dmabuf, DMA_TO_DEVICE), 0, "%s", devmem_last_error());
	memset((char *)vaddr + 5 * PAGE, 0x3c, sizeof(buf));
	cr_assert_eq(dma_buf_end_cpu_access(dmabuf, DMA_TO_DEVICE), 0, "%s", devmem_last_error());
	dma_buf_vunmap_unlocked(dmabuf, vaddr);

	cr_assert_eq(device_create("kdmabuf-nic", NULL, &dev), 0);
	cr_assert_eq(dma_buf_attach(dmabuf, dev, &attach), 0);
	cr_assert_eq(dma_buf_map_attachment_unlocked(attach, DMA_BIDIRECTIONAL, &sgt), 0, "%s",
		     devmem_last_error());
	cr_assert_eq(sg_table_size(sgt), 8 * PAGE);
	cr_assert_eq(device_access(dev, sg_dma_address(sgt->sgl) + 5 * PAGE, buf, sizeof(buf),
				   DMA_TO_DEVICE),
		     0);
	cr_assert_eq(buf[0], 0x3c);
	cr_assert_eq(buf[sizeof(buf) - 1], 0x3c);
	dma_buf_unmap_attachment_unlocked(attach, sgt, DMA_BIDIRECTIONAL);
	dma_buf_detach(dmabuf, attach);
	device_put(dev);
	dma_buf_put(dmabuf);
}
