"""A learning-rate schedule one traced train step can serve twice: LR sweep, then training.

On TensorFlow, ``model.fit`` traces its train step once per model and bakes every Python
number of the optimizer's schedule into the graph. ``Sweepable`` keeps its numbers in
variables instead, so the range test can run on the training model itself (an exponential
sweep while ``sweeping`` is set), and the training run then reuses the same traced step
with the numbers the sweep chose (``retarget``). The schedule it draws is the Keras one
``build.keras_schedule`` makes from the same numbers (one-cycle and cosine are Keras'
``CosineDecay``), so the maths is not written twice. Keras is imported at module level:
import this module lazily.

Example:
    >>> s = Sweepable("onecycle", schedule_numbers(recipe, steps_per_epoch=10))  # doctest: +SKIP
    >>> s.start_sweep(1e-6, 1.5); ...; s.stop_sweep()                            # doctest: +SKIP
    >>> s.retarget(recipe.with_(compile={"learning_rate": 0.01}), 10)            # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from convergent.trainer.build import ONECYCLE_PCT_START, keras_schedule, schedule_numbers
from convergent.trainer.recipe import Recipe

SCHEDULED = ("cosine", "onecycle")


@keras.saving.register_keras_serializable(package="convergent")
class Sweepable(keras.optimizers.schedules.LearningRateSchedule):
    """The recipe's schedule (``kind`` with ``numbers``), or ``lr_min * rate**step`` while
    a sweep is on; every number lives in a variable, so changing it needs no new trace.

    Args:
        kind: ``"cosine"`` or ``"onecycle"`` (``build.schedule_numbers``). A constant rate
            is not one: Keras keeps a float rate in a variable already, and
            ReduceLROnPlateau must be able to set it.
        numbers: the Keras schedule's arguments for ``kind``.
    """

    def __init__(self, kind: str, numbers: dict[str, float]) -> None:
        super().__init__()
        if kind not in SCHEDULED:
            raise ValueError(f"Sweepable draws one of {SCHEDULED}; received kind={kind!r}")
        self.kind = kind
        self.numbers = {k: keras.Variable(float(v), trainable=False, name=k)
                        for k, v in numbers.items()}
        self._own = keras_schedule(kind, self.numbers)
        self.sweeping = keras.Variable(0.0, trainable=False, name="sweeping")
        self.sweep_from = keras.Variable(1.0, trainable=False, name="sweep_from")
        self.sweep_rate = keras.Variable(1.0, trainable=False, name="sweep_rate")

    def __call__(self, step: Any) -> Any:
        step = ops.cast(step, "float32")
        return ops.cond(self.sweeping > 0.5,
                        lambda: self.sweep_from * ops.power(self.sweep_rate, step),
                        lambda: self._own(step))

    def start_sweep(self, lr_min: float, rate: float) -> None:
        """From now on step ``i`` (of the optimizer's count) gets ``lr_min * rate**i``."""
        self.sweep_from.assign(lr_min)
        self.sweep_rate.assign(rate)
        self.sweeping.assign(1.0)

    def stop_sweep(self) -> None:
        self.sweeping.assign(0.0)

    def retarget(self, recipe: Recipe, steps_per_epoch: int) -> None:
        """Set the numbers to ``recipe``'s (its rate and length); the kind must not change."""
        kind, numbers = schedule_numbers(recipe, steps_per_epoch)
        if kind != self.kind:
            raise ValueError(f"the traced schedule is {self.kind!r}; the recipe asks for "
                             f"{kind!r}: build a new model for it (train(recipe, data))")
        for k, v in numbers.items():
            self.numbers[k].assign(float(v))

    def end_at(self, step: int, total: int) -> bool:
        """Finish the schedule at step ``total`` instead of its planned end (a time budget
        ran short); ``step`` is the current one. The cosine is squeezed into the steps left,
        so the rate still anneals before training stops; a one-cycle warm-up that is not
        over keeps its share of the new length, or ends now when that is past. Returns
        whether anything changed (the schedule is only ever shortened).

        Example:
            >>> s.end_at(step=20, total=40)  # planned 100: warm-up 30 -> 20 # doctest: +SKIP
            True
        """
        n = self.values()
        if self.kind == "cosine":
            if total >= n["decay_steps"]:
                return False
            self.numbers["decay_steps"].assign(float(max(1, total)))
            return True
        warm, planned = n["warmup_steps"], n["warmup_steps"] + n["decay_steps"]
        if total >= planned:
            return False
        if step < warm:
            warm = max(step, int(total * ONECYCLE_PCT_START))
        self.numbers["warmup_steps"].assign(float(warm))
        self.numbers["decay_steps"].assign(float(max(1, total - warm)))
        return True

    def values(self) -> dict[str, float]:
        return {k: float(ops.convert_to_numpy(v)) for k, v in self.numbers.items()}

    def plain(self) -> Any:
        """The Keras schedule drawing the same rates: what a saved model should carry, so it loads without convergent."""
        return keras_schedule(self.kind, self.values())

    def get_config(self) -> dict[str, Any]:
        return {"kind": self.kind, "numbers": self.values()}


def sweepable_of(model: Any) -> Sweepable | None:
    """The model's ``Sweepable``, if its optimizer has one. Keras keeps the schedule object
    in ``optimizer._learning_rate`` (the public ``learning_rate`` gives its current value)."""
    opt = getattr(model, "optimizer", None)
    lr = getattr(opt, "_learning_rate", None)
    return lr if isinstance(lr, Sweepable) else None


def settle(model: Any) -> None:
    """Swap a ``Sweepable`` for the plain Keras schedule it draws, before saving the model.

    The trained weights and the optimizer's state are untouched; only the saved compile
    config changes, to a schedule every Keras install can load.
    """
    s = sweepable_of(model)
    if s is not None:
        model.optimizer.learning_rate = s.plain()
