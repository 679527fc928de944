import numpy as np
from tensorflow import keras
from tensorflow.keras import layers
from tensorflow.keras.preprocessing.image import ImageDataGenerator
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 40)
x = x.astype("float32")[..., None]
idx = np.random.default_rng(0).permutation(len(x))
x, y = x[idx], keras.utils.to_categorical(y[idx], 10)
n = int(0.8 * len(x))

gen = ImageDataGenerator(rescale=1.0 / 255)
train = gen.flow(x[:n], y[:n], batch_size=32, seed=0)
val = gen.flow(x[n:], y[n:], batch_size=32, shuffle=False)

model = keras.Sequential([
    layers.Conv2D(32, (3, 3), input_shape=(28, 28, 1)),
    layers.BatchNormalization(),
    layers.Activation("relu"),
    layers.MaxPooling2D((2, 2)),
    layers.Conv2D(64, (3, 3)),
    layers.BatchNormalization(),
    layers.Activation("relu"),
    layers.MaxPooling2D((2, 2)),
    layers.Flatten(),
    layers.Dense(128, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
model.fit(train, validation_data=val, epochs=10, verbose=2)
