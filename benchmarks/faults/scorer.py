"""The fault benchmark's scorer: run every case through convergent and score the reports.

Scripts (``cases/<name>/train.py``) go through ``convergent run --json OUT -- python
train.py``; generated image folders (:mod:`benchmarks.faults.folders`) go through
``convergent scan --json OUT``. A command that is not built yet, crashes, times out or
writes no report counts as a miss; the scorer itself never fails on a case.

Each script is copied into a fresh temporary folder named ``case`` before it runs, so
neither its path nor the case name can hint at the answer.

Metrics (all computed by the pure functions below, tested on fake reports):

* ``top1``: share of faulty cases whose first reported finding is the root-cause code.
* ``top3``: share whose root-cause code is among the first three findings.
* per code (scripts): recall = cases with that root found in the top 3 / cases with that
  root; precision = top-3 reports of the code that are the case's root or an
  also-acceptable code / all top-3 reports of the code (healthy cases included).
* symptoms (scripts): a case whose root is a cause names the symptom its run shows
  (``symptom``, e.g. TRAIN_DIVERGED under a too-high rate); found = reported anywhere in
  the report, since a symptom ranks below its cause by design.
* ``false_alarms``: healthy cases with any error or warning finding / healthy cases that
  produced a report.
* data (folders): per code and overall (micro), precision and recall per file (pairs for
  DATA_DUPLICATES / DATA_LEAKAGE, class folders for class-level codes); files listed in
  the ground truth's ``acceptable`` are neither hits nor false positives.
* ``repair`` (only with ``--repair``): repairable cases whose repaired run ends healthy
  / repairable cases run; ``na`` otherwise.
* ``diagnosis_20pct``: of the faulty cases whose root is in the top 3, the share whose
  root finding began within the first 20 % of the planned epochs (issue 6's time to
  diagnosis; see :func:`time_to_diagnosis`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CASES_DIR = HERE / "cases"
MANIFEST = HERE / "manifest.json"
DEFAULT_TIMEOUT = 150.0  # seconds per case: scripts take 10-40 s on 2 busy cores
NOT_BUILT_MARK = "not built"
BAD = ("error", "warning")
# issue 6, "Done when": the root cause is known within the first 20 % of the planned epochs
EARLY_PERCENT = 20


# ---------------------------------------------------------------- data


@dataclass
class Outcome:
    """What one run of convergent produced for one case or folder."""

    name: str
    status: str  # ok | not built | crash | timeout | no report
    seconds: float
    findings: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None
    message: str = ""

    @property
    def codes(self) -> list[str]:
        return [str(f.get("code")) for f in self.findings]

    @property
    def alarms(self) -> list[str]:
        return [str(f.get("code")) for f in self.findings if f.get("severity") in BAD]


def load_manifest(path: Path | None = None) -> dict[str, Any]:
    """The case manifest (default: ``manifest.json`` beside this module)."""
    return json.loads(Path(path or MANIFEST).read_text(encoding="utf-8"))


def parse_report(text: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Findings (in report order) and metrics of a version-1 JSON report."""
    doc = json.loads(text)
    findings = doc.get("findings") or []
    if not isinstance(findings, list):
        raise TypeError("report 'findings' is not a list")
    return [f for f in findings if isinstance(f, dict) and "code" in f], doc.get("metrics") or {}


def classify_failure(exit_code: int | None, stderr: str) -> str:
    """Name a run that wrote no report."""
    if exit_code == 2 and NOT_BUILT_MARK in stderr.lower():
        return "not built"
    if exit_code is None:
        return "timeout"
    return "crash" if exit_code not in (0, 1) else "no report"


# ---------------------------------------------------------------- running


def convergent_bin() -> list[str]:
    """The convergent command of this interpreter's environment."""
    candidate = Path(sys.executable).parent / "convergent"
    if candidate.exists():
        return [str(candidate)]
    found = shutil.which("convergent")
    return [found] if found else [sys.executable, "-m", "convergent.cli"]


def _run(cmd: list[str], cwd: Path, report: Path, timeout: float, name: str,
         extra_env: dict[str, str] | None = None) -> Outcome:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0",
               CUDA_VISIBLE_DEVICES="", KERAS_BACKEND=os.environ.get("KERAS_BACKEND",
                                                                     "tensorflow"))
    env.update(extra_env or {})
    start = time.perf_counter()
    code: int | None
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)
        code, stderr = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired as e:
        code = None
        stderr = (e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes)
                  else (e.stderr or ""))
    except OSError as e:
        code, stderr = -1, str(e)
    seconds = time.perf_counter() - start
    if report.exists() and code is not None:
        try:
            findings, metrics = parse_report(report.read_text(encoding="utf-8"))
            return Outcome(name, "ok", seconds, findings, metrics, code)
        except (ValueError, TypeError, KeyError) as e:
            return Outcome(name, "crash", seconds, exit_code=code,
                           message=f"unreadable report: {e}")
    tail = " ".join(stderr.strip().splitlines()[-2:])[-300:]
    return Outcome(name, classify_failure(code, stderr), seconds, exit_code=code, message=tail)


def run_script(name: str, timeout: float = DEFAULT_TIMEOUT, repair: bool = False,
               script: str = "train.py", env: dict[str, str] | None = None,
               budget: float | None = None) -> Outcome:
    """Copy one case script to a neutral folder and run it under ``convergent run``.

    ``script`` picks another file of the case (e.g. ``fixed.py``; it still runs as
    ``train.py``), ``env`` adds environment variables, ``budget`` is ``run --budget``.
    """
    with tempfile.TemporaryDirectory(prefix="convergent-bench-") as tmp:
        work = Path(tmp) / "case"
        work.mkdir()
        shutil.copy(CASES_DIR / name / script, work / "train.py")
        report = Path(tmp) / "report.json"
        cmd = convergent_bin() + ["run", "--json", str(report), "--quiet"]
        if repair:
            cmd.append("--repair")
        if budget is not None:
            cmd += ["--budget", f"{budget:.1f}"]
        cmd += ["--", sys.executable, "train.py"]
        return _run(cmd, work, report, timeout, name, env)


def run_scan(name: str, folder: Path, timeout: float = DEFAULT_TIMEOUT) -> Outcome:
    report = folder.parent / f"{folder.name}.report.json"
    cmd = convergent_bin() + ["scan", str(folder), "--json", str(report), "--quiet"]
    return _run(cmd, folder.parent, report, timeout, name)


# ---------------------------------------------------------------- script metrics


def script_hits(outcome: Outcome, root: str | None) -> tuple[bool, bool]:
    """(top-1 hit, top-3 hit) of one faulty case."""
    codes = outcome.codes
    return bool(codes) and codes[0] == root, root in codes[:3]


def script_metrics(manifest: dict[str, Any], outcomes: dict[str, Outcome]
                   ) -> dict[str, Any]:
    """top1, top3, false alarms and per-code precision/recall over the cases run."""
    cases = manifest["cases"]
    faulty = [n for n in outcomes if not cases[n]["healthy"]]
    healthy = [n for n in outcomes if cases[n]["healthy"]]
    top1 = sum(script_hits(outcomes[n], cases[n]["root"])[0] for n in faulty)
    top3 = sum(script_hits(outcomes[n], cases[n]["root"])[1] for n in faulty)
    judged = [n for n in healthy if outcomes[n].status == "ok"]
    alarms = [n for n in judged if outcomes[n].alarms]
    per_code: dict[str, dict[str, int]] = {}
    for n, out in outcomes.items():
        case = cases[n]
        if case["root"]:
            row = per_code.setdefault(case["root"], {"cases": 0, "found": 0, "reported": 0,
                                                     "correct": 0})
            row["cases"] += 1
            row["found"] += case["root"] in out.codes[:3]
        if case.get("symptom"):
            row = per_code.setdefault(case["symptom"], {"cases": 0, "found": 0,
                                                        "reported": 0, "correct": 0})
            row["symptom_cases"] = row.get("symptom_cases", 0) + 1
            row["symptom_found"] = row.get("symptom_found", 0) + (case["symptom"] in out.codes)
        fair = {case["root"], *case.get("also", [])} if case["root"] else set()
        reported = out.codes[:3] if not case["healthy"] else out.alarms
        for code in dict.fromkeys(reported):
            row = per_code.setdefault(code, {"cases": 0, "found": 0, "reported": 0,
                                             "correct": 0})
            row["reported"] += 1
            row["correct"] += code in fair
    return {
        "faulty": len(faulty), "top1": top1, "top3": top3,
        "healthy": len(healthy), "healthy_judged": len(judged), "false_alarms": len(alarms),
        "false_alarm_cases": alarms, "per_code": per_code,
    }


def _int(v: Any) -> int | None:
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) \
        and math.isfinite(v) else None


def planned_length(fit: dict[str, Any]) -> tuple[int | None, int | None]:
    """(planned epochs, planned steps) of one ``metrics["fits"]`` record.

    Epochs are ``args["epochs"]`` (Keras' default 1 when the call gave none) minus
    ``initial_epoch``; steps per epoch are ``args["steps_per_epoch"]``, else
    ceil(n_train / batch_size) from the fit's facts, else unknown. A record without
    ``args`` (no fit recorded) plans nothing known: ``(None, None)``.
    """
    args = fit.get("args")
    if not isinstance(args, dict):
        return None, None
    facts = fit.get("facts") if isinstance(fit.get("facts"), dict) else {}
    epochs = _int(args.get("epochs"))
    epochs = (1 if epochs is None else epochs) - (_int(args.get("initial_epoch")) or 0)
    if epochs <= 0:
        return None, None
    per_epoch = _int(args.get("steps_per_epoch"))
    n, bs = _int(facts.get("n_train")), _int(facts.get("batch_size") or args.get("batch_size"))
    if per_epoch is None and n and bs:
        per_epoch = -(-n // bs)
    return epochs, (epochs * per_epoch if per_epoch else None)


def _within(index: int, planned: int | None) -> bool | None:
    """index (0-based) < ceil(EARLY_PERCENT % of planned); index 0 is always early."""
    if index <= 0:
        return True
    if not planned:
        return None
    return index < -(-planned * EARLY_PERCENT // 100)


def diagnosis_time(outcome: Outcome, root: str) -> dict[str, Any]:
    """When the root finding of one case began, against the planned length of its fit.

    The first finding with the root code (the one the top-3 rank counted) is timed by its
    evidence's ``began_epoch``; else ``began_step``; else, for a run-time finding whose
    onset the evidence leaves empty, ``metrics["finding_epochs"][root]``. A finding with
    no onset fields at all comes from the checks before ``fit`` (lint, data, a crash in
    the first batch) and counts as epoch 0. ``early`` is None when it cannot be judged
    (counted as not early).
    """
    finding = next((f for f in outcome.findings if f.get("code") == root), None)
    row: dict[str, Any] = {"by": "unknown", "epoch": None, "step": None,
                           "planned_epochs": None, "planned_steps": None, "early": None}
    if finding is None:
        return row
    ev = finding.get("evidence") if isinstance(finding.get("evidence"), dict) else {}
    metrics = outcome.metrics if isinstance(outcome.metrics, dict) else {}
    fits = [f for f in metrics.get("fits") or [] if isinstance(f, dict)]
    tag = _int(ev.get("fit"))  # 1-based fit index, present when the script fit several times
    fit = fits[tag - 1] if tag and 0 < tag <= len(fits) else (fits[0] if fits else {})
    row["planned_epochs"], row["planned_steps"] = planned_length(fit)
    epoch, step = _int(ev.get("began_epoch")), _int(ev.get("began_step"))
    if epoch is None and step is None and ("began_epoch" in ev or "began_step" in ev):
        epoch = _int((metrics.get("finding_epochs") or {}).get(root))
        if epoch is None:
            return row
    elif epoch is None and step is None:
        row.update(by="pre-fit", epoch=0, early=True)
        return row
    if epoch is not None:
        row.update(by="epoch", epoch=epoch, early=_within(epoch, row["planned_epochs"]))
    else:
        row.update(by="step", step=step, early=_within(step, row["planned_steps"]))
    return row


def time_to_diagnosis(manifest: dict[str, Any], outcomes: dict[str, Outcome]
                      ) -> dict[str, Any]:
    """Share of faulty cases with the root in the top 3 whose root finding began within the
    first EARLY_PERCENT % of the planned epochs (or steps, when only the step is known)."""
    cases = manifest["cases"]
    rows = {n: diagnosis_time(o, cases[n]["root"]) for n, o in outcomes.items()
            if not cases[n]["healthy"] and script_hits(o, cases[n]["root"])[1]}
    early = sum(bool(r["early"]) for r in rows.values())
    return {"judged": len(rows), "early": early,
            "share": ratio(early, len(rows)) if rows else None,
            "late": sorted(n for n, r in rows.items() if r["early"] is False),
            "unknown": sorted(n for n, r in rows.items() if r["early"] is None),
            "per_case": rows}


# ---------------------------------------------------------------- data metrics


def _pairs(items: Iterable[Any]) -> set[frozenset[str]]:
    out = set()
    for p in items or []:
        if isinstance(p, (list, tuple)) and len(p) == 2:
            out.add(frozenset(str(x) for x in p))
    return out


def _files(evidence: dict[str, Any]) -> set[str]:
    files = evidence.get("files") or []
    return {str(f) for f in files if isinstance(f, (str, Path))}


def _classes(evidence: dict[str, Any], files: set[str]) -> set[str]:
    out: set[str] = set()
    for key in ("classes", "class", "labels", "label"):
        val = evidence.get(key)
        if isinstance(val, (str, int)):
            out.add(str(val))
        elif isinstance(val, (list, tuple)):
            out.update(str(v) for v in val if isinstance(v, (str, int)))
        elif isinstance(val, dict):
            out.update(str(k) for k in val)
    out.update(Path(f).parent.name for f in files if Path(f).parent.name)
    return {Path(c).name for c in out}


def predicted(findings: list[dict[str, Any]]) -> dict[str, dict[str, set]]:
    """code -> {"files", "pairs", "classes"} predicted by a scan report."""
    out: dict[str, dict[str, set]] = {}
    for f in findings:
        ev = f.get("evidence") or {}
        if not isinstance(ev, dict):
            ev = {}
        row = out.setdefault(str(f.get("code")), {"files": set(), "pairs": set(),
                                                 "classes": set()})
        files = _files(ev)
        row["files"] |= files
        row["pairs"] |= _pairs(ev.get("pairs") or [])
        row["classes"] |= _classes(ev, files)
    return out


def folder_counts(truth_doc: dict[str, Any], findings: list[dict[str, Any]]
                  ) -> dict[str, dict[str, int]]:
    """Per data code: tp, truth and pred counts of one folder (see module docstring)."""
    from benchmarks.faults.folders import CLASS_LEVEL, PAIR_LEVEL, PROBLEMS

    truth = truth_doc.get("ground_truth", {})
    acceptable = {k: set(v) for k, v in truth_doc.get("acceptable", {}).items()}
    pred = predicted(findings)
    counts: dict[str, dict[str, int]] = {}
    for code in sorted(set(truth) | (set(pred) & set(PROBLEMS))):
        items = truth.get(code, [])
        p = pred.get(code, {"files": set(), "pairs": set(), "classes": set()})
        ok = acceptable.get(code, set())
        if code in CLASS_LEVEL:
            t = {str(c) for c in items}
            guess = p["classes"]
            tp, n_pred = len(t & guess), len(guess)
        elif code in PAIR_LEVEL:
            t_pairs = _pairs(items)
            t = t_pairs
            if p["pairs"]:
                tp = len(t_pairs & p["pairs"])
                n_pred = len({q for q in p["pairs"] if not (q <= ok)})
            else:  # a finding that lists files only: a truth pair counts when both are named
                tp = sum(1 for q in t_pairs if q <= p["files"])
                n_pred = max(tp, (len(p["files"] - ok) + 1) // 2)
        else:
            t = set(items)
            guess = p["files"] - (ok - t)
            tp, n_pred = len(t & guess), len(guess)
        counts[code] = {"tp": tp, "truth": len(t), "pred": n_pred}
    return counts


def data_metrics(per_folder: dict[str, dict[str, dict[str, int]]]) -> dict[str, Any]:
    """Sum folder counts per code and overall; precision/recall as fractions."""
    per_code: dict[str, dict[str, int]] = {}
    for counts in per_folder.values():
        for code, c in counts.items():
            row = per_code.setdefault(code, {"tp": 0, "truth": 0, "pred": 0})
            for k in row:
                row[k] += c[k]
    tp = sum(r["tp"] for r in per_code.values())
    truth = sum(r["truth"] for r in per_code.values())
    pred = sum(r["pred"] for r in per_code.values())
    return {"per_code": per_code, "recall": ratio(tp, truth), "precision": ratio(tp, pred)}


def repair_success(outcome: Outcome) -> bool:
    """A repaired run succeeded when the report says so, or it ends with no error/warning."""
    rep = outcome.metrics.get("repair") if isinstance(outcome.metrics, dict) else None
    if isinstance(rep, dict):
        for key in ("success", "healthy", "repaired"):
            if key in rep:
                return bool(rep[key])
    return outcome.status == "ok" and not outcome.alarms


def ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def summary_line(sm: dict[str, Any], dm: dict[str, Any] | None, repair: str,
                 seconds: float, folder_alarms: tuple[int, int] = (0, 0),
                 diagnosis: float | None = None) -> str:
    """The one machine-readable line; false alarms count healthy scripts and folders;
    ``diagnosis`` is :func:`time_to_diagnosis`'s share (``na`` when nothing was judged)."""
    dr = f"{dm['recall']:.2f}" if dm else "na"
    dp = f"{dm['precision']:.2f}" if dm else "na"
    dg = f"{diagnosis:.2f}" if diagnosis is not None else "na"
    alarms = sm["false_alarms"] + folder_alarms[0]
    judged = sm["healthy_judged"] + folder_alarms[1]
    return (f"top1={ratio(sm['top1'], sm['faulty']):.2f} "
            f"top3={ratio(sm['top3'], sm['faulty']):.2f} "
            f"false_alarms={alarms}/{judged} "
            f"data_recall={dr} data_precision={dp} repair={repair} "
            f"diagnosis_20pct={dg} seconds={seconds:.0f}")


# ---------------------------------------------------------------- CLI


def select_cases(manifest: dict[str, Any], subset: str | None, names: str | None
                 ) -> tuple[list[str], list[str]]:
    """(script cases, folder names) to run."""
    from benchmarks.faults.folders import BENCH_FOLDERS

    cases = sorted(manifest["cases"])
    if names:
        wanted = [n.strip() for n in names.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in manifest["cases"] and n not in BENCH_FOLDERS]
        if unknown:
            raise SystemExit(f"unknown case(s): {', '.join(unknown)}; see {MANIFEST}")
        return [n for n in wanted if n in manifest["cases"]], \
            [n for n in wanted if n in BENCH_FOLDERS]
    if subset:
        subsets = manifest.get("subsets", {})
        if subset not in subsets:
            raise SystemExit(f"unknown subset {subset!r}; choose from {', '.join(subsets)}")
        return list(subsets[subset]), list(manifest.get("folder_subsets", {}).get(subset, []))
    return cases, list(BENCH_FOLDERS)


def _fmt_codes(out: Outcome) -> str:
    return ",".join(c.replace("TRAIN_", "T_").replace("MODEL_", "M_").replace("DATA_", "D_")
                    for c in out.codes[:3]) or "-"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.faults",
                                 description="Score convergent on the fault benchmark.")
    ap.add_argument("--subset", help="a named subset of the manifest, e.g. fast")
    ap.add_argument("--cases", help="comma-separated case and/or folder names")
    ap.add_argument("--jobs", type=int, default=1, help="cases run at once (default 1)")
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                    help="seconds per case before it counts as a miss")
    ap.add_argument("--repair", action="store_true",
                    help="also run repairable cases with `convergent run --repair`")
    ap.add_argument("--no-folders", action="store_true", help="skip the image folders")
    ap.add_argument("--json", type=Path, help="write every outcome and metric here")
    args = ap.parse_args(argv)

    start = time.perf_counter()
    manifest = load_manifest()
    names, folders = select_cases(manifest, args.subset, args.cases)
    if args.no_folders:
        folders = []
    jobs = max(1, args.jobs)

    done = [0]

    def one(name: str) -> Outcome:
        try:
            out = run_script(name, args.timeout)
        except Exception as e:  # noqa: BLE001 - a broken case must not stop the benchmark
            out = Outcome(name, "crash", 0.0, message=f"scorer: {e!r}")
        done[0] += 1
        print(f"[{done[0]}/{len(names)}] {name}: {out.status} {out.seconds:.0f}s",
              file=sys.stderr, flush=True)
        return out

    with ThreadPoolExecutor(jobs) as pool:
        outcomes = dict(zip(names, pool.map(one, names), strict=True))

    print(f"{'case':34} {'expected':28} {'got top-3':44} {'top1':>4} {'top3':>4} {'sec':>5}")
    cases = manifest["cases"]
    for n, out in outcomes.items():
        case = cases[n]
        expected = case["root"] or "(healthy)"
        if case["healthy"]:
            h1 = h3 = "ok" if out.status == "ok" and not out.alarms else "FA" \
                if out.status == "ok" else "-"
        else:
            a, b = script_hits(out, case["root"])
            h1, h3 = ("yes" if a else "no"), ("yes" if b else "no")
        got = _fmt_codes(out) if out.status == "ok" else f"[{out.status}]"
        print(f"{n:34} {expected:28} {got:44} {h1:>4} {h3:>4} {out.seconds:5.1f}")
    sm = script_metrics(manifest, outcomes)
    if sm["per_code"]:
        print(f"\n{'code (scripts)':30} {'cases':>5} {'recall':>6} {'reported':>8} "
              f"{'precision':>9} {'as symptom':>10}")
        for code, r in sorted(sm["per_code"].items()):
            sym = (f"{r['symptom_found']}/{r['symptom_cases']}" if r.get("symptom_cases")
                   else "")
            print(f"{code:30} {r['cases']:5d} {ratio(r['found'], r['cases']):6.2f} "
                  f"{r['reported']:8d} {ratio(r['correct'], r['reported']):9.2f} {sym:>10}")
    not_run = [n for n, o in outcomes.items() if o.status != "ok"]
    if not_run:
        statuses = sorted({outcomes[n].status for n in not_run})
        print(f"\n{len(not_run)} case(s) without a report ({', '.join(statuses)}); "
              f"counted as misses. First message: {outcomes[not_run[0]].message[:200]}")
    if sm["healthy"]:
        print(f"false alarms on healthy cases: {sm['false_alarms']}/{sm['healthy_judged']} "
              f"judged ({sm['healthy'] - sm['healthy_judged']} without a report)"
              + (f": {', '.join(sm['false_alarm_cases'])}" if sm["false_alarm_cases"] else ""))
    td = time_to_diagnosis(manifest, outcomes)
    if td["judged"]:
        slow = td["late"] + td["unknown"]
        print(f"time to diagnosis: {td['early']}/{td['judged']} root causes found in the top 3 "
              f"began within the first {EARLY_PERCENT}% of the planned epochs"
              + (f"; later or unknown: {', '.join(slow)}" if slow else ""))

    repair = "na"
    repair_rows: dict[str, bool] = {}
    if args.repair:
        todo = [n for n in names if cases[n]["repairable"]]
        with ThreadPoolExecutor(jobs) as pool:
            reps = list(pool.map(lambda n: run_script(n, args.timeout * 2, repair=True), todo))
        repair_rows = {n: repair_success(o) for n, o in zip(todo, reps, strict=True)}
        repair = f"{ratio(sum(repair_rows.values()), len(todo)):.2f}"
        print(f"repair: {sum(repair_rows.values())}/{len(todo)} repairable cases end healthy")

    dm = None
    folder_rows: dict[str, Any] = {}
    folder_alarms = [0, 0]
    if folders:
        from benchmarks.faults.folders import BENCH_FOLDERS, load_truth, make_folder

        per_folder: dict[str, dict[str, dict[str, int]]] = {}
        print(f"\n{'folder':22} {'status':10} {'sec':>5}  codes found (tp/truth/pred)")
        with tempfile.TemporaryDirectory(prefix="convergent-folders-") as tmp:
            for name in folders:
                root = Path(tmp) / name
                make_folder(root, **BENCH_FOLDERS[name])
                out = run_scan(name, root, args.timeout)
                doc = load_truth(root)
                counts = folder_counts(doc, out.findings if out.status == "ok" else [])
                per_folder[name] = counts
                alarms = out.alarms if not doc["ground_truth"] else []
                if not doc["ground_truth"] and out.status == "ok":
                    folder_alarms[0] += bool(alarms)
                    folder_alarms[1] += 1
                folder_rows[name] = {"status": out.status, "seconds": out.seconds,
                                     "counts": counts, "codes": out.codes,
                                     "healthy_alarms": alarms}
                desc = " ".join(f"{c.replace('DATA_', '')}={v['tp']}/{v['truth']}/{v['pred']}"
                                for c, v in counts.items()) or "-"
                if alarms:
                    desc += f"  FALSE ALARMS: {','.join(alarms)}"
                print(f"{name:22} {out.status:10} {out.seconds:5.1f}  {desc}")
        dm = data_metrics(per_folder)
        print(f"\n{'code (folders)':24} {'truth':>6} {'pred':>6} {'recall':>6} {'precision':>9}")
        for code, r in sorted(dm["per_code"].items()):
            print(f"{code:24} {r['truth']:6d} {r['pred']:6d} {ratio(r['tp'], r['truth']):6.2f} "
                  f"{ratio(r['tp'], r['pred']):9.2f}")

    seconds = time.perf_counter() - start
    line = summary_line(sm, dm, repair, seconds, (folder_alarms[0], folder_alarms[1]),
                        td["share"])
    if args.json:
        args.json.write_text(json.dumps({
            "summary": line, "scripts": {n: o.__dict__ for n, o in outcomes.items()},
            "script_metrics": sm, "time_to_diagnosis": td, "data_metrics": dm,
            "folders": folder_rows,
            "repair": repair_rows}, indent=1, default=str) + "\n", encoding="utf-8")
    print(line)
    return 0
