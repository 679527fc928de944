import tempfile
from pathlib import Path

import keras
from keras import layers
from convergent.datasets import load, subsample, write_folder

keras.utils.set_random_seed(0)
x, y, names = load("mnist")
x, y = subsample(x, y, 6)
root = Path(tempfile.mkdtemp()) / "few"
write_folder(x, y, root, names)

train_ds = keras.utils.image_dataset_from_directory(
    root, validation_split=0.3, subset="training", seed=3, image_size=(28, 28),
    color_mode="grayscale", batch_size=4)
val_ds = keras.utils.image_dataset_from_directory(
    root, validation_split=0.3, subset="validation", seed=3, image_size=(28, 28),
    color_mode="grayscale", batch_size=4)

model = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    layers.Rescaling(1 / 255.0),
    layers.Flatten(),
    layers.Dense(256, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train_ds, validation_data=val_ds, epochs=25, verbose=2)
