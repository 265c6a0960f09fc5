"""The result types of ``check``: JSON shapes, status, worst severity, exit codes.

Documents are validated against the published schema (docs/schema/check.schema.json), as
tests/unit/test_schema.py does for whole runs; here each field of the types is set by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from machopebuilder import MachO, fat, macho, pe

import wheelfix
from wheelfix.findings import Check, Finding, Severity
from wheelfix.formats.macho import parse_macho
from wheelfix.formats.pe import parse_pe
from wheelfix.wheels.results import (
    SCHEMA_VERSION,
    CheckReport,
    ElfSummary,
    MachOSummary,
    PeSummary,
    Sizes,
    Tags,
    WheelResult,
)

REPO = Path(__file__).resolve().parents[3]
SCHEMA = REPO / "docs" / "schema" / "check.schema.json"


def validate(report: CheckReport) -> dict[str, Any]:
    """The document a consumer of ``--format json`` reads, checked against the schema."""
    document: dict[str, Any] = json.loads(json.dumps(report.to_json()))
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
    assert errors == []
    return document


def debug(path: str = "demo/_x.so") -> Finding:
    return Finding(check=Check.DEBUG_INFO, message="12.0 KiB of DWARF", path=path, bytes=12288)


def symtab() -> Finding:
    return Finding(check=Check.SYMBOL_TABLE, message="symbols", path="demo/_x.so", bytes=800)


def full_result() -> WheelResult:
    return WheelResult(
        path="dist/demo-1.0-cp311-cp311-linux_x86_64.whl",
        filename="demo-1.0-cp311-cp311-linux_x86_64.whl",
        tags=Tags(
            claimed=("linux_x86_64",),
            wheel_file=("cp311-cp311-linux_x86_64",),
            consistent="manylinux_2_17_x86_64",
            repairable=None,
        ),
        libc="glibc",
        arch="x86_64",
        external_libraries={"demo/_x.so": ("libfoo.so.1",)},
        external_library_paths={"libfoo.so.1": None},
        sizes=Sizes(compressed=10, uncompressed=20, elf=15, debug_info=12288, symbol_table=800),
        strip_savings={"debug": 12288, "unneeded": 13088, "all": 13100},
        elf_files=(
            ElfSummary(
                path="demo/_x.so",
                arch="x86_64",
                libc="glibc",
                size=15,
                debug_info=12288,
                symbol_table=800,
                needed=("libc.so.6", "libfoo.so.1"),
                isa_level=1,
                extension_module=True,
            ),
        ),
        findings=(debug(), symtab()),
    )


def test_status_ok_findings_error() -> None:
    assert WheelResult(path="a", filename="a").status == "ok"
    assert WheelResult(path="a", filename="a", findings=(symtab(),)).status == "findings"
    # an unreadable input is "error" even if findings were gathered before it failed
    broken = WheelResult(path="a", filename="a", error="not a zip", findings=(symtab(),))
    assert broken.status == "error"


def test_worst() -> None:
    assert WheelResult(path="a", filename="a").worst() is None
    assert WheelResult(path="a", filename="a", findings=(symtab(),)).worst() is Severity.INFO
    both = WheelResult(path="a", filename="a", findings=(symtab(), debug()))
    assert both.worst() is Severity.WARNING
    raised = Finding(check=Check.SYMBOL_TABLE, message="m", severity=Severity.ERROR)
    assert WheelResult(path="a", filename="a", findings=(raised,)).worst() is Severity.ERROR


def test_sizes_and_tags_json() -> None:
    assert Sizes().to_json() == {
        "compressed": 0,
        "uncompressed": 0,
        "elf": 0,
        "debug_info": 0,
        "symbol_table": 0,
    }
    tags = Tags(claimed=("a", "b"), wheel_file=("py3-none-a",), consistent=None, repairable="r")
    assert tags.to_json() == {
        "claimed": ["a", "b"],
        "wheel_file": ["py3-none-a"],
        "consistent": None,
        "repairable": "r",
        "native_consistent": None,
    }


def test_full_result_json_shape_and_schema() -> None:
    document = validate(CheckReport(results=(full_result(),)))
    assert document["schema_version"] == SCHEMA_VERSION
    assert document["wheelfix_version"] == wheelfix.__version__
    assert document["fail_on"] == "error"
    assert document["exit_code"] == 0  # a warning and an info do not fail --fail-on error
    (result,) = document["results"]
    assert result["status"] == "findings"
    assert result["error"] is None
    assert result["external_libraries"] == {"demo/_x.so": ["libfoo.so.1"]}
    assert result["external_library_paths"] == {"libfoo.so.1": None}
    assert result["elf_files"][0]["needed"] == ["libc.so.6", "libfoo.so.1"]
    assert result["elf_files"][0]["extension_module"] is True
    assert [f["code"] for f in result["findings"]] == ["WF301", "WF302"]
    assert result["findings"][0] == {
        "code": "WF301",
        "name": "debug-info",
        "severity": "warning",
        "path": "demo/_x.so",
        "message": "12.0 KiB of DWARF",
        "bytes": 12288,
        "hint": Check.DEBUG_INFO.hint,
    }
    assert (result["macho_files"], result["pe_files"], result["sboms"]) == ([], [], [])


def test_error_result_json() -> None:
    broken = WheelResult(path="x.whl", filename="x.whl", error="x.whl: not a zip file")
    document = validate(CheckReport(results=(broken,)))
    (result,) = document["results"]
    assert result["status"] == "error"
    assert result["error"] == {"message": "x.whl: not a zip file"}
    assert result["tags"] is None
    assert document["exit_code"] == 2


@pytest.mark.parametrize(
    ("fail_on", "label", "code"),
    [
        (Severity.ERROR, "error", 0),
        (Severity.WARNING, "warning", 1),
        (Severity.INFO, "info", 1),
        (None, "never", 0),
    ],
)
def test_exit_code_follows_the_gate(fail_on: Severity | None, label: str, code: int) -> None:
    report = CheckReport(results=(full_result(),), fail_on=fail_on)
    assert report.exit_code == code
    document = validate(report)
    assert (document["fail_on"], document["exit_code"]) == (label, code)


def test_info_only_passes_a_warning_gate() -> None:
    only_info = WheelResult(path="a", filename="a", findings=(symtab(),))
    assert CheckReport(results=(only_info,), fail_on=Severity.WARNING).exit_code == 0


def test_unreadable_input_is_2_whatever_the_gate() -> None:
    broken = WheelResult(path="x.whl", filename="x.whl", error="bad")
    for fail_on in (Severity.ERROR, None):
        report = CheckReport(results=(full_result(), broken), fail_on=fail_on)
        assert report.exit_code == 2


def test_empty_report() -> None:
    report = CheckReport(results=())
    assert report.exit_code == 0
    assert list(report.all_findings()) == []
    assert validate(report)["results"] == []


def test_all_findings_spans_results() -> None:
    second = WheelResult(path="b", filename="b", findings=(debug("b/_y.so"),))
    report = CheckReport(results=(full_result(), second))
    assert [(f.code, f.path) for f in report.all_findings()] == [
        ("WF301", "demo/_x.so"),
        ("WF302", "demo/_x.so"),
        ("WF301", "b/_y.so"),
    ]


def test_a_real_unreadable_wheel_gives_2(tmp_path: Path) -> None:
    bogus = tmp_path / "x-1.0-py3-none-any.whl"
    bogus.write_text("this is not a zip archive\n", encoding="utf-8")
    report = wheelfix.check([str(bogus)], jobs=1)
    assert report.exit_code == 2
    (result,) = report.results
    assert result.status == "error"
    assert result.error is not None
    assert str(bogus) in result.error or bogus.name in result.error
    validate(report)


def test_macho_and_pe_summaries_fit_the_schema() -> None:
    info = parse_macho(fat([macho(MachO(arch="x86_64", min_os=(10, 9, 0))), macho()]))
    pe_info = parse_pe(pe())
    result = WheelResult(
        path="a",
        filename="a",
        # the schema asks every readable wheel for its tags and strip savings
        tags=Tags(claimed=("any",), wheel_file=("py3-none-any",), consistent=None, repairable=None),
        strip_savings={"debug": 0, "unneeded": 0, "all": 0},
        macho_files=(MachOSummary.of("demo/_m.so", info),),
        pe_files=(PeSummary.of("demo/_p.pyd", pe_info),),
    )
    (document,) = validate(CheckReport(results=(result,)))["results"]
    (mach,) = document["macho_files"]
    assert (mach["path"], mach["fat"], mach["size"]) == ("demo/_m.so", True, info.file_size)
    assert [s["arch"] for s in mach["slices"]] == [s.arch for s in info.slices]
    assert mach["slices"][0]["min_os"] == "10.9.0"
    (win,) = document["pe_files"]
    assert (win["path"], win["machine"], win["size"]) == (
        "demo/_p.pyd",
        pe_info.machine,
        pe_info.file_size,
    )
    assert win["imports"] == list(pe_info.imports)
