"""Listing class-per-folder trees: layouts, ignored files, symlink loops, bad input."""

import os

import pytest

from convergent.data.folder import discover
from convergent.errors import BadInputError

from .conftest import make_healthy


def test_class_layout_lists_every_image(tmp_path):
    make_healthy(tmp_path, per_class=2)
    (tmp_path / "hbars" / "notes.txt").write_text("x")
    listing = discover(tmp_path)
    assert listing.layout == "classes" and len(listing.files) == 8
    assert listing.files[0].split == "train" and listing.ignored == ["hbars/notes.txt"]


def test_hidden_image_files_are_listed_as_keras_lists_them(tmp_path):
    make_healthy(tmp_path, per_class=2)
    (tmp_path / "hbars" / "._0.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (tmp_path / "hbars" / ".DS_Store").write_bytes(b"\x00junk")
    listing = discover(tmp_path)
    assert "hbars/._0.png" in [f.rel for f in listing.files]
    assert not any(".DS_Store" in f for f in listing.ignored + [f.rel for f in listing.files])


def test_split_layout_and_separate_val(tmp_path):
    make_healthy(tmp_path / "a", per_class=2, split="train")
    make_healthy(tmp_path / "a", per_class=1, split="validation")
    listing = discover(tmp_path / "a")
    assert listing.layout == "splits"
    assert {f.split for f in listing.files} == {"train", "val"}
    make_healthy(tmp_path / "v", per_class=1)
    two = discover(tmp_path / "a" / "train", val=tmp_path / "v")
    assert sum(f.split == "val" for f in two.files) == 4
    assert all(f.rel.startswith("../../v/") for f in two.files if f.split == "val")


def test_symlink_loop_is_reported_not_followed(tmp_path):
    make_healthy(tmp_path, per_class=2)
    os.symlink(tmp_path / "hbars", tmp_path / "hbars" / "again")
    listing = discover(tmp_path)
    assert len(listing.files) == 8 and listing.loops == ["hbars/again"]


@pytest.mark.parametrize("setup, message", [
    ("missing", "does not exist"), ("empty", "is empty"), ("loose", "no class subfolders"),
    ("file", "is a file"), ("no_images", "no image files")],
    ids=["missing", "empty", "loose-images", "file", "no-images"])
def test_bad_input_messages(tmp_path, setup, message):
    root = tmp_path / "d"
    if setup != "missing":
        root.mkdir()
    if setup == "loose":
        make_healthy(tmp_path / "src", per_class=1)
        for p in (tmp_path / "src" / "hbars").iterdir():
            p.rename(root / p.name)
    if setup == "file":
        root.rmdir()
        root.write_text("x")
    if setup == "no_images":
        (root / "cat").mkdir()
        (root / "cat" / "a.txt").write_text("x")
    with pytest.raises(BadInputError, match=message):
        discover(root)


@pytest.mark.parametrize("name", ["a.png", "..png", ".png", "x.", "x", "a.b.JPG", "._x.jpg", "a..", "."],
                         ids=lambda n: repr(n))
def test_suffix_is_pathlibs(name):
    from pathlib import Path

    from convergent.data.folder import _suffix

    assert _suffix(name) == Path(name).suffix
