"""DATA_LABEL_NOISE for systematic swaps: two labels whose images are mixed.

``labels.py`` finds single images whose neighbours agree on another label. When a whole
share of class a is labelled b (and perhaps the reverse), the wrong label *is* the
neighbours' majority, so no single image looks wrong. The same leave-one-out neighbour
votes (:mod:`convergent.data.checks.embedding`) still show it as a class-pair effect: the
label-confusion matrix

    C[a, b] = mean share of label-b neighbours among the images labelled a

has, for a clean dataset, a dominant diagonal and small natural confusions between
similar-looking classes. A swap of a share p of a's images to b puts label-b images
inside a's cluster: restricted to the pair, the share of b votes among a-labelled images

    m(a, b) = C[a, b] / (C[a, a] + C[a, b])

rises to about p (one-way swap, a -> b) or 2 p (1 - p) (both ways), and reaches one half
when the two labels are given independently of which of the two clusters an image sits
in. The check reports pairs whose m, in one direction or the other, passes
``MIX_MIN``, among pairs with enough images for the vote to be strong (the size gates).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convergent.data.checks import DATA_CHECKS, Context
from convergent.data.checks.embedding import label_rows, neighbours, smoothed, votes
from convergent.data.checks.labels import _labels_unrelated
from convergent.findings import Code, Finding, Severity
from convergent.remedies.catalog import remedies_for

MIN_CLASS = 10  # classes smaller than this take no part in the votes (as in labels.py)
# A pair is judged only when its two labels have at least 2 x PAIR_MIN_CLASS images
# together. Sparse classes make the neighbour vote weak and the natural mixing large: the
# healthy maximum over the embedded "mnist" and "animals" arrays (benchmarks/perf/
# scan_label_pairs_dev.py --sizes, 5 seeded subsamples each, animals the worse) was 0.46
# at 25 images per class, 0.27 at 50, 0.22 at 60, 0.20 at 75 and 0.17 at 100: 75 is the
# smallest size measured with a margin of 1.5x below MIX_MIN. The pair's total, not each
# label's count, is what sets how dense the two clusters are: a one-way swap shrinks one
# label but not the cluster its images sit in.
PAIR_MIN_CLASS = 75
# ... and each label at least this many images: m is a mean of per-image shares in
# [0, 1] (standard deviation at most 0.5), so its standard error stays <= 0.1 (first
# principles), below the gap between MIX_MIN and the healthy maxima above.
LABEL_MIN = 25
# Pair mixing m(a, b) above which two labels are reported as systematically swapped.
# First principles: a one-way swap of a share p gives m ~ p, a two-way one 2 p (1 - p),
# and m = 0.5 means the two labels no longer follow the images at all; a natural
# confusion of two similar classes sits well below. Measured with
# benchmarks/perf/scan_label_pairs_dev.py (embedded datasets and the healthy development
# folders, seeds 100-103; never the fault benchmark): the healthy maximum and the swapped
# values are in benchmarks/RESULTS.md ("Outlier and label-noise checks").
MIX_MIN = 0.3
# At or above this mixing the pair's labels carry almost no information about which of
# the two classes an image is (0.5 = none): an error, not a warning (first principles:
# a two-way swap of 25 % already gives 2 * 0.25 * 0.75 = 0.375).
MIX_ERROR = 0.4


def confusion(v: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(C, C) label-confusion matrix: row a is the mean neighbour-label share of the rows
    labelled a.

    Args:
        v: (n, C) neighbour vote counts (``embedding.votes``).
        y: (n,) given labels 0..C-1.

    Example:
        >>> v = np.array([[3, 1], [4, 0], [0, 4]])
        >>> confusion(v, np.array([0, 0, 1])).tolist()
        [[0.875, 0.125], [0.0, 1.0]]
    """
    n_classes = v.shape[1]
    share = v / np.maximum(v.sum(axis=1, keepdims=True), 1)
    out = np.zeros((n_classes, n_classes))
    np.add.at(out, y, share)
    counts = np.bincount(y, minlength=n_classes)
    return out / np.maximum(counts, 1)[:, None]


def pair_mixing(c: np.ndarray) -> np.ndarray:
    """m[a, b] = C[a, b] / (C[a, a] + C[a, b]): the share of b votes among a's images,
    counting only the votes for a and b; the diagonal is 0.

    Example:
        >>> pair_mixing(np.array([[0.6, 0.4], [0.1, 0.9]])).round(2).tolist()
        [[0.0, 0.4], [0.1, 0.0]]
    """
    diag = np.diag(c)[:, None]
    m = c / np.maximum(diag + c, 1e-12)
    np.fill_diagonal(m, 0.0)
    return m


def mixed_pairs(c: np.ndarray, mix_min: float = MIX_MIN, counts: np.ndarray | None = None,
                min_class: int = 0, label_min: int = 0) -> list[tuple[int, int, float]]:
    """Unordered pairs (a, b) with max(m[a, b], m[b, a]) >= ``mix_min``, most mixed first.

    Args:
        c: (C, C) label-confusion matrix (:func:`confusion`).
        mix_min: the pair mixing from which a pair is reported.
        counts: (C,) images per label, for the two size gates below.
        min_class: pairs whose labels have fewer than 2 x this many images together are
            not judged.
        label_min: nor pairs with a label of fewer images than this.

    Example:
        >>> mixed_pairs(np.array([[0.5, 0.5, 0], [0.4, 0.6, 0], [0, 0.1, 0.9]]))
        [(0, 1, 0.5)]
    """
    m = pair_mixing(c)
    both = np.maximum(m, m.T)
    judged = np.ones_like(both, dtype=bool)
    if counts is not None:
        n = np.asarray(counts)
        big = n >= label_min
        judged = big[:, None] & big[None, :] & (n[:, None] + n[None, :] >= 2 * min_class)
    a, b = np.nonzero(np.triu((both >= mix_min) & judged, 1))
    found = [(int(i), int(j), float(both[i, j])) for i, j in zip(a, b, strict=True)]
    return sorted(found, key=lambda t: -t[2])


@DATA_CHECKS.register("label_pairs", codes=[Code.DATA_LABEL_NOISE], mix_min=MIX_MIN,
                      mix_error=MIX_ERROR, min_class=PAIR_MIN_CLASS, label_min=LABEL_MIN)
def label_pairs(ctx: Context, params: dict[str, Any]) -> list[Finding]:
    rows, y, names = label_rows(ctx, MIN_CLASS)
    counts = np.bincount(y, minlength=len(names))
    if len(names) < 2 or rows.size < 2 * params["min_class"]:
        return []
    v = votes(neighbours(ctx, rows), y)
    # labels that carry nothing mix every pair (m ~ 0.5 everywhere): that is
    # DATA_LABELS_MISALIGNED, reported by labels.py with the same votes and test
    if _labels_unrelated(float((smoothed(v).argmax(1) == y).mean()), y) is not None:
        return []
    c = confusion(v, y)
    m = pair_mixing(c)
    found = mixed_pairs(c, params["mix_min"], counts, params["min_class"],
                        params["label_min"])
    if not found:
        return []

    def pair(a: int, b: int, mix: float) -> dict[str, Any]:
        return {"labels": [names[a], names[b]], "mixing": round(mix, 4),
                "confusion": {f"{names[a]}->{names[a]}": round(float(c[a, a]), 4),
                              f"{names[a]}->{names[b]}": round(float(c[a, b]), 4),
                              f"{names[b]}->{names[b]}": round(float(c[b, b]), 4),
                              f"{names[b]}->{names[a]}": round(float(c[b, a]), 4)},
                "pair_mixing": {f"{names[a]}->{names[b]}": round(float(m[a, b]), 4),
                                f"{names[b]}->{names[a]}": round(float(m[b, a]), 4)},
                "counts": {names[a]: int(counts[a]), names[b]: int(counts[b])}}

    # one finding (a report keeps one per code), naming the most mixed pair first
    listed = [pair(*t) for t in found]
    top = listed[0]
    a_name, b_name = top["labels"]
    more = f" (and {len(listed) - 1} more pair(s))" if len(listed) > 1 else ""
    mix = found[0][2]
    return [Finding(
        Code.DATA_LABEL_NOISE,
        Severity.ERROR if mix >= params["mix_error"] else Severity.WARNING,
        round(min(0.9, 0.5 + mix), 3),
        f"Labels {a_name!r} and {b_name!r} look systematically swapped{more}",
        f"Images labelled {a_name!r} and {b_name!r} sit among each other: {mix:.0%} of "
        "their neighbours' votes for the two labels go to the other one, far more than "
        "two merely similar classes share. A share of one class was probably labelled as "
        "the other (a swapped mapping, a mislabelled batch). Review images of both labels; "
        "single-image checks cannot see this, because the wrong label is the neighbours' "
        "majority.",
        {"pair": top["labels"], "mixing": top["pair_mixing"], "confusion": top["confusion"],
         "counts": top["counts"], "n": int(sum(top["counts"].values())),
         "label_pairs": listed,
         "threshold": {"method": "kNN leave-one-out label confusion between two labels",
                       "mixing_min": params["mix_min"], "mixing_error": params["mix_error"],
                       "pair_images_min": 2 * params["min_class"],
                       "label_images_min": params["label_min"]}},
        remedies_for(Code.DATA_LABEL_NOISE, "review_labels"))]
