"""Per-image facts: decoding outcomes, exposure statistics, blur, hashes, embeddings."""

import io

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter

from convergent.data import features as F

from .conftest import jpeg, pattern


def png(arr, mode=None):
    buf = io.BytesIO()
    Image.fromarray(arr, mode=mode).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("data, error", [
    (b"", "zero bytes"), (b"<!doctype html><p>no", "HTML page"),
    (b"version https://git-lfs.github.com/spec/v1\n", "git-lfs pointer"),
    (b"\x00\x01garbage", "not an image")], ids=["empty", "html", "lfs", "garbage"])
def test_undecodable_bytes(data, error):
    f = F.facts_from_bytes(data)
    assert not f["ok"] and f["error"] == error


def test_truncated_png_is_not_ok():
    data = png(pattern("rings", np.random.default_rng(0)))
    f = F.facts_from_bytes(data[: len(data) // 2])
    assert not f["ok"] and f["error"].startswith(("truncated", "undecodable"))


def test_facts_of_a_healthy_picture():
    arr = pattern("hbars", np.random.default_rng(0))
    f = F.facts_from_bytes(png(arr))
    assert f["ok"] and (f["width"], f["height"], f["bands"]) == (32, 32, 3)
    assert 0.2 < f["bright"] < 0.8 and f["chan_diff"] > 1.0
    assert f["emb"].shape == (F.EMB_DIM,) and abs(np.linalg.norm(f["emb"]) - 1) < 1e-3
    assert f["size_bytes"] == len(png(arr))


def test_gray_image_has_equal_channels():
    g = pattern("vbars", np.random.default_rng(0)).mean(axis=2).astype(np.uint8)
    assert F.facts_from_bytes(png(np.repeat(g[..., None], 3, 2)))["chan_diff"] < 1.0
    assert F.facts_from_bytes(png(g))["bands"] == 1


def test_blur_lowers_the_sharpness_score_whatever_the_size():
    rng = np.random.default_rng(1)
    arr = pattern("diag", rng, size=64).astype(np.float32)
    sharp = F.facts_from_pixels(arr.astype(np.uint8))["blur"]
    blurred = F.facts_from_pixels(gaussian_filter(arr, (3, 3, 0)).astype(np.uint8))["blur"]
    assert blurred < 0.5 * sharp
    big = np.asarray(Image.fromarray(arr.astype(np.uint8)).resize((256, 256), Image.NEAREST))
    assert F.facts_from_pixels(big)["blur"] == pytest.approx(sharp, rel=0.5)


def test_embeddings_survive_jpeg_and_brightness_and_differ_across_pictures():
    rng = np.random.default_rng(2)
    a = pattern("rings", rng)
    fa, fj = F.facts_from_pixels(a), F.facts_from_pixels(jpeg(a))
    fb = F.facts_from_pixels(np.clip(a * 1.1, 0, 255).astype(np.uint8))
    other = F.facts_from_pixels(pattern("hbars", rng))
    assert float(fa["emb"] @ fj["emb"]) > 0.98 > float(fa["emb"] @ other["emb"])
    assert float(fa["emb"] @ fb["emb"]) > 0.98
    # gradients of a JPEG copy are noisier (0.86 here), a brightened copy keeps its HOG
    assert float(fa["hog"] @ fb["hog"]) > 0.98
    assert float(fa["hog"] @ other["hog"]) < 0.9
    assert fa["md5"] != fj["md5"] and fa["md5"] != fb["md5"]
    assert fa["md5"] == F.facts_from_pixels(a.copy())["md5"]


def test_no_column_without_a_reader():
    # the 64-bit dHash / pHash were computed for every image and read by no check
    assert not {"dhash", "phash"} & set(F.COLUMNS)


def test_shard_facts_reads_files_once_and_reports_missing(tmp_path):
    (tmp_path / "a.png").write_bytes(png(pattern("hbars", np.random.default_rng(0))))
    cols = F.shard_facts(str(tmp_path), ["a.png", "missing.png"])
    assert cols["ok"].tolist() == [True, False]
    assert cols["error"][1].startswith("unreadable") and cols["emb"].shape == (2, F.EMB_DIM)


def test_facts_do_not_depend_on_the_other_images_of_the_batch():
    rng = np.random.default_rng(3)
    imgs = [pattern(c, rng) for c in ("hbars", "rings", "diag")]
    imgs += [np.asarray(Image.fromarray(imgs[0]).resize((48, 20))), imgs[1][..., 0]]
    together = F.pixel_facts(imgs)
    for i, img in enumerate(imgs):
        alone = F.pixel_facts([img])
        for k, v in together.items():
            assert np.array_equal(v[i], alone[k][0]), (i, k)


def test_pixel_facts_reports_unusable_arrays_and_keeps_the_others():
    cols = F.pixel_facts([np.zeros((8, 8, 2), np.uint8), np.zeros((8, 8), np.uint8)])
    assert cols["ok"].tolist() == [False, True]
    assert cols["error"][0].startswith("unsupported image shape")


def test_orientation_bins_match_the_arctan2_definition():
    from convergent.data.features import HOG_BINS, orientation_bins

    rng = np.random.default_rng(3)
    gx, gy = rng.normal(size=(2, 20000)).astype(np.float32)
    gx[:4], gy[:4] = [1, 0, -1, 0], [0, 1, 0, -1]  # on the axes: 0, 90, 180 (= 0), 270 (= 90)
    ref = np.minimum((np.mod(np.arctan2(gy, gx), np.pi) / np.pi * HOG_BINS).astype(int),
                     HOG_BINS - 1)
    got = orientation_bins(gx, gy)
    assert got[:4].tolist() == [0, HOG_BINS // 2, 0, HOG_BINS // 2]
    assert (got != ref).mean() < 1e-3  # only float rounding right on a bin edge differs
    assert got.min() == 0 and got.max() == HOG_BINS - 1


@pytest.mark.parametrize("q", [[1, 99], 99, [50], 1, [0, 100], 0, 100],
                         ids=["1-99", "99-scalar", "50", "1-scalar", "0-100", "0", "100"])
@pytest.mark.parametrize("n", [1, 2, 7, 1024, 4097], ids=lambda n: f"n{n}")
def test_row_percentiles_and_median_equal_numpy(q, n):
    rng = np.random.default_rng(n)
    a = rng.random((6, n)).astype(np.float32)
    a[0] = 0.5  # all tied
    a[1, : n // 2] = 0.0  # half tied
    want, got = np.percentile(a, q, axis=1), F.row_percentiles(a, q)
    assert got.dtype == want.dtype and np.array_equal(got, want)
    med = np.median(a, axis=1)
    assert F.row_median(a).dtype == med.dtype and np.array_equal(F.row_median(a), med)


def _bins_by_difference(gx, gy, bins=9):
    """The previous orientation-bin formulation (sign of c*y - s*x), as the reference."""
    flip = (gy < 0) | ((gy == 0) & (gx < 0))
    x, y = np.where(flip, -gx, gx), np.where(flip, -gy, gy)
    out = np.zeros(x.shape, np.int64)
    for k in range(1, bins):
        phi = k * np.pi / bins
        out += (np.float32(np.cos(phi)) * y - np.float32(np.sin(phi)) * x) >= 0
    return out


@pytest.mark.parametrize("kind", ["normal", "quantized", "image-gradients"])
def test_orientation_bins_equal_the_difference_form_bit_for_bit(kind):
    rng = np.random.default_rng(5)
    if kind == "image-gradients":
        g = rng.random((64, 32, 32)).astype(np.float32)
        g[:, :6, :6] = 0.5  # flat: zero gradients
        g[:8] = np.round(g[:8] * 4) / 4  # ties and exact edges
        gy, gx = np.gradient(g, axis=(1, 2))
    else:
        gx, gy = rng.normal(size=(2, 200_000)).astype(np.float32)
        if kind == "quantized":
            gx, gy = np.round(gx * 8) / 8, np.round(gy * 8) / 8
    assert np.array_equal(F.orientation_bins(gx, gy), _bins_by_difference(gx, gy))


@pytest.mark.parametrize("m", [1, 2, 7, 256], ids=lambda m: f"m{m}")
def test_pool2_and_hypot32_equal_numpy_bit_for_bit(m):
    rng = np.random.default_rng(m)
    g = rng.random((m, 32, 32)).astype(np.float32)
    g[0, :8] = 0.25  # ties
    want = g.reshape(m, 16, 2, 16, 2).mean(axis=(2, 4))
    assert np.array_equal(F.pool2(g), want) and F.pool2(g).dtype == np.float32
    n = rng.normal(size=(m, 32, 32)).astype(np.float32)
    gy, gx = np.gradient(g, axis=(1, 2))
    for x, y in ((gx, gy), (n, g), (n * 1e-20, n), (n * 1e20, n)):
        assert np.array_equal(F.hypot32(x, y), np.hypot(x, y))
