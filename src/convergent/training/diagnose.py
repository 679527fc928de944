"""``convergent.diagnose``: cheap probes on a copy of the model, no full training run.

Runs, within a time budget: the static lint, the input checks, initial loss vs ln C,
gradient/activation health at init, a one-batch overfit with the user's optimizer (and with
a known-good Adam when that fails), an LR range test and a label-shuffle control; then turns
the measurements into ranked findings. The user's model, optimizer state and global RNGs are
left as they were (restored in ``finally``).

Example:
    >>> report = diagnose(model, x_train, y_train, validation_data=(x_val, y_val))  # doctest: +SKIP
    >>> report.findings[0].code, report.metrics["lr_range"]["suggested"]            # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from typing import Any, Self

import numpy as np

from convergent.errors import BadInputError
from convergent.findings import Code, Finding, Report, Severity
from convergent.remedies.catalog import remedies_for
from convergent.training.probes import shuffle

# Initial loss above ln C by more than 2 nats means logits of std ~2 (loss ~ ln C + s^2/2):
# the softmax starts confidently wrong (Karpathy 2019, "verify loss @ init").
INIT_LOSS_EXCESS = 2.0
# Relative gradient ||g||/||w|| of the first kernel vs the last at init. Measured on 30
# random healthy CNN/MLPs (benchmarks/perf/diagnose_time.py --measure): 0.01 to 5.1.
# Two decades below the healthy minimum = vanishing; three above the maximum = exploding.
VANISH_RATIO = 1e-4
EXPLODE_RATIO = 1e4  # mirror image of VANISH_RATIO
# "Most ReLU units output zero for all inputs" (findings.md): over half of the ReLU units,
# averaged over ReLU layers, silent on every one of 256 samples.
DEAD_FRACTION_MAX = 0.5
SATURATED_FRACTION_MAX = 0.5  # half the sigmoid/tanh outputs in their flat tails
# LR judged against the range test: above lr_min the sweep saw the loss rise (Smith 2017).
# Below lr_min/300 (1.5 decades under fastai's lr_min/10 suggestion) steps are >30x smaller
# than useful. Alone this misfires (BatchNorm nets sweep to lr_min ~1 with Adam: 3 of 30
# healthy models measured fell below it), so "too low" also needs a stalled one-batch fit.
LR_TOO_LOW_FACTOR = 300.0
PROBE_MIN_SAMPLES = 32
# Update-to-weight ratio ||dW||/||W|| per step (cs231n: "around 1e-3"). Measured on 30
# random healthy models (benchmarks/perf/diagnose_time.py --measure): 5e-4 to 2e-2. The
# bounds sit 1.7 decades below and one decade above that range.
UPDATE_RATIO_LOW = 1e-5
UPDATE_RATIO_HIGH = 0.2
MODEL_CAUSES = frozenset({
    Code.MODEL_OUTPUT_ACTIVATION, Code.MODEL_OUTPUT_UNITS, Code.MODEL_LOSS_MISMATCH,
    Code.MODEL_FROZEN, Code.MODEL_NO_NONLINEARITY, Code.MODEL_EXCESSIVE_DROPOUT,
    Code.MODEL_BAD_INIT, Code.MODEL_SATURATING_ACTIVATION, Code.MODEL_TOO_SMALL,
    Code.MODEL_BOTTLENECK, Code.MODEL_NO_NORMALIZATION_LAYER, Code.MODEL_OVER_POOLING,
    Code.DATA_UNNORMALIZED, Code.DATA_NONFINITE, Code.TRAIN_VANISHING_GRADIENTS})
# Shares of the budget left after the initial checks (the shuffle control gets the rest).
BUDGET_SHARES = {"overfit": 0.25, "lr_range": 0.2}
# A run that covered half the way from the first loss to the overfit target is learning,
# just slower than the step cap allows; below 10% it is not learning at all.
PROGRESS_OK = 0.5
PROGRESS_NONE = 0.1


def diagnose(model: Any, x: Any, y: Any, validation_data: tuple[Any, Any] | None = None,
             budget_s: float = 20.0, seed: int = 0, data_size: bool = False,
             n_classes: int | None = None) -> Report:
    """Probe a compiled Keras classifier with a few cheap training steps on a copy.

    Args:
        model: a built, compiled, single-output Keras 3 classifier.
        x: training inputs (numpy array, N first).
        y: training labels, integer ids (N,) or one-hot (N, C).
        validation_data: optional ``(x_val, y_val)``.
        budget_s: wall-clock budget in seconds; probes that do not fit are skipped.
        seed: seed for every random choice of the probes.
        data_size: also run the data-size probe (25/50/100 % of the data).
        n_classes: number of classes when the labels do not show all of them.

    Returns:
        A Report (command ``diagnose``) with metrics ``initial_loss``, ``overfit``,
        ``lr_range`` ({"lr", "loss", "suggested"}), ``grad_norms`` ({"layers", "steps",
        "values"}: values[i][j] is layer i at step j), ``dead_fraction``,
        ``saturated_fraction``, ``label_shuffle``, ``timings`` and ``skipped``.

    Raises:
        BadInputError: not a Keras model, not built, or x/y unusable.

    Example:
        >>> diagnose(model, x, y, budget_s=10).codes        # doctest: +SKIP
    """
    from convergent.model.lint import lint

    t0 = time.monotonic()
    deadline = t0 + float(budget_s)
    x = _as_array(x, "x")
    y = _as_array(y, "y")
    if len(x) != len(y):
        raise BadInputError(f"x has {len(x)} samples but y has {len(y)}; they must match")
    if len(x) < PROBE_MIN_SAMPLES:
        raise BadInputError(f"diagnose needs at least {PROBE_MIN_SAMPLES} samples; received "
                            f"{len(x)}")
    x_val = y_val = None
    if validation_data is not None:
        x_val, y_val = (_as_array(v, n) for v, n in zip(validation_data[:2], ("x_val", "y_val")))
    base = lint(model, y=y, x=x, n_classes=n_classes)
    skipped: dict[str, str] = dict(base.metrics.get("skipped", {}))
    timings: dict[str, float] = {"lint": time.monotonic() - t0}
    findings: list[Finding] = list(base.findings)
    metrics: dict[str, Any] = {"lint": base.metrics}
    findings += _input_findings(x, y, x_val, y_val, skipped)
    timings["inputs"] = time.monotonic() - t0 - timings["lint"]

    blockers = [f for f in findings if f.severity is Severity.ERROR and f.code in (
        Code.MODEL_OUTPUT_UNITS, Code.MODEL_LOSS_MISMATCH, Code.MODEL_FROZEN,
        Code.MODEL_OUTPUT_ACTIVATION, Code.DATA_NONFINITE)]
    facts = base.metrics["model"]
    reason = None
    if not getattr(model, "compiled", False):
        reason = "model is not compiled: no loss/optimizer to probe with"
    if reason is None and facts["loss"]["kind"] not in ("cce", "scce", "bce"):
        reason = f"loss {facts['loss']['name']!r} is not a crossentropy: probes assume one"
    if reason is None and (facts.get("output") or {}).get("units") is None:
        reason = "model output could not be read (several outputs?)"
    if reason is None and blockers:
        reason = (f"{blockers[0].code.value} makes fit() fail or learn nothing; fix it first "
                  "(probes would only repeat it)")
    if reason is not None:
        skipped["probes"] = reason
    else:
        probe_findings, probe_metrics = _run_probes(
            model, x, y, x_val, y_val, findings, facts, deadline, seed, data_size,
            n_classes or base.metrics.get("n_classes"), skipped, timings)
        findings = _merge(findings, probe_findings)
        metrics.update(probe_metrics)
    timings["total"] = time.monotonic() - t0
    metrics.update(skipped=skipped, timings={k: round(v, 3) for k, v in timings.items()})
    return Report(findings, command="diagnose", subject=getattr(model, "name", ""),
                  metrics=metrics)


# --------------------------------------------------------------------------- helpers
def _as_array(v: Any, name: str) -> np.ndarray:
    if hasattr(v, "element_spec") or hasattr(v, "__next__"):
        raise BadInputError(f"{name}: diagnose takes numpy arrays; received a "
                            f"{type(v).__name__} (take a few batches with np.concatenate)")
    try:
        import keras

        arr = np.asarray(keras.ops.convert_to_numpy(v) if not isinstance(v, np.ndarray) else v)
    except Exception as e:
        raise BadInputError(f"{name} could not be turned into an array: {e}") from e
    if arr.ndim == 0 or len(arr) == 0:
        raise BadInputError(f"{name} is empty")
    return arr


def _labels(y: np.ndarray) -> np.ndarray:
    if y.ndim == 2 and y.shape[1] > 1:
        return np.argmax(y, axis=1).astype(int)
    return y.reshape(len(y), -1)[:, 0].astype(int) if y.size else y.astype(int)


def _input_findings(x: np.ndarray, y: np.ndarray, x_val: Any, y_val: Any,
                    skipped: dict[str, str]) -> list[Finding]:
    try:
        from convergent.data.arrays import check_arrays
    except ImportError as e:
        skipped["inputs"] = f"convergent.data.arrays is not available ({e}); input checks skipped"
        return []
    try:
        return list(check_arrays(x, y, x_val, y_val))
    except Exception as e:  # never let another layer's bug hide the probes
        skipped["inputs"] = f"check_arrays failed: {type(e).__name__}: {e}"
        return []


def _merge(base: list[Finding], new: list[Finding]) -> list[Finding]:
    """Add probe findings; a probe finding of a code lint already reported adds its
    evidence to the lint finding instead of duplicating it."""
    out = list(base)
    for f in new:
        same = [i for i, g in enumerate(out) if g.code is f.code]
        if same:
            g = out[same[0]]
            sev = g.severity if g.severity.rank <= f.severity.rank else f.severity
            out[same[0]] = dataclasses.replace(
                g, severity=sev, confidence=max(g.confidence, f.confidence),
                evidence={**g.evidence, "probe": f.evidence})
        else:
            out.append(f)
    return out


def _f(code: Code, sev: Severity, conf: float, title: str, expl: str,
       ev: dict[str, Any], remedy: str) -> Finding:
    return Finding(code, sev, round(min(max(conf, 0.0), 1.0), 3), title, expl, ev,
                   remedies_for(code, remedy))


class _RngGuard:
    """Save the global RNG states (python, numpy, torch) and put them back."""

    def __enter__(self) -> Self:
        self.py = random.getstate()
        self.np = np.random.get_state()
        try:
            import sys

            torch = sys.modules.get("torch")
            self.torch = torch.get_rng_state() if torch is not None else None
        except Exception:
            self.torch = None
        return self

    def __exit__(self, *exc: object) -> None:
        random.setstate(self.py)
        np.random.set_state(self.np)
        if self.torch is not None:
            import torch

            torch.set_rng_state(self.torch)


# --------------------------------------------------------------------------- probes
def _run_probes(model: Any, x: np.ndarray, y: np.ndarray, x_val: Any, y_val: Any,
                prior: list[Finding], facts: dict[str, Any], deadline: float, seed: int,
                data_size: bool, n_classes: int | None, skipped: dict[str, str],
                timings: dict[str, float]) -> tuple[list[Finding], dict[str, Any]]:
    from convergent.training.probes import backend as B
    from convergent.training.probes import health, initial_loss, lr_range, overfit, shuffle
    from convergent.training.probes.session import ProbeSession

    labels = _labels(y)
    C = int(n_classes or max(int(labels.max()) + 1, 2))
    if facts["output"]["units"] == 1:
        C = 2
    x = x.astype("float32", copy=False)
    yv = y.astype("float32") if y.ndim == 2 else y
    val_labels = _labels(y_val) if y_val is not None else None
    metrics: dict[str, Any] = {}
    out: list[Finding] = []
    with _RngGuard():
        copy, snapshot = B.probe_copy(model)
        if snapshot is not None:
            skipped["clone"] = ("model could not be cloned (subclassed without get_config): "
                                "probes ran on it and its weights were restored afterwards")
        try:
            s = ProbeSession.open(copy, x, yv, labels, C, model.loss,
                                  getattr(model, "optimizer", None), deadline, seed)
            t = time.monotonic()
            init = initial_loss.run(s)
            metrics["initial_loss"] = init
            s.measure_grads(s.batches(np.arange(len(x))), 3, log="init")
            acts0 = health.activation_stats(copy, x[:256])
            timings["initial"] = time.monotonic() - t
            if not acts0 and health.activation_layers(copy):
                skipped["activations"] = "no functional graph to read activations from"
            # Shares of the remaining budget: each probe stops at its own deadline.
            share = {k: v * max(s.left(), 0.0) for k, v in BUDGET_SHARES.items()}
            t = time.monotonic()
            fit_user = overfit.run(s, "user", until=t + share["overfit"])
            acts1 = health.activation_stats(copy, x[:256])
            metrics["overfit"] = {"user": _short(fit_user)}
            timings["overfit_user"] = time.monotonic() - t
            t = time.monotonic()
            sweep = lr_range.run(s, "user", until=t + share["lr_range"])
            metrics["lr_range"] = {"lr": sweep["lr"], "loss": sweep["loss"],
                                   "smoothed": sweep["smoothed"], "suggested": sweep["suggested"],
                                   "lr_min": sweep["lr_min"], "current": s.user_lr,
                                   "optimizer": facts["optimizer"]}
            if sweep["suggested"] is None:
                metrics["lr_range"]["reason"] = sweep.get("reason")
            timings["lr_range"] = time.monotonic() - t
            fit_ref = None
            if not _learns(fit_user):
                t = time.monotonic()
                fit_ref = overfit.run(s, "ref", until=t + share["overfit"])
                metrics["overfit"]["reference_adam"] = _short(fit_ref)
                timings["overfit_reference"] = time.monotonic() - t
            for name, fit in (("overfit_user", fit_user), ("overfit_reference", fit_ref)):
                if fit is not None and fit.get("timed_out"):
                    skipped[name] = (f"budget ran out after {fit['steps']} of {overfit.STEPS} "
                                     "steps: no conclusion from this run (raise budget_s)")
            which = "user" if _learns(fit_user) else (
                "ref" if fit_ref is not None and _learns(fit_ref) else None)
            shuf = None
            if which is None:
                skipped["label_shuffle"] = (
                    "the budget ran out before the model fit one batch" if fit_user.get(
                        "timed_out") else "the model cannot fit even one batch, so a "
                    "shuffled-label control would say nothing")
            elif s.left() > 1.0:
                t = time.monotonic()
                until = t + s.left() * (0.6 if data_size else 1.0)
                shuf = shuffle.run(s, which, x_val.astype("float32") if x_val is not None
                                   else None, (y_val.astype("float32") if y_val is not None
                                               and y_val.ndim == 2 else y_val), val_labels,
                                   until=until)
                metrics["label_shuffle"] = shuf
                timings["label_shuffle"] = time.monotonic() - t
                if shuf is None:
                    skipped["label_shuffle"] = "too few samples for a held-out split"
            else:
                skipped["label_shuffle"] = f"budget spent ({s.left():.1f} s left)"
            if data_size and which is not None and s.left() > 1.0:
                metrics["data_size"] = _data_size(s, which)
            elif data_size:
                skipped["data_size"] = "budget spent or the model cannot fit one batch"
            metrics["grad_norms"] = health.grad_norm_metrics(s.grad_log, s.layer_names)
            metrics["update_ratios"] = health.grad_norm_metrics(s.grad_log, s.layer_names,
                                                                "update_ratio")
            metrics["dead_fraction"] = {"init": acts0.get("dead_fraction", {}),
                                        "after_overfit": acts1.get("dead_fraction", {})}
            metrics["saturated_fraction"] = {"init": acts0.get("saturated_fraction", {}),
                                             "after_overfit": acts1.get("saturated_fraction", {})}
            out = _judge(s, facts, prior, init, fit_user, fit_ref, sweep, shuf, acts0, acts1,
                         metrics)
        finally:
            if snapshot is not None:
                model.set_weights(snapshot)
    return out, metrics


def _mean(d: dict[str, float]) -> float:
    return float(np.mean(list(d.values()))) if d else 0.0


def _learns(fit: dict[str, Any]) -> bool:
    return bool(fit["reached"] or fit["progress"] >= PROGRESS_OK)


def _short(r: dict[str, Any]) -> dict[str, Any]:
    keep = ("initial", "final", "min", "steps", "target", "reached", "progress", "nonfinite",
            "timed_out", "lr",
            "optimizer", "samples")
    d = {k: r[k] for k in keep if k in r}
    d["losses"] = [round(v, 5) if math.isfinite(v) else str(v) for v in r["losses"]]
    return d


def _data_size(s: Any, which: str) -> dict[str, Any]:
    """Held-out accuracy after training on 25/50/100 % of a subset for the same steps."""
    n = len(s.x)
    perm = s.rng.permutation(n)
    n_held = min(256, n // 4)
    held, pool = perm[:n_held], perm[n_held:][:1024]
    out: dict[str, Any] = {"fractions": [], "heldout_acc": [], "train_samples": []}
    for frac in (0.25, 0.5, 1.0):
        idx = pool[:max(int(len(pool) * frac), 32)]
        s.train(s.batches(idx), 48, which=which)
        _, acc = s.evaluate(s.x[held], s.y[held], s.labels[held])
        out["fractions"].append(frac)
        out["heldout_acc"].append(acc)
        out["train_samples"].append(len(idx))
    return out


# --------------------------------------------------------------------------- judgement
def _judge(s: Any, facts: dict[str, Any], prior: list[Finding], init: dict[str, Any],
           fit_user: dict[str, Any], fit_ref: dict[str, Any] | None,
           sweep: dict[str, Any] | None, shuf: dict[str, Any] | None,
           acts0: dict[str, Any], acts1: dict[str, Any], metrics: dict[str, Any]
           ) -> list[Finding]:
    from convergent.training.probes import health

    out: list[Finding] = []
    have = {f.code for f in prior if f.severity is not Severity.INFO}
    lnc = init["ln_c"]
    user_lr = s.user_lr
    # ---- initial loss
    if not math.isfinite(init["loss"]):
        out.append(_f(Code.TRAIN_DIVERGED, Severity.ERROR, 0.8, "Loss is NaN/inf before training",
                      "The untrained model already produces a non-finite loss: check the inputs "
                      "for NaN/inf and the output for overflow.", {"initial_loss": init["loss"]},
                      "fix_nonfinite"))
    elif facts["loss"]["kind"] in ("cce", "scce") and init["excess"] > INIT_LOSS_EXCESS:
        ev = {"initial_loss": round(init["loss"], 3), "ln_C": round(lnc, 3),
              "implied_logit_std": round(init["implied_logit_std"], 2),
              "threshold": f"loss > ln C + {INIT_LOSS_EXCESS}"}
        code = Code.DATA_UNNORMALIZED if Code.DATA_UNNORMALIZED in have else Code.MODEL_BAD_INIT
        out.append(_f(code, Severity.WARNING, 0.6,
                      f"Initial loss {init['loss']:.2f} is far above ln C = {lnc:.2f}",
                      "An untrained classifier should score about ln C. Much higher means the "
                      "network starts with large, confident logits: weights initialised too "
                      "large or inputs far from unit scale.", ev,
                      "rescale" if code is Code.DATA_UNNORMALIZED else "he_init"))
    # ---- gradients at init
    g0 = health.grad_summary(s.grad_log, s.layer_names, "init")
    metrics["grad_health"] = {"init": g0}
    if g0 and not g0["finite"]:
        out.append(_f(Code.TRAIN_DIVERGED, Severity.ERROR, 0.8, "Gradients are NaN/inf at init",
                      "Back-propagation already overflows before any update.", {
                          "max_grad": g0["max_grad"]}, "grad_clip"))
    elif g0 and len(s.layer_names) >= 3:
        ratio = g0["first_to_last"]
        ev = {"first_to_last_relative_grad": float(f"{ratio:.3g}"),
              "relative_grad_per_layer": [float(f"{v:.3g}") for v in g0["relative"]],
              "layers": s.layer_names, "threshold": [VANISH_RATIO, EXPLODE_RATIO]}
        if ratio < VANISH_RATIO:
            out.append(_f(Code.TRAIN_VANISHING_GRADIENTS, Severity.WARNING, 0.75,
                          f"First layer gets {ratio:.1e} of the last layer's relative gradient",
                          "Early layers barely change, so the network learns as if it were "
                          "shallow.", ev, "relu_activation" if Code.MODEL_SATURATING_ACTIVATION
                          in have else "he_init"))
        elif ratio > EXPLODE_RATIO:
            out.append(_f(Code.TRAIN_EXPLODING_GRADIENTS, Severity.WARNING, 0.7,
                          f"First layer gets {ratio:.1e}x the last layer's relative gradient",
                          "Gradients grow towards the input; the first layers take huge steps.",
                          ev, "he_init"))
    # ---- the user's optimizer on one batch, the LR range test and the update sizes
    gu = health.grad_summary(s.grad_log, s.layer_names, "overfit_user")
    metrics["grad_health"]["overfit_user"] = gu
    upd = gu.get("update_ratio") if gu else None
    diverged = fit_user["nonfinite"]
    rose = (fit_user["final"] is not None and math.isfinite(fit_user["final"]) and
            fit_user["final"] > 1.5 * max(fit_user["initial"], 1e-6))
    stalled = (not fit_user["reached"] and fit_user["progress"] < PROGRESS_NONE and
               not fit_user.get("timed_out"))
    ref_ok = fit_ref is not None and _learns(fit_ref)
    ev_fit: dict[str, Any] = {
        "one_batch_overfit": {k: fit_user[k] for k in ("initial", "final", "min", "steps",
                                                        "target", "reached", "progress")},
        "optimizer": facts["optimizer"], "learning_rate": user_lr,
        "update_to_weight_ratio": upd,
        "update_ratio_healthy": [UPDATE_RATIO_LOW, UPDATE_RATIO_HIGH]}
    if fit_ref is not None:
        ev_fit["reference_adam_1e-3"] = {k: fit_ref[k] for k in ("initial", "final", "min",
                                                                 "steps", "reached", "progress")}
    lr_min = sweep["lr_min"] if sweep else None
    if sweep is not None:
        ev_fit.update(lr_range_suggested=sweep["suggested"], lr_min=lr_min)
    if diverged:
        out.append(_f(Code.TRAIN_DIVERGED, Severity.ERROR, 0.7,
                      "Loss became NaN/inf within a few steps at your learning rate",
                      "The optimizer's steps are so large that the weights overflow.",
                      ev_fit, "lower_lr"))
    if user_lr is not None:
        dead0 = _mean(acts0.get("dead_fraction", {}))
        dead1 = _mean(acts1.get("dead_fraction", {}))
        high = {"loss NaN/inf on one batch": diverged, "loss rose on one batch": rose,
                "ReLU units died during the run": dead1 > DEAD_FRACTION_MAX >= dead0,
                "above the range test's loss minimum": lr_min is not None and user_lr > lr_min,
                "updates larger than the healthy range": upd is not None and
                upd > UPDATE_RATIO_HIGH}
        low = {"updates smaller than the healthy range": upd is not None and
               upd < UPDATE_RATIO_LOW,
               "far below the range test's loss minimum": lr_min is not None and
               user_lr < lr_min / LR_TOO_LOW_FACTOR,
               "Adam(1e-3) fits the batch": stalled and ref_ok}
        n_high, n_low = sum(high.values()), sum(low.values())
        hint = f" Try {sweep['suggested'][1]:.1g}." if sweep and sweep["suggested"] else ""
        model_fault = bool(have & MODEL_CAUSES) and not ref_ok
        if n_high >= 2 or (n_high == 1 and not _learns(fit_user)):
            sure = n_high >= 2
            out.append(_f(Code.TRAIN_LR_TOO_HIGH, Severity.ERROR if sure else Severity.WARNING,
                          0.9 if sure else 0.6, f"Learning rate {user_lr:g} is too high",
                          "Steps this large make the loss jump, climb or blow up "
                          f"({'; '.join(k for k, v in high.items() if v)})." + hint,
                          {**ev_fit, "evidence_for": [k for k, v in high.items() if v],
                           "threshold_high": "lr > lr_min of the range test, or update ratio "
                           f"> {UPDATE_RATIO_HIGH}"}, "lower_lr"))
        elif stalled and n_low >= 2 and not model_fault:
            out.append(_f(Code.TRAIN_LR_TOO_LOW, Severity.WARNING,
                          0.85 if n_low >= 3 else 0.7,
                          f"Learning rate {user_lr:g} is too low: the loss does not move",
                          "Even on one batch the loss barely falls: "
                          f"({'; '.join(k for k, v in low.items() if v)})." + hint,
                          {**ev_fit, "evidence_for": [k for k, v in low.items() if v],
                           "threshold_low": f"lr < lr_min / {LR_TOO_LOW_FACTOR:g}, or update "
                           f"ratio < {UPDATE_RATIO_LOW}"}, "raise_lr"))
    # ---- could not fit one batch
    explained = have | {f.code for f in out}
    if stalled and not diverged and ref_ok and not (
            {Code.TRAIN_LR_TOO_LOW, Code.TRAIN_LR_TOO_HIGH} & explained):
        out.append(_f(Code.TRAIN_OPTIMIZER, Severity.WARNING, 0.6,
                      f"{facts['optimizer']} at lr={user_lr:g} does not learn; Adam(1e-3) does",
                      "The model and labels are fine (a standard optimizer fits the batch), so "
                      "the optimizer settings hold learning back.", ev_fit, "adam"))
    elif not _learns(fit_user) and not diverged and not ref_ok and not (
            explained & MODEL_CAUSES) and not (fit_ref or fit_user).get("timed_out"):
        best = fit_ref or fit_user
        if best["progress"] < PROGRESS_NONE:
            out.append(_f(Code.TRAIN_STUCK_AT_CHANCE, Severity.WARNING, 0.6,
                          "The loss stays at chance even on one batch",
                          "Neither your optimizer nor Adam(1e-3) lowers the loss on 32 samples: "
                          "something in the model, loss or labels blocks learning.",
                          ev_fit, "raise_lr"))
        else:
            out.append(_f(Code.MODEL_TOO_SMALL, Severity.INFO, 0.4,
                          "The model did not memorise 32 samples within the probe",
                          "The loss falls but stays far from zero on one batch. If training "
                          "accuracy also stalls, add capacity.", ev_fit, "add_capacity"))
    # ---- dying ReLU / saturation
    dead1 = acts1.get("dead_fraction", {})
    if dead1:
        frac = float(np.mean(list(dead1.values())))
        dead0 = acts0.get("dead_fraction", {})
        if frac > DEAD_FRACTION_MAX:
            out.append(_f(Code.TRAIN_DYING_RELU, Severity.WARNING, 0.7,
                          f"{frac:.0%} of ReLU units are dead after a few steps",
                          "These units output zero for every input, so they pass no gradient "
                          "and never recover (usually after too large a step).",
                          {"dead_fraction": dead1, "dead_fraction_at_init": dead0,
                           "mean": round(frac, 3), "threshold": DEAD_FRACTION_MAX},
                          "lower_lr" if Code.TRAIN_LR_TOO_HIGH in explained else "leaky_relu"))
    sat0 = acts0.get("saturated_fraction", {})
    if sat0 and max(sat0.values()) > SATURATED_FRACTION_MAX:
        out.append(_f(Code.TRAIN_VANISHING_GRADIENTS, Severity.WARNING, 0.6,
                      "Sigmoid/tanh units start saturated",
                      "Most outputs sit in the flat tails, where the slope is ~0.",
                      {"saturated_fraction": sat0, "threshold": SATURATED_FRACTION_MAX},
                      "he_init"))
    # ---- label-shuffle control
    explained = have | {f.code for f in out}
    if shuf is not None and explained & MODEL_CAUSES:
        metrics["label_shuffle"]["not_judged"] = (
            "a model/data cause was found; it can also keep held-out accuracy at chance")
    elif shuf is not None:
        n = shuf["heldout_samples"]
        base = max(shuf["shuffled_heldout_acc"], shuf["majority_acc"])
        learned = shuffle.significantly_better(shuf["real_heldout_acc"], base, n)
        ev_sh = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in shuf.items()}
        ev_sh["threshold"] = f"real held-out accuracy > control + {shuffle.Z} standard errors"
        if not learned and shuf["real_train_loss"] >= 0.9 * shuf["shuffled_train_loss"]:
            out.append(_f(Code.DATA_LABELS_MISALIGNED, Severity.ERROR, 0.75,
                          "The labels look unrelated to the images",
                          f"Trained on real labels the model does no better on held-out "
                          f"samples ({shuf['real_heldout_acc']:.0%}) than trained on shuffled "
                          f"labels ({shuf['shuffled_heldout_acc']:.0%}), although it can fit "
                          "a batch: images and labels are probably out of order.", ev_sh,
                          "align_labels"))
        elif learned and "real_val_acc" in shuf and not shuffle.significantly_better(
                shuf["real_val_acc"], base, shuf["val_samples"]):
            out.append(_f(Code.DATA_LABELS_MISALIGNED, Severity.ERROR, 0.65,
                          "Validation labels look unrelated to the validation images",
                          f"The model reaches {shuf['real_heldout_acc']:.0%} on held-out "
                          f"training samples but only {shuf['real_val_acc']:.0%} on the "
                          "validation set (chance level): its labels are probably out of order.",
                          {**ev_sh, "split": "validation"}, "align_labels"))
    return out

