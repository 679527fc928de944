"""Inside the user's process: wrap ``keras.Model.fit`` and record every fit to JSON.

Installed by ``site/sitecustomize.py`` when ``CONVERGENT_RECORDS_DIR`` is set. When the
module ``keras.src.models.model`` finishes importing (``import keras``, ``from tensorflow
import keras``, ``from tensorflow.keras import layers`` all get there), ``Model.fit`` is
replaced by :func:`_fit`, which around the user's call:

1. reads facts from the fit arguments without consuming any randomness (array slices,
   label counts; a PyDataset batch only inside :func:`rng_guard`; a tf.data pipeline only
   when replaying it cannot change its order);
2. runs the model lint and the input checks (each optional: skipped if not importable);
3. adds a :class:`~convergent.training.monitor.Monitor` and a tiny flushing callback;
4. records the outcome (also a crash) to ``records-<pid>.json`` in that directory.

The parent (:mod:`convergent.training.run`) merges the files. With ``CONVERGENT_REPAIR=1``
(``run --repair``) the fit goes through :func:`~convergent.training._inject.repair.repair_fit`
instead: the one seam between monitoring and run-time remedies. Standard library only at
import time.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.abc
import importlib.machinery
import inspect
import json
import math
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ENV_DIR = "CONVERGENT_RECORDS_DIR"
ENV_REPAIR = "CONVERGENT_REPAIR"
ENV_STOP_ON = "CONVERGENT_STOP_ON"
KERAS_MODEL_MODULE = "keras.src.models.model"
# Batches read to summarize a PyDataset / replayable tf.data pipeline (inputs check).
MAX_CHECK_BATCHES = 20
# Images per split given to the scan's per-image checks before fit: 20,000 small images
# take ~10-20 s on 2 cores (benchmarks/perf/scan_memory.py measures the rate), a few % of
# a real training run on that much data.
MAX_SCAN_IMAGES = 20_000



class Recorder:
    """This process's records, rewritten atomically as JSON on every change."""

    def __init__(self, directory: str) -> None:
        self.path = Path(directory) / f"records-{os.getpid()}.json"
        self.lock = threading.Lock()
        self.data: dict[str, Any] = {
            "pid": os.getpid(), "argv": list(sys.argv), "executable": sys.executable,
            "started": time.time(), "fits": [], "exception": None, "exited": False,
            "keras_patched": False,
        }

    def write(self) -> None:
        with self.lock:
            try:
                text = json.dumps(self.data, default=_plain, allow_nan=True)
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(text, encoding="utf-8")
                os.replace(tmp, self.path)
            except Exception:  # noqa: BLE001 - recording must never break the user's run
                pass


_RECORDER: Recorder | None = None
_DEPTH = threading.local()


def _plain(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


def exception_record(exc: BaseException) -> dict[str, Any]:
    return {"type": type(exc).__name__, "message": str(exc)[:4000],
            "traceback": "".join(traceback.format_exception(exc))[-20000:]}


# -- installation --------------------------------------------------------------------------

class _KerasFinder(importlib.abc.MetaPathFinder):
    """Patches ``Model.fit`` right after ``keras.src.models.model`` is executed."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != KERAS_MODEL_MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        loader = spec.loader
        original_exec = loader.exec_module

        def exec_module(module: Any) -> None:
            original_exec(module)
            patch_model_class(module.Model)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def install() -> None:
    """Set up recording and the Keras hook in this process (idempotent)."""
    global _RECORDER
    if _RECORDER is not None:
        return
    _RECORDER = Recorder(os.environ[ENV_DIR])
    _RECORDER.write()
    if KERAS_MODEL_MODULE in sys.modules:
        patch_model_class(sys.modules[KERAS_MODEL_MODULE].Model)
    else:
        sys.meta_path.insert(0, _KerasFinder())
    previous = sys.excepthook

    def excepthook(tp: type[BaseException], value: BaseException, tb: Any) -> None:
        if _RECORDER is not None:
            _RECORDER.data["exception"] = exception_record(value)
            _RECORDER.write()
        previous(tp, value, tb)

    sys.excepthook = excepthook
    atexit.register(_at_exit)


def _at_exit() -> None:
    if _RECORDER is not None:
        _RECORDER.data["exited"] = True
        _RECORDER.write()


def patch_model_class(model_cls: type) -> None:
    """Replace ``model_cls.fit`` with the monitoring wrapper (once)."""
    original = model_cls.fit
    if getattr(original, "_convergent_wrapped", False):
        return

    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        return _fit(original, self, args, kwargs)

    fit._convergent_wrapped = True  # type: ignore[attr-defined]
    fit.__doc__ = original.__doc__
    fit.__wrapped__ = original  # type: ignore[attr-defined]
    model_cls.fit = fit
    if _RECORDER is not None:
        _RECORDER.data["keras_patched"] = True
        _RECORDER.write()


# -- randomness ----------------------------------------------------------------------------

@contextlib.contextmanager
def rng_guard() -> Iterator[None]:
    """Restore the global RNG states (Python, numpy, Keras' global seed generator)."""
    import random

    import numpy as np

    py, npy = random.getstate(), np.random.get_state()
    keras_state = None
    try:
        from keras.src.backend.common import global_state

        gen = global_state.get_global_attribute("global_seed_generator")
        if gen is not None:
            keras_state = (gen, np.array(gen.state.numpy() if hasattr(gen.state, "numpy")
                                         else gen.state.value))
    except Exception:  # noqa: BLE001 - older/newer Keras: nothing to restore
        keras_state = None
    try:
        yield
    finally:
        random.setstate(py)
        np.random.set_state(npy)
        if keras_state is not None:
            with contextlib.suppress(Exception):
                keras_state[0].state.assign(keras_state[1])


@contextlib.contextmanager
def attribute_guard(obj: Any) -> Iterator[None]:
    """Put back ``obj``'s attributes after reading it (e.g. a flow's index permutation)."""
    saved = dict(vars(obj)) if hasattr(obj, "__dict__") else None
    try:
        yield
    finally:
        if saved is not None:
            with contextlib.suppress(Exception):
                obj.__dict__.clear()
                obj.__dict__.update(saved)


# -- reading the fit arguments ---------------------------------------------------------------

def _is_array(a: Any) -> bool:
    if a is None or isinstance(a, (dict, list, tuple)):
        return False
    if type(a).__name__ in ("ndarray", "EagerTensor", "Tensor", "ResourceVariable"):
        return True
    return hasattr(a, "shape") and hasattr(a, "__len__") and hasattr(a, "dtype") \
        and not hasattr(a, "element_spec")


def _numpy(a: Any) -> Any:
    import numpy as np

    if hasattr(a, "detach"):
        return a.detach().cpu().numpy()
    if hasattr(a, "numpy"):
        return a.numpy()
    return np.asarray(a)


def label_facts(y: Any) -> dict[str, Any]:
    """n_classes and majority share from integer or one-hot labels (no randomness)."""
    import numpy as np

    try:
        y = _numpy(y)
        if y.ndim == 2 and y.shape[1] > 1:
            counts = y.sum(axis=0)
        else:
            yi = y.reshape(-1)
            if not np.issubdtype(yi.dtype, np.integer):
                if not np.all(np.mod(yi, 1) == 0):
                    return {}
                yi = yi.astype(np.int64)
            if yi.size == 0 or yi.min() < 0:
                return {}
            counts = np.bincount(yi)
            counts = counts if counts.size > 1 else np.array([counts[0], 0])
        total = float(np.sum(counts))
        return {"n_classes": len(counts),
                "majority_fraction": float(np.max(counts) / total) if total else None}
    except Exception:  # noqa: BLE001 - odd labels: no facts
        return {}


def _tf_dataset_replayable(ds: Any) -> bool:
    """True when iterating ``ds`` again yields the same elements and changes nothing.

    Shuffles reseed per iterator, and map/generator stages may draw random numbers, so
    a pipeline containing any of them is never read before training.
    """
    for d in _stages(ds):
        if d is None:  # unknown dataset type
            return False
        name = type(d).__name__.lower()
        if any(w in name for w in ("shuffle", "random", "map", "generator", "interleave")):
            return False
    return True


def _stages(ds: Any, limit: int = 100) -> Iterator[Any]:
    """``ds`` and the tf.data stages it reads from (at most ``limit``); ``None`` marks a
    stage whose inputs cannot be listed (not a tf.data dataset)."""
    seen, stack = 0, [ds]
    while stack and seen < limit:
        d = stack.pop()
        seen += 1
        yield d
        try:
            stack.extend(d._inputs())
        except Exception:  # noqa: BLE001 - unknown dataset type
            yield None


def _replayable(data: Any) -> bool:
    """Reading ``data`` before training changes nothing it yields later."""
    if hasattr(data, "element_spec"):
        return _tf_dataset_replayable(data)
    return hasattr(data, "__getitem__") and hasattr(data, "__len__")


def _first_batch(data: Any) -> tuple[Any, Any] | None:
    if hasattr(data, "element_spec"):
        batch = next(iter(data.take(1)))
    else:
        batch = data[0]
    if isinstance(batch, dict):
        vals = list(batch.values())
        batch = tuple(vals[:2])
    if isinstance(batch, (tuple, list)):
        return (batch[0], batch[1] if len(batch) > 1 else None)
    return (batch, None)


def read_fit_arguments(arguments: dict[str, Any], record: dict[str, Any], model: Any = None
                       ) -> tuple[dict[str, Any], tuple[Any, Any] | None, list[Any]]:
    """Facts, a probe batch and data findings from ``fit``'s arguments (see module doc)."""
    from convergent.training._inject import sources

    x, y = arguments.get("x"), arguments.get("y")
    split = float(arguments.get("validation_split") or 0.0)
    val = arguments.get("validation_data")
    facts: dict[str, Any] = {}
    probe = None
    findings: list[Any] = []
    notes = record.setdefault("notes", [])
    x_val = y_val = None
    sample = None  # raw inputs, to see what the network's first weight layer receives
    if isinstance(val, (tuple, list)) and val and _is_array(val[0]):
        x_val, y_val = val[0], (val[1] if len(val) > 1 else None)
        facts["n_val"] = len(x_val)
    kind = "arrays"
    # fit(shuffle=False) trains arrays in their order ("batch" still shuffles batches)
    in_order = arguments.get("shuffle") is False
    source = None if _is_array(x) or x is None else sources.source_arrays(x)
    if source is not None:  # from_tensor_slices + shuffle/batch/prefetch: its arrays
        kind = "tf.data"
        in_order = sources.shuffles(arguments.get("x")) is False
        x, y = source
        facts["batch_size"] = sources.batch_size(arguments.get("x")) or 32
        val_source = None if val is None or isinstance(val, (tuple, list)) else \
            sources.source_arrays(val)
        if val_source is not None:
            x_val, y_val = val_source
            facts["n_val"] = len(x_val)
        notes.append("tf.data input read at its from_tensor_slices source (the pipeline "
                     "itself is not iterated)")
    if _is_array(x):
        n = len(x)
        n_train = math.floor(n * (1.0 - split)) if split else n
        facts["n_train"] = n_train
        if split:
            facts["n_val"] = n - n_train
        facts.setdefault("batch_size", int(arguments.get("batch_size") or 32))
        if y is not None and _is_array(y):
            facts.update(label_facts(y[:n_train]))
            probe = (x[:n_train], y[:n_train])
        record["input"] = {"kind": kind, "n": n}
        try:
            from convergent.data.arrays import check_arrays

            with rng_guard():
                findings += check_arrays(_numpy(x), None if y is None else _numpy(y),
                                         None if x_val is None else _numpy(x_val),
                                         None if y_val is None else _numpy(y_val),
                                         validation_split=split or None,
                                         in_order=in_order)
        except ImportError:
            notes.append("input checks skipped: convergent.data.arrays is not available")
        except Exception as e:  # noqa: BLE001
            notes.append(f"input checks failed: {type(e).__name__}: {e}")
        findings += _set_aside_minor(_image_checks(x, y, x_val, y_val, n_train, record),
                                     record)
        sample = x[:LOADER_SAMPLE]
    elif x is not None:
        kind = "tf.data" if hasattr(x, "element_spec") else type(x).__name__
        record["input"] = {"kind": kind}
        safe = _replayable(x)
        val_pipe = val if val is not None and not isinstance(val, (tuple, list)) and \
            _replayable(val) else None
        if hasattr(x, "classes") and _is_array(getattr(x, "classes", None)):
            facts.update(label_facts(x.classes))  # DirectoryIterator's label array
        elif _is_array(getattr(x, "y", None)) and hasattr(x, "n"):
            facts.update(label_facts(x.y))  # ImageDataGenerator.flow's labels
        batch = getattr(x, "batch_size", None)
        batch = batch if isinstance(batch, int) else sources.batch_size(x)
        if batch:
            facts["batch_size"] = batch
        if hasattr(x, "n") and isinstance(getattr(x, "n", None), int):
            facts["n_train"] = x.n
        loader = sources.loader_files(x)
        replayed = None if loader is not None else sources.replayed_sample(x, LOADER_SAMPLE)
        classes = sources.loader_classes(x)
        if classes and "n_classes" not in facts:
            facts.update({k: v for k, v in classes.items() if k not in facts})
        if loader is not None:
            sample = sources.decode_sample(loader)
            findings += _loader_range(sample, notes)
            probe = probe or sources.loader_probe(x)
            if probe is None:  # labels given as a list, not by class folder: replay them
                labelled = sources.replayed_sample(x, LOADER_SAMPLE)
                if labelled is not None and labelled[1] is not None:
                    probe = labelled
                    findings += _label_information(labelled, record)
        elif replayed is not None:  # map stages called again on a sample of the source
            sample = replayed[0]
            findings += _loader_range(sample, notes)
            if replayed[1] is not None:
                probe = replayed
                findings += _label_information(replayed, record)
            notes.append("tf.data input: its map stages were replayed on a sample of its "
                         "source (the pipeline itself is not iterated)")
        elif safe:
            try:
                from convergent.data.arrays import check_batches

                with rng_guard(), attribute_guard(x), attribute_guard(val_pipe):
                    findings += check_batches(x, val_pipe, max_batches=MAX_CHECK_BATCHES)
                    if probe is None and x_val is None:
                        probe = _first_batch(x)
            except ImportError:
                notes.append("input checks skipped: convergent.data.arrays is not available")
            except Exception as e:  # noqa: BLE001
                notes.append(f"input checks failed: {type(e).__name__}: {e}")
        else:
            notes.append(f"{kind} input not read before training: replaying it would change "
                         "its shuffle/augmentation order (the run must stay identical)")
        findings += _set_aside_minor(_folder_checks(x, record), record)
    if probe is None and x_val is not None and y_val is not None:
        probe = (x_val, y_val)
    if sample is None and probe is not None and probe[0] is not None:
        sample = probe[0][:LOADER_SAMPLE]  # a batch as the pipeline yields it
    if model is not None and sample is not None:
        findings = _scale_inside_model(findings, model, sample, notes)
    es = early_stopping_facts(arguments.get("callbacks"))
    if es:
        facts["early_stopping"] = es
    return facts, probe, findings


# Inputs sampled to see what the network's first weight layer receives (see sources.py).
LOADER_SAMPLE = 256


def _loader_range(sample: Any, notes: list[str]) -> list[Any]:
    """DATA_UNNORMALIZED for a folder loader whose decoded files reach ``fit`` unscaled."""
    if sample is None:
        return []
    try:
        from convergent.data.arrays import array_stats, check_summaries

        return [f for f in check_summaries([array_stats(sample)])
                if f.code.value == "DATA_UNNORMALIZED"]
    except Exception as e:  # noqa: BLE001 - a check must never break the run
        notes.append(f"input range check failed: {type(e).__name__}: {e}")
        return []


def _scale_inside_model(findings: list[Any], model: Any, sample: Any, notes: list[str]
                        ) -> list[Any]:
    """What the model's first weight layer receives, after its own leading layers
    (``Rescaling``, ``Normalization`` ...): DATA_UNNORMALIZED is dropped when those bring
    the inputs to unit scale, and raised when they collapse well-scaled inputs (a
    ``Rescaling(1/255)`` on inputs already divided by 255)."""
    import numpy as np

    try:
        from convergent.data.arrays import UNDERSCALED_STD, UNNORMALIZED_RMS, \
            array_stats, check_summaries
        from convergent.model.facts import network_inputs

        raw = np.asarray(_numpy(sample), dtype=np.float32)
        # the values in the model's input shape (files of other sizes: their values
        # repeated; rescaling and normalization act per value or per channel)
        raw = np.resize(raw, (min(len(raw), 64), *_input_shape(model, raw)))
        with rng_guard():
            seen = network_inputs(model, raw)
    except Exception as e:  # noqa: BLE001 - keep the finding when this cannot be told
        notes.append(f"model input scale not measured: {type(e).__name__}: {e}")
        return findings
    if seen is None or seen is raw:
        return findings
    seen = seen.astype(np.float64)
    rms, std = float(np.sqrt(np.mean(np.square(seen)))), float(np.std(seen))
    has = any(getattr(f, "code", None) is not None and f.code.value == "DATA_UNNORMALIZED"
              for f in findings)
    if rms <= UNNORMALIZED_RMS and std >= UNDERSCALED_STD:
        if has:
            notes.append(f"raw inputs are rescaled inside the model (RMS {rms:.3g} at its "
                         "first weight layer): DATA_UNNORMALIZED not reported")
        return [f for f in findings if f.code.value != "DATA_UNNORMALIZED"]
    if has:
        return findings
    stats = array_stats(seen.astype(np.float32), None,
                        "after the model's preprocessing layers")
    return findings + [f for f in check_summaries([stats])
                       if f.code.value == "DATA_UNNORMALIZED"]


def _input_shape(model: Any, sample: Any) -> tuple[int, ...]:
    """The model's per-sample input shape, or the sample's own when it is not known."""
    import numpy as np

    shape = getattr(model, "input_shape", None)
    if isinstance(shape, tuple) and shape[1:] and all(isinstance(d, int) for d in shape[1:]):
        return tuple(shape[1:])
    return tuple(np.shape(sample)[1:])


# Image-audit codes whose INFO severity means a minor share of the images (<= 1 %, the
# data checks' MINOR_FRACTION, or leakage within the validation accuracy's binomial SE):
# by that rule they cannot explain a run that does not converge, so `run` lists them in
# metrics["data_audit"] instead of among its findings (and duplicates that agree on their
# label, see _minor); `convergent scan` reports them all.
MINOR_AUDIT_CODES = frozenset({
    "DATA_LABEL_NOISE", "DATA_DUPLICATES", "DATA_LEAKAGE", "DATA_OUTLIER", "DATA_DARK",
    "DATA_BRIGHT", "DATA_LOW_CONTRAST", "DATA_BLURRY", "DATA_ODD_SIZE",
    "DATA_GRAYSCALE_AS_RGB"})


def _minor(f: Any) -> bool:
    code = getattr(getattr(f, "code", None), "value", None)
    if code not in MINOR_AUDIT_CODES:
        return False
    # copies within one split that agree on their label weigh a few images twice: that
    # cannot stop a run from converging, whatever their share (first principles; copies
    # across splits are DATA_LEAKAGE, classes made of copies DATA_LOW_VARIETY)
    if code == "DATA_DUPLICATES" and not (f.evidence or {}).get("different_labels"):
        return True
    return getattr(f.severity, "value", None) == "info"


def _set_aside_minor(found: list[Any], record: dict[str, Any]) -> list[Any]:
    """``found`` without its minor image-audit items, which go to ``record["data_audit"]``."""
    minor = [f for f in found if _minor(f)]
    if not minor:
        return found
    record.setdefault("data_audit", []).extend(f.to_dict() for f in minor)
    return [f for f in found if f not in minor]


def _image_checks(x: Any, y: Any, x_val: Any, y_val: Any, n_train: int,
                  record: dict[str, Any]) -> list[Any]:
    """The scan's per-image checks (label noise, duplicates, train/validation leakage,
    exposure ...) on image arrays, split as ``fit`` splits them; at most MAX_SCAN_IMAGES
    of each side (the first ones: no randomness is drawn)."""
    notes = record.setdefault("notes", [])
    try:
        from convergent.data.scan import image_array_checks, looks_like_images
    except ImportError:
        return []
    if not looks_like_images(x) or y is None or not _is_array(y):
        return []
    if x_val is None and n_train < len(x):  # validation_split: the last samples
        x_val, y_val = x[n_train:], y[n_train:]
    x, y = x[:n_train], y[:n_train]
    if len(x) > MAX_SCAN_IMAGES or (x_val is not None and len(x_val) > MAX_SCAN_IMAGES):
        notes.append(f"image checks read the first {MAX_SCAN_IMAGES} images of each split")
    cut = slice(0, MAX_SCAN_IMAGES)
    try:
        with rng_guard():
            found, _ = image_array_checks(
                _numpy(x[cut]), _numpy(y[cut]),
                None if x_val is None else _numpy(x_val[cut]),
                None if y_val is None or not _is_array(y_val) else _numpy(y_val[cut]))
        return found
    except Exception as e:  # noqa: BLE001 - a check must never break the run
        notes.append(f"image checks failed: {type(e).__name__}: {e}")
        return []


def _label_information(sample: tuple[Any, Any], record: dict[str, Any]) -> list[Any]:
    """Whether the labels of a replayed pipeline sample carry information about its
    images (DATA_LABELS_MISALIGNED): a property of the whole pairing that a sample
    estimates, unlike the scan's per-image lists, which a sample would leave incomplete."""
    from convergent.findings import Code

    x, y = sample
    found = _image_checks(x, y, None, None, len(x), record)
    return [f for f in found if f.code is Code.DATA_LABELS_MISALIGNED]


def early_stopping_facts(callbacks: Any) -> dict[str, Any] | None:
    """``{"patience", "monitor", "mode", "restore_best_weights"}`` of the first
    EarlyStopping among ``callbacks``."""
    if not isinstance(callbacks, (list, tuple)):
        return None
    for c in callbacks:
        if type(c).__name__ == "EarlyStopping" and isinstance(getattr(c, "patience", None), int):
            return {"patience": c.patience, "monitor": str(getattr(c, "monitor", "val_loss")),
                    "mode": str(getattr(c, "mode", "auto")),
                    "restore_best_weights": bool(getattr(c, "restore_best_weights", False))}
    return None


# model -> ids of its trainable variables when its last fit began (weak: never keeps a
# model alive). Read only, the model is not touched.
_TRAINABLE_AT_FIT: Any = None


def _trainable_since_compile(model: Any) -> list[Any]:
    """MODEL_FROZEN when ``trainable`` flags changed after a fit without a new ``compile``.

    TensorFlow and JAX trace the training step once, with the trainable variables of that
    moment (Keras caches ``train_function`` until ``compile`` resets it): layers unfrozen
    later are never updated, layers frozen later still are (Keras docs, "transfer learning":
    call compile() again after changing trainable). torch steps eagerly and its optimizer
    refuses variables it was not built with, so the change is visible there anyway.
    """
    import weakref

    import keras

    global _TRAINABLE_AT_FIT
    if _TRAINABLE_AT_FIT is None:
        _TRAINABLE_AT_FIT = weakref.WeakKeyDictionary()
    try:
        now = {id(v): getattr(v, "path", v.name) for v in model.trainable_variables}
        before = _TRAINABLE_AT_FIT.get(model)
        _TRAINABLE_AT_FIT[model] = now
    except Exception:  # noqa: BLE001 - not weak-referenceable, odd variables: no comparison
        return []
    stale = getattr(model, "train_function", None) is not None
    if before is None or not stale or keras.backend.backend() == "torch" or now == before:
        return []
    from convergent.findings import Code, Finding, Severity
    from convergent.remedies.catalog import remedies_for

    added = [now[i] for i in now if i not in before]
    dropped = [before[i] for i in before if i not in now]
    if added:
        title = f"{len(added)} weight(s) unfrozen after compile are not trained"
        why = ("trainable was set to True after the model was compiled and fitted; the "
               "compiled training step still updates only the weights trainable back then. "
               "Call model.compile(...) again after changing trainable.")
    else:
        title = f"{len(dropped)} weight(s) frozen after compile are still trained"
        why = ("trainable was set to False after the model was compiled and fitted; the "
               "compiled training step still updates them. Call model.compile(...) again "
               "after changing trainable.")
    return [Finding(Code.MODEL_FROZEN, Severity.ERROR if added else Severity.WARNING, 0.9,
                    title, why, {"unfrozen": added[:20], "frozen": dropped[:20],
                                 "recompiled": False}, remedies_for(Code.MODEL_FROZEN))]


def _lint(model: Any, arguments: dict[str, Any], facts: dict[str, Any],
          record: dict[str, Any], probe: tuple[Any, Any] | None = None) -> list[Any]:
    """The model lint, with the labels ``fit`` got, or else the probe batch's labels (their
    format: sparse or one-hot) and the class count read from the input."""
    if not getattr(model, "built", True):
        return []  # built by fit itself: _late_lint runs it after the first step
    try:
        from convergent.model.lint import lint
    except ImportError:
        record["notes"].append("model lint skipped: convergent.model.lint is not available")
        return []
    y = arguments.get("y") if _is_array(arguments.get("y")) else None
    given = y is not None
    if not given and probe is not None and _is_array(probe[1]) and facts.get("n_classes") \
            and facts.get("n_train"):
        # a sample may miss classes and is not the training set's size: only with both
        # known otherwise
        y = probe[1]
    try:
        with rng_guard():
            rep = lint(model, y=None if y is None else _numpy(y),
                       n_classes=None if given else facts.get("n_classes"),
                       n_samples=facts.get("n_train"))
        return list(rep.findings)
    except Exception as e:  # noqa: BLE001 - lint must never break the run
        record["notes"].append(f"model lint failed: {type(e).__name__}: {e}")
        return []


def _late_lint(model: Any, arguments: dict[str, Any], facts: dict[str, Any],
               record: dict[str, Any], probe: tuple[Any, Any] | None) -> list[Any]:
    """For a model that ``fit`` builds (subclassed, no input shape): a callback that runs
    the lint once, after the first training step has built it (building it earlier would
    draw its initial weights from a different random state than the user's run)."""
    if getattr(model, "built", True):
        return []
    import keras

    record["notes"].append("the model is built by fit itself: its lint ran after the "
                           "first training step")

    class LateLint(keras.callbacks.Callback):
        done = False

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            if LateLint.done:
                return
            LateLint.done = True  # once per fit call, also across repair's refits
            found = _lint(model, arguments, facts, record, probe)
            record.setdefault("pre_fit", []).extend(f.to_dict() for f in found)

    return [LateLint()]


def _probe_loss(model: Any, facts: dict[str, Any], record: dict[str, Any]) -> None:
    """``facts["loss_unsafe"]`` when the compiled loss is NaN/inf on a confident mistake."""
    try:
        from convergent.model.loss_probe import unsafe_loss

        with rng_guard():
            unsafe = unsafe_loss(model)
        if unsafe:
            facts["loss_unsafe"] = unsafe
    except Exception as e:  # noqa: BLE001 - a probe must never break the run
        record["notes"].append(f"loss probe failed: {type(e).__name__}: {e}")


# -- the wrapper ----------------------------------------------------------------------------

def _fit(original: Callable[..., Any], model: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
    if _RECORDER is None or getattr(_DEPTH, "n", 0) > 0:
        return original(model, *args, **kwargs)
    try:
        bound = inspect.signature(original).bind(model, *args, **kwargs)
    except TypeError:
        return original(model, *args, **kwargs)  # let Keras raise its own error
    arguments = dict(bound.arguments)
    arguments.pop("self", None)
    arguments.update(arguments.pop("kwargs", {}) or {})
    rec = _RECORDER
    record: dict[str, Any] = {
        "index": len(rec.data["fits"]) + 1, "model": getattr(model, "name", "model"),
        "status": "starting", "started": time.time(), "notes": [],
        "args": {k: arguments.get(k) for k in ("epochs", "batch_size", "validation_split",
                                               "steps_per_epoch", "initial_epoch")},
    }
    rec.data["fits"].append(record)
    rec.write()
    monitor = None
    pre_findings: list[Any] = []
    repair = os.environ.get(ENV_REPAIR) == "1"
    make_callbacks = None
    _DEPTH.n = 1
    try:
        from convergent.findings import Finding
        from convergent.training.monitor import Monitor

        facts, probe, data_findings = read_fit_arguments(arguments, record, model)
        lint_findings = _lint(model, arguments, facts, record, probe) \
            + _trainable_since_compile(model)
        _probe_loss(model, facts, record)
        pre_findings = [f for f in data_findings + lint_findings if isinstance(f, Finding)]
        record["pre_fit"] = [f.to_dict() for f in pre_findings]
        record["facts"] = facts
        # run --repair stops hopeless fits early: each one is retrained after a remedy
        stop_on = tuple(s for s in os.environ.get(ENV_STOP_ON, "").split(",") if s) or (
            ("error",) if repair else ())

        late = _late_lint(model, arguments, facts, record, probe)

        def make_callbacks() -> tuple[Any, list[Any]]:
            mon = Monitor(stop_on=stop_on, probe_data=probe, facts=facts)
            return mon, [mon, _flusher(mon, record), *late]

        callbacks = arguments.get("callbacks")
        if callbacks is None or isinstance(callbacks, (list, tuple)):
            monitor, extra = make_callbacks()
            arguments["callbacks"] = [*(callbacks or []), *extra]
        else:
            record["notes"].append("callbacks given as a CallbackList: not monitored")
            make_callbacks = None
    except Exception as e:  # noqa: BLE001 - set-up trouble: run the user's fit untouched
        record["notes"].append(f"monitor set-up failed: {type(e).__name__}: {e}")
    record["status"] = "running"
    rec.write()
    try:
        if repair and make_callbacks is not None:
            # the seam for run --repair: diagnose, remedy, retrain, verify (repair.py)
            from convergent.training._inject.repair import repair_fit

            arguments["callbacks"] = [c for c in arguments["callbacks"]
                                      if c is not monitor and not _is_flusher(c)]
            monitor = None  # repair_fit stores its own monitors' reports
            history = repair_fit(original, model, arguments, record, make_callbacks,
                                 pre_findings)
        else:
            history = original(model, **arguments)
        record["status"] = "done"
        return history
    except BaseException as e:
        record["status"] = "interrupted" if isinstance(e, KeyboardInterrupt) else "crashed"
        record["exception"] = exception_record(e)
        _crash_findings(e, model, arguments, record)
        raise
    finally:
        _DEPTH.n = 0
        record["seconds"] = round(time.time() - record["started"], 3)
        _store_monitor(monitor, record)
        rec.write()


def input_files(x: Any) -> list[str] | None:
    """The image files a fit input reads, when its loader exposes them: ``file_paths`` of
    ``image_dataset_from_directory`` (also under later ``map``/``batch``/``prefetch``
    stages) or ``filepaths`` of ``flow_from_directory``."""
    from convergent.training._inject.sources import file_paths

    for d in _stages(x):
        paths = file_paths(d)
        if paths:
            return paths
    return None


def _folder_checks(x: Any, record: dict[str, Any]) -> list[Any]:
    """The folder scan (counts, corrupt files, duplicates, labels ...) of the image folder
    a folder loader reads, when it has at most MAX_SCAN_IMAGES files; read-only."""
    files = input_files(x)
    if not files:
        return []
    notes = record.setdefault("notes", [])
    if len(files) > MAX_SCAN_IMAGES:
        notes.append(f"folder scan skipped: {len(files)} files > {MAX_SCAN_IMAGES}; run "
                     "`convergent scan` on the folder")
        return []
    root = os.path.commonpath([os.path.dirname(os.path.dirname(f)) for f in files])
    try:
        from convergent.data.scan import scan

        with rng_guard():
            report = scan(root, progress=False)
        record["folder_scan"] = {"root": root, "files": len(files)}
        return list(report.findings)
    except ImportError:
        return []
    except Exception as e:  # noqa: BLE001 - a check must never break the run
        notes.append(f"folder scan failed: {type(e).__name__}: {e}")
        return []


def _is_flusher(c: Any) -> bool:
    return type(c).__name__ == "_Flush"


def _crash_findings(exc: BaseException, model: Any, arguments: dict[str, Any],
                    record: dict[str, Any]) -> None:
    try:
        from convergent.model.crash import findings_from_exception
    except ImportError:
        return
    try:
        y = arguments.get("y")
        found = findings_from_exception(exc, model=model, y=_numpy(y) if _is_array(y) else None,
                                        files=input_files(arguments.get("x")))
        record["crash_findings"] = [f.to_dict() for f in found]
    except Exception as e:  # noqa: BLE001
        record["notes"].append(f"crash analysis failed: {type(e).__name__}: {e}")


def _store_monitor(monitor: Any, record: dict[str, Any]) -> None:
    if monitor is None:
        return
    try:
        record["monitor"] = monitor.report().to_dict()
    except Exception as e:  # noqa: BLE001
        record["notes"].append(f"monitor report failed: {type(e).__name__}: {e}")


def _flusher(monitor: Any, record: dict[str, Any]) -> Any:
    """A callback that saves the Monitor's state each epoch (survives a SIGKILL)."""
    import keras

    class _Flush(keras.callbacks.Callback):
        async_safe = True

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            _store_monitor(monitor, record)
            if _RECORDER is not None:
                _RECORDER.write()

    return _Flush()
