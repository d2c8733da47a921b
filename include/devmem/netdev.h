/* SPDX-License-Identifier: MIT */
/*
 * The control handle: libdevmem's analogue of a netlink socket speaking the
 * kernel's "netdev" generic netlink family, plus the few ethtool settings a
 * devmem receiver needs (header split, RSS, flow rules).
 *
 * Bindings belong to the handle that made them, as in the kernel they belong
 * to the netlink socket: devmem_ctl_close() unbinds every one of them (their
 * queues restart on host pages). A binding's memory outlives its unbind while
 * users hold its net_iovs: the fragments stay valid, and the binding is freed
 * when the last one comes back.
 *
 * Devices are named by ifindex. The software NIC registers one device per
 * shadowed kernel interface (same name, same ifindex); tests register their
 * own.
 *
 * Every call returns 0 (or a count) or a negative errno, with a one-line
 * reason in devmem_last_error(). Several handles may be used from several
 * threads at once; one handle may be shared between threads.
 *
 * fork(): the network state (handles, their bindings, software NICs, devmem
 * sockets) belongs to the process that first made some of it, as a KVM VM
 * belongs to the process that created it; it is driven by that process's
 * threads, which a child does not have. In a child forked after that, every
 * call here, devmem_ctl_open() included, fails at once with -EIO and a
 * devmem_last_error() that names both processes; devmem_ctl_close() in the
 * child frees only the child's copy of the handle: the bindings stay bound,
 * and the parent's close unbinds them. A child forked before the process
 * used the network may use it as its own.
 *
 * Processes: on the kernel an rx queue has one memory provider for the
 * whole machine (its network namespace), so a second program's bind-rx of
 * a bound queue fails. A software NIC is its process's own, and by default
 * two processes may each bind queue 1 of their shadow of lo. A shared
 * software NIC (devmem_swnic_set_shared(), DEVMEM_SWNIC_SHARED, the shared
 * option of devmem_swnic_create(); <devmem/swnic.h>) gives the kernel's
 * answer: each queue it binds is claimed for the network namespace, a
 * bind-rx of a queue another process's shared NIC has bound fails with
 * -EEXIST and the kernel's "designated queue already memory provider
 * bound", followed by "(by process PID)", and the queue is free again once
 * that process unbinds, closes the handle, or ends in any way (SIGKILL
 * too). Only the providers are shared; the settings below stay each
 * process's own.
 */
#ifndef DEVMEM_NETDEV_H
#define DEVMEM_NETDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devmem/uapi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ethtool's values (linux/ethtool.h). */
#ifndef ETHTOOL_TCP_DATA_SPLIT_ENABLED
#define ETHTOOL_TCP_DATA_SPLIT_UNKNOWN 0
#define ETHTOOL_TCP_DATA_SPLIT_DISABLED 1
#define ETHTOOL_TCP_DATA_SPLIT_ENABLED 2
#endif
#ifndef TCP_V4_FLOW
#define TCP_V4_FLOW 0x01
#define UDP_V4_FLOW 0x02
#define TCP_V6_FLOW 0x05
#define UDP_V6_FLOW 0x06
#endif
#ifndef RX_CLS_LOC_SPECIAL
#define RX_CLS_LOC_SPECIAL 0x80000000
#define RX_CLS_LOC_ANY 0xffffffff
#define RX_CLS_LOC_FIRST 0xfffffffe
#define RX_CLS_LOC_LAST 0xfffffffd
#endif

/* Entries of a device's RSS indirection table. */
#define DEVMEM_RSS_INDIR_SIZE 128
/* Flow rules a device holds at most. */
#define DEVMEM_MAX_FLOW_RULES 1024

struct devmem_ctl;

/* Open a control handle on the software path: devmem_ctl_open_opts() with no options. */
int devmem_ctl_open(struct devmem_ctl **out);

/* Which implementation answers a handle's calls (shared/DESIGN.md section 7). */
enum devmem_backend {
	/* the library's own netdevs (a software NIC shadowing a kernel interface) */
	DEVMEM_BACKEND_SOFTWARE = 0,
	/* the running kernel: netdev and ethtool generic netlink, ethtool ioctls */
	DEVMEM_BACKEND_KERNEL = 1,
	/* the kernel where it accepts a devmem binding, else the software path */
	DEVMEM_BACKEND_AUTO = 2,
};

/* "software", "kernel", "auto"; NULL for anything else. */
const char *devmem_backend_name(enum devmem_backend backend);

/* Options of devmem_ctl_open_opts(); start with sizeof (DEVMEM_OPTS). */
struct devmem_ctl_opts {
	size_t sz;
	enum devmem_backend backend;
	/*
	 * DEVMEM_BACKEND_AUTO only: the interface and rx queues the decision
	 * is for (no queues: rx queue 0), and the dma-buf to try the binding
	 * with (> 0; a kernel dma-buf such as a udmabuf's or a GPU's). The
	 * kernel's answer to a real bind-rx is the decision: without a
	 * buffer only a refusal of the device itself (no queue API) can be
	 * seen, and a device that gets as far as the buffer is not proven, so
	 * the software path is chosen with that said.
	 */
	int ifindex;
	const struct devmem_queue_id *queues;
	unsigned int nr_queues;
	int dmabuf_fd;
};

/*
 * Open a control handle on @opts->backend (NULL @opts: software).
 *
 * Kernel: every call below is a request to the running kernel (netdev
 * generic netlink for bindings and dumps, ethtool netlink for header split
 * and RSS, the ethtool ioctl for flow rules), and fails with the kernel's
 * errno; devmem_last_error() then holds the kernel's extack message. Each
 * binding is made on a netlink socket of its own that the handle keeps:
 * the kernel releases a binding when that socket closes, which is what
 * devmem_unbind() and devmem_ctl_close() do. Devmem sockets on an interface
 * with a kernel binding of this process are read and written with the real
 * system calls (include/devmem/socket.h).
 *
 * Auto: decided here, once, for @opts->ifindex: a bind-rx is tried on the
 * kernel (and released at once); when the kernel takes it the handle is a
 * kernel handle, otherwise a software one. Either way the decision and its
 * one-line reason are in devmem_ctl_backend().
 *
 * Returns 0, -EINVAL (bad options, auto without an ifindex), -ENOMEM,
 * -EIO (a forked child, above), or for the kernel backend the error of
 * opening a generic netlink socket (-EPROTONOSUPPORT without one).
 */
int devmem_ctl_open_opts(struct devmem_ctl **out, const struct devmem_ctl_opts *opts);

/*
 * The backend @ctl answers on (never AUTO: an auto handle says what it
 * chose) and, when @reason is not NULL, why, in one line owned by the
 * handle ("lo: the kernel refused bind-rx: EOPNOTSUPP ...; using the
 * software NIC"). -EINVAL for a NULL handle.
 */
int devmem_ctl_backend(const struct devmem_ctl *ctl, const char **reason);

/*
 * Close the handle and unbind every binding it made (each bound queue is
 * restarted on host pages). NULL is ignored. Never fails; a queue whose
 * restart fails keeps serving from the binding until the device goes away.
 */
void devmem_ctl_close(struct devmem_ctl *ctl);

/* ---- bindings (NETDEV_CMD_BIND_RX, NETDEV_CMD_BIND_TX) ---- */

/* One queue of a bind request (the nested queue-id attribute). */
struct devmem_queue_id {
	uint32_t id;
	uint32_t type; /* NETDEV_QUEUE_TYPE_RX; anything else is -EINVAL */
};

/* Options of a bind; start with sizeof: zero-fill and set sz (DEVMEM_OPTS). */
struct devmem_bind_opts {
	size_t sz;
	/*
	 * bind-rx only (NETDEV_A_DMABUF_RX_PAGE_SIZE): bytes per rx buffer,
	 * which is the size of every net_iov and so of every fragment's
	 * memory. 0 for PAGE_SIZE, else a power of two >= PAGE_SIZE; the
	 * driver must support it.
	 */
	uint32_t rx_page_size;
};

#define DEVMEM_OPTS(type, name, ...) struct type name = { .sz = sizeof(struct type), __VA_ARGS__ }

/*
 * Bind the dma-buf @dmabuf_fd to rx queues @queues[0..@nr_queues) of device
 * @ifindex and return the binding id (from 1, allocated cyclically) in *@id.
 * The buffer is attached (static: a dynamic exporter pins it) to the device
 * and mapped FROM_DEVICE; each queue gets the binding as its memory provider
 * and is restarted so its data page pool hands out the buffer's net_iovs.
 *
 * Checked in the kernel's order (netdev_nl_bind_rx_doit()), with its errno:
 *  1. -ERANGE: @ifindex 0, a queue type above NETDEV_QUEUE_TYPE_TX, an
 *     rx_page_size below PAGE_SIZE (the attribute policy);
 *  2. -EINVAL: no queues, an rx_page_size that is not a power of two;
 *  3. -ENODEV: no such device; -EOPNOTSUPP: its driver has no queue
 *     management;
 *  4. -EINVAL: a queue of type TX, a queue index beyond the device's rx
 *     queues (a queue listed twice is bound once);
 *  5. the dma-buf: -EBADF (@dmabuf_fd is not open), -EINVAL (it is not a
 *     dma-buf; its size, or an sg entry's address or length, is not a
 *     multiple of the rx page size);
 *  6. each queue, in ascending order: -EINVAL (header split off or
 *     threshold not 0), -EEXIST (XDP program attached, queue already has a
 *     provider: on a shared software NIC, another process's too, whose pid
 *     the message names), -EBUSY (AF_XDP pool on the queue), -EOPNOTSUPP (the
 *     driver cannot use the rx page size), -ENODATA (no page pool of the
 *     restarted queue took the buffer).
 * Also -ENOMEM. A failed bind leaves nothing bound, mapped or allocated, and
 * every queue serving as before; a failure in step 6 has used up an id (ids
 * are cyclic, as the kernel's), any earlier one has not.
 *
 * Binding a dma-buf twice, or again while users still hold fragments of an
 * unbound binding of it, is allowed (as in the kernel): both bindings hand
 * the NIC the same memory, so new data can overwrite a fragment a user
 * still holds, with no error anywhere. The library counts each such write
 * in devmem_binding_info (held_overwritten, overwrote_held); hardware
 * would not tell you.
 */
int devmem_bind_rx(struct devmem_ctl *ctl, int ifindex, int dmabuf_fd,
		   const struct devmem_queue_id *queues, unsigned int nr_queues,
		   const struct devmem_bind_opts *opts, uint32_t *id);

/*
 * Bind @dmabuf_fd for transmit on device @ifindex (mapped TO_DEVICE) and
 * return the id that sendmsg names in its SCM_DEVMEM_DMABUF cmsg. Its
 * net_iovs are PAGE_SIZE. -EINVAL (an rx_page_size in @opts, or the fd is not
 * a dma-buf), -ERANGE (@ifindex 0), -ENODEV, -EOPNOTSUPP (the driver cannot
 * send from net_iovs), -EBADF (the fd is not open), -ENOMEM.
 */
int devmem_bind_tx(struct devmem_ctl *ctl, int ifindex, int dmabuf_fd,
		   const struct devmem_bind_opts *opts, uint32_t *id);

/*
 * Unbind one binding of this handle now (what closing a handle does to all
 * of them). -ENOENT when @id is not a live binding of @ctl.
 */
int devmem_unbind(struct devmem_ctl *ctl, uint32_t id);

/* ---- device settings (the ethtool analogues) ---- */

/*
 * Header split (ethtool rings-set tcp-data-split, hds-thresh): @tcp_data_split
 * is ETHTOOL_TCP_DATA_SPLIT_ENABLED or _DISABLED. -EINVAL for other values, a
 * threshold above the device's maximum, or (as the kernel) disabling split
 * or a non-zero threshold while a queue has a memory provider.
 */
int devmem_set_header_split(struct devmem_ctl *ctl, int ifindex, uint32_t tcp_data_split,
			    uint32_t hds_thresh);

/*
 * RSS over the first @n rx queues ("ethtool -X equal N"): table entry i is
 * i % @n. -EINVAL for @n 0 or above the device's rx queues.
 */
int devmem_set_rss_equal(struct devmem_ctl *ctl, int ifindex, uint32_t n);

/* An ntuple rule: a zero address or port is a wildcard. */
struct devmem_flow_rule {
	uint32_t flow_type; /* TCP_V4_FLOW, TCP_V6_FLOW, UDP_V4_FLOW or UDP_V6_FLOW */
	uint8_t src_addr[16]; /* IPv4 in the first 4 bytes, network order */
	uint8_t dst_addr[16];
	uint16_t src_port; /* network order */
	uint16_t dst_port; /* network order */
	uint32_t queue; /* rx queue the matching flows go to (0 with a context) */
	/*
	 * 0: the flows go to @queue. Otherwise an RSS context of the device
	 * (devmem_rss_context_create()): its table picks the queue, as
	 * ethtool's "context N" (FLOW_RSS) does.
	 */
	uint32_t rss_context;
};

/*
 * Add a rule at the lowest free location, which goes to *@loc (ethtool's
 * "loc", from 0). Rules match in location order. -EINVAL (bad flow type,
 * queue out of range, no such RSS context, a queue with a context),
 * -ENOSPC (DEVMEM_MAX_FLOW_RULES held).
 */
int devmem_flow_rule_add(struct devmem_ctl *ctl, int ifindex, const struct devmem_flow_rule *rule,
			 uint32_t *loc);
/*
 * devmem_flow_rule_add() at location @loc (below DEVMEM_MAX_FLOW_RULES; a
 * rule already there is replaced), or where the device chooses:
 * RX_CLS_LOC_ANY and RX_CLS_LOC_LAST take the highest free location (as
 * ethtool's own rule manager does), RX_CLS_LOC_FIRST the lowest. The
 * location used goes to *@out. -EINVAL for any other location at or above
 * DEVMEM_MAX_FLOW_RULES; -ENOSPC when none is free.
 */
int devmem_flow_rule_insert(struct devmem_ctl *ctl, int ifindex,
			    const struct devmem_flow_rule *rule, uint32_t loc, uint32_t *out);
/* Delete the rule at @loc: -ENOENT when there is none. */
int devmem_flow_rule_del(struct devmem_ctl *ctl, int ifindex, uint32_t loc);
/*
 * Copy up to @max rules into @rules and their locations into @locs (either may
 * be NULL with @max 0); returns how many the device holds.
 */
int devmem_flow_rule_list(struct devmem_ctl *ctl, int ifindex, struct devmem_flow_rule *rules,
			  uint32_t *locs, unsigned int max);

/*
 * The rest of ethtool's view of a device. Software backend only: on a
 * kernel handle each is -EOPNOTSUPP (use ethtool there).
 */

/* Channels (ethtool -l/-L): the software NIC has separate rx and tx queues. */
struct devmem_channels {
	uint32_t max_rx, max_tx, max_other, max_combined;
	uint32_t rx_count, tx_count, other_count, combined_count;
};

int devmem_get_channels(struct devmem_ctl *ctl, int ifindex, struct devmem_channels *ch);
/*
 * Change the real queue counts. -EINVAL: 0 or above the maximum, or a queue
 * that would go away is still used by the indirection table or an RSS
 * context, a flow rule, an AF_XDP pool or a memory provider (a bound
 * dma-buf), as ethtool_check_max_channel() refuses.
 */
int devmem_set_channels(struct devmem_ctl *ctl, int ifindex, uint32_t rx, uint32_t tx);

/* Ring sizes (ethtool -g/-G). */
struct devmem_ringparam {
	uint32_t rx_max_pending, tx_max_pending;
	uint32_t rx_pending, tx_pending;
};

int devmem_get_ringparam(struct devmem_ctl *ctl, int ifindex, struct devmem_ringparam *rp);
/* -EINVAL for 0 or above the maximum. */
int devmem_set_ringparam(struct devmem_ctl *ctl, int ifindex, uint32_t rx, uint32_t tx);

/*
 * Features (ethtool -k/-K), as the kernel's netdev_features_t bits. The
 * software NIC can change DEVMEM_NETIF_F_NTUPLE (off at creation; turning
 * it off deletes every flow rule, as drivers flush their filters) and
 * DEVMEM_NETIF_F_RXHASH (on); the others it reports are fixed.
 */
#define DEVMEM_NETIF_F_NTUPLE (1ULL << 38)
#define DEVMEM_NETIF_F_RXHASH (1ULL << 39)

int devmem_get_features(struct devmem_ctl *ctl, int ifindex, uint64_t *hw, uint64_t *wanted,
			uint64_t *active);
/*
 * Set the features in @valid to their value in @wanted. Bits the device
 * cannot change are left alone and reported: the return value is 0 or
 * ETHTOOL_F_UNSUPPORTED (1).
 */
int devmem_set_features(struct devmem_ctl *ctl, int ifindex, uint64_t valid, uint64_t wanted);

/* RSS contexts besides the device's own table (context 0). */
#define DEVMEM_RSS_MAX_CONTEXTS 32

/*
 * Copy the indirection table of @context (0: the device's) into @indir
 * (DEVMEM_RSS_INDIR_SIZE entries). -ENOENT: no such context.
 */
int devmem_rss_get(struct devmem_ctl *ctl, int ifindex, uint32_t context, uint32_t *indir);
/*
 * Replace the table of @context with @indir (DEVMEM_RSS_INDIR_SIZE
 * entries, each below the rx queue count: -EINVAL otherwise). NULL @indir
 * resets context 0 to its default spread. -ENOENT: no such context.
 */
int devmem_rss_set(struct devmem_ctl *ctl, int ifindex, uint32_t context, const uint32_t *indir);
/*
 * Create an RSS context with @indir (NULL: spread over every rx queue) and
 * return its id (1 .. DEVMEM_RSS_MAX_CONTEXTS) in *@context. -EBUSY when
 * every id is taken.
 */
int devmem_rss_context_create(struct devmem_ctl *ctl, int ifindex, const uint32_t *indir,
			      uint32_t *context);
/* Delete a context: -ENOENT (none), -EBUSY (a flow rule still targets it). */
int devmem_rss_context_delete(struct devmem_ctl *ctl, int ifindex, uint32_t context);

/*
 * The states a devmem bind refuses, settable so the refusals can be seen:
 * an XDP program on the device, an AF_XDP pool on an rx queue. Attaching
 * either where a memory provider is bound is -EBUSY, as in the kernel.
 */
int devmem_set_xdp(struct devmem_ctl *ctl, int ifindex, bool attached);
int devmem_set_xsk_pool(struct devmem_ctl *ctl, int ifindex, uint32_t rxq, bool attached);

/* ---- dumps (NETDEV_CMD_DEV_GET, QUEUE_GET, PAGE_POOL_GET, and bindings) ---- */

struct devmem_dev_info {
	int ifindex; /* NETDEV_A_DEV_IFINDEX */
	char name[16];
	uint64_t xdp_features; /* NETDEV_A_DEV_XDP_FEATURES */
	uint32_t num_rx_queues; /* real rx queues */
	uint32_t num_tx_queues;
	uint32_t tcp_data_split; /* ETHTOOL_TCP_DATA_SPLIT_* */
	uint32_t hds_thresh;
	uint32_t hds_thresh_max;
	bool xdp_attached;
	bool netmem_tx; /* the driver can send from net_iovs */
	uint32_t rss_indir[DEVMEM_RSS_INDIR_SIZE];
	uint32_t nr_flow_rules;
};

struct devmem_queue_info {
	uint32_t id; /* NETDEV_A_QUEUE_ID */
	int ifindex; /* NETDEV_A_QUEUE_IFINDEX */
	uint32_t type; /* NETDEV_A_QUEUE_TYPE */
	uint32_t napi_id; /* NETDEV_A_QUEUE_NAPI_ID */
	uint32_t dmabuf; /* NETDEV_A_QUEUE_DMABUF: binding id, 0 if none */
	bool io_uring; /* NETDEV_A_QUEUE_IO_URING */
	bool xsk; /* NETDEV_A_QUEUE_XSK */
};

struct devmem_page_pool_info {
	uint32_t id; /* NETDEV_A_PAGE_POOL_ID */
	int ifindex; /* NETDEV_A_PAGE_POOL_IFINDEX */
	uint32_t napi_id; /* NETDEV_A_PAGE_POOL_NAPI_ID */
	uint64_t inflight; /* NETDEV_A_PAGE_POOL_INFLIGHT */
	uint64_t inflight_mem; /* NETDEV_A_PAGE_POOL_INFLIGHT_MEM */
	uint64_t detach_time; /* NETDEV_A_PAGE_POOL_DETACH_TIME: 0 while attached */
	uint32_t dmabuf; /* NETDEV_A_PAGE_POOL_DMABUF */
	bool io_uring; /* NETDEV_A_PAGE_POOL_IO_URING */
};

#define DEVMEM_BINDING_MAX_QUEUES 64 /* queues listed in a binding dump */

struct devmem_binding_info {
	uint32_t id;
	int ifindex;
	uint32_t direction; /* NETDEV_QUEUE_TYPE_RX or _TX */
	bool unbound; /* unbound, waiting for its net_iovs to come back */
	bool owned; /* made by the handle that asked */
	uint64_t dmabuf_size;
	uint64_t dmabuf_ino; /* the dma-buf's inode number, as in its fdinfo */
	uint32_t nr_queues; /* rx queues bound now */
	uint32_t queues[DEVMEM_BINDING_MAX_QUEUES]; /* the first of them */
	uint32_t nr_chunks; /* chunks (sg entries) */
	uint32_t niov_size;
	uint64_t nr_niovs; /* net_iovs in all */
	uint64_t niovs_free; /* in the chunk pool */
	uint64_t niovs_in_use; /* handed to page pools, sockets or the wire */
	uint64_t metadata_bytes; /* what the binding allocated to describe the buffer */
	/*
	 * Fragments overwritten while a user held them, through another rx
	 * binding of the same dma-buf (see devmem_bind_rx()): net_iovs of this
	 * binding that another's data landed on, and net_iovs of others that
	 * this binding's data landed on.
	 */
	uint64_t held_overwritten;
	uint64_t overwrote_held;
};

/*
 * Dumps call @cb once per object and stop at its first non-zero return,
 * which they return; 0 when all were visited. @ifindex 0 means every device.
 * Callbacks run with library locks held: they must not call libdevmem.
 * The _get variants fill one object: -ENODEV / -ENOENT / -EINVAL when it
 * does not exist.
 */
int devmem_dev_get(struct devmem_ctl *ctl, int ifindex, struct devmem_dev_info *info);
int devmem_dev_dump(struct devmem_ctl *ctl, int (*cb)(const struct devmem_dev_info *, void *),
		    void *data);
int devmem_queue_get(struct devmem_ctl *ctl, int ifindex, uint32_t type, uint32_t id,
		     struct devmem_queue_info *info);
int devmem_queue_dump(struct devmem_ctl *ctl, int ifindex,
		      int (*cb)(const struct devmem_queue_info *, void *), void *data);
int devmem_page_pool_get(struct devmem_ctl *ctl, uint32_t id, struct devmem_page_pool_info *info);
int devmem_page_pool_dump(struct devmem_ctl *ctl, int ifindex,
			  int (*cb)(const struct devmem_page_pool_info *, void *), void *data);
int devmem_binding_get(struct devmem_ctl *ctl, uint32_t id, struct devmem_binding_info *info);
int devmem_binding_dump(struct devmem_ctl *ctl, int ifindex,
			int (*cb)(const struct devmem_binding_info *, void *), void *data);

#ifdef __cplusplus
}
#endif

#endif
