"""The run --repair loop (repair_fit) in process: keep-best and the random-search ablation.

A scripted monitor stands in for the Monitor so each fit's score and findings are chosen
by the test; the fits themselves are real (tiny Dense models, one epoch).
"""

from __future__ import annotations

import math
import random
import time

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


# healthy, but the finding that asked for lower_lr still says there is more to gain
STILL = Finding(Code.TRAIN_LR_TOO_HIGH, Severity.INFO, 0.5, "t", "e", {}, PROBLEM.remedies)


class Scripted(keras.callbacks.Callback):
    """Monitor stand-in: a fixed final score and findings; keeps the weights at the end."""

    def __init__(self, val_loss: float, findings: list[Finding],
                 stopped: dict | None = None) -> None:
        super().__init__()
        self.stopped = stopped  # as Monitor.stopped: the stop rule ended the fit early
        self.stop_on = ("error",)
        self.history = {"loss": [val_loss], "val_loss": [val_loss],
                        "val_accuracy": [round(1 / (1 + val_loss), 4)]}
        self.findings = findings
        self.weights: list[np.ndarray] | None = None

    def on_train_end(self, logs=None) -> None:
        self.weights = [w.copy() for w in self.model.get_weights()]

    def report(self) -> Report:
        return Report(list(self.findings))


def _script(*fits: tuple):
    """make_callbacks for repair_fit: fit i gets val_loss fits[i][0], healthy fits[i][1]
    and, with a third item, the Monitor's ``stopped`` record."""
    made: list[Scripted] = []

    def make_callbacks():
        val_loss, healthy, *stopped = fits[len(made)]
        found = {True: [], False: [PROBLEM], "info": [STILL]}[healthy]
        mon = Scripted(val_loss, found, *stopped)
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

    record: dict = {"facts": {"n_val": 24}}  # as the hook sets it: 24 validation samples
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
    """Healthy, and the last step's gain (0.40 -> 0.45) is within the noise of 24 samples."""
    m = _model()
    record, made, histories, returned = _run(m, [(2.0, False), (1.5, False), (1.2, True)])
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
    assert len(rep["steps"]) == 2  # healthy but worse: no gain to go on for
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


def test_a_healthy_step_that_gained_beyond_noise_goes_again():
    """0.33 -> 0.50 on 24 samples (noise 0.10): lower_lr once more; worse, so it is undone."""
    m = _model()
    record, made, histories, returned = _run(m, [(2.0, False), (1.0, "info"), (1.5, True)])
    rep = record["repair"]
    assert [s["remedy"] for s in rep["steps"]] == ["lower_lr", "lower_lr"]
    assert rep["steps"][1]["step"] == "again" and "step" not in rep["steps"][0]
    assert rep["kept"] == 1 and rep["healthy"] is True
    assert math.isclose(float(m.optimizer.learning_rate), 0.01, rel_tol=1e-5)  # SGD default
    assert _same(m.get_weights(), made[1].weights) and returned is histories[1]


def test_going_again_keeps_going_while_it_gains():
    m = _model()
    record, *_ = _run(m, [(3.0, False), (1.0, "info"), (0.3, "info"), (0.25, "info")])
    rep = record["repair"]
    # 0.25 -> 0.50 -> 0.77 gain; 0.77 -> 0.80 is within the noise: stop after step 3
    assert len(rep["steps"]) == 3 and rep["kept"] == 3


STOP = {"reason": "TRAIN_EXPLODING_GRADIENTS", "code": "TRAIN_EXPLODING_GRADIENTS",
        "epoch": 0, "step": 3}


def test_best_fit_stopped_early_is_run_again_in_full(monkeypatch):
    monkeypatch.setattr(repair, "MAX_STEPS", 2)
    m = _model()
    record, made, *_ = _run(m, [(2.0, False), (1.0, False, STOP), (0.8, False)])
    rep = record["repair"]
    assert [s["remedy"] for s in rep["steps"]] == ["lower_lr", "full_fit"]
    assert rep["steps"][1]["step"] == "full_fit" and rep["steps"][1]["code"] == ""
    assert "stopped the fit at epoch 0 on TRAIN_EXPLODING_GRADIENTS" in rep["steps"][1]["change"]
    assert made[1].stop_on == ("error",) and made[2].stop_on == ()  # no stop rule for it
    assert rep["kept"] == 2 and rep["code"] == rep["steps"][0]["code"]
    assert math.isclose(float(m.optimizer.learning_rate), 0.01, rel_tol=1e-5)  # same LR


def test_a_stopped_fit_that_is_not_the_best_is_not_rerun(monkeypatch):
    monkeypatch.setattr(repair, "MAX_STEPS", 2)
    record, *_ = _run(_model(), [(1.0, False), (2.0, False, STOP), (1.5, False)])
    assert "full_fit" not in [s["remedy"] for s in record["repair"]["steps"]]


def test_no_time_left_no_step(monkeypatch):
    monkeypatch.setattr(repair, "_process_start", lambda: time.time() - 30.0)
    monkeypatch.setattr(repair, "TIME_FACTOR", 0.0)
    m = _model()
    before = [w.copy() for w in m.get_weights()]
    record, made, *_ = _run(m, [(2.0, False), (1.0, True)])
    assert record["repair"]["steps"] == [] and len(made) == 1
    assert any("does not fit" in n for n in record["notes"])
    assert not _same(m.get_weights(), before)  # the script's own fit, not the reset weights
    assert _same(m.get_weights(), made[0].weights)


def _fits(first_t0, seconds, ran, planned):
    return [{"t0": first_t0, "seconds": seconds, "planned": planned,
             "monitor_history": {"loss": [1.0] * ran}}]


def test_time_rule_cuts_a_longer_fit_to_what_fits(monkeypatch):
    monkeypatch.setattr(repair, "TIME_FACTOR", 2.5)
    now = time.time()
    # start-up 8 s + a 2-epoch fit of 2 s: one run 10 s, 25 s in all, 19.5 s gone: 5.5 s
    # left at 1 s per epoch
    fits = _fits(now - 11.5, 2.0, 2, 2)
    kw = {"epochs": 40}
    assert repair._fit_in_time(fits, now - 19.5, kw, 2) is None and kw["epochs"] == 5
    assert repair._fit_in_time(fits, now - 19.5, {"epochs": 3}, 2) is None
    assert "does not fit" in repair._fit_in_time(fits, now - 19.5, {"epochs": 40}, 5)
    assert repair._fit_in_time(fits, None, {"epochs": 10 ** 6}, 2) is None  # no run: no rule
    # a first fit cut short after 1 of 10 epochs counts as 10 epochs of one run
    assert repair._one_run(_fits(now - 12.0, 2.0, 1, 10), now - 20.0) == pytest.approx(28.0)


@pytest.mark.parametrize("before, after, n, want", [
    ({"val_loss": 2.0, "val_accuracy": 0.30}, {"val_loss": 1.0, "val_accuracy": 0.50}, 24, True),
    ({"val_loss": 2.0, "val_accuracy": 0.45}, {"val_loss": 1.0, "val_accuracy": 0.50}, 24, False),
    ({"val_loss": 2.0, "val_accuracy": 0.45}, {"val_loss": 1.0, "val_accuracy": 0.50}, 10000,
     True),
    ({"val_loss": 1.0, "val_accuracy": 0.30}, {"val_loss": 2.0, "val_accuracy": 0.60}, 24, False),
    ({"loss": 2.0}, {"loss": 1.0}, None, True),
], ids=["gain-beyond-noise", "gain-within-noise", "same-gain-many-samples",
        "higher-val-loss", "no-accuracy"])
def test_gained(before, after, n, want):
    assert repair.gained(before, after, n) is want


def test_a_reduced_penalty_that_made_it_worse_is_put_back(monkeypatch):
    monkeypatch.setattr(repair, "MAX_STEPS", 1)
    keras.utils.set_random_seed(0)
    reg = keras.regularizers.l2(1.0)
    m = keras.Sequential([keras.Input((8,)),
                          keras.layers.Dense(8, activation="relu", kernel_regularizer=reg),
                          keras.layers.Dense(3, activation="softmax")])
    m.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    stuck = Finding(Code.TRAIN_STUCK_AT_CHANCE, Severity.ERROR, 0.9, "t", "e", {},
                    (remedy("raise_lr"), remedy("reduce_l2")))
    make_callbacks, _ = _script((1.0, True), (3.0, True))  # the lint-like finding alone
    record: dict = {"facts": {"n_val": 24}}
    args = {"x": X, "y": Y, "epochs": 1, "verbose": 0, "validation_data": (X[:24], Y[:24])}
    repair_fit(lambda mm, **kw: keras.Model.fit(mm, **kw), m, args, record,
               make_callbacks, [stuck])
    rep = record["repair"]
    assert [s["remedy"] for s in rep["steps"]] == ["reduce_l2"] and rep["kept"] == 0
    assert m.layers[0].kernel.regularizer.get_config()["l2"] == pytest.approx(1.0)
    assert m.layers[0].kernel_regularizer.get_config()["l2"] == pytest.approx(1.0)


def test_a_stopped_best_fit_without_a_real_gain_is_not_rerun(monkeypatch):
    """Best by val_loss, but 0.333 -> 0.345 accuracy is noise on 24 samples."""
    monkeypatch.setattr(repair, "MAX_STEPS", 2)
    record, *_ = _run(_model(), [(2.0, False), (1.9, False, STOP), (1.8, False)])
    assert "full_fit" not in [s["remedy"] for s in record["repair"]["steps"]]


def test_a_gain_without_a_finding_asking_for_more_stops():
    """Healthy with no finding left: nothing says the remedy would help again."""
    record, *_ = _run(_model(), [(2.0, False), (1.0, True), (0.5, True)])
    assert len(record["repair"]["steps"]) == 1 and record["repair"]["kept"] == 1


def test_the_next_monitor_sees_the_fits_early_stopping():
    # a remedy replaced the EarlyStopping (its mode): the curve checks read it from facts
    record = {"facts": {"n_val": 24, "early_stopping": {"monitor": "val_accuracy",
                                                        "mode": "min", "patience": 2}}}
    es = keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=2)
    repair._sync_facts(record, {"callbacks": [es]})
    assert record["facts"]["early_stopping"]["mode"] == "max"
    repair._sync_facts(record, {"callbacks": []})  # none left: none in the facts
    assert "early_stopping" not in record["facts"] and record["facts"]["n_val"] == 24
