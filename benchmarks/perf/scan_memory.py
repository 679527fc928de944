"""Peak memory and throughput of ``convergent scan`` on a large folder (issue 4: 100k 64x64).

Generates ``--n`` distinct 64x64 grayscale PNGs in 10 class folders (class c: a random
polygon with 3 + c % 5 corners, filled for c < 5 and outlined for c >= 5, at a random
position, size, rotation and grey level, plus pixel noise, so no two files are alike),
then scans the folder once while a sampler thread sums the proportional set size (PSS:
pages shared with forked workers count once) of this process and all its children (the
decoding workers) every 0.1 s. The folder is generated once per ``--out`` and reused.

    python benchmarks/perf/scan_memory.py [--n 100000] [--out /tmp/scan100k]

Prints one machine-readable line::

    scan_memory images=100000 seconds=.. images_per_s=.. peak_pss_mb=.. target_mb=2048
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

SIDE = 64
CLASSES = 10
TARGET_MB = 2048  # the bound: "without memory growing past ~2 GB"


def _draw(args: tuple[str, int, int]) -> None:
    root, start, count = args
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(start)
    for i in range(start, start + count):
        c = i % CLASSES
        im = Image.new("L", (SIDE, SIDE), int(rng.integers(0, 120)))
        cx, cy = rng.uniform(20, 44, 2)
        r = rng.uniform(10, 22)
        phase = rng.uniform(0, 2 * np.pi)
        angles = phase + np.linspace(0, 2 * np.pi, 3 + c % 5, endpoint=False)
        pts = [(float(cx + r * np.cos(a)), float(cy + r * np.sin(a))) for a in angles]
        grey = int(rng.integers(140, 256))
        if c < 5:
            ImageDraw.Draw(im).polygon(pts, fill=grey)
        else:
            ImageDraw.Draw(im).polygon(pts, outline=grey, width=3)
        arr = np.asarray(im, np.float32) + rng.normal(0, 6, (SIDE, SIDE))
        Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(
            Path(root) / f"c{c}" / f"{i:06d}.png")


def make_folder(root: Path, n: int) -> None:
    marker = root / f".complete-{n}"
    if marker.exists():
        return
    for c in range(CLASSES):
        (root / f"c{c}").mkdir(parents=True, exist_ok=True)
    chunk = 2000
    jobs = [(str(root), s, min(chunk, n - s)) for s in range(0, n, chunk)]
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(_draw, jobs))
    marker.touch()


def _rss_kb(pid: int) -> int:
    """Proportional set size: pages shared by forked workers count once in the sum."""
    for path, key in ((f"/proc/{pid}/smaps_rollup", "Pss:"), (f"/proc/{pid}/status", "VmRSS:")):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith(key):
                        return int(line.split()[1])
        except OSError:
            continue
    return 0


def _tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(d))
            except (OSError, ValueError, IndexError):
                continue
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


class PeakRSS(threading.Thread):
    """Samples the summed RSS of this process tree until stopped."""

    def __init__(self, every: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.every, self.peak_kb, self._stop_evt = every, 0, threading.Event()
        self.samples: list[tuple[float, int]] = []  # (perf_counter, kB)

    def run(self) -> None:
        me = os.getpid()
        while not self._stop_evt.is_set():
            kb = sum(_rss_kb(p) for p in _tree(me))
            self.samples.append((time.perf_counter(), kb))
            self.peak_kb = max(self.peak_kb, kb)
            time.sleep(self.every)

    def stop(self) -> int:
        self._stop_evt.set()
        self.join()
        return self.peak_kb


def _per_stage(samples: list[tuple[float, int]], t0: float, timings: dict[str, float]
               ) -> dict[str, int]:
    """Peak PSS while each stage ran; stages follow one another in the order of the scan's
    ``timings`` (list, decode, then one entry per check)."""
    out: dict[str, int] = {}
    start = t0
    for name, sec in timings.items():
        if name in ("checks", "total"):
            continue
        end = start + sec
        kb = [k for ts, k in samples if start <= ts <= end + 0.1]
        out[name] = round(max(kb) / 1024) if kb else 0
        start = end
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--out", type=Path, default=Path("/tmp/convergent-scan-memory"))
    args = ap.parse_args()
    t = time.perf_counter()
    make_folder(args.out, args.n)
    print(f"folder ready in {time.perf_counter() - t:.0f} s: {args.out}", flush=True)

    from convergent.data.scan import scan

    sampler = PeakRSS()
    sampler.start()
    t = time.perf_counter()
    report = scan(args.out, progress=False)
    seconds = time.perf_counter() - t
    peak_mb = sampler.stop() / 1024
    print("peak PSS per stage (MB):", _per_stage(sampler.samples, t, report.metrics["timings"]))
    print("findings:", ", ".join(f"{f.code.value}({f.evidence.get('n', '')})"
                                 for f in report.findings) or "none")
    print(f"scan_memory images={args.n} seconds={seconds:.1f} "
          f"images_per_s={args.n / seconds:.0f} peak_pss_mb={peak_mb:.0f} "
          f"target_mb={TARGET_MB} ok={peak_mb <= TARGET_MB}")


if __name__ == "__main__":
    main()
