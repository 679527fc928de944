"""What the outlier and label checks compare images by: one feature vector per image, a
neighbour graph over it, and the out-of-sample label models built on it (the neighbours'
vote, and each image's mean distance to its nearest members of every class).

Features: the HOG of the table (shape, polarity-free), the HOG and 16x16 gray embedding of
the same image *moment-normalized* (the foreground shifted to the centre of the frame and
scaled to a fixed spread along each axis, as MNIST's digits were centred by their centre
of mass; Casey 1970, "Moment normalization of handprinted characters"), plus a
radially averaged power spectrum of the 32x32 gray image (what *kind* of picture it is:
thin strokes put their energy at middle frequencies, filled shapes at low ones;
Torralba & Oliva 2003, "Statistics of natural image categories"). The spectrum is
translation invariant, so it tells a silhouette from a digit where the aligned shape
features only say "unlike every other image", as two unrelated digits are too. The
normalized copy makes a small bear in a corner and a large one in the middle neighbours,
which the fixed-grid HOG does not.

Example:
    >>> import numpy as np
    >>> spectrum(np.zeros((2, 1024), np.float16)).shape
    (2, 7)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convergent.data.checks import Context
from convergent.data.features import HOG_BINS, HOG_CELLS, HOG_DIM
from convergent.data.shape import (  # noqa: F401 - part of this module's interface
    FOREGROUND_MARGIN,
    MOMENT_SPREAD,
    SPECTRUM_BANDS,
    SPECTRUM_CHUNK,
    moment_normalized,
    spectrum,
)

# Weight of the spectrum block against the shape block (each block has unit scale):
# measured on generated development folders (benchmarks/perf/scan_outlier_label_dev.py,
# seeds 301-305 and the healthy seeds 100-103, none of them a fault-benchmark folder):
# 0.3 raised the outlier ranking AUC on the animals base from 0.99 to 0.997 and the
# label model's precision from 0.66 to 0.70; 0.5 and more let blur dominate.
SPECTRUM_WEIGHT = 0.3
# Out-of-sample class votes of the KNN_VOTE nearest neighbours (HOG + gray + spectrum,
# PCA to PCA_DIMS when wider): the label model's accuracy (DATA_LABELS_MISALIGNED), the
# label-pair check and the outlier check's neighbourhoods. Measured on generated folders
# with 5 % flipped labels (benchmarks/perf/scan_label_model.py): kNN was as accurate as
# 5-fold logistic regression and an RBF SVM on these features and 10-30x faster.
KNN_VOTE = 10
PCA_DIMS = 64
# Which label an image's look-alikes carry (``class_distances``, the per-image label-noise
# model): mean distance to the CLASS_K nearest members of each class. Measured on the 15
# development folders (scan_outlier_label_dev.py --extra: seeds 301-305, 311-316 and the
# healthy 100-103, none a fault-benchmark folder), flipped labels found at 0.9 precision
# with one ratio cut over all of them: 0.70 at k = 1, 0.84 at 3, 0.845 at 4 and 5, 0.81 at
# 7, 0.80 at 10 (the neighbours' vote of 10, ranked by its margin: 0.64).
CLASS_K = 5


def features(ctx: Context) -> np.ndarray:
    """Shape (the table's HOG, and HOG + gray of the moment-normalized image: three blocks,
    equally weighted) and the weighted, standardized spectrum.

    Written into one preallocated float32 matrix: at 100k images each copy is 220 MB.
    """
    if "features" not in ctx.cache:
        from convergent.data.features import EMB_PX, HOG_DIM, gray_embedding, hog

        t = ctx.table
        n_hog = t.hog.shape[1]
        shape_cols = n_hog + HOG_DIM + EMB_PX * EMB_PX
        out = np.empty((len(t.hog), shape_cols + SPECTRUM_BANDS), np.float32)
        out[:, :n_hog] = t.hog
        if t.shape_n is not None:  # computed by the per-image pass
            out[:, n_hog:n_hog + HOG_DIM] = t.shape_n["hog_n"]
            out[:, n_hog + HOG_DIM:shape_cols] = t.shape_n["emb_n"]
            spec = t.shape_n["spec"].copy()
            t.hog_flat = (t.shape_n["hog_h0"], t.shape_n["hog_n_h0"])  # 128 B per image
            t.shape_n = None  # combined: 1.6 kB per image freed before the near-copy check
        else:
            new_flat = t.hog_flat is None  # else kept from the per-image pass
            h0 = np.empty((len(t.g32), HOG_CELLS * HOG_CELLS), np.float32)
            hn0 = np.empty_like(h0)
            for i in range(0, len(t.g32), SPECTRUM_CHUNK):
                part = np.asarray(t.g32[i:i + SPECTRUM_CHUNK], np.float32).reshape(-1, 32, 32)
                gn = moment_normalized(part)
                out[i:i + len(gn), n_hog:n_hog + HOG_DIM], hn0[i:i + len(gn)] = hog(
                    gn, flat=True)
                out[i:i + len(gn), n_hog + HOG_DIM:shape_cols] = gray_embedding(gn)
                if new_flat:  # from the thumbnail: within float16 rounding of the pass's
                    h0[i:i + len(gn)] = hog(part, flat=True)[1]
            if new_flat:
                t.hog_flat = (h0, hn0)
            spec = spectrum(t.g32)
        out[~ctx.ok, n_hog:shape_cols] = 0.0
        out[:, :shape_cols] *= np.float32(1 / np.sqrt(2))
        ok = ctx.ok
        if ok.any():
            spec -= np.median(spec[ok], axis=0)
            spec /= spec[ok].std(axis=0) + 1e-6
        spec *= SPECTRUM_WEIGHT / np.sqrt(SPECTRUM_BANDS)
        spec[~ok] = 0.0
        out[:, shape_cols:] = spec
        ctx.cache["features"] = out
    return ctx.cache["features"]


def unaligned_features(ctx: Context, rows: np.ndarray) -> np.ndarray:
    """The features of ``rows`` without the moment-normalized blocks: the table's HOG and
    16x16 gray (equally weighted) and the same spectrum block as :func:`features`.

    The outlier check measures "unlike the rest of its class" on these: normalization makes
    every class more compact, and on the healthy development folders (seeds 100-103) it
    lifted the within-class kNN ratio of 2.1 % of a 64 px digit folder's images past the
    outlier cut (0.6 % at most per folder on these features).
    """
    t = ctx.table
    out = np.empty((len(rows), t.hog.shape[1] + t.emb.shape[1] + SPECTRUM_BANDS), np.float32)
    out[:, :t.hog.shape[1]] = t.hog[rows]
    out[:, t.hog.shape[1]:-SPECTRUM_BANDS] = t.emb[rows]
    out[:, :-SPECTRUM_BANDS] *= np.float32(1 / np.sqrt(2))
    out[:, -SPECTRUM_BANDS:] = features(ctx)[rows, -SPECTRUM_BANDS:]
    return out


def threads_for(n_rows: int) -> Any:
    """A context in which numeric libraries use one thread for small problems."""
    from convergent.data import threads

    return threads.threads_for(n_rows, threads.SMALL_ROWS)


def reduced(x: np.ndarray, dims: int = PCA_DIMS, seed: int = 0) -> np.ndarray:
    """PCA to ``dims`` columns when wider (neighbour search cost grows with width)."""
    return _reduce(x, dims, seed)[0]


def _reduce(x: np.ndarray, dims: int, seed: int) -> tuple[np.ndarray, Any]:
    """:func:`reduced` and the fitted PCA (None when ``x`` is kept as it is)."""
    if x.shape[1] <= dims or len(x) <= dims:
        return x, None
    from sklearn.decomposition import PCA

    pca = PCA(dims, random_state=seed)
    return pca.fit_transform(x).astype(np.float32), pca


def mirror_features(ctx: Context, rows: np.ndarray) -> np.ndarray:
    """:func:`features` of the mirror images (left-right) of ``rows``, without computing
    anything new: a mirror turns the HOG's cells left-right and a gradient's unsigned
    angle t into pi - t, i.e. bin b into bin 8 - b, except exactly horizontal gradients,
    which stay in bin 0 (the per-image pass records their share, ``hog(flat=True)``);
    the 16x16 gray block is mirrored (the moment normalization commutes with a mirror);
    the spectrum is mirror-invariant. (len(rows), width) float32.
    """
    from convergent.data.features import EMB_PX

    f = features(ctx)
    h0, hn0 = ctx.table.hog_flat
    n_hog = ctx.table.hog.shape[1]
    cells = HOG_CELLS * HOG_CELLS
    grid = np.arange(cells).reshape(HOG_CELLS, HOG_CELLS)
    cell_to = grid[:, ::-1].ravel()  # cell c of the mirror image is cell cell_to[c]
    hog_cols = (cell_to[:, None] * HOG_BINS + np.arange(HOG_BINS)[::-1][None]).ravel()
    emb = np.arange(EMB_PX * EMB_PX).reshape(EMB_PX, EMB_PX)[:, ::-1].ravel()
    start = n_hog + HOG_DIM
    cols = np.concatenate([hog_cols, n_hog + hog_cols, start + emb,
                           np.arange(start + EMB_PX * EMB_PX, f.shape[1])])
    out = f[rows][:, cols]
    w = np.float32(1 / np.sqrt(2))  # the shape blocks' weight in features()
    for base, flat in ((0, h0), (n_hog, hn0)):
        moved = flat[rows][:, cell_to] * w  # exactly horizontal: back from bin 8 to bin 0
        out[:, base + np.arange(cells) * HOG_BINS] += moved
        out[:, base + np.arange(cells) * HOG_BINS + HOG_BINS - 1] -= moved
    return out


def label_rows(ctx: Context, min_class: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Decodable rows of classes with at least ``min_class`` images, their label codes
    (0..C-1) and the class names; splits are pooled."""
    df = ctx.df
    ok = ctx.ok
    sizes = df[ok]["cls"].value_counts()
    keep = sorted(str(c) for c, n in sizes.items() if n >= min_class)
    rows = np.flatnonzero(ok & df["cls"].astype(str).isin(keep).to_numpy())
    code_of = {c: k for k, c in enumerate(keep)}
    y = np.array([code_of[str(c)] for c in df["cls"].to_numpy()[rows]], dtype=np.int64)
    return rows, y, keep


def reduced_rows(ctx: Context, rows: np.ndarray) -> np.ndarray:
    """The features of ``rows`` reduced to ``PCA_DIMS`` columns; cached per row set (the
    neighbour search and the class distances read the same matrix: 256 B per row)."""
    key = ("reduced", rows.tobytes())
    if key not in ctx.cache:
        with threads_for(len(rows)):
            ctx.cache[key], ctx.cache[("pca", rows.tobytes())] = _reduce(
                features(ctx)[rows], PCA_DIMS, ctx.seed)
    return ctx.cache[key]


def mirrored_rows(ctx: Context, rows: np.ndarray) -> np.ndarray:
    """The mirror images of ``rows`` in the space of :func:`reduced_rows` (the same PCA),
    in chunks (no second full feature matrix). Not cached: one caller, and at 100k images
    the 25 MB would sit through the checks after it."""
    x = reduced_rows(ctx, rows)
    pca = ctx.cache[("pca", rows.tobytes())]
    out = np.empty_like(x)
    with threads_for(len(rows)):
        for i in range(0, len(rows), SPECTRUM_CHUNK):
            part = mirror_features(ctx, rows[i:i + SPECTRUM_CHUNK])
            out[i:i + len(part)] = part if pca is None else pca.transform(part)
    return out


def mirror_gray_ratio(ctx: Context, rows: np.ndarray, sample: int) -> float:
    """:func:`mirror_ratio` on the moment-normalized 16x16 gray block of :func:`features`
    for at most ``sample`` of ``rows``: that block of a mirror image is the block mirrored
    (no new features to compute)."""
    from convergent.data.features import EMB_PX

    n_hog = ctx.table.hog.shape[1]
    block = slice(n_hog + HOG_DIM, n_hog + HOG_DIM + EMB_PX * EMB_PX)
    pick = rows
    if len(rows) > sample:
        pick = np.sort(np.random.default_rng(ctx.seed).choice(rows, sample, replace=False))
    g = features(ctx)[pick, block]
    gm = g.reshape(-1, EMB_PX, EMB_PX)[:, :, ::-1].reshape(len(g), -1)
    with threads_for(len(pick)):
        return mirror_ratio(g, gm)


def mirror_ratio(x: np.ndarray, xm: np.ndarray) -> float:
    """Median distance of each mirror image to its nearest original (its own original
    left out) over the median nearest-neighbour distance of the originals: about 1 when
    the data hold both orientations of their pictures (animals facing left and right),
    well above 1 when mirror images are unlike anything in them (digits, letters)."""
    from sklearn.neighbors import NearestNeighbors

    if len(x) < 3:
        return float("inf")
    nn = NearestNeighbors(n_neighbors=2).fit(x)
    d0 = nn.kneighbors(x)[0][:, 1]  # [0] is the row itself
    dm, im = nn.kneighbors(xm)
    d1 = np.where(im[:, 0] == np.arange(len(x)), dm[:, 1], dm[:, 0])
    return float(np.median(d1) / max(float(np.median(d0)), 1e-12))


def neighbours(ctx: Context, rows: np.ndarray, k: int = KNN_VOTE) -> np.ndarray:
    """Indices (into ``rows``) of each row's k nearest other rows, on the reduced features;
    cached per row set, so the label model and the outlier check share one search."""
    key = ("neighbours", rows.tobytes(), k)
    if key not in ctx.cache:
        from sklearn.neighbors import NearestNeighbors

        x = reduced_rows(ctx, rows)
        with threads_for(len(rows)):
            kk = min(k + 1, len(rows))
            _, idx = NearestNeighbors(n_neighbors=kk).fit(x).kneighbors(x)
        ctx.cache[key] = _drop_self(idx)
    return ctx.cache[key]


def class_distances(x: np.ndarray, y: np.ndarray, k: int = CLASS_K,
                    mirrored: np.ndarray | None = None) -> np.ndarray:
    """(n, C) mean distance of each row to its ``k`` nearest other rows of each class.

    A local-mean nearest-neighbour model (Mitani & Hamamoto 2006, "A local mean-based
    nonparametric classifier"): the class whose k nearest members are closest on average.
    The row itself is left out, so the distances are out of sample; a class with k rows
    or fewer is averaged over all of them but one. With ``mirrored`` (the rows' mirror
    images, same space) each class is matched by its members and their mirror images, the
    row and its own mirror left out. One exact search per class: together
    the work of one all-rows kNN search, memory n x C, never n x n. Measured, 64 columns,
    10 classes, one thread: 20 ms at 1,200 rows, 0.13 s at 4,000, 2.1 s at 20,000 (a
    blocked NumPy product was faster below ~2,000 rows, 11 ms at 1,200, but 3x slower at
    20,000).

    Example:
        >>> x = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]])
        >>> class_distances(x, np.array([0, 0, 0, 1, 1, 1]), k=2).argmin(1).tolist()
        [0, 0, 0, 1, 1, 1]
    """
    from sklearn.neighbors import NearestNeighbors

    n = len(x)
    n_classes = int(y.max()) + 1 if y.size else 0
    out = np.empty((n, n_classes), np.float64)
    copies = 1 if mirrored is None else 2  # with mirror images: a row and its mirror
    for c in range(n_classes):
        members = np.flatnonzero(y == c)
        ref = x[members] if mirrored is None else np.vstack([x[members], mirrored[members]])
        owner = np.tile(members, copies)
        kk = min(k + copies, len(ref))
        if kk <= copies:
            out[:, c] = np.inf
            continue
        d, idx = NearestNeighbors(n_neighbors=kk).fit(ref).kneighbors(x)
        own = owner[idx] == np.arange(n)[:, None]  # the row itself, wherever it ranks
        d = np.where(own, np.inf, d)
        d.sort(axis=1)
        out[:, c] = d[:, :kk - copies].mean(axis=1)
    return out


def release(ctx: Context) -> None:
    """Drop what this module cached in ``ctx`` (the feature matrix, its PCA reductions and
    neighbour lists: ~2.6 kB per image, 260 MB at 100k) once no check will read them, so
    the near-copy search runs without them (at 100k images they had made it the scan's
    memory peak: 2,027 MB, 1,760 without them; benchmarks/RESULTS.md, stop 22). A later call
    computes them again: releasing early costs time, never a result."""
    for key in [k for k in ctx.cache if k == "features" or (
            isinstance(k, tuple) and k and k[0] in ("reduced", "pca", "neighbours"))]:
        del ctx.cache[key]


def _drop_self(idx: np.ndarray) -> np.ndarray:
    """Remove each row's own index from its neighbour list (exact copies may rank first)."""
    n, kk = idx.shape
    own = idx == np.arange(n)[:, None]
    has = own.any(axis=1)
    out = np.empty((n, kk - 1), dtype=idx.dtype)
    out[has] = idx[has][~own[has]].reshape(-1, kk - 1)
    out[~has] = idx[~has, : kk - 1]
    return out


def votes(idx: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(n, C) counts of the neighbours' labels: a leave-one-out kNN vote."""
    n_classes = int(y.max()) + 1 if y.size else 0
    lab = y[idx]
    return np.stack([(lab == c).sum(axis=1) for c in range(n_classes)], axis=1)


def oos_probabilities(x: np.ndarray, y: np.ndarray, k: int = KNN_VOTE) -> np.ndarray:
    """Out-of-sample class probabilities: leave-one-out vote of the k nearest neighbours,
    Laplace-smoothed (+0.5 per class) so no class has probability exactly 0.

    Example:
        >>> x = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]])
        >>> oos_probabilities(x, np.array([0, 0, 0, 1, 1, 1]), k=2).argmax(1).tolist()
        [0, 0, 0, 1, 1, 1]
    """
    from sklearn.neighbors import NearestNeighbors

    k = min(k, len(x) - 1)
    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)
    return smoothed(votes(_drop_self(idx), y))


def smoothed(v: np.ndarray) -> np.ndarray:
    """Vote counts to Laplace-smoothed probabilities."""
    p = v + 0.5
    return p / p.sum(axis=1, keepdims=True)


__all__ = ["CLASS_K", "KNN_VOTE", "MOMENT_SPREAD", "PCA_DIMS", "SPECTRUM_WEIGHT",
           "class_distances", "features", "label_rows", "mirror_features",
           "mirror_gray_ratio", "mirror_ratio", "mirrored_rows", "moment_normalized",
           "neighbours", "oos_probabilities", "reduced", "reduced_rows", "release",
           "smoothed", "spectrum", "threads_for", "unaligned_features", "votes"]
