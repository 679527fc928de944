"""Development folders for the outlier and label-noise checks (not the fault benchmark's).

The thresholds of ``convergent/data/checks/outliers.py``, ``labels.py`` and
``embedding.py`` were chosen on these folders, never on ``BENCH_FOLDERS`` of
``benchmarks/faults/folders.py``: seeds 301-305 carry 3 % outliers (images of another
dataset) and 5 % flipped labels, or every file-level problem at once; the healthy folders
use the seeds 100-103 of ``scan_healthy_false_alarms.py``. Scored like the fault
benchmark: per file, images listed as an "acceptable" second code are not false positives.

Usage:
    .venv/bin/python benchmarks/perf/scan_outlier_label_dev.py [--out DIR]
        [--params '{"outlier": {"ratio": 0.85}}'] [--extra] [--more]

Prints one line per folder, then one JSON line starting with ``SUMMARY``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.faults.folders import FILE_LEVEL, load_truth, make_folder  # noqa: E402
from convergent.data.checks import run_checks  # noqa: E402
from convergent.data.folder import discover  # noqa: E402
from convergent.data.table import build_table  # noqa: E402

TWO = {"DATA_OUTLIER": 0.03, "DATA_LABEL_NOISE": 0.05}
ALL = {c: None for c in FILE_LEVEL + ("DATA_DUPLICATES",)}
DEV = {
    "dev_mnist": {"problems": TWO, "base": "mnist", "n_per_class": 120, "seed": 301},
    "dev_animals": {"problems": TWO, "base": "animals", "n_per_class": 120, "seed": 302},
    "dev_digits": {"problems": TWO, "base": "digits", "n_per_class": 120, "seed": 303},
    "dev_mixed_animals": {"problems": ALL, "base": "animals", "n_per_class": 150,
                          "size": 64, "seed": 304},
    "dev_mixed_mnist": {"problems": ALL, "base": "mnist", "n_per_class": 150, "seed": 305},
    "dev_h_mnist": {"problems": {}, "base": "mnist", "n_per_class": 100, "seed": 100},
    "dev_h_animals": {"problems": {}, "base": "animals", "n_per_class": 100, "seed": 101,
                      "with_val": True},
    "dev_h_mnist64": {"problems": {}, "base": "mnist", "n_per_class": 100, "seed": 102,
                      "size": 64},
    "dev_h_animals2": {"problems": {}, "base": "animals", "n_per_class": 100, "seed": 103},
}
# More development folders (--extra), used to choose the moment-normalization spread and
# the outlier check's VIEW_WEIGHT (benchmarks/RESULTS.md, "Label model and outlier score"):
# two more two-problem folders, a 64 px all-problem one, and three imbalanced ones.
IMB = {"DATA_IMBALANCE": 12.0, **TWO}
EXTRA = {
    "x_animals": {"problems": TWO, "base": "animals", "n_per_class": 150, "seed": 311},
    "x_mnist": {"problems": TWO, "base": "mnist", "n_per_class": 120, "seed": 312},
    "x_mixed_animals": {"problems": ALL, "base": "animals", "n_per_class": 150, "size": 64,
                        "seed": 313},
    "imb_animals": {"problems": IMB, "base": "animals", "n_per_class": 150, "seed": 314},
    "imb_mnist": {"problems": IMB, "base": "mnist", "n_per_class": 150, "seed": 315},
    "imb_h_animals": {"problems": {"DATA_IMBALANCE": 12.0}, "base": "animals",
                      "n_per_class": 150, "seed": 316},
}
# Still more (--more), added with the class-distance label model (benchmarks/RESULTS.md,
# "Label noise by class distances"): the cuts chosen on the 15 folders above lost
# precision on six more healthy folders of other sizes (60-150 per class, 64 px, a
# validation split, digits) and two more two-problem ones, so the cuts were chosen again
# on all 23.
MORE = {
    "m_h_mnist80": {"problems": {}, "base": "mnist", "n_per_class": 80, "seed": 320},
    "m_h_animals60v": {"problems": {}, "base": "animals", "n_per_class": 60, "seed": 321,
                       "with_val": True},
    "m_h_mnist100v": {"problems": {}, "base": "mnist", "n_per_class": 100, "seed": 322,
                      "with_val": True},
    "m_h_animals150": {"problems": {}, "base": "animals", "n_per_class": 150, "seed": 323},
    "m_h_digits100": {"problems": {}, "base": "digits", "n_per_class": 100, "seed": 324},
    "m_h_animals64": {"problems": {}, "base": "animals", "n_per_class": 100, "seed": 325,
                      "size": 64},
    "m_mnist": {"problems": TWO, "base": "mnist", "n_per_class": 100, "seed": 326},
    "m_animals_v": {"problems": TWO, "base": "animals", "n_per_class": 120, "seed": 327,
                    "with_val": True},
}
CODES = ("DATA_OUTLIER", "DATA_LABEL_NOISE")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None, help="where to build the folders (kept)")
    ap.add_argument("--params", default=None, help="JSON check overrides for run_checks")
    ap.add_argument("--extra", action="store_true", help="also the folders of EXTRA")
    ap.add_argument("--more", action="store_true", help="also the folders of MORE")
    args = ap.parse_args()
    params = json.loads(args.params) if args.params else None
    out = Path(args.out or tempfile.mkdtemp(prefix="convergent-dev-"))
    out.mkdir(parents=True, exist_ok=True)
    tot = {c: [0, 0, 0] for c in CODES}  # tp, fp, truth
    healthy_fp = {c: 0 for c in CODES}
    seconds = {c: 0.0 for c in CODES}
    folders = {**DEV, **(EXTRA if args.extra else {}), **(MORE if args.more else {})}
    for name, kwargs in folders.items():
        root = out / name
        if not root.exists():
            make_folder(root, **kwargs)
        doc = load_truth(root)
        truth, acceptable = doc["ground_truth"], doc.get("acceptable", {})
        table = build_table(str(root), discover(root).files)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        found = run_checks(table, params, 0, timings)
        line = {"folder": name, "checks_s": round(time.perf_counter() - t0, 2)}
        for code in CODES:
            f = next((x for x in found if x.code.value == code), None)
            got = set(f.evidence["files"]) if f else set()
            t, ok = set(truth.get(code, [])), set(acceptable.get(code, []))
            tp, fp = len(got & t), len(got - t - ok)
            tot[code][0] += tp
            tot[code][1] += fp
            tot[code][2] += len(t)
            if not truth:
                healthy_fp[code] += fp
            line[code] = {"tp": tp, "truth": len(t), "fp": fp,
                          "severity": f.severity.value if f else None}
        seconds["DATA_OUTLIER"] += timings.get("check_outlier", 0.0)
        seconds["DATA_LABEL_NOISE"] += timings.get("check_label_noise", 0.0)
        print(json.dumps(line), flush=True)
    summary = {c: {"recall": round(tp / n, 3) if n else None,
                   "precision": round(tp / (tp + fp), 3) if tp + fp else None,
                   "healthy_false_positives": healthy_fp[c], "check_seconds": round(seconds[c], 2)}
               for c, (tp, fp, n) in tot.items()}
    print("SUMMARY " + json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
