/* SPDX-License-Identifier: MIT */
/*
 * The options of devmem recv and devmem send: ncdevmem's flags with the
 * same meaning, and a few long options of our own.
 */
#ifndef DEVMEM_TOOL_OPTS_H
#define DEVMEM_TOOL_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

enum mem_type {
	MEM_HOST,
	MEM_VRAM,
	MEM_UDMABUF, /* a real kernel dma-buf from /dev/udmabuf */
	MEM_DMAHEAP, /* a real kernel dma-buf from /dev/dma_heap/system */
};

enum progress_mode {
	PROGRESS_NONE,
	PROGRESS_TTY, /* one line rewritten in place on a terminal */
	PROGRESS_LINES, /* a line now and then, for logs */
};

#define DEFAULT_IFNAME "lo"
#define DEFAULT_BUF_SIZE (64ULL << 20)
#define DEFAULT_TX_CHUNK (64ULL << 10)
#define DEFAULT_SEND_BYTES (1ULL << 30)
#define SWNIC_MAX_QUEUES 64

struct opts {
	bool listen; /* -l */
	const char *server; /* -s: the server's address */
	const char *client; /* -c: the client's address */
	uint16_t port; /* -p; 0 with have_port: any (the demo) */
	bool have_port;
	const char *ifname; /* -f */
	uint32_t validate; /* -v N: the pattern's period, 0 for none */
	uint32_t num_queues; /* -q */
	int64_t start_queue; /* -t, -1: rx queues - num_queues */
	uint64_t tx_chunk; /* -z */
	bool fail_on_linear; /* -L */
	bool no_config; /* -n */
	enum mem_type memory; /* --memory */
	uint64_t size; /* --size */
	const char *backend; /* --backend */
	bool json; /* --json */
	uint64_t bytes; /* --bytes (send, demo) */
	bool have_bytes; /* --bytes was given: send the pattern, not stdin */
	bool from_stdin; /* send: the data is stdin (no --bytes, no -v, not a terminal) */
	uint64_t expect; /* --expect (recv): bytes each connection must carry */
	bool have_expect; /* --expect was given (0 is a valid expectation) */
	uint64_t repeat; /* --repeat (recv): connections to serve one after another */
	uint64_t unbind_after; /* --unbind-after (recv): close the control handle mid-stream */
	enum progress_mode progress;
};

/* The defaults. */
void opts_init(struct opts *o);

/*
 * Parse @argv for @cmd ("recv" or "send"). Returns 0, EXIT_USAGE after a
 * message, or -1 when --help was asked (usage printed on stdout).
 */
int opts_parse(struct opts *o, const char *cmd, int argc, char **argv);

void opts_usage(const char *cmd, FILE *out);

/* "host", "vram", "udmabuf" or "dmaheap". */
const char *opts_memory_name(enum mem_type memory);

struct dma_buf;

/*
 * The buffer of --memory udmabuf or dmaheap: @o->size bytes of a real kernel
 * dma-buf, named @name. 0 and the buffer in @out, or the library's negative
 * errno (-ENOENT when the kernel lacks the exporter).
 */
int opts_kdmabuf_create(const struct opts *o, const char *name, struct dma_buf **out);

/*
 * The address @host (NULL: the wildcard of @family) and @port. An IPv6
 * literal may be bracketed, as in URLs: "[::1]". 0 or -EINVAL.
 */
int opts_sockaddr(const char *host, int family, uint16_t port, struct sockaddr_storage *ss,
		  socklen_t *len);

/*
 * Progress of populating a --size buffer, on stderr (host_buffer_opts'
 * progress callback, with a struct size_progress as its argument). Buffers
 * from SIZE_PROGRESS_MIN up show it: in place on a terminal, else a line
 * per quarter; then how long it took.
 */
#define SIZE_PROGRESS_MIN (1ULL << 30)

struct size_progress {
	double t_start;
	bool tty;
	unsigned int last_quarter;
};

void size_progress_init(struct size_progress *p);
void size_progress(size_t done, size_t total, void *arg);

/* "1.2.3.4:80" or "[::1]:80" in @buf. */
const char *sockaddr_str(const struct sockaddr_storage *ss, char *buf, size_t len);

#endif
