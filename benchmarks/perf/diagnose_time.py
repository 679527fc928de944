"""Time of ``convergent.diagnose`` on a ~300k-parameter CNN with 32x32 inputs; and, with
``--accuracy``, top-1/top-3 of the root cause over a zoo of faulty and healthy models.

Prints one summary line a machine can read, e.g.::

    diagnose_time params=356810 input=32x32x3 samples=4000 seconds=7.1 budget=20 findings=0

    python benchmarks/perf/diagnose_time.py             # timing (the issue-5 target: <= 20 s)
    python benchmarks/perf/diagnose_time.py --accuracy  # zoo: diagnose_zoo cases=.. top1=..

The zoo is the model/setup author's own set (written like users write models); the
project's shared fault benchmark lives in benchmarks/faults/ and is scored separately.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np


def mnist32(n: int = 5000, channels: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The offline MNIST sample, padded to 32x32, in [0, 1], shuffled."""
    from convergent.datasets import load

    x, y, _ = load("mnist")
    x = np.pad(x, ((0, 0), (2, 2), (2, 2)))[..., None].astype("float32") / 255.0
    if channels == 3:
        x = np.repeat(x, 3, -1)
    p = np.random.default_rng(seed).permutation(len(x))[:n]
    return x[p], y[p]


def cnn_300k() -> Any:
    import keras
    from keras import layers as L

    return keras.Sequential([
        keras.Input((32, 32, 3)),
        L.Conv2D(32, 3, activation="relu", padding="same"), L.MaxPooling2D(),
        L.Conv2D(64, 3, activation="relu", padding="same"), L.MaxPooling2D(),
        L.Conv2D(128, 3, activation="relu", padding="same"), L.MaxPooling2D(),
        L.Flatten(), L.Dense(128, activation="relu"), L.Dropout(0.3),
        L.Dense(10, activation="softmax")])


def timing(budget: float) -> str:
    import keras

    from convergent.training.diagnose import diagnose

    x, y = mnist32(5000)
    keras.utils.set_random_seed(0)
    m = cnn_300k()
    m.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    t = time.monotonic()
    r = diagnose(m, x[:4000], y[:4000], validation_data=(x[4000:], y[4000:]), budget_s=budget)
    dt = time.monotonic() - t
    return (f"diagnose_time params={m.count_params()} input=32x32x3 samples=4000 "
            f"seconds={dt:.1f} budget={budget:g} findings={len(r.findings)} "
            f"codes={','.join(r.codes) or '-'} cores={os.cpu_count()}")


# --------------------------------------------------------------------------- the zoo
Case = tuple[str, str | None, Callable[[], tuple[Any, np.ndarray, np.ndarray, Any]]]


def zoo() -> list[Case]:
    """(name, expected root-cause code or None for healthy, builder -> (model, x, y, val))."""
    import keras
    from keras import layers as L

    x, y = mnist32(2400, channels=1)
    xt, yt, xv, yv = x[:2000], y[:2000], x[2000:], y[2000:]
    oh, ohv = keras.utils.to_categorical(yt, 10), keras.utils.to_categorical(yv, 10)

    def seq(*ls: Any) -> Any:
        return keras.Sequential([keras.Input((32, 32, 1)), *ls])

    def conv(f: int = 16, **kw: Any) -> Any:
        return L.Conv2D(f, 3, activation=kw.pop("activation", "relu"), padding="same", **kw)

    def body(act: str = "relu", **kw: Any) -> list[Any]:
        return [conv(16, activation=act, **kw), L.MaxPooling2D(), conv(32, activation=act, **kw),
                L.MaxPooling2D(), L.Flatten(), L.Dense(64, activation=act, **kw)]

    def comp(m: Any, loss: Any = "sparse_categorical_crossentropy", opt: Any = None) -> Any:
        m.compile(opt or keras.optimizers.Adam(1e-3), loss)
        return m

    def std(m: Any, labels: Any = None, val: Any = "sparse") -> tuple:
        lab = yt if labels is None else labels
        v = (xv, yv) if val == "sparse" else (xv, ohv) if val == "onehot" else val
        return m, xt, lab, v

    class SubNet(keras.Model):
        def __init__(self, units: int = 10, act: str | None = None) -> None:
            super().__init__()
            self.c1, self.p = conv(16), L.MaxPooling2D()
            self.c2, self.f = conv(32), L.Flatten()
            self.d, self.o = L.Dense(64, activation="relu"), L.Dense(units, activation=act)

        def call(self, x: Any) -> Any:
            return self.o(self.d(self.f(self.p(self.c2(self.p(self.c1(x)))))))

    def sub(units: int = 10, act: str | None = None) -> Any:
        m = SubNet(units, act)
        m(xt[:1])
        return m

    def functional_bn() -> Any:
        i = keras.Input((32, 32, 1))
        h = i
        for f in (16, 32, 64):
            h = L.Conv2D(f, 3, padding="same", use_bias=False)(h)
            h = L.BatchNormalization()(h)
            h = L.Activation("relu")(h)
            h = L.MaxPooling2D()(h)
        h = L.GlobalAveragePooling2D()(h)
        return keras.Model(i, L.Dense(10, activation="softmax")(h))

    rng = np.random.default_rng(1)
    R1 = keras.initializers.RandomNormal(stddev=1.0)
    cases: list[Case] = [
        # ------------------------------------------------------------ healthy
        ("healthy_cnn_adam", None, lambda: std(comp(seq(*body(), L.Dense(10, "softmax"))))),
        ("healthy_functional_bn", None, lambda: std(comp(functional_bn()))),
        ("healthy_subclassed_logits", None, lambda: std(comp(
            sub(), keras.losses.SparseCategoricalCrossentropy(from_logits=True)))),
        ("healthy_onehot_cce", None, lambda: std(comp(seq(*body(), L.Dense(10, "softmax")),
                                                      "categorical_crossentropy"), oh, "onehot")),
        ("healthy_sgd_momentum", None, lambda: std(comp(
            seq(*body(kernel_initializer="he_normal"), L.Dense(10, "softmax")),
            opt=keras.optimizers.SGD(0.01, momentum=0.9)))),
        ("healthy_mlp", None, lambda: std(comp(seq(L.Flatten(), L.Dense(256, "relu"),
                                                   L.Dense(128, "relu"), L.Dense(10, "softmax"))))),
        ("healthy_dropout_gap", None, lambda: std(comp(seq(
            conv(32), conv(32), L.MaxPooling2D(), conv(64), L.GlobalAveragePooling2D(),
            L.Dropout(0.5), L.Dense(10, "softmax"))))),
        # ------------------------------------------------------------ model
        ("sigmoid_output_cce", "MODEL_OUTPUT_ACTIVATION",
         lambda: std(comp(seq(*body(), L.Dense(10, "sigmoid"))))),
        ("linear_output_no_logits", "MODEL_OUTPUT_ACTIVATION",
         lambda: std(comp(seq(*body(), L.Dense(10))))),
        ("subclassed_linear_no_logits", "MODEL_OUTPUT_ACTIVATION",
         lambda: std(comp(sub()))),
        ("units_5_for_10", "MODEL_OUTPUT_UNITS",
         lambda: std(comp(seq(*body(), L.Dense(5, "softmax")), "categorical_crossentropy"),
                     oh, "onehot")),
        ("sparse_labels_cce", "MODEL_LOSS_MISMATCH",
         lambda: std(comp(seq(*body(), L.Dense(10, "softmax")), "categorical_crossentropy"))),
        ("onehot_labels_scce", "MODEL_LOSS_MISMATCH",
         lambda: std(comp(seq(*body(), L.Dense(10, "softmax"))), oh, "onehot")),
        ("mse_loss", "MODEL_LOSS_MISMATCH",
         lambda: std(comp(seq(*body(), L.Dense(10, "softmax")), "mse"), oh, "onehot")),
        ("bce_on_10_classes", "MODEL_LOSS_MISMATCH",
         lambda: std(comp(seq(*body(), L.Dense(10, "sigmoid")), "binary_crossentropy"), oh,
                     "onehot")),
        ("dense2_bottleneck", "MODEL_BOTTLENECK",
         lambda: std(comp(seq(*body()[:-1], L.Dense(2, "relu"), L.Dense(10, "softmax"))))),
        ("pool8_first", "MODEL_OVER_POOLING",
         lambda: std(comp(seq(L.MaxPooling2D(8), conv(32), L.Flatten(),
                              L.Dense(64, "relu"), L.Dense(10, "softmax"))))),
        ("init_stddev_1", "MODEL_BAD_INIT",
         lambda: std(comp(seq(*body(kernel_initializer=R1), L.Dense(10, "softmax"))))),
        ("zeros_init_hidden", "MODEL_BAD_INIT",
         lambda: std(comp(seq(L.Flatten(), L.Dense(128, "relu", kernel_initializer="zeros"),
                              L.Dense(10, "softmax"))))),
        ("deep_sigmoid_mlp", "MODEL_SATURATING_ACTIVATION",
         lambda: std(comp(seq(L.Flatten(), *[L.Dense(64, "sigmoid") for _ in range(6)],
                              L.Dense(10, "softmax")), opt=keras.optimizers.SGD(0.01)))),
        ("all_frozen", "MODEL_FROZEN", lambda: std(_frozen(comp, seq(*body(),
                                                                     L.Dense(10, "softmax"))))),
        ("no_activations", "MODEL_NO_NONLINEARITY",
         lambda: std(comp(seq(L.Conv2D(16, 3), L.Conv2D(32, 3), L.Flatten(), L.Dense(64),
                              L.Dense(10, "softmax"))))),
        ("dropout_0_9", "MODEL_EXCESSIVE_DROPOUT",
         lambda: std(comp(seq(*body(), L.Dropout(0.9), L.Dense(10, "softmax"))))),
        ("tiny_model", "MODEL_TOO_SMALL",
         lambda: std(comp(seq(L.Conv2D(2, 3, activation="relu"), L.GlobalAveragePooling2D(),
                              L.Dense(10, "softmax"))))),
        ("huge_mlp_few_samples", "MODEL_TOO_LARGE",
         lambda: (comp(seq(L.Flatten(), L.Dense(4096, "relu"), L.Dense(1024, "relu"),
                           L.Dense(10, "softmax"))), xt[:300], yt[:300], (xv, yv))),
        ("plain_14_conv", "MODEL_NO_NORMALIZATION_LAYER",
         lambda: std(comp(seq(*[conv(16) for _ in range(13)], L.GlobalAveragePooling2D(),
                              L.Dense(10, "softmax"))))),
        # ------------------------------------------------------------ training / data
        ("adam_lr_1", "TRAIN_LR_TOO_HIGH",
         lambda: std(comp(seq(*body(), L.Dense(10, "softmax")), opt=keras.optimizers.Adam(1.0)))),
        ("sgd_lr_3", "TRAIN_LR_TOO_HIGH",
         lambda: std(comp(seq(*body(), L.Dense(10, "softmax")), opt=keras.optimizers.SGD(3.0)))),
        ("sgd_lr_1e-5", "TRAIN_LR_TOO_LOW",
         lambda: std(comp(seq(*body(), L.Dense(10, "softmax")),
                          opt=keras.optimizers.SGD(1e-5)))),
        ("adam_lr_1e-6", "TRAIN_LR_TOO_LOW",
         lambda: std(comp(seq(*body(), L.Dense(10, "softmax")),
                          opt=keras.optimizers.Adam(1e-6)))),
        ("shuffled_labels", "DATA_LABELS_MISALIGNED",
         lambda: std(comp(seq(*body(), L.Dense(10, "softmax"))), rng.permutation(yt))),
        ("shuffled_val_labels", "DATA_LABELS_MISALIGNED",
         lambda: std(comp(seq(*body(), L.Dense(10, "softmax"))), None,
                     (xv, rng.permutation(yv)))),
        ("unnormalized_sgd", "DATA_UNNORMALIZED",
         lambda: (comp(seq(*body(), L.Dense(10, "softmax")), opt=keras.optimizers.SGD(0.01)),
                  xt * 255.0, yt, (xv * 255.0, yv))),
    ]
    return cases


def _frozen(comp: Callable[..., Any], m: Any) -> Any:
    m.trainable = False
    return comp(m)


def accuracy(budget: float, only: str | None = None) -> str:
    import keras

    from convergent.training.diagnose import diagnose

    rows = []
    t_all = time.monotonic()
    for name, expected, build in zoo():
        if only and only not in name:
            continue
        keras.utils.set_random_seed(0)
        m, x, y, val = build()
        t = time.monotonic()
        r = diagnose(m, x, y, validation_data=val, budget_s=budget)
        dt = time.monotonic() - t
        codes = r.codes
        bad = [f.code.value for f in r.findings if f.severity.value != "info"]
        if expected is None:
            ok1 = ok3 = not bad
        else:
            ok1, ok3 = codes[:1] == [expected], expected in codes[:3]
        rows.append((name, expected, ok1, ok3, dt))
        print(f"{'ok ' if ok1 else 'top3' if ok3 else 'MISS'} {name:28s} expect={expected} "
              f"got={[(f.code.value, f.severity.value) for f in r.findings][:4]} {dt:.1f}s",
              file=sys.stderr, flush=True)
    faulty = [r for r in rows if r[1] is not None]
    healthy = [r for r in rows if r[1] is None]
    top1 = sum(r[2] for r in faulty) / max(len(faulty), 1)
    top3 = sum(r[3] for r in faulty) / max(len(faulty), 1)
    alarms = sum(not r[2] for r in healthy)
    return (f"diagnose_zoo cases={len(faulty)} healthy={len(healthy)} top1={top1:.2f} "
            f"top3={top3:.2f} healthy_false_alarms={alarms} "
            f"mean_seconds={np.mean([r[4] for r in rows]):.1f} "
            f"total_seconds={time.monotonic() - t_all:.0f}")


def random_healthy(rng: np.random.Generator) -> tuple[str, Any]:
    """A random healthy classifier: depth, width, pooling, BN, init and optimizer drawn from
    the ranges common in Keras examples (used to measure probe statistics)."""
    import keras
    from keras import layers as L

    n_conv = int(rng.integers(0, 5))
    width = int(rng.choice([8, 16, 32, 64]))
    bn = bool(rng.integers(0, 2)) and n_conv > 0
    init = str(rng.choice(["glorot_uniform", "he_normal", "he_uniform"]))
    ls: list[Any] = [keras.Input((32, 32, 1))]
    for i in range(n_conv):
        ls.append(L.Conv2D(width * 2 ** (i // 2), 3, padding="same", kernel_initializer=init,
                           activation=None if bn else "relu"))
        if bn:
            ls += [L.BatchNormalization(), L.Activation("relu")]
        if i % 2 == 1 or n_conv < 3:
            ls.append(L.MaxPooling2D())
    ls.append(L.GlobalAveragePooling2D() if n_conv and rng.integers(0, 2) else L.Flatten())
    for _ in range(int(rng.integers(0, 3))):
        ls.append(L.Dense(int(rng.choice([32, 64, 128, 256])), activation="relu",
                          kernel_initializer=init))
    if rng.integers(0, 2):
        ls.append(L.Dropout(float(rng.choice([0.2, 0.3, 0.5]))))
    ls.append(L.Dense(10, activation="softmax"))
    m = keras.Sequential(ls)
    opt_name = str(rng.choice(["adam", "adam3e-4", "sgdm", "rmsprop", "adamw"]))
    opt = {"adam": keras.optimizers.Adam(1e-3), "adam3e-4": keras.optimizers.Adam(3e-4),
           "sgdm": keras.optimizers.SGD(0.01, momentum=0.9),
           "rmsprop": keras.optimizers.RMSprop(1e-3),
           "adamw": keras.optimizers.AdamW(1e-3)}[opt_name]
    m.compile(opt, "sparse_categorical_crossentropy")
    desc = f"conv={n_conv} w={width} bn={int(bn)} init={init} opt={opt_name}"
    return desc, m


def measure(n: int, budget: float) -> str:
    """Distribution of the probe statistics the thresholds are judged against, over ``n``
    random healthy models (printed per model to stderr, percentiles on stdout)."""
    import keras

    from convergent.training.diagnose import diagnose

    x, y = mnist32(2400, channels=1)
    rng = np.random.default_rng(123)
    stats: dict[str, list[float]] = {k: [] for k in (
        "first_to_last", "init_excess", "overfit_steps", "update_ratio", "lr_over_lrmin",
        "dead_after", "seconds")}
    alarms = 0
    for _ in range(n):
        keras.utils.set_random_seed(int(rng.integers(1 << 30)))
        desc, m = random_healthy(rng)
        t = time.monotonic()
        r = diagnose(m, x[:2000], y[:2000], validation_data=(x[2000:], y[2000:]),
                     budget_s=budget)
        M = r.metrics
        gi = M.get("grad_health", {}).get("init", {}) or {}
        gu = M.get("grad_health", {}).get("overfit_user", {}) or {}
        lr = M.get("lr_range", {}) or {}
        dead = (M.get("dead_fraction", {}) or {}).get("after_overfit", {}) or {}
        row = {"first_to_last": gi.get("first_to_last"),
               "init_excess": (M.get("initial_loss") or {}).get("excess"),
               "overfit_steps": (M.get("overfit", {}).get("user") or {}).get("steps"),
               "update_ratio": gu.get("update_ratio"),
               "lr_over_lrmin": (m.optimizer.learning_rate.numpy() / lr["lr_min"])
               if lr.get("lr_min") else None,
               "dead_after": float(np.mean(list(dead.values()))) if dead else None,
               "seconds": time.monotonic() - t}
        for k, v in row.items():
            if v is not None:
                stats[k].append(float(v))
        bad = [f.code.value for f in r.findings if f.severity.value != "info"]
        alarms += bool(bad)
        print(desc, {k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()},
              bad, file=sys.stderr, flush=True)
    parts = [f"diagnose_measure models={n} false_alarms={alarms}"]
    for k, v in stats.items():
        if v:
            q = np.percentile(v, [0, 5, 50, 95, 100])
            parts.append(f"{k}=" + "/".join(f"{e:.3g}" for e in q))
    return " ".join(parts) + "  (min/p5/median/p95/max)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--accuracy", action="store_true", help="score the zoo instead of timing")
    ap.add_argument("--only", help="run only zoo cases whose name contains this")
    ap.add_argument("--measure", type=int, default=0,
                    help="measure probe statistics on this many random healthy models")
    ap.add_argument("--budget", type=float, default=20.0)
    a = ap.parse_args()
    if a.measure:
        print(measure(a.measure, a.budget))
    else:
        print(accuracy(a.budget, a.only) if a.accuracy else timing(a.budget))


if __name__ == "__main__":
    main()
