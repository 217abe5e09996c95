#!/bin/bash
# meson install into a DESTDIR; the installed binary mounts without
# --data-dir (it finds its data next to itself) and runs a real test; the
# man page and the systemd unit are where systems look for them.
# Usage: install.sh BUILD_DIR      (prints TAP)
set -u
. "$(dirname "$0")/../support/bounded.sh"
build=$1
n=0 fail=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
no() { n=$((n + 1)); echo "not ok $n - $*"; fail=1; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else no "$what"; fi; }
[ -c /dev/fuse ] || { echo "1..0 # SKIP no /dev/fuse"; exit 77; }
docker version >/dev/null 2>&1 || { echo "1..0 # SKIP no Docker engine answers"; exit 77; }
work=$(mktemp -d /tmp/pantherfs-install.XXXXXX)
pid=
cleanup() {
	stop_pid "$pid" 20
	mountpoint -q "$work/mnt" && fusermount3 -u "$work/mnt"
	if [ -f "$work/state/instance" ]; then
		inst=$(cat "$work/state/instance")
		docker ps -aq --filter "label=pantherfs.instance=$inst" | xargs -r docker rm -f >/dev/null 2>&1
		docker network ls -q --filter "label=pantherfs.instance=$inst" | xargs -r docker network rm >/dev/null 2>&1
	fi
	rm -rf "$work"
}
trap cleanup EXIT

if DESTDIR=$work/root meson install -C "$build" --no-rebuild --quiet > "$work/install.log" 2>&1; then
	ok "meson install into a DESTDIR"
else
	no "meson install into a DESTDIR"; tail -n 10 "$work/install.log" | sed 's/^/#   /'
fi
bin=$(find "$work/root" -path '*/bin/pantherfs' -type f | head -n 1)
share=$(dirname "$(dirname "$bin")")/share
check "the binary is installed" test -x "$bin"
check "the data is installed" test -f "$share/pantherfs/version_configs/mvfst/rfc9000.yaml" -a -f "$share/pantherfs/templates/mvfst/echo.jinja" -a -f "$share/pantherfs/docker/ngtcp2/Dockerfile"
check "the man page is installed" test -f "$share/man/man1/pantherfs.1"
check "the systemd unit is installed" test -n "$(find "$work/root" -path '*/systemd/system/pantherfs@.service')"
check "the recipes are installed" test -x "$share/doc/pantherfs/examples/run-and-wait.sh"
check "--help names the installed data dir" bash -c "'$bin' --help | grep -q '(default: $share/pantherfs)'"

mkdir -p "$work/mnt"
cd "$work" || exit 1 # nowhere near the source tree
"$bin" -f --state-dir="$work/state" "$work/mnt" 2>"$work/daemon.log" &
pid=$!
for _ in $(seq 1 100); do grep -q '^connected' "$work/mnt/engine" 2>/dev/null && break; sleep 0.1; done
check "the installed binary mounts without --data-dir" grep -q '^connected' "$work/mnt/engine"
check "its catalogue is there" grep -qx rfc9000 "$work/mnt/implementations/mvfst/versions"
mkdir "$work/mnt/tests/t"
printf 'services:\n  s: {implementation: {name: ngtcp2}, protocol: {role: server}}\n  c: {implementation: {name: ngtcp2}, protocol: {role: client, target: s}, config: {download: 1K}}\n' > "$work/t.yaml"
if timeout 300 bash "$share/doc/pantherfs/examples/run-and-wait.sh" "$work/mnt" t "$work/t.yaml" > "$work/run.out" 2>&1; then
	ok "a real test runs with the installed data"
else
	no "a real test runs with the installed data"; tail -n 5 "$work/run.out" | sed 's/^/#   /'
fi
rmdir "$work/mnt/tests/t"
echo "1..$n"
exit $fail
