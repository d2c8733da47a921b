#!/bin/sh
# SPDX-License-Identifier: MIT
# --backend on this machine's kernel: auto on lo asks the kernel for a
# bind-rx, is refused (EOPNOTSUPP as root: lo has no queue API; EPERM
# without CAP_NET_ADMIN) and runs on the software NIC, saying so in one line
# in the text reports and --json of demo, recv and send; --backend kernel on
# lo fails with the kernel's own refusal, passed through.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -eq 0 ]; then
	WHY="lo: the kernel refused bind-rx: EOPNOTSUPP"
else
	WHY="lo: the kernel refused bind-rx: EPERM"
fi
TAIL="; using the software NIC"

timeout 60 "$DEVMEM" demo --bytes 8M --backend auto >"$WORK/demo.out" 2>"$WORK/demo.err" ||
	fail "devmem demo --backend auto failed" "$WORK/demo.err" "$WORK/demo.out"
for want in "on the software path" "backend       software: $WHY" "$TAIL" "1 connection, ok"; do
	grep -qF "$want" "$WORK/demo.out" || fail "the demo report lacks '$want'" "$WORK/demo.out"
done

PORT=$(pick_port)
bg timeout 60 "$DEVMEM" recv -s 127.0.0.1 -p "$PORT" -v 97 -L --backend auto --json \
	>"$WORK/recv.json" 2>"$WORK/recv.err"
RECV=$BG_PID
wait_for "$WORK/recv.err" listening || fail "devmem recv did not start" "$WORK/recv.err"
timeout 60 "$DEVMEM" send -s 127.0.0.1 -p "$PORT" -v 97 --bytes 4M --size 4M --backend auto \
	>"$WORK/send.out" 2>"$WORK/send.err" || fail "devmem send failed" "$WORK/send.err" "$WORK/send.out"
wait "$RECV" || fail "devmem recv failed" "$WORK/recv.err" "$WORK/recv.json"
grep -qF "backend       software: $WHY" "$WORK/send.out" ||
	fail "the send report does not give the decision" "$WORK/send.out"
$PEER check "$WORK/recv.json" ok=true 'nic.backend="software"' 'nic.backend_asked="auto"' \
	>"$WORK/check.log" || fail "recv: $(cat "$WORK/check.log")" "$WORK/recv.json"
$PYTHON -c "
import json, sys
r = json.load(open('$WORK/recv.json'))['nic']['backend_reason']
sys.exit(0 if r.startswith('$WHY') and r.endswith('$TAIL') else 1)" ||
	fail "recv --json: backend_reason is not the kernel's refusal" "$WORK/recv.json"

if [ "$(id -u)" -eq 0 ]; then
	timeout 20 "$DEVMEM" recv -p "$(pick_port 1)" -f lo -t 0 -q 1 --backend kernel \
		>"$WORK/k.out" 2>"$WORK/k.err"
	status=$?
	[ "$status" -eq 1 ] || fail "recv --backend kernel on lo exited with $status" "$WORK/k.err"
	grep -qF "header split on lo: Operation not supported (ethtool: setting TCP data split" \
		"$WORK/k.err" || fail "recv --backend kernel: not the kernel's refusal" "$WORK/k.err"
fi
pass "auto on lo chose software with the kernel's reason; kernel on lo gave the kernel's refusal"
