"""macOS and Windows wheels from PyPI, checked by wheelfix and compared with the peers.

The wheels are pinned in tools/realwheels.py (set ``native``) and downloaded once into the
git-ignored .cache/wheels/: numpy and Pillow for macOS arm64, macOS x86_64 and win_amd64, and
two universal2 wheels (MarkupSafe, charset-normalizer). numpy and Pillow vendor libraries
(delocate's ``.dylibs/``, delvewheel's ``numpy.libs/``). "Unrepaired" variants are made by
removing the vendored folder (and its RECORD rows) from a real wheel.

How the peers are compared on Linux:

* ``delvewheel show`` runs here (it only reads PE files with pefile); its "will be copied"
  list must equal wheelfix's WF201 DLLs, and every DLL it assumes present must be one
  wheelfix does not report. It refuses wheels it repaired itself (``.dist-info/DELVEWHEEL``),
  so the variants drop that marker.
* ``delocate-listdeps`` does not run on Linux: it asks ``otool`` (macOS only) for install
  names and rpaths. The comparison uses what delocate itself builds on: macholib (delocate's
  Mach-O parser) for the load commands, compared field by field with wheelfix's reader, and
  ``delocate.libsana.resolve_dynamic_paths`` (the function ``delocate-listdeps`` resolves
  ``@loader_path``/``@rpath``/``@executable_path`` with) on the extracted wheel, compared with
  wheelfix's resolution of every non-system install name.
"""

from __future__ import annotations

import csv
import io
import random
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

import wheelfix
from tools import realwheels
from wheelfix.formats.macho import MachOInfo, is_macho, parse_macho
from wheelfix.formats.pe import is_pe, parse_pe
from wheelfix.wheels.checks.macos import is_system_dylib, resolve_dylib
from wheelfix.wheels.checks.windows import dll_status

pytestmark = [pytest.mark.network, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
MACOS = (
    "numpy-macos-arm64",
    "numpy-macos-x86_64",
    "pillow-macos-arm64",
    "pillow-macos-x86_64",
    "markupsafe-universal2",
    "charset-normalizer-universal2",
)
WINDOWS = ("numpy-windows", "pillow-windows")


def _bench_wheels() -> ModuleType:
    return realwheels


@pytest.fixture(scope="session")
def native_wheels() -> dict[str, Path]:
    module = _bench_wheels()
    return {key: module.fetch(key) for key in module.NATIVE_SET}


def _without(src: Path, dest_dir: Path, drop: Callable[[str], bool]) -> Path:
    """A copy of ``src`` without the members ``drop`` selects, and without their RECORD rows."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / src.name
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if drop(info.filename):
                continue
            data = zin.read(info)
            if info.filename.endswith(".dist-info/RECORD"):
                rows = [r for r in csv.reader(io.StringIO(data.decode())) if r and not drop(r[0])]
                out = io.StringIO()
                csv.writer(out, lineterminator="\n").writerows(rows)
                data = out.getvalue().encode()
            zout.writestr(info.filename, data)
    return dest


def _members(path: Path) -> Iterator[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.is_dir():
                yield info.filename, archive.read(info)


# -- macOS --------------------------------------------------------------------------------------
def _macholib_commands(path: Path) -> list[tuple[int, list[str], list[str], str | None, int]]:
    """Per slice: cputype, dylib install names, rpaths, LC_ID_DYLIB, packed minimum OS."""
    from macholib import mach_o
    from macholib.MachO import MachO

    kinds = {
        mach_o.LC_LOAD_DYLIB,
        mach_o.LC_LOAD_WEAK_DYLIB,
        mach_o.LC_REEXPORT_DYLIB,
        mach_o.LC_LAZY_LOAD_DYLIB,
        mach_o.LC_LOAD_UPWARD_DYLIB,
    }
    out = []
    for header in MachO(str(path)).headers:
        dylibs, rpaths, ident, minos = [], [], None, 0
        for load, command, extra in header.commands:
            if load.cmd in kinds:
                dylibs.append(extra.rstrip(b"\0").decode())
            elif load.cmd == mach_o.LC_RPATH:
                rpaths.append(extra.rstrip(b"\0").decode())
            elif load.cmd == mach_o.LC_ID_DYLIB:
                ident = extra.rstrip(b"\0").decode()
            elif load.cmd == mach_o.LC_BUILD_VERSION:
                minos = int(command.minos)
            elif load.cmd == mach_o.LC_VERSION_MIN_MACOSX and not minos:
                minos = int(command.version)
        out.append((int(header.header.cputype), dylibs, rpaths, ident, minos))
    return out


def _ours(info: MachOInfo) -> list[tuple[int, list[str], list[str], str | None, int]]:
    return [
        (
            s.cputype,
            [d.name for d in s.dylibs],
            list(s.rpaths),
            s.install_name,
            0 if s.min_os is None else (s.min_os[0] << 16) | (s.min_os[1] << 8) | s.min_os[2],
        )
        for s in info.slices
    ]


@pytest.mark.parametrize("key", MACOS)
def test_macho_reader_agrees_with_macholib(
    native_wheels: dict[str, Path], key: str, tmp_path: Path
) -> None:
    seen = 0
    for name, data in _members(native_wheels[key]):
        if not is_macho(data):
            continue
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        assert _ours(parse_macho(data)) == _macholib_commands(target), name
        seen += 1
    assert seen > 0


def _delocate_resolution(root: Path, loader: str, name: str, rpaths: list[str]) -> str | None:
    """Where delocate resolves ``name`` for the extracted member ``loader``: the member it
    finds in the wheel, or None (``DependencyNotFound``, or a file outside the wheel)."""
    from delocate.libsana import DependencyNotFound, resolve_dynamic_paths

    try:
        found = resolve_dynamic_paths(
            name,
            rpaths,
            loader_path=(root / loader).parent,
            executable_path=root / "no-executable-here",
        )
    except DependencyNotFound:
        return None
    path = Path(found)
    return (
        path.relative_to(root.resolve()).as_posix() if path.is_relative_to(root.resolve()) else None
    )


def _compare_resolution(wheel: Path, root: Path) -> dict[tuple[str, str], str | None]:
    """Every non-system install name of every Mach-O member, resolved by delocate and by
    wheelfix; asserts they agree and returns delocate's answers."""
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(root)
        members = {n: n for n in archive.namelist()}
    answers: dict[tuple[str, str], str | None] = {}
    for name, data in _members(wheel):
        if not is_macho(data):
            continue
        for s in parse_macho(data).slices:
            for dylib in s.dylibs:
                if is_system_dylib(dylib.name):
                    continue
                theirs = _delocate_resolution(root, name, dylib.name, list(s.rpaths))
                ours = resolve_dylib(dylib.name, name, s.rpaths, members)
                assert (ours.member if ours.where == "wheel" else None) == theirs, (name, dylib)
                answers[name, dylib.name] = theirs
    return answers


@pytest.mark.parametrize("key", MACOS)
def test_repaired_macos_wheels(native_wheels: dict[str, Path], key: str, tmp_path: Path) -> None:
    """delocate-repaired wheels: every dependency resolves inside the wheel, for delocate
    and for wheelfix, so wheelfix reports no WF201/WF202 and the tag is honest."""
    wheel = native_wheels[key]
    answers = _compare_resolution(wheel, tmp_path / "x")
    assert all(found is not None for found in answers.values())
    (result,) = wheelfix.check([wheel], jobs=1).results
    assert result.error is None
    assert not {"WF101", "WF104", "WF120", "WF201", "WF202"} & {f.code for f in result.findings}
    assert result.tags is not None
    assert result.tags.native_consistent == result.tags.claimed[0]
    if key.startswith(("numpy", "pillow")):
        assert answers, "expected vendored dylibs"


@pytest.mark.parametrize("key", ["pillow-macos-arm64", "numpy-macos-x86_64"])
def test_unrepaired_macos_wheel(native_wheels: dict[str, Path], key: str, tmp_path: Path) -> None:
    """Without .dylibs/ the wheel needs delocate-wheel: wheelfix's WF202 files and names are
    exactly what delocate cannot resolve."""
    wheel = _without(native_wheels[key], tmp_path / "w", lambda n: "/.dylibs/" in n)
    answers = _compare_resolution(wheel, tmp_path / "x")
    missing = {(path, name) for (path, name), found in answers.items() if found is None}
    assert missing
    (result,) = wheelfix.check([wheel], jobs=1).results
    reported = {
        (f.path, dylib)
        for f in result.findings
        if f.code == "WF202"
        for dylib in result.external_libraries
        if f.path in result.external_libraries[dylib] and f"links {dylib} " in f.message
    }
    assert reported == missing
    assert result.status == "findings"


# -- Windows -------------------------------------------------------------------------------------
def _delvewheel_show(wheel: Path, *options: str) -> dict[str, set[str]]:
    out = subprocess.run(
        [sys.executable, "-m", "delvewheel", "show", *options, str(wheel)],
        capture_output=True,
        text=True,
        check=True,
        timeout=240,
    ).stdout
    sections: dict[str, set[str]] = {"copied": set(), "assumed": set(), "in_wheel": set()}
    current = None
    for line in out.splitlines():
        if line.startswith("The following DLLs will be copied"):
            current = "copied"
        elif line.startswith("The following DLLs are assumed"):
            current = "assumed"
        elif line.startswith("The following DLLs are already in the wheel"):
            current = "in_wheel"
        elif line.startswith("    ") and current is not None and line.strip() != "None":
            sections[current].add(line.split()[0].lower())
        elif line.strip():
            current = None if not line.startswith("    ") else current
    return sections


def _wf201_dlls(wheel: Path) -> set[str]:
    (result,) = wheelfix.check([wheel], jobs=1).results
    assert result.error is None
    return {dll.lower() for dll in result.external_libraries}


@pytest.mark.parametrize("key", WINDOWS)
def test_windows_wheels_agree_with_delvewheel_show(
    native_wheels: dict[str, Path], key: str, tmp_path: Path
) -> None:
    """With --ignore-existing (use the wheel's own DLLs, as a repaired wheel does at run time)
    delvewheel copies nothing and wheelfix reports nothing; the DLLs delvewheel finds in the
    wheel are in the wheel for wheelfix, and those it assumes present are system or
    interpreter DLLs for wheelfix."""
    wheel = _without(native_wheels[key], tmp_path, lambda n: n.endswith(".dist-info/DELVEWHEEL"))
    shown = _delvewheel_show(wheel, "--ignore-existing")
    assert _wf201_dlls(wheel) == shown["copied"] == set()
    assert shown["assumed"]
    in_wheel = {n.rsplit("/", 1)[-1].lower(): n for n, _ in _members(wheel)}
    for dll in shown["in_wheel"]:
        assert dll_status(dll, in_wheel) == "wheel", dll
    for dll in shown["assumed"]:
        assert dll_status(dll, in_wheel) in ("system", "interpreter"), dll
    if key == "numpy-windows":
        assert len(shown["in_wheel"]) == 2


def test_unrepaired_windows_wheel(native_wheels: dict[str, Path], tmp_path: Path) -> None:
    """numpy without numpy.libs/ (and delvewheel's marker): the DLLs delvewheel would copy
    (here reported as not found, nothing on this host has them) are wheelfix's WF201 DLLs."""
    wheel = _without(
        native_wheels["numpy-windows"],
        tmp_path,
        lambda n: n.startswith("numpy.libs/") or n.endswith(".dist-info/DELVEWHEEL"),
    )
    shown = _delvewheel_show(wheel)
    assert len(shown["copied"]) == 2  # libscipy_openblas64_-*.dll and msvcp140-*.dll
    assert _wf201_dlls(wheel) == shown["copied"]


@pytest.mark.parametrize("key", WINDOWS)
def test_pe_reader_agrees_with_pefile(native_wheels: dict[str, Path], key: str) -> None:
    import pefile

    seen = 0
    for name, data in _members(native_wheels[key]):
        if not is_pe(data):
            continue
        ours = parse_pe(data)
        theirs = pefile.PE(data=data, fast_load=True)
        theirs.parse_data_directories(directories=[1, 6, 13])
        imports = [e.dll.decode() for e in getattr(theirs, "DIRECTORY_ENTRY_IMPORT", [])]
        delayed = [e.dll.decode() for e in getattr(theirs, "DIRECTORY_ENTRY_DELAY_IMPORT", [])]
        assert list(ours.imports) == imports, name
        assert list(ours.delay_imports) == delayed, name
        assert ours.platform == {0x8664: "win_amd64"}.get(theirs.FILE_HEADER.Machine), name
        pdb, debug_data = None, 0
        for entry in getattr(theirs, "DIRECTORY_ENTRY_DEBUG", []):
            if entry.struct.PointerToRawData:
                debug_data += entry.struct.SizeOfData
            if entry.struct.Type == 2 and hasattr(entry.entry, "PdbFileName"):
                pdb = entry.entry.PdbFileName.rstrip(b"\0").decode() or None
        assert ours.pdb_path == pdb, name
        assert ours.debug_directory_bytes == debug_data, name
        seen += 1
    assert seen > 0


# -- fuzzing real files -----------------------------------------------------------------------
def _first_binary(wheel: Path, wanted: Callable[[bytes], bool], name_part: str) -> bytes:
    return next(d for n, d in _members(wheel) if name_part in n and wanted(d))


@pytest.mark.parametrize(
    ("key", "name_part"),
    [
        ("markupsafe-universal2", "_speedups"),  # a fat file
        ("pillow-macos-arm64", "_imagingcms"),
        ("numpy-windows", "lapack_lite"),
        ("pillow-windows", "_imagingmath"),
    ],
)
def test_fuzz_real_binaries(native_wheels: dict[str, Path], key: str, name_part: str) -> None:
    """Random damage to the headers and load commands / import tables of real binaries only
    ever gives a result or the reader's one error class, never another exception."""
    from wheelfix.formats.macho import CorruptMachOError
    from wheelfix.formats.pe import CorruptPeError

    mach = "windows" not in key
    original = _first_binary(native_wheels[key], is_macho if mach else is_pe, name_part)
    parse: Callable[[bytes], object] = parse_macho if mach else parse_pe
    error: type[Exception] = CorruptMachOError if mach else CorruptPeError
    span = min(len(original), 0x1000 if mach else 0x600)  # header and load commands
    rng = random.Random(20261203)  # noqa: S311 - a fixed seed makes failures reproducible
    outcomes = {"parsed": 0, "corrupt": 0}
    for _ in range(300):
        data = bytearray(original)
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(span) if rng.random() < 0.9 else rng.randrange(len(data))
            data[at] = rng.choice((0, 0xFF, rng.randrange(256), data[at] ^ (1 << rng.randrange(8))))
        try:
            parse(bytes(data))
            outcomes["parsed"] += 1
        except error:
            outcomes["corrupt"] += 1
    assert outcomes["parsed"] > 0
    assert outcomes["corrupt"] > 0
