"""Run-time remedies that change layers: output head + loss, widths, pooling, conv block,
dropout rates (remedies/architecture.py, reached through runtime.apply)."""

import numpy as np
import pytest

from convergent.findings import Code, Finding, Severity
from convergent.remedies.catalog import remedies_for
from convergent.remedies.runtime import apply


def finding(code, first, severity=Severity.ERROR, **evidence):
    return Finding(code, severity, 0.9, "t", "e", evidence, remedies_for(code, first))


def images(n=24, side=8, classes=3, onehot=False):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (n, side, side, 1)).astype("float32")
    y = rng.integers(0, classes, n)
    return x, (np.eye(classes, dtype="float32")[y] if onehot else y)


def fit_after(change, x, y):
    """The change leaves a model that compiles and trains on the data."""
    change.model.compile(**change.compile_kwargs)
    fk = {**change.fit_kwargs, "x": x, "y": y, "epochs": 1, "verbose": 0}
    hist = change.model.fit(**fk)
    assert np.isfinite(hist.history["loss"][-1])


def one_unit_head(keras, side=8):
    return keras.Sequential([
        keras.Input((side, side, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.Flatten(), keras.layers.Dense(8, activation="relu"),
        keras.layers.Dense(1), keras.layers.Activation("sigmoid")])


# output head + loss ----------------------------------------------------------------------
def test_one_sigmoid_unit_for_three_classes_gets_a_softmax_head_and_a_sparse_loss(keras):
    x, y = images()
    user = one_unit_head(keras)
    conv_kernel = user.layers[0].kernel
    f = finding(Code.MODEL_LOSS_MISMATCH, "fix_loss", loss="binary_crossentropy",
                label_format="sparse", n_classes=3)
    c = apply([f], user, {"optimizer": "rmsprop", "loss": "binary_crossentropy",
                          "metrics": ["accuracy"]}, {"x": x, "y": y})
    assert c.applied[0]["remedy"] == "fix_loss"
    assert c.model is not user and c.model.output_shape == (None, 3)
    assert c.compile_kwargs["loss"] == "sparse_categorical_crossentropy"
    # the other layers are the user's own (same weights), the trailing sigmoid is gone
    assert any(w is conv_kernel for w in c.model.weights)
    assert not any(type(ly).__name__ == "Activation" for ly in c.model.layers)
    assert set(c.applied[0]["fixes"]) == {"MODEL_OUTPUT_UNITS", "MODEL_OUTPUT_ACTIVATION"}
    snippet = c.applied[0]["snippet"]
    assert 'layers.Dense(3, activation="softmax")' in snippet
    assert 'loss="sparse_categorical_crossentropy"' in snippet
    fit_after(c, x, y)


def test_one_hot_labels_get_categorical_crossentropy(keras):
    x, y = images(onehot=True)
    f = finding(Code.MODEL_OUTPUT_UNITS, "fix_output_units", output_units=1, n_classes=3)
    c = apply([f], one_unit_head(keras), {"optimizer": "adam", "loss": "binary_crossentropy"},
              {"x": x, "y": y})
    assert c.model.output_shape == (None, 3)
    assert c.compile_kwargs["loss"] == "categorical_crossentropy"
    assert "MODEL_LOSS_MISMATCH" in c.applied[0]["fixes"]
    fit_after(c, x, y)


def test_two_classes_on_one_unit_keep_the_head_and_get_binary_crossentropy(keras):
    x, y = images(classes=2)
    user = one_unit_head(keras)
    f = finding(Code.MODEL_LOSS_MISMATCH, "fix_loss", loss="categorical_crossentropy",
                label_format="sparse", n_classes=2)
    c = apply([f], user, {"optimizer": "adam", "loss": "categorical_crossentropy"},
              {"x": iter([(x, y)])})  # an iterator: the format comes from the finding
    assert c.model is user  # units and activation fit already: only the loss changes
    assert c.compile_kwargs["loss"] == "binary_crossentropy"
    assert c.applied[0]["snippet"].startswith('model.compile(..., loss="binary_crossentropy")')
    # 1 sigmoid unit is right for 2 classes once the loss is binary: the units finding goes
    assert "MODEL_OUTPUT_UNITS" in c.applied[0]["fixes"]
    fit_after(c, x, y.astype("float32"))


def test_regression_loss_on_a_softmax_head_becomes_crossentropy(keras):
    x, y = images(onehot=True)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(3, activation="softmax")])
    f = finding(Code.MODEL_LOSS_MISMATCH, "fix_loss", loss="mean_squared_error",
                label_format="onehot", n_classes=3)
    c = apply([f], model, {"optimizer": "sgd", "loss": "mean_squared_error"}, {"x": x, "y": y})
    assert c.model is model and c.compile_kwargs["loss"] == "categorical_crossentropy"
    fit_after(c, x, y)


def test_a_logits_head_stays_logits(keras):
    x, y = images(onehot=True)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(3)])
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    c = apply([finding(Code.MODEL_LOSS_MISMATCH, "fix_loss", n_classes=3)], model,
              {"optimizer": "adam", "loss": loss}, {"x": x, "y": y})
    new = c.compile_kwargs["loss"]
    assert type(new).__name__ == "CategoricalCrossentropy" and new.get_config()["from_logits"]
    fit_after(c, x, y)


def test_a_head_that_fits_already_is_skipped(keras):
    x, y = images()
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(3, activation="softmax")])
    c = apply([finding(Code.MODEL_LOSS_MISMATCH, "fix_loss", n_classes=3)], model,
              {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"}, {"x": x, "y": y})
    assert not c.changed and "fit the labels already" in c.skipped[-1]["why"]


def test_head_fix_on_a_subclassed_model_is_skipped(keras):
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.flat, self.out = keras.layers.Flatten(), keras.layers.Dense(1)

        def call(self, x):
            return self.out(self.flat(x))

    x, y = images()
    net = Net()
    net(x[:1])
    c = apply([finding(Code.MODEL_OUTPUT_UNITS, "fix_output_units", n_classes=3)], net,
              {"optimizer": "adam", "loss": "binary_crossentropy"}, {"x": x, "y": y})
    assert not c.changed and "subclassed" in c.skipped[-1]["why"]


# bottleneck ------------------------------------------------------------------------------
def bottleneck_model(keras):
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Flatten()(inputs)
    h = keras.layers.Dense(32, activation="relu", name="wide")(h)
    e = keras.layers.Dense(2, name="embedding")(h)
    h = keras.layers.Dense(16, activation="relu", name="after")(e)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(h))


def test_widen_bottleneck_takes_the_narrower_neighbours_width(keras):
    x, y = images(classes=10)
    user = bottleneck_model(keras)
    wide = user.get_layer("wide").kernel
    f = finding(Code.MODEL_BOTTLENECK, "widen_bottleneck", Severity.WARNING,
                layer="embedding", features=2, n_classes=10)
    c = apply([f], user, {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
              {"x": x, "y": y})
    assert c.model.get_layer("embedding").units == 16  # min(32, 16) >= 10 classes
    assert any(w is wide for w in c.model.weights)  # unchanged layers are reused
    assert "after" in c.applied[0]["change"]  # its input grew: re-initialized
    assert c.applied[0]["snippet"].startswith("layers.Dense(16, ...)  # layer embedding")
    fit_after(c, x, y)


def test_widen_bottleneck_needs_its_finding_and_a_narrow_layer(keras):
    x, y = images(classes=3)
    ck = {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"}
    f = finding(Code.MODEL_BOTTLENECK, "widen_bottleneck", n_classes=2)  # 2 features fit
    assert not apply([f], bottleneck_model(keras), ck, {"x": x, "y": y}).changed


# pooling ---------------------------------------------------------------------------------
def over_pooled(keras, pool=4, side=28):
    inputs = keras.Input((side, side, 1))
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    h = keras.layers.MaxPooling2D(pool_size=(pool, pool))(h)
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(h)
    h = keras.layers.MaxPooling2D(pool_size=(pool, pool))(h)
    h = keras.layers.Flatten()(keras.layers.Conv2D(8, 3, padding="same")(h))
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h))


def test_less_pooling_cuts_4x4_pools_to_2x2(keras):
    x, y = images(side=28)
    f = finding(Code.MODEL_OVER_POOLING, "less_pooling", Severity.WARNING, layer="conv2d")
    user = over_pooled(keras)
    c = apply([f], user, {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
              {"x": x, "y": y})
    pools = [ly for ly in c.model.layers if type(ly).__name__ == "MaxPooling2D"]
    assert [tuple(p.pool_size) for p in pools] == [(2, 2), (2, 2)]
    assert "7x7" in c.applied[0]["change"]
    assert c.applied[0]["snippet"].count("MaxPooling2D(pool_size=(2, 2))") == 2
    # the convolutions keep the user's kernels (their shapes do not depend on the map size)
    assert sum(any(w is v for v in user.weights) for w in c.model.weights) >= 6
    fit_after(c, x, y)


def test_less_pooling_drops_the_last_pool_when_2x2_pools_still_collapse_the_map(keras):
    x, y = images(side=8)
    f = finding(Code.MODEL_OVER_POOLING, "less_pooling", Severity.WARNING)
    c = apply([f], over_pooled(keras, pool=2, side=8), {"optimizer": "adam",
              "loss": "sparse_categorical_crossentropy"}, {"x": x, "y": y})
    pools = [ly for ly in c.model.layers if type(ly).__name__ == "MaxPooling2D"]
    assert len(pools) == 1 and "removed" in c.applied[0]["change"]  # 8 -> 4, not 2
    assert "# remove" in c.applied[0]["snippet"]
    fit_after(c, x, y)


def test_less_pooling_skips_a_model_that_pools_little(keras):
    x, y = images(side=28)
    c = apply([finding(Code.MODEL_OVER_POOLING, "less_pooling")], over_pooled(keras, pool=2),
              {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"}, {"x": x, "y": y})
    assert not c.changed


# capacity --------------------------------------------------------------------------------
def linear(keras, side=28):
    return keras.Sequential([keras.Input((side, side, 1)), keras.layers.Flatten(),
                             keras.layers.Dense(3, activation="softmax")])


def test_add_capacity_puts_the_keras_example_conv_block_before_flatten(keras):
    x, y = images(side=28)
    f = finding(Code.MODEL_TOO_SMALL, "add_capacity", Severity.WARNING, weight_layers=1)
    c = apply([f], linear(keras), {"optimizer": "adam",
              "loss": "sparse_categorical_crossentropy"}, {"x": x, "y": y})
    names = [type(ly).__name__ for ly in c.model.layers]
    assert names[1:6] == ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten"]
    assert 'layers.Conv2D(32, 3, activation="relu")' in c.applied[0]["snippet"]
    fit_after(c, x, y)


def test_add_capacity_only_for_too_small_and_only_without_convolutions(keras):
    x, y = images(side=28)
    ck = {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"}
    under = finding(Code.TRAIN_UNDERFITTING, "add_capacity", Severity.WARNING)
    assert not any(a["remedy"] == "add_capacity"
                   for a in apply([under], linear(keras), ck, {"x": x, "y": y}).applied)
    small = finding(Code.MODEL_TOO_SMALL, "add_capacity")
    assert not apply([small], over_pooled(keras), ck, {"x": x, "y": y}).changed


# dropout ---------------------------------------------------------------------------------
def dropout_model(keras, rate):
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                             keras.layers.Dense(8, activation="relu"),
                             keras.layers.Dropout(rate),
                             keras.layers.Dense(3, activation="softmax")])


@pytest.mark.parametrize(("rate", "want"), [(0.9, 0.1), (0.6, 0.3), (0.45, 0.3)],
                         ids=["keep_prob_0.9", "keep_prob_0.6", "high_rate_0.45"])
def test_less_dropout_reads_a_rate_above_half_as_a_keep_probability(keras, rate, want):
    x, y = images()
    m = dropout_model(keras, rate)
    c = apply([finding(Code.MODEL_EXCESSIVE_DROPOUT, "less_dropout")], m,
              {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"}, {"x": x, "y": y})
    assert m.layers[2].rate == pytest.approx(want)
    assert f"layers.Dropout({want:g})" in c.applied[0]["snippet"]
    assert ("keep_prob" in c.applied[0]["snippet"]) == (rate > 0.5)
    fit_after(c, x, y)


def test_less_dropout_skips_moderate_rates(keras):
    x, y = images()
    c = apply([finding(Code.MODEL_EXCESSIVE_DROPOUT, "less_dropout")], dropout_model(keras, 0.2),
              {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"}, {"x": x, "y": y})
    assert not c.changed


def bn_model(keras, momentum):
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3),
                             keras.layers.BatchNormalization(momentum=momentum),
                             keras.layers.Activation("relu"), keras.layers.Flatten(),
                             keras.layers.Dense(3, activation="softmax")])


def test_bn_momentum_lowers_the_moving_average_momentum(keras):
    x, y = images()
    m = bn_model(keras, 0.99)
    c = apply([finding(Code.TRAIN_UNDERFITTING, "bn_momentum", Severity.WARNING)], m,
              {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"}, {"x": x, "y": y})
    assert m.layers[1].momentum == pytest.approx(0.9)
    assert "layers.BatchNormalization(momentum=0.9)" in c.applied[0]["snippet"]
    fit_after(c, x, y)


def test_bn_momentum_skips_a_momentum_already_low(keras):
    x, y = images()
    c = apply([finding(Code.TRAIN_UNDERFITTING, "bn_momentum", Severity.WARNING)],
              bn_model(keras, 0.9),
              {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"}, {"x": x, "y": y})
    # nothing to lower: the finding's next remedy (train more steps) applies instead
    assert [a["remedy"] for a in c.applied] != ["bn_momentum"]
    assert c.model.layers[1].momentum == pytest.approx(0.9)


def test_zero_bias_resets_the_named_layers_biases(keras):
    x, y = images()
    neg = keras.initializers.Constant(-3.0)
    m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                          keras.layers.Dense(16, activation="relu", bias_initializer=neg,
                                             name="h1"),
                          keras.layers.Dense(3, activation="softmax", bias_initializer=neg,
                                             name="out")])
    c = apply([finding(Code.MODEL_BAD_INIT, "zero_bias", Severity.WARNING, layers=["h1"])], m,
              {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"}, {"x": x, "y": y})
    assert c.applied[0]["remedy"] == "zero_bias"
    assert np.all(np.asarray(m.get_layer("h1").bias) == 0)
    assert np.all(np.asarray(m.get_layer("out").bias) == -3)  # not named: left alone
    fit_after(c, x, y)


def test_zero_bias_gives_way_when_no_named_layer_has_a_bias(keras):
    x, y = images()
    c = apply([finding(Code.MODEL_BAD_INIT, "zero_bias", Severity.WARNING, layers=["nope"])],
              bn_model(keras, 0.9),
              {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"}, {"x": x, "y": y})
    assert all(a["remedy"] != "zero_bias" for a in c.applied)


def tf_variable_model(keras):
    tf = pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.Variable attributes are a TensorFlow-backend fault")

    class TfDense(keras.layers.Layer):
        def build(self, input_shape):
            self.w = tf.Variable(tf.random.normal((input_shape[-1], 3), stddev=0.05))

        def call(self, inputs):
            return tf.nn.softmax(tf.matmul(inputs, self.w))

    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), TfDense()])


def test_track_weights_makes_tf_variable_attributes_keras_weights_that_train(keras):
    from convergent.model.facts import untracked_variables

    x, y = images()
    m = tf_variable_model(keras)
    start = m.layers[-1].w.numpy().copy()
    assert m.weights == [] and untracked_variables(m)
    c = apply([finding(Code.MODEL_FROZEN, "track_weights")], m,
              {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"}, {"x": x, "y": y})
    assert c.applied[0]["remedy"] == "track_weights"
    assert len(m.trainable_weights) == 1 and untracked_variables(m) == []
    np.testing.assert_array_equal(np.asarray(m.trainable_weights[0]), start)  # same start
    fit_after(c, x, y)
    assert not np.allclose(np.asarray(m.trainable_weights[0]), start)  # the optimizer moved it


def test_track_weights_gives_way_when_every_variable_is_tracked(keras):
    x, y = images()
    m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                          keras.layers.Dense(3, activation="softmax")])
    c = apply([finding(Code.MODEL_FROZEN, "track_weights")], m,
              {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"}, {"x": x, "y": y})
    assert all(a["remedy"] != "track_weights" for a in c.applied)
