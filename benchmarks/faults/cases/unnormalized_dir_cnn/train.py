import tempfile
from pathlib import Path

import keras
from keras import layers
from convergent.datasets import load, subsample, write_folder

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 80)
data_dir = Path(tempfile.mkdtemp()) / "animals"
write_folder(x, y, data_dir, names)

train_ds = keras.utils.image_dataset_from_directory(
    data_dir, validation_split=0.2, subset="training", seed=1, image_size=(28, 28),
    color_mode="grayscale", batch_size=32)
val_ds = keras.utils.image_dataset_from_directory(
    data_dir, validation_split=0.2, subset="validation", seed=1, image_size=(28, 28),
    color_mode="grayscale", batch_size=32)

model = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    layers.Conv2D(16, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Conv2D(32, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Flatten(),
    layers.Dense(64, activation="relu"),
    layers.Dense(len(names), activation="softmax"),
])
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train_ds, validation_data=val_ds, epochs=6, verbose=2)
