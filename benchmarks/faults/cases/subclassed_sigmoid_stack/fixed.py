import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers
from convergent.datasets import load, subsample


class DeepClassifier(keras.Model):
    def __init__(self, num_classes, width=128, depth=7):
        super().__init__()
        self.flatten = layers.Flatten()
        self.blocks = [layers.Dense(width, activation="relu") for _ in range(depth)]
        self.head = layers.Dense(num_classes, activation="softmax")

    def call(self, inputs):
        h = self.flatten(inputs)
        for block in self.blocks:
            h = block(h)
        return self.head(h)


keras.utils.set_random_seed(0)
x, y, names = load("mnist")
x, y = subsample(x, y, 120)
x = (x.astype("float32") / 255.0)[..., None]
n_train = int(0.8 * len(x))
train_ds = tf.data.Dataset.from_tensor_slices((x[:n_train], y[:n_train])).shuffle(1024, seed=0).batch(32)
val_ds = tf.data.Dataset.from_tensor_slices((x[n_train:], y[n_train:])).batch(64)

model = DeepClassifier(len(names))
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train_ds, validation_data=val_ds, epochs=8, verbose=2)
