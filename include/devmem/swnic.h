/* SPDX-License-Identifier: MIT */
/*
 * The software NIC: a libdevmem net device that shadows a kernel network
 * interface (lo, a veth, any interface) with the same name and ifindex, and
 * receives that interface's TCP flows into its rx queues' memory.
 *
 * The wire is the kernel's TCP stack; what the software NIC does is the
 * receive queue. Each rx queue has its own driver thread (the queue's NAPI
 * context) which owns an io_uring and a provided-buffer ring filled from
 * the queue's data page pool: the bound dma-buf's net_iovs, or host pages
 * when the queue is not bound. The sockets steered to the queue are read
 * with multishot receives that pick their buffers from that ring; each
 * completion becomes a fragment on its socket (devmem/socket.h). When the
 * pool runs dry the queue stops reading (the kernel socket buffer fills and
 * TCP holds the sender back) until fragments come back.
 *
 * The buffer addresses handed to io_uring are the device's translation of
 * the net_iovs' device addresses (device_translate() on the NIC's device):
 * the driver reaches the exporter's memory no other way.
 *
 * A control handle call (devmem/netdev.h) that names the ifindex of a kernel
 * interface no device shadows yet creates a software NIC for it with the
 * default options, so an application written for a devmem NIC needs no
 * extra step.
 * A software NIC belongs to the process that created it (its queue threads
 * do not exist in a forked child): in a child forked after the process first
 * used the network, the calls below fail with -EIO (devmem/netdev.h).
 *
 * Shared rx queues. Each process that shadows an interface has a software
 * NIC of its own, so by default two processes can bind the same rx queue
 * of lo at once, where a kernel NIC would refuse the second (one memory
 * provider per queue). A shared software NIC claims each queue it binds for
 * the whole network namespace, as the kernel's queue is: a bind-rx of a
 * queue that another process's shared software NIC has bound fails with
 * -EEXIST and the kernel's reason, naming that process's pid. The claim goes
 * when the queue loses its provider: unbind, closing the control handle,
 * destroying the NIC, or the process ending in any way (SIGKILL too; the
 * kernel closes it). A forked child neither holds nor releases the parent's
 * claims. Only providers are shared: header split, RSS, flow rules,
 * channels, XDP and AF_XDP states stay each process's own. Off unless asked
 * for (devmem_swnic_set_shared(), DEVMEM_SWNIC_SHARED, or opts.shared), so
 * that independent programs (and the test suite, whose programs bind lo's
 * queues in parallel) keep their own queues.
 */
#ifndef DEVMEM_SWNIC_H
#define DEVMEM_SWNIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How an rx queue asks io_uring for data. */
enum devmem_swnic_rx_mode {
	DEVMEM_SWNIC_RX_AUTO, /* bundles where the kernel has them, else single */
	DEVMEM_SWNIC_RX_SINGLE, /* one buffer per completion */
	DEVMEM_SWNIC_RX_BUNDLE, /* many buffers per completion (kernel 6.10+; -EOPNOTSUPP) */
};

/* Whether a software NIC's rx queues are claimed machine-wide (see the top). */
enum devmem_swnic_shared {
	/* devmem_swnic_set_shared() if called, else the DEVMEM_SWNIC_SHARED variable */
	DEVMEM_SWNIC_SHARED_DEFAULT,
	DEVMEM_SWNIC_SHARED_ON,
	DEVMEM_SWNIC_SHARED_OFF,
};

/* Longest shared domain name (letters, digits, '.', '_', '-'). */
#define DEVMEM_SWNIC_DOMAIN_MAX 64

#define DEVMEM_SWNIC_DEFAULT_QUEUES 4
#define DEVMEM_SWNIC_DEFAULT_POOL_SIZE 4096 /* data page pool ring entries */
#define DEVMEM_SWNIC_DEFAULT_RING_ENTRIES 4096 /* provided buffers per rx queue */

/* Options of a software NIC; zero-fill and set sz (DEVMEM_OPTS). 0 means the default. */
struct devmem_swnic_opts {
	size_t sz;
	uint32_t num_rx_queues; /* 1 .. 64; default DEVMEM_SWNIC_DEFAULT_QUEUES */
	uint32_t num_tx_queues; /* 1 .. 64; default: num_rx_queues */
	uint32_t pool_size; /* data page pool entries per queue, 1 .. 32768 */
	uint32_t ring_entries; /* provided buffers per queue: a power of two, 1 .. 32768 */
	uint32_t rx_mode; /* enum devmem_swnic_rx_mode */
	uint32_t host_buf_size; /* host-page buffers of an unbound queue: 0 = PAGE_SIZE */
	uint32_t shared; /* enum devmem_swnic_shared */
	/*
	 * SHARED_ON only: the domain the claims are made in; NULL or "" for
	 * the network namespace's one. Processes see each other's claims
	 * only within one domain.
	 */
	const char *shared_domain;
};

/*
 * Shadow kernel interface @ifname with a software NIC and return its
 * ifindex (the interface's) in *@ifindex (may be NULL). -ENODEV (no such
 * interface), -EEXIST (already shadowed), -EINVAL (bad options),
 * -EOPNOTSUPP (io_uring, provided-buffer rings or the asked rx mode missing
 * from the running kernel), -ENOMEM.
 */
int devmem_swnic_create(const char *ifname, const struct devmem_swnic_opts *opts, int *ifindex);

/*
 * Take the software NIC of @ifindex away: its rx queues stop (sockets on
 * them are read as plain sockets from then on), bindings on it are unbound
 * (their handles keep them until closed). -ENODEV when there is none.
 */
int devmem_swnic_destroy(int ifindex);

/*
 * Whether the software NICs this process creates from now on, with
 * DEVMEM_SWNIC_SHARED_DEFAULT in their options (as the ones a control handle
 * creates when it names an interface), are shared, and in which @domain
 * (NULL or "": the network namespace's; ignored when not @shared). NICs
 * that exist keep what they were created with. Overrides the environment.
 * Returns 0, or -EINVAL for a domain longer than DEVMEM_SWNIC_DOMAIN_MAX or
 * with other bytes than letters, digits, '.', '_' and '-'. Any thread.
 *
 * Without a call, the environment decides, read once at the first software
 * NIC: DEVMEM_SWNIC_SHARED unset, empty or "0" is off, "1" is on in the
 * network namespace's domain, anything else is on in the domain it names
 * (a bad name makes devmem_swnic_create() fail with -EINVAL, and a
 * control-handle call that would shadow an interface with -ENODEV, each
 * with a devmem_last_error() that names the variable).
 */
int devmem_swnic_set_shared(bool shared, const char *domain);

/* What one rx queue has done (devmem_swnic_rxq_stats). */
struct devmem_swnic_rxq_stats {
	uint32_t sockets; /* sockets steered to it now */
	bool bound; /* a dma-buf is its memory provider */
	uint64_t completions; /* io_uring receive completions */
	uint64_t frags; /* fragments delivered to sockets */
	uint64_t bytes;
	uint64_t buffers_posted; /* buffers handed to the kernel */
	uint64_t starved; /* times the pool ran dry and reading stopped */
	uint64_t restarts; /* queue restarts (bind, unbind) */
	uint32_t buffers_in_ring; /* now */
};

/* 0 and *@stats; -ENODEV (no software NIC), -ERANGE (no such queue). */
int devmem_swnic_rxq_stats(int ifindex, uint32_t rxq, struct devmem_swnic_rxq_stats *stats);

#ifdef __cplusplus
}
#endif

#endif
