"""Thumbnails: small, the right format, and None rather than an error for bad files."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
from PIL import Image

from convergent.report.thumbs import MAX_THUMB_BYTES, MAX_THUMBS, THUMB_PX, Thumbnailer


def _decode(uri: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def test_large_rgb_becomes_small_jpeg(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((900, 1200, 3), np.uint8)).save(tmp_path / "a.jpg")
    uri = Thumbnailer(tmp_path).uri("a.jpg")
    assert uri.startswith("data:image/jpeg;base64,")
    assert max(_decode(uri).size) <= THUMB_PX and len(uri) < 4000


def test_alpha_is_flattened_and_gray_stays_gray(tmp_path: Path) -> None:
    Image.new("RGBA", (50, 40), (255, 0, 0, 0)).save(tmp_path / "a.png")  # fully transparent
    Image.new("I;16", (50, 40), 1000).save(tmp_path / "g.png")
    t = Thumbnailer(tmp_path)
    flat = _decode(t.uri("a.png"))
    assert flat.format == "JPEG" and abs(flat.getpixel((25, 20))[0] - 128) < 8
    assert _decode(t.uri("g.png")).mode == "L"


def test_worst_case_images_stay_within_the_byte_budget(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for i in range(3):  # pure noise with alpha: the largest thumbnail there can be
        Image.fromarray(rng.integers(0, 256, (300, 300, 4), dtype=np.uint8), "RGBA").save(
            tmp_path / f"{i}.png")
    t = Thumbnailer(tmp_path)
    sizes = [len(t.uri(f"{i}.png")) for i in range(3)]
    assert max(sizes) * MAX_THUMBS < MAX_THUMB_BYTES * 1.1  # the count cap binds first
    t.bytes = MAX_THUMB_BYTES  # budget spent: no more thumbnails
    assert t.uri("0.png") is not None and t.uri("new.png") is None and t.skipped == 1


def test_bad_files_give_none(tmp_path: Path) -> None:
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    (tmp_path / "empty.png").write_bytes(b"")
    t = Thumbnailer(tmp_path)
    assert [t.uri(p) for p in ("bad.jpg", "empty.png", "missing.png")] == [None] * 3


def test_report_wide_cap(tmp_path: Path) -> None:
    for i in range(5):
        Image.new("RGB", (8, 8)).save(tmp_path / f"{i}.png")
    t = Thumbnailer(tmp_path, max_total=3)
    got = [t.uri(f"{i}.png") for i in range(5)]
    assert sum(u is not None for u in got) == 3 and t.skipped == 2
    assert t.uri("0.png") == got[0]  # cached, not counted twice
