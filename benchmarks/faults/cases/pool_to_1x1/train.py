import keras
from keras import layers
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 150)
x = x.astype("float32")[..., None] / 255.0

model = keras.Sequential([keras.Input(shape=(28, 28, 1))])
for filters in (8, 8, 16, 16, 32):
    model.add(layers.MaxPooling2D(2, padding="same"))
    model.add(layers.Conv2D(filters, 3, padding="same", activation="relu"))
model.add(layers.Flatten())
model.add(layers.Dense(10, activation="softmax"))
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=6, batch_size=32, validation_split=0.2, verbose=2)
