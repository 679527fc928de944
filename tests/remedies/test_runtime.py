"""Run-time remedies rewrite a user's model/compile/fit arguments (the `run --repair` seam)."""

import numpy as np
import pytest

from convergent.findings import Code, Finding, Severity
from convergent.remedies.catalog import remedies_for
from convergent.remedies.runtime import apply


@pytest.fixture(scope="module")
def keras():
    import keras

    keras.utils.set_random_seed(0)
    return keras


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
