"""Turn a Recipe into Keras objects: the model, the optimizer (with its schedule), callbacks.

Keras is imported inside the functions, so importing this module stays cheap.

Example:
    >>> from convergent.trainer.recipe import default_recipe
    >>> model = build_model(default_recipe(10, (8, 8, 1), 1000))  # doctest: +SKIP
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from convergent.trainer.recipe import MIN_SPATIAL, Recipe

if TYPE_CHECKING:
    import keras

    from convergent.trainer.data import Data

# one-cycle (Smith 2018, "A disciplined approach..."): warm up from max_lr/25 over the
# first 30% of steps, then cosine down to ~0; fastai's fit_one_cycle defaults (div=25,
# pct_start=0.3).
ONECYCLE_DIV = 25.0
ONECYCLE_PCT_START = 0.3
COSINE_ALPHA = 0.01  # cosine floor as a fraction of the peak LR (Loshchilov & Hutter 2017)
# Keras' default BN momentum 0.99 averages the statistics over ~100 steps, too slow for the
# few hundred steps of a small run (validation accuracy lags far behind training); 0.9 is
# PyTorch's default (momentum=0.1 in its convention).
BN_MOMENTUM = 0.9


def build_model(recipe: Recipe, data: Data | None = None) -> keras.Model:
    """The CNN of ``recipe.model`` with the input scaling and augmentation of ``recipe.data``.

    Preprocessing lives inside the model, so the saved ``.keras`` file takes raw images.

    Args:
        recipe: the Recipe.
        data: the built data (needed only for ``input_scale="standardize"``: its train mean
            and variance).
    """
    import keras
    from keras import layers

    m, d = recipe.model, recipe.data
    reg = keras.regularizers.L2(m.l2) if m.l2 > 0 else None
    inputs = keras.Input(shape=tuple(m.input_shape))
    x = inputs
    if d.input_scale == "rescale":
        x = layers.Rescaling(d.rescale_factor, name="rescale")(x)
    elif d.input_scale == "standardize":
        if data is None:
            raise ValueError("input_scale='standardize' needs the data's statistics; "
                             "call build_model(recipe, data)")
        x = layers.Normalization(mean=data.mean, variance=data.variance, name="standardize")(x)
    x = _augmentation(recipe, x)
    side = min(m.input_shape[:2])
    for block in range(m.depth):
        filters = m.width * 2 ** block
        for _ in range(m.convs_per_block):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=not m.batchnorm,
                              kernel_initializer=m.initializer, kernel_regularizer=reg)(x)
            if m.batchnorm:
                x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
            x = layers.Activation(m.activation)(x)
        if block < m.depth - 1 and side // 2 >= MIN_SPATIAL:
            x = layers.MaxPooling2D(2)(x)
            side //= 2
    x = layers.Flatten()(x) if m.head == "flatten" else layers.GlobalAveragePooling2D()(x)
    if m.dense_units:
        x = layers.Dense(m.dense_units, activation=m.activation, kernel_initializer=m.initializer,
                         kernel_regularizer=reg)(x)
    if m.dropout > 0:
        x = layers.Dropout(m.dropout)(x)
    units = m.output_units or m.num_classes
    outputs = layers.Dense(units, activation=m.output_activation, kernel_regularizer=reg,
                           name="classifier")(x)
    return keras.Model(inputs, outputs, name="convergent_cnn")


def _augmentation(recipe: Recipe, x: Any) -> Any:
    from keras import layers

    s = recipe.data.augment_strength
    makers = {
        "flip": lambda: layers.RandomFlip("horizontal"),
        "rotation": lambda: layers.RandomRotation(s),
        "zoom": lambda: layers.RandomZoom(s),
        "translation": lambda: layers.RandomTranslation(s, s),
        "contrast": lambda: layers.RandomContrast(s),
        # brightness acts on the scaled image: value_range follows the input scaling
        "brightness": lambda: layers.RandomBrightness(
            s, value_range=(0.0, 1.0) if recipe.data.input_scale == "rescale" else (0, 255)),
    }
    for name in recipe.data.augment:
        x = makers[name]()(x)
    return x


def schedule_numbers(recipe: Recipe, steps_per_epoch: int) -> tuple[str, dict[str, float]]:
    """The recipe's LR schedule as its kind and the arguments of the Keras schedule for it.

    Example:
        >>> from convergent.trainer.recipe import default_recipe
        >>> r = default_recipe(10, (8, 8, 1), 240).with_(fit={"epochs": 10})
        >>> kind, n = schedule_numbers(r, steps_per_epoch=10)
        >>> kind, n["warmup_steps"], n["decay_steps"], n["warmup_target"]
        ('onecycle', 30, 70, 0.001)
    """
    c, f = recipe.compile, recipe.fit
    total = max(1, f.epochs * steps_per_epoch)
    kind = "constant" if f.reduce_lr_patience else f.schedule
    if kind == "cosine":
        return kind, {"initial_learning_rate": c.learning_rate, "decay_steps": total}
    if kind == "onecycle":
        warm = max(1, int(total * ONECYCLE_PCT_START))
        return kind, {"initial_learning_rate": c.learning_rate / ONECYCLE_DIV,
                      "decay_steps": max(1, total - warm), "warmup_target": c.learning_rate,
                      "warmup_steps": warm}
    return kind, {"learning_rate": c.learning_rate}


def keras_schedule(kind: str, numbers: dict[str, Any]) -> Any:
    """The Keras schedule of ``kind`` with ``numbers`` (floats, or variables that a sweep
    retargets: ``trainer/schedule.py``); for ``"constant"`` the rate itself."""
    import keras

    if kind == "cosine":
        return keras.optimizers.schedules.CosineDecay(**numbers, alpha=COSINE_ALPHA)
    if kind == "onecycle":
        return keras.optimizers.schedules.CosineDecay(**numbers, alpha=1.0 / ONECYCLE_DIV ** 2)
    return numbers["learning_rate"]


def build_optimizer(recipe: Recipe, steps_per_epoch: int, sweepable: bool = False
                    ) -> keras.optimizers.Optimizer:
    """The optimizer of ``recipe.compile`` with the LR schedule of ``recipe.fit``.

    Args:
        recipe: the Recipe.
        steps_per_epoch: training steps in one epoch (the schedule spans the recipe's epochs).
        sweepable: hold the schedule in a ``schedule.Sweepable``, so an LR range test can run
            on this optimizer's model and the training reuse its traced step; only for a
            scheduled rate (cosine, one-cycle).
    """
    import keras

    c = recipe.compile
    kind, numbers = schedule_numbers(recipe, steps_per_epoch)
    if sweepable:
        from convergent.trainer.schedule import Sweepable

        lr: Any = Sweepable(kind, numbers)
    else:
        lr = keras_schedule(kind, numbers)
    kw: dict[str, Any] = {"learning_rate": lr}
    if c.clipnorm:
        kw["clipnorm"] = c.clipnorm
    if c.optimizer == "adamw":
        return keras.optimizers.AdamW(weight_decay=c.weight_decay, **kw)
    if c.optimizer == "adam":
        return keras.optimizers.Adam(**kw)
    if c.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(**kw)
    if c.optimizer == "momentum":
        return keras.optimizers.SGD(momentum=c.momentum, nesterov=True, **kw)
    return keras.optimizers.SGD(**kw)


def build_loss(recipe: Recipe) -> Any:
    import keras

    c = recipe.compile
    if c.loss == "sparse_categorical_crossentropy":
        return keras.losses.SparseCategoricalCrossentropy(from_logits=c.from_logits)
    if c.loss == "categorical_crossentropy":
        return keras.losses.CategoricalCrossentropy(from_logits=c.from_logits)
    if c.loss == "binary_crossentropy":
        return keras.losses.BinaryCrossentropy(from_logits=c.from_logits)
    return c.loss


def compile_model(model: keras.Model, recipe: Recipe, steps_per_epoch: int,
                  sweepable: bool = False) -> keras.Model:
    """Compile ``model`` as ``recipe.compile`` says, with accuracy as the metric
    (``sweepable``: see ``build_optimizer``)."""
    metric = ("sparse_categorical_accuracy" if recipe.compile.loss.startswith("sparse")
              else "categorical_accuracy" if recipe.compile.loss == "categorical_crossentropy"
              else "accuracy")
    model.compile(optimizer=build_optimizer(recipe, steps_per_epoch, sweepable),
                  loss=build_loss(recipe),
                  metrics=[_named(metric)])
    return model


def _named(metric: str) -> Any:
    """Report every accuracy flavour under the one name ``accuracy``."""
    import keras

    cls = {"sparse_categorical_accuracy": keras.metrics.SparseCategoricalAccuracy,
           "categorical_accuracy": keras.metrics.CategoricalAccuracy,
           "accuracy": keras.metrics.Accuracy}[metric]
    if metric == "accuracy":
        return "accuracy"
    return cls(name="accuracy")


def build_callbacks(recipe: Recipe, backup_dir: str | Path | None = None,
                    has_validation: bool = True) -> list[keras.callbacks.Callback]:
    """EarlyStopping (restore_best_weights), ReduceLROnPlateau, BackupAndRestore per recipe."""
    import keras

    f = recipe.fit
    monitor = "val_loss" if has_validation else "loss"
    cbs: list[keras.callbacks.Callback] = []
    if backup_dir is not None and f.backup:
        cbs.append(keras.callbacks.BackupAndRestore(str(backup_dir), delete_checkpoint=True))
    if f.early_stopping_patience:
        # during the one-cycle warm-up the validation loss is expected to rise: judge
        # only from the end of the warm-up on
        start = math.ceil(f.epochs * ONECYCLE_PCT_START) if f.schedule == "onecycle" and \
            not f.reduce_lr_patience else 0
        cbs.append(keras.callbacks.EarlyStopping(monitor=monitor,
                                                 patience=f.early_stopping_patience,
                                                 restore_best_weights=True,
                                                 start_from_epoch=start))
    if f.reduce_lr_patience:
        cbs.append(keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.5,
                                                     patience=f.reduce_lr_patience))
    return cbs
