"""Weight penalties (L1/L2 ``kernel_regularizer``) measured against the data loss.

A penalty that outweighs the data loss at the initial weights makes the optimizer shrink
the weights instead of fitting the data: the run sits at chance whatever the learning
rate. ``penalty_share`` measures it (the regularization losses Keras adds, ``model.losses``,
against the compiled loss on a sample of the training data); ``scale_penalties`` rescales
every L1/L2 factor on the model's variables in place (the run-time ``reduce_l2`` remedy).

Example:
    >>> share = penalty_share(model, x, y, "sparse_categorical_crossentropy")  # doctest: +SKIP
    >>> share.ratio > PENALTY_DOMINATES                                          # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

# The penalty "dominates" when it is at least the data loss (half of the objective or more:
# most of the gradient then shrinks weights instead of fitting). A definition, not a fit.
PENALTY_DOMINATES = 1.0
# After the remedy the penalty at the initial weights is a tenth of the data loss: an order
# of magnitude below, a correction term (rule of thumb; the usual 1e-4..1e-3 L2 factors
# give 1-10 % on small Keras MLPs/CNNs at Glorot init, measured in tests/remedies).
PENALTY_TARGET = 0.1
# Samples for the data-loss measurement: one forward pass, a few batches' worth.
SAMPLE = 256


@dataclass(frozen=True)
class PenaltyShare:
    """Regularization loss vs data loss at the model's current weights."""

    penalty: float
    data_loss: float

    @property
    def ratio(self) -> float:
        return self.penalty / self.data_loss if self.data_loss > 0 else math.inf


def regularized(model: Any) -> list[tuple[Any, Any]]:
    """(variable, regularizer) for every variable with an L1/L2 weight penalty."""
    out = []
    for v in getattr(model, "trainable_weights", []):
        reg = getattr(v, "regularizer", None)
        if reg is not None and _factors(reg):
            out.append((v, reg))
    return out


def _factors(reg: Any) -> dict[str, float]:
    try:
        cfg = reg.get_config()
    except (AttributeError, NotImplementedError):
        return {}
    return {k: float(cfg[k]) for k in ("l1", "l2") if isinstance(cfg.get(k), (int, float))
            and cfg[k] > 0}


def penalty_share(model: Any, x: Any, y: Any, loss: Any) -> PenaltyShare | None:
    """The penalty vs the data loss on up to SAMPLE training samples; None when the model
    has no L1/L2 penalty, or the data loss cannot be computed (no arrays, a custom loss)."""
    import keras

    if not regularized(model) or not isinstance(x, np.ndarray) or y is None:
        return None
    try:
        fn = keras.losses.get(loss)
        pred = model(x[:SAMPLE], training=False)
        data = float(keras.ops.mean(fn(np.asarray(y)[:SAMPLE], pred)))
        penalty = float(sum(float(keras.ops.convert_to_numpy(t)) for t in model.losses))
    except (TypeError, ValueError, AttributeError):
        return None
    if not (math.isfinite(data) and math.isfinite(penalty)):
        return None
    return PenaltyShare(penalty, data)


def scale_penalties(model: Any, factor: float) -> list[tuple[str, dict[str, float]]]:
    """Multiply every L1/L2 factor by ``factor`` in place: the variables' regularizers (what
    Keras reads when it computes the loss) and the layers' ``kernel_regularizer`` (what
    ``get_config`` shows). Returns (variable path, new factors) per variable changed."""
    import keras

    changed = []
    new_of: dict[int, Any] = {}
    for v, reg in regularized(model):
        if id(reg) not in new_of:
            new = {k: f * factor for k, f in _factors(reg).items()}
            new_of[id(reg)] = keras.regularizers.L1L2(**new) if len(new) == 2 or "l1" in new \
                else keras.regularizers.L2(new["l2"])
        v.regularizer = new_of[id(reg)]
        changed.append((v.path, _factors(new_of[id(reg)])))
    for ly in _layers(model):
        for attr in ("kernel_regularizer", "bias_regularizer"):
            reg = getattr(ly, attr, None)
            if reg is not None and id(reg) in new_of:
                setattr(ly, attr, new_of[id(reg)])
    return changed


def _layers(model: Any) -> list[Any]:
    out = []
    for ly in getattr(model, "layers", []):
        out += [ly] + (_layers(ly) if hasattr(ly, "layers") else [])
    return out
