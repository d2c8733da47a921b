#!/bin/sh
# SPDX-License-Identifier: MIT
# What devmem recv and devmem send tell a new user: an option is named as it
# was typed; conflicting or impossible options are refused up front (exit 2);
# --expect 0 is a valid expectation and a long stream is called long; a flow
# that misses the bound rx queue is a flow steering error, not a success; an
# --unbind-after that the stream never reaches fails and says so; IPv6
# literals work plain and bracketed.
. "$(dirname "$0")/lib.sh"

N=0

# expect_error STATUS TEXT COMMAND...: COMMAND must exit with STATUS and say
# exactly one line on stderr, "devmem: ..." holding TEXT.
expect_error() {
	want=$1
	text=$2
	shift 2
	timeout 20 "$@" >"$WORK/out" 2>"$WORK/err"
	status=$?
	[ "$status" -eq "$want" ] || fail "'$*' exited with status $status, not $want" "$WORK/err"
	[ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "'$*' said more than one line" "$WORK/err"
	grep -qF -- "$text" "$WORK/err" && grep -q '^devmem: ' "$WORK/err" ||
		fail "'$*' did not say '$text'" "$WORK/err"
	N=$((N + 1))
}

P=$(pick_port)

# options named as typed
expect_error 2 "recv: --memory needs a value" "$DEVMEM" recv -p "$P" --memory
expect_error 2 "send: --bytes needs a value" "$DEVMEM" send -s 127.0.0.1 -p "$P" --bytes
expect_error 2 "-p needs a value" "$DEVMEM" recv -p
expect_error 2 "--json takes no value" "$DEVMEM" recv -p "$P" --json=yes
expect_error 2 "--repeat 'x': expected a number" "$DEVMEM" recv -p "$P" --repeat x
expect_error 2 "demo: --bytes needs a value" "$DEVMEM" demo --bytes
expect_error 2 "info: --json takes no value" "$DEVMEM" info --json=1
expect_error 2 "info: -f needs a value" "$DEVMEM" info -f
expect_error 2 "tour: unknown option '-x'" "$DEVMEM" tour -x
# refused up front
expect_error 2 "-n receives without a dma-buf" "$DEVMEM" recv -p "$P" -n -L
expect_error 2 "-q 64: a software NIC has at most 64 rx queues" "$DEVMEM" recv -p "$P" -q 64
expect_error 2 "-t 70: a software NIC has at most 64 rx queues" "$DEVMEM" recv -p "$P" -t 70
expect_error 2 "--unbind-after 2097152 is beyond the end of a 1048576-byte stream" \
	"$DEVMEM" recv -p "$P" --expect 1M --unbind-after 2M

# recv_run NAME RECV-ARGS -- PEER-ARGS: devmem recv on a fresh port with
# RECV-ARGS and --json, one Python sender with PEER-ARGS; $STATUS is recv's
# exit status, $WORK/NAME.json and $WORK/NAME.err what it said.
recv_run() {
	name=$1
	shift
	PORT=$(pick_port $((N + 10)))
	N=$((N + 1))
	args=""
	while [ "$1" != "--" ]; do
		args="$args $1"
		shift
	done
	shift
	# shellcheck disable=SC2086
	bg timeout 30 "$DEVMEM" recv -p "$PORT" --json $args >"$WORK/$name.json" 2>"$WORK/$name.err"
	recv=$BG_PID
	wait_for "$WORK/$name.err" listening || fail "$name: devmem recv did not start" "$WORK/$name.err"
	timeout 30 $PEER send --port "$PORT" "$@" >"$WORK/$name.peer" 2>&1 ||
		fail "$name: the sender failed" "$WORK/$name.peer" "$WORK/$name.err"
	wait "$recv"
	STATUS=$?
}

# check NAME FIELD=VALUE...: fields of the JSON report
check() {
	name=$1
	shift
	$PEER check "$WORK/$name.json" "$@" >"$WORK/check.log" ||
		fail "$name: $(cat "$WORK/check.log")" "$WORK/$name.err" "$WORK/$name.json"
}

# --expect 0: an empty stream is what was expected
recv_run expect0 -s 127.0.0.1 --expect 0 -- --host 127.0.0.1 --period 251 --bytes 0
[ "$STATUS" -eq 0 ] || fail "--expect 0, 0 bytes: status $STATUS" "$WORK/expect0.err"
check expect0 ok=true expected_bytes=0 short_streams=0 long_streams=0

# more than expected: a long stream, said as such
recv_run long -s 127.0.0.1 --expect 4096 -- --host 127.0.0.1 --period 251 --bytes 8192
[ "$STATUS" -eq 1 ] || fail "a long stream: status $STATUS" "$WORK/long.err"
grep -q "long stream: 8192 bytes" "$WORK/long.err" || fail "a long stream was not called long" "$WORK/long.err"
check long ok=false long_streams=1 short_streams=0

# the flow rule wants the client 127.0.0.2; the sender is 127.0.0.1, so RSS
# puts the flow on a queue that is not bound: everything linear
recv_run steer -s 127.0.0.1 -c 127.0.0.2 --expect 1M -- --host 127.0.0.1 --period 251 --bytes 1048576
[ "$STATUS" -eq 1 ] || fail "a misrouted flow: status $STATUS" "$WORK/steer.err"
grep -q "flow steering error" "$WORK/steer.err" || fail "no flow steering error said" "$WORK/steer.err"
check steer ok=false flow_steering_errors=1 bytes_dmabuf=0 bytes_linear=1048576

# --unbind-after beyond a stream of unknown length
recv_run never -s 127.0.0.1 --unbind-after 2M -- --host 127.0.0.1 --period 251 --bytes 1048576
[ "$STATUS" -eq 1 ] || fail "an unbind that never happened: status $STATUS" "$WORK/never.err"
grep -q "the unbind never happened: the stream ended at 1048576 bytes" "$WORK/never.err" ||
	fail "the missed unbind was not said" "$WORK/never.err"
check never ok=false unbind.done=false

# IPv6, bracketed and plain
if $PYTHON -c "import socket; s = socket.socket(socket.AF_INET6); s.bind(('::1', 0))" 2>/dev/null; then
	recv_run v6 -s "[::1]" -v 251 -L --expect 1M -- --host ::1 --period 251 --bytes 1048576
	[ "$STATUS" -eq 0 ] || fail "recv -s [::1]: status $STATUS" "$WORK/v6.err"
	check v6 ok=true bytes_dmabuf=1048576
	PORT=$(pick_port 40)
	bg timeout 30 $PEER recv --host ::1 --port "$PORT" --period 251 --bytes 65536 >"$WORK/v6peer.log" 2>&1
	peer=$BG_PID
	wait_for "$WORK/v6peer.log" listening || fail "the IPv6 receiver did not start" "$WORK/v6peer.log"
	timeout 30 "$DEVMEM" send -s "[::1]" -p "$PORT" -v 251 --bytes 65536 >"$WORK/v6send.out" 2>&1 ||
		fail "send -s [::1] failed" "$WORK/v6send.out"
	wait "$peer" || fail "the IPv6 receiver saw a bad stream" "$WORK/v6peer.log"
	N=$((N + 2))
else
	NOTE="; IPv6 cases not run: no ::1 on this machine"
fi

pass "$N cases${NOTE:-}"
