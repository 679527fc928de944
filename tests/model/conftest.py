"""Tiny Keras models for the model tests (8x8x1 inputs, 10 classes)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest


@pytest.fixture(scope="session")
def K() -> Any:
    import keras

    return keras


@pytest.fixture(scope="session")
def labels() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 10, 500)


def build(K: Any, *layers: Any, loss: Any = "sparse_categorical_crossentropy",
          opt: Any = "adam", shape: tuple = (8, 8, 1), compile: bool = True) -> Any:
    m = K.Sequential([K.Input(shape), *layers])
    if compile:
        m.compile(opt, loss)
    return m


@pytest.fixture(scope="session")
def make() -> Any:
    return build
