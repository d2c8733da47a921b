// SPDX-License-Identifier: MIT
/*
 * ncdevmem's flags for devmem recv and devmem send. Both commands take every
 * ncdevmem flag, as ncdevmem does in either mode, and ignore the ones that
 * do not apply to their side (-z on the server, -q -t -L on the client);
 * our own long options are refused where they mean nothing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "devmem/kdmabuf.h"
#include "opts.h"
#include "pattern.h"
#include "tool.h"

enum {
	OPT_MEMORY = 0x100,
	OPT_SIZE,
	OPT_BACKEND,
	OPT_JSON,
	OPT_BYTES,
	OPT_EXPECT,
	OPT_REPEAT,
	OPT_UNBIND_AFTER,
	OPT_HELP,
};

static const struct option long_opts[] = {
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "backend", required_argument, NULL, OPT_BACKEND },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "bytes", required_argument, NULL, OPT_BYTES },
	{ "expect", required_argument, NULL, OPT_EXPECT },
	{ "repeat", required_argument, NULL, OPT_REPEAT },
	{ "unbind-after", required_argument, NULL, OPT_UNBIND_AFTER },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

void opts_init(struct opts *o)
{
	*o = (struct opts){
		.ifname = DEFAULT_IFNAME,
		.num_queues = 1,
		.start_queue = -1,
		.tx_chunk = DEFAULT_TX_CHUNK,
		.memory = MEM_HOST,
		.size = DEFAULT_BUF_SIZE,
		.backend = "software",
		.bytes = DEFAULT_SEND_BYTES,
		.repeat = 1,
	};
}

const char *opts_memory_name(enum mem_type memory)
{
	switch (memory) {
	case MEM_VRAM:
		return "vram";
	case MEM_UDMABUF:
		return "udmabuf";
	case MEM_DMAHEAP:
		return "dmaheap";
	default:
		return "host";
	}
}

int opts_kdmabuf_create(const struct opts *o, const char *name, struct dma_buf **out)
{
	int err;

	if (o->memory == MEM_UDMABUF)
		err = devmem_udmabuf_alloc(o->size, out);
	else
		err = devmem_dma_heap_alloc("system", o->size, O_RDWR | O_CLOEXEC, 0, out);
	if (err)
		return err;
	/* a name is only a label in fdinfo: a kernel that refuses it costs nothing */
	if (devmem_kdmabuf_set_name(*out, name))
		error_seen();
	return 0;
}

void opts_usage(const char *cmd, FILE *out)
{
	bool recv = !strcmp(cmd, "recv");

	if (recv)
		fprintf(out,
			"usage: devmem recv [-l] -p PORT [-s SERVER] [-c CLIENT] [-f IFNAME] [-v N]\n"
			"                   [-q QUEUES] [-t FIRST] [-L] [-n] [--memory M]\n"
			"                   [--size SIZE] [--backend software|kernel|auto] [--json]\n"
			"                   [--expect BYTES] [--repeat N] [--unbind-after BYTES]\n"
			"\n"
			"The server side of ncdevmem: set up the NIC, bind a dma-buf to its rx\n"
			"queues, accept one connection and receive it into the dma-buf until the\n"
			"peer closes; then report. Any TCP sender will do (ncdevmem, devmem send,\n"
			"socat, nc, a Python socket).\n"
			"\n");
	else
		fprintf(out,
			"usage: devmem send -s SERVER -p PORT [-c CLIENT] [-f IFNAME] [-v N] [-z CHUNK]\n"
			"                   [-n] [--memory M] [--size SIZE]\n"
			"                   [--backend software|kernel|auto] [--bytes BYTES] [--json]\n"
			"\n"
			"The client side of ncdevmem: connect and send from a dma-buf bound for\n"
			"transmit (MSG_ZEROCOPY, offsets into the buffer), reaping the completions\n"
			"from the error queue; then report. Any TCP receiver will do.\n"
			"\n"
			"The data: with neither --bytes nor -v, and stdin not a terminal, stdin as\n"
			"ncdevmem sends it (each line copied into the dma-buf and sent with one\n"
			"sendmsg, in iovs of at most -z bytes):\n"
			"  printf 'hello\\nworld\\n' | devmem send -s 127.0.0.1 -p 5201\n"
			"Otherwise BYTES of the pattern of -v N (zeros without -v).\n"
			"\n");
	if (recv)
		fprintf(out,
			"  -l           listen: this is the server (implied by recv)\n"
			"  -s SERVER    the address to listen on (default 0.0.0.0); IPv6 plain\n"
			"               or bracketed: ::1, [::1]\n"
			"  -c CLIENT    the client's address, matched by the flow rule\n");
	else
		fprintf(out,
			"  -s SERVER    the server's address; IPv6 plain or bracketed: ::1, [::1]\n"
			"  -c CLIENT    the address to send from (bind to it)\n");
	fprintf(out, "  -p PORT      the server's TCP port\n"
		     "  -f IFNAME    the interface (default lo)\n");
	if (recv)
		fprintf(out,
			"  -v N         validate the data: bytes 1, 2, ..., N-1, '\\n', repeated\n"
			"               (N from 1 to 256; 0: no validation)\n");
	else
		fprintf(out,
			"  -v N         send the pattern: bytes 1, 2, ..., N-1, '\\n', repeated\n"
			"               (N from 1 to 256; 0: zeros)\n");
	if (recv)
		fprintf(out,
			"  -q QUEUES    rx queues to bind (default 1; at most 63, or 64 with -t 0)\n"
			"  -t FIRST     the first of them (default: rx queues - QUEUES); RSS\n"
			"               spreads other flows over the queues below it\n"
			"  -L           fail if any data arrives linear (not in the dma-buf)\n"
			"  -n           do not configure the NIC and do not bind: plain receive,\n"
			"               every byte linear (so not with -L)\n");
	else
		fprintf(out, "  -z CHUNK     the pattern: bytes per sendmsg; stdin: bytes per iov\n"
			     "               (default 64K)\n"
			     "  -n           no dma-buf: plain send() of the data\n");
	fprintf(out, "  --memory M   the buffer: host (sealed memfd, default), vram, or a real\n"
		     "               kernel dma-buf: udmabuf (/dev/udmabuf) or dmaheap\n"
		     "               (/dev/dma_heap/system)\n"
		     "  --size SIZE  the buffer's size (default 64M; K, M, G suffixes)\n"
		     "  --backend B  the data path: software (the software NIC), kernel (the\n"
		     "               running kernel's devmem TCP), or auto (the kernel where it\n"
		     "               takes the binding, else software; the report says why)\n"
		     "  --json       print the report as one JSON object\n");
	if (recv)
		fprintf(out,
			"  --expect BYTES  each connection must carry exactly BYTES, 0 included\n"
			"               (else: a short or long stream, exit status 1)\n"
			"  --repeat N   serve N connections one after another (default 1), the\n"
			"               pattern starting again with each; the report sums them\n"
			"  --unbind-after BYTES  close the control handle (which unbinds the\n"
			"               dma-buf) once BYTES have arrived, while holding fragments;\n"
			"               they must keep their bytes, and later data arrives linear;\n"
			"               the run fails if the stream ends first\n");
	else
		fprintf(out,
			"  --bytes BYTES  send BYTES of the pattern, not stdin (default 1G)\n");
	if (recv)
		fprintf(out,
			"\nExit status: 0 success, 1 failure (validation error, short or long\n"
			"stream, flow steering error, setup error), 2 usage error.\n");
	else
		fprintf(out, "\nExit status: 0 success, 1 failure (a send or a completion failed,\n"
			     "setup error), 2 usage error.\n");
}

/* @name is the option as the user knows it: "-p", "--repeat". */
static int parse_num_opt(const char *cmd, const char *name, const char *arg, uint64_t min,
			 uint64_t max, uint64_t *v)
{
	if (parse_uint(arg, min, max, v))
		return usage_error(cmd, "%s '%s': expected a number from %llu to %llu", name, arg,
				   (unsigned long long)min, (unsigned long long)max);
	return 0;
}

static int parse_u32_opt(const char *cmd, int c, const char *arg, uint64_t min, uint64_t max,
			 uint64_t *v)
{
	char name[3] = { '-', (char)c, '\0' };

	return parse_num_opt(cmd, name, arg, min, max, v);
}

/* A byte count that may be 0 (--expect 0: the peer must send nothing). */
static int parse_count_opt(const char *cmd, const char *name, const char *arg, uint64_t *v)
{
	if (parse_size(arg, v))
		return usage_error(cmd, "%s '%s': expected a byte count such as 0, 4096, 64K or 1G",
				   name, arg);
	return 0;
}

static int parse_size_opt(const char *cmd, const char *name, const char *arg, uint64_t *v)
{
	if (parse_size(arg, v) || !*v)
		return usage_error(cmd, "%s '%s': expected a size such as 4096, 64K, 64M or 1G",
				   name, arg);
	return 0;
}

/* One ncdevmem flag. */
static int parse_short(struct opts *o, const char *cmd, int c, const char *arg)
{
	uint64_t v;
	int err = 0;

	switch (c) {
	case 'l':
		o->listen = true;
		break;
	case 's':
		o->server = arg;
		break;
	case 'c':
		o->client = arg;
		break;
	case 'p':
		err = parse_u32_opt(cmd, c, arg, 1, 65535, &v);
		o->port = (uint16_t)v;
		o->have_port = true;
		break;
	case 'f':
		o->ifname = arg;
		break;
	case 'v':
		err = parse_u32_opt(cmd, c, arg, 0, PATTERN_MAX_PERIOD, &v);
		o->validate = (uint32_t)v;
		break;
	case 'q':
		err = parse_u32_opt(cmd, c, arg, 1, SWNIC_MAX_QUEUES, &v);
		o->num_queues = (uint32_t)v;
		break;
	case 't':
		err = parse_u32_opt(cmd, c, arg, 0, 1u << 20, &v);
		o->start_queue = (int64_t)v;
		break;
	case 'z':
		err = parse_size(arg, &o->tx_chunk) || !o->tx_chunk || o->tx_chunk > (1u << 30) ?
			      usage_error(cmd, "-z '%s': expected a size from 1 to 1G", arg) :
			      0;
		break;
	case 'L':
		o->fail_on_linear = true;
		break;
	case 'n':
		o->no_config = true;
		break;
	}
	return err;
}

/* One of our long options. */
static int parse_long(struct opts *o, const char *cmd, int c, const char *arg)
{
	bool recv = !strcmp(cmd, "recv");
	int err = 0;

	switch (c) {
	case OPT_MEMORY:
		if (!strcmp(arg, "host"))
			o->memory = MEM_HOST;
		else if (!strcmp(arg, "vram"))
			o->memory = MEM_VRAM;
		else if (!strcmp(arg, "udmabuf"))
			o->memory = MEM_UDMABUF;
		else if (!strcmp(arg, "dmaheap"))
			o->memory = MEM_DMAHEAP;
		else
			err = usage_error(cmd, "--memory '%s': host, vram, udmabuf or dmaheap",
					  arg);
		break;
	case OPT_SIZE:
		err = parse_size_opt(cmd, "--size", arg, &o->size);
		if (!err && o->size % page_size())
			err = usage_error(cmd, "--size %s: not a multiple of the page size (%zu)",
					  arg, page_size());
		break;
	case OPT_BACKEND:
		if (strcmp(arg, "software") && strcmp(arg, "kernel") && strcmp(arg, "auto"))
			err = usage_error(cmd, "--backend '%s': software, kernel or auto", arg);
		o->backend = arg;
		break;
	case OPT_JSON:
		o->json = true;
		break;
	case OPT_BYTES:
		err = recv ? usage_error(cmd, "--bytes is for send (recv takes --expect)") :
			     parse_size_opt(cmd, "--bytes", arg, &o->bytes);
		o->have_bytes = true;
		break;
	case OPT_EXPECT:
		err = !recv ? usage_error(cmd, "--expect is for recv") :
			      parse_count_opt(cmd, "--expect", arg, &o->expect);
		o->have_expect = true;
		break;
	case OPT_UNBIND_AFTER:
		err = !recv ? usage_error(cmd, "--unbind-after is for recv") :
			      parse_size_opt(cmd, "--unbind-after", arg, &o->unbind_after);
		break;
	case OPT_REPEAT:
		err = !recv ? usage_error(cmd, "--repeat is for recv") :
			      parse_num_opt(cmd, "--repeat", arg, 1, 1000000, &o->repeat);
		break;
	}
	return err;
}

/*
 * -q and -t against the most rx queues a software NIC can have, before
 * anything is set up. Without -t the bound queues are the last ones and RSS
 * keeps at least one queue below them for other flows.
 */
static int opts_check_queues(const struct opts *o, const char *cmd)
{
	if (!strcmp(cmd, "send") || o->no_config)
		return 0;
	if (o->start_queue >= SWNIC_MAX_QUEUES)
		return usage_error(
			cmd, "-t %lld: a software NIC has at most %d rx queues (0 to %d)",
			(long long)o->start_queue, SWNIC_MAX_QUEUES, SWNIC_MAX_QUEUES - 1);
	if (o->start_queue >= 0 && o->start_queue + o->num_queues > SWNIC_MAX_QUEUES)
		return usage_error(cmd,
				   "-t %lld -q %u: rx queues %lld to %lld, but a software NIC has "
				   "at most %d (0 to %d)",
				   (long long)o->start_queue, o->num_queues,
				   (long long)o->start_queue,
				   (long long)o->start_queue + o->num_queues - 1, SWNIC_MAX_QUEUES,
				   SWNIC_MAX_QUEUES - 1);
	if (o->start_queue < 0 && o->num_queues >= SWNIC_MAX_QUEUES)
		return usage_error(cmd,
				   "-q %u: a software NIC has at most %d rx queues and RSS needs "
				   "one of them; bind at most %d, or all %d with -t 0",
				   o->num_queues, SWNIC_MAX_QUEUES, SWNIC_MAX_QUEUES - 1,
				   SWNIC_MAX_QUEUES);
	return 0;
}

static int opts_check(struct opts *o, const char *cmd)
{
	bool recv = !strcmp(cmd, "recv");

	if (!recv && o->listen)
		return usage_error(cmd, "-l makes a server: that is 'devmem recv'");
	if (!o->have_port)
		return usage_error(cmd, "no port: give -p PORT");
	if (!recv && !o->server)
		return usage_error(cmd, "no server: give -s SERVER");
	if (!*o->ifname)
		return usage_error(cmd, "-f: empty interface name");
	if (o->unbind_after && (o->no_config || o->fail_on_linear))
		return usage_error(cmd, "--unbind-after needs a binding, and makes data linear: "
					"not with -n or -L");
	/* ncdevmem's -n still binds; ours receives with no dma-buf, where every byte is linear */
	if (recv && o->no_config && o->fail_on_linear)
		return usage_error(cmd, "-n receives without a dma-buf, so every byte arrives "
					"linear and -L would fail at once: not both");
	if (o->unbind_after && o->have_expect && o->unbind_after > o->expect)
		return usage_error(cmd,
				   "--unbind-after %llu is beyond the end of a %llu-byte stream "
				   "(--expect): the unbind would never happen",
				   (unsigned long long)o->unbind_after,
				   (unsigned long long)o->expect);
	return opts_check_queues(o, cmd);
}

int opts_parse(struct opts *o, const char *cmd, int argc, char **argv)
{
	int c, err;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":ls:c:p:f:v:q:t:z:Lnh", long_opts, NULL)) != -1) {
		if (c == 'h' || c == OPT_HELP) {
			opts_usage(cmd, stdout);
			return -1;
		}
		if (c == '?' || c == ':')
			return getopt_error(cmd, c, long_opts, argv[optind - 1]);
		err = c < 0x100 ? parse_short(o, cmd, c, optarg) : parse_long(o, cmd, c, optarg);
		if (err)
			return err;
	}
	if (optind < argc)
		return usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	return opts_check(o, cmd);
}

int opts_sockaddr(const char *host, int family, uint16_t port, struct sockaddr_storage *ss,
		  socklen_t *len)
{
	struct addrinfo hints = { .ai_family = family, .ai_flags = AI_NUMERICSERV | AI_PASSIVE };
	char service[8], literal[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	struct addrinfo *res;
	size_t n;

	/* "[::1]": the brackets only set the address apart, as in a URL; inside, IPv6 only */
	if (host && host[0] == '[') {
		n = strlen(host);
		if (n < 3 || host[n - 1] != ']' || n - 2 >= sizeof(literal))
			return -EINVAL;
		memcpy(literal, host + 1, n - 2);
		literal[n - 2] = '\0';
		if (family == AF_INET)
			return -EINVAL;
		host = literal;
		hints.ai_family = AF_INET6;
		hints.ai_flags |= AI_NUMERICHOST;
	}
	snprintf(service, sizeof(service), "%u", port);
	if (getaddrinfo(host, service, &hints, &res))
		return -EINVAL;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

const char *sockaddr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	uint16_t port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		port = ntohs(sin->sin_port);
		snprintf(buf, len, "%s:%u", host, port);
	} else {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		port = ntohs(sin6->sin6_port);
		snprintf(buf, len, "[%s]:%u", host, port);
	}
	return buf;
}

/* ---- populating the --size buffer ---- */

void size_progress_init(struct size_progress *p)
{
	p->t_start = now();
	p->tty = isatty(STDERR_FILENO);
	p->last_quarter = 0;
}

void size_progress(size_t done, size_t total, void *arg)
{
	struct size_progress *p = arg;
	unsigned int pct = (unsigned int)((double)done * 100 / (double)total);
	char size[24];

	if (total < SIZE_PROGRESS_MIN)
		return;
	fmt_bytes(total, size, sizeof(size));
	if (done == total) {
		fprintf(stderr, "%sdevmem: populated the %s buffer in %.1f s\n", p->tty ? "\r" : "",
			size, now() - p->t_start);
		return;
	}
	if (p->tty) {
		fprintf(stderr, "\rdevmem: populating the %s buffer: %u%%", size, pct);
	} else if (pct / 25 > p->last_quarter) {
		p->last_quarter = pct / 25;
		fprintf(stderr, "devmem: populating the %s buffer: %u%%\n", size, pct);
	}
}
