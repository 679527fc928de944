"""``convergent demo``: the whole loop on an embedded dataset.

The demo writes a training script with one fault from each family — the pixels reach the
network in 0-255 (data), a deep stack of sigmoid layers (model) and plain SGD at a small
learning rate (training) — and runs it through ``convergent run --repair``: every
``model.fit`` is monitored and diagnosed, the remedies are applied one at a time, the
model is retrained and verified, and the report explains what was wrong with the script
as written and the code change that made it healthy. The slow optimizer is masked at
first (nothing learns while the inputs are raw and the sigmoids saturate) and is found
only once the other two are fixed: the reason the repair loop re-diagnoses each step. Nothing is downloaded: the data come
from :mod:`convergent.datasets`.

Example:
    >>> report = run_demo(quiet=True)                       # doctest: +SKIP
    >>> report.codes[:3], report.metrics["repair"]["healthy"]  # doctest: +SKIP
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from convergent import datasets
from convergent.errors import BadInputError
from convergent.findings import Report

# The faulty script, as a newcomer writes it. Each fault on its own is a classic question
# on public Q&A sites; together they keep the model at chance.
SCRIPT = '''\
import keras
from keras import layers
from convergent.datasets import load

keras.utils.set_random_seed({seed})
x, y, names = load("{dataset}")         # uint8 images, pixels 0-255
x = x.reshape(len(x), -1).astype("float32")   # no scaling to [0, 1]

model = keras.Sequential([keras.Input(shape=(x.shape[1],))])
for _ in range(5):                       # a deep stack of sigmoid layers
    model.add(layers.Dense(64, activation="sigmoid"))
model.add(layers.Dense(len(names), activation="softmax"))
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01),   # plain SGD
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs={epochs}, batch_size=32, validation_split=0.2, shuffle=True,
          verbose={verbose})
'''
FAULTS = {"data": "DATA_UNNORMALIZED", "model": "MODEL_SATURATING_ACTIVATION",
          "training": "TRAIN_OPTIMIZER"}


def demo_script(dataset: str = datasets.DEFAULT, epochs: int = 10, seed: int = 0,
                verbose: int = 2) -> str:
    """The text of the demo's faulty training script."""
    if dataset not in datasets.LOADERS:
        raise BadInputError(f"unknown dataset {dataset!r}; choose from "
                            f"{', '.join(sorted(datasets.LOADERS))}")
    if epochs < 1:
        raise BadInputError(f"epochs must be at least 1; received {epochs}")
    return SCRIPT.format(dataset=dataset, epochs=int(epochs), seed=int(seed),
                         verbose=int(verbose))


def run_demo(dataset: str = datasets.DEFAULT, epochs: int = 10, seed: int = 0,
             quiet: bool = False, budget: float | None = None) -> Report:
    """Diagnose and repair the demo's faulty script; return the ``run --repair`` report.

    Args:
        dataset: an embedded dataset (``digits``, ``mnist`` or ``animals``).
        epochs: epochs of each training run (the original and one per remedy).
        seed: the script's seed.
        quiet: hide the training output.
        budget: seconds after which the script is stopped (it still gets a report).

    Returns:
        The report (command ``demo``): the findings of the script as written, ranked root
        cause first; ``metrics["repair"]`` holds each remedy with before/after metrics and
        curves, and the code change; ``metrics["demo"]`` the script and the planted faults.
    """
    from convergent.training.run import run_script

    text = demo_script(dataset, epochs, seed, verbose=0 if quiet else 2)
    with tempfile.TemporaryDirectory(prefix="convergent-demo-") as tmp:
        script = Path(tmp) / "train.py"
        script.write_text(text, encoding="utf-8")
        report = run_script([sys.executable, str(script)], budget=budget, repair=True,
                            quiet=quiet)
    metrics = dict(report.metrics)
    metrics["demo"] = {"dataset": dataset, "epochs": epochs, "script": text,
                       "planted": FAULTS}
    return Report(report.findings, command="demo",
                  subject=f"faulty {dataset} MLP, diagnosed and repaired with run --repair",
                  metrics=metrics)
