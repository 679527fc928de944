import numpy as np
import keras
from keras import layers
from sklearn.model_selection import train_test_split
from convergent.datasets import load

keras.utils.set_random_seed(0)
x, y, names = load("animals")
idx = np.concatenate([np.flatnonzero(y == c)[: (200 if c < 5 else 25)] for c in range(10)])
x, y = x[idx], y[idx]
minority = np.flatnonzero(y >= 5)
extra = np.repeat(minority, 7)
x = np.concatenate([x, x[extra]])
y = np.concatenate([y, y[extra]])
x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
x_train = x_train.astype("float32")[..., None] / 255.0
x_val = x_val.astype("float32")[..., None] / 255.0

model = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    layers.Conv2D(32, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Flatten(),
    layers.Dense(128, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=6, batch_size=32, verbose=2)
