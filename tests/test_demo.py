"""``convergent demo`` end to end: the planted faults are found and repaired."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from convergent.cli import app
from convergent.demo import FAULTS, demo_script
from convergent.errors import BadInputError


def test_demo_script_is_valid_python_and_rejects_bad_settings() -> None:
    compile(demo_script("mnist", epochs=3), "train.py", "exec")
    with pytest.raises(BadInputError, match="unknown dataset"):
        demo_script("cifar")
    with pytest.raises(BadInputError, match="at least 1"):
        demo_script(epochs=0)


def test_demo_finds_each_planted_fault_and_repairs_the_run(tmp_path) -> None:
    out, html = tmp_path / "r.json", tmp_path / "r.html"
    r = CliRunner().invoke(app, ["demo", "--quiet", "--json", str(out), "--html", str(html)])
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    codes = [f["code"] for f in d["findings"]]
    # the slow optimizer only shows once the inputs and activations are fixed
    assert d["command"] == "demo" and {FAULTS["data"], FAULTS["model"]} <= set(codes[:3])
    repair = d["metrics"]["repair"]
    assert repair["healthy"] and repair["remaining"] == []
    fixed = {c for step in repair["steps"] for c in step["for"]}
    assert set(FAULTS.values()) <= fixed, repair["steps"]
    first, last = repair["steps"][0]["before"], repair["steps"][-1]["after"]
    assert first["val_accuracy"] < 0.2 < 0.8 < last["val_accuracy"]  # chance is 0.1
    assert "Before and after repair" in html.read_text()
