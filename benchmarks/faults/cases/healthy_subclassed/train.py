import keras
from keras import layers
from convergent.datasets import load, subsample


class SmallNet(keras.Model):
    def __init__(self, num_classes):
        super().__init__()
        self.conv1 = layers.Conv2D(16, 3, activation="relu", padding="same")
        self.pool = layers.MaxPooling2D()
        self.conv2 = layers.Conv2D(32, 3, activation="relu", padding="same")
        self.flat = layers.Flatten()
        self.dense = layers.Dense(64, activation="relu")
        self.out = layers.Dense(num_classes, activation="softmax")

    def call(self, x):
        x = self.pool(self.conv1(x))
        x = self.pool(self.conv2(x))
        return self.out(self.dense(self.flat(x)))


keras.utils.set_random_seed(0)
x, y, names = load("mnist")
x, y = subsample(x, y, 200)
x = x.astype("float32")[..., None] / 255.0
model = SmallNet(len(names))
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=6, batch_size=32, validation_split=0.2, verbose=2)
