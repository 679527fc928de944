"""Self-contained HTML report: one file, inline CSS/JS, plots as inline SVG, thumbnails inline.

``write_html`` turns a :class:`~convergent.findings.Report` into a page a person would
rather read than the JSON: the findings ranked root cause first, each with its evidence,
thumbnails of the images it flags and the remedy as code to copy; then the plots the
metrics allow (learning curves with the epoch each finding began, the learning-rate
range test, gradient norms per layer, dead units, images per class) and, after a repair,
the before/after curves and the code change. Every metric is optional: what is missing
or malformed is skipped (a plot that fails to draw is replaced by a one-line note), so a
report always renders. Nothing is fetched when the page is opened.

Example:
    >>> from convergent.findings import Report
    >>> import tempfile, pathlib
    >>> p = write_html(Report(command="scan", subject="data/"),
    ...                pathlib.Path(tempfile.mkdtemp()) / "r.html")
    >>> "healthy" in p.read_text()
    True
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from convergent.findings import Report
from convergent.report import thumbs

# Evidence keys shown as images rather than in the evidence table.
GALLERY_KEYS = ("samples", "pairs", "files")
# Evidence values longer than this are cut in the table (the JSON report has them whole).
MAX_VALUE_CHARS = 160
MAX_LIST_ITEMS = 6
# Metrics not drawn anywhere are listed at the end as JSON, cut to this many characters.
MAX_OTHER_METRICS_CHARS = 20_000
MAX_DIFF_LINES = 400
# Plots that span the page; the others sit two to a row.
WIDE_PLOTS = frozenset({"plot-curves", "plot-step-loss", "plot-grad-norms",
                        "plot-update-ratios", "plot-classes", "plot-repair-curves"})
RENDERED_METRICS = frozenset({
    "summary", "history", "finding_epochs", "lr_range", "grad_norms", "dead_fraction",
    "saturated_fraction", "class_counts", "root", "repair", "timings", "update_ratios",
    "steps"})


def write_html(report: Report, path: Path) -> Path:
    """Render ``report`` to one self-contained HTML file at ``path`` and return the path.

    Args:
        report: any command's report; its ``metrics`` follow the convention in the module
            docstring of ``convergent.report`` (all entries optional).
        path: the file to write; parent folders are created.

    Example:
        >>> write_html(report, Path("report.html"))  # doctest: +SKIP
    """
    html = render_html(report)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path


def render_html(report: Report) -> str:
    """The report's HTML as a string (see :func:`write_html`)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("convergent.report", "templates"),
        autoescape=jinja2.select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    return env.get_template("report.html").render(**build_context(report))


def build_context(report: Report) -> dict[str, Any]:
    """Everything the template shows, as plain strings, numbers, lists and SVG text."""
    data = report.to_dict()
    metrics = data["metrics"] if isinstance(data.get("metrics"), dict) else {}
    findings = data["findings"]
    thumbnailer = thumbs.Thumbnailer(metrics.get("root") if isinstance(
        metrics.get("root"), str) else None)
    counts = {s: sum(1 for f in findings if f["severity"] == s)
              for s in ("error", "warning", "info")}
    severities = {f["code"]: f["severity"] for f in findings}
    epochs = dict(metrics.get("finding_epochs") or {}) if isinstance(
        metrics.get("finding_epochs"), dict) else {}
    for f in findings:
        began = f["evidence"].get("began_epoch") if isinstance(f["evidence"], dict) else None
        if began is not None:
            epochs.setdefault(f["code"], began)
    notes: list[str] = []
    plot = _plot_runner(notes)
    from convergent.report import plots  # lazy: matplotlib is imported only for HTML

    training = [p for p in (
        plot("Learning curves", "Training and validation loss and accuracy per epoch; dashed "
             "lines mark the epoch where a finding began.",
             plots.learning_curves, metrics.get("history"), epochs, severities),
        plot("Loss per step", "The training loss of every step (faint) and its moving "
             "average; spikes an epoch average hides show here.", plots.step_loss,
             metrics.get("steps")),
        plot("Learning-rate range test", "Loss while the learning rate grows step by step; "
             "the shaded band is the suggested range.", plots.lr_range,
             metrics.get("lr_range")),
        plot("Dead and saturated units", "Share of units per layer that never activate "
             "(dead) or sit at their limits (saturated).", plots.unit_fractions,
             metrics.get("dead_fraction"), metrics.get("saturated_fraction")),
        plot("Gradient norms", "Gradient norm of each layer over training steps (log10). "
             "Dark rows starve (vanishing); bright, growing rows explode.",
             plots.grad_heatmap, metrics.get("grad_norms")),
        plot("Update ratios", "Size of each layer's weight update relative to its weights "
             "(log10); about -3 is healthy (a common rule of thumb), far below learns slowly, "
             "far above jumps.",
             plots.grad_heatmap, metrics.get("update_ratios"), "plot-update-ratios",
             "update / weight (log10)"),
    ) if p]
    data_plots = [p for p in (
        plot("Images per class", "How many images each class has, per split.",
             plots.class_histogram, metrics.get("class_counts")),
    ) if p]
    repair = _repair(metrics.get("repair"), metrics.get("history"), plot)
    ctx = {
        "command": data.get("command") or "report",
        "subject": data.get("subject") or "",
        "tool": data.get("tool", "convergent"),
        "version": data.get("version"),
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "counts": counts,
        "healthy": counts["error"] == 0 and counts["warning"] == 0,
        "summary": _summary(metrics.get("summary")),
        "findings": [_finding(i, f, thumbnailer) for i, f in enumerate(findings, 1)],
        "training_plots": training,
        "data_plots": data_plots,
        "repair": repair,
        "timings": _summary(metrics.get("timings")),
        "other_metrics": _other_metrics(metrics),
        "notes": notes,
        "thumbs_skipped": thumbnailer.skipped,
        "root": metrics.get("root") if isinstance(metrics.get("root"), str) else "",
    }
    return ctx


def _plot_runner(notes: list[str]) -> Callable[..., dict[str, str] | None]:
    """Call a plot function; None when it has nothing to draw, a note when it fails."""

    def run(title: str, caption: str, fn: Callable[..., str | None], *args: Any,
            **kwargs: Any) -> dict[str, str] | None:
        try:
            svg = fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 — odd data must not cost the whole report
            notes.append(f"{title}: could not be drawn ({type(e).__name__}: {e})")
            return None
        if not svg:
            return None
        m = re.match(r'<svg id="([^"]+)"', svg)
        plot_id = m.group(1) if m else ""
        return {"title": title, "caption": caption, "svg": svg, "id": plot_id,
                "wide": plot_id in WIDE_PLOTS}

    return run


def fmt(value: Any) -> str:
    """A short human string for an evidence or metric value."""
    if isinstance(value, bool) or value is None:
        return str(value).lower() if isinstance(value, bool) else "—"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value == 0:
            return "0"
        if abs(value) >= 1e5 or abs(value) < 1e-3:
            return f"{value:.3g}"
        return f"{value:,.4g}"
    if isinstance(value, str):
        return value if len(value) <= MAX_VALUE_CHARS else value[:MAX_VALUE_CHARS - 1] + "…"
    if isinstance(value, (list, tuple)):
        head = "[" + ", ".join(fmt(v) for v in value[:MAX_LIST_ITEMS]) + "]"
        return _more(head, len(value))
    if isinstance(value, dict):
        items = list(value.items())
        head = " · ".join(f"{k}: {fmt(v)}" for k, v in items[:MAX_LIST_ITEMS])
        return _more(head, len(items))
    return fmt(str(value))


def _more(head: str, n: int) -> str:
    """``head`` cut to fit, plus how many items there are when some were left out."""
    if n <= MAX_LIST_ITEMS:
        return fmt(head)
    tail = f" … ({n:,} in all)"
    return head[:MAX_VALUE_CHARS - len(tail)].rstrip(" ,·") + tail


def _label(key: str) -> str:
    return str(key).replace("_", " ")


def _summary(summary: Any) -> list[tuple[str, str]]:
    if not isinstance(summary, Mapping):
        return []
    return [(_label(k), fmt(v)) for k, v in summary.items()
            if not isinstance(v, (dict, list))][:24]


def _finding(index: int, f: dict[str, Any], thumbnailer: thumbs.Thumbnailer) -> dict[str, Any]:
    evidence = f.get("evidence") if isinstance(f.get("evidence"), dict) else {}
    rows = []
    for k, v in evidence.items():
        if k == "values" and isinstance(v, dict) and isinstance(evidence.get("files"), list):
            rows.append((_label(k), f"{len(v):,} (one per file; under each image)"))
        elif k in GALLERY_KEYS and isinstance(v, list):
            noun = {"samples": "sample", "pairs": "pair", "files": "file"}[k]
            rows.append((_label(k), f"{len(v):,} {noun}{'' if len(v) == 1 else 's'}"))
        else:
            rows.append((_label(k), fmt(v)))
    return {
        "index": index,
        "anchor": f"f-{index}-{f['code'].lower()}",
        "code": f["code"],
        "family": f["code"].split("_", 1)[0].lower(),
        "severity": f["severity"],
        "confidence": float(f.get("confidence", 0.0)),
        "title": f.get("title", ""),
        "explanation": f.get("explanation", ""),
        "evidence": rows,
        "gallery": _gallery(evidence, thumbnailer),
        "remedies": [r for r in f.get("remedies", []) if isinstance(r, dict)],
    }


def _name(path: Any) -> str:
    parts = str(path).replace("\\", "/").split("/")
    return "/".join(parts[-3:])  # split, class folder and file name: enough to find it


def _gallery(evidence: Mapping[str, Any], thumbnailer: thumbs.Thumbnailer) -> dict[str, Any]:
    """Thumbnails for the images a finding flags, or their names when none can be shown."""
    g = _gallery_items(evidence, thumbnailer)
    if g:
        flat = [t for item in g["items"] for t in (item if isinstance(item, list) else [item])]
        g["any_src"] = any(t["src"] for t in flat)
    return g


def _gallery_items(evidence: Mapping[str, Any],
                   thumbnailer: thumbs.Thumbnailer) -> dict[str, Any]:
    """Samples, pairs or files of a finding's evidence (capped), each with its thumbnail."""
    samples = evidence.get("samples")
    if isinstance(samples, list) and samples:
        items = []
        for s in samples[:thumbs.MAX_SAMPLES]:
            if not isinstance(s, Mapping) or "file" not in s:
                continue
            score = s.get("score")
            items.append({
                **_thumb(s["file"], thumbnailer),
                "given": fmt(s.get("given")), "likely": fmt(s.get("likely")),
                "score": fmt(score) if isinstance(score, (int, float)) else ""})
        return {"kind": "samples", "items": items, "more": max(len(samples) - len(items), 0)}
    pairs = evidence.get("pairs")
    if isinstance(pairs, list) and pairs:
        items = []
        for p in pairs[:thumbs.MAX_PAIRS]:
            if not isinstance(p, (list, tuple)) or len(p) < 2:
                continue
            items.append([_thumb(x, thumbnailer) for x in p[:2]])
        return {"kind": "pairs", "items": items, "more": max(len(pairs) - len(items), 0)}
    files = evidence.get("files")
    if isinstance(files, list) and files:
        values = evidence.get("values") if isinstance(evidence.get("values"), Mapping) else {}
        items = []
        for x in files[:thumbs.MAX_FILES]:
            if isinstance(x, (str, Path)):
                item = _thumb(x, thumbnailer)
                v = values.get(str(x))
                item["value"] = fmt(v) if isinstance(v, (int, float)) else ""
                items.append(item)
        return {"kind": "files", "items": items, "more": max(len(files) - len(items), 0)}
    return {}


def _thumb(path: Any, thumbnailer: thumbs.Thumbnailer) -> dict[str, Any]:
    src = thumbnailer.uri(path)
    return {"src": src, "name": _name(path), "path": str(path),
            "small": bool(src) and thumbnailer.is_small(path)}


def _repair(repair: Any, history: Any, plot: Callable[..., Any]) -> dict[str, Any] | None:
    if not isinstance(repair, Mapping):
        return None
    steps = repair.get("steps") if isinstance(repair.get("steps"), list) else []
    rows = []
    for i, s in enumerate(steps, 1):
        if not isinstance(s, Mapping):
            continue
        before = s.get("before") if isinstance(s.get("before"), Mapping) else {}
        after = s.get("after") if isinstance(s.get("after"), Mapping) else {}
        keys = list(before) + [k for k in after if k not in before]
        target = s.get("finding", s.get("for"))
        kept = s.get("kept")
        rows.append({
            "index": i, "remedy": str(s.get("remedy", "")), "code": str(s.get("code") or ""),
            "target": fmt(target) if target else "",
            "change": fmt(s.get("change")) if s.get("change") else "",
            "kept": "" if not isinstance(kept, bool) else ("kept" if kept else "undone"),
            "metrics": [(_label(k), fmt(before.get(k)), fmt(after.get(k)),
                         _trend(k, before.get(k), after.get(k))) for k in keys]})
    histories = [s.get("history") for s in steps
                 if isinstance(s, Mapping) and isinstance(s.get("history"), Mapping)]
    before_h = history if isinstance(history, Mapping) else (
        histories[0] if len(histories) > 1 else None)
    curves = None
    if histories:
        curves = plot("Before and after repair", "Dotted: the original run; solid: the run "
                      "after the last remedy.", _repair_curves(), histories[-1], before_h)
    diff = repair.get("diff")
    diff_lines = []
    if isinstance(diff, str) and diff.strip():
        for line in diff.splitlines()[:MAX_DIFF_LINES]:
            kind = ("hunk" if line.startswith("@@") else
                    "meta" if line.startswith(("+++", "---")) else
                    "add" if line.startswith("+") else "del" if line.startswith("-") else "ctx")
            diff_lines.append((kind, line))
    code = repair.get("code") if isinstance(repair.get("code"), str) else ""
    if not rows and not curves and not diff_lines and not code.strip():
        return None
    status = []
    if isinstance(repair.get("healthy"), bool):
        status.append("healthy after the repair" if repair["healthy"] else "still not healthy")
    if repair.get("stopped"):
        status.append(f"stopped: {fmt(repair['stopped'])}")
    if isinstance(repair.get("seconds"), (int, float)):
        status.append(f"{fmt(float(repair['seconds']))} s")
    return {"steps": rows, "curves": curves, "diff": diff_lines,
            "diff_text": diff if isinstance(diff, str) else "",
            "code": code if not diff_lines else "", "status": " · ".join(status),
            "healthy": repair.get("healthy") is True}


def _repair_curves() -> Callable[..., str | None]:
    from convergent.report import plots

    def draw(after: Mapping[str, Any], before: Mapping[str, Any] | None) -> str | None:
        return plots.learning_curves(after, plot_id="plot-repair-curves", compare=before)

    return draw


# Metrics where a smaller value is better (used only to colour before → after arrows).
LOWER_IS_BETTER = ("loss", "error", "gap", "epochs", "time", "seconds")


def _trend(key: str, before: Any, after: Any) -> str:
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (before, after)):
        return ""
    if before == after:
        return "same"
    lower = any(w in key.lower() for w in LOWER_IS_BETTER)
    return "better" if (after < before) == lower else "worse"


def _other_metrics(metrics: Mapping[str, Any]) -> str:
    rest = {k: v for k, v in metrics.items() if k not in RENDERED_METRICS}
    if not rest:
        return ""
    text = json.dumps(rest, indent=1, default=str)
    if len(text) > MAX_OTHER_METRICS_CHARS:
        text = text[:MAX_OTHER_METRICS_CHARS] + "\n… (cut; the JSON report has all of it)"
    return text
