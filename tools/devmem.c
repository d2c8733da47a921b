// SPDX-License-Identifier: MIT
/*
 * devmem: the libdevmem command.
 *
 *   devmem demo    device-memory TCP end to end over loopback, with a report
 *   devmem recv    the server side of ncdevmem (receive into a bound dma-buf)
 *   devmem send    the client side of ncdevmem (send from a dma-buf)
 *   devmem info    devices, queues, bindings and page pools
 *   devmem tour    the dma-buf layer, step by step
 *   devmem run     a program written to the kernel's interfaces, on the software path
 *
 * The library never prints; everything a person reads comes from here.
 */
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "tool.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "demo", cmd_demo,
	  "device-memory TCP over loopback: a child sends, a bound dma-buf\n"
	  "           receives; validated, with a live progress line and a report" },
	{ "recv", cmd_recv,
	  "receive one connection into a dma-buf bound to rx queues (the\n"
	  "           server side of ncdevmem)" },
	{ "send", cmd_send,
	  "send from a dma-buf bound for transmit (the client side of\n"
	  "           ncdevmem)" },
	{ "info", cmd_info, "devices, queues, bindings and page pools, from the dumps" },
	{ "tour", cmd_tour,
	  "the dma-buf layer, step by step: export, share across processes,\n"
	  "           attach and map from two devices, move under an importer" },
	{ "run", cmd_run,
	  "run a program written to the kernel's devmem interfaces (ncdevmem,\n"
	  "           your own) unmodified, on the software path" },
	{ "rdma", cmd_rdma,
	  "perftest's write-bw, read-bw and send-bw on the software RDMA\n"
	  "           device, into host memory or vram that moves" },
};

static void usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage: devmem COMMAND [OPTIONS]\n\n");
	for (i = 0; i < ARRAY_LEN(commands); i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\n'devmem COMMAND --help' describes each command's options.\n"
		     "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < ARRAY_LEN(commands); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	msg("unknown command '%s' (try 'devmem --help')", argv[1]);
	return EXIT_USAGE;
}
