import keras
from keras import layers
from sklearn.model_selection import train_test_split
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("mnist")
x, y = subsample(x, y, 120)
x = x.reshape(-1, 784).astype("float32") / 255.0
x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)

model = keras.Sequential([
    keras.Input(shape=(784,)),
    layers.Dense(128, activation="relu"),
    layers.Dense(64, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=2,
                                     restore_best_weights=True)
model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=40, batch_size=32,
          callbacks=[stop], verbose=2)
print("val_accuracy", model.evaluate(x_val, y_val, verbose=0)[1])
