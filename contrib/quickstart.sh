#!/bin/bash
# pantherfs's quick start, on a fresh Debian 12 machine (as root):
# installs what is needed, builds, starts a Docker engine if none answers,
# mounts pantherfs, runs a real QUIC test through the mount (ngtcp2 server
# and client) and shows its status, events and the client's log. The mount
# stays for you to explore; `fusermount3 -u MOUNTPOINT` ends it.
#
# Settings (environment): PFS_MOUNT (default /mnt/pantherfs), PFS_STATE
# (default /var/lib/pantherfs), PFS_BUILD_DIR (default build), PFS_TEST
# (default quickstart).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
mnt=${PFS_MOUNT:-/mnt/pantherfs}
state=${PFS_STATE:-/var/lib/pantherfs}
build=${PFS_BUILD_DIR:-build}
test=${PFS_TEST:-quickstart}
say() { echo "quickstart: $*"; }

pkgs=(meson ninja-build pkg-config gcc libfuse3-dev fuse3 libcurl4-openssl-dev libjansson-dev
      libyaml-dev check libarchive-dev libssl-dev)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${missing[@]}" >/dev/null
fi
bash tests/prepare-docker-engine.sh

say "building ($build)"
[ -d "$build" ] || meson setup "$build" >/dev/null
ninja -C "$build" >/dev/null

mkdir -p "$mnt"
if ! mountpoint -q "$mnt"; then
	say "mounting pantherfs at $mnt (state in $state)"
	"$build/pantherfs" --state-dir="$state" "$mnt"
	for _ in $(seq 1 50); do [ -r "$mnt/engine" ] && break; sleep 0.1; done
fi
say "$(cat "$mnt/engine")"

dir=$mnt/tests/$test
[ -d "$dir" ] || mkdir "$dir"
say "writing contrib/examples/quickstart.yaml to $dir/config.yaml"
if ! cp contrib/examples/quickstart.yaml "$dir/config.yaml"; then
	cat "$dir/error" >&2
	exit 1
fi
say "following $dir/events.follow until the run ends (the image builds the first time: about a minute)"
timeout 900 cat "$dir/events.follow" | cut -c1-160
echo
say "status: $(cat "$dir/status")"
say "the client's command: $(cat "$dir/services/client/command")"
say "the client's log:"
sed 's/^/    /' "$dir/services/client/logs"
echo
cat <<TXT
pantherfs stays mounted at $mnt. Try:
  cat $dir/status.json
  tail -f $dir/events
  cat $mnt/implementations/mvfst/versions
  ls $dir/runs/
  fusermount3 -u $mnt          # unmount
TXT
case $(cat "$dir/status") in
succeeded*) exit 0 ;;
*) exit 1 ;;
esac
