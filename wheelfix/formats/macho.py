"""Reading Mach-O files (macOS): architectures, linked dylibs, minimum macOS, debug bytes.

:func:`parse_macho` turns the bytes of one thin or fat (universal2) Mach-O file into a
:class:`MachOInfo` with one :class:`MachOSlice` per architecture: the install name
(``LC_ID_DYLIB``), the dylibs it loads (``LC_LOAD_DYLIB``, ``LC_LOAD_WEAK_DYLIB``,
``LC_REEXPORT_DYLIB``, ``LC_LAZY_LOAD_DYLIB``, ``LC_LOAD_UPWARD_DYLIB``), its ``LC_RPATH``
entries, the minimum OS version (``LC_BUILD_VERSION`` or ``LC_VERSION_MIN_MACOSX``) and the
bytes held by debug information (a ``__DWARF`` segment, STABS debug-map entries) and by
local symbols (what ``strip -x`` removes).

Why our own reader and not macholib (which delocate uses): macholib parses whole files into
objects, reads on past inconsistent counts and raises whatever the bytes provoke; we need a
dozen load commands, in process, under the same rule as the ELF reader (DESIGN.md, rule 9).
Input is hostile: every offset, size and count is checked against the bytes before use,
loops are bounded by the file size, and every failure raises :class:`CorruptMachOError`.
Layouts follow Apple's ``<mach-o/loader.h>`` and ``<mach-o/fat.h>`` (names as there).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from wheelfix.errors import WheelfixError
from wheelfix.formats.magic import (
    FAT_MAGIC,
    FAT_MAGIC_64,
    MH_MAGIC,
    MH_MAGIC_64,
    is_macho,
)

__all__ = [
    "CorruptMachOError",
    "DylibLoad",
    "MachOInfo",
    "MachOSlice",
    "is_macho",
    "parse_macho",
]


_LC_REQ_DYLD = 0x80000000
_LC_SEGMENT, _LC_SYMTAB, _LC_DYSYMTAB = 0x1, 0x2, 0xB
_LC_LOAD_DYLIB, _LC_ID_DYLIB = 0xC, 0xD
_LC_SEGMENT_64 = 0x19
_LC_LAZY_LOAD_DYLIB = 0x20
_LC_VERSION_MIN_MACOSX = 0x24
_LC_BUILD_VERSION = 0x32
_LC_LOAD_WEAK_DYLIB = 0x18 | _LC_REQ_DYLD
_LC_RPATH = 0x1C | _LC_REQ_DYLD
_LC_REEXPORT_DYLIB = 0x1F | _LC_REQ_DYLD
_LC_LOAD_UPWARD_DYLIB = 0x23 | _LC_REQ_DYLD
_DYLIB_KINDS = {
    _LC_LOAD_DYLIB: "load",
    _LC_LOAD_WEAK_DYLIB: "weak",
    _LC_REEXPORT_DYLIB: "reexport",
    _LC_LAZY_LOAD_DYLIB: "lazy",
    _LC_LOAD_UPWARD_DYLIB: "upward",
}
_N_STAB, _N_EXT = 0xE0, 0x01

_CPU_ARCH_ABI64 = 0x01000000
_CPU_ARCH_ABI64_32 = 0x02000000
#: cputype -> architecture name as used in macOS wheel tags
_ARCHES = {
    7: "i386",
    7 | _CPU_ARCH_ABI64: "x86_64",
    12: "arm",
    12 | _CPU_ARCH_ABI64: "arm64",
    12 | _CPU_ARCH_ABI64_32: "arm64_32",
    18: "ppc",
    18 | _CPU_ARCH_ABI64: "ppc64",
}
_FILETYPES = {1: "object", 2: "execute", 6: "dylib", 8: "bundle", 10: "dsym"}
#: LC_BUILD_VERSION platform numbers (PLATFORM_* in loader.h)
_PLATFORMS = {1: "macos", 2: "ios", 3: "tvos", 4: "watchos", 6: "maccatalyst", 7: "iossimulator"}
_MAX_STRING = 4096


class CorruptMachOError(WheelfixError):
    """The bytes start like Mach-O but cannot be read as Mach-O."""


@dataclass(frozen=True, slots=True)
class DylibLoad:
    """One dylib a slice links: the install name as written, and how it is loaded."""

    name: str
    kind: str  # load, weak, reexport, lazy, upward


@dataclass(frozen=True, slots=True, kw_only=True)
class MachOSlice:
    """One architecture of a Mach-O file (the whole file when it is thin)."""

    arch: str | None
    cputype: int
    filetype: str
    offset: int
    size: int
    install_name: str | None
    dylibs: tuple[DylibLoad, ...]
    rpaths: tuple[str, ...]
    #: minimum OS version (major, minor, patch), None when no load command states it
    min_os: tuple[int, int, int] | None
    platform: str | None
    dwarf_bytes: int
    stab_bytes: int
    local_symbol_bytes: int
    symtab_bytes: int

    @property
    def debug_bytes(self) -> int:
        return self.dwarf_bytes + self.stab_bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class MachOInfo:
    """A Mach-O file: one slice when thin, several when fat (universal)."""

    fat: bool
    slices: tuple[MachOSlice, ...]
    file_size: int

    @property
    def arches(self) -> tuple[str, ...]:
        return tuple(s.arch or f"cputype {s.cputype}" for s in self.slices)

    @property
    def debug_bytes(self) -> int:
        return sum(s.debug_bytes for s in self.slices)

    @property
    def local_symbol_bytes(self) -> int:
        return sum(s.local_symbol_bytes for s in self.slices)

    @property
    def identity(self) -> str:
        kind = "universal" if self.fat else "thin"
        return f"Mach-O {kind} ({', '.join(self.arches)})"


def parse_macho(data: bytes) -> MachOInfo:
    """Read one Mach-O file; raises :class:`CorruptMachOError` for anything malformed."""
    if not is_macho(data):
        raise CorruptMachOError("not a Mach-O file")
    try:
        magic = int.from_bytes(data[:4], "big")
        if magic in (FAT_MAGIC, FAT_MAGIC_64):
            slices = _fat_slices(data, magic == FAT_MAGIC_64)
            return MachOInfo(fat=True, slices=slices, file_size=len(data))
        one = _slice(data, 0, len(data))
        return MachOInfo(fat=False, slices=(one,), file_size=len(data))
    except CorruptMachOError:
        raise
    except (struct.error, ValueError, IndexError, OverflowError, MemoryError) as exc:
        raise CorruptMachOError(f"cannot parse Mach-O ({type(exc).__name__}: {exc})") from None


def _fat_slices(data: bytes, wide: bool) -> tuple[MachOSlice, ...]:
    (count,) = struct.unpack_from(">I", data, 4)
    entry = struct.Struct(">iiQQII" if wide else ">iiIII")
    table_end = 8 + count * entry.size
    if table_end > len(data):
        raise CorruptMachOError(f"fat header lists {count} architectures past the end of file")
    slices = []
    spans: list[tuple[int, int]] = []
    for i in range(count):
        fields = entry.unpack_from(data, 8 + i * entry.size)
        cputype, offset, size = fields[0], fields[2], fields[3]
        if offset < table_end or size <= 0 or offset + size > len(data):
            raise CorruptMachOError(
                f"fat architecture {i} (offset {offset}, size {size}) lies outside the file"
            )
        if any(offset < end and start < offset + size for start, end in spans):
            raise CorruptMachOError(f"fat architecture {i} overlaps another")
        spans.append((offset, offset + size))
        one = _slice(data, offset, size)
        if one.cputype != cputype:
            raise CorruptMachOError(
                f"fat architecture {i} says cputype {cputype}, its header {one.cputype}"
            )
        slices.append(one)
    return tuple(slices)


class _View:
    """Bounds-checked access to one slice: offsets are relative to the slice."""

    def __init__(self, data: bytes, base: int, size: int) -> None:
        self.data = data
        self.base = base
        self.size = size
        if size < 28:
            raise CorruptMachOError("truncated Mach-O header")
        magic_le = int.from_bytes(data[base : base + 4], "little")
        if magic_le in (MH_MAGIC, MH_MAGIC_64):
            self.end = "<"
            self.is64 = magic_le == MH_MAGIC_64
        else:
            magic_be = int.from_bytes(data[base : base + 4], "big")
            if magic_be not in (MH_MAGIC, MH_MAGIC_64):
                raise CorruptMachOError("fat architecture does not start with a Mach-O header")
            self.end = ">"
            self.is64 = magic_be == MH_MAGIC_64

    def unpack(self, fmt: str, offset: int) -> tuple[int, ...]:
        st = struct.Struct(self.end + fmt)
        if offset < 0 or offset + st.size > self.size:
            raise CorruptMachOError(f"structure at offset {offset} lies outside the file")
        return st.unpack_from(self.data, self.base + offset)

    def name16(self, offset: int) -> bytes:
        if offset < 0 or offset + 16 > self.size:
            raise CorruptMachOError(f"name at offset {offset} lies outside the file")
        return self.data[self.base + offset : self.base + offset + 16].rstrip(b"\0")

    def lc_str(self, cmd_at: int, cmdsize: int, str_offset: int, what: str) -> str:
        """A load-command string: offset from the command start, NUL-terminated inside it."""
        if str_offset < 8 or str_offset >= cmdsize:
            raise CorruptMachOError(f"{what} string offset {str_offset} lies outside its command")
        start = self.base + cmd_at + str_offset
        end = self.base + cmd_at + min(cmdsize, str_offset + _MAX_STRING)
        nul = self.data.find(b"\0", start, end)
        if nul < 0:
            raise CorruptMachOError(f"{what} string is not NUL-terminated inside its command")
        if nul == start:
            raise CorruptMachOError(f"{what} string is empty")
        try:
            return self.data[start:nul].decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptMachOError(f"{what} string is not UTF-8") from None


@dataclass(slots=True)
class _Acc:
    install_name: str | None = None
    min_os: tuple[int, int, int] | None = None
    platform: str | None = None
    dwarf: int = 0
    symtab: tuple[int, int, int, int] | None = None


def _version(packed: int) -> tuple[int, int, int]:
    """``xxxx.yy.zz`` nibbles, as loader.h packs versions."""
    return (packed >> 16, (packed >> 8) & 0xFF, packed & 0xFF)


def _slice(data: bytes, base: int, size: int) -> MachOSlice:
    v = _View(data, base, size)
    cputype, _sub, filetype, ncmds, sizeofcmds, _flags = v.unpack("iiIIII", 4)
    header = 32 if v.is64 else 28
    if header + sizeofcmds > size or ncmds > sizeofcmds // 8:
        raise CorruptMachOError(
            f"{ncmds} load commands in {sizeofcmds} bytes do not fit in the file"
        )
    acc = _Acc()
    dylibs: list[DylibLoad] = []
    rpaths: list[str] = []
    at = header
    for i in range(ncmds):
        if at + 8 > header + sizeofcmds:
            raise CorruptMachOError(f"load command {i} lies past sizeofcmds")
        cmd, cmdsize = v.unpack("II", at)
        if cmdsize < 8 or at + cmdsize > header + sizeofcmds:
            raise CorruptMachOError(f"load command {i} has an impossible size {cmdsize}")
        if cmd in _DYLIB_KINDS:
            (name_off,) = v.unpack("I", at + 8)
            dylibs.append(DylibLoad(v.lc_str(at, cmdsize, name_off, "dylib"), _DYLIB_KINDS[cmd]))
        elif cmd == _LC_RPATH:
            (path_off,) = v.unpack("I", at + 8)
            rpaths.append(v.lc_str(at, cmdsize, path_off, "LC_RPATH"))
        else:
            _other_command(v, acc, cmd, at, cmdsize)
        at += cmdsize
    stab, local, symtab_bytes = _symbols(v, acc.symtab)
    return MachOSlice(
        arch=_ARCHES.get(cputype),
        cputype=cputype,
        filetype=_FILETYPES.get(filetype, f"type {filetype}"),
        offset=base,
        size=size,
        install_name=acc.install_name,
        dylibs=tuple(dylibs),
        rpaths=tuple(rpaths),
        min_os=acc.min_os,
        platform=acc.platform,
        dwarf_bytes=acc.dwarf,
        stab_bytes=stab,
        local_symbol_bytes=local,
        symtab_bytes=symtab_bytes,
    )


def _other_command(v: _View, acc: _Acc, cmd: int, at: int, cmdsize: int) -> None:
    if cmd == _LC_ID_DYLIB:
        (name_off,) = v.unpack("I", at + 8)
        acc.install_name = v.lc_str(at, cmdsize, name_off, "LC_ID_DYLIB")
    elif cmd == _LC_BUILD_VERSION and acc.platform != "macos":
        # A "zippered" dylib has one for macOS and one for Mac Catalyst: macOS's counts.
        platform, minos = v.unpack("II", at + 8)
        acc.platform = _PLATFORMS.get(platform, f"platform {platform}")
        acc.min_os = _version(minos)
    elif cmd == _LC_VERSION_MIN_MACOSX and acc.min_os is None:
        (version,) = v.unpack("I", at + 8)
        acc.platform = "macos"
        acc.min_os = _version(version)
    elif cmd in (_LC_SEGMENT, _LC_SEGMENT_64):
        name = v.name16(at + 8)
        fmt = "QQQQ" if cmd == _LC_SEGMENT_64 else "IIII"
        _vmaddr, _vmsize, fileoff, filesize = v.unpack(fmt, at + 24)
        if fileoff + filesize > v.size:
            raise CorruptMachOError(f"segment {name!r} lies outside the file")
        if name == b"__DWARF":
            acc.dwarf += filesize
    elif cmd == _LC_SYMTAB:
        if cmdsize < 24:
            raise CorruptMachOError("LC_SYMTAB is too small")
        symoff, nsyms, stroff, strsize = v.unpack("IIII", at + 8)
        acc.symtab = (symoff, nsyms, stroff, strsize)


def _symbols(v: _View, symtab: tuple[int, int, int, int] | None) -> tuple[int, int, int]:
    """Bytes of STABS debug entries, of local symbols, and of the whole table with strings.

    Each entry's bytes include its name in the string table, as ``strip`` recovers them.
    """
    if symtab is None:
        return 0, 0, 0
    symoff, nsyms, stroff, strsize = symtab
    entry = struct.Struct(v.end + ("IBBhQ" if v.is64 else "IBBhI"))
    if symoff + nsyms * entry.size > v.size or stroff + strsize > v.size:
        raise CorruptMachOError(f"symbol table ({nsyms} symbols) lies outside the file")
    start = v.base + symoff
    table = memoryview(v.data)[start : start + nsyms * entry.size]
    strings = v.base + stroff
    limit = strings + strsize
    find = v.data.find
    stab = local = scanned = 0
    # Names may share bytes (linkers merge string tails), but a hostile table could point
    # every symbol at one long name: bound the bytes scanned so the pass stays linear.
    budget = 2 * strsize + 64 * nsyms
    # The hot loop of the reader (numpy's OpenBLAS has 50 000 symbols): no calls but find().
    for strx, n_type, _sect, _desc, _value in entry.iter_unpack(table):
        if n_type & _N_EXT and not n_type & _N_STAB:
            continue
        size = entry.size
        if 0 < strx < strsize:
            at = strings + strx
            nul = find(b"\0", at, at + _MAX_STRING)
            if nul < 0 or nul >= limit:
                raise CorruptMachOError(f"symbol name at {strx} is not NUL-terminated")
            size += nul - at + 1
            scanned += nul - at + 1
            if scanned > budget:
                raise CorruptMachOError("symbol names overlap far beyond linker string sharing")
        if n_type & _N_STAB:
            stab += size
        else:
            local += size
    return stab, local, nsyms * entry.size + strsize
