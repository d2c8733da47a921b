#!/bin/sh
# SPDX-License-Identifier: MIT
# devmem recv and devmem send with plain TCP peers over loopback: a Python
# socket receives from devmem send and checks the pattern; socat and nc (when
# installed) send a pattern file into devmem recv (-L, -v), and socat
# receives from devmem send into a file that must equal the pattern.
. "$(dirname "$0")/lib.sh"

BYTES=$((32 * 1024 * 1024))
DONE="python receiver"
SKIPPED=""
$PYTHON -c "
import sys
sys.path.insert(0, '$HERE')
import peer
sys.stdout.buffer.write(peer.pattern(251, $BYTES)[:$BYTES])" >"$WORK/pattern" ||
	fail "cannot write the pattern file"

# devmem send -> a Python receiver that checks every byte
PORT=$(pick_port 0)
bg timeout 60 $PEER recv --port "$PORT" --period 251 --bytes "$BYTES" >"$WORK/peer.log" 2>&1
PEER_PID=$BG_PID
wait_for "$WORK/peer.log" listening || fail "the Python receiver did not start" "$WORK/peer.log"
timeout 60 "$DEVMEM" send -s 127.0.0.1 -p "$PORT" -v 251 --bytes "$BYTES" --size 8M \
	>"$WORK/send.out" 2>&1 || fail "devmem send to Python failed" "$WORK/send.out"
wait "$PEER_PID" || fail "the Python receiver saw a bad stream" "$WORK/peer.log"

# recv_from NAME 'COMMAND': COMMAND (evaluated, with $PORT set) sends the
# pattern file from its standard input to $PORT
recv_from() {
	name=$1
	cmd=$2
	PORT=$(pick_port "$N")
	N=$((N + 1))
	bg timeout 60 "$DEVMEM" recv -s 127.0.0.1 -p "$PORT" -v 251 -L --expect "$BYTES" --json \
		>"$WORK/recv-$name.json" 2>"$WORK/recv-$name.err"
	recv=$BG_PID
	wait_for "$WORK/recv-$name.err" listening || fail "devmem recv did not start" "$WORK/recv-$name.err"
	eval "timeout 60 $cmd" <"$WORK/pattern" >"$WORK/$name.log" 2>&1 || fail "$name failed" "$WORK/$name.log"
	wait "$recv" || fail "devmem recv from $name failed" "$WORK/recv-$name.err" "$WORK/recv-$name.json"
	$PEER check "$WORK/recv-$name.json" ok=true bytes="$BYTES" bytes_linear=0 validation.errors=0 \
		>"$WORK/check.log" || fail "from $name: $(cat "$WORK/check.log")" "$WORK/recv-$name.json"
	DONE="$DONE, $name sender"
}
N=1

if command -v socat >/dev/null 2>&1; then
	recv_from socat 'socat -u STDIN TCP:127.0.0.1:$PORT'
	# devmem send -> socat into a file
	PORT=$(pick_port 9)
	bg timeout 60 socat -u "TCP-LISTEN:$PORT,reuseaddr,bind=127.0.0.1" "CREATE:$WORK/got"
	SOCAT=$BG_PID
	sleep 0.3
	timeout 60 "$DEVMEM" send -s 127.0.0.1 -p "$PORT" -v 251 --bytes "$BYTES" --size 8M \
		>"$WORK/send-socat.out" 2>&1 || fail "devmem send to socat failed" "$WORK/send-socat.out"
	wait "$SOCAT"
	cmp -s "$WORK/got" "$WORK/pattern" || fail "socat received something else than the pattern"
	DONE="$DONE, socat receiver"
else
	SKIPPED="$SKIPPED socat"
fi

if command -v nc >/dev/null 2>&1; then
	# OpenBSD nc closes its side at end of input with -N, the traditional one with -q 0
	if nc -h 2>&1 | grep -q -- ' -N'; then
		recv_from nc 'nc -N 127.0.0.1 $PORT'
	else
		recv_from nc 'nc -q 0 127.0.0.1 $PORT'
	fi
else
	SKIPPED="$SKIPPED nc"
fi

pass "$DONE${SKIPPED:+ (not installed:$SKIPPED)}"
