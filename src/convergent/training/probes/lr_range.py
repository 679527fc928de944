"""Learning-rate range test (Smith 2017, "Cyclical Learning Rates", sec. 3.3; fastai lr_find).

The LR grows exponentially, one step per value, from the starting weights; the smoothed loss
falls, bottoms out and blows up. The pure core (``smooth``, ``suggest``) takes plain lists,
so a saved curve is judged by the same code as a live sweep.

Example:
    >>> lrs = [10 ** (-6 + i / 10) for i in range(70)]
    >>> losses = [2.3 - 0.02 * i if i < 50 else 2.3 + (i - 50) for i in range(70)]
    >>> lo, hi = suggest(lrs, smooth(losses, 0.0))["suggested"]
    >>> lo < hi
    True
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from convergent.training.probes import backend as B

LR_START = 1e-6  # below any useful LR for Adam or SGD
LR_END = 10.0  # fastai's end_lr
LR_STEPS = 70  # fastai uses 100 over 8 decades; 70 over 7 keeps ~10 per decade in budget
# Smoothing: fastai/Lightning use beta=0.98 over 100+ steps (window ~50); with ~10 steps per
# decade that lags by 5 decades, so we use a window of ~5 steps (half a decade).
SMOOTH_BETA = 0.8
DIVERGE_FACTOR = 4.0  # stop once the smoothed loss exceeds 4x its best (fastai, Lightning)
MIN_POINTS = 10  # fewer finite points than this: no suggestion (Lightning fails soft too)


def lr_schedule(start: float = LR_START, end: float = LR_END, steps: int = LR_STEPS
                ) -> list[float]:
    return [start * (end / start) ** (i / max(steps - 1, 1)) for i in range(steps)]


def smooth(losses: list[float], beta: float = SMOOTH_BETA) -> list[float]:
    """Bias-corrected exponential moving average (fastai); non-finite values end the curve."""
    out, avg = [], 0.0
    for i, v in enumerate(losses):
        if not math.isfinite(v):
            break
        avg = beta * avg + (1 - beta) * v
        out.append(avg / (1 - beta ** (i + 1)))
    return out


def suggest(lrs: list[float], smoothed: list[float]) -> dict[str, Any]:
    """Suggested LR range from a smoothed sweep.

    ``lr_min`` is where the smoothed loss bottoms out; above it the loss rises. The range is
    [steepest descent, lr_min / 10] (fastai's "steep" and "minimum/10" rules). Returns
    ``suggested=None`` when the curve never falls (the LR cannot be judged).
    """
    n = min(len(lrs), len(smoothed))
    if n < MIN_POINTS:
        return {"suggested": None, "lr_min": None, "reason": f"only {n} finite points"}
    s = np.asarray(smoothed[:n])
    lr = np.asarray(lrs[:n])
    i_min = int(np.argmin(s))
    drop = (s[0] - s[i_min]) / max(abs(s[0]), 1e-12)
    if drop < 0.05 or i_min == 0:
        return {"suggested": None, "lr_min": None, "drop": float(drop),
                "reason": "the loss did not fall anywhere in the sweep"}
    lr_min = float(lr[i_min])
    hi = lr_min / 10.0
    grad = np.gradient(s[:i_min + 1], np.log10(lr[:i_min + 1])) if i_min >= 2 else np.array([0.0])
    steep = float(lr[int(np.argmin(grad))]) if i_min >= 2 else hi / 10
    lo = steep if steep < hi else hi / 10.0
    return {"suggested": [lo, hi], "lr_min": lr_min, "lr_steep": steep, "drop": float(drop)}


def run(session: Any, which: str = "user", steps: int = LR_STEPS, until: float | None = None
        ) -> dict[str, Any]:
    """Sweep the LR on the session's model (reset first); the curve plus the suggestion."""
    lrs = lr_schedule(steps=steps)
    batches = session.batches(session.rng.permutation(len(session.x))[:max(steps * 32, 256)])
    best = math.inf
    losses: list[float] = []
    session.reset()
    step = session.step(which)
    B.reset_optimizer(session._opts[which], lrs[0])
    avg, sm = 0.0, []
    for i, lr in enumerate(lrs):
        B.set_lr(session._opts[which], lr)
        xb, yb = next(batches)
        loss = step(xb, yb, True)[0]
        losses.append(loss)
        if not math.isfinite(loss):
            break
        avg = SMOOTH_BETA * avg + (1 - SMOOTH_BETA) * loss
        cur = avg / (1 - SMOOTH_BETA ** (i + 1))
        sm.append(cur)
        best = min(best, cur)
        if i > MIN_POINTS and cur > DIVERGE_FACTOR * best:
            break
        if session.left() <= 0 or (until is not None and time.monotonic() > until):
            break
    out = suggest(lrs[:len(sm)], sm)
    out.update(lr=lrs[:len(losses)], loss=losses, smoothed=sm, optimizer=which)
    return out
