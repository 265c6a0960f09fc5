"""The struct-based ELF reader against pyelftools, the reference, on real files.

wheelfix reads ELF with :mod:`struct` for speed (see wheelfix/formats/elf.py); pyelftools is the
independent implementation it must agree with on every fact both can tell.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from elftools.elf.dynamic import DynamicSegment
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection
from elftools.elf.segments import InterpSegment

from wheelfix.formats.elf import ElfInfo, parse_elf

REPO = Path(__file__).resolve().parents[3]


def _host_libraries(limit: int = 60) -> list[Path]:
    found: list[Path] = []
    for folder in (Path("/usr/lib/x86_64-linux-gnu"), Path("/lib/x86_64-linux-gnu")):
        if folder.is_dir():
            found += sorted(p for p in folder.glob("*.so*") if p.is_file() and not p.is_symlink())
    return found[:limit]


def _wheel_elves() -> list[tuple[str, bytes]]:
    out = []
    for wheel in sorted((REPO / "sample_wheels").glob("*.whl")):
        with zipfile.ZipFile(wheel) as zf:
            for info in zf.infolist():
                data = zf.read(info)
                if data[:4] == b"\x7fELF":
                    out.append((f"{wheel.name}:{info.filename}", data))
    return out


def _cases() -> list[tuple[str, bytes]]:
    cases = _wheel_elves()
    for path in _host_libraries():
        data = path.read_bytes()
        if data[:4] == b"\x7fELF":
            cases.append((str(path), data))
    return cases


def reference(data: bytes) -> dict[str, object]:
    """The same facts, read by pyelftools."""
    elf = ELFFile(io.BytesIO(data))
    interpreter = None
    needed: list[str] = []
    soname = None
    rpath: tuple[str, ...] = ()
    runpath: tuple[str, ...] = ()
    for segment in elf.iter_segments():
        if isinstance(segment, InterpSegment):
            interpreter = segment.get_interp_name()
        elif isinstance(segment, DynamicSegment):
            for tag in segment.iter_tags():
                kind = tag.entry.d_tag
                if kind == "DT_NEEDED":
                    needed.append(tag.needed)  # type: ignore[attr-defined]
                elif kind == "DT_SONAME":
                    soname = tag.soname  # type: ignore[attr-defined]
                elif kind == "DT_RPATH":
                    rpath = tuple(p for p in tag.rpath.split(":") if p)  # type: ignore[attr-defined]
                elif kind == "DT_RUNPATH":
                    runpath = tuple(p for p in tag.runpath.split(":") if p)  # type: ignore[attr-defined]
            break
    version_needs = []
    debug = symtab = 0
    for section in elf.iter_sections():
        if isinstance(section, GNUVerNeedSection):
            for entry, aux in section.iter_versions():
                version_needs.append((entry.name, tuple(a.name for a in aux)))
        if section["sh_type"] in ("SHT_NOBITS", "SHT_NULL"):
            continue
        if section.name.startswith((".debug_", ".zdebug_")):
            debug += section["sh_size"]
        elif section.name in (".symtab", ".strtab"):
            symtab += section["sh_size"]
    return {
        "machine": elf["e_machine"],
        "elf_class": elf.elfclass,
        "little_endian": elf.little_endian,
        "elf_type": elf["e_type"],
        "interpreter": interpreter,
        "needed": tuple(needed),
        "soname": soname,
        "rpath": rpath,
        "runpath": runpath,
        "version_needs": tuple(version_needs),
        "debug_bytes": debug,
        "symtab_bytes": symtab,
    }


def ours(info: ElfInfo) -> dict[str, object]:
    return {
        "machine": info.machine,
        "elf_class": info.elf_class,
        "little_endian": info.little_endian,
        "elf_type": info.elf_type,
        "interpreter": info.interpreter,
        "needed": info.needed,
        "soname": info.soname,
        "rpath": info.rpath,
        "runpath": info.runpath,
        "version_needs": info.version_needs,
        "debug_bytes": info.debug_bytes,
        "symtab_bytes": info.symtab_bytes,
    }


CASES = _cases()


@pytest.mark.parametrize(("name", "data"), CASES, ids=[c[0] for c in CASES])
def test_agrees_with_pyelftools(name: str, data: bytes) -> None:
    assert ours(parse_elf(data)) == reference(data)


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 5
