// SPDX-License-Identifier: MIT
/*
 * Generic netlink for unmodified programs: the netdev and ethtool families
 * answered, on the program's own NETLINK_GENERIC socket, for the interfaces
 * the shim emulates.
 *
 * The program's socket stays the kernel's: poll, epoll, nonblocking reads,
 * MSG_PEEK, MSG_TRUNC and every other family keep working as they do. What
 * the program sends to the kernel on it is walked message by message, as
 * netlink_rcv_skb() walks an skb; a request the shim answers is answered
 * here, every other message goes to the kernel unchanged and in order.
 *
 * Answers reach the program through its own receive queue: a netlink socket
 * of the shim (the file's "hidden" socket) unicasts them to the program
 * socket's port id, which netlink allows between user sockets. recvmsg
 * then gives the kernel's source address (port id 0) to what came from the
 * hidden socket, so clients that check who answered (libnl, libmnl, YNL)
 * accept it.
 *
 * A socket connect()ed to the kernel only takes unicasts from port id 0
 * (netlink_getsockbyportid()): the shim keeps such a connect to itself and
 * only binds the socket, which for a peer of port id 0 changes nothing a
 * program can see but that filter.
 *
 * Bindings made through the socket belong to its file: each file has its
 * own control handle, closed (and so every binding released) when the
 * file's last fd is closed, as the kernel releases a socket's bindings in
 * netdev_nl_sock_priv_destroy().
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* the system's ethtool headers before devmem/uapi.h (see netlink/nl-uapi.h) */
#include "netlink/codec.h"

#include "devmem/netdev.h"
#include "lib/compiler.h"
#include "lib/error.h"
#include "net/netdev.h"
#include "ethtool-priv.h"
#include "preload.h"

/*
 * How much of a dump one datagram carries: the kernel's first dump skb is
 * NLMSG_GOODSIZE (a 4 KiB page less the skb's shared info), so a reader that
 * works with the kernel's dumps works with these.
 */
#define PL_NL_GOODSIZE 3776u
/* a request larger than this is never the shim's (it goes to the kernel whole) */
#define PL_NL_MAX_REQ (1u << 20)
/* a features reply with its verbose bitsets fits */
#define PL_NL_REPLY_SIZE 16384u
/* UIO_MAXIOV: the kernel's own limit on a send's iovec */
#define PL_NL_MAX_IOV 1024

/* One datagram the hidden socket sends to the program. */
struct pl_nl_dgram {
	struct pl_nl_dgram *next;
	size_t len;
	size_t cap;
	bool packed; /* a dump's part: more messages may be appended */
	uint8_t data[];
};

struct pl_nl_queue {
	struct pl_nl_dgram *head, *tail;
};

/* The emulation's state of one program netlink socket (a pl_file's priv). */
struct pl_nl {
	/*
	 * Serialises the answers on this socket, as the kernel runs one
	 * generic netlink request at a time (genl_mutex); taken by sendmsg and
	 * by recvmsg's flush of pending answers, never on a plain recv.
	 */
	pthread_mutex_t lock;
	int protocol;
	int hidden; /* the shim's socket; -1 until the first emulated request (lock) */
	uint32_t hidden_portid; /* read lock-free by recvmsg (atomic) */
	struct devmem_ctl *ctl; /* the bindings made on this socket (lock) */
	/* answers the program's receive queue had no room for yet (lock) */
	struct pl_nl_queue pending;
	int has_pending; /* atomic: pending is not empty */
	/*
	 * The kernel refused the hidden socket's unicast: sending to a user
	 * port id of NETLINK_GENERIC takes CAP_NET_ADMIN (netlink_sendmsg(),
	 * NL_CFG_F_NONROOT_SEND). recvmsg then hands the pending answers out
	 * itself (lock).
	 */
	bool direct;
};

/* What one answer needs to know of the program's socket. */
struct pl_nl_ctx {
	struct pl_nl *nl;
	uint32_t portid; /* the program socket's port id: the answers' nlmsg_pid */
	bool cap_ack;
	bool ext_ack;
	struct pl_nl_queue out;
	int oom; /* an answer could not be queued */
};

/* ---- family ids ---- */

struct pl_nl_families {
	uint16_t netdev;
	uint16_t ethtool;
	bool kernel_netdev; /* the kernel has the family itself */
	bool kernel_ethtool;
};

static struct pl_nl_families pl_nl_fam;
static pthread_once_t pl_nl_fam_once = PTHREAD_ONCE_INIT;

/* A netlink socket of the shim's own (libc's calls, never the wrappers). */
static int pl_nl_open_own(uint32_t *portid)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	socklen_t salen = sizeof(sa);
	int fd;

	fd = pl_real.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (fd < 0)
		return -errno;
	if (pl_real.bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    pl_real.getsockname(fd, (struct sockaddr *)&sa, &salen)) {
		int err = -errno;

		pl_real.close(fd);
		return err;
	}
	if (portid)
		*portid = sa.nl_pid;
	return fd;
}

/*
 * Send @req to the kernel on a socket of its own and give each message of
 * the answer to @cb until the answer ends. Returns the answer's errno.
 */
static int pl_nl_ask_kernel(const void *req, size_t len,
			    void (*cb)(const struct nlmsghdr *nlh, void *arg), void *arg)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	uint8_t *buf;
	int fd, err = 0;
	bool done = false;

	fd = pl_nl_open_own(NULL);
	if (fd < 0)
		return fd;
	buf = malloc(32768);
	if (!buf) {
		pl_real.close(fd);
		return -ENOMEM;
	}
	if (pl_real.sendto(fd, req, len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		err = -errno;
		goto out;
	}
	while (!done) {
		ssize_t n = pl_real.recv(fd, buf, 32768, 0);
		const struct nlmsghdr *nlh = (const void *)buf;
		size_t rem = n > 0 ? (size_t)n : 0;

		if (n < 0) {
			err = errno == EINTR ? 0 : -errno;
			if (err)
				break;
			continue;
		}
		for (; NLMSG_OK(nlh, rem); nlh = NLMSG_NEXT(nlh, rem)) {
			if (nlh->nlmsg_type == NLMSG_ERROR || nlh->nlmsg_type == NLMSG_DONE) {
				struct nlc_extack ext;

				nlc_parse_status(nlh, nlh->nlmsg_len, &err, &ext);
				done = true;
				break;
			}
			cb(nlh, arg);
		}
		if (!n)
			break;
	}
out:
	free(buf);
	pl_real.close(fd);
	return err;
}

static void pl_nl_family_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct nlc_family *fam = arg;
	struct nlc_extack ext;

	nlc_ctrl_parse_family(nlh, nlh->nlmsg_len, fam, &ext);
}

/* The kernel's id for family @name, 0 when it has none. */
static uint16_t pl_nl_kernel_family(const char *name)
{
	struct nlc_family fam = { 0 };
	uint8_t req[128];
	int len;

	len = nlc_ctrl_getfamily_req(req, sizeof(req), 1, name);
	if (len < 0 || pl_nl_ask_kernel(req, (size_t)len, pl_nl_family_cb, &fam))
		return 0;
	return fam.id;
}

/* Whether the kernel has a family of id @id. */
static bool pl_nl_kernel_has_id(uint16_t id)
{
	struct nlc_family fam = { 0 };
	uint8_t req[128];
	struct nlc_msg m;
	int len;

	if (nlc_genl_start(&m, req, sizeof(req), GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, 1, 0,
			   CTRL_CMD_GETFAMILY, 1))
		return true;
	nlc_put_u16(&m, CTRL_ATTR_FAMILY_ID, id);
	len = nlc_msg_end(&m);
	if (len < 0)
		return true;
	return pl_nl_ask_kernel(req, (size_t)len, pl_nl_family_cb, &fam) != -ENOENT;
}

/*
 * Resolved once: the kernel's own ids where it has the families, else ids
 * the kernel does not use (generic netlink hands out ids from
 * GENL_START_ALLOC upwards; the shim takes the first free ones from the top
 * of the range so that a family the kernel loads later does not collide).
 */
static void pl_nl_resolve_families(void)
{
	uint16_t next = 0xfff0;

	pl_nl_fam.netdev = pl_nl_kernel_family(NETDEV_FAMILY_NAME);
	pl_nl_fam.ethtool = pl_nl_kernel_family(ETHTOOL_GENL_NAME);
	pl_nl_fam.kernel_netdev = pl_nl_fam.netdev != 0;
	pl_nl_fam.kernel_ethtool = pl_nl_fam.ethtool != 0;
	if (!pl_nl_fam.netdev) {
		while (pl_nl_kernel_has_id(next))
			next--;
		pl_nl_fam.netdev = next--;
	}
	if (!pl_nl_fam.ethtool) {
		while (pl_nl_kernel_has_id(next))
			next--;
		pl_nl_fam.ethtool = next;
	}
	pl_debug("netlink: netdev family %u (%s), ethtool family %u (%s)", pl_nl_fam.netdev,
		 pl_nl_fam.kernel_netdev ? "the kernel's" : "the shim's", pl_nl_fam.ethtool,
		 pl_nl_fam.kernel_ethtool ? "the kernel's" : "the shim's");
}

static const struct pl_nl_families *pl_nl_families(void)
{
	pthread_once(&pl_nl_fam_once, pl_nl_resolve_families);
	return &pl_nl_fam;
}

/* ---- the answers' queue ---- */

static struct pl_nl_dgram *pl_nl_dgram_new(struct pl_nl_ctx *c, size_t cap, bool packed)
{
	struct pl_nl_dgram *d = malloc(sizeof(*d) + cap);

	if (!d) {
		c->oom = -ENOMEM;
		return NULL;
	}
	d->next = NULL;
	d->len = 0;
	d->cap = cap;
	d->packed = packed;
	if (c->out.tail)
		c->out.tail->next = d;
	else
		c->out.head = d;
	c->out.tail = d;
	return d;
}

/* Queue one message: alone (a do's reply, an ack), or packed with a dump's others. */
static void pl_nl_put(struct pl_nl_ctx *c, const void *msg, size_t len, bool packed)
{
	struct pl_nl_dgram *d = c->out.tail;

	size_t alen = NLMSG_ALIGN(len);

	if (!packed || !d || !d->packed || d->len + alen > d->cap)
		d = pl_nl_dgram_new(c, packed && alen < PL_NL_GOODSIZE ? PL_NL_GOODSIZE : alen,
				    packed);
	if (!d)
		return;
	memcpy(d->data + d->len, msg, len);
	memset(d->data + d->len + len, 0, alen - len);
	d->len += alen;
}

static void pl_nl_queue_free(struct pl_nl_queue *q)
{
	struct pl_nl_dgram *d, *next;

	for (d = q->head; d; d = next) {
		next = d->next;
		free(d);
	}
	q->head = q->tail = NULL;
}

/* ---- replies ---- */

/* netlink_ack(): the error (0: an ack) of @nlh with its extack as the socket asked. */
static void pl_nl_ack(struct pl_nl_ctx *c, const struct nlmsghdr *nlh, int err,
		      const struct nlc_extack *ext)
{
	size_t cap = NLMSG_ALIGN(nlh->nlmsg_len) + 1024;
	uint8_t stack[2048];
	uint8_t *buf = cap <= sizeof(stack) ? stack : malloc(cap);
	int n;

	if (!buf) {
		c->oom = -ENOMEM;
		return;
	}
	n = nlc_error_reply(buf, cap, nlh, c->portid, err, c->ext_ack ? ext : NULL, c->cap_ack);
	if (n > 0)
		pl_nl_put(c, buf, (size_t)n, false);
	if (buf != stack)
		free(buf);
}

/* netlink_dump_done(): the end of a dump, with its errno. */
static void pl_nl_done(struct pl_nl_ctx *c, const struct nlmsghdr *nlh, int err,
		       const struct nlc_extack *ext)
{
	uint8_t buf[512];
	int n;

	n = nlc_done_reply(buf, sizeof(buf), nlh->nlmsg_seq, c->portid, err,
			   c->ext_ack ? ext : NULL);
	if (n > 0)
		pl_nl_put(c, buf, (size_t)n, true);
}

/* The end of a do: the reply (if any), then the ack when asked or on error. */
static void pl_nl_finish(struct pl_nl_ctx *c, const struct nlmsghdr *nlh, int err,
			 const struct nlc_extack *ext)
{
	if (err || (nlh->nlmsg_flags & NLM_F_ACK))
		pl_nl_ack(c, nlh, err, ext);
}

/*
 * Why the library refused the last request, in its own words (it names the
 * queue, the process holding it, the limits): shown by the -v trace line
 * and under DEVMEM_DEBUG, never in the extack.
 */
static __thread char pl_nl_why[256];

/*
 * The messages the kernel sets for the refusals the library shares with it
 * (__net_mp_open_rxq(), netdev_nl_bind_rx_doit(), netdev_nl_bind_tx_doit(),
 * ethnl_set_rings(), ethtool_check_max_channel(), ethnl_set_channels(),
 * v6.18). The library's reason contains the kernel's text; anything else
 * the kernel refuses without a message.
 */
#define PL_NL_MSG_MP_CHANNELS 11
static const char *const pl_nl_kernel_msgs[] = {
	"tcp-data-split is disabled",
	"hds-thresh is not zero",
	"unable to custom memory provider to device with XDP program attached",
	"designated queue already memory provider bound",
	"designated queue already in use by AF_XDP",
	"rx-page-size must be a power of 2",
	"Driver does not support netmem TX",
	"can't disable tcp-data-split while device has memory provider enabled",
	"can't set non-zero hds_thresh while device is memory provider enabled",
	"requested channel counts are too low for existing ntuple filter settings",
	"requested channel counts are too low for existing zerocopy AF_XDP sockets",
	[PL_NL_MSG_MP_CHANNELS] =
		"requested channel counts are too low for existing memory provider setting",
};

/* The indirection-table refusal: the library also says which RSS context holds the queue. */
#define PL_NL_MSG_RXFH "requested channel counts are too low for existing indirection table"

/*
 * The kernel's extack for the library's refusal: the kernel's message
 * exactly, or none where the kernel sets none. The library's reason is kept
 * for the trace and for DEVMEM_DEBUG.
 */
static void pl_nl_lib_extack(struct nlc_extack *ext, const char *ifname)
{
	const char *why = devmem_last_error();
	size_t n = ifname ? strlen(ifname) : 0;

	nlc_extack_clear(ext);
	if (why && n && !strncmp(why, ifname, n) && why[n] == ':' && why[n + 1] == ' ')
		why += n + 2;
	snprintf(pl_nl_why, sizeof(pl_nl_why), "%s", why ?: "");
	if (!why || !*why)
		return;
	pl_debug("netlink: refused: %s", why);
	if (strstr(why, PL_NL_MSG_RXFH)) {
		snprintf(ext->msg, sizeof(ext->msg), "%s settings", PL_NL_MSG_RXFH);
		ext->has_msg = true;
		return;
	}
	for (size_t i = 0; i < sizeof(pl_nl_kernel_msgs) / sizeof(pl_nl_kernel_msgs[0]); i++) {
		if (!strstr(why, pl_nl_kernel_msgs[i]))
			continue;
		snprintf(ext->msg, sizeof(ext->msg), "%s", pl_nl_kernel_msgs[i]);
		ext->has_msg = true;
		return;
	}
}

/* What the trace line says of a refusal: the library's reason, else the extack's. */
static const char *pl_nl_reason(const struct nlc_extack *ext)
{
	if (pl_nl_why[0])
		return pl_nl_why;
	return ext->has_msg ? ext->msg : "";
}

static void pl_nl_bad_attr(struct nlc_extack *ext, const struct nlmsghdr *nlh,
			   const struct nlattr *nla)
{
	if (!nla)
		return;
	ext->off = (uint32_t)((const uint8_t *)nla - (const uint8_t *)nlh);
	ext->has_off = true;
}

static const char *pl_nl_errname(int err, char *buf, size_t len)
{
	snprintf(buf, len, "-%s", strerrorname_np(-err) ?: "E?");
	return buf;
}

/* ---- the requests the shim answers ---- */

/* The first top-level attribute of type @type of a generic netlink message, or NULL. */
static const struct nlattr *pl_nl_attr(const struct nlmsghdr *nlh, unsigned int type)
{
	const struct nlattr *nla;
	long rem;

	if (nlh->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN)
		return NULL;
	nla = (const void *)((const uint8_t *)nlh + NLMSG_HDRLEN + GENL_HDRLEN);
	rem = (long)nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
	for (; rem >= (long)NLA_HDRLEN && nla->nla_len >= NLA_HDRLEN && nla->nla_len <= rem;
	     rem -= NLA_ALIGN(nla->nla_len),
	     nla = (const void *)((const uint8_t *)nla + NLA_ALIGN(nla->nla_len)))
		if ((nla->nla_type & NLA_TYPE_MASK) == type)
			return nla;
	return NULL;
}

static bool pl_nl_attr_u32(const struct nlattr *nla, uint32_t *v)
{
	if (!nla || nla->nla_len != NLA_HDRLEN + sizeof(*v))
		return false;
	memcpy(v, (const uint8_t *)nla + NLA_HDRLEN, sizeof(*v));
	return true;
}

static uint8_t pl_nl_cmd(const struct nlmsghdr *nlh)
{
	return ((const struct genlmsghdr *)NLMSG_DATA(nlh))->cmd;
}

/* The ethtool request header's device: by index, else by name. */
static bool pl_nl_ethtool_emulated(const struct nlmsghdr *nlh)
{
	const struct nlattr *hdr = pl_nl_attr(nlh, 1), *nla;
	long rem;
	uint32_t ifindex;

	if (!hdr || !(hdr->nla_type & NLA_F_NESTED))
		return false;
	nla = (const void *)((const uint8_t *)hdr + NLA_HDRLEN);
	rem = (long)hdr->nla_len - NLA_HDRLEN;
	for (; rem >= (long)NLA_HDRLEN && nla->nla_len >= NLA_HDRLEN && nla->nla_len <= rem;
	     rem -= NLA_ALIGN(nla->nla_len),
	     nla = (const void *)((const uint8_t *)nla + NLA_ALIGN(nla->nla_len))) {
		if ((nla->nla_type & NLA_TYPE_MASK) == ETHTOOL_A_HEADER_DEV_INDEX)
			return pl_nl_attr_u32(nla, &ifindex) && pl_ifindex_emulated((int)ifindex);
	}
	nla = (const void *)((const uint8_t *)hdr + NLA_HDRLEN);
	rem = (long)hdr->nla_len - NLA_HDRLEN;
	for (; rem >= (long)NLA_HDRLEN && nla->nla_len >= NLA_HDRLEN && nla->nla_len <= rem;
	     rem -= NLA_ALIGN(nla->nla_len),
	     nla = (const void *)((const uint8_t *)nla + NLA_ALIGN(nla->nla_len))) {
		size_t len = nla->nla_len - NLA_HDRLEN;
		char name[IF_NAMESIZE];

		if ((nla->nla_type & NLA_TYPE_MASK) != ETHTOOL_A_HEADER_DEV_NAME)
			continue;
		if (!len || len > sizeof(name))
			return false;
		memcpy(name, (const uint8_t *)nla + NLA_HDRLEN, len);
		name[len - 1] = '\0';
		return pl_ifname_emulated(name);
	}
	return false;
}

/* ---- NAPI ---- */

/*
 * The software NIC has one NAPI per queue index, shared by the rx and tx
 * queue of that index (the ids queue-get reports), each run by a thread
 * named as threaded NAPI is ("napi/IF-N").
 */
struct pl_nl_napis {
	unsigned int n;
	struct {
		uint32_t id;
		uint32_t index;
	} napi[1024];
};

static int pl_nl_napi_cb(const struct devmem_queue_info *q, void *arg)
{
	struct pl_nl_napis *l = arg;

	if (!q->napi_id)
		return 0;
	for (unsigned int i = 0; i < l->n; i++)
		if (l->napi[i].id == q->napi_id)
			return 0;
	if (l->n == sizeof(l->napi) / sizeof(l->napi[0]))
		return 0;
	l->napi[l->n].id = q->napi_id;
	l->napi[l->n++].index = q->id;
	return 0;
}

static int pl_nl_napi_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	/* the device's napi_list: highest id first */
	return x > y ? -1 : x < y;
}

/* The NAPIs of @ifindex, as netdev_nl_napi_dump_one() walks them. */
static void pl_nl_napis(struct devmem_ctl *ctl, int ifindex, struct pl_nl_napis *l)
{
	l->n = 0;
	devmem_queue_dump(ctl, ifindex, pl_nl_napi_cb, l);
	qsort(l->napi, l->n, sizeof(l->napi[0]), pl_nl_napi_cmp);
}

/* netdev_napi_by_id_lock(): the emulated interface with NAPI @id, and its queue index. */
static bool pl_nl_napi_find(struct devmem_ctl *ctl, uint32_t id, int *ifindex, uint32_t *index)
{
	static __thread struct pl_nl_napis l;
	struct if_nameindex *ifs, *i;
	bool found = false;

	if (!ctl || !id)
		return false;
	ifs = if_nameindex();
	if (!ifs)
		return false;
	for (i = ifs; !found && i->if_index; i++) {
		if (!pl_ifindex_emulated((int)i->if_index))
			continue;
		pl_nl_napis(ctl, (int)i->if_index, &l);
		for (unsigned int k = 0; !found && k < l.n; k++) {
			if (l.napi[k].id != id)
				continue;
			found = true;
			if (ifindex)
				*ifindex = (int)i->if_index;
			if (index)
				*index = l.napi[k].index;
		}
	}
	if_freenameindex(ifs);
	return found;
}

/* The thread running NAPI @index of @ifname, 0 when the software NIC has not started it. */
static pid_t pl_nl_napi_thread(const char *ifname, uint32_t index)
{
	char want[32], path[300], comm[32];
	struct dirent *de;
	pid_t tid = 0;
	DIR *dir;

	snprintf(want, sizeof(want), "napi/%s-%u", ifname, index);
	want[15] = '\0';
	dir = opendir("/proc/self/task");
	if (!dir)
		return 0;
	while (!tid && (de = readdir(dir))) {
		ssize_t n;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
		fd = pl_real.open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = pl_real.read(fd, comm, sizeof(comm) - 1);
		pl_real.close(fd);
		if (n <= 0)
			continue;
		comm[n] = '\0';
		comm[strcspn(comm, "\n")] = '\0';
		if (!strcmp(comm, want))
			tid = (pid_t)atoi(de->d_name);
	}
	closedir(dir);
	return tid;
}

/*
 * netdev_nl_napi_fill_one(): no IRQ (the software NIC has none); threaded,
 * with its thread's id, when the queue's thread runs; no deferral and no
 * timeouts, which the software NIC does not model.
 */
static void pl_nl_napi_obj(int ifindex, const char *ifname, uint32_t id, uint32_t index,
			   struct nlc_obj *o)
{
	pid_t tid = pl_nl_napi_thread(ifname, index);

	memset(o, 0, sizeof(*o));
	o->present |= 1ull << NETDEV_A_NAPI_ID;
	o->v[NETDEV_A_NAPI_ID] = id;
	o->present |= 1ull << NETDEV_A_NAPI_IFINDEX;
	o->v[NETDEV_A_NAPI_IFINDEX] = (uint32_t)ifindex;
	o->present |= 1ull << NETDEV_A_NAPI_THREADED;
	o->v[NETDEV_A_NAPI_THREADED] = tid > 0;
	if (tid > 0) {
		o->present |= 1ull << NETDEV_A_NAPI_PID;
		o->v[NETDEV_A_NAPI_PID] = (uint32_t)tid;
	}
	o->present |= 1ull << NETDEV_A_NAPI_DEFER_HARD_IRQS;
	o->v[NETDEV_A_NAPI_DEFER_HARD_IRQS] = 0;
	o->present |= 1ull << NETDEV_A_NAPI_IRQ_SUSPEND_TIMEOUT;
	o->v[NETDEV_A_NAPI_IRQ_SUSPEND_TIMEOUT] = 0;
	o->present |= 1ull << NETDEV_A_NAPI_GRO_FLUSH_TIMEOUT;
	o->v[NETDEV_A_NAPI_GRO_FLUSH_TIMEOUT] = 0;
}

/*
 * Whether @nlh is a request the shim answers: a GETFAMILY of a family the
 * kernel lacks, or a netdev or ethtool request about an emulated interface
 * (netdev dumps of every device are the shim's: they merge the kernel's
 * entries of the interfaces the shim leaves alone).
 */
static bool pl_nl_is_emulated(const struct nlmsghdr *nlh)
{
	const struct pl_nl_families *fam = pl_nl_families();
	bool dump = (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
	uint32_t ifindex;

	if (!(nlh->nlmsg_flags & NLM_F_REQUEST) || nlh->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN)
		return false;
	if (nlh->nlmsg_type == GENL_ID_CTRL) {
		const struct nlattr *name = pl_nl_attr(nlh, CTRL_ATTR_FAMILY_NAME);
		const char *s = name ? (const char *)name + NLA_HDRLEN : NULL;
		size_t len = name ? name->nla_len - NLA_HDRLEN : 0;

		if (dump || pl_nl_cmd(nlh) != CTRL_CMD_GETFAMILY || !s)
			return false;
		if (!fam->kernel_netdev && len == sizeof(NETDEV_FAMILY_NAME) &&
		    !memcmp(s, NETDEV_FAMILY_NAME, len))
			return true;
		return !fam->kernel_ethtool && len == sizeof(ETHTOOL_GENL_NAME) &&
		       !memcmp(s, ETHTOOL_GENL_NAME, len);
	}
	if (nlh->nlmsg_type == fam->netdev) {
		switch (pl_nl_cmd(nlh)) {
		case NETDEV_CMD_DEV_GET:
		case NETDEV_CMD_BIND_RX:
		case NETDEV_CMD_BIND_TX:
			if (dump)
				return !pl_nl_attr(nlh, NETDEV_A_DEV_IFINDEX) ||
				       (pl_nl_attr_u32(pl_nl_attr(nlh, NETDEV_A_DEV_IFINDEX),
						       &ifindex) &&
					pl_ifindex_emulated((int)ifindex));
			return pl_nl_attr_u32(pl_nl_attr(nlh, NETDEV_A_DEV_IFINDEX), &ifindex) &&
			       pl_ifindex_emulated((int)ifindex);
		case NETDEV_CMD_QUEUE_GET:
			if (dump && !pl_nl_attr(nlh, NETDEV_A_QUEUE_IFINDEX))
				return true;
			return pl_nl_attr_u32(pl_nl_attr(nlh, NETDEV_A_QUEUE_IFINDEX), &ifindex) &&
			       pl_ifindex_emulated((int)ifindex);
		case NETDEV_CMD_NAPI_GET:
			if (dump)
				return !pl_nl_attr(nlh, NETDEV_A_NAPI_IFINDEX) ||
				       (pl_nl_attr_u32(pl_nl_attr(nlh, NETDEV_A_NAPI_IFINDEX),
						       &ifindex) &&
					pl_ifindex_emulated((int)ifindex));
			/* a NAPI by id: the shim's when an emulated interface has it */
			return pl_nl_attr_u32(pl_nl_attr(nlh, NETDEV_A_NAPI_ID), &ifindex) &&
			       pl_nl_napi_find(pl_ctl(), ifindex, NULL, NULL);
		case NETDEV_CMD_PAGE_POOL_GET:
			if (dump && !pl_nl_attr(nlh, NETDEV_A_PAGE_POOL_IFINDEX))
				return true;
			if (dump)
				return pl_nl_attr_u32(pl_nl_attr(nlh, NETDEV_A_PAGE_POOL_IFINDEX),
						      &ifindex) &&
				       pl_ifindex_emulated((int)ifindex);
			/* a pool by id: the shim's when the library has it */
			if (pl_nl_attr_u32(pl_nl_attr(nlh, NETDEV_A_PAGE_POOL_ID), &ifindex)) {
				struct devmem_page_pool_info info;
				struct devmem_ctl *ctl = pl_ctl();

				return ctl && !devmem_page_pool_get(ctl, ifindex, &info);
			}
			return false;
		default:
			/* the kernel answers what the library does not model (napi, qstats) */
			return !fam->kernel_netdev;
		}
	}
	if (nlh->nlmsg_type == fam->ethtool) {
		if (!fam->kernel_ethtool)
			return true;
		if (dump)
			return false;
		switch (pl_nl_cmd(nlh)) {
		case ETHTOOL_MSG_CHANNELS_GET:
		case ETHTOOL_MSG_CHANNELS_SET:
		case ETHTOOL_MSG_RINGS_GET:
		case ETHTOOL_MSG_RINGS_SET:
		case ETHTOOL_MSG_RSS_GET:
		case ETHTOOL_MSG_RSS_SET:
		case ETHTOOL_MSG_FEATURES_GET:
		case ETHTOOL_MSG_FEATURES_SET:
			return pl_nl_ethtool_emulated(nlh);
		default:
			return false;
		}
	}
	return false;
}

/* ---- nlctrl ---- */

/* What ctrl_fill_info() says of the families when the kernel lacks them. */
static void pl_nl_family_info(const char *name, struct nlc_family *fam)
{
	static const struct {
		uint8_t cmd;
		uint32_t flags;
	} netdev_ops[] = {
		{ NETDEV_CMD_DEV_GET, GENL_CMD_CAP_DO | GENL_CMD_CAP_DUMP | GENL_CMD_CAP_HASPOL },
		{ NETDEV_CMD_PAGE_POOL_GET,
		  GENL_CMD_CAP_DO | GENL_CMD_CAP_DUMP | GENL_CMD_CAP_HASPOL },
		{ NETDEV_CMD_PAGE_POOL_STATS_GET,
		  GENL_CMD_CAP_DO | GENL_CMD_CAP_DUMP | GENL_CMD_CAP_HASPOL },
		{ NETDEV_CMD_QUEUE_GET, GENL_CMD_CAP_DO | GENL_CMD_CAP_DUMP | GENL_CMD_CAP_HASPOL },
		{ NETDEV_CMD_NAPI_GET, GENL_CMD_CAP_DO | GENL_CMD_CAP_DUMP | GENL_CMD_CAP_HASPOL },
		{ NETDEV_CMD_QSTATS_GET, GENL_CMD_CAP_DUMP | GENL_CMD_CAP_HASPOL },
		{ NETDEV_CMD_BIND_RX, GENL_ADMIN_PERM | GENL_CMD_CAP_DO | GENL_CMD_CAP_HASPOL },
		{ NETDEV_CMD_NAPI_SET, GENL_ADMIN_PERM | GENL_CMD_CAP_DO | GENL_CMD_CAP_HASPOL },
		{ NETDEV_CMD_BIND_TX, GENL_CMD_CAP_DO | GENL_CMD_CAP_HASPOL },
	};
	static const struct {
		uint8_t cmd;
		uint32_t flags;
	} ethtool_ops[] = {
		{ ETHTOOL_MSG_FEATURES_GET,
		  GENL_CMD_CAP_DO | GENL_CMD_CAP_DUMP | GENL_CMD_CAP_HASPOL },
		{ ETHTOOL_MSG_FEATURES_SET,
		  GENL_ADMIN_PERM | GENL_CMD_CAP_DO | GENL_CMD_CAP_HASPOL },
		{ ETHTOOL_MSG_RINGS_GET,
		  GENL_CMD_CAP_DO | GENL_CMD_CAP_DUMP | GENL_CMD_CAP_HASPOL },
		{ ETHTOOL_MSG_RINGS_SET, GENL_ADMIN_PERM | GENL_CMD_CAP_DO | GENL_CMD_CAP_HASPOL },
		{ ETHTOOL_MSG_CHANNELS_GET,
		  GENL_CMD_CAP_DO | GENL_CMD_CAP_DUMP | GENL_CMD_CAP_HASPOL },
		{ ETHTOOL_MSG_CHANNELS_SET,
		  GENL_ADMIN_PERM | GENL_CMD_CAP_DO | GENL_CMD_CAP_HASPOL },
		{ ETHTOOL_MSG_RSS_GET, GENL_CMD_CAP_DO | GENL_CMD_CAP_DUMP | GENL_CMD_CAP_HASPOL },
		{ ETHTOOL_MSG_RSS_SET, GENL_ADMIN_PERM | GENL_CMD_CAP_DO | GENL_CMD_CAP_HASPOL },
	};
	const struct pl_nl_families *f = pl_nl_families();

	memset(fam, 0, sizeof(*fam));
	snprintf(fam->name, sizeof(fam->name), "%s", name);
	fam->hdrsize = 0;
	if (!strcmp(name, NETDEV_FAMILY_NAME)) {
		fam->id = f->netdev;
		fam->version = NETDEV_FAMILY_VERSION;
		fam->maxattr = NETDEV_A_DEV_XSK_FEATURES > NL_NETDEV_A_DMABUF_MAX ?
				       NETDEV_A_DEV_XSK_FEATURES :
				       NL_NETDEV_A_DMABUF_MAX;
		for (size_t i = 0; i < sizeof(netdev_ops) / sizeof(netdev_ops[0]); i++) {
			fam->ops[fam->nr_ops].cmd = netdev_ops[i].cmd;
			fam->ops[fam->nr_ops++].flags = netdev_ops[i].flags;
		}
		fam->nr_groups = 2;
		snprintf(fam->groups[0].name, GENL_NAMSIZ, "mgmt");
		fam->groups[0].id = f->netdev;
		snprintf(fam->groups[1].name, GENL_NAMSIZ, "page-pool");
		fam->groups[1].id = (uint32_t)f->netdev + 1;
	} else {
		fam->id = f->ethtool;
		fam->version = ETHTOOL_GENL_VERSION;
		fam->maxattr = 0;
		for (size_t i = 0; i < sizeof(ethtool_ops) / sizeof(ethtool_ops[0]); i++) {
			fam->ops[fam->nr_ops].cmd = ethtool_ops[i].cmd;
			fam->ops[fam->nr_ops++].flags = ethtool_ops[i].flags;
		}
		fam->nr_groups = 1;
		snprintf(fam->groups[0].name, GENL_NAMSIZ, "monitor");
		fam->groups[0].id = f->ethtool;
	}
}

static void pl_nl_getfamily(struct pl_nl_ctx *c, const struct nlmsghdr *nlh)
{
	const struct nlattr *name = pl_nl_attr(nlh, CTRL_ATTR_FAMILY_NAME);
	uint8_t buf[PL_NL_REPLY_SIZE];
	struct nlc_family fam;
	int n;

	pl_nl_family_info(memcmp((const char *)name + NLA_HDRLEN, NETDEV_FAMILY_NAME,
				 sizeof(NETDEV_FAMILY_NAME)) ?
				  ETHTOOL_GENL_NAME :
				  NETDEV_FAMILY_NAME,
			  &fam);
	n = nlc_ctrl_family_reply(buf, sizeof(buf), nlh->nlmsg_seq, c->portid, &fam);
	if (n > 0)
		pl_nl_put(c, buf, (size_t)n, false);
	pl_nl_finish(c, nlh, n < 0 ? n : 0, NULL);
	pl_trace("netlink nlctrl getfamily %s = id %u", fam.name, fam.id);
}

/* ---- netdev ---- */

/* netlink_capable(CAP_NET_ADMIN): GENL_ADMIN_PERM operations. */
static bool pl_nl_net_admin(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return false;
	return data[CAP_TO_INDEX(CAP_NET_ADMIN)].effective & CAP_TO_MASK(CAP_NET_ADMIN);
}

static void pl_nl_netdev_reply(struct pl_nl_ctx *c, const struct nlmsghdr *nlh, uint8_t cmd,
			       bool dump, const struct nlc_obj *o)
{
	uint8_t buf[PL_NL_REPLY_SIZE];
	int n;

	n = nlc_netdev_reply(buf, sizeof(buf), pl_nl_families()->netdev, nlh->nlmsg_seq, c->portid,
			     cmd, false, o);
	if (n > 0)
		pl_nl_put(c, buf, (size_t)n, dump);
}

static void pl_nl_set(struct nlc_obj *o, unsigned int type, uint64_t v)
{
	o->present |= 1ull << type;
	o->v[type] = v;
}

static void pl_nl_dev_obj(const struct devmem_dev_info *info, struct nlc_obj *o)
{
	memset(o, 0, sizeof(*o));
	pl_nl_set(o, NETDEV_A_DEV_IFINDEX, (uint32_t)info->ifindex);
	pl_nl_set(o, NETDEV_A_DEV_XDP_FEATURES, info->xdp_features);
	pl_nl_set(o, NETDEV_A_DEV_XDP_RX_METADATA_FEATURES, 0);
	pl_nl_set(o, NETDEV_A_DEV_XSK_FEATURES, 0);
}

static void pl_nl_queue_obj(const struct devmem_queue_info *q, struct nlc_obj *o)
{
	memset(o, 0, sizeof(*o));
	pl_nl_set(o, NETDEV_A_QUEUE_ID, q->id);
	pl_nl_set(o, NETDEV_A_QUEUE_TYPE, q->type);
	pl_nl_set(o, NETDEV_A_QUEUE_IFINDEX, (uint32_t)q->ifindex);
	if (q->napi_id)
		pl_nl_set(o, NETDEV_A_QUEUE_NAPI_ID, q->napi_id);
	if (q->dmabuf)
		pl_nl_set(o, NETDEV_A_QUEUE_DMABUF, q->dmabuf);
}

static void pl_nl_pool_obj(const struct devmem_page_pool_info *p, struct nlc_obj *o)
{
	memset(o, 0, sizeof(*o));
	pl_nl_set(o, NETDEV_A_PAGE_POOL_ID, p->id);
	/* page_pool_nl_fill(): a pool of the loopback device is not said to have one */
	if (p->ifindex != 1)
		pl_nl_set(o, NETDEV_A_PAGE_POOL_IFINDEX, (uint32_t)p->ifindex);
	if (p->napi_id)
		pl_nl_set(o, NETDEV_A_PAGE_POOL_NAPI_ID, p->napi_id);
	pl_nl_set(o, NETDEV_A_PAGE_POOL_INFLIGHT, p->inflight);
	pl_nl_set(o, NETDEV_A_PAGE_POOL_INFLIGHT_MEM, p->inflight_mem);
	if (p->detach_time)
		pl_nl_set(o, NETDEV_A_PAGE_POOL_DETACH_TIME, p->detach_time);
	if (p->dmabuf)
		pl_nl_set(o, NETDEV_A_PAGE_POOL_DMABUF, p->dmabuf);
}

/* A dump's entries before they are sent: ordered by device, as the kernel walks them. */
struct pl_nl_entry {
	int ifindex;
	unsigned int seq; /* the order within a device */
	size_t len;
	uint8_t *msg;
};

struct pl_nl_dump {
	struct pl_nl_ctx *c;
	const struct nlmsghdr *req;
	uint8_t cmd;
	struct pl_nl_entry *e;
	unsigned int n, cap;
	int err;
};

static void pl_nl_dump_add(struct pl_nl_dump *d, int ifindex, const void *msg, size_t len)
{
	struct pl_nl_entry *e;

	if (d->err)
		return;
	if (d->n == d->cap) {
		unsigned int cap = d->cap ? d->cap * 2 : 32;

		e = realloc(d->e, cap * sizeof(*e));
		if (!e) {
			d->err = -ENOMEM;
			return;
		}
		d->e = e;
		d->cap = cap;
	}
	e = &d->e[d->n];
	e->msg = malloc(len);
	if (!e->msg) {
		d->err = -ENOMEM;
		return;
	}
	memcpy(e->msg, msg, len);
	e->len = len;
	e->ifindex = ifindex;
	e->seq = d->n++;
}

static void pl_nl_dump_obj(struct pl_nl_dump *d, int ifindex, const struct nlc_obj *o)
{
	uint8_t buf[PL_NL_REPLY_SIZE];
	int n;

	n = nlc_netdev_reply(buf, sizeof(buf), pl_nl_families()->netdev, d->req->nlmsg_seq,
			     d->c->portid, d->cmd, false, o);
	if (n > 0)
		pl_nl_dump_add(d, ifindex, buf, (size_t)n);
	else if (!d->err)
		d->err = n;
}

static int pl_nl_entry_cmp(const void *a, const void *b)
{
	const struct pl_nl_entry *x = a, *y = b;

	if (x->ifindex != y->ifindex)
		return x->ifindex < y->ifindex ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The kernel's entries of the interfaces the shim does not emulate. */
static void pl_nl_kernel_entry(const struct nlmsghdr *nlh, void *arg)
{
	struct pl_nl_dump *d = arg;
	unsigned int attr = d->cmd == NETDEV_CMD_QUEUE_GET     ? NETDEV_A_QUEUE_IFINDEX :
			    d->cmd == NETDEV_CMD_PAGE_POOL_GET ? NETDEV_A_PAGE_POOL_IFINDEX :
			    d->cmd == NETDEV_CMD_NAPI_GET      ? NETDEV_A_NAPI_IFINDEX :
								 NETDEV_A_DEV_IFINDEX;
	uint32_t ifindex = 0;
	struct nlmsghdr *copy;

	if (nlh->nlmsg_type != pl_nl_families()->netdev)
		return;
	pl_nl_attr_u32(pl_nl_attr(nlh, attr), &ifindex);
	if (ifindex && pl_ifindex_emulated((int)ifindex))
		return;
	/* the kernel's own words, addressed to the program's request */
	copy = malloc(nlh->nlmsg_len);
	if (!copy) {
		d->err = -ENOMEM;
		return;
	}
	memcpy(copy, nlh, nlh->nlmsg_len);
	copy->nlmsg_seq = d->req->nlmsg_seq;
	copy->nlmsg_pid = d->c->portid;
	pl_nl_dump_add(d, (int)ifindex, copy, copy->nlmsg_len);
	free(copy);
}

static int pl_nl_queue_cb(const struct devmem_queue_info *q, void *arg)
{
	struct nlc_obj o;

	pl_nl_queue_obj(q, &o);
	pl_nl_dump_obj(arg, q->ifindex, &o);
	return 0;
}

static int pl_nl_pool_cb(const struct devmem_page_pool_info *p, void *arg)
{
	struct nlc_obj o;

	pl_nl_pool_obj(p, &o);
	pl_nl_dump_obj(arg, p->ifindex, &o);
	return 0;
}

/*
 * A netdev dump: the emulated interfaces from the library, the others'
 * entries from the kernel, in ifindex order, then NLMSG_DONE.
 */
static unsigned int pl_nl_netdev_dump(struct pl_nl_ctx *c, const struct nlmsghdr *nlh,
				      const struct nlc_request *req)
{
	struct pl_nl_dump d = { .c = c, .req = nlh, .cmd = req->cmd };
	unsigned int fattr = req->cmd == NETDEV_CMD_QUEUE_GET	  ? NETDEV_A_QUEUE_IFINDEX :
			     req->cmd == NETDEV_CMD_PAGE_POOL_GET ? NETDEV_A_PAGE_POOL_IFINDEX :
			     req->cmd == NETDEV_CMD_NAPI_GET	  ? NETDEV_A_NAPI_IFINDEX :
								    0;
	int filter = fattr && nlc_has(&req->attrs, fattr) ? (int)req->attrs.v[fattr] : 0;
	struct if_nameindex *ifs, *i;
	bool kernel_has_more = false;
	struct nlc_extack ext;
	char ename[16];

	nlc_extack_clear(&ext);
	ifs = if_nameindex();
	if (!ifs) {
		d.err = -errno;
		goto done;
	}
	if (filter && !if_indextoname((unsigned int)filter, ename))
		d.err = -ENODEV; /* netdev_nl_queue_get_dumpit(): no such device */
	for (i = ifs; !d.err && i->if_index; i++) {
		int ifindex = (int)i->if_index;

		if (filter && ifindex != filter)
			continue;
		if (!pl_ifindex_emulated(ifindex)) {
			kernel_has_more = true;
			continue;
		}
		if (req->cmd == NETDEV_CMD_DEV_GET) {
			struct devmem_dev_info info;
			struct nlc_obj o;

			if (devmem_dev_get(c->nl->ctl, ifindex, &info))
				continue;
			pl_nl_dev_obj(&info, &o);
			pl_nl_dump_obj(&d, ifindex, &o);
		} else if (req->cmd == NETDEV_CMD_QUEUE_GET) {
			devmem_queue_dump(c->nl->ctl, ifindex, pl_nl_queue_cb, &d);
		} else if (req->cmd == NETDEV_CMD_NAPI_GET) {
			static __thread struct pl_nl_napis l;
			struct nlc_obj o;

			pl_nl_napis(c->nl->ctl, ifindex, &l);
			for (unsigned int k = 0; k < l.n; k++) {
				pl_nl_napi_obj(ifindex, i->if_name, l.napi[k].id, l.napi[k].index,
					       &o);
				pl_nl_dump_obj(&d, ifindex, &o);
			}
		}
	}
	if (!d.err && req->cmd == NETDEV_CMD_PAGE_POOL_GET) {
		/* the library's pools, then the kernel's, sorted by device below */
		if (!filter || pl_ifindex_emulated(filter))
			devmem_page_pool_dump(c->nl->ctl, filter, pl_nl_pool_cb, &d);
	}
	if (!d.err && kernel_has_more && pl_nl_families()->kernel_netdev)
		pl_nl_ask_kernel(nlh, nlh->nlmsg_len, pl_nl_kernel_entry, &d);
	if_freenameindex(ifs);
	if (!d.err)
		qsort(d.e, d.n, sizeof(*d.e), pl_nl_entry_cmp);
	for (unsigned int k = 0; k < d.n; k++) {
		if (!d.err)
			pl_nl_put(c, d.e[k].msg, d.e[k].len, true);
		free(d.e[k].msg);
	}
	free(d.e);
done:
	pl_nl_done(c, nlh, d.err, &ext);
	return d.err ? 0 : d.n;
}

/*
 * netdev_nl_read_rxq_bitmap(): a queue id beyond the device's rx queues is
 * refused with no message, its id attribute (in the request's order) as the
 * bad one.
 */
static const struct nlattr *pl_nl_bad_queue(struct pl_nl_ctx *c, const struct nlmsghdr *nlh,
					    int ifindex)
{
	const struct nlattr *nla =
		(const void *)((const uint8_t *)nlh + NLMSG_HDRLEN + GENL_HDRLEN);
	long rem = (long)nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
	struct devmem_dev_info info;

	if (devmem_dev_get(c->nl->ctl, ifindex, &info))
		return NULL;
	for (; rem >= (long)NLA_HDRLEN && nla->nla_len >= NLA_HDRLEN && nla->nla_len <= rem;
	     rem -= NLA_ALIGN(nla->nla_len),
	     nla = (const void *)((const uint8_t *)nla + NLA_ALIGN(nla->nla_len))) {
		const struct nlattr *in = (const void *)((const uint8_t *)nla + NLA_HDRLEN);
		long irem = (long)nla->nla_len - NLA_HDRLEN;
		uint32_t id;

		if ((nla->nla_type & NLA_TYPE_MASK) != NETDEV_A_DMABUF_QUEUES)
			continue;
		for (; irem >= (long)NLA_HDRLEN && in->nla_len >= NLA_HDRLEN && in->nla_len <= irem;
		     irem -= NLA_ALIGN(in->nla_len),
		     in = (const void *)((const uint8_t *)in + NLA_ALIGN(in->nla_len)))
			if ((in->nla_type & NLA_TYPE_MASK) == NETDEV_A_QUEUE_ID &&
			    pl_nl_attr_u32(in, &id) && id >= info.num_rx_queues)
				return in;
	}
	return NULL;
}

static int pl_nl_bind(struct pl_nl_ctx *c, const struct nlmsghdr *nlh,
		      const struct nlc_request *req, uint32_t *id, struct nlc_extack *ext)
{
	struct devmem_queue_id q[NLC_MAX_QUEUES];
	DEVMEM_OPTS(devmem_bind_opts, opts);
	int ifindex = (int)req->attrs.v[NETDEV_A_DMABUF_IFINDEX];
	int fd = (int)req->attrs.v[NETDEV_A_DMABUF_FD];
	int err;

	for (unsigned int i = 0; i < req->nr_queues; i++) {
		q[i].id = req->queues[i].id;
		q[i].type = req->queues[i].type;
	}
	if (nlc_has(&req->attrs, NETDEV_A_DMABUF_RX_PAGE_SIZE))
		opts.rx_page_size = (uint32_t)req->attrs.v[NETDEV_A_DMABUF_RX_PAGE_SIZE];
	devmem_clear_error();
	if (req->cmd == NETDEV_CMD_BIND_RX)
		err = devmem_bind_rx(c->nl->ctl, ifindex, fd, q, req->nr_queues, &opts, id);
	else
		err = devmem_bind_tx(c->nl->ctl, ifindex, fd, NULL, id);
	if (!err)
		return 0;
	pl_nl_lib_extack(ext, NULL);
	if (err == -EINVAL && !ext->has_msg && req->cmd == NETDEV_CMD_BIND_RX)
		pl_nl_bad_attr(ext, nlh, pl_nl_bad_queue(c, nlh, ifindex));
	/* netdev_nl_bind_rx_doit(): no device is said with the ifindex alone */
	if (err == -ENODEV) {
		nlc_extack_clear(ext);
		pl_nl_bad_attr(ext, nlh, req->attrs.tb[NETDEV_A_DMABUF_IFINDEX]);
	}
	return err;
}

static void pl_nl_trace_bind(const struct nlc_request *req, int err, uint32_t id,
			     const struct nlc_extack *ext)
{
	char queues[256] = "", e[32];
	size_t off = 0;

	if (!pl_tracing)
		return;
	for (unsigned int i = 0; i < req->nr_queues && off < sizeof(queues) - 16; i++)
		off += (size_t)snprintf(queues + off, sizeof(queues) - off, "%srx:%u",
					i ? "," : " queues=", req->queues[i].id);
	if (!err)
		pl_trace("netlink netdev %s ifindex=%u fd=%u%s = id %u",
			 req->cmd == NETDEV_CMD_BIND_RX ? "bind-rx" : "bind-tx",
			 (unsigned int)req->attrs.v[NETDEV_A_DMABUF_IFINDEX],
			 (unsigned int)req->attrs.v[NETDEV_A_DMABUF_FD], queues, id);
	else
		pl_trace("netlink netdev %s ifindex=%u fd=%u%s = %s (%s)",
			 req->cmd == NETDEV_CMD_BIND_RX ? "bind-rx" : "bind-tx",
			 (unsigned int)req->attrs.v[NETDEV_A_DMABUF_IFINDEX],
			 (unsigned int)req->attrs.v[NETDEV_A_DMABUF_FD], queues,
			 pl_nl_errname(err, e, sizeof(e)), pl_nl_reason(ext));
}

static const char *const pl_nl_netdev_cmd_name[] = {
	[NETDEV_CMD_DEV_GET] = "dev-get",     [NETDEV_CMD_PAGE_POOL_GET] = "page-pool-get",
	[NETDEV_CMD_QUEUE_GET] = "queue-get", [NETDEV_CMD_BIND_RX] = "bind-rx",
	[NETDEV_CMD_BIND_TX] = "bind-tx",     [NETDEV_CMD_NAPI_GET] = "napi-get",
};

static void pl_nl_netdev(struct pl_nl_ctx *c, const struct nlmsghdr *nlh)
{
	static __thread struct nlc_request req;
	bool dump = (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
	uint8_t cmd = pl_nl_cmd(nlh);
	struct nlc_extack ext;
	const char *name;
	struct nlc_obj o;
	uint32_t id = 0;
	char e[32];
	int err;

	name = cmd < sizeof(pl_nl_netdev_cmd_name) / sizeof(pl_nl_netdev_cmd_name[0]) &&
			       pl_nl_netdev_cmd_name[cmd] ?
		       pl_nl_netdev_cmd_name[cmd] :
		       "?";
	nlc_extack_clear(&ext);
	/* genl_family_rcv_msg(): the permission before the attributes (bind-rx is admin-perm) */
	if (!dump && cmd == NETDEV_CMD_BIND_RX && !pl_nl_net_admin()) {
		err = -EPERM;
		goto out;
	}
	err = nlc_netdev_parse_req(nlh, nlh->nlmsg_len, pl_nl_families()->netdev, &req, &ext);
	if (err)
		goto out;
	if (dump) {
		unsigned int n = pl_nl_netdev_dump(c, nlh, &req);

		pl_trace("netlink netdev %s dump = %u objects", name, n);
		return;
	}
	memset(&o, 0, sizeof(o));
	switch (cmd) {
	case NETDEV_CMD_DEV_GET: {
		struct devmem_dev_info info;

		err = devmem_dev_get(c->nl->ctl, (int)req.attrs.v[NETDEV_A_DEV_IFINDEX], &info);
		if (err)
			err = -ENODEV;
		else
			pl_nl_dev_obj(&info, &o);
		break;
	}
	case NETDEV_CMD_QUEUE_GET: {
		struct devmem_queue_info q;

		devmem_clear_error();
		err = devmem_queue_get(c->nl->ctl, (int)req.attrs.v[NETDEV_A_QUEUE_IFINDEX],
				       (uint32_t)req.attrs.v[NETDEV_A_QUEUE_TYPE],
				       (uint32_t)req.attrs.v[NETDEV_A_QUEUE_ID], &q);
		if (!err)
			pl_nl_queue_obj(&q, &o);
		else if (err != -ENODEV)
			pl_nl_lib_extack(&ext, NULL);
		break;
	}
	case NETDEV_CMD_NAPI_GET: {
		uint32_t index = 0;
		char ifname[IF_NAMESIZE];
		int ifindex = 0;

		/* netdev_nl_napi_get_doit(): an unknown id is ENOENT, the id the bad attribute */
		if (!pl_nl_napi_find(c->nl->ctl, (uint32_t)req.attrs.v[NETDEV_A_NAPI_ID], &ifindex,
				     &index) ||
		    !if_indextoname((unsigned int)ifindex, ifname)) {
			pl_nl_bad_attr(&ext, nlh, req.attrs.tb[NETDEV_A_NAPI_ID]);
			err = -ENOENT;
			break;
		}
		pl_nl_napi_obj(ifindex, ifname, (uint32_t)req.attrs.v[NETDEV_A_NAPI_ID], index, &o);
		break;
	}
	case NETDEV_CMD_PAGE_POOL_GET: {
		struct devmem_page_pool_info p;

		err = devmem_page_pool_get(c->nl->ctl, (uint32_t)req.attrs.v[NETDEV_A_PAGE_POOL_ID],
					   &p);
		if (err)
			err = -ENOENT;
		else
			pl_nl_pool_obj(&p, &o);
		break;
	}
	case NETDEV_CMD_BIND_RX:
	case NETDEV_CMD_BIND_TX:
		err = pl_nl_bind(c, nlh, &req, &id, &ext);
		pl_nl_trace_bind(&req, err, id, &ext);
		if (!err)
			pl_nl_set(&o, NETDEV_A_DMABUF_ID, id);
		break;
	default:
		err = -EOPNOTSUPP;
		break;
	}
	if (!err)
		pl_nl_netdev_reply(c, nlh, cmd, false, &o);
	pl_nl_finish(c, nlh, err, &ext);
	if (cmd == NETDEV_CMD_BIND_RX || cmd == NETDEV_CMD_BIND_TX)
		return;
	pl_trace("netlink netdev %s = %s", name, err ? pl_nl_errname(err, e, sizeof(e)) : "0");
	return;
out:
	pl_nl_finish(c, nlh, err, &ext);
	if (ext.has_miss_type)
		pl_trace("netlink netdev %s = %s (missing attribute %u)", name,
			 pl_nl_errname(err, e, sizeof(e)), ext.miss_type);
	else
		pl_trace("netlink netdev %s = %s (%s)", name, pl_nl_errname(err, e, sizeof(e)),
			 pl_nl_reason(&ext));
}

/* ---- ethtool ---- */

/*
 * ethnl_parse_header_dev_get(): the device by index (and its name must
 * match when both are given), else by name.
 */
static int pl_nl_ethtool_dev(const struct nlmsghdr *nlh, const struct nlc_request *req,
			     int *ifindex, char *name, struct nlc_extack *ext)
{
	const struct nlc_obj *h = &req->header;
	const struct nlattr *hdr = req->attrs.tb[1];

	if (nlc_has(h, ETHTOOL_A_HEADER_DEV_INDEX)) {
		*ifindex = (int)h->v[ETHTOOL_A_HEADER_DEV_INDEX];
		if (!*ifindex || !if_indextoname((unsigned int)*ifindex, name)) {
			snprintf(ext->msg, sizeof(ext->msg), "no device matches ifindex");
			ext->has_msg = true;
			pl_nl_bad_attr(ext, nlh, h->tb[ETHTOOL_A_HEADER_DEV_INDEX]);
			return -ENODEV;
		}
		if (nlc_has(h, ETHTOOL_A_HEADER_DEV_NAME) &&
		    strncmp(name, nlc_attr_data(h->tb[ETHTOOL_A_HEADER_DEV_NAME]), IF_NAMESIZE)) {
			snprintf(ext->msg, sizeof(ext->msg), "ifindex and name do not match");
			ext->has_msg = true;
			pl_nl_bad_attr(ext, nlh, hdr);
			return -ENODEV;
		}
		return 0;
	}
	snprintf(name, IF_NAMESIZE, "%s",
		 (const char *)nlc_attr_data(h->tb[ETHTOOL_A_HEADER_DEV_NAME]));
	*ifindex = (int)if_nametoindex(name);
	if (!*ifindex) {
		snprintf(ext->msg, sizeof(ext->msg), "no device matches name");
		ext->has_msg = true;
		pl_nl_bad_attr(ext, nlh, h->tb[ETHTOOL_A_HEADER_DEV_NAME]);
		return -ENODEV;
	}
	return 0;
}

static void pl_nl_ethtool_reply(struct pl_nl_ctx *c, const struct nlmsghdr *nlh, uint8_t cmd,
				int ifindex, const char *name, const struct nlc_obj *o)
{
	uint8_t buf[PL_NL_REPLY_SIZE];
	int n;

	n = nlc_ethtool_reply(buf, sizeof(buf), pl_nl_families()->ethtool, nlh->nlmsg_seq,
			      c->portid, cmd, (uint32_t)ifindex, name, o);
	if (n > 0)
		pl_nl_put(c, buf, (size_t)n, false);
}

/* channels_fill_reply(): the software NIC has separate rx and tx queues. */
static int pl_nl_channels_get(struct net_device *dev, struct nlc_obj *o)
{
	memset(o, 0, sizeof(*o));
	netdev_lock(dev);
	pl_nl_set(o, ETHTOOL_A_CHANNELS_RX_MAX, dev->num_rx_queues);
	pl_nl_set(o, ETHTOOL_A_CHANNELS_TX_MAX, dev->num_tx_queues);
	pl_nl_set(o, ETHTOOL_A_CHANNELS_RX_COUNT, dev->real_num_rx_queues);
	pl_nl_set(o, ETHTOOL_A_CHANNELS_TX_COUNT, dev->real_num_tx_queues);
	netdev_unlock(dev);
	return 0;
}

/*
 * ethnl_set_channels(): the counts asked for within the maxima, at least one
 * rx and one tx channel; what the bound queues need is the library's check.
 */
static int pl_nl_channels_set(struct net_device *dev, const struct nlmsghdr *nlh,
			      const struct nlc_request *req, struct nlc_extack *ext)
{
	const struct nlc_obj *a = &req->attrs;
	uint32_t rx, tx, rx_max, tx_max;
	const struct nlattr *bad = NULL;
	int err;

	netdev_lock(dev);
	rx = dev->real_num_rx_queues;
	tx = dev->real_num_tx_queues;
	rx_max = dev->num_rx_queues;
	tx_max = dev->num_tx_queues;
	netdev_unlock(dev);
	if (nlc_has(a, ETHTOOL_A_CHANNELS_RX_COUNT))
		rx = (uint32_t)a->v[ETHTOOL_A_CHANNELS_RX_COUNT];
	if (nlc_has(a, ETHTOOL_A_CHANNELS_TX_COUNT))
		tx = (uint32_t)a->v[ETHTOOL_A_CHANNELS_TX_COUNT];
	if (!(a->present &
	      ((1ull << ETHTOOL_A_CHANNELS_RX_COUNT) | (1ull << ETHTOOL_A_CHANNELS_TX_COUNT) |
	       (1ull << ETHTOOL_A_CHANNELS_OTHER_COUNT) |
	       (1ull << ETHTOOL_A_CHANNELS_COMBINED_COUNT))))
		return 0;
	if (rx > rx_max)
		bad = a->tb[ETHTOOL_A_CHANNELS_RX_COUNT];
	else if (tx > tx_max)
		bad = a->tb[ETHTOOL_A_CHANNELS_TX_COUNT];
	else if (nlc_has(a, ETHTOOL_A_CHANNELS_OTHER_COUNT) && a->v[ETHTOOL_A_CHANNELS_OTHER_COUNT])
		bad = a->tb[ETHTOOL_A_CHANNELS_OTHER_COUNT];
	else if (nlc_has(a, ETHTOOL_A_CHANNELS_COMBINED_COUNT) &&
		 a->v[ETHTOOL_A_CHANNELS_COMBINED_COUNT])
		bad = a->tb[ETHTOOL_A_CHANNELS_COMBINED_COUNT];
	if (bad) {
		snprintf(ext->msg, sizeof(ext->msg), "requested channel count exceeds maximum");
		ext->has_msg = true;
		pl_nl_bad_attr(ext, nlh, bad);
		return -EINVAL;
	}
	if (!rx || !tx) {
		bad = !rx ? a->tb[ETHTOOL_A_CHANNELS_RX_COUNT] : a->tb[ETHTOOL_A_CHANNELS_TX_COUNT];
		snprintf(ext->msg, sizeof(ext->msg),
			 "requested channel counts would result in no RX or TX channel");
		ext->has_msg = true;
		pl_nl_bad_attr(ext, nlh, bad);
		return -EINVAL;
	}
	devmem_clear_error();
	err = netdev_set_channels(dev, rx, tx);
	if (err)
		pl_nl_lib_extack(ext, dev->name);
	/* ethtool_check_max_channel() names dev_get_min_mp_channel_count() */
	if (err && !strcmp(ext->msg, pl_nl_kernel_msgs[PL_NL_MSG_MP_CHANNELS])) {
		unsigned int count = 0;

		netdev_lock(dev);
		for (unsigned int i = dev->real_num_rx_queues; i > 0 && !count; i--)
			if (dev->_rx[i - 1].mp_params.mp_ops)
				count = i;
		netdev_unlock(dev);
		snprintf(ext->msg, sizeof(ext->msg), "%s (%u)",
			 pl_nl_kernel_msgs[PL_NL_MSG_MP_CHANNELS], count);
	}
	return err;
}

/* rings_fill_reply(): header split and its threshold, as the device has them. */
static void pl_nl_rings_get(const struct devmem_dev_info *info, struct nlc_obj *o)
{
	memset(o, 0, sizeof(*o));
	if (info->tcp_data_split)
		pl_nl_set(o, ETHTOOL_A_RINGS_TCP_DATA_SPLIT, info->tcp_data_split);
	pl_nl_set(o, ETHTOOL_A_RINGS_TX_PUSH, 0);
	pl_nl_set(o, ETHTOOL_A_RINGS_RX_PUSH, 0);
	if (info->hds_thresh_max) {
		pl_nl_set(o, ETHTOOL_A_RINGS_HDS_THRESH, info->hds_thresh);
		pl_nl_set(o, ETHTOOL_A_RINGS_HDS_THRESH_MAX, info->hds_thresh_max);
	}
}

/*
 * ethnl_set_rings_validate() and ethnl_set_rings(): the software NIC has
 * no ring sizes, buffer length, CQE size or push modes to set; header split
 * and its threshold are the library's rule (netdev_set_header_split()).
 */
static int pl_nl_rings_set(struct pl_nl_ctx *c, int ifindex, const struct nlmsghdr *nlh,
			   const struct nlc_request *req, const struct devmem_dev_info *info,
			   struct nlc_extack *ext)
{
	static const struct {
		unsigned int attr;
		const char *msg;
	} unsupported[] = {
		{ ETHTOOL_A_RINGS_RX_BUF_LEN, "setting rx buf len not supported" },
		{ ETHTOOL_A_RINGS_CQE_SIZE, "setting cqe size not supported" },
		{ ETHTOOL_A_RINGS_TX_PUSH, "setting tx push not supported" },
		{ ETHTOOL_A_RINGS_RX_PUSH, "setting rx push not supported" },
		{ ETHTOOL_A_RINGS_TX_PUSH_BUF_LEN, "setting tx push buf len is not supported" },
		{ ETHTOOL_A_RINGS_HDS_THRESH, "setting hds-thresh is not supported" },
	};
	const struct nlc_obj *a = &req->attrs;
	uint32_t split = info->tcp_data_split, thresh = info->hds_thresh;
	int err;

	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
		if (!nlc_has(a, unsupported[i].attr))
			continue;
		/* a device with a threshold takes one */
		if (unsupported[i].attr == ETHTOOL_A_RINGS_HDS_THRESH && info->hds_thresh_max)
			continue;
		snprintf(ext->msg, sizeof(ext->msg), "%s", unsupported[i].msg);
		ext->has_msg = true;
		pl_nl_bad_attr(ext, nlh, a->tb[unsupported[i].attr]);
		return -EOPNOTSUPP;
	}
	/* ring sizes: the software NIC has none (no maximum is reported) */
	for (unsigned int t = ETHTOOL_A_RINGS_RX; t <= ETHTOOL_A_RINGS_TX; t++) {
		if (!nlc_has(a, t))
			continue;
		snprintf(ext->msg, sizeof(ext->msg), "requested ring size exceeds maximum");
		ext->has_msg = true;
		pl_nl_bad_attr(ext, nlh, a->tb[t]);
		return -EINVAL;
	}
	if (nlc_has(a, ETHTOOL_A_RINGS_TCP_DATA_SPLIT))
		split = (uint32_t)a->v[ETHTOOL_A_RINGS_TCP_DATA_SPLIT];
	if (nlc_has(a, ETHTOOL_A_RINGS_HDS_THRESH))
		thresh = (uint32_t)a->v[ETHTOOL_A_RINGS_HDS_THRESH];
	if (split == info->tcp_data_split && thresh == info->hds_thresh)
		return 0;
	/* "unknown" lets the driver choose: the software NIC's choice is off */
	if (split == ETHTOOL_TCP_DATA_SPLIT_UNKNOWN)
		split = ETHTOOL_TCP_DATA_SPLIT_DISABLED;
	devmem_clear_error();
	err = devmem_set_header_split(c->nl->ctl, ifindex, split, thresh);
	if (err)
		pl_nl_lib_extack(ext, info->name);
	return err;
}

/*
 * rss_prepare_data() and rss_fill_reply(): the table of @context and, for
 * context 0, its hash function (Toeplitz). The software NIC has no hash
 * key and no per-context key or function (rxfh_per_ctx_key unset), so a
 * context's reply carries its id and table alone. -ENOENT: no such context.
 */
static int pl_nl_rss_get(struct pl_nl_ctx *c, int ifindex, uint32_t context, struct nlc_obj *o,
			 struct nlattr *indir)
{
	int err;

	memset(o, 0, sizeof(*o));
	err = devmem_rss_get(c->nl->ctl, ifindex, context,
			     (uint32_t *)((uint8_t *)indir + NLA_HDRLEN));
	if (err)
		return err;
	if (context)
		pl_nl_set(o, ETHTOOL_A_RSS_CONTEXT, context);
	else
		pl_nl_set(o, ETHTOOL_A_RSS_HFUNC, 1 /* ETH_RSS_HASH_TOP */);
	indir->nla_type = ETHTOOL_A_RSS_INDIR;
	indir->nla_len = NLA_HDRLEN + DEVMEM_RSS_INDIR_SIZE * sizeof(uint32_t);
	o->present |= 1ull << ETHTOOL_A_RSS_INDIR;
	o->tb[ETHTOOL_A_RSS_INDIR] = indir;
	/* no input transformation: rss_fill_reply() leaves a zero one out */
	return 0;
}

/*
 * ethnl_rss_set_validate(), rss_set_prep_indir(), rss_set_prep_hkey() and
 * ethnl_rss_set() (mainline, 6.16+): the table of context 0 or of a
 * context, replicated from a shorter one that divides it, or reset to the
 * default spread (context 0 only). What the device lacks is refused as the
 * kernel refuses it for such a driver: no per-context key or function, no
 * input transformation, no hash field setting, a key of length 0 and a
 * hash function the device cannot choose.
 */
static int pl_nl_rss_set(struct pl_nl_ctx *c, int ifindex, const struct nlmsghdr *nlh,
			 const struct nlc_request *req, const struct devmem_dev_info *info,
			 struct nlc_extack *ext)
{
	const struct nlc_obj *a = &req->attrs;
	uint32_t context =
		nlc_has(a, ETHTOOL_A_RSS_CONTEXT) ? (uint32_t)a->v[ETHTOOL_A_RSS_CONTEXT] : 0;
	uint32_t cur[DEVMEM_RSS_INDIR_SIZE], table[DEVMEM_RSS_INDIR_SIZE];
	const struct nlattr *bad = NULL, *nla;
	uint32_t xfrm =
		nlc_has(a, ETHTOOL_A_RSS_INPUT_XFRM) ? (uint32_t)a->v[ETHTOOL_A_RSS_INPUT_XFRM] : 0;
	size_t len, n = 0;
	int err;

	if (context) {
		bad = a->tb[ETHTOOL_A_RSS_HFUNC];
		bad = bad ?: a->tb[ETHTOOL_A_RSS_HKEY];
		bad = bad ?: a->tb[ETHTOOL_A_RSS_INPUT_XFRM];
	}
	if (xfrm)
		bad = bad ?: a->tb[ETHTOOL_A_RSS_INPUT_XFRM];
	bad = bad ?: a->tb[ETHTOOL_A_RSS_FLOW_HASH];
	if (bad) {
		pl_nl_bad_attr(ext, nlh, bad);
		return -EOPNOTSUPP;
	}
	/* rss_prepare(): the context must exist */
	err = devmem_rss_get(c->nl->ctl, ifindex, context, cur);
	if (err)
		return err;
	nla = a->tb[ETHTOOL_A_RSS_INDIR];
	if (nla) {
		len = nlc_attr_len(nla);
		n = len / sizeof(uint32_t);
		if (len % sizeof(uint32_t)) {
			pl_nl_bad_attr(ext, nlh, nla);
			return -EINVAL;
		}
		if (!n && context) {
			snprintf(ext->msg, sizeof(ext->msg), "can't reset table for a context");
			ext->has_msg = true;
			pl_nl_bad_attr(ext, nlh, nla);
			return -EINVAL;
		}
		if (n && DEVMEM_RSS_INDIR_SIZE % n) {
			snprintf(ext->msg, sizeof(ext->msg),
				 "size (%zu) mismatch with device indir table (%d)", n,
				 DEVMEM_RSS_INDIR_SIZE);
			ext->has_msg = true;
			pl_nl_bad_attr(ext, nlh, nla);
			return -EINVAL;
		}
		memcpy(table, nlc_attr_data(nla), n * sizeof(uint32_t));
		for (size_t i = 0; i < n; i++) {
			if (table[i] < info->num_rx_queues)
				continue;
			snprintf(ext->msg, sizeof(ext->msg), "entry %zu: queue out of range (%d)",
				 i, (int)table[i]);
			ext->has_msg = true;
			pl_nl_bad_attr(ext, nlh, nla);
			return -EINVAL;
		}
		for (size_t i = n; n && i < DEVMEM_RSS_INDIR_SIZE; i++)
			table[i] = table[i % n];
	}
	/* rss_set_prep_hkey(): the device's key is 0 bytes long, and the policy wants one */
	if (a->tb[ETHTOOL_A_RSS_HKEY]) {
		pl_nl_bad_attr(ext, nlh, a->tb[ETHTOOL_A_RSS_HKEY]);
		return -EINVAL;
	}
	/* a new hash function goes to the driver, which has only Toeplitz */
	if (nlc_has(a, ETHTOOL_A_RSS_HFUNC) && (uint8_t)a->v[ETHTOOL_A_RSS_HFUNC] != 1)
		return -EOPNOTSUPP;
	if (!nla)
		return 0;
	/* an empty table on context 0: the default spread, as not configured */
	devmem_clear_error();
	err = devmem_rss_set(c->nl->ctl, ifindex, context, n ? table : NULL);
	if (err)
		pl_nl_lib_extack(ext, info->name);
	return err;
}

/* ---- features (net/ethtool/features.c, net/ethtool/bitset.c) ---- */

/* Attributes built whole before they go into a reply (the bitsets). */
struct pl_nl_attrs {
	uint8_t *p;
	size_t len, cap;
	bool overflow;
};

static struct nlattr *pl_nl_attrs_put(struct pl_nl_attrs *b, uint16_t type, const void *data,
				      size_t len)
{
	struct nlattr *nla;

	if (b->overflow || b->cap - b->len < NLA_HDRLEN + NLA_ALIGN(len)) {
		b->overflow = true;
		return NULL;
	}
	nla = (struct nlattr *)(b->p + b->len);
	nla->nla_type = type;
	nla->nla_len = (uint16_t)(NLA_HDRLEN + len);
	if (len)
		memcpy((uint8_t *)nla + NLA_HDRLEN, data, len);
	memset((uint8_t *)nla + NLA_HDRLEN + len, 0, NLA_ALIGN(len) - len);
	b->len += NLA_HDRLEN + NLA_ALIGN(len);
	return nla;
}

static void pl_nl_attrs_end(struct pl_nl_attrs *b, struct nlattr *nest)
{
	if (nest && !b->overflow)
		nest->nla_len = (uint16_t)(b->p + b->len - (uint8_t *)nest);
}

/*
 * ethnl_put_bitset32() of a 64-bit feature set: a list (NOMASK) without
 * @mask, a value/mask pair with it; compact as two u32 words, verbose as
 * one entry per bit (set in the list, or in the mask) with its index, its
 * name and, for a pair, a VALUE flag when set.
 */
static struct nlattr *pl_nl_put_bitset(struct pl_nl_attrs *b, uint16_t type, uint64_t val,
				       const uint64_t *mask, bool compact)
{
	uint32_t words[2], size = PL_NETDEV_FEATURE_COUNT;
	struct nlattr *nest, *bits, *bit;

	nest = pl_nl_attrs_put(b, type | NLA_F_NESTED, NULL, 0);
	if (!mask)
		pl_nl_attrs_put(b, ETHTOOL_A_BITSET_NOMASK, NULL, 0);
	pl_nl_attrs_put(b, ETHTOOL_A_BITSET_SIZE, &size, sizeof(size));
	if (compact) {
		words[0] = (uint32_t)val;
		words[1] = (uint32_t)(val >> 32);
		pl_nl_attrs_put(b, ETHTOOL_A_BITSET_VALUE, words, sizeof(words));
		if (mask) {
			words[0] = (uint32_t)*mask;
			words[1] = (uint32_t)(*mask >> 32);
			pl_nl_attrs_put(b, ETHTOOL_A_BITSET_MASK, words, sizeof(words));
		}
	} else {
		bits = pl_nl_attrs_put(b, ETHTOOL_A_BITSET_BITS | NLA_F_NESTED, NULL, 0);
		for (uint32_t i = 0; i < PL_NETDEV_FEATURE_COUNT; i++) {
			if (!(((mask ? *mask : val) >> i) & 1))
				continue;
			bit = pl_nl_attrs_put(b, ETHTOOL_A_BITSET_BITS_BIT | NLA_F_NESTED, NULL, 0);
			pl_nl_attrs_put(b, ETHTOOL_A_BITSET_BIT_INDEX, &i, sizeof(i));
			pl_nl_attrs_put(b, ETHTOOL_A_BITSET_BIT_NAME, pl_feature_names[i],
					strlen(pl_feature_names[i]) + 1);
			if (mask && ((val >> i) & 1))
				pl_nl_attrs_put(b, ETHTOOL_A_BITSET_BIT_VALUE, NULL, 0);
			pl_nl_attrs_end(b, bit);
		}
		pl_nl_attrs_end(b, bits);
	}
	pl_nl_attrs_end(b, nest);
	return b->overflow ? NULL : nest;
}

static void pl_nl_obj_attr(struct nlc_obj *o, unsigned int type, const struct nlattr *nla)
{
	if (!nla)
		return;
	o->present |= 1ull << type;
	o->tb[type] = nla;
}

/* features_prepare_data() and features_fill_reply(): hw (against every bit), wanted, active, nochange. */
static int pl_nl_features_get(struct pl_nl_ctx *c, int ifindex, bool compact, struct nlc_obj *o,
			      struct pl_nl_attrs *b)
{
	uint64_t hw, wanted, active, all = ~0ULL, nochange = PL_NETIF_F_NEVER_CHANGE;
	int err;

	memset(o, 0, sizeof(*o));
	err = devmem_get_features(c->nl->ctl, ifindex, &hw, &wanted, &active);
	if (err)
		return err;
	pl_nl_obj_attr(o, ETHTOOL_A_FEATURES_HW,
		       pl_nl_put_bitset(b, ETHTOOL_A_FEATURES_HW, hw, &all, compact));
	pl_nl_obj_attr(o, ETHTOOL_A_FEATURES_WANTED,
		       pl_nl_put_bitset(b, ETHTOOL_A_FEATURES_WANTED, wanted, NULL, compact));
	pl_nl_obj_attr(o, ETHTOOL_A_FEATURES_ACTIVE,
		       pl_nl_put_bitset(b, ETHTOOL_A_FEATURES_ACTIVE, active, NULL, compact));
	pl_nl_obj_attr(o, ETHTOOL_A_FEATURES_NOCHANGE,
		       pl_nl_put_bitset(b, ETHTOOL_A_FEATURES_NOCHANGE, nochange, NULL, compact));
	return b->overflow ? -EMSGSIZE : 0;
}

/* ETHNL_MAX_BITSET_SIZE */
#define PL_NL_MAX_BITSET_SIZE 32767

static const struct nlc_policy pl_nl_bitset_policy[ETHTOOL_A_BITSET_MASK + 1] = {
	[ETHTOOL_A_BITSET_NOMASK] = { .type = NLC_FLAG },
	[ETHTOOL_A_BITSET_SIZE] = { .type = NLC_U32,
				    .check = NLC_CHECK_MAX,
				    .max = PL_NL_MAX_BITSET_SIZE },
	[ETHTOOL_A_BITSET_BITS] = { .type = NLC_NESTED },
	[ETHTOOL_A_BITSET_VALUE] = { .type = NLC_BINARY },
	[ETHTOOL_A_BITSET_MASK] = { .type = NLC_BINARY },
};

static const struct nlc_policy pl_nl_bit_policy[ETHTOOL_A_BITSET_BIT_VALUE + 1] = {
	[ETHTOOL_A_BITSET_BIT_INDEX] = { .type = NLC_U32 },
	[ETHTOOL_A_BITSET_BIT_NAME] = { .type = NLC_NUL_STRING },
	[ETHTOOL_A_BITSET_BIT_VALUE] = { .type = NLC_FLAG },
};

static int pl_nl_bitset_err(struct nlc_extack *ext, const struct nlmsghdr *nlh,
			    const struct nlattr *nla, int err, const char *msg)
{
	if (msg) {
		snprintf(ext->msg, sizeof(ext->msg), "%s", msg);
		ext->has_msg = true;
	}
	pl_nl_bad_attr(ext, nlh, nla);
	return err;
}

/* The u32 words of a compact bitset's attribute as 64 feature bits (@nbits of them). */
static uint64_t pl_nl_bitset_words(const struct nlattr *nla, uint32_t nbits)
{
	uint32_t words[2] = { 0, 0 };
	size_t len = nlc_attr_len(nla);
	uint64_t v;

	memcpy(words, nlc_attr_data(nla), len < sizeof(words) ? len : sizeof(words));
	v = words[0] | (uint64_t)words[1] << 32;
	return nbits >= 64 ? v : v & ((1ULL << nbits) - 1);
}

/*
 * ethnl_parse_bitset(), ethnl_compact_sanity_checks() and ethnl_parse_bit():
 * the value and mask a WANTED bitset asks for, compact or verbose, bits by
 * index or by name.
 */
static int pl_nl_parse_bitset(const struct nlmsghdr *nlh, const struct nlattr *attr, uint64_t *val,
			      uint64_t *mask, struct nlc_extack *ext)
{
	const uint32_t nbits = PL_NETDEV_FEATURE_COUNT;
	const struct nlattr *nla;
	struct nlc_obj tb, bit;
	bool no_mask;
	long rem;
	int err;

	err = nlc_parse_attrs(&tb, nlc_attr_data(attr), nlc_attr_len(attr), pl_nl_bitset_policy,
			      ETHTOOL_A_BITSET_MASK, NLC_VALIDATE_STRICT, nlh, ext);
	if (err)
		return err;
	no_mask = nlc_has(&tb, ETHTOOL_A_BITSET_NOMASK);
	if (!nlc_has(&tb, ETHTOOL_A_BITSET_BITS)) {
		uint32_t size, words;

		if (no_mask && nlc_has(&tb, ETHTOOL_A_BITSET_MASK))
			return pl_nl_bitset_err(ext, nlh, tb.tb[ETHTOOL_A_BITSET_MASK], -EINVAL,
						"mask not allowed in list bitset");
		if (!nlc_has(&tb, ETHTOOL_A_BITSET_SIZE))
			return pl_nl_bitset_err(ext, nlh, attr, -EINVAL,
						"missing size in compact bitset");
		if (!nlc_has(&tb, ETHTOOL_A_BITSET_VALUE))
			return pl_nl_bitset_err(ext, nlh, attr, -EINVAL,
						"missing value in compact bitset");
		if (!no_mask && !nlc_has(&tb, ETHTOOL_A_BITSET_MASK))
			return pl_nl_bitset_err(ext, nlh, attr, -EINVAL,
						"missing mask in compact nonlist bitset");
		size = (uint32_t)tb.v[ETHTOOL_A_BITSET_SIZE];
		words = (size + 31) / 32;
		if (nlc_attr_len(tb.tb[ETHTOOL_A_BITSET_VALUE]) != words * sizeof(uint32_t))
			return pl_nl_bitset_err(ext, nlh, tb.tb[ETHTOOL_A_BITSET_VALUE], -EINVAL,
						"bitset value length does not match size");
		if (nlc_has(&tb, ETHTOOL_A_BITSET_MASK) &&
		    nlc_attr_len(tb.tb[ETHTOOL_A_BITSET_MASK]) != words * sizeof(uint32_t))
			return pl_nl_bitset_err(ext, nlh, tb.tb[ETHTOOL_A_BITSET_MASK], -EINVAL,
						"bitset mask length does not match size");
		if (size > nbits) {
			const struct nlattr *test =
				tb.tb[no_mask ? ETHTOOL_A_BITSET_VALUE : ETHTOOL_A_BITSET_MASK];
			const uint32_t *w = nlc_attr_data(test);

			for (uint32_t i = nbits; i < size; i++)
				if ((w[i / 32] >> (i % 32)) & 1)
					return pl_nl_bitset_err(
						ext, nlh, test, -EINVAL,
						"cannot modify bits past kernel bitset size");
		}
		if (size > nbits)
			size = nbits;
		*val = pl_nl_bitset_words(tb.tb[ETHTOOL_A_BITSET_VALUE], size);
		*mask = no_mask ? ~0ULL : pl_nl_bitset_words(tb.tb[ETHTOOL_A_BITSET_MASK], size);
		return 0;
	}
	if (nlc_has(&tb, ETHTOOL_A_BITSET_VALUE))
		return pl_nl_bitset_err(ext, nlh, tb.tb[ETHTOOL_A_BITSET_VALUE], -EINVAL,
					"value only allowed in compact bitset");
	if (nlc_has(&tb, ETHTOOL_A_BITSET_MASK))
		return pl_nl_bitset_err(ext, nlh, tb.tb[ETHTOOL_A_BITSET_MASK], -EINVAL,
					"mask only allowed in compact bitset");
	*val = 0;
	*mask = no_mask ? ~0ULL : 0;
	nla = nlc_attr_data(tb.tb[ETHTOOL_A_BITSET_BITS]);
	rem = (long)nlc_attr_len(tb.tb[ETHTOOL_A_BITSET_BITS]);
	for (; rem >= (long)NLA_HDRLEN && nla->nla_len >= NLA_HDRLEN && nla->nla_len <= rem;
	     rem -= NLA_ALIGN(nla->nla_len),
	     nla = (const void *)((const uint8_t *)nla + NLA_ALIGN(nla->nla_len))) {
		const struct nlattr *name;
		uint32_t idx = 0;

		err = nlc_parse_attrs(&bit, nlc_attr_data(nla), nlc_attr_len(nla), pl_nl_bit_policy,
				      ETHTOOL_A_BITSET_BIT_VALUE, NLC_VALIDATE_STRICT, nlh, ext);
		if (err)
			return err;
		name = bit.tb[ETHTOOL_A_BITSET_BIT_NAME];
		if (nlc_has(&bit, ETHTOOL_A_BITSET_BIT_INDEX)) {
			idx = (uint32_t)bit.v[ETHTOOL_A_BITSET_BIT_INDEX];
			if (idx >= nbits)
				return pl_nl_bitset_err(ext, nlh,
							bit.tb[ETHTOOL_A_BITSET_BIT_INDEX],
							-EOPNOTSUPP, "bit index too high");
			if (name &&
			    strncmp(nlc_attr_data(name), pl_feature_names[idx], nlc_attr_len(name)))
				return pl_nl_bitset_err(ext, nlh, nla, -EINVAL,
							"bit index and name mismatch");
		} else if (name) {
			/* ethnl_name_to_idx(): names of up to ETH_GSTRING_LEN */
			for (idx = 0; idx < nbits; idx++)
				if (strlen(nlc_attr_data(name)) <= 32 &&
				    !strncmp(pl_feature_names[idx], nlc_attr_data(name), 32))
					break;
			if (idx >= nbits)
				return pl_nl_bitset_err(ext, nlh, name, -EOPNOTSUPP,
							"bit name not found");
		} else {
			return pl_nl_bitset_err(ext, nlh, nla, -EINVAL,
						"neither bit index nor name specified");
		}
		if (no_mask || nlc_has(&bit, ETHTOOL_A_BITSET_BIT_VALUE))
			*val |= 1ULL << idx;
		if (!no_mask)
			*mask |= 1ULL << idx;
	}
	return 0;
}

/*
 * ethnl_set_features(): the wanted bits the mask names change (none outside
 * the ethtool bits), the device takes those it can change, and the reply
 * (unless omitted) gives the wanted bits that did not become active and the
 * active bits that changed, each against its mask.
 */
static int pl_nl_features_set(struct pl_nl_ctx *c, int ifindex, const struct nlmsghdr *nlh,
			      const struct nlc_request *req, bool compact, struct nlc_obj *o,
			      struct pl_nl_attrs *b, struct nlc_extack *ext)
{
	uint64_t hw, old_wanted, old_active, new_wanted, new_active, active, req_val, req_mask;
	uint64_t wanted_diff, active_diff;
	int err;

	memset(o, 0, sizeof(*o));
	err = devmem_get_features(c->nl->ctl, ifindex, &hw, &old_wanted, &old_active);
	if (err)
		return err;
	err = pl_nl_parse_bitset(nlh, req->attrs.tb[ETHTOOL_A_FEATURES_WANTED], &req_val, &req_mask,
				 ext);
	if (err)
		return err;
	if (req_mask & ~PL_NETIF_F_ETHTOOL_BITS) {
		snprintf(ext->msg, sizeof(ext->msg), "attempt to change non-ethtool features");
		ext->has_msg = true;
		return -EINVAL;
	}
	new_wanted = (req_val & req_mask) | (old_wanted & ~req_mask);
	if (new_wanted != old_wanted) {
		devmem_clear_error();
		err = devmem_set_features(c->nl->ctl, ifindex, (new_wanted ^ old_wanted) & hw,
					  new_wanted);
		if (err < 0) {
			pl_nl_lib_extack(ext, NULL);
			return err;
		}
	}
	err = devmem_get_features(c->nl->ctl, ifindex, &hw, &active, &new_active);
	if (err)
		return err;
	wanted_diff = (new_wanted ^ new_active) & req_mask;
	active_diff = old_active ^ new_active;
	pl_nl_obj_attr(o, ETHTOOL_A_FEATURES_WANTED,
		       pl_nl_put_bitset(b, ETHTOOL_A_FEATURES_WANTED, new_wanted & wanted_diff,
					&wanted_diff, compact));
	pl_nl_obj_attr(o, ETHTOOL_A_FEATURES_ACTIVE,
		       pl_nl_put_bitset(b, ETHTOOL_A_FEATURES_ACTIVE, new_active & active_diff,
					&active_diff, compact));
	return b->overflow ? -EMSGSIZE : 0;
}

static const char *pl_nl_ethtool_cmd_name(uint8_t cmd)
{
	switch (cmd) {
	case ETHTOOL_MSG_CHANNELS_GET:
		return "channels-get";
	case ETHTOOL_MSG_CHANNELS_SET:
		return "channels-set";
	case ETHTOOL_MSG_RINGS_GET:
		return "rings-get";
	case ETHTOOL_MSG_RINGS_SET:
		return "rings-set";
	case ETHTOOL_MSG_RSS_GET:
		return "rss-get";
	case ETHTOOL_MSG_RSS_SET:
		return "rss-set";
	case ETHTOOL_MSG_FEATURES_GET:
		return "features-get";
	case ETHTOOL_MSG_FEATURES_SET:
		return "features-set";
	default:
		return "?";
	}
}

static void pl_nl_ethtool(struct pl_nl_ctx *c, const struct nlmsghdr *nlh)
{
	static __thread struct nlc_request req;
	uint8_t indir[NLA_HDRLEN + DEVMEM_RSS_INDIR_SIZE * 4] __attribute__((aligned(4)));
	uint8_t bitset_buf[8192] __attribute__((aligned(4)));
	struct pl_nl_attrs bitsets = { .p = bitset_buf, .cap = sizeof(bitset_buf) };
	uint8_t cmd = pl_nl_cmd(nlh), reply = 0;
	uint32_t flags;
	char name[IF_NAMESIZE] = "", e[32];
	struct devmem_dev_info info;
	struct net_device *dev = NULL;
	struct nlc_extack ext;
	int ifindex = 0;
	struct nlc_obj o;
	int err;

	nlc_extack_clear(&ext);
	err = nlc_ethtool_parse_req(nlh, nlh->nlmsg_len, pl_nl_families()->ethtool, &req, &ext);
	if (err)
		goto out;
	/* only where the kernel lacks the family: the shim has no ethtool dumps */
	if (req.dump) {
		err = -EOPNOTSUPP;
		goto out;
	}
	if ((cmd == ETHTOOL_MSG_CHANNELS_SET || cmd == ETHTOOL_MSG_RINGS_SET ||
	     cmd == ETHTOOL_MSG_RSS_SET || cmd == ETHTOOL_MSG_FEATURES_SET) &&
	    !pl_nl_net_admin()) {
		err = -EPERM;
		goto out;
	}
	/* ethnl_set_features(): no wanted bitset, nothing to say */
	if (cmd == ETHTOOL_MSG_FEATURES_SET && !req.attrs.tb[ETHTOOL_A_FEATURES_WANTED]) {
		err = -EINVAL;
		goto out;
	}
	err = pl_nl_ethtool_dev(nlh, &req, &ifindex, name, &ext);
	if (err)
		goto out;
	/*
	 * The header's flags (checked against their mask by the policy):
	 * COMPACT_BITSETS and OMIT_REPLY matter to the features messages only;
	 * the others carry no bitsets and their sets send no reply, and no
	 * answered message has statistics (STATS).
	 */
	flags = nlc_has(&req.header, ETHTOOL_A_HEADER_FLAGS) ?
			(uint32_t)req.header.v[ETHTOOL_A_HEADER_FLAGS] :
			0;
	devmem_clear_error();
	err = devmem_dev_get(c->nl->ctl, ifindex, &info);
	if (err) {
		pl_nl_lib_extack(&ext, name);
		goto out;
	}
	switch (cmd) {
	case ETHTOOL_MSG_CHANNELS_GET:
	case ETHTOOL_MSG_CHANNELS_SET:
		dev = netdev_get_or_shadow(ifindex);
		if (!dev) {
			err = -ENODEV;
			break;
		}
		if (cmd == ETHTOOL_MSG_CHANNELS_GET) {
			reply = ETHTOOL_MSG_CHANNELS_GET_REPLY;
			pl_nl_channels_get(dev, &o);
		} else {
			err = pl_nl_channels_set(dev, nlh, &req, &ext);
		}
		netdev_put(dev);
		break;
	case ETHTOOL_MSG_RINGS_GET:
		reply = ETHTOOL_MSG_RINGS_GET_REPLY;
		pl_nl_rings_get(&info, &o);
		break;
	case ETHTOOL_MSG_RINGS_SET:
		err = pl_nl_rings_set(c, ifindex, nlh, &req, &info, &ext);
		break;
	case ETHTOOL_MSG_RSS_GET:
		/* rss_parse_request(): a start context belongs to dumps */
		if (req.attrs.tb[ETHTOOL_A_RSS_START_CONTEXT]) {
			pl_nl_bad_attr(&ext, nlh, req.attrs.tb[ETHTOOL_A_RSS_START_CONTEXT]);
			err = -EINVAL;
			break;
		}
		reply = ETHTOOL_MSG_RSS_GET_REPLY;
		err = pl_nl_rss_get(c, ifindex,
				    nlc_has(&req.attrs, ETHTOOL_A_RSS_CONTEXT) ?
					    (uint32_t)req.attrs.v[ETHTOOL_A_RSS_CONTEXT] :
					    0,
				    &o, (struct nlattr *)indir);
		break;
	case ETHTOOL_MSG_RSS_SET:
		err = pl_nl_rss_set(c, ifindex, nlh, &req, &info, &ext);
		break;
	case ETHTOOL_MSG_FEATURES_GET:
		reply = ETHTOOL_MSG_FEATURES_GET_REPLY;
		err = pl_nl_features_get(c, ifindex, flags & ETHTOOL_FLAG_COMPACT_BITSETS, &o,
					 &bitsets);
		break;
	case ETHTOOL_MSG_FEATURES_SET:
		err = pl_nl_features_set(c, ifindex, nlh, &req,
					 flags & ETHTOOL_FLAG_COMPACT_BITSETS, &o, &bitsets, &ext);
		if (!err && !(flags & ETHTOOL_FLAG_OMIT_REPLY))
			reply = ETHTOOL_MSG_FEATURES_SET_REPLY;
		break;
	default:
		err = -EOPNOTSUPP;
		break;
	}
	if (!err && reply)
		pl_nl_ethtool_reply(c, nlh, reply, ifindex, name, &o);
out:
	pl_nl_finish(c, nlh, err, &ext);
	if (err)
		pl_trace("netlink ethtool %s %s = %s (%s)", pl_nl_ethtool_cmd_name(cmd), name,
			 pl_nl_errname(err, e, sizeof(e)), pl_nl_reason(&ext));
	else
		pl_trace("netlink ethtool %s %s = 0", pl_nl_ethtool_cmd_name(cmd), name);
}

/* ---- the socket's operations ---- */

/* Copy from the program's memory as the kernel would: a bad address is false, never a fault. */
static bool pl_nl_peek(void *dst, const void *src, size_t len)
{
	struct iovec local = { dst, len }, remote = { (void *)src, len };

	if (!len)
		return true;
	return src && process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)len;
}

static bool pl_nl_poke(void *dst, const void *src, size_t len)
{
	struct iovec local = { (void *)src, len }, remote = { dst, len };

	return dst && process_vm_writev(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)len;
}

static bool pl_nl_sockopt(int fd, int name)
{
	int v = 0;
	socklen_t len = sizeof(v);

	return !pl_real.getsockopt(fd, SOL_NETLINK, name, &v, &len) && v;
}

/*
 * The program socket's port id; a socket that has none yet is autobound
 * first, as netlink_sendmsg() does on its first send.
 */
static int pl_nl_portid(int fd, uint32_t *portid)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	socklen_t len = sizeof(sa);

	if (pl_real.getsockname(fd, (struct sockaddr *)&sa, &len))
		return -errno;
	if (!sa.nl_pid) {
		struct sockaddr_nl any = { .nl_family = AF_NETLINK };

		if (pl_real.bind(fd, (struct sockaddr *)&any, sizeof(any)) && errno != EINVAL)
			return -errno;
		len = sizeof(sa);
		if (pl_real.getsockname(fd, (struct sockaddr *)&sa, &len))
			return -errno;
	}
	*portid = sa.nl_pid;
	return 0;
}

/* The state answers need: the hidden socket and the file's control handle (nl->lock). */
static int pl_nl_prepare(struct pl_nl *nl)
{
	uint32_t portid;
	int fd, err;

	/* the hidden socket first: even a refusal needs a way to the program */
	if (nl->hidden < 0) {
		fd = pl_nl_open_own(&portid);
		if (fd < 0)
			return fd;
		nl->hidden = fd;
		__atomic_store_n(&nl->hidden_portid, portid, __ATOMIC_RELEASE);
	}
	if (!nl->ctl) {
		if (!pl_ctl())
			return -errno;
		err = devmem_ctl_open(&nl->ctl);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Hand the queued answers to the program's receive queue, without waiting:
 * what does not fit stays pending until the program reads (nl->lock).
 */
static void pl_nl_flush(struct pl_nl *nl, int fd)
{
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	struct pl_nl_dgram *d;
	uint32_t portid;

	if (nl->direct || pl_nl_portid(fd, &portid))
		goto out;
	to.nl_pid = portid;
	while ((d = nl->pending.head)) {
		if (pl_real.sendto(nl->hidden, d->data, d->len, MSG_DONTWAIT,
				   (struct sockaddr *)&to, sizeof(to)) < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			if (errno == EPERM) {
				pl_debug(
					"netlink: no CAP_NET_ADMIN to unicast answers: recvmsg gives them");
				nl->direct = true;
				break;
			}
			pl_debug("netlink: an answer of %zu bytes is lost: %s", d->len,
				 strerror(errno));
		}
		nl->pending.head = d->next;
		if (!d->next)
			nl->pending.tail = NULL;
		free(d);
	}
out:
	__atomic_store_n(&nl->has_pending, nl->pending.head != NULL, __ATOMIC_RELEASE);
}

/*
 * recvmsg of a pending answer when it cannot be queued on the socket: what
 * netlink_recvmsg() would have given for it, from the kernel's address
 * (nl->lock held). Returns -2 when there is none.
 */
static ssize_t pl_nl_recv_direct(struct pl_nl *nl, struct msghdr *umsg, int flags)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct pl_nl_dgram *d = nl->pending.head;
	struct iovec iov[PL_NL_MAX_IOV], local;
	struct msghdr msg;
	size_t cap = 0, n;

	if (!nl->direct || !d)
		return -2;
	/* the program's buffers, written as the kernel writes them: EFAULT, never a fault */
	if (!pl_nl_peek(&msg, umsg, sizeof(msg)) || msg.msg_iovlen > PL_NL_MAX_IOV ||
	    !pl_nl_peek(iov, msg.msg_iov, msg.msg_iovlen * sizeof(iov[0])))
		return pl_fail(msg.msg_iovlen > PL_NL_MAX_IOV ? EMSGSIZE : EFAULT);
	for (size_t i = 0; i < msg.msg_iovlen; i++)
		cap += iov[i].iov_len;
	n = cap < d->len ? cap : d->len;
	local = (struct iovec){ d->data, n };
	if (n && process_vm_writev(getpid(), &local, 1, iov, msg.msg_iovlen, 0) != (ssize_t)n)
		return pl_fail(EFAULT);
	msg.msg_flags = n < d->len ? MSG_TRUNC : 0;
	if (msg.msg_name && msg.msg_namelen >= sizeof(kernel)) {
		if (!pl_nl_poke(msg.msg_name, &kernel, sizeof(kernel)))
			return pl_fail(EFAULT);
		msg.msg_namelen = sizeof(kernel);
	}
	msg.msg_controllen = 0;
	if (!pl_nl_poke(&umsg->msg_namelen, &msg.msg_namelen, sizeof(msg.msg_namelen)) ||
	    !pl_nl_poke(&umsg->msg_controllen, &msg.msg_controllen, sizeof(msg.msg_controllen)) ||
	    !pl_nl_poke(&umsg->msg_flags, &msg.msg_flags, sizeof(msg.msg_flags)))
		return pl_fail(EFAULT);
	if (flags & MSG_TRUNC)
		n = d->len;
	if (!(flags & MSG_PEEK)) {
		nl->pending.head = d->next;
		if (!d->next)
			nl->pending.tail = NULL;
		free(d);
		__atomic_store_n(&nl->has_pending, nl->pending.head != NULL, __ATOMIC_RELEASE);
	}
	return (ssize_t)n;
}

/* Answer one message the shim emulates (nl->lock held). */
static void pl_nl_answer(struct pl_nl *nl, int fd, const struct nlmsghdr *nlh)
{
	const struct pl_nl_families *fam = pl_nl_families();
	struct pl_nl_ctx c = { .nl = nl };
	int err;

	err = pl_nl_portid(fd, &c.portid);
	if (err) {
		pl_debug("netlink: cannot answer: %s", strerror(-err));
		return;
	}
	c.cap_ack = pl_nl_sockopt(fd, NETLINK_CAP_ACK);
	c.ext_ack = pl_nl_sockopt(fd, NETLINK_EXT_ACK);
	pl_nl_why[0] = '\0';
	err = pl_nl_prepare(nl);
	if (err) {
		/*
		 * No software NIC here (a child forked without exec gets EIO,
		 * as the library's calls do): the request is refused rather
		 * than left unanswered, through recvmsg when the shim has no
		 * socket of its own.
		 */
		pl_debug("netlink: cannot answer: %s", strerror(-err));
		if (nl->hidden < 0)
			nl->direct = true;
		pl_nl_ack(&c, nlh, err, NULL);
	} else if (nlh->nlmsg_type == GENL_ID_CTRL)
		pl_nl_getfamily(&c, nlh);
	else if (nlh->nlmsg_type == fam->netdev)
		pl_nl_netdev(&c, nlh);
	else
		pl_nl_ethtool(&c, nlh);
	if (c.oom) {
		pl_nl_queue_free(&c.out);
		pl_debug("netlink: out of memory answering a request");
		return;
	}
	/* after what is already waiting, in order */
	if (c.out.head) {
		if (nl->pending.tail)
			nl->pending.tail->next = c.out.head;
		else
			nl->pending.head = c.out.head;
		nl->pending.tail = c.out.tail;
	}
	pl_nl_flush(nl, fd);
}

/* Whether @msg is addressed to the kernel (no address, or port id 0 and no groups). */
static bool pl_nl_to_kernel(const struct msghdr *msg)
{
	const struct sockaddr_nl *sa = msg->msg_name;

	if (!sa || !msg->msg_namelen)
		return true;
	if (msg->msg_namelen < sizeof(*sa) || sa->nl_family != AF_NETLINK)
		return false;
	return !sa->nl_pid && !sa->nl_groups;
}

/* Send [@buf + @off, + @len) of the program's message to the kernel as it was asked. */
static ssize_t pl_nl_send_kernel(int fd, const struct msghdr *msg, int flags, const uint8_t *buf,
				 size_t len, bool first)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr m = *msg;

	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	/* ancillary data goes with the first part only, as it would with the whole */
	if (!first) {
		m.msg_control = NULL;
		m.msg_controllen = 0;
	}
	return pl_real.sendmsg(fd, &m, flags);
}

/*
 * netlink_rcv_skb()'s walk: whole messages one after another; the rest of a
 * buffer too short for one is ignored by the kernel, and so goes to it.
 */
static ssize_t pl_nl_sendmsg(struct pl_file *f, int fd, const struct msghdr *umsg, int flags)
{
	struct pl_nl *nl = f->priv;
	struct iovec iov[PL_NL_MAX_IOV];
	struct sockaddr_nl to;
	size_t len = 0, off = 0, seg = 0;
	bool any = false, first = true;
	struct msghdr msg;
	struct iovec local;
	uint8_t *buf;
	ssize_t ret;

	/*
	 * Everything the program hands over is read as the kernel reads it,
	 * through copies: a bad pointer is the kernel's EFAULT, never a fault
	 * here. What cannot be read whole goes to the kernel as it is.
	 */
	if (nl->protocol != NETLINK_GENERIC || !pl_nl_peek(&msg, umsg, sizeof(msg)) ||
	    msg.msg_iovlen > PL_NL_MAX_IOV ||
	    !pl_nl_peek(iov, msg.msg_iov, msg.msg_iovlen * sizeof(iov[0])))
		return pl_real.sendmsg(fd, umsg, flags);
	if (msg.msg_name && msg.msg_namelen) {
		if (msg.msg_namelen < sizeof(to) || !pl_nl_peek(&to, msg.msg_name, sizeof(to)))
			return pl_real.sendmsg(fd, umsg, flags);
		msg.msg_name = &to;
	}
	if (!pl_nl_to_kernel(&msg))
		return pl_real.sendmsg(fd, umsg, flags);
	msg.msg_iov = iov;
	for (size_t i = 0; i < msg.msg_iovlen; i++)
		len += iov[i].iov_len;
	if (len < NLMSG_HDRLEN || len > PL_NL_MAX_REQ)
		return pl_real.sendmsg(fd, umsg, flags);
	buf = malloc(len);
	if (!buf)
		return pl_fail(ENOBUFS);
	local = (struct iovec){ buf, len };
	if (process_vm_readv(getpid(), &local, 1, iov, msg.msg_iovlen, 0) != (ssize_t)len) {
		free(buf);
		return pl_real.sendmsg(fd, umsg, flags);
	}
	for (off = 0; len - off >= NLMSG_HDRLEN;) {
		const struct nlmsghdr *nlh = (const void *)(buf + off);
		size_t mlen;

		if (nlh->nlmsg_len < NLMSG_HDRLEN || nlh->nlmsg_len > len - off)
			break;
		if (pl_nl_is_emulated(nlh)) {
			any = true;
			break;
		}
		mlen = NLMSG_ALIGN(nlh->nlmsg_len);
		off += mlen < len - off ? mlen : len - off;
	}
	if (!any) {
		free(buf);
		return pl_real.sendmsg(fd, umsg, flags);
	}

	pthread_mutex_lock(&nl->lock);
	for (off = 0, seg = 0; len - off >= NLMSG_HDRLEN;) {
		const struct nlmsghdr *nlh = (const void *)(buf + off);
		size_t mlen;

		if (nlh->nlmsg_len < NLMSG_HDRLEN || nlh->nlmsg_len > len - off)
			break;
		mlen = NLMSG_ALIGN(nlh->nlmsg_len);
		mlen = mlen < len - off ? mlen : len - off;
		if (!pl_nl_is_emulated(nlh)) {
			off += mlen;
			continue;
		}
		/* the kernel's messages before this one, in one send as they came */
		if (off > seg) {
			ret = pl_nl_send_kernel(fd, &msg, flags, buf + seg, off - seg, first);
			first = false;
			if (ret < 0)
				goto out;
		}
		pl_nl_answer(nl, fd, nlh);
		off += mlen;
		seg = off;
	}
	if (len > seg) {
		ret = pl_nl_send_kernel(fd, &msg, flags, buf + seg, len - seg, first);
		if (ret < 0)
			goto out;
	}
	ret = (ssize_t)len;
out:
	pthread_mutex_unlock(&nl->lock);
	free(buf);
	return ret;
}

/*
 * The program's read: answers still pending go to its queue first; what
 * came from the hidden socket is said to come from the kernel.
 */
static ssize_t pl_nl_recvmsg(struct pl_file *f, int fd, struct msghdr *msg, int flags)
{
	struct pl_nl *nl = f->priv;
	struct sockaddr_nl *sa;
	uint32_t hidden;
	ssize_t ret;

	if (__atomic_load_n(&nl->has_pending, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&nl->lock);
		pl_nl_flush(nl, fd);
		ret = pl_nl_recv_direct(nl, msg, flags);
		pthread_mutex_unlock(&nl->lock);
		if (ret != -2)
			return ret;
	}
	ret = pl_real.recvmsg(fd, msg, flags);
	if (ret < 0)
		return ret;
	hidden = __atomic_load_n(&nl->hidden_portid, __ATOMIC_ACQUIRE);
	sa = msg->msg_name;
	if (hidden && sa && msg->msg_namelen >= sizeof(*sa) && sa->nl_family == AF_NETLINK &&
	    sa->nl_pid == hidden && !sa->nl_groups)
		sa->nl_pid = 0;
	if (__atomic_load_n(&nl->has_pending, __ATOMIC_ACQUIRE) && !(flags & MSG_PEEK)) {
		pthread_mutex_lock(&nl->lock);
		pl_nl_flush(nl, fd);
		pthread_mutex_unlock(&nl->lock);
	}
	return ret;
}

/*
 * netlink_connect() to the kernel: a connected socket refuses unicasts from
 * any port id but its peer's, the hidden socket's answers included. The
 * kernel is where an unconnected socket sends anyway, so the shim keeps the
 * connect: it autobinds the socket as netlink_connect() would and remembers
 * it. Any other peer or group is the kernel's to connect.
 */
static int pl_nl_connect(struct pl_file *f, int fd, const struct sockaddr *addr, socklen_t len)
{
	const struct sockaddr_nl *sa = (const struct sockaddr_nl *)addr;
	struct pl_nl *nl = f->priv;
	uint32_t portid;
	int err;

	if (nl->protocol != NETLINK_GENERIC || !addr || len < sizeof(*sa) ||
	    sa->nl_family != AF_NETLINK || sa->nl_pid || sa->nl_groups)
		return pl_real.connect(fd, addr, len);
	err = pl_nl_portid(fd, &portid);
	return err ? pl_fail(err) : 0;
}

/* The socket's last fd is gone: its bindings go with it (netdev_nl_sock_priv_destroy()). */
static void pl_nl_release(struct pl_file *f)
{
	struct pl_nl *nl = f->priv;

	if (nl->ctl)
		devmem_ctl_close(nl->ctl);
	if (nl->hidden >= 0)
		pl_real.close(nl->hidden);
	pl_nl_queue_free(&nl->pending);
	pthread_mutex_destroy(&nl->lock);
	free(nl);
}

static const struct pl_file_ops pl_nl_ops = {
	.sendmsg = pl_nl_sendmsg,
	.recvmsg = pl_nl_recvmsg,
	.connect = pl_nl_connect,
	.release = pl_nl_release,
};

void pl_netlink_socket(int fd, int protocol)
{
	struct pl_file *f;
	struct pl_nl *nl;

	/* every other netlink protocol (rtnetlink for ip and ss) is the kernel's alone */
	if (protocol != NETLINK_GENERIC)
		return;
	nl = calloc(1, sizeof(*nl));
	if (!nl)
		return;
	nl->protocol = protocol;
	nl->hidden = -1;
	pthread_mutex_init(&nl->lock, NULL);
	f = pl_file_alloc(PL_FD_NETLINK, &pl_nl_ops, nl);
	if (!f) {
		pthread_mutex_destroy(&nl->lock);
		free(nl);
		pl_debug("netlink: fd %d is left to the kernel (out of memory)", fd);
		return;
	}
	pl_fd_install(fd, f);
}
