"""convergent: why is my Keras image classifier not converging, and what do I change?

Public API (imported lazily, so ``import convergent`` does not load TensorFlow)::

    convergent.scan("data/")                      # audit an image folder or arrays
    convergent.lint(model)                        # static checks of a built model
    convergent.diagnose(model, x, y)              # cheap probes on a copy of the model
    model.fit(..., callbacks=[convergent.Monitor()])
    convergent.analyze("history.csv")             # curves from a log, after the fact
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Finding": "convergent.findings",
    "Report": "convergent.findings",
    "Severity": "convergent.findings",
    "Code": "convergent.findings",
    "Remedy": "convergent.findings",
    "ConvergentError": "convergent.errors",
    "BadInputError": "convergent.errors",
    "scan": "convergent.data.scan",
    "lint": "convergent.model.lint",
    "diagnose": "convergent.training.diagnose",
    "Monitor": "convergent.training.monitor",
    "analyze": "convergent.training.analyze",
    "fit": "convergent.trainer.fit",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'convergent' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
