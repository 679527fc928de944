"""``convergent run --repair`` inside the user's process: diagnose → remedy → retrain → verify.

Called by the fit wrapper in :mod:`hook` instead of the plain fit when ``CONVERGENT_REPAIR``
is set. The user's fit runs once with the Monitor; while the findings show a problem, the
first finding with a run-time remedy (``convergent.remedies.runtime.apply``) is fixed, the
model restarts from its initial weights with a fresh optimizer, and trains again under a
new Monitor. Each step records the remedy, the code change, the metrics before/after, its
fit time and whether it ended healthy.

The loop does not stop at the first healthy fit when the last step gained beyond noise
(NOISE_Z) and a finding (info) still asks for the same remedy: it applies it once more. A
fit that was the best so far but that the Monitor's stop rule ended early is run again for
all its epochs ("full_fit"): a kept fit must be a whole fit. Every fit must fit in
TIME_FACTOR x one run of the script (start-up + its own fit), estimated from the last
fit's time per epoch; a remedy that raised the epochs past that is cut to what fits.

A healthy fit whose model lint still has an info finding with a run-time remedy (e.g.
MODEL_TOO_SMALL, "a linear classifier of the pixels") gets one "advice" step: that remedy is
tried once and keep-best decides (ADVICE_PREFIX).

Remedies that rebuild the model (a new output head, wider or fewer layers:
``remedies/architecture.py``) hand back a new Model; it is compiled with a fresh optimizer of
the same class and settings, and a later step starts it from its own starting weights. A
step that fixes several of the script's findings at once (``applied[i]["fixes"]``) drops
them all. A model that ``fit`` itself builds (subclassed, no input shape) has no initial
weights to go back to: its refits start from a fresh draw of its layers' initializers, and
the lint findings the hook makes after its first step join the script's findings.

The best fit is kept, not the last one: fits are ordered by :func:`_improved` (lower
validation loss, then lower training loss; between fits trained with different losses,
higher accuracy). When a later step made things worse, the kept
fit's weights (stored after every fit), its activations and dropout rates are put back, the
model is recompiled as it was for that fit when a later step recompiled it, and the user's
script gets that fit's History. ``record["repair"]["kept"]`` is the kept fit (0: the
script's own fit, i: after step i; the kept step also carries ``"kept": True``), and
``healthy``, ``remaining`` and ``code`` describe the kept fit.

Benchmark ablation (not a user feature): with ``CONVERGENT_REPAIR_SEARCH=random:SEED`` in
the environment of ``convergent run --repair``, each step applies one run-time remedy drawn
at random (seeded) from every remedy ``runtime.apply`` has a handler for, whatever the
findings say (the same knobs, with the handlers' own default values), instead of the top
finding's remedy; the same MAX_STEPS, stop rules, time rule and keep-best.
``benchmarks/perf/repair_vs_fixed.py`` compares the two. (``run.py`` sets
``CONVERGENT_REPAIR`` itself, so the mode has its own variable.)
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable
from typing import Any

import numpy as np

# Remedies tried per fit before giving up: each costs one full retraining.
MAX_STEPS = 4
# Issue 7: a repair may take 3x one training run of the script (start-up included). The
# loop plans its fits within 2x, leaving one run for what follows the last fit (findings,
# report) and for the error of estimating a fit from the last one: on this shared 2-core
# machine a fit took up to 2x its estimate under other sessions' load (measured while
# writing this, batch_size_1: 42 s for a 34 s estimate; RESULTS: one script 17-65 s).
TIME_FACTOR = 2.0
# "Gained beyond noise": accuracy up by more than one binomial standard error of the
# validation accuracy, sqrt(p(1-p)/n), the same 1/sqrt(n_val) epoch-to-epoch noise the
# curve checks allow for (training/curves.py, still_improving).
NOISE_Z = 1.0
# A healthy fit may still carry info findings of the model lint (e.g. MODEL_TOO_SMALL "a
# linear classifier of the pixels"): advice about the architecture that the curves cannot
# judge, because the fit learns, only less than it could. The loop tries one such remedy
# once, within the time rule, and keep-best decides by the fit it measures. Of the training
# curves' info findings, one gets a step of its own (:func:`_still_improving`: a loss still
# falling when the fit stopped gets one "longer" fit, after the advice step); the others
# are left to the "again" rule.
ADVICE_PREFIX = "MODEL_"
ENV_SEARCH = "CONVERGENT_REPAIR_SEARCH"
RANDOM_PREFIX = "random:"


def _score(monitor: Any) -> dict[str, float]:
    h = monitor.history
    out = {}
    for k in ("val_accuracy", "accuracy", "val_loss", "loss"):
        if h.get(k):
            out[k] = round(float(h[k][-1]), 4)
    return out


def _history(monitor: Any) -> dict[str, list[float]]:
    return {k: [round(float(v), 5) for v in vals] for k, vals in monitor.history.items()}


def _finite_or_inf(x: Any) -> float:
    try:
        x = float(x)
    except (TypeError, ValueError):  # missing, or "NaN" as a report writes it
        return math.inf
    return x if math.isfinite(x) else math.inf


def score_key(d: dict[str, Any]) -> tuple[float, float]:
    """Sort key of a fit's final metrics, best first: (val_loss, loss); NaN counts as worst."""
    return _finite_or_inf(d.get("val_loss")), _finite_or_inf(d.get("loss"))


def _improved(before: dict[str, float], after: dict[str, float],
              comparable: bool = True) -> bool:
    """Lower validation loss, or the same validation loss and a lower training loss.

    Two fits trained with different losses (a remedy changed it: MSE -> crossentropy)
    have losses on different scales: ``comparable=False`` compares their accuracy instead
    (validation, else training; higher is better), and falls back on the losses only when
    one of them has no accuracy."""
    if not comparable:
        a, b = _accuracy(after), _accuracy(before)
        if a is not None and b is not None:
            return a > b
    return score_key(after) < score_key(before)


def best_index(scores: list[dict[str, float]], losses: list[str] | None = None) -> int:
    """The first of the best fits by :func:`_improved` (a tie keeps the earlier fit);
    ``losses`` names each fit's loss (fits with different ones compare by accuracy)."""
    best = 0
    for i, s in enumerate(scores):
        same = losses is None or losses[best] == losses[i]
        if _improved(scores[best], s, comparable=same):
            best = i
    return best


def loss_id(compile_args: dict[str, Any] | None) -> str:
    """The compiled loss, as a name that tells two losses apart ("?" when unknown)."""
    loss = (compile_args or {}).get("loss")
    if loss is None:
        return "?"
    if isinstance(loss, str):
        name = loss
    else:
        name = str(getattr(loss, "name", None) or getattr(loss, "__name__", None)
                   or type(loss).__name__)
    cfg = loss.get_config() if hasattr(loss, "get_config") else {}
    return name + (" from_logits" if isinstance(cfg, dict) and cfg.get("from_logits") else "")


def search_seed(value: str | None = None) -> int | None:
    """The seed of the random-search ablation (``random:SEED``), or None for the repair."""
    value = os.environ.get(ENV_SEARCH, "") if value is None else value
    if not value.startswith(RANDOM_PREFIX):
        return None
    tail = value[len(RANDOM_PREFIX):].strip()
    return int(tail) if tail else 0


def _fresh_optimizer(compile_kwargs: dict[str, Any], old: Any) -> None:
    opt = compile_kwargs.get("optimizer")
    if opt is not None and opt is old:
        compile_kwargs["optimizer"] = type(opt).from_config(opt.get_config())


def _layer_state(model: Any) -> list[tuple[Any, dict[str, Any]]]:
    """What remedies change in place, per layer: activation, dropout rate, the weight
    penalties (the variables' regularizers and the layer's ``*_regularizer``)."""
    from convergent.remedies.runtime import _flat_layers

    out = []
    for ly in _flat_layers(model):
        state = {a: getattr(ly, a) for a in ("activation", "rate", "kernel_regularizer",
                                              "bias_regularizer") if hasattr(ly, a)}
        state["variables"] = [(v, v.regularizer) for v in getattr(ly, "weights", [])
                              if hasattr(v, "regularizer")]
        out.append((ly, state))
    return out


def _restore_layers(state: list[tuple[Any, dict[str, Any]]]) -> None:
    for ly, st in state:
        for attr, value in st.items():
            if attr == "variables":
                for v, reg in value:
                    v.regularizer = reg
            elif value is not None or attr.endswith("_regularizer"):
                setattr(ly, attr, value)


def _compile_args(model: Any) -> dict[str, Any] | None:
    """The arguments of the model's last ``compile`` (objects, not a serialized config:
    custom losses need not be serializable); None when it was never compiled."""
    cfg = getattr(model, "_compile_config", None)  # Keras 3 keeps them there
    return dict(cfg.config) if isinstance(getattr(cfg, "config", None), dict) else None


def _random_change(rng: random.Random, report: Any, model: Any,
                   fit_kwargs: dict[str, Any]) -> Any:
    """One run-time remedy drawn at random among all handlers (the ablation, module doc).

    Draws without replacement within the step until one applies; each handler gets a
    finding of a code its remedy addresses (one of the current findings' codes when it
    has one) and no evidence, so the values are the handlers' defaults.
    """
    from convergent.findings import Finding, Severity
    from convergent.remedies import runtime
    from convergent.remedies.catalog import CATALOG, remedy

    present = {f.code for f in report.findings}
    ids = sorted(runtime.HANDLERS)
    change = None
    for rid in rng.sample(ids, len(ids)):
        codes = CATALOG[rid].codes
        code = next((c for c in codes if c in present), codes[0])
        fake = Finding(code, Severity.WARNING, 1.0, "random search", "", {}, (remedy(rid),))
        change = runtime.apply([fake], model, {}, fit_kwargs)
        if change.changed:
            return change
    return change


def _flush() -> None:
    """Write the records now (the budget may stop the script before the fit ends)."""
    from convergent.training._inject import hook

    if hook._RECORDER is not None:
        hook._RECORDER.write()


def _process_start() -> float | None:
    """When the user's script started (the run's recorder is made at interpreter start-up);
    None outside ``convergent run`` (library use, tests): then no time rule applies."""
    from convergent.training._inject import hook

    rec = hook._RECORDER
    started = rec.data.get("started") if rec is not None else None
    return float(started) if isinstance(started, (int, float)) else None


def _epochs_ran(fit: dict[str, Any]) -> int:
    return max(1, len(fit["monitor_history"].get("loss") or []) or fit["planned"])


def _one_run(fits: list[dict[str, Any]], started: float) -> float:
    """Seconds of one run of the script as written: start-up, then its own fit scaled to
    the epochs it planned (run --repair cuts a hopeless first fit short)."""
    first = fits[0]
    planned = max(first["planned"], _epochs_ran(first))
    return (first["t0"] - started) + first["seconds"] * planned / _epochs_ran(first)


def _fit_estimate(fits: list[dict[str, Any]], epochs: int) -> float:
    """Seconds the next fit should take: the last fit's time per epoch times ``epochs``."""
    last = fits[-1]
    return last["seconds"] / _epochs_ran(last) * max(1, epochs)


def _time_left(fits: list[dict[str, Any]], started: float | None) -> float:
    """Seconds the loop may still spend (TIME_FACTOR x one run from the start)."""
    if started is None:
        return math.inf
    return TIME_FACTOR * _one_run(fits, started) - (time.time() - started)


def _fit_in_time(fits: list[dict[str, Any]], started: float | None,
                 fit_kwargs: dict[str, Any], before: int) -> str | None:
    """None when the next fit fits in the time left; when a remedy raised the epochs past
    it, the epochs are cut to what fits (at least ``before`` + 1) in ``fit_kwargs``;
    otherwise the reason to stop."""
    left = _time_left(fits, started)
    epochs = int(fit_kwargs.get("epochs", 1) or 1)
    if _fit_estimate(fits, epochs) <= left:
        return None
    per_epoch = _fit_estimate(fits, 1)
    fit = int(left // per_epoch) if per_epoch > 0 else epochs
    if epochs > before and fit > before:
        fit_kwargs["epochs"] = fit
        return None
    return (f"repair: stopped, the next fit (~{_fit_estimate(fits, epochs):.0f} s) does not "
            f"fit in the {max(0.0, left):.0f} s left of {TIME_FACTOR:g}x one run")


def _accuracy(score: dict[str, float]) -> float | None:
    for k in ("val_accuracy", "accuracy"):
        if isinstance(score.get(k), (int, float)) and math.isfinite(score[k]):
            return float(score[k])
    return None


def gained(before: dict[str, float], after: dict[str, float], n: int | None,
           comparable: bool = True) -> bool:
    """The accuracy rose by more than NOISE_Z binomial standard errors (n samples) and the
    fit is better by the keep-best order; without accuracy, by the keep-best order alone."""
    if not _improved(before, after, comparable):
        return False
    a, b = _accuracy(after), _accuracy(before)
    if a is None or b is None:
        return True
    noise = NOISE_Z * math.sqrt(max(a * (1 - a), 0.0) / n) if n else 0.0
    return a - b > noise


def _n_scored(record: dict[str, Any], fit_kwargs: dict[str, Any]) -> int | None:
    """Samples behind the accuracy the loop compares: validation, else training."""
    facts = record.get("facts") or {}
    for key in ("n_val", "n_train"):
        if isinstance(facts.get(key), int) and facts[key] > 0:
            return int(facts[key])
    return None


def _again(change_applied: list[dict[str, Any]], findings: list[Any]) -> tuple[list[Any], set[str]]:
    """The current findings (fresh evidence) and the skip list that make runtime.apply
    repeat the last step's remedy; no findings when none of them still asks for it."""
    rids = {a["remedy"] for a in change_applied}
    acted = [f for f in findings if {a["code"] for a in change_applied} & {f.code.value}
             and rids & {r.id for r in f.remedies}]
    skip = {r.id for f in acted for r in f.remedies} - rids
    return acted, skip


def repair_fit(original: Callable[..., Any], model: Any, arguments: dict[str, Any],
               record: dict[str, Any], make_callbacks: Callable[[], tuple[Any, list[Any]]],
               pre_findings: list[Any]) -> Any:
    """Fit, then remedy and refit up to MAX_STEPS times; keep and return the best fit.

    A step is one of: the top finding's remedy (while the fit is not healthy); the last
    step's remedy once more (a healthy fit whose last step gained beyond noise: it may
    gain again, e.g. a second decade of LR or more epochs); or the last fit again with its
    planned epochs (it was the best so far but the Monitor stopped it early, and a kept
    fit must be a whole fit). Every fit must fit in TIME_FACTOR x one run of the script.
    """
    from convergent.findings import Report
    from convergent.remedies import runtime

    seed = search_seed()
    rng = random.Random(seed) if seed is not None else None
    started = _process_start()
    initial = [w.copy() for w in model.get_weights()]
    built_by_fit = not initial  # subclassed, no input shape: fit builds it (hook._late_lint)
    user_callbacks = list(arguments.get("callbacks") or [])
    monitor, extra = make_callbacks()
    t0 = time.time()
    history = original(model, **{**arguments, "callbacks": user_callbacks + extra})
    seconds = time.time() - t0
    if built_by_fit:  # its first draw is gone: the refits start from a fresh one
        initial = fresh_weights(model)
    pre_findings = list(pre_findings) + _late_findings(record, pre_findings)
    record["monitor_before_repair"] = monitor.report().to_dict()
    fixed: set[str] = set()
    tried: set[str] = set()
    steps: list[dict[str, Any]] = []
    current, fit_kwargs = model, {**arguments, "callbacks": user_callbacks}
    report = Report(list(pre_findings) + monitor.report().findings)
    record["monitor"] = monitor.report().to_dict()
    n_scored = _n_scored(record, arguments)
    # one entry per fit (0: the script's own); what keep-best needs to go back to it
    fits = [{"model": model, "weights": model.get_weights(), "layers": _layer_state(model),
             "compile": _compile_args(model), "history": history, "report": report,
             "monitor": record["monitor"], "score": _score(monitor),
             "seconds": round(seconds, 3), "t0": t0,
             "monitor_history": dict(monitor.history),
             "planned": int(arguments.get("epochs", 1) or 1)}]
    fits[0]["loss_id"] = loss_id(fits[0]["compile"])
    start_weights: list[Any] | None = None  # the weights the last fit started from
    last_change: Any = None       # the last step's RuntimeChange (None: none yet / a rerun)
    finish: dict[str, Any] | None = None  # the last fit, to run again without the stop rule
    advised = False               # the one "advice" step was taken
    lengthened = False            # the one "longer" step was taken
    for _ in range(MAX_STEPS):
        before = _score(monitor)
        epochs_before = int(fit_kwargs.get("epochs", 1) or 1)
        kind = "remedy"
        if finish is not None:
            kind, change = "full_fit", None
        elif report.healthy:
            # healthy; go on only while the last step gained beyond noise and a finding
            # (an info one: the fit is healthy) still asks for the same remedy; else try
            # the model lint's architecture advice once (ADVICE_PREFIX)
            if last_change is not None and gained(steps[-1]["before"], steps[-1]["after"],
                                                  n_scored, _same_loss(fits, -2, -1)) \
                    and _again(last_change.applied, report.findings)[0]:
                kind = "again"
            elif not advised and _advice(report.findings, tried):
                kind, advised = "advice", True
            elif not lengthened and _still_improving(report.findings):
                kind, lengthened = "longer", True
            else:
                break
        if kind == "full_fit":
            current.set_weights(finish["start_weights"])
            ck = dict(_compile_args(current) or {})
            _fresh_optimizer(ck, ck.get("optimizer"))
            applied, code, what = [], "", (
                f"the same settings for all {epochs_before} epochs (the Monitor had stopped "
                f"the fit at epoch {finish['stopped'].get('epoch')} on "
                f"{finish['stopped'].get('code')})")
        else:
            model.set_weights(initial)
            if current is not model and start_weights is not None:
                current.set_weights(start_weights)  # a rebuilt model: back to its own start
            old_opt = getattr(current, "optimizer", None)
            if rng is not None:
                change = _random_change(rng, report, current, fit_kwargs)
            elif kind == "again":
                acted, skip = _again(last_change.applied, report.findings)
                change = runtime.apply(acted, current, {}, fit_kwargs, skip=skip)
            elif kind == "advice":
                change = runtime.apply(_advice(report.findings, tried), current, {},
                                       fit_kwargs, skip=tried)
            elif kind != "longer":
                change = runtime.apply(report.findings, current, {}, fit_kwargs, skip=tried)
            if rng is None and kind == "again" and not change.changed and not lengthened \
                    and _still_improving(report.findings):
                kind, lengthened = "longer", True  # the last remedy has nothing more to give
            if rng is None and kind == "longer":
                change = runtime.apply(_still_improving(report.findings), current, {},
                                       fit_kwargs, skip=tried - {"more_epochs"})
            if change is None or not change.changed:
                if kind == "remedy":
                    record.setdefault("notes", []).append(
                        "repair: no run-time remedy applies to the remaining findings "
                        f"{report.codes}; skipped: {change.skipped if change else []}")
                break
            ck = dict(change.compile_kwargs)
            _fresh_optimizer(ck, old_opt)
            applied, code = change.applied, change.code
            what = "; ".join(str(a.get("change", "")) for a in applied)
        new_kwargs = fit_kwargs if change is None else {
            **change.fit_kwargs, "callbacks": list(change.fit_kwargs.get("callbacks") or [])}
        left = _time_left(fits, started)
        late = _fit_in_time(fits, started, new_kwargs, epochs_before)
        if late is not None:
            record.setdefault("notes", []).append(late)
            break
        if change is not None:
            tried |= {a["remedy"] for a in applied}
            fixed |= {a["code"] for a in applied} | {c for a in applied
                                                      for c in a.get("fixes", ())}
            current = change.model
            if new_kwargs.get("epochs") != change.fit_kwargs.get("epochs"):
                what += f" (epochs cut to {new_kwargs['epochs']} to fit the time)"
                code = code.replace(f"epochs={change.fit_kwargs.get('epochs')}",
                                    f"epochs={new_kwargs['epochs']}")
        fit_kwargs = new_kwargs
        _sync_facts(record, fit_kwargs)
        current.compile(**ck)
        start_weights = current.get_weights()
        monitor, extra = make_callbacks()
        if kind == "full_fit" and hasattr(monitor, "stop_on"):
            monitor.stop_on = ()
        t0 = time.time()
        history = original(current, **{**fit_kwargs,
                                       "callbacks": fit_kwargs["callbacks"] + extra})
        seconds = time.time() - t0
        remaining = [f for f in pre_findings if f.code.value not in fixed]
        report = Report(remaining + monitor.report().findings)
        record["monitor"] = monitor.report().to_dict()
        after = _score(monitor)
        compiled = _compile_args(current)
        same = loss_id(compiled) == fits[-1]["loss_id"]
        if rng is None and kind == "remedy" and _improved(before, after, same):
            # a remedy that helped may help again (e.g. lower the LR once more)
            tried -= {a["remedy"] for a in applied
                      if a["code"] in {f.code.value for f in report.findings}}
        fits.append({"model": current, "weights": current.get_weights(),
                     "layers": _layer_state(current), "compile": compiled,
                     "loss_id": loss_id(compiled),
                     "history": history, "report": report, "monitor": record["monitor"],
                     "score": after, "seconds": round(seconds, 3), "t0": t0,
                     "monitor_history": dict(monitor.history),
                     "planned": int(fit_kwargs.get("epochs", 1) or 1)})
        step = {
            "remedy": "full_fit" if kind == "full_fit" else ", ".join(
                a["remedy"] for a in applied),
            "for": sorted({a["code"] for a in applied}),
            "change": what, "code": code, "before": before, "after": after,
            "findings_after": report.codes, "healthy": report.healthy,
            "history": _history(monitor), "seconds": fits[-1]["seconds"],
            "ended": round(time.time(), 3),
        }
        if math.isfinite(left):  # the time rule: seconds left before this fit, its estimate
            step["time_left"] = round(left, 1)
            step["estimate"] = round(_fit_estimate(fits[:-1], fit_kwargs.get("epochs", 1)), 1)
        if kind != "remedy":
            # "again": after a healthy fit; "advice": an info lint finding's remedy after a
            # healthy fit; "longer": more epochs for a healthy fit still improving;
            # "full_fit": a rerun
            step["step"] = kind
        if rng is not None:
            step["search"] = f"{RANDOM_PREFIX}{seed}"
        steps.append(step)
        stopped = getattr(monitor, "stopped", None)
        best = _best(fits)
        p = _best(fits[:-1])
        finish = {"start_weights": start_weights, "stopped": stopped} \
            if kind != "full_fit" and stopped and best == len(fits) - 1 \
            and gained(fits[p]["score"], after, n_scored, _same_loss(fits, p, -1)) else None
        if kind != "full_fit":
            last_change = change
        _publish(record, steps, fits, best)
        _flush()
        if kind in ("again", "advice", "longer") and best != len(fits) - 1:
            break  # going on from a healthy fit made it worse: the healthy one is kept
    kept = _best(fits)
    # always: a step that stopped before its fit (no remedy left, out of time) has already
    # reset the weights and may have changed layers in place
    _restore(fits, kept, record)
    record["monitor"] = fits[kept]["monitor"]
    _publish(record, steps, fits, kept)
    return fits[kept]["history"]


def _sync_facts(record: dict[str, Any], fit_kwargs: dict[str, Any]) -> None:
    """The run facts the next Monitor copies, for this fit's callbacks: a remedy may have
    replaced the EarlyStopping (its mode), and the curve checks read it from the facts."""
    from convergent.training._inject.hook import early_stopping_facts

    facts = record.get("facts")
    if not isinstance(facts, dict):
        return
    es = early_stopping_facts(fit_kwargs.get("callbacks"))
    if es:
        facts["early_stopping"] = es
    else:
        facts.pop("early_stopping", None)


def _still_improving(findings: list[Any]) -> list[Any]:
    """The info finding of curves.still_improving (a loss still falling when the fit
    stopped: its evidence has the falling fraction) when more epochs can be applied: the
    healthy fit it is on gets one "longer" fit, the same run with more epochs (that
    finding's own remedy) cut to what the time rule allows; keep-best decides."""
    from convergent.findings import Code, Severity
    from convergent.remedies import runtime

    return [f for f in findings if f.code is Code.TRAIN_UNDERFITTING
            and f.severity is Severity.INFO and "falling_fraction" in (f.evidence or {})
            and any(r.id == "more_epochs" and runtime.can_apply(r.id) for r in f.remedies)]


def _advice(findings: list[Any], tried: set[str]) -> list[Any]:
    """The info findings about the model (ADVICE_PREFIX codes) that have a run-time remedy
    not tried yet: the "advice" step of a healthy fit acts on them."""
    from convergent.findings import Severity
    from convergent.remedies import runtime

    return [f for f in findings if f.severity is Severity.INFO
            and f.code.value.startswith(ADVICE_PREFIX)
            and any(runtime.can_apply(r.id) and r.id not in tried for r in f.remedies)]


def _late_findings(record: dict[str, Any], pre_findings: list[Any]) -> list[Any]:
    """The lint findings of a model that fit built (the hook lints it after the first
    training step and appends them to ``record["pre_fit"]``), not yet in ``pre_findings``."""
    from convergent.findings import Finding

    known = {f.code for f in pre_findings}
    out = []
    for d in record.get("pre_fit") or []:
        try:
            f = Finding.from_dict(d)
        except (KeyError, TypeError, ValueError):
            continue
        if f.code not in known:
            known.add(f.code)
            out.append(f)
    return out


def _best(fits: list[dict[str, Any]]) -> int:
    return best_index([f["score"] for f in fits], [f["loss_id"] for f in fits])


def _same_loss(fits: list[dict[str, Any]], i: int, j: int) -> bool:
    return len(fits) < 2 or fits[i]["loss_id"] == fits[j]["loss_id"]


def fresh_weights(model: Any) -> list[Any]:
    """``model.get_weights()`` redrawn from each layer's own initializers (``kernel`` from
    ``kernel_initializer``, ...); a weight with no initializer attribute keeps its value.
    For a model whose first draw was not kept (fit built it)."""
    from convergent.remedies.runtime import _flat_layers

    owner = {}
    for ly in _flat_layers(model):
        for v in getattr(ly, "weights", []):
            owner.setdefault(id(v), ly)
    out = []
    for v in model.weights:
        init = getattr(owner.get(id(v)), f"{v.name}_initializer", None)
        value = init(tuple(v.shape), dtype=v.dtype) if callable(init) else v
        out.append(np.asarray(value, dtype=np.asarray(v).dtype).copy())
    return out


def _restore(fits: list[dict[str, Any]], kept: int, record: dict[str, Any]) -> None:
    """Put the kept fit's layers, weights and compile settings back on its model."""
    best = fits[kept]
    _restore_layers(best["layers"])
    best["model"].set_weights(best["weights"])
    recompiled_later = any(f["model"] is best["model"] for f in fits[kept + 1:])
    if recompiled_later and best["compile"] is not None:
        args = dict(best["compile"])
        opt = args.get("optimizer")
        if hasattr(opt, "get_config"):  # built for the old variables: a fresh copy
            args["optimizer"] = type(opt).from_config(opt.get_config())
        try:
            best["model"].compile(**args)
        except Exception as e:  # noqa: BLE001 - the weights are back; say what is not
            record.setdefault("notes", []).append(
                f"repair: kept fit {kept} restored, but recompiling it failed "
                f"({type(e).__name__}: {e}); the model keeps the last step's compile")


def _publish(record: dict[str, Any], steps: list[dict[str, Any]],
             fits: list[dict[str, Any]], kept: int) -> None:
    """record["repair"] for the fit kept so far (the report reads steps, healthy, ...)."""
    for i, st in enumerate(steps, start=1):
        st["kept"] = i == kept
    # record["pre_fit"] keeps the findings of the script as written: the report explains
    # those; what is left after the kept fit goes in "remaining"
    report = fits[kept]["report"]
    record["repair"] = {"steps": steps, "kept": kept, "healthy": report.healthy,
                        "score": fits[kept]["score"], "first_fit_seconds": fits[0]["seconds"],
                        "remaining": [f.to_dict() for f in report.findings],
                        "code": "\n".join(s["code"] for s in steps[:kept] if s["code"])}
