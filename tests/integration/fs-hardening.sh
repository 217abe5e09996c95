#!/bin/bash
# SPDX-License-Identifier: MIT
# What a careless or hostile user meets through the mount (the filesystem
# and engine half of the hardening findings), each checked the way it was
# found:
#   - eight cp into one config.yaml at once: one live run, always; rmdir of
#     a test with a live run is EBUSY
#   - { cat a; cat b; } > config.yaml: one run, of the whole file
#   - : > config.yaml, cp /dev/null: an empty config, refused, with a reason in
#     error (at the last close: the first close of a redirection comes before
#     the writes, so close() itself cannot say it)
#   - chmod/chown of pantherfs's files: EPERM (nothing changes silently)
#   - runs/01 names nothing; rm -rf tests/x works like rmdir
#   - the modes shown are the mounting user's; the state dir is private;
#     results/ is visible through the mount
#   - scratch files have a mount-wide cap
#   - allow_other without default_permissions is refused
#
#   fs-hardening.sh PANTHERFS_BINARY SOURCE_DIR      (TAP on stdout)
. "$(dirname "$0")/fs-lib.sh"
pfs_init fs-hardening "$@"

CFG=$WORK/cfg
OUT=$WORK/out

check "pantherfs refuses -o allow_other without default_permissions" eval '
	out=$(timeout 10 "$PFS" -f -o allow_other --state-dir="$WORK/st-ao" --data-dir="$SRC" "$WORK/cfg" 2>&1); rc=$?
	echo "exit $rc: $out"; [ $rc = 2 ] && grep -q default_permissions <<<"$out"'

check "pantherfs mounts and engine reads connected" pfs_mount || bail "no mount"

# ---- one live run per test, whatever writes at once ------------------------------------------

T=$MNT/tests/race
mkdir "$T"
server_only 300 >"$CFG/long.yaml"
for i in $(seq 8); do
	timeout 60 cp "$CFG/long.yaml" "$T/config.yaml" &
	BG_PIDS+=($!)
done
wait_until 60 eval '[ "$(jobs -rp | wc -l)" = 0 ]'
live_containers() {
	docker ps -q --filter "label=pantherfs.instance=$INSTANCE" --filter "label=pantherfs.test=race" | wc -l
}
check "eight cp at once: the test ends up running" wait_until 120 is_running race
sleep 3
check "eight cp at once: one live run, one running container" eq "$(live_containers)" 1
check "rmdir of a test with a live run: EBUSY" eq "$(errno_of rmdir "$T")" EBUSY
check "echo stop > ctl stops it" eval 'echo stop > "$T/ctl" && [ "$(wait_final race 60 | cut -d" " -f1)" = stopped ]'
check "then nothing of it runs" wait_until 30 eval '[ "$(live_containers)" = 0 ]'
check "and rmdir works" rmdir "$T"

# ---- a config written by several processes through one redirection ----------------------------

T=$MNT/tests/cat
mkdir "$T"
printf 'services:\n  server: {implementation: {name: ngtcp2}, protocol: {role: server}}\n' >"$CFG/a.yaml"
printf '  client: {implementation: {name: ngtcp2}, protocol: {role: client, target: server}, config: {download: 1K}}\n' >"$CFG/b.yaml"
{ cat "$CFG/a.yaml"; sleep 0.3; cat "$CFG/b.yaml"; } >"$T/config.yaml"
check "{ cat a; cat b; } > config.yaml: the config is the whole file" same_file "$T/config.yaml" <(cat "$CFG/a.yaml" "$CFG/b.yaml")
check "... one run of it, which succeeds" eq "$(wait_final cat 120)" "succeeded 1 client finished"
check "... and only one config.accepted, no refusal" eval '
	[ "$(count_events "$T/events" config.accepted)" = 1 ] && [ "$(count_events "$T/events" config.rejected)" = 0 ]'
check "... runs/ holds one run" eq "$(nruns cat)" 1

# ---- an empty config -------------------------------------------------------------------------------

: >"$T/config.yaml"
check ": > config.yaml is refused as an empty config (error says so)" wait_until 10 grep -q 'empty' "$T/error"
check "... the accepted config stays" same_file "$T/config.yaml" <(cat "$CFG/a.yaml" "$CFG/b.yaml")
check "cp /dev/null config.yaml is refused too, and the config stays" eval '
	cp /dev/null "$T/config.yaml"; grep -q empty "$T/error" &&
	cmp -s "$T/config.yaml" <(cat "$CFG/a.yaml" "$CFG/b.yaml")'
check "no run started from the empty configs" eq "$(nruns cat)" 1

# ---- attributes ----------------------------------------------------------------------------------

check "chmod of status: EPERM" eval '! chmod 0666 "$T/status" 2>"$OUT/chmod" && grep -q "Operation not permitted" "$OUT/chmod"'
check "chmod of config.yaml to another mode: EPERM" eval '! chmod 0600 "$T/config.yaml" 2>/dev/null'
check "chmod to the mode it has: fine (editors do that)" chmod 0644 "$T/config.yaml"
check "chown to another owner: EPERM" eval '! chown 1234 "$T/config.yaml" 2>/dev/null'
check "the modes shown: status 0444, config.yaml and ctl 0644, tests/ 0755, runs/ 0555, owner is the mounting user" eval '
	[ "$(stat -c %a "$T/status")" = 444 ] && [ "$(stat -c %a "$T/config.yaml")" = 644 ] &&
	[ "$(stat -c %a "$T/ctl")" = 644 ] && [ "$(stat -c %a "$MNT/tests")" = 755 ] &&
	[ "$(stat -c %a "$T/runs")" = 555 ] && [ "$(stat -c %u "$T/status")" = "$(id -u)" ]'
check "runs/1 exists, runs/01 and runs/+1 do not" eval '
	[ -d "$T/runs/1" ] && [ ! -e "$T/runs/01" ] && [ ! -e "$T/runs/+1" ]'
check "services/server/results/ is there (the program's own files)" test -d "$T/services/server/results"

# ---- the state dir is private --------------------------------------------------------------------

check "the state dir's tests/ and a run's dir are 0700, run.json and logs 0600" eval '
	[ "$(stat -c %a "$STATE/tests")" = 700 ] && [ "$(stat -c %a "$STATE/instance")" = 600 ] && [ "$(stat -c %a "$STATE/tests/cat/runs/1")" = 700 ] &&
	[ "$(stat -c %a "$STATE/tests/cat/runs/1/run.json")" = 600 ] &&
	[ "$(stat -c %a "$STATE/tests/cat/runs/1/services/server/logs")" = 600 ] &&
	[ "$(stat -c %a "$STATE/tests/cat/runs/1/services/server/results")" = 700 ]'

# ---- scratch files -------------------------------------------------------------------------------

scratch_cap() {
	local i rc
	for i in $(seq 30); do
		head -c 3M /dev/zero >"$T/scratch$i" 2>"$OUT/scratch.err" || break
	done
	grep -q 'No space left' "$OUT/scratch.err" || { echo "30 x 3 MiB scratch files all written"; return 1; }
	echo "refused at file $i"
	rm -f "$T"/scratch*
	[ -z "$(ls "$T" | grep scratch)" ]
}
check "scratch files: a mount-wide cap (ENOSPC), then they go with rm" scratch_cap

# ---- rm -rf works like rmdir ----------------------------------------------------------------------

check "rm -rf tests/cat removes the finished test" eval 'rm -rf "$T" && [ ! -e "$T" ]'
mkdir "$MNT/tests/busy"
cp "$CFG/long.yaml" "$MNT/tests/busy/config.yaml"
wait_until 120 is_running busy
check "rm -rf of a live test says EBUSY and leaves it" eval '
	! rm -rf "$MNT/tests/busy" 2>"$OUT/rm.err" && grep -q "busy" "$OUT/rm.err" && [ -d "$MNT/tests/busy" ] &&
	is_running busy'

pfs_finish
