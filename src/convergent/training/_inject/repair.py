"""``convergent run --repair`` inside the user's process: diagnose → remedy → retrain → verify.

Called by the fit wrapper in :mod:`hook` instead of the plain fit when ``CONVERGENT_REPAIR``
is set. The user's fit runs once with the Monitor; while the findings show a problem, the
first finding with a run-time remedy (``convergent.remedies.runtime.apply``) is fixed, the
model restarts from its initial weights with a fresh optimizer, and trains again under a
new Monitor. Each step records the remedy, the code change, the metrics before/after, its
fit time and whether it ended healthy.

The best fit is kept, not the last one: fits are ordered by :func:`_improved` (lower
validation loss, then lower training loss). When a later step made things worse, the kept
fit's weights (stored after every fit), its activations and dropout rates are put back, the
model is recompiled as it was for that fit when a later step recompiled it, and the user's
script gets that fit's History. ``record["repair"]["kept"]`` is the kept fit (0: the
script's own fit, i: after step i; the kept step also carries ``"kept": True``), and
``healthy``, ``remaining`` and ``code`` describe the kept fit.

Benchmark ablation (not a user feature): with ``CONVERGENT_REPAIR_SEARCH=random:SEED`` in
the environment of ``convergent run --repair``, each step applies one run-time remedy drawn
at random (seeded) from every remedy ``runtime.apply`` has a handler for, whatever the
findings say (the same knobs, with the handlers' own default values), instead of the top
finding's remedy; the same MAX_STEPS, the same stop rule (healthy) and the same keep-best.
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

# Remedies tried per fit before giving up: each costs one full retraining.
MAX_STEPS = 4
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


def _improved(before: dict[str, float], after: dict[str, float]) -> bool:
    """Lower validation loss, or the same validation loss and a lower training loss."""
    return score_key(after) < score_key(before)


def best_index(scores: list[dict[str, float]]) -> int:
    """The first of the best fits by :func:`_improved` (a tie keeps the earlier fit)."""
    best = 0
    for i, s in enumerate(scores):
        if _improved(scores[best], s):
            best = i
    return best


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


def _layer_state(model: Any) -> list[tuple[Any, Any, Any]]:
    """(layer, activation, dropout rate) of every layer: what remedies change in place."""
    from convergent.remedies.runtime import _flat_layers

    return [(ly, getattr(ly, "activation", None), getattr(ly, "rate", None))
            for ly in _flat_layers(model)]


def _restore_layers(state: list[tuple[Any, Any, Any]]) -> None:
    for ly, act, rate in state:
        if act is not None:
            ly.activation = act
        if rate is not None:
            ly.rate = rate


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


def repair_fit(original: Callable[..., Any], model: Any, arguments: dict[str, Any],
               record: dict[str, Any], make_callbacks: Callable[[], tuple[Any, list[Any]]],
               pre_findings: list[Any]) -> Any:
    """Fit, then remedy and refit up to MAX_STEPS times; keep and return the best fit."""
    from convergent.findings import Report
    from convergent.remedies import runtime

    seed = search_seed()
    rng = random.Random(seed) if seed is not None else None
    initial = [w.copy() for w in model.get_weights()]
    user_callbacks = list(arguments.get("callbacks") or [])
    monitor, extra = make_callbacks()
    t0 = time.time()
    history = original(model, **{**arguments, "callbacks": user_callbacks + extra})
    record["monitor_before_repair"] = monitor.report().to_dict()
    fixed: set[str] = set()
    tried: set[str] = set()
    steps: list[dict[str, Any]] = []
    current, fit_kwargs = model, {**arguments, "callbacks": user_callbacks}
    report = Report(list(pre_findings) + monitor.report().findings)
    record["monitor"] = monitor.report().to_dict()
    # one entry per fit (0: the script's own); what keep-best needs to go back to it
    fits = [{"model": model, "weights": model.get_weights(), "layers": _layer_state(model),
             "compile": _compile_args(model), "history": history, "report": report,
             "monitor": record["monitor"], "score": _score(monitor),
             "seconds": round(time.time() - t0, 3)}]
    for _ in range(MAX_STEPS):
        if report.healthy:
            break
        before = _score(monitor)
        model.set_weights(initial)
        old_opt = getattr(current, "optimizer", None)
        if rng is None:
            change = runtime.apply(report.findings, current, {}, fit_kwargs, skip=tried)
        else:
            change = _random_change(rng, report, current, fit_kwargs)
        if change is None or not change.changed:
            record.setdefault("notes", []).append(
                "repair: no run-time remedy applies to the remaining findings "
                f"{report.codes}; skipped: {change.skipped if change else []}")
            break
        tried |= {a["remedy"] for a in change.applied}
        fixed |= {a["code"] for a in change.applied}
        ck = dict(change.compile_kwargs)
        _fresh_optimizer(ck, old_opt)
        current = change.model
        current.compile(**ck)
        monitor, extra = make_callbacks()
        fit_kwargs = {**change.fit_kwargs,
                      "callbacks": [c for c in change.fit_kwargs.get("callbacks") or []]}
        t0 = time.time()
        history = original(current, **{**fit_kwargs,
                                       "callbacks": fit_kwargs["callbacks"] + extra})
        remaining = [f for f in pre_findings if f.code.value not in fixed]
        report = Report(remaining + monitor.report().findings)
        record["monitor"] = monitor.report().to_dict()
        after = _score(monitor)
        if rng is None and _improved(before, after):
            # a remedy that helped may help again (e.g. lower the LR once more)
            tried -= {a["remedy"] for a in change.applied
                      if a["code"] in {f.code.value for f in report.findings}}
        fits.append({"model": current, "weights": current.get_weights(),
                     "layers": _layer_state(current), "compile": _compile_args(current),
                     "history": history, "report": report, "monitor": record["monitor"],
                     "score": after, "seconds": round(time.time() - t0, 3)})
        step = {
            "remedy": ", ".join(a["remedy"] for a in change.applied),
            "for": sorted({a["code"] for a in change.applied}),
            "change": "; ".join(str(a.get("change", "")) for a in change.applied),
            "code": change.code, "before": before, "after": after,
            "findings_after": report.codes, "healthy": report.healthy,
            "history": _history(monitor), "seconds": fits[-1]["seconds"],
            "ended": round(time.time(), 3),
        }
        if rng is not None:
            step["search"] = f"{RANDOM_PREFIX}{seed}"
        steps.append(step)
        _publish(record, steps, fits, best_index([f["score"] for f in fits]))
        _flush()
    kept = best_index([f["score"] for f in fits])
    if kept != len(fits) - 1:
        _restore(fits, kept, record)
    record["monitor"] = fits[kept]["monitor"]
    _publish(record, steps, fits, kept)
    return fits[kept]["history"]


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
