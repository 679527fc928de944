"""The backend step: gradients, updates, optimizer reset; probe copies of any model style."""

from __future__ import annotations

import numpy as np

from convergent.training.probes import backend as B


def _model(K):
    m = K.Sequential([K.Input((6,)), K.layers.Dense(8, activation="relu"),
                      K.layers.Dense(3, activation="softmax")])
    m.compile(K.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    return m


def test_step_measures_and_updates(K) -> None:
    m = _model(K)
    opt = B.fresh_optimizer(m.optimizer)
    assert type(opt) is type(m.optimizer) and opt is not m.optimizer
    step = B.make_step(m, B.resolve_loss(m.loss), opt)
    x = np.random.default_rng(0).random((16, 6), dtype=np.float32)
    y = np.arange(16) % 3
    w0 = [w.copy() for w in m.get_weights()]
    loss, gn, _, un = step(x, y, False)
    assert np.isfinite(loss) and gn.shape == (2,) and np.all(gn > 0) and np.all(un == 0)
    assert all(np.array_equal(a, b) for a, b in zip(w0, m.get_weights()))
    loss, gn, _wn, un = step(x, y, True)
    # plain SGD: the update is exactly lr * gradient
    assert np.allclose(un, 0.1 * gn, rtol=1e-4)
    B.reset_optimizer(opt, 0.5)
    assert B.current_lr(opt) == 0.5 and int(np.asarray(opt.iterations)) == 0


def test_probe_copy_clones_or_snapshots(K) -> None:
    m = _model(K)
    clone, snap = B.probe_copy(m)
    assert clone is not m and snap is None

    class Sub(K.Model):
        def __init__(self, units):  # no get_config: cannot be cloned
            super().__init__()
            self.d = K.layers.Dense(units)

        def call(self, x):
            return self.d(x)

    s = Sub(3)
    s(np.zeros((1, 6), "float32"))
    same, snap = B.probe_copy(s)
    assert same is s and len(snap) == 2
