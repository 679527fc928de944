"""Findings, severities and the ranked report: the plain data every layer produces.

The set of codes is the public contract of ``shared/findings.md``; ``tests/test_findings.py``
keeps this enum and that document equal.

Example:
    >>> f = Finding(Code.DATA_IMBALANCE, Severity.WARNING, 0.9, "Classes are imbalanced",
    ...             "The largest class has 20x the images of the smallest.", {"ratio": 20.0})
    >>> Report([f], command="scan").findings[0].code is Code.DATA_IMBALANCE
    True
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1


class Severity(str, Enum):
    """How bad a finding is: error = cannot learn as is; warning = learns worse; info = advice."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "info": 2}[self.value]


class Code(str, Enum):
    """Every finding code (see ``shared/findings.md``); never rename one."""

    # data
    DATA_CORRUPT = "DATA_CORRUPT"
    DATA_EMPTY_CLASS = "DATA_EMPTY_CLASS"
    DATA_TOO_FEW = "DATA_TOO_FEW"
    DATA_IMBALANCE = "DATA_IMBALANCE"
    DATA_UNNORMALIZED = "DATA_UNNORMALIZED"
    DATA_INCONSISTENT_RANGE = "DATA_INCONSISTENT_RANGE"
    DATA_NONFINITE = "DATA_NONFINITE"
    DATA_LABEL_NOISE = "DATA_LABEL_NOISE"
    DATA_LABELS_MISALIGNED = "DATA_LABELS_MISALIGNED"
    DATA_DUPLICATES = "DATA_DUPLICATES"
    DATA_LEAKAGE = "DATA_LEAKAGE"
    DATA_DARK = "DATA_DARK"
    DATA_BRIGHT = "DATA_BRIGHT"
    DATA_LOW_CONTRAST = "DATA_LOW_CONTRAST"
    DATA_BLURRY = "DATA_BLURRY"
    DATA_ODD_SIZE = "DATA_ODD_SIZE"
    DATA_GRAYSCALE_AS_RGB = "DATA_GRAYSCALE_AS_RGB"
    DATA_LOW_VARIETY = "DATA_LOW_VARIETY"
    DATA_OUTLIER = "DATA_OUTLIER"
    DATA_SORTED_SPLIT = "DATA_SORTED_SPLIT"
    # model
    MODEL_OUTPUT_ACTIVATION = "MODEL_OUTPUT_ACTIVATION"
    MODEL_OUTPUT_UNITS = "MODEL_OUTPUT_UNITS"
    MODEL_LOSS_MISMATCH = "MODEL_LOSS_MISMATCH"
    MODEL_BOTTLENECK = "MODEL_BOTTLENECK"
    MODEL_OVER_POOLING = "MODEL_OVER_POOLING"
    MODEL_TOO_SMALL = "MODEL_TOO_SMALL"
    MODEL_TOO_LARGE = "MODEL_TOO_LARGE"
    MODEL_BAD_INIT = "MODEL_BAD_INIT"
    MODEL_SATURATING_ACTIVATION = "MODEL_SATURATING_ACTIVATION"
    MODEL_FROZEN = "MODEL_FROZEN"
    MODEL_NO_NORMALIZATION_LAYER = "MODEL_NO_NORMALIZATION_LAYER"
    MODEL_NO_NONLINEARITY = "MODEL_NO_NONLINEARITY"
    MODEL_EXCESSIVE_DROPOUT = "MODEL_EXCESSIVE_DROPOUT"
    # training
    TRAIN_LR_TOO_HIGH = "TRAIN_LR_TOO_HIGH"
    TRAIN_LR_TOO_LOW = "TRAIN_LR_TOO_LOW"
    TRAIN_DIVERGED = "TRAIN_DIVERGED"
    TRAIN_VANISHING_GRADIENTS = "TRAIN_VANISHING_GRADIENTS"
    TRAIN_EXPLODING_GRADIENTS = "TRAIN_EXPLODING_GRADIENTS"
    TRAIN_DYING_RELU = "TRAIN_DYING_RELU"
    TRAIN_STUCK_AT_CHANCE = "TRAIN_STUCK_AT_CHANCE"
    TRAIN_OVERFITTING = "TRAIN_OVERFITTING"
    TRAIN_UNDERFITTING = "TRAIN_UNDERFITTING"
    TRAIN_OSCILLATION = "TRAIN_OSCILLATION"
    TRAIN_BATCH_SIZE = "TRAIN_BATCH_SIZE"
    TRAIN_OPTIMIZER = "TRAIN_OPTIMIZER"
    TRAIN_NO_REGULARIZATION = "TRAIN_NO_REGULARIZATION"

    @property
    def family(self) -> str:
        """``data``, ``model`` or ``training``."""
        return {"DATA": "data", "MODEL": "model", "TRAIN": "training"}[self.value.split("_")[0]]


# Ranking: what to fix first. A finding is a *symptom* when it is what a learner sees
# (loss NaN, accuracy at chance, curves apart) and usually follows from a cause elsewhere;
# *fatal* causes make learning impossible whatever else is right. Order: causes before
# symptoms (at error/warning severity); among causes, what the data and the model are
# (static facts, measured directly) before training settings (inferred from the run: a
# learning rate that blows up on raw 0-255 pixels is the reaction, the pixels the cause),
# and image-quality findings (some dark, blurry, duplicate ... images) after both;
# symptoms in causal tiers (SYMPTOM_TIER); then severity, then fatal before other
# causes, then confidence. Info findings are advice and come last.
SYMPTOMS: frozenset[Code] = frozenset({
    Code.TRAIN_DIVERGED, Code.TRAIN_EXPLODING_GRADIENTS, Code.TRAIN_VANISHING_GRADIENTS,
    Code.TRAIN_DYING_RELU, Code.TRAIN_STUCK_AT_CHANCE, Code.TRAIN_OVERFITTING,
    Code.TRAIN_UNDERFITTING, Code.TRAIN_OSCILLATION,
})
# Image-quality findings describe some of the images; they cost accuracy in proportion to
# their share but do not stop a run from converging, so they rank after the other causes.
QUALITY: frozenset[Code] = frozenset({
    Code.DATA_DARK, Code.DATA_BRIGHT, Code.DATA_LOW_CONTRAST, Code.DATA_BLURRY,
    Code.DATA_OUTLIER, Code.DATA_DUPLICATES, Code.DATA_ODD_SIZE, Code.DATA_GRAYSCALE_AS_RGB,
    Code.DATA_LOW_VARIETY,
})
# Fatal causes in the order one explains the next: NaN labels empty the classes they
# belonged to and crash the loss; the loss decides what the output layer must be (units,
# activation), so a wrong loss comes before the output it mismatches.
FATAL_CAUSES: tuple[Code, ...] = (
    Code.DATA_NONFINITE, Code.DATA_LABELS_MISALIGNED, Code.DATA_EMPTY_CLASS,
    Code.MODEL_LOSS_MISMATCH, Code.MODEL_OUTPUT_UNITS, Code.MODEL_OUTPUT_ACTIVATION,
    Code.MODEL_FROZEN, Code.MODEL_NO_NONLINEARITY,
)
# Other causes where one subsumes the other, first the one to fix: a few small classes
# beside large ones are the tail of an imbalance, which its remedies (class weights,
# oversampling) address, while "too few" asks for more data overall.
PRECEDENCE: tuple[Code, ...] = FATAL_CAUSES + (Code.DATA_IMBALANCE, Code.DATA_TOO_FEW)
# Symptoms in tiers, the mechanism before what it produces whatever their severities.
# Steps too large first: gradients that explode make the loss NaN (Pascanu et al. 2013),
# steps that overshoot make it swing, and such steps kill ReLUs ("a too-high learning
# rate can kill 40 % of your network", Karpathy, CS231n notes). Dead units, vanished
# gradients and accuracy at chance come next, ordered by severity among themselves: each
# can follow from the others (dead units pass no gradient; a run with nothing to learn,
# e.g. uniform targets, lets its units die). Over- and underfitting describe runs that
# learn.
SYMPTOM_TIER: dict[Code, int] = {
    Code.TRAIN_EXPLODING_GRADIENTS: 0, Code.TRAIN_DIVERGED: 1, Code.TRAIN_OSCILLATION: 1,
    Code.TRAIN_DYING_RELU: 2, Code.TRAIN_VANISHING_GRADIENTS: 2,
    Code.TRAIN_STUCK_AT_CHANCE: 2, Code.TRAIN_OVERFITTING: 3, Code.TRAIN_UNDERFITTING: 3,
}
assert set(SYMPTOM_TIER) == SYMPTOMS
# A symptom measured before the first update (dead ReLUs or vanishing gradients at step
# 0) is a property of the model as built, not a reaction to training: its finding sets
# ``evidence["at_init"]`` and ranks as a cause.
AT_INIT = "at_init"


def is_symptom(f: Finding) -> bool:
    """A symptom, unless measured before training moved the weights (``AT_INIT``)."""
    return f.code in SYMPTOMS and not f.evidence.get(AT_INIT)


def is_quality(f: Finding) -> bool:
    """Image-quality findings, and leakage below an error: a minority of leaked images
    overstates validation accuracy by at most their share, it does not stop learning."""
    return f.code in QUALITY or (f.code is Code.DATA_LEAKAGE
                                 and f.severity is not Severity.ERROR)


@dataclass(frozen=True)
class Remedy:
    """A fix a finding suggests: an id from ``remedies/``, a one-line summary, the code."""

    id: str
    summary: str
    code: str = ""


@dataclass(frozen=True)
class Finding:
    """One problem, with the measured evidence and the remedies that fix it (best first)."""

    code: Code
    severity: Severity
    confidence: float
    title: str
    explanation: str
    evidence: dict[str, Any] = field(default_factory=dict)
    remedies: tuple[Remedy, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "code", Code(self.code))
        object.__setattr__(self, "severity", Severity(self.severity))
        object.__setattr__(self, "remedies", tuple(
            r if isinstance(r, Remedy) else Remedy(**r) for r in self.remedies))
        if not 0.0 <= float(self.confidence) <= 1.0:
            raise ValueError(f"confidence must be in [0, 1]; received {self.confidence!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code.value,
            "severity": self.severity.value,
            "confidence": round(float(self.confidence), 4),
            "title": self.title,
            "explanation": self.explanation,
            "evidence": _jsonable(self.evidence),
            "remedies": [asdict(r) for r in self.remedies],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        return cls(d["code"], d["severity"], d["confidence"], d["title"], d["explanation"],
                   d.get("evidence", {}), tuple(Remedy(**r) for r in d.get("remedies", [])))


def rank_key(f: Finding) -> tuple:
    """Sort key putting the finding to fix first at the front (see module comment)."""
    return (
        f.severity is Severity.INFO,
        is_symptom(f),
        is_quality(f),
        f.code.family == "training",
        SYMPTOM_TIER[f.code] if is_symptom(f) else -1,
        f.severity.rank,
        f.code not in FATAL_CAUSES,
        PRECEDENCE.index(f.code) if f.code in PRECEDENCE else len(PRECEDENCE),
        -float(f.confidence),
        f.code.value,
    )


def rank(findings: list[Finding]) -> list[Finding]:
    """Findings ordered root cause first; one finding per code (the most severe, surest)."""
    best: dict[Code, Finding] = {}
    for f in sorted(findings, key=rank_key):
        best.setdefault(f.code, f)
    return sorted(best.values(), key=rank_key)


@dataclass
class Report:
    """The result of any command: ranked findings plus the metrics behind them."""

    findings: list[Finding] = field(default_factory=list)
    command: str = ""
    subject: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.findings = rank(list(self.findings))

    @property
    def healthy(self) -> bool:
        """True when no finding is an error or warning."""
        return all(f.severity is Severity.INFO for f in self.findings)

    @property
    def has_errors(self) -> bool:
        return any(f.severity is Severity.ERROR for f in self.findings)

    @property
    def codes(self) -> list[str]:
        return [f.code.value for f in self.findings]

    def add(self, *findings: Finding) -> None:
        self.findings = rank(self.findings + list(findings))

    def exit_code(self) -> int:
        """0 healthy or only warnings/info, 1 when an error finding is present."""
        return 1 if self.has_errors else 0

    def to_dict(self) -> dict[str, Any]:
        from convergent import __version__

        return {
            "version": SCHEMA_VERSION,
            "tool": f"convergent {__version__}",
            "command": self.command,
            "subject": self.subject,
            "findings": [f.to_dict() for f in self.findings],
            "metrics": _jsonable(self.metrics),
        }

    def to_json(self, path: str | Path | None = None, indent: int | None = 2) -> str:
        """The version-1 JSON of ``shared/design.md``; written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    @classmethod
    def from_json(cls, text: str) -> Report:
        d = json.loads(text)
        if d.get("version") != SCHEMA_VERSION:
            raise ValueError(
                f"unsupported report version {d.get('version')!r}; this convergent reads "
                f"version {SCHEMA_VERSION}")
        return cls([Finding.from_dict(f) for f in d["findings"]], d.get("command", ""),
                   d.get("subject", ""), d.get("metrics", {}))

    def to_html(self, path: str | Path) -> Path:
        """Write a self-contained HTML report and return its path."""
        from convergent.report.html import write_html

        return write_html(self, Path(path))


def _jsonable(obj: Any) -> Any:
    """Turn numpy scalars/arrays, paths, enums and non-finite floats into plain JSON values."""
    import math

    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return obj.as_posix()
    if hasattr(obj, "tolist"):  # numpy arrays and scalars
        return _jsonable(obj.tolist())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else str(obj)
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    return str(obj)
