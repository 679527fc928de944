from tensorflow import keras
from tensorflow.keras import layers
from convergent.datasets import load

keras.utils.set_random_seed(0)
x, y, names = load("digits")
x = x.astype("float32") / 255.0

model = keras.Sequential([
    layers.Flatten(input_shape=(8, 8)),
    layers.Dense(128, activation="relu"),
    layers.Dense(64, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=6, batch_size=32, validation_split=0.2, shuffle=True, verbose=2)
