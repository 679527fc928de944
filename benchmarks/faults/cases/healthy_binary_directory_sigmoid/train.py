import tempfile
from pathlib import Path

import keras
from keras import layers
from convergent.datasets import load, subsample, write_folder

keras.utils.set_random_seed(0)
x, y, names = load("animals")
keep = (y == 1) | (y == 6)
x, y = subsample(x[keep], (y[keep] == 6).astype("int64"), 150)
root = Path(tempfile.mkdtemp()) / "pair"
write_folder(x, y, root, [names[1], names[6]])

train_ds, val_ds = keras.utils.image_dataset_from_directory(
    root, label_mode="binary", validation_split=0.2, subset="both", seed=11,
    image_size=(28, 28), color_mode="grayscale", batch_size=32)

inputs = keras.Input(shape=(28, 28, 1))
h = layers.Rescaling(1.0 / 255)(inputs)
h = layers.Conv2D(16, 3, activation="relu")(h)
h = layers.MaxPooling2D()(h)
h = layers.Conv2D(32, 3, activation="relu")(h)
h = layers.MaxPooling2D()(h)
h = layers.Flatten()(h)
h = layers.Dense(32, activation="relu")(h)
outputs = layers.Dense(1, activation="sigmoid")(h)
model = keras.Model(inputs, outputs)

model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(train_ds, validation_data=val_ds, epochs=6, verbose=2)
