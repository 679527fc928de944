"""Training a recipe; an interrupted run resumes from its BackupAndRestore checkpoint."""

import pytest

from convergent.trainer.data import build_data
from convergent.trainer.recipe import default_recipe
from convergent.trainer.train import out_of_time, train


def test_interrupted_fit_resumes_from_the_backup(digits_small, tmp_path):
    import keras

    x, y, _ = digits_small
    r = default_recipe(10, (8, 8, 1), 240).with_(fit={"epochs": 4,
                                                      "early_stopping_patience": 0})
    data = build_data(r, arrays=(x, y, None, None))

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        train(r, data, backup_dir=tmp_path / "backup", callbacks=[Interrupt()])
    assert any((tmp_path / "backup").iterdir())
    resumed = train(r, data, backup_dir=tmp_path / "backup")
    assert resumed.epochs_run == 2  # epochs 3 and 4 only: 1 and 2 came from the checkpoint


def test_time_budget_stops_training(digits_small):
    x, y, _ = digits_small
    r = default_recipe(10, (8, 8, 1), 240).with_(fit={"epochs": 50})
    t = train(r, build_data(r, arrays=(x, y, None, None)), budget_s=0.5)
    assert t.stopped_by_budget and t.epochs_run < 50


@pytest.mark.parametrize(("spent", "last", "done", "stop"), [
    (8.0, 3.0, 3, True), (6.0, 3.0, 3, False), (6.0, 5.0, 1, False), (10.5, 1.0, 1, True)],
    ids=["next-epoch-would-overrun", "next-epoch-fits", "first-epoch-not-a-predictor",
         "spent"])
def test_out_of_time_stops_before_an_epoch_that_would_overrun(spent, last, done, stop):
    assert out_of_time(spent, last, done, seconds=10.0) is stop


def test_training_after_an_in_place_sweep_equals_training_a_fresh_model(digits_small):
    from convergent.trainer.lr_range import range_test, sweep_model

    x, y, _ = digits_small
    # unshuffled: the sweep draws batches from the same reshuffling pipeline, so with a
    # shuffle the training would see another (equally random) order than a fresh run's
    r = default_recipe(10, (8, 8, 1), 240).with_(fit={"epochs": 2}, data={"shuffle": False})
    data = build_data(r, arrays=(x, y, None, None))
    model = sweep_model(r, data)
    range_test(r, data, model=model)
    reused = train(r, data, model=model)
    fresh = train(r, data)  # the independent reference: its own model, its own trace
    assert reused.history["loss"] == pytest.approx(fresh.history["loss"], rel=1e-4)
    assert reused.val_accuracy == pytest.approx(fresh.val_accuracy, abs=1e-6)


def test_a_run_on_the_swept_model_resumes_after_an_interruption(digits_small, tmp_path):
    import keras

    from convergent.trainer.lr_range import range_test, sweep_model

    x, y, _ = digits_small
    r = default_recipe(10, (8, 8, 1), 240).with_(fit={"epochs": 4,
                                                      "early_stopping_patience": 0})
    data = build_data(r, arrays=(x, y, None, None))
    model = sweep_model(r, data)
    range_test(r, data, model=model)

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        train(r, data, backup_dir=tmp_path / "backup", callbacks=[Interrupt()], model=model)
    # fit resumes on a newly built model (no range test): the checkpoint must fit it
    resumed = train(r, data, backup_dir=tmp_path / "backup")
    assert resumed.epochs_run == 2


@pytest.mark.parametrize(("spent", "expected"), [(8.0, 5), (14.0, 3), (16.0, 3)],
                         ids=["two-more", "none-more", "overspent"])
def test_epochs_in_time_counts_epochs_as_long_as_the_last(spent, expected):
    from convergent.trainer.train import epochs_in_time

    assert epochs_in_time(spent, last_epoch_s=3.0, epochs_done=3, seconds=15.0) == expected


def test_a_short_budget_shortens_the_schedule_so_it_ends_annealed(digits_small, monkeypatch):
    from keras import ops

    from convergent.trainer import train as train_module
    from convergent.trainer.lr_range import sweep_model

    class Clock:  # every reading one second later: each epoch "takes" 1 s
        now = 0.0

        def perf_counter(self):
            self.now += 1.0
            return self.now

    x, y, _ = digits_small
    r = default_recipe(10, (8, 8, 1), 240).with_(fit={"epochs": 50,
                                                      "early_stopping_patience": 0})
    data = build_data(r, arrays=(x, y, None, None))
    model = sweep_model(r, data)
    monkeypatch.setattr(train_module, "time", Clock())
    t = train(r, data, budget_s=6.0, model=model)
    # after epoch 2 (2 s spent, 1 s an epoch) 4 more fit: the 50-epoch one-cycle ends at 6
    assert t.metrics["schedule_shortened"] == [{"after_epoch": 2, "epochs": 6}]
    assert t.epochs_run == 6 and t.stopped_by_budget
    lr = float(ops.convert_to_numpy(model.optimizer.learning_rate))
    assert lr == pytest.approx(1e-3 / 25 ** 2, rel=1e-3)  # at the cosine's floor
