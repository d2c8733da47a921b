// SPDX-License-Identifier: MIT
/*
 * Memory the process can still be given (lib/meminfo.h), from the figures
 * the kernel publishes: /proc/meminfo and the cgroup v2 files.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/meminfo.h"

#define CGROUP_ROOT "/sys/fs/cgroup"

static uint64_t meminfo_available(void)
{
	unsigned long long kib;
	char line[128];
	uint64_t ret = UINT64_MAX;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return UINT64_MAX;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1) {
			ret = (uint64_t)kib << 10;
			break;
		}
	fclose(f);
	return ret;
}

/* The number in file @dir/@name, or UINT64_MAX ("max", unreadable). */
static uint64_t cgroup_read(const char *dir, const char *name)
{
	unsigned long long v;
	char path[4096];
	uint64_t ret = UINT64_MAX;
	FILE *f;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return UINT64_MAX; /* a path that long names no cgroup file */
	f = fopen(path, "re");
	if (!f)
		return UINT64_MAX;
	if (fscanf(f, "%llu", &v) == 1)
		ret = v;
	fclose(f);
	return ret;
}

/* The process's cgroup v2 directory ("0::/path" in /proc/self/cgroup), or false. */
static bool cgroup_dir(char *dir, size_t len)
{
	char line[4096];
	bool found = false;
	FILE *f = fopen("/proc/self/cgroup", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		found = snprintf(dir, len, "%s%s", CGROUP_ROOT, line + 3) < (int)len;
		break;
	}
	fclose(f);
	return found;
}

/* The least headroom of the process's cgroup and its ancestors, UINT64_MAX if unlimited. */
static uint64_t cgroup_available(void)
{
	uint64_t ret = UINT64_MAX;
	char dir[4096];

	if (!cgroup_dir(dir, sizeof(dir)))
		return UINT64_MAX;
	/* a parent's limit binds its children too: walk up to the root */
	for (;;) {
		uint64_t max = cgroup_read(dir, "memory.max");
		uint64_t cur = cgroup_read(dir, "memory.current");
		char *slash;

		if (max != UINT64_MAX && cur != UINT64_MAX) {
			uint64_t room = max > cur ? max - cur : 0;

			if (room < ret)
				ret = room;
		}
		slash = strrchr(dir, '/');
		if (!slash || slash - dir <= (long)strlen(CGROUP_ROOT))
			break;
		*slash = '\0';
	}
	return ret;
}

uint64_t mem_available(const char **source)
{
	uint64_t mem = meminfo_available(), cg = cgroup_available();

	if (source)
		*source = cg < mem ? "the cgroup's memory.max" : "MemAvailable";
	return cg < mem ? cg : mem;
}

const char *mem_fmt(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)bytes;
	int u = -1;

	while (v >= 1024 && u + 1 < (int)(sizeof(units) / sizeof(units[0]))) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%" PRIu64 " B", bytes);
	else
		snprintf(buf, len, "%.*f %s", v < 10 ? 2 : v < 100 ? 1 : 0, v, units[u]);
	return buf;
}
