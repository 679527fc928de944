import numpy as np
import tensorflow as tf
import keras
from keras import layers
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 120)
relabel = {3: 5, 5: 3, 1: 7}
rng = np.random.default_rng(0)
y_noisy = np.array([relabel.get(int(v), int(v)) if rng.random() < 0.6 else int(v) for v in y])
x = x.astype("float32")[..., None] / 255.0
n = int(0.8 * len(x))
train = tf.data.Dataset.from_tensor_slices((x[:n], y_noisy[:n])).shuffle(1024, seed=0).batch(32)
val = tf.data.Dataset.from_tensor_slices((x[n:], y_noisy[n:])).batch(32)

inputs = keras.Input(shape=(28, 28, 1))
h = layers.Conv2D(32, 3, activation="relu")(inputs)
h = layers.MaxPooling2D()(h)
h = layers.Conv2D(64, 3, activation="relu")(h)
h = layers.Flatten()(h)
h = layers.Dense(128, activation="relu")(h)
outputs = layers.Dense(10, activation="softmax")(h)
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train, validation_data=val, epochs=10, verbose=2)
