import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 20)
xv, yv = subsample(*load("animals")[:2], 30, seed=9)
x = x.astype("float32")[..., None] / 255.0
xv = xv.astype("float32")[..., None] / 255.0

model = keras.Sequential([
    layers.Input(shape=(28, 28, 1)),
    layers.Conv2D(48, 3, activation="relu", padding="same"),
    layers.Conv2D(48, 3, activation="relu", padding="same"),
    layers.MaxPooling2D(),
    layers.Conv2D(96, 3, activation="relu", padding="same"),
    layers.MaxPooling2D(),
    layers.Flatten(),
    layers.Dense(256, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, validation_data=(xv, yv), epochs=15, batch_size=20, verbose=2)
