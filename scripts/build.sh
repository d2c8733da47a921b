#!/bin/sh
# Configure (once) and build one build directory, quietly when all is well:
# a step that fails prints its whole output and what to do.
#
#   scripts/build.sh DIR [MESON_OPTION...]
set -u
dir=$1
shift

if [ ! -f "$dir/build.ninja" ]; then
	if ! out=$(meson setup "$dir" "$@" 2>&1); then
		printf '%s\n' "$out" >&2
		echo "build: 'meson setup $dir${*:+ $*}' failed (above)." >&2
		echo "build: if $dir is left from an older set-up, 'rm -rf $dir' and run again." >&2
		exit 1
	fi
fi
if ! out=$(ninja -C "$dir" 2>&1); then
	printf '%s\n' "$out" >&2
	echo "build: 'ninja -C $dir' failed (above)." >&2
	exit 1
fi
