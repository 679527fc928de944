"""False alarms of `convergent scan` on healthy generated folders (no injected problem).

Thresholds of the data checks that are "relative to the dataset" were set from these
numbers (not from the fault benchmark folders): the tail of each robust z-score on
healthy images, and the count of images each check flags. Seeds 100-103 are not used by
benchmarks/faults/folders.py's BENCH_FOLDERS.

Usage: .venv/bin/python benchmarks/perf/scan_healthy_false_alarms.py [--out DIR]
Prints one JSON line: {"images": N, "false_alarms": {code: count}, "z_tails": {...}}.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.faults.folders import make_folder  # noqa: E402
from convergent.data.checks import Context, robust_z  # noqa: E402
from convergent.data.checks.outliers import outlier_scores  # noqa: E402
from convergent.data.folder import discover  # noqa: E402
from convergent.data.scan import scan  # noqa: E402
from convergent.data.table import build_table  # noqa: E402

HEALTHY = [("mnist", 100, False, 32), ("animals", 101, True, 32), ("mnist", 102, False, 64),
           ("animals", 103, False, 32)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="convergent-healthy-"))
    alarms: dict[str, int] = {}
    tails: dict[str, list[float]] = {"blur_z": [], "outlier_score": []}
    total = 0
    for base, seed, val, size in HEALTHY:
        root = out / f"healthy_{base}_{seed}"
        if not root.exists():
            make_folder(root, {}, base=base, n_per_class=100, seed=seed, with_val=val,
                        size=size)
        rep = scan(root)
        total += rep.metrics["summary"]["images"]
        for f in rep.findings:
            ev = f.evidence
            n = len(ev.get("files") or ev.get("pairs") or ev.get("classes") or [1])
            alarms[f.code.value] = alarms.get(f.code.value, 0) + n
        t = build_table(str(root), discover(root).files)
        z = robust_z(np.log(t.df["blur"].to_numpy(np.float64)), 0.05)
        tails["blur_z"] += sorted(z.tolist())[:5]
        ctx = Context(t)
        score = outlier_scores(ctx)
        tails["outlier_score"] += sorted(score[np.isfinite(score)].tolist())[-2:]
    print(json.dumps({"images": total, "false_alarms": alarms,
                      "z_tails": {k: [round(v, 2) for v in sorted(vals)[:8]] if k == "blur_z"
                                  else [round(v, 2) for v in sorted(vals)[-8:]]
                                  for k, vals in tails.items()}}))


if __name__ == "__main__":
    main()
