import tempfile
from pathlib import Path

from tensorflow import keras
from tensorflow.keras import layers
from convergent.datasets import load, subsample, write_folder

keras.utils.set_random_seed(0)
x, y, names = load("animals")
keep = y < 3
x, y = subsample(x[keep], y[keep], 150)
data_dir = Path(tempfile.mkdtemp()) / "shapes"
write_folder(x, y, data_dir, names[:3])

train_ds = keras.utils.image_dataset_from_directory(
    data_dir, validation_split=0.2, subset="training", seed=1, image_size=(28, 28),
    color_mode="grayscale", batch_size=32)
val_ds = keras.utils.image_dataset_from_directory(
    data_dir, validation_split=0.2, subset="validation", seed=1, image_size=(28, 28),
    color_mode="grayscale", batch_size=32)

model = keras.Sequential()
model.add(layers.Input(shape=(28, 28, 1)))
model.add(layers.Rescaling(1.0 / 255))
model.add(layers.Conv2D(32, (3, 3)))
model.add(layers.Activation("relu"))
model.add(layers.MaxPooling2D(pool_size=(2, 2)))
model.add(layers.Conv2D(32, (3, 3)))
model.add(layers.Activation("relu"))
model.add(layers.MaxPooling2D(pool_size=(2, 2)))
model.add(layers.Flatten())
model.add(layers.Dense(64))
model.add(layers.Activation("relu"))
model.add(layers.Dropout(0.5))
model.add(layers.Dense(3))
model.add(layers.Activation("softmax"))

model.compile(loss="sparse_categorical_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
model.fit(train_ds, validation_data=val_ds, epochs=6, verbose=2)
