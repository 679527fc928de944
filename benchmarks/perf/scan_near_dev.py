"""Near-copy pairs on development folders (not the benchmark's): recall and precision of
DATA_DUPLICATES and DATA_LEAKAGE per base dataset and image size.

Folders are made by :func:`benchmarks.faults.folders.make_folder` with seeds 101-... (the
benchmark's folders use seeds 1-8), 5 % duplicates and 5 % leaked copies made the five ways
of the benchmark (exact, JPEG q70, 0.8x resize, 5-10 % crop, +10 % brightness), with a
validation split. Used to choose the near-copy gates of convergent.data.near without
looking at the benchmark folders.

    python benchmarks/perf/scan_near_dev.py [--out /tmp/near_dev]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CONFIGS = [(base, size, seed) for base in ("mnist", "animals", "digits")
           for size in (32, 64) for seed in (101, 102)]
CODES = ("DATA_DUPLICATES", "DATA_LEAKAGE")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=None, help="where to write the folders (kept)")
    a = ap.parse_args()

    import convergent
    from benchmarks.faults.folders import make_folder
    from benchmarks.faults.scorer import folder_counts

    out = Path(a.out or tempfile.mkdtemp(prefix="near_dev_"))
    total = {c: [0, 0, 0] for c in CODES}
    for base, size, seed in CONFIGS:
        root = out / f"{base}_{size}_{seed}"
        if not root.exists():
            make_folder(root, {"DATA_DUPLICATES": 0.05, "DATA_LEAKAGE": 0.05}, base=base,
                        n_per_class=100, seed=seed, with_val=True, size=size)
        import json
        truth = json.loads((out / f"{root.name}.ground_truth.json").read_text())
        report = convergent.scan(str(root))
        counts = folder_counts(truth, [f.to_dict() for f in report.findings])
        row = []
        for c in CODES:
            k = counts.get(c, {"tp": 0, "truth": 0, "pred": 0})
            for i, key in enumerate(("tp", "truth", "pred")):
                total[c][i] += k[key]
            row.append(f"{c[5:]}={k['tp']}/{k['truth']}/{k['pred']}")
        print(f"{root.name:18s} " + " ".join(row), flush=True)
    for c, (tp, t, p) in total.items():
        print(f"scan_near_dev {c} recall={tp / max(t, 1):.3f} precision={tp / max(p, 1):.3f} "
              f"tp={tp} truth={t} pred={p}")


if __name__ == "__main__":
    main()
