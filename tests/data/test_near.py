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
