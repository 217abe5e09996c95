#!/bin/bash
# Runs one libFuzzer target for a bounded time from the project's own seeds.
# New inputs go to a scratch corpus, never into the source tree; a crash
# input is kept in $PFS_FUZZ_ARTIFACTS (default /tmp) and named in the output.
# Usage: run-fuzz.sh FUZZER SECONDS SEED_DIR...
set -u
bin=$1 secs=$2
shift 2
corpus=$(mktemp -d /tmp/pantherfs-corpus.XXXXXX)
trap 'rm -rf "$corpus"' EXIT
artifacts=${PFS_FUZZ_ARTIFACTS:-/tmp}/
"$bin" -max_total_time="$secs" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
	-artifact_prefix="$artifacts" -print_final_stats=1 "$corpus" "$@" 2>&1 | tail -n 25
exit "${PIPESTATUS[0]}"
