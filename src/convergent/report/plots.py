"""Plots for the HTML report: matplotlib (Agg backend) rendered to inline SVG strings.

Each function takes the plain data of one ``Report.metrics`` entry and returns an SVG
string (with a stable ``id`` on the root element) or ``None`` when the data is missing or
unusable, so the report shows what is present and skips what is not. matplotlib is
imported on first use only: nothing that merely builds or prints a report pays for it.

Example:
    >>> svg = learning_curves({"loss": [2.3, 1.1, 0.7], "val_loss": [2.2, 1.3, 1.0]})
    >>> svg.startswith("<svg") and 'id="plot-curves"' in svg
    True
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

TRAIN = "#2563eb"  # blue: training series
VAL = "#ea580c"  # orange: validation series
GRID = "#e5e7eb"
INK = "#374151"
SEVERITY_COLOURS = {"error": "#dc2626", "warning": "#d97706", "info": "#0284c7"}
# Per-step and per-layer plots are capped so that a long run's report stays small:
# 400 heat-map columns is more than the ~300 px a plot is shown at.
MAX_HEATMAP_STEPS = 400
MAX_BARS = 40
MAX_LINE_POINTS = 1500  # a line of more points than a plot has pixels only adds bytes
MAX_UPSCALE = 1.3
# A loss spanning more than 10x (e.g. a spike to 30 that settles at 2.3) is drawn on a log
# axis, so the part after the spike is not flattened into a line.
LOG_LOSS_RATIO = 10
STEP_EMA = 0.9  # smoothing of the per-step loss (TensorBoard's default slider is 0.6-0.9)


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _style(plt: Any) -> dict[str, Any]:
    return {
        "svg.fonttype": "none",  # text stays text: smaller files, browser fonts
        "font.family": "sans-serif",
        "font.size": 9,
        "axes.edgecolor": "#9ca3af",
        "axes.labelcolor": INK,
        "axes.titlesize": 10,
        "axes.titleweight": "bold",
        "axes.titlecolor": INK,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.color": GRID,
        "grid.linewidth": 0.6,
        "xtick.color": "#6b7280",
        "ytick.color": "#6b7280",
        "legend.frameon": False,
        "legend.fontsize": 8,
        "figure.dpi": 96,
    }


def _to_svg(fig: Any, plot_id: str) -> str:
    """Serialise ``fig`` to an SVG string whose root carries ``plot_id``; close the figure."""
    plt = _plt()
    buf = io.StringIO()
    with plt.rc_context({"svg.hashsalt": plot_id}):
        fig.savefig(buf, format="svg", bbox_inches="tight", transparent=True)
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg"):]  # drop the XML declaration and DOCTYPE
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, count=1, flags=re.DOTALL)
    # matplotlib names elements "axes_1", "line2d_2", ... in every figure; prefix them so
    # several plots in one page share no id (and clip-path references stay right).
    text = re.sub(r'\bid="([^"]+)"', rf'id="{plot_id}-\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{plot_id}-\1)", text)
    text = re.sub(r'href="#([^"]+)"', rf'href="#{plot_id}-\1"', text)
    head, rest = text.split(">", 1)
    head = re.sub(r'\sid="[^"]*"', "", head)
    text = f'<svg id="{plot_id}"' + head[len("<svg"):] + ">" + rest
    # Width/height in pt fix the size; let CSS scale it to the card instead, but never
    # beyond 1.3x its drawn size (1 pt = 4/3 CSS px), or its text grows too large.
    m = re.search(r'<svg([^>]*?) width="([\d.]+)pt" height="[^"]*"', text)
    if m:
        style = f' style="max-width:{float(m.group(2)) * 4 / 3 * MAX_UPSCALE:.0f}px"'
        text = text[:m.start()] + f"<svg{m.group(1)}{style}" + text[m.end():]
    return text


def _floats(values: Any) -> list[float] | None:
    """A list of floats (non-numbers become NaN) or None when ``values`` is not a sequence."""
    if not isinstance(values, Sequence) or isinstance(values, (str, bytes)) or not values:
        return None
    out = []
    for v in values:
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            out.append(math.nan)
    return out if any(math.isfinite(v) for v in out) else None


def _finite_or_nan(values: list[float]) -> list[float]:
    return [v if math.isfinite(v) else math.nan for v in values]


def learning_curves(history: Mapping[str, Any] | None,
                    finding_epochs: Mapping[str, Any] | None = None,
                    severities: Mapping[str, str] | None = None,
                    plot_id: str = "plot-curves",
                    compare: Mapping[str, Any] | None = None) -> str | None:
    """Train/val loss and accuracy per epoch; a dashed marker where each finding began.

    Args:
        history: ``{"loss": [...], "val_loss": [...], "accuracy": [...], ...}`` per epoch.
        finding_epochs: ``{CODE: epoch}`` (0-based epochs, as Keras counts them).
        severities: ``{CODE: "error"|"warning"|"info"}`` to colour the markers.
        plot_id: id of the SVG root element.
        compare: a second history drawn thin and dotted ("before"), for repair reports.
    """
    if not isinstance(history, Mapping):
        return None
    panels = []
    for name, keys in (("loss", ("loss", "val_loss")),
                       ("accuracy", ("accuracy", "val_accuracy", "acc", "val_acc"))):
        series = {k: _floats(history.get(k)) for k in keys}
        series = {k: v for k, v in series.items() if v}
        if series:
            panels.append((name, series))
    if not panels:
        return None
    before = compare if isinstance(compare, Mapping) else {}
    plt = _plt()
    with plt.rc_context(_style(plt)):
        fig, axes = plt.subplots(1, len(panels), figsize=(3.7 * len(panels) + 0.3, 2.9),
                                 squeeze=False)
        for ax, (name, series) in zip(axes[0], panels):
            for key, values in series.items():
                colour = VAL if key.startswith("val") else TRAIN
                label = "validation" if key.startswith("val") else "training"
                old = _floats(before.get(key)) if before else None
                if old:
                    ax.plot(range(1, len(old) + 1), _finite_or_nan(old), color=colour,
                            lw=1.3, ls=":", alpha=0.8, label=f"{label}, before")
                ax.plot(range(1, len(values) + 1), _finite_or_nan(values), color=colour,
                        lw=2, marker="o" if len(values) <= 30 else None, ms=3,
                        label=label + (", after" if old else ""))
            finite = [v for s in series.values() for v in s if math.isfinite(v)]
            if (name == "loss" and finite and min(finite) > 0
                    and max(finite) / min(finite) > LOG_LOSS_RATIO):
                ax.set_yscale("log")
                from matplotlib.ticker import LogLocator, NullFormatter

                ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 3.0, 5.0)))
                ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
                ax.yaxis.set_minor_formatter(NullFormatter())
            _mark_epochs(ax, finding_epochs, severities)
            ax.set_title(name)
            ax.set_xlabel("epoch")
            ax.xaxis.get_major_locator().set_params(integer=True)
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.tight_layout(rect=(0, 0, 1, 0.9))
        fig.legend(handles, labels, loc="upper center", ncol=len(labels),
                   bbox_to_anchor=(0.5, 1.0))
        return _to_svg(fig, plot_id)


def _text(s: object) -> str:
    """A label matplotlib shows as typed (a ``$`` would otherwise start mathtext)."""
    return str(s).replace("$", r"\$")


def _mark_epochs(ax: Any, finding_epochs: Mapping[str, Any] | None,
                 severities: Mapping[str, str] | None) -> None:
    if not isinstance(finding_epochs, Mapping):
        return
    severities = severities or {}
    labels: dict[float, list[str]] = {}
    colours: dict[float, str] = {}
    for code, epoch in finding_epochs.items():
        try:
            x = float(epoch) + 1  # Keras epochs are 0-based; the plot counts from 1
        except (TypeError, ValueError):
            continue
        if not math.isfinite(x):
            continue
        sev = str(severities.get(code, ""))
        colour = SEVERITY_COLOURS.get(sev, "#6b7280")
        if x not in colours or sev == "error":
            colours[x] = colour
        labels.setdefault(x, []).append(
            str(code).split("_", 1)[-1].lower().replace("_", " "))
    for x, names in labels.items():
        ax.axvline(x, color=colours[x], ls="--", lw=1.1, alpha=0.9, zorder=1)
        ax.annotate(_text(", ".join(names)), (x, 0.97), xycoords=("data", "axes fraction"),
                    xytext=(-3, 0), textcoords="offset points", rotation=90, ha="right",
                    va="top", fontsize=7, color=colours[x])


def step_loss(data: Mapping[str, Any] | None, plot_id: str = "plot-step-loss") -> str | None:
    """Loss of every training step (``{"step": [...], "loss": [...]}``), raw and smoothed.

    Spikes that an epoch average hides (a learning rate too high for a few batches) show
    here. The smoothed line is an exponential moving average, as TensorBoard draws it.
    """
    if not isinstance(data, Mapping):
        return None
    loss = _floats(data.get("loss"))
    if not loss or len(loss) < 3:
        return None
    steps = _floats(data.get("step"))
    if not steps or len(steps) != len(loss):
        steps = [float(i) for i in range(len(loss))]
    pts = [(a, b) for a, b in zip(steps, loss) if math.isfinite(a) and math.isfinite(b)]
    if len(pts) < 3:
        return None
    ema, smoothed = None, []
    for _, v in pts:
        ema = v if ema is None else STEP_EMA * ema + (1 - STEP_EMA) * v
        smoothed.append(ema)
    plt = _plt()
    with plt.rc_context(_style(plt)):
        fig, ax = plt.subplots(figsize=(7.4, 2.5))
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        if len(pts) > MAX_LINE_POINTS:  # min-max band per bucket keeps spikes, not bytes
            k = math.ceil(len(pts) / MAX_LINE_POINTS)
            bx = xs[::k]
            lo = [min(ys[i:i + k]) for i in range(0, len(ys), k)]
            hi = [max(ys[i:i + k]) for i in range(0, len(ys), k)]
            ax.fill_between(bx, lo, hi, color=TRAIN, alpha=0.25, lw=0, label="loss per step")
            ax.plot(bx, smoothed[::k], color=TRAIN, lw=2, label="smoothed")
        else:
            ax.plot(xs, ys, color=TRAIN, lw=0.8, alpha=0.35, label="loss per step")
            ax.plot(xs, smoothed, color=TRAIN, lw=2, label="smoothed")
        if min(ys) > 0 and max(ys) / min(ys) > LOG_LOSS_RATIO:
            ax.set_yscale("log")
            from matplotlib.ticker import LogLocator, NullFormatter

            ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend(loc="upper right")
        fig.tight_layout()
        return _to_svg(fig, plot_id)


def lr_range(data: Mapping[str, Any] | None, plot_id: str = "plot-lr-range") -> str | None:
    """Loss against learning rate (log axis), the suggested range shaded.

    Accepts ``lr``/``loss`` (or ``lrs``/``losses``), optional ``smoothed`` (drawn over the
    raw loss), ``suggested`` ``[lo, hi]``, ``lr_min`` (marked) and the run's own learning
    rate as ``current`` or ``optimizer.learning_rate`` (a dotted line).
    """
    if not isinstance(data, Mapping):
        return None
    lr = _floats(data.get("lr", data.get("lrs")))
    loss = _floats(data.get("loss", data.get("losses")))
    if not lr or not loss:
        return None
    smooth = _floats(data.get("smoothed"))
    if smooth and len(smooth) != len(loss):
        smooth = None
    pts = [(a, b, c) for a, b, c in zip(lr, loss, smooth or loss)
           if math.isfinite(a) and a > 0 and math.isfinite(b)]
    if len(pts) < 2:
        return None
    plt = _plt()
    with plt.rc_context(_style(plt)):
        fig, ax = plt.subplots(figsize=(4.4, 2.8))
        xs = [p[0] for p in pts]
        if smooth:
            ax.plot(xs, [p[1] for p in pts], color=TRAIN, lw=1, alpha=0.3)
            ax.plot(xs, [p[2] for p in pts], color=TRAIN, lw=2, label="loss (smoothed)")
        else:
            ax.plot(xs, [p[1] for p in pts], color=TRAIN, lw=2, label="loss")
        ax.set_xscale("log")
        suggested = _floats(data.get("suggested"))
        if suggested and len(suggested) >= 2 and all(math.isfinite(v) and v > 0
                                                     for v in suggested[:2]):
            lo, hi = sorted(suggested[:2])
            ax.axvspan(lo, hi, color="#16a34a", alpha=0.15, lw=0, label="suggested range")
        current = data.get("current")
        opt = data.get("optimizer")
        if current is None and isinstance(opt, Mapping):
            current = opt.get("learning_rate", opt.get("lr"))
        if isinstance(current, (int, float)) and not isinstance(current, bool) and current > 0:
            ax.axvline(float(current), color="#111827", ls=":", lw=1.4,
                       label=f"your learning rate ({float(current):.2g})")
        ys = [p[2] for p in pts]
        lo_y, first = min(ys), ys[0]
        if max(ys) > first + 1.5 * max(first - lo_y, 1e-9) and first > lo_y:
            ax.set_ylim(lo_y - 0.08 * (first - lo_y), first + 0.8 * (first - lo_y))
        ax.legend(loc="lower left")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        fig.tight_layout()
        return _to_svg(fig, plot_id)


def _layer_major(rows: list[list[float]], layers: Any, steps: Any) -> list[list[float]]:
    """Rows per layer. The agreed layout is ``values[layer][step]``; a record kept step by
    step (``values[step][layer]``, as the Monitor writes it) is recognised by its shape and
    transposed. A square grid is taken as agreed."""
    n_layers = len(layers) if isinstance(layers, Sequence) and not isinstance(layers, str) else 0
    n_steps = len(steps) if isinstance(steps, Sequence) and not isinstance(steps, str) else 0
    widths = {len(r) for r in rows}
    if (n_layers and len(rows) != n_layers and widths == {n_layers}
            and (not n_steps or len(rows) == n_steps)):
        return [list(col) for col in zip(*rows)]
    return rows


def _tick(step: Any) -> str:
    if isinstance(step, float) and math.isfinite(step):
        return f"{step:g}"
    return _text(step)


def grad_heatmap(data: Mapping[str, Any] | None, plot_id: str = "plot-grad-norms",
                 label: str = "gradient norm (log10)") -> str | None:
    """log10 of a per-layer quantity (rows, input at top) over steps (columns).

    ``{"layers": [...], "steps": [...], "values": [[one row per layer]]}``: gradient norms
    by default; the same shape serves update/weight ratios.
    """
    if not isinstance(data, Mapping):
        return None
    values = data.get("values")
    if not isinstance(values, Sequence) or not values:
        return None
    rows = [_floats(r) if isinstance(r, Sequence) else None for r in values]
    rows = [r or [] for r in rows]
    rows = _layer_major(rows, data.get("layers"), data.get("steps"))
    width = max((len(r) for r in rows), default=0)
    if width == 0:
        return None
    import numpy as np

    grid = np.full((len(rows), width), np.nan)
    for i, r in enumerate(rows):
        a = np.asarray(r, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            grid[i, :len(a)] = np.where(a > 0, np.log10(np.abs(a)), np.nan)
    if not np.isfinite(grid).any():
        return None
    raw_steps = data.get("steps")
    steps = list(raw_steps) if isinstance(raw_steps, Sequence) and not isinstance(
        raw_steps, str) and len(raw_steps) >= width else list(range(width))
    if width > MAX_HEATMAP_STEPS:  # average blocks of steps, keep the shape
        k = math.ceil(width / MAX_HEATMAP_STEPS)
        pad = (-width) % k
        grid = np.pad(grid, ((0, 0), (0, pad)), constant_values=np.nan)
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                grid = np.nanmean(grid.reshape(len(rows), -1, k), axis=2)
        steps = steps[::k]
    layers = data.get("layers")
    names = [str(n) for n in layers] if isinstance(layers, Sequence) and not isinstance(
        layers, str) else []
    names = (names + [f"layer {i}" for i in range(len(names), len(rows))])[:len(rows)]
    prefix = names[0].rsplit("/", 1)[0] + "/" if names and "/" in names[0] else ""
    if prefix and len(names) > 1 and all(n.startswith(prefix) for n in names):
        names = [n[len(prefix):] for n in names]  # "sequential/conv2d" -> "conv2d"
    plt = _plt()
    with plt.rc_context({**_style(plt), "axes.grid": False}):
        height = min(0.9 + 0.22 * len(rows), 6.0)
        fig, ax = plt.subplots(figsize=(7.4, height))
        finite = grid[np.isfinite(grid)]
        img = ax.imshow(np.ma.masked_invalid(grid), aspect="auto", cmap="magma",
                        interpolation="nearest", vmin=float(finite.min()),
                        vmax=float(max(finite.max(), finite.min() + 1e-9)))
        ax.set_yticks(range(len(names)))
        ax.set_yticklabels([_text(n if len(n) <= 24 else n[:23] + "…") for n in names],
                           fontsize=7 if len(names) > 12 else 8)
        if len(names) > 30:
            ax.set_yticks(ax.get_yticks()[::math.ceil(len(names) / 30)])
        cols = grid.shape[1]
        ticks = (np.arange(cols) if cols <= 16 else
                 np.linspace(0, cols - 1, 8).round().astype(int))
        ax.set_xticks(ticks)
        ax.set_xticklabels([_tick(steps[t]) if t < len(steps) else str(t) for t in ticks])
        ax.set_xlabel("step")
        bar = fig.colorbar(img, ax=ax, pad=0.01, fraction=0.04, label=label)
        bar.ax.tick_params(labelsize=7)
        bar.outline.set_visible(False)
        fig.tight_layout()
        return _to_svg(fig, plot_id)


def _fractions(d: Any) -> dict[str, float]:
    if not isinstance(d, Mapping):
        return {}
    out = {}
    for k, v in d.items():
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            out[str(k)] = f
    return out


def _unit_series(name: str, d: Any) -> list[tuple[str, dict[str, float]]]:
    """``{layer: f}``, ``{phase: {layer: f}}`` or a Monitor record (``steps``, ``values``,
    ``per_layer``) as a list of (label, {layer: fraction})."""
    if not isinstance(d, Mapping):
        return []
    if "per_layer" in d or ("steps" in d and "values" in d):
        steps = d.get("steps") if isinstance(d.get("steps"), list) else []
        per = d.get("per_layer") if isinstance(d.get("per_layer"), list) else []
        per = [(i, _fractions(p)) for i, p in enumerate(per) if _fractions(p)]
        if per:
            picks = [per[0], per[-1]] if len(per) > 1 else per
            return [(f"{name}, step {steps[i] if i < len(steps) else i}", f) for i, f in picks]
        values = _floats(d.get("values"))
        if values and math.isfinite(values[-1]):
            return [(name, {"all layers (last step)": values[-1]})]
        return []
    nested = {k: _fractions(v) for k, v in d.items() if isinstance(v, Mapping)}
    nested = {k: v for k, v in nested.items() if v}
    if nested:
        return [(f"{name}, {_label_key(k)}", v) for k, v in nested.items()]
    flat = _fractions(d)
    return [(name, flat)] if flat else []


def _label_key(k: str) -> str:
    return str(k).replace("_", " ")


def unit_fractions(dead: Mapping[str, Any] | None, saturated: Mapping[str, Any] | None = None,
                   plot_id: str = "plot-dead-units") -> str | None:
    """Horizontal bars: fraction of dead (and saturated) units per layer."""
    palettes = {"dead": ["#c4b5fd", "#7c3aed"], "saturated": ["#99f6e4", "#0d9488"]}
    series = []
    for key, name, d in (("dead", "dead", dead), ("saturated", "saturated", saturated)):
        found = _unit_series(name, d)
        colours = palettes[key] if len(found) > 1 else palettes[key][1:]
        series += [(label, colours[min(i, len(colours) - 1)], f)
                   for i, (label, f) in enumerate(found)]
    if not series:
        return None
    import numpy as np

    layers: list[str] = []
    for _, _, d in series:
        layers += [k for k in d if k not in layers]
    layers = layers[:MAX_BARS]
    plt = _plt()
    with plt.rc_context(_style(plt)):
        fig, ax = plt.subplots(figsize=(4.6, min(1.2 + 0.25 * len(layers) * len(series), 7)))
        h = 0.8 / len(series)
        y = np.arange(len(layers))
        for i, (name, colour, d) in enumerate(series):
            vals = [d.get(k, 0.0) for k in layers]
            ax.barh(y + i * h - 0.4 + h / 2, vals, height=h * 0.9, color=colour, label=_text(name))
        ax.set_yticks(y)
        ax.set_yticklabels([_text(n if len(n) <= 24 else n[:23] + "…") for n in layers])
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
        ax.grid(axis="y", visible=False)
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)
        fig.tight_layout()
        return _to_svg(fig, plot_id)


def class_histogram(counts: Mapping[str, Any] | None,
                    plot_id: str = "plot-classes") -> str | None:
    """Images per class, one bar group per split (``{split: {class: n}}``)."""
    if not isinstance(counts, Mapping):
        return None
    splits = {str(s): _fractions(c) for s, c in counts.items()}
    splits = {s: c for s, c in splits.items() if c}
    if not splits:
        return None
    import numpy as np

    classes: list[str] = []
    for c in splits.values():
        classes += [k for k in c if k not in classes]
    more = max(len(classes) - MAX_BARS, 0)
    if more:  # keep the largest classes
        total = {k: sum(c.get(k, 0) for c in splits.values()) for k in classes}
        classes = sorted(classes, key=lambda k: -total[k])[:MAX_BARS]
    palette = ["#2563eb", "#ea580c", "#16a34a", "#9333ea", "#64748b"]
    plt = _plt()
    with plt.rc_context(_style(plt)):
        fig, ax = plt.subplots(figsize=(max(4.2, min(0.35 * len(classes) * len(splits), 9)),
                                        2.8))
        w = 0.8 / len(splits)
        x = np.arange(len(classes))
        for i, (split, c) in enumerate(splits.items()):
            ax.bar(x + i * w - 0.4 + w / 2, [c.get(k, 0) for k in classes], width=w * 0.92,
                   color=palette[i % len(palette)], label=_text(split))
        ax.set_xticks(x)
        rot = 45 if len(classes) > 8 or max(len(k) for k in classes) > 8 else 0
        ax.set_xticklabels([_text(k if len(k) <= 16 else k[:15] + "…") for k in classes],
                           rotation=rot, ha="right" if rot else "center")
        ax.grid(axis="x", visible=False)
        ax.set_ylabel("images")
        if more:
            ax.set_title(f"the largest {MAX_BARS} of {MAX_BARS + more} classes",
                         fontweight="normal")
        if len(splits) > 1:
            ax.legend()
        fig.tight_layout()
        return _to_svg(fig, plot_id)
