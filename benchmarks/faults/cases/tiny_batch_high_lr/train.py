import tensorflow as tf
import keras
from keras import layers
from convergent.datasets import load

keras.utils.set_random_seed(0)
x, y, names = load("digits")
x = x.astype("float32")[..., None] / 255.0
ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(2000, seed=0, reshuffle_each_iteration=False)
train = ds.take(1400).shuffle(1400, seed=1).batch(2)
val = ds.skip(1400).batch(64)

model = keras.Sequential([
    keras.Input(shape=(8, 8, 1)),
    layers.Flatten(),
    layers.Dense(64, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.02),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train, validation_data=val, epochs=4, verbose=2)
