"""Learning-curve analysis: pure functions from plain run records to findings.

The same code serves the live :class:`~convergent.training.monitor.Monitor` (called at each
epoch end), ``convergent analyze`` (a CSVLogger file, History JSON or TensorBoard dir) and
``convergent run``. Inputs are plain Python data collected into :class:`RunFacts`:

- ``history``: Keras ``History.history``, a dict of per-epoch lists (``loss``, ``val_loss``,
  ``accuracy``, ``learning_rate``, ...);
- ``steps``: optional per-step records ``{"step": [...], "epoch": [...], "loss": [...]}``
  where ``loss`` is the loss of that batch;
- optional gradient/activation samples and facts about data, optimizer and model.

Each check is a registered plug-in of :data:`CURVES`; thresholds are UPPER_CASE defaults
beside it, each with its source. Every finding carries ``evidence["began_epoch"]`` (0-based)
and, where known, ``evidence["began_step"]``.

Example:
    >>> facts = RunFacts(history={"loss": [2.3, float("nan")]})
    >>> [f.code.value for f in analyze_curves(facts).findings][:1]
    ['TRAIN_DIVERGED']
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from convergent.findings import AT_INIT, Code, Finding, Severity
from convergent.registry import Registry
from convergent.remedies.catalog import remedies_for

CURVES = Registry("curves")
# Batch losses are means of heavy-tailed per-sample losses (one confident mistake costs
# ~10): judge spikes and blow-ups on means over at least Keras' default batch of 32
# samples, the scale the factors below were reasoned for.
WINDOW_SAMPLES = 32

ACCURACY_KEYS = ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy",
                 "binary_accuracy")


@dataclass
class RunFacts:
    """Everything the curve checks read; every field but ``history`` is optional.

    Args:
        history: per-epoch lists, as in ``keras.callbacks.History.history``.
        steps: per-step records ``{"step", "epoch", "loss"}`` (batch losses).
        n_classes: number of classes (else estimated from the initial loss ≈ ln C).
        majority_fraction: share of the largest class (chance level of accuracy).
        n_train, n_val: sample counts (binomial noise of accuracy).
        batch_size, steps_per_epoch, epochs_planned: fit settings.
        optimizer: ``{"name": "sgd", "learning_rate": 0.01, "momentum": 0.0, ...}``.
        regularization: ``{"dropout": bool, "weight_decay": bool, "augmentation": bool,
            "n_params": int}``; ``None`` when the model is unknown.
        grad_norms: ``{"layers": [...], "sizes": [...], "steps": [...], "epochs": [...],
            "values": [[norm per layer] per sample]}``.
        update_ratios: same layout as ``grad_norms`` (||ΔW|| / ||W|| over one step).
        weight_norms: same layout (||W|| per layer at each sample).
        dead_fraction, saturated_fraction: ``{"steps": [...], "epochs": [...],
            "values": [...]}`` on a fixed probe batch.
        activation_rms: ``{"layers": [...], "activations": ["relu", ...], "steps": [...],
            "epochs": [...], "values": [[RMS per probed hidden layer] per sample]}``.
        bn_moments: ``{"layers": [...], "epochs": [...], "values": [[mean square of each
            BatchNormalization layer's inputs normalized by its moving statistics] per
            epoch]}`` (1 when they agree).
        output_spread: ``{"epochs": [...], "log_spread": [...], "min_preimage": [...],
            "n_classes": C}``: per epoch, the widest max(log p) - min(log p) of the model's
            probe predictions, and the smallest entry of log p - mean(log p) + 1/C.
        early_stopping: ``{"patience": int, "monitor": str}`` of the run's EarlyStopping.
    """

    history: dict[str, list[float]]
    steps: dict[str, list[float]] = field(default_factory=dict)
    n_classes: int | None = None
    majority_fraction: float | None = None
    n_train: int | None = None
    n_val: int | None = None
    batch_size: int | None = None
    steps_per_epoch: int | None = None
    epochs_planned: int | None = None
    optimizer: dict[str, Any] | None = None
    regularization: dict[str, Any] | None = None
    grad_norms: dict[str, Any] | None = None
    update_ratios: dict[str, Any] | None = None
    weight_norms: dict[str, Any] | None = None
    dead_fraction: dict[str, Any] | None = None
    saturated_fraction: dict[str, Any] | None = None
    activation_rms: dict[str, Any] | None = None
    bn_moments: dict[str, Any] | None = None  # Monitor.bn: per BN layer per epoch
    output_spread: dict[str, Any] | None = None  # Monitor.outputs: per epoch
    early_stopping: dict[str, Any] | None = None  # {"patience", "monitor"} when one is used
    # evidence from model/loss_probe.py: the compiled loss is a user function that is not
    # finite on a confident mistake (an unclipped log)
    loss_unsafe: dict[str, Any] | None = None

    # -- derived views -------------------------------------------------------------------
    def series(self, key: str) -> np.ndarray:
        """One per-epoch series as float64 (NaN for missing/None values); empty if absent."""
        vals = self.history.get(key) or []
        return np.array([np.nan if v is None else float(v) for v in vals], dtype=float)

    @property
    def n_epochs(self) -> int:
        return max((len(v) for v in self.history.values()), default=0)

    def acc_key(self) -> str | None:
        for k in ACCURACY_KEYS:
            if k in self.history:
                return k
        return None

    def step_loss(self) -> np.ndarray:
        return np.array(self.steps.get("loss") or [], dtype=float)

    def step_epoch(self, i: int) -> int | None:
        ep = self.steps.get("epoch") or []
        return int(ep[i]) if i < len(ep) else None

    def window(self) -> int:
        """Steps whose losses together cover WINDOW_SAMPLES samples (1 for batches >= 32)."""
        return max(1, math.ceil(WINDOW_SAMPLES / self.batch_size)) if self.batch_size else 1

    def initial_loss(self) -> float | None:
        """The loss before learning: the mean of the first window of batch losses (see
        ``window``), else the first epoch's mean."""
        sl = self.step_loss()
        w = self.window()
        if sl.size >= w and np.isfinite(sl[:w]).all():
            return float(np.mean(sl[:w]))
        ep = self.series("loss")
        if ep.size and math.isfinite(ep[0]):
            return float(ep[0])
        return None

    def classes(self) -> tuple[int | None, str]:
        """The number of classes and where it came from (given, or exp(initial loss))."""
        if self.n_classes:
            return int(self.n_classes), "given"
        l0 = self.initial_loss()
        # Cross-entropy of an untrained softmax classifier starts near ln C (uniform
        # prediction), so C ≈ exp(L0). Only trusted inside a plausible range.
        if l0 is not None and math.log(2) * 0.8 <= l0 <= math.log(1000):
            return max(2, round(math.exp(l0))), "exp(initial loss)"
        return None, "unknown"


@dataclass
class CurveResult:
    findings: list[Finding]
    metrics: dict[str, Any]


def _finite(a: np.ndarray) -> np.ndarray:
    return a[np.isfinite(a)]


def make_finding(code: Code, severity: Severity, confidence: float, title: str,
                 explanation: str, evidence: dict[str, Any], began_epoch: int | None,
                 *preferred: str, began_step: int | None = None) -> Finding:
    """A Finding with ``began_epoch`` (and ``began_step``) in its evidence."""
    ev = dict(evidence)
    ev["began_epoch"] = began_epoch
    if began_step is not None:
        ev["began_step"] = began_step
    return Finding(code, severity, round(float(min(max(confidence, 0.0), 1.0)), 3), title,
                   explanation, ev, remedies_for(code, *preferred))


# --------------------------------------------------------------------------------------
# divergence and learning rate
# --------------------------------------------------------------------------------------

def _divergence(facts: RunFacts, blowup: float) -> dict[str, Any] | None:
    """Where the loss first became non-finite or rose ``blowup``x above its start."""
    sl = facts.step_loss()
    l0 = facts.initial_loss()
    if sl.size:
        bad = ~np.isfinite(sl)
        w = facts.window()
        if l0 is not None and l0 > 0 and sl.size >= w:
            # window means (see RunFacts.window): one sample's loss is not the run's
            mean = np.convolve(np.nan_to_num(sl, nan=0.0, posinf=1e30), np.ones(w) / w,
                               "valid")
            bad[w - 1:] |= mean > blowup * l0
        if bad.any():
            i = int(np.argmax(bad))
            return {"began_step": int(facts.steps.get("step", list(range(sl.size)))[i]),
                    "began_epoch": facts.step_epoch(i), "value": float(sl[i])}
    for key in ("loss", "val_loss"):
        s = facts.series(key)
        if not s.size:
            continue
        # a NaN val_loss can mean "not evaluated this epoch"; inf cannot
        bad = ~np.isfinite(s) if key == "loss" else np.isinf(s)
        if key == "loss" and l0 is not None and l0 > 0:
            bad |= np.nan_to_num(s, nan=0.0, posinf=np.inf) > blowup * l0
        if bad.any():
            i = int(np.argmax(bad))
            return {"began_epoch": i, "value": float(s[i]), "series": key}
    return None


@CURVES.register("diverged", codes=[Code.TRAIN_DIVERGED],
                 # a 10x rise of the training loss above its starting value cannot be
                 # minibatch noise for cross-entropy (which starts at ln C); first principles
                 BLOWUP_FACTOR=10.0)
def check_diverged(facts: RunFacts, p: dict[str, Any]) -> list[Finding]:
    d = _divergence(facts, p["BLOWUP_FACTOR"])
    if d is None:
        return []
    if facts.loss_unsafe:
        # the loss function itself returns NaN/inf: that, not the run, is the cause
        return [make_finding(
            Code.TRAIN_DIVERGED, Severity.ERROR, 0.95, "Training diverged: the loss is unsafe",
            f"The loss became {d['value']:.4g}. The loss function "
            f"({facts.loss_unsafe.get('loss')}) returns {facts.loss_unsafe.get('value')} on "
            "a confident mistake: it takes the log of a probability that can be exactly 0. "
            "Clip the predictions first, y_pred = keras.ops.clip(y_pred, 1e-7, 1 - 1e-7), "
            "or use the built-in keras.losses.CategoricalCrossentropy, which does.",
            {"value": d["value"], "initial_loss": facts.initial_loss(),
             "loss_probe": facts.loss_unsafe, AT_INIT: True},
            d.get("began_epoch"), "fix_loss", "grad_clip", began_step=d.get("began_step"))]
    return [make_finding(
        Code.TRAIN_DIVERGED, Severity.ERROR, 0.95, "Training diverged",
        f"The loss became {d['value']:.4g} (non-finite or far above where it started); "
        "nothing after that point is learned. A learning rate that is too high, or "
        "non-finite inputs, usually cause this.",
        {"value": d["value"], "blowup_factor": p["BLOWUP_FACTOR"],
         "initial_loss": facts.initial_loss()},
        d.get("began_epoch"), "lower_lr", "grad_clip", began_step=d.get("began_step"))]


# Conventional learning-rate ranges of the common optimizers: Adam's paper default is 1e-3
# (Kingma & Ba 2015); SGD on image classifiers is run at 1e-2..1e-1 (He et al. 2016).
LR_TYPICAL = {"adam": (1e-4, 3e-3), "adamw": (1e-4, 3e-3), "nadam": (1e-4, 3e-3),
              "adamax": (1e-4, 3e-3), "rmsprop": (1e-4, 3e-3), "sgd": (1e-3, 0.3),
              "adagrad": (1e-3, 0.3), "adadelta": (1e-2, 10.0), "lion": (1e-5, 3e-4)}


# SGD's ranges above are for plain steps; heavy-ball momentum beta multiplies the step by
# 1 / (1 - beta) once velocity builds up (Polyak 1964; Goh 2017, "Why momentum really
# works"), so SGD is judged at lr / (1 - beta) against the range x 10, the factor of the
# usual beta = 0.9 (He et al. 2016 ran lr 0.1 with momentum 0.9: 1.0 effective).
SGD_MOMENTUM_REF = 0.9
# A momentum whose factor 1 / (1 - beta) is more than 3x the usual one's (beta > 0.967) is
# "high" by the same 3x margin ``_lr_position`` gives the rate: with the rate itself in its
# usual range, the momentum is what makes the steps large (TRAIN_OPTIMIZER says so).
MOMENTUM_MARGIN = 3.0


def effective_lr(opt: Mapping[str, Any]) -> float | None:
    """The learning rate on the scale of LR_TYPICAL: for SGD with momentum beta, the plain
    step that momentum 0.9 would need for the same effective step, lr (1 - 0.9) / (1 - beta).

    Example:
        >>> effective_lr({"name": "sgd", "learning_rate": 0.1, "momentum": 0.99})
        1.0
    """
    lr = opt.get("learning_rate")
    if lr is None:
        return None
    lr = float(lr)
    beta = float(opt.get("momentum") or 0.0)
    if str(opt.get("name", "")).lower() == "sgd" and 0.0 < beta < 1.0:
        return round(lr * (1.0 - SGD_MOMENTUM_REF) / (1.0 - beta), 12)
    return lr


def _lr_position(facts: RunFacts) -> tuple[str, float | None]:
    """'high', 'low' or 'typical' for the optimizer's LR against LR_TYPICAL (SGD with
    momentum by its effective step, which only raises it); the LR itself second."""
    known = _rate_and_range(facts)
    if known is None:
        return "unknown", None
    lr, eff, rng = known
    if eff > rng[1] * 3 or lr > rng[1] * 3:
        return "high", lr
    return ("low" if lr < rng[0] / 3 else "typical"), lr


def _sentence(text: str) -> str:
    """``text`` with its first letter upper-case (``str.capitalize`` lowers the rest)."""
    return text[:1].upper() + text[1:]


def _in_usual_range(facts: RunFacts) -> bool:
    """The rate (and SGD's effective step) at or below the top of LR_TYPICAL: inside
    what the optimizer is usually run at, not in the 3x margin ``_lr_position`` leaves."""
    known = _rate_and_range(facts)
    return known is not None and known[0] <= known[2][1] and known[1] <= known[2][1]


def _momentum_made_it(facts: RunFacts) -> bool:
    """SGD whose rate is in its usual range while a momentum far above 0.9 makes the
    effective step high, and TRAIN_OPTIMIZER says so: the momentum, not the rate, is the
    setting to fix."""
    known = _rate_and_range(facts)
    beta = float((facts.optimizer or {}).get("momentum") or 0.0)
    if known is None or not 0.0 < beta < 1.0 or \
            str((facts.optimizer or {}).get("name", "")).lower() != "sgd":
        return False
    factor = (1.0 - SGD_MOMENTUM_REF) / (1.0 - beta)
    if known[0] > known[2][1] or factor <= MOMENTUM_MARGIN:
        return False
    # only when the optimizer check names the momentum (it judges runs of 3+ epochs)
    return any("effective_lr" in f.evidence
               for f in check_optimizer(facts, CURVES.params("optimizer")))


def _rate_at(facts: RunFacts, epoch: int | None) -> float | None:
    """The learning rate logged for ``epoch`` (Keras logs the rate each epoch ran at),
    or ``None``."""
    lrs = facts.series("learning_rate")
    if epoch is None or not 0 <= epoch < lrs.size or not np.isfinite(lrs[epoch]):
        return None
    return float(lrs[epoch])


def _rate_and_range(facts: RunFacts) -> tuple[float, float, tuple[float, float]] | None:
    """The optimizer's LR, its effective step (``effective_lr``) and its LR_TYPICAL range;
    ``None`` when any is unknown."""
    opt = facts.optimizer or {}
    lr, eff = opt.get("learning_rate"), effective_lr(opt)
    rng = LR_TYPICAL.get(str(opt.get("name", "")).lower())
    if lr is None or eff is None or rng is None:
        return None
    return float(lr), eff, rng


def _momentum_step(facts: RunFacts) -> tuple[float, float] | None:
    """SGD with momentum beta: the median update ratio of the very first step and beta.

    The first step has no velocity yet (Keras: v = beta v - lr g, w += v), and under a
    steady gradient the step grows to 1 / (1 - beta) times it (Polyak 1964): the first
    step's size times that is where the run's steps are headed.
    """
    opt = facts.optimizer or {}
    u = facts.update_ratios
    beta = float(opt.get("momentum") or 0.0)
    if str(opt.get("name", "")).lower() != "sgd" or not 0.0 < beta < 1.0 or not u \
            or not u.get("values") or (u.get("steps") or [None])[0] != 0:
        return None
    first = np.array(u["values"][0], dtype=float)
    first = first[np.isfinite(first) & (first > 0)]
    return (float(np.median(first)), beta) if first.size else None


def _median_update_ratio(facts: RunFacts) -> float | None:
    u = facts.update_ratios
    if not u or not u.get("values"):
        return None
    vals = np.array(u["values"], dtype=float)
    vals = vals[np.isfinite(vals) & (vals > 0)]
    return float(np.median(vals)) if vals.size else None


@CURVES.register("lr_too_high", codes=[Code.TRAIN_LR_TOO_HIGH],
                 # the batch loss more than 3x its first value early on: cross-entropy
                 # starts at ln C and a sane step only lowers it; first principles
                 SPIKE_FACTOR=3.0,
                 # train loss ending 10% above its first epoch while epochs went by
                 RISE_TOL=0.10,
                 # ||dW||/||W|| per step ~1e-3 is healthy (Karpathy, CS231n "ratio of
                 # updates to weights"); 100x above it the weights are rewritten each step
                 UPDATE_RATIO_HIGH=1e-1,
                 BLOWUP_FACTOR=10.0)
def check_lr_too_high(facts: RunFacts, p: dict[str, Any]) -> list[Finding]:
    reasons: list[str] = []
    ev: dict[str, Any] = {}
    conf, began, began_step = 0.0, None, None
    d = _divergence(facts, p["BLOWUP_FACTOR"])
    if d is not None:
        reasons.append("the loss diverged")
        conf, began, began_step = 0.75, d.get("began_epoch"), d.get("began_step")
    sl = facts.step_loss()
    first_epoch = np.asarray(facts.steps.get("epoch") or [0] * sl.size)
    # windows of >= WINDOW_SAMPLES samples, so batches of 1-8 do not look like spikes
    w = facts.window()
    early_n = int(np.sum(first_epoch == first_epoch[0])) if sl.size else 0
    if early_n >= 3 * w and np.isfinite(sl[:w]).all():
        win = np.array([np.mean(sl[k:k + w]) for k in range(0, early_n - w + 1, w)])
        win = win[np.isfinite(win)]
        if win.size >= 2 and win[0] > 0 and win[1:].max() > p["SPIKE_FACTOR"] * win[0]:
            k = 1 + int(np.argmax(win[1:] > p["SPIKE_FACTOR"] * win[0]))
            reasons.append(f"the batch loss jumped to {win[1:].max():.3g} from {win[0]:.3g}")
            ev.update(spike_loss=float(win[1:].max()), first_loss=float(win[0]),
                      spike_factor=p["SPIKE_FACTOR"], window_steps=w)
            if conf < 0.7:
                conf, began, began_step = 0.7, facts.step_epoch(k * w), k * w
    loss = facts.series("loss")
    if loss.size >= 3 and np.isfinite(loss).all() and loss[0] > 0 \
            and loss[-1] > loss[0] * (1 + p["RISE_TOL"]):
        reasons.append(f"the training loss rose from {loss[0]:.3g} to {loss[-1]:.3g}")
        ev.update(first_epoch_loss=float(loss[0]), last_epoch_loss=float(loss[-1]),
                  rise_tol=p["RISE_TOL"])
        if conf < 0.6:
            conf, began = 0.6, int(np.argmax(loss > loss[0] * (1 + p["RISE_TOL"])))
    ur = _median_update_ratio(facts)
    if ur is not None and ur > p["UPDATE_RATIO_HIGH"]:
        reasons.append(f"each step changes the weights by {ur:.2g} of their size")
        ev.update(median_update_ratio=ur, update_ratio_high=p["UPDATE_RATIO_HIGH"])
        if conf < 0.6:
            conf, began = 0.6, 0
    elif _poorly_fit(facts):
        # the projection is an upper bound (steps compound only while the gradients stay
        # aligned): evidence against a run that fits poorly, not against one that fits
        grown = _momentum_step(facts)
        if grown is not None and grown[0] / (1 - grown[1]) > p["UPDATE_RATIO_HIGH"]:
            first, beta = grown
            reasons.append(
                f"the first step changed the weights by {first:.2g} of their size and "
                f"momentum {beta:g} compounds steps up to {1 / (1 - beta):.0f}x, to "
                f"~{first / (1 - beta):.2g} per step")
            ev.update(projected_update_ratio=first / (1 - beta), first_update_ratio=first,
                      momentum=beta, update_ratio_high=p["UPDATE_RATIO_HIGH"])
            if conf < 0.6:
                conf, began = 0.6, 0
    pos, lr = _lr_position(facts)
    if not reasons and pos == "high" and _not_halved(facts, min_epochs=1):
        # no blow-up to see, but a rate 3x past the usual range on a run that has not even
        # halved its loss: steps that large bounce around instead of descending
        reasons.append("the rate is far above the optimizer's usual range and the loss has "
                       "not even halved")
        conf, began = 0.6, 0
    if not reasons:
        return []
    judged = facts
    then = _rate_at(facts, began)
    if then is not None and (lr is None or then > lr * 1.1):
        # a schedule or callback moved the rate: judge the one in effect when it began
        ev["learning_rate_at_end"] = lr
        lr = then
        judged = replace(facts, optimizer={**(facts.optimizer or {}), "learning_rate": then})
        pos = _lr_position(judged)[0]
    if lr is not None:
        ev["learning_rate"] = lr
        conf = min(0.95, conf + 0.15) if pos == "high" else conf
    steps_large = "median_update_ratio" in ev or "projected_update_ratio" in ev
    if _momentum_made_it(judged):
        beta = float((judged.optimizer or {}).get("momentum") or 0.0)
        return [make_finding(
            Code.TRAIN_LR_TOO_HIGH, Severity.INFO, min(conf, 0.4),
            "Steps too large from the momentum",
            _sentence("; ".join(reasons)) + f". The rate ({lr:.3g}) is in SGD's usual range; "
            f"momentum {beta:g} multiplies it by {1 / (1 - beta):.0f}x (0.9: 10x), so lower "
            "the momentum to 0.9 before the rate.",
            {**ev, "momentum_made_it": True}, began, "lower_lr", began_step=began_step)]
    if _in_usual_range(judged) and not steps_large:
        # the loss blew up or rose, but at a rate in the optimizer's usual range and with
        # steps of ordinary size: that is what an init, raw inputs or a loss do as well,
        # so the rate is advice here; the divergence finding carries "lower the LR" too
        return [make_finding(
            Code.TRAIN_LR_TOO_HIGH, Severity.INFO, min(conf, 0.4),
            "Learning rate possibly too high",
            _sentence("; ".join(reasons)) + f", at a learning rate ({lr:.3g}) in the "
            "optimizer's usual range. Check the inputs' scale, the initialization and the "
            "loss first; if they are sound, lower the learning rate 3-10x.",
            {**ev, "rate_in_usual_range": True}, began, "lower_lr", "lr_range_test",
            began_step=began_step)]
    return [make_finding(
        Code.TRAIN_LR_TOO_HIGH, Severity.ERROR if conf >= 0.7 else Severity.WARNING, conf,
        "Learning rate too high",
        "The learning rate is too high: " + "; ".join(reasons) + ". Steps overshoot the "
        "minimum instead of descending into it; lower the learning rate 3-10x.",
        ev, began, "lower_lr", "lr_range_test", began_step=began_step)]


@CURVES.register("lr_too_low", codes=[Code.TRAIN_LR_TOO_LOW],
                 # steady descent (>= 80% of epochs lower than the one before) yet less than
                 # 15% of the starting loss gone: a sane LR removes far more of ln C within
                 # a few epochs on learnable data; first principles
                 STEADY_FRACTION=0.8, LOW_PROGRESS=0.15, MIN_EPOCHS=3,
                 # ||dW||/||W|| per step 100x below the healthy ~1e-3 (Karpathy, CS231n)
                 UPDATE_RATIO_LOW=1e-5,
                 # "flat" for a decayed schedule: the plateau check's < 1% per epoch
                 PLATEAU_REL=0.01,
                 # with the optimizer unknown, a rate 1000x below its peak: a decade more
                 # than the usual schedule's two /10 steps (He et al. 2016: 0.1 -> 0.001)
                 DECAY_MAX=1e3)
def check_lr_too_low(facts: RunFacts, p: dict[str, Any]) -> list[Finding]:
    reasons: list[str] = []
    ev: dict[str, Any] = {}
    conf = 0.0
    if _divergence(facts, 10.0) is not None:
        return []
    loss = facts.series("loss")
    if loss.size >= p["MIN_EPOCHS"] and np.isfinite(loss).all():
        start = facts.initial_loss() or loss[0]
        start = max(start, loss[0])
        diffs = np.diff(loss)
        steady = float(np.mean(diffs < 0))
        progress = float((start - loss[-1]) / start) if start > 0 else 1.0
        if steady >= p["STEADY_FRACTION"] and 0 <= progress < p["LOW_PROGRESS"]:
            reasons.append(f"the loss fell steadily but only {progress:.0%} in {loss.size} "
                           "epochs")
            ev.update(steady_fraction=steady, progress=progress,
                      low_progress=p["LOW_PROGRESS"], initial_loss=start,
                      last_loss=float(loss[-1]))
            conf = 0.6
    ur = _median_update_ratio(facts)
    if ur is not None and ur < p["UPDATE_RATIO_LOW"] and not _vanishing_signal(facts):
        reasons.append(f"each step changes the weights by only {ur:.2g} of their size")
        ev.update(median_update_ratio=ur, update_ratio_low=p["UPDATE_RATIO_LOW"])
        conf = max(conf, 0.6)
    decayed = _decayed_schedule(facts, p)
    if decayed:
        reasons.append(f"the schedule took the learning rate from {decayed['first_lr']:.3g} "
                       f"to {decayed['last_lr']:.3g} by epoch {decayed['below_epoch'] + 1} "
                       "and the loss has been flat since")
        ev.update(decayed)
        conf = max(conf, 0.75)
    if not reasons:
        return []
    pos, lr = _lr_position(facts)
    severity = Severity.WARNING
    if lr is not None:
        ev["learning_rate"] = lr
        ev["lr_position"] = pos
        if pos == "low":
            conf = min(0.9, conf + 0.2)
        elif pos == "high":
            return []
    if pos != "low" and _gradient_blocked(facts):
        # units that pass no gradient learn at no learning rate: the slow loss is theirs
        return []
    if pos == "typical" and not decayed:
        # the rate is one the optimizer usually trains well with, so a loss that barely
        # moves points elsewhere first (data, model, gradients); raising it is advice
        severity, conf = Severity.INFO, min(conf, 0.4)
    return [make_finding(
        Code.TRAIN_LR_TOO_LOW, severity, conf, "Learning rate too low",
        "The learning rate is too low: " + "; ".join(reasons) + ". Training creeps; raise "
        "the learning rate 3-10x (or pick it with a range test).",
        ev, decayed["below_epoch"] if decayed else 0, "raise_lr", "lr_range_test")]


def _decayed_schedule(facts: RunFacts, p: dict[str, Any]) -> dict[str, Any] | None:
    """A schedule or callback that drove the learning rate below the optimizer's usual
    range for the last MIN_EPOCHS+ epochs, the loss flat since then (not since well before:
    then the rate was not what stopped it) and the model still poorly fit. A cosine
    schedule spends only its last ~6% of epochs that low."""
    lrs = facts.series("learning_rate")
    rng = LR_TYPICAL.get(str((facts.optimizer or {}).get("name", "")).lower())
    k = p["MIN_EPOCHS"]
    if lrs.size < k + 1 or not np.isfinite(lrs).all() or lrs.max() <= 0:
        return None
    # optimizer unknown (a CSV log): judge the rate against its own peak instead
    floor = rng[0] / 3 if rng else float(lrs.max()) / p["DECAY_MAX"]
    decayed = lrs.max() >= floor or lrs[0] > 10 * lrs[-1]
    if not decayed or not (lrs[-k:] < floor).all():
        return None
    start = lrs.size - k
    while start > 0 and lrs[start - 1] < floor:
        start -= 1
    flat = plateau(facts.series("loss"), p["PLATEAU_REL"], k)
    if flat is None or flat["began_epoch"] < start - 1 or not _poorly_fit(facts):
        return None
    return {"first_lr": float(lrs[0]), "last_lr": float(lrs[-1]),
            "below_epoch": int(start), "lr_floor": floor,
            "plateau_began_epoch": flat["began_epoch"]}


def _gradient_blocked(facts: RunFacts) -> bool:
    """Most ReLU units dead, or the first layer getting almost none of the gradient."""
    return bool(check_dying_relu(facts, CURVES.params("dying_relu"))) \
        or _vanishing_signal(facts)


# --------------------------------------------------------------------------------------
# curve shapes
# --------------------------------------------------------------------------------------

def _lr_rose(lr: np.ndarray, n: int) -> np.ndarray:
    """Per epoch 1..n-1: did the learning rate go up at it (a warm restart, a warm-up)?
    The loss rising with it is the schedule's doing, not the optimizer's."""
    up = np.zeros(max(n - 1, 0), dtype=bool)
    m = min(lr.size, n) - 1
    if m > 0:
        up[:m] = lr[1:m + 1] > lr[:m] * (1 + 1e-6)
    return up


def _oscillation(s: np.ndarray, p: dict[str, Any],
                 lr: np.ndarray | None = None) -> dict[str, Any] | None:
    if not np.isfinite(s).all():  # epochs without a value: the rate no longer lines up
        s, lr = s[np.isfinite(s)], None
    if s.size < p["MIN_EPOCHS"]:
        return None
    d = np.diff(s)
    d = d[~_lr_rose(np.asarray([] if lr is None else lr), s.size)]
    nz = d[d != 0]
    if nz.size < 3:
        return None
    alternation = float(np.mean(np.sign(nz[1:]) != np.sign(nz[:-1])))
    level = float(np.median(np.abs(s))) or 1e-12
    amplitude = float(np.median(np.abs(d)) / level)
    trend = float(abs(s[-1] - s[0]) / np.sum(np.abs(d)))
    if alternation >= p["ALTERNATION"] and amplitude >= p["AMPLITUDE"] and trend <= p["TREND"]:
        began = int(np.argmax(np.abs(d) >= p["AMPLITUDE"] * level))
        return {"alternation": alternation, "relative_amplitude": amplitude,
                "trend_ratio": trend, "began_epoch": began}
    return None


def _rise_episodes(s: np.ndarray, lr: np.ndarray, rise: float) -> list[int]:
    """Epochs where a run of rises of the epoch loss begins, each rise > ``rise`` of the
    epoch before; rises at an epoch whose learning rate went up (a warm restart, a
    warm-up) are the schedule's, not the optimizer's, and do not count."""
    starts: list[int] = []
    rising = False
    restart = _lr_rose(lr, s.size)
    for i in range(1, s.size):
        up = s[i] > s[i - 1] * (1 + rise) and not restart[i - 1]
        if up and not rising:
            starts.append(i)
        rising = up or (rising and s[i] >= s[i - 1])
    return starts


def _swings(s: np.ndarray, lr: np.ndarray, p: dict[str, Any]) -> dict[str, Any] | None:
    """Slow swings: the loss rose by more than AMPLITUDE at least twice, falling between,
    and ended near where it began (no trend)."""
    if s.size < p["MIN_EPOCHS"] or not np.isfinite(s).all() or s.min() <= 0:
        return None
    starts = _rise_episodes(s, lr, p["AMPLITUDE"])
    path = float(np.sum(np.abs(np.diff(s)))) or 1e-12
    trend = float(abs(s[-1] - s[0]) / path)
    if len(starts) < p["RISES"] or trend > p["TREND"]:
        return None
    return {"rises_beginning": starts, "rise_threshold": p["AMPLITUDE"],
            "trend_ratio": trend, "began_epoch": starts[0]}


@CURVES.register("oscillation", codes=[Code.TRAIN_OSCILLATION, Code.TRAIN_LR_TOO_HIGH],
                 # iid noise flips the sign of successive differences 2/3 of the time,
                 # a trend almost never: >= 1/2 flips means no trend; first principles
                 ALTERNATION=0.5,
                 # epoch means average hundreds of batches, so a healthy curve moves by
                 # a few % per epoch; median swings of >= 10% of its level are not noise
                 AMPLITUDE=0.10,
                 # net change <= 30% of the path travelled: swings dominate the trend
                 TREND=0.3, MIN_EPOCHS=6,
                 # slow swings: the mean training loss over a whole epoch rising by more
                 # than AMPLITUDE twice, falling in between. At a fixed rate it only falls
                 # on a sound run (the epoch mean averages hundreds of batches, and a
                 # model that fits the training set better does not get worse on it), so
                 # one rise is a bump and two separate ones a swing
                 RISES=2)
def check_oscillation(facts: RunFacts, p: dict[str, Any]) -> list[Finding]:
    lr = facts.series("learning_rate")
    for key in ("loss", "val_loss"):
        o = _oscillation(facts.series(key), p, lr)
        if o is not None:
            how = f"by a median {o['relative_amplitude']:.0%} per epoch"
        elif key == "loss":
            o = _swings(facts.series(key), lr, p)
            how = (f"more than {p['AMPLITUDE']:.0%} up at epochs "
                   + ", ".join(str(e + 1) for e in o["rises_beginning"])) if o else ""
        if o is None:
            continue
        ev = {"series": key, **{k: v for k, v in o.items() if k != "began_epoch"},
              "alternation_threshold": p["ALTERNATION"], "amplitude_threshold": p["AMPLITUDE"],
              "trend_threshold": p["TREND"]}
        out = [make_finding(
            Code.TRAIN_OSCILLATION, Severity.WARNING, 0.7, f"{key} oscillates without trend",
            f"`{key}` swings up and down ({how}) with no net progress. The steps are too "
            "large for the loss surface: lower the learning rate (or the momentum) or "
            "reduce it when the loss stalls.",
            ev, o["began_epoch"], "lower_lr", "reduce_lr_on_plateau")]
        if key == "loss":
            out.append(make_finding(
                Code.TRAIN_LR_TOO_HIGH, Severity.WARNING, 0.5, "Learning rate likely too high",
                "The training loss oscillates without trend, the usual sign of a learning "
                "rate that is too high.", ev, o["began_epoch"], "lower_lr"))
        return out
    return []


def _n_for(key: str, facts: RunFacts) -> int | None:
    return facts.n_val if key.startswith("val_") else facts.n_train


@CURVES.register("stuck_at_chance", codes=[Code.TRAIN_STUCK_AT_CHANCE],
                 # accuracy within 3 binomial standard deviations of the chance level on n
                 # samples: sqrt(p(1-p)/n); first principles
                 Z=3.0,
                 # n assumed when the sample count is unknown: a small validation split
                 N_UNKNOWN=500,
                 # judge only after 2 epochs: the first epoch's mean includes the start
                 MIN_EPOCHS=2,
                 # without accuracy: loss within 3% of ln C is the uniform prediction
                 LOSS_TOL=0.03)
def check_stuck_at_chance(facts: RunFacts, p: dict[str, Any]) -> list[Finding]:
    if facts.n_epochs < p["MIN_EPOCHS"] or _divergence(facts, 10.0) is not None:
        return []
    c, c_src = facts.classes()
    if c is None:
        return []
    chance = max(1.0 / c, facts.majority_fraction or 0.0)
    ak = facts.acc_key()
    keys = [k for k in (f"val_{ak}", ak) if ak and k in facts.history]
    ev: dict[str, Any] = {"n_classes": c, "n_classes_source": c_src, "chance": chance}
    stuck_keys = []
    began = 0
    for key in keys:
        s = facts.series(key)
        if not np.isfinite(s[-1]):
            continue
        n = _n_for(key, facts) or p["N_UNKNOWN"]
        band = chance + p["Z"] * math.sqrt(chance * (1 - chance) / n)
        above = np.where(np.nan_to_num(s, nan=0.0) > band)[0]
        if s[-1] <= band:
            stuck_keys.append(key)
            began = max(began, int(above[-1]) + 1 if above.size else 0)
            ev[f"{key}_last"] = float(s[-1])
            ev[f"{key}_band"] = round(band, 4)
            ev[f"{key}_n"] = n
    if keys and not stuck_keys:
        return []
    if keys and len(stuck_keys) < len(keys) and stuck_keys == [ak]:
        return []  # validation is above chance: the model learns something
    if not keys:
        loss = facts.series("loss")
        lnc = math.log(c)
        if c_src != "given" or not loss.size or not np.isfinite(loss[-1]) \
                or abs(loss[-1] - lnc) > p["LOSS_TOL"] * lnc:
            return []
        ev.update(last_loss=float(loss[-1]), ln_c=lnc, loss_tol=p["LOSS_TOL"])
    return [make_finding(
        Code.TRAIN_STUCK_AT_CHANCE, Severity.ERROR, 0.9 if keys else 0.7,
        "Accuracy stuck at chance",
        f"The model predicts no better than chance ({chance:.3g} for {c} classes) after "
        f"{facts.n_epochs} epochs: it has learned nothing usable. Look for the cause above "
        "(labels, learning rate, inputs, output layer).",
        ev, began, "raise_lr")]


@CURVES.register("overfitting", codes=[Code.TRAIN_OVERFITTING],
                 # validation loss 10% above its best, 2+ epochs after the best, while the
                 # training loss keeps falling (Keras EarlyStopping's signal, with margin)
                 RISE=0.10, PATIENCE=2, MIN_EPOCHS=4)
def check_overfitting(facts: RunFacts, p: dict[str, Any]) -> list[Finding]:
    v, t = facts.series("val_loss"), facts.series("loss")
    if v.size < p["MIN_EPOCHS"] or t.size != v.size or not np.isfinite(v).all() \
            or not np.isfinite(t).all():
        return []
    best = int(np.argmin(v))
    if v.size - 1 - best < p["PATIENCE"] or v[-1] <= v[best] * (1 + p["RISE"]) \
            or t[-1] >= t[best]:
        return []
    ev = {"best_epoch": best, "best_val_loss": float(v[best]), "last_val_loss": float(v[-1]),
          "train_loss_at_best": float(t[best]), "last_train_loss": float(t[-1]),
          "rise_threshold": p["RISE"]}
    ak = facts.acc_key()
    if ak and f"val_{ak}" in facts.history:
        ev["last_gap_accuracy"] = float(facts.series(ak)[-1] - facts.series(f"val_{ak}")[-1])
    return [make_finding(
        Code.TRAIN_OVERFITTING, Severity.WARNING, 0.8, "Overfitting",
        f"Validation loss was best at epoch {best + 1} ({v[best]:.3g}) and rose to "
        f"{v[-1]:.3g} while training loss kept falling: the model memorizes the training "
        "set. Stop at the best epoch and add regularization.",
        ev, best + 1, "early_stopping", "augment", "dropout")]


def _trend(s: np.ndarray, k: int) -> tuple[float, float]:
    """Relative slope per epoch (positive = falling) and share of falling steps, last k."""
    tail = s[-k:]
    slope = float(np.polyfit(np.arange(tail.size), tail, 1)[0])
    level = float(np.mean(np.abs(tail))) or 1e-12
    return -slope / level, float(np.mean(np.diff(tail) < 0))


# Metrics that improve upwards (Keras' MonitorCallback infers "max" for these in auto
# mode); a loss or error improves downwards.
HIGHER_IS_BETTER = ("acc", "auc", "precision", "recall", "f1", "iou")
LOWER_IS_BETTER = ("loss", "error", "mse", "mae", "crossentropy", "hinge")


def _wrong_direction(es: Mapping[str, Any]) -> bool:
    name = str(es.get("monitor", "")).lower().removeprefix("val_")
    mode = es.get("mode")
    return (mode == "min" and any(w in name for w in HIGHER_IS_BETTER)) or \
        (mode == "max" and any(w in name for w in LOWER_IS_BETTER))


@CURVES.register("early_stopping_direction", codes=[Code.TRAIN_UNDERFITTING])
def check_early_stopping_direction(facts: RunFacts, p: dict[str, Any]) -> list[Finding]:
    """EarlyStopping told to minimise an accuracy (or maximise a loss): every improvement
    counts as getting worse, so it stops as soon as the model learns and, with
    restore_best_weights, restores the worst epoch (first principles)."""
    es = facts.early_stopping or {}
    if not _wrong_direction(es):
        return []
    monitor, mode = es.get("monitor"), es.get("mode")
    right = "max" if mode == "min" else "min"
    restore = bool(es.get("restore_best_weights"))
    return [make_finding(
        Code.TRAIN_UNDERFITTING, Severity.ERROR if restore else Severity.WARNING, 0.9,
        f"EarlyStopping minimises the wrong way (monitor={monitor!r}, mode={mode!r})",
        f"With mode={mode!r}, EarlyStopping counts every improvement of `{monitor}` as "
        "getting worse: it stops once the model starts to learn"
        + (" and restores the weights of the worst epoch" if restore else "")
        + f". Use mode={right!r} (or 'auto').",
        # a setting fixed before training, not a reaction to it: ranks as a cause
        {"monitor": monitor, "mode": mode, "expected_mode": right,
         "restore_best_weights": restore, AT_INIT: True}, 0, "early_stopping")]


@CURVES.register("still_improving", codes=[Code.TRAIN_UNDERFITTING],
                 # the monitored loss still falling >1%/epoch over the last 20% of epochs
                 # (>= 3), consistently (>= 2/3 of those epochs lower): it was stopped on a
                 # slope, not a plateau (EarlyStopping's min_delta idea, relative)
                 REL_SLOPE=0.01, TAIL_FRACTION=0.2, MIN_TAIL=3, FALLING_FRACTION=2 / 3,
                 # a run this short cannot show a plateau at all (it needs MIN_TAIL + 1
                 # points); Keras' own image-classification examples train 15-50 epochs
                 SHORT_RUN=3,
                 # EarlyStopping with patience 0-1 ends a run on a single noisy epoch; Keras
                 # examples use 5-10 (epoch-to-epoch validation noise is ~1/sqrt(n_val))
                 IMPATIENT=1)
def check_still_improving(facts: RunFacts, p: dict[str, Any]) -> list[Finding]:
    """Stopped while still improving. A steadily improving run is converging: that is
    advice (info). It is a warning when the run could not converge: it had only a few
    epochs, or an impatient EarlyStopping ended it while the training loss still fell."""
    key = "val_loss" if facts.series("val_loss").size else "loss"
    s = facts.series(key)
    if s.size < 2 or not np.isfinite(s).all():
        return []
    stopped_early = bool(facts.epochs_planned and s.size < facts.epochs_planned)
    es = facts.early_stopping or {}
    if stopped_early:
        patience = es.get("patience")
        train = facts.series("loss")
        if patience is None or patience > p["IMPATIENT"] or train.size < 2 or \
                not np.isfinite(train).all():
            return []  # stopped on purpose (EarlyStopping) or still running
        k = min(train.size - 1, p["MIN_TAIL"])
        rel, falling = _trend(train, k + 1)
        if rel <= p["REL_SLOPE"] or falling < p["FALLING_FRACTION"]:
            return []
        return [make_finding(
            Code.TRAIN_UNDERFITTING, Severity.WARNING, 0.7, "Stopped by an impatient "
            "EarlyStopping", f"EarlyStopping(patience={patience}) ended the run after "
            f"{s.size} of {facts.epochs_planned} epochs, while the training loss was still "
            f"falling {rel:.1%} per epoch: one epoch without enough gain on "
            f"`{es.get('monitor', 'val_loss')}` is noise, not convergence.",
            {"series": "loss", "relative_slope_per_epoch": rel, "falling_fraction": falling,
             "patience": patience, "patience_threshold": p["IMPATIENT"],
             "epochs_run": int(s.size), "epochs_planned": facts.epochs_planned},
            s.size - 1, "more_epochs")]
    if s.size <= p["SHORT_RUN"]:
        rel, falling = _trend(s, s.size)
        if rel <= p["REL_SLOPE"] or falling < p["FALLING_FRACTION"]:
            return []
        return [make_finding(
            Code.TRAIN_UNDERFITTING, Severity.WARNING, 0.7, f"Only {s.size} epochs",
            f"Training stopped after {s.size} epochs with `{key}` still falling {rel:.1%} "
            "per epoch: too short to converge, or to tell a healthy run from a faulty one.",
            {"series": key, "relative_slope_per_epoch": rel, "falling_fraction": falling,
             "epochs_run": int(s.size), "short_run_threshold": p["SHORT_RUN"],
             "slope_threshold": p["REL_SLOPE"]},
            s.size - 1, "more_epochs")]
    k = max(p["MIN_TAIL"], math.ceil(p["TAIL_FRACTION"] * s.size))
    if s.size < k + 1:
        return []
    rel, falling = _trend(s, k)
    if rel <= p["REL_SLOPE"] or falling < p["FALLING_FRACTION"]:
        return []
    return [make_finding(
        Code.TRAIN_UNDERFITTING, Severity.INFO, 0.6, "Still improving when stopped",
        f"`{key}` was still falling {rel:.1%} per epoch over the last {k} epochs when training "
        "stopped: the run is converging, and more epochs would give a better model.",
        {"series": key, "relative_slope_per_epoch": rel, "falling_fraction": falling,
         "tail_epochs": k, "slope_threshold": p["REL_SLOPE"]},
        s.size - k, "more_epochs")]


def plateau(s: np.ndarray, rel: float, patience: int) -> dict[str, Any] | None:
    """The plateau the series ends on: ``patience``+ epochs with < ``rel`` improvement.

    Example:
        >>> plateau(np.array([2.0, 1.0, 0.9, 0.9, 0.9, 0.9]), 0.01, 3)["began_epoch"]
        2
    """
    s = s[np.isfinite(s)]
    if s.size < patience + 1:
        return None
    began = s.size - 1
    while began > 0:
        window = s[began - 1:]
        if window.min() < s[began - 1] * (1 - rel) - 1e-12 or \
                window.max() - window.min() > abs(s[began - 1]) * rel * 2 + 1e-12:
            break
        began -= 1
    if s.size - began < patience + 1:
        return None
    return {"began_epoch": began, "level": float(s[began]), "epochs": int(s.size - began)}


@CURVES.register("plateau", codes=[Code.TRAIN_OPTIMIZER],
                 # < 1% relative change for 3+ epochs: flat (ReduceLROnPlateau's
                 # min_delta/patience idea, relative; Keras' default patience is 10)
                 REL=0.01, PATIENCE=3,
                 # only worth advice while the model is far from fitting: train accuracy
                 # below 0.9 (or no accuracy known)
                 MAX_ACCURACY=0.9)
def check_plateau(facts: RunFacts, p: dict[str, Any]) -> list[Finding]:
    pl = plateau(facts.series("loss"), p["REL"], p["PATIENCE"])
    if pl is None:
        return []
    ak = facts.acc_key()
    if ak and facts.series(ak)[-1] >= p["MAX_ACCURACY"]:
        return []
    lr = facts.series("learning_rate")
    if lr.size and np.isfinite(lr).all() and lr[-1] < lr[pl["began_epoch"]]:
        return []  # the learning rate is already being reduced
    return [make_finding(
        Code.TRAIN_OPTIMIZER, Severity.INFO, 0.5, "Loss plateaued",
        f"The training loss has been flat at {pl['level']:.3g} since epoch "
        f"{pl['began_epoch'] + 1} with the learning rate unchanged. Reducing the learning "
        "rate on plateau often restarts progress.",
        {"plateau": pl, "rel_threshold": p["REL"], "patience": p["PATIENCE"]},
        pl["began_epoch"], "reduce_lr_on_plateau")]


# --------------------------------------------------------------------------------------
# settings: batch size, optimizer, regularization
# --------------------------------------------------------------------------------------

def _not_halved(facts: RunFacts, min_epochs: int) -> bool:
    """A poorly fit run of ``min_epochs``+ finite epochs whose training loss still sits above
    half its starting value."""
    loss = facts.series("loss")
    start = facts.initial_loss() or (loss[0] if loss.size else 0.0)
    return bool(loss.size >= min_epochs and np.isfinite(loss).all() and start > 0
                and loss[-1] > 0.5 * start and _poorly_fit(facts))


def _poorly_fit(facts: RunFacts) -> bool:
    ak = facts.acc_key()
    if ak:
        return bool(facts.series(ak)[-1] < 0.9)
    loss = facts.series("loss")
    l0 = facts.initial_loss()
    return bool(loss.size and l0 and loss[-1] > 0.3 * l0)


@CURVES.register("batch_size", codes=[Code.TRAIN_BATCH_SIZE, Code.TRAIN_UNDERFITTING],
                 # fewer than 100 optimizer updates in the whole run: SGD-type methods need
                 # hundreds to thousands of steps; first principles
                 MIN_UPDATES=100, MAX_STEPS_PER_EPOCH=10,
                 # an epoch that covers under half the training set (steps_per_epoch set
                 # below n / batch_size): the run is short because its epochs are, not
                 # because its batches are large
                 PARTIAL_EPOCH=0.5,
                 # batches under 8 samples: per-step noise ~1/sqrt(B) and slow epochs
                 # (BatchNorm statistics are unreliable below ~8: Wu & He 2018, Fig. 1)
                 SMALL_BATCH=8)
def check_batch_size(facts: RunFacts, p: dict[str, Any]) -> list[Finding]:
    spe = facts.steps_per_epoch
    if not spe and facts.batch_size and facts.n_train:
        spe = math.ceil(facts.n_train / facts.batch_size)
    out = []
    if spe and facts.n_epochs:
        total = spe * max(facts.n_epochs, facts.epochs_planned or 0)  # planned, not so far
        seen = spe * facts.batch_size if facts.batch_size else None
        partial = bool(seen and facts.n_train and seen < p["PARTIAL_EPOCH"] * facts.n_train)
        if partial and total < p["MIN_UPDATES"] and _poorly_fit(facts):
            out.append(make_finding(
                Code.TRAIN_UNDERFITTING, Severity.WARNING, 0.7,
                "Each epoch sees a fraction of the training set",
                f"steps_per_epoch={spe} at batch size {facts.batch_size} covers {seen:,} of "
                f"the {facts.n_train:,} training samples per epoch, so the whole run makes "
                f"{total} optimizer steps: far too little training. Let each epoch cover the "
                "data: drop steps_per_epoch, or set it to ceil(n / batch_size).",
                {"steps_per_epoch": spe, "batch_size": facts.batch_size,
                 "samples_per_epoch": seen, "n_train": facts.n_train, "total_updates": total,
                 "min_updates": p["MIN_UPDATES"], "partial_epoch": p["PARTIAL_EPOCH"],
                 AT_INIT: True},  # a fit setting, known before the first step: a cause
                0, "full_epochs"))
        elif spe <= p["MAX_STEPS_PER_EPOCH"] and total < p["MIN_UPDATES"] and \
                _poorly_fit(facts):
            out.append(make_finding(
                Code.TRAIN_BATCH_SIZE, Severity.WARNING, 0.6, "Batch too large: too few steps",
                f"Each epoch makes only {spe} optimizer step(s) ({total} in the run), too few "
                "for the model to fit. Use a batch size of 32-256 so each epoch makes many "
                "updates.",
                {"steps_per_epoch": spe, "total_updates": total, "batch_size": facts.batch_size,
                 "min_updates": p["MIN_UPDATES"]}, 0, "batch_size"))
    if facts.batch_size and facts.batch_size < p["SMALL_BATCH"]:
        # advice on a run that fits well; the likely cause of a noisy, poor fit otherwise
        poor = _poorly_fit(facts)
        out.append(make_finding(
            Code.TRAIN_BATCH_SIZE, Severity.WARNING if poor else Severity.INFO,
            0.75 if poor else 0.5, "Batch very small",
            f"A batch of {facts.batch_size} gives noisy gradient estimates, unreliable "
            "BatchNormalization statistics and slow epochs; 32-256 is the usual range.",
            {"batch_size": facts.batch_size, "small_batch": p["SMALL_BATCH"]}, 0, "batch_size"))
    return out


def _clip_shortening(facts: RunFacts) -> tuple[str, float, float] | None:
    """(setting, its value, how many times the gradient measured at the first sample
    exceeds it) for the optimizer's clipnorm (per variable: the median layer's norm),
    global_clipnorm (all layers' norm) or clipvalue (per element: the median layer's
    RMS element); ``None`` without clipping or gradient samples."""
    opt = facts.optimizer or {}
    g = facts.grad_norms
    if not g or not g.get("values"):
        return None
    norms = np.array(g["values"][0], dtype=float)
    sizes = np.array(g.get("sizes") or [1] * norms.size, dtype=float)
    ok = np.isfinite(norms) & (norms > 0)
    if not ok.any():
        return None
    measured = {"clipnorm": float(np.median(norms[ok])),
                "global_clipnorm": float(np.sqrt(np.sum(norms[ok] ** 2))),
                "clipvalue": float(np.median(norms[ok] / np.sqrt(np.maximum(sizes[ok], 1))))}
    worst = None
    for kind, size in measured.items():
        limit = opt.get(kind)
        if isinstance(limit, (int, float)) and limit > 0:
            factor = size / float(limit)
            if worst is None or factor > worst[2]:
                worst = (kind, float(limit), factor)
    return worst


# Optimizers whose Keras 3 default rate is far below the one they were designed for:
# (threshold parameter, name, why, the rate to use instead).
_DEFAULT_LR_TRAPS = {
    "adadelta": ("ADADELTA_MIN_LR", "Adadelta",
                 "Adadelta was designed to run with learning rate 1.0 (the old Keras "
                 "default); Keras 3 defaults to 0.001, so each step is ~1000x too small,", "1.0"),
    "adagrad": ("ADAGRAD_MIN_LR", "Adagrad",
                "Adagrad's step starts at the learning rate and only shrinks as squared "
                "gradients accumulate; old Keras and PyTorch start it at 0.01, Keras 3 at "
                "0.001,", "0.01"),
}


@CURVES.register("optimizer", codes=[Code.TRAIN_OPTIMIZER],
                 # Adadelta was designed to need no learning rate (Zeiler 2012: the update
                 # is used as is, i.e. lr 1.0, the old Keras default); Keras 3 defaults to
                 # 0.001, a 1000x smaller step (tensorflow#32950)
                 ADADELTA_MIN_LR=0.1,
                 # Adagrad's base rate is 0.01 in old Keras and PyTorch; tf.keras changed
                 # its default to 0.001 (tensorflow#30941), and Adagrad's step only shrinks
                 # from there as squared gradients accumulate (Duchi et al. 2011)
                 ADAGRAD_MIN_LR=0.01,
                 # Adam-type epsilon above 0.1 exceeds the gradient RMS of a typical network
                 # (1e-3..1e-1), so sqrt(v) + eps ~ eps: no per-weight scaling, plain SGD at
                 # lr/eps (tensorflow#36785); Keras' default is 1e-7
                 ADAM_MAX_EPSILON=0.1,
                 # gradient clipping at a tenth of the gradients' own size or less shortens
                 # every step at least 10x: the clip, not the rate, sets the step
                 # (fizyr/keras-retinanet#942: clipnorm=0.001); first principles
                 CLIP_FACTOR=10.0)
def check_optimizer(facts: RunFacts, p: dict[str, Any]) -> list[Finding]:
    opt = facts.optimizer or {}
    name = str(opt.get("name", "")).lower()
    loss = facts.series("loss")
    # a clip far below the gradients is measured at the first sample: one epoch that has
    # not halved the loss is enough (a run stopped early on its error still shows it); the
    # other rules judge 3+ epochs
    if not _not_halved(facts, min_epochs=1):
        return []
    ev = {"optimizer": opt, "initial_loss": facts.initial_loss(), "last_loss": float(loss[-1])}
    clip = _clip_shortening(facts)
    if clip is not None and clip[2] >= p["CLIP_FACTOR"]:
        kind, limit, factor = clip
        return [make_finding(
            Code.TRAIN_OPTIMIZER, Severity.WARNING, 0.85, f"{kind}={limit:g} clips every step",
            f"The gradients are ~{factor:.0f}x larger than {kind}={limit:g}, so every update "
            "is cut to a small fraction of what the learning rate asks for and the loss has "
            f"not even halved. Use {kind}=1.0 (or drop it).",
            {**ev, "clip": kind, "clip_limit": limit, "shortening": factor,
             "threshold": {"shortening_max": p["CLIP_FACTOR"]}}, 0, "loosen_clip")]
    if not _not_halved(facts, min_epochs=3):
        return []
    lr, eps = opt.get("learning_rate"), opt.get("epsilon")
    low = _DEFAULT_LR_TRAPS.get(name)
    if low is not None and lr is not None and lr < p[low[0]]:
        key, title, why, fix = low
        return [make_finding(
            Code.TRAIN_OPTIMIZER, Severity.WARNING, 0.85, f"{title} at learning rate {lr:g}",
            why + " and the loss has not even halved. Use "
            f"{title}(learning_rate={fix}), or Adam.",
            {**ev, "threshold": {"learning_rate_min": p[key]}}, 0, "adam")]
    if name in ("adam", "adamw", "nadam", "adamax", "rmsprop") and eps is not None and \
            eps > p["ADAM_MAX_EPSILON"]:
        return [make_finding(
            Code.TRAIN_OPTIMIZER, Severity.WARNING, 0.85, f"{name} with epsilon={eps:g}",
            f"An epsilon of {eps:g} dwarfs the gradients' running RMS, so the optimizer "
            "loses its per-weight scaling and behaves like plain SGD with a tiny step; the "
            "loss has not even halved. Keep the default epsilon (1e-7).",
            {**ev, "threshold": {"epsilon_max": p["ADAM_MAX_EPSILON"]}}, 0, "adam")]
    if name != "sgd":
        return []
    beta = float(opt.get("momentum") or 0.0)
    pos, _ = _lr_position(facts)
    if pos == "high" and beta > 0 and lr is not None and \
            float(lr) <= LR_TYPICAL["sgd"][1] * 3:
        # the rate alone is in range; momentum's 1 / (1 - beta) is what makes the step big
        return [make_finding(
            Code.TRAIN_OPTIMIZER, Severity.WARNING, 0.7, f"SGD momentum {beta:g} is too high",
            f"Momentum {beta:g} multiplies each step by up to 1/(1 - {beta:g}) = "
            f"{1 / (1 - beta):.0f}x once velocity builds up, so learning rate {float(lr):g} "
            "acts like a far larger one and the loss has not even halved. Use momentum 0.9 "
            "(or lower the learning rate by the same factor).",
            {**ev, "effective_lr": effective_lr(opt), "threshold": {
                "effective_lr_max": LR_TYPICAL["sgd"][1] * 3}}, 0, "lower_lr")]
    if beta > 0 or pos == "high" or check_lr_too_high(facts, CURVES.params("lr_too_high")):
        return []  # with a too high rate, the missing momentum is not what holds it back
    return [make_finding(
        Code.TRAIN_OPTIMIZER, Severity.WARNING, 0.6, "Plain SGD without momentum learns slowly",
        "The optimizer is SGD with no momentum and the loss has not even halved. Adam (or "
        "SGD with momentum 0.9) reaches a good fit in far fewer epochs.", ev, 0, "adam")]


def _accuracy_gap(facts: RunFacts, p: Mapping[str, Any]) -> tuple[float, float, bool] | None:
    """(train, validation accuracy at the last epoch, whether train exceeds validation by
    more than ``p["GAP"]`` and ``p["Z"]`` binomial sigmas); None without both series."""
    ak = facts.acc_key()
    if not ak or f"val_{ak}" not in facts.history:
        return None
    tr, va = float(facts.series(ak)[-1]), float(facts.series(f"val_{ak}")[-1])
    n = facts.n_val or p["N_UNKNOWN"]
    sigma = math.sqrt(max(va * (1 - va), 1e-4) / n)
    return tr, va, bool(tr - va > max(p["GAP"], p["Z"] * sigma))


@CURVES.register("no_regularization", codes=[Code.TRAIN_NO_REGULARIZATION],
                 # train-validation accuracy gap > 10 points and > 3 binomial sigmas of the
                 # validation accuracy: more than noise; first principles
                 GAP=0.10, Z=3.0, N_UNKNOWN=500)
def check_no_regularization(facts: RunFacts, p: dict[str, Any]) -> list[Finding]:
    reg = facts.regularization
    if not reg or any(reg.get(k) for k in ("dropout", "weight_decay", "augmentation")):
        return []
    gap = _accuracy_gap(facts, p)
    has_gap, gap_ok = gap is not None, bool(gap and gap[2])
    ev: dict[str, Any] = {"regularization": reg}
    if gap:
        ev.update(train_accuracy=gap[0], val_accuracy=gap[1], gap_threshold=p["GAP"])
    over = check_overfitting(facts, CURVES.params("overfitting"))
    if not (gap_ok or over):
        return []
    began = over[0].evidence["began_epoch"] if over else 0
    # regularization trades training fit for generalization: while the training set itself
    # is fit poorly, adding it is not the next step (advice, not a warning)
    poor = _poorly_fit(facts)
    ev["poorly_fit"] = poor
    # a validation loss that rises while both accuracies stay together is the model
    # growing over-confident, which costs calibration, not accuracy: advice as well
    small_gap = has_gap and not gap_ok
    return [make_finding(
        Code.TRAIN_NO_REGULARIZATION,
        Severity.INFO if poor or small_gap else Severity.WARNING, 0.7,
        "No regularization",
        "The model has no dropout, weight decay or augmentation and it fits the training set "
        "much better than the validation set. Add augmentation and dropout or weight decay.",
        ev, began, "augment", "dropout", "weight_decay")]


# --------------------------------------------------------------------------------------
# gradients and activations (from the Monitor's samples)
# --------------------------------------------------------------------------------------

def _sample_epoch(d: Mapping[str, Any], i: int) -> int | None:
    ep = d.get("epochs") or []
    return int(ep[i]) if i < len(ep) else None


def _sample_step(d: Mapping[str, Any], i: int) -> int | None:
    st = d.get("steps") or []
    return int(st[i]) if i < len(st) else None


def _vanishing_signal(facts: RunFacts) -> bool:
    return bool(check_vanishing(facts, CURVES.params("vanishing_gradients")))


@CURVES.register("exploding_gradients", codes=[Code.TRAIN_EXPLODING_GRADIENTS],
                 # global gradient norm 1000x its first sample: growth without bound, far
                 # beyond the ~10x swings of healthy training (Pascanu et al. 2013 clip at
                 # a few times the typical norm)
                 GROWTH=1e3,
                 # the weights (all layers) at least doubled between two samples ...
                 WEIGHT_GROWTH=2.0,
                 # ... at a pace of more than 0.1 of their size per step: by the triangle
                 # inequality some step changed them by >= (growth - 1) / steps, and 0.1 is
                 # 100x the healthy ~1e-3 ratio of updates to weights (Karpathy, CS231n),
                 # as UPDATE_RATIO_HIGH of lr_too_high
                 WEIGHT_STEP_HIGH=0.1)
def check_exploding(facts: RunFacts, p: dict[str, Any]) -> list[Finding]:
    g = facts.grad_norms
    if not g or not g.get("values"):
        return _weights_blown_up(facts, p)
    vals = np.array(g["values"], dtype=float)
    total = np.sqrt(np.sum(np.square(vals), axis=1))
    bad = ~np.isfinite(total)
    base = total[np.isfinite(total) & (total > 0)]
    if base.size:
        bad |= np.nan_to_num(total, nan=0.0, posinf=np.inf) > p["GROWTH"] * base[0]
    if not bad.any():
        return _weights_blown_up(facts, p)
    i = int(np.argmax(bad))
    return [make_finding(
        Code.TRAIN_EXPLODING_GRADIENTS, Severity.ERROR, 0.85, "Exploding gradients",
        f"The gradient norm grew from {base[0] if base.size else float('nan'):.3g} to "
        f"{total[i]:.3g}: updates this large destroy what was learned. Clip gradients and "
        "lower the learning rate.",
        {"first_norm": float(base[0]) if base.size else None, "norm": float(total[i]),
         "growth_threshold": p["GROWTH"]},
        _sample_epoch(g, i), "grad_clip", "lower_lr", began_step=_sample_step(g, i))]


def _weights_blown_up(facts: RunFacts, p: dict[str, Any]) -> list[Finding]:
    """Exploding updates seen in the weights: between two samples the network's weights
    (all layers together) grew WEIGHT_GROWTH-fold at more than WEIGHT_STEP_HIGH of their
    size per step.

    The gradient samples can miss the burst (a few steps of growth, then dead units whose
    gradients are tiny); the weights keep it. All layers together, so that one layer
    initialised tiny (a near-zero head) growing to its working size does not count. Only
    for plain SGD (with or without momentum), whose step is the gradient times a fixed
    rate: adaptive optimizers bound each step by the rate, so their weights growing this
    fast is a rate problem (TRAIN_LR_TOO_HIGH), not the gradients'.
    """
    w = facts.weight_norms
    if str((facts.optimizer or {}).get("name", "")).lower() != "sgd" or not w \
            or len(w.get("values") or []) < 2:
        return []
    vals = np.array(w["values"], dtype=float)
    steps = np.array(w.get("steps") or [], dtype=float)
    if steps.size != len(vals) or vals.ndim != 2:
        return []
    total = np.sqrt(np.sum(np.square(vals), axis=1))
    for i in range(1, len(vals)):
        k = steps[i] - steps[i - 1]
        if not (np.isfinite(total[i - 1]) and np.isfinite(total[i]) and total[i - 1] > 0
                and k > 0):
            continue
        growth = total[i] / total[i - 1]
        pace = (growth - 1.0) / k
        if growth < p["WEIGHT_GROWTH"] or pace <= p["WEIGHT_STEP_HIGH"]:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            per_layer = np.where(vals[i - 1] > 0, vals[i] / vals[i - 1], 0.0)
        j = int(np.nanargmax(np.nan_to_num(per_layer, nan=0.0, posinf=0.0)))
        layer = (w.get("layers") or [f"layer {j}"] * (j + 1))[j]
        return [make_finding(
            Code.TRAIN_EXPLODING_GRADIENTS, Severity.WARNING, 0.7, "Exploding updates",
            f"The network's weights grew {growth:.1f}x in {int(k)} steps (at least "
            f"{pace:.2g} of their size per step; healthy steps are ~0.001), {layer}'s "
            f"{per_layer[j]:.1f}x: the gradient steps are blowing up. Clip gradients and "
            "lower the learning rate.",
            {"weight_growth": float(growth), "steps": int(k), "min_step_ratio": float(pace),
             "layer": layer, "layer_growth": float(per_layer[j]),
             "growth_threshold": p["WEIGHT_GROWTH"],
             "step_ratio_threshold": p["WEIGHT_STEP_HIGH"], "from_step": int(steps[i - 1])},
            _sample_epoch(w, i), "grad_clip", "lower_lr", began_step=_sample_step(w, i))]
    return []


@CURVES.register("vanishing_gradients", codes=[Code.TRAIN_VANISHING_GRADIENTS],
                 # RMS gradient of the first trainable layer under 1/1000 of the last
                 # layer's (median over samples): with Glorot/He init the per-layer
                 # gradient variance stays within ~10x across depth (Glorot & Bengio 2010;
                 # He et al. 2015), so 1000x is far outside healthy
                 RATIO=1e-3,
                 # most activations of sigmoid/tanh units in their flat tails
                 SATURATED=0.5)
def check_vanishing(facts: RunFacts, p: dict[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    g = facts.grad_norms
    if g and g.get("values") and len(g.get("layers") or []) >= 2:
        vals = np.array(g["values"], dtype=float)
        sizes = np.array(g.get("sizes") or [1] * vals.shape[1], dtype=float)
        rms = vals / np.sqrt(np.maximum(sizes, 1))
        first, last = rms[:, 0], rms[:, -1]
        ok = np.isfinite(first) & np.isfinite(last) & (last > 0)
        if ok.any():
            ratio = first[ok] / last[ok]
            med = float(np.median(ratio))
            if med < p["RATIO"]:
                i = int(np.argmax(ok & (np.divide(first, np.where(last > 0, last, 1))
                                        < p["RATIO"])))
                out.append(make_finding(
                    Code.TRAIN_VANISHING_GRADIENTS,
                    Severity.ERROR if med < p["RATIO"] ** 2 else Severity.WARNING, 0.75,
                    "Vanishing gradients",
                    f"The first layer ({g['layers'][0]}) gets {med:.2g} of the gradient the "
                    f"last layer ({g['layers'][-1]}) gets (per weight): early layers barely "
                    "learn. Use ReLU with He initialization, or add BatchNormalization.",
                    {"first_to_last_rms_ratio": med, "ratio_threshold": p["RATIO"],
                     "first_layer": g["layers"][0], "last_layer": g["layers"][-1],
                     AT_INIT: _at_init(g, i)},
                    _sample_epoch(g, i), "he_init", "batch_norm", "relu_activation",
                    began_step=_sample_step(g, i)))
    s = facts.saturated_fraction
    if not out and s and s.get("values"):
        v = np.array(s["values"], dtype=float)
        if v.size and np.isfinite(v[-1]) and v[-1] > p["SATURATED"]:
            i = int(np.argmax(v > p["SATURATED"]))
            out.append(make_finding(
                Code.TRAIN_VANISHING_GRADIENTS, Severity.WARNING, 0.6,
                "Saturated activations",
                f"{v[-1]:.0%} of sigmoid/tanh outputs sit in their flat tails, where the "
                "gradient is near zero. Use ReLU, or normalize the layer inputs.",
                {"saturated_fraction": float(v[-1]), "saturated_threshold": p["SATURATED"]},
                _sample_epoch(s, i), "relu_activation", "batch_norm",
                began_step=_sample_step(s, i)))
    return out


@CURVES.register("signal_collapse", codes=[Code.MODEL_NO_NORMALIZATION_LAYER],
                 # Glorot init keeps a layer's output variance equal to its input's for
                 # linear units only; a ReLU halves the second moment (He et al. 2015,
                 # sec. 2.2: "the variance of the input signal ... is reduced by 2^L" with
                 # Xavier init, and their 30-layer Xavier net does not learn). A 10x fall of
                 # the RMS from the first to the last ReLU layer is ~7 such halvings: the
                 # logits barely depend on the input and the early layers' gradients shrink
                 # with the signal
                 DROP=0.1,
                 # at least that many ReLU layers, so the fall is depth, not one odd layer
                 MIN_LAYERS=6)
def check_signal_collapse(facts: RunFacts, p: dict[str, Any]) -> list[Finding]:
    a = facts.activation_rms
    if not a or not a.get("values") or not _at_init(a, 0) or \
            (facts.regularization or {}).get("normalization") is not False:
        return []
    acts = a.get("activations") or []
    first = a["values"][0]
    relu = [(n, v) for n, act, v in zip(a.get("layers") or [], acts, first)
            if act in ("relu", "relu6")]
    if len(relu) < p["MIN_LAYERS"] or not all(np.isfinite(v) for _, v in relu) \
            or relu[0][1] <= 0:
        return []
    ratio = relu[-1][1] / relu[0][1]
    if ratio >= p["DROP"] or not _not_halved(facts, min_epochs=3):
        return []
    return [make_finding(
        Code.MODEL_NO_NORMALIZATION_LAYER, Severity.WARNING, 0.7,
        "The signal fades through the layers",
        f"Before training, the output of {relu[-1][0]} is {ratio:.2g} the size (RMS) of "
        f"{relu[0][0]}'s: across {len(relu)} ReLU layers with no normalization the signal "
        "shrinks layer by layer, the prediction barely depends on the input, and the loss "
        "has not even halved. Add BatchNormalization after the convolutions (or use He "
        "initialization).",
        {"rms_first": relu[0][1], "rms_last": relu[-1][1], "ratio": float(ratio),
         "relu_layers": len(relu), "ratio_threshold": p["DROP"], AT_INIT: True},
        0, "batch_norm", "he_init", began_step=0)]


# Reported as TRAIN_UNDERFITTING: the moving averages are what stopped while still
# catching up (too few steps for the momentum). The public codes (shared/findings.md) have no
# BatchNormalization code; a layer setting known before training, so it ranks as a cause.
@CURVES.register("bn_statistics", codes=[Code.TRAIN_UNDERFITTING],
                 # a BatchNormalization layer whose inputs, normalized by its moving
                 # statistics, have a mean square 4x off 1 (2x in RMS) hands the next layer
                 # activations twice too large or small at inference, compounding layer by
                 # layer (keras#7265, tensorflow#44568). With >= 32 probe values per channel
                 # the mean square's sampling error is ~sqrt(2/32) = 25 %, far inside 4x
                 RATIO=4.0,
                 # the symptom, as for TRAIN_NO_REGULARIZATION: validation accuracy more
                 # than 10 points and 3 binomial sigmas below training accuracy
                 GAP=0.10, Z=3.0, N_UNKNOWN=500)
def check_bn_statistics(facts: RunFacts, p: dict[str, Any]) -> list[Finding]:
    b = facts.bn_moments
    if not b or not b.get("values"):
        return []
    gap = _accuracy_gap(facts, p)
    if not gap or not gap[2]:
        return []
    off = [[max(v, 1 / v) if v > 0 and math.isfinite(v) else math.inf for v in row]
           for row in b["values"]]
    last = off[-1]
    j = int(np.argmax(last))
    if last[j] < p["RATIO"]:
        return []
    began = next(i for i, row in enumerate(off) if max(row) >= p["RATIO"])
    epochs = b.get("epochs") or list(range(len(off)))
    name, m2 = b["layers"][j], b["values"][-1][j]
    return [make_finding(
        Code.TRAIN_UNDERFITTING, Severity.WARNING, 0.8,
        "BatchNormalization's moving statistics are off",
        f"At inference {name} normalizes its inputs with a moving mean and variance that do "
        f"not match them (mean square {m2:.3g} instead of ~1 on training images), so "
        f"validation sees other activations than training did: train accuracy "
        f"{gap[0]:.2f}, validation {gap[1]:.2f}. The moving averages had too few steps to "
        "catch up; lower the layer's momentum (0.9) or train more steps.",
        {"layer": name, "normalized_mean_square": m2, "ratio_threshold": p["RATIO"],
         "train_accuracy": gap[0], "val_accuracy": gap[1], "layers_off": sum(
             v >= p["RATIO"] for v in last), AT_INIT: True},
        int(epochs[began]), "bn_momentum")]


@CURVES.register("squashed_probabilities", codes=[Code.MODEL_OUTPUT_ACTIVATION],
                 # softmax(z) has log p_i - log p_j = z_i - z_j; when z is itself a
                 # probability vector (a softmax applied twice) every z_i is in [0, 1], so
                 # no prediction's log-probabilities can spread more than 1: the model can
                 # never be more than e times surer of one class than of another. And the
                 # one z that sums to 1, log p - mean(log p) + 1/C, is then a probability
                 # vector (no entry below 0), which a single softmax's logits rarely are
                 # (measured: -0.33 for a slow MSE-trained softmax at spread 0.92, -0.0 for
                 # softmax applied twice). TOL is float rounding
                 SPREAD=1.0, TOL=0.01,
                 # and the model has learned (its ranking is informative): training
                 # accuracy at least twice chance and 10 points above it
                 LEARNED_FACTOR=2.0, LEARNED_MARGIN=0.10)
def check_squashed_probabilities(facts: RunFacts, p: dict[str, Any]) -> list[Finding]:
    o = facts.output_spread
    ak = facts.acc_key()
    if not o or not o.get("log_spread") or not ak:
        return []
    if (facts.regularization or {}).get("softmax_layers") == 1:
        # a graph of Keras layers with one softmax cannot apply it twice: its logits are
        # small by themselves (e.g. under a weight penalty that dominates the loss)
        return []
    spread = float(o["log_spread"][-1])
    c = int(o.get("n_classes") or facts.n_classes or 0)
    acc = facts.series(ak)
    pre = (o.get("min_preimage") or [None])[-1]
    if c < 2 or not acc.size or not np.isfinite(acc[-1]) or pre is None or \
            not math.isfinite(spread) or spread > p["SPREAD"] + p["TOL"] or pre < -p["TOL"]:
        return []
    chance = facts.majority_fraction or 1.0 / c
    if acc[-1] < max(p["LEARNED_FACTOR"] * chance, chance + p["LEARNED_MARGIN"]):
        return []  # a model at chance predicts near-uniform probabilities anyway
    top = math.e / (math.e + c - 1)
    return [make_finding(
        Code.MODEL_OUTPUT_ACTIVATION, Severity.ERROR, 0.85,
        "Softmax applied to probabilities",
        f"No prediction is more than e = 2.72 times surer of one class than of another "
        f"(largest log-probability spread {spread:.3f} <= 1), although training accuracy "
        f"is {acc[-1]:.2f}: the last softmax receives values in [0, 1], i.e. probabilities "
        f"from a softmax before it. The model can never predict above {top:.2f}; apply "
        "softmax once (drop the extra tf.nn.softmax / Activation, or use from_logits=True "
        "on a linear output).",
        {"log_prob_spread": spread, "spread_max": p["SPREAD"], "n_classes": c,
         "min_preimage": pre,
         "train_accuracy": float(acc[-1]), "max_probability_possible": round(top, 4)},
        int((o.get("epochs") or [0])[-1]), "fix_output_activation")]


@CURVES.register("dying_relu", codes=[Code.TRAIN_DYING_RELU],
                 # "most ReLU units output zero for all inputs" (docs/findings.md): > 50%
                 # of units dead on the probe batch; > 90% is fatal
                 DEAD=0.5, FATAL=0.9)
def check_dying_relu(facts: RunFacts, p: dict[str, Any]) -> list[Finding]:
    d = facts.dead_fraction
    if not d or not d.get("values"):
        return []
    v = np.array(d["values"], dtype=float)
    if not np.isfinite(v[-1]) or v[-1] <= p["DEAD"]:
        return []
    i = int(np.argmax(v > p["DEAD"]))
    at_init = _at_init(d, i)
    if at_init:
        why = ("they were dead before the first update, so the initialization (weights or "
               "biases) switches them off. Use He initialization with zero biases, or "
               "LeakyReLU.")
        preferred = ("he_init", "leaky_relu")
    else:
        why = ("they get no gradient and never recover. Lower the learning rate, or use "
               "LeakyReLU and He initialization.")
        preferred = ("lower_lr", "leaky_relu", "he_init")
    return [make_finding(
        Code.TRAIN_DYING_RELU, Severity.ERROR if v[-1] > p["FATAL"] else Severity.WARNING,
        0.8, "Dying ReLU",
        f"{v[-1]:.0%} of ReLU units output zero for every probe input: " + why,
        {"dead_fraction": float(v[-1]), "first_dead_fraction": float(v[0]),
         "dead_threshold": p["DEAD"], AT_INIT: at_init},
        _sample_epoch(d, i), *preferred, began_step=_sample_step(d, i))]


def _at_init(d: Mapping[str, Any], i: int) -> bool:
    """True when sample ``i`` is the one taken at step 0, before the first update (the
    Monitor samples at the start of a batch)."""
    return i == 0 and _sample_step(d, 0) == 0


# --------------------------------------------------------------------------------------

def analyze_curves(facts: RunFacts,
                   overrides: Mapping[str, Mapping[str, Any]] | None = None) -> CurveResult:
    """Run every curve check over ``facts``; return findings and curve metrics.

    Args:
        facts: the run's records.
        overrides: ``{check_name: {PARAM: value}}`` merged over the defaults.

    Example:
        >>> r = analyze_curves(RunFacts(history={"loss": [1.0, 0.5, 0.3]}))
        >>> r.metrics["finding_epochs"]  # three epochs: too short to judge convergence
        {'TRAIN_UNDERFITTING': 2}
    """
    findings = CURVES.run(facts, overrides)
    epochs: dict[str, int] = {}
    for f in findings:
        e = f.evidence.get("began_epoch")
        if e is not None:
            epochs[f.code.value] = min(epochs.get(f.code.value, e), e)
    metrics: dict[str, Any] = {"finding_epochs": epochs,
                               "plateau": plateau(facts.series("loss"), 0.01, 3)}
    return CurveResult(findings, metrics)


def history_from_mapping(raw: Mapping[str, Sequence[Any]]) -> dict[str, list[float]]:
    """Normalize a History-like mapping: float lists, ``lr`` renamed ``learning_rate``."""
    out: dict[str, list[float]] = {}
    for k, vals in raw.items():
        key = "learning_rate" if k == "lr" else str(k)
        try:
            out[key] = [float("nan") if v is None or v == "" else float(v) for v in vals]
        except (TypeError, ValueError):
            continue
    return out
