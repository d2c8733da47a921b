// SPDX-License-Identifier: MIT
/*
 * The `ethtool` that `devmem run` puts first in PATH.
 *
 * For an interface the program's software NIC answers, it reads the
 * command line as ethtool 6.1 does, sends each ethtool command struct to
 * the process that owns the NIC (src/preload/ethtool-server.c: the first
 * ancestor listening on "devmem-ethtool.<pid>") and prints what ethtool
 * prints, with its exit codes. For any other interface, or a form it does
 * not know, it runs the real ethtool found further along PATH, and when
 * there is none it says what the shell says of a missing command.
 *
 * The forms understood are listed in README.md ("devmem run").
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <linux/ethtool.h>
#include <net/if.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "preload/ethtool-priv.h"

#define MAX_RULES 1024

static const char *devname;
static char **g_argv;
static int g_argc;
static char last_msg[256]; /* the server's reason for the last failure */
static char trace_extra[64];

/* ---- the real ethtool, or the shell's answer ---- */

/* Whether @dir is the directory this program runs from. */
static bool is_own_dir(const char *dir)
{
	char self[PATH_MAX], real[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return false;
	self[n] = 0;
	slash = strrchr(self, '/');
	if (!slash)
		return false;
	*slash = 0;
	return realpath(dir, real) && !strcmp(real, self);
}

__attribute__((noreturn)) static void exec_real(void)
{
	const char *path = getenv("PATH");
	char *copy = strdup(path ? path : ""), *save = NULL;
	char cand[PATH_MAX];

	for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		if (!dir[0] || is_own_dir(dir))
			continue;
		snprintf(cand, sizeof(cand), "%s/ethtool", dir);
		if (!access(cand, X_OK)) {
			g_argv[0] = cand;
			execv(cand, g_argv);
		}
	}
	free(copy);
	/* what sh says when the command does not exist */
	fprintf(stderr, "sh: 1: ethtool: not found\n");
	exit(127);
}

static void trace(int code);

__attribute__((noreturn)) static void exit_bad_args(void)
{
	fprintf(stderr, "ethtool: bad command line argument(s)\n"
			"For more information run ethtool -h\n");
	trace(1);
	exit(1);
}

/* ---- the server ---- */

static int parent_of(int pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	int ppid = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f)) {
		/* the command name may hold spaces: the state follows the last ')' */
		p = strrchr(buf, ')');
		if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
			ppid = 0;
	}
	fclose(f);
	return ppid;
}

static int full_io(int fd, void *buf, size_t len, bool out)
{
	char *p = buf;

	while (len) {
		ssize_t n = out ? write(fd, p, len) : read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int connect_pid(int pid)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int n = snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, PL_ETHTOOL_SOCK_FMT, pid);
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, len)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Whether the process behind @fd already has a software NIC; -1 when it does not answer. */
static int probe(int fd)
{
	struct pl_ethtool_msg msg = { .magic = PL_ETHTOOL_MAGIC };

	if (full_io(fd, &msg, sizeof(msg), true) || full_io(fd, &msg, sizeof(msg), false) ||
	    msg.magic != PL_ETHTOOL_MAGIC)
		return -1;
	return !!(msg.flags & PL_ETHTOOL_F_HAS_NIC);
}

static int server_pid = -1; /* chosen once: 0 when there is none */

/*
 * The owner of the software NIC: the nearest ancestor that has one, else
 * the topmost that listens (the program, which makes its NIC on demand).
 */
static int server_connect(void)
{
	int top = 0;

	if (server_pid < 0) {
		server_pid = 0;
		for (int pid = getppid(); pid > 1; pid = parent_of(pid)) {
			int fd = connect_pid(pid), has;

			if (fd < 0)
				continue;
			has = probe(fd);
			close(fd);
			if (has > 0) {
				server_pid = pid;
				break;
			}
			if (has == 0)
				top = pid;
		}
		if (!server_pid)
			server_pid = top;
		if (getenv("DEVMEM_DEBUG") && server_pid)
			fprintf(stderr, "devmem: ethtool: the software NIC of process %d\n",
				server_pid);
	}
	return server_pid ? connect_pid(server_pid) : -1;
}

/*
 * ethtool's send_ioctl(): 0, or -1 with errno. -2: no server answers for
 * the interface (not emulated).
 */
static int send_ioctl(void *cmd, size_t len)
{
	struct pl_ethtool_msg msg = { .magic = PL_ETHTOOL_MAGIC, .len = (uint32_t)len };
	int fd = server_connect();

	if (fd < 0)
		return -2;
	snprintf(msg.ifname, sizeof(msg.ifname), "%s", devname);
	if (full_io(fd, &msg, sizeof(msg), true) || full_io(fd, cmd, len, true) ||
	    full_io(fd, &msg, sizeof(msg), false) || msg.magic != PL_ETHTOOL_MAGIC ||
	    msg.len != len || full_io(fd, cmd, len, false)) {
		close(fd);
		errno = EIO;
		return -1;
	}
	close(fd);
	snprintf(last_msg, sizeof(last_msg), "%s", msg.msg);
	if (msg.flags & PL_ETHTOOL_F_NOT_OURS)
		return -2;
	if (msg.ret < 0) {
		errno = -msg.ret;
		return -1;
	}
	return msg.ret;
}

/* perror() of ethtool's ioctl paths */
static void fail(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, strerror(errno));
}

/* what ethtool's netlink paths print: the kernel's reason when it gave one */
static void nl_fail(void)
{
	const char *m = last_msg;
	size_t n = strlen(devname);

	/* the library names the device first; the kernel's extack does not */
	if (!strncmp(m, devname, n) && m[n] == ':' && m[n + 1] == ' ')
		m += n + 2;
	fprintf(stderr, "netlink error: %s\n", m[0] ? m : strerror(errno));
}

/* ---- numbers as ethtool reads them ---- */

static bool get_ulong(const char *s, unsigned long long max, unsigned long long *v)
{
	char *end;

	errno = 0;
	if (!s || !s[0] || s[0] == '-')
		return false;
	*v = strtoull(s, &end, 0);
	return !*end && !errno && *v <= max;
}

static uint32_t get_u32(const char *s)
{
	unsigned long long v;

	if (!get_ulong(s, UINT32_MAX, &v))
		exit_bad_args();
	return (uint32_t)v;
}

/* ---- -i ---- */

static int do_gdrv(void)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };

	if (g_argc != 3)
		exit_bad_args();
	if (send_ioctl(&info, sizeof(info)) < 0) {
		fail("Cannot get driver information");
		return 71;
	}
	printf("driver: %.*s\nversion: %.*s\nfirmware-version: %.*s\n"
	       "expansion-rom-version: %.*s\nbus-info: %.*s\n",
	       (int)sizeof(info.driver), info.driver, (int)sizeof(info.version), info.version,
	       (int)sizeof(info.fw_version), info.fw_version, (int)sizeof(info.erom_version),
	       info.erom_version, (int)sizeof(info.bus_info), info.bus_info);
	printf("supports-statistics: %s\nsupports-test: %s\nsupports-eeprom-access: %s\n"
	       "supports-register-dump: %s\nsupports-priv-flags: %s\n",
	       info.n_stats ? "yes" : "no", info.testinfo_len ? "yes" : "no",
	       info.eedump_len ? "yes" : "no", info.regdump_len ? "yes" : "no",
	       info.n_priv_flags ? "yes" : "no");
	return 0;
}

/* ---- -l / -L ---- */

static void print_count(const char *label, uint32_t max, uint32_t v)
{
	if (max)
		printf("%s%u\n", label, v);
	else
		printf("%sn/a\n", label);
}

static int do_gchannels(void)
{
	struct ethtool_channels c = { .cmd = ETHTOOL_GCHANNELS };

	if (g_argc != 3)
		exit_bad_args();
	if (send_ioctl(&c, sizeof(c)) < 0) {
		nl_fail();
		return 1;
	}
	printf("Channel parameters for %s:\nPre-set maximums:\n", devname);
	print_count("RX:\t\t", c.max_rx, c.max_rx);
	print_count("TX:\t\t", c.max_tx, c.max_tx);
	print_count("Other:\t\t", c.max_other, c.max_other);
	print_count("Combined:\t", c.max_combined, c.max_combined);
	printf("Current hardware settings:\n");
	print_count("RX:\t\t", c.max_rx, c.rx_count);
	print_count("TX:\t\t", c.max_tx, c.tx_count);
	print_count("Other:\t\t", c.max_other, c.other_count);
	print_count("Combined:\t", c.max_combined, c.combined_count);
	return 0;
}

static int do_schannels(void)
{
	struct ethtool_channels c = { .cmd = ETHTOOL_GCHANNELS };
	uint32_t *field;

	if (g_argc < 5 || (g_argc - 3) % 2)
		exit_bad_args();
	if (send_ioctl(&c, sizeof(c)) < 0) {
		nl_fail();
		return 1;
	}
	for (int i = 3; i < g_argc; i += 2) {
		if (!strcmp(g_argv[i], "rx"))
			field = &c.rx_count;
		else if (!strcmp(g_argv[i], "tx"))
			field = &c.tx_count;
		else if (!strcmp(g_argv[i], "other"))
			field = &c.other_count;
		else if (!strcmp(g_argv[i], "combined"))
			field = &c.combined_count;
		else
			exit_bad_args();
		*field = get_u32(g_argv[i + 1]);
	}
	c.cmd = ETHTOOL_SCHANNELS;
	if (send_ioctl(&c, sizeof(c)) < 0) {
		nl_fail();
		return 1;
	}
	return 0;
}

/* ---- -g / -G ---- */

static int do_gring(void)
{
	struct ethtool_ringparam rp = { .cmd = ETHTOOL_GRINGPARAM };

	if (g_argc != 3)
		exit_bad_args();
	if (send_ioctl(&rp, sizeof(rp)) < 0) {
		nl_fail();
		return 1;
	}
	printf("Ring parameters for %s:\nPre-set maximums:\n", devname);
	print_count("RX:\t\t\t", rp.rx_max_pending, rp.rx_max_pending);
	print_count("RX Mini:\t\t", rp.rx_mini_max_pending, rp.rx_mini_max_pending);
	print_count("RX Jumbo:\t\t", rp.rx_jumbo_max_pending, rp.rx_jumbo_max_pending);
	print_count("TX:\t\t\t", rp.tx_max_pending, rp.tx_max_pending);
	printf("Current hardware settings:\n");
	print_count("RX:\t\t\t", rp.rx_max_pending, rp.rx_pending);
	print_count("RX Mini:\t\t", rp.rx_mini_max_pending, rp.rx_mini_pending);
	print_count("RX Jumbo:\t\t", rp.rx_jumbo_max_pending, rp.rx_jumbo_pending);
	print_count("TX:\t\t\t", rp.tx_max_pending, rp.tx_pending);
	return 0;
}

static int do_sring(void)
{
	struct ethtool_ringparam rp = { .cmd = ETHTOOL_GRINGPARAM };
	uint32_t *field;

	if (g_argc < 5 || (g_argc - 3) % 2)
		exit_bad_args();
	if (send_ioctl(&rp, sizeof(rp)) < 0) {
		nl_fail();
		return 1;
	}
	for (int i = 3; i < g_argc; i += 2) {
		if (!strcmp(g_argv[i], "rx"))
			field = &rp.rx_pending;
		else if (!strcmp(g_argv[i], "tx"))
			field = &rp.tx_pending;
		else if (!strcmp(g_argv[i], "rx-mini"))
			field = &rp.rx_mini_pending;
		else if (!strcmp(g_argv[i], "rx-jumbo"))
			field = &rp.rx_jumbo_pending;
		else
			exit_bad_args();
		*field = get_u32(g_argv[i + 1]);
	}
	rp.cmd = ETHTOOL_SRINGPARAM;
	if (send_ioctl(&rp, sizeof(rp)) < 0) {
		nl_fail();
		return 1;
	}
	return 0;
}

/* ---- -k / -K ---- */

/* A string set of the device: count entries of ETH_GSTRING_LEN, or NULL. */
static struct ethtool_gstrings *get_stringset(uint32_t set)
{
	struct {
		struct ethtool_sset_info hdr;
		uint32_t count;
	} info = { .hdr = { .cmd = ETHTOOL_GSSET_INFO, .sset_mask = 1ULL << set } };
	struct ethtool_gstrings *gs;
	size_t len;

	if (send_ioctl(&info, sizeof(info)) < 0 || !(info.hdr.sset_mask & (1ULL << set)))
		return NULL;
	len = sizeof(*gs) + (size_t)info.count * ETH_GSTRING_LEN;
	if (len > PL_ETHTOOL_MAX_LEN)
		return NULL;
	gs = calloc(1, len);
	if (!gs)
		return NULL;
	gs->cmd = ETHTOOL_GSTRINGS;
	gs->string_set = set;
	gs->len = info.count;
	if (send_ioctl(gs, len) < 0) {
		free(gs);
		return NULL;
	}
	return gs;
}

struct features {
	struct ethtool_gfeatures hdr;
	struct ethtool_get_features_block b[PL_FEATURE_WORDS];
};

static int get_features(struct features *f)
{
	memset(f, 0, sizeof(*f));
	f->hdr.cmd = ETHTOOL_GFEATURES;
	f->hdr.size = PL_FEATURE_WORDS;
	return send_ioctl(f, sizeof(*f));
}

static int do_gfeatures(void)
{
	struct ethtool_gstrings *names;
	struct features f;

	if (g_argc != 3)
		exit_bad_args();
	names = get_stringset(ETH_SS_FEATURES);
	if (!names || get_features(&f) < 0) {
		fail("Cannot get device feature names");
		free(names);
		return 1;
	}
	printf("Features for %s:\n", devname);
	for (unsigned int i = 0; i < names->len && i < 32 * PL_FEATURE_WORDS; i++) {
		const char *name = (const char *)names->data + i * ETH_GSTRING_LEN;
		const uint32_t *blk = &f.b[i / 32].available;
		uint32_t m = 1U << (i % 32);
		bool avail = blk[0] & m, req = blk[1] & m, act = blk[2] & m, never = blk[3] & m;

		if (!name[0])
			continue;
		printf("%s: %s%s\n", name, act ? "on" : "off",
		       (!avail || never) ? " [fixed]" :
		       req != act	 ? (req ? " [requested on]" : " [requested off]") :
					   "");
	}
	free(names);
	return 0;
}

/* ethtool's short names for the features they stand for */
static const struct {
	const char *old, *name;
} feature_alias[] = {
	{ "rx", "rx-checksum" },
	{ "sg", "tx-scatter-gather" },
	{ "tso", "tx-tcp-segmentation" },
	{ "gso", "tx-generic-segmentation" },
	{ "gro", "rx-gro" },
	{ "lro", "rx-lro" },
	{ "rxvlan", "rx-vlan-hw-parse" },
	{ "txvlan", "tx-vlan-hw-insert" },
	{ "ntuple", "rx-ntuple-filter" },
	{ "rxhash", "rx-hashing" },
};

static int do_sfeatures(void)
{
	struct ethtool_gstrings *names;
	struct {
		struct ethtool_sfeatures hdr;
		struct ethtool_set_features_block b[PL_FEATURE_WORDS];
	} s = { .hdr = { .cmd = ETHTOOL_SFEATURES, .size = PL_FEATURE_WORDS } };
	struct features f;
	bool changed_all = true;
	int ret;

	if (g_argc < 5 || (g_argc - 3) % 2)
		exit_bad_args();
	names = get_stringset(ETH_SS_FEATURES);
	if (!names) {
		fail("Cannot get device feature names");
		return 1;
	}
	for (int i = 3; i < g_argc; i += 2) {
		const char *want = g_argv[i];
		unsigned int bit;
		bool on;

		for (size_t a = 0; a < sizeof(feature_alias) / sizeof(feature_alias[0]); a++) {
			if (!strcmp(want, feature_alias[a].old))
				want = feature_alias[a].name;
		}
		for (bit = 0; bit < names->len && bit < 32 * PL_FEATURE_WORDS; bit++) {
			if (!strcmp((const char *)names->data + bit * ETH_GSTRING_LEN, want))
				break;
		}
		if (bit >= names->len || !want[0])
			exit_bad_args();
		if (!strcmp(g_argv[i + 1], "on"))
			on = true;
		else if (!strcmp(g_argv[i + 1], "off"))
			on = false;
		else
			exit_bad_args();
		s.b[bit / 32].valid |= 1U << (bit % 32);
		if (on)
			s.b[bit / 32].requested |= 1U << (bit % 32);
	}
	free(names);
	ret = send_ioctl(&s, sizeof(s));
	if (ret < 0) {
		fail("Cannot set device feature settings");
		return 1;
	}
	if (get_features(&f) < 0) {
		fail("Cannot get device feature settings");
		return 1;
	}
	for (int w = 0; w < PL_FEATURE_WORDS; w++) {
		if ((f.b[w].active ^ s.b[w].requested) & s.b[w].valid)
			changed_all = false;
	}
	if (!changed_all) {
		fprintf(stderr, "Could not change any device features\n");
		return 1;
	}
	return 0;
}

/* ---- -n / -N ---- */

static void print_rule(struct ethtool_rx_flow_spec *fs, uint32_t rss_context)
{
	uint32_t type = fs->flow_type & ~(uint32_t)(FLOW_EXT | FLOW_MAC_EXT | FLOW_RSS);
	char a[INET6_ADDRSTRLEN], am[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN], bm[INET6_ADDRSTRLEN];

	printf("Filter: %d\n", fs->location);
	/* ethtool shows the bits that are ignored */
	for (size_t i = 0; i < sizeof(fs->m_u); i++)
		fs->m_u.hdata[i] ^= 0xff;
	if (type == TCP_V4_FLOW || type == UDP_V4_FLOW || type == SCTP_V4_FLOW) {
		struct ethtool_tcpip4_spec *h = &fs->h_u.tcp_ip4_spec, *m = &fs->m_u.tcp_ip4_spec;

		printf("\tRule Type: %s over IPv4\n", type == TCP_V4_FLOW ? "TCP" :
						      type == UDP_V4_FLOW ? "UDP" :
									    "SCTP");
		printf("\tSrc IP addr: %s mask: %s\n\tDest IP addr: %s mask: %s\n"
		       "\tTOS: 0x%x mask: 0x%x\n",
		       inet_ntop(AF_INET, &h->ip4src, a, sizeof(a)),
		       inet_ntop(AF_INET, &m->ip4src, am, sizeof(am)),
		       inet_ntop(AF_INET, &h->ip4dst, b, sizeof(b)),
		       inet_ntop(AF_INET, &m->ip4dst, bm, sizeof(bm)), h->tos, m->tos);
		printf("\tSrc port: %d mask: 0x%x\n\tDest port: %d mask: 0x%x\n", ntohs(h->psrc),
		       ntohs(m->psrc), ntohs(h->pdst), ntohs(m->pdst));
	} else if (type == TCP_V6_FLOW || type == UDP_V6_FLOW || type == SCTP_V6_FLOW) {
		struct ethtool_tcpip6_spec *h = &fs->h_u.tcp_ip6_spec, *m = &fs->m_u.tcp_ip6_spec;

		printf("\tRule Type: %s over IPv6\n", type == TCP_V6_FLOW ? "TCP" :
						      type == UDP_V6_FLOW ? "UDP" :
									    "SCTP");
		printf("\tSrc IP addr: %s mask: %s\n\tDest IP addr: %s mask: %s\n"
		       "\tTraffic Class: 0x%x mask: 0x%x\n",
		       inet_ntop(AF_INET6, h->ip6src, a, sizeof(a)),
		       inet_ntop(AF_INET6, m->ip6src, am, sizeof(am)),
		       inet_ntop(AF_INET6, h->ip6dst, b, sizeof(b)),
		       inet_ntop(AF_INET6, m->ip6dst, bm, sizeof(bm)), h->tclass, m->tclass);
		printf("\tSrc port: %d mask: 0x%x\n\tDest port: %d mask: 0x%x\n", ntohs(h->psrc),
		       ntohs(m->psrc), ntohs(h->pdst), ntohs(m->pdst));
	} else {
		printf("\tUnknown Flow type: %d\n", type);
	}
	if (fs->flow_type & FLOW_RSS)
		printf("\tRSS Context ID: %u\n", rss_context);
	if (fs->ring_cookie == RX_CLS_FLOW_DISC)
		printf("\tAction: Drop\n");
	else if (ethtool_get_flow_spec_ring_vf(fs->ring_cookie))
		printf("\tAction: Direct to VF %llu queue %llu\n",
		       (unsigned long long)ethtool_get_flow_spec_ring_vf(fs->ring_cookie) - 1,
		       (unsigned long long)ethtool_get_flow_spec_ring(fs->ring_cookie));
	else
		printf("\tAction: Direct to queue %llu\n",
		       (unsigned long long)ethtool_get_flow_spec_ring(fs->ring_cookie));
	printf("\n");
}

static int rule_get(uint32_t loc)
{
	struct ethtool_rxnfc nfc = { .cmd = ETHTOOL_GRXCLSRULE };

	nfc.fs.location = loc;
	if (send_ioctl(&nfc, sizeof(nfc)) < 0) {
		fail("rxclass: Cannot get RX class rule");
		return -1;
	}
	print_rule(&nfc.fs, nfc.rss_context);
	return 0;
}

static int rule_count(uint32_t *count, bool *driver_select)
{
	struct ethtool_rxnfc nfc = { .cmd = ETHTOOL_GRXCLSRLCNT };

	if (send_ioctl(&nfc, sizeof(nfc)) < 0) {
		fail("rxclass: Cannot get RX class rule count");
		return -1;
	}
	*count = nfc.rule_cnt;
	if (driver_select)
		*driver_select = nfc.data & RX_CLS_LOC_SPECIAL;
	return 0;
}

static int rule_getall(void)
{
	struct ethtool_rxnfc *nfc;
	uint32_t count;
	int err = 0;

	if (rule_count(&count, NULL))
		return -1;
	printf("Total %d rules\n\n", count);
	if (count > MAX_RULES)
		count = MAX_RULES;
	nfc = calloc(1, sizeof(*nfc) + count * sizeof(uint32_t));
	if (!nfc)
		return -1;
	nfc->cmd = ETHTOOL_GRXCLSRLALL;
	nfc->rule_cnt = count;
	if (send_ioctl(nfc, sizeof(*nfc) + count * sizeof(uint32_t)) < 0) {
		fail("rxclass: Cannot get RX class rules");
		free(nfc);
		return -1;
	}
	for (uint32_t i = 0; i < nfc->rule_cnt && !err; i++)
		err = rule_get(nfc->rule_locs[i]);
	free(nfc);
	return err;
}

static int do_grxclass(void)
{
	struct ethtool_rxnfc nfc = { .cmd = ETHTOOL_GRXRINGS };
	unsigned long long loc;
	int err;

	if (g_argc == 5 && !strcmp(g_argv[3], "rule")) {
		if (!get_ulong(g_argv[4], INT_MAX, &loc))
			exit_bad_args();
		err = rule_get((uint32_t)loc);
		if (err < 0)
			fprintf(stderr, "Cannot get RX classification rule\n");
		return err ? 1 : 0;
	}
	if (g_argc != 3)
		exit_bad_args();
	if (send_ioctl(&nfc, sizeof(nfc)) < 0)
		fail("Cannot get RX rings");
	else
		printf("%d RX rings available\n", (int)nfc.data);
	err = rule_getall();
	if (err < 0)
		fprintf(stderr, "RX classification rule retrieval failed\n");
	return err ? 1 : 0;
}

/* rxclass_parse_ruleopts() for the IP flow types, from g_argv[@i] (the flow type) */
static int parse_rule(int i, struct ethtool_rx_flow_spec *fs, uint32_t *rss_context)
{
	const char *t = i < g_argc ? g_argv[i] : "";
	bool v6, has_action = false, has_queue = false;
	uint32_t seen = 0;

	memset(fs, 0, sizeof(*fs));
	if (!strcmp(t, "tcp4"))
		fs->flow_type = TCP_V4_FLOW;
	else if (!strcmp(t, "udp4"))
		fs->flow_type = UDP_V4_FLOW;
	else if (!strcmp(t, "sctp4"))
		fs->flow_type = SCTP_V4_FLOW;
	else if (!strcmp(t, "tcp6"))
		fs->flow_type = TCP_V6_FLOW;
	else if (!strcmp(t, "udp6"))
		fs->flow_type = UDP_V6_FLOW;
	else if (!strcmp(t, "sctp6"))
		fs->flow_type = SCTP_V6_FLOW;
	else {
		fprintf(stderr, "Add rule, invalid syntax\n");
		return -1;
	}
	v6 = fs->flow_type >= TCP_V6_FLOW;
	fs->location = RX_CLS_LOC_ANY;
	for (i++; i < g_argc;) {
		const char *opt = g_argv[i], *val = i + 1 < g_argc ? g_argv[i + 1] : NULL;
		char mask_name[32];
		unsigned long long v;
		int bit;
		void *h = NULL, *m = NULL;
		size_t len = 0;

		if (!strcmp(opt, "context")) {
			if (!val) {
				fprintf(stderr, "'context' missing value\n");
				return -1;
			}
			if (!get_ulong(val, UINT32_MAX, &v)) {
				fprintf(stderr, "Invalid context value[%s]\n", val);
				return -1;
			}
			if ((uint32_t)v == ETH_RXFH_CONTEXT_ALLOC) {
				fprintf(stderr, "Bad context value %x\n", (uint32_t)v);
				return -1;
			}
			*rss_context = (uint32_t)v;
			fs->flow_type |= FLOW_RSS;
			i += 2;
			continue;
		}
		bit = !strcmp(opt, "src-ip")		  ? 0 :
		      !strcmp(opt, "dst-ip")		  ? 1 :
		      !strcmp(opt, v6 ? "tclass" : "tos") ? 2 :
		      !strcmp(opt, "src-port")		  ? 3 :
		      !strcmp(opt, "dst-port")		  ? 4 :
		      !strcmp(opt, "action")		  ? 5 :
		      !strcmp(opt, "queue")		  ? 6 :
		      !strcmp(opt, "loc")		  ? 7 :
							    -1;
		if (bit < 0) {
			printf("Add rule, unrecognized option[%s]\n", opt);
			return -1;
		}
		i++;
		if (!val)
			break;
		if (seen & (1U << bit)) {
			fprintf(stderr, "Invalid %s value[%s]\n", opt, val);
			return -1;
		}
		seen |= 1U << bit;
		switch (bit) {
		case 0:
		case 1:
			h = v6 ? (void *)(bit ? fs->h_u.tcp_ip6_spec.ip6dst :
						fs->h_u.tcp_ip6_spec.ip6src) :
				 (void *)(bit ? &fs->h_u.tcp_ip4_spec.ip4dst :
						&fs->h_u.tcp_ip4_spec.ip4src);
			m = v6 ? (void *)(bit ? fs->m_u.tcp_ip6_spec.ip6dst :
						fs->m_u.tcp_ip6_spec.ip6src) :
				 (void *)(bit ? &fs->m_u.tcp_ip4_spec.ip4dst :
						&fs->m_u.tcp_ip4_spec.ip4src);
			len = v6 ? 16 : 4;
			if (inet_pton(v6 ? AF_INET6 : AF_INET, val, h) != 1) {
				fprintf(stderr, "Invalid %s value[%s]\n", opt, val);
				return -1;
			}
			memset(m, 0xff, len);
			break;
		case 2:
			h = v6 ? &fs->h_u.tcp_ip6_spec.tclass : &fs->h_u.tcp_ip4_spec.tos;
			m = v6 ? &fs->m_u.tcp_ip6_spec.tclass : &fs->m_u.tcp_ip4_spec.tos;
			len = 1;
			if (!get_ulong(val, 0xff, &v)) {
				fprintf(stderr, "Invalid %s value[%s]\n", opt, val);
				return -1;
			}
			*(uint8_t *)h = (uint8_t)v;
			*(uint8_t *)m = 0xff;
			break;
		case 3:
		case 4:
			h = bit == 3 ? &fs->h_u.tcp_ip4_spec.psrc : &fs->h_u.tcp_ip4_spec.pdst;
			m = bit == 3 ? &fs->m_u.tcp_ip4_spec.psrc : &fs->m_u.tcp_ip4_spec.pdst;
			if (v6) {
				h = bit == 3 ? &fs->h_u.tcp_ip6_spec.psrc :
					       &fs->h_u.tcp_ip6_spec.pdst;
				m = bit == 3 ? &fs->m_u.tcp_ip6_spec.psrc :
					       &fs->m_u.tcp_ip6_spec.pdst;
			}
			len = 2;
			if (!get_ulong(val, 0xffff, &v)) {
				fprintf(stderr, "Invalid %s value[%s]\n", opt, val);
				return -1;
			}
			*(uint16_t *)h = htons((uint16_t)v);
			*(uint16_t *)m = 0xffff;
			break;
		case 5:
			/* a signed value: -1 is the drop action */
			errno = 0;
			{
				char *end;
				long long sv = strtoll(val, &end, 0);

				if (*end || errno) {
					fprintf(stderr, "Invalid %s value[%s]\n", opt, val);
					return -1;
				}
				fs->ring_cookie = (uint64_t)sv;
			}
			has_action = true;
			break;
		case 6:
			if (!get_ulong(val, UINT32_MAX, &v)) {
				fprintf(stderr, "Invalid %s value[%s]\n", opt, val);
				return -1;
			}
			fs->ring_cookie = (fs->ring_cookie & ~ETHTOOL_RX_FLOW_SPEC_RING) | v;
			has_queue = true;
			break;
		case 7:
			if (!get_ulong(val, UINT32_MAX, &v)) {
				fprintf(stderr, "Invalid %s value[%s]\n", opt, val);
				return -1;
			}
			fs->location = (uint32_t)v;
			break;
		}
		i++;
		/* a mask after the value: "m X" or "<opt>-mask X" (bits that are ignored) */
		snprintf(mask_name, sizeof(mask_name), "%s-mask", opt);
		if (i >= g_argc || !m || (strcmp(g_argv[i], "m") && strcmp(g_argv[i], mask_name)))
			continue;
		if (++i >= g_argc) {
			fprintf(stderr, "Add rule, invalid syntax\n");
			return -1;
		}
		if (len >= 4) {
			uint8_t mv[16];

			if (inet_pton(v6 ? AF_INET6 : AF_INET, g_argv[i], mv) != 1) {
				fprintf(stderr, "Invalid %s mask[%s]\n", opt, g_argv[i]);
				return -1;
			}
			for (size_t k = 0; k < len; k++)
				((uint8_t *)m)[k] = (uint8_t)~mv[k];
		} else {
			if (!get_ulong(g_argv[i], len == 1 ? 0xff : 0xffff, &v)) {
				fprintf(stderr, "Invalid %s mask[%s]\n", opt, g_argv[i]);
				return -1;
			}
			if (len == 1)
				*(uint8_t *)m = (uint8_t)~v;
			else
				*(uint16_t *)m = (uint16_t)~htons((uint16_t)v);
		}
		i++;
	}
	if (has_action && has_queue) {
		fprintf(stderr, "action and queue are not compatible\n");
		return -1;
	}
	return 0;
}

static int do_srxclass(void)
{
	struct ethtool_rxnfc nfc = { 0 };
	unsigned long long loc;
	uint32_t rss_context = 0, count;
	bool driver_select;

	if (g_argc < 5)
		exit_bad_args();
	if (!strcmp(g_argv[3], "delete")) {
		if (g_argc != 5 || !get_ulong(g_argv[4], INT_MAX, &loc))
			exit_bad_args();
		nfc.cmd = ETHTOOL_SRXCLSRLDEL;
		nfc.fs.location = (uint32_t)loc;
		if (send_ioctl(&nfc, sizeof(nfc)) < 0) {
			fail("rmgr: Cannot delete RX class rule");
			fprintf(stderr, "Cannot delete classification rule\n");
			return 1;
		}
		return 0;
	}
	if (strcmp(g_argv[3], "flow-type"))
		exit_bad_args();
	if (parse_rule(4, &nfc.fs, &rss_context) < 0)
		exit_bad_args();
	loc = nfc.fs.location;
	if (loc & RX_CLS_LOC_SPECIAL) {
		if (rule_count(&count, &driver_select) < 0) {
			fprintf(stderr, "Cannot insert classification rule\n");
			return 1;
		}
		/* the device picks; this stand-in never keeps its own slot table */
	}
	nfc.cmd = ETHTOOL_SRXCLSRLINS;
	nfc.rss_context = rss_context;
	if (send_ioctl(&nfc, sizeof(nfc)) < 0) {
		fail("rmgr: Cannot insert RX class rule");
		fprintf(stderr, "Cannot insert classification rule\n");
		return 1;
	}
	if (loc & RX_CLS_LOC_SPECIAL)
		printf("Added rule with ID %d\n", nfc.fs.location);
	snprintf(trace_extra, sizeof(trace_extra), " (rule %u)", nfc.fs.location);
	return 0;
}

/* ---- -x / -X ---- */

static int get_rings(struct ethtool_rxnfc *rings)
{
	memset(rings, 0, sizeof(*rings));
	rings->cmd = ETHTOOL_GRXRINGS;
	return send_ioctl(rings, sizeof(*rings));
}

static int do_grxfh(void)
{
	struct ethtool_rxfh head = { .cmd = ETHTOOL_GRSSH }, *rss;
	struct ethtool_gstrings *funcs;
	struct ethtool_rxnfc rings;
	size_t len;

	if (g_argc == 5 && !strcmp(g_argv[3], "context"))
		head.rss_context = get_u32(g_argv[4]);
	else if (g_argc != 3)
		exit_bad_args();
	if (get_rings(&rings) < 0) {
		fail("Cannot get RX ring count");
		return 1;
	}
	if (send_ioctl(&head, sizeof(head)) < 0) {
		fail("Cannot get RX flow hash indir size and/or key size");
		return 1;
	}
	len = sizeof(*rss) + head.indir_size * sizeof(uint32_t) + head.key_size;
	if (len > PL_ETHTOOL_MAX_LEN)
		return 1;
	rss = calloc(1, len);
	if (!rss)
		return 1;
	rss->cmd = ETHTOOL_GRSSH;
	rss->rss_context = head.rss_context;
	rss->indir_size = head.indir_size;
	rss->key_size = head.key_size;
	if (send_ioctl(rss, len) < 0) {
		fail("Cannot get RX flow hash configuration");
		free(rss);
		return 1;
	}
	printf("RX flow hash indirection table for %s with %llu RX ring(s):\n", devname,
	       (unsigned long long)rings.data);
	if (!rss->indir_size)
		printf("Operation not supported\n");
	for (uint32_t i = 0; i < rss->indir_size; i++) {
		if (i % 8 == 0)
			printf("%5u: ", i);
		printf(" %5u", rss->rss_config[i]);
		if (i % 8 == 7 || i == rss->indir_size - 1)
			putchar('\n');
	}
	printf("RSS hash key:\n");
	if (!rss->key_size)
		printf("Operation not supported\n");
	for (uint32_t i = 0; i < rss->key_size; i++) {
		uint8_t k = ((uint8_t *)&rss->rss_config[rss->indir_size])[i];

		printf(i == rss->key_size - 1 ? "%02x\n" : "%02x:", k);
	}
	printf("RSS hash function:\n");
	funcs = get_stringset(ETH_SS_RSS_HASH_FUNCS);
	for (uint32_t i = 0; funcs && i < funcs->len; i++)
		printf("    %s: %s\n", (const char *)funcs->data + i * ETH_GSTRING_LEN,
		       (rss->hfunc & (1U << i)) ? "on" : "off");
	free(funcs);
	free(rss);
	return 0;
}

static int do_srxfh(void)
{
	struct ethtool_rxfh head = { .cmd = ETHTOOL_GRSSH }, *rss;
	uint32_t equal = 0, nweights = 0, context = 0;
	bool def = false, del = false, new_ctx = false, has_ctx = false;
	char **weights = NULL;
	struct ethtool_rxnfc rings;
	size_t len;
	int i = 3;

	if (g_argc < 4)
		exit_bad_args();
	while (i < g_argc) {
		const char *a = g_argv[i];
		unsigned long long v;

		if (!strcmp(a, "equal")) {
			if (++i >= g_argc || !get_ulong(g_argv[i], INT_MAX, &v) || v < 1)
				exit_bad_args();
			equal = (uint32_t)v;
			i++;
		} else if (!strcmp(a, "weight")) {
			weights = g_argv + ++i;
			while (i < g_argc && isdigit((unsigned char)g_argv[i][0])) {
				i++;
				nweights++;
			}
			if (!nweights)
				exit_bad_args();
		} else if (!strcmp(a, "default")) {
			def = true;
			i++;
		} else if (!strcmp(a, "context")) {
			if (++i >= g_argc)
				exit_bad_args();
			if (!strcmp(g_argv[i], "new"))
				new_ctx = true;
			else
				context = get_u32(g_argv[i]);
			has_ctx = true;
			i++;
		} else if (!strcmp(a, "delete")) {
			del = true;
			i++;
		} else {
			exit_bad_args();
		}
	}
	if (equal && weights) {
		fprintf(stderr, "Equal and weight options are mutually exclusive\n");
		return 1;
	}
	if (equal && def) {
		fprintf(stderr, "Equal and default options are mutually exclusive\n");
		return 1;
	}
	if (weights && def) {
		fprintf(stderr, "Weight and default options are mutually exclusive\n");
		return 1;
	}
	if (del && !has_ctx) {
		fprintf(stderr, "Delete option must be used with context option\n");
		return 1;
	}
	if (del && new_ctx) {
		fprintf(stderr, "Cannot delete a new context\n");
		return 1;
	}
	if (get_rings(&rings) < 0) {
		fail("Cannot get RX ring count");
		return 1;
	}
	head.rss_context = new_ctx ? 0 : context;
	if (send_ioctl(&head, sizeof(head)) < 0) {
		fail("Cannot get RX flow hash indir size and key size");
		return 1;
	}
	len = sizeof(*rss) + head.indir_size * sizeof(uint32_t);
	if (len > PL_ETHTOOL_MAX_LEN)
		return 1;
	rss = calloc(1, len);
	if (!rss)
		return 1;
	rss->cmd = ETHTOOL_SRSSH;
	rss->rss_context = new_ctx ? ETH_RXFH_CONTEXT_ALLOC : context;
	rss->indir_size = head.indir_size;
	if (del) {
		rss->indir_size = 0;
	} else if (equal) {
		for (uint32_t k = 0; k < rss->indir_size; k++)
			rss->rss_config[k] = k % equal;
	} else if (weights) {
		uint32_t sum = 0, partial = 0, w;
		int j = -1;

		for (uint32_t k = 0; k < nweights; k++)
			sum += get_u32(weights[k]);
		if (!sum) {
			fprintf(stderr, "At least one weight must be non-zero\n");
			free(rss);
			return 2;
		}
		if (sum > rss->indir_size) {
			fprintf(stderr, "Total weight exceeds the size of the indirection table\n");
			free(rss);
			return 2;
		}
		for (uint32_t k = 0; k < rss->indir_size; k++) {
			while (k >= (uint64_t)rss->indir_size * partial / sum) {
				j++;
				w = get_u32(weights[j]);
				partial += w;
			}
			rss->rss_config[k] = (uint32_t)j;
		}
	} else if (def) {
		rss->indir_size = 0;
	} else {
		rss->indir_size = ETH_RXFH_INDIR_NO_CHANGE;
	}
	if (send_ioctl(rss, len) < 0) {
		fail("Cannot set RX flow hash configuration");
		free(rss);
		return 1;
	}
	if (new_ctx) {
		printf("New RSS context is %d\n", rss->rss_context);
		snprintf(trace_extra, sizeof(trace_extra), " (context %u)", rss->rss_context);
	}
	free(rss);
	return 0;
}

/* ---- main ---- */

static const struct {
	const char *opt, *alt, *alt2;
	int (*fn)(void);
} modes[] = {
	{ "-i", "--driver", NULL, do_gdrv },
	{ "-l", "--show-channels", NULL, do_gchannels },
	{ "-L", "--set-channels", NULL, do_schannels },
	{ "-g", "--show-ring", NULL, do_gring },
	{ "-G", "--set-ring", NULL, do_sring },
	{ "-k", "--show-features", "--show-offload", do_gfeatures },
	{ "-K", "--features", "--offload", do_sfeatures },
	{ "-n", "-u", "--show-nfc", do_grxclass },
	{ "-N", "-U", "--config-nfc", do_srxclass },
	{ "-x", "--show-rxfh-indir", "--show-rxfh", do_grxfh },
	{ "-X", "--set-rxfh-indir", "--rxfh", do_srxfh },
};

/* `devmem run -v`: the command line and its exit code, one line written at once */
static void trace(int code)
{
	const char *t = getenv("DEVMEM_RUN_TRACE");
	char line[1024];
	size_t n;

	if (!t || !t[0] || !strcmp(t, "0"))
		return;
	n = (size_t)snprintf(line, sizeof(line), "devmem: ethtool");
	for (int i = 1; i < g_argc && n < sizeof(line); i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " %s", g_argv[i]);
	if (n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, " = %d%s\n", code, trace_extra);
	if (n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

int main(int argc, char **argv)
{
	struct ethtool_drvinfo probe = { .cmd = ETHTOOL_GDRVINFO };
	int (*fn)(void) = NULL;
	int code;

	g_argc = argc;
	g_argv = argv;
	if (argc >= 3) {
		for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]) && !fn; i++) {
			if (!strcmp(argv[1], modes[i].opt) || !strcmp(argv[1], modes[i].alt) ||
			    (modes[i].alt2 && !strcmp(argv[1], modes[i].alt2)))
				fn = modes[i].fn;
		}
		if (!strcmp(argv[1], "--show-ntuple"))
			fn = do_grxclass;
		if (!strcmp(argv[1], "--config-ntuple"))
			fn = do_srxclass;
	}
	if (!fn || strlen(argv[2]) >= IFNAMSIZ)
		exec_real();
	devname = argv[2];
	/* an interface no server answers for is the kernel's */
	if (send_ioctl(&probe, sizeof(probe)) == -2)
		exec_real();
	fflush(stdout);
	code = fn();
	fflush(stdout);
	trace(code);
	return code;
}
