"""threads: one-thread limits for small numeric problems, and pinning them for a block."""

from threadpoolctl import threadpool_info

from convergent.data import threads


def _blas_threads() -> set[int]:
    return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


def test_pinned_holds_one_thread_and_nested_limits_leave_it():
    with threads.pinned():
        assert _blas_threads() == {1}
        with threads.one_thread():
            pass
        assert _blas_threads() == {1}  # the nested limit did not restore the default
        with threads.pinned():  # re-entering is a no-op
            pass
        assert _blas_threads() == {1}
    assert not threads._pinned.is_set()
