"""Pair mixing of the label-pair check on healthy data and on injected label swaps.

For ``convergent/data/checks/label_pairs.py``: the mixing m(a, b) = C[a, b] / (C[a, a] +
C[a, b]) of every label pair, on (1) healthy arrays of the embedded datasets "digits",
"mnist", "animals" (seeded subsamples), (2) the healthy development folders of
``scan_healthy_false_alarms.py`` (seeds 100-103) and the 5 %-random-flip folders of
``scan_outlier_label_dev.py`` (seeds 301-303; random flips are not a swap), and (3) the
same arrays with swapped labels: a share p in {0.2, 0.4, 0.6} of class a labelled b, either one way (a -> b) or
both ways (a <-> b). The swapped pairs are the dataset's most naturally confused pair
(the hardest case: its healthy mixing is highest) and two fixed, dissimilar ones. None of
this is the fault benchmark's data (benchmarks/faults/).

Usage:
    .venv/bin/python benchmarks/perf/scan_label_pairs_dev.py [--per-class 150]
        [--folders DIR] [--no-folders]
    .venv/bin/python benchmarks/perf/scan_label_pairs_dev.py --sizes

Prints one JSON line per case, then a line starting with ``SUMMARY``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from convergent.data.checks import Context
from convergent.data.checks.embedding import label_rows, neighbours, votes
from convergent.data.checks.label_pairs import (
    MIN_CLASS,
    MIX_MIN,
    confusion,
    pair_mixing,
)
from convergent.data.table import table_from_arrays
from convergent.datasets import load, subsample

DATASETS = ("digits", "mnist", "animals")
RATES = (0.2, 0.4, 0.6)
FIXED_PAIRS = ((0, 6), (2, 8))  # chosen before measuring; not the fault benchmark's pairs
HEALTHY_FOLDERS = [("mnist", 100, False, 32), ("animals", 101, True, 32),
                   ("mnist", 102, False, 64), ("animals", 103, False, 32)]
SIZES = (25, 50, 60, 75, 100)
NOISY_DEV = ("dev_mnist", "dev_animals", "dev_digits")  # scan_outlier_label_dev.py, 301-303


def mixing_of(table) -> np.ndarray:
    ctx = Context(table)
    rows, y, _ = label_rows(ctx, MIN_CLASS)
    return pair_mixing(confusion(votes(neighbours(ctx, rows), y), y))


def swapped(y: np.ndarray, a: int, b: int, p: float, both: bool, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = y.copy()
    flip = rng.random(len(y)) < p
    out[flip & (y == a)] = b
    if both:
        out[flip & (y == b)] = a
    return out


def top_pair(m: np.ndarray) -> tuple[int, int, float]:
    both = np.maximum(m, m.T)
    i, j = np.unravel_index(int(np.argmax(np.triu(both, 1))), both.shape)
    return int(i), int(j), float(both[i, j])


def sizes() -> None:
    """Healthy maximum mixing of seeded subsamples with few images per class."""
    for name in ("mnist", "animals"):
        x, y, _ = load(name)
        for per_class in SIZES:
            vals = [top_pair(mixing_of(table_from_arrays(*subsample(x, y, per_class, seed=s))))[2]
                    for s in range(1, 6)]
            print(json.dumps({"case": name, "per_class": per_class, "swap": False,
                              "max_mixing": round(max(vals), 4),
                              "per_seed": [round(v, 3) for v in vals]}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-class", type=int, default=150)
    ap.add_argument("--folders", default=None, help="healthy folders (built when missing)")
    ap.add_argument("--no-folders", action="store_true")
    ap.add_argument("--sizes", action="store_true",
                    help="only the healthy maximum against images per class (PAIR_MIN_CLASS)")
    args = ap.parse_args()
    if args.sizes:
        sizes()
        return
    no_swap_max = 0.0
    swaps: dict[str, list[float]] = {}
    for name in DATASETS:
        x, y, _ = load(name)
        for seed in (1, 2):
            xs, ys = subsample(x, y, args.per_class, seed=seed)
            t0 = time.perf_counter()
            table = table_from_arrays(xs, ys)
            m = mixing_of(table)
            a, b, mix = top_pair(m)
            no_swap_max = max(no_swap_max, mix)
            print(json.dumps({"case": f"{name}_s{seed}", "swap": False, "n": len(ys),
                              "top_pair": [a, b], "max_mixing": round(mix, 4),
                              "seconds": round(time.perf_counter() - t0, 2)}), flush=True)
            if seed != 1:
                continue
            for pa, pb in ((a, b), *FIXED_PAIRS):
                for p in RATES:
                    for both in (False, True):
                        yn = swapped(ys, pa, pb, p, both, seed=int(100 * p) + pa)
                        mn = mixing_of(table_from_arrays(xs, yn))
                        pair = max(mn[pa, pb], mn[pb, pa])
                        others = mn.copy()
                        others[[pa, pb], [pb, pa]] = 0.0
                        key = f"{'two' if both else 'one'}_way_{p}"
                        swaps.setdefault(key, []).append(float(pair))
                        print(json.dumps({"case": f"{name}_s{seed}", "pair": [pa, pb],
                                          "p": p, "both_ways": both,
                                          "pair_mixing": round(float(pair), 4),
                                          "max_other_mixing": round(float(others.max()), 4),
                                          "natural_pair": (pa, pb) == (a, b)}), flush=True)
    if not args.no_folders:
        import tempfile

        from benchmarks.faults.folders import make_folder
        from benchmarks.perf.scan_outlier_label_dev import DEV
        from convergent.data.folder import discover
        from convergent.data.table import build_table

        out = Path(args.folders or tempfile.mkdtemp(prefix="convergent-healthy-"))
        folders = {f"healthy_{base}_{seed}": {"problems": {}, "base": base, "n_per_class": 100,
                                               "seed": seed, "with_val": val, "size": size}
                   for base, seed, val, size in HEALTHY_FOLDERS}
        # and the development folders with 5 % labels flipped at random (+ 3 % outliers):
        # random flips are not systematic, so no pair should be mixed there either
        folders.update({k: v for k, v in DEV.items() if k in NOISY_DEV})
        for name, kwargs in folders.items():
            root = out / name
            if not root.exists():
                make_folder(root, **kwargs)
            m = mixing_of(build_table(str(root), discover(root).files))
            a, b, mix = top_pair(m)
            no_swap_max = max(no_swap_max, mix)
            print(json.dumps({"case": name, "swap": False, "top_pair": [a, b],
                              "max_mixing": round(mix, 4)}), flush=True)
    print("SUMMARY " + json.dumps({
        "mix_min": MIX_MIN, "no_swap_max": round(no_swap_max, 4),
        "swapped_min": {k: round(min(v), 4) for k, v in swaps.items()},
        "swapped_detected": {k: f"{sum(x >= MIX_MIN for x in v)}/{len(v)}"
                             for k, v in swaps.items()}}), flush=True)


if __name__ == "__main__":
    main()
