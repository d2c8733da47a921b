/* SPDX-License-Identifier: MIT */
/*
 * The concurrency stress tests are standalone programs (Criterion cannot run
 * under ThreadSanitizer). Each runs for a bounded time, checks its invariants
 * as it goes, and ends by printing one line "<name>: ok ..." and exiting 0, or
 * "<name>: FAIL <why>" and exiting 1.
 *
 * STRESS_SECONDS in the environment scales the run time (default 2).
 */
#ifndef DEVMEM_TESTS_STRESS_H
#define DEVMEM_TESTS_STRESS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define stress_fail(name, ...)                      \
	do {                                        \
		fprintf(stdout, "%s: FAIL ", name); \
		fprintf(stdout, __VA_ARGS__);       \
		fprintf(stdout, "\n");              \
		fflush(stdout);                     \
		exit(1);                            \
	} while (0)

#define stress_check(name, cond, ...)                   \
	do {                                            \
		if (!(cond))                            \
			stress_fail(name, __VA_ARGS__); \
	} while (0)

static inline double stress_seconds(void)
{
	const char *s = getenv("STRESS_SECONDS");
	double v = s ? atof(s) : 2.0;

	return v > 0 ? v : 2.0;
}

static inline double stress_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* xorshift64*: a cheap per-thread generator for randomised timing and choices. */
static inline uint64_t stress_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

#endif
