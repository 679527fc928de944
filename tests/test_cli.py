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


def test_run_of_a_script_that_crashes_before_fit_is_not_healthy(tmp_path):
    import sys

    script = tmp_path / "broken.py"
    script.write_text("import no_such_module_xyz\n")
    out = tmp_path / "r.json"
    r = runner.invoke(app, ["run", "--json", str(out), "--", sys.executable, str(script)])
    assert r.exit_code == 2, r.output
    assert "healthy" not in r.output and "nothing could be diagnosed" in r.output
    assert json.loads(out.read_text())["metrics"]["summary"]["status"] == "crashed"
