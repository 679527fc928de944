import numpy as np
import keras
from keras import layers
from sklearn.utils.class_weight import compute_class_weight
from convergent.datasets import load

keras.utils.set_random_seed(0)
x, y, names = load("mnist")
keep = np.concatenate([np.flatnonzero(y == 0)[:500]] +
                      [np.flatnonzero(y == c)[:12] for c in range(1, 10)])
rng = np.random.default_rng(0)
keep = rng.permutation(keep)
x, y = x[keep].astype("float32") / 255.0, y[keep]

weights = compute_class_weight("balanced", classes=np.unique(y), y=y)

model = keras.Sequential([
    keras.Input(shape=(28, 28)),
    layers.Flatten(),
    layers.Dense(32, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
model.fit(x, y, epochs=6, batch_size=32, validation_split=0.2, verbose=2,
          class_weight=dict(enumerate(weights)))
