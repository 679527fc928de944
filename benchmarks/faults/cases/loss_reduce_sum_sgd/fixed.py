import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers
from convergent.datasets import load, subsample


def my_crossentropy(y_true, y_pred):
    y_pred = tf.clip_by_value(y_pred, 1e-7, 1.0)
    return -tf.reduce_sum(y_true * tf.math.log(y_pred), axis=-1)


keras.utils.set_random_seed(0)
x, y, names = load("mnist")
x, y = subsample(x, y, 300)
x = x.reshape(len(x), -1).astype("float32") / 255.0
y = keras.utils.to_categorical(y, 10)

model = keras.Sequential([
    layers.Input(shape=(784,)),
    layers.Dense(256, activation="relu"),
    layers.Dense(128, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
              loss=my_crossentropy, metrics=["accuracy"])
model.fit(x, y, batch_size=256, epochs=10, validation_split=0.2, verbose=2)
