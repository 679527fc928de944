"""Label-shuffle control: does the model learn the real labels better than shuffled ones?

Zhang et al. 2017 ("Understanding deep learning requires rethinking generalization"): real
labels are fitted faster than random ones and generalise; random ones never beat chance on
held-out data. If the real labels do no better on held-out samples than a shuffled copy,
the labels carry no information about the inputs (DATA_LABELS_MISALIGNED).

Example:
    >>> significantly_better(0.60, 0.10, 256)
    True
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

TRAIN_SAMPLES = 512
HELDOUT_SAMPLES = 256
STEPS = 48  # 3 epochs over 512 samples at batch 32
Z = 3.0  # one-sided z of a binomial difference: false-alarm rate ~0.1% per comparison


def significantly_better(acc: float, base: float, n: int, z: float = Z) -> bool:
    p = min(max(base, 1.0 / n), 1 - 1.0 / n)
    return acc - base > z * math.sqrt(2 * p * (1 - p) / n)


def run(session: Any, which: str, x_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None, val_labels: np.ndarray | None = None,
        steps: int = STEPS, until: float | None = None) -> dict[str, Any] | None:
    n = len(session.x)
    n_held = min(HELDOUT_SAMPLES, n // 3)
    n_train = min(TRAIN_SAMPLES, n - n_held)
    if n_held < 64 or n_train < 64:
        return None
    perm = session.rng.permutation(n)
    tr, held = perm[:n_train], perm[n_train:n_train + n_held]
    xh, yh, lh = session.x[held], session.y[held], session.labels[held]
    out: dict[str, Any] = {"train_samples": int(n_train), "heldout_samples": int(n_held),
                           "optimizer": which, "steps": steps}
    half = None if until is None else time.monotonic() + (until - time.monotonic()) / 2
    real = session.train(session.batches(tr), steps, which=which, until=half)
    out["real_train_loss"] = _tail(real)
    out["real_heldout_loss"], out["real_heldout_acc"] = session.evaluate(xh, yh, lh)
    if x_val is not None and y_val is not None and val_labels is not None and len(x_val):
        m = min(len(x_val), HELDOUT_SAMPLES)
        out["real_val_loss"], out["real_val_acc"] = session.evaluate(
            x_val[:m], y_val[:m], val_labels[:m])
        out["val_samples"] = int(m)
    y_sh = session.y.copy()
    y_sh[tr] = session.y[session.rng.permutation(tr)]
    shuf = session.train(session.batches(tr, y=y_sh), len(real), which=which, until=until)
    out["shuffled_train_loss"] = _tail(shuf)
    out["shuffled_heldout_loss"], out["shuffled_heldout_acc"] = session.evaluate(xh, yh, lh)
    out["majority_acc"] = float(np.bincount(lh).max() / len(lh))
    out["steps_run"] = [len(real), len(shuf)]
    return out


def _tail(losses: list[float], k: int = 8) -> float:
    finite = [v for v in losses[-k:] if math.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")
