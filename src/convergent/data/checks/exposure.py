"""Exposure and sharpness: dark, bright, low-contrast and blurry images.

Each check needs two things at once: the image is an outlier *relative to this dataset*
(robust z-score beyond 3.5, Iglewicz & Hoaglin 1993), so a dataset of black-background
digits is not "dark" as a whole, and it is past an *absolute* floor, so a tight dataset
does not flag images that are only slightly off.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convergent.data.checks import (
    DATA_CHECKS,
    MAX_LISTED,
    ROBUST_Z,
    Context,
    fraction_severity,
    robust_z,
)
from convergent.findings import Code, Finding
from convergent.remedies.catalog import remedies_for

# Mean luminance (sRGB-encoded, 0-1). Middle grey (18 % reflectance) encodes to ~0.46;
# 0.2 encoded is ~3.3 % linear, 2.5 stops under it; 0.8 encoded is ~60 % linear, 1.7
# stops over (first principles, sRGB transfer curve).
DARK_MAX = 0.2
BRIGHT_MIN = 0.8
# Under-exposure darkens the highlights too: white exposed 2.5 stops under (the DARK_MAX
# reasoning) is 1/5.7 linear, 0.46 encoded. An image whose brightest 1 % still reaches
# 0.5 has well-exposed content that is merely small (a thin digit on black, a near-empty
# shape), which is not an exposure fault (first principles, sRGB transfer curve).
DARK_P99_MAX = 0.5
# Contrast = max - min of the 16x16 area-averaged luminance (noise averaged out). Below
# 0.15 of full scale (38 of 255 levels) shapes are faint (first principles). RMS contrast
# (std) was tried first and rejected: on healthy generated folders images with a small
# foreground have std 0.014-0.04 (scan_healthy_false_alarms.py).
LOW_CONTRAST_MAX = 0.15
# Floor for the MAD so a very uniform dataset does not turn tiny differences into large z.
LOG_MAD_FLOOR = 0.05  # 5 % in log space (contrast, blur)
# Blur: edge steepness (features.blur_score) must also be below half the dataset median.
# A sharp step resampled to 64 px rises over ~2 px (slope ~0.5 of the step per px); a
# Gaussian blur of sigma 1 px at 32 px (2 px at 64) gives slope 1/(2 sqrt(2 pi)) = 0.2,
# i.e. 0.4x: half the median catches blur from about sigma = 1 px of a 32 px image
# (first principles).
BLUR_RATIO_MAX = 0.5
# Blur's robust-z cut-off is stricter than 3.5: edge steepness is left-skewed on healthy
# images (small or thin shapes), and healthy generated folders had z down to -5.6; at
# -4.5 they gave 4 false alarms in 4,200 images (benchmarks/perf/
# scan_healthy_false_alarms.py), at -3.5 eleven.
BLUR_Z = 4.5


def _finding(ctx: Context, code: Code, rows: np.ndarray, values: np.ndarray, title: str,
             expl: str, threshold: dict[str, Any], stat: str) -> list[Finding]:
    if not rows.size:
        return []
    order = np.argsort(values)
    rows, values = rows[order], values[order]
    return [Finding(
        code, fraction_severity(rows.size, int(ctx.ok.sum())), 0.85,
        title.format(n=rows.size), expl,
        {"files": ctx.rel(rows[:MAX_LISTED]), "n": int(rows.size),
         "values": {r: round(float(v), 4) for r, v in zip(ctx.rel(rows[:50]), values[:50],
                                                          strict=True)},
         "statistic": stat,
         "dataset_median": round(float(np.median(ctx.df[stat].to_numpy()[ctx.ok])), 4),
         "threshold": threshold},
        remedies_for(code, "review_images"))]


def quality_rows(ctx: Context) -> np.ndarray:
    """Rows reported dark, bright, low-contrast or blurry by these checks (they run before
    the outlier and label checks, which leave those images to the quality findings)."""
    flags = ctx.cache.get("exposure", {})
    parts = [flags.get("dark", []), flags.get("bright", []), ctx.cache.get("low_contrast", []),
             ctx.cache.get("blurry", [])]
    return np.concatenate([np.asarray(p, dtype=np.int64) for p in parts])


def exposure_flags(ctx: Context) -> dict[str, np.ndarray]:
    """Row numbers flagged dark / bright (shared: low contrast skips them)."""
    if "exposure" in ctx.cache:
        return ctx.cache["exposure"]
    rows = np.flatnonzero(ctx.ok)
    b = np.clip(ctx.df["bright"].to_numpy(np.float64)[rows], 1e-3, 1 - 1e-3)
    p99 = ctx.df["p99"].to_numpy(np.float64)[rows]
    # log space: perceived brightness is roughly logarithmic (Weber-Fechner), so a dark
    # image is judged by its factor below the typical brightness, a bright one by the
    # factor its distance to white shrank
    z_dark = robust_z(np.log(b), LOG_MAD_FLOOR)
    z_bright = robust_z(np.log(1.0 - b), LOG_MAD_FLOOR)
    ctx.cache["exposure"] = {
        "dark": rows[(z_dark < -ROBUST_Z) & (b < DARK_MAX) & (p99 < DARK_P99_MAX)],
        "bright": rows[(z_bright < -ROBUST_Z) & (b > BRIGHT_MIN)],
        "rows": rows,
    }
    return ctx.cache["exposure"]


@DATA_CHECKS.register("dark", codes=[Code.DATA_DARK])
def dark(ctx: Context, params: dict[str, Any]) -> list[Finding]:
    sel = exposure_flags(ctx)["dark"]
    return _finding(
        ctx, Code.DATA_DARK, sel, ctx.df["bright"].to_numpy()[sel],
        "{n} image(s) far darker than the rest",
        "These images are much darker than the rest of the dataset: their content sits in "
        "a few gray levels, and the model may learn exposure instead of content.",
        {"mean_luminance_max": DARK_MAX, "p99_luminance_max": DARK_P99_MAX,
         "robust_z_of_log_below": -ROBUST_Z}, "bright")


@DATA_CHECKS.register("bright", codes=[Code.DATA_BRIGHT])
def bright(ctx: Context, params: dict[str, Any]) -> list[Finding]:
    sel = exposure_flags(ctx)["bright"]
    return _finding(
        ctx, Code.DATA_BRIGHT, sel, -ctx.df["bright"].to_numpy()[sel],
        "{n} image(s) far brighter than the rest",
        "These images are washed out compared with the rest of the dataset: detail is "
        "lost in the highlights.",
        {"mean_luminance_min": BRIGHT_MIN, "robust_z_of_log_distance_to_white_below": -ROBUST_Z}, "bright")


@DATA_CHECKS.register("low_contrast", codes=[Code.DATA_LOW_CONTRAST],
                      contrast_max=LOW_CONTRAST_MAX)
def low_contrast(ctx: Context, params: dict[str, Any]) -> list[Finding]:
    flags = exposure_flags(ctx)
    rows = flags["rows"]
    c = ctx.df["range16"].to_numpy(np.float64)[rows]
    z = robust_z(np.log(c + 1e-4), LOG_MAD_FLOOR)
    low = (z < -ROBUST_Z) & (c < params["contrast_max"])
    # dark and bright images have low contrast too; report each under its exposure cause
    low &= ~np.isin(rows, np.concatenate([flags["dark"], flags["bright"]]))
    sel = rows[low]
    ctx.cache["low_contrast"] = sel
    return _finding(
        ctx, Code.DATA_LOW_CONTRAST, sel, ctx.df["range16"].to_numpy()[sel],
        "{n} image(s) with very low contrast",
        "These images are nearly flat: their pixels span a tiny range, so edges and shapes "
        "are hard to see and gradients from them are weak.",
        {"range16_max": params["contrast_max"], "robust_z_below": -ROBUST_Z},
        "range16")


@DATA_CHECKS.register("blurry", codes=[Code.DATA_BLURRY], ratio_max=BLUR_RATIO_MAX,
                      z=BLUR_Z)
def blurry(ctx: Context, params: dict[str, Any]) -> list[Finding]:
    rows = np.flatnonzero(ctx.ok)
    if rows.size < 5:
        return []
    s = ctx.df["blur"].to_numpy(np.float64)[rows]
    ls = np.log(s + 1e-6)
    z = robust_z(ls, LOG_MAD_FLOOR)
    low = (z < -params["z"]) & (s < params["ratio_max"] * np.median(s))
    # sharpness cannot be judged on an image without exposure or contrast
    flags = exposure_flags(ctx)
    low &= ~np.isin(rows, np.concatenate([flags["dark"], flags["bright"],
                                          ctx.cache.get("low_contrast", np.zeros(0, int))]))
    sel = rows[low]
    ctx.cache["blurry"] = sel  # the outlier check leaves these to this finding
    return _finding(
        ctx, Code.DATA_BLURRY, sel, ctx.df["blur"].to_numpy()[sel],
        "{n} image(s) much blurrier than the rest",
        "These images have far less sharp detail than the rest of the dataset (edge "
        "steepness, normalised by contrast, at a fixed 64x64 size).",
        {"sharpness_ratio_to_median_max": params["ratio_max"], "robust_z_below": -params["z"]},
        "blur")
