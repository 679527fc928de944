"""Per-image shape descriptors of the label model and the outlier score, pure functions
of the table's standardized 32x32 gray thumbnail (``g32``): the moment-normalized image
(Casey 1970) and the radially averaged power spectrum (Torralba & Oliva 2003). The
per-image pass computes them in its workers (``features.pixel_facts``); the checks in
``convergent.data.checks.embedding`` combine them with dataset-relative scaling.

Example:
    >>> import numpy as np
    >>> spectrum(np.zeros((2, 1024), np.float16)).shape
    (2, 7)
"""

from __future__ import annotations

import numpy as np

# Log-spaced radial frequency bands of the 32x32 spectrum, from 1/32 cycle per pixel (one
# period across the image) to the corner of the spectrum: one band per octave and a half
# below Nyquist, 7 bands (DC left out: the gray copy is standardized).
SPECTRUM_BANDS = 7
# Images per FFT batch: 4,096 32x32 complex spectra are 34 MB, so the spectrum never
# holds a copy of the whole table (100k images would be 0.8 GB at once).
SPECTRUM_CHUNK = 4096
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
_EDGE = 32  # side of the table's gray thumbnail (``g32``)


def border_pixels(g: np.ndarray) -> np.ndarray:
    """(m, 4 * side - 4) the pixels on the frame of each (m, side, side) image, each once."""
    return np.concatenate([g[:, 0], g[:, -1], g[:, 1:-1, 0], g[:, 1:-1, -1]], axis=1)


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
        # einsum, not BLAS: a one-row product runs as gemv, whose sums differ in the last
        # bit from the rows of a larger product; an image's values must not depend on
        # the batch it is computed in
        s = np.einsum("ij,jk->ik", power, basis.astype(np.float32))
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
    border = border_pixels(g)
    level = border.mean(axis=1)
    g = np.where((level > 0)[:, None, None], -g, g)
    level = -np.abs(level)
    w = np.maximum(g - (level + margin)[:, None, None], 0.0)
    mass = w.sum(axis=(1, 2))
    has = mass > 1e-6
    mass = np.where(has, mass, 1.0)
    ax = np.arange(e, dtype=np.float32)
    wy, wx = w.sum(axis=2) / mass[:, None], w.sum(axis=1) / mass[:, None]  # marginals
    cy, cx = np.einsum("ij,j->i", wy, ax), np.einsum("ij,j->i", wx, ax)  # as in spectrum
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


def stroke_width(gn: np.ndarray) -> np.ndarray:
    """Mean half-width of the foreground of moment-normalized images, in pixels of the
    32x32 frame: the mean distance of a foreground pixel to the background (1 at the edge).

    What *kind* of picture it is, as the spectrum says it another way: pen strokes (digits,
    letters) are thin, about 1.5 pixels here whatever their shape; filled shapes (animal
    silhouettes) about 2.8 (measured on the development folders of
    ``benchmarks/perf/scan_outlier_label_dev.py``). The foreground is what lies above half
    the way from the border level to the brightest pixel (the half-maximum, a first-
    principles cut, as in a full width at half maximum). The normalization fixes the
    object's spread, so the width is relative to the object's size. Distances are
    octagonal (4- and 8-neighbour erosions in turn; Rosenfeld & Pfaltz 1968), within ~8 %
    of Euclidean: the log widths of 4,096 digits correlate at 0.997 with SciPy's exact
    transform, at a ninth of its time (0.08 s vs 0.73 s).

    Args:
        gn: (m, 32, 32) moment-normalized images (:func:`moment_normalized`: border dark).

    Returns:
        (m,) float32; 0 for a blank image.

    Example:
        >>> g = np.zeros((2, 32, 32), np.float32)
        >>> g[0, 10:22, 15:17] = 1.0   # a 2-pixel stroke
        >>> g[1, 8:24, 8:24] = 1.0     # a filled square
        >>> w = stroke_width(g)
        >>> bool(w[0] < 1.5 < 3.0 < w[1])
        True
    """
    g = np.asarray(gn, dtype=np.float32).reshape(-1, _EDGE, _EDGE)
    border = border_pixels(g)
    level = border.mean(axis=1)
    top = g.reshape(len(g), -1).max(axis=1)
    fg = g > (level + 0.5 * (top - level))[:, None, None]
    fg &= (top > level + 1e-6)[:, None, None]  # a blank image has no foreground
    area = fg.sum(axis=(1, 2))
    total = area.astype(np.float64)  # every foreground pixel counts 1, then 1 per erosion
    cur = np.pad(fg, ((0, 0), (1, 1), (1, 1)))  # background around every image
    step = 0
    while cur.any():
        inner = cur[:, 1:-1, 1:-1] & cur[:, :-2, 1:-1] & cur[:, 2:, 1:-1] \
            & cur[:, 1:-1, :-2] & cur[:, 1:-1, 2:]
        if step % 2:
            inner &= cur[:, :-2, :-2] & cur[:, :-2, 2:] & cur[:, 2:, :-2] & cur[:, 2:, 2:]
        cur = np.pad(inner, ((0, 0), (1, 1), (1, 1)))
        total += inner.sum(axis=(1, 2))
        step += 1
    return (total / np.maximum(area, 1)).astype(np.float32)
