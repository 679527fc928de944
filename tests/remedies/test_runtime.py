"""Run-time remedies rewrite a user's model/compile/fit arguments (the `run --repair` seam)."""

import numpy as np
import pytest

from convergent.findings import Code, Finding, Severity
from convergent.remedies.catalog import remedies_for
from convergent.remedies.runtime import apply


def finding(code, first, **evidence):
    return Finding(code, Severity.ERROR, 0.9, "t", "e", evidence, remedies_for(code, first))


def mlp(keras, act="relu", out="softmax", units=3):
    return keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                             keras.layers.Dense(8, activation=act),
                             keras.layers.Dense(units, activation=out)])


def data():
    rng = np.random.default_rng(0)
    return rng.uniform(0, 255, (30, 4, 4, 1)).astype("float32"), rng.integers(0, 3, 30)


def run(keras, f, model=None, compile_kwargs=None, **fit):
    x, y = data()
    ck = compile_kwargs or {"optimizer": keras.optimizers.SGD(10.0),
                            "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}
    fk = {"x": x, "y": y, "epochs": 1, "verbose": 0, "validation_split": 0.2, **fit}
    change = apply([f], model or mlp(keras), ck, fk)
    change.model.compile(**change.compile_kwargs)
    change.model.fit(**change.fit_kwargs)  # the change must leave a trainable run
    return change


def test_lower_lr_uses_the_range_test_suggestion(keras):
    c = run(keras, finding(Code.TRAIN_LR_TOO_HIGH, "lower_lr", suggested=3e-3))
    assert c.applied[0]["remedy"] == "lower_lr"
    assert float(c.compile_kwargs["optimizer"].learning_rate) == pytest.approx(3e-3)
    assert c.recompile and "+ optimizer=" in c.code


def test_rescale_wraps_the_model_and_shares_its_weights(keras):
    user = mlp(keras)
    c = run(keras, finding(Code.DATA_UNNORMALIZED, "rescale", max=255.0), model=user)
    assert c.model is not user and c.model.layers[1].name.startswith("rescaling")
    assert any(w is v for w in c.model.weights for v in user.weights)


def test_inputs_scaled_twice_are_scaled_back_when_they_cannot_be_standardized(keras):
    f = Finding(Code.DATA_UNNORMALIZED, Severity.WARNING, 0.9, "t", "e",
                {"max": 1 / 255, "threshold": {"std_min": 0.02}},
                remedies_for(Code.DATA_UNNORMALIZED, "standardize"))
    x, y = data()
    model = mlp(keras)  # fed by an iterator: no array to take statistics from
    c = apply([f], model, {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
              {"x": iter([(x / 255 / 255, y)]), "epochs": 1})
    assert [a["remedy"] for a in c.applied] == ["rescale"]
    assert c.skipped[0]["remedy"] == "standardize"
    assert float(c.model.layers[1].scale) == pytest.approx(255.0)
    assert "scaled twice" in c.applied[0]["snippet"]


def test_class_weights_from_labels(keras):
    c = run(keras, finding(Code.DATA_IMBALANCE, "class_weights"))
    assert set(c.fit_kwargs["class_weight"]) == {0, 1, 2}


def test_callbacks_are_added_not_replaced(keras):
    mine = keras.callbacks.History()
    c = run(keras, finding(Code.TRAIN_OVERFITTING, "early_stopping"), callbacks=[mine])
    names = [type(cb).__name__ for cb in c.fit_kwargs["callbacks"]]
    assert names[0] == "History" and "EarlyStopping" in names
    assert c.fit_kwargs["callbacks"][1].restore_best_weights


def test_saturating_activation_becomes_relu_in_place(keras):
    user = mlp(keras, act="sigmoid")
    c = run(keras, finding(Code.MODEL_SATURATING_ACTIVATION, "relu_activation"), model=user)
    assert keras.activations.serialize(user.layers[1].activation) == "relu"
    # the code change names this model's own layers, not a template layer
    assert 'activation="relu"' in c.code and user.layers[1].name in c.code


def test_output_activation_and_from_logits(keras):
    user = mlp(keras, out="sigmoid")
    ck = {"optimizer": "adam",
          "loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True)}
    c = run(keras, finding(Code.MODEL_OUTPUT_ACTIVATION, "fix_output_activation"), user, ck)
    assert keras.activations.serialize(user.layers[-1].activation) == "softmax"
    assert not c.compile_kwargs["loss"].get_config()["from_logits"]


def test_output_units_rebuilt_to_the_class_count(keras):
    c = run(keras, finding(Code.MODEL_OUTPUT_UNITS, "fix_output_units", num_classes=3),
            model=mlp(keras, units=5))
    assert c.model.output_shape[-1] == 3


def test_architecture_remedies_are_reported_as_skipped(keras):
    f = Finding(Code.MODEL_NO_NORMALIZATION_LAYER, Severity.WARNING, 0.8, "t", "e", {},
                remedies_for(Code.MODEL_NO_NORMALIZATION_LAYER))
    c = apply([f], mlp(keras), {"optimizer": "adam", "loss": "mse"}, {"epochs": 1})
    assert not c.changed and c.skipped[0]["remedy"] == "batch_norm"


def test_inputs_are_not_mutated(keras):
    ck = {"optimizer": "sgd", "loss": "sparse_categorical_crossentropy"}
    fk = {"x": data()[0], "y": data()[1], "epochs": 3, "callbacks": []}
    apply([finding(Code.TRAIN_UNDERFITTING, "more_epochs")], mlp(keras), ck, fk)
    assert fk["epochs"] == 3 and fk["callbacks"] == [] and ck["optimizer"] == "sgd"


def test_nonfinite_inputs_are_replaced_in_a_copy(keras):
    x, y = data()
    x[0, 0, 0, 0] = np.nan
    x[1, 1, 1, 0] = np.inf
    f = finding(Code.DATA_NONFINITE, "fix_nonfinite")
    change = apply([f], mlp(keras), {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
                   {"x": x, "y": y, "epochs": 1, "verbose": 0, "validation_data": (x, y)})
    assert change.applied[0]["remedy"] == "fix_nonfinite"
    assert np.isfinite(change.fit_kwargs["x"]).all()
    assert np.isfinite(change.fit_kwargs["validation_data"][0]).all()
    assert np.isnan(x[0, 0, 0, 0])  # the user's array is untouched
    bad_labels = apply([f], mlp(keras), {"optimizer": "adam", "loss": "mse"},
                       {"x": x, "y": np.full(30, np.nan), "epochs": 1})
    assert not bad_labels.changed and "labels" in bad_labels.skipped[0]["why"]


# learning rate: the range test's suggestion, else the optimizer's default, else a decade
@pytest.mark.parametrize("opt, code, first, want", [
    ("adam_1e-6", Code.TRAIN_LR_TOO_LOW, "raise_lr", 1e-3),     # below the default: jump
    ("adam_1e-3", Code.TRAIN_LR_TOO_LOW, "raise_lr", 1e-2),     # at the default: a decade
    ("rmsprop_0.5", Code.TRAIN_DIVERGED, "lower_lr", 1e-3),     # above the default: jump
    ("sgd_0.01", Code.TRAIN_LR_TOO_HIGH, "lower_lr", 1e-3),     # at SGD's default 1e-2
    ("sgd_3", Code.TRAIN_LR_TOO_HIGH, "lower_lr", 1e-2),
], ids=["adam-up-to-default", "adam-default-up-a-decade", "rmsprop-down-to-default",
        "sgd-default-down-a-decade", "sgd-down-to-default"])
def test_lr_steps_to_the_optimizer_default_first(keras, opt, code, first, want):
    name, lr = opt.split("_")
    cls = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop,
           "sgd": keras.optimizers.SGD}[name]
    ck = {"optimizer": cls(learning_rate=float(lr)), "loss": "sparse_categorical_crossentropy"}
    c = apply([finding(code, first)], mlp(keras), ck, {"epochs": 1})
    assert c.applied[0]["remedy"] == first
    assert float(c.compile_kwargs["optimizer"].learning_rate) == pytest.approx(want)
    assert f"+ optimizer=keras.optimizers.{cls.__name__}(learning_rate={want:g})" in c.code


def test_raise_lr_prefers_the_suggestion_over_the_default(keras):
    ck = {"optimizer": keras.optimizers.Adam(1e-6), "loss": "mse"}
    c = apply([finding(Code.TRAIN_LR_TOO_LOW, "raise_lr", suggested=3e-4)], mlp(keras), ck, {})
    assert float(c.compile_kwargs["optimizer"].learning_rate) == pytest.approx(3e-4)
    assert "range test" in c.applied[0]["change"]


def test_grad_clip_is_not_applied_twice(keras):
    f = finding(Code.TRAIN_EXPLODING_GRADIENTS, "grad_clip")
    ok = apply([f], mlp(keras), {"optimizer": keras.optimizers.Adam(), "loss": "mse"}, {})
    assert ok.applied[0]["remedy"] == "grad_clip"
    again = apply([f], mlp(keras), {"optimizer": keras.optimizers.Adam(clipnorm=1.0),
                                    "loss": "mse"}, {}, max_remedies=1)
    assert "grad_clip" not in [a["remedy"] for a in again.applied]
    assert any(s["remedy"] == "grad_clip" and "already" in s["why"] for s in again.skipped)


@pytest.mark.parametrize("evidence, old, want", [
    ({"relative_slope_per_epoch": 0.2, "epochs_run": 2, "slope_threshold": 0.01}, 2, 40),
    ({"relative_slope_per_epoch": 0.011, "epochs_run": 10}, 10, 20),  # slope says 11: doubled
    ({"relative_slope_per_epoch": 5.0, "epochs_run": 2}, 2, 100),      # capped
    ({}, 3, 6),                                                        # no slope: doubled
], ids=["slope-extends", "at-least-doubled", "capped", "no-evidence-doubles"])
def test_more_epochs_from_the_slope(keras, evidence, old, want):
    f = finding(Code.TRAIN_UNDERFITTING, "more_epochs", **evidence)
    c = apply([f], mlp(keras), {"optimizer": "adam", "loss": "mse"}, {"epochs": old})
    assert c.fit_kwargs["epochs"] == want and f"epochs={want}" in c.code
    assert any(type(cb).__name__ == "EarlyStopping" for cb in c.fit_kwargs["callbacks"])


def l2_mlp(keras, factor):
    reg = keras.regularizers.l2(factor)
    return keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                             keras.layers.Dense(16, activation="relu", kernel_regularizer=reg),
                             keras.layers.Dense(3, activation="softmax",
                                                kernel_regularizer=reg)])


def stuck():
    return finding(Code.TRAIN_STUCK_AT_CHANCE, "raise_lr")


def test_a_dominating_l2_penalty_is_reduced_first(keras):
    from convergent.remedies.regularization import PENALTY_TARGET, penalty_share

    keras.utils.set_random_seed(0)
    m = l2_mlp(keras, 1.0)
    x, y = data()
    x = x / 255.0
    loss = "sparse_categorical_crossentropy"
    assert penalty_share(m, x, y, loss).ratio > 1  # 1.0 * sum(W^2) >> ln 3
    c = apply([stuck()], m, {"optimizer": keras.optimizers.Adam(), "loss": loss},
              {"x": x, "y": y, "epochs": 1, "verbose": 0})
    assert [a["remedy"] for a in c.applied] == ["reduce_l2"]  # before raise_lr
    assert penalty_share(m, x, y, loss).ratio == pytest.approx(PENALTY_TARGET, rel=1e-3)
    assert m.layers[1].kernel_regularizer.get_config()["l2"] < 1e-2
    assert "kernel_regularizer=regularizers.l2(" in c.code
    c.model.compile(**c.compile_kwargs)
    c.model.fit(**c.fit_kwargs)


def test_a_small_l2_penalty_is_left_alone(keras):
    keras.utils.set_random_seed(0)
    x, y = data()
    m = l2_mlp(keras, 1e-4)
    ck = {"optimizer": keras.optimizers.Adam(), "loss": "sparse_categorical_crossentropy"}
    c = apply([stuck()], m, ck, {"x": x / 255.0, "y": y, "epochs": 1})
    assert [a["remedy"] for a in c.applied] == ["raise_lr"]
    only = Finding(Code.TRAIN_STUCK_AT_CHANCE, Severity.ERROR, 0.9, "t", "e", {},
                   remedies_for(Code.TRAIN_STUCK_AT_CHANCE, "reduce_l2")[:1])
    c = apply([only], m, ck, {"x": x / 255.0, "y": y, "epochs": 1})
    assert not c.changed and "already" in c.skipped[0]["why"]
    no_reg = apply([only], mlp(keras), ck, {"x": x / 255.0, "y": y, "epochs": 1})
    assert not no_reg.changed and "no L1/L2" in no_reg.skipped[0]["why"]


def test_adam_is_not_applied_to_adamw(keras):
    f = finding(Code.TRAIN_OPTIMIZER, "adam")
    sgd = apply([f], mlp(keras), {"optimizer": keras.optimizers.SGD(0.01), "loss": "mse"}, {})
    assert isinstance(sgd.compile_kwargs["optimizer"], keras.optimizers.AdamW)
    again = apply([f], mlp(keras), {"optimizer": sgd.compile_kwargs["optimizer"],
                                    "loss": "mse"}, {})
    assert "adam" not in [a["remedy"] for a in again.applied]


def test_loosen_clip_raises_a_tiny_clipnorm_and_drops_a_tiny_clipvalue(keras):
    f = finding(Code.TRAIN_OPTIMIZER, "loosen_clip")
    c = run(keras, f, compile_kwargs={"optimizer": keras.optimizers.SGD(0.01, clipnorm=1e-3),
                                      "loss": "sparse_categorical_crossentropy"})
    assert c.compile_kwargs["optimizer"].get_config()["clipnorm"] == pytest.approx(1.0)
    assert "clipnorm=1" in c.applied[0]["snippet"]
    c = run(keras, f, compile_kwargs={"optimizer": keras.optimizers.Adam(clipvalue=1e-5),
                                      "loss": "sparse_categorical_crossentropy"})
    cfg = c.compile_kwargs["optimizer"].get_config()
    assert cfg["clipvalue"] is None and cfg["clipnorm"] == pytest.approx(1.0)
    # a limit already at 1 or none at all: nothing to loosen
    for opt in (keras.optimizers.SGD(0.01, clipnorm=1.0), keras.optimizers.SGD(0.01)):
        none = apply([f], mlp(keras), {"optimizer": opt, "loss": "mse"}, {}, max_remedies=1)
        assert "loosen_clip" not in [a["remedy"] for a in none.applied]


def test_full_epochs_drops_a_steps_per_epoch_below_the_data(keras):
    f = finding(Code.TRAIN_UNDERFITTING, "full_epochs")
    x, y = data()
    c = apply([f], mlp(keras), {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
              {"x": x, "y": y, "steps_per_epoch": 1, "epochs": 1, "verbose": 0})
    assert c.applied[0]["remedy"] == "full_epochs" and c.fit_kwargs["steps_per_epoch"] is None
    c.model.compile(**c.compile_kwargs)
    c.model.fit(**c.fit_kwargs)
    none = apply([f], mlp(keras), {"optimizer": "adam", "loss": "mse"}, {"x": x, "y": y},
                 max_remedies=1)
    assert "full_epochs" not in [a["remedy"] for a in none.applied]


def test_early_stopping_minimising_an_accuracy_gets_mode_max(keras):
    es = keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="min", patience=2,
                                       restore_best_weights=True)
    f = finding(Code.TRAIN_UNDERFITTING, "early_stopping", monitor="val_accuracy", mode="min",
                expected_mode="max")
    c = run(keras, f, compile_kwargs={"optimizer": "adam",
                                      "loss": "sparse_categorical_crossentropy",
                                      "metrics": ["accuracy"]}, callbacks=[es])
    new = [cb for cb in c.fit_kwargs["callbacks"] if type(cb).__name__ == "EarlyStopping"]
    assert len(new) == 1 and new[0] is not es and es.mode == "min"
    assert new[0].mode == "max" and new[0].patience == 2 and new[0].restore_best_weights
    assert "mode='max'" in c.code


def test_early_stopping_with_the_right_mode_is_left_alone(keras):
    es = keras.callbacks.EarlyStopping(monitor="val_loss", mode="min", patience=2)
    c = apply([finding(Code.TRAIN_OVERFITTING, "early_stopping")], mlp(keras),
              {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
              {"x": data()[0], "y": data()[1], "callbacks": [es]})
    assert not any(a["remedy"] == "early_stopping" for a in c.applied)
    assert any("already in the callbacks" in s["why"] for s in c.skipped)


def test_lower_lr_scales_a_learning_rate_scheduler(keras):
    from convergent.remedies.runtime import ScaledSchedule

    def schedule(epoch, lr):
        return 0.3 / 2 ** epoch

    sched = keras.callbacks.LearningRateScheduler(schedule)
    c = run(keras, finding(Code.TRAIN_LR_TOO_HIGH, "lower_lr"),
            compile_kwargs={"optimizer": keras.optimizers.Adam(),
                            "loss": "sparse_categorical_crossentropy"},
            callbacks=[sched], epochs=2)
    new = [cb for cb in c.fit_kwargs["callbacks"]
           if type(cb).__name__ == "LearningRateScheduler"]
    assert len(new) == 1 and isinstance(new[0].schedule, ScaledSchedule)
    # 0.3 at epoch 0 -> Adam's default 1e-3; the same halving after it
    assert new[0].schedule(0, 1e-3) == pytest.approx(1e-3)
    assert new[0].schedule(1, 1e-3) == pytest.approx(5e-4)
    assert float(c.model.optimizer.learning_rate) == pytest.approx(5e-4)  # what fit used
    assert "0.3 -> 0.001" in c.applied[0]["change"] and "LearningRateScheduler" in c.code


def test_scaled_schedule_sees_its_own_lr_and_the_old_signature():
    from convergent.remedies.runtime import ScaledSchedule

    decay = ScaledSchedule(lambda epoch, lr: lr * 0.5, 0.1)
    assert decay(3, 0.01) == pytest.approx(0.005)   # 0.1 * (0.1 * 0.5)
    twice = ScaledSchedule(ScaledSchedule(lambda epoch: 1.0, 0.1), 0.5)
    assert twice.factor == pytest.approx(0.05) and twice(0, 1.0) == pytest.approx(0.05)


def test_lower_lr_without_a_scheduler_changes_the_optimizer_only(keras):
    c = run(keras, finding(Code.TRAIN_LR_TOO_HIGH, "lower_lr"))
    assert not any(type(cb).__name__ == "LearningRateScheduler"
                   for cb in c.fit_kwargs["callbacks"])
    assert float(c.compile_kwargs["optimizer"].learning_rate) == pytest.approx(1e-2)


def test_hidden_softmax_layers_become_relu(keras):
    c = run(keras, finding(Code.MODEL_SATURATING_ACTIVATION, "relu_activation"),
            model=mlp(keras, act="softmax"))
    assert keras.activations.serialize(c.model.layers[1].activation) == "relu"
    assert keras.activations.serialize(c.model.layers[-1].activation) == "softmax"


def test_relu_hidden_layers_are_not_a_relu_remedy(keras):
    c = apply([finding(Code.MODEL_SATURATING_ACTIVATION, "relu_activation")], mlp(keras),
              {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
              {"x": data()[0], "y": data()[1]})
    assert "relu_activation" not in [a["remedy"] for a in c.applied]


def double_softmax(keras):
    return keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                             keras.layers.Dense(3, activation="softmax", name="head"),
                             keras.layers.Activation("softmax", name="again")])


def test_softmax_applied_twice_drops_the_first(keras):
    f = finding(Code.MODEL_OUTPUT_ACTIVATION, "fix_output_activation", log_prob_spread=0.9)
    c = run(keras, f, model=double_softmax(keras))
    acts = [keras.activations.serialize(c.model.get_layer(n).activation)
            for n in ("head", "again")]
    assert sorted(acts) == ["linear", "softmax"]  # one softmax left
    assert "once now" in c.applied[0]["change"]


def test_output_activation_without_the_twice_evidence_sets_softmax_last(keras):
    f = finding(Code.MODEL_OUTPUT_ACTIVATION, "fix_output_activation")
    c = run(keras, f, model=mlp(keras, out="relu"))
    assert keras.activations.serialize(c.model.layers[-1].activation) == "softmax"


def test_a_single_softmax_is_kept_even_when_the_twice_finding_fires(keras):
    # e.g. a huge L2 penalty squashes the logits: the finding fires, no second softmax
    f = finding(Code.MODEL_OUTPUT_ACTIVATION, "fix_output_activation", log_prob_spread=0.9)
    c = apply([f], mlp(keras), {"optimizer": "adam",
                                "loss": "sparse_categorical_crossentropy"},
              {"x": data()[0], "y": data()[1]})
    assert keras.activations.serialize(c.model.layers[-1].activation) == "softmax"
    assert "fix_output_activation" not in [a["remedy"] for a in c.applied]  # nothing to do
    assert any("softmax already" in sk["why"] for sk in c.skipped)
