"""The shared features, neighbour lists and kNN label model of the outlier/label checks."""

import numpy as np
import pytest

from convergent.data.checks import Context
from convergent.data.checks.embedding import (
    MOMENT_SPREAD,
    SPECTRUM_BANDS,
    _drop_self,
    class_distances,
    features,
    moment_normalized,
    neighbours,
    oos_probabilities,
    reduced_rows,
    release,
    spectrum,
    unaligned_features,
    votes,
)
from convergent.data.features import EMB_PX, HOG_DIM, gray_embedding, hog


def _g32(img):
    return img.astype(np.float16).reshape(1, -1)


def test_spectrum_tells_thin_stripes_from_a_filled_blob():
    yy, xx = np.mgrid[0:32, 0:32]
    stripes = np.sin(xx * 2 * np.pi / 4)  # period 4 px: high frequency
    blob = (np.hypot(yy - 16, xx - 16) < 9).astype(float)  # one filled disc: low frequency
    s, b = spectrum(_g32(stripes))[0], spectrum(_g32(blob))[0]
    assert b[0] > s[0] and s[-3:].max() > b[-3:].max()
    assert np.allclose(spectrum(_g32(blob)), spectrum(_g32(np.roll(blob, 5, axis=1))),
                       atol=1e-3)  # translation does not change it


def test_drop_self_removes_the_own_row_even_behind_an_exact_copy():
    idx = np.array([[1, 0, 2], [0, 1, 2], [0, 2, 1]])  # row 0 ranks its copy (1) first
    assert _drop_self(idx).tolist() == [[1, 2], [0, 2], [0, 1]]


def test_votes_and_out_of_sample_probabilities():
    x = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]])
    y = np.array([0, 0, 0, 1, 1, 1])
    p = oos_probabilities(x, y, k=2)
    assert p.argmax(1).tolist() == y.tolist() and np.allclose(p.sum(1), 1)
    y_wrong = y.copy()
    y_wrong[4] = 0  # the vote leaves the row out, so its own label does not count
    assert oos_probabilities(x, y_wrong, k=2)[4].argmax() == 1
    assert votes(np.array([[1, 2], [0, 2]]), np.array([0, 1, 1])).tolist() == [[0, 2], [1, 1]]


def test_spectrum_in_chunks_equals_spectrum_at_once():
    g = np.random.default_rng(0).normal(size=(5, 1024)).astype(np.float16)
    assert np.allclose(spectrum(g, chunk=2), spectrum(g))


def _square(top, left, side, size=32, polarity=1.0):
    """A filled square on a flat background, standardized like the table's ``g32``."""
    img = np.zeros((size, size))
    img[top:top + side, left:left + side] = 1.0
    img = polarity * (img - img.mean()) / img.std()
    return img.astype(np.float16).reshape(1, -1)


def test_moment_normalization_makes_small_offset_and_large_centred_shapes_alike():
    def corr(a, b):
        return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])

    small, large = _square(1, 2, 6), _square(8, 9, 16)  # a small one in a corner
    assert corr(small, large) < 0.1  # they do not overlap on the fixed grid
    assert corr(moment_normalized(small), moment_normalized(large)) > 0.9
    large = moment_normalized(large)[0]
    # the mass ends up centred with the target spread along each axis
    w = np.maximum(large - large.min() - 0.5, 0)
    yy = np.arange(32)
    cy = (w.sum(1) * yy).sum() / w.sum()
    sy = np.sqrt((w.sum(1) * (yy - cy) ** 2).sum() / w.sum())
    assert abs(cy - 15.5) < 0.5 and abs(sy / 32 - MOMENT_SPREAD) < 0.03


def test_moment_normalization_ignores_polarity_and_keeps_blank_images_blank():
    dark_on_light = moment_normalized(_square(4, 4, 10, polarity=-1.0))[0]
    light_on_dark = moment_normalized(_square(4, 4, 10))[0]
    assert np.allclose(dark_on_light, light_on_dark, atol=1e-2)
    blank = moment_normalized(np.zeros((1, 1024), np.float16))
    assert blank.shape == (1, 32, 32) and np.isfinite(blank).all() and not blank.any()


def test_moment_normalization_keeps_the_object_and_not_the_background_when_stretched():
    tiny = moment_normalized(_square(2, 14, 4))[0]  # a 4x4 object: stretched, not cut off
    assert tiny[0, 0] < 0 < 0.9 * tiny.max() < tiny[12:20, 12:20].min()


def _table(n=6, bad=()):
    import pandas as pd

    from convergent.data.table import Table

    rng = np.random.default_rng(0)
    g32 = np.concatenate([_square(int(rng.integers(0, 16)), int(rng.integers(0, 16)),
                                  int(rng.integers(4, 16))) for _ in range(n)])
    ok = np.ones(n, bool)
    ok[list(bad)] = False
    df = pd.DataFrame({"rel": [f"a/{i}.png" for i in range(n)], "cls": ["a"] * n,
                       "split": ["train"] * n, "ok": ok})
    g = g32.astype(np.float32).reshape(n, 32, 32)
    return Table(df, gray_embedding(g), hog(g), g32)


def test_features_hold_table_hog_normalized_shape_and_spectrum():
    t = _table(bad=[5])
    ctx = Context(table=t, seed=0)
    x = features(ctx)
    assert x.shape == (6, 2 * HOG_DIM + EMB_PX * EMB_PX + SPECTRUM_BANDS)
    assert np.allclose(x[:, :HOG_DIM], t.hog / np.sqrt(2), atol=1e-6)
    assert not x[5, HOG_DIM:].any()  # an undecodable row carries only its (zero) table HOG
    norms = np.linalg.norm(x[:5, HOG_DIM:2 * HOG_DIM], axis=1)
    assert np.allclose(norms, 1 / np.sqrt(2), atol=1e-4)  # each block weighs the same


def test_unaligned_features_are_the_table_embeddings_and_the_same_spectrum():
    t = _table()
    ctx = Context(table=t, seed=0)
    rows = np.array([1, 3])
    u = unaligned_features(ctx, rows)
    assert u.shape == (2, HOG_DIM + EMB_PX * EMB_PX + SPECTRUM_BANDS)
    assert np.allclose(u[:, :HOG_DIM] * np.sqrt(2), t.hog[rows], atol=1e-6)
    assert np.allclose(u[:, HOG_DIM:-SPECTRUM_BANDS] * np.sqrt(2), t.emb[rows], atol=1e-6)
    assert np.array_equal(u[:, -SPECTRUM_BANDS:], features(ctx)[rows, -SPECTRUM_BANDS:])


def test_spectrum_from_the_half_spectrum_equals_the_full_fft():
    g = np.random.default_rng(1).normal(size=(4, 1024)).astype(np.float16)
    f = np.fft.fftfreq(32)
    band = (np.digitize(np.hypot(f[:, None], f[None, :]),
                        np.geomspace(1 / 32, 0.71, SPECTRUM_BANDS + 1)) - 1).ravel()
    power = (np.abs(np.fft.fft2(g.astype(np.float64).reshape(-1, 32, 32))) ** 2).reshape(4, -1)
    s = np.stack([power[:, band == b].sum(axis=1) for b in range(SPECTRUM_BANDS)], axis=1)
    ref = np.log(s / s.sum(axis=1, keepdims=True) + 1e-6)
    assert np.allclose(spectrum(g), ref, atol=1e-4)


def test_features_from_the_per_image_pass_equal_those_computed_by_the_checks():
    from convergent.data.table import table_from_arrays

    rng = np.random.default_rng(4)
    x = np.zeros((40, 32, 32), np.uint8)
    for i in range(40):  # squares of random sizes and places; a few blank images
        y0, x0, s = rng.integers(0, 20), rng.integers(0, 20), rng.integers(3, 12)
        x[i, y0:y0 + s, x0:x0 + s] = 200 if i % 9 else 0
    t = table_from_arrays(x, np.arange(40) % 2)
    assert t.shape_n is not None
    from_pass = features(Context(table=t, seed=0))
    assert t.shape_n is None  # released once combined
    assert np.array_equal(from_pass, features(Context(table=t, seed=0)))  # recomputed


def test_release_drops_the_features_and_what_is_built_on_them_and_nothing_else():
    t = _table()
    ctx = Context(table=t, seed=0)
    rows = np.arange(6)
    before = features(ctx).copy()
    reduced_rows(ctx, rows)
    neighbours(ctx, rows, k=2)
    ctx.cache["exposure"] = {"dark": [1]}
    release(ctx)
    assert list(ctx.cache) == ["exposure"]
    assert np.array_equal(features(ctx), before)  # a later reader computes them again


def test_class_distances_leave_the_row_out_and_match_a_brute_force_search():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5))
    y = rng.integers(0, 3, 60)
    y[:3] = [0, 1, 2]
    x[1] = x[0]  # an exact copy of row 0 in another class
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    want = np.stack([np.sort(d[:, y == c], axis=1)[:, :3].mean(1) for c in range(3)], 1)
    got = class_distances(x, y, k=3)
    assert np.allclose(got, want)
    assert got[0, 1] == pytest.approx(np.sort(d[0, y == 1])[:3].mean())  # the copy counts


def test_class_distances_with_mirror_images_leave_the_row_and_its_mirror_out():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 4))
    xm = rng.normal(size=(40, 4))
    y = rng.integers(0, 2, 40)
    ref = np.vstack([x, xm])
    owner = np.tile(np.arange(40), 2)
    d = np.sqrt(((x[:, None] - ref[None]) ** 2).sum(-1))
    d[owner[None, :] == np.arange(40)[:, None]] = np.inf  # the row and its own mirror
    yy = np.tile(y, 2)
    want = np.stack([np.sort(d[:, yy == c], axis=1)[:, :3].mean(1) for c in range(2)], 1)
    assert np.allclose(class_distances(x, y, k=3, mirrored=xm), want)


def _shapes(n, seed, both_ways):
    """Asymmetric shapes (a bar with a knob on its right); ``both_ways``: half mirrored."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 32, 32), np.uint8)
    for i in range(n):
        y0, x0, h = rng.integers(4, 10), rng.integers(4, 10), rng.integers(12, 18)
        out[i, y0:y0 + h, x0:x0 + 4] = 200
        ky = y0 + rng.integers(0, h - 4)
        out[i, ky:ky + 4, x0 + 4:x0 + 4 + rng.integers(6, 12)] = 200
        if both_ways and i % 2:
            out[i] = out[i, :, ::-1]
    return out


@pytest.mark.parametrize("both_ways", [True, False], ids=["both_orientations", "one_way"])
def test_mirror_ratio_says_whether_pictures_come_both_ways(both_ways):
    from convergent.data.checks.embedding import (
        label_rows,
        mirror_gray_ratio,
        mirror_ratio,
        mirrored_rows,
        reduced_rows,
    )
    from convergent.data.checks.labels import MIRROR_RATIO_MAX, MIRROR_SAMPLE
    from convergent.data.table import table_from_arrays

    x = _shapes(300, 0, both_ways)
    ctx = Context(table=table_from_arrays(x, np.arange(300) % 3), seed=0)
    rows, _, _ = label_rows(ctx, 10)
    assert (mirror_gray_ratio(ctx, rows, MIRROR_SAMPLE) <= MIRROR_RATIO_MAX) is both_ways
    assert (mirror_gray_ratio(ctx, rows, 100) <= MIRROR_RATIO_MAX) is both_ways  # sampled
    # the full features say the same
    ratio = mirror_ratio(reduced_rows(ctx, rows), mirrored_rows(ctx, rows))
    assert (ratio <= MIRROR_RATIO_MAX) is both_ways


def test_mirror_features_are_the_features_of_the_mirror_images():
    from convergent.data.checks.embedding import mirror_features
    from convergent.data.table import table_from_arrays

    x = _shapes(20, 1, False)
    both = np.concatenate([x, x[:, :, ::-1]])
    ctx = Context(table=table_from_arrays(both, np.zeros(40, int)), seed=0)
    f = features(ctx)
    for a, b in ((np.arange(20), np.arange(20, 40)), (np.arange(20, 40), np.arange(20))):
        m = mirror_features(ctx, a)
        table_hog, hog_n = slice(0, HOG_DIM), slice(HOG_DIM, 2 * HOG_DIM)
        assert np.allclose(m[:, table_hog], f[b, table_hog], atol=1e-6)  # exact
        rest = slice(2 * HOG_DIM, None)  # gray block and spectrum: float rounding only
        assert np.allclose(m[:, rest], f[b, rest], atol=1e-5)
        # the moment-normalized HOG: up to gradients moved across a bin edge by rounding
        assert np.abs(m[:, hog_n] - f[b, hog_n]).max() < 0.01


def test_stroke_width_tells_pen_strokes_from_filled_shapes_at_any_size():
    from convergent.data.shape import stroke_width

    def ring(side, pen, top=4, left=4):
        img = np.zeros((32, 32))
        img[top:top + side, left:left + side] = 1.0
        img[top + pen:top + side - pen, left + pen:left + side - pen] = 0.0
        return img

    small, large = ring(10, 1, 2, 3), ring(24, 2)  # the same drawn square, two sizes
    filled = _square(9, 9, 14)
    w = stroke_width(moment_normalized(np.vstack([_g32(small), _g32(large), filled])))
    assert w[2] > 1.5 * max(w[0], w[1])  # filled is thicker than drawn
    assert abs(w[0] - w[1]) < 0.5 * w[0]  # normalization removes most of the size
    assert stroke_width(np.zeros((1, 32, 32), np.float32)).tolist() == [0.0]  # blank
