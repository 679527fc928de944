"""Weight penalties measured against the data loss, and rescaled in place (reduce_l2)."""

import math

import numpy as np
import pytest

from convergent.remedies.regularization import (
    PENALTY_DOMINATES,
    penalty_share,
    regularized,
    scale_penalties,
)

LOSS = "sparse_categorical_crossentropy"


@pytest.fixture(scope="module")
def keras():
    import keras

    return keras


def model(keras, reg):
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((6,)),
                             keras.layers.Dense(8, activation="relu", kernel_regularizer=reg),
                             keras.layers.Dense(3, activation="softmax")])


def data():
    rng = np.random.default_rng(0)
    return rng.normal(0, 1, (40, 6)).astype("float32"), rng.integers(0, 3, 40)


def test_no_penalty_no_share(keras):
    x, y = data()
    assert penalty_share(model(keras, None), x, y, LOSS) is None
    assert penalty_share(model(keras, "l2"), None, y, LOSS) is None  # no arrays


def test_share_is_the_penalty_over_the_data_loss(keras):
    x, y = data()
    m = model(keras, keras.regularizers.l2(0.5))
    share = penalty_share(m, x, y, LOSS)
    kernel = m.layers[0].kernel.numpy()
    assert share.penalty == pytest.approx(0.5 * float((kernel ** 2).sum()), rel=1e-5)
    assert share.data_loss == pytest.approx(math.log(3), rel=0.3)  # near ln C at init
    assert share.ratio > PENALTY_DOMINATES
    assert penalty_share(model(keras, keras.regularizers.l2(1e-4)), x, y, LOSS).ratio < 0.01


@pytest.mark.parametrize("reg, keys", [("l2", {"l2"}), ("l1", {"l1"}), ("l1_l2", {"l1", "l2"})],
                         ids=["l2", "l1", "l1l2"])
def test_scale_changes_what_keras_computes_and_the_config(keras, reg, keys):
    x, y = data()
    m = model(keras, keras.regularizers.get({"l2": keras.regularizers.L2(0.1),
                                             "l1": keras.regularizers.L1(0.1),
                                             "l1_l2": keras.regularizers.L1L2(0.1, 0.1)}[reg]))
    before = penalty_share(m, x, y, LOSS).penalty
    changed = scale_penalties(m, 0.01)
    assert len(changed) == 1 and set(changed[0][1]) == keys
    assert penalty_share(m, x, y, LOSS).penalty == pytest.approx(before * 0.01, rel=1e-4)
    cfg = m.layers[0].kernel_regularizer.get_config()
    assert all(cfg[k] == pytest.approx(0.001) for k in keys)
    assert len(regularized(m)) == 1
