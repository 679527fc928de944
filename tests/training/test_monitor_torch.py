"""The Monitor on the torch and JAX backends (a subprocess: the backend is fixed at
import)."""

from __future__ import annotations

import textwrap

SCRIPT = textwrap.dedent("""
    import json
    import numpy as np
    import keras
    from convergent.training.monitor import Monitor

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 192)
    x = (rng.normal(0, 1, (3, 6, 6, 1))[y] + 0.5 * rng.normal(0, 1, (192, 6, 6, 1))
         ).astype("float32")

    def train(monitor):
        keras.utils.set_random_seed(5)
        m = keras.Sequential([keras.Input((6, 6, 1)),
                              keras.layers.Conv2D(4, 3),
                              keras.layers.BatchNormalization(),
                              keras.layers.Activation("relu"),
                              keras.layers.Flatten(), keras.layers.Dropout(0.5),
                              keras.layers.Dense(3, activation="softmax")])
        m.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        m.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=0,
              callbacks=[monitor] if monitor else [])
        return np.concatenate([w.ravel() for w in m.get_weights()])

    mon = Monitor(sample_every=3, probe_data=(x, y))
    a, b = train(None), train(mon)
    r = mon.report()
    print(json.dumps({"backend": keras.backend.backend(), "same": bool(np.array_equal(a, b)),
                      "grads": r.metrics["grad_norms"]["values"],
                      "dead": r.metrics["dead_fraction"]["values"],
                      "bn": r.metrics["bn_moments"]["values"],
                      "spread": r.metrics["output_spread"]["log_spread"],
                      "errors": r.metrics["summary"]["errors"], "codes": r.codes}))
""")


def test_monitor_on_torch_and_jax_same_weights_and_gradients(on_backend, backend) -> None:
    res = on_backend(SCRIPT, backend, timeout=300)
    assert res["same"], f"the Monitor changed the training result on {backend}"
    assert res["errors"] == []
    assert len(res["grads"]) >= 3 and all(v > 0 for row in res["grads"] for v in row)
    assert res["dead"]
    # the epoch-end probes (BatchNormalization statistics, output spread) ran and, being
    # inference-mode forwards, left the weights alone (checked by "same" above)
    assert len(res["bn"]) == 2 and len(res["spread"]) == 2
