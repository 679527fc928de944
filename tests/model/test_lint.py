"""lint() and lint_file(): bad input says what was skipped and why; files and --data."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from convergent.errors import BadInputError
from convergent.model.lint import count_class_folders, lint, lint_file


def test_not_a_model_and_not_built(K) -> None:
    with pytest.raises(BadInputError, match="expected a keras.Model"):
        lint("model.keras")
    m = K.Sequential([K.layers.Flatten(), K.layers.Dense(10, activation="softmax")])
    with pytest.raises(BadInputError, match="not built"):
        lint(m)
    report = lint(m, x=np.zeros((4, 8, 8, 1), "float32"))  # x builds it
    assert report.metrics["model"]["weight_layers"] == 1


def test_not_compiled_lists_skipped_checks(K, make) -> None:
    m = make(K, K.layers.Flatten(), K.layers.Dense(10), compile=False)
    report = lint(m, y=np.arange(10))
    skipped = report.metrics["skipped"]
    assert "compile" in skipped and "output_activation" in skipped
    assert "MODEL_OUTPUT_ACTIVATION" not in report.codes


def test_several_outputs_and_non_image_input(K) -> None:
    inp = K.Input((20,))
    h = K.layers.Dense(16, activation="relu")(inp)
    m = K.Model(inp, [K.layers.Dense(10, activation="softmax")(h), K.layers.Dense(1)(h)])
    m.compile("adam", ["sparse_categorical_crossentropy", "mse"])
    report = lint(m, n_classes=10)
    sk = report.metrics["skipped"]
    assert "outputs" in sk and "input" in sk and "over_pooling" in sk
    assert "2 outputs" in sk["outputs"]


def test_classes_without_labels_checks_units(K, make) -> None:
    m = make(K, K.layers.Flatten(), K.layers.Dense(3, activation="softmax"))
    assert "MODEL_OUTPUT_UNITS" in lint(m, n_classes=5).codes
    assert "output_units" in lint(m).metrics["skipped"]


def test_lint_file_with_data_folder(K, make, tmp_path) -> None:
    for c in ("cat", "dog", "eel"):
        (tmp_path / "data" / c).mkdir(parents=True)
        for i in range(4):
            (tmp_path / "data" / c / f"{i}.png").write_bytes(b"")
    assert count_class_folders(tmp_path / "data") == (3, 12)
    m = make(K, K.layers.Flatten(), K.layers.Dense(5, activation="softmax"))
    path = tmp_path / "m.keras"
    m.save(path)
    report = lint_file(path, data=tmp_path / "data")
    assert report.codes[0] == "MODEL_OUTPUT_UNITS" and report.subject == "m.keras"
    assert report.metrics["n_samples"] == 12
    assert "MODEL_OUTPUT_UNITS" not in lint_file(path, classes=5).codes
    with pytest.raises(BadInputError, match="does not exist"):
        lint_file(tmp_path / "nope.keras")
    with pytest.raises(BadInputError, match="not a directory"):
        lint_file(path, data=tmp_path / "nope")


def test_folder_count_does_not_import_tensorflow(tmp_path) -> None:
    (tmp_path / "a").mkdir()
    code = ("import sys; from convergent.model.lint import count_class_folders; "
            f"count_class_folders({str(tmp_path)!r}); "
            "print('tensorflow' in sys.modules or 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_layer_variables_keras_does_not_track_are_frozen(K) -> None:
    tf = pytest.importorskip("tensorflow")
    if K.backend.backend() != "tensorflow":
        pytest.skip("tf.Variable attributes are a TensorFlow-backend mistake")

    class RawDense(K.layers.Layer):  # keras#16797: tf.Variable in build()
        def __init__(self, units, tracked=False):
            super().__init__()
            self.units, self.tracked = units, tracked

        def build(self, shape):
            if self.tracked:
                self.w = self.add_weight(shape=(shape[-1], self.units))
            else:
                self.w = tf.Variable(tf.random.normal((shape[-1], self.units)), name="w")

        def call(self, x):
            return tf.nn.softmax(tf.matmul(x, self.w))

    raw = K.Sequential([K.Input((16,)), RawDense(10)])
    raw.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    report = lint(raw, y=np.arange(40) % 10)
    assert report.codes == ["MODEL_FROZEN"] and report.findings[0].severity.value == "error"
    assert report.findings[0].evidence["untracked"][0].startswith(raw.layers[0].name + ".w")
    assert report.findings[0].remedies[0].id == "track_weights"
    # alongside tracked Keras weights, and a layer that uses add_weight is fine
    mixed = K.Sequential([K.Input((16,)), K.layers.Dense(16, activation="relu"), RawDense(10)])
    assert "MODEL_FROZEN" in lint(mixed).codes
    ok = K.Sequential([K.Input((16,)), RawDense(10, tracked=True)])
    assert "MODEL_FROZEN" not in lint(ok).codes
