#!/bin/sh
# Make sure the Debian 12 packages the build needs are installed.
# As root, install what is missing with apt-get; otherwise print the exact
# command to run and fail.
#
#   scripts/deps.sh build     what building the library and the demo needs
#   scripts/deps.sh test      that, plus the test framework
set -eu

build_pkgs="gcc make meson ninja-build pkg-config liburing-dev"
test_pkgs="libcriterion-dev iproute2 python3 socat netcat-openbsd"

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
	echo "libdevmem needs these Debian packages. Install them with:" >&2
	echo "  sudo apt-get install -y$missing" >&2
	exit 1
fi

echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends $missing >/dev/null
