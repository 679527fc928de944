"""Loader remedies at run time: an unfit validation ImageDataGenerator gets the training
generator's statistics; an empty class folder is taken out of a directory iterator."""

import numpy as np
from PIL import Image

from convergent.findings import Code, Finding, Severity
from convergent.remedies.catalog import remedies_for
from convergent.remedies.runtime import apply


def finding(code, first, **evidence):
    return Finding(code, Severity.ERROR, 0.9, "t", "e", evidence, remedies_for(code, first))


def model(keras, units=3):
    m = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                          keras.layers.Dense(units, activation="softmax")])
    return m


def idg():
    from keras.src.legacy.preprocessing.image import ImageDataGenerator

    return ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True)


def arrays(n=24, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (n, 4, 4, 1)).astype("float32"), rng.integers(0, 3, n)


def test_unfit_validation_generator_gets_the_training_statistics(keras):
    x, y = arrays()
    train_gen, val_gen = idg(), idg()
    train_gen.fit(x)
    val_it = val_gen.flow(x[:8], y[:8], batch_size=8, shuffle=False)
    fk = {"x": train_gen.flow(x, y, batch_size=8), "validation_data": val_it, "epochs": 1}
    m = model(keras)
    c = apply([finding(Code.DATA_INCONSISTENT_RANGE, "same_preprocessing")], m,
              {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"}, fk)
    assert c.applied[0]["remedy"] == "same_preprocessing"
    assert "valid_datagen.fit(x_train)" in c.code
    assert c.applied[0]["fixes"] == ["DATA_UNNORMALIZED"]  # only val was unscaled
    new = c.fit_kwargs["validation_data"]
    assert new is not val_it and val_gen.mean is None  # the user's objects are untouched
    np.testing.assert_allclose(new.image_data_generator.mean, train_gen.mean)
    batch = new[0][0]
    assert abs(float(batch.mean())) < 1.0  # standardized like training, not 0..255
    assert c.model is m  # no Rescaling wrapper


def test_fit_validation_generator_falls_back_to_rescaling(keras):
    x, y = arrays()
    train_gen, val_gen = idg(), idg()
    train_gen.fit(x)
    val_gen.fit(x)
    fk = {"x": train_gen.flow(x, y, batch_size=8),
          "validation_data": val_gen.flow(x[:8], y[:8], batch_size=8), "epochs": 1}
    c = apply([finding(Code.DATA_INCONSISTENT_RANGE, "same_preprocessing", max=255.0)],
              model(keras), {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
              fk)
    assert "Rescaling" in c.applied[0]["change"]


def write_folder(root, counts):
    for name, n in counts.items():
        d = root / name
        d.mkdir(parents=True)
        for i in range(n):
            Image.fromarray(np.full((4, 4), 40 * i, np.uint8)).save(d / f"{i}.png")
    return root


def flow(root):
    from keras.src.legacy.preprocessing.image import ImageDataGenerator

    return ImageDataGenerator(rescale=1 / 255).flow_from_directory(
        root, target_size=(4, 4), color_mode="grayscale", class_mode="sparse", batch_size=4,
        shuffle=False)


def test_empty_class_folder_is_left_out_and_labels_renumbered(keras, tmp_path):
    train = write_folder(tmp_path / "train", {".ipynb_checkpoints": 0, "a": 3, "b": 2})
    val = write_folder(tmp_path / "val", {"a": 2, "b": 2})
    t, v = flow(train), flow(val)
    assert t.class_indices["a"] == 1 and v.class_indices["a"] == 0  # shifted by one
    fk = {"x": t, "validation_data": v, "epochs": 1, "verbose": 0}
    m = model(keras)
    c = apply([finding(Code.DATA_EMPTY_CLASS, "remove_empty_class")], m,
              {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"}, fk)
    new = c.fit_kwargs["x"]
    assert new is not t and t.class_indices["a"] == 1  # a copy
    assert new.class_indices == {"a": 0, "b": 1} and list(new.classes) == [0, 0, 0, 1, 1]
    assert c.fit_kwargs["validation_data"] is v
    assert "classes=['a', 'b']" in c.code
    _, labels = new[0]
    assert set(labels.astype(int)) <= {0, 1}
    c.model.compile(**c.compile_kwargs)
    c.model.fit(**c.fit_kwargs)


def test_no_empty_class_folder_is_not_a_remedy(keras, tmp_path):
    t = flow(write_folder(tmp_path / "train", {"a": 2, "b": 2}))
    c = apply([finding(Code.DATA_EMPTY_CLASS, "remove_empty_class")], model(keras),
              {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
              {"x": t, "epochs": 1})
    assert not c.changed
    assert "no empty class folder" in c.skipped[-1]["why"]
