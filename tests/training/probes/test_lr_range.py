"""LR range test core: smoothing and the suggestion rules, on plain lists."""

from __future__ import annotations

import itertools
import math

from convergent.training.probes.lr_range import lr_schedule, smooth, suggest


def test_schedule_is_exponential() -> None:
    lrs = lr_schedule(1e-6, 10.0, 8)
    assert lrs[0] == 1e-6 and math.isclose(lrs[-1], 10.0)
    ratios = {round(b / a, 6) for a, b in itertools.pairwise(lrs)}
    assert len(ratios) == 1


def test_smooth_is_bias_corrected_and_stops_at_nan() -> None:
    assert smooth([2.0, 2.0, 2.0], 0.9) == [2.0, 2.0, 2.0]
    assert len(smooth([1.0, float("nan"), 1.0])) == 1


def test_suggest_brackets_the_descent_below_the_minimum() -> None:
    lrs = lr_schedule(1e-6, 10.0, 70)
    # loss flat, falls between 1e-4 and 1e-2, explodes after
    loss = [2.3 if lr < 1e-4 else 2.3 - 1.5 * math.log10(lr / 1e-4) / 2 if lr < 1e-2
            else 0.8 + 10 * math.log10(lr / 1e-2) for lr in lrs]
    s = suggest(lrs, smooth(loss, 0.0))
    lo, hi = s["suggested"]
    assert 5e-3 <= s["lr_min"] <= 2e-2
    assert lo < hi <= s["lr_min"] and 1e-4 <= lo <= 1e-2


def test_suggest_fails_soft() -> None:
    lrs = lr_schedule(1e-6, 10.0, 30)
    assert suggest(lrs, [2.3] * 30)["suggested"] is None  # never falls
    assert suggest(lrs[:3], [2.3, 2.0, 1.0])["suggested"] is None  # too few points
