// SPDX-License-Identifier: MIT
/*
 * RDMA into memory that moves: the parent owns a vram buffer registered as
 * a dynamic MR and keeps evicting it (the next access by the RDMA device
 * restores it); two child processes, each over its own RC connection,
 * RDMA-write random ranges of their own half of the MR and read them back.
 *
 * Every read must return what was written (no write lost under a move's
 * copy, none landing in memory the buffer left), and the parent's RDMA
 * device must see no IOMMU fault: no stale device address is ever used.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../support/rdma-pair.h"
#include "devmem/vram.h"
#include "lib/compiler.h"
#include "stress.h"

#define NAME "stress_rdma"
#define NCHILDREN 2
#define REGION (64 * 1024) /* each child's part of the MR */
#define MR_IOVA 0x10000000ULL
#define ACCESS                                                            \
	(DEVMEM_IBV_ACCESS_LOCAL_WRITE | DEVMEM_IBV_ACCESS_REMOTE_WRITE | \
	 DEVMEM_IBV_ACCESS_REMOTE_READ)

struct hello {
	uint32_t qpn;
	uint32_t rkey;
	uint64_t raddr; /* the child's region */
};

static int full_io(int fd, void *buf, size_t len, bool out)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = out ? write(fd, (char *)buf + done, len - done) :
				  read(fd, (char *)buf + done, len - done);

		if (n <= 0)
			return -1;
		done += n;
	}
	return 0;
}

static int child_connect(uint16_t port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET,
				    .sin_port = port,
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)))
		return -1;
	return fd;
}

static uint8_t pattern(uint64_t seed, size_t i)
{
	return (uint8_t)((seed * 131) ^ (i * 7) ^ (i >> 9));
}

/* The requester: write, read back, compare, until the time is up. */
static int child(uint16_t port, int idx, double seconds)
{
	struct rdma_end e = { 0 };
	struct hello h, mine;
	uint8_t *mem = aligned_alloc(PAGE_SIZE, 2 * REGION);
	struct devmem_ibv_mr *mr;
	struct devmem_ibv_wc wc;
	uint64_t rnd = 0x9e3779b97f4a7c15ULL * (idx + 1), iters = 0;
	double end = stress_now() + seconds;
	int fd = child_connect(port);

	if (fd < 0 || !mem || full_io(fd, &h, sizeof(h), false))
		stress_fail(NAME, "child %d: no connection", idx);
	if (rdma_end_open(&e, 16, 64))
		stress_fail(NAME, "child %d: open: %s", idx, strerror(errno));
	mr = devmem_ibv_reg_mr(e.pd, mem, 2 * REGION, ACCESS);
	mine = (struct hello){ .qpn = e.qp->qp_num };
	if (!mr || full_io(fd, &mine, sizeof(mine), true) ||
	    rdma_end_connect(&e, fd, h.qpn, ACCESS))
		stress_fail(NAME, "child %d: connect", idx);
	close(fd);

	while (stress_now() < end) {
		size_t off = stress_rand(&rnd) % REGION;
		size_t len = 1 + stress_rand(&rnd) % (REGION - off);
		size_t i;

		for (i = 0; i < len; i++)
			mem[i] = pattern(iters, i);
		memset(mem + REGION, 0, len);
		if (rdma_post(e.qp, DEVMEM_IBV_WR_RDMA_WRITE, 1, (uintptr_t)mem, len, mr->lkey,
			      h.raddr + off, h.rkey) ||
		    rdma_post(e.qp, DEVMEM_IBV_WR_RDMA_READ, 2, (uintptr_t)mem + REGION, len,
			      mr->lkey, h.raddr + off, h.rkey))
			stress_fail(NAME, "child %d: post", idx);
		for (i = 1; i <= 2; i++) {
			if (rdma_poll_one(e.cq, &wc) != 1)
				stress_fail(NAME, "child %d: no completion", idx);
			if (wc.status != DEVMEM_IBV_WC_SUCCESS || wc.wr_id != i)
				stress_fail(NAME, "child %d: wr %llu: %s", idx,
					    (unsigned long long)wc.wr_id,
					    devmem_ibv_wc_status_str(wc.status));
		}
		for (i = 0; i < len; i++)
			if (mem[REGION + i] != pattern(iters, i))
				stress_fail(NAME,
					    "child %d: byte %zu of [%zu, +%zu) read back wrong",
					    idx, i, off, len);
		iters++;
	}
	devmem_ibv_dereg_mr(mr);
	rdma_end_close(&e);
	free(mem);
	printf("child %d: %llu write+read rounds\n", idx, (unsigned long long)iters);
	return 0;
}

struct evictor {
	struct vram *vram;
	size_t bytes;
	int stop;
	uint64_t rounds;
};

static void *evictor_thread(void *arg)
{
	struct evictor *ev = arg;
	uint64_t rnd = 42;

	while (!__atomic_load_n(&ev->stop, __ATOMIC_ACQUIRE)) {
		devmem_vram_evict(ev->vram, ev->bytes);
		ev->rounds++;
		usleep(stress_rand(&rnd) % 2000);
	}
	return NULL;
}

int main(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET,
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	double seconds = stress_seconds();
	socklen_t alen = sizeof(addr);
	struct rdma_end ends[NCHILDREN] = { 0 };
	struct devmem_ibv_mr_stats st;
	struct devmem_ibv_mr *mr;
	struct vram_stats vs;
	struct evictor ev = { 0 };
	struct dma_buf *buf;
	pid_t pids[NCHILDREN];
	pthread_t t;
	int lfd, bfd, i, status, failed = 0;
	uint64_t faults;

	/* the children are forked before any thread exists */
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 4) ||
	    getsockname(lfd, (struct sockaddr *)&addr, &alen))
		stress_fail(NAME, "listen: %s", strerror(errno));
	for (i = 0; i < NCHILDREN; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			stress_fail(NAME, "fork: %s", strerror(errno));
		if (!pids[i]) {
			close(lfd);
			exit(child(addr.sin_port, i, seconds));
		}
	}

	if (devmem_vram_create("vram0", NCHILDREN * REGION, NULL, &ev.vram) ||
	    devmem_vram_buffer_create(ev.vram, NCHILDREN * REGION, &buf))
		stress_fail(NAME, "vram");
	bfd = dma_buf_fd(buf, O_CLOEXEC);
	for (i = 0; i < NCHILDREN; i++) {
		struct hello h, theirs;
		int fd;

		if (rdma_end_open(&ends[i], 16, 64))
			stress_fail(NAME, "open: %s", strerror(errno));
		if (i == 0) {
			mr = devmem_ibv_reg_dmabuf_mr(ends[0].pd, 0, NCHILDREN * REGION, MR_IOVA,
						      bfd, ACCESS);
			if (!mr)
				stress_fail(NAME, "reg_dmabuf_mr: %s", strerror(errno));
		}
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		h = (struct hello){ ends[i].qp->qp_num, mr->rkey, MR_IOVA + i * REGION };
		if (fd < 0 || full_io(fd, &h, sizeof(h), true) ||
		    full_io(fd, &theirs, sizeof(theirs), false))
			stress_fail(NAME, "exchange with child %d", i);
		/*
		 * one PD for both QPs: the MR is reachable from both; a QP's CQ
		 * must be of its PD's context, so the CQ moves there too
		 */
		devmem_ibv_destroy_qp(ends[i].qp);
		if (i) {
			devmem_ibv_destroy_cq(ends[i].cq);
			ends[i].cq = devmem_ibv_create_cq(ends[0].ctx, 64, NULL, NULL, 0);
			if (!ends[i].cq)
				stress_fail(NAME, "create_cq: %s", strerror(errno));
		}
		ends[i].qp = devmem_ibv_create_qp(ends[0].pd, &(struct devmem_ibv_qp_init_attr){
								      .send_cq = ends[i].cq,
								      .recv_cq = ends[i].cq,
								      .qp_type = DEVMEM_IBV_QPT_RC,
								      .cap = { 16, 16, 4, 4, 0 } });
		if (!ends[i].qp || rdma_end_connect(&ends[i], fd, theirs.qpn, ACCESS))
			stress_fail(NAME, "connect child %d", i);
		close(fd);
	}
	close(lfd);

	ev.bytes = NCHILDREN * REGION;
	pthread_create(&t, NULL, evictor_thread, &ev);
	for (i = 0; i < NCHILDREN; i++) {
		if (waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			failed++;
	}
	__atomic_store_n(&ev.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);

	devmem_ibv_mr_get_stats(mr, &st);
	devmem_vram_get_stats(ev.vram, &vs);
	faults = device_fault_count(devmem_ibv_context_device(ends[0].ctx));
	for (i = NCHILDREN - 1; i >= 0; i--) {
		devmem_ibv_destroy_qp(ends[i].qp);
		ends[i].qp = NULL;
	}
	devmem_ibv_dereg_mr(mr);
	for (i = NCHILDREN - 1; i >= 0; i--)
		rdma_end_close(&ends[i]);
	close(bfd);
	dma_buf_put(buf);
	devmem_vram_destroy(ev.vram);

	stress_check(NAME, !failed, "%d child(ren) failed", failed);
	stress_check(NAME, faults == 0, "%llu IOMMU faults: a stale address was used",
		     (unsigned long long)faults);
	stress_check(NAME, st.invalidations > 0 && st.remaps > 0,
		     "the MR never moved (invalidations %llu, remaps %llu)",
		     (unsigned long long)st.invalidations, (unsigned long long)st.remaps);
	printf("%s: ok, %llu evictions, %llu restores, %llu invalidations, %llu faults, %llu remaps, "
	       "0 stale accesses\n",
	       NAME, (unsigned long long)vs.evictions, (unsigned long long)vs.restores,
	       (unsigned long long)st.invalidations, (unsigned long long)st.faults,
	       (unsigned long long)st.remaps);
	return 0;
}
