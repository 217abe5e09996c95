#!/bin/bash
# Acceptance: the documented examples (tests/configs/examples/seed/01-03,
# verbatim copies of the mvfst plugin documentation's) written through a real
# mount, as a user would.
#   mvfst, as written: accepted; warnings exactly as expected; the rendered
#   commands as golden; the image build requested with the version's pinned
#   commits; and the run ending in `error` with a readable reason in status
#   and error (no hang, no crash) when the sources cannot be fetched. So that
#   this holds on every machine, whether it reaches GitHub or not, the mount
#   uses a copy of the data whose version configs name repositories at
#   http://127.0.0.1:9/ (the discard port: refused everywhere) and an empty
#   sources dir (no tarball of a developer's is taken).
#   ngtcp2, the implementation switched: a server-only soak with a short
#   timeout, and a server plus a client, run real QUIC to `succeeded`.
# Usage: acceptance.sh PANTHERFS SOURCE_DIR      (prints TAP)
set -u
. "$(dirname "$0")/../support/bounded.sh"
bin=$1 src=$2
n=0 fail=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
no() { n=$((n + 1)); echo "not ok $n - $*"; fail=1; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else no "$what"; fi; }
diag() { sed 's/^/#   /' | head -n "${2:-30}"; }

[ -c /dev/fuse ] || { echo "1..0 # SKIP no /dev/fuse"; exit 77; }
docker version >/dev/null 2>&1 || { echo "1..0 # SKIP no Docker engine answers"; exit 77; }

work=$(mktemp -d /tmp/pantherfs-accept.XXXXXX)
mnt=$work/mnt state=$work/state data=$work/data pid=
mkdir -p "$mnt" "$data" "$work/no-sources"
cleanup() {
	stop_pid "$pid" 20
	mountpoint -q "$mnt" && fusermount3 -u "$mnt"
	if [ -f "$state/instance" ]; then
		inst=$(cat "$state/instance")
		docker ps -aq --filter "label=pantherfs.instance=$inst" | xargs -r docker rm -f >/dev/null 2>&1
		docker network ls -q --filter "label=pantherfs.instance=$inst" | xargs -r docker network rm >/dev/null 2>&1
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# the data, without any source tarball, every repository on a refusing port
(cd "$src" && tar cf - --exclude='docker/*/sources/*.tar.gz' version_configs templates docker) | tar xf - -C "$data"
sed -i -E 's#https://github\.com/[^/ ]+/([^/ ,}]+)\.git#http://127.0.0.1:9/\1.git#g' "$data"/version_configs/mvfst/*.yaml
check "the data copy names no GitHub repository" bash -c "! grep -rqE 'https://github\.com/[^ ]*\.git' '$data/version_configs/mvfst'"

"$bin" -f --state-dir="$state" --data-dir="$data" --sources-dir="$work/no-sources" "$mnt" 2>"$work/daemon.log" &
pid=$!
for _ in $(seq 1 100); do grep -q '^connected' "$mnt/engine" 2>/dev/null && break; sleep 0.1; done
check "mounted and connected" grep -q '^connected' "$mnt/engine"

# Waits until the test's current run is over (bounded); prints its status.
wait_done() {
	local t=$1 secs=$2 st
	for _ in $(seq 1 $((secs * 10))); do
		st=$(cat "$mnt/tests/$t/status")
		case $st in
		succeeded* | failed* | stopped* | error*) echo "$st"; return 0 ;;
		esac
		sleep 0.1
	done
	echo "still: $st"
	return 1
}

pinned() { # version -> its mvfst commit, from the catalogue through the mount
	sed -n 's/^  commit: *//p' "$mnt/implementations/mvfst/$1.yaml" | head -n 1
}

for seed in "$src"/tests/configs/examples/seed/0[1-3]-*.yaml; do
	name=$(basename "$seed" .yaml)
	t=seed${name%%-*}
	golden=${seed%.yaml}
	mkdir "$mnt/tests/$t"
	if cp "$seed" "$mnt/tests/$t/config.yaml" 2>"$work/cp.err"; then ok "$name: accepted"; else no "$name: accepted"; diag < "$work/cp.err"; continue; fi
	check "$name: config.yaml reads back verbatim" cmp -s "$seed" "$mnt/tests/$t/config.yaml"
	# warnings: the golden check output's, named config.yaml as in the mount
	sed -n "s/^warning: $name.yaml:/config.yaml:/p" "$golden.check" > "$work/want.warn"
	if cmp -s "$work/want.warn" "$mnt/tests/$t/warnings"; then ok "$name: warnings as expected ($(wc -l < "$work/want.warn"))"
	else no "$name: warnings as expected"; diff "$work/want.warn" "$mnt/tests/$t/warnings" | diag; fi
	# commands: the golden render output (servers only: no address to wait for)
	while IFS= read -r line; do
		svc=${line%%: *}
		want=${line#*: }
		got=$(cat "$mnt/tests/$t/services/$svc/command")
		if [ "$got" == "$want" ]; then ok "$name: $svc's command is golden"; else no "$name: $svc's command is golden"; printf 'want %s\ngot  %s\n' "$want" "$got" | diag; fi
	done < "$golden.render"
	# the build request carries the pinned commit
	version=$(sed -n 's/^ *version: "\(.*\)"/\1/p' "$seed" | head -n 1)
	commit=$(pinned "$version")
	for _ in $(seq 1 100); do grep -q image.build_started "$mnt/tests/$t/events" && break; sleep 0.1; done
	if grep image.build_started "$mnt/tests/$t/events" | grep -q "\"MVFST_COMMIT\":\"$commit\""; then
		ok "$name: the build asks for mvfst $version at $commit"
	else
		no "$name: the build asks for mvfst $version at $commit"; grep image.build "$mnt/tests/$t/events" | diag
	fi
	# the repository refuses: a readable error, not a hang
	st=$(wait_done "$t" 600)
	case $st in
	"error image mvfst:$version: "*"cannot reach http://127.0.0.1:9/mvfst.git"*) ok "$name: ends in error, saying why: ${st:0:160}" ;;
	*) no "$name: ends in error, saying why"; echo "$st" | diag; tail -n 5 "$mnt/tests/$t/build.log" | diag ;;
	esac
	if grep -q "build failed" "$mnt/tests/$t/error" && grep -q "cannot reach http://127.0.0.1:9/mvfst.git" "$mnt/tests/$t/error"; then
		ok "$name: error explains the failed build"
	else
		no "$name: error explains the failed build"; diag < "$mnt/tests/$t/error"
	fi
	check "$name: build.log shows git's reason" grep -q "Failed to connect to 127.0.0.1 port 9" "$mnt/tests/$t/build.log"
	check "$name: an image.build_failed event" grep -q '"type":"image.build_failed"' "$mnt/tests/$t/events"

	# the same with ngtcp2: a soak with a short timeout...
	ng=$work/$t-ngtcp2.yaml
	sed -e 's#"quic/mvfst"#"quic/ngtcp2"#' -e 's#version: "draft27-vuln1"#version: "rfc9000"#' \
	    -e 's#^\( *\)timeout: [0-9]*#\1timeout: 4#' -e '/certificate_file:/d' -e '/private_key_file:/d' "$seed" > "$ng"
	mkdir "$mnt/tests/$t-ng"
	if cp "$ng" "$mnt/tests/$t-ng/config.yaml" 2>"$work/cp.err"; then
		st=$(wait_done "$t-ng" 300)
		if [ "$st" == "succeeded servers ran their 4 s" ]; then ok "$name with ngtcp2: server soak succeeded"
		else no "$name with ngtcp2: server soak succeeded"; echo "$st" | diag; fi
		check "$name with ngtcp2: the server answered QUIC" grep -q '"type":"service.ready"' "$mnt/tests/$t-ng/events"
	else
		no "$name with ngtcp2: accepted"; diag < "$work/cp.err"
	fi
	# ...and with a client against it
	server=$(sed -n '/^ *services:/{n;s/^ *\([A-Za-z0-9_.-]*\):.*/\1/p;}' "$seed")
	{ cat "$ng"
	  printf '      client:\n        timeout: 60\n        implementation: {name: quic/ngtcp2, type: iut}\n'
	  printf '        protocol: {name: quic, role: client, target: %s}\n        config: {download: 1M}\n' "$server"
	} > "$work/$t-pair.yaml"
	mkdir "$mnt/tests/$t-pair"
	if cp "$work/$t-pair.yaml" "$mnt/tests/$t-pair/config.yaml" 2>"$work/cp.err"; then
		st=$(wait_done "$t-pair" 300)
		if [ "$st" == "succeeded 1 client finished" ]; then ok "$name with ngtcp2: server and client succeeded"
		else no "$name with ngtcp2: server and client succeeded"; echo "$st" | diag; cat "$mnt/tests/$t-pair/services/client/logs" | diag; fi
		check "$name with ngtcp2: the client checked its download" grep -q "1M: OK" "$mnt/tests/$t-pair/services/client/logs"
	else
		no "$name with ngtcp2: server and client accepted"; diag < "$work/cp.err"
	fi
done

# seed 02 profiles its server (gperf_cpu): with ngtcp2 the profile is written
check "gperf_cpu profiled the server: results/ has cpu.prof and google-pprof's cpu.txt" eval '
	[ -s "$mnt/tests/seed02-ng/services/mvfst_server/results/cpu.prof" ] &&
	grep -q "Using local file" "$mnt/tests/seed02-ng/services/mvfst_server/results/cpu.txt"'

# nothing of ours left after removing the tests
for d in "$mnt"/tests/*; do rmdir "$d"; done
inst=$(cat "$state/instance")
for _ in $(seq 1 100); do [ -z "$(docker ps -aq --filter "label=pantherfs.instance=$inst")" ] && break; sleep 0.1; done
check "rmdir left no container" test -z "$(docker ps -aq --filter "label=pantherfs.instance=$inst")"
check "rmdir left no network" test -z "$(docker network ls -q --filter "label=pantherfs.instance=$inst")"
echo "1..$n"
exit $fail
