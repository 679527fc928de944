"""Tiny seeded datasets for the trainer tests."""

import numpy as np
import pytest

from convergent import datasets


@pytest.fixture(scope="session")
def digits_small():
    """300 digits (30 per class), uint8 8x8."""
    x, y, names = datasets.load("digits")
    x, y = datasets.subsample(x, y, per_class=30, seed=0)
    return x, y, names


@pytest.fixture(scope="session")
def digits_folder(tmp_path_factory, digits_small):
    x, y, names = digits_small
    return datasets.write_folder(x, y, tmp_path_factory.mktemp("data") / "digits", names)


def snapshot(folder):
    """Every file under ``folder`` with its bytes, to prove nothing was modified."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def rng():
    return np.random.default_rng(0)
