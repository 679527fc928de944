"""``convergent run --repair`` inside the user's process: diagnose → remedy → retrain → verify.

Called by the fit wrapper in :mod:`hook` instead of the plain fit when ``CONVERGENT_REPAIR``
is set. The user's fit runs once with the Monitor; while the findings show a problem, the
first finding with a run-time remedy (``convergent.remedies.runtime.apply``) is fixed, the
model restarts from its initial weights with a fresh optimizer, and trains again under a
new Monitor. Each step records the remedy, the code change and the metrics before/after.
The user's script gets the last fit's History and its model object ends up trained.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

# Remedies tried per fit before giving up: each costs one full retraining.
MAX_STEPS = 4


def _score(monitor: Any) -> dict[str, float]:
    h = monitor.history
    out = {}
    for k in ("val_accuracy", "accuracy", "val_loss", "loss"):
        if h.get(k):
            out[k] = round(float(h[k][-1]), 4)
    return out


def _history(monitor: Any) -> dict[str, list[float]]:
    return {k: [round(float(v), 5) for v in vals] for k, vals in monitor.history.items()}


def _improved(before: dict[str, float], after: dict[str, float]) -> bool:
    """Lower validation loss, or the same validation loss and a lower training loss."""
    def key(d: dict[str, float]) -> tuple[float, float]:
        v, t = d.get("val_loss", math.inf), d.get("loss", math.inf)
        return (v if math.isfinite(v) else math.inf,  # NaN counts as worst
                t if math.isfinite(t) else math.inf)

    return key(after) < key(before)


def _fresh_optimizer(compile_kwargs: dict[str, Any], old: Any) -> None:
    opt = compile_kwargs.get("optimizer")
    if opt is not None and opt is old:
        compile_kwargs["optimizer"] = type(opt).from_config(opt.get_config())


def repair_fit(original: Callable[..., Any], model: Any, arguments: dict[str, Any],
               record: dict[str, Any], make_callbacks: Callable[[], tuple[Any, list[Any]]],
               pre_findings: list[Any]) -> Any:
    """Fit, then remedy and refit up to MAX_STEPS times; return the last History."""
    from convergent.findings import Report
    from convergent.remedies import runtime

    initial = [w.copy() for w in model.get_weights()]
    user_callbacks = list(arguments.get("callbacks") or [])
    monitor, extra = make_callbacks()
    history = original(model, **{**arguments, "callbacks": user_callbacks + extra})
    record["monitor_before_repair"] = monitor.report().to_dict()
    fixed: set[str] = set()
    tried: set[str] = set()
    steps: list[dict[str, Any]] = []
    current, fit_kwargs = model, {**arguments, "callbacks": user_callbacks}
    report = Report(list(pre_findings) + monitor.report().findings)
    record["monitor"] = monitor.report().to_dict()
    for _ in range(MAX_STEPS):
        if report.healthy:
            break
        before = _score(monitor)
        model.set_weights(initial)
        old_opt = getattr(current, "optimizer", None)
        change = runtime.apply(report.findings, current, {}, fit_kwargs, skip=tried)
        if not change.changed:
            record.setdefault("notes", []).append(
                "repair: no run-time remedy applies to the remaining findings "
                f"{report.codes}; skipped: {change.skipped}")
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
        history = original(current, **{**fit_kwargs,
                                       "callbacks": fit_kwargs["callbacks"] + extra})
        remaining = [f for f in pre_findings if f.code.value not in fixed]
        report = Report(remaining + monitor.report().findings)
        record["monitor"] = monitor.report().to_dict()
        after = _score(monitor)
        if _improved(before, after):
            # a remedy that helped may help again (e.g. lower the LR once more)
            tried -= {a["remedy"] for a in change.applied
                      if a["code"] in {f.code.value for f in report.findings}}
        steps.append({
            "remedy": ", ".join(a["remedy"] for a in change.applied),
            "for": sorted({a["code"] for a in change.applied}),
            "change": "; ".join(str(a.get("change", "")) for a in change.applied),
            "code": change.code, "before": before, "after": after,
            "findings_after": report.codes, "history": _history(monitor),
        })
    # record["pre_fit"] keeps the findings of the script as written: the report explains
    # those; what is left after the last step goes in "remaining"
    record["repair"] = {"steps": steps, "healthy": report.healthy,
                        "remaining": [f.to_dict() for f in report.findings],
                        "code": "\n".join(s["code"] for s in steps if s["code"])}
    return history
