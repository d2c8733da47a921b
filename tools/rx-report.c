// SPDX-License-Identifier: MIT
/*
 * The receiver's report: what arrived, where it landed, whether it matched
 * the pattern, and what the socket, the rx queues, the binding and the page
 * pools said about it; as aligned text, or as one JSON object.
 */
#include <string.h>

#include "json.h"
#include "rx.h"
#include "tool.h"

static double rx_seconds(const struct rx *rx)
{
	return rx->t_end > rx->t_start ? rx->t_end - rx->t_start : 0;
}

static double rx_rate(const struct rx *rx)
{
	double s = rx_seconds(rx);

	return s > 0 ? (double)rx->c.bytes / s : 0;
}

static const char *mem_name(const struct rx *rx)
{
	return opts_memory_name(rx->o->memory);
}

/* ---- text ---- */

static void text_validation(const struct rx *rx)
{
	const struct pattern_mismatch *b = &rx->first_bad;

	if (!rx->o->validate) {
		printf("  %-13s off (-v N to check the pattern)\n", "validation");
		return;
	}
	if (!rx->mismatches) {
		printf("  %-13s ok: %llu bytes match the pattern (period %u)\n", "validation",
		       (unsigned long long)rx->bytes_checked, rx->o->validate);
		return;
	}
	printf("  %-13s FAILED: %llu mismatched fragments; the first at stream offset %llu "
	       "(connection %llu): expected 0x%02x, got 0x%02x\n",
	       "validation", (unsigned long long)rx->mismatches, (unsigned long long)b->offset,
	       (unsigned long long)rx->first_bad_conn, b->expected, b->got);
}

static const char *stream_verdict(const struct rx_counters *c)
{
	if (c->short_streams && c->long_streams)
		return "WRONG LENGTH";
	if (c->short_streams)
		return "SHORT";
	if (c->long_streams)
		return "LONG";
	return "complete";
}

static void text_stream(const struct rx *rx)
{
	const struct rx_counters *c = &rx->c;

	printf("  %-13s %llu bytes: %llu in the dma-buf (%llu fragments), %llu linear\n", "data",
	       (unsigned long long)c->bytes, (unsigned long long)c->bytes_dmabuf,
	       (unsigned long long)c->frags, (unsigned long long)c->bytes_linear);
	if (c->copies)
		printf("  %-13s %llu (%llu bytes copied into the iovec: host memory, not the "
		       "dma-buf)\n",
		       "copies made", (unsigned long long)c->copies,
		       (unsigned long long)c->bytes_linear);
	else
		printf("  %-13s 0 (no byte was copied after it landed in the dma-buf)\n",
		       "copies made");
	if (rx->o->have_expect)
		printf("  %-13s %s: %llu of %llu connections carried %llu bytes each (%llu short, "
		       "%llu long)\n",
		       "stream", stream_verdict(c),
		       (unsigned long long)(c->connections - c->short_streams - c->long_streams),
		       (unsigned long long)c->connections, (unsigned long long)rx->o->expect,
		       (unsigned long long)c->short_streams, (unsigned long long)c->long_streams);
	if (c->misrouted)
		printf("  %-13s %llu connection(s) on an rx queue that is not bound: flow "
		       "steering error\n",
		       "flow", (unsigned long long)c->misrouted);
	if (c->resets)
		printf("  %-13s %llu connection(s) reset by the peer\n", "stream",
		       (unsigned long long)c->resets);
	text_validation(rx);
	printf("  %-13s %llu given back in %llu SO_DEVMEM_DONTNEED calls, at most %llu held "
	       "at once, %llu not freed\n",
	       "tokens", (unsigned long long)c->tokens_returned,
	       (unsigned long long)c->dontneed_calls, (unsigned long long)c->tokens_held_peak,
	       (unsigned long long)c->tokens_lost);
}

static void text_unbind(const struct rx *rx)
{
	if (!rx->o->unbind_after)
		return;
	if (!rx->unbound && rx->longest_stream < rx->o->unbind_after)
		printf("  %-13s NEVER: the stream ended at %llu bytes, before --unbind-after %llu\n",
		       "unbind", (unsigned long long)rx->longest_stream,
		       (unsigned long long)rx->o->unbind_after);
	else if (!rx->unbound)
		printf("  %-13s NEVER: no fragment in the dma-buf was held once %llu bytes had "
		       "arrived\n",
		       "unbind", (unsigned long long)rx->o->unbind_after);
	else
		printf("  %-13s control handle closed at stream offset %llu holding %u fragments: "
		       "%u changed after the unbind\n",
		       "unbind", (unsigned long long)rx->unbound_at, rx->unbind_held,
		       rx->unbind_held_bad);
}

static void text_library(const struct rx *rx)
{
	const struct rx_snapshot *s = &rx->snap;
	const struct devmem_binding_info *b = &s->binding;
	char name[24], size[24], queues[48];
	uint32_t i;

	if (s->have_sock)
		printf("  %-13s rx queue %d: %llu fragments, %llu bytes in the dma-buf, %llu "
		       "linear, %llu tokens freed, %llu held, %llu unknown, %llu truncated calls\n",
		       "socket", s->sock.rxq, (unsigned long long)s->sock.frags,
		       (unsigned long long)s->sock.bytes_dmabuf,
		       (unsigned long long)s->sock.bytes_linear,
		       (unsigned long long)s->sock.tokens_freed,
		       (unsigned long long)s->sock.tokens_held,
		       (unsigned long long)s->sock.tokens_unknown,
		       (unsigned long long)s->sock.ctrunc);
	for (i = 0; i < s->nr_rxqs; i++) {
		const struct devmem_swnic_rxq_stats *q = &s->rxq[i];

		snprintf(name, sizeof(name), "rx queue %u", s->rxq_id[i]);
		printf("  %-13s %s: %llu completions, %llu fragments, %llu bytes, %llu buffers "
		       "posted, %u in the ring, starved %llu times, %llu restarts\n",
		       name, q->bound ? "bound" : "not bound (host pages)",
		       (unsigned long long)q->completions, (unsigned long long)q->frags,
		       (unsigned long long)q->bytes, (unsigned long long)q->buffers_posted,
		       q->buffers_in_ring, (unsigned long long)q->starved,
		       (unsigned long long)q->restarts);
	}
	if (s->have_binding) {
		snprintf(name, sizeof(name), "binding %u", b->id);
		printf("  %-13s %s %s: %s %s dma-buf, %llu net_iovs of %u bytes: %llu in use, "
		       "%llu free\n",
		       name, rx->o->ifname, rx_queues_str(rx, queues, sizeof(queues)),
		       fmt_bytes(b->dmabuf_size, size, sizeof(size)), mem_name(rx),
		       (unsigned long long)b->nr_niovs, b->niov_size,
		       (unsigned long long)b->niovs_in_use, (unsigned long long)b->niovs_free);
	}
	for (i = 0; i < s->nr_pools; i++) {
		const struct devmem_page_pool_info *p = &s->pools[i];

		snprintf(name, sizeof(name), "page pool %u", p->id);
		printf("  %-13s napi %u: %llu in flight (%s)%s\n", name, p->napi_id,
		       (unsigned long long)p->inflight,
		       fmt_bytes(p->inflight_mem, size, sizeof(size)),
		       p->dmabuf ? ", the dma-buf's net_iovs" : ", host pages");
	}
}

static void text_teardown(const struct rx *rx)
{
	const struct rx_leftover *l = &rx->left;

	if (!l->checked)
		return;
	if (!l->bindings && !l->pools)
		printf("  %-13s clean: nothing left bound, no page pool left\n", "teardown");
	else
		printf("  %-13s LEAK: %u binding(s) holding %llu net_iovs, %u page pool(s) with "
		       "%llu in flight\n",
		       "teardown", l->bindings, (unsigned long long)l->niovs_in_use, l->pools,
		       (unsigned long long)l->pool_inflight);
}

static void rx_report_text(const struct rx *rx, const char *title)
{
	double rate = rx_rate(rx);
	char size[24], queues[48];

	printf("%s: %s in %.2f s: %.2f GB/s (%.1f Gbit/s), %llu connection%s, %s\n", title,
	       fmt_bytes(rx->c.bytes, size, sizeof(size)), rx_seconds(rx), rate / 1e9,
	       rate * 8 / 1e9, (unsigned long long)rx->c.connections,
	       rx->c.connections == 1 ? "" : "s", rx_ok(rx) ? "ok" : "FAILED");
	/* the path the bytes took, and why (auto: the kernel's own answer) */
	printf("  %-13s %s: %s\n", "backend", devmem_backend_name(rx->backend.chosen),
	       rx->backend.reason);
	if (rx->buf_size)
		printf("  %-13s %s %s dma-buf bound to %s %s (binding %u)\n", "buffer",
		       fmt_bytes(rx->buf_size, size, sizeof(size)), mem_name(rx), rx->o->ifname,
		       rx_queues_str(rx, queues, sizeof(queues)), rx->binding_id);
	else
		printf("  %-13s none: -n, a plain receive through %s\n", "buffer", rx->o->ifname);
	text_stream(rx);
	text_unbind(rx);
	text_library(rx);
	text_teardown(rx);
	fflush(stdout);
}

/* ---- JSON ---- */

static void json_validation(struct json *j, const struct rx *rx)
{
	json_object(j, "validation");
	json_u64(j, "period", rx->o->validate);
	json_u64(j, "bytes_checked", rx->bytes_checked);
	json_u64(j, "errors", rx->mismatches);
	if (rx->mismatches) {
		json_object(j, "first_mismatch");
		json_u64(j, "connection", rx->first_bad_conn);
		json_u64(j, "offset", rx->first_bad.offset);
		json_u64(j, "expected", rx->first_bad.expected);
		json_u64(j, "got", rx->first_bad.got);
		json_close(j);
	} else {
		json_null(j, "first_mismatch");
	}
	json_close(j);
}

static void json_counters(struct json *j, const struct rx *rx)
{
	const struct rx_counters *c = &rx->c;

	json_u64(j, "bytes", c->bytes);
	json_double(j, "seconds", rx_seconds(rx));
	json_double(j, "gbytes_per_s", rx_rate(rx) / 1e9);
	json_double(j, "gbits_per_s", rx_rate(rx) * 8 / 1e9);
	json_u64(j, "connections", c->connections);
	json_u64(j, "fragments", c->frags);
	json_u64(j, "bytes_dmabuf", c->bytes_dmabuf);
	json_u64(j, "bytes_linear", c->bytes_linear);
	json_u64(j, "copies", c->copies);
	if (rx->o->have_expect)
		json_u64(j, "expected_bytes", rx->o->expect);
	else
		json_null(j, "expected_bytes");
	json_u64(j, "short_streams", c->short_streams);
	json_u64(j, "long_streams", c->long_streams);
	json_u64(j, "flow_steering_errors", c->misrouted);
	json_u64(j, "resets", c->resets);
	json_object(j, "tokens");
	json_u64(j, "returned", c->tokens_returned);
	json_u64(j, "calls", c->dontneed_calls);
	json_u64(j, "held_peak", c->tokens_held_peak);
	json_u64(j, "not_freed", c->tokens_lost);
	json_close(j);
}

static void json_unbind(struct json *j, const struct rx *rx)
{
	if (!rx->o->unbind_after) {
		json_null(j, "unbind");
		return;
	}
	json_object(j, "unbind");
	json_bool(j, "done", rx->unbound);
	json_u64(j, "at", rx->unbound_at);
	json_u64(j, "held", rx->unbind_held);
	json_u64(j, "held_changed", rx->unbind_held_bad);
	json_close(j);
}

static void json_setup(struct json *j, const struct rx *rx)
{
	json_object(j, "buffer");
	json_str(j, "memory", rx->buf_size ? mem_name(rx) : "none");
	json_u64(j, "size", rx->buf_size);
	json_close(j);
	json_object(j, "nic");
	json_str(j, "ifname", rx->o->ifname);
	json_i64(j, "ifindex", rx->ifindex);
	json_str(j, "backend", devmem_backend_name(rx->backend.chosen));
	json_str(j, "backend_asked", rx->o->backend);
	json_str(j, "backend_reason", rx->backend.reason);
	json_u64(j, "rx_queues", rx->nr_rx_queues);
	json_u64(j, "first_queue", rx->start_queue);
	json_u64(j, "queues", rx->num_queues);
	json_u64(j, "binding", rx->binding_id);
	json_i64(j, "flow_rx_queue", rx->rxq);
	json_close(j);
}

static void json_sock(struct json *j, const struct devmem_sock_stats *s)
{
	json_object(j, "socket");
	json_i64(j, "rx_queue", s->rxq);
	json_u64(j, "bytes_dmabuf", s->bytes_dmabuf);
	json_u64(j, "bytes_linear", s->bytes_linear);
	json_u64(j, "frags", s->frags);
	json_u64(j, "tokens_held", s->tokens_held);
	json_u64(j, "tokens_freed", s->tokens_freed);
	json_u64(j, "tokens_unknown", s->tokens_unknown);
	json_u64(j, "ctrunc", s->ctrunc);
	json_close(j);
}

static void json_rxqs(struct json *j, const struct rx_snapshot *s)
{
	uint32_t i;

	json_array(j, "rx_queues");
	for (i = 0; i < s->nr_rxqs; i++) {
		const struct devmem_swnic_rxq_stats *q = &s->rxq[i];

		json_object(j, NULL);
		json_u64(j, "id", s->rxq_id[i]);
		json_bool(j, "bound", q->bound);
		json_u64(j, "sockets", q->sockets);
		json_u64(j, "completions", q->completions);
		json_u64(j, "frags", q->frags);
		json_u64(j, "bytes", q->bytes);
		json_u64(j, "buffers_posted", q->buffers_posted);
		json_u64(j, "buffers_in_ring", q->buffers_in_ring);
		json_u64(j, "starved", q->starved);
		json_u64(j, "restarts", q->restarts);
		json_close(j);
	}
	json_close(j);
}

static void json_binding(struct json *j, const struct rx_snapshot *s)
{
	const struct devmem_binding_info *b = &s->binding;

	if (!s->have_binding) {
		json_null(j, "binding");
		return;
	}
	json_object(j, "binding");
	json_u64(j, "id", b->id);
	json_u64(j, "dmabuf_size", b->dmabuf_size);
	json_u64(j, "nr_queues", b->nr_queues);
	json_u64(j, "niov_size", b->niov_size);
	json_u64(j, "nr_niovs", b->nr_niovs);
	json_u64(j, "niovs_in_use", b->niovs_in_use);
	json_u64(j, "niovs_free", b->niovs_free);
	json_u64(j, "metadata_bytes", b->metadata_bytes);
	json_close(j);
}

static void json_pools(struct json *j, const struct rx_snapshot *s)
{
	uint32_t i;

	json_array(j, "page_pools");
	for (i = 0; i < s->nr_pools; i++) {
		const struct devmem_page_pool_info *p = &s->pools[i];

		json_object(j, NULL);
		json_u64(j, "id", p->id);
		json_u64(j, "napi_id", p->napi_id);
		json_u64(j, "inflight", p->inflight);
		json_u64(j, "inflight_mem", p->inflight_mem);
		json_u64(j, "dmabuf", p->dmabuf);
		json_close(j);
	}
	json_close(j);
}

static void json_teardown(struct json *j, const struct rx_leftover *l)
{
	if (!l->checked) {
		json_null(j, "teardown");
		return;
	}
	json_object(j, "teardown");
	json_u64(j, "bindings_left", l->bindings);
	json_u64(j, "niovs_in_use", l->niovs_in_use);
	json_u64(j, "page_pools_left", l->pools);
	json_u64(j, "pool_inflight", l->pool_inflight);
	json_close(j);
}

static void rx_report_json(const struct rx *rx, const char *title)
{
	struct json j;

	json_begin(&j, stdout);
	json_str(&j, "command", title);
	json_bool(&j, "ok", rx_ok(rx));
	json_counters(&j, rx);
	json_validation(&j, rx);
	json_unbind(&j, rx);
	json_setup(&j, rx);
	if (rx->snap.have_sock)
		json_sock(&j, &rx->snap.sock);
	else
		json_null(&j, "socket");
	json_rxqs(&j, &rx->snap);
	json_binding(&j, &rx->snap);
	json_pools(&j, &rx->snap);
	json_teardown(&j, &rx->left);
	json_end(&j);
}

void rx_report(const struct rx *rx, const char *title)
{
	if (rx->o->json)
		rx_report_json(rx, title);
	else
		rx_report_text(rx, title);
}
