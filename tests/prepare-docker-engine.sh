#!/bin/bash
# Makes a Docker engine usable for pantherfs and its tests, on Debian 12:
#   1. installs docker.io (and debootstrap) when missing,
#   2. starts dockerd when nothing answers on the socket, and waits for /_ping,
#   3. makes the base images the images build FROM (debian:bookworm-slim, and
#      debian:bullseye-slim for the 2021-2022 mvfst pins) when they are
#      absent and cannot be pulled: debootstrap + docker import.
# Idempotent: run it twice and the second run only checks. Needs root for the
# first two steps. Says what it does.
set -euo pipefail

say() { echo "prepare-docker-engine: $*"; }
die() { echo "prepare-docker-engine: error: $*" >&2; exit 1; }

host=${DOCKER_HOST:-unix:///var/run/docker.sock}
images=${PFS_BASE_IMAGES:-debian:bookworm-slim debian:bullseye-slim}
dockerd_log=${PFS_DOCKERD_LOG:-/var/log/pantherfs-dockerd.log}

need_pkgs=()
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
command -v docker >/dev/null 2>&1 || need_pkgs+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need_pkgs+=(debootstrap)
if [ ${#need_pkgs[@]} -gt 0 ]; then
	[ "$(id -u)" = 0 ] || die "missing ${need_pkgs[*]}; run as root to install them"
	say "installing ${need_pkgs[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

engine_up() { DOCKER_HOST=$host timeout 10 docker version --format '{{.Server.APIVersion}}' >/dev/null 2>&1; }

if engine_up; then
	say "engine answers at $host"
else
	case $host in
	unix://*) ;;
	*) die "no engine answers at $host, and only a local unix socket engine can be started here" ;;
	esac
	[ "$(id -u)" = 0 ] || die "no engine answers at $host; run as root to start dockerd"
	sock=${host#unix://}
	say "starting dockerd (log: $dockerd_log)"
	# --live-restore: containers keep running while the engine restarts (the
	# orchestrator's reconnection test restarts it). The command line is kept
	# so that the test can start it again the same way.
	# PFS_DOCKER_POOL: where bridge networks take their addresses from.
	# --default-address-pool: 256 bridge networks instead of about 31, for
	# the suites that run many tests at once.
	cmd=(dockerd -H "unix://$sock" --live-restore --default-address-pool "base=${PFS_DOCKER_POOL:-10.210.0.0/16},size=24")
	printf '%s\n' "${cmd[@]}" > /run/pantherfs-dockerd.cmd
	# setsid: the engine outlives this script and the shell that ran it
	setsid nohup "${cmd[@]}" >>"$dockerd_log" 2>&1 < /dev/null &
	echo $! > /run/pantherfs-dockerd.pid
	for _ in $(seq 1 120); do
		engine_up && break
		sleep 0.5
	done
	engine_up || { tail -n 20 "$dockerd_log" >&2; die "dockerd did not answer within 60 s"; }
	say "engine up: $(DOCKER_HOST=$host docker version --format 'server {{.Server.Version}} api {{.Server.APIVersion}}')"
fi

for image in $images; do
	if DOCKER_HOST=$host docker image inspect "$image" >/dev/null 2>&1; then
		say "base image $image present"
		continue
	fi
	say "base image $image absent; trying to pull it"
	if DOCKER_HOST=$host timeout 60 docker pull -q "$image" >/dev/null 2>&1; then
		say "pulled $image"
		continue
	fi
	case $image in
	debian:*-slim) suite=${image#debian:}; suite=${suite%-slim} ;;
	*) die "cannot pull $image and do not know how to make it" ;;
	esac
	[ "$(id -u)" = 0 ] || die "cannot pull $image; run as root to make it with debootstrap"
	root=$(mktemp -d /tmp/pantherfs-rootfs.XXXXXX)
	trap 'rm -rf "$root"' EXIT
	say "making $image with debootstrap --variant=minbase $suite (about 30 s)"
	debootstrap --variant=minbase "$suite" "$root" >"$root.log" 2>&1 ||
		{ tail -n 20 "$root.log" >&2; die "debootstrap $suite failed"; }
	tar -C "$root" -c . | DOCKER_HOST=$host docker import - "$image" >/dev/null
	rm -rf "$root" "$root.log"
	trap - EXIT
	say "imported $image"
done
say "ready"
