import numpy as np
import keras
from keras import layers
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("mnist")
x, y = subsample(x, y, 150)
rng = np.random.default_rng(3)
flip = rng.random(len(y)) < 0.45
y = y.copy()
y[flip] = rng.integers(0, 10, flip.sum())
x = x.astype("float32") / 255.0

model = keras.Sequential([
    keras.Input(shape=(28, 28)),
    layers.Flatten(),
    layers.Dense(256, activation="relu"),
    layers.Dense(128, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=15, batch_size=32, validation_split=0.2, verbose=2)
