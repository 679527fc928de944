"""Exact and near-duplicate pairs without an N x N matrix: index, candidates, verification.

Candidates are the k nearest neighbours of every image in two small embeddings (16x16
gray, and an 8x8 pooled version that tolerates small shifts and crops), found with
scikit-learn's ``NearestNeighbors`` (memory O(n k)). Each candidate pair is then verified:

* exact: the decoded pixels are identical (md5), or
* near: the 16x16 gray embeddings almost coincide (JPEG re-encoding, resizing, brightness
  change), or the 32x32 images match after a small zoom and shift (a crop of a few %),
  and in both cases the chromaticity of the mean colour agrees (brightness-invariant).

Example:
    >>> pairs = find_pairs(table)  # doctest: +SKIP
    >>> pairs[["i", "j", "kind"]].head(1)  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from convergent.data.features import GRAY_DIFF

K_NEIGHBOURS = 6  # candidates per image per embedding (near copies rank first)
# Thresholds measured by benchmarks/perf/scan_near_thresholds.py on healthy generated
# folders (1,000 images each, mnist and animals glyphs rendered in colour; distinct images
# only) against copies made the five ways of the fault benchmark (exact, JPEG q70, 0.8x
# resize, 5-10 % crop, +10 % brightness) of 60-100 images:
# 16x16 gray cosine: distinct nearest neighbours <= 0.982 (99.9th pct 0.96-0.96),
# JPEG / resize / brightness copies >= 0.99.
COS_NEAR = 0.985
# Best correlation of 32x32 gray images over zooms 1-1.15 and shifts of +-2 px: crops
# score >= 0.95 for 95 % of copies (min 0.91); distinct candidates that also pass the
# colour gates: <= 1 per 1,000 images above 0.95.
ALIGN_NEAR = 0.95
ZOOMS = (1.0, 1.05, 1.1, 1.15)
SHIFT = 2
# Colour gates (chromaticity: colour without brightness): mean colour of copies moves
# <= 0.015 (crop), darker/brighter-half colours <= 0.10 (crop moves the median split);
# distinct candidates pass both in 1-2 % of pairs.
CHROMA_MAX = 0.03
COLOUR3_MAX = 0.12
MARGIN = 3  # px trimmed from the 32x32 border before shifting
# Gray images give the colour gates nothing to test, and simple gray glyphs are often
# that similar to a distinct neighbour (measured on the embedded mnist / animals / digits
# arrays: 10 % / 28 % / 76 % of images have a distinct neighbour with aligned correlation
# >= ALIGN_NEAR). A gray pair must then also be an outlier of the dataset's own
# nearest-neighbour similarity: robust z of log(1 - similarity) <= -NEAR_Z (the 3.5 cut of
# Iglewicz & Hoaglin 1993, as for the other robust z in convergent.data). Measured by
# benchmarks/perf/scan_near_gray.py: JPEG/resize/brightness copies score
# z <= -4, crops z ~ -4 (mnist) to -1 (8x8 digits, where a crop is a new digit);
# distinct neighbours pass at 1 % of images.
NEAR_Z = 3.5
# Blur takes away the fine detail the aligned correlation compares, so two distinct
# blurred pictures of a similar outline correlate like a crop and its original (seen on
# the 64 px animal silhouettes: distinct pairs with a heavily blurred member at 0.950-0.969).
# An image is "soft" below this fraction of the dataset's median edge steepness: the
# point at which the blur check also says the detail is gone (exposure.BLUR_RATIO_MAX,
# sigma ~1 px at 32 px; first principles). An alignment-only match with a soft member
# must then, like a gray pair, also be an outlier of the soft images' own
# nearest-neighbour similarity (NEAR_Z), and so must a 16x16-cosine match (blur makes
# distinct outlines alike there too). Exact copies are not affected.
SOFT_RATIO = 0.5
# What an aligned copy may still differ by: the search steps in whole pixels and zooms of
# 0.05, so a copy is registered to within half a pixel on each axis, and a picture's
# correlation with itself shifted by d px falls by about D1 * d^2 (D1: its decorrelation at
# one pixel; the quadratic of a smooth signal), so two half-pixel offsets cost at most
# (0.25 + 0.25) x D1 = 0.5 x D1 (first principles). An alignment match must leave no more
# than that: two distinct pictures of a similar outline differ by their shape, not by a
# sub-pixel offset. Measured (benchmarks/perf/scan_near_dev.py folders, the larger D1 of
# the pair): crops <= 0.46 x D1, resized <= 0.18, brightened <= 0.09, JPEG q70 <= 0.51;
# distinct pairs above ALIGN_NEAR 0.31-2.1, 4 of 127 at <= 0.5. It also rejects every
# blurred look-alike that SOFT_RATIO's rule rejects among alignment matches (same pairs
# with that rule off, on those folders and the benchmark's); the soft rule stays for the
# 16x16-cosine matches, which this gate does not see.
RESIDUAL_SHARE = 0.5


def _knn_pairs(x: np.ndarray, k: int) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    n = len(x)
    if n < 2:
        return np.zeros((0, 2), np.int64)
    k = min(k + 1, n)
    from convergent.data.threads import threads_for

    with threads_for(n):
        _, idx = NearestNeighbors(n_neighbors=k).fit(x).kneighbors(x)
    i = np.repeat(np.arange(n), k)
    j = idx.ravel()
    keep = i != j
    p = np.stack([np.minimum(i, j), np.maximum(i, j)], axis=1)[keep]
    return p


def _unique_pairs(p: np.ndarray, n: int) -> np.ndarray:
    """Distinct rows of (m, 2) pairs of indices below ``n``, sorted: ``np.unique(p,
    axis=0)`` through one int64 key per pair (the row-wise unique sorts structured rows,
    ~10x slower)."""
    if not len(p):
        return np.zeros((0, 2), np.int64)
    key = np.unique(p[:, 0].astype(np.int64) * n + p[:, 1])
    return np.stack([key // n, key % n], axis=1)


# Rows of the 32x32 gray images turned into float32 at once when pooling them: the whole
# of g32 in float32 is 410 MB at 100k images (it was the scan's largest transient copy).
POOL_CHUNK = 8192


def _pool4(g32: np.ndarray) -> np.ndarray:
    """4x4 mean pooling of flattened 32x32 images to (m, 8, 8) float32, as
    ``g.reshape(-1, 8, 4, 8, 4).mean(axis=(2, 4))`` computes it, bit for bit: each of a
    block's rows summed left to right, the four row sums added top to bottom, divided by
    16 (exact). NumPy's two-axis reduction over the strided view was 2.5x slower."""
    v = np.asarray(g32).astype(np.float32).reshape(-1, 8, 4, 8, 4)
    out = None
    for i in range(4):
        r = ((v[:, :, i, :, 0] + v[:, :, i, :, 1]) + v[:, :, i, :, 2]) + v[:, :, i, :, 3]
        if out is None:
            out = r
        else:
            out += r
    out /= np.float32(16)
    return out


def _coarse(g32: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """8x8 mean-pooled, zero-mean, unit-norm gray of the 32x32 images ``g32[rows]``."""
    out = np.empty((len(rows), 64), np.float32)
    for c0 in range(0, len(rows), POOL_CHUNK):
        part = rows[c0:c0 + POOL_CHUNK]
        g = _pool4(g32[part]).reshape(len(part), -1)
        g -= g.mean(axis=1, keepdims=True)
        out[c0:c0 + len(part)] = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-6)
    return out


# Source images whose zoomed, shifted windows are built at once in ``aligned_corr``: 16 x
# 100 windows x 676 px float32 = 4.3 MB, in cache, while the Python overhead of one
# image at a time (~0.8 ms each) is amortised (measured on the labels bench folder, 8,296
# pairs: chunks of 8-16 took 0.6-0.7 s, 4 or 32-64 took 0.8-1.5 s, one at a time 2.2 s).
ALIGN_CHUNK = 16
# Source images zoomed at once: 512 x 4 zooms x 32 x 32 float32 = 8 MB.
ZOOM_CHUNK = 512
# Partners per source multiplied at once: ALIGN_CHUNK x 256 x 676 float32 = 11 MB. Sources
# are grouped by degree, so the last group holds the hubs (images that are a candidate of
# thousands at 100k); unblocked, their padded partner block grew with the dataset.
PARTNER_BLOCK = 256


def _zooms(imgs: np.ndarray) -> np.ndarray:
    """(m, len(ZOOMS), s, s): each image at every zoom of ZOOMS (a centred crop of 1/z of
    the side, resized back to the full side, Pillow bilinear)."""
    from convergent.data.resample import resize

    s = imgs.shape[1]
    out = np.empty((len(imgs), len(ZOOMS), s, s), np.float32)
    for zi, z in enumerate(ZOOMS):
        c = s / z
        off = (s - c) / 2
        out[:, zi] = imgs if z == 1.0 else resize(imgs, s, s, box=(off, off, off + c, off + c))
    return out


def _windows(zoomed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw shifted interior windows of zoomed images (m, Z, s, s), with each window's
    mean and centred norm.

    Returns ``(windows (m, Z*S, w*w) float32, mean (m, Z*S), norm (m, Z*S))``, S =
    (2*SHIFT+1)^2 shifts in (dy, dx) order. The windows are not standardized (one copy
    instead of four passes over them); ``aligned_corr`` divides the products instead.
    """
    m, _, s = zoomed.shape[:3]
    w = s - 2 * MARGIN
    inner = zoomed[:, :, MARGIN - SHIFT:s - MARGIN + SHIFT, MARGIN - SHIFT:s - MARGIN + SHIFT]
    view = np.lib.stride_tricks.sliding_window_view(inner, (w, w), axis=(2, 3))
    out = np.empty(view.shape, np.float32)  # (m, Z, dy, dx, w, w)
    out[...] = view
    # window sums by a band matrix on each side, in float64 (no cancellation below)
    band = np.zeros((2 * SHIFT + 1, inner.shape[2]))
    for k in range(2 * SHIFT + 1):
        band[k, k:k + w] = 1.0
    d = inner.astype(np.float64)
    s1 = (band @ d @ band.T).reshape(m, -1)
    s2 = (band @ (d * d) @ band.T).reshape(m, -1)
    mean = s1 / (w * w)
    norm = np.sqrt(np.maximum(s2 - s1 * mean, 0.0))
    return out.reshape(m, -1, w * w), mean, norm


def _centres(imgs: np.ndarray) -> np.ndarray:
    """The unshifted interior window of each image, standardized: (m, w*w)."""
    s = imgs.shape[1]
    a = imgs[:, MARGIN:s - MARGIN, MARGIN:s - MARGIN].reshape(len(imgs), -1)
    a = a.astype(np.float32)
    a -= a.mean(axis=1, keepdims=True)
    n = np.sqrt(np.array([r @ r for r in a], np.float32))  # as np.linalg.norm of one row
    return a / np.maximum(n, 1e-6)[:, None]


def aligned_corr(g32: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Best correlation of each pair's 32x32 images over ZOOMS x shifts, either direction.

    Each image that takes part is a source once: its zoomed, shifted windows are built
    (ALIGN_CHUNK sources at a time, ordered by their number of partners so padding stays
    small) and multiplied with the centre windows of all its partners in one batched
    product, so time is linear in the pairs and memory flat.
    """
    if len(pairs) == 0:
        return np.zeros(0, np.float32)
    s = round(np.sqrt(g32.shape[1]))
    pairs = np.asarray(pairs, np.int64)
    used, inv = np.unique(pairs, return_inverse=True)
    inv = inv.reshape(pairs.shape)
    w = s - 2 * MARGIN
    # float16, as g32 itself: 135 MB at 100k images (270 in float32); the products read
    # them as float32 blocks, so only the storage is rounded (correlations of 20,000
    # random pairs moved by at most 5e-5)
    centres = np.empty((len(used), w * w), np.float16)
    for c0 in range(0, len(used), ZOOM_CHUNK):  # chunks: no float32 copy of all of g32
        part = used[c0:c0 + ZOOM_CHUNK]
        centres[c0:c0 + len(part)] = _centres(np.asarray(g32[part], np.float32)
                                              .reshape(-1, s, s))
    # both directions, as slots into ``used``: (source, destination, pair number)
    src = np.concatenate([inv[:, 0], inv[:, 1]])
    dst = np.concatenate([inv[:, 1], inv[:, 0]])
    num = np.concatenate([np.arange(len(pairs))] * 2)
    degree = np.bincount(src, minlength=len(used))  # >= 1: every image is in a pair
    by_degree = np.argsort(degree, kind="stable")
    order = np.lexsort((src, degree[src]))  # edges grouped by source in by_degree order
    src, dst, num = src[order], dst[order], num[order]
    starts = np.concatenate([[0], np.cumsum(degree[by_degree])])
    best = np.full(len(pairs), -1.0, np.float32)
    # the products are small (100 x 676 by 676 x ~12): BLAS threads only add overhead
    from convergent.data.threads import one_thread

    with one_thread("blas"):
        for z0 in range(0, len(used), ZOOM_CHUNK):
            zoomed = _zooms(np.asarray(g32[used[by_degree[z0:z0 + ZOOM_CHUNK]]],
                                       np.float32).reshape(-1, s, s))
            for c0 in range(z0, min(z0 + ZOOM_CHUNK, len(used)), ALIGN_CHUNK):
                c1 = min(c0 + ALIGN_CHUNK, len(used))
                deg = degree[by_degree[c0:c1]]
                lo, hi = starts[c0], starts[c1]
                wins, w_mean, w_norm = _windows(zoomed[c0 - z0:c1 - z0])
                # the chunk's edges, source by source: row = source, col = its k-th
                # partner; partners padded to the chunk's largest degree with zeros, in
                # blocks of PARTNER_BLOCK (a hub image can be a candidate of thousands)
                row = np.repeat(np.arange(c1 - c0), deg)
                col = np.arange(hi - lo) - np.repeat(starts[c0:c1] - lo, deg)
                e_dst, e_num = dst[lo:hi], num[lo:hi]
                for b0 in range(0, int(deg.max()), PARTNER_BLOCK):
                    sel = np.flatnonzero((col >= b0) & (col < b0 + PARTNER_BLOCK))
                    r, c = row[sel], col[sel] - b0
                    partners = np.zeros((c1 - c0, int(c.max()) + 1, centres.shape[1]),
                                        np.float32)
                    partners[r, c] = centres[e_dst[sel]]
                    # corr = (w - mean_w) . c / |w - mean_w|, c of unit norm (mean ~0)
                    dots = np.matmul(wins, partners.transpose(0, 2, 1)).astype(np.float64)
                    dots -= (w_mean[:, :, None]
                             * partners.sum(axis=2, dtype=np.float64)[:, None])
                    scores = (dots / np.maximum(w_norm, 1e-6)[:, :, None]).max(axis=1)
                    np.maximum.at(best, e_num[sel], scores[r, c].astype(np.float32))
    return best


def colour_distance(df: pd.DataFrame, rows: np.ndarray, p: np.ndarray,
                    parts: tuple[str, ...] = ("", "_lo", "_hi")) -> np.ndarray:
    """Largest chromaticity distance over the mean ("") / darker ("_lo") / brighter colours."""
    out = np.zeros(len(p), np.float32)
    for a, b in ((f"chroma{q}_r", f"chroma{q}_g") for q in parts):
        cr = df[a].to_numpy(np.float32)[rows]
        cg = df[b].to_numpy(np.float32)[rows]
        out = np.maximum(out, np.hypot(cr[p[:, 0]] - cr[p[:, 1]], cg[p[:, 0]] - cg[p[:, 1]]))
    return out


def _neighbour_z(sim: np.ndarray, p: np.ndarray, n: int, members: np.ndarray) -> np.ndarray:
    """Robust z of each pair's log(1 - sim) against the members' nearest-neighbour values
    (each image's best candidate); NaN similarities give +inf (never an outlier)."""
    s = np.where(np.isfinite(sim), sim, -1.0)
    best = np.full(n, -1.0)
    np.maximum.at(best, p[:, 0], s)
    np.maximum.at(best, p[:, 1], s)
    ref = np.log(np.maximum(1.0 - best[members], 1e-6))
    if ref.size < 2:
        return np.full(len(p), np.inf)
    med = np.median(ref)
    mad = np.median(np.abs(ref - med)) / 0.6745  # MAD_SCALE of convergent.data.checks
    z = (np.log(np.maximum(1.0 - s, 1e-6)) - med) / max(mad, 1e-6)
    return np.where(np.isfinite(sim), z, np.inf)


def decorrelation(g32: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """1 - correlation of each image's interior (32x32 gray) with itself shifted by one
    pixel, the mean over x and y: how fast the picture decorrelates under a shift.

    Example:
        >>> g = np.tile(np.arange(32.0), (32, 1)).reshape(1, -1)  # a smooth ramp
        >>> float(decorrelation(g, np.array([0]))[0]) < 1e-6
        True
    """
    s = round(np.sqrt(g32.shape[1]))
    out = np.empty(len(rows), np.float64)
    for c0 in range(0, len(rows), POOL_CHUNK):
        g = np.asarray(g32[rows[c0:c0 + POOL_CHUNK]], np.float32).reshape(-1, s, s)
        a = g[:, MARGIN:s - MARGIN, MARGIN:s - MARGIN].reshape(len(g), -1)
        a = a - a.mean(axis=1, keepdims=True)
        corr = []
        for dy, dx in ((0, 1), (1, 0)):
            b = g[:, MARGIN + dy:s - MARGIN + dy, MARGIN + dx:s - MARGIN + dx]
            b = b.reshape(len(g), -1)
            b = b - b.mean(axis=1, keepdims=True)
            den = np.sqrt(np.einsum("ij,ij->i", a, a) * np.einsum("ij,ij->i", b, b))
            corr.append(np.einsum("ij,ij->i", a, b) / np.maximum(den, 1e-12))
        out[c0:c0 + len(g)] = 1.0 - (corr[0] + corr[1]) / 2.0
    return out


def _soft(blur: np.ndarray) -> np.ndarray:
    """Rows whose edge steepness is below SOFT_RATIO of the median: detail blurred away.

    Example:
        >>> _soft(np.array([1.0, 1.1, 0.9, 1.0, 0.3])).tolist()
        [False, False, False, False, True]
    """
    finite = np.isfinite(blur)
    if not finite.any():
        return np.zeros(len(blur), bool)
    return finite & (blur < SOFT_RATIO * np.median(blur[finite]))


# Candidate pairs whose embedding rows are gathered at once: 2 x 65,536 x 256 float32 =
# 128 MB. All at once, the ~1M candidates of 100k images took 1.1 GB (two gathered copies
# of the embedding per pair), the scan's memory peak then (benchmarks/RESULTS.md, stop 22).
CANDIDATE_CHUNK = 65536


def pair_dots(e: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Dot product of the rows of each pair, ``CANDIDATE_CHUNK`` pairs at a time.

    Example:
        >>> pair_dots(np.eye(3, dtype=np.float32), np.array([[0, 0], [0, 1]])).tolist()
        [1.0, 0.0]
    """
    out = np.empty(len(p), e.dtype)
    for c0 in range(0, len(p), CANDIDATE_CHUNK):
        q = p[c0:c0 + CANDIDATE_CHUNK]
        out[c0:c0 + len(q)] = np.einsum("ij,ij->i", e[q[:, 0]], e[q[:, 1]])
    return out


def find_pairs(df: pd.DataFrame, emb: np.ndarray, g32: np.ndarray,
               k: int = K_NEIGHBOURS) -> pd.DataFrame:
    """Verified exact/near duplicate pairs among decodable rows.

    Returns a DataFrame with columns i, j (row numbers of ``df``, i < j), kind
    ("exact"/"near"), cos, align, chroma.
    """
    ok = np.flatnonzero(df["ok"].to_numpy(bool))
    cols = ["i", "j", "kind", "cos", "align", "chroma"]
    if len(ok) < 2:
        return pd.DataFrame(columns=cols)
    e = emb if len(ok) == len(emb) else emb[ok]  # no copy when every file decoded
    cand = [_knn_pairs(e, k), _knn_pairs(_coarse(g32, ok), k)]
    md5 = df["md5"].to_numpy()[ok]
    # exact copies beyond k: group identical pixels directly
    _, inv, counts = np.unique(md5, return_inverse=True, return_counts=True)
    if (counts > 1).any():
        order = np.argsort(inv, kind="stable")
        first = {}
        extra = []
        for r in order:
            g = inv[r]
            if counts[g] > 1:
                if g in first:
                    extra.append((first[g], r))
                else:
                    first[g] = r
        if extra:
            cand.append(np.sort(np.asarray(extra, np.int64), axis=1))
    p = _unique_pairs(np.concatenate(cand), len(ok))
    exact = md5[p[:, 0]] == md5[p[:, 1]]
    cos = pair_dots(e, p)
    chroma = colour_distance(df, ok, p, ("",))
    colour_ok = (chroma <= CHROMA_MAX) & (colour_distance(df, ok, p) <= COLOUR3_MAX)
    gray = df["chan_diff"].to_numpy(np.float32)[ok] < GRAY_DIFF
    gray_pair = gray[p[:, 0]] & gray[p[:, 1]]
    near_cos = colour_ok & (cos >= COS_NEAR)
    align = np.full(len(p), np.nan, np.float32)
    todo = np.flatnonzero(colour_ok & ~exact & (~near_cos | gray_pair))
    align[todo] = aligned_corr(g32, ok[p[todo]])  # table rows: no copy of g32
    near_align = colour_ok & (align >= ALIGN_NEAR)
    if near_align.any():  # what is left after alignment: a sub-pixel offset, no more
        m = np.flatnonzero(near_align)
        used, inv = np.unique(p[m], return_inverse=True)
        d1 = decorrelation(g32, ok[used])[inv.reshape(-1, 2)].max(axis=1)
        near_align[m] = 1.0 - align[m] <= RESIDUAL_SHARE * d1
    # gray pairs, and pairs with a blurred member: the fixed gates have less to test, so a
    # match must also be an outlier of those images' own neighbour similarity
    soft = _soft(df["blur"].to_numpy(np.float64)[ok]) if "blur" in df else np.zeros_like(gray)
    for members, judged in ((gray, gray_pair), (soft, soft[p[:, 0]] | soft[p[:, 1]])):
        if judged.any():
            near_cos &= ~judged | (_neighbour_z(cos, p, len(ok), members) <= -NEAR_Z)
            near_align &= ~judged | (_neighbour_z(align, p, len(ok), members) <= -NEAR_Z)
    keep = exact | near_cos | near_align
    out = pd.DataFrame({"i": ok[p[keep, 0]], "j": ok[p[keep, 1]],
                        "kind": np.where(exact[keep], "exact", "near"),
                        "cos": cos[keep], "align": align[keep], "chroma": chroma[keep]})
    return out.reset_index(drop=True)
