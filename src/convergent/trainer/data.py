"""Load an image folder (read-only) or arrays, split them stratified and de-leaked, and
build the tf.data pipelines a Recipe asks for.

Images are decoded once into memory (uint8), which suits the small folders this trainer
is for; files that fail to decode join the quarantine list instead of stopping the run.
The user's files are only ever opened for reading.

Example:
    >>> images = load_folder("data/")                         # doctest: +SKIP
    >>> data = build_data(recipe, images)                     # doctest: +SKIP
    >>> model.fit(data.train, validation_data=data.val)       # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from convergent.errors import BadInputError
from convergent.trainer.recipe import Recipe

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
MAX_SIDE = 64     # CPU-sized default: larger images are resized down (keeps aspect by padding)
VAL_NAMES = ("val", "validation", "valid", "test")


@dataclass
class ImageSet:
    """Decoded images with their labels, relative paths and (optional) given split."""

    x: np.ndarray                     # uint8 (N, H, W, C)
    y: np.ndarray                     # int64 (N,)
    class_names: list[str]
    files: list[str]                  # relative to the root
    split: np.ndarray | None = None   # "train"/"val" per image when the folder has them
    quarantine: list[str] = field(default_factory=list)


@dataclass
class Data:
    """What ``build_data`` returns: the pipelines and the facts the model and report need."""

    train: Any                         # tf.data.Dataset of (image, label) batches
    val: Any
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    class_names: list[str]
    input_shape: tuple[int, int, int]
    mean: np.ndarray
    variance: np.ndarray
    class_weight: dict[int, float] | None
    steps_per_epoch: int
    split_info: dict[str, Any] = field(default_factory=dict)
    images: ImageSet | None = None     # the loaded folder, to rebuild with other settings


def _class_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _list(root: Path) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(relative path, class name, split) for every image; split "" unless train/val given."""
    subs = {p.name.lower(): p for p in _class_dirs(root)}
    val_dir = next((subs[n] for n in VAL_NAMES if n in subs), None)
    parts = [("train", subs["train"]), ("val", val_dir)] if "train" in subs and val_dir else \
        [("", root)]
    names: list[str] = []
    for _, base in parts:
        names += [p.name for p in _class_dirs(base) if p.name not in names]
    names.sort()
    out = []
    for split, base in parts:
        for cls in _class_dirs(base):
            for f in sorted(cls.rglob("*")):
                if f.is_file() and f.suffix.lower() in IMAGE_EXTS:
                    out.append((f.relative_to(root).as_posix(), cls.name, split))
    return out, names


def load_folder(root: str | Path, exclude: Iterable[str] = (),
                image_size: tuple[int, int] | None = None, color_mode: str | None = None,
                max_side: int = MAX_SIDE) -> ImageSet:
    """Decode a class-per-folder tree (optionally with ``train/`` and ``val/`` subtrees).

    Args:
        root: the folder; only read.
        exclude: relative paths to skip (the quarantine list).
        image_size: (height, width) to resize to; default the median size, at most
            ``max_side`` on the longer side.
        color_mode: "grayscale" or "rgb"; default grayscale when every image is.
        max_side: cap of the default size.
    """
    from PIL import Image, UnidentifiedImageError

    root = Path(root)
    if not root.is_dir():
        raise BadInputError(f"{root} is not a folder; give a folder with one subfolder per class")
    entries, names = _list(root)
    skip = set(exclude)
    if len(names) < 2 or not entries:
        raise BadInputError(f"{root} has {len(names)} class folder(s) with {len(entries)} "
                            "images; a classifier needs >= 2 class subfolders of images")
    imgs, labels, files, splits, quarantine = [], [], [], [], []
    for rel, cls, split in entries:
        if rel in skip:
            quarantine.append(rel)
            continue
        try:
            with Image.open(root / rel) as im:
                im.load()
                imgs.append(im.convert("RGB") if im.mode not in ("L", "RGB") else im.copy())
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            quarantine.append(rel)
            continue
        labels.append(names.index(cls))
        files.append(rel)
        splits.append(split)
    if not imgs:
        raise BadInputError(f"no image in {root} could be decoded")
    if color_mode is None:
        gray = all(im.mode == "L" or _equal_channels(im) for im in imgs)
        color_mode = "grayscale" if gray else "rgb"
    if image_size is None:
        h = int(np.median([im.height for im in imgs]))
        w = int(np.median([im.width for im in imgs]))
        scale = min(1.0, max_side / max(h, w))
        image_size = (max(8, round(h * scale)), max(8, round(w * scale)))
    mode = "L" if color_mode == "grayscale" else "RGB"
    size = (image_size[1], image_size[0])
    arr = np.stack([np.asarray(im.convert(mode).resize(size) if im.size != size or im.mode != mode
                               else im) for im in imgs]).astype(np.uint8)
    if arr.ndim == 3:
        arr = arr[..., None]
    split_arr = np.array(splits) if any(splits) else None
    return ImageSet(arr, np.array(labels, np.int64), names, files, split_arr, quarantine)


def _equal_channels(im: Any) -> bool:
    a = np.asarray(im)
    return a.ndim == 2 or bool(np.array_equal(a[..., 0], a[..., 1])
                               and np.array_equal(a[..., 1], a[..., 2]))


def groups_of(x: np.ndarray, files: Sequence[str] | None = None,
              pairs: Iterable[tuple[str, str]] = ()) -> np.ndarray:
    """A group id per image: identical pixels, or a listed near-duplicate pair, share one."""
    parent = list(range(len(x)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[bytes, int] = {}
    for i, img in enumerate(x):
        h = hashlib.blake2b(np.ascontiguousarray(img).tobytes(), digest_size=16).digest()
        if h in first:
            parent[find(i)] = find(first[h])
        else:
            first[h] = i
    if files is not None:
        index = {f: i for i, f in enumerate(files)}
        for a, b in pairs:
            if a in index and b in index:
                parent[find(index[a])] = find(index[b])
    return np.array([find(i) for i in range(len(x))])


def split_indices(y: np.ndarray, groups: np.ndarray, val_fraction: float, seed: int,
                  stratified: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Train/val indices: whole groups go to one side; per class when ``stratified``."""
    rng = np.random.default_rng(seed)
    val: list[int] = []
    buckets = [np.flatnonzero(y == c) for c in np.unique(y)] if stratified else [np.arange(len(y))]
    for idx in buckets:
        target = round(len(idx) * val_fraction)
        gs = rng.permutation(np.unique(groups[idx]))
        taken = 0
        for g in gs:
            if taken >= target:
                break
            members = idx[groups[idx] == g]
            val += members.tolist()
            taken += len(members)
    val_set = set(val)
    all_members = set(np.flatnonzero(np.isin(groups, groups[list(val_set)])).tolist()) if val \
        else set()
    val_idx = np.array(sorted(all_members), dtype=np.int64)
    train_idx = np.array([i for i in range(len(y)) if i not in all_members], dtype=np.int64)
    return rng.permutation(train_idx), val_idx


def balanced_weights(y: np.ndarray, num_classes: int) -> dict[int, float]:
    """sklearn's 'balanced' class weights n / (C * n_c); absent classes get 1."""
    counts = np.bincount(y, minlength=num_classes).astype(float)
    return {c: (len(y) / (num_classes * counts[c]) if counts[c] else 1.0)
            for c in range(num_classes)}


def resample(y: np.ndarray, how: str, seed: int) -> np.ndarray:
    """Indices that over- or undersample every class to the largest/smallest class size."""
    rng = np.random.default_rng(seed)
    classes = [np.flatnonzero(y == c) for c in np.unique(y)]
    n = max(map(len, classes)) if how == "oversample" else min(map(len, classes))
    idx = [np.concatenate([c, rng.choice(c, n - len(c))]) if len(c) < n
           else rng.choice(c, n, replace=False) for c in classes]
    return rng.permutation(np.concatenate(idx))


def build_data(recipe: Recipe, images: ImageSet | None = None,
               arrays: tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]
               | None = None, seed: int = 0) -> Data:
    """Split, balance and batch the data as ``recipe.data`` says.

    Args:
        recipe: the Recipe (``data`` and ``fit.batch_size`` are used).
        images: a loaded folder; default ``load_folder(recipe.data.source)``.
        arrays: ``(x, y, x_val, y_val)`` instead of a folder (``x_val`` may be None: split).
        seed: seed of the split, the shuffles and the resampling.
    """
    import tensorflow as tf

    d = recipe.data
    info: dict[str, Any] = {}
    if arrays is not None:
        x, y, xv, yv = arrays
        x = np.asarray(x)
        x = x[..., None] if x.ndim == 3 else x
        y = np.asarray(y).astype(np.int64).reshape(-1)
        files, given, names = None, None, [str(i) for i in range(int(y.max()) + 1)]
        if xv is not None:
            xv = np.asarray(xv)
            xv = xv[..., None] if xv.ndim == 3 else xv
            given = np.array(["train"] * len(x) + ["val"] * len(xv))
            x, y = np.concatenate([x, xv]), np.concatenate([y, np.asarray(yv).reshape(-1)])
    else:
        if images is None:
            if not d.source:
                raise BadInputError("the recipe has no data.source; pass images= or arrays=")
            images = load_folder(d.source, d.exclude, d.image_size, d.color_mode)
        x, y, files, given, names = (images.x, images.y, images.files, images.split,
                                     images.class_names)
        info["quarantine"] = list(images.quarantine)
    groups = groups_of(x, files, d.leak_pairs) if (d.deleak or d.dedupe) else np.arange(len(x))
    if d.dedupe:
        _, keep = np.unique(groups, return_index=True)
        keep = np.sort(keep)
        info["dropped_duplicates"] = int(len(x) - len(keep))
        x, y, groups = x[keep], y[keep], groups[keep]
        given = given[keep] if given is not None else None
        files = [files[i] for i in keep] if files is not None else None
    if given is not None:
        tr, va = np.flatnonzero(given == "train"), np.flatnonzero(given == "val")
        if d.deleak:  # drop from validation whatever also sits in train
            leaked = np.isin(groups[va], groups[tr])
            info["removed_leaked_val"] = int(leaked.sum())
            va = va[~leaked]
    else:
        tr, va = split_indices(y, groups, d.val_fraction, seed, d.stratified)
    if d.balance in ("oversample", "undersample"):
        tr = tr[resample(y[tr], d.balance, seed)]
    x_tr, y_tr, x_va, y_va = x[tr], y[tr], x[va], y[va]
    num_classes = max(len(names), recipe.model.num_classes)
    cw = balanced_weights(y_tr, num_classes) if d.balance == "class_weight" else None
    mean = x_tr.reshape(-1, x_tr.shape[-1]).mean(0).astype(np.float32)
    var = x_tr.reshape(-1, x_tr.shape[-1]).var(0).astype(np.float32) + 1e-7
    bs = recipe.fit.batch_size
    units = recipe.model.output_units or recipe.model.num_classes
    onehot = 0 if recipe.compile.loss.startswith("sparse") else units

    def prep(xb: Any, yb: Any) -> tuple[Any, Any]:
        xb = tf.cast(xb, tf.float32)
        return (xb, tf.one_hot(yb, onehot)) if onehot else (xb, yb)

    train = tf.data.Dataset.from_tensor_slices((x_tr, y_tr))
    if d.shuffle:
        train = train.shuffle(len(x_tr), seed=seed, reshuffle_each_iteration=True)
    train = train.batch(bs).map(prep, num_parallel_calls=tf.data.AUTOTUNE) \
        .prefetch(tf.data.AUTOTUNE)
    val = tf.data.Dataset.from_tensor_slices((x_va, y_va)).batch(256).map(prep) \
        .prefetch(tf.data.AUTOTUNE) if len(va) else None
    info.update(train=len(tr), val=len(va), groups=len(np.unique(groups)))
    return Data(train, val, x_tr, y_tr, x_va, y_va, list(names), tuple(x.shape[1:]), mean, var,
                cw, int(np.ceil(len(x_tr) / bs)), info, images)

