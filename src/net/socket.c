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
#include <linux/errqueue.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "devmem/socket.h"
#include "lib/compiler.h"
#include "lib/debug.h"
#include "lib/error.h"
#include "net/devmem.h"
#include "net/page_pool.h"
#include "net/sock.h"

/* The kernel's errno for a control buffer that cannot take the first cmsg. */
#define DEVMEM_ETOOSMALL 524

#define SK_PUT_BATCH 64 /* netmems given back to a pool per bulk put */

static long sk_nr_live; /* atomic */

/* ---- the fd table ---- */

static pthread_rwlock_t sk_table_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct devmem_sock **sk_table; /* by fd; protected by sk_table_lock */
static unsigned int sk_table_size;

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

/* Put @sk in the table at its fd: -EEXIST when another thread did first, -ENOMEM. */
static int sk_table_insert(struct devmem_sock *sk)
{
	unsigned int fd = (unsigned int)sk->fd;
	int err = 0;

	pthread_rwlock_wrlock(&sk_table_lock);
	if (fd >= sk_table_size) {
		unsigned int size = sk_table_size ? sk_table_size : 64;
		struct devmem_sock **table;

		while (size <= fd)
			size *= 2;
		table = realloc(sk_table, size * sizeof(*table));
		if (!table) {
			err = -ENOMEM;
			goto out;
		}
		memset(table + sk_table_size, 0, (size - sk_table_size) * sizeof(*table));
		sk_table = table;
		sk_table_size = size;
	}
	if (sk_table[fd])
		err = -EEXIST;
	else
		sk_table[fd] = sk;
out:
	pthread_rwlock_unlock(&sk_table_lock);
	return err;
}

/* Take @sk out of the table: false when it was no longer there. */
static bool sk_table_remove(struct devmem_sock *sk)
{
	bool removed = false;

	pthread_rwlock_wrlock(&sk_table_lock);
	if ((unsigned int)sk->fd < sk_table_size && sk_table[sk->fd] == sk) {
		sk_table[sk->fd] = NULL;
		removed = true;
	}
	pthread_rwlock_unlock(&sk_table_lock);
	return removed;
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
		full = sk->rxq_bytes > DEVMEM_SOCK_RCVBUF;
		if (full)
			__atomic_store_n(&sk->rx_throttled, true, __ATOMIC_RELAXED);
		sk->rxq_tail += n;
		if (sk->readers)
			pthread_cond_broadcast(&sk->wait);
		pthread_mutex_unlock(&sk->lock);
		return full;
	}
	if (!sk->closing && !sk->rx_err) {
		/* no memory for the queue: the stream cannot go on without a hole */
		sk->rx_err = ENOMEM;
		pthread_cond_broadcast(&sk->wait);
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
	pthread_cond_broadcast(&sk->wait);
	pthread_mutex_unlock(&sk->lock);
}

void sk_orphan(struct devmem_sock *sk)
{
	pthread_mutex_lock(&sk->lock);
	sk->detached = true;
	pthread_cond_broadcast(&sk->wait);
	pthread_mutex_unlock(&sk->lock);
	sk_put(sk);
}

/* ---- tokens ---- */

/* A free token (sk->lock held), growing the table; -ENOMEM. */
static int sk_token_alloc(struct devmem_sock *sk, netmem_ref netmem, uint32_t *token)
{
	uint32_t words = sk->nr_tokens / 64;

	for (uint32_t w = sk->token_hint / 64; w < words; w++) {
		uint64_t free_bits = sk->token_free[w];

		if (w == sk->token_hint / 64)
			free_bits &= ~0ULL << (sk->token_hint % 64);
		if (free_bits) {
			uint32_t t = w * 64 + (uint32_t)__builtin_ctzll(free_bits);

			sk->token_free[w] &= ~(1ULL << (t % 64));
			sk->tokens[t] = netmem;
			sk->token_hint = t + 1;
			*token = t;
			return 0;
		}
	}
	/* all taken: double the table (at most 2^31 tokens, as the kernel's xarray limit) */
	{
		uint32_t size = sk->nr_tokens ? sk->nr_tokens * 2 : 1024;
		netmem_ref *tokens;
		uint64_t *free_map;

		if (size > (1U << 31))
			return -ENOMEM;
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

static int sk_create(int fd, struct devmem_sock **out)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct devmem_sock *sk;
	struct stat st;
	int type;
	socklen_t tlen = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen))
		return devmem_err(-errno, "fd %d: %s", fd,
				  errno == ENOTSOCK ? "not a socket" : "not open");
	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return -errno;
	if (type != SOCK_STREAM || (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
		return devmem_err(-EOPNOTSUPP, "fd %d: not a TCP socket", fd);

	if (fstat(fd, &st))
		return -errno;
	sk = calloc(1, sizeof(*sk));
	if (!sk)
		return -ENOMEM;
	sk->fd = fd;
	sk->ino = st.st_ino;
	sk->family = ss.ss_family;
	sk->ref = 1; /* the table's */
	pthread_mutex_init(&sk->lock, NULL);
	pthread_cond_init(&sk->wait, NULL);
	sk->detached = true; /* until a driver takes it */
	__atomic_fetch_add(&sk_nr_live, 1, __ATOMIC_RELAXED);
	*out = sk;
	return 0;
}

/* The kernel interface holding local address @sa, or 0. */
static int sk_local_ifindex(const struct sockaddr *sa)
{
	struct ifaddrs *ifa_list, *ifa;
	int ifindex = 0;

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

/* The flow as the NIC sees it: from the peer (src) to us (dst). */
static int sk_flow_key(int fd, struct netdev_flow_key *key)
{
	struct sockaddr_storage local, peer;
	socklen_t llen = sizeof(local), plen = sizeof(peer);

	if (getsockname(fd, (struct sockaddr *)&local, &llen))
		return -errno;
	if (getpeername(fd, (struct sockaddr *)&peer, &plen))
		return devmem_err(-EOPNOTSUPP, "fd %d: not a connected socket", fd);
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
static int sk_attach(struct devmem_sock *sk)
{
	struct netdev_flow_key key;
	struct net_device *dev;
	unsigned int rxq;
	int err, ifindex;

	err = sk_flow_key(sk->fd, &key);
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
		return err;
	}
	return 0;
}

/*
 * Whether @sk still describes the socket open at its fd. A socket no queue
 * reads may be closed with a plain close() (only sockets read through a
 * queue must go through devmem_close()), and its fd number taken by
 * another socket: its entry is then stale.
 */
static bool sk_is_current(struct devmem_sock *sk)
{
	struct stat st;

	if (__atomic_load_n(&sk->dev, __ATOMIC_ACQUIRE))
		return true;
	return !fstat(sk->fd, &st) && st.st_ino == sk->ino;
}

/* Drop @sk's table entry if it is still there (it holds no fragment or token). */
static void sk_forget(struct devmem_sock *sk)
{
	if (sk_table_remove(sk))
		sk_put(sk); /* the table's */
}

/* The socket of @fd with a reference, made on first use (not joined to a queue). */
static int sk_get(int fd, struct devmem_sock **out)
{
	struct devmem_sock *sk = sk_lookup(fd);
	int err;

	if (sk && !sk_is_current(sk)) {
		sk_forget(sk);
		sk_put(sk);
		sk = NULL;
	}
	if (sk) {
		*out = sk;
		return 0;
	}
	err = sk_create(fd, &sk);
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
static int sk_rx_prepare(struct devmem_sock *sk)
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

	err = sk_attach(sk);

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
	tx = sk->zc_next || sk->errq_len;
	pthread_mutex_unlock(&sk->lock);
	return tx;
}

int devmem_sock_attach(int fd)
{
	struct devmem_sock *sk;
	int err;

	err = sk_get(fd, &sk);
	if (err)
		return err;
	err = sk_rx_prepare(sk);
	if (!err)
		err = (int)sk->rxq_idx;
	else if (err != -ENODEV && !sk_has_tx_state(sk))
		sk_forget(sk); /* refused: leave nothing behind for the fd */
	sk_put(sk);
	return err;
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

/* Copy @len bytes from @src into the iovec at byte @pos of it. */
static void iov_copy_to(const struct msghdr *msg, size_t pos, const void *src, size_t len)
{
	for (size_t i = 0; i < msg->msg_iovlen && len; i++) {
		const struct iovec *v = &msg->msg_iov[i];
		size_t n;

		if (pos >= v->iov_len) {
			pos -= v->iov_len;
			continue;
		}
		n = v->iov_len - pos < len ? v->iov_len - pos : len;
		memcpy((char *)v->iov_base + pos, src, n);
		src = (const char *)src + n;
		len -= n;
		pos = 0;
	}
}

/*
 * Take host-page fragments off the queue into the iovec (sk->lock held):
 * bytes copied. Consumed pages go to @put.
 */
static size_t sk_recv_linear(struct devmem_sock *sk, struct msghdr *msg, size_t room,
			     struct sk_putter *put)
{
	size_t copied = 0;

	while (sk_rxq_len(sk) && copied < room) {
		struct devmem_frag *f = &sk->rxq[sk->rxq_head & (sk->rxq_size - 1)];
		size_t n = f->len < room - copied ? f->len : room - copied;

		if (netmem_is_net_iov(f->netmem))
			break;
		iov_copy_to(msg, copied, (char *)netmem_address(f->netmem) + f->off, n);
		copied += n;
		f->off += (uint32_t)n;
		f->len -= (uint32_t)n;
		if (!f->len) {
			sk_putter_add(put, f->netmem);
			sk->rxq_head++;
		}
	}
	sk->rxq_bytes -= copied;
	return copied;
}

/*
 * Hand net_iov fragments to the user as tokens (sk->lock held), one
 * SCM_DEVMEM_DMABUF cmsg each, up to @room bytes: the bytes reported, or a
 * negative errno when not even the first fits (-DEVMEM_ETOOSMALL, -ENOMEM).
 */
static ssize_t sk_recv_dmabuf(struct devmem_sock *sk, struct cmsg_writer *w, size_t room)
{
	size_t sent = 0;

	while (sk_rxq_len(sk) && sent < room) {
		struct devmem_frag *f = &sk->rxq[sk->rxq_head & (sk->rxq_size - 1)];
		struct net_iov *niov;
		struct dmabuf_cmsg dc;
		uint32_t token, n;
		bool whole;
		int err;

		if (!netmem_is_net_iov(f->netmem))
			break;
		niov = netmem_to_net_iov(f->netmem);
		n = f->len < room - sent ? f->len : (uint32_t)(room - sent);
		whole = n == f->len;
		if (!cmsg_fits(w, sizeof(dc))) {
			/* as the kernel: what fitted is returned, no MSG_CTRUNC; the rest stays */
			sk->stats.ctrunc++;
			if (!sent)
				return devmem_err(-DEVMEM_ETOOSMALL,
						  "fd %d: the control buffer cannot take a cmsg",
						  sk->fd);
			break;
		}
		err = sk_token_alloc(sk, f->netmem, &token);
		if (err)
			return sent ? (ssize_t)sent : err;
		dc = (struct dmabuf_cmsg){
			.frag_offset = net_iov_virtual_addr(niov) + f->off,
			.frag_size = n,
			.frag_token = token,
			.dmabuf_id = net_devmem_iov_binding_id(niov),
		};
		cmsg_put(w, SOL_SOCKET, SCM_DEVMEM_DMABUF, &dc, sizeof(dc));
		/* the token holds a user and a pool reference: the queue's moves to it when whole */
		net_iov_user_get(f->netmem);
		if (whole)
			sk->rxq_head++;
		else
			page_pool_ref_netmem(f->netmem);
		f->off += n;
		f->len -= n;
		sent += n;
		sk->stats.frags++;
		sk->stats.tokens_held++;
	}
	sk->stats.bytes_dmabuf += sent;
	sk->rxq_bytes -= sent;
	return (ssize_t)sent;
}

/* A socket no driver reads: plain recvmsg(), its bytes reported as linear. */
static ssize_t sk_recv_plain(struct devmem_sock *sk, struct msghdr *msg, int flags)
{
	struct cmsg_writer w = { .msg = msg };
	size_t controllen = msg->msg_controllen;
	struct dmabuf_cmsg dc = { 0 };
	struct msghdr m = *msg;
	ssize_t ret;

	if ((flags & MSG_SOCK_DEVMEM) && !cmsg_fits(&w, sizeof(dc))) {
		errno = DEVMEM_ETOOSMALL;
		return -1;
	}
	m.msg_control = NULL;
	m.msg_controllen = 0;
	ret = recvmsg(sk->fd, &m, flags & ~MSG_SOCK_DEVMEM);
	msg->msg_flags = m.msg_flags;
	msg->msg_controllen = 0;
	if (ret <= 0 || !(flags & MSG_SOCK_DEVMEM)) {
		if (ret > 0) {
			pthread_mutex_lock(&sk->lock);
			sk->stats.bytes_linear += (uint64_t)ret;
			pthread_mutex_unlock(&sk->lock);
		}
		return ret;
	}
	msg->msg_controllen = controllen;
	dc.frag_size = (uint32_t)ret;
	cmsg_put(&w, SOL_SOCKET, SCM_DEVMEM_LINEAR, &dc, sizeof(dc));
	msg->msg_controllen = w.used;
	pthread_mutex_lock(&sk->lock);
	sk->stats.bytes_linear += (uint64_t)ret;
	pthread_mutex_unlock(&sk->lock);
	return ret;
}

static ssize_t sk_recv_errqueue(struct devmem_sock *sk, struct msghdr *msg);

/*
 * A socket its queue stopped reading (more than DEVMEM_SOCK_RCVBUF bytes
 * waiting) has been read down to half of that (sk->lock held): clear the
 * mark and tell the caller to wake the queue.
 */
static bool sk_rx_drained(struct devmem_sock *sk)
{
	if (!__atomic_load_n(&sk->rx_throttled, __ATOMIC_RELAXED) ||
	    sk->rxq_bytes > DEVMEM_SOCK_RCVBUF / 2 || !sk->dev)
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

ssize_t devmem_recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct sk_putter put;
	struct cmsg_writer w = { .msg = msg };
	struct devmem_sock *sk;
	bool nonblock, checked_nonblock = false, resume;
	ssize_t ret;
	size_t room;
	int err;

	if (!msg) {
		errno = EFAULT;
		return -1;
	}
	err = sk_get(fd, &sk);
	if (err) {
		errno = -err;
		return -1;
	}
	if (flags & MSG_ERRQUEUE) {
		ret = sk_recv_errqueue(sk, msg);
		sk_put(sk);
		return ret;
	}
	/* a socket no NIC of ours can read is read plainly: not an error here */
	sk_rx_prepare(sk);
	put = (struct sk_putter){ .sk = sk };
	room = msg_iov_len(msg);
	msg->msg_flags = 0;

	pthread_mutex_lock(&sk->lock);
	for (;;) {
		if (sk_rxq_len(sk))
			break;
		if (sk->rx_err || sk->rx_eof || sk->detached) {
			int rx_err = sk->rx_err;
			bool detached = sk->detached && !sk->rx_eof && !rx_err;

			pthread_mutex_unlock(&sk->lock);
			if (detached) {
				/* no driver reads it: the rest of the stream is in the kernel socket */
				ret = sk_recv_plain(sk, msg, flags);
			} else if (rx_err) {
				errno = rx_err;
				ret = -1;
			} else {
				msg->msg_controllen = 0;
				ret = 0;
			}
			sk_put(sk);
			return ret;
		}
		if (!checked_nonblock) {
			/* a syscall: not under the lock */
			pthread_mutex_unlock(&sk->lock);
			nonblock = sk_nonblocking(fd, flags);
			checked_nonblock = true;
			pthread_mutex_lock(&sk->lock);
			continue;
		}
		if (nonblock) {
			pthread_mutex_unlock(&sk->lock);
			sk_put(sk);
			errno = EAGAIN;
			return -1;
		}
		sk->readers++;
		pthread_cond_wait(&sk->wait, &sk->lock);
		sk->readers--;
	}

	if (!room) {
		ret = 0;
	} else if (!netmem_is_net_iov(sk->rxq[sk->rxq_head & (sk->rxq_size - 1)].netmem)) {
		if ((flags & MSG_SOCK_DEVMEM) && !cmsg_fits(&w, sizeof(struct dmabuf_cmsg))) {
			sk->stats.ctrunc++;
			ret = devmem_err(-DEVMEM_ETOOSMALL,
					 "fd %d: the control buffer cannot take a cmsg", fd);
		} else {
			ret = (ssize_t)sk_recv_linear(sk, msg, room, &put);
			sk->stats.bytes_linear += (uint64_t)ret;
			if (flags & MSG_SOCK_DEVMEM) {
				struct dmabuf_cmsg dc = { .frag_size = (uint32_t)ret };

				cmsg_put(&w, SOL_SOCKET, SCM_DEVMEM_LINEAR, &dc, sizeof(dc));
			}
		}
	} else if (!(flags & MSG_SOCK_DEVMEM)) {
		/* the kernel's answer to a reader that cannot take dma-buf data */
		ret = devmem_err(-EFAULT,
				 "fd %d: data is in a dma-buf: read it with MSG_SOCK_DEVMEM", fd);
	} else {
		ret = sk_recv_dmabuf(sk, &w, room);
	}
	resume = sk_rx_drained(sk);
	pthread_mutex_unlock(&sk->lock);
	msg->msg_controllen = w.used;
	sk_putter_done(&put);
	if (resume)
		sk->dev->sock_ops->rx_resume(sk->dev, sk->rxq_idx);
	sk_put(sk);
	if (ret < 0) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
}

/* ---- SO_DEVMEM_DONTNEED ---- */

/* The kernel's checks of an SO_DEVMEM_DONTNEED request: the number of entries, or -EINVAL. */
static int sk_dontneed_check(const void *optval, socklen_t optlen)
{
	unsigned int nr;

	if (!optval || optlen == 0 || optlen % sizeof(struct dmabuf_token))
		return devmem_err(-EINVAL,
				  "SO_DEVMEM_DONTNEED: length %u is not a whole number of "
				  "struct dmabuf_token",
				  optlen);
	nr = optlen / sizeof(struct dmabuf_token);
	if (nr > DEVMEM_DONTNEED_MAX_TOKENS)
		return devmem_err(-EINVAL, "SO_DEVMEM_DONTNEED: %u entries (at most %u)", nr,
				  DEVMEM_DONTNEED_MAX_TOKENS);
	return (int)nr;
}

/*
 * Give back the tokens of @optval: the number freed. As the kernel, the
 * request stops at its DEVMEM_DONTNEED_MAX_FRAGS-th fragment (held or not),
 * and tokens not held are skipped.
 */
static int sk_dontneed(struct devmem_sock *sk, const void *optval, socklen_t optlen)
{
	const struct dmabuf_token *tokens = optval;
	struct sk_putter put = { .sk = sk };
	unsigned int frags = 0, freed = 0, unknown = 0;
	int nr = sk_dontneed_check(optval, optlen);

	if (nr < 0)
		return nr;
	pthread_mutex_lock(&sk->lock);
	for (int i = 0; i < nr && frags < DEVMEM_DONTNEED_MAX_FRAGS; i++) {
		uint32_t start = tokens[i].token_start;

		for (uint32_t j = 0; j < tokens[i].token_count; j++) {
			netmem_ref netmem;

			if (frags == DEVMEM_DONTNEED_MAX_FRAGS)
				break;
			frags++;
			/* a range past UINT32_MAX names tokens no one holds */
			netmem = start + j < start ? 0 : sk_token_free(sk, start + j);
			if (!netmem) {
				unknown++;
				continue;
			}
			net_iov_user_put(netmem);
			sk_putter_add(&put, netmem);
			freed++;
		}
	}
	sk->stats.tokens_freed += freed;
	sk->stats.tokens_held -= freed;
	sk->stats.tokens_unknown += unknown;
	pthread_mutex_unlock(&sk->lock);
	sk_putter_done(&put);
	return (int)freed;
}

int devmem_setsockopt(int fd, int level, int optname, const void *optval, socklen_t optlen)
{
	struct devmem_sock *sk;
	int ret;

	if (level != SOL_SOCKET || optname != SO_DEVMEM_DONTNEED)
		return setsockopt(fd, level, optname, optval, optlen);
	sk = sk_lookup(fd);
	if (!sk) {
		int type;
		socklen_t tlen = sizeof(type);

		/* a socket that never received through us holds no token: as the kernel, 0 */
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen))
			return -1;
		if (type != SOCK_STREAM) {
			errno = EBADF;
			return -1;
		}
		ret = sk_dontneed_check(optval, optlen);
		if (ret < 0) {
			errno = -ret;
			return -1;
		}
		return 0;
	}
	ret = sk_dontneed(sk, optval, optlen);
	sk_put(sk);
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return ret;
}

/* ---- close ---- */

int devmem_close(int fd)
{
	struct devmem_sock *sk = sk_lookup(fd);
	struct sk_putter put;

	if (!sk)
		return close(fd);
	sk_table_remove(sk);
	pthread_mutex_lock(&sk->lock);
	sk->closing = true;
	pthread_mutex_unlock(&sk->lock);
	/* the driver stops reading before the fd goes: it must not read a reused fd */
	if (sk->dev && sk->dev->sock_ops)
		sk->dev->sock_ops->detach(sk->dev, sk);

	put = (struct sk_putter){ .sk = sk };
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
	pthread_cond_broadcast(&sk->wait);
	pthread_mutex_unlock(&sk->lock);
	sk_putter_done(&put);
	sk_put(sk); /* ours */
	sk_put(sk); /* the table's */
	return close(fd);
}

/* ---- stats ---- */

int devmem_sock_stats(int fd, struct devmem_sock_stats *stats)
{
	struct devmem_sock *sk;

	if (!stats)
		return -EINVAL;
	sk = sk_lookup(fd);
	if (sk && !sk_is_current(sk)) {
		sk_put(sk);
		sk = NULL;
	}
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

/* Queue completion @id (sk->lock held), merged into the last range when it follows it. */
static void sk_zc_complete(struct devmem_sock *sk, uint32_t id, bool copied)
{
	struct devmem_zc_range *last = sk->errq_len ? &sk->errq[sk->errq_len - 1] : NULL;

	if (last && last->hi + 1 == id && last->copied == copied) {
		last->hi = id;
		return;
	}
	if (sk->errq_len == DEVMEM_SOCK_ERRQ_MAX) {
		/* full: widen the last range rather than lose a completion */
		last->hi = id;
		return;
	}
	sk->errq[sk->errq_len++] = (struct devmem_zc_range){ .lo = id, .hi = id, .copied = copied };
}

static ssize_t sk_recv_errqueue(struct devmem_sock *sk, struct msghdr *msg)
{
	struct cmsg_writer w = { .msg = msg };
	struct sock_extended_err ee = { 0 };
	struct devmem_zc_range r;

	pthread_mutex_lock(&sk->lock);
	if (!sk->errq_len) {
		pthread_mutex_unlock(&sk->lock);
		/* anything else the kernel has for this socket */
		return recvmsg(sk->fd, msg, MSG_ERRQUEUE);
	}
	r = sk->errq[0];
	memmove(&sk->errq[0], &sk->errq[1], (sk->errq_len - 1) * sizeof(sk->errq[0]));
	sk->errq_len--;
	pthread_mutex_unlock(&sk->lock);

	ee.ee_errno = 0;
	ee.ee_origin = SO_EE_ORIGIN_ZEROCOPY;
	ee.ee_code = r.copied ? SO_EE_CODE_ZEROCOPY_COPIED : 0;
	ee.ee_info = r.lo;
	ee.ee_data = r.hi;
	msg->msg_flags = MSG_ERRQUEUE;
	if (sk->family == AF_INET6) {
		if (!cmsg_put(&w, SOL_IPV6, IPV6_RECVERR, &ee, sizeof(ee)))
			msg->msg_flags |= MSG_CTRUNC;
	} else if (!cmsg_put(&w, SOL_IP, IP_RECVERR, &ee, sizeof(ee))) {
		msg->msg_flags |= MSG_CTRUNC;
	}
	msg->msg_controllen = w.used;
	return 0;
}

/* The tx binding id of an SCM_DEVMEM_DMABUF cmsg: 1 and *@id, 0 if none, -EINVAL if malformed. */
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

ssize_t devmem_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct net_devmem_dmabuf_binding *binding = NULL;
	struct devmem_sock *sk;
	size_t total, prefix;
	uint32_t id = 0;
	bool cut;
	ssize_t ret;
	int err, local_if;

	if (!msg) {
		errno = EFAULT;
		return -1;
	}
	err = msg_dmabuf_id(msg, &id);
	if (err == 0)
		return sendmsg(fd, msg, flags);
	/* __copy_msghdr() counts the iovecs before the control data is read */
	if (msg->msg_iovlen > DEVMEM_UIO_MAXIOV) {
		devmem_err(-EMSGSIZE, "sendmsg: %zu iovecs (at most %d)", (size_t)msg->msg_iovlen,
			   DEVMEM_UIO_MAXIOV);
		errno = EMSGSIZE;
		return -1;
	}
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
	sk_zc_complete(sk, sk->zc_next++, false);
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
