#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The measuring half of bench-docker.sh and bench-run.sh: what a shell
cannot time to the millisecond or talk to the engine with.

  benchtool.py events OUT LABEL         Docker's own events stream (die events
                                        of containers with LABEL), one line per
                                        event: "<receive time> <id> <exitCode>",
                                        until SIGTERM
  benchtool.py follow PATH OUT          reads a pantherfs stream file line by
                                        line until EOF: "<receive time> <line>"
  benchtool.py raw-start SPEC.json      the raw API sequence a script would
                                        send for one run: network, server
                                        create+start, wait until it answers
                                        QUIC, client create+start; prints the
                                        phases' times as JSON
  benchtool.py exit-latency FOLLOW DOCKER INSPECT.json
                                        per container exit: FinishedAt ->
                                        Docker's die event, FinishedAt ->
                                        pantherfs's service.exited (as a
                                        reader of events.follow receives it)
  benchtool.py flood IP PORT BYTES PATH SECONDS
                                        QUIC probes at a server until the file
                                        PATH has BYTES or SECONDS have passed
  benchtool.py compose-file IMAGE SERVER_CMD CLIENT_CMD SERVER_ADDR CERTS LABEL
                                        the same two containers for docker-compose
  benchtool.py hyperfine JSON...        median and mean of hyperfine exports
  benchtool.py run-start EVENTS...      run.started -> last service.started of
                                        each events file, and server started ->
                                        ready, ms

Every time is the wall clock (time.time()): Docker's FinishedAt is one too,
on the same machine. Nothing here decides whether a figure is good; the
scripts compare ratios.
"""
import calendar
import http.client
import json
import os
import signal
import socket
import statistics
import sys
import time
import urllib.parse

SOCK = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("docker", timeout=timeout)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


def sock_path():
    if not SOCK.startswith("unix://"):
        sys.exit("benchtool: only unix:// engines are measured")
    return SOCK[len("unix://"):]


def api(conn, method, path, body=None, ok=(200, 201, 204, 304)):
    hdrs = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    conn.request(method, "/v1.41" + path, body=data, headers=hdrs)
    r = conn.getresponse()
    raw = r.read()
    if r.status not in ok:
        sys.exit(f"benchtool: {method} {path}: {r.status} {raw[:300]!r}")
    return json.loads(raw) if raw else None


def parse_time(s):
    """Docker's RFC 3339 with nanoseconds, or ours with microseconds."""
    s = s.rstrip("Z")
    whole, _, frac = s.partition(".")
    t = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    return t + (float("0." + frac) if frac else 0.0)


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


# ---- streams ---------------------------------------------------------------------------------


def cmd_events(out, label):
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    filters = json.dumps({"label": [label], "type": ["container"], "event": ["die"]})
    conn = UnixHTTP(sock_path(), timeout=None)
    conn.request("GET", "/v1.41/events?filters=" + urllib.parse.quote(filters))
    r = conn.getresponse()
    if r.status != 200:
        sys.exit(f"benchtool: events: {r.status}")
    with open(out, "a", buffering=1) as f:
        f.write("subscribed\n")
        while True:
            line = r.readline()
            if not line:
                return
            now = time.time()
            ev = json.loads(line)
            actor = ev.get("Actor", {})
            f.write(f"{now:.6f} {actor.get('ID', '')} {actor.get('Attributes', {}).get('exitCode', '')}\n")


def cmd_follow(path, out):
    with open(path, "rb", buffering=0) as src, open(out, "w", buffering=1) as f:
        pending = b""
        while True:
            chunk = src.read(65536)
            if not chunk:
                break
            now = time.time()
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                f.write(f"{now:.6f} {line.decode('utf-8', 'replace')}\n")


# ---- the raw sequence ----------------------------------------------------------------------------


def probe_packet():
    dcid, scid = os.urandom(8), os.urandom(8)
    p = bytes([0xC0, 0x57, 0x41, 0x49, 0x54, 8]) + dcid + bytes([8]) + scid
    return p + bytes(1207 - len(p))


def wait_quic(ip, port, bound_s):
    """Probes every millisecond: as soon as the server answers, to within 1 ms."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((ip, port))
    s.settimeout(0.001)
    deadline = time.time() + bound_s
    pkt = probe_packet()
    while time.time() < deadline:
        try:
            s.send(pkt)
            data = s.recv(2048)
            if len(data) > 5 and data[0] & 0x80 and data[1:5] == b"\0\0\0\0":
                s.close()
                return True
        except (socket.timeout, ConnectionRefusedError):
            pass
    s.close()
    return False


def cmd_raw_start(spec_path):
    spec = json.load(open(spec_path))
    labels = {spec["label_key"]: spec["label_value"]}
    conn = UnixHTTP(sock_path())
    net = spec["name"]

    def container(svc, cmd):
        body = {"Image": spec["image"], "Cmd": ["sh", "-c", cmd], "Labels": labels,
                "HostConfig": {"NetworkMode": net, "Binds": spec.get("binds", {}).get(svc, [])}}
        c = api(conn, "POST", "/containers/create?name=" + urllib.parse.quote(f"{net}-{svc}"), body)
        api(conn, "POST", f"/containers/{c['Id']}/start")
        return c["Id"]

    t0 = time.time()
    api(conn, "POST", "/networks/create", {"Name": net, "Driver": "bridge", "Labels": labels})
    t_net = time.time()
    sid = container("server", spec["server_command"])
    t_server = time.time()
    ins = api(conn, "GET", f"/containers/{sid}/json")
    ip = ins["NetworkSettings"]["Networks"][net]["IPAddress"]
    if not wait_quic(ip, spec["port"], 60):
        sys.exit(f"benchtool: the server at {ip} did not answer QUIC within 60 s")
    t_listen = time.time()
    container("client", spec["client_command"].replace(spec["server_address"], ip))
    t_end = time.time()
    print(json.dumps({"network_ms": (t_net - t0) * 1e3, "server_ms": (t_server - t_net) * 1e3,
                      "listen_ms": (t_listen - t_server) * 1e3, "client_ms": (t_end - t_listen) * 1e3,
                      "total_ms": (t_end - t0) * 1e3, "api_ms": (t_end - t0 - (t_listen - t_server)) * 1e3}))


# ---- figures ------------------------------------------------------------------------------------


def cmd_exit_latency(follow_files, docker_file, inspect_file):
    """FOLLOW may name several files (comma-separated): one per run."""
    finished = {}
    for c in json.load(open(inspect_file)):
        fin = c["State"]["FinishedAt"]
        if not fin.startswith("0001"):
            finished[c["Id"]] = parse_time(fin)
    docker = {}
    for line in open(docker_file):
        parts = line.split()
        if len(parts) >= 2 and parts[0] != "subscribed":
            docker.setdefault(parts[1], float(parts[0]))
    pfs, created = {}, {}
    for path in follow_files.split(","):
        for line in open(path):
            t, _, js = line.partition(" ")
            try:
                ev = json.loads(js)
            except ValueError:
                continue
            key = (ev.get("run"), ev.get("service"))
            if ev.get("type") == "service.created":
                created[key] = ev["data"]["container"]
            elif ev.get("type") == "service.exited" and key in created:
                pfs[created[key]] = (float(t), parse_time(ev["time"]))
    rows = [(docker[c] - finished[c], pfs[c][0] - finished[c], pfs[c][1] - finished[c])
            for c in pfs if c in docker and c in finished]
    if not rows:
        sys.exit("benchtool: no exit seen by all three (FinishedAt, Docker's event, pantherfs's event)")
    d = [r[0] * 1e3 for r in rows]
    p = [r[1] * 1e3 for r in rows]
    s = [r[2] * 1e3 for r in rows]
    print(json.dumps({"exits": len(rows), "docker_p50": pct(d, 50), "docker_p99": pct(d, 99),
                      "pfs_p50": pct(p, 50), "pfs_p99": pct(p, 99),
                      "stamp_p50": pct(s, 50), "stamp_p99": pct(s, 99),
                      "p50_over_docker": pct(p, 50) - pct(d, 50), "p99_over_docker": pct(p, 99) - pct(d, 99),
                      "after_docker_p50": pct([b - a for a, b in zip(d, p)], 50),
                      "after_docker_p99": pct([b - a for a, b in zip(d, p)], 99),
                      "stamp_after_docker_p50": pct([b - a for a, b in zip(d, s)], 50),
                      "stamp_after_docker_p99": pct([b - a for a, b in zip(d, s)], 99),
                      "rows_ms": sorted(zip(d, s, p), key=lambda r: r[2] - r[0])}))


def cmd_flood(ip, port, want, path, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((ip, int(port)))
    s.setblocking(False)
    pkt = probe_packet()
    t0 = time.time()
    sent = 0
    size = 0
    while time.time() - t0 < float(seconds):
        for _ in range(500):
            try:
                s.send(pkt)
                sent += 1
            except (BlockingIOError, ConnectionRefusedError):
                break
        try:
            while True:
                s.recv(2048)
        except (BlockingIOError, ConnectionRefusedError):
            pass
        size = os.stat(path).st_size
        if size >= int(want):
            break
        time.sleep(0.002)
    print(json.dumps({"sent": sent, "seconds": time.time() - t0, "bytes": size}))


def cmd_compose_file(image, server_cmd, client_cmd, server_addr, certs, label):
    """The same two containers as a docker-compose file: the image and the
    commands pantherfs ran (the client reaches the server by its service
    name: compose gives it another address), the certificates bound where
    pantherfs binds them. JSON is YAML."""
    key, _, value = label.partition("=")
    svc = {"image": image, "labels": {key: value}}
    # compose interpolates $VAR and $(...) itself: $$ is a literal $ for sh
    server_cmd = server_cmd.replace("$", "$$")
    client_cmd = client_cmd.replace("$", "$$")
    doc = {"version": "2.4",
           "services": {"server": dict(svc, command=["sh", "-c", server_cmd],
                                       volumes=[certs + ":/pantherfs/certs:ro"]),
                        "client": dict(svc, command=["sh", "-c", client_cmd.replace(server_addr, "server")],
                                       depends_on=["server"])},
           "networks": {"default": {"labels": {key: value}}}}
    print(json.dumps(doc, indent=2))


def cmd_hyperfine(paths):
    out = {}
    for p in paths:
        for r in json.load(open(p))["results"]:
            out[r["command"]] = {"median_ms": r["median"] * 1e3, "mean_ms": r["mean"] * 1e3, "runs": len(r["times"])}
    print(json.dumps(out))


def cmd_run_start(paths):
    """Per events file (one run each): run.started -> the last
    service.started, and each server's service.started -> service.ready."""
    out, ready = [], []
    for p in paths:
        start = last = None
        started = {}
        for line in open(p):
            ev = json.loads(line)
            t = parse_time(ev["time"])
            if ev["type"] == "run.started":
                start = t
            elif ev["type"] == "service.started" and start is not None:
                last = t
                started[ev.get("service")] = t
            elif ev["type"] == "service.ready" and ev.get("service") in started:
                ready.append((t - started[ev["service"]]) * 1e3)
        if start is None or last is None:
            sys.exit(f"benchtool: {p}: no run.started or no service.started")
        out.append((last - start) * 1e3)
    print(json.dumps({"runs": len(out), "median_ms": statistics.median(out), "all_ms": out,
                      "ready_median_ms": statistics.median(ready) if ready else float("nan")}))


def main(argv):
    cmds = {
        "events": (cmd_events, 2), "follow": (cmd_follow, 2), "raw-start": (cmd_raw_start, 1),
        "exit-latency": (cmd_exit_latency, 3), "flood": (cmd_flood, 5),
        "compose-file": (cmd_compose_file, 6),
    }
    if len(argv) >= 2 and argv[1] == "hyperfine":
        return cmd_hyperfine(argv[2:])
    if len(argv) >= 2 and argv[1] == "run-start":
        return cmd_run_start(argv[2:])
    if len(argv) < 2 or argv[1] not in cmds or len(argv) != 2 + cmds[argv[1]][1]:
        sys.exit(__doc__)
    return cmds[argv[1]][0](*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
