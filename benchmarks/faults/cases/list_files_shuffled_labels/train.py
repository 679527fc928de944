import glob
import os
import tempfile
from pathlib import Path

import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers
from convergent.datasets import load, subsample, write_folder

keras.utils.set_random_seed(0)
x, y, names = load("mnist")
x, y = subsample(x, y, 100)
root = write_folder(x, y, Path(tempfile.mkdtemp()) / "digits", names, val_fraction=0.2)


def make_dataset(split):
    pattern = str(root / split / "*" / "*.png")
    paths = sorted(glob.glob(pattern))
    labels = [names.index(os.path.basename(os.path.dirname(p))) for p in paths]
    files = tf.data.Dataset.list_files(pattern)
    images = files.map(lambda p: tf.cast(tf.io.decode_png(tf.io.read_file(p), channels=1), tf.float32) / 255.0)
    return tf.data.Dataset.zip((images, tf.data.Dataset.from_tensor_slices(labels)))


train_ds = make_dataset("train").shuffle(1000, seed=0).batch(32)
val_ds = make_dataset("val").batch(32)

inputs = keras.Input(shape=(28, 28, 1))
h = layers.Conv2D(32, 3, activation="relu")(inputs)
h = layers.MaxPooling2D()(h)
h = layers.Conv2D(64, 3, activation="relu")(h)
h = layers.MaxPooling2D()(h)
h = layers.Flatten()(h)
h = layers.Dense(64, activation="relu")(h)
outputs = layers.Dense(10, activation="softmax")(h)
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train_ds, validation_data=val_ds, epochs=6, verbose=2)
