/* SPDX-License-Identifier: MIT */
/*
 * The generic netlink codec for the netdev and ethtool families: building
 * and parsing their messages in both directions (a client's requests and a
 * server's parse of them; a server's replies and a client's parse of them),
 * with the kernel's attribute validation (lib/nlattr.c) and its errno and
 * extack messages. Pure: no sockets, no allocation, no global state, so it
 * can be fuzzed and can answer for the kernel.
 *
 * Objects are kept as the kernel sends them: a struct nlc_obj holds the
 * integer value of each attribute by its kernel number (the UAPI's
 * NETDEV_A_QUEUE_ID and so on), a bit saying which are present, and a
 * pointer to every attribute for strings, binaries and nests (pointing into
 * the message, so valid while the message is).
 */
#ifndef DEVMEM_NETLINK_CODEC_H
#define DEVMEM_NETLINK_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nl-uapi.h"

/* The largest attribute number an object keeps (qstats: 34). */
#define NLC_MAX_ATTR 40

/* The kernel's policy recursion limit (MAX_POLICY_RECURSION_DEPTH). */
#define NLC_MAX_DEPTH 10

/* Attribute types of a policy, as the kernel's NLA_* (include/net/netlink.h). */
enum nlc_type {
	NLC_UNSPEC,
	NLC_U8,
	NLC_U16,
	NLC_U32,
	NLC_U64,
	NLC_UINT, /* 4 or 8 bytes */
	NLC_S32,
	NLC_FLAG,
	NLC_STRING,
	NLC_NUL_STRING,
	NLC_BINARY,
	NLC_NESTED,
};

/* Value checks after the type check, as the kernel's NLA_VALIDATE_*. */
enum nlc_check {
	NLC_CHECK_NONE,
	NLC_CHECK_MIN,
	NLC_CHECK_MAX,
	NLC_CHECK_RANGE,
	NLC_CHECK_MASK, /* bits outside max are reserved */
};

struct nlc_policy {
	uint8_t type;
	uint8_t check;
	uint16_t len; /* strings and binaries: longest payload (0: any); nests: their maxtype */
	uint64_t min;
	uint64_t max;
	const struct nlc_policy *nested; /* NLC_NESTED: the policy of the nest, or none */
	bool multi; /* may repeat (NETDEV_A_DMABUF_QUEUES) */
};

/* How strictly to validate, as the kernel's NL_VALIDATE_* flags. */
#define NLC_VALIDATE_MAXTYPE (1u << 0) /* an unknown attribute type is an error */
#define NLC_VALIDATE_TRAILING (1u << 1) /* bytes after the last attribute are an error */
#define NLC_VALIDATE_STRICT_ATTRS (1u << 2) /* fixed-size types must have their exact size */
#define NLC_VALIDATE_NESTED (1u << 3) /* NLA_F_NESTED set on nests and only on nests */
#define NLC_VALIDATE_UNSPEC (1u << 4) /* a known type without a policy entry is an error */
#define NLC_VALIDATE_LIBERAL 0u
#define NLC_VALIDATE_STRICT                                                         \
	(NLC_VALIDATE_MAXTYPE | NLC_VALIDATE_TRAILING | NLC_VALIDATE_STRICT_ATTRS | \
	 NLC_VALIDATE_NESTED | NLC_VALIDATE_UNSPEC)

/*
 * The extended ack: what the kernel reports with NLMSGERR_ATTR_* beside the
 * errno. Offsets count from the start of the request's nlmsghdr.
 */
struct nlc_extack {
	char msg[160];
	uint32_t off; /* NLMSGERR_ATTR_OFFS */
	uint32_t miss_type; /* NLMSGERR_ATTR_MISS_TYPE */
	uint32_t miss_nest; /* NLMSGERR_ATTR_MISS_NEST */
	/* NLMSGERR_ATTR_POLICY: the rule the bad attribute broke (only a server knows which) */
	const struct nlc_policy *policy;
	bool has_msg, has_off, has_miss_type, has_miss_nest, has_policy;
};

void nlc_extack_clear(struct nlc_extack *ext);

/* One object: integer values and attribute pointers by kernel attribute number. */
struct nlc_obj {
	uint64_t present; /* bit n: attribute n was there */
	uint64_t v[NLC_MAX_ATTR + 1];
	const struct nlattr *tb[NLC_MAX_ATTR + 1];
};

static inline bool nlc_has(const struct nlc_obj *o, unsigned int type)
{
	return type <= NLC_MAX_ATTR && (o->present >> type) & 1;
}

/*
 * Validate the attribute stream [data, data + len) against @policy (entries
 * 0..@maxtype) as the kernel's __nla_validate_parse() does, and fill @o.
 * @msg is the start of the whole message, for the extack's offsets.
 * Returns 0 or the kernel's negative errno, with @ext filled.
 */
int nlc_parse_attrs(struct nlc_obj *o, const void *data, size_t len,
		    const struct nlc_policy *policy, unsigned int maxtype, unsigned int validate,
		    const void *msg, struct nlc_extack *ext);

/* Parse the nest @nla (already validated by its parent) into @o, liberally. */
int nlc_parse_nested(struct nlc_obj *o, const struct nlattr *nla, const struct nlc_policy *policy,
		     unsigned int maxtype);

const void *nlc_attr_data(const struct nlattr *nla);
size_t nlc_attr_len(const struct nlattr *nla);
unsigned int nlc_attr_type(const struct nlattr *nla);

/* ---- building messages ---- */

/* A message under construction in a caller's buffer; errors are sticky. */
struct nlc_msg {
	struct nlmsghdr *nlh;
	size_t cap;
	bool overflow;
};

/* Start a generic netlink message: nlmsghdr + genlmsghdr. */
int nlc_genl_start(struct nlc_msg *m, void *buf, size_t cap, uint16_t type, uint16_t flags,
		   uint32_t seq, uint32_t portid, uint8_t cmd, uint8_t version);
void nlc_put_u8(struct nlc_msg *m, uint16_t type, uint8_t v);
void nlc_put_u16(struct nlc_msg *m, uint16_t type, uint16_t v);
void nlc_put_u32(struct nlc_msg *m, uint16_t type, uint32_t v);
void nlc_put_u64(struct nlc_msg *m, uint16_t type, uint64_t v);
/* NLA_UINT: 4 bytes when the value fits, else 8 (as the kernel's nla_put_uint). */
void nlc_put_uint(struct nlc_msg *m, uint16_t type, uint64_t v);
void nlc_put_flag(struct nlc_msg *m, uint16_t type);
void nlc_put_str(struct nlc_msg *m, uint16_t type, const char *s);
void nlc_put_bin(struct nlc_msg *m, uint16_t type, const void *data, size_t len);
struct nlattr *nlc_nest_start(struct nlc_msg *m, uint16_t type);
void nlc_nest_end(struct nlc_msg *m, struct nlattr *nest);
/* Put every present attribute of @o with its type from @policy. */
void nlc_put_obj(struct nlc_msg *m, const struct nlc_obj *o, const struct nlc_policy *policy,
		 unsigned int maxtype);
/* The message's length, or -EMSGSIZE if it did not fit. */
int nlc_msg_end(struct nlc_msg *m);

/* ---- control family (CTRL_CMD_GETFAMILY) ---- */

#define NLC_MAX_OPS 64
#define NLC_MAX_GROUPS 8

struct nlc_family {
	uint16_t id;
	uint32_t version;
	uint32_t hdrsize;
	uint32_t maxattr;
	char name[GENL_NAMSIZ];
	unsigned int nr_ops;
	struct {
		uint32_t cmd;
		uint32_t flags; /* GENL_CMD_CAP_DO, _DUMP, GENL_ADMIN_PERM... */
	} ops[NLC_MAX_OPS];
	unsigned int nr_groups;
	struct {
		uint32_t id;
		char name[GENL_NAMSIZ];
	} groups[NLC_MAX_GROUPS];
};

int nlc_ctrl_getfamily_req(void *buf, size_t cap, uint32_t seq, const char *name);
/* Parse a CTRL_CMD_NEWFAMILY message (the reply to GETFAMILY). */
int nlc_ctrl_parse_family(const void *msg, size_t len, struct nlc_family *fam,
			  struct nlc_extack *ext);
/* Build the reply a server gives to GETFAMILY. */
int nlc_ctrl_family_reply(void *buf, size_t cap, uint32_t seq, uint32_t portid,
			  const struct nlc_family *fam);

/* ---- netdev family ---- */

/* A request as a server sees it after validation. */
#define NLC_MAX_QUEUES 256

struct nlc_queue_id {
	uint32_t id;
	uint32_t type;
};

struct nlc_request {
	uint16_t family;
	uint16_t flags;
	uint32_t seq;
	uint32_t portid;
	uint8_t cmd;
	uint8_t version;
	bool dump;
	struct nlc_obj attrs;
	/* NETDEV_CMD_BIND_RX: the queues, in request order */
	unsigned int nr_queues;
	struct nlc_queue_id queues[NLC_MAX_QUEUES];
	/* ethtool: the request header's fields */
	struct nlc_obj header;
};

/* bind-rx: the request a client sends. rx_page_size 0: not sent. */
int nlc_netdev_bind_rx_req(void *buf, size_t cap, uint16_t family, uint32_t seq, uint32_t ifindex,
			   uint32_t fd, const struct nlc_queue_id *queues, unsigned int nr_queues,
			   uint32_t rx_page_size);
int nlc_netdev_bind_tx_req(void *buf, size_t cap, uint16_t family, uint32_t seq, uint32_t ifindex,
			   uint32_t fd);
/*
 * A get (dump when @dump) of the netdev family: dev, page-pool,
 * page-pool-stats, queue, napi, qstats. @filter's present attributes are
 * sent (e.g. NETDEV_A_QUEUE_IFINDEX for a queue dump of one device).
 */
int nlc_netdev_get_req(void *buf, size_t cap, uint16_t family, uint32_t seq, uint8_t cmd, bool dump,
		       const struct nlc_obj *filter);

/*
 * Parse and validate a netdev request as the kernel's genetlink and the
 * family's policies (netdev-genl-gen.c) do: header lengths, the command and
 * whether it has a do or a dump, every attribute against the command's
 * policy (strict), and the attributes the command requires.
 */
int nlc_netdev_parse_req(const void *msg, size_t len, uint16_t family, struct nlc_request *req,
			 struct nlc_extack *ext);

/* The policy of the attributes of a netdev reply to @cmd, and its maxtype. */
const struct nlc_policy *nlc_netdev_reply_policy(uint8_t cmd, unsigned int *maxtype);

/*
 * Build a reply of the netdev family for @cmd carrying @o (NLM_F_MULTI when
 * @multi; v6.18 puts its dump parts without it, through genlmsg_iput()).
 */
int nlc_netdev_reply(void *buf, size_t cap, uint16_t family, uint32_t seq, uint32_t portid,
		     uint8_t cmd, bool multi, const struct nlc_obj *o);
/* Parse one reply message of the netdev family to @cmd into @o (liberal: newer attributes pass). */
int nlc_netdev_parse_reply(const void *msg, size_t len, uint16_t family, uint8_t cmd,
			   struct nlc_obj *o, struct nlc_extack *ext);

/* ---- ethtool family ---- */

/* Start an ethtool request on @ifindex: genl header and ETHTOOL_A_*_HEADER (attribute 1). */
int nlc_ethtool_start(struct nlc_msg *m, void *buf, size_t cap, uint16_t family, uint32_t seq,
		      uint8_t cmd, uint32_t ifindex, uint32_t header_flags);
/* features-set: ask for @name (e.g. "ntuple-filters", "rx-gro") on or off. */
int nlc_ethtool_features_set_req(void *buf, size_t cap, uint16_t family, uint32_t seq,
				 uint32_t ifindex, const char *name, bool on);
/* rss-set: the indirection table of @context (@n 0: an empty table, the driver's default). */
int nlc_ethtool_rss_set_req(void *buf, size_t cap, uint16_t family, uint32_t seq, uint32_t ifindex,
			    uint32_t context, const uint32_t *indir, unsigned int n);
int nlc_ethtool_parse_req(const void *msg, size_t len, uint16_t family, struct nlc_request *req,
			  struct nlc_extack *ext);
const struct nlc_policy *nlc_ethtool_reply_policy(uint8_t cmd, unsigned int *maxtype);
int nlc_ethtool_reply(void *buf, size_t cap, uint16_t family, uint32_t seq, uint32_t portid,
		      uint8_t cmd, uint32_t ifindex, const char *ifname, const struct nlc_obj *o);
int nlc_ethtool_parse_reply(const void *msg, size_t len, uint16_t family, uint8_t cmd,
			    struct nlc_obj *o, struct nlc_extack *ext);
/*
 * Whether bit @name is set in a bitset attribute (ETHTOOL_A_BITSET_*) sent in
 * the verbose form. Returns 1, 0, -ENOENT when the set does not list it,
 * or -EINVAL for a malformed set.
 */
int nlc_bitset_test(const struct nlattr *bitset, const char *name);

/* ---- acks, errors and the end of dumps ---- */

/*
 * Parse an NLMSG_ERROR (error 0 is an ack) or an NLMSG_DONE message: the
 * errno (negative, 0 for an ack or a clean end) and the extended ack's
 * attributes. Returns 0 when the message parsed, -EINVAL when it is
 * malformed; *@err gets the message's errno.
 */
int nlc_parse_status(const void *msg, size_t len, int *err, struct nlc_extack *ext);
/* Build the NLMSG_ERROR answer to @req (@err 0: an ack), capped when @cap_ack. */
int nlc_error_reply(void *buf, size_t cap, const struct nlmsghdr *req, uint32_t portid, int err,
		    const struct nlc_extack *ext, bool cap_ack);
/* Build the NLMSG_DONE closing a dump, with the dump's errno and extack. */
int nlc_done_reply(void *buf, size_t cap, uint32_t seq, uint32_t portid, int err,
		   const struct nlc_extack *ext);

#endif
