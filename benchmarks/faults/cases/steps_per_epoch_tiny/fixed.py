from tensorflow import keras
from tensorflow.keras import layers
from tensorflow.keras.preprocessing.image import ImageDataGenerator
from sklearn.model_selection import train_test_split
from convergent.datasets import load, subsample

keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 200)
x = x[..., None]
x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)

batch_size = 32
train_gen = ImageDataGenerator(rescale=1.0 / 255, width_shift_range=0.1, height_shift_range=0.1)
val_gen = ImageDataGenerator(rescale=1.0 / 255)
train_flow = train_gen.flow(x_train, y_train, batch_size=batch_size, seed=0)
val_flow = val_gen.flow(x_val, y_val, batch_size=batch_size, shuffle=False)

model = keras.Sequential([
    layers.Input(shape=(28, 28, 1)),
    layers.Conv2D(32, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Conv2D(64, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Flatten(),
    layers.Dropout(0.3),
    layers.Dense(128, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train_flow, steps_per_epoch=len(train_flow), epochs=8,
          validation_data=val_flow, verbose=2)
