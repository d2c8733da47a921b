/* SPDX-License-Identifier: MIT */
/*
 * The unit-test harness: one program per module, every test in its own
 * process.
 *
 * The runner (harness.c) never has a second thread: it forks one child per
 * test, so a child can never inherit a lock that another thread held at the
 * fork (the way a sanitizer's allocator lock deadlocks a runner that forks
 * while its own threads run). In the child, after the test body, the harness
 * checks that the test left no file descriptor open that it did not find
 * and, under AddressSanitizer, that it leaked no memory: every test checks
 * "nothing leaks" by construction, failure paths too.
 *
 * Writing a test:
 *
 *	Test(suite, rule_it_checks) { cr_assert_eq(f(), 0); }
 *	Test(suite, broken_rule_aborts, .signal = SIGABRT) { ... }
 *
 * The assertions take an optional printf-style message after their operands.
 * cr_assert* end the test at the first failure; cr_expect* record it and go
 * on. cr_skip_test("reason") ends the test as SKIP, with its reason.
 *
 * Running: `test_foo` runs every test; `test_foo PATTERN...` only those whose
 * "suite::name" matches a shell pattern; `test_foo --list` lists them.
 * DEVMEM_TEST_TIMEOUT (seconds, default 300) bounds each test.
 * The last line is "suite: N passed, N failed, N skipped"; the exit status is
 * 1 if any test failed.
 */
#ifndef DEVMEM_TESTS_HARNESS_H
#define DEVMEM_TESTS_HARNESS_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct devmem_test {
	const char *suite;
	const char *name;
	void (*fn)(void);
	int signal; /* the signal the test must die of; 0: it must return */
	const char *file;
	int line;
};

void devmem_test_register(const struct devmem_test *test);

#define DEVMEM_TEST_FN(suite, name) devmem_test__##suite##__##name

#define Test(suite_, name_, ...)                                                            \
	static void DEVMEM_TEST_FN(suite_, name_)(void);                                    \
	static const struct devmem_test DEVMEM_TEST_FN(                                     \
		suite_, name_##__desc) = { .suite = #suite_,                                \
					   .name = #name_,                                  \
					   .fn = DEVMEM_TEST_FN(suite_, name_),             \
					   .file = __FILE__,                                \
					   .line = __LINE__,                                \
					   __VA_ARGS__ };                                   \
	__attribute__((constructor)) static void DEVMEM_TEST_FN(suite_, name_##__reg)(void) \
	{                                                                                   \
		devmem_test_register(&DEVMEM_TEST_FN(suite_, name_##__desc));               \
	}                                                                                   \
	static void DEVMEM_TEST_FN(suite_, name_)(void)

/* Report a failed check. The fatal form ends the test's process. */
__attribute__((format(printf, 4, 5))) void devmem_test_failed(bool fatal, const char *file,
							      int line, const char *fmt, ...);
/* The user's optional message for the failure just reported. */
__attribute__((format(printf, 1, 2))) void devmem_test_message(const char *fmt, ...);
/* End the test: fatal failures and skips. */
__attribute__((noreturn)) void devmem_test_end_failed(void);
__attribute__((noreturn, format(printf, 1, 2))) void devmem_test_skip(const char *fmt, ...);

void devmem_test_cmp_failed(bool fatal, const char *file, int line, const char *lhs, const char *op,
			    const char *rhs, long long l, long long r);
void devmem_test_str_failed(bool fatal, const char *file, int line, const char *lhs, const char *op,
			    const char *rhs, const char *l, const char *r);

#define DEVMEM_CHECK_END(fatal, ...)                          \
	do {                                                  \
		__VA_OPT__(devmem_test_message(__VA_ARGS__);) \
		if (fatal)                                    \
			devmem_test_end_failed();             \
	} while (0)

#define DEVMEM_CHECK(fatal, cond, text, ...)                                       \
	do {                                                                       \
		if (!(cond)) {                                                     \
			devmem_test_failed(fatal, __FILE__, __LINE__, "%s", text); \
			DEVMEM_CHECK_END(fatal __VA_OPT__(, ) __VA_ARGS__);        \
		}                                                                  \
	} while (0)

/* Each operand is evaluated exactly once; failures print both values. */
#define DEVMEM_CMP(fatal, a, op, b, ...)                                                    \
	do {                                                                                \
		__auto_type devmem_l_ = (a);                                                \
		__auto_type devmem_r_ = (b);                                                \
		if (!(devmem_l_ op devmem_r_)) {                                            \
			devmem_test_cmp_failed(fatal, __FILE__, __LINE__, #a, #op, #b,      \
					       (long long)devmem_l_, (long long)devmem_r_); \
			DEVMEM_CHECK_END(fatal __VA_OPT__(, ) __VA_ARGS__);                 \
		}                                                                           \
	} while (0)

#define DEVMEM_STRCMP(fatal, a, op, b, ...)                                                       \
	do {                                                                                      \
		const char *devmem_l_ = (a);                                                      \
		const char *devmem_r_ = (b);                                                      \
		if (!devmem_l_ || !devmem_r_ || !(strcmp(devmem_l_, devmem_r_) op 0)) {           \
			devmem_test_str_failed(fatal, __FILE__, __LINE__, #a, #op, #b, devmem_l_, \
					       devmem_r_);                                        \
			DEVMEM_CHECK_END(fatal __VA_OPT__(, ) __VA_ARGS__);                       \
		}                                                                                 \
	} while (0)

#define cr_assert(cond, ...) DEVMEM_CHECK(true, cond, #cond __VA_OPT__(, ) __VA_ARGS__)
#define cr_assert_not(cond, ...) \
	DEVMEM_CHECK(true, !(cond), "!(" #cond ")" __VA_OPT__(, ) __VA_ARGS__)
#define cr_assert_null(p, ...) \
	DEVMEM_CHECK(true, (p) == NULL, #p " == NULL" __VA_OPT__(, ) __VA_ARGS__)
#define cr_assert_not_null(p, ...) \
	DEVMEM_CHECK(true, (p) != NULL, #p " != NULL" __VA_OPT__(, ) __VA_ARGS__)
#define cr_assert_eq(a, b, ...) DEVMEM_CMP(true, a, ==, b __VA_OPT__(, ) __VA_ARGS__)
#define cr_assert_neq(a, b, ...) DEVMEM_CMP(true, a, !=, b __VA_OPT__(, ) __VA_ARGS__)
#define cr_assert_lt(a, b, ...) DEVMEM_CMP(true, a, <, b __VA_OPT__(, ) __VA_ARGS__)
#define cr_assert_leq(a, b, ...) DEVMEM_CMP(true, a, <=, b __VA_OPT__(, ) __VA_ARGS__)
#define cr_assert_gt(a, b, ...) DEVMEM_CMP(true, a, >, b __VA_OPT__(, ) __VA_ARGS__)
#define cr_assert_geq(a, b, ...) DEVMEM_CMP(true, a, >=, b __VA_OPT__(, ) __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) DEVMEM_STRCMP(true, a, ==, b __VA_OPT__(, ) __VA_ARGS__)
#define cr_assert_str_neq(a, b, ...) DEVMEM_STRCMP(true, a, !=, b __VA_OPT__(, ) __VA_ARGS__)
#define cr_assert_str_empty(s, ...) DEVMEM_STRCMP(true, s, ==, "" __VA_OPT__(, ) __VA_ARGS__)
#define cr_expect(cond, ...) DEVMEM_CHECK(false, cond, #cond __VA_OPT__(, ) __VA_ARGS__)
#define cr_expect_eq(a, b, ...) DEVMEM_CMP(false, a, ==, b __VA_OPT__(, ) __VA_ARGS__)
#define cr_expect_neq(a, b, ...) DEVMEM_CMP(false, a, !=, b __VA_OPT__(, ) __VA_ARGS__)
#define cr_skip_test(...) devmem_test_skip(__VA_ARGS__)

/* Open file descriptors of this process. */
int devmem_test_count_fds(void);

/* Live dma-bufs of this process, from the last line of dma_buf_describe(). */
int devmem_test_live_dma_bufs(void);

/* Skip the running test with a reason (SKIP is reported, never a silent pass). */
#define devmem_skip(...) cr_skip_test(__VA_ARGS__)

#endif
