/* SPDX-License-Identifier: MIT */
/*
 * The kernel path's netlink layer: generic netlink sockets (libmnl) speaking
 * the netdev and ethtool families to the running kernel, and the ethtool
 * ntuple ioctls.
 *
 * A struct nl_sock is one NETLINK_GENERIC socket with extended acks, capped
 * acks and strict checking on. A dma-buf binding made through it (bind-rx,
 * bind-tx) belongs to it exactly as in the kernel: it lives until the
 * socket is closed, and closing the socket unbinds it. Whoever must keep a
 * binding (a control handle's backend) keeps the socket.
 *
 * Every function returns 0 (or a count) or the kernel's negative errno and,
 * on failure, records the kernel's extack as the thread's
 * devmem_last_error(). An nl_sock is used by one thread at a time.
 */
#ifndef DEVMEM_NETLINK_NL_H
#define DEVMEM_NETLINK_NL_H

#include <linux/ethtool.h>

#include "codec.h"

struct nl_sock;

/* Open a generic netlink socket. Returns 0 or -errno (e.g. -EPROTONOSUPPORT). */
int nl_sock_open(struct nl_sock **out);
/* Close it: the kernel releases every binding the socket made. */
void nl_sock_close(struct nl_sock *sk);
int nl_sock_fd(const struct nl_sock *sk);
/* The extended ack of the socket's last failed request, as the kernel sent it. */
const struct nlc_extack *nl_sock_last_extack(const struct nl_sock *sk);
/* What ended the socket's last exchange: NLMSG_ERROR (an ack or an error) or NLMSG_DONE. */
uint16_t nl_sock_last_end(const struct nl_sock *sk);
/* The ids of the bindings this socket made (up to @max); returns how many. */
unsigned int nl_sock_bindings(const struct nl_sock *sk, uint32_t *ids, unsigned int max);

/* CTRL_CMD_GETFAMILY by name: id, version, hdrsize, maxattr, operations, groups. */
int nl_resolve_family(struct nl_sock *sk, const char *name, struct nlc_family *fam);

/*
 * Called for every object of a reply; its attribute pointers are valid only
 * during the call. A negative return ends the walk (the rest of a dump is
 * still read off the socket) and is returned.
 */
typedef int (*nl_obj_cb)(const struct nlc_obj *o, void *arg);

/*
 * Send @len bytes of a request built elsewhere (its sequence number is
 * replaced) and read the kernel's answer to its end. Returns the kernel's
 * errno; its extack is in nl_sock_last_extack().
 */
int nl_request_raw(struct nl_sock *sk, const void *req, size_t len);

/* netdev do (dev, page-pool, page-pool-stats, queue, napi): one object into @out. */
int nl_netdev_get(struct nl_sock *sk, uint8_t cmd, const struct nlc_obj *filter,
		  struct nlc_obj *out);
/* netdev dump (also qstats): every object to @cb. Returns the count or -errno. */
int nl_netdev_dump(struct nl_sock *sk, uint8_t cmd, const struct nlc_obj *filter, nl_obj_cb cb,
		   void *arg);
/*
 * bind-rx: bind the dma-buf @fd to rx queues of @ifindex (rx_page_size 0:
 * the kernel's default, not sent). The id goes to *@id.
 */
int nl_netdev_bind_rx(struct nl_sock *sk, uint32_t ifindex, int fd,
		      const struct nlc_queue_id *queues, unsigned int nr_queues,
		      uint32_t rx_page_size, uint32_t *id);
int nl_netdev_bind_tx(struct nl_sock *sk, uint32_t ifindex, int fd, uint32_t *id);

/* ethtool get (channels, rings, rss): integer attributes into @out. */
int nl_ethtool_get(struct nl_sock *sk, uint8_t cmd, uint32_t ifindex, struct nlc_obj *out);
/* ethtool set (channels, rings): the present attributes of @o (header excluded). */
int nl_ethtool_set(struct nl_sock *sk, uint8_t cmd, uint32_t ifindex, const struct nlc_obj *o);
/* A feature by its ethtool name ("ntuple-filters", "rx-gro"): active, and changeable. */
int nl_ethtool_feature_get(struct nl_sock *sk, uint32_t ifindex, const char *name, bool *active,
			   bool *changeable);
int nl_ethtool_feature_set(struct nl_sock *sk, uint32_t ifindex, const char *name, bool on);

/* rss-get: the indirection table of context 0 into @indir (up to @max); returns its size. */
int nl_ethtool_rss_get_indir(struct nl_sock *sk, uint32_t ifindex, uint32_t *indir,
			     unsigned int max);
/* rss-set: the indirection table of context 0 (@n 0: back to the driver's default). */
int nl_ethtool_rss_set_indir(struct nl_sock *sk, uint32_t ifindex, const uint32_t *indir,
			     unsigned int n);

/*
 * ntuple rules through SIOCETHTOOL (the kernel has no netlink for them).
 * Add: @fs->location may be RX_CLS_LOC_ANY; the location used is returned.
 */
int nl_ntuple_add(uint32_t ifindex, struct ethtool_rx_flow_spec *fs);
int nl_ntuple_del(uint32_t ifindex, uint32_t location);
/* The number of rules, and the table size in *@table_size if not NULL. */
int nl_ntuple_count(uint32_t ifindex, uint32_t *table_size);
int nl_ntuple_get(uint32_t ifindex, uint32_t location, struct ethtool_rx_flow_spec *fs);
/* The locations of up to @max rules; returns how many there are. */
int nl_ntuple_list(uint32_t ifindex, uint32_t *locs, unsigned int max);

#endif
