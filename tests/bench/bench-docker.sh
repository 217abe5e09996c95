#!/bin/bash
# SPDX-License-Identifier: MIT
# What users read through the mount against what they would type instead,
# on the same live run, in the same run, as ratios of whole-process medians
# (hyperfine):
#   - cat status, cat status.json, ls -l of the test  vs  docker inspect of
#     its server, docker ps -a of its containers;
#   - cat logs and tail -c 1M logs of a server's log grown to
#     PFS_BENCH_LOG_MB (100) MiB  vs  docker logs and docker logs --tail
#     with the same lines (the log is grown by QUIC probes at a server
#     with its packet trace on, for at most PFS_BENCH_LOG_SECONDS: a busy
#     machine logs more slowly, and the figures say what size was reached);
#   - 50, then 1000 tests: the daemon's resident memory and ls -R of the
#     mount (the tests are made with mkdir and stay empty: a thousand runs
#     would take an hour).
#
#   bench-docker.sh PANTHERFS_BINARY SOURCE_DIR      (TAP on stdout)
#
# Figures are "# " lines. The checks say that what was timed was right (the
# same bytes from both sides, the live run answering) and hold the ratios
# within generous limits; no absolute time is ever checked.
. "$(dirname "$0")/../integration/fs-lib.sh"
pfs_init bench-docker "$@"

TOOL=$SRC/tests/bench/benchtool.py
HF_RUNS=${PFS_BENCH_HF_RUNS:-30}
LOG_MB=${PFS_BENCH_LOG_MB:-100}
LOG_SECONDS=${PFS_BENCH_LOG_SECONDS:-75}
# Limits of the ratio checks: generous, a regression is a multiple.
MAX_READ_VS_CLI=0.5      # a small file against docker inspect / docker ps
MAX_LOGS_VS_CLI=0.5      # the whole log, its last MiB, against docker logs
MAX_LS_GROWTH=60         # ls -R with 1000 tests against 50 (20x the tests)
MAX_RSS_GROWTH=10        # resident memory with 1000 tests against 50
L=$MNT/tests/live
OUT=$WORK/out

command -v hyperfine >/dev/null || bail "hyperfine is needed (Debian's package hyperfine)"

json_get() { python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))[sys.argv[2]], 3))' "$1" "$2"; }
ratio() { python3 -c 'import sys; print(round(float(sys.argv[1]) / float(sys.argv[2]), 3))' "$1" "$2"; }
at_most() {
	python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)' "$1" "$2" && return 0
	echo "$1 is above the limit $2"
	return 1
}
# hf NAME RUNS CMD...: hyperfine, no shell between it and the commands
# (whole processes), medians in ms into $OUT/NAME.json keyed by command.
hf() {
	local name=$1 runs=$2
	shift 2
	hyperfine -N --style none --warmup 1 --runs "$runs" --export-json "$OUT/$name.hf" "$@" >/dev/null 2>"$OUT/$name.err" ||
		{ cat "$OUT/$name.err"; return 1; }
	python3 "$TOOL" hyperfine "$OUT/$name.hf" >"$OUT/$name.json"
}
# med NAME CMD: the median of one command of a hyperfine run, ms
med() {
	python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))[sys.argv[2]]["median_ms"], 2))' "$OUT/$1.json" "$2"
}
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$PFS_PID/status"; }

check "pantherfs mounts and engine reads connected" pfs_mount || bail "no mount"
diag "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"

# a live server with its packet trace on: the reads, then the log source
mkdir "$L"
printf 'timeout: 600\nservices:\n  server: {implementation: {name: ngtcp2}, protocol: {role: server}, config: {verbose: true}}\n' \
	>"$L/config.yaml"
check "a server-only run goes live (status running)" wait_until 120 is_running live
C=$(cat "$L/services/server/container")
IP=$(cat "$L/services/server/address")
FILTER=label=pantherfs.instance=$INSTANCE

# ---- small reads ---------------------------------------------------------------------------

answers_agree() {
	eq "$(status_word live)" running &&
		python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["state"] != "running")' "$L/status.json" &&
		eq "$(docker inspect -f '{{.State.Running}}' "$C")" true &&
		eq "$(docker ps -aq --no-trunc --filter "$FILTER")" "$C" &&
		ls -l "$L" | grep -q ' status.json$'
}
check "both sides say the same: the run and its server are running" answers_agree
check "$HF_RUNS x each read (hyperfine)" hf reads "$HF_RUNS" \
	"cat $L/status" "cat $L/status.json" "ls -l $L" "docker inspect $C" "docker ps -a --filter $FILTER"
M_STATUS=$(med reads "cat $L/status")
M_JSON=$(med reads "cat $L/status.json")
M_LS=$(med reads "ls -l $L")
M_INSPECT=$(med reads "docker inspect $C")
M_PS=$(med reads "docker ps -a --filter $FILTER")
R_STATUS=$(ratio "$M_STATUS" "$M_INSPECT")
R_JSON=$(ratio "$M_JSON" "$M_INSPECT")
R_LS=$(ratio "$M_LS" "$M_PS")
check "cat status / docker inspect <= $MAX_READ_VS_CLI" at_most "$R_STATUS" $MAX_READ_VS_CLI
check "cat status.json / docker inspect <= $MAX_READ_VS_CLI" at_most "$R_JSON" $MAX_READ_VS_CLI
check "ls -l of the test / docker ps -a <= $MAX_READ_VS_CLI" at_most "$R_LS" $MAX_READ_VS_CLI

# ---- a large log ---------------------------------------------------------------------------

grow_log() {
	timeout $((LOG_SECONDS + 30)) python3 "$TOOL" flood "$IP" 4433 $((LOG_MB << 20)) "$L/services/server/logs" \
		"$LOG_SECONDS" >"$OUT/flood.json"
}
check "the server's log grows under QUIC probes (at most $LOG_SECONDS s)" grow_log
check "echo stop > ctl ends the run" eval 'echo stop > "$L/ctl" && wait_until 120 not_live live'
LOGS=$L/services/server/logs
same_bytes() {
	local ours theirs
	ours=$(stat -c %s "$LOGS")
	theirs=$(docker logs "$C" 2>&1 | wc -c)
	LOG_BYTES=$ours
	eq "$ours" "$theirs"
}
check "logs has every byte docker logs gives" same_bytes
TAIL_LINES=$(tail -c 1M "$LOGS" | wc -l)
check "3 x cat logs, docker logs, tail -c 1M, docker logs --tail $TAIL_LINES (hyperfine)" hf logs 3 \
	"cat $LOGS" "docker logs $C" "tail -c 1M $LOGS" "docker logs --tail $TAIL_LINES $C"
M_CAT=$(med logs "cat $LOGS")
M_DLOGS=$(med logs "docker logs $C")
M_TAIL=$(med logs "tail -c 1M $LOGS")
M_DTAIL=$(med logs "docker logs --tail $TAIL_LINES $C")
R_CAT=$(ratio "$M_CAT" "$M_DLOGS")
R_TAIL=$(ratio "$M_TAIL" "$M_DTAIL")
check "cat logs / docker logs <= $MAX_LOGS_VS_CLI" at_most "$R_CAT" $MAX_LOGS_VS_CLI
check "tail -c 1M logs / docker logs --tail <= $MAX_LOGS_VS_CLI" at_most "$R_TAIL" $MAX_LOGS_VS_CLI

# ---- many tests ----------------------------------------------------------------------------

make_tests() {
	local i
	for ((i = $1; i <= $2; i++)); do
		mkdir "$MNT/tests/$(printf 's%04d' "$i")" || return 1
	done
	eq "$(ls "$MNT/tests" | grep -c '^s[0-9]')" "$2"
}
scale_at() {
	local n=$1
	make_tests "$2" "$n" || return 1
	printf -v "RSS_$n" '%s' "$(rss_kb)"
	hf "ls$n" 10 "ls -R $MNT" || return 1
	printf -v "LS_$n" '%s' "$(med "ls$n" "ls -R $MNT")"
}
check "50 tests: resident memory, 10 x ls -R" scale_at 50 1
check "1000 tests: resident memory, 10 x ls -R" scale_at 1000 51
R_LSG=$(ratio "${LS_1000:-0}" "${LS_50:-1}")
R_RSSG=$(ratio "${RSS_1000:-0}" "${RSS_50:-1}")
check "ls -R with 1000 tests / with 50 <= $MAX_LS_GROWTH" at_most "$R_LSG" $MAX_LS_GROWTH
check "resident memory with 1000 tests / with 50 <= $MAX_RSS_GROWTH" at_most "$R_RSSG" $MAX_RSS_GROWTH
check "the 1000 tests go with rmdir" eval 'rmdir "$MNT"/tests/s[0-9]*'

diag "medians, milliseconds (whole processes, hyperfine; $HF_RUNS runs, logs 3)" \
	"$(printf 'read: cat status        %7s   docker inspect %7s   ratio %s' "${M_STATUS:-?}" "${M_INSPECT:-?}" "${R_STATUS:-?}")" \
	"$(printf 'read: cat status.json   %7s   docker inspect %7s   ratio %s' "${M_JSON:-?}" "${M_INSPECT:-?}" "${R_JSON:-?}")" \
	"$(printf 'read: ls -l tests/<t>   %7s   docker ps -a   %7s   ratio %s' "${M_LS:-?}" "${M_PS:-?}" "${R_LS:-?}")" \
	"$(printf 'logs: cat (%s MiB)    %7s   docker logs    %7s   ratio %s' "$(((${LOG_BYTES:-0} + 524288) >> 20))" "${M_CAT:-?}" "${M_DLOGS:-?}" "${R_CAT:-?}")" \
	"$(printf 'logs: tail -c 1M        %7s   docker logs --tail %s %7s   ratio %s' "${M_TAIL:-?}" "${TAIL_LINES:-?}" "${M_DTAIL:-?}" "${R_TAIL:-?}")" \
	"$(printf 'scale: ls -R of the mount  50 tests %s ms, 1000 tests %s ms (x%s)' "${LS_50:-?}" "${LS_1000:-?}" "$R_LSG")" \
	"$(printf 'scale: resident memory     50 tests %s kB, 1000 tests %s kB (x%s)' "${RSS_50:-?}" "${RSS_1000:-?}" "$R_RSSG")"
pfs_finish
