"""``convergent.Monitor``: a Keras 3 callback that watches a real run and explains it.

The callback only collects; :mod:`convergent.training.curves` decides. It records per-epoch
logs, each batch's loss (recovered from Keras' running mean, no extra work), the learning
rate, and — every ``sample_every`` steps — per-layer gradient norms and weight-update
ratios, and dead-ReLU / saturated fractions on a small fixed probe batch.

It never changes what training computes: probes run with ``training=False`` (no dropout,
so no seed-generator draws; no BatchNorm statistic updates), gradients are computed
without touching ``.grad`` or the optimizer, and ``logs`` are read, never written. The same
seed gives the same final weights with and without the Monitor (tested on TF and torch).

Example:
    >>> mon = Monitor(stop_on=("error",), probe_data=(x[:32], y[:32]))  # doctest: +SKIP
    >>> model.fit(x, y, epochs=10, callbacks=[mon])                     # doctest: +SKIP
    >>> mon.report().findings[0].code                                   # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from typing import Any

import keras
import numpy as np

from convergent.findings import Code, Finding, Report, Severity
from convergent.model.facts import NORM_LAYERS
from convergent.training import curves
from convergent.training.curves import RunFacts

# Expensive statistics (one probe forward+backward pass) cost about one small training step
# each; sampling every 25+ steps (and at most ~4 times an epoch) keeps them near 2/25 of
# the step time or less. Measured: benchmarks/perf/monitor_overhead.py.
MIN_SAMPLE_EVERY = 25
SAMPLES_PER_EPOCH = 4
# ... and, measured as the fit runs, the samples after the first two (step 0, which tells
# a fault present at init and pays the one-time warm-up, and the next, which shows what
# the first updates did) may take at most this share of the wall time so far. A sample
# costs about one training step on small CNNs (an eager gradient 56 ms + the probe
# forward 25 ms vs a 74 ms step on benchmarks/perf/monitor_overhead.py's model, at load
# ~5), so one every 25 steps alone would be ~4 %; 3 % leaves 2 points of issue 6's 5 %
# for the per-batch hooks and the fixed set-up. Applies when ``sample_every`` is not given.
SAMPLE_BUDGET = 0.03
# A probe batch of 32 samples: enough to tell a unit that never fires from a rare one,
# small enough to cost less than one training step.
PROBE_SIZE = 32
# sigmoid outputs beyond [0.01, 0.99] and tanh beyond ±0.99 have derivative < 0.02:
# "saturated" (Glorot & Bengio 2010 describe the same tails)
SATURATION_EDGE = 0.01

_SEVERITIES = {s.value for s in Severity}
_RELU_NAMES = {"relu", "relu6"}
_SATURATING_NAMES = {"sigmoid", "tanh", "hard_sigmoid"}


def _activation_name(layer: Any) -> str | None:
    cls = type(layer).__name__
    if cls == "ReLU":
        return "relu"
    act = getattr(layer, "activation", None)
    if act is None:
        return None
    return str(getattr(act, "__name__", "")).lower() or None


def _to_numpy(t: Any) -> np.ndarray:
    """A backend tensor or variable value as a numpy copy (no deprecated __array__ path)."""
    if hasattr(t, "detach"):  # torch
        return t.detach().cpu().numpy().copy()
    if hasattr(t, "numpy"):  # tensorflow
        return np.array(t.numpy(), copy=True)
    return np.array(t, copy=True)


def _split(outs: Any) -> tuple[Any, list[Any]]:
    """A forward pass's prediction (its last output) and the outputs before it."""
    if isinstance(outs, (list, tuple)):
        return outs[-1], list(outs[:-1])
    return outs, []


def _backend_gradients(model: Any, loss_fn: Any, x: Any, y: Any, variables: list[Any],
                       forward: Any = None) -> tuple[list[np.ndarray | None], list[np.ndarray]]:
    """Gradients of ``loss_fn(y, model(x, training=False))`` w.r.t. ``variables``.

    ``forward`` (TF and torch) is a sub-model over the same layers whose outputs are some
    hidden activations and, last, the prediction: one pass then yields the gradients and
    those activations (returned second, as numpy). The one backend-specific function: no
    optimizer, no ``.grad`` and no RNG is touched.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            pred, extra = _split((forward or model)(x, training=False))
            loss = keras.ops.mean(loss_fn(y, pred))
        grads = tape.gradient(loss, [v.value for v in variables])
        return ([None if g is None else _to_numpy(tf.convert_to_tensor(g)) for g in grads],
                [_to_numpy(e) for e in extra])
    if backend == "torch":
        import torch

        with torch.enable_grad():
            pred, extra = _split((forward or model)(x, training=False))
            loss = keras.ops.mean(loss_fn(y, pred))
            params = [v.value for v in variables]
            grads = torch.autograd.grad(loss, params, allow_unused=True)
        return ([None if g is None else g.detach().cpu().numpy() for g in grads],
                [_to_numpy(e) for e in extra])
    if backend == "jax":
        import jax

        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]

        def f(tv: list[Any]) -> Any:
            out, _ = model.stateless_call(tv, non_trainable, x, training=False)
            return keras.ops.mean(loss_fn(y, out))

        g = jax.grad(f)(trainable)
        by_id = {id(v): np.asarray(gi) for v, gi in zip(model.trainable_variables, g)}
        return [by_id.get(id(v)) for v in variables], []
    raise NotImplementedError(f"gradients on backend {backend!r} are not supported")


class Monitor(keras.callbacks.Callback):
    """Watch a training run; detect divergence, bad LR, dead units and bad curves live.

    Args:
        stop_on: severities (``"error"``, ``"warning"``) or finding codes that end the run
            (``model.stop_training``) as soon as they are found; the report says why.
        sample_every: steps between expensive samples (gradients, activations); ``None``
            picks ``max(25, steps_per_epoch // 4)`` and skips those that would take the
            samples past SAMPLE_BUDGET (3 %) of the fit's wall time.
        probe_data: ``(x, y)`` arrays; the first ``probe_size`` samples (evenly strided)
            are the fixed probe batch. Without it gradients and activations are skipped.
        probe_size: samples in the probe batch.
        facts: known facts about the data (``n_classes``, ``n_train``, ``n_val``,
            ``batch_size``, ``majority_fraction``) merged into the analysis.
        overrides: thresholds, ``{check_name: {PARAM: value}}`` (see ``curves.CURVES``).

    Example:
        >>> mon = Monitor(stop_on=("error",))                      # doctest: +SKIP
        >>> model.fit(x, y, epochs=5, callbacks=[mon])              # doctest: +SKIP
        >>> mon.report().codes                                      # doctest: +SKIP
    """

    # Our batch-end hook only stores floats: safe to run from Keras' async dispatch
    # thread, so adding the Monitor keeps Keras' async callback dispatch on.
    async_safe = True

    def __init__(self, stop_on: Iterable[str] = (), sample_every: int | None = None,
                 probe_data: tuple[Any, Any] | None = None, probe_size: int = PROBE_SIZE,
                 facts: Mapping[str, Any] | None = None,
                 overrides: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        super().__init__()
        if isinstance(stop_on, str):
            stop_on = (stop_on,)
        self.stop_on = tuple(stop_on)
        codes = {c.value for c in Code}
        bad = [s for s in self.stop_on if s not in _SEVERITIES and s not in codes]
        if bad:
            raise ValueError(f"stop_on accepts severities {sorted(_SEVERITIES)} or finding "
                             f"codes; received {bad!r}")
        if sample_every is not None and int(sample_every) < 1:
            raise ValueError(f"sample_every must be >= 1; received sample_every={sample_every}")
        self.sample_every = sample_every
        self.probe_size = int(probe_size)
        self.facts = dict(facts or {})
        self.overrides = overrides
        self._probe_raw = probe_data
        self._reset()

    # -- state ---------------------------------------------------------------------------
    def _reset(self) -> None:
        self.history: dict[str, list[float]] = {}
        self._batch_logs: dict[tuple[int, int], float] = {}
        self.steps: dict[str, list[float]] = {"step": [], "epoch": [], "loss": []}
        self.grad = {"layers": [], "sizes": [], "steps": [], "epochs": [], "values": []}
        self.updates = {"layers": [], "sizes": [], "steps": [], "epochs": [], "values": []}
        self.wnorms = {"layers": [], "sizes": [], "steps": [], "epochs": [], "values": []}
        self.dead = {"steps": [], "epochs": [], "values": [], "per_layer": []}
        self.saturated = {"steps": [], "epochs": [], "values": []}
        # RMS of each probed hidden activation (the layers of ``_probe_layers``, in order)
        self.act_rms = {"layers": [], "activations": [], "steps": [], "epochs": [],
                        "values": []}
        # per BatchNormalization layer at each epoch end: the mean square of its inputs
        # normalized by its moving statistics, in inference mode (1 when they agree)
        self.bn = {"layers": [], "epochs": [], "values": []}
        # of the model's probability outputs on the probe at each epoch end: the largest
        # spread of log-probabilities within one prediction, and the smallest entry of
        # their softmax preimage (see _sample_outputs)
        self.outputs = {"epochs": [], "log_spread": [], "min_preimage": [], "n_classes": None}
        self.errors: list[str] = []
        self.detected: dict[str, int] = {}
        self.stopped: dict[str, Any] | None = None
        self._findings: list[Finding] = []
        self._curve_metrics: dict[str, Any] = {}
        self._epoch = 0
        self._global_step = 0
        self._steps_done_before_epoch = 0
        self._snapshot: tuple[int, list[np.ndarray]] | None = None
        self._set_up_late = False  # set up again once the first step has built the model
        self._every = 1
        self._probe: tuple[Any, Any] | None = None
        self._probe_model: Any = None
        self._probe_full: Any = None
        self._probe_layers: list[tuple[str, str]] = []
        self._bn_model: Any = None
        self._bn_layers: list[Any] = []
        self._loss_fn: Any = None
        self._groups: list[tuple[str, list[int]]] = []
        self._sample_seconds = 0.0
        self._first_sample = 0.0  # seconds of the step-0 sample
        self._last_sample = 0.0  # seconds of the latest sample: the next one's estimate
        self._skipped_samples = 0  # scheduled samples left out by SAMPLE_BUDGET
        self._taken = 0  # samples taken (or being taken)
        self._t0 = time.perf_counter()
        self._fit_seconds = 0.0

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        self._reset()
        steps = (self.params or {}).get("steps") or 0
        self._every = int(self.sample_every or max(MIN_SAMPLE_EVERY,
                                                   math.ceil(steps / SAMPLES_PER_EPOCH)))
        self._set_up()

    def _set_up(self) -> None:
        try:
            self._setup_probe()
        except Exception as e:  # fail soft: curves still work without the probe
            self.errors.append(f"probe setup: {type(e).__name__}: {e}")
            self._probe = None

    def _setup_probe(self) -> None:
        model = self.model
        variables = list(model.trainable_variables)
        groups: dict[str, list[int]] = {}
        for i, v in enumerate(variables):
            path = getattr(v, "path", v.name)
            layer = path.rsplit("/", 1)[0] if "/" in path else path
            groups.setdefault(layer, []).append(i)
        self._groups = list(groups.items())
        names = [g for g, _ in self._groups]
        sizes = [int(sum(int(np.prod(variables[i].shape)) for i in idx))
                 for _, idx in self._groups]
        for d in (self.grad, self.updates, self.wnorms):
            d["layers"], d["sizes"] = names, sizes
        if self._probe_raw is None:
            return
        x, y = self._probe_raw
        n = len(x)
        stride = max(1, n // self.probe_size)
        x = np.asarray(x[::stride][: self.probe_size])
        y = None if y is None else np.asarray(y[::stride][: self.probe_size])
        self._probe = (keras.ops.convert_to_tensor(x),
                       None if y is None else keras.ops.convert_to_tensor(y))
        loss = getattr(model, "loss", None)
        if isinstance(loss, (str, keras.losses.Loss)) or callable(loss):
            self._loss_fn = keras.losses.get(loss) if isinstance(loss, str) else loss
        self._setup_bn_probe(model)
        layers = [lay for lay in model.layers[:-1]]
        chosen = [(lay, a) for lay in layers if (a := _activation_name(lay))
                  and (a in _RELU_NAMES or a in _SATURATING_NAMES)]
        if chosen and getattr(model, "inputs", None):
            self._probe_model = keras.Model(model.inputs, [lay.output for lay, _ in chosen])
            self._probe_layers = [(lay.name, a) for lay, a in chosen]
            self.act_rms["layers"] = [lay.name for lay, _ in chosen]
            self.act_rms["activations"] = [a for _, a in chosen]
            if keras.backend.backend() in ("tensorflow", "torch") \
                    and len(getattr(model, "outputs", None) or []) == 1:
                # activations and prediction from one pass: a sample costs one forward
                # and one backward instead of two forwards and one backward
                try:
                    self._probe_full = keras.Model(
                        model.inputs, [lay.output for lay, _ in chosen] + list(model.outputs))
                except Exception as e:  # the separate passes still work
                    self.errors.append(f"combined probe: {type(e).__name__}: {e}")

    def _setup_bn_probe(self, model: Any) -> None:
        bns = [lay for lay in model.layers if type(lay).__name__ == "BatchNormalization"]
        if not bns or not getattr(model, "inputs", None):
            return
        try:
            self._bn_model = keras.Model(model.inputs, [lay.input for lay in bns])
        except Exception as e:  # a layer used twice, or outside the graph: no BN facts
            self.errors.append(f"batch-norm probe: {type(e).__name__}: {e}")
            return
        self._bn_layers = bns
        self.bn["layers"] = [lay.name for lay in bns]

    def _sample_bn(self, epoch: int) -> None:
        """How far each BatchNormalization layer's moving statistics are from the inputs
        it normalizes at inference: mean over channels of ((x - moving_mean)^2 /
        moving_variance) on the probe batch, in inference mode (so each layer sees what
        validation and predict feed it). 1 when they agree."""
        if self._bn_model is None or self._probe is None:
            return
        outs = self._bn_model(self._probe[0], training=False)
        if not isinstance(outs, (list, tuple)):
            outs = [outs]
        vals = []
        for layer, out in zip(self._bn_layers, outs):
            a = _to_numpy(out).astype(np.float64)
            axis = layer.axis if isinstance(layer.axis, int) else layer.axis[0]
            a = np.moveaxis(a, axis, -1).reshape(-1, a.shape[axis])
            mean = _to_numpy(layer.moving_mean).astype(np.float64)
            var = _to_numpy(layer.moving_variance).astype(np.float64) + layer.epsilon
            vals.append(float(np.median(np.mean((a - mean) ** 2, axis=0) / var)))
        self.bn["epochs"].append(int(epoch))
        self.bn["values"].append(vals)

    def _sample_outputs(self, epoch: int) -> None:
        """The widest spread max(log p) - min(log p) of any probe prediction, when the
        model outputs one probability vector per sample (rows of >= 2 non-negative values
        summing to 1)."""
        if self._probe is None:
            return
        out = self.model(self._probe[0], training=False)
        if isinstance(out, (list, tuple, dict)):
            return  # several outputs: not one probability vector per sample
        p = _to_numpy(out).astype(np.float64)
        if p.ndim != 2 or p.shape[1] < 2 or (p < 0).any() or \
                not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
            return
        logp = np.log(np.maximum(p, 1e-30))
        # softmax(z) fixes z up to a constant: z = log p - mean(log p) + 1/C is the one
        # summing to 1, and it is a probability vector (all >= 0) when z was one
        z = logp - logp.mean(axis=1, keepdims=True) + 1.0 / p.shape[1]
        self.outputs["epochs"].append(int(epoch))
        self.outputs["log_spread"].append(float((logp.max(1) - logp.min(1)).max()))
        self.outputs["min_preimage"].append(float(z.min()))
        self.outputs["n_classes"] = int(p.shape[1])

    # -- per batch -------------------------------------------------------------------------
    def on_train_batch_begin(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        step = self._steps_done_before_epoch + batch
        self._global_step = step
        if not self._groups and not self._set_up_late and step > 0 \
                and self.model.trainable_variables:
            self._set_up_late = True  # once: a failing set-up is not retried every step
            # a subclassed model is built by its first training step (TF, JAX): set up now,
            # and drop what was sampled of the unbuilt model
            for d in (self.grad, self.updates, self.wnorms, self.dead, self.saturated,
                      self.act_rms):
                for k in ("steps", "epochs", "values", "per_layer"):
                    if k in d:
                        d[k] = []
            self._snapshot = None
            self._set_up()
        snap = self._snapshot
        if snap is not None and step > snap[0]:
            self._record_update_ratio(snap, step)
        if step % self._every == 0 and self._within_budget(step):
            t = time.perf_counter()
            try:
                self._sample(step)
            except Exception as e:  # never break the user's run
                self.errors.append(f"sample at step {step}: {type(e).__name__}: {e}")
            self._last_sample = time.perf_counter() - t
            self._sample_seconds += self._last_sample
            if step == 0:
                self._first_sample = self._last_sample

    def _within_budget(self, step: int) -> bool:
        """Sample now? Always the first two and with an explicit ``sample_every``;
        otherwise only while the later samples, this one included, stay within
        SAMPLE_BUDGET (the latest sample's cost estimates this one's)."""
        if self.sample_every is not None or self._taken < 2:
            self._taken += 1
            return True
        later = self._sample_seconds - self._first_sample
        if later + self._last_sample <= SAMPLE_BUDGET * (time.perf_counter() - self._t0):
            self._taken += 1
            return True
        self._skipped_samples += 1
        return False

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        logs = logs or {}
        loss = logs.get("loss")
        if loss is None:
            return
        try:
            loss = float(loss)
        except (TypeError, ValueError):
            return
        self._batch_logs[(self._epoch, int(batch))] = loss
        if not math.isfinite(loss) and "TRAIN_DIVERGED" not in self.detected:
            self.detected["TRAIN_DIVERGED"] = self._epoch
            if self._stops(Code.TRAIN_DIVERGED, Severity.ERROR):
                self._stop(f"the loss became {loss} at step "
                           f"{self._steps_done_before_epoch + int(batch)}", "TRAIN_DIVERGED")

    def _weights(self) -> list[np.ndarray]:
        return [_to_numpy(v.value) for v in self.model.trainable_variables]

    def _record_update_ratio(self, snap: tuple[int, list[np.ndarray]], step: int) -> None:
        self._snapshot = None
        try:
            now = self._weights()
        except Exception as e:
            self.errors.append(f"weights at step {step}: {type(e).__name__}: {e}")
            return
        before = snap[1]
        ratios = []
        for _, idx in self._groups:
            dw = math.sqrt(sum(float(np.sum((now[i] - before[i]) ** 2)) for i in idx))
            w = math.sqrt(sum(float(np.sum(before[i] ** 2)) for i in idx))
            ratios.append(dw / w if w > 0 else float("nan"))
        self.updates["steps"].append(snap[0])
        self.updates["epochs"].append(self._epoch)
        self.updates["values"].append(ratios)

    def _sample(self, step: int) -> None:
        weights = self._weights()
        self._snapshot = (step, weights)
        self.wnorms["steps"].append(step)
        self.wnorms["epochs"].append(self._epoch)
        self.wnorms["values"].append(
            [math.sqrt(sum(float(np.sum(np.square(weights[i], dtype=np.float64)))
                           for i in idx)) for _, idx in self._groups])
        if self._probe is None:
            return
        x, y = self._probe
        model = self.model
        outs = None
        if y is not None and self._loss_fn is not None:
            grads, acts = _backend_gradients(model, self._loss_fn, x, y,
                                             list(model.trainable_variables),
                                             forward=self._probe_full)
            if self._probe_full is not None:
                outs = acts
            norms = []
            for _, idx in self._groups:
                sq = [float(np.sum(np.square(grads[i], dtype=np.float64)))
                      for i in idx if grads[i] is not None]
                norms.append(math.sqrt(sum(sq)) if sq else 0.0)
            self.grad["steps"].append(step)
            self.grad["epochs"].append(self._epoch)
            self.grad["values"].append(norms)
        if self._probe_model is not None:
            if outs is None:
                outs = self._probe_model(x, training=False)
                if not isinstance(outs, (list, tuple)):
                    outs = [outs]
            dead_units = relu_units = 0
            sat_vals = sat_total = 0
            per_layer = {}
            rms = []
            for (name, act), out in zip(self._probe_layers, outs):
                a = _to_numpy(out)
                rms.append(float(np.sqrt(np.mean(np.square(a, dtype=np.float64)))))
                if act in _RELU_NAMES:
                    flat = a.reshape(-1, a.shape[-1])
                    dead = int(np.sum(np.all(flat <= 0, axis=0)))
                    dead_units += dead
                    relu_units += flat.shape[1]
                    per_layer[name] = dead / max(flat.shape[1], 1)
                else:
                    lo, hi = (-1 + SATURATION_EDGE * 2, 1 - SATURATION_EDGE * 2) \
                        if act == "tanh" else (SATURATION_EDGE, 1 - SATURATION_EDGE)
                    sat_vals += int(np.sum((a < lo) | (a > hi)))
                    sat_total += a.size
            self.act_rms["steps"].append(step)
            self.act_rms["epochs"].append(self._epoch)
            self.act_rms["values"].append(rms)
            if relu_units:
                self.dead["steps"].append(step)
                self.dead["epochs"].append(self._epoch)
                self.dead["values"].append(dead_units / relu_units)
                self.dead["per_layer"].append(per_layer)
            if sat_total:
                self.saturated["steps"].append(step)
                self.saturated["epochs"].append(self._epoch)
                self.saturated["values"].append(sat_vals / sat_total)

    # -- per epoch -------------------------------------------------------------------------
    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._epoch = int(epoch)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        logs = dict(logs or {})
        self._flush_batches()
        for k, v in logs.items():
            try:
                self.history.setdefault(k, []).append(float(v))
            except (TypeError, ValueError):
                continue
        if "learning_rate" not in logs:
            lr = self._learning_rate()
            if lr is not None:
                self.history.setdefault("learning_rate", []).append(lr)
        self._steps_done_before_epoch = self._global_step + 1
        t = time.perf_counter()
        for probe in (self._sample_bn, self._sample_outputs):
            try:
                probe(epoch)
            except Exception as e:  # never break the user's run
                self.errors.append(f"epoch-end {probe.__name__}: {type(e).__name__}: {e}")
        # two inference forwards of the probe batch: charged to the samples' time budget
        self._sample_seconds += time.perf_counter() - t
        self._analyze()
        for f in self._findings:
            self.detected.setdefault(f.code.value, int(epoch))
            if self.stopped is None and self._stops(f.code, f.severity):
                self._stop(f"{f.code.value}: {f.title} (epoch {epoch + 1})", f.code.value)

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        self._flush_batches()
        self._fit_seconds = time.perf_counter() - self._t0
        self._analyze()

    def _flush_batches(self) -> None:
        """Turn Keras' running-mean batch logs into each batch's own loss."""
        if not self._batch_logs:
            return
        by_epoch: dict[int, list[tuple[int, float]]] = {}
        for (ep, b), v in self._batch_logs.items():
            by_epoch.setdefault(ep, []).append((b, v))
        self._batch_logs = {}
        base = self._steps_done_before_epoch
        for ep in sorted(by_epoch):
            prev_b, prev_mean = -1, 0.0
            for b, mean in sorted(by_epoch[ep]):
                n_new = b - prev_b
                own = ((b + 1) * mean - (prev_b + 1) * prev_mean) / n_new \
                    if math.isfinite(mean) and math.isfinite(prev_mean) else mean
                self.steps["step"].append(base + b)
                self.steps["epoch"].append(ep)
                self.steps["loss"].append(float(own))
                prev_b, prev_mean = b, mean

    def _learning_rate(self) -> float | None:
        try:
            return float(_to_numpy(self.model.optimizer.learning_rate))
        except Exception:
            return None

    def _stops(self, code: Code, severity: Severity) -> bool:
        return code.value in self.stop_on or severity.value in self.stop_on

    def _stop(self, reason: str, code: str) -> None:
        self.model.stop_training = True
        self.stopped = {"reason": reason, "code": code, "epoch": self._epoch,
                        "step": self._global_step}

    # -- analysis --------------------------------------------------------------------------
    def run_facts(self) -> RunFacts:
        """The plain records collected so far, as curves.py reads them."""
        model = self.model
        params = self.params or {}
        f = self.facts
        return RunFacts(
            history={k: list(v) for k, v in self.history.items()},
            steps={k: list(v) for k, v in self.steps.items()},
            n_classes=f.get("n_classes") or _output_classes(model),
            majority_fraction=f.get("majority_fraction"),
            n_train=f.get("n_train"), n_val=f.get("n_val"),
            batch_size=f.get("batch_size"),
            steps_per_epoch=params.get("steps") or None,
            epochs_planned=params.get("epochs"),
            optimizer=_optimizer_facts(model),
            regularization=_regularization_facts(model),
            grad_norms=self.grad if self.grad["values"] else None,
            update_ratios=self.updates if self.updates["values"] else None,
            weight_norms=self.wnorms if self.wnorms["values"] else None,
            dead_fraction=self.dead if self.dead["values"] else None,
            saturated_fraction=self.saturated if self.saturated["values"] else None,
            activation_rms=self.act_rms if self.act_rms["values"] else None,
            bn_moments=self.bn if self.bn["values"] else None,
            output_spread=self.outputs if self.outputs["epochs"] else None,
            early_stopping=f.get("early_stopping"),
            loss_unsafe=f.get("loss_unsafe"),
        )

    def _analyze(self) -> None:
        try:
            result = curves.analyze_curves(self.run_facts(), self.overrides)
        except Exception as e:
            self.errors.append(f"analysis: {type(e).__name__}: {e}")
            return
        self._findings = result.findings
        self._curve_metrics = result.metrics

    def report(self) -> Report:
        """The run's findings, ranked, with the records behind them.

        Example:
            >>> mon.report().metrics["finding_epochs"]              # doctest: +SKIP
            {'TRAIN_OVERFITTING': 4}
        """
        if self.model is not None and (self._batch_logs or not self._findings):
            self._flush_batches()
            self._analyze()
        findings = list(self._findings)
        if self.stopped is not None:
            findings = [_with_stop(f, self.stopped) for f in findings]
        epochs = dict(self._curve_metrics.get("finding_epochs", {}))
        fit_seconds = self._fit_seconds or (time.perf_counter() - self._t0)
        summary = {
            "epochs_run": max((len(v) for v in self.history.values()), default=0),
            "steps_run": len(self.steps["loss"]),
            "sample_every": self._every,
            "samples": len(self.grad["steps"]) or len(self.updates["steps"]),
            "probe": "on" if self._probe is not None else "off (no probe_data)",
            "sample_seconds": round(self._sample_seconds, 3),
            "samples_skipped_for_budget": self._skipped_samples,
            "fit_seconds": round(fit_seconds, 3),
            "stopped": self.stopped,
            "detected_epochs": dict(self.detected),
            "errors": list(self.errors),
        }
        grads = {k: self.grad[k] for k in ("layers", "steps", "values")}
        name = getattr(self.model, "name", "model") if self.model is not None else "model"
        return Report(findings, command="monitor", subject=str(name), metrics={
            "history": {k: list(v) for k, v in self.history.items()},
            "steps": {k: list(v) for k, v in self.steps.items()},
            "finding_epochs": epochs,
            "grad_norms": grads,
            "update_ratios": {k: self.updates[k] for k in ("layers", "steps", "values")},
            "dead_fraction": {k: self.dead[k] for k in ("steps", "values", "per_layer")},
            "saturated_fraction": {k: self.saturated[k] for k in ("steps", "values")},
            "activation_rms": {k: self.act_rms[k] for k in ("layers", "steps", "values")},
            "bn_moments": dict(self.bn),
            "output_spread": dict(self.outputs),
            "plateau": self._curve_metrics.get("plateau"),
            "summary": summary,
        })


def _with_stop(f: Finding, stopped: Mapping[str, Any]) -> Finding:
    if f.code.value != stopped.get("code"):
        return f
    ev = dict(f.evidence)
    ev["stopped_run"] = dict(stopped)
    return Finding(f.code, f.severity, f.confidence, f.title,
                   f.explanation + " The Monitor stopped the run here (stop_on).", ev,
                   f.remedies)


def _output_classes(model: Any) -> int | None:
    try:
        units = int(model.outputs[0].shape[-1])
    except Exception:
        return None
    return units if units > 1 else 2


def _optimizer_facts(model: Any) -> dict[str, Any] | None:
    opt = getattr(model, "optimizer", None)
    if opt is None:
        return None
    out: dict[str, Any] = {"name": type(opt).__name__.lower()}
    try:
        out["learning_rate"] = float(_to_numpy(opt.learning_rate))
    except Exception:
        pass
    for attr in ("momentum", "weight_decay", "epsilon", "clipnorm", "global_clipnorm",
                 "clipvalue"):
        v = getattr(opt, attr, None)
        if isinstance(v, (int, float)):
            out[attr] = float(v)
    return out


_AUGMENT_PREFIX = "Random"
_DROPOUT_NAMES = {"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
                  "GaussianDropout", "GaussianNoise", "AlphaDropout"}


def _regularization_facts(model: Any) -> dict[str, Any] | None:
    if model is None:
        return None
    try:
        layers = list(model._flatten_layers(include_self=False))
    except Exception:
        layers = list(getattr(model, "layers", []))
    dropout = any(type(lay).__name__ in _DROPOUT_NAMES and getattr(lay, "rate", 0.1) > 0
                  for lay in layers)
    augment = any(type(lay).__name__.startswith(_AUGMENT_PREFIX) for lay in layers)
    l2 = any(getattr(lay, "kernel_regularizer", None) is not None for lay in layers)
    norm = any(type(lay).__name__ in NORM_LAYERS for lay in layers)
    opt = getattr(model, "optimizer", None)
    wd = getattr(opt, "weight_decay", None) if opt is not None else None
    return {"dropout": dropout, "augmentation": augment, "normalization": norm,
            "weight_decay": bool(l2 or (isinstance(wd, (int, float)) and wd > 0)),
            "n_params": int(model.count_params()) if model.built else None,
            "softmax_layers": _softmax_layers(model, layers)}


def _softmax_layers(model: Any, layers: list[Any]) -> int | None:
    """How many layers apply a softmax, when the model is a graph of Keras' own layers
    (Sequential or functional); None when a subclassed ``call``, a Lambda or a custom
    layer could apply one unseen."""
    if type(model).__name__ not in ("Sequential", "Functional"):
        return None
    import keras

    # a keras.ops call on a symbolic tensor (keras.ops.softmax(x)) is an operation of the
    # functional graph that is no layer: it could be the second softmax
    if any(not isinstance(op, keras.layers.Layer) for op in getattr(model, "operations", [])):
        return None
    n = 0
    for ly in layers:
        if not type(ly).__module__.startswith("keras.") or type(ly).__name__ == "Lambda":
            if type(ly).__name__ != "InputLayer":
                return None
        act = getattr(ly, "activation", None)
        name = getattr(act, "__name__", "") if act is not None else ""
        n += type(ly).__name__ == "Softmax" or name == "softmax"
    return n
