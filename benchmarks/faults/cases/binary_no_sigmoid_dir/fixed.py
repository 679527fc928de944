import tempfile
from pathlib import Path

import keras
from keras import layers
from convergent.datasets import load, subsample, write_folder

keras.utils.set_random_seed(0)
x, y, names = load("mnist")
keep = (y == 3) | (y == 5)
x, y = subsample(x[keep], (y[keep] == 5).astype("int64"), 150)
root = Path(tempfile.mkdtemp()) / "three_or_five"
write_folder(x, y, root, ["three", "five"])

train_ds, val_ds = keras.utils.image_dataset_from_directory(
    root, labels="inferred", label_mode="binary", validation_split=0.2, subset="both",
    seed=7, image_size=(28, 28), color_mode="grayscale", batch_size=32)

model = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    layers.Rescaling(1.0 / 255),
    layers.Conv2D(16, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Conv2D(32, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Flatten(),
    layers.Dense(32, activation="relu"),
    layers.Dense(1, activation="sigmoid"),
])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(train_ds, validation_data=val_ds, epochs=6, verbose=2)
