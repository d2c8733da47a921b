#!/bin/sh
# SPDX-License-Identifier: MIT
# One byte, then 1 GiB, over loopback from a plain Python sender into devmem
# recv: with -L every byte must land in the dma-buf, with -v every byte must
# match the pattern, --expect makes a short stream fail, and teardown must
# leave nothing bound or in flight.
. "$(dirname "$0")/lib.sh"

# recv_one BYTES PORT: one connection of BYTES into devmem recv
recv_one() {
	bytes=$1
	port=$2
	bg timeout 150 "$DEVMEM" recv -s 127.0.0.1 -p "$port" -v 251 -L --expect "$bytes" --json \
		>"$WORK/recv-$bytes.json" 2>"$WORK/recv-$bytes.err"
	recv=$BG_PID
	wait_for "$WORK/recv-$bytes.err" listening || fail "devmem recv did not start" "$WORK/recv-$bytes.err"
	timeout 150 $PEER send --port "$port" --period 251 --bytes "$bytes" >"$WORK/peer.log" 2>&1 ||
		fail "the Python sender of $bytes bytes failed" "$WORK/peer.log" "$WORK/recv-$bytes.err"
	wait "$recv"
	status=$?
	[ "$status" -eq 0 ] ||
		fail "devmem recv of $bytes bytes exited with status $status" "$WORK/recv-$bytes.err" \
			"$WORK/recv-$bytes.json"
	$PEER check "$WORK/recv-$bytes.json" ok=true bytes="$bytes" bytes_dmabuf="$bytes" \
		bytes_linear=0 copies=0 short_streams=0 validation.errors=0 \
		validation.bytes_checked="$bytes" socket.tokens_held=0 teardown.bindings_left=0 \
		teardown.page_pools_left=0 >"$WORK/check.log" ||
		fail "$bytes bytes: $(cat "$WORK/check.log")" "$WORK/recv-$bytes.json"
}

GIB=$((1024 * 1024 * 1024))
recv_one 1 "$(pick_port 0)"
recv_one "$GIB" "$(pick_port 1)"
RATE=$($PYTHON -c "import json; print('%.2f' % json.load(open('$WORK/recv-$GIB.json'))['gbytes_per_s'])")
pass "1 byte and 1 GiB: all in the dma-buf, all matching ($RATE GB/s for the GiB)"
