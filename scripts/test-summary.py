#!/usr/bin/env python3
"""Count the individual tests of every run of `make test` and print one line.

A unit-test program (tests/harness.c) ends with "SUITE: N passed, N failed,
N skipped"; a stress program or an integration script counts as one test. A
test program that failed without its summary line (it crashed, or meson
stopped it at its time limit) counts as one failure. --extra=NAME:pass|fail
counts a step of make test that meson does not run.
"""
import json
import re
import sys

SUMMARY = re.compile(r"^\w+: (\d+) passed, (\d+) failed, (\d+) skipped$", re.M)

passed = failed = skipped = 0
builds = []
for arg in sys.argv[1:]:
    # --extra=NAME:pass|fail: a step of make test that is not a meson test
    if arg.startswith("--extra="):
        if arg.endswith(":pass"):
            passed += 1
        else:
            failed += 1
            print(f"failed: {arg[len('--extra='):].rsplit(':', 1)[0]}")
    else:
        builds.append(arg)
for build in builds:
    with open(f"{build}/meson-logs/testlog.json") as log:
        for line in log:
            rec = json.loads(line)
            out = rec.get("stdout", "") or ""
            result = rec.get("result")
            m = None
            for m in SUMMARY.finditer(out):
                pass
            if m:
                p, f, s = map(int, m.groups())
                passed += p
                failed += f
                skipped += s
                if result not in ("OK", "SKIP") and f == 0:
                    failed += 1
            elif result == "SKIP":
                skipped += 1
            elif result == "OK":
                passed += 1
            else:
                failed += 1

print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
