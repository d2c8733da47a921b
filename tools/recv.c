// SPDX-License-Identifier: MIT
/*
 * devmem recv: the server side of ncdevmem.
 */
#include <stdio.h>
#include <unistd.h>

#include "cmds.h"
#include "opts.h"
#include "rx.h"
#include "tool.h"

/* Say on stderr what the server set up, once it can take a connection. */
static void recv_ready(const struct rx *rx)
{
	char name[64], queues[48];

	sockaddr_str(&rx->local, name, sizeof(name));
	if (rx->binding_id)
		fprintf(stderr,
			"devmem recv: listening on %s; dma-buf bound to %s %s (binding %u)\n", name,
			rx->o->ifname, rx_queues_str(rx, queues, sizeof(queues)), rx->binding_id);
	else
		fprintf(stderr, "devmem recv: listening on %s; no dma-buf (-n)\n", name);
}

/* The one line on stderr that says why the run failed, when the report has more. */
static void recv_verdict(const struct rx *rx)
{
	const struct pattern_mismatch *b = &rx->first_bad;

	if (rx->mismatches)
		msg("validation failed at stream offset %llu: expected 0x%02x, got 0x%02x",
		    (unsigned long long)b->offset, b->expected, b->got);
	if (rx->o->unbind_after && !rx->unbound && rx->longest_stream < rx->o->unbind_after)
		msg("--unbind-after %llu: the unbind never happened: the stream ended at %llu bytes",
		    (unsigned long long)rx->o->unbind_after,
		    (unsigned long long)rx->longest_stream);
	else if (rx->o->unbind_after && !rx->unbound)
		msg("--unbind-after %llu: the unbind never happened: no fragment in the dma-buf "
		    "was held once that much had arrived",
		    (unsigned long long)rx->o->unbind_after);
	if (rx->c.tokens_lost)
		msg("%llu tokens given back were not freed", (unsigned long long)rx->c.tokens_lost);
	if (rx->left.bindings || rx->left.pools)
		msg("teardown left %u binding(s) and %u page pool(s) behind", rx->left.bindings,
		    rx->left.pools);
}

int cmd_recv(int argc, char **argv)
{
	struct opts o;
	struct rx rx;
	int err;

	opts_init(&o);
	err = opts_parse(&o, "recv", argc, argv);
	if (err)
		return err < 0 ? 0 : err;
	o.progress = isatty(STDERR_FILENO) ? PROGRESS_TTY : PROGRESS_NONE;
	err = rx_setup(&rx, &o);
	if (err) {
		rx_teardown(&rx);
		return err;
	}
	recv_ready(&rx);
	err = rx_serve(&rx, -1);
	rx_teardown(&rx);
	if (rx.c.connections)
		rx_report(&rx, "devmem recv");
	recv_verdict(&rx);
	if (!err && !rx_ok(&rx))
		err = EXIT_RUNTIME;
	return err;
}
