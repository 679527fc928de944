import numpy as np
import keras
from keras import layers
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 150)
x = x.astype("float32")[..., None] / 255.0
rng = np.random.default_rng(1)
idx = rng.permutation(len(y))
x_val, y_val = x[idx[:300]], y[idx[:300]]
train = np.sort(idx[300:])
order = train[np.argsort(y[train], kind="stable")]
x_train, y_train = x[order], y[order]

model = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    layers.Conv2D(16, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Flatten(),
    layers.Dense(64, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=5, batch_size=32,
          shuffle=False, verbose=2)
