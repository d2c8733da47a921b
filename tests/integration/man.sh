#!/bin/sh
# The man pages render without a warning, and say everything they must:
#   man.sh DEVMEM_TOOL MAN_DIR HEADER_DIR VERSION
# Both name the project's version in their title line; devmem.1 has a section for every command `devmem --help` lists and names
# every option `devmem COMMAND --help` prints; libdevmem.7 names every
# function the public headers declare. The renderer is groff (Debian's
# groff-base, which man-db needs), else mandoc, else man; SKIP (exit 77)
# when there is none.
set -u
tool=$1
mandir=$2
hdrs=$3
version=$4
pages="$mandir/devmem.1 $mandir/libdevmem.7"

fail() {
	echo "FAIL: $*"
	exit 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- rendering, every warning on ----
if command -v groff >/dev/null; then
	renderer=groff
	render() { groff -man -ww -z -Tutf8 "$1"; }
elif command -v mandoc >/dev/null; then
	renderer=mandoc
	render() { mandoc -Tlint -Wwarning "$1"; }
elif command -v man >/dev/null; then
	renderer="man"
	render() { man --warnings -l "$1" >/dev/null; }
else
	echo "SKIP: no groff, mandoc or man to render the pages (apt-get install groff-base)"
	exit 77
fi
for p in $pages; do
	render "$p" >"$tmp/render.log" 2>&1 || {
		cat "$tmp/render.log"
		fail "$renderer cannot render $(basename "$p")"
	}
	[ -s "$tmp/render.log" ] && {
		cat "$tmp/render.log"
		fail "$renderer warns about $(basename "$p")"
	}
done
# man(1) itself, as a reader runs it, when it is there
if command -v man >/dev/null; then
	for p in $pages; do
		MANWIDTH=80 man --warnings -l "$p" >"$tmp/man.out" 2>"$tmp/man.log"
		[ -s "$tmp/man.log" ] && {
			cat "$tmp/man.log"
			fail "man -l warns about $(basename "$p")"
		}
		[ -s "$tmp/man.out" ] || fail "man -l renders $(basename "$p") empty"
	done
fi

for p in $pages; do
	grep -q "^\.TH .* \"libdevmem $version\"" "$p" ||
		fail "$(basename "$p"): the .TH line does not say libdevmem $version"
done

# roff writes a '-' the reader can copy as '\-'
roff() { printf '%s' "$1" | sed 's/-/\\-/g'; }

# ---- devmem.1: every command and every option ----
cmds=$("$tool" --help | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p')
[ -n "$cmds" ] || fail "devmem --help lists no command"
for c in $cmds; do
	grep -qx "\.SS $c" "$mandir/devmem.1" || fail "devmem.1 has no section for '$c'"
	"$tool" "$c" --help >"$tmp/help" 2>&1 || fail "devmem $c --help exited with $?"
	for o in $(grep -oE '^  +-(-[a-z][a-z-]*|[a-zA-Z])' "$tmp/help" | tr -d ' '); do
		grep -qF -- "$(roff "$o")" "$mandir/devmem.1" ||
			fail "devmem.1 does not document '$c $o'"
	done
done

# ---- libdevmem.7: every function of the public API ----
grep -hE '^[a-z_A-Z].*[ *]\**[a-z_0-9]+\(' "$hdrs"/*.h | grep -vE '^(static|typedef|#)' |
	sed -E 's/^.*[ *]([a-z_0-9]+)\($/\1/; s/^.*[ *]([a-z_0-9]+)\(.*$/\1/' | sort -u >"$tmp/api"
[ -s "$tmp/api" ] || fail "no function found in $hdrs"
missing=""
while read -r f; do
	grep -qw -- "$f" "$mandir/libdevmem.7" || missing="$missing $f"
done <"$tmp/api"
[ -z "$missing" ] || fail "libdevmem.7 does not name:$missing"

echo "PASS: devmem.1 and libdevmem.7 render without warnings ($renderer)," \
	"$(echo "$cmds" | wc -w) commands and $(wc -l <"$tmp/api") functions documented"
