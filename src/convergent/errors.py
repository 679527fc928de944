"""Errors the library raises for bad usage or bad input; each carries the CLI exit code."""

from __future__ import annotations


class ConvergentError(Exception):
    """Base error: the message says what was received and what to do."""

    exit_code = 2


class BadInputError(ConvergentError, ValueError):
    """The input (folder, file, arrays, model, script) cannot be used as given."""


class NotBuiltError(ConvergentError):
    """A command that is planned but not built yet."""
