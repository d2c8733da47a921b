// SPDX-License-Identifier: MIT
/*
 * Fuzzing of the netlink codec's parsers, both directions: what a server
 * reads (netdev and ethtool requests), what a client reads (their replies,
 * the control family's, acks, errors and the ends of dumps).
 *
 * libFuzzer's entry point; tests/fuzz/fuzz_netlink_driver.c runs it bounded
 * without libFuzzer (the test suite, gcc builds), `make fuzz` longer.
 *
 * Beyond "no crash, no out-of-bounds read" (the suite runs it under
 * AddressSanitizer and UndefinedBehaviorSanitizer), every refusal must be
 * one of the kernel's errno for bad input, and what parses must survive a
 * round trip: the reply or error a server builds from it parses back to
 * the same values.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netlink/codec.h"

#define FUZZ_NETDEV 20
#define FUZZ_ETHTOOL 21

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static __attribute__((noreturn)) void broken(const char *what, int value)
{
	fprintf(stderr, "fuzz_netlink: %s (%d)\n", what, value);
	abort();
}

static void check_errno(const char *what, int err)
{
	if (err > 1 || (err < 0 && err != -EINVAL && err != -ERANGE && err != -EOPNOTSUPP &&
			err != -ENOENT && err != -EMSGSIZE))
		broken(what, err);
}

/* An error built from a refusal must parse back with the same errno and extack. */
static void error_roundtrip(const void *msg, int err, const struct nlc_extack *ext)
{
	static uint8_t out[65536 + 512];
	struct nlc_extack back;
	int n, e;

	n = nlc_error_reply(out, sizeof(out), msg, 1, err, ext, true);
	if (n < 0)
		broken("error reply", n);
	if (nlc_parse_status(out, (size_t)n, &e, &back) || e != err)
		broken("error reply does not parse back", e);
	if (back.has_msg != ext->has_msg || strcmp(back.msg, ext->msg) ||
	    back.has_off != ext->has_off || back.off != ext->off ||
	    back.has_miss_type != ext->has_miss_type || back.miss_type != ext->miss_type ||
	    back.has_policy != ext->has_policy)
		broken("extack changed on the way back", err);
}

static void requests(const uint8_t *msg, size_t size)
{
	static struct nlc_request req;
	struct nlc_extack ext;
	int err;

	err = nlc_netdev_parse_req(msg, size, FUZZ_NETDEV, &req, &ext);
	check_errno("netdev request", err);
	if (err < 0 && err != -ENOENT && size >= NLMSG_HDRLEN)
		error_roundtrip(msg, err, &ext);
	if (!err && req.cmd == NETDEV_CMD_BIND_RX && req.nr_queues > NLC_MAX_QUEUES)
		broken("queue count", (int)req.nr_queues);
	err = nlc_ethtool_parse_req(msg, size, FUZZ_ETHTOOL, &req, &ext);
	check_errno("ethtool request", err);
	if (!err && nlc_has(&req.attrs, ETHTOOL_A_FEATURES_WANTED) &&
	    req.cmd == ETHTOOL_MSG_FEATURES_SET)
		(void)nlc_bitset_test(req.attrs.tb[ETHTOOL_A_FEATURES_WANTED], "rx-gro");
}

/* A reply that parses, rebuilt by the server side, parses to the same values. */
static void netdev_reply_roundtrip(uint8_t cmd, const struct nlc_obj *o)
{
	static uint8_t out[65536 + 512];
	const struct nlc_policy *policy;
	unsigned int maxtype;
	struct nlc_obj back;
	int n;

	n = nlc_netdev_reply(out, sizeof(out), FUZZ_NETDEV, 1, 1, cmd, false, o);
	if (n == -EMSGSIZE)
		return;
	if (n < 0 || nlc_netdev_parse_reply(out, (size_t)n, FUZZ_NETDEV, cmd, &back, NULL))
		broken("netdev reply does not parse back", cmd);
	policy = nlc_netdev_reply_policy(cmd, &maxtype);
	for (unsigned int t = 1; t <= maxtype; t++) {
		if (nlc_has(o, t) != nlc_has(&back, t))
			broken("attribute lost on the way back", (int)t);
		if (nlc_has(o, t) && policy[t].type != NLC_NESTED && o->v[t] != back.v[t])
			broken("value changed on the way back", (int)t);
	}
}

static void replies(const uint8_t *msg, size_t size)
{
	static const uint8_t netdev_cmds[] = {
		NETDEV_CMD_DEV_GET,   NETDEV_CMD_PAGE_POOL_GET, NETDEV_CMD_PAGE_POOL_STATS_GET,
		NETDEV_CMD_QUEUE_GET, NETDEV_CMD_NAPI_GET,	NETDEV_CMD_QSTATS_GET,
		NETDEV_CMD_BIND_RX
	};
	static const uint8_t ethtool_cmds[] = { ETHTOOL_MSG_CHANNELS_GET_REPLY,
						ETHTOOL_MSG_RINGS_GET_REPLY,
						ETHTOOL_MSG_FEATURES_GET_REPLY,
						ETHTOOL_MSG_RSS_GET_REPLY };
	static struct nlc_family fam;
	struct nlc_extack ext;
	struct nlc_obj o;
	int err, e;

	for (size_t i = 0; i < sizeof(netdev_cmds); i++) {
		err = nlc_netdev_parse_reply(msg, size, FUZZ_NETDEV, netdev_cmds[i], &o, &ext);
		check_errno("netdev reply", err);
		if (!err)
			netdev_reply_roundtrip(netdev_cmds[i], &o);
	}
	for (size_t i = 0; i < sizeof(ethtool_cmds); i++) {
		err = nlc_ethtool_parse_reply(msg, size, FUZZ_ETHTOOL, ethtool_cmds[i], &o, &ext);
		check_errno("ethtool reply", err);
		if (err || ethtool_cmds[i] != ETHTOOL_MSG_FEATURES_GET_REPLY)
			continue;
		for (unsigned int t = ETHTOOL_A_FEATURES_HW; t <= ETHTOOL_A_FEATURES_NOCHANGE; t++)
			if (nlc_has(&o, t)) {
				e = nlc_bitset_test(o.tb[t], "ntuple-filters");
				if (e > 1 || (e < 0 && e != -EINVAL && e != -ENOENT))
					broken("bitset", e);
			}
	}
	err = nlc_parse_status(msg, size, &e, &ext);
	check_errno("status", err);
	if (!err && (e > 0 || e < -4095))
		broken("status errno", e);
	err = nlc_ctrl_parse_family(msg, size, &fam, &ext);
	check_errno("family", err);
	if (!err && (fam.nr_ops > NLC_MAX_OPS || fam.nr_groups > NLC_MAX_GROUPS))
		broken("family lists", (int)fam.nr_ops);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* netlink messages are 4-byte aligned in every real buffer */
	static uint32_t aligned[65536 / 4];

	if (size > sizeof(aligned))
		size = sizeof(aligned);
	memcpy(aligned, data, size);
	requests((const uint8_t *)aligned, size);
	replies((const uint8_t *)aligned, size);
	return 0;
}
