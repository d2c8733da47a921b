// SPDX-License-Identifier: MIT
/*
 * devmem demo: device-memory TCP end to end on one machine. A receiver binds
 * a host dma-buf to an rx queue of a software NIC on loopback; a child
 * process connects and sends the validation pattern with plain send(); the
 * receiver takes every fragment from the dma-buf, checks it through CPU
 * access, gives the tokens back, and reports.
 *
 * The child is forked before the library starts any thread and waits on a
 * pipe for the port, so it is an ordinary single-threaded TCP sender.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmds.h"
#include "opts.h"
#include "rx.h"
#include "tool.h"
#include "tx.h"

#define DEMO_PERIOD 251
#define DEMO_ACCEPT_TIMEOUT_MS 10000
#define DEMO_SEND_CHUNK (1024 * 1024)

static void demo_usage(FILE *out)
{
	fprintf(out,
		"usage: devmem demo [--bytes BYTES] [--size SIZE] [--memory host|vram] [-v N]\n"
		"                   [--backend software|kernel|auto] [--json]\n"
		"\n"
		"Device-memory TCP on loopback: a receiver with a dma-buf bound to rx queue 3\n"
		"of a software NIC on lo, and a child process that sends it the validation\n"
		"pattern with plain send(). Every byte must land in the dma-buf and match.\n"
		"\n"
		"  --bytes BYTES  how much the child sends (default 1G)\n"
		"  --size SIZE    the dma-buf (default 64M)\n"
		"  --memory T     host (default) or vram\n"
		"  -v N           the pattern's period (default %d)\n"
		"  --backend B    software (default), kernel, or auto: the kernel where it\n"
		"                 takes the binding on lo, else software, saying why\n"
		"  --json         print the report as one JSON object\n"
		"\n"
		"Exit status: 0 when every byte arrived and matched, 1 otherwise, 2 usage.\n",
		DEMO_PERIOD);
}

static int demo_parse(struct opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "bytes", required_argument, NULL, 'b' },
		{ "size", required_argument, NULL, 'S' },
		{ "memory", required_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },
		{ "backend", required_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum devmem_backend backend;
	uint64_t v;
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":v:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			if (parse_size(optarg, &o->bytes) || !o->bytes)
				return usage_error("demo", "--bytes '%s': expected a size", optarg);
			break;
		case 'S':
			if (parse_size(optarg, &o->size) || !o->size || o->size % page_size())
				return usage_error("demo", "--size '%s': a multiple of %zu", optarg,
						   page_size());
			break;
		case 'm':
			if (strcmp(optarg, "host") && strcmp(optarg, "vram"))
				return usage_error("demo", "--memory '%s': host or vram", optarg);
			o->memory = strcmp(optarg, "host") ? MEM_VRAM : MEM_HOST;
			break;
		case 'v':
			if (parse_uint(optarg, 1, PATTERN_MAX_PERIOD, &v))
				return usage_error("demo", "-v '%s': a period from 1 to %d", optarg,
						   PATTERN_MAX_PERIOD);
			o->validate = (uint32_t)v;
			break;
		case 'j':
			o->json = true;
			break;
		case 'B':
			if (!backend_parse(optarg, &backend))
				return usage_error(
					"demo", "--backend '%s': software, kernel or auto", optarg);
			o->backend = optarg;
			break;
		case 'h':
			demo_usage(stdout);
			return -1;
		default:
			return getopt_error("demo", c, longopts, argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("demo", "unexpected argument '%s'", argv[optind]);
	return 0;
}

/* The child: wait for the port, connect, send, exit. */
static void demo_sender(int pipe_rd, const struct opts *o)
{
	struct sockaddr_storage ss;
	uint64_t sent = 0;
	socklen_t len;
	uint16_t port;
	int fd, err;

	if (read(pipe_rd, &port, sizeof(port)) != sizeof(port) || !port)
		_exit(1); /* the receiver failed and said so */
	if (opts_sockaddr("127.0.0.1", AF_INET, port, &ss, &len))
		_exit(1);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len)) {
		fprintf(stderr, "devmem: demo sender: connect: %s\n", strerror(errno));
		_exit(1);
	}
	err = send_plain(fd, o->validate, o->bytes, DEMO_SEND_CHUNK, &sent);
	if (err) {
		fprintf(stderr, "devmem: demo sender: send after %llu bytes: %s\n",
			(unsigned long long)sent, strerror(-err));
		_exit(1);
	}
	close(fd);
	_exit(0);
}

static void demo_intro(const struct rx *rx, pid_t child)
{
	char size[24], bytes[24];

	if (rx->o->json)
		return;
	printf("libdevmem demo: device-memory TCP on the %s path, over loopback\n",
	       devmem_backend_name(rx->backend.chosen));
	printf("  %-10s %s\n\n", "path", rx->backend.reason);
	printf("  receiver   a %s %s dma-buf bound to rx queue %u of %s (binding %u)\n",
	       fmt_bytes(rx->buf_size, size, sizeof(size)),
	       rx->o->memory == MEM_VRAM ? "vram" : "host", rx->start_queue, rx->o->ifname,
	       rx->binding_id);
	printf("             header split on (threshold 0), RSS over rx queues 0..%u,\n"
	       "             flow rule: TCP to port %u -> rx queue %u\n",
	       rx->start_queue - 1, rx_port(rx), rx->start_queue);
	printf("  sender     child process %d: %s of the pattern 1, 2, ..., %u, '\\n' with "
	       "plain send()\n\n",
	       (int)child, fmt_bytes(rx->o->bytes, bytes, sizeof(bytes)), rx->o->validate - 1);
	fflush(stdout);
}

/* Wait for the child; true if it sent everything. */
static bool demo_reap(pid_t child, int *status)
{
	while (waitpid(child, status, 0) < 0)
		if (errno != EINTR)
			return false;
	return WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
}

static void demo_outro(const struct rx *rx, pid_t child, bool child_ok, int status)
{
	if (rx->o->json)
		return;
	if (child_ok)
		printf("  %-13s child %d sent %llu bytes and exited\n", "sender", (int)child,
		       (unsigned long long)rx->o->bytes);
	else if (WIFSIGNALED(status))
		printf("  %-13s child %d was killed by signal %d\n", "sender", (int)child,
		       WTERMSIG(status));
	else
		printf("  %-13s child %d FAILED (exit status %d)\n", "sender", (int)child,
		       WEXITSTATUS(status));
}

static int demo_run(struct opts *o, int pipe_wr, pid_t child)
{
	struct rx rx;
	uint16_t port = 0;
	bool child_ok;
	int err, status = 0;

	err = rx_setup(&rx, o);
	if (!err)
		port = rx_port(&rx);
	if (write(pipe_wr, &port, sizeof(port)) != sizeof(port) && !err)
		err = sys_fail(-errno, "start the sender");
	close(pipe_wr);
	if (!err) {
		demo_intro(&rx, child);
		err = rx_serve(&rx, DEMO_ACCEPT_TIMEOUT_MS);
	}
	if (err)
		kill(child, SIGKILL);
	child_ok = demo_reap(child, &status);
	rx_teardown(&rx);
	if (rx.c.connections) {
		rx_report(&rx, "devmem demo");
		demo_outro(&rx, child, child_ok, status);
	}
	if (rx.mismatches)
		msg("validation failed at stream offset %llu: expected 0x%02x, got 0x%02x",
		    (unsigned long long)rx.first_bad.offset, rx.first_bad.expected,
		    rx.first_bad.got);
	if (!err && (!rx_ok(&rx) || !child_ok))
		err = EXIT_RUNTIME;
	return err;
}

int cmd_demo(int argc, char **argv)
{
	struct opts o;
	int fds[2], err;
	pid_t child;

	opts_init(&o);
	o.server = "127.0.0.1";
	o.have_port = true; /* port 0: any */
	o.validate = DEMO_PERIOD;
	err = demo_parse(&o, argc, argv);
	if (err)
		return err < 0 ? 0 : err;
	o.expect = o.bytes;
	o.have_expect = true;
	o.progress = isatty(STDERR_FILENO) ? PROGRESS_TTY : PROGRESS_LINES;
	if (pipe(fds))
		return sys_fail(-errno, "pipe");
	fflush(NULL);
	child = fork();
	if (child < 0)
		return sys_fail(-errno, "fork");
	if (!child) {
		close(fds[1]);
		demo_sender(fds[0], &o);
	}
	close(fds[0]);
	return demo_run(&o, fds[1], child);
}
