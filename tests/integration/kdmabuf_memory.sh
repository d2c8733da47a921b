#!/bin/sh
# SPDX-License-Identifier: MIT
# --memory udmabuf and --memory dmaheap: real kernel dma-bufs. Where the
# kernel lacks the exporter (no /dev/udmabuf: CONFIG_UDMABUF; no
# /dev/dma_heap: CONFIG_DMABUF_HEAPS), recv and send must refuse at once
# with one line naming what is missing and exit status 1; where it has
# them, a validated stream must land in the kernel dma-buf.
. "$(dirname "$0")/lib.sh"

N=0

# expect_missing TEXT COMMAND...: one line "devmem: ..." holding TEXT, status 1.
expect_missing() {
	text=$1
	shift
	timeout 20 "$@" >"$WORK/out" 2>"$WORK/err"
	status=$?
	[ "$status" -eq 1 ] || fail "'$*' exited with status $status, not 1" "$WORK/err"
	[ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "'$*' said more than one line" "$WORK/err"
	grep -q "^devmem: .*$text" "$WORK/err" || fail "'$*' did not say '$text'" "$WORK/err"
	N=$((N + 1))
}

# a stream of the pattern into a kernel dma-buf of MEMORY, validated
expect_stream() {
	port=$(pick_port)
	bg timeout 100 "$DEVMEM" recv -l -s 127.0.0.1 -p "$port" -v 251 --memory "$1" --size 4M \
		--expect 8388608 >"$WORK/recv-$1.log" 2>"$WORK/recv-$1.err"
	rpid=$BG_PID
	wait_for "$WORK/recv-$1.err" listening || fail "devmem recv did not start" "$WORK/recv-$1.err"
	timeout 100 "$DEVMEM" send -s 127.0.0.1 -p "$port" -v 251 --bytes 8M >"$WORK/send-$1.log" 2>&1 ||
		fail "devmem send to a $1 receiver failed" "$WORK/send-$1.log"
	wait "$rpid" || fail "devmem recv --memory $1 failed" "$WORK/recv-$1.err"
	N=$((N + 1))
}

PORT=$(pick_port)
if [ -e /dev/udmabuf ]; then
	expect_stream udmabuf
else
	expect_missing "udmabuf buffer: No such file or directory (no /dev/udmabuf: the kernel lacks CONFIG_UDMABUF" \
		"$DEVMEM" recv -l -p "$PORT" --memory udmabuf
	expect_missing "no /dev/udmabuf" "$DEVMEM" send -s 127.0.0.1 -p "$PORT" --memory udmabuf --bytes 1M
fi
if [ -e /dev/dma_heap/system ]; then
	expect_stream dmaheap
elif [ -e /dev/dma_heap ]; then
	expect_missing "no dma-heap 'system'" "$DEVMEM" recv -l -p "$PORT" --memory dmaheap
else
	expect_missing "dmaheap buffer: No such file or directory (no /dev/dma_heap: the kernel lacks CONFIG_DMABUF_HEAPS" \
		"$DEVMEM" recv -l -p "$PORT" --memory dmaheap
	expect_missing "no /dev/dma_heap" "$DEVMEM" send -s 127.0.0.1 -p "$PORT" --memory dmaheap --bytes 1M
fi
pass "$N cases: --memory udmabuf and dmaheap as this kernel allows"
