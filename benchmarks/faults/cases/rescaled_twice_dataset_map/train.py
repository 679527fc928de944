import tempfile
from pathlib import Path

import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers
from convergent.datasets import load, subsample, write_folder

keras.utils.set_random_seed(0)
x, y, names = load("mnist")
x, y = subsample(x, y, 100)
data_dir = Path(tempfile.mkdtemp()) / "digits"
write_folder(x, y, data_dir, names)

train_ds = keras.utils.image_dataset_from_directory(
    data_dir, validation_split=0.25, subset="training", seed=123, image_size=(28, 28),
    color_mode="grayscale", batch_size=32)
val_ds = keras.utils.image_dataset_from_directory(
    data_dir, validation_split=0.25, subset="validation", seed=123, image_size=(28, 28),
    color_mode="grayscale", batch_size=32)

normalization_layer = layers.Rescaling(1.0 / 255)
train_ds = train_ds.map(lambda x, y: (normalization_layer(x), y)).cache().prefetch(tf.data.AUTOTUNE)
val_ds = val_ds.map(lambda x, y: (normalization_layer(x), y)).cache().prefetch(tf.data.AUTOTUNE)

model = keras.Sequential([
    layers.Input(shape=(28, 28, 1)),
    layers.Rescaling(1.0 / 255),
    layers.Conv2D(16, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Conv2D(32, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Flatten(),
    layers.Dense(64, activation="relu"),
    layers.Dense(len(names), activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train_ds, validation_data=val_ds, epochs=6, verbose=2)
