"""Re-pair images and labels of a ``tf.data`` pipeline at run time (``align_labels``).

DATA_LABELS_MISALIGNED on a tf.data input comes from replaying the pipeline
(``training/_inject/sources.py``): a ``Dataset.zip`` of an image branch and a label branch,
each branch's shuffles simulated. Two causes can be undone without the user's code, and
only when the replay of the pipeline as given shows labels with no information about the
images and the replay of the rebuilt one shows labels that carry it (the same label check,
``hook._label_information``; it cannot tell a consistent renaming of the classes from the
right labels, hence the first condition); otherwise the remedy does not apply and the
report shows the code change:

1. **The zip's branches are shuffled differently** (``Dataset.list_files(pattern)``
   shuffles by default, zipped with labels listed in sorted order): no pairing can have
   been meant by two independent orders, so the branches are rebuilt without their
   shuffles, paired by source position (``list_files(..., shuffle=False)``); a shuffle
   above the zip still shuffles the pairs.
2. **Labels given to ``image_dataset_from_directory(labels=[...])`` in the unsorted
   ``os.walk`` order**: Keras pairs the list with the files in sorted order (its docs:
   "Labels should be sorted according to the alphanumeric order of the image file paths
   (obtained via os.walk(directory) in Python)"). The labels of all the loader's subsets
   (training and validation: together they hold every file) are put back on the file
   each was listed for, the file at its position in the unsorted walk.

The stages above the zip (shuffle, map, batch, prefetch, cache, repeat, options) are
applied again to the re-paired zip; a shuffle gets the same buffer and op seed (its order
is not the user's exactly: the pairs are what matters). Nothing here iterates the user's
datasets.

Library code: never prints. TensorFlow is imported inside the functions.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from convergent.remedies.runtime import _State, handler
from convergent.training._inject.sources import _chain

# Keras' image_dataset_from_directory ALLOWLIST_FORMATS: the files it indexes.
IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


def _name(d: Any) -> str:
    return type(d).__name__.lower()


def _is_dataset(ds: Any) -> bool:
    return hasattr(ds, "_inputs") and hasattr(ds, "element_spec")


def _split_at_zip(ds: Any) -> tuple[list[Any], Any] | None:
    """The stages from ``ds`` down to its first ``Dataset.zip`` (that zip excluded) and the
    zip; None when a stage on the way has several inputs or there is no zip."""
    above = []
    for d in _chain(ds):
        if "zip" in _name(d):
            return above, d
        above.append(d)
    return None


def _mapper(wrapper: Any) -> Callable[..., Any]:
    """A function for ``Dataset.map`` that calls a map stage's traced function."""
    import tensorflow as tf

    def call(*args: Any) -> Any:
        out = wrapper.function(*tf.nest.flatten(args))
        out = out if isinstance(out, (list, tuple)) else [out]
        return tf.nest.pack_sequence_as(wrapper.output_structure, list(out))

    return call


def _seed(d: Any) -> int | None:
    try:
        seed, seed2 = int(d._seed), int(d._seed2)
    except (AttributeError, TypeError, ValueError):
        return None
    return None if seed == 0 and seed2 == 0 else seed2  # (0, 0): no seed was given


def _restage(d: Any, ds: Any) -> Any:
    """Stage ``d`` (one input) applied again, on top of ``ds``."""
    import tensorflow as tf

    name = _name(d)
    if "map" in name and getattr(d, "_map_func", None) is not None:
        parallel = "parallel" in name
        return ds.map(_mapper(d._map_func),
                      num_parallel_calls=tf.data.AUTOTUNE if parallel else None)
    if "shuffle" in name:
        return ds.shuffle(int(d._buffer_size), seed=_seed(d),
                          reshuffle_each_iteration=bool(getattr(
                              d, "_reshuffle_each_iteration", True)))
    if "unbatch" in name:
        return ds.unbatch()
    if "batch" in name and "padded" not in name:
        return ds.batch(int(d._batch_size), drop_remainder=bool(d._drop_remainder))
    if "prefetch" in name:
        return ds.prefetch(int(d._buffer_size))
    if "cache" in name:
        filename = getattr(d, "_filename", b"")
        filename = filename.numpy().decode() if hasattr(filename, "numpy") else ""
        return ds.cache(filename) if filename else ds.cache()
    if "repeat" in name:
        return ds.repeat(int(d._count))
    if "options" in name:
        return ds.with_options(d.options())
    raise TypeError(f"a {type(d).__name__} stage cannot be rebuilt at run time")


def _branch(b: Any) -> tuple[Any, list[Any]]:
    """A zip branch's ``from_tensor_slices`` source tensor and its stages (zip first)."""
    stages = []
    for d in _chain(b):
        if "tensorslice" in _name(d):
            tensors = getattr(d, "_tensors", None)
            if not isinstance(tensors, (list, tuple)) or len(tensors) != 1:
                raise TypeError("a zip branch slicing several tensors")
            return tensors[0], stages
        stages.append(d)
    raise TypeError("a zip branch with several inputs, or too deep to read")


def _build(source: Any, stages: list[Any], keep: Callable[[Any], bool]) -> Any:
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(source)
    for d in reversed(stages):
        if keep(d):
            ds = _restage(d, ds)
    return ds


def _rezip(above: list[Any], branches: list[Any]) -> Any:
    import tensorflow as tf

    ds = tf.data.Dataset.zip(tuple(branches))
    for d in reversed(above):
        ds = _restage(d, ds)
    return ds


def _shuffle_keys(stages: list[Any]) -> list[tuple[int, int, int]]:
    keys = []
    for d in stages:
        if "shuffle" in _name(d):
            keys.append((int(d._buffer_size), int(d._seed), int(d._seed2)))
    return keys


def unshuffled_branches(ds: Any) -> Any | None:
    """``ds`` rebuilt with its zip's branches paired by source position, when they were
    shuffled differently (cause 1, module doc); None when they were not."""
    split = _split_at_zip(ds)
    if split is None:
        return None
    above, z = split
    parts = [_branch(b) for b in z._inputs()]
    if len(parts) < 2 or len({tuple(_shuffle_keys(st)) for _, st in parts}) == 1:
        return None  # every branch in the same order: their pairing is what was meant
    branches = [_build(src, st, lambda d: "shuffle" not in _name(d)) for src, st in parts]
    return _rezip(above, branches)


def _walk_files(directory: str) -> list[str]:
    """Image files under ``directory`` in the order an unsorted ``os.walk`` lists them."""
    return [os.path.join(root, f) for root, _, files in os.walk(directory)
            for f in files if f.lower().endswith(IMAGE_FORMATS)]


def walk_order_labels(datasets: dict[str, Any]) -> dict[str, Any] | None:
    """The loader datasets (``image_dataset_from_directory(labels=[...])`` subsets) rebuilt
    with each label on the file it was listed for in an unsorted ``os.walk`` (cause 2,
    module doc); None when they are not such loaders or their files are not one walk."""
    parts: dict[str, tuple[list[Any], Any, list[str], np.ndarray, list[Any]]] = {}
    for key, ds in datasets.items():
        split = _split_at_zip(ds) if getattr(ds, "file_paths", None) else None
        if split is None:  # not a Keras loader (it sets file_paths), or not one of a zip
            continue
        above, z = split
        inputs = z._inputs()
        if len(inputs) != 2:
            continue
        (paths_t, path_st), (labels_t, label_st) = _branch(inputs[0]), _branch(inputs[1])
        try:
            paths = [p.decode() if isinstance(p, bytes) else str(p)
                     for p in np.asarray(paths_t).tolist()]
            labels = np.asarray(labels_t)
        except Exception:  # noqa: BLE001, S112 - not tensors numpy can hold
            continue
        if not paths or labels.shape[:1] != (len(paths),) or any(
                "shuffle" in _name(d) for d in path_st + label_st):
            continue
        parts[key] = (above, path_st, paths, labels, label_st)
    if "x" not in parts:
        return None
    given = {p: lab for _, _, paths, labels, _ in parts.values()
             for p, lab in zip(paths, labels, strict=True)}
    directory = os.path.commonpath(list(given))
    walk = _walk_files(directory)
    if sorted(walk) != sorted(given) or len(walk) != len(given):
        return None  # the subsets do not hold every file of one directory walk
    # Keras' order (dataset_utils.iter_valid_files): folders sorted, files sorted in each
    ordered = sorted(given, key=lambda p: (os.path.dirname(p), os.path.basename(p)))
    intended = {f: given[ordered[i]] for i, f in enumerate(walk)}
    if all(intended[p] == given[p] for p in given):
        return None  # the walk order is the sorted order: nothing to re-pair
    out = {}
    for key, (above, path_st, paths, labels, label_st) in parts.items():
        new = np.array([intended[p] for p in paths], dtype=labels.dtype)
        out[key] = _rezip(above, [_build(np.asarray(paths), path_st, lambda d: True),
                                  _build(new, label_st, lambda d: True)])
    return out


def _informative(ds: Any) -> bool:
    """The replay of ``ds`` shows labels that carry information about its images (the
    label check of the hook: better than chance by its margin); TypeError when the
    pipeline cannot be replayed."""
    from convergent.training._inject import hook, sources

    sample = sources.replayed_sample(ds, sources.LOADER_SAMPLE)
    if sample is None or sample[1] is None:
        raise TypeError("the pipeline cannot be replayed to check its labels")
    return not hook._label_information(sample, {"notes": []})


@handler("align_labels")
def _h_align_labels(s: _State) -> tuple[str, str]:
    """Re-pair a tf.data pipeline's images and labels (module doc), verified by replay."""
    fk = s.fit_kwargs
    datasets = {k: fk[k] for k in ("x", "validation_data") if _is_dataset(fk.get(k))}
    if "x" not in datasets:
        raise TypeError("fit(x=...) is not a tf.data pipeline: shuffle x and y together "
                        "with one permutation in the code")
    if _informative(datasets["x"]):
        raise ValueError("the replay shows labels that carry information already")
    how, new = "", {}
    for key, ds in datasets.items():
        rebuilt = unshuffled_branches(ds)
        if rebuilt is not None:
            new[key] = rebuilt
    if new:
        how = ("the zipped images and labels were shuffled in different orders: paired by "
               "source position again (the shuffles of the zip's branches dropped)")
        snippet = ("tf.data.Dataset.list_files(pattern, shuffle=False)  # keep the files in "
                   "the order the labels were listed\n# or zip first, then shuffle the pairs: "
                   "tf.data.Dataset.zip((images, labels)).shuffle(...)")
    else:
        new = walk_order_labels(datasets) or {}
        how = ("the labels were listed in the unsorted os.walk order; "
               "image_dataset_from_directory pairs them with the files in sorted order: "
               "each label put back on the file it was listed for")
        snippet = ("for path, directories, image_files in os.walk(images_dir):\n"
                   "    for image_file in sorted(image_files):  # the loader's order")
    if not new:
        raise ValueError("no re-pairing of the pipeline's images and labels found (neither "
                         "differently shuffled zip branches nor labels in os.walk order)")
    if not _informative(new["x"]):
        raise ValueError(f"re-paired ({how}), the labels still carry no information "
                         "about the images: the pairing is wrong some other way")
    for key, ds in new.items():  # what Keras' loader sets, for code that reads them
        for attr in ("class_names", "file_paths"):
            if hasattr(datasets[key], attr):
                setattr(ds, attr, getattr(datasets[key], attr))
    fk.update(new)
    return f"{how}; the replay of the re-paired pipeline shows informative labels", snippet
