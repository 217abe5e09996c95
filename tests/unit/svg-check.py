#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks of summary.svg, for tests/unit/summary-svg.sh.

  svg-check.py points SUMMARY.svg SUMMARY.tsv
      Reads the picture as a person would: each panel's frame spans its
      axis from the lowest tick label (bottom edge) to the highest (top
      edge); every point's height is turned back into a value and compared
      with summary.tsv's runs, in the picture's order (by configuration,
      then run), within what the SVG's 5 written digits can hold. Also: one
      panel per metric column titled "<column> (<unit>)", filled points for
      runs that succeeded, groups left to right in configuration order.

  svg-check.py screenshot SHOT.png COLOR...
      The browser's screenshot is not blank: enough non-white pixels, and
      pixels of each configuration colour given (#rrggbb) where points are.

Prints one line saying what was checked; exits 1 with the reason otherwise.
"""
import math
import re
import struct
import sys
import xml.etree.ElementTree as ET
import zlib

SI = {"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
      "m": 1e-3, "u": 1e-6, "n": 1e-9, "p": 1e-12}


def fail(msg):
    print("svg-check: " + msg)
    sys.exit(1)


def si_value(text):
    m = re.fullmatch(r"(-?[0-9.]+(?:e[-+]?[0-9]+)?)([kMGTPEmunp]?)", text.strip())
    if not m:
        fail("tick label %r is not a number with an SI prefix" % text)
    return float(m.group(1)) * SI[m.group(2)]


def written_error(s):
    """Half a unit in the last of the 5 significant digits libplot writes."""
    v = abs(float(s))
    if v == 0:
        return 1e-9
    return 0.5 * 10 ** (math.floor(math.log10(v)) - 4)


def read_tsv(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    head = lines[0].split("\t")
    vi = head.index("verdict")
    metrics = head[vi + 1:]
    runs = []
    for line in lines[1:]:
        if not line:
            continue
        f = line.split("\t")
        if f[0] != "run":
            continue
        runs.append({"run": int(f[1]), "config": int(f[4]), "verdict": f[vi],
                     "values": [float(v) if v else None for v in f[vi + 1:]]})
    return metrics, runs


def tag(e):
    return e.tag.split("}")[-1]


def points(svg_path, tsv_path):
    metrics, runs = read_tsv(tsv_path)
    content = [g for g in ET.parse(svg_path).getroot().iter() if tag(g) == "g" and g.get("id") == "content"]
    if len(content) != 1:
        fail("no <g id=\"content\">")
    items = list(content[0])
    frames = [i for i, e in enumerate(items) if tag(e) == "rect"]
    if len(frames) != len(metrics):
        fail("%d panels for %d metric columns" % (len(frames), len(metrics)))
    checked = 0
    for p, col in enumerate(metrics):
        start = frames[p]
        end = frames[p + 1] if p + 1 < len(frames) else len(items)
        panel = items[start:end]
        rect = panel[0]
        key, unit = re.fullmatch(r"(.*)\[(.*)\]", col).groups() if col.endswith("]") else (col, "")
        title = panel[1].text if tag(panel[1]) == "text" else None
        want_title = "%s (%s)" % (key, unit) if unit else key
        if title != want_title:
            fail("panel %d is titled %r, not %r" % (p + 1, title, want_title))
        labels = []
        circles = []
        for e in panel[2:]:
            if tag(e) == "text":
                # after the tick labels: the points, then the group labels (c1, c2, ...)
                if circles or not re.fullmatch(r"-?[0-9.]+(?:e[-+]?[0-9]+)?[kMGTPEmunp]?", e.text or ""):
                    break
                labels.append(e.text)
            elif tag(e) == "circle":
                circles.append(e)
        if len(labels) < 2:
            fail("panel %s has no axis labels" % col)
        lo, hi = si_value(labels[0]), si_value(labels[-1])
        y, h = float(rect.get("y")), float(rect.get("height"))
        tol_units = written_error(rect.get("y")) + written_error(rect.get("height"))
        want = sorted(((r["config"], r["run"], r["values"][p], r["verdict"]) for r in runs
                       if r["values"][p] is not None))
        if len(circles) != len(want):
            fail("%s: %d points for %d values" % (col, len(circles), len(want)))
        last_x = -1e300
        for c, (conf, run, value, verdict) in zip(circles, want):
            cx, cy = float(c.get("cx")), float(c.get("cy"))
            got = lo + (cy - y) / h * (hi - lo)
            tol = (tol_units + written_error(c.get("cy"))) / h * (hi - lo) * 1.01
            if abs(got - value) > tol:
                fail("%s run %d: the point reads %.9g, summary.tsv says %.9g (tolerance %.3g)"
                     % (col, run, got, value, tol))
            if cx <= last_x:
                fail("%s run %d: points are not left to right by configuration and run" % (col, run))
            last_x = cx
            filled = c.get("fill") not in (None, "none")
            if filled != (verdict == "succeeded"):
                fail("%s run %d (%s): the point is %s" % (col, run, verdict, "filled" if filled else "hollow"))
            checked += 1
    print("svg-check: %d points in %d panels equal summary.tsv" % (checked, len(metrics)))


def png_pixels(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail("%s is not a PNG" % path)
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype not in (2, 6) or interlace:
                fail("unexpected PNG format (depth %d, colour type %d)" % (depth, ctype))
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    rows = []
    for r in range(h):
        ft = raw[r * (stride + 1)]
        line = bytearray(raw[r * (stride + 1) + 1:(r + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ft == 1:
                line[i] = (line[i] + a) & 255
            elif ft == 2:
                line[i] = (line[i] + b) & 255
            elif ft == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ft == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pr) & 255
        rows.append(line)
        prev = line
    return w, h, bpp, rows


def screenshot(path, colors):
    w, h, bpp, rows = png_pixels(path)
    want = [tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in colors]
    near = [0] * len(want)
    ink = 0
    for line in rows:
        for i in range(0, w * bpp, bpp):
            px = (line[i], line[i + 1], line[i + 2])
            if px != (255, 255, 255):
                ink += 1
            for k, c in enumerate(want):
                if sum(abs(px[j] - c[j]) for j in range(3)) < 40:
                    near[k] += 1
    share = ink / float(w * h)
    if share < 0.005:
        fail("the screenshot is blank (%.3f%% of pixels not white)" % (100 * share))
    if share > 0.5:
        fail("the screenshot is mostly ink (%.1f%%): not the picture" % (100 * share))
    for c, n in zip(colors, near):
        if n < 20:
            fail("no points in colour %s in the screenshot (%d pixels)" % (c, n))
    print("svg-check: %dx%d screenshot, %.2f%% ink, points in %s" % (w, h, 100 * share, ", ".join(colors)))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "points":
        points(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 4 and sys.argv[1] == "screenshot":
        screenshot(sys.argv[2], sys.argv[3:])
    else:
        fail("usage: svg-check.py points SVG TSV | screenshot PNG COLOR...")
