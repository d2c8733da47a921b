/* SPDX-License-Identifier: MIT */
/*
 * The receiving side, shared by devmem recv and devmem demo: a dma-buf
 * bound to a software NIC's rx queues, one connection at a time received
 * into it with devmem_recvmsg(MSG_SOCK_DEVMEM), each fragment validated
 * through CPU access and its token given back in batches.
 *
 * Every function returns 0 or an exit status (EXIT_RUNTIME) after printing
 * one line saying what failed.
 */
#ifndef DEVMEM_TOOL_RX_H
#define DEVMEM_TOOL_RX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "devmem/dma-buf.h"
#include "devmem/netdev.h"
#include "devmem/socket.h"
#include "devmem/swnic.h"
#include "devmem/uapi.h"
#include "devmem/vram.h"
#include "backend.h"
#include "opts.h"
#include "pattern.h"

#define RX_MAX_POOLS 64

/* Tokens waiting to go back with one SO_DEVMEM_DONTNEED call. */
struct token_batch {
	struct dmabuf_token tok[DEVMEM_DONTNEED_MAX_TOKENS];
	unsigned int nr; /* entries used */
	unsigned int frags; /* fragments over all entries */
};

struct rx_counters {
	uint64_t connections;
	uint64_t bytes;
	uint64_t bytes_dmabuf;
	uint64_t bytes_linear;
	uint64_t frags; /* SCM_DEVMEM_DMABUF fragments */
	uint64_t copies; /* SCM_DEVMEM_LINEAR chunks: copies into the iovec */
	uint64_t calls; /* recvmsg calls that returned data */
	uint64_t ctrunc;
	uint64_t dontneed_calls;
	uint64_t tokens_returned; /* freed, as SO_DEVMEM_DONTNEED said */
	uint64_t tokens_lost; /* given back but not freed */
	uint64_t tokens_held; /* now */
	uint64_t tokens_held_peak;
	uint64_t short_streams; /* connections that ended before --expect */
	uint64_t long_streams; /* connections that carried more than --expect */
	uint64_t misrouted; /* bound, but the flow was on another rx queue: flow steering error */
	uint64_t resets; /* connections reset by the peer */
};

/* What the library said at the end of the run (before teardown). */
struct rx_snapshot {
	bool have_sock;
	struct devmem_sock_stats sock; /* summed over the connections */
	uint32_t nr_rxqs; /* bound queues, then the flow's queue if it is another */
	uint32_t rxq_id[SWNIC_MAX_QUEUES + 1];
	struct devmem_swnic_rxq_stats rxq[SWNIC_MAX_QUEUES + 1];
	bool have_binding;
	struct devmem_binding_info binding;
	uint32_t nr_pools;
	struct devmem_page_pool_info pools[RX_MAX_POOLS];
};

/* What teardown found left behind. */
struct rx_leftover {
	bool checked;
	uint32_t bindings; /* bindings still alive on the device */
	uint64_t niovs_in_use; /* net_iovs they still hold */
	uint32_t pools; /* page pools still alive on the device */
	uint64_t pool_inflight;
};

struct rx {
	const struct opts *o;

	/* the buffer */
	struct vram *vram;
	struct dma_buf *buf;
	uint64_t buf_size; /* kept for the report, after teardown */
	int buf_fd;
	void *vaddr; /* CPU mapping, for validation */

	/* the NIC */
	int ifindex;
	bool nic_created; /* by us: destroyed at teardown */
	struct backend_choice backend; /* --backend and what it came to */
	uint32_t nr_rx_queues;
	uint32_t start_queue;
	uint32_t num_queues;
	struct devmem_ctl *ctl;
	bool have_flow_rule;
	uint32_t flow_loc;
	uint32_t binding_id; /* 0: not bound */

	/* the connection */
	int listen_fd;
	struct sockaddr_storage local;
	int fd;
	int rxq; /* the flow's rx queue, -1 if none */
	uint64_t stream_off; /* bytes of this connection so far */
	uint64_t longest_stream; /* the most bytes one connection carried */
	uint8_t *iov_buf; /* linear bytes land here */
	size_t iov_len;
	uint8_t *ctrl_buf;
	size_t ctrl_len;
	struct token_batch batch;

	/* validation */
	struct pattern_checker pc;
	uint64_t bytes_checked;
	uint64_t mismatches; /* fragments or chunks that did not match */
	struct pattern_mismatch first_bad;
	uint64_t first_bad_conn;

	/* the run */
	struct rx_counters c;
	double t_start, t_end;
	double next_progress;
	unsigned int progress_lines;
	bool failed; /* the run stopped on an error: already reported */
	bool protocol_error; /* the library broke its contract: already reported */
	bool unbound; /* --unbind-after: the control handle was closed mid-stream */
	uint64_t unbound_at; /* the stream offset then */
	uint32_t unbind_held; /* fragments held across the unbind */
	uint32_t unbind_held_bad; /* of those, fragments whose bytes changed */
	struct rx_snapshot snap;
	struct rx_leftover left;
};

/* Everything up to a listening socket and a bound buffer. */
int rx_setup(struct rx *rx, const struct opts *o);
/* The port the server listens on (after rx_setup). */
uint16_t rx_port(const struct rx *rx);
/*
 * Serve o->repeat connections, one after another. @accept_timeout_ms < 0
 * waits for ever. Returns 0 when every stream was received (validation
 * errors and short streams are counted, not returned).
 */
int rx_serve(struct rx *rx, int accept_timeout_ms);
/* Close everything, then look for what was left behind. */
void rx_teardown(struct rx *rx);
/* "rx queue 3" or "rx queues 2..3" in @buf. */
const char *rx_queues_str(const struct rx *rx, char *buf, size_t len);
/* True when the run had no error of any kind. */
bool rx_ok(const struct rx *rx);
/* The report, as text or JSON (o->json) on stdout. */
void rx_report(const struct rx *rx, const char *title);

#endif
