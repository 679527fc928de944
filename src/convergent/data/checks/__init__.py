"""Checks over the table of per-image facts, registered as plug-ins in ``DATA_CHECKS``.

Every check is ``check(ctx, params) -> list[Finding]`` over a ``Context`` (the table plus
lazily computed shared results: verified duplicate pairs, the exposure flags). Importing
this package registers all of them; ``run_checks`` runs them with user overrides.

Example:
    >>> sorted(DATA_CHECKS.names())[:3]
    ['blurry', 'bright', 'corrupt']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from convergent.data.table import Table
from convergent.findings import Finding, Severity
from convergent.registry import Registry

DATA_CHECKS = Registry("data")

# Robust z-score of Iglewicz & Hoaglin (1993): 0.6745 (x - median) / MAD, with |z| > 3.5
# their recommended outlier cut-off. Used for every "relative to the dataset" threshold.
MAD_SCALE = 0.6745
ROBUST_Z = 3.5
MAX_LISTED = 5000  # files / pairs kept in one finding's evidence (the total is reported)


# A problem confined to at most 1 % of the images can move accuracy by about one point at
# most, even if those images were useless (each image is 1/N of the loss): that is advice,
# not a fault that stops a run from converging (first principles).
MINOR_FRACTION = 0.01


def fraction_severity(n_flagged: int, n_total: int, minor: float = MINOR_FRACTION,
                      severity: Severity = Severity.WARNING) -> Severity:
    """``severity`` when more than ``minor`` of the images are affected, else INFO.

    Example:
        >>> fraction_severity(3, 1000).value, fraction_severity(30, 1000).value
        ('info', 'warning')
    """
    return severity if n_total and n_flagged / n_total > minor else Severity.INFO


# A per-image listing (label noise, outliers) is reported only when at most this share of
# it is expected to be images that clean data list too: an estimated false-discovery rate,
# the quantity Benjamini & Hochberg (1995) control. Above one half, most of the list would
# be ordinary images, and the finding itself a false alarm (first principles).
LISTING_FDR_MAX = 0.5


def beyond_chance(n_listed: int, n_near: int, tail_share: float,
                  fdr_max: float | None = LISTING_FDR_MAX) -> tuple[bool, float]:
    """Whether ``n_listed`` images are clearly more than a clean folder would list, and
    how many a clean folder would (``tail_share`` x ``n_near``).

    ``n_near`` counts the images scored just short of the cut: ordinary images that are
    hard for the check, almost never a true hit. Clean folders list a stable share of that
    count (``tail_share``, measured per check on clean development folders), so the null
    scales with how hard the folder's own images are rather than with its size. ``fdr_max``
    None: no gate.

    Example:
        >>> beyond_chance(12, 300, 0.05), beyond_chance(40, 300, 0.05)
        ((False, 15.0), (True, 15.0))
    """
    expected = tail_share * n_near
    if fdr_max is None:
        return True, expected
    return n_listed > 0 and expected <= fdr_max * n_listed, expected


def robust_z(x: np.ndarray, mad_floor: float = 1e-9) -> np.ndarray:
    """Modified z-scores; the MAD is floored so a near-constant column does not explode."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return x
    med = float(np.median(x))
    mad = max(float(np.median(np.abs(x - med))), mad_floor)
    return MAD_SCALE * (x - med) / mad


@dataclass
class Context:
    """What checks read: the table and shared, lazily computed results."""

    table: Table
    seed: int = 0
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def df(self):
        return self.table.df

    @property
    def ok(self) -> np.ndarray:
        return self.table.ok

    def rel(self, rows: Any) -> list[str]:
        rels = self.df["rel"].to_numpy()
        return [str(rels[int(i)]) for i in rows]

    def pairs(self):
        if "pairs" not in self.cache:
            pending = self.cache.pop("pairs_pending", None)
            self.cache["pairs"] = pending.result() if pending is not None else _find_pairs(
                self.table)
        return self.cache["pairs"]


def _find_pairs(table: Table) -> Any:
    from convergent.data.near import find_pairs

    return find_pairs(table.df, table.emb, table.g32)


def _find_pairs_in_thread(table: Table) -> Any:
    from convergent.data import threads

    with threads.pinned_thread():
        return _find_pairs(table)


def _cores() -> int:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# The checks that read the image features of ``embedding`` (label model, outliers): once
# the last of them has run, the features are released, so the near-copy search after
# them runs without them (alive through it, they had made it the scan's memory peak;
# benchmarks/RESULTS.md, stop 22).
EMBEDDING_READERS = frozenset({"label_noise", "label_pairs", "outlier"})


def run_checks(table: Table, overrides: Mapping[str, Mapping[str, Any]] | None = None,
               seed: int = 0, timings: dict[str, float] | None = None) -> list[Finding]:
    """Run every registered data check over ``table``; record seconds per check.

    Below ``threads.SMALL_ROWS`` rows, where every numeric call runs on one thread, the
    near-copy pairs (the duplicate checks' input, independent of the other checks) are
    found in a second thread while the other checks run, so a second core is used; the
    results are the same as one after the other.
    """
    import time
    from concurrent.futures import ThreadPoolExecutor
    from contextlib import nullcontext

    from convergent.data import threads
    from convergent.data.checks.embedding import release

    ctx = Context(table, seed)
    out: list[Finding] = []
    concurrent = len(table.df) < threads.SMALL_ROWS and _cores() > 1
    pool = ThreadPoolExecutor(1) if concurrent else None
    with threads.pinned() if concurrent else nullcontext():
        try:
            if pool is not None:
                ctx.cache["pairs_pending"] = pool.submit(_find_pairs_in_thread, table)
            names = DATA_CHECKS.names()
            last_reader = max((i for i, n in enumerate(names) if n in EMBEDDING_READERS),
                              default=-1)
            for i, name in enumerate(names):
                t0 = time.perf_counter()
                out += DATA_CHECKS.run(ctx, overrides, only=[name])
                if i == last_reader:  # the checks after it do not read the features
                    release(ctx)
                if timings is not None:
                    timings[f"check_{name}"] = round(time.perf_counter() - t0, 3)
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
    return out


# registration happens on import, in this order: exposure first, because the outlier
# check leaves the images the quality checks reported to them
from convergent.data.checks import (  # noqa: E402, F401
    exposure,
    files,
    label_pairs,
    labels,
    outliers,
    similarity,
)
