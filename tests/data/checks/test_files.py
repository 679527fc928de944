"""File checks: corrupt files, class counts, odd sizes, grayscale among colour."""

import numpy as np
import pytest

from convergent.data.scan import scan

from ..conftest import make_healthy, pattern, save


def _ev(report, code, key="files"):
    return sorted(v for x in report.findings if x.code.value == code
                  for v in x.evidence.get(key, []))


@pytest.mark.parametrize("code", ["DATA_CORRUPT", "DATA_ODD_SIZE", "DATA_GRAYSCALE_AS_RGB"])
def test_file_codes_positive_and_negative(faulty, healthy_report, code):
    _, truth, report = faulty
    assert _ev(report, code) == truth[code]
    assert _ev(healthy_report, code) == []


def test_corrupt_kinds_are_named(faulty):
    _, _, report = faulty
    f = next(x for x in report.findings if x.code.value == "DATA_CORRUPT")
    errors = f.evidence["errors"]
    assert errors["hbars/hbars_001.png"] == "zero bytes"
    assert errors["hbars/hbars_002.png"] == "HTML page"
    assert errors["hbars/hbars_000.png"].startswith(("truncated", "undecodable"))


@pytest.mark.parametrize("code", ["DATA_EMPTY_CLASS", "DATA_TOO_FEW"])
def test_class_count_codes(faulty, healthy_report, code):
    _, truth, report = faulty
    assert _ev(report, code, "classes") == truth[code]
    assert _ev(healthy_report, code, "classes") == []


def test_imbalance_lists_minority_classes(tmp_path):
    rng = np.random.default_rng(0)
    for k in range(120):
        save(pattern("hbars", rng), tmp_path / "big" / f"{k}.png")
    for k in range(10):
        save(pattern("vbars", rng), tmp_path / "small" / f"{k}.png")
    report = scan(tmp_path)
    f = next(x for x in report.findings if x.code.value == "DATA_IMBALANCE")
    assert f.evidence["classes"] == ["small"] and f.evidence["ratio"] == 12.0


def test_balanced_folder_is_not_imbalanced(healthy_report):
    assert "DATA_IMBALANCE" not in healthy_report.codes


def test_class_missing_from_val_split(tmp_path):
    make_healthy(tmp_path, per_class=12, split="train")
    make_healthy(tmp_path, per_class=4, seed=1, split="val")
    for p in (tmp_path / "val" / "rings").iterdir():
        p.unlink()
    report = scan(tmp_path)
    f = [x for x in report.findings if x.code.value == "DATA_EMPTY_CLASS"]
    assert f and f[0].evidence == {**f[0].evidence, "classes": ["rings"], "split": "val"}
