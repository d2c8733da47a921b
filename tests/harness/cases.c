// SPDX-License-Identifier: MIT
/*
 * Tests of the test harness itself: each case's name says the outcome the
 * runner must report for it (check.sh compares). Most of them fail on
 * purpose; this program is never run as a unit test of its own.
 */
#include <fcntl.h>
#include <unistd.h>

#include "../harness.h"

Test(harness, pass_when_every_check_holds)
{
	int x = 2;

	cr_assert_eq(x + 2, 4);
	cr_assert_str_eq("ab", "ab");
	cr_assert_null(NULL);
}

Test(harness, fail_on_a_false_assertion)
{
	cr_assert_eq(1 + 1, 3, "with a message %d", 42);
}

Test(harness, fail_on_a_failed_expectation_and_run_on)
{
	cr_expect_eq(1, 2);
	cr_assert_eq(write(2, "still running\n", 14), 14);
}

Test(harness, fail_when_an_fd_is_left_open)
{
	cr_assert_geq(open("/dev/null", O_RDONLY), 0);
}

Test(harness, fail_when_memory_leaks_under_asan)
{
	void *volatile p = malloc(100);

	p = NULL;
	(void)p;
}

Test(harness, fail_on_a_crash)
{
	raise(SIGSEGV);
}

Test(harness, pass_on_the_expected_signal, .signal = SIGABRT)
{
	abort();
}

Test(harness, fail_without_the_expected_signal, .signal = SIGABRT)
{
}

Test(harness, skip_with_a_reason)
{
	cr_skip_test("the reason %s", "given");
}

Test(harness, fail_on_timeout)
{
	pause();
}

Test(harness, fail_on_a_string_mismatch)
{
	cr_assert_str_eq("ab", "ac");
}

static int calls;

static int count_call(void)
{
	return ++calls;
}

Test(harness, pass_when_operands_are_evaluated_once)
{
	cr_assert_eq(count_call(), 1);
	cr_assert_eq(calls, 1);
}
