"""The repair loop: diagnose → apply the best remedy for the top finding → retrain → re-diagnose.

It stops when the run is healthy (no error or warning finding), when no finding has a
remedy left to try, or when the time budget is spent, and keeps the best model it trained.
A remedy that leaves a setting open (``remedies.transforms.SEARCH``: learning rate, batch
size, width, dropout) is tuned by a small Optuna study (TPE sampler, median pruning on the
per-epoch validation accuracy), in memory unless a ``storage`` URL (RDB such as
``sqlite:///repair.db`` or ``postgresql://…``, or a JournalStorage file) is given so that
many workers can share one study. The study's first trial is the remedy's own default
(e.g. the LR from the range test), so the search can only add to it.

A step is *kept* when it removes the finding it targeted without losing accuracy beyond
noise, or raises accuracy beyond noise; otherwise the recipe is rolled back and the next
remedy is tried. Every step is reported, kept or not.

Example:
    >>> result = repair(broken_recipe, data, budget_s=120)           # doctest: +SKIP
    >>> result.healthy, [s["remedy"] for s in result.steps]           # doctest: +SKIP
    (True, ['lower_lr'])
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from convergent.findings import Finding, Severity, rank
from convergent.remedies import transforms as T
from convergent.remedies.catalog import CATALOG
from convergent.trainer.data import Data
from convergent.trainer.diagnosis import diagnose_run
from convergent.trainer.lr_range import range_test
from convergent.trainer.recipe import Recipe, diff
from convergent.trainer.train import Trained, train

MAX_STEPS = 6
TRIALS = 4              # Optuna trials per searched remedy (the first is the default value)
# A step's accuracy change counts only beyond noise: 2 binomial standard errors of the
# validation accuracy (95%), at least half a point.
NOISE_Z = 2.0
MIN_NOISE = 0.005
LR_REMEDIES = {"lower_lr", "raise_lr", "lr_range_test", "adam"}
MAX_TRIES = 1           # each remedy is tried once per repair


@dataclass
class RepairResult:
    recipe: Recipe                      # the last kept recipe
    best: Trained                       # the best model trained (any step or trial)
    best_recipe: Recipe
    findings: list[Finding]             # of the last kept recipe
    healthy: bool
    steps: list[dict[str, Any]] = field(default_factory=list)
    diff: str = ""
    stopped: str = ""                   # healthy | no remedy left | budget | max steps
    seconds: float = 0.0

    def metrics(self) -> dict[str, Any]:
        return {"steps": self.steps, "diff": self.diff, "healthy": self.healthy,
                "stopped": self.stopped, "seconds": round(self.seconds, 1),
                "best_val_accuracy": round(self.best.val_accuracy, 4)}


def _state(t: Trained, findings: list[Finding]) -> dict[str, Any]:
    return {**t.summary(), "codes": [f.code.value for f in findings
                                     if f.severity is not Severity.INFO]}


def is_healthy(findings: list[Finding]) -> bool:
    return all(f.severity is Severity.INFO for f in findings)


def choose(findings: list[Finding], tried: dict[str, int]) -> tuple[Finding, str] | None:
    """The top (ranked) error/warning finding's first remedy that has a transform left."""
    for f in rank(findings):
        if f.severity is Severity.INFO:
            continue
        for r in f.remedies:
            if T.can_apply(r.id) and tried.get(r.id, 0) < MAX_TRIES:
                return f, r.id
    return None


def noise(acc: float, n: int) -> float:
    if n <= 0:
        return MIN_NOISE
    return max(MIN_NOISE, NOISE_Z * math.sqrt(max(acc * (1 - acc), 1e-4) / n))


def render_diff(before: Recipe, after: Recipe, remedies: list[str]) -> str:
    """A diff-like text: the settings that changed, then the code of each kept remedy."""
    lines = []
    for key, (a, b) in diff(before, after).items():
        lines += [f"- {key} = {a!r}", f"+ {key} = {b!r}"]
    for rid in remedies:
        lines.append(f"# {rid}: {CATALOG[rid].summary}")
        lines += [f"+ {ln}" for ln in CATALOG[rid].code.splitlines()]
    return "\n".join(lines)


class _Clock:
    def __init__(self, budget_s: float | None) -> None:
        self.t0 = time.perf_counter()
        self.budget = budget_s

    def left(self) -> float:
        return math.inf if self.budget is None else self.budget - (time.perf_counter() - self.t0)

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0


def repair(recipe: Recipe, data: Data, budget_s: float | None = 300.0, seed: int = 0,
           storage: str | None = None, max_steps: int = MAX_STEPS, trials: int = TRIALS,
           probes: bool = False, verbose: int = 0,
           on_step: Callable[[dict[str, Any]], None] | None = None) -> RepairResult:
    """Repair ``recipe`` on ``data`` within ``budget_s`` seconds.

    Args:
        recipe: the starting (possibly broken) Recipe.
        data: built with ``build_data`` for that recipe (rebuilt when a remedy changes
            the data settings).
        budget_s: total time budget (None: no limit, ``max_steps`` still applies).
        seed: seeds training, splits and the Optuna sampler.
        storage: Optuna storage URL for searched remedies (None: in memory).
        max_steps: most remedies to try.
        trials: Optuna trials per searched remedy (1: no search, the default value only).
        probes: also run ``convergent.diagnose`` probes at each diagnosis.
        verbose: Keras fit verbosity.
        on_step: called with each step's record as it finishes (progress display).

    Returns:
        A RepairResult; ``metrics()`` is the report's ``metrics["repair"]``.
    """
    clock = _Clock(budget_s)
    start = recipe
    images = data.images
    cur_data = data
    cur = train(recipe, data, budget_s=_cap(clock), seed=seed, verbose=verbose)
    findings, _ = diagnose_run(recipe, data, cur, probes=probes)
    best, best_recipe = cur, recipe
    steps: list[dict[str, Any]] = []
    tried: dict[str, int] = {}
    kept: list[str] = []
    stopped = "max steps"
    for _ in range(max_steps):
        if is_healthy(findings):
            stopped = "healthy"
            break
        pick = choose(findings, tried)
        if pick is None:
            stopped = "no remedy left"
            break
        if clock.left() <= 0:
            stopped = "budget"
            break
        finding, rid = pick
        tried[rid] = tried.get(rid, 0) + 1
        t_step = time.perf_counter()
        ctx = T.Context(finding)
        lr_info = None
        if rid in LR_REMEDIES:
            probe = T.apply(rid, recipe, ctx) if rid == "adam" else recipe
            lr_info = range_test(probe, cur_data, seed=seed)
            ctx = T.Context(finding, lr_suggested=lr_info["suggested"])
        cand = T.apply(rid, recipe, ctx)
        if cand == recipe:
            steps.append({"remedy": rid, "finding": finding.code.value, "kept": False,
                          "note": "no change to the recipe"})
            continue
        cand_data = _data_for(cand, recipe, cur_data, images, seed)
        search = None
        if rid in T.SEARCH and trials > 1 and clock.left() > 0:
            cand, after, search = _search(rid, recipe, cand, ctx, cand_data, clock, seed,
                                          storage, trials, verbose)
        else:
            after = train(cand, cand_data, budget_s=_cap(clock), seed=seed, verbose=verbose)
        after_findings, _ = diagnose_run(cand, cand_data, after, probes=probes)
        keep = _better(finding, cur, cur_data, after, after_findings)
        if not keep and rid not in LR_REMEDIES and clock.left() > 0:
            # the remedy changed the loss landscape (input scale, activations, ...): the old
            # LR may no longer fit it. Re-pick the LR from a range test before giving up.
            lr_info = range_test(cand, cand_data, seed=seed)
            if lr_info["suggested"]:
                cand2 = cand.with_(compile={"learning_rate": lr_info["suggested"]})
                after2 = train(cand2, cand_data, budget_s=_cap(clock), seed=seed,
                               verbose=verbose)
                f2, _ = diagnose_run(cand2, cand_data, after2, probes=probes)
                if after2.val_accuracy > after.val_accuracy:
                    cand, after, after_findings = cand2, after2, f2
                    keep = _better(finding, cur, cur_data, after, after_findings)
        step = {"remedy": rid, "finding": finding.code.value, "code": CATALOG[rid].code,
                "change": {k: list(v) for k, v in diff(recipe, cand).items()},
                "before": _state(cur, findings), "after": _state(after, after_findings),
                "history": after.history, "kept": keep,
                "seconds": round(time.perf_counter() - t_step, 2)}
        if lr_info is not None:
            step["lr_range"] = {"suggested": lr_info["suggested"]}
        if search is not None:
            step["search"] = search
        steps.append(step)
        if on_step is not None:
            on_step(step)
        if after.val_accuracy > best.val_accuracy:
            best, best_recipe = after, cand
        if keep:
            recipe, cur, findings, cur_data = cand, after, after_findings, cand_data
            kept.append(rid)
    else:
        stopped = "healthy" if is_healthy(findings) else "max steps"
    if stopped == "max steps" and clock.left() <= 0:
        stopped = "budget"
    return RepairResult(recipe, best, best_recipe, findings, is_healthy(findings), steps,
                        render_diff(start, recipe, kept), stopped, clock.elapsed())


def _better(finding: Finding, cur: Trained, cur_data: Data, after: Trained,
            after_findings: list[Finding]) -> bool:
    """Keep a step that removes its finding without losing accuracy, or gains accuracy."""
    tol = noise(cur.val_accuracy, len(cur_data.y_val))
    gone = finding.code not in {f.code for f in after_findings if f.severity is not Severity.INFO}
    return (gone and after.val_accuracy >= cur.val_accuracy - tol) or \
        after.val_accuracy > cur.val_accuracy + tol


def _cap(clock: _Clock) -> float | None:
    left = clock.left()
    return None if math.isinf(left) else max(1.0, left)


def _data_for(cand: Recipe, old: Recipe, data: Data, images: Any, seed: int) -> Data:
    """Rebuild the data when the remedy changed data settings or the batch size."""
    if cand.data == old.data and cand.fit.batch_size == old.fit.batch_size and \
            cand.compile.loss == old.compile.loss and cand.model.num_classes == \
            old.model.num_classes and cand.model.output_units == old.model.output_units:
        return data
    from convergent.trainer.data import build_data

    if images is not None:
        new = build_data(cand, images, seed=seed)
    elif cand.data.source:
        new = build_data(cand, seed=seed)
    else:
        new = build_data(cand, arrays=(data.x_train, data.y_train, data.x_val, data.y_val),
                         seed=seed)
    return new


def _search(rid: str, base: Recipe, default: Recipe, ctx: T.Context, data: Data,
            clock: _Clock, seed: int, storage: str | None, trials: int, verbose: int
            ) -> tuple[Recipe, Trained, dict[str, Any]]:
    """Tune the remedy's open setting with Optuna; trial 0 is the remedy's default."""
    import keras
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = T.SEARCH[rid](base, ctx)
    study = optuna.create_study(
        direction="maximize", storage=storage, load_if_exists=storage is not None,
        study_name=f"convergent-repair-{rid}-{seed}",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=2))
    default_value = _value_of(space.name, default)
    if space.kind != "choice" or default_value in space.choices:
        study.enqueue_trial({space.name: default_value})
    results: dict[int, tuple[Recipe, Trained]] = {}
    per_trial = clock.left() / trials if math.isfinite(clock.left()) else None

    def objective(trial: optuna.Trial) -> float:
        if space.kind == "log":
            v: Any = trial.suggest_float(space.name, space.low, space.high, log=True)
        elif space.kind == "float":
            v = trial.suggest_float(space.name, space.low, space.high)
        else:
            v = trial.suggest_categorical(space.name, list(space.choices))
        r = T.apply(rid, base, T.Context(ctx.finding, ctx.lr_suggested, v))
        d = _data_for(r, base, data, data.images, seed)

        class Prune(keras.callbacks.Callback):
            pruned = False

            def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
                acc = float((logs or {}).get("val_accuracy", 0.0))
                trial.report(acc if math.isfinite(acc) else 0.0, epoch)
                if trial.should_prune():
                    Prune.pruned = True
                    self.model.stop_training = True

        t = train(r, d, budget_s=per_trial, seed=seed, verbose=verbose, callbacks=[Prune()])
        results[trial.number] = (r, t)
        if Prune.pruned:
            raise optuna.TrialPruned()
        return t.val_accuracy

    def stop_when_out_of_time(study: optuna.Study, trial: Any) -> None:
        if clock.left() <= 0:
            study.stop()

    study.optimize(objective, n_trials=trials, callbacks=[stop_when_out_of_time],
                   catch=(ValueError,))
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if done:
        bt = max(done, key=lambda t: t.value)
        r, t = results[bt.number]
    else:  # every trial pruned: take the furthest-trained
        r, t = max(results.values(), key=lambda rt: rt[1].val_accuracy)
    summary = {"setting": space.name, "trials": len(study.trials),
               "pruned": sum(t_.state == optuna.trial.TrialState.PRUNED for t_ in study.trials),
               "values": [t_.params.get(space.name) for t_ in study.trials],
               "scores": [t_.value for t_ in study.trials], "chosen": _value_of(space.name, r),
               "storage": storage or "in-memory"}
    return r, t, summary


def _value_of(name: str, r: Recipe) -> Any:
    for part in (r.compile, r.fit, r.model, r.data):
        if hasattr(part, name):
            return getattr(part, name)
    raise KeyError(name)
