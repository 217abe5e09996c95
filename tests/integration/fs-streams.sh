#!/bin/bash
# SPDX-License-Identifier: MIT
# The end of a *.follow stream is a state no reader can miss: rounds of runs
# that end three ways (echo stop > ctl, a server soak reaching its timeout, a
# client finishing), each with events.follow and logs.follow readers opened
# at the start, just before the end and just after it. Every reader must get
# EOF within a bound; one that stays blocked fails the round at once, with
# the stream it reads and what it has read, and is killed (no unbounded
# wait anywhere).
#
#   fs-streams.sh PANTHERFS_BINARY SOURCE_DIR      (TAP on stdout)
#   PFS_STREAM_ROUNDS=N   rounds of each kind (default 6)
. "$(dirname "$0")/fs-lib.sh"
pfs_init fs-streams "$@"

ROUNDS=${PFS_STREAM_ROUNDS:-6}
BOUND=15        # seconds a reader may take to see EOF after its run ended
OUT=$WORK/out
CFG=$WORK/cfg

check "pantherfs mounts and engine reads connected" pfs_mount || bail "no mount"

# open_readers TEST TAG: 3 events.follow and 3 logs.follow readers of the
# test's current run; their pids and files go to R_PIDS / R_FILES.
R_PIDS=()
R_FILES=()
open_readers() {
	local t=$1 tag=$2 i f
	for i in 1 2 3; do
		f=$OUT/$t.$tag.ev.$i
		cat "$MNT/tests/$t/events.follow" >"$f" 2>&1 &
		R_PIDS+=($!)
		R_FILES+=("$f")
		BG_PIDS+=($!)
		f=$OUT/$t.$tag.logs.$i
		cat "$MNT/tests/$t/services/server/logs.follow" >"$f" 2>&1 &
		R_PIDS+=($!)
		R_FILES+=("$f")
		BG_PIDS+=($!)
	done
}

# readers_end: every reader ends within BOUND s, with exit status 0 (EOF).
# A reader still blocked is named with what it read, then killed.
readers_end() {
	local deadline=$(($(now_us) + BOUND * 1000000)) i left bad=0
	while :; do
		left=0
		for i in "${!R_PIDS[@]}"; do
			pid_alive "${R_PIDS[$i]}" && left=$((left + 1))
		done
		[ $left = 0 ] && break
		if [ "$(now_us)" -ge $deadline ]; then
			for i in "${!R_PIDS[@]}"; do
				if pid_alive "${R_PIDS[$i]}"; then
					echo "still blocked after $BOUND s: ${R_FILES[$i]##*/} (read $(wc -c <"${R_FILES[$i]}") bytes; last: $(tail -c 120 "${R_FILES[$i]}" | tr '\n' ' '))"
					kill -KILL "${R_PIDS[$i]}" 2>/dev/null
				fi
			done
			echo "status: $(cat "$MNT/tests/$T/status" 2>&1)"
			bad=1
			break
		fi
		sleep 0.1
	done
	# every reader has ended (or was killed): wait cannot block now
	for i in "${!R_PIDS[@]}"; do
		if ! wait "${R_PIDS[$i]}" 2>/dev/null && [ $bad = 0 ]; then
			echo "${R_FILES[$i]##*/} ended with an error: $(tail -c 200 "${R_FILES[$i]}")"
			bad=1
		fi
	done
	return $bad
}

# readers_whole: the events readers read the events file as it is, the logs
# readers the whole log (what the stream promises: nothing lost at the end).
readers_whole() {
	local f bad=0
	for f in "${R_FILES[@]}"; do
		case $f in
		*.ev.*) cmp -s "$MNT/tests/$T/events" "$f" || { echo "${f##*/} differs from events"; bad=1; } ;;
		*.logs.*) cmp -s "$MNT/tests/$T/services/server/logs" "$f" || { echo "${f##*/} differs from the log"; bad=1; } ;;
		esac
	done
	return $bad
}

server_only 300 >"$CFG/long.yaml"
server_only 2 >"$CFG/soak.yaml"
cp "$CFG/cs.yaml" "$CFG/pair.yaml"

t0=$(now_us)
for kind in stop soak pair; do
	for round in $(seq "$ROUNDS"); do
		T=$kind$round
		R_PIDS=()
		R_FILES=()
		mkdir "$MNT/tests/$T" || { not_ok "mkdir tests/$T"; continue; }
		case $kind in
		stop) cp "$CFG/long.yaml" "$MNT/tests/$T/config.yaml" ;;
		soak) cp "$CFG/soak.yaml" "$MNT/tests/$T/config.yaml" ;;
		pair) cp "$CFG/pair.yaml" "$MNT/tests/$T/config.yaml" ;;
		esac
		# at the start: as soon as the server's logs.follow exists
		wait_until 60 test -e "$MNT/tests/$T/services/server/logs.follow"
		open_readers "$T" start
		case $kind in
		stop)
			wait_until 60 is_running "$T"
			open_readers "$T" before
			echo stop >"$MNT/tests/$T/ctl"
			open_readers "$T" after
			;;
		soak | pair)
			# just before and just after the end: poll the status closely
			wait_until 60 is_running "$T"
			open_readers "$T" before
			wait_until 60 not_live "$T"
			open_readers "$T" after
			;;
		esac
		check "$T: all ${#R_PIDS[@]} readers (events.follow, logs.follow; opened at the start, before and after the end) see EOF within $BOUND s" readers_end
		case $kind in stop) want=stopped ;; *) want=succeeded ;; esac
		check "$T: the run ended $want" eq "$(wait_final "$T" 30 | cut -d' ' -f1)" "$want"
		check "$T: every reader read the whole file" readers_whole
		echo stop >"$MNT/tests/$T/ctl" 2>/dev/null
		wait_until 30 rmdir "$MNT/tests/$T"
	done
done
diag "$((3 * ROUNDS)) rounds took $(ms_since "$t0") ms"

pfs_finish
