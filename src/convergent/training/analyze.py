"""``convergent analyze PATH``: learning-curve findings from a saved log, after the fact.

Reads a Keras ``CSVLogger`` file, a saved History JSON (a dict of per-epoch lists, or a
``{"history": {...}}`` wrapper such as a ``convergent`` report) or a TensorBoard log
directory, and runs the same :mod:`convergent.training.curves` checks as the live
Monitor. TensorFlow is imported only for TensorBoard directories.

Example:
    >>> report = analyze("training.log")                     # doctest: +SKIP
    >>> report.metrics["finding_epochs"]                      # doctest: +SKIP
    {'TRAIN_OVERFITTING': 6}
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from convergent.errors import BadInputError
from convergent.findings import Report
from convergent.training.curves import RunFacts, analyze_curves, history_from_mapping

# Keras' TensorBoard callback writes epoch scalars as ``epoch_<metric>`` into ``train/``
# and ``validation/`` subfolders (and batch scalars as ``batch_<metric>``).
TB_EPOCH_PREFIX = "epoch_"
TB_BATCH_PREFIX = "batch_"


def analyze(path: str | Path, n_classes: int | None = None, n_val: int | None = None,
            epochs_planned: int | None = None) -> Report:
    """Findings from the learning curves in a CSVLogger file, History JSON or TensorBoard dir.

    Args:
        path: the log file or TensorBoard log directory.
        n_classes: number of classes (else estimated from the first loss ≈ ln C).
        n_val: validation samples (sets the binomial noise band of accuracy).
        epochs_planned: epochs the run was meant to have (tells early stop from the end).

    Returns:
        A Report (command ``analyze``); metrics hold the history, the source format,
        ``finding_epochs`` and the plateau, if any.

    Raises:
        BadInputError: the path is missing or holds no per-epoch loss curve.

    Example:
        >>> analyze("history.json", n_classes=10).codes            # doctest: +SKIP
    """
    p = Path(path)
    if not p.exists():
        raise BadInputError(f"no such file or directory: {str(p)!r}; give a CSVLogger "
                            "file, a History JSON or a TensorBoard log directory")
    steps: dict[str, list[float]] = {}
    if p.is_dir():
        history, steps = read_tensorboard(p)
        kind = "tensorboard"
    elif p.suffix.lower() == ".json" or _looks_like_json(p):
        history, kind = read_history_json(p), "history-json"
    else:
        history, kind = read_csv_log(p), "csvlogger"
    if not history.get("loss") and not history.get("val_loss"):
        raise BadInputError(f"{str(p)!r} holds no loss curve (found keys {sorted(history)}); "
                            "expected CSVLogger columns, History.history keys or "
                            "TensorBoard 'epoch_loss' scalars")
    facts = RunFacts(history=history, steps=steps, n_classes=n_classes, n_val=n_val,
                     epochs_planned=epochs_planned)
    result = analyze_curves(facts)
    summary = {"source": kind, "epochs": facts.n_epochs,
               "metrics": ",".join(sorted(history))}
    return Report(result.findings, command="analyze", subject=str(p), metrics={
        "summary": summary, "history": history, "steps": steps, **result.metrics})


def _looks_like_json(p: Path) -> bool:
    with p.open("rb") as fh:
        head = fh.read(64).lstrip()
    return head[:1] in (b"{", b"[")


def read_csv_log(p: Path) -> dict[str, list[float]]:
    """A ``keras.callbacks.CSVLogger`` file (``epoch`` column dropped)."""
    with p.open(newline="", encoding="utf-8") as fh:
        sample = fh.read(4096)
        fh.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        rows = list(csv.DictReader(fh, dialect=dialect))
    if not rows:
        raise BadInputError(f"{str(p)!r} has no rows; expected a CSVLogger file with a header "
                            "line such as 'epoch,loss,val_loss'")
    cols = {k: [r.get(k) for r in rows] for k in rows[0] if k and k != "epoch"}
    return history_from_mapping(cols)


def read_history_json(p: Path) -> dict[str, list[float]]:
    """``json.dump(history.history)`` output, or any JSON with a ``history`` mapping."""
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except ValueError as e:
        raise BadInputError(f"{str(p)!r} is not valid JSON: {e}") from e
    if isinstance(data, dict) and isinstance(data.get("metrics"), dict) \
            and "history" in data["metrics"]:
        data = data["metrics"]["history"]  # a convergent JSON report
    elif isinstance(data, dict) and isinstance(data.get("history"), dict):
        data = data["history"]
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise BadInputError(f"{str(p)!r} is not a History JSON: expected a mapping of metric "
                            "names to per-epoch lists, e.g. json.dump(history.history, f)")
    return history_from_mapping(data)


def read_tensorboard(d: Path) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Epoch (and batch) scalars from a TensorBoard log directory written by Keras."""
    files = sorted(d.rglob("events.out.tfevents.*"))
    if not files:
        raise BadInputError(f"{str(d)!r} holds no TensorBoard event files "
                            "(events.out.tfevents.*)")
    epoch: dict[str, dict[int, float]] = {}
    batch: dict[int, float] = {}
    for f in files:
        prefix = "val_" if "validation" in f.relative_to(d).parts[:-1] else ""
        for tag, step, value in _scalars(f):
            if tag.startswith(TB_EPOCH_PREFIX):
                name = tag[len(TB_EPOCH_PREFIX):]
                if name == "learning_rate" and prefix:
                    continue
                epoch.setdefault(prefix + name, {})[step] = value
            elif tag == TB_BATCH_PREFIX + "loss" and not prefix:
                batch[step] = value
    history = history_from_mapping({k: [v[s] for s in sorted(v)] for k, v in epoch.items()})
    steps: dict[str, list[float]] = {}
    if batch:
        order = sorted(batch)
        steps = {"step": [float(s) for s in order], "loss": [batch[s] for s in order]}
    return history, steps


def _scalars(f: Path) -> list[tuple[str, int, float]]:
    """(tag, step, value) of every scalar in one event file (TF imported here only)."""
    try:
        import tensorflow as tf
    except ImportError as e:
        raise BadInputError("reading TensorBoard logs needs tensorflow; install it or export "
                            "the curves with keras.callbacks.CSVLogger") from e
    out: list[tuple[str, int, float]] = []
    try:
        for event in tf.compat.v1.train.summary_iterator(str(f)):
            for v in event.summary.value:
                kind = v.WhichOneof("value")
                if kind == "simple_value":
                    out.append((v.tag, int(event.step), float(v.simple_value)))
                elif kind == "tensor":
                    arr = tf.make_ndarray(v.tensor)
                    if arr.size == 1 and arr.dtype.kind in "fiu":
                        out.append((v.tag, int(event.step), float(arr.reshape(-1)[0])))
    except tf.errors.DataLossError:  # a file cut short by a killed run: keep what was read
        pass
    return out
