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
(root / "train" / ".ipynb_checkpoints").mkdir()

datagen = ImageDataGenerator(rescale=1.0 / 255)
train_flow = datagen.flow_from_directory(root / "train", target_size=(28, 28), color_mode="grayscale",
                                         class_mode="sparse", batch_size=32, seed=0)
val_flow = datagen.flow_from_directory(root / "val", target_size=(28, 28), color_mode="grayscale",
                                       class_mode="sparse", batch_size=32, shuffle=False)

model = keras.Sequential([
    layers.Input(shape=(28, 28, 1)),
    layers.Conv2D(32, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Conv2D(64, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Flatten(),
    layers.Dense(128, activation="relu"),
    layers.Dense(train_flow.num_classes, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train_flow, validation_data=val_flow, epochs=6, verbose=2)
