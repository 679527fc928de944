import keras
from keras import layers
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 200)
x = x.astype("float32")[..., None] / 255.0

inputs = keras.Input(shape=(28, 28, 1))
h = layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
h = layers.MaxPooling2D()(h)
h = layers.Conv2D(64, 3, padding="same", activation="relu")(h)
h = layers.MaxPooling2D()(h)
h = layers.Flatten()(h)
h = layers.Dropout(0.3)(h)
h = layers.Dense(64, activation="relu")(h)
outputs = layers.Dense(10, activation="softmax")(h)
model = keras.Model(inputs, outputs)
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
model.fit(x, y, epochs=8, batch_size=32, validation_split=0.2, verbose=2)
