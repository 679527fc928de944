import tensorflow as tf
from tensorflow import keras
from convergent.datasets import load, subsample


class ShapeNet(keras.Model):
    def __init__(self, num_classes):
        super().__init__()
        self.conv1 = keras.layers.Conv2D(32, 3, activation="relu")
        self.pool1 = keras.layers.MaxPooling2D()
        self.conv2 = keras.layers.Conv2D(64, 3, activation="relu")
        self.pool2 = keras.layers.MaxPooling2D()
        self.flatten = keras.layers.Flatten()
        self.hidden = keras.layers.Dense(128, activation="relu")
        self.classifier = keras.layers.Dense(num_classes, activation="softmax")

    def call(self, x):
        x = self.pool1(self.conv1(x))
        x = self.pool2(self.conv2(x))
        x = self.hidden(self.flatten(x))
        return self.classifier(x)


keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 150)
x = (x[..., None] / 255.0).astype("float32")
n_val = len(x) // 5
train_ds = tf.data.Dataset.from_tensor_slices((x[n_val:], y[n_val:])).shuffle(2000, seed=0).batch(32)
val_ds = tf.data.Dataset.from_tensor_slices((x[:n_val], y[:n_val])).batch(32)

model = ShapeNet(len(names))
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train_ds, validation_data=val_ds, epochs=8, verbose=2)
