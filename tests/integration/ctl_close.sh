#!/bin/sh
# SPDX-License-Identifier: MIT
# A control handle closed while the receiver holds fragments: devmem recv
# --unbind-after closes it (which unbinds the dma-buf) in the middle of a
# stream, with a batch of fragments not yet given back. Those fragments must
# keep their bytes, the tokens must still be freed, the rest of the stream
# must arrive (linear, from host pages) and match, and teardown must leave
# nothing behind.
. "$(dirname "$0")/lib.sh"

PORT=$(pick_port)
BYTES=$((256 * 1024 * 1024))
AFTER=$((64 * 1024 * 1024))

bg timeout 100 "$DEVMEM" recv -s 127.0.0.1 -p "$PORT" -v 251 --expect "$BYTES" \
	--unbind-after "$AFTER" --json >"$WORK/recv.json" 2>"$WORK/recv.err"
RECV=$BG_PID
wait_for "$WORK/recv.err" listening || fail "devmem recv did not start" "$WORK/recv.err"
timeout 100 $PEER send --port "$PORT" --period 251 --bytes "$BYTES" >"$WORK/peer.log" 2>&1 ||
	fail "the Python sender failed" "$WORK/peer.log" "$WORK/recv.err"
wait "$RECV"
status=$?
[ "$status" -eq 0 ] || fail "devmem recv exited with status $status" "$WORK/recv.err" "$WORK/recv.json"
$PEER check "$WORK/recv.json" ok=true bytes="$BYTES" validation.errors=0 unbind.done=true \
	unbind.held_changed=0 tokens.not_freed=0 socket.tokens_held=0 teardown.bindings_left=0 \
	teardown.page_pools_left=0 >"$WORK/check.log" || fail "$(cat "$WORK/check.log")" "$WORK/recv.json"
$PYTHON -c "
import json, sys
r = json.load(open('$WORK/recv.json'))
ok = r['unbind']['held'] > 0 and r['bytes_dmabuf'] >= $AFTER and r['bytes_linear'] > 0
sys.exit(0 if ok else 1)" || fail "the unbind held no fragment, or nothing changed after it" "$WORK/recv.json"
HELD=$($PYTHON -c "import json; print(json.load(open('$WORK/recv.json'))['unbind']['held'])")
pass "unbound at 64 MiB holding $HELD fragments: they kept their bytes; the rest arrived linear; all matching"
