from tensorflow import keras
from tensorflow.keras import layers
from tensorflow.keras.preprocessing.image import ImageDataGenerator
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 100)
x = x[..., None].astype("float32")
y = keras.utils.to_categorical(y, len(names))
n_val = len(x) // 5
x_val, y_val, x_train, y_train = x[:n_val], y[:n_val], x[n_val:], y[n_val:]

train_gen = ImageDataGenerator(rescale=1.0 / 255, rotation_range=8, width_shift_range=0.1,
                               height_shift_range=0.1)
val_gen = ImageDataGenerator(rescale=1.0 / 255)

model = keras.Sequential([
    layers.Input(shape=(28, 28, 1)),
    layers.Conv2D(32, 3, activation="relu", padding="same"),
    layers.MaxPooling2D(),
    layers.Conv2D(64, 3, activation="relu", padding="same"),
    layers.MaxPooling2D(),
    layers.Flatten(),
    layers.Dense(128, activation="relu"),
    layers.Dropout(0.3),
    layers.Dense(len(names), activation="softmax"),
])
model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
model.fit(train_gen.flow(x_train, y_train, batch_size=32, seed=0),
          validation_data=val_gen.flow(x_val, y_val, batch_size=32, shuffle=False),
          epochs=7, verbose=2)
