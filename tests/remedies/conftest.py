"""Shared fixtures of the remedy tests."""

import pytest


@pytest.fixture(scope="module")
def keras():
    """Keras, seeded once per module."""
    import keras

    keras.utils.set_random_seed(0)
    return keras
