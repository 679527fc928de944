import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 150)
split = int(0.8 * len(x))

ds_train = tf.data.Dataset.from_tensor_slices((x[:split], y[:split]))
ds_val = tf.data.Dataset.from_tensor_slices((x[split:], y[split:]))


def normalize_img(image, label):
    return tf.cast(image, tf.float32)[..., tf.newaxis] / 255.0, label


ds_train = ds_train.map(normalize_img).cache().shuffle(2000).batch(32).prefetch(tf.data.AUTOTUNE)
ds_val = ds_val.map(normalize_img).batch(64).cache().prefetch(tf.data.AUTOTUNE)

model = keras.models.Sequential([
    layers.Flatten(input_shape=(28, 28, 1)),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer=keras.optimizers.Adam(0.001),
              loss=keras.losses.SparseCategoricalCrossentropy(),
              metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
model.fit(ds_train, epochs=8, validation_data=ds_val, verbose=2)
