"""Recipe transforms: for each catalog remedy that code can apply, a pure ``Recipe -> Recipe``.

A transform takes the Recipe and a ``Context`` (the finding that asked for it, an LR
suggestion from a range test, a value chosen by a search) and returns a new Recipe; it
never mutates its input and never touches files. ``SEARCH`` names the one setting a
remedy leaves open and the range to search it in (used by the repair loop's Optuna study).

Example:
    >>> from convergent.trainer.recipe import Recipe
    >>> r = Recipe().with_(data={"input_scale": "none"})
    >>> apply("rescale", r).data.input_scale
    'rescale'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from convergent.findings import Finding
from convergent.remedies.catalog import CATALOG
from convergent.trainer.recipe import Recipe


@dataclass(frozen=True)
class Context:
    """What a transform may use besides the Recipe."""

    finding: Finding | None = None
    lr_suggested: float | None = None     # from an LR range test
    value: Any = None                     # a setting chosen by the search (see SEARCH)
    evidence: dict[str, Any] = field(default_factory=dict)

    def ev(self, key: str, default: Any = None) -> Any:
        if key in self.evidence:
            return self.evidence[key]
        return self.finding.evidence.get(key, default) if self.finding else default


Transform = Callable[[Recipe, Context], Recipe]
TRANSFORMS: dict[str, Transform] = {}


@dataclass(frozen=True)
class Search:
    """The setting a remedy leaves open: ``kind`` is "log", "int", "float" or "choice"."""

    name: str
    kind: str
    low: float = 0.0
    high: float = 1.0
    choices: tuple[Any, ...] = ()


SEARCH: dict[str, Callable[[Recipe, Context], Search]] = {}


def transform(remedy_id: str) -> Callable[[Transform], Transform]:
    """Register a transform for a catalog id; each id once."""
    if remedy_id not in CATALOG:
        raise KeyError(f"{remedy_id!r} is not in the remedy catalog; add it there first")

    def deco(fn: Transform) -> Transform:
        if remedy_id in TRANSFORMS:
            raise ValueError(f"a transform for {remedy_id!r} is already registered")
        TRANSFORMS[remedy_id] = fn
        return fn

    return deco


def apply(remedy_id: str, recipe: Recipe, ctx: Context | None = None) -> Recipe:
    """Apply remedy ``remedy_id`` to ``recipe`` (a new Recipe is returned)."""
    try:
        fn = TRANSFORMS[remedy_id]
    except KeyError:
        raise KeyError(f"no recipe transform for remedy {remedy_id!r}; transforms exist for "
                       f"{sorted(TRANSFORMS)}") from None
    return fn(recipe, ctx or Context())


def can_apply(remedy_id: str) -> bool:
    return remedy_id in TRANSFORMS


def code_of(remedy_id: str) -> str:
    """The snippet to show the user (from the catalog)."""
    return CATALOG[remedy_id].code


# Constants of the transforms. LR factors: a decade per step is the LR range test's own
# resolution (Smith 2017 sweeps log-uniformly); 3e-4..3e-3 is Adam's well-known safe band
# (Kingma & Ba default 1e-3).
LR_STEP = 10.0
ADAM_LR = 1e-3
SAFE_DROPOUT = 0.3      # catalog: "lower dropout to 0.2-0.5"
ADD_DROPOUT = 0.3
WEIGHT_DECAY = 1e-4     # AdamW paper's CIFAR range is 1e-4..1e-3 (normalized); Keras default 4e-3
L2 = 1e-4
CLIPNORM = 1.0          # Pascanu et al. 2013 clip at the order of the average norm; Keras examples use 1
MAX_EPOCHS = 100
MIN_WIDTH = 8
MIN_BATCH, MAX_BATCH = 16, 256  # catalog: "a batch size of 32-256"; 16 when data is small


# data -------------------------------------------------------------------------------
@transform("rescale")
def _rescale(r: Recipe, c: Context) -> Recipe:
    top = float(c.ev("max", c.ev("max_value", 255.0)) or 255.0)
    return r.with_(data={"input_scale": "rescale", "rescale_factor": 1.0 / max(top, 1.0)})


@transform("standardize")
def _standardize(r: Recipe, c: Context) -> Recipe:
    return r.with_(data={"input_scale": "standardize"})


@transform("same_preprocessing")
def _same_pre(r: Recipe, c: Context) -> Recipe:
    # the trainer's scaling lives inside the model, so every split gets it
    return _rescale(r, c) if r.data.input_scale == "none" else r


@transform("class_weights")
def _class_weights(r: Recipe, c: Context) -> Recipe:
    return r.with_(data={"balance": "class_weight"})


@transform("oversample")
def _oversample(r: Recipe, c: Context) -> Recipe:
    return r.with_(data={"balance": "oversample"})


def _files(c: Context, key: str = "files") -> tuple[str, ...]:
    files = c.ev(key) or []
    return tuple(str(f) for f in files)


def _pairs(c: Context) -> tuple[tuple[str, str], ...]:
    return tuple((str(a), str(b)) for a, b in (c.ev("pairs") or []))


@transform("drop_corrupt")
def _drop_corrupt(r: Recipe, c: Context) -> Recipe:
    exclude = tuple(dict.fromkeys(r.data.exclude + _files(c)))
    return r.with_(data={"exclude": exclude})


@transform("review_images")
def _quarantine_flagged(r: Recipe, c: Context) -> Recipe:
    return _drop_corrupt(r, c)


@transform("dedupe")
def _dedupe(r: Recipe, c: Context) -> Recipe:
    pairs = tuple(dict.fromkeys(r.data.leak_pairs + _pairs(c)))
    return r.with_(data={"dedupe": True, "deleak": True, "leak_pairs": pairs})


@transform("deleak_split")
def _deleak(r: Recipe, c: Context) -> Recipe:
    pairs = tuple(dict.fromkeys(r.data.leak_pairs + _pairs(c)))
    return r.with_(data={"deleak": True, "leak_pairs": pairs})


@transform("shuffle_before_split")
def _shuffle_split(r: Recipe, c: Context) -> Recipe:
    return r.with_(data={"stratified": True, "shuffle": True})


@transform("augment")
def _augment(r: Recipe, c: Context) -> Recipe:
    # no flip by default: it turns digits and text into other classes
    add = ("rotation", "zoom", "translation")
    return r.with_(data={"augment": tuple(dict.fromkeys(r.data.augment + add))})


@transform("augment_brightness")
def _augment_brightness(r: Recipe, c: Context) -> Recipe:
    add = ("brightness", "contrast")
    return r.with_(data={"augment": tuple(dict.fromkeys(r.data.augment + add))})


@transform("single_channel")
def _single_channel(r: Recipe, c: Context) -> Recipe:
    shape = (*r.model.input_shape[:2], 1)
    return r.with_(data={"color_mode": "grayscale"}, model={"input_shape": shape})


# model ------------------------------------------------------------------------------
def _classes(r: Recipe, c: Context) -> int:
    return int(c.ev("num_classes", c.ev("classes", r.model.num_classes)))


@transform("fix_output_activation")
def _fix_out_act(r: Recipe, c: Context) -> Recipe:
    n = _classes(r, c)
    if n == 2 and (r.model.output_units or n) == 1:
        return r.with_(model={"output_activation": "sigmoid"},
                       compile={"loss": "binary_crossentropy", "from_logits": False})
    return r.with_(model={"output_activation": "softmax"}, compile={"from_logits": False})


@transform("fix_output_units")
def _fix_out_units(r: Recipe, c: Context) -> Recipe:
    n = _classes(r, c)
    return r.with_(model={"num_classes": n, "output_units": None,
                          "output_activation": "softmax"})


@transform("fix_loss")
def _fix_loss(r: Recipe, c: Context) -> Recipe:
    # the trainer feeds integer labels unless the loss needs one-hot: sparse CE fits both
    return r.with_(compile={"loss": "sparse_categorical_crossentropy",
                            "from_logits": r.model.output_activation in ("linear", None)})


@transform("he_init")
def _he_init(r: Recipe, c: Context) -> Recipe:
    relu_like = r.model.activation in ("relu", "leaky_relu", "elu", "gelu", "selu", "swish")
    return r.with_(model={"initializer": "he_normal" if relu_like else "glorot_uniform"})


@transform("relu_activation")
def _relu(r: Recipe, c: Context) -> Recipe:
    return r.with_(model={"activation": "relu", "initializer": "he_normal"})


@transform("add_nonlinearity")
def _nonlinear(r: Recipe, c: Context) -> Recipe:
    return _relu(r, c)


@transform("leaky_relu")
def _leaky(r: Recipe, c: Context) -> Recipe:
    return r.with_(model={"activation": "leaky_relu", "initializer": "he_normal"})


@transform("batch_norm")
def _bn(r: Recipe, c: Context) -> Recipe:
    return r.with_(model={"batchnorm": True})


@transform("add_capacity")
def _add_capacity(r: Recipe, c: Context) -> Recipe:
    width = int(c.value) if c.value else r.model.width * 2
    return r.with_(model={"width": width})


SEARCH["add_capacity"] = lambda r, c: Search("width", "choice", choices=(
    r.model.width * 2, r.model.width * 4))


@transform("widen_bottleneck")
def _widen(r: Recipe, c: Context) -> Recipe:
    return r.with_(model={"dense_units": max(r.model.dense_units * 4, 128)
                          if r.model.dense_units else 0, "width": max(r.model.width, 16)})


@transform("reduce_capacity")
def _reduce_capacity(r: Recipe, c: Context) -> Recipe:
    width = int(c.value) if c.value else max(MIN_WIDTH, r.model.width // 2)
    return r.with_(model={"width": width, "dense_units": r.model.dense_units // 2})


SEARCH["reduce_capacity"] = lambda r, c: Search("width", "choice", choices=(
    max(MIN_WIDTH, r.model.width // 2), max(MIN_WIDTH, r.model.width // 4)))


@transform("less_pooling")
def _less_pool(r: Recipe, c: Context) -> Recipe:
    # the trainer's family never pools below 4x4; fewer blocks pool less
    return r.with_(model={"depth": max(1, r.model.depth - 1)})


@transform("less_dropout")
def _less_dropout(r: Recipe, c: Context) -> Recipe:
    rate = float(c.value) if c.value is not None else min(r.model.dropout, SAFE_DROPOUT)
    return r.with_(model={"dropout": rate})


SEARCH["less_dropout"] = lambda r, c: Search("dropout", "float", 0.0, SAFE_DROPOUT)


@transform("dropout")
def _dropout(r: Recipe, c: Context) -> Recipe:
    rate = float(c.value) if c.value is not None else max(r.model.dropout, ADD_DROPOUT)
    return r.with_(model={"dropout": rate})


SEARCH["dropout"] = lambda r, c: Search("dropout", "float", 0.1, 0.5)


@transform("weight_decay")
def _wd(r: Recipe, c: Context) -> Recipe:
    if r.compile.optimizer in ("adam", "adamw"):
        return r.with_(compile={"optimizer": "adamw", "weight_decay": WEIGHT_DECAY * 10
                                if r.compile.optimizer == "adamw" else WEIGHT_DECAY})
    return r.with_(model={"l2": L2})


# training ---------------------------------------------------------------------------
def _lr_from(c: Context) -> float | None:
    if c.value is not None:
        return float(c.value)
    if c.lr_suggested:
        return float(c.lr_suggested)
    s = c.ev("suggested", c.ev("lr_suggested"))
    return float(s) if s else None


@transform("lower_lr")
def _lower_lr(r: Recipe, c: Context) -> Recipe:
    lr = _lr_from(c)
    if lr is None or lr >= r.compile.learning_rate:
        lr = r.compile.learning_rate / LR_STEP
    return r.with_(compile={"learning_rate": lr})


SEARCH["lower_lr"] = lambda r, c: Search(
    "learning_rate", "log", r.compile.learning_rate / 1000, r.compile.learning_rate / 3)


@transform("raise_lr")
def _raise_lr(r: Recipe, c: Context) -> Recipe:
    lr = _lr_from(c)
    if lr is None or lr <= r.compile.learning_rate:
        lr = r.compile.learning_rate * LR_STEP
    return r.with_(compile={"learning_rate": lr})


SEARCH["raise_lr"] = lambda r, c: Search(
    "learning_rate", "log", r.compile.learning_rate * 3, r.compile.learning_rate * 1000)


@transform("lr_range_test")
def _lr_range(r: Recipe, c: Context) -> Recipe:
    lr = _lr_from(c)
    return r.with_(compile={"learning_rate": lr}) if lr else r


SEARCH["lr_range_test"] = lambda r, c: Search(
    "learning_rate", "log", (c.lr_suggested or ADAM_LR) / 10, (c.lr_suggested or ADAM_LR) * 3)


@transform("adam")
def _adam(r: Recipe, c: Context) -> Recipe:
    lr = _lr_from(c) or ADAM_LR
    return r.with_(compile={"optimizer": "adamw", "learning_rate": lr,
                            "weight_decay": WEIGHT_DECAY})


@transform("grad_clip")
def _clip(r: Recipe, c: Context) -> Recipe:
    return r.with_(compile={"clipnorm": CLIPNORM})


@transform("batch_size")
def _batch(r: Recipe, c: Context) -> Recipe:
    """A chosen value; else halve a batch that leaves too few updates, else clamp to 32-256."""
    bs = r.fit.batch_size
    if c.value:
        bs = int(c.value)
    elif c.ev("min_updates") and c.ev("total_updates") is not None:
        need = float(c.ev("min_updates")) / max(1.0, float(c.ev("total_updates")))
        bs = max(MIN_BATCH, int(bs / max(2.0, need)))
    else:
        bs = min(MAX_BATCH, max(MIN_BATCH, bs))
    return r.with_(fit={"batch_size": bs})


SEARCH["batch_size"] = lambda r, c: Search("batch_size", "choice", choices=(16, 32, 64, 128))


@transform("more_epochs")
def _more_epochs(r: Recipe, c: Context) -> Recipe:
    return r.with_(fit={"epochs": min(MAX_EPOCHS, r.fit.epochs * 2),
                        "early_stopping_patience": r.fit.early_stopping_patience or 5})


@transform("early_stopping")
def _early(r: Recipe, c: Context) -> Recipe:
    return r.with_(fit={"early_stopping_patience": r.fit.early_stopping_patience or 5})


@transform("reduce_lr_on_plateau")
def _plateau(r: Recipe, c: Context) -> Recipe:
    return r.with_(fit={"reduce_lr_patience": 3, "schedule": "constant"})
