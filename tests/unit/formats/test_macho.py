"""The Mach-O reader on files built field by field (tests/machopebuilder.py), honest and hostile.

Real Mach-O files from PyPI wheels, compared with macholib and delocate, are in
tests/integration/test_macos_windows.py.
"""

from __future__ import annotations

import random
import struct

import pytest
from machopebuilder import Dylib, MachO, fat, macho

from wheelfix.errors import WheelfixError
from wheelfix.formats.macho import CorruptMachOError, MachOInfo, is_macho, parse_macho

_N_LOCAL, _N_EXTERNAL, _N_SO = 0x0E, 0x0F, 0x64


def parse_or_corrupt(data: bytes) -> MachOInfo | CorruptMachOError:
    """Parse ``data``; a CorruptMachOError is returned, anything else propagates (a failure)."""
    try:
        return parse_macho(data)
    except CorruptMachOError as exc:
        return exc


def test_thin_file_load_commands() -> None:
    data = macho(
        MachO(
            arch="x86_64",
            dylibs=[
                Dylib("/usr/lib/libSystem.B.dylib"),
                Dylib("@rpath/libfoo.1.dylib", "weak"),
                Dylib("@loader_path/libbar.dylib", "reexport"),
                Dylib("/opt/x/libbaz.dylib", "lazy"),
            ],
            rpaths=["@loader_path/.dylibs", "/opt/homebrew/lib"],
            install_name="@rpath/libself.dylib",
            min_os=(10, 13, 2),
        )
    )
    info = parse_macho(data)
    assert not info.fat
    assert info.file_size == len(data)
    (one,) = info.slices
    assert one.arch == "x86_64"
    assert one.filetype == "bundle"
    assert [(d.name, d.kind) for d in one.dylibs] == [
        ("/usr/lib/libSystem.B.dylib", "load"),
        ("@rpath/libfoo.1.dylib", "weak"),
        ("@loader_path/libbar.dylib", "reexport"),
        ("/opt/x/libbaz.dylib", "lazy"),
    ]
    assert one.rpaths == ("@loader_path/.dylibs", "/opt/homebrew/lib")
    assert one.install_name == "@rpath/libself.dylib"
    assert one.min_os == (10, 13, 2)
    assert one.platform == "macos"


def test_old_version_min_command() -> None:
    (one,) = parse_macho(macho(MachO(arch="x86_64", min_os=(10, 9, 0), version_min=True))).slices
    assert one.min_os == (10, 9, 0)
    assert one.platform == "macos"


def test_zippered_dylib_keeps_the_macos_version() -> None:
    catalyst = struct.pack("<IIIIII", 0x32, 24, 6, (14 << 16), 0, 0)
    data = macho(MachO(min_os=(11, 0, 0), extra_commands=[catalyst]))
    (one,) = parse_macho(data).slices
    assert (one.platform, one.min_os) == ("macos", (11, 0, 0))


def test_no_version_command() -> None:
    (one,) = parse_macho(macho(MachO(min_os=None))).slices
    assert one.min_os is None


def test_universal2_fat_file() -> None:
    data = fat([macho(MachO(arch="x86_64", min_os=(10, 9, 0))), macho(MachO(arch="arm64"))])
    info = parse_macho(data)
    assert info.fat
    assert info.arches == ("x86_64", "arm64")
    assert [s.min_os for s in info.slices] == [(10, 9, 0), (11, 0, 0)]
    assert info.slices[1].offset == 2 * 4096
    assert "universal" in info.identity


def test_big_endian_powerpc() -> None:
    data = macho(MachO(arch="ppc", big_endian=True, rpaths=["@loader_path"]))
    assert data[:4] == b"\xfe\xed\xfa\xcf"
    (one,) = parse_macho(data).slices
    assert one.arch == "ppc"
    assert one.rpaths == ("@loader_path",)
    assert one.dylibs[0].name == "/usr/lib/libSystem.B.dylib"


def test_debug_and_symbol_bytes() -> None:
    symbols = [("_local", _N_LOCAL), ("_PyInit_x", _N_EXTERNAL), ("/src/x.c", _N_SO)]
    (one,) = parse_macho(macho(MachO(dwarf_bytes=300, symbols=symbols))).slices
    assert one.dwarf_bytes == 300
    # each entry is 16 bytes of nlist_64 plus its NUL-terminated name
    assert one.stab_bytes == 16 + len("/src/x.c") + 1
    assert one.local_symbol_bytes == 16 + len("_local") + 1
    strings = 1 + sum(len(n) + 1 for n, _ in symbols)
    assert one.symtab_bytes == 3 * 16 + strings
    assert one.debug_bytes == 300 + one.stab_bytes


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xcf\xfa\xed\xfe" + b"\0" * 28, True),  # 64-bit little-endian
        (b"\xce\xfa\xed\xfe" + b"\0" * 24, True),  # 32-bit little-endian
        (b"\xca\xfe\xba\xbe\0\0\0\x02", True),  # fat, 2 architectures
        (b"\xca\xfe\xba\xbe\0\0\0\x34", False),  # a Java class file (major version 52)
        (b"\xca\xfe\xba\xbe\0\0\0\0", False),
        (b"\x7fELF\x02\x01\x01\0", False),
        (b"MZ\x90\0", False),
        (b"", False),
    ],
)
def test_is_macho(head: bytes, expected: bool) -> None:
    assert is_macho(head) is expected


def test_error_is_a_wheelfix_error() -> None:
    assert issubclass(CorruptMachOError, WheelfixError)
    with pytest.raises(CorruptMachOError, match="not a Mach-O"):
        parse_macho(b"not mach-o at all")


# -- hostile files -------------------------------------------------------------------------
def _thin() -> bytes:
    return macho(
        MachO(
            dylibs=[Dylib("@rpath/libfoo.dylib")],
            rpaths=["@loader_path"],
            install_name="@rpath/x.so",
            dwarf_bytes=64,
            symbols=[("_a", _N_LOCAL), ("_b", _N_EXTERNAL)],
        )
    )


def test_every_truncation_is_corrupt() -> None:
    data = _thin()
    for cut in range(8, len(data)):
        with pytest.raises(CorruptMachOError):
            parse_macho(data[:cut])


def test_every_fat_truncation_is_corrupt() -> None:
    data = fat([macho(MachO(arch="x86_64")), macho()])
    for cut in range(8, len(data), 7):
        with pytest.raises(CorruptMachOError):
            parse_macho(data[:cut])


def _patched(data: bytes, offset: int, fmt: str, *values: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, *values)
    return bytes(out)


_FIRST_CMD = 32  # the first load command follows the 64-bit header


@pytest.mark.parametrize(
    ("offset", "fmt", "values", "reason"),
    [
        (16, "<I", (0xFFFFFFFF,), "do not fit"),  # ncmds huge
        (20, "<I", (0xFFFFFFF0,), "do not fit"),  # sizeofcmds past the end
        (_FIRST_CMD + 4, "<I", (0,), "impossible size"),  # cmdsize 0
        (_FIRST_CMD + 4, "<I", (0x7FFFFFF0,), "impossible size"),  # cmdsize past sizeofcmds
        (_FIRST_CMD + 8, "<I", (4,), "string offset"),  # dylib name inside the header
        (_FIRST_CMD + 8, "<I", (0xFFFF,), "string offset"),  # dylib name past its command
    ],
)
def test_corrupt_header_fields(offset: int, fmt: str, values: tuple[int, ...], reason: str) -> None:
    with pytest.raises(CorruptMachOError, match=reason):
        parse_macho(_patched(_thin(), offset, fmt, *values))


def test_string_without_nul_inside_its_command() -> None:
    data = bytearray(macho(MachO(dylibs=[Dylib("/usr/lib/libz.1.dylib")])))
    cmdsize = struct.unpack_from("<I", data, _FIRST_CMD + 4)[0]
    start = _FIRST_CMD + 24
    data[start : _FIRST_CMD + cmdsize] = b"A" * (cmdsize - 24)
    with pytest.raises(CorruptMachOError, match="not NUL-terminated"):
        parse_macho(bytes(data))


def test_symbol_table_past_the_end() -> None:
    data = _thin()
    info = parse_macho(data)
    assert info.slices[0].symtab_bytes
    # find LC_SYMTAB and make nsyms huge
    at = _FIRST_CMD
    while struct.unpack_from("<I", data, at)[0] != 0x2:
        at += struct.unpack_from("<I", data, at + 4)[0]
    with pytest.raises(CorruptMachOError, match="symbol table"):
        parse_macho(_patched(data, at + 12, "<I", 0x10000000))


def test_symbols_sharing_one_long_name() -> None:
    """10 000 local symbols all naming the same 3000-byte string: refused instead of
    scanning 30 MB (the pass over names stays linear in the file size)."""
    symbols = [("_" + "x" * 3000, _N_LOCAL)] + [("a", _N_LOCAL)] * 9_999
    data = bytearray(macho(MachO(symbols=symbols)))
    at = _FIRST_CMD
    while struct.unpack_from("<I", data, at)[0] != 0x2:
        at += struct.unpack_from("<I", data, at + 4)[0]
    symoff, nsyms = struct.unpack_from("<II", data, at + 8)
    for i in range(nsyms):
        struct.pack_into("<I", data, symoff + 16 * i, 1)  # every n_strx -> the first name
    with pytest.raises(CorruptMachOError, match="overlap"):
        parse_macho(bytes(data))


def test_segment_past_the_end() -> None:
    data = _thin()
    at = _FIRST_CMD
    while struct.unpack_from("<I", data, at)[0] != 0x19:
        at += struct.unpack_from("<I", data, at + 4)[0]
    with pytest.raises(CorruptMachOError, match="segment"):
        parse_macho(_patched(data, at + 48, "<Q", 1 << 40))  # filesize


def _fat_pair() -> bytes:
    return fat([macho(MachO(arch="x86_64")), macho()])


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        (8, 1 << 30, "outside the file"),  # offset of the first slice
        (12, 1 << 30, "outside the file"),  # size of the first slice
        (8, 0, "outside the file"),  # slice inside the fat header
        (28, 4096, "overlaps"),  # second slice at the first one's offset
        (20, 0x0100000C, "cputype"),  # first entry says arm64, its header says x86_64
    ],
)
def test_corrupt_fat_entries(field: int, value: int, reason: str) -> None:
    # fat_arch entries start at 8: cputype, cpusubtype, offset, size, align (20 bytes each)
    offsets = {8: 8 + 8, 12: 8 + 12, 28: 28 + 8, 20: 8}
    data = _patched(_fat_pair(), offsets[field], ">I", value)
    with pytest.raises(CorruptMachOError, match=reason):
        parse_macho(data)


def test_nested_fat_is_refused() -> None:
    inner = _fat_pair()
    outer = bytearray(struct.pack(">II", 0xCAFEBABE, 1))
    outer += struct.pack(">iiIII", 0x0100000C, 0, 4096, len(inner), 12)
    outer += b"\0" * (4096 - len(outer)) + inner
    with pytest.raises(CorruptMachOError, match="does not start with a Mach-O header"):
        parse_macho(bytes(outer))


def test_fuzz_random_byte_flips() -> None:
    """Random damage to the header and load commands only ever gives a result or
    CorruptMachOError (never another exception, never a hang: every loop is bounded)."""
    original = _thin()
    ncmds_end = 32 + struct.unpack_from("<I", original, 20)[0]
    rng = random.Random(20261203)  # noqa: S311 - a fixed seed makes failures reproducible
    outcomes = {"parsed": 0, "corrupt": 0}
    for _ in range(400):
        data = bytearray(original)
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(ncmds_end) if rng.random() < 0.85 else rng.randrange(len(data))
            data[at] = rng.choice((0, 0xFF, rng.randrange(256), data[at] ^ (1 << rng.randrange(8))))
        outcome = parse_or_corrupt(bytes(data))
        outcomes["parsed" if isinstance(outcome, MachOInfo) else "corrupt"] += 1
    assert outcomes["corrupt"] > 0
    assert outcomes["parsed"] > 0
