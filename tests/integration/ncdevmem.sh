#!/bin/sh
# The kernel's own devmem selftest program, ncdevmem, unmodified, under
# devmem run. Its code is not part of this project: build it in a scratch
# folder with the recipe the project's maintainers keep (ncdevmem's build
# needs the kernel tree's YNL generator) and give its path in NCDEVMEM:
#   NCDEVMEM=/path/to/ncdevmem meson test -C build ncdevmem
#   ncdevmem.sh DEVMEM
# - RX, as the kernel's devmem.py selftest runs it: a server bound to rx
#   queue 1 of lo validating 1 GiB of the 7-byte pattern from socat, its flow
#   steered by ncdevmem's 5-tuple rule (client 127.0.0.2) and by its 3-tuple
#   rule (no -c) and over IPv6; a flow the rule does not match is refused as
#   on a NIC;
# - TX: two lines from stdin sent from a tx-bound dma-buf to a socat listener.
. "$(dirname "$0")/lib.sh"
NCDEVMEM=${NCDEVMEM:-}
[ -n "$NCDEVMEM" ] || skip "NCDEVMEM is not set (the path of an ncdevmem binary built from the kernel tree)"
[ -x "$NCDEVMEM" ] || fail "NCDEVMEM=$NCDEVMEM is not an executable"
command -v socat >/dev/null 2>&1 || skip "socat is not installed"
BYTES=${NCDEVMEM_BYTES:-1073741824}

# rx_check NAME CLIENT_IP|- SOCAT_BIND|-: ncdevmem's server on rx queue 1 of lo,
# fed BYTES of its 7-byte pattern by socat; sets $rx_rc, logs in $WORK/NAME.*
checks=0
server_ip=127.0.0.1
socat_to=TCP4:127.0.0.1
rx_check() {
	name=$1
	checks=$((checks + 1))
	port=$(pick_port $((10 + checks)))
	# shellcheck disable=SC2046
	bg timeout 600 "$DEVMEM" run -- "$NCDEVMEM" -s $server_ip $([ "$2" = - ] || echo "-c $2") \
		-l -p "$port" -f lo -v 7 -t 1 -q 1 >"$WORK/$name.out" 2>"$WORK/$name.err"
	server=$BG_PID
	# ncdevmem sleeps a second after its flow rule, then binds and listens
	n=0
	until ss -Htln "sport = :$port" 2>/dev/null | grep -q .; do
		n=$((n + 1))
		[ $n -gt 200 ] && fail "$name: ncdevmem did not listen on $port" "$WORK/$name.err"
		kill -0 "$server" 2>/dev/null ||
			fail "$name: ncdevmem exited before listening" "$WORK/$name.err"
		sleep 0.1
	done
	bind=
	[ "$3" = - ] || bind=",bind=$3:$port"
	yes "$(printf '\001\002\003\004\005\006')" | head -c "$BYTES" |
		socat -u - "$socat_to:$port$bind" 2>"$WORK/$name.socat"
	wait "$server"
	rx_rc=$?
}

# The selftest's 5-tuple check (devmem.py: socat binds the client's address
# and the port): on one host the client needs an address of its own, 127.0.0.2.
rx_check rx5 127.0.0.2 127.0.0.2
[ $rx_rc -eq 0 ] || fail "ncdevmem's RX check (5-tuple rule) exited with $rx_rc" "$WORK/rx5.err"
grep -q "total_received=$BYTES" "$WORK/rx5.out" "$WORK/rx5.err" ||
	fail "ncdevmem did not validate $BYTES bytes" "$WORK/rx5.out" "$WORK/rx5.err"
grep -q "client exited" "$WORK/rx5.err" "$WORK/rx5.out" ||
	fail "ncdevmem's RX check did not end as it does on success" "$WORK/rx5.err"
# Without -c: the 3-tuple rule, any client port
rx_check rx3 - -
[ $rx_rc -eq 0 ] || fail "ncdevmem's RX check (3-tuple rule) exited with $rx_rc" "$WORK/rx3.err"
grep -q "total_received=$BYTES" "$WORK/rx3.out" "$WORK/rx3.err" ||
	fail "ncdevmem did not validate $BYTES bytes (3-tuple)" "$WORK/rx3.out" "$WORK/rx3.err"
# IPv6: ncdevmem's tcp6 rule, a socket that is IPv6 end to end
server_ip=::1
socat_to="TCP6:[::1]"
rx_check rx6 - -
[ $rx_rc -eq 0 ] || fail "ncdevmem's RX check over IPv6 exited with $rx_rc" "$WORK/rx6.err"
grep -q "total_received=$BYTES" "$WORK/rx6.out" "$WORK/rx6.err" ||
	fail "ncdevmem did not validate $BYTES bytes over IPv6" "$WORK/rx6.out" "$WORK/rx6.err"
server_ip=127.0.0.1
socat_to=TCP4:127.0.0.1

# -c 127.0.0.1 with a client from any port: the 5-tuple rule names src-port PORT,
# which the flow does not have; a NIC then leaves the flow to RSS, away from the
# bound queue, and ncdevmem says so
rx_check rxmiss 127.0.0.1 -
[ $rx_rc -eq 1 ] && grep -q "flow steering error" "$WORK/rxmiss.err" ||
	fail "a flow the 5-tuple rule does not match reached the bound queue (rc $rx_rc)" \
		"$WORK/rxmiss.err"

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
pass "RX: $((BYTES >> 20)) MiB validated by ncdevmem -v 7 on rx queue 1 of lo, steered by" \
	"its 5-tuple rule and by its 3-tuple rule, and over IPv6 (tcp6 rule); an unmatched flow" \
	"is a flow steering error;" \
	"TX: 'hello', 'world' sent from a tx-bound dma-buf"
