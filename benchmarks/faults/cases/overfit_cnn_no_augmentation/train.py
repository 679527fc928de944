import tempfile
from pathlib import Path

import keras
from keras import layers
from convergent.datasets import load, subsample, write_folder

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 40)
root = Path(tempfile.mkdtemp()) / "animals"
write_folder(x, y, root, names, val_fraction=0.5)
train_ds = keras.utils.image_dataset_from_directory(
    root / "train", image_size=(28, 28), color_mode="grayscale", batch_size=16, seed=0)
val_ds = keras.utils.image_dataset_from_directory(
    root / "val", image_size=(28, 28), color_mode="grayscale", batch_size=16)

model = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    layers.Rescaling(1.0 / 255),
    layers.Conv2D(32, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Conv2D(64, 3, activation="relu"),
    layers.Flatten(),
    layers.Dense(256, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train_ds, validation_data=val_ds, epochs=25, verbose=2)
