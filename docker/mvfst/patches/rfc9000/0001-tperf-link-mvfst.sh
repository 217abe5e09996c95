#!/bin/sh
# mvfst v2026.08.17.00 (rfc9000): tperf does not link at this tag, its CMake
# target lacks mvfst's client and transport libraries. Linking it against the
# monolithic `mvfst` target (one line in quic/tools/tperf/CMakeLists.txt)
# fixes it (see the reference notes on mvfst).
#
# A script rather than a .patch: the text of that file at this tag could not
# be read when this was written (no GitHub here; the code index holds only
# older versions of it), and a patch needs exact context lines. This adds the
# line `mvfst` right after `target_link_libraries(tperf <PUBLIC|PRIVATE|
# INTERFACE>`, whatever surrounds it, and fails when there is no such call.
#
# The Dockerfile runs it with sh from the root of the mvfst tree (/src/mvfst),
# in name order with the *.patch files of this folder.
set -eu

f=quic/tools/tperf/CMakeLists.txt
call='target_link_libraries\([[:space:]]*tperf[[:space:]]+(PUBLIC|PRIVATE|INTERFACE)'
linked="${call}[[:space:]]+([^)]*[[:space:]])?mvfst([[:space:]]|\\))"

if [ ! -f "$f" ]; then
	echo "0001-tperf-link-mvfst: $f: no such file in $(pwd)" >&2
	exit 1
fi
if grep -Ezq "$linked" "$f"; then
	echo "0001-tperf-link-mvfst: $f already links tperf against mvfst"
	exit 0
fi
if ! grep -Ezq "$call" "$f"; then
	echo "0001-tperf-link-mvfst: $f has no target_link_libraries(tperf PUBLIC|PRIVATE|INTERFACE ...) to extend:" >&2
	cat "$f" >&2
	exit 1
fi
sed -E -z -i "s/(${call})/\\1\\n  mvfst/" "$f"
if ! grep -Ezq "$linked" "$f"; then
	echo "0001-tperf-link-mvfst: editing $f did not take" >&2
	exit 1
fi
echo "0001-tperf-link-mvfst: tperf now links against mvfst:"
grep -n -A3 'target_link_libraries' "$f"
