import math

import numpy as np
import keras
from keras import layers
from convergent.datasets import load


class DigitsPyDataset(keras.utils.PyDataset):
    def __init__(self, x_set, y_set, batch_size, shuffle=False, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y = x_set, y_set
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.order = np.arange(len(self.x))

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, idx):
        rows = self.order[idx * self.batch_size:(idx + 1) * self.batch_size]
        return self.x[rows], self.y[rows]

    def on_epoch_end(self):
        if self.shuffle:
            np.random.shuffle(self.order)


keras.utils.set_random_seed(0)
x, y, names = load("digits")
x = x.reshape(len(x), -1).astype("float32") / 255.0
idx = np.random.permutation(len(x))
x, y = x[idx], y[idx]
split = int(0.8 * len(x))
train_data = DigitsPyDataset(x[:split], y[:split], batch_size=32, shuffle=True)
val_data = DigitsPyDataset(x[split:], y[split:], batch_size=64)

model = keras.Sequential([
    keras.Input(shape=(64,)),
    layers.Dense(128),
    layers.BatchNormalization(),
    layers.Activation("relu"),
    layers.Dropout(0.2),
    layers.Dense(64, activation="relu"),
    layers.Dense(len(names), activation="softmax"),
])
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train_data, validation_data=val_data, epochs=15, verbose=2)
