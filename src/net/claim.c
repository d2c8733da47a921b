// SPDX-License-Identifier: MIT
/*
 * Machine-wide rx queue claims (net/claim.h): abstract unix sockets, one per
 * claimed queue.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/error.h"
#include "lib/list.h"
#include "net/claim.h"

/*
 * Refused claimants connect to learn the owner's pid and hang up at once;
 * their half-open connections wait in the listener's backlog until the
 * claim goes, so the backlog bounds what they can cost the owner. Past it a
 * refusal says "another process".
 */
#define CLAIM_BACKLOG 64
/* bind and lookup races with an owner that lets go in between */
#define CLAIM_TRIES 3

struct netdev_rxq_claim {
	struct list_head list; /* in netdev_claims; protected by netdev_claims_lock */
	int fd; /* the bound, listening socket; -1 once a forked child closed its copy */
};

static pthread_mutex_t netdev_claims_lock = PTHREAD_MUTEX_INITIALIZER;
static LIST_HEAD(netdev_claims); /* protected by netdev_claims_lock */
static long netdev_nr_claims; /* protected by netdev_claims_lock */
static pthread_once_t netdev_claims_once = PTHREAD_ONCE_INIT;

static void netdev_claims_prepare(void)
{
	pthread_mutex_lock(&netdev_claims_lock);
}

static void netdev_claims_parent(void)
{
	pthread_mutex_unlock(&netdev_claims_lock);
}

/*
 * A forked child cannot serve its parent's queues (net/owner.h): were it to
 * keep the claims, a child outliving a killed parent would hold queues that
 * nobody serves. It lets go of its copies here, before it runs anything.
 */
static void netdev_claims_child(void)
{
	struct netdev_rxq_claim *claim, *tmp;

	list_for_each_entry_safe(claim, tmp, &netdev_claims, list) {
		close(claim->fd);
		claim->fd = -1;
		list_del_init(&claim->list);
	}
	netdev_nr_claims = 0;
	pthread_mutex_unlock(&netdev_claims_lock);
}

static void netdev_claims_register(void)
{
	pthread_atfork(netdev_claims_prepare, netdev_claims_parent, netdev_claims_child);
}

static bool netdev_claim_domain_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

int netdev_claim_domain_check(const char *domain)
{
	size_t len, i;

	if (!domain)
		return devmem_err(-EINVAL, "rx queue claims: no domain");
	len = strnlen(domain, NETDEV_CLAIM_DOMAIN_MAX + 1);
	if (len > NETDEV_CLAIM_DOMAIN_MAX)
		return devmem_err(-EINVAL, "rx queue claims: domain longer than %d bytes",
				  NETDEV_CLAIM_DOMAIN_MAX);
	for (i = 0; i < len; i++)
		if (!netdev_claim_domain_char(domain[i]))
			return devmem_err(-EINVAL,
					  "rx queue claims: domain \"%s\": byte %zu is not a "
					  "letter, digit, '.', '_' or '-'",
					  domain, i);
	return 0;
}

/* The abstract address of a claim; its length goes to *@len. */
static void netdev_claim_addr(const char *domain, int ifindex, unsigned int rxq_idx,
			      struct sockaddr_un *addr, socklen_t *len)
{
	int n;

	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	/* sun_path[0] stays 0: the abstract namespace */
	if (*domain)
		n = snprintf(addr->sun_path + 1, sizeof(addr->sun_path) - 1,
			     "libdevmem/%s/rxq/%d/%u", domain, ifindex, rxq_idx);
	else
		n = snprintf(addr->sun_path + 1, sizeof(addr->sun_path) - 1, "libdevmem/rxq/%d/%u",
			     ifindex, rxq_idx);
	/* a checked domain and two numbers always fit the 107 bytes */
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

/*
 * The pid holding the claim at @addr: > 0, 0 when it cannot be told, or
 * -ECONNREFUSED when nobody listens there (the owner let go, or has bound
 * and not yet listened).
 */
static pid_t netdev_claim_owner(const struct sockaddr_un *addr, socklen_t len)
{
	struct ucred cred = { 0 };
	socklen_t cred_len = sizeof(cred);
	pid_t pid = 0;
	int fd, err;

	/* non-blocking: a full backlog is EAGAIN, never a wait */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	if (connect(fd, (const struct sockaddr *)addr, len)) {
		err = errno;
		close(fd);
		return err == ECONNREFUSED ? -ECONNREFUSED : 0;
	}
	if (!getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len))
		pid = cred.pid;
	close(fd);
	return pid;
}

static int netdev_claim_refused(unsigned int rxq_idx, pid_t owner)
{
	/* the kernel's extack of __net_mp_open_rxq(), then who holds it */
	if (owner > 0)
		return devmem_err(
			-EEXIST,
			"rx queue %u: designated queue already memory provider bound (by process %d)",
			rxq_idx, (int)owner);
	return devmem_err(
		-EEXIST,
		"rx queue %u: designated queue already memory provider bound (by another process)",
		rxq_idx);
}

/* Bind and listen on @addr: the fd, -EADDRINUSE when it is taken, or another -errno. */
static int netdev_claim_bind(const struct sockaddr_un *addr, socklen_t len)
{
	int fd, err;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (const struct sockaddr *)addr, len) || listen(fd, CLAIM_BACKLOG)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int netdev_rxq_claim(const char *domain, int ifindex, unsigned int rxq_idx,
		     struct netdev_rxq_claim **out)
{
	struct netdev_rxq_claim *claim;
	struct sockaddr_un addr;
	pid_t owner = 0;
	socklen_t len;
	int fd = -EADDRINUSE, tries;

	if (netdev_claim_domain_check(domain))
		return -EINVAL;
	pthread_once(&netdev_claims_once, netdev_claims_register);
	claim = calloc(1, sizeof(*claim));
	if (!claim)
		return devmem_err(-ENOMEM, "rx queue %u: out of memory", rxq_idx);
	INIT_LIST_HEAD(&claim->list);
	netdev_claim_addr(domain, ifindex, rxq_idx, &addr, &len);

	for (tries = 0; tries < CLAIM_TRIES; tries++) {
		fd = netdev_claim_bind(&addr, len);
		if (fd != -EADDRINUSE)
			break;
		owner = netdev_claim_owner(&addr, len);
		if (owner != -ECONNREFUSED)
			break;
		owner = 0;
	}
	if (fd < 0) {
		free(claim);
		if (fd == -EADDRINUSE)
			return netdev_claim_refused(rxq_idx, owner);
		return devmem_err(fd, "rx queue %u: cannot claim it machine-wide: %s", rxq_idx,
				  strerror(-fd));
	}

	claim->fd = fd;
	pthread_mutex_lock(&netdev_claims_lock);
	list_add_tail(&claim->list, &netdev_claims);
	netdev_nr_claims++;
	pthread_mutex_unlock(&netdev_claims_lock);
	*out = claim;
	return 0;
}

void netdev_rxq_unclaim(struct netdev_rxq_claim *claim)
{
	if (!claim)
		return;
	pthread_mutex_lock(&netdev_claims_lock);
	if (!list_empty(&claim->list)) {
		list_del_init(&claim->list);
		netdev_nr_claims--;
	}
	pthread_mutex_unlock(&netdev_claims_lock);
	/* the last fd of the socket: the name is free for every process from here */
	if (claim->fd >= 0)
		close(claim->fd);
	free(claim);
}

long netdev_rxq_nr_claims(void)
{
	long n;

	pthread_mutex_lock(&netdev_claims_lock);
	n = netdev_nr_claims;
	pthread_mutex_unlock(&netdev_claims_lock);
	return n;
}
