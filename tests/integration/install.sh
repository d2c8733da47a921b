#!/bin/sh
# `meson install` into a temporary DESTDIR, then use the result the way a
# user does: only through pkg-config.
#   install.sh BUILD_DIR SOURCE_DIR VERSION PREFIX LIBDIR INCLUDEDIR BINDIR MANDIR SANITIZE LIBEXECDIR
# Checks that exactly the libraries, public headers, libdevmem.pc, the devmem
# command, the ethtool and sudo stand-ins of devmem run and the man pages
# are installed; that every installed header
# compiles on its own (no private include); that the examples build out of
# the tree with `pkg-config --cflags --libs libdevmem` against the shared
# library and, with --static, against the static one; and that the built
# programs and the installed command run. Prints PASS, FAIL or SKIP (exit 77)
# with the reason.
set -u
build=$1
src=$2
version=$3
prefix=$4
libdir=$5
includedir=$6
bindir=$7
mandir=$8
sanitize=$9
libexecdir=${10}

skip() {
	echo "SKIP: $*"
	exit 77
}
fail() {
	echo "FAIL: $*"
	exit 1
}
abs() { # meson's directory options are relative to the prefix unless absolute
	case $1 in
	/*) echo "$1" ;;
	*) echo "$prefix/$1" ;;
	esac
}

command -v pkg-config >/dev/null || skip "pkg-config is not installed (apt-get install pkg-config)"
command -v meson >/dev/null || skip "meson is not on PATH"
cc=${CC:-cc}
command -v "$cc" >/dev/null || skip "no C compiler ($cc)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest
lib=$dest$(abs "$libdir")
inc=$dest$(abs "$includedir")
bin=$dest$(abs "$bindir")
man=$dest$(abs "$mandir")
libexec=$dest$(abs "$libexecdir")

meson install -C "$build" --no-rebuild --destdir "$dest" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "meson install failed"; }

# ---- what is installed: exactly this ----
{
	echo "$lib/libdevmem.a"
	echo "$lib/libdevmem-preload.so"
	echo "$lib/libdevmem.so"
	echo "$lib/libdevmem.so.0"
	echo "$lib/libdevmem.so.$version"
	echo "$lib/pkgconfig/libdevmem.pc"
	echo "$bin/devmem"
	echo "$libexec/libdevmem/bin/ethtool"
	echo "$libexec/libdevmem/bin/sudo"
	echo "$man/man1/devmem.1"
	echo "$man/man7/libdevmem.7"
	for h in "$src"/include/devmem/*.h; do
		echo "$inc/devmem/$(basename "$h")"
	done
} | sort >"$tmp/expected"
find "$dest" \( -type f -o -type l \) | sort >"$tmp/installed"
if ! diff -u "$tmp/expected" "$tmp/installed" >"$tmp/diff"; then
	sed "s|$dest||g" "$tmp/diff"
	fail "the installed files differ from the expected ones (- missing, + unexpected)"
fi

# ---- pkg-config, pointed into the DESTDIR ----
export PKG_CONFIG_PATH="$lib/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$dest"
got=$(pkg-config --modversion libdevmem) || fail "pkg-config does not find libdevmem.pc"
[ "$got" = "$version" ] || fail "pkg-config says version '$got', the project is $version"
cflags=$(pkg-config --cflags libdevmem) || fail "pkg-config --cflags libdevmem"
libs=$(pkg-config --libs libdevmem) || fail "pkg-config --libs libdevmem"
static_libs=$(pkg-config --static --libs libdevmem) || fail "pkg-config --static --libs libdevmem"
case " $cflags " in *" -I$inc "*) ;; *) fail "--cflags '$cflags' does not name $inc" ;; esac

extra=""
[ "$sanitize" != none ] && extra="-fsanitize=$sanitize" # the library was built with it

# ---- every public header compiles on its own, in strict C ----
for h in "$inc"/devmem/*.h; do
	name=devmem/$(basename "$h")
	for std in c99 c11 gnu11; do
		printf '#include <%s>\n' "$name" >"$tmp/hdr.c"
		# shellcheck disable=SC2086
		"$cc" -std=$std -Wall -Wextra -Werror -pedantic $cflags -fsyntax-only "$tmp/hdr.c" \
			>"$tmp/hdr.log" 2>&1 || {
			cat "$tmp/hdr.log"
			fail "<$name> does not compile on its own (-std=$std)"
		}
	done
done

# ---- the examples, built out of the tree as a user builds them ----
mkdir "$tmp/user"
cp "$src"/examples/*.c "$tmp/user/"
cd "$tmp/user" || fail "cd $tmp/user"
for c in *.c; do
	exe=${c%.c}
	# shellcheck disable=SC2086
	"$cc" -Wall -Wextra -Werror $extra -o "$exe" "$c" $cflags $libs >"$exe.log" 2>&1 || {
		cat "$exe.log"
		fail "$c does not build with pkg-config --cflags --libs libdevmem"
	}
done
# the static library, with what --static adds for its own dependencies
static_only=$(echo "$static_libs" | sed 's/-ldevmem\b/-l:libdevmem.a/')
# shellcheck disable=SC2086
"$cc" -Wall -Wextra -Werror $extra -o devmem-rx-static devmem-rx.c $cflags $static_only \
	>static.log 2>&1 || {
	cat static.log
	fail "devmem-rx.c does not link against libdevmem.a with pkg-config --static --libs"
}
ldd devmem-rx-static | grep -q libdevmem && fail "devmem-rx-static still needs libdevmem.so"

# ---- run them: the shared library they load is the installed one ----
export LD_LIBRARY_PATH="$lib"
ldd ./devmem-rx | grep -q "$lib/libdevmem.so" ||
	fail "devmem-rx does not load $lib/libdevmem.so: $(ldd ./devmem-rx | grep devmem)"
for exe in vram-importer devmem-rx devmem-rx-static; do
	timeout 60 "./$exe" >"$exe.out" 2>&1
	rc=$?
	[ $rc -eq 77 ] && skip "$exe: $(tail -n 1 "$exe.out")"
	[ $rc -eq 0 ] || {
		cat "$exe.out"
		fail "$exe built against the installed library exited with $rc"
	}
done
grep -q "all match" devmem-rx.out || fail "devmem-rx did not report its result: $(cat devmem-rx.out)"

"$bin/devmem" --help >devmem.out 2>&1 || fail "the installed devmem --help exited with $?"
grep -q "usage: devmem COMMAND" devmem.out || fail "the installed devmem printed no usage"

# devmem-uapi, written to the kernel's interfaces, under the installed shim
# (named by DEVMEM_PRELOAD: DESTDIR moved it from where the command looks)
DEVMEM_PRELOAD="$lib/libdevmem-preload.so" DEVMEM_SWNIC_SHARED="install.$$" timeout 120 \
	"$bin/devmem" run -- ./devmem-uapi -n 8388608 >uapi.out 2>&1 || {
	cat uapi.out
	fail "devmem-uapi under the installed devmem run and libdevmem-preload.so exited with $?"
}
grep -q "all intact" uapi.out || fail "devmem-uapi did not report its result: $(cat uapi.out)"

echo "PASS: installed $(wc -l <"$tmp/expected") files; headers compile alone;" \
	"examples built with pkg-config (shared and static) and ran; devmem-uapi under the" \
	"installed devmem run"
