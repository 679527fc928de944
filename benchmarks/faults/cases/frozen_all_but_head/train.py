import numpy as np
import keras
from keras import layers
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 150)
x = np.repeat(x[..., None], 3, axis=-1).astype("float32") / 255.0

inputs = keras.Input(shape=(28, 28, 3))
h = layers.Conv2D(32, 3, activation="relu")(inputs)
h = layers.Conv2D(32, 3, activation="relu")(h)
h = layers.MaxPooling2D()(h)
h = layers.Conv2D(64, 3, activation="relu")(h)
h = layers.Flatten()(h)
h = layers.Dense(128, activation="relu")(h)
h = layers.Dense(64, activation="relu")(h)
outputs = layers.Dense(10, activation="softmax")(h)
model = keras.Model(inputs, outputs)
for layer in model.layers[:-1]:
    layer.trainable = False
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=5, batch_size=32, validation_split=0.2, verbose=2)
