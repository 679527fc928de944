"""Duplicates, leakage and low variety on tiny generated folders."""

import numpy as np
import pytest
from PIL import Image

from convergent.data.scan import scan

from ..conftest import jpeg, load, make_healthy, pattern, save


def _find(report, code):
    return next((x for x in report.findings if x.code.value == code), None)


def test_duplicates_exact_and_jpeg(faulty, healthy_report):
    _, truth, report = faulty
    f = _find(report, "DATA_DUPLICATES")
    assert f is not None and f.evidence["pairs"] == truth["DATA_DUPLICATES"]
    assert f.evidence["exact"] == 1
    assert _find(healthy_report, "DATA_DUPLICATES") is None


@pytest.fixture(scope="module")
def leaky(tmp_path_factory):
    root = tmp_path_factory.mktemp("leaky")
    make_healthy(root, per_class=12, split="train")
    make_healthy(root, per_class=4, seed=9, split="val")
    a = load(root / "train/vbars/vbars_000.png")
    save(jpeg(a), root / "val/vbars/leak_jpeg.png")
    b = load(root / "train/diag/diag_001.png")
    crop = np.asarray(Image.fromarray(b[2:30, 1:29]).resize((32, 32), Image.BICUBIC))
    save(crop, root / "val/diag/leak_crop.png")
    c = load(root / "train/rings/rings_002.png").astype(np.float32)
    save(np.clip(np.round(c * 1.1), 0, 255).astype(np.uint8), root / "val/rings/leak_bright.png")
    return root, scan(root)


def test_leakage_pairs_train_first(leaky):
    _, report = leaky
    f = _find(report, "DATA_LEAKAGE")
    assert f is not None
    assert f.evidence["pairs"] == [
        ["train/diag/diag_001.png", "val/diag/leak_crop.png"],
        ["train/rings/rings_002.png", "val/rings/leak_bright.png"],
        ["train/vbars/vbars_000.png", "val/vbars/leak_jpeg.png"]]


def test_no_leakage_between_distinct_splits(tmp_path):
    make_healthy(tmp_path, per_class=12, split="train")
    make_healthy(tmp_path, per_class=4, seed=9, split="val")
    assert _find(scan(tmp_path), "DATA_LEAKAGE") is None


def test_low_variety_class(tmp_path, healthy_report):
    make_healthy(tmp_path, per_class=12)
    rng = np.random.default_rng(3)
    seeds = [pattern("rings", rng) for _ in range(2)]
    for p in (tmp_path / "rings").iterdir():
        p.unlink()
    for k in range(12):
        s = np.roll(seeds[k % 2], int(rng.integers(-1, 2)), axis=1).astype(np.float32)
        save(np.clip(s * rng.uniform(0.97, 1.03), 0, 255).astype(np.uint8),
             tmp_path / "rings" / f"r{k}.png")
    f = _find(scan(tmp_path), "DATA_LOW_VARIETY")
    assert f is not None and f.evidence["classes"] == ["rings"]
    assert _find(healthy_report, "DATA_LOW_VARIETY") is None


def test_leakage_severity_grows_with_the_leaked_share(leaky):
    from convergent.data.checks.similarity import LEAK_MAJORITY, _leak_severity

    _, report = leaky
    assert _find(report, "DATA_LEAKAGE").severity.value == "warning"  # 3 of 19 held out
    assert _leak_severity(1, 200).value == "info"
    assert _leak_severity(int(LEAK_MAJORITY * 200), 200).value == "error"


def test_leakage_within_the_validation_noise_is_advice():
    from convergent.data.checks.similarity import _leak_severity

    # one standard error of a 400-image accuracy is 2.5 %: 10 copies are inside it
    assert _leak_severity(10, 400).value == "info"
    assert _leak_severity(11, 400).value == "warning"
    # large validation sets keep the 1 % floor (SE of 20,000 images is 0.35 %)
    assert _leak_severity(201, 20_000).value == "warning"


def test_duplicate_severity_counts_the_extra_copies():
    from convergent.data.checks.similarity import _groups

    # a chain 0-1-2 and a pair 5-6: 5 images in 2 groups, 3 extra copies
    assert _groups(np.array([0, 1, 5]), np.array([1, 2, 6])) == 2
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (400, 16, 16)).astype(np.uint8)
    y = np.arange(400) % 4
    for k in range(3):  # 3 exact copies: 6 files in pairs, 3 extra copies = 0.75 %
        x[100 + k] = x[k]
    f = _find(scan(x, y), "DATA_DUPLICATES")
    assert f.evidence["extra_copies"] == 3 and f.severity.value == "info"
    for k in range(3, 6):  # 6 extra copies of 400 = 1.5 %: more than advice
        x[100 + k] = x[k]
    assert _find(scan(x, y), "DATA_DUPLICATES").severity.value == "warning"
