"""Windows checks on wheels built on the fly around PE files from tests/machopebuilder.py."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from machopebuilder import Pe, pe
from wheelmaker import MakeWheel

from wheelfix.findings import Finding, Severity
from wheelfix.wheels.audit import CheckOptions, check_wheel
from wheelfix.wheels.checks.windows import dll_status
from wheelfix.wheels.results import CheckReport, WheelResult

EXT = "demo/_ext.cp312-win_amd64.pyd"
AMD64 = "cp312-cp312-win_amd64"


def run(
    make_wheel: MakeWheel, files: dict[str, bytes], tag: str = AMD64, target: str | None = None
) -> WheelResult:
    wheel = make_wheel({**files, "demo/__init__.py": b""}, tag=tag)
    result = check_wheel(wheel, CheckOptions(target=target))
    assert result.error is None, result.error
    return result


SCHEMA = Path(__file__).resolve().parents[4] / "docs" / "schema" / "check.schema.json"


def assert_valid_json(result: WheelResult) -> None:
    """The result, as `--format json` would print it, against the published schema."""
    document = json.loads(json.dumps(CheckReport(results=(result,)).to_json()))
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text())).validate(document)


def binary_findings(result: WheelResult) -> list[Finding]:
    return [f for f in result.findings if f.code.startswith(("WF1", "WF2", "WF3"))]


def codes(result: WheelResult) -> list[str]:
    return sorted(f.code for f in binary_findings(result))


def test_clean_extension(make_wheel: MakeWheel) -> None:
    imports = [
        "python312.dll",
        "VCRUNTIME140.dll",
        "VCRUNTIME140_1.dll",
        "KERNEL32.dll",
        "api-ms-win-crt-runtime-l1-1-0.dll",
        "ext-ms-win-ntuser-window-l1-1-0.dll",
    ]
    result = run(make_wheel, {EXT: pe(Pe(imports=imports))})
    assert codes(result) == []
    assert result.tags is not None
    assert result.tags.native_consistent == "win_amd64"
    assert result.arch == "win_amd64"
    document = json.loads(json.dumps(result.to_json()))
    assert document["pe_files"][0]["imports"] == imports
    assert_valid_json(result)


def test_delvewheel_layout_is_in_the_wheel(make_wheel: MakeWheel) -> None:
    """numpy's layout: a mangled DLL in numpy.libs/, imported by that name (any case)."""
    mangled = "libscipy_openblas64_-4e39871015dc1470c682dc512497ee22.dll"
    ext = pe(Pe(imports=["KERNEL32.dll", mangled.upper(), "msvcp140-a4c2229bdc2a2a630a.dll"]))
    files = {
        EXT: ext,
        f"demo.libs/{mangled}": pe(Pe(imports=["KERNEL32.dll"])),
        "demo.libs/msvcp140-a4c2229bdc2a2a630a.dll": pe(Pe(imports=["KERNEL32.dll"])),
    }
    assert codes(run(make_wheel, files)) == []


def test_external_dll_and_the_msvc_runtime(make_wheel: MakeWheel) -> None:
    ext = pe(Pe(imports=["KERNEL32.dll", "libpq.dll", "MSVCP140.dll"]))
    result = run(make_wheel, {EXT: ext})
    assert codes(result) == ["WF201", "WF201"]
    by_dll = {f.message.split()[1].rstrip(":"): f for f in binary_findings(result)}
    assert "Visual C++ runtime" in by_dll["MSVCP140.dll"].message
    assert "delvewheel repair" in by_dll["libpq.dll"].hint
    assert result.external_libraries == {"MSVCP140.dll": (EXT,), "libpq.dll": (EXT,)}
    assert result.external_library_paths == {"MSVCP140.dll": None, "libpq.dll": None}


def test_missing_delay_load_is_a_warning(make_wheel: MakeWheel) -> None:
    ext = pe(Pe(imports=["KERNEL32.dll"], delay_imports=["nvcuda.dll", "opengl32.dll"]))
    (finding,) = binary_findings(run(make_wheel, {EXT: ext}))
    assert (finding.code, finding.level) == ("WF201", Severity.WARNING)
    assert finding.message.startswith("delay-loads nvcuda.dll")


def test_machine_against_the_tag(make_wheel: MakeWheel) -> None:
    result = run(make_wheel, {EXT: pe(Pe(platform="win32"))})
    (finding,) = binary_findings(result)
    assert finding.code == "WF104"
    assert "PE32 I386" in finding.message
    assert "win_amd64" in finding.message


def test_helper_program_of_another_machine(make_wheel: MakeWheel) -> None:
    """A 32-bit helper .exe in a win_amd64 wheel runs in its own process (WoW64): no WF104,
    but the DLLs it imports are still checked."""
    exe = pe(Pe(platform="win32", dll=False, imports=["KERNEL32.dll", "libhelper.dll"]))
    result = run(make_wheel, {EXT: pe(), "demo/bin/helper.exe": exe})
    (finding,) = binary_findings(result)
    assert (finding.code, finding.path) == ("WF201", "demo/bin/helper.exe")
    assert result.tags is not None
    assert result.tags.native_consistent == "win_amd64"


def test_pdb_and_mingw_debug_bytes(make_wheel: MakeWheel) -> None:
    ext = pe(Pe(debug_sections=[(".debug_info", 4096)], coff_symbols=20))
    pdb = b"Microsoft C/C++ MSF 7.00\r\n\x1aDS" + b"\0" * 2000
    result = run(make_wheel, {EXT: ext, "demo/_ext.pdb": pdb})
    by_path = {(f.code, f.path): f for f in result.findings}
    assert by_path["WF301", "demo/_ext.pdb"].bytes == len(pdb)
    assert "exclude *.pdb" in by_path["WF301", "demo/_ext.pdb"].hint
    assert by_path["WF301", EXT].bytes == 4096
    assert by_path["WF302", EXT].bytes == 20 * 18 + 4 + len(".debug_info\0")


def test_pdb_path_in_json(make_wheel: MakeWheel) -> None:
    result = run(make_wheel, {EXT: pe(Pe(pdb_path="D:\\a\\demo\\build\\_ext.pdb"))})
    document = json.loads(json.dumps(result.to_json()))
    assert document["pe_files"][0]["pdb_path"] == "D:\\a\\demo\\build\\_ext.pdb"
    assert_valid_json(result)


def test_corrupt_pe_is_contained(make_wheel: MakeWheel) -> None:
    good = pe()
    result = run(make_wheel, {EXT: good[:300], "demo/_ok.cp312-win_amd64.pyd": good})
    assert codes(result) == ["WF121"]
    assert [p.path for p in result.pe_files] == ["demo/_ok.cp312-win_amd64.pyd"]


@pytest.mark.parametrize(
    ("target", "expected"),
    [("win_amd64", []), ("win32", ["WF106"]), ("macosx_11_0_arm64", ["WF106"])],
)
def test_target(make_wheel: MakeWheel, target: str, expected: list[str]) -> None:
    assert codes(run(make_wheel, {EXT: pe()}, target=target)) == expected


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("api-ms-win-crt-heap-l1-1-0.dll", "system"),
        ("EXT-MS-WIN-GDI-DC-L1-2-0.dll", "system"),
        ("KERNEL32.dll", "system"),
        ("ws2_32.dll", "system"),
        ("python312.dll", "interpreter"),
        ("python3.dll", "interpreter"),
        ("python313t.dll", "interpreter"),
        ("vcruntime140_1.dll", "interpreter"),
        ("msvcp140.dll", "external"),
        ("vcomp140.dll", "external"),
        ("libfoo.dll", "wheel"),
        ("libbar.dll", "external"),
    ],
)
def test_dll_status(name: str, status: str) -> None:
    assert dll_status(name, {"libfoo.dll": "demo.libs/libfoo.dll"}) == status
