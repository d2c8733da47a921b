#!/bin/sh
# SPDX-License-Identifier: MIT
# devmem send to devmem recv over loopback: the sender's pattern comes from a
# dma-buf bound for transmit (MSG_ZEROCOPY, every send completed), and lands
# in the receiver's bound dma-buf (-L), validated (-v).
. "$(dirname "$0")/lib.sh"

PORT=$(pick_port)
BYTES=$((256 * 1024 * 1024))

bg timeout 100 "$DEVMEM" recv -s 127.0.0.1 -p "$PORT" -v 97 -L --expect "$BYTES" --json \
	>"$WORK/recv.json" 2>"$WORK/recv.err"
RECV=$BG_PID
wait_for "$WORK/recv.err" listening || fail "devmem recv did not start" "$WORK/recv.err"
timeout 100 "$DEVMEM" send -s 127.0.0.1 -p "$PORT" -v 97 --bytes "$BYTES" --size 16M --json \
	>"$WORK/send.json" 2>"$WORK/send.err" || fail "devmem send failed" "$WORK/send.err" "$WORK/send.json"
wait "$RECV"
status=$?
[ "$status" -eq 0 ] || fail "devmem recv exited with status $status" "$WORK/recv.err" "$WORK/recv.json"
$PEER check "$WORK/send.json" ok=true bytes="$BYTES" zerocopy=true >"$WORK/check.log" ||
	fail "send: $(cat "$WORK/check.log")" "$WORK/send.json"
$PYTHON -c "
import json, sys
r = json.load(open('$WORK/send.json'))
sys.exit(0 if r['sends'] > 0 and r['completions'] == r['sends'] else 1)" ||
	fail "send: not every zerocopy send completed" "$WORK/send.json"
$PEER check "$WORK/recv.json" ok=true bytes="$BYTES" bytes_linear=0 validation.errors=0 \
	teardown.bindings_left=0 teardown.page_pools_left=0 >"$WORK/check.log" ||
	fail "recv: $(cat "$WORK/check.log")" "$WORK/recv.json"
pass "256 MiB from a tx-bound dma-buf into an rx-bound one, every send completed, all matching"
