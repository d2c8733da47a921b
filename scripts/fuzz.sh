#!/bin/sh
# make fuzz: the fuzz programs of tests/fuzz/ for longer than the test suite
# runs them, under AddressSanitizer and UndefinedBehaviorSanitizer.
#
#   FUZZ_SECONDS   time per program (default 300)
#   FUZZ_SEED      the drivers' seed (default: the time, printed)
#
# Where Debian's clang and its libFuzzer runtime are installed (packages
# clang and libclang-rt-dev), the netlink codec's target is also built with
# -fsanitize=fuzzer and run by libFuzzer for FUZZ_SECONDS, its corpus
# started from the recorded kernel messages. Neither is needed by make test
# or make demo.
set -u
cd "$(dirname "$0")/.."

secs=${FUZZ_SECONDS:-300}
seed=${FUZZ_SEED:-$(date +%s)}
dir=build-asan
status=0

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

scripts/build.sh "$dir" -Dbench=false -Db_sanitize=address,undefined -Db_lundef=false || exit 1

echo "== fuzz_socket: ${secs}s, seed $seed"
"$dir/tests/fuzz_socket" 1000000000 "$seed" "$secs" || status=1
echo "== fuzz_netlink: ${secs}s, seed $seed"
"$dir/tests/fuzz_netlink" 1000000000000 "$seed" "$secs" || status=1
echo "== fuzz_pl_netlink (under the shim, in a network namespace of its own): ${secs}s, seed $seed"
asan_rt=$(cc -print-file-name=libasan.so)
LD_PRELOAD="$asan_rt:$dir/src/libdevmem-preload.so" \
	"$dir/tests/fuzz_pl_netlink" 1000000000 "$seed" "$secs" || status=1
echo "== fuzz_pl_socket (a kernel-UAPI program's devmem socket calls, under the shim): ${secs}s, seed $seed"
DEVMEM_SWNIC_SHARED="fuzz.$$" LD_PRELOAD="$asan_rt:$dir/src/libdevmem-preload.so" \
	"$dir/tests/fuzz_pl_socket" 1000000000 "$seed" "$secs" || status=1

rt=$(clang -print-file-name=libclang_rt.fuzzer-x86_64.a 2>/dev/null || true)
if command -v clang >/dev/null 2>&1 && [ -f "$rt" ]; then
	out=build-fuzz
	mkdir -p "$out/corpus-netlink"
	echo "== fuzz_netlink with libFuzzer: ${secs}s"
	if clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
		-Iinclude -Isrc -Itests/fuzz \
		tests/fuzz/fuzz_netlink.c src/netlink/codec.c \
		$(pkg-config --cflags --libs libmnl) -o "$out/fuzz_netlink_libfuzzer"; then
		"$dir/tests/fuzz_netlink" --corpus "$out/corpus-netlink" >/dev/null || status=1
		"$out/fuzz_netlink_libfuzzer" -max_total_time="$secs" -print_final_stats=1 \
			"$out/corpus-netlink" || status=1
	else
		echo "fuzz: the libFuzzer build failed (above)" >&2
		status=1
	fi
else
	echo "== libFuzzer: not installed (apt-get install clang libclang-rt-dev); the drivers above ran"
fi
exit $status
