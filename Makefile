# The two commands of the README. Everything else is Meson + Ninja.
#   make demo   the main job: a devmem receive on the embedded defaults
#   make test   the whole test suite (plain, ASan+UBSan, TSan)
#   make fuzz   the fuzz programs for longer (FUZZ_SECONDS each; libFuzzer where installed)

.PHONY: all demo test bench clean format fuzz

all:
	@scripts/deps.sh build
	@scripts/build.sh build -Dbench=false

demo: all
	@build/tools/devmem demo

test:
	@scripts/deps.sh test
	@scripts/test.sh

bench:
	@scripts/deps.sh build
	@scripts/build.sh build-bench --buildtype=release -Db_ndebug=true -Dtests=false
	@scripts/bench.sh

fuzz:
	@scripts/deps.sh build
	@scripts/fuzz.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-tsan build-bench build*.log

# make install [PREFIX=/usr/local] [DESTDIR=...]: the libraries, headers,
# libdevmem.pc, the devmem command and the man pages, through meson install.
PREFIX ?= /usr/local
.PHONY: install
install:
	@scripts/deps.sh build
	@[ ! -f build/build.ninja ] || meson configure build -Dprefix="$(PREFIX)" >/dev/null
	@scripts/build.sh build -Dbench=false -Dprefix="$(PREFIX)"
	@DESTDIR="$(DESTDIR)" meson install -C build --no-rebuild
