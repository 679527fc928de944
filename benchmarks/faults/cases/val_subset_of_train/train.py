import keras
from keras import layers
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("mnist")
x, y = subsample(x, y, 120)
x = x.astype("float32") / 255.0
x_val, y_val = x[:300], y[:300]

model = keras.Sequential([
    keras.Input(shape=(28, 28)),
    layers.Flatten(),
    layers.Dense(256, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, validation_data=(x_val, y_val), epochs=8, batch_size=32, verbose=2)
