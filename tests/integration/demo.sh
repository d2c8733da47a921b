#!/bin/sh
# SPDX-License-Identifier: MIT
# devmem demo with a small --bytes: exit status 0, every byte in the dma-buf
# and matching, progress lines on a non-terminal stderr kept few, a clean
# teardown; and --json gives the same verdict.
. "$(dirname "$0")/lib.sh"

BYTES=$((128 * 1024 * 1024))
timeout 120 "$DEVMEM" demo --bytes 128M >"$WORK/demo.out" 2>"$WORK/demo.err"
status=$?
[ "$status" -eq 0 ] || fail "devmem demo exited with status $status" "$WORK/demo.err" "$WORK/demo.out"
for want in "1 connection, ok" "$BYTES in the dma-buf" "0 linear" "copies made   0" \
	"validation    ok: $BYTES bytes match" "teardown      clean" "sent $BYTES bytes and exited"; do
	grep -qF "$want" "$WORK/demo.out" || fail "the report lacks '$want'" "$WORK/demo.out"
done
LINES=$(wc -l <"$WORK/demo.err")
[ "$LINES" -le 30 ] || fail "$LINES progress lines on stderr" "$WORK/demo.err"

timeout 120 "$DEVMEM" demo --bytes 16M --json >"$WORK/demo.json" 2>"$WORK/demo-json.err" ||
	fail "devmem demo --json failed" "$WORK/demo-json.err"
$PEER check "$WORK/demo.json" ok=true bytes=16777216 bytes_linear=0 validation.errors=0 \
	teardown.bindings_left=0 >"$WORK/check.log" || fail "$(cat "$WORK/check.log")" "$WORK/demo.json"
pass "128 MiB and 16 MiB runs: all in the dma-buf, all matching, clean teardown"
