"""`convergent scan` vs cleanvision on the fault benchmark's image folders, side by side.

For every folder of ``benchmarks.faults.folders.BENCH_FOLDERS`` (injected problems with
per-file ground truth), this runs ``convergent.scan`` and cleanvision's
``Imagelab.find_issues`` (default issue types) one after the other on the same files,
and reports:

* convergent's precision and recall per code, micro-averaged over all folders (a file
  the truth lists as an "acceptable" second detection is not a false positive);
* wall time of both tools and their ratio;
* recall of both tools on the problem types both cover (dark, light/bright,
  low information/low contrast, blurry, odd size or aspect, grayscale, duplicates).

Thresholds were not tuned on these folders (see the comments beside each constant in
src/convergent/data/). Import time is left out for both tools: cleanvision is imported
before its clock starts, and the modules ``convergent.scan`` loads on first use
(scikit-learn, SciPy, cleanlab) are imported before the first folder (they cost ~2-3 s,
once per process, which timing only the first folder would charge to it). Usage:

    .venv/bin/python benchmarks/perf/scan_vs_cleanvision.py [--out DIR] [--only NAME ...]

Prints per-folder lines, then one JSON summary line starting with ``SUMMARY``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.faults.folders import (
    BENCH_FOLDERS, CLASS_LEVEL, PAIR_LEVEL, load_truth, make_folder)

# convergent code -> cleanvision issue types that mean the same thing
SHARED = {
    "DATA_DARK": ["dark"],
    "DATA_BRIGHT": ["light"],
    "DATA_LOW_CONTRAST": ["low_information"],
    "DATA_BLURRY": ["blurry"],
    "DATA_ODD_SIZE": ["odd_aspect_ratio", "odd_size"],
    "DATA_GRAYSCALE_AS_RGB": ["grayscale"],
    "DATA_DUPLICATES": ["exact_duplicates", "near_duplicates"],
}


def convergent_found(report) -> dict[str, set]:
    found: dict[str, set] = {}
    for f in report.findings:
        c, ev = f.code.value, f.evidence
        if c == "DATA_DUPLICATES":
            found[c] = {tuple(sorted(p)) for p in ev.get("pairs", [])}
        elif c == "DATA_LEAKAGE":
            found[c] = {tuple(p) for p in ev.get("pairs", [])}
        elif c in CLASS_LEVEL:
            found.setdefault(c, set()).update(ev.get("classes", []))
        else:
            found[c] = set(ev.get("files", []))
    return found


def score(truth: dict, acceptable: dict, found: dict[str, set]) -> dict[str, list[int]]:
    """code -> [tp, fp, fn]."""
    out: dict[str, list[int]] = {}
    for code in set(truth) | set(found):
        t = {tuple(x) if isinstance(x, list) else x for x in truth.get(code, [])}
        fd = found.get(code, set())
        ok = set(acceptable.get(code, []))
        if code in PAIR_LEVEL:
            fp = [p for p in fd - t if not (p[0] in ok or p[1] in ok)]
        else:
            fp = [x for x in fd - t if x not in ok]
        out[code] = [len(t & fd), len(fp), len(t - fd)]
    return out


def cleanvision_run(root: Path, skip: list[str]) -> tuple[float, dict[str, set],
                                                          dict[str, list], bool]:
    """Run cleanvision on the folder; if it crashes (it raises on truncated files), rerun
    on the file list without the ``skip`` files and say so."""
    from cleanvision import Imagelab

    sink = io.StringIO()
    crashed = False
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        try:
            lab = Imagelab(data_path=str(root), verbose=False)
            lab.find_issues(verbose=False)
        except Exception:
            crashed = True
    if crashed:
        from cleanvision.utils.utils import get_filepaths

        bad = {str((root / f).resolve()) for f in skip}
        paths = [p for p in get_filepaths(str(root)) if str(Path(p).resolve()) not in bad]
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            lab = Imagelab(filepaths=paths, verbose=False)
            lab.find_issues(verbose=False)
    elapsed = time.perf_counter() - t0
    issues = lab.issues
    files: dict[str, set] = {}
    for col in issues.columns:
        if col.startswith("is_") and col.endswith("_issue"):
            name = col[3:-6]
            hit = issues.index[issues[col].astype(bool)]
            files[name] = {Path(p).resolve().relative_to(root.resolve()).as_posix()
                           for p in hit}
    sets: dict[str, list] = {}
    for name in ("exact_duplicates", "near_duplicates"):
        sets[name] = [{Path(p).resolve().relative_to(root.resolve()).as_posix() for p in s}
                      for s in lab.info.get(name, {}).get("sets", [])]
    return elapsed, files, sets, crashed


def shared_recall(truth: dict, conv: dict[str, set], cv_files: dict[str, set],
                  cv_sets: dict[str, list]) -> dict[str, list[int]]:
    """code -> [n_truth, convergent hits, cleanvision hits] on shared problem types."""
    out: dict[str, list[int]] = {}
    for code, names in SHARED.items():
        t = truth.get(code)
        if not t:
            continue
        if code == "DATA_DUPLICATES":
            pairs = [tuple(sorted(p)) for p in t]
            ch = sum(p in conv.get(code, set()) for p in pairs)
            groups = [s for n in names for s in cv_sets.get(n, [])]
            vh = sum(any(p[0] in g and p[1] in g for g in groups) for p in pairs)
        else:
            ch = len(set(t) & conv.get(code, set()))
            cvf = set().union(*(cv_files.get(n, set()) for n in names))
            vh = len(set(t) & cvf)
        out[code] = [len(t), ch, vh]
    return out


def _warm_imports() -> None:
    """Import what ``convergent.scan`` imports on first use, as cleanvision's import is
    done before its clock starts."""
    import importlib

    for name in ("cleanlab.filter", "scipy.sparse.csgraph", "scipy.spatial.distance",
                 "sklearn.decomposition", "sklearn.neighbors", "convergent.data.checks",
                 "convergent.data.table"):
        importlib.import_module(name)
    from convergent.data import threads

    threads.one_thread()  # the thread-pool library scan, once per process


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None, help="where to build the folders (kept)")
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--no-cleanvision", action="store_true")
    args = ap.parse_args()
    from convergent.data.scan import scan

    _warm_imports()

    out = Path(args.out or tempfile.mkdtemp(prefix="convergent-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    per_code: dict[str, list[int]] = {}
    shared: dict[str, list[int]] = {}
    t_conv = t_cv = 0.0
    n_images = 0
    for name, kwargs in BENCH_FOLDERS.items():
        if args.only and name not in args.only:
            continue
        root = out / name
        if not root.exists():
            make_folder(root, **kwargs)
        doc = load_truth(root)
        truth, acceptable = doc["ground_truth"], doc.get("acceptable", {})
        t0 = time.perf_counter()
        report = scan(root)
        tc = time.perf_counter() - t0
        found = convergent_found(report)
        s = score(truth, acceptable, found)
        for code, v in s.items():
            acc = per_code.setdefault(code, [0, 0, 0])
            for k in range(3):
                acc[k] += v[k]
        line = {"folder": name, "images": report.metrics["summary"]["images"],
                "convergent_s": round(tc, 2), "per_code": s}
        n_images += report.metrics["summary"]["images"]
        t_conv += tc
        if not args.no_cleanvision:
            tv, cv_files, cv_sets, crashed = cleanvision_run(
                root, truth.get("DATA_CORRUPT", []))
            t_cv += tv
            r = shared_recall(truth, found, cv_files, cv_sets)
            for code, v in r.items():
                acc = shared.setdefault(code, [0, 0, 0])
                for k in range(3):
                    acc[k] += v[k]
            line.update(cleanvision_s=round(tv, 2), shared=r,
                        cleanvision_crashed_on_corrupt_files=crashed)
        print(json.dumps(line), flush=True)

    def pr(v: list[int]) -> dict[str, float | None]:
        tp, fp, fn = v
        return {"precision": round(tp / (tp + fp), 3) if tp + fp else None,
                "recall": round(tp / (tp + fn), 3) if tp + fn else None,
                "tp": tp, "fp": fp, "fn": fn}

    summary = {
        "images": n_images,
        "per_code": {c: pr(v) for c, v in sorted(per_code.items())},
        "convergent_s": round(t_conv, 2),
    }
    if not args.no_cleanvision:
        tot = [sum(v[k] for v in shared.values()) for k in range(3)]
        summary.update(
            cleanvision_s=round(t_cv, 2),
            speedup_vs_cleanvision=round(t_cv / t_conv, 2) if t_conv else None,
            shared_recall={c: {"n": v[0], "convergent": round(v[1] / v[0], 3),
                               "cleanvision": round(v[2] / v[0], 3)}
                           for c, v in sorted(shared.items())},
            shared_recall_overall={"convergent": round(tot[1] / tot[0], 3),
                                   "cleanvision": round(tot[2] / tot[0], 3)} if tot[0] else {})
    print("SUMMARY " + json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
