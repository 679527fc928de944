import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 200)


def prep(img, label):
    return tf.cast(img, tf.float32)[..., None] / 255.0, label


ds = tf.data.Dataset.from_tensor_slices((x, y)).map(prep)
val = ds.take(400).batch(64)
train = ds.skip(400).shuffle(2000, seed=0).batch(32).prefetch(tf.data.AUTOTUNE)

model = keras.Sequential([
    layers.Input(shape=(28, 28, 1)),
    layers.Conv2D(32, 3, activation="relu"),
    layers.BatchNormalization(),
    layers.MaxPooling2D(),
    layers.Conv2D(64, 3, activation="relu"),
    layers.GlobalAveragePooling2D(),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train, validation_data=val, epochs=8, verbose=2)
