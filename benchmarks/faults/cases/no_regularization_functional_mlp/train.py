import tensorflow as tf
import keras
from keras import layers
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 50)
x = x.astype("float32") / 255.0
ds = tf.data.Dataset.from_tensor_slices((x, y))
val = ds.take(150).batch(32)
train = ds.skip(150).shuffle(500, seed=0).batch(32)

inputs = keras.Input(shape=(28, 28))
h = layers.Flatten()(inputs)
h = layers.Dense(1024, activation="relu")(h)
h = layers.Dense(512, activation="relu")(h)
h = layers.Dense(256, activation="relu")(h)
outputs = layers.Dense(10, activation="softmax")(h)
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train, validation_data=val, epochs=30, verbose=2)
