import numpy as np
from tensorflow import keras
from tensorflow.keras import layers
from convergent.datasets import load

keras.utils.set_random_seed(1)
x, y, names = load("digits")
x = np.expand_dims(x, -1).astype("float32")
y = keras.utils.to_categorical(y, 10)

model = keras.Sequential([
    layers.Conv2D(32, 3, padding="same", activation="relu", input_shape=(8, 8, 1)),
    layers.Conv2D(32, 3, padding="same", activation="relu"),
    layers.Flatten(),
    layers.Dense(128, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01),
              loss="categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=8, batch_size=64, validation_split=0.2, shuffle=True, verbose=2)
