from tensorflow import keras
from tensorflow.keras import layers
from convergent.datasets import load

keras.utils.set_random_seed(0)
x, y, names = load("digits")
x = x.astype("float32") / 255.0

inputs = keras.Input(shape=(8, 8))
h = layers.Flatten()(inputs)
for _ in range(20):
    h = layers.Dense(32, activation="sigmoid")(h)
outputs = layers.Dense(10, activation="softmax")(h)
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=8, batch_size=32, validation_split=0.2, shuffle=True, verbose=2)
