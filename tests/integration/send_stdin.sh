#!/bin/sh
# SPDX-License-Identifier: MIT
# devmem send with no --bytes and stdin a pipe or a file sends stdin, as
# ncdevmem's client does: each line copied into the tx dma-buf and sent with
# one sendmsg, in iovs of at most -z bytes. A plain listener must receive
# exactly the input: two short lines whole and in 3-byte iovs, binary data
# through a buffer smaller than it (wrapping, and a line longer than the
# buffer), and the same with -n (plain send()). With --bytes, stdin is not
# read: the pattern goes out.
. "$(dirname "$0")/lib.sh"

N=0

# listen PORT FILE: accept one connection on 127.0.0.1:PORT, write what it
# carries to FILE; the listener's pid is $BG_PID.
listen() {
	bg timeout 60 $PYTHON -c "
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', int(sys.argv[1])))
s.listen(1)
print('listening', flush=True)
c, _ = s.accept()
with open(sys.argv[2], 'wb') as f:
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        f.write(b)
" "$1" "$2" >"$WORK/listener.log" 2>&1
	wait_for "$WORK/listener.log" listening || fail "the listener did not start" "$WORK/listener.log"
}

# send_case NAME INPUT [ARGS...]: devmem send ARGS <INPUT must deliver INPUT
# byte for byte; its JSON report goes to $WORK/NAME.json.
send_case() {
	name=$1
	input=$2
	shift 2
	PORT=$(pick_port "$N")
	N=$((N + 1))
	listen "$PORT" "$WORK/$name.got"
	listener=$BG_PID
	timeout 30 "$DEVMEM" send -s 127.0.0.1 -p "$PORT" --json "$@" <"$input" \
		>"$WORK/$name.json" 2>"$WORK/$name.err" ||
		fail "$name: devmem send failed" "$WORK/$name.err" "$WORK/$name.json"
	wait "$listener" || fail "$name: the listener failed" "$WORK/listener.log"
	cmp -s "$input" "$WORK/$name.got" ||
		fail "$name: the listener received $(wc -c <"$WORK/$name.got") bytes, not the $(wc -c <"$input") of stdin" \
			"$WORK/$name.err"
}

printf 'hello\nworld\n' >"$WORK/hello"
send_case whole "$WORK/hello"
$PEER check "$WORK/whole.json" ok=true data='"stdin"' bytes=12 stdin_lines=2 sends=2 zerocopy=true \
	>"$WORK/check.log" || fail "whole: $(cat "$WORK/check.log")" "$WORK/whole.json"

# ncdevmem -z: one sendmsg a line, in iovs of at most 3 bytes
send_case chunks "$WORK/hello" -z 3
$PEER check "$WORK/chunks.json" ok=true data='"stdin"' bytes=12 stdin_lines=2 sends=2 \
	>"$WORK/check.log" || fail "chunks: $(cat "$WORK/check.log")" "$WORK/chunks.json"

# 1 MiB of random bytes (newlines at random, some lines longer than the
# buffer) through a 64 KiB buffer: it wraps many times
head -c 1048576 /dev/urandom >"$WORK/random" || fail "cannot make the random input"
send_case wrap "$WORK/random" --size 64K -z 1000
$PEER check "$WORK/wrap.json" ok=true data='"stdin"' bytes=1048576 >"$WORK/check.log" ||
	fail "wrap: $(cat "$WORK/check.log")" "$WORK/wrap.json"

# a single line much longer than the buffer
head -c 300000 /dev/zero | tr '\0' a >"$WORK/long"
send_case long-line "$WORK/long" --size 64K
$PEER check "$WORK/long-line.json" ok=true bytes=300000 stdin_lines=1 >"$WORK/check.log" ||
	fail "long-line: $(cat "$WORK/check.log")" "$WORK/long-line.json"

send_case plain "$WORK/random" -n
$PEER check "$WORK/plain.json" ok=true data='"stdin"' zerocopy=false bytes=1048576 \
	>"$WORK/check.log" || fail "plain: $(cat "$WORK/check.log")" "$WORK/plain.json"

# --bytes: the pattern, stdin untouched
head -c 4096 /dev/zero >"$WORK/zeros"
send_case bytes "$WORK/zeros" --bytes 4096
$PEER check "$WORK/bytes.json" ok=true data='"pattern"' bytes=4096 >"$WORK/check.log" ||
	fail "bytes: $(cat "$WORK/check.log")" "$WORK/bytes.json"

pass "$N cases: stdin delivered byte for byte, whole, in -z iovs, wrapping the buffer, with -n"
