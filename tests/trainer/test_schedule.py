"""Sweepable: the recipe's schedule with its numbers in variables, or an LR sweep."""

import pytest

from convergent.trainer.build import build_optimizer
from convergent.trainer.recipe import default_recipe

STEPS_PER_EPOCH = 10


def rates(schedule, steps):
    from keras import ops

    return [float(ops.convert_to_numpy(schedule(s))) for s in steps]


@pytest.mark.parametrize("kind", ["onecycle", "cosine"])
def test_draws_the_same_rates_as_the_plain_keras_schedule(kind):
    r = default_recipe(10, (8, 8, 1), 240).with_(fit={"schedule": kind, "epochs": 5},
                                                 compile={"learning_rate": 0.02})
    plain = build_optimizer(r, STEPS_PER_EPOCH)._learning_rate
    live = build_optimizer(r, STEPS_PER_EPOCH, sweepable=True)._learning_rate

    steps = [0, 7, 15, 30, 49, 60]  # warm-up, peak, decay, past the end
    assert rates(live, steps) == pytest.approx(rates(plain, steps), rel=1e-6)
    assert rates(live.plain(), steps) == pytest.approx(rates(plain, steps), rel=1e-6)


def test_sweeps_then_retargets_without_a_new_object():
    from convergent.trainer.schedule import Sweepable

    r = default_recipe(10, (8, 8, 1), 240).with_(fit={"epochs": 5})
    live = build_optimizer(r, STEPS_PER_EPOCH, sweepable=True)._learning_rate
    assert isinstance(live, Sweepable)
    live.start_sweep(1e-6, 10.0)
    assert rates(live, [0, 3]) == pytest.approx([1e-6, 1e-3], rel=1e-5)
    live.stop_sweep()
    # a 10x higher peak over twice the epochs: the peak moves to step 30 of 100
    live.retarget(r.with_(compile={"learning_rate": 0.01}, fit={"epochs": 10}),
                  STEPS_PER_EPOCH)
    assert rates(live, [30])[0] == pytest.approx(0.01, rel=1e-5)
    assert rates(live, [0])[0] == pytest.approx(0.01 / 25, rel=1e-5)  # ONECYCLE_DIV


def test_refuses_a_constant_rate_and_a_changed_kind():
    from convergent.trainer.schedule import Sweepable

    with pytest.raises(ValueError, match="kind='constant'"):
        Sweepable("constant", {"learning_rate": 1e-3})
    r = default_recipe(10, (8, 8, 1), 240)
    live = build_optimizer(r, STEPS_PER_EPOCH, sweepable=True)._learning_rate
    with pytest.raises(ValueError, match="build a new model"):
        live.retarget(r.with_(fit={"schedule": "cosine"}), STEPS_PER_EPOCH)


@pytest.mark.parametrize(("step", "total", "warm", "decay"), [
    (10, 50, 15, 35), (20, 50, 20, 30), (40, 60, 30, 30), (40, 100, 30, 70)],
    ids=["in-warm-up-keeps-its-share", "warm-up-share-past-ends-now", "decaying-squeezes",
         "not-shorter-no-change"])
def test_end_at_shortens_a_one_cycle_so_it_still_anneals(step, total, warm, decay):
    r = default_recipe(10, (8, 8, 1), 240).with_(fit={"epochs": 10})  # 100 steps: 30 + 70
    live = build_optimizer(r, STEPS_PER_EPOCH, sweepable=True)._learning_rate
    assert live.end_at(step, total) is (total < 100)
    n = live.values()
    assert (n["warmup_steps"], n["decay_steps"]) == (warm, decay)
    # the last step of the new length is at the cosine's floor (peak / 25**2)
    assert rates(live, [warm + decay])[0] == pytest.approx(1e-3 / 25 ** 2, rel=1e-4)
