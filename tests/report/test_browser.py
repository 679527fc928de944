"""Open the HTML reports of a scan, a run and a fit in real headless Chromium.

Chromium's ``--enable-logging=stderr`` prints every console message and uncaught
exception of the page as an ``INFO:CONSOLE`` line; the report's script logs nothing, so
any such line is an error. ``--dump-dom`` gives the DOM after the page's script ran (the
script marks ``<html data-ready>`` last, so a script that died early is caught too).
A control page with a deliberate console error proves the detection still works.

Screenshots are artifacts: written to ``$CONVERGENT_ARTIFACTS`` when set (CI), else to
the test's tmp_path. Debian: ``apt-get install -y chromium`` (``.ci/run`` does it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from PIL import Image

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="headless Chromium not installed: apt-get update && apt-get install -y chromium")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]
CONSOLE = re.compile(r":CONSOLE[:(]\d*\)?\] (.*)")

# The plots each synthetic report must show (ids of the inline <svg> roots).
EXPECTED_PLOTS = {
    "scan": {"plot-classes"},
    "run": {"plot-curves", "plot-step-loss", "plot-lr-range", "plot-grad-norms",
            "plot-dead-units"},
    "fit": {"plot-curves", "plot-classes", "plot-repair-curves"},
}


def chromium(url: str, *extra: str) -> tuple[str, list[str]]:
    """Load ``url``; return (stdout, console messages of the page)."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        proc = subprocess.run(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr",
             "--v=0", *extra, url],
            check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, [m.group(1) for m in CONSOLE.finditer(proc.stderr)]


def test_console_errors_are_detected(tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text("<!doctype html><p>x</p><script>console.error('boom'); nope();</script>")
    _, console = chromium(page.as_uri(), "--dump-dom")
    assert any("boom" in m for m in console) and any("nope" in m for m in console), console


@pytest.mark.parametrize("command", ["scan", "run", "fit"])
def test_report_opens_without_errors(reports, pages, command: str, tmp_path: Path) -> None:
    report, page = reports[command], pages[command]
    html = page.read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", html), "fetches from network"

    out = Path(os.environ.get("CONVERGENT_ARTIFACTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    shot = out / f"report-{command}.png"

    dom, console = chromium(page.as_uri(), "--dump-dom", "--window-size=1200,1600",
                            f"--screenshot={shot}")

    assert console == [], f"console output in {command} report: {console}"
    assert re.search(r'<html[^>]*data-ready="\d+"', dom), "the page script did not finish"
    plots = set(re.findall(r'<svg[^>]*\bid="(plot-[\w-]+)"', dom))
    assert plots == EXPECTED_PLOTS[command]
    n_findings = len(report.findings)
    assert dom.count('class="finding ') == n_findings
    if command == "scan":  # every thumbnail but the one missing file decodes
        imgs = re.findall(r'<img[^>]*src="data:image/(?:jpeg|png);base64,', dom)
        assert len(imgs) == 5 + 4 + 2 + 2 * 2 + 2 * 1
        assert dom.count("no preview") == 1

    with Image.open(shot) as im:
        assert im.size == (1200, 1600)
        colours = im.convert("RGB").resize((120, 160)).getcolors(maxcolors=100_000)
    assert colours and len(colours) > 50, "screenshot looks blank"


CLICK_ALL_COPY_BUTTONS = """<script>
document.querySelectorAll("button.copy").forEach(function (b) { b.click(); });
setTimeout(function () {
  var labels = Array.from(document.querySelectorAll("button.copy"), function (b) {
    return b.textContent; });
  document.body.setAttribute("data-after-click", labels.join("|"));
}, 300);
</script></body>"""


def test_copy_buttons_respond(pages, tmp_path: Path) -> None:
    # A test-only copy of the page clicks every copy button, then records their labels.
    page = pages["fit"]
    clicked = tmp_path / "fit-click.html"
    clicked.write_text(page.read_text(encoding="utf-8").replace(
        "</body>", CLICK_ALL_COPY_BUTTONS), encoding="utf-8")

    dom, console = chromium(clicked.as_uri(), "--virtual-time-budget=1000", "--dump-dom")

    assert console == []
    labels = re.search(r'data-after-click="([^"]*)"', dom).group(1).split("|")
    assert len(labels) >= 3  # remedies, repair steps, the diff
    assert all(label in ("Copied", "Select and copy") for label in labels), labels
