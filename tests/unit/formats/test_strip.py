"""The section-level strip: what each level removes, what it must never change."""

from __future__ import annotations

import lzma
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from patchelfed import patchelf_copy as patchelf

from wheelfix.formats.elf import parse_elf, read_layout
from wheelfix.formats.strip import StripLevel, disk_saving, strip_elf

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
    """Every byte the loader maps, wherever it lies in the file, except the file offsets a
    strip rewrites: e_phoff, e_shoff, e_shnum, e_shstrndx and each program header's p_offset
    (the loader reads none of them from memory)."""
    masked = bytearray(data)
    layout = read_layout(data)
    struct.pack_into("<QQ", masked, 32, 0, 0)
    struct.pack_into("<HH", masked, 60, 0, 0)
    for n in range(layout.phnum):
        struct.pack_into("<Q", masked, layout.phoff + n * layout.phentsize + 8, 0)
    return [
        bytes(masked[s.offset : s.offset + s.filesz]) for s in layout.segments if s.type == _PT_LOAD
    ]


def aligned(data: bytes) -> bool:
    """p_offset ≡ p_vaddr (mod p_align) for every PT_LOAD, as the loader demands."""
    return all(
        (s.offset - s.vaddr) % s.align == 0
        for s in read_layout(data).segments
        if s.type == _PT_LOAD and s.align > 1
    )


def readelf_clean(data: bytes, tmp_path: Path) -> str:
    """``readelf -lSW`` output; fails the test on any warning or error binutils prints."""
    path = tmp_path / "checked.so"
    path.write_bytes(data)
    out = subprocess.run(
        ["readelf", "-lSW", str(path)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0 and out.stderr == "", out.stderr
    return out.stdout


def call_wfelf(data: bytes, tmp_path: Path) -> str:
    """Load the library in a fresh interpreter and call into it."""
    path = tmp_path / "libwfelf-loaded.so"
    path.write_bytes(data)
    code = (
        "import ctypes, sys; lib = ctypes.CDLL(sys.argv[1]); "
        "lib.wfelf_hypot.restype = ctypes.c_double; "
        "lib.wfelf_hypot.argtypes = [ctypes.c_double, ctypes.c_double]; "
        "print(round(lib.wfelf_hypot(3.0, 4.0), 6))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


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
        before.needed,
        before.version_needs,
        before.defined,
    )


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
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
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


@pytest.fixture(scope="module")
def patched(elf_fixtures: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The debug build after patchelf: a PT_LOAD appended after the debug sections, and
    the section header table inside that segment (as in Pillow 13 and numpy 2.3)."""
    out = tmp_path_factory.mktemp("patched") / "libwfelf-patched.so"
    return patchelf(elf_fixtures["debug"], out)


def test_patchelf_layout_is_what_the_engine_must_handle(patched: bytes) -> None:
    layout = read_layout(patched)
    last_load = max(s.offset for s in layout.segments if s.type == _PT_LOAD)
    debug = [s for s in layout.sections if s.name.startswith(".debug_")]
    assert debug and all(s.offset < last_load for s in debug)


@pytest.mark.parametrize("level", list(StripLevel))
def test_patchelf_modified_file_is_cut_for_real(
    patched: bytes, level: StripLevel, tmp_path: Path
) -> None:
    result = strip_elf(patched, level)
    assert result.data is not None and result.skipped is None
    assert result.shrunk == len(patched) - len(result.data) > 0
    # Everything loaded is identical, moved by whole pages, and still aligned.
    assert loadable(result.data) == loadable(patched)
    assert aligned(result.data)
    after = parse_elf(result.data)
    assert after.debug_bytes == 0
    assert (after.symtab_bytes == 0) is (level is not StripLevel.DEBUG)
    before = parse_elf(patched)
    assert (after.needed, after.runpath, after.version_needs) == (
        before.needed,
        before.runpath,
        before.version_needs,
    )
    listing = readelf_clean(result.data, tmp_path)
    assert ".debug_info" not in listing
    assert call_wfelf(result.data, tmp_path) == call_wfelf(patched, tmp_path) == "4.010008"


def test_patchelf_modified_file_strips_once(patched: bytes) -> None:
    once = strip_elf(patched, StripLevel.ALL)
    assert once.data is not None
    again = strip_elf(once.data, StripLevel.ALL)
    assert again.data is None and again.skipped is None


def test_gap_smaller_than_the_alignment_is_zeroed_and_reported(
    elf_fixtures: dict[str, Path], tmp_path: Path
) -> None:
    """With 64 KiB pages the debug sections (a few KiB) cannot be cut without breaking
    p_offset ≡ p_vaddr (mod p_align): they are zeroed, and reported as not cut."""
    data = patchelf(elf_fixtures["debug"], tmp_path / "lib64k.so", "--page-size", "65536")
    result = strip_elf(data, StripLevel.UNNEEDED)
    assert result.data is not None
    assert result.uncut > 0
    assert aligned(result.data)
    assert loadable(result.data) == loadable(data)
    assert parse_elf(result.data).debug_bytes == 0
    readelf_clean(result.data, tmp_path)
    assert call_wfelf(result.data, tmp_path) == "4.010008"


def test_trailing_zeros_are_padding_but_other_bytes_stay(patched: bytes) -> None:
    padded = strip_elf(patched + bytes(7), StripLevel.DEBUG)
    assert padded.data is not None and padded.shrunk > 7
    signed = strip_elf(patched + b"SIG", StripLevel.DEBUG)
    # Section headers inside segment data and bytes after them: nothing can move.
    assert signed.data is None and signed.skipped is not None


def test_binutils_finds_every_section_where_we_put_it(patched: bytes, tmp_path: Path) -> None:
    """The same cut through binutils' reader: every section it lists is where we say."""
    result = strip_elf(patched, StripLevel.UNNEEDED)
    assert result.data is not None
    new = read_layout(result.data)
    listing = readelf_clean(result.data, tmp_path)
    for section in new.sections[1:]:
        assert f"{section.name} " in listing
        assert f" {section.offset:06x} " in listing


@pytest.mark.parametrize("level", list(StripLevel))
def test_removed_names_leave_the_section_name_table(patched: bytes, level: StripLevel) -> None:
    """The moved name table keeps each kept name at its offset (so sh_name is unchanged)
    and loses the removed ones: zeroed, and nothing after the last name in use."""
    result = strip_elf(patched, level)
    assert result.data is not None
    before, after = read_layout(patched), read_layout(result.data)
    names = after.sections[after.shstrndx]
    table = result.data[names.offset : names.offset + names.size]
    offsets = {s.name: s.raw[0] for s in before.sections}
    for section in after.sections[1:]:
        assert section.raw[0] == offsets[section.name]
    assert table.endswith(b"\0") and table.rstrip(b"\0")
    assert max(s.raw[0] + len(s.name) + 1 for s in after.sections) == len(table)
    for name in result.removed:
        assert b"\0" + name.encode() + b"\0" not in table
    assert names.size < before.sections[before.shstrndx].size


def test_minidebuginfo_goes_with_the_symbol_table(
    elf_fixtures: dict[str, Path], tmp_path: Path
) -> None:
    """``.gnu_debugdata`` (MiniDebugInfo: an xz-compressed ELF file holding a symbol table,
    added with objcopy the way Fedora's find-debuginfo does) stays at level debug and goes
    from unneeded on."""
    if shutil.which("objcopy") is None:
        pytest.skip("binutils not installed")
    mini = tmp_path / "mini.debug"
    subprocess.run(
        ["objcopy", "--only-keep-debug", str(elf_fixtures["debug"]), str(mini)], check=True
    )
    (tmp_path / "mini.xz").write_bytes(lzma.compress(mini.read_bytes()))
    lib = tmp_path / "libwfelf-mini.so"
    subprocess.run(
        ["objcopy", "--add-section", f".gnu_debugdata={tmp_path / 'mini.xz'}",
         str(elf_fixtures["debug"]), str(lib)],
        check=True,
    )  # fmt: skip
    data = lib.read_bytes()
    kept = strip_elf(data, StripLevel.DEBUG)
    gone = strip_elf(data, StripLevel.UNNEEDED)
    assert kept.data is not None and gone.data is not None
    assert ".gnu_debugdata" in {s.name for s in read_layout(kept.data).sections}
    assert ".gnu_debugdata" in gone.removed
    assert ".gnu_debugdata" not in {s.name for s in read_layout(gone.data).sections}
    readelf_clean(gone.data, tmp_path)
    assert call_wfelf(gone.data, tmp_path) == call_wfelf(data, tmp_path) == "4.010008"


@pytest.mark.parametrize("level", list(StripLevel))
def test_disk_saving_is_what_the_strip_shrinks(
    debug_so: bytes, patched: bytes, level: StripLevel
) -> None:
    """slim plans with the estimate: it must match the file the strip writes, byte for
    byte, the shorter section name table included."""
    for data in (debug_so, patched):
        result = strip_elf(data, level)
        assert result.data is not None
        assert disk_saving(read_layout(data), level, data) == result.shrunk > 0
