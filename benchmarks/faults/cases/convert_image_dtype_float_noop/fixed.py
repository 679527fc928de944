import tempfile
from pathlib import Path

import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers
from convergent.datasets import load, subsample, write_folder

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 100)
root = write_folder(x, y, Path(tempfile.mkdtemp()) / "shapes", names, val_fraction=0.2)

train_ds = keras.utils.image_dataset_from_directory(root / "train", image_size=(28, 28),
                                                    color_mode="grayscale", batch_size=32, seed=0)
val_ds = keras.utils.image_dataset_from_directory(root / "val", image_size=(28, 28),
                                                  color_mode="grayscale", batch_size=32, shuffle=False)


def scale(image, label):
    return tf.cast(image, tf.float32) / 255.0, label


train_ds = train_ds.map(scale)
val_ds = val_ds.map(scale)

model = keras.Sequential([
    layers.Input(shape=(28, 28, 1)),
    layers.Conv2D(32, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Conv2D(64, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Flatten(),
    layers.Dense(64, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train_ds, validation_data=val_ds, epochs=8, verbose=2)
