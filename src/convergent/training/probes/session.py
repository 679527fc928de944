"""A probe session: the copied model, its starting weights, and train/evaluate helpers.

Every probe starts from the same weights (``reset``) and trains through the one backend
step of :mod:`convergent.training.probes.backend`, so gradient norms of every step are kept.

Example:
    >>> s = ProbeSession.open(model, x, y, seed=0)              # doctest: +SKIP
    >>> losses = s.train(s.batches(s.idx[:32]), steps=50)       # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from convergent.training.probes import backend as B

REFERENCE_LR = 1e-3  # Adam's default (Kingma & Ba 2015), the known-good reference optimizer
BATCH = 32  # Keras' default fit batch size


@dataclass
class ProbeSession:
    model: Any
    x: np.ndarray
    y: np.ndarray
    labels: np.ndarray  # integer class per sample
    n_classes: int
    loss_fn: Callable[[Any, Any], Any]
    user_opt: Any
    user_lr: float | None
    w0: list[np.ndarray]
    rng: np.random.Generator
    deadline: float
    layer_names: list[str] = field(default_factory=list)
    grad_log: list[dict[str, Any]] = field(default_factory=list)
    _steps: dict[str, B.Step] = field(default_factory=dict)
    _opts: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, model: Any, x: np.ndarray, y: np.ndarray, labels: np.ndarray,
             n_classes: int, loss: Any, optimizer: Any, deadline: float, seed: int = 0
             ) -> ProbeSession:
        user_lr = B.current_lr(optimizer) if optimizer is not None else None
        s = cls(model=model, x=x, y=y, labels=labels, n_classes=n_classes,
                loss_fn=B.resolve_loss(loss), user_opt=optimizer, user_lr=user_lr,
                w0=model.get_weights(), rng=np.random.default_rng(seed), deadline=deadline)
        s.layer_names = B.kernel_groups(model)[0]
        return s

    # ------------------------------------------------------------------ time
    def left(self) -> float:
        return self.deadline - time.monotonic()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        self.model.set_weights(self.w0)

    def step(self, which: str = "user") -> B.Step:
        if which not in self._steps:
            import keras

            opt = (B.fresh_optimizer(self.user_opt) if which == "user" and self.user_opt
                   is not None else keras.optimizers.Adam(REFERENCE_LR))
            self._opts[which] = opt
            self._steps[which] = B.make_step(self.model, self.loss_fn, opt)
        return self._steps[which]

    def lr_of(self, which: str) -> float:
        if which == "user" and self.user_lr is not None:
            return self.user_lr
        return REFERENCE_LR

    # ------------------------------------------------------------------ data
    def batches(self, idx: np.ndarray, y: np.ndarray | None = None, batch: int = BATCH
                ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Endless reshuffled batches over the samples ``idx`` (labels ``y`` if given)."""
        yy = self.y if y is None else y
        while True:
            order = self.rng.permutation(idx)
            for i in range(0, len(order) - batch + 1 if len(order) >= batch else 1, batch):
                b = order[i:i + batch]
                yield self.x[b], yy[b]

    # ------------------------------------------------------------------ run
    def train(self, batches: Iterator[tuple[np.ndarray, np.ndarray]], steps: int,
              which: str = "user", lr: float | Callable[[int], float] | None = None,
              stop_below: float | None = None, stop_above: float | None = None,
              log: str | None = None, reset: bool = True, until: float | None = None
              ) -> list[float]:
        """Train up to ``steps`` steps from the starting weights; return the losses.

        Stops early at a non-finite loss, below ``stop_below``, above ``stop_above`` or
        when the time budget (or ``until``, a ``time.monotonic()`` value) is spent. ``log``
        names the run in the gradient log.
        """
        step = self.step(which)
        if reset:
            self.reset()
            B.reset_optimizer(self._opts[which], self.lr_of(which) if lr is None or
                              callable(lr) else lr)
        losses: list[float] = []
        for i in range(steps):
            if callable(lr):
                B.set_lr(self._opts[which], lr(i))
            xb, yb = next(batches)
            loss, gn, wn, un = step(xb, yb, True)
            losses.append(loss)
            if log is not None:
                self.grad_log.append({"run": log, "step": i, "loss": loss, "grad": gn.tolist(),
                                      "weight": wn.tolist(), "update": un.tolist()})
            if not math.isfinite(loss):
                break
            if stop_below is not None and loss < stop_below:
                break
            if stop_above is not None and loss > stop_above:
                break
            if self.left() <= 0 or (until is not None and time.monotonic() > until):
                break
        return losses

    def measure_grads(self, batches: Iterator[tuple[np.ndarray, np.ndarray]], n: int,
                      log: str) -> None:
        """Gradient norms at the current weights on ``n`` batches, without updating."""
        step = self.step("user" if self.user_opt is not None else "ref")
        for i in range(n):
            xb, yb = next(batches)
            loss, gn, wn, _ = step(xb, yb, False)
            self.grad_log.append({"run": log, "step": i, "loss": loss, "grad": gn.tolist(),
                                  "weight": wn.tolist()})

    def predict(self, x: np.ndarray, batch: int = 256) -> np.ndarray:
        import keras

        outs = [keras.ops.convert_to_numpy(self.model(x[i:i + batch], training=False))
                for i in range(0, len(x), batch)]
        return np.concatenate(outs) if outs else np.zeros((0, self.n_classes))

    def evaluate(self, x: np.ndarray, y: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
        """(mean loss, accuracy) on the given samples, inference mode."""
        import keras

        p = self.predict(x)
        loss = float(keras.ops.convert_to_numpy(self.loss_fn(y, p)))
        acc = float(np.mean(np.argmax(p, -1) == labels)) if p.ndim == 2 and p.shape[1] > 1 \
            else float(np.mean((p.reshape(-1) > 0.5) == labels))
        return loss, acc
