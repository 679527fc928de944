import numpy as np
from tensorflow import keras
from tensorflow.keras import layers
from convergent.datasets import load

keras.utils.set_random_seed(0)
x, y, names = load("digits")
x = x.astype("float32") / 255.0
y = keras.utils.to_categorical(y)

model = keras.Sequential()
model.add(layers.Flatten(input_shape=(8, 8)))
model.add(layers.Dense(64, activation="relu"))
model.add(layers.Dense(10, activation="softmax"))
model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=10, batch_size=32, validation_split=0.2, shuffle=True, verbose=2)
