"""macOS checks on wheels built on the fly around Mach-O files from tests/machopebuilder.py.

Each test builds a real wheel (correct RECORD) and runs the whole ``check_wheel``, so the
file-magic dispatch in the audit layer is exercised too.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from machopebuilder import Dylib, MachO, fat, macho
from wheelmaker import MakeWheel

from wheelfix.findings import Finding, Severity
from wheelfix.formats.macho import MachOSlice
from wheelfix.wheels.audit import CheckOptions, check_wheel
from wheelfix.wheels.checks.macos import best_mac_tag, resolve_dylib
from wheelfix.wheels.results import CheckReport, WheelResult

EXT = "demo/_ext.cpython-312-darwin.so"
ARM = "cp312-cp312-macosx_11_0_arm64"
X86 = "cp312-cp312-macosx_10_13_x86_64"
UNIVERSAL2 = "cp312-cp312-macosx_10_9_universal2"
_CODES = ("WF1", "WF2", "WF3")


def run(
    make_wheel: MakeWheel,
    files: dict[str, bytes],
    tag: str = ARM,
    target: str | None = None,
) -> WheelResult:
    wheel = make_wheel({**files, "demo/__init__.py": b""}, tag=tag)
    result = check_wheel(wheel, CheckOptions(target=target))
    assert result.error is None, result.error
    return result


SCHEMA = Path(__file__).resolve().parents[4] / "docs" / "schema" / "check.schema.json"


def assert_valid_json(result: WheelResult) -> None:
    """The result, as `--format json` would print it, against the published schema."""
    document = json.loads(json.dumps(wheelfix_report(result)))
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text())).validate(document)


def wheelfix_report(result: WheelResult) -> dict[str, object]:
    return CheckReport(results=(result,)).to_json()


def binary_findings(result: WheelResult) -> list[Finding]:
    return [f for f in result.findings if f.code.startswith(_CODES) and f.code != "WF302"]


def codes(result: WheelResult) -> list[str]:
    return sorted(f.code for f in binary_findings(result))


def test_clean_arm64_wheel(make_wheel: MakeWheel) -> None:
    result = run(make_wheel, {EXT: macho()})
    assert codes(result) == []
    assert result.tags is not None
    assert result.tags.native_consistent == "macosx_11_0_arm64"
    assert result.tags.consistent is None  # stays a Linux tag
    assert result.arch == "arm64"
    (summary,) = result.macho_files
    assert summary.path == EXT
    document = json.loads(json.dumps(result.to_json()))
    assert document["macho_files"][0]["slices"][0]["min_os"] == "11.0.0"
    assert_valid_json(result)
    assert document["tags"]["native_consistent"] == "macosx_11_0_arm64"


def test_vendored_dylib_through_loader_path_and_rpath(make_wheel: MakeWheel) -> None:
    """Pillow's layout: the extension loads @loader_path/.dylibs/..., numpy's: @rpath with
    an @loader_path LC_RPATH. Both resolve inside the wheel: nothing to report."""
    ext = macho(
        MachO(
            dylibs=[
                Dylib("@loader_path/.dylibs/libjpeg.62.dylib"),
                Dylib("@rpath/libopenblas.dylib"),
                Dylib("/usr/lib/libSystem.B.dylib"),
                Dylib("/System/Library/Frameworks/Accelerate.framework/Accelerate"),
            ],
            rpaths=["@loader_path/../demo/.dylibs"],
        )
    )
    libs = {
        "demo/.dylibs/libjpeg.62.dylib": macho(MachO(install_name="@rpath/libjpeg.62.dylib")),
        "demo/.dylibs/libopenblas.dylib": macho(MachO(install_name="@rpath/libopenblas.dylib")),
    }
    result = run(make_wheel, {EXT: ext, **libs})
    assert codes(result) == []
    assert result.external_libraries == {}


def test_absolute_homebrew_dylib_is_external(make_wheel: MakeWheel) -> None:
    ext = macho(MachO(dylibs=[Dylib("/opt/homebrew/opt/libpng/lib/libpng16.16.dylib")]))
    result = run(make_wheel, {EXT: ext})
    (finding,) = binary_findings(result)
    assert finding.code == "WF201"
    assert finding.path == EXT
    assert "libpng16.16.dylib" in finding.message
    assert "delocate-wheel" in finding.hint
    assert result.external_libraries == {"/opt/homebrew/opt/libpng/lib/libpng16.16.dylib": (EXT,)}
    assert result.external_library_paths == {
        "/opt/homebrew/opt/libpng/lib/libpng16.16.dylib": (
            "/opt/homebrew/opt/libpng/lib/libpng16.16.dylib"
        )
    }


def test_rpath_reference_missing_from_the_wheel(make_wheel: MakeWheel) -> None:
    ext = macho(MachO(dylibs=[Dylib("@rpath/libfoo.1.dylib")], rpaths=["@loader_path/.dylibs"]))
    (finding,) = binary_findings(run(make_wheel, {EXT: ext}))
    assert finding.code == "WF202"
    assert "libfoo.1.dylib" in finding.message


def test_rpath_through_absolute_lc_rpath(make_wheel: MakeWheel) -> None:
    ext = macho(MachO(dylibs=[Dylib("@rpath/libgfortran.5.dylib")], rpaths=["/opt/gfortran/lib"]))
    result = run(make_wheel, {EXT: ext})
    assert codes(result) == ["WF201", "WF203"]
    assert result.external_library_paths == {
        "@rpath/libgfortran.5.dylib": "/opt/gfortran/lib/libgfortran.5.dylib"
    }


def test_weak_missing_dylib_is_a_warning(make_wheel: MakeWheel) -> None:
    ext = macho(MachO(dylibs=[Dylib("@loader_path/libopt.dylib", "weak")]))
    (finding,) = binary_findings(run(make_wheel, {EXT: ext}))
    assert (finding.code, finding.level) == ("WF202", Severity.WARNING)
    assert "weakly links" in finding.message


def test_executable_path_is_never_in_the_wheel(make_wheel: MakeWheel) -> None:
    ext = macho(MachO(dylibs=[Dylib("@executable_path/../lib/libpython3.12.dylib")]))
    assert codes(run(make_wheel, {EXT: ext})) == ["WF204"]
    ext = macho(MachO(dylibs=[Dylib("@executable_path/libhelper.dylib")]))
    (finding,) = binary_findings(run(make_wheel, {EXT: ext}))
    assert finding.code == "WF202"
    assert "Python executable" in finding.message


def test_minimum_macos_overclaimed(make_wheel: MakeWheel) -> None:
    ext = macho(MachO(arch="x86_64", min_os=(10, 15, 0)))
    result = run(make_wheel, {EXT: ext}, tag=X86)
    (finding,) = binary_findings(result)
    assert finding.code == "WF101"
    assert "macOS 10.15.0" in finding.message
    assert "macosx_10_15_x86_64" in finding.message
    assert result.tags is not None
    assert result.tags.native_consistent == "macosx_10_15_x86_64"


def test_macos_11_minor_versions_share_one_tag(make_wheel: MakeWheel) -> None:
    """11.3 cannot be tagged: macosx_11_0 is honest as far as tags go, but pip on 11.0-11.2
    installs it, so WF101 warns (as delocate does) instead of failing."""
    result = run(make_wheel, {EXT: macho(MachO(min_os=(11, 3, 0)))})
    (finding,) = binary_findings(result)
    assert (finding.code, finding.level) == ("WF101", Severity.WARNING)
    assert "11.0 to 11.2" in finding.message
    assert "MACOSX_DEPLOYMENT_TARGET=11.0" in finding.hint
    assert result.tags is not None
    assert result.tags.native_consistent == "macosx_11_0_arm64"
    result = run(make_wheel, {EXT: macho(MachO(min_os=(13, 0, 0)))})
    (finding,) = binary_findings(result)
    assert (finding.code, finding.level) == ("WF101", Severity.ERROR)


def test_arm64_slice_in_a_universal2_wheel_tagged_10_9(make_wheel: MakeWheel) -> None:
    """arm64 Macs start at 11.0, so 11.0 in a macosx_10_9_universal2 wheel is fine; 11.2 is
    the same warning as above."""
    for arm_min, expected in (((11, 0, 0), []), ((11, 2, 0), ["WF101"])):
        ext = fat([macho(MachO(arch="x86_64", min_os=(10, 9, 0))), macho(MachO(min_os=arm_min))])
        assert codes(run(make_wheel, {EXT: ext}, tag=UNIVERSAL2)) == expected


def test_universal2_wheel(make_wheel: MakeWheel) -> None:
    ext = fat([macho(MachO(arch="x86_64", min_os=(10, 9, 0))), macho(MachO(arch="arm64"))])
    result = run(make_wheel, {EXT: ext}, tag=UNIVERSAL2)
    assert codes(result) == []
    assert result.tags is not None
    assert result.tags.native_consistent == "macosx_10_9_universal2"
    assert result.arch == "universal2"


def test_universal2_wheel_with_thin_companion_tags(make_wheel: MakeWheel) -> None:
    """``macosx_10_9_universal2.macosx_10_9_x86_64.macosx_11_0_arm64``: each tag is judged
    with the slices it covers; the honest tag set keeps all three."""
    ext = fat([macho(MachO(arch="x86_64", min_os=(10, 12, 0))), macho(MachO(arch="arm64"))])
    tag = "cp312-cp312-macosx_10_9_universal2.macosx_10_9_x86_64.macosx_11_0_arm64"
    result = run(make_wheel, {EXT: ext}, tag=tag)
    assert codes(result) == ["WF101", "WF101"]  # universal2 and x86_64 claim 10.9
    assert result.arch == "universal2"
    assert result.tags is not None
    assert result.tags.native_consistent is not None
    assert set(result.tags.native_consistent.split(".")) == {
        "macosx_10_12_universal2",
        "macosx_10_12_x86_64",
        "macosx_11_0_arm64",
    }
    assert_valid_json(result)


def test_universal2_wheel_with_a_thin_file(make_wheel: MakeWheel) -> None:
    result = run(make_wheel, {EXT: macho(MachO(arch="arm64"))}, tag=UNIVERSAL2)
    (finding,) = binary_findings(result)
    assert finding.code == "WF104"
    assert "missing x86_64" in finding.message


def test_thin_file_for_the_wrong_architecture(make_wheel: MakeWheel) -> None:
    (finding,) = binary_findings(run(make_wheel, {EXT: macho(MachO(arch="x86_64"))}))
    assert finding.code == "WF104"
    assert "missing arm64" in finding.message


def test_ios_binary_in_a_macos_wheel(make_wheel: MakeWheel) -> None:
    """An iOS minimum version is not a macOS one: the file is foreign, not an overclaim."""
    result = run(make_wheel, {EXT: macho(MachO(platform=2, min_os=(17, 0, 0)))})
    (finding,) = binary_findings(result)
    assert finding.code == "WF122"
    assert "ios" in finding.message
    assert result.tags is not None
    assert result.tags.native_consistent is None


def test_debug_map_and_local_symbols(make_wheel: MakeWheel) -> None:
    ext = macho(MachO(dwarf_bytes=2048, symbols=[("_helper", 0x0E), ("/src/ext.c", 0x64)]))
    result = run(make_wheel, {EXT: ext})
    by_code = {f.code: f for f in result.findings}
    assert by_code["WF301"].bytes == 2048 + 16 + len("/src/ext.c") + 1
    assert "__DWARF" in by_code["WF301"].message
    assert by_code["WF302"].bytes == 16 + len("_helper") + 1
    assert "strip -x" in by_code["WF302"].hint


def test_corrupt_macho_is_contained(make_wheel: MakeWheel) -> None:
    good = macho()
    broken = good[:40]  # header promises more load commands than there are bytes
    result = run(make_wheel, {EXT: broken, "demo/_ok.cpython-312-darwin.so": good})
    assert codes(result) == ["WF120"]
    assert [m.path for m in result.macho_files] == ["demo/_ok.cpython-312-darwin.so"]


def test_so_is_not_reported_as_not_elf(make_wheel: MakeWheel) -> None:
    """A Mach-O .so is not WF110 (which is about .so files that are not ELF)."""
    assert "WF110" not in {f.code for f in run(make_wheel, {EXT: macho()}).findings}


@pytest.mark.parametrize(
    ("tag", "target", "expected"),
    [
        (ARM, "macosx_11_0_arm64", []),
        (ARM, "macosx_12_0_arm64", []),
        (ARM, "macosx_11_0_x86_64", ["WF106"]),
        (ARM, "win_amd64", ["WF106"]),
        (ARM, "manylinux_2_17_aarch64", ["WF106"]),
        (UNIVERSAL2, "macosx_10_9_x86_64", []),
        (UNIVERSAL2, "macosx_11_0_arm64", []),
    ],
)
def test_target(make_wheel: MakeWheel, tag: str, target: str, expected: list[str]) -> None:
    ext = (
        fat([macho(MachO(arch="x86_64", min_os=(10, 9, 0))), macho()])
        if tag == UNIVERSAL2
        else macho()
    )
    result = run(make_wheel, {EXT: ext}, tag=tag, target=target)
    assert codes(result) == expected


def test_target_older_than_the_binaries(make_wheel: MakeWheel) -> None:
    ext = macho(MachO(arch="x86_64", min_os=(10, 15, 0)))
    result = run(
        make_wheel, {EXT: ext}, tag="cp312-cp312-macosx_10_15_x86_64", target="macosx_10_13_x86_64"
    )
    (finding,) = binary_findings(result)
    assert finding.code == "WF106"
    assert "10.15" in finding.message


# -- the pure functions ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "rpaths", "where"),
    [
        ("/usr/lib/libc++.1.dylib", (), "system"),
        ("@loader_path/../lib/libz.dylib", (), "wheel"),
        ("@rpath/libz.dylib", ("/nowhere", "@loader_path/../lib"), "wheel"),
        ("@rpath/libz.dylib", ("/usr/lib",), "system"),
        ("@rpath/libz.dylib", (), "outside"),
        ("libz.dylib", (), "outside"),
        ("@loader_path/../../../etc/libz.dylib", (), "outside"),
    ],
)
def test_resolve_dylib(name: str, rpaths: tuple[str, ...], where: str) -> None:
    installed = {"pkg/lib/libz.dylib": "pkg/lib/libz.dylib"}
    assert resolve_dylib(name, "pkg/sub/_ext.so", rpaths, installed).where == where


def test_resolve_dylib_in_data_platlib() -> None:
    member = "demo-1.0.data/platlib/pkg/lib/libz.dylib"
    found = resolve_dylib(
        "@loader_path/lib/libz.dylib", "pkg/_ext.so", (), {"pkg/lib/libz.dylib": member}
    )
    assert (found.where, found.member) == ("wheel", member)


def _slice(arch: str, min_os: tuple[int, int, int] | None) -> MachOSlice:
    return MachOSlice(
        arch=arch,
        cputype=0,
        filetype="bundle",
        offset=0,
        size=0,
        install_name=None,
        dylibs=(),
        rpaths=(),
        min_os=min_os,
        platform="macos",
        dwarf_bytes=0,
        stab_bytes=0,
        local_symbol_bytes=0,
        symtab_bytes=0,
    )


@pytest.mark.parametrize(
    ("slices", "arch", "best"),
    [
        ([("x86_64", (10, 9, 0)), ("arm64", (11, 0, 0))], "universal2", "macosx_10_9_universal2"),
        ([("x86_64", (10, 9, 0)), ("arm64", (12, 1, 0))], "universal2", "macosx_12_0_universal2"),
        ([("arm64", (11, 0, 0))], "arm64", "macosx_11_0_arm64"),
        ([("arm64", (14, 2, 0))], "arm64", "macosx_14_0_arm64"),
        ([("x86_64", (10, 13, 4)), ("x86_64", (10, 9, 0))], "x86_64", "macosx_10_13_x86_64"),
        ([("x86_64", None)], "x86_64", None),
    ],
)
def test_best_mac_tag(
    slices: list[tuple[str, tuple[int, int, int] | None]], arch: str, best: str | None
) -> None:
    assert best_mac_tag([_slice(a, v) for a, v in slices], arch) == best
