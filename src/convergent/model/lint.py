"""Static lint of a built (ideally compiled) Keras 3 model, and of a saved ``.keras`` file.

Example:
    >>> import keras
    >>> m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
    ...                       keras.layers.Dense(3)])
    >>> m.compile("adam", "sparse_categorical_crossentropy")
    >>> lint(m, n_classes=3).codes
    ['MODEL_OUTPUT_ACTIVATION', 'MODEL_TOO_SMALL']
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from convergent.errors import BadInputError
from convergent.findings import Code, Finding, Report, Severity
from convergent.model.facts import untracked_variables
from convergent.remedies.catalog import remedies_for

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def lint(model: Any, y: Any = None, x: Any = None, n_classes: int | None = None,
         n_samples: int | None = None,
         params: Mapping[str, Mapping[str, Any]] | None = None) -> Report:
    """Static checks of a Keras 3 model (Sequential, functional or subclassed).

    Args:
        model: a built Keras model; compiled for the output/loss checks.
        y: training labels (integers or one-hot), to check the loss and output width.
        x: training inputs; builds an unbuilt model and gives the sample count.
        n_classes: number of classes when ``y`` is not given.
        n_samples: number of training samples when neither ``x`` nor ``y`` is given.
        params: threshold overrides, ``{check_name: {param: value}}``.

    Returns:
        A Report (command ``lint``); ``metrics["skipped"]`` says which checks did not run
        and why.

    Raises:
        BadInputError: not a Keras model, or unbuilt with no ``x`` to build it.

    Example:
        >>> report = lint(model, y=y_train)            # doctest: +SKIP
    """
    from convergent.model.checks import LINT, LintContext
    from convergent.model.facts import label_facts, model_facts

    if not hasattr(model, "layers") or not hasattr(model, "weights"):
        raise BadInputError(f"expected a keras.Model; received {type(model).__name__}")
    untracked = untracked_variables(model) if getattr(model, "built", False) else []
    if untracked and not model.weights:
        return Report([_untracked_finding(untracked)], command="lint", subject=model.name,
                      metrics={"skipped": {"all": "the model has no Keras weights: only the "
                                           "untracked-variable check ran"}})
    if not (getattr(model, "built", False) and model.weights):
        if x is None:
            raise BadInputError(
                f"model {model.name!r} is not built, so it has no layers' weights to check; "
                "call model.build((None, H, W, C)) or model(x[:1]) first, or pass x=")
        try:
            model(np.asarray(x[:1]))
        except Exception as e:
            raise BadInputError(f"model {model.name!r} is not built and calling it on x[:1] "
                                f"failed: {type(e).__name__}: {e}") from e
    facts = model_facts(model)
    labels = label_facts(y, n_classes) if y is not None else None
    C = n_classes if n_classes is not None else (labels or {}).get("n_classes")
    N = n_samples
    if N is None and y is not None:
        N = len(y)
    if N is None and x is not None:
        N = len(x)
    ctx = LintContext(facts=facts, n_classes=C, labels=labels, n_samples=N)
    if not facts.compiled:
        ctx.skipped["compile"] = ("model is not compiled: output activation and loss checks "
                                  "skipped; compile it (or save it compiled) to run them")
    if facts.n_outputs > 1:
        ctx.skipped["outputs"] = (f"model has {facts.n_outputs} outputs: output and loss checks "
                                  "cover single-output classifiers only")
    if facts.input_shape is not None and len(facts.input_shape) != 4:
        ctx.skipped["input"] = (f"input shape {facts.input_shape} is not an image batch "
                                "(N, H, W, C): image-specific checks skipped")
    findings = LINT.run(ctx, overrides=params)
    if untracked:
        findings.append(_untracked_finding(untracked))
    metrics = {
        "model": {"name": facts.name, "style": facts.style, "params": facts.n_params,
                  "trainable_params": facts.n_trainable, "layers": len(facts.layers),
                  "weight_layers": len(facts.weight_layers), "input_shape": facts.input_shape,
                  "output": vars(facts.output) if facts.output else None,
                  "loss": vars(facts.loss), "optimizer": facts.optimizer,
                  "learning_rate": facts.learning_rate, "backend": facts.backend},
        "n_classes": C, "n_samples": N, "skipped": dict(ctx.skipped),
    }
    return Report(findings, command="lint", subject=facts.name, metrics=metrics)


def _untracked_finding(untracked: list[str]) -> Finding:
    return Finding(
        Code.MODEL_FROZEN, Severity.ERROR, 0.9, "Layer variables Keras does not track",
        f"{len(untracked)} variable(s) were created as plain backend variables (e.g. "
        "tf.Variable in build()), which Keras 3 layers do not track: they are not in "
        "model.trainable_weights, so the optimizer never updates them and they keep their "
        "initial random values. Create them with self.add_weight(...).",
        {"untracked": untracked[:20], "n_untracked": len(untracked)},
        remedies_for(Code.MODEL_FROZEN, "track_weights"))


def count_class_folders(data: str | Path) -> tuple[int, int]:
    """Class subfolders and image files in a class-per-folder directory (no TF import)."""
    root = Path(data)
    if not root.is_dir():
        raise BadInputError(f"--data {str(data)!r} is not a directory; expected one subfolder "
                            "per class")
    classes = [d for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(".")]
    if not classes:
        raise BadInputError(f"--data {str(data)!r} has no class subfolders")
    n = sum(1 for d in classes for p in d.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    return len(classes), n


def lint_file(path: str | Path, data: str | Path | None = None, classes: int | None = None,
              params: Mapping[str, Mapping[str, Any]] | None = None) -> Report:
    """Lint a saved model file (``.keras`` or ``.h5``); the CLI's ``convergent lint``.

    Args:
        path: the saved model.
        data: class-per-folder image directory the model is meant for (gives the class and
            sample counts).
        classes: number of classes (overrides the count from ``data``).
        params: threshold overrides.

    Example:
        >>> lint_file("model.keras", classes=10)     # doctest: +SKIP
    """
    p = Path(path)
    if not p.exists():
        raise BadInputError(f"model file {str(path)!r} does not exist")
    if p.suffix not in (".keras", ".h5", ".hdf5"):
        raise BadInputError(f"expected a .keras or .h5 file; received {p.name!r}")
    n_classes, n_samples = classes, None
    if data is not None:
        found, n_samples = count_class_folders(data)
        n_classes = classes if classes is not None else found
    import keras  # only now: the folder count above must not pay for TensorFlow

    try:
        model = keras.saving.load_model(p, compile=True, safe_mode=True)
    except Exception as e:
        raise BadInputError(f"could not load {p.name!r}: {type(e).__name__}: {e}. Custom layers "
                            "must be registered with keras.saving.register_keras_serializable")
    report = lint(model, n_classes=n_classes, n_samples=n_samples, params=params)
    report.subject = p.name
    return report
