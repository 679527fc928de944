import numpy as np

from convergent.trainer.data import build_data, groups_of, load_folder, split_indices
from convergent.trainer.recipe import default_recipe


def test_split_is_stratified_and_keeps_duplicate_groups_on_one_side(rng):
    y = np.repeat(np.arange(3), 40)
    x = rng.integers(0, 255, (120, 4, 4, 1)).astype(np.uint8)
    x[1] = x[0]  # an exact duplicate pair, class 0
    x[50] = x[45]
    groups = groups_of(x)
    tr, va = split_indices(y, groups, 0.25, seed=0)
    assert set(tr).isdisjoint(va) and len(tr) + len(va) == 120
    assert all(abs((y[va] == c).sum() - 10) <= 1 for c in range(3))
    for a, b in [(0, 1), (45, 50)]:
        assert (a in va) == (b in va)


def test_near_duplicate_pairs_from_the_scan_join_groups(rng):
    x = rng.integers(0, 255, (4, 4, 4, 1)).astype(np.uint8)
    g = groups_of(x, ["a.png", "b.png", "c.png", "d.png"], [("a.png", "d.png")])
    assert g[0] == g[3] and len(set(g)) == 3


def test_folder_is_read_only_and_corrupt_files_are_quarantined(digits_folder, tmp_path):
    import shutil

    from tests.trainer.conftest import snapshot

    folder = tmp_path / "d"
    shutil.copytree(digits_folder, folder)
    (folder / "3" / "broken.png").write_bytes(b"not an image")
    before = snapshot(folder)
    images = load_folder(folder, exclude=["0/0_00000.png"])
    assert set(images.quarantine) == {"3/broken.png", "0/0_00000.png"}
    assert images.x.shape[1:] == (8, 8, 1) and images.x.dtype == np.uint8
    r = default_recipe(10, (8, 8, 1), 240).with_(data={"dedupe": True})
    data = build_data(r, images)
    assert data.split_info["train"] + data.split_info["val"] + \
        data.split_info["dropped_duplicates"] == len(images.x)
    assert snapshot(folder) == before


def test_given_val_folder_is_de_leaked(digits_small, tmp_path):
    from convergent import datasets

    x, y, names = digits_small
    root = datasets.write_folder(x, y, tmp_path / "tv", names, val_fraction=0.2)
    from PIL import Image

    # copy one training image into the validation side: a leak
    src = next((root / "train" / "4").iterdir())
    Image.open(src).save(root / "val" / "4" / "leak.png")
    data = build_data(default_recipe(10, (8, 8, 1), 240), load_folder(root))
    assert data.split_info["removed_leaked_val"] >= 1


def test_class_weight_and_oversampling(digits_small):
    x, y, _ = digits_small
    keep = (y != 1) | (np.arange(len(y)) % 5 == 0)  # class 1 down to 6 images
    r = default_recipe(10, (8, 8, 1), 200)
    d = build_data(r.with_(data={"balance": "class_weight"}), arrays=(x[keep], y[keep], None, None))
    assert d.class_weight[1] > 3 * d.class_weight[0]
    d = build_data(r.with_(data={"balance": "oversample"}), arrays=(x[keep], y[keep], None, None))
    counts = np.bincount(d.y_train)
    assert counts.min() == counts.max()
