"""The Monitor on tiny real fits (TF): records, live detection, stop_on, no side effects."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from convergent.training.monitor import Monitor  # noqa: E402 - after importorskip


def data(n: int = 256, c: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Linearly separable blobs: each class a distinct mean pattern on 8x8 images."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    means = rng.normal(0, 1, (c, 8, 8, 1)).astype("float32")
    x = means[y] + 0.3 * rng.normal(0, 1, (n, 8, 8, 1)).astype("float32")
    return x.astype("float32"), y


def model(c: int = 4, act: str = "relu", init: str = "he_normal", dropout: float = 0.2,
          seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(8, 3, activation=act, kernel_initializer=init),
        keras.layers.Flatten(),
        keras.layers.Dropout(dropout),
        keras.layers.Dense(16, activation=act, kernel_initializer=init),
        keras.layers.Dense(c, activation="softmax"),
    ])


def fit(m: keras.Model, x, y, opt, epochs: int = 3, callbacks=(), **kw):
    m.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m.fit(x, y, epochs=epochs, batch_size=32, verbose=0, callbacks=list(callbacks), **kw)


def test_monitor_records_and_healthy_run_has_no_errors() -> None:
    x, y = data()
    m = model()
    mon = Monitor(sample_every=4, probe_data=(x, y))
    fit(m, x, y, keras.optimizers.Adam(3e-3), epochs=3, callbacks=[mon], validation_split=0.25)
    r = mon.report()
    g = r.metrics["grad_norms"]
    assert len(g["layers"]) == 3 and len(g["steps"]) == len(g["values"]) >= 3
    assert all(np.isfinite(v).all() for v in g["values"])
    assert len(r.metrics["history"]["loss"]) == 3
    assert r.metrics["history"]["learning_rate"][0] == pytest.approx(3e-3)
    assert len(r.metrics["steps"]["loss"]) == 3 * 6  # 192 train samples / 32
    assert r.metrics["dead_fraction"]["values"] and r.metrics["summary"]["probe"] == "on"
    assert not r.has_errors, r.codes
    # per-step losses average back to the epoch loss Keras logged
    steps = np.array(r.metrics["steps"]["loss"][:6])
    assert steps.mean() == pytest.approx(r.metrics["history"]["loss"][0], rel=1e-4)


def test_monitor_same_weights_with_and_without(tmp_path) -> None:
    """The Monitor changes nothing: same seed -> identical final weights (dropout on)."""
    x, y = data()
    finals = []
    for with_monitor in (False, True):
        m = model(dropout=0.5, seed=3)
        cbs = [Monitor(sample_every=2, probe_data=(x, y))] if with_monitor else []
        fit(m, x, y, keras.optimizers.Adam(1e-3), epochs=2, callbacks=cbs,
            validation_split=0.2)
        finals.append([np.array(w) for w in m.get_weights()])
    for a, b in zip(*finals):
        np.testing.assert_array_equal(a, b)


def test_monitor_detects_divergence_and_stops() -> None:
    x, y = data()
    x = x * 1e4  # huge inputs with a huge LR blow up at once
    m = model(act="relu", dropout=0.0)
    mon = Monitor(stop_on=("error",), sample_every=5, probe_data=(x, y))
    fit(m, x, y, keras.optimizers.SGD(10.0), epochs=10, callbacks=[mon])
    r = mon.report()
    assert "TRAIN_DIVERGED" in r.codes
    assert r.metrics["summary"]["stopped"] is not None
    assert len(r.metrics["history"]["loss"]) < 10
    assert r.codes.index("TRAIN_LR_TOO_HIGH") < r.codes.index("TRAIN_DIVERGED")


def test_monitor_detects_dying_relu() -> None:
    x, y = data()
    m = model(dropout=0.0)
    # negative biases kill every hidden ReLU unit
    conv, dense = m.layers[0], m.layers[3]
    conv.bias.assign(np.full(conv.bias.shape, -100.0, "float32"))
    dense.bias.assign(np.full(dense.bias.shape, -100.0, "float32"))
    mon = Monitor(sample_every=3, probe_data=(x, y))
    fit(m, x, y, keras.optimizers.Adam(1e-3), epochs=2, callbacks=[mon])
    r = mon.report()
    assert "TRAIN_DYING_RELU" in r.codes
    assert r.metrics["dead_fraction"]["values"][-1] == 1.0


def test_monitor_detects_vanishing_gradients_deep_sigmoid() -> None:
    x, y = data()
    keras.utils.set_random_seed(0)
    layers = [keras.Input((8, 8, 1)), keras.layers.Flatten()]
    layers += [keras.layers.Dense(32, activation="sigmoid",
                                  kernel_initializer=keras.initializers.RandomNormal(0, 0.01))
               for _ in range(8)]
    m = keras.Sequential(layers + [keras.layers.Dense(4, activation="softmax")])
    mon = Monitor(sample_every=3, probe_data=(x, y))
    fit(m, x, y, keras.optimizers.SGD(0.01), epochs=2, callbacks=[mon])
    assert "TRAIN_VANISHING_GRADIENTS" in mon.report().codes


def test_monitor_without_probe_and_reuse_resets_state() -> None:
    x, y = data()
    m = model()
    mon = Monitor()
    fit(m, x, y, keras.optimizers.Adam(1e-3), epochs=1, callbacks=[mon])
    fit(m, x, y, keras.optimizers.Adam(1e-3), epochs=2, callbacks=[mon])
    r = mon.report()
    assert len(r.metrics["history"]["loss"]) == 2  # reset in on_train_begin
    assert r.metrics["summary"]["probe"].startswith("off")
    assert r.metrics["grad_norms"]["values"] == []
    assert r.metrics["update_ratios"]["values"]  # weight updates need no probe
    w = mon.run_facts().weight_norms  # nor do the weight norms at each sample
    assert w and len(w["values"]) == len(w["steps"]) >= 1
    assert all(v > 0 for v in w["values"][0]) and len(w["values"][0]) == len(w["layers"])


def test_monitor_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="stop_on"):
        Monitor(stop_on=("fatal",))
    with pytest.raises(ValueError, match="sample_every"):
        Monitor(sample_every=0)


def test_one_combined_probe_pass_measures_what_two_passes_do() -> None:
    from convergent.training.monitor import _backend_gradients

    x, y = data(32)
    m = model()
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    hidden = [m.layers[0].output, m.layers[3].output]
    full = keras.Model(m.inputs, hidden + list(m.outputs))
    loss = keras.losses.get("sparse_categorical_crossentropy")
    xs, ys = keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y)
    alone, none = _backend_gradients(m, loss, xs, ys, list(m.trainable_variables))
    both, acts = _backend_gradients(m, loss, xs, ys, list(m.trainable_variables), forward=full)
    assert none == [] and len(acts) == 2
    for a, b in zip(alone, both):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    separate = keras.Model(m.inputs, hidden)(xs, training=False)
    for a, b in zip(acts, separate):
        np.testing.assert_allclose(a, keras.ops.convert_to_numpy(b), rtol=1e-5, atol=1e-6)


def test_samples_after_the_first_stay_within_the_time_budget(monkeypatch) -> None:
    import convergent.training.monitor as mon

    clock = [100.0]
    monkeypatch.setattr(mon.time, "perf_counter", lambda: clock[0])
    m = Monitor()
    m._reset()
    assert m._within_budget(0) and m._within_budget(25)  # at init and after the first steps
    m._first_sample, m._last_sample, m._sample_seconds = 2.0, 0.5, 2.5  # warm-up, then 0.5
    clock[0] += 1.0  # 1 s into the fit: a third 0.5 s sample would be 100 % of it
    assert not m._within_budget(50) and m._skipped_samples == 1
    clock[0] += 33.0  # 34 s: 1.0 s of later samples is 2.9 %
    assert m._within_budget(75)
    m._sample_seconds += 0.5
    clock[0] += 5.0  # 39 s: 1.5 s would be 3.8 %
    assert not m._within_budget(100)
    assert Monitor(sample_every=25)._within_budget(25)  # an explicit interval is kept


def test_subclassed_model_built_by_its_first_step_is_still_sampled() -> None:
    class Deep(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = [keras.layers.Dense(16, activation="sigmoid") for _ in range(3)]
            self.head = keras.layers.Dense(4, activation="softmax")

        def call(self, x):
            h = keras.ops.reshape(x, (keras.ops.shape(x)[0], -1))
            for b in self.blocks:
                h = b(h)
            return self.head(h)

    x, y = data()
    mon = Monitor(sample_every=2, probe_data=(x, y))
    fit(Deep(), x, y, keras.optimizers.SGD(0.01), epochs=1, callbacks=[mon])
    facts = mon.run_facts()
    assert facts.grad_norms and len(facts.grad_norms["layers"]) == 4
    assert all(len(v) == 4 for v in facts.grad_norms["values"])
    assert facts.weight_norms and all(len(v) == 4 for v in facts.weight_norms["values"])


@pytest.mark.parametrize("init,fades", [("glorot_uniform", True), ("he_normal", False)])
def test_monitor_measures_the_signal_fading_through_glorot_relu_layers(init, fades) -> None:
    # He et al. 2015: Glorot halves the second moment per ReLU layer, He keeps it
    x, y = data()
    keras.utils.set_random_seed(0)
    layers = [keras.Input((8, 8, 1)), keras.layers.Flatten()]
    layers += [keras.layers.Dense(64, activation="relu", kernel_initializer=init)
               for _ in range(10)]
    m = keras.Sequential(layers + [keras.layers.Dense(4, activation="softmax")])
    mon = Monitor(sample_every=3, probe_data=(x, y))
    fit(m, x, y, keras.optimizers.SGD(1e-4), epochs=3, callbacks=[mon])
    rms = mon.report().metrics["activation_rms"]
    first = rms["values"][0]
    assert len(first) == 10 and rms["steps"][0] == 0
    ratio = first[-1] / first[0]
    assert (ratio < 0.1) is fades
    assert ("MODEL_NO_NORMALIZATION_LAYER" in mon.report().codes) is fades


@pytest.mark.parametrize("momentum,off", [(0.99, True), (0.5, False)])
def test_monitor_measures_batch_norm_moving_statistics(momentum, off) -> None:
    # 24 steps: momentum 0.99 keeps 0.99^24 = 79 % of the initial variance 1, while the
    # inputs' variance here is ~0.01; momentum 0.5 forgets it within a few steps
    x, y = data()
    x = x * 0.1
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                          keras.layers.Dense(16, kernel_initializer="he_normal"),
                          keras.layers.BatchNormalization(momentum=momentum),
                          keras.layers.Activation("relu"),
                          keras.layers.Dense(4, activation="softmax")])
    mon = Monitor(sample_every=3, probe_data=(x, y))
    fit(m, x, y, keras.optimizers.Adam(1e-3), epochs=3, callbacks=[mon])
    bn = mon.report().metrics["bn_moments"]
    assert bn["layers"] == [m.layers[2].name] and bn["epochs"] == [0, 1, 2]
    m2 = bn["values"][-1][0]
    assert (max(m2, 1 / m2) >= 4) is off


@pytest.mark.parametrize("twice", [True, False])
def test_monitor_sees_a_softmax_applied_to_probabilities(twice) -> None:
    x, y = data()
    keras.utils.set_random_seed(0)
    layers = [keras.Input((8, 8, 1)), keras.layers.Flatten(),
              keras.layers.Dense(32, activation="relu"),
              keras.layers.Dense(4, activation="softmax")]
    if twice:
        layers.append(keras.layers.Activation("softmax"))
    m = keras.Sequential(layers)
    mon = Monitor(sample_every=3, probe_data=(x, y))
    fit(m, x, y, keras.optimizers.Adam(3e-3), epochs=4, callbacks=[mon])
    spread = mon.report().metrics["output_spread"]["log_spread"][-1]
    assert (spread <= 1.0 + 1e-6) is twice
    assert ("MODEL_OUTPUT_ACTIVATION" in mon.report().codes) is twice


def test_softmax_layers_are_counted_only_in_graphs_of_keras_layers() -> None:
    from convergent.training.monitor import _regularization_facts

    def seq(*extra):
        return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                 keras.layers.Dense(4, activation="softmax"), *extra])

    assert _regularization_facts(seq())["softmax_layers"] == 1
    assert _regularization_facts(seq(keras.layers.Activation("softmax")))["softmax_layers"] == 2
    assert _regularization_facts(seq(keras.layers.Lambda(lambda z: z)))["softmax_layers"] is None
    inp = keras.Input((4,))
    probs = keras.layers.Dense(3, activation="softmax")(inp)
    assert _regularization_facts(keras.Model(inp, probs))["softmax_layers"] == 1
    twice = keras.Model(inp, keras.ops.softmax(probs))  # an op of the graph, not a layer
    assert _regularization_facts(twice)["softmax_layers"] is None

    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = keras.layers.Dense(4, activation="softmax")

        def call(self, x):
            return self.d(keras.ops.reshape(x, (-1, 64)))

    m = Sub()
    m(np.zeros((1, 8, 8, 1), "float32"))
    assert _regularization_facts(m)["softmax_layers"] is None
