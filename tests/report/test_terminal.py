"""The terminal summary: ranked table, the fix to make first, repair line, report path."""

from __future__ import annotations

from rich.console import Console

from convergent.findings import Report
from convergent.report.terminal import render


def _text(report: Report, html: str | None = None) -> str:
    c = Console(record=True, width=120, color_system=None)
    render(report, c, html)
    return c.export_text()


def test_scan_table_and_fix_first(reports) -> None:
    out = _text(reports["scan"], "out/r.html")
    lines = out.splitlines()
    assert "1 error · 4 warnings · 1 advice" in lines[0]
    first_row = next(line for line in lines if line.lstrip().startswith("1 "))
    assert "DATA_LEAKAGE" in first_row and "1 pair" in first_row
    assert "Fix first: DATA_LEAKAGE" in out and "deleak_split" in out
    assert "HTML report:" in out and "out/r.html" in out


def test_fit_shows_repair_and_advice(reports) -> None:
    out = _text(reports["fit"])
    assert "✓ healthy" in out and "Advice: TRAIN_OVERFITTING" in out
    assert "Repaired: rescale → lower_lr" in out and "val_accuracy 0.33 → 0.94" in out


def test_healthy() -> None:
    assert "✓ healthy — no findings" in _text(Report(command="lint", subject="m.keras"))


def test_colours_follow_severity(reports) -> None:
    c = Console(record=True, width=120, force_terminal=True, color_system="standard")
    render(reports["run"], c)
    ansi = c.export_text(styles=True)
    assert "\x1b[1;31m✗ error" in ansi and "\x1b[33m! warning" in ansi
