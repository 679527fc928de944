"""One-batch overfit: can the model drive the loss on one fixed batch near zero?

Karpathy (2019), "overfit one batch": if a network cannot memorise 32 samples, the fault is
in the model, the loss, the labels or the optimizer, not in the amount of data.

Example:
    >>> summarize([2.3, 1.0, 0.1], target=0.23)["reached"]
    True
"""

from __future__ import annotations

import math
from typing import Any

SAMPLES = 32  # one Keras default batch
STEPS = 120  # Adam(1e-3) memorises 32 samples in 20-80 steps on every healthy model we
# generated (tests/training/probes and benchmarks/perf/diagnose_time.py); 120 leaves margin
TARGET_FRACTION = 0.1  # "near zero": 10% of ln C (0.23 nats for 10 classes, ~80% confidence)


def summarize(losses: list[float], target: float, cap: int | None = None) -> dict[str, Any]:
    """Outcome of one run; ``progress`` is the share of the way from the first loss to the
    target that the best loss covered (0 = no learning, 1 = reached); ``timed_out`` when the
    budget stopped the run before ``cap`` steps without an answer (inconclusive)."""
    finite = [v for v in losses if math.isfinite(v)]
    best = min(finite) if finite else None
    progress = 0.0
    if finite and losses[0] > target and math.isfinite(losses[0]):
        progress = min(max((losses[0] - best) / (losses[0] - target), 0.0), 1.0)
    return {"losses": losses, "initial": losses[0] if losses else None,
            "final": losses[-1] if losses else None, "min": best,
            "steps": len(losses), "target": target,
            "reached": best is not None and best < target, "progress": progress,
            "nonfinite": len(finite) < len(losses),
            "timed_out": cap is not None and len(losses) < cap and len(finite) == len(losses)
            and not (best is not None and best < target)}


def run(session: Any, which: str = "user", steps: int = STEPS, until: float | None = None
        ) -> dict[str, Any]:
    idx = _spread(session, SAMPLES)
    target = TARGET_FRACTION * math.log(session.n_classes)
    losses = session.train(session.batches(idx, batch=len(idx)), steps, which=which,
                           stop_below=target, log=f"overfit_{which}", until=until)
    out = summarize(losses, target, cap=steps)
    out.update(optimizer=which, lr=session.lr_of(which), samples=len(idx))
    return out


def _spread(session: Any, n: int) -> Any:
    """``n`` samples covering as many classes as possible (round-robin over classes)."""
    import numpy as np

    by_class = [session.rng.permutation(np.flatnonzero(session.labels == c))
                for c in range(session.n_classes)]
    out: list[int] = []
    k = 0
    while len(out) < min(n, len(session.labels)):
        for members in by_class:
            if k < len(members) and len(out) < n:
                out.append(int(members[k]))
        k += 1
    return np.array(out)
