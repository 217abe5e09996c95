# SPDX-License-Identifier: MIT
# Sourced by the integration scripts: waits that always end.
#
#   stop_pid PID [SECONDS]   SIGTERM, up to SECONDS (10) for the process to
#                            end, then SIGKILL; reaps it when it is a child.
#                            Returns 0 when it ended on SIGTERM, 1 when it
#                            had to be killed.

stop_pid() {
	local pid=$1 limit=${2:-10} i rc=0
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	for ((i = 0; i < limit * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		# a zombie child counts as ended
		[ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null && [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ]; then
		echo "# pid $pid did not end within $limit s of SIGTERM: killed" >&2
		kill -KILL "$pid" 2>/dev/null
		rc=1
	fi
	wait "$pid" 2>/dev/null
	return $rc
}
