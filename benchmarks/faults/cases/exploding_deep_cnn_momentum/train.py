import numpy as np
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 150)
x = x.astype("float32")[..., None] / 255.0

inputs = keras.Input(shape=(28, 28, 1))
h = inputs
for filters in (8, 8, 16, 16, 16, 16):
    h = layers.Conv2D(filters, 3, padding="same", activation="relu",
                      kernel_initializer=keras.initializers.HeNormal())(h)
h = layers.GlobalAveragePooling2D()(h)
outputs = layers.Dense(10, activation="softmax")(h)
model = keras.Model(inputs, outputs)
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.3, momentum=0.95),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=4, batch_size=32, validation_split=0.2, verbose=2)
