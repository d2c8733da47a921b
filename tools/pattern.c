// SPDX-License-Identifier: MIT
/*
 * The validation pattern. Checking compares against a reference copy of
 * the pattern with memcmp(), a period-aligned window at a time, so that a
 * gigabyte validates at memory speed; the byte-by-byte walk only runs to
 * locate a difference.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pattern.h"

#define PATTERN_CHUNK (64 * 1024)

void pattern_fill(uint32_t period, uint64_t k, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = pattern_byte(period, k + i);
}

int pattern_checker_init(struct pattern_checker *pc, uint32_t period)
{
	if (period < 1 || period > PATTERN_MAX_PERIOD)
		return -EINVAL;
	pc->period = period;
	pc->chunk = PATTERN_CHUNK;
	pc->ref = malloc(period + pc->chunk);
	if (!pc->ref)
		return -ENOMEM;
	pattern_fill(period, 0, pc->ref, period + pc->chunk);
	return 0;
}

void pattern_checker_fini(struct pattern_checker *pc)
{
	free(pc->ref);
	pc->ref = NULL;
}

static void pattern_locate(const struct pattern_checker *pc, uint64_t k, const uint8_t *buf,
			   size_t len, struct pattern_mismatch *bad)
{
	size_t i;

	for (i = 0; i < len; i++) {
		uint8_t want = pattern_byte(pc->period, k + i);

		if (buf[i] != want) {
			*bad = (struct pattern_mismatch){ .offset = k + i,
							  .expected = want,
							  .got = buf[i] };
			return;
		}
	}
}

bool pattern_check(const struct pattern_checker *pc, uint64_t k, const void *buf, size_t len,
		   struct pattern_mismatch *bad)
{
	const uint8_t *p = buf;

	while (len) {
		size_t n = len < pc->chunk ? len : pc->chunk;
		const uint8_t *ref = pc->ref + k % pc->period;

		if (memcmp(p, ref, n)) {
			pattern_locate(pc, k, p, n, bad);
			return false;
		}
		p += n;
		k += n;
		len -= n;
	}
	return true;
}
