"""``convergent run --repair`` vs the hand-fixed script, and vs a random search (issues 7, 9).

Every fault case with a ``fixed.py`` beside its ``train.py`` (the same script with the
fault fixed the way a competent person would: minimal edit, same data) is run four times,
one after the other, each through ``convergent run --json`` in a neutral temporary folder
(:func:`benchmarks.faults.scorer.run_script`):

1. ``train.py`` plainly: wall time ``T`` (the cost of one training run of the script as
   written, start-up included) and its final ``val_accuracy``;
2. ``fixed.py`` plainly: the hand-fixed ``val_accuracy``;
3. ``train.py`` with ``--repair``: the kept fit's ``val_accuracy`` (the repair keeps the
   best fit, see ``convergent.training._inject.repair``), whether it ended healthy, and its
   wall time ``R``;
4. ``train.py`` with ``--repair`` and ``CONVERGENT_REPAIR_SEARCH=random:SEED``: each step
   applies one run-time remedy drawn at random from all of them (the same knobs), the same
   MAX_STEPS, stop and time rules, under ``--budget`` of ``R``; only the steps that finished
   within ``R`` of its start count (each step records when it ended), and of those the
   best by the repair's own ordering is the random search's result. A second count
   (``random_st``) removes the start-up and first fit, which both runs share but whose
   time varies on a busy machine: a random step counts when it ended within the repair's
   own step time (first step's start to last step's end) of the random's first step's
   start. The random run's ``--budget`` is ``R`` + STEP_SLACK so this count can see the
   steps a slower start-up pushed past ``R``. Each case gets its
   own seed (:func:`case_seed` of ``--seed`` and the case name), so the cases do not all
   draw the same sequence of remedies.

Accuracy is ``val_accuracy`` (``accuracy`` for a script without validation). Per case:
``within_2pts`` = repair accuracy >= hand-fixed accuracy - 0.02 (issue 7's target: in
>= 90% of cases), ``time_ratio`` = R / T (target <= 3), and for both searches
``reaches_fixed`` (the same 2-point test) and ``healthy``; ``plain_within_2pts`` counts
the cases where the script as written is already within 2 points (nothing to win there).
One table row per case, then::

    repair_vs_fixed cases=N within_2pts=K/N plain_within_2pts=K/N time_ratio_median=..
        time_ratio_le3=K/N repair_healthy=K/N random_healthy=K/N repair_reaches_fixed=K/N
        random_reaches_fixed=K/N random_st_healthy=K/N random_st_reaches_fixed=K/N
        seconds=..

(``repair_reaches_fixed`` is ``within_2pts``, repeated beside the random search's count.)

    .venv/bin/python benchmarks/perf/repair_vs_fixed.py [--cases a,b] [--seed 0] [--json OUT]
    .venv/bin/python benchmarks/perf/repair_vs_fixed.py --table-from OUT   # re-print a run
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import zlib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.faults.scorer import CASES_DIR, Outcome, load_manifest, run_script
from convergent.training._inject.repair import ENV_SEARCH, best_index

# Issue 7: "ends within 2 accuracy points of the hand-fixed script ... in <= 3x the wall
# time of one training run of that script".
WITHIN = 0.02
TIME_RATIO = 3.0
# Per run: plain scripts take 10-40 s here, a repair up to 5 fits (MAX_STEPS + 1).
TIMEOUT = 600.0
# Extra seconds the random run may take past R, for the step-time count (module doc): about
# the spread of one script's start-up + first fit measured here under load (17-65 s runs).
STEP_SLACK = 30.0
FAMILIES = ("DATA", "MODEL", "TRAIN")


@dataclass
class Row:
    """One case's measurements (None: the run gave no number)."""

    name: str
    root: str
    plain_s: float | None = None
    plain_acc: float | None = None
    fixed_acc: float | None = None
    repair_acc: float | None = None
    repair_s: float | None = None
    repair_healthy: bool = False
    repair_kept: int | None = None
    repair_remedies: list[str] = field(default_factory=list)
    repair_remaining: list[str] = field(default_factory=list)
    random_seed: int | None = None
    random_acc: float | None = None
    random_healthy: bool = False
    random_steps: int = 0
    random_steps_run: int = 0
    random_step_s: list[float] = field(default_factory=list)
    repair_step_span: float | None = None
    random_st_acc: float | None = None
    random_st_healthy: bool = False
    random_st_steps: int = 0
    random_remedies: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def family(self) -> str:
        return self.root.split("_", 1)[0]

    @property
    def within(self) -> bool:
        return reaches(self.repair_acc, self.fixed_acc)

    @property
    def plain_within(self) -> bool:
        """The script as written is already within 2 points (nothing to win)."""
        return reaches(self.plain_acc, self.fixed_acc)

    @property
    def random_within(self) -> bool:
        return reaches(self.random_acc, self.fixed_acc)

    @property
    def random_st_within(self) -> bool:
        return reaches(self.random_st_acc, self.fixed_acc)

    @property
    def time_ratio(self) -> float | None:
        if self.repair_s is None or not self.plain_s:
            return None
        return self.repair_s / self.plain_s


# ---------------------------------------------------------------- pure scoring


def accuracy(score: dict[str, Any] | None) -> float | None:
    """val_accuracy of a fit's final metrics, else accuracy, else None."""
    if not score:
        return None
    for key in ("val_accuracy", "accuracy"):
        v = score.get(key)
        if isinstance(v, (int, float)):
            return float(v)
    return None


def final_accuracy(metrics: dict[str, Any]) -> float | None:
    """The script's own last fit: last epoch of the report's history."""
    hist = metrics.get("history") or {}
    return accuracy({k: v[-1] for k, v in hist.items() if isinstance(v, list) and v})


def _scores(metrics: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(score of every fit: the script's own first, then one per step; the steps)."""
    steps = list((metrics.get("repair") or {}).get("steps") or [])
    first = steps[0].get("before") if steps else None
    if first is None:
        hist = metrics.get("history") or {}
        first = {k: v[-1] for k, v in hist.items() if isinstance(v, list) and v}
    return [first] + [s.get("after") or {} for s in steps], steps


def repair_result(metrics: dict[str, Any]) -> tuple[float | None, bool, int]:
    """(accuracy of the kept fit, healthy, kept index) of a ``run --repair`` report."""
    rep = metrics.get("repair") or {}
    scores, steps = _scores(metrics)
    kept = next((i for i, s in enumerate(steps, start=1) if s.get("kept")), 0)
    return accuracy(scores[kept]), bool(rep.get("healthy", not steps)), kept


def within_budget(metrics: dict[str, Any], start: float, budget: float
                  ) -> tuple[float | None, bool, int]:
    """(accuracy of the best fit, healthy, steps counted) when only the steps that ended
    within ``budget`` seconds of ``start`` count; the script's own fit always counts."""
    scores, steps = _scores(metrics)
    done = [s for s in steps if float(s.get("ended", float("inf"))) - start <= budget]
    pool = scores[: len(done) + 1]
    best = best_index(pool)
    if best:  # as for the repair: the health of the fit kept
        healthy = bool(done[best - 1].get("healthy"))
    else:  # the script's own fit: healthy only when no step was needed
        healthy = not steps and bool((metrics.get("repair") or {}).get("healthy"))
    return accuracy(pool[best]), healthy, len(done)


def case_seed(name: str, seed: int) -> int:
    """The random search's seed for one case: stable across runs, different per case."""
    return zlib.crc32(f"{seed}:{name}".encode())


def step_span(metrics: dict[str, Any]) -> tuple[float | None, float]:
    """(start of the first step, seconds from it to the end of the last step)."""
    steps = list((metrics.get("repair") or {}).get("steps") or [])
    if not steps or "ended" not in steps[0]:
        return None, 0.0
    start = float(steps[0]["ended"]) - float(steps[0].get("seconds", 0.0))
    return start, float(steps[-1]["ended"]) - start


def reaches(acc: float | None, fixed: float | None) -> bool:
    """Within WITHIN of the hand-fixed accuracy (or above it)."""
    return acc is not None and fixed is not None and acc >= fixed - WITHIN


def summary_line(rows: list[Row], seconds: float) -> str:
    n = len(rows)
    ratios = [r.time_ratio for r in rows if r.time_ratio is not None]
    median = f"{statistics.median(ratios):.2f}" if ratios else "na"

    def count(flag: str) -> str:
        return f"{sum(bool(getattr(r, flag)) for r in rows)}/{n}"

    le3 = sum(1 for x in ratios if x <= TIME_RATIO)
    return (f"repair_vs_fixed cases={n} within_2pts={count('within')} "
            f"plain_within_2pts={count('plain_within')} "
            f"time_ratio_median={median} time_ratio_le3={le3}/{n} "
            f"repair_healthy={count('repair_healthy')} "
            f"random_healthy={count('random_healthy')} "
            f"repair_reaches_fixed={count('within')} "
            f"random_reaches_fixed={count('random_within')} "
            f"random_st_healthy={count('random_st_healthy')} "
            f"random_st_reaches_fixed={count('random_st_within')} seconds={seconds:.0f}")


def _fmt(v: float | None, spec: str = ".3f") -> str:
    return "-" if v is None else format(v, spec)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def table(rows: list[Row]) -> str:
    head = (f"{'case':26} {'fam':5} {'T_s':>5} {'plain':>6} {'fixed':>6} {'repair':>6} "
            f"{'w2':>3} {'kept':>4} {'R_s':>5} {'R/T':>5} {'r_ok':>4} {'random':>6} "
            f"{'w2':>3} {'steps':>5} {'x_ok':>4} {'rnd_st':>6} {'w2':>3} {'st':>3} "
            f"{'ok':>3}  repair remedies | random remedies")
    lines = [head]
    for r in rows:
        lines.append(
            f"{r.name:26} {r.family:5} {_fmt(r.plain_s, '.0f'):>5} {_fmt(r.plain_acc):>6} "
            f"{_fmt(r.fixed_acc):>6} {_fmt(r.repair_acc):>6} {_yes(r.within):>3} "
            f"{'-' if r.repair_kept is None else r.repair_kept:>4} "
            f"{_fmt(r.repair_s, '.0f'):>5} {_fmt(r.time_ratio, '.2f'):>5} "
            f"{_yes(r.repair_healthy):>4} {_fmt(r.random_acc):>6} {_yes(r.random_within):>3} "
            f"{f'{r.random_steps}/{r.random_steps_run}':>5} "
            f"{_yes(r.random_healthy):>4} {_fmt(r.random_st_acc):>6} "
            f"{_yes(r.random_st_within):>3} {r.random_st_steps:>3} "
            f"{_yes(r.random_st_healthy):>3}  "
            f"{','.join(r.repair_remedies) or '-'} | {','.join(r.random_remedies) or '-'}")
    return "\n".join(lines)


# ---------------------------------------------------------------- running


def fixed_cases() -> list[str]:
    """Cases that have a hand-fixed script."""
    return sorted(p.parent.name for p in CASES_DIR.glob("*/fixed.py")
                  if (p.parent / "train.py").exists())


def _ok(out: Outcome, row: Row, what: str) -> bool:
    if out.status != "ok":
        row.notes.append(f"{what}: {out.status} {out.message}".strip())
        return False
    return True


def measure(name: str, root: str, seed: int, log: Any = print) -> Row:
    row = Row(name, root, random_seed=case_seed(name, seed))
    plain = run_script(name, TIMEOUT)
    if _ok(plain, row, "plain"):
        row.plain_s, row.plain_acc = plain.seconds, final_accuracy(plain.metrics)
    log(f"  {name} plain {plain.seconds:.0f}s acc={_fmt(row.plain_acc)}")
    fixed = run_script(name, TIMEOUT, script="fixed.py")
    if _ok(fixed, row, "fixed"):
        row.fixed_acc = final_accuracy(fixed.metrics)
    log(f"  {name} fixed {fixed.seconds:.0f}s acc={_fmt(row.fixed_acc)}")
    rep = run_script(name, TIMEOUT, repair=True)
    if _ok(rep, row, "repair"):
        row.repair_s = rep.seconds
        row.repair_acc, row.repair_healthy, row.repair_kept = repair_result(rep.metrics)
        row.repair_remedies = [s.get("remedy", "?") for s in
                               (rep.metrics.get("repair") or {}).get("steps", [])]
        row.repair_remaining = list((rep.metrics.get("repair") or {}).get("remaining", []))
        row.repair_step_span = step_span(rep.metrics)[1]
    log(f"  {name} repair {rep.seconds:.0f}s acc={_fmt(row.repair_acc)} "
        f"healthy={row.repair_healthy} kept={row.repair_kept} {row.repair_remedies} "
        f"remaining={row.repair_remaining}")
    if row.repair_s is None:
        row.notes.append("random: not run (no repair time to match)")
        return row
    # the budget stops the script a little after R; only steps ended within R count
    start = time.time()
    rnd = run_script(name, TIMEOUT, repair=True,
                     env={ENV_SEARCH: f"random:{case_seed(name, seed)}"},
                     budget=row.repair_s + STEP_SLACK)
    steps = (rnd.metrics.get("repair") or {}).get("steps", []) if rnd.metrics else []
    if _ok(rnd, row, "random"):
        row.random_acc, row.random_healthy, row.random_steps = within_budget(
            rnd.metrics, start, row.repair_s)
        row.random_steps_run = len(steps)
        row.random_step_s = [float(s.get("seconds", 0.0)) for s in steps]
        row.random_remedies = [s.get("remedy", "?") for s in steps]
        first, _ = step_span(rnd.metrics)
        if first is not None:
            row.random_st_acc, row.random_st_healthy, row.random_st_steps = within_budget(
                rnd.metrics, first, row.repair_step_span or 0.0)
        else:  # no step: the script's own fit, as in the wall-time count
            row.random_st_acc, row.random_st_healthy = row.random_acc, row.random_healthy
    log(f"  {name} random {rnd.seconds:.0f}s acc={_fmt(row.random_acc)} "
        f"healthy={row.random_healthy} steps={row.random_steps}/{row.random_steps_run} "
        f"{row.random_remedies} step-time: acc={_fmt(row.random_st_acc)} "
        f"steps={row.random_st_steps} healthy={row.random_st_healthy}")
    return row


def report(rows: list[Row], seconds: float) -> None:
    print(table(rows))
    for r in rows:
        for note in r.notes:
            print(f"note {r.name}: {note}")
    fams = {f: sum(r.family == f for r in rows) for f in FAMILIES}
    print("families " + " ".join(f"{f}={n}" for f, n in fams.items()))
    print(summary_line(rows, seconds))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", help="comma-separated case names (default: every fixed.py)")
    ap.add_argument("--seed", type=int, default=0,
                    help="seed of the random search (mixed with each case's name)")
    ap.add_argument("--jobs", type=int, default=1,
                    help="only 1: runs are timed, so they never share the CPU")
    ap.add_argument("--json", type=Path, help="write every row here")
    ap.add_argument("--table-from", type=Path,
                    help="print the table and summary of a saved --json run; run nothing")
    args = ap.parse_args(argv)
    if args.table_from:
        doc = json.loads(args.table_from.read_text(encoding="utf-8"))
        names = {f.name for f in fields(Row)}
        saved = [Row(**{k: v for k, v in r.items() if k in names}) for r in doc["rows"]]
        seconds = float(doc["summary"].rsplit("seconds=", 1)[1])
        report(saved, seconds)
        return 0
    if args.jobs != 1:
        raise SystemExit("--jobs must be 1: the wall times are the measurement")
    manifest = load_manifest()["cases"]
    names = [n.strip() for n in args.cases.split(",")] if args.cases else fixed_cases()
    missing = [n for n in names if not (CASES_DIR / n / "fixed.py").exists()]
    if missing:
        raise SystemExit(f"no fixed.py for: {', '.join(missing)}")
    t0 = time.perf_counter()
    rows = []
    for i, name in enumerate(names, start=1):
        print(f"[{i}/{len(names)}] {name}", file=sys.stderr, flush=True)
        try:
            rows.append(measure(name, manifest[name]["root"] or "", args.seed,
                                log=lambda s: print(s, file=sys.stderr, flush=True)))
        except Exception as e:  # noqa: BLE001 - one broken case must not stop the run
            rows.append(Row(name, manifest[name]["root"] or "",
                            notes=[f"benchmark: {type(e).__name__}: {e}"]))
    seconds = time.perf_counter() - t0
    report(rows, seconds)
    if args.json:
        args.json.write_text(json.dumps(
            {"rows": [dict(asdict(r), within=r.within, time_ratio=r.time_ratio,
                           random_within=r.random_within,
                           random_st_within=r.random_st_within) for r in rows],
             "summary": summary_line(rows, seconds)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
