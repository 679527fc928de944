"""The repair loop turns a deliberately broken recipe into a healthy one."""

from convergent.findings import Code, Finding, Severity
from convergent.remedies.catalog import remedies_for
from convergent.trainer.data import build_data
from convergent.trainer.recipe import default_recipe
from convergent.trainer.repair import choose, render_diff, repair


def test_lr_10_is_repaired_to_healthy(digits_small):
    x, y, _ = digits_small
    broken = default_recipe(10, (8, 8, 1), 240).with_(
        compile={"optimizer": "sgd", "learning_rate": 10.0}, model={"batchnorm": False},
        fit={"epochs": 8, "batch_size": 16})
    data = build_data(broken, arrays=(x, y, None, None))
    res = repair(broken, data, budget_s=60, trials=1)
    assert res.healthy, res.steps
    assert res.steps and res.steps[-1]["kept"]
    assert res.best.val_accuracy > 0.6 > res.steps[0]["before"]["val_accuracy"]
    assert "learning_rate" in res.diff and res.metrics()["steps"][0]["code"]


def test_choose_skips_info_and_tried_remedies():
    f = [Finding(Code.TRAIN_LR_TOO_HIGH, Severity.ERROR, 0.9, "t", "e", {},
                 remedies_for(Code.TRAIN_LR_TOO_HIGH, "lower_lr")),
         Finding(Code.TRAIN_BATCH_SIZE, Severity.INFO, 0.9, "t", "e", {},
                 remedies_for(Code.TRAIN_BATCH_SIZE))]
    assert choose(f, {})[1] == "lower_lr"
    assert choose(f, {"lower_lr": 1})[1] == "lr_range_test"
    assert choose(f[1:], {}) is None


def test_diff_shows_settings_and_code():
    r = default_recipe(10, (8, 8, 1), 240)
    text = render_diff(r, r.with_(data={"input_scale": "none"}), ["rescale"])
    assert "- data.input_scale = 'rescale'" in text and "+ layers.Rescaling" in text
