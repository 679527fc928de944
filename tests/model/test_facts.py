"""Model facts: initializer variance, loss kinds, label formats, output reading."""

from __future__ import annotations

import math

import numpy as np
import pytest

from convergent.model.facts import init_variance, label_facts, loss_fact, model_facts


@pytest.mark.parametrize("init, fan_in, fan_out, var", [
    ("he_normal", 100, 10, 0.02), ("glorot_uniform", 30, 10, 2 / 40), ("zeros", 5, 5, 0.0),
    ("random_normal", 9, 9, 0.05 ** 2), ("lecun_normal", 50, 1, 1 / 50),
], ids=["he", "glorot", "zeros", "random_normal_default", "lecun"])
def test_init_variance_matches_the_formula(K, init, fan_in, fan_out, var) -> None:
    got, const = init_variance(K.initializers.get(init), fan_in, fan_out)
    assert got == pytest.approx(var, rel=1e-6)
    assert const == (init == "zeros")


def test_init_variance_agrees_with_samples(K) -> None:
    for init in (K.initializers.RandomUniform(-0.3, 0.3), K.initializers.TruncatedNormal(
            stddev=0.2), K.initializers.HeUniform()):
        w = np.asarray(init((400, 300)))
        assert init_variance(init, 400, 300)[0] == pytest.approx(w.var(), rel=0.05)


@pytest.mark.parametrize("loss, kind, logits", [
    ("sparse_categorical_crossentropy", "scce", False), ("mse", "regression", False),
    ("categorical_crossentropy", "cce", False), ("binary_crossentropy", "bce", False),
], ids=["scce", "mse", "cce", "bce"])
def test_loss_fact_strings(loss, kind, logits) -> None:
    assert (loss_fact(loss).kind, loss_fact(loss).from_logits) == (kind, logits)


def test_loss_fact_objects_and_functions(K) -> None:
    f = loss_fact(K.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert (f.kind, f.from_logits) == ("scce", True)
    assert loss_fact(K.losses.categorical_crossentropy).kind == "cce"
    assert loss_fact(K.losses.MeanSquaredError()).kind == "regression"
    assert loss_fact(None).kind == "none"


def test_label_facts_sparse_and_onehot() -> None:
    y = np.array([0, 1, 2, 2])
    assert label_facts(y)["format"] == "sparse" and label_facts(y)["n_classes"] == 3
    oh = np.eye(4)[y]
    assert label_facts(oh)["format"] == "onehot" and label_facts(oh)["n_classes"] == 4
    assert label_facts(y, n_classes=5)["n_classes"] == 5


def test_model_facts_three_styles(K, make) -> None:
    seq = make(K, K.layers.Flatten(), K.layers.Dense(10, activation="softmax"))
    inp = K.Input((8, 8, 1))
    fun = K.Model(inp, K.layers.Dense(10)(K.layers.Flatten()(inp)))

    class Sub(K.Model):
        def __init__(self) -> None:
            super().__init__()
            self.f, self.d = K.layers.Flatten(), K.layers.Dense(10)

        def call(self, x):
            return K.ops.softmax(self.d(self.f(x)))

    sub = Sub()
    sub(np.zeros((1, 8, 8, 1), "float32"))
    fs, ff, fb = model_facts(seq), model_facts(fun), model_facts(sub)
    assert (fs.style, ff.style, fb.style) == ("sequential", "functional", "subclassed")
    assert fs.output.activation == "softmax" and ff.output.activation == "linear"
    # a softmax inside call() is invisible to the layer walk: the numbers reveal it
    assert fb.output.activation == "softmax" and fb.output.how == "numeric"
    assert fb.output.units == 10 and fb.input_shape[1:] == (8, 8, 1)
    assert fs.compiled and not ff.compiled
    assert not fb.shapes_known and fs.shapes_known


def test_unbuilt_model_reports_not_built(K) -> None:
    m = K.Sequential([K.layers.Dense(3)])
    assert not model_facts(m).built
    assert math.isfinite(1.0)
