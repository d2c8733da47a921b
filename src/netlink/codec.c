// SPDX-License-Identifier: MIT
/*
 * The generic netlink codec of the netdev and ethtool families.
 *
 * Validation follows the kernel's lib/nlattr.c (validate_nla() and
 * __nla_validate_parse()), genetlink's request handling
 * (net/netlink/genetlink.c) and the families' policies
 * (net/core/netdev-genl-gen.c, net/ethtool/netlink.c and the per-message
 * files): the same errno and the same extack text for the same bad input.
 * Messages are built with libmnl's buffer helpers, which touch no socket.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libmnl/libmnl.h>

#include "codec.h"

/* The page size the kernel's rx-page-size policy starts at (asm/page.h). */
#define NLC_PAGE_SIZE 4096u

void nlc_extack_clear(struct nlc_extack *ext)
{
	if (ext)
		memset(ext, 0, sizeof(*ext));
}

static void nlc_set_msg(struct nlc_extack *ext, const char *fmt, ...)
{
	va_list ap;

	if (!ext)
		return;
	va_start(ap, fmt);
	vsnprintf(ext->msg, sizeof(ext->msg), fmt, ap);
	va_end(ap);
	ext->has_msg = true;
}

static void nlc_set_bad_attr(struct nlc_extack *ext, const void *msg, const struct nlattr *nla)
{
	if (!ext || !msg || !nla)
		return;
	ext->off = (uint32_t)((const uint8_t *)nla - (const uint8_t *)msg);
	ext->has_off = true;
}

/* NL_SET_ERR_MSG_ATTR: the message and the offending attribute. */
static int nlc_bad(struct nlc_extack *ext, const void *msg, const struct nlattr *nla, int err,
		   const char *text)
{
	if (text)
		nlc_set_msg(ext, "%s", text);
	nlc_set_bad_attr(ext, msg, nla);
	return err;
}

/* NL_SET_ERR_MSG_ATTR_POL: also the policy entry the attribute broke. */
static int nlc_bad_pol(struct nlc_extack *ext, const void *msg, const struct nlattr *nla,
		       const struct nlc_policy *pt, int err, const char *text)
{
	nlc_bad(ext, msg, nla, err, text);
	if (ext && msg) {
		ext->policy = pt;
		ext->has_policy = true;
	}
	return err;
}

/* NL_SET_ERR_ATTR_MISS: a required attribute is missing (in @nest, if any). */
static int nlc_missing(struct nlc_extack *ext, const void *msg, const struct nlattr *nest,
		       unsigned int type)
{
	if (ext) {
		ext->miss_type = type;
		ext->has_miss_type = true;
		if (nest && msg) {
			ext->miss_nest = (uint32_t)((const uint8_t *)nest - (const uint8_t *)msg);
			ext->has_miss_nest = true;
		}
	}
	return -EINVAL;
}

unsigned int nlc_attr_type(const struct nlattr *nla)
{
	return nla->nla_type & NLA_TYPE_MASK;
}

const void *nlc_attr_data(const struct nlattr *nla)
{
	return (const uint8_t *)nla + NLA_HDRLEN;
}

size_t nlc_attr_len(const struct nlattr *nla)
{
	return nla->nla_len - NLA_HDRLEN;
}

/* nla_ok(): the header fits and the attribute fits in what remains. */
static bool nlc_attr_ok(const struct nlattr *nla, long rem)
{
	return rem >= (long)sizeof(*nla) && nla->nla_len >= sizeof(*nla) && nla->nla_len <= rem;
}

#define nlc_for_each_attr(pos, head, len, rem)                                              \
	for (pos = (const struct nlattr *)(head), rem = (long)(len); nlc_attr_ok(pos, rem); \
	     rem -= NLA_ALIGN(pos->nla_len),                                                \
	    pos = (const struct nlattr *)((const uint8_t *)pos + NLA_ALIGN(pos->nla_len)))

/* The exact payload size of the fixed-size types (the kernel's nla_attr_len[]). */
static const uint8_t nlc_fixed_len[] = {
	[NLC_U8] = 1, [NLC_U16] = 2, [NLC_U32] = 4, [NLC_U64] = 8, [NLC_S32] = 4,
};

static uint64_t nlc_read_uint(const struct nlattr *nla, size_t want)
{
	size_t len = nlc_attr_len(nla);
	uint64_t v64 = 0;
	uint32_t v32 = 0;
	uint16_t v16 = 0;
	uint8_t v8 = 0;

	/* a short attribute only reaches here under liberal validation: read what is there */
	if (want == 0)
		want = len >= 8 ? 8 : 4;
	if (len < want)
		want = len;
	switch (want) {
	case 8:
		memcpy(&v64, nlc_attr_data(nla), 8);
		return v64;
	case 4:
	case 5:
	case 6:
	case 7:
		memcpy(&v32, nlc_attr_data(nla), 4);
		return v32;
	case 2:
	case 3:
		memcpy(&v16, nlc_attr_data(nla), 2);
		return v16;
	case 1:
		memcpy(&v8, nlc_attr_data(nla), 1);
		return v8;
	default:
		return 0;
	}
}

static uint64_t nlc_value(const struct nlattr *nla, uint8_t type)
{
	switch (type) {
	case NLC_U8:
		return nlc_read_uint(nla, 1);
	case NLC_U16:
		return nlc_read_uint(nla, 2);
	case NLC_U32:
		return nlc_read_uint(nla, 4);
	case NLC_S32:
		return (uint64_t)(int64_t)(int32_t)nlc_read_uint(nla, 4);
	case NLC_U64:
		return nlc_read_uint(nla, 8);
	case NLC_UINT:
		return nlc_read_uint(nla, 0);
	case NLC_FLAG:
		return 1;
	default:
		return 0;
	}
}

static int nlc_validate_stream(struct nlc_obj *o, const void *data, size_t len,
			       const struct nlc_policy *policy, unsigned int maxtype,
			       unsigned int validate, unsigned int depth, const void *msg,
			       struct nlc_extack *ext);

/*
 * The value checks of a policy (nla_validate_int_range(), nla_validate_mask());
 * a binary's bounds are on its length.
 */
static int nlc_validate_value(const struct nlattr *nla, const struct nlc_policy *pt,
			      const void *msg, struct nlc_extack *ext)
{
	bool binary = pt->type == NLC_BINARY;
	const char *range_msg =
		binary ? "binary attribute size out of range" : "integer out of range";
	bool sign = pt->type == NLC_S32;
	uint64_t v;

	if (pt->check == NLC_CHECK_NONE)
		return 0;
	v = binary ? nlc_attr_len(nla) : nlc_value(nla, pt->type);
	switch (pt->check) {
	case NLC_CHECK_MASK:
		if (v & ~pt->max)
			return nlc_bad(ext, msg, nla, -EINVAL, "reserved bit set");
		return 0;
	case NLC_CHECK_MIN:
		if (sign ? (int64_t)v < (int64_t)pt->min : v < pt->min)
			return nlc_bad_pol(ext, msg, nla, pt, -ERANGE, range_msg);
		return 0;
	case NLC_CHECK_MAX:
		if (sign ? (int64_t)v > (int64_t)pt->max : v > pt->max)
			return nlc_bad_pol(ext, msg, nla, pt, -ERANGE, range_msg);
		return 0;
	case NLC_CHECK_RANGE:
		if (v < pt->min || v > pt->max)
			return nlc_bad_pol(ext, msg, nla, pt, -ERANGE, range_msg);
		return 0;
	default:
		return 0;
	}
}

/* One attribute against its policy entry (the kernel's validate_nla()). */
static int nlc_validate_one(const struct nlattr *nla, const struct nlc_policy *pt,
			    unsigned int validate, unsigned int depth, const void *msg,
			    struct nlc_extack *ext)
{
	size_t alen = nlc_attr_len(nla);
	int err = -ERANGE;

	if (pt->type < sizeof(nlc_fixed_len) && nlc_fixed_len[pt->type] &&
	    alen != nlc_fixed_len[pt->type] && (validate & NLC_VALIDATE_STRICT_ATTRS))
		return nlc_bad_pol(ext, msg, nla, pt, -EINVAL, "invalid attribute length");

	if (validate & NLC_VALIDATE_NESTED) {
		if (pt->type == NLC_NESTED && !(nla->nla_type & NLA_F_NESTED))
			return nlc_bad_pol(ext, msg, nla, pt, -EINVAL, "NLA_F_NESTED is missing");
		if (pt->type != NLC_NESTED && pt->type != NLC_UNSPEC &&
		    (nla->nla_type & NLA_F_NESTED))
			return nlc_bad_pol(ext, msg, nla, pt, -EINVAL, "NLA_F_NESTED not expected");
	}

	switch (pt->type) {
	case NLC_UNSPEC:
		/* an attribute of the set the operation does not take */
		if (validate & NLC_VALIDATE_UNSPEC)
			return nlc_bad(ext, msg, nla, -EINVAL, "Unsupported attribute");
		break;
	case NLC_FLAG:
		if (alen > 0)
			goto out_err;
		break;
	case NLC_NUL_STRING: {
		size_t scan = pt->len && alen > pt->len + 1u ? pt->len + 1u : alen;

		if (!scan || !memchr(nlc_attr_data(nla), '\0', scan)) {
			err = -EINVAL;
			goto out_err;
		}
	}
		/* fall through */
	case NLC_STRING:
		if (alen < 1)
			goto out_err;
		if (pt->len) {
			const char *s = nlc_attr_data(nla);
			size_t slen = alen;

			if (s[slen - 1] == '\0')
				slen--;
			if (slen > pt->len)
				goto out_err;
		}
		break;
	case NLC_BINARY:
		if (pt->len && alen > pt->len)
			goto out_err;
		break;
	case NLC_NESTED:
		if (alen == 0)
			break;
		if (alen < NLA_HDRLEN)
			goto out_err;
		if (pt->nested) {
			err = nlc_validate_stream(NULL, nlc_attr_data(nla), alen, pt->nested,
						  pt->len, validate, depth + 1, msg, ext);
			if (err < 0)
				return err;
		}
		break;
	case NLC_UINT:
		if (alen != 4 && alen != 8)
			return nlc_bad_pol(ext, msg, nla, pt, -EINVAL, "invalid attribute length");
		break;
	default:
		if (pt->type < sizeof(nlc_fixed_len) && alen < nlc_fixed_len[pt->type])
			goto out_err;
		break;
	}
	return nlc_validate_value(nla, pt, msg, ext);

out_err:
	return nlc_bad_pol(ext, msg, nla, pt, err, "Attribute failed policy validation");
}

/* A stream of attributes (the kernel's __nla_validate_parse()). */
static int nlc_validate_stream(struct nlc_obj *o, const void *data, size_t len,
			       const struct nlc_policy *policy, unsigned int maxtype,
			       unsigned int validate, unsigned int depth, const void *msg,
			       struct nlc_extack *ext)
{
	const struct nlattr *nla;
	long rem;
	int err;

	if (depth >= NLC_MAX_DEPTH) {
		nlc_set_msg(ext, "allowed policy recursion depth exceeded");
		return -EINVAL;
	}
	if (o)
		memset(o, 0, sizeof(*o));

	nlc_for_each_attr(nla, data, len, rem)
	{
		unsigned int type = nlc_attr_type(nla);

		if (type == 0 || type > maxtype) {
			if (validate & NLC_VALIDATE_MAXTYPE)
				return nlc_bad(ext, msg, nla, -EINVAL, "Unknown attribute type");
			continue;
		}
		if (policy) {
			err = nlc_validate_one(nla, &policy[type], validate, depth, msg, ext);
			if (err < 0)
				return err;
		}
		if (o && type <= NLC_MAX_ATTR) {
			o->present |= 1ull << type;
			o->tb[type] = nla;
			o->v[type] = policy ? nlc_value(nla, policy[type].type) : 0;
		}
	}
	if (rem > 0 && (validate & NLC_VALIDATE_TRAILING)) {
		nlc_set_msg(ext, "bytes leftover after parsing attributes");
		return -EINVAL;
	}
	return 0;
}

int nlc_parse_attrs(struct nlc_obj *o, const void *data, size_t len,
		    const struct nlc_policy *policy, unsigned int maxtype, unsigned int validate,
		    const void *msg, struct nlc_extack *ext)
{
	return nlc_validate_stream(o, data, len, policy, maxtype, validate, 0, msg, ext);
}

int nlc_parse_nested(struct nlc_obj *o, const struct nlattr *nla, const struct nlc_policy *policy,
		     unsigned int maxtype)
{
	return nlc_validate_stream(o, nlc_attr_data(nla), nlc_attr_len(nla), policy, maxtype,
				   NLC_VALIDATE_LIBERAL, 1, NULL, NULL);
}

/* ---- building ---- */

int nlc_genl_start(struct nlc_msg *m, void *buf, size_t cap, uint16_t type, uint16_t flags,
		   uint32_t seq, uint32_t portid, uint8_t cmd, uint8_t version)
{
	struct genlmsghdr *genl;

	m->nlh = NULL;
	m->cap = cap;
	m->overflow = false;
	if (cap < NLMSG_HDRLEN + GENL_HDRLEN) {
		m->overflow = true;
		return -EMSGSIZE;
	}
	memset(buf, 0, cap);
	m->nlh = mnl_nlmsg_put_header(buf);
	m->nlh->nlmsg_type = type;
	m->nlh->nlmsg_flags = flags;
	m->nlh->nlmsg_seq = seq;
	m->nlh->nlmsg_pid = portid;
	genl = mnl_nlmsg_put_extra_header(m->nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = version;
	return 0;
}

static void nlc_put(struct nlc_msg *m, uint16_t type, size_t len, const void *data)
{
	if (m->overflow || !m->nlh)
		return;
	if (len > UINT16_MAX - NLA_HDRLEN || !mnl_attr_put_check(m->nlh, m->cap, type, len, data))
		m->overflow = true;
}

void nlc_put_u8(struct nlc_msg *m, uint16_t type, uint8_t v)
{
	nlc_put(m, type, sizeof(v), &v);
}

void nlc_put_u16(struct nlc_msg *m, uint16_t type, uint16_t v)
{
	nlc_put(m, type, sizeof(v), &v);
}

void nlc_put_u32(struct nlc_msg *m, uint16_t type, uint32_t v)
{
	nlc_put(m, type, sizeof(v), &v);
}

void nlc_put_u64(struct nlc_msg *m, uint16_t type, uint64_t v)
{
	nlc_put(m, type, sizeof(v), &v);
}

void nlc_put_uint(struct nlc_msg *m, uint16_t type, uint64_t v)
{
	if (v <= UINT32_MAX)
		nlc_put_u32(m, type, (uint32_t)v);
	else
		nlc_put_u64(m, type, v);
}

void nlc_put_flag(struct nlc_msg *m, uint16_t type)
{
	nlc_put(m, type, 0, NULL);
}

void nlc_put_str(struct nlc_msg *m, uint16_t type, const char *s)
{
	nlc_put(m, type, strlen(s) + 1, s);
}

void nlc_put_bin(struct nlc_msg *m, uint16_t type, const void *data, size_t len)
{
	nlc_put(m, type, len, data);
}

struct nlattr *nlc_nest_start(struct nlc_msg *m, uint16_t type)
{
	struct nlattr *nest;

	if (m->overflow || !m->nlh)
		return NULL;
	nest = mnl_attr_nest_start_check(m->nlh, m->cap, type);
	if (!nest)
		m->overflow = true;
	return nest;
}

void nlc_nest_end(struct nlc_msg *m, struct nlattr *nest)
{
	if (m->overflow || !nest)
		return;
	mnl_attr_nest_end(m->nlh, nest);
}

void nlc_put_obj(struct nlc_msg *m, const struct nlc_obj *o, const struct nlc_policy *policy,
		 unsigned int maxtype)
{
	for (unsigned int t = 1; t <= maxtype && t <= NLC_MAX_ATTR; t++) {
		if (!nlc_has(o, t))
			continue;
		switch (policy[t].type) {
		case NLC_U8:
			nlc_put_u8(m, t, (uint8_t)o->v[t]);
			break;
		case NLC_U16:
			nlc_put_u16(m, t, (uint16_t)o->v[t]);
			break;
		case NLC_U32:
		case NLC_S32:
			nlc_put_u32(m, t, (uint32_t)o->v[t]);
			break;
		case NLC_U64:
			nlc_put_u64(m, t, o->v[t]);
			break;
		case NLC_UINT:
			nlc_put_uint(m, t, o->v[t]);
			break;
		case NLC_FLAG:
			nlc_put_flag(m, t);
			break;
		default:
			/* strings, binaries and nests: the attribute as the caller made it */
			if (o->tb[t])
				nlc_put(m, o->tb[t]->nla_type, nlc_attr_len(o->tb[t]),
					nlc_attr_data(o->tb[t]));
			break;
		}
	}
}

int nlc_msg_end(struct nlc_msg *m)
{
	if (m->overflow || !m->nlh)
		return -EMSGSIZE;
	return (int)m->nlh->nlmsg_len;
}

/* ---- generic netlink request headers ---- */

/*
 * The checks genetlink makes before a family sees a request
 * (genl_rcv_msg(), genl_family_rcv_msg()): a whole nlmsghdr, the family's
 * header, the family itself. Returns 1 for a message the kernel skips
 * without running it (no NLM_F_REQUEST, or a control message).
 */
static int nlc_genl_check(const void *msg, size_t len, uint16_t family, struct nlc_request *req)
{
	const struct nlmsghdr *nlh = msg;
	const struct genlmsghdr *genl;

	memset(req, 0, offsetof(struct nlc_request, attrs));
	if (len < NLMSG_HDRLEN || nlh->nlmsg_len < NLMSG_HDRLEN || nlh->nlmsg_len > len)
		return -EINVAL;
	req->flags = nlh->nlmsg_flags;
	req->seq = nlh->nlmsg_seq;
	req->portid = nlh->nlmsg_pid;
	if (!(nlh->nlmsg_flags & NLM_F_REQUEST) || nlh->nlmsg_type < NLMSG_MIN_TYPE)
		return 1;
	if (nlh->nlmsg_type != family)
		return -ENOENT;
	if (nlh->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN)
		return -EINVAL;
	genl = mnl_nlmsg_get_payload(nlh);
	req->family = family;
	req->cmd = genl->cmd;
	req->version = genl->version;
	req->dump = (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
	return 0;
}

static const void *nlc_genl_attrs(const void *msg, size_t *len)
{
	const struct nlmsghdr *nlh = msg;

	*len = nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
	return (const uint8_t *)msg + NLMSG_HDRLEN + GENL_HDRLEN;
}

/* One operation of a family: its command, and the policy of its do and of its dump. */
struct nlc_op {
	uint8_t cmd;
	const struct nlc_policy *do_policy;
	unsigned int do_maxattr;
	const struct nlc_policy *dump_policy;
	unsigned int dump_maxattr;
	bool has_do;
	bool has_dump;
};

static const struct nlc_op *nlc_find_op(const struct nlc_op *ops, size_t n, uint8_t cmd)
{
	for (size_t i = 0; i < n; i++)
		if (ops[i].cmd == cmd)
			return &ops[i];
	return NULL;
}

static int nlc_parse_genl_req(const void *msg, size_t len, uint16_t family,
			      const struct nlc_op *ops, size_t nr_ops, struct nlc_request *req,
			      const struct nlc_op **opp, struct nlc_extack *ext)
{
	const struct nlc_op *op;
	const struct nlc_policy *policy;
	unsigned int maxattr;
	const void *attrs;
	size_t alen;
	int err;

	nlc_extack_clear(ext);
	err = nlc_genl_check(msg, len, family, req);
	if (err)
		return err;
	op = nlc_find_op(ops, nr_ops, req->cmd);
	/* genl_get_cmd() and the do/dump split: no such operation */
	if (!op || (req->dump ? !op->has_dump : !op->has_do))
		return -EOPNOTSUPP;
	*opp = op;
	policy = req->dump ? op->dump_policy : op->do_policy;
	maxattr = req->dump ? op->dump_maxattr : op->do_maxattr;
	memset(&req->attrs, 0, sizeof(req->attrs));
	/* genl_family_rcv_msg_attrs_parse(): an operation without a policy takes no attributes */
	if (!maxattr)
		return 0;
	attrs = nlc_genl_attrs(msg, &alen);
	return nlc_parse_attrs(&req->attrs, attrs, alen, policy, maxattr, NLC_VALIDATE_STRICT, msg,
			       ext);
}

/* ---- control family ---- */

static const struct nlc_policy nlc_ctrl_op_policy[CTRL_ATTR_OP_MAX + 1] = {
	[CTRL_ATTR_OP_ID] = { .type = NLC_U32 },
	[CTRL_ATTR_OP_FLAGS] = { .type = NLC_U32 },
};

static const struct nlc_policy nlc_ctrl_grp_policy[CTRL_ATTR_MCAST_GRP_MAX + 1] = {
	[CTRL_ATTR_MCAST_GRP_NAME] = { .type = NLC_NUL_STRING, .len = GENL_NAMSIZ - 1 },
	[CTRL_ATTR_MCAST_GRP_ID] = { .type = NLC_U32 },
};

static const struct nlc_policy nlc_ctrl_policy[CTRL_ATTR_MAX + 1] = {
	[CTRL_ATTR_FAMILY_ID] = { .type = NLC_U16 },
	[CTRL_ATTR_FAMILY_NAME] = { .type = NLC_NUL_STRING, .len = GENL_NAMSIZ - 1 },
	[CTRL_ATTR_VERSION] = { .type = NLC_U32 },
	[CTRL_ATTR_HDRSIZE] = { .type = NLC_U32 },
	[CTRL_ATTR_MAXATTR] = { .type = NLC_U32 },
	[CTRL_ATTR_OPS] = { .type = NLC_NESTED },
	[CTRL_ATTR_MCAST_GROUPS] = { .type = NLC_NESTED },
};

int nlc_ctrl_getfamily_req(void *buf, size_t cap, uint32_t seq, const char *name)
{
	struct nlc_msg m;

	if (nlc_genl_start(&m, buf, cap, GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, seq, 0,
			   CTRL_CMD_GETFAMILY, 1))
		return -EMSGSIZE;
	nlc_put_str(&m, CTRL_ATTR_FAMILY_NAME, name);
	return nlc_msg_end(&m);
}

/* A whole generic netlink message of @type: its header and its attribute stream. */
static int nlc_genl_msg(const void *msg, size_t len, uint16_t type, uint8_t *cmd,
			const void **attrs, size_t *alen)
{
	const struct nlmsghdr *nlh = msg;
	const struct genlmsghdr *genl;

	if (len < NLMSG_HDRLEN || nlh->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN ||
	    nlh->nlmsg_len > len || nlh->nlmsg_type != type)
		return -EINVAL;
	genl = mnl_nlmsg_get_payload(nlh);
	*cmd = genl->cmd;
	*attrs = nlc_genl_attrs(msg, alen);
	return 0;
}

int nlc_ctrl_parse_family(const void *msg, size_t len, struct nlc_family *fam,
			  struct nlc_extack *ext)
{
	const struct nlattr *nla, *sub;
	struct nlc_obj o, so;
	const void *attrs;
	size_t alen;
	uint8_t cmd;
	long rem;
	int err;

	memset(fam, 0, sizeof(*fam));
	err = nlc_genl_msg(msg, len, GENL_ID_CTRL, &cmd, &attrs, &alen);
	if (err)
		return err;
	if (cmd != CTRL_CMD_NEWFAMILY)
		return -EINVAL;
	err = nlc_parse_attrs(&o, attrs, alen, nlc_ctrl_policy, CTRL_ATTR_MAX,
			      NLC_VALIDATE_STRICT_ATTRS, msg, ext);
	if (err)
		return err;
	if (!nlc_has(&o, CTRL_ATTR_FAMILY_ID) || !nlc_has(&o, CTRL_ATTR_FAMILY_NAME))
		return -EINVAL;
	fam->id = (uint16_t)o.v[CTRL_ATTR_FAMILY_ID];
	fam->version = (uint32_t)o.v[CTRL_ATTR_VERSION];
	fam->hdrsize = (uint32_t)o.v[CTRL_ATTR_HDRSIZE];
	fam->maxattr = (uint32_t)o.v[CTRL_ATTR_MAXATTR];
	snprintf(fam->name, sizeof(fam->name), "%s",
		 (const char *)nlc_attr_data(o.tb[CTRL_ATTR_FAMILY_NAME]));
	if (nlc_has(&o, CTRL_ATTR_OPS)) {
		nlc_for_each_attr(nla, nlc_attr_data(o.tb[CTRL_ATTR_OPS]),
				  nlc_attr_len(o.tb[CTRL_ATTR_OPS]), rem)
		{
			if (fam->nr_ops == NLC_MAX_OPS)
				break;
			err = nlc_parse_attrs(&so, nlc_attr_data(nla), nlc_attr_len(nla),
					      nlc_ctrl_op_policy, CTRL_ATTR_OP_MAX,
					      NLC_VALIDATE_STRICT_ATTRS, msg, ext);
			if (err)
				return err;
			fam->ops[fam->nr_ops].cmd = (uint32_t)so.v[CTRL_ATTR_OP_ID];
			fam->ops[fam->nr_ops].flags = (uint32_t)so.v[CTRL_ATTR_OP_FLAGS];
			fam->nr_ops++;
		}
	}
	if (nlc_has(&o, CTRL_ATTR_MCAST_GROUPS)) {
		nlc_for_each_attr(nla, nlc_attr_data(o.tb[CTRL_ATTR_MCAST_GROUPS]),
				  nlc_attr_len(o.tb[CTRL_ATTR_MCAST_GROUPS]), rem)
		{
			if (fam->nr_groups == NLC_MAX_GROUPS)
				break;
			err = nlc_parse_attrs(&so, nlc_attr_data(nla), nlc_attr_len(nla),
					      nlc_ctrl_grp_policy, CTRL_ATTR_MCAST_GRP_MAX,
					      NLC_VALIDATE_STRICT_ATTRS, msg, ext);
			if (err)
				return err;
			fam->groups[fam->nr_groups].id = (uint32_t)so.v[CTRL_ATTR_MCAST_GRP_ID];
			sub = so.tb[CTRL_ATTR_MCAST_GRP_NAME];
			if (sub)
				snprintf(fam->groups[fam->nr_groups].name, GENL_NAMSIZ, "%s",
					 (const char *)nlc_attr_data(sub));
			fam->nr_groups++;
		}
	}
	return 0;
}

int nlc_ctrl_family_reply(void *buf, size_t cap, uint32_t seq, uint32_t portid,
			  const struct nlc_family *fam)
{
	struct nlattr *list, *item;
	struct nlc_msg m;

	if (nlc_genl_start(&m, buf, cap, GENL_ID_CTRL, 0, seq, portid, CTRL_CMD_NEWFAMILY, 2))
		return -EMSGSIZE;
	nlc_put_str(&m, CTRL_ATTR_FAMILY_NAME, fam->name);
	nlc_put_u16(&m, CTRL_ATTR_FAMILY_ID, fam->id);
	nlc_put_u32(&m, CTRL_ATTR_VERSION, fam->version);
	nlc_put_u32(&m, CTRL_ATTR_HDRSIZE, fam->hdrsize);
	nlc_put_u32(&m, CTRL_ATTR_MAXATTR, fam->maxattr);
	if (fam->nr_ops) {
		list = nlc_nest_start(&m, CTRL_ATTR_OPS);
		for (unsigned int i = 0; i < fam->nr_ops && i < NLC_MAX_OPS; i++) {
			item = nlc_nest_start(&m, (uint16_t)(i + 1));
			nlc_put_u32(&m, CTRL_ATTR_OP_ID, fam->ops[i].cmd);
			nlc_put_u32(&m, CTRL_ATTR_OP_FLAGS, fam->ops[i].flags);
			nlc_nest_end(&m, item);
		}
		nlc_nest_end(&m, list);
	}
	if (fam->nr_groups) {
		list = nlc_nest_start(&m, CTRL_ATTR_MCAST_GROUPS);
		for (unsigned int i = 0; i < fam->nr_groups && i < NLC_MAX_GROUPS; i++) {
			item = nlc_nest_start(&m, (uint16_t)(i + 1));
			nlc_put_str(&m, CTRL_ATTR_MCAST_GRP_NAME, fam->groups[i].name);
			nlc_put_u32(&m, CTRL_ATTR_MCAST_GRP_ID, fam->groups[i].id);
			nlc_nest_end(&m, item);
		}
		nlc_nest_end(&m, list);
	}
	return nlc_msg_end(&m);
}

/* ---- netdev family: policies (net/core/netdev-genl-gen.c, mainline) ---- */

#define U32_MIN(n)                                                  \
	{                                                           \
		.type = NLC_U32, .check = NLC_CHECK_MIN, .min = (n) \
	}
#define U32_MAX_(n)                                                 \
	{                                                           \
		.type = NLC_U32, .check = NLC_CHECK_MAX, .max = (n) \
	}
#define U32_RANGE(a, b)                                                           \
	{                                                                         \
		.type = NLC_U32, .check = NLC_CHECK_RANGE, .min = (a), .max = (b) \
	}
#define UINT_RANGE(a, b)                                                           \
	{                                                                          \
		.type = NLC_UINT, .check = NLC_CHECK_RANGE, .min = (a), .max = (b) \
	}
#define NESTED(p, maxtype)                                          \
	{                                                           \
		.type = NLC_NESTED, .nested = (p), .len = (maxtype) \
	}

static const struct nlc_policy netdev_page_pool_info_policy[NETDEV_A_PAGE_POOL_IFINDEX + 1] = {
	[NETDEV_A_PAGE_POOL_ID] = UINT_RANGE(1, UINT32_MAX),
	[NETDEV_A_PAGE_POOL_IFINDEX] = U32_RANGE(1, INT32_MAX),
};

static const struct nlc_policy netdev_queue_id_policy[NETDEV_A_QUEUE_TYPE + 1] = {
	[NETDEV_A_QUEUE_ID] = { .type = NLC_U32 },
	[NETDEV_A_QUEUE_TYPE] = U32_MAX_(1),
};

static const struct nlc_policy netdev_dev_get_policy[NETDEV_A_DEV_IFINDEX + 1] = {
	[NETDEV_A_DEV_IFINDEX] = U32_MIN(1),
};

static const struct nlc_policy netdev_page_pool_get_do_policy[NETDEV_A_PAGE_POOL_ID + 1] = {
	[NETDEV_A_PAGE_POOL_ID] = UINT_RANGE(1, UINT32_MAX),
};

static const struct nlc_policy netdev_page_pool_get_dump_policy[NETDEV_A_PAGE_POOL_IFINDEX + 1] = {
	[NETDEV_A_PAGE_POOL_IFINDEX] = U32_RANGE(1, INT32_MAX),
};

static const struct nlc_policy
	netdev_page_pool_stats_get_policy[NETDEV_A_PAGE_POOL_STATS_INFO + 1] = {
		[NETDEV_A_PAGE_POOL_STATS_INFO] =
			NESTED(netdev_page_pool_info_policy, NETDEV_A_PAGE_POOL_IFINDEX),
	};

static const struct nlc_policy netdev_queue_get_do_policy[NETDEV_A_QUEUE_TYPE + 1] = {
	[NETDEV_A_QUEUE_IFINDEX] = U32_MIN(1),
	[NETDEV_A_QUEUE_TYPE] = U32_MAX_(1),
	[NETDEV_A_QUEUE_ID] = { .type = NLC_U32 },
};

static const struct nlc_policy netdev_queue_get_dump_policy[NETDEV_A_QUEUE_IFINDEX + 1] = {
	[NETDEV_A_QUEUE_IFINDEX] = U32_MIN(1),
};

static const struct nlc_policy netdev_napi_get_do_policy[NETDEV_A_NAPI_ID + 1] = {
	[NETDEV_A_NAPI_ID] = { .type = NLC_U32 },
};

static const struct nlc_policy netdev_napi_get_dump_policy[NETDEV_A_NAPI_IFINDEX + 1] = {
	[NETDEV_A_NAPI_IFINDEX] = U32_MIN(1),
};

static const struct nlc_policy netdev_qstats_get_policy[NETDEV_A_QSTATS_SCOPE + 1] = {
	[NETDEV_A_QSTATS_IFINDEX] = U32_MIN(1),
	[NETDEV_A_QSTATS_SCOPE] = { .type = NLC_UINT, .check = NLC_CHECK_MASK, .max = 0x1 },
};

static const struct nlc_policy netdev_bind_rx_policy[NL_NETDEV_A_DMABUF_MAX + 1] = {
	[NETDEV_A_DMABUF_IFINDEX] = U32_MIN(1),
	[NETDEV_A_DMABUF_FD] = { .type = NLC_U32 },
	[NETDEV_A_DMABUF_QUEUES] = { .type = NLC_NESTED,
				     .nested = netdev_queue_id_policy,
				     .len = NETDEV_A_QUEUE_TYPE,
				     .multi = true },
	[NETDEV_A_DMABUF_RX_PAGE_SIZE] = U32_RANGE(NLC_PAGE_SIZE, UINT32_MAX),
};

static const struct nlc_policy netdev_napi_set_policy[NETDEV_A_NAPI_THREADED + 1] = {
	[NETDEV_A_NAPI_ID] = { .type = NLC_U32 },
	[NETDEV_A_NAPI_DEFER_HARD_IRQS] = U32_RANGE(0, INT32_MAX),
	[NETDEV_A_NAPI_GRO_FLUSH_TIMEOUT] = { .type = NLC_UINT },
	[NETDEV_A_NAPI_IRQ_SUSPEND_TIMEOUT] = { .type = NLC_UINT },
	[NETDEV_A_NAPI_THREADED] = U32_MAX_(2),
};

static const struct nlc_policy netdev_bind_tx_policy[NETDEV_A_DMABUF_FD + 1] = {
	[NETDEV_A_DMABUF_IFINDEX] = U32_MIN(1),
	[NETDEV_A_DMABUF_FD] = { .type = NLC_U32 },
};

static const struct nlc_op netdev_ops[] = {
	{ NETDEV_CMD_DEV_GET, netdev_dev_get_policy, NETDEV_A_DEV_IFINDEX, NULL, 0, true, true },
	{ NETDEV_CMD_PAGE_POOL_GET, netdev_page_pool_get_do_policy, NETDEV_A_PAGE_POOL_ID,
	  netdev_page_pool_get_dump_policy, NETDEV_A_PAGE_POOL_IFINDEX, true, true },
	{ NETDEV_CMD_PAGE_POOL_STATS_GET, netdev_page_pool_stats_get_policy,
	  NETDEV_A_PAGE_POOL_STATS_INFO, netdev_page_pool_stats_get_policy,
	  NETDEV_A_PAGE_POOL_STATS_INFO, true, true },
	{ NETDEV_CMD_QUEUE_GET, netdev_queue_get_do_policy, NETDEV_A_QUEUE_TYPE,
	  netdev_queue_get_dump_policy, NETDEV_A_QUEUE_IFINDEX, true, true },
	{ NETDEV_CMD_NAPI_GET, netdev_napi_get_do_policy, NETDEV_A_NAPI_ID,
	  netdev_napi_get_dump_policy, NETDEV_A_NAPI_IFINDEX, true, true },
	{ NETDEV_CMD_QSTATS_GET, NULL, 0, netdev_qstats_get_policy, NETDEV_A_QSTATS_SCOPE, false,
	  true },
	{ NETDEV_CMD_BIND_RX, netdev_bind_rx_policy, NL_NETDEV_A_DMABUF_MAX, NULL, 0, true, false },
	{ NETDEV_CMD_NAPI_SET, netdev_napi_set_policy, NETDEV_A_NAPI_THREADED, NULL, 0, true,
	  false },
	{ NETDEV_CMD_BIND_TX, netdev_bind_tx_policy, NETDEV_A_DMABUF_FD, NULL, 0, true, false },
};

/* ---- netdev family: reply policies (netdev.yaml's attribute sets) ---- */

static const struct nlc_policy netdev_dev_policy[NETDEV_A_DEV_XSK_FEATURES + 1] = {
	[NETDEV_A_DEV_IFINDEX] = { .type = NLC_U32 },
	[NETDEV_A_DEV_XDP_FEATURES] = { .type = NLC_U64 },
	[NETDEV_A_DEV_XDP_ZC_MAX_SEGS] = { .type = NLC_U32 },
	[NETDEV_A_DEV_XDP_RX_METADATA_FEATURES] = { .type = NLC_U64 },
	[NETDEV_A_DEV_XSK_FEATURES] = { .type = NLC_U64 },
};

static const struct nlc_policy netdev_page_pool_policy[NETDEV_A_PAGE_POOL_IO_URING + 1] = {
	[NETDEV_A_PAGE_POOL_ID] = { .type = NLC_UINT },
	[NETDEV_A_PAGE_POOL_IFINDEX] = { .type = NLC_U32 },
	[NETDEV_A_PAGE_POOL_NAPI_ID] = { .type = NLC_UINT },
	[NETDEV_A_PAGE_POOL_INFLIGHT] = { .type = NLC_UINT },
	[NETDEV_A_PAGE_POOL_INFLIGHT_MEM] = { .type = NLC_UINT },
	[NETDEV_A_PAGE_POOL_DETACH_TIME] = { .type = NLC_UINT },
	[NETDEV_A_PAGE_POOL_DMABUF] = { .type = NLC_U32 },
	[NETDEV_A_PAGE_POOL_IO_URING] = { .type = NLC_NESTED },
};

static const struct nlc_policy
	netdev_page_pool_stats_policy[NETDEV_A_PAGE_POOL_STATS_RECYCLE_RELEASED_REFCNT + 1] = {
		[NETDEV_A_PAGE_POOL_STATS_INFO] =
			NESTED(netdev_page_pool_info_policy, NETDEV_A_PAGE_POOL_IFINDEX),
		[NETDEV_A_PAGE_POOL_STATS_ALLOC_FAST...
			NETDEV_A_PAGE_POOL_STATS_RECYCLE_RELEASED_REFCNT] = { .type = NLC_UINT },
	};

static const struct nlc_policy netdev_queue_policy[NETDEV_A_QUEUE_XSK + 1] = {
	[NETDEV_A_QUEUE_ID] = { .type = NLC_U32 },
	[NETDEV_A_QUEUE_IFINDEX] = { .type = NLC_U32 },
	[NETDEV_A_QUEUE_TYPE] = { .type = NLC_U32 },
	[NETDEV_A_QUEUE_NAPI_ID] = { .type = NLC_U32 },
	[NETDEV_A_QUEUE_DMABUF] = { .type = NLC_U32 },
	[NETDEV_A_QUEUE_IO_URING] = { .type = NLC_NESTED },
	[NETDEV_A_QUEUE_XSK] = { .type = NLC_NESTED },
};

static const struct nlc_policy netdev_napi_policy[NETDEV_A_NAPI_THREADED + 1] = {
	[NETDEV_A_NAPI_IFINDEX] = { .type = NLC_U32 },
	[NETDEV_A_NAPI_ID] = { .type = NLC_U32 },
	[NETDEV_A_NAPI_IRQ] = { .type = NLC_U32 },
	[NETDEV_A_NAPI_PID] = { .type = NLC_U32 },
	[NETDEV_A_NAPI_DEFER_HARD_IRQS] = { .type = NLC_U32 },
	[NETDEV_A_NAPI_GRO_FLUSH_TIMEOUT] = { .type = NLC_UINT },
	[NETDEV_A_NAPI_IRQ_SUSPEND_TIMEOUT] = { .type = NLC_UINT },
	[NETDEV_A_NAPI_THREADED] = { .type = NLC_U32 },
};

static const struct nlc_policy netdev_qstats_policy[NETDEV_A_QSTATS_TX_WAKE + 1] = {
	[NETDEV_A_QSTATS_IFINDEX] = { .type = NLC_U32 },
	[NETDEV_A_QSTATS_QUEUE_TYPE] = { .type = NLC_U32 },
	[NETDEV_A_QSTATS_QUEUE_ID] = { .type = NLC_U32 },
	[NETDEV_A_QSTATS_SCOPE] = { .type = NLC_UINT },
	[NETDEV_A_QSTATS_RX_PACKETS... NETDEV_A_QSTATS_TX_WAKE] = { .type = NLC_UINT },
};

static const struct nlc_policy netdev_dmabuf_policy[NL_NETDEV_A_DMABUF_MAX + 1] = {
	[NETDEV_A_DMABUF_IFINDEX] = { .type = NLC_U32 },
	[NETDEV_A_DMABUF_QUEUES] = { .type = NLC_NESTED },
	[NETDEV_A_DMABUF_FD] = { .type = NLC_U32 },
	[NETDEV_A_DMABUF_ID] = { .type = NLC_U32 },
	[NETDEV_A_DMABUF_RX_PAGE_SIZE] = { .type = NLC_U32 },
};

const struct nlc_policy *nlc_netdev_reply_policy(uint8_t cmd, unsigned int *maxtype)
{
	switch (cmd) {
	case NETDEV_CMD_DEV_GET:
		*maxtype = NETDEV_A_DEV_XSK_FEATURES;
		return netdev_dev_policy;
	case NETDEV_CMD_PAGE_POOL_GET:
		*maxtype = NETDEV_A_PAGE_POOL_IO_URING;
		return netdev_page_pool_policy;
	case NETDEV_CMD_PAGE_POOL_STATS_GET:
		*maxtype = NETDEV_A_PAGE_POOL_STATS_RECYCLE_RELEASED_REFCNT;
		return netdev_page_pool_stats_policy;
	case NETDEV_CMD_QUEUE_GET:
		*maxtype = NETDEV_A_QUEUE_XSK;
		return netdev_queue_policy;
	case NETDEV_CMD_NAPI_GET:
		*maxtype = NETDEV_A_NAPI_THREADED;
		return netdev_napi_policy;
	case NETDEV_CMD_QSTATS_GET:
		*maxtype = NETDEV_A_QSTATS_TX_WAKE;
		return netdev_qstats_policy;
	case NETDEV_CMD_BIND_RX:
	case NETDEV_CMD_BIND_TX:
		*maxtype = NL_NETDEV_A_DMABUF_MAX;
		return netdev_dmabuf_policy;
	default:
		*maxtype = 0;
		return NULL;
	}
}

/* ---- netdev family: requests ---- */

int nlc_netdev_bind_rx_req(void *buf, size_t cap, uint16_t family, uint32_t seq, uint32_t ifindex,
			   uint32_t fd, const struct nlc_queue_id *queues, unsigned int nr_queues,
			   uint32_t rx_page_size)
{
	struct nlattr *nest;
	struct nlc_msg m;

	if (nlc_genl_start(&m, buf, cap, family, NLM_F_REQUEST | NLM_F_ACK, seq, 0,
			   NETDEV_CMD_BIND_RX, NETDEV_FAMILY_VERSION))
		return -EMSGSIZE;
	/* the order of the spec's request attribute list: ifindex, fd, queues */
	nlc_put_u32(&m, NETDEV_A_DMABUF_IFINDEX, ifindex);
	nlc_put_u32(&m, NETDEV_A_DMABUF_FD, fd);
	for (unsigned int i = 0; i < nr_queues; i++) {
		nest = nlc_nest_start(&m, NETDEV_A_DMABUF_QUEUES);
		nlc_put_u32(&m, NETDEV_A_QUEUE_ID, queues[i].id);
		nlc_put_u32(&m, NETDEV_A_QUEUE_TYPE, queues[i].type);
		nlc_nest_end(&m, nest);
	}
	if (rx_page_size)
		nlc_put_u32(&m, NETDEV_A_DMABUF_RX_PAGE_SIZE, rx_page_size);
	return nlc_msg_end(&m);
}

int nlc_netdev_bind_tx_req(void *buf, size_t cap, uint16_t family, uint32_t seq, uint32_t ifindex,
			   uint32_t fd)
{
	struct nlc_msg m;

	if (nlc_genl_start(&m, buf, cap, family, NLM_F_REQUEST | NLM_F_ACK, seq, 0,
			   NETDEV_CMD_BIND_TX, NETDEV_FAMILY_VERSION))
		return -EMSGSIZE;
	nlc_put_u32(&m, NETDEV_A_DMABUF_IFINDEX, ifindex);
	nlc_put_u32(&m, NETDEV_A_DMABUF_FD, fd);
	return nlc_msg_end(&m);
}

int nlc_netdev_get_req(void *buf, size_t cap, uint16_t family, uint32_t seq, uint8_t cmd, bool dump,
		       const struct nlc_obj *filter)
{
	const struct nlc_op *op =
		nlc_find_op(netdev_ops, sizeof(netdev_ops) / sizeof(netdev_ops[0]), cmd);
	uint16_t flags = NLM_F_REQUEST | (dump ? NLM_F_DUMP : NLM_F_ACK);
	struct nlc_msg m;

	if (!op)
		return -EOPNOTSUPP;
	if (nlc_genl_start(&m, buf, cap, family, flags, seq, 0, cmd, NETDEV_FAMILY_VERSION))
		return -EMSGSIZE;
	if (filter) {
		if (dump && op->dump_policy)
			nlc_put_obj(&m, filter, op->dump_policy, op->dump_maxattr);
		else if (!dump && op->do_policy)
			nlc_put_obj(&m, filter, op->do_policy, op->do_maxattr);
	}
	return nlc_msg_end(&m);
}

/* GENL_REQ_ATTR_CHECK() of the doit handlers (net/core/netdev-genl.c). */
static int nlc_netdev_required(const struct nlc_request *req, const void *msg,
			       struct nlc_extack *ext)
{
	static const struct {
		uint8_t cmd;
		uint8_t attrs[3];
	} required[] = {
		{ NETDEV_CMD_DEV_GET, { NETDEV_A_DEV_IFINDEX } },
		{ NETDEV_CMD_PAGE_POOL_GET, { NETDEV_A_PAGE_POOL_ID } },
		{ NETDEV_CMD_PAGE_POOL_STATS_GET, { NETDEV_A_PAGE_POOL_STATS_INFO } },
		{ NETDEV_CMD_QUEUE_GET,
		  { NETDEV_A_QUEUE_ID, NETDEV_A_QUEUE_TYPE, NETDEV_A_QUEUE_IFINDEX } },
		{ NETDEV_CMD_NAPI_GET, { NETDEV_A_NAPI_ID } },
		{ NETDEV_CMD_NAPI_SET, { NETDEV_A_NAPI_ID } },
		{ NETDEV_CMD_BIND_RX,
		  { NETDEV_A_DEV_IFINDEX, NETDEV_A_DMABUF_FD, NETDEV_A_DMABUF_QUEUES } },
		{ NETDEV_CMD_BIND_TX, { NETDEV_A_DEV_IFINDEX, NETDEV_A_DMABUF_FD } },
	};

	if (req->dump)
		return 0;
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (required[i].cmd != req->cmd)
			continue;
		for (size_t j = 0; j < 3 && required[i].attrs[j]; j++)
			if (!nlc_has(&req->attrs, required[i].attrs[j]))
				return nlc_missing(ext, msg, NULL, required[i].attrs[j]);
	}
	return 0;
}

/* netdev_nl_bind_rx_doit(): rx-page-size must be a power of two. */
static int nlc_netdev_check_bind_rx(const struct nlc_request *req, const void *msg,
				    struct nlc_extack *ext)
{
	uint64_t size;

	if (!nlc_has(&req->attrs, NETDEV_A_DMABUF_RX_PAGE_SIZE))
		return 0;
	size = req->attrs.v[NETDEV_A_DMABUF_RX_PAGE_SIZE];
	if (size & (size - 1))
		return nlc_bad(ext, msg, req->attrs.tb[NETDEV_A_DMABUF_RX_PAGE_SIZE], -EINVAL,
			       "rx-page-size must be a power of 2");
	return 0;
}

/*
 * netdev_nl_read_rxq_bitmap(): each queues nest needs an id and a type, the
 * type must be rx. The queue count check needs the device and stays with
 * the caller (-EINVAL with the id as the bad attribute, in the kernel).
 */
static int nlc_netdev_read_queues(struct nlc_request *req, const void *msg, struct nlc_extack *ext)
{
	const struct nlattr *nla;
	struct nlc_obj q;
	const void *attrs;
	size_t alen;
	long rem;
	int err;

	attrs = nlc_genl_attrs(msg, &alen);
	req->nr_queues = 0;
	nlc_for_each_attr(nla, attrs, alen, rem)
	{
		if (nlc_attr_type(nla) != NETDEV_A_DMABUF_QUEUES)
			continue;
		err = nlc_parse_attrs(&q, nlc_attr_data(nla), nlc_attr_len(nla),
				      netdev_queue_id_policy, NETDEV_A_QUEUE_TYPE,
				      NLC_VALIDATE_STRICT, msg, ext);
		if (err)
			return err;
		if (!nlc_has(&q, NETDEV_A_QUEUE_ID))
			return nlc_missing(ext, msg, nla, NETDEV_A_QUEUE_ID);
		if (!nlc_has(&q, NETDEV_A_QUEUE_TYPE))
			return nlc_missing(ext, msg, nla, NETDEV_A_QUEUE_TYPE);
		if (q.v[NETDEV_A_QUEUE_TYPE] != NETDEV_QUEUE_TYPE_RX)
			return nlc_bad(ext, msg, q.tb[NETDEV_A_QUEUE_TYPE], -EINVAL, NULL);
		/* more queues than we keep: the server's bitmap would be larger than any device */
		if (req->nr_queues == NLC_MAX_QUEUES)
			return nlc_bad(ext, msg, q.tb[NETDEV_A_QUEUE_ID], -EINVAL, NULL);
		req->queues[req->nr_queues].id = (uint32_t)q.v[NETDEV_A_QUEUE_ID];
		req->queues[req->nr_queues].type = (uint32_t)q.v[NETDEV_A_QUEUE_TYPE];
		req->nr_queues++;
	}
	return 0;
}

int nlc_netdev_parse_req(const void *msg, size_t len, uint16_t family, struct nlc_request *req,
			 struct nlc_extack *ext)
{
	const struct nlc_op *op;
	int err;

	err = nlc_parse_genl_req(msg, len, family, netdev_ops,
				 sizeof(netdev_ops) / sizeof(netdev_ops[0]), req, &op, ext);
	if (err)
		return err;
	err = nlc_netdev_required(req, msg, ext);
	if (err)
		return err;
	if (req->cmd == NETDEV_CMD_BIND_RX) {
		err = nlc_netdev_check_bind_rx(req, msg, ext);
		if (err)
			return err;
		return nlc_netdev_read_queues(req, msg, ext);
	}
	return 0;
}

/* ---- replies, both families ---- */

/* Put attribute @t of @o on its own, so that the caller chooses the order. */
static void nlc_put_attr_of(struct nlc_msg *m, const struct nlc_obj *o, unsigned int t,
			    const struct nlc_policy *policy, unsigned int maxtype)
{
	struct nlc_obj one;

	if (!nlc_has(o, t))
		return;
	memset(&one, 0, sizeof(one));
	one.present = 1ull << t;
	one.v[t] = o->v[t];
	one.tb[t] = o->tb[t];
	nlc_put_obj(m, &one, policy, maxtype);
}

/*
 * A reply to @cmd of @family, checked against that command's reply
 * @policy (NULL: a command the codec does not know, -EOPNOTSUPP). A newer
 * kernel may add attributes: they pass, the known ones are checked.
 */
static int nlc_parse_reply(const void *msg, size_t len, uint16_t family, uint8_t cmd,
			   const struct nlc_policy *policy, unsigned int maxtype, struct nlc_obj *o,
			   struct nlc_extack *ext)
{
	const void *attrs;
	size_t alen;
	uint8_t got;
	int err;

	if (!policy)
		return -EOPNOTSUPP;
	err = nlc_genl_msg(msg, len, family, &got, &attrs, &alen);
	if (err)
		return err;
	if (got != cmd)
		return -EINVAL;
	return nlc_parse_attrs(o, attrs, alen, policy, maxtype,
			       NLC_VALIDATE_STRICT_ATTRS | NLC_VALIDATE_NESTED, msg, ext);
}

/* ---- netdev family: replies ---- */

int nlc_netdev_reply(void *buf, size_t cap, uint16_t family, uint32_t seq, uint32_t portid,
		     uint8_t cmd, bool multi, const struct nlc_obj *o)
{
	const struct nlc_policy *policy;
	unsigned int maxtype;
	struct nlc_msg m;

	policy = nlc_netdev_reply_policy(cmd, &maxtype);
	if (!policy)
		return -EOPNOTSUPP;
	if (nlc_genl_start(&m, buf, cap, family, multi ? NLM_F_MULTI : 0, seq, portid, cmd,
			   NETDEV_FAMILY_VERSION))
		return -EMSGSIZE;
	if (cmd == NETDEV_CMD_QUEUE_GET) {
		/* netdev_nl_queue_fill_one()'s order: id, type, ifindex, then the optional ones */
		static const uint8_t order[] = { NETDEV_A_QUEUE_ID,	 NETDEV_A_QUEUE_TYPE,
						 NETDEV_A_QUEUE_IFINDEX, NETDEV_A_QUEUE_NAPI_ID,
						 NETDEV_A_QUEUE_DMABUF,	 NETDEV_A_QUEUE_IO_URING,
						 NETDEV_A_QUEUE_XSK };

		for (size_t i = 0; i < sizeof(order); i++)
			nlc_put_attr_of(&m, o, order[i], policy, maxtype);
	} else {
		nlc_put_obj(&m, o, policy, maxtype);
	}
	return nlc_msg_end(&m);
}

int nlc_netdev_parse_reply(const void *msg, size_t len, uint16_t family, uint8_t cmd,
			   struct nlc_obj *o, struct nlc_extack *ext)
{
	unsigned int maxtype = 0;
	const struct nlc_policy *policy = nlc_netdev_reply_policy(cmd, &maxtype);

	return nlc_parse_reply(msg, len, family, cmd, policy, maxtype, o, ext);
}

/* ---- ethtool family (net/ethtool/netlink.c and the message files, mainline) ---- */

/* ALTIFNAMSIZ - 1: the longest device name a header may carry */
#define NLC_ALTIFNAMSIZ 128

static const struct nlc_policy ethnl_header_policy[NL_ETHTOOL_A_HEADER_MAX + 1] = {
	[ETHTOOL_A_HEADER_DEV_INDEX] = { .type = NLC_U32 },
	[ETHTOOL_A_HEADER_DEV_NAME] = { .type = NLC_NUL_STRING, .len = NLC_ALTIFNAMSIZ - 1 },
	[ETHTOOL_A_HEADER_FLAGS] = { .type = NLC_U32,
				     .check = NLC_CHECK_MASK,
				     .max = ETHTOOL_FLAG_COMPACT_BITSETS | ETHTOOL_FLAG_OMIT_REPLY |
					    ETHTOOL_FLAG_STATS },
	[ETHTOOL_A_HEADER_PHY_INDEX] = U32_MIN(1),
};

#define ETHNL_HEADER NESTED(ethnl_header_policy, NL_ETHTOOL_A_HEADER_MAX)

static const struct nlc_policy ethnl_get_policy[2] = {
	[1] = ETHNL_HEADER, /* ETHTOOL_A_*_HEADER is attribute 1 of every message */
};

static const struct nlc_policy ethnl_channels_set_policy[ETHTOOL_A_CHANNELS_COMBINED_COUNT + 1] = {
	[ETHTOOL_A_CHANNELS_HEADER] = ETHNL_HEADER,
	[ETHTOOL_A_CHANNELS_RX_COUNT] = { .type = NLC_U32 },
	[ETHTOOL_A_CHANNELS_TX_COUNT] = { .type = NLC_U32 },
	[ETHTOOL_A_CHANNELS_OTHER_COUNT] = { .type = NLC_U32 },
	[ETHTOOL_A_CHANNELS_COMBINED_COUNT] = { .type = NLC_U32 },
};

static const struct nlc_policy ethnl_rings_set_policy[ETHTOOL_A_RINGS_HDS_THRESH + 1] = {
	[ETHTOOL_A_RINGS_HEADER] = ETHNL_HEADER,
	[ETHTOOL_A_RINGS_RX] = { .type = NLC_U32 },
	[ETHTOOL_A_RINGS_RX_MINI] = { .type = NLC_U32 },
	[ETHTOOL_A_RINGS_RX_JUMBO] = { .type = NLC_U32 },
	[ETHTOOL_A_RINGS_TX] = { .type = NLC_U32 },
	[ETHTOOL_A_RINGS_RX_BUF_LEN] = U32_MIN(1),
	[ETHTOOL_A_RINGS_TCP_DATA_SPLIT] = { .type = NLC_U8,
					     .check = NLC_CHECK_MAX,
					     .max = ETHTOOL_TCP_DATA_SPLIT_ENABLED },
	[ETHTOOL_A_RINGS_CQE_SIZE] = U32_MIN(1),
	[ETHTOOL_A_RINGS_TX_PUSH] = { .type = NLC_U8, .check = NLC_CHECK_MAX, .max = 1 },
	[ETHTOOL_A_RINGS_RX_PUSH] = { .type = NLC_U8, .check = NLC_CHECK_MAX, .max = 1 },
	[ETHTOOL_A_RINGS_TX_PUSH_BUF_LEN] = { .type = NLC_U32 },
	[ETHTOOL_A_RINGS_HDS_THRESH] = { .type = NLC_U32 },
};

static const struct nlc_policy ethnl_features_set_policy[ETHTOOL_A_FEATURES_WANTED + 1] = {
	[ETHTOOL_A_FEATURES_HEADER] = ETHNL_HEADER,
	[ETHTOOL_A_FEATURES_WANTED] = { .type = NLC_NESTED },
};

static const struct nlc_policy ethnl_rss_get_policy[NL_ETHTOOL_A_RSS_MAX + 1] = {
	[ETHTOOL_A_RSS_HEADER] = ETHNL_HEADER,
	[ETHTOOL_A_RSS_CONTEXT] = { .type = NLC_U32 },
	[ETHTOOL_A_RSS_START_CONTEXT] = { .type = NLC_U32 },
};

/* RXH_XFRM_SYM_OR_XOR (linux/ethtool.h, 6.13) */
#define NLC_RXH_XFRM_SYM_OR_XOR (1u << 1)

static const struct nlc_policy ethnl_rss_set_policy[NL_ETHTOOL_A_RSS_MAX + 1] = {
	[ETHTOOL_A_RSS_HEADER] = ETHNL_HEADER,
	[ETHTOOL_A_RSS_CONTEXT] = { .type = NLC_U32 },
	[ETHTOOL_A_RSS_HFUNC] = U32_MIN(1),
	[ETHTOOL_A_RSS_INDIR] = { .type = NLC_BINARY },
	[ETHTOOL_A_RSS_HKEY] = { .type = NLC_BINARY, .check = NLC_CHECK_MIN, .min = 1 },
	[ETHTOOL_A_RSS_INPUT_XFRM] = U32_MAX_(NLC_RXH_XFRM_SYM_OR_XOR),
	/* the per-flow hash fields: a nest whose own policy is left to the server */
	[ETHTOOL_A_RSS_FLOW_HASH] = { .type = NLC_NESTED },
};

static const struct nlc_op ethtool_ops[] = {
	{ ETHTOOL_MSG_RSS_SET, ethnl_rss_set_policy, NL_ETHTOOL_A_RSS_MAX, NULL, 0, true, false },
	{ ETHTOOL_MSG_FEATURES_GET, ethnl_get_policy, 1, ethnl_get_policy, 1, true, true },
	{ ETHTOOL_MSG_FEATURES_SET, ethnl_features_set_policy, ETHTOOL_A_FEATURES_WANTED, NULL, 0,
	  true, false },
	{ ETHTOOL_MSG_RINGS_GET, ethnl_get_policy, 1, ethnl_get_policy, 1, true, true },
	{ ETHTOOL_MSG_RINGS_SET, ethnl_rings_set_policy, ETHTOOL_A_RINGS_HDS_THRESH, NULL, 0, true,
	  false },
	{ ETHTOOL_MSG_CHANNELS_GET, ethnl_get_policy, 1, ethnl_get_policy, 1, true, true },
	{ ETHTOOL_MSG_CHANNELS_SET, ethnl_channels_set_policy, ETHTOOL_A_CHANNELS_COMBINED_COUNT,
	  NULL, 0, true, false },
	{ ETHTOOL_MSG_RSS_GET, ethnl_rss_get_policy, ETHTOOL_A_RSS_CONTEXT, ethnl_rss_get_policy,
	  NL_ETHTOOL_A_RSS_MAX, true, true },
};

/* reply attribute sets (ethtool.yaml) */
static const struct nlc_policy ethnl_channels_policy[ETHTOOL_A_CHANNELS_COMBINED_COUNT + 1] = {
	[ETHTOOL_A_CHANNELS_HEADER] = ETHNL_HEADER,
	[ETHTOOL_A_CHANNELS_RX_MAX... ETHTOOL_A_CHANNELS_COMBINED_COUNT] = { .type = NLC_U32 },
};

static const struct nlc_policy ethnl_rings_policy[NL_ETHTOOL_A_RINGS_MAX + 1] = {
	[ETHTOOL_A_RINGS_HEADER] = ETHNL_HEADER,
	[ETHTOOL_A_RINGS_RX_MAX... ETHTOOL_A_RINGS_RX_BUF_LEN] = { .type = NLC_U32 },
	[ETHTOOL_A_RINGS_TCP_DATA_SPLIT] = { .type = NLC_U8 },
	[ETHTOOL_A_RINGS_CQE_SIZE] = { .type = NLC_U32 },
	[ETHTOOL_A_RINGS_TX_PUSH] = { .type = NLC_U8 },
	[ETHTOOL_A_RINGS_RX_PUSH] = { .type = NLC_U8 },
	[ETHTOOL_A_RINGS_TX_PUSH_BUF_LEN... NL_ETHTOOL_A_RINGS_MAX] = { .type = NLC_U32 },
};

static const struct nlc_policy ethnl_features_policy[ETHTOOL_A_FEATURES_NOCHANGE + 1] = {
	[ETHTOOL_A_FEATURES_HEADER] = ETHNL_HEADER,
	[ETHTOOL_A_FEATURES_HW... ETHTOOL_A_FEATURES_NOCHANGE] = { .type = NLC_NESTED },
};

static const struct nlc_policy ethnl_rss_policy[NL_ETHTOOL_A_RSS_MAX + 1] = {
	[ETHTOOL_A_RSS_HEADER] = ETHNL_HEADER,
	[ETHTOOL_A_RSS_CONTEXT] = { .type = NLC_U32 },
	[ETHTOOL_A_RSS_HFUNC] = { .type = NLC_U32 },
	[ETHTOOL_A_RSS_INDIR] = { .type = NLC_BINARY },
	[ETHTOOL_A_RSS_HKEY] = { .type = NLC_BINARY },
	[ETHTOOL_A_RSS_INPUT_XFRM] = { .type = NLC_U32 },
	[ETHTOOL_A_RSS_START_CONTEXT] = { .type = NLC_U32 },
};

const struct nlc_policy *nlc_ethtool_reply_policy(uint8_t cmd, unsigned int *maxtype)
{
	switch (cmd) {
	case ETHTOOL_MSG_CHANNELS_GET_REPLY:
		*maxtype = ETHTOOL_A_CHANNELS_COMBINED_COUNT;
		return ethnl_channels_policy;
	case ETHTOOL_MSG_RINGS_GET_REPLY:
		*maxtype = NL_ETHTOOL_A_RINGS_MAX;
		return ethnl_rings_policy;
	case ETHTOOL_MSG_FEATURES_GET_REPLY:
	case ETHTOOL_MSG_FEATURES_SET_REPLY:
		*maxtype = ETHTOOL_A_FEATURES_NOCHANGE;
		return ethnl_features_policy;
	case ETHTOOL_MSG_RSS_GET_REPLY:
		*maxtype = NL_ETHTOOL_A_RSS_MAX;
		return ethnl_rss_policy;
	default:
		*maxtype = 0;
		return NULL;
	}
}

int nlc_ethtool_start(struct nlc_msg *m, void *buf, size_t cap, uint16_t family, uint32_t seq,
		      uint8_t cmd, uint32_t ifindex, uint32_t header_flags)
{
	struct nlattr *hdr;

	if (nlc_genl_start(m, buf, cap, family, NLM_F_REQUEST | NLM_F_ACK, seq, 0, cmd,
			   ETHTOOL_GENL_VERSION))
		return -EMSGSIZE;
	hdr = nlc_nest_start(m, 1);
	nlc_put_u32(m, ETHTOOL_A_HEADER_DEV_INDEX, ifindex);
	if (header_flags)
		nlc_put_u32(m, ETHTOOL_A_HEADER_FLAGS, header_flags);
	nlc_nest_end(m, hdr);
	return m->overflow ? -EMSGSIZE : 0;
}

int nlc_ethtool_features_set_req(void *buf, size_t cap, uint16_t family, uint32_t seq,
				 uint32_t ifindex, const char *name, bool on)
{
	struct nlattr *wanted, *bits, *bit;
	struct nlc_msg m;

	if (nlc_ethtool_start(&m, buf, cap, family, seq, ETHTOOL_MSG_FEATURES_SET, ifindex, 0))
		return -EMSGSIZE;
	/* a verbose bitset with a mask: the listed bit is set when VALUE is there, else cleared */
	wanted = nlc_nest_start(&m, ETHTOOL_A_FEATURES_WANTED);
	bits = nlc_nest_start(&m, ETHTOOL_A_BITSET_BITS);
	bit = nlc_nest_start(&m, ETHTOOL_A_BITSET_BITS_BIT);
	nlc_put_str(&m, ETHTOOL_A_BITSET_BIT_NAME, name);
	if (on)
		nlc_put_flag(&m, ETHTOOL_A_BITSET_BIT_VALUE);
	nlc_nest_end(&m, bit);
	nlc_nest_end(&m, bits);
	nlc_nest_end(&m, wanted);
	return nlc_msg_end(&m);
}

int nlc_ethtool_rss_set_req(void *buf, size_t cap, uint16_t family, uint32_t seq, uint32_t ifindex,
			    uint32_t context, const uint32_t *indir, unsigned int n)
{
	struct nlc_msg m;

	if (nlc_ethtool_start(&m, buf, cap, family, seq, ETHTOOL_MSG_RSS_SET, ifindex, 0))
		return -EMSGSIZE;
	if (context)
		nlc_put_u32(&m, ETHTOOL_A_RSS_CONTEXT, context);
	/* the table as the kernel reads it: n host-order u32 queue indices */
	if ((size_t)n * sizeof(uint32_t) > UINT16_MAX)
		return -EMSGSIZE;
	nlc_put_bin(&m, ETHTOOL_A_RSS_INDIR, indir, (size_t)n * sizeof(uint32_t));
	return nlc_msg_end(&m);
}

/*
 * ethnl_parse_header_dev_get(): a request names its device by index or by
 * name; the lookup itself is the server's.
 */
static int nlc_ethtool_header(struct nlc_request *req, const void *msg, struct nlc_extack *ext)
{
	const struct nlattr *hdr = req->attrs.tb[1];

	memset(&req->header, 0, sizeof(req->header));
	if (!nlc_has(&req->attrs, 1)) {
		if (req->dump)
			return 0;
		/* v6.18 names the missing header attribute, with no message */
		return nlc_missing(ext, msg, NULL, 1);
	}
	nlc_parse_nested(&req->header, hdr, ethnl_header_policy, NL_ETHTOOL_A_HEADER_MAX);
	if (!req->dump && !nlc_has(&req->header, ETHTOOL_A_HEADER_DEV_INDEX) &&
	    !nlc_has(&req->header, ETHTOOL_A_HEADER_DEV_NAME))
		return nlc_bad(ext, msg, hdr, -EINVAL, "neither ifindex nor name specified");
	return 0;
}

int nlc_ethtool_parse_req(const void *msg, size_t len, uint16_t family, struct nlc_request *req,
			  struct nlc_extack *ext)
{
	const struct nlc_op *op;
	int err;

	err = nlc_parse_genl_req(msg, len, family, ethtool_ops,
				 sizeof(ethtool_ops) / sizeof(ethtool_ops[0]), req, &op, ext);
	if (err)
		return err;
	return nlc_ethtool_header(req, msg, ext);
}

int nlc_ethtool_reply(void *buf, size_t cap, uint16_t family, uint32_t seq, uint32_t portid,
		      uint8_t cmd, uint32_t ifindex, const char *ifname, const struct nlc_obj *o)
{
	const struct nlc_policy *policy;
	unsigned int maxtype;
	struct nlattr *hdr;
	struct nlc_msg m;

	policy = nlc_ethtool_reply_policy(cmd, &maxtype);
	if (!policy)
		return -EOPNOTSUPP;
	if (nlc_genl_start(&m, buf, cap, family, 0, seq, portid, cmd, ETHTOOL_GENL_VERSION))
		return -EMSGSIZE;
	/* ethnl_fill_reply_header(): the device's index and name */
	hdr = nlc_nest_start(&m, 1);
	nlc_put_u32(&m, ETHTOOL_A_HEADER_DEV_INDEX, ifindex);
	if (ifname)
		nlc_put_str(&m, ETHTOOL_A_HEADER_DEV_NAME, ifname);
	nlc_nest_end(&m, hdr);
	for (unsigned int t = 2; t <= maxtype; t++)
		nlc_put_attr_of(&m, o, t, policy, maxtype);
	return nlc_msg_end(&m);
}

int nlc_ethtool_parse_reply(const void *msg, size_t len, uint16_t family, uint8_t cmd,
			    struct nlc_obj *o, struct nlc_extack *ext)
{
	unsigned int maxtype = 0;
	const struct nlc_policy *policy = nlc_ethtool_reply_policy(cmd, &maxtype);

	return nlc_parse_reply(msg, len, family, cmd, policy, maxtype, o, ext);
}

static const struct nlc_policy ethnl_bitset_policy[ETHTOOL_A_BITSET_MASK + 1] = {
	[ETHTOOL_A_BITSET_NOMASK] = { .type = NLC_FLAG },
	[ETHTOOL_A_BITSET_SIZE] = { .type = NLC_U32 },
	[ETHTOOL_A_BITSET_BITS] = { .type = NLC_NESTED },
	[ETHTOOL_A_BITSET_VALUE] = { .type = NLC_BINARY },
	[ETHTOOL_A_BITSET_MASK] = { .type = NLC_BINARY },
};

static const struct nlc_policy ethnl_bit_policy[ETHTOOL_A_BITSET_BIT_VALUE + 1] = {
	[ETHTOOL_A_BITSET_BIT_INDEX] = { .type = NLC_U32 },
	[ETHTOOL_A_BITSET_BIT_NAME] = { .type = NLC_NUL_STRING },
	[ETHTOOL_A_BITSET_BIT_VALUE] = { .type = NLC_FLAG },
};

int nlc_bitset_test(const struct nlattr *bitset, const char *name)
{
	const struct nlattr *nla;
	struct nlc_obj set, bit;
	long rem;
	int err;

	err = nlc_parse_attrs(&set, nlc_attr_data(bitset), nlc_attr_len(bitset),
			      ethnl_bitset_policy, ETHTOOL_A_BITSET_MASK, NLC_VALIDATE_STRICT_ATTRS,
			      NULL, NULL);
	if (err)
		return -EINVAL;
	if (!nlc_has(&set, ETHTOOL_A_BITSET_BITS))
		return -ENOENT;
	nlc_for_each_attr(nla, nlc_attr_data(set.tb[ETHTOOL_A_BITSET_BITS]),
			  nlc_attr_len(set.tb[ETHTOOL_A_BITSET_BITS]), rem)
	{
		const struct nlattr *bname;

		if (nlc_attr_type(nla) != ETHTOOL_A_BITSET_BITS_BIT)
			return -EINVAL;
		err = nlc_parse_attrs(&bit, nlc_attr_data(nla), nlc_attr_len(nla), ethnl_bit_policy,
				      ETHTOOL_A_BITSET_BIT_VALUE, NLC_VALIDATE_STRICT_ATTRS, NULL,
				      NULL);
		if (err)
			return -EINVAL;
		bname = bit.tb[ETHTOOL_A_BITSET_BIT_NAME];
		if (!bname || strcmp(nlc_attr_data(bname), name))
			continue;
		/* a list (no mask) names only the bits that are set */
		return nlc_has(&set, ETHTOOL_A_BITSET_NOMASK) ||
		       nlc_has(&bit, ETHTOOL_A_BITSET_BIT_VALUE);
	}
	return nlc_has(&set, ETHTOOL_A_BITSET_NOMASK) ? 0 : -ENOENT;
}

/* ---- acks, errors, the end of dumps (net/netlink/af_netlink.c) ---- */

static const struct nlc_policy nlc_ext_policy[NLMSGERR_ATTR_MAX + 1] = {
	[NLMSGERR_ATTR_MSG] = { .type = NLC_NUL_STRING },
	[NLMSGERR_ATTR_OFFS] = { .type = NLC_U32 },
	[NLMSGERR_ATTR_COOKIE] = { .type = NLC_BINARY },
	[NLMSGERR_ATTR_POLICY] = { .type = NLC_NESTED },
	[NLMSGERR_ATTR_MISS_TYPE] = { .type = NLC_U32 },
	[NLMSGERR_ATTR_MISS_NEST] = { .type = NLC_U32 },
};

static int nlc_parse_ext_tlvs(const void *data, size_t len, struct nlc_extack *ext)
{
	struct nlc_obj o;
	int err;

	err = nlc_parse_attrs(&o, data, len, nlc_ext_policy, NLMSGERR_ATTR_MAX,
			      NLC_VALIDATE_STRICT_ATTRS, NULL, NULL);
	if (err)
		return -EINVAL;
	if (!ext)
		return 0;
	if (nlc_has(&o, NLMSGERR_ATTR_MSG))
		nlc_set_msg(ext, "%s", (const char *)nlc_attr_data(o.tb[NLMSGERR_ATTR_MSG]));
	if (nlc_has(&o, NLMSGERR_ATTR_OFFS)) {
		ext->off = (uint32_t)o.v[NLMSGERR_ATTR_OFFS];
		ext->has_off = true;
	}
	/* the rule itself stays with the kernel: that there was one is what a client can use */
	ext->has_policy = nlc_has(&o, NLMSGERR_ATTR_POLICY);
	if (nlc_has(&o, NLMSGERR_ATTR_MISS_TYPE)) {
		ext->miss_type = (uint32_t)o.v[NLMSGERR_ATTR_MISS_TYPE];
		ext->has_miss_type = true;
	}
	if (nlc_has(&o, NLMSGERR_ATTR_MISS_NEST)) {
		ext->miss_nest = (uint32_t)o.v[NLMSGERR_ATTR_MISS_NEST];
		ext->has_miss_nest = true;
	}
	return 0;
}

int nlc_parse_status(const void *msg, size_t len, int *err, struct nlc_extack *ext)
{
	const struct nlmsghdr *nlh = msg;
	const uint8_t *payload = (const uint8_t *)msg + NLMSG_HDRLEN;
	size_t plen, hlen;
	int32_t e;

	nlc_extack_clear(ext);
	*err = 0;
	if (len < NLMSG_HDRLEN || nlh->nlmsg_len < NLMSG_HDRLEN || nlh->nlmsg_len > len)
		return -EINVAL;
	plen = nlh->nlmsg_len - NLMSG_HDRLEN;
	if (nlh->nlmsg_type == NLMSG_DONE) {
		/* the dump's errno; absent from an old kernel's DONE */
		if (plen < sizeof(e))
			return 0;
		memcpy(&e, payload, sizeof(e));
		*err = e;
		hlen = NLMSG_ALIGN(sizeof(e));
	} else if (nlh->nlmsg_type == NLMSG_ERROR) {
		struct nlmsgerr nerr;

		if (plen < sizeof(nerr))
			return -EINVAL;
		memcpy(&nerr, payload, sizeof(nerr));
		*err = nerr.error;
		hlen = sizeof(nerr);
		/* the request comes back whole unless capped (NETLINK_CAP_ACK, or an ack) */
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
			if (nerr.msg.nlmsg_len < NLMSG_HDRLEN)
				return -EINVAL;
			hlen += nerr.msg.nlmsg_len - NLMSG_HDRLEN;
		}
		hlen = NLMSG_ALIGN(hlen);
	} else {
		return -EINVAL;
	}
	if (*err > 0 || *err < -4095)
		return -EINVAL;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return 0;
	if (hlen > plen)
		return -EINVAL;
	return nlc_parse_ext_tlvs(payload + hlen, plen - hlen, ext);
}

/* netlink policy dump attribute numbers the 6.1 headers lack */
#define NLC_ATTR_TYPE_UINT 17
#define NLC_POLICY_TYPE_ATTR_MASK 12

static uint64_t nlc_type_max(uint8_t type)
{
	switch (type) {
	case NLC_U8:
		return UINT8_MAX;
	case NLC_U16:
		return UINT16_MAX;
	case NLC_U32:
		return UINT32_MAX;
	default:
		return UINT64_MAX;
	}
}

/*
 * NLMSGERR_ATTR_POLICY: the broken rule, as __netlink_policy_dump_write_attr()
 * writes it for an error (integer bounds or mask, length limits, the type last).
 */
static void nlc_put_policy(struct nlc_msg *m, const struct nlc_policy *pt)
{
	static const uint32_t nl_type[] = {
		[NLC_U8] = NL_ATTR_TYPE_U8,
		[NLC_U16] = NL_ATTR_TYPE_U16,
		[NLC_U32] = NL_ATTR_TYPE_U32,
		[NLC_U64] = NL_ATTR_TYPE_U64,
		[NLC_UINT] = NLC_ATTR_TYPE_UINT,
		[NLC_S32] = NL_ATTR_TYPE_S32,
		[NLC_FLAG] = NL_ATTR_TYPE_FLAG,
		[NLC_STRING] = NL_ATTR_TYPE_STRING,
		[NLC_NUL_STRING] = NL_ATTR_TYPE_NUL_STRING,
		[NLC_BINARY] = NL_ATTR_TYPE_BINARY,
		[NLC_NESTED] = NL_ATTR_TYPE_NESTED,
	};
	struct nlattr *nest;
	uint64_t min = 0, max;

	if (pt->type == NLC_UNSPEC || pt->type >= sizeof(nl_type) / sizeof(nl_type[0]))
		return;
	nest = nlc_nest_start(m, NLMSGERR_ATTR_POLICY);
	switch (pt->type) {
	case NLC_U8:
	case NLC_U16:
	case NLC_U32:
	case NLC_U64:
	case NLC_UINT:
		if (pt->check == NLC_CHECK_MASK) {
			nlc_put_u64(m, NLC_POLICY_TYPE_ATTR_MASK, pt->max);
			break;
		}
		max = nlc_type_max(pt->type);
		if (pt->check == NLC_CHECK_MIN || pt->check == NLC_CHECK_RANGE)
			min = pt->min;
		if (pt->check == NLC_CHECK_MAX || pt->check == NLC_CHECK_RANGE)
			max = pt->max;
		nlc_put_u64(m, NL_POLICY_TYPE_ATTR_MIN_VALUE_U, min);
		nlc_put_u64(m, NL_POLICY_TYPE_ATTR_MAX_VALUE_U, max);
		break;
	case NLC_S32: {
		int64_t smin = INT32_MIN, smax = INT32_MAX;

		if (pt->check == NLC_CHECK_MIN || pt->check == NLC_CHECK_RANGE)
			smin = (int64_t)pt->min;
		if (pt->check == NLC_CHECK_MAX || pt->check == NLC_CHECK_RANGE)
			smax = (int64_t)pt->max;
		nlc_put_u64(m, NL_POLICY_TYPE_ATTR_MIN_VALUE_S, (uint64_t)smin);
		nlc_put_u64(m, NL_POLICY_TYPE_ATTR_MAX_VALUE_S, (uint64_t)smax);
		break;
	}
	case NLC_BINARY:
		if (pt->check == NLC_CHECK_MIN || pt->check == NLC_CHECK_RANGE)
			nlc_put_u32(m, NL_POLICY_TYPE_ATTR_MIN_LENGTH, (uint32_t)pt->min);
		/* fall through */
	case NLC_STRING:
	case NLC_NUL_STRING:
		if (pt->len)
			nlc_put_u32(m, NL_POLICY_TYPE_ATTR_MAX_LENGTH, pt->len);
		break;
	default:
		break;
	}
	nlc_put_u32(m, NL_POLICY_TYPE_ATTR_TYPE, nl_type[pt->type]);
	nlc_nest_end(m, nest);
}

static void nlc_put_ext(struct nlc_msg *m, const struct nlc_extack *ext, bool with_attrs)
{
	if (!ext)
		return;
	if (ext->has_msg)
		nlc_put_str(m, NLMSGERR_ATTR_MSG, ext->msg);
	if (!with_attrs)
		return;
	if (ext->has_off)
		nlc_put_u32(m, NLMSGERR_ATTR_OFFS, ext->off);
	if (ext->policy)
		nlc_put_policy(m, ext->policy);
	if (ext->has_miss_type)
		nlc_put_u32(m, NLMSGERR_ATTR_MISS_TYPE, ext->miss_type);
	if (ext->has_miss_nest)
		nlc_put_u32(m, NLMSGERR_ATTR_MISS_NEST, ext->miss_nest);
}

static bool nlc_ext_any(const struct nlc_extack *ext, bool with_attrs)
{
	return ext && (ext->has_msg ||
		       (with_attrs && (ext->has_off || ext->has_miss_type || ext->has_miss_nest)));
}

int nlc_error_reply(void *buf, size_t cap, const struct nlmsghdr *req, uint32_t portid, int err,
		    const struct nlc_extack *ext, bool cap_ack)
{
	size_t echo = sizeof(struct nlmsghdr);
	struct nlc_msg m = { .cap = cap };
	struct nlmsgerr *e;
	uint16_t flags = 0;

	/* netlink_ack(): an ack, or a capped error, echoes only the request's header */
	if (err && !cap_ack)
		echo = req->nlmsg_len;
	else
		flags |= NLM_F_CAPPED;
	/* the bad attribute and the missing one are only said with an error */
	if (nlc_ext_any(ext, err != 0))
		flags |= NLM_F_ACK_TLVS;
	if (cap < NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(int) + echo) || echo < sizeof(struct nlmsghdr))
		return -EMSGSIZE;
	memset(buf, 0, cap);
	m.nlh = mnl_nlmsg_put_header(buf);
	m.nlh->nlmsg_type = NLMSG_ERROR;
	m.nlh->nlmsg_flags = flags;
	m.nlh->nlmsg_seq = req->nlmsg_seq;
	m.nlh->nlmsg_pid = portid;
	e = mnl_nlmsg_put_extra_header(m.nlh, sizeof(int) + echo);
	e->error = err;
	memcpy(&e->msg, req, echo);
	nlc_put_ext(&m, ext, err != 0);
	return nlc_msg_end(&m);
}

int nlc_done_reply(void *buf, size_t cap, uint32_t seq, uint32_t portid, int err,
		   const struct nlc_extack *ext)
{
	struct nlc_msg m = { .cap = cap };
	int32_t *e;

	if (cap < NLMSG_HDRLEN + sizeof(*e))
		return -EMSGSIZE;
	memset(buf, 0, cap);
	m.nlh = mnl_nlmsg_put_header(buf);
	m.nlh->nlmsg_type = NLMSG_DONE;
	m.nlh->nlmsg_flags = NLM_F_MULTI;
	m.nlh->nlmsg_seq = seq;
	m.nlh->nlmsg_pid = portid;
	e = mnl_nlmsg_put_extra_header(m.nlh, sizeof(*e));
	*e = err;
	/* netlink_dump_done(): the end of a dump carries the same TLVs as an ack (netlink_ack_tlv_fill()) */
	if (nlc_ext_any(ext, err != 0)) {
		m.nlh->nlmsg_flags |= NLM_F_ACK_TLVS;
		nlc_put_ext(&m, ext, err != 0);
	}
	return nlc_msg_end(&m);
}
