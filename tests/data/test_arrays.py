"""Array checks: one positive and one negative case per code, tiny seeded arrays."""

import numpy as np
import pytest

from convergent.data.arrays import (
    array_stats,
    check_arrays,
    check_batches,
    labels_to_int,
    summarize_batches,
)
from convergent.errors import BadInputError


def _data(n=400, classes=4, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % classes)
    x = (rng.random((n, 8, 8, 3)) * scale).astype("float32")
    return x, y


def codes(findings):
    return sorted(f.code.value for f in findings)


def test_healthy_arrays_give_no_findings():
    x, y = _data()
    xv, yv = _data(100, seed=1)
    assert check_arrays(x, y, xv, yv) == []


@pytest.mark.parametrize("dtype", ["uint8", "float32"], ids=["uint8", "float32"])
def test_unnormalized_judged_by_scale_not_dtype(dtype):
    x, y = _data(scale=255.0)
    assert "DATA_UNNORMALIZED" in codes(check_arrays(x.astype(dtype), y))
    small, _ = _data(scale=1.0)
    assert "DATA_UNNORMALIZED" not in codes(check_arrays(small.astype("float32"), y))


def test_inputs_scaled_twice_are_unnormalized():
    x, y = _data(scale=255.0)
    found = [f for f in check_arrays(x / 255.0 / 255.0, y)
             if f.code.value == "DATA_UNNORMALIZED"]
    assert found and "twice" in found[0].title and found[0].remedies[0].id == "standardize"
    # a 0-255 preprocessing (x / 127.5 - 1) on [0, 1] pixels: RMS ~1, no spread left
    assert "DATA_UNNORMALIZED" in codes(check_arrays(x / 255.0 / 127.5 - 1.0, y))
    # dark but once-scaled images (mean ~0.05) are not
    dark = np.clip(x / 255.0 * 0.1, 0, 1)
    assert "DATA_UNNORMALIZED" not in codes(check_arrays(dark, y))


def test_standardized_inputs_are_not_unnormalized():
    x, y = _data()
    z = (x - x.mean()) / x.std()
    assert check_arrays(z, y) == []


def test_inconsistent_range_between_splits():
    x, y = _data(scale=1.0)
    xv, yv = _data(100, seed=1, scale=255.0)
    found = codes(check_arrays(x, y, xv, yv))
    assert "DATA_INCONSISTENT_RANGE" in found
    half = codes(check_arrays(x[:200], y[:200], x[200:], y[200:]))
    assert "DATA_INCONSISTENT_RANGE" not in half


def test_random_halves_agree_well_inside_the_thresholds():
    x, _ = _data(2000)
    a, b = array_stats(x[:1000]), array_stats(x[1000:])
    assert a.rms / b.rms < 1.1 and abs(a.mean - b.mean) / a.std < 0.1


def test_nonfinite_inputs_and_labels():
    x, y = _data()
    x[3, 0, 0, 0] = np.nan
    f = [f for f in check_arrays(x, y) if f.code.value == "DATA_NONFINITE"]
    assert f and f[0].evidence["train"]["rows"] == [3]
    yo = np.eye(4)[y]
    yo[7, 1] = np.inf
    assert "DATA_NONFINITE" in codes(check_arrays(_data()[0], yo))
    assert "DATA_NONFINITE" not in codes(check_arrays(*_data()))


def test_imbalance_and_too_few_and_empty_class():
    x, _ = _data(440)
    y = np.array([0] * 400 + [1] * 35 + [2] * 5)
    found = codes(check_arrays(x, np.random.default_rng(0).permutation(y)))
    assert "DATA_IMBALANCE" in found and "DATA_TOO_FEW" in found
    onehot = np.eye(5)[np.arange(440) % 4]  # class 4 never appears
    assert "DATA_EMPTY_CLASS" in codes(check_arrays(x, onehot))
    balanced = codes(check_arrays(*_data()))
    assert not {"DATA_IMBALANCE", "DATA_TOO_FEW", "DATA_EMPTY_CLASS"} & set(balanced)


def test_sorted_split_with_validation_split():
    x, y = _data()
    ys = np.sort(y)
    f = [f for f in check_arrays(x, ys, validation_split=0.25) if f.code.value ==
         "DATA_SORTED_SPLIT"]
    assert f and f[0].evidence["val_classes_unseen_in_train"] == [3]
    assert f[0].evidence["classes_missing_from_val"] == [0, 1, 2]
    assert check_arrays(x, y, validation_split=0.2) == []


def test_a_tiny_class_missing_from_a_shuffled_split_is_not_a_sorted_split():
    """12 samples of a class miss a random 20 % split 0.8^12 = 7 % of the time: no
    evidence of order. The same split on 60 samples (0.8^60 = 1e-6) is."""
    rng = np.random.default_rng(0)
    for k, expected in ((12, False), (60, True)):
        y = np.zeros(250, int)
        y[rng.choice(200, k, replace=False)] = 1  # scattered over the first 80 % only
        x = rng.random((250, 4, 4)).astype("float32")
        found = "DATA_SORTED_SPLIT" in codes(check_arrays(x, y, validation_split=0.2))
        assert found is expected, k


def test_sorted_labels_warn_without_validation_split_but_not_with_val_data():
    x, y = _data()
    assert "DATA_SORTED_SPLIT" in codes(check_arrays(x, np.sort(y)))
    assert "DATA_SORTED_SPLIT" not in codes(check_arrays(x, np.sort(y), x[:50], y[:50]))


def test_sorted_labels_trained_in_order_are_an_error_even_with_val_data():
    x, y = _data()
    found = [f for f in check_arrays(x, np.sort(y), x[:50], y[:50], in_order=True)
             if f.code.value == "DATA_SORTED_SPLIT"]
    assert found and found[0].severity.value == "error" and found[0].evidence["in_order"]
    # shuffled labels trained in order are fine; sorted ones that fit shuffles are too
    assert "DATA_SORTED_SPLIT" not in codes(check_arrays(x, y, x[:50], y[:50], in_order=True))
    assert "DATA_SORTED_SPLIT" not in codes(check_arrays(x, np.sort(y), x[:50], y[:50]))


def test_labels_to_int_formats():
    assert labels_to_int(np.array([[0, 1], [1, 0]]))[0].tolist() == [1, 0]
    assert labels_to_int(np.array([[2], [0]]))[0].tolist() == [2, 0]
    with pytest.raises(BadInputError, match="non-integer"):
        labels_to_int(np.array([0.5, 1.0]))


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(BadInputError, match="empty"):
        check_arrays(np.zeros((0, 4, 4)))
    with pytest.raises(BadInputError, match="labels"):
        check_arrays(np.zeros((4, 2)), np.zeros(3))
    with pytest.raises(BadInputError, match="validation_split"):
        check_arrays(np.zeros((4, 2)), validation_split=1.5)


def test_batches_one_batch_in_raw_range():
    x, y = _data(320)
    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 320, 32)]
    assert check_batches(batches) == []
    batches.append((x[:32] * 255, y[:32]))
    assert "DATA_INCONSISTENT_RANGE" in codes(check_batches(batches))


class _PyDatasetLike:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x) // 16

    def __getitem__(self, i):
        return self.x[i * 16:(i + 1) * 16], self.y[i * 16:(i + 1) * 16]


def test_summarize_batches_indexable_and_limit():
    x, y = _data(320)
    total, per = summarize_batches(_PyDatasetLike(x, y), max_batches=5)
    assert total.n == 80 and len(per) == 5 and len(total.labels) == 80
    with pytest.raises(BadInputError, match="no batches"):
        summarize_batches([])


def test_validation_classes_that_training_never_sees():
    x, y = _data()
    ys = np.sort(y)
    cut = int(0.75 * len(ys))
    found = [f for f in check_arrays(x[:cut], ys[:cut], x[cut:], ys[cut:])
             if f.code.value == "DATA_SORTED_SPLIT"]
    assert found and found[0].severity.value == "error"
    assert found[0].evidence["val_classes_unseen_in_train"] == [3]
    assert "DATA_SORTED_SPLIT" not in codes(check_arrays(x[:cut], y[:cut], x[cut:], y[cut:]))
