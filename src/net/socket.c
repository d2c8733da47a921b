// SPDX-License-Identifier: MIT
/*
 * devmem sockets (devmem/socket.h): the receive queue of fragments a
 * driver fills, tokens, SO_DEVMEM_DONTNEED, devmem TX and its zerocopy
 * completions, after the kernel's tcp_recvmsg_dmabuf(), sock_devmem_dontneed()
 * and tcp_sendmsg_locked() with a dma-buf.
 *
 * Sockets are found by fd in a table that grows by doubling; a lookup takes
 * the table lock shared and a socket reference. Everything a socket holds is
 * protected by its own lock: no global lock on the data path.
 */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <time.h>
#include <linux/futex.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "devmem/socket.h"
#include "lib/compiler.h"
#include "lib/debug.h"
#include "lib/error.h"
#include "net/ctl-kernel.h"
#include "net/devmem.h"
#include "net/owner.h"
#include "net/page_pool.h"
#include "net/sock.h"

/*
 * The kernel's errno for a control buffer that cannot take the first cmsg
 * (put_cmsg_notrunc()): ETOOSMALL, 525, which libc has no name for (524 is
 * ENOTSUPP).
 */
#define DEVMEM_ETOOSMALL 525

#define SK_PUT_BATCH 64 /* netmems given back to a pool per bulk put */

static long sk_nr_live; /* atomic */

/* ---- the fd table ---- */

/*
 * A socket is found by the fd number it is used through, and, for a
 * number the table does not know yet, by its inode: dup() names a socket
 * with a second number, and both reach the same fragments and tokens, as
 * they reach the same kernel socket.
 */
#define SK_INO_BUCKETS 256

static pthread_rwlock_t sk_table_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct devmem_sock **sk_table; /* by fd; protected by sk_table_lock */
static unsigned int sk_table_size;
static struct devmem_sock *sk_ino_hash[SK_INO_BUCKETS]; /* protected by sk_table_lock */

static inline unsigned int sk_ino_bucket(unsigned long ino)
{
	return (unsigned int)((ino * 0x9e3779b97f4a7c15ULL) >> 56) % SK_INO_BUCKETS;
}

long devmem_sock_nr_live(void)
{
	return __atomic_load_n(&sk_nr_live, __ATOMIC_RELAXED);
}

void sk_hold(struct devmem_sock *sk)
{
	__atomic_fetch_add(&sk->ref, 1, __ATOMIC_RELAXED);
}

static void sk_free(struct devmem_sock *sk)
{
	DEVMEM_BUG_ON(sk->rxq_tail != sk->rxq_head);
	DEVMEM_BUG_ON(sk->stats.tokens_held);
	if (sk->rx_fd >= 0)
		close(sk->rx_fd);
	if (sk->dev)
		netdev_put(sk->dev);
	free(sk->rxq);
	free(sk->tokens);
	free(sk->token_free);
	pthread_cond_destroy(&sk->wait);
	pthread_mutex_destroy(&sk->lock);
	free(sk);
	__atomic_fetch_sub(&sk_nr_live, 1, __ATOMIC_RELAXED);
}

void sk_put(struct devmem_sock *sk)
{
	if (__atomic_sub_fetch(&sk->ref, 1, __ATOMIC_ACQ_REL) == 0)
		sk_free(sk);
}

/* The socket of @fd with a reference, or NULL. */
static struct devmem_sock *sk_lookup(int fd)
{
	struct devmem_sock *sk = NULL;

	pthread_rwlock_rdlock(&sk_table_lock);
	if (fd >= 0 && (unsigned int)fd < sk_table_size) {
		sk = sk_table[fd];
		if (sk)
			sk_hold(sk);
	}
	pthread_rwlock_unlock(&sk_table_lock);
	return sk;
}

/* Room in the table for @fd (table lock held for writing): 0 or -ENOMEM. */
static int sk_table_grow(unsigned int fd)
{
	unsigned int size = sk_table_size ? sk_table_size : 64;
	struct devmem_sock **table;

	if (fd < sk_table_size)
		return 0;
	while (size <= fd)
		size *= 2;
	table = realloc(sk_table, size * sizeof(*table));
	if (!table)
		return -ENOMEM;
	memset(table + sk_table_size, 0, (size - sk_table_size) * sizeof(*table));
	sk_table = table;
	sk_table_size = size;
	return 0;
}

/* Put @sk in the table at its fd: -EEXIST when another thread did first, -ENOMEM. */
static int sk_table_insert(struct devmem_sock *sk)
{
	unsigned int fd = (unsigned int)sk->fd, b = sk_ino_bucket(sk->ino);
	int err;

	pthread_rwlock_wrlock(&sk_table_lock);
	err = sk_table_grow(fd);
	if (!err && sk_table[fd])
		err = -EEXIST;
	if (!err) {
		sk_table[fd] = sk;
		sk->nr_fds = 1;
		sk->ino_next = sk_ino_hash[b];
		sk_ino_hash[b] = sk;
	}
	pthread_rwlock_unlock(&sk_table_lock);
	return err;
}

/*
 * fd @fd names a socket the table knows by inode @ino (a dup() of it):
 * enter it under @fd too and return it with a reference, or NULL.
 */
static struct devmem_sock *sk_table_alias(int fd, unsigned long ino)
{
	struct devmem_sock *sk;

	pthread_rwlock_wrlock(&sk_table_lock);
	for (sk = sk_ino_hash[sk_ino_bucket(ino)]; sk; sk = sk->ino_next)
		if (sk->ino == ino)
			break;
	if (sk && (sk_table_grow((unsigned int)fd) || sk_table[fd]))
		sk = NULL;
	if (sk) {
		sk_table[fd] = sk;
		sk->nr_fds++;
		sk_hold(sk);
	}
	pthread_rwlock_unlock(&sk_table_lock);
	return sk;
}

enum sk_unlink { SK_UNLINK_NONE, SK_UNLINK_FD, SK_UNLINK_LAST };

/*
 * Take fd @fd of @sk out of the table: SK_UNLINK_LAST when it was the last
 * number naming the socket (the table's reference is then the caller's to
 * drop), SK_UNLINK_NONE when @fd no longer named it.
 */
static enum sk_unlink sk_table_unlink(struct devmem_sock *sk, int fd)
{
	enum sk_unlink ret = SK_UNLINK_NONE;
	struct devmem_sock **pp;

	pthread_rwlock_wrlock(&sk_table_lock);
	if (fd >= 0 && (unsigned int)fd < sk_table_size && sk_table[fd] == sk) {
		sk_table[fd] = NULL;
		ret = SK_UNLINK_FD;
		if (!--sk->nr_fds) {
			for (pp = &sk_ino_hash[sk_ino_bucket(sk->ino)]; *pp;
			     pp = &(*pp)->ino_next) {
				if (*pp == sk) {
					*pp = sk->ino_next;
					break;
				}
			}
			ret = SK_UNLINK_LAST;
		}
	}
	pthread_rwlock_unlock(&sk_table_lock);
	return ret;
}

/* ---- giving netmems back ---- */

/*
 * Netmems on their way back to their pools, batched per pool (the
 * fragments of one socket all come from one queue, whose data pool changes
 * only at a restart).
 */
struct sk_putter {
	struct devmem_sock *sk;
	struct page_pool *pool;
	unsigned int n;
	netmem_ref batch[SK_PUT_BATCH];
};

static void sk_putter_flush(struct sk_putter *p)
{
	if (!p->n)
		return;
	page_pool_put_netmem_bulk(p->pool, p->batch, p->n);
	p->n = 0;
}

/* Drop one pool reference on @netmem (whose user reference, if any, is already gone). */
static void sk_putter_add(struct sk_putter *p, netmem_ref netmem)
{
	struct page_pool *pool = netmem_get_pp(netmem);

	if (p->n && (pool != p->pool || p->n == SK_PUT_BATCH))
		sk_putter_flush(p);
	p->pool = pool;
	p->batch[p->n++] = netmem;
}

/* Flush, and tell the queue's driver memory came back. */
static void sk_putter_done(struct sk_putter *p)
{
	struct devmem_sock *sk = p->sk;
	bool any = p->n != 0;

	sk_putter_flush(p);
	if (any && sk->dev && sk->dev->sock_ops && sk->dev->sock_ops->rxq_returned)
		sk->dev->sock_ops->rxq_returned(sk->dev, sk->rxq_idx);
}

/* ---- the receive queue (driver side) ---- */

/*
 * Wake the readers blocked in devmem_recvmsg() (sk->lock held). They sleep
 * on the rx_seq futex rather than on a condition variable so that a signal
 * interrupts them as it interrupts a reader blocked in the kernel.
 */
static void sk_wake_readers(struct devmem_sock *sk)
{
	__atomic_store_n(&sk->rx_seq, sk->rx_seq + 1, __ATOMIC_RELEASE);
	if (sk->readers)
		syscall(SYS_futex, &sk->rx_seq, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Unread bytes at which the queue stops reading @sk (sk_set_rx_limit()). */
static inline uint64_t sk_rx_limit(const struct devmem_sock *sk)
{
	uint64_t limit = __atomic_load_n(&sk->rx_limit, __ATOMIC_RELAXED);

	return limit ? limit : DEVMEM_SOCK_RCVBUF;
}

static inline uint32_t sk_rxq_len(const struct devmem_sock *sk)
{
	return sk->rxq_tail - sk->rxq_head;
}

/* Room for @n more fragments (sk->lock held): false when out of memory. */
static bool sk_rxq_reserve(struct devmem_sock *sk, uint32_t n)
{
	uint32_t len = sk_rxq_len(sk), size = sk->rxq_size ? sk->rxq_size : 256;
	struct devmem_frag *ring;

	if (len + n <= sk->rxq_size)
		return true;
	while (size < len + n)
		size *= 2;
	ring = malloc(size * sizeof(*ring));
	if (!ring)
		return false;
	for (uint32_t i = 0; i < len; i++)
		ring[i] = sk->rxq[(sk->rxq_head + i) & (sk->rxq_size - 1)];
	free(sk->rxq);
	sk->rxq = ring;
	sk->rxq_size = size;
	sk->rxq_head = 0;
	sk->rxq_tail = len;
	return true;
}

bool sk_deliver(struct devmem_sock *sk, const struct devmem_frag *frags, unsigned int n)
{
	struct sk_putter put = { .sk = sk };
	bool full;

	pthread_mutex_lock(&sk->lock);
	if (likely(!sk->closing && sk_rxq_reserve(sk, n))) {
		for (unsigned int i = 0; i < n; i++) {
			sk->rxq[(sk->rxq_tail + i) & (sk->rxq_size - 1)] = frags[i];
			sk->rxq_bytes += frags[i].len;
		}
		full = sk->rxq_bytes >= sk_rx_limit(sk);
		if (full)
			__atomic_store_n(&sk->rx_throttled, true, __ATOMIC_RELAXED);
		sk->rxq_tail += n;
		sk_wake_readers(sk);
		pthread_mutex_unlock(&sk->lock);
		return full;
	}
	if (!sk->closing && !sk->rx_err) {
		/* no memory for the queue: the stream cannot go on without a hole */
		sk->rx_err = ENOMEM;
		sk_wake_readers(sk);
	}
	pthread_mutex_unlock(&sk->lock);
	for (unsigned int i = 0; i < n; i++)
		sk_putter_add(&put, frags[i].netmem);
	sk_putter_done(&put);
	return true;
}

void sk_set_eof(struct devmem_sock *sk, int err)
{
	pthread_mutex_lock(&sk->lock);
	if (err && !sk->rx_err)
		sk->rx_err = err;
	else if (!err)
		sk->rx_eof = true;
	sk_wake_readers(sk);
	pthread_mutex_unlock(&sk->lock);
}

void sk_orphan(struct devmem_sock *sk)
{
	pthread_mutex_lock(&sk->lock);
	sk->detached = true;
	sk_wake_readers(sk);
	pthread_mutex_unlock(&sk->lock);
	sk_put(sk);
}

/* ---- tokens ---- */

/* The highest token: xa_limit_31b's INT_MAX (tests lower it to fill the space). */
static uint32_t sk_token_max = INT_MAX; /* atomic */

void sk_set_token_max(uint32_t max)
{
	__atomic_store_n(&sk_token_max, max ? max : INT_MAX, __ATOMIC_RELAXED);
}

/*
 * A free token (sk->lock held), growing the table: 0, -EBUSY when every
 * token up to the limit is held (xa_alloc()'s answer, which
 * tcp_recvmsg_dmabuf() passes on), or -ENOMEM.
 */
static int sk_token_alloc(struct devmem_sock *sk, netmem_ref netmem, uint32_t *token)
{
	uint32_t words = sk->nr_tokens / 64, max = __atomic_load_n(&sk_token_max, __ATOMIC_RELAXED);

	for (uint32_t w = sk->token_hint / 64; w < words; w++) {
		uint64_t free_bits = sk->token_free[w];

		if (w == sk->token_hint / 64)
			free_bits &= ~0ULL << (sk->token_hint % 64);
		if (free_bits) {
			uint32_t t = w * 64 + (uint32_t)__builtin_ctzll(free_bits);

			if (t > max)
				return -EBUSY;
			sk->token_free[w] &= ~(1ULL << (t % 64));
			sk->tokens[t] = netmem;
			sk->token_hint = t + 1;
			*token = t;
			return 0;
		}
	}
	/*
	 * All taken: double the table. As the kernel's sk_user_frags xarray
	 * (XA_FLAGS_ALLOC1, xa_limit_31b), tokens run from 1 to INT_MAX: token
	 * 0 is never given.
	 */
	{
		uint32_t size = sk->nr_tokens ? sk->nr_tokens * 2 : 1024;
		netmem_ref *tokens;
		uint64_t *free_map;

		if (sk->nr_tokens && sk->nr_tokens - 1 >= max)
			return -EBUSY;
		tokens = realloc(sk->tokens, size * sizeof(*tokens));
		if (!tokens)
			return -ENOMEM;
		sk->tokens = tokens;
		free_map = realloc(sk->token_free, size / 64 * sizeof(*free_map));
		if (!free_map)
			return -ENOMEM;
		sk->token_free = free_map;
		memset(tokens + sk->nr_tokens, 0, (size - sk->nr_tokens) * sizeof(*tokens));
		memset(free_map + words, 0xff, (size / 64 - words) * sizeof(*free_map));
		sk->token_hint = sk->nr_tokens;
		if (!sk->nr_tokens) {
			free_map[0] &= ~1ULL;
			sk->token_hint = 1;
		}
		sk->nr_tokens = size;
	}
	return sk_token_alloc(sk, netmem, token);
}

/* Take token @t back (sk->lock held): its netmem, or 0 when @t is not held. */
static inline netmem_ref sk_token_free(struct devmem_sock *sk, uint32_t t)
{
	netmem_ref netmem;

	if (t >= sk->nr_tokens)
		return 0;
	netmem = sk->tokens[t];
	if (!netmem)
		return 0;
	sk->tokens[t] = 0;
	sk->token_free[t / 64] |= 1ULL << (t % 64);
	if (t < sk->token_hint)
		sk->token_hint = t;
	return netmem;
}

/* A user reference on a net_iov: given with a token, dropped with it. */
static inline void net_iov_user_get(netmem_ref netmem)
{
	__atomic_fetch_add(&netmem_to_net_iov(netmem)->user_refs, 1, __ATOMIC_RELAXED);
}

static inline void net_iov_user_put(netmem_ref netmem)
{
	int old = __atomic_fetch_sub(&netmem_to_net_iov(netmem)->user_refs, 1, __ATOMIC_RELAXED);

	DEVMEM_BUG_ON(old <= 0);
	(void)old;
}

/* ---- creating and attaching ---- */

static int sk_create(int fd, const struct stat *st, struct devmem_sock **out)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct devmem_sock *sk;
	int type;
	socklen_t tlen = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen))
		return devmem_err(-errno, "fd %d: %s", fd,
				  errno == ENOTSOCK ? "not a socket" : "not open");
	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return -errno;
	if (type != SOCK_STREAM || (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
		return devmem_err(-EOPNOTSUPP, "fd %d: not a TCP socket", fd);

	sk = calloc(1, sizeof(*sk));
	if (!sk)
		return -ENOMEM;
	net_owner_claim();
	sk->fd = fd;
	sk->rx_fd = -1;
	sk->ino = st->st_ino;
	sk->family = ss.ss_family;
	sk->ref = 1; /* the table's */
	pthread_mutex_init(&sk->lock, NULL);
	pthread_cond_init(&sk->wait, NULL);
	sk->detached = true; /* until a driver takes it */
	__atomic_fetch_add(&sk_nr_live, 1, __ATOMIC_RELAXED);
	*out = sk;
	return 0;
}

/*
 * An IPv6 socket's v4-mapped address (::ffff:a.b.c.d) is IPv4 on the wire:
 * the NIC sees IPv4 packets, its tcp4 flow rules match them, and the address
 * is the interface's IPv4 one. Rewrite @ss to the sockaddr_in it stands for.
 */
static void sk_unmap_v4(struct sockaddr_storage *ss)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
	struct sockaddr_in s4 = { .sin_family = AF_INET };

	if (ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return;
	s4.sin_port = s6->sin6_port;
	memcpy(&s4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &s4, sizeof(s4));
}

/* The kernel interface holding local address @sa, or 0. */
static int sk_local_ifindex(const struct sockaddr *in)
{
	struct sockaddr_storage ss = { 0 };
	const struct sockaddr *sa = (const struct sockaddr *)&ss;
	struct ifaddrs *ifa_list, *ifa;
	int ifindex = 0;

	memcpy(&ss, in,
	       in->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
					   sizeof(struct sockaddr_in));
	sk_unmap_v4(&ss);

	if (sa->sa_family == AF_INET &&
	    (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127)
		return (int)if_nametoindex("lo");
	if (sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr))
		return (int)if_nametoindex("lo");
	if (getifaddrs(&ifa_list))
		return 0;
	for (ifa = ifa_list; ifa && !ifindex; ifa = ifa->ifa_next) {
		const struct sockaddr *a = ifa->ifa_addr;

		if (!a || a->sa_family != sa->sa_family)
			continue;
		if ((a->sa_family == AF_INET &&
		     ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
			     ((const struct sockaddr_in *)sa)->sin_addr.s_addr) ||
		    (a->sa_family == AF_INET6 &&
		     !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			     &((const struct sockaddr_in6 *)sa)->sin6_addr, 16)))
			ifindex = (int)if_nametoindex(ifa->ifa_name);
	}
	freeifaddrs(ifa_list);
	return ifindex;
}

/*
 * The kernel interface owning the socket's local address, or 0: looked up
 * once (a connected socket's address does not change), not on every send.
 */
static int sk_ifindex(struct devmem_sock *sk)
{
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	int ifindex = __atomic_load_n(&sk->local_ifindex, __ATOMIC_RELAXED);

	if (ifindex)
		return ifindex;
	if (getsockname(sk->fd, (struct sockaddr *)&local, &len))
		return 0;
	ifindex = sk_local_ifindex((struct sockaddr *)&local);
	if (ifindex)
		__atomic_store_n(&sk->local_ifindex, ifindex, __ATOMIC_RELAXED);
	return ifindex;
}

/*
 * Whether @fd is the kernel's to answer: its local address is on an
 * interface where a kernel-backend control handle of this process holds a
 * binding. Its devmem data then arrives from the NIC itself, and recvmsg,
 * SO_DEVMEM_DONTNEED and sendmsg must be the real system calls, with
 * MSG_SOCK_DEVMEM, the tokens and the tx binding id all the kernel's.
 * Costs nothing while no kernel binding exists.
 */
static bool sk_fd_on_kernel_path(int fd)
{
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);

	if (!ctl_kernel_any())
		return false;
	if (getsockname(fd, (struct sockaddr *)&local, &len))
		return false;
	return ctl_kernel_owns_ifindex(sk_local_ifindex((struct sockaddr *)&local));
}

/* The flow as the NIC sees it: from the peer (src) to us (dst). */
static int sk_flow_key(int fd, struct netdev_flow_key *key)
{
	struct sockaddr_storage local, peer;
	socklen_t llen = sizeof(local), plen = sizeof(peer);

	if (getsockname(fd, (struct sockaddr *)&local, &llen))
		return -errno;
	if (getpeername(fd, (struct sockaddr *)&peer, &plen))
		return devmem_err(-EOPNOTSUPP, "fd %d: not a connected socket", fd);
	sk_unmap_v4(&local);
	sk_unmap_v4(&peer);
	memset(key, 0, sizeof(*key));
	key->family = local.ss_family;
	if (local.ss_family == AF_INET) {
		const struct sockaddr_in *l = (void *)&local, *p = (void *)&peer;

		memcpy(key->dst_addr, &l->sin_addr, 4);
		memcpy(key->src_addr, &p->sin_addr, 4);
		key->dst_port = l->sin_port;
		key->src_port = p->sin_port;
	} else {
		const struct sockaddr_in6 *l = (void *)&local, *p = (void *)&peer;

		memcpy(key->dst_addr, &l->sin6_addr, 16);
		memcpy(key->src_addr, &p->sin6_addr, 16);
		key->dst_port = l->sin6_port;
		key->src_port = p->sin6_port;
	}
	return 0;
}

/* The RSS hash of a flow: any stable mix of the 4-tuple spreads flows over the table. */
static uint32_t sk_flow_hash(const struct netdev_flow_key *key)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL;
	const uint8_t *parts[2] = { key->src_addr, key->dst_addr };

	for (int p = 0; p < 2; p++)
		for (int i = 0; i < 16; i++)
			h = (h ^ parts[p][i]) * 0x100000001b3ULL;
	h = (h ^ key->src_port) * 0x100000001b3ULL;
	h = (h ^ key->dst_port) * 0x100000001b3ULL;
	return (uint32_t)(h ^ (h >> 32));
}

/*
 * Steer @sk to its device's rx queue and hand it to the driver. 0 (attached,
 * or a plain socket when no software NIC owns its address: -ENODEV is then
 * returned too, for devmem_sock_attach()), or a negative errno.
 */
static int sk_attach(struct devmem_sock *sk, int fd)
{
	struct netdev_flow_key key;
	struct net_device *dev;
	unsigned int rxq;
	int err, ifindex;

	err = sk_flow_key(fd, &key);
	if (err)
		return err;
	ifindex = sk_ifindex(sk);
	dev = ifindex > 0 ? netdev_get_by_index(ifindex) : NULL;
	if (!dev || !dev->sock_ops) {
		if (dev)
			netdev_put(dev);
		return devmem_err(-ENODEV, "fd %d: no software NIC owns its local address", sk->fd);
	}
	rxq = netdev_steer_flow(dev, &key, sk_flow_hash(&key));
	/* the driver reads through an fd of its own: the user's number may go to another socket */
	sk->rx_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (sk->rx_fd < 0) {
		err = -errno;
		netdev_put(dev);
		return err;
	}
	/* the socket's reference; published before the driver sees the socket */
	__atomic_store_n(&sk->dev, dev, __ATOMIC_RELEASE);
	sk->rxq_idx = rxq;
	pthread_mutex_lock(&sk->lock);
	sk->detached = false;
	pthread_mutex_unlock(&sk->lock);
	err = dev->sock_ops->attach(dev, rxq, sk);
	if (err) {
		pthread_mutex_lock(&sk->lock);
		sk->detached = true;
		pthread_mutex_unlock(&sk->lock);
		__atomic_store_n(&sk->dev, NULL, __ATOMIC_RELEASE);
		netdev_put(dev);
		close(sk->rx_fd);
		sk->rx_fd = -1;
		return err;
	}
	return 0;
}

/*
 * The socket is gone from every fd number (devmem_close() of its last one,
 * or its numbers were closed plainly and taken by other sockets): stop its
 * driver, give back every fragment and token, and drop the table's
 * reference.
 */
static void sk_release(struct devmem_sock *sk)
{
	struct sk_putter put = { .sk = sk };

	pthread_mutex_lock(&sk->lock);
	sk->closing = true;
	pthread_mutex_unlock(&sk->lock);
	/* the driver stops reading before the socket's last fd goes */
	if (sk->dev && sk->dev->sock_ops)
		sk->dev->sock_ops->detach(sk->dev, sk);

	pthread_mutex_lock(&sk->lock);
	sk->detached = true;
	while (sk_rxq_len(sk)) {
		sk_putter_add(&put, sk->rxq[sk->rxq_head & (sk->rxq_size - 1)].netmem);
		sk->rxq_head++;
	}
	sk->rxq_bytes = 0;
	for (uint32_t t = 0; t < sk->nr_tokens; t++) {
		netmem_ref netmem = sk_token_free(sk, t);

		if (netmem) {
			net_iov_user_put(netmem);
			sk_putter_add(&put, netmem);
			sk->stats.tokens_held--;
		}
	}
	sk_wake_readers(sk);
	pthread_cond_broadcast(&sk->wait);
	pthread_mutex_unlock(&sk->lock);
	sk_putter_done(&put);
	sk_put(sk); /* the table's */
}

/* fd @fd no longer names @sk (closed, or now another socket's): the socket goes with its last. */
static void sk_drop_fd(struct devmem_sock *sk, int fd)
{
	if (sk_table_unlink(sk, fd) == SK_UNLINK_LAST)
		sk_release(sk);
}

/* Drop @sk's entry for @fd if it is still there (it holds no fragment or token). */
static void sk_forget(struct devmem_sock *sk, int fd)
{
	sk_drop_fd(sk, fd);
}

/*
 * The socket open at @fd, with a reference, if the table knows it (under
 * this number, or under another one of the same socket), else NULL. The
 * entry of a socket whose number was closed plainly and reused by another
 * is dropped: the new socket never sees the old one's data or tokens.
 */
static struct devmem_sock *sk_find(int fd, const struct stat *st)
{
	struct devmem_sock *sk = sk_lookup(fd);

	if (sk && sk->ino == st->st_ino)
		return sk;
	if (sk) {
		sk_drop_fd(sk, fd);
		sk_put(sk);
	}
	return sk_table_alias(fd, st->st_ino);
}

/* The socket of @fd with a reference, made on first use (not joined to a queue). */
static int sk_get(int fd, struct devmem_sock **out)
{
	struct devmem_sock *sk;
	struct stat st;
	int err;

	if (fstat(fd, &st))
		return -errno;
	sk = sk_find(fd, &st);
	if (sk) {
		*out = sk;
		return 0;
	}
	err = sk_create(fd, &st, &sk);
	if (err)
		return err;
	err = sk_table_insert(sk);
	if (err) {
		sk_put(sk);
		if (err != -EEXIST)
			return err;
		/* another thread made it first */
		sk = sk_lookup(fd);
		if (!sk)
			return -EBADF;
		*out = sk;
		return 0;
	}
	sk_hold(sk); /* the caller's */
	*out = sk;
	return 0;
}

/*
 * Join @sk to its rx queue the first time it receives (a socket that only
 * sends is never read by a queue, so its plain reads see everything). Other
 * threads receiving meanwhile wait for the outcome. Returns what the attach
 * said: 0, or a negative errno after which the socket is read plainly.
 */
static int sk_rx_prepare(struct devmem_sock *sk, int fd)
{
	int err;

	pthread_mutex_lock(&sk->lock);
	while (sk->rx_state == SK_RX_ATTACHING)
		pthread_cond_wait(&sk->wait, &sk->lock);
	if (sk->rx_state == SK_RX_DONE) {
		err = sk->attach_err;
		pthread_mutex_unlock(&sk->lock);
		return err;
	}
	sk->rx_state = SK_RX_ATTACHING;
	pthread_mutex_unlock(&sk->lock);

	err = sk_attach(sk, fd);

	pthread_mutex_lock(&sk->lock);
	sk->attach_err = err;
	/* no NIC owns the address: read plainly for good; otherwise (not connected yet) retry */
	sk->rx_state = !err || err == -ENODEV ? SK_RX_DONE : SK_RX_NONE;
	pthread_cond_broadcast(&sk->wait);
	pthread_mutex_unlock(&sk->lock);
	return err;
}

static bool sk_has_tx_state(struct devmem_sock *sk)
{
	bool tx;

	pthread_mutex_lock(&sk->lock);
	tx = sk->stats.tx_sends != 0;
	pthread_mutex_unlock(&sk->lock);
	return tx;
}

/*
 * A call with a system call's signature made in a forked child (net/owner.h):
 * -1 and EIO, before the socket table (whose lock may be copied held) is read.
 */
static int sk_refuse_in_child(const char *call)
{
	errno = -net_owner_refuse(call);
	return -1;
}

int devmem_sock_attach(int fd)
{
	struct devmem_sock *sk;
	int err;

	devmem_clear_error(); /* a reason read after this call is this call's */
	if (net_owner_in_child())
		return net_owner_refuse("devmem_sock_attach");
	err = sk_get(fd, &sk);
	if (err)
		return err;
	err = sk_rx_prepare(sk, fd);
	if (!err)
		err = (int)sk->rxq_idx;
	else if (err != -ENODEV && !sk_has_tx_state(sk))
		sk_forget(sk, fd); /* refused: leave nothing behind for the fd */
	sk_put(sk);
	return err;
}

/* ---- copying to and from the caller's memory ---- */

/*
 * The kernel copies to and from user memory with accesses that fail with
 * EFAULT on a bad address; a memcpy() here would kill the process
 * instead. process_vm_writev() and process_vm_readv() on our own pid are
 * such accesses. Where the kernel refuses them (a seccomp filter), the
 * copies are plain ones.
 */
static bool sk_vm_copy_refused; /* atomic */

static void sk_pid_forget(void);

static void sk_pid_register_atfork(void)
{
	pthread_atfork(NULL, NULL, sk_pid_forget);
}

/*
 * Our pid, for those calls: getpid() is a system call of its own. A forked
 * child starts without it (and, once the process has net state, never gets
 * here: net/owner.h).
 */
static pid_t sk_pid; /* atomic; 0: not read yet */

static void sk_pid_forget(void)
{
	__atomic_store_n(&sk_pid, 0, __ATOMIC_RELAXED);
}

static pid_t sk_self(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pid_t pid = __atomic_load_n(&sk_pid, __ATOMIC_RELAXED);

	if (likely(pid))
		return pid;
	pthread_once(&once, sk_pid_register_atfork);
	pid = getpid();
	__atomic_store_n(&sk_pid, pid, __ATOMIC_RELAXED);
	return pid;
}

static bool sk_vm_copy_usable(ssize_t ret)
{
	if (ret >= 0 || (errno != ENOSYS && errno != EPERM))
		return true;
	__atomic_store_n(&sk_vm_copy_refused, true, __ATOMIC_RELAXED);
	return false;
}

/* Copy @local to @remote (the caller's memory): the bytes copied, or -1 and errno EFAULT. */
static ssize_t sk_copy_to_user(const struct iovec *local, unsigned long nl,
			       const struct iovec *remote, unsigned long nr)
{
	size_t done = 0, li = 0, loff = 0;
	ssize_t ret;

	if (!__atomic_load_n(&sk_vm_copy_refused, __ATOMIC_RELAXED)) {
		ret = process_vm_writev(sk_self(), local, nl, remote, nr, 0);
		if (sk_vm_copy_usable(ret))
			return ret;
	}
	for (unsigned long ri = 0; ri < nr; ri++) {
		size_t roff = 0;

		while (roff < remote[ri].iov_len && li < nl) {
			size_t n = remote[ri].iov_len - roff;

			if (n > local[li].iov_len - loff)
				n = local[li].iov_len - loff;
			memcpy((char *)remote[ri].iov_base + roff,
			       (char *)local[li].iov_base + loff, n);
			roff += n;
			loff += n;
			done += n;
			if (loff == local[li].iov_len) {
				li++;
				loff = 0;
			}
		}
	}
	return (ssize_t)done;
}

/*
 * Whether the caller can take output at [@p, @p + @len): its bytes are read
 * and written back as they were (the kernel's put_cmsg() would fault there).
 */
static bool sk_user_writable(void *p, size_t len)
{
	char stash[4096];

	if (__atomic_load_n(&sk_vm_copy_refused, __ATOMIC_RELAXED))
		return p != NULL;
	for (size_t off = 0; off < len; off += sizeof(stash)) {
		size_t n = len - off < sizeof(stash) ? len - off : sizeof(stash);
		struct iovec local = { stash, n }, remote = { (char *)p + off, n };

		if (process_vm_readv(sk_self(), &local, 1, &remote, 1, 0) != (ssize_t)n ||
		    process_vm_writev(sk_self(), &local, 1, &remote, 1, 0) != (ssize_t)n)
			return false;
	}
	return true;
}

/* Copy @len bytes of the caller's memory at @src: 0, or -EFAULT. */
static int sk_copy_from_user(void *dst, const void *src, size_t len)
{
	struct iovec local = { dst, len }, remote = { (void *)src, len };
	ssize_t ret;

	if (!__atomic_load_n(&sk_vm_copy_refused, __ATOMIC_RELAXED)) {
		ret = process_vm_readv(sk_self(), &local, 1, &remote, 1, 0);
		if (sk_vm_copy_usable(ret))
			return ret == (ssize_t)len ? 0 : -EFAULT;
	}
	if (len && !src)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

/* ---- receive ---- */

/* Bytes the iovec can take. */
static size_t msg_iov_len(const struct msghdr *msg)
{
	size_t len = 0;

	for (size_t i = 0; i < msg->msg_iovlen; i++)
		len += msg->msg_iov[i].iov_len;
	return len;
}

/* Where the next cmsg goes in @msg, as the kernel's put_cmsg() fills it. */
struct cmsg_writer {
	struct msghdr *msg;
	size_t used;
	bool checked; /* the control buffer was found writable */
};

static bool cmsg_fits(const struct cmsg_writer *w, size_t len)
{
	return w->msg->msg_control && w->used + CMSG_LEN(len) <= w->msg->msg_controllen;
}

/* Append a cmsg: false (nothing written) when it does not fit. */
static bool cmsg_put(struct cmsg_writer *w, int level, int type, const void *data, size_t len)
{
	struct msghdr *msg = w->msg;
	struct cmsghdr *cm;

	if (!cmsg_fits(w, len))
		return false;
	cm = (struct cmsghdr *)((char *)msg->msg_control + w->used);
	cm->cmsg_level = level;
	cm->cmsg_type = type;
	cm->cmsg_len = CMSG_LEN(len);
	memcpy(CMSG_DATA(cm), data, len);
	w->used += CMSG_SPACE(len);
	if (w->used > msg->msg_controllen)
		w->used = msg->msg_controllen;
	return true;
}

/*
 * Where a call reads the queue: fragment @idx after the head, @off bytes
 * into it. A call that consumes always reads at the head (it takes what it
 * reads); MSG_PEEK walks on without taking anything.
 */
struct sk_cursor {
	uint32_t idx;
	uint32_t off;
};

static inline struct devmem_frag *sk_cursor_frag(struct devmem_sock *sk, const struct sk_cursor *c)
{
	if (c->idx >= sk_rxq_len(sk))
		return NULL;
	return &sk->rxq[(sk->rxq_head + c->idx) & (sk->rxq_size - 1)];
}

/* @n bytes of the cursor's fragment @f were read (sk->lock held): take them, or walk past. */
static void sk_cursor_eat(struct devmem_sock *sk, struct sk_cursor *c, struct devmem_frag *f,
			  uint32_t n, bool peek, struct sk_putter *put)
{
	if (peek) {
		c->off += n;
		if (c->off == f->len) {
			c->idx++;
			c->off = 0;
		}
		return;
	}
	f->off += n;
	f->len -= n;
	sk->rxq_bytes -= n;
	if (!f->len) {
		if (put)
			sk_putter_add(put, f->netmem);
		sk->rxq_head++;
	}
}

#define SK_COPY_BATCH 64 /* fragments per copy into the iovec */

/*
 * Copy host-memory fragments from the cursor into the iovec, from byte @pos
 * of it, at most @len bytes (sk->lock held): the bytes copied, or -EFAULT
 * when the iovec takes none. *@stop when the iovec faulted part way.
 */
static ssize_t sk_recv_linear(struct devmem_sock *sk, struct msghdr *msg, size_t pos,
			      struct sk_cursor *c, size_t len, bool peek, struct sk_putter *put,
			      bool *stop)
{
	struct iovec local[SK_COPY_BATCH], remote[SK_COPY_BATCH];
	struct sk_cursor at = *c;
	unsigned long nl = 0, nr = 0;
	size_t want = 0, room, left;
	struct devmem_frag *f;
	ssize_t n;

	while (nl < SK_COPY_BATCH && want < len && (f = sk_cursor_frag(sk, &at)) &&
	       !netmem_is_net_iov(f->netmem)) {
		size_t take = f->len - at.off;

		if (take > len - want)
			take = len - want;
		local[nl++] =
			(struct iovec){ (char *)netmem_address(f->netmem) + f->off + at.off, take };
		want += take;
		at.idx++;
		at.off = 0;
	}
	room = want;
	for (size_t i = 0, skip = pos; i < msg->msg_iovlen && room && nr < SK_COPY_BATCH; i++) {
		const struct iovec *v = &msg->msg_iov[i];

		if (skip >= v->iov_len) {
			skip -= v->iov_len;
			continue;
		}
		remote[nr] = (struct iovec){ (char *)v->iov_base + skip, v->iov_len - skip };
		if (remote[nr].iov_len > room)
			remote[nr].iov_len = room;
		room -= remote[nr++].iov_len;
		skip = 0;
	}
	n = sk_copy_to_user(local, nl, remote, nr);
	if (n <= 0) {
		*stop = true;
		return devmem_err(-EFAULT, "fd %d: the iovec cannot take the data", sk->fd);
	}
	/* short of what the iovec entries offered: the iovec faulted part way */
	if ((size_t)n < want - room)
		*stop = true;
	for (left = (size_t)n; left;) {
		uint32_t m;

		f = sk_cursor_frag(sk, c);
		m = f->len - c->off < left ? f->len - c->off : (uint32_t)left;
		sk_cursor_eat(sk, c, f, m, peek, put);
		left -= m;
	}
	if (!peek)
		sk->stats.bytes_linear += (uint64_t)n;
	return n;
}

/*
 * Hand net_iov fragments from the cursor to the user as tokens (sk->lock
 * held), one SCM_DEVMEM_DMABUF cmsg each, up to @len bytes: the bytes
 * reported, or a negative errno when not even the first could be
 * (-DEVMEM_ETOOSMALL, -ENOMEM). *@stop when the control buffer (or the
 * token space) ran out. As the kernel's tcp_recvmsg_dmabuf(), a peek
 * gives tokens too: each one holds its fragment until it comes back.
 */
static ssize_t sk_recv_dmabuf(struct devmem_sock *sk, struct cmsg_writer *w, struct sk_cursor *c,
			      size_t len, bool peek, bool *stop)
{
	struct devmem_frag *f;
	size_t sent = 0;

	while (sent < len && (f = sk_cursor_frag(sk, c)) && netmem_is_net_iov(f->netmem)) {
		struct net_iov *niov = netmem_to_net_iov(f->netmem);
		uint32_t avail = f->len - c->off, token, n;
		struct dmabuf_cmsg dc;
		int err;

		n = avail < len - sent ? avail : (uint32_t)(len - sent);
		if (!w->checked && cmsg_fits(w, sizeof(dc))) {
			/*
			 * Before anything is taken: a bad buffer is EFAULT. The
			 * probe costs two syscalls, so the buffer the last call
			 * found writable is trusted (an application unmapping
			 * it between calls has freed what it still uses).
			 */
			void *ctl = w->msg->msg_control;
			size_t ctl_len = w->msg->msg_controllen;

			if ((ctl != sk->ctl_ok || ctl_len > sk->ctl_ok_len) &&
			    !sk_user_writable(ctl, ctl_len)) {
				*stop = true;
				return devmem_err(-EFAULT,
						  "fd %d: the control buffer cannot be written",
						  sk->fd);
			}
			sk->ctl_ok = ctl;
			sk->ctl_ok_len = ctl_len;
			w->checked = true;
		}
		if (!cmsg_fits(w, sizeof(dc))) {
			/* as the kernel: what fitted is returned, no MSG_CTRUNC; the rest stays */
			sk->stats.ctrunc++;
			*stop = true;
			if (!sent)
				return devmem_err(-DEVMEM_ETOOSMALL,
						  "fd %d: the control buffer cannot take a cmsg",
						  sk->fd);
			break;
		}
		err = sk_token_alloc(sk, f->netmem, &token);
		if (err) {
			*stop = true;
			if (!sent)
				return err;
			break;
		}
		dc = (struct dmabuf_cmsg){
			.frag_offset = net_iov_virtual_addr(niov) + f->off + c->off,
			.frag_size = n,
			.frag_token = token,
			.dmabuf_id = net_devmem_iov_binding_id(niov),
		};
		cmsg_put(w, SOL_SOCKET, SCM_DEVMEM_DMABUF, &dc, sizeof(dc));
		/*
		 * The token holds a user and a pool reference: the queue's moves
		 * to it when the whole fragment is taken, else it takes one more.
		 */
		net_iov_user_get(f->netmem);
		if (peek || n != f->len)
			page_pool_ref_netmem(f->netmem);
		sk_cursor_eat(sk, c, f, n, peek, NULL);
		sent += n;
		sk->stats.frags++;
		sk->stats.tokens_held++;
		if (!peek)
			sk->stats.bytes_dmabuf += n;
	}
	return (ssize_t)sent;
}

/* MSG_TRUNC: pass over up to @len bytes of any kind without copying (sk->lock held). */
static size_t sk_recv_skip(struct devmem_sock *sk, struct sk_cursor *c, size_t len, bool peek,
			   struct sk_putter *put)
{
	struct devmem_frag *f;
	size_t done = 0;

	while (done < len && (f = sk_cursor_frag(sk, c))) {
		uint32_t n = f->len - c->off;

		if (n > len - done)
			n = (uint32_t)(len - done);
		sk_cursor_eat(sk, c, f, n, peek, put);
		done += n;
	}
	return done;
}

/*
 * A socket its queue stopped reading (its receive limit reached) has been
 * read down to half of that (sk->lock held): clear the mark and tell the
 * caller to wake the queue.
 */
static bool sk_rx_drained(struct devmem_sock *sk)
{
	if (!__atomic_load_n(&sk->rx_throttled, __ATOMIC_RELAXED) ||
	    sk->rxq_bytes > sk_rx_limit(sk) / 2 || !sk->dev)
		return false;
	__atomic_store_n(&sk->rx_throttled, false, __ATOMIC_RELAXED);
	return true;
}

static bool sk_nonblocking(int fd, int flags)
{
	int fl;

	if (flags & MSG_DONTWAIT)
		return true;
	fl = fcntl(fd, F_GETFL);
	return fl >= 0 && (fl & O_NONBLOCK);
}

/* The bytes a blocking call waits for, as the kernel's sock_rcvlowat(): SO_RCVLOWAT, MSG_WAITALL. */
static size_t sk_rcv_target(int fd, int flags, size_t len)
{
	int lowat = 1;
	socklen_t olen = sizeof(lowat);

	if (flags & MSG_WAITALL)
		return len ? len : 1;
	if (getsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, &olen) || lowat < 1)
		lowat = 1;
	return (size_t)lowat < len ? (size_t)lowat : (len ? len : 1);
}

/* When a blocking call gives up (SO_RCVTIMEO): false when it waits for ever. */
static bool sk_rcv_deadline(int fd, struct timespec *deadline)
{
	struct timeval tv = { 0 };
	socklen_t olen = sizeof(tv);

	if (getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &olen) || (!tv.tv_sec && !tv.tv_usec))
		return false;
	clock_gettime(CLOCK_MONOTONIC, deadline);
	deadline->tv_sec += tv.tv_sec;
	deadline->tv_nsec += tv.tv_usec * 1000;
	if (deadline->tv_nsec >= 1000000000) {
		deadline->tv_sec++;
		deadline->tv_nsec -= 1000000000;
	}
	return true;
}

/*
 * Sleep until the queue changes (sk->lock held, dropped meanwhile): 0,
 * -ETIMEDOUT past @deadline, or -EINTR when a signal handler ran (a handler
 * with SA_RESTART restarts the wait instead, as it restarts the kernel's).
 */
static int sk_wait_data(struct devmem_sock *sk, const struct timespec *deadline)
{
	uint32_t seq = sk->rx_seq;
	struct timespec rel, *tsp = NULL;
	int err = 0;

	if (deadline) {
		struct timespec now;

		clock_gettime(CLOCK_MONOTONIC, &now);
		rel.tv_sec = deadline->tv_sec - now.tv_sec;
		rel.tv_nsec = deadline->tv_nsec - now.tv_nsec;
		if (rel.tv_nsec < 0) {
			rel.tv_sec--;
			rel.tv_nsec += 1000000000;
		}
		if (rel.tv_sec < 0)
			return -ETIMEDOUT;
		tsp = &rel;
	}
	sk->readers++;
	pthread_mutex_unlock(&sk->lock);
	if (syscall(SYS_futex, &sk->rx_seq, FUTEX_WAIT_PRIVATE, seq, tsp, NULL, 0))
		err = errno == EINTR || errno == ETIMEDOUT ? -errno : 0;
	pthread_mutex_lock(&sk->lock);
	sk->readers--;
	return err;
}

/* A socket no driver reads: the kernel socket is read as it is. */
static ssize_t sk_recv_plain(struct devmem_sock *sk, int fd, struct msghdr *msg, int flags)
{
	ssize_t ret = recvmsg(fd, msg, flags);

	if (ret > 0 && !(flags & (MSG_PEEK | MSG_TRUNC))) {
		pthread_mutex_lock(&sk->lock);
		sk->stats.bytes_linear += (uint64_t)ret;
		pthread_mutex_unlock(&sk->lock);
	}
	return ret;
}

/*
 * recvmsg() on a socket a queue reads, after the kernel's
 * tcp_recvmsg_locked(): fragments in host memory are copied as any TCP
 * data (no cmsg: only devmem data has one), fragments in a dma-buf become
 * tokens with MSG_SOCK_DEVMEM and EFAULT without it; one call never mixes
 * the two kinds. The call returns once it has SO_RCVLOWAT bytes (all of
 * the iovec with MSG_WAITALL), or at the end, an error, a signal or
 * SO_RCVTIMEO with what it has.
 */
static ssize_t sk_recvmsg(struct devmem_sock *sk, int fd, struct msghdr *msg, int flags)
{
	bool peek = flags & MSG_PEEK, trunc = flags & MSG_TRUNC;
	bool nonblock = false, nonblock_known = false, timed = false, timeo_known = false;
	struct cmsg_writer w = { .msg = msg };
	struct sk_putter put = { .sk = sk };
	size_t len = msg_iov_len(msg), target = 0;
	struct sk_cursor c = { 0 };
	struct timespec deadline;
	int last_dmabuf = -1;
	ssize_t copied = 0;
	uint32_t head;
	bool resume;
	int err = 0;

	msg->msg_flags = 0;
	pthread_mutex_lock(&sk->lock);
	head = sk->rxq_head;
	for (;;) {
		struct devmem_frag *f;
		bool stop = false;

		while (len && (f = sk_cursor_frag(sk, &c))) {
			int dmabuf = netmem_is_net_iov(f->netmem);
			ssize_t used;

			if (trunc) {
				used = (ssize_t)sk_recv_skip(sk, &c, len, peek, &put);
			} else if (last_dmabuf >= 0 && last_dmabuf != dmabuf) {
				goto out;
			} else if (!dmabuf) {
				used = sk_recv_linear(sk, msg, (size_t)copied, &c, len, peek, &put,
						      &stop);
			} else if (!(flags & MSG_SOCK_DEVMEM)) {
				/* the kernel's answer to a reader that cannot take dma-buf data */
				used = devmem_err(-EFAULT,
						  "fd %d: data is in a dma-buf: read it with "
						  "MSG_SOCK_DEVMEM",
						  fd);
				stop = true;
			} else {
				used = sk_recv_dmabuf(sk, &w, &c, len, peek, &stop);
			}
			if (used < 0) {
				if (!copied)
					err = (int)used;
				goto out;
			}
			last_dmabuf = dmabuf;
			copied += used;
			len -= (size_t)used;
			if (stop)
				goto out;
		}
		if (!len)
			break;
		/* the queue has nothing more for this call: wait, or return what it has */
		if (copied && !target) {
			pthread_mutex_unlock(&sk->lock);
			target = sk_rcv_target(fd, flags, len + (size_t)copied);
			pthread_mutex_lock(&sk->lock);
			continue;
		}
		if (copied && (size_t)copied >= target)
			break;
		if (sk->rx_err || sk->rx_eof || sk->detached) {
			if (copied)
				break;
			if (sk->rx_err) {
				err = -sk->rx_err;
			} else if (sk->detached && !sk->rx_eof) {
				/* no driver reads it: the rest of the stream is in the kernel socket */
				pthread_mutex_unlock(&sk->lock);
				return sk_recv_plain(sk, fd, msg, flags);
			}
			break;
		}
		if (!nonblock_known || !timeo_known) {
			/* syscalls: not under the lock */
			pthread_mutex_unlock(&sk->lock);
			nonblock = sk_nonblocking(fd, flags);
			timed = !nonblock && sk_rcv_deadline(fd, &deadline);
			nonblock_known = timeo_known = true;
			pthread_mutex_lock(&sk->lock);
			continue;
		}
		if (nonblock) {
			if (!copied)
				err = -EAGAIN;
			break;
		}
		err = sk_wait_data(sk, timed ? &deadline : NULL);
		if (err) {
			if (copied)
				err = 0;
			else if (err == -ETIMEDOUT)
				err = -EAGAIN;
			break;
		}
		/* another reader took what this peek had walked over: start again, as the kernel */
		if (peek && sk->rxq_head != head) {
			head = sk->rxq_head;
			c = (struct sk_cursor){ 0 };
			if (copied)
				break;
		}
	}
out:
	resume = sk_rx_drained(sk);
	pthread_mutex_unlock(&sk->lock);
	msg->msg_controllen = w.used;
	sk_putter_done(&put);
	if (resume)
		sk->dev->sock_ops->rx_resume(sk->dev, sk->rxq_idx);
	if (err) {
		errno = -err;
		return -1;
	}
	return copied;
}

ssize_t devmem_recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct devmem_sock *sk;
	ssize_t ret;

	devmem_clear_error(); /* a reason read after this call is this call's */
	if (net_owner_in_child())
		return sk_refuse_in_child("devmem_recvmsg");
	if (!msg) {
		errno = EFAULT;
		return -1;
	}
	/* the kernel's devmem socket: no copy, no emulation */
	if (sk_fd_on_kernel_path(fd))
		return recvmsg(fd, msg, flags);
	/*
	 * Not a TCP socket of ours (UDP, AF_UNIX, not a socket at all): the
	 * system call's answer is the answer.
	 */
	if (sk_get(fd, &sk))
		return recvmsg(fd, msg, flags);
	/*
	 * Zerocopy completions are the kernel socket's own (devmem_sendmsg()
	 * sends with the kernel's MSG_ZEROCOPY), and urgent data never reaches
	 * the queue (tcp_recv_urg()): both are the kernel socket's to answer.
	 */
	if (flags & (MSG_ERRQUEUE | MSG_OOB)) {
		sk_put(sk);
		return recvmsg(fd, msg, flags);
	}
	/* a socket no NIC of ours can read is read plainly: not an error here */
	sk_rx_prepare(sk, fd);
	ret = sk_recvmsg(sk, fd, msg, flags);
	sk_put(sk);
	return ret;
}

/* ---- SO_DEVMEM_DONTNEED ---- */

/*
 * Give back the tokens of @tokens: the number freed. As the kernel's
 * sock_devmem_dontneed(), the request stops at its
 * DEVMEM_DONTNEED_MAX_FRAGS-th fragment (held or not), tokens not held are
 * skipped, and token_start + j counts modulo 2^32.
 */
static int sk_dontneed(struct devmem_sock *sk, const struct dmabuf_token *tokens, unsigned int nr)
{
	struct sk_putter put = { .sk = sk };
	unsigned int frags = 0, freed = 0, unknown = 0;

	pthread_mutex_lock(&sk->lock);
	for (unsigned int i = 0; i < nr; i++) {
		for (uint32_t j = 0; j < tokens[i].token_count; j++) {
			netmem_ref netmem;

			if (++frags > DEVMEM_DONTNEED_MAX_FRAGS)
				goto limit;
			netmem = sk_token_free(sk, tokens[i].token_start + j);
			if (!netmem) {
				unknown++;
				continue;
			}
			net_iov_user_put(netmem);
			sk_putter_add(&put, netmem);
			freed++;
		}
	}
limit:
	sk->stats.tokens_freed += freed;
	sk->stats.tokens_held -= freed;
	sk->stats.tokens_unknown += unknown;
	pthread_mutex_unlock(&sk->lock);
	sk_putter_done(&put);
	return (int)freed;
}

/* sk_is_tcp(): what the kernel accepts SO_DEVMEM_DONTNEED on. */
static bool sk_fd_is_tcp(int fd)
{
	int domain = 0, type = 0, proto = 0;
	socklen_t len = sizeof(int);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len))
		return false;
	len = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len))
		return false;
	len = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len))
		return false;
	return (domain == AF_INET || domain == AF_INET6) && type == SOCK_STREAM &&
	       proto == IPPROTO_TCP;
}

/*
 * SO_DEVMEM_DONTNEED with the kernel's checks in the kernel's order: the
 * fd (EBADF, ENOTSOCK), sk_setsockopt()'s for every option (EINVAL below
 * an int, EFAULT when the int cannot be read), then
 * sock_devmem_dontneed()'s (EBADF on anything but TCP, EINVAL for a
 * length that is not whole entries or more than
 * DEVMEM_DONTNEED_MAX_TOKENS of them, EFAULT when they cannot be read).
 * A length of 0 is EINVAL (below an int), not a request for nothing.
 */
static int sk_setsockopt_dontneed(int fd, const void *optval, socklen_t optlen)
{
	struct dmabuf_token tokens[DEVMEM_DONTNEED_MAX_TOKENS];
	struct devmem_sock *sk;
	struct stat st;
	int val, ret, unreadable;

	if (fstat(fd, &st))
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	if (optlen < sizeof(int))
		return devmem_err(-EINVAL, "SO_DEVMEM_DONTNEED: length %u", optlen);
	/*
	 * One read of everything a valid call can carry. The kernel reads an
	 * int first (EFAULT), then checks the length (EINVAL), then reads the
	 * entries (EFAULT): only a failed read needs the int read apart.
	 */
	unreadable = sk_copy_from_user(tokens, optval,
				       optlen < sizeof(tokens) ? optlen : sizeof(tokens));
	if (unreadable && sk_copy_from_user(&val, optval, sizeof(val)))
		return devmem_err(-EFAULT, "SO_DEVMEM_DONTNEED: optval cannot be read");
	sk = sk_find(fd, &st);
	if (!sk && !sk_fd_is_tcp(fd))
		return devmem_err(-EBADF, "SO_DEVMEM_DONTNEED: fd %d is not a TCP socket", fd);
	if (optlen % sizeof(struct dmabuf_token) ||
	    optlen > DEVMEM_DONTNEED_MAX_TOKENS * sizeof(struct dmabuf_token)) {
		ret = devmem_err(-EINVAL,
				 "SO_DEVMEM_DONTNEED: length %u is not 1 to %u struct dmabuf_token",
				 optlen, DEVMEM_DONTNEED_MAX_TOKENS);
		goto out;
	}
	if (unreadable) {
		ret = devmem_err(unreadable, "SO_DEVMEM_DONTNEED: optval cannot be read");
		goto out;
	}
	/* a socket that never received through us holds no token: as the kernel, 0 */
	ret = sk ? sk_dontneed(sk, tokens, optlen / sizeof(struct dmabuf_token)) : 0;
out:
	if (sk)
		sk_put(sk);
	return ret;
}

int devmem_setsockopt(int fd, int level, int optname, const void *optval, socklen_t optlen)
{
	int ret;

	devmem_clear_error(); /* a reason read after this call is this call's */
	if (net_owner_in_child())
		return sk_refuse_in_child("devmem_setsockopt");
	if (level != SOL_SOCKET || optname != SO_DEVMEM_DONTNEED || sk_fd_on_kernel_path(fd))
		return setsockopt(fd, level, optname, optval, optlen);
	ret = sk_setsockopt_dontneed(fd, optval, optlen);
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return ret;
}

/* ---- close ---- */

int devmem_close(int fd)
{
	struct devmem_sock *sk;

	devmem_clear_error(); /* a reason read after this call is this call's */
	/* the child's copy of the fd is all that is the child's: the parent reads on */
	if (net_owner_in_child())
		return close(fd);
	/*
	 * A kernel-path socket is never in the table (the calls above go
	 * straight to the kernel), so it is only closed; one the library read
	 * before a kernel binding came is dropped as any other.
	 */
	sk = sk_lookup(fd);
	if (sk) {
		/* the socket goes with its last fd; a dup() of it keeps it, and its tokens */
		sk_drop_fd(sk, fd);
		sk_put(sk);
	}
	return close(fd);
}

/* ---- stats ---- */

int devmem_sock_stats(int fd, struct devmem_sock_stats *stats)
{
	struct devmem_sock *sk;
	struct stat st;

	devmem_clear_error(); /* a reason read after this call is this call's */
	if (net_owner_in_child())
		return net_owner_refuse("devmem_sock_stats");
	if (!stats)
		return -EINVAL;
	sk = fstat(fd, &st) ? NULL : sk_find(fd, &st);
	if (!sk)
		return devmem_err(-EBADF, "fd %d is not a devmem socket", fd);
	pthread_mutex_lock(&sk->lock);
	*stats = (struct devmem_sock_stats){
		.ifindex = sk->dev ? sk->dev->ifindex : 0,
		.rxq = sk->dev ? (int)sk->rxq_idx : -1,
		.bytes_dmabuf = sk->stats.bytes_dmabuf,
		.bytes_linear = sk->stats.bytes_linear,
		.frags = sk->stats.frags,
		.frags_queued = sk_rxq_len(sk),
		.tokens_held = sk->stats.tokens_held,
		.tokens_freed = sk->stats.tokens_freed,
		.tokens_unknown = sk->stats.tokens_unknown,
		.ctrunc = sk->stats.ctrunc,
		.tx_sends = sk->stats.tx_sends,
		.tx_bytes = sk->stats.tx_bytes,
	};
	pthread_mutex_unlock(&sk->lock);
	sk_put(sk);
	return 0;
}

/* ---- transmit ---- */

/*
 * The tx binding id of an SCM_DEVMEM_DMABUF cmsg: 1 and *@id, 0 if none,
 * -EINVAL if malformed. @msg's control data is our own copy.
 */
static int msg_dmabuf_id(const struct msghdr *msg, uint32_t *id)
{
	struct cmsghdr *cm;

	if (!msg->msg_control || !msg->msg_controllen)
		return 0;
	for (cm = CMSG_FIRSTHDR((struct msghdr *)msg); cm;
	     cm = CMSG_NXTHDR((struct msghdr *)msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_DEVMEM_DMABUF)
			continue;
		if (cm->cmsg_len != CMSG_LEN(sizeof(uint32_t)))
			return -EINVAL;
		memcpy(id, CMSG_DATA(cm), sizeof(*id));
		return 1;
	}
	return 0;
}

static bool sk_zerocopy_enabled(struct devmem_sock *sk)
{
	int on = 0;
	socklen_t len = sizeof(on);

	if (__atomic_load_n(&sk->zerocopy_ok, __ATOMIC_RELAXED))
		return true;
	if (getsockopt(sk->fd, SOL_SOCKET, SO_ZEROCOPY, &on, &len) || !on)
		return false;
	__atomic_store_n(&sk->zerocopy_ok, true, __ATOMIC_RELAXED);
	return true;
}

/* The kernel's UIO_MAXIOV: the most iovecs one sendmsg takes. */
#define DEVMEM_UIO_MAXIOV 1024
/* The kernel's MAX_RW_COUNT: import_iovec() cuts a longer message to this. */
#define DEVMEM_MAX_RW_COUNT ((size_t)INT_MAX & ~(PAGE_SIZE - 1))

/*
 * The bytes of @msg's iovecs that a send takes: import_iovec()'s length,
 * cut at DEVMEM_MAX_RW_COUNT (*@cut says so), and of those the ones that lie
 * in a @size-byte dma-buf before the first byte beyond it (where
 * zerocopy_fill_skb_from_devmem() stops with -EFAULT) in *@prefix.
 */
static size_t msg_dmabuf_len(const struct msghdr *msg, size_t size, size_t *prefix, bool *cut)
{
	size_t total = 0, i;
	bool faulted = false;

	*prefix = 0;
	*cut = false;
	for (i = 0; i < msg->msg_iovlen; i++) {
		uintptr_t off = (uintptr_t)msg->msg_iov[i].iov_base;
		size_t len = msg->msg_iov[i].iov_len;

		if (len > DEVMEM_MAX_RW_COUNT - total) {
			len = DEVMEM_MAX_RW_COUNT - total;
			*cut = true;
		}
		total += len;
		if (faulted || !len)
			continue;
		if (off >= size) {
			faulted = true;
		} else if (len > size - off) {
			*prefix += size - off;
			faulted = true;
		} else {
			*prefix += len;
		}
	}
	return total;
}

/*
 * Send the first @len bytes of @msg's iovecs (fewer than it holds): a copy
 * of the iovecs that end there, made only on this rare path.
 */
static ssize_t sk_send_dmabuf_prefix(struct net_devmem_dmabuf_binding *binding, int fd,
				     const struct msghdr *msg, int flags, size_t len)
{
	struct msghdr m = *msg;
	struct iovec *iov;
	size_t n = 0;
	ssize_t ret;

	iov = malloc(msg->msg_iovlen * sizeof(*iov));
	if (!iov)
		return devmem_err(-ENOMEM, "sendmsg: out of memory");
	while (len) {
		iov[n] = msg->msg_iov[n];
		if (iov[n].iov_len > len)
			iov[n].iov_len = len;
		len -= iov[n].iov_len;
		n++;
	}
	m.msg_iov = iov;
	m.msg_iovlen = n;
	ret = binding->dev->sock_ops->send_dmabuf(binding->dev, fd, binding, &m, flags);
	free(iov);
	return ret;
}

/* Control data up to this size is looked at here; a larger one goes to the kernel as it is. */
#define DEVMEM_SEND_CTL_MAX 1024

ssize_t devmem_sendmsg(int fd, const struct msghdr *umsg, int flags)
{
	struct net_devmem_dmabuf_binding *binding = NULL;
	struct iovec iov[DEVMEM_UIO_MAXIOV];
	union {
		char buf[DEVMEM_SEND_CTL_MAX];
		struct cmsghdr align;
	} ctl;
	const struct msghdr *msg;
	struct msghdr m;
	struct devmem_sock *sk;
	size_t total, prefix;
	uint32_t id = 0;
	bool cut;
	ssize_t ret;
	int err, local_if;

	devmem_clear_error(); /* a reason read after this call is this call's */
	if (net_owner_in_child())
		return sk_refuse_in_child("devmem_sendmsg");
	/* the cmsg names a kernel tx binding: the kernel sends from the dma-buf */
	if (sk_fd_on_kernel_path(fd))
		return sendmsg(fd, umsg, flags);
	/*
	 * Everything of the caller's is read through copies, as the kernel's
	 * copy_msghdr_from_user() does: a bad pointer is EFAULT, never a
	 * crash. Whatever this call does not handle itself (no devmem cmsg,
	 * control data it cannot read) is the system call's to answer.
	 */
	if (sk_copy_from_user(&m, umsg, sizeof(m))) {
		errno = EFAULT;
		return -1;
	}
	if (!m.msg_control || !m.msg_controllen || m.msg_controllen > sizeof(ctl) ||
	    sk_copy_from_user(ctl.buf, m.msg_control, m.msg_controllen))
		return sendmsg(fd, umsg, flags);
	m.msg_control = ctl.buf;
	err = msg_dmabuf_id(&m, &id);
	if (err == 0)
		return sendmsg(fd, umsg, flags);
	msg = &m;
	/* __copy_msghdr() counts the iovecs before the control data is read */
	if (msg->msg_iovlen > DEVMEM_UIO_MAXIOV) {
		devmem_err(-EMSGSIZE, "sendmsg: %zu iovecs (at most %d)", (size_t)msg->msg_iovlen,
			   DEVMEM_UIO_MAXIOV);
		errno = EMSGSIZE;
		return -1;
	}
	if (sk_copy_from_user(iov, m.msg_iov, m.msg_iovlen * sizeof(*iov))) {
		devmem_err(-EFAULT, "sendmsg: the iovec array cannot be read");
		errno = EFAULT;
		return -1;
	}
	m.msg_iov = iov;
	/* import_iovec(): an iovec length that is negative as a ssize_t */
	for (size_t i = 0; i < msg->msg_iovlen; i++) {
		if ((ssize_t)msg->msg_iov[i].iov_len < 0) {
			devmem_err(-EINVAL, "sendmsg: iovec %zu has a negative length", i);
			errno = EINVAL;
			return -1;
		}
	}
	if (err < 0) {
		devmem_err(err, "sendmsg: malformed SCM_DEVMEM_DMABUF cmsg");
		errno = -err;
		return -1;
	}
	err = sk_get(fd, &sk);
	if (err) {
		errno = -err;
		return -1;
	}
	if (!(flags & MSG_ZEROCOPY) || !sk_zerocopy_enabled(sk)) {
		err = devmem_err(-EINVAL,
				 "sendmsg: a dma-buf send needs MSG_ZEROCOPY and SO_ZEROCOPY");
		goto out_put_sk;
	}
	/*
	 * tcp_sendmsg_locked() builds a zerocopy notification, and looks the
	 * binding up, only for a send of at least one byte: an empty one sends
	 * nothing and completes nothing.
	 */
	if (!msg_dmabuf_len(msg, 0, &prefix, &cut)) {
		sk_put(sk);
		return 0;
	}
	binding = net_devmem_lookup_dmabuf(id);
	if (!binding || binding->direction != DMA_TO_DEVICE) {
		err = devmem_err(-EINVAL, "sendmsg: no tx binding with id %u", id);
		goto out_put_binding;
	}
	local_if = sk_ifindex(sk);
	if (local_if != binding->dev->ifindex) {
		err = devmem_err(
			-ENODEV,
			"sendmsg: tx binding %u is on ifindex %d, the socket on ifindex %d", id,
			binding->dev->ifindex, local_if);
		goto out_put_binding;
	}
	if (!binding->dev->sock_ops || !binding->dev->sock_ops->send_dmabuf) {
		err = devmem_err(-EOPNOTSUPP, "sendmsg: %s cannot send from a dma-buf",
				 binding->dev->name);
		goto out_put_binding;
	}
	/*
	 * An offset beyond the buffer faults where the send reaches it: the
	 * bytes before it go out (a short write), and only a send that has
	 * nothing before the fault fails.
	 */
	total = msg_dmabuf_len(msg, binding->dmabuf->size, &prefix, &cut);
	if (!prefix) {
		err = devmem_err(-EFAULT, "sendmsg: the first byte is beyond the %zu-byte dma-buf",
				 binding->dmabuf->size);
		goto out_put_binding;
	}
	if (prefix < total || cut)
		ret = sk_send_dmabuf_prefix(binding, fd, msg, flags, prefix);
	else
		ret = binding->dev->sock_ops->send_dmabuf(binding->dev, fd, binding, msg, flags);
	if (ret < 0) {
		err = (int)ret;
		goto out_put_binding;
	}
	pthread_mutex_lock(&sk->lock);
	sk->stats.tx_sends++;
	sk->stats.tx_bytes += (uint64_t)ret;
	pthread_mutex_unlock(&sk->lock);
	net_devmem_dmabuf_binding_put(binding);
	sk_put(sk);
	return ret;

out_put_binding:
	if (binding)
		net_devmem_dmabuf_binding_put(binding);
out_put_sk:
	sk_put(sk);
	errno = -err;
	return -1;
}
