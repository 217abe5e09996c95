#!/bin/bash
# SPDX-License-Identifier: MIT
# A Docker Swarm cluster on this machine, for the swarm suite: two or three
# extra Docker engines, each in network, mount and UTS namespaces of its own,
# joined into a Swarm, and Debian's docker-registry that every engine reaches.
#
#   swarm.sh up ID [--nodes N] [--image REF]...
#       Starts the cluster named ID ([a-z0-9], 1-8 characters; 2 or 3 nodes,
#       default 3) and loads each REF from the main engine into node 1, the
#       manager (docker save | docker load). A leftover cluster of the same ID
#       is taken down first. Prints the state file's path.
#   swarm.sh down ID
#       Ends everything of cluster ID by pid and removes its namespaces, data
#       and state. Idempotent; safe on a cluster that came up halfway.
#   swarm.sh stop-node ID N
#       Stops node N's engine (SIGTERM, then SIGKILL after 60 s), as a machine
#       that leaves: the other engines are not told.
#   swarm.sh fingerprint
#       The main engine's docker0 address and its NAT rules, which a cluster
#       must never touch (the suite compares them before and after).
#
# Why namespaces: a second dockerd in the host's network namespace deletes
# docker0 and the main engine's NAT rule, and Swarm refuses the main engine
# (it runs with live-restore). So each node has its own network namespace
# (own iptables, own docker0, own ports 2377/7946/4789), its own mount
# namespace (its overlay and netns mounts vanish with it), its own hostname
# (placement by node.hostname), its own data-root, exec-root, socket, pid
# file and cgroup parent, and a config file of its own so the host's
# daemon.json (live-restore) is not read.
#
# Topology, all inside namespaces (nothing is added to the host's network):
#   netns pfsw-ID-hub: bridge br0 10.213.0.1/24; the registry on 10.213.0.1:5000
#   netns pfsw-ID-nK:  eth0 10.213.0.(10+K)/24, veth to br0; dockerd with
#                      docker0 10.214.0.1/24, local pools from 10.215.0.0/16
#   Swarm overlays and ingress from 10.216.0.0/16.
# None of these meets the main engine's docker0 and its 10.210.0.0/16 pool;
# two clusters with different IDs use the same addresses in different
# namespaces, which do not meet either.
#
# State: /run/pfsw/ID/state, "key=value" lines written as things start (so
# down finds a half-started cluster): id, nodes, registry (host:port),
# registry_pid, hub_ns, and per node K: nodeK_ns, nodeK_host (unix://...),
# nodeK_addr, nodeK_hostname, nodeK_pid, nodeK_data, nodeK_cgroup. Logs:
# /run/pfsw/ID/nK/dockerd.log, /run/pfsw/ID/registry.log.
set -uo pipefail

say() { echo "swarm: $*" >&2; }
die() { echo "swarm: error: $*" >&2; exit 1; }
# A failed up takes down what it started (set PFS_SWARM_KEEP=1 to look at it).
fail() {
	echo "swarm: error: $*" >&2
	[ "${PFS_SWARM_KEEP:-0}" = 1 ] || down "$id"
	exit 1
}

HUB_NET=10.213.0
REG_PORT=5000
RUN_ROOT=/run/pfsw            # swarmtest.c reads the state here
DATA_ROOT=/var/lib/pfsw

check_id() {
	[[ $1 =~ ^[a-z0-9]{1,8}$ ]] || die "bad cluster id \"$1\" (1-8 of [a-z0-9])"
}

state_get() { # FILE KEY
	sed -n "s/^$2=//p" "$1" 2>/dev/null | tail -n 1
}

# "docker" against one node, bounded: the CLI has no timeout of its own.
ndocker() { # SOCKET_HOST SECONDS ARGS...
	local host=$1 t=$2
	shift 2
	DOCKER_HOST=$host timeout "$t" docker "$@"
}

# Processes whose cgroup is under /sys/fs/cgroup/<controller>/<parent>.
cgroup_pids() { # PARENT
	local d
	for d in /sys/fs/cgroup/*/"$1" /sys/fs/cgroup/"$1"; do
		[ -d "$d" ] || continue
		find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
	done | sort -un
}

cgroup_remove() { # PARENT
	local d
	for d in /sys/fs/cgroup/*/"$1" /sys/fs/cgroup/"$1"; do
		[ -d "$d" ] || continue
		# deepest first: a cgroup with children cannot be removed
		find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
}

# The main engine's view of the host network, which no cluster may change.
fingerprint() {
	ip -o -4 addr show dev docker0 2>/dev/null | awk '{print "docker0", $4}'
	iptables -t nat -S POSTROUTING 2>/dev/null | grep -w docker0
	iptables -t nat -S PREROUTING 2>/dev/null | grep -w DOCKER
}

# Ended, or a zombie (which its parent, not we, reaps).
gone() { # PID
	! kill -0 "$1" 2>/dev/null || [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" = Z ]
}

wait_pid_gone() { # PID SECONDS
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		gone "$1" && return 0
		sleep 0.1
	done
	return 1
}

# SIGTERM to each PID still running COMM (a recorded pid may have been
# reused since), up to SECONDS for all of them to end, then SIGKILL.
stop_recorded() { # COMM SECONDS PID...
	local comm=$1 t=$2 pid live=() left=()
	shift 2
	for pid in "$@"; do
		[ -n "$pid" ] || continue
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ] || continue
		kill -TERM "$pid" 2>/dev/null && live+=("$pid")
	done
	# one deadline for all: they stop in parallel
	t=$((SECONDS + t))
	for pid in "${live[@]}"; do
		while ! gone "$pid" && [ "$SECONDS" -lt "$t" ]; do sleep 0.1; done
		gone "$pid" || left+=("$pid")
	done
	for pid in "${left[@]}"; do
		say "$comm (pid $pid) did not end within $2 s of SIGTERM: killed"
		kill -KILL "$pid" 2>/dev/null
		wait_pid_gone "$pid" 10
	done
}

# Kills whatever is still in namespace NS or cgroup CG (containerd, shims,
# container processes after a killed engine): all of it started by this
# script, in namespaces and cgroups that are its own.
kill_rest() { # NS CG
	local pids p i
	for i in 1 2 3; do
		pids=$( { ip netns pids "$1" 2>/dev/null; [ -n "$2" ] && cgroup_pids "$2"; } | sort -un)
		[ -n "$pids" ] || return 0
		for p in $pids; do kill -KILL "$p" 2>/dev/null; done
		for p in $pids; do wait_pid_gone "$p" 10; done
	done
}

down() { # ID
	local id=$1 run=$RUN_ROOT/$1 st ns k n t0 pids=()
	st=$run/state
	n=$(state_get "$st" nodes)
	for ((k = 1; k <= ${n:-3}; k++)); do
		pids+=("$(state_get "$st" "node${k}_pid")")
	done
	# dockerd stops its containers on SIGTERM (no live-restore)
	t0=$SECONDS
	stop_recorded dockerd 60 "${pids[@]}"
	stop_recorded docker-registry 10 "$(state_get "$st" registry_pid)"
	say "cluster $id: engines and registry ended in $((SECONDS - t0)) s"
	# and whatever is left in the namespaces and cgroups named after the
	# cluster, also of a larger cluster than the state says (one lost midway)
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^pfsw-$id-(n[0-9]+|hub)$"); do
		kill_rest "$ns" "$ns"
		cgroup_remove "$ns"
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "${DATA_ROOT:?}/$id" "$run"
	say "cluster $id: down in $((SECONDS - t0)) s"
	rmdir "$DATA_ROOT" "$RUN_ROOT" 2>/dev/null
	return 0
}

start_node() { # ID K STATEFILE
	local id=$1 k=$2 st=$3 ns=pfsw-$1-n$2 run=$RUN_ROOT/$1/n$2 data=$DATA_ROOT/$1/n$2
	local addr=$HUB_NET.$((10 + k)) hn=pfsw-$1-n$2 sock pid

	sock=$run/docker.sock
	mkdir -p "$run" "$data" || return 1
	echo '{}' > "$run/daemon.json"
	ip netns add "$ns" || return 1
	ip -n "pfsw-$id-hub" link add "n$k" type veth peer name eth0 netns "$ns" || return 1
	ip -n "pfsw-$id-hub" link set "n$k" master br0 up || return 1
	ip -n "$ns" link set lo up && ip -n "$ns" addr add "$addr/24" dev eth0 &&
		ip -n "$ns" link set eth0 up || return 1
	{
		echo "node${k}_ns=$ns"
		echo "node${k}_host=unix://$sock"
		echo "node${k}_addr=$addr"
		echo "node${k}_hostname=$hn"
		echo "node${k}_data=$data"
		echo "node${k}_cgroup=$hn"
	} >> "$st"
	# One pid from nsenter to dockerd: nsenter, unshare and sh each exec the
	# next. In the new mount namespace a sysfs of the node's network
	# namespace replaces /sys (dockerd reads its interfaces there), with the
	# host's cgroup hierarchy moved back under it.
	# shellcheck disable=SC2016
	setsid nsenter --net="/run/netns/$ns" -- \
		unshare --mount --uts --propagation slave -- \
		sh -c 'set -e
			hostname "$1"
			mkdir -p "$2/cgroup"
			mount --rbind /sys/fs/cgroup "$2/cgroup"
			mount -t sysfs sysfs /sys
			mount --move "$2/cgroup" /sys/fs/cgroup
			shift 2
			exec "$@"' sh "$hn" "$run" \
		dockerd --host "unix://$sock" --config-file "$run/daemon.json" \
			--data-root "$data" --exec-root "$run/exec" --pidfile "$run/dockerd.pid" \
			--bip 10.214.0.1/24 --default-address-pool base=10.215.0.0/16,size=24 \
			--cgroup-parent "$hn" --insecure-registry "$HUB_NET.1:$REG_PORT" \
			--log-level warn \
		> "$run/dockerd.log" 2>&1 < /dev/null &
	pid=$!
	echo "node${k}_pid=$pid" >> "$st"
	return 0
}

wait_engine() { # HOST PID LOG
	local i
	for ((i = 0; i < 240; i++)); do
		ndocker "$1" 5 version --format '{{.Server.APIVersion}}' >/dev/null 2>&1 && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.25
	done
	tail -n 20 "$3" >&2
	return 1
}

up() { # ID ARGS...
	local id=$1 n=3 images=() run st k pid host mgr token i ready
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--nodes) n=${2:-}; shift 2 ;;
		--image) images+=("${2:-}"); shift 2 ;;
		*) die "unknown option $1" ;;
		esac
	done
	[[ $n =~ ^[23]$ ]] || die "--nodes takes 2 or 3"
	for c in dockerd docker docker-registry ip nsenter unshare iptables; do
		command -v "$c" >/dev/null || die "$c is missing (packages docker.io, docker-registry, iproute2, util-linux, iptables)"
	done
	[ "$(id -u)" = 0 ] || die "needs root (namespaces, dockerd)"

	run=$RUN_ROOT/$id
	st=$run/state
	if [ -e "$st" ] || ip netns list 2>/dev/null | grep -q "^pfsw-$id-"; then
		say "taking down the leftovers of cluster $id"
		down "$id"
	fi
	mkdir -p "$run" "$DATA_ROOT/$id/registry" || fail "cannot make $run"
	chmod 700 "$run" "$DATA_ROOT/$id"
	printf 'id=%s\nnodes=%s\nhub_ns=pfsw-%s-hub\nregistry=%s\n' "$id" "$n" "$id" "$HUB_NET.1:$REG_PORT" > "$st"

	# the hub: a bridge and the registry
	ip netns add "pfsw-$id-hub" || fail "ip netns add failed"
	ip -n "pfsw-$id-hub" link set lo up
	ip -n "pfsw-$id-hub" link add br0 type bridge &&
		ip -n "pfsw-$id-hub" addr add "$HUB_NET.1/24" dev br0 &&
		ip -n "pfsw-$id-hub" link set br0 up || fail "cannot make the hub bridge"
	cat > "$run/registry.yml" <<-EOF
	version: 0.1
	log:
	  level: warn
	storage:
	  filesystem:
	    rootdirectory: $DATA_ROOT/$id/registry
	  delete:
	    enabled: true
	http:
	  addr: $HUB_NET.1:$REG_PORT
	EOF
	setsid nsenter --net="/run/netns/pfsw-$id-hub" -- docker-registry serve "$run/registry.yml" \
		> "$run/registry.log" 2>&1 < /dev/null &
	echo "registry_pid=$!" >> "$st"

	for ((k = 1; k <= n; k++)); do
		start_node "$id" "$k" "$st" || fail "cannot set up node $k"
	done
	for ((k = 1; k <= n; k++)); do
		pid=$(state_get "$st" "node${k}_pid")
		wait_engine "unix://$run/n$k/docker.sock" "$pid" "$run/n$k/dockerd.log" ||
			fail "node $k's engine did not answer within 60 s"
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || fail "node $k: pid $pid is not dockerd"
	done
	for ((i = 0; i < 100; i++)); do
		ip netns exec "pfsw-$id-n1" bash -c "exec 3<>/dev/tcp/$HUB_NET.1/$REG_PORT" 2>/dev/null && break
		sleep 0.1
	done
	[ "$i" -lt 100 ] || { cat "$run/registry.log" >&2; fail "the registry does not answer on $HUB_NET.1:$REG_PORT"; }

	mgr=unix://$run/n1/docker.sock
	ndocker "$mgr" 60 swarm init --advertise-addr "$HUB_NET.11" --listen-addr "$HUB_NET.11:2377" \
		--default-addr-pool 10.216.0.0/16 --default-addr-pool-mask-length 24 >/dev/null ||
		fail "swarm init failed"
	token=$(ndocker "$mgr" 20 swarm join-token -q worker) || fail "no join token"
	for ((k = 2; k <= n; k++)); do
		ndocker "unix://$run/n$k/docker.sock" 60 swarm join --token "$token" \
			--advertise-addr "$HUB_NET.$((10 + k))" --listen-addr "$HUB_NET.$((10 + k)):2377" \
			"$HUB_NET.11:2377" >/dev/null || fail "node $k could not join"
	done
	for ((i = 0; i < 120; i++)); do
		ready=$(ndocker "$mgr" 10 node ls --format '{{.Status}}' 2>/dev/null | grep -c '^Ready$')
		[ "${ready:-0}" -eq "$n" ] && break
		sleep 0.5
	done
	[ "${ready:-0}" -eq "$n" ] || fail "only ${ready:-0} of $n nodes ready after 60 s"

	for i in "${images[@]}"; do
		say "loading $i into node 1"
		docker image inspect "$i" >/dev/null 2>&1 || fail "the main engine has no image $i"
		timeout 600 docker save "$i" | ndocker "$mgr" 600 load -q >/dev/null ||
			fail "cannot load $i into node 1"
	done
	echo "$st"
}

cmd=${1:-}
shift || true
case $cmd in
up)
	[ $# -ge 1 ] || die "usage: swarm.sh up ID [--nodes N] [--image REF]..."
	check_id "$1"
	up "$@" || exit 1
	;;
down)
	[ $# -eq 1 ] || die "usage: swarm.sh down ID"
	check_id "$1"
	[ "$(id -u)" = 0 ] || die "needs root"
	down "$1"
	;;
stop-node)
	[ $# -eq 2 ] || die "usage: swarm.sh stop-node ID N"
	check_id "$1"
	[[ $2 =~ ^[1-9]$ ]] || die "bad node number $2"
	pid=$(state_get "$RUN_ROOT/$1/state" "node$2_pid")
	[ -n "$pid" ] || die "cluster $1 has no node $2"
	stop_recorded dockerd 60 "$pid"
	;;
fingerprint)
	fingerprint
	;;
*)
	die "usage: swarm.sh up|down|stop-node|fingerprint ..."
	;;
esac
