"""A small LR range test (Smith 2017; fastai ``lr_find``) for the trainer.

Pure core: ``suggest(lrs, losses)`` takes plain lists. The Keras adapter ``range_test``
trains a *fresh* model of the recipe for ``steps`` batches while the LR grows
exponentially, so nothing of the real run is touched. It fails soft: non-finite losses
end the sweep, and too few points give ``None``.

Example:
    >>> lrs = [1e-4 * 10 ** (i / 10) for i in range(40)]
    >>> losses = [2.3 - 0.02 * i if i < 30 else 5.0 for i in range(40)]
    >>> round(suggest(lrs, losses), 4)  # minimum at 10**-1.1, one decade lower
    0.0079
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from convergent.trainer.recipe import Recipe

LR_MIN = 1e-6         # fastai lr_find defaults: start_lr=1e-7, end_lr=10
LR_MAX = 10.0
STEPS = 100           # fastai's num_it=100
SMOOTH = 0.98         # fastai's exponential smoothing of the loss
DIVERGE_FACTOR = 4.0  # fastai stops when the smoothed loss exceeds 4x its minimum
MIN_POINTS = 10
SKIP_START = 5        # the first points are noise of the fresh model (fastai skips 10 of 100)
MIN_DIVISOR = 10.0    # suggestion = LR at the loss minimum / 10 (fastai's "minimum" rule)


def smooth(losses: Sequence[float], beta: float = SMOOTH) -> list[float]:
    """Bias-corrected exponential moving average, as fastai's Recorder does."""
    out, avg = [], 0.0
    for i, v in enumerate(losses, 1):
        avg = beta * avg + (1 - beta) * v
        out.append(avg / (1 - beta ** i))
    return out


def suggest(lrs: Sequence[float], losses: Sequence[float]) -> float | None:
    """The LR one decade below the smoothed loss minimum; None when the curve is unusable."""
    pts = [(lr, v) for lr, v in zip(lrs, losses, strict=False) if math.isfinite(v)]
    if len(pts) < MIN_POINTS:
        return None
    sm = smooth([v for _, v in pts])
    best = min(sm[:1] + sm[SKIP_START:])
    cut = next((i for i, v in enumerate(sm) if i > SKIP_START and v > DIVERGE_FACTOR * best),
               len(sm))
    sm, pts = sm[:cut], pts[:cut]
    i_min = min(range(min(SKIP_START, len(sm) - 1), len(sm)), key=sm.__getitem__)
    if sm[i_min] >= sm[0]:  # loss never fell: no usable suggestion
        return None
    return pts[i_min][0] / MIN_DIVISOR


def range_test(recipe: Recipe, data: Any, steps: int = STEPS, lr_min: float = LR_MIN,
               lr_max: float = LR_MAX, seed: int = 0) -> dict[str, Any]:
    """Sweep the LR on a fresh model of ``recipe`` over ``steps`` training batches.

    Returns ``{"lrs", "losses", "suggested"}`` (``suggested`` may be None).
    """
    import keras

    from convergent.trainer.build import build_loss, build_model

    keras.utils.set_random_seed(seed)
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

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            loss = float((logs or {}).get("loss", float("nan")))
            means.append(loss)
            if not math.isfinite(loss):
                self.model.stop_training = True

    ds = data.train.repeat()
    model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[Record()])
    # Keras logs the running mean of the epoch; recover each batch's own loss from it
    losses = [means[0]] + [(i + 1) * means[i] - i * means[i - 1] for i in range(1, len(means))]
    lrs = [lr_min * rate ** i for i in range(len(losses))]
    return {"lrs": lrs, "losses": losses, "suggested": suggest(lrs, losses)}
