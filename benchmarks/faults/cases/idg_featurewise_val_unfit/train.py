import numpy as np
from tensorflow import keras
from tensorflow.keras import layers
from tensorflow.keras.preprocessing.image import ImageDataGenerator
from sklearn.model_selection import train_test_split
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 120)
x = x.reshape(-1, 28, 28, 1).astype("float32")
y = keras.utils.to_categorical(y, 10)
x_train, x_valid, y_train, y_valid = train_test_split(x, y, test_size=0.2, random_state=0)

train_datagen = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True)
train_datagen.fit(x_train)
valid_datagen = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True)

model = keras.Sequential([
    layers.Input(shape=(28, 28, 1)),
    layers.Flatten(),
    layers.Dense(784, kernel_initializer="normal", activation="relu"),
    layers.Dense(10, kernel_initializer="normal", activation="softmax"),
])
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
model.fit(train_datagen.flow(x_train, y_train, batch_size=32),
          validation_data=valid_datagen.flow(x_valid, y_valid, batch_size=32, shuffle=False),
          epochs=6, verbose=2)
