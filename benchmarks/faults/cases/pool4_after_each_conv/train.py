import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 120)
x = x.astype("float32")[..., None] / 255.0

inputs = keras.Input(shape=(28, 28, 1))
h = layers.Conv2D(32, (3, 3), padding="same", activation="relu")(inputs)
h = layers.MaxPooling2D(pool_size=(4, 4))(h)
h = layers.Conv2D(64, (3, 3), padding="same", activation="relu")(h)
h = layers.MaxPooling2D(pool_size=(4, 4))(h)
h = layers.Conv2D(128, (3, 3), padding="same", activation="relu")(h)
h = layers.Flatten()(h)
h = layers.Dense(64, activation="relu")(h)
outputs = layers.Dense(10, activation="softmax")(h)
model = keras.Model(inputs, outputs)

model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=6, batch_size=32, validation_split=0.2, verbose=2)
