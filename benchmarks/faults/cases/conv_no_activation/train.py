import keras
from keras import layers
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 200)
x = x.astype("float32")[..., None] / 255.0

inputs = keras.Input(shape=(28, 28, 1))
h = layers.Conv2D(32, 3)(inputs)
h = layers.AveragePooling2D(2)(h)
h = layers.Conv2D(64, 3)(h)
h = layers.AveragePooling2D(2)(h)
h = layers.Flatten()(h)
h = layers.Dense(64)(h)
outputs = layers.Dense(10, activation="softmax")(h)
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=6, batch_size=32, validation_split=0.2, verbose=2)
