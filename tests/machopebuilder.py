"""Minimal Mach-O and PE files for tests, written field by field with :mod:`struct`.

The files are what the readers need and nothing more: a Mach-O header with the load
commands a test asks for (and a symbol table and a ``__DWARF`` segment if wanted), a fat
header around several slices, a PE image with one ``.rdata`` section holding the import,
delay-load and debug directories, plus optional MinGW-style ``.debug_*`` sections and a
COFF symbol table. Layouts follow ``<mach-o/loader.h>``, ``<mach-o/fat.h>`` and Microsoft's
"PE Format". No code runs in these files; loaders would refuse them, readers must not.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["CPU", "Dylib", "MachO", "Pe", "fat", "macho", "pe"]

#: cputype per architecture (CPU_TYPE_* in <mach/machine.h>)
CPU = {"i386": 7, "x86_64": 0x01000007, "arm64": 0x0100000C, "ppc": 18}
_LC = {"load": 0xC, "weak": 0x80000018, "reexport": 0x8000001F, "lazy": 0x20}
_LC_ID_DYLIB, _LC_RPATH, _LC_BUILD_VERSION, _LC_VERSION_MIN_MACOSX = 0xD, 0x8000001C, 0x32, 0x24
_LC_SEGMENT_64, _LC_SYMTAB = 0x19, 0x2
_MH_BUNDLE = 8


def _pad(data: bytes, to: int = 8) -> bytes:
    return data + b"\0" * (-len(data) % to)


def _packed(version: tuple[int, int, int]) -> int:
    major, minor, patch = version
    return (major << 16) | (minor << 8) | patch


@dataclass(frozen=True)
class Dylib:
    name: str
    kind: str = "load"  # load, weak, reexport, lazy


@dataclass
class MachO:
    """What goes into one thin Mach-O file."""

    arch: str = "arm64"
    filetype: int = _MH_BUNDLE
    dylibs: Sequence[Dylib] = (Dylib("/usr/lib/libSystem.B.dylib"),)
    rpaths: Sequence[str] = ()
    install_name: str | None = None
    min_os: tuple[int, int, int] | None = (11, 0, 0)
    #: use the old LC_VERSION_MIN_MACOSX instead of LC_BUILD_VERSION
    version_min: bool = False
    #: LC_BUILD_VERSION platform: 1 macOS, 2 iOS, 6 Mac Catalyst
    platform: int = 1
    dwarf_bytes: int = 0
    #: (name, n_type): 0x0e a local symbol, 0x0f an external one, 0x64 a STABS N_SO entry
    symbols: Sequence[tuple[str, int]] = ()
    big_endian: bool = False
    extra_commands: list[bytes] = field(default_factory=list)


def _dylib_command(dylib: Dylib) -> bytes:
    name = _pad(dylib.name.encode() + b"\0")
    return struct.pack("<IIIIII", _LC[dylib.kind], 24 + len(name), 24, 2, 0x10000, 0x10000) + name


def _path_command(cmd: int, path: str) -> bytes:
    raw = _pad(path.encode() + b"\0")
    return struct.pack("<III", cmd, 12 + len(raw), 12) + raw


def _version_command(spec: MachO) -> list[bytes]:
    if spec.min_os is None:
        return []
    if spec.version_min:
        return [struct.pack("<IIII", _LC_VERSION_MIN_MACOSX, 16, _packed(spec.min_os), 0)]
    return [
        struct.pack("<IIIIII", _LC_BUILD_VERSION, 24, spec.platform, _packed(spec.min_os), 0, 0)
    ]


def macho(spec: MachO | None = None) -> bytes:
    """A thin 64-bit Mach-O file (little-endian unless ``big_endian``)."""
    spec = spec or MachO()
    commands = [_dylib_command(d) for d in spec.dylibs]
    commands += [_path_command(_LC_RPATH, r) for r in spec.rpaths]
    if spec.install_name is not None:
        name = _pad(spec.install_name.encode() + b"\0")
        commands.append(struct.pack("<IIIIII", _LC_ID_DYLIB, 24 + len(name), 24, 0, 0, 0) + name)
    commands += _version_command(spec)
    commands += spec.extra_commands
    with_dwarf = spec.dwarf_bytes > 0
    with_symtab = bool(spec.symbols)
    sizeofcmds = sum(map(len, commands)) + 72 * with_dwarf + 24 * with_symtab
    data_at = 32 + sizeofcmds
    tail = b""
    if with_dwarf:
        commands.append(
            struct.pack(
                "<II16sQQQQiiII",
                _LC_SEGMENT_64,
                72,
                b"__DWARF",
                0,
                spec.dwarf_bytes,
                data_at,
                spec.dwarf_bytes,
                7,
                3,
                0,
                0,
            )
        )
        tail += b"\xdd" * spec.dwarf_bytes
    if with_symtab:
        names = [b""]
        entries = []
        at = 1
        for symbol, n_type in spec.symbols:
            entries.append(struct.pack("<IBBhQ", at, n_type, 0, 0, 0))
            names.append(symbol.encode())
            at += len(names[-1]) + 1
        table = b"".join(entries)
        strings = b"\0".join(names) + b"\0"
        symoff = data_at + len(tail)
        stroff = symoff + len(table)
        commands.append(
            struct.pack("<IIIIII", _LC_SYMTAB, 24, symoff, len(spec.symbols), stroff, len(strings))
        )
        tail += table + strings
    header = struct.pack(
        "<IiiIIIII",
        0xFEEDFACF,
        CPU[spec.arch],
        0,
        spec.filetype,
        len(commands),
        sizeofcmds,
        0,
        0,
    )
    data = header + b"".join(commands) + tail
    return _swap(data) if spec.big_endian else data


def _swap(data: bytes) -> bytes:
    """The same header and load-command words in big-endian order (strings stay as they
    are). Handles dylib, rpath and build-version commands only: enough for a PowerPC test."""
    out = bytearray(data)
    magic, cputype, sub, filetype, ncmds, sizeofcmds, flags, reserved = struct.unpack_from(
        "<IiiIIIII", data
    )
    struct.pack_into(
        ">IiiIIIII", out, 0, magic, cputype, sub, filetype, ncmds, sizeofcmds, flags, reserved
    )
    at = 32
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", data, at)
        struct.pack_into(">II", out, at, cmd, size)
        if cmd in _LC.values() or cmd == _LC_BUILD_VERSION:
            words = struct.unpack_from("<IIII", data, at + 8)
            struct.pack_into(">IIII", out, at + 8, *words)
        elif cmd == _LC_RPATH:
            struct.pack_into(">I", out, at + 8, *struct.unpack_from("<I", data, at + 8))
        at += size
    return bytes(out)


def fat(slices: Sequence[bytes], *, align: int = 12) -> bytes:
    """A fat (universal) file: a big-endian ``fat_header`` and one ``fat_arch`` per slice,
    each slice at a ``2**align`` boundary."""
    out = bytearray(struct.pack(">II", 0xCAFEBABE, len(slices)))
    at = 1 << align
    placed = []
    for data in slices:
        cputype, sub = struct.unpack_from("<ii", data, 4)
        out += struct.pack(">iiIII", cputype, sub, at, len(data), align)
        placed.append((at, data))
        at += len(data) + (-len(data) % (1 << align))
    for offset, data in placed:
        out += b"\0" * (offset - len(out))
        out += data
    return bytes(out)


# -- PE ---------------------------------------------------------------------------------------
_MACHINES = {"win_amd64": 0x8664, "win32": 0x14C, "win_arm64": 0xAA64}
_FILE_ALIGN = 0x200
_RDATA_RVA = 0x1000


@dataclass
class Pe:
    """What goes into one PE image (a DLL unless told otherwise)."""

    platform: str = "win_amd64"
    imports: Sequence[str] = ("KERNEL32.dll", "python312.dll", "VCRUNTIME140.dll")
    delay_imports: Sequence[str] = ()
    pdb_path: str | None = None
    #: MinGW-style sections with long names (``.debug_info``) and their sizes
    debug_sections: Sequence[tuple[str, int]] = ()
    coff_symbols: int = 0
    #: IMAGE_FILE_DLL set (a .pyd/.dll) or not (an .exe)
    dll: bool = True


def _rdata(spec: Pe) -> tuple[bytes, dict[int, tuple[int, int]]]:
    """The ``.rdata`` section: names, then import and delay-load descriptors, then the
    debug directory and its CodeView record. Returns the bytes and the data directories."""
    body = bytearray()
    names = {}
    for dll in (*spec.imports, *spec.delay_imports):
        names[dll] = _RDATA_RVA + len(body)
        body += dll.encode() + b"\0"
    body += b"\0" * (-len(body) % 8)
    directories = {}
    if spec.imports:
        directories[1] = (_RDATA_RVA + len(body), 20 * (len(spec.imports) + 1))
        for dll in spec.imports:
            body += struct.pack("<IIIII", 0, 0, 0, names[dll], 0)
        body += b"\0" * 20
    if spec.delay_imports:
        directories[13] = (_RDATA_RVA + len(body), 32 * (len(spec.delay_imports) + 1))
        for dll in spec.delay_imports:
            body += struct.pack("<8I", 1, names[dll], 0, 0, 0, 0, 0, 0)
        body += b"\0" * 32
    if spec.pdb_path is not None:
        record = b"RSDS" + b"\x11" * 16 + struct.pack("<I", 1) + spec.pdb_path.encode() + b"\0"
        debug_at = len(body)
        directories[6] = (_RDATA_RVA + debug_at, 28)
        body += b"\0" * 28
        record_at = len(body)
        body += record
        struct.pack_into(
            "<IIHHIIII",
            body,
            debug_at,
            0,
            0,
            0,
            0,
            2,
            len(record),
            _RDATA_RVA + record_at,
            _FILE_ALIGN + record_at,
        )
    return bytes(body), directories


def pe(spec: Pe | None = None) -> bytes:
    """A PE32+ (or PE32 for ``win32``) DLL image."""
    spec = spec or Pe()
    plus = spec.platform != "win32"
    opt_size = 240 if plus else 224
    rdata, directories = _rdata(spec)
    sections = [(".rdata", _RDATA_RVA, rdata)]
    rva = _RDATA_RVA + 0x1000 * (1 + len(rdata) // 0x1000)
    string_table = b""
    for name, size in spec.debug_sections:
        sections.append((f"/{4 + len(string_table)}", rva, b"\xdb" * size))
        string_table += name.encode() + b"\0"
        rva += 0x1000 * (1 + size // 0x1000)
    # layout: headers, then each section's raw data at file-aligned offsets
    raw_at = _FILE_ALIGN
    table = b""
    blobs = b""
    for name, vaddr, blob in sections:
        raw = blob + b"\0" * (-len(blob) % _FILE_ALIGN)
        table += struct.pack(
            "<8sIIIIIIHHI",
            name.encode(),
            len(blob),
            vaddr,
            len(raw),
            raw_at + len(blobs),
            0,
            0,
            0,
            0,
            0x40000040,
        )
        blobs += raw
    symptr = (_FILE_ALIGN + len(blobs)) if (spec.coff_symbols or string_table) else 0
    symbols = b"\0" * (18 * spec.coff_symbols)
    strings = struct.pack("<I", 4 + len(string_table)) + string_table if symptr else b""
    coff = struct.pack(
        "<HHIIIHH",
        _MACHINES[spec.platform],
        len(sections),
        0,
        symptr,
        spec.coff_symbols,
        opt_size,
        0x2022 if spec.dll else 0x22,
    )
    optional = bytearray(opt_size)
    struct.pack_into("<H", optional, 0, 0x20B if plus else 0x10B)
    if plus:
        struct.pack_into("<Q", optional, 24, 0x180000000)
    else:
        struct.pack_into("<I", optional, 28, 0x10000000)
    struct.pack_into("<II", optional, 32, 0x1000, _FILE_ALIGN)
    struct.pack_into("<I", optional, 60, _FILE_ALIGN)  # SizeOfHeaders
    count_at = 108 if plus else 92
    struct.pack_into("<I", optional, count_at, 16)
    for index, (where, size) in directories.items():
        struct.pack_into("<II", optional, count_at + 4 + 8 * index, where, size)
    dos = bytearray(64)
    dos[:2] = b"MZ"
    struct.pack_into("<I", dos, 0x3C, 64)
    headers = bytes(dos) + b"PE\0\0" + coff + bytes(optional) + table
    assert len(headers) <= _FILE_ALIGN, "too many sections for the header space"
    headers += b"\0" * (_FILE_ALIGN - len(headers))
    return headers + blobs + symbols + strings
