#!/bin/sh
# SPDX-License-Identifier: MIT
# What a new user sees when packages are missing or a build step fails:
# a user who is not root gets the exact apt-get line (with the update a
# fresh machine needs) and nothing is attempted; as root, a failing
# apt-get shows its own output and what failed; a failing build step shows
# the tool's output. Package queries and apt-get are stand-ins on PATH, so
# nothing is installed.
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$HERE/../.." && pwd)
FAKE=$WORK/bin
mkdir -p "$FAKE"
# every package reads as missing
printf '#!/bin/sh\nexit 1\n' >"$FAKE/dpkg-query"
# apt-get fails loudly, and records that it ran
cat >"$FAKE/apt-get" <<EOS
#!/bin/sh
echo "apt-get \$*" >>"$WORK/apt.calls"
echo "E: the stand-in mirror is unreachable" >&2
exit 100
EOS
chmod +x "$FAKE/dpkg-query" "$FAKE/apt-get"

# 1. not root: the exact line, exit 1, apt-get never run
if command -v setpriv >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
	chmod 755 "$WORK" "$FAKE"
	setpriv --reuid=65534 --regid=65534 --clear-groups env PATH="$FAKE:$PATH" \
		sh "$ROOT/scripts/deps.sh" test >"$WORK/user.out" 2>&1
	rc=$?
	[ "$rc" -eq 1 ] || fail "deps.sh as a user exited $rc, not 1" "$WORK/user.out"
	grep -qx '  apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev make meson ninja-build pkg-config liburing-dev libmnl-dev libibverbs-dev iproute2 python3 socat netcat-openbsd' \
		"$WORK/user.out" || fail "no exact apt-get line for a user" "$WORK/user.out"
	[ ! -e "$WORK/apt.calls" ] || fail "apt-get ran for a user who is not root" "$WORK/apt.calls"
else
	skip "needs root and setpriv to act as a user who is not root"
fi

# 2. root, apt-get failing: its own message and the failed step are shown
env PATH="$FAKE:$PATH" sh "$ROOT/scripts/deps.sh" build >"$WORK/root.out" 2>&1
rc=$?
[ "$rc" -eq 1 ] || fail "deps.sh with a failing apt-get exited $rc, not 1" "$WORK/root.out"
grep -q 'E: the stand-in mirror is unreachable' "$WORK/root.out" || fail "apt-get's own error is hidden" "$WORK/root.out"
grep -q "'apt-get update' failed" "$WORK/root.out" || fail "the failed step is not named" "$WORK/root.out"
grep -q '^apt-get update$' "$WORK/apt.calls" || fail "apt-get update did not come first" "$WORK/apt.calls"

# 3. a failing configure step shows meson's own error
mkdir -p "$WORK/proj"
echo "project('broken', 'c', meson_version : '>= 999')" >"$WORK/proj/meson.build"
(cd "$WORK/proj" && sh "$ROOT/scripts/build.sh" b) >"$WORK/build.out" 2>&1
rc=$?
[ "$rc" -ne 0 ] || fail "a failing meson setup passed" "$WORK/build.out"
grep -q '999' "$WORK/build.out" || fail "meson's own error is hidden" "$WORK/build.out"
grep -q "'meson setup b' failed" "$WORK/build.out" || fail "the failed step is not named" "$WORK/build.out"
pass "a user gets the apt-get line; apt-get's and meson's own errors are shown"
