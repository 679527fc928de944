"""Near-duplicate verification: crops align, distinct pictures do not."""

import numpy as np
import pytest
from PIL import Image

from convergent.data import features as F
from convergent.data import near

from .conftest import pattern


def test_crop_matches_after_alignment_but_distinct_pictures_do_not():
    rng = np.random.default_rng(0)
    a = pattern("diag", rng)
    crop = np.asarray(Image.fromarray(a[2:30, 1:29]).resize((32, 32), Image.BICUBIC))
    b = pattern("diag", rng)
    g = np.stack([F.facts_from_pixels(x)["g32"] for x in (a, crop, b)])
    corr = near.aligned_corr(g, np.array([[0, 1], [0, 2]]))
    assert corr[0] >= near.ALIGN_NEAR > corr[1]


def test_find_pairs_without_an_n_by_n_matrix():
    import pandas as pd

    rng = np.random.default_rng(1)
    imgs = [pattern(c, rng) for c in ("hbars", "vbars", "rings", "diag") * 5]
    imgs.append(imgs[3].copy())
    cols = F.columns([F.facts_from_pixels(x) for x in imgs])
    df = pd.DataFrame({k: cols[k] for k in F.COLUMNS})
    pairs = near.find_pairs(df, cols["emb"], cols["g32"])
    assert pairs[["i", "j", "kind"]].values.tolist() == [[3, 20, "exact"]]


def test_alignment_is_the_same_in_partner_blocks(monkeypatch):
    rng = np.random.default_rng(2)
    g = np.stack([F.facts_from_pixels(pattern(c, rng))["g32"]
                  for c in ("diag", "rings", "hbars", "vbars") * 3])
    hub = [[0, j] for j in range(1, 12)] + [[3, 7], [5, 9]]  # image 0 pairs with all
    pairs = np.array(hub)
    whole = near.aligned_corr(g, pairs)
    monkeypatch.setattr(near, "PARTNER_BLOCK", 2)
    monkeypatch.setattr(near, "ALIGN_CHUNK", 3)
    np.testing.assert_allclose(near.aligned_corr(g, pairs), whole, atol=1e-6)


@pytest.mark.parametrize("m", [1, 3, 200], ids=lambda m: f"m{m}")
def test_pool4_equals_numpys_two_axis_mean_bit_for_bit(m):
    from convergent.data.near import _pool4

    g = np.random.default_rng(m).normal(size=(m, 1024)).astype(np.float16)
    want = g.astype(np.float32).reshape(-1, 8, 4, 8, 4).mean(axis=(2, 4))
    got = _pool4(g)
    assert got.dtype == np.float32 and np.array_equal(got, want)


def _blob(rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """A blurred silhouette with a random outline, always the same two colours."""
    from scipy.ndimage import gaussian_filter

    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    c = size / 2 + rng.uniform(-1, 1, 2)
    ang = np.arctan2(yy - c[0], xx - c[1])
    r = 9 + sum(rng.uniform(0, 2.5) * np.cos(k * ang + rng.uniform(0, 6.3)) for k in range(2, 6))
    m = (np.hypot(yy - c[0], xx - c[1]) < r).astype(np.float32)[..., None]
    img = np.array([0.6, 0.5, 0.4]) * (1 - m) + np.array([0.3, 0.22, 0.15]) * m
    img = gaussian_filter(img, (2, 2, 0)) + rng.normal(0, 0.005, (size, size, 3))
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("soft_rule,residual_rule", [(True, True), (False, True), (True, False),
                                                     (False, False)],
                         ids=["both", "residual_only", "soft_only", "neither"])
def test_blurred_look_alikes_are_not_near_copies_but_a_crop_of_one_is(monkeypatch, soft_rule,
                                                                       residual_rule):
    import pandas as pd

    rng = np.random.default_rng(0)
    sharp = [pattern(c, rng) for c in ("hbars", "vbars", "rings", "diag") * 6]
    soft = [_blob(rng) for _ in range(16)]
    crop = np.asarray(Image.fromarray(soft[0][2:30, 1:29]).resize((32, 32), Image.BICUBIC))
    imgs = sharp + soft + [crop]
    cols = F.columns([F.facts_from_pixels(x) for x in imgs])
    df = pd.DataFrame({k: cols[k] for k in F.COLUMNS})
    assert near._soft(df["blur"].to_numpy()).tolist() == [False] * 24 + [True] * 17
    real = near.aligned_corr
    n0, last = len(sharp), len(imgs) - 1

    def blur_makes_them_alike(g, pairs):  # every two distinct blobs correlate 0.96-0.97
        out = real(g, pairs)
        lo, hi = pairs.min(axis=1), pairs.max(axis=1)
        alike = (lo >= n0) & (hi < last)
        return np.where(alike, np.float32(0.96) + np.float32(0.01) * (lo % 2), out)

    monkeypatch.setattr(near, "aligned_corr", blur_makes_them_alike)
    if not soft_rule:
        monkeypatch.setattr(near, "SOFT_RATIO", 0.0)
    if not residual_rule:
        monkeypatch.setattr(near, "RESIDUAL_SHARE", np.inf)
    pairs = near.find_pairs(df, cols["emb"], cols["g32"])
    got = pairs[["i", "j"]].values.tolist()
    assert [n0, last] in got  # the crop copy of a blurred image is still found
    if soft_rule or residual_rule:  # either rule alone rejects the look-alikes
        assert got == [[n0, last]]
    else:  # without both the look-alikes pass the fixed gate
        assert len(got) > 10


def test_pair_dots_in_chunks_equal_the_products_at_once(monkeypatch):
    rng = np.random.default_rng(0)
    e = rng.normal(size=(30, 16)).astype(np.float32)
    p = rng.integers(0, 30, size=(50, 2))
    monkeypatch.setattr(near, "CANDIDATE_CHUNK", 7)  # 8 chunks, the last one short
    assert np.array_equal(near.pair_dots(e, p), np.einsum("ij,ij->i", e[p[:, 0]], e[p[:, 1]]))
