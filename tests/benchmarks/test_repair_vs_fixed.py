"""benchmarks/perf/repair_vs_fixed.py: its pure scoring on fake reports, and the fixed.py set."""

import json
import py_compile
import re
import tokenize
from dataclasses import asdict

from benchmarks.faults import scorer
from benchmarks.faults.scorer import load_manifest
from benchmarks.perf import repair_vs_fixed as rvf


def _step(after, healthy=False, kept=False, ended=0.0, before=None):
    return {"remedy": "lower_lr", "before": before or {}, "after": after, "healthy": healthy,
            "kept": kept, "ended": ended, "seconds": 1.0}


def _metrics(steps, healthy):
    return {"history": {"val_accuracy": [0.1, 0.12], "val_loss": [2.3, 2.2]},
            "repair": {"steps": steps, "healthy": healthy}}


FIRST = {"val_accuracy": 0.12, "val_loss": 2.2, "loss": 2.2}


def test_final_and_repair_accuracy():
    assert rvf.final_accuracy({"history": {"accuracy": [0.3, 0.5]}}) == 0.5
    assert rvf.final_accuracy({"history": {"val_accuracy": [0.4], "accuracy": [0.9]}}) == 0.4
    assert rvf.final_accuracy({}) is None
    m = _metrics([_step({"val_accuracy": 0.9, "val_loss": 0.3}, kept=True, before=FIRST),
                  _step({"val_accuracy": 0.8, "val_loss": 0.5}, healthy=True)], False)
    assert rvf.repair_result(m) == (0.9, False, 1)
    worse = _metrics([_step({"val_accuracy": 0.05, "val_loss": 9.0}, before=FIRST)], False)
    assert rvf.repair_result(worse) == (0.12, False, 0)  # nothing kept: the script's own fit
    assert rvf.repair_result(_metrics([], True)) == (0.12, True, 0)


def test_within_budget_counts_only_steps_ended_in_time():
    steps = [_step({"val_accuracy": 0.5, "val_loss": 1.0}, ended=110.0, before=FIRST),
             _step({"val_accuracy": 0.9, "val_loss": 0.2}, healthy=True, ended=150.0)]
    m = _metrics(steps, True)
    assert rvf.within_budget(m, start=100.0, budget=60.0) == (0.9, True, 2)
    assert rvf.within_budget(m, start=100.0, budget=30.0) == (0.5, False, 1)
    assert rvf.within_budget(m, start=100.0, budget=5.0) == (0.12, False, 0)
    assert rvf.step_span(m) == (109.0, 41.0)  # first step started at ended - seconds
    assert rvf.step_span(_metrics([], True)) == (None, 0.0)


def test_reaches_and_summary_line():
    assert rvf.reaches(0.88, 0.9) and not rvf.reaches(0.87, 0.9)
    assert rvf.case_seed("a", 0) == rvf.case_seed("a", 0) != rvf.case_seed("b", 0)
    assert not rvf.reaches(None, 0.9) and not rvf.reaches(0.9, None)
    a = rvf.Row("a", "TRAIN_LR_TOO_HIGH", plain_s=10.0, fixed_acc=0.9, repair_acc=0.89,
                repair_s=25.0, repair_healthy=True, random_acc=0.5)
    b = rvf.Row("b", "DATA_UNNORMALIZED", plain_s=10.0, fixed_acc=0.9, repair_acc=0.5,
                repair_s=40.0, random_acc=0.95, random_healthy=True)
    c = rvf.Row("c", "MODEL_BAD_INIT", notes=["repair: crash"])
    line = rvf.summary_line([a, b, c], 123.4)
    assert line == ("repair_vs_fixed cases=3 within_2pts=1/3 plain_within_2pts=0/3 "
                    "time_ratio_median=3.25 "
                    "time_ratio_le3=1/3 repair_healthy=1/3 random_healthy=1/3 "
                    "repair_reaches_fixed=1/3 random_reaches_fixed=1/3 "
                    "random_st_healthy=0/3 random_st_reaches_fixed=0/3 seconds=123")
    assert re.fullmatch(r"(\S+=\S+ ?)+", line.split(" ", 1)[1])
    assert "MODEL" in rvf.table([a, b, c]).splitlines()[3]


def test_table_from_a_saved_run(tmp_path, capsys):
    row = rvf.Row("a", "TRAIN_LR_TOO_HIGH", plain_s=10.0, plain_acc=0.1, fixed_acc=0.9,
                  repair_acc=0.9, repair_s=20.0)
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps({"rows": [dict(asdict(row), within=True)],
                                 "summary": rvf.summary_line([row], 42.0)}))
    assert rvf.main(["--table-from", str(saved)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == rvf.summary_line([row], 42.0) and out[1].startswith("a ")


def test_fixed_scripts_cover_all_families_and_carry_no_comments(tmp_path):
    names = rvf.fixed_cases()
    cases = load_manifest()["cases"]
    assert len(names) >= 15 and all(cases[n]["repairable"] for n in names)
    assert {cases[n]["root"].split("_")[0] for n in names} == set(rvf.FAMILIES)
    for n in names:
        path = scorer.CASES_DIR / n / "fixed.py"
        py_compile.compile(str(path), cfile=str(tmp_path / "x.pyc"), doraise=True)
        with path.open("rb") as f:
            assert not [t for t in tokenize.tokenize(f.readline) if t.type == tokenize.COMMENT]
        assert path.read_text() != (path.parent / "train.py").read_text(), n
