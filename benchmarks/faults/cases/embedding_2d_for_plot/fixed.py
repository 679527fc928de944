from tensorflow import keras
from tensorflow.keras import layers
from tensorflow.keras.preprocessing.image import ImageDataGenerator
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 120)
x = x[..., None].astype("float32")
y = keras.utils.to_categorical(y, len(names))
n_val = len(x) // 5
x_val, y_val, x_train, y_train = x[:n_val], y[:n_val], x[n_val:], y[n_val:]

datagen = ImageDataGenerator(rescale=1.0 / 255)
train_iter = datagen.flow(x_train, y_train, batch_size=32, seed=0)
val_iter = datagen.flow(x_val, y_val, batch_size=32, shuffle=False)

inputs = keras.Input(shape=(28, 28, 1))
h = layers.Conv2D(32, 3, activation="relu")(inputs)
h = layers.MaxPooling2D()(h)
h = layers.Conv2D(64, 3, activation="relu")(h)
h = layers.MaxPooling2D()(h)
h = layers.Flatten()(h)
h = layers.Dense(128, activation="relu")(h)
embedding = layers.Dense(64, name="embedding")(h)
h = layers.Dense(64, activation="relu")(embedding)
outputs = layers.Dense(len(names), activation="softmax")(h)
model = keras.Model(inputs, outputs)

model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
model.fit(train_iter, validation_data=val_iter, epochs=6, verbose=2)
embedder = keras.Model(inputs, embedding)
