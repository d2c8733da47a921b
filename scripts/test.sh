#!/bin/sh
# The whole test suite, as `make test` runs it:
#   1. the unit tests and stress tests on an ordinary (debug-assertion) build;
#   2. all of them again under AddressSanitizer + UndefinedBehaviorSanitizer,
#      with leak checking after every test;
#   3. the unit tests and concurrency stress tests under ThreadSanitizer;
#   4. the release build that make bench uses compiles (warnings are errors).
# Ends with one line "tests: N passed, N failed, N skipped" and exits non-zero
# if anything failed.
set -u
cd "$(dirname "$0")/.."

status=0
runs=""

setup() {	# dir, meson options...
	scripts/build.sh "$@" || exit 1
}

run() {		# dir, label, meson test options...
	dir=$1
	label=$2
	shift 2
	echo "== $label"
	if ! meson test -C "$dir" --print-errorlogs "$@"; then
		status=1
	fi
	runs="$runs $dir"
}

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"

setup build -Dbench=false
run build "unit and stress tests"

setup build-asan -Dbench=false -Db_sanitize=address,undefined -Db_lundef=false
run build-asan "unit and stress tests under ASan+UBSan" --timeout-multiplier 3

setup build-tsan -Dbench=false -Db_sanitize=thread -Db_lundef=false
run build-tsan "unit, stress and preload tests under TSan" --suite unit --suite stress --suite preload --timeout-multiplier 4

# make bench's release build (-O3 warns where -O2 does not): it must compile
echo "== the release build of make bench"
if scripts/build.sh build-bench --buildtype=release -Db_ndebug=true -Dtests=false; then
	release=--extra=release-build:pass
else
	release=--extra=release-build:fail
	status=1
fi

python3 scripts/test-summary.py $release $runs || status=1
exit $status
