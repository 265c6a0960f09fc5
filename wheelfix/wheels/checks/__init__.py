"""Checks: pure functions from a :class:`WheelView` (plus policy data) to findings.

No check prints, opens files of its own or touches the network; the audit layer reads the
wheel once and hands every check the same view.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: scanning an environment never loads the wheel reader
    from wheelfix.formats.elf import ElfInfo
    from wheelfix.formats.macho import MachOInfo
    from wheelfix.formats.pe import PeInfo
    from wheelfix.formats.wheelfile import Member, WheelName

__all__ = ["WheelView"]


@dataclass(frozen=True, slots=True, kw_only=True)
class WheelView:
    """Everything the checks may look at, read from the archive exactly once."""

    path: str
    name: WheelName
    dist_info: str
    file_size: int
    members: tuple[Member, ...]
    digests: Mapping[str, str]
    elves: Mapping[str, ElfInfo]
    elf_errors: Mapping[str, str]
    static_archives: frozenset[str]
    texts: Mapping[str, str]
    #: member -> (algorithm, urlsafe-b64 digest) for RECORD rows using sha384/sha512
    other_digests: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    #: Mach-O (macOS) and PE (Windows) files, found by magic bytes like ELF files
    machos: Mapping[str, MachOInfo] = field(default_factory=dict)
    macho_errors: Mapping[str, str] = field(default_factory=dict)
    pes: Mapping[str, PeInfo] = field(default_factory=dict)
    pe_errors: Mapping[str, str] = field(default_factory=dict)

    def dist_info_text(self, name: str) -> str | None:
        return self.texts.get(f"{self.dist_info}/{name}")
