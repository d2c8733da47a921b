// SPDX-License-Identifier: MIT
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devmem/device.h"
#include "devmem/error.h"
#include "lib/compiler.h"
#include "lib/debug.h"
#include "net/host_pages.h"
#include "net/netmem.h"
#include "net/page_pool.h"
#include "harness.h"

/*
 * A fake memory provider: net_iovs from a small array, every call counted.
 * release_netmem may be called from any thread, hence the lock.
 */
#define FAKE_NIOVS 512
#define FAKE_BASE_VIRTUAL (1UL << 20)
#define FAKE_BASE_DMA 0x40000000ULL

struct fake_mp {
	pthread_mutex_t lock;
	struct net_iov niovs[FAKE_NIOVS];
	struct net_iov_area area;
	bool out[FAKE_NIOVS]; /* handed to a pool */
	int init_calls, destroy_calls, alloc_calls, release_calls;
	int init_err; /* init() returns this */
	bool check_unreadable; /* init() makes the devmem provider's checks */
	unsigned int dmabuf_id;
};

static struct fake_mp *fake_of(struct page_pool *pool)
{
	return pool->mp_priv;
}

static int fake_init(struct page_pool *pool)
{
	struct fake_mp *mp = fake_of(pool);
	int err;

	mp->init_calls++;
	if (mp->check_unreadable) {
		err = page_pool_check_unreadable_params(&pool->p);
		if (err)
			return err;
	}
	return mp->init_err;
}

static void fake_destroy(struct page_pool *pool)
{
	fake_of(pool)->destroy_calls++;
}

static int fake_alloc(struct page_pool *pool, netmem_ref *netmems, int n)
{
	struct fake_mp *mp = fake_of(pool);
	int got = 0;

	pthread_mutex_lock(&mp->lock);
	mp->alloc_calls++;
	for (int i = 0; i < FAKE_NIOVS && got < n; i++) {
		if (mp->out[i])
			continue;
		mp->out[i] = true;
		netmems[got++] = net_iov_to_netmem(&mp->niovs[i]);
	}
	pthread_mutex_unlock(&mp->lock);
	return got;
}

static bool fake_release(struct page_pool *pool, netmem_ref netmem)
{
	struct fake_mp *mp = fake_of(pool);
	struct net_iov *niov = netmem_to_net_iov(netmem);

	cr_assert_eq(netmem_get_pp(netmem), NULL, "the pool clears pp before the provider");
	cr_assert(!netmem_is_pp(netmem));
	pthread_mutex_lock(&mp->lock);
	cr_assert(mp->out[net_iov_idx(niov)], "released a net_iov that was not out");
	mp->out[net_iov_idx(niov)] = false;
	mp->release_calls++;
	pthread_mutex_unlock(&mp->lock);
	return false;
}

static int fake_nl_fill(void *mp_priv, struct netdev_mp_attrs *attrs, struct netdev_rx_queue *rxq)
{
	attrs->dmabuf_id = ((struct fake_mp *)mp_priv)->dmabuf_id;
	return 0;
}

static const struct memory_provider_ops fake_ops = {
	.alloc_netmems = fake_alloc,
	.release_netmem = fake_release,
	.init = fake_init,
	.destroy = fake_destroy,
	.nl_fill = fake_nl_fill,
};

static struct fake_mp *fake_new(void)
{
	struct fake_mp *mp = calloc(1, sizeof(*mp));

	cr_assert_not_null(mp);
	pthread_mutex_init(&mp->lock, NULL);
	net_iov_area_init(&mp->area, mp->niovs, FAKE_NIOVS, FAKE_BASE_VIRTUAL, FAKE_BASE_DMA,
			  PAGE_SHIFT, NET_IOV_DMABUF);
	return mp;
}

static int fake_nr_out(struct fake_mp *mp)
{
	int n = 0;

	for (int i = 0; i < FAKE_NIOVS; i++)
		n += mp->out[i];
	return n;
}

static void fake_free(struct fake_mp *mp)
{
	pthread_mutex_destroy(&mp->lock);
	free(mp);
}

static struct device *nic_new(void)
{
	struct device *dev = NULL;

	cr_assert_eq(device_create("nic0", NULL, &dev), 0);
	return dev;
}

static struct page_pool_params host_params(struct device *dev, unsigned int pool_size)
{
	return (struct page_pool_params){
		.flags = PP_FLAG_DMA_MAP,
		.pool_size = pool_size,
		.dev = dev,
		.dma_dir = DMA_FROM_DEVICE,
	};
}

/* A data pool on a queue that has the fake provider installed. */
static struct page_pool_params data_params(struct device *dev, unsigned int pool_size,
					   const struct pp_memory_provider_params *mp)
{
	struct page_pool_params p = host_params(dev, pool_size);

	/* what a driver that can take a provider sets on its data pools */
	p.flags |= PP_FLAG_DMA_SYNC_DEV | PP_FLAG_ALLOW_UNREADABLE_NETMEM;
	p.max_len = PAGE_SIZE;
	p.mp = mp;
	return p;
}

static struct page_pool *pool_new(const struct page_pool_params *p)
{
	struct page_pool *pool = NULL;

	cr_assert_eq(page_pool_create(p, &pool), 0, "%s", devmem_last_error());
	cr_assert_not_null(pool);
	return pool;
}

static struct page_pool_stats stats_of(struct page_pool *pool)
{
	struct page_pool_stats s;

	page_pool_get_stats(pool, &s);
	return s;
}

struct put_job {
	struct page_pool *pool;
	netmem_ref *netmems;
	int n;
	bool allow_direct;
};

static void *put_thread(void *arg)
{
	struct put_job *job = arg;

	for (int i = 0; i < job->n; i++)
		page_pool_put_netmem(job->pool, job->netmems[i], job->allow_direct);
	return NULL;
}

/* Give @n netmems back from another thread (not the owner) and wait for it. */
static void put_from_other_thread(struct page_pool *pool, netmem_ref *netmems, int n)
{
	struct put_job job = { .pool = pool, .netmems = netmems, .n = n };
	pthread_t t;

	cr_assert_eq(pthread_create(&t, NULL, put_thread, &job), 0);
	pthread_join(t, NULL);
}

Test(page_pool, netmem_tag_tells_net_iov_from_page)
{
	struct fake_mp *mp = fake_new();
	struct net_iov *niov = &mp->niovs[5];
	netmem_ref nm = net_iov_to_netmem(niov);
	struct page page = { .addr = &page };

	cr_assert(netmem_is_net_iov(nm));
	cr_assert_eq(netmem_to_net_iov(nm), niov);
	cr_assert_eq(net_iov_owner(niov), &mp->area);
	cr_assert_eq(net_iov_idx(niov), 5);
	cr_assert_eq(net_iov_virtual_addr(niov), FAKE_BASE_VIRTUAL + 5 * PAGE_SIZE);
	cr_assert_eq(netmem_get_dma_addr(nm), FAKE_BASE_DMA + 5 * PAGE_SIZE);
	cr_assert_eq(net_iov_size(niov), PAGE_SIZE);
	cr_assert_null(netmem_address(nm), "a net_iov is unreadable");

	cr_assert(!netmem_is_net_iov(page_to_netmem(&page)));
	cr_assert_eq(netmem_to_page(page_to_netmem(&page)), &page);
	cr_assert_eq(netmem_address(page_to_netmem(&page)), &page);
	fake_free(mp);
}

Test(page_pool, alloc_from_empty_pool_refills_in_bulk)
{
	struct device *dev = nic_new();
	struct page_pool_params p = host_params(dev, 256);
	struct page_pool *pool = pool_new(&p);
	netmem_ref a, b, put[1];
	struct page_pool_stats s;

	a = page_pool_alloc_netmems(pool);
	cr_assert_neq(a, 0);
	s = stats_of(pool);
	cr_assert_eq(s.alloc_stats.empty, 1, "the ring was looked at first, and was empty");
	cr_assert_eq(s.alloc_stats.slow, 1, "one bulk allocation from the provider");
	cr_assert_eq(s.alloc_stats.fast, 0);
	cr_assert_eq(page_pool_inflight(pool), PP_ALLOC_CACHE_REFILL);
	cr_assert_eq(netmem_pp_ref_count(a), 1);

	b = page_pool_alloc_netmems(pool);
	cr_assert_neq(b, a);
	cr_assert_eq(stats_of(pool).alloc_stats.fast, 1);

	/* one back from another thread, the cache emptied into the ring by the owner */
	put[0] = b;
	put_from_other_thread(pool, put, 1);
	while (page_pool_cache_count(pool)) {
		netmem_ref nm = page_pool_alloc_netmems(pool);

		page_pool_put_netmem(pool, nm, false);
	}
	s = stats_of(pool);
	cr_assert_eq(s.recycle_stats.ring, PP_ALLOC_CACHE_REFILL - 1);
	cr_assert_eq(s.alloc_stats.refill, 0);
	b = page_pool_alloc_netmems(pool);
	s = stats_of(pool);
	cr_assert_eq(s.alloc_stats.refill, 1, "the cache was refilled from the ring");
	cr_assert_eq(s.alloc_stats.slow, 1, "without going to the provider");
	cr_assert_eq(page_pool_inflight(pool), PP_ALLOC_CACHE_REFILL);

	page_pool_recycle_direct(pool, a);
	page_pool_recycle_direct(pool, b);
	page_pool_destroy(pool);
	cr_assert_eq(page_pool_nr_live(), 0);
	cr_assert_eq(device_mapped_bytes(dev), 0, "the host pages are unmapped with the pool");
	device_put(dev);
}

Test(page_pool, recycle_direct_goes_to_cache_and_next_alloc_is_fast)
{
	struct device *dev = nic_new();
	struct page_pool_params p = host_params(dev, 64);
	struct page_pool *pool = pool_new(&p);
	netmem_ref a = page_pool_alloc_netmems(pool);
	unsigned int cached = page_pool_cache_count(pool);
	struct page_pool_stats s;

	page_pool_recycle_direct(pool, a);
	s = stats_of(pool);
	cr_assert_eq(s.recycle_stats.cached, 1);
	cr_assert_eq(s.recycle_stats.ring, 0);
	cr_assert_eq(page_pool_cache_count(pool), cached + 1);
	cr_assert_eq(netmem_pp_ref_count(a), 1, "a pooled netmem keeps a count of 1");

	cr_assert_eq(page_pool_alloc_netmems(pool), a, "the cache is LIFO: the hot one comes back");
	s = stats_of(pool);
	cr_assert_eq(s.alloc_stats.fast, 1);
	cr_assert_eq(s.alloc_stats.slow, 1);

	page_pool_recycle_direct(pool, a);
	page_pool_destroy(pool);
	device_put(dev);
}

Test(page_pool, extra_reference_delays_recycling_to_last_put)
{
	struct device *dev = nic_new();
	struct page_pool_params p = host_params(dev, 64);
	struct page_pool *pool = pool_new(&p);
	netmem_ref a = page_pool_alloc_netmems(pool);

	page_pool_ref_netmem(a); /* e.g. a socket holds a token on it */
	cr_assert_eq(netmem_pp_ref_count(a), 2);
	page_pool_recycle_direct(pool, a);
	cr_assert_eq(stats_of(pool).recycle_stats.cached, 0, "still held");
	cr_assert_eq(netmem_pp_ref_count(a), 1);
	page_pool_put_netmem(pool, a, true);
	cr_assert_eq(stats_of(pool).recycle_stats.cached, 1);

	page_pool_destroy(pool);
	device_put(dev);
}

Test(page_pool, puts_from_non_owner_thread_go_to_ring)
{
	struct device *dev = nic_new();
	struct page_pool_params p = host_params(dev, 64);
	struct page_pool *pool = pool_new(&p);
	netmem_ref nm[4];
	struct page_pool_stats s;
	unsigned int cached;

	for (int i = 0; i < 4; i++)
		nm[i] = page_pool_alloc_netmems(pool);
	cached = page_pool_cache_count(pool);
	put_from_other_thread(pool, nm, 4);
	s = stats_of(pool);
	cr_assert_eq(s.recycle_stats.ring, 4);
	cr_assert_eq(s.recycle_stats.cached, 0);
	cr_assert_eq(page_pool_cache_count(pool), cached, "the owner's cache was not touched");
	cr_assert_eq(page_pool_inflight(pool), PP_ALLOC_CACHE_REFILL,
		     "ring entries stay in flight");

	page_pool_destroy(pool);
	cr_assert_eq(page_pool_nr_live(), 0);
	device_put(dev);
}

#ifndef NDEBUG
static void *direct_put_thread(void *arg)
{
	struct put_job *job = arg;

	page_pool_put_netmem(job->pool, job->netmems[0], true);
	return NULL;
}

Test(page_pool, direct_recycle_from_non_owner_aborts_in_debug_builds, .signal = SIGABRT)
{
	struct device *dev = nic_new();
	struct page_pool_params p = host_params(dev, 64);
	struct page_pool *pool = pool_new(&p);
	netmem_ref nm = page_pool_alloc_netmems(pool);
	struct put_job job = { .pool = pool, .netmems = &nm, .n = 1 };
	pthread_t t;

	pthread_create(&t, NULL, direct_put_thread, &job);
	pthread_join(t, NULL);
}
#endif

static void *new_owner_thread(void *arg)
{
	struct page_pool *pool = arg;
	netmem_ref nm;

	page_pool_set_owner(pool, pthread_self());
	nm = page_pool_alloc_netmems(pool);
	page_pool_recycle_direct(pool, nm);
	return NULL;
}

Test(page_pool, set_owner_moves_the_fast_path_to_another_thread)
{
	struct device *dev = nic_new();
	struct page_pool_params p = host_params(dev, 64);
	struct page_pool *pool = pool_new(&p);
	pthread_t t;

	page_pool_recycle_direct(pool, page_pool_alloc_netmems(pool));
	/* the creator stops using the pool; thread creation and join order the hand-overs */
	cr_assert_eq(pthread_create(&t, NULL, new_owner_thread, pool), 0);
	pthread_join(t, NULL);
	cr_assert_eq(stats_of(pool).recycle_stats.cached, 2, "both recycled directly");
	page_pool_set_owner(pool, pthread_self());
	page_pool_destroy(pool);
	cr_assert_eq(page_pool_nr_live(), 0);
	device_put(dev);
}

Test(page_pool, ring_full_releases_to_provider)
{
	struct fake_mp *mp = fake_new();
	struct pp_memory_provider_params mpp = { .mp_ops = &fake_ops, .mp_priv = mp };
	struct device *dev = nic_new();
	struct page_pool_params p = data_params(dev, 4, &mpp);
	struct page_pool *pool = pool_new(&p);
	netmem_ref nm[10];
	struct page_pool_stats s;

	for (int i = 0; i < 10; i++)
		nm[i] = page_pool_alloc_netmems(pool);
	cr_assert_eq(page_pool_inflight(pool), PP_ALLOC_CACHE_REFILL);
	put_from_other_thread(pool, nm, 10);
	s = stats_of(pool);
	cr_assert_eq(s.recycle_stats.ring, 4, "the ring holds pool_size entries");
	cr_assert_eq(s.recycle_stats.ring_full, 6);
	cr_assert_eq(mp->release_calls, 6, "each netmem that found the ring full went back");
	cr_assert_eq(page_pool_inflight(pool), PP_ALLOC_CACHE_REFILL - 6);
	cr_assert_eq(fake_nr_out(mp), PP_ALLOC_CACHE_REFILL - 6);

	page_pool_destroy(pool);
	cr_assert_eq(mp->release_calls, PP_ALLOC_CACHE_REFILL, "destroy gave back cache and ring");
	cr_assert_eq(fake_nr_out(mp), 0);
	cr_assert_eq(mp->destroy_calls, 1);
	device_put(dev);
	fake_free(mp);
}

Test(page_pool, bulk_put_recycles_last_references_through_ring_then_provider)
{
	struct fake_mp *mp = fake_new();
	struct pp_memory_provider_params mpp = { .mp_ops = &fake_ops, .mp_priv = mp };
	struct device *dev = nic_new();
	struct page_pool_params p = data_params(dev, 4, &mpp);
	struct page_pool *pool = pool_new(&p);
	netmem_ref nm[10], held;
	struct page_pool_stats s;

	for (int i = 0; i < 10; i++)
		nm[i] = page_pool_alloc_netmems(pool);
	held = nm[3];
	page_pool_ref_netmem(held); /* still held elsewhere: the bulk put only unrefs it */
	page_pool_put_netmem_bulk(pool, nm, 10);
	s = stats_of(pool);
	cr_assert_eq(s.recycle_stats.ring, 4);
	cr_assert_eq(s.recycle_stats.ring_full, 5);
	cr_assert_eq(mp->release_calls, 5);
	cr_assert_eq(netmem_pp_ref_count(held), 1);
	page_pool_put_netmem(pool, held, false); /* ring full: back to the provider */
	cr_assert_eq(mp->release_calls, 6);

	page_pool_destroy(pool);
	cr_assert_eq(fake_nr_out(mp), 0);
	cr_assert_eq(mp->destroy_calls, 1);
	device_put(dev);
	fake_free(mp);
}

Test(page_pool, refill_from_a_full_one_entry_ring_takes_it_once)
{
	struct fake_mp *mp = fake_new();
	struct pp_memory_provider_params mpp = { .mp_ops = &fake_ops, .mp_priv = mp };
	struct device *dev = nic_new();
	struct page_pool_params p = data_params(dev, 1, &mpp);
	struct page_pool *pool = pool_new(&p);
	netmem_ref nm[PP_ALLOC_CACHE_REFILL];

	for (int i = 0; i < PP_ALLOC_CACHE_REFILL; i++)
		nm[i] = page_pool_alloc_netmems(pool);
	put_from_other_thread(pool, nm, PP_ALLOC_CACHE_REFILL); /* 1 in the ring, 63 back */
	cr_assert_eq(page_pool_alloc_netmems(pool), nm[0]);
	cr_assert_eq(stats_of(pool).alloc_stats.refill, 1);
	cr_assert_eq(page_pool_cache_count(pool), 0, "the one ring entry was taken once");
	nm[1] = page_pool_alloc_netmems(pool);
	cr_assert_neq(nm[1], nm[0]);
	cr_assert_eq(stats_of(pool).alloc_stats.slow, 2);

	page_pool_recycle_direct(pool, nm[0]);
	page_pool_recycle_direct(pool, nm[1]);
	page_pool_destroy(pool);
	cr_assert_eq(fake_nr_out(mp), 0);
	cr_assert_eq(page_pool_nr_live(), 0);
	device_put(dev);
	fake_free(mp);
}

Test(page_pool, direct_recycle_into_full_cache_goes_to_ring)
{
	struct fake_mp *mp = fake_new();
	struct pp_memory_provider_params mpp = { .mp_ops = &fake_ops, .mp_priv = mp };
	struct device *dev = nic_new();
	struct page_pool_params p = data_params(dev, 8, &mpp);
	struct page_pool *pool = pool_new(&p);
	enum { N = PP_ALLOC_CACHE_SIZE + 12 };
	netmem_ref nm[N];
	struct page_pool_stats s;

	for (int i = 0; i < N; i++)
		nm[i] = page_pool_alloc_netmems(pool);
	unsigned int room = PP_ALLOC_CACHE_SIZE - page_pool_cache_count(pool);

	for (int i = 0; i < N; i++)
		page_pool_recycle_direct(pool, nm[i]);
	s = stats_of(pool);
	cr_assert_eq(s.recycle_stats.cached, room);
	cr_assert_eq(s.recycle_stats.cache_full, N - room);
	cr_assert_eq(s.recycle_stats.ring, 8, "a full cache spills into the ring");
	cr_assert_eq(s.recycle_stats.ring_full, N - room - 8);
	cr_assert_eq(mp->release_calls, N - room - 8);

	page_pool_destroy(pool);
	cr_assert_eq(mp->alloc_calls, 3);
	cr_assert_eq(mp->release_calls, 3 * PP_ALLOC_CACHE_REFILL);
	cr_assert_eq(fake_nr_out(mp), 0);
	device_put(dev);
	fake_free(mp);
}

Test(page_pool, inflight_counts_netmems_not_back_at_the_provider)
{
	struct fake_mp *mp = fake_new();
	struct pp_memory_provider_params mpp = { .mp_ops = &fake_ops, .mp_priv = mp };
	struct device *dev = nic_new();
	struct page_pool_params p = data_params(dev, 2, &mpp);
	struct page_pool *pool = pool_new(&p);
	netmem_ref nm[3];

	cr_assert_eq(page_pool_inflight(pool), 0);
	for (int i = 0; i < 3; i++)
		nm[i] = page_pool_alloc_netmems(pool);
	cr_assert_eq(page_pool_inflight(pool), fake_nr_out(mp));
	put_from_other_thread(pool, nm, 3); /* 2 into the ring, 1 back to the provider */
	cr_assert_eq(page_pool_inflight(pool), PP_ALLOC_CACHE_REFILL - 1);
	cr_assert_eq(page_pool_inflight(pool), fake_nr_out(mp));
	page_pool_destroy(pool);
	cr_assert_eq(fake_nr_out(mp), 0);
	device_put(dev);
	fake_free(mp);
}

Test(page_pool, destroy_with_netmems_in_flight_frees_on_last_return)
{
	struct fake_mp *mp = fake_new();
	struct pp_memory_provider_params mpp = { .mp_ops = &fake_ops, .mp_priv = mp };
	struct device *dev = nic_new();
	struct page_pool_params p = data_params(dev, 16, &mpp);
	struct page_pool *pool = pool_new(&p);
	netmem_ref nm[3];
	long live = page_pool_nr_live();

	for (int i = 0; i < 3; i++)
		nm[i] = page_pool_alloc_netmems(pool);
	page_pool_put_netmem(pool, nm[0], false); /* one sits in the ring */
	page_pool_destroy(pool); /* returns at once */
	cr_assert_eq(page_pool_nr_live(), live, "two netmems out: the pool lives");
	cr_assert_eq(mp->destroy_calls, 0);
	cr_assert_eq(mp->release_calls, PP_ALLOC_CACHE_REFILL - 2);
	cr_assert_eq(page_pool_inflight(pool), 2);

	page_pool_put_netmem(pool, nm[1], false); /* after destroy: straight back */
	cr_assert_eq(mp->release_calls, PP_ALLOC_CACHE_REFILL - 1);
	cr_assert_eq(page_pool_nr_live(), live);
	put_from_other_thread(pool, &nm[2], 1); /* the last one frees the pool */
	cr_assert_eq(page_pool_nr_live(), live - 1);
	cr_assert_eq(mp->destroy_calls, 1, "the provider's destroy ran exactly then");
	cr_assert_eq(fake_nr_out(mp), 0);
	device_put(dev);
	fake_free(mp);
}

Test(page_pool, destroy_with_nothing_in_flight_frees_at_once)
{
	struct device *dev = nic_new();
	struct page_pool_params p = host_params(dev, 16);
	struct page_pool *pool = pool_new(&p);

	cr_assert_eq(page_pool_nr_live(), 1);
	page_pool_recycle_direct(pool, page_pool_alloc_netmems(pool));
	page_pool_destroy(pool);
	cr_assert_eq(page_pool_nr_live(), 0);
	page_pool_destroy(NULL);
	device_put(dev);
}

Test(page_pool, host_pages_carry_dma_address_that_translates_to_the_page)
{
	struct device *dev = nic_new();
	struct page_pool_params p = host_params(dev, 64);
	struct page_pool *pool = pool_new(&p);
	netmem_ref nm[PP_ALLOC_CACHE_REFILL + 3];

	for (unsigned int i = 0; i < ARRAY_SIZE(nm); i++) {
		void *cpu = NULL;

		nm[i] = page_pool_alloc_netmems(pool);
		cr_assert(!netmem_is_net_iov(nm[i]));
		cr_assert_neq(netmem_get_dma_addr(nm[i]), 0);
		cr_assert_eq(device_translate(dev, netmem_get_dma_addr(nm[i]), PAGE_SIZE,
					      DMA_FROM_DEVICE, &cpu),
			     0);
		cr_assert_eq(cpu, netmem_address(nm[i]));
		cr_assert(IS_ALIGNED((uintptr_t)cpu, PAGE_SIZE));
		memset(cpu, (int)i, PAGE_SIZE); /* the memory is real */
	}
	cr_assert_geq(device_mapped_bytes(dev), 2 * HOST_PAGES_SLAB_BYTES);
	for (unsigned int i = 0; i < ARRAY_SIZE(nm); i++)
		page_pool_recycle_direct(pool, nm[i]);
	page_pool_destroy(pool);
	cr_assert_eq(device_mapped_bytes(dev), 0);
	device_put(dev);
}

/*
 * A device writes host pages behind the CPU's back: a forked child must not
 * share them copy-on-write (every write would fault and copy), so it gets
 * no mapping of them at all.
 */
Test(page_pool, host_pages_are_not_inherited_by_fork)
{
	struct device *dev = nic_new();
	struct page_pool_params p = host_params(dev, 16);
	struct page_pool *pool = pool_new(&p);
	netmem_ref nm = page_pool_alloc_netmems(pool);
	volatile char *cpu = netmem_address(nm);
	int status;
	pid_t pid;

	cpu[0] = 42;
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(cpu[0] == 42 ? 0 : 3); /* faults: the page is not mapped here */
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(!(WIFEXITED(status) && WEXITSTATUS(status) == 0),
		  "the child read the parent's host page");
	cr_assert_eq(cpu[0], 42);
	page_pool_recycle_direct(pool, nm);
	page_pool_destroy(pool);
	device_put(dev);
}

Test(page_pool, pool_without_dma_map_gets_unmapped_host_pages)
{
	struct page_pool_params p = { .pool_size = 16 };
	struct page_pool *pool = pool_new(&p);
	netmem_ref nm = page_pool_alloc_netmems(pool);

	cr_assert(!netmem_is_net_iov(nm));
	cr_assert_eq(netmem_get_dma_addr(nm), 0);
	cr_assert_not_null(netmem_address(nm));
	page_pool_recycle_direct(pool, nm);
	page_pool_destroy(pool);
}

Test(page_pool, high_order_pool_counts_slow_high_order)
{
	struct device *dev = nic_new();
	struct page_pool_params p = host_params(dev, 16);
	struct page_pool *pool;
	netmem_ref nm;
	void *cpu;

	p.order = 2;
	pool = pool_new(&p);
	nm = page_pool_alloc_netmems(pool);
	cr_assert_eq(stats_of(pool).alloc_stats.slow_high_order, 1);
	cr_assert_eq(stats_of(pool).alloc_stats.slow, 0);
	cr_assert_eq(device_translate(dev, netmem_get_dma_addr(nm), PAGE_SIZE << 2, DMA_FROM_DEVICE,
				      &cpu),
		     0);
	cr_assert_eq(cpu, netmem_address(nm));
	page_pool_recycle_direct(pool, nm);
	page_pool_destroy(pool);
	device_put(dev);
}

Test(page_pool, queue_provider_used_only_with_unreadable_flag)
{
	struct fake_mp *mp = fake_new();
	struct pp_memory_provider_params mpp = { .mp_ops = &fake_ops, .mp_priv = mp };
	struct device *dev = nic_new();
	struct page_pool_params hdr = host_params(dev, 16);
	struct page_pool_params data = data_params(dev, 16, &mpp);
	struct page_pool *hpool, *dpool;
	netmem_ref h, d;

	hdr.mp = &mpp; /* the queue has a provider, but the header pool did not opt in */
	hpool = pool_new(&hdr);
	cr_assert_null(hpool->mp_ops);
	h = page_pool_alloc_netmems(hpool);
	cr_assert(!netmem_is_net_iov(h), "a header pool gets host pages");
	cr_assert_not_null(netmem_address(h));
	cr_assert_eq(mp->init_calls, 0);
	cr_assert_eq(mp->alloc_calls, 0);

	dpool = pool_new(&data);
	cr_assert_eq(mp->init_calls, 1);
	cr_assert_eq(dpool->mp_priv, mp);
	d = page_pool_alloc_netmems(dpool);
	cr_assert(netmem_is_net_iov(d), "a data pool gets the provider's net_iovs");
	cr_assert_eq(net_iov_owner(netmem_to_net_iov(d)), &mp->area);
	cr_assert_eq(netmem_get_pp(d), dpool);
	cr_assert_eq(mp->alloc_calls, 1);

	page_pool_recycle_direct(hpool, h);
	page_pool_recycle_direct(dpool, d);
	page_pool_destroy(hpool);
	page_pool_destroy(dpool);
	cr_assert_eq(mp->destroy_calls, 1);
	device_put(dev);
	fake_free(mp);
}

Test(page_pool, unreadable_flag_without_queue_provider_gets_host_pages)
{
	struct pp_memory_provider_params none = { 0 };
	struct device *dev = nic_new();
	struct page_pool_params p = data_params(dev, 16, NULL);
	struct page_pool *pool = pool_new(&p);
	netmem_ref nm = page_pool_alloc_netmems(pool);

	cr_assert(!netmem_is_net_iov(nm));
	page_pool_recycle_direct(pool, nm);
	page_pool_destroy(pool);

	p.mp = &none;
	pool = pool_new(&p);
	cr_assert_null(pool->mp_ops);
	page_pool_destroy(pool);
	device_put(dev);
}

Test(page_pool, provider_init_failure_fails_create_cleanly)
{
	struct fake_mp *mp = fake_new();
	struct pp_memory_provider_params mpp = { .mp_ops = &fake_ops, .mp_priv = mp };
	struct device *dev = nic_new();
	struct page_pool_params p = data_params(dev, 16, &mpp);
	struct page_pool *pool = (struct page_pool *)0x1;

	mp->init_err = -ENOMEM;
	cr_assert_eq(page_pool_create(&p, &pool), -ENOMEM);
	cr_assert_eq(pool, (struct page_pool *)0x1, "*out untouched on failure");
	cr_assert_eq(mp->init_calls, 1);
	cr_assert_eq(mp->destroy_calls, 0, "destroy is not called for a failed init");
	cr_assert_eq(mp->alloc_calls, 0);
	cr_assert_eq(page_pool_nr_live(), 0);
	device_put(dev);
	fake_free(mp);
}

Test(page_pool, provider_pool_needs_dma_map_and_device_sync_before_init)
{
	struct fake_mp *mp = fake_new();
	struct pp_memory_provider_params mpp = { .mp_ops = &fake_ops, .mp_priv = mp };
	struct device *dev = nic_new();
	struct page_pool_params p = data_params(dev, 16, &mpp);
	struct page_pool *pool = NULL;

	mp->check_unreadable = true;

	/* page_pool_init(): refused before the provider's init runs */
	p.flags &= ~PP_FLAG_DMA_MAP;
	p.flags &= ~PP_FLAG_DMA_SYNC_DEV;
	cr_assert_eq(page_pool_create(&p, &pool), -EOPNOTSUPP, "no DMA mapping");
	cr_assert_eq(page_pool_check_unreadable_params(&p), -EOPNOTSUPP);

	p = data_params(dev, 16, &mpp);
	p.flags &= ~PP_FLAG_DMA_SYNC_DEV;
	cr_assert_eq(page_pool_create(&p, &pool), -EOPNOTSUPP, "no device sync");
	cr_assert_eq(page_pool_check_unreadable_params(&p), -EOPNOTSUPP);
	cr_assert_not_null(strstr(devmem_last_error(), "PP_FLAG_DMA_SYNC_DEV"), "%s",
			   devmem_last_error());
	cr_assert_eq(mp->init_calls, 0);

	p = data_params(dev, 16, &mpp);
	p.order = 1;
	cr_assert_eq(page_pool_create(&p, &pool), -E2BIG, "order > 0");

	cr_assert_null(pool);
	cr_assert_eq(mp->init_calls, 1);
	cr_assert_eq(mp->destroy_calls, 0);

	p = data_params(dev, 16, &mpp);
	cr_assert_eq(page_pool_check_unreadable_params(&p), 0);
	pool = pool_new(&p);
	page_pool_destroy(pool);
	cr_assert_eq(mp->destroy_calls, 1);
	device_put(dev);
	fake_free(mp);
}

Test(page_pool, header_pool_needs_no_device_sync)
{
	struct fake_mp *mp = fake_new();
	struct pp_memory_provider_params mpp = { .mp_ops = &fake_ops, .mp_priv = mp };
	struct device *dev = nic_new();
	struct page_pool_params p = host_params(dev, 16);
	struct page_pool *pool;

	/* the queue has a provider, but a pool that cannot take net_iovs gets host pages */
	p.mp = &mpp;
	pool = pool_new(&p);
	cr_assert_eq(mp->init_calls, 0);
	page_pool_destroy(pool);
	device_put(dev);
	fake_free(mp);
}

Test(page_pool, bad_params_are_einval)
{
	struct device *dev = nic_new();
	struct page_pool_params p;
	struct page_pool *pool = NULL;

	p = host_params(dev, 0);
	cr_assert_eq(page_pool_create(&p, &pool), -EINVAL, "pool_size 0");
	p = host_params(dev, PP_POOL_SIZE_MAX + 1);
	cr_assert_eq(page_pool_create(&p, &pool), -EINVAL, "pool_size too big");
	p = host_params(NULL, 16);
	cr_assert_eq(page_pool_create(&p, &pool), -EINVAL, "DMA_MAP without a device");
	p = host_params(dev, 16);
	p.dma_dir = DMA_TO_DEVICE;
	cr_assert_eq(page_pool_create(&p, &pool), -EINVAL, "rx pool the device cannot write");
	p = host_params(dev, 16);
	p.dma_dir = DMA_NONE;
	cr_assert_eq(page_pool_create(&p, &pool), -EINVAL, "DMA_NONE");
	p = host_params(dev, 16);
	p.flags = PP_FLAG_DMA_SYNC_DEV;
	p.max_len = PAGE_SIZE;
	cr_assert_eq(page_pool_create(&p, &pool), -EINVAL, "sync without map");
	p = host_params(dev, 16);
	p.flags |= PP_FLAG_DMA_SYNC_DEV;
	cr_assert_eq(page_pool_create(&p, &pool), -EINVAL, "sync without max_len");
	p = host_params(dev, 16);
	p.flags |= 1U << 9;
	cr_assert_eq(page_pool_create(&p, &pool), -EINVAL, "unknown flag");
	p = host_params(dev, 16);
	p.order = PP_MAX_ORDER + 1;
	cr_assert_eq(page_pool_create(&p, &pool), -EINVAL, "order too big");
	cr_assert_eq(page_pool_create(NULL, &pool), -EINVAL);
	cr_assert_eq(page_pool_create(&p, NULL), -EINVAL);
	cr_assert_null(pool);
	cr_assert_eq(page_pool_nr_live(), 0);
	cr_assert_eq(device_mapped_bytes(dev), 0);

	p = host_params(dev, PP_POOL_SIZE_MAX);
	p.flags |= PP_FLAG_DMA_SYNC_DEV;
	p.max_len = PAGE_SIZE;
	pool = pool_new(&p);
	page_pool_destroy(pool);
	device_put(dev);
}

Test(page_pool, provider_describes_itself_for_dumps)
{
	struct fake_mp *mp = fake_new();
	struct pp_memory_provider_params mpp = { .mp_ops = &fake_ops, .mp_priv = mp };
	struct device *dev = nic_new();
	struct page_pool_params p = data_params(dev, 16, &mpp);
	struct page_pool_params h = host_params(dev, 16);
	struct page_pool *pool, *hpool;
	struct netdev_mp_attrs attrs;

	mp->dmabuf_id = 7;
	pool = pool_new(&p);
	hpool = pool_new(&h);
	cr_assert_gt(pool->id, 0);
	cr_assert_neq(pool->id, hpool->id);
	cr_assert_eq(page_pool_mp_attrs(pool, &attrs), 0);
	cr_assert_eq(attrs.dmabuf_id, 7);
	cr_assert_eq(page_pool_mp_attrs(hpool, &attrs), 0);
	cr_assert_eq(attrs.dmabuf_id, 0);
	page_pool_destroy(pool);
	page_pool_destroy(hpool);
	device_put(dev);
	fake_free(mp);
}

Test(page_pool, host_pages_reuse_freed_pages_without_new_slabs)
{
	struct device *dev = nic_new();
	struct host_pages *hp;
	struct page *pages[100], *again[100];

	cr_assert_eq(host_pages_create(dev, DMA_FROM_DEVICE, 0, &hp), 0);
	cr_assert_eq(host_pages_alloc_bulk(hp, pages, 100), 100);
	cr_assert_eq(host_pages_in_use(hp), 100);
	cr_assert_eq(host_pages_slab_bytes(hp), 2 * HOST_PAGES_SLAB_BYTES);
	for (int i = 0; i < 100; i++)
		host_page_free(pages[i]);
	cr_assert_eq(host_pages_alloc_bulk(hp, again, 100), 100);
	cr_assert_eq(host_pages_slab_bytes(hp), 2 * HOST_PAGES_SLAB_BYTES, "no new slab");
	for (int i = 0; i < 100; i++)
		host_page_free(again[i]);
	cr_assert_eq(host_pages_in_use(hp), 0);
	host_pages_destroy(hp);
	cr_assert_eq(device_mapped_bytes(dev), 0);
	cr_assert_eq(host_pages_create(dev, DMA_FROM_DEVICE, HOST_PAGES_MAX_ORDER + 1, &hp),
		     -EINVAL);
	device_put(dev);
}

/* ---- statistics: derived from the cache's running totals and ring positions ---- */

Test(page_pool, fast_and_cached_count_every_fast_path_operation)
{
	struct device *dev = nic_new();
	struct page_pool_params p = host_params(dev, 64);
	struct page_pool *pool = pool_new(&p);
	netmem_ref nm[8];
	struct page_pool_stats s;

	for (int round = 0; round < 100; round++) {
		for (int i = 0; i < 8; i++)
			nm[i] = page_pool_alloc_netmems(pool);
		for (int i = 0; i < 8; i++)
			page_pool_recycle_direct(pool, nm[i]);
	}
	s = stats_of(pool);
	cr_assert_eq(s.alloc_stats.slow, 1);
	cr_assert_eq(s.alloc_stats.fast, 100 * 8 - 1, "all but the one the bulk refill returned");
	cr_assert_eq(s.recycle_stats.cached, 100 * 8, "the refill's pushes are not recycles");
	cr_assert_eq(s.recycle_stats.ring, 0);

	page_pool_destroy(pool);
	device_put(dev);
}

struct stats_job {
	struct page_pool *pool;
	struct page_pool_stats stats;
	netmem_ref netmem;
};

static void *stats_after_destroy_thread(void *arg)
{
	struct stats_job *job = arg;

	page_pool_get_stats(job->pool, &job->stats);
	page_pool_put_netmem(job->pool, job->netmem, false); /* the last one: frees the pool */
	return NULL;
}

Test(page_pool, destroy_leaves_the_counters_as_they_were)
{
	struct fake_mp *mp = fake_new();
	struct pp_memory_provider_params mpp = { .mp_ops = &fake_ops, .mp_priv = mp };
	struct device *dev = nic_new();
	struct page_pool_params p = data_params(dev, 16, &mpp);
	struct page_pool *pool = pool_new(&p);
	struct stats_job job = { .pool = pool };
	struct page_pool_stats before;
	netmem_ref a, b;
	pthread_t t;

	a = page_pool_alloc_netmems(pool);
	page_pool_recycle_direct(pool, a);
	a = page_pool_alloc_netmems(pool);
	b = page_pool_alloc_netmems(pool);
	page_pool_put_netmem(pool, b, false);
	before = stats_of(pool);
	page_pool_destroy(pool); /* gives back the cache and the ring; a is still out */
	job.netmem = a;
	cr_assert_eq(pthread_create(&t, NULL, stats_after_destroy_thread, &job), 0);
	pthread_join(t, NULL);
	cr_assert_eq(memcmp(&job.stats, &before, sizeof(before)), 0,
		     "draining the cache and the ring is not allocation or recycling");
	cr_assert_eq(before.alloc_stats.fast, 2);
	cr_assert_eq(before.recycle_stats.cached, 1);
	cr_assert_eq(before.recycle_stats.ring, 1);
	cr_assert_eq(mp->destroy_calls, 1);
	cr_assert_eq(fake_nr_out(mp), 0);
	device_put(dev);
	fake_free(mp);
}

Test(page_pool, direct_put_after_destroy_goes_back_to_the_provider)
{
	struct fake_mp *mp = fake_new();
	struct pp_memory_provider_params mpp = { .mp_ops = &fake_ops, .mp_priv = mp };
	struct device *dev = nic_new();
	struct page_pool_params p = data_params(dev, 16, &mpp);
	struct page_pool *pool = pool_new(&p);
	netmem_ref a = page_pool_alloc_netmems(pool), b = page_pool_alloc_netmems(pool);
	struct page_pool_stats s;

	page_pool_destroy(pool);
	cr_assert_eq(fake_nr_out(mp), 2);
	page_pool_recycle_direct(pool, a); /* the destroying thread stands in for the owner */
	cr_assert_eq(fake_nr_out(mp), 1, "neither cached nor queued: released");
	s = stats_of(pool);
	cr_assert_eq(s.recycle_stats.cached, 0);
	cr_assert_eq(s.recycle_stats.cache_full, 0, "a destroyed pool's cache is not full");
	cr_assert_eq(s.recycle_stats.ring, 0);
	cr_assert_eq(s.recycle_stats.ring_full, 0);
	page_pool_recycle_direct(pool, b);
	cr_assert_eq(mp->destroy_calls, 1);
	cr_assert_eq(fake_nr_out(mp), 0);
	device_put(dev);
	fake_free(mp);
}

Test(page_pool, bulk_put_after_destroy_goes_back_to_the_provider)
{
	struct fake_mp *mp = fake_new();
	struct pp_memory_provider_params mpp = { .mp_ops = &fake_ops, .mp_priv = mp };
	struct device *dev = nic_new();
	struct page_pool_params p = data_params(dev, 16, &mpp);
	struct page_pool *pool = pool_new(&p);
	netmem_ref nm[5];
	struct page_pool_stats s;

	for (int i = 0; i < 5; i++)
		nm[i] = page_pool_alloc_netmems(pool);
	page_pool_destroy(pool);
	page_pool_put_netmem_bulk(pool, nm, 4); /* the ring is closed: no claim */
	cr_assert_eq(fake_nr_out(mp), 1);
	s = stats_of(pool);
	cr_assert_eq(s.recycle_stats.ring, 0);
	cr_assert_eq(s.recycle_stats.ring_full, 0, "a closed ring is not a full one");
	cr_assert_eq(page_pool_inflight(pool), 1);
	page_pool_put_netmem_bulk(pool, &nm[4], 1);
	cr_assert_eq(mp->destroy_calls, 1);
	cr_assert_eq(fake_nr_out(mp), 0);
	device_put(dev);
	fake_free(mp);
}

/* A ring whose size is not a power of two holds exactly pool_size, lap after lap. */
Test(page_pool, ring_holds_pool_size_entries_across_laps)
{
	struct fake_mp *mp = fake_new();
	struct pp_memory_provider_params mpp = { .mp_ops = &fake_ops, .mp_priv = mp };
	struct device *dev = nic_new();
	struct page_pool_params p = data_params(dev, 3, &mpp);
	struct page_pool *pool = pool_new(&p);
	netmem_ref nm[4], again[3], held[PP_ALLOC_CACHE_SIZE];
	unsigned int nheld;
	struct page_pool_stats s;

	for (int lap = 0; lap < 10; lap++) {
		for (int i = 0; i < 4; i++)
			nm[i] = page_pool_alloc_netmems(pool);
		/* empty the cache, so the next allocation refills from the ring */
		for (nheld = 0; page_pool_cache_count(pool); nheld++)
			held[nheld] = page_pool_alloc_netmems(pool);
		put_from_other_thread(pool, nm, 4);
		for (int i = 0; i < 3; i++)
			again[i] = page_pool_alloc_netmems(pool);
		/* the refill took the ring in order; the cache hands them out last first */
		cr_assert_eq(again[0], nm[2], "lap %d", lap);
		cr_assert_eq(again[1], nm[1], "lap %d", lap);
		cr_assert_eq(again[2], nm[0], "lap %d", lap);
		for (int i = 0; i < 3; i++)
			page_pool_recycle_direct(pool, again[i]);
		while (nheld)
			page_pool_recycle_direct(pool, held[--nheld]);
	}
	s = stats_of(pool);
	cr_assert_eq(s.recycle_stats.ring, 30);
	cr_assert_eq(s.recycle_stats.ring_full, 10, "the fourth of every lap found it full");
	cr_assert_eq(s.alloc_stats.refill, 10);
	cr_assert_eq(page_pool_inflight(pool), fake_nr_out(mp));
	page_pool_destroy(pool);
	cr_assert_eq(fake_nr_out(mp), 0);
	cr_assert_eq(mp->destroy_calls, 1);
	device_put(dev);
	fake_free(mp);
}

/* ---- the registry: dumps and provider checks ---- */

/* Queues are opaque to the pool: any distinct addresses will do. */
static long fake_rxqs[2];
#define FAKE_RXQ(i) ((struct netdev_rx_queue *)&fake_rxqs[i])

#define DUMP_MAX 8

struct dump_seen {
	int n;
	struct page_pool_info info[DUMP_MAX];
	int stop_after; /* return stop_ret from the callback once this many were seen (0: never) */
	int stop_ret;
};

static int dump_record(const struct page_pool_info *info, void *data)
{
	struct dump_seen *seen = data;

	cr_assert_lt(seen->n, DUMP_MAX);
	seen->info[seen->n++] = *info;
	if (seen->stop_after && seen->n == seen->stop_after)
		return seen->stop_ret;
	return 0;
}

static struct dump_seen dump_all(void)
{
	struct dump_seen seen = { 0 };

	cr_assert_eq(page_pool_dump(dump_record, &seen), 0);
	return seen;
}

/* The dumped entry of pool @id, or NULL. */
static const struct page_pool_info *dump_find(const struct dump_seen *seen, unsigned int id)
{
	for (int i = 0; i < seen->n; i++)
		if (seen->info[i].id == id)
			return &seen->info[i];
	return NULL;
}

Test(page_pool, dump_reports_id_ifindex_napi_inflight_and_provider)
{
	struct fake_mp *mp = fake_new();
	struct pp_memory_provider_params mpp = { .mp_ops = &fake_ops, .mp_priv = mp };
	struct device *dev = nic_new();
	struct page_pool_params p = data_params(dev, 16, &mpp);
	const struct page_pool_info *info;
	struct page_pool *pool;
	struct dump_seen seen;
	netmem_ref nm;

	mp->dmabuf_id = 42;
	p.ifindex = 7;
	p.napi_id = 8193;
	p.queue = FAKE_RXQ(0);
	pool = pool_new(&p);
	nm = page_pool_alloc_netmems(pool);

	seen = dump_all();
	cr_assert_eq(seen.n, 1);
	info = &seen.info[0];
	cr_assert_eq(info->id, pool->id);
	cr_assert_gt(info->id, 0);
	cr_assert_eq(info->ifindex, 7);
	cr_assert_eq(info->napi_id, 8193);
	cr_assert_eq(info->inflight, PP_ALLOC_CACHE_REFILL, "the cache's netmems are in flight");
	cr_assert_eq(info->inflight_mem, PP_ALLOC_CACHE_REFILL * PAGE_SIZE);
	cr_assert_eq(info->detach_time, 0);
	cr_assert_eq(info->queue, FAKE_RXQ(0));
	cr_assert_eq(info->mp.dmabuf_id, 42, "the provider's nl_fill describes it");
	cr_assert(!info->mp.io_uring);

	page_pool_recycle_direct(pool, nm);
	page_pool_destroy(pool);
	cr_assert_eq(dump_all().n, 0, "a freed pool is not dumped");
	device_put(dev);
	fake_free(mp);
}

Test(page_pool, dump_counts_inflight_mem_in_bytes_of_the_pool_order)
{
	struct device *dev = nic_new();
	struct page_pool_params p = host_params(dev, 16);
	struct page_pool *pool;
	struct dump_seen seen;
	netmem_ref nm;

	p.order = 2;
	p.ifindex = 3;
	pool = pool_new(&p);
	nm = page_pool_alloc_netmems(pool);
	seen = dump_all();
	cr_assert_eq(seen.n, 1);
	cr_assert_eq(seen.info[0].inflight, page_pool_inflight(pool));
	cr_assert_gt(seen.info[0].inflight, 0);
	cr_assert_eq(seen.info[0].inflight_mem, (size_t)seen.info[0].inflight * (PAGE_SIZE << 2));
	cr_assert_eq(seen.info[0].mp.dmabuf_id, 0, "host pages have no provider attributes");
	cr_assert_eq(seen.info[0].napi_id, 0);
	page_pool_recycle_direct(pool, nm);
	page_pool_destroy(pool);
	device_put(dev);
}

Test(page_pool, dump_never_reports_a_pool_without_ifindex)
{
	struct device *dev = nic_new();
	struct page_pool_params anon = host_params(dev, 16), named = host_params(dev, 16);
	struct page_pool *apool, *npool;
	struct dump_seen seen;
	netmem_ref nm;

	named.ifindex = 4;
	apool = pool_new(&anon);
	npool = pool_new(&named);
	nm = page_pool_alloc_netmems(apool);
	seen = dump_all();
	cr_assert_eq(seen.n, 1);
	cr_assert_eq(seen.info[0].id, npool->id);
	cr_assert_null(dump_find(&seen, apool->id));

	/* not even destroyed with netmems in flight */
	page_pool_destroy(apool);
	cr_assert_eq(page_pool_nr_live(), 2);
	seen = dump_all();
	cr_assert_eq(seen.n, 1);
	cr_assert_null(dump_find(&seen, apool->id));
	page_pool_put_netmem(apool, nm, false);
	page_pool_destroy(npool);
	cr_assert_eq(page_pool_nr_live(), 0);
	device_put(dev);
}

Test(page_pool, destroyed_pool_is_dumped_detached_until_its_last_netmem_returns)
{
	struct fake_mp *mp = fake_new();
	struct pp_memory_provider_params mpp = { .mp_ops = &fake_ops, .mp_priv = mp };
	struct device *dev = nic_new();
	struct page_pool_params p = data_params(dev, 16, &mpp);
	const struct page_pool_info *info;
	struct page_pool *pool;
	struct dump_seen seen;
	unsigned int id;
	netmem_ref nm[2];

	mp->dmabuf_id = 5;
	p.ifindex = 9;
	p.queue = FAKE_RXQ(1);
	pool = pool_new(&p);
	id = pool->id;
	nm[0] = page_pool_alloc_netmems(pool);
	nm[1] = page_pool_alloc_netmems(pool);
	page_pool_destroy(pool);

	seen = dump_all();
	info = dump_find(&seen, id);
	cr_assert_not_null(info, "a destroyed pool with netmems out is still listed");
	cr_assert_neq(info->detach_time, 0);
	cr_assert_null(info->queue, "a destroyed pool serves no queue");
	cr_assert_eq(info->inflight, 2);
	cr_assert_eq(info->inflight_mem, 2 * PAGE_SIZE);
	cr_assert_eq(info->ifindex, 9);
	cr_assert_eq(info->mp.dmabuf_id, 5, "the provider lives as long as the pool");

	page_pool_put_netmem(pool, nm[0], false);
	seen = dump_all();
	cr_assert_eq(seen.n, 1);
	cr_assert_eq(seen.info[0].inflight, 1);
	put_from_other_thread(pool, &nm[1], 1);
	cr_assert_eq(dump_all().n, 0, "gone with its last netmem");
	cr_assert_eq(mp->destroy_calls, 1);
	device_put(dev);
	fake_free(mp);
}

Test(page_pool, dump_lists_pools_in_creation_order_with_ascending_ids)
{
	struct device *dev = nic_new();
	struct page_pool_params p = host_params(dev, 16);
	struct page_pool *pool[3];
	struct dump_seen seen;

	p.ifindex = 2;
	for (int i = 0; i < 3; i++)
		pool[i] = pool_new(&p);
	seen = dump_all();
	cr_assert_eq(seen.n, 3);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(seen.info[i].id, pool[i]->id);
	cr_assert_lt(pool[0]->id, pool[1]->id);
	cr_assert_lt(pool[1]->id, pool[2]->id);
	for (int i = 0; i < 3; i++)
		page_pool_destroy(pool[i]);
	device_put(dev);
}

Test(page_pool, dump_stops_at_the_callbacks_nonzero_return_and_returns_it)
{
	struct device *dev = nic_new();
	struct page_pool_params p = host_params(dev, 16);
	struct page_pool *pool[3];
	struct dump_seen seen = { .stop_after = 2, .stop_ret = -EMSGSIZE };

	p.ifindex = 2;
	for (int i = 0; i < 3; i++)
		pool[i] = pool_new(&p);
	cr_assert_eq(page_pool_dump(dump_record, &seen), -EMSGSIZE);
	cr_assert_eq(seen.n, 2, "no call after the one that said stop");
	cr_assert_eq(seen.info[1].id, pool[1]->id);

	seen = (struct dump_seen){ .stop_after = 1, .stop_ret = 1 };
	cr_assert_eq(page_pool_dump(dump_record, &seen), 1, "positive returns stop it too");
	cr_assert_eq(seen.n, 1);
	for (int i = 0; i < 3; i++)
		page_pool_destroy(pool[i]);
	device_put(dev);
}

static int fake_nl_fill_fails(void *mp_priv, struct netdev_mp_attrs *attrs,
			      struct netdev_rx_queue *rxq)
{
	return -EMSGSIZE;
}

Test(page_pool, dump_stops_at_a_provider_that_cannot_describe_itself)
{
	struct memory_provider_ops ops = fake_ops;
	struct fake_mp *mp = fake_new();
	struct pp_memory_provider_params mpp = { .mp_ops = &ops, .mp_priv = mp };
	struct device *dev = nic_new();
	struct page_pool_params p = data_params(dev, 16, &mpp);
	struct page_pool *pool;
	struct dump_seen seen = { 0 };

	ops.nl_fill = fake_nl_fill_fails;
	p.ifindex = 2;
	pool = pool_new(&p);
	cr_assert_eq(page_pool_dump(dump_record, &seen), -EMSGSIZE);
	cr_assert_eq(seen.n, 0);
	page_pool_destroy(pool);
	device_put(dev);
	fake_free(mp);
}

Test(page_pool, queue_uses_provider_only_for_a_live_pool_of_that_queue_and_provider)
{
	struct fake_mp *mp = fake_new(), *other = fake_new();
	struct pp_memory_provider_params mpp = { .mp_ops = &fake_ops, .mp_priv = mp };
	struct device *dev = nic_new();
	struct page_pool_params data = data_params(dev, 16, &mpp);
	struct page_pool_params hdr = host_params(dev, 16);
	struct page_pool *dpool, *hpool;
	netmem_ref nm;

	cr_assert(!page_pool_queue_uses_provider(FAKE_RXQ(0), mp), "no pool at all");

	/* a header pool on the queue: the queue has the provider, the pool did not take it */
	hdr.queue = FAKE_RXQ(0);
	hdr.mp = &mpp;
	hpool = pool_new(&hdr);
	cr_assert(!page_pool_queue_uses_provider(FAKE_RXQ(0), mp));

	data.queue = FAKE_RXQ(0);
	dpool = pool_new(&data);
	cr_assert(page_pool_queue_uses_provider(FAKE_RXQ(0), mp));
	cr_assert(!page_pool_queue_uses_provider(FAKE_RXQ(1), mp), "another queue");
	cr_assert(!page_pool_queue_uses_provider(FAKE_RXQ(0), other), "another provider");
	cr_assert(!page_pool_queue_uses_provider(NULL, mp));

	/* destroyed, even with netmems in flight, it serves the queue no more */
	nm = page_pool_alloc_netmems(dpool);
	page_pool_destroy(dpool);
	cr_assert_eq(page_pool_nr_live(), 2);
	cr_assert(!page_pool_queue_uses_provider(FAKE_RXQ(0), mp));
	page_pool_put_netmem(dpool, nm, false);

	page_pool_destroy(hpool);
	cr_assert_eq(page_pool_nr_live(), 0);
	device_put(dev);
	fake_free(mp);
	fake_free(other);
}
