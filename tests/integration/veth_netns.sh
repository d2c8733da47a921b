#!/bin/sh
# SPDX-License-Identifier: MIT
# Over a veth pair between two network namespaces made here (10.77.0.1/24 and
# 10.77.0.2/24, inside the namespaces only): devmem recv in one, on a
# software NIC shadowing its veth, takes two connections from the other:
# one from devmem send (a tx-bound dma-buf), one from a plain Python sender.
# With -L all of it must land in the dma-buf; with -v all of it must match.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "network namespaces need root"
command -v ip >/dev/null 2>&1 || skip "ip (iproute2) is not installed"

NSA=devmem-rx-$$
NSB=devmem-tx-$$
VA=dmrx$$
VB=dmtx$$
ip netns add "$NSA" 2>"$WORK/ip.err" || skip "cannot create a network namespace: $(cat "$WORK/ip.err")"
at_exit "ip netns del $NSA 2>/dev/null"
ip netns add "$NSB" || fail "cannot create a second network namespace"
at_exit "ip netns del $NSB 2>/dev/null"
ip link add "$VA" netns "$NSA" type veth peer name "$VB" netns "$NSB" 2>"$WORK/ip.err" ||
	skip "cannot create a veth pair: $(cat "$WORK/ip.err")"
ip -n "$NSA" addr add 10.77.0.1/24 dev "$VA" &&
	ip -n "$NSB" addr add 10.77.0.2/24 dev "$VB" &&
	ip -n "$NSA" link set "$VA" up &&
	ip -n "$NSB" link set "$VB" up &&
	ip -n "$NSA" link set lo up &&
	ip -n "$NSB" link set lo up || fail "cannot configure the veth pair"

PORT=$(pick_port)
BYTES=$((128 * 1024 * 1024))
bg timeout 120 ip netns exec "$NSA" "$DEVMEM" recv -f "$VA" -s 10.77.0.1 -p "$PORT" -v 251 -L \
	--repeat 2 --expect "$BYTES" --json >"$WORK/recv.json" 2>"$WORK/recv.err"
RECV=$BG_PID
wait_for "$WORK/recv.err" listening || fail "devmem recv did not start" "$WORK/recv.err"

timeout 100 ip netns exec "$NSB" "$DEVMEM" send -f "$VB" -s 10.77.0.1 -c 10.77.0.2 -p "$PORT" \
	-v 251 --bytes "$BYTES" --size 16M --json >"$WORK/send.json" 2>"$WORK/send.err" ||
	fail "devmem send failed" "$WORK/send.err" "$WORK/send.json" "$WORK/recv.err"
timeout 100 ip netns exec "$NSB" $PEER send --host 10.77.0.1 --port "$PORT" --period 251 \
	--bytes "$BYTES" >"$WORK/peer.log" 2>&1 ||
	fail "the Python sender failed" "$WORK/peer.log" "$WORK/recv.err"
wait "$RECV"
status=$?
[ "$status" -eq 0 ] || fail "devmem recv exited with status $status" "$WORK/recv.err" "$WORK/recv.json"
$PEER check "$WORK/recv.json" ok=true connections=2 bytes=$((2 * BYTES)) bytes_linear=0 \
	short_streams=0 validation.errors=0 nic.ifname="\"$VA\"" teardown.bindings_left=0 \
	teardown.page_pools_left=0 >"$WORK/check.log" || fail "$(cat "$WORK/check.log")" "$WORK/recv.json"
pass "2 x 128 MiB across namespaces over $VA/$VB (devmem send, Python): all in the dma-buf, all matching"
