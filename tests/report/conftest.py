"""Synthetic reports for the report tests: a scan of a tiny image folder, a run, a fit.

The reports are built by hand with the metrics convention the producers follow (see
``convergent.report.html``), so the renderers are tested without training anything.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from convergent.findings import Code, Finding, Report, Severity
from convergent.remedies.catalog import remedies_for

CLASSES = ("cat", "dog", "fox")


def make_folder(root: Path, per_class: int = 6, seed: int = 0) -> list[str]:
    """Write small PNGs under ``root/train/<class>/`` and ``root/val/<class>/``; relative paths."""
    rng = np.random.default_rng(seed)
    rel = []
    for split, n in (("train", per_class), ("val", max(per_class // 3, 1))):
        for c, name in enumerate(CLASSES):
            (root / split / name).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                base = rng.integers(40, 200, size=3)
                img = np.clip(base + rng.normal(0, 30, (32, 32, 3)), 0, 255).astype(np.uint8)
                img[8 + c * 6:14 + c * 6, 8:24] = 255 - base  # a class-specific bar
                p = f"{split}/{name}/{name}_{i:03d}.png"
                Image.fromarray(img).save(root / p)
                rel.append(p)
    return rel


def _finding(code: Code, severity: Severity, evidence: dict, conf: float = 0.9) -> Finding:
    return Finding(code, severity, conf, code.value.replace("_", " ").capitalize(),
                   f"Synthetic {code.value} for the report tests.", evidence,
                   remedies_for(code))


def scan_report(root: Path) -> Report:
    rel = make_folder(root)
    train = [p for p in rel if p.startswith("train/")]
    val = [p for p in rel if p.startswith("val/")]
    findings = [
        _finding(Code.DATA_DARK, Severity.WARNING,
                 {"files": train[:5], "median_brightness": 0.07, "threshold": 0.12}),
        _finding(Code.DATA_BLURRY, Severity.WARNING,
                 {"files": train[5:9] + ["train/cat/missing.png"], "laplacian_var": 3.1,
                  "threshold": 12.0}),
        _finding(Code.DATA_LABEL_NOISE, Severity.WARNING,
                 {"samples": [{"file": train[0], "given": "cat", "likely": "dog", "score": 0.93},
                              {"file": train[7], "given": "dog", "likely": "fox", "score": 0.81}],
                  "fraction": 0.02, "threshold": 0.5}),
        _finding(Code.DATA_DUPLICATES, Severity.WARNING,
                 {"pairs": [[train[1], train[2]], [train[3], train[4]]], "hamming": 2}),
        _finding(Code.DATA_LEAKAGE, Severity.ERROR,
                 {"pairs": [[train[6], val[0]]], "count": 1, "threshold": 4}),
        _finding(Code.DATA_IMBALANCE, Severity.INFO, {"ratio": 1.0, "threshold": 10.0}, 0.4),
    ]
    counts = {"train": {c: 6 for c in CLASSES}, "val": {c: 2 for c in CLASSES}}
    return Report(findings, "scan", str(root), {
        "root": str(root), "class_counts": counts,
        "summary": {"images": len(rel), "classes": 3, "flagged": 14, "seconds": 0.42},
        "timings": {"load_s": 0.2, "checks_s": 0.22}})


def _history(epochs: int, diverge_at: int | None = None) -> dict[str, list[float]]:
    loss, val_loss, acc, val_acc = [], [], [], []
    for e in range(epochs):
        lo = 2.3 * math.exp(-0.35 * e) + 0.15
        if diverge_at is not None and e >= diverge_at:
            lo = 2.3 + (e - diverge_at) * 0.8
        loss.append(lo)
        val_loss.append(lo * 1.1 + 0.03 * max(0, e - 6))
        acc.append(min(0.99, max(0.05, 1 - lo / 2.5)))
        val_acc.append(min(0.97, max(0.04, 1 - val_loss[-1] / 2.5)))
    return {"loss": loss, "val_loss": val_loss, "accuracy": acc, "val_accuracy": val_acc}


def run_report() -> Report:
    rng = np.random.default_rng(1)
    layers = ["conv2d", "conv2d_1", "conv2d_2", "dense", "dense_1"]
    steps = list(range(0, 300, 5))
    values = [[float(10 ** (-4 + i + rng.normal(0, 0.2) + s / 200)) for s in steps]
              for i in range(len(layers))]
    lr = list(np.geomspace(1e-6, 1, 60))
    lr_loss = [2.3 - 1.5 / (1 + math.exp(-(math.log10(x) + 3.5) * 3)) +
               (0 if x < 0.05 else 20 * (x - 0.05)) for x in lr]
    findings = [
        _finding(Code.TRAIN_LR_TOO_HIGH, Severity.ERROR,
                 {"lr": 0.5, "suggested": [1e-4, 1e-3], "began_epoch": 4}),
        _finding(Code.TRAIN_DIVERGED, Severity.ERROR, {"epoch": 6, "loss": "nan"}),
        _finding(Code.TRAIN_DYING_RELU, Severity.WARNING,
                 {"dead_fraction": 0.62, "threshold": 0.5, "layer": "conv2d_1"}),
    ]
    return Report(findings, "run", "python train.py --epochs 10", {
        "history": _history(10, diverge_at=5),
        "finding_epochs": {"TRAIN_DIVERGED": 6, "TRAIN_DYING_RELU": 2},
        "lr_range": {"lr": lr, "loss": lr_loss, "suggested": [1e-4, 1e-3]},
        "grad_norms": {"layers": layers, "steps": steps, "values": values},
        "steps": {"step": list(range(300)),
                  "loss": [float(2.3 * math.exp(-i / 60) + 0.2 + abs(rng.normal(0, 0.15))
                                 + (30.0 if i == 140 else 0.0)) for i in range(300)]},
        "dead_fraction": {"conv2d": 0.1, "conv2d_1": 0.62, "conv2d_2": 0.3, "dense": 0.05},
        "saturated_fraction": {"conv2d": 0.0, "conv2d_1": 0.02, "dense": 0.2},
        "summary": {"epochs": 10, "final_loss": 6.3, "best_val_accuracy": 0.41},
        "timings": {"fit_s": 12.5, "probes_s": 1.4}})


def fit_report(root: Path) -> Report:
    rel = make_folder(root, per_class=3, seed=2)
    findings = [_finding(Code.TRAIN_OVERFITTING, Severity.INFO,
                         {"gap": 0.04, "threshold": 0.1, "files": rel[:2]}, 0.3)]
    diff = ("--- train.py (before)\n+++ train.py (after)\n@@ model @@\n"
            " model = keras.Sequential([\n-    layers.Conv2D(32, 3),\n"
            "+    layers.Rescaling(1.0 / 255),\n+    layers.Conv2D(32, 3, activation='relu'),\n"
            " ])\n-optimizer = keras.optimizers.SGD(0.5)\n"
            "+optimizer = keras.optimizers.Adam(1e-3)\n")
    return Report(findings, "fit", str(root), {
        "root": str(root),
        "history": _history(8, diverge_at=3),
        "class_counts": {"train": {c: 3 for c in CLASSES}},
        "repair": {"steps": [
            {"remedy": "rescale", "code": "layers.Rescaling(1.0 / 255)",
             "before": {"val_accuracy": 0.33, "loss": 2.31}, "after": {"val_accuracy": 0.71,
                                                                     "loss": 0.9},
             "history": _history(8, diverge_at=6)},
            {"remedy": "lower_lr", "code": "optimizer=keras.optimizers.Adam(1e-3)",
             "before": {"val_accuracy": 0.71, "loss": 0.9},
             "after": {"val_accuracy": 0.94, "loss": 0.21}, "history": _history(8)}],
            "diff": diff},
        "summary": {"val_accuracy": 0.94, "repairs": 2, "seconds": 88.0}})


@pytest.fixture(scope="session")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    """The three synthetic reports, keyed by command (built once; treat as read-only)."""
    root = tmp_path_factory.mktemp("report-images")
    return {"scan": scan_report(root / "scan"), "run": run_report(),
            "fit": fit_report(root / "fit")}


@pytest.fixture(scope="session")
def pages(reports: dict[str, Report], tmp_path_factory: pytest.TempPathFactory
          ) -> dict[str, Path]:
    """The three reports rendered once to HTML files, keyed by command."""
    root = tmp_path_factory.mktemp("report-pages")
    return {name: r.to_html(root / f"{name}.html") for name, r in reports.items()}
