// SPDX-License-Identifier: MIT
/*
 * The unit-test runner: see harness.h for what it promises.
 *
 * The parent process stays single-threaded for its whole life and only
 * forks, waits and prints. Each test runs in a child of its own, with an
 * alarm as its time limit, so a test that crashes, aborts, hangs or leaks
 * fails alone and the next one starts from the same clean parent.
 */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef DEVMEM_TEST_NO_LIBRARY
#include "devmem/dma-buf.h"
#else
#include <dlfcn.h>
#endif

#include "harness.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define HAVE_LSAN 1
#endif

/* The child's exit codes: 0 is a pass. */
enum { EXIT_FAILED = 1, EXIT_SKIPPED = 77 };

static const struct devmem_test **tests;
static size_t n_tests, cap_tests;

/* In the child: set by a failed cr_expect*, read when the body returns. */
static bool expect_failed;

void devmem_test_register(const struct devmem_test *test)
{
	if (n_tests == cap_tests) {
		cap_tests = cap_tests ? 2 * cap_tests : 64;
		tests = realloc(tests, cap_tests * sizeof(*tests));
		if (!tests) {
			perror("harness: registering tests");
			abort();
		}
	}
	tests[n_tests++] = test;
}

/* ---------------------------------------------------------------- checks */

void devmem_test_failed(bool fatal, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: %s failed: ", file, line, fatal ? "assertion" : "expectation");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (!fatal)
		expect_failed = true;
}

void devmem_test_message(const char *fmt, ...)
{
	va_list ap;

	fputs("    ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void devmem_test_cmp_failed(bool fatal, const char *file, int line, const char *lhs, const char *op,
			    const char *rhs, long long l, long long r)
{
	devmem_test_failed(fatal, file, line, "%s %s %s: %lld (%#llx) vs %lld (%#llx)", lhs, op,
			   rhs, l, (unsigned long long)l, r, (unsigned long long)r);
}

void devmem_test_str_failed(bool fatal, const char *file, int line, const char *lhs, const char *op,
			    const char *rhs, const char *l, const char *r)
{
	devmem_test_failed(fatal, file, line, "%s %s %s: \"%s\" vs \"%s\"", lhs, op, rhs,
			   l ? l : "(null)", r ? r : "(null)");
}

void devmem_test_end_failed(void)
{
	fflush(NULL);
	_exit(EXIT_FAILED);
}

void devmem_test_skip(const char *fmt, ...)
{
	va_list ap;

	fputs("SKIP: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(NULL);
	_exit(EXIT_SKIPPED);
}

/* ---------------------------------------------------------------- helpers */

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

#ifndef DEVMEM_TEST_NO_LIBRARY
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
#endif

/*
 * Programs run under libdevmem-preload.so (tests/preload/) link no library:
 * the shim's own long-lived state (its control handle, software NICs,
 * sockets) is not the program's, and the shim lets go of it when asked
 * (devmem_preload_release_all), so that what remains open is what the
 * test left.
 */
static void settle_shim(void)
{
#ifdef DEVMEM_TEST_NO_LIBRARY
	void (*release_all)(void) =
		(void (*)(void))dlsym(RTLD_DEFAULT, "devmem_preload_release_all");

	if (release_all)
		release_all();
#endif
}

/* ---------------------------------------------------------------- running */

static unsigned int test_timeout(void)
{
	const char *s = getenv("DEVMEM_TEST_TIMEOUT");
	long v = s ? strtol(s, NULL, 10) : 0;

	return v > 0 ? (unsigned int)v : 300;
}

/* The child: the body, then the checks that nothing was left behind. */
static __attribute__((noreturn)) void run_child(const struct devmem_test *t, unsigned int timeout)
{
	int fds_at_start;

	if (t->signal) {
		/* dying is the expected outcome: no core file for it */
		struct rlimit no_core = { 0, 0 };

		setrlimit(RLIMIT_CORE, &no_core);
	}
	alarm(timeout);
	fds_at_start = devmem_test_count_fds();
	t->fn();
	if (expect_failed)
		devmem_test_end_failed();
	settle_shim();
	if (devmem_test_count_fds() != fds_at_start) {
		fprintf(stderr, "test left %d file descriptor(s) open\n",
			devmem_test_count_fds() - fds_at_start);
		devmem_test_end_failed();
	}
#ifdef HAVE_LSAN
	if (__lsan_do_recoverable_leak_check()) {
		fprintf(stderr, "test leaked memory\n");
		devmem_test_end_failed();
	}
#endif
	fflush(NULL);
	_exit(0);
}

enum outcome { PASSED, FAILED, SKIPPED };

static enum outcome run_one(const struct devmem_test *t, unsigned int timeout)
{
	struct timespec t0, t1;
	int status;
	pid_t pid;
	double secs;
	char why[96] = "";
	enum outcome res;

	fflush(NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0) {
		perror("harness: fork");
		return FAILED;
	}
	if (pid == 0)
		run_child(t, timeout);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			perror("harness: waitpid");
			return FAILED;
		}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);

		if (sig == t->signal)
			res = PASSED;
		else if (sig == SIGALRM)
			res = FAILED, snprintf(why, sizeof(why), "timed out after %u s", timeout);
		else
			res = FAILED,
			snprintf(why, sizeof(why), "killed by signal %d (%s)", sig, strsignal(sig));
	} else if (WEXITSTATUS(status) == EXIT_SKIPPED) {
		res = SKIPPED;
	} else if (WEXITSTATUS(status) != 0) {
		res = FAILED;
	} else if (t->signal) {
		res = FAILED,
		snprintf(why, sizeof(why), "returned; it should have died of signal %d (%s)",
			 t->signal, strsignal(t->signal));
	} else {
		res = PASSED;
	}

	printf("%s %s::%s (%.2f s)%s%s\n",
	       res == PASSED  ? "PASS" :
	       res == SKIPPED ? "SKIP" :
				"FAIL",
	       t->suite, t->name, secs, why[0] ? ": " : "", why);
	return res;
}

static int by_place(const void *a, const void *b)
{
	const struct devmem_test *x = *(const struct devmem_test *const *)a;
	const struct devmem_test *y = *(const struct devmem_test *const *)b;
	int c = strcmp(x->file, y->file);

	return c ? c : x->line - y->line;
}

static bool selected(const struct devmem_test *t, int argc, char **argv)
{
	char full[256];

	if (argc == 0)
		return true;
	snprintf(full, sizeof(full), "%s::%s", t->suite, t->name);
	for (int i = 0; i < argc; i++)
		if (!fnmatch(argv[i], full, 0))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	unsigned int timeout = test_timeout();
	size_t counts[3] = { 0 };
	bool list = argc > 1 && !strcmp(argv[1], "--list");
	const char *suite;

	if (n_tests == 0) {
		fprintf(stderr, "%s: no tests registered\n", argv[0]);
		return 1;
	}
	qsort(tests, n_tests, sizeof(*tests), by_place);
	suite = tests[0]->suite;
	argc -= 1 + list;
	argv += 1 + list;

	for (size_t i = 0; i < n_tests; i++) {
		if (!selected(tests[i], argc, argv))
			continue;
		if (list)
			printf("%s::%s\n", tests[i]->suite, tests[i]->name);
		else
			counts[run_one(tests[i], timeout)]++;
	}
	free(tests);
	if (list)
		return 0;
	if (counts[PASSED] + counts[FAILED] + counts[SKIPPED] == 0) {
		fprintf(stderr, "no test matches\n");
		return 1;
	}
	printf("%s: %zu passed, %zu failed, %zu skipped\n", suite, counts[PASSED], counts[FAILED],
	       counts[SKIPPED]);
	return counts[FAILED] ? 1 : 0;
}
