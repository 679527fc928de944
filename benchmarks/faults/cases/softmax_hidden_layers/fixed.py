from tensorflow.keras.models import Sequential
from tensorflow.keras.layers import Dense, Input
from tensorflow.keras.utils import to_categorical, set_random_seed
from sklearn.model_selection import train_test_split
from convergent.datasets import load, subsample

set_random_seed(0)
x, y, names = load("mnist")
x, y = subsample(x, y, 300)
x = x.reshape(-1, 784).astype("float32") / 255.0
y = to_categorical(y, 10)
x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0)

model = Sequential()
model.add(Input(shape=(784,)))
model.add(Dense(128, activation="relu"))
model.add(Dense(64, activation="relu"))
model.add(Dense(10, activation="softmax"))
model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=32, epochs=10, validation_data=(x_test, y_test), verbose=2)
