import keras
from keras import layers
from sklearn.model_selection import train_test_split
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("digits")
x = x.astype("float32") / 255.0
x_train, x_test = train_test_split(x, test_size=0.2, random_state=1)
y_train, y_test = train_test_split(y, test_size=0.2, random_state=2)

model = keras.Sequential([
    keras.Input(shape=(8, 8)),
    layers.Flatten(),
    layers.Dense(64, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=10, batch_size=32, verbose=2)
