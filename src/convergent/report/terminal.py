"""Terminal rendering of a Report with rich: a compact ranked table and the top remedy."""

from __future__ import annotations

from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

from convergent.findings import Report, Severity

COLOURS = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def render(report: Report, console: Console | None = None, html_path: str | None = None) -> None:
    """Print the ranked findings, the first remedy as code, and where the HTML report is."""
    console = console or Console()
    title = f"convergent {report.command}: {report.subject}".rstrip(": ")
    if not report.findings:
        console.print(f"[bold green]✓ healthy[/] — {title}: no findings")
    else:
        table = Table(title=title, show_lines=False, expand=False)
        table.add_column("#", justify="right")
        table.add_column("severity")
        table.add_column("code")
        table.add_column("finding")
        table.add_column("conf.", justify="right")
        for i, f in enumerate(report.findings, 1):
            style = COLOURS[f.severity]
            table.add_row(str(i), f"[{style}]{f.severity.value}[/]", f.code.value, f.title,
                          f"{f.confidence:.2f}")
        console.print(table)
        top = report.findings[0]
        console.print(f"[bold]Fix first:[/] {top.code.value} — {top.explanation}")
        if top.remedies:
            r = top.remedies[0]
            console.print(f"[bold]Remedy[/] ({r.id}): {r.summary}")
            if r.code:
                console.print(Syntax(r.code, "python", theme="ansi_dark", word_wrap=True))
    summary = report.metrics.get("summary")
    if isinstance(summary, dict) and summary:
        console.print("  ".join(f"{k}={v}" for k, v in summary.items()))
    if html_path:
        console.print(f"HTML report: {html_path}")
