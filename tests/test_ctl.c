// SPDX-License-Identifier: MIT
/*
 * The control handle: bindings owned by the handle that made them and undone
 * by its close, the kernel's errno for every refused bind, the ethtool
 * analogues, and the netdev family's dumps.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devmem/device.h"
#include "devmem/dma-buf.h"
#include "devmem/error.h"
#include "devmem/host.h"
#include "devmem/netdev.h"
#include "devmem/vram.h"
#include "lib/compiler.h"
#include "net/devmem.h"
#include "net/netmem.h"
#include "net/page_pool.h"
#include "support/test-nic.h"
#include "harness.h"

#define BUF_SIZE (1UL << 20)
#define NR_QUEUES 4

/* A test NIC, a handle and a host dma-buf with its fd. */
struct rig {
	struct test_nic *nic;
	int ifindex;
	struct devmem_ctl *ctl;
	struct dma_buf *buf;
	int fd;
};

static void rig_up_opts(struct rig *r, struct test_nic_opts *opts)
{
	cr_assert_eq(test_nic_create(opts, &r->nic), 0, "test_nic_create: %s", devmem_last_error());
	r->ifindex = test_nic_ifindex(r->nic);
	cr_assert_eq(devmem_ctl_open(&r->ctl), 0);
	cr_assert_eq(devmem_host_buffer_create(BUF_SIZE, NULL, &r->buf), 0);
	r->fd = dma_buf_fd(r->buf, O_CLOEXEC);
	cr_assert_geq(r->fd, 0);
}

static void rig_up(struct rig *r)
{
	struct test_nic_opts opts = { 0 };

	rig_up_opts(r, &opts);
}

/* What a devmem receiver sets up first: header split on, threshold 0. */
static void rig_split(struct rig *r)
{
	cr_assert_eq(devmem_set_header_split(r->ctl, r->ifindex, ETHTOOL_TCP_DATA_SPLIT_ENABLED, 0),
		     0, "%s", devmem_last_error());
}

static void rig_down(struct rig *r)
{
	devmem_ctl_close(r->ctl);
	test_nic_destroy(r->nic);
	close(r->fd);
	dma_buf_put(r->buf);
	cr_assert_eq(net_devmem_nr_bindings(), 0);
	cr_assert_eq(devmem_test_live_dma_bufs(), 0);
}

static const struct devmem_queue_id Q0[] = { { 0, NETDEV_QUEUE_TYPE_RX } };
static const struct devmem_queue_id Q1[] = { { 1, NETDEV_QUEUE_TYPE_RX } };

static uint32_t bind_ok(struct rig *r, int fd, const struct devmem_queue_id *q, unsigned int n)
{
	uint32_t id = 0;

	cr_assert_eq(devmem_bind_rx(r->ctl, r->ifindex, fd, q, n, NULL, &id), 0, "bind-rx: %s",
		     devmem_last_error());
	cr_assert_neq(id, 0);
	return id;
}

static uint32_t rxq_dmabuf(struct rig *r, unsigned int q)
{
	struct devmem_queue_info info;

	cr_assert_eq(devmem_queue_get(r->ctl, r->ifindex, NETDEV_QUEUE_TYPE_RX, q, &info), 0);
	return info.dmabuf;
}

/* Receive one netmem on @q and say whether it was a net_iov of binding @id (0: a host page). */
static void assert_rx_from(struct rig *r, unsigned int q, uint32_t id)
{
	netmem_ref netmem = test_nic_rx_alloc(r->nic, q);

	cr_assert_neq(netmem, 0, "queue %u handed out nothing", q);
	if (id) {
		cr_assert(netmem_is_net_iov(netmem), "queue %u: a host page, not a net_iov", q);
		cr_assert_eq(net_devmem_iov_binding_id(netmem_to_net_iov(netmem)), id);
	} else {
		cr_assert_not(netmem_is_net_iov(netmem), "queue %u: a net_iov, not a host page", q);
		cr_assert_not_null(netmem_address(netmem));
	}
	test_nic_rx_put(netmem);
}

/* ---- dump collectors: keep what the callback saw; return 7 at the stop_after-th ---- */

struct seen {
	int n;
	int stop_after; /* 0: never stop */
	struct devmem_dev_info dev[8];
	struct devmem_queue_info queue[32];
	struct devmem_page_pool_info pool[64];
	struct devmem_binding_info binding[8];
};

static int seen_ret(struct seen *s)
{
	s->n++;
	return s->stop_after && s->n == s->stop_after ? 7 : 0;
}

static int seen_dev(const struct devmem_dev_info *info, void *data)
{
	struct seen *s = data;

	cr_assert_lt(s->n, (int)ARRAY_SIZE(s->dev));
	s->dev[s->n] = *info;
	return seen_ret(s);
}

static int seen_queue(const struct devmem_queue_info *info, void *data)
{
	struct seen *s = data;

	cr_assert_lt(s->n, (int)ARRAY_SIZE(s->queue));
	s->queue[s->n] = *info;
	return seen_ret(s);
}

static int seen_pool(const struct devmem_page_pool_info *info, void *data)
{
	struct seen *s = data;

	if (s->n < (int)ARRAY_SIZE(s->pool))
		s->pool[s->n] = *info;
	return seen_ret(s);
}

static int seen_binding(const struct devmem_binding_info *info, void *data)
{
	struct seen *s = data;

	cr_assert_lt(s->n, (int)ARRAY_SIZE(s->binding));
	s->binding[s->n] = *info;
	return seen_ret(s);
}

static const struct devmem_page_pool_info *find_pool(const struct seen *s, uint32_t id)
{
	for (int i = 0; i < s->n && i < (int)ARRAY_SIZE(s->pool); i++)
		if (s->pool[i].id == id)
			return &s->pool[i];
	return NULL;
}

/* ---- the handle ---- */

Test(ctl, open_and_close_leave_nothing)
{
	struct devmem_ctl *ctl = NULL;

	cr_assert_eq(devmem_ctl_open(NULL), -EINVAL);
	cr_assert_eq(devmem_ctl_open(&ctl), 0);
	cr_assert_not_null(ctl);
	devmem_ctl_close(ctl);
	devmem_ctl_close(NULL);
}

Test(ctl, calls_without_a_handle_are_einval)
{
	struct devmem_dev_info dev;
	uint32_t id;

	cr_assert_eq(devmem_bind_rx(NULL, 1, 0, Q0, 1, NULL, &id), -EINVAL);
	cr_assert_eq(devmem_bind_tx(NULL, 1, 0, NULL, &id), -EINVAL);
	cr_assert_eq(devmem_unbind(NULL, 1), -EINVAL);
	cr_assert_eq(devmem_set_rss_equal(NULL, 1, 1), -EINVAL);
	cr_assert_eq(devmem_dev_get(NULL, 1, &dev), -EINVAL);
	cr_assert_eq(devmem_queue_dump(NULL, 0, seen_queue, NULL), -EINVAL);
}

/* ---- bind-rx through the handle ---- */

Test(ctl, binding_ids_start_at_one_and_are_cyclic)
{
	struct rig r;
	uint32_t a, b, c;

	rig_up(&r);
	rig_split(&r);
	a = bind_ok(&r, r.fd, Q0, 1);
	b = bind_ok(&r, r.fd, Q1, 1);
	cr_assert_eq(a, 1);
	cr_assert_eq(b, 2);
	cr_assert_eq(devmem_unbind(r.ctl, a), 0);
	c = bind_ok(&r, r.fd, Q0, 1);
	cr_assert_eq(c, 3, "a freed id is not reused before the others: got %u", c);
	rig_down(&r);
}

Test(ctl, bound_queue_hands_out_the_buffers_net_iovs)
{
	struct rig r;
	uint32_t id;

	rig_up(&r);
	rig_split(&r);
	id = bind_ok(&r, r.fd, Q1, 1);
	cr_assert_eq(rxq_dmabuf(&r, 1), id);
	cr_assert_eq(rxq_dmabuf(&r, 0), 0);
	assert_rx_from(&r, 1, id);
	assert_rx_from(&r, 0, 0);
	cr_assert_eq(devmem_unbind(r.ctl, id), 0);
	cr_assert_eq(rxq_dmabuf(&r, 1), 0);
	assert_rx_from(&r, 1, 0);
	cr_assert_eq(net_devmem_nr_bindings(), 0);
	rig_down(&r);
}

Test(ctl, bind_to_unknown_ifindex_is_enodev)
{
	struct rig r;
	uint32_t id = 0;

	rig_up(&r);
	cr_assert_eq(devmem_bind_rx(r.ctl, 999999, r.fd, Q0, 1, NULL, &id), -ENODEV);
	cr_assert_eq(devmem_bind_tx(r.ctl, 999999, r.fd, NULL, &id), -ENODEV);
	cr_assert_eq(id, 0);
	rig_down(&r);
}

Test(ctl, bind_with_bad_queue_list_is_einval)
{
	static const struct devmem_queue_id txq[] = { { 0, NETDEV_QUEUE_TYPE_TX } };
	static const struct devmem_queue_id mixed[] = { { 0, NETDEV_QUEUE_TYPE_RX },
							{ 1, NETDEV_QUEUE_TYPE_TX } };
	struct rig r;
	uint32_t id = 0;

	rig_up(&r);
	rig_split(&r);
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, r.fd, txq, 1, NULL, &id), -EINVAL);
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, r.fd, mixed, 2, NULL, &id), -EINVAL);
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, r.fd, Q0, 0, NULL, &id), -EINVAL);
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, r.fd, NULL, 1, NULL, &id), -EINVAL);
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, r.fd, Q0, 1, NULL, NULL), -EINVAL);
	cr_assert_eq(id, 0);
	cr_assert_eq(rxq_dmabuf(&r, 0), 0);
	cr_assert_eq(net_devmem_nr_bindings(), 0);
	rig_down(&r);
}

Test(ctl, bind_with_bad_opts_is_einval)
{
	static const uint32_t bad_sizes[] = { 3 * 4096, 4096 + 1, 3 * 65536 };
	struct {
		struct devmem_bind_opts opts;
		uint64_t newer_field;
	} newer;
	struct devmem_bind_opts zero_sz = { .sz = 0 };
	struct devmem_binding_info info;
	struct dma_buf *big;
	struct rig r;
	uint32_t id = 0;
	unsigned int i;
	int big_fd;

	rig_up(&r);
	rig_split(&r);
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, r.fd, Q0, 1, &zero_sz, &id), -EINVAL);
	for (i = 0; i < ARRAY_SIZE(bad_sizes); i++) {
		DEVMEM_OPTS(devmem_bind_opts, opts, .rx_page_size = bad_sizes[i]);

		cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, r.fd, Q0, 1, &opts, &id), -EINVAL,
			     "rx_page_size %u", bad_sizes[i]);
		cr_assert_str_eq(devmem_last_error(), "rx-page-size must be a power of 2");
	}
	/* a newer caller's struct: unknown fields must be zero */
	memset(&newer, 0, sizeof(newer));
	newer.opts.sz = sizeof(newer);
	newer.newer_field = 1;
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, r.fd, Q0, 1, &newer.opts, &id), -EINVAL);
	cr_assert_eq(id, 0);
	cr_assert_eq(net_devmem_nr_bindings(), 0);

	/*
	 * The same struct with the unknown field clear is fine, and its
	 * niov_size is used. From 2 MiB a host buffer's device addresses are
	 * 2 MiB aligned, so every net_iov size up to that divides its chunk.
	 */
	cr_assert_eq(devmem_host_buffer_create(2 * BUF_SIZE, NULL, &big), 0);
	big_fd = dma_buf_fd(big, O_CLOEXEC);
	newer.newer_field = 0;
	newer.opts.rx_page_size = 2 * 4096;
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, big_fd, Q0, 1, &newer.opts, &id), 0, "%s",
		     devmem_last_error());
	cr_assert_eq(devmem_binding_get(r.ctl, id, &info), 0);
	cr_assert_eq(info.niov_size, 2 * 4096);
	cr_assert_eq(info.nr_niovs, 2 * BUF_SIZE / (2 * 4096));
	assert_rx_from(&r, 0, id);
	cr_assert_eq(devmem_unbind(r.ctl, id), 0);
	close(big_fd);
	dma_buf_put(big);
	rig_down(&r);
}

Test(ctl, bind_of_a_fd_that_is_not_a_dma_buf_is_einval_and_of_a_closed_fd_ebadf)
{
	struct rig r;
	uint32_t id = 0;
	int efd = eventfd(0, EFD_CLOEXEC);

	cr_assert_geq(efd, 0);
	rig_up(&r);
	rig_split(&r);
	/* dma_buf_get(): an open file of another kind is -EINVAL, no file -EBADF */
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, efd, Q0, 1, NULL, &id), -EINVAL);
	cr_assert_eq(devmem_bind_tx(r.ctl, r.ifindex, efd, NULL, &id), -EOPNOTSUPP,
		     "the test NIC cannot send from net_iovs: that is checked first");
	close(efd);
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, efd, Q0, 1, NULL, &id), -EBADF);
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, -1, Q0, 1, NULL, &id), -EBADF);
	cr_assert_eq(id, 0);
	cr_assert_eq(rxq_dmabuf(&r, 0), 0);
	rig_down(&r);
}

Test(ctl, bind_with_header_split_off_is_einval)
{
	struct rig r;
	uint32_t id = 0;

	rig_up(&r);
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, r.fd, Q0, 1, NULL, &id), -EINVAL);
	cr_assert_eq(id, 0);
	cr_assert_eq(rxq_dmabuf(&r, 0), 0);
	cr_assert_eq(net_devmem_nr_bindings(), 0);
	rig_down(&r);
}

Test(ctl, bind_with_header_split_threshold_is_einval)
{
	struct rig r;
	uint32_t id = 0;

	rig_up(&r);
	cr_assert_eq(devmem_set_header_split(r.ctl, r.ifindex, ETHTOOL_TCP_DATA_SPLIT_ENABLED, 256),
		     0);
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, r.fd, Q0, 1, NULL, &id), -EINVAL);
	cr_assert_eq(net_devmem_nr_bindings(), 0);
	rig_split(&r);
	bind_ok(&r, r.fd, Q0, 1);
	rig_down(&r);
}

Test(ctl, bind_with_xdp_attached_is_eexist)
{
	struct rig r;
	uint32_t id = 0;

	rig_up(&r);
	rig_split(&r);
	cr_assert_eq(devmem_set_xdp(r.ctl, r.ifindex, true), 0);
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, r.fd, Q0, 1, NULL, &id), -EEXIST);
	cr_assert_eq(rxq_dmabuf(&r, 0), 0);
	cr_assert_eq(devmem_set_xdp(r.ctl, r.ifindex, false), 0);
	bind_ok(&r, r.fd, Q0, 1);
	rig_down(&r);
}

Test(ctl, bind_of_a_queue_already_bound_is_eexist)
{
	struct rig r;
	uint32_t id, id2 = 0;

	rig_up(&r);
	rig_split(&r);
	id = bind_ok(&r, r.fd, Q0, 1);
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, r.fd, Q0, 1, NULL, &id2), -EEXIST);
	cr_assert_eq(id2, 0);
	cr_assert_eq(rxq_dmabuf(&r, 0), id, "the first binding still serves the queue");
	cr_assert_eq(net_devmem_nr_bindings(), 1);
	rig_down(&r);
}

Test(ctl, bind_with_af_xdp_pool_is_ebusy)
{
	struct rig r;
	struct devmem_queue_info q;
	uint32_t id = 0;

	rig_up(&r);
	rig_split(&r);
	cr_assert_eq(devmem_set_xsk_pool(r.ctl, r.ifindex, 1, true), 0);
	cr_assert_eq(devmem_queue_get(r.ctl, r.ifindex, NETDEV_QUEUE_TYPE_RX, 1, &q), 0);
	cr_assert(q.xsk);
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, r.fd, Q1, 1, NULL, &id), -EBUSY);
	cr_assert_eq(rxq_dmabuf(&r, 1), 0);
	bind_ok(&r, r.fd, Q0, 1);
	rig_down(&r);
}

Test(ctl, bind_of_a_queue_out_of_range_is_einval_naming_the_queue)
{
	static const struct devmem_queue_id q9[] = { { 9, NETDEV_QUEUE_TYPE_RX } };
	struct rig r;
	uint32_t id = 0;

	rig_up(&r);
	rig_split(&r);
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, r.fd, q9, 1, NULL, &id), -EINVAL);
	cr_assert_not_null(strstr(devmem_last_error(), "9"), "message: %s", devmem_last_error());
	cr_assert_eq(net_devmem_nr_bindings(), 0);
	rig_down(&r);
}

Test(ctl, failed_bind_leaves_every_queue_as_before)
{
	static const struct devmem_queue_id q0_q1[] = { { 0, NETDEV_QUEUE_TYPE_RX },
							{ 1, NETDEV_QUEUE_TYPE_RX } };
	struct rig r;
	long pools;
	uint32_t id = 0;

	rig_up(&r);
	rig_split(&r);
	/* queue 0 binds, then queue 1 refuses: queue 0 must be put back */
	cr_assert_eq(devmem_set_xsk_pool(r.ctl, r.ifindex, 1, true), 0);
	pools = page_pool_nr_live();
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, r.fd, q0_q1, 2, NULL, &id), -EBUSY);
	cr_assert_eq(id, 0);
	cr_assert_eq(rxq_dmabuf(&r, 0), 0);
	assert_rx_from(&r, 0, 0);
	cr_assert_eq(net_devmem_nr_bindings(), 0);
	cr_assert_eq(page_pool_nr_live(), pools);
	rig_down(&r);
}

Test(ctl, bind_on_a_driver_without_queue_ops_is_eopnotsupp)
{
	struct test_nic_opts opts = { .no_queue_ops = true };
	struct rig r;
	uint32_t id = 0;

	rig_up_opts(&r, &opts);
	rig_split(&r);
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, r.fd, Q0, 1, NULL, &id), -EOPNOTSUPP);
	cr_assert_eq(net_devmem_nr_bindings(), 0);
	rig_down(&r);
}

/* ---- the order of bind-rx's checks (netdev_nl_bind_rx_doit) ---- */

Test(ctl, bind_policy_errors_are_erange_before_the_device_is_looked_up)
{
	static const struct devmem_queue_id type2[] = { { 0, 2 } };
	DEVMEM_OPTS(devmem_bind_opts, small, .rx_page_size = 2048);
	struct rig r;
	uint32_t id = 0;

	rig_up(&r);
	rig_split(&r);
	cr_assert_eq(devmem_bind_rx(r.ctl, 0, r.fd, Q0, 1, NULL, &id), -ERANGE);
	cr_assert_eq(devmem_bind_tx(r.ctl, 0, r.fd, NULL, &id), -ERANGE);
	/* an unknown device would be -ENODEV: the attribute policy runs first */
	cr_assert_eq(devmem_bind_rx(r.ctl, 999999, r.fd, type2, 1, NULL, &id), -ERANGE);
	cr_assert_eq(devmem_bind_rx(r.ctl, 999999, r.fd, Q0, 1, &small, &id), -ERANGE);
	cr_assert_eq(id, 0);
	cr_assert_eq(net_devmem_nr_bindings(), 0);
	rig_down(&r);
}

Test(ctl, bind_without_queues_is_einval_before_the_device_is_looked_up)
{
	struct rig r;
	uint32_t id = 0;

	rig_up(&r);
	cr_assert_eq(devmem_bind_rx(r.ctl, 999999, r.fd, Q0, 0, NULL, &id), -EINVAL);
	cr_assert_eq(id, 0);
	rig_down(&r);
}

Test(ctl, bind_on_a_driver_without_queue_ops_is_eopnotsupp_before_the_queues_are_read)
{
	static const struct devmem_queue_id q9[] = { { 9, NETDEV_QUEUE_TYPE_RX } };
	struct test_nic_opts opts = { .no_queue_ops = true };
	struct rig r;
	uint32_t id = 0;

	rig_up_opts(&r, &opts);
	rig_split(&r);
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, r.fd, q9, 1, NULL, &id), -EOPNOTSUPP);
	cr_assert_eq(net_devmem_nr_bindings(), 0);
	rig_down(&r);
}

Test(ctl, bind_reads_the_queues_before_the_dma_buf)
{
	static const struct devmem_queue_id q9[] = { { 9, NETDEV_QUEUE_TYPE_RX } };
	static const struct devmem_queue_id txq[] = { { 0, NETDEV_QUEUE_TYPE_TX } };
	struct rig r;
	uint32_t id = 0;
	int efd = eventfd(0, EFD_CLOEXEC);

	cr_assert_geq(efd, 0);
	rig_up(&r);
	rig_split(&r);
	/* a bad queue wins over a fd that is not a dma-buf or not open */
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, efd, q9, 1, NULL, &id), -EINVAL);
	cr_assert_not_null(strstr(devmem_last_error(), "rx queue 9 out of range"), "%s",
			   devmem_last_error());
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, -1, txq, 1, NULL, &id), -EINVAL);
	cr_assert_not_null(strstr(devmem_last_error(), "not rx"), "%s", devmem_last_error());
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, -1, q9, 1, NULL, &id), -EINVAL);
	close(efd);
	cr_assert_eq(id, 0);
	rig_down(&r);
}

Test(ctl, failed_queue_check_consumes_no_binding_id)
{
	static const struct devmem_queue_id q9[] = { { 9, NETDEV_QUEUE_TYPE_RX } };
	struct rig r;
	uint32_t first, next, id = 0;

	rig_up(&r);
	rig_split(&r);
	first = bind_ok(&r, r.fd, Q0, 1);
	cr_assert_eq(devmem_unbind(r.ctl, first), 0);
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, r.fd, q9, 1, NULL, &id), -EINVAL);
	next = bind_ok(&r, r.fd, Q0, 1);
	cr_assert_eq(next, first + 1, "ids are cyclic and the failed bind took none");
	rig_down(&r);
}

Test(ctl, queue_listed_twice_is_bound_once_in_ascending_order)
{
	static const struct devmem_queue_id q2_q0_q2[] = { { 2, NETDEV_QUEUE_TYPE_RX },
							   { 0, NETDEV_QUEUE_TYPE_RX },
							   { 2, NETDEV_QUEUE_TYPE_RX } };
	struct devmem_binding_info info;
	struct rig r;
	uint32_t id;

	rig_up(&r);
	rig_split(&r);
	id = bind_ok(&r, r.fd, q2_q0_q2, 3);
	cr_assert_eq(devmem_binding_get(r.ctl, id, &info), 0);
	cr_assert_eq(info.nr_queues, 2);
	cr_assert_eq(info.queues[0], 0);
	cr_assert_eq(info.queues[1], 2);
	cr_assert_eq(rxq_dmabuf(&r, 0), id);
	cr_assert_eq(rxq_dmabuf(&r, 2), id);
	rig_down(&r);
}

/* ---- rx-page-size (NETDEV_A_DMABUF_RX_PAGE_SIZE) ---- */

/*
 * A 2 MiB host buffer: its device addresses are 2 MiB aligned, so every rx
 * page size up to that lines up with its sg entries.
 */
static int big_buf_fd(struct dma_buf **big)
{
	int fd;

	cr_assert_eq(devmem_host_buffer_create(2 * BUF_SIZE, NULL, big), 0);
	fd = dma_buf_fd(*big, O_CLOEXEC);
	cr_assert_geq(fd, 0);
	return fd;
}

Test(ctl, rx_page_size_below_page_size_is_erange)
{
	static const uint32_t small[] = { 1, 1024, 2048 };
	struct rig r;
	uint32_t id = 0;
	unsigned int i;

	rig_up(&r);
	rig_split(&r);
	for (i = 0; i < ARRAY_SIZE(small); i++) {
		DEVMEM_OPTS(devmem_bind_opts, opts, .rx_page_size = small[i]);

		cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, r.fd, Q0, 1, &opts, &id), -ERANGE,
			     "rx_page_size %u", small[i]);
	}
	cr_assert_eq(id, 0);
	cr_assert_eq(net_devmem_nr_bindings(), 0);
	rig_down(&r);
}

Test(ctl, rx_page_size_is_rx_only)
{
	DEVMEM_OPTS(devmem_bind_opts, opts, .rx_page_size = 4 * 4096);
	struct test_nic_opts nopts = { .netmem_tx = true };
	struct rig r;
	uint32_t id = 0;

	rig_up_opts(&r, &nopts);
	cr_assert_eq(devmem_bind_tx(r.ctl, r.ifindex, r.fd, &opts, &id), -EINVAL);
	cr_assert_eq(id, 0);
	cr_assert_eq(net_devmem_nr_bindings(), 0);
	rig_down(&r);
}

Test(ctl, rx_page_size_on_a_driver_without_the_capability_is_eopnotsupp)
{
	DEVMEM_OPTS(devmem_bind_opts, opts, .rx_page_size = 4 * 4096);
	struct test_nic_opts nopts = { .no_rx_page_size = true };
	struct rig r;
	long pools;
	uint32_t id = 0;

	struct dma_buf *big;
	int big_fd;

	rig_up_opts(&r, &nopts);
	rig_split(&r);
	big_fd = big_buf_fd(&big);
	pools = page_pool_nr_live();
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, big_fd, Q0, 1, &opts, &id), -EOPNOTSUPP);
	cr_assert_eq(id, 0);
	cr_assert_eq(rxq_dmabuf(&r, 0), 0);
	assert_rx_from(&r, 0, 0);
	cr_assert_eq(page_pool_nr_live(), pools);
	cr_assert_eq(net_devmem_nr_bindings(), 0);
	/* the same driver takes page-sized net_iovs */
	bind_ok(&r, big_fd, Q0, 1);
	close(big_fd);
	dma_buf_put(big);
	rig_down(&r);
}

Test(ctl, rx_page_size_sets_the_net_iov_size_and_the_pool_order)
{
	DEVMEM_OPTS(devmem_bind_opts, opts, .rx_page_size = 4 * 4096);
	struct devmem_binding_info info;
	netmem_ref netmem;
	struct rig r;
	uint32_t id = 0;

	struct dma_buf *big;
	int big_fd;

	rig_up(&r);
	rig_split(&r);
	big_fd = big_buf_fd(&big);
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, big_fd, Q0, 1, &opts, &id), 0, "%s",
		     devmem_last_error());
	cr_assert_eq(devmem_binding_get(r.ctl, id, &info), 0);
	cr_assert_eq(info.niov_size, 4 * 4096);
	cr_assert_eq(info.nr_niovs, 2 * BUF_SIZE / (4 * 4096));
	cr_assert_eq(test_nic_data_pool(r.nic, 0)->p.order, 2, "the driver's buffers are 16 KiB");
	netmem = test_nic_rx_alloc(r.nic, 0);
	cr_assert(netmem_is_net_iov(netmem));
	cr_assert_eq(net_iov_size(netmem_to_net_iov(netmem)), 4 * 4096);
	test_nic_rx_put(netmem);
	cr_assert_eq(devmem_unbind(r.ctl, id), 0);
	cr_assert_eq(test_nic_data_pool(r.nic, 0)->p.order, 0, "back on host pages");
	close(big_fd);
	dma_buf_put(big);
	rig_down(&r);
}

Test(ctl, rx_page_size_that_does_not_divide_the_buffer_is_einval)
{
	DEVMEM_OPTS(devmem_bind_opts, opts, .rx_page_size = 2 * BUF_SIZE);
	struct rig r;
	uint32_t id = 0;

	rig_up(&r);
	rig_split(&r);
	cr_assert_eq(devmem_bind_rx(r.ctl, r.ifindex, r.fd, Q0, 1, &opts, &id), -EINVAL);
	cr_assert_not_null(strstr(devmem_last_error(), "not aligned to niov size"), "%s",
			   devmem_last_error());
	cr_assert_eq(net_devmem_nr_bindings(), 0);
	rig_down(&r);
}

Test(ctl, vram_buffer_binds_and_unbinds)
{
	struct devmem_binding_info info;
	struct dma_buf *vbuf;
	struct vram *vram;
	struct rig r;
	uint32_t id;
	int vfd;

	cr_assert_eq(devmem_vram_create("ctl-vram", 4 * BUF_SIZE, NULL, &vram), 0);
	cr_assert_eq(devmem_vram_buffer_create(vram, BUF_SIZE, &vbuf), 0);
	vfd = dma_buf_fd(vbuf, O_CLOEXEC);
	cr_assert_geq(vfd, 0);
	rig_up(&r);
	rig_split(&r);
	id = bind_ok(&r, vfd, Q0, 1);
	cr_assert_eq(devmem_binding_get(r.ctl, id, &info), 0);
	cr_assert_eq(info.dmabuf_ino, vbuf->ino);
	cr_assert_eq(info.dmabuf_size, BUF_SIZE);
	assert_rx_from(&r, 0, id);
	cr_assert_eq(devmem_unbind(r.ctl, id), 0);
	assert_rx_from(&r, 0, 0);
	close(vfd);
	dma_buf_put(vbuf);
	rig_down(&r);
	devmem_vram_destroy(vram);
}

/* ---- closing the handle ---- */

Test(ctl, close_of_a_control_handle_with_several_bindings_on_several_queues)
{
	static const struct devmem_queue_id q01[] = { { 0, NETDEV_QUEUE_TYPE_RX },
						      { 1, NETDEV_QUEUE_TYPE_RX } };
	static const struct devmem_queue_id q23[] = { { 2, NETDEV_QUEUE_TYPE_RX },
						      { 3, NETDEV_QUEUE_TYPE_RX } };
	struct dma_buf *buf2;
	struct seen s = { 0 };
	struct rig r;
	long pools;
	uint32_t a, b;
	unsigned int q;
	int fd2;

	rig_up(&r);
	rig_split(&r);
	cr_assert_eq(devmem_host_buffer_create(BUF_SIZE, NULL, &buf2), 0);
	fd2 = dma_buf_fd(buf2, O_CLOEXEC);
	cr_assert_geq(fd2, 0);
	pools = page_pool_nr_live();

	a = bind_ok(&r, r.fd, q01, 2);
	b = bind_ok(&r, fd2, q23, 2);
	for (q = 0; q < NR_QUEUES; q++) {
		cr_assert_eq(rxq_dmabuf(&r, q), q < 2 ? a : b);
		assert_rx_from(&r, q, q < 2 ? a : b);
	}
	cr_assert_eq(net_devmem_nr_bindings(), 2);

	devmem_ctl_close(r.ctl);
	cr_assert_eq(devmem_ctl_open(&r.ctl), 0);
	cr_assert_eq(devmem_queue_dump(r.ctl, r.ifindex, seen_queue, &s), 0);
	cr_assert_eq(s.n, 2 * NR_QUEUES);
	for (int i = 0; i < s.n; i++)
		cr_assert_eq(s.queue[i].dmabuf, 0, "queue %u still bound", s.queue[i].id);
	for (q = 0; q < NR_QUEUES; q++)
		assert_rx_from(&r, q, 0);
	cr_assert_eq(net_devmem_nr_bindings(), 0, "every binding freed");
	cr_assert_eq(page_pool_nr_live(), pools, "no pool left behind");

	close(fd2);
	dma_buf_put(buf2);
	rig_down(&r);
}

Test(ctl, close_while_net_iovs_are_held_keeps_them_valid_until_returned)
{
	static const unsigned char bytes[] = "still mapped";
	struct devmem_page_pool_info pool;
	struct seen s = { 0 };
	struct net_iov *niov;
	struct rig r;
	netmem_ref netmem;
	uint32_t id, pool_id;
	unsigned char *cpu;
	dma_addr_t addr;
	long pools;

	rig_up(&r);
	rig_split(&r);
	pools = page_pool_nr_live();
	id = bind_ok(&r, r.fd, Q0, 1);
	pool_id = test_nic_data_pool(r.nic, 0)->id;
	netmem = test_nic_rx_alloc(r.nic, 0);
	cr_assert(netmem_is_net_iov(netmem));
	niov = netmem_to_net_iov(netmem);
	addr = netmem_get_dma_addr(netmem);

	devmem_ctl_close(r.ctl);
	cr_assert_eq(devmem_ctl_open(&r.ctl), 0);
	cr_assert_eq(rxq_dmabuf(&r, 0), 0);
	assert_rx_from(&r, 0, 0);

	/* the binding waits, unbound, for the one net_iov out */
	cr_assert_eq(devmem_binding_dump(r.ctl, 0, seen_binding, &s), 0);
	cr_assert_eq(s.n, 1);
	cr_assert_eq(s.binding[0].id, id);
	cr_assert(s.binding[0].unbound);
	cr_assert_not(s.binding[0].owned);
	cr_assert_eq(s.binding[0].nr_queues, 0);
	cr_assert_eq(s.binding[0].niovs_in_use, 1);
	cr_assert_eq(s.binding[0].niovs_free, s.binding[0].nr_niovs - 1);

	/* so does the queue's old data pool */
	cr_assert_eq(devmem_page_pool_get(r.ctl, pool_id, &pool), 0);
	cr_assert_neq(pool.detach_time, 0);
	cr_assert_eq(pool.inflight, 1);
	cr_assert_eq(pool.inflight_mem, PAGE_SIZE);
	cr_assert_eq(pool.dmabuf, id);

	/* and the fragment is still the buffer's memory, reachable by the NIC */
	cr_assert_eq(device_access(test_nic_device(r.nic), addr, (void *)bytes, sizeof(bytes),
				   DMA_FROM_DEVICE),
		     0);
	cr_assert_eq(dma_buf_vmap_unlocked(r.buf, (void **)&cpu), 0);
	cr_assert_eq(memcmp(cpu + net_iov_virtual_addr(niov), bytes, sizeof(bytes)), 0);
	dma_buf_vunmap_unlocked(r.buf, cpu);

	test_nic_rx_put(netmem);
	cr_assert_eq(net_devmem_nr_bindings(), 0);
	cr_assert_eq(page_pool_nr_live(), pools);
	cr_assert_eq(devmem_page_pool_get(r.ctl, pool_id, &pool), -ENOENT);
	s.n = 0;
	cr_assert_eq(devmem_binding_dump(r.ctl, 0, seen_binding, &s), 0);
	cr_assert_eq(s.n, 0);
	cr_assert_eq(device_access(test_nic_device(r.nic), addr, (void *)bytes, sizeof(bytes),
				   DMA_FROM_DEVICE),
		     -EFAULT, "unmapped once the last net_iov came back");
	rig_down(&r);
}

Test(ctl, close_after_the_device_went_away_frees_its_bindings)
{
	struct devmem_binding_info info;
	struct rig r;
	uint32_t id;

	rig_up(&r);
	rig_split(&r);
	id = bind_ok(&r, r.fd, Q0, 1);
	test_nic_destroy(r.nic);
	r.nic = NULL;
	cr_assert_eq(devmem_binding_get(r.ctl, id, &info), 0);
	cr_assert_eq(info.nr_queues, 0, "the device's unregister uninstalled the provider");
	cr_assert_eq(devmem_queue_dump(r.ctl, r.ifindex, seen_queue, NULL), -ENODEV);
	devmem_ctl_close(r.ctl);
	r.ctl = NULL;
	cr_assert_eq(net_devmem_nr_bindings(), 0);
	rig_down(&r);
}

Test(ctl, bindings_of_another_handle_are_not_unbindable)
{
	struct devmem_binding_info info;
	struct devmem_ctl *other;
	struct rig r;
	uint32_t id;

	rig_up(&r);
	rig_split(&r);
	id = bind_ok(&r, r.fd, Q0, 1);
	cr_assert_eq(devmem_ctl_open(&other), 0);
	cr_assert_eq(devmem_unbind(other, id), -ENOENT);
	cr_assert_eq(rxq_dmabuf(&r, 0), id);
	cr_assert_eq(devmem_binding_get(other, id, &info), 0);
	cr_assert_not(info.owned);
	cr_assert_eq(devmem_binding_get(r.ctl, id, &info), 0);
	cr_assert(info.owned);
	devmem_ctl_close(other);
	cr_assert_eq(rxq_dmabuf(&r, 0), id, "closing another handle unbinds nothing of ours");
	rig_down(&r);
}

Test(ctl, unbind_of_an_unknown_id_is_enoent)
{
	struct rig r;
	uint32_t id;

	rig_up(&r);
	rig_split(&r);
	cr_assert_eq(devmem_unbind(r.ctl, 1), -ENOENT);
	id = bind_ok(&r, r.fd, Q0, 1);
	cr_assert_eq(devmem_unbind(r.ctl, id), 0);
	cr_assert_eq(devmem_unbind(r.ctl, id), -ENOENT);
	rig_down(&r);
}

/* ---- settings while bound ---- */

Test(ctl, disabling_header_split_while_bound_is_einval)
{
	struct devmem_dev_info dev;
	struct rig r;

	rig_up(&r);
	rig_split(&r);
	bind_ok(&r, r.fd, Q0, 1);
	cr_assert_eq(devmem_set_header_split(r.ctl, r.ifindex, ETHTOOL_TCP_DATA_SPLIT_DISABLED, 0),
		     -EINVAL);
	cr_assert_eq(devmem_set_header_split(r.ctl, r.ifindex, ETHTOOL_TCP_DATA_SPLIT_ENABLED, 128),
		     -EINVAL);
	cr_assert_eq(devmem_dev_get(r.ctl, r.ifindex, &dev), 0);
	cr_assert_eq(dev.tcp_data_split, ETHTOOL_TCP_DATA_SPLIT_ENABLED);
	cr_assert_eq(dev.hds_thresh, 0);
	rig_down(&r);
}

Test(ctl, attaching_xdp_or_af_xdp_while_bound_is_ebusy)
{
	struct devmem_dev_info dev;
	struct rig r;

	rig_up(&r);
	rig_split(&r);
	bind_ok(&r, r.fd, Q0, 1);
	cr_assert_eq(devmem_set_xdp(r.ctl, r.ifindex, true), -EBUSY);
	cr_assert_eq(devmem_set_xsk_pool(r.ctl, r.ifindex, 0, true), -EBUSY);
	cr_assert_eq(devmem_dev_get(r.ctl, r.ifindex, &dev), 0);
	cr_assert_not(dev.xdp_attached);
	rig_down(&r);
}

/* ---- ethtool analogues ---- */

Test(ctl, flow_rules_are_added_listed_and_deleted_by_location)
{
	struct devmem_flow_rule rules[4], a = { .flow_type = TCP_V4_FLOW, .queue = 2 },
					  b = { .flow_type = TCP_V6_FLOW, .queue = 3 };
	struct devmem_dev_info dev;
	uint32_t locs[4], la, lb;
	struct rig r;

	rig_up(&r);
	a.dst_port = htons(5201);
	memcpy(a.dst_addr, (uint8_t[]){ 192, 168, 1, 2 }, 4);
	b.src_port = htons(4000);
	cr_assert_eq(devmem_flow_rule_add(r.ctl, r.ifindex, &a, &la), 0, "%s", devmem_last_error());
	cr_assert_eq(devmem_flow_rule_add(r.ctl, r.ifindex, &b, &lb), 0);
	cr_assert_eq(la, 0);
	cr_assert_eq(lb, 1);
	cr_assert_eq(devmem_flow_rule_list(r.ctl, r.ifindex, NULL, NULL, 0), 2);
	cr_assert_eq(devmem_flow_rule_list(r.ctl, r.ifindex, rules, locs, 4), 2);
	cr_assert_eq(memcmp(&rules[0], &a, sizeof(a)), 0);
	cr_assert_eq(memcmp(&rules[1], &b, sizeof(b)), 0);
	cr_assert_eq(locs[0], 0);
	cr_assert_eq(locs[1], 1);
	memset(locs, 0xff, sizeof(locs));
	cr_assert_eq(devmem_flow_rule_list(r.ctl, r.ifindex, NULL, locs, 1), 2,
		     "the count of all, whatever fits");
	cr_assert_eq(locs[0], 0);
	cr_assert_eq(locs[1], UINT32_MAX, "no more than max copied");
	cr_assert_eq(devmem_dev_get(r.ctl, r.ifindex, &dev), 0);
	cr_assert_eq(dev.nr_flow_rules, 2);

	cr_assert_eq(devmem_flow_rule_del(r.ctl, r.ifindex, la), 0);
	cr_assert_eq(devmem_flow_rule_del(r.ctl, r.ifindex, la), -ENOENT);
	cr_assert_eq(devmem_flow_rule_list(r.ctl, r.ifindex, rules, locs, 4), 1);
	cr_assert_eq(locs[0], lb);
	cr_assert_eq(rules[0].queue, 3);
	rig_down(&r);
}

Test(ctl, bad_flow_rules_are_einval)
{
	struct devmem_flow_rule bad_type = { .flow_type = 0x03 /* SCTP_V4_FLOW */, .queue = 0 },
				bad_queue = { .flow_type = TCP_V4_FLOW, .queue = NR_QUEUES };
	struct rig r;
	uint32_t loc = 77;

	rig_up(&r);
	cr_assert_eq(devmem_flow_rule_add(r.ctl, r.ifindex, &bad_type, &loc), -EINVAL);
	cr_assert_eq(devmem_flow_rule_add(r.ctl, r.ifindex, &bad_queue, &loc), -EINVAL);
	cr_assert_eq(devmem_flow_rule_add(r.ctl, r.ifindex, NULL, &loc), -EINVAL);
	cr_assert_eq(devmem_flow_rule_add(r.ctl, 999999, &bad_queue, &loc), -ENODEV);
	cr_assert_eq(loc, 77);
	cr_assert_eq(devmem_flow_rule_list(r.ctl, r.ifindex, NULL, NULL, 0), 0);
	rig_down(&r);
}

Test(ctl, rss_equal_spreads_the_table_over_n_queues)
{
	struct devmem_dev_info dev;
	struct rig r;
	unsigned int i;

	rig_up(&r);
	cr_assert_eq(devmem_set_rss_equal(r.ctl, r.ifindex, 3), 0);
	cr_assert_eq(devmem_dev_get(r.ctl, r.ifindex, &dev), 0);
	for (i = 0; i < DEVMEM_RSS_INDIR_SIZE; i++)
		cr_assert_eq(dev.rss_indir[i], i % 3, "entry %u", i);
	cr_assert_eq(devmem_set_rss_equal(r.ctl, r.ifindex, 0), -EINVAL);
	cr_assert_eq(devmem_set_rss_equal(r.ctl, r.ifindex, NR_QUEUES + 1), -EINVAL);
	cr_assert_eq(devmem_dev_get(r.ctl, r.ifindex, &dev), 0);
	cr_assert_eq(dev.rss_indir[5], 5 % 3, "a refused change changes nothing");
	rig_down(&r);
}

/* ---- dumps ---- */

Test(ctl, dev_get_reports_the_device)
{
	struct test_nic_opts opts = { .name = "ctlnic", .netmem_tx = true, .hds_thresh_max = 512 };
	struct devmem_dev_info dev;
	struct rig r;

	rig_up_opts(&r, &opts);
	cr_assert_eq(devmem_dev_get(r.ctl, r.ifindex, &dev), 0);
	cr_assert_eq(dev.ifindex, r.ifindex);
	cr_assert_str_eq(dev.name, "ctlnic");
	cr_assert_eq(dev.num_rx_queues, NR_QUEUES);
	cr_assert_eq(dev.num_tx_queues, NR_QUEUES);
	cr_assert_eq(dev.tcp_data_split, ETHTOOL_TCP_DATA_SPLIT_DISABLED);
	cr_assert_eq(dev.hds_thresh_max, 512);
	cr_assert(dev.netmem_tx);
	cr_assert_not(dev.xdp_attached);
	cr_assert_eq(dev.nr_flow_rules, 0);
	cr_assert_eq(devmem_dev_get(r.ctl, 999999, &dev), -ENODEV);
	cr_assert_eq(devmem_dev_get(r.ctl, r.ifindex, NULL), -EINVAL);
	rig_down(&r);
}

Test(ctl, dev_dump_visits_every_device_in_ifindex_order)
{
	struct test_nic_opts o1 = { .ifindex = 2001 }, o2 = { .ifindex = 2000 };
	struct test_nic *second;
	struct seen s = { 0 };
	struct rig r;
	int i, at1 = -1, at2 = -1;

	rig_up_opts(&r, &o1);
	cr_assert_eq(test_nic_create(&o2, &second), 0);
	cr_assert_eq(devmem_dev_dump(r.ctl, seen_dev, &s), 0);
	for (i = 0; i < s.n; i++) {
		if (i)
			cr_assert_gt(s.dev[i].ifindex, s.dev[i - 1].ifindex);
		if (s.dev[i].ifindex == 2001)
			at1 = i;
		if (s.dev[i].ifindex == 2000)
			at2 = i;
	}
	cr_assert(at1 >= 0 && at2 >= 0 && at2 < at1);
	test_nic_destroy(second);
	s.n = 0;
	cr_assert_eq(devmem_dev_dump(r.ctl, seen_dev, &s), 0);
	for (i = 0; i < s.n; i++)
		cr_assert_neq(s.dev[i].ifindex, 2000, "an unregistered device is not dumped");
	rig_down(&r);
}

Test(ctl, queue_dump_lists_rx_then_tx_queues_with_their_binding)
{
	struct seen s = { 0 };
	struct devmem_queue_info q;
	struct rig r;
	uint32_t id;
	int i;

	rig_up(&r);
	rig_split(&r);
	id = bind_ok(&r, r.fd, Q1, 1);
	cr_assert_eq(devmem_queue_dump(r.ctl, r.ifindex, seen_queue, &s), 0);
	cr_assert_eq(s.n, 2 * NR_QUEUES);
	for (i = 0; i < s.n; i++) {
		cr_assert_eq(s.queue[i].ifindex, r.ifindex);
		cr_assert_eq(s.queue[i].id, (uint32_t)i % NR_QUEUES);
		cr_assert_eq(s.queue[i].type, (uint32_t)(i < NR_QUEUES ? NETDEV_QUEUE_TYPE_RX :
									 NETDEV_QUEUE_TYPE_TX));
		cr_assert_neq(s.queue[i].napi_id, 0);
		cr_assert_eq(s.queue[i].dmabuf, i == 1 ? id : 0);
		cr_assert_not(s.queue[i].io_uring);
		cr_assert_not(s.queue[i].xsk);
	}
	cr_assert_neq(s.queue[0].napi_id, s.queue[1].napi_id, "one NAPI context per queue");

	cr_assert_eq(devmem_queue_get(r.ctl, r.ifindex, NETDEV_QUEUE_TYPE_TX, 2, &q), 0);
	cr_assert_eq(q.id, 2);
	cr_assert_eq(q.type, NETDEV_QUEUE_TYPE_TX);
	cr_assert_eq(q.ifindex, r.ifindex);
	cr_assert_eq(q.napi_id, s.queue[NR_QUEUES + 2].napi_id);
	cr_assert_eq(q.dmabuf, 0);
	cr_assert_eq(devmem_queue_get(r.ctl, r.ifindex, NETDEV_QUEUE_TYPE_RX, NR_QUEUES, &q),
		     -EINVAL);
	cr_assert_eq(devmem_queue_get(r.ctl, r.ifindex, 7, 0, &q), -EINVAL);
	cr_assert_eq(devmem_queue_get(r.ctl, 999999, NETDEV_QUEUE_TYPE_RX, 0, &q), -ENODEV);
	cr_assert_eq(devmem_queue_dump(r.ctl, 999999, seen_queue, &s), -ENODEV);
	rig_down(&r);
}

Test(ctl, page_pools_report_their_queue_napi_inflight_and_dmabuf)
{
	struct seen s = { 0 };
	struct devmem_queue_info q;
	const struct devmem_page_pool_info *data, *hdr;
	struct devmem_page_pool_info one;
	struct page_pool *data_pp;
	netmem_ref held[3];
	struct rig r;
	uint32_t id;
	unsigned int i;

	rig_up(&r);
	rig_split(&r);
	id = bind_ok(&r, r.fd, Q0, 1);
	for (i = 0; i < ARRAY_SIZE(held); i++)
		held[i] = test_nic_rx_alloc(r.nic, 0);

	cr_assert_eq(devmem_page_pool_dump(r.ctl, r.ifindex, seen_pool, &s), 0);
	cr_assert_eq(s.n, 2 * NR_QUEUES, "a header and a data pool per rx queue");
	for (i = 0; i < NR_QUEUES; i++) {
		cr_assert_eq(devmem_queue_get(r.ctl, r.ifindex, NETDEV_QUEUE_TYPE_RX, i, &q), 0);
		data_pp = test_nic_data_pool(r.nic, i);
		data = find_pool(&s, data_pp->id);
		hdr = find_pool(&s, test_nic_header_pool(r.nic, i)->id);
		cr_assert_not_null(data);
		cr_assert_not_null(hdr);
		cr_assert_eq(data->ifindex, r.ifindex);
		cr_assert_eq(data->napi_id, q.napi_id);
		cr_assert_eq(hdr->napi_id, q.napi_id);
		cr_assert_eq(data->detach_time, 0);
		cr_assert_eq(data->dmabuf, i == 0 ? id : 0);
		cr_assert_eq(hdr->dmabuf, 0, "header pools never take the provider");
		cr_assert_eq(data->inflight, (uint64_t)page_pool_inflight(data_pp));
		cr_assert_eq(data->inflight_mem, data->inflight * PAGE_SIZE);
	}
	data = find_pool(&s, test_nic_data_pool(r.nic, 0)->id);
	cr_assert_geq(data->inflight, ARRAY_SIZE(held));
	cr_assert_eq(devmem_page_pool_get(r.ctl, data->id, &one), 0);
	cr_assert_eq(one.id, data->id);
	cr_assert_eq(one.napi_id, data->napi_id);
	cr_assert_eq(one.inflight, data->inflight);
	cr_assert_eq(one.inflight_mem, data->inflight_mem);
	cr_assert_eq(one.dmabuf, id);

	s.n = 0;
	cr_assert_eq(devmem_page_pool_dump(r.ctl, 999999, seen_pool, &s), 0);
	cr_assert_eq(s.n, 0);
	for (i = 0; i < ARRAY_SIZE(held); i++)
		test_nic_rx_put(held[i]);
	rig_down(&r);
}

Test(ctl, page_pool_get_of_an_unknown_pool_is_enoent)
{
	struct devmem_page_pool_info info;
	struct devmem_ctl *ctl;

	cr_assert_eq(devmem_ctl_open(&ctl), 0);
	cr_assert_eq(devmem_page_pool_get(ctl, 123456, &info), -ENOENT);
	devmem_ctl_close(ctl);
}

Test(ctl, binding_dump_describes_buffer_queues_and_net_iovs)
{
	static const size_t layout[] = { 256 << 10, 512 << 10 };
	static const struct devmem_queue_id q13[] = { { 1, NETDEV_QUEUE_TYPE_RX },
						      { 3, NETDEV_QUEUE_TYPE_RX } };
	struct host_buffer_opts hopts = { .sz = sizeof(hopts),
					  .sg_lengths = layout,
					  .num_sg_lengths = ARRAY_SIZE(layout) };
	struct devmem_binding_info info;
	struct seen s = { 0 };
	struct dma_buf *buf;
	struct rig r;
	netmem_ref held;
	uint32_t id;
	int fd;

	rig_up(&r);
	rig_split(&r);
	cr_assert_eq(devmem_host_buffer_create(BUF_SIZE, &hopts, &buf), 0);
	fd = dma_buf_fd(buf, O_CLOEXEC);
	id = bind_ok(&r, fd, q13, 2);
	held = test_nic_rx_alloc(r.nic, 3);

	cr_assert_eq(devmem_binding_dump(r.ctl, r.ifindex, seen_binding, &s), 0);
	cr_assert_eq(s.n, 1);
	info = s.binding[0];
	cr_assert_eq(info.id, id);
	cr_assert_eq(info.ifindex, r.ifindex);
	cr_assert_eq(info.direction, NETDEV_QUEUE_TYPE_RX);
	cr_assert_not(info.unbound);
	cr_assert(info.owned);
	cr_assert_eq(info.dmabuf_size, BUF_SIZE);
	cr_assert_eq(info.dmabuf_ino, buf->ino);
	cr_assert_eq(info.nr_queues, 2);
	cr_assert_eq(info.queues[0], 1);
	cr_assert_eq(info.queues[1], 3);
	cr_assert_eq(info.nr_chunks, 3, "256K + 512K + the remaining 256K");
	cr_assert_eq(info.niov_size, PAGE_SIZE);
	cr_assert_eq(info.nr_niovs, BUF_SIZE / PAGE_SIZE);
	cr_assert_geq(info.niovs_in_use, 1);
	cr_assert_eq(info.niovs_free + info.niovs_in_use, info.nr_niovs);
	cr_assert_gt(info.metadata_bytes, 0);

	s.n = 0;
	cr_assert_eq(devmem_binding_dump(r.ctl, 999999, seen_binding, &s), 0);
	cr_assert_eq(s.n, 0);
	cr_assert_eq(devmem_binding_get(r.ctl, id + 1, &info), -ENOENT);

	test_nic_rx_put(held);
	close(fd);
	dma_buf_put(buf);
	rig_down(&r);
}

Test(ctl, bind_tx_gives_an_id_on_a_device_that_sends_from_net_iovs)
{
	struct test_nic_opts opts = { .netmem_tx = true }, plain_opts = { 0 };
	struct devmem_binding_info info;
	struct test_nic *plain;
	struct rig r;
	uint32_t id = 0;

	rig_up_opts(&r, &opts);
	cr_assert_eq(devmem_bind_tx(r.ctl, r.ifindex, r.fd, NULL, &id), 0, "%s",
		     devmem_last_error());
	cr_assert_eq(id, 1);
	cr_assert_eq(devmem_binding_get(r.ctl, id, &info), 0);
	cr_assert_eq(info.direction, NETDEV_QUEUE_TYPE_TX);
	cr_assert_eq(info.nr_queues, 0);
	cr_assert(info.owned);
	cr_assert_eq(rxq_dmabuf(&r, 0), 0, "a tx binding takes no rx queue");

	cr_assert_eq(test_nic_create(&plain_opts, &plain), 0);
	id = 0;
	cr_assert_eq(devmem_bind_tx(r.ctl, test_nic_ifindex(plain), r.fd, NULL, &id), -EOPNOTSUPP);
	cr_assert_eq(id, 0);
	test_nic_destroy(plain);

	cr_assert_eq(devmem_unbind(r.ctl, 1), 0);
	cr_assert_eq(net_devmem_nr_bindings(), 0);
	rig_down(&r);
}

Test(ctl, dumps_stop_at_the_first_non_zero_callback_return)
{
	struct rig r;
	uint32_t a;
	struct seen s = { .stop_after = 1 };

	rig_up(&r);
	rig_split(&r);
	a = bind_ok(&r, r.fd, Q0, 1);
	bind_ok(&r, r.fd, Q1, 1);

	cr_assert_eq(devmem_queue_dump(r.ctl, 0, seen_queue, &s), 7);
	cr_assert_eq(s.n, 1);
	s.n = 0;
	cr_assert_eq(devmem_dev_dump(r.ctl, seen_dev, &s), 7);
	cr_assert_eq(s.n, 1);
	s.n = 0;
	cr_assert_eq(devmem_page_pool_dump(r.ctl, r.ifindex, seen_pool, &s), 7);
	cr_assert_eq(s.n, 1);
	s.n = 0;
	cr_assert_eq(devmem_binding_dump(r.ctl, 0, seen_binding, &s), 7);
	cr_assert_eq(s.n, 1);
	cr_assert_eq(s.binding[0].id, a, "bindings come in allocation order");

	s.n = 0;
	s.stop_after = 2;
	cr_assert_eq(devmem_queue_dump(r.ctl, r.ifindex, seen_queue, &s), 7);
	cr_assert_eq(s.n, 2);
	rig_down(&r);
}
