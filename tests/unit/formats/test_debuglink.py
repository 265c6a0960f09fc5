"""Separate debug files: what they hold, where they go, and that gdb finds them."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from patchelfed import patchelf_copy

from wheelfix.formats.debuglink import build_id, debug_file, strip_keeping_debug
from wheelfix.formats.elf import parse_elf, read_layout
from wheelfix.formats.strip import StripLevel, strip_elf

_SHT_NOBITS = 8


@pytest.fixture(scope="module")
def patched(elf_fixtures: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The debug build of wfelf.c after patchelf (as auditwheel leaves vendored libraries)."""
    target = tmp_path_factory.mktemp("debuglink") / "libwfelf.so"
    patchelf_copy(elf_fixtures["debug"], target)
    return target


def _contents(data: bytes) -> dict[str, bytes]:
    layout = read_layout(data)
    return {
        s.name: data[s.offset : s.offset + s.size]
        for s in layout.sections
        if s.type != _SHT_NOBITS and s.name
    }


def _debuglink(data: bytes) -> tuple[str, int]:
    (raw,) = [v for k, v in _contents(data).items() if k == ".gnu_debuglink"]
    name = raw.split(b"\0", 1)[0].decode()
    (crc,) = struct.unpack_from("<I", raw, len(raw) - 4)
    return name, crc


def test_debug_file_holds_what_the_strip_removes_and_the_build_id(patched: Path) -> None:
    data = patched.read_bytes()
    debug = debug_file(data, StripLevel.UNNEEDED)
    assert debug is not None
    kept = _contents(debug.data)
    original = _contents(data)
    for name in (".debug_info", ".debug_line", ".symtab", ".strtab", ".note.gnu.build-id"):
        assert kept[name] == original[name]
    assert ".text" not in kept and ".dynstr" not in kept  # NOBITS: headers only
    # Same section table, same numbering: the symbol table's section indices stay true.
    assert [s.name for s in read_layout(debug.data).sections] == [
        s.name for s in read_layout(data).sections
    ]
    assert debug.build_id == build_id(data, read_layout(data)) is not None
    assert re.fullmatch(r"[0-9a-f]{40}", debug.build_id or "")


@pytest.mark.skipif(shutil.which("objcopy") is None, reason="binutils not installed")
def test_debug_file_agrees_with_objcopy_only_keep_debug(patched: Path, tmp_path: Path) -> None:
    reference = tmp_path / "reference.debug"
    subprocess.run(
        ["objcopy", "--only-keep-debug", str(patched), str(reference)],
        check=True,
        capture_output=True,
    )
    debug = debug_file(patched.read_bytes(), StripLevel.ALL)
    assert debug is not None
    ours, theirs = _contents(debug.data), _contents(reference.read_bytes())
    # (.symtab differs only in section indices: objcopy renumbers the sections it sorts.)
    compared = [n for n in theirs if n.startswith((".debug_", ".note")) or n == ".strtab"]
    assert ".debug_info" in compared and ".note.gnu.build-id" in compared
    for name in compared:
        assert ours[name] == theirs[name], name
    out = subprocess.run(
        ["readelf", "--debug-dump=info", "-W", str(_write(tmp_path / "ours.debug", debug.data))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0 and out.stderr == "" and "wfelf_hypot" in out.stdout


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_stripped_file_links_to_its_debug_file_in_build_id_layout(
    patched: Path, tmp_path: Path
) -> None:
    data = patched.read_bytes()
    result = strip_keeping_debug(data, StripLevel.UNNEEDED, tmp_path / "debug", "libwfelf.so")
    assert result.data is not None and result.debuglink
    (written,) = (tmp_path / "debug").rglob("*.debug")
    ident = build_id(data, read_layout(data))
    assert ident is not None
    assert written == tmp_path / "debug" / ".build-id" / ident[:2] / f"{ident[2:]}.debug"
    name, crc = _debuglink(result.data)
    assert name == written.name
    assert crc == zlib.crc32(written.read_bytes())
    after = parse_elf(result.data)
    assert after.debug_bytes == after.symtab_bytes == 0
    # Stripping the stripped file again changes nothing and writes nothing new.
    again = strip_keeping_debug(result.data, StripLevel.UNNEEDED, tmp_path / "again", "x.so")
    assert again.data is None and not (tmp_path / "again").exists()


def test_file_without_build_id_gets_a_path_named_debug_file(
    elf_fixtures: dict[str, Path], tmp_path: Path
) -> None:
    source = tmp_path / "nobuildid.so"
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not installed")
    c_file = Path(__file__).parent / "elf_fixtures" / "wfelf.c"
    subprocess.run(
        [
            gcc,
            "-g",
            "-O2",
            "-fPIC",
            "-shared",
            "-Wl,--build-id=none",
            "-o",
            str(source),
            str(c_file),
            "-lm",
        ],
        check=True,
        capture_output=True,
    )
    result = strip_keeping_debug(source.read_bytes(), StripLevel.DEBUG, tmp_path / "d", "pkg/x.so")
    assert result.data is not None
    assert (tmp_path / "d" / "pkg" / "x.so.debug").is_file()
    with pytest.raises(Exception, match="cannot name a debug file"):
        strip_keeping_debug(source.read_bytes(), StripLevel.DEBUG, tmp_path / "d", "../x.so")


@pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb not installed")
def test_gdb_resolves_function_and_source_line_from_the_debug_directory(
    patched: Path, tmp_path: Path
) -> None:
    debug_dir = tmp_path / "debug"
    result = strip_keeping_debug(patched.read_bytes(), StripLevel.ALL, debug_dir, "libwfelf.so")
    assert result.data is not None
    stripped = _write(tmp_path / "libwfelf.so", result.data)
    hypot = _dynamic_address(result.data, "wfelf_hypot")

    def gdb(*commands: str) -> str:
        argv = ["gdb", "-batch", "-nx", "-ex", f"set debug-file-directory {debug_dir}"]
        argv += ["-ex", f"file {stripped}"]
        for command in commands:
            argv += ["-ex", command]
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout

    found = gdb(f"info line *{hypot + 4:#x}", f"info symbol {hypot + 4:#x}")
    assert re.search(r'Line \d+ of ".*wfelf\.c"', found), found
    assert "wfelf_hypot + 4 in section .text" in found
    # Without the debug directory the same question has no answer: the line came from it.
    shutil.rmtree(debug_dir)
    assert "No line number information" in gdb(f"info line *{hypot + 4:#x}")


def _dynamic_address(data: bytes, name: str) -> int:
    """st_value of a symbol in .dynsym (x86-64 little-endian Elf64_Sym)."""
    layout = read_layout(data)
    dynsym = next(s for s in layout.sections if s.name == ".dynsym")
    dynstr = layout.sections[dynsym.link]
    strings = data[dynstr.offset : dynstr.offset + dynstr.size]
    for at in range(dynsym.offset, dynsym.offset + dynsym.size, 24):
        st_name, _info, _other, _shndx, value, _size = struct.unpack_from("<IBBHQQ", data, at)
        if strings[st_name:].split(b"\0", 1)[0] == name.encode():
            return int(value)
    raise AssertionError(f"{name} not in .dynsym")


def test_debuglink_replaces_one_already_there(patched: Path, tmp_path: Path) -> None:
    once = strip_keeping_debug(patched.read_bytes(), StripLevel.DEBUG, tmp_path / "a", "l.so")
    assert once.data is not None
    # The symbol table is still there: a second, deeper strip links to a new debug file.
    twice = strip_keeping_debug(once.data, StripLevel.UNNEEDED, tmp_path / "b", "l.so")
    assert twice.data is not None
    names = [s.name for s in read_layout(twice.data).sections]
    assert names.count(".gnu_debuglink") == 1
    (written,) = (tmp_path / "b").rglob("*.debug")
    assert _debuglink(twice.data) == (written.name, zlib.crc32(written.read_bytes()))
    assert strip_elf(twice.data, StripLevel.ALL).data is not None  # .comment still there
