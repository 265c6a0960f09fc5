"""Keeping debug information on the side: separate debug files, found by build ID.

Before a strip removes DWARF and the symbol table, :func:`strip_keeping_debug` writes them
into a *separate debug file*, an ELF file with the same section table in which every
section the strip removes keeps its contents, the notes keep theirs (the build ID is
how a debugger matches the two files), and every other section is ``SHT_NOBITS``: the
shape ``objcopy --only-keep-debug`` produces, made here without binutils. The file goes
where gdb, lldb, elfutils and systemd-coredump look it up::

    DIR/.build-id/ab/cdef0123....debug      (ab = first byte of the build ID, in hex)

and the stripped file gets a ``.gnu_debuglink`` section naming it, with the CRC-32 of its
contents, so tools that search by name (beside the file, in ``.debug/``, or under the
debug directory) find it too. A file without a build ID gets its debug file at
``DIR/<its path>.debug``.
"""

from __future__ import annotations

import os
import re
import struct
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from wheelfix.formats.elf import CorruptElfError, ElfLayout, read_layout
from wheelfix.formats.strip import Debuglink, StripLevel, StripResult, removable, strip_elf

__all__ = ["DebugFile", "build_id", "debug_file", "strip_keeping_debug"]

_SHT_NULL, _SHT_NOTE, _SHT_NOBITS = 0, 7, 8
_NT_GNU_BUILD_ID = 3
_HEX = re.compile(r"[0-9a-f]{4,128}")


@dataclass(frozen=True, slots=True)
class DebugFile:
    """A separate debug file: its bytes and the build ID it answers to (if any)."""

    data: bytes
    build_id: str | None

    def relative_path(self, fallback: str) -> str:
        """Where it goes under the debug directory (``fallback`` is the stripped file's
        path, used when there is no build ID)."""
        if self.build_id is not None:
            return f".build-id/{self.build_id[:2]}/{self.build_id[2:]}.debug"
        parts = PurePosixPath(fallback).parts
        if not parts or any(p in ("", ".", "..") for p in parts) or fallback.startswith("/"):
            raise CorruptElfError(f"{fallback!r} cannot name a debug file")
        return f"{fallback}.debug"


def build_id(data: bytes, layout: ElfLayout) -> str | None:
    """The GNU build ID (``NT_GNU_BUILD_ID`` note), in lower-case hex, or ``None``."""
    end = "<" if layout.little_endian else ">"
    for s in layout.sections:
        if s.type != _SHT_NOTE:
            continue
        body = data[s.offset : s.offset + s.size]
        pos = 0
        while pos + 12 <= len(body):
            namesz, descsz, n_type = struct.unpack_from(end + "III", body, pos)
            name_at = pos + 12
            desc_at = name_at + ((namesz + 3) & ~3)
            if desc_at + descsz > len(body):
                break
            if n_type == _NT_GNU_BUILD_ID and body[name_at : name_at + namesz] == b"GNU\0":
                found = body[desc_at : desc_at + descsz].hex()
                return found if _HEX.fullmatch(found) else None
            pos = desc_at + ((descsz + 3) & ~3)
    return None


def debug_file(data: bytes, level: StripLevel) -> DebugFile | None:
    """The separate debug file for what ``level`` removes, or ``None`` if it removes nothing."""
    layout = read_layout(data)
    sections = layout.sections
    keep = {
        i
        for i, s in enumerate(sections)
        if i and s.type not in (_SHT_NULL, _SHT_NOBITS) and removable(s, level)
    }
    if not keep:
        return None
    keep |= {i for i, s in enumerate(sections) if s.type == _SHT_NOTE}
    keep.add(layout.shstrndx)
    end = "<" if layout.little_endian else ">"
    head = 64 if layout.is64 else 52
    out = bytearray(data[:head])
    fmt = struct.Struct(end + ("IIQQQQIIQQ" if layout.is64 else "IIIIIIIIII"))
    table = bytearray()
    for i, s in enumerate(sections):
        raw = list(s.raw)
        if i in keep:
            out += bytes(-len(out) % max(s.addralign, 1))
            raw[4] = len(out)
            out += data[s.offset : s.offset + s.size]
        elif i:
            raw[1] = _SHT_NOBITS  # like objcopy --only-keep-debug: the header stays, no bytes
            raw[4] = head
        table += fmt.pack(*raw)
    out += bytes(-len(out) % (8 if layout.is64 else 4))
    shoff = len(out)
    out += table
    # No program headers: a debug file is never loaded.
    if layout.is64:
        struct.pack_into(end + "QQ", out, 32, 0, shoff)
        struct.pack_into(
            end + "HHHHH", out, 54, 0, 0, layout.shentsize, len(sections), layout.shstrndx
        )
    else:
        struct.pack_into(end + "II", out, 28, 0, shoff)
        struct.pack_into(
            end + "HHHHH", out, 42, 0, 0, layout.shentsize, len(sections), layout.shstrndx
        )
    return DebugFile(bytes(out), build_id(data, layout))


def strip_keeping_debug(data: bytes, level: StripLevel, debug_dir: Path, path: str) -> StripResult:
    """Strip ``data`` (the file at ``path``, relative to what is being stripped), first
    writing what goes into a separate debug file under ``debug_dir``.

    Nothing is written when the strip leaves the file alone.
    """
    try:
        debug = debug_file(data, level)
    except CorruptElfError as exc:
        return StripResult(None, (), 0, f"not readable as ELF: {exc}")
    if debug is None:
        return strip_elf(data, level)
    target = debug_dir / debug.relative_path(path)
    link = Debuglink(target.name, zlib.crc32(debug.data))
    result = strip_elf(data, level, debuglink=link)
    if result.data is not None:
        _write_atomically(target, debug.data)
    return result


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".wheelfix-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        Path(tmp).chmod(0o644)
        Path(tmp).replace(target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
