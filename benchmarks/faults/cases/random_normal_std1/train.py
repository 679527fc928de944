import keras
from keras import layers
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("mnist")
x, y = subsample(x, y, 200)
x = x.astype("float32") / 255.0
init = keras.initializers.RandomNormal(mean=0.0, stddev=1.0)

model = keras.Sequential([
    keras.Input(shape=(28, 28)),
    layers.Flatten(),
    layers.Dense(256, activation="relu", kernel_initializer=init),
    layers.Dense(256, activation="relu", kernel_initializer=init),
    layers.Dense(128, activation="relu", kernel_initializer=init),
    layers.Dense(10, activation="softmax", kernel_initializer=init),
])
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=5, batch_size=32, validation_split=0.2, verbose=2)
