from tensorflow import keras
from tensorflow.keras import layers
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 150)
x = x.astype("float32")[..., None] / 255.0

model = keras.Sequential([layers.Input(shape=(28, 28, 1))])
for _ in range(6):
    model.add(layers.Conv2D(16, 3, padding="same", activation="sigmoid"))
model.add(layers.MaxPooling2D())
model.add(layers.Flatten())
model.add(layers.Dense(32, activation="sigmoid"))
model.add(layers.Dense(10, activation="softmax"))
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=4, batch_size=32, validation_split=0.2, verbose=2)
