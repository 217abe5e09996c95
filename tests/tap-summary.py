#!/usr/bin/env python3
"""Sums meson test logs (TAP subtests) into one line: "N passed, M failed".

A test that printed no TAP (crash, timeout) counts as one failure; a skipped
test counts as a failure too: CI provides Docker and /dev/fuse, so nothing may
skip there. Failures are listed with their log's last lines first.
"""
import json
import re
import sys

passed = failed = 0
problems = []
for path in sys.argv[1:]:
    label = path.split('/meson-logs/')[0]
    try:
        lines = open(path, encoding='utf-8', errors='replace').read().splitlines()
    except OSError as e:
        failed += 1
        problems.append(f"{path}: no test log ({e})")
        continue
    for line in lines:
        t = json.loads(line)
        out = t.get('stdout') or ''
        oks = len(re.findall(r'^ok \d+', out, re.M))
        nots = [l for l in out.splitlines() if l.startswith('not ok')]
        result = t.get('result')
        if result == 'SKIP':
            failed += 1
            problems.append(f"{label}: {t['name']}: SKIPPED (not allowed here): "
                            + (out.strip().splitlines() or [''])[-1])
            continue
        if result == 'OK' and oks == 0 and not nots:
            oks = 1  # a plain (non-TAP) test that passed counts once
        passed += oks
        failed += len(nots)
        for l in nots:
            problems.append(f"{label}: {t['name']}: {l[:400]}")
        if result != 'OK' and not nots:
            failed += 1
            tail = '\n    '.join(out.strip().splitlines()[-5:])
            # a sanitizer's report goes to stderr: show its heading, the first
            # frames and its summary, or the cause of an abort stays unknown
            err = (t.get('stderr') or '').splitlines()
            san = [l for l in err if re.search(
                r'Sanitizer|^SUMMARY|^Direct leak|^Indirect leak|^ +#[0-7] |runtime error', l)][:40]
            if san:
                tail += '\n    stderr:\n    ' + '\n    '.join(l[:300] for l in san)
            problems.append(f"{label}: {t['name']}: {result} (exit {t.get('returncode')})\n    {tail}")
for p in problems:
    print("FAILED " + p)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
