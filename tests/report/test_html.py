"""The HTML report: what each metric and evidence kind renders to, and odd data not crashing."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from convergent.findings import Code, Finding, Report, Severity
from convergent.report import thumbs
from convergent.report.html import fmt, render_html


def _svg_ids(html: str) -> set[str]:
    return set(re.findall(r'<svg[^>]*\bid="(plot-[\w-]+)"', html))


def test_healthy_report_says_so() -> None:
    html = render_html(Report(command="scan", subject="data/"))
    assert "No findings — healthy." in html and "✓ healthy" in html
    assert _svg_ids(html) == set()


def test_synthetic_reports_show_their_plots(pages) -> None:
    assert _svg_ids(pages["run"].read_text(encoding="utf-8")) == {
        "plot-curves", "plot-step-loss", "plot-lr-range", "plot-grad-norms", "plot-dead-units"}
    fit = pages["fit"].read_text(encoding="utf-8")
    assert _svg_ids(fit) == {"plot-curves", "plot-classes", "plot-repair-curves"}
    assert 'class="add">+    layers.Rescaling(1.0 / 255),' in fit  # the diff, coloured
    assert 'class="num better">0.94' in fit  # val_accuracy went up: better


def test_findings_are_ranked_and_escaped() -> None:
    evil = Finding(Code.DATA_DARK, Severity.WARNING, 0.5, "<script>alert(1)</script>",
                   "a & b", {"note": "<b>"})
    first = Finding(Code.DATA_NONFINITE, Severity.ERROR, 0.9, "NaN inputs", "x", {})
    html = render_html(Report([evil, first], command="run"))
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert html.index("DATA_NONFINITE") < html.index('data-code="DATA_DARK"')
    assert html.count('class="copy"') == 0  # no remedies given, so no code to copy


def test_thumbnails_are_capped_per_finding(tmp_path: Path, reports) -> None:
    root = Path(reports["scan"].metrics["root"])
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*.png"))
    many = (files * 40)[:500]
    f = Finding(Code.DATA_BLURRY, Severity.WARNING, 0.8, "blurry", "x", {"files": many})
    html = render_html(Report([f], "scan", str(root), {"root": str(root)}))
    assert html.count("data:image/jpeg;base64,") == thumbs.MAX_FILES
    assert f"+ {500 - thumbs.MAX_FILES:,} more" in html


def test_unreadable_files_are_listed_by_name() -> None:
    f = Finding(Code.DATA_CORRUPT, Severity.ERROR, 0.9, "corrupt", "x",
                {"files": ["a/broken.jpg", "b/empty.png"], "pairs": "not a list"})
    html = render_html(Report([f], "scan", "d", {"root": "/no/such/root"}))
    assert '<ul class="names" data-kind="files">' in html and "a/broken.jpg" in html
    assert "data:image" not in html


ODD_METRICS = {
    "strings": {"history": "loss", "lr_range": "x", "grad_norms": "y", "class_counts": 3},
    "empty": {"history": {}, "lr_range": {"lr": [], "loss": []}, "grad_norms": {"values": []},
              "dead_fraction": {}, "class_counts": {}, "repair": {}, "summary": {}},
    "nan": {"history": {"loss": [math.nan, math.inf, 1.0, None, "x"]},
            "lr_range": {"lr": [0, -1, 1e-3, 1e-2], "loss": [1, 2, math.nan, 3],
                         "suggested": ["a", None]},
            "grad_norms": {"layers": ["a"], "values": [[0, -1, math.nan]]},
            "dead_fraction": {"a": "half", "b": math.nan}},
    "ragged": {"grad_norms": {"layers": ["a", "b", "c"], "steps": [1],
                              "values": [[1, 2, 3], [4], "no"]},
               "finding_epochs": {"X": "soon", "Y": None, "Z": 2},
               "history": {"loss": [1, 0.5, 0.2], "val_accuracy": [0.1]},
               "repair": {"steps": [None, {"remedy": 1, "before": "?", "history": [1]}],
                          "diff": 5}},
    "mathtext": {"class_counts": {"train": {"$x$": 3, "a_b$": 2, "{}": 1}},
                 "dead_fraction": {"$\\frac{": 0.5}},
    "huge_steps": {"grad_norms": {"layers": ["a", "b"],
                                  "values": [[1.0] * 5000, [1e-6] * 4999 + [1e3]]}},
}


@pytest.mark.parametrize("metrics", ODD_METRICS.values(), ids=ODD_METRICS.keys())
def test_odd_metrics_never_crash(metrics: dict) -> None:
    f = Finding(Code.TRAIN_DIVERGED, Severity.ERROR, 0.7, "t", "e",
                {"began_epoch": "x", "samples": [1, {"nofile": 1}], "deep": {"a": [1] * 50}})
    html = render_html(Report([f], "run", "s", metrics))
    assert "</html>" in html and "could not be drawn" not in html


def test_other_metrics_are_listed_as_json() -> None:
    html = render_html(Report(command="run", metrics={"probes": {"initial_loss": 2.31}}))
    assert "Other metrics (JSON)" in html and "initial_loss" in html


@pytest.mark.parametrize(("value", "text"), [
    (0.123456, "0.1235"), (1e-6, "1e-06"), (12345678.0, "1.23e+07"), (3, "3"),
    (True, "true"), (None, "—"), (list(range(10)), "[0, 1, 2, 3, 4, 5] … (10 in all)"),
    ({"a": 1, "b": [1]}, "a: 1 · b: [1]"), ("x" * 500, "x" * 159 + "…")], ids=str)
def test_fmt(value: object, text: str) -> None:
    assert fmt(value) == text


def test_importing_the_renderers_does_not_import_matplotlib() -> None:
    code = ("import sys, convergent.report.html, convergent.report.terminal, "
            "convergent.report.plots; print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


ODD_VALUES = [None, "x", 0, 1, -1.5, math.nan, math.inf, True, [], [1, "a", None], {"a": "b"},
              {"a": [1, 2]}, [[1, 2], [3]], {"x": {"y": 1}}, [{"file": 3}], [[None, "b"]],
              {"loss": "abc"}, {"lr": [1, 2], "loss": [1]}, {"values": [[0]], "layers": 1}]
METRIC_KEYS = ["summary", "history", "finding_epochs", "lr_range", "grad_norms", "steps",
               "dead_fraction", "saturated_fraction", "class_counts", "root", "repair",
               "timings", "update_ratios"]


def test_random_odd_metrics_never_crash_or_fail_a_plot() -> None:
    import random

    rng = random.Random(0)
    for _ in range(25):
        metrics = {k: rng.choice(ODD_VALUES) for k in rng.sample(METRIC_KEYS, 6)}
        evidence = {k: rng.choice(ODD_VALUES) for k in
                    rng.sample(["files", "pairs", "samples", "began_epoch", "values", "x"], 3)}
        f = Finding(Code.DATA_DARK, Severity.INFO, 0.1, "t", "e", evidence)
        html = render_html(Report([f], "scan", "s", metrics))
        assert "</html>" in html and "could not be drawn" not in html, (metrics, evidence)


def test_repair_records_of_run_and_fit_render() -> None:
    # run --repair: no diff, the code to add at the top level; fit --repair: kept/undone.
    run = {"steps": [{"remedy": "rescale", "for": ["DATA_UNNORMALIZED"], "change": "x / 255",
                      "code": "layers.Rescaling(1.0 / 255)", "before": {"val_accuracy": 0.1},
                      "after": {"val_accuracy": 0.8}, "findings_after": [], "fit": 0}],
           "healthy": True, "code": "layers.Rescaling(1.0 / 255)"}
    fit = {"steps": [{"remedy": "lower_lr", "finding": "TRAIN_LR_TOO_HIGH",
                      "code": "Adam(1e-3)", "change": {"learning_rate": [0.5, 0.001]},
                      "before": {"val_accuracy": 0.1, "codes": ["TRAIN_LR_TOO_HIGH"]},
                      "after": {"val_accuracy": 0.9, "codes": []}, "kept": False}],
           "diff": "-lr = 0.5\n+lr = 1e-3\n", "healthy": False, "stopped": "budget",
           "seconds": 61.0}
    a = render_html(Report(command="run", metrics={"repair": run}))
    assert "healthy after the repair" in a and "for [DATA_UNNORMALIZED]" in a
    assert a.count("layers.Rescaling(1.0 / 255)") == 2  # the step and "the code change"
    b = render_html(Report(command="fit", metrics={"repair": fit}))
    assert "still not healthy · stopped: budget · 61 s" in b and "(undone)" in b
    assert "learning_rate: [0.5, 0.001]" in b and 'class="add">+lr = 1e-3' in b
