"""The one backend-specific piece of the probes: a training step that also returns gradients.

``make_step`` builds ``step(x, y, apply) -> (loss, grad_norms, weight_norms, update_norms)``
(one norm per kernel) for the current
Keras backend (TF GradientTape inside tf.function / torch autograd / jax.grad); every probe
trains through it, so the gradient health of every probe step is visible.

Example:
    >>> step = make_step(model, loss_fn, optimizer)            # doctest: +SKIP
    >>> loss, gnorms, wnorms, unorms = step(x, y, True)         # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Step = Callable[[Any, Any, bool], tuple[float, np.ndarray, np.ndarray, np.ndarray]]


def resolve_loss(loss: Any) -> Callable[[Any, Any], Any]:
    """A callable ``loss(y_true, y_pred) -> scalar mean`` from a compiled loss spec."""
    import keras

    fn = keras.losses.get(loss) if isinstance(loss, str) else loss
    if fn is None:
        raise ValueError(f"unknown loss {loss!r}")

    def mean_loss(y_true: Any, y_pred: Any) -> Any:
        return keras.ops.mean(fn(y_true, y_pred))

    return mean_loss


def kernel_groups(model: Any) -> tuple[list[str], list[int]]:
    """Names of the trainable kernels (one per weight layer) and their variable indices."""
    names, idx = [], []
    for i, v in enumerate(model.trainable_variables):
        path = getattr(v, "path", v.name)
        if path.endswith("kernel") and len(v.shape) >= 2:
            names.append(path.rsplit("/", 1)[0])
            idx.append(i)
    return names, idx


def make_step(model: Any, loss_fn: Callable[[Any, Any], Any], optimizer: Any) -> Step:
    """A step on the current backend; ``apply=False`` measures without updating."""
    import keras

    tv = model.trainable_variables
    optimizer.build(tv)
    _, kidx = kernel_groups(model)
    backend = keras.backend.backend()

    def total(y: Any, pred: Any) -> Any:
        loss = loss_fn(y, pred)
        if model.losses:
            loss = loss + keras.ops.sum(keras.ops.stack(model.losses))
        return loss

    if backend == "tensorflow":
        import tensorflow as tf

        def _body(x: Any, y: Any, apply: bool) -> Any:
            with tf.GradientTape() as tape:
                loss = total(y, model(x, training=True))
            grads = tape.gradient(loss, tv)
            grads = [g if g is not None else tf.zeros_like(v) for g, v in zip(grads, tv)]
            gn = tf.stack([tf.norm(grads[i]) for i in kidx]) if kidx else tf.zeros([0])
            before = [tf.identity(tv[i].value) for i in kidx]
            if apply:
                optimizer.apply(grads, tv)
            wn = tf.stack([tf.norm(tv[i].value) for i in kidx]) if kidx else tf.zeros([0])
            un = tf.stack([tf.norm(tv[i].value - b) for i, b in zip(kidx, before)]) if kidx \
                else tf.zeros([0])
            return loss, gn, wn, un

        compiled = {True: tf.function(lambda x, y: _body(x, y, True), reduce_retracing=True),
                    False: tf.function(lambda x, y: _body(x, y, False), reduce_retracing=True)}

        def step(x: Any, y: Any, apply: bool
                 ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
            loss, gn, wn, un = compiled[bool(apply)](x, y)
            return float(loss), gn.numpy(), wn.numpy(), un.numpy()

        return step
    if backend == "torch":
        import torch

        def step(x: Any, y: Any, apply: bool
                 ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
            loss = total(y, model(x, training=True))
            params = [v.value for v in tv]
            grads = torch.autograd.grad(loss, params, allow_unused=True)
            grads = [g if g is not None else torch.zeros_like(p) for g, p in zip(grads, params)]
            with torch.no_grad():
                gn = np.array([float(torch.linalg.vector_norm(grads[i])) for i in kidx])
                before = [tv[i].value.detach().clone() for i in kidx]
                if apply:
                    optimizer.apply(grads, tv)
                wn = np.array([float(torch.linalg.vector_norm(tv[i].value)) for i in kidx])
                un = np.array([float(torch.linalg.vector_norm(tv[i].value - b))
                               for i, b in zip(kidx, before)])
            return float(loss.detach()), gn, wn, un

        return step
    if backend == "jax":
        import jax

        ntv = model.non_trainable_variables

        def f(tvals: Any, ntvals: Any, x: Any, y: Any) -> Any:
            pred, new_nt = model.stateless_call(tvals, ntvals, x, training=True)
            return total(y, pred), new_nt

        grad_fn = jax.jit(jax.value_and_grad(f, has_aux=True))

        def step(x: Any, y: Any, apply: bool
                 ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
            tvals = [v.value for v in tv]
            (loss, new_nt), grads = grad_fn(tvals, [v.value for v in ntv], x, y)
            for v, val in zip(ntv, new_nt):
                v.assign(val)
            gn = np.array([float(np.linalg.norm(np.asarray(grads[i]))) for i in kidx])
            before = [np.asarray(tv[i].value) for i in kidx]
            if apply:
                optimizer.apply(grads, tv)
            wn = np.array([float(np.linalg.norm(np.asarray(tv[i].value))) for i in kidx])
            un = np.array([float(np.linalg.norm(np.asarray(tv[i].value) - b))
                           for i, b in zip(kidx, before)])
            return float(loss), gn, wn, un

        return step
    raise NotImplementedError(f"probes support the tensorflow, torch and jax backends; "
                              f"this is {backend!r}")


def probe_copy(model: Any) -> tuple[Any, list[np.ndarray] | None]:
    """A clone with the same weights; or, when the model cannot be cloned (subclassed without
    get_config), the model itself plus a snapshot of its weights to restore in ``finally``."""
    import keras

    weights = model.get_weights()
    try:
        clone = keras.models.clone_model(model)
        clone.set_weights(weights)
        return clone, None
    except Exception:
        return model, weights


def fresh_optimizer(opt: Any, learning_rate: float | None = None) -> Any:
    """A new optimizer of the same class and settings (state not shared with ``opt``)."""
    import keras

    if opt is None:
        return keras.optimizers.Adam(learning_rate or 1e-3)
    cfg = dict(opt.get_config())
    if learning_rate is not None or isinstance(cfg.get("learning_rate"), dict):
        cfg["learning_rate"] = float(learning_rate if learning_rate is not None
                                     else current_lr(opt) or 1e-3)
    return type(opt).from_config(cfg)


def current_lr(opt: Any) -> float | None:
    import keras

    try:
        return float(keras.ops.convert_to_numpy(opt.learning_rate))
    except Exception:
        return None


def reset_optimizer(opt: Any, learning_rate: float) -> None:
    """Zero the optimizer's state (iterations, moments) and set its learning rate."""
    lr_var = getattr(opt, "_learning_rate", None)
    for v in opt.variables:
        if v is lr_var:
            continue
        v.assign(np.zeros(tuple(v.shape), dtype=str(v.dtype).replace("torch.", "")))
    set_lr(opt, learning_rate)


def set_lr(opt: Any, learning_rate: float) -> None:
    opt.learning_rate.assign(float(learning_rate))
