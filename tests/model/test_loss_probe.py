"""The loss probe: a hand-written loss that is not finite on a confident mistake."""

from __future__ import annotations

import keras
import pytest

from convergent.model.loss_probe import unsafe_loss


def model(units: int = 3, activation: str = "softmax") -> keras.Model:
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(units, activation=activation)])


def unclipped(y_true, y_pred):
    return -keras.ops.sum(y_true * keras.ops.log(y_pred), axis=-1)


def clipped(y_true, y_pred):
    return unclipped(y_true, keras.ops.clip(y_pred, 1e-7, 1 - 1e-7))


def unclipped_binary(y_true, y_pred):
    return -keras.ops.mean(y_true * keras.ops.log(y_pred)
                           + (1 - y_true) * keras.ops.log(1 - y_pred), axis=-1)


def unclipped_sparse(y_true, y_pred):
    idx = keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32")
    return -keras.ops.log(keras.ops.take_along_axis(y_pred, idx[:, None], axis=1))


@pytest.mark.parametrize("loss, units, act", [
    (unclipped, 3, "softmax"), (unclipped_binary, 1, "sigmoid"), (unclipped_sparse, 3, "softmax"),
], ids=["one-hot", "binary", "sparse-labels"])
def test_unclipped_log_losses_are_found(loss, units, act):
    m = model(units, act)
    m.compile(optimizer="adam", loss=loss)
    ev = unsafe_loss(m)
    assert ev is not None and ev["value"] in ("inf", "nan") and ev["loss"] == loss.__name__


@pytest.mark.parametrize("loss, act", [
    (clipped, "softmax"), ("categorical_crossentropy", "softmax"),
    (keras.losses.CategoricalCrossentropy(), "softmax"), (unclipped, "linear"),
], ids=["clipped", "builtin-name", "builtin-object", "logits-output-not-judged"])
def test_safe_or_unjudged_losses_are_left_alone(loss, act):
    m = model(3, act)
    m.compile(optimizer="adam", loss=loss)
    assert unsafe_loss(m) is None


def test_uncompiled_model_is_left_alone():
    assert unsafe_loss(model()) is None
