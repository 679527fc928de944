import keras
from keras import layers
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("mnist")
x, y = subsample(x, y, 200)
x = x.astype("float32") / 255.0
init = keras.initializers.RandomNormal(stddev=0.01)

model = keras.Sequential([keras.Input(shape=(28, 28)), layers.Flatten()])
for _ in range(12):
    model.add(layers.Dense(64, activation="tanh", kernel_initializer=init))
model.add(layers.Dense(10, activation="softmax"))
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=5, batch_size=32, validation_split=0.2, verbose=2)
