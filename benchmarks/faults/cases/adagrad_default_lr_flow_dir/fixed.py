import tempfile
from pathlib import Path

from tensorflow import keras
from tensorflow.keras import layers
from tensorflow.keras.preprocessing.image import ImageDataGenerator
from convergent.datasets import load, subsample, write_folder

keras.utils.set_random_seed(0)
x, y, names = load("mnist")
x, y = subsample(x, y, 100)
root = write_folder(x, y, Path(tempfile.mkdtemp()) / "digits", names, val_fraction=0.2)

datagen = ImageDataGenerator(rescale=1.0 / 255)
train_gen = datagen.flow_from_directory(root / "train", target_size=(28, 28), color_mode="grayscale",
                                        batch_size=32, class_mode="categorical", seed=0)
val_gen = datagen.flow_from_directory(root / "val", target_size=(28, 28), color_mode="grayscale",
                                      batch_size=32, class_mode="categorical", shuffle=False)

model = keras.Sequential([
    layers.Input(shape=(28, 28, 1)),
    layers.Conv2D(32, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Conv2D(64, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Flatten(),
    layers.Dense(128, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer=keras.optimizers.Adagrad(learning_rate=0.01), loss="categorical_crossentropy", metrics=["accuracy"])
model.fit(train_gen, validation_data=val_gen, epochs=6, verbose=2)
