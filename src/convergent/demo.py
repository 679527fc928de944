"""``convergent demo``: train a small CNN on an embedded dataset and report on it."""

from __future__ import annotations

import time

import numpy as np

from convergent import datasets
from convergent.findings import Report


def run_demo(dataset: str = datasets.DEFAULT, epochs: int = 5, seed: int = 0,
             quiet: bool = False) -> Report:
    """Load ``dataset``, train a small CNN for ``epochs`` and return a report of the run."""
    x, y, names = datasets.load(dataset)
    import keras

    keras.utils.set_random_seed(seed)
    x = x[..., None].astype("float32") / 255.0
    n_classes = len(names)
    model = keras.Sequential([
        keras.Input(shape=x.shape[1:]),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(n_classes, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    x, y = x[order], y[order]
    t0 = time.perf_counter()
    hist = model.fit(x, y, validation_split=0.2, epochs=epochs, batch_size=64,
                     verbose=0 if quiet else 2)
    seconds = time.perf_counter() - t0
    h = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    summary = {"dataset": dataset, "images": len(x), "epochs": epochs,
               "val_accuracy": round(h["val_accuracy"][-1], 4),
               "fit_seconds": round(seconds, 1)}
    return Report([], command="demo", subject=f"small CNN on {dataset}",
                  metrics={"summary": summary, "history": h})
