"""A small LR range test (Smith 2017; fastai ``lr_find``) for the trainer.

Pure core: ``suggest(lrs, losses)`` takes plain lists. The Keras adapter ``range_test``
trains a *fresh* model of the recipe for ``steps`` batches while the LR grows
exponentially, so nothing of the real run is touched. It fails soft: non-finite losses
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


def suggest(lrs: Sequence[float], losses: Sequence[float], beta: float = SMOOTH
            ) -> float | None:
    """The ``valley`` LR of the smoothed curve, cut where the loss blows up; None when the
    loss never falls or too few finite points remain."""
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
    return valley([lr for lr, _ in pts], sm)


def range_test(recipe: Recipe, data: Any, steps: int = STEPS, lr_min: float = LR_MIN,
               lr_max: float = LR_MAX, seed: int = 0) -> dict[str, Any]:
    """Sweep the LR on a fresh model of ``recipe`` over ``steps`` training batches.

    Returns ``{"lrs", "losses", "suggested", "step_seconds"}`` (``suggested`` may be
    None; ``step_seconds`` is the median time of one training step, tracing excluded).
    """
    import keras

    from convergent.trainer.build import build_loss, build_model

    keras.utils.set_random_seed(seed)
    steps = max(MIN_STEPS, min(steps, data.steps_per_epoch))
    model = build_model(recipe, data)
    rate = (lr_max / lr_min) ** (1.0 / max(1, steps - 1))
    schedule = keras.optimizers.schedules.ExponentialDecay(lr_min, 1, rate)  # rate > 1: grows
    c = recipe.compile
    opt_cls = {"sgd": keras.optimizers.SGD, "momentum": keras.optimizers.SGD,
               "adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW,
               "rmsprop": keras.optimizers.RMSprop}[c.optimizer]
    kw: dict[str, Any] = {"momentum": c.momentum} if c.optimizer == "momentum" else {}
    if c.clipnorm:
        kw["clipnorm"] = c.clipnorm
    model.compile(optimizer=opt_cls(learning_rate=schedule, **kw), loss=build_loss(recipe))
    means: list[float] = []
    stamps: list[float] = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            stamps.append(time.perf_counter())
            loss = float((logs or {}).get("loss", float("nan")))
            means.append(loss)
            if not math.isfinite(loss):
                self.model.stop_training = True

    ds = data.train.repeat()
    model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[Record()])
    # Keras logs the running mean of the epoch; recover each batch's own loss from it
    losses = [means[0]] + [(i + 1) * means[i] - i * means[i - 1] for i in range(1, len(means))]
    lrs = [lr_min * rate ** i for i in range(len(losses))]
    # the same smoothing per decade of LR as fastai's 0.98 over its 100 steps
    beta = SMOOTH ** (STEPS / max(1, steps))
    gaps = sorted(b - a for a, b in itertools.pairwise(stamps[1:]))  # first: tracing
    return {"lrs": lrs, "losses": losses, "suggested": suggest(lrs, losses, beta),
            "step_seconds": gaps[len(gaps) // 2] if gaps else None, "beta": beta}
