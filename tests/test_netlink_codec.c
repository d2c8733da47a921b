// SPDX-License-Identifier: MIT
/*
 * The netlink codec without sockets: requests built byte for byte as the
 * families' specs define them, the kernel's attribute validation (errno and
 * extack) on malformed input, and both directions checked against messages
 * recorded from the kernel.
 */
#include <errno.h>
#include <string.h>

#include "netlink/codec.h"
#include "fuzz/netlink_corpus.h"
#include "harness.h"

#define FAM 20 /* the netdev family id of the recordings */
#define ETH 21

static uint8_t buf[8192];
static uint8_t out[8192];

/* Little-endian helpers to write expected bytes by hand. */
static size_t put16(uint8_t *p, size_t o, uint16_t v)
{
	p[o] = v & 0xff;
	p[o + 1] = v >> 8;
	return o + 2;
}

static size_t put32(uint8_t *p, size_t o, uint32_t v)
{
	o = put16(p, o, v & 0xffff);
	return put16(p, o, v >> 16);
}

static size_t nlmsghdr(uint8_t *p, uint32_t len, uint16_t type, uint16_t flags, uint32_t seq)
{
	size_t o = put32(p, 0, len);

	o = put16(p, o, type);
	o = put16(p, o, flags);
	o = put32(p, o, seq);
	return put32(p, o, 0); /* port id: the kernel fills it in */
}

static size_t attr_u32(uint8_t *p, size_t o, uint16_t type, uint32_t v)
{
	o = put16(p, o, 8);
	o = put16(p, o, type);
	return put32(p, o, v);
}

Test(codec, bind_rx_request_matches_the_spec_byte_for_byte)
{
	/*
	 * netdev.yaml, bind-rx: a do of attribute set "dmabuf" with ifindex (u32),
	 * fd (u32) and queues (nest, multi-attr, set "queue-id": id u32, type u32).
	 */
	struct nlc_queue_id q[2] = { { .id = 2, .type = NETDEV_QUEUE_TYPE_RX },
				     { .id = 3, .type = NETDEV_QUEUE_TYPE_RX } };
	uint8_t want[128];
	size_t o;
	int len;

	memset(want, 0, sizeof(want));
	o = nlmsghdr(want, 16 + 4 + 8 + 8 + 2 * 20, FAM, NLM_F_REQUEST | NLM_F_ACK, 7);
	want[o++] = NETDEV_CMD_BIND_RX; /* genlmsghdr: cmd 13, version 1, reserved */
	want[o++] = 1;
	o = put16(want, o, 0);
	o = attr_u32(want, o, 1, 4); /* ifindex */
	o = attr_u32(want, o, 3, 9); /* fd */
	for (int i = 0; i < 2; i++) {
		o = put16(want, o, 20);
		o = put16(want, o, 2 | NLA_F_NESTED); /* queues */
		o = attr_u32(want, o, 1, q[i].id);
		o = attr_u32(want, o, 3, 0); /* type: rx */
	}
	len = nlc_netdev_bind_rx_req(buf, sizeof(buf), FAM, 7, 4, 9, q, 2, 0);
	cr_assert_eq(len, (int)o);
	cr_assert_eq(memcmp(buf, want, o), 0);
}

Test(codec, bind_rx_page_size_is_attribute_five)
{
	struct nlc_queue_id q = { .id = 0, .type = NETDEV_QUEUE_TYPE_RX };
	int len = nlc_netdev_bind_rx_req(buf, sizeof(buf), FAM, 1, 4, 9, &q, 1, 65536);
	uint8_t want[8];

	cr_assert_eq(len, 16 + 4 + 8 + 8 + 20 + 8);
	attr_u32(want, 0, 5, 65536);
	cr_assert_eq(memcmp(buf + len - 8, want, 8), 0);
}

Test(codec, bind_tx_request_matches_the_spec_byte_for_byte)
{
	uint8_t want[64];
	size_t o;

	memset(want, 0, sizeof(want));
	o = nlmsghdr(want, 36, FAM, NLM_F_REQUEST | NLM_F_ACK, 8);
	want[o++] = NETDEV_CMD_BIND_TX;
	want[o++] = 1;
	o = put16(want, o, 0);
	o = attr_u32(want, o, 1, 5);
	o = attr_u32(want, o, 3, 11);
	cr_assert_eq(nlc_netdev_bind_tx_req(buf, sizeof(buf), FAM, 8, 5, 11), (int)o);
	cr_assert_eq(memcmp(buf, want, o), 0);
}

Test(codec, getfamily_request_matches_the_spec_byte_for_byte)
{
	uint8_t want[64];
	size_t o;

	memset(want, 0, sizeof(want));
	o = nlmsghdr(want, 32, GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, 3);
	want[o++] = CTRL_CMD_GETFAMILY;
	want[o++] = 1;
	o = put16(want, o, 0);
	o = put16(want, o, 11); /* "netdev" and its NUL, padded to 12 */
	o = put16(want, o, CTRL_ATTR_FAMILY_NAME);
	memcpy(want + o, "netdev", 7);
	o += 8;
	cr_assert_eq(nlc_ctrl_getfamily_req(buf, sizeof(buf), 3, "netdev"), (int)o);
	cr_assert_eq(memcmp(buf, want, o), 0);
}

Test(codec, bind_rx_request_roundtrips_through_the_server_parser)
{
	struct nlc_queue_id q[3] = { { 1, 0 }, { 5, 0 }, { 2, 0 } };
	static struct nlc_request req;
	struct nlc_extack ext;
	int len;

	len = nlc_netdev_bind_rx_req(buf, sizeof(buf), FAM, 9, 3, 17, q, 3, 8192);
	cr_assert_gt(len, 0);
	cr_assert_eq(nlc_netdev_parse_req(buf, (size_t)len, FAM, &req, &ext), 0);
	cr_assert_eq(req.cmd, NETDEV_CMD_BIND_RX);
	cr_assert_not(req.dump);
	cr_assert_eq(req.seq, 9);
	cr_assert_eq(req.attrs.v[NETDEV_A_DMABUF_IFINDEX], 3);
	cr_assert_eq(req.attrs.v[NETDEV_A_DMABUF_FD], 17);
	cr_assert_eq(req.attrs.v[NETDEV_A_DMABUF_RX_PAGE_SIZE], 8192);
	cr_assert_eq(req.nr_queues, 3);
	cr_assert_eq(req.queues[1].id, 5);
	cr_assert_eq(req.queues[2].id, 2);
}

Test(codec, oversized_request_is_emsgsize)
{
	static struct nlc_queue_id q[100];

	cr_assert_eq(nlc_netdev_bind_rx_req(buf, 256, FAM, 1, 1, 1, q, 100, 0), -EMSGSIZE);
}

/* ---- against recorded kernel messages ---- */

Test(codec, recorded_family_reply_parses)
{
	struct nlc_family fam;
	bool bind_rx = false, mgmt = false, pp = false;

	cr_assert_eq(
		nlc_ctrl_parse_family(rec_netdev_family, sizeof(rec_netdev_family), &fam, NULL), 0);
	cr_assert_eq(fam.id, REC_NETDEV_FAMILY);
	cr_assert_str_eq(fam.name, "netdev");
	cr_assert_eq(fam.version, 1);
	for (unsigned int i = 0; i < fam.nr_ops; i++)
		if (fam.ops[i].cmd == NETDEV_CMD_BIND_RX)
			bind_rx = (fam.ops[i].flags & GENL_CMD_CAP_DO) &&
				  !(fam.ops[i].flags & GENL_CMD_CAP_DUMP);
	for (unsigned int i = 0; i < fam.nr_groups; i++) {
		mgmt |= !strcmp(fam.groups[i].name, NETDEV_MCGRP_MGMT);
		pp |= !strcmp(fam.groups[i].name, NETDEV_MCGRP_PAGE_POOL);
	}
	cr_assert(bind_rx);
	cr_assert(mgmt && pp);
}

Test(codec, family_reply_roundtrips)
{
	struct nlc_family fam, got;
	int len;

	cr_assert_eq(
		nlc_ctrl_parse_family(rec_netdev_family, sizeof(rec_netdev_family), &fam, NULL), 0);
	len = nlc_ctrl_family_reply(buf, sizeof(buf), 1, 2, &fam);
	cr_assert_gt(len, 0);
	cr_assert_eq(nlc_ctrl_parse_family(buf, (size_t)len, &got, NULL), 0);
	cr_assert_eq(memcmp(&fam, &got, sizeof(fam)), 0);
}

Test(codec, recorded_queue_reply_parses)
{
	struct nlc_obj o;

	cr_assert_eq(
		nlc_netdev_parse_reply(rec_queue_get_lo, 0x2c, FAM, NETDEV_CMD_QUEUE_GET, &o, NULL),
		0);
	cr_assert(nlc_has(&o, NETDEV_A_QUEUE_ID) && nlc_has(&o, NETDEV_A_QUEUE_TYPE));
	cr_assert_eq(o.v[NETDEV_A_QUEUE_IFINDEX], 1);
	cr_assert_eq(o.v[NETDEV_A_QUEUE_TYPE], NETDEV_QUEUE_TYPE_RX);
}

Test(codec, queue_reply_is_byte_identical_to_the_kernels)
{
	struct nlc_obj o = { 0 };

	o.present =
		1u << NETDEV_A_QUEUE_ID | 1u << NETDEV_A_QUEUE_TYPE | 1u << NETDEV_A_QUEUE_IFINDEX;
	o.v[NETDEV_A_QUEUE_IFINDEX] = 1;
	cr_assert_eq(nlc_netdev_reply(out, sizeof(out), FAM, 2, REC_PORTID, NETDEV_CMD_QUEUE_GET,
				      false, &o),
		     0x2c);
	cr_assert_eq(memcmp(out, rec_queue_get_lo, 0x2c), 0);
}

Test(codec, recorded_dev_dump_parses_every_part)
{
	const struct nlmsghdr *nlh = (const void *)rec_dev_dump;
	size_t rem = sizeof(rec_dev_dump);
	int devs = 0, err = 1;
	struct nlc_obj o;

	while (rem >= NLMSG_HDRLEN && nlh->nlmsg_len <= rem) {
		if (nlh->nlmsg_type == NLMSG_DONE) {
			cr_assert_eq(nlc_parse_status(nlh, rem, &err, NULL), 0);
			break;
		}
		/*
		 * v6.18's netdev dump parts are put with genlmsg_iput(): no
		 * NLM_F_MULTI. A client must end a dump on NLMSG_DONE only.
		 */
		cr_assert_eq(nlh->nlmsg_flags, 0);
		cr_assert_eq(nlc_netdev_parse_reply(nlh, rem, FAM, NETDEV_CMD_DEV_GET, &o, NULL),
			     0);
		cr_assert(nlc_has(&o, NETDEV_A_DEV_IFINDEX));
		devs++;
		rem -= NLMSG_ALIGN(nlh->nlmsg_len);
		nlh = (const void *)((const uint8_t *)nlh + NLMSG_ALIGN(nlh->nlmsg_len));
	}
	cr_assert_gt(devs, 0);
	cr_assert_eq(err, 0);
}

Test(codec, recorded_range_error_parses_with_its_extack)
{
	struct nlc_extack ext;
	int err;

	cr_assert_eq(nlc_parse_status(rec_dev_get_zero, sizeof(rec_dev_get_zero), &err, &ext), 0);
	cr_assert_eq(err, -ERANGE);
	cr_assert_str_eq(ext.msg, "integer out of range");
	cr_assert(ext.has_off && ext.off == 20);
	cr_assert(ext.has_policy);
}

/* The server's answer to a request built like the recorded one must be the kernel's bytes. */
static void expect_kernel_error(const uint8_t *rec, size_t rec_len, int len)
{
	static struct nlc_request req;
	struct nlc_extack ext;
	int err, n;

	cr_assert_gt(len, 0);
	err = nlc_netdev_parse_req(buf, (size_t)len, FAM, &req, &ext);
	cr_assert_lt(err, 0);
	n = nlc_error_reply(out, sizeof(out), (const struct nlmsghdr *)buf, REC_PORTID, err, &ext,
			    true);
	cr_assert_eq(n, (int)rec_len);
	cr_assert_eq(memcmp(out, rec, rec_len), 0);
}

Test(codec, range_error_reply_is_byte_identical_to_the_kernels)
{
	struct nlc_obj f = { 0 };

	f.present = 1u << NETDEV_A_DEV_IFINDEX;
	expect_kernel_error(
		rec_dev_get_zero, sizeof(rec_dev_get_zero),
		nlc_netdev_get_req(buf, sizeof(buf), FAM, 3, NETDEV_CMD_DEV_GET, false, &f));
}

Test(codec, missing_attribute_error_is_byte_identical_to_the_kernels)
{
	expect_kernel_error(rec_bind_rx_noqueues, sizeof(rec_bind_rx_noqueues),
			    nlc_netdev_bind_rx_req(buf, sizeof(buf), FAM, 5, 1, 3, NULL, 0, 0));
}

Test(codec, handler_error_reply_is_byte_identical_to_the_kernels)
{
	/* bind-rx on lo: the device check refuses it, blaming the ifindex attribute */
	struct nlc_queue_id q = { 0, 0 };
	struct nlc_extack ext = { .off = 20, .has_off = true };
	int len = nlc_netdev_bind_rx_req(buf, sizeof(buf), FAM, 4, 1, 3, &q, 1, 0);

	cr_assert_gt(len, 0);
	cr_assert_eq(nlc_error_reply(out, sizeof(out), (const void *)buf, REC_PORTID, -EOPNOTSUPP,
				     &ext, true),
		     (int)sizeof(rec_bind_rx_lo));
	cr_assert_eq(memcmp(out, rec_bind_rx_lo, sizeof(rec_bind_rx_lo)), 0);
}

Test(codec, dump_error_in_done_is_byte_identical_to_the_kernels)
{
	struct nlc_extack ext = { .off = 20, .has_off = true }, got;
	int err;

	cr_assert_eq(nlc_done_reply(out, sizeof(out), 6, REC_PORTID, -EOPNOTSUPP, &ext),
		     (int)sizeof(rec_qstats_lo));
	cr_assert_eq(memcmp(out, rec_qstats_lo, sizeof(rec_qstats_lo)), 0);
	cr_assert_eq(nlc_parse_status(rec_qstats_lo, sizeof(rec_qstats_lo), &err, &got), 0);
	cr_assert_eq(err, -EOPNOTSUPP);
	cr_assert(got.has_off && got.off == 20);
}

Test(codec, error_echoes_the_request_unless_capped)
{
	struct nlc_extack ext;
	int len, n, err;

	len = nlc_netdev_bind_tx_req(buf, sizeof(buf), FAM, 1, 1, 2);
	n = nlc_error_reply(out, sizeof(out), (const void *)buf, 1, -EINVAL, NULL, false);
	cr_assert_eq(n, NLMSG_HDRLEN + 4 + len);
	cr_assert_not(((struct nlmsghdr *)out)->nlmsg_flags & NLM_F_CAPPED);
	cr_assert_eq(nlc_parse_status(out, (size_t)n, &err, &ext), 0);
	cr_assert_eq(err, -EINVAL);
	/* an ack is always capped */
	n = nlc_error_reply(out, sizeof(out), (const void *)buf, 1, 0, NULL, false);
	cr_assert_eq(n, NLMSG_HDRLEN + 4 + NLMSG_HDRLEN);
	cr_assert(((struct nlmsghdr *)out)->nlmsg_flags & NLM_F_CAPPED);
}

Test(codec, truncated_status_message_is_einval)
{
	int err;

	cr_assert_eq(nlc_parse_status(rec_bind_rx_lo, 30, &err, NULL), -EINVAL);
	memcpy(out, rec_bind_rx_lo, sizeof(rec_bind_rx_lo));
	((struct nlmsghdr *)out)->nlmsg_len = 30; /* shorter than an nlmsgerr */
	cr_assert_eq(nlc_parse_status(out, sizeof(rec_bind_rx_lo), &err, NULL), -EINVAL);
}

/* ---- malformed input, as lib/nlattr.c and genetlink refuse it ---- */

/* A bind-tx request whose attribute stream is @attrs. */
static size_t raw_req(uint8_t cmd, uint16_t flags, const uint8_t *attrs, size_t alen)
{
	memset(buf, 0, sizeof(buf));
	nlmsghdr(buf, (uint32_t)(20 + alen), FAM, flags, 1);
	buf[16] = cmd;
	buf[17] = 1;
	if (alen)
		memcpy(buf + 20, attrs, alen);
	return 20 + alen;
}

static int parse_raw(uint8_t cmd, const uint8_t *attrs, size_t alen, struct nlc_extack *ext)
{
	static struct nlc_request req;
	size_t len = raw_req(cmd, NLM_F_REQUEST | NLM_F_ACK, attrs, alen);

	return nlc_netdev_parse_req(buf, len, FAM, &req, ext);
}

Test(codec, attribute_running_past_the_message_is_bytes_leftover)
{
	uint8_t a[16];
	struct nlc_extack ext;

	attr_u32(a, 0, 1, 1);
	attr_u32(a, 8, 3, 1);
	a[8] = 12; /* the fd attribute claims 12 bytes, 8 remain */
	cr_assert_eq(parse_raw(NETDEV_CMD_BIND_TX, a, 16, &ext), -EINVAL);
	cr_assert_str_eq(ext.msg, "bytes leftover after parsing attributes");
	cr_assert_not(ext.has_off);
}

Test(codec, attribute_shorter_than_its_header_is_bytes_leftover)
{
	uint8_t a[8];
	struct nlc_extack ext;

	attr_u32(a, 0, 1, 1);
	a[0] = 2;
	cr_assert_eq(parse_raw(NETDEV_CMD_BIND_TX, a, 8, &ext), -EINVAL);
	cr_assert_str_eq(ext.msg, "bytes leftover after parsing attributes");
}

Test(codec, u32_of_the_wrong_length_is_einval_when_strict)
{
	uint8_t a[12] = { 0 };
	struct nlc_extack ext;

	put16(a, 0, 6); /* a u32 ifindex of 2 bytes */
	put16(a, 2, 1);
	a[4] = 1; /* padded to 8 bytes, the end of the stream */
	cr_assert_eq(parse_raw(NETDEV_CMD_BIND_TX, a, 8, &ext), -EINVAL);
	cr_assert_str_eq(ext.msg, "invalid attribute length");
	cr_assert_eq(ext.off, 20);
	cr_assert(ext.has_policy);
}

Test(codec, short_u32_in_a_reply_is_erange_when_liberal)
{
	struct nlc_obj o;
	struct nlc_extack ext;
	int len;

	len = nlc_netdev_bind_tx_req(buf, sizeof(buf), FAM, 1, 1, 2);
	buf[16] = NETDEV_CMD_QUEUE_GET;
	put16(buf, 20, 6); /* the first attribute (queue id) shrinks to 2 bytes */
	cr_assert_eq(nlc_netdev_parse_reply(buf, (size_t)len, FAM, NETDEV_CMD_QUEUE_GET, &o, &ext),
		     -EINVAL);
	/* liberal validation (no exact-length rule): below the minimum is ERANGE */
	cr_assert_eq(
		nlc_parse_attrs(&o, buf + 20, (size_t)len - 20,
				nlc_netdev_reply_policy(NETDEV_CMD_QUEUE_GET, &(unsigned int){ 0 }),
				NETDEV_A_QUEUE_XSK, NLC_VALIDATE_LIBERAL, buf, &ext),
		-ERANGE);
	cr_assert_str_eq(ext.msg, "Attribute failed policy validation");
}

Test(codec, unknown_attribute_is_einval_at_its_offset)
{
	uint8_t a[16];
	struct nlc_extack ext;

	attr_u32(a, 0, 1, 1);
	attr_u32(a, 8, 4, 1); /* dmabuf id: not in bind-tx's policy (maxattr fd) */
	cr_assert_eq(parse_raw(NETDEV_CMD_BIND_TX, a, 16, &ext), -EINVAL);
	cr_assert_str_eq(ext.msg, "Unknown attribute type");
	cr_assert_eq(ext.off, 28);
	cr_assert_not(ext.has_policy);
}

Test(codec, nest_without_nla_f_nested_is_einval)
{
	uint8_t a[40];
	struct nlc_extack ext;
	size_t o = attr_u32(a, 0, 1, 1);

	o = attr_u32(a, o, 3, 1);
	o = put16(a, o, 12);
	o = put16(a, o, NETDEV_A_DMABUF_QUEUES); /* no NLA_F_NESTED */
	o = attr_u32(a, o, 1, 0);
	cr_assert_eq(parse_raw(NETDEV_CMD_BIND_RX, a, o, &ext), -EINVAL);
	cr_assert_str_eq(ext.msg, "NLA_F_NESTED is missing");
	cr_assert_eq(ext.off, 36);
}

Test(codec, nla_f_nested_on_a_scalar_is_einval)
{
	uint8_t a[16];
	struct nlc_extack ext;

	attr_u32(a, 0, 1 | NLA_F_NESTED, 1);
	attr_u32(a, 8, 3, 1);
	cr_assert_eq(parse_raw(NETDEV_CMD_BIND_TX, a, 16, &ext), -EINVAL);
	cr_assert_str_eq(ext.msg, "NLA_F_NESTED not expected");
}

Test(codec, queue_without_type_is_a_missing_attribute_of_its_nest)
{
	struct nlc_queue_id q = { 0, 0 };
	struct nlc_extack ext;
	static struct nlc_request req;
	int len = nlc_netdev_bind_rx_req(buf, sizeof(buf), FAM, 1, 1, 1, &q, 1, 0);

	/* turn the nest's type attribute into an unknown-free padding: shorten the nest */
	put16(buf, 36, 12);
	put32(buf, 0, 48);
	cr_assert_eq(nlc_netdev_parse_req(buf, 48, FAM, &req, &ext), -EINVAL);
	(void)len;
	cr_assert(ext.has_miss_type && ext.miss_type == NETDEV_A_QUEUE_TYPE);
	cr_assert(ext.has_miss_nest && ext.miss_nest == 36);
}

Test(codec, tx_queue_in_bind_rx_is_einval_at_its_type)
{
	struct nlc_queue_id q = { 0, NETDEV_QUEUE_TYPE_TX };
	static struct nlc_request req;
	struct nlc_extack ext;
	int len = nlc_netdev_bind_rx_req(buf, sizeof(buf), FAM, 1, 1, 1, &q, 1, 0);

	cr_assert_eq(nlc_netdev_parse_req(buf, (size_t)len, FAM, &req, &ext), -EINVAL);
	cr_assert(ext.has_off && ext.off == 48); /* the nest at 36, its type at 36 + 4 + 8 */
	cr_assert_not(ext.has_msg);
}

Test(codec, queue_type_above_tx_is_erange)
{
	struct nlc_queue_id q = { 0, 2 };
	static struct nlc_request req;
	struct nlc_extack ext;
	int len = nlc_netdev_bind_rx_req(buf, sizeof(buf), FAM, 1, 1, 1, &q, 1, 0);

	cr_assert_eq(nlc_netdev_parse_req(buf, (size_t)len, FAM, &req, &ext), -ERANGE);
	cr_assert_str_eq(ext.msg, "integer out of range");
}

Test(codec, rx_page_size_must_be_a_power_of_two)
{
	struct nlc_queue_id q = { 0, 0 };
	static struct nlc_request req;
	struct nlc_extack ext;
	int len = nlc_netdev_bind_rx_req(buf, sizeof(buf), FAM, 1, 1, 1, &q, 1, 12288);

	cr_assert_eq(nlc_netdev_parse_req(buf, (size_t)len, FAM, &req, &ext), -EINVAL);
	cr_assert_str_eq(ext.msg, "rx-page-size must be a power of 2");
	cr_assert_eq(ext.off, (uint32_t)len - 8);
}

Test(codec, rx_page_size_below_page_size_is_erange)
{
	struct nlc_queue_id q = { 0, 0 };
	static struct nlc_request req;
	struct nlc_extack ext;
	int len = nlc_netdev_bind_rx_req(buf, sizeof(buf), FAM, 1, 1, 1, &q, 1, 2048);

	cr_assert_eq(nlc_netdev_parse_req(buf, (size_t)len, FAM, &req, &ext), -ERANGE);
	cr_assert_str_eq(ext.msg, "integer out of range");
}

Test(codec, unknown_command_is_eopnotsupp)
{
	cr_assert_eq(parse_raw(99, NULL, 0, NULL), -EOPNOTSUPP);
}

Test(codec, dump_of_a_do_only_command_is_eopnotsupp)
{
	static struct nlc_request req;
	size_t len = raw_req(NETDEV_CMD_BIND_RX, NLM_F_REQUEST | NLM_F_DUMP, NULL, 0);

	cr_assert_eq(nlc_netdev_parse_req(buf, len, FAM, &req, NULL), -EOPNOTSUPP);
}

Test(codec, do_of_a_dump_only_command_is_eopnotsupp)
{
	cr_assert_eq(parse_raw(NETDEV_CMD_QSTATS_GET, NULL, 0, NULL), -EOPNOTSUPP);
}

Test(codec, message_of_another_family_is_enoent)
{
	static struct nlc_request req;
	size_t len = raw_req(NETDEV_CMD_DEV_GET, NLM_F_REQUEST, NULL, 0);

	cr_assert_eq(nlc_netdev_parse_req(buf, len, FAM + 1, &req, NULL), -ENOENT);
}

Test(codec, truncated_headers_are_einval)
{
	static struct nlc_request req;
	size_t len = raw_req(NETDEV_CMD_DEV_GET, NLM_F_REQUEST, NULL, 0);

	put32(buf, 0, 18); /* shorter than nlmsghdr + genlmsghdr */
	cr_assert_eq(nlc_netdev_parse_req(buf, len, FAM, &req, NULL), -EINVAL);
	put32(buf, 0, 40); /* longer than what was received */
	cr_assert_eq(nlc_netdev_parse_req(buf, len, FAM, &req, NULL), -EINVAL);
	cr_assert_eq(nlc_netdev_parse_req(buf, 10, FAM, &req, NULL), -EINVAL);
}

Test(codec, message_without_request_flag_is_not_run)
{
	static struct nlc_request req;
	size_t len = raw_req(NETDEV_CMD_DEV_GET, NLM_F_ACK, NULL, 0);

	cr_assert_eq(nlc_netdev_parse_req(buf, len, FAM, &req, NULL), 1);
}

Test(codec, dump_without_a_policy_ignores_its_attributes)
{
	static struct nlc_request req;
	uint8_t a[8];
	size_t len;

	attr_u32(a, 0, 7, 1);
	len = raw_req(NETDEV_CMD_DEV_GET, NLM_F_REQUEST | NLM_F_DUMP, a, 8);
	cr_assert_eq(nlc_netdev_parse_req(buf, len, FAM, &req, NULL), 0);
	cr_assert(req.dump);
	cr_assert_eq(req.attrs.present, 0);
}

Test(codec, required_attribute_of_a_do_is_reported_missing)
{
	struct nlc_extack ext;

	cr_assert_eq(parse_raw(NETDEV_CMD_QUEUE_GET, NULL, 0, &ext), -EINVAL);
	cr_assert(ext.has_miss_type && ext.miss_type == NETDEV_A_QUEUE_ID);
	cr_assert_not(ext.has_miss_nest);
}

Test(codec, uint_takes_four_or_eight_bytes)
{
	uint8_t a[12] = { 0 };
	struct nlc_extack ext;

	put16(a, 0, 12); /* page-pool id as 8 bytes */
	put16(a, 2, NETDEV_A_PAGE_POOL_ID);
	a[4] = 7;
	cr_assert_eq(parse_raw(NETDEV_CMD_PAGE_POOL_GET, a, 12, &ext), 0);
	put16(a, 0, 6); /* as 2 bytes */
	cr_assert_eq(parse_raw(NETDEV_CMD_PAGE_POOL_GET, a, 8, &ext), -EINVAL);
	cr_assert_str_eq(ext.msg, "invalid attribute length");
}

Test(codec, page_pool_id_above_u32_is_erange)
{
	uint8_t a[12] = { 0 };
	struct nlc_extack ext;

	put16(a, 0, 12);
	put16(a, 2, NETDEV_A_PAGE_POOL_ID);
	a[8] = 1; /* 1 << 32 */
	cr_assert_eq(parse_raw(NETDEV_CMD_PAGE_POOL_GET, a, 12, &ext), -ERANGE);
	cr_assert_str_eq(ext.msg, "integer out of range");
}

Test(codec, qstats_scope_reserved_bit_is_einval)
{
	static struct nlc_request req;
	uint8_t a[8];
	struct nlc_extack ext;
	size_t len;

	attr_u32(a, 0, NETDEV_A_QSTATS_SCOPE, 2);
	len = raw_req(NETDEV_CMD_QSTATS_GET, NLM_F_REQUEST | NLM_F_DUMP, a, 8);
	cr_assert_eq(nlc_netdev_parse_req(buf, len, FAM, &req, &ext), -EINVAL);
	cr_assert_str_eq(ext.msg, "reserved bit set");
	/* nla_validate_mask() names the attribute but not its policy */
	cr_assert(ext.has_off);
	cr_assert_not(ext.has_policy);
}

/* ---- ethtool ---- */

static int parse_eth(size_t len, struct nlc_extack *ext)
{
	static struct nlc_request req;

	return nlc_ethtool_parse_req(buf, len, ETH, &req, ext);
}

Test(codec, ethtool_request_without_header_is_einval)
{
	struct nlc_extack ext;
	size_t len = raw_req(ETHTOOL_MSG_CHANNELS_GET, NLM_F_REQUEST, NULL, 0);

	((struct nlmsghdr *)buf)->nlmsg_type = ETH;
	cr_assert_eq(parse_eth(len, &ext), -EINVAL);
	cr_assert(ext.has_miss_type && ext.miss_type == ETHTOOL_A_CHANNELS_HEADER);
	cr_assert_not(ext.has_msg);
}

Test(codec, ethtool_header_without_a_device_is_einval)
{
	uint8_t a[4];
	struct nlc_extack ext;
	size_t len;

	put16(a, 0, 4); /* an empty header nest */
	put16(a, 2, 1 | NLA_F_NESTED);
	len = raw_req(ETHTOOL_MSG_RINGS_GET, NLM_F_REQUEST, a, 4);
	((struct nlmsghdr *)buf)->nlmsg_type = ETH;
	cr_assert_eq(parse_eth(len, &ext), -EINVAL);
	cr_assert_str_eq(ext.msg, "neither ifindex nor name specified");
}

Test(codec, ethtool_header_flags_reserved_bit_is_einval)
{
	struct nlc_extack ext;
	struct nlc_msg m;

	cr_assert_eq(nlc_ethtool_start(&m, buf, sizeof(buf), ETH, 1, ETHTOOL_MSG_RINGS_GET, 1, 8),
		     0);
	cr_assert_eq(parse_eth((size_t)nlc_msg_end(&m), &ext), -EINVAL);
	cr_assert_str_eq(ext.msg, "reserved bit set");
	cr_assert_eq(ext.off, 32); /* the flags, after the header nest and its ifindex */
}

Test(codec, ethtool_device_name_without_nul_is_einval)
{
	struct nlc_extack ext;
	struct nlc_msg m;
	struct nlattr *hdr;

	nlc_genl_start(&m, buf, sizeof(buf), ETH, NLM_F_REQUEST, 1, 0, ETHTOOL_MSG_RINGS_GET, 1);
	hdr = nlc_nest_start(&m, 1);
	nlc_put_bin(&m, ETHTOOL_A_HEADER_DEV_NAME, "eth0", 4);
	nlc_nest_end(&m, hdr);
	cr_assert_eq(parse_eth((size_t)nlc_msg_end(&m), &ext), -EINVAL);
	cr_assert_str_eq(ext.msg, "Attribute failed policy validation");
}

Test(codec, tcp_data_split_above_enabled_is_erange)
{
	struct nlc_extack ext;
	struct nlc_msg m;

	nlc_ethtool_start(&m, buf, sizeof(buf), ETH, 1, ETHTOOL_MSG_RINGS_SET, 1, 0);
	nlc_put_u8(&m, ETHTOOL_A_RINGS_TCP_DATA_SPLIT, 3);
	cr_assert_eq(parse_eth((size_t)nlc_msg_end(&m), &ext), -ERANGE);
	cr_assert_str_eq(ext.msg, "integer out of range");
	nlc_ethtool_start(&m, buf, sizeof(buf), ETH, 1, ETHTOOL_MSG_RINGS_SET, 1, 0);
	nlc_put_u8(&m, ETHTOOL_A_RINGS_TCP_DATA_SPLIT, ETHTOOL_TCP_DATA_SPLIT_ENABLED);
	nlc_put_u32(&m, ETHTOOL_A_RINGS_HDS_THRESH, 0);
	cr_assert_eq(parse_eth((size_t)nlc_msg_end(&m), &ext), 0);
}

Test(codec, features_set_request_names_the_bit)
{
	static struct nlc_request req;
	int len;

	len = nlc_ethtool_features_set_req(buf, sizeof(buf), ETH, 1, 2, "ntuple-filters", true);
	cr_assert_eq(nlc_ethtool_parse_req(buf, (size_t)len, ETH, &req, NULL), 0);
	cr_assert_eq(req.header.v[ETHTOOL_A_HEADER_DEV_INDEX], 2);
	cr_assert_eq(nlc_bitset_test(req.attrs.tb[ETHTOOL_A_FEATURES_WANTED], "ntuple-filters"), 1);
	cr_assert_eq(nlc_bitset_test(req.attrs.tb[ETHTOOL_A_FEATURES_WANTED], "rx-gro"), -ENOENT);
	len = nlc_ethtool_features_set_req(buf, sizeof(buf), ETH, 1, 2, "rx-gro", false);
	cr_assert_eq(nlc_ethtool_parse_req(buf, (size_t)len, ETH, &req, NULL), 0);
	cr_assert_eq(nlc_bitset_test(req.attrs.tb[ETHTOOL_A_FEATURES_WANTED], "rx-gro"), 0);
}

Test(codec, channels_reply_roundtrips)
{
	struct nlc_obj o = { 0 }, got;
	int len;

	o.present = 1u << ETHTOOL_A_CHANNELS_COMBINED_MAX | 1u << ETHTOOL_A_CHANNELS_COMBINED_COUNT;
	o.v[ETHTOOL_A_CHANNELS_COMBINED_MAX] = 8;
	o.v[ETHTOOL_A_CHANNELS_COMBINED_COUNT] = 4;
	len = nlc_ethtool_reply(out, sizeof(out), ETH, 1, 2, ETHTOOL_MSG_CHANNELS_GET_REPLY, 3,
				"eth0", &o);
	cr_assert_gt(len, 0);
	cr_assert_eq(nlc_ethtool_parse_reply(out, (size_t)len, ETH, ETHTOOL_MSG_CHANNELS_GET_REPLY,
					     &got, NULL),
		     0);
	cr_assert_eq(got.v[ETHTOOL_A_CHANNELS_COMBINED_MAX], 8);
	cr_assert_eq(got.v[ETHTOOL_A_CHANNELS_COMBINED_COUNT], 4);
	cr_assert(nlc_has(&got, ETHTOOL_A_CHANNELS_HEADER));
	cr_assert_not(nlc_has(&got, ETHTOOL_A_CHANNELS_RX_COUNT));
}

Test(codec, rss_set_request_carries_the_table_as_u32s)
{
	static struct nlc_request req;
	uint32_t indir[8] = { 0, 1, 0, 1, 0, 1, 0, 1 };
	int len = nlc_ethtool_rss_set_req(buf, sizeof(buf), ETH, 1, 2, 0, indir, 8);

	cr_assert_eq(nlc_ethtool_parse_req(buf, (size_t)len, ETH, &req, NULL), 0);
	cr_assert_eq(req.cmd, ETHTOOL_MSG_RSS_SET);
	cr_assert_eq(nlc_attr_len(req.attrs.tb[ETHTOOL_A_RSS_INDIR]), sizeof(indir));
	cr_assert_eq(memcmp(nlc_attr_data(req.attrs.tb[ETHTOOL_A_RSS_INDIR]), indir, sizeof(indir)),
		     0);
	cr_assert_not(nlc_has(&req.attrs, ETHTOOL_A_RSS_CONTEXT));
}

Test(codec, rss_set_empty_key_is_a_binary_size_out_of_range)
{
	struct nlc_extack ext;
	struct nlc_msg m;

	nlc_ethtool_start(&m, buf, sizeof(buf), ETH, 1, ETHTOOL_MSG_RSS_SET, 1, 0);
	nlc_put_bin(&m, ETHTOOL_A_RSS_HKEY, NULL, 0);
	cr_assert_eq(parse_eth((size_t)nlc_msg_end(&m), &ext), -ERANGE);
	cr_assert_str_eq(ext.msg, "binary attribute size out of range");
	cr_assert(ext.has_policy);
}

Test(codec, bind_reply_carries_the_id)
{
	struct nlc_obj o = { 0 }, got;
	int len;

	o.present = 1u << NETDEV_A_DMABUF_ID;
	o.v[NETDEV_A_DMABUF_ID] = 42;
	len = nlc_netdev_reply(out, sizeof(out), FAM, 3, 4, NETDEV_CMD_BIND_RX, false, &o);
	cr_assert_eq(len, NLMSG_HDRLEN + GENL_HDRLEN + 8);
	cr_assert_eq(nlc_netdev_parse_reply(out, (size_t)len, FAM, NETDEV_CMD_BIND_RX, &got, NULL),
		     0);
	cr_assert_eq(got.v[NETDEV_A_DMABUF_ID], 42);
	cr_assert_eq(got.present, 1u << NETDEV_A_DMABUF_ID);
}

Test(codec, reply_of_another_command_is_einval)
{
	cr_assert_eq(nlc_netdev_parse_reply(rec_queue_get_lo, 0x2c, FAM, NETDEV_CMD_DEV_GET,
					    &(struct nlc_obj){ 0 }, NULL),
		     -EINVAL);
}

Test(codec, attribute_the_operation_does_not_take_is_unsupported)
{
	uint8_t a[8];
	struct nlc_extack ext;

	/* napi-get's do policy covers id (2) only: the set's ifindex (1) is refused */
	attr_u32(a, 0, NETDEV_A_NAPI_IFINDEX, 1);
	cr_assert_eq(parse_raw(NETDEV_CMD_NAPI_GET, a, 8, &ext), -EINVAL);
	cr_assert_str_eq(ext.msg, "Unsupported attribute");
	cr_assert(ext.has_off && ext.off == 20);
	cr_assert_not(ext.has_policy);
	cr_assert_not(ext.has_miss_type);
}
