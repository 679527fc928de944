import numpy as np
import pandas as pd
import keras
from keras import layers
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 100)
raw_names = ["Class_0" if n == 0 else f"class_{n}" for n in y]
df = pd.DataFrame({"label": raw_names})
name_to_id = {name: i for i, name in enumerate(names)}
y = df["label"].map(name_to_id).to_numpy(dtype="float32")
x = x.astype("float32") / 255.0

model = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    layers.Conv2D(16, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Flatten(),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x[..., None], y, epochs=5, batch_size=32, validation_split=0.2, verbose=2)
