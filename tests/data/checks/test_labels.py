"""DATA_LABEL_NOISE and DATA_LABELS_MISALIGNED: the class-distance rule and the scan-level check."""

import numpy as np
import pytest

from convergent.data.checks.labels import LABEL_RATIO, label_issues
from convergent.data.scan import scan

from ..conftest import pattern


def _find(report, code):
    return next((x for x in report.findings if x.code.value == code), None)


def _distances(last):
    """40 clean rows (own class at distance 1, the other at 3) and one row to judge."""
    d = np.array([[1.0, 3.0, 3.0]] * 20 + [[3.0, 1.0, 3.0]] * 20 + [last])
    y = np.array([0] * 20 + [1] * 20 + [0])
    return d, y


@pytest.mark.parametrize(("last", "flagged"), [([2.0, 1.0, 3.0], True),
                                                 ([1.1, 1.0, 3.0], False),
                                                 ([3.0, 2.9, 2.8], False)],
                         ids=["own_class_twice_as_far", "hard_but_near_its_class",
                              "unlike_every_class"])
def test_label_issue_needs_the_given_class_much_farther_than_another(last, flagged):
    d, y = _distances(last)
    assert (40 in label_issues(d, y).tolist()) is flagged


def test_clean_distances_have_no_issue():
    d, y = _distances([1.0, 3.0, 3.0])
    assert label_issues(d, y).size == 0


def test_label_issues_most_confident_first():
    d = np.array([[1.0, 3.0]] * 10 + [[3.0, 1.0]] * 10 + [[2.0, 1.0], [4.0, 1.0]])
    y = np.array([0] * 10 + [1] * 10 + [0, 0])
    assert label_issues(d, y).tolist() == [21, 20]


def test_label_noise_samples(faulty, healthy_report):
    _, truth, report = faulty
    f = _find(report, "DATA_LABEL_NOISE")
    assert f is not None
    flagged = {s["file"]: s for s in f.evidence["samples"]}
    assert set(truth["DATA_LABEL_NOISE"]) <= set(flagged)
    s = flagged["rings/rings_wrong_0.png"]
    assert s["given"] == "rings" and s["likely"] == "hbars" and s["score"] >= LABEL_RATIO
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
    assert _find(scan(x, noisy), "DATA_LABELS_MISALIGNED") is None


def _flipped(n_flips: int, n_per_class: int = 40, seed: int = 3):
    """Glyphs with ``n_flips`` labels moved to a random other class."""
    x, y = _glyphs(n_per_class)
    rng = np.random.default_rng(seed)
    at = rng.choice(len(y), n_flips, replace=False)
    y[at] = (y[at] + rng.integers(1, 4, n_flips)) % 4
    return x, y, {f"train[{i}]" for i in at}


def test_flipped_labels_beyond_chance_are_listed():
    x, y, wrong = _flipped(8)  # 5 %
    f = _find(scan(x, y), "DATA_LABEL_NOISE")
    assert f is not None and set(f.evidence["files"]) == wrong
    t = f.evidence["threshold"]
    assert t["expected_in_clean_data"] <= t["listing_fdr_max"] * f.evidence["n"]


def test_a_listing_within_chance_is_not_reported():
    # one wrong label among 160 images, dozens of them hard for the label model: as many
    # listings as a clean folder of such images gives (CLEAN_TAIL_SHARE), so no finding
    x, y, wrong = _flipped(1)
    assert _find(scan(x, y), "DATA_LABEL_NOISE") is None
    f = _find(scan(x, y, params={"label_noise": {"listing_fdr_max": None}}),
              "DATA_LABEL_NOISE")
    assert f is not None and set(f.evidence["files"]) == wrong
    assert f.evidence["threshold"]["expected_in_clean_data"] > 0.5 * f.evidence["n"]


@pytest.mark.parametrize("leave_quality", [True, False])
def test_a_blurred_image_is_left_to_the_blur_finding(leave_quality):
    from scipy.ndimage import gaussian_filter

    x, y = _glyphs()
    y[[0, 1, 2]] = 1  # three hbars labelled vbars, blurred as well
    sharp = {40: 2, 41: 3, 80: 3, 81: 0, 120: 2, 121: 0}  # beyond chance without the blurred
    for i, c in sharp.items():
        y[i] = c
    for i in (0, 1, 2):
        x[i] = np.round(gaussian_filter(x[i].astype(float), (1.5, 1.5, 0))).astype(np.uint8)
    report = scan(x, y, params={"label_noise": {"leave_quality": leave_quality}})
    blurred = set(_find(report, "DATA_BLURRY").evidence["files"])
    assert blurred == {"train[0]", "train[1]", "train[2]"}
    listed = set(_find(report, "DATA_LABEL_NOISE").evidence["files"])
    assert listed & {f"train[{i}]" for i in sharp}  # sharp ones: listed
    assert bool(listed & blurred) is not leave_quality
