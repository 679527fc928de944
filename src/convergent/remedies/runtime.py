"""Apply remedies at run time to a user's model, compile and fit arguments (``run --repair``).

The seam between ``convergent run --repair`` and the remedies. The run engineer's
injected ``keras.Model.fit`` wrapper, once it has findings for a run, calls::

    change = apply(findings, model, compile_kwargs, fit_kwargs)
    model2 = change.model                      # may be a new Model wrapping the user's one
    if change.recompile:
        model2.compile(**change.compile_kwargs)
    history = model2.fit(**change.fit_kwargs)  # x, y, epochs, callbacks ... all in here
    print(change.code)                         # the equivalent edit of the user's script

Interface:
    ``findings``: ranked ``Finding`` objects (``Report.findings``); the first finding that
    has a remedy this module can apply at run time is acted on (``max_remedies`` of its
    remedies, default 1, best first). ``skip`` lists remedy ids to pass over (e.g. the ones
    a previous repair step already tried).
    ``model``: the user's ``keras.Model`` (compiled or not). Changes to activations,
    initial weights or dropout rates are made in place on its layers; input scaling wraps
    it in a new functional Model that shares its layers and weights, so the user's own
    object still ends up trained.
    ``compile_kwargs``: what the script passed to ``model.compile`` (``optimizer``, ``loss``,
    ``metrics``, ...). Empty dict: read them back from the compiled model.
    ``fit_kwargs``: what the script passed to ``model.fit``, with positional ``x, y`` moved
    to keywords. They are copied, never mutated.

    Returns a ``RuntimeChange``: the model and kwargs to use, ``recompile`` (True whenever
    the model or compile arguments changed: compile then fit), ``applied`` (the remedy ids
    with what changed), ``skipped`` (ids that cannot be applied at run time, with why:
    architecture edits such as adding BatchNormalization need the user's code) and
    ``code`` (a diff-like snippet of the equivalent change to the script).

Library code: never prints. Keras is imported inside the functions.

Example:
    >>> change = apply(report.findings, model, {"optimizer": "sgd", "loss": "mse"},
    ...                {"x": x, "y": y, "epochs": 5})          # doctest: +SKIP
    >>> change.applied[0]["remedy"], change.code                  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from convergent.findings import Finding
from convergent.remedies.catalog import CATALOG
from convergent.remedies.regularization import (
    PENALTY_DOMINATES,
    PENALTY_TARGET,
    PenaltyShare,
    penalty_share,
    scale_penalties,
)

# The values applied; the same sources as the Recipe transforms (remedies/transforms.py).
from convergent.remedies.transforms import ADAM_LR, CLIPNORM, LR_STEP, WEIGHT_DECAY

EARLY_STOPPING_PATIENCE = 5   # Keras examples use 5-10
PLATEAU_PATIENCE = 3
MAX_EPOCHS = 100
# more_epochs: a loss falling less than 1%/epoch has converged; the still-improving check's
# own REL_SLOPE (training/curves.py), used when its finding does not carry the value.
SLOPE_CONVERGED = 0.01


@dataclass
class RuntimeChange:
    """What ``apply`` changed, and the arguments to train with now."""

    model: Any
    compile_kwargs: dict[str, Any]
    fit_kwargs: dict[str, Any]
    recompile: bool = False
    applied: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    code: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.applied)

    def to_dict(self) -> dict[str, Any]:
        return {"applied": self.applied, "skipped": self.skipped, "code": self.code,
                "recompile": self.recompile}


@dataclass
class _State:
    model: Any
    compile_kwargs: dict[str, Any]
    fit_kwargs: dict[str, Any]
    finding: Finding
    recompile: bool = False
    # finding codes besides the acted-on one that the change fixes (e.g. a new output head
    # fixes MODEL_OUTPUT_UNITS and MODEL_LOSS_MISMATCH together); the loop drops them too
    fixes: set[str] = field(default_factory=set)


Handler = Callable[[_State], "str | tuple[str, str]"]  # description[, snippet]
HANDLERS: dict[str, Handler] = {}
NOT_AT_RUNTIME = {
    "batch_norm": "adding layers changes the architecture; edit the model code",
    "dropout": "adding a Dropout layer changes the architecture; edit the model code",
    "reduce_capacity": "fewer filters/layers need the model code",
    "add_nonlinearity": "adding activations needs the model code",
}


# remedy id -> a measurement on the run that says its cause is present; when it holds the
# remedy is tried first among its finding's remedies (the finding's own ranking cannot
# see it: e.g. a stuck run's finding points at the LR, the penalty is what is wrong).
MEASURED: dict[str, Callable[[_State], bool]] = {}


def handler(remedy_id: str) -> Callable[[Handler], Handler]:
    if remedy_id not in CATALOG:
        raise KeyError(f"{remedy_id!r} is not in the remedy catalog")

    def deco(fn: Handler) -> Handler:
        HANDLERS[remedy_id] = fn
        return fn

    return deco


def can_apply(remedy_id: str) -> bool:
    """True when ``remedy_id`` can be applied at run time."""
    return remedy_id in HANDLERS


def apply(findings: Sequence[Finding], model: Any, compile_kwargs: dict[str, Any],
          fit_kwargs: dict[str, Any], max_remedies: int = 1,
          skip: Iterable[str] = ()) -> RuntimeChange:
    """Rewrite the run for the first finding that has a run-time remedy (see module doc).

    Args:
        findings: ranked findings, root cause first.
        model: the user's keras.Model.
        compile_kwargs: the ``model.compile`` arguments ({} to read them from the model).
        fit_kwargs: the ``model.fit`` arguments, ``x``/``y`` as keywords.
        max_remedies: how many remedies of that finding to apply (best first).
        skip: remedy ids not to apply.

    Returns:
        A RuntimeChange (``changed`` is False when nothing applicable was found).
    """
    ck = dict(compile_kwargs) or _compile_kwargs_of(model)
    fk = dict(fit_kwargs)
    fk["callbacks"] = list(fk.get("callbacks") or [])
    change = RuntimeChange(model, ck, fk)
    skip = set(skip)
    for f in findings:
        ids = [r.id for r in f.remedies if r.id not in skip]
        usable = [i for i in ids if i in HANDLERS]
        # a remedy whose cause is measured on this run goes first (stable otherwise)
        usable.sort(key=lambda i: not (i in MEASURED and MEASURED[i](
            _State(change.model, ck, fk, f))))
        change.skipped += [{"remedy": i, "why": NOT_AT_RUNTIME[i]} for i in ids
                           if i in NOT_AT_RUNTIME]
        if not usable:
            continue
        state = _State(change.model, ck, fk, f)
        lines = []
        done = 0
        for rid in usable:  # best first; one that cannot apply here gives way to the next
            if done >= max_remedies:
                break
            try:
                what = HANDLERS[rid](state)
            except (ValueError, TypeError, AttributeError) as e:
                change.skipped.append({"remedy": rid, "why": f"could not apply: {e}"})
                continue
            done += 1
            # a handler may return (description, the snippet for this model's own layers)
            what, snippet = what if isinstance(what, tuple) else (what, CATALOG[rid].code)
            entry = {"remedy": rid, "code": f.code.value, "change": what, "snippet": snippet}
            if state.fixes - {f.code.value}:
                entry["fixes"] = sorted(state.fixes - {f.code.value})
            change.applied.append(entry)
            lines.append(f"# {f.code.value}: {CATALOG[rid].summary} ({what})\n"
                         + "\n".join(f"+ {ln}" for ln in snippet.splitlines()))
        if change.applied:
            change.model = state.model
            change.compile_kwargs, change.fit_kwargs = state.compile_kwargs, state.fit_kwargs
            change.recompile = True
            change.code = "\n".join(lines)
            break
    return change


def _compile_kwargs_of(model: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if getattr(model, "optimizer", None) is not None:
        out["optimizer"] = model.optimizer
    if getattr(model, "loss", None) is not None:
        out["loss"] = model.loss
    out["metrics"] = ["accuracy"]
    return out


# optimizer ---------------------------------------------------------------------------
def _optimizer(s: _State) -> Any:
    import keras

    return keras.optimizers.get(s.compile_kwargs.get("optimizer", "rmsprop"))


def _lr_of(opt: Any) -> float:
    lr = opt.get_config().get("learning_rate")
    if isinstance(lr, dict):  # a schedule: use its starting value
        cfg = lr.get("config", {})
        lr = cfg.get("initial_learning_rate", cfg.get("warmup_target", ADAM_LR))
    return float(lr)


def _rebuild(opt: Any, **changes: Any) -> Any:
    cfg = opt.get_config()
    cfg.update(changes)
    return type(opt).from_config(cfg)


def _suggested_lr(s: _State) -> float | None:
    ev = s.finding.evidence
    for key in ("suggested", "lr_suggested", "suggested_lr"):
        if ev.get(key):
            return float(ev[key])
    lr_range = ev.get("lr_range")
    if isinstance(lr_range, dict) and lr_range.get("suggested"):
        return float(lr_range["suggested"])
    return None


class ScaledSchedule:
    """A ``LearningRateScheduler`` schedule times ``factor``: ``factor * schedule(epoch,
    lr / factor)``, so a schedule that reads the current LR (``lr * 0.9``) still sees its
    own, unscaled trajectory. Keras calls it with ``(epoch, lr)``; a schedule of ``epoch``
    alone (Keras' old API) is called with that."""

    def __init__(self, schedule: Callable[..., Any], factor: float) -> None:
        if isinstance(schedule, ScaledSchedule):  # scaling twice: one wrapper
            schedule, factor = schedule.schedule, schedule.factor * factor
        self.schedule, self.factor = schedule, float(factor)

    def __call__(self, epoch: int, lr: float | None = None) -> float:
        return float(self.factor * _call_schedule(
            self.schedule, epoch, None if lr is None else lr / self.factor))


def _call_schedule(schedule: Callable[..., Any], epoch: int, lr: float | None) -> float:
    if lr is None:
        return float(schedule(epoch))
    try:  # the same two signatures Keras' LearningRateScheduler accepts
        return float(schedule(epoch, lr))
    except TypeError:
        return float(schedule(epoch))


def _scheduler(s: _State) -> tuple[int, Any] | None:
    """The first LearningRateScheduler among the fit's callbacks (index, callback): it sets
    the optimizer's LR at the start of every epoch, so an LR change must go through it."""
    for i, cb in enumerate(s.fit_kwargs["callbacks"]):
        if type(cb).__name__ == "LearningRateScheduler" and callable(
                getattr(cb, "schedule", None)):
            return i, cb
    return None


def _effective_lr(s: _State) -> float:
    """The LR the first epoch trains with: the optimizer's, or what a LearningRateScheduler
    sets it to at epoch 0 (from the optimizer's LR, as Keras calls it)."""
    lr = _lr_of(_optimizer(s))
    sched = _scheduler(s)
    if sched is None:
        return lr
    try:
        value = _call_schedule(sched[1].schedule, 0, lr)
    except Exception:  # noqa: BLE001 - a schedule this cannot call: the optimizer's LR
        return lr
    return value if math.isfinite(value) and value > 0 else lr


def _set_lr(s: _State, lr: float, why: str) -> tuple[str, str]:
    import keras

    opt = _optimizer(s)
    old = _effective_lr(s)
    s.compile_kwargs["optimizer"] = _rebuild(opt, learning_rate=float(lr))
    name = type(opt).__name__
    sched = _scheduler(s)
    if sched is None:
        return (f"{name} learning_rate {old:g} -> {lr:g} ({why})",
                f"optimizer=keras.optimizers.{name}(learning_rate={lr:g})")
    # the scheduler would set the old LR again at every epoch: scale its schedule
    i, cb = sched
    factor = lr / old
    cbs = list(s.fit_kwargs["callbacks"])
    cbs[i] = keras.callbacks.LearningRateScheduler(ScaledSchedule(cb.schedule, factor),
                                                   verbose=getattr(cb, "verbose", 0))
    s.fit_kwargs["callbacks"] = cbs
    return ((f"LearningRateScheduler's LR at epoch 0 {old:g} -> {lr:g} ({why}): its schedule "
            f"scaled by {factor:.3g} (it sets the LR every epoch, so the optimizer's alone "
            "would be overwritten)"),
            (f"# scale the schedule's learning rates by {factor:.3g} (epoch 0: {old:g} -> "
            f"{lr:g}), e.g.\ncallbacks=[keras.callbacks.LearningRateScheduler(lambda epoch, lr: "
            f"{factor:.3g} * schedule(epoch, lr / {factor:.3g}))]"))


def _default_lr(opt: Any) -> float | None:
    """The optimizer class's own default learning rate (its ``__init__`` signature: Keras
    1e-3 for Adam/RMSprop/Adadelta..., 1e-2 for SGD), or None when it has none."""
    try:
        default = inspect.signature(type(opt).__init__).parameters["learning_rate"].default
        return float(default)
    except (KeyError, TypeError, ValueError):
        return None


def _lr_target(s: _State, lower: bool) -> tuple[str, str]:
    """lower/raise the LR: the range test's suggestion when the finding carries one;
    else the optimizer's own default when the LR is on the far side of it (the fix a
    person makes: the default is where the optimizer's authors tuned it; a decade at a
    time took 2-3 fits to get there); else one decade (LR_STEP) further."""
    old = _effective_lr(s)
    lr = _suggested_lr(s)
    if lr is not None and (lr < old if lower else lr > old):
        return _set_lr(s, lr, "LR range test")
    default = _default_lr(_optimizer(s))
    # the config holds the LR as float32: 1e-3 reads back as 1.0000000475e-3
    away = default is not None and not math.isclose(default, old, rel_tol=1e-6)
    if away and (default < old if lower else default > old):
        return _set_lr(s, default, f"the {type(_optimizer(s)).__name__} default")
    if lower:
        return _set_lr(s, old / LR_STEP, f"divided by {LR_STEP:g}")
    return _set_lr(s, old * LR_STEP, f"multiplied by {LR_STEP:g}")


@handler("lower_lr")
def _h_lower_lr(s: _State) -> tuple[str, str]:
    return _lr_target(s, lower=True)


@handler("raise_lr")
def _h_raise_lr(s: _State) -> tuple[str, str]:
    return _lr_target(s, lower=False)


@handler("lr_range_test")
def _h_lr_range(s: _State) -> tuple[str, str]:
    lr = _suggested_lr(s)
    if lr is None:
        raise ValueError("the finding carries no suggested LR (evidence['suggested'])")
    return _set_lr(s, lr, "LR range test")


@handler("adam")
def _h_adam(s: _State) -> str:
    import keras

    old = _optimizer(s)
    if isinstance(old, keras.optimizers.AdamW):
        raise ValueError("the optimizer is AdamW already")  # noqa: TRY004 - "nothing to do"
    lr = _suggested_lr(s) or ADAM_LR
    s.compile_kwargs["optimizer"] = keras.optimizers.AdamW(learning_rate=lr,
                                                          weight_decay=WEIGHT_DECAY)
    return f"{type(old).__name__} -> AdamW(learning_rate={lr:g}, weight_decay={WEIGHT_DECAY:g})"


@handler("weight_decay")
def _h_wd(s: _State) -> str:
    import keras

    old = _optimizer(s)
    if isinstance(old, keras.optimizers.AdamW):
        s.compile_kwargs["optimizer"] = _rebuild(old, weight_decay=WEIGHT_DECAY * 10)
        return f"AdamW weight_decay -> {WEIGHT_DECAY * 10:g}"
    s.compile_kwargs["optimizer"] = _rebuild(old, weight_decay=WEIGHT_DECAY)
    return f"{type(old).__name__} weight_decay -> {WEIGHT_DECAY:g}"


@handler("grad_clip")
def _h_clip(s: _State) -> str:
    opt = _optimizer(s)
    now = opt.get_config().get("clipnorm")
    if now is not None and float(now) <= CLIPNORM:
        raise ValueError(f"the optimizer already clips at clipnorm={float(now):g}")
    s.compile_kwargs["optimizer"] = _rebuild(opt, clipnorm=CLIPNORM)
    return f"clipnorm={CLIPNORM:g}"


@handler("loosen_clip")
def _h_loosen_clip(s: _State) -> tuple[str, str]:
    """Clipping limits below CLIPNORM (the grad_clip remedy's own limit) are raised to it;
    a clipvalue far below the gradients is dropped (clipnorm then bounds the step)."""
    opt = _optimizer(s)
    cfg = opt.get_config()
    changes: dict[str, Any] = {}
    for key in ("clipnorm", "global_clipnorm"):
        v = cfg.get(key)
        if v is not None and float(v) < CLIPNORM:
            changes[key] = CLIPNORM
    if cfg.get("clipvalue") is not None and float(cfg["clipvalue"]) < CLIPNORM:
        changes["clipvalue"] = None
        if cfg.get("clipnorm") is None and cfg.get("global_clipnorm") is None:
            changes["clipnorm"] = CLIPNORM
    if not changes:
        raise ValueError(f"no clipping limit below {CLIPNORM:g}")
    s.compile_kwargs["optimizer"] = _rebuild(opt, **changes)
    name = type(opt).__name__
    what = ", ".join(f"{k} {cfg.get(k)} -> {v}" for k, v in changes.items())
    args = ", ".join(f"{k}={v:g}" for k, v in changes.items() if v is not None)
    return what, f"optimizer=keras.optimizers.{name}(..., {args})"


@handler("reduce_l2")
def _h_reduce_l2(s: _State) -> tuple[str, str]:
    share = _penalty(s)
    if share is None:
        raise ValueError("no L1/L2 kernel_regularizer to measure (or no array x, y)")
    if share.ratio <= PENALTY_TARGET:
        raise ValueError(f"the weight penalty is {share.ratio:.1%} of the data loss already")
    factor = PENALTY_TARGET / share.ratio
    changed = scale_penalties(s.model, factor)
    new = sorted({v for _, f in changed for v in f.values()})
    shown = ", ".join(f"{v:.2g}" for v in new)
    names = sorted({p.rsplit("/", 2)[-2] if p.count("/") else p for p, _ in changed})
    what = (f"{len(changed)} penalized weight(s) in {len(names)} layer(s): penalty "
            f"{share.penalty:.3g} = {share.ratio:.3g}x the data loss {share.data_loss:.3g} at "
            f"the initial weights; factors x{factor:.2g} -> {shown}")
    layers = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
    return what, f"kernel_regularizer=regularizers.l2({new[0]:.2g})  # in layers {layers}"


def _penalty(s: _State) -> PenaltyShare | None:
    loss = s.compile_kwargs.get("loss")
    return penalty_share(s.model, s.fit_kwargs.get("x"), s.fit_kwargs.get("y"), loss)


def _penalty_dominates(s: _State) -> bool:
    share = _penalty(s)
    return share is not None and share.ratio >= PENALTY_DOMINATES


MEASURED["reduce_l2"] = _penalty_dominates


# fit arguments -----------------------------------------------------------------------
def _labels(s: _State) -> np.ndarray:
    y = s.fit_kwargs.get("y")
    if y is None:
        raise ValueError("class weights need array labels in fit(y=...), not a dataset")
    y = np.asarray(y)
    return y.argmax(-1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(-1).astype(int)


@handler("class_weights")
def _h_class_weights(s: _State) -> str:
    y = _labels(s)
    counts = np.bincount(y)
    w = {int(c): float(len(y) / (len(counts) * n)) for c, n in enumerate(counts) if n}
    s.fit_kwargs["class_weight"] = w
    return f"class_weight={{{', '.join(f'{k}: {v:.2f}' for k, v in w.items())}}}"


def _finite_copy(a: Any) -> Any:
    """A copy of a float array with NaN/inf replaced by 0, or None when it has none."""
    if not isinstance(a, np.ndarray) or a.dtype.kind != "f" or np.isfinite(a).all():
        return None
    return np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)


@handler("fix_nonfinite")
def _h_fix_nonfinite(s: _State) -> str:
    fk = s.fit_kwargs
    for key in ("y",):
        y = fk.get(key)
        if isinstance(y, np.ndarray) and y.dtype.kind == "f" and not np.isfinite(y).all():
            raise ValueError("the labels hold NaN/inf: fix how they are made")
    fixed = []
    x = _finite_copy(fk.get("x"))
    if x is not None:
        fk["x"] = x
        fixed.append("x")
    val = fk.get("validation_data")
    if isinstance(val, (tuple, list)) and val:
        xv = _finite_copy(val[0])
        if xv is not None:
            fk["validation_data"] = (xv, *val[1:])
            fixed.append("validation x")
    if not fixed:
        raise ValueError("no NaN/inf in the input arrays (a pipeline needs the fix in its code)")
    # a zero where (x - mean) / std divided 0 by 0 is what a guarded division gives
    return f"NaN/inf in {' and '.join(fixed)} replaced by 0 (a copy: your arrays are unchanged)"


def _has_cb(s: _State, name: str) -> bool:
    return any(type(cb).__name__ == name for cb in s.fit_kwargs["callbacks"])


def _right_mode(cb: Any, evidence: dict[str, Any]) -> str | None:
    """The mode an EarlyStopping should have when its own points the wrong way (min for an
    accuracy, max for a loss: the curve check's lists, training/curves.py), else None."""
    from convergent.training.curves import HIGHER_IS_BETTER, LOWER_IS_BETTER

    mode = str(getattr(cb, "mode", "auto"))
    name = str(getattr(cb, "monitor", "")).lower().removeprefix("val_")
    if mode == "min" and any(w in name for w in HIGHER_IS_BETTER):
        return "max"
    if mode == "max" and any(w in name for w in LOWER_IS_BETTER):
        return "min"
    expected = evidence.get("expected_mode")
    return str(expected) if expected in ("min", "max") and expected != mode else None


def _fix_early_mode(s: _State) -> tuple[str, str] | None:
    """An EarlyStopping that minimises an accuracy (or maximises a loss) replaced by the
    same callback with the right mode; None when there is none to fix."""
    import keras

    cbs = list(s.fit_kwargs["callbacks"])
    for i, cb in enumerate(cbs):
        if type(cb).__name__ != "EarlyStopping":
            continue
        right = _right_mode(cb, s.finding.evidence)
        if right is None:
            continue
        kept = {"monitor": cb.monitor, "min_delta": abs(float(getattr(cb, "min_delta", 0))),
                "patience": cb.patience, "verbose": getattr(cb, "verbose", 0),
                "baseline": getattr(cb, "baseline", None),
                "restore_best_weights": getattr(cb, "restore_best_weights", False),
                "start_from_epoch": getattr(cb, "start_from_epoch", 0)}
        cbs[i] = keras.callbacks.EarlyStopping(mode=right, **kept)
        s.fit_kwargs["callbacks"] = cbs
        return (f"EarlyStopping(monitor={cb.monitor!r}) mode {cb.mode!r} -> {right!r}",
                (f"keras.callbacks.EarlyStopping(monitor={cb.monitor!r}, mode={right!r}, "
                f"patience={cb.patience}, ...)"))
    return None


@handler("early_stopping")
def _h_early(s: _State) -> str | tuple[str, str]:
    import keras

    fixed = _fix_early_mode(s)
    if fixed is not None:
        return fixed
    if _has_cb(s, "EarlyStopping"):
        raise ValueError("EarlyStopping is already in the callbacks")
    monitor = "val_loss" if _has_validation(s) else "loss"
    s.fit_kwargs["callbacks"].append(keras.callbacks.EarlyStopping(
        monitor=monitor, patience=EARLY_STOPPING_PATIENCE, restore_best_weights=True))
    return f"EarlyStopping(monitor={monitor!r}, patience={EARLY_STOPPING_PATIENCE}, " \
           "restore_best_weights=True)"


def _has_validation(s: _State) -> bool:
    return bool(s.fit_kwargs.get("validation_data") is not None
                or s.fit_kwargs.get("validation_split"))


def _epochs_from_slope(s: _State, old: int) -> tuple[int, str]:
    """Epochs for a run stopped on a slope: where a power-law loss curve (L ~ epoch^-a, so
    the relative fall per epoch is ~ a/epoch) falls below the still-improving check's own
    threshold; at least twice the epochs run, at most MAX_EPOCHS. Without a slope in the
    evidence: twice the epochs."""
    ev = s.finding.evidence
    rel, thr = ev.get("relative_slope_per_epoch"), ev.get("slope_threshold", SLOPE_CONVERGED)
    ran = int(ev.get("epochs_run") or old)
    doubled = min(MAX_EPOCHS, 2 * old)
    try:
        rel, thr = float(rel), float(thr)
    except (TypeError, ValueError):
        return doubled, "doubled"
    if not (math.isfinite(rel) and rel > 0 and thr > 0):
        return doubled, "doubled"
    target = math.ceil(ran * rel / thr)
    return min(MAX_EPOCHS, max(doubled, target)), \
        f"loss falling {rel:.1%}/epoch after {ran}: ~{target} epochs to fall below {thr:.0%}"


@handler("more_epochs")
def _h_more_epochs(s: _State) -> tuple[str, str]:
    old = int(s.fit_kwargs.get("epochs", 1))
    if old >= MAX_EPOCHS:
        raise ValueError(f"already {old} epochs (the cap is {MAX_EPOCHS})")
    new, why = _epochs_from_slope(s, old)
    s.fit_kwargs["epochs"] = new
    msg = f"epochs {old} -> {new} ({why})"
    snippet = f"model.fit(..., epochs={new})"
    if not _has_cb(s, "EarlyStopping"):
        msg += "; " + _h_early(s)
        snippet = (f"model.fit(..., epochs={new}, callbacks=[keras.callbacks.EarlyStopping("
                   f"patience={EARLY_STOPPING_PATIENCE}, restore_best_weights=True)])")
    return msg, snippet


@handler("reduce_lr_on_plateau")
def _h_plateau(s: _State) -> str:
    import keras

    if _has_cb(s, "ReduceLROnPlateau"):
        raise ValueError("ReduceLROnPlateau is already in the callbacks")
    opt = _optimizer(s)
    if isinstance(opt.get_config().get("learning_rate"), dict):
        raise TypeError("the optimizer uses a LR schedule; ReduceLROnPlateau cannot set it")
    monitor = "val_loss" if _has_validation(s) else "loss"
    s.fit_kwargs["callbacks"].append(keras.callbacks.ReduceLROnPlateau(
        monitor=monitor, factor=0.5, patience=PLATEAU_PATIENCE))
    return f"ReduceLROnPlateau(monitor={monitor!r}, factor=0.5, patience={PLATEAU_PATIENCE})"


@handler("full_epochs")
def _h_full_epochs(s: _State) -> tuple[str, str]:
    spe = s.fit_kwargs.get("steps_per_epoch")
    if spe is None:
        raise ValueError("fit got no steps_per_epoch")
    x = s.fit_kwargs.get("x")
    if x is not None and hasattr(x, "element_spec") and getattr(x, "cardinality", None) \
            is not None and int(x.cardinality()) < 0:
        raise ValueError("an infinite (repeated) dataset needs its steps_per_epoch")
    s.fit_kwargs["steps_per_epoch"] = None
    return (f"steps_per_epoch {spe} -> None (each epoch covers the data)",
            "model.fit(..., steps_per_epoch=None)")


@handler("batch_size")
def _h_batch(s: _State) -> str:
    if "x" in s.fit_kwargs and not isinstance(s.fit_kwargs["x"], np.ndarray):
        raise ValueError("batch_size can only be set for array inputs; batch the dataset")
    old = s.fit_kwargs.get("batch_size", 32)
    s.fit_kwargs["batch_size"] = 64 if old != 64 else 128
    return f"batch_size {old} -> {s.fit_kwargs['batch_size']}"


@handler("shuffle_before_split")
def _h_shuffle(s: _State) -> str:
    x, y = s.fit_kwargs.get("x"), s.fit_kwargs.get("y")
    if not isinstance(x, np.ndarray) or y is None:
        raise ValueError("shuffling before validation_split needs array x and y")
    seed = 0
    idx = np.random.default_rng(seed).permutation(len(x))
    s.fit_kwargs["x"], s.fit_kwargs["y"] = x[idx], np.asarray(y)[idx]
    return f"x, y shuffled together (seed {seed}) before validation_split"


# model -------------------------------------------------------------------------------
def _input_max(s: _State) -> float:
    for key in ("max", "max_value", "x_max"):
        if s.finding.evidence.get(key) is not None:
            return float(s.finding.evidence[key])
    x = s.fit_kwargs.get("x")
    return float(np.nanmax(x)) if isinstance(x, np.ndarray) else 255.0


def _wrap(s: _State, layer: Any) -> None:
    import keras

    inner = s.model
    inputs = keras.Input(shape=tuple(inner.input_shape[1:]))
    s.model = keras.Model(inputs, inner(layer(inputs)), name=f"{inner.name}_repaired")


@handler("rescale")
def _h_rescale(s: _State) -> str:
    from keras import layers

    top = _input_max(s)
    if "std_min" in (s.finding.evidence.get("threshold") or {}) and 0.0 < top < 1.0:
        scale = 1.0 / top  # inputs collapsed (scaled twice): bring their top back to 1
        _wrap(s, layers.Rescaling(scale))
        return (f"model wrapped: Rescaling({scale:.6g}) as first layer",
                ("# the pixels are scaled twice: keep one scaling - drop rescale=1/255 from "
                "the generator\n# (or x / 255 from the preprocessing), or the model's "
                f"Rescaling layer; the same as\nlayers.Rescaling({scale:.6g})  # first layer"))
    top = max(1.0, top)
    scale = 1.0 / (255.0 if top > 1.0 and top <= 255.0 else top)
    _wrap(s, layers.Rescaling(scale))
    return f"model wrapped: Rescaling({scale:.6g}) as first layer"


@handler("standardize")
def _h_standardize(s: _State) -> str:
    from keras import layers

    x = s.fit_kwargs.get("x")
    if not isinstance(x, np.ndarray):
        raise TypeError("standardizing needs array x to compute the statistics")
    xf = np.nan_to_num(x.astype("float32"))
    axes = tuple(range(xf.ndim - 1))
    norm = layers.Normalization(mean=xf.mean(axes), variance=xf.var(axes) + 1e-7)
    _wrap(s, norm)
    return "model wrapped: Normalization(train mean/variance) as first layer"


@handler("same_preprocessing")
def _h_same_pre(s: _State) -> str | tuple[str, str]:
    """The validation ImageDataGenerator gets the training one's featurewise statistics
    when it was never fit (remedies/loaders.py); else the inputs are rescaled in the model."""
    from convergent.remedies.loaders import share_generator_statistics

    return share_generator_statistics(s) or _h_rescale(s)


def _hidden(model: Any) -> list[Any]:
    layers = [ly for ly in _flat_layers(model) if hasattr(ly, "kernel") and
              hasattr(ly, "activation")]
    return layers[:-1]


def _flat_layers(model: Any) -> list[Any]:
    out = []
    for ly in getattr(model, "layers", []):
        out += _flat_layers(ly) if hasattr(ly, "layers") else [ly]
    return out


def _set_activation(s: _State, name: str, only: set[str] | None) -> list[str]:
    """Switch the hidden layers' activation to ``name``; returns the changed layers."""
    import keras

    changed = []
    for ly in _hidden(s.model):
        current = keras.activations.serialize(ly.activation)
        current = current if isinstance(current, str) else str(current)
        if only is None or current in only:
            ly.activation = keras.activations.get(name)
            changed.append(ly.name)
    if not changed:
        raise ValueError(f"no hidden layer to switch to {name}")
    return changed


def _activation_snippet(names: list[str], act: str) -> str:
    shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
    return f'activation="{act}"  # in layers {shown}'


@handler("relu_activation")
def _h_relu(s: _State) -> tuple[str, str]:
    # a hidden softmax saturates too: its outputs sum to 1, so each unit's gradient is
    # p(1 - p)-scaled like a sigmoid's and shrinks with the layer's width
    names = _set_activation(s, "relu", {"sigmoid", "tanh", "hard_sigmoid", "softsign",
                                        "softmax"})
    return (f"{len(names)} hidden layer(s): sigmoid/tanh/softmax -> relu",
            _activation_snippet(names, "relu"))


@handler("leaky_relu")
def _h_leaky(s: _State) -> tuple[str, str]:
    names = _set_activation(s, "leaky_relu", {"relu"})
    return (f"{len(names)} hidden layer(s): relu -> leaky_relu",
            _activation_snippet(names, "leaky_relu"))


@handler("he_init")
def _h_he(s: _State) -> str:
    import keras

    n = 0
    for ly in _hidden(s.model):
        act = keras.activations.serialize(ly.activation)
        init = keras.initializers.HeNormal() if act in ("relu", "leaky_relu", "elu", "gelu") \
            else keras.initializers.GlorotUniform()
        ly.kernel.assign(init(ly.kernel.shape))
        if getattr(ly, "bias", None) is not None:
            ly.bias.assign(np.zeros(ly.bias.shape, dtype="float32"))
        n += 1
    return f"{n} hidden layer(s) re-initialized (He for ReLU-like, Glorot otherwise)"


def _num_classes(s: _State) -> int:
    ev = s.finding.evidence
    for key in ("n_classes", "num_classes", "classes", "expected_units"):
        if ev.get(key):
            return int(ev[key])
    y = s.fit_kwargs.get("y")
    if y is None:
        raise ValueError("the number of classes is unknown (no evidence, no array y)")
    y = np.asarray(y)
    return int(y.shape[1]) if y.ndim == 2 and y.shape[1] > 1 else int(y.max()) + 1


def _is_sparse(s: _State) -> bool | None:
    y = s.fit_kwargs.get("y")
    if y is None:
        return None
    y = np.asarray(y)
    return not (y.ndim == 2 and y.shape[1] > 1)


# A softmax output: non-negative rows summing to 1, up to float32 rounding.
PROB_TOL = 1e-3


def _probe_inputs(s: _State) -> Any:
    """A few inputs as fit receives them (array x, or a tf.data source / replay), or None."""
    from convergent.training._inject import sources

    x = s.fit_kwargs.get("x")
    if isinstance(x, np.ndarray):
        return x[:16]
    arrays = sources.source_arrays(x)
    if arrays is not None:
        return arrays[0][:16]
    replayed = sources.replayed_sample(x, 16)
    return None if replayed is None else replayed[0][:16]


def _drop_second_softmax(s: _State) -> tuple[str, str] | None:
    """For a softmax applied to probabilities (the squashed-probabilities finding carries
    ``log_prob_spread``): the last layer with a softmax activation made linear, so one
    softmax is left (an earlier layer's, or a tf.nn.softmax in a subclassed ``call``);
    kept only when the model's outputs on a probe are still probabilities (else that
    softmax was the only one, and None)."""
    import keras

    if "log_prob_spread" not in s.finding.evidence:
        return None
    soft = [ly for ly in _flat_layers(s.model) if hasattr(ly, "activation")
            and keras.activations.serialize(ly.activation) == "softmax"]
    if not soft:
        return None
    probe = _probe_inputs(s)
    if probe is None:
        return None
    old = soft[-1].activation
    soft[-1].activation = keras.activations.get("linear")
    try:
        out = np.asarray(s.model(probe, training=False), dtype=np.float64)
    except Exception:  # noqa: BLE001 - a model this cannot call: leave it as it was
        out = None
    still = out is not None and out.ndim == 2 and out.shape[1] > 1 and bool(
        (out >= -PROB_TOL).all() and np.allclose(out.sum(1), 1.0, atol=PROB_TOL))
    if not still:  # that softmax was the only one: the finding is about something else
        soft[-1].activation = old
        return None
    return (f"{soft[-1].name}: softmax -> linear (softmax was applied twice: once now)",
            (f"# softmax once: drop {soft[-1].name}'s softmax, or the other one (an extra "
            "tf.nn.softmax / Activation('softmax'))"))


@handler("fix_output_activation")
def _h_out_act(s: _State) -> str | tuple[str, str]:
    import keras

    twice = _drop_second_softmax(s)
    if twice is not None:
        return twice
    last = [ly for ly in _flat_layers(s.model) if hasattr(ly, "activation")][-1]
    units = int(last.units) if hasattr(last, "units") else None
    name = "sigmoid" if units == 1 else "softmax"
    loss = s.compile_kwargs.get("loss")
    logits = hasattr(loss, "get_config") and bool(loss.get_config().get("from_logits"))
    if keras.activations.serialize(last.activation) == name and not logits:
        # nothing would change: a step that retrains the same run is no remedy
        raise ValueError(f"the output activation is {name} already, without from_logits")
    last.activation = keras.activations.get(name)
    if logits:
        cfg = loss.get_config()
        cfg["from_logits"] = False
        s.compile_kwargs["loss"] = type(loss).from_config(cfg)
    return f"output activation -> {name}, from_logits=False"


# the handlers that change the architecture (output head, widths, pooling, dropout rates)
# and the ones that change how Keras' image iterators / tf.data pipelines feed fit
from convergent.remedies import architecture, loaders, pipelines  # noqa: E402, F401 - register them
