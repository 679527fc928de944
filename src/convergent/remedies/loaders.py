"""Run-time remedies that change how Keras' image iterators feed ``fit`` (``run --repair``).

Two loader mistakes a repair can undo at run time, on Keras' ``ImageDataGenerator``
iterators (``flow`` / ``flow_from_directory``, keras.src.legacy.preprocessing.image):

- a validation generator with ``featurewise_center`` / ``featurewise_std_normalization`` /
  ``zca_whitening`` that was never ``fit``: Keras warns and passes the images through
  unnormalized, so validation sees another range than training. The fix a person makes is
  ``valid_datagen.fit(x_train)``; the same at run time is to give the validation generator
  the training generator's statistics (:func:`share_generator_statistics`, used by the
  ``same_preprocessing`` handler before its rescaling fallback).
- a class folder with no images (``.ipynb_checkpoints``, an empty ``tmp/``): it takes a
  label index, so every later class is shifted by one against a split that does not have
  it (``remove_empty_class``: the iterator is given the non-empty class folders, what
  ``flow_from_directory(..., classes=[...])`` does).

Both work on shallow copies of the iterators (and of the generator), never on the user's
objects, so a later repair step or keep-best can go back to what the script built.

Library code: never prints. Keras is not imported here.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from convergent.remedies.runtime import _State, handler

# ImageDataGenerator flag -> the statistic ``fit`` computes for it (Keras' own names).
FITTED = {"featurewise_center": "mean", "featurewise_std_normalization": "std",
          "zca_whitening": "zca_whitening_matrix"}


def _generator(it: Any) -> Any:
    """The ImageDataGenerator behind a Keras image iterator, or None."""
    gen = getattr(it, "image_data_generator", None)
    return gen if gen is not None and hasattr(gen, "standardize") else None


def _unfit(gen: Any) -> list[str]:
    """The featurewise flags of ``gen`` whose statistic was never computed (no ``fit``)."""
    return [flag for flag, stat in FITTED.items()
            if getattr(gen, flag, False) and getattr(gen, stat, None) is None]


def _standardizes(gen: Any) -> bool:
    """``gen`` scales every image by fitted statistics (std normalization or ZCA)."""
    return any(getattr(gen, f, False) and getattr(gen, FITTED[f], None) is not None
               for f in ("featurewise_std_normalization", "zca_whitening"))


def _validation_iterator(fit_kwargs: dict[str, Any]) -> Any:
    val = fit_kwargs.get("validation_data")
    return val if _generator(val) is not None else None


def share_generator_statistics(s: _State) -> tuple[str, str] | None:
    """Give an unfit validation generator the training generator's ``fit`` statistics.

    Returns (what changed, snippet), or None when the run has no such pair (the training
    iterator must come from a generator that was fit with the same featurewise flags).
    """
    train, val = s.fit_kwargs.get("x"), _validation_iterator(s.fit_kwargs)
    gen_t, gen_v = _generator(train), _generator(val)
    if gen_t is None or gen_v is None or gen_t is gen_v:
        return None
    missing = _unfit(gen_v)
    usable = [f for f in missing
              if getattr(gen_t, f, False) and getattr(gen_t, FITTED[f], None) is not None]
    if not usable or len(usable) < len(missing):
        return None
    gen = copy.copy(gen_v)
    for flag in usable:
        setattr(gen, FITTED[flag], np.array(getattr(gen_t, FITTED[flag]), copy=True))
    it = copy.copy(val)
    it.image_data_generator = gen
    s.fit_kwargs["validation_data"] = it
    if _standardizes(gen_t):
        # the training inputs are standardized by construction, so inputs reaching the
        # network unscaled can only have been the validation split's: fixed with it
        s.fixes.add("DATA_UNNORMALIZED")
    stats = ", ".join(FITTED[f] for f in usable)
    return ((f"the validation ImageDataGenerator ({', '.join(usable)}) was never fit: it gets "
            f"the training generator's {stats} (a copy: your generators are unchanged)"),
            ("valid_datagen.fit(x_train)  # the training data's statistics, before "
            "valid_datagen.flow(...)"))


def _empty_classes(it: Any) -> list[str]:
    """Class names of a directory iterator that have no file, in label order."""
    indices = getattr(it, "class_indices", None)
    classes = getattr(it, "classes", None)
    if not isinstance(indices, dict) or classes is None or not hasattr(it, "filenames"):
        return []
    counts = np.bincount(np.asarray(classes, dtype=np.int64), minlength=len(indices))
    return [name for name, i in sorted(indices.items(), key=lambda kv: kv[1])
            if counts[i] == 0]


def _without(it: Any, empty: list[str]) -> Any:
    """A shallow copy of directory iterator ``it`` with the ``empty`` classes taken out
    and the others renumbered in their order (Keras sorts class folders by name)."""
    kept = [n for n, _ in sorted(it.class_indices.items(), key=lambda kv: kv[1])
            if n not in empty]
    new_index = {n: i for i, n in enumerate(kept)}
    remap = np.full(len(it.class_indices), -1, dtype=np.int64)
    for n, i in it.class_indices.items():
        if n in new_index:
            remap[i] = new_index[n]
    out = copy.copy(it)
    out.class_indices = new_index
    out.num_classes = len(kept)
    out.classes = remap[np.asarray(it.classes, dtype=np.int64)].astype(
        np.asarray(it.classes).dtype)
    return out


@handler("remove_empty_class")
def _h_remove_empty_class(s: _State) -> tuple[str, str]:
    """Class folders with no image taken out of the directory iterators' labels."""
    fk = s.fit_kwargs
    iterators = {k: fk.get(k) for k in ("x", "validation_data")
                 if hasattr(fk.get(k), "class_indices")}
    if "x" not in iterators:
        raise TypeError("fit(x=...) is not a directory iterator (flow_from_directory); "
                        "an empty class of arrays or a tf.data loader needs the code change")
    dropped: dict[str, list[str]] = {}
    for key, it in iterators.items():
        empty = _empty_classes(it)
        if empty and len(empty) < len(it.class_indices):
            dropped[key] = empty
    if "x" not in dropped:
        raise ValueError("the training iterator has no empty class folder")
    new = {k: _without(it, dropped[k]) if k in dropped else it for k, it in iterators.items()}
    if "validation_data" in new:
        names_t, names_v = (sorted(new[k].class_indices, key=new[k].class_indices.get)
                            for k in ("x", "validation_data"))
        if names_t != names_v:
            raise ValueError(f"after dropping the empty classes the splits' classes differ: "
                             f"train {names_t}, validation {names_v}")
    fk.update(new)
    kept = sorted(new["x"].class_indices, key=new["x"].class_indices.get)
    shown = sorted({n for names in dropped.values() for n in names})
    return ((f"empty class folder(s) {shown} left out of the labels ({len(kept)} classes "
            "left, renumbered in order; the model's outputs are unchanged)"),
            f"flow_from_directory(..., classes={kept!r})  # or delete the folder(s) {shown}")
