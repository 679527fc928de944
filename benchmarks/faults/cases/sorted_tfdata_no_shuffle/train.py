import numpy as np
import tensorflow as tf
import keras
from keras import layers
from convergent.datasets import load

keras.utils.set_random_seed(0)
x, y, names = load("digits")
x = x.astype("float32")[..., None] / 255.0
order = np.argsort(y, kind="stable")
x, y = x[order], y[order]
val = np.arange(len(y)) % 5 == 0
train_ds = tf.data.Dataset.from_tensor_slices((x[~val], y[~val])).batch(32).prefetch(2)
val_ds = tf.data.Dataset.from_tensor_slices((x[val], y[val])).batch(64)

model = keras.Sequential([
    keras.Input(shape=(8, 8, 1)),
    layers.Flatten(),
    layers.Dense(64, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train_ds, validation_data=val_ds, epochs=8, verbose=2)
