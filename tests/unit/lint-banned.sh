#!/bin/sh
# Fails when src/, include/, tests/support/ or docker/ (the helpers built into images) call a function banned by include/pantherfs/banned.h.
# The header catches uses at compile time where it is included; this catches
# the rest. Prints TAP.
root=${1:-.}
echo "1..1"
hits=$(grep -rnE '\<(strcpy|strcat|strncpy|strncat|sprintf|vsprintf|strtok|atoi|atol|gets)[[:space:]]*\(' \
	"$root/src" "$root/include" "$root/tests/support" "$root/docker" --include='*.c' --include='*.h' \
	| grep -v 'include/pantherfs/banned.h' | grep -vE '^\S+:[0-9]+:\s*(/?\*|//)')
if [ -n "$hits" ]; then
	echo "not ok 1 - banned functions used"
	echo "$hits" | sed 's/^/# /'
	exit 1
fi
echo "ok 1 - no banned functions in src/, include/, tests/support/, docker/"
