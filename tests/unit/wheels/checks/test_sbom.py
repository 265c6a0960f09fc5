"""SBOMs in wheels (PEP 770): WF210 on wheels built on the fly with a real grafted ELF
library, components in the JSON report, and hostile documents that are notes, not crashes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner
from schemas import round_trip, schema_errors
from wheelmaker import MakeWheel

import wheelfix
from wheelfix.cli.app import cli
from wheelfix.wheels.audit import CheckOptions, check_wheel
from wheelfix.wheels.checks.sbom import MAX_SBOM_BYTES, original_soname, parse_sbom

GRAFTED = "demo.libs/libyaml-0-1a2b3c4d.so.2.0.9"
SBOM = "demo-1.0.dist-info/sboms/auditwheel.cdx.json"


def _sbom(*names: str) -> str:
    """A document shaped like auditwheel 6.8's (components: the wheel, then one per package)."""
    own = {"type": "library", "name": "demo", "version": "1.0", "purl": "pkg:pypi/demo@1.0"}
    libs = [
        {"type": "library", "name": n, "version": "1", "purl": f"pkg:deb/debian/{n}@1"}
        for n in names
    ]
    return json.dumps(
        {
            "bomFormat": "CycloneDX",
            "specVersion": "1.4",
            "version": 1,
            "metadata": {"component": own, "tools": [{"name": "auditwheel", "version": "6.8.2"}]},
            "components": [own, *libs],
        }
    )


def _wheel(make_wheel: MakeWheel, library: bytes, sbom: str | bytes | None) -> Path:
    files: dict[str, bytes | str] = {"demo/__init__.py": "", GRAFTED: library}
    if sbom is not None:
        files[SBOM] = sbom
    return make_wheel(files)


def _codes(wheel: Path) -> list[str]:
    report = wheelfix.check([wheel], select=["WF210"], jobs=1)
    return [f.code for f in report.results[0].findings]


@pytest.fixture
def library(elf_fixtures: Mapping[str, Path]) -> bytes:
    return elf_fixtures["release"].read_bytes()


def test_grafted_library_without_sbom_is_reported(make_wheel: MakeWheel, library: bytes) -> None:
    report = wheelfix.check([_wheel(make_wheel, library, None)], select=["WF210"], jobs=1)
    (finding,) = report.results[0].findings
    assert (finding.code, finding.path, finding.level.label) == ("WF210", GRAFTED, "info")
    assert "libyaml-0.so.2.0.9" in finding.message
    assert finding.bytes == len(library)
    assert report.exit_code == 0  # information never fails the default gate


@pytest.mark.parametrize("package", ["libyaml-0-2", "libyaml", "libyaml-0-2-dbg", "YAML"])
def test_sbom_naming_the_package_covers_it(
    make_wheel: MakeWheel, library: bytes, package: str
) -> None:
    assert _codes(_wheel(make_wheel, library, _sbom(package))) == []


def test_sbom_naming_another_package_does_not(make_wheel: MakeWheel, library: bytes) -> None:
    assert _codes(_wheel(make_wheel, library, _sbom("zlib1g", "libpq5", "lib"))) == ["WF210"]


@pytest.mark.parametrize(
    ("filename", "package", "covered"),
    [
        ("libfreetype-57f805ba.so.6.20.6", "FreeType", True),  # Pillow's own SBOM
        ("libwebpdemux-9fe2abcc.so.2.0.17", "libwebp", True),
        ("libgfortran-040039e1-0352e75f.so.5.0.0", "libgfortran", True),  # grafted twice
        ("libz-1a2b3c4d.so.1", "libzstd", False),  # too short to match by prefix
        ("libzstd-40ad5e7e.so.1.5.7", "zlib", False),
    ],
)
def test_name_matching(
    make_wheel: MakeWheel, library: bytes, filename: str, package: str, covered: bool
) -> None:
    files: dict[str, bytes | str] = {f"demo.libs/{filename}": library, SBOM: _sbom(package)}
    assert _codes(make_wheel(files)) == ([] if covered else ["WF210"])


def test_components_are_in_the_json_report(make_wheel: MakeWheel, library: bytes) -> None:
    report = wheelfix.check([_wheel(make_wheel, library, _sbom("libyaml-0-2"))], jobs=1)
    document = round_trip(report.to_json())
    assert schema_errors("check", document) == []
    (sbom,) = document["results"][0]["sboms"]
    assert sbom["path"] == SBOM
    assert sbom["tools"] == ["auditwheel"]
    assert sbom["error"] is None
    assert [c["purl"] for c in sbom["components"]] == [
        "pkg:pypi/demo@1.0",
        "pkg:deb/debian/libyaml-0-2@1",
    ]


HOSTILE: dict[str, str | bytes] = {
    "not-json": "{'bomFormat': ",
    "not-utf8": b"\xff\xfe{}",
    "deep": "[" * 100_000 + "]" * 100_000,
    "huge-int": '{"bomFormat": "CycloneDX", "components": [], "version": ' + "9" * 5000 + "}",
    "not-object": "[1, 2]",
    "not-cyclonedx": '{"spdxVersion": "SPDX-2.3"}',
    "components-not-list": '{"bomFormat": "CycloneDX", "components": {"a": 1}}',
    "bad-components": '{"bomFormat": "CycloneDX", "components": [1, null, {"name": 5}, '
    '{"type": "library", "name": "x"}], "metadata": {"tools": "auditwheel"}}',
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_sbom_is_a_note_not_a_crash(
    make_wheel: MakeWheel, library: bytes, kind: str
) -> None:
    wheel = _wheel(make_wheel, library, HOSTILE[kind])
    result = check_wheel(wheel, CheckOptions())
    assert result.error is None
    document = round_trip(wheelfix.check([wheel], jobs=1).to_json())
    assert schema_errors("check", document) == []
    (sbom,) = result.sboms
    assert sbom.error is not None
    (finding,) = [f for f in result.findings if f.code == "WF210"]
    if not sbom.components:
        assert f"ignored: {SBOM}" in finding.message


def test_oversized_sbom_is_not_read() -> None:
    padding = " " * MAX_SBOM_BYTES
    document = parse_sbom(SBOM, (_sbom("libyaml-0-2") + padding).encode())
    assert document.components == ()
    assert document.error is not None
    assert "larger than" in document.error


def test_cyclonedx_15_tools_object_is_read() -> None:
    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "metadata": {"tools": {"components": [{"type": "application", "name": "wheelfix"}]}},
        "components": [],
    }
    parsed = parse_sbom(SBOM, json.dumps(doc).encode())
    assert (parsed.tools, parsed.error, parsed.spec_version) == (("wheelfix",), None, "1.5")


@pytest.mark.parametrize(
    ("filename", "soname"),
    [
        ("libyaml-0-1a2b3c4d.so.2.0.9", "libyaml-0.so.2.0.9"),
        ("libgfortran-040039e1.so.5.0.0", "libgfortran.so.5.0.0"),
        ("libgfortran-040039e1-0352e75f.so.5.0.0", "libgfortran.so.5.0.0"),
        ("libfoo.so.1", "libfoo.so.1"),  # not renamed by auditwheel
    ],
)
def test_original_soname(filename: str, soname: str) -> None:
    assert original_soname(filename) == soname


@pytest.mark.parametrize("output", ["text", "json", "sarif"])
def test_cli_reports_hostile_sboms_without_a_traceback(
    make_wheel: MakeWheel, library: bytes, tmp_path: Path, output: str
) -> None:
    built = []
    for kind in ("deep", "not-utf8", "bad-components"):
        wheel = _wheel(make_wheel, library, HOSTILE[kind])
        (tmp_path / kind).mkdir()
        built.append(str(wheel.rename(tmp_path / kind / wheel.name)))
    result = CliRunner().invoke(cli, ["check", "--select", "WF210", "--format", output, *built])
    assert result.exception is None, result.output
    assert result.exit_code == 0, result.output  # WF210 is information: the gate passes
    if output == "json":
        document = json.loads(result.output)
        assert schema_errors("check", document) == []
        assert [r["status"] for r in document["results"]] == ["findings"] * 3
        assert all(r["sboms"][0]["error"] for r in document["results"])
