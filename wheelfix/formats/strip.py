"""Removing debug information and symbol tables from ELF files, safely, on any architecture.

wheelfix strips with its own section-level rewrite instead of running GNU ``strip``:

* GNU strip refuses binaries for another architecture (an aarch64 wheel on an x86-64
  builder), which is exactly where ``auditwheel repair --strip`` fails;
* on files patchelf modified (almost every library in a repaired wheel), GNU strip moves
  segments without keeping ``p_offset ≡ p_vaddr (mod p_align)`` and the loader refuses the
  result ("ELF load command address/offset not page-aligned", auditwheel #716).

Levels (each includes the one before):

``debug``
    ``.debug_*`` / ``.zdebug_*`` DWARF sections (like ``strip --strip-debug``).
``unneeded``
    plus the static symbol table ``.symtab``/``.strtab`` (like ``strip --strip-unneeded`` on
    a shared object; ``.dynsym``, which the loader uses, is never touched), also in its
    compressed MiniDebugInfo form ``.gnu_debugdata``.
``all``
    plus ``.comment`` (compiler version strings) and the annobin build notes
    ``.gnu.build.attributes`` and ``.annobin.notes`` (read only by ``annocheck``).
    The default (:data:`DEFAULT_LEVEL`): what ``--strip`` alone and ``slim`` remove.

How the file is rewritten. Everything the loader maps (the ELF header, the program header
table, every segment and every allocated section) is *pinned*: it keeps its bytes, and
its relative position within a run of pinned bytes. Between two runs lies a *gap* (patchelf
appends segments after the original end of the file, so the old debug sections and
symbol tables sit in such a gap). A gap that holds something to drop is cut: everything
after it moves down by the largest multiple of the alignment of everything that follows
(every later segment's ``p_align``, every later section's ``sh_addralign``), so each
``p_offset`` keeps its residue modulo ``p_align``; the remainder of the gap, smaller than
one alignment unit, is zeroed and reported as ``uncut`` (zeros cost nothing in a
compressed wheel). Non-allocated sections that are kept (``.shstrtab``, ``.comment`` ...)
are laid out again after the last pinned byte, followed by a new section header table.
The section name table that moves loses the names of the removed sections (zeroed, and
cut after the last name still used); kept names stay at their offsets.
Program headers (``p_offset``), section headers (``sh_offset``) and the ELF header
(``e_phoff``, ``e_shoff``, ``e_shnum``, ``e_shstrndx``) are rewritten; no other structure
of an ELF file holds a file offset. A section header table that lies inside segment data
(newer patchelf puts it there) is left where it is, untouched, and a new one is written.

A file is left alone, with a reason, when it is not a shared object or executable (static
archives and ``.o`` files keep everything), or when every section to drop overlaps segment
data. When bytes follow the last known structure (an appended signature, say), nothing
moves: dropped sections are only zeroed and the section table rewritten in place. A file
that has nothing to drop is returned unchanged, so stripping is idempotent. Every result
is checked before it is returned (:func:`_verify`): the bytes of every segment and every
kept section are compared with the input's, and the dynamic linking facts re-parsed.
"""

from __future__ import annotations

import bisect
import enum
import itertools
import math
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from wheelfix.formats.elf import (
    CorruptElfError,
    ElfInfo,
    ElfLayout,
    Section,
    parse_elf,
    read_layout,
    strippable_kind,
)

__all__ = [
    "DEBUGLINK_SECTION",
    "Debuglink",
    "StripLevel",
    "StripResult",
    "disk_saving",
    "removable",
    "strip_elf",
]

DEBUGLINK_SECTION = ".gnu_debuglink"

_SHF_ALLOC = 0x2
_SHF_INFO_LINK = 0x40
_SHT_PROGBITS = 1
_SHT_NOBITS = 8
_SHT_NULL = 0
_SHT_REL, _SHT_RELA = 9, 4
_SHT_SYMTAB_SHNDX = 18
_PT_LOAD = 1


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


#: ``--strip`` alone, and ``slim``'s ``strip`` category: nothing the loader or the program
#: reads is left to remove (``auditwheel repair --strip`` runs ``strip --strip-all``, and
#: Debian strips ``.comment`` from every shared library it ships).
DEFAULT_LEVEL = StripLevel.ALL


def removable(section: Section, level: StripLevel) -> bool:
    """Would ``level`` remove this section (when nothing else keeps it)? DWARF at every
    level; symbol tables (``.symtab``, and ``.gnu_debugdata``: MiniDebugInfo) from
    ``unneeded`` on; the build's records (``.comment``, the annobin notes
    ``.gnu.build.attributes`` and ``.annobin.notes``, read only by annocheck) at ``all``.
    Which section is which: :func:`wheelfix.formats.elf.strippable_kind`."""
    kind = strippable_kind(section)
    if kind == "debug":
        return True
    if kind == "symbols":
        return level is not StripLevel.DEBUG
    return kind == "records" and level is StripLevel.ALL


@dataclass(frozen=True, slots=True)
class StripResult:
    """The outcome for one file: new bytes (or ``None`` when untouched) and why."""

    data: bytes | None
    removed: tuple[str, ...]
    #: bytes of section contents removed (cut out, or zeroed in place)
    saved: int
    skipped: str | None = None
    #: bytes the file shrank by
    shrunk: int = 0
    #: bytes of removed sections left as zeros (a gap smaller than one alignment unit)
    uncut: int = 0
    #: whether a ``.gnu_debuglink`` section was added
    debuglink: bool = False


@dataclass(frozen=True, slots=True)
class Debuglink:
    """What a ``.gnu_debuglink`` section names: the debug file's base name and CRC-32."""

    name: str
    crc: int

    def content(self, *, little_endian: bool) -> bytes:
        """The section's bytes: the NUL-terminated name, padded to 4, then the CRC."""
        raw = self.name.encode() + b"\0"
        raw += bytes(-len(raw) % 4)
        return raw + struct.pack("<I" if little_endian else ">I", self.crc)


@dataclass(frozen=True, slots=True)
class _Cut:
    """A gap between pinned runs, ``[start, end)``; ``removed`` of its bytes are cut out."""

    start: int
    end: int
    removed: int


@dataclass(frozen=True, slots=True)
class _Plan:
    drop: frozenset[int]
    cuts: tuple[_Cut, ...] = ()
    #: the end of the last pinned run: what follows is laid out again
    body_end: int = 0
    #: kept sections laid out again after the body, in file order
    moved: tuple[int, ...] = ()
    in_place: bool = False
    skipped: str | None = None
    #: ``cuts[i].start`` and the bytes removed before ``cuts[i]``, for bisection
    starts: tuple[int, ...] = ()
    shifts: tuple[int, ...] = ()

    def new_offset(self, offset: int) -> int:
        """Where a byte at ``offset`` of the input lands (offsets inside the body only)."""
        i = bisect.bisect_right(self.starts, offset) - 1
        if i < 0:
            return min(offset, self.body_end)
        cut, shift = self.cuts[i], self.shifts[i]
        if offset < cut.end:
            return cut.start - shift + min(offset - cut.start, cut.end - cut.start - cut.removed)
        return min(offset, self.body_end) - shift - cut.removed


class _Spans:
    """Sorted, disjoint byte ranges, merged from any ranges; lookups by bisection."""

    def __init__(self, spans: Iterable[tuple[int, int]]) -> None:
        merged: list[tuple[int, int]] = []
        for lo, hi in sorted(s for s in spans if s[1] > s[0]):
            if merged and lo <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        self.spans = merged
        self.starts = [lo for lo, _ in merged]

    def overlaps(self, lo: int, hi: int) -> bool:
        i = bisect.bisect_left(self.starts, hi) - 1
        return i >= 0 and self.spans[i][1] > lo

    def gap_of(self, offset: int) -> int:
        """The index of the run ``offset`` follows (its gap is the one after that run)."""
        return bisect.bisect_right(self.starts, offset) - 1


def _has_content(s: Section) -> bool:
    return s.type not in (_SHT_NOBITS, _SHT_NULL) and s.size > 0


def _drop_set(layout: ElfLayout, level: StripLevel, replace_debuglink: bool) -> set[int]:
    sections = layout.sections
    drop = {
        i
        for i, s in enumerate(sections)
        if i and (removable(s, level) or (replace_debuglink and s.name == DEBUGLINK_SECTION))
    }
    # A kept section that links to a dropped one (a static relocation section pointing at
    # .symtab, say) would dangle: keep the target.
    for i, s in enumerate(sections):
        if i not in drop and s.link in drop:
            drop.discard(s.link)
    drop.discard(layout.shstrndx)
    return drop


def _pinned(layout: ElfLayout, drop: set[int]) -> _Spans:
    """The merged byte ranges that must keep their bytes and relative positions."""
    head = 64 if layout.is64 else 52
    spans = [(0, head), (layout.phoff, layout.phoff + layout.phnum * layout.phentsize)]
    spans += [(seg.offset, seg.offset + seg.filesz) for seg in layout.segments]
    spans += [
        (s.offset, s.offset + s.size)
        for s in layout.sections
        if s.flags & _SHF_ALLOC and _has_content(s)
    ]
    base = _Spans(spans)
    for i, s in enumerate(layout.sections):
        if i in drop and base.overlaps(s.offset, s.offset + s.size):
            drop.discard(i)  # never touch a byte a segment maps: keep this section
    # A kept section that overlaps mapped bytes stays with them.
    spans += [
        (s.offset, s.offset + s.size)
        for i, s in enumerate(layout.sections)
        if i not in drop and _has_content(s) and base.overlaps(s.offset, s.offset + s.size)
    ]
    pinned = _Spans(spans)
    for i, s in enumerate(layout.sections):
        if i in drop and pinned.overlaps(s.offset, s.offset + s.size):
            drop.discard(i)
    return pinned


def _plan(
    data: bytes, layout: ElfLayout, level: StripLevel, *, replace_debuglink: bool = False
) -> _Plan:
    """Which sections go, and where everything that stays will be."""
    if layout.elf_type not in ("ET_DYN", "ET_EXEC"):
        return _Plan(frozenset(), skipped=f"{layout.elf_type} files are never stripped")
    drop = _drop_set(layout, level, replace_debuglink)
    if not drop:
        return _Plan(frozenset())
    pinned = _pinned(layout, drop)
    if not drop:
        return _Plan(frozenset(), skipped="the sections to drop lie inside segment data")
    sections = layout.sections
    table = (layout.shoff, layout.shoff + len(sections) * layout.shentsize)
    table_pinned = pinned.overlaps(*table)
    body_end = pinned.spans[-1][1]
    known_end = max([body_end, table[1]] + [s.offset + s.size for s in sections if _has_content(s)])
    if layout.file_size > known_end and any(data[known_end:]):
        # Bytes after the last known structure (an appended signature, say) must survive
        # where they are: nothing moves, dropped sections are zeroed. Zeros are padding
        # (patchelf leaves a NUL after its last segment) and go.
        if table_pinned:
            reason = "section headers lie inside segment data and bytes follow the last section"
            return _Plan(frozenset(), skipped=reason)
        return _Plan(frozenset(drop), body_end=layout.file_size, in_place=True)
    # Gap k lies after pinned run k; the last "gap" is everything after the body. A gap is
    # cut when something in it goes: a dropped section, or the old section header table.
    tail = len(pinned.spans) - 1
    touched = {pinned.gap_of(sections[i].offset) for i in drop}
    if not table_pinned:
        touched.add(pinned.gap_of(table[0]))
    touched.add(tail)
    moved = tuple(
        sorted(
            (
                i
                for i, s in enumerate(sections)
                if i not in drop
                and _has_content(s)
                and not pinned.overlaps(s.offset, s.offset + s.size)
                and pinned.gap_of(s.offset) in touched
            ),
            key=lambda i: sections[i].offset,
        )
    )
    if any(not _sane_alignment(sections[i].addralign) for i in moved):
        # A section that would move claims an alignment no layout can honour (not a power
        # of two, or beyond the largest page size): padding up to it could take gigabytes.
        # Nothing moves then; dropped sections are zeroed where they are.
        if table_pinned:
            return _Plan(
                frozenset(),
                skipped="a section that would move has an impossible "
                "alignment and the section headers lie inside segment data",
            )
        return _Plan(frozenset(drop), body_end=layout.file_size, in_place=True)
    cuts = _cuts(layout, pinned, sorted(touched - {tail}), drop | set(moved))
    shifts = tuple(itertools.accumulate((c.removed for c in cuts[:-1]), initial=0))
    return _Plan(
        frozenset(drop),
        cuts,
        body_end,
        moved,
        starts=tuple(c.start for c in cuts),
        shifts=shifts if cuts else (),
    )


#: The largest alignment a moved section may ask for: the largest page size in use (64 KiB).
_MAX_ALIGN = 1 << 16


def _sane_alignment(align: int) -> bool:
    """0 or 1 (no constraint), or a power of two no larger than :data:`_MAX_ALIGN`."""
    return align <= 1 or (align & (align - 1) == 0 and align <= _MAX_ALIGN)


def _cuts(layout: ElfLayout, pinned: _Spans, gaps: list[int], gone: set[int]) -> tuple[_Cut, ...]:
    """How much of each gap can go: the largest multiple of the alignment of everything
    after it (every later segment's p_align, every later kept section's sh_addralign)."""
    anchored = [(seg.offset, seg.align) for seg in layout.segments]
    anchored += [
        (s.offset, s.addralign)
        for i, s in enumerate(layout.sections)
        if i not in gone and _has_content(s)
    ]
    anchored.append((layout.phoff, 8 if layout.is64 else 4))
    anchored.sort()
    # Suffix least common multiples, saturated: a unit larger than the file cuts nothing.
    ceiling = layout.file_size + 1
    suffix = [1] * (len(anchored) + 1)
    for n in range(len(anchored) - 1, -1, -1):
        suffix[n] = min(math.lcm(suffix[n + 1], max(anchored[n][1], 1)), ceiling)
    offsets = [offset for offset, _ in anchored]
    cuts = []
    for k in gaps:
        lo, hi = pinned.spans[k][1], pinned.spans[k + 1][0]
        unit = suffix[bisect.bisect_left(offsets, hi)]
        size = hi - lo
        cuts.append(_Cut(lo, hi, size - size % unit if unit <= size else 0))
    return tuple(cuts)


def strip_elf(data: bytes, level: StripLevel, *, debuglink: Debuglink | None = None) -> StripResult:
    """Return the stripped file, or ``data=None`` with the reason it was left alone.

    With ``debuglink``, a ``.gnu_debuglink`` section naming the separate debug file is
    added (replacing one already there) — unless nothing may move (see the module text).
    """
    try:
        layout = read_layout(data)
        facts = parse_elf(data)  # what _verify compares: a file it cannot read is left alone
    except CorruptElfError as exc:
        return StripResult(None, (), 0, f"not readable as ELF: {exc}")
    plan = _plan(data, layout, level, replace_debuglink=debuglink is not None)
    if not plan.drop:
        return StripResult(None, (), 0, plan.skipped)
    if plan.in_place:
        new = _rewrite_in_place(data, layout, plan)
        link = None
    else:
        link = debuglink
        new = _rewrite(data, layout, plan, link)
    _verify(data, new, layout, plan, facts)
    sections = layout.sections
    removed = tuple(sections[i].name for i in sorted(plan.drop))
    uncut = _uncut(layout, plan)
    if plan.in_place:
        uncut = sum(sections[i].size for i in plan.drop)
    # What was removed, whether cut out or zeroed in place (zeros compress to nothing).
    return StripResult(
        new,
        removed,
        sum(sections[i].size for i in plan.drop),
        shrunk=len(data) - len(new),
        uncut=uncut,
        debuglink=link is not None,
    )


def _uncut(layout: ElfLayout, plan: _Plan) -> int:
    """Bytes of dropped sections left as zeros: per gap, what could not be cut of them."""
    dropped = [0] * len(plan.cuts)
    for i in plan.drop:
        s = layout.sections[i]
        k = bisect.bisect_right(plan.starts, s.offset) - 1
        if k >= 0 and s.offset < plan.cuts[k].end:
            dropped[k] += s.size
    return sum(min(c.end - c.start - c.removed, n) for c, n in zip(plan.cuts, dropped, strict=True))


def disk_saving(layout: ElfLayout, level: StripLevel, data: bytes | None = None) -> int:
    """Bytes the file itself would shrink by (zeroed-in-place sections save nothing).

    Without ``data`` (the file's bytes), bytes after the last known structure are assumed
    not to be padding, so nothing may move.
    """
    plan = _plan(data if data is not None else b"\1" * layout.file_size, layout, level)
    if not plan.drop or plan.in_place:
        return 0
    body = plan.new_offset(plan.body_end)
    size = body
    kept = [i for i in range(len(layout.sections)) if i not in plan.drop]
    for i in plan.moved:
        s = layout.sections[i]
        content = s.size
        if i == layout.shstrndx and data is not None:
            content = len(_names_table(data, layout, kept))  # loses the removed names
        size += -size % max(s.addralign, 1) + content
    size += -size % (8 if layout.is64 else 4)
    size += (len(layout.sections) - len(plan.drop)) * layout.shentsize
    return max(layout.file_size - size, 0)


def _rewrite(data: bytes, layout: ElfLayout, plan: _Plan, link: Debuglink | None) -> bytes:
    """Cut the gaps, lay the kept non-allocated sections out again, write new tables."""
    sections = layout.sections
    out = bytearray()
    pos = 0
    for cut in plan.cuts:
        out += data[pos : cut.start]
        out += bytes(cut.end - cut.start - cut.removed)
        pos = cut.end
    out += data[pos : plan.body_end]
    kept = [i for i in range(len(sections)) if i not in plan.drop]
    new_offset = {i: plan.new_offset(sections[i].offset) for i in kept}
    names = _names_table(data, layout, kept)
    link_name = 0
    if link is not None:
        link_name = _name_offset(names, DEBUGLINK_SECTION)
        if link_name < 0:  # the name is new: the section name table grows, and moves
            link_name = len(names)
            names += DEBUGLINK_SECTION.encode() + b"\0"
    for i in plan.moved:
        if i == layout.shstrndx and link is not None:
            continue
        s = sections[i]
        out += bytes(-len(out) % max(s.addralign, 1))
        new_offset[i] = len(out)
        out += names if i == layout.shstrndx else data[s.offset : s.offset + s.size]
    extra: list[tuple[int, ...]] = []
    if link is not None:
        out += bytes(-len(out) % 4)
        content = link.content(little_endian=layout.little_endian)
        extra.append((link_name, _SHT_PROGBITS, 0, 0, len(out), len(content), 0, 0, 4, 0))
        out += content
        new_offset[layout.shstrndx] = len(out)
        out += names
    out += bytes(-len(out) % (8 if layout.is64 else 4))
    shoff = len(out)
    names_size = len(names) if link is not None or layout.shstrndx in plan.moved else None
    out += _section_table(layout, plan, kept, new_offset, extra, names_size)
    _patch_headers(out, layout, plan, shoff, len(kept) + len(extra))
    return bytes(out)


def _names_table(data: bytes, layout: ElfLayout, kept: list[int]) -> bytes:
    """The section name table to write when it moves: each kept section's name where it
    was (its ``sh_name`` stays), every other byte zero (the names of removed sections), and
    nothing after the last name still used.

    Offsets are kept rather than the table packed: the new section header table then
    matches, entry for entry, the old one that newer patchelf leaves inside a segment, and
    deflate stores those matches in a few bytes (a packed table made Pillow's wheel larger).
    """
    table = layout.sections[layout.shstrndx]
    old = data[table.offset : table.offset + table.size]
    new = bytearray(len(old))
    end = min(len(old), 1)
    for i in kept[1:]:
        start = layout.sections[i].raw[0]
        stop = old.find(b"\0", start) + 1  # the reader found every name's NUL
        if 0 < start < stop:
            new[start:stop] = old[start:stop]
            end = max(end, stop)
    return bytes(new[:end])


def _name_offset(names: bytes, name: str) -> int:
    needle = name.encode() + b"\0"
    at = names.find(needle)
    while at > 0 and names[at - 1] != 0:
        at = names.find(needle, at + 1)
    return at


def _section_table(
    layout: ElfLayout,
    plan: _Plan,
    kept: list[int],
    new_offset: dict[int, int],
    extra: list[tuple[int, ...]],
    names_size: int | None,
) -> bytes:
    end = "<" if layout.little_endian else ">"
    fmt = struct.Struct(end + ("IIQQQQIIQQ" if layout.is64 else "IIIIIIIIII"))
    new_index = {i: position for position, i in enumerate(kept)}
    table = bytearray()
    for i in kept:
        s = layout.sections[i]
        raw = list(s.raw)
        raw[4] = new_offset[i] if i else 0
        if i == layout.shstrndx and names_size is not None:
            raw[5] = names_size
        raw[6] = new_index.get(s.link, 0)
        if (s.type in (_SHT_REL, _SHT_RELA) and s.flags & _SHF_INFO_LINK) or (
            s.type == _SHT_SYMTAB_SHNDX
        ):
            raw[7] = new_index.get(s.info, 0)
        table += fmt.pack(*raw)
    for raw_extra in extra:
        table += fmt.pack(*raw_extra)
    return bytes(table)


def _patch_headers(out: bytearray, layout: ElfLayout, plan: _Plan, shoff: int, shnum: int) -> None:
    """e_phoff, e_shoff, e_shnum, e_shstrndx, and every program header's p_offset."""
    end = "<" if layout.little_endian else ">"
    word = "Q" if layout.is64 else "I"
    kept_before = sum(1 for i in range(layout.shstrndx) if i not in plan.drop)
    phoff = plan.new_offset(layout.phoff)
    if layout.is64:
        struct.pack_into(end + "QQ", out, 32, phoff, shoff)
        struct.pack_into(end + "HH", out, 60, shnum, kept_before)
    else:
        struct.pack_into(end + "II", out, 28, phoff, shoff)
        struct.pack_into(end + "HH", out, 48, shnum, kept_before)
    at = 8 if layout.is64 else 4
    for n, seg in enumerate(layout.segments):
        struct.pack_into(
            end + word, out, phoff + n * layout.phentsize + at, plan.new_offset(seg.offset)
        )


def _rewrite_in_place(data: bytes, layout: ElfLayout, plan: _Plan) -> bytes:
    """Zero the dropped sections and rewrite the (shorter) section table where it is."""
    out = bytearray(data)
    sections = layout.sections
    for i in plan.drop:
        s = sections[i]
        out[s.offset : s.offset + s.size] = bytes(s.size)
    kept = [i for i in range(len(sections)) if i not in plan.drop]
    shoff = layout.shoff
    old_end = shoff + len(sections) * layout.shentsize
    table = _section_table(
        layout,
        plan,
        kept,
        {i: sections[i].offset for i in kept},
        [],
        sections[layout.shstrndx].size,
    )
    out[shoff:old_end] = table + bytes(old_end - shoff - len(table))
    _patch_headers(out, layout, plan, shoff, len(kept))
    return bytes(out)


def _canonical_headers(data: bytes, layout: ElfLayout) -> bytes:
    """The ELF header and program header table without the fields a strip rewrites."""
    head = bytearray(data[: 64 if layout.is64 else 52])
    if layout.is64:
        head[32:48] = bytes(16)
        head[60:64] = bytes(4)
    else:
        head[28:36] = bytes(8)
        head[48:52] = bytes(4)
    at, size = (8, 8) if layout.is64 else (4, 4)
    table = bytearray(data[layout.phoff : layout.phoff + layout.phnum * layout.phentsize])
    for n in range(layout.phnum):
        lo = n * layout.phentsize + at
        table[lo : lo + size] = bytes(size)
    return bytes(head + table)


def _verify(before: bytes, after: bytes, layout: ElfLayout, plan: _Plan, old: ElfInfo) -> None:
    """Every mapped byte identical, alignment kept, dynamic linking facts identical
    (``old``: ``before`` as the ELF reader read it)."""
    new_layout = read_layout(after)
    if _canonical_headers(before, layout) != _canonical_headers(after, new_layout):
        raise CorruptElfError("strip would change the ELF or program headers")
    head = 64 if layout.is64 else 52
    phdr = (layout.phoff, layout.phoff + layout.phnum * layout.phentsize)
    for was, now in zip(layout.segments, new_layout.segments, strict=True):
        if now.offset != plan.new_offset(was.offset) or now.filesz != was.filesz:
            raise CorruptElfError("strip would move a segment inconsistently")
        if was.type == _PT_LOAD and was.align > 1 and (now.offset - now.vaddr) % was.align:
            raise CorruptElfError("strip would break a segment's alignment")
        for lo, hi in _unmasked(was.offset, was.offset + was.filesz, [(0, head), phdr]):
            moved_lo = lo - was.offset + now.offset
            if before[lo:hi] != after[moved_lo : moved_lo + hi - lo]:
                raise CorruptElfError("strip would change bytes a segment maps")
    old_kept = [s for i, s in enumerate(layout.sections) if i not in plan.drop]
    old_names = layout.sections[layout.shstrndx]
    for old_s, new_s in zip(old_kept, new_layout.sections, strict=False):
        if old_s.name != new_s.name:
            raise CorruptElfError(f"strip would rename section {old_s.name}")
        if old_s is old_names or not _has_content(old_s):
            continue  # the name table loses the removed names: the kept ones were compared
        if (
            before[old_s.offset : old_s.offset + old_s.size]
            != after[new_s.offset : new_s.offset + old_s.size]
        ):
            raise CorruptElfError(f"strip would change the contents of {old_s.name}")
    new_info = parse_elf(after)
    same = (
        old.needed == new_info.needed
        and old.soname == new_info.soname
        and old.rpath == new_info.rpath
        and old.runpath == new_info.runpath
        and old.version_needs == new_info.version_needs
        and old.interpreter == new_info.interpreter
        and old.machine == new_info.machine
        and old.defined == new_info.defined
    )
    if not same:
        raise CorruptElfError("strip would change dynamic linking information")


def _unmasked(lo: int, hi: int, masks: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``[lo, hi)`` without the ``masks`` ranges."""
    out = [(lo, hi)]
    for m_lo, m_hi in masks:
        nxt = []
        for a, b in out:
            if m_hi <= a or b <= m_lo:
                nxt.append((a, b))
                continue
            if a < m_lo:
                nxt.append((a, m_lo))
            if m_hi < b:
                nxt.append((m_hi, b))
        out = nxt
    return out
