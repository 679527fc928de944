"""Bilinear resizing of a stack of same-size float images, as Pillow resizes one "F" image.

``resize(x, width, height)`` maps ``(m, h, w)`` float32 to ``(m, height, width)`` with
Pillow's separable BILINEAR resampling (``Image.resize(..., Image.BILINEAR)`` on mode
"F"): triangle filter widened by the scale when reducing (antialiased), coefficients
normalised to sum 1, each pass summed in float64 tap by tap and stored as float32,
horizontal pass first. One call handles a whole shard of images instead of a Pillow
round trip (array -> image -> array) per image and size, which cost ~60 us each.

Pillow before 13 gives bit-identical results. Pillow 13 runs the vertical pass first for
some tall inputs (about a third of the shapes whose height exceeds the output's), which
moves ~1 in 10 output values by one float32 ulp; the fixed order here is the classic one.

Example:
    >>> import numpy as np
    >>> resize(np.ones((2, 5, 7), np.float32), 3, 2).shape
    (2, 2, 3)
"""

from __future__ import annotations

from functools import lru_cache
from itertools import pairwise

import numpy as np


@lru_cache(maxsize=512)
def taps(n_in: int, n_out: int, lo: float = 0.0, hi: float | None = None
         ) -> tuple[np.ndarray, np.ndarray]:
    """Source indices and weights (n_out, k) of Pillow's bilinear filter over [lo, hi).

    Zero-weight padding taps point at index 0; adding 0.0 leaves a float sum unchanged.
    """
    # Pillow holds the box in C floats: round it to float32 first
    lo32 = np.float32(lo)
    hi32 = np.float32(n_in if hi is None else hi)
    lo = float(lo32)
    scale = float(hi32 - lo32) / n_out
    filterscale = max(scale, 1.0)
    support = 1.0 * filterscale  # the bilinear (triangle) filter's support is 1
    k = int(np.ceil(support)) * 2 + 1
    inv = 1.0 / filterscale
    idx = np.zeros((n_out, k), np.int64)
    w = np.zeros((n_out, k), np.float64)
    for xx in range(n_out):
        center = lo + (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), n_in) - xmin
        ws = []
        for x in range(xmax):
            t = abs((x + xmin - center + 0.5) * inv)
            ws.append(1.0 - t if t < 1.0 else 0.0)
        total = 0.0
        for v in ws:  # summed in order, as Pillow does
            total += v
        idx[xx, :xmax] = np.arange(xmin, xmin + xmax)
        w[xx, :xmax] = [v / total for v in ws] if total != 0.0 else ws
    idx.setflags(write=False)
    w.setflags(write=False)
    return idx, w


# A resampling whose taps fall into at most this many regular runs (outputs o0, o0 + P,
# ... reading inputs i0, i0 + Q, ... with the same weight) is computed on strided views,
# one multiply-add per run and tap, instead of gathering every tap's rows: measured on
# (n_in, 32, 256) float64 stacks, 2x faster for 32 -> 64, 64 -> 32 / 16, 128 / 256 -> 64
# with bit-identical results; irregular ratios (26 -> 64, 51 -> 64) form one run per
# output and keep the gather.
MAX_RUNS = 16

Run = tuple[int, int, int, int, tuple[tuple[int, float], ...]]  # o0, count, P, Q, taps


@lru_cache(maxsize=512)
def runs(n_in: int, n_out: int, lo: float = 0.0, hi: float | None = None
         ) -> tuple[Run, ...] | None:
    """The taps of :func:`taps` as regular runs over strided outputs (output period P of
    1-4), or None when they need more than ``MAX_RUNS`` runs. Each run lists the
    non-zero taps of its first output as (input index, weight), in Pillow's order."""
    idx, w = taps(n_in, n_out, lo, hi)
    nz = w != 0
    best: list[Run] | None = None
    for period in range(1, 5):
        found: list[Run] = []
        for r in range(period):
            outs = list(range(r, n_out, period))
            s = 0
            while s < len(outs):
                o0 = outs[s]
                ts = np.flatnonzero(nz[o0])
                e, step = s + 1, 0
                while e < len(outs):
                    o = outs[e]
                    if not (np.array_equal(np.flatnonzero(nz[o]), ts)
                            and np.array_equal(w[o, ts], w[o0, ts])):
                        break
                    d = idx[o, ts] - idx[outs[e - 1], ts]
                    if d[0] <= 0 or not (d == d[0]).all() or (step and d[0] != step):
                        break
                    step = int(d[0])
                    e += 1
                found.append((o0, e - s, period, step or 1,
                              tuple((int(idx[o0, t]), float(w[o0, t])) for t in ts)))
                s = e
        if best is None or len(found) < len(best):
            best = found
    return tuple(best) if best is not None and len(best) <= MAX_RUNS else None


@lru_cache(maxsize=512)
def column_runs(n_in: int, n_out: int, lo: float = 0.0, hi: float | None = None
                ) -> tuple[tuple[int, tuple[tuple[int, int, int], ...]], ...] | None:
    """Each tap column of :func:`taps` (all-zero padding columns left out, as the gather
    does) as runs of consecutive outputs ``o0..o1`` reading consecutive inputs from
    ``i0``: ``((column, ((o0, o1, i0), ...)), ...)``, or None above ``MAX_RUNS`` runs.

    For crops (``lo``/``hi`` a box) the ratio is irregular but a tap's input index
    still steps by one over long stretches: a zoom of 1.05-1.15 on 32 px forms 2-3 runs
    per column."""
    idx, w = taps(n_in, n_out, lo, hi)
    out = []
    total = 0
    for t in range(idx.shape[1]):
        if t and not w[:, t].any():
            continue
        cuts = np.flatnonzero(np.diff(idx[:, t]) != 1) + 1
        bounds = np.concatenate([[0], cuts, [n_out]])
        col = tuple((int(a), int(b), int(idx[a, t])) for a, b in pairwise(bounds))
        total += len(col)
        out.append((t, col))
    return tuple(out) if total <= MAX_RUNS else None


def _first_axis(x: np.ndarray, n_out: int, lo: float = 0.0, hi: float | None = None
                ) -> np.ndarray:
    """Resample axis 0 of float64 ``x`` to ``n_out`` values; float32 result.

    Axis 0 so that every tap reads whole contiguous slabs (fancy indexing on the last
    axis was 10x slower). Each output is its taps' products summed in Pillow's order
    (zero-weight padding taps skipped, as Pillow loops over the real taps only).
    """
    plan = runs(x.shape[0], n_out, lo, hi)
    if plan is not None:
        acc = np.empty((n_out,) + x.shape[1:], np.float64)
        tmp = np.empty_like(acc)
        for o0, count, period, step, tap_list in plan:
            dst = acc[o0:o0 + period * (count - 1) + 1:period]
            for k, (i0, wt) in enumerate(tap_list):
                src = x[i0:i0 + step * (count - 1) + 1:step]
                if k == 0:
                    np.multiply(src, wt, out=dst)
                else:
                    np.multiply(src, wt, out=tmp[:count])
                    dst += tmp[:count]
        return acc.astype(np.float32)
    idx, w = taps(x.shape[0], n_out, lo, hi)
    shape = (n_out,) + (1,) * (x.ndim - 1)
    cols = column_runs(x.shape[0], n_out, lo, hi)
    if cols is not None:  # the gather's products and sums, on strided views
        acc = np.empty((n_out,) + x.shape[1:], np.float64)
        tmp = np.empty_like(acc)
        for t, col in cols:
            for o0, o1, i0 in col:
                wt = w[o0:o1, t].reshape((o1 - o0,) + shape[1:])
                if t == 0:
                    np.multiply(x[i0:i0 + o1 - o0], wt, out=acc[o0:o1])
                else:
                    np.multiply(x[i0:i0 + o1 - o0], wt, out=tmp[o0:o1])
                    acc[o0:o1] += tmp[o0:o1]
        return acc.astype(np.float32)
    # Pillow starts from 0.0 and adds tap by tap; 0.0 + a == a, so start from tap 0.
    # take(out=) and in-place products: no temporaries (3x faster on 512 images)
    acc = np.take(x, idx[:, 0], axis=0)
    acc *= w[:, 0].reshape(shape)
    tmp = np.empty_like(acc)
    for t in range(1, idx.shape[1]):
        if not w[:, t].any():  # a padding column (Pillow loops over the real taps only)
            continue
        np.take(x, idx[:, t], axis=0, out=tmp)
        tmp *= w[:, t].reshape(shape)
        acc += tmp
    return acc.astype(np.float32)


def resize(x: np.ndarray, width: int, height: int,
           box: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """Resize the last two axes of ``x`` (..., h, w) to (..., height, width), float32.

    Args:
        x: float images, stacked on the leading axes.
        width, height: output size, as Pillow's ``(width, height)``.
        box: the source region ``(left, top, right, bottom)`` in pixels (Pillow's ``box``);
            the whole image when None.
    """
    x = np.asarray(x, np.float32)
    h, w = x.shape[-2:]
    left, top, right, bottom = box if box is not None else (0.0, 0.0, float(w), float(h))
    need_h = width != w or left != 0 or right != width
    need_v = height != h or top != 0 or bottom != height
    if not (need_h or need_v):
        return x.copy()
    # work on (w, h, ...) so each pass resamples axis 0; float32 between the passes, as
    # Pillow stores its intermediate image
    y = np.moveaxis(x, (-1, -2), (0, 1))  # (w, h, ...)
    if need_h:
        y = _first_axis(np.ascontiguousarray(y, np.float64), width, left, right)
    y = np.swapaxes(y, 0, 1)  # (h, width, ...)
    if need_v:
        y = _first_axis(np.ascontiguousarray(y, np.float64), height, top, bottom)
    out = np.moveaxis(y, (0, 1), (-2, -1))  # (..., height, width)
    return np.ascontiguousarray(out, np.float32)


def resize_many(x: np.ndarray, sizes: list[tuple[int, int]]) -> list[np.ndarray]:
    """``[resize(x, w, h) for w, h in sizes]``, transposing and widening ``x`` once for all
    the horizontal passes (that copy was a quarter of the resizing time)."""
    x = np.asarray(x, np.float32)
    h, w = x.shape[-2:]
    wide = None
    out = []
    for width, height in sizes:
        if width == w:
            out.append(resize(x, width, height))
            continue
        if wide is None:
            wide = np.ascontiguousarray(np.moveaxis(x, (-1, -2), (0, 1)), np.float64)
        y = np.swapaxes(_first_axis(wide, width), 0, 1)  # (h, width, ...)
        if height != h:
            y = _first_axis(np.ascontiguousarray(y, np.float64), height)
        out.append(np.ascontiguousarray(np.moveaxis(y, (0, 1), (-2, -1)), np.float32))
    return out
