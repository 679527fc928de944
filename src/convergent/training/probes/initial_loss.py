"""Initial loss vs ln C: a softmax classifier that knows nothing should score -ln(1/C).

Karpathy, "A Recipe for Training Neural Networks" (2019): verify the loss at init. With
logits of standard deviation s the expected initial crossentropy is about ln C + s^2/2, so
a loss far above ln C means the network starts with large, confident, wrong logits.

Example:
    >>> round(expected_loss([50, 50]), 3)
    0.693
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

SAMPLES = 256  # standard error of a mean CE over 256 samples is < 0.1 nat for sane models


def expected_loss(counts: list[int]) -> float:
    """Crossentropy of uniform predictions: ln C whatever the class frequencies."""
    return math.log(max(len([c for c in counts if c > 0]), 1) if counts else 1)


def run(session: Any) -> dict[str, Any]:
    n = len(session.x)
    idx = session.rng.permutation(n)[:min(SAMPLES, n)]
    loss, acc = session.evaluate(session.x[idx], session.y[idx], session.labels[idx])
    counts = np.bincount(session.labels, minlength=session.n_classes).tolist()
    lnc = math.log(session.n_classes)
    excess = loss - lnc
    return {"loss": loss, "ln_c": lnc, "excess": excess,
            "implied_logit_std": math.sqrt(2 * excess) if math.isfinite(excess) and excess > 0
            else 0.0, "accuracy": acc, "samples": len(idx), "class_counts": counts}
