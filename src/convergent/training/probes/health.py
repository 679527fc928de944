"""Gradient and activation health: per-layer gradient norms, dead ReLU and saturated units.

Pure summaries (``grad_summary``) take the plain gradient log the session keeps; the only
Keras piece is ``activation_stats``, which reads hidden activations through a functional
sub-model (Sequential/functional models only).

Example:
    >>> log = [{"run": "init", "step": 0, "grad": [1e-9, 1.0], "weight": [1.0, 1.0]}]
    >>> grad_summary(log, ["a", "b"])["first_to_last"] < 1e-6
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np

RELU_NAMES = {"relu", "relu6"}
SATURATING = {"sigmoid": (0.01, 0.99), "hard_sigmoid": (0.01, 0.99), "tanh": (-0.99, 0.99),
              "softsign": (-0.99, 0.99)}


def grad_summary(log: list[dict[str, Any]], layers: list[str], run: str | None = None
                 ) -> dict[str, Any]:
    """Relative gradients ||g||/||w|| per layer, averaged over the steps of ``run``."""
    rows = [r for r in log if run is None or r["run"] == run]
    if not rows or not layers:
        return {}
    g = np.array([r["grad"] for r in rows], dtype="float64")
    w = np.array([r["weight"] for r in rows], dtype="float64")
    rel = g / np.maximum(w, 1e-12)
    finite = bool(np.all(np.isfinite(g)))
    mean_rel = np.nanmean(np.where(np.isfinite(rel), rel, np.nan), axis=0)
    first, last = float(mean_rel[0]), float(mean_rel[-1])
    upd = [r["update"] for r in rows if "update" in r]
    update_ratio = None
    if upd:
        u = np.array(upd, dtype="float64") / np.maximum(w[:len(upd)], 1e-12)
        update_ratio = float(np.nanmedian(np.where(np.isfinite(u), u, np.nan)))
    return {"relative": mean_rel.tolist(), "first_to_last": first / max(last, 1e-30),
            "update_ratio": update_ratio,
            "finite": finite, "max_grad": float(np.nanmax(np.where(np.isfinite(g), g, np.nan)))
            if np.any(np.isfinite(g)) else float("nan"),
            "growth": float(np.nanmax(g[-1]) / max(float(np.nanmax(g[0])), 1e-30))
            if len(g) > 1 and finite else 1.0}


def grad_norm_metrics(log: list[dict[str, Any]], layers: list[str], kind: str = "grad"
                      ) -> dict[str, Any]:
    """``{"layers", "steps", "values"}``: values[i][j] = ||g|| of layer i at logged step j
    (``kind="update_ratio"``: ||dW||/||W|| instead, for the steps that updated)."""
    if kind == "update_ratio":
        log = [r for r in log if "update" in r]
        values = [[float(r["update"][i]) / max(float(r["weight"][i]), 1e-12) for r in log]
                  for i in range(len(layers))]
    else:
        values = [[float(r["grad"][i]) for r in log] for i in range(len(layers))]
    steps = [f"{r['run']}:{r['step']}" for r in log]
    return {"layers": layers, "steps": steps, "values": values}


def activation_layers(model: Any) -> list[tuple[Any, str]]:
    """Layers whose output is a ReLU or a saturating activation, with that activation."""
    out = []
    for layer in getattr(model, "layers", []):
        cls = type(layer).__name__
        if cls == "ReLU":
            out.append((layer, "relu"))
            continue
        fn = getattr(layer, "activation", None)
        name = getattr(fn, "__name__", "") if fn is not None else ""
        if name in RELU_NAMES or name in SATURATING:
            out.append((layer, name))
    return out


def activation_stats(model: Any, x: np.ndarray) -> dict[str, Any]:
    """Per layer: fraction of ReLU units dead on every sample of ``x`` and fraction of
    sigmoid/tanh outputs in their flat tails. Empty when the model has no graph to tap."""
    import keras

    acts = activation_layers(model)
    if not acts or not getattr(model, "inputs", None):
        return {}
    import warnings

    try:
        tap = keras.Model(model.inputs, [layer.output for layer, _ in acts])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # input-structure notice of the tap model
            outs = tap(x, training=False)
    except Exception:
        return {}
    if not isinstance(outs, (list, tuple)):
        outs = [outs]
    dead, sat = {}, {}
    for (layer, name), o in zip(acts, outs):
        a = keras.ops.convert_to_numpy(o).astype("float64")
        if name in RELU_NAMES:
            per_unit = a.reshape(-1, a.shape[-1])
            dead[layer.name] = float(np.mean(np.all(per_unit <= 0, axis=0)))
        else:
            lo, hi = SATURATING[name]
            sat[layer.name] = float(np.mean((a <= lo) | (a >= hi)))
    return {"dead_fraction": dead, "saturated_fraction": sat}
