import csv
import os
import tempfile

import numpy as np
from PIL import Image
import tensorflow as tf
from tensorflow.keras import layers
from convergent.datasets import load, subsample

tf.keras.utils.set_random_seed(0)
x, y, names = load("mnist")
x, y = subsample(x, y, 100)
data_dir = tempfile.mkdtemp()
images_dir = os.path.join(data_dir, "images")
os.makedirs(images_dir)
with open(os.path.join(data_dir, "labels.csv"), "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["filename", "label"])
    for i, (img, label) in enumerate(zip(x, y)):
        Image.fromarray(img).save(os.path.join(images_dir, f"{i}.png"))
        writer.writerow([f"{i}.png", int(label)])

with open(os.path.join(data_dir, "labels.csv")) as f:
    label_of = {row["filename"]: int(row["label"]) for row in csv.DictReader(f)}
label_list = []
for path, directories, image_files in os.walk(images_dir):
    for image_file in sorted(image_files):
        label_list.append(label_of[image_file])

train_ds, val_ds = tf.keras.utils.image_dataset_from_directory(
    images_dir, labels=label_list, label_mode="int", color_mode="grayscale", image_size=(28, 28),
    validation_split=0.2, subset="both", seed=0, batch_size=32)

model = tf.keras.Sequential([
    layers.Input(shape=(28, 28, 1)),
    layers.Rescaling(1.0 / 255),
    layers.Conv2D(32, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Conv2D(64, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Flatten(),
    layers.Dense(128, activation="relu"),
    layers.Dense(10),
])
model.compile(optimizer="adam", loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
model.fit(train_ds, validation_data=val_ds, epochs=6, verbose=2)
