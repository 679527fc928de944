import tempfile
from pathlib import Path

import tensorflow as tf
from tensorflow.keras import layers, models, optimizers
from convergent.datasets import load, subsample, write_folder

tf.keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 120)
root = write_folder(x, y, Path(tempfile.mkdtemp()) / "animals", names)

train_ds = tf.keras.utils.image_dataset_from_directory(
    root, validation_split=0.2, subset="training", seed=1, image_size=(32, 32), batch_size=32)
val_ds = tf.keras.utils.image_dataset_from_directory(
    root, validation_split=0.2, subset="validation", seed=1, image_size=(32, 32), batch_size=32)
train_ds = train_ds.map(lambda img, label: (img / 255.0, label))
val_ds = val_ds.map(lambda img, label: (img / 255.0, label))

model = models.Sequential([
    layers.Input(shape=(32, 32, 3)),
    layers.Conv2D(32, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Conv2D(64, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Flatten(),
    layers.Dense(128, activation="relu"),
    layers.Dense(len(names), activation="softmax"),
])
model.compile(optimizer=optimizers.SGD(learning_rate=0.01, momentum=0.9),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train_ds, validation_data=val_ds, epochs=8, verbose=2)
