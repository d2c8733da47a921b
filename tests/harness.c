// SPDX-License-Identifier: MIT
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devmem/dma-buf.h"

#include "harness.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define HAVE_LSAN 1
#endif

static int fds_at_start;

int devmem_test_count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!dir)
		return -1;
	while ((de = readdir(dir)))
		if (de->d_name[0] != '.')
			n++;
	closedir(dir);
	return n - 1; /* the directory's own fd */
}

int devmem_test_live_dma_bufs(void)
{
	char *text = NULL, *last = NULL, *p;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	int n = -1;

	cr_assert_not_null(out);
	cr_assert_eq(dma_buf_describe(out), 0);
	fclose(out);
	/* "Total N devices attached" lines come first; the object count is the last "Total" */
	for (p = strstr(text, "\nTotal "); p; p = strstr(p + 1, "\nTotal "))
		last = p;
	cr_assert_not_null(last);
	cr_assert_eq(sscanf(last, "\nTotal %d objects", &n), 1);
	free(text);
	return n;
}

void devmem_test_init(void)
{
	fds_at_start = devmem_test_count_fds();
}

/*
 * Runs in the test's process after the test body. Criterion turns a crash
 * here into a failed run of the test binary, which is what we want.
 */
void devmem_test_fini(void)
{
	int fds = devmem_test_count_fds();

	if (fds != fds_at_start) {
		fprintf(stderr, "test left %d file descriptor(s) open\n", fds - fds_at_start);
		abort();
	}
#ifdef HAVE_LSAN
	if (__lsan_do_recoverable_leak_check()) {
		fprintf(stderr, "test leaked memory\n");
		abort();
	}
#endif
}
