import numpy as np
from tensorflow import keras
from tensorflow.keras import layers
from convergent.datasets import load

keras.utils.set_random_seed(0)
x, y, names = load("mnist")
per_class = []
for c in range(1, len(names)):
    per_class.append(np.flatnonzero(y == c)[:150])
idx = np.random.default_rng(0).permutation(np.concatenate(per_class))
x, y = x[idx].astype("float32") / 255.0, y[idx]

model = keras.Sequential([
    layers.Flatten(input_shape=(28, 28)),
    layers.Dense(128, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=5, batch_size=32, validation_split=0.2, verbose=2)
