from tensorflow import keras
from tensorflow.keras import layers
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("mnist")
x, y = subsample(x, y, 150)
x = x.astype("float32") / 255.0

model = keras.Sequential([layers.Flatten(input_shape=(28, 28))])
for _ in range(14):
    model.add(layers.Dense(48, activation="relu"))
model.add(layers.Dense(10, activation="softmax"))
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=5, batch_size=32, validation_split=0.2, verbose=2)
