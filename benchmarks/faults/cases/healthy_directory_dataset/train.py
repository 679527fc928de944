import tempfile
from pathlib import Path

import keras
from keras import layers
from convergent.datasets import load, subsample, write_folder

keras.utils.set_random_seed(0)
x, y, names = load("mnist")
x, y = subsample(x, y, 100)
root = Path(tempfile.mkdtemp()) / "digits"
write_folder(x, y, root, names)
train_ds, val_ds = keras.utils.image_dataset_from_directory(
    root, validation_split=0.2, subset="both", seed=42, image_size=(28, 28),
    color_mode="grayscale", batch_size=32)

model = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    layers.Rescaling(1.0 / 255),
    layers.Conv2D(16, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Conv2D(32, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Flatten(),
    layers.Dense(64, activation="relu"),
    layers.Dense(len(train_ds.class_names), activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train_ds, validation_data=val_ds, epochs=8, verbose=2)
