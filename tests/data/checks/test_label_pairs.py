"""DATA_LABEL_NOISE from the label-pair check: two labels whose images are mixed."""

import numpy as np
import pytest

from convergent.data.checks.label_pairs import (
    LABEL_MIN,
    MIX_ERROR,
    MIX_MIN,
    PAIR_MIN_CLASS,
    confusion,
    mixed_pairs,
    pair_mixing,
)
from convergent.data.scan import scan

from ..conftest import CLASSES, pattern


def _pair_findings(report):
    return [f for f in report.findings
            if f.code.value == "DATA_LABEL_NOISE" and "pair" in f.evidence]


def _glyphs(n_per_class: int = 2 * PAIR_MIN_CLASS, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = np.stack([pattern(c, rng) for c in CLASSES for _ in range(n_per_class)])
    y = np.repeat(np.arange(len(CLASSES)), n_per_class)
    return x, y


def _swapped(y, a, b, p, both, seed=3):
    flip = np.random.default_rng(seed).random(len(y)) < p
    out = y.copy()
    out[flip & (y == a)] = b
    if both:
        out[flip & (y == b)] = a
    return out


def test_confusion_rows_are_mean_neighbour_label_shares():
    v = np.array([[8, 2, 0], [10, 0, 0], [0, 5, 5], [0, 0, 10]])
    c = confusion(v, np.array([0, 0, 1, 2]))
    np.testing.assert_allclose(c, [[0.9, 0.1, 0.0], [0.0, 0.5, 0.5], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(c.sum(axis=1), 1.0)


def _votes_of_swap(p: float, both: bool, n: int = 200, k: int = 10, seed: int = 0):
    """Votes an ideal kNN gives when a share p of class 0 is labelled 1 (and back):
    every image's neighbours are images of its own true class, class 2 is untouched."""
    rng = np.random.default_rng(seed)
    true = np.repeat([0, 1, 2], n)
    given = true.copy()
    flip = rng.permutation(n)[:round(p * n)]  # exactly a share p of each swapped class
    given[flip] = 1
    if both:
        given[n + flip] = 0
    v = np.zeros((len(true), 3), np.int64)
    for i, t in enumerate(true):
        same = np.flatnonzero(true == t)
        nb = rng.choice(same[same != i], k, replace=False)
        v[i] = np.bincount(given[nb], minlength=3)
    return v, given


@pytest.mark.parametrize(("p", "both", "expected"),
                         [(0.2, True, 2 * 0.2 * 0.8), (0.4, False, 0.4), (0.6, False, 0.6)],
                         ids=["two_way_20pct", "one_way_40pct", "one_way_60pct"])
def test_pair_mixing_of_an_ideal_swap_matches_first_principles(p, both, expected):
    v, given = _votes_of_swap(p, both)
    m = pair_mixing(confusion(v, given))
    assert max(m[0, 1], m[1, 0]) == pytest.approx(expected, abs=0.05)
    assert m[0, 2] == m[2, 0] == m[1, 2] == 0.0


@pytest.mark.parametrize(("p", "both", "found"),
                         [(0.0, False, False), (0.1, False, False), (0.4, True, True),
                          (0.6, False, True)],
                         ids=["clean", "one_way_10pct", "two_way_40pct", "one_way_60pct"])
def test_mixed_pairs_fire_on_swaps_not_on_clean_or_light_noise(p, both, found):
    v, given = _votes_of_swap(p, both)
    pairs = mixed_pairs(confusion(v, given))
    assert bool(pairs) is found
    if found:
        assert pairs[0][:2] == (0, 1) and pairs[0][2] >= MIX_MIN


def test_pairs_with_a_small_label_are_not_judged():
    v, given = _votes_of_swap(0.4, True)
    c = confusion(v, given)
    gates = {"min_class": PAIR_MIN_CLASS, "label_min": LABEL_MIN}
    assert mixed_pairs(c, counts=np.bincount(given), **gates)
    assert mixed_pairs(c, counts=np.array([PAIR_MIN_CLASS - 1] * 2 + [400]), **gates) == []
    assert mixed_pairs(c, counts=np.array([LABEL_MIN - 1, 400, 400]), **gates) == []


def test_scan_does_not_judge_sparse_labels():
    x, y = _glyphs(PAIR_MIN_CLASS // 2)
    assert _pair_findings(scan(x, _swapped(y, 0, 1, 0.4, both=True))) == []


def test_natural_confusion_of_two_similar_classes_does_not_fire():
    # each class keeps 85 % of its votes and gives 15 % to its look-alike: a natural
    # confusion as large as the largest measured on healthy data (m ~ 0.14)
    c = np.array([[0.85, 0.15, 0.0], [0.15, 0.85, 0.0], [0.0, 0.0, 1.0]])
    assert mixed_pairs(c) == []


def test_scan_names_a_swapped_pair_and_clean_arrays_have_none():
    x, y = _glyphs()
    assert _pair_findings(scan(x, y)) == []
    report = scan(x, _swapped(y, 0, 1, 0.4, both=True))
    found = _pair_findings(report)
    assert len(found) == 1
    f = found[0]
    ev = f.evidence
    assert ev["pair"] == ["0", "1"]
    assert max(ev["mixing"].values()) >= ev["threshold"]["mixing_min"] == MIX_MIN
    assert f.severity.value == ("error" if max(ev["mixing"].values()) >= MIX_ERROR
                                else "warning")
    assert sum(ev["counts"].values()) == ev["n"] == 4 * PAIR_MIN_CLASS
    assert ev["label_pairs"][0]["labels"] == ["0", "1"]
    assert f.remedies and f.remedies[0].id == "review_labels"


def test_one_way_swap_is_found():
    x, y = _glyphs()
    found = _pair_findings(scan(x, _swapped(y, 2, 3, 0.6, both=False)))
    assert [f.evidence["pair"] for f in found] == [["2", "3"]]


def test_shuffled_labels_report_misalignment_not_pairs():
    x, y = _glyphs()
    report = scan(x, np.random.default_rng(1).permutation(y))
    assert _pair_findings(report) == []
    assert any(f.code.value == "DATA_LABELS_MISALIGNED" for f in report.findings)
