"""``convergent run -- python train.py ARGS``: monitor every ``model.fit`` of a user's script.

The script runs unchanged in a subprocess. ``PYTHONPATH`` gets ``_inject/site`` first, whose
``sitecustomize`` wraps ``keras.Model.fit`` once Keras is imported (any import route) and
adds the Monitor, the model lint and the input checks to each fit. Each Python process
writes its records to ``records-<pid>.json`` in a temporary directory; this module merges
them into one ranked report — also when the script crashes, is interrupted, runs out of
``budget``, is not Python, or never calls ``fit``. The script's stdout/stderr pass through.

Without ``repair`` the script computes exactly what it computes without convergent: the
Monitor consumes no randomness and changes no weights or optimizer state.

Example:
    >>> report = run_script(["python", "train.py", "--epochs", "5"])   # doctest: +SKIP
    >>> report.findings[0].code                                        # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import convergent
from convergent.errors import BadInputError, NotBuiltError
from convergent.findings import Finding, Report

SITE_DIR = Path(__file__).resolve().parent / "_inject" / "site"
PACKAGE_PARENT = Path(convergent.__file__).resolve().parent.parent
# After the budget, the script gets SIGINT (KeyboardInterrupt: its fit records itself),
# then this long to finish before SIGTERM, then SIGKILL.
GRACE_SECONDS = 10.0
# The end of the script's stderr kept for the report (a traceback fits easily).
STDERR_TAIL = 20_000


def run_script(command: Sequence[str], budget: float | None = None, seed: int = 0,
               repair: bool = False, quiet: bool = False,
               stop_on: Sequence[str] = ()) -> Report:
    """Run ``command``, monitoring every ``keras.Model.fit`` in it; return one ranked report.

    Args:
        command: the training command, e.g. ``["python", "train.py", "--epochs", "5"]``.
        budget: seconds after which the script is stopped (it still gets a report).
        seed: unused by a plain run: seeding the script would change what it computes.
        repair: diagnose each fit, apply the first run-time remedy
            (``convergent.remedies.runtime``), retrain from the initial weights and verify,
            up to 4 remedy steps per fit; ``metrics["repair"]`` lists the steps and the code
            change. This changes what the script computes, on purpose.
        quiet: discard the script's own output (its stderr tail still goes in the report).
        stop_on: severities or codes that end a fit early (``Monitor(stop_on=...)``).

    Returns:
        A Report (command ``run``): findings from every fit, the lint and input checks,
        and crash analysis; ``metrics["script"]`` and ``metrics["fits"]`` hold the records.

    Raises:
        BadInputError: empty command, or its program cannot be found.
        NotBuiltError: ``repair=True`` when run-time remedies are not available.

    Example:
        >>> run_script(["python", "train.py"], budget=600).codes        # doctest: +SKIP
    """
    command = [str(c) for c in command]
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise BadInputError("no command given; put the training command after --, e.g. "
                            "`convergent run -- python train.py --epochs 5`")
    if budget is not None and budget <= 0:
        raise BadInputError(f"budget must be > 0 seconds; received {budget!r}")
    program = shutil.which(command[0])
    if program is None and not Path(command[0]).is_file():
        raise BadInputError(f"cannot find the program {command[0]!r} of the command "
                            f"{' '.join(command)!r}; check the spelling or give its path")
    if program is None and command[0].endswith(".py"):  # a script file, not executable
        raise BadInputError(f"{command[0]!r} is a Python script, not a program: name the "
                            f"interpreter, `convergent run -- python {' '.join(command)}`")
    if repair:
        _check_repair()
    with tempfile.TemporaryDirectory(prefix="convergent-run-") as records_dir:
        env = _child_env(records_dir, repair, stop_on)
        result = _execute(command, env, budget, quiet)
        records = _read_records(Path(records_dir))
    return build_report(command, result, records)


def _check_repair() -> None:
    try:
        import convergent.remedies.runtime  # noqa: F401
    except ImportError as e:
        raise NotBuiltError("`convergent run --repair` needs convergent.remedies.runtime, "
                            "which is not built in this version; run without --repair to "
                            "get the diagnosis and the code change to make") from e


def _child_env(records_dir: str, repair: bool, stop_on: Sequence[str]) -> dict[str, str]:
    env = dict(os.environ)
    parts = [str(SITE_DIR), str(PACKAGE_PARENT)]
    if env.get("PYTHONPATH"):
        parts.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(parts)
    env["CONVERGENT_RECORDS_DIR"] = records_dir
    env["CONVERGENT_REPAIR"] = "1" if repair else ""
    env["CONVERGENT_STOP_ON"] = ",".join(stop_on)
    return env


def _execute(command: list[str], env: dict[str, str], budget: float | None,
             quiet: bool) -> dict[str, Any]:
    """Run the command; pass its output through; stop it after ``budget`` seconds."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL if quiet else None,
                                stderr=subprocess.PIPE)
    except OSError as e:
        raise BadInputError(f"cannot start {command[0]!r}: {e}") from e
    tail = bytearray()
    tee = threading.Thread(target=_tee, args=(proc.stderr, tail, quiet), daemon=True)
    tee.start()
    status = "finished"
    try:
        proc.wait(timeout=budget)
    except subprocess.TimeoutExpired:
        status = "budget"
        _stop(proc)
    except KeyboardInterrupt:  # Ctrl-C reaches the child too (same process group)
        status = "interrupted"
        _stop(proc, already_interrupted=True)
    tee.join(timeout=5)
    return {"returncode": proc.returncode, "status": status,
            "seconds": round(time.perf_counter() - t0, 3),
            "stderr_tail": tail.decode("utf-8", "replace")}


def _tee(stream: IO[bytes] | None, tail: bytearray, quiet: bool) -> None:
    if stream is None:
        return
    out = sys.stderr.buffer if hasattr(sys.stderr, "buffer") else None
    while True:
        chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
        if not chunk:
            break
        if not quiet and out is not None:
            out.write(chunk)
            out.flush()
        tail.extend(chunk)
        if len(tail) > STDERR_TAIL:
            del tail[: len(tail) - STDERR_TAIL]


def _stop(proc: subprocess.Popen, already_interrupted: bool = False) -> None:
    steps = [] if already_interrupted else [signal.SIGINT]
    steps += [signal.SIGTERM, signal.SIGKILL]
    if already_interrupted:
        try:
            proc.wait(timeout=GRACE_SECONDS)
            return
        except subprocess.TimeoutExpired:
            pass
    for sig in steps:
        if proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout=GRACE_SECONDS if sig == signal.SIGINT else 3)
            return
        except subprocess.TimeoutExpired:
            continue


def _read_records(directory: Path) -> list[dict[str, Any]]:
    out = []
    for p in sorted(directory.glob("records-*.json")):
        try:
            out.append(json.loads(p.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return sorted(out, key=lambda r: r.get("started", 0))


# -- merging ----------------------------------------------------------------------------------

def _findings(dicts: Sequence[dict[str, Any]], fit_index: int | None) -> list[Finding]:
    out = []
    for d in dicts:
        try:
            f = Finding.from_dict(d)
        except (KeyError, ValueError, TypeError):
            continue
        if fit_index is not None:
            ev = dict(f.evidence)
            ev["fit"] = fit_index
            f = Finding(f.code, f.severity, f.confidence, f.title, f.explanation, ev,
                        f.remedies)
        out.append(f)
    return out


def _crash_from_text(text: str) -> list[Finding]:
    try:
        from convergent.model.crash import findings_from_exception
    except ImportError:
        return []
    try:
        return list(findings_from_exception(text))
    except Exception:  # noqa: BLE001 - an unrecognised crash is reported as is
        return []


def build_report(command: list[str], result: dict[str, Any],
                 records: list[dict[str, Any]]) -> Report:
    """Merge the child records and the process result into one ranked report."""
    fits = [f for r in records for f in r.get("fits", [])]
    many = len(fits) > 1
    findings: list[Finding] = []
    fit_metrics = []
    finding_epochs: dict[str, int] = {}
    for i, fit in enumerate(fits, start=1):
        tag = i if many else None
        # after run --repair the report explains the script as written: the first run's
        # findings; metrics["repair"] says what each remedy changed and what remains
        mon = fit.get("monitor_before_repair") or fit.get("monitor") or {}
        findings += _findings(fit.get("pre_fit", []), tag)
        findings += _findings(mon.get("findings", []), tag)
        findings += _findings(fit.get("crash_findings", []), tag)
        m = mon.get("metrics", {})
        for code, ep in (m.get("finding_epochs") or {}).items():
            if ep is not None and (code not in finding_epochs or ep < finding_epochs[code]):
                finding_epochs[code] = ep
        fit_metrics.append({
            "index": i, "model": fit.get("model"), "status": fit.get("status"),
            "seconds": fit.get("seconds"), "args": fit.get("args"), "facts": fit.get("facts"),
            "input": fit.get("input"), "notes": fit.get("notes", []),
            "exception": fit.get("exception"), **m})
    exception = next((r["exception"] for r in reversed(records) if r.get("exception")), None)
    crashed_in_fit = any(f.get("status") == "crashed" for f in fits)
    if exception and not crashed_in_fit:
        findings += _crash_from_text(exception.get("traceback") or exception.get("message", ""))
    elif not records and result["returncode"] not in (0, None):
        findings += _crash_from_text(result["stderr_tail"])
    status, note = _status(result, records, fits, exception)
    summary: dict[str, Any] = {"status": status, "returncode": result["returncode"],
                               "fits": len(fits), "seconds": result["seconds"]}
    if exception:
        summary["exception"] = f"{exception.get('type')}: {exception.get('message', '')}"[:300]
    if note:
        summary["note"] = note
    audit = [dict(d, fit=f.get("index")) for f in fits for d in f.get("data_audit", [])]
    if audit:
        summary["data_audit"] = (f"{len(audit)} minor item(s) that cannot stop convergence: "
                                 "metrics.data_audit; `convergent scan` lists all")
    last = fit_metrics[-1] if fit_metrics else {}
    metrics: dict[str, Any] = {
        "summary": summary,
        "script": {"command": command, **result, "exception": exception,
                   "python_processes": len(records),
                   "keras_patched": any(r.get("keras_patched") for r in records)},
        "fits": fit_metrics,
        "history": last.get("history", {}),
        "finding_epochs": finding_epochs,
        "data_audit": audit,
    }
    repair_steps = [dict(st, fit=f.get("index")) for f in fits
                    for st in (f.get("repair") or {}).get("steps", [])]
    if any(f.get("repair") for f in fits):
        metrics["repair"] = {
            "steps": repair_steps,
            "healthy": all((f.get("repair") or {}).get("healthy", True) for f in fits),
            "remaining": sorted({d.get("code") for f in fits
                                 for d in (f.get("repair") or {}).get("remaining", [])
                                 if isinstance(d, dict) and d.get("code")}),
            # the change to the script is the kept fit's: steps a later keep-best undid
            # are listed in "steps" but are not part of it
            "code": "\n".join(c for f in fits if (c := (f.get("repair") or {}).get("code")))}
        kept = [st["remedy"] for f in fits
                for st in (f.get("repair") or {}).get("steps", [])[
                    :(f.get("repair") or {}).get("kept", 0)]]
        summary["repaired"] = ",".join(kept) or "nothing kept"
    for key in ("steps", "grad_norms", "update_ratios", "dead_fraction", "saturated_fraction",
                "plateau"):
        if key in last:
            metrics[key] = last[key]
    return Report(findings, command="run", subject=" ".join(command), metrics=metrics)


def _status(result: dict[str, Any], records: list[dict[str, Any]], fits: list[dict[str, Any]],
            exception: dict[str, Any] | None) -> tuple[str, str]:
    rc = result["returncode"]
    if result["status"] == "budget":
        return "budget", "stopped after the time budget; findings cover the run so far"
    if result["status"] == "interrupted" or (exception or {}).get("type") == "KeyboardInterrupt":
        return "interrupted", "interrupted; findings cover the run so far"
    if rc is not None and rc < 0:
        return "killed", f"the script was killed by signal {-rc}"
    if not records:
        return ("crashed" if rc else "finished",
                "no Python process with Keras ran (not a Python script, or it exited before "
                "start-up); nothing was monitored" + (" — see the stderr tail in "
                                                       "metrics.script" if rc else ""))
    if exception or rc:
        where = "in model.fit" if any(f.get("status") == "crashed" for f in fits) else \
            "before model.fit" if not fits else "after model.fit"
        return "crashed", f"the script failed {where}; the traceback is in metrics.script"
    if not fits:
        return "finished", "the script never called model.fit: nothing to monitor"
    return "finished", ""
