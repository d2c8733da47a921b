// SPDX-License-Identifier: MIT
/*
 * Generic netlink sockets to the running kernel, over libmnl: requests with
 * NLM_F_ACK, multi-part dumps ending in NLMSG_DONE (which carries the
 * dump's errno), and extended acks turned into the library's errno and
 * devmem_last_error(). The messages themselves are the codec's.
 */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sockios.h>

#include <libmnl/libmnl.h>

#include "lib/error.h"
#include "nl.h"

#define NL_MAX_BINDINGS 64

struct nl_sock {
	struct mnl_socket *mnl;
	uint32_t portid;
	uint32_t seq;
	uint16_t netdev_family; /* 0 until resolved */
	uint16_t ethtool_family;
	struct nlc_extack ext; /* of the last failed request */
	uint16_t last_end; /* NLMSG_ERROR or NLMSG_DONE */
	unsigned int nr_bindings;
	uint32_t bindings[NL_MAX_BINDINGS];
	/* requests, and replies: a dump part is at most 32 KiB (libmnl's MNL_SOCKET_DUMP_SIZE) */
	uint8_t tx[16384];
	uint8_t rx[32768];
};

static int nl_setopt(struct nl_sock *sk, int opt)
{
	int one = 1;

	if (mnl_socket_setsockopt(sk->mnl, opt, &one, sizeof(one)) < 0)
		return -errno;
	return 0;
}

int nl_sock_open(struct nl_sock **out)
{
	struct nl_sock *sk;
	int err;

	sk = calloc(1, sizeof(*sk));
	if (!sk)
		return devmem_err(-ENOMEM, "netlink: out of memory");
	sk->mnl = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC);
	if (!sk->mnl) {
		err = devmem_err(-errno, "netlink: cannot open a generic netlink socket: %s",
				 strerror(errno));
		goto err_free;
	}
	/*
	 * Extended acks carry the kernel's reason; capped acks keep an error
	 * from echoing a whole request back; strict checking makes the
	 * kernel refuse what it would otherwise ignore, where it offers it.
	 */
	err = nl_setopt(sk, NETLINK_EXT_ACK);
	if (!err)
		err = nl_setopt(sk, NETLINK_CAP_ACK);
	if (!err)
		err = nl_setopt(sk, NETLINK_GET_STRICT_CHK);
	if (err) {
		devmem_err(err, "netlink: socket options: %s", strerror(-err));
		goto err_close;
	}
	if (mnl_socket_bind(sk->mnl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = devmem_err(-errno, "netlink: bind: %s", strerror(errno));
		goto err_close;
	}
	sk->portid = mnl_socket_get_portid(sk->mnl);
	sk->seq = 1;
	*out = sk;
	return 0;

err_close:
	mnl_socket_close(sk->mnl);
err_free:
	free(sk);
	return err;
}

void nl_sock_close(struct nl_sock *sk)
{
	if (!sk)
		return;
	mnl_socket_close(sk->mnl);
	free(sk);
}

int nl_sock_fd(const struct nl_sock *sk)
{
	return mnl_socket_get_fd(sk->mnl);
}

const struct nlc_extack *nl_sock_last_extack(const struct nl_sock *sk)
{
	return &sk->ext;
}

uint16_t nl_sock_last_end(const struct nl_sock *sk)
{
	return sk->last_end;
}

unsigned int nl_sock_bindings(const struct nl_sock *sk, uint32_t *ids, unsigned int max)
{
	for (unsigned int i = 0; i < sk->nr_bindings && i < max; i++)
		ids[i] = sk->bindings[i];
	return sk->nr_bindings;
}

/* The kernel's errno with its extack, as the thread's last error. */
static int nl_fail(struct nl_sock *sk, const char *what, int err)
{
	const struct nlc_extack *ext = &sk->ext;
	char where[96] = "";

	if (ext->has_miss_type && ext->has_miss_nest)
		snprintf(where, sizeof(where), " (missing attribute %u in the nest at offset %u)",
			 ext->miss_type, ext->miss_nest);
	else if (ext->has_miss_type)
		snprintf(where, sizeof(where), " (missing attribute %u)", ext->miss_type);
	else if (ext->has_off)
		snprintf(where, sizeof(where), " (bad attribute at offset %u)", ext->off);
	return devmem_err(err, "%s: %s%s", what, ext->has_msg ? ext->msg : strerror(-err), where);
}

typedef int (*nl_msg_cb)(struct nl_sock *sk, const struct nlmsghdr *nlh, void *arg);

/*
 * Send @len bytes of the request in sk->tx and read until its ack, error or
 * NLMSG_DONE, handing every other message of the exchange to @cb.
 */
static int nl_exchange(struct nl_sock *sk, size_t len, const char *what, nl_msg_cb cb, void *arg)
{
	struct nlmsghdr *req = (struct nlmsghdr *)sk->tx;
	uint32_t seq = req->nlmsg_seq;
	bool dump = (req->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
	int cb_err = 0, err;

	nlc_extack_clear(&sk->ext);
	sk->last_end = 0;
	if (mnl_socket_sendto(sk->mnl, sk->tx, len) < 0)
		return nl_fail(sk, what, -errno);
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(sk->mnl, sk->rx, sizeof(sk->rx));
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)sk->rx;
		int rem = (int)n;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return nl_fail(sk, what, -errno);
		}
		/* a netlink socket never reads empty: the exchange cannot end */
		if (n == 0)
			return nl_fail(sk, what, -EBADMSG);
		for (; mnl_nlmsg_ok(nlh, rem); nlh = mnl_nlmsg_next(nlh, &rem)) {
			/* a late answer to an earlier, abandoned request */
			if (nlh->nlmsg_seq != seq ||
			    (nlh->nlmsg_pid && nlh->nlmsg_pid != sk->portid))
				continue;
			if (nlh->nlmsg_type == NLMSG_NOOP)
				continue;
			if (nlh->nlmsg_type == NLMSG_OVERRUN)
				return nl_fail(sk, what, -ENOBUFS);
			if (nlh->nlmsg_type == NLMSG_ERROR || nlh->nlmsg_type == NLMSG_DONE) {
				sk->last_end = nlh->nlmsg_type;
				if (nlc_parse_status(nlh, nlh->nlmsg_len, &err, &sk->ext))
					return nl_fail(sk, what, -EBADMSG);
				if (err)
					return nl_fail(sk, what, err);
				if (cb_err)
					return cb_err;
				/* an ack ends a do; a dump ends only with its DONE */
				if (!dump || nlh->nlmsg_type == NLMSG_DONE)
					return 0;
				continue;
			}
			if (!cb_err && cb)
				cb_err = cb(sk, nlh, arg);
		}
	}
}

static uint32_t nl_next_seq(struct nl_sock *sk)
{
	return ++sk->seq;
}

int nl_request_raw(struct nl_sock *sk, const void *req, size_t len)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)sk->tx;

	if (len < NLMSG_HDRLEN || len > sizeof(sk->tx))
		return devmem_err(-EMSGSIZE, "netlink: a request of %zu bytes", len);
	memcpy(sk->tx, req, len);
	nlh->nlmsg_seq = nl_next_seq(sk);
	return nl_exchange(sk, len, "netlink", NULL, NULL);
}

struct nl_family_ctx {
	struct nlc_family *fam;
	bool found;
};

static int nl_family_cb(struct nl_sock *sk, const struct nlmsghdr *nlh, void *arg)
{
	struct nl_family_ctx *ctx = arg;
	int err;

	err = nlc_ctrl_parse_family(nlh, nlh->nlmsg_len, ctx->fam, &sk->ext);
	if (err)
		return devmem_err(-EBADMSG, "netlink: malformed family reply");
	ctx->found = true;
	return 0;
}

int nl_resolve_family(struct nl_sock *sk, const char *name, struct nlc_family *fam)
{
	struct nl_family_ctx ctx = { .fam = fam };
	int len, err;

	len = nlc_ctrl_getfamily_req(sk->tx, sizeof(sk->tx), nl_next_seq(sk), name);
	if (len < 0)
		return devmem_err(len, "netlink: family name too long");
	err = nl_exchange(sk, (size_t)len, name, nl_family_cb, &ctx);
	if (err)
		return err;
	if (!ctx.found)
		return devmem_err(-EBADMSG, "%s: the kernel acked without a family", name);
	return 0;
}

static int nl_family(struct nl_sock *sk, const char *name, uint16_t *id)
{
	struct nlc_family fam;
	int err;

	if (*id)
		return 0;
	err = nl_resolve_family(sk, name, &fam);
	if (err)
		return err;
	*id = fam.id;
	return 0;
}

/* ---- netdev ---- */

struct nl_obj_ctx {
	uint8_t cmd;
	bool ethtool;
	nl_obj_cb cb;
	void *arg;
	struct nlc_obj *out;
	int count;
};

static int nl_obj_msg(struct nl_sock *sk, const struct nlmsghdr *nlh, void *arg)
{
	struct nl_obj_ctx *ctx = arg;
	struct nlc_obj o;
	int err;

	if (ctx->ethtool)
		err = nlc_ethtool_parse_reply(nlh, nlh->nlmsg_len, sk->ethtool_family, ctx->cmd, &o,
					      NULL);
	else
		err = nlc_netdev_parse_reply(nlh, nlh->nlmsg_len, sk->netdev_family, ctx->cmd, &o,
					     NULL);
	if (err)
		return devmem_err(-EBADMSG, "netlink: malformed reply (%s)", strerror(-err));
	ctx->count++;
	if (ctx->out) {
		*ctx->out = o;
		/* the attributes point into the receive buffer: only the values outlive it */
		memset(ctx->out->tb, 0, sizeof(ctx->out->tb));
	}
	return ctx->cb ? ctx->cb(&o, ctx->arg) : 0;
}

int nl_netdev_get(struct nl_sock *sk, uint8_t cmd, const struct nlc_obj *filter,
		  struct nlc_obj *out)
{
	struct nl_obj_ctx ctx = { .cmd = cmd, .out = out };
	int len, err;

	err = nl_family(sk, NETDEV_FAMILY_NAME, &sk->netdev_family);
	if (err)
		return err;
	len = nlc_netdev_get_req(sk->tx, sizeof(sk->tx), sk->netdev_family, nl_next_seq(sk), cmd,
				 false, filter);
	if (len < 0)
		return devmem_err(len, "netdev: cannot build the request");
	err = nl_exchange(sk, (size_t)len, "netdev", nl_obj_msg, &ctx);
	if (err)
		return err;
	return ctx.count ? 0 : devmem_err(-EBADMSG, "netdev: the kernel acked without a reply");
}

int nl_netdev_dump(struct nl_sock *sk, uint8_t cmd, const struct nlc_obj *filter, nl_obj_cb cb,
		   void *arg)
{
	struct nl_obj_ctx ctx = { .cmd = cmd, .cb = cb, .arg = arg };
	int len, err;

	err = nl_family(sk, NETDEV_FAMILY_NAME, &sk->netdev_family);
	if (err)
		return err;
	len = nlc_netdev_get_req(sk->tx, sizeof(sk->tx), sk->netdev_family, nl_next_seq(sk), cmd,
				 true, filter);
	if (len < 0)
		return devmem_err(len, "netdev: cannot build the request");
	err = nl_exchange(sk, (size_t)len, "netdev", nl_obj_msg, &ctx);
	return err ? err : ctx.count;
}

static int nl_bind(struct nl_sock *sk, int len, uint8_t cmd, uint32_t *id)
{
	struct nl_obj_ctx ctx;
	struct nlc_obj o = { 0 };
	int err;

	if (len < 0)
		return devmem_err(len, "netdev: too many queues for one request");
	memset(&ctx, 0, sizeof(ctx));
	ctx.cmd = cmd;
	ctx.out = &o;
	err = nl_exchange(sk, (size_t)len, cmd == NETDEV_CMD_BIND_RX ? "bind-rx" : "bind-tx",
			  nl_obj_msg, &ctx);
	if (err)
		return err;
	if (!nlc_has(&o, NETDEV_A_DMABUF_ID))
		return devmem_err(-EBADMSG, "netdev: the bind reply has no id");
	*id = (uint32_t)o.v[NETDEV_A_DMABUF_ID];
	if (sk->nr_bindings < NL_MAX_BINDINGS)
		sk->bindings[sk->nr_bindings++] = *id;
	return 0;
}

int nl_netdev_bind_rx(struct nl_sock *sk, uint32_t ifindex, int fd,
		      const struct nlc_queue_id *queues, unsigned int nr_queues,
		      uint32_t rx_page_size, uint32_t *id)
{
	int err;

	err = nl_family(sk, NETDEV_FAMILY_NAME, &sk->netdev_family);
	if (err)
		return err;
	return nl_bind(sk,
		       nlc_netdev_bind_rx_req(sk->tx, sizeof(sk->tx), sk->netdev_family,
					      nl_next_seq(sk), ifindex, (uint32_t)fd, queues,
					      nr_queues, rx_page_size),
		       NETDEV_CMD_BIND_RX, id);
}

int nl_netdev_bind_tx(struct nl_sock *sk, uint32_t ifindex, int fd, uint32_t *id)
{
	int err;

	err = nl_family(sk, NETDEV_FAMILY_NAME, &sk->netdev_family);
	if (err)
		return err;
	return nl_bind(sk,
		       nlc_netdev_bind_tx_req(sk->tx, sizeof(sk->tx), sk->netdev_family,
					      nl_next_seq(sk), ifindex, (uint32_t)fd),
		       NETDEV_CMD_BIND_TX, id);
}

/* ---- ethtool ---- */

static uint8_t nl_ethtool_reply_cmd(uint8_t cmd)
{
	switch (cmd) {
	case ETHTOOL_MSG_CHANNELS_GET:
		return ETHTOOL_MSG_CHANNELS_GET_REPLY;
	case ETHTOOL_MSG_RINGS_GET:
		return ETHTOOL_MSG_RINGS_GET_REPLY;
	case ETHTOOL_MSG_FEATURES_GET:
		return ETHTOOL_MSG_FEATURES_GET_REPLY;
	case ETHTOOL_MSG_RSS_GET:
		return ETHTOOL_MSG_RSS_GET_REPLY;
	default:
		return 0;
	}
}

int nl_ethtool_get(struct nl_sock *sk, uint8_t cmd, uint32_t ifindex, struct nlc_obj *out)
{
	struct nl_obj_ctx ctx = { .cmd = nl_ethtool_reply_cmd(cmd), .ethtool = true, .out = out };
	struct nlc_msg m;
	int err;

	if (!ctx.cmd)
		return devmem_err(-EOPNOTSUPP, "ethtool: message %u is not a get", cmd);
	err = nl_family(sk, ETHTOOL_GENL_NAME, &sk->ethtool_family);
	if (err)
		return err;
	if (nlc_ethtool_start(&m, sk->tx, sizeof(sk->tx), sk->ethtool_family, nl_next_seq(sk), cmd,
			      ifindex, 0))
		return devmem_err(-EMSGSIZE, "ethtool: cannot build the request");
	err = nl_exchange(sk, m.nlh->nlmsg_len, "ethtool", nl_obj_msg, &ctx);
	if (err)
		return err;
	return ctx.count ? 0 : devmem_err(-EBADMSG, "ethtool: the kernel acked without a reply");
}

int nl_ethtool_set(struct nl_sock *sk, uint8_t cmd, uint32_t ifindex, const struct nlc_obj *o)
{
	const struct nlc_policy *policy;
	unsigned int maxtype;
	struct nlc_obj body;
	struct nlc_msg m;
	int err;

	switch (cmd) {
	case ETHTOOL_MSG_CHANNELS_SET:
		policy = nlc_ethtool_reply_policy(ETHTOOL_MSG_CHANNELS_GET_REPLY, &maxtype);
		break;
	case ETHTOOL_MSG_RINGS_SET:
		policy = nlc_ethtool_reply_policy(ETHTOOL_MSG_RINGS_GET_REPLY, &maxtype);
		break;
	default:
		return devmem_err(-EOPNOTSUPP, "ethtool: message %u is not a set", cmd);
	}
	err = nl_family(sk, ETHTOOL_GENL_NAME, &sk->ethtool_family);
	if (err)
		return err;
	if (nlc_ethtool_start(&m, sk->tx, sizeof(sk->tx), sk->ethtool_family, nl_next_seq(sk), cmd,
			      ifindex, 0))
		return devmem_err(-EMSGSIZE, "ethtool: cannot build the request");
	body = *o;
	body.present &= ~(1ull << 1); /* the header is ours */
	nlc_put_obj(&m, &body, policy, maxtype);
	if (nlc_msg_end(&m) < 0)
		return devmem_err(-EMSGSIZE, "ethtool: cannot build the request");
	return nl_exchange(sk, m.nlh->nlmsg_len, "ethtool", NULL, NULL);
}

struct nl_feature_ctx {
	const char *name;
	int active;
	int hw;
};

static int nl_feature_cb(const struct nlc_obj *o, void *arg)
{
	struct nl_feature_ctx *ctx = arg;

	if (nlc_has(o, ETHTOOL_A_FEATURES_ACTIVE))
		ctx->active = nlc_bitset_test(o->tb[ETHTOOL_A_FEATURES_ACTIVE], ctx->name);
	if (nlc_has(o, ETHTOOL_A_FEATURES_HW))
		ctx->hw = nlc_bitset_test(o->tb[ETHTOOL_A_FEATURES_HW], ctx->name);
	return 0;
}

int nl_ethtool_feature_get(struct nl_sock *sk, uint32_t ifindex, const char *name, bool *active,
			   bool *changeable)
{
	struct nl_feature_ctx f = { .name = name, .active = -ENOENT, .hw = -ENOENT };
	struct nl_obj_ctx ctx = { .cmd = ETHTOOL_MSG_FEATURES_GET_REPLY,
				  .ethtool = true,
				  .cb = nl_feature_cb,
				  .arg = &f };
	struct nlc_msg m;
	int err;

	err = nl_family(sk, ETHTOOL_GENL_NAME, &sk->ethtool_family);
	if (err)
		return err;
	if (nlc_ethtool_start(&m, sk->tx, sizeof(sk->tx), sk->ethtool_family, nl_next_seq(sk),
			      ETHTOOL_MSG_FEATURES_GET, ifindex, 0))
		return devmem_err(-EMSGSIZE, "ethtool: cannot build the request");
	err = nl_exchange(sk, m.nlh->nlmsg_len, "ethtool", nl_obj_msg, &ctx);
	if (err)
		return err;
	/* the active set is a list of the set bits: a name missing from it is off */
	if (f.active == -ENOENT)
		f.active = 0;
	if (f.active < 0 || f.hw == -EINVAL)
		return devmem_err(-EBADMSG, "ethtool: malformed feature bitset");
	*active = f.active > 0;
	if (changeable)
		*changeable = f.hw > 0;
	return 0;
}

int nl_ethtool_feature_set(struct nl_sock *sk, uint32_t ifindex, const char *name, bool on)
{
	int len, err;

	err = nl_family(sk, ETHTOOL_GENL_NAME, &sk->ethtool_family);
	if (err)
		return err;
	len = nlc_ethtool_features_set_req(sk->tx, sizeof(sk->tx), sk->ethtool_family,
					   nl_next_seq(sk), ifindex, name, on);
	if (len < 0)
		return devmem_err(len, "ethtool: feature name too long");
	return nl_exchange(sk, (size_t)len, "ethtool", NULL, NULL);
}

struct nl_indir_ctx {
	uint32_t *indir;
	unsigned int max;
	int size;
};

static int nl_indir_cb(const struct nlc_obj *o, void *arg)
{
	struct nl_indir_ctx *ctx = arg;
	const struct nlattr *nla = o->tb[ETHTOOL_A_RSS_INDIR];
	size_t n;

	if (!nla)
		return 0;
	if (nlc_attr_len(nla) % sizeof(uint32_t))
		return devmem_err(-EBADMSG, "ethtool: an indirection table of %zu bytes",
				  nlc_attr_len(nla));
	n = nlc_attr_len(nla) / sizeof(uint32_t);
	memcpy(ctx->indir, nlc_attr_data(nla), (n < ctx->max ? n : ctx->max) * sizeof(uint32_t));
	ctx->size = (int)n;
	return 0;
}

int nl_ethtool_rss_get_indir(struct nl_sock *sk, uint32_t ifindex, uint32_t *indir,
			     unsigned int max)
{
	struct nl_indir_ctx ind = { .indir = indir, .max = max };
	struct nl_obj_ctx ctx = {
		.cmd = ETHTOOL_MSG_RSS_GET_REPLY, .ethtool = true, .cb = nl_indir_cb, .arg = &ind
	};
	struct nlc_msg m;
	int err;

	err = nl_family(sk, ETHTOOL_GENL_NAME, &sk->ethtool_family);
	if (err)
		return err;
	if (nlc_ethtool_start(&m, sk->tx, sizeof(sk->tx), sk->ethtool_family, nl_next_seq(sk),
			      ETHTOOL_MSG_RSS_GET, ifindex, 0))
		return devmem_err(-EMSGSIZE, "ethtool: cannot build the request");
	err = nl_exchange(sk, m.nlh->nlmsg_len, "ethtool", nl_obj_msg, &ctx);
	return err ? err : ind.size;
}

int nl_ethtool_rss_set_indir(struct nl_sock *sk, uint32_t ifindex, const uint32_t *indir,
			     unsigned int n)
{
	int len, err;

	err = nl_family(sk, ETHTOOL_GENL_NAME, &sk->ethtool_family);
	if (err)
		return err;
	len = nlc_ethtool_rss_set_req(sk->tx, sizeof(sk->tx), sk->ethtool_family, nl_next_seq(sk),
				      ifindex, 0, indir, n);
	if (len < 0)
		return devmem_err(len, "ethtool: an indirection table of %u entries is too long",
				  n);
	return nl_exchange(sk, (size_t)len, "ethtool", NULL, NULL);
}

/* ---- ntuple rules: SIOCETHTOOL (net/ethtool/ioctl.c) ---- */

static int nl_ethtool_ioctl(uint32_t ifindex, void *data, const char *what)
{
	struct ifreq ifr;
	int fd, err = 0;

	memset(&ifr, 0, sizeof(ifr));
	if (!if_indextoname(ifindex, ifr.ifr_name))
		return devmem_err(-ENODEV, "%s: no device with ifindex %u", what, ifindex);
	ifr.ifr_data = data;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return devmem_err(-errno, "%s: socket: %s", what, strerror(errno));
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0)
		err = devmem_err(-errno, "%s on %s: %s", what, ifr.ifr_name, strerror(errno));
	close(fd);
	return err;
}

int nl_ntuple_add(uint32_t ifindex, struct ethtool_rx_flow_spec *fs)
{
	struct ethtool_rxnfc nfc;
	int err;

	memset(&nfc, 0, sizeof(nfc));
	nfc.cmd = ETHTOOL_SRXCLSRLINS;
	nfc.fs = *fs;
	err = nl_ethtool_ioctl(ifindex, &nfc, "ETHTOOL_SRXCLSRLINS");
	if (err)
		return err;
	fs->location = nfc.fs.location;
	return (int)nfc.fs.location;
}

int nl_ntuple_del(uint32_t ifindex, uint32_t location)
{
	struct ethtool_rxnfc nfc;

	memset(&nfc, 0, sizeof(nfc));
	nfc.cmd = ETHTOOL_SRXCLSRLDEL;
	nfc.fs.location = location;
	return nl_ethtool_ioctl(ifindex, &nfc, "ETHTOOL_SRXCLSRLDEL");
}

int nl_ntuple_count(uint32_t ifindex, uint32_t *table_size)
{
	struct ethtool_rxnfc nfc;
	int err;

	memset(&nfc, 0, sizeof(nfc));
	nfc.cmd = ETHTOOL_GRXCLSRLCNT;
	err = nl_ethtool_ioctl(ifindex, &nfc, "ETHTOOL_GRXCLSRLCNT");
	if (err)
		return err;
	if (table_size)
		*table_size = (uint32_t)nfc.data;
	return (int)nfc.rule_cnt;
}

int nl_ntuple_get(uint32_t ifindex, uint32_t location, struct ethtool_rx_flow_spec *fs)
{
	struct ethtool_rxnfc nfc;
	int err;

	memset(&nfc, 0, sizeof(nfc));
	nfc.cmd = ETHTOOL_GRXCLSRULE;
	nfc.fs.location = location;
	err = nl_ethtool_ioctl(ifindex, &nfc, "ETHTOOL_GRXCLSRULE");
	if (err)
		return err;
	*fs = nfc.fs;
	return 0;
}

int nl_ntuple_list(uint32_t ifindex, uint32_t *locs, unsigned int max)
{
	struct ethtool_rxnfc *nfc;
	int count, err;

	count = nl_ntuple_count(ifindex, NULL);
	if (count <= 0)
		return count;
	nfc = calloc(1, sizeof(*nfc) + (size_t)count * sizeof(uint32_t));
	if (!nfc)
		return devmem_err(-ENOMEM, "ETHTOOL_GRXCLSRLALL: out of memory");
	nfc->cmd = ETHTOOL_GRXCLSRLALL;
	nfc->rule_cnt = (uint32_t)count;
	err = nl_ethtool_ioctl(ifindex, nfc, "ETHTOOL_GRXCLSRLALL");
	if (!err) {
		for (unsigned int i = 0; i < nfc->rule_cnt && i < max; i++)
			locs[i] = nfc->rule_locs[i];
		err = (int)nfc->rule_cnt;
	}
	free(nfc);
	return err;
}
