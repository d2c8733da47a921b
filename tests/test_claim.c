// SPDX-License-Identifier: MIT
/*
 * Shared software NICs: an rx queue's memory provider claimed for the whole
 * network namespace (net/claim.h), so that a second process's bind-rx of a
 * queue another process has bound is refused as the kernel refuses it
 * (__net_mp_open_rxq(): EEXIST, "designated queue already memory provider
 * bound"), and the queue is free again once the owner lets go in any way,
 * SIGKILL included.
 *
 * Each process of a test is a child forked from the test's process, which
 * never uses the network itself (so its children may). The claims are made
 * in a domain of this test program's own, so test programs running in
 * parallel never see each other's queues.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devmem/dma-buf.h"
#include "devmem/error.h"
#include "devmem/host.h"
#include "devmem/netdev.h"
#include "devmem/socket.h"
#include "devmem/swnic.h"
#include "net/claim.h"
#include "net/netdev.h"
#include "support/flow-test.h"
#include "support/test-nic.h"
#include "harness.h"

#define MiB (1UL << 20)
#define STEP_MS 30000 /* a child's step, at most */
#define CHILD_SECONDS 90 /* a child that hangs is ended by SIGALRM */
#define KERNEL_TEXT "designated queue already memory provider bound"

/* ---- the processes of a test ---- */

struct party {
	pid_t pid;
	int cmd; /* parent -> child: a byte per "go on" */
	int rep; /* child -> parent: an int per step */
};

struct claim_args {
	char domain[DEVMEM_SWNIC_DOMAIN_MAX + 1]; /* "" : the network namespace's */
	bool shared;
	uint32_t queue;
	uint32_t then; /* a contender binds this queue too, after @queue, in one request; 0: none */
	pid_t owner; /* the process the refusal must name */
};

/* The parent's ends of the pipes to every child alive: a new child closes them. */
#define MAX_PARTIES 8
static struct party *parties[MAX_PARTIES];

static void parties_forget(struct party *p)
{
	for (unsigned int i = 0; i < MAX_PARTIES; i++)
		if (parties[i] == p)
			parties[i] = NULL;
}

/*
 * In a new child: only its parent may hold the other children's pipes, or
 * one would never see its parent hang up.
 */
static void parties_close_inherited(void)
{
	for (unsigned int i = 0; i < MAX_PARTIES; i++) {
		if (!parties[i])
			continue;
		if (parties[i]->cmd >= 0)
			close(parties[i]->cmd);
		close(parties[i]->rep);
	}
}

typedef int (*party_fn)(struct party *p, const struct claim_args *a);

/* The domain of this run: this test's pid makes it its own. */
static void args_init(struct claim_args *a, uint32_t queue)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->domain, sizeof(a->domain), "test_claim-%d", (int)getpid());
	a->shared = true;
	a->queue = queue;
}

static void party_start(struct party *p, party_fn fn, const struct claim_args *a)
{
	int to[2], from[2];

	cr_assert_eq(pipe2(to, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(from, O_CLOEXEC), 0);
	p->pid = fork();
	cr_assert_geq(p->pid, 0, "fork: %s", strerror(errno));
	if (p->pid == 0) {
		parties_close_inherited();
		close(to[1]);
		close(from[0]);
		p->cmd = to[0];
		p->rep = from[1];
		alarm(CHILD_SECONDS);
		_exit(fn(p, a));
	}
	close(to[0]);
	close(from[1]);
	p->cmd = to[1];
	p->rep = from[0];
	for (unsigned int i = 0; i < MAX_PARTIES; i++) {
		if (!parties[i]) {
			parties[i] = p;
			return;
		}
	}
	cr_assert(false, "more than %d children at once", MAX_PARTIES);
}

/* Child: report @v for this step. */
static void tell(struct party *p, int v)
{
	if (write(p->rep, &v, sizeof(v)) != sizeof(v))
		_exit(120);
}

/* Child: wait for the parent's word (a closed pipe also means go on). */
static void await(struct party *p)
{
	char c;

	if (read(p->cmd, &c, 1) < 0)
		_exit(121);
}

/* Parent: the child's report of its next step (fails the test when none comes). */
static int heard(struct party *p)
{
	struct pollfd pfd = { .fd = p->rep, .events = POLLIN };
	int v;

	cr_assert_eq(poll(&pfd, 1, STEP_MS), 1, "child %d said nothing", (int)p->pid);
	cr_assert_eq(read(p->rep, &v, sizeof(v)), (ssize_t)sizeof(v), "child %d ended early",
		     (int)p->pid);
	return v;
}

static void go(struct party *p)
{
	cr_assert_eq(write(p->cmd, "g", 1), 1);
}

/* Parent: let the child end; its exit status (or 100 + a signal). */
static int party_end(struct party *p)
{
	int status;

	parties_forget(p);
	if (p->cmd >= 0)
		close(p->cmd);
	close(p->rep);
	p->cmd = p->rep = -1;
	cr_assert_eq(waitpid(p->pid, &status, 0), p->pid);
	return WIFSIGNALED(status) ? 100 + WTERMSIG(status) : WEXITSTATUS(status);
}

static int party_kill(struct party *p)
{
	cr_assert_eq(kill(p->pid, SIGKILL), 0);
	return party_end(p);
}

/* ---- what the children do ---- */

/* The process's setting, then a rig on lo with a 1 MiB buffer and no binding. */
static int rig_for(struct flow_rig *r, const struct claim_args *a, bool bind)
{
	struct flow_rig_opts o = { .buf_size = 1 * MiB, .bind = bind, .queue = a->queue };
	int err;

	err = devmem_swnic_set_shared(a->shared, a->domain);
	if (err)
		return err;
	err = flow_rig_up(r, &o);
	if (err)
		fprintf(stderr, "rig: %s\n", r->why);
	return err;
}

static int bind_queue(struct flow_rig *r, uint32_t queue, uint32_t *id)
{
	struct devmem_queue_id q = { .id = queue, .type = NETDEV_QUEUE_TYPE_RX };

	return devmem_bind_rx(r->ctl, r->ifindex, r->buf_fd, &q, 1, NULL, id);
}

static int bind_queues(struct flow_rig *r, uint32_t first, uint32_t then, uint32_t *id)
{
	struct devmem_queue_id q[2] = { { .id = first, .type = NETDEV_QUEUE_TYPE_RX },
					{ .id = then, .type = NETDEV_QUEUE_TYPE_RX } };

	return devmem_bind_rx(r->ctl, r->ifindex, r->buf_fd, q, then ? 2 : 1, NULL, id);
}

/* The refusal names the kernel's reason and the owner. */
static bool refusal_names(pid_t owner)
{
	char want[64];

	snprintf(want, sizeof(want), "(by process %d)", (int)owner);
	if (strstr(devmem_last_error(), KERNEL_TEXT) && strstr(devmem_last_error(), want))
		return true;
	fprintf(stderr, "refusal: \"%s\", wanted \"%s\" and \"%s\"\n", devmem_last_error(),
		KERNEL_TEXT, want);
	return false;
}

/*
 * The owner: binds a->queue and reports it; then, at each word of the
 * parent: unbind, close the handle, destroy the NIC, fork a child that
 * closes its copy of the handle and exits, fork a child that stays (its pid
 * is the report).
 */
enum owner_cmd { OWNER_UNBIND = 1, OWNER_CLOSE, OWNER_DESTROY, OWNER_FORK, OWNER_FORK_STAY };

static int owner_fork_child(struct flow_rig *r)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		devmem_ctl_close(r->ctl); /* the child's copy only */
		exit(0); /* atexit handlers and all */
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		return -ECHILD;
	return 0;
}

/* A child that outlives its parent: it lives until it is killed. */
static int owner_fork_stay(struct party *p)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(p->cmd);
		close(p->rep);
		alarm(CHILD_SECONDS);
		for (;;)
			pause();
	}
	return (int)pid;
}

static int owner(struct party *p, const struct claim_args *a)
{
	struct flow_rig r;
	uint32_t id;
	char c;
	int err;

	err = rig_for(&r, a, false);
	if (!err)
		err = bind_queue(&r, a->queue, &id);
	tell(p, err);
	if (err)
		return 1;
	while (read(p->cmd, &c, 1) == 1) {
		switch (c) {
		case OWNER_UNBIND:
			err = devmem_unbind(r.ctl, id);
			break;
		case OWNER_CLOSE:
			devmem_ctl_close(r.ctl);
			r.ctl = NULL;
			err = 0;
			break;
		case OWNER_DESTROY:
			err = devmem_swnic_destroy(r.ifindex);
			r.nic = false;
			break;
		case OWNER_FORK:
			err = owner_fork_child(&r);
			break;
		case OWNER_FORK_STAY:
			err = owner_fork_stay(p);
			break;
		default:
			return 0;
		}
		tell(p, err);
	}
	return 0;
}

static int owner_ask(struct party *p, enum owner_cmd cmd)
{
	char c = (char)cmd;

	cr_assert_eq(write(p->cmd, &c, 1), 1);
	return heard(p);
}

static void owner_do(struct party *p, enum owner_cmd cmd)
{
	cr_assert_eq(owner_ask(p, cmd), 0, "owner step %d", cmd);
}

/* A second process: bind-rx of a->queue, reporting 0 or the errno (and checking the refusal). */
static int contender(struct party *p, const struct claim_args *a)
{
	struct devmem_queue_info qi;
	struct flow_rig r;
	uint32_t id;
	int err;

	err = rig_for(&r, a, false);
	if (err) {
		tell(p, err);
		return 1;
	}
	err = bind_queues(&r, a->queue, a->then, &id);
	if (err == -EEXIST) {
		if (a->owner && !refusal_names(a->owner))
			err = -EPROTO;
		/* refused: nothing changed here, nothing is claimed */
		else if (devmem_queue_get(r.ctl, r.ifindex, NETDEV_QUEUE_TYPE_RX, a->queue, &qi) ||
			 qi.dmabuf || net_devmem_nr_bindings() || netdev_rxq_nr_claims())
			err = -EBADE;
	} else if (!err && netdev_rxq_nr_claims() != (a->shared ? 1 : 0)) {
		err = -EBADE;
	}
	tell(p, err);
	return 0;
}

/* A fresh process's bind of a->queue (a contender's report). */
static int try_bind(const struct claim_args *a)
{
	struct party p;
	int err;

	party_start(&p, contender, a);
	err = heard(&p);
	cr_assert_eq(party_end(&p), 0);
	return err;
}

static void start_owner(struct party *o, const struct claim_args *a)
{
	party_start(o, owner, a);
	cr_assert_eq(heard(o), 0, "the owner's bind");
}

/* ---- one provider per queue, machine-wide ---- */

Test(claim, second_process_bind_of_a_bound_queue_is_eexist_naming_the_owner)
{
	struct claim_args a;
	struct party o;

	args_init(&a, 1);
	start_owner(&o, &a);
	a.owner = o.pid;
	cr_assert_eq(try_bind(&a), -EEXIST);
	/* and again: the refused claimants cost the owner nothing it notices */
	cr_assert_eq(try_bind(&a), -EEXIST);
	cr_assert_eq(party_end(&o), 0);
}

Test(claim, another_queue_of_the_same_interface_binds)
{
	struct claim_args a, b;
	struct party o;

	args_init(&a, 1);
	start_owner(&o, &a);
	args_init(&b, 2);
	cr_assert_eq(try_bind(&b), 0);
	cr_assert_eq(party_end(&o), 0);
}

Test(claim, two_processes_at_once_each_with_its_own_queue)
{
	struct claim_args a, b;
	struct party o1, o2;

	args_init(&a, 1);
	args_init(&b, 2);
	start_owner(&o1, &a);
	start_owner(&o2, &b);
	a.owner = o1.pid;
	b.owner = o2.pid;
	cr_assert_eq(try_bind(&a), -EEXIST);
	cr_assert_eq(try_bind(&b), -EEXIST);
	cr_assert_eq(party_end(&o1), 0);
	cr_assert_eq(party_end(&o2), 0);
}

/* ---- the claim goes with the provider ---- */

Test(claim, unbind_releases_the_queue)
{
	struct claim_args a;
	struct party o;

	args_init(&a, 1);
	start_owner(&o, &a);
	a.owner = o.pid;
	cr_assert_eq(try_bind(&a), -EEXIST);
	owner_do(&o, OWNER_UNBIND);
	cr_assert_eq(try_bind(&a), 0);
	cr_assert_eq(party_end(&o), 0);
}

Test(claim, closing_the_handle_releases_the_queue)
{
	struct claim_args a;
	struct party o;

	args_init(&a, 1);
	start_owner(&o, &a);
	a.owner = o.pid;
	cr_assert_eq(try_bind(&a), -EEXIST);
	owner_do(&o, OWNER_CLOSE);
	cr_assert_eq(try_bind(&a), 0);
	cr_assert_eq(party_end(&o), 0);
}

Test(claim, destroying_the_software_nic_releases_the_queue)
{
	struct claim_args a;
	struct party o;

	args_init(&a, 1);
	start_owner(&o, &a);
	a.owner = o.pid;
	cr_assert_eq(try_bind(&a), -EEXIST);
	owner_do(&o, OWNER_DESTROY);
	cr_assert_eq(try_bind(&a), 0);
	cr_assert_eq(party_end(&o), 0);
}

Test(claim, owner_exit_releases_the_queue)
{
	struct claim_args a;
	struct party o;

	args_init(&a, 1);
	start_owner(&o, &a);
	a.owner = o.pid;
	cr_assert_eq(try_bind(&a), -EEXIST);
	cr_assert_eq(party_end(&o), 0); /* exits without unbinding or closing anything */
	cr_assert_eq(try_bind(&a), 0);
}

Test(claim, forked_child_of_the_owner_exiting_keeps_the_claim)
{
	struct claim_args a;
	struct party o;

	args_init(&a, 1);
	start_owner(&o, &a);
	a.owner = o.pid;
	owner_do(&o, OWNER_FORK);
	cr_assert_eq(try_bind(&a), -EEXIST, "the owner still serves the queue");
	owner_do(&o, OWNER_UNBIND);
	cr_assert_eq(try_bind(&a), 0);
	cr_assert_eq(party_end(&o), 0);
}

Test(claim, forked_child_outliving_a_killed_owner_does_not_hold_the_queue)
{
	struct claim_args a;
	struct party o;
	pid_t child;

	args_init(&a, 1);
	start_owner(&o, &a);
	child = owner_ask(&o, OWNER_FORK_STAY);
	cr_assert_gt(child, 0);
	a.owner = o.pid;
	cr_assert_eq(try_bind(&a), -EEXIST);
	cr_assert_eq(party_kill(&o), 100 + SIGKILL);
	/* nobody serves the queue any more: the child's copy of the claim went at the fork */
	cr_assert_eq(kill(child, 0), 0, "the child is still there");
	cr_expect_eq(try_bind(&a), 0);
	cr_assert_eq(kill(child, SIGKILL), 0);
}

/* An owner receiving a stream, until it is killed. */
static int streaming_owner(struct party *p, const struct claim_args *a)
{
	struct flow_sender_opts so = { .seconds = 60, .thread = true };
	struct flow_sender s;
	struct flow_rig r;
	struct flow_rx rx;
	bool told = false;
	int fd, err;

	err = rig_for(&r, a, true);
	if (!err)
		err = flow_sender_start(&r.l, &so, &s);
	if (!err) {
		fd = flow_accept(&r.l, STEP_MS);
		err = fd < 0 ? fd : devmem_sock_attach(fd);
		err = err < 0 ? err : flow_rx_init(&rx, fd);
	}
	if (err) {
		tell(p, err);
		return 1;
	}
	flow_rig_rx(&r, &rx);
	for (;;) {
		ssize_t n = flow_rx_step(&rx, MSG_DONTWAIT);

		if (n == -EAGAIN) {
			flow_sleep_us(100);
			continue;
		}
		if (n <= 0) {
			fprintf(stderr, "stream: %zd %s\n", n, rx.why);
			tell(p, n ? (int)n : -EPIPE);
			return 1;
		}
		/* in the middle of a stream into the buffer */
		if (!told && rx.bytes_dmabuf >= 4 * MiB) {
			tell(p, 0);
			told = true;
		}
	}
}

Test(claim, sigkill_of_the_owner_mid_stream_releases_the_queue)
{
	struct claim_args a;
	struct party o;

	args_init(&a, 1);
	party_start(&o, streaming_owner, &a);
	cr_assert_eq(heard(&o), 0, "the owner receives a stream into its binding");
	a.owner = o.pid;
	cr_assert_eq(try_bind(&a), -EEXIST);
	cr_assert_eq(party_kill(&o), 100 + SIGKILL);
	cr_assert_eq(try_bind(&a), 0);
}

/* ---- what a bind that fails leaves ---- */

/* A refused bind of an owner's own (header split off, AF_XDP): no claim stays. */
static int failing_owner(struct party *p, const struct claim_args *a)
{
	struct flow_rig r;
	uint32_t id;
	int err;

	err = rig_for(&r, a, false);
	if (err)
		goto out;
	err = devmem_set_xsk_pool(r.ctl, r.ifindex, a->queue, true);
	if (!err)
		err = bind_queue(&r, a->queue, &id) == -EBUSY ? 0 : -EPROTO;
	if (!err)
		err = netdev_rxq_nr_claims() ? -EBADE : 0;
	if (!err)
		err = devmem_set_xsk_pool(r.ctl, r.ifindex, a->queue, false);
	if (!err)
		err = devmem_set_header_split(r.ctl, r.ifindex, ETHTOOL_TCP_DATA_SPLIT_DISABLED, 0);
	if (!err)
		err = bind_queue(&r, a->queue, &id) == -EINVAL ? 0 : -EPROTO;
	if (!err)
		err = netdev_rxq_nr_claims() ? -EBADE : 0;
out:
	tell(p, err);
	await(p);
	return 0;
}

Test(claim, failed_bind_leaves_the_queue_unclaimed)
{
	struct claim_args a;
	struct party o;

	args_init(&a, 1);
	party_start(&o, failing_owner, &a);
	cr_assert_eq(heard(&o), 0, "EBUSY then EINVAL, and no claim held");
	cr_assert_eq(try_bind(&a), 0, "while that process lives");
	go(&o);
	cr_assert_eq(party_end(&o), 0);
}

Test(claim, bind_refused_on_its_second_queue_leaves_the_first_unclaimed)
{
	struct claim_args a, both;
	struct party o;

	args_init(&a, 2);
	start_owner(&o, &a);
	args_init(&both, 1);
	both.then = 2;
	both.owner = o.pid;
	/* queue 1 was bound, then queue 2 refused: the rollback frees queue 1 */
	cr_assert_eq(try_bind(&both), -EEXIST);
	args_init(&a, 1);
	cr_assert_eq(try_bind(&a), 0);
	cr_assert_eq(party_end(&o), 0);
}

/* The kernel checks the provider before AF_XDP: another process's provider is EEXIST. */
static int xsk_contender(struct party *p, const struct claim_args *a)
{
	struct flow_rig r;
	uint32_t id;
	int err;

	err = rig_for(&r, a, false);
	if (!err)
		err = devmem_set_xsk_pool(r.ctl, r.ifindex, a->queue, true);
	if (!err) {
		err = bind_queue(&r, a->queue, &id);
		if (err == -EEXIST && !refusal_names(a->owner))
			err = -EPROTO;
	}
	tell(p, err);
	return 0;
}

Test(claim, another_process_provider_is_refused_before_af_xdp)
{
	struct claim_args a;
	struct party o, c;

	args_init(&a, 1);
	start_owner(&o, &a);
	a.owner = o.pid;
	party_start(&c, xsk_contender, &a);
	cr_assert_eq(heard(&c), -EEXIST);
	cr_assert_eq(party_end(&c), 0);
	cr_assert_eq(party_end(&o), 0);
}

/* ---- scope ---- */

Test(claim, off_by_default_each_process_has_its_own_queues)
{
	struct claim_args a;
	struct party o;

	args_init(&a, 1);
	a.shared = false;
	a.domain[0] = '\0';
	start_owner(&o, &a);
	cr_assert_eq(try_bind(&a), 0);
	cr_assert_eq(party_end(&o), 0);
}

Test(claim, domains_do_not_see_each_others_claims)
{
	struct claim_args a, b;
	struct party o;

	args_init(&a, 1);
	args_init(&b, 1);
	strcat(b.domain, "-other");
	start_owner(&o, &a);
	cr_assert_eq(try_bind(&b), 0);
	a.owner = o.pid;
	cr_assert_eq(try_bind(&a), -EEXIST);
	cr_assert_eq(party_end(&o), 0);
}

/* Set the environment, then the default setting of a rig decides. */
static int env_contender(struct party *p, const struct claim_args *a)
{
	struct flow_rig_opts o = { .buf_size = 1 * MiB, .queue = a->queue };
	struct flow_rig r;
	uint32_t id;
	int err;

	setenv("DEVMEM_SWNIC_SHARED", a->domain, 1);
	err = flow_rig_up(&r, &o);
	if (!err) {
		err = bind_queue(&r, a->queue, &id);
		if (err == -EEXIST && !refusal_names(a->owner))
			err = -EPROTO;
	}
	tell(p, err);
	return 0;
}

static int env_bind(const struct claim_args *a)
{
	struct party p;
	int err;

	party_start(&p, env_contender, a);
	err = heard(&p);
	cr_assert_eq(party_end(&p), 0);
	return err;
}

/* A bad domain in the environment, met by a control-handle call that would shadow lo. */
static int env_bad_ctl(struct party *p, const struct claim_args *a)
{
	struct devmem_ctl *ctl;
	int err;

	setenv("DEVMEM_SWNIC_SHARED", "bad/domain", 1);
	err = devmem_ctl_open(&ctl);
	if (!err) {
		err = devmem_set_header_split(ctl, (int)if_nametoindex("lo"),
					      ETHTOOL_TCP_DATA_SPLIT_ENABLED, 0);
		if (!strstr(devmem_last_error(), "DEVMEM_SWNIC_SHARED"))
			err = -EPROTO;
		devmem_ctl_close(ctl);
	}
	tell(p, err);
	return 0;
}

Test(claim, bad_domain_in_the_environment_fails_the_shadow_naming_the_variable)
{
	struct claim_args a;
	struct party c;

	args_init(&a, 1);
	party_start(&c, env_bad_ctl, &a);
	cr_assert_eq(heard(&c), -ENODEV);
	cr_assert_eq(party_end(&c), 0);
}

Test(claim, environment_variable_turns_claims_on)
{
	struct claim_args a, env;
	struct party o;

	args_init(&a, 1);
	start_owner(&o, &a);
	env = a;
	env.owner = o.pid;
	cr_assert_eq(env_bind(&env), -EEXIST, "DEVMEM_SWNIC_SHARED=%s", env.domain);
	strcpy(env.domain, "0");
	cr_assert_eq(env_bind(&env), 0, "DEVMEM_SWNIC_SHARED=0 is off");
	strcpy(env.domain, "bad/domain");
	cr_assert_eq(env_bind(&env), -EINVAL, "a bad domain fails the software NIC");
	cr_assert_eq(party_end(&o), 0);
}

/* ---- the claim itself ---- */

/* Whether /proc/net/unix lists abstract name @name. */
static bool unix_name_listed(const char *name)
{
	char line[512], want[160];
	bool found = false;
	FILE *f = fopen("/proc/net/unix", "re");

	cr_assert_not_null(f, "/proc/net/unix: %s", strerror(errno));
	snprintf(want, sizeof(want), " @%s\n", name);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, want) != NULL;
	fclose(f);
	return found;
}

Test(claim, claim_is_an_abstract_name_that_goes_with_the_owner)
{
	struct claim_args a;
	struct party o;
	char name[160];

	args_init(&a, 3);
	snprintf(name, sizeof(name), "libdevmem/%s/rxq/%u/%u", a.domain, if_nametoindex("lo"),
		 a.queue);
	cr_assert_not(unix_name_listed(name));
	start_owner(&o, &a);
	cr_assert(unix_name_listed(name), "@%s while bound", name);
	cr_assert_eq(party_kill(&o), 100 + SIGKILL);
	cr_assert_not(unix_name_listed(name), "@%s after the owner died", name);
}

Test(claim, bad_domains_and_options_are_einval)
{
	char longname[DEVMEM_SWNIC_DOMAIN_MAX + 2];
	DEVMEM_OPTS(devmem_swnic_opts, o, .shared = DEVMEM_SWNIC_SHARED_OFF + 1);

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	cr_assert_eq(devmem_swnic_set_shared(true, longname), -EINVAL);
	cr_assert_eq(devmem_swnic_set_shared(true, "a b"), -EINVAL);
	cr_assert_eq(devmem_swnic_set_shared(true, "x/y"), -EINVAL);
	longname[DEVMEM_SWNIC_DOMAIN_MAX] = '\0';
	cr_assert_eq(devmem_swnic_set_shared(true, longname), 0, "%d bytes",
		     DEVMEM_SWNIC_DOMAIN_MAX);
	cr_assert_eq(devmem_swnic_set_shared(false, "ignored when off"), 0);

	/* the options are refused before anything is created */
	cr_assert_eq(devmem_swnic_create("lo", &o, NULL), -EINVAL);
	o.shared = DEVMEM_SWNIC_SHARED_OFF;
	o.shared_domain = "d";
	cr_assert_eq(devmem_swnic_create("lo", &o, NULL), -EINVAL, "a domain needs shared on");
	o.shared = DEVMEM_SWNIC_SHARED_ON;
	o.shared_domain = "d d";
	cr_assert_eq(devmem_swnic_create("lo", &o, NULL), -EINVAL);
}

Test(claim, nic_options_override_the_process_setting)
{
	DEVMEM_OPTS(devmem_swnic_opts, so, .shared = DEVMEM_SWNIC_SHARED_ON);
	struct devmem_queue_id q = { .id = 1, .type = NETDEV_QUEUE_TYPE_RX };
	struct claim_args a;
	struct devmem_ctl *ctl;
	struct dma_buf *buf;
	struct party o;
	int ifindex, fd;
	uint32_t id;

	args_init(&a, 1);
	start_owner(&o, &a);
	/* this process is not shared; its NIC is, by its options */
	cr_assert_eq(devmem_swnic_set_shared(false, NULL), 0);
	so.shared_domain = a.domain;
	cr_assert_eq(devmem_swnic_create("lo", &so, &ifindex), 0, "%s", devmem_last_error());
	cr_assert_eq(devmem_ctl_open(&ctl), 0);
	cr_assert_eq(devmem_set_header_split(ctl, ifindex, ETHTOOL_TCP_DATA_SPLIT_ENABLED, 0), 0);
	cr_assert_eq(devmem_host_buffer_create(1 * MiB, NULL, &buf), 0);
	fd = dma_buf_fd(buf, O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(devmem_bind_rx(ctl, ifindex, fd, &q, 1, NULL, &id), -EEXIST);
	cr_assert(strstr(devmem_last_error(), KERNEL_TEXT), "%s", devmem_last_error());
	cr_assert_eq(netdev_rxq_nr_claims(), 0);
	cr_assert_eq(party_end(&o), 0);
	cr_assert_eq(devmem_bind_rx(ctl, ifindex, fd, &q, 1, NULL, &id), 0, "%s",
		     devmem_last_error());
	cr_assert_eq(netdev_rxq_nr_claims(), 1);
	devmem_ctl_close(ctl);
	cr_assert_eq(netdev_rxq_nr_claims(), 0);
	close(fd);
	dma_buf_put(buf);
	cr_assert_eq(devmem_swnic_destroy(ifindex), 0);
	assert_all_gone();
}

/* ---- a queue that cannot leave its provider stays claimed ---- */

struct tnic_rig {
	struct test_nic *nic;
	struct dma_buf *buf;
	int fd;
	char name[160]; /* the claim of rx queue 1 */
};

static void tnic_up(struct tnic_rig *t)
{
	struct test_nic_opts o = { 0 };
	struct claim_args a;

	args_init(&a, 1);
	o.rxq_claim_domain = a.domain;
	cr_assert_eq(test_nic_create(&o, &t->nic), 0, "%s", devmem_last_error());
	cr_assert_eq(
		netdev_set_header_split(test_nic_netdev(t->nic), ETHTOOL_TCP_DATA_SPLIT_ENABLED, 0),
		0);
	cr_assert_eq(devmem_host_buffer_create(1 * MiB, NULL, &t->buf), 0);
	t->fd = dma_buf_fd(t->buf, O_CLOEXEC);
	cr_assert_geq(t->fd, 0);
	snprintf(t->name, sizeof(t->name), "libdevmem/%s/rxq/%d/1", a.domain,
		 test_nic_ifindex(t->nic));
}

static void tnic_down(struct tnic_rig *t)
{
	test_nic_destroy(t->nic);
	close(t->fd);
	dma_buf_put(t->buf);
	assert_all_gone();
	cr_assert_eq(netdev_rxq_nr_claims(), 0);
	cr_assert_not(unix_name_listed(t->name), "@%s after the device went", t->name);
}

static int tnic_bind(struct tnic_rig *t, struct net_devmem_dmabuf_binding **binding)
{
	struct devmem_queue_id q = { .id = 1, .type = NETDEV_QUEUE_TYPE_RX };

	return net_devmem_bind_rx(test_nic_netdev(t->nic), t->fd, &q, 1, PAGE_SHIFT, binding);
}

Test(claim, bind_whose_restart_fails_leaves_no_claim)
{
	struct test_nic_faults faults = { .mem_alloc = -ENOMEM };
	struct net_devmem_dmabuf_binding *binding = NULL;
	struct tnic_rig t;

	tnic_up(&t);
	test_nic_set_faults(t.nic, &faults);
	cr_assert_eq(tnic_bind(&t, &binding), -ENOMEM);
	cr_assert_eq(netdev_rxq_nr_claims(), 0);
	cr_assert_not(unix_name_listed(t.name));
	test_nic_set_faults(t.nic, &(struct test_nic_faults){ 0 });
	tnic_down(&t);
}

Test(claim, unbind_whose_restart_fails_keeps_the_claim_until_the_device_goes)
{
	struct test_nic_faults faults = { .mem_alloc = -ENOMEM };
	struct net_devmem_dmabuf_binding *binding = NULL;
	struct tnic_rig t;

	tnic_up(&t);
	cr_assert_eq(tnic_bind(&t, &binding), 0, "%s", devmem_last_error());
	cr_assert_eq(netdev_rxq_nr_claims(), 1);
	cr_assert(unix_name_listed(t.name), "@%s while bound", t.name);
	/* the queue cannot go back to host pages: it keeps serving from the buffer */
	test_nic_set_faults(t.nic, &faults);
	net_devmem_unbind_dmabuf(binding);
	cr_assert_eq(netdev_rxq_nr_claims(), 1);
	cr_assert(unix_name_listed(t.name), "@%s while the provider stays", t.name);
	test_nic_set_faults(t.nic, &(struct test_nic_faults){ 0 });
	tnic_down(&t);
}
