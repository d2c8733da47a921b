#!/usr/bin/env python3
"""Every test doc/parity.md names exists: a row whose test is gone or renamed
no longer says what checks its rule.

usage: parity_refs.py TESTS_BUILD_DIR INTEGRATION_SRC_DIR PARITY_MD

A name is PROGRAM::SUITE::TEST (a unit test; shell patterns allowed), or a
stress or fuzz program, or an integration script (its name without .sh).
"""
import fnmatch
import os
import re
import subprocess
import sys

build, integ, doc = sys.argv[1:4]
text = open(doc).read()
refs = sorted(set(re.findall(r"\b((?:test|stress|fuzz)_[a-z0-9_]+(?:::[a-z0-9_]+::[a-z0-9_*]+)?)", text)))
scripts = {f[:-3] for f in os.listdir(integ) if f.endswith(".sh")}
listed = {}
missing = []
for ref in refs:
    prog = ref.split("::")[0]
    path = os.path.join(build, prog)
    if "::" not in ref:
        if not (os.access(path, os.X_OK) and os.path.isfile(path)) and ref not in scripts:
            missing.append(ref)
        continue
    if prog not in listed:
        try:
            out = subprocess.run([path, "--list"], capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            out = ""
        listed[prog] = [f"{prog}::{line}" for line in out.split()]
    if not fnmatch.filter(listed[prog], ref):
        missing.append(ref)
for ref in missing:
    print(f"doc/parity.md names a test that does not exist: {ref}")
print(f"parity: {len(refs) - len(missing)} tests named and found, {len(missing)} missing")
sys.exit(1 if missing else 0)
