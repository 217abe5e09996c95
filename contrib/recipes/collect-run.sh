#!/bin/bash
# Collects one run (config, status, events, build log, each service's command,
# status and logs) into a tar.gz, for a bug report or an archive.
#   collect-run.sh MOUNTPOINT TEST RUN OUT.tar.gz      (RUN: a number, or "last")
set -eu
mnt=$1 test=$2 run=$3 out=$4
runs=$mnt/tests/$test/runs
[ "$run" = last ] && run=$(ls "$runs" | sort -n | tail -n 1)
[ -d "$runs/$run" ] || { echo "no run $run of test $test" >&2; exit 1; }
tar -C "$runs" -czf "$out" --transform "s,^$run,$test-run-$run," "$run"
echo "$out: $(tar -tzf "$out" | wc -l) entries of run $run of $test"
