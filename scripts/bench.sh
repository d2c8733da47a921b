#!/bin/sh
# Run every benchmark of the release build (make bench) and print their tables.
# Arguments go to bench_net (the loopback TCP receive table), which runs last:
# e.g. `scripts/bench.sh --quick` for 256 MiB flows, one run per row.
set -eu
cd "$(dirname "$0")/.."
for b in build-bench/bench/bench_*; do
	[ -f "$b" ] && [ -x "$b" ] || continue
	[ "${b##*/}" = bench_net ] && continue
	"$b"
done
if [ -x build-bench/bench/bench_net ]; then
	build-bench/bench/bench_net "$@"
fi
