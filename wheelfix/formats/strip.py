"""Removing debug information and symbol tables from ELF files, safely, on any architecture.

wheelfix strips with its own section-level rewrite instead of running GNU ``strip``:

* GNU strip refuses binaries for another architecture (an aarch64 wheel on an x86-64
  builder), which is exactly where ``auditwheel repair --strip`` fails;
* a rewrite that only ever drops *non-allocated* sections lying after the last byte any
  segment maps can guarantee, by construction, that every loadable byte stays where it was:
  the output's prefix up to that byte is the input's, byte for byte (and we check it) —
  except the three ELF header fields that locate the section header table (``e_shoff``,
  ``e_shnum``, ``e_shstrndx``), which the loader never reads.

Levels (each includes the one before):

``debug``
    ``.debug_*`` / ``.zdebug_*`` DWARF sections (like ``strip --strip-debug``).
``unneeded``
    plus the static symbol table ``.symtab``/``.strtab`` (like ``strip --strip-unneeded`` on
    a shared object; ``.dynsym``, which the loader uses, is never touched).
``all``
    plus ``.comment`` (compiler version strings).

A section to drop that lies between segments (patchelf appends segments after the
original end of file) is zeroed in place rather than cut out: the file keeps its size but
the zeros cost nothing in the compressed wheel. A file is left alone, with a reason, when
it is not a shared object or executable (static archives and ``.o`` files keep
everything), or when every section to drop overlaps segment data. When bytes follow the
last known structure (an appended signature, say), or when a section that would move
claims an alignment no layout can honour, nothing moves, and dropped sections are only
zeroed. A file that has nothing to drop is returned unchanged, so stripping is
idempotent.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from wheelfix.formats.elf import CorruptElfError, ElfLayout, Section, parse_elf, read_layout

__all__ = ["StripLevel", "StripResult", "disk_saving", "strip_elf"]

_SHF_ALLOC = 0x2
_SHF_INFO_LINK = 0x40
_SHT_NOBITS = 8
_SHT_NULL = 0
_SHT_SYMTAB = 2
_SHT_REL, _SHT_RELA = 9, 4
_SHT_SYMTAB_SHNDX = 18
_MAX_ALIGN = 1 << 16


class StripLevel(enum.Enum):
    DEBUG = "debug"
    UNNEEDED = "unneeded"
    ALL = "all"

    @classmethod
    def parse(cls, text: str) -> StripLevel:
        try:
            return cls(text.strip().lower())
        except ValueError:
            choices = ", ".join(level.value for level in cls)
            raise ValueError(f"unknown strip level {text!r} (choose from {choices})") from None


def _removable(section: Section, level: StripLevel) -> bool:
    name = section.name
    if section.flags & _SHF_ALLOC or section.type in (_SHT_NOBITS, _SHT_NULL):
        return False
    if name.startswith((".debug_", ".zdebug_")) or name == ".debug":
        return True
    if level is StripLevel.DEBUG:
        return False
    if name in (".symtab", ".strtab", ".symtab_shndx"):
        return True
    return level is StripLevel.ALL and name == ".comment"


@dataclass(frozen=True, slots=True)
class StripResult:
    """The outcome for one file: new bytes (or ``None`` when untouched) and why."""

    data: bytes | None
    removed: tuple[str, ...]
    #: bytes of section contents removed (cut out, or zeroed in place)
    saved: int
    skipped: str | None = None


@dataclass(frozen=True, slots=True)
class _Decision:
    drop: frozenset[int]
    load_end: int
    in_place: bool
    skipped: str | None = None


def _decide(layout: ElfLayout, level: StripLevel) -> _Decision:
    """Which sections go, and whether the file can shrink or only be zeroed in place."""
    if layout.elf_type not in ("ET_DYN", "ET_EXEC"):
        return _Decision(frozenset(), 0, False, f"{layout.elf_type} files are never stripped")
    sections = layout.sections
    drop = {i for i, s in enumerate(sections) if i and _removable(s, level)}
    # A kept section that links to a dropped one (a static relocation section pointing at
    # .symtab, say) would dangle: keep the target.
    for i, s in enumerate(sections):
        if i not in drop and s.link in drop:
            drop.discard(s.link)
    drop.discard(layout.shstrndx)
    load_end = max(
        [seg.offset + seg.filesz for seg in layout.segments]
        + [s.offset + s.size for s in sections if s.flags & _SHF_ALLOC and s.type != _SHT_NOBITS]
        + [layout.phoff + layout.phnum * layout.phentsize]
    )
    if not drop:
        return _Decision(frozenset(), load_end, False)
    mapped = [(seg.offset, seg.offset + seg.filesz) for seg in layout.segments]
    for i in sorted(drop):
        s = sections[i]
        if any(lo < s.offset + s.size and s.offset < hi for lo, hi in mapped):
            drop.discard(i)  # never touch a byte a segment maps: keep this section
    if not drop:
        reason = "the sections to drop lie inside segment data"
        return _Decision(frozenset(), load_end, False, reason)
    table_end = layout.shoff + len(sections) * layout.shentsize
    if any(lo < table_end and layout.shoff < hi for lo, hi in mapped):
        return _Decision(frozenset(), load_end, False, "section headers lie inside segment data")
    known_end = max(
        [load_end, table_end]
        + [s.offset + s.size for s in sections if s.type not in (_SHT_NOBITS, _SHT_NULL)]
    )
    # Bytes after the last known structure (an appended signature, padding a tool left)
    # must survive where they are: then nothing moves, dropped sections are only zeroed.
    # So too when a section that would move has an alignment no layout can honour (not a
    # power of two, or beyond the largest page size): padding up to it could take gigabytes.
    odd_alignment = any(
        not _sane_alignment(s.addralign)
        for i, s in enumerate(sections)
        if i not in drop and s.offset >= load_end and s.type not in (_SHT_NOBITS, _SHT_NULL)
    )
    return _Decision(frozenset(drop), load_end, layout.file_size > known_end or odd_alignment)


def _sane_alignment(align: int) -> bool:
    """0 or a power of two up to 64 KiB, the largest page size in use (aarch64, ppc64le)."""
    return align <= _MAX_ALIGN and align & (align - 1) == 0


def strip_elf(data: bytes, level: StripLevel) -> StripResult:
    """Return the stripped file, or ``data=None`` with the reason it was left alone."""
    try:
        layout = read_layout(data)
        parse_elf(data)  # what _verify compares: a file it cannot read is left alone here
    except CorruptElfError as exc:
        return StripResult(None, (), 0, f"not readable as ELF: {exc}")
    decision = _decide(layout, level)
    if not decision.drop:
        return StripResult(None, (), 0, decision.skipped)
    new = _rewrite(data, layout, set(decision.drop), decision.load_end, in_place=decision.in_place)
    _verify(data, new, layout)
    sections = layout.sections
    removed = tuple(sections[i].name for i in sorted(decision.drop))
    # What was removed, whether cut out or zeroed in place (zeros compress to nothing).
    return StripResult(new, removed, sum(sections[i].size for i in decision.drop))


def disk_saving(layout: ElfLayout, level: StripLevel) -> int:
    """Bytes the file itself would shrink by (zeroed-in-place sections save nothing)."""
    decision = _decide(layout, level)
    if decision.in_place:
        return 0
    return sum(
        layout.sections[i].size
        for i in decision.drop
        if layout.sections[i].offset >= decision.load_end
    )


def _rewrite(
    data: bytes, layout: ElfLayout, drop: set[int], load_end: int, *, in_place: bool
) -> bytes:
    """Drop sections: those after the loaded image are cut out and the rest compacted;
    those between segments (patchelf appends segments after them) are zeroed in place,
    because moving a later segment would break its page alignment (auditwheel #716).
    Zeroed bytes cost nothing once the wheel is compressed."""
    end = "<" if layout.little_endian else ">"
    sections = layout.sections
    if in_place:
        load_end = len(data)  # everything stays where it is
    out = bytearray(data[:load_end])
    for i in drop:
        s = sections[i]
        if s.offset < load_end:
            out[s.offset : s.offset + s.size] = bytes(s.size)
    kept = [i for i in range(len(sections)) if i not in drop]
    new_index = {i: position for position, i in enumerate(kept)}
    new_offset: dict[int, int] = {}
    # Non-allocated sections after the loaded image are laid out again, in file order.
    movable = sorted(
        (i for i in kept if i and sections[i].offset >= load_end
         and sections[i].type not in (_SHT_NOBITS, _SHT_NULL)),
        key=lambda i: sections[i].offset,
    )  # fmt: skip
    for i in movable:
        s = sections[i]
        align = max(s.addralign, 1)
        out += b"\0" * (-len(out) % align)
        new_offset[i] = len(out)
        out += data[s.offset : s.offset + s.size]
    if layout.shoff >= load_end:
        word = 8 if layout.is64 else 4
        out += b"\0" * (-len(out) % word)
        shoff = len(out)
    else:
        # The table sits between segments: rewrite it where it is; it only gets shorter.
        shoff = layout.shoff
        old_end = shoff + len(sections) * layout.shentsize
        out[shoff:old_end] = bytes(old_end - shoff)
    fmt = struct.Struct(end + ("IIQQQQIIQQ" if layout.is64 else "IIIIIIIIII"))
    table = bytearray()
    for i in kept:
        s = sections[i]
        raw = list(s.raw)
        if i in new_offset:
            raw[4] = new_offset[i]
        elif s.type == _SHT_NOBITS and s.offset >= load_end:
            raw[4] = shoff  # NOBITS occupies nothing; keep its offset inside the file
        raw[6] = new_index.get(s.link, 0)
        if (s.type in (_SHT_REL, _SHT_RELA) and s.flags & _SHF_INFO_LINK) or (
            s.type == _SHT_SYMTAB_SHNDX
        ):
            raw[7] = new_index.get(s.info, 0)
        table += fmt.pack(*raw)
    if shoff == len(out):
        out += table
    else:
        out[shoff : shoff + len(table)] = table
    # e_shoff, e_shnum, e_shstrndx in the ELF header.
    if layout.is64:
        struct.pack_into(end + "Q", out, 40, shoff)
        struct.pack_into(end + "HH", out, 60, len(kept), new_index[layout.shstrndx])
    else:
        struct.pack_into(end + "I", out, 32, shoff)
        struct.pack_into(end + "HH", out, 48, len(kept), new_index[layout.shstrndx])
    return bytes(out)


def _verify(before: bytes, after: bytes, layout: ElfLayout) -> None:
    """Every mapped byte identical, dynamic linking facts identical: or refuse the result."""
    # The ELF header's section-table fields are the only mapped bytes we change.
    head = 64 if layout.is64 else 52
    for seg in layout.segments:
        lo, hi = max(seg.offset, head), seg.offset + seg.filesz
        if lo < hi and before[lo:hi] != after[lo:hi]:
            raise CorruptElfError("strip would change bytes a segment maps")
    old, new = parse_elf(before), parse_elf(after)
    same = (
        old.needed == new.needed
        and old.soname == new.soname
        and old.rpath == new.rpath
        and old.runpath == new.runpath
        and old.version_needs == new.version_needs
        and old.interpreter == new.interpreter
        and old.machine == new.machine
        and old.defined == new.defined
    )
    if not same:
        raise CorruptElfError("strip would change dynamic linking information")
