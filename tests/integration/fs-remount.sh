#!/bin/bash
# SPDX-License-Identifier: MIT
# Unmounting with streams open and a run live, then mounting again on the
# same state dir: the daemon exits promptly on SIGTERM, the blocked reader
# ends, the mount is gone; after the new mount every test, run, event, log
# and error is there, and the live run is taken up again (run.resumed) and
# ends as it would have.
#
#   fs-remount.sh PANTHERFS_BINARY SOURCE_DIR      (TAP on stdout)
. "$(dirname "$0")/fs-lib.sh"
pfs_init fs-remount "$@"

check "pantherfs mounts and engine reads connected" pfs_mount || bail "no mount"

CFG=$WORK/cfg
OUT=$WORK/out
TS=$MNT/tests
LIVE_S=40

# ==== what the first mount holds =================================================================

mkdir "$TS/done" "$TS/empty" "$TS/live"
cp "$CFG/cs.yaml" "$TS/done/config.yaml"
check "tests/done: a run ends succeeded" eq "$(wait_final "done" 600)" "succeeded 1 client finished"
cp "$CFG/bad.yaml" "$TS/done/config.yaml" 2>/dev/null
check "tests/done: a bad config then leaves its error" eq "$(cat "$TS/done/error")" "$BAD_ERROR"
server_only $LIVE_S >"$CFG/live.yaml"
cp "$CFG/live.yaml" "$TS/live/config.yaml"
check "tests/live: a server-only run goes live" wait_until 120 is_running live

# Every file of the finished tests, with its checksum (streams aside).
snapshot() {
	(cd "$TS" && find "done" "empty" -type f ! -name '*.follow' | sort | while IFS= read -r f; do
		printf '%s %s\n' "$(md5sum <"$f" | cut -d' ' -f1)" "$f"
	done)
}

cat "$TS/live/events.follow" >"$OUT/unmount.out" 2>&1 &
READER=$!
BG_PIDS+=("$READER")
wait_until 30 grep -q '"service.ready"' "$OUT/unmount.out"
sleep 1
# The run is at least MIN_AGE_S old at the unmount: a timeout counted from the
# resume instead of the start would end it that much later (checked below).
MIN_AGE_S=15
run_age_s() { python3 -c 'import json,sys,time; print(int(time.time() - json.load(open(sys.argv[1]))["started_ms"] / 1000))' "$TS/live/status.json"; }
old_enough() { [ "$(run_age_s)" -ge $MIN_AGE_S ]; }
wait_until $((MIN_AGE_S + 10)) old_enough
check "a cat of live/events.follow is blocked" pid_alive $READER
ls -R "$MNT" >"$OUT/ls.before" 2>&1
snapshot >"$OUT/files.before"
cp "$TS/live/events" "$OUT/live.events.before"
done_lines=$(wc -l <"$TS/done/events")
cp "$TS/live/status.json" "$OUT/live.status.before"
LIVE_CID=$(cat "$TS/live/services/server/container")
check "the live server's container runs in Docker" \
	eq "$(docker inspect -f '{{.State.Running}}' "$LIVE_CID" 2>&1)" true

# ==== SIGTERM with a stream open and a run live ======================================================

stops() {
	pfs_stop 10 || return 1
	echo "exited after $PFS_STOP_MS ms, exit status $PFS_EXIT"
	[ "$PFS_EXIT" = 0 ] || { tail -n 20 "$LOG"; return 1; }
}
check "SIGTERM: the daemon exits within 10 s, exit status 0" stops
if [ -n "$PFS_PID" ]; then
	# it hangs: get it out of the way so the rest can say what it can
	kill -KILL "$PFS_PID" 2>/dev/null
	wait "$PFS_PID" 2>/dev/null
	PFS_PID=
fi
reader_ends() {
	wait_until 10 eval '! pid_alive $READER' || { echo "still blocked 10 s after the daemon exited"; return 1; }
	wait $READER
	local rc=$?
	[ $rc = 0 ] || { echo "cat exited $rc:"; tail -n 2 "$OUT/unmount.out"; return 1; }
}
check "the blocked reader ends (EOF, exit status 0)" reader_ends
gone() {
	mounted "$MNT" || return 0
	echo "the daemon exited (status ${PFS_EXIT:-?}) but /proc/mounts still lists:"
	grep -F "$MNT" /proc/mounts
	echo "stat: $(stat -c %F "$MNT" 2>&1)"
	echo "the daemon's log:"
	tail -n 20 "$LOG"
	return 1
}
check "the mount is gone from /proc/mounts" gone
mounted "$MNT" && { fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT"; }
check "the live run goes on in Docker while pantherfs is down" \
	eq "$(docker inspect -f '{{.State.Running}}' "$LIVE_CID" 2>&1)" true
old_instance=$INSTANCE

# ==== mounting again on the same state dir ==============================================================

check "pantherfs mounts again on the same state dir" pfs_mount || bail "no second mount"
check "the instance id is the same" eq "$INSTANCE" "$old_instance"
ls -R "$MNT" >"$OUT/ls.after" 2>&1
check "ls -R lists the same tree as before the unmount" same_file "$OUT/ls.before" "$OUT/ls.after"
snapshot >"$OUT/files.after"
check "every file of the finished tests reads the same (configs, events, logs, runs, error)" \
	same_file "$OUT/files.before" "$OUT/files.after"
check "tests/done: its events file has the same line count ($done_lines)" eq "$(wc -l <"$TS/done/events")" "$done_lines"
resumed() {
	python3 - "$OUT/live.events.before" "$TS/live/events" <<'EOF'
import json, sys
before = open(sys.argv[1]).read().splitlines()
after = open(sys.argv[2]).read().splitlines()
print(f"{len(before)} lines before the unmount, {len(after)} after the new mount")
assert after[:len(before)] == before, "the events of before are not the start of the events now"
new = [json.loads(l)["type"] for l in after[len(before):]]
print("new events:", new)
assert "run.resumed" in new, "no run.resumed"
EOF
}
check "tests/live: the events of before are all there, then run.resumed" resumed
check "tests/live: the run was taken up again (status running)" is_running live
check "tests/live: config.yaml reads the same" same_file "$CFG/live.yaml" "$TS/live/config.yaml"

# the resumed run ends as it would have: at its timeout, counted from its start
t0=$(now_us)
timeout $((LIVE_S + 60)) cat "$TS/live/events.follow" >"$OUT/resumed.out"
rc=$?
follow_end() {
	[ $rc = 0 ] || { echo "cat events.follow: exit status $rc after $(ms_since "$t0") ms"; return 1; }
	tail -n 1 "$OUT/resumed.out" | grep -q '"type":"run.succeeded"' || { tail -n 2 "$OUT/resumed.out"; return 1; }
}
check "cat events.follow of the resumed run ends by itself with run.succeeded" follow_end
check "tests/live: status reads succeeded servers ran their $LIVE_S s" \
	eq "$(wait_final live 30)" "succeeded servers ran their $LIVE_S s"
# Not a timing bound: a loaded machine stops the server late (seconds), but
# counting from the resume would add the whole age of the run at the unmount
# (at least MIN_AGE_S).
on_time() {
	python3 - "$TS/live/status.json" "$TS/live/events" "$LIVE_S" <<'EOF'
import json, sys
from datetime import datetime, timezone
j, limit = json.load(open(sys.argv[1])), int(sys.argv[3]) * 1000
def ms(ev):
    t = datetime.strptime(ev["time"][:26].rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f")
    return t.replace(tzinfo=timezone.utc).timestamp() * 1000
evs = [json.loads(l) for l in open(sys.argv[2])]
resumed = ms(next(e for e in evs if e["type"] == "run.resumed" and e.get("run") == j["run"]))
took = j["ended_ms"] - j["started_ms"]
age = resumed - j["started_ms"]
print(f"the run lasted {took} ms; its timeout is {limit} ms; it was resumed {age:.0f} ms after its start")
assert took >= limit - 1000, "ended before its timeout"
assert took < limit + age - 1000, "its timeout was counted from the resume"
EOF
}
check "tests/live: it lasted its timeout counted from its start, not from the resume" on_time
check "tests/live: events are JSON lines, seq 1..N without gaps, with run.resumed and run.succeeded" \
	events_valid "$TS/live/events" run.resumed run.succeeded
check "tests/live: runs/ still holds one run" eq "$(ls "$TS/live/runs" | tr '\n' ' ')" "1 "

pfs_finish
