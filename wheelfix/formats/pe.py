"""Reading PE files (Windows ``.pyd``/``.dll``): machine, imported DLLs, debug bytes.

:func:`parse_pe` turns the bytes of one PE image into a :class:`PeInfo`: the machine and the
wheel architecture it means, the sections, the DLLs named by the import directory and by the
delay-load import directory, the CodeView record of the debug directory (the ``.pdb`` path
the linker wrote), and the bytes held by DWARF sections (MinGW's ``.debug_*``) and by the
COFF symbol table.

Why our own reader and not pefile (which delvewheel uses): pefile parses every directory,
keeps going on malformed input with warnings, and its cost grows with the file; we need the
headers and two import tables, in process, under the same rule as the ELF reader (DESIGN.md,
rule 9). Input is hostile: every offset, RVA, size and count is checked against the bytes
before use, loops are bounded, and every failure raises :class:`CorruptPeError`.
Layouts follow Microsoft's "PE Format" specification (names as there).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from wheelfix.errors import WheelfixError
from wheelfix.formats.magic import PE_MAGIC, is_pe

__all__ = ["PE_MAGIC", "CorruptPeError", "PeInfo", "PeSection", "is_pe", "parse_pe"]

_PE32, _PE32_PLUS = 0x10B, 0x20B
_DIR_IMPORT, _DIR_DEBUG, _DIR_DELAY_IMPORT = 1, 6, 13
_IMAGE_FILE_DLL = 0x2000
_DEBUG_TYPE_CODEVIEW = 2
_MAX_SECTIONS = 96  # the loader's own limit
_MAX_STRING = 1024
_COFF_SYMBOL_SIZE = 18
_MAX_DESCRIPTORS = 4096  # DLLs one image imports; real ones name a few dozen

#: IMAGE_FILE_MACHINE_* -> wheel platform tag
_MACHINES = {
    0x14C: ("I386", "win32"),
    0x8664: ("AMD64", "win_amd64"),
    0xAA64: ("ARM64", "win_arm64"),
    0x1C4: ("ARMNT", "win_arm32"),
    0xA641: ("ARM64EC", None),
    0xA64E: ("ARM64X", "win_arm64"),
    0x200: ("IA64", "win_ia64"),
}


class CorruptPeError(WheelfixError):
    """The bytes start like a PE image but cannot be read as one."""


@dataclass(frozen=True, slots=True)
class PeSection:
    name: str
    virtual_address: int
    virtual_size: int
    raw_offset: int
    raw_size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PeInfo:
    """What wheelfix needs to know about one PE image. Built once, never mutated."""

    machine: str
    platform: str | None
    pe32_plus: bool
    is_dll: bool
    sections: tuple[PeSection, ...]
    imports: tuple[str, ...]
    delay_imports: tuple[str, ...]
    pdb_path: str | None
    #: bytes the debug directory's entries point at (CodeView record, POGO data, ...)
    debug_directory_bytes: int
    debug_bytes: int
    symtab_bytes: int
    file_size: int

    @property
    def dlls(self) -> tuple[str, ...]:
        """Every DLL the image names, imports first, without repeats (case-insensitive)."""
        seen: set[str] = set()
        out = []
        for name in (*self.imports, *self.delay_imports):
            if name.lower() not in seen:
                seen.add(name.lower())
                out.append(name)
        return tuple(out)

    @property
    def identity(self) -> str:
        return f"PE{'32+' if self.pe32_plus else '32'} {self.machine}"


def parse_pe(data: bytes) -> PeInfo:
    """Read one PE image; raises :class:`CorruptPeError` for anything malformed."""
    if len(data) < 64 or data[:2] != PE_MAGIC:
        raise CorruptPeError("not a PE file (no MZ header)")
    try:
        return _parse(data)
    except CorruptPeError:
        raise
    except (struct.error, ValueError, IndexError, OverflowError, MemoryError) as exc:
        raise CorruptPeError(f"cannot parse PE ({type(exc).__name__}: {exc})") from None


def _unpack(data: bytes, fmt: str, offset: int, what: str) -> tuple[int, ...]:
    st = struct.Struct("<" + fmt)
    if offset < 0 or offset + st.size > len(data):
        raise CorruptPeError(f"{what} at offset {offset} lies outside the file")
    return st.unpack_from(data, offset)


def _cstring(data: bytes, offset: int, what: str, limit: int = _MAX_STRING) -> str:
    if offset < 0 or offset >= len(data):
        raise CorruptPeError(f"{what} at offset {offset} lies outside the file")
    nul = data.find(b"\0", offset, min(len(data), offset + limit))
    if nul < 0:
        raise CorruptPeError(f"{what} is not NUL-terminated")
    try:
        return data[offset:nul].decode("utf-8")
    except UnicodeDecodeError:
        raise CorruptPeError(f"{what} is not UTF-8") from None


@dataclass(frozen=True, slots=True)
class _Headers:
    machine: int
    characteristics: int
    pe32_plus: bool
    image_base: int
    directories: tuple[tuple[int, int], ...]
    sections: tuple[PeSection, ...]
    symtab: tuple[int, int]
    headers_size: int


def _headers(data: bytes) -> _Headers:
    (lfanew,) = _unpack(data, "I", 0x3C, "e_lfanew")
    if _span(data, lfanew, 4, "PE signature") != b"PE\0\0":
        raise CorruptPeError("no PE signature where e_lfanew points")
    machine, nsections, _ts, symptr, nsyms, opt_size, characteristics = _unpack(
        data, "HHIIIHH", lfanew + 4, "COFF header"
    )
    if nsections > _MAX_SECTIONS:
        raise CorruptPeError(f"{nsections} sections (the loader allows {_MAX_SECTIONS})")
    opt = lfanew + 24
    (magic,) = _unpack(data, "H", opt, "optional header")
    if magic not in (_PE32, _PE32_PLUS):
        raise CorruptPeError(f"unknown optional header magic {magic:#x}")
    plus = magic == _PE32_PLUS
    (image_base,) = _unpack(data, "Q" if plus else "I", opt + (24 if plus else 28), "ImageBase")
    (headers_size,) = _unpack(data, "I", opt + 60, "SizeOfHeaders")
    count_at = opt + (108 if plus else 92)
    (count,) = _unpack(data, "I", count_at, "NumberOfRvaAndSizes")
    count = min(count, 16)
    if count_at + 4 + 8 * count > opt + opt_size:
        raise CorruptPeError("data directories lie past the optional header")
    directories = tuple(
        (rva, size)
        for rva, size in struct.iter_unpack(
            "<II", _span(data, count_at + 4, 8 * count, "data directories")
        )
    )
    table = opt + opt_size
    sections = []
    raw = _span(data, table, 40 * nsections, "section table")
    strings_at = symptr + nsyms * _COFF_SYMBOL_SIZE if symptr else 0
    for name8, vsize, vaddr, rsize, rptr, *_ in struct.iter_unpack("<8sIIIIIIHHI", raw):
        if rsize and rptr + rsize > len(data):
            raise CorruptPeError(f"section {name8!r} lies outside the file")
        name = _section_name(data, name8, strings_at)
        sections.append(PeSection(name, vaddr, vsize, rptr, rsize))
    return _Headers(
        machine,
        characteristics,
        plus,
        image_base,
        directories,
        tuple(sections),
        (symptr, nsyms),
        headers_size,
    )


def _span(data: bytes, offset: int, size: int, what: str) -> bytes:
    if offset < 0 or size < 0 or offset + size > len(data):
        raise CorruptPeError(f"{what} lies outside the file")
    return data[offset : offset + size]


def _section_name(data: bytes, name8: bytes, strings_at: int) -> str:
    """Short names are inline; MinGW writes long ones (``.debug_info``) as ``/offset`` into
    the COFF string table."""
    name = name8.rstrip(b"\0")
    if name.startswith(b"/") and name[1:].isdigit() and strings_at:
        return _cstring(data, strings_at + int(name[1:]), "long section name", 256)
    return name.decode("latin-1")


def _offset(h: _Headers, data: bytes, rva: int, what: str) -> int:
    """File offset of an RVA, through the section that maps it."""
    if rva < 0:
        raise CorruptPeError(f"{what} has a negative RVA")
    if rva < h.headers_size and rva < len(data):
        return rva
    for s in h.sections:
        span = max(s.virtual_size, s.raw_size)
        if s.virtual_address <= rva < s.virtual_address + span:
            delta = rva - s.virtual_address
            if delta >= s.raw_size:
                raise CorruptPeError(f"{what} (RVA {rva:#x}) is not backed by file bytes")
            return s.raw_offset + delta
    raise CorruptPeError(f"{what} (RVA {rva:#x}) is in no section")


def _parse(data: bytes) -> PeInfo:
    h = _headers(data)
    machine, platform = _MACHINES.get(h.machine, (f"machine {h.machine:#x}", None))
    debug = sum(s.raw_size for s in h.sections if s.name.startswith((".debug", ".zdebug")))
    symtab = 0
    symptr, nsyms = h.symtab
    if symptr:
        strings_at = symptr + nsyms * _COFF_SYMBOL_SIZE
        (strsize,) = _unpack(data, "I", strings_at, "COFF string table")
        if strings_at + strsize > len(data):
            raise CorruptPeError("COFF string table lies outside the file")
        symtab = nsyms * _COFF_SYMBOL_SIZE + strsize
    pdb_path, debug_directory_bytes = _debug_directory(h, data)
    return PeInfo(
        machine=machine,
        platform=platform,
        pe32_plus=h.pe32_plus,
        is_dll=bool(h.characteristics & _IMAGE_FILE_DLL),
        sections=h.sections,
        imports=_imports(h, data),
        delay_imports=_delay_imports(h, data),
        pdb_path=pdb_path,
        debug_directory_bytes=debug_directory_bytes,
        debug_bytes=debug,
        symtab_bytes=symtab,
        file_size=len(data),
    )


def _directory(h: _Headers, index: int) -> tuple[int, int]:
    return h.directories[index] if index < len(h.directories) else (0, 0)


def _descriptors(
    h: _Headers, data: bytes, index: int, size: int, fmt: str, what: str
) -> list[tuple[int, ...]]:
    """The descriptors of a directory up to the all-zero one, bounded by the file."""
    rva, _declared = _directory(h, index)
    if rva == 0:
        return []
    at = _offset(h, data, rva, what)
    out: list[tuple[int, ...]] = []
    for _ in range(_MAX_DESCRIPTORS):
        fields = _unpack(data, fmt, at, what)
        if not any(fields):
            return out
        out.append(fields)
        at += size
    raise CorruptPeError(f"{what}s: more than {_MAX_DESCRIPTORS} without a terminator")


def _imports(h: _Headers, data: bytes) -> tuple[str, ...]:
    names = []
    for fields in _descriptors(h, data, _DIR_IMPORT, 20, "IIIII", "import descriptor"):
        name_rva = fields[3]
        names.append(_cstring(data, _offset(h, data, name_rva, "import name"), "import name"))
    return tuple(names)


def _delay_imports(h: _Headers, data: bytes) -> tuple[str, ...]:
    names = []
    for fields in _descriptors(h, data, _DIR_DELAY_IMPORT, 32, "8I", "delay-load descriptor"):
        attributes, name = fields[0], fields[1]
        # Attribute bit 0 clear: an old (VC6) descriptor holding VAs instead of RVAs.
        rva = name if attributes & 1 else name - h.image_base
        where = _offset(h, data, rva, "delay-load import name")
        names.append(_cstring(data, where, "delay-load import name"))
    return tuple(names)


def _debug_directory(h: _Headers, data: bytes) -> tuple[str | None, int]:
    """The CodeView record's ``.pdb`` path, and the bytes all debug entries point at
    (CodeView, POGO, embedded PDB, ...)."""
    rva, size = _directory(h, _DIR_DEBUG)
    if rva == 0 or size == 0:
        return None, 0
    at = _offset(h, data, rva, "debug directory")
    pdb, total = None, 0
    for i in range(min(size // 28, 64)):
        fields = _unpack(data, "IIHHIIII", at + 28 * i, "debug directory entry")
        kind, length, pointer = fields[4], fields[5], fields[7]
        if pointer == 0:
            continue  # data not mapped from the file (allowed by the format)
        _span(data, pointer, length, "debug data")  # bounds only: the data may be big
        total += length
        if kind != _DEBUG_TYPE_CODEVIEW or length < 24 or pdb is not None:
            continue
        record = data[pointer : pointer + min(length, 24 + _MAX_STRING)]
        if record[:4] == b"RSDS":
            nul = record.find(b"\0", 24)
            raw = record[24:] if nul < 0 else record[24:nul]
            pdb = raw.decode("utf-8", "replace") or None
    return pdb, total
