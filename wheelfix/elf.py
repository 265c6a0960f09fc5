"""Reading ELF files: the only module that imports pyelftools.

:func:`parse_elf` turns the bytes of one ELF file into an :class:`ElfInfo`: identity
(class, endianness, machine, the wheel-tag architecture), dynamic linking facts
(interpreter, SONAME, DT_NEEDED, RPATH/RUNPATH, GNU version needs, x86-64 ISA level) and the
bytes held by debug sections and symbol tables. DWARF is never parsed, only measured.

Input is hostile: the header is validated with :mod:`struct` before pyelftools sees it, every
section must lie inside the file, and any exception from pyelftools (it raises far more than
``ELFError`` on corrupt files) becomes :class:`CorruptElfError`.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

from elftools.elf.dynamic import DynamicSegment
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection
from elftools.elf.hash import ELFHashSection, GNUHashSection
from elftools.elf.sections import NoteSection, SymbolTableSection
from elftools.elf.segments import InterpSegment

from wheelfix.errors import WheelfixError

__all__ = ["ELF_MAGIC", "CorruptElfError", "ElfInfo", "is_elf", "parse_elf"]

ELF_MAGIC = b"\x7fELF"
AR_MAGIC = b"!<arch>\n"

# (e_machine, ELF class, little endian) -> architecture name as used in wheel platform tags.
_ARCHES = {
    ("EM_386", 32, True): "i686",
    ("EM_X86_64", 64, True): "x86_64",
    ("EM_AARCH64", 64, True): "aarch64",
    ("EM_PPC64", 64, True): "ppc64le",
    ("EM_PPC64", 64, False): "ppc64",
    ("EM_S390", 64, False): "s390x",
    ("EM_ARM", 32, True): "armv7l",
    ("EM_RISCV", 64, True): "riscv64",
    ("EM_LOONGARCH", 64, True): "loongarch64",
}
_EF_ARM_EABIMASK = 0xFF000000
_EF_ARM_EABI_VER5 = 0x05000000
_EF_ARM_ABI_FLOAT_HARD = 0x400
# Dynamic tags whose value is an offset into the dynamic string table.
_STRING_TAGS = frozenset({"DT_NEEDED", "DT_SONAME", "DT_RPATH", "DT_RUNPATH"})
_SYMTAB_SECTIONS = frozenset({".symtab", ".strtab"})


class CorruptElfError(WheelfixError):
    """The bytes start like ELF but cannot be read as ELF."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ElfInfo:
    """What wheelfix needs to know about one ELF file. Built once, never mutated."""

    elf_class: int
    little_endian: bool
    machine: str
    osabi: str
    elf_type: str
    flags: int
    arch: str | None
    arch_problem: str | None
    isa_level: int
    interpreter: str | None
    soname: str | None
    needed: tuple[str, ...]
    rpath: tuple[str, ...]
    runpath: tuple[str, ...]
    version_needs: tuple[tuple[str, tuple[str, ...]], ...]
    debug_bytes: int
    symtab_bytes: int
    comment_bytes: int
    file_size: int
    defined: frozenset[str]
    undefined: frozenset[str]

    @property
    def libc(self) -> str | None:
        """``"glibc"``, ``"musl"`` or ``None`` when the file does not say."""
        if self.interpreter is not None:
            return "musl" if "ld-musl-" in self.interpreter else "glibc"
        for soname in self.needed:
            if soname.startswith(("libc.musl-", "ld-musl-")):
                return "musl"
            if soname == "libc.so.6" or soname.startswith(("ld-linux", "ld64.so.")):
                return "glibc"
        return None

    def compatible_with(self, other: ElfInfo) -> bool:
        """Could the loader map ``other`` into a process running this file?"""
        return (
            self.elf_class == other.elf_class
            and self.little_endian == other.little_endian
            and self.machine == other.machine
        )

    @property
    def identity(self) -> str:
        endian = "LSB" if self.little_endian else "MSB"
        return f"ELF{self.elf_class} {endian} {self.machine.removeprefix('EM_')}"


def is_elf(head: bytes) -> bool:
    return head[:4] == ELF_MAGIC


def _check_header(data: bytes) -> None:
    """Validate the fields pyelftools trusts blindly, so a hostile header cannot make it loop."""
    if len(data) < 52:
        raise CorruptElfError("truncated ELF header")
    ei_class, ei_data = data[4], data[5]
    if ei_class not in (1, 2) or ei_data not in (1, 2):
        raise CorruptElfError(f"invalid ELF identification (class {ei_class}, data {ei_data})")
    end = "<" if ei_data == 1 else ">"
    if ei_class == 2:
        if len(data) < 64:
            raise CorruptElfError("truncated ELF header")
        phoff, shoff = struct.unpack_from(end + "QQ", data, 32)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(end + "5H", data, 54)
        want_ph, want_sh = 56, 64
    else:
        phoff, shoff = struct.unpack_from(end + "II", data, 28)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(end + "5H", data, 42)
        want_ph, want_sh = 32, 40
    size = len(data)
    if phnum and (phentsize != want_ph or phoff + phnum * phentsize > size):
        raise CorruptElfError("program headers lie outside the file or have a bad entry size")
    if shoff == 0:
        return
    if shentsize != want_sh:
        raise CorruptElfError(f"bad section header entry size {shentsize}")
    if shnum == 0:
        raise CorruptElfError("extended section numbering is not supported")
    if shoff + shnum * shentsize > size:
        raise CorruptElfError("section headers lie outside the file (truncated?)")
    if shstrndx >= shnum:
        raise CorruptElfError(f"section name table index {shstrndx} out of range")


def parse_elf(data: bytes, *, interest: frozenset[str] = frozenset()) -> ElfInfo:
    """Read one ELF file. ``interest`` names dynamic symbols whose binding we want to know."""
    if not is_elf(data):
        raise CorruptElfError("not an ELF file")
    _check_header(data)
    try:
        return _parse(data, interest)
    except CorruptElfError:
        raise
    # pyelftools raises ELFError, but also struct.error, KeyError, AssertionError,
    # ZeroDivisionError, MemoryError, UnicodeDecodeError... on hostile input.
    except Exception as exc:  # noqa: BLE001
        detail = str(exc) or type(exc).__name__
        raise CorruptElfError(f"cannot parse ELF ({type(exc).__name__}: {detail})") from None


def _parse(data: bytes, interest: frozenset[str]) -> ElfInfo:
    elf = ELFFile(io.BytesIO(data))
    header = elf.header
    machine = str(header["e_machine"])
    elf_class = int(elf.elfclass)
    little = bool(elf.little_endian)
    flags = int(header["e_flags"])
    arch = _ARCHES.get((machine, elf_class, little))
    arch_problem = None if arch else f"unknown architecture {machine}/{elf_class}-bit"
    if arch == "armv7l" and (
        flags & _EF_ARM_EABIMASK != _EF_ARM_EABI_VER5 or not flags & _EF_ARM_ABI_FLOAT_HARD
    ):
        arch, arch_problem = None, "ARM binary is not EABI5 hard-float (armv7l)"

    debug = symtab = comment = 0
    verneed: GNUVerNeedSection | None = None
    dynsym: SymbolTableSection | None = None
    hashes: list[GNUHashSection] = []
    isa_level = 0
    size = len(data)
    names = _section_names(elf, data)
    for section in elf.iter_sections():
        # Our own bounded lookup: pyelftools reads a name past the end of .shstrtab.
        name = names.get(int(section["sh_name"]), "section name") if names else ""
        sh_type = section["sh_type"]
        sh_size = int(section["sh_size"])
        if sh_type not in {"SHT_NOBITS", "SHT_NULL"}:
            if int(section["sh_offset"]) + sh_size > size:
                raise CorruptElfError(f"section {name or '?'} lies outside the file")
            if name.startswith((".debug_", ".zdebug_")) or name == ".debug":
                debug += sh_size
            elif name in _SYMTAB_SECTIONS and sh_type in ("SHT_SYMTAB", "SHT_STRTAB"):
                symtab += sh_size
            elif name == ".comment":
                comment += sh_size
        if isinstance(section, GNUVerNeedSection):
            verneed = section
        elif isinstance(section, (GNUHashSection, ELFHashSection)):
            _check_hash_table(section, name)
            # Only GNU hash tables answer lookups: pyelftools walks a .hash chain with no
            # bound, so a chain that loops back on itself would hang us.
            if isinstance(section, GNUHashSection):
                hashes.append(section)
        elif isinstance(section, SymbolTableSection) and sh_type == "SHT_DYNSYM":
            dynsym = section
        elif (
            isinstance(section, NoteSection)
            and arch == "x86_64"
            and name.startswith(".note.gnu.property")
        ):
            isa_level = max(isa_level, _isa_level(section))

    interpreter = None
    dynamic = _Dynamic()
    for segment in elf.iter_segments():
        if isinstance(segment, InterpSegment):
            interpreter = _interpreter(segment, data)
        elif isinstance(segment, DynamicSegment) and not dynamic.seen:
            # Like the loader, only the first PT_DYNAMIC counts.
            dynamic = _read_dynamic(segment, data)

    version_needs = _version_needs(verneed, data) if verneed is not None else ()
    defined, undefined = _symbols_of_interest(dynsym, hashes, interest)
    return ElfInfo(
        elf_class=elf_class,
        little_endian=little,
        machine=machine,
        osabi=str(header["e_ident"]["EI_OSABI"]),
        elf_type=str(header["e_type"]),
        flags=flags,
        arch=arch,
        arch_problem=arch_problem,
        isa_level=isa_level,
        interpreter=interpreter,
        soname=dynamic.soname,
        needed=dynamic.needed,
        rpath=dynamic.rpath,
        runpath=dynamic.runpath,
        version_needs=version_needs,
        debug_bytes=debug,
        symtab_bytes=symtab,
        comment_bytes=comment,
        file_size=size,
        defined=defined,
        undefined=undefined,
    )


class _Strings:
    """A string table's bytes. Lookups stay inside the table, as the loader's do.

    pyelftools reads from the table's start plus the offset up to a NUL, wherever that
    lands: past the end of the table it returns the next section's bytes, past the end of
    the file an empty string. Both are corruption here.
    """

    def __init__(self, table: bytes, what: str, *, strict: bool = True) -> None:
        self.table = table
        self.what = what
        self.strict = strict

    def __bool__(self) -> bool:
        return bool(self.table)

    def get(self, offset: int, field: str) -> str:
        if not 0 <= offset < len(self.table):
            raise CorruptElfError(
                f"{field} string offset {offset} is past the end of {self.what} "
                f"({len(self.table)} bytes)"
            )
        end = self.table.find(b"\0", offset)
        if end < 0:
            raise CorruptElfError(f"{field} string is not terminated inside {self.what}")
        try:
            return self.table[offset:end].decode("utf-8", "strict" if self.strict else "replace")
        except UnicodeDecodeError:
            raise CorruptElfError(f"{field} string in {self.what} is not UTF-8") from None

    def nonempty(self, offset: int, field: str) -> str:
        value = self.get(offset, field)
        if not value:
            raise CorruptElfError(f"empty {field} string")
        return value


def _table_bytes(data: bytes, offset: int, size: int, what: str) -> bytes:
    if offset < 0 or size < 0 or offset + size > len(data):
        raise CorruptElfError(f"{what} lies outside the file")
    return data[offset : offset + size]


def _section_names(elf: ELFFile, data: bytes) -> _Strings:
    """The section name table; empty when the file has none (every name is then "")."""
    what = "the section name table"
    index = int(elf.header["e_shstrndx"])
    if index == 0 or elf.num_sections() == 0:
        return _Strings(b"", what)
    header = elf.get_section(index).header
    table = _table_bytes(data, int(header["sh_offset"]), int(header["sh_size"]), what)
    # The loader never reads section names: an odd byte in one is not worth refusing the
    # file, it only means the section is not recognised.
    return _Strings(table, what, strict=False)


def _interpreter(segment: InterpSegment, data: bytes) -> str:
    # pyelftools reads the path from p_offset up to any NUL, even past p_filesz.
    what = "the PT_INTERP segment"
    table = _table_bytes(data, int(segment["p_offset"]), int(segment["p_filesz"]), what)
    return _Strings(table, what).nonempty(0, "interpreter")


def _check_hash_table(section: GNUHashSection | ELFHashSection, name: str) -> None:
    # The loader takes the hash modulo the bucket count: zero buckets is a division by zero
    # (SIGFPE in ld.so); pyelftools would only fail, or not, on the first lookup.
    params = section.params
    if int(params["nbuckets"]) == 0:
        raise CorruptElfError(f"hash table {name or '?'} has zero buckets")
    if isinstance(section, GNUHashSection) and int(params["bloom_size"]) == 0:
        raise CorruptElfError(f"hash table {name or '?'} has an empty bloom filter")


@dataclass(slots=True)
class _Dynamic:
    """What the dynamic segment says about linking."""

    seen: bool = False
    soname: str | None = None
    needed: tuple[str, ...] = ()
    rpath: tuple[str, ...] = ()
    runpath: tuple[str, ...] = ()


def _read_dynamic(segment: DynamicSegment, data: bytes) -> _Dynamic:
    """DT_NEEDED, DT_SONAME, DT_RPATH and DT_RUNPATH, resolved through DT_STRTAB/DT_STRSZ.

    The strings are looked up here, bounded by DT_STRSZ like the loader does, instead of
    through pyelftools' unbounded lookup.
    """
    entries = [(str(t.entry.d_tag), int(t.entry.d_val)) for t in segment.iter_tags()]
    result = _Dynamic(seen=True)
    if not any(kind in _STRING_TAGS for kind, _ in entries):
        return result
    sizes = [value for kind, value in entries if kind == "DT_STRSZ"]
    tables = sum(1 for kind, _ in entries if kind == "DT_STRTAB")
    # ld.so keeps the last of a repeated tag, pyelftools the first: refuse to guess.
    if len(sizes) > 1 or tables > 1:
        raise CorruptElfError("dynamic segment has more than one string table entry")
    _, offset = segment.get_table_offset("DT_STRTAB")
    if offset is None or not sizes:
        raise CorruptElfError("dynamic segment names libraries but has no string table")
    what = "the dynamic string table"
    strings = _Strings(_table_bytes(data, int(offset), sizes[0], what), what)
    needed: list[str] = []
    for kind, value in entries:
        if kind == "DT_NEEDED":
            needed.append(strings.nonempty(value, kind))
        elif kind == "DT_SONAME":
            result.soname = strings.nonempty(value, kind)
        elif kind == "DT_RPATH":
            result.rpath = tuple(p for p in strings.get(value, kind).split(":") if p)
        elif kind == "DT_RUNPATH":
            result.runpath = tuple(p for p in strings.get(value, kind).split(":") if p)
    result.needed = tuple(needed)
    return result


_VERNEED_ENTRY_SIZE = 16  # Elf32/Elf64 Verneed and Vernaux entries are all 16 bytes


def _version_needs(
    section: GNUVerNeedSection, data: bytes
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(library, versions) pairs from .gnu.version_r, bounded by the section's size.

    pyelftools trusts sh_info as the entry count and follows vn_next even when it is zero,
    so a hostile header could make it walk the same entry four billion times.
    """
    budget = int(section["sh_size"]) // _VERNEED_ENTRY_SIZE
    too_many = "version needs: more entries than fit in .gnu.version_r"
    if int(section["sh_info"]) > budget:
        raise CorruptElfError(too_many)
    link = section.stringtable.header
    what = "the version string table"
    table = _table_bytes(data, int(link["sh_offset"]), int(link["sh_size"]), what)
    strings = _Strings(table, what)
    out: list[tuple[str, tuple[str, ...]]] = []
    for entry, aux_iter in section.iter_versions():
        budget -= 1
        lib = strings.nonempty(int(entry["vn_file"]), "version need file name")
        versions: list[str] = []
        for aux in aux_iter:
            budget -= 1
            if budget < 0:
                raise CorruptElfError(too_many)
            versions.append(strings.nonempty(int(aux["vna_name"]), "version name"))
        out.append((lib, tuple(versions)))
    return tuple(out)


_NOTE_HEADER_SIZE = 12  # n_namesz, n_descsz, n_type: three 4-byte words in both classes


def _isa_level(section: NoteSection) -> int:
    """The x86-64 micro-architecture level from GNU_PROPERTY_X86_ISA_1_NEEDED (0 if absent)."""
    level = 0
    end = int(section["sh_offset"]) + int(section["sh_size"])
    for note in section.iter_notes():
        # pyelftools reads a descriptor past the end of its section without complaint.
        name_size = (int(note["n_namesz"]) + 3) & ~3
        if int(note["n_offset"]) + _NOTE_HEADER_SIZE + name_size + int(note["n_descsz"]) > end:
            raise CorruptElfError("note runs past the end of its section")
        if note["n_type"] != "NT_GNU_PROPERTY_TYPE_0" or note["n_name"] != "GNU":
            continue
        for prop in note["n_desc"]:
            if prop.pr_type != "GNU_PROPERTY_X86_ISA_1_NEEDED" or prop.pr_datasz != 4:
                continue
            bits = int(prop.pr_data)
            for bit, lvl in ((8, 4), (4, 3), (2, 2), (1, 1)):
                if bits & bit:
                    level = max(level, lvl)
                    break
    return level


def _symbols_of_interest(
    dynsym: SymbolTableSection | None,
    hashes: list[GNUHashSection],
    interest: frozenset[str],
) -> tuple[frozenset[str], frozenset[str]]:
    """Which of ``interest`` the file defines, and which it needs (non-weak undefined).

    A look at ``.dynstr`` answers "not referenced at all" for almost every name without
    walking the symbol table; the hash table answers "defined" like the loader does. Only a
    name that is present but not found by the hash table costs a walk over ``.dynsym``.
    """
    if dynsym is None or not interest:
        return frozenset(), frozenset()
    strtab = dynsym.stringtable.data()
    present = {n for n in interest if b"\0" + n.encode() + b"\0" in strtab}
    if not present:
        return frozenset(), frozenset()
    defined: set[str] = set()
    unresolved = set(present)
    if hashes:
        for name in present:
            sym = hashes[0].get_symbol(name)
            if sym is not None and sym["st_shndx"] != "SHN_UNDEF":
                defined.add(name)
        unresolved -= defined
    undefined: set[str] = set()
    if unresolved:
        for sym in dynsym.iter_symbols():
            if sym.name not in unresolved:
                continue
            if sym["st_shndx"] == "SHN_UNDEF":
                if sym["st_info"]["bind"] != "STB_WEAK":
                    undefined.add(sym.name)
            else:
                defined.add(sym.name)
    return frozenset(defined), frozenset(undefined)
