#!/bin/bash
# SPDX-License-Identifier: MIT
# Network conditions, captures, key logs and qlogs through the mount, with
# real QUIC (ngtcp2's 1 MiB download) and the real netem helper:
#  - bandwidth: 10Mbit on the server makes the download take >= 0.8 s, and
#    the unshaped one less; latency: 100 adds >= 2 x 100 ms; packet_loss:
#    100 on the client fails it by its handshake timeout, and on a server
#    fails its readiness, each with a status that says so;
#  - a shaped and an unshaped test at the same time: each as if alone;
#  - capture.pcap grows while the run goes on, is frozen under runs/<n>/,
#    opens with tshark, holds QUIC both ways, and keys.log decrypts it;
#    qlog/ holds the qlog files;
#  - SIGKILL of pantherfs in the middle of a shaped run: after the restart
#    the run ends with its verdict, network.shaped was said once per
#    service, and no helper is left;
#  - a bad value is refused with its line and column.
# The download time is the one the client's command logs ("pantherfs:
# received N bytes in T microseconds"). The bounds are the conditions'
# own (what shaping cannot beat), never how fast this machine is.
#
#   fs-netem.sh PANTHERFS_BINARY SOURCE_DIR      (TAP on stdout)
. "$(dirname "$0")/fs-lib.sh"
pfs_init fs-netem "$@"
command -v tshark >/dev/null || bail "tshark is needed to read the captures (Debian's tshark)"

check "pantherfs mounts and engine reads connected" pfs_mount || bail "no mount"

TS=$MNT/tests
OUT=$WORK/out

# cfg NAME NETENV SERVER_EXTRA CLIENT_EXTRA: a server and a 1 MiB client
cfg() {
	cat >"$WORK/cfg/$1.yaml" <<EOF
network_environment:
  type: docker_compose
$2
services:
  server:
    implementation: {name: ngtcp2}
    protocol: {role: server}
$3
  client:
    implementation: {name: ngtcp2}
    protocol: {role: client, target: server}
$4
EOF
}
DL='    config: {download: 1M}'
cfg plain "" "" "$DL"
cfg rate "" "    network: {bandwidth: 10Mbit}" "$DL"
cfg delay "  network: {latency: 100}" "" "$DL"
cfg loss "" "" "    network: {packet_loss: 100}
    config: {download: 1M, handshake_timeout: 3s}"
cfg srvloss "" "    network: {packet_loss: 100}" "$DL"
cfg side-shaped "  network: {latency: 200}" "" "$DL"
cfg side-plain "" "" "$DL"
# 1 MiB through 1 Mbit/s: about 9 s, time enough to watch the capture grow and to kill pantherfs
cfg cap "  capture: true" "    network: {bandwidth: 1Mbit}
    config: {qlog: true}" "    config: {download: 1M, qlog: true}"

# start NAME: mkdir tests/NAME, write its config
start() {
	mkdir "$TS/$1" && cp "$WORK/cfg/$1.yaml" "$TS/$1/config.yaml"
}

# The download time (microseconds) the client of test $1 logged; fails without one.
dl_us() {
	local us
	us=$(sed -n 's/^pantherfs: received 1048576 bytes in \([0-9]*\) microseconds$/\1/p' \
		"$TS/$1/services/client/logs" 2>/dev/null | tail -n 1)
	[ -n "$us" ] && { echo "$us"; return 0; }
	echo "no download time in $1's client log:" >&2
	tail -n 5 "$TS/$1/services/client/logs" >&2
	return 1
}

# ge A B WHAT: A >= B, both shown when not
ge() {
	[ "$1" -ge "$2" ] && return 0
	echo "$3: $1 < $2"
	return 1
}

# status.json's value at a python expression over j (e.g. j["services"]["client"]["helper"])
sj() {
	python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); v = eval(sys.argv[2]); print(v if isinstance(v, str) else json.dumps(v))' \
		"$TS/$1/status.json" "$2"
}

# What Docker has of this instance's netem helpers (of test $1 only, when given), one line each.
helpers_left() {
	local f=(--filter "label=pantherfs.instance=$INSTANCE" --filter label=pantherfs.helper=netem)
	[ -n "${1:-}" ] && f+=(--filter "label=pantherfs.test=$1")
	docker ps -a "${f[@]}" --format '{{.Names}} {{.Status}}' 2>&1
}
no_helpers() {
	local left
	left=$(helpers_left "$@")
	[ -z "$left" ] && return 0
	echo "left: $left"
	return 1
}

# ==== a bad value, through the mount =================================================================

mkdir "$TS/bad"
printf 'services:\n  s:\n    implementation: {name: ngtcp2}\n    protocol: {role: server}\n    network: {bandwidth: fast}\n' \
	>"$WORK/cfg/bad.yaml"
check "bandwidth: fast: close() fails with EINVAL" eq "$(write_close "$TS/bad/config.yaml" "$WORK/cfg/bad.yaml")" EINVAL
check "error says where: line 5, column 26" file_has "$TS/bad/error" "config.yaml:5:26: services.s.network.bandwidth: \"fast\" is not a rate"

# ==== a lossy server: its readiness fails saying why (30 s: it runs beside the rest) ========================

start srvloss

# ==== unshaped, then each condition alone =========================================================

start plain
check "unshaped: the run succeeds" eq "$(wait_final plain 300)" "succeeded 1 client finished"
T0=$(dl_us plain) || T0=
check "unshaped: the client logged its download time ($T0 us)" test -n "$T0"
check "unshaped: no helper, no network.shaped" eq "$(count_events "$TS/plain/events" network.shaped)" 0
unlisted() {
	local l
	l=$(ls "$TS/plain/services/client" "$TS/plain/runs/1/services/client")
	case $l in *capture.pcap* | *keys.log* | *qlog*) echo "$l"; return 1 ;; esac
	[ ! -e "$TS/plain/services/client/capture.pcap" ] || { echo "capture.pcap resolves"; return 1; }
}
check "unshaped: capture.pcap, keys.log and qlog/ neither listed nor found" unlisted

start rate
check "bandwidth 10Mbit: the run succeeds" eq "$(wait_final rate 300)" "succeeded 1 client finished"
T_RATE=$(dl_us rate) || T_RATE=0
diag "download: unshaped ${T0:-?} us, 10 Mbit/s on the server $T_RATE us"
check "bandwidth 10Mbit: 1 MiB takes at least 0.8 s" ge "$T_RATE" 800000 "download us"
check "bandwidth 10Mbit: the unshaped download took less" ge "$T_RATE" "$((${T0:-999999999} + 1))" "shaped us vs unshaped us + 1"
check "bandwidth 10Mbit: one network.shaped (the server's)" eq "$(count_events "$TS/rate/events" network.shaped)" 1
check "bandwidth 10Mbit: status.json shows the conditions" \
	eq "$(sj rate 'j["services"]["server"]["network"]["conditions"]["bandwidth_bps"]')" 10000000
check "bandwidth 10Mbit: ... and the kernel's qdisc as applied" \
	eval 'sj rate "j[\"services\"][\"server\"][\"network\"][\"applied\"][\"qdisc\"]" | grep -F "rate 10Mbit"'
same_addr() {
	local a h
	a=$(cat "$TS/rate/services/server/address")
	h=$(sj rate 'j["services"]["server"]["network"]["applied"]["address"]')
	[ "${h%/*}" = "$a" ] && return 0
	echo "address $a, the helper's $h"
	return 1
}
check "bandwidth 10Mbit: the server's address is its helper's" same_addr
check "bandwidth 10Mbit: its helper is removed at the end" no_helpers rate

start delay
check "latency 100: the run succeeds" eq "$(wait_final delay 300)" "succeeded 1 client finished"
T_DELAY=$(dl_us delay) || T_DELAY=0
diag "download: unshaped ${T0:-?} us, 100 ms each way $T_DELAY us"
# a handshake and a request: two round trips of 2 x 100 ms at least
check "latency 100: the download takes at least 400 ms" ge "$T_DELAY" 400000 "download us"
check "latency 100: it adds at least 2 x 100 ms to the unshaped one" ge "$T_DELAY" "$((${T0:-999999999} + 200000))" \
	"shaped us vs unshaped us + 200000"
check "latency 100: network.shaped for both services" eq "$(count_events "$TS/delay/events" network.shaped)" 2

start loss
st=$(wait_final loss 300)
check "packet_loss 100 on the client: the run fails, its status says why" \
	eq "$st" "failed client client exited 1; client's network: loss 100 %"
timed_out() {
	grep -q ERR_HANDSHAKE_TIMEOUT "$TS/loss/services/client/logs" && ! grep -q "1M: OK" "$TS/loss/services/client/logs" &&
		return 0
	cat "$TS/loss/services/client/logs"
	return 1
}
check "packet_loss 100: the client ended by its handshake timeout" timed_out

# ==== side by side ================================================================================

start side-shaped
start side-plain
check "side by side: the shaped run succeeds" eq "$(wait_final side-shaped 300)" "succeeded 1 client finished"
check "side by side: the unshaped run succeeds" eq "$(wait_final side-plain 300)" "succeeded 1 client finished"
T_SS=$(dl_us side-shaped) || T_SS=0
T_SP=$(dl_us side-plain) || T_SP=999999999
diag "side by side: latency 200 $T_SS us, unshaped $T_SP us"
check "side by side: the shaped one is shaped (two round trips of 400 ms: >= 800 ms)" ge "$T_SS" 800000 "download us"
check "side by side: the unshaped one is not (shaped, it would take >= 800 ms)" ge 799999 "$T_SP" "800 ms vs download us"
check "side by side: the unshaped test has no helper" eq "$(count_events "$TS/side-plain/events" network.shaped)" 0

# ==== the lossy server ==============================================================================

st=$(wait_final srvloss 120)
case $st in
"failed server server did not answer QUIC at "*" within 30 s; server's network: loss 100 %") r=0 ;;
*) r=1 ;;
esac
check "packet_loss 100 on the server: readiness fails, and the status says the network drops everything" \
	eval "[ $r = 0 ] || { echo \"\$st\"; false; }"

# ==== capture, keys, qlog, and a SIGKILL in the middle ================================================

start cap
C=$TS/cap/services/client
wait_until 120 eval '[ "$(cat "$C/status" 2>/dev/null)" = running ]'
check "capture: the client runs (status: $(cat "$TS/cap/status"))" eq "$(cat "$C/status")" running
grows() {
	local a b
	wait_until 20 test -s "$C/capture.pcap" || { echo "no capture.pcap after 20 s: $(ls "$C")"; return 1; }
	a=$(stat -c %s "$C/capture.pcap")
	sleep 1.5
	b=$(stat -c %s "$C/capture.pcap")
	echo "capture.pcap: $a bytes, then $b"
	[ "$b" -gt "$a" ] || return 1
	# what is there already reads as a capture
	cp "$C/capture.pcap" "$OUT/live.pcap" && tshark -r "$OUT/live.pcap" -c 5 >/dev/null 2>&1
}
check "capture: capture.pcap grows while the run goes on, and reads as a capture" grows
check "capture: keys.log and qlog/ are listed" eval 'ls "$C" | grep -qx keys.log && ls "$C" | grep -qx qlog'
shaped_before=$(count_events "$TS/cap/events" network.shaped)
check "capture: network.shaped for both services before the kill" eq "$shaped_before" 2

kill -KILL "$PFS_PID"
wait "$PFS_PID" 2>/dev/null
PFS_PID=
mounted "$MNT" && { fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT"; }
check "SIGKILL: the helpers go on in Docker without pantherfs" \
	eval '[ "$(docker ps -q --filter label=pantherfs.instance=$INSTANCE --filter label=pantherfs.helper=netem | wc -l)" = 2 ]'
check "pantherfs mounts again on the same state dir" pfs_mount || bail "no second mount"
st=$(wait_final cap 300)
check "after the restart the run ends with its verdict" eq "$st" "succeeded 1 client finished"
E=$TS/cap/runs/1/events
check "network.shaped was said once per service" eq "$(count_events "$E" network.shaped)" 2
check "the run was resumed once" eq "$(count_events "$E" run.resumed)" 1
check "both helpers were removed at the end (network.unshaped)" eq "$(count_events "$E" network.unshaped)" 2
check "tcpdump dropped nothing (its counters in network.unshaped)" \
	eval '[ "$(grep "\"network.unshaped\"" "$E" | grep -c "\"0 packets dropped by kernel\"")" = 2 ]'
check "no helper of the run is left in Docker" no_helpers cap
check "events: valid, seq without gaps" events_valid "$TS/cap/events"

R=$TS/cap/runs/1/services/client
check "runs/1: capture.pcap is the same file as the service's" same_file "$R/capture.pcap" "$C/capture.pcap"
both_ways() {
	tshark -r "$R/capture.pcap" -Y quic -T fields -e ip.src -e ip.dst >"$OUT/dirs" 2>"$OUT/tshark.err" ||
		{ cat "$OUT/tshark.err"; return 1; }
	local a b m
	# (an ICMP error quoting a QUIC packet has two addresses in each field: not one of them)
	grep -v , "$OUT/dirs" | sort | uniq -c | sort -rn >"$OUT/dirs.count"
	cat "$OUT/dirs.count"
	read -r m a b <"$OUT/dirs.count"
	# the download one way, and its acknowledgements the other
	[ "${m:-0}" -gt 100 ] && awk -v a="$a" -v b="$b" '$2 == b && $3 == a && $1 > 10 { f = 1 } END { exit !f }' \
		"$OUT/dirs.count"
}
check "tshark reads QUIC both ways in runs/1/services/client/capture.pcap" both_ways
decrypts() {
	local plain dec
	plain=$(tshark -r "$R/capture.pcap" -Y quic.stream.stream_id -T fields -e quic.stream.stream_id 2>/dev/null | wc -l)
	dec=$(tshark -o "tls.keylog_file:$R/keys.log" -r "$R/capture.pcap" -Y quic.stream.stream_id -T fields \
		-e quic.stream.stream_id 2>/dev/null | wc -l)
	echo "STREAM frames: $plain without keys.log, $dec with it"
	[ "$plain" = 0 ] && [ "$dec" -ge 2 ]
}
check "with keys.log tshark decrypts STREAM frames (none without it)" decrypts
check "the server's capture is there too" eval 'tshark -r "$TS/cap/runs/1/services/server/capture.pcap" -c 3 >/dev/null 2>&1'
qlogs() {
	local f n=0
	for f in "$R"/qlog/* "$TS/cap/runs/1/services/server"/qlog/*; do
		[ -f "$f" ] || continue
		grep -q '"qlog_version"' "$f" || { echo "$f: not a qlog: $(head -c 200 "$f")"; return 1; }
		n=$((n + 1))
	done
	echo "$n qlog files"
	[ "$n" -ge 2 ]
}
check "qlog/ of both services holds their qlog files" qlogs

pfs_finish
