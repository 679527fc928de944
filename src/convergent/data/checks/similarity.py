"""Checks on how images relate: duplicates, leakage, low variety.

All of them use neighbour indexes (scikit-learn), never an N x N matrix. Outliers and
label noise live in ``outliers.py`` and ``labels.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convergent.data.checks import (
    DATA_CHECKS,
    MAX_LISTED,
    MINOR_FRACTION,
    Context,
    fraction_severity,
)
from convergent.findings import Code, Finding, Severity
from convergent.remedies.catalog import remedies_for

# A class is "low variety" when most of its images (over half) have a near copy in the
# class: the class teaches a handful of pictures, not a concept (first principles).
LOW_VARIETY_FRACTION = 0.5
MIN_CLASS = 10  # classes smaller than this are not judged for variety


def _pairs_between(ctx: Context, same_split: bool) -> Any:
    pairs = ctx.pairs()
    if pairs.empty:
        return pairs
    split = ctx.df["split"].to_numpy()
    same = split[pairs["i"].to_numpy()] == split[pairs["j"].to_numpy()]
    return pairs[same] if same_split else pairs[~same]


@DATA_CHECKS.register("duplicates", codes=[Code.DATA_DUPLICATES])
def duplicates(ctx: Context, params: dict[str, Any]) -> list[Finding]:
    p = _pairs_between(ctx, same_split=True)
    if p.empty:
        return []
    cls = ctx.df["cls"].to_numpy()
    i, j = p["i"].to_numpy(), p["j"].to_numpy()
    cross = int((cls[i] != cls[j]).sum())
    pairs = [sorted(x) for x in zip(ctx.rel(i), ctx.rel(j), strict=True)]
    files = sorted({f for x in pairs for f in x})
    exact = int((p["kind"] == "exact").sum())
    # what duplicates cost is their extra copies (files minus one per group): the share
    # MINOR_FRACTION reasons about; a pair with two labels contradicts itself as well
    extra = len(files) - _groups(i, j)
    return [Finding(
        Code.DATA_DUPLICATES, fraction_severity(extra + cross, int(ctx.ok.sum())), 0.9,
        f"{len(pairs)} duplicate pair(s) within a split ({exact} exact)",
        "The same picture appears more than once (exactly, or re-encoded, resized, "
        "cropped or brightened). Duplicates weigh some images more than others"
        + (f"; {cross} pair(s) even carry different labels." if cross else "."),
        {"pairs": pairs[:MAX_LISTED], "n_pairs": len(pairs), "files": files[:MAX_LISTED],
         "exact": exact, "different_labels": cross, "extra_copies": extra,
         "threshold": _thresholds()},
        remedies_for(Code.DATA_DUPLICATES, "dedupe"))]


def _groups(i: np.ndarray, j: np.ndarray) -> int:
    """Connected groups among the images in pairs (i[k], j[k])."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    nodes, inv = np.unique(np.concatenate([i, j]), return_inverse=True)
    a, b = inv[: len(i)], inv[len(i):]
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(len(nodes), len(nodes)))
    return int(connected_components(graph, directed=False)[0])


def _thresholds() -> dict[str, Any]:
    from convergent.data import near

    return {"md5_equal": True, "cos16_min": near.COS_NEAR,
            "aligned_corr_min": near.ALIGN_NEAR, "chroma_max": near.CHROMA_MAX}


@DATA_CHECKS.register("leakage", codes=[Code.DATA_LEAKAGE])
def leakage(ctx: Context, params: dict[str, Any]) -> list[Finding]:
    p = _pairs_between(ctx, same_split=False)
    if p.empty:
        return []
    split = ctx.df["split"].to_numpy()
    order = {"train": 0, "val": 1, "test": 2}
    pairs = []
    for a, b in zip(p["i"].to_numpy(), p["j"].to_numpy(), strict=True):
        if order.get(split[a], 9) > order.get(split[b], 9):
            a, b = b, a
        pairs.append(ctx.rel([a, b]))
    pairs.sort()
    files = sorted({x[1] for x in pairs})
    return [Finding(
        Code.DATA_LEAKAGE, _leak_severity(len(files), _held_out(ctx)), 0.95,
        f"{len(pairs)} image(s) appear in more than one split",
        "The same or nearly the same image is in training and in validation/test, so "
        "validation accuracy overstates what the model learned.",
        {"pairs": pairs[:MAX_LISTED], "n_pairs": len(pairs), "files": files[:MAX_LISTED],
         "threshold": _thresholds()},
        remedies_for(Code.DATA_LEAKAGE, "deleak_split"))]


# When at least half of the held-out images are copies of training images, validation
# measures memory, not learning (e.g. a validation set cut from the training set).
LEAK_MAJORITY = 0.5


# Leaked images overstate validation accuracy by at most their share. Below one standard
# error of the accuracy estimate itself, 0.5 / sqrt(n) for a binomial proportion at its
# widest (p = 0.5), the overstatement is inside the noise of the validation set
# (first principles): 2.5 % of 400 images, 1.1 % of 2,000.
BINOMIAL_SE_MAX = 0.5


def _leak_severity(n_leaked: int, n_held_out: int) -> Severity:
    """Info up to MINOR_FRACTION of the held-out images or one standard error of their
    accuracy, whichever is larger; warning above; error from LEAK_MAJORITY on.

    Example:
        >>> [_leak_severity(k, 400).value for k in (10, 11, 200)]
        ['info', 'warning', 'error']
    """
    if n_held_out and n_leaked / n_held_out >= LEAK_MAJORITY:
        return Severity.ERROR
    noise = BINOMIAL_SE_MAX / np.sqrt(n_held_out) if n_held_out else 0.0
    return fraction_severity(n_leaked, n_held_out, minor=max(MINOR_FRACTION, noise))


def _held_out(ctx: Context) -> int:
    """Decodable images outside the training split (validation and test)."""
    return int((ctx.ok & (ctx.df["split"].to_numpy() != "train")).sum())


@DATA_CHECKS.register("low_variety", codes=[Code.DATA_LOW_VARIETY],
                      fraction=LOW_VARIETY_FRACTION)
def low_variety(ctx: Context, params: dict[str, Any]) -> list[Finding]:
    p = ctx.pairs()
    if p.empty:
        return []
    df = ctx.df
    cls, split = df["cls"].to_numpy(), df["split"].to_numpy()
    i, j = p["i"].to_numpy(), p["j"].to_numpy()
    same = (cls[i] == cls[j]) & (split[i] == split[j])
    in_pair = np.zeros(len(df), bool)
    in_pair[i[same]] = True
    in_pair[j[same]] = True
    flagged: dict[str, float] = {}
    files: list[str] = []
    ok = ctx.ok
    for (s, c), rows in df[ok].groupby(["split", "cls"]).groups.items():
        rows = np.asarray(rows)
        if len(rows) < MIN_CLASS:
            continue
        frac = float(in_pair[rows].mean())
        if frac > params["fraction"]:
            flagged[c if s in ("train", "") else f"{s}/{c}"] = round(frac, 3)
            files += ctx.rel(rows[in_pair[rows]])
    if not flagged:
        return []
    return [Finding(
        Code.DATA_LOW_VARIETY, Severity.WARNING, 0.85,
        f"{len(flagged)} class(es) made mostly of near-identical images",
        "Most images of these classes are near copies of a few pictures: the model "
        "memorises them and will not generalise to new images of the class.",
        {"classes": sorted(flagged), "near_copy_fraction": flagged,
         "files": files[:MAX_LISTED],
         "threshold": {"near_copy_fraction_max": params["fraction"]}},
        remedies_for(Code.DATA_LOW_VARIETY, "augment"))]
