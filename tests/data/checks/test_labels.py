"""DATA_LABEL_NOISE and DATA_LABELS_MISALIGNED: the vote gates and the scan-level check."""

import numpy as np
import pytest

from convergent.data.checks.labels import label_issues
from convergent.data.scan import scan

from ..conftest import pattern


def _find(report, code):
    return next((x for x in report.findings if x.code.value == code), None)


def _votes(last):
    """40 clean rows (10 votes each, 9-10 for their own class) and one row to judge."""
    v = np.array([[9, 1, 0]] * 20 + [[0, 10, 0]] * 20 + [last])
    y = np.array([0] * 20 + [1] * 20 + [0])
    return v, y


@pytest.mark.parametrize(("last", "flagged"), [([0, 10, 0], True), ([0, 5, 5], False),
                                                 ([1, 8, 1], False)],
                         ids=["majority_other_label", "split_vote", "own_label_present"])
def test_label_issue_needs_no_own_vote_and_a_majority_for_one_other(last, flagged):
    v, y = _votes(last)
    assert (40 in label_issues(v, y).tolist()) is flagged


def test_clean_votes_have_no_issue():
    v, y = _votes([10, 0, 0])
    assert label_issues(v, y).size == 0


def test_label_noise_samples(faulty, healthy_report):
    _, truth, report = faulty
    f = _find(report, "DATA_LABEL_NOISE")
    assert f is not None
    flagged = {s["file"]: s for s in f.evidence["samples"]}
    assert set(truth["DATA_LABEL_NOISE"]) <= set(flagged)
    s = flagged["rings/rings_wrong_0.png"]
    assert s["given"] == "rings" and s["likely"] == "hbars" and 0 <= s["score"] < 0.1
    assert _find(healthy_report, "DATA_LABEL_NOISE") is None


def _glyphs(n_per_class: int = 40, seed: int = 0):
    """Four clearly different patterns (the folder fixtures' classes) as arrays."""
    from ..conftest import CLASSES

    rng = np.random.default_rng(seed)
    x = np.stack([pattern(c, rng) for c in CLASSES for _ in range(n_per_class)])
    y = np.repeat(np.arange(len(CLASSES)), n_per_class)
    return x, y


def test_shuffled_labels_are_misaligned_not_noisy():
    x, y = _glyphs()
    y = np.random.default_rng(1).permutation(y)
    report = scan(x, y)
    f = _find(report, "DATA_LABELS_MISALIGNED")
    assert f is not None and f.severity.value == "error"
    assert f.evidence["label_model_accuracy"] <= f.evidence["threshold"]["accuracy_max"]
    assert _find(report, "DATA_LABEL_NOISE") is None


def test_true_and_partly_noisy_labels_are_not_misaligned():
    x, y = _glyphs()
    assert _find(scan(x, y), "DATA_LABELS_MISALIGNED") is None
    noisy = y.copy()
    flip = np.random.default_rng(2).random(len(y)) < 0.3
    noisy[flip] = (noisy[flip] + 1) % 4
    report = scan(x, noisy)
    assert _find(report, "DATA_LABELS_MISALIGNED") is None
    assert _find(report, "DATA_LABEL_NOISE") is not None
