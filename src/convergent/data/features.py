"""Per-image facts: one pure function of an image's bytes (or pixels), no state, no I/O.

``shard_facts`` reads and decodes each file of a shard once, then ``pixel_facts`` measures
the decoded images in batches of one shape (one numpy call per statistic per batch, not
per image) and returns columns (numpy arrays); ``facts_from_bytes`` / ``facts_from_pixels``
are the one-image forms. Because a shard's result depends only on its inputs, the same
function runs in a process pool here and could run as a Ray Data ``map_batches`` or a
Dask ``map_partitions`` task on a cluster. An image's facts do not depend on which other
images share its batch.

Facts (the columns of ``COLUMNS`` plus the matrices of ``MATRICES``):
  size_bytes, ok, error, width, height, mode, bands, chan_diff (mean |R-G|,|G-B| in 0-255),
  bright (mean luminance 0-1), lum_std, p01/p99 (luminance percentiles), range16 (max-min
  of a 16x16 area average: contrast without noise; on the principal colour axis), blur
  (edge steepness: 99th percentile gradient over the range, on a fixed 64x64 gray
  resize), chroma_r/g (chromaticity of the mean colour; also of the darker/brighter
  halves), md5 (of the decoded pixels: exact copies), g32 (32x32 gray, standardized),
  emb (16x16 gray, background-canonical sign, unit norm) and hog (4x4 cells x 9 unsigned
  orientations, unit norm); hog_n / emb_n / spec, the same of the moment-normalized
  thumbnail and its power spectrum (``convergent.data.shape``, for the label model);
  stroke (mean half-width of the moment-normalized foreground: pen strokes vs filled
  shapes, for the outlier score).

Example:
    >>> import numpy as np
    >>> f = facts_from_pixels(np.zeros((8, 8, 3), np.uint8))
    >>> f["ok"], f["bands"], round(f["bright"], 2)
    (True, 3, 0.0)
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

# PIL and scipy.fft are imported here, not in the functions: the decoding workers are
# forked from the scanning process and inherit them instead of importing them again for
# every scan (~0.2 s per worker)
import numpy as np
import scipy.fft  # noqa: F401 - shape.spectrum's FFT, imported before the workers fork
from PIL import Image, UnidentifiedImageError

from convergent.data.png import decode_plain
from convergent.data.resample import resize_many
from convergent.data.shape import SPECTRUM_BANDS, moment_normalized, spectrum, stroke_width

# Long side images are reduced to before statistics: brightness, contrast and colour
# statistics of a 256 px reduction match full resolution within ~1 % (area averaging),
# and the cost per image stays bounded for camera-size photos.
STATS_PX = 256
# Blur is measured on a fixed 64x64 gray resize so scores compare across image sizes;
# cleanvision measures blur on a fixed-size resize for the same reason.
BLUR_PX = 64
# Side of the gray thumbnail (g32) the embeddings, HOG and near-copy alignment read: 32x32,
# the size of the perceptual-hash recipe (imagehash / Zauner 2010) it was first made for.
HASH_PX = 32
EMB_PX = 16  # compact gray embedding: 16x16 = 256 values
HOG_CELLS, HOG_BINS = 4, 9  # Dalal & Triggs 2005 use 9 unsigned orientation bins
EMB_DIM = EMB_PX * EMB_PX
HOG_DIM = HOG_CELLS * HOG_CELLS * HOG_BINS
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, as PIL's "L"

# chan_diff (mean |R-G|, |G-B|) below one 8-bit level: no colour information (JPEG stores
# a gray image's chroma as exactly neutral, so re-encoded gray stays < 0.5; first
# principles). Used by the grayscale check and the near-copy colour gates.
GRAY_DIFF = 1.0

COLUMNS: dict[str, Any] = {
    "size_bytes": np.int64, "ok": bool, "error": object, "width": np.int32,
    "height": np.int32, "mode": object, "bands": np.int8, "chan_diff": np.float32,
    "bright": np.float32, "lum_std": np.float32, "p01": np.float32, "p99": np.float32,
    "range16": np.float32,
    "blur": np.float32, "chroma_r": np.float32, "chroma_g": np.float32,
    "chroma_lo_r": np.float32, "chroma_lo_g": np.float32, "chroma_hi_r": np.float32,
    "chroma_hi_g": np.float32, "stroke": np.float32, "md5": object,
}


# Pixel values (images x height x width x channels) put through the batched statistics at
# once: a whole shard (SHARD_SIZE 256) of 64x64 gray or 32x32 colour images shares one
# batch, 256 px colour photos go 5 at a time, so a batch's float64 temporaries stay at
# tens of MB per worker whatever the image size (first principles: 2**20 values x 8 B =
# 8 MB per copy); measured on 256 images: 2**17 to 2**22 values per batch cost the same
# per image within ~20 %, smaller batches up to 2x more.
BATCH_VALUES = 2**20

Meta = tuple[str, int, int, int]  # mode, bands, width, height of the file (before reduction)


# The per-image matrices beside COLUMNS: name -> (width, dtype). hog_n / emb_n are the HOG
# and gray embedding of the moment-normalized thumbnail and spec its power spectrum
# (``convergent.data.shape``), the label model's per-image inputs: computed here, in the
# parallel pass, rather than by the checks on one core afterwards.
MATRICES: dict[str, tuple[int, Any]] = {
    "emb": (EMB_DIM, np.float32), "hog": (HOG_DIM, np.float32),
    "g32": (HASH_PX * HASH_PX, np.float16), "hog_n": (HOG_DIM, np.float32),
    "emb_n": (EMB_DIM, np.float32), "spec": (SPECTRUM_BANDS, np.float32),
    "hog_h0": (HOG_CELLS * HOG_CELLS, np.float32),
    "hog_n_h0": (HOG_CELLS * HOG_CELLS, np.float32),
}


def _empty(error: str, size_bytes: int = 0) -> dict[str, Any]:
    f: dict[str, Any] = {k: (0 if np.dtype(t).kind in "iuf" else "") for k, t in COLUMNS.items()}
    f.update(ok=False, error=error, size_bytes=size_bytes, mode="",
             **{k: np.zeros(w, t) for k, (w, t) in MATRICES.items()})
    return f


def decode(data: bytes) -> tuple[np.ndarray, Meta] | str:
    """Decode an image file's bytes once: uint8 pixels reduced to STATS_PX and the file's
    (mode, bands, width, height), or the reason it cannot be decoded."""
    if not data:
        return "zero bytes"
    plain = decode_plain(data)  # Pillow's pixels, without its Python plumbing
    if plain is not None:
        return _to_array(plain), (plain.mode, len(plain.getbands()), *plain.size)
    try:
        with Image.open(io.BytesIO(data)) as im:
            width, height = im.size
            mode = im.mode
            bands = len(im.getbands())
            if im.format == "JPEG" and max(width, height) > 2 * STATS_PX:
                im.draft("RGB", (STATS_PX, STATS_PX))  # decode at 1/2..1/8 scale
            im.load()  # raises on truncated files
            if getattr(im, "is_animated", False):
                im.seek(0)
            arr = _to_array(im)
    except UnidentifiedImageError:
        head = data[:64].lstrip().lower()
        return ("HTML page" if head.startswith((b"<!doctype", b"<html")) else
                "git-lfs pointer" if head.startswith(b"version https://git-lfs") else
                "not an image")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        msg = str(e) or type(e).__name__
        return ("truncated: " if "truncat" in msg.lower() else "undecodable: ") + msg
    return arr, (mode, bands, width, height)


def facts_from_bytes(data: bytes) -> dict[str, Any]:
    """Decode an image file's bytes once and return its facts (``ok=False`` + error if not)."""
    d = decode(data)
    if isinstance(d, str):
        return _empty(d, len(data))
    f = facts_from_pixels(d[0], *d[1])
    f["size_bytes"] = len(data)
    return f


def _to_array(im: Any) -> np.ndarray:
    """uint8 pixels, (H, W) for one-band images or (H, W, 3), reduced to STATS_PX."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(im, dtype=np.float32)
        hi = 65535.0 if a.max() > 255 else 255.0
        im = Image.fromarray(np.clip(a * (255.0 / hi), 0, 255).astype(np.uint8))
    elif im.mode in ("1", "LA"):
        im = im.convert("L")
    elif im.mode not in ("L", "RGB"):  # converting to its own mode is a copy (~20 us)
        im = im.convert("RGB")
    if max(im.size) > STATS_PX:
        im = im.copy()
        im.thumbnail((STATS_PX, STATS_PX), Image.BOX)
    return np.asarray(im)


def facts_from_pixels(arr: np.ndarray, mode: str | None = None, bands: int | None = None,
                      width: int | None = None, height: int | None = None) -> dict[str, Any]:
    """Facts of decoded pixels: (H, W) or (H, W, C) uint8 (0-255) or float (0-1) array."""
    meta = None if mode is None else [(mode, bands, width, height)]
    return row(pixel_facts([arr], meta), 0)


def row(cols: dict[str, Any], i: int) -> dict[str, Any]:
    """Row ``i`` of columns as a dict of Python scalars (embeddings stay arrays)."""
    out: dict[str, Any] = {}
    for k, v in cols.items():
        x = v[i]
        out[k] = x.item() if isinstance(x, np.generic) else x
    return out


def _prepare(arr: np.ndarray) -> tuple[np.ndarray, str] | str:
    """Pixels as float32 0-1, (H, W) or (H, W, 3), and the md5 of the given pixels."""
    a = np.asarray(arr)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim == 3 and a.shape[-1] == 4:
        a = a[..., :3]
    if a.ndim not in (2, 3) or min(a.shape[:2]) < 1 or (a.ndim == 3 and a.shape[-1] != 3):
        return f"unsupported image shape {a.shape}"
    pix = np.ascontiguousarray(a).tobytes() + str(a.shape).encode()
    md5 = hashlib.md5(pix, usedforsecurity=False).hexdigest()
    if a.dtype == np.uint8:
        x = a.astype(np.float32) / 255.0
    else:
        x = a.astype(np.float32)
        if np.isfinite(x).all() and x.max(initial=0) > 1.5:  # raw 0-255 floats
            x = x / 255.0
        x = np.nan_to_num(np.clip(x, 0.0, 1.0))
    return x, md5


def empty_columns(n: int) -> dict[str, Any]:
    """Columns of ``n`` undecodable rows (ok False, zeros); filled in by ``pixel_facts``."""
    out: dict[str, Any] = {}
    for k, t in COLUMNS.items():
        out[k] = np.full(n, "", object) if np.dtype(t) == object else np.zeros(n, t)
    for k, (w, t) in MATRICES.items():
        out[k] = np.zeros((n, w), t)
    return out


def pixel_facts(images: list[np.ndarray], meta: list[Meta] | None = None) -> dict[str, Any]:
    """Facts of decoded images as columns (a pure function of its inputs).

    Images of one shape are stacked and measured together (BATCH_VALUES at a time), so the
    per-image cost is the decoding, not hundreds of small numpy calls.

    Args:
        images: (H, W) or (H, W, C) uint8 (0-255) or float (0-1) arrays, any sizes.
        meta: per image (mode, bands, width, height) of the file; from the pixels if None.
    """
    n = len(images)
    out = empty_columns(n)
    groups: dict[tuple[int, ...], list[int]] = {}
    prepared: list[np.ndarray | None] = [None] * n
    for i, arr in enumerate(images):
        p = _prepare(arr)
        if isinstance(p, str):
            out["error"][i] = p
            continue
        prepared[i], out["md5"][i] = p
        x = p[0]
        out["ok"][i] = True
        nb = 3 if x.ndim == 3 else 1
        mode, bands, width, height = meta[i] if meta else (None, None, None, None)
        out["width"][i] = width if width is not None else x.shape[1]
        out["height"][i] = height if height is not None else x.shape[0]
        out["mode"][i] = mode or ("RGB" if nb == 3 else "L")
        out["bands"][i] = bands if bands is not None else nb
        groups.setdefault(x.shape, []).append(i)
    for shape, idx in groups.items():
        step = max(1, BATCH_VALUES // int(np.prod(shape)))
        for s in range(0, len(idx), step):
            rows = np.asarray(idx[s:s + step])
            _batch(np.stack([prepared[i] for i in rows]), out, rows)
            for i in rows:
                prepared[i] = None
    return out


def _batch(x: np.ndarray, out: dict[str, Any], rows: np.ndarray) -> None:
    """Write the facts of same-shape images ``x`` (m, H, W[, 3]) into ``out[.][rows]``."""
    m = len(x)
    if x.ndim == 4:
        lum = x @ LUMA
        d0 = np.abs(x[..., 0] - x[..., 1]).reshape(m, -1).mean(axis=1)
        d1 = np.abs(x[..., 1] - x[..., 2]).reshape(m, -1).mean(axis=1)
        d = ((d0 + d1) / 2).astype(np.float64)
        # channel-major (m, 3, H*W): reductions over pixels run along contiguous memory
        # (over the pixel axis of (m, H*W, 3) they were ~30x slower)
        ch = np.ascontiguousarray(x.reshape(m, -1, 3).transpose(0, 2, 1))
        n_px = ch.shape[2]
        lf = lum.reshape(m, 1, -1)
        dark = lf <= row_median(lf.reshape(m, -1))[:, None, None]
        n_dark = dark.sum(axis=2)
        mean_rgb = ch.mean(axis=2)
        lo_rgb = (np.where(dark, ch, 0).sum(axis=2) / np.maximum(n_dark, 1)).astype(np.float32)
        hi_rgb = (np.where(dark, 0, ch).sum(axis=2) / np.maximum(n_px - n_dark, 1)
                  ).astype(np.float32)
        hi_rgb = np.where(n_dark < n_px, hi_rgb, lo_rgb)
        st = structure(ch, lum)
    else:
        lum, d, st = x, np.zeros(m), x
        mean_rgb = np.repeat(lum.reshape(m, -1).mean(axis=1).astype(np.float64)[:, None], 3, 1)
        lo_rgb = hi_rgb = mean_rgb
    lf = lum.reshape(m, -1)
    out["chan_diff"][rows] = d * 255.0
    out["bright"][rows] = lf.mean(axis=1)
    out["lum_std"][rows] = lf.std(axis=1)
    p = row_percentiles(lf, [1, 99])
    out["p01"][rows], out["p99"][rows] = p[0], p[1]
    for name, rgb in (("", mean_rgb), ("_lo", lo_rgb), ("_hi", hi_rgb)):
        c = _chroma(rgb)
        out[f"chroma{name}_r"][rows], out[f"chroma{name}_g"][rows] = c[:, 0], c[:, 1]
    g64, g32, g16 = resize_many(st, [(BLUR_PX, BLUR_PX), (HASH_PX, HASH_PX), (EMB_PX, EMB_PX)])
    out["blur"][rows] = blur_score(g64)
    out["range16"][rows] = range16(g16)
    out["emb"][rows] = gray_embedding(g32)
    out["hog"][rows], out["hog_h0"][rows] = hog(g32, flat=True)
    thumb = thumb32(g32)
    out["g32"][rows] = thumb
    # the label model's inputs, from the stored (float16) thumbnail as the checks read it
    gn = moment_normalized(thumb)
    out["hog_n"][rows], out["hog_n_h0"][rows] = hog(gn, flat=True)
    out["emb_n"][rows] = gray_embedding(gn)
    out["spec"][rows] = spectrum(thumb)
    out["stroke"][rows] = stroke_width(gn)


def structure(ch: np.ndarray, lum: np.ndarray) -> np.ndarray:
    """One gray channel per image that keeps the most contrast: pixels projected on their
    first principal colour axis (luminance when the image has no dominant colour axis).

    Luminance alone loses shapes drawn in colours of equal brightness (red on green);
    the principal axis keeps them, so sharpness, contrast, hashes and embeddings see the
    structure the network sees. Scaled so values stay in 0-1.

    Args:
        ch: (m, 3, H*W) float32 colour images in 0-1, channel-major.
        lum: (m, H, W) their luminance (``x @ LUMA``); also the fallback.
    """
    m, _, n = ch.shape
    if n < 2:  # a covariance needs two pixels (np.cov gives NaN)
        return lum
    c = ch.astype(np.float64)
    c -= c.mean(axis=2, keepdims=True)
    cov = np.matmul(c, c.transpose(0, 2, 1)) / (n - 1)
    usable = np.isfinite(cov).all(axis=(1, 2)) & (np.trace(cov, axis1=1, axis2=2) >= 1e-8)
    if not usable.any():
        return lum
    _w, v = np.linalg.eigh(np.where(usable[:, None, None], cov, np.eye(3)))
    axis = v[:, :, -1]
    axis = np.where(axis.sum(axis=1, keepdims=True) < 0, -axis, axis)
    axis = axis / np.maximum(np.abs(axis).sum(axis=1, keepdims=True), 1e-6)
    out = np.matmul(axis.astype(np.float32)[:, None, :], ch).reshape(lum.shape)
    out -= np.minimum(out.reshape(m, -1).min(axis=1), 0.0)[:, None, None]
    return np.where(usable[:, None, None], out, lum)


def _chroma(rgb: np.ndarray) -> np.ndarray:
    """Chromaticity (r, g, b) / (r + g + b) per row: colour without brightness."""
    s = rgb.sum(axis=1, keepdims=True)
    return np.where(s > 1e-3, rgb / np.where(s > 1e-3, s, 1), 1 / 3)


def _order_stats(a: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k-th and (k+1)-th smallest value of each row of ``a`` (the latter clipped to
    the last): one single-pivot partition (NumPy's SIMD selection; two pivots at once
    fall back to a ~4x slower introselect), then the minimum of the values above it."""
    n = a.shape[1]
    p = np.partition(a, k, axis=1)
    return p[:, k], (p[:, k + 1:].min(axis=1) if k + 1 < n else p[:, k])


def row_percentiles(a: np.ndarray, q: float | list[float]) -> np.ndarray:
    """``np.percentile(a, q, axis=1)`` of a 2-d finite array: the same values and dtype
    (linear method; a scalar ``q`` gives ``a``'s dtype, a list float64, as NumPy does).

    NumPy's percentile partitions the transposed rows around both neighbours of every
    percentile at once; here each percentile is one single-pivot selection along
    contiguous rows (measured: 155 rows of 4,096 float32, 23 ms -> ~2 ms for two).

    Example:
        >>> row_percentiles(np.array([[3.0, 1.0, 2.0, 4.0]]), [50]).tolist()
        [[2.5]]
    """
    n = a.shape[1]
    qs = np.atleast_1d(np.true_divide(q, 100))
    virtual = (n - 1) * qs  # NumPy's "linear" method (Hyndman & Fan's 7th)
    lo = np.floor(virtual)
    gamma = virtual - lo
    lo = np.where(virtual >= n - 1, n - 1, lo).astype(np.intp)
    pairs = [_order_stats(a, int(k)) for k in lo]
    below = np.stack([b for b, _ in pairs])  # (len(q), rows)
    above = np.stack([b for _, b in pairs])
    t = float(gamma[0]) if np.ndim(q) == 0 else gamma.reshape(-1, 1)
    diff = above - below
    out = np.add(below, diff * t)
    np.subtract(above, diff * (1 - t), out=out, where=np.asarray(t) >= 0.5,
                casting="unsafe")
    return out[0] if np.ndim(q) == 0 else out


def row_median(a: np.ndarray) -> np.ndarray:
    """``np.median(a, axis=1)`` of a 2-d finite array (same values and dtype), by one
    single-pivot selection (see :func:`row_percentiles`)."""
    n = a.shape[1]
    h = n // 2
    if n % 2:
        mid = np.partition(a, h, axis=1)[:, h:h + 1]
    else:
        p = np.partition(a, h, axis=1)
        mid = np.stack([p[:, :h].max(axis=1), p[:, h]], axis=1)
    return np.mean(mid, axis=1)


def blur_score(g: np.ndarray) -> np.ndarray:
    """Edge steepness at 64x64: 99th percentile of the gradient magnitude over the range.

    A blurred edge rises over more pixels, so its steepest gradient is lower for the same
    step height (a Gaussian of sigma s turns a unit step's slope into 1/(s*sqrt(2 pi))).
    Dividing by the 1st-99th percentile range makes the score independent of exposure
    and contrast; the fixed size makes it comparable across image sizes. Measured on
    generated folders (scan_healthy_false_alarms.py), it separated blurred images better
    than the variance of the Laplacian (dominated by sensor noise on small images) and
    than a gradient-weighted mean gradient. ``g``: (m, BLUR_PX, BLUR_PX), the structure
    channel resized; returns (m,) float32.
    """
    m = len(g)
    gy, gx = np.gradient(g, axis=(1, 2))
    p1, p99 = row_percentiles(g.reshape(m, -1), [1, 99])
    steep = row_percentiles(hypot32(gx, gy).reshape(m, -1), 99)
    return steep / np.maximum(p99 - p1, 1.0 / 255.0).astype(np.float32)


def range16(g16: np.ndarray) -> np.ndarray:
    """Max - min luminance of the 16x16 area-averaged images: contrast without pixel noise."""
    g = g16.reshape(len(g16), -1)
    return g.max(axis=1) - g.min(axis=1)


def _norms(v: np.ndarray) -> np.ndarray:
    """L2 norm of each row, as ``np.linalg.norm`` of that row alone (a dot product)."""
    return np.sqrt(np.array([r @ r for r in v], dtype=v.dtype))


def hypot32(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``np.hypot`` of finite float32 arrays, bit for bit: the squares summed and rooted in
    float64, then rounded once to float32, which is how glibc's ``hypotf`` computes it
    (equal on 10^8 random pairs and on every gradient of the bench folders); ~25 %
    faster than NumPy's float32 loop here."""
    a = x.astype(np.float64)
    a *= a
    b = y.astype(np.float64)
    b *= b
    a += b
    np.sqrt(a, out=a)
    return a.astype(np.float32)


def pool2(g: np.ndarray) -> np.ndarray:
    """2x2 mean pooling of a C-contiguous (m, 2h, 2w) float32 stack, as
    ``g.reshape(m, h, 2, w, 2).mean(axis=(2, 4))`` computes it, bit for bit: each row pair
    summed first, ``(a00 + a01) + (a10 + a11)``, then divided by 4 (exact). NumPy's
    two-axis reduction over the strided view took 11 us per 32x32 image, this 0.7 us."""
    m, h2, w2 = g.shape
    v = np.asarray(g, np.float32).reshape(m, h2 // 2, 2, w2 // 2, 2)
    top = v[:, :, 0, :, 0] + v[:, :, 0, :, 1]
    top += v[:, :, 1, :, 0] + v[:, :, 1, :, 1]
    top /= np.float32(4)
    return top


def gray_embedding(g32: np.ndarray) -> np.ndarray:
    """16x16 mean-pooled gray, zero mean, unit norm, sign set so the border is dark.

    The sign makes dark-on-light and light-on-dark versions of a shape the same vector;
    near copies keep their sign, so duplicates stay neighbours. (m, 32, 32) -> (m, 256).
    """
    m = len(g32)
    g = pool2(g32)
    g = (g - g.reshape(m, -1).mean(axis=1)[:, None, None]).reshape(m, -1)
    sq = g.reshape(m, EMB_PX, EMB_PX)
    border = np.concatenate([sq[:, 0], sq[:, -1], sq[:, 1:-1, 0], sq[:, 1:-1, -1]],
                            axis=1).mean(axis=1)
    g = np.where((border > 0)[:, None], -g, g)
    n = _norms(g)
    big = n > 1e-6
    return np.where(big[:, None], g / np.where(big, n, 1)[:, None], 0).astype(np.float32)


def thumb32(g32: np.ndarray) -> np.ndarray:
    """The 32x32 gray image, zero mean and unit std (float16): for aligning near copies."""
    g = g32.reshape(len(g32), -1)
    g = g - g.mean(axis=1)[:, None]
    sd = g.std(axis=1)
    big = sd > 1e-6
    return np.where(big[:, None], g / np.where(big, sd, 1)[:, None], 0).astype(np.float16)


def orientation_bins(gx: np.ndarray, gy: np.ndarray, bins: int = HOG_BINS) -> np.ndarray:
    """Unsigned gradient orientation bin, ``floor(angle mod pi / (pi / bins))``, without
    ``arctan2`` (which took two thirds of the HOG's time): the gradient is turned into the
    upper half-plane, and the bin is the number of bin edges it lies counter-clockwise of.

    Example:
        >>> orientation_bins(np.array([1.0, 0.0, -1.0, 1.0]), np.array([0.0, 1.0, 1e-3, -1.0]))
        array([0, 4, 8, 6], dtype=uint8)
    """
    flip = (gy < 0) | ((gy == 0) & (gx < 0))
    x = np.where(flip, -gx, gx)
    y = np.where(flip, -gy, gy)
    # fl(c y) - fl(s x) >= 0 exactly when fl(c y) >= fl(s x) (IEEE subtraction keeps the
    # sign and is zero only for equal operands), so no difference is formed; buffers are
    # reused and the count kept in uint8 (measured: 19 -> 15 us per 32x32 image)
    out = np.zeros(x.shape, np.uint8)
    cy, sx = np.empty_like(y), np.empty_like(x)
    hit = np.empty(x.shape, bool)
    for k in range(1, bins):
        phi = k * np.pi / bins
        np.multiply(np.float32(np.cos(phi)), y, out=cy)
        np.multiply(np.float32(np.sin(phi)), x, out=sx)
        np.greater_equal(cy, sx, out=hit)
        out += hit
    return out


def hog(g32: np.ndarray, flat: bool = False) -> Any:
    """Histogram of unsigned gradient orientations, 4x4 cells x 9 bins, unit norm.

    Unsigned orientations make it invariant to polarity (dark-on-light vs light-on-dark).
    (m, 32, 32) -> (m, 144). With ``flat``, also (m, 16): the share of each cell's bin 0
    that comes from exactly horizontal gradients (gy == 0), on the same scale. A mirror
    image's HOG is the cells mirrored and bin b -> 8 - b, except those gradients, which
    stay in bin 0 (``convergent.data.checks.embedding.mirror_features``).
    """
    m = len(g32)
    gy, gx = np.gradient(g32.astype(np.float32), axis=(1, 2))
    mag = hypot32(gx, gy)
    b = orientation_bins(gx, gy)
    cell = HASH_PX // HOG_CELLS
    cy = (np.arange(HASH_PX) // cell)[:, None]
    cx = (np.arange(HASH_PX) // cell)[None, :]
    idx = (cy * HOG_CELLS + cx) * HOG_BINS + b + (np.arange(m) * HOG_DIM)[:, None, None]
    v = np.bincount(idx.ravel(), weights=np.sqrt(mag).ravel(),
                    minlength=m * HOG_DIM).reshape(m, HOG_DIM)
    n = _norms(v)
    big = n > 1e-9
    scale = np.where(big, n, 1)[:, None]
    out = (v / scale).astype(np.float32)
    if not flat:
        return out
    level = (gy == 0) & (gx != 0)
    cells = (cy * HOG_CELLS + cx) + (np.arange(m) * HOG_CELLS * HOG_CELLS)[:, None, None]
    h0 = np.bincount(cells[level], weights=np.sqrt(mag)[level],
                     minlength=m * HOG_CELLS * HOG_CELLS).reshape(m, -1)
    return out, (h0 / scale).astype(np.float32)


def shard_facts(root: str, relpaths: list[str]) -> dict[str, Any]:
    """Facts of a shard of files under ``root``, as columns; each file is read once.

    A pure function of its arguments (reads only; never writes), so shards can be mapped
    by a process pool, Ray Data or Dask. Returns ``{column: np.ndarray}`` plus the
    (n, width) matrices of ``MATRICES``.
    """
    n = len(relpaths)
    sizes = np.zeros(n, np.int64)
    errors: dict[int, str] = {}
    decoded: list[int] = []
    images: list[np.ndarray] = []
    meta: list[Meta] = []
    for i, rel in enumerate(relpaths):
        try:
            with open(os.path.join(root, rel), "rb") as fh:
                data = fh.read()
        except OSError as e:
            errors[i] = f"unreadable: {e.strerror or e}"
            continue
        sizes[i] = len(data)
        d = decode(data)
        if isinstance(d, str):
            errors[i] = d
            continue
        decoded.append(i)
        images.append(d[0])
        meta.append(d[1])
    out = empty_columns(n)
    facts = pixel_facts(images, meta)
    rows = np.asarray(decoded, np.int64)
    for k, v in facts.items():
        out[k][rows] = v
    for i, e in errors.items():
        out["error"][i] = e
    out["size_bytes"] = sizes
    return out


def columns(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows of facts (dicts, as ``facts_from_pixels`` returns) to columns."""
    out: dict[str, Any] = {}
    for k, t in COLUMNS.items():
        out[k] = np.array([r[k] for r in rows], dtype=t) if rows else np.zeros(0, t)
    for k, (w, t) in MATRICES.items():
        out[k] = (np.stack([r[k] for r in rows]) if rows else np.zeros((0, w), t)).astype(t)
    return out


def relpath(p: Path, root: Path) -> str:
    return p.relative_to(root).as_posix()
