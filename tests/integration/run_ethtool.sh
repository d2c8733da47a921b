#!/bin/sh
# SPDX-License-Identifier: MIT
# devmem run and the ethtool command lines of a program written to the
# kernel's interfaces: ncdevmem's set-up sequence, run by a shell under
# `devmem run -v`, carried out on the shell's software NIC with ethtool's
# exit codes, and one trace line per command line.
. "$(dirname "$0")/lib.sh"

PORT=$(pick_port)
timeout 60 "$DEVMEM" run -v -- sh -c "
sudo ethtool -K lo ntuple off >&2
sudo ethtool -K lo ntuple on >&2
sudo ethtool -N lo flow-type tcp4 dst-ip 127.0.0.1 dst-port $PORT queue 1 >&2
sudo ethtool -n lo | grep 'Filter:' | awk '{print \$2}' | xargs -n1 ethtool -N lo delete >&2
echo rules=\$(ethtool -n lo | grep -c 'Filter:')
sudo ethtool -X lo equal 1 >&2 || echo rss-failed
sudo ethtool -N lo flow-type tcp4 src-ip 127.0.0.1 dst-ip 127.0.0.1 src-port $PORT dst-port $PORT queue 1 >&2 || echo flow-failed
sudo ethtool -L lo rx 1 tx 1
echo shrink=\$?
" >"$WORK/out" 2>"$WORK/err"
status=$?
[ "$status" -eq 0 ] || fail "devmem run exited with $status" "$WORK/out" "$WORK/err"
grep -qx 'rules=0' "$WORK/out" || fail "the pipeline did not delete every rule" "$WORK/out" "$WORK/err"
grep -q 'failed' "$WORK/out" && fail "a set-up step failed" "$WORK/out" "$WORK/err"
# the flow rule to queue 1 keeps the rx queues
grep -qx 'shrink=1' "$WORK/out" || fail "ethtool -L below a flow rule's queue did not fail" "$WORK/out" "$WORK/err"
grep -q '^netlink error: requested channel counts are too low for existing ntuple filter settings$' "$WORK/err" ||
	fail "ethtool -L did not say why" "$WORK/err"
grep -q "^devmem: ethtool -N lo flow-type tcp4 src-ip 127.0.0.1 dst-ip 127.0.0.1 src-port $PORT dst-port $PORT queue 1 = 0 (rule 1023)$" "$WORK/err" ||
	fail "no trace line for the flow rule" "$WORK/err"
grep -q '^devmem: ioctl(SIOCETHTOOL, lo, ETHTOOL_SRXCLSRLINS) = 0$' "$WORK/err" ||
	fail "no trace line for the ioctl" "$WORK/err"
grep -q '^devmem: ethtool -L lo rx 1 tx 1 = 1$' "$WORK/err" || fail "no trace of the refused -L" "$WORK/err"
pass "ncdevmem's ethtool sequence under devmem run"
