"""The PE reader on images built field by field (tests/machopebuilder.py), honest and hostile.

Real PE files from PyPI wheels, compared with pefile and delvewheel, are in
tests/integration/test_macos_windows.py.
"""

from __future__ import annotations

import random
import struct

import pytest
from machopebuilder import Pe, pe

from wheelfix.errors import WheelfixError
from wheelfix.formats.pe import CorruptPeError, PeInfo, is_pe, parse_pe

_LFANEW = 64
_COFF = _LFANEW + 4
_OPT = _COFF + 20


def parse_or_corrupt(data: bytes) -> PeInfo | CorruptPeError:
    """Parse ``data``; a CorruptPeError is returned, anything else propagates (a failure)."""
    try:
        return parse_pe(data)
    except CorruptPeError as exc:
        return exc


def test_imports_delay_imports_and_pdb() -> None:
    data = pe(
        Pe(
            imports=["KERNEL32.dll", "python312.dll", "libfoo-1a2b.dll"],
            delay_imports=["opengl32.dll"],
            pdb_path="D:\\a\\build\\_ext.pdb",
        )
    )
    info = parse_pe(data)
    assert info.machine == "AMD64"
    assert info.platform == "win_amd64"
    assert info.pe32_plus
    assert info.is_dll
    assert info.imports == ("KERNEL32.dll", "python312.dll", "libfoo-1a2b.dll")
    assert info.delay_imports == ("opengl32.dll",)
    assert info.dlls == (*info.imports, "opengl32.dll")
    assert info.pdb_path == "D:\\a\\build\\_ext.pdb"
    # the CodeView record: "RSDS", GUID, age, the path and its NUL
    assert info.debug_directory_bytes == 24 + len("D:\\a\\build\\_ext.pdb") + 1
    assert info.debug_bytes == 0
    assert info.symtab_bytes == 0
    assert info.file_size == len(data)


@pytest.mark.parametrize(
    ("platform", "machine", "plus"),
    [("win32", "I386", False), ("win_amd64", "AMD64", True), ("win_arm64", "ARM64", True)],
)
def test_machines(platform: str, machine: str, plus: bool) -> None:
    info = parse_pe(pe(Pe(platform=platform)))
    assert (info.platform, info.machine, info.pe32_plus) == (platform, machine, plus)
    assert info.identity == f"PE{'32+' if plus else '32'} {machine}"


def test_mingw_debug_sections_and_coff_symbols() -> None:
    info = parse_pe(
        pe(Pe(debug_sections=[(".debug_info", 3000), (".debug_line", 100)], coff_symbols=10))
    )
    names = [s.name for s in info.sections]
    assert names == [".rdata", ".debug_info", ".debug_line"]
    # raw sizes are file-aligned (0x200)
    assert info.debug_bytes == 3072 + 512
    strings = 4 + len(".debug_info\0.debug_line\0")
    assert info.symtab_bytes == 10 * 18 + strings


def test_dlls_are_unique_case_insensitively() -> None:
    info = parse_pe(pe(Pe(imports=["KERNEL32.dll"], delay_imports=["kernel32.DLL"])))
    assert info.dlls == ("KERNEL32.dll",)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (pe(), True),
        (b"MZ" + b"\0" * 62, False),  # e_lfanew 0 points at "MZ", not "PE\0\0"
        (b"MZ", False),
        (b"\x7fELF" + b"\0" * 60, False),
    ],
)
def test_is_pe(data: bytes, expected: bool) -> None:
    assert is_pe(data) is expected


def test_error_is_a_wheelfix_error() -> None:
    assert issubclass(CorruptPeError, WheelfixError)
    with pytest.raises(CorruptPeError, match="no MZ header"):
        parse_pe(b"plain text, not a program")


# -- hostile images ------------------------------------------------------------------------
def _full() -> bytes:
    return pe(
        Pe(
            delay_imports=["foo.dll"],
            pdb_path="C:\\x.pdb",
            debug_sections=[(".debug_info", 40)],
            coff_symbols=2,
        )
    )


def test_every_truncation_is_corrupt() -> None:
    data = _full()
    for cut in range(64, len(data)):
        with pytest.raises(CorruptPeError):
            parse_pe(data[:cut])


def _patched(data: bytes, offset: int, fmt: str, *values: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, *values)
    return bytes(out)


_DIRS = _OPT + 112  # PE32+ data directories
_SECTIONS = _OPT + 240


@pytest.mark.parametrize(
    ("offset", "fmt", "values", "reason"),
    [
        (0x3C, "<I", (0xFFFFFF,), "outside the file"),  # e_lfanew past the end
        (_COFF + 2, "<H", (0xFFFF,), "sections"),  # NumberOfSections huge
        (_COFF + 16, "<H", (8,), "past the optional header"),  # SizeOfOptionalHeader tiny
        (_OPT, "<H", (0x777,), "optional header magic"),
        (_DIRS + 8, "<I", (0x7FFF0000,), "in no section"),  # import directory RVA
        (_SECTIONS + 20, "<I", (0x7FFFFF00,), "outside the file"),  # .rdata PointerToRawData
        (_COFF + 8, "<I", (0x7FFFFF00,), "outside the file"),  # PointerToSymbolTable
    ],
)
def test_corrupt_header_fields(offset: int, fmt: str, values: tuple[int, ...], reason: str) -> None:
    with pytest.raises(CorruptPeError, match=reason):
        parse_pe(_patched(_full(), offset, fmt, *values))


def _import_table(data: bytes) -> int:
    rva: int = struct.unpack_from("<I", data, _DIRS + 8)[0]
    return rva - 0x1000 + 0x200  # .rdata: RVA 0x1000 at file offset 0x200


def test_import_name_outside_every_section() -> None:
    data = _full()
    with pytest.raises(CorruptPeError, match="import name"):
        parse_pe(_patched(data, _import_table(data) + 12, "<I", 0x00F00000))


def test_import_name_that_is_not_a_string() -> None:
    """A name RVA pointing into other data (0xdb bytes, then the COFF string table)."""
    data = pe(Pe(imports=["a.dll"], debug_sections=[(".debug_info", 0x200)]))
    debug_rva = 0x2000
    with pytest.raises(CorruptPeError, match="import name is not UTF-8"):
        parse_pe(_patched(data, _import_table(data) + 12, "<I", debug_rva))


def test_import_table_without_terminator() -> None:
    """Descriptors that never end run into the end of the file: an error, not a long loop."""
    data = bytearray(pe(Pe(imports=["a.dll"])))
    start = _import_table(bytes(data))
    name_rva = struct.unpack_from("<I", data, start + 12)[0]
    for at in range(start, len(data) - 20 + 1, 20):
        struct.pack_into("<IIIII", data, at, 1, 0, 0, name_rva, 0)
    with pytest.raises(CorruptPeError):
        parse_pe(bytes(data))


def test_old_style_delay_descriptor_below_image_base() -> None:
    """Attribute bit 0 clear means VAs; a name VA below ImageBase is a negative RVA."""
    data = pe(Pe(delay_imports=["foo.dll"]))
    rva = struct.unpack_from("<I", data, _DIRS + 13 * 8)[0]
    at = rva - 0x1000 + 0x200
    with pytest.raises(CorruptPeError, match="negative RVA"):
        parse_pe(_patched(data, at, "<I", 0))


def test_debug_record_outside_the_file() -> None:
    data = _full()
    rva = struct.unpack_from("<I", data, _DIRS + 6 * 8)[0]
    at = rva - 0x1000 + 0x200
    with pytest.raises(CorruptPeError, match="debug data"):
        parse_pe(_patched(data, at + 24, "<I", 0x7FFFFFF0))  # PointerToRawData


def test_fuzz_random_byte_flips() -> None:
    """Random damage to the headers and .rdata only ever gives a result or CorruptPeError."""
    original = _full()
    rng = random.Random(20261203)  # noqa: S311 - a fixed seed makes failures reproducible
    outcomes = {"parsed": 0, "corrupt": 0}
    for _ in range(400):
        data = bytearray(original)
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(0x400) if rng.random() < 0.85 else rng.randrange(len(data))
            data[at] = rng.choice((0, 0xFF, rng.randrange(256), data[at] ^ (1 << rng.randrange(8))))
        outcome = parse_or_corrupt(bytes(data))
        outcomes["parsed" if isinstance(outcome, PeInfo) else "corrupt"] += 1
    assert outcomes["corrupt"] > 0
    assert outcomes["parsed"] > 0
