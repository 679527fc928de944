"""A Recipe: the data pipeline, model, compile and fit settings of a run, held as plain data.

Remedies are pure functions ``Recipe -> Recipe`` (see ``convergent.remedies.transforms``);
``build_model``/``build_data`` (``trainer/build.py``, ``trainer/data.py``) turn a Recipe
into Keras objects. Nothing here imports TensorFlow or Keras.

Example:
    >>> r = default_recipe(num_classes=10, input_shape=(28, 28, 1), n_train=4000)
    >>> r.compile.optimizer, r.model.output_activation
    ('adamw', 'softmax')
    >>> r2 = r.with_(compile={"learning_rate": 3e-3})
    >>> (r.compile.learning_rate, r2.compile.learning_rate)
    (0.001, 0.003)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields, replace
from typing import Any

INPUT_SCALES = ("none", "rescale", "standardize")
BALANCES = ("none", "class_weight", "oversample", "undersample")
AUGMENTATIONS = ("flip", "rotation", "zoom", "translation", "contrast", "brightness")
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw", "rmsprop")
SCHEDULES = ("constant", "cosine", "onecycle")
HEADS = ("gap", "flatten")
LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy",
          "binary_crossentropy", "mse")


@dataclass(frozen=True)
class DataSpec:
    """Where the images come from and how they reach the network.

    ``exclude`` is a quarantine list (paths relative to ``source``) the pipeline skips; the
    user's files are never moved or modified. ``deleak`` keeps every group of identical or
    near-identical images (exact pixel hash, plus the scan's DATA_DUPLICATES/DATA_LEAKAGE
    pairs) on one side of the split; ``dedupe`` keeps one image of each group.
    """

    source: str | None = None            # an image folder; None when arrays are passed
    image_size: tuple[int, int] | None = None   # None: the folder's median size (capped)
    color_mode: str | None = None        # "grayscale" | "rgb" | None: inferred
    input_scale: str = "rescale"         # "none" | "rescale" | "standardize"
    rescale_factor: float = 1.0 / 255.0  # for input_scale="rescale"
    augment: tuple[str, ...] = ()        # subset of AUGMENTATIONS
    augment_strength: float = 0.1        # rotation/zoom/translation/contrast factor
    balance: str = "none"                # "none" | "class_weight" | "oversample" | "undersample"
    val_fraction: float = 0.2
    stratified: bool = True
    deleak: bool = True
    dedupe: bool = False
    exclude: tuple[str, ...] = ()        # quarantine list, relative paths
    leak_pairs: tuple[tuple[str, str], ...] = ()  # near-duplicate pairs from the scan
    shuffle: bool = True


@dataclass(frozen=True)
class ModelSpec:
    """A small CNN family: ``depth`` conv blocks of ``width * 2**i`` filters each."""

    num_classes: int = 2
    input_shape: tuple[int, int, int] = (32, 32, 3)
    width: int = 32
    depth: int = 3
    convs_per_block: int = 1
    dense_units: int = 0                 # 0: global pooling straight to the classifier
    head: str = "gap"                    # "gap" | "flatten": how the last maps reach the head
    dropout: float = 0.0
    batchnorm: bool = True
    activation: str = "relu"
    initializer: str = "he_normal"
    l2: float = 0.0
    output_activation: str = "softmax"
    output_units: int | None = None      # None: num_classes


@dataclass(frozen=True)
class CompileSpec:
    optimizer: str = "adamw"
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4           # AdamW's decoupled decay (ignored by the others)
    momentum: float = 0.9                # for "momentum"
    clipnorm: float | None = None
    loss: str = "sparse_categorical_crossentropy"
    from_logits: bool = False


@dataclass(frozen=True)
class FitSpec:
    epochs: int = 30
    batch_size: int = 64
    schedule: str = "onecycle"           # "constant" | "cosine" | "onecycle"
    early_stopping_patience: int = 5     # 0: off; restore_best_weights always on
    reduce_lr_patience: int = 0          # 0: off; forces schedule "constant"
    backup: bool = True                  # BackupAndRestore in the output folder


@dataclass(frozen=True)
class Recipe:
    """Everything that decides a training run, as data; ``with_`` returns a changed copy."""

    data: DataSpec = field(default_factory=DataSpec)
    model: ModelSpec = field(default_factory=ModelSpec)
    compile: CompileSpec = field(default_factory=CompileSpec)
    fit: FitSpec = field(default_factory=FitSpec)

    def with_(self, **parts: dict[str, Any]) -> Recipe:
        """A copy with fields of the named parts replaced: ``r.with_(fit={"epochs": 5})``."""
        new = self
        for part, changes in parts.items():
            if part not in ("data", "model", "compile", "fit"):
                raise ValueError(f"unknown recipe part {part!r}; use data, model, compile, fit")
            current = getattr(new, part)
            unknown = set(changes) - {f.name for f in fields(current)}
            if unknown:
                raise ValueError(f"unknown {part} settings {sorted(unknown)}; known: "
                                 f"{sorted(f.name for f in fields(current))}")
            new = replace(new, **{part: replace(current, **changes)})
        new.validate()
        return new

    def validate(self) -> None:
        """Raise ValueError naming the bad value and the valid options."""
        checks = [("data.input_scale", self.data.input_scale, INPUT_SCALES),
                  ("data.balance", self.data.balance, BALANCES),
                  ("compile.optimizer", self.compile.optimizer, OPTIMIZERS),
                  ("fit.schedule", self.fit.schedule, SCHEDULES),
                  ("model.head", self.model.head, HEADS)]
        for name, value, options in checks:
            if value not in options:
                raise ValueError(f"{name}={value!r} is not one of {options}")
        bad_aug = set(self.data.augment) - set(AUGMENTATIONS)
        if bad_aug:
            raise ValueError(f"unknown augmentation {sorted(bad_aug)}; known: {AUGMENTATIONS}")
        if not 0.0 <= self.model.dropout < 1.0:
            raise ValueError(f"model.dropout must be in [0, 1); received {self.model.dropout}")
        if self.compile.learning_rate <= 0:
            raise ValueError(f"compile.learning_rate must be > 0; received "
                             f"{self.compile.learning_rate}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Recipe:
        def tup(v: Any) -> Any:
            return tuple(tup(x) for x in v) if isinstance(v, list) else v

        return cls(DataSpec(**{k: tup(v) for k, v in d.get("data", {}).items()}),
                   ModelSpec(**{k: tup(v) for k, v in d.get("model", {}).items()}),
                   CompileSpec(**d.get("compile", {})), FitSpec(**d.get("fit", {})))


def diff(before: Recipe, after: Recipe) -> dict[str, tuple[Any, Any]]:
    """The settings that differ, as ``{"compile.learning_rate": (10.0, 0.003)}``."""
    out: dict[str, tuple[Any, Any]] = {}
    for part in ("data", "model", "compile", "fit"):
        a, b = getattr(before, part), getattr(after, part)
        for f in fields(a):
            va, vb = getattr(a, f.name), getattr(b, f.name)
            if va != vb:
                out[f"{part}.{f.name}"] = (va, vb)
    return out


# Sizing the known-good model to the data. Filters doubling per block and 3x3 convs are
# the VGG/ResNet-CIFAR convention; pooling stops at 4x4 so features still have a layout
# (the MODEL_OVER_POOLING rule). Width 16 (16-32-64 filters, ~25k parameters at 28x28)
# up to SMALL_DATA training images: measured on the mnist sample (benchmarks/perf/
# fit_vs_baseline.py) it matched width 32 in accuracy (0.967 vs 0.975 after 6 epochs) in
# 56% of the time on CPU; more data can use more filters.
MIN_SPATIAL = 4            # stop pooling at 4x4
MAX_DEPTH = 4
# The head: Flatten keeps where in the image a feature was (LeNet, VGG; Keras' MNIST
# example flattens 5x5x64 = 1,600 features into its softmax), global average pooling
# (Lin et al. 2014) throws it away and suits large maps, where a flatten would hold most of
# the parameters. Flatten up to FLATTEN_MAX_FEATURES: on the embedded datasets (7x7x64 =
# 3,136 and 4x4x32 = 512 features) it raised test accuracy by 1-5 points over GAP at the
# same rate for ~10% more time per epoch (benchmarks/RESULTS.md, fit vs baseline).
FLATTEN_MAX_FEATURES = 4096
SMALL_DATA = 20000         # below this many training images use width 16
MAX_EPOCHS = 30            # with early stopping (patience 5, Keras' examples use 5-10)


def default_recipe(num_classes: int, input_shape: tuple[int, int, int], n_train: int,
                   source: str | None = None) -> Recipe:
    """The known-good starting Recipe for ``n_train`` images of ``input_shape``."""
    h, w = input_shape[:2]
    depth, side = 1, min(h, w)
    while side // 2 >= MIN_SPATIAL and depth < MAX_DEPTH:
        side //= 2
        depth += 1
    width = 16 if n_train < SMALL_DATA else 32
    pools = depth - 1  # build_model pools after every block but the last
    features = (h // 2 ** pools) * (w // 2 ** pools) * width * 2 ** (depth - 1)
    head = "flatten" if features <= FLATTEN_MAX_FEATURES else "gap"
    batch = 32 if n_train < 2000 else 64  # >= ~50 steps per epoch on small folders
    return Recipe(
        data=DataSpec(source=source),
        model=ModelSpec(num_classes=num_classes, input_shape=tuple(input_shape), width=width,
                        depth=depth, dropout=0.2, head=head),
        compile=CompileSpec(),
        fit=FitSpec(epochs=MAX_EPOCHS, batch_size=batch),
    )
