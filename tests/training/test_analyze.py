"""`analyze` reads CSVLogger, History JSON and TensorBoard logs into the curve checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convergent.errors import BadInputError
from convergent.training.analyze import analyze

OVERFIT = {"loss": [2.0, 1.2, 0.8, 0.5, 0.3, 0.2, 0.1],
           "val_loss": [2.0, 1.3, 1.0, 1.05, 1.2, 1.4, 1.6],
           "accuracy": [0.3, 0.6, 0.75, 0.85, 0.92, 0.96, 0.99],
           "val_accuracy": [0.3, 0.55, 0.62, 0.62, 0.61, 0.6, 0.6]}


def write_csv(p: Path, h: dict) -> Path:
    keys = list(h)
    lines = ["epoch," + ",".join(keys)]
    lines += [f"{i}," + ",".join(str(h[k][i]) for k in keys) for i in range(len(h["loss"]))]
    p.write_text("\n".join(lines) + "\n")
    return p


def test_analyze_csvlogger_finds_overfitting(tmp_path: Path) -> None:
    r = analyze(write_csv(tmp_path / "training.log", OVERFIT))
    assert "TRAIN_OVERFITTING" in r.codes
    assert r.metrics["finding_epochs"]["TRAIN_OVERFITTING"] == 3
    assert r.metrics["summary"]["source"] == "csvlogger" and r.command == "analyze"


def test_analyze_history_json_healthy(tmp_path: Path) -> None:
    h = {"loss": [2.3, 1.0, 0.6, 0.5, 0.45, 0.44, 0.44, 0.44],
         "val_loss": [2.2, 1.0, 0.65, 0.55, 0.5, 0.5, 0.5, 0.5]}
    p = tmp_path / "history.json"
    p.write_text(json.dumps(h))
    r = analyze(p)
    assert r.healthy and "TRAIN_OVERFITTING" not in r.codes
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"history": OVERFIT}))
    assert "TRAIN_OVERFITTING" in analyze(wrapped).codes


def test_analyze_tensorboard_dir(tmp_path: Path) -> None:
    tf = pytest.importorskip("tensorflow")
    for sub, prefix in (("train", ""), ("validation", "val_")):
        w = tf.summary.create_file_writer(str(tmp_path / "logs" / sub))
        with w.as_default():
            for i in range(len(OVERFIT["loss"])):
                # tf.summary.write: the op tf.summary.scalar ends in (it needs tensorboard)
                tf.summary.write("epoch_loss", OVERFIT[prefix + "loss"][i], step=i)
                tf.summary.write("epoch_accuracy", OVERFIT[prefix + "accuracy"][i], step=i)
        w.close()
    r = analyze(tmp_path / "logs")
    assert r.metrics["history"]["val_loss"] == pytest.approx(OVERFIT["val_loss"])
    assert "TRAIN_OVERFITTING" in r.codes and r.metrics["summary"]["source"] == "tensorboard"


@pytest.mark.parametrize("content,match", [
    ("", "no rows"), ("epoch,accuracy\n0,0.5\n", "no loss curve"), ("{bad json", "not valid"),
    ('{"loss": 3}', "not a History JSON")], ids=["empty", "no-loss", "bad-json", "not-lists"])
def test_analyze_bad_input(tmp_path: Path, content: str, match: str) -> None:
    p = tmp_path / ("log.json" if content.startswith("{") else "log.csv")
    p.write_text(content)
    with pytest.raises(BadInputError, match=match):
        analyze(p)


def test_analyze_missing_path_and_empty_dir(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="no such file"):
        analyze(tmp_path / "nope.csv")
    with pytest.raises(BadInputError, match="no TensorBoard event files"):
        analyze(tmp_path)
