"""Run-time remedies that change the model's layers: output head + loss, bottleneck width,
pooling, a conv block, dropout rates (``run --repair``; registered in ``runtime.HANDLERS``).

Each handler acts only for the finding it is called with (``runtime.apply`` calls a handler
for the remedies of a finding that is present); the ones that change a layer's shape rebuild
the Sequential/functional graph with :func:`convergent.remedies.rebuild.rebuild` (the other
layers and their weights are reused where the shapes allow) and the repair loop recompiles
the new model with a fresh optimizer of the same class and settings. Each returns (what
changed, the snippet: the same edit of the user's script).

Library code: never prints. Keras is imported inside the functions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convergent.findings import Code
from convergent.remedies.rebuild import clone_layer, rebuild, spatial_side
from convergent.remedies.runtime import _flat_layers, _num_classes, _State, handler
from convergent.remedies.transforms import SAFE_DROPOUT

# A Dropout rate above 0.5 drops more units than it keeps: Srivastava et al. (2014) retain
# p = 0.5 of the hidden units at most (rate 0.5) and 0.8 of the inputs; a higher Keras rate
# is most often a keep probability passed as the rate (TF1's tf.nn.dropout(keep_prob), the
# TF2 migration guide: rate = 1 - keep_prob). Such a rate is read as that mistake.
KEEP_PROB_RATE = 0.5
# less_pooling: pools larger than 2x2 are cut to the usual 2x2 (one halving per conv block,
# VGG/LeNet; the over-pooling check's free factor, model/checks.py); then trailing pools are
# dropped while the map reaching Flatten is smaller than this side (the catalog's "keep at
# least 4x4 spatial size before flattening").
POOL_SIZE = 2
MIN_SIDE = 4
# widen_bottleneck: the narrow layer gets the width of the narrower of its hidden neighbours
# (the information it must pass), at least the number of classes (the bottleneck check's
# rule, model/checks.py); with no hidden neighbour, the catalog snippet's Dense(128).
WIDEN_FALLBACK = 128
# add_capacity on images with no convolution: the conv block of the Keras MNIST convnet
# example (keras.io/examples/vision/mnist_convnet: Conv2D(32, 3) - pool - Conv2D(64, 3) -
# pool, ReLU, then Flatten).
CONV_BLOCK = ((32, 3), (64, 3))

_POOLS = ("MaxPooling2D", "AveragePooling2D")
_ACT_LAYERS = ("Activation", "Softmax")


# output head + loss ---------------------------------------------------------------------
def _peek_labels(x: Any) -> np.ndarray | None:
    """One batch of labels from a tf.data dataset or a Keras Sequence/iterator, or None."""
    try:
        if hasattr(x, "take") and hasattr(x, "element_spec"):
            for batch in x.take(1):
                return np.asarray(batch[1]) if isinstance(batch, tuple) and len(batch) > 1 \
                    else None
        if hasattr(x, "__getitem__") and hasattr(x, "__len__") and not isinstance(x, np.ndarray):
            batch = x[0]
            return np.asarray(batch[1]) if isinstance(batch, tuple) and len(batch) > 1 else None
    except Exception:  # noqa: BLE001 - a peek must never break the run
        return None
    return None


def _label_format(s: _State) -> str | None:
    """"sparse" (integer ids) or "onehot", from the finding, the fit's y, or one batch."""
    fmt = s.finding.evidence.get("label_format")
    if fmt in ("sparse", "onehot"):
        return str(fmt)
    y = s.fit_kwargs.get("y")
    y = np.asarray(y) if y is not None else _peek_labels(s.fit_kwargs.get("x"))
    if y is None:
        return None
    return "onehot" if y.ndim == 2 and y.shape[1] > 1 else "sparse"


def _head(model: Any) -> tuple[Any, list[Any]]:
    """(the output Dense, the activation-only layers after it) of a model's layer list."""
    layers = list(model.layers)
    for i in range(len(layers) - 1, -1, -1):
        if hasattr(layers[i], "units"):
            tail = layers[i + 1:]
            if all(type(t).__name__ in _ACT_LAYERS for t in tail):
                return layers[i], tail
            break
    raise ValueError("the output is not a Dense layer (+ activation): edit the model code")


def _act_name(layer: Any) -> str:
    import keras

    if type(layer).__name__ == "Softmax":
        return "softmax"
    name = keras.activations.serialize(layer.activation)
    return name if isinstance(name, str) else str(name)


def _from_logits(loss: Any) -> bool:
    return bool(hasattr(loss, "get_config") and loss.get_config().get("from_logits"))


def _loss_name(loss: Any) -> str:
    if isinstance(loss, str):
        return loss
    return str(getattr(loss, "name", None) or getattr(loss, "__name__", type(loss).__name__))


_LOSS_CLASS = {"binary_crossentropy": "BinaryCrossentropy",
               "categorical_crossentropy": "CategoricalCrossentropy",
               "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy"}


def _fix_head(s: _State) -> tuple[str, str]:
    """Make output units, output activation and loss fit the labels together (C classes):
    C > 2 -> Dense(C, softmax) with sparse_/categorical_crossentropy by the label format;
    2 classes with integer labels -> Dense(1, sigmoid) + binary_crossentropy; 2 one-hot
    columns -> Dense(2, softmax) + categorical_crossentropy. A logits head (no activation,
    a loss with from_logits=True) stays logits."""
    import keras

    n = _num_classes(s)
    fmt = _label_format(s)
    if fmt is None:
        raise ValueError("the label format (integer ids or one-hot) is unknown")
    if n < 2:
        raise ValueError(f"{n} class(es): nothing to classify")
    units, act, loss = (1, "sigmoid", "binary_crossentropy") if n == 2 and fmt == "sparse" \
        else (n, "softmax", "categorical_crossentropy" if fmt == "onehot"
              else "sparse_categorical_crossentropy")
    dense, tail = _head(s.model)
    now_units = int(dense.units)
    now_act = _act_name(tail[-1]) if tail else _act_name(dense)
    old_loss = s.compile_kwargs.get("loss")
    logits = now_act == "linear" and _from_logits(old_loss)
    if logits:
        act = "linear"
    new_loss: Any = getattr(keras.losses, _LOSS_CLASS[loss])(from_logits=True) if logits \
        else loss
    same_loss = _loss_name(old_loss) == loss and _from_logits(old_loss) == logits
    if now_units == units and now_act == act and same_loss:
        raise ValueError(f"the output ({units} unit(s), {act}) and the loss ({loss}) fit the "
                         "labels already")
    changes = []
    if now_units != units:
        new_dense = clone_layer(dense, units=units, activation=act)
        drop = {id(t) for t in tail}

        def edit(ly: Any) -> list[Any] | None:
            if ly is dense:
                return [new_dense]
            return [] if id(ly) in drop else None

        s.model, _ = rebuild(s.model, edit)
        changes.append(f"output Dense {now_units} -> {units} units ({act}; the new layer "
                       "starts untrained)")
    elif now_act != act:
        target = tail[-1] if tail else dense
        if type(target).__name__ == "Softmax":
            raise ValueError("a Softmax layer's activation cannot be changed at run time")
        target.activation = keras.activations.get(act)
        changes.append(f"output activation {now_act} -> {act}")
    if not same_loss:
        s.compile_kwargs["loss"] = new_loss
        changes.append(f"loss {_loss_name(old_loss)} -> {loss}"
                       + (" (from_logits=True)" if logits else ""))
    # by construction the head and the loss now fit the labels and each other: the three
    # codes about them are fixed together (the loop drops them from the script's findings)
    s.fixes |= {Code.MODEL_OUTPUT_UNITS.value, Code.MODEL_LOSS_MISMATCH.value,
                Code.MODEL_OUTPUT_ACTIVATION.value}
    labels = "integer labels" if fmt == "sparse" else "one-hot labels"
    act_arg = "" if act == "linear" else f', activation="{act}"'
    was = f"Dense({now_units})" + (f" + {now_act}" if now_act != "linear" else "")
    snippet = f"layers.Dense({units}{act_arg})  # the output layer (was {was})" \
        if now_units != units or now_act != act else ""
    loss_arg = f"keras.losses.{_LOSS_CLASS[loss]}(from_logits=True)" if logits else f'"{loss}"'
    snippet += ("\n" if snippet else "") + \
        f"model.compile(..., loss={loss_arg})  # {labels}, {n} classes"
    return "; ".join(changes), snippet


@handler("fix_output_units")
def _h_out_units(s: _State) -> tuple[str, str]:
    return _fix_head(s)


@handler("fix_loss")
def _h_loss(s: _State) -> tuple[str, str]:
    return _fix_head(s)


# widths, pooling, capacity ---------------------------------------------------------------
def _find_layer(model: Any, name: Any) -> Any | None:
    for ly in model.layers:
        if ly.name == name or (isinstance(name, str) and name.endswith("/" + ly.name)):
            return ly
    return None


@handler("widen_bottleneck")
def _h_widen(s: _State) -> tuple[str, str]:
    if s.finding.code is not Code.MODEL_BOTTLENECK:
        raise ValueError(f"widen_bottleneck is for MODEL_BOTTLENECK, not {s.finding.code.value}")
    n = _num_classes(s)
    dense = [ly for ly in s.model.layers if hasattr(ly, "units")]
    hidden = dense[:-1]
    narrow = _find_layer(s.model, s.finding.evidence.get("layer"))
    if narrow is None or narrow not in hidden:
        narrow = min(hidden, key=lambda ly: int(ly.units), default=None)
    if narrow is None or int(narrow.units) >= n:
        raise ValueError(f"no hidden Dense layer narrower than the {n} classes")
    i = hidden.index(narrow)
    neighbours = [int(ly.units) for ly in hidden[max(0, i - 1):i] + hidden[i + 1:i + 2]]
    width = max(n, min(neighbours) if neighbours else WIDEN_FALLBACK)
    old = int(narrow.units)
    s.model, log = rebuild(s.model, lambda ly: [clone_layer(ly, units=width)]
                           if ly is narrow else None)
    after = f"; re-initialized: {', '.join(log['reinitialized'])}" if log["reinitialized"] else ""
    what = f"{narrow.name}: Dense {old} -> {width} units (its neighbours: {neighbours}; " \
        f"{n} classes){after}"
    return (what, f"layers.Dense({width}, ...)  # layer {narrow.name}, was Dense({old})")


def _pool_size(ly: Any) -> tuple[int, int]:
    p = ly.pool_size
    return (int(p), int(p)) if isinstance(p, int) else (int(p[0]), int(p[1]))


@handler("less_pooling")
def _h_less_pooling(s: _State) -> tuple[str, str]:
    if s.finding.code is not Code.MODEL_OVER_POOLING:
        raise ValueError(f"less_pooling is for MODEL_OVER_POOLING, not {s.finding.code.value}")
    pools = [ly for ly in s.model.layers if type(ly).__name__ in _POOLS]
    if not pools:
        raise ValueError("no MaxPooling2D/AveragePooling2D layer to change")
    shrink = {id(ly) for ly in pools if max(_pool_size(ly)) > POOL_SIZE}
    dropped: list[Any] = []
    notes = [f"{ly.name} {_pool_size(ly)[0]}x{_pool_size(ly)[1]} -> {POOL_SIZE}x{POOL_SIZE}"
             for ly in pools if id(ly) in shrink]

    def edit(ly: Any) -> list[Any] | None:
        if ly in dropped:
            return []
        if id(ly) in shrink:
            return [clone_layer(ly, pool_size=(POOL_SIZE, POOL_SIZE),
                                strides=(POOL_SIZE, POOL_SIZE))]
        return None

    new, log = rebuild(s.model, edit)
    kept = [ly for ly in pools]
    while (spatial_side(log) or MIN_SIDE) < MIN_SIDE and len(dropped) < len(kept):
        dropped.append(kept[-1 - len(dropped)])  # the last pool first
        new, log = rebuild(s.model, edit)
    notes += [f"{ly.name} removed" for ly in dropped]
    if not notes:
        raise ValueError(f"the pools are {POOL_SIZE}x{POOL_SIZE} already and the map reaching "
                         f"Flatten is {spatial_side(log)} wide (>= {MIN_SIDE})")
    s.model = new
    lines = [f"layers.MaxPooling2D(pool_size=({POOL_SIZE}, {POOL_SIZE}))  # {ly.name}, was "
             f"{_pool_size(ly)}" for ly in pools if id(ly) in shrink and ly not in dropped]
    lines += [f"# remove {ly.name} ({type(ly).__name__})" for ly in dropped]
    return (f"{'; '.join(notes)}: the map reaching Flatten is {spatial_side(log)}x"
            f"{spatial_side(log)}" + (f"; re-initialized: {', '.join(log['reinitialized'])}"
                                      if log["reinitialized"] else ""), "\n".join(lines))


@handler("add_capacity")
def _h_add_capacity(s: _State) -> tuple[str, str]:
    import keras

    if s.finding.code is not Code.MODEL_TOO_SMALL:
        raise ValueError(f"add_capacity acts on MODEL_TOO_SMALL, not {s.finding.code.value}")
    shape = tuple(s.model.input_shape)
    if len(shape) != 4:
        raise ValueError(f"input {shape} is not an image batch: widen the layers in the code")
    if any(type(ly).__name__.startswith("Conv") for ly in _flat_layers(s.model)):
        raise ValueError("the model has convolutions already: more filters need the model code")
    first = next((ly for ly in s.model.layers if type(ly).__name__ in (
        "Flatten", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Reshape")), None)
    if first is None:
        raise ValueError("no Flatten/global pooling to put the convolutions before")

    def block() -> list[Any]:
        out = []
        for filters, k in CONV_BLOCK:
            out += [keras.layers.Conv2D(filters, k, activation="relu"),
                    keras.layers.MaxPooling2D(POOL_SIZE)]
        return out

    s.model, log = rebuild(s.model, lambda ly: block() + [ly] if ly is first else None)
    lines = [f'layers.Conv2D({f}, {k}, activation="relu"), layers.MaxPooling2D({POOL_SIZE}),'
             for f, k in CONV_BLOCK]
    what = f"{len(CONV_BLOCK)} conv blocks ({', '.join(str(f) for f, _ in CONV_BLOCK)} " \
        f"filters) before {first.name}; re-initialized: {', '.join(log['reinitialized']) or '-'}"
    return (what, "\n".join(lines) + f"  # before {first.name}")


# dropout ---------------------------------------------------------------------------------
@handler("less_dropout")
def _h_less_dropout(s: _State) -> tuple[str, str]:
    changed = []
    for ly in _flat_layers(s.model):
        if type(ly).__name__ in ("Dropout", "SpatialDropout2D") and ly.rate > SAFE_DROPOUT:
            old = float(ly.rate)
            # a rate above KEEP_PROB_RATE reads as a keep probability: 1 - rate
            new = round(min(SAFE_DROPOUT, 1.0 - old), 6) if old > KEEP_PROB_RATE \
                else SAFE_DROPOUT
            ly.rate = new
            changed.append((ly.name, old, new))
    if not changed:
        raise ValueError(f"no dropout rate above {SAFE_DROPOUT}")
    what = ", ".join(f"{n} {o:g} -> {r:g}" for n, o, r in changed)
    keep = any(o > KEEP_PROB_RATE for _, o, _ in changed)
    snippet = "\n".join(f"layers.Dropout({r:g})  # {n}, was {o:g}" for n, o, r in changed)
    if keep:
        snippet += "\n# Keras Dropout takes the fraction to drop: rate = 1 - keep_prob"
    return f"{len(changed)} dropout rate(s): {what}", snippet


# batch-norm statistics ----------------------------------------------------------------
# BatchNormalization's moving averages weight the last ~1/(1 - momentum) steps: Keras'
# default 0.99 needs hundreds of steps to forget its initial 0/1, 0.9 about ten (PyTorch's
# default, momentum=0.1 in its convention: new = 0.9 old + 0.1 batch).
BN_MOMENTUM = 0.9


@handler("bn_momentum")
def _h_bn_momentum(s: _State) -> tuple[str, str]:
    changed = []
    for ly in _flat_layers(s.model):
        if type(ly).__name__ == "BatchNormalization" and float(ly.momentum) > BN_MOMENTUM:
            changed.append((ly.name, float(ly.momentum)))
            ly.momentum = BN_MOMENTUM
    if not changed:
        raise ValueError(f"no BatchNormalization momentum above {BN_MOMENTUM}")
    what = ", ".join(f"{n} {m:g} -> {BN_MOMENTUM:g}" for n, m in changed)
    snippet = "\n".join(f"layers.BatchNormalization(momentum={BN_MOMENTUM:g})  # {n}, was {m:g}"
                        for n, m in changed)
    return f"{len(changed)} BatchNormalization momentum(s): {what}", snippet


@handler("zero_bias")
def _h_zero_bias(s: _State) -> tuple[str, str]:
    """Zero the biases of the layers the finding names (their constant negative start)."""
    names = set(s.finding.evidence.get("layers") or ())
    changed = [ly.name for ly in _flat_layers(s.model)
               if ly.name in names and getattr(ly, "bias", None) is not None]
    if not changed:
        raise ValueError("no layer of the finding has a bias")
    for ly in _flat_layers(s.model):
        if ly.name in changed:
            ly.bias.assign(np.zeros(ly.bias.shape, dtype="float32"))
    snippet = "\n".join(f"bias_initializer='zeros'  # {n}" for n in changed)
    return f"{len(changed)} layer(s) start with zero biases: {', '.join(changed)}", snippet


# untracked variables ---------------------------------------------------------------------
@handler("track_weights")
def _h_track_weights(s: _State) -> tuple[str, str]:
    """Replace each backend variable a layer holds as a plain attribute (``self.w =
    tf.Variable(...)`` in ``build``: Keras 3 does not track it, so the optimizer never
    updates it) by a Keras weight of the same shape and current value, made with
    ``add_weight`` under the same attribute: the layer's ``call`` reads it unchanged and
    the recompiled optimizer trains it."""
    import keras

    from convergent.model.facts import untracked_variable_attrs

    found = untracked_variable_attrs(s.model)
    if not found:
        raise ValueError("every layer variable is already tracked")
    names = []
    for layer, attr, v in found:
        value = np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v.numpy())
        tracker = getattr(layer, "_tracker", None)
        locked = bool(getattr(tracker, "locked", False))
        if locked:
            tracker.unlock()
        try:
            weight = layer.add_weight(shape=value.shape, dtype=value.dtype.name, name=attr,
                                      initializer=keras.initializers.Constant(value),
                                      trainable=True)
            setattr(layer, attr, weight)
        finally:
            if locked:
                tracker.lock()
        names.append(f"{layer.name}.{attr}")
    snippet = "\n".join(f"self.{attr} = self.add_weight(shape={tuple(np.shape(v))}, "
                        f"initializer=..., trainable=True)  # {layer.name}, in build()"
                        for layer, attr, v in found)
    return f"{len(names)} variable(s) made Keras weights: {', '.join(names[:6])}", snippet
