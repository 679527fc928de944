import numpy as np
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers
from convergent.datasets import load

keras.utils.set_random_seed(0)
x, y, names = load("animals")
xs, ys = [], []
for c in range(10):
    idx = np.flatnonzero(y == c)[:120]
    xs.append(x[idx])
    ys.append(y[idx])
x = np.concatenate(xs).astype("float32")[..., None] / 255.0
y = np.concatenate(ys)

n_train = int(0.8 * len(x))
train_ds = tf.data.Dataset.from_tensor_slices((x[:n_train], y[:n_train])).shuffle(2000).batch(32)
val_ds = tf.data.Dataset.from_tensor_slices((x[n_train:], y[n_train:])).batch(32)

model = keras.Sequential([
    layers.Input(shape=(28, 28, 1)),
    layers.Conv2D(16, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Conv2D(32, 3, activation="relu"),
    layers.GlobalAveragePooling2D(),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train_ds, validation_data=val_ds, epochs=5, verbose=2)
