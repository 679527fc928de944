"""align_labels at run time: a tf.data pipeline's images and labels re-paired when the
replay shows why they came apart (differently shuffled zip branches; labels listed in
the unsorted os.walk order), and only then."""

import glob
import os

import numpy as np
import pytest
from PIL import Image

from convergent.findings import Code, Finding, Severity
from convergent.remedies.catalog import remedies_for
from convergent.remedies.runtime import apply

N_PER_CLASS = 40
CLASSES = 3


@pytest.fixture(scope="module")
def tf():
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    return tf


def pixel(c: int, i: int) -> np.ndarray:
    """Class c: a bright band at rows 3c..3c+1 on noise (a shape, not a brightness: the
    label check compares normalized images)."""
    rng = np.random.default_rng(i)
    a = rng.normal(60, 10, (8, 8))
    a[3 * c:3 * c + 2] += 150
    return np.clip(a, 0, 255).astype(np.uint8)


def class_folders(root):
    for c in range(CLASSES):
        (root / str(c)).mkdir(parents=True)
        for i in range(N_PER_CLASS):
            Image.fromarray(pixel(c, i)).save(root / str(c) / f"{i}.png")
    return root


def flat_folder(root):
    root.mkdir(parents=True)
    for i in range(CLASSES * N_PER_CLASS):
        Image.fromarray(pixel(i % CLASSES, i)).save(root / f"{i}.png")
    return root


def finding():
    return Finding(Code.DATA_LABELS_MISALIGNED, Severity.ERROR, 0.9, "t", "e", {},
                   remedies_for(Code.DATA_LABELS_MISALIGNED, "align_labels"))


def apply_align(tf, x, **fit):
    model = tf.keras.Sequential([tf.keras.Input((8, 8, 1)), tf.keras.layers.Flatten(),
                                 tf.keras.layers.Dense(CLASSES, activation="softmax")])
    return apply([finding()], model, {"optimizer": "adam",
                                      "loss": "sparse_categorical_crossentropy"},
                 {"x": x, "epochs": 1, **fit})


def paired(ds) -> float:
    """Share of elements whose label is the class their bright band says."""
    hits = total = 0
    for xb, yb in ds:
        rows = xb.numpy()[..., 0].mean(-1)  # (batch, 8) row means
        guess = np.array([[r[3 * c:3 * c + 2].mean() for c in range(CLASSES)]
                          for r in rows]).argmax(1)
        hits += int((guess == yb.numpy()).sum())
        total += len(yb)
    return hits / total


def list_files_pipeline(tf, root, shuffle):
    pattern = str(root / "*" / "*.png")
    paths = sorted(glob.glob(pattern))
    labels = [int(os.path.basename(os.path.dirname(p))) for p in paths]
    files = tf.data.Dataset.list_files(pattern, shuffle=shuffle)
    images = files.map(lambda p: tf.cast(tf.io.decode_png(tf.io.read_file(p), channels=1),
                                         tf.float32) / 255.0)
    return tf.data.Dataset.zip((images, tf.data.Dataset.from_tensor_slices(labels)))


def test_differently_shuffled_zip_branches_are_paired_again(tf, tmp_path):
    root = class_folders(tmp_path / "digits")
    train = list_files_pipeline(tf, root, shuffle=True).shuffle(200, seed=0).batch(16)
    val = list_files_pipeline(tf, root, shuffle=True).batch(16)
    assert paired(train) < 0.6  # list_files shuffled the images, not the labels
    c = apply_align(tf, train, validation_data=val)
    assert c.applied[0]["remedy"] == "align_labels"
    assert "shuffle=False" in c.code
    assert paired(c.fit_kwargs["x"]) == 1.0 and paired(c.fit_kwargs["validation_data"]) == 1.0


def test_zip_branches_in_the_same_order_are_left_alone(tf, tmp_path):
    root = class_folders(tmp_path / "digits")
    train = list_files_pipeline(tf, root, shuffle=False).shuffle(200, seed=0).batch(16)
    c = apply_align(tf, train)
    assert not c.changed
    assert "carry information already" in c.skipped[-1]["why"]


def loader(tf, root, labels):
    return tf.keras.utils.image_dataset_from_directory(
        root, labels=labels, label_mode="int", color_mode="grayscale", image_size=(8, 8),
        validation_split=0.25, subset="both", seed=0, batch_size=16)


def label_of(path):
    return int(os.path.basename(path).split(".")[0]) % CLASSES


def test_labels_in_os_walk_order_are_put_back_on_their_files(tf, tmp_path):
    root = flat_folder(tmp_path / "images")
    walk = [f for _, _, files in os.walk(root) for f in files]
    if walk == sorted(walk):
        pytest.skip("this file system lists the folder sorted: nothing to re-pair")
    train, val = loader(tf, root, [label_of(f) for f in walk])
    assert paired(train) < 0.6
    c = apply_align(tf, train, validation_data=val)
    assert c.applied[0]["remedy"] == "align_labels" and "sorted(image_files)" in c.code
    new_train, new_val = c.fit_kwargs["x"], c.fit_kwargs["validation_data"]
    assert paired(new_train) == 1.0 and paired(new_val) == 1.0
    assert new_train.file_paths == train.file_paths


def test_labels_in_the_loaders_order_are_left_alone(tf, tmp_path):
    root = flat_folder(tmp_path / "images")
    ordered = sorted(f for _, _, files in os.walk(root) for f in files)
    train, val = loader(tf, root, [label_of(f) for f in ordered])
    c = apply_align(tf, train, validation_data=val)
    assert not c.changed
