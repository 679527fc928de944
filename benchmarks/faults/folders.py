"""Image folders with injected, known problems: the ground truth for ``convergent scan``.

A folder is built from one of the offline datasets of :mod:`convergent.datasets`
(``mnist``, ``animals``, ``digits``); every grayscale glyph is upscaled and rendered as a
colour picture (random background and foreground colours, a soft background gradient,
sensor-like noise), so a healthy folder looks like a small RGB photo set, not like MNIST.
Problems are then injected into a known set of files, with varying strength, and the
ground truth is returned and written to ``<root>.ground_truth.json`` *beside* the folder
(never inside it, so a scan never sees it).

File names are random numbers (``00417.png``), so nothing in a name tells a checker which
file was altered or where a file came from.

Problems (value: a fraction of the folder's images when < 1, a count when >= 1):

=====================  ==============================================================
DATA_CORRUPT           files replaced by a truncated PNG, zero bytes or text (HTML
                       error page, git-lfs pointer) under the image extension
DATA_EMPTY_CLASS       value = number of classes whose folder holds no image (empty, or
                       only ``.DS_Store`` / ``Thumbs.db`` / a text note)
DATA_TOO_FEW           value = number of classes left with 2-8 images
DATA_IMBALANCE         value = ratio majority/minority (default 12); ~30 % of the
                       classes keep ``n / ratio`` images (x0.8-1.25, at least 10)
DATA_DUPLICATES        extra copies of existing images in the same class: exact, JPEG
                       q=70, resized to 0.8x (saved at that size), cropped 5-10 %,
                       brightness +10 %; truth = pairs (original, copy)
DATA_LEAKAGE           copies of train images placed in ``val/`` (same transforms);
                       forces ``with_val``; truth = pairs (train file, val file)
DATA_DARK              mean luminance pushed down to 0.03-0.15 (healthy: ~0.2-0.8)
DATA_BRIGHT            mean luminance pushed up to 0.86-0.97
DATA_LOW_CONTRAST      luminance std squeezed to 0.008-0.035 (healthy renders: median
                       ~0.13, 5th percentile ~0.07; a few fall inside the injected range
                       and are listed as acceptable, see below)
DATA_BLURRY            Gaussian blur, sigma 1.2-3.5 px at 32 px (scaled with size)
DATA_ODD_SIZE          saved at another size or aspect ratio (3:1, 1:3, tiny, huge)
DATA_GRAYSCALE_AS_RGB  colour images turned gray: half saved RGB with 3 equal
                       channels, half as 1-channel ``L`` PNGs
DATA_LABEL_NOISE       images moved into a wrong class folder
DATA_OUTLIER           images of another dataset (animals <-> digits) dropped into classes
DATA_LOW_VARIETY       value = number of classes made of jittered near-copies of 3-5 images
=====================  ==============================================================

Ground truth per code: relative file paths (posix) for file-level codes, ``[a, b]`` pairs
for DATA_DUPLICATES and DATA_LEAKAGE, and class folder names for the class-level codes
(DATA_EMPTY_CLASS, DATA_TOO_FEW, DATA_IMBALANCE, DATA_LOW_VARIETY). The JSON file also
lists ``acceptable``: files where a *second* code is a fair detection (a resized duplicate
has an odd size; a low-variety class is full of near-duplicates; an outlier looks
mislabelled; a file rendered with a luminance std inside DATA_LOW_CONTRAST's injected
range, because its random stroke and background colours came out that close) and must not
be counted as a false positive.

Example:
    >>> truth = make_folder(tmp_path / "f", {"DATA_DARK": 0.05})  # doctest: +SKIP
    >>> truth["DATA_DARK"][:1]  # doctest: +SKIP
    ['3/00417.png']
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

CLASS_LEVEL = ("DATA_EMPTY_CLASS", "DATA_TOO_FEW", "DATA_IMBALANCE", "DATA_LOW_VARIETY")
PAIR_LEVEL = ("DATA_DUPLICATES", "DATA_LEAKAGE")
FILE_LEVEL = ("DATA_CORRUPT", "DATA_DARK", "DATA_BRIGHT", "DATA_LOW_CONTRAST", "DATA_BLURRY",
              "DATA_ODD_SIZE", "DATA_GRAYSCALE_AS_RGB", "DATA_LABEL_NOISE", "DATA_OUTLIER")
PROBLEMS = CLASS_LEVEL + PAIR_LEVEL + FILE_LEVEL

# Default strength of each problem: a fraction of the images (< 1) or a count / ratio.
DEFAULTS: dict[str, float] = {
    "DATA_CORRUPT": 0.03, "DATA_EMPTY_CLASS": 1, "DATA_TOO_FEW": 1, "DATA_IMBALANCE": 12.0,
    "DATA_DUPLICATES": 0.04, "DATA_LEAKAGE": 0.05, "DATA_DARK": 0.04, "DATA_BRIGHT": 0.04,
    "DATA_LOW_CONTRAST": 0.04, "DATA_BLURRY": 0.05, "DATA_ODD_SIZE": 0.03,
    "DATA_GRAYSCALE_AS_RGB": 0.04, "DATA_LABEL_NOISE": 0.05, "DATA_OUTLIER": 0.03,
    "DATA_LOW_VARIETY": 1,
}
OUTLIER_SOURCE = {"mnist": "animals", "digits": "animals", "animals": "mnist"}
VAL_FRACTION = 0.2  # of n_per_class, when with_val
BASE_SIZE = 32


# DATA_LOW_CONTRAST's injected luminance std (0-1 scale). A file that is not injected but
# whose saved pixels fall inside this range is as flat as an injected one: acceptable.
LOW_CONTRAST_STD = (0.008, 0.035)


@dataclass
class _Item:
    """One file to write: pixels (float RGB in 0-1 before noise) or raw bytes."""

    cls: int
    split: str
    img: np.ndarray | None = None
    raw: bytes | None = None
    mode: str = "RGB"
    size: tuple[int, int] | None = None  # (width, height) to save at, None = as is
    jpeg: int | None = None  # re-encode through JPEG at this quality before saving
    noise: float = 0.01
    codes: dict[str, float] = field(default_factory=dict)  # code -> strength
    path: str = ""
    src: int | None = None  # a copy of this item's saved pixels (duplicates, leakage)
    copy_kind: str = ""


# ---------------------------------------------------------------- rendering


def _upscale(gray: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    im = Image.fromarray(gray).resize((size, size), Image.BICUBIC)
    return np.asarray(im, dtype=np.float32) / 255.0


def _colour(rng: np.random.Generator, lum: float) -> np.ndarray:
    """A colour of roughly this luminance with visible chroma (channels >= 0.08 apart)."""
    while True:
        c = np.clip(lum + rng.uniform(-0.22, 0.22, 3), 0.0, 1.0)
        if c.max() - c.min() >= 0.08:
            return c.astype(np.float32)


def _render(gray: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A grayscale glyph as a colour picture: coloured strokes on a graded background."""
    g = np.clip(_upscale(gray, size), 0.0, 1.0)[..., None]
    lum_bg = rng.uniform(0.25, 0.75)
    sign = rng.choice([-1.0, 1.0]) if 0.4 < lum_bg < 0.6 else (1.0 if lum_bg < 0.5 else -1.0)
    lum_fg = float(np.clip(lum_bg + sign * rng.uniform(0.3, 0.5), 0.05, 0.95))
    bg, fg = _colour(rng, lum_bg), _colour(rng, lum_fg)
    angle = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1) - 0.5
    grad = (np.cos(angle) * xx + np.sin(angle) * yy)[..., None] * rng.uniform(0.0, 0.2)
    img = (bg + grad) * (1.0 - g) + fg * g
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def _lum(img: np.ndarray) -> np.ndarray:
    return img @ np.array([0.299, 0.587, 0.114], dtype=np.float32) if img.ndim == 3 else img


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(img, sigma=(sigma, sigma, 0), mode="reflect")


def _finish(item: _Item, rng: np.random.Generator) -> np.ndarray:
    """Noise, quantisation, optional JPEG round-trip and resize: the uint8 pixels to save."""
    from PIL import Image

    img = item.img
    assert img is not None
    if item.noise > 0:
        if item.mode == "RGB" and "DATA_GRAYSCALE_AS_RGB" not in item.codes:
            img = img + rng.normal(0.0, item.noise, img.shape).astype(np.float32)
        else:  # gray: the same noise in every channel, or the channels would differ
            img = img + rng.normal(0.0, item.noise, img.shape[:2] + (1,)).astype(np.float32)
    arr = np.round(np.clip(img, 0.0, 1.0) * 255.0).astype(np.uint8)
    im = Image.fromarray(arr[..., 0] if item.mode == "L" else arr)
    if item.jpeg is not None:
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=item.jpeg)
        im = Image.open(io.BytesIO(buf.getvalue())).convert(im.mode)
    if item.size is not None and item.size != im.size:
        im = im.resize(item.size, Image.BICUBIC)
    return np.asarray(im)


# ---------------------------------------------------------------- injections


def _count(value: float, n: int) -> int:
    return max(1, round(value * n)) if value < 1 else int(value)


def _pick(rng: np.random.Generator, items: list[_Item], k: int, split: str | None = None
          ) -> list[int]:
    """k untouched items (no code yet, not a copy), from one split when given."""
    ok = [i for i, it in enumerate(items)
          if not it.codes and it.raw is None and it.src is None
          and (split is None or it.split == split)]
    if k > len(ok):
        raise ValueError(f"cannot inject into {k} files: only {len(ok)} untouched files left; "
                         "lower the fractions or raise n_per_class")
    return sorted(int(i) for i in rng.choice(ok, size=k, replace=False))


COPY_KINDS = ("exact", "jpeg70", "resize0.8", "crop", "bright+10%")


def _copy_pixels(arr: np.ndarray, kind: str, rng: np.random.Generator) -> tuple[
        np.ndarray, int | None, tuple[int, int] | None]:
    """A near copy of saved pixels: (pixels, JPEG quality or None, size to save at or None)."""
    from PIL import Image

    h, w = arr.shape[:2]
    if kind == "jpeg70":
        return arr, 70, None
    if kind == "resize0.8":
        return arr, None, (round(w * 0.8), round(h * 0.8))
    if kind == "crop":
        c = max(1, round(min(h, w) * rng.uniform(0.05, 0.10)))
        off = int(rng.integers(0, c + 1))
        crop = Image.fromarray(arr[off:h - (c - off), off:w - (c - off)])
        return np.asarray(crop.resize((w, h), Image.BICUBIC)), None, None
    if kind == "bright+10%":
        return np.clip(np.round(arr.astype(np.float32) * 1.10), 0, 255).astype(np.uint8), \
            None, None
    return arr, None, None


JUNK = {".DS_Store": b"\x00\x00\x00\x01Bud1\x00\x00\x10\x00",
        "Thumbs.db": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "README.txt": b"todo: add images\n"}
CORRUPT_TEXT = [
    (b"<!DOCTYPE html><html><head><title>403 Forbidden</title></head>"
    b"<body><h1>Forbidden</h1></body></html>\n"),
    (b"version https://git-lfs.github.com/spec/v1\n"
    b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
    b"size 2154\n"),
]


def _inject(code: str, value: float, items: list[_Item], rng: np.random.Generator,
            size: int, n_classes: int, extra: dict[str, Any]) -> None:
    n = sum(1 for it in items if it.raw is None and it.split != "val")
    if code in ("DATA_DARK", "DATA_BRIGHT", "DATA_LOW_CONTRAST", "DATA_BLURRY"):
        for i in _pick(rng, items, _count(value, n), "train" if extra["with_val"] else ""):
            it = items[i]
            assert it.img is not None
            lum = _lum(it.img)
            if code == "DATA_DARK":
                target = rng.uniform(0.03, 0.15)
                it.img = it.img * (target / max(float(lum.mean()), 1e-3))
                it.noise = 0.004
            elif code == "DATA_BRIGHT":
                target = rng.uniform(0.86, 0.97)
                k = (1 - target) / max(1 - float(lum.mean()), 1e-3)
                it.img = 1.0 - (1.0 - it.img) * k
                it.noise = 0.004
            elif code == "DATA_LOW_CONTRAST":
                target = rng.uniform(*LOW_CONTRAST_STD)
                m = it.img.mean(axis=(0, 1), keepdims=True)
                it.img = m + (it.img - m) * (target / max(float(lum.std()), 1e-3))
                it.noise = 0.003
            else:
                target = rng.uniform(1.2, 3.5) * size / BASE_SIZE
                it.img = _blur(it.img, target)
            it.img = np.clip(it.img, 0.0, 1.0)
            it.codes[code] = round(float(target), 4)
    elif code == "DATA_CORRUPT":
        for j, i in enumerate(_pick(rng, items, _count(value, n))):
            it = items[i]
            kind = j % 4
            if kind in (0, 1):  # truncated PNG
                from PIL import Image

                buf = io.BytesIO()
                Image.fromarray(_finish(it, rng)).save(buf, format="PNG")
                data = buf.getvalue()
                frac = rng.uniform(0.2, 0.8)
                it.raw = data[: int(len(data) * frac)]
            elif kind == 2:
                it.raw, frac = b"", 0.0
            else:
                it.raw, frac = CORRUPT_TEXT[(j // 4) % 2], -1.0
            it.codes[code] = round(float(frac), 3)
    elif code == "DATA_ODD_SIZE":
        shapes = [(3 * size, size), (size, 3 * size), (size // 3, size // 3),
                  (4 * size, 4 * size), (2 * size, size // 2)]
        for j, i in enumerate(_pick(rng, items, _count(value, n))):
            w, h = shapes[j % len(shapes)]
            items[i].size = (max(4, w), max(4, h))
            items[i].codes[code] = round(w / h, 3)
    elif code == "DATA_GRAYSCALE_AS_RGB":
        for j, i in enumerate(_pick(rng, items, _count(value, n))):
            it = items[i]
            assert it.img is not None
            g = _lum(it.img)[..., None]
            it.img = np.repeat(g, 3, axis=2)
            it.mode = "L" if j % 2 else "RGB"
            it.codes[code] = 1.0
    elif code == "DATA_LABEL_NOISE":
        for i in _pick(rng, items, _count(value, n)):
            it = items[i]
            wrong = int(rng.choice([c for c in range(n_classes) if c != it.cls]))
            it.codes[code] = float(it.cls)
            it.cls = wrong
    elif code == "DATA_OUTLIER":
        from convergent.datasets import load

        ox, _, _ = load(OUTLIER_SOURCE[extra["base"]])
        for j in rng.choice(len(ox), size=_count(value, n), replace=False):
            cls = int(rng.integers(n_classes))
            split = "train" if extra["with_val"] else ""
            items.append(_Item(cls=cls, split=split, img=_render(ox[j], size, rng),
                               noise=float(rng.uniform(0.005, 0.02)),
                               codes={code: float(j)}))
    elif code in PAIR_LEVEL:
        src_split = "train" if extra["with_val"] else ""
        dst_split = "val" if code == "DATA_LEAKAGE" else src_split
        for j, i in enumerate(_pick(rng, items, _count(value, n), src_split)):
            kind = COPY_KINDS[j % len(COPY_KINDS)]
            items[i].codes[code] = 0.0
            extra["pairs"].setdefault(code, []).append((i, len(items), kind))
            items.append(_Item(cls=items[i].cls, split=dst_split, mode=items[i].mode,
                               src=i, copy_kind=kind, codes={code: float(j % 5)}))
    else:
        raise ValueError(f"unknown problem {code!r}; choose from {', '.join(PROBLEMS)}")


def _class_level(problems: dict[str, float], items: list[_Item], rng: np.random.Generator,
                 n_classes: int, size: int) -> tuple[dict[str, list[int]], dict[int, str]]:
    """Empty / too-few / imbalanced / low-variety classes; returns affected class ids."""
    free = list(rng.permutation(n_classes))
    chosen: dict[str, list[int]] = {}
    junk: dict[int, str] = {}
    for code in CLASS_LEVEL:
        if code not in problems:
            continue
        value = problems[code]
        k = max(1, math.ceil(0.3 * n_classes)) if code == "DATA_IMBALANCE" else int(value)
        if k > len(free) - 2:
            raise ValueError(f"{code}: {k} classes asked but only {len(free)} classes are free")
        cls = [int(c) for c in free[:k]]
        free = free[k:]
        chosen[code] = sorted(cls)
        for c in cls:
            members = [i for i, it in enumerate(items) if it.cls == c]
            if code == "DATA_EMPTY_CLASS":
                drop = members
                junk[c] = [".DS_Store", "Thumbs.db", "README.txt", ""][len(junk) % 4]
            elif code == "DATA_TOO_FEW":
                keep = int(rng.integers(2, 9))
                drop = [i for i in members if items[i].split != "val"][keep:]
            elif code == "DATA_IMBALANCE":
                train = [i for i in members if items[i].split != "val"]
                keep = max(10, round(len(train) / value * rng.uniform(0.8, 1.25)))
                drop = train[keep:]
            else:  # DATA_LOW_VARIETY: near-copies of a few seeds
                seeds = [items[i].img for i in members[: int(rng.integers(3, 6))]]
                for i in members:
                    s = seeds[int(rng.integers(len(seeds)))]
                    assert s is not None
                    dy, dx = rng.integers(-2, 3, size=2)
                    img = np.roll(s, (int(dy), int(dx)), axis=(0, 1))
                    items[i].img = np.clip(img * rng.uniform(0.95, 1.05), 0.0, 1.0)
                    items[i].codes[code] = 1.0
                drop = []
            for i in drop:
                items[i].raw = b"__drop__"
    return chosen, junk


# ---------------------------------------------------------------- public API


def make_folder(root: str | Path, problems: dict[str, float | int | None] | None = None,
                base: str = "mnist", n_per_class: int = 60, seed: int = 0,
                with_val: bool = False, size: int = BASE_SIZE, ext: str = "png"
                ) -> dict[str, list]:
    """Write a class-per-folder image tree with injected problems; return the ground truth.

    Args:
        root: folder to create (must be absent or empty).
        problems: code -> strength (see the module table); ``None`` uses the default.
            An empty mapping makes a healthy folder.
        base: ``mnist``, ``animals`` or ``digits``.
        n_per_class: training images per class before injection.
        seed: every random choice derives from it; same seed, same bytes.
        with_val: write ``train/`` and ``val/`` (``val`` has 20 % of n_per_class per class).
        size: side of the square images in pixels.
        ext: ``png`` (default) or ``jpg`` for every image file.

    Returns:
        ``{code: sorted list}`` of relative posix paths, pairs or class names (see module).
    """
    from PIL import Image

    from convergent.datasets import load

    problems = {k: (DEFAULTS[k] if v is None else float(v))
                for k, v in (problems or {}).items() if _known(k)}
    if "DATA_LEAKAGE" in problems:
        with_val = True
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise ValueError(f"{root} is not empty; choose a new folder")
    rng = np.random.default_rng(seed)
    x, y, names = load(base)
    x, y = _dedupe(x, y)
    n_classes = len(names)
    n_val = max(3, round(n_per_class * VAL_FRACTION)) if with_val else 0
    items: list[_Item] = []
    for c in range(n_classes):
        idx = rng.permutation(np.flatnonzero(y == c))
        if len(idx) < n_per_class + n_val:
            raise ValueError(f"{base} has {len(idx)} images of class {names[c]}; "
                             f"n_per_class={n_per_class} (+{n_val} val) is too many")
        for k, j in enumerate(idx[: n_per_class + n_val]):
            split = ("val" if k >= n_per_class else "train") if with_val else ""
            items.append(_Item(cls=c, split=split, img=_render(x[j], size, rng),
                               noise=float(rng.uniform(0.005, 0.02))))
    chosen, junk = _class_level(problems, items, rng, n_classes, size)
    extra: dict[str, Any] = {"base": base, "with_val": with_val, "pairs": {}}
    for code in PROBLEMS:
        if code in problems and code not in CLASS_LEVEL:
            _inject(code, problems[code], items, rng, size, n_classes, extra)

    # name and write every file; random numbers as names so names reveal nothing
    keep = [i for i, it in enumerate(items) if it.raw != b"__drop__"]
    numbers = rng.permutation(len(keep))
    for num, i in zip(numbers, keep, strict=True):
        it = items[i]
        parts = ([it.split] if it.split else []) + [names[it.cls], f"{num:05d}.{ext}"]
        it.path = "/".join(parts)
    root.mkdir(parents=True, exist_ok=True)
    splits = ["train", "val"] if with_val else [""]
    for s in splits:  # every class folder exists, even when a problem emptied it
        for name in names:
            (root / s / name).mkdir(parents=True, exist_ok=True)
    for c, fname in junk.items():
        if fname:
            for s in splits:
                (root / s / names[c] / fname).write_bytes(JUNK[fname])
    saved: dict[int, np.ndarray] = {}
    for i in sorted(keep, key=lambda i: items[i].src is not None):  # originals first
        it = items[i]
        dest = root / it.path
        if it.raw is not None:
            dest.write_bytes(it.raw)
            continue
        if it.src is not None:
            arr, it.jpeg, it.size = _copy_pixels(saved[it.src], it.copy_kind, rng)
            im = Image.fromarray(arr)
            if it.jpeg is not None:
                buf = io.BytesIO()
                im.save(buf, format="JPEG", quality=it.jpeg)
                im = Image.open(io.BytesIO(buf.getvalue())).convert(im.mode)
            if it.size is not None:
                im = im.resize(it.size, Image.BICUBIC)
        else:
            arr = _finish(it, rng)
            saved[i] = arr
            im = Image.fromarray(arr)
        if ext in ("jpg", "jpeg"):
            im.save(dest, format="JPEG", quality=92)
        else:
            im.save(dest, format="PNG")

    truth: dict[str, list] = {}
    acceptable: dict[str, list[str]] = {}
    strength: dict[str, dict[str, float]] = {}
    for code in problems:
        if code in CLASS_LEVEL:
            truth[code] = sorted(names[c] for c in chosen.get(code, []))
            if code == "DATA_LOW_VARIETY":
                files = sorted(items[i].path for i in keep if code in items[i].codes)
                acceptable.setdefault("DATA_DUPLICATES", []).extend(files)
        elif code in PAIR_LEVEL:
            pairs = [sorted([items[a].path, items[b].path]) if code == "DATA_DUPLICATES"
                     else [items[a].path, items[b].path]
                     for a, b, _ in extra["pairs"].get(code, [])]
            truth[code] = sorted(pairs)
            for a, b, kind in extra["pairs"].get(code, []):
                strength.setdefault(code, {})[items[b].path] = kind  # type: ignore[assignment]
                if kind == "resize0.8":
                    acceptable.setdefault("DATA_ODD_SIZE", []).append(items[b].path)
        else:
            truth[code] = sorted(items[i].path for i in keep if code in items[i].codes)
            strength[code] = {items[i].path: items[i].codes[code]
                              for i in keep if code in items[i].codes}
    for a, b in (("DATA_OUTLIER", "DATA_LABEL_NOISE"), ("DATA_LABEL_NOISE", "DATA_OUTLIER")):
        acceptable.setdefault(b, []).extend(truth.get(a, []))
    flat = [items[i].path for i, arr in saved.items() if "DATA_LOW_CONTRAST" not in
            items[i].codes and float(_lum(arr.astype(np.float32) / 255.0).std())
            <= LOW_CONTRAST_STD[1]]
    acceptable.setdefault("DATA_LOW_CONTRAST", []).extend(flat)
    meta = {
        "root": root.name, "base": base, "seed": seed, "n_per_class": n_per_class,
        "with_val": with_val, "size": size, "ext": ext, "problems": problems,
        "classes": names, "n_files": len(keep),
        "files": sorted(items[i].path for i in keep),
    }
    doc = {"meta": meta, "ground_truth": truth,
           "acceptable": {k: sorted(set(v)) for k, v in acceptable.items() if v},
           "strength": strength}
    truth_path(root).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n",
                                encoding="utf-8")
    return truth


def truth_path(root: str | Path) -> Path:
    """Where the ground truth of the folder ``root`` lives: beside it, never inside."""
    root = Path(root)
    return root.parent / f"{root.name}.ground_truth.json"


def load_truth(root: str | Path) -> dict[str, Any]:
    """The full ground-truth document (meta, ground_truth, acceptable, strength)."""
    return json.loads(truth_path(root).read_text(encoding="utf-8"))


def _known(code: str) -> bool:
    if code not in PROBLEMS:
        raise ValueError(f"unknown problem {code!r}; choose from {', '.join(PROBLEMS)}")
    return True


def _dedupe(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop exact and near duplicates of the source set (animals has ~3 % of them).

    Near = same 7x7 mean-pooled image quantised to 4 levels (8x8 inputs are kept as is).
    """
    if x.shape[1] % 7 == 0 and x.shape[2] % 7 == 0:
        h, w = x.shape[1] // 7, x.shape[2] // 7
        sig = x.reshape(len(x), 7, h, 7, w).mean(axis=(2, 4)) // 64
    else:
        sig = x
    _, first = np.unique(sig.reshape(len(x), -1).astype(np.uint8), axis=0, return_index=True)
    first = np.sort(first)
    return x[first], y[first]


# The benchmark's folders: name -> make_folder keyword arguments. Several hundred to a
# couple of thousand images each; every problem appears in at least one folder, and
# the first one is healthy (for false alarms).
BENCH_FOLDERS: dict[str, dict[str, Any]] = {
    "healthy_mnist": {"problems": {}, "base": "mnist", "n_per_class": 80, "seed": 1},
    "healthy_animals_val": {"problems": {}, "base": "animals", "n_per_class": 60,
                            "with_val": True, "seed": 2},
    "exposure": {"problems": {"DATA_DARK": 0.05, "DATA_BRIGHT": 0.04,
                              "DATA_LOW_CONTRAST": 0.04, "DATA_BLURRY": 0.05},
                 "base": "mnist", "n_per_class": 100, "seed": 3},
    "files": {"problems": {"DATA_CORRUPT": 0.03, "DATA_ODD_SIZE": 0.03,
                           "DATA_GRAYSCALE_AS_RGB": 0.04, "DATA_EMPTY_CLASS": 1},
              "base": "animals", "n_per_class": 100, "seed": 4},
    "duplicates_leakage": {"problems": {"DATA_DUPLICATES": 0.05, "DATA_LEAKAGE": 0.05},
                           "base": "mnist", "n_per_class": 100, "with_val": True, "seed": 5},
    "labels": {"problems": {"DATA_LABEL_NOISE": 0.05, "DATA_OUTLIER": 0.03},
               "base": "mnist", "n_per_class": 120, "seed": 6},
    "classes": {"problems": {"DATA_TOO_FEW": 1, "DATA_IMBALANCE": 12.0,
                             "DATA_LOW_VARIETY": 1},
                "base": "animals", "n_per_class": 150, "seed": 7},
    "mixed_64px": {"problems": {c: None for c in FILE_LEVEL + ("DATA_DUPLICATES",)},
                   "base": "animals", "n_per_class": 150, "size": 64, "seed": 8},
}


def make_bench_folders(root: str | Path, names: list[str] | None = None
                       ) -> dict[str, dict[str, list]]:
    """Write the benchmark folders under ``root`` (truth files beside each); name -> truth."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, kwargs in BENCH_FOLDERS.items():
        if names is None or name in names:
            out[name] = make_folder(root / name, **kwargs)
    return out
