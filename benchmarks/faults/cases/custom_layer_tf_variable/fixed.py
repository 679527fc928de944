import tensorflow as tf
import keras
from convergent.datasets import load, subsample


class MyDense(keras.layers.Layer):
    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                 initializer=keras.initializers.RandomNormal(stddev=0.05), name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")

    def call(self, inputs):
        return self.activation(tf.matmul(inputs, self.w) + self.b)


keras.utils.set_random_seed(0)
x, y, names = load("mnist")
x, y = subsample(x, y, 200)
x = x.reshape(len(x), -1).astype("float32") / 255.0

model = keras.Sequential([
    keras.Input(shape=(784,)),
    MyDense(256, activation="relu"),
    MyDense(128, activation="relu"),
    MyDense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, batch_size=32, epochs=8, validation_split=0.2, verbose=2)
