"""Train one Recipe: build, compile, fit with its callbacks inside a time budget.

Example:
    >>> result = train(recipe, data, backup_dir="out/backup", budget_s=60)   # doctest: +SKIP
    >>> result.val_accuracy, result.history["loss"][-1]                        # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from convergent.trainer.build import build_callbacks, build_model, compile_model
from convergent.trainer.data import Data
from convergent.trainer.recipe import Recipe


@dataclass
class Trained:
    """A trained model with its history and the numbers the report needs."""

    model: Any
    history: dict[str, list[float]]
    seconds: float
    epochs_run: int
    stopped_by_budget: bool = False
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def val_accuracy(self) -> float:
        """Validation accuracy of the model as kept (early stopping restores the best)."""
        if "val_accuracy" in self.metrics:
            return float(self.metrics["val_accuracy"])
        return _best(self.history.get("val_accuracy") or self.history.get("accuracy") or [])

    @property
    def diverged(self) -> bool:
        return any(not math.isfinite(v) for v in self.history.get("loss", []))

    def summary(self) -> dict[str, Any]:
        h = self.history
        last = {k: (round(v[-1], 4) if v and math.isfinite(v[-1]) else None)
                for k, v in h.items() if k in ("loss", "accuracy", "val_loss", "val_accuracy")}
        return {"val_accuracy": round(self.val_accuracy, 4), "epochs": self.epochs_run,
                "seconds": round(self.seconds, 2), "diverged": self.diverged, "last": last}


def _best(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return max(finite) if finite else 0.0


def out_of_time(spent: float, last_epoch_s: float, epochs_done: int, seconds: float) -> bool:
    """Stop now: ``seconds`` are spent, or one more epoch as long as the last would overrun
    them (the first epoch carries the tracing, so it does not predict the next).

    Example:
        >>> out_of_time(spent=8.0, last_epoch_s=3.0, epochs_done=3, seconds=10.0)
        True
    """
    return spent > seconds or (epochs_done > 1 and spent + last_epoch_s > seconds)


def epochs_in_time(spent: float, last_epoch_s: float, epochs_done: int, seconds: float) -> int:
    """How many epochs the run will have made when ``seconds`` are spent, if each further
    epoch lasts as long as the last one (the predictor ``out_of_time`` uses).

    Example:
        >>> epochs_in_time(spent=8.0, last_epoch_s=3.0, epochs_done=3, seconds=15.0)
        5
    """
    return epochs_done + max(0, int((seconds - spent) / max(last_epoch_s, 1e-9)))


def _time_budget(seconds: float, schedule: Any = None, steps_per_epoch: int = 0,
                 planned_epochs: int = 0) -> Any:
    """A callback that stops training when ``seconds`` ran out, or at the end of an epoch
    after which another epoch as long as the last one would overrun them. The first epoch
    (it carries the tracing) is not used to predict the next.

    With a ``schedule.Sweepable`` it also follows the clock: when fewer than
    ``planned_epochs`` will fit, the schedule is shortened to end with the last epoch that
    does (``Sweepable.end_at``), so the rate anneals before the budget stops the run
    instead of stopping it at a high rate; and the run stops where the schedule ends.
    """
    import keras

    class TimeBudget(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.hit = False

        def on_train_begin(self, logs: dict | None = None) -> None:
            self.start = time.perf_counter()
            self.last = self.start
            self.epochs = 0
            self.hit = False
            self.times: list[float] = []
            self.end = planned_epochs
            self.shortened: list[dict[str, int]] = []

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            now = time.perf_counter()
            epoch_s, self.last = now - self.last, now
            self.times.append(epoch_s)
            self.epochs += 1
            if out_of_time(now - self.start, epoch_s, self.epochs, seconds):
                self.hit = True
                self.model.stop_training = True
                return
            if schedule is None or self.epochs < 2:
                return
            if self.epochs >= self.end:  # the shortened schedule is over
                self.hit = True
                self.model.stop_training = True
                return
            fit_in = epochs_in_time(now - self.start, epoch_s, self.epochs, seconds)
            if fit_in < self.end:
                step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
                if schedule.end_at(step, step + (fit_in - self.epochs) * steps_per_epoch):
                    self.end = fit_in
                    self.shortened.append({"after_epoch": self.epochs, "epochs": fit_in})

    return TimeBudget()


def train(recipe: Recipe, data: Data, backup_dir: str | Path | None = None,
          budget_s: float | None = None, seed: int = 0, verbose: int = 0,
          callbacks: Sequence[Any] = (), epochs: int | None = None, model: Any = None
          ) -> Trained:
    """Build, compile and fit ``recipe`` on ``data``.

    Args:
        recipe: the Recipe.
        data: from ``build_data``.
        backup_dir: a BackupAndRestore folder: an interrupted call resumes from it.
        budget_s: stop after the epoch in which this many seconds have passed.
        seed: seeds Keras, NumPy and Python's RNGs first.
        verbose: Keras fit verbosity.
        callbacks: extra callbacks (e.g. an Optuna pruning callback).
        epochs: override ``recipe.fit.epochs`` (the schedule still spans the recipe's).
        model: a model from ``lr_range.sweep_model`` that the range test already ran on
            (and restored): its schedule is set to ``recipe``'s rate and length and its
            traced train step is reused. Default: build and compile a new one.
    """
    import keras

    from convergent.trainer.schedule import sweepable_of

    keras.utils.set_random_seed(seed)
    if model is None:
        model = build_model(recipe, data)
        compile_model(model, recipe, data.steps_per_epoch)
    else:
        schedule = sweepable_of(model)
        if schedule is None:
            raise ValueError("train(model=...) takes a model from lr_range.sweep_model; "
                             "received one without a Sweepable schedule (pass model=None "
                             "to build one)")
        schedule.retarget(recipe, data.steps_per_epoch)
    cbs = build_callbacks(recipe, backup_dir, has_validation=data.val is not None)
    cbs.append(keras.callbacks.TerminateOnNaN())
    budget = _time_budget(budget_s, sweepable_of(model), data.steps_per_epoch,
                          recipe.fit.epochs) if budget_s else None
    if budget is not None:
        cbs.append(budget)
    cbs += list(callbacks)
    if backup_dir is not None:
        Path(backup_dir).mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    hist = model.fit(data.train, validation_data=data.val, epochs=epochs or recipe.fit.epochs,
                     class_weight=data.class_weight, callbacks=cbs, verbose=verbose)
    seconds = time.perf_counter() - t0
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    result = Trained(model, history, seconds, len(history.get("loss", [])),
                     bool(budget and budget.hit))
    if budget is not None:  # each epoch's wall time (the first carries the tracing)
        result.metrics["epoch_seconds"] = [round(t, 3) for t in budget.times]
        result.metrics["schedule_shortened"] = budget.shortened
    if data.val is not None:
        ev = model.evaluate(data.val, verbose=0, return_dict=True)
        acc = float(ev.get("accuracy", 0.0))
        result.metrics.update(val_accuracy=acc if math.isfinite(acc) else 0.0,
                              val_loss=float(ev.get("loss", float("nan"))))
    return result
