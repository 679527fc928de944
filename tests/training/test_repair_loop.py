"""The run --repair loop (repair_fit) in process: keep-best and the random-search ablation.

A scripted monitor stands in for the Monitor so each fit's score and findings are chosen
by the test; the fits themselves are real (tiny Dense models, one epoch).
"""

from __future__ import annotations

import math
import random

import keras
import numpy as np
import pytest

from convergent.findings import Code, Finding, Report, Severity
from convergent.remedies import runtime
from convergent.remedies.catalog import remedy
from convergent.training._inject import repair
from convergent.training._inject.repair import MAX_STEPS, best_index, repair_fit, search_seed

RNG = np.random.default_rng(0)
Y = RNG.integers(0, 3, 96)
X = (RNG.normal(0, 1, (3, 8))[Y] + 0.3 * RNG.normal(0, 1, (96, 8))).astype("float32")
PROBLEM = Finding(Code.TRAIN_LR_TOO_HIGH, Severity.ERROR, 0.9, "t", "e", {},
                  tuple(remedy(r) for r in ("lower_lr", "grad_clip", "weight_decay",
                                            "reduce_lr_on_plateau")))


class Scripted(keras.callbacks.Callback):
    """Monitor stand-in: a fixed final score and findings; keeps the weights at the end."""

    def __init__(self, val_loss: float, findings: list[Finding]) -> None:
        super().__init__()
        self.history = {"loss": [val_loss], "val_loss": [val_loss],
                        "val_accuracy": [round(1 / (1 + val_loss), 4)]}
        self.findings = findings
        self.weights: list[np.ndarray] | None = None

    def on_train_end(self, logs=None) -> None:
        self.weights = [w.copy() for w in self.model.get_weights()]

    def report(self) -> Report:
        return Report(list(self.findings))


def _script(*fits: tuple[float, bool]):
    """make_callbacks for repair_fit: fit i gets val_loss fits[i][0], healthy fits[i][1]."""
    made: list[Scripted] = []

    def make_callbacks():
        val_loss, healthy = fits[len(made)]
        mon = Scripted(val_loss, [] if healthy else [PROBLEM])
        made.append(mon)
        return mon, [mon]

    return make_callbacks, made


def _model(hidden: str = "relu") -> keras.Model:
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8, activation=hidden),
                          keras.layers.Dense(3, activation="softmax")])
    m.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    return m


def _run(model, fits, pre=()):
    make_callbacks, made = _script(*fits)
    histories = []

    def original(m, **kw):
        histories.append(keras.Model.fit(m, **kw))
        return histories[-1]

    record: dict = {}
    args = {"x": X, "y": Y, "epochs": 1, "batch_size": 32, "verbose": 0,
            "validation_data": (X[:24], Y[:24])}
    returned = repair_fit(original, model, args, record, make_callbacks, list(pre))
    return record, made, histories, returned


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_keeps_the_best_step_not_the_last():
    m = _model()
    record, made, histories, returned = _run(
        m, [(2.0, False), (1.0, False), (1.5, False), (1.8, False), (1.9, False)])
    rep = record["repair"]
    assert len(rep["steps"]) == MAX_STEPS and rep["kept"] == 1
    assert [s["kept"] for s in rep["steps"]] == [True, False, False, False]
    assert rep["score"]["val_loss"] == 1.0 and rep["healthy"] is False
    # lower_lr helped, so it went again (0.01 -> 0.001) and made things worse
    assert [s["remedy"] for s in rep["steps"][:2]] == ["lower_lr", "lower_lr"]
    assert _same(m.get_weights(), made[1].weights)
    assert not _same(m.get_weights(), made[-1].weights)
    assert returned is histories[1]
    assert math.isclose(float(m.optimizer.learning_rate), 0.01, rel_tol=1e-5)
    assert m.optimizer.clipnorm is None  # the later grad_clip step is undone
    assert rep["code"] == rep["steps"][0]["code"]  # the change up to the kept step only
    assert all(s["seconds"] > 0 and s["ended"] > 0 for s in rep["steps"])


def test_last_step_best_and_healthy_stops_and_is_kept():
    m = _model()
    record, made, histories, returned = _run(m, [(2.0, False), (1.5, False), (1.0, True)])
    rep = record["repair"]
    assert len(rep["steps"]) == 2 and rep["kept"] == 2 and rep["healthy"] is True
    assert rep["steps"][-1]["healthy"] and not rep["steps"][0]["healthy"]
    assert rep["remaining"] == []
    assert _same(m.get_weights(), made[-1].weights) and returned is histories[-1]


def test_healthy_reflects_the_kept_fit():
    """A healthy last step with a worse val_loss than an earlier one: the earlier is kept."""
    m = _model()
    record, *_ = _run(m, [(2.0, False), (1.0, False), (1.2, True)])
    rep = record["repair"]
    assert rep["kept"] == 1 and rep["healthy"] is False
    assert [f["code"] for f in rep["remaining"]] == ["TRAIN_LR_TOO_HIGH"]


def test_worse_remedy_is_undone_back_to_the_scripts_own_fit():
    """relu_activation makes it worse: the sigmoid layer, weights and compile come back."""
    m = _model("sigmoid")
    sat = Finding(Code.MODEL_SATURATING_ACTIVATION, Severity.WARNING, 0.8, "t", "e", {},
                  (remedy("relu_activation"),))
    # the monitor finds nothing: the lint finding alone asks for the remedy, then is fixed
    record, made, histories, returned = _run(m, [(1.0, True), (3.0, True)], pre=[sat])
    rep = record["repair"]
    assert rep["kept"] == 0 and [s["remedy"] for s in rep["steps"]] == ["relu_activation"]
    assert rep["steps"][0]["healthy"] and rep["healthy"] is False
    assert not any(s["kept"] for s in rep["steps"])
    assert m.layers[0].activation is keras.activations.sigmoid
    assert _same(m.get_weights(), made[0].weights) and returned is histories[0]
    assert isinstance(m.optimizer, keras.optimizers.SGD)
    assert math.isclose(float(m.optimizer.learning_rate), 0.1, rel_tol=1e-5)
    assert rep["code"] == ""  # nothing to change in the script


def _draws(seed: int, n: int) -> list[str]:
    rng, model = random.Random(seed), _model()
    fit_kwargs = {"x": X, "y": Y, "epochs": 1, "validation_data": (X[:24], Y[:24])}
    report, out = Report([PROBLEM]), []
    for _ in range(n):
        change = repair._random_change(rng, report, model, fit_kwargs)
        model, fit_kwargs = change.model, change.fit_kwargs
        out += [a["remedy"] for a in change.applied]
    return out


def test_random_search_draws_any_handler_seeded():
    drawn = _draws(0, 4)
    assert len(drawn) == 4 and set(drawn) <= set(runtime.HANDLERS)
    assert drawn == _draws(0, 4) and drawn != _draws(1, 4)
    assert drawn != ["lower_lr"] * 4  # not the finding's remedy every time


def test_random_search_in_the_loop(monkeypatch):
    monkeypatch.setenv(repair.ENV_SEARCH, "random:0")
    monkeypatch.setattr(repair, "MAX_STEPS", 2)  # fewer fits: the test stays fast
    record, *_ = _run(_model(), [(2.0, False), (1.9, False), (1.8, False)])
    steps = record["repair"]["steps"]
    assert [s["remedy"] for s in steps] == _draws(0, 2)
    assert all(s["search"] == "random:0" for s in steps) and record["repair"]["kept"] == 2


def test_random_search_stops_when_healthy(monkeypatch):
    monkeypatch.setenv(repair.ENV_SEARCH, "random:0")
    stopped, *_ = _run(_model(), [(2.0, False), (1.9, False), (1.8, True), (1.0, False)])
    assert len(stopped["repair"]["steps"]) == 2 and stopped["repair"]["healthy"] is True


def test_search_seed_and_best_index():
    assert search_seed("") is None and search_seed("1") is None
    assert search_seed("random:7") == 7 and search_seed("random:") == 0
    nan = {"val_loss": float("nan"), "loss": 0.1}
    assert best_index([{"val_loss": 1.0, "loss": 1.0}, nan]) == 0
    assert best_index([{"val_loss": 1.0, "loss": 2.0}, {"val_loss": 1.0, "loss": 1.0}]) == 1
    assert best_index([{"val_loss": 0.5}, {"val_loss": 0.5}]) == 0  # a tie keeps the earlier
    assert best_index([{"val_loss": "NaN"}, {"val_loss": 3.0}]) == 1  # as a JSON report has it
    with pytest.raises(ValueError):
        search_seed("random:x")
