import json

from typer.testing import CliRunner

from convergent import __version__
from convergent.cli import app

runner = CliRunner()


def test_version():
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and __version__ in r.output


def test_every_command_has_help():
    for cmd in ["demo", "scan", "lint", "run", "analyze", "fit"]:
        r = runner.invoke(app, [cmd, "--help"])
        assert r.exit_code == 0, (cmd, r.output)
        assert "--json" in r.output and "--html" in r.output and "--quiet" in r.output


def test_unknown_option_is_usage_error():
    r = runner.invoke(app, ["demo", "--no-such-option"])
    assert r.exit_code == 2


def test_demo_writes_json(tmp_path):
    out = tmp_path / "r.json"
    r = runner.invoke(app, ["demo", "--epochs", "1", "--quiet", "--json", str(out)])
    assert r.exit_code in (0, 1), r.output
    d = json.loads(out.read_text())
    assert d["command"] == "demo" and d["version"] == 1
    assert len(d["metrics"]["history"]["loss"]) >= 1


def test_a_command_not_built_exits_2_and_says_so(monkeypatch):
    import importlib

    real = importlib.import_module

    def missing(name, *a, **k):
        if name == "convergent.trainer.fit":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real(name, *a, **k)

    monkeypatch.setattr(importlib, "import_module", missing)
    r = runner.invoke(app, ["fit", "somewhere"])
    assert r.exit_code == 2 and "not built" in r.output
