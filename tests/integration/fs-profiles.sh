#!/bin/bash
# SPDX-License-Identifier: MIT
# Profiles a user can read: a server that pantherfs stops at the end of its
# soak, under gperf_cpu and under gperf_heap (gperftools writes a profile
# only at a normal exit: the wrappers flush it on the stop), and a client
# that exits by itself. Through the mount: results/ lists the profile and
# its google-pprof text, both non-empty, the text a real profile report.
#
#   fs-profiles.sh PANTHERFS_BINARY SOURCE_DIR      (TAP on stdout)
. "$(dirname "$0")/fs-lib.sh"
pfs_init fs-profiles "$@"

CFG=$WORK/cfg
check "pantherfs mounts and engine reads connected" pfs_mount || bail "no mount"

profiled() {
	printf 'execution_environment: [{type: %s}]\ntimeout: 4\nservices:\n' "$1"
	printf '  server: {implementation: {name: ngtcp2}, protocol: {role: server}}\n'
	printf '  client: {implementation: {name: ngtcp2}, protocol: {role: client, target: server}, config: {download: 10M}}\n'
}
soak() {
	printf 'execution_environment: [{type: %s}]\ntimeout: 4\nservices:\n' "$1"
	printf '  server: {implementation: {name: ngtcp2}, protocol: {role: server}}\n'
}

for kind in cpu heap; do
	T=$MNT/tests/$kind
	mkdir "$T"
	soak "gperf_$kind" >"$CFG/$kind.yaml"
	cp "$CFG/$kind.yaml" "$T/config.yaml"
	check "gperf_$kind server soak: succeeds (stopped at its end)" eq "$(wait_final "$kind" 300 | cut -d' ' -f1)" succeeded
	R=$T/services/server/results
	case $kind in
	cpu) prof=$R/cpu.prof txt=$R/cpu.txt ;;
	heap) prof=$(ls "$R"/heap*.heap 2>/dev/null | tail -n 1) txt=$R/heap.txt ;;
	esac
	check "gperf_$kind: results/ lists a non-empty profile of the stopped server ($(ls "$R" | tr '\n' ' '))" \
		eval '[ -n "$prof" ] && [ -s "$prof" ]'
	# an idle server may have taken no CPU sample: the pair below checks the report itself
	check "gperf_$kind: results/ has google-pprof's text of it" eval '
		[ -s "$txt" ] && grep -q "Using local file" "$txt" || { head -n 5 "$txt"; false; }'
	check "gperf_$kind: frozen under runs/1/ too" eval '[ -s "$T/runs/1/services/server/results/${txt##*/}" ]'
done

T=$MNT/tests/client
mkdir "$T"
profiled gperf_cpu >"$CFG/client.yaml"
cp "$CFG/client.yaml" "$T/config.yaml"
check "gperf_cpu pair: the client finishes" eq "$(wait_final client 300)" "succeeded 1 client finished"
check "gperf_cpu pair: the client (exited by itself) and the server (stopped) both have profiles with samples" eval '
	ls -l "$T"/services/*/results/; grep -h "^Total:" "$T"/services/*/results/cpu.txt;
	[ "$(grep -l "^Total:" "$T"/services/client/results/cpu.txt "$T"/services/server/results/cpu.txt | wc -l)" = 2 ]'

pfs_finish
