// SPDX-License-Identifier: MIT
/*
 * What devmem run costs: the same devmem receive over loopback (a 64 MiB
 * dma-buf bound to rx queue 1 of the software NIC on lo, the flow steered
 * there, every token given back per call; shim_rx.h), timed
 *   (a) through the library's API: this program, devmem_recvmsg() and
 *       devmem_setsockopt();
 *   (b) in a program written to the kernel's interfaces alone
 *       (bench_shim_uapi: udmabuf, netlink, SIOCETHTOOL, recvmsg(),
 *       setsockopt()), run under `devmem run`;
 * alternately, RUNS times each, in the same run of this program. Rows are
 * medians: throughput in GB/s (10^9 bytes/s) and the receiving process's
 * CPU (user + sys, its software NIC threads included) per GB received; the
 * ratios are (b) over (a), the target being within 5%. Then the cost of a
 * call the shim does not emulate: read() of /dev/zero and an empty recv(),
 * with and without the shim.
 *
 *	bench_shim [--quick] [--bytes N]
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdbool.h>
#include <string.h>

#include "bench.h"
#include "devmem/error.h"
#include "devmem/host.h"
#include "devmem/netdev.h"
#include "devmem/socket.h"
#include "devmem/dma-buf.h"

#define RX_RECVMSG devmem_recvmsg
#define RX_SETSOCKOPT devmem_setsockopt
#include "shim_rx.h"

#define RUNS 5

static void die_devmem(const char *what, int err)
{
	fprintf(stderr, "bench_shim: %s: %s (%s)\n", what, strerror(-err), devmem_last_error());
	exit(1);
}

/* (a): the receiver through the library's API. */
static int lib_rx(uint16_t port, uint64_t total)
{
	struct devmem_queue_id queue = { .id = SHIM_RX_QUEUE, .type = NETDEV_QUEUE_TYPE_RX };
	struct devmem_flow_rule rule = {
		.flow_type = TCP_V4_FLOW,
		.dst_port = htons(port),
		.queue = SHIM_RX_QUEUE,
	};
	struct devmem_ctl *ctl;
	struct dma_buf *buf;
	int ready, lfd, fd, dfd, ifindex = (int)if_nametoindex("lo"), err;
	uint32_t id, loc;
	void *vaddr;
	pid_t sender;

	sender = shim_rx_fork_sender(port, total, &ready);
	err = devmem_host_buffer_create(SHIM_RX_DMABUF_SIZE, NULL, &buf);
	if (err)
		die_devmem("devmem_host_buffer_create", err);
	err = dma_buf_vmap_unlocked(buf, &vaddr);
	if (err)
		die_devmem("dma_buf_vmap", err);
	memset(vaddr, 0, SHIM_RX_DMABUF_SIZE);
	dma_buf_vunmap_unlocked(buf, vaddr);
	dfd = dma_buf_fd(buf, 0);
	if (dfd < 0)
		die_devmem("dma_buf_fd", dfd);
	err = devmem_ctl_open(&ctl);
	if (err)
		die_devmem("devmem_ctl_open", err);
	err = devmem_set_header_split(ctl, ifindex, ETHTOOL_TCP_DATA_SPLIT_ENABLED, 0);
	if (!err)
		err = devmem_set_rss_equal(ctl, ifindex, SHIM_RX_QUEUE);
	if (!err)
		err = devmem_flow_rule_add(ctl, ifindex, &rule, &loc);
	if (!err)
		err = devmem_bind_rx(ctl, ifindex, dfd, &queue, 1, NULL, &id);
	if (err)
		die_devmem("setting up rx queue 1 of lo", err);
	lfd = shim_rx_listen(port);
	if (write(ready, "", 1) != 1)
		shim_rx_die("starting the sender");
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		shim_rx_die("accept");
	/* as devmem run does at accept while a binding exists */
	err = devmem_sock_attach(fd);
	if (err != SHIM_RX_QUEUE)
		die_devmem("devmem_sock_attach", err < 0 ? err : -EPROTO);
	shim_rx_run(fd, id, total);
	shim_rx_reap(sender);
	devmem_close(fd);
	close(lfd);
	devmem_ctl_close(ctl);
	close(dfd);
	dma_buf_put(buf);
	return 0;
}

struct sample {
	double gbps, cpu_per_gb;
};

/* Run @argv; its first line of output goes to @line. Exits unless it exits 0. */
static void run_child(char *const argv[], char *line, size_t size)
{
	int out[2], status;
	FILE *fp;
	pid_t pid;

	if (pipe(out))
		shim_rx_die("pipe");
	pid = fork();
	if (pid < 0)
		shim_rx_die("fork");
	if (pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		close(out[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(out[1]);
	line[0] = '\0';
	fp = fdopen(out[0], "r");
	if (!fp || !fgets(line, (int)size, fp))
		line[0] = '\0';
	if (fp)
		fclose(fp);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "bench_shim: %s failed (%s)\n", argv[0], line);
		exit(1);
	}
}

/* Run a receiver, read its "bytes= secs= cpu=" line. */
static struct sample run_one(char *const argv[])
{
	unsigned long long bytes;
	double secs, cpu;
	char line[256];

	run_child(argv, line, sizeof(line));
	if (sscanf(line, "bytes=%llu secs=%lf cpu=%lf", &bytes, &secs, &cpu) != 3) {
		fprintf(stderr, "bench_shim: %s printed '%s'\n", argv[0], line);
		exit(1);
	}
	return (struct sample){ (double)bytes / secs / 1e9, cpu / ((double)bytes / 1e9) };
}

/* Run bench_shim_uapi -s, read its "calls_ns=R/S" line. */
static void run_calls(char *const argv[], double *read_ns, double *recv_ns)
{
	char line[128];

	run_child(argv, line, sizeof(line));
	if (sscanf(line, "calls_ns=%lf/%lf", read_ns, recv_ns) != 2) {
		fprintf(stderr, "bench_shim: %s printed '%s'\n", argv[0], line);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "quick", no_argument, NULL, 'Q' },
		{ "bytes", required_argument, NULL, 'n' },
		{ "lib-rx", no_argument, NULL, 'L' },
		{ "port", required_argument, NULL, 'p' },
		{ 0 },
	};
	double lib_gbps[RUNS], lib_cpu[RUNS], shim_gbps[RUNS], shim_cpu[RUNS];
	uint64_t total = 1ULL << 30;
	uint16_t port = 5321;
	bool child_rx = false;
	char self[4096], nbuf[32], pbuf[16];
	ssize_t n;
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'Q':
			total = 256ULL << 20;
			break;
		case 'n':
			total = strtoull(optarg, NULL, 0);
			break;
		case 'L':
			child_rx = true;
			break;
		case 'p':
			port = (uint16_t)atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (child_rx)
		return lib_rx(port, total);

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		shim_rx_die("/proc/self/exe");
	self[n] = '\0';
	snprintf(nbuf, sizeof(nbuf), "%llu", (unsigned long long)total);
	for (int r = 0; r < RUNS; r++) {
		char *lib_argv[] = { self, "--lib-rx", "--bytes", nbuf, "--port", pbuf, NULL };
		char *shim_argv[] = { BENCH_DEVMEM_TOOL,
				      "run",
				      "--",
				      BENCH_SHIM_UAPI,
				      "-n",
				      nbuf,
				      "-p",
				      pbuf,
				      NULL };
		struct sample s;

		snprintf(pbuf, sizeof(pbuf), "%u", port + 2 * r);
		s = run_one(lib_argv);
		lib_gbps[r] = s.gbps;
		lib_cpu[r] = s.cpu_per_gb;
		snprintf(pbuf, sizeof(pbuf), "%u", port + 2 * r + 1);
		s = run_one(shim_argv);
		shim_gbps[r] = s.gbps;
		shim_cpu[r] = s.cpu_per_gb;
	}

	char title[128];
	double lg = bench_median(lib_gbps, RUNS), lc = bench_median(lib_cpu, RUNS);
	double sg = bench_median(shim_gbps, RUNS), sc = bench_median(shim_cpu, RUNS);

	snprintf(
		title, sizeof(title),
		"devmem run: the same devmem receive, %llu MiB over lo, median of %d alternating runs",
		(unsigned long long)(total >> 20), RUNS);
	bench_header(title);
	bench_row("(a) library API: devmem_recvmsg, throughput", lg, "GB/s", NULL);
	bench_row("(a) library API: CPU per GB", lc, "s/GB", NULL);
	bench_row("(b) kernel-UAPI program under devmem run, throughput", sg, "GB/s", NULL);
	bench_row("(b) kernel-UAPI program under devmem run, CPU/GB", sc, "s/GB", NULL);
	bench_row("(b)/(a) throughput", sg / lg, "ratio", ">= 0.95");
	bench_row("(b)/(a) CPU per GB", sc / lc, "ratio", "<= 1.05");

	/* a call the shim does not emulate: the one-byte kind load, then libc */
	{
		char *plain_argv[] = { BENCH_SHIM_UAPI, "-s", "2000000", NULL };
		char *shim_argv[] = { BENCH_DEVMEM_TOOL, "run", "--", BENCH_SHIM_UAPI, "-s",
				      "2000000",	 NULL };
		double pr[RUNS], pv[RUNS], sr[RUNS], sv[RUNS];

		for (int r = 0; r < RUNS; r++) {
			run_calls(plain_argv, &pr[r], &pv[r]);
			run_calls(shim_argv, &sr[r], &sv[r]);
		}
		bench_header(
			"a call devmem run does not emulate, median of 5 alternating runs of 2M");
		bench_row("read() of /dev/zero, 1 byte, without the shim", bench_median(pr, RUNS),
			  "ns/call", NULL);
		bench_row("read() of /dev/zero, 1 byte, under devmem run", bench_median(sr, RUNS),
			  "ns/call", NULL);
		bench_row("recv() finding nothing, without the shim", bench_median(pv, RUNS),
			  "ns/call", NULL);
		bench_row("recv() finding nothing, under devmem run", bench_median(sv, RUNS),
			  "ns/call", NULL);
	}
	return 0;
}
