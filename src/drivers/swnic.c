// SPDX-License-Identifier: MIT
/*
 * The software NIC (devmem/swnic.h): a net_device shadowing a kernel
 * interface whose rx queues read the kernel TCP sockets steered to them,
 * through io_uring, into their page pools' memory.
 *
 * Threading model
 * ---------------
 * Each rx queue has one driver thread, its NAPI context. It alone touches
 * the queue's io_uring (created on it: SINGLE_ISSUER, DEFER_TASKRUN where
 * the kernel has them), its provided-buffer ring and the running queue
 * memory, and it is the owner of the queue's page pools (allocation and
 * direct recycling). Everything else reaches the queue through commands:
 *
 *   start, stop       the queue management ops (dev->lock held by the caller)
 *   attach, detach    a socket joins or leaves the queue (devmem sockets)
 *   exit              the device goes away
 *
 * A command is queued under cmd_lock and the thread is kicked through an
 * eventfd it always has a read armed on; the caller sleeps until the thread
 * marks the command done. stop and detach complete only when every
 * multishot receive they cancelled has posted its last completion, so no
 * receive is in flight on memory that is about to be freed, or on an fd that
 * is about to be closed.
 *
 * Other threads touch a queue only to give memory back (sockets return
 * fragments to the pools from any thread) and, if the queue stopped reading
 * for want of buffers (starved), to kick it: the thread sets starved, then
 * tries the pool once more; a returner puts its netmems, then reads
 * starved; a full fence on both sides means one of them sees the other.
 *
 * Data path
 * ---------
 * The thread keeps the ring full from the data pool: each netmem is posted
 * at the CPU address the NIC's device translates its device address to
 * (device_translate(): the driver never sees the exporter's pages), under a
 * buffer id that maps back to the netmem. Every socket on the queue has one
 * multishot receive picking buffers from that ring; a completion names the
 * first buffer (and, with bundles, covers the ring entries after it) and
 * becomes fragments on the socket. A receive that finds no buffer ends with
 * ENOBUFS: the data stays in the kernel socket (TCP holds the sender back)
 * and the receive is armed again once the ring has buffers.
 */
#include <errno.h>
#include <liburing.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devmem/swnic.h"
#include "devmem/uapi.h"
#include "lib/compiler.h"
#include "lib/debug.h"
#include "lib/error.h"
#include "lib/list.h"
#include "net/claim.h"
#include "net/devmem.h"
#include "net/netdev.h"
#include "net/owner.h"
#include "net/page_pool.h"
#include "net/sock.h"

#define SWNIC_MAX_QUEUES 64
#define SWNIC_BGID 0 /* one buffer group per ring: the queue's */
#define SWNIC_SQ_ENTRIES 256
#define SWNIC_CQ_ENTRIES 8192
#define SWNIC_DELIVER_BATCH 64 /* fragments handed to a socket at once */
#define SWNIC_COALESCE_CQES 64 /* completions a wakeup of a streaming queue waits for ... */
#define SWNIC_COALESCE_USECS 100 /* ... or this long after the first (rx-usecs) */

/* user_data of the thread's own requests (sockets are pointers, never these) */
#define SWNIC_UD_KICK 1ULL
#define SWNIC_UD_CANCEL 2ULL

enum swnic_cmd_type {
	SWNIC_CMD_START,
	SWNIC_CMD_STOP,
	SWNIC_CMD_ATTACH,
	SWNIC_CMD_DETACH,
	SWNIC_CMD_EXIT,
};

struct swnic_cmd {
	struct list_head list;
	enum swnic_cmd_type type;
	void *arg; /* START, STOP: struct swnic_qmem; ATTACH, DETACH: struct devmem_sock */
	int err;
	bool done; /* protected by cmd_lock */
};

/* A queue's memory: what a restart swaps (the core's per_queue_mem). */
struct swnic_qmem {
	struct page_pool *pool; /* the data pool */
	struct io_uring_buf_ring *br;
	size_t br_bytes;
	unsigned int entries; /* a power of two */
	unsigned int order; /* host pages of PAGE_SIZE << order (unbound queue) */
	netmem_ref *bufs; /* by buffer id: the netmem posted under it, 0 when not in the ring */
	uint32_t *buf_len; /* by buffer id */
	uint16_t *pos_bid; /* ring position & (entries - 1) -> buffer id posted there */
	uint32_t *bid_pos; /* buffer id -> the ring position it was posted at */
	uint16_t *free_bids;
	unsigned int nr_free;
	uint32_t tail; /* positions ever posted */
	bool bound; /* the pool takes a dma-buf provider */
	uint64_t pool_bytes; /* bound: the bytes of the binding's net_iovs; 0: host pages */
};

/* The driver's state for one socket on a queue (thread only, but for sk). */
struct swnic_sock {
	struct list_head node;
	struct devmem_sock *sk; /* referenced */
	bool armed; /* a multishot receive is in flight */
	bool cancel_sent;
	bool finished; /* end of stream or an error delivered: never armed again */
	uint64_t rcvbuf; /* the kernel socket's SO_RCVBUF, as getsockopt() reports it */
	struct swnic_cmd *detach; /* a detach waiting for the last completion */
	unsigned int nr_pending;
	struct devmem_frag pending[SWNIC_DELIVER_BATCH]; /* to deliver at the end of a batch */
	struct list_head dirty; /* in the queue's list of sockets with pending fragments */
};

struct swnic;

struct swnic_rxq {
	struct swnic *nic;
	unsigned int idx;
	pthread_t thread;
	bool thread_started;
	int efd; /* the kick; closed by the destructor */

	pthread_mutex_t cmd_lock;
	pthread_cond_t cmd_cond;
	struct list_head cmds; /* protected by cmd_lock */

	int starved; /* atomic: the thread waits for netmems to come back */
	bool up; /* started and not stopped; protected by dev->lock */
	pthread_mutex_t kick_lock; /* orders kicks against the device going away */

	/* ---- the thread only ---- */
	struct io_uring ring;
	bool ring_ok;
	bool kick_armed;
	uint64_t kick_buf;
	struct swnic_qmem mem; /* running memory; pool NULL while stopped */
	bool running;
	bool coalesce; /* one buffer per completion: wait for several (swnic_wait) */
	bool streaming; /* completions come in a stream: batch them (swnic_wait) */
	bool exiting;
	struct swnic_cmd *stopping; /* a stop waiting for receives to end */
	struct list_head socks; /* struct swnic_sock */
	struct list_head dirty; /* sockets with pending fragments */

	/* written by the thread, read relaxed by devmem_swnic_rxq_stats() */
	struct {
		uint32_t sockets, in_ring;
		uint64_t completions, frags, bytes, posted, starved, restarts;
	} stats;
};

struct swnic {
	struct net_device *netdev; /* the device's own reference is not counted here */
	struct device *dma_dev; /* referenced */
	struct devmem_swnic_opts opts; /* immutable, defaults filled */
	bool bundle; /* immutable: receives take bundles */
	unsigned int host_order; /* immutable */
	struct swnic_rxq *rxqs; /* num_rx_queues */

	pthread_mutex_t lock; /* protects dead */
	bool dead; /* devmem_swnic_destroy() ran: no thread, no command */
};

static struct swnic *swnic_of(const struct net_device *dev)
{
	return *(struct swnic **)netdev_priv(dev);
}

/* ---- commands ---- */

static void swnic_kick(struct swnic_rxq *q)
{
	uint64_t one = 1;
	ssize_t ret;

	do
		ret = write(q->efd, &one, sizeof(one));
	while (ret < 0 && errno == EINTR);
}

/* Run @type on queue @q's thread and wait for it: its error. */
static int swnic_cmd_run(struct swnic_rxq *q, enum swnic_cmd_type type, void *arg)
{
	struct swnic_cmd cmd = { .type = type, .arg = arg };

	pthread_mutex_lock(&q->cmd_lock);
	list_add_tail(&cmd.list, &q->cmds);
	pthread_mutex_unlock(&q->cmd_lock);
	swnic_kick(q);
	pthread_mutex_lock(&q->cmd_lock);
	while (!cmd.done)
		pthread_cond_wait(&q->cmd_cond, &q->cmd_lock);
	pthread_mutex_unlock(&q->cmd_lock);
	return cmd.err;
}

static void swnic_cmd_done(struct swnic_rxq *q, struct swnic_cmd *cmd, int err)
{
	pthread_mutex_lock(&q->cmd_lock);
	cmd->err = err;
	cmd->done = true;
	pthread_cond_broadcast(&q->cmd_cond);
	pthread_mutex_unlock(&q->cmd_lock);
}

/* ---- the buffer ring (queue thread) ---- */

static void swnic_qmem_free_arrays(struct swnic_qmem *mem)
{
	if (mem->br)
		munmap(mem->br, mem->br_bytes);
	free(mem->bufs);
	free(mem->buf_len);
	free(mem->pos_bid);
	free(mem->bid_pos);
	free(mem->free_bids);
	mem->br = NULL;
	mem->bufs = NULL;
	mem->buf_len = NULL;
	mem->pos_bid = NULL;
	mem->bid_pos = NULL;
	mem->free_bids = NULL;
}

static int swnic_qmem_alloc_arrays(struct swnic_qmem *mem, unsigned int entries)
{
	mem->entries = entries;
	mem->br_bytes = (entries * sizeof(struct io_uring_buf) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	mem->br = mmap(NULL, mem->br_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		       0);
	if (mem->br == MAP_FAILED) {
		mem->br = NULL;
		return -ENOMEM;
	}
	/* the kernel reads it: no copy-on-write sharing with a forked child */
	(void)madvise(mem->br, mem->br_bytes, MADV_DONTFORK);
	mem->bufs = calloc(entries, sizeof(*mem->bufs));
	mem->buf_len = calloc(entries, sizeof(*mem->buf_len));
	mem->pos_bid = calloc(entries, sizeof(*mem->pos_bid));
	mem->bid_pos = calloc(entries, sizeof(*mem->bid_pos));
	mem->free_bids = calloc(entries, sizeof(*mem->free_bids));
	if (!mem->bufs || !mem->buf_len || !mem->pos_bid || !mem->bid_pos || !mem->free_bids) {
		swnic_qmem_free_arrays(mem);
		return -ENOMEM;
	}
	io_uring_buf_ring_init(mem->br);
	for (unsigned int i = 0; i < entries; i++)
		mem->free_bids[i] = (uint16_t)(entries - 1 - i);
	mem->nr_free = entries;
	mem->tail = 0;
	return 0;
}

/* Post one netmem to the ring at @i positions past the tail: false if the NIC cannot reach it. */
static bool swnic_post(struct swnic *nic, struct swnic_qmem *mem, netmem_ref netmem, unsigned int i)
{
	size_t len = netmem_is_net_iov(netmem) ? net_iov_size(netmem_to_net_iov(netmem)) :
						 PAGE_SIZE << mem->order;
	uint32_t pos = mem->tail + i;
	void *cpu;
	uint16_t bid;

	/* the device's view of its own address: a fault if the mapping is gone */
	if (device_translate(nic->dma_dev, netmem_get_dma_addr(netmem), len, DMA_FROM_DEVICE, &cpu))
		return false;
	bid = mem->free_bids[--mem->nr_free];
	mem->bufs[bid] = netmem;
	mem->buf_len[bid] = (uint32_t)len;
	mem->pos_bid[pos & (mem->entries - 1)] = bid;
	mem->bid_pos[bid] = pos;
	io_uring_buf_ring_add(mem->br, cpu, (unsigned int)len, bid,
			      io_uring_buf_ring_mask(mem->entries), (int)i);
	return true;
}

/* Fill the ring from the pool: how many were posted. */
static unsigned int swnic_refill(struct swnic_rxq *q)
{
	struct swnic_qmem *mem = &q->mem;
	unsigned int n = 0;

	while (mem->nr_free) {
		netmem_ref netmem = page_pool_alloc_netmems(mem->pool);

		if (!netmem) {
			/*
			 * Tell returners to kick us, then look once more (see the
			 * top): the locked exchange orders the flag before the
			 * pool's loads, as a full fence would (and ThreadSanitizer
			 * follows it, which it does not a fence).
			 */
			__atomic_exchange_n(&q->starved, 1, __ATOMIC_SEQ_CST);
			netmem = page_pool_alloc_netmems(mem->pool);
			if (!netmem) {
				WRITE_ONCE(q->stats.starved, q->stats.starved + 1);
				break;
			}
			__atomic_store_n(&q->starved, 0, __ATOMIC_RELAXED);
		}
		if (!swnic_post(q->nic, mem, netmem, n)) {
			page_pool_recycle_direct(mem->pool, netmem);
			break;
		}
		n++;
	}
	if (n) {
		io_uring_buf_ring_advance(mem->br, (int)n);
		mem->tail += n;
		WRITE_ONCE(q->stats.posted, q->stats.posted + n);
	}
	WRITE_ONCE(q->stats.in_ring, mem->entries - mem->nr_free);
	return n;
}

/* Buffer @bid left the ring: its netmem (the ring's pool reference moves to the caller). */
static netmem_ref swnic_take(struct swnic_qmem *mem, uint16_t bid)
{
	netmem_ref netmem = mem->bufs[bid];

	DEVMEM_BUG_ON(!netmem);
	mem->bufs[bid] = 0;
	mem->free_bids[mem->nr_free++] = bid;
	return netmem;
}

/* ---- sockets (queue thread) ---- */

static void swnic_cancel(struct swnic_rxq *q, struct swnic_sock *s);

static void swnic_flush(struct swnic_rxq *q, struct swnic_sock *s)
{
	bool full;

	if (!s->nr_pending)
		return;
	full = sk_deliver(s->sk, s->pending, s->nr_pending);
	s->nr_pending = 0;
	list_del_init(&s->dirty);
	/*
	 * The socket's receive buffer is full: leave the rest in the kernel
	 * socket. Submit the cancel now rather than with the next wait: until
	 * it lands the multishot receive goes on taking buffers for a socket
	 * that is over its limit.
	 */
	if (full && s->armed && !s->cancel_sent) {
		swnic_cancel(q, s);
		io_uring_submit(&q->ring);
	}
}

static void swnic_queue_frag(struct swnic_rxq *q, struct swnic_sock *s, netmem_ref netmem,
			     uint32_t len)
{
	if (s->nr_pending == SWNIC_DELIVER_BATCH)
		swnic_flush(q, s);
	if (!s->nr_pending)
		list_add_tail(&s->dirty, &q->dirty);
	s->pending[s->nr_pending++] = (struct devmem_frag){ .netmem = netmem, .len = len };
}

static void swnic_flush_all(struct swnic_rxq *q)
{
	struct swnic_sock *s, *tmp;

	list_for_each_entry_safe(s, tmp, &q->dirty, dirty)
		swnic_flush(q, s);
}

/*
 * The receive limit of socket @s (sk_set_rx_limit()). The kernel stops
 * taking data into a socket when what it holds unread reaches sk_rcvbuf;
 * the kernel socket's own SO_RCVBUF (which TCP autotuning grows, and which
 * a setsockopt() fixes) is that figure here. On a bound queue there is a
 * second bound: the queue has only the dma-buf's net_iovs, and a socket that
 * nobody reads must not take them all and stall every other socket of the
 * queue, so each socket holds at most an equal share of them, one share
 * being kept for the ring and the fragments users hold.
 */
static void swnic_sock_limit(struct swnic_rxq *q, struct swnic_sock *s)
{
	uint64_t limit = s->rcvbuf ? s->rcvbuf : DEVMEM_SOCK_RCVBUF;

	if (q->mem.pool_bytes)
		limit = min(limit, q->mem.pool_bytes / (q->stats.sockets + 1));
	sk_set_rx_limit(s->sk, max(limit, (uint64_t)PAGE_SIZE));
}

/* The queue's sockets or memory changed: every socket's share with them. */
static void swnic_sock_limits(struct swnic_rxq *q)
{
	struct swnic_sock *s;

	list_for_each_entry(s, &q->socks, node)
		swnic_sock_limit(q, s);
}

/* Read the kernel socket's SO_RCVBUF again: autotuning may have grown it. */
static void swnic_sock_rcvbuf(struct swnic_rxq *q, struct swnic_sock *s)
{
	int val = 0;
	socklen_t len = sizeof(val);

	if (!getsockopt(s->sk->fd, SOL_SOCKET, SO_RCVBUF, &val, &len) && val > 0)
		s->rcvbuf = (uint64_t)val;
	swnic_sock_limit(q, s);
}

static void swnic_arm(struct swnic_rxq *q, struct swnic_sock *s)
{
	struct io_uring_sqe *sqe;

	if (s->armed || s->finished || s->detach || !q->running || q->stopping)
		return;
	/* read down to half first (sk_rx_drained()), then rx_resume() kicks us */
	if (__atomic_load_n(&s->sk->rx_throttled, __ATOMIC_RELAXED))
		return;
	swnic_sock_rcvbuf(q, s);
	if (q->mem.nr_free == q->mem.entries)
		return; /* no buffer: armed once the ring has some */
	sqe = io_uring_get_sqe(&q->ring);
	if (!sqe) {
		io_uring_submit(&q->ring);
		sqe = io_uring_get_sqe(&q->ring);
		if (!sqe)
			return;
	}
	io_uring_prep_recv_multishot(sqe, s->sk->rx_fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = SWNIC_BGID;
	if (q->nic->bundle)
		sqe->ioprio |= IORING_RECVSEND_BUNDLE;
	io_uring_sqe_set_data(sqe, s);
	s->armed = true;
}

static void swnic_cancel(struct swnic_rxq *q, struct swnic_sock *s)
{
	struct io_uring_sqe *sqe;

	if (!s->armed || s->cancel_sent)
		return;
	sqe = io_uring_get_sqe(&q->ring);
	if (!sqe) {
		io_uring_submit(&q->ring);
		sqe = io_uring_get_sqe(&q->ring);
	}
	DEVMEM_BUG_ON(!sqe);
	io_uring_prep_cancel(sqe, s, 0);
	io_uring_sqe_set_data64(sqe, SWNIC_UD_CANCEL);
	s->cancel_sent = true;
}

/* The socket's receive is no longer in flight: finish a detach or a stop waiting for it. */
static void swnic_receive_ended(struct swnic_rxq *q, struct swnic_sock *s)
{
	s->armed = false;
	s->cancel_sent = false;
	if (s->detach) {
		struct swnic_cmd *cmd = s->detach;

		swnic_flush(q, s);
		list_del(&s->node);
		WRITE_ONCE(q->stats.sockets, q->stats.sockets - 1);
		sk_put(s->sk);
		free(s);
		swnic_sock_limits(q); /* the others' shares grow */
		swnic_cmd_done(q, cmd, 0);
	}
}

/* A receive completion for socket @s. */
static void swnic_complete(struct swnic_rxq *q, struct swnic_sock *s,
			   const struct io_uring_cqe *cqe)
{
	struct swnic_qmem *mem = &q->mem;
	bool more = cqe->flags & IORING_CQE_F_MORE;

	WRITE_ONCE(q->stats.completions, q->stats.completions + 1);
	if (cqe->res > 0) {
		uint32_t left = (uint32_t)cqe->res;
		uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		uint32_t pos = mem->bid_pos[bid];
		unsigned int n = 0;

		DEVMEM_BUG_ON(!(cqe->flags & IORING_CQE_F_BUFFER));
		/* a bundle covers the ring entries from the first buffer on, in order */
		while (left) {
			uint16_t b = mem->pos_bid[(pos + n) & (mem->entries - 1)];
			uint32_t len = mem->buf_len[b] < left ? mem->buf_len[b] : left;
			netmem_ref netmem = swnic_take(mem, b);

			/* the bytes landed: say so, in case they landed on a held fragment */
			net_devmem_rx_written(netmem, len);
			swnic_queue_frag(q, s, netmem, len);
			left -= len;
			n++;
		}
		WRITE_ONCE(q->stats.frags, q->stats.frags + n);
		WRITE_ONCE(q->stats.bytes, q->stats.bytes + (uint64_t)cqe->res);
	} else if (cqe->res == 0) {
		swnic_flush(q, s);
		s->finished = true;
		sk_set_eof(s->sk, 0);
	} else if (cqe->res != -ENOBUFS && cqe->res != -ECANCELED) {
		swnic_flush(q, s);
		s->finished = true;
		sk_set_eof(s->sk, -cqe->res);
	}
	if (!more)
		swnic_receive_ended(q, s);
}

static int swnic_attach_sock(struct swnic_rxq *q, struct devmem_sock *sk)
{
	struct swnic_sock *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->sk = sk;
	INIT_LIST_HEAD(&s->dirty);
	sk->drv = s;
	list_add_tail(&s->node, &q->socks);
	WRITE_ONCE(q->stats.sockets, q->stats.sockets + 1);
	swnic_sock_limits(q); /* the others' shares shrink */
	swnic_arm(q, s);
	return 0;
}

/* Start the detach of @sk: done now, or when its receive ends. */
static void swnic_detach_sock(struct swnic_rxq *q, struct swnic_cmd *cmd)
{
	struct devmem_sock *sk = cmd->arg;
	struct swnic_sock *s = sk->drv;

	s->detach = cmd;
	if (!s->armed) {
		swnic_receive_ended(q, s);
		return;
	}
	swnic_cancel(q, s);
}

/* ---- start and stop (queue thread) ---- */

static int swnic_start(struct swnic_rxq *q, struct swnic_qmem *mem)
{
	struct io_uring_buf_reg reg = {
		.ring_addr = (unsigned long)mem->br,
		.ring_entries = mem->entries,
		.bgid = SWNIC_BGID,
	};
	struct swnic_sock *s;
	int err;

	err = io_uring_register_buf_ring(&q->ring, &reg, 0);
	if (err)
		return devmem_err(err, "%s: rx queue %u: cannot register its buffer ring",
				  q->nic->netdev->name, q->idx);
	q->mem = *mem;
	*mem = (struct swnic_qmem){ 0 };
	q->running = true;
	WRITE_ONCE(q->stats.restarts, q->stats.restarts + 1);
	swnic_refill(q);
	swnic_sock_limits(q); /* bound or not, the memory changed */
	list_for_each_entry(s, &q->socks, node)
		swnic_arm(q, s);
	return 0;
}

/* Every receive has ended: give the ring's netmems back and hand the memory out. */
static void swnic_stop_finish(struct swnic_rxq *q)
{
	struct swnic_cmd *cmd = q->stopping;
	struct swnic_qmem *mem = &q->mem;

	io_uring_unregister_buf_ring(&q->ring, SWNIC_BGID);
	for (unsigned int bid = 0; bid < mem->entries; bid++) {
		if (mem->bufs[bid])
			page_pool_recycle_direct(mem->pool, swnic_take(mem, (uint16_t)bid));
	}
	*(struct swnic_qmem *)cmd->arg = *mem;
	*mem = (struct swnic_qmem){ 0 };
	q->running = false;
	q->stopping = NULL;
	__atomic_store_n(&q->starved, 0, __ATOMIC_RELAXED);
	WRITE_ONCE(q->stats.in_ring, 0);
	swnic_cmd_done(q, cmd, 0);
}

static bool swnic_any_armed(struct swnic_rxq *q)
{
	struct swnic_sock *s;

	list_for_each_entry(s, &q->socks, node)
		if (s->armed)
			return true;
	return false;
}

static void swnic_stop(struct swnic_rxq *q, struct swnic_cmd *cmd)
{
	struct swnic_sock *s;

	q->stopping = cmd;
	list_for_each_entry(s, &q->socks, node)
		swnic_cancel(q, s);
	if (!swnic_any_armed(q))
		swnic_stop_finish(q);
}

/* The device goes away: no socket is read any more (they are read plainly). */
static void swnic_exit(struct swnic_rxq *q)
{
	struct swnic_sock *s, *tmp;

	DEVMEM_BUG_ON(q->running);
	list_for_each_entry_safe(s, tmp, &q->socks, node) {
		DEVMEM_BUG_ON(s->armed);
		swnic_flush(q, s);
		list_del(&s->node);
		s->sk->drv = NULL;
		sk_orphan(s->sk);
		if (s->detach)
			swnic_cmd_done(q, s->detach, 0);
		free(s);
	}
	WRITE_ONCE(q->stats.sockets, 0);
	q->exiting = true;
}

static void swnic_run_cmds(struct swnic_rxq *q)
{
	for (;;) {
		struct swnic_cmd *cmd;

		pthread_mutex_lock(&q->cmd_lock);
		cmd = list_empty(&q->cmds) ? NULL :
					     list_first_entry(&q->cmds, struct swnic_cmd, list);
		if (cmd)
			list_del(&cmd->list);
		pthread_mutex_unlock(&q->cmd_lock);
		if (!cmd)
			return;

		switch (cmd->type) {
		case SWNIC_CMD_START:
			swnic_cmd_done(q, cmd, swnic_start(q, cmd->arg));
			break;
		case SWNIC_CMD_STOP:
			swnic_stop(q, cmd);
			break;
		case SWNIC_CMD_ATTACH:
			swnic_cmd_done(q, cmd, swnic_attach_sock(q, cmd->arg));
			break;
		case SWNIC_CMD_DETACH:
			swnic_detach_sock(q, cmd);
			break;
		case SWNIC_CMD_EXIT:
			swnic_exit(q);
			swnic_cmd_done(q, cmd, 0);
			break;
		}
	}
}

/* ---- the queue thread ---- */

static void swnic_arm_kick(struct swnic_rxq *q)
{
	struct io_uring_sqe *sqe;

	if (q->kick_armed)
		return;
	sqe = io_uring_get_sqe(&q->ring);
	if (!sqe) {
		io_uring_submit(&q->ring);
		sqe = io_uring_get_sqe(&q->ring);
		if (!sqe)
			return;
	}
	io_uring_prep_read(sqe, q->efd, &q->kick_buf, sizeof(q->kick_buf), 0);
	io_uring_sqe_set_data64(sqe, SWNIC_UD_KICK);
	q->kick_armed = true;
}

static void swnic_reap(struct swnic_rxq *q)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;

	io_uring_for_each_cqe(&q->ring, head, cqe)
	{
		n++;
		if (cqe->user_data == SWNIC_UD_KICK) {
			q->kick_armed = false;
			continue;
		}
		if (cqe->user_data == SWNIC_UD_CANCEL)
			continue;
		swnic_complete(q, io_uring_cqe_get_data(cqe), cqe);
	}
	io_uring_cq_advance(&q->ring, n);
	swnic_flush_all(q);
}

/*
 * Wait for completions as a NIC moderates interrupts, adaptively. While
 * completions come in a stream (the last wakeup found more than one ready),
 * a wakeup waits for SWNIC_COALESCE_CQES of them or SWNIC_COALESCE_USECS
 * after the first, whichever comes first (with DEFER_TASKRUN the kernel
 * wakes us only then): the stream is received, and handed to its sockets,
 * in batches, with a wakeup of the queue and of the reader per batch
 * rather than per buffer. Sparse traffic (request and response) is handled
 * at once: one wait that ends on the timeout turns the batching off until
 * the stream is back.
 */
static int swnic_wait(struct swnic_rxq *q)
{
	struct __kernel_timespec ts = { .tv_nsec = SWNIC_COALESCE_USECS * 1000 };
	struct io_uring_cqe *cqe;
	unsigned int ready;
	int err;

	err = io_uring_submit_and_wait(&q->ring, 1);
	if (err < 0 || !q->running || !q->coalesce)
		return err;
	ready = io_uring_cq_ready(&q->ring);
	if (ready >= SWNIC_COALESCE_CQES)
		return 0;
	if (!q->streaming) {
		q->streaming = ready > 1;
		return 0;
	}
	err = io_uring_wait_cqes(&q->ring, &cqe, SWNIC_COALESCE_CQES, &ts, NULL);
	q->streaming = io_uring_cq_ready(&q->ring) >= SWNIC_COALESCE_CQES;
	return err == -ETIME ? 0 : err;
}

struct swnic_thread_start {
	struct swnic_rxq *q;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int err;
};

static int swnic_ring_init(struct swnic_rxq *q)
{
	struct io_uring_params p = { 0 };
	int err;

	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	p.cq_entries = SWNIC_CQ_ENTRIES;
	err = io_uring_queue_init_params(SWNIC_SQ_ENTRIES, &q->ring, &p);
	if (err == -EINVAL) {
		/* a kernel before 6.1: the ring works without them, a little slower */
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = SWNIC_CQ_ENTRIES;
		err = io_uring_queue_init_params(SWNIC_SQ_ENTRIES, &q->ring, &p);
	}
	if (err)
		return err;
	if (q->nic->bundle && !(p.features & IORING_FEAT_RECVSEND_BUNDLE)) {
		io_uring_queue_exit(&q->ring);
		return -EOPNOTSUPP;
	}
	q->ring_ok = true;
	/* bundles batch by themselves; the timeout needs EXT_ARG (5.11) */
	q->coalesce = !q->nic->bundle && (p.features & IORING_FEAT_EXT_ARG);
	return 0;
}

static void *swnic_thread(void *arg)
{
	struct swnic_thread_start *start = arg;
	struct swnic_rxq *q = start->q;
	char name[32];
	int err;

	/* as the kernel names threaded NAPI: napi/<dev>-<queue>, cut to 15 characters */
	snprintf(name, sizeof(name), "napi/%s-%u", q->nic->netdev->name, q->idx);
	name[15] = '\0';
	pthread_setname_np(pthread_self(), name);
	err = swnic_ring_init(q);
	pthread_mutex_lock(&start->lock);
	start->err = err;
	start->done = true;
	pthread_cond_signal(&start->cond);
	pthread_mutex_unlock(&start->lock);
	if (err)
		return NULL;

	while (!q->exiting) {
		swnic_run_cmds(q);
		if (q->exiting)
			break;
		if (q->running && !q->stopping) {
			struct swnic_sock *s;

			/*
			 * Arm whatever is not armed whenever the ring has buffers
			 * (swnic_arm() checks): "starved" says only that the pool
			 * was empty at the last refill, which it also is when every
			 * netmem already waits in the ring, and no return will then
			 * come to kick us.
			 */
			swnic_refill(q);
			list_for_each_entry(s, &q->socks, node)
				swnic_arm(q, s);
		}
		swnic_arm_kick(q);
		err = swnic_wait(q);
		if (err < 0 && err != -EINTR && err != -EAGAIN && err != -EBUSY && err != -ETIME)
			DEVMEM_BUG_ON(err);
		swnic_reap(q);
		if (q->stopping && !swnic_any_armed(q))
			swnic_stop_finish(q);
	}
	return NULL;
}

static int swnic_rxq_init(struct swnic *nic, unsigned int idx)
{
	struct swnic_rxq *q = &nic->rxqs[idx];
	struct swnic_thread_start start = { .q = q };
	int err;

	q->nic = nic;
	q->idx = idx;
	INIT_LIST_HEAD(&q->cmds);
	INIT_LIST_HEAD(&q->socks);
	INIT_LIST_HEAD(&q->dirty);
	pthread_mutex_init(&q->cmd_lock, NULL);
	pthread_cond_init(&q->cmd_cond, NULL);
	pthread_mutex_init(&q->kick_lock, NULL);
	q->efd = eventfd(0, EFD_CLOEXEC);
	if (q->efd < 0)
		return devmem_err(-errno, "%s: rx queue %u: eventfd: %s", nic->netdev->name, idx,
				  strerror(errno));
	pthread_mutex_init(&start.lock, NULL);
	pthread_cond_init(&start.cond, NULL);
	err = -pthread_create(&q->thread, NULL, swnic_thread, &start);
	if (!err) {
		pthread_mutex_lock(&start.lock);
		while (!start.done)
			pthread_cond_wait(&start.cond, &start.lock);
		pthread_mutex_unlock(&start.lock);
		err = start.err;
		q->thread_started = true;
		if (err) {
			pthread_join(q->thread, NULL);
			q->thread_started = false;
		}
	}
	pthread_cond_destroy(&start.cond);
	pthread_mutex_destroy(&start.lock);
	if (err == -EOPNOTSUPP)
		return devmem_err(err, "%s: the running kernel has no bundle receives",
				  nic->netdev->name);
	if (err)
		return devmem_err(err, "%s: rx queue %u: cannot set up its io_uring: %s",
				  nic->netdev->name, idx, strerror(-err));
	return 0;
}

/* Stop queue @q's thread (its queue stopped, memory freed). */
static void swnic_rxq_exit(struct swnic_rxq *q)
{
	if (!q->thread_started)
		return;
	swnic_cmd_run(q, SWNIC_CMD_EXIT, NULL);
	pthread_join(q->thread, NULL);
	q->thread_started = false;
	if (q->ring_ok)
		io_uring_queue_exit(&q->ring);
	q->ring_ok = false;
}

/* ---- queue management ops (dev->lock held) ---- */

static int swnic_queue_mem_alloc(struct net_device *dev, void *per_queue_mem, int idx)
{
	struct swnic *nic = swnic_of(dev);
	struct swnic_qmem *mem = per_queue_mem;
	struct netdev_rx_queue *rxq = __netif_get_rx_queue(dev, (unsigned int)idx);
	struct page_pool_params p = {
		.flags = PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV | PP_FLAG_ALLOW_UNREADABLE_NETMEM,
		.pool_size = nic->opts.pool_size,
		.owner = nic->rxqs[idx].thread,
		.dma_dir = DMA_FROM_DEVICE,
	};
	int err;

	netdev_assert_locked(dev);
	netdev_rxq_pp_params(rxq, &p);
	mem->bound = rxq->mp_params.mp_ops != NULL;
	if (mem->bound && rxq->mp_params.mp_ops == &dmabuf_devmem_ops) {
		const struct net_devmem_dmabuf_binding *binding = rxq->mp_params.mp_priv;

		mem->pool_bytes = (uint64_t)binding->nr_niovs << binding->niov_shift;
	}
	/* a provider's buffers are its net_iov size; host pages may be larger */
	if (!mem->bound)
		mem->order = nic->host_order;
	else if (rxq->mp_params.rx_page_size)
		mem->order = (unsigned int)__builtin_ctz(rxq->mp_params.rx_page_size) - PAGE_SHIFT;
	else
		mem->order = 0;
	p.order = mem->order;
	p.max_len = (unsigned int)(PAGE_SIZE << mem->order);
	err = swnic_qmem_alloc_arrays(mem, nic->opts.ring_entries);
	if (err)
		return devmem_err(err, "%s: rx queue %d: out of memory", dev->name, idx);
	err = page_pool_create(&p, &mem->pool);
	if (err) {
		swnic_qmem_free_arrays(mem);
		return err;
	}
	return 0;
}

static void swnic_queue_mem_free(struct net_device *dev, void *per_queue_mem)
{
	struct swnic_qmem *mem = per_queue_mem;

	netdev_assert_locked(dev);
	page_pool_destroy(mem->pool);
	swnic_qmem_free_arrays(mem);
	*mem = (struct swnic_qmem){ 0 };
}

/* Start or stop queue @idx on its thread; @up: whether it runs after success. */
static int swnic_queue_cmd(struct net_device *dev, void *per_queue_mem, int idx,
			   enum swnic_cmd_type type, bool up)
{
	struct swnic_rxq *q = &swnic_of(dev)->rxqs[idx];
	int err;

	netdev_assert_locked(dev);
	err = swnic_cmd_run(q, type, per_queue_mem);
	if (!err)
		q->up = up;
	return err;
}

static int swnic_queue_start(struct net_device *dev, void *per_queue_mem, int idx)
{
	return swnic_queue_cmd(dev, per_queue_mem, idx, SWNIC_CMD_START, true);
}

static int swnic_queue_stop(struct net_device *dev, void *per_queue_mem, int idx)
{
	return swnic_queue_cmd(dev, per_queue_mem, idx, SWNIC_CMD_STOP, false);
}

static const struct netdev_queue_mgmt_ops swnic_queue_mgmt_ops = {
	.ndo_queue_mem_size = sizeof(struct swnic_qmem),
	.supported_params = QCFG_RX_PAGE_SIZE,
	.ndo_queue_mem_alloc = swnic_queue_mem_alloc,
	.ndo_queue_mem_free = swnic_queue_mem_free,
	.ndo_queue_start = swnic_queue_start,
	.ndo_queue_stop = swnic_queue_stop,
};

/* ---- socket ops ---- */

static int swnic_sock_attach(struct net_device *dev, unsigned int rxq, struct devmem_sock *sk)
{
	struct swnic *nic = swnic_of(dev);
	int err;

	pthread_mutex_lock(&nic->lock);
	if (nic->dead) {
		pthread_mutex_unlock(&nic->lock);
		return devmem_err(-ENODEV, "%s: the software NIC is gone", dev->name);
	}
	sk_hold(sk); /* the driver's, until the detach completes */
	err = swnic_cmd_run(&nic->rxqs[rxq], SWNIC_CMD_ATTACH, sk);
	pthread_mutex_unlock(&nic->lock);
	if (err)
		sk_put(sk);
	return err;
}

static void swnic_sock_detach(struct net_device *dev, struct devmem_sock *sk)
{
	struct swnic *nic = swnic_of(dev);

	/* nic->lock: a dead device already gave the socket up (sk_orphan) */
	pthread_mutex_lock(&nic->lock);
	if (!nic->dead)
		swnic_cmd_run(&nic->rxqs[sk->rxq_idx], SWNIC_CMD_DETACH, sk);
	pthread_mutex_unlock(&nic->lock);
}

static void swnic_rxq_returned(struct net_device *dev, unsigned int idx)
{
	struct swnic_rxq *q = &swnic_of(dev)->rxqs[idx];

	/*
	 * Pairs with the exchange in swnic_refill(): a locked read-modify-write
	 * orders our puts before the read of the flag, so the queue sees the
	 * netmems or we see it starved.
	 */
	if (!__atomic_fetch_or(&q->starved, 0, __ATOMIC_SEQ_CST) ||
	    !__atomic_exchange_n(&q->starved, 0, __ATOMIC_ACQ_REL))
		return;
	pthread_mutex_lock(&q->kick_lock);
	if (q->efd >= 0)
		swnic_kick(q);
	pthread_mutex_unlock(&q->kick_lock);
}

static void swnic_rx_resume(struct net_device *dev, unsigned int idx)
{
	struct swnic_rxq *q = &swnic_of(dev)->rxqs[idx];

	pthread_mutex_lock(&q->kick_lock);
	if (q->efd >= 0)
		swnic_kick(q);
	pthread_mutex_unlock(&q->kick_lock);
}

/* The CPU ranges of a send: on the stack for the usual few, on the heap beyond. */
#define SWNIC_TX_INLINE_IOVS 16

struct swnic_tx_iov {
	struct iovec *v; /* inline_v, or a heap array of cap entries */
	size_t nr, cap;
	struct iovec inline_v[SWNIC_TX_INLINE_IOVS];
};

static void swnic_tx_iov_init(struct swnic_tx_iov *t)
{
	t->v = t->inline_v;
	t->nr = 0;
	t->cap = SWNIC_TX_INLINE_IOVS;
}

static void swnic_tx_iov_free(struct swnic_tx_iov *t)
{
	if (t->v != t->inline_v)
		free(t->v);
}

/* Append [cpu, cpu + n), merged with the last range when contiguous: 0 or -ENOMEM. */
static int swnic_tx_iov_add(struct swnic_tx_iov *t, void *cpu, size_t n)
{
	struct iovec *last = t->nr ? &t->v[t->nr - 1] : NULL;

	if (last && (char *)last->iov_base + last->iov_len == cpu) {
		last->iov_len += n;
		return 0;
	}
	if (t->nr == t->cap) {
		struct iovec *v = malloc(2 * t->cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		memcpy(v, t->v, t->nr * sizeof(*v));
		swnic_tx_iov_free(t);
		t->v = v;
		t->cap *= 2;
	}
	t->v[t->nr++] = (struct iovec){ .iov_base = cpu, .iov_len = n };
	return 0;
}

/*
 * The CPU ranges of [off, off + len) of the tx binding's buffer, as the NIC
 * reaches them, appended to @t. -EFAULT if the device cannot read a piece.
 */
static int swnic_tx_ranges(struct swnic *nic, struct net_devmem_dmabuf_binding *binding, size_t off,
			   size_t len, struct swnic_tx_iov *t)
{
	while (len) {
		size_t niov_off, niov_left, n;
		struct net_iov *niov = net_devmem_get_niov_at(binding, off, &niov_off, &niov_left);
		void *cpu;
		int err;

		if (!niov)
			return devmem_err(-EFAULT, "sendmsg: offset %zu is beyond the dma-buf",
					  off);
		n = len < niov_left ? len : niov_left;
		err = device_translate(nic->dma_dev, niov->desc.dma_addr + niov_off, n,
				       DMA_TO_DEVICE, &cpu);
		if (!err)
			err = swnic_tx_iov_add(t, cpu, n);
		if (err)
			return err;
		off += n;
		len -= n;
	}
	return 0;
}

static ssize_t swnic_send_dmabuf(struct net_device *dev, int fd,
				 struct net_devmem_dmabuf_binding *binding,
				 const struct msghdr *msg, int flags)
{
	struct swnic *nic = swnic_of(dev);
	struct swnic_tx_iov t;
	size_t total = 0;
	struct msghdr m = { 0 };
	bool dead;
	ssize_t ret;
	int err = 0;

	swnic_tx_iov_init(&t);
	for (size_t i = 0; i < msg->msg_iovlen && !err; i++) {
		err = swnic_tx_ranges(nic, binding, (uintptr_t)msg->msg_iov[i].iov_base,
				      msg->msg_iov[i].iov_len, &t);
		total += msg->msg_iov[i].iov_len;
	}
	if (err || !total) {
		swnic_tx_iov_free(&t);
		return err;
	}
	m.msg_name = msg->msg_name;
	m.msg_namelen = msg->msg_namelen;
	m.msg_iov = t.v;
	m.msg_iovlen = t.nr;
	pthread_mutex_lock(&nic->lock);
	dead = nic->dead;
	pthread_mutex_unlock(&nic->lock);
	if (dead) {
		ret = devmem_err(-ENODEV, "%s: the software NIC is gone", dev->name);
	} else {
		/*
		 * The kernel's own zerocopy send from the translated addresses:
		 * it blocks, or not, and cuts the send short exactly as a TCP
		 * send does, and its completions arrive on the socket's error
		 * queue (with poll()'s POLLERR) as on a devmem NIC. The caller
		 * checked MSG_ZEROCOPY and SO_ZEROCOPY.
		 */
		ret = sendmsg(fd, &m, flags);
		if (ret < 0)
			ret = devmem_err(-errno, "sendmsg: %s", strerror(errno));
	}
	swnic_tx_iov_free(&t);
	return ret;
}

static const struct netdev_sock_ops swnic_sock_ops = {
	.attach = swnic_sock_attach,
	.detach = swnic_sock_detach,
	.rxq_returned = swnic_rxq_returned,
	.rx_resume = swnic_rx_resume,
	.send_dmabuf = swnic_send_dmabuf,
};

/* ---- create and destroy ---- */

static void swnic_destructor(struct net_device *dev)
{
	struct swnic *nic = swnic_of(dev);

	if (!nic)
		return;
	for (unsigned int i = 0; nic->rxqs && i < dev->num_rx_queues; i++) {
		struct swnic_rxq *q = &nic->rxqs[i];

		if (q->efd >= 0)
			close(q->efd);
		pthread_mutex_destroy(&q->kick_lock);
		pthread_mutex_destroy(&q->cmd_lock);
		pthread_cond_destroy(&q->cmd_cond);
	}
	free(nic->rxqs);
	pthread_mutex_destroy(&nic->lock);
	device_put(nic->dma_dev);
	free(nic);
}

_Static_assert(DEVMEM_SWNIC_DOMAIN_MAX == NETDEV_CLAIM_DOMAIN_MAX, "one limit for domains");

/*
 * The process's choice for NICs created with DEVMEM_SWNIC_SHARED_DEFAULT:
 * devmem_swnic_set_shared(), else the environment, read once. Control
 * path only; protected by swnic_shared_lock.
 */
static pthread_mutex_t swnic_shared_lock = PTHREAD_MUTEX_INITIALIZER;
static bool swnic_shared_known;
static bool swnic_shared;
static char swnic_shared_domain[DEVMEM_SWNIC_DOMAIN_MAX + 1];
static char swnic_shared_env_bad[160]; /* why the variable was refused; "" when it was not */

/* swnic_shared_lock held */
static void swnic_shared_read_env(void)
{
	const char *v = getenv("DEVMEM_SWNIC_SHARED");

	swnic_shared_known = true;
	if (!v || !*v || !strcmp(v, "0"))
		return;
	if (!strcmp(v, "1")) {
		swnic_shared = true;
		return;
	}
	if (netdev_claim_domain_check(v)) {
		snprintf(swnic_shared_env_bad, sizeof(swnic_shared_env_bad),
			 "DEVMEM_SWNIC_SHARED: %s", devmem_last_error());
		return;
	}
	swnic_shared = true;
	snprintf(swnic_shared_domain, sizeof(swnic_shared_domain), "%s", v);
}

int devmem_swnic_set_shared(bool shared, const char *domain)
{
	if (shared && domain && netdev_claim_domain_check(domain))
		return -EINVAL;
	pthread_mutex_lock(&swnic_shared_lock);
	swnic_shared_known = true;
	swnic_shared = shared;
	swnic_shared_env_bad[0] = '\0';
	snprintf(swnic_shared_domain, sizeof(swnic_shared_domain), "%s",
		 shared && domain ? domain : "");
	pthread_mutex_unlock(&swnic_shared_lock);
	return 0;
}

/*
 * The claim domain of a NIC created with @opts into @domain (a
 * DEVMEM_SWNIC_DOMAIN_MAX + 1 buffer): 1 when shared, 0 when not, or
 * -EINVAL when the environment asked for it with a bad domain.
 */
static int swnic_shared_resolve(const struct devmem_swnic_opts *opts, char *domain)
{
	int ret;

	domain[0] = '\0';
	if (opts->shared == DEVMEM_SWNIC_SHARED_OFF)
		return 0;
	if (opts->shared == DEVMEM_SWNIC_SHARED_ON) {
		if (opts->shared_domain)
			snprintf(domain, DEVMEM_SWNIC_DOMAIN_MAX + 1, "%s", opts->shared_domain);
		return 1;
	}
	pthread_mutex_lock(&swnic_shared_lock);
	if (!swnic_shared_known)
		swnic_shared_read_env();
	if (swnic_shared_env_bad[0]) {
		ret = devmem_err(-EINVAL, "swnic: %s", swnic_shared_env_bad);
	} else {
		ret = swnic_shared;
		memcpy(domain, swnic_shared_domain, sizeof(swnic_shared_domain));
	}
	pthread_mutex_unlock(&swnic_shared_lock);
	return ret;
}

static int swnic_check_opts(const struct devmem_swnic_opts *in, struct devmem_swnic_opts *out)
{
	*out = (struct devmem_swnic_opts){ .sz = sizeof(*out) };
	if (in) {
		if (in->sz < sizeof(size_t) + sizeof(uint32_t) || in->sz > 4096)
			return devmem_err(-EINVAL, "swnic: options with a bad sz (%zu)", in->sz);
		for (size_t i = sizeof(*out); i < in->sz; i++)
			if (((const char *)in)[i])
				return devmem_err(-EINVAL,
						  "swnic: options this library does not know");
		memcpy(out, in, in->sz < sizeof(*out) ? in->sz : sizeof(*out));
		out->sz = sizeof(*out);
	}
	if (!out->num_rx_queues)
		out->num_rx_queues = DEVMEM_SWNIC_DEFAULT_QUEUES;
	if (!out->num_tx_queues)
		out->num_tx_queues = out->num_rx_queues;
	if (!out->pool_size)
		out->pool_size = DEVMEM_SWNIC_DEFAULT_POOL_SIZE;
	if (!out->ring_entries)
		out->ring_entries = DEVMEM_SWNIC_DEFAULT_RING_ENTRIES;
	if (!out->host_buf_size)
		out->host_buf_size = PAGE_SIZE;
	if (out->num_rx_queues > SWNIC_MAX_QUEUES || out->num_tx_queues > SWNIC_MAX_QUEUES)
		return devmem_err(-EINVAL, "swnic: at most %d queues", SWNIC_MAX_QUEUES);
	if (out->pool_size > PP_POOL_SIZE_MAX)
		return devmem_err(-EINVAL, "swnic: pool size %u above %u", out->pool_size,
				  PP_POOL_SIZE_MAX);
	if (out->ring_entries > 32768 || (out->ring_entries & (out->ring_entries - 1)))
		return devmem_err(-EINVAL, "swnic: ring entries %u: a power of two up to 32768",
				  out->ring_entries);
	if (out->rx_mode > DEVMEM_SWNIC_RX_BUNDLE)
		return devmem_err(-EINVAL, "swnic: unknown rx mode %u", out->rx_mode);
	if (out->host_buf_size < PAGE_SIZE || (out->host_buf_size & (out->host_buf_size - 1)) ||
	    out->host_buf_size > (PAGE_SIZE << PP_MAX_ORDER))
		return devmem_err(-EINVAL,
				  "swnic: host buffer size %u: a power of two from %lu to %lu",
				  out->host_buf_size, PAGE_SIZE, PAGE_SIZE << PP_MAX_ORDER);
	if (out->shared > DEVMEM_SWNIC_SHARED_OFF)
		return devmem_err(-EINVAL, "swnic: unknown shared setting %u", out->shared);
	if (out->shared_domain && out->shared != DEVMEM_SWNIC_SHARED_ON)
		return devmem_err(-EINVAL, "swnic: a shared domain without shared on");
	if (out->shared_domain && netdev_claim_domain_check(out->shared_domain))
		return -EINVAL;
	return 0;
}

/* Whether the running kernel has bundle receives (a throwaway ring asks). */
static bool swnic_kernel_has_bundles(void)
{
	struct io_uring_params p = { 0 };
	struct io_uring ring;

	if (io_uring_queue_init_params(2, &ring, &p))
		return false;
	io_uring_queue_exit(&ring);
	return p.features & IORING_FEAT_RECVSEND_BUNDLE;
}

/* Stop and free queues [0, n) (dev->lock held), then their threads. */
static void swnic_close_queues(struct swnic *nic, unsigned int n)
{
	struct net_device *dev = nic->netdev;

	netdev_lock(dev);
	for (unsigned int i = 0; i < n; i++) {
		struct swnic_qmem mem = { 0 };

		if (nic->rxqs[i].up && !swnic_queue_stop(dev, &mem, (int)i))
			swnic_queue_mem_free(dev, &mem);
	}
	netdev_unlock(dev);
	for (unsigned int i = 0; i < n; i++)
		swnic_rxq_exit(&nic->rxqs[i]);
}

/* Every rx queue up on fresh memory: what the driver's open does. */
static int swnic_open_queues(struct swnic *nic)
{
	struct net_device *dev = nic->netdev;
	unsigned int i;
	int err = 0;

	for (i = 0; i < dev->num_rx_queues && !err; i++)
		err = swnic_rxq_init(nic, i);
	if (err) {
		swnic_close_queues(nic, i);
		return err;
	}
	netdev_lock(dev);
	for (i = 0; i < dev->num_rx_queues; i++) {
		struct swnic_qmem mem = { 0 };

		err = swnic_queue_mem_alloc(dev, &mem, (int)i);
		if (err)
			break;
		err = swnic_queue_start(dev, &mem, (int)i);
		if (err) {
			swnic_queue_mem_free(dev, &mem);
			break;
		}
	}
	netdev_unlock(dev);
	if (err)
		swnic_close_queues(nic, dev->num_rx_queues);
	return err;
}

static int swnic_create(const char *ifname, int ifindex, const struct devmem_swnic_opts *opts,
			struct net_device **out)
{
	char domain[DEVMEM_SWNIC_DOMAIN_MAX + 1];
	struct net_device_config cfg = { 0 };
	char dma_name[32];
	struct swnic *nic;
	int shared, err;

	shared = swnic_shared_resolve(opts, domain);
	if (shared < 0)
		return shared;
	nic = calloc(1, sizeof(*nic));
	if (!nic)
		return -ENOMEM;
	net_owner_claim(); /* its queue threads will not exist in a forked child */
	nic->opts = *opts;
	/* the caller's string is copied into the device: keep no pointer to it */
	nic->opts.shared = shared ? DEVMEM_SWNIC_SHARED_ON : DEVMEM_SWNIC_SHARED_OFF;
	nic->opts.shared_domain = NULL;
	pthread_mutex_init(&nic->lock, NULL);
	nic->host_order = (unsigned int)__builtin_ctz(opts->host_buf_size / PAGE_SIZE);
	if (opts->rx_mode == DEVMEM_SWNIC_RX_BUNDLE) {
		if (!swnic_kernel_has_bundles()) {
			err = devmem_err(-EOPNOTSUPP,
					 "swnic: the running kernel has no bundle receives");
			goto err_free;
		}
		nic->bundle = true;
	} else if (opts->rx_mode == DEVMEM_SWNIC_RX_AUTO) {
		nic->bundle = swnic_kernel_has_bundles();
	}
	snprintf(dma_name, sizeof(dma_name), "swnic-%s", ifname);
	err = device_create(dma_name, NULL, &nic->dma_dev);
	if (err)
		goto err_free;

	cfg.name = ifname;
	cfg.ifindex = ifindex;
	cfg.num_rx_queues = opts->num_rx_queues;
	cfg.num_tx_queues = opts->num_tx_queues;
	cfg.dev = nic->dma_dev;
	cfg.queue_mgmt_ops = &swnic_queue_mgmt_ops;
	cfg.sock_ops = &swnic_sock_ops;
	cfg.netmem_tx = true;
	cfg.hds_thresh_max = 0; /* the kernel stack has no headers for us to split */
	cfg.rxq_claim_domain = shared ? domain : NULL;
	/* an rx queue's ring is its provided buffers; tx sends go through the same size */
	cfg.rx_pending = cfg.tx_pending = nic->opts.ring_entries;
	cfg.rx_max_pending = cfg.tx_max_pending = 32768;
	cfg.priv_size = sizeof(nic);
	cfg.priv_destructor = swnic_destructor;
	err = alloc_netdev(&cfg, &nic->netdev);
	if (err)
		goto err_free;
	*(struct swnic **)netdev_priv(nic->netdev) = nic;
	/* from here on the netdev's last put frees nic */

	nic->rxqs = calloc(cfg.num_rx_queues, sizeof(*nic->rxqs));
	if (!nic->rxqs) {
		err = -ENOMEM;
		goto err_put_netdev;
	}
	for (unsigned int i = 0; i < cfg.num_rx_queues; i++)
		nic->rxqs[i].efd = -1;
	err = swnic_open_queues(nic);
	if (err)
		goto err_put_netdev;
	err = register_netdev(nic->netdev);
	if (err) {
		swnic_close_queues(nic, nic->netdev->num_rx_queues);
		goto err_put_netdev;
	}
	*out = nic->netdev;
	return 0;

err_put_netdev:
	nic->dead = true;
	netdev_put(nic->netdev);
	return err;
err_free:
	device_put(nic->dma_dev);
	pthread_mutex_destroy(&nic->lock);
	free(nic);
	return err;
}

static bool netdev_is_swnic(const struct net_device *dev)
{
	return dev->sock_ops == &swnic_sock_ops;
}

int devmem_swnic_create(const char *ifname, const struct devmem_swnic_opts *opts, int *ifindex)
{
	struct devmem_swnic_opts o;
	struct net_device *dev;
	unsigned int idx;
	int err;

	if (net_owner_in_child())
		return net_owner_refuse("devmem_swnic_create");
	if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ)
		return devmem_err(-EINVAL, "swnic: bad interface name");
	err = swnic_check_opts(opts, &o);
	if (err)
		return err;
	idx = if_nametoindex(ifname);
	if (!idx)
		return devmem_err(-ENODEV, "swnic: no kernel interface named %s", ifname);
	dev = netdev_get_by_index((int)idx);
	if (dev) {
		netdev_put(dev);
		return devmem_err(-EEXIST, "swnic: %s (ifindex %u) is already shadowed", ifname,
				  idx);
	}
	err = swnic_create(ifname, (int)idx, &o, &dev);
	if (err)
		return err;
	devmem_clear_error(); /* the lookup above recorded "no device" */
	/* the registry finds it; our reference stays with it until destroy */
	if (ifindex)
		*ifindex = (int)idx;
	return 0;
}

int devmem_swnic_destroy(int ifindex)
{
	struct net_device *dev;
	struct swnic *nic;

	/* the queue threads to stop are the parent's */
	if (net_owner_in_child())
		return net_owner_refuse("devmem_swnic_destroy");
	dev = netdev_get_by_index(ifindex);
	if (!dev || !netdev_is_swnic(dev)) {
		if (dev)
			netdev_put(dev);
		return devmem_err(-ENODEV, "swnic: no software NIC on ifindex %d", ifindex);
	}
	nic = swnic_of(dev);
	pthread_mutex_lock(&nic->lock);
	if (nic->dead) {
		pthread_mutex_unlock(&nic->lock);
		netdev_put(dev);
		return devmem_err(-ENODEV, "swnic: ifindex %d is going away", ifindex);
	}
	nic->dead = true;
	pthread_mutex_unlock(&nic->lock);

	/* providers go first, as the kernel's unregister does before the driver's close */
	unregister_netdev(dev);
	swnic_close_queues(nic, dev->num_rx_queues);
	for (unsigned int i = 0; i < dev->num_rx_queues; i++) {
		struct swnic_rxq *q = &nic->rxqs[i];

		pthread_mutex_lock(&q->kick_lock);
		close(q->efd);
		q->efd = -1;
		pthread_mutex_unlock(&q->kick_lock);
	}
	netdev_put(dev); /* the lookup's */
	netdev_put(dev); /* the creator's */
	return 0;
}

int devmem_swnic_rxq_stats(int ifindex, uint32_t rxq, struct devmem_swnic_rxq_stats *stats)
{
	struct net_device *dev;
	struct swnic_rxq *q;
	int err = 0;

	if (net_owner_in_child())
		return net_owner_refuse("devmem_swnic_rxq_stats");
	dev = netdev_get_by_index(ifindex);
	if (!stats) {
		netdev_put(dev);
		return devmem_err(-EINVAL, "swnic: nowhere to put the stats");
	}
	if (!dev || !netdev_is_swnic(dev)) {
		err = devmem_err(-ENODEV, "swnic: no software NIC on ifindex %d", ifindex);
		goto out;
	}
	if (rxq >= dev->num_rx_queues) {
		err = devmem_err(-ERANGE, "rx queue %u out of range (device has %u)", rxq,
				 dev->num_rx_queues);
		goto out;
	}
	q = &swnic_of(dev)->rxqs[rxq];
	netdev_lock(dev);
	stats->bound = __netif_get_rx_queue(dev, rxq)->mp_params.mp_ops != NULL;
	netdev_unlock(dev);
	stats->sockets = READ_ONCE(q->stats.sockets);
	stats->completions = READ_ONCE(q->stats.completions);
	stats->frags = READ_ONCE(q->stats.frags);
	stats->bytes = READ_ONCE(q->stats.bytes);
	stats->buffers_posted = READ_ONCE(q->stats.posted);
	stats->starved = READ_ONCE(q->stats.starved);
	stats->restarts = READ_ONCE(q->stats.restarts);
	stats->buffers_in_ring = READ_ONCE(q->stats.in_ring);
out:
	netdev_put(dev);
	return err;
}

/* A control handle names kernel interface @ifindex: shadow it with the defaults. */
static int swnic_shadow(int ifindex)
{
	struct devmem_swnic_opts o;
	struct net_device *dev;
	char name[IF_NAMESIZE];
	int err;

	if (!if_indextoname((unsigned int)ifindex, name))
		return devmem_err(-ENODEV, "no device with ifindex %d", ifindex);
	err = swnic_check_opts(NULL, &o);
	if (err)
		return err;
	return swnic_create(name, ifindex, &o, &dev);
}

__attribute__((constructor)) static void swnic_register_shadow(void)
{
	netdev_set_shadow_fn(swnic_shadow);
}
