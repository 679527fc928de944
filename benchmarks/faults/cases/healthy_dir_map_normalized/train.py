import tempfile
from pathlib import Path

import keras
from keras import layers
from convergent.datasets import load, subsample, write_folder

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 100)
root = Path(tempfile.mkdtemp()) / "shapes"
write_folder(x, y, root, names)


def scale(images, labels):
    return images / 255.0, labels


train_ds = keras.utils.image_dataset_from_directory(
    root, validation_split=0.2, subset="training", seed=7, image_size=(28, 28),
    color_mode="grayscale", label_mode="categorical", batch_size=32).map(scale)
val_ds = keras.utils.image_dataset_from_directory(
    root, validation_split=0.2, subset="validation", seed=7, image_size=(28, 28),
    color_mode="grayscale", label_mode="categorical", batch_size=32).map(scale)

inputs = keras.Input(shape=(28, 28, 1))
h = layers.Conv2D(16, 3, activation="relu")(inputs)
h = layers.MaxPooling2D()(h)
h = layers.Conv2D(32, 3, activation="relu")(h)
h = layers.MaxPooling2D()(h)
h = layers.Flatten()(h)
h = layers.Dense(64, activation="relu")(h)
outputs = layers.Dense(len(names), activation="softmax")(h)
model = keras.Model(inputs, outputs)
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy",
              metrics=["accuracy"])
model.fit(train_ds, validation_data=val_ds, epochs=8, verbose=2)
