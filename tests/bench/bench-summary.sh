#!/bin/bash
# SPDX-License-Identifier: MIT
# What `cat summary.tsv` costs through the mount for a test with 1000 runs,
# whole process, against `cat` of a local file of the same size (the floor:
# starting cat and reading a file). The 1000 runs are real ngtcp2 run dirs
# (tests/fixtures/results/, three configurations, one failed run among
# five) copied into a state dir, as pantherfs keeps them; pantherfs reads
# them back when it mounts, which is timed too. Also timed: summary.svg and
# one run's result.json through the mount.
#
#   bench-summary.sh PANTHERFS_BINARY SOURCE_DIR      (TAP on stdout)
#
# Figures are "# " lines; the checks are about the answers (1000 run rows,
# every run counted in the aggregates, the same bytes every time), never
# about a time.
. "$(dirname "$0")/../integration/fs-lib.sh"
pfs_init bench-summary "$@"

N=${PFS_BENCH_ROUNDS:-300}
RUNS=1000
FIX=$SRC/tests/fixtures/results
FIXTURES=(ngtcp2-1M ngtcp2-1M-run2 ngtcp2-1M-run3 ngtcp2-10M-bbr ngtcp2-handshake-timeout)

make_state() {
	local d=$STATE/tests/big i f
	mkdir -p "$d/runs" || return 1
	cp "$FIX/ngtcp2-1M/config.yaml" "$d/config.yaml" || return 1
	printf '{"name":"big","created_ms":%s,"next_run":%s,"series_stopped":false}' \
		"$(($(now_us) / 1000))" $((RUNS + 1)) >"$d/test.json"
	for ((i = 1; i <= RUNS; i++)); do
		f=${FIXTURES[$(((i - 1) % ${#FIXTURES[@]}))]}
		cp -r "$FIX/$f" "$d/runs/$i" || return 1
		# what pantherfs writes when it has followed a log to its end (the fixtures leave it out)
		for l in "$d/runs/$i"/services/*/logs; do
			printf '{"ts":"","n":0,"size":%s}' "$(stat -c %s "$l")" >"${l}.pos"
		done
	done
}
check "a state dir with a test of $RUNS real run dirs" make_state

t0=$(now_us)
check "pantherfs mounts and engine reads connected" pfs_mount || bail "no mount"
B=$MNT/tests/big
built() {
	[ "$(awk -F'\t' '$1 == "run"' "$B/summary.tsv" 2>/dev/null | wc -l)" = $RUNS ]
}
check "summary.tsv has $RUNS run rows once the runs are read back" wait_until 600 built
R_rebuild=$(ms_since "$t0")

cp "$B/summary.tsv" "$WORK/local.tsv"
counted() {
	# the count rows' verdict column: the runs of each configuration, together all of them
	local total
	total=$(awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "verdict") v = i }
		$1 == "count" { s += $v } END { print s }' "$WORK/local.tsv")
	eq "$total" $RUNS
}
check "the aggregates count every run" counted
metrics_there() {
	# the read-back runs have their metrics: 800 received_bytes values (the failed run has none)
	eq "$(awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "client.received_bytes[B]") c = i }
		$1 == "run" && $c != "" { n++ } END { print n + 0 }' "$WORK/local.tsv")" 800
}
check "every succeeded run's metrics were read from its log" metrics_there

# pair_us LABEL FILE_A FILE_B: N rounds of `cat FILE_A` then `cat FILE_B`, each a
# whole process, interleaved so that the machine's load weighs on both
# alike; the mean microseconds of each as R_<LABEL>_a and R_<LABEL>_b.
pair_us() {
	local label=$1 a=$2 b=$3 i t0 ta=0 tb=0
	cat "$a" >/dev/null && cat "$b" >/dev/null || return 1
	for ((i = 0; i < N; i++)); do
		t0=$(now_us)
		cat "$a" >/dev/null || return 1
		ta=$((ta + $(now_us) - t0))
		t0=$(now_us)
		cat "$b" >/dev/null || return 1
		tb=$((tb + $(now_us) - t0))
	done
	printf -v "R_${label}_a" '%s' $((ta / N))
	printf -v "R_${label}_b" '%s' $((tb / N))
}

check "$N x cat summary.tsv through the mount, and of a local file of its size" pair_us tsv "$B/summary.tsv" "$WORK/local.tsv"
check "the mount gave the same bytes after the loop" same_file "$B/summary.tsv" "$WORK/local.tsv"
cp "$B/summary.svg" "$WORK/local.svg"
check "$N x cat summary.svg through the mount, and of a local file of its size" pair_us svg "$B/summary.svg" "$WORK/local.svg"
cp "$B/runs/500/result.json" "$WORK/local.json"
check "$N x cat runs/500/result.json through the mount, and of a local copy" pair_us result "$B/runs/500/result.json" "$WORK/local.json"

ratio() { # ratio A B: A/B with two decimals
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }'
}
diag "$RUNS runs: read back and summarised $R_rebuild ms after pantherfs started (mount included)" \
	"whole-process means over $N interleaved rounds, microseconds:" \
	"$(printf '%-34s %8s   local file %8s   ratio %s' "cat summary.tsv ($(stat -c %s "$WORK/local.tsv") B)" "$R_tsv_a" "$R_tsv_b" "$(ratio "$R_tsv_a" "$R_tsv_b")")" \
	"$(printf '%-34s %8s   local file %8s   ratio %s' "cat summary.svg ($(stat -c %s "$WORK/local.svg") B)" "$R_svg_a" "$R_svg_b" "$(ratio "$R_svg_a" "$R_svg_b")")" \
	"$(printf '%-34s %8s   local file %8s   ratio %s' "cat runs/500/result.json" "$R_result_a" "$R_result_b" "$(ratio "$R_result_a" "$R_result_b")")"
pfs_finish
