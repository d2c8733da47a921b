// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "debug.h"
#include "error.h"

static __thread char last_error[256];

int devmem_err(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return err;
}

void devmem_clear_error(void)
{
	last_error[0] = '\0';
}

const char *devmem_last_error(void)
{
	return last_error;
}

void devmem_bug(const char *file, int line, const char *what)
{
	fprintf(stderr, "libdevmem: BUG at %s:%d: %s\n", file, line, what);
	abort();
}
