#!/bin/bash
# The README's first command (contrib/quickstart.sh) as a test, in a scratch
# mountpoint and state dir, reusing this build dir; it must end with a
# succeeded run. Then the mount is taken down and nothing is left in Docker.
# Usage: quickstart.sh SOURCE_DIR BUILD_DIR      (prints TAP)
set -u
src=$1 build=$2
n=0 fail=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
no() { n=$((n + 1)); echo "not ok $n - $*"; fail=1; }
[ -c /dev/fuse ] || { echo "1..0 # SKIP no /dev/fuse"; exit 77; }
docker version >/dev/null 2>&1 || { echo "1..0 # SKIP no Docker engine answers"; exit 77; }
work=$(mktemp -d /tmp/pantherfs-quickstart.XXXXXX)
cleanup() {
	if mountpoint -q "$work/mnt"; then
		for d in "$work"/mnt/tests/*; do echo stop > "$d/ctl"; done
		sleep 1
		for d in "$work"/mnt/tests/*; do rmdir "$d"; done
		fusermount3 -u "$work/mnt"
	fi
	if [ -f "$work/state/instance" ]; then
		inst=$(cat "$work/state/instance")
		docker ps -aq --filter "label=pantherfs.instance=$inst" | xargs -r docker rm -f >/dev/null 2>&1
		docker network ls -q --filter "label=pantherfs.instance=$inst" | xargs -r docker network rm >/dev/null 2>&1
	fi
	rm -rf "$work"
}
trap cleanup EXIT

out=$(PFS_MOUNT=$work/mnt PFS_STATE=$work/state PFS_BUILD_DIR=$build timeout 1200 bash "$src/contrib/quickstart.sh" 2>&1)
rc=$?
if [ $rc -eq 0 ]; then ok "quickstart.sh exits 0"; else no "quickstart.sh exits 0 (exit $rc)"; printf '%s\n' "$out" | tail -n 20 | sed 's/^/#   /'; fi
if printf '%s\n' "$out" | grep -q '^quickstart: status: succeeded 1 client finished$'; then ok "it prints a succeeded run"; else no "it prints a succeeded run"; fi
if printf '%s\n' "$out" | grep -q '^    1M: OK$'; then ok "it prints the client's log (1M: OK)"; else no "it prints the client's log"; fi
if printf '%s\n' "$out" | grep -q '"type":"run.succeeded"'; then ok "it shows the events"; else no "it shows the events"; fi
if mountpoint -q "$work/mnt" && [ "$(cat "$work/mnt/tests/quickstart/status")" == "succeeded 1 client finished" ]; then
	ok "the mount stays for the user, with the run in it"
else
	no "the mount stays for the user, with the run in it"
fi
echo "1..$n"
exit $fail
