"""`convergent run` end to end on tiny scripts written in tmp_path."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from convergent.errors import BadInputError
from convergent.training.run import run_script

PY = sys.executable

FITS = """
import os, sys
import numpy as np
import tensorflow as tf
from tensorflow import keras            # the tf.keras import route
from tensorflow.keras import layers

keras.utils.set_random_seed(7)
rng = np.random.default_rng(0)
y = rng.integers(0, 3, 240)
x = (rng.normal(0, 1, (3, 6, 6, 1))[y] + 0.5 * rng.normal(0, 1, (240, 6, 6, 1))).astype("float32")
m = keras.Sequential([keras.Input((6, 6, 1)), layers.Flatten(), layers.Dropout(0.5),
                      layers.Dense(16, activation="relu"), layers.Dense(3, activation="softmax")])
m.compile(optimizer=keras.optimizers.Adam(float(sys.argv[2])),
          loss="sparse_categorical_crossentropy", metrics=["accuracy"])
m.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0)
ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(240).batch(16)   # reshuffles
m.fit(ds, epochs=2, verbose=0)
mapped = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(240).map(lambda a, b: (a * 0.5, b))
m.fit(mapped.batch(16), epochs=1, verbose=0)   # a map stage: replayed on a sample, not iterated
np.save(sys.argv[1], np.concatenate([w.ravel() for w in m.get_weights()]))

# a third fit crashes: 5 label values for a 3-unit output
m.fit(x, np.arange(240) % 5, epochs=1, verbose=0)
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_run_fits_crash_and_identical_weights(tmp_path: Path) -> None:
    """Four fits (arrays, shuffled tf.data, a mapped one, then a crash): same weights as a
    plain run."""
    import subprocess

    script = write(tmp_path, "train.py", FITS)
    plain, watched = tmp_path / "plain.npy", tmp_path / "watched.npy"
    done = subprocess.run([PY, str(script), str(plain), "1e-3"], capture_output=True, check=False)
    assert done.returncode != 0 and plain.exists()
    r = run_script([PY, str(script), str(watched), "1e-3"], quiet=True)
    np.testing.assert_array_equal(np.load(plain), np.load(watched))
    s = r.metrics["summary"]
    assert s["status"] == "crashed" and s["fits"] == 4 and s["returncode"] != 0
    assert "in model.fit" in s["note"]
    fits = r.metrics["fits"]
    assert [f["status"] for f in fits] == ["done", "done", "done", "crashed"]
    assert fits[0]["summary"]["probe"] == "on" and fits[0]["facts"]["n_val"] == 60
    assert fits[1]["input"]["kind"] == "tf.data"
    # read at its from_tensor_slices source, never iterated (that would reorder it)
    assert any("source" in n and "not iterated" in n for n in fits[1]["notes"])
    assert fits[1]["facts"]["batch_size"] == 16 and fits[1]["facts"]["n_train"] == 240
    assert len(fits[0]["history"]["loss"]) == 3 and len(fits[1]["history"]["loss"]) == 2
    assert any("replayed" in n for n in fits[2]["notes"])
    assert "Traceback" in fits[3]["exception"]["traceback"]
    assert "Traceback" in r.metrics["script"]["exception"]["traceback"]
    assert not any(f.code.value.startswith("TRAIN_") and f.severity.value == "error"
                   for f in r.findings), r.codes
    try:
        import convergent.model.crash  # noqa: F401
    except ImportError:
        return
    crash = next(f for f in r.findings if f.code.value == "MODEL_OUTPUT_UNITS")
    assert crash.evidence["fit"] == 4


def test_run_script_without_fit(tmp_path: Path) -> None:
    script = write(tmp_path, "nofit.py", "print('hello')\n")
    r = run_script([PY, str(script)], quiet=True)
    assert r.metrics["summary"]["status"] == "finished" and r.metrics["summary"]["fits"] == 0
    assert "never called model.fit" in r.metrics["summary"]["note"]
    assert r.findings == []


def test_run_script_failing_before_fit(tmp_path: Path) -> None:
    script = write(tmp_path, "bad.py", "raise SystemExit('no data folder')\n")
    r = run_script([PY, str(script)], quiet=True)
    assert r.metrics["summary"]["status"] == "crashed"
    assert "before model.fit" in r.metrics["summary"]["note"]
    assert "no data folder" in r.metrics["script"]["stderr_tail"]


def test_run_not_python_and_missing_program(tmp_path: Path) -> None:
    r = run_script(["sh", "-c", "echo not python; exit 3"], quiet=True)
    assert r.metrics["summary"]["returncode"] == 3
    assert "no Python process" in r.metrics["summary"]["note"]
    with pytest.raises(BadInputError, match="cannot find the program"):
        run_script(["no-such-program-xyz"])
    with pytest.raises(BadInputError, match="after --"):
        run_script([])
    script = write(tmp_path, "train.py", "print('trained')\n")  # the script, no interpreter
    with pytest.raises(BadInputError, match="convergent run -- python .*train.py --epochs 2"):
        run_script([str(script), "--epochs", "2"])


def test_run_budget_stops_the_script(tmp_path: Path) -> None:
    script = write(tmp_path, "slow.py", "import time\ntime.sleep(60)\n")
    r = run_script([PY, str(script)], budget=1.0, quiet=True)
    assert r.metrics["summary"]["status"] == "budget"
    assert r.metrics["summary"]["seconds"] < 20


DIVERGES = """
import numpy as np
import keras
keras.utils.set_random_seed(1)
rng = np.random.default_rng(0)
y = rng.integers(0, 3, 192)
x = (rng.normal(0, 1, (3, 16))[y] + 0.5 * rng.normal(0, 1, (192, 16))).astype("float32")
m = keras.Sequential([keras.Input((16,)), keras.layers.Dense(16, activation="relu"),
                      keras.layers.Dense(3, activation="softmax")])
m.compile(optimizer=keras.optimizers.Adam(50.0), loss="sparse_categorical_crossentropy",
          metrics=["accuracy"])
m.fit(x, y, epochs=3, batch_size=16, verbose=0)
"""


def test_run_repair_lowers_the_learning_rate(tmp_path: Path) -> None:
    r = run_script([PY, str(write(tmp_path, "lr.py", DIVERGES))], repair=True, quiet=True)
    steps = r.metrics["repair"]["steps"]
    assert steps[0]["remedy"] == "lower_lr" and "TRAIN_LR_TOO_HIGH" in steps[0]["for"]
    assert steps[-1]["after"]["loss"] < steps[0]["before"]["loss"]
    # the report explains the script as written; what the repair left is listed apart
    assert "TRAIN_LR_TOO_HIGH" in r.codes
    remaining = r.metrics["repair"]["remaining"]
    assert "TRAIN_LR_TOO_HIGH" not in remaining and "TRAIN_DIVERGED" not in remaining
    assert "lower_lr" in r.metrics["summary"]["repaired"]
    assert all(s["history"]["loss"] for s in steps)  # each step's curves, for the report


def test_the_script_change_is_the_kept_fits_not_the_undone_steps() -> None:
    from convergent.training.run import build_report

    steps = [{"remedy": "lower_lr", "code": "Adam(1e-3)", "for": ["TRAIN_LR_TOO_HIGH"]},
             {"remedy": "leaky_relu", "code": "LeakyReLU()", "for": ["TRAIN_DYING_RELU"]}]
    fit = {"index": 1, "status": "done", "history": {"loss": [2.3, 1.0]},
           "repair": {"steps": steps, "kept": 1, "healthy": True, "remaining": [],
                      "code": "Adam(1e-3)"}}
    r = build_report(["python", "t.py"], {"returncode": 0, "status": "finished", "seconds": 1.0,
                                          "stderr_tail": ""},
                     [{"fits": [fit]}])
    assert r.metrics["repair"]["code"] == "Adam(1e-3)"          # leaky_relu was undone
    assert r.metrics["summary"]["repaired"] == "lower_lr"
    assert [s["remedy"] for s in r.metrics["repair"]["steps"]] == ["lower_lr", "leaky_relu"]
