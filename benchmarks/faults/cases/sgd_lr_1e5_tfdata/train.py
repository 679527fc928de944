import tensorflow as tf
import keras
from keras import layers
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("mnist")
x, y = subsample(x, y, 200)
ds = tf.data.Dataset.from_tensor_slices((x, y))
ds = ds.map(lambda img, label: (tf.cast(img, tf.float32)[..., None] / 255.0, label))
val = ds.take(400).batch(32)
train = ds.skip(400).shuffle(2000, seed=0).batch(32)

inputs = keras.Input(shape=(28, 28, 1))
h = layers.Conv2D(16, 3, activation="relu")(inputs)
h = layers.MaxPooling2D()(h)
h = layers.Flatten()(h)
h = layers.Dense(64, activation="relu")(h)
outputs = layers.Dense(10, activation="softmax")(h)
model = keras.Model(inputs, outputs)
model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e-5),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train, validation_data=val, epochs=5, verbose=2)
