#!/bin/bash
# Checks the implementations' Dockerfiles without building mvfst (hours), then
# builds the ngtcp2 image once (about a minute) to prove that one works.
#
# Static checks (docker/mvfst/Dockerfile, docker/ngtcp2/Dockerfile):
#   - every build arg a stage uses is declared in that stage before the use
#     (an ARG before the first FROM is visible to FROM lines only);
#   - mvfst: the first stage is `sources` and installs nothing but git and
#     ca-certificates (so a machine without GitHub fails within seconds);
#     liburing-dev appears nowhere under docker/; the mvfst build tree is
#     built for the echo and tperf targets only; no RUN ends in `|| true`;
#   - for every version config version_configs/mvfst/*.yaml (but
#     implementation.yaml): BASE_IMAGE, PATCHES, MVFST_REPO/COMMIT,
#     <DEP>_REPO/COMMIT of each dependency and every key of image.args are
#     ARGs the Dockerfile declares (where they are used), the patches folder
#     exists, and each EXTRA_DEPS name is one of its dependencies;
#   - ngtcp2: the image installs ngtcp2-server and ngtcp2-client.
# Then, with the docker CLI (classic builder, as pantherfs builds):
#   docker build -t pantherfs-lint/ngtcp2:check docker/ngtcp2, and a run that
#   checks the served files against SHA256SUMS and that gtlsserver runs.
#   The image (and anything a failed build left) is removed at the end.
#
# Usage, from the source root: bash tests/integration/dockerfile-lint.sh
# Prints TAP; exits 1 when a check fails, 77 (skip) when every static check
# passed but no Docker engine answers, else 0.
# Needs bash, grep, sed, awk, python3 (no PyYAML: the few keys needed are
# read by a small reader of the subset of YAML the version configs use).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root" || exit 1

n=0
failed=0
skipped=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); skipped=$((skipped + 1)); echo "ok $n - $1 # SKIP $2"; }
diag() { sed 's/^/# /'; }

# ---- static checks (python3 prints PASS/FAIL/DIAG lines) -------------------------
static=$(python3 - "$root" <<'PYEOF'
import glob, os, re, shlex, sys

root = sys.argv[1]
out = []

def result(ok, desc, diags=()):
    out.append(("PASS" if ok else "FAIL") + "\t" + desc)
    for d in diags:
        for line in str(d).splitlines():
            out.append("DIAG\t" + line)

# -- Dockerfile reader ---------------------------------------------------------------
def instructions(path):
    """[(lineno, KEYWORD, text)] with continuations joined and comments dropped."""
    res, cur, start = [], None, 0
    with open(path) as f:
        for no, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if line.strip().startswith("#"):
                continue            # a comment line, also inside a continuation
            if cur is None:
                if not line.strip():
                    continue
                cur, start = "", no
            if line.endswith("\\"):
                cur += line[:-1] + " "
                continue
            cur += line
            kw, _, rest = cur.strip().partition(" ")
            res.append((start, kw.upper(), rest.strip()))
            cur = None
    if cur:
        kw, _, rest = cur.strip().partition(" ")
        res.append((start, kw.upper(), rest.strip()))
    return res

REF = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))")

def arg_names(text):
    names = []
    for tok in shlex.split(text):
        names.append(tok.split("=", 1)[0])
    return names

def env_names(text):
    try:
        toks = shlex.split(text)
    except ValueError:
        return []
    if toks and "=" not in toks[0]:
        return [toks[0]]           # ENV NAME value
    return [t.split("=", 1)[0] for t in toks if "=" in t]

class Dockerfile:
    def __init__(self, path):
        self.path = path
        self.rel = os.path.relpath(path, root)
        self.ins = instructions(path)
        self.global_args = []
        self.stages = []           # dicts: name, from, ins, args (ordered)
        for no, kw, text in self.ins:
            if kw == "FROM":
                m = re.match(r"(?:--platform=\S+\s+)?(\S+)(?:\s+[Aa][Ss]\s+(\S+))?", text)
                self.stages.append({"name": m.group(2) if m else None, "from": m.group(1) if m else text,
                                    "line": no, "ins": []})
            elif not self.stages:
                if kw == "ARG":
                    self.global_args += arg_names(text)
            else:
                self.stages[-1]["ins"].append((no, kw, text))

    def declared_anywhere(self):
        names = set(self.global_args)
        for st in self.stages:
            for no, kw, text in st["ins"]:
                if kw == "ARG":
                    names.update(arg_names(text))
        return names

    def stage_args(self, st):
        return {a for no, kw, text in st["ins"] if kw == "ARG" for a in arg_names(text)}

    def runs(self, st):
        return [(no, text) for no, kw, text in st["ins"] if kw == "RUN"]

def check_args(df, extra_universe=()):
    """Every build arg used in a stage is declared in it, before the use."""
    universe = df.declared_anywhere() | set(extra_universe)
    problems = []
    for st in df.stages:
        for name in {a or b for a, b in REF.findall(st["from"])}:
            if name not in df.global_args:
                problems.append("line %d: FROM uses %s, not declared before the first FROM" % (st["line"], name))
        known = set()
        for no, kw, text in st["ins"]:
            if kw == "ARG":
                known.update(arg_names(text))
                continue
            if kw == "ENV":
                known.update(env_names(text))
            for a, b in REF.findall(text):
                name = a or b
                msg = ("line %d (%s, stage %s): uses %s, not declared in this stage before"
                       % (no, kw, st["name"] or "?", name))
                if name in universe and name not in known and msg not in problems:
                    problems.append(msg)
    result(not problems, "%s: every build arg a stage uses is declared in that stage" % df.rel, problems)

APT = re.compile(r"\bapt(?:-get)?\s+(?:-\S+\s+)*install\b(.*)")

def apt_packages(text):
    pkgs = []
    for part in re.split(r"&&|\|\||;|\|", text):
        m = APT.search(part)
        if m:
            for tok in m.group(1).split():
                if not tok.startswith("-"):
                    pkgs.append(tok)
    return pkgs

# -- YAML subset reader (version configs) -------------------------------------------------
def strip_comment(line):
    q = None
    for i, c in enumerate(line):
        if q:
            if c == q:
                q = None
        elif c in "\"'":
            q = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()

def split_top(s, sep=","):
    parts, depth, q, cur = [], 0, None, ""
    for c in s:
        if q:
            cur += c
            if c == q:
                q = None
            continue
        if c in "\"'":
            q = c
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
        if c == sep and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += c
    if cur.strip():
        parts.append(cur)
    return parts

def scalar(v):
    v = v.strip()
    if v.startswith("{") and v.endswith("}"):
        d = {}
        for part in split_top(v[1:-1]):
            k, _, val = part.partition(":")
            d[k.strip()] = scalar(val)
        return d
    if v.startswith("[") and v.endswith("]"):
        return [scalar(p) for p in split_top(v[1:-1])]
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
        return v[1:-1]
    return v

def read_yaml(path):
    top = {}
    stack = [(-1, top)]
    block_indent = None
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            indent = len(line) - len(line.lstrip(" "))
            if block_indent is not None:
                if not line.strip() or indent > block_indent:
                    continue       # inside a | or > block scalar
                block_indent = None
            line = strip_comment(line)
            if not line.strip():
                continue
            text = line.strip()
            if text.startswith("- ") or text == "-":
                continue           # block lists: not needed here
            m = re.match(r"""((?:"[^"]*"|'[^']*'|[^:])+?):(?:\s+(.*))?$""", text)
            if not m:
                continue
            key, val = scalar(m.group(1)), m.group(2)
            while stack[-1][0] >= indent:
                stack.pop()
            parent = stack[-1][1]
            if val is None or val == "":
                d = {}
                parent[key] = d
                stack.append((indent, d))
            elif val in ("|", ">", "|-", ">-", "|+", ">+"):
                parent[key] = ""
                block_indent = indent
            else:
                parent[key] = scalar(val)
    return top

# -- docker/mvfst/Dockerfile ------------------------------------------------------------------
mvfst_path = os.path.join(root, "docker/mvfst/Dockerfile")
ngtcp2_path = os.path.join(root, "docker/ngtcp2/Dockerfile")
configs = sorted(p for p in glob.glob(os.path.join(root, "version_configs/mvfst/*.yaml"))
                 if os.path.basename(p) != "implementation.yaml")
vcs = {}
for p in configs:
    try:
        vcs[p] = read_yaml(p)
    except Exception as e:            # reported below, per file
        vcs[p] = e

# every build arg pantherfs passes counts as a build arg name for the checks
passed = {"BASE_IMAGE", "PATCHES", "MVFST_REPO", "MVFST_COMMIT"}
def dep_var(name):
    return re.sub(r"-", "_", name).upper()
for y in vcs.values():
    if isinstance(y, dict):
        passed.update((y.get("image") or {}).get("args") or {})
        for d in (y.get("dependencies") or {}):
            passed.update({dep_var(d) + "_REPO", dep_var(d) + "_COMMIT"})

if not os.path.isfile(mvfst_path):
    result(False, "docker/mvfst/Dockerfile exists")
    mv = None
else:
    mv = Dockerfile(mvfst_path)
    check_args(mv, passed)

    names = [st["name"] for st in mv.stages]
    result(bool(names) and names[0] == "sources",
           "docker/mvfst/Dockerfile: the first stage is `sources`", ["stages: %s" % names])

    if mv.stages:
        src = mv.stages[0]
        pkgs = [p for no, text in mv.runs(src) for p in apt_packages(text)]
        other = [p for p in pkgs if p not in ("git", "ca-certificates")]
        fetchers = [no for no, text in mv.runs(src)
                    if re.search(r"\b(pip3?|curl|wget|dpkg\s+-i|apt\s+install)\b", text)]
        result(set(pkgs) == {"git", "ca-certificates"} and not other and not fetchers,
               "docker/mvfst/Dockerfile: the sources stage installs git and ca-certificates only",
               ["installs: %s" % " ".join(pkgs)] + ["line %d: installs otherwise" % no for no in fetchers])
        first_run = next((text for no, text in mv.runs(src)), "")
        result(bool(apt_packages(first_run)),
               "docker/mvfst/Dockerfile: the sources stage's first RUN is its package install (nothing slow before git)")

    hits = []
    for dirpath, dirs, files in os.walk(os.path.join(root, "docker")):
        for fn in files:
            p = os.path.join(dirpath, fn)
            try:
                with open(p, errors="replace") as f:
                    for no, line in enumerate(f, 1):
                        if "liburing-dev" in line:
                            hits.append("%s:%d: %s" % (os.path.relpath(p, root), no, line.strip()))
            except OSError:
                pass
    result(not hits, "liburing-dev appears nowhere under docker/", hits)

    alltext = "\n".join(text for no, kw, text in mv.ins if kw == "RUN")
    m = re.search(r"cmake\s+-S\s+/src/mvfst\s+-B\s+(\S+)", alltext)
    bdir = m.group(1) if m else "/build/mvfst"
    problems, builds = [], 0
    for st in mv.stages:
        for no, text in mv.runs(st):
            for part in re.split(r"&&|\|\||;", text):
                toks = part.split()
                if "cmake" in toks and "--build" in toks:
                    i = toks.index("--build")
                    if i + 1 < len(toks) and toks[i + 1].strip("\"'") == bdir:
                        builds += 1
                        targets = []
                        if "--target" in toks:
                            for t in toks[toks.index("--target") + 1:]:
                                if t.startswith("-"):
                                    break
                                targets.append(t)
                        if sorted(targets) != ["echo", "tperf"]:
                            problems.append("line %d: builds %s for targets %s" % (no, bdir, targets or "all"))
                if re.search(r"\b(ninja|make)\s+-C\s+" + re.escape(bdir) + r"\b", part) or \
                   re.search(r"cmake\s+--install\s+" + re.escape(bdir) + r"\b", part):
                    problems.append("line %d: %s" % (no, part.strip()))
    result(builds > 0 and not problems,
           "docker/mvfst/Dockerfile: the mvfst tree (%s) is built for echo and tperf only" % bdir,
           problems + ([] if builds else ["no `cmake --build %s --target echo tperf`" % bdir]))

    soft = [no for st in mv.stages for no, text in mv.runs(st) if re.search(r"\|\|\s*true\s*$", text)]
    result(not soft, "docker/mvfst/Dockerfile: no RUN ends in `|| true` (checks that cannot fail)",
           ["line %d" % no for no in soft])

    copies = [text for no, kw, text in mv.ins if kw == "COPY" and "--from=" in text]
    result(any("--from=sources" in c for c in copies) and any("--from=build" in c and "/opt/mvfst" in c for c in copies),
           "docker/mvfst/Dockerfile: build copies from sources, runtime copies /opt/mvfst from build", copies)

# -- version configs ------------------------------------------------------------------------
if not configs:
    result(False, "version_configs/mvfst/ has version configs besides implementation.yaml")
for p in configs:
    rel = os.path.relpath(p, root)
    y = vcs[p]
    if not isinstance(y, dict):
        result(False, "%s: readable" % rel, [repr(y)])
        continue
    img = y.get("image") or {}
    args = img.get("args") or {}
    deps = y.get("dependencies") or {}
    if mv is None:
        result(False, "%s: build args declared by docker/mvfst/Dockerfile" % rel, ["no Dockerfile"])
        continue
    src = mv.stages[0] if mv.stages else {"ins": []}
    src_args = mv.stage_args(src)
    anywhere = mv.declared_anywhere()
    missing = []
    if "BASE_IMAGE" not in mv.global_args:
        missing.append("BASE_IMAGE (needs an ARG before the first FROM)")
    if not img.get("base_image"):
        missing.append("image.base_image is not set")
    need_src = ["PATCHES", "MVFST_REPO", "MVFST_COMMIT"]
    for d in deps:
        need_src += [dep_var(d) + "_REPO", dep_var(d) + "_COMMIT"]
    for a in need_src:
        if a not in src_args:
            missing.append("%s (not declared in the sources stage)" % a)
    for a in args:
        if a not in anywhere:
            missing.append("%s (image.args key, declared nowhere)" % a)
    if not y.get("source"):
        missing.append("source (repository, commit) is not set")
    result(not missing, "%s: every build arg it passes is an ARG docker/mvfst/Dockerfile declares" % rel, missing)

    pdir = img.get("patches")
    if pdir:
        full = os.path.join(root, "docker/mvfst", pdir)
        files = sorted(f for f in os.listdir(full) if f.endswith((".patch", ".sh"))) if os.path.isdir(full) else []
        result(os.path.isdir(full) and bool(files),
               "%s: patches folder docker/mvfst/%s exists and holds *.patch or *.sh" % (rel, pdir),
               ["files: %s" % files])
    else:
        result(True, "%s: no patches folder named" % rel)

    extra = str(args.get("EXTRA_DEPS") or "").split()
    unknown = [e for e in extra if e not in deps]
    result(not unknown, "%s: every EXTRA_DEPS name is one of its dependencies" % rel,
           ["not in dependencies: %s" % unknown] if unknown else [])

# -- docker/ngtcp2/Dockerfile -------------------------------------------------------------------
if not os.path.isfile(ngtcp2_path):
    result(False, "docker/ngtcp2/Dockerfile exists")
else:
    ng = Dockerfile(ngtcp2_path)
    check_args(ng, {"BASE_IMAGE"})
    pkgs = [p for st in ng.stages for no, text in ng.runs(st) for p in apt_packages(text)]
    result({"ngtcp2-server", "ngtcp2-client"} <= set(pkgs),
           "docker/ngtcp2/Dockerfile: installs ngtcp2-server and ngtcp2-client", ["installs: %s" % " ".join(pkgs)])

print("\n".join(out))
PYEOF
)
py=$?
if [ $py -ne 0 ] || [ -z "$static" ]; then
	not_ok "static checks ran (python3 exited $py)"
fi
while IFS=$'\t' read -r kind text; do
	case $kind in
	PASS) ok "$text" ;;
	FAIL) not_ok "$text" ;;
	DIAG) echo "# $text" ;;
	esac
done <<<"$static"

# ---- the ngtcp2 image, built for real -------------------------------------------------
image=pantherfs-lint/ngtcp2:check
container=pantherfs-lint-ngtcp2-$$
log=$(mktemp "${TMPDIR:-/tmp}/dockerfile-lint.XXXXXX")

# Removes what this run made: the container, the image, and the layers a failed
# build left (only those this build created: --no-cache, and never the FROM
# image), one by one without pruning parents.
cleanup() {
	docker rm -f "$container" >/dev/null 2>&1
	docker rmi "$image" >/dev/null 2>&1
	if [ -s "$log" ]; then
		awk '/^Step [0-9]+\/[0-9]+ : / { skip = ($4 == "FROM"); next }
		     /^ ---> Using cache$/ { skip = 1; next }
		     /^ ---> [0-9a-f]+$/ { if (!skip) print $2 }' "$log" | tac |
			while read -r id; do docker rmi --no-prune "$id" >/dev/null 2>&1; done
	fi
	rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! command -v docker >/dev/null 2>&1 || ! timeout 20 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
	skip "docker build $image docker/ngtcp2" "no Docker engine answers"
	skip "the ngtcp2 image serves files matching SHA256SUMS and runs gtlsserver" "no Docker engine answers"
else
	start=$(date +%s)
	if DOCKER_BUILDKIT=0 timeout 1200 docker build --no-cache --force-rm -t "$image" docker/ngtcp2 >"$log" 2>&1; then
		ok "docker build $image docker/ngtcp2 ($(($(date +%s) - start)) s)"
		if out=$(timeout 120 docker run --rm --name "$container" "$image" \
			sh -c 'cd /srv/pantherfs/www && sha256sum -c SHA256SUMS && gtlsserver --help >/dev/null' 2>&1); then
			ok "the ngtcp2 image serves files matching SHA256SUMS and runs gtlsserver"
			diag <<<"$out"
		else
			not_ok "the ngtcp2 image serves files matching SHA256SUMS and runs gtlsserver"
			diag <<<"$out"
		fi
	else
		not_ok "docker build $image docker/ngtcp2"
		tail -n 30 "$log" | diag
		skip "the ngtcp2 image serves files matching SHA256SUMS and runs gtlsserver" "no image"
	fi
fi

echo "1..$n"
if [ $failed -gt 0 ]; then
	echo "# $failed of $n checks failed"
	exit 1
fi
if [ $skipped -gt 0 ]; then
	exit 77
fi
exit 0
