// SPDX-License-Identifier: MIT
/*
 * dma-bufs seen by a program written to the kernel's UAPI only, on a
 * machine without /dev/udmabuf or /dev/dma_heap: the shim answers
 * UDMABUF_CREATE, UDMABUF_CREATE_LIST and DMA_HEAP_IOCTL_ALLOC with the
 * rules of drivers/dma-buf/udmabuf.c and dma-heap.c, and the dma-buf fds
 * they return with those of drivers/dma-buf/dma-buf.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-heap.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devmem/uapi.h"

#include "../harness.h"

#define PAGE 4096UL

static void need_emulated_udmabuf(void)
{
	if (!access("/dev/udmabuf", F_OK))
		cr_skip_test("this machine has /dev/udmabuf: the kernel answers, not the shim");
}

static void need_emulated_heap(void)
{
	if (!access("/dev/dma_heap/system", F_OK))
		cr_skip_test("this machine has /dev/dma_heap/system: the kernel answers");
}

/* A memfd of @size bytes with @seals. */
static int make_memfd(size_t size, int seals)
{
	int fd = memfd_create("udmabuf-test", MFD_ALLOW_SEALING);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	if (seals)
		cr_assert_eq(fcntl(fd, F_ADD_SEALS, seals), 0, "%s", strerror(errno));
	return fd;
}

static int open_udmabuf(void)
{
	int dev;

	need_emulated_udmabuf();
	dev = open("/dev/udmabuf", O_RDWR);
	cr_assert_geq(dev, 0, "%s", strerror(errno));
	return dev;
}

/* UDMABUF_CREATE: the fd, or -errno. */
static int create(int dev, int memfd, uint32_t flags, uint64_t offset, uint64_t size)
{
	struct udmabuf_create c = {
		.memfd = (uint32_t)memfd, .flags = flags, .offset = offset, .size = size
	};
	int fd = ioctl(dev, UDMABUF_CREATE, &c);

	return fd < 0 ? -errno : fd;
}

static void *map(int fd, size_t len, off_t off)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);

	cr_assert_neq(p, MAP_FAILED, "mmap: %s", strerror(errno));
	return p;
}

/* The whole fdinfo of @fd, read as a program reads it. */
static void read_fdinfo(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd = open(path, O_RDONLY);

	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	n = read(fd, buf, size - 1);
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	close(fd);
}

static void fdinfo_of(int fd, char *buf, size_t size)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	read_fdinfo(path, buf, size);
}

static int sync_flags(int fd, uint64_t flags)
{
	struct dma_buf_sync s = { .flags = flags };

	return ioctl(fd, DMA_BUF_IOCTL_SYNC, &s) ? -errno : 0;
}

/* ---- the devices ---- */

Test(pl_dmabuf, open_udmabuf_without_the_device_gives_a_device_fd_honouring_o_cloexec)
{
	int a, b, c;

	need_emulated_udmabuf();
	a = open("/dev/udmabuf", O_RDWR);
	b = openat(AT_FDCWD, "/dev/udmabuf", O_RDWR | O_CLOEXEC);
	c = openat(12345, "/dev/udmabuf", O_RDONLY); /* an absolute path ignores dirfd */
	cr_assert_geq(a, 0, "%s", strerror(errno));
	cr_assert_geq(b, 0);
	cr_assert_geq(c, 0);
	cr_expect_eq(fcntl(a, F_GETFD) & FD_CLOEXEC, 0);
	cr_expect_eq(fcntl(b, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	close(a);
	close(b);
	close(c);
}

Test(pl_dmabuf, a_dma_heap_other_than_system_is_enoent_as_no_such_heap)
{
	int fd;

	need_emulated_heap();
	if (!access("/dev/dma_heap", F_OK))
		cr_skip_test("this machine has /dev/dma_heap: the kernel answers its names");
	errno = 0;
	cr_assert_eq(open("/dev/dma_heap/cma", O_RDWR), -1);
	cr_assert_eq(errno, ENOENT);
	fd = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0, "%s", strerror(errno));
	cr_expect_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	close(fd);
}

Test(pl_dmabuf, unknown_ioctls_on_the_devices_are_enotty_and_einval_as_the_kernel)
{
	int dev = open_udmabuf(), heap;
	int arg = 0;

	errno = 0;
	cr_assert_eq(ioctl(dev, _IOW('u', 0x44, int), &arg), -1);
	cr_assert_eq(errno, ENOTTY);
	close(dev);
	need_emulated_heap();
	heap = open("/dev/dma_heap/system", O_RDONLY);
	cr_assert_geq(heap, 0);
	/* dma_heap_ioctl() looks at the command number only: past the table is EINVAL */
	errno = 0;
	cr_assert_eq(ioctl(heap, _IOWR('H', 1, struct dma_heap_allocation_data), &arg), -1);
	cr_assert_eq(errno, EINVAL);
	close(heap);
}

/* ---- UDMABUF_CREATE ---- */

Test(pl_dmabuf, udmabuf_shares_pages_with_the_memfd_both_ways)
{
	int dev = open_udmabuf(), memfd = make_memfd(16 * PAGE, F_SEAL_SHRINK), buf;
	char *m, *d;

	buf = create(dev, memfd, 0, 0, 16 * PAGE);
	cr_assert_geq(buf, 0, "%s", strerror(-buf));
	m = map(memfd, 16 * PAGE, 0);
	d = map(buf, 16 * PAGE, 0);
	memcpy(m + 3 * PAGE + 7, "through the memfd", 18);
	cr_assert_str_eq(d + 3 * PAGE + 7, "through the memfd");
	memcpy(d + 15 * PAGE, "through the dma-buf", 20);
	cr_assert_str_eq(m + 15 * PAGE, "through the dma-buf");
	munmap(m, 16 * PAGE);
	munmap(d, 16 * PAGE);
	close(buf);
	close(memfd);
	close(dev);
}

Test(pl_dmabuf, udmabuf_create_ignores_flag_bits_other_than_cloexec_as_the_kernel)
{
	int dev = open_udmabuf(), memfd = make_memfd(4 * PAGE, F_SEAL_SHRINK), a, b;

	/* ncdevmem leaves flags uninitialised: udmabuf_create() reads only CLOEXEC */
	a = create(dev, memfd, 0xdeadbeeeu, 0, 4 * PAGE);
	b = create(dev, memfd, 0xdeadbeefu, 0, 4 * PAGE);
	cr_assert_geq(a, 0, "%s", strerror(-a));
	cr_assert_geq(b, 0, "%s", strerror(-b));
	cr_expect_eq(fcntl(a, F_GETFD) & FD_CLOEXEC, 0);
	cr_expect_eq(fcntl(b, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	close(a);
	close(b);
	close(memfd);
	close(dev);
}

Test(pl_dmabuf, udmabuf_create_refuses_unaligned_empty_and_oversized_ranges_with_einval)
{
	int dev = open_udmabuf(), memfd = make_memfd(80UL << 20, F_SEAL_SHRINK);

	cr_expect_eq(create(dev, memfd, 0, 100, 4 * PAGE), -EINVAL);
	cr_expect_eq(create(dev, memfd, 0, 0, 4 * PAGE + 1), -EINVAL);
	cr_expect_eq(create(dev, memfd, 0, 0, 0), -EINVAL);
	/* size_limit_mb: 64 MiB by default */
	cr_expect_eq(create(dev, memfd, 0, 0, (64UL << 20) + PAGE), -EINVAL);
	close(memfd);
	close(dev);
}

Test(pl_dmabuf, udmabuf_of_exactly_size_limit_mb_is_made)
{
	int dev = open_udmabuf(), memfd = make_memfd(64UL << 20, F_SEAL_SHRINK), buf;

	buf = create(dev, memfd, 0, 0, 64UL << 20);
	cr_assert_geq(buf, 0, "%s", strerror(-buf));
	close(buf);
	close(memfd);
	close(dev);
}

Test(pl_dmabuf, udmabuf_create_needs_f_seal_shrink_and_refuses_write_seals_with_einval)
{
	int dev = open_udmabuf();
	int none = make_memfd(4 * PAGE, 0);
	int wr = make_memfd(4 * PAGE, F_SEAL_SHRINK | F_SEAL_WRITE);
	int fw = make_memfd(4 * PAGE, F_SEAL_SHRINK | F_SEAL_FUTURE_WRITE);

	cr_expect_eq(create(dev, none, 0, 0, 4 * PAGE), -EINVAL);
	cr_expect_eq(create(dev, wr, 0, 0, 4 * PAGE), -EINVAL);
	cr_expect_eq(create(dev, fw, 0, 0, 4 * PAGE), -EINVAL);
	close(none);
	close(wr);
	close(fw);
	close(dev);
}

Test(pl_dmabuf, udmabuf_create_refuses_what_is_no_shmem_file_with_ebadfd)
{
	int dev = open_udmabuf(), memfd = make_memfd(4 * PAGE, F_SEAL_SHRINK), p[2], buf;

	cr_assert_eq(pipe(p), 0);
	cr_expect_eq(create(dev, p[0], 0, 0, 4 * PAGE), -EBADFD);
	cr_expect_eq(create(dev, 999, 0, 0, 4 * PAGE), -EBADFD);
	cr_expect_eq(create(dev, dev, 0, 0, 4 * PAGE), -EBADFD);
	/* a dma-buf is not a memfd, though the pages behind it are one's */
	buf = create(dev, memfd, 0, 0, 4 * PAGE);
	cr_assert_geq(buf, 0);
	cr_expect_eq(create(dev, buf, 0, 0, 4 * PAGE), -EBADFD);
	close(buf);
	close(p[0]);
	close(p[1]);
	close(memfd);
	close(dev);
}

Test(pl_dmabuf, udmabuf_create_refuses_a_range_past_the_end_of_the_memfd_with_einval)
{
	int dev = open_udmabuf(), memfd = make_memfd(4 * PAGE, F_SEAL_SHRINK);

	cr_expect_eq(create(dev, memfd, 0, 0, 8 * PAGE), -EINVAL);
	cr_expect_eq(create(dev, memfd, 0, 4 * PAGE, PAGE), -EINVAL);
	close(memfd);
	close(dev);
}

Test(pl_dmabuf, udmabuf_create_with_an_unreadable_argument_is_efault)
{
	int dev = open_udmabuf();
	void *gone = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	errno = 0;
	cr_assert_eq(ioctl(dev, UDMABUF_CREATE, NULL), -1);
	cr_assert_eq(errno, EFAULT);
	errno = 0;
	cr_assert_eq(ioctl(dev, UDMABUF_CREATE, gone), -1);
	cr_assert_eq(errno, EFAULT);
	errno = 0;
	cr_assert_eq(ioctl(dev, UDMABUF_CREATE_LIST, gone), -1);
	cr_assert_eq(errno, EFAULT);
	munmap(gone, PAGE);
	close(dev);
}

Test(pl_dmabuf, udmabuf_at_an_offset_starts_at_that_offset_of_the_memfd)
{
	int dev = open_udmabuf(), memfd = make_memfd(8 * PAGE, F_SEAL_SHRINK), buf;
	char *m, *d;

	buf = create(dev, memfd, 0, 2 * PAGE, 4 * PAGE);
	cr_assert_geq(buf, 0, "%s", strerror(-buf));
	m = map(memfd, 8 * PAGE, 0);
	d = map(buf, 4 * PAGE, 0);
	strcpy(m + 2 * PAGE, "page two");
	cr_assert_str_eq(d, "page two");
	strcpy(d + 3 * PAGE, "last");
	cr_assert_str_eq(m + 5 * PAGE, "last");
	munmap(m, 8 * PAGE);
	munmap(d, 4 * PAGE);
	close(buf);
	close(memfd);
	close(dev);
}

/* ---- UDMABUF_CREATE_LIST ---- */

struct list2 {
	struct udmabuf_create_list head;
	struct udmabuf_create_item items[2];
};

Test(pl_dmabuf, udmabuf_create_list_lays_the_ranges_end_to_end)
{
	int dev = open_udmabuf(), m1 = make_memfd(4 * PAGE, F_SEAL_SHRINK),
	    m2 = make_memfd(4 * PAGE, F_SEAL_SHRINK), buf;
	struct list2 l = {
		.head = { .flags = UDMABUF_FLAGS_CLOEXEC, .count = 2 },
		.items = { { .memfd = (uint32_t)m1, .offset = PAGE, .size = 2 * PAGE },
			   { .memfd = (uint32_t)m2, .offset = 0, .size = 3 * PAGE } },
	};
	char *a, *b, *d;

	buf = ioctl(dev, UDMABUF_CREATE_LIST, &l);
	cr_assert_geq(buf, 0, "%s", strerror(errno));
	cr_expect_eq(fcntl(buf, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	a = map(m1, 4 * PAGE, 0);
	b = map(m2, 4 * PAGE, 0);
	d = map(buf, 5 * PAGE, 0);
	strcpy(a + PAGE, "first range");
	strcpy(b, "second range");
	cr_assert_str_eq(d, "first range");
	cr_assert_str_eq(d + 2 * PAGE, "second range");
	strcpy(d + 4 * PAGE + 1, "tail");
	cr_assert_str_eq(b + 2 * PAGE + 1, "tail");
	munmap(a, 4 * PAGE);
	munmap(b, 4 * PAGE);
	munmap(d, 5 * PAGE);
	close(buf);
	close(m1);
	close(m2);
	close(dev);
}

Test(pl_dmabuf, udmabuf_create_list_checks_the_list_limit_and_every_range)
{
	int dev = open_udmabuf(), m = make_memfd(4 * PAGE, F_SEAL_SHRINK),
	    bad = make_memfd(PAGE, 0);
	struct list2 l = {
		.head = { .count = 2 },
		.items = { { .memfd = (uint32_t)m, .size = PAGE },
			   { .memfd = (uint32_t)bad, .size = PAGE } },
	};
	struct udmabuf_create_list over = { .count = 1025 }, empty = { .count = 0 }, *head;
	char *page;

	errno = 0;
	cr_expect_eq(ioctl(dev, UDMABUF_CREATE_LIST, &over), -1);
	cr_expect_eq(errno, EINVAL);
	errno = 0;
	cr_expect_eq(ioctl(dev, UDMABUF_CREATE_LIST, &empty), -1);
	cr_expect_eq(errno, EINVAL);
	/* the second range's memfd lacks F_SEAL_SHRINK */
	errno = 0;
	cr_expect_eq(ioctl(dev, UDMABUF_CREATE_LIST, &l), -1);
	cr_expect_eq(errno, EINVAL);
	/* a readable head whose items run into a page the program cannot read */
	page = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(page, MAP_FAILED);
	cr_assert_eq(mprotect(page + PAGE, PAGE, PROT_NONE), 0);
	head = (struct udmabuf_create_list *)(page + PAGE - sizeof(*head));
	*head = (struct udmabuf_create_list){ .count = 1 };
	errno = 0;
	cr_expect_eq(ioctl(dev, UDMABUF_CREATE_LIST, head), -1);
	cr_expect_eq(errno, EFAULT);
	munmap(page, 2 * PAGE);
	close(m);
	close(bad);
	close(dev);
}

/* ---- the dma-buf fd ---- */

Test(pl_dmabuf, dmabuf_mmap_beyond_the_buffer_or_private_is_einval)
{
	int dev = open_udmabuf(), memfd = make_memfd(8 * PAGE, F_SEAL_SHRINK), buf;

	buf = create(dev, memfd, 0, 0, 4 * PAGE);
	cr_assert_geq(buf, 0);
	errno = 0;
	cr_expect_eq(mmap(NULL, 5 * PAGE, PROT_READ, MAP_SHARED, buf, 0), MAP_FAILED);
	cr_expect_eq(errno, EINVAL);
	errno = 0;
	cr_expect_eq(mmap(NULL, PAGE, PROT_READ, MAP_SHARED, buf, 4 * PAGE), MAP_FAILED);
	cr_expect_eq(errno, EINVAL);
	errno = 0;
	cr_expect_eq(mmap(NULL, PAGE, PROT_READ, MAP_SHARED, buf, 100), MAP_FAILED);
	cr_expect_eq(errno, EINVAL);
	/* mmap_udmabuf(): VM_SHARED only */
	errno = 0;
	cr_expect_eq(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, buf, 0), MAP_FAILED);
	cr_expect_eq(errno, EINVAL);
	/* a window inside the buffer is fine */
	munmap(map(buf, 2 * PAGE, 2 * PAGE), 2 * PAGE);
	close(buf);
	close(memfd);
	close(dev);
}

Test(pl_dmabuf, dmabuf_sync_refuses_unknown_flags_and_no_direction_with_einval)
{
	int dev = open_udmabuf(), memfd = make_memfd(4 * PAGE, F_SEAL_SHRINK), buf;

	buf = create(dev, memfd, 0, 0, 4 * PAGE);
	cr_assert_geq(buf, 0);
	cr_expect_eq(sync_flags(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE), 0);
	cr_expect_eq(sync_flags(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE), 0);
	cr_expect_eq(sync_flags(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW), 0);
	cr_expect_eq(sync_flags(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ), 0);
	/* START or END alone names no direction */
	cr_expect_eq(sync_flags(buf, DMA_BUF_SYNC_START), -EINVAL);
	cr_expect_eq(sync_flags(buf, DMA_BUF_SYNC_END), -EINVAL);
	cr_expect_eq(sync_flags(buf, DMA_BUF_SYNC_READ | 8), -EINVAL);
	cr_expect_eq(sync_flags(buf, DMA_BUF_SYNC_READ | (1ULL << 40)), -EINVAL);
	errno = 0;
	cr_expect_eq(ioctl(buf, DMA_BUF_IOCTL_SYNC, NULL), -1);
	cr_expect_eq(errno, EFAULT);
	errno = 0;
	cr_expect_eq(ioctl(buf, _IOW('b', 9, int), NULL), -1);
	cr_expect_eq(errno, ENOTTY);
	close(buf);
	close(memfd);
	close(dev);
}

Test(pl_dmabuf, fdinfo_shows_size_count_exp_name_and_the_name_set)
{
	int dev = open_udmabuf(), memfd = make_memfd(8 * PAGE, F_SEAL_SHRINK), buf, dup_fd;
	char text[2048], path[64], name[40];
	FILE *f;

	buf = create(dev, memfd, 0, 0, 8 * PAGE);
	cr_assert_geq(buf, 0);
	fdinfo_of(buf, text, sizeof(text));
	cr_assert_not_null(strstr(text, "size:\t32768\n"), "%s", text);
	cr_assert_not_null(strstr(text, "count:\t1\n"), "%s", text);
	cr_assert_not_null(strstr(text, "exp_name:\tudmabuf\n"), "%s", text);
	cr_assert_null(strstr(text, "\nname:\t"), "%s", text);
	cr_assert_not_null(strstr(text, "flags:\t02\n"), "%s", text);

	dup_fd = dup(buf);
	cr_assert_eq(ioctl(buf, DMA_BUF_SET_NAME_B, "rx-buffer"), 0, "%s", strerror(errno));
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", getpid(), dup_fd);
	read_fdinfo(path, text, sizeof(text));
	cr_assert_not_null(strstr(text, "count:\t2\n"), "%s", text);
	cr_assert_not_null(strstr(text, "\nname:\trx-buffer\n"), "%s", text);
	cr_assert_eq(ioctl(buf, DMA_BUF_SET_NAME_A, "other"), 0);

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", buf);
	f = fopen(path, "re");
	cr_assert_not_null(f, "%s", strerror(errno));
	name[0] = '\0';
	while (fgets(text, sizeof(text), f))
		if (!strncmp(text, "name:\t", 6))
			snprintf(name, sizeof(name), "%.30s", text + 6);
	fclose(f);
	cr_assert_str_eq(name, "other\n");
	close(dup_fd);
	close(buf);
	close(memfd);
	close(dev);
}

Test(pl_dmabuf, set_name_takes_31_characters_refuses_32_with_einval_and_bad_pointers_with_efault)
{
	int dev = open_udmabuf(), memfd = make_memfd(PAGE, F_SEAL_SHRINK), buf;
	char n31[32], n32[33];

	buf = create(dev, memfd, 0, 0, PAGE);
	cr_assert_geq(buf, 0);
	memset(n31, 'a', 31);
	n31[31] = '\0';
	memset(n32, 'b', 32);
	n32[32] = '\0';
	cr_expect_eq(ioctl(buf, DMA_BUF_SET_NAME_B, n31), 0);
	errno = 0;
	cr_expect_eq(ioctl(buf, DMA_BUF_SET_NAME_B, n32), -1);
	cr_expect_eq(errno, EINVAL);
	errno = 0;
	cr_expect_eq(ioctl(buf, DMA_BUF_SET_NAME_A, NULL), -1);
	cr_expect_eq(errno, EFAULT);
	close(buf);
	close(memfd);
	close(dev);
}

Test(pl_dmabuf, a_child_receiving_the_fd_over_a_unix_socket_maps_the_same_memory)
{
	int dev = open_udmabuf(), memfd = make_memfd(4 * PAGE, F_SEAL_SHRINK), buf, sv[2], status;
	char *d, cbuf[CMSG_SPACE(sizeof(int))] = { 0 }, one = 'x';
	struct iovec iov = { &one, 1 };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	pid_t pid;

	buf = create(dev, memfd, 0, 0, 4 * PAGE);
	cr_assert_geq(buf, 0);
	d = map(buf, 4 * PAGE, 0);
	strcpy(d + PAGE, "parent's bytes");
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (!pid) {
		char *c;
		int fd;

		close(sv[0]);
		if (recvmsg(sv[1], &msg, 0) != 1)
			_exit(2);
		cm = CMSG_FIRSTHDR(&msg);
		if (!cm || cm->cmsg_type != SCM_RIGHTS)
			_exit(3);
		memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
		c = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (c == MAP_FAILED)
			_exit(4);
		if (strcmp(c + PAGE, "parent's bytes"))
			_exit(5);
		strcpy(c + 2 * PAGE, "child's bytes");
		_exit(0);
	}
	close(sv[1]);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &buf, sizeof(int));
	cr_assert_eq(sendmsg(sv[0], &msg, 0), 1);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: %#x", status);
	cr_assert_str_eq(d + 2 * PAGE, "child's bytes");
	munmap(d, 4 * PAGE);
	close(sv[0]);
	close(buf);
	close(memfd);
	close(dev);
}

/*
 * udmabuf pins the memfd's pages while the buffer lives: F_SEAL_WRITE waits
 * for pins and gives EBUSY. The last close of the dma-buf lets them go.
 */
Test(pl_dmabuf, the_last_close_releases_the_buffer_and_the_memfd_stays_the_programs)
{
	int dev = open_udmabuf(), memfd = make_memfd(4 * PAGE, F_SEAL_SHRINK), buf, dup_fd;
	char *m;

	buf = create(dev, memfd, 0, 0, 4 * PAGE);
	cr_assert_geq(buf, 0);
	m = map(memfd, 4 * PAGE, 0);
	strcpy(m, "kept");
	munmap(m, 4 * PAGE);
	dup_fd = dup(buf);
	close(buf);
	errno = 0;
	cr_expect_eq(fcntl(memfd, F_ADD_SEALS, F_SEAL_WRITE), -1, "a dup still holds the buffer");
	cr_expect_eq(errno, EBUSY);
	close(dup_fd);
	cr_expect_eq(fcntl(memfd, F_ADD_SEALS, F_SEAL_WRITE), 0, "%s", strerror(errno));
	m = mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED, memfd, 0);
	cr_assert_neq(m, MAP_FAILED);
	cr_assert_str_eq(m, "kept");
	munmap(m, 4 * PAGE);
	close(memfd);
	close(dev);
}

/* ---- DMA_HEAP_IOCTL_ALLOC ---- */

static int open_heap(void)
{
	int heap;

	need_emulated_heap();
	heap = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
	cr_assert_geq(heap, 0, "%s", strerror(errno));
	return heap;
}

static int heap_alloc(int heap, struct dma_heap_allocation_data *d)
{
	return ioctl(heap, DMA_HEAP_IOCTL_ALLOC, d) ? -errno : 0;
}

Test(pl_dmabuf, dma_heap_alloc_rounds_len_up_to_pages_and_writes_the_fd)
{
	int heap = open_heap();
	struct dma_heap_allocation_data d = { .len = 3 * PAGE + 1, .fd_flags = O_RDWR | O_CLOEXEC };
	char text[1024], *p;

	cr_assert_eq(heap_alloc(heap, &d), 0, "%s", strerror(errno));
	cr_assert_gt(d.fd, 0);
	cr_expect_eq(fcntl((int)d.fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	fdinfo_of((int)d.fd, text, sizeof(text));
	cr_assert_not_null(strstr(text, "size:\t16384\n"), "%s", text);
	cr_assert_not_null(strstr(text, "exp_name:\tsystem\n"), "%s", text);
	p = map((int)d.fd, 4 * PAGE, 0);
	p[4 * PAGE - 1] = 1;
	munmap(p, 4 * PAGE);
	close((int)d.fd);
	close(heap);
}

Test(pl_dmabuf, dma_heap_alloc_refuses_bad_flags_a_set_fd_and_no_length_with_einval)
{
	int heap = open_heap();
	struct dma_heap_allocation_data d;

	d = (struct dma_heap_allocation_data){ .len = PAGE, .fd_flags = O_RDWR | O_NONBLOCK };
	cr_expect_eq(heap_alloc(heap, &d), -EINVAL);
	d = (struct dma_heap_allocation_data){ .len = PAGE, .fd_flags = O_RDWR, .heap_flags = 1 };
	cr_expect_eq(heap_alloc(heap, &d), -EINVAL);
	d = (struct dma_heap_allocation_data){ .len = PAGE, .fd = 3, .fd_flags = O_RDWR };
	cr_expect_eq(heap_alloc(heap, &d), -EINVAL);
	d = (struct dma_heap_allocation_data){ .len = 0, .fd_flags = O_RDWR };
	cr_expect_eq(heap_alloc(heap, &d), -EINVAL);
	/* PAGE_ALIGN() of this wraps to 0 */
	d = (struct dma_heap_allocation_data){ .len = UINT64_MAX - 10, .fd_flags = O_RDWR };
	cr_expect_eq(heap_alloc(heap, &d), -EINVAL);
	cr_expect_eq(ioctl(heap, DMA_HEAP_IOCTL_ALLOC, NULL), -1);
	cr_expect_eq(errno, EFAULT);
	close(heap);
}

Test(pl_dmabuf, a_heap_buffer_without_o_rdwr_is_read_only_for_mmap)
{
	int heap = open_heap();
	struct dma_heap_allocation_data d = { .len = PAGE, .fd_flags = O_CLOEXEC };
	void *p;

	cr_assert_eq(heap_alloc(heap, &d), 0);
	errno = 0;
	cr_expect_eq(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, (int)d.fd, 0),
		     MAP_FAILED);
	cr_expect_eq(errno, EACCES);
	p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, (int)d.fd, 0);
	cr_expect_neq(p, MAP_FAILED, "%s", strerror(errno));
	if (p != MAP_FAILED)
		munmap(p, PAGE);
	close((int)d.fd);
	close(heap);
}

/* All of @fd until EOF into @buf (@size bytes, NUL-terminated). */
static void slurp(int fd, char *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;

	while (got < size - 1 && (n = read(fd, buf + got, size - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
}

/* devmem run -v: one line on stderr per emulated call, nothing on stdout. */
Test(pl_dmabuf, tracing_writes_one_line_per_emulated_call_on_stderr_only)
{
	char out[4096], err[4096];
	int o[2], e[2], status;
	pid_t pid;

	need_emulated_udmabuf();
	cr_assert_eq(pipe(o), 0);
	cr_assert_eq(pipe(e), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (!pid) {
		dup2(o[1], 1);
		dup2(e[1], 2);
		setenv("DEVMEM_RUN_TRACE", "1", 1);
		execl("/proc/self/exe", "test_pl_dmabuf",
		      "pl_dmabuf::udmabuf_create_ignores_flag_bits_other_than_cloexec_as_the_kernel",
		      (char *)NULL);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	slurp(e[0], err, sizeof(err));
	slurp(o[0], out, sizeof(out));
	close(o[0]);
	close(e[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", out);
	cr_assert_not_null(strstr(err, "devmem: open(\"/dev/udmabuf\", 02) = "), "%s", err);
	cr_assert_not_null(strstr(err, "devmem: ioctl("), "%s", err);
	cr_assert_not_null(strstr(err, ", UDMABUF_CREATE, {memfd="), "%s", err);
	cr_assert_not_null(strstr(err, "flags=0xdeadbeee, offset=0, size=16384}) = "), "%s", err);
	cr_assert_null(strstr(out, "devmem:"), "%s", out);
}
