#!/bin/sh
# devmem run with a program written to the kernel's interfaces alone
# (examples/devmem-uapi.c):
#   devmem_run.sh DEVMEM DEVMEM_UAPI
# - it receives and transmits, validated, and -v traces every emulated call
#   on stderr while stdout carries only the program's own lines;
# - two programs at once, each on its own rx queue of lo;
# - a queue bound by one program is refused to another with the kernel's
#   errno, and released when the first is SIGKILLed mid-stream: a second
#   program then binds it.
. "$(dirname "$0")/lib.sh"
UAPI=${2:?usage: $0 DEVMEM DEVMEM_UAPI}

# ---- one program, traced ----
port=$(pick_port 1)
"$DEVMEM" run -v -- "$UAPI" -q 1 -p "$port" -n 16777216 >"$WORK/a.out" 2>"$WORK/a.err" ||
	fail "devmem-uapi under devmem run -v exited with $?" "$WORK/a.out" "$WORK/a.err"
grep -q "all intact" "$WORK/a.out" || fail "no result line" "$WORK/a.out"
grep -q "^devmem: " "$WORK/a.out" && fail "the trace went to the program's stdout" "$WORK/a.out"
for call in UDMABUF_CREATE "bind-rx" "bind-tx" "rings-set" SRXCLSRLINS; do
	grep -q "^devmem: .*$call" "$WORK/a.err" ||
		fail "-v shows no line for $call" "$WORK/a.err"
done
# without -v nothing of the shim's is printed
"$DEVMEM" run -- "$UAPI" -q 1 -p "$port" -n 1048576 >"$WORK/q.out" 2>"$WORK/q.err" ||
	fail "devmem-uapi under devmem run exited with $?" "$WORK/q.out" "$WORK/q.err"
# (a sanitizer's own lines, "==PID==...", are not the shim's)
grep -qv '^==[0-9]*==' "$WORK/q.err" && fail "devmem run without -v printed on stderr" "$WORK/q.err"

# ---- two programs at once, on queues 1 and 2 ----
p1=$(pick_port 2)
p2=$(pick_port 3)
bg "$DEVMEM" run -- "$UAPI" -q 1 -p "$p1" -n 67108864
one=$BG_PID
"$DEVMEM" run -- "$UAPI" -q 2 -p "$p2" -n 67108864 >"$WORK/b.out" 2>&1 ||
	fail "the second of two programs at once exited with $?" "$WORK/b.out"
wait "$one" || fail "the first of two programs at once exited with $?"

# ---- a bound queue is the binder's until it dies ----
p3=$(pick_port 4)
p4=$(pick_port 5)
bg "$DEVMEM" run -- "$UAPI" -q 2 -p "$p3" -n 1099511627776 >"$WORK/long.out" 2>"$WORK/long.err"
long=$BG_PID
wait_for "$WORK/long.out" "bound rx queue 2" 20 ||
	fail "the long-running program did not bind queue 2" "$WORK/long.out" "$WORK/long.err"
"$DEVMEM" run -- "$UAPI" -q 2 -p "$p4" -n 1048576 >"$WORK/busy.out" 2>"$WORK/busy.err" &&
	fail "a second program bound rx queue 2 while the first held it" "$WORK/busy.out"
grep -q "bind-rx" "$WORK/busy.err" || fail "the refusal does not name bind-rx" "$WORK/busy.err"
kill -9 "$long"
wait "$long" 2>/dev/null
"$DEVMEM" run -- "$UAPI" -q 2 -p "$p4" -n 16777216 >"$WORK/after.out" 2>"$WORK/after.err" ||
	fail "rx queue 2 was not free after its binder was SIGKILLed" "$WORK/after.out" \
		"$WORK/after.err"
pass "16 MiB validated with every emulated call traced on stderr; two programs at once;" \
	"queue 2 refused while bound ($(grep -o 'bind-rx.*' "$WORK/busy.err" | head -n 1))," \
	"free again after SIGKILL"
