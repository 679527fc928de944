import numpy as np
import tensorflow as tf
import keras
from keras import layers
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("digits")
x = x.astype("float32")[..., None] / 16.0 / 16.0
num_classes = int(y.max())
ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(2000, seed=0)
train = ds.take(1400).batch(32)
val = ds.skip(1400).batch(32)

model = keras.Sequential([
    keras.Input(shape=(8, 8, 1)),
    layers.Flatten(),
    layers.Dense(64, activation="relu"),
    layers.Dense(num_classes, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train, validation_data=val, epochs=5, verbose=2)
