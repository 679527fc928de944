"""The examples in the package's docstrings run as written (they are documentation)."""

import doctest
import importlib
import pkgutil

import pytest

import convergent

MODULES = sorted(m.name for m in pkgutil.walk_packages(convergent.__path__, "convergent.")
                 if not m.name.split(".")[-1].startswith("__"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed"
