"""The generated fault folders: ground truth matches the files on disk, seeded, read-back."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.faults.folders import CLASS_LEVEL, PAIR_LEVEL, load_truth, make_folder, truth_path

ALL_FILE = {"DATA_CORRUPT": 0.04, "DATA_DARK": 0.04, "DATA_BRIGHT": 0.04,
            "DATA_LOW_CONTRAST": 0.04, "DATA_BLURRY": 0.04, "DATA_ODD_SIZE": 0.04,
            "DATA_GRAYSCALE_AS_RGB": 0.04, "DATA_LABEL_NOISE": 0.04, "DATA_OUTLIER": 0.04,
            "DATA_DUPLICATES": 0.04, "DATA_LEAKAGE": 0.04}


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*.png")}


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    root = tmp_path_factory.mktemp("f") / "mixed"
    return root, make_folder(root, ALL_FILE, base="digits", n_per_class=30, seed=0)


def test_truth_is_beside_the_folder_and_matches_files(mixed):
    root, truth = mixed
    assert truth_path(root).parent == root.parent and not list(root.rglob("*.json"))
    on_disk = _files(root)
    doc = load_truth(root)
    assert set(doc["meta"]["files"]) == on_disk
    for code, items in truth.items():
        assert items, code
        flat = [p for pair in items for p in pair] if code in PAIR_LEVEL else items
        assert set(flat) <= on_disk, code
    assert all(a.startswith("train/") and b.startswith("val/")
               for a, b in truth["DATA_LEAKAGE"])


def test_injected_files_have_the_problem(mixed):
    root, truth = mixed
    for p in truth["DATA_CORRUPT"]:
        with pytest.raises(Exception):  # noqa: B017 - any decode error
            Image.open(root / p).load()
    for p in truth["DATA_GRAYSCALE_AS_RGB"]:
        a = np.asarray(Image.open(root / p).convert("RGB")).astype(int)
        assert (a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all()
    for p in truth["DATA_DARK"]:
        assert np.asarray(Image.open(root / p).convert("L")).mean() < 0.2 * 255
    for p in truth["DATA_ODD_SIZE"]:
        assert Image.open(root / p).size != (32, 32)
    exact = [pr for pr in truth["DATA_DUPLICATES"]
             if (root / pr[0]).read_bytes() == (root / pr[1]).read_bytes()]
    assert exact, "the exact-copy variant must be byte-identical"


def test_files_without_problems_are_decodable_and_colour(mixed):
    root, truth = mixed
    bad = set(truth["DATA_CORRUPT"]) | set(truth["DATA_GRAYSCALE_AS_RGB"])
    for p in sorted(_files(root) - bad)[:40]:
        a = np.asarray(Image.open(root / p).convert("RGB")).astype(int)
        assert (a.max(axis=2) - a.min(axis=2)).mean() > 3


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    kw = {"problems": {"DATA_DUPLICATES": 0.05, "DATA_DARK": 0.05}, "base": "digits",
          "n_per_class": 12}
    a = make_folder(tmp_path / "a", seed=3, **kw)
    b = make_folder(tmp_path / "b", seed=3, **kw)
    c = make_folder(tmp_path / "c", seed=4, **kw)
    assert a == b and _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert a != c


@pytest.mark.parametrize("code", CLASS_LEVEL)
def test_class_level_problems(tmp_path, code):
    per_class = 150 if code == "DATA_IMBALANCE" else 40
    truth = make_folder(tmp_path / "c", {code: None}, base="digits", n_per_class=per_class,
                        seed=1)
    root = tmp_path / "c"
    (cls,) = truth[code][:1]
    n = len(list((root / cls).glob("*.png")))
    sizes = [len(list(d.glob("*.png"))) for d in root.iterdir()]
    if code == "DATA_EMPTY_CLASS":
        assert n == 0 and (root / cls).is_dir()
    elif code == "DATA_TOO_FEW":
        assert 2 <= n <= 8
    elif code == "DATA_IMBALANCE":
        assert max(sizes) / n >= 5
    else:
        assert n == per_class
    json.dumps(truth)


def test_healthy_folder_has_no_truth(tmp_path):
    assert make_folder(tmp_path / "h", {}, base="digits", n_per_class=5) == {}


def test_unknown_problem_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown problem"):
        make_folder(tmp_path / "x", {"DATA_FOO": 0.1}, base="digits", n_per_class=5)


def _lum_std(path: Path) -> float:
    a = np.asarray(Image.open(path).convert("RGB"), np.float32) / 255.0
    return float((a @ np.array([0.299, 0.587, 0.114], np.float32)).std())


def test_uninjected_files_as_flat_as_injected_ones_are_acceptable_low_contrast(tmp_path):
    from benchmarks.faults.folders import LOW_CONTRAST_STD

    root = tmp_path / "h"
    make_folder(root, {"DATA_LOW_CONTRAST": 0.05}, base="mnist", n_per_class=40, seed=11)
    doc = load_truth(root)
    injected = set(doc["ground_truth"]["DATA_LOW_CONTRAST"])
    flat = set(doc["acceptable"].get("DATA_LOW_CONTRAST", []))
    assert not flat & injected
    others = sorted(_files(root) - injected)
    for p in others:
        assert (p in flat) == (_lum_std(root / p) <= LOW_CONTRAST_STD[1] + 1e-6), p
