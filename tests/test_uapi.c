// SPDX-License-Identifier: MIT
/*
 * The user contract's numbers: checked against the values the kernel
 * documents, and, where this machine's kernel implements device-memory TCP,
 * against the running kernel itself.
 */
#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "devmem/uapi.h"
#include "harness.h"

Test(uapi, socket_constants_match_the_kernel)
{
	cr_assert_eq(MSG_SOCK_DEVMEM, 0x2000000);
	cr_assert_eq(SO_DEVMEM_LINEAR, 78);
	cr_assert_eq(SCM_DEVMEM_LINEAR, 78);
	cr_assert_eq(SO_DEVMEM_DMABUF, 79);
	cr_assert_eq(SCM_DEVMEM_DMABUF, 79);
	cr_assert_eq(SO_DEVMEM_DONTNEED, 80);
	cr_assert_eq(DEVMEM_DONTNEED_MAX_TOKENS, 128);
	cr_assert_eq(DEVMEM_DONTNEED_MAX_FRAGS, 1024);
}

Test(uapi, dmabuf_cmsg_layout_is_the_kernels)
{
	struct dmabuf_cmsg c = { .frag_offset = 1ULL << 40, .frag_size = 4096, .frag_token = 7 };
	unsigned char raw[24];

	cr_assert_eq(sizeof(struct dmabuf_cmsg), 24);
	cr_assert_eq(sizeof(struct dmabuf_token), 8);
	/* Little-endian x86_64: frag_offset's bit 40 is byte 5; frag_size starts at byte 8. */
	memcpy(raw, &c, sizeof(raw));
	cr_assert_eq(raw[5], 1);
	cr_assert_eq(raw[8] | raw[9] << 8, 4096);
	cr_assert_eq(raw[12], 7);
	/* One dma-buf fragment needs this much control buffer. */
	cr_assert_eq(CMSG_SPACE(sizeof(struct dmabuf_cmsg)), 40);
}

Test(uapi, netdev_family_numbers_match_the_kernel)
{
	cr_assert_str_eq(NETDEV_FAMILY_NAME, "netdev");
	cr_assert_eq(NETDEV_CMD_BIND_RX, 13);
	cr_assert_eq(NETDEV_CMD_BIND_TX, 15);
	cr_assert_eq(NETDEV_CMD_QUEUE_GET, 10);
	cr_assert_eq(NETDEV_CMD_PAGE_POOL_GET, 5);
	cr_assert_eq(NETDEV_A_DMABUF_FD, 3);
	cr_assert_eq(NETDEV_A_QUEUE_DMABUF, 5);
	cr_assert_eq(NETDEV_A_PAGE_POOL_DMABUF, 7);
}

Test(uapi, dma_buf_ioctl_numbers_match_the_kernel)
{
	cr_assert_eq(DMA_BUF_IOCTL_SYNC, _IOW('b', 0, struct dma_buf_sync));
	cr_assert_eq(DMA_BUF_IOCTL_SYNC, 0x40086200UL);
	cr_assert_eq(UDMABUF_CREATE, 0x40187542UL);
	cr_assert_eq(UDMABUF_FLAGS_CLOEXEC, 1);
}

Test(uapi, zcrx_numbers_match_the_kernel)
{
	cr_assert_eq(IORING_REGISTER_ZCRX_IFQ, 32);
	cr_assert_eq(IORING_OP_RECV_ZC, 58);
	cr_assert_eq(IORING_ZCRX_AREA_SHIFT, 48);
	cr_assert_eq(IORING_ZCRX_AREA_MASK, 0xffff000000000000ULL);
	cr_assert_eq(sizeof(struct io_uring_zcrx_rqe), 16);
}

static bool kernel_at_least(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		return false;
	return ma > major || (ma == major && mi >= minor);
}

/*
 * The running kernel knows SO_DEVMEM_DONTNEED by our number and applies the
 * limits we copy: a plain TCP socket has no fragments, so a valid call frees
 * none; more than 128 ranges, or a length that is not whole ranges, is EINVAL;
 * a socket that is not TCP is EBADF.
 */
Test(uapi, running_kernel_agrees_on_so_devmem_dontneed)
{
	struct dmabuf_token toks[DEVMEM_DONTNEED_MAX_TOKENS + 1];
	int tcp, udp;

	if (!kernel_at_least(6, 12))
		devmem_skip("kernel older than 6.12 has no device-memory TCP");
	for (unsigned int i = 0; i < DEVMEM_DONTNEED_MAX_TOKENS + 1; i++)
		toks[i] = (struct dmabuf_token){ .token_start = i, .token_count = 1 };
	tcp = socket(AF_INET, SOCK_STREAM, 0);
	udp = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert(tcp >= 0 && udp >= 0);

	cr_expect_eq(setsockopt(tcp, SOL_SOCKET, SO_DEVMEM_DONTNEED, toks, sizeof(toks[0])), 0);
	cr_expect_eq(setsockopt(tcp, SOL_SOCKET, SO_DEVMEM_DONTNEED, toks,
				DEVMEM_DONTNEED_MAX_TOKENS * sizeof(toks[0])),
		     0);
	errno = 0;
	cr_expect_eq(setsockopt(tcp, SOL_SOCKET, SO_DEVMEM_DONTNEED, toks, sizeof(toks)), -1);
	cr_expect_eq(errno, EINVAL);
	errno = 0;
	cr_expect_eq(setsockopt(tcp, SOL_SOCKET, SO_DEVMEM_DONTNEED, toks, 7), -1);
	cr_expect_eq(errno, EINVAL);
	errno = 0;
	cr_expect_eq(setsockopt(udp, SOL_SOCKET, SO_DEVMEM_DONTNEED, toks, sizeof(toks[0])), -1);
	cr_expect_eq(errno, EBADF);
	/* The out-of-tree numbers are not the kernel's. */
	errno = 0;
	cr_expect_eq(setsockopt(tcp, SOL_SOCKET, 97, toks, sizeof(toks[0])), -1);
	cr_expect_eq(errno, ENOPROTOOPT);
	close(tcp);
	close(udp);
}
