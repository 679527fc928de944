"""Pure parts of the overfit, shuffle-control, initial-loss and health probes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from convergent.training.probes import health, initial_loss, overfit, shuffle


def test_expected_initial_loss_is_ln_c() -> None:
    assert initial_loss.expected_loss([5] * 10) == pytest.approx(math.log(10))
    assert initial_loss.expected_loss([90, 10]) == pytest.approx(math.log(2))


def test_overfit_summary_progress() -> None:
    s = overfit.summarize([2.3, 1.3, 0.3], target=0.23)
    assert not s["reached"] and 0.9 < s["progress"] < 1.0
    assert overfit.summarize([2.3, 0.1], 0.23)["reached"]
    s = overfit.summarize([2.3, float("nan")], 0.23)
    assert s["nonfinite"] and s["progress"] == 0.0


@pytest.mark.parametrize("acc, base, n, expected", [
    (0.60, 0.10, 256, True), (0.14, 0.10, 256, False), (0.12, 0.10, 64, False),
], ids=["clear", "within-noise", "small-n"])
def test_significantly_better(acc: float, base: float, n: int, expected: bool) -> None:
    assert shuffle.significantly_better(acc, base, n) is expected


def test_grad_summary_ratio_and_update_ratio() -> None:
    log = [{"run": "r", "step": i, "grad": [1e-6, 1.0], "weight": [1.0, 2.0],
            "update": [1e-3, 2e-3]} for i in range(3)]
    s = health.grad_summary(log, ["a", "b"], "r")
    assert s["first_to_last"] == pytest.approx(2e-6)
    assert s["update_ratio"] == pytest.approx(1e-3)
    m = health.grad_norm_metrics(log, ["a", "b"])
    assert np.shape(m["values"]) == (2, 3) and m["steps"][0] == "r:0"


def test_activation_stats_dead_and_saturated(K) -> None:
    L = K.layers
    m = K.Sequential([K.Input((4,)), L.Dense(5, activation="sigmoid", kernel_initializer=
                                             K.initializers.Constant(50.0)),
                      L.Dense(6, activation="relu", bias_initializer=
                              K.initializers.Constant(-100.0)),
                      L.Dense(3, activation="relu")])
    s = health.activation_stats(m, np.random.default_rng(0).random((32, 4), dtype=np.float32))
    assert next(iter(s["dead_fraction"].values())) == 1.0
    assert next(iter(s["saturated_fraction"].values())) >= 0.5
