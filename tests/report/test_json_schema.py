"""docs/json-schema.md stays true: its example is what the code writes, and reports validate.

The schema is checked with a tiny validator for the JSON-Schema keywords the document
uses (type, required, properties, additionalProperties, items, enum, minimum, maximum,
const), so no extra dependency is needed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from convergent.findings import Code, Finding, Report, Severity
from convergent.remedies.catalog import remedies_for

DOC = Path(__file__).resolve().parents[2] / "docs" / "json-schema.md"
TYPES = {"object": dict, "array": list, "string": str, "number": (int, float),
         "integer": int, "boolean": bool, "null": type(None)}


def example_report() -> Report:
    """The report whose JSON is the example in docs/json-schema.md."""
    return Report([
        Finding(Code.DATA_CORRUPT, Severity.ERROR, 0.99, "2 files cannot be decoded",
                "These files are truncated or not images; loading them stops or poisons "
                "training.", {"files": ["train/dog/007.jpg", "train/cat/112.png"],
                              "reasons": {"train/dog/007.jpg": "truncated",
                                          "train/cat/112.png": "zero bytes"}},
                remedies_for(Code.DATA_CORRUPT)[:1]),
        Finding(Code.DATA_LEAKAGE, Severity.WARNING, 0.8, "2 validation images are also in train",
                "Near-identical images on both sides make validation accuracy look better "
                "than it is.", {"pairs": [["train/cat/001.png", "val/cat/017.png"],
                                          ["train/dog/044.png", "val/dog/003.png"]],
                               "hamming_max": 4, "threshold": 4},
                remedies_for(Code.DATA_LEAKAGE)[:1]),
    ], command="scan", subject="data/", metrics={
        "root": "/home/me/data",
        "summary": {"images": 1200, "classes": 2, "flagged": 4},
        "class_counts": {"train": {"cat": 500, "dog": 460}, "val": {"cat": 120, "dog": 120}},
        "timings": {"load_s": 1.9, "checks_s": 0.7}})


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)


def _validate(value: Any, schema: dict, path: str = "$") -> list[str]:
    errors: list[str] = []
    t = schema.get("type")
    if t:
        types = t if isinstance(t, list) else [t]
        ok = any(isinstance(value, TYPES[x]) and not (x in ("number", "integer") and
                                                      isinstance(value, bool))
                 for x in types)
        if not ok:
            return [f"{path}: {value!r} is not {t}"]
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: {value!r} != {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in enum")
    if "minimum" in schema and value < schema["minimum"]:
        errors.append(f"{path}: {value!r} < {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        errors.append(f"{path}: {value!r} > {schema['maximum']}")
    if isinstance(value, dict):
        for k in schema.get("required", []):
            if k not in value:
                errors.append(f"{path}: missing {k!r}")
        props = schema.get("properties", {})
        for k, v in value.items():
            if k in props:
                errors += _validate(v, props[k], f"{path}.{k}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unexpected {k!r}")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += _validate(v, schema["additionalProperties"], f"{path}.{k}")
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            errors += _validate(v, schema["items"], f"{path}[{i}]")
    return errors


def _schema() -> dict:
    blocks = [json.loads(b) for b in _blocks("json") if '"$schema"' in b]
    assert len(blocks) == 1, "docs/json-schema.md must hold exactly one JSON Schema block"
    return blocks[0]


def test_doc_example_is_what_the_code_writes() -> None:
    examples = [json.loads(b) for b in _blocks("json") if '"$schema"' not in b]
    assert examples, "docs/json-schema.md has no example"
    written = example_report().to_dict()
    doc = examples[0]
    doc["tool"] = written["tool"]  # the version in the example may lag the package
    assert doc == written, "paste example_report().to_json() into docs/json-schema.md"


def test_schema_codes_are_the_enum() -> None:
    code_enum = _schema()["$defs"]["finding"]["properties"]["code"]["enum"]
    assert code_enum == [c.value for c in Code]


@pytest.mark.parametrize("command", ["scan", "run", "fit"])
def test_reports_validate(reports, command: str) -> None:
    data = json.loads(reports[command].to_json())
    schema = _schema()
    defs = schema["$defs"]

    def resolve(s: Any) -> Any:  # inline the $refs (one level of $defs is all we use)
        if isinstance(s, dict):
            if "$ref" in s:
                return resolve(defs[s["$ref"].rsplit("/", 1)[-1]])
            return {k: resolve(v) for k, v in s.items()}
        return s

    assert _validate(data, resolve({k: v for k, v in schema.items() if k != "$defs"})) == []


def test_validator_catches_a_bad_report() -> None:
    schema = _schema()
    bad = json.loads(example_report().to_json())
    bad["findings"][0]["severity"] = "fatal"
    bad["version"] = 2
    finding = schema["$defs"]["finding"]
    assert _validate(bad["findings"][0], finding)
    assert _validate(bad["version"], schema["properties"]["version"])
