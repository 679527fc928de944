"""``convergent fit`` vs a plain user baseline on the embedded datasets.

For each dataset: 20% stratified test images are held out (never written to the folder);
the rest is written as a class-per-folder tree. Both trainers get the same epoch budget:

- baseline: what a user writes first — ``image_dataset_from_directory`` (validation_split
  0.2), ``Rescaling(1/255)``, Conv32-pool-Conv64-pool-Flatten-Dense128-softmax,
  Adam(1e-3), no schedule, no early stopping, ``epochs`` epochs;
- convergent: ``convergent.trainer.fit.fit(folder, epochs=epochs, budget=<baseline's
  wall time>)`` (range test, one-cycle AdamW, early stopping; epochs cut to what fits the
  budget), wall time including the folder load and the range test. The data scan is off
  unless ``--scan`` (it is another layer's cost; ``fit_scan_s`` shows it when on).

Both models are scored on the held-out test images. One line per dataset, then a summary::

    fit_vs_baseline dataset=digits epochs=10 fit_acc=0.97 base_acc=0.95 fit_s=12 base_s=10
    fit_vs_baseline_summary datasets=3 fit_wins=3 fit_not_slower=2 ...

    python benchmarks/perf/fit_vs_baseline.py [--epochs 10] [--datasets digits,mnist,animals]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np

PER_CLASS = 500  # animals has 1,000 per class: subsample to keep the run short on 2 cores


def held_out(name: str, seed: int) -> tuple[np.ndarray, ...]:
    from convergent import datasets

    x, y, names = datasets.load(name)
    x, y = datasets.subsample(x, y, PER_CLASS, seed)
    rng = np.random.default_rng(seed)
    test = np.concatenate([rng.permutation(np.flatnonzero(y == c))[: int(0.2 * (y == c).sum())]
                           for c in np.unique(y)])
    mask = np.zeros(len(y), bool)
    mask[test] = True
    return x[~mask], y[~mask], x[mask], y[mask], names


def baseline(folder: Path, shape: tuple[int, int], classes: int, epochs: int, seed: int):
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    train, val = keras.utils.image_dataset_from_directory(
        folder, validation_split=0.2, subset="both", seed=seed, image_size=shape,
        color_mode="grayscale", batch_size=32)
    model = keras.Sequential([
        keras.Input((*shape, 1)), layers.Rescaling(1 / 255),
        layers.Conv2D(32, 3, activation="relu", padding="same"), layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu", padding="same"), layers.MaxPooling2D(),
        layers.Flatten(), layers.Dense(128, activation="relu"),
        layers.Dense(classes, activation="softmax")])
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(train, validation_data=val, epochs=epochs, verbose=0)
    return model


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    p = model.predict(x[..., None].astype("float32"), verbose=0, batch_size=256)
    return float((p.argmax(-1) == y).mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--datasets", default="digits,mnist,animals")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scan", action="store_true",
                    help="run the data scan inside fit (its time counts against the budget)")
    a = ap.parse_args()
    from convergent import datasets
    from convergent.trainer.fit import fit

    rows = []
    for name in a.datasets.split(","):
        xtr, ytr, xte, yte, names = held_out(name, a.seed)
        with tempfile.TemporaryDirectory() as tmp:
            folder = datasets.write_folder(xtr, ytr, Path(tmp) / name, names)
            t = time.perf_counter()
            base = baseline(folder, xtr.shape[1:3], len(names), a.epochs, a.seed)
            base_s = time.perf_counter() - t
            t = time.perf_counter()
            # equal wall time: fit gets the baseline's time as its budget, and at most
            # the same number of epochs
            rep = fit(folder, out=Path(tmp) / "out", epochs=a.epochs, seed=a.seed,
                      progress=False, budget=base_s, scan=a.scan)
            fit_s = time.perf_counter() - t
            import keras

            model = keras.saving.load_model(rep.metrics["fit"]["model"])
        row = {"dataset": name, "epochs": a.epochs, "test_n": len(yte),
               "fit_acc": accuracy(model, xte, yte), "base_acc": accuracy(base, xte, yte),
               "fit_s": fit_s, "base_s": base_s,
               "fit_scan_s": rep.metrics["fit"]["phase_seconds"].get("scan", 0.0),
               "fit_no_scan_s": fit_s - rep.metrics["fit"]["phase_seconds"].get("scan", 0.0),
               "fit_epochs_run": rep.metrics["fit"]["epochs"],
               "fit_lr": rep.metrics["recipe"]["compile"]["learning_rate"],
               "fit_lr_rule": rep.metrics["lr_range"].get("rule"),
               "fit_sweep_step_s": rep.metrics["lr_range"].get("step_seconds") or 0.0,
               "fit_sweep_setup_s": rep.metrics["lr_range"].get("setup_seconds") or 0.0,
               # where fit's time went (a stall before training leaves it one epoch)
               **{f"fit_{k}_s": v for k, v in rep.metrics["fit"]["phase_seconds"].items()
                  if k != "scan"},
               # the first epoch carries the validation step's tracing; a median far above
               # the plan's step time x steps shows a slowed process
               "fit_epoch0_s": (rep.metrics["fit"]["epoch_seconds"] or [0.0])[0],
               "fit_epoch_median_s": float(np.median(rep.metrics["fit"]["epoch_seconds"][1:]))
               if len(rep.metrics["fit"]["epoch_seconds"]) > 1 else 0.0,
               # epochs the schedule was cut to when the clock ran short (0: as planned)
               "fit_schedule_cut_to": (rep.metrics["fit"]["schedule_shortened"] or
                                       [{"epochs": 0}])[-1]["epochs"],
               "load": os.getloadavg()[0]}
        rows.append(row)
        print("fit_vs_baseline " + " ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
            flush=True)
    wins = sum(r["fit_acc"] > r["base_acc"] for r in rows)
    not_slower = sum(r["fit_s"] <= r["base_s"] for r in rows)
    not_slower_no_scan = sum(r["fit_no_scan_s"] <= r["base_s"] for r in rows)
    print(f"fit_vs_baseline_summary datasets={len(rows)} fit_wins={wins} "
          f"fit_not_slower={not_slower} fit_not_slower_without_scan={not_slower_no_scan} "
          f"mean_fit_acc={np.mean([r['fit_acc'] for r in rows]):.4f} "
          f"mean_base_acc={np.mean([r['base_acc'] for r in rows]):.4f} "
          f"fit_s={sum(r['fit_s'] for r in rows):.1f} base_s={sum(r['base_s'] for r in rows):.1f} "
          f"seed={a.seed}")


if __name__ == "__main__":
    main()
