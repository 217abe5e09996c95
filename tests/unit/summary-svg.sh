#!/bin/bash
# SPDX-License-Identifier: MIT
# summary.svg as people see it (prints TAP):
#   - built by results-tool from result.json files: the real ngtcp2 runs of
#     tests/fixtures/results/ (3 configurations, a failed run with null
#     metrics), and 40 generated runs (4 configurations, negative values,
#     values from 1e-4 to 1e10, nulls);
#   - its points read back through its own axis labels equal summary.tsv
#     (svg-check.py points);
#   - the same bytes when built twice;
#   - rendered by a real headless browser (Debian's chromium): the screenshot
#     is not blank and shows points in each configuration's colour.
# Usage: summary-svg.sh RESULTS_TOOL SOURCE_DIR
set -u
. "$(dirname "$0")/../support/bounded.sh"
tool=$1
src=$2
check=$src/tests/unit/svg-check.py
n=0
fail=0
work=$(mktemp -d /var/tmp/pfs-svg.XXXXXX) || exit 1
browser_pid=
cleanup() {
	[ -n "$browser_pid" ] && stop_pid "$browser_pid"
	[ -n "${PFS_KEEP_SVG:-}" ] && cp -r "$work" "$PFS_KEEP_SVG"
	rm -rf "$work"
}
trap cleanup EXIT
tap() { n=$((n + 1)); if [ "$1" = ok ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; fi; }
show() { sed 's/^/#   /' | head -n 40; }

# the real runs, as the run dirs the state dir keeps
mkdir -p "$work/real" "$work/gen"
i=0
for d in ngtcp2-1M ngtcp2-1M-run2 ngtcp2-1M-run3 ngtcp2-10M-bbr ngtcp2-handshake-timeout; do
	i=$((i + 1))
	"$tool" result "$src" "$src/tests/fixtures/results/$d" dl "$i" > "$work/real/r$i.json" 2> "$work/err" ||
		{ tap fail "result.json of $d"; show < "$work/err"; }
done
# generated runs: 4 configurations x 10 runs, deterministic values
python3 - "$work/gen" <<'PY'
import json, math, sys
for i in range(40):
    conf = i % 4
    run = i + 1
    tput = None if i % 13 == 5 else 1e10 * (0.2 + 0.15 * conf + 0.01 * math.sin(i))
    delta = -50 + 7.5 * i + 3 * conf
    small = 1e-4 * (1 + i % 7)
    metrics = {"throughput": {"value": tput, "unit": "bit/s"} if tput is not None
               else {"value": None, "unit": "bit/s", "reason": "no line matched"},
               "delta": {"value": delta, "unit": "ms"}, "rtt": {"value": small, "unit": "s"}}
    res = {"test": "gen", "run": run, "iteration": i // 4 + 1, "iterations": 10,
           "verdict": "failed" if i % 6 == 0 else "succeeded", "reason": "",
           "time": "2026-12-03T10:%02d:00.000000Z" % (i % 60),
           "settings": {"client.congestion_control": ["cubic", "bbr", "newreno", "copa"][conf],
                        "network.latency": 10 * (conf // 2)},
           "services": {"server": {"implementation": "mvfst", "version": "rfc9000", "metrics": {}},
                        "client": {"implementation": "mvfst", "version": "rfc9000", "metrics": metrics}}}
    with open("%s/r%02d.json" % (sys.argv[1], run), "w") as f:
        json.dump(res, f)
PY

for set in real gen; do
	d=$work/$set
	if "$tool" summary "$set" "$d" "$d"/r*.json 2> "$work/err"; then
		tap ok "$set: summary.tsv, summary.json, summary.svg written"
	else
		tap fail "$set: summary"
		show < "$work/err"
		continue
	fi
	out=$(python3 "$check" points "$d/summary.svg" "$d/summary.tsv" 2>&1)
	if [ $? -eq 0 ]; then tap ok "$set: ${out#svg-check: }"; else tap fail "$set: points"; echo "$out" | show; fi
	mkdir -p "$d/again"
	"$tool" summary "$set" "$d/again" "$d"/r*.json 2>/dev/null
	if cmp -s "$d/summary.svg" "$d/again/summary.svg" && cmp -s "$d/summary.tsv" "$d/again/summary.tsv" &&
		cmp -s "$d/summary.json" "$d/again/summary.json"; then
		tap ok "$set: the same bytes when built again"
	else
		tap fail "$set: outputs differ between two builds"
	fi
done

# the real browser: a new empty profile, no network services, bounded
browser=$(command -v chromium || command -v chromium-browser)
if [ -z "$browser" ]; then
	tap fail "chromium is not installed (tests/run-suite.sh installs it)"
else
	for set in real:#1f77b4,#d62728 gen:#1f77b4,#d62728,#2ca02c,#9467bd; do
		name=${set%%:*}
		colors=${set#*:}
		d=$work/$name
		[ -s "$d/summary.svg" ] || continue
		rm -rf "$work/profile"
		mkdir -p "$work/profile"
		"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
			--disable-background-networking --disable-component-update --disable-sync \
			--user-data-dir="$work/profile" --screenshot="$d/shot.png" --window-size=1000,1400 \
			"file://$d/summary.svg" > "$work/browser.log" 2>&1 &
		browser_pid=$!
		for ((t = 0; t < 1200; t++)); do
			kill -0 "$browser_pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$browser_pid" 2>/dev/null; then
			tap fail "$name: chromium did not finish its screenshot within 120 s"
			stop_pid "$browser_pid"
			browser_pid=
			continue
		fi
		wait "$browser_pid"
		browser_pid=
		if [ ! -s "$d/shot.png" ]; then
			tap fail "$name: chromium wrote no screenshot"
			show < "$work/browser.log"
			continue
		fi
		# shellcheck disable=SC2086
		out=$(python3 "$check" screenshot "$d/shot.png" ${colors//,/ } 2>&1)
		if [ $? -eq 0 ]; then tap ok "$name: chromium: ${out#svg-check: }"; else tap fail "$name: chromium"; echo "$out" | show; fi
	done
fi

echo "1..$n"
exit $fail
