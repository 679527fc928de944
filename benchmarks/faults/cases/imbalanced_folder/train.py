import tempfile
from pathlib import Path

import numpy as np
import keras
from keras import layers
from convergent.datasets import load, write_folder

keras.utils.set_random_seed(0)
x, y, names = load("animals")
counts = [400, 300, 20, 15, 10, 10, 8, 8, 6, 6]
idx = np.concatenate([np.flatnonzero(y == c)[:n] for c, n in enumerate(counts)])
data_dir = Path(tempfile.mkdtemp()) / "shapes"
write_folder(x[idx], y[idx], data_dir, names)

train_ds, val_ds = keras.utils.image_dataset_from_directory(
    data_dir, validation_split=0.2, subset="both", seed=7, image_size=(28, 28),
    color_mode="grayscale", batch_size=32)

model = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    layers.Rescaling(1.0 / 255),
    layers.Conv2D(16, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Flatten(),
    layers.Dense(32, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train_ds, validation_data=val_ds, epochs=5, verbose=2)
