#!/bin/sh
# The harness reports each case of cases.c as its name says.
# usage: check.sh CASES_PROGRAM
set -u
out=$(DEVMEM_TEST_TIMEOUT=2 "$1" 2>&1)
rc=$?
printf "%s\n" "$out" | sed "s/^/    | /"
bad=0
expect() {	# PASS|FAIL|SKIP name
	if ! printf '%s\n' "$out" | grep -q "^$1 harness::$2 "; then
		echo "harness check: expected $1 for $2" >&2
		bad=1
	fi
}
for n in pass_when_every_check_holds pass_on_the_expected_signal pass_when_operands_are_evaluated_once; do
	expect PASS $n
done
for n in fail_on_a_false_assertion fail_on_a_failed_expectation_and_run_on fail_when_an_fd_is_left_open \
	fail_on_a_crash fail_without_the_expected_signal fail_on_timeout fail_on_a_string_mismatch; do
	expect FAIL $n
done
expect SKIP skip_with_a_reason
# a leak is seen only where LeakSanitizer runs
if nm "$1" 2>/dev/null | grep -q __lsan_do_recoverable_leak_check || ldd "$1" 2>/dev/null | grep -q libasan; then
	expect FAIL fail_when_memory_leaks_under_asan
else
	expect PASS fail_when_memory_leaks_under_asan
fi
printf '%s\n' "$out" | grep -q 'still running' || { echo "harness check: cr_expect stopped the test" >&2; bad=1; }
printf '%s\n' "$out" | grep -q 'SKIP: the reason given' || { echo "harness check: skip reason lost" >&2; bad=1; }
printf '%s\n' "$out" | grep -q 'with a message 42' || { echo "harness check: message lost" >&2; bad=1; }
printf '%s\n' "$out" | grep -qE '^harness: [0-9]+ passed, [0-9]+ failed, 1 skipped$' || { echo "harness check: no summary line" >&2; bad=1; }
[ "$rc" -eq 1 ] || { echo "harness check: exit status $rc, expected 1" >&2; bad=1; }
[ $bad -eq 0 ] && echo "PASS: the harness reports every case as expected" || echo "FAIL: the harness misreports"
exit $bad
