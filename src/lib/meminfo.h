/* SPDX-License-Identifier: MIT */
/*
 * How much memory this process can still be given: what exporters check a
 * buffer's size against before they commit to backing it, so that a size
 * the machine cannot hold fails at once with -ENOMEM rather than after
 * minutes of faulting pages in, at the hands of the OOM killer.
 */
#ifndef DEVMEM_LIB_MEMINFO_H
#define DEVMEM_LIB_MEMINFO_H

#include <stddef.h>
#include <stdint.h>

/*
 * Bytes available: MemAvailable of /proc/meminfo, lowered to the headroom
 * (memory.max - memory.current) of the most constrained cgroup v2 the
 * process is in. UINT64_MAX when no figure could be read. *@source (may be
 * NULL) names the figure that set the result.
 */
uint64_t mem_available(const char **source);

/* "1.50 GiB", "64.0 MiB", "512 B" in @buf; returns @buf. */
const char *mem_fmt(uint64_t bytes, char *buf, size_t len);

#endif
