"""Exposure and blur checks: the injected file is flagged; a healthy folder flags nothing."""

import pytest

CODES = ["DATA_DARK", "DATA_BRIGHT", "DATA_LOW_CONTRAST", "DATA_BLURRY"]


def _files(report, code):
    return sorted(f for x in report.findings if x.code.value == code
                  for f in x.evidence.get("files", []))


@pytest.mark.parametrize("code", CODES, ids=[c.lower() for c in CODES])
def test_injected_file_is_flagged(faulty, code):
    _, truth, report = faulty
    assert _files(report, code) == truth[code]


@pytest.mark.parametrize("code", CODES, ids=[c.lower() for c in CODES])
def test_healthy_folder_flags_nothing(healthy_report, code):
    assert _files(healthy_report, code) == []


def test_evidence_has_values_and_threshold(faulty):
    _, _, report = faulty
    f = next(x for x in report.findings if x.code.value == "DATA_DARK")
    assert f.evidence["threshold"]["mean_luminance_max"] == 0.2
    assert list(f.evidence["values"]) == f.evidence["files"]
    assert f.remedies and f.remedies[0].id == "review_images"


def test_a_problem_in_at_most_one_percent_of_images_is_advice(faulty):
    from convergent.data.checks import MINOR_FRACTION, fraction_severity

    _, _, report = faulty
    f = next(x for x in report.findings if x.code.value == "DATA_DARK")
    n_images = report.metrics["summary"]["images"]
    assert f.evidence["n"] / n_images <= MINOR_FRACTION and f.severity.value == "info"
    assert fraction_severity(11, 1000).value == "warning"
    assert fraction_severity(10, 1000).value == "info"
    assert fraction_severity(0, 0).value == "info"


def test_small_bright_content_on_black_is_not_dark():
    """A near-empty image (a few white pixels on black) has a low mean but bright
    highlights: not under-exposed. The same image scaled down to dim highlights is."""
    import numpy as np

    from convergent.data.scan import scan

    rng = np.random.default_rng(0)
    x = np.zeros((60, 28, 28), np.uint8)
    for i in range(60):
        r, c = rng.integers(4, 14, 2)
        x[i, r:r + 12, c:c + 12] = 255  # a square covering ~18 % of the image
    x[0] = 0
    x[0, 13:16, 13:16] = 255  # near-empty: 1 % bright pixels
    x[1] = (x[1] * 0.12).astype(np.uint8)  # the whole image dimmed: highlights at 0.12
    y = np.arange(60) % 3
    files = {f for fd in scan(x, y, progress=False).findings if fd.code.value == "DATA_DARK"
             for f in fd.evidence["files"]}
    assert files == {"train[1]"}
