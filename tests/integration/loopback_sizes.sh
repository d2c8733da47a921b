#!/bin/sh
# SPDX-License-Identifier: MIT
# Every payload size from 1 to 8192 bytes over loopback, one connection per
# size from a plain Python sender, into one devmem recv (--repeat): with -L
# every byte must land in the dma-buf, with -v every byte must match the
# pattern, and nothing may be left bound or in flight at the end.
. "$(dirname "$0")/lib.sh"

FIRST=1
LAST=8192
CONNS=$((LAST - FIRST + 1))
TOTAL=$(((LAST * (LAST + 1) - (FIRST - 1) * FIRST) / 2))
PORT=$(pick_port)

bg timeout 200 "$DEVMEM" recv -s 127.0.0.1 -p "$PORT" -v 251 -L --repeat "$CONNS" --json \
	>"$WORK/recv.json" 2>"$WORK/recv.err"
RECV=$BG_PID
wait_for "$WORK/recv.err" listening || fail "devmem recv did not start" "$WORK/recv.err"
timeout 200 $PEER sizes --port "$PORT" --period 251 --first "$FIRST" --last "$LAST" \
	>"$WORK/peer.log" 2>&1 || fail "the Python sender failed" "$WORK/peer.log" "$WORK/recv.err"
wait "$RECV"
status=$?
[ "$status" -eq 0 ] || fail "devmem recv exited with status $status" "$WORK/recv.err" "$WORK/recv.json"
$PEER check "$WORK/recv.json" ok=true connections="$CONNS" bytes="$TOTAL" bytes_dmabuf="$TOTAL" \
	bytes_linear=0 copies=0 validation.errors=0 teardown.bindings_left=0 \
	teardown.page_pools_left=0 >"$WORK/check.log" || fail "$(cat "$WORK/check.log")" "$WORK/recv.json"
pass "$CONNS connections of $FIRST..$LAST bytes: $TOTAL bytes, all in the dma-buf, all matching"
