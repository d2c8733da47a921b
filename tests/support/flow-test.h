/* SPDX-License-Identifier: MIT */
/*
 * Criterion helpers over support/flow.h, shared by the unit tests of the
 * software path (flow.c itself stays free of Criterion: the stress program
 * uses it too).
 */
#ifndef DEVMEM_TESTS_FLOW_TEST_H
#define DEVMEM_TESTS_FLOW_TEST_H

#include <errno.h>
#include <unistd.h>

#include "devmem/swnic.h"
#include "harness.h"
#include "net/devmem.h"
#include "net/page_pool.h"
#include "net/sock.h"
#include "support/flow.h"

/*
 * Every test is bounded: SIGALRM ends one that hangs (Criterion reports the
 * crash). Not Criterion's .timeout, whose runner leaks under ASan when tests
 * run in parallel.
 */
#define FLOW_TEST_SECONDS 120

/* Set up a rig, or skip with the reason when the machine lacks what it needs. */
static inline void rig_up(struct flow_rig *r, const struct flow_rig_opts *o)
{
	int err;

	alarm(FLOW_TEST_SECONDS);
	err = flow_rig_up(r, o);
	if (err == -EOPNOTSUPP && o->rx_mode == DEVMEM_SWNIC_RX_BUNDLE)
		cr_skip_test("the running kernel has no io_uring bundle receives: %s", r->why);
	if (err == -EADDRNOTAVAIL || err == -EAFNOSUPPORT)
		cr_skip_test("no IPv6 loopback: %s", r->why);
	cr_assert_eq(err, 0, "rig: %s", r->why);
}

/* Nothing of the software path is left: no socket, binding, pool or dma-buf. */
static inline void assert_all_gone(void)
{
	cr_assert_eq(devmem_sock_nr_live(), 0, "%ld devmem sockets left", devmem_sock_nr_live());
	cr_assert_eq(net_devmem_nr_bindings(), 0, "%ld bindings left", net_devmem_nr_bindings());
	cr_assert_eq(page_pool_nr_live(), 0, "%ld page pools left", page_pool_nr_live());
	cr_assert_eq(devmem_test_live_dma_bufs(), 0, "dma-bufs left");
}

static inline void rig_down(struct flow_rig *r)
{
	flow_rig_down(r);
	assert_all_gone();
}

#endif
