"""DATA_OUTLIER: the class ratio, the smoothed score and the check on tiny tables."""

import numpy as np
import pytest

from convergent.data.checks import LISTING_FDR_MAX, Context
from convergent.data.checks.outliers import (
    IMPURITY_WEIGHT,
    OUTLIER_RATIO,
    RESCORE_CUT,
    class_ratio,
    mixed_neighbourhood,
    outlier,
    outlier_scores,
)

PARAMS = {"ratio": OUTLIER_RATIO, "impurity_weight": IMPURITY_WEIGHT,
          "rescore_cut": RESCORE_CUT, "listing_fdr_max": LISTING_FDR_MAX}


def _table(emb, cls):
    import pandas as pd

    from convergent.data.table import Table

    n = len(emb)
    df = pd.DataFrame({"rel": [f"{c}/{i}.png" for i, c in enumerate(cls)], "cls": cls,
                       "split": ["train"] * n, "ok": [True] * n})
    return Table(df, emb.astype("float32"), emb.astype("float32"),
                 np.zeros((n, 1024), "float16"))


def _two_classes(seed=0, n=30):
    """Two classes, each a 2-D family of 16-D vectors (like poses of one object)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(2):
        base, axes = rng.normal(size=16), rng.normal(size=(2, 16))
        rows.append(base + rng.uniform(-1, 1, (n, 2)) @ axes * 0.3)
    return np.concatenate(rows), ["a"] * n + ["b"] * n


def test_class_ratio_is_about_one_only_for_an_image_like_nothing_in_the_class():
    x, _ = _two_classes()
    r = class_ratio(x[:30])
    assert r.max() < OUTLIER_RATIO  # every member has look-alikes
    x[7] = 3 * np.random.default_rng(1).normal(size=16)
    r = class_ratio(x[:30])
    assert r[7] > 1.0 and np.delete(r, 7).max() < OUTLIER_RATIO


def test_class_ratio_samples_pairs_of_large_classes_deterministically():
    x = np.random.default_rng(2).normal(size=(200, 3))  # 19,900 pairs > PAIRS
    assert np.array_equal(class_ratio(x, seed=4), class_ratio(x, seed=4))


@pytest.mark.parametrize("stranger", [False, True], ids=["healthy", "one_stranger"])
def test_outlier_check_flags_only_the_image_unlike_its_class(stranger):
    emb, cls = _two_classes()
    if stranger:
        emb[7] = 3 * np.random.default_rng(3).normal(size=16)
    found = outlier(Context(_table(emb, cls)), PARAMS)
    if stranger:
        assert found and found[0].evidence["files"] == ["a/7.png"]
    else:
        assert found == []


def test_images_reported_as_blurry_or_dark_are_left_to_that_finding():
    emb, cls = _two_classes()
    emb[7] = 3 * np.random.default_rng(3).normal(size=16)
    ctx = Context(_table(emb, cls))
    ctx.cache["blurry"] = np.array([7])
    assert outlier(ctx, PARAMS) == []


def test_reported_images_take_no_part_in_their_class_distances():
    """Ten far-apart 'blurry' images in class a would widen its spread and hide the
    stranger; left out of the class's distances, they do not."""
    emb, cls = _two_classes()
    rng = np.random.default_rng(5)
    emb[7] = 3 * rng.normal(size=16)
    emb = np.concatenate([emb, 3 * rng.normal(size=(10, 16))])
    cls = cls + ["a"] * 10
    ctx = Context(_table(emb, cls))
    ctx.cache["blurry"] = np.arange(60, 70)
    score = outlier_scores(ctx)
    assert np.isnan(score[60:]).all()
    assert [f.evidence["files"] for f in outlier(ctx, PARAMS)] == [["a/7.png"]]


def _masking_pair():
    """Class a with two strangers off its family, the second beyond the first: the first
    is the second's nearest class member, which hides how far it is from the rest."""
    emb, cls = _two_classes()
    rng = np.random.default_rng(0)
    u, w = rng.normal(size=(2, 16))
    u /= np.linalg.norm(u)
    w -= (w @ u) * u
    w /= np.linalg.norm(w)
    centre = emb[:30].mean(axis=0)
    emb[7] = centre + 1.7 * u
    emb[8] = centre + 2.2 * u + 1.5 * w
    return emb, cls


@pytest.mark.parametrize("cut", [None, RESCORE_CUT], ids=["one_pass", "flagged_left_out"])
def test_a_stranger_hidden_by_another_is_found_once_that_one_is_left_out(cut):
    emb, cls = _masking_pair()
    score = outlier_scores(Context(_table(emb, cls)), cut=cut)
    assert score[8] > OUTLIER_RATIO  # the far one stands out either way
    assert np.delete(score, [7, 8]).max() < 0.7  # the class's own members never come close
    assert (score[7] > OUTLIER_RATIO) == (cut is not None)


@pytest.mark.parametrize(("labels", "mixed"), [([0] * 6 + [1] * 6, False),
                                                 ([0, 1, 2, 3, 4, 5] * 2, True)],
                         ids=["one_label_nearby", "labels_at_random"])
def test_mixed_neighbourhood_is_high_only_where_nearby_labels_disagree(labels, mixed):
    idx = np.array([[(i + j) % 6 + 6 * (i // 6) for j in (1, 2, 3)] for i in range(12)])
    m = mixed_neighbourhood(idx, np.array(labels))
    assert (m.min() > 0.5) if mixed else (m.max() == 0.0)


def test_healthy_folder_has_no_outlier(healthy_report):
    assert not [f for f in healthy_report.findings if f.code.value == "DATA_OUTLIER"]


def _image_table(images, cls):
    """A table built from 32x32 float images the way the scan builds it."""
    import pandas as pd

    from convergent.data.features import gray_embedding, hog, thumb32
    from convergent.data.shape import moment_normalized, stroke_width
    from convergent.data.table import Table

    g = np.asarray(images, np.float32)
    n = len(g)
    thumb = thumb32(g)
    df = pd.DataFrame({"rel": [f"{c}/{i}.png" for i, c in enumerate(cls)], "cls": cls,
                       "split": ["train"] * n, "ok": [True] * n,
                       "stroke": stroke_width(moment_normalized(thumb))})
    return Table(df, gray_embedding(g), hog(g), thumb)


def _shape(kind, top, left, side, rng):
    img = rng.normal(0.3, 0.01, (32, 32))
    yy, xx = np.mgrid[0:32, 0:32]
    if kind == "square":
        inside = (yy >= top) & (yy < top + side) & (xx >= left) & (xx < left + side)
    else:  # a ring of the same size
        r = np.hypot(yy - top - side / 2, xx - left - side / 2)
        inside = (r < side / 2) & (r > side / 3)
    img[inside] = 0.8
    return img


def test_a_small_offset_square_is_nearer_its_class_in_the_aligned_view():
    from convergent.data.checks import outliers as O
    from convergent.data.checks.embedding import features, unaligned_features

    rng = np.random.default_rng(5)
    imgs = [_shape("square", 9 + rng.integers(-2, 3), 9 + rng.integers(-2, 3),
                   14 + rng.integers(-1, 2), rng) for _ in range(30)]
    imgs += [_shape("ring", 8 + rng.integers(-2, 3), 8 + rng.integers(-2, 3), 16, rng)
             for _ in range(30)]
    imgs[0] = _shape("square", 1, 1, 5, rng)  # same kind as its class, small, in a corner
    ctx = Context(_image_table(imgs, ["a"] * 30 + ["b"] * 30))
    rows = np.arange(30)
    aligned = O.class_ratio(features(ctx)[rows])[0]
    unaligned = O.class_ratio(unaligned_features(ctx, rows))[0]
    assert aligned < unaligned  # normalization brings the small square nearer its class


@pytest.mark.parametrize("stranger", [False, True], ids=["healthy", "one_ring_among_squares"])
def test_outlier_check_on_images_flags_a_foreign_shape_only(stranger):
    rng = np.random.default_rng(6)
    imgs = [_shape("square", 9 + rng.integers(-2, 3), 9 + rng.integers(-2, 3),
                   14 + rng.integers(-1, 2), rng) for _ in range(30)]
    imgs += [_shape("ring", 8 + rng.integers(-2, 3), 8 + rng.integers(-2, 3), 16, rng)
             for _ in range(30)]
    if stranger:
        imgs[3] = np.rot90(np.triu(np.full((32, 32), 0.8)) + rng.normal(0.0, 0.01, (32, 32)))
    found = outlier(Context(_image_table(imgs, ["a"] * 30 + ["b"] * 30)),
                    PARAMS)
    if stranger:
        assert found and "a/3.png" in found[0].evidence["files"]
        assert found[0].evidence["threshold"]["view_weight"] == 0.5
    else:
        assert found == []


def _blob(rng, thin):
    """A filled disc, or a ring drawn with a 1-pixel pen, of random size and place."""
    img = rng.normal(0.3, 0.01, (32, 32))
    yy, xx = np.mgrid[0:32, 0:32]
    cy, cx, r = rng.integers(12, 20), rng.integers(12, 20), rng.integers(7, 11)
    d = np.hypot(yy - cy, xx - cx)
    img[(d < r) & (d > r - 1.2) if thin else d < r] = 0.8
    return img


def test_a_pen_drawn_image_among_filled_shapes_scores_higher_with_the_stroke_term(
        monkeypatch):
    from convergent.data.checks import outliers as O

    rng = np.random.default_rng(7)
    imgs = [_blob(rng, thin=False) for _ in range(40)]
    imgs[5] = _blob(rng, thin=True)  # same outline, drawn, not filled
    table = _image_table(imgs, ["a"] * 40)
    z = O.stroke_z(Context(table))
    assert z[5] < -3 < z[np.arange(40) != 5].min()  # far thinner than the rest
    with_term = outlier_scores(Context(table), cut=None)
    monkeypatch.setattr(O, "STROKE_WEIGHT", 0.0)
    without = outlier_scores(Context(table), cut=None)
    assert with_term[5] > without[5]
    others = np.arange(40) != 5
    # the filled discs hardly move (one thin image among 40 shifts the median nothing)
    assert np.abs(with_term[others] - without[others]).max() < 0.1 * (with_term[5] - without[5]) + 0.05


def test_stroke_width_is_left_out_where_the_pictures_have_no_plain_ground():
    from convergent.data.checks import outliers as O

    rng = np.random.default_rng(8)
    yy = np.mgrid[0:32, 0:32][0]
    bars = [(np.sin(yy * rng.uniform(0.25, 0.4) + rng.uniform(0, 6)) > 0) * 0.5 + 0.2
            + rng.normal(0, 0.01, (32, 32)) for _ in range(30)]  # bars run to the border
    ctx = Context(_image_table(bars, ["a"] * 30))
    assert O.border_spread(ctx) > O.FIGURE_BORDER_MAX
    assert not O.stroke_z(ctx).any() and ctx.cache["figures"] is False
    blobs = Context(_image_table([_blob(rng, thin=False) for _ in range(30)], ["a"] * 30))
    assert O.border_spread(blobs) < O.FIGURE_BORDER_MAX and O.stroke_z(blobs).any()


def test_a_stranger_among_many_unusual_images_is_within_chance():
    """Isotropic classes: every member is nearly as far from its nearest members as from a
    random one (most score 0.70-0.85), so one image beyond the cut is what a clean folder
    of such images lists (CLEAN_TAIL_SHARE): no finding, unless the gate is off."""
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(80, 16))
    emb[40:] += 4
    emb[7] = 4 * rng.normal(size=16)
    cls = ["a"] * 40 + ["b"] * 40
    assert outlier(Context(_table(emb, cls)), PARAMS) == []
    found = outlier(Context(_table(emb, cls)), {**PARAMS, "listing_fdr_max": None})
    assert [f.evidence["files"] for f in found] == [["a/7.png"]]
    t = found[0].evidence["threshold"]
    assert t["expected_in_clean_data"] > LISTING_FDR_MAX * found[0].evidence["n"]
