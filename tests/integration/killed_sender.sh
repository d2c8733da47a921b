#!/bin/sh
# SPDX-License-Identifier: MIT
# A sender killed mid-stream: devmem recv must end cleanly (exit status 1,
# no crash, no hang), report a short stream whose bytes all matched, and
# leave nothing bound or in flight.
. "$(dirname "$0")/lib.sh"

PORT=$(pick_port)
EXPECT=$((16 * 1024 * 1024 * 1024))

bg timeout 60 "$DEVMEM" recv -s 127.0.0.1 -p "$PORT" -v 251 -L --expect "$EXPECT" --json \
	>"$WORK/recv.json" 2>"$WORK/recv.err"
RECV=$BG_PID
wait_for "$WORK/recv.err" listening || fail "devmem recv did not start" "$WORK/recv.err"
bg $PEER flood --port "$PORT" --period 251 >"$WORK/flood.log" 2>&1
FLOOD=$BG_PID
wait_for "$WORK/flood.log" connected || fail "the sender did not connect" "$WORK/flood.log"
sleep 0.5
kill -9 "$FLOOD" 2>/dev/null || fail "the sender ended before it was killed"
wait "$RECV"
status=$?
[ "$status" -eq 1 ] || fail "devmem recv exited with status $status, not 1" "$WORK/recv.err" "$WORK/recv.json"
grep -q "short stream" "$WORK/recv.err" || fail "no short stream reported" "$WORK/recv.err"
$PEER check "$WORK/recv.json" ok=false connections=1 short_streams=1 validation.errors=0 \
	bytes_linear=0 socket.tokens_held=0 teardown.bindings_left=0 teardown.page_pools_left=0 \
	>"$WORK/check.log" || fail "$(cat "$WORK/check.log")" "$WORK/recv.json"
GOT=$($PYTHON -c "import json; print(json.load(open('$WORK/recv.json'))['bytes'])")
[ "$GOT" -gt 0 ] && [ "$GOT" -lt "$EXPECT" ] || fail "received $GOT bytes" "$WORK/recv.json"
pass "killed after $GOT bytes: short stream reported, every byte matched, nothing left behind"
