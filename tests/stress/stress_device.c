// SPDX-License-Identifier: MIT
/*
 * Lock-free translation against concurrent map and unmap.
 *
 * Mapper threads each own a few slots of a shared host buffer and keep
 * mapping random ranges of them (random direction, sizes from one byte to a
 * few 2 MiB blocks) and unmapping them again. Accessor threads read the
 * mapped slots through the device while that goes on (under the slot's read
 * lock, so the mapping is live): every access must succeed and see the
 * slot's bytes, every translation must give the slot's CPU address, every
 * access against the mapping's direction must fault. Everyone probes
 * addresses that are never mapped (beyond the IOVA space, inside a peer's
 * window that is never mapped here): those must always fault. At the end the
 * device's fault count and its handler's calls must equal the faults
 * expected, and with everything unmapped the whole IOVA space must be free
 * again in one piece.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "devmem/device.h"
#include "lib/compiler.h"
#include "stress.h"

#define NAME "stress_device"
#define MAPPERS 4
#define ACCESSORS 4
#define SLOTS_PER_MAPPER 4
#define NSLOTS (MAPPERS * SLOTS_PER_MAPPER)
#define SLOT_SIZE (6UL << 20) /* room for a 2 MiB block or two */
#define IOVA_BITS 30
#define MAX_ACCESS (16UL << 10)
#define WINDOW_SIZE (4 * PAGE_SIZE)

struct slot {
	pthread_rwlock_t lock; /* write: the owning mapper; read: accessors */
	char *host; /* SLOT_SIZE bytes of the shared buffer; immutable */
	/* under lock */
	bool mapped;
	size_t off, len;
	dma_addr_t iova;
	enum dma_data_direction dir;
};

static struct device *dev;
static struct slot slots[NSLOTS];
static dma_addr_t window_bus;
static int stop; /* atomic */
static uint64_t expected_faults; /* atomic */
static uint64_t handler_calls; /* atomic */
static uint64_t nr_maps, nr_accesses; /* atomic */

static char *host;

/* The bytes of the host buffer never change: a translation off by any page shows. */
static unsigned char pattern_at(const char *p)
{
	uint64_t x = ((uint64_t)(p - host) / 7 + 1) * 0x9e3779b97f4a7c15ULL;

	return (unsigned char)(x >> 56);
}

static void count_fault(struct device *d, const struct device_fault *fault, void *priv)
{
	__atomic_fetch_add(&handler_calls, 1, __ATOMIC_RELAXED);
}

static bool stopping(void)
{
	return __atomic_load_n(&stop, __ATOMIC_RELAXED);
}

static void expect_fault(int err, const char *what)
{
	stress_check(NAME, err == -EFAULT, "%s: got %d, want -EFAULT", what, err);
	__atomic_fetch_add(&expected_faults, 1, __ATOMIC_RELAXED);
}

/* Addresses that are never mapped into dev: they must always fault. */
static void probe_unmapped(uint64_t *rnd)
{
	dma_addr_t addr;
	char c = 0;

	switch (stress_rand(rnd) % 3) {
	case 0: /* beyond the IOVA space, under populated upper tables */
		addr = (1ULL << IOVA_BITS) +
		       stress_rand(rnd) % ((1ULL << 39) - (1ULL << IOVA_BITS));
		break;
	case 1: /* a peer's window, never mapped into this device */
		addr = window_bus + stress_rand(rnd) % WINDOW_SIZE;
		break;
	default: /* IOVA 0 is never handed out */
		addr = stress_rand(rnd) % PAGE_SIZE;
		break;
	}
	expect_fault(device_access(dev, addr, &c, 1, DMA_TO_DEVICE), "probe");
}

static size_t random_len(uint64_t *rnd)
{
	switch (stress_rand(rnd) % 8) {
	case 0: /* large: blocks */
		return 1 + stress_rand(rnd) % (SLOT_SIZE - PAGE_SIZE);
	case 1:
	case 2:
		return 1 + stress_rand(rnd) % (256UL << 10);
	default:
		return 1 + stress_rand(rnd) % (4 * PAGE_SIZE);
	}
}

static void slot_map(struct slot *s, uint64_t *rnd)
{
	static const enum dma_data_direction dirs[] = { DMA_BIDIRECTIONAL, DMA_TO_DEVICE,
							DMA_FROM_DEVICE };
	int err;

	s->len = random_len(rnd);
	s->off = stress_rand(rnd) % (SLOT_SIZE - s->len + 1);
	s->dir = dirs[stress_rand(rnd) % 3];
	err = dma_map_range(dev, s->host + s->off, s->len, s->dir, &s->iova);
	stress_check(NAME, err == 0, "map of %zu bytes: %d", s->len, err);
	stress_check(NAME,
		     (s->iova & (PAGE_SIZE - 1)) ==
			     ((uintptr_t)(s->host + s->off) & (PAGE_SIZE - 1)),
		     "IOVA page offset differs from the CPU address's");
	s->mapped = true;
	__atomic_fetch_add(&nr_maps, 1, __ATOMIC_RELAXED);
}

/* The owner writes through the device (the same bytes again) before it unmaps. */
static void slot_unmap(struct slot *s, uint64_t *rnd)
{
	size_t n = min(s->len, 64), at = s->len - n;
	unsigned char buf[64];
	int err;

	for (size_t i = 0; i < n; i++)
		buf[i] = pattern_at(s->host + s->off + at + i);
	err = device_access(dev, s->iova + at, buf, n, DMA_FROM_DEVICE);
	if (s->dir == DMA_TO_DEVICE)
		expect_fault(err, "write to a TO_DEVICE mapping");
	else
		stress_check(NAME, err == 0, "owner write: %d", err);
	dma_unmap_range(dev, s->iova, s->len);
	s->mapped = false;
}

static void *mapper(void *arg)
{
	struct slot *own = &slots[(uintptr_t)arg * SLOTS_PER_MAPPER];
	uint64_t rnd = 0x9e3779b97f4a7c15ULL * ((uintptr_t)arg + 1);

	while (!stopping()) {
		struct slot *s = &own[stress_rand(&rnd) % SLOTS_PER_MAPPER];

		pthread_rwlock_wrlock(&s->lock);
		if (s->mapped)
			slot_unmap(s, &rnd);
		else
			slot_map(s, &rnd);
		pthread_rwlock_unlock(&s->lock);
		if (stress_rand(&rnd) % 4 == 0)
			probe_unmapped(&rnd);
	}
	return NULL;
}

static void slot_check(struct slot *s, uint64_t *rnd, unsigned char *buf)
{
	size_t n = 1 + stress_rand(rnd) % min(s->len, MAX_ACCESS);
	size_t at = stress_rand(rnd) % (s->len - n + 1);
	void *p;
	int err;

	err = device_access(dev, s->iova + at, buf, n, DMA_TO_DEVICE);
	if (s->dir == DMA_FROM_DEVICE) {
		expect_fault(err, "read of a FROM_DEVICE mapping");
		return;
	}
	stress_check(NAME, err == 0, "read of a live mapping: %d", err);
	for (size_t i = 0; i < n; i++)
		stress_check(NAME, buf[i] == pattern_at(s->host + s->off + at + i),
			     "read %#x at %zu of a mapping, want %#x", buf[i], at + i,
			     pattern_at(s->host + s->off + at + i));
	err = device_translate(dev, s->iova + at, n, DMA_TO_DEVICE, &p);
	stress_check(NAME, err == 0 && p == s->host + s->off + at, "translate: %d", err);
	__atomic_fetch_add(&nr_accesses, 1, __ATOMIC_RELAXED);
}

static void *accessor(void *arg)
{
	uint64_t rnd = 0xd1b54a32d192ed03ULL * ((uintptr_t)arg + 7);
	unsigned char *buf = malloc(MAX_ACCESS);

	stress_check(NAME, buf, "out of memory");
	while (!stopping()) {
		struct slot *s = &slots[stress_rand(&rnd) % NSLOTS];

		pthread_rwlock_rdlock(&s->lock);
		if (s->mapped)
			slot_check(s, &rnd, buf);
		pthread_rwlock_unlock(&s->lock);
		if (stress_rand(&rnd) % 4 == 0)
			probe_unmapped(&rnd);
	}
	free(buf);
	return NULL;
}

/* With nothing mapped, all of [PAGE_SIZE, 2^IOVA_BITS) must be one free range again. */
static void check_all_free(void)
{
	size_t size = (1UL << IOVA_BITS) - PAGE_SIZE;
	char *big = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	dma_addr_t iova;
	int err;

	stress_check(NAME, big != MAP_FAILED, "mmap");
	err = dma_map_range(dev, big, size, DMA_TO_DEVICE, &iova);
	stress_check(NAME, err == 0 && iova == PAGE_SIZE, "IOVA space not whole again: %d", err);
	dma_unmap_range(dev, iova, size);
	munmap(big, size);
}

int main(void)
{
	struct device_opts opts = { .sz = sizeof(opts), .iova_bits = IOVA_BITS };
	pthread_t threads[MAPPERS + ACCESSORS];
	struct device *peer;
	double end;
	uintptr_t i;

	host = mmap(NULL, NSLOTS * SLOT_SIZE + WINDOW_SIZE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	stress_check(NAME, host != MAP_FAILED, "mmap");
	for (i = 0; i < NSLOTS * SLOT_SIZE; i++)
		host[i] = (char)pattern_at(host + i);
	stress_check(NAME, device_create("stress", &opts, &dev) == 0, "device_create");
	stress_check(NAME, device_create("peer", NULL, &peer) == 0, "device_create");
	stress_check(NAME,
		     device_add_p2p_window(peer, host + NSLOTS * SLOT_SIZE, WINDOW_SIZE,
					   &window_bus) == 0,
		     "window");
	device_set_fault_handler(dev, count_fault, NULL);
	for (i = 0; i < NSLOTS; i++) {
		pthread_rwlock_init(&slots[i].lock, NULL);
		slots[i].host = host + i * SLOT_SIZE;
	}

	for (i = 0; i < MAPPERS; i++)
		pthread_create(&threads[i], NULL, mapper, (void *)i);
	for (i = 0; i < ACCESSORS; i++)
		pthread_create(&threads[MAPPERS + i], NULL, accessor, (void *)i);
	end = stress_now() + stress_seconds();
	while (stress_now() < end) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < MAPPERS + ACCESSORS; i++)
		pthread_join(threads[i], NULL);

	stress_check(NAME, device_fault_count(dev) == expected_faults, "%llu faults, %llu expected",
		     (unsigned long long)device_fault_count(dev),
		     (unsigned long long)expected_faults);
	stress_check(NAME, handler_calls == expected_faults, "handler called %llu times",
		     (unsigned long long)handler_calls);
	for (i = 0; i < NSLOTS; i++) {
		if (slots[i].mapped)
			dma_unmap_range(dev, slots[i].iova, slots[i].len);
		pthread_rwlock_destroy(&slots[i].lock);
	}
	stress_check(NAME, device_mapped_bytes(dev) == 0, "%zu bytes still mapped",
		     device_mapped_bytes(dev));
	check_all_free();

	printf("%s: ok %llu maps, %llu checked accesses, %llu faults as expected\n", NAME,
	       (unsigned long long)nr_maps, (unsigned long long)nr_accesses,
	       (unsigned long long)expected_faults);
	device_put(peer);
	device_put(dev);
	munmap(host, NSLOTS * SLOT_SIZE + WINDOW_SIZE);
	return 0;
}
