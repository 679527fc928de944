import math

import pytest

from convergent.trainer.lr_range import (
    ADAPTIVE_PEAK_RANGE,
    clip_for,
    knee,
    rule_for,
    suggest,
    valley,
)
from convergent.trainer.recipe import default_recipe


def sweep(n=60):
    return [1e-5 * 10 ** (i / 10) for i in range(n)]


def test_suggests_an_lr_inside_the_falling_part_below_the_minimum():
    lrs = sweep()
    losses = [2.3 - 0.03 * i if i < 40 else 2.3 + (i - 40) for i in range(60)]
    s = suggest(lrs, losses, beta=0.5)
    assert lrs[5] < s < lrs[39]


def test_valley_is_two_thirds_down_the_longest_fall():
    lrs = sweep(31)
    losses = [3.0 - 0.1 * i for i in range(31)]  # one fall over all 31 points
    assert valley(lrs, losses) == lrs[14]  # fastai counts the run from index -1


def test_non_finite_losses_are_dropped_and_short_curves_give_none():
    lrs = sweep(12)
    assert suggest(lrs, [2.3] * 3 + [math.nan] * 9) is None


def test_a_loss_that_never_falls_gives_none():
    lrs = sweep(30)
    assert suggest(lrs, [2.3 + 0.01 * i for i in range(30)]) is None


def test_knee_is_where_most_of_the_fall_is_made():
    lrs = sweep(40)
    # flat for 10 points, falls 2.0 -> 1.0 over 20 points, then a flat bottom
    losses = [2.0] * 10 + [2.0 - 0.05 * i for i in range(1, 21)] + [1.0] * 10
    assert knee(lrs, losses) == lrs[25]  # 2.0 - 0.8 * 1.0 = 1.2, reached at the 16th step


def test_knee_does_not_move_with_noise_on_a_flat_bottom():
    lrs = sweep(40)
    fall = [2.0] * 10 + [2.0 - 0.05 * i for i in range(1, 21)]
    early = fall + [0.99] + [1.0] * 9   # minimum at the start of the bottom ...
    late = fall + [1.0] * 9 + [0.99]    # ... or at its end: fastai's minimum moves a decade
    assert knee(lrs, early) == knee(lrs, late) in lrs[25:27]


def test_suggest_takes_a_rule_and_rejects_unknown_ones():
    lrs = sweep()
    losses = [2.3 - 0.03 * i if i < 40 else 2.3 + (i - 40) for i in range(60)]
    assert suggest(lrs, losses, beta=0.5, rule="knee") > suggest(lrs, losses, beta=0.5)
    with pytest.raises(ValueError, match="unknown LR rule"):
        suggest(lrs, losses, rule="steepest")


@pytest.mark.parametrize(("optimizer", "schedule", "lr", "expected"), [
    ("adamw", "onecycle", 0.3, ADAPTIVE_PEAK_RANGE[1]),
    ("adamw", "onecycle", 1e-5, ADAPTIVE_PEAK_RANGE[0]),
    ("adamw", "onecycle", 0.02, 0.02),
    ("momentum", "onecycle", 0.3, 0.3),
    ("adamw", "constant", 0.3, 0.3)],
    ids=["adaptive-too-high", "adaptive-too-low", "adaptive-inside", "sgd-unclipped",
         "valley-unclipped"])
def test_the_knee_is_clipped_for_adaptive_optimizers_only(optimizer, schedule, lr, expected):
    r = default_recipe(10, (8, 8, 1), 240).with_(compile={"optimizer": optimizer},
                                                 fit={"schedule": schedule})
    assert clip_for(r, lr) == expected
    assert rule_for(r) == ("knee" if schedule == "onecycle" else "valley")


def test_range_test_stops_once_the_loss_diverges(digits_small):
    from convergent.trainer.data import build_data
    from convergent.trainer.lr_range import MIN_STEPS, range_test

    x, y, _ = digits_small
    r = default_recipe(10, (8, 8, 1), 240).with_(compile={"optimizer": "sgd"},
                                                 model={"batchnorm": False})
    info = range_test(r, build_data(r, arrays=(x, y, None, None)), lr_max=1e4)
    # plain SGD without BatchNorm blows up long before a rate of 1e4
    assert len(info["lrs"]) < MIN_STEPS and info["lrs"][-1] < 1e4
    assert info["rule"] == "knee" and info["suggested"] == info["knee"]  # SGD: unclipped
    assert info["setup_seconds"] >= 0 and info["step_seconds"] > 0


def test_a_sweep_on_the_training_model_leaves_no_trace(digits_small):
    import numpy as np
    from keras import ops

    from convergent.trainer.build import schedule_numbers
    from convergent.trainer.data import build_data
    from convergent.trainer.lr_range import range_test, sweep_model
    from convergent.trainer.schedule import sweepable_of

    x, y, _ = digits_small
    r = default_recipe(10, (8, 8, 1), 240).with_(fit={"epochs": 4})
    data = build_data(r, arrays=(x, y, None, None))
    model = sweep_model(r, data)
    model.optimizer.build(model.trainable_variables)
    state = [*model.trainable_variables, *model.non_trainable_variables,
             *model.optimizer.variables]  # BN statistics, dropout RNG, Adam moments, step
    before = [ops.convert_to_numpy(v).copy() for v in state]
    info = range_test(r, data, model=model)
    assert len(info["losses"]) > 10 and info["suggested"]  # it did train
    assert all(np.array_equal(b, ops.convert_to_numpy(v)) for b, v in zip(before, state,
                                                                          strict=True))
    # the schedule is the recipe's again: step 0 of the one-cycle is its warm-up start
    start = schedule_numbers(r, data.steps_per_epoch)[1]["initial_learning_rate"]
    assert float(ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(start)
    assert sweepable_of(model) is not None


def test_range_test_refuses_a_model_it_cannot_sweep_in_place(digits_small):
    from convergent.trainer.build import build_model, compile_model
    from convergent.trainer.data import build_data
    from convergent.trainer.lr_range import range_test

    x, y, _ = digits_small
    r = default_recipe(10, (8, 8, 1), 240)
    data = build_data(r, arrays=(x, y, None, None))
    model = compile_model(build_model(r, data), r, data.steps_per_epoch)
    with pytest.raises(ValueError, match="sweep_model"):
        range_test(r, data, model=model)
