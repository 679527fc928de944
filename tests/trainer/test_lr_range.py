import math

from convergent.trainer.lr_range import suggest, valley


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
