"""The batched bilinear resize gives Pillow's "F"-mode BILINEAR results, bit for bit."""

import numpy as np
import pytest
from PIL import Image

from convergent.data.resample import resize


def pillow(x, size, box=None):
    im = Image.fromarray(np.ascontiguousarray(x, np.float32), mode="F")
    return np.asarray(im.resize(size, Image.BILINEAR, box=box), np.float32)


@pytest.mark.parametrize("shape", [(32, 32), (64, 64), (21, 21), (256, 256), (20, 70),
                                   (64, 192), (1, 9), (7, 7)],
                         ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("size", [(64, 64), (32, 32), (16, 16), (9, 8)],
                         ids=lambda s: f"to{s[0]}x{s[1]}")
def test_matches_pillow_bit_for_bit(shape, size):
    # square and wide inputs: Pillow 13 runs the vertical pass first for some tall ones
    x = np.random.default_rng(0).random((3,) + shape).astype(np.float32)
    got = resize(x, *size)
    assert got.shape == (3, size[1], size[0]) and got.dtype == np.float32
    for k in range(3):
        assert np.array_equal(got[k], pillow(x[k], size))


def test_tall_inputs_match_pillow_within_one_ulp():
    x = np.random.default_rng(1).random((1, 200, 60)).astype(np.float32)
    np.testing.assert_allclose(resize(x, 16, 16)[0], pillow(x[0], (16, 16)), rtol=2e-7)


@pytest.mark.parametrize("zoom", [1.05, 1.1, 1.15])
def test_a_box_crop_matches_pillow(zoom):
    x = np.random.default_rng(2).normal(size=(2, 32, 32)).astype(np.float32)
    c = 32 / zoom
    box = ((32 - c) / 2, (32 - c) / 2, (32 + c) / 2, (32 + c) / 2)
    assert np.array_equal(resize(x, 32, 32, box=box)[1], pillow(x[1], (32, 32), box))


def test_same_size_is_a_copy():
    x = np.ones((2, 4, 4), np.float32)
    y = resize(x, 4, 4)
    assert np.array_equal(x, y) and y is not x


def test_resize_many_equals_one_size_at_a_time():
    from convergent.data.resample import resize_many

    x = np.random.default_rng(3).random((4, 48, 64)).astype(np.float32)
    sizes = [(64, 64), (32, 32), (16, 16), (9, 8), (64, 10)]
    for got, (w, h) in zip(resize_many(x, sizes), sizes, strict=True):
        assert np.array_equal(got, resize(x, w, h))


@pytest.mark.parametrize("n_in,n_out", [(32, 64), (64, 32), (64, 16), (128, 64), (96, 64),
                                        (32, 9)], ids=lambda v: str(v))
def test_regular_ratios_run_on_strided_views_with_the_gathers_result(n_in, n_out):
    from convergent.data import resample

    assert resample.runs(n_in, n_out) is not None
    x = np.random.default_rng(4).random((n_in, 5, 3))
    got = resample._first_axis(x, n_out)
    idx, w = resample.taps(n_in, n_out)
    want = np.zeros((n_out, 5, 3))
    for t in range(idx.shape[1]):  # tap by tap, in Pillow's order
        want += np.where(w[:, t, None, None] != 0, x[idx[:, t]] * w[:, t, None, None], 0.0)
    assert np.array_equal(got, want.astype(np.float32))


def test_irregular_ratios_keep_the_gather():
    from convergent.data import resample

    assert resample.runs(26, 64) is None and resample.runs(51, 64) is None


@pytest.mark.parametrize("zoom", [1.05, 1.1, 1.15])
def test_crop_boxes_run_on_strided_views_with_the_gathers_result(zoom):
    from convergent.data import resample

    c = 32 / zoom
    lo, hi = float(np.float32((32 - c) / 2)), float(np.float32((32 + c) / 2))
    assert resample.runs(32, 32, lo, hi) is None
    assert resample.column_runs(32, 32, lo, hi) is not None
    x = np.random.default_rng(5).normal(size=(32, 4, 3))  # negative values too
    idx, w = resample.taps(32, 32, lo, hi)
    want = x[idx[:, 0]] * w[:, 0, None, None]
    for t in range(1, idx.shape[1]):  # the gather's order, zero-weight taps included
        if w[:, t].any():
            want += x[idx[:, t]] * w[:, t, None, None]
    assert np.array_equal(resample._first_axis(x, 32, lo, hi), want.astype(np.float32))
