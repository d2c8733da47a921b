// SPDX-License-Identifier: MIT
/*
 * The control handle on the kernel backend, against the kernel this machine
 * runs: every call reaches the kernel and comes back with the kernel's
 * errno and extack (compared with the same request made straight through
 * src/netlink/), auto decides by the kernel's own answer to bind-rx, and
 * devmem sockets on an interface with a kernel binding are the kernel's.
 *
 * Proving that closing a handle releases its binding needs a device that
 * takes one (a devmem NIC) and a kernel dma-buf: that test SKIPs here.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netlink/nl.h"

#include "devmem/error.h"
#include "devmem/netdev.h"
#include "devmem/socket.h"
#include "net/ctl-kernel.h"
#include "harness.h"

static void need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs CAP_NET_ADMIN (run as root)");
}

static int lo_ifindex(void)
{
	int ifindex = (int)if_nametoindex("lo");

	cr_assert_gt(ifindex, 0);
	return ifindex;
}

static struct devmem_ctl *open_kernel(void)
{
	DEVMEM_OPTS(devmem_ctl_opts, opts, .backend = DEVMEM_BACKEND_KERNEL);
	struct devmem_ctl *ctl = NULL;
	int err = devmem_ctl_open_opts(&ctl, &opts);

	if (err == -EPROTONOSUPPORT || err == -EAFNOSUPPORT)
		cr_skip_test("no generic netlink here (%s)", devmem_last_error());
	cr_assert_eq(err, 0, "%s", devmem_last_error());
	return ctl;
}

static int make_memfd(void)
{
	int fd = memfd_create("ctl-kernel", MFD_CLOEXEC);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 1 << 20), 0);
	return fd;
}

/* What the kernel answers to bind-rx asked straight through the netlink layer. */
struct answer {
	int err;
	char msg[256];
};

static void raw_bind_rx(uint32_t ifindex, int fd, const struct nlc_queue_id *q, unsigned int n,
			struct answer *a)
{
	struct nl_sock *sk;
	uint32_t id;

	cr_assert_eq(nl_sock_open(&sk), 0);
	a->err = nl_netdev_bind_rx(sk, ifindex, fd, q, n, 0, &id);
	snprintf(a->msg, sizeof(a->msg), "%s", devmem_last_error());
	nl_sock_close(sk);
}

static int count_binding(const struct devmem_binding_info *b, void *arg)
{
	(void)b;
	(*(int *)arg)++;
	return 0;
}

Test(ctl_kernel, backend_names_and_the_default_is_software)
{
	struct devmem_ctl *ctl;
	const char *reason = NULL;

	cr_assert_str_eq(devmem_backend_name(DEVMEM_BACKEND_SOFTWARE), "software");
	cr_assert_str_eq(devmem_backend_name(DEVMEM_BACKEND_KERNEL), "kernel");
	cr_assert_str_eq(devmem_backend_name(DEVMEM_BACKEND_AUTO), "auto");
	cr_assert_null(devmem_backend_name((enum devmem_backend)7));
	cr_assert_eq(devmem_ctl_open(&ctl), 0);
	cr_assert_eq(devmem_ctl_backend(ctl, &reason), DEVMEM_BACKEND_SOFTWARE);
	cr_assert_not_null(reason);
	devmem_ctl_close(ctl);
	cr_assert_eq(devmem_ctl_backend(NULL, NULL), -EINVAL);
}

Test(ctl_kernel, bad_open_options_are_einval_and_open_nothing)
{
	DEVMEM_OPTS(devmem_ctl_opts, unknown, .backend = (enum devmem_backend)9);
	DEVMEM_OPTS(devmem_ctl_opts, no_if, .backend = DEVMEM_BACKEND_AUTO);
	struct {
		struct devmem_ctl_opts o;
		uint64_t newer;
	} big = { .o = { .sz = sizeof(big) }, .newer = 1 };
	struct devmem_ctl_opts tiny = { .sz = 2 };
	struct devmem_ctl *ctl = NULL;

	cr_assert_eq(devmem_ctl_open_opts(&ctl, &unknown), -EINVAL);
	cr_assert_eq(devmem_ctl_open_opts(&ctl, &no_if), -EINVAL);
	cr_assert_eq(devmem_ctl_open_opts(&ctl, &big.o), -EINVAL);
	cr_assert_eq(devmem_ctl_open_opts(&ctl, &tiny), -EINVAL);
	cr_assert_null(ctl);
	/* a newer caller's zeroed fields are fine */
	big.newer = 0;
	cr_assert_eq(devmem_ctl_open_opts(&ctl, &big.o), 0);
	cr_assert_eq(devmem_ctl_backend(ctl, NULL), DEVMEM_BACKEND_SOFTWARE);
	devmem_ctl_close(ctl);
}

Test(ctl_kernel, bind_rx_on_lo_passes_the_kernels_errno_and_extack)
{
	struct devmem_queue_id q = { .id = 0, .type = NETDEV_QUEUE_TYPE_RX };
	struct nlc_queue_id nq = { .id = 0, .type = NETDEV_QUEUE_TYPE_RX };
	struct devmem_ctl *ctl;
	struct answer raw;
	uint32_t id = 0;
	int fd, err, n = 0;

	need_root();
	ctl = open_kernel();
	fd = make_memfd();
	raw_bind_rx((uint32_t)lo_ifindex(), fd, &nq, 1, &raw);
	err = devmem_bind_rx(ctl, lo_ifindex(), fd, &q, 1, NULL, &id);
	/* lo has no queue API: netdev_nl_bind_rx_doit() refuses the device itself */
	cr_assert_eq(err, -EOPNOTSUPP);
	cr_assert_eq(err, raw.err);
	cr_assert_str_eq(devmem_last_error(), raw.msg);
	cr_assert_eq(id, 0);
	cr_assert_eq(devmem_binding_dump(ctl, 0, count_binding, &n), 0);
	cr_assert_eq(n, 0);
	devmem_ctl_close(ctl);
	close(fd);
}

Test(ctl_kernel, bind_rx_policy_refusals_are_the_kernels)
{
	struct devmem_queue_id q = { .id = 0, .type = NETDEV_QUEUE_TYPE_RX };
	struct nlc_queue_id nq = { .id = 0, .type = NETDEV_QUEUE_TYPE_RX };
	struct devmem_ctl *ctl;
	struct answer raw_if0, raw_noq;
	uint32_t id;
	int fd, if0, noq;
	char msg_if0[256];

	need_root();
	ctl = open_kernel();
	fd = make_memfd();
	raw_bind_rx(0, fd, &nq, 1, &raw_if0);
	raw_bind_rx((uint32_t)lo_ifindex(), fd, NULL, 0, &raw_noq);
	if0 = devmem_bind_rx(ctl, 0, fd, &q, 1, NULL, &id);
	snprintf(msg_if0, sizeof(msg_if0), "%s", devmem_last_error());
	noq = devmem_bind_rx(ctl, lo_ifindex(), fd, NULL, 0, NULL, &id);
	cr_assert_eq(if0, raw_if0.err);
	cr_assert_str_eq(msg_if0, raw_if0.msg);
	cr_assert_eq(noq, -EINVAL);
	cr_assert_eq(noq, raw_noq.err);
	cr_assert_str_eq(devmem_last_error(), raw_noq.msg);
	devmem_ctl_close(ctl);
	close(fd);
}

Test(ctl_kernel, bind_tx_on_lo_is_refused_with_the_kernels_message)
{
	struct devmem_ctl *ctl;
	uint32_t id = 0;
	int fd, err;

	need_root();
	ctl = open_kernel();
	fd = make_memfd();
	err = devmem_bind_tx(ctl, lo_ifindex(), fd, NULL, &id);
	cr_assert_eq(err, -EOPNOTSUPP);
	cr_assert_str_eq(devmem_last_error(), "bind-tx: Driver does not support netmem TX");
	cr_assert_eq(id, 0);
	devmem_ctl_close(ctl);
	close(fd);
}

Test(ctl_kernel, header_split_on_lo_is_refused_as_the_kernel_refuses_it)
{
	struct devmem_ctl *ctl;
	struct nl_sock *sk;
	struct nlc_obj o = { 0 };
	char raw_msg[256];
	int raw, err;

	need_root();
	cr_assert_eq(nl_sock_open(&sk), 0);
	o.present = 1ull << ETHTOOL_A_RINGS_TCP_DATA_SPLIT | 1ull << ETHTOOL_A_RINGS_HDS_THRESH;
	o.v[ETHTOOL_A_RINGS_TCP_DATA_SPLIT] = ETHTOOL_TCP_DATA_SPLIT_ENABLED;
	raw = nl_ethtool_set(sk, ETHTOOL_MSG_RINGS_SET, (uint32_t)lo_ifindex(), &o);
	snprintf(raw_msg, sizeof(raw_msg), "%s", devmem_last_error());
	nl_sock_close(sk);
	ctl = open_kernel();
	err = devmem_set_header_split(ctl, lo_ifindex(), ETHTOOL_TCP_DATA_SPLIT_ENABLED, 0);
	/* lo has no ring parameters: ethnl_set_rings() has no set_ringparam to call */
	cr_assert_eq(err, -EOPNOTSUPP);
	cr_assert_eq(err, raw);
	cr_assert_str_eq(devmem_last_error(), raw_msg);
	devmem_ctl_close(ctl);
}

Test(ctl_kernel, rss_and_flow_rules_on_lo_are_refused_by_its_driver)
{
	struct devmem_flow_rule rule = { .flow_type = TCP_V4_FLOW, .queue = 0 };
	struct devmem_ctl *ctl;
	uint32_t loc = 77;
	int rss, add, del, list;

	need_root();
	ctl = open_kernel();
	rule.dst_port = htons(5201);
	rss = devmem_set_rss_equal(ctl, lo_ifindex(), 1);
	add = devmem_flow_rule_add(ctl, lo_ifindex(), &rule, &loc);
	del = devmem_flow_rule_del(ctl, lo_ifindex(), 0);
	list = devmem_flow_rule_list(ctl, lo_ifindex(), NULL, NULL, 0);
	devmem_ctl_close(ctl);
	cr_assert_eq(rss, -EOPNOTSUPP);
	cr_assert_eq(add, -EOPNOTSUPP);
	cr_assert_eq(del, -EOPNOTSUPP);
	cr_assert_eq(list, -EOPNOTSUPP);
	cr_assert_eq(loc, 77);
}

Test(ctl_kernel, xdp_and_xsk_hooks_are_not_the_kernels_controls)
{
	struct devmem_ctl *ctl = open_kernel();

	cr_assert_eq(devmem_set_xdp(ctl, lo_ifindex(), true), -EOPNOTSUPP);
	cr_assert_eq(devmem_set_xsk_pool(ctl, lo_ifindex(), 0, true), -EOPNOTSUPP);
	devmem_ctl_close(ctl);
}

/* ethtool's own settings of a kernel device are ethtool's there, not the handle's */
Test(ctl_kernel, ethtool_settings_beyond_devmems_are_eopnotsupp_on_the_kernel_backend)
{
	struct devmem_ctl *ctl = open_kernel();
	struct devmem_flow_rule rule = { .flow_type = TCP_V4_FLOW, .rss_context = 1 };
	struct devmem_channels ch;
	struct devmem_ringparam rp;
	uint32_t indir[DEVMEM_RSS_INDIR_SIZE], ctx, loc;
	uint64_t a, b, c;

	cr_assert_eq(devmem_get_channels(ctl, lo_ifindex(), &ch), -EOPNOTSUPP);
	cr_assert_eq(devmem_set_channels(ctl, lo_ifindex(), 1, 1), -EOPNOTSUPP);
	cr_assert_eq(devmem_get_ringparam(ctl, lo_ifindex(), &rp), -EOPNOTSUPP);
	cr_assert_eq(devmem_get_features(ctl, lo_ifindex(), &a, &b, &c), -EOPNOTSUPP);
	cr_assert_eq(devmem_rss_get(ctl, lo_ifindex(), 0, indir), -EOPNOTSUPP);
	cr_assert_eq(devmem_rss_context_create(ctl, lo_ifindex(), NULL, &ctx), -EOPNOTSUPP);
	cr_assert_eq(devmem_flow_rule_insert(ctl, lo_ifindex(), &rule, 0, &loc), -EOPNOTSUPP);
	cr_assert_eq(devmem_flow_rule_add(ctl, lo_ifindex(), &rule, &loc), -EOPNOTSUPP);
	devmem_ctl_close(ctl);
}

static int sysfs_queues(const char *ifname, const char *prefix)
{
	char path[128];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/sys/class/net/%s/queues", ifname);
	d = opendir(path);
	cr_assert_not_null(d);
	while ((e = readdir(d)))
		n += !strncmp(e->d_name, prefix, strlen(prefix));
	closedir(d);
	return n;
}

struct qcount {
	int ifindex;
	int rx, tx, other;
};

static int count_q(const struct devmem_queue_info *q, void *arg)
{
	struct qcount *c = arg;

	if (q->ifindex != c->ifindex)
		c->other++;
	else if (q->type == NETDEV_QUEUE_TYPE_RX)
		c->rx++;
	else
		c->tx++;
	return 0;
}

Test(ctl_kernel, dev_get_and_queue_dump_of_lo_match_sysfs)
{
	struct devmem_dev_info info;
	struct devmem_queue_info q;
	struct qcount c = { .ifindex = lo_ifindex() };
	struct devmem_ctl *ctl = open_kernel();

	cr_assert_eq(devmem_dev_get(ctl, lo_ifindex(), &info), 0, "%s", devmem_last_error());
	cr_assert_eq(devmem_queue_dump(ctl, lo_ifindex(), count_q, &c), 0, "%s",
		     devmem_last_error());
	cr_assert_eq(devmem_queue_get(ctl, lo_ifindex(), NETDEV_QUEUE_TYPE_RX, 0, &q), 0, "%s",
		     devmem_last_error());
	devmem_ctl_close(ctl);
	cr_assert_str_eq(info.name, "lo");
	cr_assert_eq(info.ifindex, lo_ifindex());
	cr_assert_eq(info.num_rx_queues, sysfs_queues("lo", "rx-"));
	cr_assert_eq(info.num_tx_queues, sysfs_queues("lo", "tx-"));
	cr_assert_eq(c.rx, sysfs_queues("lo", "rx-"));
	cr_assert_eq(c.tx, sysfs_queues("lo", "tx-"));
	cr_assert_eq(c.other, 0);
	cr_assert_eq(q.ifindex, lo_ifindex());
	cr_assert_eq(q.type, NETDEV_QUEUE_TYPE_RX);
	cr_assert_eq(q.dmabuf, 0);
}

static int stop_at_first(const struct devmem_dev_info *d, void *arg)
{
	*(int *)arg = d->ifindex;
	return 42;
}

Test(ctl_kernel, dev_dump_stops_at_the_callbacks_answer)
{
	struct devmem_ctl *ctl = open_kernel();
	int first = 0, ret;

	ret = devmem_dev_dump(ctl, stop_at_first, &first);
	devmem_ctl_close(ctl);
	cr_assert_eq(ret, 42);
	cr_assert_gt(first, 0);
}

Test(ctl_kernel, missing_device_is_the_kernels_enodev)
{
	struct devmem_dev_info info;
	struct devmem_ctl *ctl = open_kernel();
	int err = devmem_dev_get(ctl, 0x7ffffff0, &info);

	devmem_ctl_close(ctl);
	cr_assert_eq(err, -ENODEV);
}

Test(ctl_kernel, unbind_of_no_binding_is_enoent)
{
	struct devmem_ctl *ctl = open_kernel();
	struct devmem_binding_info b;

	cr_assert_eq(devmem_unbind(ctl, 1), -ENOENT);
	cr_assert_eq(devmem_binding_get(ctl, 1, &b), -ENOENT);
	devmem_ctl_close(ctl);
}

Test(ctl_kernel, auto_on_lo_chooses_software_with_the_kernels_reason)
{
	DEVMEM_OPTS(devmem_ctl_opts, opts, .backend = DEVMEM_BACKEND_AUTO, .ifindex = lo_ifindex());
	struct devmem_ctl *ctl = NULL;
	const char *reason = NULL;
	const char *tail = "; using the software NIC";
	size_t len;

	need_root();
	cr_assert_eq(devmem_ctl_open_opts(&ctl, &opts), 0, "%s", devmem_last_error());
	cr_assert_eq(devmem_ctl_backend(ctl, &reason), DEVMEM_BACKEND_SOFTWARE);
	cr_assert(!strncmp(reason, "lo: the kernel refused bind-rx: EOPNOTSUPP (", 44), "%s",
		  reason);
	len = strlen(reason);
	cr_assert(len > strlen(tail) && !strcmp(reason + len - strlen(tail), tail), "%s", reason);
	devmem_ctl_close(ctl);
}

Test(ctl_kernel, auto_with_a_non_dmabuf_on_lo_is_still_the_devices_refusal)
{
	struct devmem_queue_id q = { .id = 0, .type = NETDEV_QUEUE_TYPE_RX };
	DEVMEM_OPTS(devmem_ctl_opts, opts, .backend = DEVMEM_BACKEND_AUTO, .queues = &q,
		    .nr_queues = 1);
	struct devmem_ctl *ctl = NULL;
	const char *reason = NULL;
	int fd;

	need_root();
	fd = make_memfd();
	opts.ifindex = lo_ifindex();
	opts.dmabuf_fd = fd;
	cr_assert_eq(devmem_ctl_open_opts(&ctl, &opts), 0, "%s", devmem_last_error());
	close(fd);
	cr_assert_eq(devmem_ctl_backend(ctl, &reason), DEVMEM_BACKEND_SOFTWARE);
	cr_assert(strstr(reason, "EOPNOTSUPP"), "%s", reason);
	cr_assert_null(strstr(reason, "no dma-buf given"), "%s", reason);
	devmem_ctl_close(ctl);
}

/* ---- a veth pair in a network namespace of the test's own ---- */

struct veth_answers {
	int setup, open, bind, split;
	char bind_msg[256], raw_bind_msg[256];
	int raw_bind;
	int auto_backend;
	char reason[256];
};

static int run(const char *fmt, const char *ns)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), fmt, ns, ns);
	return system(cmd);
}

static void veth_ask(const char *ns, struct veth_answers *a)
{
	struct devmem_queue_id q = { .id = 0, .type = NETDEV_QUEUE_TYPE_RX };
	struct nlc_queue_id nq = { .id = 0, .type = NETDEV_QUEUE_TYPE_RX };
	DEVMEM_OPTS(devmem_ctl_opts, kopts, .backend = DEVMEM_BACKEND_KERNEL);
	DEVMEM_OPTS(devmem_ctl_opts, aopts, .backend = DEVMEM_BACKEND_AUTO);
	struct devmem_ctl *ctl = NULL;
	struct answer raw;
	const char *reason;
	char path[128];
	uint32_t id;
	int nsfd, fd, ifindex;

	a->setup =
		run("ip -n %s link add va type veth peer name vb && ip -n %s link set va up", ns);
	if (a->setup)
		return;
	snprintf(path, sizeof(path), "/var/run/netns/%s", ns);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0 || setns(nsfd, CLONE_NEWNET)) {
		a->setup = -1;
		if (nsfd >= 0)
			close(nsfd);
		return;
	}
	close(nsfd);
	ifindex = (int)if_nametoindex("va");
	fd = memfd_create("veth", MFD_CLOEXEC);
	raw_bind_rx((uint32_t)ifindex, fd, &nq, 1, &raw);
	a->raw_bind = raw.err;
	snprintf(a->raw_bind_msg, sizeof(a->raw_bind_msg), "%s", raw.msg);
	a->open = devmem_ctl_open_opts(&ctl, &kopts);
	if (!a->open) {
		a->bind = devmem_bind_rx(ctl, ifindex, fd, &q, 1, NULL, &id);
		snprintf(a->bind_msg, sizeof(a->bind_msg), "%s", devmem_last_error());
		a->split = devmem_set_header_split(ctl, ifindex, ETHTOOL_TCP_DATA_SPLIT_ENABLED, 0);
		devmem_ctl_close(ctl);
	}
	close(fd);
	aopts.ifindex = ifindex;
	a->auto_backend = -1;
	if (!devmem_ctl_open_opts(&ctl, &aopts)) {
		a->auto_backend = devmem_ctl_backend(ctl, &reason);
		snprintf(a->reason, sizeof(a->reason), "%s", reason);
		devmem_ctl_close(ctl);
	}
}

Test(ctl_kernel, veth_refuses_bind_rx_and_header_split_as_the_kernel_does)
{
	struct veth_answers a = { 0 };
	char ns[32];

	need_root();
	if (system("ip -V >/dev/null 2>&1"))
		cr_skip_test("iproute2 is not installed");
	snprintf(ns, sizeof(ns), "ctlk-%d", (int)getpid());
	if (run("ip netns add %s%.0s", ns))
		cr_skip_test("cannot make a network namespace (ip netns add)");
	veth_ask(ns, &a);
	/* the namespace goes before any check can end the test */
	cr_assert_eq(run("ip netns del %s%.0s", ns), 0);

	cr_assert_eq(a.setup, 0, "veth set-up in %s", ns);
	cr_assert_eq(a.open, 0);
	/* veth has no queue API, and no ring parameters to split headers with */
	cr_assert_eq(a.bind, -EOPNOTSUPP);
	cr_assert_eq(a.bind, a.raw_bind);
	cr_assert_str_eq(a.bind_msg, a.raw_bind_msg);
	cr_assert_eq(a.split, -EOPNOTSUPP);
	cr_assert_eq(a.auto_backend, DEVMEM_BACKEND_SOFTWARE);
	cr_assert(!strncmp(a.reason, "va: the kernel refused bind-rx: EOPNOTSUPP", 42), "%s",
		  a.reason);
}

/* ---- what can only be shown with a device that takes a binding ---- */

static int try_bind(const struct devmem_dev_info *d, void *arg)
{
	struct nlc_queue_id q = { .id = 0, .type = NETDEV_QUEUE_TYPE_RX };
	struct answer a;
	int fd = memfd_create("probe", MFD_CLOEXEC);

	raw_bind_rx((uint32_t)d->ifindex, fd, &q, 1, &a);
	close(fd);
	/* a memfd is no dma-buf: a device with the queue API gets as far as the fd */
	if (a.err != -EOPNOTSUPP && a.err != -ENODEV)
		(*(int *)arg)++;
	return 0;
}

Test(ctl_kernel, closing_the_handle_releases_its_kernel_bindings)
{
	struct devmem_ctl *ctl;
	int accepting = 0;

	need_root();
	ctl = open_kernel();
	cr_assert_eq(devmem_dev_dump(ctl, try_bind, &accepting), 0);
	devmem_ctl_close(ctl);
	if (!accepting)
		cr_skip_test("no device here takes bind-rx (each refuses it with EOPNOTSUPP: no "
			     "queue API); the release on close needs a devmem-capable NIC");
	cr_skip_test("a device takes bind-rx, but the release needs a kernel dma-buf "
		     "(udmabuf or a dma-heap), which this test does not make");
}

/* ---- sockets on an interface with a kernel binding ---- */

static void tcp_pair(int *server, int *client)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(l, 0);
	cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(l, 1), 0);
	cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &len), 0);
	*client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(connect(*client, (struct sockaddr *)&a, sizeof(a)), 0);
	*server = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	cr_assert_geq(*server, 0);
	close(l);
}

Test(ctl_kernel, sockets_on_an_interface_with_a_kernel_binding_use_the_system_calls)
{
	struct dmabuf_token tok = { .token_start = 1, .token_count = 1 };
	struct devmem_sock_stats st;
	char buf[16] = { 0 }, ctl_buf[CMSG_SPACE(sizeof(struct dmabuf_cmsg))];
	struct iovec iov = { .iov_base = buf, .iov_len = 5 };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = ctl_buf,
			      .msg_controllen = sizeof(ctl_buf) };
	int server, client, freed, stats;
	ssize_t n;

	tcp_pair(&server, &client);
	cr_assert_eq(write(client, "hello", 5), 5);
	/* as a kernel-backend handle's binding on lo would */
	ctl_kernel_ifindex_get(lo_ifindex());
	n = devmem_recvmsg(server, &msg, MSG_SOCK_DEVMEM | MSG_WAITALL);
	freed = devmem_setsockopt(server, SOL_SOCKET, SO_DEVMEM_DONTNEED, &tok, sizeof(tok));
	stats = devmem_sock_stats(server, &st);
	ctl_kernel_ifindex_put(lo_ifindex());
	devmem_close(server);
	devmem_close(client);
	/* the kernel's recvmsg: plain data, and no devmem cmsg for it */
	cr_assert_eq(n, 5);
	cr_assert_str_eq(buf, "hello");
	cr_assert_eq(msg.msg_controllen, 0);
	/* the kernel's sock_devmem_dontneed(): an unknown token frees nothing */
	cr_assert_eq(freed, 0);
	/* the library never took the socket in */
	cr_assert_eq(stats, -EBADF);
}

Test(ctl_kernel, kernel_handle_says_it_is_on_the_kernel)
{
	struct devmem_ctl *ctl = open_kernel();
	const char *reason = NULL;

	cr_assert_eq(devmem_ctl_backend(ctl, &reason), DEVMEM_BACKEND_KERNEL);
	cr_assert_str_eq(reason, "kernel backend asked for");
	devmem_ctl_close(ctl);
}
