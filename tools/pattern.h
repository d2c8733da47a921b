/* SPDX-License-Identifier: MIT */
/*
 * The validation pattern of ncdevmem's -v N: a stream repeating the bytes
 * 1, 2, ..., N-1 and then '\n', so that stream position k holds
 * (k % N == N - 1) ? '\n' : k % N + 1. N is 1 to 256.
 */
#ifndef DEVMEM_TOOL_PATTERN_H
#define DEVMEM_TOOL_PATTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PATTERN_MAX_PERIOD 256

/* The byte at stream offset @k. */
static inline uint8_t pattern_byte(uint32_t period, uint64_t k)
{
	uint32_t r = (uint32_t)(k % period);

	return r == period - 1 ? '\n' : (uint8_t)(r + 1);
}

/* Write the pattern for stream offsets [@k, @k + @len) into @buf. */
void pattern_fill(uint32_t period, uint64_t k, void *buf, size_t len);

struct pattern_checker {
	uint32_t period;
	uint8_t *ref; /* the pattern from offset 0, period + chunk bytes long */
	size_t chunk; /* the most one comparison covers */
};

/* The first byte that did not match. */
struct pattern_mismatch {
	uint64_t offset; /* stream offset */
	uint8_t expected;
	uint8_t got;
};

/* 0, -EINVAL (period out of range), -ENOMEM. */
int pattern_checker_init(struct pattern_checker *pc, uint32_t period);
void pattern_checker_fini(struct pattern_checker *pc);

/*
 * Compare @len bytes at @buf with stream offsets [@k, @k + @len). True when
 * they match; otherwise false and the first difference in *@bad.
 */
bool pattern_check(const struct pattern_checker *pc, uint64_t k, const void *buf, size_t len,
		   struct pattern_mismatch *bad);

#endif
