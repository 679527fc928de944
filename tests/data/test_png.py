"""The plain-PNG short path gives Pillow's pixels, and leaves every other file to Pillow."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from convergent.data import features as F
from convergent.data.png import decode_plain


def png_bytes(arr, **save):
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG", **save)
    return buf.getvalue()


def pillow(data):
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return im.mode, np.asarray(im)


def pixels(shape, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, shape, dtype=np.uint8)
    a[: shape[0] // 2] //= 17  # flat runs as well as noise: every PNG row filter is used
    return a


@pytest.mark.parametrize("shape", [(32, 32, 3), (32, 32), (64, 48, 4), (5, 7, 2), (1, 1, 3),
                                   (300, 200, 3)],
                         ids=["rgb32", "gray32", "rgba", "gray-alpha", "1x1", "300x200"])
@pytest.mark.parametrize("level", [0, 6, 9], ids=lambda v: f"zlib{v}")
def test_plain_files_decode_to_pillows_pixels(shape, level):
    arr = pixels(shape)
    data = png_bytes(arr, compress_level=level)
    im = decode_plain(data)
    assert im is not None
    mode, want = pillow(data)
    assert im.mode == mode and np.array_equal(np.asarray(im), want)


def test_decode_gives_the_same_facts_with_and_without_the_short_path(monkeypatch):
    datas = [png_bytes(pixels(s, k)) for k, s in enumerate([(32, 32, 3), (32, 32),
                                                             (40, 300, 4), (64, 64, 2)])]
    fast = [F.decode(d) for d in datas]
    monkeypatch.setattr(F, "decode_plain", lambda data: None)
    slow = [F.decode(d) for d in datas]
    for (a, ma), (b, mb) in zip(fast, slow, strict=True):
        assert ma == mb and a.dtype == b.dtype and np.array_equal(a, b)


def _chunk(cid, body):
    return struct.pack(">I", len(body)) + cid + body + struct.pack(">I", zlib.crc32(cid + body))


def _cases():
    good = png_bytes(pixels((16, 16, 3)))
    iend = good.rindex(b"IEND") - 4
    info = PngImagePlugin.PngInfo()
    info.add_text("k", "v")
    bad_crc = bytearray(good)
    bad_crc[29] ^= 1  # a byte of IHDR's checksum
    ihdr16 = _chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 16, 0, 0, 0, 0))
    raw16 = zlib.compress(b"".join(b"\x00" + bytes(8) for _ in range(4)))
    return {
        "truncated-in-data": good[: len(good) // 2],
        "no-IEND": good[:iend],
        "bad-IHDR-checksum": bytes(bad_crc),
        "palette": _palette_png(),
        "16-bit": F_SIG + ihdr16 + _chunk(b"IDAT", raw16) + _chunk(b"IEND", b""),
        "interlaced": _interlaced_png(),
        "text-chunk": png_bytes(pixels((16, 16, 3)), pnginfo=info),
        "dpi-chunk": png_bytes(pixels((16, 16, 3)), dpi=(72, 72)),
        "jpeg": _jpeg(),
        "empty": b"",
        "signature-only": F_SIG,
        "corrupt-zlib": good.replace(good[good.index(b"IDAT") + 6:good.index(b"IDAT") + 10],
                                     b"\xff\xff\xff\xff"),
    }


F_SIG = b"\x89PNG\r\n\x1a\n"


def _palette_png():
    buf = io.BytesIO()
    Image.fromarray(pixels((16, 16, 3))).convert("P").save(buf, "PNG")
    return buf.getvalue()


def _interlaced_png():
    raw = b"".join(b"\x00" + bytes(range(8 * 3))[: 8 * 3] for _ in range(8))
    ihdr = _chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 1))
    return F_SIG + ihdr + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")


def _jpeg():
    buf = io.BytesIO()
    Image.fromarray(pixels((16, 16, 3))).save(buf, "JPEG")
    return buf.getvalue()


@pytest.mark.parametrize("name", list(_cases()))
def test_anything_else_is_left_to_pillow_with_its_own_result(name, monkeypatch):
    data = _cases()[name]
    assert decode_plain(data) is None
    got = F.decode(data)
    monkeypatch.setattr(F, "decode_plain", lambda d: None)
    want = F.decode(data)
    if isinstance(want, str):
        assert got == want
    else:
        assert got[1] == want[1] and np.array_equal(got[0], want[0])


def test_images_past_pillows_bomb_limit_are_left_to_pillow(monkeypatch):
    data = png_bytes(pixels((20, 20, 3)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    assert decode_plain(data) is None
