import keras
from keras import layers
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 120)
x = x.astype("float32")[..., None] / 255.0

base = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    layers.Conv2D(32, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Conv2D(64, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Flatten(),
], name="features")
model = keras.Sequential([base, layers.Dense(64, activation="relu"),
                          layers.Dense(len(names), activation="softmax")])

base.trainable = False
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=1, batch_size=32, validation_split=0.2, verbose=2)

base.trainable = True
model.fit(x, y, epochs=6, batch_size=32, validation_split=0.2, verbose=2)
