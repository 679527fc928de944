import math

from convergent.trainer.lr_range import suggest


def sweep(n=60):
    return [1e-5 * 10 ** (i / 10) for i in range(n)]


def test_suggests_a_decade_below_the_loss_minimum():
    lrs = sweep()
    losses = [2.3 - 0.03 * i if i < 40 else 2.3 + (i - 40) for i in range(60)]
    s = suggest(lrs, losses)
    assert 0.3 * lrs[39] / 10 < s < 3 * lrs[40] / 10


def test_non_finite_losses_are_dropped_and_short_curves_give_none():
    lrs = sweep(12)
    assert suggest(lrs, [2.3] * 3 + [math.nan] * 9) is None


def test_a_loss_that_never_falls_gives_none():
    lrs = sweep(30)
    assert suggest(lrs, [2.3 + 0.01 * i for i in range(30)]) is None
