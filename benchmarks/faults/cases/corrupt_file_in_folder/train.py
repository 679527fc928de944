import tempfile
from pathlib import Path

import keras
from keras import layers
from convergent.datasets import load, subsample, write_folder

keras.utils.set_random_seed(0)
x, y, names = load("mnist")
x, y = subsample(x, y, 50)
root = Path(tempfile.mkdtemp()) / "digits"
write_folder(x, y, root, names)
victim = sorted((root / "3").glob("*.png"))[7]
victim.write_bytes(victim.read_bytes()[:60])

train_ds = keras.utils.image_dataset_from_directory(
    root, image_size=(28, 28), color_mode="grayscale", batch_size=32, seed=0)

model = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    layers.Rescaling(1.0 / 255),
    layers.Flatten(),
    layers.Dense(64, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train_ds, epochs=3, verbose=2)
