#!/bin/bash
# SPDX-License-Identifier: MIT
# Results through the mount, with real ngtcp2 runs on the real engine:
#   - `iterations: 3` gives three runs, one after the other, status saying
#     "running iteration 2/3" on the way, events carrying the iteration,
#     and summary.tsv a row per run plus aggregate rows (count 3, pass
#     rate 1);
#   - a download's metrics in result.json are what its log says (bytes:
#     the file's size; time: the log line's microseconds);
#   - runs that fail: a client whose packets never reach its server
#     (verdict failed, exit 1, every metric null with the reason), the same
#     client killed while it tries (stopped, "was stopped before printing
#     it"), a server-only test killed (stopped, killed);
#   - `stop` in the middle of a series ends it (no further run begins), and
#     `start` begins a new series from 1;
#   - SIGKILL of pantherfs in the middle of a series, and a restart: the
#     series completes, and what ended before the kill reads the same bytes;
#     a series whose next iteration had not begun goes on after a restart;
#   - summary.svg as served by the mount, in headless chromium (not blank,
#     points in the configuration's colour) and its points equal
#     summary.tsv's (tests/unit/svg-check.py);
#   - the root's summary.tsv: one row per test, its last run.
#
#   fs-results.sh PANTHERFS_BINARY SOURCE_DIR      (TAP on stdout)
. "$(dirname "$0")/fs-lib.sh"
pfs_init fs-results "$@"

OUT=$WORK/out
CFG=$WORK/cfg
SVGCHECK=$SRC/tests/unit/svg-check.py
T=$MNT/tests

# ---- configs -----------------------------------------------------------------------------------

pair() { # pair ITERATIONS CLIENT_CONFIG
	printf 'iterations: %s\nservices:\n' "$1"
	printf '  server: {timeout: 60, implementation: {name: ngtcp2}, protocol: {role: server}}\n'
	printf '  client: {timeout: 60, implementation: {name: ngtcp2}, protocol: {role: client, target: server}, config: %s}\n' "$2"
}
pair 3 '{download: 1M}' >"$CFG/series.yaml"
# every packet the client sends is lost: the handshake times out, gtlsclient leaves no file, exit 1
pair 1 '{download: 1M, tx-loss: 1.0, handshake-timeout: 2s}' >"$CFG/unreachable.yaml"
pair 1 '{download: 1M, tx-loss: 1.0, handshake-timeout: 120s}' >"$CFG/trying.yaml"
server_only 600 >"$CFG/soak.yaml"
printf 'iterations: 5\ntimeout: 4\nservices:\n  server: {implementation: {name: ngtcp2}, protocol: {role: server}}\n' >"$CFG/soak-series.yaml"

# ---- helpers -----------------------------------------------------------------------------------

# jq-like checks in python: json_check FILE EXPR [MESSAGE]: EXPR (python, d = the JSON) is true.
json_check() {
	python3 - "$@" <<'EOF'
import json, sys
path, expr = sys.argv[1], sys.argv[2]
try:
    d = json.load(open(path))
except (OSError, ValueError) as e:
    print(f"{path}: {e}")
    sys.exit(1)
ok = eval("(" + expr + ")", {"d": d})  # parenthesised: an expression may span lines
if not ok:
    print(f"{path}: not true: {expr}")
    print(json.dumps(d, indent=1)[:3000])
sys.exit(0 if ok else 1)
EOF
}

# A file of the mount, read until it can be (EAGAIN while the engine builds it), into OUT/NAME.
grab() { # grab PATH NAME
	wait_until 30 cp "$1" "$OUT/$2" || { echo "$1: $(cat "$1" 2>&1 | head -c 200)"; return 1; }
}

# The "run" rows of a summary.tsv: prints their count.
run_rows() {
	awk -F'\t' '$1 == "run"' "$1" 2>/dev/null | wc -l
}

has_run_rows() { # has_run_rows PATH N
	[ "$(run_rows "$1")" = "$2" ]
}

# Status lines of a test, every 50 ms, into FILE, until it is killed.
watch_status() { # watch_status TEST FILE
	(while :; do cat "$T/$1/status" 2>/dev/null; sleep 0.05; done) >"$2" &
	BG_PIDS+=($!)
	WATCH_PID=$!
}

unwatch() {
	kill "$WATCH_PID" 2>/dev/null
	wait "$WATCH_PID" 2>/dev/null
	return 0
}

status_has() { # status_has TEST REGEX
	grep -Eq -- "$2" "$T/$1/status" 2>/dev/null
}

check "pantherfs mounts and engine reads connected" pfs_mount || bail "no mount"
check "the root lists summary.tsv, which has its header before any test" \
	eval 'ls "$MNT" | grep -qx summary.tsv && grab "$MNT/summary.tsv" root0 && eq "$(cat "$OUT/root0")" "$(printf "test\trun\titeration\ttime\tverdict\treason\tservices\tmetrics")"'

# ---- a series of three ------------------------------------------------------------------------

mkdir "$T/ser"
check "a new test lists result.json and its summaries; result.json says there is no run" \
	eval 'for f in result.json summary.tsv summary.json summary.svg; do ls "$T/ser" | grep -qx "$f" || { echo "no $f"; exit 1; }; done;
		grab "$T/ser/result.json" ser-empty && json_check "$OUT/ser-empty" "d[\"run\"] is None and d[\"verdict\"] == \"empty\""'
watch_status ser "$OUT/ser.statuses"
cp "$CFG/series.yaml" "$T/ser/config.yaml"
check "iterations: 3 runs three times and ends: succeeded iteration 3/3" \
	eval 'wait_until 600 status_has ser "^(succeeded|failed|stopped|error) iteration 3/3" && status_has ser "^succeeded iteration 3/3"' ||
	diag "status: $(cat "$T/ser/status")"
unwatch
check "status said \"running iteration 2/3\" while the second run went on" \
	grep -q "^running iteration 2/3: " "$OUT/ser.statuses"
check "status said building and starting with the iteration too" \
	eval 'grep -q "^starting iteration 1/3: " "$OUT/ser.statuses" && grep -q "^starting iteration 3/3: " "$OUT/ser.statuses"'
check "runs/ holds exactly runs 1, 2, 3 (one config write)" eq "$(ls "$T/ser/runs" | tr '\n' ' ')" "1 2 3 "
check "each run's result.json: iteration n of 3, succeeded" eval '
	for n in 1 2 3; do
		grab "$T/ser/runs/$n/result.json" "ser-$n.json" &&
		json_check "$OUT/ser-$n.json" "d[\"run\"] == $n and d[\"iteration\"] == $n and d[\"iterations\"] == 3 and d[\"verdict\"] == \"succeeded\"" || exit 1
	done'
check "run.started of each run carries its iteration, and every event of a run in the series carries it" \
	python3 - "$T/ser/runs" <<'EOF'
import json, sys
for n in (1, 2, 3):
    evs = [json.loads(l) for l in open(f"{sys.argv[1]}/{n}/events")]
    started = [e for e in evs if e["type"] == "run.started"]
    if len(started) != 1 or started[0]["data"].get("iteration") != n or started[0]["data"].get("iterations") != 3:
        sys.exit(f"run {n}: run.started is {started}")
    bad = [e["type"] for e in evs if e.get("iteration") != n]
    if bad:
        sys.exit(f"run {n}: events without iteration {n}: {bad}")
EOF

# the download's metrics against the client's own log line, run by run
check "received_bytes is the file's size and duration the log's microseconds, in every run" \
	python3 - "$T/ser/runs" "$OUT" <<'EOF'
import json, re, sys
for n in (1, 2, 3):
    log = open(f"{sys.argv[1]}/{n}/services/client/logs").read()
    m = re.findall(r"pantherfs: received (\d+) bytes in (\d+) microseconds", log)
    if len(m) != 1:
        sys.exit(f"run {n}: the log has {len(m)} download lines: {log[:500]}")
    size, us = int(m[0][0]), int(m[0][1])
    if size != 1048576:  # 1M as docker/ngtcp2/Dockerfile makes it
        sys.exit(f"run {n}: the log says {size} bytes arrived, the file has 1048576")
    mx = json.load(open(f"{sys.argv[2]}/ser-{n}.json"))["services"]["client"]["metrics"]
    got = {k: v["value"] for k, v in mx.items()}
    if got["received_bytes"] != size or mx["received_bytes"]["unit"] != "B":
        sys.exit(f"run {n}: received_bytes {mx['received_bytes']}, the log {size}")
    if abs(got["duration"] - us / 1e6) > 1e-12 or mx["duration"]["unit"] != "s":
        sys.exit(f"run {n}: duration {mx['duration']}, the log {us} us")
    if abs(got["throughput"] - size * 8e6 / us) > 1e-6 * got["throughput"]:
        sys.exit(f"run {n}: throughput {got['throughput']}, from the log {size * 8e6 / us}")
    print(f"run {n}: {size} B in {us} us")
EOF

ser_summary_ok() {
	wait_until 60 has_run_rows "$T/ser/summary.tsv" 3 && grab "$T/ser/summary.tsv" ser.tsv || return 1
	python3 - "$OUT/ser.tsv" "$OUT" <<'EOF'
import json, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().split("\n") if l]
head, body = rows[0], rows[1:]
col = {h: i for i, h in enumerate(head)}
runs = [r for r in body if r[0] == "run"]
if [r[col["run"]] for r in runs] != ["1", "2", "3"]:
    sys.exit("run rows: %r" % runs)
its = [r[col["iteration"]] for r in runs]
if its != ["1/3", "2/3", "3/3"]:
    sys.exit("iterations: %r" % its)
agg = {r[0]: r for r in body if r[0] != "run"}
if agg["count"][col["verdict"]] != "3" or agg["pass_rate"][col["verdict"]] != "1":
    sys.exit("count %r, pass_rate %r" % (agg["count"], agg["pass_rate"]))
b = col["client.received_bytes[B]"]
if [agg[k][b] for k in ("count", "min", "max", "stddev")] != ["3", "1048576", "1048576", "0"]:
    sys.exit("received_bytes aggregates: %r" % [agg[k][b] for k in agg])
d = col["client.duration[s]"]
durs = sorted(json.load(open("%s/ser-%d.json" % (sys.argv[2], n)))["services"]["client"]["metrics"]["duration"]["value"]
              for n in (1, 2, 3))
got = [float(agg[k][d]) for k in ("min", "median", "max")]
if got != durs:
    sys.exit("duration min/median/max %r, the results' %r" % (got, durs))
print("durations %r" % durs)
EOF
}
check "summary.tsv: a row per run, then count 3 and pass rate 1 for the one configuration" ser_summary_ok
check "summary.json has the same three runs" eval 'grab "$T/ser/summary.json" ser-sum.json &&
	json_check "$OUT/ser-sum.json" "[r[\"run\"] for r in d[\"runs\"]] == [1, 2, 3] and d[\"test\"] == \"ser\""'
check "result.json beside status is the last run's" eval 'grab "$T/ser/result.json" ser-cur.json && same_file "$OUT/ser-cur.json" "$OUT/ser-3.json"'

# ---- summary.svg, as the mount serves it -----------------------------------------------------------

check "summary.svg's points equal summary.tsv's runs (read through the mount)" \
	python3 "$SVGCHECK" points "$T/ser/summary.svg" "$T/ser/summary.tsv"
browser=$(command -v chromium || command -v chromium-browser)
shot_ok() {
	local pid t
	[ -n "$browser" ] || { echo "chromium is not installed (tests/run-suite.sh installs it)"; return 1; }
	mkdir -p "$WORK/profile"
	"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$WORK/profile" --screenshot="$OUT/ser.png" --window-size=1000,1400 \
		"file://$T/ser/summary.svg" >"$OUT/browser.log" 2>&1 &
	pid=$!
	BG_PIDS+=($pid)
	for ((t = 0; t < 1200; t++)); do
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 $pid 2>/dev/null; then
		echo "chromium did not finish its screenshot within 120 s"
		return 1
	fi
	wait $pid
	[ -s "$OUT/ser.png" ] || { echo "no screenshot"; tail -n 20 "$OUT/browser.log"; return 1; }
	python3 "$SVGCHECK" screenshot "$OUT/ser.png" '#1f77b4'
}
check "headless chromium draws the mount's summary.svg: not blank, the points in their colour" shot_ok

# ---- runs that fail -----------------------------------------------------------------------------

mkdir "$T/unreach"
cp "$CFG/unreachable.yaml" "$T/unreach/config.yaml"
check "a client whose packets never arrive: the run fails" \
	eval 'wait_final unreach 300 >/dev/null; status_has unreach "^failed client client exited 1"' ||
	diag "status: $(cat "$T/unreach/status")"
check "its result.json: verdict failed, exit 1, every metric null with the reason" eval '
	grab "$T/unreach/runs/1/result.json" unreach.json &&
	json_check "$OUT/unreach.json" "d[\"verdict\"] == \"failed\" and d[\"reason\"] == \"client client exited 1\" and
		d[\"services\"][\"client\"][\"exit_code\"] == 1 and d[\"iterations\"] == 1 and
		len(d[\"services\"][\"client\"][\"metrics\"]) == 3 and
		all(m[\"value\"] is None and \"(the client exited 1 before printing it)\" in m[\"reason\"]
		    for m in d[\"services\"][\"client\"][\"metrics\"].values())"'

mkdir "$T/trying"
cp "$CFG/trying.yaml" "$T/trying/config.yaml"
client_running() {
	[ "$(cat "$T/trying/services/client/status" 2>/dev/null)" = running ]
}
check "a client that keeps trying to reach its server runs" wait_until 300 client_running
check "the live result.json says so: verdict running, the client's metrics not yet there" eval '
	wait_until 10 json_check "$T/trying/result.json" "d[\"verdict\"] == \"running\" and d[\"services\"][\"client\"][\"timings_ms\"][\"started\"] is not None" &&
	grab "$T/trying/result.json" trying-live.json &&
	json_check "$OUT/trying-live.json" "all(m[\"value\"] is None and m[\"reason\"].endswith(\" yet\") for m in d[\"services\"][\"client\"][\"metrics\"].values())"'
echo kill >"$T/trying/ctl"
check "killed: the run is stopped" eval 'wait_final trying 120 >/dev/null; status_has trying "^stopped killed"'
check "its result.json: stopped, killed, the client's metrics null: stopped before printing them" eval '
	grab "$T/trying/runs/1/result.json" trying.json &&
	json_check "$OUT/trying.json" "d[\"verdict\"] == \"stopped\" and d[\"reason\"] == \"killed\" and
		d[\"services\"][\"client\"][\"stopped\"] and
		all(m[\"value\"] is None and \"(the client was stopped before printing it)\" in m[\"reason\"]
		    for m in d[\"services\"][\"client\"][\"metrics\"].values())"'

mkdir "$T/soak"
cp "$CFG/soak.yaml" "$T/soak/config.yaml"
check "a server-only test goes live" wait_until 300 is_running soak
echo kill >"$T/soak/ctl"
check "killed, its result.json: stopped, killed, the server stopped with its exit code" eval '
	wait_final soak 120 >/dev/null && grab "$T/soak/runs/1/result.json" soak.json &&
	json_check "$OUT/soak.json" "d[\"verdict\"] == \"stopped\" and d[\"reason\"] == \"killed\" and
		d[\"services\"][\"server\"][\"stopped\"] and d[\"services\"][\"server\"][\"exit_code\"] is not None and
		d[\"timings_ms\"][\"end\"] is not None"'

# ---- stop in the middle of a series ----------------------------------------------------------------

mkdir "$T/stopser"
cp "$CFG/soak-series.yaml" "$T/stopser/config.yaml"
check "a series of 5 server soaks reaches \"running iteration 2/5\"" \
	wait_until 300 status_has stopser "^running iteration 2/5: "
check "result.json beside status is the live run 2's" eval '
	wait_until 10 json_check "$T/stopser/result.json" "d[\"run\"] == 2 and d[\"iteration\"] == 2 and d[\"iterations\"] == 5 and d[\"verdict\"] == \"running\""'
echo stop >"$T/stopser/ctl"
check "stop: the run ends as stopped iteration 2/5" \
	eval 'wait_final stopser 120 >/dev/null; status_has stopser "^stopped iteration 2/5: stopped"'
sleep 8 # two soaks' worth: a series that went on would have begun its next run
check "no further run begins: still 2 runs, still stopped" \
	eval 'eq "$(nruns stopser)" 2 && status_has stopser "^stopped iteration 2/5" && eq "$(count_events "$T/stopser/events" run.started)" 2'
echo start >"$T/stopser/ctl"
check "start begins a new series from 1 (run 3, iteration 1/5)" \
	wait_until 300 status_has stopser "^[a-z]+ iteration 1/5"
check "run 3 is iteration 1 of 5" eval 'wait_until 30 json_check "$T/stopser/result.json" "d[\"run\"] == 3 and d[\"iteration\"] == 1"'
echo stop >"$T/stopser/ctl"
check "stopped again" eval 'wait_final stopser 120 >/dev/null; status_has stopser "^stopped iteration 1/5"'

# ---- SIGKILL in the middle of a series ---------------------------------------------------------------

mkdir "$T/ks"
cp "$CFG/series.yaml" "$T/ks/config.yaml"
check "a second series reaches its second iteration" \
	wait_until 600 status_has ks "^[a-z]+ iteration 2/3"
check "run 1's result.json before the kill" grab "$T/ks/runs/1/result.json" ks-1.before
kill -KILL "$PFS_PID"
wait "$PFS_PID" 2>/dev/null
PFS_PID=
fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT"
check "pantherfs comes back on the same state dir" pfs_mount || bail "no mount after the kill"
check "the series completes: succeeded iteration 3/3" \
	eval 'wait_until 600 status_has ks "^(succeeded|failed|stopped|error) iteration 3/3"; status_has ks "^succeeded iteration 3/3"' ||
	diag "status: $(cat "$T/ks/status")"
check "runs 1, 2, 3, each iteration n of 3, no run twice" eval '
	eq "$(ls "$T/ks/runs" | tr "\n" " ")" "1 2 3 " &&
	for n in 1 2 3; do
		grab "$T/ks/runs/$n/result.json" "ks-$n.json" &&
		json_check "$OUT/ks-$n.json" "d[\"iteration\"] == $n and d[\"iterations\"] == 3 and d[\"verdict\"] == \"succeeded\"" || exit 1
	done'
check "run 1's result.json, read back from the state dir, has the same bytes" same_file "$OUT/ks-1.json" "$OUT/ks-1.before"
ks_count() {
	wait_until 60 has_run_rows "$T/ks/summary.tsv" 3 && grab "$T/ks/summary.tsv" ks.tsv || return 1
	# count: the runs (verdict column) and the values of each metric
	eq "$(awk -F'\t' '$1 == "count" { print $10, $11, $12, $13 }' "$OUT/ks.tsv")" "3 3 3 3"
}
check "its summary.tsv: 3 runs, count 3" ks_count

# A kill between two iterations leaves run i ended and run i+1 not begun: made
# here from the finished series (runs 2 and 3 and their containers gone).
check "pantherfs stops (SIGTERM)" pfs_stop 20
fusermount3 -u "$MNT" 2>/dev/null
rm -rf "$STATE/tests/ks/runs/2" "$STATE/tests/ks/runs/3"
docker rm -f $(docker ps -aq --filter "label=pantherfs.instance=$INSTANCE" --filter label=pantherfs.test=ks \
	--filter label=pantherfs.run=2) $(docker ps -aq --filter "label=pantherfs.instance=$INSTANCE" \
	--filter label=pantherfs.test=ks --filter label=pantherfs.run=3) >/dev/null 2>&1
python3 - "$STATE/tests/ks/test.json" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
j["next_run"] = 2
json.dump(j, open(sys.argv[1], "w"))
EOF
check "pantherfs comes back on a state dir killed between iterations 1 and 2" pfs_mount || bail "no mount"
check "the series goes on from iteration 2 and completes" \
	eval 'wait_until 600 status_has ks "^(succeeded|failed|stopped|error) iteration 3/3"; status_has ks "^succeeded iteration 3/3" &&
		eq "$(ls "$T/ks/runs" | tr "\n" " ")" "1 2 3 " &&
		wait_until 30 json_check "$T/ks/runs/2/result.json" "d[\"iteration\"] == 2"' ||
	diag "status: $(cat "$T/ks/status")" "runs: $(ls "$T/ks/runs" | tr '\n' ' ')"
check "a stopped series stays stopped after a restart" eval 'status_has stopser "^stopped iteration 1/5" && eq "$(nruns stopser)" 3'
check "ser's summary.tsv after the restarts: the same bytes" eval 'wait_until 60 has_run_rows "$T/ser/summary.tsv" 3 && same_file "$T/ser/summary.tsv" "$OUT/ser.tsv"'

# ---- the root's summary.tsv ---------------------------------------------------------------------------

root_rows() {
	[ "$(tail -n +2 "$MNT/summary.tsv" | wc -l)" = 6 ]
}
root_ok() {
	wait_until 30 root_rows && grab "$MNT/summary.tsv" root.tsv || return 1
	python3 - "$OUT/root.tsv" "$T" <<'EOF'
import json, os, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().split("\n")[1:] if l]
tests = sorted(os.listdir(sys.argv[2]))
if [r[0] for r in rows] != tests:
    sys.exit("rows %r, tests %r" % ([r[0] for r in rows], tests))
for r in rows:
    last = max(int(n) for n in os.listdir("%s/%s/runs" % (sys.argv[2], r[0])))
    res = json.load(open("%s/%s/runs/%d/result.json" % (sys.argv[2], r[0], last)))
    if int(r[1]) != last or r[4] != res["verdict"] or r[5] != res["reason"]:
        sys.exit("%s: row %r, its last run %d: %s %s" % (r[0], r[:6], last, res["verdict"], res["reason"]))
print(" ".join("%s:%s:%s" % (r[0], r[1], r[4]) for r in rows))
EOF
}
check "the root's summary.tsv: one row per test, its last run and verdict" root_ok

pfs_finish
