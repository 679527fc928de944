"""Shared test setup: quiet, deterministic, CPU-only TensorFlow."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


def _skip_unless_installed(backend: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(importlib.util.find_spec(backend) is None,
                              reason=f"{backend} is not installed (pip install -e '.[dev]')")


@pytest.fixture(params=[pytest.param(b, marks=_skip_unless_installed(b))
                        for b in ("torch", "jax")])
def backend(request) -> str:
    """Each Keras backend besides TensorFlow that convergent supports (both in the dev
    extras), for tests that run a script on it through ``on_backend``."""
    return request.param


@pytest.fixture
def on_backend():
    """Run a script in a fresh Python on another Keras backend (it is fixed at import);
    return the JSON object its last output line prints."""
    def run(script: str, backend: str = "torch", timeout: float = 600) -> dict:
        env = dict(os.environ, KERAS_BACKEND=backend)
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                             text=True, timeout=timeout, check=False)
        assert out.returncode == 0, out.stderr[-3000:]
        res = json.loads(out.stdout.strip().splitlines()[-1])
        assert res["backend"] == backend
        return res

    return run
