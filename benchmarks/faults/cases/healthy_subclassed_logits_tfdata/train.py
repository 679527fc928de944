import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers
from convergent.datasets import load, subsample


class DigitNet(keras.Model):
    def __init__(self, num_classes):
        super().__init__()
        self.conv1 = layers.Conv2D(32, 3, activation="relu")
        self.conv2 = layers.Conv2D(64, 3, activation="relu")
        self.pool = layers.MaxPooling2D()
        self.flatten = layers.Flatten()
        self.d1 = layers.Dense(128, activation="relu")
        self.dropout = layers.Dropout(0.2)
        self.d2 = layers.Dense(num_classes)

    def call(self, x, training=False):
        x = self.pool(self.conv1(x))
        x = self.pool(self.conv2(x))
        x = self.dropout(self.d1(self.flatten(x)), training=training)
        return self.d2(x)


keras.utils.set_random_seed(0)
x, y, names = load("mnist")
x, y = subsample(x, y, 100)
x = (x / 255.0).astype("float32")[..., tf.newaxis]
n_train = int(len(x) * 0.8)
train_ds = tf.data.Dataset.from_tensor_slices((x[:n_train], y[:n_train])).shuffle(1000, seed=0).batch(32)
test_ds = tf.data.Dataset.from_tensor_slices((x[n_train:], y[n_train:])).batch(32)

model = DigitNet(len(names))
model.compile(optimizer=keras.optimizers.Adam(1e-3),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
model.fit(train_ds, validation_data=test_ds, epochs=6, verbose=2)
