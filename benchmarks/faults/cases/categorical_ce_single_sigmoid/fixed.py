import numpy as np
from tensorflow import keras
from tensorflow.keras import layers
from tensorflow.keras.preprocessing.image import ImageDataGenerator
from convergent.datasets import load

keras.utils.set_random_seed(0)
x, y, names = load("mnist")
mask = (y == 4) | (y == 9)
x, y = x[mask], (y[mask] == 9).astype("float32")
order = np.random.default_rng(0).permutation(len(x))
x, y = x[order][:300, ..., None], y[order][:300]
x_train, y_train, x_val, y_val = x[:240], y[:240], x[240:], y[240:]

train_gen = ImageDataGenerator(rescale=1.0 / 255, rotation_range=10)
val_gen = ImageDataGenerator(rescale=1.0 / 255)

model = keras.Sequential([
    layers.Input(shape=(28, 28, 1)),
    layers.Conv2D(16, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Conv2D(32, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Flatten(),
    layers.Dense(32, activation="relu"),
    layers.Dense(1, activation="sigmoid"),
])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(train_gen.flow(x_train, y_train, batch_size=16, seed=0),
          validation_data=val_gen.flow(x_val, y_val, batch_size=16, shuffle=False),
          epochs=6, verbose=2)
