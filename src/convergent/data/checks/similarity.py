"""Checks on how images relate: duplicates, leakage, low variety, outliers, label noise.

All of them use neighbour indexes (scikit-learn), never an N x N matrix.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from convergent.data.checks import (
    DATA_CHECKS, MAX_LISTED, MINOR_FRACTION, Context, fraction_severity, robust_z)
from convergent.findings import Code, Finding, Severity
from convergent.remedies.catalog import remedies_for

# A class is "low variety" when most of its images (over half) have a near copy in the
# class: the class teaches a handful of pictures, not a concept (first principles).
LOW_VARIETY_FRACTION = 0.5
MIN_CLASS = 10  # classes smaller than this are not judged for variety, outliers, labels
OUTLIER_K = 5  # neighbours for the kNN distance (as in kNN outlier scores, Ramaswamy 2000)
# Outliers: robust z of log kNN distance within the class above this. 3.5 is the
# Iglewicz-Hoaglin cut-off, but kNN distances are right-skewed: on 4,200 healthy generated
# images the largest per-class z was 5.0 (about 20 above 3.5), so the cut-off is 5
# (measured: benchmarks/perf/scan_healthy_false_alarms.py).
OUTLIER_Z = 5.0
# Label noise: out-of-sample class probabilities from a leave-one-out vote of the
# KNN_VOTE nearest neighbours (HOG + gray embedding, PCA to PCA_DIMS when larger), then
# cleanlab's confident learning (Northcutt et al. 2021) with its defaults. Measured on
# generated folders with 5 % flipped labels (scan_label_model.py): kNN was as accurate as
# 5-fold logistic regression and an RBF SVM on these features (0.71-0.86 vs 0.65-0.88) and
# 10-30x faster, and it scales to 100k images with the same index.
KNN_VOTE = 10
PCA_DIMS = 64
# Of cleanlab's issues, keep those whose given label has out-of-sample probability below
# 0.1 (with Laplace smoothing: none of the 10 neighbours shares the label): confident
# learning also lists hard-but-correct images of a weak model; this gate halved false
# alarms at a 5-10 % recall cost in the same measurement.
GIVEN_PROB_MAX = 0.1
# Curated benchmark test sets carry ~3.4 % label errors on average (Northcutt et al. 2021,
# "Pervasive label errors in test sets"), and networks train well through that much: up to
# this fraction the review list is advice.
TYPICAL_LABEL_ERRORS = 0.034


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
    return [Finding(
        Code.DATA_DUPLICATES, fraction_severity(len(files), int(ctx.ok.sum())), 0.9,
        f"{len(pairs)} duplicate pair(s) within a split ({exact} exact)",
        "The same picture appears more than once (exactly, or re-encoded, resized, "
        "cropped or brightened). Duplicates weigh some images more than others"
        + (f"; {cross} pair(s) even carry different labels." if cross else "."),
        {"pairs": pairs[:MAX_LISTED], "n_pairs": len(pairs), "files": files[:MAX_LISTED],
         "exact": exact, "different_labels": cross,
         "threshold": _thresholds()},
        remedies_for(Code.DATA_DUPLICATES, "dedupe"))]


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


def _features(ctx: Context) -> np.ndarray:
    """HOG (polarity-free shape) and the 16x16 gray embedding, equally weighted."""
    if "features" not in ctx.cache:
        t = ctx.table
        ctx.cache["features"] = np.hstack([t.hog, t.emb]).astype(np.float32) / np.sqrt(2)
    return ctx.cache["features"]


@DATA_CHECKS.register("outlier", codes=[Code.DATA_OUTLIER], z=OUTLIER_Z)
def outlier(ctx: Context, params: dict[str, Any]) -> list[Finding]:
    from sklearn.neighbors import NearestNeighbors

    x = _features(ctx)
    df = ctx.df
    flagged: list[tuple[int, float, float]] = []
    for rows in df[ctx.ok].groupby(["split", "cls"]).groups.values():
        rows = np.asarray(rows)
        if len(rows) < MIN_CLASS:
            continue
        k = min(OUTLIER_K + 1, len(rows))
        d, _ = NearestNeighbors(n_neighbors=k).fit(x[rows]).kneighbors(x[rows])
        score = np.log(d[:, 1:].mean(axis=1) + 1e-6)
        z = robust_z(score, 0.05)
        for r, zz, s in zip(rows[z > params["z"]], z[z > params["z"]],
                            score[z > params["z"]], strict=True):
            flagged.append((int(r), float(zz), float(np.exp(s))))
    if not flagged:
        return []
    flagged.sort(key=lambda t: -t[1])
    rows = [r for r, _, _ in flagged]
    return [Finding(
        Code.DATA_OUTLIER, fraction_severity(len(rows), int(ctx.ok.sum())), 0.75,
        f"{len(rows)} image(s) unlike the rest of their class",
        "These images are far from every other image of their class: another kind of "
        "picture, a wrong file, or a rare view that needs more examples.",
        {"files": ctx.rel(rows[:MAX_LISTED]), "n": len(rows),
         "robust_z": {r: round(z, 2) for r, (_, z, _) in zip(ctx.rel(rows[:50]),
                                                              flagged[:50], strict=True)},
         "threshold": {"robust_z_min": params["z"], "k": OUTLIER_K}},
        remedies_for(Code.DATA_OUTLIER, "review_images"))]


def reduced(x: np.ndarray, dims: int = PCA_DIMS, seed: int = 0) -> np.ndarray:
    """PCA to ``dims`` columns when wider (neighbour search cost grows with width)."""
    if x.shape[1] <= dims or len(x) <= dims:
        return x
    from sklearn.decomposition import PCA

    return PCA(dims, random_state=seed).fit_transform(x).astype(np.float32)


def oos_probabilities(x: np.ndarray, y: np.ndarray, k: int = KNN_VOTE) -> np.ndarray:
    """Out-of-sample class probabilities: leave-one-out vote of the k nearest neighbours."""
    from sklearn.neighbors import NearestNeighbors

    n_classes = int(y.max()) + 1
    k = min(k, len(x) - 1)
    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)
    votes = y[idx[:, 1:]]
    probs = np.zeros((len(x), n_classes))
    for c in range(n_classes):
        probs[:, c] = (votes == c).sum(axis=1)
    probs += 0.5  # Laplace smoothing so no class has probability exactly 0
    return probs / probs.sum(axis=1, keepdims=True)


# Labels carry no information about the images when the out-of-sample label model does
# no better than any label-independent guess: its accuracy at most the majority share plus
# CHANCE_SIGMAS binomial standard errors (a one-sided test at ~0.1 %). Measured on the
# embedded datasets (2,000 images): true labels 0.86-0.99, 45 % noisy 0.50-0.55, shuffled
# 0.097-0.098 against chance 0.10.
CHANCE_SIGMAS = 3.0


def _labels_unrelated(accuracy: float, y: np.ndarray) -> Finding | None:
    chance = float(np.bincount(y).max() / len(y))
    bound = chance + CHANCE_SIGMAS * math.sqrt(chance * (1 - chance) / len(y))
    if accuracy > bound:
        return None
    return Finding(
        Code.DATA_LABELS_MISALIGNED, Severity.ERROR, 0.8,
        "Labels carry no information about the images",
        f"A nearest-neighbour model predicts the given labels no better than chance "
        f"({accuracy:.1%} vs {chance:.1%}): the labels look shuffled or out of order with "
        "the images (x and y split or shuffled separately). Images too alike for a "
        "nearest-neighbour model to tell apart would look the same: check a few by eye.",
        {"label_model_accuracy": round(accuracy, 4), "chance": round(chance, 4),
         "n": int(len(y)), "threshold": {"accuracy_max": round(bound, 4),
                                         "sigmas_above_chance": CHANCE_SIGMAS}},
        remedies_for(Code.DATA_LABELS_MISALIGNED, "align_labels"))


@DATA_CHECKS.register("label_noise", codes=[Code.DATA_LABEL_NOISE,
                                             Code.DATA_LABELS_MISALIGNED],
                      given_prob_max=GIVEN_PROB_MAX)
def label_noise(ctx: Context, params: dict[str, Any]) -> list[Finding]:
    df = ctx.df
    ok = ctx.ok
    sizes = df[ok]["cls"].value_counts()
    keep_cls = sorted(c for c, n in sizes.items() if n >= MIN_CLASS)
    if len(keep_cls) < 2:
        return []
    rows = np.flatnonzero(ok & df["cls"].isin(keep_cls).to_numpy())
    code_of = {c: k for k, c in enumerate(keep_cls)}
    y = np.array([code_of[c] for c in df["cls"].to_numpy()[rows]])
    probs = oos_probabilities(reduced(_features(ctx)[rows], seed=ctx.seed), y)
    from cleanlab.filter import find_label_issues

    issues = find_label_issues(y, probs, return_indices_ranked_by="self_confidence")
    given_p = probs[np.arange(len(y)), y]
    issues = np.asarray([k for k in issues if given_p[k] < params["given_prob_max"]], int)
    ctx.cache["label_model_accuracy"] = float((probs.argmax(1) == y).mean())
    unrelated = _labels_unrelated(ctx.cache["label_model_accuracy"], y)
    if unrelated:
        return [unrelated]
    if not issues.size:
        return []
    likely = probs.argmax(axis=1)
    samples = [{"file": ctx.rel([rows[k]])[0], "given": keep_cls[y[k]],
                "likely": keep_cls[likely[k]], "score": round(float(given_p[k]), 4)}
               for k in issues[:MAX_LISTED]]
    frac = issues.size / len(rows)
    return [Finding(
        Code.DATA_LABEL_NOISE, Severity.ERROR if frac > 0.2 else fraction_severity(
            issues.size, len(rows), TYPICAL_LABEL_ERRORS),
        round(min(0.95, 0.5 + 0.5 * ctx.cache["label_model_accuracy"]), 3),
        f"{issues.size} image(s) whose label looks wrong",
        "A model trained without these images confidently predicts a different class for "
        "them (confident learning). Review the listed files; wrong labels cap accuracy.",
        {"samples": samples, "files": [s["file"] for s in samples], "n": int(issues.size),
         "fraction": round(frac, 4),
         "label_model_accuracy": round(ctx.cache["label_model_accuracy"], 4),
         "threshold": {"method": "kNN leave-one-out vote + cleanlab.find_label_issues",
                       "given_label_prob_max": params["given_prob_max"]}},
        remedies_for(Code.DATA_LABEL_NOISE, "review_labels"))]
