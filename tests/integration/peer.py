#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Plain TCP peers for the integration tests, and a JSON report checker.

  peer.py send   --port P [--host H] --period N --bytes B   send the pattern, then close
  peer.py sizes  --port P [--host H] --period N --first A --last B
                 one connection per size A..B, each carrying that many bytes of
                 the pattern from its start; waits for the server to close each
  peer.py flood  --port P [--host H] --period N             send until killed
  peer.py recv   --port P [--host H] --period N --bytes B   accept one connection,
                 check it carries exactly B bytes of the pattern
  peer.py check  FILE key=value ...                          assert fields of a JSON
                 report (dotted keys: teardown.bindings_left=0)

The pattern of period N: stream position k holds k % N + 1, or '\\n' when
k % N == N - 1 (ncdevmem's -v N).
"""
import argparse
import json
import socket
import sys
import time


def pattern(period, length):
    unit = bytes(10 if i == period - 1 else i + 1 for i in range(period))
    reps = length // period + 2
    return unit * reps


def connect(host, port, timeout=10.0):
    deadline = time.monotonic() + timeout
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    while True:
        s = socket.socket(family, socket.SOCK_STREAM)
        try:
            s.connect((host, port))
            return s
        except (ConnectionRefusedError, OSError):
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def send_pattern(s, period, total, chunk=1 << 20):
    buf = memoryview(pattern(period, chunk + period))
    sent = 0
    while sent < total:
        off = sent % period
        n = min(chunk, total - sent)
        s.sendall(buf[off:off + n])
        sent += n


def cmd_send(a):
    s = connect(a.host, a.port)
    send_pattern(s, a.period, a.bytes)
    s.close()


def cmd_sizes(a):
    buf = pattern(a.period, a.last)
    for size in range(a.first, a.last + 1):
        s = connect(a.host, a.port)
        s.sendall(buf[:size])
        s.shutdown(socket.SHUT_WR)
        # the server closes once it has the whole stream: keep in step with it
        s.settimeout(20)
        while s.recv(4096):
            pass
        s.close()


def cmd_flood(a):
    s = connect(a.host, a.port)
    print("connected", flush=True)
    send_pattern(s, a.period, 1 << 60)


def cmd_recv(a):
    family = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    ls = socket.socket(family, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.host, a.port))
    ls.listen(1)
    print("listening", flush=True)
    ls.settimeout(30)
    s, _ = ls.accept()
    s.settimeout(60)
    ref = pattern(a.period, (1 << 20) + a.period)
    got = 0
    while True:
        data = s.recv(1 << 20)
        if not data:
            break
        off = got % a.period
        if data != ref[off:off + len(data)]:
            for i, b in enumerate(data):
                want = ref[(got + i) % a.period]
                if b != want:
                    print(f"mismatch at stream offset {got + i}: expected {want:#04x}, got {b:#04x}")
                    return 1
        got += len(data)
    if got != a.bytes:
        print(f"short stream: {got} of {a.bytes} bytes")
        return 1
    print(f"received {got} bytes of the pattern")
    return 0


def cmd_check(a):
    with open(a.file) as f:
        text = f.read().strip()
    try:
        report = json.loads(text.splitlines()[-1])
    except (ValueError, IndexError):
        print(f"not a JSON report: {text[:200]!r}")
        return 1
    bad = []
    for cond in a.conds:
        key, want = cond.split("=", 1)
        v = report
        for part in key.split("."):
            v = v.get(part) if isinstance(v, dict) else None
        have = json.dumps(v)
        if have != want:
            bad.append(f"{key} is {have}, not {want}")
    if bad:
        print("; ".join(bad))
        return 1
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("send", "sizes", "flood", "recv"):
        sp = sub.add_parser(name)
        sp.add_argument("--host", default="127.0.0.1")
        sp.add_argument("--port", type=int, required=True)
        sp.add_argument("--period", type=int, default=251)
        sp.add_argument("--bytes", type=int, default=0)
        sp.add_argument("--first", type=int, default=1)
        sp.add_argument("--last", type=int, default=1)
    sp = sub.add_parser("check")
    sp.add_argument("file")
    sp.add_argument("conds", nargs="*")
    a = p.parse_args()
    return {"send": cmd_send, "sizes": cmd_sizes, "flood": cmd_flood, "recv": cmd_recv,
            "check": cmd_check}[a.cmd](a) or 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, socket.timeout) as e:
        print(f"peer.py: {e}", file=sys.stderr)
        sys.exit(1)
