#!/bin/bash
# SPDX-License-Identifier: MIT
# A user's session on the mount, typed as in a shell: mkdir, echo a config,
# poll status, read events, commands, logs, addresses and the run's copy
# under runs/1/; watching (tail -f, cat events.follow, Ctrl-C, inotifywait);
# ctl verbs, read-only files, rmdir, bad names, the catalogue.
#
#   fs-session.sh PANTHERFS_BINARY SOURCE_DIR      (TAP on stdout)
. "$(dirname "$0")/fs-lib.sh"
pfs_init fs-session "$@"

check "pantherfs mounts and engine reads connected" pfs_mount || bail "no mount"

T1=$MNT/tests/t1
T2=$MNT/tests/t2
T3=$MNT/tests/t3
OUT=$WORK/out

# ==== 1. a session, step by step ==================================================================

check "mkdir tests/t1" mkdir "$T1"
check "a new test's status reads empty" eq "$(cat "$T1/status")" "empty"

check "echo writes a config into tests/t1/config.yaml" eval 'echo "$CS_CONFIG" > "$T1/config.yaml"'
status=$(wait_final t1 600)
check "polling status: the run ends succeeded 1 client finished" eq "$status" "succeeded 1 client finished"

check "events: JSON lines, seq 1..N without gaps, the run's milestones there" \
	events_valid "$T1/events" test.created config.accepted run.started service.ready run.succeeded
no_rejection() {
	local n
	n=$(count_events "$T1/events" config.rejected)
	[ "$n" = 0 ] && return 0
	echo "echo \"\$CONFIG\" > config.yaml wrote a valid config, yet events holds $n config.rejected:"
	grep '"config.rejected"' "$T1/events" | cut -c1-300
	return 1
}
check "events: a valid config written with echo records no config.rejected" no_rejection
check "events: one config.accepted" eq "$(count_events "$T1/events" config.accepted)" 1
check "error is empty after a valid config" eval '[ ! -s "$T1/error" ] || { cat "$T1/error"; false; }'
check "status.json is JSON and says what status says" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
s = open(sys.argv[2]).read().rstrip("\n")
assert j["status"] == s, (j["status"], s)
assert j["state"] == s.split()[0], (j["state"], s)
' "$T1/status.json" "$T1/status"

one_line() {
	local n
	n=$(wc -l <"$1")
	[ "$n" = 1 ] && [ "$(wc -c <"$1")" -gt 1 ] && return 0
	echo "$1: $n lines:"
	cat "$1"
	return 1
}
check "services/server/command is one line" one_line "$T1/services/server/command"
check "services/client/command is one line" one_line "$T1/services/client/command"
saddr=$(cat "$T1/services/server/address" 2>/dev/null)
caddr=$(cat "$T1/services/client/address" 2>/dev/null)
is_ipv4() {
	[[ $1 =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] && return 0
	echo "not an IPv4 address: \"$1\""
	return 1
}
check "services/server/address is an IPv4 address" is_ipv4 "$saddr"
check "services/client/address is an IPv4 address" is_ipv4 "$caddr"
in_cmd() {
	grep -qwF -- "$1" "$T1/services/client/command" && return 0
	echo "server address \"$1\" not in the client's command:"
	cat "$T1/services/client/command"
	return 1
}
check "the client's command holds the server's address" in_cmd "$saddr"
check "services/client/logs says 1M: OK" file_has "$T1/services/client/logs" "1M: OK"
check "services/client/status reads exited 0" eq "$(cat "$T1/services/client/status")" "exited 0"

docker_matches() {
	local svc=$1 cid img imgid
	cid=$(cat "$T1/services/$svc/container")
	[[ $cid =~ ^[0-9a-f]{64}$ ]] || { echo "container is not an id: \"$cid\""; return 1; }
	read -r img imgid <"$T1/services/$svc/image"
	eq "$(docker inspect -f '{{index .Config.Labels "pantherfs.instance"}} {{index .Config.Labels "pantherfs.service"}}' "$cid" 2>&1)" \
		"$INSTANCE $svc" || return 1
	eq "$(docker inspect -f '{{.Config.Image}} {{.Image}}' "$cid" 2>&1)" "$img $imgid"
}
check "server's container and image are what Docker says" docker_matches server
check "client's container and image are what Docker says" docker_matches client

true_size() {
	local f st n
	for f in "$@"; do
		st=$(stat -c %s "$f")
		n=$(cat "$f" | wc -c)
		[ "$st" = "$n" ] || { echo "$f: stat says $st bytes, cat reads $n"; return 1; }
	done
}
check "status, events, command, logs report their true size" true_size "$T1/status" "$T1/events" \
	"$T1/services/client/command" "$T1/services/client/logs" "$T1/status.json"

# the same run under runs/1/
check "runs/ lists run 1" eq "$(ls "$T1/runs" | tr '\n' ' ')" "1 "
check "runs/1/status reads succeeded 1 client finished" eq "$(cat "$T1/runs/1/status")" "succeeded 1 client finished"
check "runs/1/config.yaml is what echo wrote" same_file "$WORK/cfg/cs.yaml" "$T1/runs/1/config.yaml"
check "config.yaml reads back what echo wrote" same_file "$WORK/cfg/cs.yaml" "$T1/config.yaml"
run_events() {
	local f=$1 n=$2
	EVENTS_FIRST_SEQ=any events_valid "$f" run.started run.succeeded || return 1
	python3 - "$f" "$n" "$T1/events" <<'EOF' || return 1
import json, sys
run, n, test = open(sys.argv[1]).read().splitlines(), int(sys.argv[2]), open(sys.argv[3]).read().splitlines()
for l in run:
    e = json.loads(l)
    assert e["run"] == n, f"an event of run {e['run']} in runs/{n}/events: {l[:200]}"
    assert l in test, f"not in the test's events: {l[:200]}"
EOF
}
check "runs/1/events: the run's events, each also in events" run_events "$T1/runs/1/events" 1
check "runs/1/services/client/logs says 1M: OK" file_has "$T1/runs/1/services/client/logs" "1M: OK"
check "runs/1/services/client/logs is the run's log" same_file "$T1/services/client/logs" "$T1/runs/1/services/client/logs"
check "runs/1/services/client/command is the run's command" same_file "$T1/services/client/command" \
	"$T1/runs/1/services/client/command"

# ==== 2. watching ====================================================================================

# tail -f, started before the config is written, on a live server-only run
mkdir "$T2"
timeout 300 tail -n +1 -f "$T2/events" >"$OUT/tail.out" 2>"$OUT/tail.err" &
TAIL=$!
BG_PIDS+=("$TAIL")
sleep 1.5
check "echo writes a server-only config into tests/t2" eval 'echo "$(server_only 240)" > "$T2/config.yaml"'
tail_live() {
	if ! wait_until 120 grep -q '"service.ready"' "$OUT/tail.out"; then
		echo "tail -f printed no service.ready in 120 s; status: $(cat "$T2/status"); tail printed:"
		cut -c1-200 "$OUT/tail.out"
		cat "$OUT/tail.err"
		return 1
	fi
	is_running t2 || { echo "status: $(cat "$T2/status")"; return 1; }
}
check "tail -f events prints service.ready while the run is running" tail_live
check "echo stop > ctl on a live run exits 0" eval 'echo stop > "$T2/ctl"'
check "the stopped run ends: status reads stopped stopped" eq "$(wait_final t2 30)" "stopped stopped"
check "tail -f events prints run.stopped within 10 s" wait_until 10 grep -q '"run.stopped"' "$OUT/tail.out"
sleep 1.5 # tail polls every second
stop_pid "$TAIL"
check "what tail -f printed is the events file, byte for byte" same_file "$T2/events" "$OUT/tail.out"

# stop on a stopped test: a no-op
noop_stop() {
	local st runs err rc
	st=$(cat "$T2/status")
	runs=$(nruns t2)
	err=$( (echo stop >"$T2/ctl") 2>&1)
	rc=$?
	[ $rc = 0 ] || { echo "exit status $rc: $err"; return 1; }
	sleep 1
	eq "$(cat "$T2/status")" "$st" && eq "$(nruns t2)" "$runs" && eq "$(status_word t2)" stopped
}
check "echo stop > ctl on a stopped test exits 0 and changes nothing" noop_stop
bad_verb() {
	local err rc
	err=$(bash -c 'echo bad > "$1"' _ "$T2/ctl" 2>&1)
	rc=$?
	[ $rc != 0 ] || { echo "echo bad > ctl exited 0"; return 1; }
	case $err in
	*"write error: Invalid argument"*) return 0 ;;
	esac
	echo "stderr: $err"
	return 1
}
check "echo bad > ctl fails with write error: Invalid argument" bad_verb

# inotifywait sees a config written through the mount; cat events.follow
# ends by itself when that run ends
inotify_sees() {
	command -v inotifywait >/dev/null || { echo "inotifywait not installed (package inotify-tools)"; return 1; }
	wait_until 30 grep -qE '^(CLOSE_WRITE|MODIFY).* config\.yaml$' "$OUT/inw.out" && return 0
	echo "inotifywait printed:"
	cat "$OUT/inw.out" "$OUT/inw.err"
	return 1
}
if command -v inotifywait >/dev/null; then
	inotifywait -m -e close_write -e modify --format '%e %f' "$T1" >"$OUT/inw.out" 2>"$OUT/inw.err" &
	INW=$!
	BG_PIDS+=("$INW")
	wait_until 10 grep -q "Watches established" "$OUT/inw.err"
fi
echo "$CS_CONFIG" >"$T1/config.yaml"
t0=$(now_us)
timeout 60 cat "$T1/events.follow" >"$OUT/follow.out"
follow_rc=$?
follow_ms=$(ms_since "$t0")
follow_ends() {
	[ $follow_rc = 0 ] || { echo "timeout 60 cat events.follow: exit status $follow_rc after $follow_ms ms"; return 1; }
	[ $follow_ms -lt 30000 ] || { echo "it took $follow_ms ms"; return 1; }
	echo "status: $(cat "$T1/status")"
	tail -n 1 "$OUT/follow.out" | grep -q '"run":2,"type":"run.succeeded"' || {
		echo "its last line is not run 2's run.succeeded:"
		tail -n 2 "$OUT/follow.out"
		return 1
	}
}
check "cat events.follow ends by itself when the run ends (exit 0, $follow_ms ms)" follow_ends
check "cat events.follow read the events file, byte for byte" same_file "$T1/events" "$OUT/follow.out"
check "inotifywait on the test directory sees config.yaml written (CLOSE_WRITE or MODIFY)" inotify_sees
[ -n "${INW:-}" ] && { kill "$INW" 2>/dev/null; wait "$INW" 2>/dev/null; }

# Ctrl-C on a cat blocked in events.follow of a live run
mkdir "$T3"
server_only 240 >"$WORK/cfg/srv.yaml"
cp "$WORK/cfg/srv.yaml" "$T3/config.yaml"
check "a server-only run goes live (status running)" wait_until 120 is_running t3
live_address() {
	local cid
	cid=$(cat "$T3/services/server/container")
	eq "$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$cid" 2>&1)" \
		"$(cat "$T3/services/server/address")"
}
check "a live server's address is its container's address in Docker" live_address
if env --default-signal=INT true 2>/dev/null; then
	env --default-signal=INT cat "$T3/events.follow" >"$OUT/int.out" 2>"$OUT/int.err" &
else
	# a script's background jobs ignore SIGINT: give cat the default back
	python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp("cat", ["cat", sys.argv[1]])' \
		"$T3/events.follow" >"$OUT/int.out" 2>"$OUT/int.err" &
fi
READER=$!
BG_PIDS+=("$READER")
sigint_returns() {
	wait_until 30 grep -q '"service.ready"' "$OUT/int.out" || { echo "the reader got no service.ready"; return 1; }
	sleep 1
	kill -0 $READER 2>/dev/null || { echo "cat events.follow ended before the signal"; return 1; }
	local t0 ms rc
	t0=$(now_us)
	kill -INT $READER
	while kill -0 $READER 2>/dev/null && [ "$(ms_since "$t0")" -lt 10000 ]; do
		sleep 0.02
	done
	wait $READER
	rc=$?
	ms=$(ms_since "$t0")
	echo "returned after $ms ms, exit status $rc"
	[ $ms -lt 2000 ] && [ $rc = 130 ]
}
check "SIGINT to cat blocked in events.follow of a live run returns within 2 s" sigint_returns
check "the run goes on after its reader is interrupted" is_running t3

# ==== 4. ctl, read-only files, rmdir, names, the catalogue ==================================================

refuses() {
	local f=$1 before err
	before=$(md5sum <"$f")
	err=$(bash -c 'echo x > "$1"' _ "$f" 2>&1) && { echo "echo x > $f succeeded"; return 1; }
	case $err in *"Permission denied"*) ;; *) echo "stderr: $err"; return 1 ;; esac
	eq "$(errno_of open-w "$f")" EACCES || return 1
	[ "$f" = "$MNT/engine" ] && return 0 # its line may change by itself
	eq "$(md5sum <"$f")" "$before"
}
for f in tests/t1/status tests/t1/events tests/t1/services/client/logs engine implementations/mvfst/versions; do
	check "$f refuses writes with EACCES" refuses "$MNT/$f"
done

rmdir_busy() {
	local err
	err=$(rmdir "$T3" 2>&1) && { echo "rmdir of a test with a live run succeeded"; return 1; }
	case $err in *"Device or resource busy"*) ;; *) echo "stderr: $err"; return 1 ;; esac
	eq "$(errno_of rmdir "$T3")" EBUSY && [ -d "$T3" ] && is_running t3
}
check "rmdir of a test with a live run fails with EBUSY" rmdir_busy
echo stop >"$T3/ctl"
t_stop=$(now_us)
# what a user typing `echo stop > ctl; rmdir t3` sees (the stop is asynchronous)
first=$(rmdir "$T3" 2>&1) && first="removed"
diag "rmdir right after echo stop > ctl: ${first:-?}"
if [ "$first" != removed ]; then
	check "after echo stop > ctl, status reads stopped stopped" eq "$(wait_final t3 30)" "stopped stopped"
fi
rmdir_after_stop() {
	[ -d "$T3" ] || return 0
	wait_until 15 rmdir "$T3" && return 0
	echo "rmdir still fails 15 s after the stop: $(rmdir "$T3" 2>&1)"
	return 1
}
rmdir_after_stop >"$OUT/rmdir.out" 2>&1
rmdir_rc=$?
check "after the stop, rmdir succeeds ($(ms_since "$t_stop") ms after the stop)" \
	eval '[ $rmdir_rc = 0 ] || { cat "$OUT/rmdir.out"; false; }'
check "the removed test is gone from tests/" eval '! ls "$MNT/tests" | grep -qx t3'
check "the removed test leaves no container or network (within 20 s)" \
	eval 'wait_until 20 docker_empty "$INSTANCE" t3 || docker_empty "$INSTANCE" t3'

bad_name() {
	local err
	err=$(mkdir "$MNT/tests/$1" 2>&1) && { echo "mkdir \"$1\" succeeded"; return 1; }
	case $err in *"Invalid argument"*) ;; *) echo "stderr: $err"; return 1 ;; esac
	eq "$(errno_of mkdir "$MNT/tests/$1")" EINVAL || return 1
	! ls -a "$MNT/tests" | grep -qxF -- "$1"
}
check "mkdir of a name with a space fails with EINVAL" bad_name "a b"
check "mkdir of a name with a leading dot fails with EINVAL" bad_name ".hidden"

check "implementations/mvfst/versions lists rfc9000 draft29 draft27 draft27-vuln1 draft27-vuln2" \
	eq "$(sort "$MNT/implementations/mvfst/versions" | tr '\n' ' ')" \
	"$(printf '%s\n' rfc9000 draft29 draft27 draft27-vuln1 draft27-vuln2 | sort | tr '\n' ' ')"
check "implementations/mvfst/rfc9000.yaml holds commit 3a0e6de005ad818f794fcf7544fed4c4e380db88" \
	file_has "$MNT/implementations/mvfst/rfc9000.yaml" "3a0e6de005ad818f794fcf7544fed4c4e380db88"

pfs_finish
