"""The injected fit wrapper's readers, in-process: no randomness consumed, right facts."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from convergent.training._inject.hook import (  # noqa: E402
    _tf_dataset_replayable,
    label_facts,
    read_fit_arguments,
    rng_guard,
)


@pytest.mark.parametrize("y,expected", [
    (np.array([0, 1, 1, 2, 2, 2]), {"n_classes": 3, "majority_fraction": 0.5}),
    (np.eye(4)[[0, 0, 0, 1]], {"n_classes": 4, "majority_fraction": 0.75}),
    (np.array([0.5, 1.5]), {}),
], ids=["sparse", "one-hot", "not-labels"])
def test_label_facts(y: np.ndarray, expected: dict) -> None:
    assert label_facts(y) == expected


def test_arrays_give_facts_probe_and_split_counts() -> None:
    x = np.zeros((100, 4, 4, 1), "float32")
    y = np.arange(100) % 4
    facts, probe, _ = read_fit_arguments({"x": x, "y": y, "validation_split": 0.2,
                                          "batch_size": 10}, {})
    assert facts["n_train"] == 80 and facts["n_val"] == 20 and facts["batch_size"] == 10
    assert facts["n_classes"] == 4 and probe is not None and len(probe[0]) == 80


def test_image_data_generator_flow_is_read_without_consuming_randomness() -> None:
    from keras.src.legacy.preprocessing.image import ImageDataGenerator

    x = np.random.default_rng(0).random((64, 8, 8, 1)).astype("float32") * 255
    y = np.arange(64) % 2
    flow = ImageDataGenerator(rescale=1 / 255, rotation_range=20).flow(x, y, batch_size=16,
                                                                       seed=3)
    np.random.seed(11)
    before = np.random.get_state()[1].copy()
    facts, probe, _ = read_fit_arguments({"x": flow}, {})
    assert np.array_equal(np.random.get_state()[1], before)
    assert probe is not None and probe[0].shape == (16, 8, 8, 1)
    assert facts["batch_size"] == 16 and facts["n_train"] == 64
    # training then sees exactly the batches it would have seen without the read
    gen = ImageDataGenerator(rescale=1 / 255, rotation_range=20)
    np.random.seed(11)
    read_fit_arguments({"x": flow}, {})
    seen = flow[0][0]
    np.random.seed(11)
    fresh = gen.flow(x, y, batch_size=16, seed=3)
    np.testing.assert_array_equal(seen, fresh[0][0])


def test_pydataset_drawing_random_numbers_is_guarded() -> None:
    class Noisy(keras.utils.PyDataset):
        def __len__(self) -> int:
            return 4

        def __getitem__(self, i: int):
            return np.random.random((8, 3)).astype("float32"), np.arange(8) % 2

    np.random.seed(5)
    expected = np.random.random()
    np.random.seed(5)
    record: dict = {}
    read_fit_arguments({"x": Noisy()}, record)
    assert np.random.random() == expected
    assert record["input"]["kind"] == "Noisy"


def test_shuffled_tf_data_is_not_replayed() -> None:
    tf = pytest.importorskip("tensorflow")
    plain = tf.data.Dataset.from_tensor_slices((np.zeros((8, 2)), np.arange(8))).batch(4)
    assert _tf_dataset_replayable(plain)
    assert not _tf_dataset_replayable(plain.shuffle(8))
    assert not _tf_dataset_replayable(plain.map(lambda a, b: (a + 1, b)))
    record: dict = {}
    # a map that draws random numbers: neither iterated nor replayed
    noisy = plain.shuffle(8).map(lambda a, b: (a + tf.random.uniform(tf.shape(a), dtype=a.dtype), b))
    _, probe, _ = read_fit_arguments({"x": noisy}, record)
    assert probe is None and any("shuffle" in n for n in record["notes"])
    # a deterministic map is replayed on the source's elements instead (sources.py)
    record = {}
    mapped = plain.shuffle(8).map(lambda a, b: (a + 2, b))
    _, probe, _ = read_fit_arguments({"x": mapped}, record)
    assert probe is not None and float(np.min(probe[0])) == 2.0
    assert any("replayed" in n for n in record["notes"])


def test_rng_guard_restores_python_and_numpy_state() -> None:
    import random

    random.seed(1)
    np.random.seed(1)
    a = (random.random(), np.random.random())
    random.seed(1)
    np.random.seed(1)
    with rng_guard():
        random.random()
        np.random.random(10)
    assert (random.random(), np.random.random()) == a


def test_input_files_of_the_folder_loaders(tmp_path) -> None:
    from convergent.training._inject.hook import input_files

    class DirIter:  # what ImageDataGenerator.flow_from_directory returns exposes filepaths
        filepaths = ["a/1.png", "b/2.png"]

    class TfDs:  # image_dataset_from_directory's dataset exposes file_paths
        file_paths = ["a/1.png"]

    assert input_files(DirIter()) == ["a/1.png", "b/2.png"]
    assert input_files(TfDs()) == ["a/1.png"]
    assert input_files(np.zeros(3)) is None and input_files(None) is None


def test_early_stopping_settings_are_read_from_the_callbacks() -> None:
    from convergent.training._inject.hook import early_stopping_facts

    es = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=0, mode="min",
                                       restore_best_weights=True)
    assert early_stopping_facts([keras.callbacks.History(), es]) == {
        "patience": 0, "monitor": "val_accuracy", "mode": "min",
        "restore_best_weights": True}
    assert early_stopping_facts([keras.callbacks.History()]) is None
    assert early_stopping_facts(None) is None


def test_minor_image_audit_items_are_set_aside_not_reported() -> None:
    from convergent.findings import Finding, Severity
    from convergent.training._inject.hook import _set_aside_minor
    from convergent.training.run import build_report

    def f(code: str, sev: Severity) -> Finding:
        return Finding(code, sev, 0.9, code, "", {"files": ["a.png"]})

    found = [f("DATA_LABEL_NOISE", Severity.INFO), f("DATA_LEAKAGE", Severity.WARNING),
             f("DATA_IMBALANCE", Severity.INFO), f("DATA_OUTLIER", Severity.INFO),
             f("DATA_DUPLICATES", Severity.WARNING),
             Finding("DATA_DUPLICATES", Severity.WARNING, 0.9, "", "",
                     {"different_labels": 3})]
    record: dict = {"index": 1}
    kept = _set_aside_minor(found, record)
    # a share <= 1 % cannot stop convergence, nor can copies that agree on their label;
    # warnings, copies with two labels and class-level advice stay
    assert [k.code.value for k in kept] == ["DATA_LEAKAGE", "DATA_IMBALANCE", "DATA_DUPLICATES"]
    assert kept[-1].evidence["different_labels"] == 3
    assert [d["code"] for d in record["data_audit"]] == ["DATA_LABEL_NOISE", "DATA_OUTLIER",
                                                        "DATA_DUPLICATES"]
    result = {"returncode": 0, "status": "finished", "seconds": 1.0, "stderr_tail": ""}
    r = build_report(["python", "t.py"], result,
                     [{"fits": [dict(record, status="done",
                                     pre_fit=[k.to_dict() for k in kept])]}])
    assert "DATA_LABEL_NOISE" not in r.codes and "DATA_LEAKAGE" in r.codes
    assert len(r.metrics["data_audit"]) == 3 and "3 minor" in r.metrics["summary"]["data_audit"]


def test_unfreezing_after_compile_without_recompiling_is_found() -> None:
    import keras

    from convergent.training._inject.hook import _trainable_since_compile

    base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu")])
    model = keras.Sequential([base, keras.layers.Dense(2, activation="softmax")])
    base.trainable = False
    model.compile("adam", "sparse_categorical_crossentropy")
    x, y = np.zeros((8, 4), "float32"), np.zeros(8, "int64")
    assert _trainable_since_compile(model) == []  # first fit: nothing to compare
    model.fit(x, y, epochs=1, verbose=0)
    base.trainable = True  # no compile(): the traced step keeps the old variables
    found = _trainable_since_compile(model)
    if keras.backend.backend() == "torch":
        assert found == []
        return
    assert [f.code.value for f in found] == ["MODEL_FROZEN"] and found[0].evidence["unfrozen"]
    model.fit(x, y, epochs=1, verbose=0)
    base.trainable = False
    model.compile("adam", "sparse_categorical_crossentropy")  # changed and recompiled: fine
    assert _trainable_since_compile(model) == []


def test_a_model_built_by_fit_is_linted_after_its_first_step() -> None:
    import keras

    from convergent.training._inject.hook import _late_lint, _lint

    class Sigmoids(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = [keras.layers.Dense(16, activation="sigmoid") for _ in range(7)]
            self.head = keras.layers.Dense(3, activation="softmax")

        def call(self, x):
            for b in self.blocks:
                x = b(x)
            return self.head(x)

    model = Sigmoids()
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, y = np.zeros((16, 4), "float32"), np.arange(16) % 3
    record: dict = {"notes": []}
    facts = {"n_classes": 3}
    assert _lint(model, {"x": x, "y": y}, facts, record) == []  # not built yet: later
    late = _late_lint(model, {"x": x, "y": y}, facts, record, None)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=late)
    assert "MODEL_SATURATING_ACTIVATION" in [d["code"] for d in record["pre_fit"]]
    assert any("built by fit" in n for n in record["notes"])
