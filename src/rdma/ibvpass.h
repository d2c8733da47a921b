/* SPDX-License-Identifier: MIT */
/*
 * Pass-through to libibverbs: the real RDMA devices rdma-core finds, next
 * to the software device. Each devmem_ibv_* verb on an object of a real
 * device calls the libibverbs verb on the real object the wrapper carries.
 *
 * libibverbs.so.1 is loaded with dlopen() the first time the device list
 * is asked for: a program that never uses RDMA, or a machine without
 * rdma-core, pays nothing and needs nothing at run time. The library's
 * calls go through a table of the libibverbs entry points (struct
 * ibvpass_ops), which the unit tests may replace with a stand-in provider
 * to check the wrapping and the refusals on a machine with no RDMA device.
 */
#ifndef DEVMEM_RDMA_IBVPASS_H
#define DEVMEM_RDMA_IBVPASS_H

#include <stdbool.h>

#include "devmem/rdma.h"

/* <infiniband/verbs.h> stays in ibvpass.c (and the tests' stand-in provider) */
struct ibv_device;
struct ibv_context;
struct ibv_pd;
struct ibv_mr;
struct ibv_cq;
struct ibv_comp_channel;
struct ibv_qp;
struct ibv_qp_init_attr;
struct ibv_qp_attr;
struct ibv_send_wr;
struct ibv_recv_wr;
struct ibv_wc;

/* The libibverbs entry points the pass-through uses. */
struct ibvpass_ops {
	struct ibv_device **(*get_device_list)(int *num_devices);
	void (*free_device_list)(struct ibv_device **list);
	const char *(*get_device_name)(struct ibv_device *device);
	struct ibv_context *(*open_device)(struct ibv_device *device);
	int (*close_device)(struct ibv_context *context);
	struct ibv_pd *(*alloc_pd)(struct ibv_context *context);
	int (*dealloc_pd)(struct ibv_pd *pd);
	struct ibv_mr *(*reg_mr)(struct ibv_pd *pd, void *addr, size_t length, int access);
	struct ibv_mr *(*reg_dmabuf_mr)(struct ibv_pd *pd, uint64_t offset, size_t length,
					uint64_t iova, int fd, int access);
	int (*dereg_mr)(struct ibv_mr *mr);
	struct ibv_cq *(*create_cq)(struct ibv_context *context, int cqe, void *cq_context,
				    struct ibv_comp_channel *channel, int comp_vector);
	int (*destroy_cq)(struct ibv_cq *cq);
	struct ibv_qp *(*create_qp)(struct ibv_pd *pd, struct ibv_qp_init_attr *attr);
	int (*modify_qp)(struct ibv_qp *qp, struct ibv_qp_attr *attr, int attr_mask);
	int (*query_qp)(struct ibv_qp *qp, struct ibv_qp_attr *attr, int attr_mask,
			struct ibv_qp_init_attr *init_attr);
	int (*destroy_qp)(struct ibv_qp *qp);
	int (*post_send)(struct ibv_qp *qp, struct ibv_send_wr *wr, struct ibv_send_wr **bad_wr);
	int (*post_recv)(struct ibv_qp *qp, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad_wr);
	int (*poll_cq)(struct ibv_cq *cq, int num_entries, struct ibv_wc *wc);
};

/*
 * Replace the libibverbs entry points (tests only; before any device list
 * is taken). NULL goes back to libibverbs.
 */
void ibvpass_set_ops(const struct ibvpass_ops *ops);

/* The software device, defined in verbs.c. */
extern struct devmem_ibv_device swrdma_device;

/* @context belongs to a real device (libibverbs), not the software one. */
static inline bool ibvpass_is_real(const struct devmem_ibv_context *context)
{
	return context->device != &swrdma_device;
}

/*
 * The real devices rdma-core finds, wrapped: ibvpass_devices_get() takes
 * libibverbs' list (NULL and *@n = 0 when there is no device or no
 * libibverbs), ibvpass_devices_fill() stores the @n wrappers in @list,
 * ibvpass_devices_put() frees the wrappers and libibverbs' list. A context
 * opened from a wrapper outlives the list, as with libibverbs.
 */
struct ibvpass_devices;
struct ibvpass_devices *ibvpass_devices_get(int *n);
void ibvpass_devices_fill(struct ibvpass_devices *devs, struct devmem_ibv_device **list);
void ibvpass_devices_put(struct ibvpass_devices *devs);

struct devmem_ibv_context *ibvpass_open_device(struct devmem_ibv_device *device);
int ibvpass_close_device(struct devmem_ibv_context *context);
struct devmem_ibv_pd *ibvpass_alloc_pd(struct devmem_ibv_context *context);
int ibvpass_dealloc_pd(struct devmem_ibv_pd *pd);
struct devmem_ibv_mr *ibvpass_reg_mr(struct devmem_ibv_pd *pd, void *addr, size_t length,
				     int access);
struct devmem_ibv_mr *ibvpass_reg_dmabuf_mr(struct devmem_ibv_pd *pd, uint64_t offset,
					    size_t length, uint64_t iova, int fd, int access,
					    unsigned int flags);
int ibvpass_dereg_mr(struct devmem_ibv_mr *mr);
struct devmem_ibv_cq *ibvpass_create_cq(struct devmem_ibv_context *context, int cqe,
					void *cq_context, struct devmem_ibv_comp_channel *channel,
					int comp_vector);
int ibvpass_destroy_cq(struct devmem_ibv_cq *cq);
int ibvpass_poll_cq(struct devmem_ibv_cq *cq, int num_entries, struct devmem_ibv_wc *wc);
struct devmem_ibv_qp *ibvpass_create_qp(struct devmem_ibv_pd *pd,
					struct devmem_ibv_qp_init_attr *attr);
int ibvpass_modify_qp(struct devmem_ibv_qp *qp, struct devmem_ibv_qp_attr *attr, int attr_mask);
int ibvpass_query_qp(struct devmem_ibv_qp *qp, struct devmem_ibv_qp_attr *attr, int attr_mask,
		     struct devmem_ibv_qp_init_attr *init_attr);
int ibvpass_destroy_qp(struct devmem_ibv_qp *qp);
int ibvpass_post_send(struct devmem_ibv_qp *qp, struct devmem_ibv_send_wr *wr,
		      struct devmem_ibv_send_wr **bad_wr);
int ibvpass_post_recv(struct devmem_ibv_qp *qp, struct devmem_ibv_recv_wr *wr,
		      struct devmem_ibv_recv_wr **bad_wr);

#endif
