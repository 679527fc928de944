"""Keras, imported once for the probe tests."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def K() -> Any:
    import keras

    return keras
