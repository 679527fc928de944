import numpy as np
import keras
from keras import layers
from convergent.datasets import load

keras.utils.set_random_seed(0)
x, y, names = load("mnist")
mask = (y == 3) | (y == 8)
x, y = x[mask].astype("float32") / 255.0, (y[mask] == 8).astype("float32")
order = np.random.default_rng(0).permutation(len(x))
x, y = x[order], y[order]

model = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    layers.Conv2D(16, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Flatten(),
    layers.Dense(32, activation="relu"),
    layers.Dense(1, activation="softmax"),
])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x[..., None], y, epochs=4, batch_size=32, validation_split=0.2, verbose=2)
