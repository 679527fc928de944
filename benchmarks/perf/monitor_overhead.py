"""Monitor overhead: the same fit with and without ``convergent.Monitor``, side by side.

Each backend runs in its own process (the Keras backend is fixed at import). Per run, the
fit without and with the Monitor alternate order (ABBA) so drift and warm-up hit both
alike; the first pair is a warm-up and not counted. Prints one summary line per backend
and a final machine-readable line:

    monitor_overhead tensorflow=1.021 torch=1.034 runs=5 target<=1.05

Usage: ``python benchmarks/perf/monitor_overhead.py [--runs 5] [--epochs 3]``
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time


def one_backend(runs: int, epochs: int) -> dict:
    import numpy as np
    import keras

    from convergent.training.monitor import Monitor

    rng = np.random.default_rng(0)
    n, c = 2048, 10
    y = rng.integers(0, c, n)
    x = (rng.normal(0, 1, (c, 32, 32, 3))[y] + rng.normal(0, 1, (n, 32, 32, 3))
         ).astype("float32")

    def fit(with_monitor: bool) -> float:
        keras.utils.set_random_seed(0)
        m = keras.Sequential([
            keras.Input((32, 32, 3)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(c, activation="softmax"),
        ])
        m.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        cbs = [Monitor(probe_data=(x, y))] if with_monitor else []
        t = time.perf_counter()
        m.fit(x, y, epochs=epochs, batch_size=64, validation_split=0.2, verbose=0,
              callbacks=cbs)
        return time.perf_counter() - t

    fit(False), fit(True)  # warm-up: graph tracing, thread pools
    base, mon, ratios = [], [], []
    for i in range(runs):
        order = (False, True) if i % 2 == 0 else (True, False)
        t = {w: fit(w) for w in order}
        base.append(t[False])
        mon.append(t[True])
        ratios.append(t[True] / t[False])
    return {"backend": keras.backend.backend(), "median_ratio": statistics.median(ratios),
            "ratios": [round(r, 3) for r in ratios],
            "median_fit_s": round(statistics.median(base), 2),
            "median_fit_monitor_s": round(statistics.median(mon), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(one_backend(a.runs, a.epochs)))
        return
    backends = ["tensorflow"] + (["torch"] if importlib.util.find_spec("torch") else [])
    results = {}
    for b in backends:
        env = dict(os.environ, KERAS_BACKEND=b, TF_CPP_MIN_LOG_LEVEL="3")
        out = subprocess.run([sys.executable, __file__, "--child", "--runs", str(a.runs),
                              "--epochs", str(a.epochs)], env=env, capture_output=True,
                             text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        results[b] = r
        print(f"{b}: median ratio {r['median_ratio']:.3f} (runs {r['ratios']}); fit "
              f"{r['median_fit_s']} s without, {r['median_fit_monitor_s']} s with Monitor")
    line = " ".join(f"{b}={r['median_ratio']:.3f}" for b, r in results.items())
    print(f"monitor_overhead {line} runs={a.runs} target<=1.05")


if __name__ == "__main__":
    main()
