"""Size and open time of the HTML report of a 3,000-image scan with many flagged images.

Writes a synthetic image folder (10 classes x 300 JPEGs, 160x120), builds a scan report
by hand in which ~2,400 images are flagged by 11 findings (files, label-noise samples,
duplicate and leak pairs), renders the HTML and opens it in headless Chromium.

Open time = wall time of ``chromium --headless --dump-dom`` (load, parse, decode the
inline images, run the script) on the report minus the same on an empty page (browser
start-up), median of 5; ``--screenshot`` time (layout and paint of the first 1200x1600)
likewise. Run: ``.venv/bin/python benchmarks/perf/report_html.py [--keep DIR]``.
Prints one line: ``report_html images=... flagged=... size_mb=... render_s=... open_s=...``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from convergent.findings import Code, Finding, Report, Severity
from convergent.remedies.catalog import remedies_for

CLASSES = [f"class_{i}" for i in range(10)]
PER_CLASS = 300
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def make_folder(root: Path, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    rel = []
    for c, name in enumerate(CLASSES):
        for split, n in (("train", PER_CLASS * 4 // 5), ("val", PER_CLASS // 5)):
            (root / split / name).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                base = rng.integers(30, 220, size=3)
                img = np.clip(base + rng.normal(0, 25, (120, 160, 3)), 0, 255).astype(np.uint8)
                img[20 + c * 8:28 + c * 8, 30:130] = 255 - base
                p = f"{split}/{name}/{i:04d}.jpg"
                Image.fromarray(img).save(root / p, quality=90)
                rel.append(p)
    return rel


def build_report(root: Path, rel: list[str], seed: int = 0) -> tuple[Report, int]:
    rng = np.random.default_rng(seed)
    train = [p for p in rel if p.startswith("train/")]
    val = [p for p in rel if p.startswith("val/")]

    def pick(pool: list[str], n: int) -> list[str]:
        return [pool[i] for i in rng.choice(len(pool), n, replace=False)]

    def f(code: Code, sev: Severity, ev: dict) -> Finding:
        return Finding(code, sev, 0.8, code.value, "benchmark", ev, remedies_for(code))

    samples = [{"file": p, "given": p.split("/")[1], "likely": CLASSES[int(rng.integers(10))],
                "score": float(rng.random())} for p in pick(train, 300)]
    findings = [
        f(Code.DATA_DARK, Severity.WARNING, {"files": pick(rel, 400), "threshold": 0.1}),
        f(Code.DATA_BRIGHT, Severity.WARNING, {"files": pick(rel, 200), "threshold": 0.9}),
        f(Code.DATA_LOW_CONTRAST, Severity.WARNING, {"files": pick(rel, 150)}),
        f(Code.DATA_BLURRY, Severity.WARNING, {"files": pick(rel, 350)}),
        f(Code.DATA_ODD_SIZE, Severity.INFO, {"files": pick(rel, 100)}),
        f(Code.DATA_OUTLIER, Severity.INFO, {"files": pick(rel, 80)}),
        f(Code.DATA_GRAYSCALE_AS_RGB, Severity.INFO, {"files": pick(rel, 200)}),
        f(Code.DATA_CORRUPT, Severity.ERROR, {"files": [f"train/x/bad_{i}.jpg" for i in range(20)]}),
        f(Code.DATA_LABEL_NOISE, Severity.WARNING, {"samples": samples, "fraction": 0.1}),
        f(Code.DATA_DUPLICATES, Severity.WARNING,
          {"pairs": [list(p) for p in zip(pick(train, 250), pick(train, 250))]}),
        f(Code.DATA_LEAKAGE, Severity.ERROR,
          {"pairs": [list(p) for p in zip(pick(train, 120), pick(val, 120))]}),
    ]
    flagged = 400 + 200 + 150 + 350 + 100 + 80 + 200 + 20 + 300 + 2 * 250 + 2 * 120
    counts = {"train": {c: PER_CLASS * 4 // 5 for c in CLASSES},
              "val": {c: PER_CLASS // 5 for c in CLASSES}}
    return Report(findings, "scan", str(root), {
        "root": str(root), "class_counts": counts,
        "summary": {"images": len(rel), "classes": len(CLASSES), "flagged": flagged}}), flagged


def browser_seconds(url: str, *extra: str, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as profile:
            t = time.perf_counter()
            subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, url],
                           check=True, capture_output=True, timeout=120)
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=Path, help="keep the folder and report here")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="report-bench-"))
    try:
        t = time.perf_counter()
        rel = make_folder(work / "data")
        gen_s = time.perf_counter() - t
        report, flagged = build_report(work / "data", rel)
        t = time.perf_counter()
        page = report.to_html(work / "report.html")
        render_s = time.perf_counter() - t
        size_mb = page.stat().st_size / 1e6
        imgs = page.read_text().count("data:image/")
        blank = work / "blank.html"
        blank.write_text("<!doctype html><p>x</p>")
        base = browser_seconds(blank.as_uri(), "--dump-dom")
        dom = browser_seconds(page.as_uri(), "--dump-dom")
        shot_args = ("--window-size=1200,1600", f"--screenshot={work / 'shot.png'}")
        base_shot = browser_seconds(blank.as_uri(), *shot_args)
        shot = browser_seconds(page.as_uri(), *shot_args)
        print(f"# images written in {gen_s:.1f}s; chromium start-up {base:.2f}s", file=sys.stderr)
        print(f"report_html images={len(rel)} flagged={flagged} thumbnails={imgs} "
              f"size_mb={size_mb:.2f} render_s={render_s:.2f} open_s={dom - base:.2f} "
              f"open_wall_s={dom:.2f} first_paint_s={shot - base_shot:.2f}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
