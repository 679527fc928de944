"""What a tf.data pipeline feeds ``fit``, read without iterating it.

Iterating a shuffled pipeline before training reseeds its shuffle, so ``run`` never does
that (the user's run must stay identical). Two common pipelines can still be read at
their source, because every stage between the source and ``fit`` keeps the values:

* ``tf.data.Dataset.from_tensor_slices((x, y))`` followed only by shuffle / batch /
  prefetch / cache / repeat / options: the source holds the arrays themselves;
* ``keras.utils.image_dataset_from_directory`` followed only by such stages: its
  documented output is the decoded files as float32 in 0-255, so a sample of the files,
  decoded, has the values the model receives.

Any other stage (``filter``, ``take``, ``skip``, ``zip`` ...) may change values or select a
subset, and the source is then not used. A ``map`` stage is replayed instead when its
traced function draws no random numbers and writes no state (:func:`replayed_sample`):
its already-traced graph is called on a small sample of the source, outside the user's
pipeline. A ``Dataset.zip`` of such branches (images from file paths, labels from a list;
also what ``image_dataset_from_directory(labels=[...])`` builds inside) is replayed branch
by branch, each branch's shuffles simulated so that images and labels pair as ``fit``
pairs them. Nothing here iterates a dataset.

Example:
    >>> source_arrays(object()) is None
    True
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

# Stage class names (lower case, substrings) that keep every value and every element:
# they only reorder, group, copy or buffer (tf.data documentation of each transformation).
VALUE_PRESERVING = ("prefetch", "cache", "repeat", "options", "shuffle", "batch")
# Files decoded to measure a folder loader's value range: the range statistics are
# stable to a few % from a few hundred images (binomial/quantile error ~1/sqrt(n)).
LOADER_SAMPLE = 256
# Source elements replayed through map stages: enough for the value-range statistics of
# check_summaries (quantiles over >= 64 images x their pixels) and a probe batch.
REPLAY_SAMPLE = 64


def spaced(total: int, n: int) -> np.ndarray:
    """At most ``n`` evenly spaced indices into ``total`` elements, first and last included."""
    return np.unique(np.linspace(0, total - 1, min(n, total)).astype(int))


def _chain(ds: Any) -> Iterator[Any]:
    """``ds`` and the stages below it while each has exactly one input."""
    d = ds
    for _ in range(100):
        yield d
        try:
            inputs = d._inputs()
        except Exception:  # noqa: BLE001 - not a tf.data dataset
            return
        if len(inputs) != 1:
            return
        d = inputs[0]


def _preserving(d: Any) -> bool:
    name = type(d).__name__.lower()
    return any(w in name for w in VALUE_PRESERVING) and "map" not in name


def batch_size(ds: Any) -> int | None:
    """The batch size of a pipeline's last ``batch`` stage, when one is visible."""
    for d in _chain(ds):
        b = getattr(d, "_batch_size", None)
        if b is not None:
            try:
                return int(b)
            except (TypeError, ValueError):
                return None
        if not _preserving(d):
            return None
    return None


def source_arrays(ds: Any) -> tuple[np.ndarray, np.ndarray | None] | None:
    """``(x, y)`` of a ``from_tensor_slices`` source reached through value-preserving
    stages only; ``None`` when the pipeline is anything else."""
    for d in _chain(ds):
        name = type(d).__name__.lower()
        if "tensorslice" in name:
            tensors = getattr(d, "_tensors", None)
            if not isinstance(tensors, (list, tuple)) or not tensors:
                return None
            try:
                arrays = [np.asarray(t) for t in tensors]
            except Exception:  # noqa: BLE001 - e.g. ragged or string tensors
                return None
            if arrays[0].dtype.kind not in "fiub" or arrays[0].ndim < 2:
                return None
            y = arrays[1] if len(arrays) > 1 and arrays[1].dtype.kind in "fiub" else None
            return arrays[0], y
        if not _preserving(d):
            return None
    return None


def shuffles(ds: Any) -> bool | None:
    """Whether a ``from_tensor_slices`` pipeline of value-preserving stages has a shuffle
    stage (its batches follow the source order when not); ``None`` for other pipelines."""
    for d in _chain(ds):
        name = type(d).__name__.lower()
        if "shuffle" in name:
            return True
        if "tensorslice" in name:
            return False
        if not _preserving(d):
            return None
    return None


def loader_files(ds: Any) -> list[str] | None:
    """``file_paths`` of an ``image_dataset_from_directory`` result reached through
    value-preserving stages only (so its values are the decoded files, 0-255)."""
    for d in _chain(ds):
        paths = file_paths(d, ("file_paths",))
        if paths:
            return paths
        if not _preserving(d):
            return None
    return None


def _loader_stage(ds: Any) -> Any:
    """The ``image_dataset_from_directory`` stage a pipeline reads from (through any
    single-input stages), or ``None``."""
    for d in _chain(ds):
        if file_paths(d, ("file_paths",)):
            return d
    return None


def loader_classes(ds: Any) -> dict[str, Any] | None:
    """``n_classes``, ``n_train`` (its files) and majority share of a folder loader, from
    its class names and the class folder of each file (later maps may re-encode labels,
    not their number)."""
    from collections import Counter
    from pathlib import Path

    d = _loader_stage(ds)
    names = list(getattr(d, "class_names", None) or []) if d is not None else []
    if not names:
        return None
    files = file_paths(d, ("file_paths",)) or []
    counts = Counter(Path(p).parent.name for p in files)
    total = sum(counts[c] for c in names)
    return {"n_classes": len(names), "n_train": len(files),
            "majority_fraction": max(counts[c] for c in names) / total if total else None}


def loader_probe(ds: Any, n: int = REPLAY_SAMPLE) -> Any:
    """``(x, y)`` of ``n`` of a folder loader's files decoded as it decodes them, when only
    value-preserving stages follow it (what ``fit`` receives); else ``None``."""
    files = loader_files(ds)
    if not files:
        return None
    try:
        batch = _loader_batch(_loader_stage(ds), files, n)
    except Exception:  # noqa: BLE001 - an odd loader: no probe
        return None
    return batch if isinstance(batch, tuple) else None


def file_paths(d: Any, attrs: tuple[str, ...] = ("file_paths", "filepaths")) -> list[str] | None:
    """The file list a loader object exposes (``file_paths`` of
    ``image_dataset_from_directory``, ``filepaths`` of ``flow_from_directory``)."""
    for attr in attrs:
        paths = getattr(d, attr, None)
        if isinstance(paths, (list, tuple)) and paths and all(isinstance(p, str) for p in paths):
            return list(paths)
    return None


def decode_sample(files: list[str], n: int = LOADER_SAMPLE) -> np.ndarray | None:
    """Pixel values (float32, 0-255, flattened per image) of up to ``n`` evenly spaced
    files; ``None`` when none decodes."""
    from PIL import Image

    if not files:
        return None
    idx = spaced(len(files), n)
    rows = []
    for i in idx:
        try:
            with Image.open(files[int(i)]) as im:
                rows.append(np.asarray(im, dtype=np.float32).ravel())
        except Exception:  # noqa: BLE001, S112 - corrupt files are the folder scan's business
            continue
    if not rows:
        return None
    size = min(r.size for r in rows)
    return np.stack([r[:size] for r in rows])


# Op types (substrings) a map function must not contain to be replayed outside the user's
# pipeline: random draws (stateful, or stateless with a seed read from a variable that
# the same function advances), state writes, Python callbacks (anything at all) and
# nested datasets / iterators (tf.raw_ops catalogue).
UNSAFE_OPS = ("Random", "Assign", "PyFunc", "Dataset", "Iterator", "Scatter")


def _op_types(fn: Any) -> set[str]:
    gd = fn.graph.as_graph_def()
    return {n.op for n in gd.node} | {n.op for f in gd.library.function for n in f.node_def}


def _replayable_map(d: Any) -> Any:
    """The traced function of a map stage that is safe to call again, else ``None``."""
    wrapper = getattr(d, "_map_func", None)
    if wrapper is None or "map" not in type(d).__name__.lower():
        return None
    try:
        fn = wrapper.function
        if any(bad in t for t in _op_types(fn) for bad in UNSAFE_OPS):
            return None
    except Exception:  # noqa: BLE001 - not a traced tf.data function
        return None
    return wrapper


def _call_map(wrapper: Any, element: Any) -> Any:
    import tensorflow as tf

    flat = [tf.convert_to_tensor(t) for t in tf.nest.flatten(element)]
    out = wrapper.function(*flat)
    out = out if isinstance(out, (list, tuple)) else [out]
    return tf.nest.pack_sequence_as(wrapper.output_structure, list(out))


def _loader_batch(d: Any, files: list[str], n: int) -> Any:
    """What an ``image_dataset_from_directory`` loader yields for ``n`` evenly spaced
    files: images resized to its size as float32 0-255, and labels from the class
    folders in its label mode (``None`` when it cannot be told)."""
    from pathlib import Path

    from PIL import Image

    spec = d.element_spec
    img_spec = spec[0] if isinstance(spec, tuple) else spec
    shape = tuple(img_spec.shape)
    if len(shape) != 4 or shape[1] is None or shape[2] is None or shape[3] not in (1, 3, 4):
        return None
    h, w, c = int(shape[1]), int(shape[2]), int(shape[3])
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[c]
    names = list(getattr(d, "class_names", None) or [])
    idx = spaced(len(files), n)
    images, labels = [], []
    for i in idx:
        try:
            with Image.open(files[int(i)]) as im:
                a = np.asarray(im.convert(mode).resize((w, h), Image.BILINEAR), np.float32)
        except Exception:  # noqa: BLE001, S112 - corrupt files are the folder scan's business
            continue
        images.append(a.reshape(h, w, c))
        parent = Path(files[int(i)]).parent.name
        labels.append(names.index(parent) if parent in names else -1)
    if not images:
        return None
    x = np.stack(images)
    if not isinstance(spec, tuple):
        return x
    lab_spec = spec[1]
    y = np.array(labels)
    if (y < 0).any():
        return None
    lshape = tuple(lab_spec.shape)
    if len(lshape) == 1:
        y = y.astype(lab_spec.dtype.as_numpy_dtype)
    elif len(lshape) == 2 and lshape[1] == 1:
        y = y.reshape(-1, 1).astype(lab_spec.dtype.as_numpy_dtype)
    elif len(lshape) == 2 and lshape[1] == len(names):
        y = np.eye(len(names), dtype=lab_spec.dtype.as_numpy_dtype)[y]
    else:
        return None
    return (x, y)


def _slices_sample(d: Any, n: int) -> list[Any] | None:
    """``n`` evenly spaced elements of a ``from_tensor_slices`` stage (tuples when it
    slices several arrays); ``None`` for dict elements or tensors numpy cannot hold."""
    tensors = getattr(d, "_tensors", None)
    if not isinstance(tensors, (list, tuple)) or not tensors:
        return None
    try:
        arrays = [np.asarray(t) for t in tensors]
        total = len(arrays[0])
    except Exception:  # noqa: BLE001 - e.g. ragged or string tensors
        return None
    structure = getattr(d, "_structure", None)
    if len(arrays) > 1 and structure is not None and not isinstance(structure, tuple):
        return None
    idx = spaced(total, n)
    rows = [a[idx] for a in arrays]
    return [tuple(r[k] for r in rows) if len(rows) > 1 else rows[0][k]
            for k in range(len(idx))]


def _replay(stages: list[tuple[str, Any]], cur: Any, batched: bool) -> Any:
    """Apply ``stages`` (listed from ``fit`` down to the source) to the source sample: maps
    per element or per batch, the first ``batch`` stacking the elements."""
    import tensorflow as tf

    for kind, wrapper in reversed(stages):
        if kind == "batch":
            if batched:
                return None  # a batch of batches: not a model input this knows
            cur = tf.nest.map_structure(lambda *t: np.stack(t), *cur) \
                if isinstance(cur[0], tuple) else np.stack(cur)
            batched = True
        elif batched:
            cur = _call_map(wrapper, cur)
        else:
            cur = [_call_map(wrapper, e) for e in cur]
    return cur if batched else None


def _shuffle_order(n: int, buffer: int, rng: np.random.Generator) -> np.ndarray:
    """The order in which tf.data's ``shuffle(buffer)`` emits ``n`` input positions: a
    buffer of the next ``buffer`` elements, each output drawn uniformly from it and its
    slot refilled with the next input (the tf.data ShuffleDataset algorithm)."""
    buf = list(range(min(buffer, n)))
    nxt, out = len(buf), []
    while buf:
        j = int(rng.integers(len(buf)))
        out.append(buf[j])
        if nxt < n:
            buf[j] = nxt
            nxt += 1
        else:
            buf[j] = buf[-1]
            buf.pop()
    return np.array(out, dtype=np.int64)


def _int(t: Any) -> int | None:
    try:
        return int(np.asarray(t))
    except Exception:  # noqa: BLE001
        return None


def _branch(ds: Any) -> tuple[Any, list[tuple[str, Any]]] | None:
    """A zip input's ``from_tensor_slices`` source and its stages (from the zip down):
    ``("map", wrapper)`` or ``("shuffle", (buffer, seed, seed2))``; ``None`` when a stage
    cannot be replayed element by element (batch, filter, take, a random map ...)."""
    stages: list[tuple[str, Any]] = []
    for d in _chain(ds):
        name = type(d).__name__.lower()
        if "tensorslice" in name:
            return d, stages
        if "shuffle" in name:
            key = (_int(getattr(d, "_buffer_size", None)), _int(getattr(d, "_seed", None)),
                   _int(getattr(d, "_seed2", None)))
            if key[0] is None:
                return None
            stages.append(("shuffle", key))
            continue
        if _preserving(d) and "batch" not in name:
            continue
        wrapper = _replayable_map(d)
        if wrapper is None:
            return None
        stages.append(("map", wrapper))
    return None


def _zip_sample(z: Any, n: int) -> list[Any] | None:
    """``n`` evenly spaced elements of a ``Dataset.zip`` of replayable branches, each
    branch's shuffles simulated: the same (buffer, seeds) give the same order, as they
    do in tf.data, and anything else an independent one, so images and labels zipped
    from differently shuffled branches come out as unpaired as ``fit`` sees them."""
    try:
        inputs = z._inputs()
    except Exception:  # noqa: BLE001
        return None
    branches = [_branch(b) for b in inputs]
    if len(branches) < 2 or any(b is None for b in branches):
        return None
    sources = []
    for src, _ in branches:  # type: ignore[misc]
        tensors = getattr(src, "_tensors", None)
        if not isinstance(tensors, (list, tuple)) or len(tensors) != 1:
            return None  # a branch slicing several arrays: not one component
        try:
            sources.append(np.asarray(tensors[0]))
        except Exception:  # noqa: BLE001
            return None
    total = min(len(a) for a in sources)
    if total == 0:
        return None
    positions = spaced(total, n)
    columns = []
    for (_, stages), array in zip(branches, sources):  # type: ignore[misc]
        order = np.arange(len(array))
        for kind, arg in reversed(stages):
            if kind == "shuffle":
                buffer, seed, seed2 = arg
                rng = np.random.default_rng([len(order), buffer, seed or 0, seed2 or 0])
                order = order[_shuffle_order(len(order), buffer, rng)]
        elements: list[Any] = list(array[order[positions]])
        for kind, arg in reversed(stages):
            if kind == "map":
                elements = [_call_map(arg, e) for e in elements]
        columns.append(elements)
    return [tuple(c[k] for c in columns) for k in range(len(positions))]


def replayed_sample(ds: Any, n: int = REPLAY_SAMPLE) -> tuple[np.ndarray, Any] | None:
    """``(x, y)`` batch as ``fit`` would receive it from a pipeline whose stages above a
    ``from_tensor_slices`` or ``image_dataset_from_directory`` source are value-preserving
    or replayable maps, computed on ``n`` source elements without touching ``ds``;
    ``None`` for any other pipeline, or one without a map (the functions above read those
    at their source). ``y`` is ``None`` when the elements carry no labels.
    """
    stages: list[tuple[str, Any]] = []
    zipped = False
    for d in _chain(ds):
        name = type(d).__name__.lower()
        files = file_paths(d, ("file_paths",))
        if files or "tensorslice" in name:
            source = _loader_batch(d, files, n) if files else _slices_sample(d, n)
            batched = bool(files)
            if source is not None or not files:
                break
            # a loader whose labels are not its class folders (labels=[...]): read its
            # own stages, down to the zip of file paths and labels
        if "zip" in name:
            try:
                source = _zip_sample(d, n)
            except Exception:  # noqa: BLE001 - anything unexpected: the pipeline is not read
                return None
            batched, zipped = False, True
            break
        if "unbatch" in name:
            return None
        if _preserving(d):
            if "batch" in name:
                stages.append(("batch", None))
            continue
        wrapper = _replayable_map(d)
        if wrapper is None:
            return None
        stages.append(("map", wrapper))
    else:
        return None
    if source is None or not (zipped or any(kind == "map" for kind, _ in stages)):
        return None
    try:
        cur = _replay(stages, source, batched)
        if cur is None:
            return None
        x, y = (cur[0], cur[1] if len(cur) > 1 else None) \
            if isinstance(cur, (tuple, list)) else (cur, None)
        x = np.asarray(x)
        if x.dtype.kind not in "fiub" or x.ndim < 2:
            return None
        return x, (None if y is None else np.asarray(y))
    except Exception:  # noqa: BLE001 - anything unexpected: the pipeline is not read
        return None
