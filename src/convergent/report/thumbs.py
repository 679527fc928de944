"""Small inline thumbnails of the images a finding flags (JPEG data: URIs).

A thumbnail is at most ``THUMB_PX`` pixels on its long side; a finding shows at most
``MAX_FILES`` files, ``MAX_PAIRS`` pairs or ``MAX_SAMPLES`` label-noise samples, and a
whole report at most ``MAX_THUMBS`` images, so a scan of thousands of flagged images
still gives a report of a few MB (measured in benchmarks/RESULTS.md, "report").
Files that are missing or cannot be decoded give ``None``: the report shows the name.

Example:
    >>> Thumbnailer(root=None).uri("no/such/file.png") is None
    True
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

# 112 px long side: sharp at the 96-CSS-px cell the template shows, on 1x screens and
# still acceptable on 2x; a 112 px JPEG at quality 75 is 2-5 kB.
THUMB_PX = 112
JPEG_QUALITY = 75
MAX_FILES = 24  # per finding: three rows of the thumbnail grid
MAX_PAIRS = 8
MAX_SAMPLES = 16
MAX_THUMBS = 400  # per report: 400 x ~4 kB = ~1.6 MB of images, far below 10 MB
# A hard bound whatever the images: pure noise, the worst case for JPEG, is ~7.5 kB a
# thumbnail (10 kB as base64), so 400 of them fit; the budget keeps the report < 10 MB.
MAX_THUMB_BYTES = 6_000_000
# Transparent images are flattened onto mid-gray and saved as JPEG: a PNG of a detailed
# RGBA image can be 50 kB at this size, which would break the budget above.
ALPHA_BACKGROUND = (128, 128, 128)


class Thumbnailer:
    """Turn evidence paths (relative to ``root``) into data URIs, each file encoded once."""

    def __init__(self, root: str | Path | None, max_total: int = MAX_THUMBS) -> None:
        self.root = Path(root) if root else None
        self.max_total = max_total
        self._cache: dict[str, str | None] = {}
        self.sizes: dict[str, tuple[int, int]] = {}  # original (width, height) per path
        self.skipped = 0  # thumbnails not made because the report-wide cap was reached
        self.made = 0
        self.bytes = 0  # characters of data URIs made so far

    def path(self, rel: str) -> Path:
        p = Path(str(rel))
        return p if p.is_absolute() or self.root is None else self.root / p

    def uri(self, rel: object) -> str | None:
        """The data URI of ``rel``'s thumbnail, or None (missing, unreadable, over the cap)."""
        key = str(rel)
        if key in self._cache:
            return self._cache[key]
        if self.made >= self.max_total or self.bytes >= MAX_THUMB_BYTES:
            self.skipped += 1
            return None
        uri = _encode(self.path(key), self.sizes, key)
        self._cache[key] = uri
        if uri:
            self.made += 1
            self.bytes += len(uri)
        return uri

    def is_small(self, rel: object) -> bool:
        """True when the original is no larger than the thumbnail (shown pixel-exact)."""
        w, h = self.sizes.get(str(rel), (THUMB_PX + 1, 0))
        return max(w, h) <= THUMB_PX // 2


def _encode(path: Path, sizes: dict[str, tuple[int, int]], key: str) -> str | None:
    try:
        from PIL import Image

        with Image.open(path) as im:
            sizes[key] = im.size
            im.draft("RGB", (THUMB_PX * 2, THUMB_PX * 2))  # fast JPEG decode at low res
            im.thumbnail((THUMB_PX, THUMB_PX))
            has_alpha = im.mode in ("RGBA", "LA", "PA") or (
                im.mode == "P" and "transparency" in im.info)
            if has_alpha:
                rgba = im.convert("RGBA")
                flat = Image.new("RGB", rgba.size, ALPHA_BACKGROUND)
                flat.paste(rgba, mask=rgba.getchannel("A"))
                im = flat
            buf = io.BytesIO()
            im.convert("L" if im.mode in ("L", "1", "I", "I;16", "F") else "RGB").save(
                buf, "JPEG", quality=JPEG_QUALITY, optimize=True)
    except Exception:  # noqa: BLE001 — any unreadable file just has no thumbnail
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
