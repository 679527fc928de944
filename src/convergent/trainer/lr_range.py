"""A small LR range test (Smith 2017; fastai ``lr_find``) for the trainer.

Pure core: ``suggest(lrs, losses)`` takes plain lists; the rules (``valley``, ``knee``)
share one signature, as fastai's suggestion functions do. ``valley`` is fastai's default
for a constant rate; ``knee`` - where the smoothed loss has made most of its fall - is the
*peak* of a one-cycle schedule (Smith 2018: the largest rate at which the loss still falls
fast; the warm-up makes it safe). The Keras adapter ``range_test``
trains the recipe's model for ``steps`` batches while the LR grows exponentially: a fresh
model, or the training model itself (``sweep_model``), whose weights and optimizer state
are restored after the sweep, so the training reuses the sweep's traced train step
instead of tracing its own. It fails soft: non-finite losses
end the sweep, and too few points give ``None``.

Example:
    >>> lrs = [1e-4 * 10 ** (i / 10) for i in range(40)]
    >>> losses = [2.3 - 0.02 * i if i < 30 else 5.0 for i in range(40)]
    >>> round(suggest(lrs, losses, beta=0.5), 4)  # ~half-way down the falling run
    0.0025
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from typing import Any

from convergent.trainer.recipe import Recipe

LR_MIN = 1e-6         # fastai lr_find defaults: start_lr=1e-7, end_lr=10
LR_MAX = 10.0
STEPS = 100           # fastai's num_it=100 ...
MIN_STEPS = 50        # ... but at most one epoch when an epoch is shorter (>= 7 per decade)
SMOOTH = 0.98         # fastai's exponential smoothing of the loss
DIVERGE_FACTOR = 4.0  # fastai stops when the smoothed loss exceeds 4x its minimum
MIN_POINTS = 10
SKIP_START = 5        # the first points are noise of the fresh model (fastai skips 10 of 100)
# knee: the first rate by which the smoothed loss has made 80% of its fall from the start of
# the sweep to its minimum. The minimum itself sits on a flat bottom with BatchNorm (its rate
# moved 0.02-1.4 between two sweeps of the same data) and fastai's valley moved 0.0003-0.014;
# the 80% point moved 0.01-0.05 in 11 of 12 sweeps (3 datasets x 2 splits x 2 seeds,
# benchmarks/RESULTS.md, fit vs baseline).
KNEE_FRACTION = 0.8
# For the adaptive optimizers the knee is clipped to [Adam's default 1e-3 (Kingma & Ba
# 2015), 5e-2]: below 1e-3 the sweep read noise, not a fall; 5e-2 is the highest one-cycle
# peak measured to train as well as 1e-2 on the three embedded datasets (RESULTS.md).
ADAPTIVE = ("adam", "adamw", "rmsprop")
ADAPTIVE_PEAK_RANGE = (1e-3, 5e-2)


def smooth(losses: Sequence[float], beta: float = SMOOTH) -> list[float]:
    """Bias-corrected exponential moving average, as fastai's Recorder does."""
    out, avg = [], 0.0
    for i, v in enumerate(losses, 1):
        avg = beta * avg + (1 - beta) * v
        out.append(avg / (1 - beta ** i))
    return out


def valley(lrs: Sequence[float], losses: Sequence[float]) -> float | None:
    """fastai's ``valley`` rule: 2/3 down the longest falling run of the smoothed loss."""
    n = len(losses)
    if n < MIN_POINTS:
        return None
    lds = [1] * n
    max_start, max_end = 0, 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
        if lds[max_end] < lds[i]:
            max_end = i
            max_start = max_end - lds[max_end]
    if max_end - max_start < 2:
        return None
    sections = (max_end - max_start) / 3
    return float(lrs[max_start + int(sections) + int(sections / 2)])


def knee(lrs: Sequence[float], losses: Sequence[float], frac: float = KNEE_FRACTION
         ) -> float | None:
    """The first LR (after ``SKIP_START``) by which the loss has made ``frac`` of its fall
    from the sweep's start to its minimum; None when it never falls."""
    if len(losses) <= SKIP_START + 1:
        return None
    start, low = losses[SKIP_START], min(losses[SKIP_START:])
    if low >= start:
        return None
    goal = start - frac * (start - low)
    return float(next(lr for lr, v in zip(lrs[SKIP_START:], losses[SKIP_START:], strict=True)
                      if v <= goal))


RULES = {"valley": valley, "knee": knee}


def suggest(lrs: Sequence[float], losses: Sequence[float], beta: float = SMOOTH,
            rule: str = "valley") -> float | None:
    """The ``rule`` LR (``"valley"`` or ``"knee"``) of the smoothed curve, cut where the
    loss blows up; None when the loss never falls or too few finite points remain."""
    if rule not in RULES:
        raise ValueError(f"unknown LR rule {rule!r}; known: {sorted(RULES)}")
    pts = [(lr, v) for lr, v in zip(lrs, losses, strict=False) if math.isfinite(v)]
    if len(pts) < MIN_POINTS:
        return None
    sm = smooth([v for _, v in pts], beta)
    best = min(sm)
    cut = next((i for i, v in enumerate(sm) if i > SKIP_START and v > DIVERGE_FACTOR * best),
               len(sm))
    sm, pts = sm[:cut], pts[:cut]
    if min(sm[SKIP_START:] or sm) >= sm[0]:  # loss never fell: no usable suggestion
        return None
    return RULES[rule]([lr for lr, _ in pts], sm)


def rule_for(recipe: Recipe) -> str:
    """``knee`` for a one-cycle schedule (the LR is its peak), else ``valley``."""
    return "knee" if recipe.fit.schedule == "onecycle" and not recipe.fit.reduce_lr_patience \
        else "valley"


def clip_for(recipe: Recipe, lr: float | None) -> float | None:
    """The knee clipped to ``ADAPTIVE_PEAK_RANGE`` for the adaptive optimizers."""
    if lr is None or rule_for(recipe) != "knee" or recipe.compile.optimizer not in ADAPTIVE:
        return lr
    low, high = ADAPTIVE_PEAK_RANGE
    return min(max(lr, low), high)


def can_sweep_in_place(recipe: Recipe) -> bool:
    """The recipe's rate is a schedule, so its model can carry a ``Sweepable`` (a constant
    rate is a plain variable that ReduceLROnPlateau must be able to set)."""
    from convergent.trainer.build import schedule_numbers
    from convergent.trainer.schedule import SCHEDULED

    return schedule_numbers(recipe, 1)[0] in SCHEDULED


def sweep_model(recipe: Recipe, data: Any, seed: int = 0) -> Any:
    """A model of ``recipe`` compiled with a ``Sweepable`` schedule: ``range_test`` can run on
    it and the training then reuse its traced train step (``train(..., model=...)``).

    A recipe with a constant rate gets a cosine schedule: its numbers are not used by a
    sweep, only its optimizer is; such a model is for the sweep alone.
    """
    import keras

    from convergent.trainer.build import build_model, compile_model

    if not can_sweep_in_place(recipe):
        recipe = recipe.with_(fit={"schedule": "cosine", "reduce_lr_patience": 0})
    keras.utils.set_random_seed(seed)
    model = build_model(recipe, data)
    compile_model(model, recipe, data.steps_per_epoch, sweepable=True)
    return model


def range_test(recipe: Recipe, data: Any, steps: int = STEPS, lr_min: float = LR_MIN,
               lr_max: float = LR_MAX, seed: int = 0, model: Any = None) -> dict[str, Any]:
    """Sweep the LR over ``steps`` training batches of ``model``, or of a fresh model.

    The sweep runs the recipe's own optimizer and loss (class weights included), the rate
    growing exponentially from ``lr_min`` to ``lr_max``; it stops once the smoothed loss
    passes ``DIVERGE_FACTOR`` times its minimum (fastai), so a diverged tail costs no steps.
    With ``model`` (from ``sweep_model``) it leaves no trace: the weights, the optimizer's
    state and the RNG state are restored and the schedule is the recipe's again (in
    ``finally``), while the traced train step stays for the training run to reuse.

    Returns ``{"lrs", "losses", "suggested", "rule", "step_seconds", "setup_seconds"}``
    (``suggested``, from ``rule_for(recipe)`` and ``clip_for``, may be None;
    ``step_seconds`` is the median time of one training step, tracing excluded;
    ``setup_seconds`` the first step's extra time: tracing, pipeline start-up).
    """
    import keras

    from convergent.trainer.schedule import sweepable_of

    if model is None:
        model = sweep_model(recipe, data, seed)
    schedule = sweepable_of(model)
    if schedule is None:
        raise ValueError("range_test(model=...) needs a model compiled with a Sweepable "
                         "schedule (make it with sweep_model(recipe, data)); received one whose "
                         f"optimizer has {type(getattr(model, 'optimizer', None)).__name__} "
                         "without it")
    keras.utils.set_random_seed(seed)
    steps = max(MIN_STEPS, min(steps, data.steps_per_epoch))
    rate = (lr_max / lr_min) ** (1.0 / max(1, steps - 1))
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    state = [*model.trainable_variables, *model.non_trainable_variables,
             *model.optimizer.variables]
    saved = [keras.ops.convert_to_numpy(v) for v in state]
    means: list[float] = []
    stamps: list[float] = []
    # the same smoothing per decade of LR as fastai's 0.98 over its 100 steps
    beta = SMOOTH ** (STEPS / max(1, steps))
    track = {"avg": 0.0, "best": math.inf}

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            stamps.append(time.perf_counter())
            loss = float((logs or {}).get("loss", float("nan")))
            means.append(loss)
            if not math.isfinite(loss):
                self.model.stop_training = True
                return
            i = len(means) - 1  # Keras logs the epoch's running mean: this batch's own loss
            own = loss if i == 0 else (i + 1) * loss - i * means[i - 1]
            track["avg"] = beta * track["avg"] + (1 - beta) * own
            sm = track["avg"] / (1 - beta ** (i + 1))
            track["best"] = min(track["best"], sm)
            if i > SKIP_START and sm > DIVERGE_FACTOR * track["best"]:
                self.model.stop_training = True

    ds = data.train.repeat()
    began = time.perf_counter()
    schedule.start_sweep(lr_min, rate)
    try:
        # the same class weights as the training run: the same loss, and the same traced step
        model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[Record()],
                  class_weight=data.class_weight)
    finally:
        schedule.stop_sweep()
        for v, value in zip(state, saved, strict=True):
            v.assign(value)
        model.stop_training = False
    # Keras logs the running mean of the epoch; recover each batch's own loss from it
    losses = [means[0]] + [(i + 1) * means[i] - i * means[i - 1] for i in range(1, len(means))]
    lrs = [lr_min * rate ** i for i in range(len(losses))]
    gaps = sorted(b - a for a, b in itertools.pairwise(stamps[1:]))  # first: tracing
    step_s = gaps[len(gaps) // 2] if gaps else None
    rule = rule_for(recipe)
    return {"lrs": lrs, "losses": losses, "rule": rule,
            "suggested": clip_for(recipe, suggest(lrs, losses, beta, rule)),
            "valley": suggest(lrs, losses, beta), "knee": suggest(lrs, losses, beta, "knee"),
            "step_seconds": step_s, "beta": beta,
            # tracing and pipeline start-up: the first step's time beyond a normal step's
            "setup_seconds": max(0.0, stamps[0] - began - (step_s or 0.0)) if stamps else None}
