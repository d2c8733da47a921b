#!/bin/sh
# The kernel's own devmem selftest program, ncdevmem, unmodified, under
# devmem run. Its code is not part of this project: build it in a scratch
# folder with the recipe the project's maintainers keep (ncdevmem's build
# needs the kernel tree's YNL generator) and give its path in NCDEVMEM:
#   NCDEVMEM=/path/to/ncdevmem meson test -C build ncdevmem
#   ncdevmem.sh DEVMEM
# - RX, as the kernel's devmem.py selftest runs it: a server bound to rx
#   queue 1 of lo validating 1 GiB of the 7-byte pattern from socat;
# - TX: two lines from stdin sent from a tx-bound dma-buf to a socat listener.
. "$(dirname "$0")/lib.sh"
NCDEVMEM=${NCDEVMEM:-}
[ -n "$NCDEVMEM" ] || skip "NCDEVMEM is not set (the path of an ncdevmem binary built from the kernel tree)"
[ -x "$NCDEVMEM" ] || fail "NCDEVMEM=$NCDEVMEM is not an executable"
command -v socat >/dev/null 2>&1 || skip "socat is not installed"
BYTES=${NCDEVMEM_BYTES:-1073741824}

# ---- RX ----
port=$(pick_port 1)
bg timeout 600 "$DEVMEM" run -- "$NCDEVMEM" -s 127.0.0.1 -c 127.0.0.1 -l -p "$port" -f lo \
	-v 7 -t 1 -q 1 >"$WORK/rx.out" 2>"$WORK/rx.err"
server=$BG_PID
# ncdevmem sleeps a second after its flow rule, then binds and listens
n=0
until ss -Htln "sport = :$port" 2>/dev/null | grep -q .; do
	n=$((n + 1))
	[ $n -gt 200 ] && fail "ncdevmem did not listen on $port" "$WORK/rx.out" "$WORK/rx.err"
	kill -0 "$server" 2>/dev/null ||
		fail "ncdevmem exited before listening" "$WORK/rx.out" "$WORK/rx.err"
	sleep 0.1
done
# the selftest's client: source port = the port, so the 5-tuple rule matches
yes "$(printf '\001\002\003\004\005\006')" | head -c "$BYTES" |
	socat -u - "TCP4:127.0.0.1:$port,bind=127.0.0.1:$port" 2>"$WORK/socat.err" ||
	fail "socat could not send to ncdevmem" "$WORK/socat.err" "$WORK/rx.err"
wait "$server"
rc=$?
[ $rc -eq 0 ] || fail "ncdevmem's RX check exited with $rc" "$WORK/rx.out" "$WORK/rx.err"
grep -q "ncdevmem: ok" "$WORK/rx.out" "$WORK/rx.err" 2>/dev/null ||
	grep -q "client exited" "$WORK/rx.out" "$WORK/rx.err" ||
	fail "ncdevmem's RX check did not end as it does on success" "$WORK/rx.out" "$WORK/rx.err"

# ---- TX ----
port=$(pick_port 2)
bg socat -u "TCP4-LISTEN:$port,reuseaddr" "OPEN:$WORK/tx.recv,creat,trunc"
n=0
until ss -Htln "sport = :$port" 2>/dev/null | grep -q .; do
	n=$((n + 1))
	[ $n -gt 100 ] && fail "socat did not listen on $port"
	sleep 0.05
done
printf 'hello\nworld\n' | timeout 60 "$DEVMEM" run -- "$NCDEVMEM" -s 127.0.0.1 -p "$port" -f lo \
	>"$WORK/tx.out" 2>"$WORK/tx.err"
rc=$?
[ $rc -eq 0 ] || fail "ncdevmem's TX check exited with $rc" "$WORK/tx.out" "$WORK/tx.err"
n=0
while [ "$(cat "$WORK/tx.recv" 2>/dev/null)" != "$(printf 'hello\nworld')" ]; do
	n=$((n + 1))
	[ $n -gt 100 ] && fail "socat received '$(cat "$WORK/tx.recv")'" "$WORK/tx.err"
	sleep 0.05
done
pass "RX: $((BYTES >> 20)) MiB validated by ncdevmem -v 7 on rx queue 1 of lo;" \
	"TX: 'hello', 'world' sent from a tx-bound dma-buf"
