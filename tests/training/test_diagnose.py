"""diagnose(): end to end on tiny digit models, and the judgement of probe results."""

from __future__ import annotations

import math
import random
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from convergent.errors import BadInputError
from convergent.findings import Code, Finding, Severity
from convergent.training.diagnose import _judge, diagnose
from convergent.training.probes.lr_range import lr_schedule, smooth, suggest
from convergent.training.probes.overfit import summarize

LN10 = math.log(10)


@pytest.fixture(scope="module")
def K() -> Any:
    import keras

    return keras


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images[..., None] / 16.0).astype("float32")
    p = np.random.default_rng(0).permutation(len(x))
    return x[p], d.target[p]


def cnn(K: Any, opt: Any = None) -> Any:
    K.utils.set_random_seed(0)
    L = K.layers
    m = K.Sequential([K.Input((8, 8, 1)), L.Conv2D(16, 3, activation="relu", padding="same"),
                      L.MaxPooling2D(), L.Flatten(), L.Dense(32, activation="relu"),
                      L.Dense(10, activation="softmax")])
    m.compile(opt or K.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    return m


# --------------------------------------------------------------------------- end to end
def test_healthy_model_no_warnings_and_user_state_untouched(K, digits) -> None:
    x, y = digits
    m = cnn(K)
    w0 = [w.copy() for w in m.get_weights()]
    np_state, py_state = np.random.get_state()[1].copy(), random.getstate()
    r = diagnose(m, x[:1400], y[:1400], validation_data=(x[1400:], y[1400:]), budget_s=8)
    assert r.healthy, [(f.code.value, f.severity.value, f.evidence) for f in r.findings]
    assert all(np.array_equal(a, b) for a, b in zip(w0, m.get_weights()))
    assert int(np.asarray(m.optimizer.iterations)) == 0 and not m.optimizer.variables[2:]
    assert np.array_equal(np.random.get_state()[1], np_state) and random.getstate() == py_state
    M = r.metrics
    lo, hi = M["lr_range"]["suggested"]
    assert lo < hi and len(M["lr_range"]["lr"]) == len(M["lr_range"]["loss"])
    g = M["grad_norms"]
    assert len(g["values"]) == len(g["layers"]) == 3
    assert all(len(row) == len(g["steps"]) for row in g["values"])
    assert M["overfit"]["user"]["reached"] and M["label_shuffle"]["real_heldout_acc"] > 0.5
    assert set(M["dead_fraction"]) == {"init", "after_overfit"}
    assert M["timings"]["total"] < 8 + 2


def test_lr_too_high_is_the_root_cause(K, digits) -> None:
    x, y = digits
    r = diagnose(cnn(K, K.optimizers.Adam(1.0)), x[:1000], y[:1000], budget_s=6)
    assert r.codes[0] == "TRAIN_LR_TOO_HIGH", r.codes
    f = r.findings[0]
    assert f.remedies[0].id == "lower_lr" and f.evidence["evidence_for"]


def test_shuffled_labels_are_misaligned(K, digits) -> None:
    x, y = digits
    y_bad = np.random.default_rng(1).permutation(y[:1000])
    r = diagnose(cnn(K), x[:1000], y_bad, budget_s=30)  # a cap: under load 6 s ran out
    assert r.codes[0] == "DATA_LABELS_MISALIGNED", r.codes
    assert r.findings[0].severity is Severity.ERROR


def test_bad_input_messages(K, digits) -> None:
    x, y = digits
    with pytest.raises(BadInputError, match="must match"):
        diagnose(cnn(K), x[:100], y[:90])
    with pytest.raises(BadInputError, match="at least"):
        diagnose(cnn(K), x[:10], y[:10])
    m = K.Sequential([K.Input((8, 8, 1)), K.layers.Flatten(),
                      K.layers.Dense(10, activation="softmax")])
    r = diagnose(m, x[:100], y[:100])  # not compiled: probes skipped, lint still runs
    assert "probes" in r.metrics["skipped"] and "not compiled" in r.metrics["skipped"]["probes"]
    m = cnn(K, None)
    m.compile("adam", "categorical_crossentropy")  # integer labels: fit would crash
    r = diagnose(m, x[:100], y[:100])
    assert r.codes[0] == "MODEL_LOSS_MISMATCH" and "fix it first" in r.metrics["skipped"][
        "probes"]


def test_subclassed_model_runs_in_place_and_is_restored(K, digits) -> None:
    x, y = digits

    class Net(K.Model):
        def __init__(self, n: int) -> None:  # no get_config: cannot be cloned
            super().__init__()
            self.f = K.layers.Flatten()
            self.h = K.layers.Dense(32, activation="relu")
            self.o = K.layers.Dense(n)

        def call(self, x: Any) -> Any:
            return self.o(self.h(self.f(x)))

    K.utils.set_random_seed(0)
    m = Net(10)
    m(x[:1])
    m.compile(K.optimizers.Adam(1e-3),
              K.losses.SparseCategoricalCrossentropy(from_logits=True))
    w0 = [w.copy() for w in m.get_weights()]
    r = diagnose(m, x[:600], y[:600], budget_s=4)
    assert "clone" in r.metrics["skipped"]
    assert all(np.array_equal(a, b) for a, b in zip(w0, m.get_weights()))
    assert not [f for f in r.findings if f.severity is Severity.ERROR], r.codes


# --------------------------------------------------------------------------- judgement
def judge(**kw: Any) -> list[str]:
    """Run the judgement on hand-made probe results (healthy unless overridden)."""
    lrs = lr_schedule(steps=70)
    curve = [2.3 if lr < 1e-4 else max(2.3 - 0.8 * math.log10(lr / 1e-4), 0.7)
             if lr < 3e-2 else 5.0 for lr in lrs]
    sweep = {**suggest(lrs, smooth(curve, 0.0))}
    healthy_fit = summarize([2.3, 1.0, 0.2], 0.1 * LN10)
    layers = ["c1", "c2", "d1"]
    grad_log = [{"run": "init", "step": i, "grad": [0.1, 0.1, 0.1], "weight": [1.0] * 3}
                for i in range(3)]
    grad_log += [{"run": "overfit_user", "step": i, "grad": [0.1] * 3, "weight": [1.0] * 3,
                  "update": [kw.get("update", 1e-3)] * 3} for i in range(3)]
    if "grads" in kw:
        grad_log[:3] = [{"run": "init", "step": 0, "grad": kw["grads"], "weight": [1.0] * 3}]
    s = SimpleNamespace(user_lr=kw.get("lr", 1e-3), grad_log=grad_log, layer_names=layers)
    init = {"loss": kw.get("init_loss", 2.31), "ln_c": LN10,
            "excess": kw.get("init_loss", 2.31) - LN10, "implied_logit_std": 0.3}
    shuf = kw.get("shuf", {"heldout_samples": 256, "real_heldout_acc": 0.8,
                           "shuffled_heldout_acc": 0.1, "majority_acc": 0.12,
                           "real_train_loss": 0.5, "shuffled_train_loss": 2.2})
    acts0 = {"dead_fraction": kw.get("dead0", {"c1": 0.0}), "saturated_fraction":
             kw.get("sat0", {})}
    acts1 = {"dead_fraction": kw.get("dead1", {"c1": 0.05})}
    facts = {"loss": {"kind": "scce"}, "optimizer": kw.get("opt", "Adam")}
    out = _judge(s, facts, kw.get("prior", []), init, kw.get("fit", healthy_fit),
                 kw.get("ref"), kw.get("sweep", sweep), shuf, acts0, acts1,
                 {"label_shuffle": dict(shuf)})
    return [f.code.value for f in sorted(out, key=lambda f: (f.severity.rank,))]


def test_judge_healthy_is_quiet() -> None:
    assert judge() == []


def test_judge_initial_loss() -> None:
    assert judge(init_loss=LN10 + 5) == ["MODEL_BAD_INIT"]
    prior = [Finding(Code.DATA_UNNORMALIZED, Severity.WARNING, 0.8, "t", "e")]
    assert judge(init_loss=LN10 + 5, prior=prior) == ["DATA_UNNORMALIZED"]
    assert judge(init_loss=LN10 + 1) == []
    assert "TRAIN_DIVERGED" in judge(init_loss=float("nan"))


def test_judge_gradient_ratios() -> None:
    assert judge(grads=[1e-7, 1e-3, 0.1]) == ["TRAIN_VANISHING_GRADIENTS"]
    assert judge(grads=[1e4, 1.0, 0.1]) == ["TRAIN_EXPLODING_GRADIENTS"]
    assert judge(grads=[0.01, 0.1, 0.5]) == []
    assert "TRAIN_DIVERGED" in judge(grads=[float("nan"), 1.0, 1.0])


def test_judge_learning_rate() -> None:
    stalled = summarize([2.3, 2.3, 2.29], 0.23)
    ref = summarize([2.3, 0.1], 0.23)
    blown = summarize([2.3, 9.0, float("nan")], 0.23)
    assert judge(lr=1.0, fit=blown)[:1] == ["TRAIN_DIVERGED"] or "TRAIN_LR_TOO_HIGH" in judge(
        lr=1.0, fit=blown)
    assert "TRAIN_LR_TOO_HIGH" in judge(lr=1.0, fit=blown)
    assert judge(lr=1e-7, fit=stalled, ref=ref, update=1e-8) == ["TRAIN_LR_TOO_LOW"]
    # the sweep alone (no stalled fit) is not enough for "too low": BN nets sweep far
    assert judge(lr=1e-6) == []
    # stalled, the reference fits, no LR evidence: the optimizer itself
    assert judge(lr=1e-3, fit=stalled, ref=ref, sweep={"lr_min": None, "suggested": None},
                 opt="SGD") == ["TRAIN_OPTIMIZER"]
    # neither fits and the loss stays at chance
    assert judge(fit=stalled, ref=stalled) == ["TRAIN_STUCK_AT_CHANCE"]
    prior = [Finding(Code.MODEL_OUTPUT_ACTIVATION, Severity.ERROR, 0.9, "t", "e")]
    assert "TRAIN_STUCK_AT_CHANCE" not in judge(fit=stalled, ref=stalled, prior=prior)


def test_judge_dying_relu_and_saturation() -> None:
    assert "TRAIN_DYING_RELU" in judge(dead1={"c1": 0.9, "c2": 0.8})
    assert "TRAIN_DYING_RELU" not in judge(dead1={"c1": 0.2, "c2": 0.1})
    assert judge(sat0={"d1": 0.9}) == ["TRAIN_VANISHING_GRADIENTS"]


def test_judge_label_shuffle() -> None:
    bad = {"heldout_samples": 256, "real_heldout_acc": 0.11, "shuffled_heldout_acc": 0.1,
           "majority_acc": 0.12, "real_train_loss": 2.2, "shuffled_train_loss": 2.2}
    assert judge(shuf=bad) == ["DATA_LABELS_MISALIGNED"]
    val = {"heldout_samples": 256, "real_heldout_acc": 0.8, "shuffled_heldout_acc": 0.1,
           "majority_acc": 0.12, "real_train_loss": 0.5, "shuffled_train_loss": 2.2,
           "real_val_acc": 0.1, "val_samples": 256}
    assert judge(shuf=val) == ["DATA_LABELS_MISALIGNED"]
    # a model fault can also keep held-out accuracy at chance: not blamed on the labels
    prior = [Finding(Code.MODEL_BAD_INIT, Severity.ERROR, 0.9, "t", "e")]
    assert "DATA_LABELS_MISALIGNED" not in judge(shuf=bad, prior=prior)
