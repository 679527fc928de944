import tempfile
from pathlib import Path

import keras
from keras import layers
from convergent.datasets import load, subsample, write_folder

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 100)
root = Path(tempfile.mkdtemp()) / "animals"
write_folder(x, y, root, names, val_fraction=0.2)

train_ds = keras.utils.image_dataset_from_directory(
    root / "train", image_size=(28, 28), color_mode="grayscale", batch_size=32, seed=3)
val_ds = keras.utils.image_dataset_from_directory(
    root / "val", image_size=(28, 28), color_mode="grayscale", batch_size=32, shuffle=False)

keep_prob = 0.9

inputs = keras.Input(shape=(28, 28, 1))
h = layers.Rescaling(1.0 / 255)(inputs)
h = layers.Conv2D(32, 3, activation="relu")(h)
h = layers.MaxPooling2D()(h)
h = layers.Dropout(1 - keep_prob)(h)
h = layers.Conv2D(64, 3, activation="relu")(h)
h = layers.MaxPooling2D()(h)
h = layers.Dropout(1 - keep_prob)(h)
h = layers.Flatten()(h)
h = layers.Dense(128, activation="relu")(h)
h = layers.Dropout(1 - keep_prob)(h)
outputs = layers.Dense(len(train_ds.class_names), activation="softmax")(h)
model = keras.Model(inputs, outputs)

model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train_ds, validation_data=val_ds, epochs=8, verbose=2)
