"""``convergent.scan``: audit an image folder, arrays, or an input pipeline; return a Report.

One function dispatches on the type of its first argument:

* a path: a class-per-folder tree (optionally ``train/ val/ test/`` subfolders, or a
  separate ``val`` folder) is listed, every file decoded once in parallel into a table of
  facts, and the registered data checks run over the table;
* numpy-like arrays ``(x, y, x_val, y_val)``: the array checks (range, finiteness, counts,
  split order) plus the same image checks over a table built from the pixels;
* a ``tf.data.Dataset``, Keras ``PyDataset`` or generator: batches are sampled and the
  array checks applied per batch.

The library never prints: ``progress=True`` shows a rich progress bar on stderr (the CLI's
default), and ``on_progress(done, total)`` is called instead when given.

Example:
    >>> report = scan("data/")  # doctest: +SKIP
    >>> report.codes  # doctest: +SKIP
    ['DATA_CORRUPT', 'DATA_LEAKAGE']
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Self

import numpy as np

from convergent.errors import BadInputError
from convergent.findings import Finding, Report

MAX_FILE_FACTS = 2000  # per-file facts kept in metrics (the flagged files first)


def scan(data: Any, y: Any = None, x_val: Any = None, y_val: Any = None, *,
         val: str | Path | None = None, seed: int = 0, progress: bool = False,
         on_progress: Callable[[int, int], None] | None = None,
         params: Mapping[str, Mapping[str, Any]] | None = None,
         validation_split: float | None = None, max_batches: int = 50) -> Report:
    """Audit a folder, arrays or a pipeline for data problems; return the ranked Report.

    Args:
        data: a folder path, an image array ``x`` (N, H, W[, C]), or a tf.data / PyDataset
            / iterable of ``(x, y)`` batches.
        y, x_val, y_val: labels and a validation split, for arrays.
        val: a separate validation folder (folders only).
        seed: seed of every random choice (cross-validation folds).
        progress: show a progress bar on stderr while decoding.
        on_progress: called as ``on_progress(done, total)`` instead of a bar.
        params: threshold overrides, ``{check_name: {param: value}}``.
        validation_split: for arrays, the fraction ``fit(validation_split=...)`` uses.
        max_batches: for pipelines, batches sampled.

    Raises:
        BadInputError: nothing can be scanned (missing or empty folder, no class
            subfolders, no image files, unusable arrays).

    Example:
        >>> scan(np.zeros((40, 8, 8), "uint8"), np.arange(40) % 2).codes  # doctest: +SKIP
    """
    if isinstance(data, (str, Path)):
        if y is not None or x_val is not None:
            raise BadInputError("scan(path) takes no labels or x_val; pass val=FOLDER for a "
                                "separate validation folder")
        return _scan_folder(Path(data), val, seed, progress, on_progress, params)
    if val is not None:
        raise BadInputError("val= is for folders; for arrays pass x_val and y_val")
    if hasattr(data, "shape") and hasattr(data, "dtype"):
        return _scan_arrays(data, y, x_val, y_val, seed, progress, on_progress, params,
                            validation_split)
    if isinstance(data, (list, tuple)) and data and hasattr(data[0], "shape") and y is not None:
        return _scan_arrays(np.asarray(data), y, x_val, y_val, seed, progress, on_progress,
                            params, validation_split)
    if hasattr(data, "__iter__") or hasattr(data, "__getitem__"):
        from convergent.data.arrays import check_batches

        t0 = time.perf_counter()
        findings = check_batches(data, x_val, max_batches=max_batches)
        return Report(findings, command="scan", subject=type(data).__name__,
                      metrics={"timings": {"total": round(time.perf_counter() - t0, 3)}})
    raise BadInputError(f"scan() takes a folder path, image arrays or a dataset; received "
                        f"{type(data).__name__}")


class _Bar:
    """A rich progress bar on stderr (only when the caller asked for progress)."""

    def __init__(self, label: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.p = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(),
                          TimeRemainingColumn(), console=Console(stderr=True), transient=True)
        self.task = None

    def __enter__(self) -> Self:
        self.p.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.p.__exit__(*exc)

    def __call__(self, done: int, total: int) -> None:
        if self.task is None:
            self.task = self.p.add_task("", total=total)
        self.p.update(self.task, completed=done, total=total)


def _progress(progress: bool, on_progress: Callable[[int, int], None] | None, label: str
              ) -> Any:
    import contextlib

    if on_progress is not None:
        return contextlib.nullcontext(on_progress)
    if progress:
        return _Bar(label)
    return contextlib.nullcontext(None)


def _scan_folder(root: Path, val: str | Path | None, seed: int, progress: bool,
                 on_progress: Callable[[int, int], None] | None,
                 params: Mapping[str, Mapping[str, Any]] | None) -> Report:
    from convergent.data.checks import run_checks
    from convergent.data.folder import discover
    from convergent.data.table import build_table

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    listing = discover(root, val)
    timings["list"] = round(time.perf_counter() - t0, 3)
    t1 = time.perf_counter()
    with _progress(progress, on_progress, "decoding images") as cb:
        table = build_table(str(listing.root), listing.files, progress=cb)
    table.classes = listing.classes
    timings["decode"] = round(time.perf_counter() - t1, 3)
    t2 = time.perf_counter()
    findings = run_checks(table, params, seed, timings)
    timings["checks"] = round(time.perf_counter() - t2, 3)
    timings["total"] = round(time.perf_counter() - t0, 3)
    metrics = _metrics(table, findings, timings)
    metrics["root"] = str(listing.root)
    metrics["layout"] = listing.layout
    if listing.ignored:
        metrics["ignored_files"] = {"n": len(listing.ignored), "files": listing.ignored[:50],
                                    "why": "not an image extension Keras loads"}
    if listing.loops:
        metrics["symlink_loops"] = listing.loops[:50]
    return Report(findings, command="scan", subject=str(listing.root), metrics=metrics)


def _scan_arrays(x: Any, y: Any, x_val: Any, y_val: Any, seed: int, progress: bool,
                 on_progress: Callable[[int, int], None] | None,
                 params: Mapping[str, Mapping[str, Any]] | None,
                 validation_split: float | None) -> Report:
    from convergent.data.arrays import check_arrays

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    findings: list[Finding] = check_arrays(x, y, x_val, y_val,
                                           validation_split=validation_split)
    timings["array_checks"] = round(time.perf_counter() - t0, 3)
    with _progress(progress, on_progress, "summarising images") as cb:
        image_findings, table = image_array_checks(x, y, x_val, y_val, seed=seed,
                                                   params=params, timings=timings,
                                                   on_progress=cb)
    findings += image_findings
    metrics = _metrics(table, findings, timings) if table is not None else {"timings": timings}
    timings["total"] = round(time.perf_counter() - t0, 3)
    return Report(findings, command="scan", subject=f"arrays {tuple(np.shape(x))}",
                  metrics=metrics)


def looks_like_images(x: Any) -> bool:
    """(N, H, W) or (N, H, W, C) with H, W >= 4: the per-image checks apply."""
    shape = np.shape(x)
    return len(shape) in (3, 4) and min(shape[1:3]) >= 4 and (len(shape) == 3 or
                                                            shape[3] in (1, 3, 4))


def image_array_checks(x: Any, y: Any = None, x_val: Any = None, y_val: Any = None, *,
                       seed: int = 0, params: Mapping[str, Mapping[str, Any]] | None = None,
                       timings: dict[str, float] | None = None,
                       on_progress: Callable[[int, int], None] | None = None
                       ) -> tuple[list[Finding], Any]:
    """The per-image checks (exposure, duplicates, leakage, variety, outliers, labels) on
    image arrays; ``([], None)`` when ``x`` is not images. Returns the findings and table.

    Example:
        >>> found, table = image_array_checks(np.zeros((40, 8, 8), "uint8"),
        ...                                   np.arange(40) % 2)  # doctest: +SKIP
    """
    from convergent.data.checks import run_checks
    from convergent.data.table import table_from_arrays

    if not looks_like_images(x) or (x_val is not None and not looks_like_images(x_val)):
        return [], None
    timings = {} if timings is None else timings
    t1 = time.perf_counter()
    table = table_from_arrays(np.asarray(x), y, x_val, y_val, progress=on_progress)
    timings["decode"] = round(time.perf_counter() - t1, 3)
    found = [f for f in run_checks(table, params, seed, timings)
             if f.code.value not in ("DATA_CORRUPT",)]  # arrays always decode
    return found, table


def _metrics(table: Any, findings: list[Finding], timings: dict[str, float]
             ) -> dict[str, Any]:
    df = table.df
    ok = df["ok"].to_numpy(bool)
    counts: dict[str, dict[str, int]] = {}
    for split, names in (table.classes or {}).items():
        sub = df[ok & (df["split"] == split).to_numpy()]["cls"].value_counts()
        counts[split] = {c: int(sub.get(c, 0)) for c in names}
    flagged: set[str] = set()
    for f in findings:
        ev = f.evidence
        flagged.update(map(str, ev.get("files", []) or []))
        for pair in ev.get("pairs", []) or []:
            flagged.update(map(str, pair))
    facts_cols = ["cls", "split", "width", "height", "mode", "bright", "lum_std", "blur"]
    sel = df[df["rel"].isin(flagged)].head(MAX_FILE_FACTS)
    files = {r["rel"]: {c: (round(float(r[c]), 4) if isinstance(r[c], (float, np.floating))
                            else r[c]) for c in facts_cols}
             for r in sel.to_dict("records")}
    n_ok = int(ok.sum())
    summary = {
        "images": len(df), "decoded": n_ok, "undecodable": len(df) - n_ok,
        "classes": len({c for names in (table.classes or {}).values() for c in names}),
        "splits": len(table.classes or {}),
        "median_size": (f"{int(df['width'][ok].median())}x{int(df['height'][ok].median())}"
                        if n_ok else ""),
        "findings": len(findings),
        "images_per_second": round(len(df) / max(timings.get("decode", 0.0), 1e-9), 1),
    }
    return {"summary": summary, "class_counts": counts, "timings": timings, "files": files}
