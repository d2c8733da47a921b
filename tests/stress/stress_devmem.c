// SPDX-License-Identifier: MIT
/*
 * Unbind racing with returns.
 *
 * The owner thread of rx queue 0's pools "receives": it allocates netmems
 * from the queue's data pool and hands them to RETURNERS threads through
 * per-thread queues. Each returner waits a random while, sometimes takes an
 * extra pool reference first (a socket holding a token), and gives the
 * netmem back without allow_direct, from its own thread: into the pool's
 * ring, or, once the pool is destroyed, straight to the binding.
 *
 * Meanwhile the main thread binds a dma-buf to the queue, lets traffic run a
 * random while, unbinds (the queue restarts on host pages while net_iovs are
 * still out) and binds again at once, round after round. Each round keeps a
 * looked-up reference on its binding; once the net_iovs of a round are all
 * back, the round's binding must have every net_iov free in its chunk pool
 * and no other reference left (its pools are gone). At the end no binding
 * and no pool may be alive.
 *
 * Every net_iov has an ownership flag per round: finding it set when it is
 * handed out means the provider gave out a net_iov twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "devmem/host.h"
#include "lib/compiler.h"
#include "lib/refcount.h"
#include "net/devmem.h"
#include "net/page_pool.h"
#include "support/test-nic.h"
#include "stress.h"

#define NAME "stress_devmem"
#define RETURNERS 3
#define QUEUE_LEN 64
#define BUF_PAGES 256
#define MAX_ROUNDS 200
#define QUIESCE_SECONDS 10.0

struct handover {
	pthread_mutex_t lock;
	netmem_ref q[QUEUE_LEN]; /* under lock */
	unsigned int head, len; /* under lock */
};

/* One bind .. unbind; slot binding id - 1 (ids are handed out from 1 in order). */
struct round {
	/* the main thread's looked-up reference, or NULL: the last put falls anywhere */
	struct net_devmem_dmabuf_binding *binding;
	int live[BUF_PAGES]; /* atomic: net_iov handed out and not yet given back */
};

static struct test_nic *nic;
static struct round rounds[MAX_ROUNDS];
static struct handover ho[RETURNERS];
static int start; /* atomic: the NIC exists */
static int stop; /* atomic: the main thread is done */
static int owner_done; /* atomic: the owner made its last handover */
static long netmems_handed, niovs_handed; /* atomic */

static void spin(uint64_t *rnd, unsigned int max)
{
	unsigned int n = stress_rand(rnd) % max;

	for (volatile unsigned int i = 0; i < n; i++)
		;
}

static int *live_flag(struct net_iov *niov)
{
	uint32_t id = net_devmem_iov_binding_id(niov);

	stress_check(NAME, id >= 1 && id <= MAX_ROUNDS, "net_iov of unexpected binding %u", id);
	return &rounds[id - 1].live[net_iov_virtual_addr(niov) >> PAGE_SHIFT];
}

static void claim(struct net_iov *niov)
{
	int expected = 0;

	stress_check(NAME,
		     __atomic_compare_exchange_n(live_flag(niov), &expected, 1, false,
						 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED),
		     "net_iov at %#lx of binding %u handed out twice", net_iov_virtual_addr(niov),
		     net_devmem_iov_binding_id(niov));
}

static void unclaim(struct net_iov *niov)
{
	int expected = 1;

	stress_check(NAME,
		     __atomic_compare_exchange_n(live_flag(niov), &expected, 0, false,
						 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED),
		     "net_iov at %#lx given back while not out", net_iov_virtual_addr(niov));
}

static bool handover_push(struct handover *h, netmem_ref netmem)
{
	bool ok;

	pthread_mutex_lock(&h->lock);
	ok = h->len < QUEUE_LEN;
	if (ok)
		h->q[(h->head + h->len++) % QUEUE_LEN] = netmem;
	pthread_mutex_unlock(&h->lock);
	return ok;
}

static netmem_ref handover_pop(struct handover *h)
{
	netmem_ref netmem = 0;

	pthread_mutex_lock(&h->lock);
	if (h->len) {
		netmem = h->q[h->head];
		h->head = (h->head + 1) % QUEUE_LEN;
		h->len--;
	}
	pthread_mutex_unlock(&h->lock);
	return netmem;
}

/* The queue's NAPI context: the one thread that allocates from its pools. */
static void *owner_thread(void *arg)
{
	uint64_t rnd = 0x2545f4914f6cdd1dULL;

	while (!__atomic_load_n(&start, __ATOMIC_ACQUIRE))
		sched_yield();
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		netmem_ref netmem = test_nic_rx_alloc(nic, 0);

		if (!netmem) {
			/* everything is out: wait for returns (back-pressure) */
			spin(&rnd, 5000);
			continue;
		}
		if (netmem_is_net_iov(netmem)) {
			struct net_iov *niov = netmem_to_net_iov(netmem);
			struct net_devmem_dmabuf_binding *binding = net_devmem_iov_binding(niov);

			stress_check(NAME,
				     gen_pool_has_addr(binding->chunk_pool, niov->desc.dma_addr,
						       net_iov_size(niov)),
				     "net_iov address outside its binding");
			claim(niov);
			__atomic_fetch_add(&niovs_handed, 1, __ATOMIC_RELAXED);
		}
		__atomic_fetch_add(&netmems_handed, 1, __ATOMIC_RELAXED);
		if (!handover_push(&ho[stress_rand(&rnd) % RETURNERS], netmem)) {
			if (netmem_is_net_iov(netmem))
				unclaim(netmem_to_net_iov(netmem));
			test_nic_rx_put(netmem);
		}
	}
	__atomic_store_n(&owner_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *returner_thread(void *arg)
{
	struct handover *h = arg;
	uint64_t rnd = 0x9e3779b97f4a7c15ULL * (uint64_t)(h - ho + 1);

	for (;;) {
		/* owner_done is set after the owner's last push: read it before looking */
		bool stopping = __atomic_load_n(&owner_done, __ATOMIC_ACQUIRE);
		netmem_ref netmem = handover_pop(h);

		if (!netmem) {
			if (stopping)
				break;
			spin(&rnd, 500);
			continue;
		}
		spin(&rnd, 20000);
		if (netmem_is_net_iov(netmem))
			unclaim(netmem_to_net_iov(netmem));
		if (stress_rand(&rnd) % 4 == 0) {
			/* a second holder: only the last put recycles */
			page_pool_ref_netmem(netmem);
			test_nic_rx_put(netmem);
			spin(&rnd, 2000);
		}
		test_nic_rx_put(netmem);
	}
	return NULL;
}

static long binding_refs(struct net_devmem_dmabuf_binding *binding)
{
	return __atomic_load_n(&binding->ref, __ATOMIC_ACQUIRE);
}

/*
 * Wait for every net_iov of round @r's (unbound) binding to come back, check
 * that nothing was lost, and drop the round's reference (the last one).
 */
static void round_finish(struct round *r)
{
	struct net_devmem_dmabuf_binding *binding = r->binding;
	double deadline = stress_now() + QUIESCE_SECONDS;

	if (!binding)
		return;
	while (net_devmem_niovs_free(binding) != binding->nr_niovs || binding_refs(binding) != 1) {
		stress_check(NAME, stress_now() < deadline,
			     "binding %u: %zu of %zu net_iovs back, %ld references after %.0f s",
			     binding->id, net_devmem_niovs_free(binding), binding->nr_niovs,
			     binding_refs(binding), QUIESCE_SECONDS);
		usleep(1000);
	}
	for (unsigned int i = 0; i < BUF_PAGES; i++)
		stress_check(NAME, !__atomic_load_n(&r->live[i], __ATOMIC_ACQUIRE),
			     "binding %u: net_iov %u back in the pool but still marked out",
			     binding->id, i);
	net_devmem_dmabuf_binding_put(binding);
	r->binding = NULL;
}

int main(void)
{
	struct devmem_queue_id queue = { .id = 0, .type = NETDEV_QUEUE_TYPE_RX };
	pthread_t owner, returners[RETURNERS];
	struct test_nic_opts opts = { .rx_queues = 2, .tx_queues = 2 };
	double end = stress_now() + stress_seconds();
	uint64_t rnd = 0x5851f42d4c957f2dULL;
	struct dma_buf *buf;
	unsigned int nr_rounds = 0, i;
	uint32_t id;
	int fd, err;

	for (i = 0; i < RETURNERS; i++)
		pthread_mutex_init(&ho[i].lock, NULL);
	stress_check(NAME, pthread_create(&owner, NULL, owner_thread, NULL) == 0, "pthread_create");
	for (i = 0; i < RETURNERS; i++)
		stress_check(NAME,
			     pthread_create(&returners[i], NULL, returner_thread, &ho[i]) == 0,
			     "pthread_create");

	/* the pools of every restart are the owner thread's, whoever restarts */
	opts.owner = owner;
	err = test_nic_create(&opts, &nic);
	stress_check(NAME, !err, "test_nic_create: %d", err);
	err = netdev_set_header_split(test_nic_netdev(nic), ETHTOOL_TCP_DATA_SPLIT_ENABLED, 0);
	stress_check(NAME, !err, "header split: %d", err);
	err = devmem_host_buffer_create(BUF_PAGES * PAGE_SIZE, NULL, &buf);
	stress_check(NAME, !err, "host buffer: %d", err);
	fd = dma_buf_fd(buf, O_CLOEXEC);
	stress_check(NAME, fd >= 0, "dma_buf_fd: %d", fd);
	__atomic_store_n(&start, 1, __ATOMIC_RELEASE);

	while (nr_rounds < MAX_ROUNDS && (nr_rounds < 3 || stress_now() < end)) {
		struct net_devmem_dmabuf_binding *binding;
		struct round *r;

		err = net_devmem_bind_rx(test_nic_netdev(nic), fd, &queue, 1, PAGE_SHIFT, &binding);
		stress_check(NAME, !err, "bind round %u: %d", nr_rounds, err);
		stress_check(NAME, binding->id == nr_rounds + 1, "round %u got id %u", nr_rounds,
			     binding->id);
		id = binding->id;
		r = &rounds[nr_rounds];
		/* every other round, a returner or the pool may drop the last reference */
		if (nr_rounds % 2 == 0) {
			r->binding = net_devmem_lookup_dmabuf(id);
			stress_check(NAME, r->binding == binding, "lookup of a live binding");
		}
		usleep(1000 + stress_rand(&rnd) % 20000);

		/* net_iovs are out, in the returners' hands and in the pool's ring */
		net_devmem_unbind_dmabuf(binding);
		stress_check(NAME, !net_devmem_lookup_dmabuf(id),
			     "an unbound binding is still found");
		/* the previous round had a whole round of time to drain */
		if (nr_rounds)
			round_finish(&rounds[nr_rounds - 1]);
		nr_rounds++;
	}

	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	pthread_join(owner, NULL);
	for (i = 0; i < RETURNERS; i++)
		pthread_join(returners[i], NULL);
	round_finish(&rounds[nr_rounds - 1]);
	stress_check(NAME, net_devmem_nr_bindings() == 0, "%ld bindings left",
		     net_devmem_nr_bindings());
	stress_check(NAME, __atomic_load_n(&niovs_handed, __ATOMIC_RELAXED) > 0,
		     "no net_iov was ever received");

	close(fd);
	test_nic_destroy(nic);
	stress_check(NAME, page_pool_nr_live() == 0, "%ld page pools left", page_pool_nr_live());
	stress_check(NAME, kref_read(&buf->refcount) == 1, "the dma-buf kept %u references",
		     kref_read(&buf->refcount));
	dma_buf_put(buf);
	for (i = 0; i < RETURNERS; i++)
		pthread_mutex_destroy(&ho[i].lock);
	printf("%s: ok (%u rounds, %ld netmems, %ld net_iovs handed out)\n", NAME, nr_rounds,
	       netmems_handed, niovs_handed);
	return 0;
}
