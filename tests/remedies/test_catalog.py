import pytest

from convergent.findings import Code
from convergent.remedies import CATALOG, remedies_for, remedy

# codes that no code change can fix (they need new or different data collected by hand)
NOT_FIXABLE_IN_CODE: set[Code] = set()


def test_every_code_has_a_remedy():
    covered = {c for e in CATALOG.values() for c in e.codes}
    assert {c for c in Code} - NOT_FIXABLE_IN_CODE <= covered


def test_remedies_for_puts_preferred_first():
    ids = [r.id for r in remedies_for(Code.DATA_UNNORMALIZED, "standardize")]
    assert ids[0] == "standardize" and "rescale" in ids


def test_unknown_remedy_names_the_known_ones():
    with pytest.raises(KeyError, match="rescale"):
        remedy("nope")
