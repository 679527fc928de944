import tempfile
from pathlib import Path

import keras
from keras import layers
from convergent.datasets import load, subsample, write_folder

keras.utils.set_random_seed(0)
x, y, names = load("mnist")
x, y = subsample(x, y, 80)
root = Path(tempfile.mkdtemp()) / "mnist"
write_folder(x, y, root, names)
train_ds, val_ds = keras.utils.image_dataset_from_directory(
    root, validation_split=0.2, subset="both", seed=0, image_size=(32, 32), batch_size=32)

model = keras.Sequential([
    keras.Input(shape=(32, 32, 3)),
    layers.Rescaling(1.0 / 255),
    layers.AveragePooling2D(pool_size=16),
    layers.Conv2D(32, 2, activation="relu"),
    layers.Flatten(),
    layers.Dense(64, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train_ds, validation_data=val_ds, epochs=5, verbose=2)
