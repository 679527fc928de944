"""The fault benchmark's scorer (pure parts on fake reports) and the case set's integrity."""

import json
import py_compile
import re
import tokenize
from pathlib import Path

import pytest

from benchmarks.faults import scorer
from benchmarks.faults.folders import BENCH_FOLDERS, PROBLEMS
from benchmarks.faults.scorer import (
    Outcome,
    classify_failure,
    data_metrics,
    diagnosis_time,
    folder_counts,
    load_manifest,
    parse_report,
    planned_length,
    repair_success,
    script_metrics,
    summary_line,
    time_to_diagnosis,
)
from convergent.findings import SYMPTOMS as SYMPTOM_CODES, Code

MANIFEST = load_manifest()
CASES = MANIFEST["cases"]
SYMPTOMS = {c.value for c in SYMPTOM_CODES}


def _finding(code, severity="error", **evidence):
    return {"code": code, "severity": severity, "confidence": 0.9, "title": "", "explanation": "",
            "evidence": evidence, "remedies": []}


# ---------------------------------------------------------------- parsing


def test_parse_report_keeps_order_and_metrics():
    text = json.dumps({"version": 1, "findings": [_finding("TRAIN_LR_TOO_HIGH"),
                                                  _finding("TRAIN_DIVERGED"), {"junk": 1}],
                       "metrics": {"repair": {"success": True}}})
    findings, metrics = parse_report(text)
    assert [f["code"] for f in findings] == ["TRAIN_LR_TOO_HIGH", "TRAIN_DIVERGED"]
    assert metrics["repair"]["success"] is True


def test_parse_report_rejects_bad_json():
    with pytest.raises(ValueError):
        parse_report("{not json")
    with pytest.raises(TypeError):
        parse_report('{"findings": 3}')


@pytest.mark.parametrize(("code", "stderr", "status"), [
    (2, "error: `convergent run` is not built yet in this version", "not built"),
    (None, "", "timeout"),
    (-9, "Killed", "crash"),
    (2, "error: bad input", "crash"),
    (0, "", "no report"),
], ids=["not-built", "timeout", "killed", "usage-error", "exit0-no-json"])
def test_classify_failure(code, stderr, status):
    assert classify_failure(code, stderr) == status


# ---------------------------------------------------------------- script metrics


FAKE = {"cases": {
    "a": {"root": "TRAIN_LR_TOO_HIGH", "also": ["TRAIN_DIVERGED"], "healthy": False},
    "b": {"root": "MODEL_FROZEN", "also": [], "healthy": False},
    "c": {"root": "DATA_UNNORMALIZED", "also": [], "healthy": False},
    "h1": {"root": None, "also": [], "healthy": True},
    "h2": {"root": None, "also": [], "healthy": True},
    "h3": {"root": None, "also": [], "healthy": True},
}}


def _out(name, codes, status="ok", severity="error"):
    return Outcome(name, status, 1.0, [_finding(c, severity) for c in codes])


def test_script_metrics_arithmetic():
    outcomes = {
        "a": _out("a", ["TRAIN_LR_TOO_HIGH", "TRAIN_DIVERGED"]),     # top1 and top3
        "b": _out("b", ["TRAIN_STUCK_AT_CHANCE", "TRAIN_OPTIMIZER", "MODEL_FROZEN"]),  # top3
        "c": _out("c", [], status="not built"),                       # miss
        "h1": _out("h1", ["TRAIN_UNDERFITTING"], severity="info"),    # advice is no alarm
        "h2": _out("h2", ["MODEL_TOO_LARGE"], severity="warning"),    # false alarm
        "h3": _out("h3", [], status="crash"),                         # not judged
    }
    m = script_metrics(FAKE, outcomes)
    assert (m["faulty"], m["top1"], m["top3"]) == (3, 1, 2)
    assert (m["healthy"], m["healthy_judged"], m["false_alarms"]) == (3, 2, 1)
    assert m["false_alarm_cases"] == ["h2"]
    pc = m["per_code"]
    assert pc["TRAIN_LR_TOO_HIGH"] == {"cases": 1, "found": 1, "reported": 1, "correct": 1}
    assert pc["TRAIN_DIVERGED"] == {"cases": 0, "found": 0, "reported": 1, "correct": 1}
    assert pc["TRAIN_STUCK_AT_CHANCE"]["correct"] == 0
    assert pc["DATA_UNNORMALIZED"] == {"cases": 1, "found": 0, "reported": 0, "correct": 0}
    assert pc["MODEL_TOO_LARGE"] == {"cases": 0, "found": 0, "reported": 1, "correct": 0}
    line = summary_line(m, None, "na", 12.3, folder_alarms=(1, 2))
    assert line == ("top1=0.33 top3=0.67 false_alarms=2/4 data_recall=na data_precision=na "
                    "repair=na diagnosis_20pct=na seconds=12")


def test_symptom_of_a_cause_counts_when_reported_anywhere():
    cases = {"cases": {
        "a": {"root": "TRAIN_LR_TOO_HIGH", "symptom": "TRAIN_DIVERGED", "also": [],
              "healthy": False},
        "b": {"root": "MODEL_BAD_INIT", "symptom": "TRAIN_DIVERGED", "also": [],
              "healthy": False}}}
    outcomes = {  # a: the symptom 4th (below the top 3); b: never reported
        "a": _out("a", ["TRAIN_LR_TOO_HIGH", "DATA_TOO_FEW", "MODEL_TOO_LARGE",
                        "TRAIN_DIVERGED"]),
        "b": _out("b", ["MODEL_BAD_INIT"])}
    row = script_metrics(cases, outcomes)["per_code"]["TRAIN_DIVERGED"]
    assert (row["symptom_cases"], row["symptom_found"], row["cases"]) == (2, 1, 0)


def test_summary_line_is_machine_readable():
    m = script_metrics(FAKE, {})
    line = summary_line(m, {"recall": 0.5, "precision": 1.0}, "0.25", 3.0, diagnosis=0.5)
    assert re.fullmatch(r"top1=\S+ top3=\S+ false_alarms=\d+/\d+ data_recall=\S+ "
                        r"data_precision=\S+ repair=\S+ diagnosis_20pct=\S+ seconds=\d+", line)
    assert " diagnosis_20pct=0.50 seconds=3" in line


# ---------------------------------------------------------------- time to diagnosis


def _fit(epochs=10, n_train=1000, batch_size=100, **args):
    return {"args": {"epochs": epochs, "batch_size": batch_size, **args},
            "facts": {"n_train": n_train, "batch_size": batch_size}}


def _timed(name, findings, fits=None, finding_epochs=None):
    return Outcome(name, "ok", 1.0, findings, {"fits": [_fit()] if fits is None else fits,
                                               "finding_epochs": finding_epochs or {}})


def test_planned_length():
    assert planned_length(_fit(10)) == (10, 100)                     # ceil(1000/100) per epoch
    assert planned_length(_fit(10, n_train=1050)) == (10, 110)       # last batch is partial
    assert planned_length(_fit(10, steps_per_epoch=7)) == (10, 70)
    assert planned_length(_fit(20, initial_epoch=15)) == (5, 50)
    assert planned_length({"args": {"epochs": None}, "facts": {}}) == (1, None)  # Keras default
    assert planned_length({}) == (None, None)                        # no fit recorded


@pytest.mark.parametrize(("evidence", "finding_epochs", "expected"), [
    ({"began_epoch": 0}, {}, ("epoch", True)),
    ({"began_epoch": 1}, {}, ("epoch", True)),      # 1 < ceil(0.2 * 10) = 2
    ({"began_epoch": 2}, {}, ("epoch", False)),
    ({"began_epoch": 1, "began_step": 150}, {}, ("epoch", True)),  # the epoch wins
    ({"began_epoch": None, "began_step": 19}, {}, ("step", True)),  # 19 < 20 of 100 steps
    ({"began_epoch": None, "began_step": 20}, {}, ("step", False)),
    ({"began_epoch": None}, {"X": 1}, ("epoch", True)),   # onset left empty: finding_epochs
    ({"began_epoch": None}, {}, ("unknown", None)),
    ({}, {}, ("pre-fit", True)),                          # lint / data check before fit
    ({"source": "crash", "files": ["a.png"]}, {}, ("pre-fit", True)),
], ids=["epoch0", "epoch1", "epoch2", "epoch-and-step", "step19", "step20",
        "finding-epochs", "unknown", "pre-fit", "crash"])
def test_diagnosis_time_sources(evidence, finding_epochs, expected):
    row = diagnosis_time(_timed("a", [_finding("X", **evidence)],
                                finding_epochs=finding_epochs), "X")
    assert (row["by"], row["early"]) == expected
    assert (row["planned_epochs"], row["planned_steps"]) == (10, 100)


def test_diagnosis_time_rounds_the_cut_up_and_picks_the_tagged_fit():
    # 15 planned epochs: ceil(0.2 * 15) = 3 -> epochs 0-2 are early (no float rounding to 4)
    assert diagnosis_time(_timed("a", [_finding("X", began_epoch=2)], [_fit(15)]), "X")["early"]
    assert not diagnosis_time(_timed("a", [_finding("X", began_epoch=3)], [_fit(15)]),
                              "X")["early"]
    # 2 planned epochs: only epoch 0 is within the first 20 %
    assert not diagnosis_time(_timed("a", [_finding("X", began_epoch=1)], [_fit(2)]),
                              "X")["early"]
    # several fits: the finding's 1-based "fit" tag picks the planned length
    two = [_fit(2), _fit(50)]
    assert diagnosis_time(_timed("a", [_finding("X", began_epoch=4, fit=2)], two), "X")["early"]
    assert not diagnosis_time(_timed("a", [_finding("X", began_epoch=4)], two), "X")["early"]
    # no fit recorded: a later epoch cannot be judged, epoch 0 is early anyway
    assert diagnosis_time(_timed("a", [_finding("X", began_epoch=3)], []), "X")["early"] is None
    assert diagnosis_time(_timed("a", [_finding("X", began_epoch=0)], []), "X")["early"]


def test_time_to_diagnosis_counts_top3_faulty_cases_only():
    outcomes = {
        "a": _timed("a", [_finding("TRAIN_DIVERGED", began_epoch=0),
                          _finding("TRAIN_LR_TOO_HIGH", began_epoch=5)]),   # top 3, late
        "b": _timed("b", [_finding("MODEL_FROZEN")]),                       # top 1, pre-fit
        "c": _timed("c", [_finding("TRAIN_STUCK_AT_CHANCE"), _finding("TRAIN_OPTIMIZER"),
                          _finding("X"), _finding("DATA_UNNORMALIZED")]),   # not top 3
        "h1": _timed("h1", [_finding("TRAIN_OVERFITTING", began_epoch=9)]),  # healthy
    }
    td = time_to_diagnosis(FAKE, outcomes)
    assert (td["judged"], td["early"], td["share"]) == (2, 1, 0.5)
    assert td["late"] == ["a"] and td["unknown"] == []
    assert set(td["per_case"]) == {"a", "b"}
    assert td["per_case"]["a"]["epoch"] == 5 and td["per_case"]["b"]["by"] == "pre-fit"
    assert time_to_diagnosis(FAKE, {})["share"] is None


def test_repair_success_prefers_the_reports_own_verdict():
    assert repair_success(Outcome("a", "ok", 1, [], {"repair": {"success": True}}))
    assert not repair_success(Outcome("a", "ok", 1, [_finding("X")], {}))
    assert repair_success(Outcome("a", "ok", 1, [_finding("X", "info")], {}))
    assert not repair_success(Outcome("a", "not built", 1))


# ---------------------------------------------------------------- data metrics


TRUTH = {
    "ground_truth": {
        "DATA_DARK": ["0/001.png", "1/002.png", "2/003.png", "3/004.png"],
        "DATA_DUPLICATES": [["0/010.png", "0/011.png"], ["1/012.png", "1/013.png"]],
        "DATA_TOO_FEW": ["7"],
        "DATA_LOW_VARIETY": ["4"],
    },
    "acceptable": {"DATA_DUPLICATES": ["4/100.png", "4/101.png"], "DATA_ODD_SIZE": ["0/011.png"]},
}


def test_folder_counts_files_pairs_classes_and_acceptable():
    findings = [
        _finding("DATA_DARK", files=["0/001.png", "1/002.png", "2/003.png", "9/999.png"]),
        _finding("DATA_DUPLICATES", pairs=[["0/011.png", "0/010.png"], ["4/100.png", "4/101.png"],
                                           ["5/1.png", "5/2.png"]]),
        _finding("DATA_TOO_FEW", "warning", classes={"7": 3, "8": 9}),
        _finding("DATA_LOW_VARIETY", "warning", files=["4/100.png"]),
        _finding("DATA_ODD_SIZE", "warning", files=["0/011.png", "3/050.png"]),
        _finding("DATA_UNNORMALIZED", "warning"),  # not a folder code: ignored
    ]
    c = folder_counts(TRUTH, findings)
    assert c["DATA_DARK"] == {"tp": 3, "truth": 4, "pred": 4}
    assert c["DATA_DUPLICATES"] == {"tp": 1, "truth": 2, "pred": 2}  # acceptable pair not counted
    assert c["DATA_TOO_FEW"] == {"tp": 1, "truth": 1, "pred": 2}
    assert c["DATA_LOW_VARIETY"] == {"tp": 1, "truth": 1, "pred": 1}  # class from the file path
    assert c["DATA_ODD_SIZE"] == {"tp": 0, "truth": 0, "pred": 1}     # one acceptable, one FP
    assert "DATA_UNNORMALIZED" not in c
    dm = data_metrics({"f": c})
    assert dm["recall"] == pytest.approx(6 / 8) and dm["precision"] == pytest.approx(6 / 10)


def test_folder_counts_pairs_given_as_files_only():
    c = folder_counts(TRUTH, [_finding("DATA_DUPLICATES", files=["0/010.png", "0/011.png"])])
    assert c["DATA_DUPLICATES"] == {"tp": 1, "truth": 2, "pred": 1}


def test_no_report_means_zero_recall():
    dm = data_metrics({"f": folder_counts(TRUTH, [])})
    assert dm["recall"] == 0.0 and dm["precision"] == 0.0


# ---------------------------------------------------------------- the case set


CODES = {c.value for c in Code}


def test_manifest_matches_case_folders():
    on_disk = {p.name for p in scorer.CASES_DIR.iterdir() if (p / "train.py").exists()}
    assert on_disk == set(CASES)


def test_manifest_codes_exist_and_fields_are_complete():
    for name, case in CASES.items():
        assert set(case) >= {"root", "also", "repairable", "healthy", "source", "description"}
        assert case["healthy"] == (case["root"] is None), name
        assert {case["root"], *case["also"]} - {None} <= CODES, name
        if "symptom" in case:  # the symptom a root cause shows is also fair in the top 3
            assert case["symptom"] in SYMPTOMS and case["symptom"] in case["also"], name
            assert case["root"] not in SYMPTOMS, name
        assert case["source"].startswith("http"), name
    assert set(MANIFEST["subsets"]["fast"]) <= set(CASES)


def test_enough_cases_per_code():
    roots = [c["root"] for c in CASES.values() if c["root"]]
    assert len(roots) >= 40 and sum(c["healthy"] for c in CASES.values()) >= 8
    # a symptom code is exercised as the root of a case or as the symptom a cause shows
    shown = roots + [c["symptom"] for c in CASES.values() if c.get("symptom")]
    script_codes = CODES - set(PROBLEMS)  # folder problems are covered by the folders
    thin = {c: shown.count(c) for c in script_codes if shown.count(c) < 2}
    assert not thin, f"codes with fewer than 2 script cases: {thin}"
    in_folders = {c for f in BENCH_FOLDERS.values() for c in f["problems"]}
    assert set(PROBLEMS) <= in_folders


@pytest.mark.parametrize("name", sorted(CASES))
def test_case_compiles_and_has_no_comments(name, tmp_path):
    path = scorer.CASES_DIR / name / "train.py"
    py_compile.compile(str(path), cfile=str(tmp_path / "x.pyc"), doraise=True)
    with path.open("rb") as f:
        comments = [t.string for t in tokenize.tokenize(f.readline)
                    if t.type == tokenize.COMMENT]
    assert not comments, f"{name}: scripts carry no comments (the manifest describes them)"


# ---------------------------------------------------------------- end to end


TINY = """\
import keras
from convergent.datasets import load

keras.utils.set_random_seed(0)
x, y, names = load("digits")
x = x.reshape(len(x), -1).astype("float32") / 255.0
model = keras.Sequential([keras.Input(shape=(64,)), keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=2, batch_size=64, validation_split=0.2, verbose=0)
"""


def test_scorer_end_to_end_on_one_tiny_case(tmp_path, monkeypatch, capsys):
    cases = tmp_path / "cases"
    (cases / "tiny").mkdir(parents=True)
    (cases / "tiny" / "train.py").write_text(TINY)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"cases": {"tiny": {
        "root": None, "also": [], "repairable": False, "healthy": True, "source": "x",
        "description": "x"}}}))
    monkeypatch.setattr(scorer, "CASES_DIR", cases)
    monkeypatch.setattr(scorer, "MANIFEST", Path(manifest))
    out_json = tmp_path / "out.json"
    assert scorer.main(["--cases", "tiny", "--timeout", "60", "--json", str(out_json)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("top1=0.00 top3=0.00 false_alarms=") and "data_recall=na" in last
    assert "diagnosis_20pct=na seconds=" in last  # a healthy case alone: nothing to time
    doc = json.loads(out_json.read_text())
    assert doc["scripts"]["tiny"]["status"] in {
        "ok", "not built", "crash", "timeout", "no report"}
    assert doc["time_to_diagnosis"]["judged"] == 0
