"""Remedies: what fixes each finding, as a code change to show, a Recipe transform
(``remedies.transforms``) and a run-time change of a user's fit (``remedies.runtime``)."""

from convergent.remedies.catalog import CATALOG, remedies_for, remedy

__all__ = ["CATALOG", "remedies_for", "remedy"]
