"""Remedies: what fixes each finding, as a code change to show and (later) a Recipe transform."""

from convergent.remedies.catalog import CATALOG, remedy, remedies_for

__all__ = ["CATALOG", "remedy", "remedies_for"]
