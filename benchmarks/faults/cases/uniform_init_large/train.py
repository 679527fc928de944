import keras
from keras import layers
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 150)
x = x.astype("float32")[..., None] / 255.0
init = keras.initializers.RandomUniform(minval=-3.0, maxval=3.0)

inputs = keras.Input(shape=(28, 28, 1))
h = layers.Conv2D(32, 3, activation="relu", kernel_initializer=init)(inputs)
h = layers.MaxPooling2D()(h)
h = layers.Conv2D(32, 3, activation="relu", kernel_initializer=init)(h)
h = layers.Flatten()(h)
h = layers.Dense(64, activation="relu", kernel_initializer=init)(h)
outputs = layers.Dense(10, activation="softmax")(h)
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=5, batch_size=32, validation_split=0.2, verbose=2)
