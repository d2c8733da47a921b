// SPDX-License-Identifier: MIT
/*
 * The dma-buf core under concurrency: importers get, attach, map, read
 * through a device, unmap, detach and put a buffer by its fd while the
 * exporter drops its reference at a random moment (so the last put and the
 * release race with lookups, and lookups after the release wrap the still
 * open memfd again, once, however many threads race to do it), and another
 * thread walks the registry with dma_buf_describe().
 *
 * Invariants: every get succeeds and returns a host buffer of the right size
 * with the right bytes; concurrent wraps of one file give one buffer; at the
 * end no buffer is left and no device mapping is left.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devmem/dma-buf.h"
#include "devmem/host.h"
#include "stress.h"

#define NAME "stress_dma_buf"
#define IMPORTERS 4
#define BUF_SIZE (4 * 4096UL)

struct round {
	int fd; /* the round's fd, open for the whole round */
	int stop; /* atomic: importers finish their iteration and leave */
	uint64_t gets; /* atomic */
};

static struct device *nic;
static int describe_stop; /* atomic */

static unsigned char pattern(size_t i)
{
	return (unsigned char)(i * 29 + 11);
}

static void import_once(struct round *r, uint64_t *rng)
{
	struct dma_buf_attachment *attach;
	unsigned char byte;
	struct sg_table *sgt;
	struct dma_buf *dmabuf;
	size_t off;
	int ret;

	ret = dma_buf_get(r->fd, &dmabuf);
	stress_check(NAME, ret == 0, "dma_buf_get: %d", ret);
	stress_check(NAME, devmem_is_host_buffer(dmabuf) && dmabuf->size == BUF_SIZE,
		     "got a buffer that is not the round's");
	__atomic_fetch_add(&r->gets, 1, __ATOMIC_RELAXED);
	ret = dma_buf_attach(dmabuf, nic, &attach);
	stress_check(NAME, ret == 0, "dma_buf_attach: %d", ret);
	ret = dma_buf_map_attachment_unlocked(attach, DMA_TO_DEVICE, &sgt);
	stress_check(NAME, ret == 0, "map: %d", ret);
	off = stress_rand(rng) % BUF_SIZE;
	ret = device_access(nic, sgt->sgl[0].dma_address + off, &byte, 1, DMA_TO_DEVICE);
	stress_check(NAME, ret == 0 && byte == pattern(off), "device read at %zu: %d", off, ret);
	dma_buf_unmap_attachment_unlocked(attach, sgt, DMA_TO_DEVICE);
	dma_buf_detach(dmabuf, attach);
	dma_buf_put(dmabuf);
}

static void *importer(void *arg)
{
	struct round *r = arg;
	uint64_t rng = (uintptr_t)&rng | 1;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE))
		import_once(r, &rng);
	return NULL;
}

static int live_buffers(void)
{
	char *text = NULL, *last = NULL, *p;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	int n = -1;

	stress_check(NAME, out && dma_buf_describe(out) == 0, "describe");
	fclose(out);
	for (p = strstr(text, "\nTotal "); p; p = strstr(p + 1, "\nTotal "))
		last = p;
	if (last)
		sscanf(last, "\nTotal %d objects", &n);
	free(text);
	return n;
}

/* One round's file is one buffer at a time, however many threads wrap it. */
static void *describer(void *arg)
{
	int n;

	while (!__atomic_load_n(&describe_stop, __ATOMIC_ACQUIRE)) {
		n = live_buffers();
		stress_check(NAME, n == 0 || n == 1, "%d live buffers (one file wrapped twice?)",
			     n);
	}
	return NULL;
}

static struct dma_buf *make_buffer(void)
{
	struct host_buffer_opts opts = { .sz = sizeof(opts), .max_segment = BUF_SIZE };
	struct dma_buf *dmabuf;
	unsigned char *cpu;
	size_t i;
	int ret;

	ret = devmem_host_buffer_create(BUF_SIZE, &opts, &dmabuf);
	stress_check(NAME, ret == 0, "create: %d", ret);
	ret = dma_buf_vmap_unlocked(dmabuf, (void **)&cpu);
	stress_check(NAME, ret == 0, "vmap: %d", ret);
	for (i = 0; i < BUF_SIZE; i++)
		cpu[i] = pattern(i);
	dma_buf_vunmap_unlocked(dmabuf, cpu);
	return dmabuf;
}

static void sleep_us(unsigned int us)
{
	struct timespec ts = { .tv_nsec = (long)us * 1000 };

	nanosleep(&ts, NULL);
}

/* One round: importers race with the exporter's last put and with re-wraps. */
static uint64_t run_round(uint64_t *rng)
{
	pthread_t threads[IMPORTERS];
	struct dma_buf *dmabuf = make_buffer();
	struct round r = { .fd = dma_buf_fd(dmabuf, O_CLOEXEC) };
	unsigned int i;

	stress_check(NAME, r.fd >= 0, "dma_buf_fd: %d", r.fd);
	for (i = 0; i < IMPORTERS; i++)
		stress_check(NAME, !pthread_create(&threads[i], NULL, importer, &r), "thread");
	sleep_us(stress_rand(rng) % 2000);
	dma_buf_put(dmabuf);
	sleep_us(stress_rand(rng) % 2000);
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < IMPORTERS; i++)
		pthread_join(threads[i], NULL);
	close(r.fd);
	return r.gets;
}

int main(void)
{
	double end = stress_now() + stress_seconds();
	uint64_t rng = 0x9e3779b97f4a7c15ULL, gets = 0, rounds = 0;
	pthread_t describe_thread;
	int ret;

	ret = device_create("stress-nic", NULL, &nic);
	stress_check(NAME, ret == 0, "device_create: %d", ret);
	stress_check(NAME, !pthread_create(&describe_thread, NULL, describer, NULL), "thread");
	while (stress_now() < end) {
		gets += run_round(&rng);
		rounds++;
	}
	__atomic_store_n(&describe_stop, 1, __ATOMIC_RELEASE);
	pthread_join(describe_thread, NULL);
	stress_check(NAME, live_buffers() == 0, "%d buffers left after the last round",
		     live_buffers());
	stress_check(NAME, device_mapped_bytes(nic) == 0, "%zu bytes left mapped",
		     device_mapped_bytes(nic));
	device_put(nic);
	printf("%s: ok %llu rounds, %llu gets\n", NAME, (unsigned long long)rounds,
	       (unsigned long long)gets);
	return 0;
}
