#!/bin/sh
# Make sure the Debian 12 packages a step needs are installed.
# As root, install what is missing with apt-get (its output is shown if it
# fails); otherwise print the exact command to run and fail.
#
#   scripts/deps.sh build     what building the library and the devmem command needs
#   scripts/deps.sh test      that, plus what the test suite runs
set -eu

build_pkgs="gcc libc6-dev make meson ninja-build pkg-config liburing-dev libmnl-dev libibverbs-dev"
test_pkgs="iproute2 python3 socat netcat-openbsd"

case "${1:-build}" in
build) want="$build_pkgs" ;;
test) want="$build_pkgs $test_pkgs" ;;
*) echo "usage: $0 build|test" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "libdevmem needs these Debian packages:$missing" >&2
	echo "Install them as root with:" >&2
	echo "  apt-get update && apt-get install -y --no-install-recommends$missing" >&2
	exit 1
fi

log=$(mktemp "${TMPDIR:-/tmp}/libdevmem-apt.XXXXXX")
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
echo "installing:$missing"
# a fresh machine has no package lists yet: always refresh them first
if ! apt-get update >"$log" 2>&1; then
	cat "$log" >&2
	echo "deps: 'apt-get update' failed (above); fix the machine's apt sources or network and retry" >&2
	exit 1
fi
if ! apt-get install -y --no-install-recommends $missing >"$log" 2>&1; then
	cat "$log" >&2
	echo "deps: 'apt-get install -y --no-install-recommends$missing' failed (above)" >&2
	exit 1
fi
