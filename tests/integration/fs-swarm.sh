#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs on a Docker Swarm through a real mount: a cluster of three engines in
# namespaces of their own and a registry (tests/support/swarm.sh), pantherfs
# mounted with --docker-host of its manager and --registry of the cluster.
#
#   - the engine line says swarm manager of 3 nodes;
#   - an ngtcp2 pair, server and client pinned to two other nodes: it
#     succeeds, service.placed and status.json name the nodes, the image is
#     pushed once and both nodes hold its digest (pulled from the registry);
#   - a mount pointed at a worker refuses a run, saying where to point;
#   - the manager without the image, the pair again and 20 tests more at
#     once, without placement: the image comes back from the registry (no
#     build, no push), pantherfs is killed with SIGKILL among them and
#     mounted again, and all 21 succeed, the runs live at the kill resumed
#     once, their services spread over the three nodes;
#   - a node's engine stopped while its service runs: the run fails saying
#     the node went down and its task is not final;
#   - after each part and at the end: no service, config, network or
#     container of the instance left in the cluster.
# The cluster is taken down by pid in the EXIT trap, whatever happened.
# Usage: fs-swarm.sh PANTHERFS_BINARY SOURCE_DIR (root: namespaces, dockerd).
. "$(dirname "${BASH_SOURCE[0]}")/fs-lib.sh"

pfs_init fs-swarm "$@"
[ "$(id -u)" = 0 ] || bail "needs root (the cluster's namespaces and engines)"
SWARM_SH=$SRC/tests/support/swarm.sh
BUILD=$(dirname "$PFS")
CID=f$(printf '%07x' $(( ($$ ^ $(date +%s)) & 0xfffffff )))
CLUSTER_UP=

swarm_down() {
	local t0=$SECONDS
	[ -n "$CLUSTER_UP" ] || return 0
	bash "$SWARM_SH" down "$CID" >/dev/null 2>&1
	CLUSTER_UP=
	echo "# cluster $CID down in $((SECONDS - t0)) s"
}
PFS_AFTER_CLEANUP+=(swarm_down)

# The ngtcp2 image pantherfs builds, in the main engine: built through a
# mount of the main engine when it is not there yet (a minute or two).
IMAGE=$("$BUILD/tests/unit/image-ref" "$SRC" - ngtcp2 rfc9000 | cut -d' ' -f1) || bail "no image name"
build_image() {
	docker image inspect "$IMAGE" >/dev/null 2>&1 && return 0
	local state=$WORK/build-state mnt=$WORK/build-mnt
	pfs_mount "$state" "$mnt" "$WORK/build.log" || return 1
	mkdir "$mnt/tests/img" && server_only 1 >"$mnt/tests/img/config.yaml"
	wait_until 1200 not_live_in "$mnt" img
	cat "$mnt/tests/img/status"
	echo stop >"$mnt/tests/img/ctl"
	wait_until 60 rmdir "$mnt/tests/img"
	wait_until 30 docker_empty "$INSTANCE"
	pfs_stop 20
	docker image inspect "$IMAGE" >/dev/null 2>&1
}
not_live_in() {
	local w
	w=$(cat "$1/tests/$2/status" 2>/dev/null) || return 1
	case ${w%% *} in succeeded | failed | stopped | error) return 0 ;; esac
	return 1
}
check "the ngtcp2 image $IMAGE is in the main engine" build_image || bail "no ngtcp2 image"

T0=$SECONDS
CLUSTER_UP=1
check "a cluster of 3 engines and a registry comes up ($CID)" bash "$SWARM_SH" up "$CID" --nodes 3 --image "$IMAGE" ||
	bail "no cluster"
echo "# cluster $CID up in $((SECONDS - T0)) s"
ST=/run/pfsw/$CID/state
get() { sed -n "s/^$1=//p" "$ST" | tail -n 1; }
REGISTRY=$(get registry)
MANAGER=$(get node1_host)
N2=$(get node2_hostname)
N3=$(get node3_hostname)
# the docker CLI of this script talks to the manager from now on (fs-lib's checks and sweeps too)
export DOCKER_HOST=$MANAGER
ndocker() { DOCKER_HOST=$(get "node${1}_host") timeout 60 docker "${@:2}"; }

# What the instance left in the cluster, through the manager: one line each.
swarm_left() {
	local f=(--filter "label=pantherfs.instance=$INSTANCE")
	timeout 30 docker service ls --format 'service {{.Name}}' "${f[@]}" 2>&1
	timeout 30 docker config ls --format 'config {{.Name}}' "${f[@]}" 2>&1
	timeout 30 docker network ls --format 'network {{.Name}}' "${f[@]}" 2>&1
	timeout 30 docker ps -a --format 'container {{.Names}}' "${f[@]}" 2>&1
}
swarm_empty() {
	local left
	left=$(swarm_left)
	[ -z "$left" ] && return 0
	echo "$left"
	return 1
}

PFS_MOUNT_ARGS=(--registry="$REGISTRY")
check "pantherfs mounts against the manager" pfs_mount || bail "no mount"
check "engine says it is a Swarm manager of 3 nodes" file_has "$MNT/engine" ", swarm manager of 3 nodes"

# ---- a pair on two nodes ---------------------------------------------------------------------------

pair() { # SERVER_NODE CLIENT_NODE
	printf 'services:\n'
	printf '  server:\n    implementation: {name: ngtcp2}\n    protocol: {role: server}\n'
	[ -n "${1:-}" ] && printf '    placement: %s\n' "$1"
	printf '  client:\n    implementation: {name: ngtcp2}\n    protocol: {role: client, target: server}\n'
	printf '    config: {download: 1M}\n'
	[ -n "${2:-}" ] && printf '    placement: {node: %s, apart_from: server}\n' "$2"
	return 0
}

# The value of a service's field in status.json.
svc_field() { # TEST SERVICE FIELD
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["services"][sys.argv[2]][sys.argv[3]])' \
		"$MNT/tests/$1/status.json" "$2" "$3"
}
# The data of the last event of a type, as JSON, or nothing.
last_event() { # FILE TYPE [SERVICE]
	python3 - "$@" <<'EOF'
import json, sys
path, typ = sys.argv[1], sys.argv[2]
svc = sys.argv[3] if len(sys.argv) > 3 else None
last = None
for line in open(path):
    ev = json.loads(line)
    if ev["type"] == typ and (svc is None or ev.get("service") == svc):
        last = ev["data"]
if last is not None:
    print(json.dumps(last))
EOF
}

mkdir "$MNT/tests/pair" && pair "$N2" "$N3" >"$MNT/tests/pair/config.yaml"
T0=$SECONDS
check "the pair pinned to nodes 2 and 3 succeeds" file_has <(wait_final pair 600) "succeeded 1 client finished"
echo "# the first pair (pushing the image, two nodes pulling it) took $((SECONDS - T0)) s"
EV=$MNT/tests/pair/events
check "its events are whole" events_valid "$EV" run.swarm image.pushed service.placed service.ready run.succeeded
check "service.placed: the server on node 2" file_has <(last_event "$EV" service.placed server) "\"node\": \"$N2\""
check "service.placed: the client on node 3" file_has <(last_event "$EV" service.placed client) "\"node\": \"$N3\""
check "status.json: the server's node" eq "$(svc_field pair server node)" "$N2"
check "status.json: the client's node" eq "$(svc_field pair client node)" "$N3"
check "the client downloaded and checked its file" file_has "$MNT/tests/pair/services/client/logs" "1M: OK"
check "the client exited 0" eq "$(cat "$MNT/tests/pair/services/client/status")" "exited 0"
check "the server was ready (probed from the overlay)" file_has <(last_event "$EV" service.ready server) '"probed_from": "overlay"'
check "the image was pushed once" eq "$(count_events "$EV" image.pushed)" 1
DIGEST=$(last_event "$EV" image.pushed | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])')
check "services name the image by its digest in the registry" file_has "$MNT/tests/pair/services/server/image" "$DIGEST"
holds() { ndocker "$1" image inspect --format '{{join .RepoDigests " "}}' "$DIGEST" | grep -qF "$DIGEST"; }
check "node 2 pulled it from the registry" holds 2
check "node 3 pulled it from the registry" holds 3
check "the run left nothing in the cluster" wait_until 60 swarm_empty
check "... (what is left)" swarm_empty

# ---- a worker --------------------------------------------------------------------------------------------------------

worker() {
	local state=$WORK/w-state mnt=$WORK/w-mnt
	PFS_MOUNT_ARGS=(--docker-host="$(get node2_host)" --registry="$REGISTRY")
	pfs_mount "$state" "$mnt" "$WORK/worker.log" || return 1
	PFS_MOUNT_ARGS=(--registry="$REGISTRY")
	file_has "$mnt/engine" "swarm worker: runs need a manager" || return 1
	mkdir "$mnt/tests/w" && server_only 5 >"$mnt/tests/w/config.yaml"
	wait_until 60 not_live_in "$mnt" w
	file_has "$mnt/tests/w/status" "error the Docker engine is a worker of a Swarm" || return 1
	file_has "$mnt/tests/w/status" "point --docker-host at one" || return 1
	file_has "$mnt/tests/w/error" "run 1: the Docker engine is a worker of a Swarm" || return 1
	rmdir "$mnt/tests/w" && pfs_stop 20
}
SAVED_PID=$PFS_PID
check "a mount pointed at a worker refuses runs, saying where to point" worker
PFS_PID=$SAVED_PID

# ---- 20 tests at once, the image pulled back, pantherfs killed among them ---------------------------------------------
#
# The manager loses its copies of the image, so the pair's second run (and
# the 20 that start with it) pull it from the registry instead of building
# it; while they go, pantherfs is killed with SIGKILL and mounted again: each
# run is taken up by its labels, in whatever phase it was, and ends with its
# verdict.

rm_images() { timeout 120 docker rmi "$IMAGE" "$REGISTRY/$IMAGE"; }
check "the manager's copies of the image removed" rm_images
T0=$SECONDS
echo restart >"$MNT/tests/pair/ctl"
for i in $(seq 1 20); do
	mkdir "$MNT/tests/many$i" && pair >"$MNT/tests/many$i/config.yaml"
done
some_running() {
	local i n=0
	for i in $(seq 1 20); do
		case $(status_word "many$i") in running | stopping | succeeded) n=$((n + 1)) ;; esac
	done
	[ $n -ge 3 ]
}
check "3 of the 20 get to run" wait_until 300 some_running
echo "# $(for i in $(seq 1 20); do status_word "many$i"; done | sort | uniq -c | tr -s ' \n' ' ')at the kill, $((SECONDS - T0)) s in"
kill_restart() {
	KILLED_AT=$EPOCHREALTIME
	kill -KILL "$PFS_PID"
	wait "$PFS_PID" 2>/dev/null
	fusermount3 -uz "$MNT" 2>/dev/null || umount -l "$MNT"
	pfs_mount
}
check "pantherfs killed with SIGKILL and mounted again" kill_restart
all_final() {
	local i
	not_live pair || return 1
	for i in $(seq 1 20); do not_live "many$i" || return 1; done
}
check "the 21 runs end within 10 minutes" wait_until 600 all_final
echo "# 21 runs with a SIGKILL among them ended in $((SECONDS - T0)) s"
ok_all() {
	local i bad=0
	for i in pair $(seq -f 'many%g' 1 20); do
		case $(cat "$MNT/tests/$i/status") in
		succeeded*) ;;
		*) echo "$i: $(cat "$MNT/tests/$i/status")"; bad=1 ;;
		esac
	done
	return $bad
}
check "all 21 succeeded" ok_all
# Every run that ended after the kill was resumed once, and none that ended before it.
resumed() {
	python3 - "$KILLED_AT" "$MNT"/tests/many*/events <<'EOF'
import datetime, json, sys
killed = float(sys.argv[1])
bad = n = 0
for path in sys.argv[2:]:
    end, resumed = None, 0
    for line in open(path):
        ev = json.loads(line)
        if ev["type"] == "run.resumed":
            resumed += 1
        if ev["type"] in ("run.succeeded", "run.failed", "run.stopped"):
            end = datetime.datetime.strptime(ev["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                tzinfo=datetime.timezone.utc).timestamp()
    if end is None:
        print(f"{path}: no end"); bad += 1; continue
    if abs(end - killed) < 1:
        continue  # ended as it was killed: either is right
    if resumed != (1 if end > killed else 0):
        print(f"{path}: ended {end - killed:+.1f} s from the kill, resumed {resumed} times"); bad += 1
    n += resumed
print(f"# {n} runs resumed")
sys.exit(1 if bad or n == 0 else 0)
EOF
}
once_each() {
	local i s bad=0
	for i in $(seq 1 20); do
		events_valid "$MNT/tests/many$i/events" run.succeeded || bad=1
		for s in server client; do
			[ "$(grep -c "\"type\":\"service.exited\",\"service\":\"$s\"" "$MNT/tests/many$i/events")" = 1 ] ||
				{ echo "many$i: $s did not exit exactly once"; bad=1; }
		done
	done
	return $bad
}
check "their events are whole, each service exited once" once_each
check "the pair's second run is run 2" eq "$(nruns pair)" 2
EV2=$MNT/tests/pair/runs/2/events
pulled() {
	local i n=0
	for i in pair $(seq -f 'many%g' 1 20); do
		n=$((n + $(count_events "$MNT/tests/$i/events" image.pushed) + $(count_events "$MNT/tests/$i/events" image.build_started)))
	done
	[ -s "$EV2" ] && file_has <(last_event "$EV2" image.pulled) "\"from\": \"$REGISTRY/$IMAGE\"" && eq "$n" 1
}
check "the image came back from the registry: built by none, pushed once in all" pulled
spread() {
	local i s n seen=""
	for i in $(seq 1 20); do
		for s in server client; do
			n=$(svc_field "many$i" $s node) || return 1
			seen="$seen$n"$'\n'
		done
	done
	printf '%s' "$seen" | sort | uniq -c | sed 's/^/# /'
	[ "$(printf '%s' "$seen" | sort -u | grep -c .)" -eq 3 ]
}
check "their 40 services ran on all three nodes" spread
spread | grep '^#'
for i in $(seq 1 20); do rmdir "$MNT/tests/many$i"; done
check "... and left nothing in the cluster" wait_until 90 swarm_empty
check "... (what is left)" swarm_empty

# ---- a node that goes away ---------------------------------------------------------------------------------------------

mkdir "$MNT/tests/down" && printf 'timeout: 600\nservices:\n  s: {implementation: {name: ngtcp2}, protocol: {role: server}, placement: %s}\n' \
	"$N3" >"$MNT/tests/down/config.yaml"
check "a server runs on node 3" wait_until 300 is_running down
T0=$SECONDS
check "node 3's engine stopped" bash "$SWARM_SH" stop-node "$CID" 3
check "the run fails: node 3 went down, its task not final" \
	file_has <(wait_final down 180) "failed node $N3 went down (service s): its task is not final"
echo "# the verdict came $((SECONDS - T0)) s after node 3's engine was told to stop"
check "service.lost names the node" file_has <(last_event "$MNT/tests/down/events" service.lost s) "\"node\": \"$N3\""
check "... and left nothing in the cluster" wait_until 90 swarm_empty
check "... (what is left)" swarm_empty

pfs_finish
