"""DATA_LABEL_NOISE and DATA_LABELS_MISALIGNED: labels that look wrong, or carry nothing.

The label model is a leave-one-out vote of each image's nearest neighbours
(:mod:`convergent.data.checks.embedding`); cleanlab's confident learning (Northcutt et
al. 2021) ranks the label issues of those out-of-sample probabilities, and two gates keep
the ones a reviewer should see: none of the neighbours shares the given label, and a
majority of them agree on one other label. The second gate is what separates a wrong
label (the image sits among images of its true class) from a hard or foreign image
(neighbours of mixed classes: a weak model, or an outlier, not a labelling mistake).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from convergent.data.checks import DATA_CHECKS, MAX_LISTED, Context, fraction_severity
from convergent.data.checks.embedding import label_rows, neighbours, smoothed, votes
from convergent.findings import Code, Finding, Severity
from convergent.remedies.catalog import remedies_for

MIN_CLASS = 10  # classes smaller than this are not judged
# Of cleanlab's issues, keep those whose given label has out-of-sample probability below
# 0.1 (with Laplace smoothing and 10 neighbours: none of them shares the label): confident
# learning also lists hard-but-correct images of a weak model; this gate halved false
# alarms at a 5-10 % recall cost (benchmarks/perf/scan_label_model.py).
GIVEN_PROB_MAX = 0.1
# ... and those where more than half of the neighbours carry one and the same other label
# (a majority: first principles). On the development folders (benchmarks/perf/
# scan_outlier_label_dev.py, not the fault benchmark's) it cut healthy false alarms from
# 32 to 24 in 4,400 images and raised precision from 0.70 to 0.78 at 6 points of recall
# (0.75 -> 0.69).
MAJORITY = 0.5
# Curated benchmark test sets carry ~3.4 % label errors on average (Northcutt et al. 2021,
# "Pervasive label errors in test sets"), and networks train well through that much: up to
# this fraction the review list is advice.
TYPICAL_LABEL_ERRORS = 0.034
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
         "n": len(y), "threshold": {"accuracy_max": round(bound, 4),
                                         "sigmas_above_chance": CHANCE_SIGMAS}},
        remedies_for(Code.DATA_LABELS_MISALIGNED, "align_labels"))


def label_issues(v: np.ndarray, y: np.ndarray, given_prob_max: float = GIVEN_PROB_MAX,
                 majority: float = MAJORITY) -> np.ndarray:
    """Rows whose label looks wrong, most confident first, from neighbour vote counts.

    Args:
        v: (n, C) vote counts of each row's neighbours (``embedding.votes``).
        y: (n,) given labels 0..C-1.
        given_prob_max: keep issues whose smoothed given-label probability is below this.
        majority: and whose most-voted other label has more than this share of the votes.

    Example:
        >>> v = np.array([[9, 1]] * 20 + [[0, 10]] * 20 + [[0, 10]])
        >>> label_issues(v, np.array([0] * 20 + [1] * 20 + [0])).tolist()
        [40]
    """
    from cleanlab.filter import find_label_issues

    probs = smoothed(v)
    # n_jobs=1: cleanlab otherwise forks a process pool per call (~0.1-0.3 s); "results
    # will be the same no matter its value" (cleanlab.filter)
    issues = np.asarray(find_label_issues(y, probs, return_indices_ranked_by="self_confidence",
                                          n_jobs=1), dtype=np.int64)
    if not issues.size:
        return issues
    given = probs[issues, y[issues]]
    other = v[issues].copy()
    other[np.arange(issues.size), y[issues]] = -1
    n_votes = np.maximum(v[issues].sum(axis=1), 1)
    keep = (given < given_prob_max) & (other.max(axis=1) > majority * n_votes)
    return issues[keep]


@DATA_CHECKS.register("label_noise", codes=[Code.DATA_LABEL_NOISE,
                                             Code.DATA_LABELS_MISALIGNED],
                      given_prob_max=GIVEN_PROB_MAX, majority=MAJORITY)
def label_noise(ctx: Context, params: dict[str, Any]) -> list[Finding]:
    rows, y, keep_cls = label_rows(ctx, MIN_CLASS)
    if len(keep_cls) < 2 or rows.size <= 2:
        return []
    v = votes(neighbours(ctx, rows), y)
    probs = smoothed(v)
    accuracy = float((probs.argmax(1) == y).mean())
    ctx.cache["label_model_accuracy"] = accuracy
    unrelated = _labels_unrelated(accuracy, y)
    if unrelated:
        return [unrelated]
    issues = label_issues(v, y, params["given_prob_max"], params["majority"])
    if not issues.size:
        return []
    given_p = probs[np.arange(len(y)), y]
    likely = probs.argmax(axis=1)
    samples = [{"file": ctx.rel([rows[k]])[0], "given": keep_cls[y[k]],
                "likely": keep_cls[likely[k]], "score": round(float(given_p[k]), 4)}
               for k in issues[:MAX_LISTED]]
    frac = issues.size / len(rows)
    return [Finding(
        Code.DATA_LABEL_NOISE, Severity.ERROR if frac > 0.2 else fraction_severity(
            issues.size, len(rows), TYPICAL_LABEL_ERRORS),
        round(min(0.95, 0.5 + 0.5 * accuracy), 3),
        f"{issues.size} image(s) whose label looks wrong",
        "The images most like these ones carry another label, and none carries theirs "
        "(confident learning on out-of-sample votes). Review the listed files; wrong "
        "labels cap accuracy.",
        {"samples": samples, "files": [s["file"] for s in samples], "n": int(issues.size),
         "fraction": round(frac, 4), "label_model_accuracy": round(accuracy, 4),
         "threshold": {"method": "kNN leave-one-out vote + cleanlab.find_label_issues",
                       "given_label_prob_max": params["given_prob_max"],
                       "other_label_vote_share_min": params["majority"]}},
        remedies_for(Code.DATA_LABEL_NOISE, "review_labels"))]
