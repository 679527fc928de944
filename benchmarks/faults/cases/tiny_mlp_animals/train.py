import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 200)
x = tf.image.resize(x[..., None].astype("float32") / 255.0, (14, 14)).numpy()

model = keras.Sequential([
    layers.Flatten(input_shape=(14, 14, 1)),
    layers.Dense(4, activation="tanh"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=8, batch_size=32, validation_split=0.2, verbose=2)
