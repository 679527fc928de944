"""Find the images of a class-per-folder tree (Keras ``image_dataset_from_directory`` layout).

Two layouts are understood: ``root/<class>/...`` and ``root/<split>/<class>/...`` where
``<split>`` is a train/val/test folder name; a separate validation folder (``--val``)
adds split ``val``. Files are found recursively inside a class folder, as Keras does.
Symbolic links are followed, but every real directory is entered once, so a link loop
is reported, not followed forever. Nothing is opened here except directories.

Example:
    >>> listing = discover(tmp_path)  # doctest: +SKIP
    >>> listing.files[:1]  # doctest: +SKIP
    [FileEntry(rel='cat/001.png', cls='cat', split='train')]
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from convergent.errors import BadInputError

# What keras.utils.image_dataset_from_directory loads (its ALLOWLIST_FORMATS); other
# files are listed in metrics as ignored, since Keras would skip them silently.
IMAGE_EXTS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "valid": "val",
               "validation": "val", "dev": "val", "test": "test", "testing": "test"}


@dataclass(frozen=True)
class FileEntry:
    rel: str  # posix path relative to the scanned root
    cls: str
    split: str


@dataclass
class Listing:
    root: Path
    files: list[FileEntry] = field(default_factory=list)
    classes: dict[str, list[str]] = field(default_factory=dict)  # split -> class folders
    ignored: list[str] = field(default_factory=list)  # non-image files (relative)
    loops: list[str] = field(default_factory=list)  # symlinked dirs entered twice
    layout: str = "classes"


def discover(root: str | Path, val: str | Path | None = None) -> Listing:
    """List the image files of ``root`` (and of a separate ``val`` folder).

    Raises:
        BadInputError: the folder is missing, not a folder, unreadable, empty, or has no
            class subfolders holding images.
    """
    root = _check_dir(root, "scan")
    listing = Listing(root=root)
    subdirs = _subdirs(root)
    split_dirs = [d for d in subdirs if d.name.lower() in SPLIT_NAMES]
    if split_dirs and len(split_dirs) == len(subdirs):
        listing.layout = "splits"
        for d in split_dirs:
            _add_split(listing, d, SPLIT_NAMES[d.name.lower()], root)
    else:
        _add_split(listing, root, "train", root)
    if val is not None:
        vroot = _check_dir(val, "--val")
        _add_split(listing, vroot, "val", root)
    if not listing.files:
        loose = [p.name for p in root.iterdir() if p.suffix.lower() in IMAGE_EXTS]
        if not subdirs and loose:
            raise BadInputError(
                f"{root} holds {len(loose)} image(s) but no class subfolders; put each "
                f"class's images in its own subfolder (e.g. {root}/cat/, {root}/dog/)")
        if not subdirs:
            raise BadInputError(f"{root} is empty; point `convergent scan` at a folder with "
                                "one subfolder of images per class")
        raise BadInputError(
            f"no image files ({', '.join(IMAGE_EXTS)}) found in the class folders of {root}; "
            "check the path and the file extensions")
    return listing


def _check_dir(path: str | Path, what: str) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise BadInputError(f"{what}: {p} does not exist; give the path of an image folder")
    if not p.is_dir():
        raise BadInputError(f"{what}: {p} is a file, not a folder; give the folder that "
                            "holds one subfolder per class")
    try:
        next(iter(os.scandir(p)), None)
    except OSError as e:
        raise BadInputError(f"{what}: cannot read {p} ({e.strerror}); check its "
                            "permissions") from None
    return p.resolve()


def _subdirs(d: Path) -> list[Path]:
    try:
        return sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []


def _add_split(listing: Listing, split_root: Path, split: str, root: Path) -> None:
    classes = _subdirs(split_root)
    listing.classes.setdefault(split, [])
    for cdir in classes:
        listing.classes[split].append(cdir.name)
        seen: set[str] = set()
        for dirpath, dirnames, filenames in os.walk(cdir, followlinks=True):
            real = os.path.realpath(dirpath)
            if real in seen:
                listing.loops.append(_rel(Path(dirpath), root))
                dirnames[:] = []
                continue
            seen.add(real)
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            # a link back to an ancestor is a loop: skip it before walking it
            for d in list(dirnames):
                if os.path.realpath(os.path.join(dirpath, d)) in seen:
                    listing.loops.append(_rel(Path(dirpath) / d, root))
                    dirnames.remove(d)
            # the folder's relative path once, not a Path and a relpath per file (those
            # were ~25 us of the ~30 us per file of listing)
            rel_dir = _rel(Path(dirpath), root)
            prefix = "" if rel_dir == "." else rel_dir + "/"
            for name in sorted(filenames):
                image = _suffix(name).lower() in IMAGE_EXTS
                # hidden files with an image extension stay: Keras' loaders index them too
                # (macOS "._x.jpg" AppleDouble files are not images and crash decoding)
                if name.startswith(".") and not image:
                    continue
                if image:
                    listing.files.append(FileEntry(prefix + name, cdir.name, split))
                else:
                    listing.ignored.append(prefix + name)


def _suffix(name: str) -> str:
    """``Path(name).suffix``: from the last dot, unless the name starts or ends there."""
    i = name.rfind(".")
    return name[i:] if 0 < i < len(name) - 1 else ""


def _rel(p: Path, root: Path) -> str:
    return Path(os.path.relpath(p, root)).as_posix()
