"""Reading ELF files: identity, dynamic linking facts, and the bytes debug info costs.

:func:`parse_elf` turns the bytes of one ELF file into an :class:`ElfInfo`: identity
(class, endianness, machine, the wheel-tag architecture), dynamic linking facts
(interpreter, SONAME, DT_NEEDED, RPATH/RUNPATH, GNU version needs, x86-64 ISA level) and the
bytes held by debug sections and symbol tables. DWARF is never parsed, only measured.

The hot path reads the handful of structures it needs with :mod:`struct` (``iter_unpack``
over section headers and symbol tables runs in C), because pyelftools' construct-based
parsing costs more than decompressing the wheel (bench/RESULTS.md). pyelftools stays the
reference: the tests compare this reader with it, and with ``readelf``, on real files.

Input is hostile. Every offset, size and count is checked against the file before it is
used; loops are bounded by the file size; any violation raises :class:`CorruptElfError`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal

from wheelfix.errors import WheelfixError

__all__ = [
    "AR_MAGIC",
    "ELF_MAGIC",
    "CorruptElfError",
    "ElfInfo",
    "ElfLayout",
    "Section",
    "Segment",
    "is_elf",
    "parse_elf",
    "read_layout",
    "strippable_kind",
]

ELF_MAGIC = b"\x7fELF"
AR_MAGIC = b"!<arch>\n"

# ELF constants (System V gABI and the GNU extensions), by the names readelf prints.
_SHT_NULL, _SHT_SYMTAB, _SHT_STRTAB, _SHT_NOTE, _SHT_NOBITS, _SHT_DYNSYM = 0, 2, 3, 7, 8, 11
_SHT_HASH, _SHT_GNU_HASH, _SHT_GNU_VERNEED = 5, 0x6FFFFFF6, 0x6FFFFFFE
_PT_LOAD, _PT_DYNAMIC, _PT_INTERP = 1, 2, 3
_DT_NULL, _DT_NEEDED, _DT_STRTAB, _DT_STRSZ = 0, 1, 5, 10
_DT_SONAME, _DT_RPATH, _DT_RUNPATH = 14, 15, 29
_TAG_NAMES = {1: "DT_NEEDED", 14: "DT_SONAME", 15: "DT_RPATH", 29: "DT_RUNPATH"}
_NT_GNU_PROPERTY_TYPE_0 = 5
_SHT_ARM_ATTRIBUTES = 0x70000003
_TAG_CPU_ARCH = 6
_NTBS_TAGS = frozenset({4, 5, 65, 67})  # CPU_raw_name, CPU_name, also_compatible_with, conformance
#: Tag_CPU_arch values: v6, v6KZ, v6T2, v6K, v6-M, v6S-M; v5TEJ and below are armv5l
_ARM_V6 = frozenset({6, 7, 8, 9, 11, 12})
_ARM_V5TEJ = 5
_GNU_PROPERTY_X86_ISA_1_NEEDED = 0xC0008002
_STB_WEAK = 2
_EF_ARM_EABIMASK = 0xFF000000
_EF_ARM_EABI_VER5 = 0x05000000
_EF_ARM_ABI_FLOAT_HARD = 0x400

_MACHINES = {
    2: "EM_SPARC",
    3: "EM_386",
    8: "EM_MIPS",
    20: "EM_PPC",
    21: "EM_PPC64",
    22: "EM_S390",
    40: "EM_ARM",
    43: "EM_SPARCV9",
    62: "EM_X86_64",
    183: "EM_AARCH64",
    243: "EM_RISCV",
    258: "EM_LOONGARCH",
}
_TYPES = {0: "ET_NONE", 1: "ET_REL", 2: "ET_EXEC", 3: "ET_DYN", 4: "ET_CORE"}
_OSABIS = {0: "ELFOSABI_SYSV", 3: "ELFOSABI_LINUX", 9: "ELFOSABI_FREEBSD"}

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
    ("EM_MIPS", 64, True): "mips64",  # Debian mips64el; `uname -m` says mips64 for both
    ("EM_MIPS", 64, False): "mips64",
}
#: Symbol tables: the static one, and .gnu_debugdata (MiniDebugInfo: an xz-compressed ELF
#: file holding a .symtab of the functions, for backtraces without debug files).
_SYMBOL_SECTIONS = frozenset({".symtab", ".strtab", ".symtab_shndx", ".gnu_debugdata"})
#: The build's own records: compiler versions, annobin build notes (read by annocheck).
_BUILD_RECORDS = frozenset({".comment", ".gnu.build.attributes", ".annobin.notes"})
_SHF_ALLOC = 0x2


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
    #: ``.comment`` and ``.gnu.build.attributes`` (annobin notes), when not loaded: what
    #: ``--strip=all`` removes beyond the symbol table
    comment_bytes: int
    file_size: int
    defined: frozenset[str]
    undefined: frozenset[str]
    #: minimum Android API level from ``.note.android.ident`` (``None`` when absent)
    android_api: int | None = None

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


@dataclass(frozen=True, slots=True)
class Section:
    """One section header, as stored (offsets and sizes in bytes)."""

    name: str
    type: int
    offset: int
    size: int
    link: int
    info: int
    entsize: int
    addralign: int
    flags: int = 0
    raw: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Segment:
    """One program header: type, file offset and file size (and where it is mapped)."""

    type: int
    offset: int
    filesz: int
    vaddr: int = 0
    align: int = 0


@dataclass(frozen=True, slots=True)
class ElfLayout:
    """Where things are in an ELF file: what a section-level rewrite (strip.py) needs."""

    is64: bool
    little_endian: bool
    elf_type: str
    shoff: int
    shentsize: int
    shstrndx: int
    phoff: int
    phnum: int
    phentsize: int
    sections: tuple[Section, ...]
    segments: tuple[Segment, ...]
    file_size: int


def read_layout(data: bytes) -> ElfLayout:
    """The header, section and program header tables of an ELF file, bounds-checked."""
    if not is_elf(data):
        raise CorruptElfError("not an ELF file")
    try:
        r = _Reader(data)
        t = _tables(r)
    except (struct.error, ValueError, IndexError, OverflowError, MemoryError) as exc:
        raise CorruptElfError(f"cannot parse ELF ({type(exc).__name__}: {exc})") from None
    return ElfLayout(
        is64=r.is64,
        little_endian=r.little,
        elf_type=_TYPES.get(t.e_type, f"ET_{t.e_type}"),
        shoff=t.shoff,
        shentsize=t.shentsize,
        shstrndx=t.shstrndx,
        phoff=t.phoff,
        phnum=t.phnum,
        phentsize=t.phentsize,
        sections=tuple(t.sections),
        segments=tuple(
            Segment(typ, off, size, vaddr, align) for typ, off, vaddr, size, align in t.segments
        ),
        file_size=r.size,
    )


@dataclass(frozen=True, slots=True)
class _Tables:
    """The ELF header fields both readers use, with the program and section headers."""

    e_type: int
    e_machine: int
    flags: int
    phoff: int
    phnum: int
    phentsize: int
    shoff: int
    shentsize: int
    shstrndx: int
    segments: list[tuple[int, ...]]
    sections: list[Section]


def _tables(r: _Reader) -> _Tables:
    w = r.word
    (
        e_type,
        e_machine,
        _version,
        _entry,
        phoff,
        shoff,
        flags,
        _ehsize,
        phentsize,
        phnum,
        shentsize,
        shnum,
        shstrndx,
    ) = r.unpack(f"HHI{w}{w}{w}IHHHHHH", 16)
    want_ph, want_sh = (56, 64) if r.is64 else (32, 40)
    return _Tables(
        e_type,
        e_machine,
        flags,
        phoff,
        phnum,
        phentsize,
        shoff,
        shentsize,
        shstrndx,
        _segments(r, phoff, phnum, phentsize, want_ph),
        _sections(r, shoff, shnum, shentsize, shstrndx, want_sh),
    )


class _Reader:
    """Bounds-checked access to one ELF image."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)
        if self.size < 52:
            raise CorruptElfError("truncated ELF header")
        ei_class, ei_data = data[4], data[5]
        if ei_class not in (1, 2) or ei_data not in (1, 2):
            raise CorruptElfError(f"invalid ELF identification (class {ei_class}, data {ei_data})")
        self.is64 = ei_class == 2
        self.little = ei_data == 1
        self.end = "<" if self.little else ">"
        self.word = "Q" if self.is64 else "I"

    def unpack(self, fmt: str, offset: int) -> tuple[int, ...]:
        st = struct.Struct(self.end + fmt)
        if offset < 0 or offset + st.size > self.size:
            raise CorruptElfError(f"structure at offset {offset} lies outside the file")
        return st.unpack_from(self.data, offset)

    def span(self, offset: int, size: int, what: str) -> memoryview:
        if offset < 0 or size < 0 or offset + size > self.size:
            raise CorruptElfError(f"{what} lies outside the file")
        return memoryview(self.data)[offset : offset + size]

    def cstring(self, table: memoryview, offset: int, what: str, table_name: str) -> str:
        if offset >= len(table):
            raise CorruptElfError(
                f"{what} string at offset {offset} lies past the end of the {table_name}"
            )
        # Copy a growing window, not the rest of the table: symbol names are short and
        # string tables long, so copying to the end each time made parsing quadratic.
        window = 256
        while True:
            raw = bytes(table[offset : offset + window])
            end = raw.find(b"\0")
            if end >= 0:
                break
            if offset + window >= len(table):
                raise CorruptElfError(f"{what} string is not NUL-terminated")
            window *= 4
        try:
            return raw[:end].decode("utf-8")
        except UnicodeDecodeError:
            return raw[:end].decode("latin-1")


def strippable_kind(section: Section) -> Literal["debug", "symbols", "records"] | None:
    """What a strip may remove this section as: ``"debug"`` (DWARF), ``"symbols"`` (symbol
    tables), ``"records"`` (the build's records), or ``None`` (the file needs it, or it is
    loaded). The one rule for the strip engine and for the bytes ``check`` reports."""
    if section.flags & _SHF_ALLOC or section.type in (_SHT_NOBITS, _SHT_NULL):
        return None
    name = section.name
    if name.startswith((".debug_", ".zdebug_")) or name == ".debug":
        return "debug"
    if name in _SYMBOL_SECTIONS:
        return "symbols"
    if name in _BUILD_RECORDS:
        return "records"
    return None


def parse_elf(data: bytes, *, interest: frozenset[str] = frozenset()) -> ElfInfo:
    """Read one ELF file. ``interest`` names dynamic symbols whose binding we want to know."""
    if not is_elf(data):
        raise CorruptElfError("not an ELF file")
    try:
        return _parse(_Reader(data), interest)
    except CorruptElfError:
        raise
    except (struct.error, ValueError, IndexError, OverflowError, MemoryError) as exc:
        raise CorruptElfError(f"cannot parse ELF ({type(exc).__name__}: {exc})") from None


def _parse(r: _Reader, interest: frozenset[str]) -> ElfInfo:
    t = _tables(r)
    e_type, flags, segments, sections = t.e_type, t.flags, t.segments, t.sections
    machine = _MACHINES.get(t.e_machine, f"EM_{t.e_machine}")
    elf_class = 64 if r.is64 else 32
    arch = _ARCHES.get((machine, elf_class, r.little))
    arch_problem = None if arch else f"unknown architecture {machine}/{elf_class}-bit"
    if arch == "armv7l":
        arch, arch_problem = _arm_arch(r, sections, flags)

    debug = symtab = comment = 0
    for s in sections:
        kind = strippable_kind(s)
        if kind == "debug":
            debug += s.size
        elif kind == "symbols":
            symtab += s.size
        elif kind == "records":
            comment += s.size

    interpreter = None
    for p_type, p_offset, _vaddr, p_filesz, _align in segments:
        if p_type == _PT_INTERP:
            path = bytes(r.span(p_offset, p_filesz, "PT_INTERP"))
            if not path.endswith(b"\0") or not path.split(b"\0", 1)[0]:
                raise CorruptElfError("PT_INTERP is empty or not NUL-terminated")
            interpreter = path.split(b"\0", 1)[0].decode("utf-8", "replace")
            break
    needed, soname, rpath, runpath = _dynamic(r, segments, sections)
    _check_hash_tables(r, sections)
    isa_level = 0
    if arch == "x86_64":
        for s in sections:
            if s.type == _SHT_NOTE and s.name.startswith(".note.gnu.property"):
                isa_level = max(isa_level, _isa_level(r, s))
    android_api = None
    for s in sections:
        if s.type == _SHT_NOTE and s.name == ".note.android.ident":
            android_api = _android_api(r, s)
    version_needs = _version_needs(r, sections)
    defined, undefined = _symbols_of_interest(r, sections, interest)
    return ElfInfo(
        elf_class=elf_class,
        little_endian=r.little,
        machine=machine,
        osabi=_OSABIS.get(r.data[7], f"ELFOSABI_{r.data[7]}"),
        elf_type=_TYPES.get(e_type, f"ET_{e_type}"),
        flags=flags,
        arch=arch,
        arch_problem=arch_problem,
        isa_level=isa_level,
        interpreter=interpreter,
        soname=soname,
        needed=needed,
        rpath=rpath,
        runpath=runpath,
        version_needs=version_needs,
        debug_bytes=debug,
        symtab_bytes=symtab,
        comment_bytes=comment,
        file_size=r.size,
        defined=defined,
        undefined=undefined,
        android_api=android_api,
    )


def _segments(
    r: _Reader, phoff: int, phnum: int, phentsize: int, want: int
) -> list[tuple[int, ...]]:
    """(p_type, p_offset, p_vaddr, p_filesz, p_align) for every program header."""
    if not phnum:
        return []
    if phentsize != want:
        raise CorruptElfError(f"bad program header entry size {phentsize}")
    fmt = "IIQQQQQQ" if r.is64 else "IIIIIIII"
    table = r.span(phoff, phnum * phentsize, "program header table")
    out: list[tuple[int, ...]] = []
    for raw in struct.iter_unpack(r.end + fmt, table):
        if r.is64:
            p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz, _memsz, p_align = raw
        else:
            p_type, p_offset, p_vaddr, _paddr, p_filesz, _memsz, _flags, p_align = raw
        out.append((p_type, p_offset, p_vaddr, p_filesz, p_align))
    return out


def _sections(
    r: _Reader, shoff: int, shnum: int, shentsize: int, shstrndx: int, want: int
) -> list[Section]:
    if shoff == 0 or shnum == 0:
        if shoff and not shnum:
            raise CorruptElfError("extended section numbering is not supported")
        return []
    if shentsize != want:
        raise CorruptElfError(f"bad section header entry size {shentsize}")
    if shstrndx >= shnum:
        raise CorruptElfError(f"section name table index {shstrndx} out of range")
    table = r.span(shoff, shnum * shentsize, "section header table (truncated?)")
    fmt = "IIQQQQIIQQ" if r.is64 else "IIIIIIIIII"
    raw = list(struct.iter_unpack(r.end + fmt, table))
    # (sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, sh_info,
    #  sh_addralign, sh_entsize)
    str_hdr = raw[shstrndx]
    names = (
        r.span(str_hdr[4], str_hdr[5], "section name table")
        if str_hdr[1] != _SHT_NOBITS
        else memoryview(b"")
    )
    out = []
    for index, h in enumerate(raw):
        name = "" if index == 0 else r.cstring(names, h[0], "section name", "section name table")
        if h[1] not in (_SHT_NOBITS, _SHT_NULL) and h[4] + h[5] > r.size:
            raise CorruptElfError(f"section {name or index} lies outside the file")
        out.append(Section(name, h[1], h[4], h[5], h[6], h[7], h[9], h[8], h[2], h))
    return out


def _vaddr_to_offset(segments: list[tuple[int, ...]], addr: int) -> int | None:
    for p_type, p_offset, p_vaddr, p_filesz, _align in segments:
        if p_type == _PT_LOAD and p_vaddr <= addr < p_vaddr + p_filesz:
            return addr - p_vaddr + p_offset
    return None


def _dynamic(
    r: _Reader, segments: list[tuple[int, ...]], sections: list[Section]
) -> tuple[tuple[str, ...], str | None, tuple[str, ...], tuple[str, ...]]:
    # Like the loader, only the first PT_DYNAMIC counts.
    dyn = next((s for s in segments if s[0] == _PT_DYNAMIC), None)
    if dyn is None:
        return (), None, (), ()
    entry = 16 if r.is64 else 8
    count = min(dyn[3] // entry, 1 << 16)
    table = r.span(dyn[1], count * entry, "dynamic section")
    tags: list[tuple[int, int]] = []
    for d_tag, d_val in struct.iter_unpack(r.end + ("qQ" if r.is64 else "iI"), table):
        if d_tag == _DT_NULL:
            break
        tags.append((d_tag, d_val))
    strtab_tags = [v for t, v in tags if t == _DT_STRTAB]
    strsz_tags = [v for t, v in tags if t == _DT_STRSZ]
    if len(strtab_tags) > 1 or len(strsz_tags) > 1:
        # The loader would use the last one and other readers the first: ambiguous.
        raise CorruptElfError("more than one string table (DT_STRTAB/DT_STRSZ) in PT_DYNAMIC")
    strings: memoryview | None = None
    if strtab_tags and strsz_tags:
        offset = _vaddr_to_offset(segments, strtab_tags[0])
        if offset is None:
            raise CorruptElfError("DT_STRTAB address is not in any loadable segment")
        strings = r.span(offset, strsz_tags[0], "dynamic string table")
    needed: list[str] = []
    soname = None
    rpath: tuple[str, ...] = ()
    runpath: tuple[str, ...] = ()
    for d_tag, d_val in tags:
        if d_tag not in (_DT_NEEDED, _DT_SONAME, _DT_RPATH, _DT_RUNPATH):
            continue
        if strings is None:
            raise CorruptElfError("dynamic entries without a dynamic string table")
        value = r.cstring(strings, d_val, _TAG_NAMES[d_tag], "dynamic string table")
        if d_tag == _DT_NEEDED:
            if not value:
                raise CorruptElfError("empty DT_NEEDED string")
            needed.append(value)
        elif d_tag == _DT_SONAME:
            soname = value or None
        elif d_tag == _DT_RPATH:
            rpath = tuple(p for p in value.split(":") if p)
        else:
            runpath = tuple(p for p in value.split(":") if p)
    return tuple(needed), soname, rpath, runpath


def _linked_strings(r: _Reader, sections: list[Section], section: Section) -> memoryview:
    if not 0 < section.link < len(sections):
        raise CorruptElfError(f"{section.name}: string table link {section.link} out of range")
    strtab = sections[section.link]
    if strtab.type != _SHT_STRTAB:
        raise CorruptElfError(
            f"{section.name} is linked to {strtab.name or 'a section'}, which is not a string table"
        )
    return r.span(strtab.offset, strtab.size, f"{section.name} string table")


def _version_needs(r: _Reader, sections: list[Section]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    section = next((s for s in sections if s.type == _SHT_GNU_VERNEED), None)
    if section is None:
        return ()
    strings = _linked_strings(r, sections, section)
    body = r.span(section.offset, section.size, section.name)
    limit = len(body) // 16
    if section.info > limit:
        raise CorruptElfError(
            f"{section.name}: {section.info} entries cannot fit in {len(body)} bytes"
        )
    out = []
    offset = 0
    for _ in range(min(section.info or limit, limit)):
        _v, cnt, file_off, aux, nxt = _unpack16(r, body, offset, "HHIII")
        lib = r.cstring(strings, file_off, "version need file", "version string table")
        if not lib:
            raise CorruptElfError("empty version need file name")
        versions = []
        aux_off = offset + aux
        for _ in range(min(cnt, limit)):
            _h, _f, _o, name_off, aux_next = _unpack16(r, body, aux_off, "IHHII")
            name = r.cstring(strings, name_off, "version name", "version string table")
            if not name:
                raise CorruptElfError("empty version name")
            versions.append(name)
            if aux_next == 0:
                break
            aux_off += aux_next
        out.append((lib, tuple(versions)))
        if nxt == 0:
            break
        offset += nxt
    return tuple(out)


def _unpack16(r: _Reader, body: memoryview, offset: int, fmt: str) -> tuple[int, ...]:
    if offset < 0 or offset + 16 > len(body):
        raise CorruptElfError("version need entry lies outside its section")
    return struct.unpack_from(r.end + fmt, body, offset)


def _isa_level(r: _Reader, section: Section) -> int:
    """The x86-64 micro-architecture level from GNU_PROPERTY_X86_ISA_1_NEEDED (0 if absent)."""
    body = r.span(section.offset, section.size, section.name)
    align = 8 if r.is64 else 4
    level = 0
    offset = 0
    while offset + 12 <= len(body):
        namesz, descsz, n_type = struct.unpack_from(r.end + "III", body, offset)
        name_end = offset + 12 + ((namesz + 3) & ~3)
        desc_end = name_end + descsz
        if desc_end > len(body):
            raise CorruptElfError(f"{section.name}: note lies outside its section")
        name = bytes(body[offset + 12 : offset + 12 + namesz]).rstrip(b"\0")
        if n_type == _NT_GNU_PROPERTY_TYPE_0 and name == b"GNU":
            pos = name_end
            while pos + 8 <= desc_end:
                pr_type, pr_datasz = struct.unpack_from(r.end + "II", body, pos)
                data_at = pos + 8
                if data_at + pr_datasz > desc_end:
                    raise CorruptElfError(f"{section.name}: property lies outside its note")
                if pr_type == _GNU_PROPERTY_X86_ISA_1_NEEDED and pr_datasz == 4:
                    (bits,) = struct.unpack_from(r.end + "I", body, data_at)
                    level = max(level, bits.bit_length())
                pos = data_at + ((pr_datasz + align - 1) & ~(align - 1))
        offset = desc_end + (-desc_end % align if section.addralign >= 8 else -desc_end % 4)
    return min(level, 4)


def _android_api(r: _Reader, section: Section) -> int | None:
    """The API level in an "Android" note of type 1 (the NDK's ABI note)."""
    body = r.span(section.offset, section.size, section.name)
    if len(body) < 16:
        return None
    namesz, descsz, n_type = struct.unpack_from(r.end + "III", body, 0)
    name = bytes(body[12 : 12 + namesz]).rstrip(b"\0")
    desc_at = 12 + ((namesz + 3) & ~3)
    if name != b"Android" or n_type != 1 or descsz < 4 or desc_at + 4 > len(body):
        return None
    (level,) = struct.unpack_from(r.end + "I", body, desc_at)
    return int(level)


def _arm_arch(r: _Reader, sections: list[Section], flags: int) -> tuple[str | None, str | None]:
    """armv5l / armv6l / armv7l from Tag_CPU_arch in ``.ARM.attributes`` (the e_flags only
    say EABI version and float ABI). Without the section, EABI5 hard-float is armv7l."""
    cpu = None
    for s in sections:
        if s.type == _SHT_ARM_ATTRIBUTES and s.name == ".ARM.attributes":
            cpu = _arm_cpu_arch(bytes(r.span(s.offset, s.size, s.name)))
            break
    hard = flags & _EF_ARM_EABIMASK == _EF_ARM_EABI_VER5 and bool(flags & _EF_ARM_ABI_FLOAT_HARD)
    if cpu is not None and cpu in _ARM_V6:
        return "armv6l", None
    if cpu is not None and cpu <= _ARM_V5TEJ:
        return "armv5l", None
    if hard:
        return "armv7l", None
    return None, "ARM binary is not EABI5 hard-float (armv7l)"


def _uleb(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(data) and shift < 64:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return value, pos
        shift += 7
    raise CorruptElfError(".ARM.attributes: truncated ULEB128 value")


def _arm_cpu_arch(data: bytes) -> int | None:
    """Tag_CPU_arch of the file-scope "aeabi" attributes, or ``None`` when absent."""
    if not data or data[0] != ord("A"):
        return None
    pos = 1
    while pos + 4 <= len(data):
        (length,) = struct.unpack_from("<I", data, pos)
        end = min(pos + length, len(data))
        if length < 4:
            return None
        vendor_end = data.find(b"\0", pos + 4, end)
        if vendor_end >= 0 and data[pos + 4 : vendor_end] == b"aeabi":
            return _aeabi_cpu_arch(data[vendor_end + 1 : end])
        pos = end
    return None


def _aeabi_cpu_arch(data: bytes) -> int | None:
    pos = 0
    while pos + 5 <= len(data):
        scope = data[pos]
        (size,) = struct.unpack_from("<I", data, pos + 1)
        end = min(pos + size, len(data))
        if size < 5:
            return None
        if scope == 1:  # Tag_File
            at = pos + 5
            while at < end:
                tag, at = _uleb(data, at)
                if tag == _TAG_CPU_ARCH:
                    return _uleb(data, at)[0]
                if tag in _NTBS_TAGS or (tag > 32 and tag % 2 == 1):
                    at = data.index(b"\0", at, end) + 1 if b"\0" in data[at:end] else end
                elif tag == 32:  # Tag_compatibility: a flag, then a string
                    _, at = _uleb(data, at)
                    at = data.index(b"\0", at, end) + 1 if b"\0" in data[at:end] else end
                else:
                    _, at = _uleb(data, at)
        pos = end
    return None


def _check_hash_tables(r: _Reader, sections: list[Section]) -> None:
    """Refuse hash tables a loader would divide by zero on; we never walk their chains."""
    for s in sections:
        if s.type == _SHT_GNU_HASH:
            nbuckets, _symoffset, bloom_size, _shift = r.unpack("IIII", s.offset)
            if nbuckets == 0 or bloom_size == 0:
                raise CorruptElfError(f"{s.name}: GNU hash table with zero buckets or bloom words")
        elif s.type == _SHT_HASH:
            (nbucket,) = r.unpack("I", s.offset)
            if nbucket == 0:
                raise CorruptElfError(f"{s.name}: hash table with zero buckets")


def _symbols_of_interest(
    r: _Reader, sections: list[Section], interest: frozenset[str]
) -> tuple[frozenset[str], frozenset[str]]:
    """Which of ``interest`` the file defines, and which it needs (non-weak undefined).

    A look at the dynamic string table answers "not referenced" for almost every name
    without touching the symbol table. For the names that do occur, the symbol table is
    scanned with ``struct.iter_unpack`` and only name offsets are compared.
    """
    dynsym = next((s for s in sections if s.type == _SHT_DYNSYM), None)
    if dynsym is None or not interest:
        return frozenset(), frozenset()
    strings = bytes(_linked_strings(r, sections, dynsym))
    offsets: dict[int, str] = {}
    for name in interest:
        needle = b"\0" + name.encode() + b"\0"
        at = strings.find(needle)
        while at >= 0:
            offsets[at + 1] = name
            at = strings.find(needle, at + 1)
    if not offsets:
        return frozenset(), frozenset()
    entry = 24 if r.is64 else 16
    if dynsym.entsize != entry:
        raise CorruptElfError(f"bad .dynsym entry size {dynsym.entsize}")
    body = r.span(dynsym.offset, dynsym.size - dynsym.size % entry, ".dynsym")
    # Elf64_Sym: st_name I, st_info B, st_other B, st_shndx H, st_value Q, st_size Q
    # Elf32_Sym: st_name I, st_value I, st_size I, st_info B, st_other B, st_shndx H
    fmt = "IBBHQQ" if r.is64 else "IIIBBH"
    defined: set[str] = set()
    undefined: set[str] = set()
    for sym in struct.iter_unpack(r.end + fmt, body):
        wanted = offsets.get(sym[0])
        if wanted is None:
            continue
        info, shndx = (sym[1], sym[3]) if r.is64 else (sym[3], sym[5])
        if shndx == 0:
            if info >> 4 != _STB_WEAK:
                undefined.add(wanted)
        else:
            defined.add(wanted)
    return frozenset(defined), frozenset(undefined)
