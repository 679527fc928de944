from tensorflow import keras
from tensorflow.keras import layers
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("mnist")
x, y = subsample(x, y, 120)
x = x.reshape(len(x), -1).astype("float32") / 255.0
y = keras.utils.to_categorical(y, 10)

inputs = keras.Input(shape=(784,))
h = layers.Dense(128, activation="relu", kernel_initializer="ones")(inputs)
h = layers.Dense(64, activation="relu", kernel_initializer="ones")(h)
outputs = layers.Dense(10, activation="softmax")(h)
model = keras.Model(inputs=inputs, outputs=outputs)

model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=10, batch_size=32, validation_split=0.2, verbose=2)
