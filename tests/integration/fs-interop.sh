#!/bin/bash
# SPDX-License-Identifier: MIT
# Interop test cases and matrices through the mount, for real: ngtcp2
# against ngtcp2 (Debian's programs, real QUIC in containers) in every test
# case, as the cells of a matrix written to matrices/<m>/matrix.yaml, with
# mvfst draft29 servers in the same matrix (no program of that version runs
# test cases: those cells end unsupported, nothing built). Checks:
#   - the matrix file is applied on close, a bad one refused with positions;
#   - every ngtcp2 cell succeeds, judged by its files (byte for byte) and the
#     handshake evidence of its client's log, and matrix.tsv, matrix.txt and
#     status say so, cell by cell, as the tests' own status files do;
#   - a client that exits 0 without its file fails (the judgement, not the
#     exit code, decides), and keeps the run's files to be looked at, while a
#     cell that passed leaves none;
#   - the tables survive a restart of pantherfs; rmdir removes a matrix and
#     leaves its cells' tests.
#
#   fs-interop.sh PANTHERFS_BINARY SOURCE_DIR      (TAP on stdout)
. "$(dirname "$0")/fs-lib.sh"
pfs_init fs-interop "$@"

CASES="handshake transfer multiplexing http3 resumption zerortt retry"
M=ci

check "pantherfs mounts and engine reads connected" pfs_mount || bail "no mount"

cat >"$WORK/bad.yaml" <<'EOF'
servers:
  ngtcp2: {implementation: {name: ngtcp2}, protocol: {role: server}}
clients:
  ngtcp2: {implementation: {name: ngtcp2}}
testcases: [handshake, download]
EOF
cat >"$WORK/matrix.yaml" <<'EOF'
# ngtcp2 against itself in every case; draft29's servers run no test case
servers:
  ngtcp2: {implementation: {name: ngtcp2}}
  draft29: {implementation: {name: mvfst, version: draft29}}
clients:
  ngtcp2: {implementation: {name: ngtcp2}}
testcases: [handshake, transfer, multiplexing, http3, resumption, zerortt, retry]
timeout: 60
parallel: 2
EOF

check "mkdir matrices/$M makes an empty matrix with its files" \
	eval 'mkdir "$MNT/matrices/$M" && eq "$(ls "$MNT/matrices/$M" | tr "\n" " ")" "error matrix.tsv matrix.txt matrix.yaml status " && eq "$(cat "$MNT/matrices/$M/status")" empty'

check "a bad matrix: close() fails with EINVAL, error names each problem at its line and column" \
	eval 'eq "$(write_close "$MNT/matrices/$M/matrix.yaml" "$WORK/bad.yaml")" EINVAL &&
	      file_has "$MNT/matrices/$M/error" "matrix.yaml:2:44: servers.ngtcp2: protocol: the matrix sets it" &&
	      file_has "$MNT/matrices/$M/error" "matrix.yaml:5:24: testcases[1]: not a test case" &&
	      eq "$(cat "$MNT/matrices/$M/status")" empty'

check "the matrix is applied on close" eq "$(write_close "$MNT/matrices/$M/matrix.yaml" "$WORK/matrix.yaml")" OK
check "matrix.yaml reads back as written, error is empty" \
	eval 'same_file "$MNT/matrices/$M/matrix.yaml" "$WORK/matrix.yaml" && eq "$(wc -c <"$MNT/matrices/$M/error")" 0'

done_matrix() { case $(cat "$MNT/matrices/$M/status" 2>/dev/null) in done*) return 0 ;; esac; return 1; }
# 14 cells, 2 at a time, each a few seconds (the ngtcp2 image builds in about a minute once)
check "the matrix runs to its end (status: done)" wait_until 900 done_matrix
diag "status: $(cat "$MNT/matrices/$M/status")"

tsv=$WORK/matrix.tsv
cp "$MNT/matrices/$M/matrix.tsv" "$tsv"
check "matrix.tsv: a header and a row per cell" \
	eval 'eq "$(head -n1 "$tsv")" "$(printf "server\tclient\ttestcase\ttest\trun\tverdict\treason")" && eq "$(tail -n +2 "$tsv" | wc -l)" 14'
for c in $CASES; do
	check "cell ngtcp2 x ngtcp2 $c succeeded, judged by its files and handshakes" eval '
		row=$(awk -F"\t" -v c="$c" "\$1 == \"ngtcp2\" && \$2 == \"ngtcp2\" && \$3 == c" "$tsv")
		t=$M.ngtcp2.ngtcp2.$c
		eq "$(cut -f4,6 <<<"$row")" "$(printf "%s\tsucceeded" "$t")" &&
		grep -qE "identical, [12] handshakes?" <<<"$row" &&
		eq "$(cut -f7 <<<"$row")" "$(cut -d" " -f2- "$MNT/tests/$t/status")" &&
		file_has "$MNT/tests/$t/events" "\"type\":\"service.judged\"" &&
		file_has "$MNT/tests/$t/events" "\"passed\":true"'
	check "cell draft29 x ngtcp2 $c is unsupported, nothing built" eval '
		t=$M.draft29.ngtcp2.$c
		eq "$(status_word "$t")" unsupported &&
		file_has "$MNT/tests/$t/status" "mvfst draft29 has no program that runs the interop test cases as a server" &&
		eq "$(count_events "$MNT/tests/$t/events" image.build_started)" 0 &&
		eq "$(count_events "$MNT/tests/$t/events" run.unsupported)" 1'
done
check "each case checked what it is about: a resumed second connection, 0-RTT, a Retry" eval '
	file_has "$MNT/tests/$M.ngtcp2.ngtcp2.resumption/status" "2 handshakes, the second resumed" &&
	file_has "$MNT/tests/$M.ngtcp2.ngtcp2.zerortt/status" "40 files identical, 2 handshakes, 0-RTT accepted" &&
	file_has "$MNT/tests/$M.ngtcp2.ngtcp2.retry/status" "1 handshake, after a Retry" &&
	file_has "$MNT/tests/$M.ngtcp2.ngtcp2.multiplexing/status" "1999 files identical"'
check "matrix.txt: a line per pair, a column per case, and the counts" eval '
	txt=$(cat "$MNT/matrices/$M/matrix.txt")
	grep -qE "^ngtcp2 +ngtcp2 +succeeded +succeeded +succeeded +succeeded +succeeded +succeeded +succeeded$" <<<"$txt" &&
	grep -qE "^draft29 +ngtcp2 +unsupported( +unsupported){6}$" <<<"$txt" &&
	grep -qx "14 cells: 7 succeeded, 7 unsupported" <<<"$txt"' || cat "$MNT/matrices/$M/matrix.txt"
check "status: done 14 cells: 7 succeeded, 7 unsupported" \
	eq "$(cat "$MNT/matrices/$M/status")" "done 14 cells: 7 succeeded, 7 unsupported"
check "a cell that passed leaves no copy of its files" eval '
	d=$STATE/tests/$M.ngtcp2.ngtcp2.transfer/runs/1
	[ -f "$d/run.json" ] && [ ! -e "$d/www" ] && [ ! -e "$d/services/client/downloads" ]'

# A client that exits 0 without its file: it never reaches the server (its
# tx-loss 1), gives up the handshake after 3 s and exits 0 all the same.
T=lost
cat >"$WORK/lost.yaml" <<'EOF'
testcase: handshake
timeout: 60
services:
  server: {implementation: {name: ngtcp2}, protocol: {role: server}}
  client: {implementation: {name: ngtcp2}, protocol: {role: client, target: server}, config: {tx-loss: 1.0, handshake-timeout: 3s}}
EOF
check "a test case whose client sends nothing is applied" \
	eval 'mkdir "$MNT/tests/$T" && eq "$(write_close "$MNT/tests/$T/config.yaml" "$WORK/lost.yaml")" OK'
check "it fails by its judgement: the client exited 0, the file never arrived" eval '
	wait_final "$T" 180 >/dev/null &&
	eq "$(cat "$MNT/tests/$T/status")" "failed client client: testcase handshake: 0 of 1 files identical; handshake-1 did not arrive" &&
	file_has "$MNT/tests/$T/events" "\"passed\":false"'
check "a run that did not pass keeps the files it served" \
	eval '[ "$(stat -c %s "$STATE/tests/$T/runs/1/www/handshake-1")" = 1024 ] && [ -d "$STATE/tests/$T/runs/1/services/client/downloads" ]'

check "pantherfs stops" pfs_stop 30
check "pantherfs mounts again" pfs_mount || bail "no mount"
check "the matrix and its tables come back as they were" eval '
	same_file "$MNT/matrices/$M/matrix.tsv" "$tsv" &&
	eq "$(cat "$MNT/matrices/$M/status")" "done 14 cells: 7 succeeded, 7 unsupported" &&
	same_file "$MNT/matrices/$M/matrix.yaml" "$WORK/matrix.yaml"'
check "rmdir removes the matrix; its cells are tests and stay" eval '
	rmdir "$MNT/matrices/$M" && [ ! -e "$MNT/matrices/$M" ] && [ -z "$(ls "$MNT/matrices")" ] &&
	[ -d "$MNT/tests/$M.ngtcp2.ngtcp2.handshake" ] && [ ! -e "$STATE/matrices/$M" ]'

check "every test removed through the mount" remove_all_tests
check "nothing of the instance is left in Docker" wait_until 60 docker_empty "$INSTANCE"
pfs_finish
