"""`fit` end to end on a tiny digits folder."""

import json
import zipfile

import pytest

from convergent.errors import BadInputError
from convergent.trainer.fit import epochs_for, fit
from tests.trainer.conftest import snapshot


def test_fit_trains_saves_and_leaves_the_data_alone(digits_folder, tmp_path):
    before = snapshot(digits_folder)
    report = fit(digits_folder, out=tmp_path / "out", epochs=10, progress=False)
    m = report.metrics
    # 10 classes (chance 0.1), 240 training images, 10 epochs: clearly learning
    assert m["fit"]["val_accuracy"] > 0.3
    assert (tmp_path / "out" / "model.keras").exists()
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["command"] == "fit" and saved["metrics"]["history"]["loss"]
    assert m["lr_range"]["suggested"] and m["recipe"]["compile"]["optimizer"] == "adamw"
    assert snapshot(digits_folder) == before
    # trained on a Sweepable schedule, saved with the plain Keras one: loads without convergent
    with zipfile.ZipFile(tmp_path / "out" / "model.keras") as z:
        lr = json.loads(z.read("config.json"))["compile_config"]["optimizer"]["config"][
            "learning_rate"]
    assert lr["class_name"] == "CosineDecay" and lr["module"].startswith("keras")


def test_out_inside_the_data_folder_is_refused(digits_folder):
    with pytest.raises(BadInputError, match="inside the data folder"):
        fit(digits_folder, out=digits_folder / "out")


def test_epochs_for_charges_the_training_runs_set_up_once():
    class Data:
        steps_per_epoch = 10

    # epoch 10 * 0.1 * 1.1 = 1.1 s; 20 s * 0.85 = 17 s: 15 epochs, 14 after 1 x 1 s set-up
    # (the sweep's model reused), 13 after 2 x 1 s (a new model traces its train step too)
    assert epochs_for(20.0, 0.1, Data(), most=30) == 15
    assert epochs_for(20.0, 0.1, Data(), most=30, setup_seconds=1.0) == 14
    assert epochs_for(20.0, 0.1, Data(), most=30, setup_seconds=1.0, setup_factor=2.0) == 13
    assert epochs_for(20.0, 0.1, Data(), most=10, setup_seconds=1.0) == 10
    assert epochs_for(0.5, 0.1, Data(), most=10) == 3  # MIN_EPOCHS
