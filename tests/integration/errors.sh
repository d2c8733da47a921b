#!/bin/sh
# SPDX-License-Identifier: MIT
# Errors for humans: a bad flag, a missing interface, a port in use, a queue
# out of range, an unreachable server; each must be one line "devmem: ..."
# on stderr and exit status 1 (2 for usage errors). --help exits 0.
. "$(dirname "$0")/lib.sh"

N=0

# expect_error STATUS TEXT COMMAND...: fails unless COMMAND exits with STATUS
# and says exactly one line on stderr, starting "devmem: " and holding TEXT.
expect_error() {
	want=$1
	text=$2
	shift 2
	timeout 20 "$@" >"$WORK/out" 2>"$WORK/err"
	status=$?
	[ "$status" -eq "$want" ] || fail "'$*' exited with status $status, not $want" "$WORK/err"
	[ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "'$*' said more than one line" "$WORK/err"
	grep -q "^devmem: .*$text" "$WORK/err" || fail "'$*' did not say '$text'" "$WORK/err"
	N=$((N + 1))
}

PORT=$(pick_port)
FREE=$(pick_port 1)

expect_error 2 "unknown option -x" "$DEVMEM" recv -x
expect_error 2 "unknown option '--nope'" "$DEVMEM" send --nope
expect_error 2 "no port" "$DEVMEM" recv
expect_error 2 "-p 'abc'" "$DEVMEM" recv -p abc
expect_error 2 "--memory 'gpu'" "$DEVMEM" recv -p "$PORT" --memory gpu
expect_error 2 "not a multiple of the page size" "$DEVMEM" recv -p "$PORT" --size 1000
expect_error 2 "--bytes is for send" "$DEVMEM" recv -p "$PORT" --bytes 1M
expect_error 2 "unknown command 'frobnicate'" "$DEVMEM" frobnicate
expect_error 1 "no interface 'nosuchif0'" "$DEVMEM" recv -p "$PORT" -f nosuchif0
expect_error 1 "no interface 'nosuchif0'" "$DEVMEM" info -f nosuchif0
expect_error 2 "-t 70: a software NIC has at most 64 rx queues" "$DEVMEM" recv -p "$PORT" -t 70
expect_error 2 "-q 64: a software NIC has at most 64 rx queues" "$DEVMEM" recv -p "$PORT" -q 64
expect_error 1 "cannot connect to 127.0.0.1:$FREE: Connection refused" \
	"$DEVMEM" send -s 127.0.0.1 -p "$FREE" --bytes 1M

# a port in use
bg $PYTHON -c "
import socket, time
s = socket.socket()
s.bind(('127.0.0.1', $PORT))
s.listen()
print('listening', flush=True)
time.sleep(30)" >"$WORK/holder.log"
wait_for "$WORK/holder.log" listening || fail "could not hold port $PORT"
expect_error 1 "cannot listen on 127.0.0.1:$PORT: Address already in use" \
	"$DEVMEM" recv -s 127.0.0.1 -p "$PORT"

for cmd in "" demo recv send info tour; do
	# shellcheck disable=SC2086
	"$DEVMEM" $cmd --help >"$WORK/help" 2>&1 || fail "'devmem $cmd --help' failed" "$WORK/help"
	grep -q "^usage: devmem" "$WORK/help" || fail "'devmem $cmd --help' printed no usage" "$WORK/help"
	N=$((N + 1))
done
pass "$N cases: one line each, the right exit status"
