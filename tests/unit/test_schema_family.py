"""The scan, slim and repair JSON documents against their published schemas.

Each schema lives twice, in ``docs/schema/`` and (shipped) in ``wheelfix/schema/``. Real
documents are validated: scan and slim (dry run and ``apply=True``) on a small environment
that pip installs from the sample wheels, and a successful and a failing repair.
"""

from __future__ import annotations

import copy
import importlib.resources
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from schemas import (
    Document,
    docs_schema,
    load_schema,
    package_schema,
    round_trip,
    schema_errors,
)

import wheelfix
from wheelfix.cli.app import cli
from wheelfix.installed.scan import scan
from wheelfix.installed.slim import slim
from wheelfix.wheels.results import SCHEMA_VERSION

REPO = Path(__file__).resolve().parents[2]
NAMES = ("repair", "scan", "slim")
CHECK_SCHEMA = REPO / "docs" / "schema" / "check.schema.json"


def _sample(prefix: str) -> Path:
    (path,) = (REPO / "sample_wheels").glob(f"{prefix}-*.whl")
    return path


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """wfdemo_debug and wfdemo_pure, installed by pip with --target (never modified)."""
    root = tmp_path_factory.mktemp("env") / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            "--target",
            str(root),
            str(_sample("wfdemo_debug")),
            str(_sample("wfdemo_pure")),
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    return root


def _copy(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("copy") / "site"
    shutil.copytree(installed, target, symlinks=True)
    return target


@pytest.fixture(scope="module")
def scan_document(installed: Path) -> Document:
    return round_trip(scan(installed).to_json())


@pytest.fixture(scope="module")
def dry_run_document(installed: Path) -> Document:
    return round_trip(slim(installed).to_json())


@pytest.fixture(scope="module")
def applied_document(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Document:
    return round_trip(slim(_copy(installed, tmp_path_factory), apply=True).to_json())


@pytest.fixture(scope="module")
def repair_document(tmp_path_factory: pytest.TempPathFactory) -> Document:
    out = tmp_path_factory.mktemp("wheelhouse")
    report = wheelfix.repair([_sample("wfdemo_debug")], out, strip="unneeded", jobs=1)
    return round_trip(report.to_json())


@pytest.fixture(scope="module")
def failed_repair_document(tmp_path_factory: pytest.TempPathFactory) -> Document:
    out = tmp_path_factory.mktemp("wheelhouse-failed")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("LD_LIBRARY_PATH", raising=False)
        mp.delenv("AUDITWHEEL_LD_LIBRARY_PATH", raising=False)
        report = wheelfix.repair([_sample("wfdemo_extlib")], out, strip="unneeded", jobs=1)
    return round_trip(report.to_json())


@pytest.fixture(scope="module")
def documents(
    scan_document: Document, applied_document: Document, repair_document: Document
) -> dict[str, Document]:
    return {"scan": scan_document, "slim": applied_document, "repair": repair_document}


# -- the schema files -----------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    schema = load_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("name", NAMES)
def test_the_two_copies_are_identical(name: str) -> None:
    assert docs_schema(name).read_bytes() == package_schema(name).read_bytes()


@pytest.mark.parametrize("name", NAMES)
def test_the_package_ships_the_schema(name: str) -> None:
    shipped = importlib.resources.files("wheelfix").joinpath(f"schema/{name}.schema.json")
    assert shipped.read_text(encoding="utf-8") == docs_schema(name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", NAMES)
def test_schema_version_matches_code(name: str) -> None:
    schema = load_schema(name)
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    assert "schema_version" in schema["required"]


@pytest.mark.parametrize("name", ["repair", "scan"])  # slim's document has no findings
def test_the_finding_definition_is_the_check_schemas(name: str) -> None:
    check: Document = json.loads(CHECK_SCHEMA.read_text(encoding="utf-8"))
    assert load_schema(name)["$defs"]["finding"] == check["$defs"]["finding"]


# -- real documents -------------------------------------------------------------------------
def test_scan_document_validates(scan_document: Document) -> None:
    assert schema_errors("scan", scan_document) == []
    names = {d["name"] for d in scan_document["distributions"]}
    assert names == {"wfdemo-debug", "wfdemo-pure"}
    debug = next(d for d in scan_document["distributions"] if d["name"] == "wfdemo-debug")
    assert debug["debug_info"] > 0
    assert debug["categories"]["tests"] > 0
    assert "WF301" in {f["code"] for f in debug["findings"]}
    assert scan_document["savings"]["strip"] > 0


def test_scan_with_unowned_files_validates(
    installed: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = _copy(installed, tmp_path_factory)
    (root / "stray.py").write_text("VALUE = 1\n", encoding="utf-8")
    document = round_trip(scan(root, fail_on="info").to_json())
    assert schema_errors("scan", document) == []
    unowned = next(d for d in document["distributions"] if d["dist_info"] is None)
    assert unowned["name"] == "<unowned>"
    assert "WF605" in {f["code"] for f in unowned["findings"]}
    assert document["exit_code"] == 1


def test_slim_dry_run_document_validates(dry_run_document: Document) -> None:
    assert schema_errors("slim", dry_run_document) == []
    assert dry_run_document["applied"] is False
    assert {"strip", "tests", "sources"} <= set(dry_run_document["by_category"])
    assert dry_run_document["exit_code"] == 0


def test_slim_apply_document_validates(applied_document: Document) -> None:
    assert schema_errors("slim", applied_document) == []
    assert applied_document["applied"] is True
    assert applied_document["restored"] == {}
    assert applied_document["after"] < applied_document["before"]


def test_repair_document_validates(repair_document: Document) -> None:
    assert schema_errors("repair", repair_document) == []
    (result,) = repair_document["results"]
    assert result["status"] == "repaired"
    assert result["stripped"]
    assert repair_document["exit_code"] == 0


def test_failed_repair_document_validates(failed_repair_document: Document) -> None:
    assert schema_errors("repair", failed_repair_document) == []
    (result,) = failed_repair_document["results"]
    assert result["status"] == "error"
    assert result["output"] is None
    assert "libwfext.so.1" in result["error"]["message"]
    assert failed_repair_document["exit_code"] == 1


@pytest.mark.parametrize(
    ("name", "args"),
    [("scan", ["scan", "--fail-on", "never"]), ("slim", ["slim", "--no-config"])],
)
def test_command_line_json_validates(installed: Path, name: str, args: list[str]) -> None:
    result = CliRunner().invoke(cli, [*args, "--format", "json", str(installed)])
    assert result.exit_code == 0, result.output
    assert schema_errors(name, json.loads(result.stdout)) == []


# -- what the schemas refuse ----------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_missing_schema_version_is_rejected(documents: dict[str, Document], name: str) -> None:
    document = copy.deepcopy(documents[name])
    assert schema_errors(name, document) == []
    del document["schema_version"]
    assert schema_errors(name, document)


@pytest.mark.parametrize("name", NAMES)
def test_unknown_top_level_key_is_rejected(documents: dict[str, Document], name: str) -> None:
    document = copy.deepcopy(documents[name])
    document["surprise"] = 1
    assert schema_errors(name, document)


def test_nested_objects_are_closed(
    scan_document: Document, applied_document: Document, repair_document: Document
) -> None:
    scan_doc = copy.deepcopy(scan_document)
    scan_doc["distributions"][0]["surprise"] = 1
    assert schema_errors("scan", scan_doc)
    slim_doc = copy.deepcopy(applied_document)
    next(iter(slim_doc["by_category"].values()))["surprise"] = 1
    assert schema_errors("slim", slim_doc)
    repair_doc = copy.deepcopy(repair_document)
    repair_doc["results"][0]["surprise"] = 1
    assert schema_errors("repair", repair_doc)


def test_slim_exit_code_agrees_with_restored(applied_document: Document) -> None:
    document = copy.deepcopy(applied_document)
    document["exit_code"] = 1  # nothing was restored
    assert schema_errors("slim", document)
    document["restored"] = {"demo-1.0.dist-info": "demo: ImportError: gone"}
    assert schema_errors("slim", document) == []
    document["applied"] = False  # a dry run restores nothing
    assert schema_errors("slim", document)


def test_repair_status_and_output_agree(
    repair_document: Document, failed_repair_document: Document
) -> None:
    repaired = copy.deepcopy(repair_document)
    repaired["results"][0]["status"] = "error"
    assert schema_errors("repair", repaired)
    failed = copy.deepcopy(failed_repair_document)
    failed["results"][0]["status"] = "repaired"
    assert schema_errors("repair", failed)
