"""``convergent fit DIR``: a known-good trainer for a class-per-folder image folder.

Steps: (optional) ``convergent.data.scan`` → quarantine undecodable files and keep
duplicate/leak pairs on one side of the split (never touching the user's files) → a
stratified, de-leaked split → a tf.data pipeline with prefetch → a CNN sized to the data
with its input scaling inside → AdamW with a one-cycle schedule whose peak LR comes from a
range test → early stopping (best weights restored) → a ``.keras`` model and
``report.json`` in ``out``. ``BackupAndRestore`` keeps a checkpoint in ``out/backup``:
run the same command again after an interruption and it resumes. With ``repair=True`` the
repair loop (``trainer/repair.py``) runs on top, within ``budget`` seconds.

Example:
    >>> report = fit("data/", out="runs/data")                 # doctest: +SKIP
    >>> report.metrics["fit"]["val_accuracy"]                  # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from convergent.errors import BadInputError
from convergent.findings import Code, Finding, Report
from convergent.remedies import transforms as T
from convergent.trainer.data import build_data, load_folder
from convergent.trainer.diagnosis import _optional, diagnose_run
from convergent.trainer.lr_range import can_sweep_in_place, range_test, sweep_model
from convergent.trainer.recipe import Recipe, default_recipe

DEFAULT_REPAIR_BUDGET_S = 600.0
RECIPE_FILE = "recipe.json"
BACKUP_DIR = "backup"
# scan findings the trainer acts on before training, with the remedy it applies
SCAN_REMEDIES = {Code.DATA_CORRUPT: "drop_corrupt", Code.DATA_DUPLICATES: "deleak_split",
                 Code.DATA_LEAKAGE: "deleak_split", Code.DATA_IMBALANCE: "class_weights"}


# Time of an epoch beyond its training steps: validation (a forward pass over 1/4 as many
# images as training, ~1/3 the cost of a training step each) plus callbacks; and the share
# of a budget kept back for building, tracing and saving the model. First principles,
# checked against the epoch times of benchmarks/perf/fit_vs_baseline.py.
EPOCH_OVERHEAD = 1.1
BUDGET_MARGIN = 0.85
MIN_EPOCHS = 3
# The range test runs on the training model (trace once), so the training run traces only
# its validation step: its first epoch took 0.4-0.8x the sweep's set-up time beyond a later
# epoch (digits, mnist, animals seed 0, load 4.5-6.5, 2026-12-01; twice the set-up when it
# traced its own train step too). 1.0 rounds the worst of them up.
TRAIN_SETUP_FACTOR = 1.0
# A training run on a new model (the repair loop's) traces its train step too: its first
# epoch took ~2x the sweep's set-up beyond a normal one (animals, load 3.7, before trace once).
FRESH_TRAIN_SETUP_FACTOR = 2.0
# Kept back from the training's own budget for what follows it: the final evaluation, the
# run's diagnosis and saving the model took 0.6-1.0 s (animals and mnist samples, load 4-6).
FINISH_RESERVE_S = 1.5


def epochs_for(seconds_left: float, step_seconds: float, data: Any, most: int,
               setup_seconds: float = 0.0, setup_factor: float = TRAIN_SETUP_FACTOR) -> int:
    """How many epochs fit in ``seconds_left``, so a one-cycle schedule can finish.

    Args:
        seconds_left: the budget still unspent.
        step_seconds: one training step (the range test's median).
        data: the built data (its ``steps_per_epoch``).
        most: the recipe's epochs.
        setup_seconds: the range test's set-up time (tracing); the training run pays
            ``setup_factor`` times it once: ``TRAIN_SETUP_FACTOR`` when it reuses the
            sweep's model (only its validation step is traced), ``FRESH_TRAIN_SETUP_FACTOR``
            on a new model.
    """
    epoch_s = step_seconds * data.steps_per_epoch * EPOCH_OVERHEAD
    usable = seconds_left * BUDGET_MARGIN - setup_factor * setup_seconds
    fit_in = int(usable / max(epoch_s, 1e-6))
    return max(MIN_EPOCHS, min(most, fit_in))


def _out_dir(root: Path, out: str | Path | None) -> Path:
    if out is None:
        base = Path.cwd() / f"convergent-fit-{root.name}"
        out, k = base, 1
        while out.exists() and any(out.iterdir()):
            k += 1
            out = Path(f"{base}-{k}")
    out = Path(out).resolve()
    if out == root or root in out.parents:
        raise BadInputError(f"--out {out} is inside the data folder {root}; choose a folder "
                            "outside it (convergent never writes into your data)")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _scan(root: Path, seed: int, info: dict[str, Any]) -> list[Finding]:
    """The data scan's findings, when that layer is installed; its failure is recorded."""
    scan = _optional("convergent.data.scan", "scan")
    if scan is None:
        info["scan"] = "not available"
        return []
    try:
        return list(scan(root, seed=seed, progress=False).findings)
    except Exception as e:  # noqa: BLE001 - training must not depend on another layer
        info["scan"] = f"failed: {e!r}"
        return []


def plan(root: Path, images: Any, scan_findings: list[Finding], seed: int
         ) -> tuple[Recipe, list[dict[str, Any]]]:
    """The known-good recipe for the folder, with the scan's data remedies applied."""
    r = default_recipe(len(images.class_names), tuple(images.x.shape[1:]),
                       int(len(images.x) * 0.8), source=str(root))
    r = r.with_(data={"image_size": tuple(images.x.shape[1:3]),
                      "color_mode": "grayscale" if images.x.shape[-1] == 1 else "rgb",
                      "exclude": tuple(images.quarantine)})
    applied = []
    for f in scan_findings:
        rid = SCAN_REMEDIES.get(f.code)
        if rid:
            r = T.apply(rid, r, T.Context(f))
            applied.append({"finding": f.code.value, "remedy": rid})
    return r, applied


def fit(path: str | Path, repair: bool = False, budget: float | None = None,
        out: str | Path | None = None, seed: int = 0, progress: bool = True,
        storage: str | None = None, epochs: int | None = None, scan: bool = True) -> Report:
    """Train a known-good classifier on the image folder ``path``.

    Args:
        path: class-per-folder images (optionally ``train/`` and ``val/`` subtrees); read only.
        repair: run the repair loop when the first training is not healthy.
        budget: time budget in seconds (default: none for fit, 600 s with repair).
        out: folder for ``model.keras``, ``report.json``, ``recipe.json`` and the backup;
            default a new ``convergent-fit-<name>`` folder in the working directory.
        seed: seed of the split, initialisation and search.
        progress: one line per epoch from Keras.
        storage: Optuna storage URL for the repair searches (default in memory).
        epochs: override the recipe's epoch count (tests, quick looks).
        scan: run ``convergent.data.scan`` first (when installed) and act on its findings.

    Returns:
        A Report whose metrics hold the history, the recipe, the LR range test and, with
        repair, ``metrics["repair"]``.
    """
    t0 = time.perf_counter()
    root = Path(path).resolve()
    if not root.is_dir():
        raise BadInputError(f"{path} is not a folder; give a folder with one subfolder per class")
    out_dir = _out_dir(root, out)
    phases: dict[str, float] = {}
    notes: dict[str, Any] = {}
    scan_findings = _scan(root, seed, notes) if scan else []
    phases["scan"] = time.perf_counter() - t0
    recipe_file, backup = out_dir / RECIPE_FILE, out_dir / BACKUP_DIR
    resumed = recipe_file.exists() and backup.exists() and any(backup.iterdir())
    exclude: list[str] = []
    for f in scan_findings:
        if f.code is Code.DATA_CORRUPT:
            exclude += [str(p) for p in f.evidence.get("files", [])]
    images = load_folder(root, exclude=exclude)
    phases["load"] = time.perf_counter() - t0 - sum(phases.values())
    lr_info: dict[str, Any] = {}
    swept = None
    if resumed:  # same recipe as the interrupted run, so the checkpoint fits
        recipe = Recipe.from_dict(json.loads(recipe_file.read_text())["recipe"])
        data = build_data(recipe, images, seed=seed)
        applied = json.loads(recipe_file.read_text()).get("scan_remedies", [])
    else:
        recipe, applied = plan(root, images, scan_findings, seed)
        if epochs:
            recipe = recipe.with_(fit={"epochs": epochs})
        data = build_data(recipe, images, seed=seed)
        # trace once: the range test runs on the training model itself, which the training
        # then reuses (restored to its initial weights and optimizer state); the repair
        # loop builds its own models
        swept = sweep_model(recipe, data, seed) if can_sweep_in_place(recipe) and not repair \
            else None
        lr_info = range_test(recipe, data, seed=seed, model=swept)
        if lr_info["suggested"]:
            recipe = recipe.with_(compile={"learning_rate": lr_info["suggested"]})
        if budget is not None and lr_info.get("step_seconds"):
            recipe = recipe.with_(fit={"epochs": epochs_for(
                budget - (time.perf_counter() - t0), lr_info["step_seconds"], data,
                recipe.fit.epochs, lr_info.get("setup_seconds") or 0.0,
                TRAIN_SETUP_FACTOR if swept is not None else FRESH_TRAIN_SETUP_FACTOR)})
        phases["range_test"] = time.perf_counter() - t0 - sum(phases.values())
        recipe_file.write_text(json.dumps({"recipe": recipe.to_dict(), "scan_remedies": applied},
                                          indent=1))
    verbose = 2 if progress else 0
    metrics: dict[str, Any] = {}
    if repair:
        from convergent.trainer.repair import repair as repair_loop

        left = (budget or DEFAULT_REPAIR_BUDGET_S) - (time.perf_counter() - t0)
        res = repair_loop(recipe, data, budget_s=max(1.0, left), seed=seed, storage=storage,
                          verbose=verbose)
        trained, recipe, findings = res.best, res.best_recipe, res.findings
        metrics["repair"] = res.metrics()
    else:
        from convergent.trainer.train import train

        trained = train(recipe, data, backup_dir=backup, seed=seed, verbose=verbose,
                        budget_s=None if budget is None else
                        max(1.0, budget - (time.perf_counter() - t0) - FINISH_RESERVE_S),
                        model=swept)
        findings, diag = diagnose_run(recipe, data, trained)
        metrics["diagnosis"] = diag
    phases["train"] = time.perf_counter() - t0 - sum(phases.values())
    model_path = out_dir / "model.keras"
    from convergent.trainer.schedule import settle

    settle(trained.model)  # the saved model carries a plain Keras schedule
    trained.model.save(model_path)
    seconds = time.perf_counter() - t0
    metrics.update(
        fit={"val_accuracy": round(trained.val_accuracy, 4), "epochs": trained.epochs_run,
             "train_seconds": round(trained.seconds, 2), "seconds": round(seconds, 2),
             "resumed": resumed, "stopped_by_budget": trained.stopped_by_budget,
             "epoch_seconds": trained.metrics.get("epoch_seconds", []),
             "schedule_shortened": trained.metrics.get("schedule_shortened", []),
             "model": str(model_path), "out": str(out_dir), "classes": data.class_names,
             "phase_seconds": {k: round(v, 2) for k, v in phases.items()}, **notes},
        history=trained.history, recipe=recipe.to_dict(), split=data.split_info,
        scan_remedies=applied, quarantine=list(images.quarantine),
        lr_range={"suggested": lr_info.get("suggested"), "rule": lr_info.get("rule"),
                  "valley": lr_info.get("valley"), "knee": lr_info.get("knee"),
                  "step_seconds": lr_info.get("step_seconds"),
                  "setup_seconds": lr_info.get("setup_seconds"),
                  "lrs": lr_info.get("lrs", []),
                  "losses": lr_info.get("losses", [])})
    kept = [f for f in scan_findings if f.code.value not in {a["finding"] for a in applied}]
    report = Report(findings + kept, command="fit", subject=str(root), metrics=metrics)
    report.to_json(out_dir / "report.json")
    return report
