// SPDX-License-Identifier: MIT
/*
 * Messages, numbers and time for the devmem command.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devmem/error.h"
#include "tool.h"

static char seen_error[256];

void msg(const char *fmt, ...)
{
	va_list ap;

	fputs("devmem: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void error_seen(void)
{
	snprintf(seen_error, sizeof(seen_error), "%s", devmem_last_error());
}

int fail(int err, const char *fmt, ...)
{
	const char *why = devmem_last_error();
	va_list ap;

	fputs("devmem: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s", strerror(err < 0 ? -err : err));
	/* the library's reason, unless it is an old one that belongs to another call */
	if (*why && strcmp(why, seen_error))
		fprintf(stderr, " (%s)", why);
	fputc('\n', stderr);
	error_seen();
	return EXIT_RUNTIME;
}

int sys_fail(int err, const char *fmt, ...)
{
	va_list ap;

	fputs("devmem: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(err < 0 ? -err : err));
	return EXIT_RUNTIME;
}

int usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "devmem: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try 'devmem %s --help')\n", cmd);
	return EXIT_USAGE;
}

/* The long option of @longopts whose code is @val, or NULL. */
static const char *long_opt_name(const struct option *longopts, int val)
{
	const struct option *lo;

	for (lo = longopts; lo->name; lo++)
		if (lo->val == val)
			return lo->name;
	return NULL;
}

/*
 * optopt holds the code of the option getopt stopped at: a short option's
 * letter, a long option's code (which may be a letter too), or 0 for an
 * unknown long option. What the user typed says which of them it was.
 */
int getopt_error(const char *cmd, int c, const struct option *longopts, const char *typed)
{
	bool is_long = typed && !strncmp(typed, "--", 2);
	const char *name = is_long ? long_opt_name(longopts, optopt) : NULL;

	if (name)
		return c == ':' ? usage_error(cmd, "--%s needs a value", name) :
				  usage_error(cmd, "--%s takes no value ('%s')", name, typed);
	if (!is_long && optopt)
		return c == ':' ? usage_error(cmd, "-%c needs a value", optopt) :
				  usage_error(cmd, "unknown option -%c", optopt);
	return usage_error(cmd, "unknown option '%s'", typed);
}

int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return errno == ERANGE ? -ERANGE : -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static int size_shift(const char *suffix, unsigned int *shift)
{
	static const char units[] = "KMGT";
	const char *u;

	if (!*suffix) {
		*shift = 0;
		return 0;
	}
	u = strchr(units, toupper((unsigned char)*suffix));
	if (!u)
		return -EINVAL;
	suffix++;
	if (*suffix == 'i')
		suffix++;
	if (*suffix == 'B' || *suffix == 'b')
		suffix++;
	if (*suffix)
		return -EINVAL;
	*shift = 10 * (unsigned int)(u - units + 1);
	return 0;
}

int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || size_shift(end, &shift))
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *fmt_bytes(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	int u = -1;

	while (v >= 1024 && u < (int)ARRAY_LEN(units) - 1) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%.*f %s", v < 10 ? 2 : 1, v, units[u]);
	return buf;
}

size_t page_size(void)
{
	long ps = sysconf(_SC_PAGESIZE);

	return ps > 0 ? (size_t)ps : 4096;
}
