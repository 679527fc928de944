"""Each lint code: at least one model that must raise it and one that must not."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from convergent.model.checks import LINT
from convergent.model.lint import lint

L = None  # filled per test from the K fixture


def case(K: Any, make: Any, name: str) -> tuple[Any, dict[str, Any]]:
    """(model, lint kwargs) of one named case."""
    L = K.layers
    y = np.random.default_rng(0).integers(0, 10, 500)
    oh = np.eye(10)[y]
    conv = {"activation": "relu", "padding": "same"}
    healthy = [L.Conv2D(8, 3, **conv), L.MaxPooling2D(), L.Conv2D(16, 3, **conv),
               L.Flatten(), L.Dense(32, activation="relu"), L.Dense(10, activation="softmax")]
    R1 = K.initializers.RandomNormal(stddev=1.0)
    cases = {
        "healthy": (lambda: make(K, *healthy), {"y": y}),
        "linear_no_logits": (lambda: make(K, *healthy[:-1], L.Dense(10)), {"y": y}),
        "linear_from_logits": (lambda: make(K, *healthy[:-1], L.Dense(10), loss=K.losses.
                                            SparseCategoricalCrossentropy(from_logits=True)),
                               {"y": y}),
        "sigmoid_cce": (lambda: make(K, *healthy[:-1], L.Dense(10, activation="sigmoid")),
                        {"y": y}),
        "tanh_output": (lambda: make(K, *healthy[:-1], L.Dense(10, activation="tanh")),
                        {"y": y}),
        "tanh_output_bce": (lambda: make(K, *healthy[:-1], L.Dense(1, activation="tanh"),
                                         loss="binary_crossentropy"), {"y": y % 2}),
        "softplus_output": (lambda: make(K, *healthy[:-1], L.Dense(10, activation="softplus")),
                            {"y": y}),
        "cce_1_sigmoid": (lambda: make(K, *healthy[:-1], L.Dense(1, activation="sigmoid"),
                                       loss="categorical_crossentropy"), {"y": y % 2}),
        "linear_classifier": (lambda: make(K, L.Flatten(), L.Dense(10, activation="softmax"),
                                           shape=(28, 28, 1)),
                              {"y": y}),
        "softmax_1_unit": (lambda: make(K, *healthy[:-1], L.Dense(1, activation="softmax"),
                                        loss="categorical_crossentropy"), {}),
        "softmax_from_logits": (lambda: make(K, *healthy, loss=K.losses.
                                             SparseCategoricalCrossentropy(from_logits=True)),
                                {"y": y}),
        "units_5": (lambda: make(K, *healthy[:-1], L.Dense(5, activation="softmax")), {"y": y}),
        "bce_1_unit_10": (lambda: make(K, *healthy[:-1], L.Dense(1, activation="sigmoid"),
                                       loss="binary_crossentropy"), {"y": y}),
        "binary_1_unit": (lambda: make(K, *healthy[:-1], L.Dense(1, activation="sigmoid"),
                                       loss="binary_crossentropy"), {"y": y % 2}),
        "sparse_cce": (lambda: make(K, *healthy, loss="categorical_crossentropy"), {"y": y}),
        "onehot_scce": (lambda: make(K, *healthy), {"y": oh}),
        "onehot_cce": (lambda: make(K, *healthy, loss="categorical_crossentropy"), {"y": oh}),
        "mse": (lambda: make(K, *healthy, loss="mse"), {"y": oh}),
        "bce_10": (lambda: make(K, *healthy[:-1], L.Dense(10, activation="sigmoid"),
                                loss="binary_crossentropy"), {"y": oh}),
        "dense2": (lambda: make(K, *healthy[:-2], L.Dense(2, activation="relu"),
                                healthy[-1]), {"y": y}),
        "pool4_first": (lambda: make(K, L.MaxPooling2D(4), L.Conv2D(8, 2, activation="relu"),
                                     L.Flatten(), L.Dense(10, activation="softmax")),
                        {"y": y}),
        "conv_on_1x1": (lambda: make(K, *[m for _ in range(4) for m in (
            L.MaxPooling2D(2, padding="same"), L.Conv2D(8, 3, **conv))],
            L.Flatten(), L.Dense(10, activation="softmax")), {"y": y}),
        "tiny": (lambda: make(K, L.Conv2D(1, 3, activation="relu"), L.GlobalAveragePooling2D(),
                              L.Dense(10, activation="softmax")), {"y": y}),
        "huge": (lambda: make(K, L.Flatten(), L.Dense(2048, activation="relu"),
                              L.Dense(10, activation="softmax")), {"y": y[:100]}),
        "huge_dropout": (lambda: make(K, L.Flatten(), L.Dense(2048, activation="relu"),
                                      L.Dropout(0.3), L.Dense(10, activation="softmax")),
                         {"y": y[:100]}),
        "init_std_1": (lambda: make(K, L.Conv2D(8, 3, activation="relu", kernel_initializer=R1),
                                    L.Conv2D(16, 3, activation="relu", kernel_initializer=R1),
                                    L.Flatten(), L.Dense(10, activation="softmax")), {"y": y}),
        "init_default_normal": (lambda: make(
            K, L.Conv2D(8, 3, activation="relu", kernel_initializer="random_normal"),
            L.Conv2D(16, 3, activation="relu", kernel_initializer="random_normal"),
            L.Flatten(), L.Dense(10, activation="softmax", kernel_initializer="random_normal")),
            {"y": y}),
        "zeros_hidden": (lambda: make(K, L.Flatten(), L.Dense(32, activation="relu",
                                                              kernel_initializer="zeros"),
                                      L.Dense(10, activation="softmax")), {"y": y}),
        "negative_bias": (lambda: make(K, L.Flatten(), L.Dense(32, activation="relu",
                                                               bias_initializer=K.initializers
                                                               .Constant(-3.0)),
                                       L.Dense(10, activation="softmax")), {"y": y}),
        # +0.1 (the TF tutorials' ReLU bias), a mild -0.1, and -3 before BatchNormalization
        "small_or_normed_bias": (lambda: make(
            K, L.Flatten(), L.Dense(32, activation="relu", bias_initializer=K.initializers
                                    .Constant(0.1)),
            L.Dense(32, activation="relu", bias_initializer=K.initializers.Constant(-0.1)),
            L.Dense(32, bias_initializer=K.initializers.Constant(-3.0)),
            L.BatchNormalization(), L.Activation("relu"),
            L.Dense(10, activation="softmax", bias_initializer=K.initializers.Constant(-3.0))),
            {"y": y}),
        "zeros_output": (lambda: make(K, L.Flatten(), L.Dense(32, activation="relu"),
                                      L.Dense(10, activation="softmax",
                                              kernel_initializer="zeros")), {"y": y}),
        "tiny_init_deep": (lambda: make(K, L.Flatten(), *[L.Dense(
            32, activation="relu", kernel_initializer=K.initializers.RandomNormal(
                stddev=0.01)) for _ in range(6)], L.Dense(10, activation="softmax")),
            {"y": y}),
        "softmax_hidden": (lambda: make(K, L.Flatten(), L.Dense(128, activation="softmax"),
                                        L.Dense(64, activation="softmax"),
                                        L.Dense(10, activation="softmax"), shape=(8, 8, 1)),
                           {"y": y}),
        "sigmoid_x5": (lambda: make(K, L.Flatten(), *[L.Dense(32, activation="sigmoid")
                                                      for _ in range(5)],
                                    L.Dense(10, activation="softmax")), {"y": y}),
        "sigmoid_x2": (lambda: make(K, L.Flatten(), *[L.Dense(32, activation="sigmoid")
                                                      for _ in range(2)],
                                    L.Dense(10, activation="softmax")), {"y": y}),
        "frozen": (lambda: _freeze(make(K, *healthy, compile=False)), {"y": y}),
        "frozen_base": (lambda: _frozen_base(K, make), {"y": y}),
        "frozen_random_base": (lambda: _frozen_base(K, make, pretrained=False), {"y": y}),
        "deep_plain": (lambda: make(K, *[L.Conv2D(8, 3, **conv) for _ in range(12)],
                                    L.GlobalAveragePooling2D(),
                                    L.Dense(10, activation="softmax")), {"y": y}),
        "deep_bn": (lambda: make(K, *[x for _ in range(12) for x in (
            L.Conv2D(8, 3, padding="same"), L.BatchNormalization(), L.ReLU())],
            L.GlobalAveragePooling2D(), L.Dense(10, activation="softmax")), {"y": y}),
        "all_linear": (lambda: make(K, L.Conv2D(8, 3), L.Flatten(), L.Dense(32),
                                    L.Dense(10, activation="softmax")), {"y": y}),
        "linear_conv_maxpool": (lambda: make(K, L.Conv2D(8, 3), L.MaxPooling2D(), L.Flatten(),
                                             L.Dense(10, activation="softmax")), {"y": y}),
        "dropout_0.8": (lambda: make(K, *healthy[:-1], L.Dropout(0.8), healthy[-1]), {"y": y}),
        "dropout_0.95": (lambda: make(K, *healthy[:-1], L.Dropout(0.95), healthy[-1]),
                         {"y": y}),
        "dropout_0.5": (lambda: make(K, *healthy[:-1], L.Dropout(0.5), healthy[-1]), {"y": y}),
    }
    build, kw = cases[name]
    return build(), kw


def _freeze(m: Any) -> Any:
    m.trainable = False
    m.compile("adam", "sparse_categorical_crossentropy")
    return m


def _frozen_base(K: Any, make: Any, pretrained: bool = True) -> Any:
    base = K.Sequential([K.Input((8, 8, 1)), *[K.layers.Conv2D(64, 3, padding="same",
                                                                activation="relu")
                                                for _ in range(3)]], name="base")
    if pretrained:  # what training leaves: biases away from their zero start
        rng = np.random.default_rng(0)
        base.set_weights([w if w.ndim > 1 else rng.normal(0, 0.01, w.shape).astype(w.dtype)
                          for w in base.get_weights()])
    base.trainable = False
    return make(K, base, K.layers.GlobalAveragePooling2D(), K.layers.Dense(10,
                                                                          activation="softmax"))


POSITIVE = [
    ("linear_no_logits", "MODEL_OUTPUT_ACTIVATION", "error"),
    ("sigmoid_cce", "MODEL_OUTPUT_ACTIVATION", "info"),
    ("softmax_1_unit", "MODEL_OUTPUT_ACTIVATION", "error"),
    ("tanh_output", "MODEL_OUTPUT_ACTIVATION", "error"),
    ("tanh_output_bce", "MODEL_OUTPUT_ACTIVATION", "error"),
    ("cce_1_sigmoid", "MODEL_LOSS_MISMATCH", "error"),
    ("softmax_from_logits", "MODEL_OUTPUT_ACTIVATION", "info"),
    ("units_5", "MODEL_OUTPUT_UNITS", "error"),
    ("bce_1_unit_10", "MODEL_OUTPUT_UNITS", "error"),  # and MODEL_LOSS_MISMATCH: both fixes
    ("bce_1_unit_10", "MODEL_LOSS_MISMATCH", "error"),
    ("sparse_cce", "MODEL_LOSS_MISMATCH", "error"),
    ("onehot_scce", "MODEL_LOSS_MISMATCH", "error"),
    ("mse", "MODEL_LOSS_MISMATCH", "warning"),
    ("bce_10", "MODEL_LOSS_MISMATCH", "warning"),
    ("dense2", "MODEL_BOTTLENECK", "warning"),
    ("pool4_first", "MODEL_OVER_POOLING", "warning"),
    ("conv_on_1x1", "MODEL_OVER_POOLING", "warning"),
    ("tiny", "MODEL_TOO_SMALL", "warning"),
    ("linear_classifier", "MODEL_TOO_SMALL", "info"),
    ("huge", "MODEL_TOO_LARGE", "warning"),
    ("init_std_1", "MODEL_BAD_INIT", "error"),
    ("zeros_hidden", "MODEL_BAD_INIT", "error"),
    ("tiny_init_deep", "MODEL_BAD_INIT", "warning"),
    ("negative_bias", "MODEL_BAD_INIT", "warning"),
    ("sigmoid_x5", "MODEL_SATURATING_ACTIVATION", "warning"),
    ("softmax_hidden", "MODEL_SATURATING_ACTIVATION", "error"),
    ("frozen", "MODEL_FROZEN", "error"),
    ("frozen_base", "MODEL_FROZEN", "info"),
    ("frozen_random_base", "MODEL_FROZEN", "error"),
    ("deep_plain", "MODEL_NO_NORMALIZATION_LAYER", "warning"),
    ("all_linear", "MODEL_NO_NONLINEARITY", "warning"),
    ("dropout_0.8", "MODEL_EXCESSIVE_DROPOUT", "warning"),
    ("dropout_0.95", "MODEL_EXCESSIVE_DROPOUT", "error"),
]
NEGATIVE = [
    ("healthy", None),
    ("linear_from_logits", "MODEL_OUTPUT_ACTIVATION"),
    ("binary_1_unit", "MODEL_OUTPUT_UNITS"),
    ("binary_1_unit", "MODEL_OUTPUT_ACTIVATION"),
    ("onehot_cce", "MODEL_LOSS_MISMATCH"),
    ("softplus_output", "MODEL_OUTPUT_ACTIVATION"),  # positive: renormalised, not measured
    ("binary_1_unit", "MODEL_LOSS_MISMATCH"),
    ("huge_dropout", "MODEL_TOO_LARGE"),
    ("huge_dropout", "MODEL_TOO_SMALL"),  # one hidden layer is not a linear classifier
    ("init_default_normal", "MODEL_BAD_INIT"),
    ("zeros_output", "MODEL_BAD_INIT"),
    ("small_or_normed_bias", "MODEL_BAD_INIT"),
    ("sigmoid_x2", "MODEL_SATURATING_ACTIVATION"),
    ("deep_bn", "MODEL_NO_NORMALIZATION_LAYER"),
    ("deep_bn", "MODEL_BAD_INIT"),
    ("linear_conv_maxpool", "MODEL_NO_NONLINEARITY"),
    ("dropout_0.5", "MODEL_EXCESSIVE_DROPOUT"),
]


@pytest.mark.parametrize("name, code, severity", POSITIVE, ids=[p[0] for p in POSITIVE])
def test_lint_raises(K, make, name: str, code: str, severity: str) -> None:
    model, kw = case(K, make, name)
    report = lint(model, **kw)
    got = {f.code.value: f for f in report.findings}
    assert code in got, report.codes
    f = got[code]
    assert f.severity.value == severity
    assert f.remedies and f.explanation and f.evidence


@pytest.mark.parametrize("name, code", NEGATIVE, ids=[f"{n}-{c}" for n, c in NEGATIVE])
def test_lint_stays_quiet(K, make, name: str, code: str | None) -> None:
    model, kw = case(K, make, name)
    report = lint(model, **kw)
    if code is None:
        assert report.healthy and report.findings == [], report.codes
    else:
        assert code not in report.codes


def test_root_cause_first_and_every_code_covered(K, make) -> None:
    model, kw = case(K, make, "sparse_cce")
    assert lint(model, **kw).codes[0] == "MODEL_LOSS_MISMATCH"
    emitted = {c for _, c, _ in POSITIVE}
    assert {c.value for c in LINT.codes()} <= emitted


def test_thresholds_can_be_overridden(K, make) -> None:
    model, kw = case(K, make, "dropout_0.5")
    report = lint(model, params={"excessive_dropout": {"max_rate": 0.4}}, **kw)
    assert "MODEL_EXCESSIVE_DROPOUT" in report.codes
    with pytest.raises(ValueError, match="no parameter"):
        lint(model, params={"excessive_dropout": {"maxrate": 0.4}}, **kw)
