"""Checks on arrays and input pipelines: value range, finiteness, class counts, split order.

``check_arrays`` is the function other layers reuse (model probes, the training monitor):
it takes numpy-like arrays exactly as they would reach ``model.fit`` and returns findings.
``summarize_batches`` samples a ``tf.data.Dataset``, a Keras ``PyDataset`` or any iterable
of ``(x, y)`` batches into the same per-split statistics, so ``check_summaries`` applies
the same checks to pipelines. TensorFlow is never imported here.

Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).integers(0, 256, (100, 8, 8)).astype("float32")
    >>> y = np.repeat(np.arange(2), 50)
    >>> [f.code.value for f in check_arrays(x, y)]
    ['DATA_UNNORMALIZED', 'DATA_SORTED_SPLIT']
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from convergent.errors import BadInputError
from convergent.findings import Code, Finding, Severity
from convergent.remedies.catalog import remedies_for

# Inputs whose root-mean-square value exceeds this are "raw": He/Glorot initialisers and
# the default learning rates assume inputs of unit scale (LeCun et al. 1998, "Efficient
# BackProp", sec. 4.3: mean 0, variance ~1). [0, 1] pixels have RMS <= 1, standardized
# inputs ~1, [-1, 1] <= 1; raw 0-255 pixels ~100. 3x the unit scale leaves room for
# standardized data with bright outliers (first principles, not tuned on a benchmark).
UNNORMALIZED_RMS = 3.0
# ... and inputs whose spread collapsed far below it: [0, 1] pixels have std 0.31 (MNIST
# sample), 0.38 (digits), 0.41 (animal shapes) - measured on the offline datasets; a second
# /255 leaves 0.0012-0.0016, and a 0-255 preprocessing (x / 127.5 - 1) applied to [0, 1]
# pixels 0.0024-0.0032 (the offset keeps their RMS near 1, so the spread is what tells).
# 0.02 sits 15x under the [0, 1] sets and 6x over the collapses: the first layer then sees
# ~20x less signal than its init assumes, like a far too small init.
UNDERSCALED_STD = 0.02
# Two splits (or batches) fed through the same preprocessing agree in scale within
# sampling noise; a forgotten /255 on one side differs by 255x, a forgotten
# standardization by ~3-4x (std 0.3 vs 1). Flag a ratio of RMS scales above 2.5, or a
# mean shift of more than one pooled std (first principles: random halves of the offline
# datasets give ratios below 1.1 and shifts below 0.1 std, see tests/data/test_arrays.py).
RANGE_RATIO = 2.5
MEAN_SHIFT_STD = 1.0
# Majority/minority ratio: Buda et al. 2018 ("A systematic study of the class imbalance
# problem in convolutional neural networks") measure a clear accuracy loss from ratio 10 up.
IMBALANCE_RATIO = 10.0
# Fewer than 10 per class: below the "10-shot" regime where few-shot benchmarks stop and
# where stratified 5-fold cross-validation still gets 2 images of the class per fold; a 20 %
# validation split then holds at most 1-2 of them (first principles). Was 20 at first;
# lowered because 10-19 images is the minority of an imbalanced set (DATA_IMBALANCE),
# not a class too small to learn at all -- disclosed, see benchmarks/RESULTS.md "scan".
MIN_PER_CLASS = 10
# With no validation_split given, labels are "sorted" when the number of label runs is
# below this fraction of the runs expected in random order (sorted data: runs ~= classes;
# shuffled data: within a few % of the expectation; first principles).
SORTED_RUNS_FRACTION = 0.2
# A validation_split that leaves classes out of one side is blamed on the order of the
# arrays only when a random order would do that less than 1 % of the time (the usual
# significance level; the probability is computed from the class counts).
SPLIT_CHANCE_ALPHA = 0.01
# Rows read at a time, so huge arrays (or memmaps) are summarized in bounded memory.
CHUNK_ROWS = 1024
MAX_LISTED = 50  # indices listed in evidence


@dataclass
class Stats:
    """Streaming summary of one split (or batch) of inputs and labels."""

    name: str = "train"
    n: int = 0
    dtype: str = ""
    shape: tuple[int, ...] = ()
    count: int = 0  # finite values seen
    min: float = math.inf
    max: float = -math.inf
    sum: float = 0.0
    sumsq: float = 0.0
    nonfinite: int = 0
    nonfinite_rows: list[int] = field(default_factory=list)
    label_nonfinite: int = 0
    labels: np.ndarray | None = None  # integer class per sample (None: no labels)
    n_classes: int | None = None  # from one-hot width, when known

    def add_x(self, x: np.ndarray, offset: int = 0) -> None:
        """Fold a chunk of inputs (first axis = samples) into the summary."""
        x = np.asarray(x)
        if not self.dtype:
            self.dtype = str(x.dtype)
            self.shape = tuple(int(s) for s in x.shape[1:])
        self.n += int(x.shape[0]) if x.ndim else 1
        if x.dtype.kind == "b":
            x = x.astype(np.uint8)
        if x.dtype.kind not in "biuf":
            raise BadInputError(f"inputs must be numeric; received dtype {x.dtype}")
        xf = x.astype(np.float64, copy=False).reshape(len(x), -1) if x.ndim else x.reshape(1, 1)
        if x.dtype.kind == "f":
            finite = np.isfinite(xf)
            bad_rows = np.flatnonzero(~finite.all(axis=1))
            if bad_rows.size:
                self.nonfinite += int((~finite).sum())
                room = MAX_LISTED - len(self.nonfinite_rows)
                self.nonfinite_rows += [int(i) + offset for i in bad_rows[:max(room, 0)]]
                xf = xf[finite]
        if xf.size:
            self.count += int(xf.size)
            self.min = min(self.min, float(xf.min()))
            self.max = max(self.max, float(xf.max()))
            self.sum += float(xf.sum())
            self.sumsq += float(np.square(xf).sum())

    @property
    def mean(self) -> float:
        return self.sum / self.count if self.count else math.nan

    @property
    def std(self) -> float:
        if not self.count:
            return math.nan
        return math.sqrt(max(self.sumsq / self.count - self.mean ** 2, 0.0))

    @property
    def rms(self) -> float:
        return math.sqrt(self.sumsq / self.count) if self.count else math.nan

    def describe(self) -> dict[str, Any]:
        """Plain numbers for evidence."""
        return {"split": self.name, "n": self.n, "dtype": self.dtype,
                "min": _r(self.min), "max": _r(self.max), "mean": _r(self.mean),
                "std": _r(self.std), "rms": _r(self.rms)}


def _r(v: float) -> float:
    return round(float(v), 4) if math.isfinite(v) else float(v)


def labels_to_int(y: Any) -> tuple[np.ndarray, int | None, int]:
    """Integer class per sample from sparse or one-hot labels.

    Returns (labels, n_classes from one-hot width or None, count of non-finite labels).
    Rows with a non-finite label get -1.
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    n_classes = None
    bad = 0
    if y.ndim == 2:
        n_classes = int(y.shape[1])
        yf = y.astype(np.float64, copy=False)
        ok = np.isfinite(yf).all(axis=1)
        bad = int((~ok).sum())
        out = np.where(ok, np.argmax(np.where(np.isfinite(yf), yf, -np.inf), axis=1), -1)
        return out.astype(np.int64), n_classes, bad
    if y.ndim != 1:
        raise BadInputError(f"labels must be (N,) integers or (N, C) one-hot; received shape "
                            f"{y.shape}")
    if y.dtype.kind == "f":
        ok = np.isfinite(y)
        bad = int((~ok).sum())
        if np.any(ok & (np.round(y) != y)):
            raise BadInputError("labels must be class indices or one-hot rows; received "
                                "non-integer floats (is this a regression target?)")
        return np.where(ok, np.nan_to_num(y), -1).astype(np.int64), None, bad
    if y.dtype.kind not in "iub":
        # strings or objects: map to codes in sorted order
        _, codes = np.unique(y.astype(str), return_inverse=True)
        return codes.astype(np.int64), None, 0
    return y.astype(np.int64), None, 0


def array_stats(x: Any, y: Any = None, name: str = "train") -> Stats:
    """Summarize one split in chunks of ``CHUNK_ROWS`` rows (bounded memory)."""
    s = Stats(name=name)
    if not hasattr(x, "shape"):
        x = np.asarray(x)
    if len(x.shape) == 0 or x.shape[0] == 0:
        raise BadInputError(f"{name} inputs are empty (shape {tuple(x.shape)}); pass at least "
                            "one sample per class")
    for start in range(0, int(x.shape[0]), CHUNK_ROWS):
        s.add_x(np.asarray(x[start:start + CHUNK_ROWS]), offset=start)
    if y is not None:
        labels, s.n_classes, s.label_nonfinite = labels_to_int(y)
        if len(labels) != s.n:
            raise BadInputError(f"{name}: x has {s.n} samples but y has {len(labels)} labels; "
                                "they must be equal")
        s.labels = labels
    return s


def check_arrays(x: Any, y: Any = None, x_val: Any = None, y_val: Any = None, *,
                 validation_split: float | None = None, in_order: bool = False
                 ) -> list[Finding]:
    """Check arrays as they would reach ``model.fit`` and return findings (never prints).

    Args:
        x: training inputs, numpy-like with samples on the first axis (any numeric dtype).
        y: training labels, (N,) class indices or (N, C) one-hot; optional.
        x_val, y_val: validation split, when one is given to ``fit``.
        validation_split: the fraction given to ``fit(validation_split=...)``; Keras takes
            the *last* fraction of the arrays, unshuffled.
        in_order: training sees the samples in this order (``fit(shuffle=False)``, or a
            pipeline without a shuffle stage).

    Returns:
        Findings among DATA_NONFINITE, DATA_UNNORMALIZED, DATA_INCONSISTENT_RANGE,
        DATA_EMPTY_CLASS, DATA_TOO_FEW, DATA_IMBALANCE, DATA_SORTED_SPLIT.

    Example:
        >>> x = np.random.default_rng(0).random((60, 4, 4)).astype("float32")
        >>> check_arrays(x, np.arange(60) % 3)
        []
    """
    if validation_split is not None and not 0.0 < float(validation_split) < 1.0:
        raise BadInputError(f"validation_split must be in (0, 1); received {validation_split!r}")
    summaries = [array_stats(x, y, "train")]
    if x_val is not None:
        summaries.append(array_stats(x_val, y_val, "val"))
    return check_summaries(summaries, validation_split=validation_split, in_order=in_order)


def check_summaries(summaries: list[Stats], *, validation_split: float | None = None,
                    in_order: bool = False) -> list[Finding]:
    """Run every array check over per-split (or per-batch) summaries; the first is train."""
    out: list[Finding] = []
    out += _nonfinite(summaries)
    out += _unnormalized(summaries)
    out += _inconsistent(summaries)
    train = summaries[0]
    if train.labels is not None:
        out += count_findings(_counts(train), where="training labels")
        out += _sorted_split(train.labels, validation_split,
                             has_val=len(summaries) > 1 and summaries[1].name == "val",
                             in_order=in_order)
        if len(summaries) > 1 and summaries[1].name == "val" and summaries[1].labels is not None:
            out += _unseen_classes(train.labels, summaries[1].labels)
    return out


def _unseen_classes(train: np.ndarray, val: np.ndarray) -> list[Finding]:
    """Validation classes that training never shows (a head/tail cut of ordered data)."""
    seen = set(train[train >= 0].tolist())
    v = val[val >= 0]
    unseen = sorted(set(v.tolist()) - seen)
    if not unseen or not seen:
        return []
    share = float(np.isin(v, unseen).mean())
    return [Finding(
        Code.DATA_SORTED_SPLIT, Severity.ERROR, 1.0,
        f"Validation holds {len(unseen)} class(es) training never sees",
        f"{share:.0%} of the validation samples belong to classes with no training sample, "
        "so the model cannot get them right: validation accuracy is capped at "
        f"{1 - share:.0%}. This is what splitting class-ordered arrays head/tail does; "
        "shuffle (or stratify) before splitting.",
        {"val_classes_unseen_in_train": unseen[:MAX_LISTED], "val_share": round(share, 4),
         "threshold": "every validation class present in training"},
        remedies_for(Code.DATA_SORTED_SPLIT, "shuffle_before_split"))]


def _counts(s: Stats) -> dict[str, int]:
    labels = s.labels[s.labels >= 0] if s.labels is not None else np.zeros(0, int)
    k = max(int(labels.max()) + 1 if labels.size else 0, s.n_classes or 0)
    counts = np.bincount(labels, minlength=k)
    return {str(c): int(n) for c, n in enumerate(counts)}


# ---------------------------------------------------------------- checks on values
def _nonfinite(summaries: list[Stats]) -> list[Finding]:
    bad = [s for s in summaries if s.nonfinite or s.label_nonfinite]
    if not bad:
        return []
    ev = {s.name: {"nonfinite_values": s.nonfinite, "nonfinite_labels": s.label_nonfinite,
                   "rows": s.nonfinite_rows} for s in bad}
    total = sum(s.nonfinite + s.label_nonfinite for s in bad)
    return [Finding(
        Code.DATA_NONFINITE, Severity.ERROR, 1.0,
        f"{total} NaN/inf value(s) in the inputs or labels",
        "Some inputs or labels are NaN or infinite. One such value turns the first layer's "
        "weights into NaN and the loss stops moving (often at ln C), with no error raised.",
        {**ev, "threshold": "any non-finite value"}, remedies_for(Code.DATA_NONFINITE))]


def _underscaled(summaries: list[Stats]) -> list[Finding]:
    tiny = [s for s in summaries if s.count and s.std < UNDERSCALED_STD]
    if not tiny:
        return []
    worst = min(s.std for s in tiny)
    conf = min(1.0, 0.6 + 0.2 * math.log10(UNDERSCALED_STD / max(worst, 1e-12)))
    rng = ", ".join(f"{s.name} {s.min:.3g}..{s.max:.3g}" for s in tiny)
    return [Finding(
        Code.DATA_UNNORMALIZED, Severity.WARNING, conf,
        f"Inputs reach the network almost constant ({rng}): scaled twice?",
        f"The inputs' standard deviation is {worst:.3g}; pixels in [0, 1] have ~0.3-0.4. "
        "Dividing by 255 twice (e.g. in preprocessing and again with Rescaling or "
        "ImageDataGenerator's rescale), or a 0-255 preprocessing on [0, 1] pixels, leaves "
        "the first layer almost no signal, and it learns as slowly as from a far too small "
        "init. Scale once, or standardize.",
        {"splits": [s.describe() for s in tiny], "std": worst,
         "max": max(s.max for s in tiny), "threshold": {"std_min": UNDERSCALED_STD}},
        remedies_for(Code.DATA_UNNORMALIZED, "standardize"))]


def _unnormalized(summaries: list[Stats]) -> list[Finding]:
    raw = [s for s in summaries if s.count and s.rms > UNNORMALIZED_RMS]
    if not raw:
        return _underscaled(summaries)
    worst = max(s.rms for s in raw)
    conf = min(1.0, 0.6 + 0.2 * math.log10(worst / UNNORMALIZED_RMS))
    rng = ", ".join(f"{s.name} {s.min:g}..{s.max:g}" for s in raw)
    return [Finding(
        Code.DATA_UNNORMALIZED, Severity.WARNING, conf,
        f"Inputs reach the network unscaled ({rng})",
        "Pixel values arrive in a raw range rather than around unit scale. Initialisers and "
        "default learning rates assume inputs near [0, 1] or standardized; raw 0-255 inputs "
        "make plain SGD diverge or stall and slow Adam down.",
        {"splits": [s.describe() for s in raw], "threshold": {"rms_max": UNNORMALIZED_RMS}},
        remedies_for(Code.DATA_UNNORMALIZED, "rescale"))]


def _inconsistent(summaries: list[Stats]) -> list[Finding]:
    usable = [s for s in summaries if s.count]
    if len(usable) < 2:
        return []
    ref = usable[0]
    out_of_line = []
    for s in usable[1:]:
        ratio = max(s.rms, ref.rms) / max(min(s.rms, ref.rms), 1e-12)
        pooled = math.sqrt((ref.std ** 2 + s.std ** 2) / 2) or 1e-12
        shift = abs(s.mean - ref.mean) / pooled
        if ratio > RANGE_RATIO or shift > MEAN_SHIFT_STD:
            out_of_line.append((s, ratio, shift))
    if not out_of_line:
        return []
    worst = max(r for _, r, _ in out_of_line)
    names = ", ".join(s.name for s, _, _ in out_of_line[:5])
    return [Finding(
        Code.DATA_INCONSISTENT_RANGE, Severity.ERROR if worst > 10 else Severity.WARNING,
        min(1.0, 0.7 + 0.1 * math.log10(max(worst, 1.0))),
        f"{names} arrive in a different range than {ref.name}",
        "The splits (or batches) do not share one preprocessing: their value ranges differ, "
        "so what the model learns on one does not transfer to the other (for example, "
        "training images divided by 255 and validation images not).",
        {"reference": ref.describe(),
         "different": [{**s.describe(), "rms_ratio": _r(r), "mean_shift_std": _r(d)}
                       for s, r, d in out_of_line[:MAX_LISTED]],
         "threshold": {"rms_ratio_max": RANGE_RATIO, "mean_shift_std_max": MEAN_SHIFT_STD}},
        remedies_for(Code.DATA_INCONSISTENT_RANGE, "same_preprocessing"))]


# ---------------------------------------------------------------- checks on class counts
def count_findings(counts: dict[str, int], where: str = "the data",
                   files: dict[str, list[str]] | None = None) -> list[Finding]:
    """DATA_EMPTY_CLASS, DATA_TOO_FEW and DATA_IMBALANCE from ``{class: n}``.

    Shared by the array checks and the folder scan (``files`` lists a class's files).
    """
    out: list[Finding] = []
    if not counts:
        return out
    empty = sorted(c for c, n in counts.items() if n == 0)
    if empty:
        out.append(Finding(
            Code.DATA_EMPTY_CLASS, Severity.ERROR, 1.0,
            f"{len(empty)} class(es) with no usable samples in {where}",
            "A class exists (as a folder or a label index) but has no usable samples: the "
            "model has an output it can never learn, and label indices may be shifted.",
            {"classes": empty, "counts": counts, "threshold": {"min_samples": 1}},
            remedies_for(Code.DATA_EMPTY_CLASS)))
    few = {c: n for c, n in counts.items() if 0 < n < MIN_PER_CLASS}
    if few:
        ev: dict[str, Any] = {"classes": few, "threshold": {"min_per_class": MIN_PER_CLASS}}
        if files:
            ev["files"] = [f for c in sorted(few) for f in files.get(c, [])][:MAX_LISTED]
        out.append(Finding(
            Code.DATA_TOO_FEW, Severity.ERROR if min(few.values()) < 2 else Severity.WARNING,
            0.9, f"{len(few)} class(es) with fewer than {MIN_PER_CLASS} samples",
            "Some classes have too few samples to learn from and to validate on: the model "
            "memorises them, and their validation accuracy is mostly noise.",
            ev, remedies_for(Code.DATA_TOO_FEW, "more_data", "augment")))
    # imbalance among the classes with enough samples to learn (too-few ones are above)
    enough = {c: n for c, n in counts.items() if n >= MIN_PER_CLASS}
    if len(enough) >= 2:
        ratio = max(enough.values()) / min(enough.values())
        if ratio > IMBALANCE_RATIO:
            big = max(enough, key=lambda c: enough[c])
            small = min(enough, key=lambda c: enough[c])
            # minority: below half the mean class size (the classes the remedy targets)
            mean = sum(enough.values()) / len(enough)
            minority = sorted(c for c, n in enough.items() if n < mean / 2)
            ev = {"ratio": round(ratio, 2), "largest": {big: counts[big]},
                  "smallest": {small: counts[small]}, "classes": minority,
                  "counts": counts, "threshold": {"max_ratio": IMBALANCE_RATIO,
                                                  "minority": "below half the mean class size"}}
            out.append(Finding(
                Code.DATA_IMBALANCE, Severity.WARNING,
                min(1.0, 0.6 + 0.4 * math.log10(ratio / IMBALANCE_RATIO)),
                f"Classes are imbalanced: {big!r} has {ratio:.1f}x the samples of {small!r}",
                "Class sizes are far apart, so the model can score well by favouring the "
                "largest classes and may never learn the small ones.",
                ev, remedies_for(Code.DATA_IMBALANCE, "class_weights", "oversample")))
    return out


def _sorted_split(labels: np.ndarray, validation_split: float | None, has_val: bool,
                  in_order: bool = False) -> list[Finding]:
    labels = labels[labels >= 0]
    n = len(labels)
    classes = np.unique(labels)
    if n < 4 or len(classes) < 2:
        return []
    runs, expected = _label_runs(labels)
    if in_order and runs < SORTED_RUNS_FRACTION * expected:
        return [Finding(
            Code.DATA_SORTED_SPLIT, Severity.ERROR, 0.95,
            "Training sees the samples ordered by class",
            "The labels come in long runs of one class and fit does not shuffle them "
            "(shuffle=False, or a tf.data pipeline without .shuffle()): batch after batch "
            "holds one class, each pulls the model towards predicting it and away from the "
            "classes before, so the loss swings and the model ends up favouring the last "
            "classes it saw.",
            {"label_runs": runs, "expected_runs_if_shuffled": round(expected, 1),
             "threshold": {"min_runs_fraction": SORTED_RUNS_FRACTION}, "in_order": True},
            remedies_for(Code.DATA_SORTED_SPLIT, "shuffle_before_split"))]
    if validation_split is not None:
        cut = int(n * (1.0 - float(validation_split)))  # what keras does: last fraction
        head, tail = set(labels[:cut].tolist()), set(labels[cut:].tolist())
        unseen = sorted(tail - head)
        missing = sorted(set(classes.tolist()) - tail)
        if not unseen and not missing:
            return []
        # a small class can land wholly on one side of a random split: with k of its
        # samples, probability (1 - split)^k to miss validation, split^k to miss training
        counts = {int(c): int(k) for c, k in zip(*np.unique(labels, return_counts=True))}
        s = float(validation_split)
        chance = math.prod([(1.0 - s) ** counts[c] for c in missing]
                           + [s ** counts[c] for c in unseen])
        if chance >= SPLIT_CHANCE_ALPHA:
            return []  # what a shuffled order gives; the tiny class is DATA_TOO_FEW's business
        return [Finding(
            Code.DATA_SORTED_SPLIT, Severity.ERROR, 1.0,
            f"validation_split={validation_split} leaves classes out of one side",
            "Keras takes the last fraction of the arrays as validation data without "
            "shuffling. Your labels are ordered, so validation holds classes that training "
            "never sees (or misses some), and validation accuracy cannot rise.",
            {"validation_split": validation_split, "val_classes_unseen_in_train": unseen,
             "classes_missing_from_val": missing, "n": n,
             "threshold": "every class on both sides of the split"},
            remedies_for(Code.DATA_SORTED_SPLIT, "shuffle_before_split"))]
    if has_val:
        return []
    if runs >= SORTED_RUNS_FRACTION * expected:
        return []
    return [Finding(
        Code.DATA_SORTED_SPLIT, Severity.WARNING, 0.8,
        "Samples are ordered by class",
        "The labels come in long runs of one class. `fit(validation_split=...)` takes the "
        "last fraction unshuffled, and any head/tail split leaves classes out of one side.",
        {"label_runs": runs, "expected_runs_if_shuffled": round(expected, 1),
         "threshold": {"min_runs_fraction": SORTED_RUNS_FRACTION}},
        remedies_for(Code.DATA_SORTED_SPLIT, "shuffle_before_split"))]


def _label_runs(labels: np.ndarray) -> tuple[int, float]:
    """Runs of equal consecutive labels, and the number a random order gives on average:
    1 + (n - 1)(1 - sum p_c^2), each neighbour pair differing with probability 1 - sum p^2.

    Example:
        >>> _label_runs(np.array([0, 0, 1, 1]))
        (2, 2.5)
    """
    n = len(labels)
    runs = int(np.count_nonzero(np.diff(labels))) + 1
    p = np.bincount(labels - labels.min()) / n
    return runs, 1.0 + (n - 1) * (1.0 - float(np.sum(p ** 2)))


# ---------------------------------------------------------------- pipelines
def _to_numpy(t: Any) -> np.ndarray:
    if hasattr(t, "numpy"):
        t = t.numpy()
    return np.asarray(t)


def _split_batch(batch: Any) -> tuple[Any, Any]:
    if isinstance(batch, dict):
        keys = list(batch)
        xk = next((k for k in keys if k in ("image", "images", "x", "inputs")), keys[0])
        yk = next((k for k in keys if k in ("label", "labels", "y", "targets")), None)
        return batch[xk], (batch[yk] if yk else None)
    if isinstance(batch, (tuple, list)):
        if len(batch) == 0:
            raise BadInputError("received an empty batch")
        return batch[0], (batch[1] if len(batch) > 1 else None)
    return batch, None


def summarize_batches(dataset: Any, max_batches: int = 50, name: str = "train"
                      ) -> tuple[Stats, list[Stats]]:
    """Sample up to ``max_batches`` batches of a pipeline; return (combined, per batch).

    Accepts a ``tf.data.Dataset``, a Keras ``PyDataset`` (indexable, ``len``), a
    generator or any iterable yielding ``x`` or ``(x, y[, w])`` or ``{"image", "label"}``.
    Per-batch stats let ``check_summaries`` spot batches in different ranges.

    Example:
        >>> batches = [(np.ones((4, 2)), np.arange(4))] * 3
        >>> total, per = summarize_batches(batches)
        >>> total.n, len(per)
        (12, 3)
    """
    if max_batches < 1:
        raise BadInputError(f"max_batches must be >= 1; received {max_batches}")
    it: Iterable[Any]
    if hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__") and not isinstance(
            dataset, (np.ndarray, list, tuple)):
        n = len(dataset)
        it = (dataset[i] for i in range(min(n, max_batches)))
    elif hasattr(dataset, "take") and hasattr(dataset, "element_spec"):  # tf.data
        it = iter(dataset.take(max_batches))
    else:
        it = iter(dataset)
    total = Stats(name=name)
    per: list[Stats] = []
    labels: list[np.ndarray] = []
    n_classes = None
    for i, batch in enumerate(it):
        if i >= max_batches:
            break
        xb, yb = _split_batch(batch)
        xb = _to_numpy(xb)
        if xb.ndim == 0:
            raise BadInputError(f"batch {i} is a scalar; expected a batch of images")
        bs = Stats(name=f"{name} batch {i}")
        bs.add_x(xb)
        total.add_x(xb, offset=total.n)
        if yb is not None:
            lab, nc, bad = labels_to_int(_to_numpy(yb))
            labels.append(lab)
            n_classes = nc or n_classes
            total.label_nonfinite += bad
            bs.label_nonfinite = bad
        per.append(bs)
    if not per:
        raise BadInputError("the dataset yielded no batches; check that it is not empty "
                            "or exhausted")
    if labels:
        total.labels = np.concatenate(labels)
        total.n_classes = n_classes
    return total, per


def check_batches(dataset: Any, val_dataset: Any = None, max_batches: int = 50
                  ) -> list[Finding]:
    """``check_arrays`` for pipelines: the same checks over sampled batches.

    Checks across batches (one batch in another range) and between the train and
    validation pipelines. Class order is not judged: pipelines usually shuffle.
    """
    total, per = summarize_batches(dataset, max_batches, "train")
    out = check_summaries([total] + ([summarize_batches(val_dataset, max_batches, "val")[0]]
                                     if val_dataset is not None else []))
    out = [f for f in out if f.code is not Code.DATA_SORTED_SPLIT]
    if len(per) >= 2 and not any(f.code is Code.DATA_INCONSISTENT_RANGE for f in out):
        out += _inconsistent([total] + per)
    return out
