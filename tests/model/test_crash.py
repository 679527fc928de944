"""Crashes in fit() become the right finding: real Keras 3 errors, TF and torch messages."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from convergent.model.crash import findings_from_exception

# Messages as Keras 3.15 prints them on torch (reproduced in the subprocess test below).
TORCH = {
    "Arguments `target` and `output` must have the same shape. Received: target.shape="
    "torch.Size([32, 3]), output.shape=torch.Size([32, 5])": "MODEL_OUTPUT_UNITS",
    "Arguments `target` and `output` must have the same shape. Received: target.shape="
    "torch.Size([32]), output.shape=torch.Size([32, 3])": "MODEL_LOSS_MISMATCH",
    "Arguments `target` and `output` must have the same shape up until the last dimension: "
    "target.shape=torch.Size([32, 3]), output.shape=torch.Size([32, 3])": "MODEL_LOSS_MISMATCH",
    "Target 2 is out of bounds.": "MODEL_OUTPUT_UNITS",
}


@pytest.mark.parametrize("msg, code", list(TORCH.items()), ids=list(range(len(TORCH))))
def test_torch_messages(msg: str, code: str) -> None:
    assert [f.code.value for f in findings_from_exception(msg)] == [code]


def test_unknown_crash_gives_nothing() -> None:
    assert findings_from_exception(RuntimeError("disk full")) == []


def _fit_error(K, units: int, loss: str, x, y, act: str = "softmax", conv: bool = False):
    layers = [K.Input((8, 8, 1))] + ([K.layers.Conv2D(4, 3, activation="relu")] if conv
                                      else []) + [K.layers.Flatten(), K.layers.Dense(units,
                                                                                     act)]
    m = K.Sequential(layers)
    m.compile("adam", loss)
    with pytest.raises(Exception) as info:
        m.fit(x, y, epochs=1, verbose=0, batch_size=32)
    return m, info.value


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.random((64, 8, 8, 1)).astype("float32"), rng.integers(0, 3, 64)


def test_real_tensorflow_crashes(K, data) -> None:
    x, y = data
    oh = np.eye(3)[y]
    cases = [
        (5, "categorical_crossentropy", x, oh, {}, "MODEL_OUTPUT_UNITS"),
        (3, "categorical_crossentropy", x, y, {}, "MODEL_LOSS_MISMATCH"),
        (3, "sparse_categorical_crossentropy", x, oh, {}, "MODEL_LOSS_MISMATCH"),
        (2, "sparse_categorical_crossentropy", x, y, {}, "MODEL_OUTPUT_UNITS"),
        (3, "sparse_categorical_crossentropy", np.repeat(x, 3, -1), y, {"conv": True},
         "DATA_GRAYSCALE_AS_RGB"),
        (3, "sparse_categorical_crossentropy", np.zeros((64, 10, 10, 1), "float32"), y, {},
         "DATA_ODD_SIZE"),
        (3, "sparse_categorical_crossentropy", x, y[:50], {}, "DATA_LABELS_MISALIGNED"),
    ]
    for units, loss, xx, yy, kw, code in cases:
        m, exc = _fit_error(K, units, loss, xx, yy, **kw)
        got = findings_from_exception(exc, model=m)
        assert [f.code.value for f in got] == [code], (code, str(exc)[:300])
        assert got[0].severity.value == "error" and got[0].remedies


BACKEND_SCRIPT = textwrap.dedent("""
    import json, numpy as np, keras
    from convergent.model.crash import findings_from_exception
    from convergent.model.lint import lint
    rng = np.random.default_rng(0)
    x = rng.random((64, 8, 8, 1)).astype("float32"); y = rng.integers(0, 3, 64)
    oh = np.eye(3)[y]
    def model(units, loss, act="softmax"):
        m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(units, activation=act)])
        m.compile("adam", loss)
        return m
    out = {"backend": keras.backend.backend(), "crash": []}
    for units, loss, yy in [(5, "categorical_crossentropy", oh),
                            (3, "categorical_crossentropy", y),
                            (3, "sparse_categorical_crossentropy", oh),
                            (2, "sparse_categorical_crossentropy", y)]:
        m = model(units, loss)
        try:
            m.fit(x, yy, epochs=1, verbose=0)
            out["crash"].append(None)
        except Exception as e:
            out["crash"].append([f.code.value for f in findings_from_exception(e, m)])
    out["too_few_units_lint"] = [g.code.value for g in lint(
        model(2, "sparse_categorical_crossentropy"), y=y).findings]
    m = model(3, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    f = lint(m, y=y).findings
    out["softmax_logits"] = [(g.code.value, g.severity.value) for g in f]
    print(json.dumps(out))
""")


@pytest.mark.slow
def test_torch_and_jax_crashes_and_double_softmax(on_backend, backend) -> None:
    res = on_backend(BACKEND_SCRIPT, backend, timeout=300)
    # JAX does not raise on a label beyond the last output unit (its one-hot of such a
    # label is all zeros, and training goes on): the lint, given the labels, reports it
    last = None if backend == "jax" else ["MODEL_OUTPUT_UNITS"]
    assert res["crash"] == [["MODEL_OUTPUT_UNITS"], ["MODEL_LOSS_MISMATCH"],
                            ["MODEL_LOSS_MISMATCH"], last]
    assert "MODEL_OUTPUT_UNITS" in res["too_few_units_lint"]
    # on torch and JAX the loss applies softmax twice: a warning, not TF's silent correction
    assert ["MODEL_OUTPUT_ACTIVATION", "warning"] in res["softmax_logits"]


def _png(path, size=(8, 8)):
    from PIL import Image

    Image.new("L", size, 128).save(path)
    return str(path)


@pytest.mark.parametrize("message", [
    "UnknownError: Graph execution error: UnidentifiedImageError: cannot identify image file "
    "<_io.BytesIO object at 0x7f>",
    "InvalidArgumentError: Graph execution error: Invalid PNG data, size 60",
    "InvalidArgumentError: Unknown image file format. One of JPEG, PNG, GIF, BMP required."],
    ids=["pil", "tf-png", "tf-format"])
def test_decode_crash_lists_the_undecodable_files(tmp_path, message):
    good = [_png(tmp_path / f"a{i}.png") for i in range(3)]
    (tmp_path / "b").mkdir()
    html = tmp_path / "b" / "page.jpg"
    html.write_text("<html>404</html>")
    cut = tmp_path / "b" / "cut.png"
    cut.write_bytes(open(good[0], "rb").read()[:40])
    (tmp_path / "b" / "empty.png").write_bytes(b"")
    files = good + [str(html), str(cut), str(tmp_path / "b" / "empty.png")]
    (f,) = findings_from_exception(message, files=files)
    assert f.code.value == "DATA_CORRUPT"
    assert sorted(f.evidence["files"]) == ["b/cut.png", "b/empty.png", "b/page.jpg"]
    assert f.evidence["checked"] == 6 and f.evidence["n"] == 3


def test_decode_crash_without_a_file_list_still_names_the_cause():
    (f,) = findings_from_exception("Invalid JPEG data or crop window, data size 10")
    assert f.code.value == "DATA_CORRUPT" and "convergent scan" in f.explanation


def test_other_crashes_are_not_called_corrupt(tmp_path):
    files = [_png(tmp_path / "a.png")]
    found = findings_from_exception("Target 7 is out of bounds.", files=files)
    assert [x.code.value for x in found] == ["MODEL_OUTPUT_UNITS"]
    assert findings_from_exception("ValueError: something else entirely", files=files) == []
