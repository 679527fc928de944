"""A short path for plain PNG files: Pillow's own C decoder without its Python plumbing.

A 32x32 PNG costs ~90 us through ``Image.open`` + ``load`` + ``np.asarray``, of which
Pillow's C "zip" decoder (inflate + unfilter) is ~45 us; the rest is the plugin search,
the Python chunk reader and the tile loop. For the plainest files - 8-bit gray, RGB,
RGBA or gray+alpha, not interlaced, holding only IHDR, IDAT and IEND chunks, complete up
to IEND, with a valid IHDR checksum - ``decode_plain`` parses the chunks itself and
hands the image data to the same C decoder Pillow's PNG plugin uses, with the same
arguments: the pixels are Pillow's (identical on the 8,437 such files of the bench
folders; test). Everything else (other chunk types, palettes, 16-bit, interlacing,
anything truncated or broken, images past Pillow's decompression-bomb limit) returns
None and goes through Pillow as before, so every error message stays Pillow's.

Example:
    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO(); Image.new("RGB", (4, 3), (9, 8, 7)).save(buf, "PNG")
    >>> decode_plain(buf.getvalue()).getpixel((0, 0))
    (9, 8, 7)
"""

from __future__ import annotations

import struct
import zlib

from PIL import Image

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# (bit depth, colour type) -> (mode, raw mode), as Pillow's PngImagePlugin maps them
MODES = {(8, 0): ("L", "L"), (8, 2): ("RGB", "RGB"), (8, 4): ("LA", "LA"),
         (8, 6): ("RGBA", "RGBA")}


def decode_plain(data: bytes) -> Image.Image | None:
    """The decoded image of a plain PNG file (see the module docstring), else None."""
    try:
        return _decode(data)
    except Exception:  # noqa: BLE001 - anything unusual: Pillow's full path decides
        return None


def _decode(data: bytes) -> Image.Image | None:
    if not data.startswith(SIGNATURE):
        return None
    n = len(data)
    pos = len(SIGNATURE)
    header = None
    idat: list[bytes] = []
    while True:
        if pos + 12 > n:  # no complete chunk left before IEND
            return None
        length, cid = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > n:
            return None
        if cid == b"IHDR":
            # Pillow checks the checksums of the chunks before the image data
            crc = struct.unpack_from(">I", data, end - 4)[0]
            if header is not None or length != 13 or zlib.crc32(data[pos + 4:end - 4]) != crc:
                return None
            header = struct.unpack_from(">IIBBBBB", data, pos + 8)
        elif cid == b"IDAT" and header is not None:
            idat.append(data[pos + 8:end - 4])
        elif cid == b"IEND" and idat:
            break
        else:
            return None
        pos = end
    width, height, depth, colour, method, filtering, interlace = header
    limit = Image.MAX_IMAGE_PIXELS
    if (depth, colour) not in MODES or method or filtering or interlace or width < 1 or \
            height < 1 or (limit is not None and width * height > limit):
        return None
    mode, raw = MODES[(depth, colour)]
    im = Image.new(mode, (width, height))
    decoder = Image._getdecoder(mode, "zip", raw)  # what ImageFile.load builds for PNG
    try:
        decoder.setimage(im.im, (0, 0, width, height))
        consumed, err = decoder.decode(b"".join(idat))
    finally:
        decoder.cleanup()
    if consumed >= 0 or err < 0:  # wants more data, or failed: Pillow says how
        return None
    return im
