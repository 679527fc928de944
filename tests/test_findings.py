import json
import re
from pathlib import Path

import pytest

from convergent.findings import Code, Finding, Remedy, Report, Severity, rank

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = [ROOT / "docs" / "findings.md", ROOT.parent / "shared" / "findings.md"]


def make(code, severity="warning", confidence=0.5):
    return Finding(code, severity, confidence, f"title {code}", "why", {"x": 1.5})


@pytest.mark.parametrize("doc", CONTRACTS, ids=["docs", "shared"])
def test_codes_equal_the_public_contract(doc):
    if not doc.exists():
        pytest.skip(f"{doc} is not beside this checkout")
    text = doc.read_text()
    documented = set(re.findall(r"\b((?:DATA|MODEL|TRAIN)_[A-Z_]+[A-Z])\b", text))
    assert documented == {c.value for c in Code}


def test_roundtrip_json_keeps_everything():
    f = Finding(Code.DATA_DARK, Severity.WARNING, 0.8, "Dark images", "Too dark.",
                {"files": ["a/1.png"], "threshold": 0.1, "nan": float("nan")},
                (Remedy("augment_brightness", "Add brightness jitter", "x = 1"),))
    r = Report([f], command="scan", subject="data/", metrics={"n": 3})
    back = Report.from_json(r.to_json())
    assert back.findings[0].code is Code.DATA_DARK
    assert back.findings[0].remedies[0].id == "augment_brightness"
    assert back.findings[0].evidence["files"] == ["a/1.png"]
    assert back.findings[0].evidence["nan"] == "nan"  # JSON has no NaN; kept as text
    d = json.loads(r.to_json())
    assert d["version"] == 1 and d["tool"].startswith("convergent ")
    assert set(d["findings"][0]) == {"code", "severity", "confidence", "title",
                                     "explanation", "evidence", "remedies"}


def test_from_json_rejects_other_versions():
    with pytest.raises(ValueError, match="version"):
        Report.from_json(json.dumps({"version": 2, "findings": []}))


def test_confidence_out_of_range_is_rejected():
    with pytest.raises(ValueError, match="confidence"):
        Finding(Code.DATA_DARK, Severity.INFO, 1.5, "t", "e")


@pytest.mark.parametrize(
    "codes, first",
    [
        ([("TRAIN_STUCK_AT_CHANCE", "error"), ("DATA_LABELS_MISALIGNED", "error")],
         "DATA_LABELS_MISALIGNED"),
        ([("TRAIN_STUCK_AT_CHANCE", "error"), ("DATA_UNNORMALIZED", "warning")],
         "DATA_UNNORMALIZED"),
        ([("TRAIN_DIVERGED", "error"), ("MODEL_NO_NORMALIZATION_LAYER", "info")],
         "TRAIN_DIVERGED"),
        ([("DATA_IMBALANCE", "warning"), ("MODEL_OUTPUT_UNITS", "error")],
         "MODEL_OUTPUT_UNITS"),
        ([("MODEL_TOO_LARGE", "error"), ("MODEL_LOSS_MISMATCH", "error")],
         "MODEL_LOSS_MISMATCH"),
        ([("TRAIN_LR_TOO_HIGH", "error"), ("DATA_UNNORMALIZED", "warning")],
         "DATA_UNNORMALIZED"),
        ([("TRAIN_NO_REGULARIZATION", "warning"), ("MODEL_TOO_LARGE", "warning")],
         "MODEL_TOO_LARGE"),
        ([("TRAIN_LR_TOO_HIGH", "error"), ("MODEL_NO_NORMALIZATION_LAYER", "info")],
         "TRAIN_LR_TOO_HIGH"),
        ([("DATA_DARK", "warning"), ("TRAIN_LR_TOO_HIGH", "error")], "TRAIN_LR_TOO_HIGH"),
        ([("DATA_DUPLICATES", "warning"), ("DATA_IMBALANCE", "warning")], "DATA_IMBALANCE"),
        ([("DATA_BLURRY", "warning"), ("TRAIN_STUCK_AT_CHANCE", "error")], "DATA_BLURRY"),
        ([("DATA_LEAKAGE", "warning"), ("MODEL_TOO_LARGE", "warning")], "MODEL_TOO_LARGE"),
        ([("DATA_LEAKAGE", "error"), ("TRAIN_NO_REGULARIZATION", "warning")],
         "DATA_LEAKAGE"),
        ([("DATA_EMPTY_CLASS", "error", 1.0), ("DATA_NONFINITE", "error", 0.9)],
         "DATA_NONFINITE"),
        ([("MODEL_OUTPUT_UNITS", "error", 0.95), ("MODEL_LOSS_MISMATCH", "error", 0.85)],
         "MODEL_LOSS_MISMATCH"),
        ([("DATA_TOO_FEW", "warning", 0.9), ("DATA_IMBALANCE", "warning", 0.8)],
         "DATA_IMBALANCE"),
    ],
    ids=["cause-before-symptom", "warning-cause-before-error-symptom",
         "info-last", "error-before-warning", "fatal-first", "data-before-training-setting",
         "model-before-training-setting", "training-cause-before-advice",
         "quality-after-training-cause", "quality-after-other-data-cause",
         "quality-before-symptom", "minor-leak-after-model-cause", "major-leak-is-a-cause",
         "nan-labels-before-the-class-they-empty", "loss-before-output-it-mismatches",
         "imbalance-before-its-small-classes"],
)
def test_ranking_puts_root_cause_first(codes, first):
    ranked = rank([make(*c) for c in codes])
    assert ranked[0].code.value == first


def test_symptom_present_at_init_ranks_as_a_cause():
    dead = Finding("TRAIN_DYING_RELU", "error", 0.8, "t", "e", {"at_init": True})
    low_lr = make("TRAIN_LR_TOO_LOW", "warning", 0.6)
    assert rank([low_lr, dead])[0].code.value == "TRAIN_DYING_RELU"
    later = Finding("TRAIN_DYING_RELU", "error", 0.8, "t", "e", {"at_init": False})
    assert rank([low_lr, later])[0].code.value == "TRAIN_LR_TOO_LOW"


@pytest.mark.parametrize("symptoms, first", [
    (["TRAIN_DIVERGED", "TRAIN_EXPLODING_GRADIENTS"], "TRAIN_EXPLODING_GRADIENTS"),
    (["TRAIN_DYING_RELU", "TRAIN_DIVERGED"], "TRAIN_DIVERGED"),
    (["TRAIN_STUCK_AT_CHANCE", "TRAIN_OSCILLATION"], "TRAIN_OSCILLATION"),
    (["TRAIN_OVERFITTING", "TRAIN_VANISHING_GRADIENTS"], "TRAIN_VANISHING_GRADIENTS"),
], ids=["explosion-before-nan", "big-step-before-dead-units", "swings-before-chance",
        "no-gradient-before-overfitting"])
def test_symptoms_rank_mechanism_before_outcome_whatever_the_severity(symptoms, first):
    outcome, mechanism = (make(symptoms[0], "error", 0.95), make(symptoms[1], "warning", 0.5))
    assert rank([outcome, mechanism])[0].code.value == first


def test_dead_units_and_chance_accuracy_rank_by_severity():
    # either can follow from the other: no tier between them
    for a, b in (("TRAIN_STUCK_AT_CHANCE", "TRAIN_DYING_RELU"),
                 ("TRAIN_DYING_RELU", "TRAIN_STUCK_AT_CHANCE")):
        assert rank([make(b, "warning", 0.9), make(a, "error", 0.5)])[0].code.value == a


def test_a_cause_still_outranks_every_symptom():
    ranked = rank([make("TRAIN_EXPLODING_GRADIENTS", "error", 0.9),
                   make("MODEL_BAD_INIT", "warning", 0.6)])
    assert [f.code.value for f in ranked] == ["MODEL_BAD_INIT", "TRAIN_EXPLODING_GRADIENTS"]


def test_rank_keeps_one_finding_per_code():
    ranked = rank([make("DATA_DARK", "info", 0.9), make("DATA_DARK", "warning", 0.2)])
    assert len(ranked) == 1 and ranked[0].severity is Severity.WARNING


def test_exit_code_and_health():
    assert Report([]).exit_code() == 0 and Report([]).healthy
    assert Report([make("DATA_DARK", "warning")]).exit_code() == 0
    assert Report([make("DATA_DARK", "error")]).exit_code() == 1


def test_code_family():
    assert Code.DATA_DARK.family == "data"
    assert Code.MODEL_FROZEN.family == "model"
    assert Code.TRAIN_DIVERGED.family == "training"


def test_html_report_is_written(tmp_path):
    r = Report([make("DATA_DARK")], command="scan", subject="x")
    out = r.to_html(tmp_path / "r.html")
    html = out.read_text()
    assert "DATA_DARK" in html and "<html" in html
