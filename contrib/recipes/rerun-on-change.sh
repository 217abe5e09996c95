#!/bin/bash
# Starts a new run each time a local config file is saved, until interrupted.
#   rerun-on-change.sh MOUNTPOINT TEST CONFIG.yaml
# Uses inotifywait (inotify-tools) on the local file; pantherfs itself cannot
# raise inotify events for changes it makes, but your editor's saves can.
set -u
mnt=$1 test=$2 config=$3
dir=$mnt/tests/$test
[ -d "$dir" ] || mkdir "$dir" || exit 2
apply() {
	if cp "$config" "$dir/config.yaml"; then
		echo "$test: run $(ls "$dir/runs" | sort -n | tail -n 1) started"
	else
		echo "$test: config refused:" >&2
		cat "$dir/error" >&2
	fi
}
apply
# editors save by writing in place or by renaming a new file over the old
# one: watch the directory and pick the file's name. The watcher runs in the
# background so that a TERM to this script (not only a terminal's Ctrl-C,
# which reaches both) ends it too instead of leaving it behind.
wpid=
trap '[ -n "$wpid" ] && kill "$wpid" 2>/dev/null; exit 0' TERM INT HUP
while :; do
	inotifywait -qq -e close_write,moved_to --include "/$(basename "$config")\$" "$(dirname "$config")" &
	wpid=$!
	wait "$wpid" || exit 1
	wpid=
	apply
done
