import os
import tempfile

import tensorflow as tf
from tensorflow.keras import callbacks, layers, models, optimizers
from convergent.datasets import load, subsample

tf.keras.utils.set_random_seed(0)
x, y, names = load("animals")
x, y = subsample(x, y, 150)
x = x[..., None].astype("float32") / 255.0
n_val = len(x) // 5
train_ds = tf.data.Dataset.from_tensor_slices((x[n_val:], y[n_val:])).shuffle(2000, seed=0).batch(32)
val_ds = tf.data.Dataset.from_tensor_slices((x[:n_val], y[:n_val])).batch(32)

model = models.Sequential([
    layers.Input(shape=(28, 28, 1)),
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

log_path = os.path.join(tempfile.mkdtemp(), "training_log.csv")
epochs_per_stage = 2
for stage in range(4):
    model.fit(train_ds, validation_data=val_ds, initial_epoch=stage * epochs_per_stage,
              epochs=(stage + 1) * epochs_per_stage, callbacks=[callbacks.CSVLogger(log_path, append=True)], verbose=2)
    model.save_weights(os.path.join(os.path.dirname(log_path), f"stage{stage}.weights.h5"))
