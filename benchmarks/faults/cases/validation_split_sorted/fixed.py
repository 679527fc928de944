import numpy as np
import keras
from keras import layers
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("mnist")
x, y = subsample(x, y, 150)
order = np.argsort(y, kind="stable")
x, y = x[order], y[order]
shuffled = np.random.default_rng(0).permutation(len(x))
x, y = x[shuffled], y[shuffled]
x = x.astype("float32") / 255.0

model = keras.Sequential([
    keras.Input(shape=(28, 28)),
    layers.Flatten(),
    layers.Dense(128, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=5, batch_size=32, validation_split=0.2, shuffle=True, verbose=2)
