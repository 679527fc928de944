"""Dump every finding of ``convergent.scan`` on built folders, to compare two versions.

A speed change must not change any finding. This writes, per folder, every finding's
code, severity, title and the evidence's files, pairs and classes (sorted) as one JSON
document, so two runs (e.g. the current ``src`` and an older one on ``PYTHONPATH``) can
be compared with ``diff`` or ``--compare``. Numbers in the evidence (measured values,
thresholds) are written too, rounded to 6 significant digits, and compared separately
so a float-rounding change shows up without hiding a changed file list. Usage:

    .venv/bin/python benchmarks/perf/scan_findings_dump.py DIR... --json OUT.json
    .venv/bin/python benchmarks/perf/scan_findings_dump.py --compare A.json B.json

``DIR`` are folders already built (e.g. by ``scan_vs_cleanvision.py --out``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _round(v):
    if isinstance(v, float):
        return float(f"{v:.6g}")
    if isinstance(v, dict):
        return {k: _round(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_round(x) for x in v]
    return v


def dump(root: Path) -> list[dict]:
    from convergent.data.scan import scan

    report = scan(root)
    out = []
    for f in report.findings:
        ev = dict(f.evidence)
        sets = {}
        for key in ("files", "pairs", "classes"):
            if key in ev:
                items = ev.pop(key)
                sets[key] = sorted(json.dumps(x) for x in items)
        out.append({"code": f.code.value, "severity": f.severity.value,
                    "title": f.title, "sets": sets, "numbers": _round(ev)})
    return out


def compare(a: dict, b: dict) -> int:
    """Print the differences; return how many findings differ in code/file/pair/class."""
    bad = 0
    for folder in sorted(set(a) | set(b)):
        fa, fb = a.get(folder, []), b.get(folder, [])
        ka = [(f["code"], f["severity"], json.dumps(f["sets"], sort_keys=True)) for f in fa]
        kb = [(f["code"], f["severity"], json.dumps(f["sets"], sort_keys=True)) for f in fb]
        if ka != kb:
            bad += 1
            print(f"{folder}: findings differ")
            for x in sorted(set(ka) ^ set(kb)):
                side = "A" if x in ka else "B"
                print(f"  only {side}: {x[0]} {x[1]} {x[2][:300]}")
        else:
            na = [f["numbers"] for f in fa]
            nb = [f["numbers"] for f in fb]
            same = "numbers identical" if na == nb else "numbers differ (rounded to 6 digits)"
            print(f"{folder}: {len(fa)} findings identical (code, severity, files, pairs, "
                  f"classes); {same}")
            if na != nb:
                for f1, f2 in zip(fa, fb):
                    if f1["numbers"] != f2["numbers"]:
                        for k in sorted(set(f1["numbers"]) | set(f2["numbers"])):
                            if f1["numbers"].get(k) != f2["numbers"].get(k):
                                print(f"    {f1['code']}.{k}: {str(f1['numbers'].get(k))[:120]}"
                                      f" vs {str(f2['numbers'].get(k))[:120]}")
    return bad


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dirs", nargs="*")
    ap.add_argument("--json", default=None)
    ap.add_argument("--compare", nargs=2, default=None)
    args = ap.parse_args()
    if args.compare:
        a, b = (json.loads(Path(p).read_text()) for p in args.compare)
        bad = compare(a, b)
        print(f"SUMMARY folders_differing={bad} folders={len(set(a) | set(b))}")
        sys.exit(1 if bad else 0)
    doc = {Path(d).name: dump(Path(d)) for d in args.dirs}
    text = json.dumps(doc, indent=1, sort_keys=True)
    if args.json:
        Path(args.json).write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
