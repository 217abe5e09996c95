#!/bin/bash
# Runs one test and waits for its verdict, following its events as they come.
#   run-and-wait.sh MOUNTPOINT TEST CONFIG.yaml
# Exit status 0 when the run succeeded, 1 when it failed, 2 when the config
# was refused (the reasons are printed from the test's error file), 3 when
# its testcase is unsupported by the pair (nothing ran).
set -u
mnt=$1 test=$2 config=$3
dir=$mnt/tests/$test
[ -d "$dir" ] || mkdir "$dir" || exit 2
# close() says whether the config was accepted; cp reports its error
if ! cp "$config" "$dir/config.yaml"; then
	cat "$dir/error" >&2
	exit 2
fi
# events.follow ends by itself when the run ends
cat "$dir/events.follow"
status=$(cat "$dir/status")
echo "$test: $status"
case $status in
succeeded*) exit 0 ;;
unsupported*) exit 3 ;;
*) exit 1 ;;
esac
