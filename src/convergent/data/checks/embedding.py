"""What the outlier and label checks compare images by: one feature vector per image, a
neighbour graph over it, and the out-of-sample label model built on that graph.

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

# Log-spaced radial frequency bands of the 32x32 spectrum, from 1/32 cycle per pixel (one
# period across the image) to the corner of the spectrum: one band per octave and a half
# below Nyquist, 7 bands (DC left out: the gray copy is standardized).
SPECTRUM_BANDS = 7
# Images per FFT batch: 4,096 32x32 complex spectra are 34 MB, so the spectrum never
# holds a copy of the whole table (100k images would be 0.8 GB at once).
SPECTRUM_CHUNK = 4096
# Weight of the spectrum block against the shape block (each block has unit scale):
# measured on generated development folders (benchmarks/perf/scan_outlier_label_dev.py,
# seeds 301-305 and the healthy seeds 100-103, none of them a fault-benchmark folder):
# 0.3 raised the outlier ranking AUC on the animals base from 0.99 to 0.997 and the
# label model's precision from 0.66 to 0.70; 0.5 and more let blur dominate.
SPECTRUM_WEIGHT = 0.3
# Moment normalization: the foreground's standard deviation along each axis becomes this
# fraction of the 32-pixel frame (a mass spread evenly over the whole frame has 0.29,
# 1/sqrt(12), so 0.22 keeps a margin). Measured on the development folders
# (scan_outlier_label_dev.py's seeds 301-305 plus 311-313, and the healthy seeds 100-103;
# none a fault-benchmark folder): kNN accuracy on the clean images 0.871 with the old
# features, 0.883 / 0.891 / 0.901 / 0.902 with a spread of 0.16 / 0.19 / 0.22 / 0.26 (isotropic
# scaling 0.883 at 0.22); the animal silhouettes gained most (0.79-0.83 -> 0.83-0.87).
MOMENT_SPREAD = 0.22
# Foreground mass of a standardized gray image: how far (in standard deviations) a pixel
# lies above the border's mean level, less this margin, so that the background's gradient
# and noise (well under half a standard deviation in a picture with an object) weigh
# nothing. First principles; not tuned.
FOREGROUND_MARGIN = 0.5
# Label model: out-of-sample class votes of the KNN_VOTE nearest neighbours (HOG + gray
# + spectrum, PCA to PCA_DIMS when wider), then cleanlab's confident learning (Northcutt
# et al. 2021). Measured on generated folders with 5 % flipped labels
# (benchmarks/perf/scan_label_model.py): kNN was as accurate as 5-fold logistic regression
# and an RBF SVM on these features and 10-30x faster, and it scales to 100k images.
KNN_VOTE = 10
PCA_DIMS = 64
_EDGE = 32  # side of the table's gray thumbnail (``g32``)


def spectrum(g32: np.ndarray, chunk: int = SPECTRUM_CHUNK) -> np.ndarray:
    """Log share of the power in each radial frequency band of 32x32 gray images.

    Args:
        g32: (n, 1024) flattened 32x32 gray images (the table's ``g32``).
        chunk: images transformed at once (bounds the complex FFT buffer).

    Returns:
        (n, SPECTRUM_BANDS) float32; rows of blank images are all equal.
    """
    from scipy import fft

    # real input: the half spectrum (rfft2) holds every power once, except the columns
    # 1..15, whose mirror images hold the same power; weight those twice
    f = np.fft.fftfreq(32)
    radius = np.hypot(f[:, None], np.abs(f[None, :17]))
    edges = np.geomspace(1 / 32, 0.71, SPECTRUM_BANDS + 1)
    band = (np.digitize(radius, edges) - 1).ravel()  # -1 = DC
    twice = np.ones((32, 17), np.float32)
    twice[:, 1:16] = 2.0
    basis = np.stack([(band == b) * twice.ravel() for b in range(SPECTRUM_BANDS)], axis=1)
    out = np.empty((len(g32), SPECTRUM_BANDS), np.float32)
    for i in range(0, len(g32), chunk):
        g = np.asarray(g32[i:i + chunk], dtype=np.float32).reshape(-1, 32, 32)
        spec = fft.rfft2(g, workers=1)
        power = (spec.real ** 2 + spec.imag ** 2).reshape(len(g), -1)
        s = power @ basis.astype(np.float32)
        s = s / np.maximum(s.sum(axis=1, keepdims=True), 1e-12)
        out[i:i + chunk] = np.log(s + 1e-6)
    return out


def moment_normalized(g32: np.ndarray, spread: float = MOMENT_SPREAD,
                      margin: float = FOREGROUND_MARGIN) -> np.ndarray:
    """32x32 gray images resampled so their foreground is centred and equally spread.

    The sign is set so the border is dark (the object, light or dark on its background,
    becomes the bright mass); the centre and the standard deviation of that mass along
    each axis define an affine map onto a frame where both deviations are ``spread`` of
    the side. Bilinear sampling; outside the source, the border level.

    Args:
        g32: (m, 1024) or (m, 32, 32) standardized gray images (the table's ``g32``).
        spread: target standard deviation of the mass, as a fraction of the side.
        margin: standard deviations above the border level that do not count as mass.

    Returns:
        (m, 32, 32) float32. A blank image (no mass) comes back centred as it was.

    Example:
        >>> g = np.zeros((1, 32, 32), np.float32); g[0, 2:6, 2:6] = 3.0  # small, in a corner
        >>> out = moment_normalized(g)
        >>> bool(out[0, 12:20, 12:20].mean() > 1.0 > out[0, :4, :4].mean())
        True
    """
    e = _EDGE
    g = np.asarray(g32, dtype=np.float32).reshape(-1, e, e)
    border = np.concatenate([g[:, 0], g[:, -1], g[:, 1:-1, 0], g[:, 1:-1, -1]], axis=1)
    level = border.mean(axis=1)
    g = np.where((level > 0)[:, None, None], -g, g)
    level = -np.abs(level)
    w = np.maximum(g - (level + margin)[:, None, None], 0.0)
    mass = w.sum(axis=(1, 2))
    has = mass > 1e-6
    mass = np.where(has, mass, 1.0)
    ax = np.arange(e, dtype=np.float32)
    wy, wx = w.sum(axis=2) / mass[:, None], w.sum(axis=1) / mass[:, None]  # marginals
    cy, cx = wy @ ax, wx @ ax
    sy = np.sqrt(np.maximum((wy * (ax[None] - cy[:, None]) ** 2).sum(axis=1), 0.0))
    sx = np.sqrt(np.maximum((wx * (ax[None] - cx[:, None]) ** 2).sum(axis=1), 0.0))
    centre = (e - 1) / 2
    cy, cx = np.where(has, cy, centre), np.where(has, cx, centre)
    unit = np.float32(1 / (spread * e))  # source pixels per output pixel, per unit spread
    sy = np.where(has, np.maximum(sy, 0.5), spread * e) * unit
    sx = np.where(has, np.maximum(sx, 0.5), spread * e) * unit
    u = ax - np.float32(centre)
    ry = _interpolation(cy[:, None] + u[None] * sy[:, None], e)  # (m, out row, source row)
    rx = _interpolation(cx[:, None] + u[None] * sx[:, None], e)
    lv = level[:, None, None]
    return (lv + ry @ (g - lv) @ rx.transpose(0, 2, 1)).astype(np.float32)


def _interpolation(src: np.ndarray, e: int) -> np.ndarray:
    """(m, e, e) bilinear interpolation matrices: output pixel j of image i reads source
    position ``src[i, j]``; a row is all zero where that position is outside 0..e-1, so
    the separable product gives the border level there."""
    m = len(src)
    lo = np.floor(src).astype(np.int64)
    frac = (src - lo).astype(np.float32)
    inside = (src >= 0) & (src <= e - 1)
    mat = np.zeros((m, e, e), np.float32)
    i, j = np.nonzero(inside)
    k = lo[i, j]
    hi = np.minimum(k + 1, e - 1)
    mat[i, j, hi] = frac[i, j]
    mat[i, j, k] += 1 - frac[i, j]  # k == hi only at the last pixel, where frac is 0
    return mat


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
        for i in range(0, len(t.g32), SPECTRUM_CHUNK):
            gn = moment_normalized(t.g32[i:i + SPECTRUM_CHUNK])
            out[i:i + len(gn), n_hog:n_hog + HOG_DIM] = hog(gn)
            out[i:i + len(gn), n_hog + HOG_DIM:shape_cols] = gray_embedding(gn)
        out[~ctx.ok, n_hog:shape_cols] = 0.0
        out[:, :shape_cols] *= np.float32(1 / np.sqrt(2))
        spec = spectrum(t.g32)
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
    if x.shape[1] <= dims or len(x) <= dims:
        return x
    from sklearn.decomposition import PCA

    return PCA(dims, random_state=seed).fit_transform(x).astype(np.float32)


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


def neighbours(ctx: Context, rows: np.ndarray, k: int = KNN_VOTE) -> np.ndarray:
    """Indices (into ``rows``) of each row's k nearest other rows, on the reduced features;
    cached per row set, so the label model and the outlier check share one search."""
    key = ("neighbours", rows.tobytes(), k)
    if key not in ctx.cache:
        from sklearn.neighbors import NearestNeighbors

        with threads_for(len(rows)):
            x = reduced(features(ctx)[rows], seed=ctx.seed)
            kk = min(k + 1, len(rows))
            _, idx = NearestNeighbors(n_neighbors=kk).fit(x).kneighbors(x)
        ctx.cache[key] = _drop_self(idx)
    return ctx.cache[key]


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


__all__ = ["KNN_VOTE", "MOMENT_SPREAD", "PCA_DIMS", "SPECTRUM_WEIGHT", "features", "label_rows",
           "moment_normalized", "neighbours", "oos_probabilities", "reduced", "smoothed",
           "spectrum", "threads_for", "unaligned_features", "votes"]
