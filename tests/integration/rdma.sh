#!/bin/sh
# SPDX-License-Identifier: MIT
# devmem rdma end to end over loopback: write-bw into a dynamic vram MR that
# is evicted during the run (validated, invalidated and re-faulted, no IOMMU
# fault), read-bw and send-bw into host memory with perftest's columns, a
# pinned vram MR that never moves, and a usage error for an unknown test.
. "$(dirname "$0")/lib.sh"

[ -n "$PYTHON" ] || skip "no python3 to read the JSON report"

# run NAME SERVER_ARGS -- CLIENT_ARGS: one server and one client, the client's output in $WORK/NAME.out
run() {
	name=$1
	shift
	port=$(pick_port "$name")
	sargs=""
	while [ "$1" != "--" ]; do
		sargs="$sargs $1"
		shift
	done
	shift
	# shellcheck disable=SC2086 # word splitting of the option lists is intended
	bg timeout 120 "$DEVMEM" rdma $sargs -p "$port" >"$WORK/$name.srv" 2>&1
	wait_for "$WORK/$name.srv" "waiting for a client" || fail "$name: the server did not start" "$WORK/$name.srv"
	# shellcheck disable=SC2086
	timeout 120 "$DEVMEM" rdma "$@" -p "$port" 127.0.0.1 >"$WORK/$name.out" 2>"$WORK/$name.err" ||
		fail "$name: the client failed" "$WORK/$name.err" "$WORK/$name.out" "$WORK/$name.srv"
}

# json_check FILE EXPR: a Python expression over r, the first result of the report
json_check() {
	"$PYTHON" -c "import json,sys; j=json.loads(open(sys.argv[1]).read().splitlines()[-1]); r=j['results'][0]; sys.exit(0 if ($2) else 1)" "$1" ||
		fail "report check failed: $2" "$1"
}

run dynamic write-bw --memory vram -- write-bw -n 400 -s 64K --evict-every 20 --json
json_check "$WORK/dynamic.out" "j['mr'] == 'dynamic' and r['validated'] and r['iterations'] == 400"
json_check "$WORK/dynamic.out" "r['invalidations'] >= 3 and r['refaults'] >= r['invalidations'] - 1 and r['faults'] == 0"

run read read-bw -- read-bw -n 300 -s 16K
for col in "#bytes" "#iterations" "BW peak[MB/sec]" "BW average[MB/sec]" "MsgRate[Mpps]"; do
	grep -qF "$col" "$WORK/read.out" || fail "read-bw lacks the column '$col'" "$WORK/read.out"
done
grep -qE '^ 16384 +300 ' "$WORK/read.out" || fail "read-bw has no 16384-byte row" "$WORK/read.out"
grep -q "MISMATCH" "$WORK/read.out" && fail "read-bw data mismatch" "$WORK/read.out"

run send send-bw -- send-bw -n 300 -s 4K --json
json_check "$WORK/send.out" "j['test'] == 'send-bw' and r['validated']"

run pinned write-bw --memory vram --pinned -- write-bw -n 200 -s 32K --evict-every 10 --json
json_check "$WORK/pinned.out" "j['mr'] == 'pinned' and r['validated'] and r['invalidations'] == 0"

"$DEVMEM" rdma atomic-bw >"$WORK/usage.out" 2>&1
[ $? -eq 2 ] || fail "an unknown test is not a usage error" "$WORK/usage.out"
pass "write-bw into moving vram (validated, re-faulted, no fault), read-bw, send-bw, pinned vram"
