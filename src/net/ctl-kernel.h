/* SPDX-License-Identifier: MIT */
/*
 * The control handle's kernel backend (ctl-kernel.c): the calls of
 * include/devmem/netdev.h answered by the running kernel through
 * src/netlink/. Same arguments and return values as the public calls; the
 * public layer (ctl.c) has checked the handle and the options structs.
 *
 * Also the process's record of the interfaces where a kernel-backend
 * handle holds a binding: devmem sockets on those interfaces are the
 * kernel's to read and write (src/net/socket.c asks ctl_kernel_owns_ifindex()).
 */
#ifndef DEVMEM_NET_CTL_KERNEL_H
#define DEVMEM_NET_CTL_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devmem/netdev.h"

struct ctl_kernel;

int ctl_kernel_open(struct ctl_kernel **out);
/* Close every binding's netlink socket (the kernel unbinds each), then the handle's own. */
void ctl_kernel_close(struct ctl_kernel *k);
/* A forked child's copy: its fds and memory only (the parent's close unbinds). */
void ctl_kernel_close_in_child(struct ctl_kernel *k);

int ctl_kernel_bind_rx(struct ctl_kernel *k, int ifindex, int dmabuf_fd,
		       const struct devmem_queue_id *queues, unsigned int nr_queues,
		       uint32_t rx_page_size, uint32_t *id);
int ctl_kernel_bind_tx(struct ctl_kernel *k, int ifindex, int dmabuf_fd, uint32_t *id);
int ctl_kernel_unbind(struct ctl_kernel *k, uint32_t id);

int ctl_kernel_set_header_split(struct ctl_kernel *k, int ifindex, uint32_t tcp_data_split,
				uint32_t hds_thresh);
int ctl_kernel_set_rss_equal(struct ctl_kernel *k, int ifindex, uint32_t n);
int ctl_kernel_flow_rule_add(struct ctl_kernel *k, int ifindex, const struct devmem_flow_rule *rule,
			     uint32_t *loc);
int ctl_kernel_flow_rule_del(struct ctl_kernel *k, int ifindex, uint32_t loc);
int ctl_kernel_flow_rule_list(struct ctl_kernel *k, int ifindex, struct devmem_flow_rule *rules,
			      uint32_t *locs, unsigned int max);

int ctl_kernel_dev_get(struct ctl_kernel *k, int ifindex, struct devmem_dev_info *info);
int ctl_kernel_dev_dump(struct ctl_kernel *k, int (*cb)(const struct devmem_dev_info *, void *),
			void *data);
int ctl_kernel_queue_get(struct ctl_kernel *k, int ifindex, uint32_t type, uint32_t id,
			 struct devmem_queue_info *info);
int ctl_kernel_queue_dump(struct ctl_kernel *k, int ifindex,
			  int (*cb)(const struct devmem_queue_info *, void *), void *data);
int ctl_kernel_page_pool_get(struct ctl_kernel *k, uint32_t id, struct devmem_page_pool_info *info);
int ctl_kernel_page_pool_dump(struct ctl_kernel *k, int ifindex,
			      int (*cb)(const struct devmem_page_pool_info *, void *), void *data);
int ctl_kernel_binding_get(struct ctl_kernel *k, uint32_t id, struct devmem_binding_info *info);
int ctl_kernel_binding_dump(struct ctl_kernel *k, int ifindex,
			    int (*cb)(const struct devmem_binding_info *, void *), void *data);

/*
 * The auto backend's decision for @ifindex: try bind-rx on the kernel with
 * @dmabuf_fd (<= 0: a file that is no dma-buf) and release it at once.
 * Returns 1 when the kernel took the binding, 0 when it did not (the
 * reason in @reason either way), or a negative errno when the kernel could
 * not be asked at all.
 */
int ctl_kernel_probe(int ifindex, const struct devmem_queue_id *queues, unsigned int nr_queues,
		     int dmabuf_fd, char *reason, size_t len);

/* Whether any kernel-backend handle of this process holds a binding (one atomic load). */
bool ctl_kernel_any(void);
/* Whether a kernel-backend handle of this process holds a binding on @ifindex. */
bool ctl_kernel_owns_ifindex(int ifindex);
/* Count a kernel binding on @ifindex in that record, and uncount it (also for tests). */
void ctl_kernel_ifindex_get(int ifindex);
void ctl_kernel_ifindex_put(int ifindex);

#endif
