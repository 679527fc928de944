import keras
from keras import layers
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("mnist")
x, y = subsample(x, y, 120)
x = x.reshape(len(x), 784).astype("float32") / 255.0
y = keras.utils.to_categorical(y)

model = keras.Sequential()
model.add(keras.Input(shape=(784,)))
model.add(layers.Dense(256, activation="tanh"))
model.add(layers.Dense(128, activation="tanh"))
model.add(layers.Dense(10, activation="softmax"))
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
model.fit(x, y, batch_size=32, epochs=8, validation_split=0.2, verbose=2)
