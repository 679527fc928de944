"""Does a hand-written loss stay finite on a confident mistake?

Keras' own crossentropies clip predictions to [eps, 1 - eps] (``keras.config.epsilon()``,
1e-7) before taking the log. A hand-written ``-sum(y_true * log(y_pred))`` does not: the
first confident mistake of a softmax (a probability that underflows to exactly 0 in
float32, which happens once logits differ by ~104) makes the loss inf and every gradient
NaN. One call of the loss on two such predictions, before training, shows it.

Example:
    >>> import keras
    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    >>> m.compile(loss=lambda t, p: -keras.ops.sum(t * keras.ops.log(p), axis=-1))
    >>> unsafe_loss(m)["value"]        # 0 * log(0) for the other classes
    'nan'
    >>> m.compile(loss="categorical_crossentropy")
    >>> unsafe_loss(m) is None
    True
"""

from __future__ import annotations

import math
from typing import Any

PROBABILITY_OUTPUTS = ("softmax", "sigmoid")


def unsafe_loss(model: Any) -> dict[str, Any] | None:
    """Evidence when ``model``'s compiled loss is a user function that returns a non-finite
    value for a confident mistake (probability 0 on the true class); None otherwise or when
    it cannot be told (built-in loss, logits output, unknown label format)."""
    loss = getattr(model, "loss", None)
    if loss is None or isinstance(loss, (str, dict, list, tuple)) or not callable(loss):
        return None
    module = getattr(loss, "__module__", None) or type(loss).__module__
    if module.split(".")[0] in ("keras", "tensorflow", "tf_keras"):
        return None  # the built-in losses clip their input
    units = _output_units(model)
    if units is None:
        return None
    import keras
    import numpy as np

    k = max(units, 2)
    wrong = np.eye(k, dtype="float32")[[1, 0]]           # sure of the other class
    truth = np.eye(k, dtype="float32")[[0, 1]]
    if units == 1:
        wrong, truth = wrong[:, :1], truth[:, :1]
    for y_true in (truth, np.array([[0.0], [1.0]], dtype="float32")):
        try:
            value = loss(keras.ops.convert_to_tensor(y_true), keras.ops.convert_to_tensor(wrong))
            value = float(np.mean(keras.ops.convert_to_numpy(value)))
        except Exception:  # noqa: BLE001, S112 - a loss for another label format: try the next
            continue
        if math.isfinite(value):
            return None
        return {"loss": getattr(loss, "__name__", type(loss).__name__), "value": str(value),
                "probe": "a confident mistake: predicted probability 0 for the true class"}
    return None


def _output_units(model: Any) -> int | None:
    """Units of a single softmax/sigmoid output layer, else None."""
    try:
        last = model.layers[-1]
        shape = model.output_shape
    except (AttributeError, IndexError, ValueError):
        return None
    act = getattr(getattr(last, "activation", None), "__name__", "")
    if act not in PROBABILITY_OUTPUTS or not isinstance(shape, tuple) or len(shape) != 2:
        return None
    return int(shape[-1]) if shape[-1] else None
