#!/bin/bash
# Golden tests of `pantherfs check` and `pantherfs render` (prints TAP).
#   tests/configs/{examples/seed,examples/panther,valid}/X.yaml: the output of `check` must equal
#     X.check, and (when check passes) the output of `render` must equal
#     X.render; a first line "# render: ARGS" gives render its --address args.
#   tests/configs/invalid/X.yaml: `check` must exit 1 and print exactly the
#     error lines its "# expect: LINE" comments list, in that order.
# Usage: golden.sh PANTHERFS SOURCE_DIR [--update]   (--update rewrites the
# .check/.render files of valid configs from the current output: review the diff)
# `check` runs with an empty sources dir, so its source: lines say "cloned
# from" on every machine, whatever tarballs docker/mvfst/sources/ holds.
set -u
bin=$1
src=$2
update=${3:-}
cd "$src/tests/configs" || exit 1
nosources=$(mktemp -d /tmp/pantherfs-golden-sources.XXXXXX) || exit 1
trap 'rmdir "$nosources"' EXIT
n=0
fail=0
tap() { n=$((n + 1)); if [ "$1" = ok ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; fi; }
show() { sed 's/^/#   /' | head -n 40; }

for f in examples/seed/*.yaml examples/panther/*.yaml valid/*.yaml; do
	base=${f%.yaml}
	out=$("$bin" --data-dir="$src" --sources-dir="$nosources" check "$f" 2>&1)
	rc=$?
	if [ "$update" = --update ]; then
		printf '%s\n' "$out" > "$base.check"
	fi
	if [ "$out" == "$(cat "$base.check" 2>/dev/null)" ]; then
		tap ok "check $f"
	else
		tap fail "check $f"
		diff <(cat "$base.check" 2>/dev/null) <(printf '%s\n' "$out") | show
	fi
	[ $rc -eq 0 ] || continue
	args=$(sed -n '1s/^# render: //p' "$f")
	# shellcheck disable=SC2086
	out=$("$bin" --data-dir="$src" render "$f" $args 2>&1)
	if [ "$update" = --update ]; then
		printf '%s\n' "$out" > "$base.render"
	fi
	if [ "$out" == "$(cat "$base.render" 2>/dev/null)" ]; then
		tap ok "render $f"
	else
		tap fail "render $f"
		diff <(cat "$base.render" 2>/dev/null) <(printf '%s\n' "$out") | show
	fi
done

for f in invalid/*.yaml; do
	want=$(sed -n 's/^# expect: //p' "$f")
	out=$("$bin" --data-dir="$src" --sources-dir="$nosources" check "$f" 2>&1)
	rc=$?
	got=$(printf '%s\n' "$out" | grep -v -E '^(warning|note|ok): ')
	if [ $rc -eq 1 ] && [ -n "$want" ] && [ "$got" == "$want" ]; then
		tap ok "refuse $f"
	else
		tap fail "refuse $f (exit $rc)"
		diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | show
	fi
done

# the examples are verbatim copies of the shared ones (when those are at hand)
for f in examples/seed/*.yaml examples/panther/*.yaml; do
	orig="$src/../shared/$f"
	[ -f "$orig" ] || continue
	if cmp -s "$f" "$orig"; then tap ok "$f is verbatim"; else tap fail "$f differs from ../shared/$f"; fi
done

# a tarball in the sources dir: check names it instead of the repository
folly=$(sed -n 's/^  folly: {repository: [^,]*, commit: \([0-9a-f]*\)}.*/\1/p' "$src/version_configs/mvfst/draft29.yaml")
withsrc=$(mktemp -d /tmp/pantherfs-golden-sources.XXXXXX)
: > "$withsrc/folly-$folly.tar.gz"
out=$("$bin" --data-dir="$src" --sources-dir="$withsrc" check valid/mvfst-draft29-echo.yaml 2>&1)
rc=$?
want="source: server: mvfst: cloned from https://github.com/facebook/mvfst.git
source: server: folly: $withsrc/folly-$folly.tar.gz
source: server: fizz: cloned from https://github.com/facebookincubator/fizz.git"
rm -rf "$withsrc"
if [ $rc -eq 0 ] && [ -n "$folly" ] && [ "$(printf '%s\n' "$out" | grep '^source: server: ')" == "$want" ]; then
	tap ok "check names the tarball it found"
else
	tap fail "check names the tarball it found (exit $rc)"
	printf '%s\n' "$out" | show
fi

# more than 1 MiB: made here, not stored
big=$(mktemp /tmp/pantherfs-big.XXXXXX)
{ echo "services:"; head -c 1100000 /dev/zero | tr '\0' '#'; echo; } > "$big"
out=$("$bin" --data-dir="$src" --sources-dir="$nosources" check "$big" 2>&1)
rc=$?
rm -f "$big"
if [ $rc -eq 1 ] && [ "$out" == "$(basename "$big"): larger than 1 MiB" ]; then
	tap ok "refuse a config over 1 MiB"
else
	tap fail "refuse a config over 1 MiB (exit $rc)"
	printf '%s\n' "$out" | show
fi
echo "1..$n"
exit $fail
