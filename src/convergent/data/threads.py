"""One BLAS / OpenMP thread for small numeric problems, without rescanning the libraries.

``threadpoolctl.threadpool_limits`` walks every loaded shared library to find the thread
pools each time it is entered (~7 ms; the scan's 30-odd small neighbour searches spent
0.25 s on that alone). One ``ThreadpoolController`` is made on first use, after the
libraries that own thread pools (NumPy's and SciPy's OpenBLAS, scikit-learn's OpenMP) are
loaded, and reused.

Example:
    >>> with one_thread():  # doctest: +SKIP
    ...     small_knn()
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from typing import Any

# Below this many rows, neighbour searches and PCA run on one BLAS/OpenMP thread: thread
# start-up and spin-waiting then cost more than the work (measured on the 2-core bench
# machine under load: kNN of 1,236 x 64 took 0.21 s on the default threads vs 0.02 s on
# one, the per-class outlier pass 0.7-1.4 s vs 0.05-0.07 s; at 5,000 rows threads won,
# 0.13 vs 0.18 s).
SMALL_ROWS = 4000


@functools.cache
def _controller() -> Any:
    import scipy.linalg  # noqa: F401 - load SciPy's BLAS before the library scan
    import sklearn.neighbors  # noqa: F401 - and scikit-learn's OpenMP runtime
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


_pinned = threading.Event()  # set while ``pinned()`` holds every library at one thread


def one_thread(user_api: str | None = None) -> Any:
    """A context in which the numeric libraries (or only ``user_api``: "blas" or
    "openmp") run on one thread; a no-op inside ``pinned()``, which already does."""
    if _pinned.is_set():
        return contextlib.nullcontext()
    return _controller().limit(limits=1, user_api=user_api)


@contextlib.contextmanager
def pinned() -> Iterator[None]:
    """Every numeric library on one thread for the whole block, set once.

    For work split over Python threads (each runs its own single-threaded BLAS /
    OpenMP calls): the limits are not entered and restored by each thread in turn, which
    would change them under another thread's running call. OpenMP's limit belongs to the
    thread that sets it: a thread started inside the block calls ``pinned_thread()``.
    """
    if _pinned.is_set():
        yield
        return
    with _controller().limit(limits=1):
        _pinned.set()
        try:
            yield
        finally:
            _pinned.clear()


def threads_for(n_rows: int, small_rows: int = SMALL_ROWS) -> Any:
    """``one_thread()`` below ``small_rows`` rows, else no limit."""
    return one_thread() if n_rows < small_rows else contextlib.nullcontext()


def pinned_thread() -> Any:
    """Inside ``pinned()``, in another Python thread: that thread's OpenMP calls on one
    thread too (OpenMP's thread count is a per-thread setting; BLAS's is global)."""
    return _controller().limit(limits=1, user_api="openmp")
