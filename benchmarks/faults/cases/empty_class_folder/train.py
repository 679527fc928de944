import tempfile
from pathlib import Path

import numpy as np
import keras
from keras import layers
from convergent.datasets import load, subsample, write_folder

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 60)
keep = y != 4
root = Path(tempfile.mkdtemp()) / "animals"
write_folder(x[keep], y[keep], root, names)
(root / names[4]).mkdir(exist_ok=True)
(root / names[4] / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")

train_ds = keras.utils.image_dataset_from_directory(
    root, validation_split=0.2, subset="training", seed=0, image_size=(28, 28),
    color_mode="grayscale", label_mode="categorical", batch_size=32)
val_ds = keras.utils.image_dataset_from_directory(
    root, validation_split=0.2, subset="validation", seed=0, image_size=(28, 28),
    color_mode="grayscale", label_mode="categorical", batch_size=32)
num_classes = len(train_ds.class_names)

model = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    layers.Rescaling(1.0 / 255),
    layers.Conv2D(16, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Flatten(),
    layers.Dense(64, activation="relu"),
    layers.Dense(num_classes, activation="softmax"),
])
model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
model.fit(train_ds, validation_data=val_ds, epochs=4, verbose=2)
