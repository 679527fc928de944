"""Self-contained HTML report (jinja2 template, inline CSS; plots come in later)."""

from __future__ import annotations

from pathlib import Path

from convergent.findings import Report


def write_html(report: Report, path: Path) -> Path:
    """Render ``report`` to one HTML file at ``path`` and return the path."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("convergent.report", "templates"),
        autoescape=jinja2.select_autoescape(["html"]))
    html = env.get_template("report.html").render(report=report, data=report.to_dict())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
