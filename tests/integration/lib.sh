# SPDX-License-Identifier: MIT
# Shared by the integration tests: sourced, never run. Each test is called
# with the devmem tool's path as $1, prints one final line (PASS, FAIL or
# SKIP with the reason) and exits 0, 1 or 77.

DEVMEM=${1:?usage: $0 path/to/devmem}
HERE=$(cd "$(dirname "$0")" && pwd)
# the interpreter itself: a version manager's shim can take half a second to start
PYTHON=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
# shellcheck disable=SC2034 # used by the tests that source this file
PEER="${PYTHON:-python3} $HERE/peer.py"
TEST=$(basename "$0" .sh)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/devmem-$TEST.XXXXXX")
PIDS=""
AT_EXIT=""

cleanup_work() {
	# TERM first: timeout(1) passes it on to the command it runs
	for p in $PIDS; do
		kill "$p" 2>/dev/null
	done
	sleep 0.2
	for p in $PIDS; do
		kill -9 "$p" 2>/dev/null
	done
	eval "$AT_EXIT"
	rm -rf "$WORK"
}

# at_exit COMMAND: run COMMAND (a string) when the test ends, however it ends.
at_exit() {
	AT_EXIT="$1; $AT_EXIT"
}
trap cleanup_work EXIT
trap "exit 1" INT TERM

pass() {
	echo "PASS: $TEST: $*"
	exit 0
}

skip() {
	echo "SKIP: $TEST: $*"
	exit 77
}

# fail MESSAGE [LOG...]: show the logs, then the verdict.
fail() {
	msg=$1
	shift
	for f in "$@"; do
		[ -s "$f" ] && { echo "--- $(basename "$f")"; tail -n 30 "$f"; }
	done
	echo "FAIL: $TEST: $msg"
	exit 1
}

# A port unlikely to be in use: from the test's pid, below the ephemeral range.
pick_port() {
	echo $((10000 + ($$ * 7 + ${1:-0}) % 22000))
}

# wait_for FILE TEXT [SECONDS]: until TEXT shows up in FILE.
wait_for() {
	n=$((${3:-10} * 20))
	while [ $n -gt 0 ]; do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
		n=$((n - 1))
	done
	return 1
}

# Start a background job; its pid goes to $BG_PID and is killed at exit.
bg() {
	"$@" &
	BG_PID=$!
	PIDS="$PIDS $BG_PID"
}

command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"
[ -x "$DEVMEM" ] || fail "no devmem tool at $DEVMEM"
