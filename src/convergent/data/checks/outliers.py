"""DATA_OUTLIER: images unlike anything else in their class.

Score of an image: the mean distance to its ``OUTLIER_K`` nearest images of the same
class (training and validation pooled: a 12-image validation class would otherwise have
far neighbours by its size alone), divided by the median distance between two random
images of that class (``class_ratio``). 1 means "its nearest class members are no closer than a random pair":
nothing in the class resembles it. Normal images sit far below 1 (they have look-alikes).

Why a ratio and not a robust z of the distance (the first version): on these compact
features every two unrelated images are about equally far apart, so an image of another
kind is only ~1.5x farther from its class than an unusual but correct one, and the MAD of
the class turned that into z of 1.5-4, inside the tail of healthy images (recall 0.01 on
the fault benchmark at z > 5). The ratio has a fixed meaning in every class.

The ratio is the mean of two views: all features of the label model, and the features
without its moment-normalized blocks (``embedding.unaligned_features``). It is then averaged with the ratios of the image's
nearest neighbours in the whole dataset (the label model's neighbour graph, on all features): foreign images dropped into a folder
are near each other, whatever class folder each landed in, so their neighbours are
strangers too, while an unusual but correct image sits among normal images of its kind.
For the same reason the labels near a foreign image are mixed (it lands in classes at
random): a small share of that mix is added (``IMPURITY_WEIGHT``). When the pictures are
figures on a plain ground, the all-features view also holds the width of their strokes
(``STROKE_WEIGHT``): a pen-drawn digit is thin where a silhouette is filled, whatever the
shapes' outlines. Images already reported
as dark, bright, low-contrast or blurry are left to that finding, and take no part in
their class's distances. Nor, in a second pass, do the images the first pass flags:
foreign images that landed in one class are each other's nearest members and hide one
another (masking), so every image is scored again against the rest.

Every folder has a few unusual but correct pictures, some more than others. The images
that score a little short of the cut (``NEAR_OUTLIER``) say how many: clean folders list
a stable share of that count (``CLEAN_TAIL_SHARE``), and the finding is reported only
when it lists at least twice as many (``LISTING_FDR_MAX``), as the label check does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convergent.data.checks import (
    DATA_CHECKS,
    MAX_LISTED,
    LISTING_FDR_MAX,
    Context,
    beyond_chance,
    fraction_severity,
    robust_z,
)
from convergent.data.checks.embedding import (
    SPECTRUM_CHUNK,
    features,
    label_rows,
    neighbours,
    threads_for,
    unaligned_features,
)
from convergent.data.checks.exposure import quality_rows
from convergent.data.shape import border_pixels
from convergent.findings import Code, Finding
from convergent.remedies.catalog import remedies_for

MIN_CLASS = 10  # classes smaller than this are not judged (as for variety and labels)
OUTLIER_K = 5  # neighbours for the kNN distance (as in kNN outlier scores, Ramaswamy 2000)
# Random pairs of a class drawn to estimate its median pairwise distance: the standard
# error of a median from 2,000 draws is ~3 % of the spread (sqrt(pi/2)/sqrt(n) sigma).
PAIRS = 2000
# Pairs differenced at once: 256 x 551 float32 = 0.56 MB per temporary, in cache (all 2,000
# at once took ~3x longer; measured, 150 x 551 features: 2.7-3.9 ms vs 1.0 ms).
PAIR_CHUNK = 256
# Weight of the image's own ratio against its neighbourhood's mean: equal (first
# principles: the image and its surroundings are two views of the same question).
OWN_WEIGHT = 0.5
# Weight of the class ratio on all features (with the moment-normalized shape) against
# the ratio on the unaligned features: equal (first principles, as OWN_WEIGHT). Measured on
# the development folders (seeds 301-305, 311-313; healthy 100-103) at OUTLIER_RATIO:
# unaligned alone 0.72 recall / 0.82 precision / 15 healthy images flagged; all features
# alone 0.79 / 0.80 / 24 (21 in one healthy 64 px digit folder: 2.1 %, a warning); the mean
# 0.77 / 0.84 / 13 (the minimum 0.70 / 0.87 / 5).
VIEW_WEIGHT = 0.5
# Weight of the stroke width (``shape.stroke_width``: pen strokes vs filled shapes),
# appended to the all-features view as a robust z of the log width over the dataset.
# Pen-drawn digits measure ~1.5 px, filled silhouettes ~2.8 px; alone the width tells
# digits dropped among animal silhouettes, and silhouettes among digits, at AUC 0.93-0.96
# within a development folder. Measured on the 23 development folders
# (scan_outlier_label_dev.py --extra --more; not the fault benchmark's folders),
# outliers found / precision / healthy images flagged at cut 0.95: without it 0.820 /
# 0.914 / 15; weight 0.2: 0.840 / 0.916 / 15; 0.25: 0.842 / 0.914 / 17; 0.3: 0.846 / 0.904
# / 19 (with SciPy's exact distance transform instead of ``stroke_width``'s octagonal one:
# 0.1 in both views 0.831 / 0.913 / 16, 0.2 in both 0.842 / 0.899 / 19, 0.3 in this view
# 0.842 / 0.908 / 16, 0.5 0.849 / 0.894 / 23). 0.2: the most found with no more healthy
# images flagged than without the term.
STROKE_WEIGHT = 0.2
STROKE_MIN = 0.5  # px: floor for a blank image's width (0), below any drawn line's (1)
# Floor of the MAD of the log width: the healthy development folders measure 0.11
# (digits) to 0.19 (animals); a floor well below those keeps a dataset of near-identical
# widths (one font, say) from turning rendering noise into large z.
STROKE_MAD_FLOOR = 0.05
# A stroke width needs a figure on a plain ground. The test suite's healthy folder of
# striped patterns (bars that run to the border: the "width" is a bar's) reached z 5.4 and
# three false outliers with the term on. So the term is used only when the median
# standard deviation of the images' border pixels (on the standardized 32x32 gray: 1 is
# "the border varies as much as the image") is below this: a border that varies less
# than half as much as the picture is a ground. Measured: the rendered digit and animal
# folders 0.30-0.34, scikit-learn's 8x8 digits (tight crops, strokes touch the border)
# 0.90, the striped patterns 0.91, random crops of matplotlib's two sample photos 0.97 and
# 1.24 (benchmarks/RESULTS.md, stop 21).
FIGURE_BORDER_MAX = 0.5
# Added to the score, times the label mix of the image's neighbourhood
# (``mixed_neighbourhood``): foreign images dropped into a folder land in classes at
# random, so the images near them carry mixed labels, while a rare correct image sits
# among images of one label. Measured on the 23 development folders
# (scan_outlier_label_dev.py --extra --more: seeds 301-305, 311-316, 320-327, healthy
# 100-103; not the fault benchmark's folders), outliers found / precision / healthy images
# flagged: weight 0 at cuts 0.90 / 0.91 / 0.92: 0.783 / 0.895 / 25, 0.743 / 0.929 / 14,
# 0.717 / 0.945 / 10; weight 0.1 at 0.94 / 0.95 / 0.97: 0.796 / 0.899 / 22, 0.774 / 0.917
# / 14, 0.730 / 0.946 / 9; weight 0.2 at 1.00 / 1.02: 0.774 / 0.922 / 14, 0.743 / 0.947 /
# 8. At equal precision a weight of 0.1-0.2 finds 1-3 points more than none.
IMPURITY_WEIGHT = 0.1
# Flag above this score: the smoothed ratio (1.0 = "no closer than a random pair of its
# class"), plus the neighbourhood term (at most ~0.09). Of the cuts measured above, the
# smallest with a precision above 0.9 at IMPURITY_WEIGHT 0.1 (the code before this term
# and the class-distance change: 0.757 / 0.898 / 26 at 0.9).
# With the flagged images left out of a second pass (``outlier_scores``' cut, the same
# value), the same folders: 0.93 -> 0.855 / 0.833 / 39, 0.94 -> 0.836 / 0.874 / 27,
# 0.95 -> 0.820 / 0.914 / 15 (one pass: 0.774 / 0.917 / 14); 0.95 is still the smallest
# cut with a precision above 0.9. The second pass leaves out the images above this.
RESCORE_CUT = 0.95
# Report above this score (after the second pass), and only a listing beyond chance
# (NEAR_OUTLIER, CLEAN_TAIL_SHARE): of the cuts measured on the same 23 folders, the
# smallest with a precision above 0.9 (outliers found / precision): 0.92 -> 0.868 /
# 0.890, 0.93 -> 0.857 / 0.909, 0.94 -> 0.849 / 0.937, 0.95 -> 0.840 / 0.953; no folder
# with outliers was gated, and none of the 10 without was listed. Without the gate, 0.93
# listed 40 images in the clean folders (precision 0.832), and the cut was 0.95 (0.840 /
# 0.916 / 15 with the stroke width).
OUTLIER_RATIO = 0.93
# Images that score a little short of an outlier (0.70-0.85: their nearest class members
# are 70-85 % as far as two random members): ordinary but unusual pictures. On the 23
# development folders 146-448 per folder, and 0-9 of the injected outliers.
NEAR_OUTLIER = (0.70, 0.85)
# A clean folder lists at most this share of that count at OUTLIER_RATIO: measured on the
# 10 development folders without outliers, 0-0.033 (64 px digits the highest, 12 / 361;
# two animal folders 0 / 312 and 0 / 313); rounded up.
CLEAN_TAIL_SHARE = 0.035


def class_ratio(x: np.ndarray, k: int = OUTLIER_K, seed: int = 0,
                ref: np.ndarray | None = None) -> np.ndarray:
    """Mean distance to the k nearest other rows over the median distance of two rows.

    With ``ref`` (a boolean mask over the rows), only those rows serve as neighbours and
    as the pairs of the median; every row is scored (its own row left out).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = np.vstack([rng.normal(0, 0.1, (30, 4)), [[3.0, 3.0, 3.0, 3.0]]])
        >>> r = class_ratio(x)
        >>> bool(r[-1] > 1.0 > r[:-1].max())
        True
    """
    from sklearn.neighbors import NearestNeighbors

    n = len(x)
    at = np.arange(n) if ref is None else np.flatnonzero(ref)
    base = x if ref is None else x[at]
    kk = min(k + 1, len(base))
    d, idx = NearestNeighbors(n_neighbors=kk).fit(base).kneighbors(x)
    if ref is None:
        knn = d[:, 1:].mean(axis=1)
    else:  # the row itself, where it is a reference, wherever it ranks
        d = np.where(at[idx] == np.arange(n)[:, None], np.inf, d)
        d.sort(axis=1)
        knn = d[:, :kk - 1].mean(axis=1)
    m = len(base)
    if m * (m - 1) // 2 <= PAIRS:
        from scipy.spatial.distance import pdist

        pair = pdist(base)
    else:
        rng = np.random.default_rng(seed)
        a, b = rng.integers(m, size=PAIRS), rng.integers(m, size=PAIRS)
        same = a == b
        b[same] = (b[same] + 1) % m
        pair = np.empty(PAIRS, x.dtype)
        for i in range(0, PAIRS, PAIR_CHUNK):  # the same row norms, on in-cache blocks
            j = i + PAIR_CHUNK
            d = base[a[i:j]] - base[b[i:j]]
            d *= d  # np.linalg.norm's sum of squares, without its conj() copy
            pair[i:j] = np.sqrt(d.sum(axis=1))
    med = float(np.median(pair)) if pair.size else 0.0
    return knn / med if med > 1e-9 else np.zeros(n)


def mixed_neighbourhood(idx: np.ndarray, y: np.ndarray) -> np.ndarray:
    """1 - the largest share of one label among each row's neighbours, averaged with the
    same of those neighbours (0: all one label; near 1 - 1/C: labels as if at random).

    Example:
        >>> idx = np.array([[1, 2], [0, 2], [0, 3], [0, 1]])
        >>> mixed_neighbourhood(idx, np.array([0, 0, 0, 1])).tolist()
        [0.125, 0.125, 0.25, 0.0]
    """
    lab = y[idx]
    top = np.zeros(len(idx), np.int64)
    for c in range(int(y.max()) + 1 if y.size else 0):
        np.maximum(top, (lab == c).sum(axis=1), out=top)
    mixed = 1.0 - top / max(idx.shape[1], 1)
    return 0.5 * mixed + 0.5 * mixed[idx].mean(axis=1)


def outlier_scores(ctx: Context, impurity_weight: float = IMPURITY_WEIGHT,
                   cut: float | None = RESCORE_CUT) -> np.ndarray:
    """Smoothed class ratio per table row (NaN where not judged: small class, undecodable,
    or already reported under an image-quality code).

    The images of the quality findings take no part in their class's distances: a blurred
    or darkened copy of a class's picture is unlike the rest too, and it widened the
    class's spread that the ratio divides by (development folders, seeds 301-305 and
    311-316 with healthy 100-103: outliers found at the 0.9 cut 0.759 -> 0.787, precision
    0.928 -> 0.922, healthy images flagged 13 -> 12).

    With ``cut``, the images scoring above it take no part in the distances either, and
    every image is scored once more (one pass of iterative deletion against *masking*:
    foreign images that landed in the same class are each other's nearest members and
    hide one another; Rousseeuw & Leroy 1987, "Robust regression and outlier detection",
    ch. 6). None: one pass.
    """
    df = ctx.df
    judged = ctx.ok.copy()
    judged[quality_rows(ctx)] = False
    classes = [np.asarray(r) for r in df[judged].groupby("cls").groups.values()]
    classes = [r for r in classes if len(r) >= MIN_CLASS]  # splits pooled: one class
    rows, y, _ = label_rows(ctx, MIN_CLASS)
    first = _class_ratios(ctx, classes, None, None)
    score = _smoothed(ctx, first, rows, y, impurity_weight)
    if cut is not None and (score > cut).any():
        ref = ~(score > cut)  # NaN (not judged) compares False: kept
        score = _smoothed(ctx, _class_ratios(ctx, classes, ref, first), rows, y,
                          impurity_weight)
    return score


def _class_ratios(ctx: Context, classes: list[np.ndarray], ref: np.ndarray | None,
                  first: np.ndarray | None) -> np.ndarray:
    """Per table row: the mean of the two views' class ratios (NaN outside ``classes``),
    against the rows of ``ref`` only when given (a class with fewer than MIN_CLASS of
    them: against all its rows); a class whose rows all are in ``ref`` keeps its ratios
    of ``first``."""
    ratio = np.full(len(ctx.df), np.nan)
    for rows in classes:
        keep = None if ref is None else ref[rows]
        if keep is not None and (keep.all() or keep.sum() < MIN_CLASS):
            if first is not None:
                ratio[rows] = first[rows]
                continue
            keep = None
        x = np.hstack([features(ctx)[rows], STROKE_WEIGHT * stroke_z(ctx)[rows, None]])
        with threads_for(len(rows)):
            ratio[rows] = VIEW_WEIGHT * class_ratio(
                x, seed=ctx.seed, ref=keep) + (1 - VIEW_WEIGHT) * class_ratio(
                unaligned_features(ctx, rows), seed=ctx.seed, ref=keep)
    return ratio


def stroke_z(ctx: Context) -> np.ndarray:
    """Per table row: robust z of the log stroke width over the decodable images; log,
    because a width is a scale (twice as thick is one step at any width). Zeros (no
    change to any distance) when the dataset's pictures are not figures on a plain
    ground (``FIGURE_BORDER_MAX``), for undecodable rows, and for a table built without
    the per-image pass's ``stroke`` column (by hand)."""
    if "stroke_z" not in ctx.cache:
        z = np.zeros(len(ctx.df), np.float32)
        ok = ctx.ok
        ctx.cache["figures"] = bool("stroke" in ctx.df and ok.any()
                                    and border_spread(ctx) < FIGURE_BORDER_MAX)
        if ctx.cache["figures"]:
            w = np.log(np.maximum(ctx.df["stroke"].to_numpy(np.float64), STROKE_MIN))
            z[ok] = robust_z(w[ok], mad_floor=STROKE_MAD_FLOOR)
        ctx.cache["stroke_z"] = z
    return ctx.cache["stroke_z"]


def border_spread(ctx: Context) -> float:
    """Median standard deviation of the border pixels of the decodable images' 32x32
    standardized gray thumbnails (chunked: at 100k images one float32 copy is 400 MB)."""
    rows = np.flatnonzero(ctx.ok)
    out = np.empty(len(rows), np.float32)
    for i in range(0, len(rows), SPECTRUM_CHUNK):
        g = np.asarray(ctx.table.g32[rows[i:i + SPECTRUM_CHUNK]], np.float32).reshape(-1, 32, 32)
        out[i:i + len(g)] = border_pixels(g).std(axis=1)
    return float(np.median(out)) if out.size else float("inf")


def _smoothed(ctx: Context, ratio: np.ndarray, rows: np.ndarray, y: np.ndarray,
              impurity_weight: float) -> np.ndarray:
    """The ratio averaged with its neighbours' (OWN_WEIGHT), plus the label-mix term."""
    score = ratio.copy()
    if rows.size > OUTLIER_K:
        nb = ratio[rows][neighbours(ctx, rows)]
        judged = np.isfinite(nb)
        cnt = judged.sum(axis=1)
        mean_nb = np.where(cnt > 0, np.where(judged, nb, 0.0).sum(axis=1) / np.maximum(cnt, 1),
                           np.nan)
        own = ratio[rows]
        score[rows] = np.where(np.isfinite(mean_nb),
                               OWN_WEIGHT * own + (1 - OWN_WEIGHT) * mean_nb, own)
        score[rows] += impurity_weight * mixed_neighbourhood(neighbours(ctx, rows), y)
    return score


@DATA_CHECKS.register("outlier", codes=[Code.DATA_OUTLIER], ratio=OUTLIER_RATIO,
                      impurity_weight=IMPURITY_WEIGHT, rescore_cut=RESCORE_CUT,
                      listing_fdr_max=LISTING_FDR_MAX)
def outlier(ctx: Context, params: dict[str, Any]) -> list[Finding]:
    score = outlier_scores(ctx, params["impurity_weight"], params["rescore_cut"])
    judged = np.isfinite(score)
    judged[quality_rows(ctx)] = False
    rows = np.flatnonzero(judged & (score > params["ratio"]))
    near = int((judged & (score >= NEAR_OUTLIER[0]) & (score < NEAR_OUTLIER[1])).sum())
    listed, expected = beyond_chance(rows.size, near, CLEAN_TAIL_SHARE,
                                     params["listing_fdr_max"])
    if not listed:  # as many as the folder's unusual pictures predict: no finding
        return []
    rows = rows[np.argsort(-score[rows], kind="stable")]
    rel = ctx.rel(rows[:MAX_LISTED])
    return [Finding(
        Code.DATA_OUTLIER, fraction_severity(rows.size, int(ctx.ok.sum())), 0.75,
        f"{rows.size} image(s) unlike the rest of their class",
        "Nothing else in these images' classes looks like them (their nearest class "
        "members are about as far as two random members): another kind of picture, a "
        "wrong file, or a rare view that needs more examples.",
        {"files": rel, "n": int(rows.size),
         "score": {r: round(float(s), 3) for r, s in zip(rel[:50], score[rows[:50]],
                                                          strict=True)},
         "threshold": {"knn_over_median_pair_distance_min": params["ratio"],
                       "k": OUTLIER_K, "own_weight": OWN_WEIGHT,
                       "view_weight": VIEW_WEIGHT,
                       "label_mix_weight": params["impurity_weight"],
                       "stroke_weight": STROKE_WEIGHT if ctx.cache.get("figures") else 0.0,
                       "rescored_without_flagged": params["rescore_cut"],
                       "expected_in_clean_data": round(expected, 1),
                       "near_images": near, "clean_tail_share": CLEAN_TAIL_SHARE,
                       "listing_fdr_max": params["listing_fdr_max"]}},
        remedies_for(Code.DATA_OUTLIER, "review_images"))]
