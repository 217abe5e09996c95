# SPDX-License-Identifier: MIT
# Shared helpers of the shell-level integration tests of the mount
# (fs-session.sh, fs-editors.sh, fs-concurrency.sh, fs-remount.sh).
# Sourced, never run. Each script calls:
#
#   pfs_init NAME "$@"       arguments, skip detection, work dir, EXIT trap
#   pfs_mount                start the daemon in the foreground, wait for the mount
#   check "what" CMD ARGS..  one TAP line: ok when CMD succeeds; what CMD prints
#                            becomes "# " diagnostics when it fails
#   pfs_finish               the final docker check, "1..N", the exit status
#
# The daemon is started by pid and stopped by pid (never by name). The EXIT
# trap kills what the script started, unmounts, removes every container and
# network labelled pantherfs.instance=<id> of the script's state dirs, and
# deletes the work dir. Work dirs live under $PFS_TEST_TMPDIR (default
# /var/tmp), not /tmp: vim's 'backupskip' default skips /tmp/*, and the
# editor checks want vim's full save path (probe, backup, rename, fsync).

set -u
. "$(dirname "${BASH_SOURCE[0]}")/../support/bounded.sh"
set -o pipefail

T_N=0
T_FAIL=0
PFS_PID=
PFS_PIDS=()          # every daemon started (killed by the trap if alive)
PFS_MOUNT_ARGS=()    # more options for pfs_mount (--docker-host=..., --registry=...)
PFS_AFTER_CLEANUP=() # commands the EXIT trap runs last (after the daemons and mounts are gone)
BG_PIDS=()           # readers, watchers: killed by the trap if alive
STATE_DIRS=()
MOUNTS=()
INSTANCES=()
WORK=
PFS=
SRC=

# ---- TAP ---------------------------------------------------------------------------------

diag() {
	local l
	for l in "$@"; do
		printf '%s\n' "$l" | sed 's/^/# /'
	done
}

ok() {
	T_N=$((T_N + 1))
	echo "ok $T_N - $*"
}

not_ok() {
	T_N=$((T_N + 1))
	T_FAIL=$((T_FAIL + 1))
	echo "not ok $T_N - $*"
}

# check "description" command args...: runs the command in this shell (so it
# may set variables); its output is shown as diagnostics only on failure.
# (Its locals have odd names: bash scopes dynamically, the checks see them.)
check() {
	local _c_desc=$1 _c_rc _c_out
	shift
	_c_out=$WORK/.check.$$
	"$@" >"$_c_out" 2>&1
	_c_rc=$?
	if [ $_c_rc -eq 0 ]; then
		ok "$_c_desc"
	else
		not_ok "$_c_desc"
		[ -s "$_c_out" ] && sed 's/^/# /' "$_c_out" | head -n 60
	fi
	rm -f "$_c_out"
	return $_c_rc
}

bail() {
	echo "Bail out! $*"
	exit 1
}

# ---- small helpers -------------------------------------------------------------------------

# Microseconds since the epoch.
now_us() {
	local t=$EPOCHREALTIME
	echo "${t/./}"
}

# Milliseconds since a now_us value.
ms_since() {
	echo $((($(now_us) - $1) / 1000))
}

# wait_until SECONDS CMD ARGS...: polls every 0.2 s until CMD succeeds.
wait_until() {
	local deadline=$(($(now_us) + $1 * 1000000))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$(now_us)" -ge $deadline ] && return 1
		sleep 0.2
	done
}

# True while a process runs (a zombie not yet reaped does not count).
pid_alive() {
	local st
	st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# The status word of a test ("" when unreadable).
status_word() {
	local s
	s=$(cat "$MNT/tests/$1/status" 2>/dev/null) || return 1
	echo "${s%% *}"
}

is_final_word() {
	case $1 in
	succeeded | failed | stopped | error | unsupported) return 0 ;;
	*) return 1 ;;
	esac
}

# True when the test's current run has ended (or there is none).
not_live() {
	local w
	w=$(status_word "$1") || return 1
	is_final_word "$w" || [ "$w" = empty ]
}

is_running() {
	[ "$(status_word "$1")" = running ]
}

# wait_final TEST SECONDS: until the status word is final; prints the status.
wait_final() {
	wait_until "$2" not_live "$1"
	local rc=$?
	cat "$MNT/tests/$1/status" 2>/dev/null
	return $rc
}

nruns() {
	ls "$MNT/tests/$1/runs" 2>/dev/null | wc -l
}

# count_events FILE TYPE
count_events() {
	local n
	n=$(grep -c "\"type\":\"$2\"" "$1" 2>/dev/null)
	echo "${n:-0}"
}

# eq ACTUAL EXPECTED: fails with both shown.
eq() {
	[ "$1" = "$2" ] && return 0
	echo "got:      $1"
	echo "expected: $2"
	return 1
}

# Fails, printing the file, unless FILE holds the fixed string.
file_has() {
	if grep -qF -- "$2" "$1" 2>/dev/null; then
		return 0
	fi
	echo "$1 does not contain: $2"
	if [ -s "$1" ]; then
		echo "--- $1:"
		tail -n 20 "$1" 2>&1
	else
		echo "--- $1 is empty"
	fi
	return 1
}

# Fails unless two files have the same bytes (diff as diagnostics).
same_file() {
	cmp -s "$1" "$2" && return 0
	echo "$1 and $2 differ:"
	diff -u "$1" "$2" 2>&1 | head -n 40
	return 1
}

# events_valid FILE [TYPE...]: every line is a JSON object, seq runs 1..N
# (or FIRST..N with EVENTS_FIRST_SEQ=any) without gaps, every required
# type is present.
events_valid() {
	python3 - "$@" <<'EOF'
import json, os, sys
path, want = sys.argv[1], sys.argv[2:]
try:
    data = open(path, "rb").read()
except OSError as e:
    print(f"{path}: {e}")
    sys.exit(1)
if not data:
    print(f"{path}: empty")
    sys.exit(1)
if not data.endswith(b"\n"):
    print(f"{path}: the last line is not terminated")
    sys.exit(1)
bad = 0
seqs, types = [], set()
for i, line in enumerate(data.decode("utf-8", "replace").split("\n")[:-1], 1):
    try:
        ev = json.loads(line)
    except ValueError as e:
        print(f"{path}:{i}: not JSON ({e}): {line[:200]}")
        bad += 1
        continue
    if not isinstance(ev, dict) or not isinstance(ev.get("seq"), int) or "type" not in ev:
        print(f"{path}:{i}: not an event: {line[:200]}")
        bad += 1
        continue
    seqs.append(ev["seq"])
    types.add(ev["type"])
first = seqs[0] if seqs and os.environ.get("EVENTS_FIRST_SEQ") == "any" else 1
if seqs != list(range(first, first + len(seqs))):
    gaps = [(a, b) for a, b in zip([first - 1] + seqs, seqs) if b != a + 1]
    print(f"{path}: seq is not {first}..{first + len(seqs) - 1} without gaps: first breaks {gaps[:5]}")
    bad += 1
for t in want:
    if t not in types:
        print(f"{path}: no {t} event (types: {sorted(types)})")
        bad += 1
sys.exit(1 if bad else 0)
EOF
}

# errno_of OP PATH...: prints the errno name an operation fails with, or OK.
#   open-w PATH | mkdir PATH | rmdir PATH
errno_of() {
	python3 - "$@" <<'EOF'
import errno, os, sys
op, path = sys.argv[1], sys.argv[2]
try:
    if op == "open-w":
        os.close(os.open(path, os.O_WRONLY))
    elif op == "mkdir":
        os.mkdir(path)
    elif op == "rmdir":
        os.rmdir(path)
    print("OK")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
EOF
}

# write_close PATH FILE: writes FILE's bytes to PATH and prints what close()
# returned (OK or the errno name): the error shells do not show.
write_close() {
	python3 - "$@" <<'EOF'
import errno, os, sys
data = open(sys.argv[2], "rb").read()
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, data)
try:
    os.close(fd)
    print("OK")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
EOF
}

# ---- Docker ----------------------------------------------------------------------------------

# What is left in Docker of an instance (and of one test of it): one line each.
docker_left() {
	local f=(--filter "label=pantherfs.instance=$1")
	[ -n "${2:-}" ] && f+=(--filter "label=pantherfs.test=$2")
	docker ps -a --format 'container {{.Names}} {{.Status}}' "${f[@]}" 2>&1
	docker network ls --format 'network {{.Name}}' "${f[@]}" 2>&1
}

docker_empty() {
	local left
	left=$(docker_left "$@")
	[ -z "$left" ] && return 0
	echo "$left"
	return 1
}

docker_sweep() {
	local id=$1 ids
	ids=$(docker ps -aq --filter "label=pantherfs.instance=$id" 2>/dev/null)
	[ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
	ids=$(docker network ls -q --filter "label=pantherfs.instance=$id" 2>/dev/null)
	[ -n "$ids" ] && docker network rm $ids >/dev/null 2>&1
	return 0
}

# ---- the daemon -------------------------------------------------------------------------------

mounted() {
	awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/mounts
}

# pfs_mount [STATE MNT LOG]: starts pantherfs in the foreground (in the
# background of this script), waits until engine reads "connected".
# Sets PFS_PID, INSTANCE.
pfs_mount() {
	local state=${1:-$STATE} mnt=${2:-$MNT} log=${3:-$LOG} line
	mkdir -p "$state" "$mnt"
	"$PFS" -f --state-dir="$state" --data-dir="$SRC" "${PFS_MOUNT_ARGS[@]}" "$mnt" </dev/null >>"$log" 2>&1 &
	PFS_PID=$!
	PFS_PIDS+=("$PFS_PID")
	MOUNTS+=("$mnt")
	local deadline=$(($(now_us) + 60000000))
	while :; do
		line=$(cat "$mnt/engine" 2>/dev/null)
		case $line in connected*) break ;; esac
		if ! kill -0 "$PFS_PID" 2>/dev/null; then
			echo "pantherfs exited before the mount answered; its log:"
			tail -n 20 "$log"
			return 1
		fi
		if [ "$(now_us)" -ge $deadline ]; then
			echo "engine still reads \"$line\" after 60 s; log:"
			tail -n 20 "$log"
			return 1
		fi
		sleep 0.1
	done
	INSTANCE=$(cat "$state/instance")
	local known=0 i
	for i in "${INSTANCES[@]}"; do [ "$i" = "$INSTANCE" ] && known=1; done
	[ $known = 1 ] || INSTANCES+=("$INSTANCE")
	return 0
}

# pfs_stop [SECONDS]: SIGTERM to the daemon, waits for it; prints the ms it took.
pfs_stop() {
	local pid=$PFS_PID limit=${1:-10} t0
	[ -n "$pid" ] || return 0
	t0=$(now_us)
	kill -TERM "$pid" 2>/dev/null
	local deadline=$((t0 + limit * 1000000))
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$(now_us)" -ge $deadline ]; then
			echo "still running after $limit s"
			return 1
		fi
		sleep 0.05
	done
	wait "$pid" 2>/dev/null
	PFS_EXIT=$?
	PFS_STOP_MS=$(ms_since "$t0")
	PFS_PID=
	return 0
}

# Stops every test's run and removes every test through the mount.
remove_all_tests() {
	local d t rc=0
	for d in "$MNT"/tests/*; do
		[ -d "$d" ] || continue
		t=${d##*/}
		if ! not_live "$t"; then
			echo stop >"$MNT/tests/$t/ctl" 2>/dev/null
		fi
		if ! wait_until 60 rmdir "$MNT/tests/$t"; then
			echo "rmdir tests/$t still fails after 60 s: $(rmdir "$MNT/tests/$t" 2>&1); status: $(cat "$MNT/tests/$t/status")"
			rc=1
		fi
	done
	if [ -n "$(ls -A "$MNT/tests")" ]; then
		echo "tests/ still lists: $(ls -A "$MNT/tests" | tr '\n' ' ')"
		rc=1
	fi
	return $rc
}

# ---- life cycle --------------------------------------------------------------------------------

pfs_cleanup() {
	local rc=$? pid m id
	trap - EXIT INT TERM HUP
	trap '' PIPE # a reader of our TAP that went away must not stop the cleanup
	cd / || true
	if [ -z "${PFS_FINISHED:-}" ] && [ $rc != 77 ]; then
		not_ok "the script ran to its end (it stopped with exit status $rc)"
		echo "1..$T_N"
		[ $rc = 0 ] && rc=1
	fi
	for pid in "${BG_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
	done
	for pid in "${PFS_PIDS[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null
			for _ in $(seq 100); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			kill -KILL "$pid" 2>/dev/null
		fi
		wait "$pid" 2>/dev/null
	done
	for m in "${MOUNTS[@]}"; do
		if mounted "$m"; then
			fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
		fi
	done
	for id in "${INSTANCES[@]}"; do
		docker_sweep "$id"
	done
	if [ -n "$WORK" ] && [ -d "$WORK" ]; then
		if [ -n "${PFS_KEEP:-}" ]; then
			echo "# kept $WORK" >&2
		else
			rm -rf --one-file-system "$WORK" 2>/dev/null
		fi
	fi
	for h in "${PFS_AFTER_CLEANUP[@]}"; do
		$h
	done
	exit $rc
}

pfs_skip() {
	echo "1..0 # SKIP $*"
	exit 77
}

# pfs_init NAME PANTHERFS_BINARY SOURCE_DIR
pfs_init() {
	local name=$1
	shift
	if [ $# -lt 2 ]; then
		echo "usage: $name.sh PANTHERFS_BINARY SOURCE_DIR" >&2
		exit 2
	fi
	PFS=$(realpath "$1")
	SRC=$(realpath "$2")
	[ -x "$PFS" ] || bail "$PFS is not an executable"
	if [ ! -c /dev/fuse ]; then
		pfs_skip "/dev/fuse is absent"
	fi
	# The engine: absent only when nothing answers for a minute (a restart
	# of dockerd by another suite lasts seconds).
	local line deadline=$(($(now_us) + 60000000))
	while :; do
		line=$("$PFS" engine 2>&1)
		case $line in connected*) break ;; esac
		if [ "$(now_us)" -ge $deadline ]; then
			pfs_skip "no Docker engine: $line"
		fi
		sleep 1
	done
	command -v docker >/dev/null || bail "the docker CLI is needed to check and sweep what runs leave"
	command -v python3 >/dev/null || bail "python3 is needed (JSON and errno checks)"
	local base=${PFS_TEST_TMPDIR:-/var/tmp}
	WORK=$(mktemp -d "$base/pantherfs-$name.XXXXXX") || bail "cannot make a work dir under $base"
	trap pfs_cleanup EXIT
	trap 'exit 143' TERM
	trap 'exit 130' INT
	trap 'exit 129' HUP
	trap 'exit 141' PIPE
	STATE=$WORK/state
	MNT=$WORK/mnt
	LOG=$WORK/pantherfs.log
	STATE_DIRS+=("$STATE")
	mkdir -p "$WORK/cfg" "$WORK/out"
	# the configs of the brief
	CS_CONFIG='services:
  server: {timeout: 60, implementation: {name: ngtcp2}, protocol: {role: server}}
  client: {timeout: 60, implementation: {name: ngtcp2}, protocol: {role: client, target: server}, config: {download: 1M}}'
	BAD_CONFIG='services: {s: {implementation: {name: ngtcp2}, protocol: {role: peer}}}'
	BAD_ERROR='config.yaml:1:65: services.s.protocol.role: "peer": must be server or client'
	printf '%s\n' "$CS_CONFIG" >"$WORK/cfg/cs.yaml"
	printf '%s\n' "$BAD_CONFIG" >"$WORK/cfg/bad.yaml"
	echo "# work dir $WORK, pantherfs $PFS"
}

# A server-only config: live until its timeout (seconds) or a stop.
server_only() {
	printf 'timeout: %s\nservices:\n  server: {implementation: {name: ngtcp2}, protocol: {role: server}}\n' "$1"
}

docker_empty_all() {
	local id
	for id in "${INSTANCES[@]}"; do
		docker_empty "$id" || return 1
	done
}

# The end of every script: every test stopped and removed through the
# mount, the daemon stopped, and the last check: nothing of the script's
# instances left in Docker. Then the plan line and the exit status.
pfs_finish() {
	local id
	if [ -n "$PFS_PID" ] && mounted "$MNT"; then
		check "every test is stopped and removed with rmdir" remove_all_tests
		# the monitor removes what removed tests leave, off the rmdir's thread
		wait_until 30 docker_empty_all
		check "the daemon exits on SIGTERM within 20 s" pfs_stop 20
	fi
	for id in "${INSTANCES[@]}"; do
		check "nothing of instance $id is left in Docker" docker_empty "$id"
	done
	PFS_FINISHED=1
	echo "1..$T_N"
	[ $T_FAIL -eq 0 ] && exit 0
	exit 1
}
