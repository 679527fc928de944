"""The ``convergent`` command line: parses, calls the layers, prints. Nothing else.

Exit codes: 0 healthy (or only warnings/advice), 1 findings of severity error,
2 bad usage or bad input.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from convergent import __version__
from convergent.errors import ConvergentError, NotBuiltError
from convergent.findings import Report

app = typer.Typer(
    name="convergent", no_args_is_help=True, add_completion=False,
    help="Find out why a Keras image classifier does not converge, and fix it.")

JsonOpt = Annotated[Optional[Path], typer.Option("--json", help="Write the JSON report here.")]
HtmlOpt = Annotated[Optional[Path], typer.Option("--html", help="Write the HTML report here.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed for every random choice.")]
BudgetOpt = Annotated[Optional[float], typer.Option("--budget", help="Time budget in seconds.")]

err_console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"convergent {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Find out why a Keras image classifier does not converge, and fix it."""


def finish(report: Report, json_path: Path | None, html_path: Path | None, quiet: bool,
           exit_code: int | None = None) -> None:
    """Write the requested outputs, print the summary, exit with the report's code
    (or ``exit_code`` when given)."""
    from convergent.report.terminal import render

    if json_path:
        report.to_json(json_path)
    if html_path:
        report.to_html(html_path)
    if not quiet:
        render(report, Console(), str(html_path) if html_path else None)
    raise typer.Exit(report.exit_code() if exit_code is None else exit_code)


def fail(error: ConvergentError) -> None:
    err_console.print(f"[bold red]error:[/] {error}")
    raise typer.Exit(error.exit_code)


def _not_built(command: str) -> None:
    fail(NotBuiltError(f"`convergent {command}` is not built yet in this version "
                       f"({__version__}); see the README for what works today"))


def _call(command: str, module: str, func: str, *args: object, **kwargs: object) -> Report:
    """Import ``module.func`` lazily and call it; a missing module means not built yet."""
    import importlib

    try:
        fn = getattr(importlib.import_module(module), func)
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith("convergent"):
            _not_built(command)
        raise
    try:
        return fn(*args, **kwargs)
    except ConvergentError as e:
        fail(e)
        raise  # unreachable: fail() exits


@app.command()
def demo(
    json: JsonOpt = None, html: HtmlOpt = None, quiet: QuietOpt = False, seed: SeedOpt = 0,
    dataset: Annotated[str, typer.Option(help="digits, mnist or animals")] = "digits",
    epochs: Annotated[int, typer.Option(help="Epochs of each training run.")] = 10,
    budget: BudgetOpt = None,
) -> None:
    """The whole loop: a faulty training script is diagnosed, repaired and reported.

    Exits 0 when the repair made the run healthy, 1 when it did not.
    """
    from convergent.demo import run_demo

    try:
        report = run_demo(dataset=dataset, epochs=epochs, seed=seed, quiet=quiet,
                          budget=budget)
    except ConvergentError as e:
        fail(e)
    repair = report.metrics.get("repair") or {}
    finish(report, json, html, quiet, exit_code=0 if repair.get("healthy") else 1)


@app.command()
def scan(
    path: Annotated[Path, typer.Argument(help="Image folder, one subfolder per class.")],
    json: JsonOpt = None, html: HtmlOpt = None, quiet: QuietOpt = False, seed: SeedOpt = 0,
    val: Annotated[Optional[Path], typer.Option("--val", help="A separate validation folder.")
                   ] = None,
) -> None:
    """Audit an image folder (class-per-folder, Keras layout) for data problems."""
    report = _call("scan", "convergent.data.scan", "scan", path, val=val, seed=seed,
                   progress=not quiet)
    finish(report, json, html, quiet)


@app.command()
def lint(
    model: Annotated[Path, typer.Argument(help="A saved .keras model.")],
    json: JsonOpt = None, html: HtmlOpt = None, quiet: QuietOpt = False, seed: SeedOpt = 0,
    data: Annotated[Optional[Path], typer.Option("--data", help="Image folder the model is for.")
                    ] = None,
    classes: Annotated[Optional[int], typer.Option("--classes", help="Number of classes.")
                       ] = None,
) -> None:
    """Static checks of a saved Keras model."""
    report = _call("lint", "convergent.model.lint", "lint_file", model, data=data,
                   classes=classes)
    finish(report, json, html, quiet)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run(
    command: Annotated[list[str], typer.Argument(help="The training command, after --.")],
    json: JsonOpt = None, html: HtmlOpt = None, quiet: QuietOpt = False, seed: SeedOpt = 0,
    budget: BudgetOpt = None,
    repair: Annotated[bool, typer.Option("--repair", help="Apply remedies and retrain.")] = False,
) -> None:
    """Run your training script; every model.fit in it is monitored and diagnosed."""
    report = _call("run", "convergent.training.run", "run_script", command, budget=budget,
                   seed=seed, repair=repair, quiet=quiet)
    summary = report.metrics.get("summary", {})
    code = None
    if not report.findings and summary.get("status") in ("crashed", "killed"):
        # nothing was diagnosed because the script itself failed: bad input, not healthy
        why = summary.get("exception") or f"exit code {summary.get('returncode')}"
        err_console.print(f"[bold red]error:[/] the script {summary['status']} ({why}); "
                          "fix it so it runs on its own, then run convergent again")
        code = 2
    finish(report, json, html, quiet, exit_code=code)


@app.command()
def analyze(
    path: Annotated[Path, typer.Argument(help="CSVLogger file, History JSON or TensorBoard dir.")],
    json: JsonOpt = None, html: HtmlOpt = None, quiet: QuietOpt = False, seed: SeedOpt = 0,
) -> None:
    """Post-hoc analysis of learning curves from a log."""
    report = _call("analyze", "convergent.training.analyze", "analyze", path)
    finish(report, json, html, quiet)


@app.command()
def fit(
    path: Annotated[Path, typer.Argument(help="Image folder, one subfolder per class.")],
    json: JsonOpt = None, html: HtmlOpt = None, quiet: QuietOpt = False, seed: SeedOpt = 0,
    budget: BudgetOpt = None,
    repair: Annotated[bool, typer.Option("--repair", help="Apply remedies and retrain.")] = False,
    out: Annotated[Optional[Path], typer.Option("--out", help="Where to save the model.")] = None,
) -> None:
    """Train a known-good classifier on an image folder."""
    report = _call("fit", "convergent.trainer.fit", "fit", path, repair=repair, budget=budget,
                   out=out, seed=seed, progress=not quiet)
    finish(report, json, html, quiet)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except ConvergentError as e:  # errors raised outside a command's own handling
        err_console.print(f"[bold red]error:[/] {e}")
        sys.exit(e.exit_code)


if __name__ == "__main__":
    main()
