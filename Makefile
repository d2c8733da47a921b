# The two commands of the README. Everything else is Meson + Ninja.
#   make demo   the main job: a devmem receive on the embedded defaults
#   make test   the whole test suite (plain, ASan+UBSan, TSan)

.PHONY: all demo test bench clean format

all:
	@scripts/deps.sh build
	@[ -f build/build.ninja ] || meson setup build -Dbench=false >/dev/null
	@ninja -C build >/dev/null

demo: all
	@build/tools/devmem demo

test:
	@scripts/deps.sh test
	@scripts/test.sh

bench:
	@scripts/deps.sh build
	@[ -f build-bench/build.ninja ] || meson setup build-bench --buildtype=release -Db_ndebug=true -Dtests=false >/dev/null
	@ninja -C build-bench >/dev/null
	@scripts/bench.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-tsan build-bench build*.log
