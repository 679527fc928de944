"""Rebuild a Sequential or functional Keras model with some layers changed (``run --repair``).

The run-time remedies that change the architecture (the output head, a bottleneck's width,
pooling, a conv block) go through :func:`rebuild`: the model's graph is traced again with
each layer passed to ``edit``, which returns the layers to call in its place (the layer
itself, a changed copy, extra layers around it, or nothing to drop it). Layers that are not
changed are reused as they are (the same objects, so the user's model and the repaired one
share their weights, as the input-scaling wrapper does) while their input shape still fits;
a layer whose input changed shape is cloned from its config, and the clone keeps the
original's weights where every shape still matches. Subclassed models have no graph to
trace: :func:`rebuild` raises ``TypeError`` for them.

Library code: Keras is imported inside the functions.

Example:
    >>> def edit(layer):                                   # doctest: +SKIP
    ...     if layer.name == "embedding":
    ...         return [widened(layer, 64)]
    ...     return None                                    # unchanged
    >>> new = rebuild(model, edit)                         # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# edit(layer) -> None (keep the layer), or the layers to call in sequence instead ([]: drop)
Edit = Callable[[Any], "list[Any] | None"]


def is_graph_model(model: Any) -> bool:
    """True for a Sequential or functional model (one whose layer graph can be traced)."""
    import keras

    return isinstance(model, keras.Sequential) or type(model).__name__ == "Functional" or (
        hasattr(model, "_operations") and hasattr(model, "_inputs_struct"))


def clone_layer(layer: Any, **changes: Any) -> Any:
    """A new, unbuilt layer of the same class and config (and name), with ``changes``
    applied. The name can stay: the new layer replaces the old one in the new model."""
    cfg = layer.get_config()
    cfg.update(changes)
    return type(layer).from_config(cfg)


def _copy_weights(src: Any, dst: Any) -> bool:
    """Copy ``src``'s weights to ``dst`` when every shape matches; True when copied."""
    a, b = src.get_weights(), dst.get_weights()
    if not a or len(a) != len(b) or any(x.shape != y.shape for x, y in zip(a, b)):
        return False
    dst.set_weights(a)
    return True


def _call(layers: list[Any], original: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
          log: dict[str, Any]) -> Any:
    out: Any = args
    for i, ly in enumerate(layers):
        kw = kwargs if i == 0 else {}
        try:
            out = (ly(*out, **kw),)
        except (ValueError, TypeError):
            if ly is not original:
                raise
            # the input changed shape (e.g. a wider layer before it): a fresh copy
            fresh = clone_layer(ly)
            out = (fresh(*out, **kw),)
            (log["kept_weights"] if _copy_weights(ly, fresh) else log["reinitialized"]).append(
                ly.name)
        side = _side(out[0])
        if side is not None:
            log["sides"].append(side)
    return out[0]


def rebuild(model: Any, edit: Edit, name: str | None = None) -> tuple[Any, dict[str, Any]]:
    """A new functional model: ``model``'s graph with each layer replaced by ``edit(layer)``.

    Args:
        model: a Sequential or functional keras.Model (built: its input shape is known).
        edit: called once per layer, in graph order; returns None to keep the layer or the
            list of layers to call in sequence in its place ([] drops it: identity).
        name: the new model's name (default ``<name>_repaired``).

    Returns:
        (the new model, {"kept_weights": [...], "reinitialized": [...], "sides": [...]}:
        the layers that had to be cloned because their input changed shape, by whether
        their weights fit, and the spatial side of every 4-D output, in graph order).

    Raises:
        TypeError: ``model`` is subclassed (no graph to trace), or tracing it failed.
    """
    import keras

    if not is_graph_model(model):
        raise TypeError(f"{type(model).__name__} is a subclassed model: its graph is in its "
                        "call() code, so the layers cannot be rebuilt at run time")
    log: dict[str, Any] = {"kept_weights": [], "reinitialized": [], "sides": []}

    def call_function(layer: Any, *args: Any, **kwargs: Any) -> Any:
        new = edit(layer)
        return _call([layer] if new is None else list(new), layer, args, kwargs, log)

    new_name = name or f"{model.name}_repaired"
    try:
        if isinstance(model, keras.Sequential):
            inputs = keras.Input(shape=tuple(model.input_shape[1:]))
            x = inputs
            for ly in model.layers:
                x = call_function(ly, x)
            return keras.Model(inputs, x, name=new_name), log
        clone = keras.models.clone_model(model, clone_function=lambda ly: ly,
                                         call_function=call_function)
        return keras.Model(clone.inputs, clone.outputs, name=new_name), log
    except (ValueError, TypeError):
        raise
    except Exception as e:  # a remedy that cannot apply must not crash the run
        raise TypeError(f"the model could not be rebuilt ({type(e).__name__}: {e})") from e


def _side(tensor: Any) -> int | None:
    shape = tuple(getattr(tensor, "shape", ()) or ())
    if len(shape) == 4 and shape[1] is not None and shape[2] is not None:
        return min(int(shape[1]), int(shape[2]))
    return None


def spatial_side(log: dict[str, Any]) -> int | None:
    """The smallest spatial side of the last 4-D (N, H, W, C) output a :func:`rebuild` made
    (what reaches Flatten / global pooling), or None when there was none."""
    sides = log.get("sides") or []
    return sides[-1] if sides else None
