"""Terminal rendering of a Report with rich: a compact ranked table and the fix to make first.

Example:
    >>> from rich.console import Console
    >>> from convergent.findings import Report
    >>> c = Console(record=True, width=80)
    >>> render(Report(command="scan", subject="data/"), c)
    convergent scan  data/  ✓ healthy — no findings
    >>> "healthy" in c.export_text()
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from convergent.findings import Finding, Report, Severity

COLOURS = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
GLYPHS = {Severity.ERROR: "✗", Severity.WARNING: "!", Severity.INFO: "i"}
# Evidence shown in the table: the first few scalar values (the JSON/HTML have all).
EVIDENCE_ITEMS = 2
EVIDENCE_WIDTH = 34
MAX_ROWS = 20
PANEL_WIDTH = 100  # the "fix first" box wraps its text here on wide terminals
WIDE = 110  # below this many columns the evidence column is left out (the title wraps less)


def render(report: Report, console: Console | None = None, html_path: str | None = None) -> None:
    """Print the ranked findings, the first remedy as code, and where the HTML report is.

    Args:
        report: the report to show.
        console: where to print (a fresh stdout console when None).
        html_path: the HTML report's path, printed at the end when given.
    """
    console = console or Console()
    console.print(_headline(report))
    if report.findings:
        console.print(_table(report.findings, evidence=console.width >= WIDE))
        console.print(_fix_first(report.findings[0], wide=console.width > PANEL_WIDTH))
    summary = report.metrics.get("summary") if isinstance(report.metrics, dict) else None
    if isinstance(summary, dict) and summary:
        line = Text("  ".join(f"{k}={_short(v)}" for k, v in summary.items()
                              if not isinstance(v, (dict, list))), style="dim")
        console.print(line)
    repair = _repair_line(report.metrics.get("repair") if isinstance(report.metrics, dict)
                          else None)
    if repair:
        console.print(repair)
    if html_path:
        p = Path(html_path).resolve()
        console.print(Text.assemble(("HTML report: ", "bold"),
                                    (str(p), f"link {p.as_uri()}")))


def _headline(report: Report) -> Text:
    title = Text.assemble(("convergent ", "bold"), (report.command or "report", "bold magenta"))
    if report.subject:
        title.append(f"  {report.subject}", style="dim")
    title.append("  ")
    failed = _failed(report)
    if not report.findings and failed:
        return title.append(f"✗ {failed} — nothing could be diagnosed", style="bold red")
    if not report.findings:
        return title.append("✓ healthy — no findings", style="bold green")
    counts = {s: sum(f.severity is s for f in report.findings) for s in Severity}
    if report.healthy:
        title.append("✓ healthy ", style="bold green")
    parts = []
    for sev, word in ((Severity.ERROR, "error"), (Severity.WARNING, "warning"),
                      (Severity.INFO, "advice")):
        n = counts[sev]
        if n:
            plural = "s" if n != 1 and sev is not Severity.INFO else ""
            parts.append((f"{n} {word}{plural}", COLOURS[sev]))
    for i, (text, style) in enumerate(parts):
        if i:
            title.append(" · ", style="dim")
        title.append(text, style=style)
    return title


def _failed(report: Report) -> str:
    """'the script crashed' when the run's summary says it did not finish."""
    summary = report.metrics.get("summary") if isinstance(report.metrics, dict) else None
    status = summary.get("status") if isinstance(summary, dict) else None
    return f"the script {status}" if status in ("crashed", "killed") else ""


def _table(findings: list[Finding], evidence: bool = True) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, header_style="bold dim")
    table.add_column("#", justify="right", style="dim")
    table.add_column("", no_wrap=True)
    table.add_column("code", no_wrap=True)
    table.add_column("finding", ratio=3, overflow="fold", min_width=20)
    if evidence:
        table.add_column("evidence", max_width=EVIDENCE_WIDTH, overflow="ellipsis",
                         no_wrap=True, style="dim")
    table.add_column("conf", justify="right", no_wrap=True)
    for i, f in enumerate(findings[:MAX_ROWS], 1):
        style = COLOURS[f.severity]
        cells = [str(i), Text(f"{GLYPHS[f.severity]} {f.severity.value}", style=style),
                 Text(f.code.value, style=style), f.title]
        if evidence:
            cells.append(_evidence(f.evidence))
        table.add_row(*cells, f"{f.confidence:.0%}")
    if len(findings) > MAX_ROWS:
        cells = ["", "", Text(f"… {len(findings) - MAX_ROWS} more", style="dim"), ""]
        table.add_row(*cells, *([""] * (2 if evidence else 1)))
    return table


def _fix_first(top: Finding, wide: bool = False) -> Panel:
    parts: list[Any] = [Text(top.explanation)]
    if top.remedies:
        r = top.remedies[0]
        parts.append(Text.assemble(("\nRemedy ", "bold green"), (f"{r.id}", "green"),
                                   f": {r.summary}"))
        if r.code:
            parts.append(Syntax(r.code, "python", theme="ansi_dark", word_wrap=True,
                                background_color="default"))
    more = len(top.remedies) - 1
    if more > 0:
        parts.append(Text(f"{more} more remed{'ies' if more > 1 else 'y'} in the JSON/HTML "
                          "report", style="dim"))
    label = "Fix first" if top.severity is not Severity.INFO else "Advice"
    return Panel(Group(*parts), title=Text(f"{label}: {top.code.value}", style="bold"),
                 title_align="left", border_style=COLOURS[top.severity].split()[-1],
                 expand=False, padding=(0, 1), width=None if not wide else PANEL_WIDTH)


def _repair_line(repair: Any) -> Text | None:
    """``Repaired: rescale → lower_lr  val_accuracy 0.33 → 0.94`` from metrics["repair"]."""
    if not isinstance(repair, dict) or not isinstance(repair.get("steps"), list):
        return None
    steps = [s for s in repair["steps"] if isinstance(s, dict)]
    if not steps:
        return None
    line = Text.assemble(("Repaired: ", "bold green"),
                         " → ".join(str(s.get("remedy", "?")) for s in steps))
    first, last = steps[0].get("before"), steps[-1].get("after")
    if isinstance(first, dict) and isinstance(last, dict):
        for k in [k for k in first if k in last][:2]:
            line.append(f"  {k} {_short(first[k])} → {_short(last[k])}", style="dim")
    return line


def _evidence(evidence: dict[str, Any]) -> str:
    """The flagged-image count (if any) and the first scalar measurements."""
    items = []
    for k in ("samples", "pairs", "files"):
        v = evidence.get(k)
        if isinstance(v, list):
            items.append(f"{len(v)} {k if len(v) != 1 else k[:-1]}")
            break
    for k, v in evidence.items():
        if len(items) >= EVIDENCE_ITEMS:
            break
        if isinstance(v, (list, dict)) or (items and (k == "n" or k.startswith("n_"))):
            continue  # lists and mappings are for the HTML; counts repeat the first item
        items.append(f"{k}={_short(v)}")
    return " ".join(items)


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    s = str(v)
    return s if len(s) <= 24 else s[:23] + "…"
