/* SPDX-License-Identifier: MIT */
/*
 * Machine-wide claims on rx queues.
 *
 * On a kernel NIC an rx queue has one memory provider, whoever asks: a
 * second bind-rx of a bound queue fails with EEXIST, from any process. A
 * software NIC's state lives in its process, so two processes shadowing the
 * same interface would each see the queue free. A device that claims its
 * queues (net_device_config.rxq_claim_domain) makes the provider visible to
 * the whole network namespace: installing one takes a claim on (domain,
 * ifindex, queue), removing it drops the claim.
 *
 * A claim is a listening unix socket bound to the abstract name
 * "libdevmem/rxq/<ifindex>/<queue>" ("libdevmem/<domain>/rxq/..." in a named
 * domain). Abstract names belong to the network namespace, leave nothing in
 * the file system, and go when the last fd of the socket closes: when the
 * owner unbinds, closes, exits or is killed. A second bind() of the name
 * fails with EADDRINUSE; connecting to it gives the owner's pid through
 * SO_PEERCRED.
 *
 * The fds are close-on-exec, and a forked child closes its copies at once
 * (it cannot serve the parent's queues: net/owner.h), so a claim lives as
 * long as the process that made it, no longer.
 */
#ifndef DEVMEM_NET_CLAIM_H
#define DEVMEM_NET_CLAIM_H

#include <stdbool.h>

/* Longest domain name; a domain is letters, digits, '.', '_' and '-'. */
#define NETDEV_CLAIM_DOMAIN_MAX 64

struct netdev_rxq_claim;

/* 0 when @domain ("" for the network namespace's) can name claims, else -EINVAL. */
int netdev_claim_domain_check(const char *domain);

/*
 * Claim rx queue @rxq_idx of interface @ifindex in @domain for this process:
 * 0 and *@out, or -EEXIST when another process holds it, with
 * devmem_last_error() naming the kernel's reason and the holder's pid
 * ("by another process" when it cannot be seen: another pid namespace, or
 * too many refused claimants waiting in its backlog). Other errors are the
 * socket calls' (-EMFILE, -ENOMEM ...).
 */
int netdev_rxq_claim(const char *domain, int ifindex, unsigned int rxq_idx,
		     struct netdev_rxq_claim **out);

/* Drop a claim (NULL is ignored): the queue is free for every process again. */
void netdev_rxq_unclaim(struct netdev_rxq_claim *claim);

/* Claims this process holds (tests). */
long netdev_rxq_nr_claims(void);

#endif
