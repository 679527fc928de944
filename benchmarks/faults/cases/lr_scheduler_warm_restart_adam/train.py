import keras
from keras import layers
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 120)
x = x[..., None].astype("float32") / 255.0

LR = 0.3


def lr_schedule(epoch, lr):
    return LR / (2 ** (epoch % 15))


inputs = keras.Input(shape=(28, 28, 1))
h = layers.Conv2D(32, 3, activation="relu")(inputs)
h = layers.MaxPooling2D()(h)
h = layers.Conv2D(64, 3, activation="relu")(h)
h = layers.MaxPooling2D()(h)
h = layers.Flatten()(h)
h = layers.Dense(128, activation="relu")(h)
outputs = layers.Dense(10, activation="softmax")(h)
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=8, batch_size=32, validation_split=0.2,
          callbacks=[keras.callbacks.LearningRateScheduler(lr_schedule)], verbose=2)
