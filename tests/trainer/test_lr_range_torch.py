"""The in-place range test on the torch and JAX backends (a subprocess: the backend is
fixed at import)."""

from __future__ import annotations

import textwrap

SCRIPT = textwrap.dedent("""
    import json
    import keras
    import numpy as np
    from keras import ops
    from convergent import datasets
    from convergent.trainer.data import build_data
    from convergent.trainer.lr_range import range_test, sweep_model
    from convergent.trainer.recipe import default_recipe
    from convergent.trainer.train import train

    x, y, _ = datasets.load("digits")
    x, y = datasets.subsample(x, y, per_class=20, seed=0)
    r = default_recipe(10, (8, 8, 1), 160).with_(fit={"epochs": 1})
    data = build_data(r, arrays=(x, y, None, None))
    model = sweep_model(r, data)
    model.optimizer.build(model.trainable_variables)
    state = [*model.trainable_variables, *model.non_trainable_variables,
             *model.optimizer.variables]
    before = [ops.convert_to_numpy(v).copy() for v in state]
    info = range_test(r, data, model=model)
    same = all(np.array_equal(b, ops.convert_to_numpy(v)) for b, v in zip(before, state))
    t = train(r.with_(compile={"learning_rate": info["suggested"]}), data, model=model)
    print(json.dumps({"backend": keras.backend.backend(), "restored": same,
                      "points": len(info["losses"]), "suggested": info["suggested"],
                      "losses": t.history["loss"]}))
""")


def test_range_test_on_the_training_model_restores_it_on_torch_and_jax(on_backend,
                                                                       backend) -> None:
    res = on_backend(SCRIPT, backend, timeout=300)
    assert res["restored"], f"the sweep left its trace on the model or optimizer on {backend}"
    assert res["points"] > 10 and res["suggested"]
    assert len(res["losses"]) == 1 and res["losses"][0] > 0  # the reused model trains
