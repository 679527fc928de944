"""scan(): one entry point for folders, arrays and pipelines; the report's metrics; the CLI."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from convergent.cli import app
from convergent.data.scan import scan
from convergent.errors import BadInputError

from .conftest import CLASSES, make_healthy, pattern


def test_healthy_folder_is_healthy(healthy_report):
    assert healthy_report.healthy, healthy_report.codes
    m = healthy_report.metrics
    assert m["class_counts"] == {"train": {c: 24 for c in sorted(CLASSES)}}
    assert m["summary"]["images"] == 96 and m["summary"]["undecodable"] == 0
    assert {"list", "decode", "checks", "total"} <= set(m["timings"])


def test_faulty_folder_findings_and_json(faulty):
    root, truth, report = faulty
    assert set(truth) <= set(report.codes)
    assert report.exit_code() == 1 and report.metrics["root"] == str(root.resolve())
    d = json.loads(report.to_json())
    f = next(x for x in d["findings"] if x["code"] == "DATA_CORRUPT")
    assert f["evidence"]["files"] == truth["DATA_CORRUPT"] and f["remedies"]
    assert "vbars/vbars_003.png" in report.metrics["files"]  # facts for thumbnails


def test_scan_never_writes_into_the_folder(tmp_path):
    make_healthy(tmp_path, per_class=3)
    before = sorted((p, p.stat().st_mtime_ns) for p in tmp_path.rglob("*"))
    scan(tmp_path)
    assert sorted((p, p.stat().st_mtime_ns) for p in tmp_path.rglob("*")) == before


def test_progress_callback_and_parallel_decoding(tmp_path, monkeypatch):
    from convergent.data import table

    make_healthy(tmp_path, per_class=5)
    monkeypatch.setattr(table, "MIN_PARALLEL", 0)
    monkeypatch.setattr(table, "SHARD_SIZE", 4)
    seen = []
    report = scan(tmp_path, on_progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (20, 20) and report.metrics["summary"]["decoded"] == 20


def _arrays(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 4
    x = np.stack([pattern(CLASSES[c], rng) for c in y])
    return x, y


def test_scan_arrays_runs_array_and_image_checks():
    x, y = _arrays()
    xv, yv = _arrays(40, seed=1)
    healthy = scan(x / 255.0, y, xv / 255.0, yv)
    assert not {"DATA_UNNORMALIZED", "DATA_LEAKAGE", "DATA_DUPLICATES"} & set(healthy.codes)
    xv[:3] = x[:3]  # leak three training images into validation, forget /255 on val
    report = scan(x / 255.0, y, xv.astype("float32"), yv)
    assert {"DATA_LEAKAGE", "DATA_INCONSISTENT_RANGE", "DATA_UNNORMALIZED"} <= set(report.codes)
    leak = next(f for f in report.findings if f.code.value == "DATA_LEAKAGE")
    assert ["train[0]", "val[0]"] in leak.evidence["pairs"]


def test_scan_pipeline_of_batches():
    x, y = _arrays(64)
    batches = [(x[i:i + 16] / 255.0, y[i:i + 16]) for i in range(0, 64, 16)]
    assert scan(batches).codes == []
    batches.append((x[:16].astype("float32"), y[:16]))
    assert "DATA_INCONSISTENT_RANGE" in scan(batches).codes


def test_scan_rejects_what_it_cannot_read(tmp_path):
    with pytest.raises(BadInputError, match="is empty"):
        scan(tmp_path)
    with pytest.raises(BadInputError, match="takes a folder path"):
        scan(3)


@pytest.mark.parametrize("case, code", [("empty", 2), ("healthy", 0), ("faulty", 1)])
def test_cli_exit_codes(tmp_path, case, code, faulty):
    root = tmp_path / "d"
    root.mkdir()
    if case == "healthy":
        make_healthy(root, per_class=12)
    if case == "faulty":
        root = faulty[0]
    result = CliRunner().invoke(app, ["scan", str(root), "--quiet", "--json",
                                      str(tmp_path / "r.json")])
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output


def test_checks_in_two_threads_find_what_one_thread_finds(faulty, monkeypatch):
    from convergent.data import checks
    from convergent.data.folder import discover
    from convergent.data.table import build_table

    root = faulty[0]
    listing = discover(root)
    table = build_table(str(listing.root), listing.files)
    table.classes = listing.classes
    monkeypatch.setattr(checks, "_cores", lambda: 2)
    both = checks.run_checks(table)
    monkeypatch.setattr(checks, "_cores", lambda: 1)
    one = checks.run_checks(table)
    assert [(f.code, f.evidence) for f in both] == [(f.code, f.evidence) for f in one]


def test_checks_release_the_features_before_the_near_copy_checks(faulty, monkeypatch):
    from convergent.data import checks
    from convergent.data.checks import embedding, outliers
    from convergent.data.folder import discover
    from convergent.data.table import build_table

    listing = discover(faulty[0])
    table = build_table(str(listing.root), listing.files)
    table.classes = listing.classes
    events = []
    real_features, real_release = embedding.features, embedding.release

    def spy_features(ctx):
        events.append("features")
        return real_features(ctx)

    def spy_release(ctx):
        events.append("release")
        real_release(ctx)
        assert "features" not in ctx.cache

    monkeypatch.setattr(embedding, "features", spy_features)
    monkeypatch.setattr(outliers, "features", spy_features)
    monkeypatch.setattr(embedding, "release", spy_release)
    monkeypatch.setattr(checks, "_cores", lambda: 1)
    found = checks.run_checks(table)
    assert events.count("release") == 1 and events[-1] == "release"  # no reader after it
    assert "features" in events
    assert set(checks.EMBEDDING_READERS) <= set(checks.DATA_CHECKS.names())
    monkeypatch.setattr(embedding, "release", lambda ctx: None)
    kept = checks.run_checks(table)
    assert [(f.code, f.evidence) for f in found] == [(f.code, f.evidence) for f in kept]
