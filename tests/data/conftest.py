"""Tiny generated image folders for the data tests: four visually distinct classes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CLASSES = ("hbars", "vbars", "diag", "rings")
SIZE = 32


def pattern(cls: str, rng: np.random.Generator, size: int = SIZE) -> np.ndarray:
    """A colour picture of the class's pattern, random colours, phase and sensor noise."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    f = rng.uniform(0.25, 0.4)
    ph = rng.uniform(0, 2 * np.pi)
    if cls == "hbars":
        m = np.sin(yy * f + ph)
    elif cls == "vbars":
        m = np.sin(xx * f + ph)
    elif cls == "diag":
        m = np.sin((xx + yy) * f * 0.7 + ph)
    else:
        c = size / 2 + rng.uniform(-3, 3, 2)
        m = np.sin(np.hypot(yy - c[0], xx - c[1]) * f * 1.2 + ph)
    m = (m > 0).astype(np.float32)[..., None]
    bg = rng.uniform(0.35, 0.65, 3)
    fg = np.clip(bg + rng.choice([-1, 1]) * rng.uniform(0.2, 0.3) + rng.uniform(-.1, .1, 3),
                 0, 1)
    angle = rng.uniform(0, 2 * np.pi)  # a soft gradient, different in every picture
    grad = ((np.cos(angle) * xx + np.sin(angle) * yy) / size - 0.5)[..., None] * 0.08
    img = (bg + grad) * (1 - m) + fg * m
    # two small patches of random colours at random places: no two pictures alike
    for _ in range(2):
        y0, x0 = rng.integers(2, size - 10, 2)
        img[y0:y0 + 8, x0:x0 + 8] = rng.uniform(0.2, 0.8, 3)
    img = img + rng.normal(0, 0.01, (size, size, 3))
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


def save(arr: np.ndarray, path: Path, fmt: str = "PNG", **kw) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, format=fmt, **kw)


def make_healthy(root: Path, per_class: int = 24, seed: int = 0, split: str = "") -> Path:
    rng = np.random.default_rng(seed)
    for cls in CLASSES:
        for k in range(per_class):
            save(pattern(cls, rng), root / split / cls / f"{cls}_{k:03d}.png")
    return root


def jpeg(arr: np.ndarray, quality: int = 70) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def load(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.fixture(scope="session")
def healthy_report(tmp_path_factory):
    from convergent.data.scan import scan

    root = make_healthy(tmp_path_factory.mktemp("healthy") / "data")
    return scan(root)


@pytest.fixture(scope="session")
def faulty(tmp_path_factory):
    """One folder with every folder-level problem injected into known files."""
    from scipy.ndimage import gaussian_filter

    from convergent.data.scan import scan

    root = make_healthy(tmp_path_factory.mktemp("faulty") / "data", seed=1)
    rng = np.random.default_rng(5)
    truth: dict[str, list] = {}
    h = root / "hbars"
    # corrupt: truncated PNG, zero bytes, HTML under .png
    data = (h / "hbars_000.png").read_bytes()
    (h / "hbars_000.png").write_bytes(data[: len(data) // 2])
    (h / "hbars_001.png").write_bytes(b"")
    (h / "hbars_002.png").write_bytes(b"<!DOCTYPE html><html>403</html>")
    truth["DATA_CORRUPT"] = ["hbars/hbars_000.png", "hbars/hbars_001.png", "hbars/hbars_002.png"]
    v = root / "vbars"
    a = load(v / "vbars_003.png").astype(np.float32)
    save((a * 0.15).astype(np.uint8), v / "vbars_003.png")
    truth["DATA_DARK"] = ["vbars/vbars_003.png"]
    a = load(v / "vbars_004.png").astype(np.float32)
    save((255 - (255 - a) * 0.1).astype(np.uint8), v / "vbars_004.png")
    truth["DATA_BRIGHT"] = ["vbars/vbars_004.png"]
    a = load(v / "vbars_005.png").astype(np.float32)
    m = a.mean(axis=(0, 1))
    save(np.round(m + (a - m) * 0.08).astype(np.uint8), v / "vbars_005.png")
    truth["DATA_LOW_CONTRAST"] = ["vbars/vbars_005.png"]
    a = load(v / "vbars_006.png").astype(np.float32)
    save(np.round(gaussian_filter(a, (2.5, 2.5, 0))).astype(np.uint8), v / "vbars_006.png")
    truth["DATA_BLURRY"] = ["vbars/vbars_006.png"]
    d = root / "diag"
    save(np.asarray(Image.fromarray(load(d / "diag_007.png")).resize((96, 24))),
         d / "diag_007.png")
    truth["DATA_ODD_SIZE"] = ["diag/diag_007.png"]
    g = np.asarray(Image.fromarray(load(d / "diag_008.png")).convert("L"))
    save(g, d / "diag_008.png")
    g9 = np.asarray(Image.fromarray(load(d / "diag_009.png")).convert("L"))
    save(np.repeat(g9[..., None], 3, axis=2), d / "diag_009.png")
    truth["DATA_GRAYSCALE_AS_RGB"] = ["diag/diag_008.png", "diag/diag_009.png"]
    # duplicates: an exact copy and a JPEG re-encode
    r = root / "rings"
    src = load(r / "rings_010.png")
    save(src, r / "rings_dup_exact.png")
    save(jpeg(load(r / "rings_011.png")), r / "rings_dup_jpeg.jpg")
    truth["DATA_DUPLICATES"] = [["rings/rings_010.png", "rings/rings_dup_exact.png"],
                                ["rings/rings_011.png", "rings/rings_dup_jpeg.jpg"]]
    # label noise: horizontal-bar images filed under rings and under vbars
    # (five in ~100 images: the label check reports a listing beyond what the folder's
    # hard images predict, labels.CLEAN_TAIL_SHARE; two would be within chance)
    wrong = ["rings/rings_wrong_0.png", "vbars/vbars_wrong_1.png", "diag/diag_wrong_2.png",
             "rings/rings_wrong_3.png", "vbars/vbars_wrong_4.png"]
    for name in wrong:
        save(pattern("hbars", rng), root / name)
    truth["DATA_LABEL_NOISE"] = wrong
    # an empty class (only a .DS_Store) and a 3-image class
    (root / "empty").mkdir()
    (root / "empty" / ".DS_Store").write_bytes(b"\x00\x00")
    for k in range(3):
        save(pattern("diag", rng), root / "tiny" / f"tiny_{k}.png")
    truth["DATA_EMPTY_CLASS"] = ["empty"]
    truth["DATA_TOO_FEW"] = ["tiny"]
    return root, truth, scan(root)
