"""What the macOS and Windows checks share (wheelfix/wheels/checks/native.py): platform tags,
file-magic dispatch, extension modules for another OS (WF109/WF122), files named like a
library that are not one (WF123), and which ``--target`` values the native checks accept.

Wheels are built on the fly around Mach-O and PE files from tests/machopebuilder.py and go
through the whole ``check_wheel``.
"""

from __future__ import annotations

import pytest
from machopebuilder import Pe, macho, pe
from wheelmaker import MakeWheel

import wheelfix
from wheelfix.errors import UsageError
from wheelfix.formats.macho import MachOInfo
from wheelfix.formats.pe import PeInfo
from wheelfix.wheels.audit import CheckOptions, check_wheel
from wheelfix.wheels.checks.native import (
    MacTag,
    install_path,
    is_native_target,
    mac_tag,
    read_native,
    tag_os,
)
from wheelfix.wheels.results import WheelResult

MAC_EXT = "demo/_ext.cpython-312-darwin.so"
WIN_EXT = "demo/_ext.cp312-win_amd64.pyd"
ARM = "cp312-cp312-macosx_11_0_arm64"
AMD64 = "cp312-cp312-win_amd64"


def run(make_wheel: MakeWheel, files: dict[str, bytes], *, tag: str) -> WheelResult:
    wheel = make_wheel({**files, "demo/__init__.py": b""}, tag=tag)
    result = check_wheel(wheel, CheckOptions())
    assert result.error is None, result.error
    return result


def codes(result: WheelResult) -> list[str]:
    """Binary findings (WF1-WF3), without the WF302 symbol-table note the fixtures carry."""
    return sorted(
        f.code
        for f in result.findings
        if f.code.startswith(("WF1", "WF2", "WF3")) and f.code != "WF302"
    )


# -- the pure functions ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("tag", "os_name"),
    [
        ("macosx_11_0_arm64", "macos"),
        ("macosx_10_9_universal2", "macos"),
        ("win_amd64", "windows"),
        ("win32", "windows"),
        ("win_arm64", "windows"),
        ("manylinux_2_17_x86_64", "linux"),
        ("musllinux_1_2_aarch64", "linux"),
        ("linux_x86_64", "linux"),
        ("any", None),
        ("ios_13_0_arm64_iphoneos", None),
        ("", None),
    ],
)
def test_tag_os(tag: str, os_name: str | None) -> None:
    assert tag_os(tag) == os_name


def test_mac_tag() -> None:
    assert mac_tag("macosx_10_13_x86_64") == MacTag("macosx_10_13_x86_64", (10, 13), "x86_64")
    universal = mac_tag("macosx_10_9_universal2")
    assert universal is not None
    assert universal.arches == {"x86_64", "arm64"}
    assert mac_tag("macosx_11_arm64") is None
    assert mac_tag("win_amd64") is None


@pytest.mark.parametrize(
    ("target", "native"),
    [
        ("macosx_11_0_arm64", True),
        ("macosx_10_9_universal2", True),
        ("macosx_11_0_arm65", False),  # a macOS tag for an architecture nobody knows
        ("win_amd64", True),
        ("win32", True),
        ("win_amd65", False),
        ("manylinux_2_17_x86_64", False),  # Linux targets are the platform checks' business
    ],
)
def test_is_native_target(target: str, native: bool) -> None:
    assert is_native_target(target) is native


@pytest.mark.parametrize(
    ("member", "installed"),
    [
        ("demo/_ext.so", "demo/_ext.so"),
        ("demo-1.0.data/platlib/demo/lib/libz.dylib", "demo/lib/libz.dylib"),
        ("demo-1.0.data/purelib/demo/x.py", "demo/x.py"),
        ("demo-1.0.data/scripts/run", "demo-1.0.data/scripts/run"),  # not under site-packages
    ],
)
def test_install_path(member: str, installed: str) -> None:
    assert install_path(member) == installed


def test_read_native_dispatches_on_magic_bytes() -> None:
    info, error = read_native(macho())
    assert isinstance(info, MachOInfo)
    assert error is None
    info, error = read_native(pe())
    assert isinstance(info, PeInfo)
    assert error is None
    assert read_native(b"\x7fELF\x02\x01\x01") == (None, None)
    assert read_native(b"") == (None, None)


def test_read_native_contains_corrupt_files() -> None:
    info, error = read_native(macho()[:40])
    assert info is None
    assert error is not None
    assert error[0] == "macho"
    info, error = read_native(pe()[:300])
    assert info is None
    assert error is not None
    assert error[0] == "pe"


# -- through check_wheel ---------------------------------------------------------------------


def test_dylib_that_is_not_macho(make_wheel: MakeWheel) -> None:
    result = run(
        make_wheel,
        {MAC_EXT: macho(), "demo/.dylibs/libx.dylib": b"version https://git-lfs"},
        tag=ARM,
    )
    assert codes(result) == ["WF123"]


def test_macho_extension_in_a_linux_wheel(make_wheel: MakeWheel) -> None:
    result = run(make_wheel, {MAC_EXT: macho()}, tag="cp312-cp312-manylinux_2_17_x86_64")
    (finding,) = [f for f in result.findings if f.code == "WF122"]
    assert "macOS" in finding.message


def test_macho_extension_in_a_pure_wheel(make_wheel: MakeWheel) -> None:
    result = run(make_wheel, {MAC_EXT: macho()}, tag="py3-none-any")
    assert "WF109" in {f.code for f in result.findings}


@pytest.mark.parametrize(
    "target", ["macosx_11_0_arm65", "macosx_11_arm64", "win_amd65", "windows", "darwin"]
)
def test_unknown_native_target_is_a_usage_error(make_wheel: MakeWheel, target: str) -> None:
    wheel = make_wheel({MAC_EXT: macho(), "demo/__init__.py": b""}, tag=ARM)
    with pytest.raises(UsageError, match="macosx_X_Y_ARCH"):
        wheelfix.check([wheel], target=target, jobs=1)


@pytest.mark.parametrize("target", ["macosx_10_9_universal2", "win32", "win_arm64"])
def test_native_targets_are_accepted(make_wheel: MakeWheel, target: str) -> None:
    wheel = make_wheel({MAC_EXT: macho(), "demo/__init__.py": b""}, tag=ARM)
    (result,) = wheelfix.check([wheel], target=target, jobs=1).results
    assert result.error is None


def test_pyd_that_is_not_pe(make_wheel: MakeWheel) -> None:
    assert codes(run(make_wheel, {WIN_EXT: b"\x7fELF not really"}, tag=AMD64)) == ["WF111", "WF123"]


def test_pyd_in_a_linux_wheel(make_wheel: MakeWheel) -> None:
    result = run(make_wheel, {WIN_EXT: pe()}, tag="cp312-cp312-manylinux_2_17_x86_64")
    (finding,) = [f for f in result.findings if f.code == "WF122"]
    assert "Windows" in finding.message


def test_pe_named_so_in_a_linux_wheel(make_wheel: MakeWheel) -> None:
    """Not WF110 (it is a real binary, just for Windows): WF122 says so."""
    result = run(make_wheel, {"demo/libfoo.so.1": pe()}, tag="cp312-cp312-manylinux_2_17_x86_64")
    assert [f.code for f in result.findings if f.code in ("WF110", "WF122")] == ["WF122"]


def test_launcher_exe_in_a_pure_wheel_is_fine(make_wheel: MakeWheel) -> None:
    """pip and distlib ship Windows launchers (t64.exe) in py3-none-any wheels on purpose."""
    result = run(make_wheel, {"demo/t64.exe": pe(Pe(imports=["KERNEL32.dll"]))}, tag="py3-none-any")
    assert codes(result) == []
