"""What a tf.data pipeline feeds ``fit``, read without iterating it.

Iterating a shuffled pipeline before training reseeds its shuffle, so ``run`` never does
that (the user's run must stay identical). Two common pipelines can still be read at
their source, because every stage between the source and ``fit`` keeps the values:

* ``tf.data.Dataset.from_tensor_slices((x, y))`` followed only by shuffle / batch /
  prefetch / cache / repeat / options: the source holds the arrays themselves;
* ``keras.utils.image_dataset_from_directory`` followed only by such stages: its
  documented output is the decoded files as float32 in 0-255, so a sample of the files,
  decoded, has the values the model receives.

Any other stage (``map``, ``filter``, ``take``, ``skip``, ``zip`` ...) may change values or
select a subset, and the source is then not used. Nothing here iterates a dataset.

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
    idx = np.unique(np.linspace(0, len(files) - 1, min(n, len(files))).astype(int))
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
