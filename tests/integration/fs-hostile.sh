#!/bin/bash
# SPDX-License-Identifier: MIT
# Hostile and careless configs through the mount, as a user writes them:
# a value no program takes (a newline in a flag) is refused at close() and
# starts no run (it used to run a stand-in command that "succeeded"); an
# image reference that is a path, empty or two lines never reaches the
# engine; control characters are never shown raw; 25,000 problems keep
# `error` and `events` bounded; a config past 1 MiB says so, not a size it
# never had. The hostile configs are the files of tests/configs/invalid/.
#
#   fs-hostile.sh PANTHERFS_BINARY SOURCE_DIR      (TAP on stdout)
. "$(dirname "$0")/fs-lib.sh"
pfs_init fs-hostile "$@"

check "pantherfs mounts and engine reads connected" pfs_mount || bail "no mount"
INV=$SRC/tests/configs/invalid

# The errors `pantherfs check FILE` prints, with the file named as the mount names it.
check_errors() {
	local base
	base=$(basename "$1")
	"$PFS" --data-dir="$SRC" check "$1" | grep -v -E '^(warning|note|ok|image): ' | sed "s|^$base:|config.yaml:|"
}

# No byte a terminal acts on (C0 but LF, DEL, C1) in any of the files.
no_raw_controls() {
	local f
	for f in "$@"; do
		if LC_ALL=C grep -q -P '[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]' "$f"; then
			echo "$f shows raw control characters:"
			cat -v "$f" | head -n 5
			return 1
		fi
	done
}

# refused TEST FILE: close() fails with EINVAL, `error` says what `check`
# says, status stays one line, and no run starts.
refused() {
	local t=$1 f=$2 rc
	mkdir "$MNT/tests/$t" || return 1
	rc=$(write_close "$MNT/tests/$t/config.yaml" "$f")
	if [ "$rc" != EINVAL ]; then
		echo "close() of $(basename "$f") returned $rc, not EINVAL; status: $(cat "$MNT/tests/$t/status")"
		return 1
	fi
	eq "$(cat "$MNT/tests/$t/error")" "$(check_errors "$f")" || return 1
	eq "$(cat "$MNT/tests/$t/status")" empty || return 1
	eq "$(wc -l <"$MNT/tests/$t/status")" 1 || return 1
	eq "$(count_events "$MNT/tests/$t/events" config.rejected)" 1 || return 1
	eq "$(count_events "$MNT/tests/$t/events" run.started)" 0 || return 1
	eq "$(ls "$MNT/tests/$t/runs")" "" || return 1
	no_raw_controls "$MNT/tests/$t/error" "$MNT/tests/$t/status" "$MNT/tests/$t/events"
}

# ==== values no program takes ======================================================================

check "a newline in a flag's value: close() fails with EINVAL, error says what check says, no run" \
	refused newline "$INV/55-newline-in-flag.yaml"
check "a command longer than sh -c takes: refused at close(), no run" \
	refused toolong "$INV/63-command-too-long.yaml"

# ==== image references ===============================================================================

check "docker_image as a path, empty, or two lines: refused at close(), no run" \
	refused images "$INV/57-docker-image-path.yaml"
check "docker_image against Docker's grammar: refused at close(), no run" \
	refused grammar "$INV/58-docker-image-grammar.yaml"

# ==== control characters ==============================================================================

check "ESC, BEL, CR and CSI in names and values: refused, and shown escaped in error" \
	refused controls "$INV/56-control-characters.yaml"
check "error shows them as \\e, \\x07, \\r and \\u009b" \
	file_has "$MNT/tests/controls/error" 'services.srv\e]0;title\x07.protocol.role: "server\r": must be server or client'

# ==== 25,000 problems ===================================================================================

many=$WORK/cfg/many.yaml
{
	printf 'services:\n  s:\n    implementation: {name: ngtcp2}\n    protocol: {role: server}\n    config:\n'
	for ((i = 0; i < 25000; i++)); do printf '      k%d: 1\n' "$i"; done
} >"$many"
mkdir "$MNT/tests/many"
check "a config with 25,000 problems: close() fails with EINVAL" \
	eq "$(write_close "$MNT/tests/many/config.yaml" "$many")" EINVAL
error_is_the_first_ones() {
	local e=$MNT/tests/many/error size lines last
	size=$(wc -c <"$e")
	[ "$size" -le 1048576 ] || { echo "error has $size bytes"; return 1; }
	eq "$(head -n 1 "$e")" "$(check_errors "$many" | head -n 1)" || return 1
	eq "$(sed -n 2p "$e")" "$(check_errors "$many" | sed -n 2p)" || return 1
	lines=$(wc -l <"$e")
	last=$(tail -n 1 "$e")
	eq "$last" "... and $((25000 - (lines - 1))) more"
}
check "error keeps the first problems, in order, and ends with ... and N more" error_is_the_first_ones
ev0=$(wc -c <"$MNT/tests/many/events")
for i in 1 2 3 4; do
	write_close "$MNT/tests/many/config.yaml" "$many" >/dev/null
done
rejected_is_bounded() {
	local ev1 grown
	ev1=$(wc -c <"$MNT/tests/many/events")
	grown=$((ev1 - ev0))
	# four more refusals: each event holds 20 errors and a count (it held all 25,000)
	[ "$grown" -lt 40000 ] || { echo "events grew by $grown bytes for 4 refusals"; return 1; }
	eq "$(count_events "$MNT/tests/many/events" config.rejected)" 5 || return 1
	grep '"config.rejected"' "$MNT/tests/many/events" | tail -n 1 | python3 -c '
import json, sys
d = json.loads(sys.stdin.read())["data"]
assert d["count"] == 25000, d["count"]
assert len(d["errors"]) == 20, len(d["errors"])
assert d["errors"][0].startswith("config.yaml:6:7: services.s.config.k0: unknown key"), d["errors"][0]
assert d["more"] == "24980 more in the file error", d["more"]
'
}
check "five refusals of it add a bounded events: 20 errors and a count each" rejected_is_bounded

# ==== past 1 MiB ==========================================================================================

big=$WORK/cfg/big.yaml
{ echo "services:"; head -c 2000000 /dev/zero | tr '\0' '#'; echo; } >"$big"
mkdir "$MNT/tests/big"
check "a 2 MB config: close() fails with EFBIG" eq "$(write_close "$MNT/tests/big/config.yaml" "$big")" EFBIG
check "error says larger than 1 MiB, no size the mount never had" \
	eq "$(cat "$MNT/tests/big/error")" "config.yaml: larger than 1 MiB"

pfs_finish
