"""The run --repair loop with remedies that change the loss or rebuild the model, and with
a model that fit itself builds (subclassed): keep-best across losses, codes fixed together,
the refit's starting weights."""

from __future__ import annotations

import keras
import numpy as np

from convergent.findings import Code, Finding, Report, Severity
from convergent.remedies.catalog import remedies_for
from convergent.training._inject.repair import best_index, fresh_weights, loss_id, repair_fit

RNG = np.random.default_rng(1)
Y = RNG.integers(0, 3, 60)
X = (RNG.normal(0, 1, (3, 8))[Y] + 0.3 * RNG.normal(0, 1, (60, 8))).astype("float32")


class Scripted(keras.callbacks.Callback):
    """Monitor stand-in with a chosen final val_loss / val_accuracy and findings."""

    def __init__(self, val_loss: float, val_acc: float, findings: list[Finding]) -> None:
        super().__init__()
        self.stopped, self.stop_on = None, ("error",)
        self.history = {"loss": [val_loss], "val_loss": [val_loss], "val_accuracy": [val_acc]}
        self.findings = findings

    def report(self) -> Report:
        return Report(list(self.findings))


def _loop(model, pre, fits, y=Y, late=()):
    """repair_fit with fit i scored fits[i] = (val_loss, val_accuracy, findings); ``late``:
    findings the hook's late lint adds to record["pre_fit"] during the first fit."""
    made: list[Scripted] = []

    def make_callbacks():
        mon = Scripted(*fits[len(made)])
        made.append(mon)
        return mon, [mon]

    fitted: list[keras.Model] = []

    def original(m, **kw):
        fitted.append(m)
        history = keras.Model.fit(m, **kw)
        if len(fitted) == 1:
            record["pre_fit"] += [f.to_dict() for f in late]
        return history

    record: dict = {"facts": {"n_val": 20}, "pre_fit": [f.to_dict() for f in pre]}
    args = {"x": X, "y": y, "epochs": 1, "batch_size": 20, "verbose": 0,
            "validation_data": (X[:20], y[:20])}
    repair_fit(original, model, args, record, make_callbacks, list(pre))
    return record, fitted


def test_fits_with_different_losses_are_compared_by_accuracy():
    mse, cce = {"val_loss": 0.09, "val_accuracy": 0.15}, {"val_loss": 1.2, "val_accuracy": 0.7}
    assert best_index([mse, cce]) == 0  # the loss scale alone would keep the MSE fit
    assert best_index([mse, cce], ["mean_squared_error", "categorical_crossentropy"]) == 1
    assert best_index([cce, mse], ["categorical_crossentropy", "mean_squared_error"]) == 0
    same = ["categorical_crossentropy"] * 2
    assert best_index([cce, {"val_loss": 0.8, "val_accuracy": 0.6}], same) == 1


def test_loss_id_tells_losses_and_logits_apart():
    assert loss_id({"loss": "mse"}) == "mse"
    assert loss_id(None) == "?"
    a = loss_id({"loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True)})
    b = loss_id({"loss": keras.losses.SparseCategoricalCrossentropy()})
    assert a != b and a.endswith("from_logits")


def _one_unit_model():
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(1), keras.layers.Activation("sigmoid")])
    m.compile(optimizer=keras.optimizers.RMSprop(1e-3), loss="binary_crossentropy",
              metrics=["accuracy"])
    return m


def _head_findings():
    ev = {"n_classes": 3, "label_format": "sparse", "loss": "binary_crossentropy"}
    return [Finding(Code.MODEL_LOSS_MISMATCH, Severity.ERROR, 0.9, "t", "e", ev,
                    remedies_for(Code.MODEL_LOSS_MISMATCH, "fix_loss")),
            Finding(Code.MODEL_OUTPUT_UNITS, Severity.ERROR, 0.9, "t", "e",
                    {"output_units": 1, "n_classes": 3}, remedies_for(Code.MODEL_OUTPUT_UNITS,
                                                                      "fix_output_units"))]


def test_a_new_head_and_loss_is_kept_on_accuracy_and_clears_both_codes():
    user = _one_unit_model()
    # the script's own fit: BCE on 3 classes has a small (and negative-going) loss; the
    # repaired fit's crossentropy is larger but its accuracy is what counts
    record, fitted = _loop(user, _head_findings(),
                           [(0.05, 0.33, []), (0.9, 0.71, [])])
    rep = record["repair"]
    assert rep["kept"] == 1 and rep["healthy"]
    step = rep["steps"][0]
    assert step["remedy"] == "fix_loss" and "output Dense 1 -> 3" in step["change"]
    assert not rep["remaining"]  # MODEL_OUTPUT_UNITS was fixed by the same step
    assert fitted[-1] is not user and fitted[-1].output_shape == (None, 3)
    assert 'loss="sparse_categorical_crossentropy"' in rep["code"]


def test_a_worse_new_head_is_not_kept():
    user = _one_unit_model()
    record, _ = _loop(user, _head_findings(), [(0.05, 0.40, []), (0.9, 0.30, [])])
    assert record["repair"]["kept"] == 0


class DeepSigmoid(keras.Model):
    def __init__(self):
        super().__init__()
        self.blocks = [keras.layers.Dense(8, activation="sigmoid") for _ in range(3)]
        self.head = keras.layers.Dense(3, activation="softmax")

    def call(self, x):
        for b in self.blocks:
            x = b(x)
        return self.head(x)


def test_a_model_built_by_fit_is_repaired_from_a_fresh_draw():
    keras.utils.set_random_seed(0)
    net = DeepSigmoid()
    net.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    assert not net.get_weights()  # fit builds it: no initial weights to go back to
    sat = Finding(Code.MODEL_SATURATING_ACTIVATION, Severity.WARNING, 0.8, "t", "e", {},
                  remedies_for(Code.MODEL_SATURATING_ACTIVATION, "relu_activation"))
    # its lint ran after the first training step: the finding arrives during the first fit
    record, _ = _loop(net, [], [(2.3, 0.1, []), (0.5, 0.8, [])], late=[sat])
    rep = record["repair"]
    assert [s["remedy"] for s in rep["steps"]] == ["relu_activation"] and rep["kept"] == 1
    assert all(keras.activations.serialize(b.activation) == "relu" for b in net.blocks)


def test_fresh_weights_redraw_kernels_and_zero_biases():
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4),
                          keras.layers.BatchNormalization(), keras.layers.Dense(3)])
    for v in m.weights:
        v.assign(np.full(v.shape, 7.0, dtype="float32"))
    new = fresh_weights(m)
    assert [w.shape for w in new] == [w.shape for w in m.get_weights()]
    kernel, bias, gamma = new[0], new[1], new[2]
    assert not np.allclose(kernel, 7.0) and np.allclose(bias, 0.0) and np.allclose(gamma, 1.0)
    m.set_weights(new)  # fits the model


def test_the_head_is_left_alone_without_a_head_finding():
    """A head remedy only runs for a finding that names it: here the LR finding's remedies
    change the optimizer only."""
    user = _one_unit_model()
    lr = Finding(Code.TRAIN_LR_TOO_HIGH, Severity.ERROR, 0.9, "t", "e", {},
                 remedies_for(Code.TRAIN_LR_TOO_HIGH, "lower_lr"))
    record, fitted = _loop(user, [lr], [(0.5, 0.3, []), (0.4, 0.35, [])])
    assert record["repair"]["steps"][0]["remedy"] == "lower_lr"
    assert fitted[-1].output_shape == (None, 1)


def _sigmoid_head_model():
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(3, activation="sigmoid")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def _info(code, first):
    return Finding(code, Severity.INFO, 0.5, "t", "e", {}, remedies_for(code, first))


def test_a_healthy_fit_tries_the_model_lints_advice_once_and_keeps_it_when_better():
    m = _sigmoid_head_model()
    advice = _info(Code.MODEL_OUTPUT_ACTIVATION, "fix_output_activation")
    record, _ = _loop(m, [advice], [(1.0, 0.6, []), (0.5, 0.8, []), (0.4, 0.85, [])])
    steps = record["repair"]["steps"]
    assert [(s["remedy"], s.get("step")) for s in steps] == [("fix_output_activation",
                                                              "advice")]
    assert record["repair"]["kept"] == 1


def test_advice_that_made_it_worse_is_undone():
    m = _sigmoid_head_model()
    advice = _info(Code.MODEL_OUTPUT_ACTIVATION, "fix_output_activation")
    record, _ = _loop(m, [advice], [(0.5, 0.8, []), (1.0, 0.6, [])])
    assert record["repair"]["kept"] == 0
    assert keras.activations.serialize(m.layers[-1].activation) == "sigmoid"  # put back


def test_no_advice_step_for_training_info_findings():
    m = _sigmoid_head_model()
    under = _info(Code.TRAIN_UNDERFITTING, "more_epochs")
    record, _ = _loop(m, [under], [(0.5, 0.8, []), (0.4, 0.85, [])])
    assert not record["repair"]["steps"]


def _still_improving():
    """curves.still_improving's info finding: the loss was still falling when fit stopped."""
    return Finding(Code.TRAIN_UNDERFITTING, Severity.INFO, 0.6, "Still improving when stopped",
                   "e", {"series": "val_loss", "relative_slope_per_epoch": 0.03,
                         "falling_fraction": 1.0, "tail_epochs": 3, "slope_threshold": 0.01},
                   remedies_for(Code.TRAIN_UNDERFITTING, "more_epochs"))


def test_a_healthy_fit_still_improving_gets_a_longer_fit_and_more_while_it_gains():
    m = _sigmoid_head_model()
    fits = [(0.6, 0.7, [_still_improving()]), (0.5, 0.8, [_still_improving()]),
            (0.4, 0.85, [])]
    record, fitted = _loop(m, [], fits)
    steps = record["repair"]["steps"]
    # the longer fit gained beyond noise and still improves: the "again" rule goes on
    assert [(s["remedy"], s.get("step")) for s in steps] == [("more_epochs", "longer"),
                                                              ("more_epochs", "again")]
    assert record["repair"]["kept"] == 2 and len(fitted) == 3


def test_the_longer_step_is_taken_once():
    m = _sigmoid_head_model()
    # within noise (one binomial SE of 20 validation images is 0.1): no "again" either
    fits = [(0.6, 0.7, [_still_improving()]), (0.59, 0.7, [_still_improving()]),
            (0.4, 0.9, [])]
    record, fitted = _loop(m, [], fits)
    assert [s.get("step") for s in record["repair"]["steps"]] == ["longer"]
    assert len(fitted) == 2


def test_a_longer_fit_that_did_worse_is_not_kept():
    m = _sigmoid_head_model()
    record, _ = _loop(m, [], [(0.5, 0.8, [_still_improving()]), (0.7, 0.75, [])])
    assert [s.get("step") for s in record["repair"]["steps"]] == ["longer"]
    assert record["repair"]["kept"] == 0


def test_when_the_last_remedy_has_nothing_more_to_give_the_longer_fit_follows():
    """After a gain, the "again" rule asks the step's remedy once more; here the sigmoid
    head is a softmax already, so the still-improving fit gets more epochs instead."""
    m = _sigmoid_head_model()
    advice = _info(Code.MODEL_OUTPUT_ACTIVATION, "fix_output_activation")
    again = Finding(Code.MODEL_OUTPUT_ACTIVATION, Severity.INFO, 0.5, "t", "e", {},
                    remedies_for(Code.MODEL_OUTPUT_ACTIVATION, "fix_output_activation"))
    fits = [(1.0, 0.5, []), (0.6, 0.8, [again, _still_improving()]), (0.5, 0.85, [])]
    record, _ = _loop(m, [advice], fits)
    assert [(s["remedy"], s.get("step")) for s in record["repair"]["steps"]] == [
        ("fix_output_activation", "advice"), ("more_epochs", "longer")]
    assert record["repair"]["kept"] == 2


def test_under_the_random_search_the_longer_step_is_a_random_draw(monkeypatch):
    """The ablation mirrors the repair's steps, but each one is its own random remedy: the
    repair's more_epochs must not replace the draw at the longer step."""
    from convergent.remedies import runtime
    from convergent.training._inject import repair as rp

    def lower_lr_only(rng, report, model, fit_kwargs):
        fake = Finding(Code.TRAIN_LR_TOO_HIGH, Severity.WARNING, 1.0, "t", "", {},
                       remedies_for(Code.TRAIN_LR_TOO_HIGH, "lower_lr"))
        return runtime.apply([fake], model, {}, fit_kwargs)

    monkeypatch.setenv(rp.ENV_SEARCH, "random:0")
    monkeypatch.setattr(rp, "_random_change", lower_lr_only)
    m = _sigmoid_head_model()
    record, _ = _loop(m, [], [(0.6, 0.7, [_still_improving()]), (0.5, 0.8, [])])
    steps = record["repair"]["steps"]
    assert [(s["remedy"], s.get("step")) for s in steps] == [("lower_lr", "longer")]
