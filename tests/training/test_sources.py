"""Reading what a tf.data pipeline feeds ``fit`` at its source, without iterating it."""

from __future__ import annotations

import numpy as np
import pytest

from convergent.training._inject import sources
from convergent.training._inject.hook import read_fit_arguments

tf = pytest.importorskip("tensorflow")


def _xy(n=40, scale=1.0):
    rng = np.random.default_rng(0)
    return (rng.random((n, 8, 8, 1)) * scale).astype("float32"), np.arange(n) % 4


def test_tensor_slices_through_shuffle_batch_prefetch():
    x, y = _xy()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(64, seed=0).batch(8).prefetch(2)
    sx, sy = sources.source_arrays(ds)
    np.testing.assert_array_equal(sx, x)
    np.testing.assert_array_equal(sy, y)
    assert sources.batch_size(ds) == 8


@pytest.mark.parametrize("stage", ["map", "take", "filter"])
def test_a_stage_that_changes_values_or_selects_hides_the_source(stage):
    x, y = _xy()
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    ds = {"map": lambda d: d.map(lambda a, b: (a / 2, b)), "take": lambda d: d.take(10),
          "filter": lambda d: d.filter(lambda a, b: b > 0)}[stage](ds).batch(8)
    assert sources.source_arrays(ds) is None


def test_shuffled_source_is_checked_and_the_pipeline_order_is_unchanged():
    """The raw 0-255 arrays behind a shuffled pipeline are found; iterating the pipeline
    afterwards gives the order it gives without the check."""
    x, y = _xy(scale=255.0)

    def make():
        tf.random.set_seed(3)
        return tf.data.Dataset.from_tensor_slices((x, y)).shuffle(64, seed=1).batch(8)

    expected = [b[1].numpy().tolist() for b in make()]
    ds = make()
    record: dict = {}
    facts, probe, findings = read_fit_arguments({"x": ds}, record)
    assert "DATA_UNNORMALIZED" in [f.code.value for f in findings]
    assert facts["n_train"] == 40 and facts["batch_size"] == 8 and probe is not None
    assert [b[1].numpy().tolist() for b in ds] == expected


def test_pipeline_without_shuffle_over_sorted_labels_is_found():
    x, y = _xy()
    order = np.argsort(y, kind="stable")
    x, y = x[order], y[order]
    plain = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    shuffled = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(64, seed=0).batch(8)
    assert sources.shuffles(plain) is False and sources.shuffles(shuffled) is True
    assert sources.shuffles(plain.map(lambda a, b: (a, b))) is None

    def sorted_findings(ds, **kw):
        _, _, found = read_fit_arguments({"x": ds, **kw}, {})
        return [f for f in found if f.code.value == "DATA_SORTED_SPLIT"]
    assert sorted_findings(plain) and sorted_findings(plain)[0].severity.value == "error"
    assert not [f for f in sorted_findings(shuffled) if f.severity.value == "error"]
    fit_args = {"y": y, "validation_data": (x[:8], y[:8])}
    assert sorted_findings(x, shuffle=False, **fit_args)
    assert not sorted_findings(x, **fit_args)


def test_raw_inputs_rescaled_inside_the_model_are_not_unnormalized():
    import keras

    x, y = _xy(scale=255.0)
    plain = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(4, activation="softmax")])
    scaled = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Rescaling(1 / 255),
                               keras.layers.Flatten(), keras.layers.Dense(4, activation="softmax")])
    codes = {}
    for name, model in (("plain", plain), ("scaled", scaled)):
        record: dict = {}
        _, _, found = read_fit_arguments({"x": x, "y": y}, record, model)
        codes[name] = [f.code.value for f in found]
    assert "DATA_UNNORMALIZED" in codes["plain"]
    assert "DATA_UNNORMALIZED" not in codes["scaled"]


def test_inputs_scaled_again_inside_the_model_are_unnormalized():
    import keras

    x, y = _xy()  # already in [0, 1]
    twice = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Rescaling(1 / 255),
                              keras.layers.Flatten(), keras.layers.Dense(4, activation="softmax")])
    once = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Rescaling(2.0, offset=-1),
                             keras.layers.Flatten(), keras.layers.Dense(4, activation="softmax")])

    def unnormalized(model, data):
        return [f for f in read_fit_arguments(data, {}, model)[2]
                if f.code.value == "DATA_UNNORMALIZED"]

    found = unnormalized(twice, {"x": x, "y": y})
    assert found and "twice" in found[0].title
    assert not unnormalized(once, {"x": x, "y": y})
    # a generator's batches as it yields them (ImageDataGenerator(rescale=1/255) + Rescaling)
    from keras.src.legacy.preprocessing.image import ImageDataGenerator

    flow = ImageDataGenerator(rescale=1 / 255).flow(x * 255, y, batch_size=8, seed=0)
    assert unnormalized(twice, {"x": flow}) and not unnormalized(once, {"x": flow})


def test_folder_loader_values_are_the_decoded_files(tmp_path):
    from convergent.datasets import load, subsample, write_folder

    x, y, names = load("digits")
    x, y = subsample(x, y, 6)
    write_folder(x, y, tmp_path / "d", names)
    import keras

    ds = keras.utils.image_dataset_from_directory(
        tmp_path / "d", image_size=(8, 8), color_mode="grayscale", batch_size=4, verbose=False)
    assert sources.loader_files(ds.prefetch(1)) and sources.loader_files(
        ds.map(lambda a, b: (a / 255, b))) is None
    record: dict = {}
    _, _, found = read_fit_arguments({"x": ds}, record)
    assert "DATA_UNNORMALIZED" in [f.code.value for f in found]


def test_rescaling_then_pooling_still_counts_as_rescaled():
    import keras

    x, y = _xy(scale=255.0)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Rescaling(1 / 255),
                              keras.layers.AveragePooling2D(2), keras.layers.Flatten(),
                              keras.layers.Dense(4, activation="softmax")])
    _, _, found = read_fit_arguments({"x": x, "y": y}, {}, model)
    assert "DATA_UNNORMALIZED" not in [f.code.value for f in found]


def _digit_folder(tmp_path):
    from convergent.datasets import load, subsample, write_folder

    x, y, names = load("digits")
    x, y = subsample(x, y, 6)
    write_folder(x, y, tmp_path / "d", names)
    return tmp_path / "d"


def test_map_stages_are_replayed_on_a_sample_of_a_folder_loader(tmp_path):
    import keras

    folder = _digit_folder(tmp_path)
    ds = keras.utils.image_dataset_from_directory(
        folder, image_size=(8, 8), color_mode="grayscale", batch_size=4, shuffle=True,
        seed=0, verbose=False)
    norm = keras.layers.Rescaling(1 / 255)
    once = ds.map(lambda a, b: (norm(a), b)).prefetch(1)
    x, y = sources.replayed_sample(once)
    assert x.shape[1:] == (8, 8, 1) and 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.5
    # labels from the class folders, in the loader's order of class names
    assert set(y.tolist()) <= set(range(len(ds.class_names))) and len(set(y.tolist())) > 1
    assert "DATA_UNNORMALIZED" not in [f.code.value for f in read_fit_arguments(
        {"x": once}, {})[2]]
    # the same map and a model that divides by 255 again: the first layer sees ~0.002
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Rescaling(1 / 255),
                              keras.layers.Flatten(), keras.layers.Dense(10)])
    record: dict = {}
    _, probe, found = read_fit_arguments({"x": once}, record, model)
    assert "DATA_UNNORMALIZED" in [f.code.value for f in found] and probe is not None
    assert any("replayed" in n for n in record["notes"])
    # a map that keeps 0-255 is still unnormalized
    raw = ds.map(lambda a, b: (tf.image.resize(a, (8, 8)), b))
    assert "DATA_UNNORMALIZED" in [f.code.value for f in read_fit_arguments({"x": raw}, {})[2]]


def test_replay_leaves_the_pipeline_and_its_random_state_alone():
    x, y = _xy(scale=255.0)

    def make():
        tf.random.set_seed(3)
        return (tf.data.Dataset.from_tensor_slices((x, y)).shuffle(64, seed=1)
                .map(lambda a, b: (a / 255.0, b)).batch(8))

    expected = [b[0].numpy().sum() for b in make()]
    ds = make()
    sx, sy = sources.replayed_sample(ds)
    assert sx.shape == (40, 8, 8, 1) and sx.max() <= 1.0 and sy.tolist() == y.tolist()
    assert [b[0].numpy().sum() for b in ds] == expected


@pytest.mark.parametrize("stage", ["random", "layer", "unbatch", "filter"])
def test_maps_that_draw_random_numbers_are_not_replayed(stage):
    import keras

    x, y = _xy(scale=255.0)
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    flip = keras.layers.RandomFlip(seed=0)
    ds = {"random": lambda d: d.map(lambda a, b: (tf.image.random_flip_left_right(a), b))
          .batch(8),
          "layer": lambda d: d.batch(8).map(lambda a, b: (flip(a), b)),
          "unbatch": lambda d: d.batch(8).map(lambda a, b: (a / 255, b)).unbatch().batch(4),
          "filter": lambda d: d.filter(lambda a, b: b > 0).map(lambda a, b: (a / 255, b))
          .batch(8)}[stage](ds)
    assert sources.replayed_sample(ds) is None


def test_folder_loader_gives_class_count_probe_and_labels_for_the_lint(tmp_path):
    import keras

    from convergent.training._inject.hook import _lint

    folder = _digit_folder(tmp_path)
    ds = keras.utils.image_dataset_from_directory(
        folder, image_size=(8, 8), color_mode="grayscale", batch_size=4, verbose=False)
    record: dict = {"notes": []}
    facts, probe, _ = read_fit_arguments({"x": ds.prefetch(1)}, record)
    assert facts["n_classes"] == 10 and facts["majority_fraction"] == pytest.approx(0.1)
    assert facts["n_train"] == 60  # the loader's files, not the probe's size
    px, py = probe
    assert px.shape[1:] == (8, 8, 1) and px.max() > 1 and set(py.tolist()) <= set(range(10))
    # one sigmoid unit and a binary loss for 10 classes: the lint sees the class count
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy")
    found = _lint(model, {"x": ds}, facts, record, probe)
    assert "MODEL_LOSS_MISMATCH" in [f.code.value for f in found]
    # without the training set's size the probe's labels are not used (their count would
    # stand in for it)
    unsized = {k: v for k, v in facts.items() if k != "n_train"}
    found = _lint(model, {"x": ds}, unsized, record, probe)
    assert "MODEL_LOSS_MISMATCH" not in [f.code.value for f in found]
    # a map after the loader keeps the class count (labels re-encoded, not renumbered)
    onehot = ds.map(lambda a, b: (a / 255.0, tf.one_hot(b, 10)))
    facts, probe, _ = read_fit_arguments({"x": onehot}, {"notes": []})
    assert facts["n_classes"] == 10 and probe[1].shape[1:] == (10,)


def _zipped(x, y, images_shuffled: bool, seed_images=None, seed_labels=None):
    images = tf.data.Dataset.from_tensor_slices(x)
    labels = tf.data.Dataset.from_tensor_slices(y)
    if images_shuffled:
        images = images.shuffle(len(x), seed=seed_images)
    if seed_labels is not None:
        labels = labels.shuffle(len(y), seed=seed_labels)
    images = images.map(lambda a: a / 255.0)
    return tf.data.Dataset.zip((images, labels)).shuffle(64, seed=0).batch(8)


def test_zipped_branches_keep_their_pairing_when_neither_is_shuffled():
    x, y = _xy(scale=255.0)
    x[:, 0, 0, 0] = np.arange(len(x))  # pixel (0, 0) names the sample
    sx, sy = sources.replayed_sample(_zipped(x, y, images_shuffled=False))
    np.testing.assert_array_equal(np.round(sx[:, 0, 0, 0] * 255.0).astype(int) % 4, sy)


@pytest.mark.parametrize("seed_images,seed_labels,paired",
                         [(1, 1, True), (1, 2, False), (None, None, False)])
def test_zipped_branch_shuffles_pair_as_tf_data_pairs_them(seed_images, seed_labels, paired):
    """Branches shuffled with the same seed stay paired (tf.data draws the same order);
    other seeds, or a shuffle of the images only, unpair images and labels."""
    x, y = _xy(n=200, scale=255.0)
    x[:, 0, 0, 0] = np.arange(len(x))  # pixel (0, 0) names the sample
    ds = _zipped(x, y, images_shuffled=True, seed_images=seed_images, seed_labels=seed_labels)
    truth = np.mean([int(round(float(a[0, 0, 0]) * 255.0)) % 4 == int(b)
                     for a, b in ds.unbatch()])
    sx, sy = sources.replayed_sample(ds)
    replay = np.mean(np.round(sx[:, 0, 0, 0] * 255.0).astype(int) % 4 == sy)
    assert bool(truth == 1.0) is paired and bool(replay == 1.0) is paired


def test_shuffle_order_simulates_a_buffered_shuffle():
    rng = np.random.default_rng(0)
    order = sources._shuffle_order(100, 1, rng)
    np.testing.assert_array_equal(order, np.arange(100))  # buffer 1: the input order
    order = sources._shuffle_order(100, 10, np.random.default_rng(0))
    assert sorted(order.tolist()) == list(range(100))
    # an element leaves at most ~buffer positions before its input position
    assert (order - np.arange(100) < 10).all()


def test_images_zipped_with_labels_of_another_order_are_misaligned(tmp_path):
    """tf.data.Dataset.list_files shuffles by default; zipping it with labels from the
    sorted glob pairs each image with another file's label."""
    import glob
    import os

    from convergent.datasets import load, subsample, write_folder

    x, y, names = load("digits")
    x, y = subsample(x, y, 30)
    folder = write_folder(x, y, tmp_path / "d", names)
    pattern = str(folder / "*" / "*.png")
    paths = sorted(glob.glob(pattern))
    names = sorted({os.path.basename(os.path.dirname(p)) for p in paths})
    labels = [names.index(os.path.basename(os.path.dirname(p))) for p in paths]

    def make(shuffle):
        files = tf.data.Dataset.list_files(pattern, shuffle=shuffle)
        images = files.map(lambda p: tf.cast(tf.io.decode_png(tf.io.read_file(p), 1),
                                             tf.float32) / 255.0)
        return tf.data.Dataset.zip((images, tf.data.Dataset.from_tensor_slices(labels))) \
            .batch(16)

    bad = [f.code.value for f in read_fit_arguments({"x": make(True)}, {})[2]]
    good = [f.code.value for f in read_fit_arguments({"x": make(False)}, {})[2]]
    assert "DATA_LABELS_MISALIGNED" in bad
    assert "DATA_LABELS_MISALIGNED" not in good


def test_a_loader_given_a_label_list_is_read_through_its_own_stages(tmp_path):
    """image_dataset_from_directory(labels=[...]) pairs files and labels in a zip inside
    the loader; labels in another order than the files carry no information."""
    import keras
    from PIL import Image

    from convergent.datasets import load, subsample

    x, y, _ = load("digits")
    x, y = subsample(x, y, 30)
    folder = tmp_path / "images"
    folder.mkdir()
    for i, img in enumerate(x):
        Image.fromarray(img).save(folder / f"{i}.png")
    truth = [int(y[int(p.stem)]) for p in sorted(folder.iterdir())]  # alphanumeric order
    wrong = [int(v) for v in y]  # the order the files were written: not the sorted one

    def loader(labels):  # a copy: Keras 3.15 shuffles a label list in place
        return keras.utils.image_dataset_from_directory(
            folder, labels=list(labels), label_mode="int", color_mode="grayscale",
            image_size=(8, 8), batch_size=16, seed=0, verbose=False)

    sx, sy = sources.replayed_sample(loader(truth), 256)
    assert sx.shape[1:] == (8, 8, 1) and len(sy) == len(sx)
    bad = [f.code.value for f in read_fit_arguments({"x": loader(wrong)}, {})[2]]
    good = [f.code.value for f in read_fit_arguments({"x": loader(truth)}, {})[2]]
    assert "DATA_LABELS_MISALIGNED" in bad and "DATA_LABELS_MISALIGNED" not in good
