#!/bin/sh
# Run every benchmark of the release build (make bench) and print their tables.
set -eu
cd "$(dirname "$0")/.."
for b in build-bench/bench/bench_*; do
	[ -f "$b" ] && [ -x "$b" ] || continue
	"$b"
done
