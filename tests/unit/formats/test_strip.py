"""The section-level strip: what each level removes, what it must never change."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from wheelfix.formats.elf import parse_elf, read_layout
from wheelfix.formats.strip import StripLevel, strip_elf

REPO = Path(__file__).resolve().parents[3]
_PT_LOAD = 1


def _member(prefix: str, suffix: str = ".so") -> tuple[str, bytes]:
    (wheel,) = (REPO / "sample_wheels").glob(f"{prefix}-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(suffix)]
        return name, zf.read(name)


@pytest.fixture(scope="module")
def debug_so() -> bytes:
    return _member("wfdemo_debug")[1]


def loadable(data: bytes) -> list[bytes]:
    """Every byte the loader maps, except the ELF header fields that locate the section
    header table (e_shoff, e_shnum, e_shstrndx): the loader never reads those."""
    masked = bytearray(data)
    struct.pack_into("<Q", masked, 40, 0)
    struct.pack_into("<HH", masked, 60, 0, 0)
    layout = read_layout(data)
    return [
        bytes(masked[s.offset : s.offset + s.filesz]) for s in layout.segments if s.type == _PT_LOAD
    ]


@pytest.mark.parametrize("level", list(StripLevel))
def test_levels_remove_what_they_say(debug_so: bytes, level: StripLevel) -> None:
    result = strip_elf(debug_so, level)
    assert result.data is not None and result.skipped is None
    after = parse_elf(result.data)
    assert after.debug_bytes == 0
    assert (after.symtab_bytes == 0) is (level is not StripLevel.DEBUG)
    assert (after.comment_bytes == 0) is (level is StripLevel.ALL)
    assert len(result.data) < len(debug_so)
    assert result.saved > 0.9 * (len(debug_so) - len(result.data))  # headers and padding aside
    assert any(name.startswith(".debug_") for name in result.removed)


@pytest.mark.parametrize("level", list(StripLevel))
def test_loadable_segments_are_byte_identical(debug_so: bytes, level: StripLevel) -> None:
    result = strip_elf(debug_so, level)
    assert result.data is not None
    assert loadable(result.data) == loadable(debug_so)
    before, after = parse_elf(debug_so), parse_elf(result.data)
    assert (after.needed, after.version_needs, after.defined) == (
        before.needed, before.version_needs, before.defined,
    )  # fmt: skip


def test_idempotent(debug_so: bytes) -> None:
    once = strip_elf(debug_so, StripLevel.UNNEEDED)
    assert once.data is not None
    again = strip_elf(once.data, StripLevel.UNNEEDED)
    assert again.data is None and again.skipped is None


@pytest.mark.skipif(shutil.which("readelf") is None, reason="binutils not installed")
def test_binutils_reads_the_result_without_complaint(debug_so: bytes, tmp_path: Path) -> None:
    result = strip_elf(debug_so, StripLevel.ALL)
    assert result.data is not None
    path = tmp_path / "x.so"
    path.write_bytes(result.data)
    out = subprocess.run(
        ["readelf", "-a", "-W", str(path)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0
    assert out.stderr == ""
    assert ".symtab" not in out.stdout


def test_stripped_extension_still_imports(debug_so: bytes, tmp_path: Path) -> None:
    name, _ = _member("wfdemo_debug")
    (wheel,) = (REPO / "sample_wheels").glob("wfdemo_debug-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(tmp_path)
    result = strip_elf(debug_so, StripLevel.ALL)
    assert result.data is not None
    (tmp_path / name).write_bytes(result.data)
    out = subprocess.run(
        [sys.executable, "-c", "import wfdemo_debug; print(wfdemo_debug.answer())"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stdout.strip() == "42"


def test_already_stripped_file_is_untouched() -> None:
    _, clean = _member("wfdemo_clean")
    result = strip_elf(clean, StripLevel.UNNEEDED)
    assert result.data is None and result.skipped is None


def test_data_after_the_last_section_stays_in_place(debug_so: bytes) -> None:
    signed = debug_so + b"SIGNATURE" * 8
    result = strip_elf(signed, StripLevel.DEBUG)
    assert result.data is not None
    # Nothing moves: same size, the trailing bytes where they were, debug sections zeroed.
    assert len(result.data) == len(signed)
    assert result.data.endswith(b"SIGNATURE" * 8)
    assert parse_elf(result.data).debug_bytes == 0
    assert loadable(result.data) == loadable(signed)
    assert result.saved == parse_elf(debug_so).debug_bytes


def test_sections_between_segments_are_zeroed_in_place(debug_so: bytes) -> None:
    """patchelf appends a segment after the old end of file; what lies before it stays."""
    layout = read_layout(debug_so)
    end_of_file = layout.shoff + len(layout.sections) * layout.shentsize
    # Pretend a PT_LOAD follows the debug sections and the section headers (as patchelf's
    # appended segment does) by pointing the last program header past them.
    data = bytearray(debug_so + bytes(0x1000))
    phoff, phentsize = layout.phoff, layout.phentsize
    last = phoff + (layout.phnum - 1) * phentsize
    struct.pack_into("<IIQ", data, last, 1, 4, end_of_file + 0x100)  # PT_LOAD, R, offset
    struct.pack_into("<Q", data, last + 32, 0x10)  # p_filesz
    result = strip_elf(bytes(data), StripLevel.UNNEEDED)
    assert result.data is not None
    assert len(result.data) == len(data)
    assert loadable(result.data) == loadable(bytes(data))
    assert parse_elf(result.data).debug_bytes == 0


@pytest.mark.parametrize("align", [1 << 63, 1 << 40, 3, 0x30000])
def test_impossible_alignment_of_a_kept_section_moves_nothing(debug_so: bytes, align: int) -> None:
    """Found by tests/fuzz: padding a moved section up to sh_addralign 2**63 was a
    MemoryError. Now nothing moves, and the debug sections are zeroed in place."""
    layout = read_layout(debug_so)
    (index,) = [i for i, s in enumerate(layout.sections) if s.name == ".shstrtab"]
    data = bytearray(debug_so)
    struct.pack_into("<Q", data, layout.shoff + index * layout.shentsize + 48, align)
    result = strip_elf(bytes(data), StripLevel.DEBUG)
    assert result.data is not None and result.skipped is None
    assert len(result.data) == len(data)
    assert parse_elf(result.data).debug_bytes == 0
    assert loadable(result.data) == loadable(bytes(data))


def test_page_alignment_of_a_kept_section_is_honoured(debug_so: bytes) -> None:
    layout = read_layout(debug_so)
    (index,) = [i for i, s in enumerate(layout.sections) if s.name == ".shstrtab"]
    data = bytearray(debug_so)
    struct.pack_into("<Q", data, layout.shoff + index * layout.shentsize + 48, 1 << 16)
    result = strip_elf(bytes(data), StripLevel.DEBUG)
    assert result.data is not None
    moved = {s.name: s for s in read_layout(result.data).sections}[".shstrtab"]
    assert moved.offset % (1 << 16) == 0 and moved.offset != layout.sections[index].offset


def test_relocatable_objects_are_never_stripped(debug_so: bytes) -> None:
    data = bytearray(debug_so)
    struct.pack_into("<H", data, 16, 1)  # e_type = ET_REL
    result = strip_elf(bytes(data), StripLevel.DEBUG)
    assert result.data is None and result.skipped is not None and "ET_REL" in result.skipped


def test_unreadable_file_is_skipped() -> None:
    result = strip_elf(b"\x7fELF" + b"\0" * 10, StripLevel.DEBUG)
    assert result.data is None and result.skipped is not None


def test_file_the_reader_refuses_is_skipped_not_raised(debug_so: bytes) -> None:
    """The section layout is fine but .gnu.hash has zero buckets: the check reports such a
    file as corrupt (WF111); strip leaves it alone instead of raising."""
    layout = read_layout(debug_so)
    (gnu_hash,) = [s for s in layout.sections if s.name == ".gnu.hash"]
    data = bytearray(debug_so)
    struct.pack_into("<I", data, gnu_hash.offset, 0)  # nbuckets
    result = strip_elf(bytes(data), StripLevel.DEBUG)
    assert result.data is None
    assert result.skipped is not None and result.skipped.startswith("not readable as ELF")


def test_level_names() -> None:
    assert StripLevel.parse("Debug") is StripLevel.DEBUG
    with pytest.raises(ValueError, match="unknown strip level"):
        StripLevel.parse("everything")
