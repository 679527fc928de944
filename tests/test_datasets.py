import numpy as np
import pytest
from PIL import Image

from convergent import datasets
from convergent.errors import BadInputError


@pytest.mark.parametrize("name, shape, n", [("digits", (8, 8), 1797), ("mnist", (28, 28), 5000),
                                            ("animals", (28, 28), 10000)],
                         ids=["digits", "mnist", "animals"])
def test_loaders_shape_dtype_labels(name, shape, n):
    x, y, names = datasets.load(name)
    assert x.shape == (n, *shape) and x.dtype == np.uint8
    assert y.dtype == np.int64 and y.min() == 0 and y.max() == len(names) - 1 == 9
    assert x.max() > 200  # scaled to 0-255, not left in a small raw range
    x2, y2, _ = datasets.load(name)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)


def test_unknown_dataset_names_the_choices():
    with pytest.raises(BadInputError, match="digits"):
        datasets.load("cifar")


def test_subsample_is_seeded_and_balanced():
    x, y, _ = datasets.load("digits")
    a = datasets.subsample(x, y, 7, seed=3)
    b = datasets.subsample(x, y, 7, seed=3)
    assert np.array_equal(a[1], b[1]) and np.bincount(a[1]).tolist() == [7] * 10


def test_write_folder_layout_and_content(tmp_path):
    x, y, names = datasets.load("digits")
    x, y = datasets.subsample(x, y, 5)
    root = datasets.write_folder(x, y, tmp_path / "d", names, val_fraction=0.4)
    files = sorted(root.rglob("*.png"))
    assert len(files) == 50
    assert {p.relative_to(root).parts[0] for p in files} == {"train", "val"}
    assert len(list((root / "val" / "3").glob("*.png"))) == 2
    first = files[0]
    label = int(first.parent.name)
    pixels = np.asarray(Image.open(first))
    assert pixels.shape == (8, 8)
    assert any(np.array_equal(pixels, img) for img in x[y == label])


def test_write_folder_refuses_non_empty(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(BadInputError, match="not empty"):
        datasets.write_folder(np.zeros((1, 4, 4), np.uint8), np.zeros(1), tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "mine"
