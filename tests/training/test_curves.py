"""Curve checks on synthetic histories whose answer is known by construction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from convergent.findings import Severity, rank
from convergent.training.curves import RunFacts, analyze_curves, plateau


def healthy(epochs: int = 30, tau: float = 3.0, floor: float = 0.1, noise: float = 0.005,
            c: int = 10, seed: int = 0) -> dict[str, list[float]]:
    """A converged run: loss decays from ln C to a floor, accuracy rises, val tracks train."""
    rng = np.random.default_rng(seed)
    t = np.arange(epochs)
    decay = np.exp(-(t + 0.5) / tau)
    loss = floor + (math.log(c) - floor) * decay
    loss = loss * (1 + noise * rng.standard_normal(epochs))
    acc = 1 / c + (0.97 - 1 / c) * (1 - decay)
    return {"loss": list(loss), "val_loss": list(loss * 1.05 + 0.02),
            "accuracy": list(acc), "val_accuracy": list(acc - 0.02 - 0.005 * rng.random(epochs))}


def codes(facts: RunFacts, min_severity: str = "info") -> set[str]:
    order = {"error": 0, "warning": 1, "info": 2}
    return {f.code.value for f in analyze_curves(facts).findings
            if order[f.severity.value] <= order[min_severity]}


def began(facts: RunFacts, code: str) -> int | None:
    return analyze_curves(facts).metrics["finding_epochs"].get(code)


# -- healthy runs: no error or warning, over many generated runs ---------------------------

def test_generated_healthy_runs_raise_no_warnings() -> None:
    rng = np.random.default_rng(1)
    alarms = []
    for i in range(200):
        epochs = int(rng.integers(15, 60))
        tau = float(rng.uniform(0.5, epochs / 6))
        c = int(rng.choice([2, 5, 10, 100]))
        h = healthy(epochs, tau, float(rng.uniform(0.02, 0.5)), float(rng.uniform(0, 0.02)),
                    c, seed=i)
        facts = RunFacts(history=h, n_classes=c, n_val=int(rng.integers(100, 5000)),
                         n_train=5000, batch_size=int(rng.choice([16, 32, 128])),
                         epochs_planned=epochs,
                         optimizer={"name": "adam", "learning_rate": 1e-3},
                         regularization={"dropout": True})
        found = codes(facts, "warning")
        if found:
            alarms.append((i, found))
    assert len(alarms) <= 2, alarms  # <= 1% false alarms


# -- divergence / learning rate ----------------------------------------------------------

def test_diverged_positive_nan_at_epoch() -> None:
    h = healthy(8)
    h["loss"][4:] = [float("nan")] * 4
    facts = RunFacts(history=h, n_classes=10)
    assert "TRAIN_DIVERGED" in codes(facts)
    assert began(facts, "TRAIN_DIVERGED") == 4
    assert "TRAIN_LR_TOO_HIGH" in codes(facts)


def test_diverged_positive_per_step_blowup() -> None:
    steps = {"step": list(range(20)), "epoch": [0] * 20,
             "loss": [2.3, 2.2, 2.5, 9.0, 40.0] + [float("inf")] * 15}
    facts = RunFacts(history={"loss": [float("inf")]}, steps=steps)
    r = analyze_curves(facts)
    div = next(f for f in r.findings if f.code.value == "TRAIN_DIVERGED")
    assert div.evidence["began_step"] == 4 and div.severity is Severity.ERROR


def test_diverged_negative_healthy() -> None:
    assert "TRAIN_DIVERGED" not in codes(RunFacts(history=healthy(), n_classes=10))


def test_lr_too_high_positive_early_spike_then_chance() -> None:
    loss = [2.3, 14.0, 8.0, 3.1] + [2.303] * 46
    steps = {"step": list(range(50)), "epoch": [0] * 25 + [1] * 25, "loss": loss}
    h = {"loss": [4.0, 2.303, 2.303], "accuracy": [0.1, 0.1, 0.1]}
    facts = RunFacts(history=h, steps=steps, n_classes=10,
                     optimizer={"name": "adam", "learning_rate": 0.5})
    found = codes(facts)
    assert {"TRAIN_LR_TOO_HIGH", "TRAIN_STUCK_AT_CHANCE"} <= found
    r = analyze_curves(facts)
    assert r.findings[0].code.value == "TRAIN_LR_TOO_HIGH"  # cause before symptom


def test_lr_too_high_is_advice_when_a_usual_rate_diverges() -> None:
    steps = {"step": list(range(20)), "epoch": [0] * 20,
             "loss": [2.3, 2.2, 2.5, 9.0, 40.0] + [float("inf")] * 15}
    h = {"loss": [float("inf")]}

    def lr_high(opt):
        r = rank(analyze_curves(RunFacts(history=h, steps=steps, optimizer=opt)).findings)
        return next(f for f in r if f.code.value == "TRAIN_LR_TOO_HIGH"), r

    usual, r = lr_high({"name": "adam", "learning_rate": 1e-3})
    assert usual.severity is Severity.INFO and usual.evidence["rate_in_usual_range"]
    assert r[0].code.value == "TRAIN_DIVERGED"
    # above the usual range (Adam's tops out at 3e-3) the blow-up is the rate's
    above, r = lr_high({"name": "adam", "learning_rate": 5e-3})
    assert above.severity is Severity.ERROR and r[0].code.value == "TRAIN_LR_TOO_HIGH"
    # SGD momentum 0.99 at 0.1: plain 0.1, but a step of 1.0 - above the range (one epoch:
    # too short for the optimizer's momentum rule, so the rate keeps it)
    assert lr_high({"name": "sgd", "learning_rate": 0.1, "momentum": 0.99})[0].severity \
        is Severity.ERROR


def test_lr_too_high_from_the_step_momentum_builds() -> None:
    # first step 3.6 % of the weights; momentum 0.95 compounds it up to 20x (a 6-conv net
    # at SGD 0.3 / 0.95 whose ReLUs died after a few steps)
    u = {"layers": ["a", "b"], "steps": [0, 25], "values": [[0.03, 0.04], [0.0, 0.0]]}
    h = {"loss": [2.38, 2.35, 2.37, 2.38], "accuracy": [0.09, 0.09, 0.09, 0.09]}

    def found(momentum: float, ratios=u) -> set[str]:
        return codes(RunFacts(history=h, update_ratios=ratios, optimizer={
            "name": "sgd", "learning_rate": 0.3, "momentum": momentum}), "warning")

    assert "TRAIN_LR_TOO_HIGH" in found(0.95)
    # the same first step without momentum, or with a healthy one (0.5 % at 0.9 -> 5 %)
    assert "TRAIN_LR_TOO_HIGH" not in found(0.0)
    healthy = {**u, "values": [[0.005, 0.005], [0.004, 0.004]]}
    assert "TRAIN_LR_TOO_HIGH" not in found(0.9, healthy)
    # the same first step on a run that fits its training set: the bound is not reached
    h = {"loss": [0.58, 0.18, 0.11, 0.08], "accuracy": [0.82, 0.94, 0.96, 0.98]}
    assert "TRAIN_LR_TOO_HIGH" not in found(0.95)


def test_lr_too_high_positive_loss_rises_over_epochs() -> None:
    facts = RunFacts(history={"loss": [1.0, 1.2, 1.4, 1.5]})
    assert "TRAIN_LR_TOO_HIGH" in codes(facts)


def test_lr_too_high_positive_update_ratio() -> None:
    u = {"layers": ["a", "b"], "values": [[0.5, 0.4], [0.6, 0.3]], "steps": [0, 10]}
    assert "TRAIN_LR_TOO_HIGH" in codes(RunFacts(history={"loss": [1.0]}, update_ratios=u))


def test_lr_too_high_from_the_rate_alone_on_a_run_that_does_not_learn() -> None:
    flat = {"loss": [2.33, 2.40, 2.55, 2.51, 2.39, 2.31], "accuracy": [0.1] * 6}
    sgd10 = {"name": "sgd", "learning_rate": 10.0, "momentum": 0.0}
    assert "TRAIN_LR_TOO_HIGH" in codes(RunFacts(history=flat, optimizer=sgd10), "warning")
    sgd01 = {"name": "sgd", "learning_rate": 0.1, "momentum": 0.0}
    assert "TRAIN_LR_TOO_HIGH" not in codes(RunFacts(history=flat, optimizer=sgd01))
    assert "TRAIN_LR_TOO_HIGH" not in codes(RunFacts(history=healthy(), optimizer=sgd10))


def test_lr_too_high_negative_healthy() -> None:
    u = {"layers": ["a", "b"], "values": [[1e-3, 2e-3]], "steps": [0]}
    assert "TRAIN_LR_TOO_HIGH" not in codes(
        RunFacts(history=healthy(), n_classes=10, update_ratios=u))


def test_lr_too_low_positive_steady_creep() -> None:
    loss = list(2.30 - 0.01 * np.arange(10))
    facts = RunFacts(history={"loss": loss}, n_classes=10,
                     optimizer={"name": "sgd", "learning_rate": 1e-6})
    f = next(f for f in analyze_curves(facts).findings if f.code.value == "TRAIN_LR_TOO_LOW")
    assert f.confidence >= 0.8 and f.evidence["began_epoch"] == 0


def test_lr_too_low_positive_update_ratio() -> None:
    u = {"layers": ["a", "b"], "values": [[1e-8, 1e-8]], "steps": [0]}
    assert "TRAIN_LR_TOO_LOW" in codes(RunFacts(history={"loss": [1.0]}, update_ratios=u))


@pytest.mark.parametrize("h", [healthy(), {"loss": [2.3, 2.31, 2.29, 2.30, 2.31]}],
                         ids=["healthy", "flat-noisy"])
def test_lr_too_low_negative(h: dict) -> None:
    assert "TRAIN_LR_TOO_LOW" not in codes(RunFacts(history=h))


# -- shapes -------------------------------------------------------------------------------

def test_oscillation_positive() -> None:
    loss = [1.0, 1.6, 0.9, 1.5, 1.0, 1.7, 0.95, 1.55, 1.0, 1.6]
    facts = RunFacts(history={"loss": loss})
    assert {"TRAIN_OSCILLATION", "TRAIN_LR_TOO_HIGH"} <= codes(facts)
    assert began(facts, "TRAIN_OSCILLATION") == 0


def test_oscillation_positive_slow_swings() -> None:
    # down, up, down, up: too slow for the sign-flip test, two clear rises of the epoch mean
    loss = [1.3, 1.15, 0.62, 0.70, 0.72, 0.59, 0.86, 1.14, 1.46, 1.55]
    f = next(f for f in analyze_curves(RunFacts(history={"loss": loss})).findings
             if f.code.value == "TRAIN_OSCILLATION")
    assert f.evidence["rises_beginning"] == [3, 6] and f.evidence["began_epoch"] == 3


@pytest.mark.parametrize("loss, lr", [
    ([2.3, 1.5, 1.7, 1.1, 0.9, 1.0, 0.7, 0.5], None),          # bumps on a clear trend
    ([2.3, 1.2, 1.0, 1.15, 1.4, 1.8, 2.2, 2.6], None),         # one rise: it blows up
    ([1.2, 0.9, 0.7, 1.0, 0.8, 0.65, 0.95, 0.8, 0.7, 1.1],    # warm restarts (SGDR)
     [0.1, 0.05, 0.01, 0.1, 0.05, 0.01, 0.1, 0.05, 0.01, 0.1]),
], ids=["trending", "single-rise", "warm-restarts"])
def test_oscillation_negative_slow_swings(loss, lr) -> None:
    h = {"loss": loss, **({"learning_rate": lr} if lr else {})}
    assert "TRAIN_OSCILLATION" not in codes(RunFacts(history=h))
    if lr:  # the same curve at a fixed rate does swing
        assert "TRAIN_OSCILLATION" in codes(RunFacts(history={"loss": loss}))


def test_oscillation_negative_noisy_but_trending() -> None:
    rng = np.random.default_rng(0)
    loss = list(np.linspace(2.0, 0.2, 20) * (1 + 0.03 * rng.standard_normal(20)))
    assert "TRAIN_OSCILLATION" not in codes(RunFacts(history={"loss": loss}))


def test_stuck_at_chance_positive_with_accuracy() -> None:
    h = {"loss": [2.31, 2.303, 2.302, 2.302], "accuracy": [0.1, 0.11, 0.1, 0.098],
         "val_loss": [2.302] * 4, "val_accuracy": [0.1, 0.1, 0.11, 0.1]}
    facts = RunFacts(history=h, n_val=1000)
    assert "TRAIN_STUCK_AT_CHANCE" in codes(facts)
    f = next(f for f in analyze_curves(facts).findings if f.code.value == "TRAIN_STUCK_AT_CHANCE")
    assert f.evidence["n_classes"] == 10 and f.evidence["n_classes_source"] != "given"


def test_stuck_at_chance_positive_majority_class() -> None:
    h = {"loss": [0.5, 0.45, 0.45], "accuracy": [0.9, 0.9, 0.9]}
    facts = RunFacts(history=h, n_classes=2, majority_fraction=0.9, n_train=10000)
    assert "TRAIN_STUCK_AT_CHANCE" in codes(facts)


def test_stuck_at_chance_began_epoch_when_it_fell_back() -> None:
    h = {"loss": [1.0, 0.8, 2.3, 2.3, 2.3], "accuracy": [0.5, 0.6, 0.1, 0.1, 0.1]}
    facts = RunFacts(history=h, n_classes=10, n_train=5000)
    assert began(facts, "TRAIN_STUCK_AT_CHANCE") == 2


@pytest.mark.parametrize("acc", [[0.1, 0.3, 0.5], [0.1, 0.2, 0.2]], ids=["learning", "slow"])
def test_stuck_at_chance_negative(acc: list[float]) -> None:
    h = {"loss": [2.3, 2.0, 1.8], "accuracy": acc, "val_accuracy": acc}
    assert "TRAIN_STUCK_AT_CHANCE" not in codes(RunFacts(history=h, n_classes=10, n_val=1000))


def test_overfitting_positive() -> None:
    h = {"loss": [2.0, 1.2, 0.8, 0.5, 0.3, 0.2, 0.1],
         "val_loss": [2.0, 1.3, 1.0, 1.05, 1.2, 1.4, 1.6]}
    facts = RunFacts(history=h)
    assert "TRAIN_OVERFITTING" in codes(facts)
    assert began(facts, "TRAIN_OVERFITTING") == 3


def test_overfitting_negative_both_fall() -> None:
    assert "TRAIN_OVERFITTING" not in codes(RunFacts(history=healthy()))


def test_underfitting_steady_improvement_is_advice() -> None:
    h = {"loss": list(2.3 * 0.85 ** np.arange(8)), "val_loss": list(2.4 * 0.85 ** np.arange(8))}
    facts = RunFacts(history=h, epochs_planned=8)
    f = next(f for f in analyze_curves(facts).findings if f.code.value == "TRAIN_UNDERFITTING")
    assert f.severity is Severity.INFO and f.evidence["began_epoch"] == 5


def test_underfitting_positive_short_run() -> None:
    h = {"loss": [2.06, 1.18], "val_loss": [1.71, 0.86]}
    f = next(f for f in analyze_curves(RunFacts(history=h, epochs_planned=2)).findings
             if f.code.value == "TRAIN_UNDERFITTING")
    assert f.severity is Severity.WARNING and f.evidence["epochs_run"] == 2


def test_underfitting_positive_impatient_early_stopping() -> None:
    h = {"loss": [2.22, 1.91, 1.58], "val_loss": [2.12, 1.77, 1.63]}
    facts = RunFacts(history=h, epochs_planned=50,
                     early_stopping={"patience": 0, "monitor": "val_accuracy"})
    f = next(f for f in analyze_curves(facts).findings if f.code.value == "TRAIN_UNDERFITTING")
    assert f.severity is Severity.WARNING and f.evidence["patience"] == 0


def test_underfitting_negative_converged_or_stopped_early() -> None:
    assert "TRAIN_UNDERFITTING" not in codes(RunFacts(history=healthy(40, tau=3)))
    h = {"loss": list(2.3 * 0.85 ** np.arange(8))}
    assert "TRAIN_UNDERFITTING" not in codes(RunFacts(history=h, epochs_planned=20))
    patient = RunFacts(history=h, epochs_planned=20,
                       early_stopping={"patience": 5, "monitor": "val_loss"})
    assert "TRAIN_UNDERFITTING" not in codes(patient)
    flat = {"loss": [2.3, 2.3, 2.3], "val_loss": [2.3, 2.3, 2.3]}
    assert "TRAIN_UNDERFITTING" not in codes(RunFacts(history=flat, epochs_planned=3))


def test_plateau_detection_and_advice() -> None:
    h = {"loss": [2.3, 1.5, 1.2, 1.2, 1.2, 1.2, 1.2], "accuracy": [0.1, 0.4, 0.5] + [0.5] * 4}
    assert plateau(np.array(h["loss"]), 0.01, 3)["began_epoch"] == 2
    r = analyze_curves(RunFacts(history=h))
    f = next(f for f in r.findings if f.code.value == "TRAIN_OPTIMIZER")
    assert f.severity is Severity.INFO and r.metrics["plateau"]["began_epoch"] == 2
    h["learning_rate"] = [1e-3, 1e-3, 1e-3, 1e-4, 1e-4, 1e-5, 1e-5]
    assert "TRAIN_OPTIMIZER" not in codes(RunFacts(history=h))


# -- settings -----------------------------------------------------------------------------

def test_batch_size_positive_too_few_updates() -> None:
    h = {"loss": [2.3, 2.2, 2.1, 2.0], "accuracy": [0.1, 0.15, 0.2, 0.25]}
    facts = RunFacts(history=h, batch_size=5000, n_train=5000)
    f = next(f for f in analyze_curves(facts).findings if f.code.value == "TRAIN_BATCH_SIZE")
    assert f.severity is Severity.WARNING and f.evidence["total_updates"] == 4


def test_steps_per_epoch_covering_part_of_the_data_is_underfitting() -> None:
    h = {"loss": [2.3, 2.3, 2.29, 2.29], "accuracy": [0.1, 0.1, 0.11, 0.12]}
    # steps_per_epoch=1 at batch 32 on 1,600 samples: 32 samples an epoch, 4 steps in all
    partial = RunFacts(history=h, batch_size=32, n_train=1600, steps_per_epoch=1)
    f = next(f for f in analyze_curves(partial).findings
             if f.code.value == "TRAIN_UNDERFITTING" and "fraction" in f.title)
    assert f.evidence["samples_per_epoch"] == 32 and f.remedies[0].id == "full_epochs"
    assert rank(analyze_curves(partial).findings)[0] is f or \
        rank(analyze_curves(partial).findings)[0].code.value == "TRAIN_UNDERFITTING"
    assert "TRAIN_BATCH_SIZE" not in codes(partial)
    # the same few steps from one huge batch that covers the data: the batch size
    whole = RunFacts(history=h, batch_size=1600, n_train=1600, steps_per_epoch=1)
    assert "TRAIN_BATCH_SIZE" in codes(whole)
    assert not any("fraction" in f.title for f in analyze_curves(whole).findings)


def test_batch_size_positive_tiny_batch_is_info() -> None:
    facts = RunFacts(history=healthy(), batch_size=2, n_train=5000)
    assert "TRAIN_BATCH_SIZE" in codes(facts) and "TRAIN_BATCH_SIZE" not in codes(facts, "warning")


def test_batch_size_negative() -> None:
    assert "TRAIN_BATCH_SIZE" not in codes(RunFacts(history=healthy(), batch_size=64,
                                                     n_train=5000))


def test_optimizer_positive_plain_sgd_slow() -> None:
    h = {"loss": [2.3, 2.0, 1.8, 1.7], "accuracy": [0.1, 0.2, 0.3, 0.35]}
    facts = RunFacts(history=h, optimizer={"name": "SGD", "learning_rate": 0.01, "momentum": 0})
    assert "TRAIN_OPTIMIZER" in codes(facts, "warning")


def test_optimizer_momentum_that_makes_a_sane_rate_huge() -> None:
    h = {"loss": [2.3, 1.2, 1.5, 1.6], "accuracy": [0.1, 0.6, 0.5, 0.5]}
    f = [f for f in analyze_curves(RunFacts(history=h, optimizer={
        "name": "sgd", "learning_rate": 0.1, "momentum": 0.99})).findings
        if f.code.value == "TRAIN_OPTIMIZER"]
    assert f and "momentum" in f[0].title and f[0].evidence["effective_lr"] == 1.0

    def ranked(opt, hist=h):
        r = rank(analyze_curves(RunFacts(history=hist, optimizer=opt)).findings)
        return r, next(f for f in r if f.code.value == "TRAIN_LR_TOO_HIGH")

    # 10x the usual momentum's factor at a usual rate: the momentum first, the rate advice
    r, lr = ranked({"name": "sgd", "learning_rate": 0.1, "momentum": 0.99})
    assert r[0].code.value == "TRAIN_OPTIMIZER"
    assert lr.severity is Severity.INFO and lr.evidence["momentum_made_it"]
    up = {"loss": [2.3, 2.6, 2.9, 3.1], "accuracy": [0.1, 0.1, 0.1, 0.1]}
    # at the top of the usual range with momentum 0.95 (2x the usual factor): the rate's
    r, lr = ranked({"name": "sgd", "learning_rate": 0.3, "momentum": 0.95}, up)
    assert r[0].code.value == "TRAIN_LR_TOO_HIGH" and lr.severity is not Severity.INFO
    # a rate above the usual range stays the rate's whatever the momentum
    r, lr = ranked({"name": "sgd", "learning_rate": 0.5, "momentum": 0.99}, up)
    assert r[0].code.value == "TRAIN_LR_TOO_HIGH" and lr.severity is not Severity.INFO
    for opt in ({"name": "sgd", "learning_rate": 0.1, "momentum": 0.9},     # usual
                {"name": "sgd", "learning_rate": 2.0, "momentum": 0.9},     # the rate itself
                {"name": "sgd", "learning_rate": 2.0, "momentum": 0.0}):    # no momentum
        assert "TRAIN_OPTIMIZER" not in codes(RunFacts(history=h, optimizer=opt), "warning")
    rising = {"loss": [2.3, 2.6, 2.9, 3.1], "accuracy": [0.1, 0.1, 0.1, 0.1]}
    plain = {"name": "sgd", "learning_rate": 0.8, "momentum": 0.0}   # in range, yet blows up
    found = codes(RunFacts(history=rising, optimizer=plain), "warning")
    assert "TRAIN_LR_TOO_HIGH" in found and "TRAIN_OPTIMIZER" not in found


def test_optimizer_negative_momentum_or_adam() -> None:
    h = {"loss": [2.3, 2.0, 1.8, 1.7], "accuracy": [0.1, 0.2, 0.3, 0.35]}
    for opt in ({"name": "sgd", "momentum": 0.9}, {"name": "adam"}):
        assert "TRAIN_OPTIMIZER" not in codes(RunFacts(history=h, optimizer=opt), "warning")


@pytest.mark.parametrize("opt", [
    {"name": "adadelta", "learning_rate": 0.001},
    {"name": "adam", "learning_rate": 0.001, "epsilon": 1.0},
    {"name": "rmsprop", "learning_rate": 0.001, "epsilon": 0.5},
    {"name": "adagrad", "learning_rate": 0.001}],
    ids=["adadelta-default-lr", "adam-epsilon-1", "rmsprop-epsilon-0.5", "adagrad-default-lr"])
def test_optimizer_positive_crippled_adaptive_settings(opt) -> None:
    h = {"loss": [2.3, 2.28, 2.27, 2.26], "accuracy": [0.1, 0.11, 0.12, 0.12]}
    f = next(f for f in analyze_curves(RunFacts(history=h, optimizer=opt)).findings
             if f.code.value == "TRAIN_OPTIMIZER")
    assert f.severity is Severity.WARNING and f.evidence["threshold"]


def test_optimizer_negative_sane_adaptive_settings_or_learning_well() -> None:
    slow = {"loss": [2.3, 2.28, 2.27, 2.26], "accuracy": [0.1, 0.11, 0.12, 0.12]}
    for opt in ({"name": "adadelta", "learning_rate": 1.0},
                {"name": "adagrad", "learning_rate": 0.01},
                {"name": "adam", "learning_rate": 0.001, "epsilon": 1e-7}):
        assert "TRAIN_OPTIMIZER" not in codes(RunFacts(history=slow, optimizer=opt), "warning")
    fine = RunFacts(history=healthy(), optimizer={"name": "adadelta", "learning_rate": 0.001})
    assert "TRAIN_OPTIMIZER" not in codes(fine, "warning")


def test_no_regularization_positive_gap() -> None:
    h = healthy(20)
    h["val_accuracy"] = [a - 0.3 for a in h["accuracy"]]
    facts = RunFacts(history=h, n_val=1000, regularization={"dropout": False, "n_params": 10**6})
    assert "TRAIN_NO_REGULARIZATION" in codes(facts, "warning")


def test_no_regularization_is_advice_while_the_training_set_is_fit_poorly() -> None:
    h = healthy(20)
    h["accuracy"] = [a * 0.8 for a in h["accuracy"]]  # ends at 0.78 on the training set
    h["val_accuracy"] = [a - 0.3 for a in h["accuracy"]]
    facts = RunFacts(history=h, n_val=1000, regularization={"dropout": False, "n_params": 10**6})
    assert "TRAIN_NO_REGULARIZATION" in codes(facts)
    assert "TRAIN_NO_REGULARIZATION" not in codes(facts, "warning")


def test_no_regularization_is_advice_when_only_the_validation_loss_rises() -> None:
    h = healthy(20)
    h["val_loss"] = h["val_loss"][:10] + [h["val_loss"][9] * (1 + 0.1 * k)
                                          for k in range(1, 11)]
    facts = RunFacts(history=h, n_val=1000, regularization={"dropout": False, "n_params": 10**6})
    assert "TRAIN_OVERFITTING" in codes(facts)          # the loss did turn up
    assert "TRAIN_NO_REGULARIZATION" in codes(facts)
    assert "TRAIN_NO_REGULARIZATION" not in codes(facts, "warning")  # accuracies agree


def test_no_regularization_negative() -> None:
    h = healthy(20)
    h["val_accuracy"] = [a - 0.3 for a in h["accuracy"]]
    assert "TRAIN_NO_REGULARIZATION" not in codes(
        RunFacts(history=h, regularization={"dropout": True}))
    assert "TRAIN_NO_REGULARIZATION" not in codes(
        RunFacts(history=healthy(20), n_val=1000, regularization={"dropout": False}))


# -- gradients and activations --------------------------------------------------------------

def grads(values: list[list[float]]) -> dict:
    return {"layers": ["conv", "dense", "out"], "sizes": [100, 100, 100],
            "steps": [10 * i for i in range(len(values))],
            "epochs": [i for i in range(len(values))], "values": values}


def test_exploding_positive() -> None:
    g = grads([[1, 1, 1], [10, 10, 10], [1e4, 1e4, 1e4]])
    facts = RunFacts(history={"loss": [1.0, 1.0, 1.0]}, grad_norms=g)
    assert "TRAIN_EXPLODING_GRADIENTS" in codes(facts)
    assert began(facts, "TRAIN_EXPLODING_GRADIENTS") == 2


def test_exploding_negative() -> None:
    g = grads([[1, 1, 1], [3, 2, 1], [0.5, 0.5, 0.5]])
    assert "TRAIN_EXPLODING_GRADIENTS" not in codes(RunFacts(history={"loss": [1.0]},
                                                             grad_norms=g))


def _norms(values: list[list[float]], steps: list[int]) -> dict:
    return {"layers": ["a", "b"], "sizes": [10, 10], "steps": steps,
            "epochs": [0] * len(steps), "values": values}


def test_exploding_from_weights_that_blew_up_between_samples() -> None:
    # the middle layer of a 6-conv net under SGD 0.3 / momentum 0.95: 5.8 -> 26 in 25 steps
    w = _norms([[3.9, 5.8], [8.2, 26.1]], [0, 25])
    sgd = {"name": "SGD", "learning_rate": 0.3, "momentum": 0.95}
    facts = RunFacts(history={"loss": [2.3]}, weight_norms=w, optimizer=sgd)
    f = next(f for f in analyze_curves(facts).findings
             if f.code.value == "TRAIN_EXPLODING_GRADIENTS")
    assert f.evidence["layer"] == "b" and f.evidence["began_step"] == 25
    growth = np.hypot(8.2, 26.1) / np.hypot(3.9, 5.8)
    assert f.evidence["min_step_ratio"] == pytest.approx((growth - 1) / 25)
    # one layer initialised near zero growing to its working size is not an explosion
    head = RunFacts(history={"loss": [2.3]}, optimizer=sgd,
                    weight_norms=_norms([[5.8, 0.01], [5.9, 1.0]], [0, 25]))
    assert "TRAIN_EXPLODING_GRADIENTS" not in codes(head)
    # the same growth over 500 steps is a steady 0.007 per step: healthy
    slow = RunFacts(history={"loss": [2.3]}, weight_norms=_norms(w["values"], [0, 500]),
                    optimizer=sgd)
    assert "TRAIN_EXPLODING_GRADIENTS" not in codes(slow)
    # a 10 % step is big but the weights did not double
    big = RunFacts(history={"loss": [2.3]}, weight_norms=_norms([[1, 1], [1.1, 1.1]], [0, 1]),
                   optimizer=sgd)
    assert "TRAIN_EXPLODING_GRADIENTS" not in codes(big)
    # Adam bounds each step by its rate: fast growth there is the rate's (LR_TOO_HIGH)
    adam = RunFacts(history={"loss": [2.3]}, weight_norms=w,
                    optimizer={"name": "Adam", "learning_rate": 0.3})
    assert "TRAIN_EXPLODING_GRADIENTS" not in codes(adam)


def test_vanishing_positive_gradient_ratio() -> None:
    g = grads([[1e-7, 1e-3, 1.0], [1e-7, 1e-3, 0.5]])
    assert "TRAIN_VANISHING_GRADIENTS" in codes(RunFacts(history={"loss": [1.0]}, grad_norms=g))


def test_vanishing_positive_saturation() -> None:
    s = {"steps": [0, 10], "epochs": [0, 1], "values": [0.3, 0.8]}
    facts = RunFacts(history={"loss": [1.0]}, saturated_fraction=s)
    assert "TRAIN_VANISHING_GRADIENTS" in codes(facts)
    assert began(facts, "TRAIN_VANISHING_GRADIENTS") == 1


def test_vanishing_negative() -> None:
    g = grads([[0.1, 0.5, 1.0]])
    s = {"steps": [0], "epochs": [0], "values": [0.05]}
    assert "TRAIN_VANISHING_GRADIENTS" not in codes(
        RunFacts(history={"loss": [1.0]}, grad_norms=g, saturated_fraction=s))


def test_dying_relu_positive_and_negative() -> None:
    d = {"steps": [0, 10, 20], "epochs": [0, 0, 1], "values": [0.05, 0.6, 0.95]}
    facts = RunFacts(history={"loss": [1.0]}, dead_fraction=d)
    f = next(f for f in analyze_curves(facts).findings if f.code.value == "TRAIN_DYING_RELU")
    assert f.severity is Severity.ERROR and f.evidence["began_step"] == 10
    d["values"] = [0.05, 0.1, 0.2]
    assert "TRAIN_DYING_RELU" not in codes(RunFacts(history={"loss": [1.0]}, dead_fraction=d))


def test_dying_relu_at_init_is_marked_and_points_at_the_init() -> None:
    dead_from_start = {"steps": [0, 25, 50], "epochs": [0, 0, 1], "values": [1.0, 1.0, 1.0]}
    f = next(f for f in analyze_curves(RunFacts(history={"loss": [2.3]},
                                                dead_fraction=dead_from_start)).findings
             if f.code.value == "TRAIN_DYING_RELU")
    assert f.evidence["at_init"] is True and f.remedies[0].id == "he_init"
    killed_later = {"steps": [0, 25, 50], "epochs": [0, 0, 1], "values": [0.05, 0.99, 0.99]}
    f = next(f for f in analyze_curves(RunFacts(history={"loss": [2.3]},
                                                dead_fraction=killed_later)).findings
             if f.code.value == "TRAIN_DYING_RELU")
    assert f.evidence["at_init"] is False and f.remedies[0].id == "lower_lr"


def test_vanishing_at_step_0_is_marked_at_init() -> None:
    g = grads([[1e-9, 1e-3, 1.0], [1e-9, 1e-3, 1.0]])
    g["steps"] = [0, 25]
    f = next(f for f in analyze_curves(RunFacts(history={"loss": [1.0]}, grad_norms=g)).findings
             if f.code.value == "TRAIN_VANISHING_GRADIENTS")
    assert f.evidence["at_init"] is True
    g["steps"] = [5, 25]
    f = next(f for f in analyze_curves(RunFacts(history={"loss": [1.0]}, grad_norms=g)).findings
             if f.code.value == "TRAIN_VANISHING_GRADIENTS")
    assert f.evidence["at_init"] is False


def test_divergence_with_an_unsafe_loss_blames_the_loss() -> None:
    probe = {"loss": "cross_entropy", "value": "nan"}
    f = next(f for f in analyze_curves(RunFacts(history={"loss": [2.3, float("nan")]},
                                                loss_unsafe=probe)).findings
             if f.code.value == "TRAIN_DIVERGED")
    assert f.evidence["at_init"] is True and f.remedies[0].id == "fix_loss"
    f = next(f for f in analyze_curves(RunFacts(history={"loss": [2.3, float("nan")]})).findings
             if f.code.value == "TRAIN_DIVERGED")
    assert not f.evidence.get("at_init") and f.remedies[0].id == "lower_lr"


CREEP = list(2.303 - 0.0004 * np.arange(5))   # falls every epoch, < 1 % gone


def test_lr_too_low_is_advice_at_a_typical_rate_and_a_warning_at_a_low_one() -> None:
    def finding(lr):
        facts = RunFacts(history={"loss": CREEP}, n_classes=10,
                         optimizer={"name": "adam", "learning_rate": lr})
        return next(f for f in analyze_curves(facts).findings
                    if f.code.value == "TRAIN_LR_TOO_LOW")
    assert finding(1e-3).severity is Severity.INFO
    assert finding(1e-6).severity is Severity.WARNING


def _decayed(lrs: list[float], acc_end: float = 0.4) -> RunFacts:
    n = len(lrs)
    loss = [2.3, 1.9, 1.7] + [1.65] * (n - 3)
    acc = list(np.linspace(0.1, acc_end, n))
    return RunFacts(history={"loss": loss, "accuracy": acc, "learning_rate": lrs},
                    n_classes=10, optimizer={"name": "adam", "learning_rate": lrs[-1]})


def test_lr_too_low_when_a_schedule_collapses_the_rate_early() -> None:
    lrs = [1e-3 * 0.01 ** k for k in range(10)]           # 1e-3, 1e-5, 1e-7 ...
    f = next(f for f in analyze_curves(_decayed(lrs)).findings
             if f.code.value == "TRAIN_LR_TOO_LOW")
    assert f.severity is Severity.WARNING and f.evidence["below_epoch"] == 1
    assert f.evidence["began_epoch"] == 1           # 1e-5 < Adam's usual 1e-4, / 3


def test_a_schedule_that_ends_low_after_the_fit_is_not_blamed() -> None:
    cosine = [5e-4 * (1 + math.cos(math.pi * k / 9)) for k in range(10)]   # 0 at the end
    assert "TRAIN_LR_TOO_LOW" not in codes(_decayed(cosine))
    early_but_fit = [1e-3 * 0.01 ** k for k in range(10)]
    assert "TRAIN_LR_TOO_LOW" not in codes(_decayed(early_but_fit, acc_end=0.97), "warning")


def test_lr_cut_every_epoch_by_a_callback_is_found_and_a_plateau_before_the_cut_is_not():
    cut = [1e-3, 1e-3, 1e-4, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8]
    loss = [1.8, 1.03, 0.75, 0.71, 0.68, 0.678, 0.677, 0.677]
    acc = [0.41, 0.67, 0.77, 0.795, 0.80, 0.804, 0.804, 0.804]
    def facts(lrs, loss):
        return RunFacts(history={"loss": loss, "accuracy": acc, "learning_rate": lrs},
                        n_classes=10, optimizer={"name": "adam", "learning_rate": lrs[-1]})
    f = next(f for f in analyze_curves(facts(cut, loss)).findings
             if f.code.value == "TRAIN_LR_TOO_LOW")
    assert f.evidence["below_epoch"] == 4
    flat_early = [1.8, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]
    assert "below_epoch" not in next(
        (f.evidence for f in analyze_curves(facts(cut, flat_early)).findings
         if f.code.value == "TRAIN_LR_TOO_LOW"), {})


def test_a_collapsed_schedule_is_found_in_a_log_without_the_optimizer() -> None:
    cut = [1e-3, 1e-3, 1e-5, 1e-7, 1e-9, 1e-11, 1e-13, 1e-15]
    h = {"loss": [1.8, 1.0, 0.8, 0.78, 0.78, 0.78, 0.78, 0.78],
         "accuracy": [0.4, 0.6, 0.7, 0.71, 0.71, 0.71, 0.71, 0.71], "learning_rate": cut}
    assert "TRAIN_LR_TOO_LOW" in codes(RunFacts(history=h), "warning")
    h["learning_rate"] = [1e-3] * 8                      # constant: the rate is not news
    assert "TRAIN_LR_TOO_LOW" not in codes(RunFacts(history=h), "warning")


def test_lr_too_low_is_not_blamed_when_the_units_are_dead() -> None:
    dead = {"steps": [0, 25], "epochs": [0, 0], "values": [1.0, 1.0]}
    opt = {"name": "adam", "learning_rate": 1e-3}
    facts = RunFacts(history={"loss": CREEP}, n_classes=10, optimizer=opt, dead_fraction=dead)
    assert "TRAIN_LR_TOO_LOW" not in codes(facts)
    facts.optimizer = {"name": "adam", "learning_rate": 1e-7}   # both can be wrong
    assert "TRAIN_LR_TOO_LOW" in codes(facts)


def _noisy_batch1(seed: int = 0, n: int = 900) -> list[float]:
    """Per-sample cross-entropy of a model that learns: mostly small, a few confident
    mistakes of ~5-10 (what batch_size=1 logs as the batch loss)."""
    rng = np.random.default_rng(seed)
    p_wrong = np.linspace(0.6, 0.1, n)
    wrong = rng.random(n) < p_wrong
    return list(np.where(wrong, rng.uniform(2.0, 10.0, n), rng.uniform(0.0, 0.5, n)))


def test_lr_too_high_negative_batch_of_one_noise() -> None:
    loss = _noisy_batch1()
    steps = {"step": list(range(900)), "epoch": [0] * 900, "loss": loss}
    facts = RunFacts(history={"loss": [2.0, 1.2, 0.9, 0.7], "accuracy": [0.5, 0.7, 0.8, 0.85]},
                     steps=steps, n_classes=10, batch_size=1,
                     optimizer={"name": "sgd", "learning_rate": 0.05})
    assert "TRAIN_LR_TOO_HIGH" not in codes(facts)
    # the same noise read as 32-sample batches would look like spikes: the window matters
    assert "TRAIN_LR_TOO_HIGH" in codes(RunFacts(
        history=facts.history, steps=steps, n_classes=10, batch_size=32))


def test_lr_too_high_positive_sustained_jump_with_batch_of_one() -> None:
    loss = [2.3] * 64 + [40.0] * 64 + [2.3] * 300
    steps = {"step": list(range(len(loss))), "epoch": [0] * len(loss), "loss": loss}
    facts = RunFacts(history={"loss": [8.0, 2.3, 2.3], "accuracy": [0.1, 0.1, 0.1]},
                     steps=steps, n_classes=10, batch_size=1)
    assert "TRAIN_LR_TOO_HIGH" in codes(facts)


def test_sgd_momentum_judged_by_its_effective_step() -> None:
    from convergent.training.curves import _lr_position, effective_lr

    assert effective_lr({"name": "sgd", "learning_rate": 0.1, "momentum": 0.9}) == 0.1
    assert effective_lr({"name": "sgd", "learning_rate": 0.1, "momentum": 0.99}) == 1.0
    high = RunFacts(history={}, optimizer={"name": "sgd", "learning_rate": 0.1, "momentum": 0.99})
    usual = RunFacts(history={}, optimizer={"name": "sgd", "learning_rate": 0.1, "momentum": 0.9})
    assert _lr_position(high)[0] == "high" and _lr_position(usual)[0] == "typical"


def test_tiny_batch_is_a_warning_only_when_the_fit_is_poor() -> None:
    def batch(acc: float) -> Severity:
        f = RunFacts(history={"loss": [1.0, 0.8, 0.7, 0.6], "accuracy": [acc] * 4},
                     batch_size=1, n_train=960, n_classes=10)
        return next(x for x in analyze_curves(f).findings
                    if x.code.value == "TRAIN_BATCH_SIZE").severity
    assert batch(0.85) is Severity.WARNING
    assert batch(0.97) is Severity.INFO


@pytest.mark.parametrize("monitor, mode, restore, severity", [
    ("val_accuracy", "min", True, "error"),  # stops once it learns, restores the worst
    ("val_loss", "max", False, "warning"),
    ("val_accuracy", "max", True, None), ("val_loss", "auto", True, None),
    ("val_accuracy", "auto", False, None), ("val_loss", "min", True, None)])
def test_early_stopping_told_the_wrong_direction(monitor, mode, restore, severity) -> None:
    es = {"patience": 2, "monitor": monitor, "mode": mode, "restore_best_weights": restore}
    facts = RunFacts(history={"loss": [2.0, 1.5, 1.2], "val_accuracy": [0.2, 0.4, 0.5]},
                     early_stopping=es, epochs_planned=20)
    found = [f for f in analyze_curves(facts).findings
             if f.code.value == "TRAIN_UNDERFITTING" and "wrong way" in f.title]
    assert [f.severity.value for f in found] == ([severity] if severity else [])


def test_early_stopping_the_wrong_way_ranks_as_a_cause() -> None:
    es = {"patience": 2, "monitor": "val_accuracy", "mode": "min", "restore_best_weights": True}
    facts = RunFacts(history={"loss": [2.3, 2.29, 2.28]}, early_stopping=es, epochs_planned=20,
                     optimizer={"name": "SGD", "learning_rate": 0.01, "momentum": 0.0})
    found = rank(analyze_curves(facts).findings)
    assert found[0].code.value == "TRAIN_UNDERFITTING" and found[0].evidence["at_init"]


def test_lr_too_high_judges_the_rate_a_schedule_set_when_the_loss_blew_up() -> None:
    steps = {"step": list(range(6)), "epoch": [0] * 6, "loss": [2.3, 1e4, 1e4, 2.3, 2.3, 2.3]}
    hist = {"loss": [1e3, 2.3, 2.3], "learning_rate": [0.3, 0.01, 0.002]}
    adam = {"name": "Adam", "learning_rate": 0.002}  # the rate at the end of the run
    f = next(f for f in analyze_curves(RunFacts(history=hist, steps=steps, optimizer=adam)
                                       ).findings if f.code.value == "TRAIN_LR_TOO_HIGH")
    assert f.severity.value != "info" and f.evidence["learning_rate"] == pytest.approx(0.3)
    assert f.evidence["learning_rate_at_end"] == pytest.approx(0.002)
    # without a schedule the same blow-up at 0.002 stays advice
    flat = dict(hist, learning_rate=[0.002] * 3)
    g = next(f for f in analyze_curves(RunFacts(history=flat, steps=steps, optimizer=adam)
                                       ).findings if f.code.value == "TRAIN_LR_TOO_HIGH")
    assert g.severity.value == "info"


def _rms_run(values: list[float], acts: str = "relu", normalization: bool = False,
             loss: tuple[float, ...] = (2.30, 2.30, 2.29, 2.29)) -> RunFacts:
    a = {"layers": [f"l{i}" for i in range(len(values))], "activations": [acts] * len(values),
         "steps": [0, 25], "epochs": [0, 0], "values": [values, values]}
    return RunFacts(history={"loss": list(loss), "accuracy": [0.1] * len(loss)},
                    activation_rms=a, n_classes=10,
                    regularization={"dropout": False, "augmentation": False,
                                    "weight_decay": False, "normalization": normalization})


def test_signal_collapse_positive_glorot_relu_stack() -> None:
    # Glorot + ReLU halves the second moment per layer: RMS x 2^-1/2 per layer (He 2015)
    fading = [0.3 * 2 ** (-i / 2) for i in range(10)]
    f = next(f for f in analyze_curves(_rms_run(fading)).findings
             if f.code.value == "MODEL_NO_NORMALIZATION_LAYER")
    assert f.severity is Severity.WARNING and f.evidence["at_init"] is True
    assert f.evidence["ratio"] == pytest.approx(2 ** -4.5)
    assert f.remedies[0].id == "batch_norm"
    assert rank(analyze_curves(_rms_run(fading)).findings)[0].code.value == \
        "MODEL_NO_NORMALIZATION_LAYER"


def test_signal_collapse_negatives() -> None:
    fading = [0.3 * 2 ** (-i / 2) for i in range(10)]
    code = "MODEL_NO_NORMALIZATION_LAYER"
    assert code not in codes(_rms_run([0.3] * 10))                  # He init: RMS kept
    assert code not in codes(_rms_run(fading, normalization=True))  # BN in the model
    assert code not in codes(_rms_run(fading[:5]))                  # too shallow to judge
    assert code not in codes(_rms_run(fading, acts="tanh"))         # not the ReLU mechanism
    learned = (2.3, 1.2, 0.6, 0.3)
    assert code not in codes(_rms_run(fading, loss=learned))        # it learns anyway


def _bn_run(m2: list[float], train_acc: float = 0.99, val_acc: float = 0.11) -> RunFacts:
    b = {"layers": [f"bn{i}" for i in range(len(m2))], "epochs": [0, 1, 2],
         "values": [m2, m2, m2]}
    return RunFacts(history={"loss": [1.0, 0.4, 0.2], "accuracy": [0.8, 0.95, train_acc],
                             "val_accuracy": [0.1, 0.1, val_acc]},
                    n_classes=10, n_val=160, bn_moments=b)


def bn_finding(facts: RunFacts):
    return next((f for f in analyze_curves(facts).findings if "layers_off" in f.evidence), None)


def test_bn_statistics_positive_moving_variance_far_from_the_batches() -> None:
    f = bn_finding(_bn_run([0.006, 0.02, 0.3]))
    assert f.evidence["layer"] == "bn0" and f.evidence["layers_off"] == 2
    assert f.remedies[0].id == "bn_momentum" and f.evidence["began_epoch"] == 0
    # too large as well as too small: inputs 10x the moving variance
    assert bn_finding(_bn_run([1.0, 10.0])).code.value == "TRAIN_UNDERFITTING"
    # a cause: it ranks before the overfitting symptom it produces
    facts = _bn_run([0.006], val_acc=0.1)
    facts.history["val_loss"] = [2.3, 2.5, 2.9]
    ranked = [f.code.value for f in rank(analyze_curves(facts).findings)]
    assert "TRAIN_STUCK_AT_CHANCE" in ranked and ranked[0] == "TRAIN_UNDERFITTING"


def test_bn_statistics_negatives() -> None:
    assert bn_finding(_bn_run([0.6, 0.8, 1.3])) is None           # agree
    assert bn_finding(_bn_run([0.006], val_acc=0.97)) is None     # no gap
    assert bn_finding(RunFacts(history=healthy())) is None        # no BN


def _squash_run(spread: float, acc: float, pre: float = -0.0) -> RunFacts:
    return RunFacts(history={"loss": [2.2, 2.0, 1.9], "accuracy": [0.2, 0.4, acc]},
                    n_classes=10,
                    output_spread={"epochs": [0, 1, 2], "log_spread": [0.3, 0.6, spread],
                                   "min_preimage": [0.03, 0.0, pre], "n_classes": 10})


def test_softmax_applied_twice_bounds_the_log_probability_spread() -> None:
    f = next(f for f in analyze_curves(_squash_run(0.98, 0.49)).findings
             if f.code.value == "MODEL_OUTPUT_ACTIVATION")
    assert f.severity is Severity.ERROR
    assert f.evidence["max_probability_possible"] == pytest.approx(math.e / (math.e + 9),
                                                                   abs=1e-4)
    # negatives: confident predictions; a model at chance (near-uniform anyway)
    assert "MODEL_OUTPUT_ACTIVATION" not in codes(_squash_run(6.0, 0.95))
    assert "MODEL_OUTPUT_ACTIVATION" not in codes(_squash_run(0.2, 0.11))
    # a single softmax that learns slowly: small spread, but its logits are no probability
    # vector (an MSE-trained softmax at accuracy 0.24 measured -0.33)
    assert "MODEL_OUTPUT_ACTIVATION" not in codes(_squash_run(0.92, 0.245, pre=-0.33))
    # a graph of Keras layers with one softmax cannot apply it twice (logits squeezed by a
    # weight penalty look the same); unknown (subclassed: None) or two softmaxes still do
    for n, found in ((1, False), (None, True), (2, True)):
        facts = _squash_run(0.98, 0.49)
        facts.regularization = {"softmax_layers": n}
        assert ("MODEL_OUTPUT_ACTIVATION" in codes(facts)) is found


def test_optimizer_clipping_far_below_the_gradients() -> None:
    h = {"loss": [2.31, 2.31, 2.30, 2.30], "accuracy": [0.1, 0.11, 0.11, 0.11]}
    g = {"layers": ["a", "b"], "sizes": [100, 10], "steps": [0], "values": [[0.5, 0.2]]}

    def facts(**clip: float) -> RunFacts:
        return RunFacts(history=h, grad_norms=g, optimizer={
            "name": "sgd", "learning_rate": 0.01, "momentum": 0.9, **clip})

    f = next(f for f in analyze_curves(facts(clipnorm=0.001)).findings
             if f.code.value == "TRAIN_OPTIMIZER" and "clip" in f.evidence)
    assert f.evidence["clip"] == "clipnorm" and f.evidence["shortening"] == pytest.approx(350)
    assert f.remedies[0].id == "loosen_clip"
    assert "clips every step" in f.title
    assert any("clips" in f.title for f in analyze_curves(facts(clipvalue=1e-4)).findings)
    # one epoch is enough to judge (a run stopped early on its error)
    h = {"loss": [2.31], "accuracy": [0.1]}
    assert any("clips" in f.title for f in analyze_curves(facts(clipnorm=0.001)).findings)
    # a limit at the gradients' size, or none: no clipping finding
    for ok in (facts(clipnorm=1.0), facts(global_clipnorm=1.0), facts()):
        assert not any("clips" in f.title for f in analyze_curves(ok).findings)
