"""The table of per-image facts: one parallel pass over the files, then plain columns.

``build_table`` shards the file list, maps ``features.shard_facts`` over the shards with a
``ProcessPoolExecutor`` (all cores), and copies each shard's columns into preallocated
columns as it arrives: a pandas DataFrame (one row per file) plus the embedding matrices.
Memory grows with the number of files (~3.6 kB per image: the 16x16 and HOG embeddings
and the 32x32 float16 gray copy; 1.6 kB more for the label model's per-image inputs until
the checks have combined them), never with image size.

Example:
    >>> t = table_from_arrays(np.zeros((2, 8, 8), np.uint8), np.array([0, 1]))  # doctest: +SKIP
    >>> t.df[["rel", "cls", "split"]].values.tolist()  # doctest: +SKIP
    [['train[0]', '0', 'train'], ['train[1]', '1', 'train']]
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from convergent.data import features
from convergent.data.folder import FileEntry

# Files per task: large enough that pickling and scheduling cost < 1 % of decoding,
# small enough that a progress bar moves and that work balances over the cores.
SHARD_SIZE = 256
# Below this many files, one process decodes faster than starting a pool (~0.3 s).
MIN_PARALLEL = 400
# Shards per worker at least (smaller shards when the folder is small): the last shard to
# finish then keeps one worker busy for at most ~1/4 of its share, where 5 shards of 256
# over 2 workers (1,236 files) left one idle for a third of the pass (first principles).
SHARDS_PER_WORKER = 4
MIN_SHARD = 32  # below this the batched statistics lose their per-call advantage

Progress = Callable[[int, int], None]


@dataclass
class Table:
    """Per-image facts: ``df`` (one row per image) and the embedding matrices."""

    df: pd.DataFrame
    emb: np.ndarray  # (n, 256) float32, rows of undecodable files are zeros
    hog: np.ndarray  # (n, 144) float32
    g32: np.ndarray  # (n, 1024) float16: 32x32 gray, standardized (near-copy alignment)
    # the label model's per-image inputs (features.MATRICES), or None: the checks then
    # compute them from g32; ``checks.embedding.features`` releases them once combined
    shape_n: dict[str, np.ndarray] | None = None
    # per cell, the HOG's bin-0 share of exactly horizontal gradients (table HOG, and the
    # moment-normalized one): what a mirror image's HOG needs; kept when shape_n is freed
    hog_flat: tuple[np.ndarray, np.ndarray] | None = None
    root: str = ""
    source: str = "folder"  # "folder" or "arrays"
    classes: dict[str, list[str]] = field(default_factory=dict)  # split -> class names
    extra: dict[str, Any] = field(default_factory=dict)  # ignored files, loops, ...

    @property
    def ok(self) -> np.ndarray:
        return self.df["ok"].to_numpy(bool)


def _shards(items: list[str], size: int) -> list[list[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def build_table(root: str, files: list[FileEntry], progress: Progress | None = None,
                workers: int | None = None) -> Table:
    """Decode every file once (in parallel) and return the table of facts."""
    rels = [f.rel for f in files]
    n_workers = workers or _workers()
    size = min(SHARD_SIZE, max(MIN_SHARD, -(-len(rels) // (n_workers * SHARDS_PER_WORKER))))
    shards = _shards(rels, size)
    # each shard's columns are copied into preallocated columns as it arrives, so the
    # table never exists twice (concatenating the shards at the end did: +365 MB at 100k)
    cols = features.empty_columns(len(rels))
    starts = np.cumsum([0] + [len(sh) for sh in shards])
    done = 0
    if progress:
        progress(0, len(rels))

    def put(i: int, part: dict[str, Any]) -> None:
        nonlocal done
        for k, v in part.items():
            cols[k][starts[i]:starts[i + 1]] = v
        done += len(shards[i])
        if progress:
            progress(done, len(rels))

    if n_workers <= 1 or len(rels) < MIN_PARALLEL:
        for i, shard in enumerate(shards):
            put(i, features.shard_facts(root, shard))
    else:
        import multiprocessing as mp
        from concurrent.futures import as_completed

        # fork is fast, but unsafe once TensorFlow has started threads in this process
        ctx = mp.get_context("forkserver" if "tensorflow" in sys.modules else None)
        with ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx,
                                 initializer=_worker_init) as pool:
            futures = {pool.submit(features.shard_facts, root, shard): i
                       for i, shard in enumerate(shards)}
            for fut in as_completed(futures):
                put(futures.pop(fut), fut.result())
    df = pd.DataFrame({"rel": rels, "cls": [f.cls for f in files],
                       "split": [f.split for f in files],
                       **{k: cols[k] for k in features.COLUMNS}})
    return Table(df, cols["emb"], cols["hog"], cols["g32"], _shape_n(cols), root=root)


# glibc malloc settings of the decoding workers (their own processes, never the caller's):
# freed blocks below this stay in the worker's heap for the next batch instead of being
# unmapped and faulted in again. A fresh page cost ~6 us on the benchmark machine (a
# second 2.5 MB temporary: 1.2 -> 5 ms), so the batched statistics spent more time in
# page faults than in arithmetic. A worker's heap stays bounded by its largest batch
# (BATCH_VALUES: tens of MB), whatever the number of files.
WORKER_MMAP_THRESHOLD = 64 << 20
WORKER_TRIM_THRESHOLD = 256 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers


def _worker_init() -> None:
    """Start of a decoding worker: keep freed memory for reuse (glibc only), and move
    the objects inherited from the parent out of the garbage collector's sight (a
    collection would write to every one of them, copying the shared pages)."""
    import ctypes
    import gc

    gc.freeze()
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_THRESHOLD, WORKER_MMAP_THRESHOLD)
        libc.mallopt(_M_TRIM_THRESHOLD, WORKER_TRIM_THRESHOLD)
    except (OSError, AttributeError):  # not glibc: the defaults stay
        pass


def _shape_n(cols: dict[str, Any]) -> dict[str, np.ndarray]:
    return {k: cols[k] for k in ("hog_n", "emb_n", "spec", "hog_h0", "hog_n_h0")}


def _concat(parts: list[dict[str, Any]]) -> dict[str, Any]:
    if not parts:
        return features.columns([])
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def table_from_arrays(x: np.ndarray, y: np.ndarray | None, x_val: np.ndarray | None = None,
                      y_val: np.ndarray | None = None, progress: Progress | None = None
                      ) -> Table:
    """The same table from image arrays; rows are named ``train[i]`` / ``val[i]``.

    Pixels of each split are mapped to 0-1 with that split's min and max (so raw 0-255,
    [0, 1] and standardized inputs give the same facts, and a copy leaked into a split
    preprocessed differently is still found); the ranges themselves are judged by
    ``arrays.check_arrays``.
    """
    from convergent.data.arrays import labels_to_int

    x = np.asarray(x)
    parts: list[tuple[str, np.ndarray, np.ndarray | None]] = [("train", x, y)]
    if x_val is not None:
        parts.append(("val", np.asarray(x_val), y_val))
    rels, cls, split, rows = [], [], [], []
    total = sum(len(p[1]) for p in parts)
    done = 0
    for name, xs, ys in parts:
        lo, hi = _range(xs)
        labels = labels_to_int(ys)[0] if ys is not None else np.zeros(len(xs), np.int64)
        for start in range(0, len(xs), SHARD_SIZE):
            chunk = xs[start:start + SHARD_SIZE].astype(np.float32)
            chunk = np.clip((chunk - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)
            rows.append(features.pixel_facts(list(chunk)))
            done += len(chunk)
            if progress:
                progress(done, total)
        rels += [f"{name}[{i}]" for i in range(len(xs))]
        cls += [str(int(v)) for v in labels]
        split += [name] * len(xs)
    cols = _concat(rows)
    df = pd.DataFrame({"rel": rels, "cls": cls, "split": split,
                       **{k: cols[k] for k in features.COLUMNS}})
    classes = {s: sorted(set(df.loc[df.split == s, "cls"]), key=_num) for s in set(split)}
    return Table(df, cols["emb"], cols["hog"], cols["g32"], _shape_n(cols), source="arrays",
                 classes=classes)


def _range(x: np.ndarray) -> tuple[float, float]:
    sample = np.asarray(x[: min(len(x), 2048)], dtype=np.float64)
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return 0.0, 1.0
    return float(sample.min()), float(sample.max())


def _num(s: str) -> tuple[int, str]:
    return (int(s), "") if s.lstrip("-").isdigit() else (0, s)
