"""What a file is, from its first bytes: Mach-O (thin or fat) or PE.

Kept apart from the readers (``macho.py``, ``pe.py``) so that telling a file's format costs
no import of a reader: most wheels hold neither kind, and ``check`` and ``repair`` import
those readers only when a member starts with one of these (``wheels/checks/native.py``).
ELF has its magic in ``elf.py``, whose reader every run needs.
"""

from __future__ import annotations

import struct

__all__ = ["FAT_MAGIC", "FAT_MAGIC_64", "MAX_FAT_ARCHES", "MH_MAGIC", "MH_MAGIC_64", "PE_MAGIC"]
__all__ += ["is_macho", "is_pe"]

MH_MAGIC, MH_MAGIC_64 = 0xFEEDFACE, 0xFEEDFACF
FAT_MAGIC, FAT_MAGIC_64 = 0xCAFEBABE, 0xCAFEBABF
#: A fat header with more entries than this is a Java class file (same magic) or garbage;
#: ``file(1)`` uses a similar cut-off. Real universal files have 2 to 4 slices.
MAX_FAT_ARCHES = 20
PE_MAGIC = b"MZ"


def is_macho(head: bytes) -> bool:
    """Do these first bytes start a thin or fat Mach-O file?"""
    if len(head) < 8:
        return False
    little = int.from_bytes(head[:4], "little")
    if little in (MH_MAGIC, MH_MAGIC_64):
        return True
    big = int.from_bytes(head[:4], "big")
    if big in (MH_MAGIC, MH_MAGIC_64):
        return True
    if big in (FAT_MAGIC, FAT_MAGIC_64):
        return 0 < int.from_bytes(head[4:8], "big") <= MAX_FAT_ARCHES
    return False


def is_pe(head: bytes) -> bool:
    """Do these bytes start an MZ executable with a PE header inside them?"""
    if len(head) < 64 or head[:2] != PE_MAGIC:
        return False
    (lfanew,) = struct.unpack_from("<I", head, 0x3C)
    return head[lfanew : lfanew + 4] == b"PE\0\0"
