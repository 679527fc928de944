"""Each plot: an SVG with its id when the data is there, None when it is not."""

from __future__ import annotations

import re

import pytest

from convergent.report import plots

CASES = {
    "curves": (plots.learning_curves, {"loss": [2.0, 1.0], "val_accuracy": [0.1, 0.5]},
               "plot-curves"),
    "lr": (plots.lr_range, {"lr": [1e-4, 1e-3, 1e-2], "loss": [2, 1, 3],
                            "suggested": [1e-4, 1e-3]}, "plot-lr-range"),
    "grads": (plots.grad_heatmap, {"layers": ["a", "b"], "values": [[1, 2], [3, 4]]},
              "plot-grad-norms"),
    "units": (plots.unit_fractions, {"a": 0.5, "b": 0.1}, "plot-dead-units"),
    "classes": (plots.class_histogram, {"train": {"a": 3, "b": 1}}, "plot-classes"),
    "steps": (plots.step_loss, {"step": [0, 1, 2, 3], "loss": [2.0, 1.5, 9.0, 1.0]},
              "plot-step-loss"),
}


@pytest.mark.parametrize(("fn", "data", "plot_id"), CASES.values(), ids=CASES.keys())
def test_plot_has_its_id_and_scales_with_css(fn, data, plot_id) -> None:
    svg = fn(data)
    assert svg.startswith(f'<svg id="{plot_id}"') or svg.startswith("<svg") and \
        f'id="{plot_id}"' in svg.split(">", 1)[0]
    head = svg.split(">", 1)[0]
    assert "viewBox" in head and 'width="' not in head and "max-width" in head


@pytest.mark.parametrize(("fn", "data", "plot_id"), CASES.values(), ids=CASES.keys())
@pytest.mark.parametrize("missing", [None, {}, [], "text"], ids=["none", "empty", "list", "str"])
def test_plot_of_nothing_is_none(fn, data, plot_id, missing) -> None:
    assert fn(missing) is None


def _ids(svg: str) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', svg))


def test_two_plots_share_no_element_ids() -> None:
    a = plots.learning_curves({"loss": [1, 0.5]}, plot_id="plot-a")
    b = plots.learning_curves({"loss": [1, 0.5]}, plot_id="plot-b")
    assert _ids(a) & _ids(b) == set()
    refs = set(re.findall(r'(?:url\(#|href="#)([^)"]+)', a))
    assert refs and refs <= _ids(a)  # every reference points at an element of its own plot


def test_finding_markers_are_labelled() -> None:
    svg = plots.learning_curves({"loss": [3, 2, 1, 2, 3]}, {"TRAIN_LR_TOO_HIGH": 2},
                                {"TRAIN_LR_TOO_HIGH": "error"})
    assert "lr too high" in svg and plots.SEVERITY_COLOURS["error"] in svg


# The shapes the producers write today (training/monitor.py, training/diagnose.py,
# trainer/lr_range.py) besides the plain ones above.
PRODUCER_SHAPES = {
    "monitor-dead": (plots.unit_fractions, {"steps": [10, 20], "values": [0.2, 0.5],
                                            "per_layer": [{"c1": 0.1}, {"c1": 0.6}]},
                     ["dead, step 10", "dead, step 20"]),
    "monitor-saturated-overall": (plots.unit_fractions, {"steps": [5], "values": [0.3]},
                                  ["all layers (last step)"]),
    "diagnose-phases": (plots.unit_fractions, {"init": {"d": 0.0}, "after_overfit": {"d": 0.7}},
                        ["dead, init", "dead, after overfit"]),
    "string-steps": (plots.grad_heatmap, {"layers": ["a"], "steps": ["user:0", "user:1"],
                                          "values": [[1.0, 2.0]]}, ["user:1"]),
    "lrs-losses-smoothed": (plots.lr_range, {"lrs": [1e-4, 1e-3, 1e-2], "losses": [2, 1, 3],
                                             "smoothed": [2, 1.2, 2.5],
                                             "optimizer": {"learning_rate": 0.5}},
                            ["loss (smoothed)", "your learning rate (0.5)"]),
}


@pytest.mark.parametrize(("fn", "data", "texts"), PRODUCER_SHAPES.values(),
                         ids=PRODUCER_SHAPES.keys())
def test_producer_shapes(fn, data, texts) -> None:
    svg = fn(data)
    assert svg is not None
    for t in texts:
        assert t in svg


def test_step_major_grad_record_is_transposed() -> None:
    # Monitor writes values[step][layer]; the agreed layout is values[layer][step].
    layers, steps = ["a", "b"], [0, 25, 50]
    step_major = plots.grad_heatmap({"layers": layers, "steps": steps,
                                     "values": [[1, 10], [1, 10], [1, 10]]})
    layer_major = plots.grad_heatmap({"layers": layers, "steps": steps,
                                      "values": [[1, 1, 1], [10, 10, 10]]})
    assert "layer 2" not in step_major  # 2 rows named a and b, not 3 rows
    assert _ids(step_major) == _ids(layer_major)
    assert plots._layer_major([[1, 10]] * 3, layers, steps) == [[1, 1, 1], [10, 10, 10]]


def test_long_step_record_stays_small() -> None:
    n = 100_000
    svg = plots.step_loss({"step": list(range(n)),
                           "loss": [1.0 + (50.0 if i == 77_777 else (i % 7) / 10) for i in range(n)]})
    assert len(svg) < 400_000
