#!/bin/bash
# contrib/, exercised: the recipes against a real mount and real QUIC, the
# fstab line through mount(8) and mount.fuse3, the systemd unit through
# systemd-analyze verify, the man page through man.
# Usage: contrib.sh PANTHERFS SOURCE_DIR BUILD_DIR      (prints TAP)
set -u
. "$(dirname "$0")/../support/bounded.sh"
bin=$1 src=$2 build=$3
n=0 fail=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
no() { n=$((n + 1)); echo "not ok $n - $*"; fail=1; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else no "$what"; fi; }
diag() { sed 's/^/#   /' | head -n "${2:-20}"; }

[ -c /dev/fuse ] || { echo "1..0 # SKIP no /dev/fuse"; exit 77; }
docker version >/dev/null 2>&1 || { echo "1..0 # SKIP no Docker engine answers"; exit 77; }

work=$(mktemp -d /tmp/pantherfs-contrib.XXXXXX)
mnt=$work/mnt state=$work/state pid= rpid=
mkdir -p "$mnt" "$work/fstab-mnt"
sweep() {
	local st=$1 inst
	[ -f "$st/instance" ] || return 0
	inst=$(cat "$st/instance")
	docker ps -aq --filter "label=pantherfs.instance=$inst" | xargs -r docker rm -f >/dev/null 2>&1
	docker network ls -q --filter "label=pantherfs.instance=$inst" | xargs -r docker network rm >/dev/null 2>&1
}
cleanup() {
	[ -n "$rpid" ] && kill "$rpid" 2>/dev/null
	stop_pid "$pid" 20
	mountpoint -q "$mnt" && fusermount3 -u "$mnt"
	mountpoint -q "$work/fstab-mnt" && fusermount3 -u "$work/fstab-mnt"
	sweep "$state"
	sweep "$work/fstab-state"
	rm -rf "$work"
}
trap cleanup EXIT

"$bin" -f --state-dir="$state" --data-dir="$src" "$mnt" 2>"$work/daemon.log" &
pid=$!
for _ in $(seq 1 100); do grep -q '^connected' "$mnt/engine" 2>/dev/null && break; sleep 0.1; done
check "mounted" grep -q '^connected' "$mnt/engine"
recipes=$src/contrib/recipes
example=$src/contrib/examples/quickstart.yaml

# run-and-wait: follows the events to the end, exit 0 on success
out=$(timeout 300 bash "$recipes/run-and-wait.sh" "$mnt" rw "$example" 2>&1)
rc=$?
if [ $rc -eq 0 ] && [ "$(printf '%s\n' "$out" | tail -n 1)" == "rw: succeeded 1 client finished" ] &&
   printf '%s\n' "$out" | grep -q '"type":"run.succeeded"'; then
	ok "run-and-wait.sh: followed the run to its verdict (exit 0)"
else
	no "run-and-wait.sh: followed the run to its verdict (exit $rc)"; printf '%s\n' "$out" | tail -n 5 | diag
fi
# ...exit 1 on a failed run, 2 on a refused config
printf 'services:\n  s: {implementation: {name: ngtcp2}, protocol: {role: server}}\n  c: {implementation: {name: ngtcp2}, protocol: {role: client, target: s}, config: {initial_rtt: garbage}}\n' > "$work/fails.yaml"
timeout 300 bash "$recipes/run-and-wait.sh" "$mnt" rwfail "$work/fails.yaml" >/dev/null 2>&1
check "run-and-wait.sh: exit 1 when the run fails" test $? -eq 1
printf 'services: {s: {implementation: {name: ngtcp2}, protocol: {role: peer}}}\n' > "$work/bad.yaml"
err=$(timeout 60 bash "$recipes/run-and-wait.sh" "$mnt" rwbad "$work/bad.yaml" 2>&1 >/dev/null)
rc=$?
if [ $rc -eq 2 ] && printf '%s\n' "$err" | grep -q 'services.s.protocol.role: "peer": must be server or client'; then
	ok "run-and-wait.sh: exit 2 with the reasons when the config is refused"
else
	no "run-and-wait.sh: exit 2 with the reasons when the config is refused (exit $rc)"; printf '%s\n' "$err" | diag
fi

# rerun-on-change: every save of the local file starts a run
cp "$example" "$work/local.yaml"
bash "$recipes/rerun-on-change.sh" "$mnt" rerun "$work/local.yaml" > "$work/rerun.out" 2>&1 &
rpid=$!
for _ in $(seq 1 100); do [ -d "$mnt/tests/rerun/runs/1" ] && break; sleep 0.1; done
sleep 1 # inotifywait is watching by now
sed -i 's/download: 1M/download: 1K/' "$work/local.yaml"              # a rename over the file
for _ in $(seq 1 100); do [ -d "$mnt/tests/rerun/runs/2" ] && break; sleep 0.1; done
sleep 1
printf '# saved again\n' >> "$work/local.yaml"                          # a write in place
for _ in $(seq 1 100); do [ -d "$mnt/tests/rerun/runs/3" ] && break; sleep 0.1; done
stop_pid "$rpid"; rpid=
# the recipe's watcher ends with it (it watches $work, which names it)
left=$(ps -eo pid=,args= | grep "[i]notifywait .*$work" || true)
if [ -z "$left" ]; then
	ok "rerun-on-change.sh: a TERM ends its file watcher too"
else
	no "rerun-on-change.sh: a TERM ends its file watcher too"; printf '%s\n' "$left" | diag
fi
runs=$(ls "$mnt/tests/rerun/runs" | wc -l)
if [ "$runs" -eq 3 ] && grep -q "download: 1K" "$mnt/tests/rerun/config.yaml"; then
	ok "rerun-on-change.sh: two saves, two more runs (3 in all)"
else
	no "rerun-on-change.sh: two saves, two more runs ($runs in all)"; diag < "$work/rerun.out"
fi

# collect-run: the run's files in a tar.gz
for _ in $(seq 1 300); do case $(cat "$mnt/tests/rw/status") in succeeded*|failed*) break ;; esac; sleep 0.1; done
if bash "$recipes/collect-run.sh" "$mnt" rw last "$work/rw.tar.gz" > "$work/collect.out" 2>&1; then
	tar -tzf "$work/rw.tar.gz" | sort > "$work/list"
	want="rw-run-1/config.yaml rw-run-1/events rw-run-1/status rw-run-1/status.json rw-run-1/build.log rw-run-1/services/client/logs rw-run-1/services/client/command rw-run-1/services/server/logs"
	missing=
	for f in $want; do grep -qx "$f" "$work/list" || missing="$missing $f"; done
	mkdir "$work/x" && tar -C "$work/x" -xzf "$work/rw.tar.gz"
	if [ -z "$missing" ] && grep -q "1M: OK" "$work/x/rw-run-1/services/client/logs"; then
		ok "collect-run.sh: the run's files, with the client's log"
	else
		no "collect-run.sh: missing$missing"; diag < "$work/list"
	fi
else
	no "collect-run.sh ran"; diag < "$work/collect.out"
fi

# fstab: mount(8) -> mount.fuse3 -> pantherfs SOURCE MOUNTPOINT -o ...,state_dir=...
sed -e "s#/mnt/pantherfs#$work/fstab-mnt#" -e "s#state_dir=/var/lib/pantherfs#state_dir=$work/fstab-state,data_dir=$src#" \
	-e "s#^/usr/local/bin/pantherfs\##$bin\##" "$src/contrib/fstab.example" > "$work/fstab"
if mount -T "$work/fstab" "$work/fstab-mnt" 2>"$work/mount.err"; then
	for _ in $(seq 1 100); do grep -q '^connected' "$work/fstab-mnt/engine" 2>/dev/null && break; sleep 0.1; done
	check "fstab line: mounted, connected" grep -q '^connected' "$work/fstab-mnt/engine"
	check "fstab line: state_dir taken from the options" test -f "$work/fstab-state/instance"
	check "fstab line: allow_other applied" grep -q "$work/fstab-mnt .*allow_other" /proc/mounts
	fusermount3 -u "$work/fstab-mnt"
	check "fstab line: unmounted" bash -c "! mountpoint -q '$work/fstab-mnt'"
else
	no "fstab line mounts"; diag < "$work/mount.err"
fi

# the systemd unit, as installed
unit=$build/pantherfs@.service
if [ -f "$unit" ]; then
	# as installed, but running this build's binary (the installed one need not exist here)
	sed "s#^ExecStart=[^ ]*/pantherfs #ExecStart=$bin #" "$unit" > "$work/pantherfs@.service"
	if out=$(SYSTEMD_LOG_LEVEL=err systemd-analyze verify --man=no "$work/pantherfs@mnt-pantherfs.service" 2>&1); then
		ok "systemd unit verifies"
	else
		no "systemd unit verifies"; printf '%s\n' "$out" | diag
	fi
	check "systemd unit runs the installed binary" grep -q "^ExecStart=/.*/bin/pantherfs -f " "$unit"
else
	no "systemd unit configured in the build dir"
fi

# the man page renders and names every file of the tree
if man -l "$src/contrib/pantherfs.1" > "$work/man.txt" 2>/dev/null; then
	missing=
	for w in config.yaml ctl status.json events.follow build.log logs.follow runs/; do grep -q "$w" "$work/man.txt" || missing="$missing $w"; done
	check "man page renders and names the tree${missing:+ (missing$missing)}" test -z "$missing"
else
	no "man page renders"
fi

for d in "$mnt"/tests/*; do
	echo stop > "$d/ctl"
	for _ in $(seq 1 100); do case $(cat "$d/status") in succeeded*|failed*|stopped*|error*) break ;; esac; sleep 0.1; done
	rmdir "$d" || no "rmdir $d"
done
inst=$(cat "$state/instance")
for _ in $(seq 1 100); do [ -z "$(docker ps -aq --filter "label=pantherfs.instance=$inst")" ] && break; sleep 0.1; done
check "nothing left in Docker" test -z "$(docker ps -aq --filter "label=pantherfs.instance=$inst")$(docker network ls -q --filter "label=pantherfs.instance=$inst")"
echo "1..$n"
exit $fail
