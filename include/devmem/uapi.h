/* SPDX-License-Identifier: MIT */
/*
 * The kernel's userspace contract for device-memory TCP, dma-buf fds and
 * io_uring zero-copy receive, as Linux 6.12-6.18 defines it.
 *
 * Debian 12's kernel headers (6.1) and liburing (2.3) predate most of it, so
 * this header carries each constant and struct itself. A constant the system
 * headers already define (included before this one) is left alone; with
 * kernel headers new enough to have device-memory TCP, the structs and the
 * netdev family come from them and are only checked here.
 *
 * Every struct's size and field offsets are asserted, so a mismatch with the
 * kernel's layout fails the build instead of corrupting a cmsg.
 */
#ifndef DEVMEM_UAPI_H
#define DEVMEM_UAPI_H

#include <stddef.h>
/* first: glibc declares MSG_ZEROCOPY as an enumerator, which a macro below would break */
#include <sys/socket.h>
#include <linux/types.h>
#include <linux/version.h>
#include <linux/dma-buf.h>
#include <linux/udmabuf.h>

#define DEVMEM_UAPI_KERNEL_HEADERS_HAVE_DEVMEM (LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0))
#define DEVMEM_UAPI_KERNEL_HEADERS_HAVE_NETDEV_TX (LINUX_VERSION_CODE >= KERNEL_VERSION(6, 16, 0))

#if DEVMEM_UAPI_KERNEL_HEADERS_HAVE_DEVMEM
#include <linux/uio.h>
#endif
#if DEVMEM_UAPI_KERNEL_HEADERS_HAVE_NETDEV_TX
#include <linux/netdev.h>
#endif

/* ---- device-memory TCP sockets (asm-generic/socket.h, linux/socket.h) ---- */

#ifndef MSG_SOCK_DEVMEM
#define MSG_SOCK_DEVMEM 0x2000000 /* recvmsg: the caller takes dma-buf fragments */
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif
#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef SO_EE_ORIGIN_ZEROCOPY
#define SO_EE_ORIGIN_ZEROCOPY 5
#endif
#ifndef SO_EE_CODE_ZEROCOPY_COPIED
#define SO_EE_CODE_ZEROCOPY_COPIED 1
#endif
#ifndef SO_DEVMEM_LINEAR
#define SO_DEVMEM_LINEAR 78
#define SCM_DEVMEM_LINEAR SO_DEVMEM_LINEAR
#endif
#ifndef SO_DEVMEM_DMABUF
#define SO_DEVMEM_DMABUF 79
#define SCM_DEVMEM_DMABUF SO_DEVMEM_DMABUF
#endif
#ifndef SO_DEVMEM_DONTNEED
#define SO_DEVMEM_DONTNEED 80
#endif

/* SO_DEVMEM_DONTNEED limits per call (net/core/sock.c). */
#define DEVMEM_DONTNEED_MAX_TOKENS 128 /* struct dmabuf_token entries */
#define DEVMEM_DONTNEED_MAX_FRAGS 1024 /* fragments summed over their counts */

#if !DEVMEM_UAPI_KERNEL_HEADERS_HAVE_DEVMEM
/* One fragment of received data in the dma-buf (an SCM_DEVMEM_DMABUF cmsg). */
struct dmabuf_cmsg {
	__u64 frag_offset; /* offset into the dma-buf */
	__u32 frag_size; /* bytes in the fragment */
	__u32 frag_token; /* give it back with SO_DEVMEM_DONTNEED */
	__u32 dmabuf_id; /* the rx binding's id */
	__u32 flags; /* none yet */
};

/* A range of tokens for SO_DEVMEM_DONTNEED. */
struct dmabuf_token {
	__u32 token_start;
	__u32 token_count;
};
#endif

_Static_assert(sizeof(struct dmabuf_cmsg) == 24, "struct dmabuf_cmsg is 24 bytes");
_Static_assert(offsetof(struct dmabuf_cmsg, frag_offset) == 0, "dmabuf_cmsg.frag_offset");
_Static_assert(offsetof(struct dmabuf_cmsg, frag_size) == 8, "dmabuf_cmsg.frag_size");
_Static_assert(offsetof(struct dmabuf_cmsg, frag_token) == 12, "dmabuf_cmsg.frag_token");
_Static_assert(offsetof(struct dmabuf_cmsg, dmabuf_id) == 16, "dmabuf_cmsg.dmabuf_id");
_Static_assert(offsetof(struct dmabuf_cmsg, flags) == 20, "dmabuf_cmsg.flags");
_Static_assert(sizeof(struct dmabuf_token) == 8, "struct dmabuf_token is 8 bytes");
_Static_assert(offsetof(struct dmabuf_token, token_start) == 0, "dmabuf_token.token_start");
_Static_assert(offsetof(struct dmabuf_token, token_count) == 4, "dmabuf_token.token_count");

/* ---- the netdev generic netlink family (linux/netdev.h) ---- */

#if !DEVMEM_UAPI_KERNEL_HEADERS_HAVE_NETDEV_TX
#define NETDEV_FAMILY_NAME "netdev"
#define NETDEV_FAMILY_VERSION 1
#define NETDEV_MCGRP_MGMT "mgmt"
#define NETDEV_MCGRP_PAGE_POOL "page-pool"

enum netdev_queue_type {
	NETDEV_QUEUE_TYPE_RX,
	NETDEV_QUEUE_TYPE_TX,
};

enum {
	NETDEV_A_DEV_IFINDEX = 1,
	NETDEV_A_DEV_PAD,
	NETDEV_A_DEV_XDP_FEATURES,
	NETDEV_A_DEV_XDP_ZC_MAX_SEGS,
	NETDEV_A_DEV_XDP_RX_METADATA_FEATURES,
	NETDEV_A_DEV_XSK_FEATURES,
};

enum {
	NETDEV_A_PAGE_POOL_ID = 1,
	NETDEV_A_PAGE_POOL_IFINDEX,
	NETDEV_A_PAGE_POOL_NAPI_ID,
	NETDEV_A_PAGE_POOL_INFLIGHT,
	NETDEV_A_PAGE_POOL_INFLIGHT_MEM,
	NETDEV_A_PAGE_POOL_DETACH_TIME,
	NETDEV_A_PAGE_POOL_DMABUF,
	NETDEV_A_PAGE_POOL_IO_URING,
};

enum {
	NETDEV_A_QUEUE_ID = 1,
	NETDEV_A_QUEUE_IFINDEX,
	NETDEV_A_QUEUE_TYPE,
	NETDEV_A_QUEUE_NAPI_ID,
	NETDEV_A_QUEUE_DMABUF,
	NETDEV_A_QUEUE_IO_URING,
	NETDEV_A_QUEUE_XSK,
};

enum {
	NETDEV_A_DMABUF_IFINDEX = 1,
	NETDEV_A_DMABUF_QUEUES,
	NETDEV_A_DMABUF_FD,
	NETDEV_A_DMABUF_ID,
};

enum {
	NETDEV_CMD_DEV_GET = 1,
	NETDEV_CMD_DEV_ADD_NTF,
	NETDEV_CMD_DEV_DEL_NTF,
	NETDEV_CMD_DEV_CHANGE_NTF,
	NETDEV_CMD_PAGE_POOL_GET,
	NETDEV_CMD_PAGE_POOL_ADD_NTF,
	NETDEV_CMD_PAGE_POOL_DEL_NTF,
	NETDEV_CMD_PAGE_POOL_CHANGE_NTF,
	NETDEV_CMD_PAGE_POOL_STATS_GET,
	NETDEV_CMD_QUEUE_GET,
	NETDEV_CMD_NAPI_GET,
	NETDEV_CMD_QSTATS_GET,
	NETDEV_CMD_BIND_RX,
	NETDEV_CMD_NAPI_SET,
	NETDEV_CMD_BIND_TX,
};
#endif

_Static_assert(NETDEV_CMD_DEV_GET == 1 && NETDEV_CMD_PAGE_POOL_GET == 5 &&
		       NETDEV_CMD_QUEUE_GET == 10 && NETDEV_CMD_NAPI_GET == 11 &&
		       NETDEV_CMD_QSTATS_GET == 12 && NETDEV_CMD_BIND_RX == 13 &&
		       NETDEV_CMD_NAPI_SET == 14 && NETDEV_CMD_BIND_TX == 15,
	       "netdev family command numbers");
_Static_assert(NETDEV_A_DMABUF_IFINDEX == 1 && NETDEV_A_DMABUF_QUEUES == 2 &&
		       NETDEV_A_DMABUF_FD == 3 && NETDEV_A_DMABUF_ID == 4,
	       "netdev dmabuf attributes");
_Static_assert(NETDEV_A_QUEUE_ID == 1 && NETDEV_A_QUEUE_TYPE == 3 && NETDEV_A_QUEUE_DMABUF == 5 &&
		       NETDEV_A_QUEUE_IO_URING == 6 && NETDEV_A_QUEUE_XSK == 7,
	       "netdev queue attributes");
_Static_assert(NETDEV_A_PAGE_POOL_INFLIGHT == 4 && NETDEV_A_PAGE_POOL_DETACH_TIME == 6 &&
		       NETDEV_A_PAGE_POOL_DMABUF == 7 && NETDEV_A_PAGE_POOL_IO_URING == 8,
	       "netdev page-pool attributes");
_Static_assert(NETDEV_QUEUE_TYPE_RX == 0 && NETDEV_QUEUE_TYPE_TX == 1, "netdev queue types");

/*
 * bind-rx's rx-page-size (mainline, after 6.18): the net_iov size, a power of
 * two >= PAGE_SIZE. Headers that have it declare it in the enum above; for
 * older ones, name the number.
 */
#ifndef NETDEV_A_DMABUF_RX_PAGE_SIZE
#define NETDEV_A_DMABUF_RX_PAGE_SIZE 5
#endif
_Static_assert(NETDEV_A_DMABUF_RX_PAGE_SIZE == 5, "netdev dmabuf rx-page-size attribute");

/* ---- ethtool: header split (linux/ethtool.h) ---- */

#ifndef ETHTOOL_TCP_DATA_SPLIT_UNKNOWN
#define ETHTOOL_TCP_DATA_SPLIT_UNKNOWN 0
#define ETHTOOL_TCP_DATA_SPLIT_DISABLED 1
#define ETHTOOL_TCP_DATA_SPLIT_ENABLED 2
#endif

/* ---- dma-buf fds (linux/dma-buf.h, linux/udmabuf.h: present since 5.x) ---- */

_Static_assert(sizeof(struct dma_buf_sync) == 8, "struct dma_buf_sync");
_Static_assert(DMA_BUF_SYNC_READ == 1 && DMA_BUF_SYNC_WRITE == 2 && DMA_BUF_SYNC_RW == 3 &&
		       DMA_BUF_SYNC_START == 0 && DMA_BUF_SYNC_END == 4,
	       "dma_buf_sync flags");
_Static_assert(DMA_BUF_NAME_LEN == 32, "dma-buf names are 32 bytes with the NUL");
_Static_assert(sizeof(struct dma_buf_export_sync_file) == 8, "struct dma_buf_export_sync_file");
_Static_assert(sizeof(struct dma_buf_import_sync_file) == 8, "struct dma_buf_import_sync_file");
_Static_assert(sizeof(struct udmabuf_create) == 24, "struct udmabuf_create");
_Static_assert(offsetof(struct udmabuf_create, offset) == 8, "udmabuf_create.offset");
_Static_assert(offsetof(struct udmabuf_create, size) == 16, "udmabuf_create.size");

/* ---- io_uring receive bundles (linux/io_uring.h, 6.10) ---- */

/* Debian 12's liburing headers predate them; they are macros in later ones. */
#ifndef IORING_RECVSEND_BUNDLE
#define IORING_RECVSEND_BUNDLE (1U << 4) /* sqe->ioprio: many buffers per completion */
#endif
#ifndef IORING_FEAT_RECVSEND_BUNDLE
#define IORING_FEAT_RECVSEND_BUNDLE (1U << 14)
#endif

/* ---- io_uring zero-copy receive (linux/io_uring.h, 6.15) ---- */

/*
 * liburing 2.10 and later define these (as enumerators); include it before
 * this header. Older liburing, as in Debian 12, does not.
 */
#if !defined(IO_URING_VERSION_MAJOR) || (IO_URING_VERSION_MAJOR == 2 && IO_URING_VERSION_MINOR < 10)
#define IORING_REGISTER_ZCRX_IFQ 32
#define IORING_OP_RECV_ZC 58
#define IORING_ZCRX_AREA_DMABUF 1
#define IORING_ZCRX_AREA_SHIFT 48
#define IORING_ZCRX_AREA_MASK (~(((__u64)1 << IORING_ZCRX_AREA_SHIFT) - 1))

/* The CQE32 extension of a RECV_ZC completion: where the data is. */
struct io_uring_zcrx_cqe {
	__u64 off; /* area id << IORING_ZCRX_AREA_SHIFT | offset in the area */
	__u64 __pad;
};

/* A buffer given back through the refill ring. */
struct io_uring_zcrx_rqe {
	__u64 off;
	__u32 len;
	__u32 __pad;
};
#endif

_Static_assert(sizeof(struct io_uring_zcrx_cqe) == 16, "struct io_uring_zcrx_cqe");
_Static_assert(sizeof(struct io_uring_zcrx_rqe) == 16, "struct io_uring_zcrx_rqe");
_Static_assert(offsetof(struct io_uring_zcrx_rqe, len) == 8, "io_uring_zcrx_rqe.len");

#endif
