/* SPDX-License-Identifier: MIT */
/*
 * RDMA verbs on a software RDMA device, with memory regions imported from
 * dma-bufs (the kernel's ib_umem_dmabuf) or taken from host memory.
 *
 * The API is libibverbs' with the prefix devmem_ibv_ (types, functions) and
 * DEVMEM_IBV_ (constants): code written to rdma-core ports by a rename
 * (s/ibv_/devmem_ibv_/, s/IBV_/DEVMEM_IBV_/). Enum values are rdma-core's.
 * As in libibverbs, creation calls return NULL and set errno; destroy,
 * modify, post and dereg calls return 0 or a positive errno value;
 * devmem_ibv_poll_cq() returns the number of completions or a negative
 * value. devmem_last_error() says why a call failed.
 *
 * The device. "swrdma0" is a software RDMA device with its own IOMMU
 * domain (a device of the device layer, named after the context): it
 * reaches memory only by device address, through each MR's translation
 * table (what an mlx5 calls the MTT). A stale device address is an IOMMU
 * fault, counted on the device (devmem_ibv_context_device()).
 *
 * Real devices. The devices rdma-core finds (ibv_get_device_list(), from
 * libibverbs.so.1, opened with dlopen() at the first list) follow swrdma0
 * in the list; every verb on a context opened from one, and on its
 * objects, goes to libibverbs on the real object the struct carries (the
 * structs here are source-compatible with rdma-core's, not the same
 * layout: arguments and results are converted). A dma-buf MR there needs
 * a kernel dma-buf: any other file, a buffer of this library among them,
 * is the kernel's EINVAL (a closed fd its EBADF); the PINNED flag is
 * EOPNOTSUPP (the driver chooses). A real QP has no TCP wire. A QP's CQs
 * must be of its PD's context, on either kind of device: ENOENT otherwise.
 *
 * Memory regions.
 * - devmem_ibv_reg_dmabuf_mr(pd, offset, length, iova, fd, access) imports
 *   [offset, offset + length) of the dma-buf behind @fd as an MR whose
 *   addresses are [iova, iova + length) (the kernel's checks and errno:
 *   iova and offset must share their page offset, access flags within
 *   LOCAL_WRITE | REMOTE_WRITE | REMOTE_READ | REMOTE_ATOMIC |
 *   RELAXED_ORDERING, remote write or atomic need local write, all EINVAL;
 *   EBADF for a bad fd; EINVAL for length 0, overflow, or a range past the
 *   buffer). Registering with fd -1 fails with EBADF: the probe UCX uses
 *   to learn that dma-buf MRs are supported.
 *   The MR is dynamic by default (as mlx5's): the exporter may move the
 *   buffer; its move_notify zaps the MR's translation table after in-flight
 *   device accesses drain; the next access takes the page-fault path (resv
 *   lock, wait for the move's KERNEL fence, map, reprogram the table) and
 *   the work request completes normally. With DEVMEM_IBV_REG_DMABUF_PINNED
 *   in the flags of devmem_ibv_reg_dmabuf_mr_ex() the buffer is pinned and
 *   mapped once and never moves.
 * - devmem_ibv_reg_mr(pd, addr, length, access) registers host memory.
 * - lkey == rkey; addresses in work requests are MR addresses (the iova
 *   of a dma-buf MR, the virtual address of a host MR).
 *
 * Queue pairs are reliable-connected (DEVMEM_IBV_QPT_RC) with the verbs
 * state machine RESET -> INIT -> RTR -> RTS (and ERR, RESET from any
 * state), the attribute masks each transition requires, and the ops SEND,
 * SEND_WITH_IMM, RDMA_WRITE, RDMA_WRITE_WITH_IMM and RDMA_READ. The wire is
 * a TCP connection, as soft-iWARP's: give the QP a connected stream socket
 * with devmem_ibv_qp_set_wire() before RTR (the library takes a duplicate).
 * Each QP has a progress thread that moves payloads between the socket and
 * the MRs through the device's translation, once, with no allocation per
 * operation. Framing (native byte order, 32-byte header):
 *	u8 opcode, u8 status, u16 0, u32 imm, u32 rkey, u32 psn, u64 raddr, u64 len
 * followed by len payload bytes for SEND, WRITE and READ_RESP; READ_REQ
 * carries none; the responder answers every request in order with ACK,
 * NAK (status) or READ_RESP.
 *
 * Completion statuses: a bad rkey, a range outside the remote MR or an MR
 * or QP without the remote access: REM_ACCESS_ERR at the requester; a bad
 * lkey or local range, or a local MR without LOCAL_WRITE for a local write:
 * LOC_PROT_ERR; a SEND longer than the receive buffer: LOC_LEN_ERR at the
 * responder, REM_INV_REQ_ERR at the requester. An error moves the QP to
 * ERR; its outstanding and later work requests complete with WR_FLUSH_ERR.
 */
#ifndef DEVMEM_RDMA_H
#define DEVMEM_RDMA_H

#include <stddef.h>
#include <stdint.h>

#include "device.h"

#ifdef __cplusplus
extern "C" {
#endif

enum devmem_ibv_access_flags {
	DEVMEM_IBV_ACCESS_LOCAL_WRITE = 1,
	DEVMEM_IBV_ACCESS_REMOTE_WRITE = (1 << 1),
	DEVMEM_IBV_ACCESS_REMOTE_READ = (1 << 2),
	DEVMEM_IBV_ACCESS_REMOTE_ATOMIC = (1 << 3),
	DEVMEM_IBV_ACCESS_MW_BIND = (1 << 4),
	DEVMEM_IBV_ACCESS_ZERO_BASED = (1 << 5),
	DEVMEM_IBV_ACCESS_ON_DEMAND = (1 << 6),
	DEVMEM_IBV_ACCESS_HUGETLB = (1 << 7),
	DEVMEM_IBV_ACCESS_RELAXED_ORDERING = (1 << 20),
};

enum devmem_ibv_wc_status {
	DEVMEM_IBV_WC_SUCCESS,
	DEVMEM_IBV_WC_LOC_LEN_ERR,
	DEVMEM_IBV_WC_LOC_QP_OP_ERR,
	DEVMEM_IBV_WC_LOC_EEC_OP_ERR,
	DEVMEM_IBV_WC_LOC_PROT_ERR,
	DEVMEM_IBV_WC_WR_FLUSH_ERR,
	DEVMEM_IBV_WC_MW_BIND_ERR,
	DEVMEM_IBV_WC_BAD_RESP_ERR,
	DEVMEM_IBV_WC_LOC_ACCESS_ERR,
	DEVMEM_IBV_WC_REM_INV_REQ_ERR,
	DEVMEM_IBV_WC_REM_ACCESS_ERR,
	DEVMEM_IBV_WC_REM_OP_ERR,
	DEVMEM_IBV_WC_RETRY_EXC_ERR,
	DEVMEM_IBV_WC_RNR_RETRY_EXC_ERR,
	DEVMEM_IBV_WC_LOC_RDD_VIOL_ERR,
	DEVMEM_IBV_WC_REM_INV_RD_REQ_ERR,
	DEVMEM_IBV_WC_REM_ABORT_ERR,
	DEVMEM_IBV_WC_INV_EECN_ERR,
	DEVMEM_IBV_WC_INV_EEC_STATE_ERR,
	DEVMEM_IBV_WC_FATAL_ERR,
	DEVMEM_IBV_WC_RESP_TIMEOUT_ERR,
	DEVMEM_IBV_WC_GENERAL_ERR,
};

/* The name of a status, as ibv_wc_status_str() gives it. */
const char *devmem_ibv_wc_status_str(enum devmem_ibv_wc_status status);

enum devmem_ibv_wc_opcode {
	DEVMEM_IBV_WC_SEND,
	DEVMEM_IBV_WC_RDMA_WRITE,
	DEVMEM_IBV_WC_RDMA_READ,
	DEVMEM_IBV_WC_COMP_SWAP,
	DEVMEM_IBV_WC_FETCH_ADD,
	DEVMEM_IBV_WC_BIND_MW,
	DEVMEM_IBV_WC_RECV = 1 << 7,
	DEVMEM_IBV_WC_RECV_RDMA_WITH_IMM,
};

enum devmem_ibv_wc_flags {
	DEVMEM_IBV_WC_GRH = 1 << 0,
	DEVMEM_IBV_WC_WITH_IMM = 1 << 1,
};

enum devmem_ibv_wr_opcode {
	DEVMEM_IBV_WR_RDMA_WRITE,
	DEVMEM_IBV_WR_RDMA_WRITE_WITH_IMM,
	DEVMEM_IBV_WR_SEND,
	DEVMEM_IBV_WR_SEND_WITH_IMM,
	DEVMEM_IBV_WR_RDMA_READ,
	DEVMEM_IBV_WR_ATOMIC_CMP_AND_SWP,
	DEVMEM_IBV_WR_ATOMIC_FETCH_AND_ADD,
};

enum devmem_ibv_send_flags {
	DEVMEM_IBV_SEND_FENCE = 1 << 0,
	DEVMEM_IBV_SEND_SIGNALED = 1 << 1,
	DEVMEM_IBV_SEND_SOLICITED = 1 << 2,
	DEVMEM_IBV_SEND_INLINE = 1 << 3,
};

enum devmem_ibv_qp_type { DEVMEM_IBV_QPT_RC = 2, DEVMEM_IBV_QPT_UC, DEVMEM_IBV_QPT_UD };

enum devmem_ibv_qp_state {
	DEVMEM_IBV_QPS_RESET,
	DEVMEM_IBV_QPS_INIT,
	DEVMEM_IBV_QPS_RTR,
	DEVMEM_IBV_QPS_RTS,
	DEVMEM_IBV_QPS_SQD,
	DEVMEM_IBV_QPS_SQE,
	DEVMEM_IBV_QPS_ERR,
	DEVMEM_IBV_QPS_UNKNOWN,
};

enum devmem_ibv_mtu {
	DEVMEM_IBV_MTU_256 = 1,
	DEVMEM_IBV_MTU_512,
	DEVMEM_IBV_MTU_1024,
	DEVMEM_IBV_MTU_2048,
	DEVMEM_IBV_MTU_4096,
};

enum devmem_ibv_qp_attr_mask {
	DEVMEM_IBV_QP_STATE = 1 << 0,
	DEVMEM_IBV_QP_CUR_STATE = 1 << 1,
	DEVMEM_IBV_QP_EN_SQD_ASYNC_NOTIFY = 1 << 2,
	DEVMEM_IBV_QP_ACCESS_FLAGS = 1 << 3,
	DEVMEM_IBV_QP_PKEY_INDEX = 1 << 4,
	DEVMEM_IBV_QP_PORT = 1 << 5,
	DEVMEM_IBV_QP_QKEY = 1 << 6,
	DEVMEM_IBV_QP_AV = 1 << 7,
	DEVMEM_IBV_QP_PATH_MTU = 1 << 8,
	DEVMEM_IBV_QP_TIMEOUT = 1 << 9,
	DEVMEM_IBV_QP_RETRY_CNT = 1 << 10,
	DEVMEM_IBV_QP_RNR_RETRY = 1 << 11,
	DEVMEM_IBV_QP_RQ_PSN = 1 << 12,
	DEVMEM_IBV_QP_MAX_QP_RD_ATOMIC = 1 << 13,
	DEVMEM_IBV_QP_ALT_PATH = 1 << 14,
	DEVMEM_IBV_QP_MIN_RNR_TIMER = 1 << 15,
	DEVMEM_IBV_QP_SQ_PSN = 1 << 16,
	DEVMEM_IBV_QP_MAX_DEST_RD_ATOMIC = 1 << 17,
	DEVMEM_IBV_QP_PATH_MIG_STATE = 1 << 18,
	DEVMEM_IBV_QP_CAP = 1 << 19,
	DEVMEM_IBV_QP_DEST_QPN = 1 << 20,
};

struct devmem_ibv_device {
	char name[64];
	char dev_name[64];
};

struct devmem_ibv_context {
	struct devmem_ibv_device *device;
	int cmd_fd; /* -1: there is no kernel device file */
	int async_fd;
	int num_comp_vectors;
};

struct devmem_ibv_pd {
	struct devmem_ibv_context *context;
	uint32_t handle;
};

struct devmem_ibv_mr {
	struct devmem_ibv_context *context;
	struct devmem_ibv_pd *pd;
	void *addr; /* host MR: its address; dma-buf MR: the offset, as rdma-core reports it */
	size_t length;
	uint32_t handle;
	uint32_t lkey;
	uint32_t rkey;
};

struct devmem_ibv_comp_channel;

struct devmem_ibv_cq {
	struct devmem_ibv_context *context;
	struct devmem_ibv_comp_channel *channel;
	void *cq_context;
	uint32_t handle;
	int cqe;
};

struct devmem_ibv_srq;

union devmem_ibv_gid {
	uint8_t raw[16];
	struct {
		uint64_t subnet_prefix;
		uint64_t interface_id;
	} global;
};

struct devmem_ibv_global_route {
	union devmem_ibv_gid dgid;
	uint32_t flow_label;
	uint8_t sgid_index;
	uint8_t hop_limit;
	uint8_t traffic_class;
};

struct devmem_ibv_ah_attr {
	struct devmem_ibv_global_route grh;
	uint16_t dlid;
	uint8_t sl;
	uint8_t src_path_bits;
	uint8_t static_rate;
	uint8_t is_global;
	uint8_t port_num;
};

struct devmem_ibv_qp_cap {
	uint32_t max_send_wr;
	uint32_t max_recv_wr;
	uint32_t max_send_sge;
	uint32_t max_recv_sge;
	uint32_t max_inline_data;
};

struct devmem_ibv_qp_init_attr {
	void *qp_context;
	struct devmem_ibv_cq *send_cq;
	struct devmem_ibv_cq *recv_cq;
	struct devmem_ibv_srq *srq;
	struct devmem_ibv_qp_cap cap;
	enum devmem_ibv_qp_type qp_type;
	int sq_sig_all;
};

struct devmem_ibv_qp_attr {
	enum devmem_ibv_qp_state qp_state;
	enum devmem_ibv_qp_state cur_qp_state;
	enum devmem_ibv_mtu path_mtu;
	int path_mig_state;
	uint32_t qkey;
	uint32_t rq_psn;
	uint32_t sq_psn;
	uint32_t dest_qp_num;
	unsigned int qp_access_flags;
	struct devmem_ibv_qp_cap cap;
	struct devmem_ibv_ah_attr ah_attr;
	struct devmem_ibv_ah_attr alt_ah_attr;
	uint16_t pkey_index;
	uint16_t alt_pkey_index;
	uint8_t en_sqd_async_notify;
	uint8_t sq_draining;
	uint8_t max_rd_atomic;
	uint8_t max_dest_rd_atomic;
	uint8_t min_rnr_timer;
	uint8_t port_num;
	uint8_t timeout;
	uint8_t retry_cnt;
	uint8_t rnr_retry;
	uint8_t alt_port_num;
	uint8_t alt_timeout;
	uint32_t rate_limit;
};

struct devmem_ibv_qp {
	struct devmem_ibv_context *context;
	void *qp_context;
	struct devmem_ibv_pd *pd;
	struct devmem_ibv_cq *send_cq;
	struct devmem_ibv_cq *recv_cq;
	struct devmem_ibv_srq *srq;
	uint32_t handle;
	uint32_t qp_num;
	enum devmem_ibv_qp_state state; /* a snapshot; devmem_ibv_query_qp() for the truth */
	enum devmem_ibv_qp_type qp_type;
};

struct devmem_ibv_sge {
	uint64_t addr;
	uint32_t length;
	uint32_t lkey;
};

struct devmem_ibv_send_wr {
	uint64_t wr_id;
	struct devmem_ibv_send_wr *next;
	struct devmem_ibv_sge *sg_list;
	int num_sge;
	enum devmem_ibv_wr_opcode opcode;
	unsigned int send_flags;
	uint32_t imm_data; /* network byte order, as rdma-core's __be32 */
	union {
		struct {
			uint64_t remote_addr;
			uint32_t rkey;
		} rdma;
		struct {
			uint64_t remote_addr;
			uint64_t compare_add;
			uint64_t swap;
			uint32_t rkey;
		} atomic;
	} wr;
};

struct devmem_ibv_recv_wr {
	uint64_t wr_id;
	struct devmem_ibv_recv_wr *next;
	struct devmem_ibv_sge *sg_list;
	int num_sge;
};

struct devmem_ibv_wc {
	uint64_t wr_id;
	enum devmem_ibv_wc_status status;
	enum devmem_ibv_wc_opcode opcode;
	uint32_t vendor_err;
	uint32_t byte_len;
	uint32_t imm_data; /* network byte order */
	uint32_t qp_num;
	uint32_t src_qp;
	unsigned int wc_flags;
	uint16_t pkey_index;
	uint16_t slid;
	uint8_t sl;
	uint8_t dlid_path_bits;
};

/*
 * The devices: the software device "swrdma0", then the real devices
 * rdma-core finds. NULL-terminated; free with the next call (contexts
 * opened from it stay valid).
 */
struct devmem_ibv_device **devmem_ibv_get_device_list(int *num_devices);
void devmem_ibv_free_device_list(struct devmem_ibv_device **list);
const char *devmem_ibv_get_device_name(struct devmem_ibv_device *device);

/* A context of @device: its own device-layer device (IOMMU domain). NULL + errno. */
struct devmem_ibv_context *devmem_ibv_open_device(struct devmem_ibv_device *device);
/* 0, or EBUSY while PDs, CQs, QPs or MRs of the context remain. */
int devmem_ibv_close_device(struct devmem_ibv_context *context);
/* The device-layer device through which the RDMA device reaches memory; NULL on a real device. */
struct device *devmem_ibv_context_device(struct devmem_ibv_context *context);

struct devmem_ibv_pd *devmem_ibv_alloc_pd(struct devmem_ibv_context *context);
/* 0, or EBUSY while MRs or QPs use it. */
int devmem_ibv_dealloc_pd(struct devmem_ibv_pd *pd);

struct devmem_ibv_mr *devmem_ibv_reg_mr(struct devmem_ibv_pd *pd, void *addr, size_t length,
					int access);
struct devmem_ibv_mr *devmem_ibv_reg_dmabuf_mr(struct devmem_ibv_pd *pd, uint64_t offset,
					       size_t length, uint64_t iova, int fd, int access);

/* Flags of devmem_ibv_reg_dmabuf_mr_ex(). */
enum devmem_ibv_reg_dmabuf_flags {
	DEVMEM_IBV_REG_DMABUF_PINNED = 1 << 0, /* pin + map once; the buffer never moves */
};
struct devmem_ibv_mr *devmem_ibv_reg_dmabuf_mr_ex(struct devmem_ibv_pd *pd, uint64_t offset,
						  size_t length, uint64_t iova, int fd, int access,
						  unsigned int flags);
/*
 * Deregister: waits for the device's accesses in flight to the MR, then
 * unmaps. 0. (As with libibverbs, deregistering the same MR twice is a
 * use after free.)
 */
int devmem_ibv_dereg_mr(struct devmem_ibv_mr *mr);

/* What happened to a dma-buf MR's translation table. */
struct devmem_ibv_mr_stats {
	uint64_t invalidations; /* move_notify zapped the table */
	uint64_t faults; /* device accesses that found it zapped and took the fault path */
	uint64_t remaps; /* fault paths that mapped and reprogrammed it */
	uint64_t unexpected_moves; /* move_notify on a pinned MR (an exporter bug) */
};
/* 0, or EINVAL for a host MR. */
int devmem_ibv_mr_get_stats(struct devmem_ibv_mr *mr, struct devmem_ibv_mr_stats *stats);

struct devmem_ibv_cq *devmem_ibv_create_cq(struct devmem_ibv_context *context, int cqe,
					   void *cq_context,
					   struct devmem_ibv_comp_channel *channel,
					   int comp_vector);
/* 0, or EBUSY while a QP uses it. */
int devmem_ibv_destroy_cq(struct devmem_ibv_cq *cq);
/* Up to @num_entries completions, oldest first: the number taken (0 if none). */
int devmem_ibv_poll_cq(struct devmem_ibv_cq *cq, int num_entries, struct devmem_ibv_wc *wc);

struct devmem_ibv_qp *devmem_ibv_create_qp(struct devmem_ibv_pd *pd,
					   struct devmem_ibv_qp_init_attr *qp_init_attr);
int devmem_ibv_modify_qp(struct devmem_ibv_qp *qp, struct devmem_ibv_qp_attr *attr, int attr_mask);
int devmem_ibv_query_qp(struct devmem_ibv_qp *qp, struct devmem_ibv_qp_attr *attr, int attr_mask,
			struct devmem_ibv_qp_init_attr *init_attr);
int devmem_ibv_destroy_qp(struct devmem_ibv_qp *qp);
/*
 * The wire: a connected SOCK_STREAM socket to the peer QP's (the library
 * keeps a duplicate; the caller may close @fd). In RESET or INIT only:
 * EINVAL otherwise, or if @fd is not a connected stream socket;
 * EOPNOTSUPP for a QP of a real device.
 */
int devmem_ibv_qp_set_wire(struct devmem_ibv_qp *qp, int fd);

/*
 * Post a chain of work requests. 0, or an errno value with *bad_wr at the
 * first one not posted: EINVAL (QP not in RTS for sends / in RESET for
 * receives, too many sges, unsupported opcode), ENOMEM (queue full).
 * In ERR, work requests are accepted and complete with WR_FLUSH_ERR.
 */
int devmem_ibv_post_send(struct devmem_ibv_qp *qp, struct devmem_ibv_send_wr *wr,
			 struct devmem_ibv_send_wr **bad_wr);
int devmem_ibv_post_recv(struct devmem_ibv_qp *qp, struct devmem_ibv_recv_wr *wr,
			 struct devmem_ibv_recv_wr **bad_wr);

#ifdef __cplusplus
}
#endif

#endif
