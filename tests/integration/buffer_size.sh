#!/bin/sh
# SPDX-License-Identifier: MIT
# --size the machine cannot hold fails at once, with one line naming the size
# and what is available (-ENOMEM, as a dma-heap that cannot back an
# allocation), never after minutes of faulting pages in or by the OOM killer;
# a buffer that takes a while to populate shows its progress on stderr.
. "$(dirname "$0")/lib.sh"

N=0
PORT=$(pick_port)
FREE=$(pick_port 1)

# too_big TEXT COMMAND...: COMMAND must exit 1 within 20 s, saying one line
# "devmem: ..." that holds TEXT, the size asked and the memory available.
too_big() {
	text=$1
	shift
	start=$(date +%s)
	timeout 20 "$@" >"$WORK/out" 2>"$WORK/err"
	status=$?
	[ "$status" -eq 1 ] || fail "'$*' exited with status $status, not 1" "$WORK/err"
	[ $(($(date +%s) - start)) -le 10 ] || fail "'$*' took more than 10 s to fail" "$WORK/err"
	[ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "'$*' said more than one line" "$WORK/err"
	grep -q "^devmem: .*Cannot allocate memory.*$text.*1.00 TiB.*available" "$WORK/err" ||
		fail "'$*' did not name the size and what is available" "$WORK/err"
	N=$((N + 1))
}

too_big "host buffer" "$DEVMEM" recv -l -p "$PORT" --size 1T
too_big "host buffer" "$DEVMEM" send -s 127.0.0.1 -p "$FREE" --size 1T
too_big "vram" "$DEVMEM" recv -l -p "$PORT" --size 1T --memory vram

# 1 GiB (if the machine has it to spare): progress lines, then the connect error
avail_kib=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
[ "${avail_kib:-0}" -gt $((4 * 1024 * 1024)) ] ||
	skip "$N cases passed; less than 4 GiB available for the progress case"
timeout 120 "$DEVMEM" send -s 127.0.0.1 -p "$FREE" --size 1G >"$WORK/out" 2>"$WORK/err"
status=$?
[ "$status" -eq 1 ] || fail "send --size 1G to a closed port exited with $status" "$WORK/err"
grep -q "^devmem: populating the 1.00 GiB buffer: [0-9]*%" "$WORK/err" ||
	fail "no progress while populating 1 GiB" "$WORK/err"
grep -q "^devmem: populated the 1.00 GiB buffer in" "$WORK/err" ||
	fail "no end to the progress" "$WORK/err"
grep -q "^devmem: cannot connect to 127.0.0.1:$FREE" "$WORK/err" ||
	fail "the populated buffer was not used" "$WORK/err"
N=$((N + 1))
pass "$N cases: oversized buffers refused at once, progress on large ones"
