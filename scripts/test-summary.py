#!/usr/bin/env python3
"""Count the individual tests of every run of `make test` and print one line.

Criterion programs report "Synthesis: Tested: N | Passing: N | Failing: N |
Crashing: N" (and "Skipped: N"); a stress program counts as one test. A test
program that failed without a synthesis line (it crashed, or leaked in
teardown) counts as one failure.
"""
import json
import re
import sys

SYNTH = re.compile(r"Synthesis: Tested: (\d+) \| Passing: (\d+) \| Failing: (\d+) \| Crashing: (\d+)")
SKIP = re.compile(r"Skipped: (\d+)")

passed = failed = skipped = 0
for build in sys.argv[1:]:
    with open(f"{build}/meson-logs/testlog.json") as log:
        for line in log:
            rec = json.loads(line)
            out = rec.get("stdout", "") + rec.get("stderr", "")
            ok = rec.get("result") == "OK"
            m = SYNTH.search(out)
            if m:
                tested, passing, failing, crashing = map(int, m.groups())
                s = SKIP.search(out[m.start():])
                passed += passing
                failed += failing + crashing
                skipped += int(s.group(1)) if s else 0
                if not ok and failing + crashing == 0:
                    failed += 1
            elif rec.get("result") == "SKIP":
                skipped += 1
            elif ok:
                passed += 1
            else:
                failed += 1

print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
