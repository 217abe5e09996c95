#!/bin/bash
# The whole pantherfs test suite, as CI runs it (.ci/run calls this):
#   packages (apt-get) -> a Docker engine and base image -> a -Werror build ->
#   unit + integration suites -> the Swarm suite (a cluster of its own) ->
#   unit suite, the orchestrator's suite and the mount suites under
#   ASan+UBSan -> the orchestrator's suite under ThreadSanitizer -> unit suite
#   under valgrind -> benchmarks (figures printed) -> fuzzers for a bounded
#   time -> one last line
#   "N passed, M failed".
# Usage: sudo bash tests/run-suite.sh   (from the source tree; root installs
# packages and starts dockerd; later runs reuse both)
set -uo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
say() { echo "run-suite: [+${SECONDS}s] $*"; }

pkgs=(meson ninja-build pkg-config gcc python3 libfuse3-dev fuse3 libcurl4-openssl-dev
      libjansson-dev libyaml-dev check libarchive-dev libssl-dev docker.io debootstrap
      valgrind clang-14 libclang-rt-14-dev inotify-tools vim-nox procps docker-registry iproute2
      tshark openssl libplot-dev chromium
      hyperfine docker-compose)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null ||
		{ say "apt-get failed"; echo "0 passed, 1 failed"; exit 1; }
fi

bash tests/prepare-docker-engine.sh || { echo "0 passed, 1 failed"; exit 1; }

build=${PFS_SUITE_BUILD:-$src/build-suite}
asan=$build-asan
logs=()

say "building ($build)"
{ [ -d "$build" ] || meson setup "$build" -Dwerror=true >/dev/null; } &&
	ninja -C "$build" >/dev/null ||
	{ ninja -C "$build" 2>&1 | tail -30; echo "0 passed, 1 failed"; exit 1; }

say "unit and integration suites"
meson test -C "$build" --suite unit --suite integration --print-errorlogs --num-processes 2 \
	| grep -E '^ *[0-9]+/[0-9]+ '
cp "$build/meson-logs/testlog.json" "$build/meson-logs/testlog-main.json"
logs+=("$build/meson-logs/testlog-main.json")

say "the Swarm suite (three engines in namespaces of their own and a registry, ended by pid)"
meson test -C "$build" --suite swarm --print-errorlogs | grep -E '^ *[0-9]+/[0-9]+ '
cp "$build/meson-logs/testlog.json" "$build/meson-logs/testlog-swarm.json"
logs+=("$build/meson-logs/testlog-swarm.json")

say "unit suite under ASan+UBSan ($asan)"
if { [ -d "$asan" ] || meson setup "$asan" -Dwerror=true -Db_sanitize=address,undefined \
	-Db_lundef=false >/dev/null; } && ninja -C "$asan" >/dev/null; then
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C "$asan" --suite unit --print-errorlogs | grep -E '^ *[0-9]+/[0-9]+ '
	cp "$asan/meson-logs/testlog.json" "$asan/meson-logs/testlog-asan.json"
	logs+=("$asan/meson-logs/testlog-asan.json")
	say "the orchestrator's integration suite under ASan+UBSan"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 CK_FORK=no \
		meson test -C "$asan" engine --print-errorlogs | grep -E '^ *[0-9]+/[0-9]+ '
	cp "$asan/meson-logs/testlog.json" "$asan/meson-logs/testlog-asan-engine.json"
	logs+=("$asan/meson-logs/testlog-asan-engine.json")
	say "the mount suites under ASan+UBSan (the daemon built with them)"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C "$asan" fs-session fs-editors fs-streams fs-concurrency fs-hardening fs-hostile fs-results --num-processes 1 --print-errorlogs \
		| grep -E '^ *[0-9]+/[0-9]+ '
	cp "$asan/meson-logs/testlog.json" "$asan/meson-logs/testlog-asan-mount.json"
	logs+=("$asan/meson-logs/testlog-asan-mount.json")
else
	say "ASan build failed"
	logs+=("$asan/meson-logs/missing.json")
fi

tsan=$build-tsan
say "the orchestrator's integration suite under ThreadSanitizer ($tsan)"
if { [ -d "$tsan" ] || meson setup "$tsan" -Dwerror=true -Db_sanitize=thread -Db_lundef=false >/dev/null; } &&
	ninja -C "$tsan" >/dev/null; then
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$src/tests/tsan.supp" CK_FORK=no \
		meson test -C "$tsan" engine --print-errorlogs | grep -E '^ *[0-9]+/[0-9]+ '
	cp "$tsan/meson-logs/testlog.json" "$tsan/meson-logs/testlog-tsan.json"
	logs+=("$tsan/meson-logs/testlog-tsan.json")
else
	say "TSan build failed"
	logs+=("$tsan/meson-logs/missing.json")
fi

say "unit suite under valgrind (the C tests: the shell-script tests would check bash)"
meson test -C "$build" --suite unit --no-suite shell --setup valgrind --print-errorlogs | grep -E '^ *[0-9]+/[0-9]+ '
cp "$build/meson-logs/testlog-valgrind.json" "$build/meson-logs/testlog-vg.json" 2>/dev/null
logs+=("$build/meson-logs/testlog-vg.json")

say "benchmarks (figures below; they check their answers, and the comparisons hold ratios within generous limits, never absolute times)"
meson test -C "$build" --benchmark --logbase bench --print-errorlogs | grep -E '^ *[0-9]+/[0-9]+ '
grep -E '^(# (whole|  |cat |stat |ls |machine:|medians|read:|logs:|run:|exit->|scale:)|logs:|ndjson:|config )' \
	"$build/meson-logs/bench.txt" | sed 's/^/  /'
logs+=("$build/meson-logs/bench.json")

fuzz=$build-fuzz
say "fuzzers, ${PFS_FUZZ_SECONDS:-60} s each, under ASan+UBSan ($fuzz)"
if { [ -d "$fuzz" ] || CC=clang-14 meson setup "$fuzz" -Dfuzz=true -Dtests=false \
	-Dfuzz_seconds="${PFS_FUZZ_SECONDS:-60}" -Db_sanitize=address,undefined -Db_lundef=false \
	-Dc_args=-fsanitize=fuzzer-no-link >/dev/null; } && ninja -C "$fuzz" >/dev/null; then
	meson test -C "$fuzz" --suite fuzz --print-errorlogs | grep -E '^ *[0-9]+/[0-9]+ '
	cp "$fuzz/meson-logs/testlog.json" "$fuzz/meson-logs/testlog-fuzz.json"
	logs+=("$fuzz/meson-logs/testlog-fuzz.json")
else
	say "fuzz build failed"
	logs+=("$fuzz/meson-logs/missing.json")
fi

python3 tests/tap-summary.py "${logs[@]}"
