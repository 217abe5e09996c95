#!/bin/bash
# SPDX-License-Identifier: MIT
# How fast the mount answers what users type, and whether a hundred blocked
# stream readers slow it: whole-process timings of `cat status`, `stat`,
# `cat events` and `ls -R` (each the mean over a loop of fresh processes),
# first with no reader, then with 100 `cat events.follow` blocked on a live
# run. The same loop on a file of /var/tmp gives the floor (what starting
# the process costs).
#
#   bench-mount.sh PANTHERFS_BINARY SOURCE_DIR      (TAP on stdout)
#
# Figures are "# " lines; the checks are about the answers being right (the
# readers stay blocked, status reads "running"), never about a time.
. "$(dirname "$0")/../integration/fs-lib.sh"
pfs_init bench-mount "$@"

N=${PFS_BENCH_ROUNDS:-300}
NE=100
L=$MNT/tests/live
OUT=$WORK/out

check "pantherfs mounts and engine reads connected" pfs_mount || bail "no mount"
mkdir "$L"
server_only 600 >"$WORK/cfg/live.yaml"
cp "$WORK/cfg/live.yaml" "$L/config.yaml"
check "a server-only run goes live (status running)" wait_until 120 is_running live

# mean_us LABEL CMD ARGS...: runs CMD N times (output dropped), prints the
# mean whole-process time in microseconds and records it as R_<LABEL>.
mean_us() {
	local label=$1 t0 i
	shift
	"$@" >/dev/null || return 1
	t0=$(now_us)
	for ((i = 0; i < N; i++)); do
		"$@" >/dev/null || return 1
	done
	printf -v "R_$label" '%s' $((($(now_us) - t0) / N))
}

round() {
	local tag=$1
	mean_us "${tag}_status" cat "$L/status" &&
		mean_us "${tag}_stat" stat -c %s "$L/events" &&
		mean_us "${tag}_events" cat "$L/events" &&
		mean_us "${tag}_ls" ls -R "$MNT"
}

printf 'running\n' >"$WORK/floor"
check "the floor: cat of a local file, $N times" mean_us floor cat "$WORK/floor"
check "$N x cat status, stat events, cat events, ls -R with no reader" round idle

for i in $(seq $NE); do
	cat "$L/events.follow" >"$OUT/ef.$i" 2>&1 &
	BG_PIDS+=($!)
done
caught_up() {
	local i
	for i in $(seq $NE); do
		grep -q '"service.ready"' "$OUT/ef.$i" || return 1
	done
}
alive() {
	local n=0 p
	for p in "${BG_PIDS[@]}"; do
		pid_alive "$p" && n=$((n + 1))
	done
	echo $n
}
check "$NE events.follow readers have caught up and block" eval 'wait_until 60 caught_up && [ "$(alive)" = $NE ]'
check "$N x the same with $NE readers blocked" round busy
check "the readers are still blocked, status still reads running" \
	eval '[ "$(alive)" = $NE ] && grep -q "^running" "$L/status"'

diag "whole-process means over $N runs, microseconds (floor: cat of a local file: ${R_floor:-?})" \
	"                      no reader   $NE readers blocked" \
	"$(printf 'cat status          %9s   %9s' "${R_idle_status:-?}" "${R_busy_status:-?}")" \
	"$(printf 'stat events         %9s   %9s' "${R_idle_stat:-?}" "${R_busy_stat:-?}")" \
	"$(printf 'cat events          %9s   %9s' "${R_idle_events:-?}" "${R_busy_events:-?}")" \
	"$(printf 'ls -R of the mount  %9s   %9s' "${R_idle_ls:-?}" "${R_busy_ls:-?}")"

check "echo stop > ctl exits 0" eval 'echo stop > "$L/ctl"'
check "the readers end by themselves after the stop" wait_until 60 eval '[ "$(alive)" = 0 ]'
pfs_finish
