"""The JSON report against its published schema (docs/schema/check.schema.json)."""

from __future__ import annotations

import copy
import importlib.resources
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import wheelfix
from wheelfix.findings import Check
from wheelfix.wheels.results import SCHEMA_VERSION

REPO = Path(__file__).resolve().parents[2]
DOCS_SCHEMA = REPO / "docs" / "schema" / "check.schema.json"
PACKAGE_SCHEMA = REPO / "wheelfix" / "schema" / "check.schema.json"
SAMPLES = sorted(str(p) for p in (REPO / "sample_wheels").glob("*.whl"))


def _schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DOCS_SCHEMA.read_text(encoding="utf-8"))
    return loaded


def _validator() -> Any:
    schema = _schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def _errors(document: object) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in _validator().iter_errors(document)
    ]


def _round_trip(report: wheelfix.CheckReport) -> dict[str, Any]:
    """What a consumer of `--format json` sees (tuples become lists, and so on)."""
    document: dict[str, Any] = json.loads(json.dumps(report.to_json()))
    return document


@pytest.fixture(scope="module")
def samples_document() -> dict[str, Any]:
    assert SAMPLES, "no sample wheels"
    return _round_trip(wheelfix.check(SAMPLES, jobs=1))


@pytest.fixture
def unreadable_document(tmp_path: Path) -> dict[str, Any]:
    bogus = tmp_path / "x-1.0-py3-none-any.whl"
    bogus.write_text("this is not a zip archive\n", encoding="utf-8")
    return _round_trip(wheelfix.check([str(bogus)], jobs=1))


def test_schema_is_valid_draft_2020_12() -> None:
    schema = _schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_the_two_copies_are_identical() -> None:
    assert DOCS_SCHEMA.read_bytes() == PACKAGE_SCHEMA.read_bytes()


def test_the_package_ships_the_schema() -> None:
    shipped = importlib.resources.files("wheelfix").joinpath("schema/check.schema.json")
    assert shipped.read_text(encoding="utf-8") == DOCS_SCHEMA.read_text(encoding="utf-8")


def test_sample_wheels_report_validates(samples_document: dict[str, Any]) -> None:
    assert _errors(samples_document) == []
    statuses = {r["status"] for r in samples_document["results"]}
    assert statuses == {"ok", "findings"}
    assert any(r["findings"] for r in samples_document["results"])
    assert any(r["elf_files"] for r in samples_document["results"])


def test_unreadable_input_report_validates(unreadable_document: dict[str, Any]) -> None:
    assert _errors(unreadable_document) == []
    (result,) = unreadable_document["results"]
    assert result["status"] == "error"
    assert result["error"]["message"]
    assert unreadable_document["exit_code"] == 2


def test_mixed_report_validates(tmp_path: Path) -> None:
    bogus = tmp_path / "x-1.0-py3-none-any.whl"
    bogus.write_text("not a wheel", encoding="utf-8")
    document = _round_trip(wheelfix.check([*SAMPLES, str(bogus)], jobs=1, fail_on="never"))
    assert _errors(document) == []
    assert document["fail_on"] == "never"


def test_schema_schema_version_matches_code() -> None:
    assert _schema()["properties"]["schema_version"]["const"] == SCHEMA_VERSION


def test_result_without_status_is_rejected(samples_document: dict[str, Any]) -> None:
    document = copy.deepcopy(samples_document)
    del document["results"][0]["status"]
    assert _errors(document)


def test_unknown_keys_are_rejected(samples_document: dict[str, Any]) -> None:
    for where in ("top", "result", "finding"):
        document = copy.deepcopy(samples_document)
        if where == "top":
            document["surprise"] = 1
        elif where == "result":
            document["results"][0]["surprise"] = 1
        else:
            with_findings = next(r for r in document["results"] if r["findings"])
            with_findings["findings"][0]["surprise"] = 1
        assert _errors(document), where


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("code", "E101"),
        ("code", "WF1"),
        ("severity", "fatal"),
        ("bytes", -1),
        ("bytes", "12"),
        ("path", 3),
    ],
)
def test_bad_finding_values_are_rejected(
    samples_document: dict[str, Any], field: str, value: object
) -> None:
    document = copy.deepcopy(samples_document)
    with_findings = next(r for r in document["results"] if r["findings"])
    with_findings["findings"][0][field] = value
    assert _errors(document)


def test_status_and_error_must_agree(
    samples_document: dict[str, Any], unreadable_document: dict[str, Any]
) -> None:
    readable = copy.deepcopy(samples_document)
    readable["results"][0]["status"] = "error"
    assert _errors(readable)
    unreadable = copy.deepcopy(unreadable_document)
    unreadable["results"][0]["status"] = "ok"
    assert _errors(unreadable)


def test_every_check_code_fits_the_schema() -> None:
    finding_schema = _schema()["$defs"]["finding"]["properties"]
    validator = jsonschema.Draft202012Validator
    for check in Check:
        assert validator(finding_schema["code"]).is_valid(check.code)
        assert validator(finding_schema["name"]).is_valid(check.slug)
        assert validator(finding_schema["severity"]).is_valid(check.severity.label)
