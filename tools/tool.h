/* SPDX-License-Identifier: MIT */
/*
 * What the devmem command's files share: messages for humans, number
 * parsing and formatting, time.
 *
 * Exit status: 0 success, 1 a failure at run time (including a validation
 * error or a short stream), 2 a usage error.
 */
#ifndef DEVMEM_TOOL_H
#define DEVMEM_TOOL_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* "devmem: <message>" on stderr. */
void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * "devmem: <what>: <strerror(-err)>[: <reason>]" on stderr, the reason being
 * devmem_last_error() when it says something new. Returns EXIT_RUNTIME.
 */
int fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The same for a failed system call: no library reason. Returns EXIT_RUNTIME. */
int sys_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Remember the library's current last-error line as one the tool has dealt
 * with (an error it tolerated), so that fail() does not repeat it as the
 * reason for a later error that set none.
 */
void error_seen(void);

/* "devmem: <cmd>: <message> (try 'devmem <cmd> --help')". Returns EXIT_USAGE. */
int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * getopt_long() returned @c, '?' (an unknown option, or a value given to a
 * flag) or ':' (a value missing): say so, naming the option as the user
 * typed it (@typed: argv[optind - 1]). Returns EXIT_USAGE.
 */
int getopt_error(const char *cmd, int c, const struct option *longopts, const char *typed);

/*
 * A byte count: digits with an optional K, M, G or T suffix (powers of 1024,
 * optionally followed by "iB" or "B"). 0 or -EINVAL.
 */
int parse_size(const char *s, uint64_t *out);
/* A decimal unsigned number in [@min, @max]. 0 or -EINVAL / -ERANGE. */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Seconds on the monotonic clock. */
double now(void);

/* "1.50 GiB", "64.0 MiB", "512 B" in @buf (at least 16 bytes). */
const char *fmt_bytes(uint64_t bytes, char *buf, size_t len);

/* The system page size. */
size_t page_size(void);

#endif
