#!/bin/sh
# SPDX-License-Identifier: MIT
# devmem info --backend kernel shows the running kernel's view, and its JSON
# has the software path's shape:
# - lo: its rx and tx queues as many as /sys/class/net/lo/queues lists, in
#   the text and in --json, which python3 parses with the schema's keys;
# - the software path's JSON (info -f lo) has exactly the kernel's keys;
# - the interface of the default route (the VM's own), when there is one:
#   its queues equal /sys, and its NAPIs are the ones its queues name;
# - a veth pair in a network namespace made here: queues equal /sys, and
#   after GRO is turned on (ethtool netlink features-set, sent by python3 so
#   that the check does not lean on the library it checks) it runs one NAPI
#   per rx queue, each with its id (veth links no queue to its NAPI, so its
#   queues name none: netif_queue_set_napi() is the driver's to call);
# - a bad -f is exit 1 "no interface", a bad --backend exit 2;
# - auto picks the kernel's view here and says so; with -f lo it takes the
#   path recv and send take (software: the kernel refuses bind-rx on lo).
. "$(dirname "$0")/lib.sh"

[ -n "$PYTHON" ] || skip "python3 is not installed"

# queues IFNAME [NETNS]: "RX TX", as sysfs lists them
sys_queues() {
	if [ -n "${2:-}" ]; then
		l=$(ip netns exec "$2" ls "/sys/class/net/$1/queues")
	else
		l=$(ls "/sys/class/net/$1/queues")
	fi
	echo "$(echo "$l" | grep -c '^rx-') $(echo "$l" | grep -c '^tx-')"
}

# check_json FILE IFNAME "RX TX" [NAPI]: the schema's keys, the device's queue
# counts, every NAPI a queue names in the device's NAPI list, and with NAPI at
# least one NAPI (napi-per-rxq: one per rx queue, as veth runs them).
check_json() {
	"$PYTHON" - "$@" <<'EOF'
import json, sys

path, ifname, counts = sys.argv[1:4]
want_napi = sys.argv[4] if len(sys.argv) > 4 else ""
rx, tx = (int(n) for n in counts.split())
doc = json.load(open(path))
TOP = {"backend", "reason", "devices", "orphan_page_pools"}
DEV = {"ifindex", "name", "up", "rx_queues", "tx_queues", "features", "settings", "queues",
       "napis", "page_pools", "bindings", "qstats"}
FEAT = {"xdp", "xdp_zc_max_segs", "xdp_rx_metadata", "xsk", "xdp_attached", "netmem_tx"}
SET = {"header_split", "hds_thresh", "hds_thresh_max", "channels", "rss", "flow_rules"}
QUEUE = {"id", "type", "napi_id", "dmabuf", "io_uring", "xsk", "swnic"}
NAPI = {"id", "irq", "pid", "threaded"}


def keys(obj, want, what):
    if set(obj) != want:
        sys.exit(f"{what}: keys {sorted(obj)}, want {sorted(want)}")


keys(doc, TOP, "top level")
if doc["backend"] != "kernel":
    sys.exit(f"backend {doc['backend']!r}, want 'kernel'")
devs = [d for d in doc["devices"] if d["name"] == ifname]
if len(devs) != 1:
    sys.exit(f"{ifname}: {len(devs)} devices of that name in {[d['name'] for d in doc['devices']]}")
d = devs[0]
keys(d, DEV, ifname)
keys(d["features"], FEAT, f"{ifname} features")
keys(d["settings"], SET, f"{ifname} settings")
for q in d["queues"]:
    keys(q, QUEUE, f"{ifname} queue")
for n in d["napis"]:
    keys(n, NAPI, f"{ifname} napi")
got = (sum(q["type"] == "rx" for q in d["queues"]), sum(q["type"] == "tx" for q in d["queues"]))
if got != (rx, tx) or (d["rx_queues"], d["tx_queues"]) != (rx, tx):
    sys.exit(f"{ifname}: queues {got}, counts {d['rx_queues']}/{d['tx_queues']}; sysfs {rx}/{tx}")
ids = [n["id"] for n in d["napis"]]
named = [q["napi_id"] for q in d["queues"] if q["napi_id"] is not None]
if any(i not in ids for i in named) or len(set(ids)) != len(ids) or not all(ids):
    sys.exit(f"{ifname}: queues name NAPIs {named}, the NAPI list has {ids}")
if want_napi == "napi-per-rxq" and len(ids) != rx:
    sys.exit(f"{ifname}: {len(ids)} NAPIs {ids} for {rx} rx queues")
elif want_napi and not ids:
    sys.exit(f"{ifname}: no NAPI")
EOF
}

# ---- lo ----
LO_Q=$(sys_queues lo)
LO_RX=${LO_Q% *}
LO_TX=${LO_Q#* }
"$DEVMEM" info --backend kernel >"$WORK/all.txt" 2>"$WORK/all.err" ||
	fail "info --backend kernel failed" "$WORK/all.err"
grep -q '^backend: kernel$' "$WORK/all.txt" || fail "the text does not say the backend" "$WORK/all.txt"
# the devices line of lo: IFINDEX NAME STATE RXQ TXQ ...
awk -v rx="$LO_RX" -v tx="$LO_TX" '$2 == "lo" && $4 == rx && $5 == tx { ok = 1 } END { exit !ok }' \
	"$WORK/all.txt" || fail "lo's line does not show $LO_RX rx and $LO_TX tx queues" "$WORK/all.txt"
n=$(awk '$1 == "lo" && ($3 == "rx" || $3 == "tx")' "$WORK/all.txt" | wc -l)
[ "$n" -eq $((LO_RX + LO_TX)) ] || fail "the queue list has $n queues of lo, sysfs $((LO_RX + LO_TX))" \
	"$WORK/all.txt"
"$DEVMEM" info --backend kernel --json >"$WORK/all.json" 2>"$WORK/all.err" ||
	fail "info --backend kernel --json failed" "$WORK/all.err"
check_json "$WORK/all.json" lo "$LO_RX $LO_TX" >"$WORK/check.err" 2>&1 ||
	fail "--json of every device" "$WORK/check.err" "$WORK/all.json"
"$DEVMEM" info --backend kernel -f lo --json >"$WORK/lo.json" 2>"$WORK/lo.err" ||
	fail "info --backend kernel -f lo --json failed" "$WORK/lo.err"
check_json "$WORK/lo.json" lo "$LO_RX $LO_TX" >"$WORK/check.err" 2>&1 ||
	fail "--json of lo" "$WORK/check.err" "$WORK/lo.json"

# ---- one shape: the software path's JSON has the kernel's keys, at every level ----
"$DEVMEM" info -f lo --json >"$WORK/sw.json" 2>"$WORK/sw.err" ||
	fail "info -f lo --json (software) failed" "$WORK/sw.err"
"$PYTHON" - "$WORK/sw.json" "$WORK/lo.json" >"$WORK/shape.err" 2>&1 <<'EOF' ||
import json, sys

sw, kern = (json.load(open(p)) for p in sys.argv[1:3])


def shape(v, path, out, filled):
    if isinstance(v, dict):
        filled.add(path)
        for k, x in v.items():
            out.add(f"{path}.{k}")
            shape(x, f"{path}.{k}", out, filled)
    elif isinstance(v, list):
        for x in v:
            shape(x, f"{path}[]", out, filled)
    return out


if sw["backend"] != "software" or kern["backend"] != "kernel":
    sys.exit(f"backends {sw['backend']!r} and {kern['backend']!r}")
sf, kf = set(), set()
s, k = shape(sw, "", set(), sf), shape(kern, "", set(), kf)
# the keys of every object both sides show must match; an object one side
# fills and the other leaves null (swnic, channels) or lists none of cannot be
both = {p for p in s | k if p.rsplit(".", 1)[0] in sf & kf}
diff = sorted((s ^ k) & both)
if diff:
    sys.exit(f"the two backends' JSON differ in: {diff}")
EOF
	fail "software and kernel JSON differ in shape" "$WORK/shape.err"

# ---- the VM's own interface: the one of the default route ----
OWN=$(ip route show default 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')
if [ -n "$OWN" ] && [ -d "/sys/class/net/$OWN/queues" ]; then
	"$DEVMEM" info --backend kernel -f "$OWN" --json >"$WORK/own.json" 2>"$WORK/own.err" ||
		fail "info --backend kernel -f $OWN failed" "$WORK/own.err"
	# a NAPI per rx queue only where the driver gives one (virtio_net does)
	napi=""
	"$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1]))["devices"][0]; sys.exit(not d["napis"])' \
		"$WORK/own.json" && napi=napi
	check_json "$WORK/own.json" "$OWN" "$(sys_queues "$OWN")" $napi >"$WORK/check.err" 2>&1 ||
		fail "--json of $OWN" "$WORK/check.err" "$WORK/own.json"
	own="; $OWN matches sysfs${napi:+ with its NAPIs}"
else
	own="; no default route, so no interface of the machine's own beyond lo"
fi

# ---- errors ----
"$DEVMEM" info --backend kernel -f nosuchif0 >"$WORK/bad.out" 2>"$WORK/bad.err"
rc=$?
[ $rc -eq 1 ] || fail "a bad -f exits $rc, want 1" "$WORK/bad.err"
grep -q "no interface 'nosuchif0'" "$WORK/bad.err" || fail "a bad -f does not say so" "$WORK/bad.err"
[ -s "$WORK/bad.out" ] && fail "a bad -f printed a report" "$WORK/bad.out"
"$DEVMEM" info --backend hardware >/dev/null 2>"$WORK/bad.err"
rc=$?
[ $rc -eq 2 ] || fail "a bad --backend exits $rc, want 2" "$WORK/bad.err"
grep -q "info: --backend 'hardware': software, kernel or auto" "$WORK/bad.err" ||
	fail "a bad --backend does not say so" "$WORK/bad.err"

# ---- auto: without -f the kernel's view (it answers the netdev family here);
# with -f lo the decision recv and send take there: the kernel refuses bind-rx
# on lo, so the software path's view, with the kernel's refusal as the reason
"$DEVMEM" info --backend auto --json >"$WORK/auto.json" 2>"$WORK/auto.err" ||
	fail "info --backend auto failed" "$WORK/auto.err"
"$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not (d["backend"] == "kernel" and "netdev family" in d["reason"]))' \
	"$WORK/auto.json" || fail "auto did not pick the kernel with its reason" "$WORK/auto.json"
"$DEVMEM" info --backend auto -f lo --json >"$WORK/auto-lo.json" 2>"$WORK/auto-lo.err" ||
	fail "info --backend auto -f lo failed" "$WORK/auto-lo.err"
"$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not (d["backend"] == "software" and "refused bind-rx" in d["reason"] and "software NIC" in d["reason"]))' \
	"$WORK/auto-lo.json" || fail "auto -f lo did not pick software with the kernel's refusal" "$WORK/auto-lo.json"

# ---- a veth pair in a namespace of our own, GRO on ----
if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null 2>&1; then
	pass "lo matches sysfs in text and JSON, both backends have one JSON shape$own;" \
		"veth SKIPPED (needs root and iproute2)"
fi
NS=devmem-info-$$
ip netns add "$NS" 2>"$WORK/ip.err" || skip "cannot create a network namespace: $(cat "$WORK/ip.err")"
at_exit "ip netns del $NS 2>/dev/null"
ip -n "$NS" link add veth0 type veth peer name veth1 2>"$WORK/ip.err" ||
	skip "cannot create a veth pair: $(cat "$WORK/ip.err")"
{ ip -n "$NS" link set veth0 up && ip -n "$NS" link set veth1 up; } || fail "cannot bring the veth pair up"
VQ=$(sys_queues veth0 "$NS")

ip netns exec "$NS" "$DEVMEM" info --backend kernel -f veth0 --json >"$WORK/veth.json" 2>"$WORK/veth.err" ||
	fail "info --backend kernel -f veth0 failed" "$WORK/veth.err"
check_json "$WORK/veth.json" veth0 "$VQ" >"$WORK/check.err" 2>&1 ||
	fail "--json of veth0, GRO off" "$WORK/check.err" "$WORK/veth.json"

# ethtool features-set rx-gro on, as ethtool(8) would send it
ip netns exec "$NS" "$PYTHON" - veth0 >"$WORK/gro.err" 2>&1 <<'EOF' || fail "cannot turn GRO on" "$WORK/gro.err"
import socket, struct, sys

NESTED = 0x8000


def attr(t, payload):
    a = struct.pack("=HH", 4 + len(payload), t) + payload
    return a + b"\0" * (-len(a) % 4)


def request(sk, family, cmd, version, attrs, flags=0x5):  # NLM_F_REQUEST | NLM_F_ACK
    body = struct.pack("=BBH", cmd, version, 0) + attrs
    sk.send(struct.pack("=IHHII", 16 + len(body), family, flags, 1, 0) + body)
    data = sk.recv(65536)
    out = []
    while data:
        length, mtype = struct.unpack_from("=IH", data)
        if mtype == 2:  # NLMSG_ERROR
            err = struct.unpack_from("=i", data, 16)[0]
            if err:
                sys.exit(f"netlink error {err}")
        else:
            out.append(data[20:length])
        data = data[(length + 3) & ~3:]
    return out


sk = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 16)  # NETLINK_GENERIC
# CTRL_CMD_GETFAMILY (3) by CTRL_ATTR_FAMILY_NAME (2) -> CTRL_ATTR_FAMILY_ID (1)
reply = request(sk, 0x10, 3, 1, attr(2, b"ethtool\0"))[0]
family = None
while reply:
    length, t = struct.unpack_from("=HH", reply)
    if t == 1:
        family = struct.unpack_from("=H", reply, 4)[0]
    reply = reply[(length + 3) & ~3:]
# ETHTOOL_MSG_FEATURES_SET (12): header {DEV_NAME}, wanted {bits {bit {name, value}}}
header = attr(1 | NESTED, attr(2, sys.argv[1].encode() + b"\0"))
bit = attr(1 | NESTED, attr(2, b"rx-gro\0") + attr(3, b""))
wanted = attr(3 | NESTED, attr(3 | NESTED, bit))
request(sk, family, 12, 1, header + wanted)
EOF

ip netns exec "$NS" "$DEVMEM" info --backend kernel -f veth0 --json >"$WORK/veth.json" 2>"$WORK/veth.err" ||
	fail "info --backend kernel -f veth0 (GRO on) failed" "$WORK/veth.err"
check_json "$WORK/veth.json" veth0 "$VQ" napi-per-rxq >"$WORK/check.err" 2>&1 ||
	fail "--json of veth0, GRO on" "$WORK/check.err" "$WORK/veth.json"
ip netns exec "$NS" "$DEVMEM" info --backend kernel -f veth0 >"$WORK/veth.txt" 2>"$WORK/veth.err" ||
	fail "info --backend kernel -f veth0 (text) failed" "$WORK/veth.err"
grep -q '^NAPIs (0)' "$WORK/veth.txt" && fail "the text lists no NAPI with GRO on" "$WORK/veth.txt"

pass "lo matches sysfs in text and JSON, both backends have one JSON shape$own;" \
	"veth0 in a namespace matches sysfs ($VQ) and has a NAPI per rx queue with GRO on"
