"""Diagnose one trained Recipe: the findings the repair loop acts on.

Gathers, lazily and each only when its module is installed: ``check_arrays`` on the inputs
*as the network sees them* (after the recipe's scaling), ``lint(model, y)``, the probes of
``diagnose`` (on a fresh copy of the model) and the curve checks of ``training.curves`` on
the run's history. When the curve module is missing, two outcome checks stand in
(divergence, accuracy at chance). A few recipe checks that are definitions rather than
measurements (output units and activation against the loss) are always run.

Example:
    >>> findings, metrics = diagnose_run(recipe, data, trained)        # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import math
from typing import Any

import numpy as np

from convergent.findings import Code, Finding, Severity
from convergent.remedies.catalog import remedies_for
from convergent.trainer.data import Data
from convergent.trainer.recipe import Recipe
from convergent.trainer.train import Trained

# rows of the training split passed to the array checks (enough for stable range stats)
ARRAY_SAMPLE = 2048
# two binomial standard errors above chance: accuracy that high is not luck (95%)
CHANCE_Z = 2.0


def _optional(module: str, name: str) -> Any:
    """``module.name`` if that part of convergent exists yet, else None."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ModuleNotFoundError, AttributeError):
        return None


def as_network_sees(recipe: Recipe, x: np.ndarray, data: Data) -> np.ndarray:
    """The inputs after the recipe's in-model scaling (for the array checks)."""
    xf = x.astype(np.float32)
    if recipe.data.input_scale == "rescale":
        return xf * recipe.data.rescale_factor
    if recipe.data.input_scale == "standardize":
        return (xf - data.mean) / np.sqrt(data.variance)
    return xf


def recipe_findings(recipe: Recipe, n_classes: int) -> list[Finding]:
    """Output layer vs loss vs classes: definitions, no thresholds."""
    m, c = recipe.model, recipe.compile
    out: list[Finding] = []
    units = m.output_units or m.num_classes
    if units != n_classes and not (n_classes == 2 and units == 1):
        out.append(Finding(
            Code.MODEL_OUTPUT_UNITS, Severity.ERROR, 1.0, "Output units differ from classes",
            f"The last layer has {units} units for {n_classes} classes.",
            {"units": units, "num_classes": n_classes},
            remedies_for(Code.MODEL_OUTPUT_UNITS, "fix_output_units")))
    if c.loss not in ("sparse_categorical_crossentropy", "categorical_crossentropy") and \
            not (c.loss == "binary_crossentropy" and units == 1):
        out.append(Finding(
            Code.MODEL_LOSS_MISMATCH, Severity.ERROR, 1.0, "Loss does not fit the labels",
            f"The loss {c.loss} does not fit one-of-{n_classes} labels.",
            {"loss": c.loss, "num_classes": n_classes},
            remedies_for(Code.MODEL_LOSS_MISMATCH, "fix_loss")))
    if units > 1 and m.output_activation != "softmax" and not c.from_logits:
        out.append(Finding(
            Code.MODEL_OUTPUT_ACTIVATION, Severity.WARNING, 0.8, "Output activation",
            f"{m.output_activation} outputs with {c.loss}: one-of-many labels need softmax.",
            {"output_activation": m.output_activation, "loss": c.loss},
            remedies_for(Code.MODEL_OUTPUT_ACTIVATION, "fix_output_activation")))
    return out


def outcome_findings(trained: Trained, data: Data) -> list[Finding]:
    """Stand-ins for the curve checks: a non-finite loss; validation accuracy at chance."""
    out: list[Finding] = []
    loss = trained.history.get("loss", [])
    if any(not math.isfinite(v) for v in loss):
        out.append(Finding(Code.TRAIN_DIVERGED, Severity.ERROR, 0.95, "Training diverged",
                           "The loss became non-finite.", {"loss": loss},
                           remedies_for(Code.TRAIN_DIVERGED, "lower_lr")))
    n = len(data.y_val)
    if n:
        chance = float(np.bincount(data.y_val).max() / n)
        band = chance + CHANCE_Z * math.sqrt(chance * (1 - chance) / n)
        if trained.val_accuracy <= band:
            out.append(Finding(
                Code.TRAIN_STUCK_AT_CHANCE, Severity.ERROR, 0.9, "Accuracy at chance",
                "Validation accuracy is no better than always guessing the largest class.",
                {"val_accuracy": trained.val_accuracy, "chance": chance, "band": band,
                 "z": CHANCE_Z},
                # the range test tells whether the LR is too high or too low
                remedies_for(Code.TRAIN_STUCK_AT_CHANCE, "lr_range_test", "raise_lr",
                             "lower_lr")))
    return out


def _facts(recipe: Recipe, data: Data, trained: Trained) -> Any:
    RunFacts = _optional("convergent.training.curves", "RunFacts")
    if RunFacts is None:
        return None
    counts = np.bincount(data.y_train, minlength=len(data.class_names))
    return RunFacts(
        history={k: list(v) for k, v in trained.history.items()},
        n_classes=len(data.class_names), majority_fraction=float(counts.max() / counts.sum()),
        n_train=len(data.y_train), n_val=len(data.y_val), batch_size=recipe.fit.batch_size,
        steps_per_epoch=data.steps_per_epoch, epochs_planned=recipe.fit.epochs,
        optimizer={"name": "sgd" if recipe.compile.optimizer == "momentum"
                   else recipe.compile.optimizer,
                   "learning_rate": recipe.compile.learning_rate,
                   "momentum": recipe.compile.momentum
                   if recipe.compile.optimizer == "momentum" else 0.0},
        regularization={"dropout": recipe.model.dropout > 0,
                        "weight_decay": recipe.model.l2 > 0 or recipe.compile.optimizer == "adamw",
                        "augmentation": bool(recipe.data.augment),
                        "n_params": int(trained.model.count_params())})


def diagnose_run(recipe: Recipe, data: Data, trained: Trained, probes: bool = False,
                 probe_budget_s: float = 20.0) -> tuple[list[Finding], dict[str, Any]]:
    """Findings about one trained recipe and the metrics behind them.

    Args:
        recipe: what was trained.
        data: its data.
        trained: the result of ``train``.
        probes: also run ``convergent.diagnose`` probes on a fresh model (costs time).
        probe_budget_s: their time budget.
    """
    n_classes = len(data.class_names)
    findings = recipe_findings(recipe, n_classes)
    metrics: dict[str, Any] = {"sources": ["recipe"]}
    check_arrays = _optional("convergent.data.arrays", "check_arrays")
    if check_arrays is not None:
        xs = as_network_sees(recipe, data.x_train[:ARRAY_SAMPLE], data)
        xv = as_network_sees(recipe, data.x_val[:ARRAY_SAMPLE], data) if len(data.x_val) \
            else None
        arr = check_arrays(xs, data.y_train[:ARRAY_SAMPLE], xv,
                           data.y_val[:ARRAY_SAMPLE] if xv is not None else None)
        # the trainer's split is shuffled and stratified; imbalance handled by balance
        findings += [f for f in arr if not _addressed(recipe, f.code)]
        metrics["sources"].append("check_arrays")
    lint = _optional("convergent.model.lint", "lint")
    if lint is not None:
        try:
            findings += list(lint(trained.model, data.y_train).findings)
            metrics["sources"].append("lint")
        except Exception as e:  # noqa: BLE001 - another layer's failure must not stop repair
            metrics["lint_error"] = repr(e)
    facts = _facts(recipe, data, trained)
    if facts is not None:
        analyze_curves = _optional("convergent.training.curves", "analyze_curves")
        res = analyze_curves(facts)
        findings += [f for f in res.findings if not _addressed(recipe, f.code)]
        metrics["sources"].append("curves")
    else:
        findings += outcome_findings(trained, data)
        metrics["sources"].append("outcome")
    if probes:
        diag = _optional("convergent.training.diagnose", "diagnose")
        if diag is not None:
            from convergent.trainer.build import build_model, compile_model

            fresh = compile_model(build_model(recipe, data), recipe, data.steps_per_epoch)
            try:
                rep = diag(fresh, data.x_train, data.y_train,
                           validation_data=(data.x_val, data.y_val), budget_s=probe_budget_s)
                findings += list(rep.findings)
                metrics["probes"] = rep.metrics
                metrics["sources"].append("diagnose")
            except Exception as e:  # noqa: BLE001
                metrics["diagnose_error"] = repr(e)
    return findings, metrics


def _addressed(recipe: Recipe, code: Code) -> bool:
    """Codes the recipe already handles, so a data fact is no longer a problem."""
    d = recipe.data
    return ((code is Code.DATA_IMBALANCE and d.balance != "none")
            or (code is Code.DATA_SORTED_SPLIT and d.shuffle)
            or (code is Code.TRAIN_NO_REGULARIZATION and bool(d.augment)
                and recipe.model.dropout > 0))
