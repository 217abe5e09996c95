#!/bin/bash
# SPDX-License-Identifier: MIT
# Many at once through the mount: 100 readers of events.follow and 10 of
# logs.follow blocked on a live run while ls -R and cat status keep
# answering, all ending by themselves at the stop; then 20 tests created
# and run at once, all succeeding.
#
#   fs-concurrency.sh PANTHERFS_BINARY SOURCE_DIR      (TAP on stdout)
. "$(dirname "$0")/fs-lib.sh"
pfs_init fs-concurrency "$@"

check "pantherfs mounts and engine reads connected" pfs_mount || bail "no mount"

CFG=$WORK/cfg
OUT=$WORK/out
L=$MNT/tests/live
NE=100
NL=10

# ==== 100 readers on a live run ===================================================================

mkdir "$L"
server_only 300 >"$CFG/live.yaml"
cp "$CFG/live.yaml" "$L/config.yaml"
check "a server-only run goes live (status running)" wait_until 120 is_running live

READERS=()
for i in $(seq $NE); do
	cat "$L/events.follow" >"$OUT/ef.$i" 2>&1 &
	READERS+=($!)
done
for i in $(seq $NL); do
	cat "$L/services/server/logs.follow" >"$OUT/lf.$i" 2>&1 &
	READERS+=($!)
done
BG_PIDS+=("${READERS[@]}")

alive() {
	local n=0 p
	for p in "${READERS[@]}"; do
		pid_alive "$p" && n=$((n + 1))
	done
	echo $n
}
caught_up() {
	local i
	for i in $(seq $NE); do
		grep -q '"service.ready"' "$OUT/ef.$i" || return 1
	done
}
check "all $NE events.follow readers have read the events so far (service.ready)" wait_until 60 caught_up
sleep 1
check "all $((NE + NL)) readers (events.follow, logs.follow) are blocked" eq "$(alive)" $((NE + NL))

# answers within 5 s while they are blocked
answers() {
	local what=$1 t0 ms rc
	shift
	t0=$(now_us)
	timeout 60 "$@" >"$OUT/answer" 2>&1
	rc=$?
	ms=$(ms_since "$t0")
	echo "$what: exit status $rc after $ms ms"
	[ $rc = 0 ] && [ $ms -lt 5000 ] || { tail -n 5 "$OUT/answer"; return 1; }
	case $what in
	ls) grep -qx events.follow "$OUT/answer" && grep -qx logs.follow "$OUT/answer" ;;
	status) grep -q '^running' "$OUT/answer" ;;
	esac
}
for round in 1 2 3; do
	check "ls -R of the mount answers within 5 s with $((NE + NL)) readers blocked (round $round)" \
		answers ls ls -R "$MNT"
	check "cat status answers within 5 s with $((NE + NL)) readers blocked (round $round)" \
		answers status cat "$L/status"
	sleep 0.5
done
check "cat events and cat engine answer within 5 s too" eval 'answers events cat "$L/events" && answers engine cat "$MNT/engine"'
check "the readers are still blocked" eq "$(alive)" $((NE + NL))

check "echo stop > ctl exits 0" eval 'echo stop > "$L/ctl"'
t0=$(now_us)
ended=no
wait_until 30 eval '[ "$(alive)" = 0 ]' && ended=yes
end_ms=$(ms_since "$t0")
check "all $((NE + NL)) readers end by themselves after the stop ($end_ms ms)" \
	eval '[ "$ended" = yes ] || { echo "$(alive) still running after 30 s"; false; }'
reader_status() {
	local p bad=0 blocked=0
	# a reader still blocked is killed first: wait is never unbounded
	for p in "${READERS[@]}"; do
		if pid_alive "$p"; then
			kill -KILL "$p" 2>/dev/null
			blocked=$((blocked + 1))
		fi
	done
	[ $blocked = 0 ] || echo "$blocked readers were still blocked and were killed"
	for p in "${READERS[@]}"; do
		wait "$p" || bad=$((bad + 1))
	done
	[ $bad = 0 ] || { echo "$bad readers ended with an error"; tail -n 2 "$OUT/ef.1"; return 1; }
}
check "every reader ends with EOF (exit status 0)" reader_status
check "the run ended stopped stopped" eq "$(wait_final live 30)" "stopped stopped"
whole() {
	local i bad=0
	for i in $(seq $NE); do
		cmp -s "$L/events" "$OUT/ef.$i" || bad=$((bad + 1))
	done
	[ $bad = 0 ] && return 0
	echo "$bad of $NE readers did not read the events file as it is"
	same_file "$L/events" "$OUT/ef.1"
	return 1
}
check "every events.follow reader read the whole events file, up to run.stopped" whole
logs_whole() {
	local i
	for i in $(seq $NL); do
		same_file "$L/services/server/logs" "$OUT/lf.$i" || return 1
	done
}
check "every logs.follow reader read the whole log" logs_whole

# ==== 20 tests at once ==============================================================================

NP=20
cp "$CFG/cs.yaml" "$WORK/cs.yaml"
MAKERS=()
for i in $(seq $NP); do
	(mkdir "$MNT/tests/p$i" && timeout 120 cp "$WORK/cs.yaml" "$MNT/tests/p$i/config.yaml") >"$OUT/p$i.err" 2>&1 &
	MAKERS+=($!)
done
make_fail=0
for p in "${MAKERS[@]}"; do
	wait "$p" || make_fail=$((make_fail + 1))
done
check "$NP times mkdir + cp at once: all exit 0" eval '[ $make_fail = 0 ] || { cat "$OUT"/p*.err; false; }'
all_final() {
	local i
	for i in $(seq $NP); do
		not_live "p$i" || return 1
	done
}
t0=$(now_us)
check "all $NP runs end (within 600 s)" wait_until 600 all_final
diag "the $NP runs took $(ms_since "$t0") ms"
succeeded() {
	local s
	s=$(cat "$MNT/tests/$1/status")
	eq "$s" "succeeded 1 client finished" && return 0
	echo "events:"
	grep -o '"time":"[^"]*".*"type":"[a-z_.]*"' "$MNT/tests/$1/events" | sed 's/"test".*"type"/ /' | tail -n 8
	return 1
}
for i in $(seq $NP); do
	check "p$i ends succeeded 1 client finished" succeeded "p$i"
done

pfs_finish
