"""File-level checks: undecodable files, class counts, odd sizes, grayscale stored as RGB."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from convergent.data.arrays import MIN_PER_CLASS, count_findings
from convergent.data.checks import DATA_CHECKS, MAX_LISTED, Context
from convergent.data.features import GRAY_DIFF
from convergent.findings import Code, Finding, Severity
from convergent.remedies.catalog import remedies_for

# Aspect ratio further than 1.5x from the dataset's median: resizing to one input size
# then squashes or stretches the object by a third or more (first principles; Keras
# image_dataset_from_directory resizes without keeping the aspect unless asked).
ASPECT_MAX = 1.5
# Area further than 4x from the median (each side ~2x): upscaling invents detail,
# downscaling by > 2x per side drops it (first principles).
AREA_MAX = 4.0


@DATA_CHECKS.register("corrupt", codes=[Code.DATA_CORRUPT])
def corrupt(ctx: Context, params: dict[str, Any]) -> list[Finding]:
    df = ctx.df
    bad = np.flatnonzero(~ctx.ok)
    if not bad.size:
        return []
    errors = df["error"].to_numpy()[bad]
    kinds: dict[str, int] = {}
    for e in errors:
        k = str(e).split(":")[0]
        kinds[k] = kinds.get(k, 0) + 1
    return [Finding(
        Code.DATA_CORRUPT, Severity.ERROR, 1.0,
        f"{bad.size} file(s) cannot be decoded",
        "Some files with an image extension are empty, truncated or not images at all. "
        "Keras's image loaders stop with a decode error when they reach one.",
        {"files": ctx.rel(bad[:MAX_LISTED]), "n": int(bad.size), "kinds": kinds,
         "errors": {r: str(e) for r, e in zip(ctx.rel(bad[:50]), errors[:50], strict=True)},
         "threshold": "any file that fails to decode"},
        remedies_for(Code.DATA_CORRUPT, "drop_corrupt"))]


@DATA_CHECKS.register("counts", codes=[Code.DATA_EMPTY_CLASS, Code.DATA_TOO_FEW,
                                       Code.DATA_IMBALANCE])
def counts(ctx: Context, params: dict[str, Any]) -> list[Finding]:
    df = ctx.df[ctx.ok]
    splits = ctx.table.classes or {s: [] for s in df["split"].unique()}
    main = "train" if "train" in splits else next(iter(splits), "train")
    per_split: dict[str, dict[str, int]] = {}
    for split, names in splits.items():
        sub = df[df["split"] == split]["cls"].value_counts()
        names = list(names) or list(sub.index)
        per_split[split] = {c: int(sub.get(c, 0)) for c in names}
    ctx.cache["class_counts"] = per_split
    main_counts = per_split.get(main, {})
    if ctx.table.source == "arrays":
        return []  # arrays: counts are judged by arrays.check_arrays
    files = {c: ctx.df.loc[(ctx.df["split"] == main) & (ctx.df["cls"] == c), "rel"].tolist()
             for c in main_counts if 0 < main_counts[c] < MIN_PER_CLASS}
    out = count_findings(main_counts, where=f"split {main!r}" if len(splits) > 1 else
                         "the folder", files=files)
    # classes that training has but a validation/test split lacks
    for split, c in per_split.items():
        if split == main:
            continue
        missing = sorted(k for k, n in main_counts.items() if n > 0 and c.get(k, 0) == 0)
        if missing:
            out.append(Finding(
                Code.DATA_EMPTY_CLASS, Severity.WARNING, 0.9,
                f"{len(missing)} class(es) have no images in split {split!r}",
                f"Split {split!r} has no usable images of some classes that training has, "
                "so those classes are never evaluated.",
                {"classes": missing, "split": split, "counts": c,
                 "threshold": {"min_samples": 1}},
                remedies_for(Code.DATA_EMPTY_CLASS)))
    return out


@DATA_CHECKS.register("odd_size", codes=[Code.DATA_ODD_SIZE], aspect_max=ASPECT_MAX,
                      area_max=AREA_MAX)
def odd_size(ctx: Context, params: dict[str, Any]) -> list[Finding]:
    rows = np.flatnonzero(ctx.ok)
    if rows.size < 3:
        return []
    w = ctx.df["width"].to_numpy(np.float64)[rows]
    h = ctx.df["height"].to_numpy(np.float64)[rows]
    aspect = np.log(w / h)
    area = np.log(w * h)
    da = np.abs(aspect - np.median(aspect))
    dr = np.abs(area - np.median(area))
    odd = (da > math.log(params["aspect_max"])) | (dr > math.log(params["area_max"]))
    if not odd.any():
        return []
    med_w, med_h = int(np.median(w)), int(np.median(h))
    sel = rows[odd]
    sizes = {r: f"{int(a)}x{int(b)}" for r, a, b in
             zip(ctx.rel(sel[:50]), w[odd][:50], h[odd][:50], strict=True)}
    return [Finding(
        Code.DATA_ODD_SIZE, Severity.WARNING, 0.8,
        f"{sel.size} image(s) far from the typical size {med_w}x{med_h}",
        "Some images have a very different size or aspect ratio from the rest; resizing "
        "them to one input size distorts or blurs their content.",
        {"files": ctx.rel(sel[:MAX_LISTED]), "n": int(sel.size), "sizes": sizes,
         "median_size": f"{med_w}x{med_h}",
         "threshold": {"aspect_ratio_factor": params["aspect_max"],
                       "area_factor": params["area_max"]}},
        remedies_for(Code.DATA_ODD_SIZE, "resize_consistently"))]


@DATA_CHECKS.register("grayscale", codes=[Code.DATA_GRAYSCALE_AS_RGB], gray_diff=GRAY_DIFF)
def grayscale(ctx: Context, params: dict[str, Any]) -> list[Finding]:
    rows = np.flatnonzero(ctx.ok)
    if not rows.size:
        return []
    bands = ctx.df["bands"].to_numpy()[rows]
    diff = ctx.df["chan_diff"].to_numpy(np.float64)[rows]
    gray = (bands == 1) | (diff < params["gray_diff"])
    frac = float(gray.mean())
    if frac == 0.0:
        return []
    if frac < 0.5:  # mostly colour: the gray ones are the odd ones out
        sel = rows[gray]
        title = f"{sel.size} grayscale image(s) among colour images"
        expl = ("Most images are in colour but these are grayscale (one channel, or three "
                "equal channels): the model sees them without colour cues it relies on.")
        sev = Severity.WARNING
    else:
        as_rgb = gray & (bands >= 3)
        if not as_rgb.any():
            return []  # a grayscale dataset stored as grayscale: fine
        sel = rows[as_rgb]
        title = f"{sel.size} grayscale image(s) stored as RGB"
        expl = ("These images hold three identical channels: the model gets three copies of "
                "the same values. Load them with one channel.")
        sev = Severity.INFO
    return [Finding(
        Code.DATA_GRAYSCALE_AS_RGB, sev, 0.9, title, expl,
        {"files": ctx.rel(sel[:MAX_LISTED]), "n": int(sel.size),
         "gray_fraction": round(frac, 4),
         "threshold": {"channel_diff_max": params["gray_diff"]}},
        remedies_for(Code.DATA_GRAYSCALE_AS_RGB, "single_channel"))]
