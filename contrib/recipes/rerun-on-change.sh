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
# one: watch the directory and pick the file's name
while inotifywait -qq -e close_write,moved_to --include "/$(basename "$config")\$" "$(dirname "$config")"; do
	apply
done
