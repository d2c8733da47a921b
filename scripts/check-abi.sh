#!/bin/sh
# The shared library must export exactly the public API: every function and
# object declared in include/devmem/ and nothing else.
#   scripts/check-abi.sh path/to/libdevmem.so include/devmem
set -eu
lib=$1
hdrs=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Declarations at the start of a line: "type name(" or "extern type name;".
grep -hE '^[a-z_A-Z].*[ *]\**[a-z_0-9]+\(' "$hdrs"/*.h |
	grep -vE '^(static|typedef|#)' |
	sed -E 's/^.*[ *]([a-z_0-9]+)\($/\1/; s/^.*[ *]([a-z_0-9]+)\(.*$/\1/' >"$tmp/declared.raw"
grep -hE '^extern [a-z_ ]+ [a-z_0-9]+;' "$hdrs"/*.h | sed -E 's/.* ([a-z_0-9]+);$/\1/' >>"$tmp/declared.raw"
sort -u "$tmp/declared.raw" >"$tmp/declared"

nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ { print $3 }' | sed 's/@.*//' |
	grep -v '^LIBDEVMEM_' | sort -u >"$tmp/exported"

if ! diff -u "$tmp/declared" "$tmp/exported" >"$tmp/diff"; then
	echo "exported symbols differ from the public headers (- declared only, + exported only):"
	grep -E '^[-+][a-z_]' "$tmp/diff" || true
	exit 1
fi
echo "abi: $(wc -l <"$tmp/exported") symbols exported, all declared in $hdrs"
