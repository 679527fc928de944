"""Plain facts about a Keras 3 model: layers in order, activations, initializer scales, loss.

Everything the model checks need is read once here into small dataclasses, so the checks
are pure functions of plain data (and tests can build facts without a model).

Example:
    >>> import keras
    >>> m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
    ...                       keras.layers.Dense(3, activation="softmax")])
    >>> model_facts(m).output.units
    3
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

WEIGHT_KINDS = ("dense", "conv")
SATURATING = {"sigmoid": "sigmoid", "hard_sigmoid": "sigmoid", "tanh": "tanh",
              "softsign": "tanh", "hard_tanh": "tanh"}
RELU_LIKE = {"relu", "relu6", "leaky_relu", "elu", "gelu", "silu", "swish", "mish", "selu",
             "prelu", "celu", "glu", "hard_silu", "hard_swish", "softplus", "log_sigmoid",
             "sparse_plus", "squareplus"}
# Variance gain an activation needs from its layer's initializer so the signal keeps its
# scale (He et al. 2015 for ReLU: Var(W)*fan_in = 2; Glorot & Bengio 2010 / LeCun 1998
# for tanh, linear and SELU: 1). Units of the ReLU family that pass negatives use ~1-2.
ACTIVATION_GAIN = {"relu": 2.0, "relu6": 2.0, "leaky_relu": 2.0, "prelu": 2.0, "elu": 1.5,
                   "gelu": 2.0, "silu": 2.0, "swish": 2.0, "mish": 2.0, "selu": 1.0,
                   "tanh": 1.0, "softsign": 1.0, "linear": 1.0, "sigmoid": 1.0,
                   "hard_sigmoid": 1.0, "softmax": 1.0, "softplus": 2.0}


@dataclass
class LayerFact:
    """One leaf layer, in execution order."""

    name: str
    cls: str
    kind: str  # dense | conv | act | norm | dropout | pool | gpool | flatten | augment | other
    activation: str = "linear"  # own activation (weight layers) or the function (act layers)
    units: int | None = None  # output features / channels of a weight layer
    fan_in: int | None = None
    fan_out: int | None = None
    init: str | None = None  # initializer class name
    init_var: float | None = None  # variance of the initial kernel entries (None: unknown)
    init_constant: bool = False  # Zeros / Ones / Constant: every unit starts the same
    trainable: bool = True
    n_params: int = 0
    n_trainable: int = 0
    rate: float | None = None  # dropout rate
    regularized: bool = False  # kernel regularizer present
    in_shape: tuple | None = None
    out_shape: tuple | None = None
    # still exactly as initialised (None: cannot tell): a bias of exact zeros, or
    # normalization statistics of exactly 0 mean / 1 variance; any training step moves them
    at_init: bool | None = None
    # the value every bias starts at when its initializer is a constant (Zeros, Ones,
    # Constant); None for random bias initializers, no bias, or unknown
    bias_init: float | None = None


@dataclass
class OutputFact:
    units: int | None
    activation: str  # softmax | sigmoid | linear | other
    layer: str | None
    how: str  # "static" (read from layers) or "numeric" (from a forward pass)


@dataclass
class LossFact:
    kind: str  # cce | scce | bce | regression | hinge | kld | other | none
    name: str
    from_logits: bool = False


@dataclass
class ModelFacts:
    name: str
    style: str  # sequential | functional | subclassed
    built: bool
    compiled: bool
    n_outputs: int
    input_shape: tuple | None
    layers: list[LayerFact] = field(default_factory=list)
    output: OutputFact | None = None
    loss: LossFact = field(default_factory=lambda: LossFact("none", ""))
    optimizer: str | None = None
    learning_rate: float | None = None
    weight_decay: float = 0.0
    n_params: int = 0
    n_trainable: int = 0
    shapes_known: bool = False
    backend: str = "tensorflow"

    @property
    def weight_layers(self) -> list[LayerFact]:
        return [lf for lf in self.layers if lf.kind in WEIGHT_KINDS]

    @property
    def is_image(self) -> bool:
        return self.input_shape is not None and len(self.input_shape) == 4


# layers that normalize hidden activations (not the input-standardizing ``Normalization``)
NORM_LAYERS = frozenset({"BatchNormalization", "LayerNormalization", "GroupNormalization",
                         "SyncBatchNormalization", "RMSNormalization"})


def _cls_kind(layer: Any) -> str:
    c = type(layer).__name__
    if c in ("Dense", "EinsumDense"):
        return "dense"
    if "Conv" in c:
        return "conv"
    if c in ("Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax"):
        return "act"
    if c in NORM_LAYERS:
        return "norm"
    if "Dropout" in c:
        return "dropout"
    if c.startswith("Global"):
        return "gpool"
    if "Pooling" in c:
        return "pool"
    if c == "Flatten":
        return "flatten"
    if c.startswith("Random") or c in ("RandAugment", "AugMix", "MixUp", "CutMix"):
        return "augment"
    return "other"


def _act_name(fn: Any) -> str:
    if fn is None:
        return "linear"
    name = getattr(fn, "__name__", None) or type(fn).__name__
    return str(name).lower()


def _constant_value(init: Any) -> float | None:
    """The value a Zeros / Ones / Constant initializer fills with (None for others)."""
    c = type(init).__name__
    if c == "Zeros":
        return 0.0
    if c == "Ones":
        return 1.0
    if c == "Constant":
        try:
            return float(getattr(init, "value"))
        except (TypeError, ValueError):
            return None
    return None


def init_variance(init: Any, fan_in: int, fan_out: int) -> tuple[float | None, bool]:
    """Variance of the entries an initializer draws, and whether all units start equal.

    Judged by the initializer's effective scale, not its name (``shared/design.md``).
    """
    c = type(init).__name__
    if c in ("Zeros",):
        return 0.0, True
    if c in ("Ones", "Constant"):
        return 0.0, True
    if hasattr(init, "mode") and hasattr(init, "scale") and hasattr(init, "distribution"):
        fan = {"fan_in": fan_in, "fan_out": fan_out,
               "fan_avg": (fan_in + fan_out) / 2.0}.get(init.mode, fan_in)
        return float(init.scale) / max(fan, 1.0), False
    if c == "RandomNormal":
        return float(init.stddev) ** 2, False
    if c == "TruncatedNormal":
        # Keras truncates at 2 stddev: the variance of that truncated normal is 0.774 s^2.
        return 0.7737 * float(init.stddev) ** 2, False
    if c == "RandomUniform":
        return (float(init.maxval) - float(init.minval)) ** 2 / 12.0, False
    if c in ("Orthogonal", "OrthogonalInitializer"):
        return float(getattr(init, "gain", 1.0)) ** 2 / max(fan_in, fan_out, 1), False
    return None, False


def _fans(layer: Any, kernel_shape: tuple) -> tuple[int, int]:
    if len(kernel_shape) < 2:
        return 1, 1
    receptive = int(np.prod(kernel_shape[:-2])) if len(kernel_shape) > 2 else 1
    cls = type(layer).__name__
    if cls.startswith("DepthwiseConv"):
        return receptive, receptive * int(kernel_shape[-1])
    if "Transpose" in cls:  # kernel is (..., out, in)
        return receptive * int(kernel_shape[-1]), receptive * int(kernel_shape[-2])
    return receptive * int(kernel_shape[-2]), receptive * int(kernel_shape[-1])


def _shape(t: Any) -> tuple | None:
    try:
        return tuple(t.shape)
    except Exception:
        return None


def _count(variables: Any) -> int:
    return int(sum(int(np.prod(v.shape)) for v in variables))


def _leaf_layers(model: Any) -> list[Any]:
    out: list[Any] = []
    for layer in getattr(model, "layers", []):
        if type(layer).__name__ == "InputLayer":
            continue
        if hasattr(layer, "layers") and getattr(layer, "layers", None):
            out.extend(_leaf_layers(layer))
        else:
            out.append(layer)
    return out


# Variable classes of the backends that Keras 3 layers do not track when they are
# assigned as plain attributes (keras#16797: tf.Variable in a Keras 3 layer's build).
_FOREIGN_VARIABLES = frozenset({"ResourceVariable", "Variable", "UninitializedVariable",
                                "Parameter"})


def untracked_variable_attrs(model: Any) -> list[tuple[Any, str, Any]]:
    """(layer, attribute, variable) of every trainable backend variable a layer holds that
    is not among the model's Keras weights: the optimizer never sees it."""
    tracked = {id(getattr(w, "value", w)) for w in getattr(model, "weights", [])}
    tracked |= {id(w) for w in getattr(model, "weights", [])}
    out = []
    for layer in _leaf_layers(model):
        for attr, v in vars(layer).items():
            if type(v).__name__ in _FOREIGN_VARIABLES and getattr(v, "trainable", True) \
                    and getattr(v, "requires_grad", True) and id(v) not in tracked:
                out.append((layer, attr, v))
    return out


def untracked_variables(model: Any) -> list[str]:
    """``layer.attribute (shape)`` of each of :func:`untracked_variable_attrs`."""
    return [f"{layer.name}.{attr} {tuple(getattr(v, 'shape', ()))}"
            for layer, attr, v in untracked_variable_attrs(model)]


def _all_equal(variable: Any, value: float) -> bool | None:
    """True when every entry of ``variable`` equals ``value``; None without a variable."""
    if variable is None:
        return None
    try:
        import numpy as np
        from keras import ops

        return bool(np.all(ops.convert_to_numpy(variable) == value))
    except Exception:  # noqa: BLE001 - an odd variable: unknown
        return None


def layer_fact(layer: Any) -> LayerFact:
    kind = _cls_kind(layer)
    lf = LayerFact(name=layer.name, cls=type(layer).__name__, kind=kind,
                   trainable=bool(layer.trainable),
                   n_params=_count(layer.weights), n_trainable=_count(layer.trainable_weights))
    if kind in WEIGHT_KINDS:
        lf.activation = _act_name(getattr(layer, "activation", None))
        kernel = getattr(layer, "kernel", None) if hasattr(layer, "kernel") else None
        if kernel is None:
            kernel = getattr(layer, "depthwise_kernel", None)
        if kernel is not None:
            kshape = tuple(int(d) for d in kernel.shape)
            lf.fan_in, lf.fan_out = _fans(layer, kshape)
            lf.units = int(kshape[-2] if "Transpose" in lf.cls else kshape[-1])
            init = getattr(layer, "kernel_initializer", None) or getattr(
                layer, "depthwise_initializer", None)
            if init is not None:
                lf.init = type(init).__name__
                lf.init_var, lf.init_constant = init_variance(init, lf.fan_in, lf.fan_out)
        lf.regularized = getattr(layer, "kernel_regularizer", None) is not None
        lf.at_init = _all_equal(getattr(layer, "bias", None), 0.0)
        lf.bias_init = _constant_value(getattr(layer, "bias_initializer", None)) \
            if getattr(layer, "use_bias", False) else None
    elif kind == "act":
        if lf.cls == "Activation":
            lf.activation = _act_name(layer.activation)
        else:
            lf.activation = {"ReLU": "relu", "LeakyReLU": "leaky_relu", "ELU": "elu",
                             "PReLU": "prelu", "Softmax": "softmax"}[lf.cls]
    elif kind == "dropout":
        rate = getattr(layer, "rate", None)
        lf.rate = float(rate) if rate is not None else None
    elif kind == "norm":
        mean = _all_equal(getattr(layer, "moving_mean", None), 0.0)
        var = _all_equal(getattr(layer, "moving_variance", None), 1.0)
        lf.at_init = None if mean is None or var is None else (mean and var)
    try:
        lf.in_shape = _shape(layer.input)
        lf.out_shape = _shape(layer.output)
    except Exception:  # subclassed models: layers have no symbolic input/output
        pass
    return lf


def loss_fact(loss: Any) -> LossFact:
    """Normalise a compiled loss (string, function or Loss object) to a kind and from_logits."""
    if loss is None:
        return LossFact("none", "")
    if isinstance(loss, (dict, list, tuple)):
        return LossFact("other", "several losses")
    from_logits = False
    if isinstance(loss, str):
        name = loss
    else:
        cfg = {}
        try:
            cfg = loss.get_config() or {}
        except Exception:
            pass
        from_logits = bool(cfg.get("from_logits", False))
        fn = getattr(loss, "fn", None)
        name = (getattr(fn, "__name__", None) if fn is not None and type(loss).__name__ ==
                "LossFunctionWrapper" else None) or type(loss).__name__
        if name in ("function",):
            name = getattr(loss, "__name__", name)
        if callable(loss) and not hasattr(loss, "get_config"):
            name = getattr(loss, "__name__", name)
    key = name.replace("_", "").lower()
    kinds = {
        "categoricalcrossentropy": "cce", "cce": "cce", "categoricalfocalcrossentropy": "cce",
        "sparsecategoricalcrossentropy": "scce", "scce": "scce",
        "binarycrossentropy": "bce", "bce": "bce", "binaryfocalcrossentropy": "bce",
        "meansquarederror": "regression", "mse": "regression", "meanabsoluteerror": "regression",
        "mae": "regression", "huber": "regression", "logcosh": "regression",
        "meansquaredlogarithmicerror": "regression", "msle": "regression",
        "meanabsolutepercentageerror": "regression", "mape": "regression",
        "hinge": "hinge", "squaredhinge": "hinge", "categoricalhinge": "hinge",
        "kldivergence": "kld", "kld": "kld", "kullbackleiblerdivergence": "kld",
    }
    return LossFact(kinds.get(key, "other"), name, from_logits)


def _input_shape(model: Any) -> tuple | None:
    inputs = getattr(model, "inputs", None)
    try:
        if inputs:
            return tuple(inputs[0].shape)
    except Exception:
        pass
    shapes = getattr(model, "_build_shapes_dict", None) or {}
    for v in shapes.values():
        if isinstance(v, (tuple, list)) and v and all(isinstance(d, (int, type(None))) for d in v):
            return (None, *tuple(v)[1:])
    return None


def _classify_output(out: np.ndarray) -> str:
    out = np.asarray(out, dtype="float64")
    if out.ndim < 2 or not np.all(np.isfinite(out)):
        return "other"
    inside = bool(np.all(out >= -1e-6) and np.all(out <= 1 + 1e-6))
    if inside and out.shape[-1] > 1 and np.allclose(out.sum(-1), 1.0, atol=1e-3):
        return "softmax"
    if inside:
        return "sigmoid"
    return "linear"


def forward_probe(model: Any, input_shape: tuple, n: int = 8, seed: int = 0) -> Any:
    """Outputs of the model on ``n`` random inputs (uniform [0, 1]) of the given shape."""
    from keras import ops

    shape = (n, *[int(d) if d is not None else 8 for d in input_shape[1:]])
    x = np.random.default_rng(seed).random(shape, dtype=np.float32)
    out = model(x, training=False)
    if isinstance(out, (list, tuple)):
        return [ops.convert_to_numpy(o) for o in out]
    if isinstance(out, dict):
        return [ops.convert_to_numpy(o) for o in out.values()]
    return ops.convert_to_numpy(out)


def model_facts(model: Any) -> ModelFacts:
    """Read the facts of a Keras 3 model (built or not, compiled or not)."""
    import keras

    cls = type(model).__name__
    if cls == "Sequential":
        style = "sequential"
    elif cls == "Functional" or (hasattr(model, "_is_graph_network") and getattr(
            model, "inputs", None)):
        style = "functional"
    else:
        style = "subclassed"
    built = bool(getattr(model, "built", False)) and bool(model.weights)
    compiled = bool(getattr(model, "compiled", False))
    facts = ModelFacts(name=model.name, style=style, built=built, compiled=compiled,
                       n_outputs=1, input_shape=_input_shape(model),
                       backend=keras.backend.backend())
    if not built:
        return facts
    facts.layers = [layer_fact(layer) for layer in _leaf_layers(model)]
    facts.n_params = _count(model.weights)
    facts.n_trainable = _count(model.trainable_weights)
    facts.shapes_known = style != "subclassed" and all(
        lf.out_shape is not None for lf in facts.layers)
    outputs = getattr(model, "outputs", None)
    if style != "subclassed" and outputs is not None:
        facts.n_outputs = len(outputs)
    if compiled:
        facts.loss = loss_fact(getattr(model, "loss", None))
        opt = getattr(model, "optimizer", None)
        if opt is not None:
            facts.optimizer = type(opt).__name__
            try:
                facts.learning_rate = float(keras.ops.convert_to_numpy(opt.learning_rate))
            except Exception:  # a schedule
                facts.learning_rate = None
            wd = getattr(opt, "weight_decay", None)
            facts.weight_decay = float(wd) if wd else 0.0
    facts.output = _output_fact(model, facts)
    return facts


def _output_fact(model: Any, facts: ModelFacts) -> OutputFact | None:
    # Static: the last weight layer, then any activation layers after it.
    units, act, layer = None, "linear", None
    seen_weight = False
    for lf in facts.layers:
        if lf.kind in WEIGHT_KINDS:
            units, act, layer, seen_weight = lf.units, lf.activation, lf.name, True
        elif lf.kind == "act" and seen_weight and lf.activation != "linear":
            act = lf.activation
    numeric, n_units = None, units
    if facts.input_shape is not None:
        try:
            out = forward_probe(model, facts.input_shape)
        except Exception:
            out = None
        if isinstance(out, list):
            facts.n_outputs = len(out)
            out = out[0] if out else None
        if out is not None:
            numeric = _classify_output(out)
            n_units = int(out.shape[-1]) if out.ndim >= 2 else 1
    # The static reading wins when it names softmax/sigmoid (softmax on one unit outputs
    # exactly 1, which the numbers alone would call sigmoid); a softmax applied in call()
    # or a Lambda is invisible to the static walk, so the numbers decide otherwise.
    if act != "linear" or numeric is None or numeric == "linear":
        return OutputFact(n_units, act, layer, "static")
    return OutputFact(n_units, numeric, layer, "numeric")


def label_facts(y: Any, n_classes: int | None = None) -> dict[str, Any]:
    """Format of the labels: sparse ints or one-hot, the number of classes, the count."""
    y = np.asarray(y)
    out: dict[str, Any] = {"n": int(y.shape[0]) if y.ndim else 0}
    if y.ndim == 2 and y.shape[1] > 1:
        rows_onehot = np.all((y == 0) | (y == 1)) and np.allclose(y.sum(1), 1)
        out.update(format="onehot" if rows_onehot else "multilabel_or_soft",
                   width=int(y.shape[1]), n_classes=int(y.shape[1]))
        out["counts"] = np.asarray(y).sum(0).astype(int).tolist()
    else:
        flat = y.reshape(-1)
        if flat.size and np.issubdtype(flat.dtype, np.floating) and not np.allclose(
                flat, np.round(flat)):
            out.update(format="continuous", width=1, n_classes=n_classes)
            return out
        flat = flat.astype(int)
        k = int(flat.max()) + 1 if flat.size else 0
        out.update(format="sparse", width=1, n_classes=max(k, n_classes or 0),
                   max_label=int(flat.max()) if flat.size else None)
        out["counts"] = np.bincount(flat, minlength=out["n_classes"]).tolist() if flat.size and \
            flat.min() >= 0 else []
    if n_classes is not None:
        out["n_classes"] = int(n_classes)
    return out


def ln(x: float) -> float:
    return math.log(x)


# Layers that may precede the first weight layer and only rescale, resize or augment (in
# inference they are deterministic): the values they pass on are what the network sees.
PREPROCESSING = ("Rescaling", "Normalization", "Resizing", "CenterCrop", "Lambda", "Random")
# Weightless layers that move or drop values without rescaling them (identity in inference
# for Dropout and GaussianNoise): skipped on the way to the first weight layer.
VALUE_KEEPING = ("InputLayer", "Flatten", "Reshape", "Permute", "Dropout", "SpatialDropout2D",
                 "GaussianNoise", "ZeroPadding2D", "Cropping2D")


def network_inputs(model: Any, x: np.ndarray) -> np.ndarray | None:
    """``x`` after the model's leading preprocessing layers (``Rescaling``,
    ``Normalization``, ``Lambda`` ...), i.e. what its first weight layer receives; ``x``
    itself when there are none; ``None`` when the preprocessing cannot be replayed (a
    layer that is neither preprocessing nor a weight layer comes first, or it fails).

    Example:
        >>> import keras
        >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Rescaling(0.5),
        ...                       keras.layers.Dense(1)])
        >>> network_inputs(m, np.full((1, 2), 4.0, "float32")).tolist()
        [[2.0, 2.0]]
    """
    import keras

    if len(getattr(model, "inputs", None) or [None]) > 1:
        return None
    out = x
    for layer in _leaf_layers(model):
        name = type(layer).__name__
        if name in VALUE_KEEPING or "Pooling" in name:  # pooling averages or picks values
            continue
        if not any(name.startswith(p) for p in PREPROCESSING):
            # the first weight layer gets ``out``; an unknown weightless layer: give up
            return out if layer.weights else None
        try:
            out = keras.ops.convert_to_numpy(layer(out, training=False)
                                             if "training" in _call_args(layer)
                                             else layer(out))
        except Exception:  # noqa: BLE001 - a layer that cannot run on the sample
            return None
    return out


def _call_args(layer: Any) -> tuple[str, ...]:
    import inspect

    try:
        return tuple(inspect.signature(layer.call).parameters)
    except (TypeError, ValueError):
        return ()
