"""diagnose() on the torch and JAX backends (a subprocess: the backend is fixed at
import)."""

from __future__ import annotations

import textwrap

import pytest

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent("""
    import json, numpy as np, keras
    from sklearn.datasets import load_digits
    from convergent.training.diagnose import diagnose
    d = load_digits()
    x = (d.images[..., None] / 16.0).astype("float32")
    p = np.random.default_rng(0).permutation(len(x)); x, y = x[p][:1000], d.target[p][:1000]
    def cnn(opt):
        keras.utils.set_random_seed(0)
        L = keras.layers
        m = keras.Sequential([keras.Input((8, 8, 1)),
                              L.Conv2D(16, 3, activation="relu", padding="same"),
                              L.MaxPooling2D(), L.Flatten(), L.Dense(32, activation="relu"),
                              L.Dense(10, activation="softmax")])
        m.compile(opt, "sparse_categorical_crossentropy")
        return m
    m = cnn(keras.optimizers.Adam(1e-3))
    w0 = [w.copy() for w in m.get_weights()]
    r = diagnose(m, x, y, budget_s=60)
    high = diagnose(cnn(keras.optimizers.Adam(1.0)), x, y, budget_s=60)
    print(json.dumps({
        "backend": keras.backend.backend(),
        "healthy": [f.code.value for f in r.findings if f.severity.value != "info"],
        "same": all(np.array_equal(a, b) for a, b in zip(w0, m.get_weights())),
        "progress": r.metrics["overfit"]["user"]["progress"],
        "grads": r.metrics["grad_norms"]["values"], "high": high.codes}))
""")


def test_diagnose_on_torch_and_jax(on_backend, backend) -> None:
    res = on_backend(SCRIPT, backend, timeout=600)
    assert res["same"] and res["progress"] > 0.3 and res["healthy"] == [], res
    assert len(res["grads"]) == 3 and all(v > 0 for row in res["grads"] for v in row)
    assert res["high"][0] == "TRAIN_LR_TOO_HIGH", res["high"]
